/* Decoding program tokens from one compiled model's weight tokens. The prefix is encoded once
 * (weight tokens never attend to program tokens, so their keys and values are fixed); each
 * step then runs one new position per hypothesis against a KV cache: O(P + t) per step. */
#ifndef ITRACR_META_DECODE_H
#define ITRACR_META_DECODE_H
#include <stddef.h>
#include <stdint.h>

#include "meta/meta_model.h"
#include "util/rng.h"

/* One sample's weight tokens: P valid tokens (no padding). */
typedef struct MetaPrefix {
    int P;                  /* in [0, max_prefix] */
    const float *payload;   /* [P,F] */
    const int32_t *ids;     /* [P,K] */
} MetaPrefix;

/* Called before each token is chosen: prog[0..n) is the sequence so far (prog[0] is BOS),
 * allowed [V] arrives all 1; clear the entries of tokens that may not come next. Return 0, or
 * non-zero to stop decoding with an error. */
typedef int (*MetaConstraintFn)(void *user, const int32_t *prog, int n, unsigned char *allowed);

typedef struct MetaDecodeOpts {
    int bos;            /* first program input token */
    int eos;            /* decoding of a hypothesis stops after it emits eos (-1: never) */
    int max_len;        /* tokens to generate at most, <= max_prog (the position table) */
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
    int32_t tok;        /* the token taken */
    float lp;           /* its log-probability under the model's full softmax */
    int n_alt;          /* alternatives below, best first (allowed tokens other than tok) */
} MetaDecStep;

/* Decodes force[0..nf) (taken as given, not checked against the constraint) and then, until
 * EOS or max_len, the allowed token with the largest logit -- or, with rng non-NULL, one
 * drawn from the allowed tokens' softmax at temperature temp. For every position t >= nf,
 * steps[t] is filled and alt_tok/alt_lp [max_len, n_alt] (row t) receive up to n_alt
 * alternatives with their log-probabilities, best first (ties: lower id). Positions t < nf
 * get steps[t].tok only. *out_len: the tokens of the sequence (EOS included). Returns 0, or
 * non-zero with a message (constraint error, no token allowed, nf > max_len). */
int meta_dec_session_run(MetaDecSession *s, const int32_t *force, int nf, Rng *rng, float temp, int n_alt,
                         MetaDecStep *steps, int32_t *alt_tok, float *alt_lp, int *out_len, char *err,
                         size_t errcap);
/* Model runs (one position each) done by the session so far: the cost measure. */
long meta_dec_session_steps(const MetaDecSession *s);

#endif
