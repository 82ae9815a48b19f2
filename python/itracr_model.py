"""Load and run an itracr model file (itracr compile / import / transform) from Python.

Only numpy is needed; PyTorch is optional (`to_torch`). The file is plain safetensors:
an 8-byte little-endian header length, a JSON header, then the raw tensors. docs/python.md
describes the format and shows how to use this module.

    from itracr_model import load
    m = load("reverse.safetensors")
    m.run(["a", "b", "c"])          # decoded outputs, one per input position
    m.forward_ids([[m.bos_id, 2, 3]])   # residual readout [B, T, n_out]
    net = m.to_torch()               # a torch.nn.Module with the same forward pass

The forward pass is the one Tracr assembles (and `itracr forward` runs): embeddings of the
token and of its position are added; each layer adds multi-head attention (softmax of
q k^T / sqrt(key_size), causal mask when the model is causal) and then a ReLU MLP; the
unembedding projects the residual stream onto the output columns. Categorical outputs decode
to the value of the arg-max column (the first on ties), numerical outputs to column 0.
"""
import json
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64}


class FormatError(ValueError):
    """The file is not a readable itracr model."""


def _read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise FormatError(f"{path}: too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise FormatError(f"{path}: header length {n} runs past the end of the file")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as e:
        raise FormatError(f"{path}: header is not JSON: {e}") from None
    meta = header.pop("__metadata__", {}) or {}
    body = memoryview(data)[8 + n :]
    tensors = {}
    for name, t in header.items():
        dt = _DTYPES.get(t.get("dtype"))
        if dt is None:
            raise FormatError(f"{path}: tensor {name}: unsupported dtype {t.get('dtype')}")
        start, end = t["data_offsets"]
        shape = tuple(t["shape"])
        count = int(np.prod(shape)) if shape else 1
        if not (0 <= start <= end <= len(body)) or end - start != count * np.dtype(dt).itemsize:
            raise FormatError(f"{path}: tensor {name}: data offsets do not match its shape")
        tensors[name] = np.frombuffer(body[start:end], dtype=dt).reshape(shape).astype(np.float64)
    return meta, tensors


def _token_from_json(v):
    # Tuples are stored as JSON arrays; they come back as Python tuples, as in RASP.
    return tuple(_token_from_json(x) for x in v) if isinstance(v, list) else v


class ItracrModel:
    """A compiled transformer read from an itracr model file."""

    def __init__(self, path):
        meta, t = _read_safetensors(path)
        if meta.get("format") != "itracr-model/1":
            raise FormatError(f"{path}: format is {meta.get('format')!r}, not 'itracr-model/1'")
        cfg = json.loads(meta["config"])
        self.config = cfg
        self.num_layers = cfg["num_layers"]
        self.num_heads = cfg["num_heads"]
        self.key_size = cfg["key_size"]
        self.max_seq_len = cfg["max_seq_len"]
        self.causal = bool(cfg["causal"])
        self.bos_id = cfg["bos_id"]
        self.pad_id = cfg["pad_id"]
        self.token_ids = {}
        for tok, i in json.loads(meta["token_ids"]):
            self.token_ids[_token_from_json(tok)] = i
        out = json.loads(meta["output"])
        self.output_name = out["name"]
        self.numerical = out["encoding"] == "numerical"
        self.output_values = [_token_from_json(v) for v in out.get("values", [])]
        self.residual_labels = json.loads(meta.get("residual_labels", "[]"))
        self.token_embed = t["token_embed/embeddings"]  # [vocab, D]
        self.pos_embed = t["pos_embed/embeddings"]  # [max_seq_len + 1, D]
        self.unembed = t["unembed/w"]  # [D, n_out]
        self.layers = []
        for i in range(self.num_layers):
            p = f"transformer/layer_{i}/"
            g = lambda name, p=p: t[p + name]  # noqa: E731
            bias = lambda name, w, p=p: t.get(p + name, np.zeros(w.shape[1]))  # noqa: E731
            layer = {}
            for k in ("attn/query", "attn/key", "attn/value", "attn/linear", "mlp/linear_1", "mlp/linear_2"):
                layer[k + "/w"] = g(k + "/w")
                layer[k + "/b"] = bias(k + "/b", layer[k + "/w"])
            self.layers.append(layer)

    # -- encoding ----------------------------------------------------------------------------
    def encode(self, tokens):
        """Token ids [len + 1] for one input, BOS first; raises ValueError on a bad token."""
        if len(tokens) > self.max_seq_len:
            raise ValueError(f"input has {len(tokens)} tokens; the model accepts at most {self.max_seq_len}")
        ids = [self.bos_id]
        for i, tok in enumerate(tokens):
            if tok not in self.token_ids:
                raise ValueError(f"token {tok!r} (position {i}) is not in the vocabulary")
            ids.append(self.token_ids[tok])
        return np.array(ids, dtype=np.int64)

    # -- forward pass (numpy) ----------------------------------------------------------------
    def forward_ids(self, ids, dtype=np.float32):
        """Output columns [B, T, n_out] for token ids [B, T] (BOS included)."""
        ids = np.asarray(ids, dtype=np.int64)
        B, T = ids.shape
        H, ks = self.num_heads, self.key_size
        x = (self.token_embed[ids] + self.pos_embed[np.arange(T)][None]).astype(dtype)  # [B, T, D]
        mask = np.triu(np.ones((T, T), dtype=bool), 1) if self.causal else np.zeros((T, T), dtype=bool)
        for L in self.layers:
            w = {k: v.astype(dtype) for k, v in L.items()}
            def heads(a):  # [B, T, H*ks] -> [B, H, T, ks]
                return a.reshape(B, T, H, ks).transpose(0, 2, 1, 3)
            q = heads(x @ w["attn/query/w"] + w["attn/query/b"])
            k = heads(x @ w["attn/key/w"] + w["attn/key/b"])
            v = heads(x @ w["attn/value/w"] + w["attn/value/b"])
            s = (q @ k.transpose(0, 1, 3, 2)) / dtype(np.sqrt(ks))  # [B, H, T, T]
            s = np.where(mask, dtype(-1e30), s)
            s = np.exp(s - s.max(-1, keepdims=True))
            a = s / s.sum(-1, keepdims=True)
            z = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, H * ks)
            x = x + z @ w["attn/linear/w"] + w["attn/linear/b"]
            h = np.maximum(x @ w["mlp/linear_1/w"] + w["mlp/linear_1/b"], 0)
            x = x + h @ w["mlp/linear_2/w"] + w["mlp/linear_2/b"]
        return x @ self.unembed.astype(dtype)

    def decode(self, columns):
        """Decoded outputs for output columns [T, n_out] of the real positions."""
        if self.numerical:
            return [float(r[0]) for r in columns]
        return [self.output_values[int(np.argmax(r))] for r in columns]

    def run(self, tokens, dtype=np.float32):
        """The model's decoded output at each real position of one input (BOS not included)."""
        y = self.forward_ids(self.encode(tokens)[None], dtype)[0]
        return self.decode(y[1:])

    # -- PyTorch -----------------------------------------------------------------------------
    def to_torch(self, dtype=None):
        """A torch.nn.Module whose forward(ids [B, T]) gives the output columns [B, T, n_out]."""
        import torch

        dtype = dtype or torch.float32
        model = self

        class TracrTransformer(torch.nn.Module):
            def __init__(self):
                super().__init__()
                P = lambda a: torch.nn.Parameter(torch.tensor(a, dtype=dtype), requires_grad=False)  # noqa: E731
                self.token_embed = P(model.token_embed)
                self.pos_embed = P(model.pos_embed)
                self.unembed = P(model.unembed)
                self.layers = torch.nn.ModuleList()
                for L in model.layers:
                    m = torch.nn.Module()
                    for k, v in L.items():
                        m.register_parameter(k.replace("/", "_"), P(v))
                    self.layers.append(m)

            def forward(self, ids):
                B, T = ids.shape
                H, ks = model.num_heads, model.key_size
                x = self.token_embed[ids] + self.pos_embed[:T][None]
                mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1) if model.causal else None
                for m in self.layers:
                    def heads(a):
                        return a.reshape(B, T, H, ks).transpose(1, 2)
                    q = heads(x @ m.attn_query_w + m.attn_query_b)
                    k = heads(x @ m.attn_key_w + m.attn_key_b)
                    v = heads(x @ m.attn_value_w + m.attn_value_b)
                    s = (q @ k.transpose(-1, -2)) / (ks ** 0.5)
                    if mask is not None:
                        s = s.masked_fill(mask, -1e30)
                    z = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, H * ks)
                    x = x + z @ m.attn_linear_w + m.attn_linear_b
                    x = x + torch.relu(x @ m.mlp_linear_1_w + m.mlp_linear_1_b) @ m.mlp_linear_2_w + m.mlp_linear_2_b
                return x @ self.unembed

        return TracrTransformer()


def load(path):
    """Reads an itracr model file; raises FormatError when it is not one."""
    return ItracrModel(path)
