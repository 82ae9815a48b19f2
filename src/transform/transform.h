/* Function-preserving transforms, compression and distillation of compiled models
 * (docs/transforms.md).
 *
 * A compiled model has no LayerNorm and no biases, so the residual stream enters every
 * computation linearly: replacing the stream x [T, D] by x R for any invertible R, with every
 * map that writes the stream multiplied by R on the right and every map that reads it by
 * R^-1 on the left, computes the same function. For an orthogonal R, R^-1 = R^T. Heads of a
 * layer are summed, so their order is free; MLP hidden units likewise. ReLU is positively
 * homogeneous, so a hidden unit's W1 column may be scaled by s > 0 and its W2 row by 1/s;
 * a head's Q column by s and K column by 1/s (the score q.k is unchanged), its V column by s
 * and O row by 1/s.
 *
 * Everything in the file that names residual directions (residual_labels, the per-layer
 * head/hidden-unit labels) describes the compiler's basis: tf_rotate and tf_compress replace
 * the residual labels with "rot:i" / "cmp:i" (heads and hidden units stay where they were,
 * so the per-layer labels stay), tf_permute drops the per-layer labels (the head and unit
 * order no longer matches them), a distilled student has labels "dst:i" and no per-layer
 * labels, and every transform appends its name and seed to m->transform, which model files
 * carry ("transform" metadata).
 *
 * Randomness comes from the seed alone (Rng, below); the same seed gives the same bytes. */
#ifndef ITRACR_TRANSFORM_TRANSFORM_H
#define ITRACR_TRANSFORM_TRANSFORM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler/model.h"
#include "util/rng.h"


/* A deep copy of m (weights, labels, info; float64, no rounding). */
CompiledModel *tf_model_clone(const CompiledModel *m);

/* q [n, n] row-major: a Haar-distributed random orthogonal matrix (QR of a Gaussian matrix by
 * LAPACK's dgeqrf/dorgqr, columns multiplied by the sign of R's diagonal). Returns 0, or
 * non-zero with a message. */
int tf_haar_orthogonal(int n, Rng *r, double *q, char *err, size_t errcap);

/* Applies r [D, D] (any invertible matrix given with its inverse rinv; for an orthogonal r,
 * rinv = r^T) to the residual stream of m in place: writers (embeddings, O, W2) become W r,
 * readers (Q, K, V, W1, unembedding) become rinv W. */
void tf_change_basis(CompiledModel *m, const double *r, const double *rinv);

/* In place: a random orthogonal change of basis (seeded). */
int tf_rotate(CompiledModel *m, uint64_t seed, char *err, size_t errcap);
/* In place: a random permutation of the heads of each layer and of the MLP hidden units. */
int tf_permute(CompiledModel *m, uint64_t seed, char *err, size_t errcap);
/* In place: positive rescaling, log-uniform in [1/4, 4]: per hidden unit (W1 column * s,
 * W2 row / s), per key column of a head (Q * s, K / s), per value column (V * s, O row / s). */
int tf_scale(CompiledModel *m, uint64_t seed, char *err, size_t errcap);

/* ---- behaviour comparison (transform/compare.c) ---------------------------------------- */
typedef struct TfCompare {
    long n_inputs;       /* inputs run (every input up to max_seq_len, or a sample) */
    bool exhaustive;     /* n_inputs is every input */
    long n_inputs_match; /* inputs whose compared positions all match */
    long n_positions;    /* positions compared */
    long n_positions_match;
    long n_skipped;      /* positions skipped: the reference has no clear output there */
    double max_abs_diff; /* largest |a - b| over all unembedded outputs (BOS excluded) */
    double max_ref_abs;  /* largest |b| over the same entries */
    char first_mismatch[256];
} TfCompare;

/* Runs a (the candidate) and ref (the reference; same vocabulary, output kind and max_seq_len;
 * categorical outputs may have different value columns: decoded values are compared) in
 * float64 on every input of lengths 1..N when there are at most max_inputs of them, else on
 * max_inputs random ones (seeded). A position is compared where ref's output is defined: for
 * categorical outputs, when ref's top score beats its second by more than half the row's
 * largest magnitude and by more than 1e-3 (Tracr's rows are one-hot, ~1: all-zero rows,
 * up to float noise, where the program's value is None, and argmax's tie-break there is
 * arbitrary); categorical positions
 * match when the decoded values are equal; numerical ones when |a - b| <= atol + rtol |b|.
 * Returns 0, or non-zero with a message (incompatible models). */
int tf_compare(const CompiledModel *a, const CompiledModel *ref, long max_inputs, uint64_t seed,
               double rtol, double atol, TfCompare *rep, char *err, size_t errcap);

/* ---- compression (transform/compress.c) ------------------------------------------------ */
typedef struct TfCompressOptions {
    int dim;      /* D' (1..D) */
    int steps;    /* Adam steps per restart (default 2000) */
    int restarts; /* independent runs; the best on an evaluation batch is kept (default 1) */
    int batch;    /* sequences per step (default 32) */
    double lr;    /* Adam learning rate (default 1e-2) */
    uint64_t seed;
    double out_weight; /* weight of the unembedded-output term of the loss (default 10) */
    bool verbose;      /* loss every 10% of the steps on stderr */
} TfCompressOptions;
void tf_compress_options_default(TfCompressOptions *o);

typedef struct TfCompressReport {
    double loss_first; /* the first run's first training loss (compress_loss.c) */
    double loss_last;  /* the kept run's loss on the evaluation batch (4 x batch sequences) */
    int steps;         /* over all restarts */
    double seconds;
} TfCompressReport;

/* Learns P [D', D] with m's weights frozen and returns, in *out, the model of width D' with
 * P folded in: embeddings E P^T, readers P W, writers W P^T. Returns 0, or non-zero with a
 * message. */
int tf_compress(const CompiledModel *m, const TfCompressOptions *o, CompiledModel **out,
                TfCompressReport *rep, char *err, size_t errcap);

/* ---- the loss and its gradient, exposed for the finite-difference test ------------------ */
typedef struct TfCompressLoss TfCompressLoss;
/* A loss on m for a fixed batch ids [B, T] (BOS first; T <= N + 1). */
TfCompressLoss *tf_closs_new(const CompiledModel *m, int dim, const int *ids, int B, int T,
                             double out_weight);
void tf_closs_free(TfCompressLoss *c);
/* Replaces the batch: B sequences of lengths len[b] (BOS first), ids stacked [sum len]. */
void tf_closs_set_batch(TfCompressLoss *c, const int *ids, const int *len, int B);
/* The loss at p [dim, D]; grad [dim, D] (may be NULL) receives dL/dp. */
double tf_closs_eval(TfCompressLoss *c, const double *p, double *grad);

/* ---- distillation (transform/distill.c) ------------------------------------------------ */
typedef struct TfDistillOptions {
    int steps; /* Adam steps (default 3000) */
    int batch; /* sequences per step (default 32) */
    double lr; /* default 3e-3, cosine decay to a tenth */
    uint64_t seed;
    double min_accuracy; /* accepted when this share of whole inputs match (default 0.99) */
    long check_inputs;   /* inputs of the final check (tf_compare; default 20000) */
    int width;           /* the student's residual width (0: the teacher's); smaller forces
                           * superposition */
    bool verbose;
} TfDistillOptions;
void tf_distill_options_default(TfDistillOptions *o);

typedef struct TfDistillReport {
    double loss_first, loss_last;
    int steps;
    double input_accuracy, position_accuracy; /* against the teacher, tf_compare's rules */
    bool accepted;
    double seconds;
} TfDistillReport;

/* Trains a student of m's shape from a random start on m's outputs and returns it in *out
 * (also when it is not accepted: rep->accepted says). Returns 0, or non-zero with a
 * message. */
int tf_distill(const CompiledModel *m, const TfDistillOptions *o, CompiledModel **out,
               TfDistillReport *rep, char *err, size_t errcap);

/* The distillation loss on a fixed batch of B sequences ids [sum len] (BOS first), exposed
 * for the finite-difference test: tf_dloss_eval(w) is the loss of the student whose weights
 * are w (the layout of model_alloc_weights for the teacher's shape with residual width
 * `width`, 0: the teacher's); grad (may be NULL) gets dL/dw. */
typedef struct TfDistillLoss TfDistillLoss;
TfDistillLoss *tf_dloss_new(const CompiledModel *teacher, int width, const int *ids, const int *len,
                            int B);
void tf_dloss_free(TfDistillLoss *c);
double tf_dloss_eval(TfDistillLoss *c, const double *w, double *grad);

#endif
