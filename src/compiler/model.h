/* The compiled transformer: Tracr-identical weights for a RASP program, its forward pass,
 * decoding, model files, verification and an info printer.
 *
 * Shapes (D = residual_dim, H = num_heads, ks = key_size, M = mlp_hidden_size,
 * V = vocab_size = |vocab| + 2, N = max_seq_len): all weights are float64, row-major. */
#ifndef ITRACR_COMPILER_MODEL_H
#define ITRACR_COMPILER_MODEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rasp/program.h"
#include "rasp/value.h"
#include "util/arena.h"

typedef struct ModelLayer {
    double *q, *k, *v; /* [D, H*ks]: head h owns columns h*ks .. h*ks+ks-1 */
    double *o;         /* [H*ks, D] ("linear") */
    double *w1;        /* [D, M]   (mlp/linear_1) */
    double *w2;        /* [M, D]   (mlp/linear_2) */
} ModelLayer;

/* What each half of a layer uses (the fixture JSON's `layers`). Empty for loaded models
 * unless the file carried it. */
typedef struct ModelLayerInfo {
    int n_heads;             /* heads in use */
    const char **head_nodes; /* [n_heads] node labels, head order */
    int mlp_hidden;          /* hidden units in use */
    int n_mlp_nodes;
    const char **mlp_nodes;     /* [n_mlp_nodes] */
    const char **hidden_labels; /* [mlp_hidden], column order */
} ModelLayerInfo;

typedef struct CompiledModel {
    /* config */
    int num_layers, num_heads, key_size, mlp_hidden_size, residual_dim, max_seq_len;
    bool causal;
    int mlp_exactness;
    bool exact;     /* compiled with the exact-mode fixes (docs/compiler.md) */
    int vocab_size; /* V = |vocab| + 2 (BOS and PAD included) */

    Value *tokens; /* [V]: the token of each id (Tracr's sorted token space) */
    int bos_id, pad_id;
    const char **residual_labels; /* [D] Tracr's str(direction) */

    double *token_embed; /* [V, D] */
    double *pos_embed;   /* [N+1, D], row 0 (BOS position) zero */
    ModelLayer *layers;  /* [num_layers] */
    double *unembed;     /* [D, n_out] */

    const char *output_name;
    int output_numerical; /* 0 categorical, 1 numerical */
    int n_out;            /* unembedding columns (1 when numerical) */
    Value *out_values;    /* [n_out] value of each column (None for numerical) */

    ModelLayerInfo *info;  /* [num_layers] */
    const char *source;    /* program text ("" when unknown) */
    const char *transform; /* transforms applied after compiling (src/transform), "" or NULL
                             * for none, e.g. "rotate(seed=1) permute(seed=1)" */
    const char **warnings; /* [n_warnings] compile-time warnings (Tracr's silent failures) */
    int n_warnings;

    Arena arena; /* owns everything above */
} CompiledModel;

typedef struct CompileOptions {
    const Value *vocab; /* NULL: the program's `vocab` directive */
    int n_vocab;
    int max_seq_len;                         /* 0: the program's directive */
    int causal;                              /* -1: the program's directive, 0/1 override */
    int mlp_exactness;                       /* 0: the program's directive (else 100) */
    bool exact;                              /* apply the fixes for Tracr's silent failures */
    const char *compiler_bos, *compiler_pad; /* NULL: "compiler_bos"/"compiler_pad" */
} CompileOptions;

void compile_options_default(CompileOptions *o);

/* Most float64 weights a compiled model may have (1 GiB); larger programs are refused with a
 * message rather than exhausting memory. */
#define COMPILE_MAX_WEIGHTS (128.0 * 1024 * 1024)

/* Compiles p. Returns 0 and *out (free with compiled_model_free), or non-zero with Tracr's
 * reason in err ("NAME: reason" lines for rejected programs). */
int compile_program(const RaspProgram *p, const CompileOptions *opt, CompiledModel **out, char *err,
                    size_t errcap);
void compiled_model_free(CompiledModel *m);
/* Whether compile_program would succeed (0, else non-zero with the same message), without
 * writing the weights: the decoding constraint asks this at every point where a program
 * could end, and zeroing a dense model each time was most of its cost. */
int compile_check(const RaspProgram *p, const CompileOptions *opt, char *err, size_t errcap);
/* Allocates every weight as one zeroed contiguous block in m->arena (token_embed first, the
 * order of the fields above), from the config fields, vocab_size and n_out. */
void model_alloc_weights(CompiledModel *m);
/* Points the weight fields at w, a block laid out as model_alloc_weights lays it out (a
 * gradient or a student shares the layout); m->layers must hold num_layers entries. */
void model_bind_weights(CompiledModel *m, double *w);

/* ---- forward pass (compiler/forward.c) ----------------------------------------------- */
/* token_ids: [B, T] with BOS first, T <= N+1. out: [B, T, n_out] unembedded outputs. Float32
 * mirrors Tracr/JAX; float64 is for tests. Returns 0, or non-zero on bad ids/lengths. */
int model_forward_f64(const CompiledModel *m, const int *token_ids, int B, int T, double *out,
                      char *err, size_t errcap);
int model_forward_f32(const CompiledModel *m, const int *token_ids, int B, int T, float *out,
                      char *err, size_t errcap);
/* A prepared float64 pass for many batches on one model (compiler/forward_sparse.c): the
 * weights' non-zeros, so that x @ W costs what the one-hot activations touch. It equals
 * model_forward_f64 up to the order of summation (the skipped terms are exact zeros).
 * fwd_sparse_new returns NULL when a weight is not finite or is huge (skipping 0 * w could
 * hide an inf/NaN), or on OOM: model_forward_f64_sparse then runs the dense pass. One plan
 * serves one thread at a time (it keeps its activation buffers between batches). */
typedef struct FwdSparse FwdSparse;
FwdSparse *fwd_sparse_new(const CompiledModel *m);
void fwd_sparse_free(FwdSparse *s);
/* model_forward_f64 with plan s (NULL: the dense BLAS pass). */
int model_forward_f64_sparse(const CompiledModel *m, FwdSparse *s, const int *token_ids, int B,
                             int T, double *out, char *err, size_t errcap);
/* Token id of a value (val_eq), or -1. */
int model_token_id(const CompiledModel *m, Value v);
/* ids[n+1] = BOS then the ids of xs; returns 0, or non-zero with a message for an unknown
 * token or n > N. */
int model_encode(const CompiledModel *m, const Value *xs, int n, int *ids, char *err,
                 size_t errcap);
/* Decodes one unembedded row [n_out]: categorical argmax (ties to the first column),
 * numerical: the raw float. */
Value model_decode_row(const CompiledModel *m, const double *row, double *raw);
/* Runs one input xs[n] (without BOS): out_decoded[n] (may be NULL) and out_raw[n] (may be
 * NULL; the argmax column's score, or the numerical value). double: use_f64, else float32. */
int model_run(const CompiledModel *m, const Value *xs, int n, bool use_f64, Value *out_decoded,
              double *out_raw, char *err, size_t errcap);

/* ---- model files (compiler/model_io.c) ----------------------------------------------- */
int model_save(const CompiledModel *m, const char *path, char *err, size_t errcap);
/* The same bytes into a malloc'ed buffer. */
int model_serialize(const CompiledModel *m, unsigned char **buf, size_t *len, char *err,
                    size_t errcap);
int model_load(const char *path, CompiledModel **out, char *err, size_t errcap);
int model_load_buffer(const unsigned char *buf, size_t len, CompiledModel **out, char *err,
                      size_t errcap);

/* ---- verification (compiler/verify.c) ------------------------------------------------ */
typedef struct VerifyReport {
    int n_inputs;             /* inputs checked */
    int n_mismatch;           /* inputs where a compared position differs */
    int n_skipped;            /* inputs where the interpreter raised */
    int n_positions;          /* positions compared (positions where RASP gives None are skipped) */
    int n_none;               /* positions where RASP gives None: the model outputs a value there
                          * anyway (Tracr has no None), which the caller must report */
    int n_none_inputs;        /* inputs with at least one such position */
    char first_none[512];     /* the first of them, "" if none */
    bool exhaustive;          /* every input up to max_seq_len was checked */
    char first_mismatch[512]; /* a description of the first mismatch, "" if none */
} VerifyReport;
/* Compares the model (float64 forward) with the interpreter on n random inputs (lengths 1..N,
 * seeded), or on every input when there are at most n of them. Categorical: equality;
 * numerical: |a-b| <= atol + rtol|b| with rtol 0.005, atol 1e-5. Returns 0 when everything
 * matched, 1 on a mismatch, -1 on an error (err). */
int compile_verify(const CompiledModel *m, const RaspProgram *p, int n, unsigned long long seed,
                   VerifyReport *rep, char *err, size_t errcap);

/* ---- info (compiler/info.c) ---------------------------------------------------------- */
/* The "config" object of a model file (docs/compiler.md, "Model file"), in file order:
 * one table of keys (compiler/model_config.c) for the writer and for `itracr info --json`. */
struct cJSON;
struct cJSON *model_config_json(const CompiledModel *m);
void model_print_info(FILE *f, const CompiledModel *m, bool json);

#endif
