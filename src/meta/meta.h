/* The meta-model: a GPT-style transformer that reads a compiled model's weight tokens and
 * writes its program as flat program tokens. This is meta/'s one public header, sectioned per
 * source file as rasp/rasp.h is; code outside meta/ includes only this file. Private to meta/:
 * the f32/f64 templates (meta_layers_tmpl.h, meta_net_tmpl.h, compiled once per precision by
 * meta_layers_f32.c / _f64.c and meta_net_f32.c / _f64.c with META_REAL and META_FN defined),
 * the declaration templates this header expands twice (meta_layers_decl.h, meta_net_decl.h)
 * and the OpenMP helper meta_par.h. How the token formats relate: docs/tokens.md. */
#ifndef ITRACR_META_META_H
#define ITRACR_META_META_H
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset/accept.h"
#include "dataset/gen_driver.h"
#include "dataset/weight_tokens.h"
#include "gen/program_tokens.h"
#include "rasp/value.h"
#include "util/rng.h"

/* ---- configuration and parameter layout (meta/meta_config.c) ----------------------------- */
/* Meta-model configuration and the parameter layout: every parameter tensor lives in one flat
 * float array; the layout names each tensor (name, shape, offset) so that optimizer state,
 * checkpoints and the double-precision test build all share the same addressing. */
#define META_MAX_ID_FIELDS 8
#define META_NAME_MAX 48

typedef struct MetaConfig {
    int d_model; /* C: residual width */
    int n_head;  /* H: d_model % n_head == 0 */
    int n_layer;
    int mlp_ratio;                    /* MLP hidden width = mlp_ratio * d_model */
    int payload_dim;                  /* F: float payload per weight token */
    int n_id_fields;                  /* K: small integer ids per weight token */
    int id_vocab[META_MAX_ID_FIELDS]; /* vocabulary size of each id field */
    int vocab;                        /* V: program token vocabulary */
    int max_prefix;                   /* largest P (weight tokens per sample) */
    int max_prog; /* largest T (program tokens per sample); size of the position table */
} MetaConfig;

/* Returns 0, or non-zero with a message in err. */
int meta_config_validate(const MetaConfig *c, char *err, size_t errcap);
/* Serialises the config as one-line JSON into a malloc'ed string (NULL on OOM). */
char *meta_config_to_json(const MetaConfig *c);
/* Parses meta_config_to_json's output; returns 0, or non-zero with a message. */
int meta_config_from_json(const char *json, MetaConfig *c, char *err, size_t errcap);

typedef struct MetaTensorInfo {
    char name[META_NAME_MAX];
    int ndim; /* 1 or 2 */
    int shape[2];
    size_t offset; /* in floats, into the flat parameter array */
    size_t numel;
    int decay; /* 1: AdamW weight decay applies (matrices of linear layers) */
} MetaTensorInfo;

/* Offsets (in floats) of one transformer block's tensors. */
typedef struct MetaBlockOffsets {
    size_t ln1_g, ln1_b;   /* [C] */
    size_t qkv_w, qkv_b;   /* [3C, C], [3C]; rows: q of all heads, then k, then v */
    size_t proj_w, proj_b; /* [C, C], [C] */
    size_t ln2_g, ln2_b;   /* [C] */
    size_t fc_w, fc_b;     /* [M, C], [M] */
    size_t fcp_w, fcp_b;   /* [C, M], [C] */
} MetaBlockOffsets;

typedef struct MetaLayout {
    size_t pay_w, pay_b;               /* [C, F], [C] */
    size_t id_emb[META_MAX_ID_FIELDS]; /* [id_vocab[k], C] */
    size_t wte;                        /* [V, C] */
    size_t wpe;                        /* [max_prog, C] */
    MetaBlockOffsets *blocks;          /* [n_layer] */
    size_t lnf_g, lnf_b;               /* [C] */
    size_t head_w;                     /* [V, C] (no bias) */
    MetaTensorInfo *tensors;
    int n_tensors;
    size_t n_params;
} MetaLayout;

/* The config must be valid. Returns 0, or -1 on OOM. */
int meta_layout_build(MetaLayout *lay, const MetaConfig *c);
void meta_layout_free(MetaLayout *lay);
const MetaTensorInfo *meta_layout_find(const MetaLayout *lay, const char *name);

/* ---- BLAS switch (meta/meta_blas.c) ------------------------------------------------------ */
/* The switch between OpenBLAS and the plain-loop matrix products (the plain loops are the
 * fallback and the test oracle). The default is BLAS unless ITRACR_NO_BLAS=1 is set in the
 * environment; tests flip it with meta_set_blas. The first call sets OpenBLAS to one thread:
 * the meta kernels parallelise matrix products themselves with OpenMP (meta_gemm splits the
 * output), so only one thread pool is ever busy. */
int meta_blas_enabled(void);
void meta_set_blas(int on);
/* Kernel name of the OpenBLAS build in use (e.g. "SkylakeX"), or "none". */
const char *meta_blas_corename(void);

/* ---- layers (meta/meta_layers_f32.c, meta_layers_f64.c) ---------------------------------- */
/* The meta-model's layers, llm.c style: outputs first, then inputs, then sizes; every
 * backward ACCUMULATES (+=) into its gradient outputs. Each function exists in float (the
 * model) and, with the suffix _f64, in double (gradient checks against finite differences).
 * Matrix products go through OpenBLAS or the plain loops (the BLAS section); results do not
 * depend on the number of threads. */
#define META_REAL float
#define META_FN(n) n
#include "meta/meta_layers_decl.h"
#undef META_REAL
#undef META_FN

#define META_REAL double
#define META_FN(n) n##_f64
#include "meta/meta_layers_decl.h"
#undef META_REAL
#undef META_FN

/* ---- whole-model forward and backward (meta/meta_batch.c, meta_net_f32.c, meta_net_f64.c) ---- */
/* The whole meta-model's forward and backward over a flat parameter array (layout from
 * the layout section), written once over META_REAL: float for the model, _f64 for gradient checks.
 *
 * Sequence of sample b: L = P + T positions. Weight tokens p < P: embedding =
 * payload[b,p] @ payload_w^T + payload_b + sum_k id_emb_k[ids[b,p,k]] for p < prefix_len[b];
 * padding weight tokens (p >= prefix_len[b]) are zero vectors that no position ever attends
 * to. Program tokens t < T: token_emb[tokens[b,t]] + pos_emb[t]. Then n_layer pre-LayerNorm
 * blocks (x += attn(ln1(x)); x += mlp(ln2(x))) with the prefix-LM mask (the layers section), a
 * final LayerNorm and the head, applied to program positions only: logits [B,T,V]. */
typedef struct MetaBatch {
    int B, P, T;               /* P may be 0 (no weight tokens); T >= 1 */
    const float *payload;      /* [B,P,F] (rows p >= prefix_len[b] are not read) */
    const int32_t *ids;        /* [B,P,K] (rows p >= prefix_len[b] are not read) */
    const int32_t *prefix_len; /* [B], each in [0, P] */
    const int32_t *tokens;     /* [B,T] program input tokens, each in [0, V) */
    const int32_t *targets;    /* [B,T] next-token targets in [0, V) or -1 (ignored); may be
                                * NULL (forward only computes logits) */
} MetaBatch;

/* Checks sizes against the config and max_batch and every index against its vocabulary.
 * Returns 0, or non-zero with a message naming the first bad entry. */
int meta_batch_validate(const MetaConfig *c, const MetaBatch *b, int max_batch, char *err,
                        size_t errcap);

#define META_REAL float
#define META_FN(n) n
#include "meta/meta_net_decl.h"
#undef META_REAL
#undef META_FN

#define META_REAL double
#define META_FN(n) n##_f64
#include "meta/meta_net_decl.h"
#undef META_REAL
#undef META_FN

/* ---- the model and its optimiser (meta/meta_model.c) ------------------------------------- */
/* The meta-model (float): parameters, gradients and AdamW state in flat arrays addressed by
 * the named tensor table (the layout section), activations for batches up to max_batch.
 *
 *   MetaModel m; meta_model_init(&m, &cfg, seed, max_batch, err, sizeof err);
 *   loop: meta_zero_grad(&m); meta_forward(&m, &batch, &loss, ...); meta_backward(&m, &batch);
 *         meta_clip_grad_norm(&m, 1.0f); meta_adamw_step(&m, &hp, meta_lr_schedule(&s, m.step));
 */
typedef struct MetaModel {
    MetaConfig cfg;
    MetaLayout lay;
    float *params, *grads;  /* [n_params] */
    float *adam_m, *adam_v; /* [n_params] AdamW first and second moments */
    long step;              /* AdamW steps taken */
    Rng rng;                /* the stream after initialisation (saved in checkpoints) */
    uint64_t seed;
    MetaActs acts;
    int max_batch;
} MetaModel;

/* GPT-2 style initialisation from seed: matrices and embeddings N(0, 0.02), the two residual
 * projections of each block N(0, 0.02 / sqrt(2 * n_layer)), biases 0, LayerNorm gains 1.
 * Returns 0, or non-zero with a message (invalid config, OOM). */
int meta_model_init(MetaModel *m, const MetaConfig *cfg, uint64_t seed, int max_batch, char *err,
                    size_t errcap);
void meta_model_free(MetaModel *m);

/* Validates the batch, runs the forward pass; *loss = mean cross-entropy over targets that
 * are not -1 (0 if none / no targets). Returns 0, or non-zero with a message. Logits of the
 * program positions are in m->acts.logits [B,T,V]. */
int meta_forward(MetaModel *m, const MetaBatch *b, float *loss, char *err, size_t errcap);
/* Accumulates the gradient of the last forward's loss into m->grads; b must be the batch of
 * that forward. */
void meta_backward(MetaModel *m, const MetaBatch *b);
void meta_zero_grad(MetaModel *m);

typedef struct MetaAdamW {
    float beta1, beta2, eps, weight_decay;
} MetaAdamW;

/* beta1 0.9, beta2 0.95, eps 1e-8, weight decay 0.1. */
MetaAdamW meta_adamw_defaults(void);
/* One AdamW step with bias correction; decoupled weight decay (p -= lr * wd * p) only on the
 * matrices of linear layers (tensors with decay = 1): not on LayerNorm gains/biases, biases or
 * embedding tables. Increments m->step. */
void meta_adamw_step(MetaModel *m, const MetaAdamW *hp, float lr);
/* Global L2 norm of the gradients (summed in a fixed order); if it exceeds max_norm > 0 the
 * gradients are scaled down to max_norm. Returns the norm before clipping. */
float meta_clip_grad_norm(MetaModel *m, float max_norm);

typedef struct MetaSchedule {
    float lr_max, lr_min;
    long warmup; /* steps of linear warm-up from lr_max / warmup to lr_max */
    long total;  /* cosine decay from lr_max (after warm-up) to lr_min at step total */
} MetaSchedule;

/* Learning rate for the step with index `step` (0-based): linear warm-up, cosine decay, then
 * lr_min after total. */
float meta_lr_schedule(const MetaSchedule *s, long step);

/* ---- growing in depth (meta/meta_grow.c) ------------------------------------------------ */
/* dst (initialised with src's config but n_layer L >= src's l) takes src's parameters: the
 * embeddings, final LayerNorm and head as they are, src's block i as block
 * meta_grow_place(i, l, L), and every other block keeps dst's initialisation except its two
 * output projections (attn.proj, mlp.proj: weights and biases), which are zeroed so that the
 * block adds nothing to the residual stream: dst computes exactly src's function. With
 * keep_adam the copied tensors keep their AdamW moments and dst src's step count; otherwise
 * every moment is 0 and the step count 0. dst's output vocabulary may also be larger than
 * src's (a model trained before tables, taught them): src's rows of embed.token and head.w
 * become dst's first rows, the new rows keep dst's initialisation, and the old tokens' logits
 * stay src's. Returns 0, or non-zero with a message. */
int meta_model_grow(MetaModel *dst, const MetaModel *src, int keep_adam, char *err, size_t errcap);
/* The new index of block i of l when growing to L layers (evenly spread). */
int meta_grow_place(int i, int l, int L);

/* ---- checkpoints (meta/meta_checkpoint.c) ------------------------------------------------ */
/* Meta-model checkpoints as safetensors: for every parameter tensor NAME of the layout,
 * "param.NAME", "adam_m.NAME" and "adam_v.NAME" (F32, the tensor's shape); __metadata__:
 * format "itracr-meta/1", config (meta_config_to_json), step, seed and rng (the PRNG state as
 * four 16-digit hex words). Written atomically; resuming from a checkpoint continues
 * training bit-identically. */
int meta_checkpoint_save(const MetaModel *m, const char *path, char *err, size_t errcap);
/* Initialises *m (max_batch as for meta_model_init) from a checkpoint. Every tensor must be
 * present with dtype F32 and the shape the config implies, and nothing else may be there.
 * Returns 0, or non-zero with a message naming the path and the problem (m is then empty). */
int meta_checkpoint_load(MetaModel *m, const char *path, int max_batch, char *err, size_t errcap);

/* ---- decoding (meta/meta_decode.c) ------------------------------------------------------- */
/* Decoding program tokens from one compiled model's weight tokens. The prefix is encoded once
 * (weight tokens never attend to program tokens, so their keys and values are fixed); each
 * step then runs one new position per hypothesis against a KV cache: O(P + t) per step. */
/* One sample's weight tokens: P valid tokens (no padding). */
typedef struct MetaPrefix {
    int P;                /* in [0, max_prefix] */
    const float *payload; /* [P,F] */
    const int32_t *ids;   /* [P,K] */
} MetaPrefix;

/* Called before each token is chosen: prog[0..n) is the sequence so far (prog[0] is BOS),
 * allowed [V] arrives all 1; clear the entries of tokens that may not come next. Return 0, or
 * non-zero to stop decoding with an error. */
typedef int (*MetaConstraintFn)(void *user, const int32_t *prog, int n, unsigned char *allowed);

typedef struct MetaDecodeOpts {
    int bos;                /* first program input token */
    int eos;                /* decoding of a hypothesis stops after it emits eos (-1: never) */
    int max_len;            /* tokens to generate at most, <= max_prog (the position table) */
    MetaConstraintFn allow; /* may be NULL: every token allowed */
    void *user;
    /* Non-zero: the model's last meta_forward ran on this very prefix (a batch of one with
     * P = pre->P and any program tokens, e.g. the teacher-forced pass), so its keys and values
     * are taken from that pass instead of encoding the prefix again. Only B and P can be
     * checked; the caller vouches for the payload and ids. */
    int reuse_prefix;
} MetaDecodeOpts;

/* Greedy: at each step the allowed token with the largest logit (lowest id on ties).
 * out [max_len] receives the generated tokens (BOS not included, EOS included if emitted),
 * *out_len their number. Returns 0, or non-zero with a message (bad prefix, constraint
 * error, no token allowed, OOM). */
int meta_decode_greedy(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o, int32_t *out,
                       int *out_len, char *err, size_t errcap);

/* Beam search over beam_width hypotheses scored by the sum of token log-probabilities (under
 * the model's full softmax; disallowed tokens are never expanded). A hypothesis that emits
 * EOS is finished; the search stops when beam_width hypotheses are finished or max_len is
 * reached, and returns the best finished one (or the best unfinished if none finished), its
 * score in *score. Ties are broken by hypothesis order, then token id: deterministic.
 * Width 1 gives the greedy result. */
int meta_decode_beam(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o, int beam_width,
                     int32_t *out, int *out_len, float *score, char *err, size_t errcap);


/* ---- decoding sessions: many sequences on one prefix --------------------------------- */
/* A session encodes the prefix once; each meta_dec_session_run then decodes one sequence
 * that starts with forced tokens, reusing the keys, values and logits of the longest start it
 * shares with the previous run (so the children of a search node cost only their new
 * suffix). One session serves one thread. */
typedef struct MetaDecSession MetaDecSession;

/* NULL with a message on a bad prefix/options or OOM. m must stay alive and unchanged. */
MetaDecSession *meta_dec_session_new(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o,
                                     char *err, size_t errcap);
void meta_dec_session_free(MetaDecSession *s);

/* What one run returns, per generated position t (0-based, BOS not counted). */
typedef struct MetaDecStep {
    int32_t tok; /* the token taken */
    float lp;    /* its log-probability under the model's full softmax */
    int n_alt;   /* alternatives below, best first (allowed tokens other than tok) */
} MetaDecStep;

/* Decodes force[0..nf) (taken as given, not checked against the constraint) and then, until
 * EOS or max_len, the allowed token with the largest logit -- or, with rng non-NULL, one
 * drawn from the allowed tokens' softmax at temperature temp. For every position t >= nf,
 * steps[t] is filled and alt_tok/alt_lp [max_len, n_alt] (row t) receive up to n_alt
 * alternatives with their log-probabilities, best first (ties: lower id). Positions t < nf
 * get steps[t].tok only. *out_len: the tokens of the sequence (EOS included). Returns 0; 1
 * with a message when the constraint allows no token at some position (this start is a dead
 * end; the session stays usable); -1 with a message on an error (nf > max_len, OOM). */
int meta_dec_session_run(MetaDecSession *s, const int32_t *force, int nf, Rng *rng, float temp,
                         int n_alt, MetaDecStep *steps, int32_t *alt_tok, float *alt_lp,
                         int *out_len, char *err, size_t errcap);
/* Model runs (one position each) done by the session so far: the cost measure. */
long meta_dec_session_steps(const MetaDecSession *s);

/* ---- flat program tokens (meta/prog_codec.c) --------------------------------------------- */
/* Program-token tables <-> the flat token sequence the meta-model reads and writes.
 *
 * The table [PT_ROWS, PT_COLS] (gen/program_tokens.h) becomes one sequence: the six fields of
 * each operation row in column order, row after row, then EOS. The START row is implied by
 * BOS (the decoder's first input) and the END row and padding by EOS. One flat vocabulary is
 * the union of the column vocabularies with per-column offsets (ids below 3, PAD/START/END,
 * are framing and have no flat token):
 *
 *   0 PAD (input padding, never a target)   1 BOS   2 EOS
 *   pc_col_offset(c) + (id - 3)              column c's token id (id >= 3)
 *
 * A row whose fn is "table" is followed by its table (gen/program_tokens.h): its value tokens,
 * then the value token END. So a sequence of n rows without tables has 6n + 1 tokens (EOS
 * included) and its column is t mod 6; the same name in two columns ("-" in a1 and a2, v3 in
 * a1 and out) are different flat tokens and a column constraint is a range test.
 *
 * The vocabulary only grows at its end, so a meta-model keeps its meaning: ids below
 * PC_BASE_VOCAB are the flat tokens from before tables (the fn column then ended with the
 * library's PT_LIB_V1 entries); then "fn:table", the value tokens PC_VAL0.. (value id 3..)
 * and "val:END" (PC_VAL_END), then fn ids beyond "table" (library entries added later). A
 * meta-model trained with PC_BASE_VOCAB outputs still decodes (without tables). */
enum { PC_PAD = 0, PC_BOS = 1, PC_EOS = 2, PC_FIRST = 3 };
#define PC_BASE_VOCAB 160
enum { PC_FN_TABLE = PC_BASE_VOCAB, PC_VAL0, PC_VAL_END = PC_VAL0 + (PT_VAL_VOCAB - 3) };
#define PC_COL_VAL PT_COLS /* the "column" pc_unflat gives value tokens */
/* Tokens after BOS at most: 30 rows of 6 fields and EOS (tables use the cells rows leave). */
#define PC_MAX_LEN (PT_MAX_VARS * PT_COLS + 1)

/* Flat vocabulary size (needs the lambda library: 0 when gen_lib_init fails). */
int pc_vocab_size(void);
/* Flat id of column c's token id 3. */
int pc_col_offset(int col);
/* Flat id of (col, id) for id in [3, pt_vocab_size(col)), else -1. */
int pc_flat(int col, int id);
/* Flat id of value token id (3..PT_VAL_VOCAB-1, or PT_END for val:END), else -1. */
int pc_flat_value(int id);
/* Column (PC_COL_VAL for a value token) and id of a flat id >= PC_FIRST; returns 0, or -1
 * for a framing/unknown id. */
int pc_unflat(int flat, int *col, int *id);
/* "BOS", "EOS", "PAD", or "<col>:<name>" (e.g. "op:Map", "a1:v2"); "#<id>" if unknown. */
const char *pc_token_name(int flat, char *buf, size_t cap);

/* table [PT_ROWS * PT_COLS] -> seq [PC_MAX_LEN] (operation rows, each table after its row,
 * then EOS, no BOS), *len.
 * Checks the framing and that every field is a known non-framing id of its column (not the
 * deeper program rules: pt_decode does that). Returns 0, or non-zero with a message. */
int pc_encode(const int16_t *table, int32_t *seq, int *len, char *err, size_t errcap);
/* seq[len] (no BOS; must end with EOS right after a whole number of rows, and have no EOS
 * before) -> framed, padded table [PT_ROWS * PT_COLS]. Returns 0, or non-zero with a message. */
int pc_decode(const int32_t *seq, int len, int16_t *table, char *err, size_t errcap);

/* ---- the decoding constraint (meta/constrain.c) ------------------------------------------ */
/* The decoding constraint: which flat program token may come next so that every finished
 * sequence decodes (pt_decode) to a valid program.
 *
 * Rules, per field of the row being written:
 *   - a field takes only tokens of its column (t mod 6), out only the row's own variable;
 *   - op/enc/fn/a1/a2 follow pt_tokens_to_ops' row rules (Select: enc '-', a predicate,
 *     two categorical SOps; Aggregate: a Select then an SOp of its encoding; ...);
 *   - an argument names tokens, indices or a variable defined in an earlier row;
 *   - EOS only at the start of a row, when every row but the last is used and the last is an
 *     SOp; no more than PT_MAX_VARS rows;
 *   - look-ahead: a token is allowed only if the row can still be completed and the rows left
 *     can still consume every unused variable (so decoding never reaches a dead end where no
 *     token is allowed, and never runs out of rows).
 * Stateless: the state is recomputed from the sequence at every call (at most 181 tokens). */
/* The model a decoding is for: with its vocabulary (n_vocab > 0), the constraint also
 * applies rasp_validate_compilable's rules on it (a library function must not raise on its
 * input's value set, order predicates must compare the values, a numerical mean needs 0/1,
 * a categorical Aggregate must fit its head, the finished program must validate) and allows
 * tables (their length is the input's value-set size, their values those of the
 * vocabulary). model_vocab: the meta-model's output size (0: pc_vocab_size()); a
 * meta-model of PC_BASE_VOCAB outputs never gets a table token. */
typedef struct PcCache PcCache;
typedef struct PcContext {
    const Value *vocab; /* the model's tokens, any order */
    int n_vocab;
    int max_seq_len;
    int model_vocab;
    PcCache *cache; /* NULL, or the scan states of earlier calls on this context (below) */
} PcContext;

/* Why a cache: with a vocabulary, each call infers the value sets of every row so far and
 * compiles the program where it could end, which made the search's decoding 3.4x more
 * expensive than without them. Decoding asks about one prefix after another, and the
 * search's candidates share long prefixes, so the scan state at each row boundary is kept,
 * keyed by the prefix, with whether the program of those rows compiles; a call resumes from
 * the longest cached boundary of its sequence. Results are the same with or without a cache
 * (tests/test_constrain_vocab.c). Bounded memory: when it holds PC_CACHE_MAX states it is
 * emptied. One cache belongs to one context and one thread. */
#define PC_CACHE_MAX 1024
PcCache *pc_cache_new(void); /* NULL on OOM (then decode without one) */
void pc_cache_free(PcCache *c);

/* As pc_allowed, for ctx (NULL: the rules without a vocabulary, and no tables). */
int pc_allowed_ctx(const PcContext *ctx, const int32_t *seq, int n, unsigned char *allowed);

/* seq[n]: the flat tokens so far, without BOS. allowed[pc_vocab_size()] is overwritten: 1
 * for the tokens that may come next. Returns the number allowed (0 after EOS or for a
 * sequence that already broke the rules), or -1 if seq has an unknown token. */
int pc_allowed(const int32_t *seq, int n, unsigned char *allowed);

/* MetaConstraintFn adapter (the decoding section): prog[0] is BOS, user a PcContext (or NULL).
 * Clears the disallowed entries of allowed[model_vocab]; returns non-zero when nothing is
 * allowed (a sequence that is not a valid prefix). */
int pc_constraint_fn(void *user, const int32_t *prog, int n, unsigned char *allowed);

/* ---- decoding to a program-token table (meta/decode_table.c) ----------------------------- */
/* Decoding one compiled model's weight tokens into a program-token table: the flat sequence
 * (the flat-tokens section) decoded greedily or by beam search under the validity constraint
 * (the constraint section), then turned back into a table. */
/* The weight tokens' ids [P, WT_N_IDS] as the int32 the model's batches take (malloc'ed;
 * NULL when out of memory). */
int32_t *meta_ids_widen(const int16_t *ids, int P);

/* payload [P, WT_WIDTH], ids [P, WT_N_IDS] -> table [PT_ROWS * PT_COLS]. beam <= 1: greedy.
 * Returns 0, or non-zero with a message (more weight tokens than the model takes, a decoding
 * error, no EOS within the length limit). */
int meta_decode_table(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                      int16_t *table, char *err, size_t errcap);
/* The same, right after a meta_forward of m on this same prefix (batch of one, e.g. the
 * teacher-forced pass): the prefix's keys and values come from that pass (reuse_prefix in
 * the decoding section), which saves one encoding of the prefix. */
int meta_decode_table_reuse(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                            int16_t *table, char *err, size_t errcap);
/* meta_decode_table for the compiled model whose vocabulary and max_seq_len `model` gives
 * (PcContext): the decoded program validates on them, and may hold tables. */
int meta_decode_table_for(MetaModel *m, const float *payload, const int16_t *ids, int P, int beam,
                          const PcContext *model, int16_t *table, char *err, size_t errcap);
/* A meta-model output size this build decodes: pc_vocab_size(), or PC_BASE_VOCAB (a model
 * trained before tables). */
int meta_vocab_known(int vocab);

/* ---- candidate programs (meta/decode_cands.c) -------------------------------------------- */
/* Candidate programs for one compiled model, best first by the meta-model's own score: the
 * greedy decode, then alternatives that change one token of an earlier candidate to one of
 * the model's top-k tokens at that position (under the decoding constraint).
 *
 * Orders (docs/meta-model.md, "Search"):
 *   MC_REDECODE  best-first over "change position t of candidate c to its j-th alternative,
 *                then decode the rest greedily" (the suffix is re-decoded so the program stays
 *                consistent with the change). Each candidate's children change only positions
 *                after its own forced change, so no sequence is produced twice (Lawler's
 *                partition of the k-best problem); the priority of a child is its parent's
 *                score with the changed token's log-probability swapped in.
 *   MC_KEEP      the same tree, but a child keeps its parent's suffix when that suffix is still
 *                valid (no model run: the probe's "one-cell change"), re-decoding only when it
 *                is not; scores and alternatives are the parent's.
 *   MC_SAMPLE    the greedy decode, then seeded ancestral samples at temperature temp,
 *                duplicates skipped.
 *   MC_MIX       MC_REDECODE and MC_SAMPLE taking turns (a sample, then the best queued
 *                change, ...); a sample's own one-token changes join the queue. The two find
 *                different programs (docs/experiments.md, "Candidate orders").
 * Scores are sums of token log-probabilities under the model's full softmax. Deterministic:
 * ties go to the earlier candidate, the earlier position, the better alternative; samples
 * come from the seed only. */
typedef enum { MC_REDECODE = 0, MC_KEEP, MC_SAMPLE, MC_MIX } MetaCandMode;

typedef struct MetaCandOptions {
    MetaCandMode mode; /* MC_MIX */
    int n_alt;         /* alternatives per position (top-k after the taken token): 3 */
    uint64_t seed;     /* MC_SAMPLE, MC_MIX: 1 */
    float temp;        /* MC_SAMPLE, MC_MIX temperature: 1 */
} MetaCandOptions;

void meta_cand_options_default(MetaCandOptions *o);
/* "redecode" / "keep" / "sample" / "mix" -> mode; 0, or -1 when unknown. */
int meta_cand_mode_parse(const char *s, MetaCandMode *mode);
const char *meta_cand_mode_name(MetaCandMode mode);

typedef struct MetaCands MetaCands;

/* payload [P, WT_WIDTH], ids [P, WT_N_IDS] as for meta_decode_table; m->max_batch >= 1 and m
 * must outlive the generator. model: the decompiled model's vocabulary and length (as for
 * meta_decode_table_for: every candidate then validates on them), or NULL. NULL with a
 * message on a format mismatch, a too long prefix, or OOM. */
MetaCands *meta_cands_new(MetaModel *m, const float *payload, const int16_t *ids, int P,
                          const MetaCandOptions *o, const PcContext *model, char *err,
                          size_t errcap);
void meta_cands_free(MetaCands *c);

/* The next candidate: table [PT_ROWS * PT_COLS] and its score. Returns 1, 0 when no
 * candidate is left, -1 on an error (message). The first one is the greedy decode. */
int meta_cands_next(MetaCands *c, int16_t *table, double *score, char *err, size_t errcap);

/* Meta-model positions run so far (the decoding cost). */
long meta_cands_model_steps(const MetaCands *c);

/* Feedback on the candidate returned last: a check located its first error before sequence
 * position `limit` (program-token sequence positions, pc_encode's: each row's six tokens,
 * then its table's values and END). Its children that change only positions >= limit keep
 * that error, so they leave the queue (children of its children are not affected when they
 * change an earlier position). Returns the number of children dropped. */
int meta_cands_limit_last(MetaCands *c, int limit);

/* ---- training data in memory (meta/train_data.c) ----------------------------------------- */
/* The training set as the trainer sees it: program-token tables and weight tokens of N
 * samples, in memory. Filled from dataset shards (dataset/shard.h) or sample by sample (tests,
 * generated on the fly). */
typedef struct TrainData {
    int n;          /* samples */
    int16_t *prog;  /* [n, PT_ROWS * PT_COLS] */
    int64_t *off;   /* [n + 1] sample i owns weight tokens off[i] .. off[i+1]-1 */
    float *payload; /* [total, WT_WIDTH] */
    int16_t *ids;   /* [total, WT_N_IDS] */
    int64_t total;
    int cap;
    int64_t tcap;
    int max_p;    /* largest weight-token count of a sample */
    long skipped; /* samples refused by add (too many weight tokens, bad table) */
    int have_wt;  /* wt below came from a shard's metadata */
    WtOptions wt; /* weight-token scheme/norm of the shards */
    /* [setting_rows, GEN_SETTING_COLS]: the drawn setting of each loaded sample whose shard
     * stored one (gen --setting general); row k is sample k when setting_rows == n */
    int32_t *setting;
    int setting_rows, setting_cap;
    /* [seed_rows]: the generator's seed of each loaded sample, gen_sample_seed(the shard's
     * "seed" metadata, its sample_index), when its shard has both; row k is sample k when
     * seed_rows == n (a transformed sample's transform is seeded by it) */
    uint64_t *sample_seed;
    int seed_rows, seed_cap;
} TrainData;

void train_data_init(TrainData *d);
void train_data_free(TrainData *d);
/* Empties d and keeps its buffers (for reuse). */
void train_data_clear(TrainData *d);
/* Appends one sample (table [PT_ROWS*PT_COLS], P weight tokens payload [P,WT_WIDTH], ids
 * [P,WT_N_IDS]). Samples with P > max_p (when max_p > 0) or P == 0 are counted in skipped and
 * not added. Returns 0, or -1 on OOM. */
int train_data_add(TrainData *d, const int16_t *table, const float *payload, const int16_t *ids,
                   int P, int max_p);
/* Appends every sample of a shard file (validated by shard_read_file). */
int train_data_load_shard(TrainData *d, const char *path, int max_p, char *err, size_t errcap);
/* Loads split ("train", "val", "test") of a dataset directory: every *.safetensors file
 * under DIR/split/, or else DIR/split*.safetensors, in name order. Returns 0, or non-zero
 * with a message (no shard found, a damaged shard). */
int train_data_load_split(TrainData *d, const char *dir, const char *split, int max_p, char *err,
                          size_t errcap);

/* ---- a stream of fresh training samples (meta/train_stream.c) ---------------------------- */
/* Training samples generated on the fly (`itracr train --stream`): no dataset on disk, no
 * epoch repeats, memory independent of the run's length.
 *
 * The sample at global position g (g = step * batch + b) is a function of (seed, g) only:
 * candidate seeds gen_sample_seed(base_g, j), j = 0, 1, ..., with base_g =
 * gen_sample_seed(seed ^ TS_SEED_SALT, g), go through the generator's own per-sample path
 * (acc_sample + acc_finish: sample, accept, compile, weight tokens with the run's
 * WtOptions), and the first one that passes is the sample. A candidate passes when it is
 * accepted, its program is not a classic program (gd_classic_hashes of the exclude folder),
 * its program hash falls in the kept split under the rule of `itracr gen` (gd_pick_split,
 * train=0.96,val=0.02,test=0.02) and it has at most max_prefix weight tokens. So the
 * held-out test programs of ANY generated dataset (same split rule) are never trained on,
 * and a resumed run regenerates exactly the batches an uninterrupted one would have seen.
 *
 * Frequency thinning (optional, train_stream_set_pool): `itracr gen` de-duplicates, so in a
 * dataset drawn from N seeds a program the sampler draws with probability p appears about
 * min(1, pN) times, while a raw stream repeats it pN times (a third of raw draws repeat a
 * frequent small program). To train on the datasets' distribution, the stream draws a pool
 * of M programs (acc_sample only, seeds from (seed, TS_POOL_SALT)) and keeps a candidate
 * whose program occurs c > 1 times in the pool with probability 1 / c, which is min(1,
 * 1/(pN)) for N = M. The pool is a function of (seed, M), so determinism is kept.
 *
 * Class weights (optional, default all 1): a candidate whose program belongs to a class
 * (TS_CLASS_*) passes only with probability w / w_max, w the largest weight of its classes
 * (1 when none) and w_max the largest weight given, the coin drawn from the candidate's
 * seed. That up-weights rare classes relative to the rest without changing determinism. */
#define TS_SEED_SALT 0x73747265616d31ULL /* "stream1": stream seeds never equal gen's */
#define TS_POOL_SALT 0x706f6f6c31ULL     /* "pool1" */
#define TS_MAX_CLASSICS 256

/* Program classes that can be up-weighted. */
enum {
    TS_CLASS_LINSEQMAP, /* some row is a LinearSequenceMap */
    TS_CLASS_ONE_ROW,   /* a single operation */
    TS_CLASS_NUM_MAP,   /* some row is a numerical Map */
    TS_CLASS_MONO_MAP,  /* some row is a Map by an injective integer lambda (add1, add2, sub1,
                          * sub2, mul2, neg, rsub4, sq): a relabelling of its input's values,
                          * the weakest rows of the shipped model (4-46% row accuracy) */
    TS_CLASS_COUNT
};
const char *ts_class_name(int c); /* "linseqmap", "one_row", "num_map", "mono_map" */

typedef struct TrainStream {
    GdConfig gd; /* generator settings (gen, acc with the run's WtOptions) and splits */
    uint64_t seed;
    int split;                      /* index in gd.split_name of the split kept */
    int max_prefix;                 /* weight tokens per sample at most */
    double class_w[TS_CLASS_COUNT]; /* >= 1; 1 = no up-weighting */
    uint64_t classic[TS_MAX_CLASSICS][2];
    int n_classic;
    uint64_t *pool_key; /* [pool_cap, 2] program hashes of the pool ({0,0} empty) */
    uint32_t *pool_cnt; /* [pool_cap] their counts */
    size_t pool_cap;
    long pool_m;      /* pool draws (0: no frequency thinning) */
    GenSampler *samp; /* one per stream: a stream is used by one thread at a time */
    /* drawn settings (train_stream_set_general): position g is drawn by samp_gen, in a
     * vocabulary, length and causality of its own, with probability p_general */
    GenSampler *samp_gen;
    double p_general;
    AccResult res;
    /* counters since init (candidates tried, and why they were passed over) */
    long tried, failed, wrong_split, classic_hits, too_long, thinned, freq_thinned;
    long general; /* positions drawn in the general setting */
} TrainStream;

/* gen: the generator settings (NULL: gen_config_default); wt: the weight-token options;
 * split: "train", "val" or "test"; exclude_dir: classic programs to exclude (NULL: none).
 * Returns 0, or non-zero with a message. */
int train_stream_init(TrainStream *s, const GenConfig *gen, const WtOptions *wt, uint64_t seed,
                      const char *split, const char *exclude_dir, int max_prefix, char *err,
                      size_t errcap);
void train_stream_free(TrainStream *s);
/* Sets the weight of class c (>= 1). */
int train_stream_set_weight(TrainStream *s, int c, double w, char *err, size_t errcap);
/* Draws the frequency pool of m programs (m = 0: thinning off). Returns 0, or non-zero with
 * a message (out of memory). */
int train_stream_set_pool(TrainStream *s, long m, char *err, size_t errcap);
/* Draws each position in the general setting (gen_config_general: vocabularies of 2..10
 * ints, letters, words or mixed, lengths 2..10, causal models, table lambdas; `itracr gen
 * --setting general`) with probability p, else in the stream's own setting. p = 0 (the
 * default) draws no coin, so the stream stays sample for sample what it was. Returns 0, or
 * non-zero with a message. */
int train_stream_set_general(TrainStream *s, double p, char *err, size_t errcap);
/* How often the pool holds the program of hash h (0 when not in the pool). */
uint32_t train_stream_pool_count(const TrainStream *s, const uint64_t h[2]);
/* Appends the samples at positions g0 .. g0 + n - 1 to d (in order). Returns 0, or non-zero
 * with a message (no candidate passed in 1,000,000 tries, out of memory). */
int train_stream_fill(TrainStream *s, long g0, int n, TrainData *d, char *err, size_t errcap);
/* Classes of a program-token table: bit c set for class c. */
unsigned ts_classes(const int16_t *table);

/* ---- training (meta/train.c) ------------------------------------------------------------- */
/* Training the meta-model on weight tokens -> flat program tokens (the flat-tokens section).
 *
 * Data order is a function of (seed, step) only. From a dataset in memory the sample at
 * global position g = step * B + b is perm_e[g mod n] with e = g / n and perm_e a
 * Fisher-Yates permutation drawn from seed and e; from a stream (the stream section) it is the
 * stream's sample g, generated by a prefetch thread while the previous step runs. So a run
 * resumed from a checkpoint at step s sees exactly the batches of an uninterrupted run, and
 * with the bit-identical optimizer state of the checkpoint (the checkpoints section) its loss curve
 * is identical.
 *
 * Steps: the "run step" is the AdamW step count minus init_step. A run that starts from
 * another checkpoint's parameters (trainer_init_from) with its AdamW state keeps that state's
 * step count for the bias correction, and counts its schedule, data positions, log and
 * checkpoint intervals in run steps from 0. */
typedef struct TrainConfig {
    /* model */
    int d_model, n_layer, n_head, mlp_ratio;
    int max_prefix; /* weight tokens per sample at most (longer samples are dropped) */
    /* optimisation */
    int batch;
    double lr, lr_min; /* cosine from lr to lr_min over steps, after warmup */
    long warmup, steps;
    double weight_decay, clip;
    uint64_t seed; /* initialisation and data order */
    /* bookkeeping */
    long eval_every, ckpt_every, log_every;
    int eval_tf;     /* validation samples for teacher-forced token accuracy */
    int eval_decode; /* validation samples for decoded exact match (greedy) */
    WtOptions wt;    /* the weight-token options of the data (for decompile) */
    /* streaming (the stream section) */
    int stream;        /* 1: fresh samples every step instead of a dataset */
    uint64_t val_seed; /* validation samples: the stream of the val split of this seed */
    double w_linseqmap, w_one_row, w_num_map, w_mono_map; /* class weights of the stream (>= 1) */
    long dedup_pool;   /* frequency-thinning pool of the stream (0: off) */
    double general;    /* share of stream samples in the general setting (0: none) */
    char exclude[256]; /* classic programs never trained on ("" none) */
    /* starting point */
    char init[256]; /* checkpoint the parameters came from ("" fresh) */
    long init_step; /* AdamW steps of that checkpoint kept (0 unless its state was) */
} TrainConfig;

void train_config_default(TrainConfig *c);
/* The meta-model config for the data: payload/id sizes from weight_tokens.h, vocabulary and
 * max_prog from the flat-tokens section. */
MetaConfig train_meta_config(const TrainConfig *c);
/* One-line JSON of every field (malloc'ed). */
char *train_config_to_json(const TrainConfig *c);
/* Overrides the fields named in json (an object with a subset of the keys of
 * train_config_to_json); unknown keys are an error. Returns 0 or non-zero with a message. */
int train_config_from_json(const char *json, TrainConfig *c, char *err, size_t errcap);
/* Checks ranges. Returns 0 or non-zero with a message. */
int train_config_check(const TrainConfig *c, char *err, size_t errcap);

typedef struct Trainer {
    TrainConfig tc;
    MetaModel m;
    const TrainData *data;
    int max_batch;
    /* the batch being built */
    float *payload;            /* [max_batch, max_prefix, F] */
    int32_t *ids;              /* [max_batch, max_prefix, K] */
    int32_t *plen;             /* [max_batch] */
    int32_t *tokens, *targets; /* [max_batch, PC_MAX_LEN] */
    int P, T;                  /* of the last batch built */
    long tok_count;            /* weight + program tokens of the last batch */
    long perm_epoch;           /* epoch of perm (-1: none) */
    int *perm;                 /* [data->n] */
    /* streaming: sbuf[k] holds the B samples of run step sstep[k] (-1: none); the prefetch
     * thread (th_on) fills slot th_slot and alone touches the stream while it runs */
    TrainStream *stream;
    TrainData sbuf[2];
    long sstep[2];
    pthread_t th;
    int th_on, th_slot, th_rc;
    long th_step;
    char th_err[256];
} Trainer;

/* A fresh model (meta_model_init with tc->seed). data must outlive the trainer. */
int trainer_init(Trainer *t, const TrainConfig *tc, const TrainData *data, char *err,
                 size_t errcap);
/* The model and optimizer state of a checkpoint (its config must match tc's model fields). */
int trainer_init_resume(Trainer *t, const TrainConfig *tc, const TrainData *data, const char *ckpt,
                        char *err, size_t errcap);
/* Parameters of another checkpoint ckpt (its model config must match tc's, or have fewer
 * layers and otherwise match: then the model grows, meta_model_grow): with keep_adam
 * its AdamW moments and step count too (tc->init_step is then that count), else fresh
 * moments and step 0. The schedule, data order and step counts of tc start at run step 0. */
int trainer_init_from(Trainer *t, const TrainConfig *tc, const TrainData *data, const char *ckpt,
                      int keep_adam, char *err, size_t errcap);
/* Batches from s (not owned; must outlive the trainer) instead of the dataset. */
void trainer_set_stream(Trainer *t, TrainStream *s);
void trainer_free(Trainer *t);
/* The run step (AdamW steps minus tc.init_step). */
long trainer_run_step(const Trainer *t);

/* One optimizer step on the batch of run step trainer_run_step(t). *loss = its mean token loss (before the
 * update), *lr the learning rate used. Returns 0 or non-zero with a message. */
int trainer_step(Trainer *t, float *loss, float *lr, char *err, size_t errcap);
/* Sample index at global position g (data order, see above). */
int trainer_sample_at(Trainer *t, long g);

/* Validation on the first n_tf samples of d (teacher-forced next-token accuracy over program
 * tokens, EOS included) and greedy constrained decoding of the first n_dec (exact match of
 * the whole sequence). Either count may be 0 (its result is then 0). */
int trainer_eval(Trainer *t, const TrainData *d, int n_tf, int n_dec, double *tok_acc,
                 double *exact, char *err, size_t errcap);

/* Atomic checkpoint: meta_checkpoint_save to "<path>.tmp", then rename over path. With the
 * environment variable ITRACR_TEST_CRASH_IN_CHECKPOINT=1 the process _exit(3)s between the
 * two (a simulated crash for tests/cli/train_resume.sh). */
int trainer_save(const Trainer *t, const char *path, char *err, size_t errcap);

/* ---- the training-config side file (meta/train_sidecar.c) -------------------------------- */
/* META.safetensors.train.json, the training config `train` writes next to a checkpoint:
 * the TrainConfig keys (train_config_to_json) plus "data", the dataset folder it was
 * trained on, so that `train --resume` can refuse another one. One reader for every
 * command, so a garbage file is an error everywhere rather than silently ignored. */
/* The sidecar's path for a checkpoint path (malloc'ed): META.train.json. */
char *train_sidecar_path(const char *meta);
/* The default training log of a checkpoint (malloc'ed): META.log.jsonl, JSON lines
 * {"step":..,"loss":..,"lr":..,...} that `train` appends and eval/report read (eval/report.h,
 * train_log_load). */
char *train_log_path(const char *meta);
/* The file's text: tc as JSON with "data": data_dir (omitted when NULL), and a newline. */
char *train_sidecar_json(const TrainConfig *tc, const char *data_dir);
/* Reads path. Absent: returns 0 with *found false and tc at its defaults. Present and valid:
 * 0 with *found true, tc filled, *data_dir the recorded folder or NULL (older files), *raw
 * the file text (either may be NULL to ignore; the caller frees them). Anything else
 * (unreadable, not JSON, unknown keys, bad values): non-zero with a message naming path. */
int train_sidecar_read(const char *path, TrainConfig *tc, bool *found, char **data_dir, char **raw,
                       char *err, size_t errcap);

#endif
