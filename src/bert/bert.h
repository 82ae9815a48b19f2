/* A BERT-shaped encoder trained from scratch on a RASP task's input/output pairs, and its
 * adapter onto the compiled-model form that `itracr decompile` reads (docs/bert.md).
 *
 * The network is post-LN BERT (HF's BertModel + a per-position classifier):
 *   x0 = LN_e(word[ids] + pos[0..T))
 *   per layer: a = LN_1(x + Dense_o(MHA(x)));  x' = LN_2(a + Dense_2(gelu(Dense_i(a))))
 *   logits = Dense_c(x_L)                                 (one row per position)
 * Dense layers are HF Linear: weight [out, in], y = x W^T + b. GELU is the erf form.
 * Attention is non-causal over the sequence (BOS first, then the input), or causal when the
 * task's program is. Everything is float64 so that finite differences can check the
 * hand-written backward pass. Files are safetensors with HF BERT tensor names (bert_io.c).
 *
 * Shapes: V = word rows (the task's tokens + BOS + PAD, Tracr's order), P = positions
 * (max_seq_len + 1), D = hidden, H = heads, dh = D / H, I = intermediate, C = output classes,
 * L = layers, B = sequences in a batch, T = their padded length (BOS included), R = B * T. */
#ifndef ITRACR_BERT_BERT_H
#define ITRACR_BERT_BERT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"
#include "rasp/rasp.h"

typedef struct BertConfig {
    int vocab, positions, hidden, heads, layers, intermediate, classes;
    double ln_eps; /* 1e-12, HF's default */
    bool causal;
} BertConfig;

typedef struct BertLayerW {
    double *wq, *bq, *wk, *bk, *wv, *bv; /* [D, D], [D] */
    double *wo, *bo;                     /* [D, D], [D] attention.output.dense */
    double *ln1_g, *ln1_b;               /* [D] attention.output.LayerNorm */
    double *wi, *bi;                     /* [I, D], [I] intermediate.dense */
    double *w2, *b2;                     /* [D, I], [D] output.dense */
    double *ln2_g, *ln2_b;               /* [D] output.LayerNorm */
} BertLayerW;

/* Pointers into one contiguous block of n doubles (the layout of bert_tensors). */
typedef struct BertW {
    double *word;          /* [V, D] */
    double *pos;           /* [P, D] */
    double *eln_g, *eln_b; /* [D] embeddings.LayerNorm */
    BertLayerW *layers;    /* [L] */
    double *cls_w, *cls_b; /* [C, D], [C] */
} BertW;

/* The task side of a model file: the token of each word row, the value of each class, the
 * program's text (self-describing files; "" when unknown). */
typedef struct BertVocab {
    Value *tokens; /* [V] */
    int n_tokens;  /* V */
    int bos_id, pad_id;
    Value *outputs;     /* [C] */
    int n_outputs;      /* C */
    int max_seq_len;    /* N = P - 1 */
    const char *source; /* the RASP task, "" when unknown */
    const char *task;   /* its file name, "" when unknown */
} BertVocab;

typedef struct BertModel {
    BertConfig cfg;
    BertVocab voc;
    size_t n_params;
    double *params; /* [n_params] */
    BertW w;
    Arena arena; /* owns voc's arrays and strings, w.layers */
} BertModel;

/* ---- the tensors (bert_model.c) -------------------------------------------------------- */
#define BERT_MAX_TENSORS 512
typedef struct BertTensor {
    char name[96]; /* HF name, e.g. "encoder.layer.0.attention.self.query.weight" */
    int ndim;
    int64_t shape[2];
    size_t offset, numel; /* in params */
    bool decay;           /* AdamW's weight decay applies (matrices, not LN/biases) */
} BertTensor;
/* The tensors of cfg in parameter order: fills t[BERT_MAX_TENSORS], returns their number. */
int bert_tensors(const BertConfig *cfg, BertTensor *t);
/* Checks cfg's sizes (each >= 1, D % H == 0, small enough); 0 or 1 with a message. */
int bert_config_check(const BertConfig *cfg, char *err, size_t errcap);
/* Allocates m's parameters (zero) for cfg and binds w; voc is left empty. 0 or 1. */
int bert_alloc(BertModel *m, const BertConfig *cfg, char *err, size_t errcap);
/* Binds w to params p (a gradient shares the layout). */
void bert_bind(const BertConfig *cfg, double *p, BertW *w, BertLayerW *layers);
/* HF's initialisation: N(0, 0.02) matrices and embeddings, LN gains 1, biases 0 (seeded). */
void bert_init(BertModel *m, uint64_t seed);
void bert_free(BertModel *m);
/* Copies voc (arrays and strings) into m's arena as m->voc. */
void bert_set_vocab(BertModel *m, const BertVocab *voc);

/* ---- layers (bert_layers.c), exposed for the finite-difference tests ------------------- */
/* y [R, out] = x [R, in] W^T + b, W [out, in], b [out] (may be NULL). */
void bert_linear_fwd(const double *x, const double *W, const double *b, int R, int in, int out,
                     double *y);
/* dx [R, in] = dy W (dx may be NULL); dW [out, in] += dy^T x; db [out] += column sums. */
void bert_linear_bwd(const double *x, const double *W, const double *dy, int R, int in, int out,
                     double *dx, double *dW, double *db);
/* y [R, D] = g * n + b with n = (x - mean) * rstd per row; n [R, D] and rstd [R] kept. */
void bert_layernorm_fwd(const double *x, const double *g, const double *b, int R, int D, double eps,
                        double *y, double *n, double *rstd);
/* dx [R, D] from dy, n, rstd; dg, db [D] += (the parameters' gradients). */
void bert_layernorm_bwd(const double *dy, const double *n, const double *rstd, const double *g,
                        int R, int D, double *dx, double *dg, double *db);
/* y = u * Phi(u), erf form; du = dy * gelu'(u). n elements. */
void bert_gelu_fwd(const double *u, size_t n, double *y);
void bert_gelu_bwd(const double *u, const double *dy, size_t n, double *du);
/* Multi-head self-attention without the projections: q, k, v, ctx [B*T, D], heads of dh = D/H
 * columns each; sequence b attends to its first len[b] positions (and only to earlier ones
 * when causal). probs [B, H, T, T] is kept for the backward pass; rows of padding positions
 * (>= len[b]) are computed like the others and never read by valid ones. */
void bert_attention_fwd(const double *q, const double *k, const double *v, const int *len, int B,
                        int T, int D, int H, bool causal, double *probs, double *ctx);
/* dq, dk, dv [B*T, D] (overwritten) from dctx [B*T, D]. */
void bert_attention_bwd(const double *q, const double *k, const double *v, const double *probs,
                        const double *dctx, const int *len, int B, int T, int D, int H, double *dq,
                        double *dk, double *dv);

/* ---- the whole network (bert_forward.c) ------------------------------------------------ */
typedef struct BertBatch {
    const int *ids; /* [B, T] word ids, BOS first, PAD after len[b] */
    const int *tgt; /* [B, T] class of each position, -1: no loss there (BOS, PAD, None) */
    const int *len; /* [B] positions in use, BOS included (1..T) */
    int B, T;
} BertBatch;
/* logits [B, T, C] for the batch (tgt unused). Returns 0, or 1 with a message (bad ids or
 * lengths). */
int bert_forward(const BertModel *m, const BertBatch *bt, double *logits, char *err, size_t errcap);
/* The mean cross-entropy over positions with tgt >= 0 (0 when there are none); grad
 * [n_params] (may be NULL) receives dL/dparams (overwritten). Returns NAN on bad input. */
double bert_loss(const BertModel *m, const BertBatch *bt, double *grad);

/* ---- the task (bert_task.c) ------------------------------------------------------------ */
typedef struct BertTask {
    RaspProgram prog;
    BertVocab voc; /* tokens and outputs from compiling the program (Tracr's order) */
    int n_inputs;  /* every input of lengths 1..N, or a seeded sample */
    bool exhaustive;
    int T;    /* N + 1 */
    int *ids; /* [n_inputs, T] BOS first, PAD after the input */
    int *tgt; /* [n_inputs, T] the interpreter's output class, -1 at BOS/PAD/None */
    int *len; /* [n_inputs] input length + 1 */
    Arena arena;
} BertTask;
/* Reads a .rasp task, compiles it for its vocabulary and output values (categorical outputs
 * only), and runs the interpreter on every input when there are at most max_inputs of them,
 * else on max_inputs seeded random ones. 0, or 1 with a message. */
int bert_task_load(const char *path, long max_inputs, uint64_t seed, BertTask *t, char *err,
                   size_t errcap);
/* The same from text (path names it in messages; NULL text: read path). */
int bert_task_load_text(const char *path, const char *text, long max_inputs, uint64_t seed,
                        BertTask *t, char *err, size_t errcap);
void bert_task_free(BertTask *t);
/* 0 when m's word rows, classes and positions are the task's (value by value), else 1. */
int bert_task_fits(const BertModel *m, const BertTask *t, char *err, size_t errcap);

/* ---- training and evaluation (bert_train.c) -------------------------------------------- */
typedef struct BertTrainOptions {
    int steps, batch;
    double lr, weight_decay, warmup; /* warmup: share of steps with a linear ramp */
    uint64_t seed;
    bool verbose; /* loss and accuracy every 10% of the steps on stderr */
} BertTrainOptions;
void bert_train_options_default(BertTrainOptions *o); /* 3000 steps, batch 32, 3e-3, 0.01 */

typedef struct BertAccuracy {
    long positions, positions_ok, inputs, inputs_ok;
    long pos_n[64], pos_ok[64]; /* per position index (0 = the first input token) */
} BertAccuracy;
/* Argmax per position against the task's targets on every task input. 0, or 1. */
int bert_accuracy(const BertModel *m, const BertTask *t, BertAccuracy *acc, char *err,
                  size_t errcap);
/* AdamW on the task's inputs (batches drawn with the seed) from m's current weights. Final
 * loss in *final_loss (may be NULL). 0, or 1 with a message. */
int bert_train(BertModel *m, const BertTask *t, const BertTrainOptions *o, double *final_loss,
               char *err, size_t errcap);

/* ---- files (bert_io.c) ----------------------------------------------------------------- */
/* Writes m (float64 tensors with HF names, metadata "itracr_bert": the config and vocabulary
 * as JSON) atomically. 0 or 1. */
int bert_save(const BertModel *m, const char *path, char *err, size_t errcap);
/* Loads and validates a file (names, shapes, dtypes F32/F64, finiteness, metadata). A
 * "bert." prefix on every name is accepted, pooler.* and embeddings.position_ids are ignored,
 * embeddings.token_type_embeddings row 0 is added to every position (type 0 everywhere).
 * 0, or 1 with a message. */
int bert_load(const char *path, BertModel *m, char *err, size_t errcap);
/* 1 when path is a safetensors file with HF BERT naming (its word embeddings tensor), else 0
 * (not readable, not safetensors, another naming). */
int bert_sniff(const char *path);

/* ---- the adapter (bert_adapter.c) ------------------------------------------------------ */
/* The encoder in the compiled-model form that weight tokens are made from (docs/bert.md,
 * "Adapter"): residual width D + 1 (a constant "one" direction carries the reader biases),
 * LayerNorm gains folded into the writers, GELU read as the MLP's nonlinearity, everything
 * else (normalisation, writer biases) dropped. Its own forward pass is NOT the encoder's:
 * verification uses bert_forward through bert_equiv_forward. 0 or 1. */
int bert_to_compiled(const BertModel *m, CompiledModel **out, char *err, size_t errcap);
/* EquivOptions.truth_forward for a BertModel (ctx): the encoder's logits [B, T, C]. */
int bert_equiv_forward(void *ctx, const int *ids, int B, int T, double *out, char *err,
                       size_t errcap);

#endif
