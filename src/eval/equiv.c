/* Functional equivalence by running both compiled models on the same inputs. */
#include "eval/equiv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/sampler.h"
#include "rasp/rasp.h"
#include "util/rng.h"

#define EQUIV_BATCH 256

void equiv_options_default(EquivOptions *o) {
    o->max_exhaustive = 100000;
    o->n_random = 10000;
    o->seed = 1;
    o->rtol = 0.005;
    o->atol = 1e-5;
    o->count_all = false;
    o->truth_forward = NULL;
    o->truth_ctx = NULL;
}

long equiv_input_count(int v, int n, long limit) {
    long total = 0, pw = 1;
    for (int l = 1; l <= n; l++) {
        if (pw > (limit + 1) / (v > 0 ? v : 1)) return limit + 1;
        pw *= v;
        total += pw;
        if (total > limit) return limit + 1;
    }
    return total;
}

typedef struct Runner {
    const CompiledModel *a, *b;
    const RaspProgram *prog; /* truth's program, or NULL */
    Value *xs, *ref;         /* [N] an input and the interpreter's output on it */
    const EquivOptions *o;
    Value *vocab;     /* [nv] the shared input tokens */
    int *id_a, *id_b; /* [nv] their ids in each model */
    int nv, N;
    int *ids_a, *ids_b; /* [EQUIV_BATCH, N+1] */
    double *out_a, *out_b;
    int *seq; /* [EQUIV_BATCH, N] token indices into vocab */
} Runner;

static bool values_match(const Runner *R, Value ta, double ra, Value pb, double rb) {
    const CompiledModel *a = R->a, *b = R->b;
    if (!a->output_numerical && !b->output_numerical) return val_eq(ta, pb);
    double t = a->output_numerical ? ra : (val_is_number(ta) ? val_as_double(ta) : NAN);
    double p = b->output_numerical ? rb : (val_is_number(pb) ? val_as_double(pb) : NAN);
    if (isnan(t) || isnan(p)) return false;
    return fabs(p - t) <= R->o->atol + R->o->rtol * fabs(t);
}

static void describe(const Runner *R, const int *seq, int l, int pos, Value ta, Value pb, char *buf,
                     size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "input [");
    for (int i = 0; i < l && k < cap; i++) {
        char v[64];
        val_repr_fmt(R->vocab[seq[i]], v, sizeof v);
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", v);
    }
    char x[64], y[64];
    val_repr_fmt(ta, x, sizeof x);
    val_repr_fmt(pb, y, sizeof y);
    if (k < cap) snprintf(buf + k, cap - k, "] position %d: true %s, predicted %s", pos, x, y);
}

/* Runs the B sequences of length l in R->seq; returns 1 at the first difference (with
 * r->detail), 0 when all match, -1 on error. */
static int run_batch(Runner *R, int B, int l, EquivResult *r, char *err, size_t errcap) {
    int T = l + 1;
    for (int s = 0; s < B; s++) {
        R->ids_a[s * T] = R->a->bos_id;
        R->ids_b[s * T] = R->b->bos_id;
        for (int i = 0; i < l; i++) {
            R->ids_a[s * T + 1 + i] = R->id_a[R->seq[s * R->N + i]];
            R->ids_b[s * T + 1 + i] = R->id_b[R->seq[s * R->N + i]];
        }
    }
    if (R->o->truth_forward
            ? R->o->truth_forward(R->o->truth_ctx, R->ids_a, B, T, R->out_a, err, errcap)
            : model_forward_f64(R->a, R->ids_a, B, T, R->out_a, err, errcap))
        return -1;
    if (model_forward_f64(R->b, R->ids_b, B, T, R->out_b, err, errcap)) return -1;
    for (int s = 0; s < B; s++) {
        int ref_state = 0; /* 0: not run, 1: ref[] holds the truth's outputs, 2: it raised */
        for (int i = 1; i < T; i++) {
            double ra, rb;
            Value ta = model_decode_row(R->a, R->out_a + ((size_t)s * T + i) * R->a->n_out, &ra);
            Value pb = model_decode_row(R->b, R->out_b + ((size_t)s * T + i) * R->b->n_out, &rb);
            if (values_match(R, ta, ra, pb, rb)) continue;
            if (R->prog) {
                if (!ref_state) {
                    char e2[256];
                    for (int k = 0; k < l; k++) R->xs[k] = R->vocab[R->seq[s * R->N + k]];
                    ref_state =
                        rasp_interp(R->prog, R->xs, l, R->a->causal, R->ref, e2, sizeof e2) ? 2 : 1;
                }
                if (ref_state == 2 || R->ref[i - 1].kind == VAL_NONE) {
                    r->n_undefined++;
                    continue;
                }
            }
            if (!r->n_different)
                describe(R, R->seq + s * R->N, l, i - 1, ta, pb, r->detail, sizeof r->detail);
            r->n_different++;
            if (R->o->count_all) break; /* the next input */
            r->n_inputs += s + 1;
            return 1;
        }
    }
    r->n_inputs += B;
    return 0;
}

static int run_all(Runner *R, EquivResult *r, char *err, size_t errcap) {
    long count = equiv_input_count(R->nv, R->N, R->o->max_exhaustive);
    r->exhaustive = count <= R->o->max_exhaustive;
    if (r->exhaustive) {
        for (int l = 1; l <= R->N; l++) {
            int digits[64] = {0}; /* the current sequence, counting up in base nv */
            bool done = false;
            while (!done) {
                int B = 0;
                while (B < EQUIV_BATCH && !done) {
                    memcpy(R->seq + B * R->N, digits, sizeof(int) * (size_t)l);
                    B++;
                    int i = l - 1;
                    while (i >= 0 && ++digits[i] == R->nv) digits[i--] = 0;
                    done = i < 0;
                }
                int rc = run_batch(R, B, l, r, err, errcap);
                if (rc) return rc;
            }
        }
        return 0;
    }
    /* random inputs: lengths drawn first so that each length runs as full batches */
    uint64_t st = R->o->seed ^ 0x9e3779b97f4a7c15ULL;
    long per_len[65] = {0};
    for (int k = 0; k < R->o->n_random; k++) per_len[1 + rng_splitmix64(&st) % (uint64_t)R->N]++;
    for (int l = 1; l <= R->N; l++) {
        long left = per_len[l];
        while (left > 0) {
            int B = left < EQUIV_BATCH ? (int)left : EQUIV_BATCH;
            for (int s = 0; s < B; s++)
                for (int i = 0; i < l; i++)
                    R->seq[s * R->N + i] = (int)(rng_splitmix64(&st) % (uint64_t)R->nv);
            int rc = run_batch(R, B, l, r, err, errcap);
            if (rc) return rc;
            left -= B;
        }
    }
    return 0;
}

int equiv_models(const CompiledModel *a, const RaspProgram *truth_prog, const CompiledModel *b,
                 const EquivOptions *o, EquivResult *r, char *err, size_t errcap) {
    EquivOptions dflt;
    if (!o) {
        equiv_options_default(&dflt);
        o = &dflt;
    }
    r->n_inputs = 0;
    r->n_undefined = 0;
    r->n_different = 0;
    r->exhaustive = false;
    r->detail[0] = 0;
    if (a->max_seq_len != b->max_seq_len) {
        snprintf(err, errcap, "the models have different max_seq_len (%d, %d)", a->max_seq_len,
                 b->max_seq_len);
        return -1;
    }
    if (a->max_seq_len < 1 || a->max_seq_len > 64) {
        snprintf(err, errcap, "max_seq_len %d is outside 1..64", a->max_seq_len);
        return -1;
    }
    Runner R = {0};
    R.a = a;
    R.b = b;
    R.o = o;
    R.N = a->max_seq_len;
    R.prog = truth_prog;
    R.xs = malloc(sizeof(Value) * (size_t)R.N);
    R.ref = malloc(sizeof(Value) * (size_t)R.N);
    R.vocab = malloc(sizeof(Value) * (size_t)a->vocab_size);
    R.id_a = malloc(sizeof(int) * (size_t)a->vocab_size);
    R.id_b = malloc(sizeof(int) * (size_t)a->vocab_size);
    size_t cells = (size_t)EQUIV_BATCH * (size_t)(R.N + 1);
    R.ids_a = malloc(sizeof(int) * cells);
    R.ids_b = malloc(sizeof(int) * cells);
    R.out_a = malloc(sizeof(double) * cells * (size_t)a->n_out);
    R.out_b = malloc(sizeof(double) * cells * (size_t)b->n_out);
    R.seq = malloc(sizeof(int) * (size_t)EQUIV_BATCH * (size_t)R.N);
    if (!R.xs || !R.ref || !R.vocab || !R.id_a || !R.id_b || !R.ids_a || !R.ids_b || !R.out_a ||
        !R.out_b || !R.seq)
        abort();
    int rc = 0;
    for (int id = 0; id < a->vocab_size; id++) {
        if (id == a->bos_id || id == a->pad_id) continue;
        int idb = model_token_id(b, a->tokens[id]);
        if (idb < 0 || idb == b->bos_id || idb == b->pad_id) {
            char v[64];
            val_repr_fmt(a->tokens[id], v, sizeof v);
            snprintf(err, errcap, "the models have different vocabularies (%s is missing)", v);
            rc = -1;
            break;
        }
        R.vocab[R.nv] = a->tokens[id];
        R.id_a[R.nv] = id;
        R.id_b[R.nv] = idb;
        R.nv++;
    }
    if (!rc && R.nv + 2 != b->vocab_size) {
        snprintf(err, errcap, "the models have different vocabularies (%d and %d tokens)",
                 a->vocab_size, b->vocab_size);
        rc = -1;
    }
    if (!rc && R.nv == 0) {
        snprintf(err, errcap, "the models have an empty vocabulary");
        rc = -1;
    }
    if (!rc) {
        rc = run_all(&R, r, err, errcap);
        if (rc >= 0) r->status = rc || r->n_different ? EVAL_FN_DIFFERENT : EVAL_FN_EQUIVALENT;
        if (rc > 0) rc = 0;
    }
    free(R.xs);
    free(R.ref);
    free(R.vocab);
    free(R.id_a);
    free(R.id_b);
    free(R.ids_a);
    free(R.ids_b);
    free(R.out_a);
    free(R.out_b);
    free(R.seq);
    return rc;
}

static void reset(EquivResult *r) {
    memset(r, 0, sizeof *r);
    r->status = EVAL_FN_UNCHECKED;
}

/* The model's input tokens (BOS and PAD left out), id order: out[vocab_size]. */
static int model_vocab(const CompiledModel *m, Value *out) {
    int n = 0;
    for (int id = 0; id < m->vocab_size; id++)
        if (id != m->bos_id && id != m->pad_id) out[n++] = m->tokens[id];
    return n;
}

int equiv_check_tokens(const CompiledModel *truth, const RaspProgram *truth_prog,
                       const int16_t *true_tokens, const int16_t *pred_tokens,
                       const CompileOptions *copt, const EquivOptions *o, EquivResult *r, char *err,
                       size_t errcap) {
    reset(r);
    if (true_tokens) {
        EvalPair pr;
        eval_compare(true_tokens, pred_tokens, &pr);
        if (pr.exact) {
            r->exact = true;
            r->status = EVAL_FN_EQUIVALENT;
            return 0;
        }
    }
    Value *vocab = malloc(sizeof(Value) * (size_t)truth->vocab_size);
    if (!vocab) abort();
    int nv = model_vocab(truth, vocab);
    RaspProgram p;
    int rc = 0;
    if (pt_decode(pred_tokens, vocab, nv, truth->max_seq_len, &p, r->detail, sizeof r->detail)) {
        r->status = EVAL_FN_NO_DECODE;
    } else {
        CompileOptions co;
        if (copt) co = *copt;
        else compile_options_default(&co);
        co.vocab = vocab;
        co.n_vocab = nv;
        co.max_seq_len = truth->max_seq_len;
        /* a causal truth is compared with a causal prediction: the same program compiled
         * without the mask reads later positions and would be "different" */
        co.causal = truth->causal;
        CompiledModel *pm = NULL;
        if (compile_program(&p, &co, &pm, r->detail, sizeof r->detail)) {
            r->status = EVAL_FN_NO_COMPILE;
        } else {
            rc = equiv_models(truth, truth_prog, pm, o, r, err, errcap);
            compiled_model_free(pm);
        }
    }
    rasp_program_free(&p);
    free(vocab);
    return rc;
}

int equiv_check_pair(const int16_t *true_tokens, const int16_t *pred_tokens, const Value *vocab,
                     int n_vocab, int max_seq_len, const CompileOptions *copt,
                     const EquivOptions *o, EquivResult *r, char *err, size_t errcap) {
    reset(r);
    RaspProgram p;
    if (pt_decode(true_tokens, vocab, n_vocab, max_seq_len, &p, r->detail, sizeof r->detail)) {
        rasp_program_free(&p);
        r->status = EVAL_FN_TRUE_FAILED;
        return 0;
    }
    CompileOptions co;
    if (copt) co = *copt;
    else compile_options_default(&co);
    co.vocab = vocab;
    co.n_vocab = n_vocab;
    co.max_seq_len = max_seq_len;
    CompiledModel *tm = NULL;
    int rc = 0;
    if (compile_program(&p, &co, &tm, r->detail, sizeof r->detail)) {
        r->status = EVAL_FN_TRUE_FAILED;
    } else {
        rc = equiv_check_tokens(tm, &p, true_tokens, pred_tokens, &co, o, r, err, errcap);
        compiled_model_free(tm);
    }
    rasp_program_free(&p);
    return rc;
}

int equiv_check_program(const RaspProgram *truth, const int16_t *pred_tokens,
                        const CompileOptions *copt, const EquivOptions *o, EquivResult *r,
                        char *err, size_t errcap) {
    reset(r);
    CompileOptions co;
    if (copt) co = *copt;
    else compile_options_default(&co);
    CompiledModel *tm = NULL;
    if (compile_program(truth, &co, &tm, r->detail, sizeof r->detail)) {
        r->status = EVAL_FN_TRUE_FAILED;
        return 0;
    }
    int16_t tt[PT_ROWS * PT_COLS];
    char e2[256];
    bool has_tokens = pt_encode(truth, tt, e2, sizeof e2) == 0;
    int rc =
        equiv_check_tokens(tm, truth, has_tokens ? tt : NULL, pred_tokens, &co, o, r, err, errcap);
    compiled_model_free(tm);
    return rc;
}
