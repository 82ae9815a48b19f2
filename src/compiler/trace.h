/* What a compiled model computes, step by step, on one input: the residual stream after the
 * embeddings and after every attention and MLP sublayer, labelled by the residual's basis
 * directions, and every head's attention pattern. Tracr users get these from `model.apply`
 * and plot them by hand; `itracr forward --trace` writes them as JSON and as a
 * self-contained HTML page (cli/trace_out.c). Double precision, the same arithmetic as
 * model_forward_f64 (compiler/forward_impl.h). */
#ifndef ITRACR_COMPILER_TRACE_H
#define ITRACR_COMPILER_TRACE_H
#include "compiler/model.h"

typedef struct ModelTrace {
    int T;         /* positions, BOS included */
    int n_stages;  /* 1 + 2 * num_layers */
    int H;         /* heads per layer */
    int D;         /* residual width */
    int *ids;      /* [T] token ids */
    double *resid; /* [n_stages, T, D]: after the embeddings, then after each sublayer */
    double *attn;  /* [num_layers, H, T, T]: row i = where position i attends */
    double *out;   /* [T, n_out]: the unembedded final residual */
} ModelTrace;

/* Runs m on xs[n] (BOS is added). Returns 0, or non-zero with a message (a token outside the
 * vocabulary, an input over max_seq_len). */
int model_trace(const CompiledModel *m, const Value *xs, int n, ModelTrace *tr, char *err,
                size_t errcap);
void model_trace_free(ModelTrace *tr);
/* "embeddings", "layer 0 attention", "layer 0 MLP", ... into buf. */
void model_trace_stage_name(int stage, char *buf, size_t cap);

#endif
