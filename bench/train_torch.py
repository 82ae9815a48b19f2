"""The PyTorch side of the train-speed benchmark: the same meta-model architecture, sizes,
batch, masks and optimizer as bench/train.c (float32, fixed thread count), timed over the
same number of steps. Prints torch_tok_s=X (sequence positions per second).
usage: /usr/bin/python3 bench/train_torch.py [steps] [threads]"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as Fn

D, HEADS, LAYERS, RATIO, F, V, P, T, B = 256, 8, 4, 4, 64, 128, 128, 64, 16
ID_VOCAB = (16, 16, P)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.fc = nn.Linear(D, RATIO * D)
        self.fcp = nn.Linear(RATIO * D, D)

    def forward(self, x, mask):
        b, l, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
        hs = D // HEADS
        q = q.view(b, l, HEADS, hs).transpose(1, 2)
        k = k.view(b, l, HEADS, hs).transpose(1, 2)
        v = v.view(b, l, HEADS, hs).transpose(1, 2)
        # written out: Debian's torch 1.13 has no scaled_dot_product_attention
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = att @ v
        x = x + self.proj(y.transpose(1, 2).reshape(b, l, D))
        return x + self.fcp(Fn.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Meta(nn.Module):
    def __init__(self):
        super().__init__()
        self.pay = nn.Linear(F, D)
        self.ids = nn.ModuleList(nn.Embedding(n, D) for n in ID_VOCAB)
        self.wte = nn.Embedding(V, D)
        self.wpe = nn.Embedding(T, D)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, V, bias=False)

    def forward(self, pay, ids, valid, tok, mask):
        w = self.pay(pay)
        for k, emb in enumerate(self.ids):
            w = w + emb(ids[:, :, k])
        w = w * valid.unsqueeze(-1)  # padding weight tokens are zero vectors
        p = self.wte(tok) + self.wpe.weight[: tok.shape[1]]
        x = torch.cat([w, p], dim=1)
        for blk in self.blocks:
            x = blk(x, mask)
        return self.head(self.lnf(x[:, P:]))


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = Meta()
    decay = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() == 2
             and "ids" not in n and "wte" not in n and "wpe" not in n]
    ids_decay = {id(p) for p in decay}
    rest = [p for p in model.parameters() if id(p) not in ids_decay]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    L = P + T
    pay = torch.randn(B, P, F)
    ids = torch.stack([torch.randint(0, 16, (B, P)), torch.randint(0, 16, (B, P)),
                       torch.arange(P).expand(B, P)], dim=2)
    plen = torch.tensor([P - (b * 7) % 32 for b in range(B)])
    valid = (torch.arange(P)[None, :] < plen[:, None]).float()
    tok = torch.randint(0, V, (B, T))
    tgt = torch.cat([tok[:, 1:], torch.full((B, 1), -1)], dim=1)
    # prefix-LM mask: key j visible to query i iff j is a real weight token, or both are program
    # positions and j <= i
    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None, :]
    prog = (i >= P) & (j >= P) & (j <= i)
    pre = (j[None] < plen[:, None, None]) & (j[None] < P)
    mask = (prog[None] | pre)[:, None]  # [B,1,L,L]; padding query rows still see real keys
    loss = None
    t0 = 0.0
    for s in range(-2, steps):
        if s == 0:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(pay, ids, valid, tok, mask)
        loss = Fn.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    dt = time.perf_counter() - t0
    print(f"torch {torch.__version__}: {steps} steps in {dt:.3f} s, final loss {loss.item():.4f}, "
          f"threads {torch.get_num_threads()}")
    print(f"torch_tok_s={B * L * steps / dt:.1f}")


if __name__ == "__main__":
    main()
