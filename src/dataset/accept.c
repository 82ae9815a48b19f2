/* Acceptance of generated samples (see accept.h). One interpreter trace per test input feeds
 * the degeneracy checks before compiling; then one batched sparse float64 forward pass per
 * input length (model_forward_f64_sparse) is compared with the stored outputs. */
#include "dataset/accept.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset/model_hash.h"
#include "io/checksum.h"
#include "rasp/rasp.h"
#include "transform/transform.h"
#include "util/errmsg.h"
#include "util/rng.h"

static const char *const REASONS[ACC_R_COUNT] = {
    "ok",       "sampler",  "build",       "compile",  "caps",    "eval_error", "mismatch",
    "constant", "identity", "mostly_none", "const_op", "wtokens", "transform"};
static const char *const TRANSFORMS[ACC_TF_COUNT] = {"none", "rotate", "compress", "distill"};

const char *acc_transform_name(int t) { return t >= 0 && t < ACC_TF_COUNT ? TRANSFORMS[t] : "?"; }

int acc_transform_parse(const char *s, int *out) {
    for (int i = 0; i < ACC_TF_COUNT; i++)
        if (strcmp(s, TRANSFORMS[i]) == 0) {
            *out = i;
            return 0;
        }
    return -1;
}

const char *const acc_meta_names[ACC_META_COLS] = {"vocab_size",      "max_seq_len", "residual_dim",
                                                   "num_layers",      "n_ops",       "n_rows",
                                                   "mlp_hidden_size", "num_heads"};

const char *acc_reason_name(int r) { return r >= 0 && r < ACC_R_COUNT ? REASONS[r] : "?"; }

void acc_settings_default(AccSettings *s) {
    s->n_test = 64;
    s->reject_const_ops = true;
    wt_options_default(&s->wt);
    s->transform = ACC_TF_NONE;
    s->compress_steps = 300;
}

void acc_result_init(AccResult *r) {
    memset(r, 0, sizeof *r);
    wt_tokens_init(&r->wt);
}

void acc_result_free(AccResult *r) { wt_tokens_free(&r->wt); }

void acc_tokens_hash(const int16_t *tokens, uint64_t out[2]) {
    size_t len = sizeof(int16_t) * PT_ROWS * PT_COLS;
    out[0] = checksum64(tokens, len, 0x70726f6731ULL);
    out[1] = checksum64(tokens, len, 0x70726f6732ULL);
}

static bool numerical_match(double got, Value want) {
    if (!val_is_number(want)) return false;
    double w = val_as_double(want);
    return fabs(got - w) <= 1e-5 + 0.005 * fabs(w);
}

/* Per-expression record of whether its value ever changed over the test inputs. */
typedef struct OpVar {
    Value first;
    bool seen, varies;
} OpVar;

static void note(OpVar *o, Value v) {
    if (!o->seen) {
        o->first = v;
        o->seen = true;
    } else if (!o->varies && !val_eq(o->first, v)) {
        o->varies = true;
    }
}

/* detail = prefix + text, cut to fit (messages are for people; a cut one is fine). */
static int fail(AccResult *r, int reason, const char *prefix, const char *text) {
    r->reason = reason;
    size_t n = 0, cap = sizeof r->detail - 1;
    for (const char *s = prefix; *s && n < cap; s++) r->detail[n++] = *s;
    for (const char *s = text; *s && n < cap; s++) r->detail[n++] = *s;
    r->detail[n] = 0;
    return reason;
}

/* The test inputs and the interpreter's outputs on them: what the program alone decides.
 * Inputs are grouped by length: those of length len are first[len] .. first[len + 1] - 1. */
typedef struct Probe {
    int N, V, n_in;
    int first[66];     /* [N + 2], N <= 64 */
    int *dig;          /* [n_in, N] vocabulary indices */
    Value *want;       /* [n_in, N] the output SOp's values */
    unsigned char *ok; /* [n_in] the interpreter did not raise */
} Probe;

static void probe_free(Probe *pr) {
    free(pr->dig);
    free(pr->want);
    free(pr->ok);
}

/* Phase 1 (before compiling): draws the test inputs over voc[V], runs the interpreter on
 * each, and applies the checks that need no model (eval_error, constant, identity,
 * mostly_none, const_op). Fills pr (free with probe_free, also on failure). */
static int probe_program(const RaspProgram *p, const Value *voc, int V, int N, bool causal,
                         const AccSettings *st, uint64_t seed, Probe *pr, AccResult *r) {
    memset(pr, 0, sizeof *pr);
    int nt = st->n_test > 0 ? st->n_test : 64;
    if (V == 0 || N <= 0) return fail(r, ACC_R_EVAL, "", "empty vocabulary or max_seq_len 0");
    if (N > 64) return fail(r, ACC_R_EVAL, "", "max_seq_len above 64");
    double total = 0;
    for (int l = 1; l <= N; l++) total += pow((double)V, l);
    bool exhaustive = total <= (double)nt;
    int n_in = exhaustive ? (int)llround(total) : nt;
    pr->N = N;
    pr->V = V;
    pr->dig = malloc(sizeof(int) * (size_t)n_in * N + 1);
    pr->want = malloc(sizeof(Value) * (size_t)n_in * N + 1);
    pr->ok = malloc((size_t)n_in + 1);
    int ne = p->n_exprs;
    OpVar *ops = calloc((size_t)ne + 1, sizeof *ops);
    Value *xs = malloc(sizeof(Value) * (size_t)N);
    if (!pr->dig || !pr->want || !pr->ok || !ops || !xs) {
        free(ops);
        free(xs);
        return fail(r, ACC_R_EVAL, "", "out of memory");
    }
    OpVar outv = {0};
    long n_pos = 0, n_none = 0, n_ok_inputs = 0;
    bool identity = true;
    char err[256];
    uint64_t rs = seed ^ 0x7465737473ULL;
    int k = 0;
    for (int len = 1; len <= N; len++) {
        pr->first[len] = k;
        long long count = exhaustive ? llround(pow((double)V, len)) : nt / N + (len <= nt % N);
        for (long long c = 0; c < count; c++, k++) {
            long long code = c;
            int *dg = pr->dig + (size_t)k * N;
            for (int t = 0; t < len; t++) {
                if (exhaustive) {
                    dg[t] = (int)(code % V);
                    code /= V;
                } else {
                    dg[t] = (int)(rng_splitmix64(&rs) % (uint64_t)V);
                }
                xs[t] = voc[dg[t]];
            }
            RaspTrace tr;
            pr->ok[k] = 0;
            if (rasp_interp_trace(p, xs, len, causal, &tr, err, sizeof err)) continue;
            pr->ok[k] = 1;
            n_ok_inputs++;
            const Value *want = tr.sop + (size_t)p->output * len;
            memcpy(pr->want + (size_t)k * N, want, sizeof(Value) * (size_t)len);
            for (int t = 0; t < len; t++) {
                n_pos++;
                if (want[t].kind == VAL_NONE) n_none++;
                note(&outv, want[t]);
                if (identity && !val_eq(want[t], xs[t])) identity = false;
            }
            for (int e = 0; e < ne; e++) {
                ExprKind kd = p->exprs[e].kind;
                if (!tr.done[e] || ops[e].varies || !rasp_is_sop(kd) || kd == EXPR_TOKENS ||
                    kd == EXPR_INDICES)
                    continue;
                for (int t = 0; t < len; t++) note(&ops[e], tr.sop[(size_t)e * len + t]);
            }
            rasp_trace_free(&tr);
        }
    }
    pr->first[N + 1] = k;
    pr->n_in = k;
    if (n_ok_inputs == 0) fail(r, ACC_R_EVAL, "", "the interpreter raised on every test input");
    else if (!outv.varies) fail(r, ACC_R_CONSTANT, "", "the output never varies");
    else if (identity) fail(r, ACC_R_IDENTITY, "", "the output equals the input");
    else if (2 * n_none > n_pos) fail(r, ACC_R_MOSTLY_NONE, "", "most output positions are None");
    else
        for (int e = 0; e < ne; e++)
            if (ops[e].seen && !ops[e].varies) {
                r->has_const_op = true;
                if (st->reject_const_ops)
                    fail(r, ACC_R_CONST_OP, p->exprs[e].label ? p->exprs[e].label : "?",
                         " never varies");
                break;
            }
    free(ops);
    free(xs);
    return r->reason;
}

/* Phase 2: the float64 forward pass of m on pr's inputs against the interpreter (mismatch).
 * vid[d] is the model's token id of voc[d]. One batch per input length. */
static int probe_model(const CompiledModel *m, const Probe *pr, const int *vid, AccResult *r) {
    int N = pr->N;
    if (N > m->max_seq_len)
        return fail(r, ACC_R_MISMATCH, "", "the model's max_seq_len is too small");
    int most = 0;
    for (int len = 1; len <= N; len++)
        if (pr->first[len + 1] - pr->first[len] > most) most = pr->first[len + 1] - pr->first[len];
    int *ids = malloc(sizeof(int) * (size_t)most * (N + 1) + 1);
    double *y = malloc(sizeof(double) * (size_t)most * (N + 1) * m->n_out + 1);
    FwdSparse *fs = fwd_sparse_new(m); /* NULL (non-finite weights, OOM): the dense pass */
    char err[256];
    if (!ids || !y) fail(r, ACC_R_MISMATCH, "", "out of memory");
    for (int len = 1; len <= N && r->reason == ACC_OK; len++) {
        int k0 = pr->first[len], count = pr->first[len + 1] - k0;
        if (count == 0) continue;
        for (int k = 0; k < count; k++) {
            const int *dg = pr->dig + (size_t)(k0 + k) * N;
            ids[k * (len + 1)] = m->bos_id;
            for (int t = 0; t < len; t++) ids[k * (len + 1) + t + 1] = vid[dg[t]];
        }
        if (model_forward_f64_sparse(m, fs, ids, count, len + 1, y, err, sizeof err)) {
            fail(r, ACC_R_MISMATCH, "forward: ", err);
            break;
        }
        for (int k = 0; k < count && r->reason == ACC_OK; k++) {
            if (!pr->ok[k0 + k]) continue;
            const Value *want = pr->want + (size_t)(k0 + k) * N;
            for (int t = 0; t < len; t++) {
                if (want[t].kind == VAL_NONE) continue;
                const double *row = y + ((size_t)k * (len + 1) + t + 1) * m->n_out;
                double raw;
                Value got = model_decode_row(m, row, &raw);
                bool ok =
                    m->output_numerical ? numerical_match(raw, want[t]) : val_eq(got, want[t]);
                if (!ok) {
                    char gb[64], wb[64];
                    if (m->output_numerical) snprintf(gb, sizeof gb, "%.6g", raw);
                    else val_repr_fmt(got, gb, sizeof gb);
                    val_repr_fmt(want[t], wb, sizeof wb);
                    snprintf(r->detail, sizeof r->detail,
                             "length %d position %d: model %s, RASP %s", len, t, gb, wb);
                    r->reason = ACC_R_MISMATCH;
                    break;
                }
            }
        }
    }
    fwd_sparse_free(fs);
    free(ids);
    free(y);
    return r->reason;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int acc_transform_model(const CompiledModel *m, int transform, int steps, uint64_t seed,
                        CompiledModel **out, bool *accepted, char *err, size_t errcap) {
    *out = NULL;
    *accepted = true;
    if (transform == ACC_TF_COMPRESS) {
        TfCompressOptions o;
        TfCompressReport rep;
        tf_compress_options_default(&o);
        o.dim = (m->residual_dim + 1) / 2;
        o.steps = steps;
        o.seed = seed;
        return tf_compress(m, &o, out, &rep, err, errcap);
    }
    if (transform == ACC_TF_DISTILL) {
        TfDistillOptions o;
        TfDistillReport rep;
        tf_distill_options_default(&o);
        o.steps = steps;
        o.seed = seed;
        int rc = tf_distill(m, &o, out, &rep, err, errcap);
        if (!rc && !rep.accepted) {
            *accepted = false;
            snprintf(err, errcap, "distilled: %.1f%% of inputs match", 100 * rep.input_accuracy);
        }
        return rc;
    }
    if (transform != ACC_TF_ROTATE) return err_printf(err, errcap, "no such transform");
    CompiledModel *t = tf_model_clone(m);
    if (!t) return err_printf(err, errcap, "out of memory");
    if (tf_permute(t, seed, err, errcap) || tf_rotate(t, seed, err, errcap)) {
        compiled_model_free(t);
        return 1;
    }
    *out = t;
    return 0;
}

/* The transformed copy of m (AccSettings.transform, seeded by the sample's seed), checked
 * like m against the interpreter on the test inputs; NULL with r's reason set when the
 * transform fails or the copy mismatches. */
static CompiledModel *transform_model(const CompiledModel *m, const Probe *pr, const int *vid,
                                      const AccSettings *st, uint64_t seed, AccResult *r) {
    double t0 = mono_s();
    char err[256];
    CompiledModel *t = NULL;
    bool accepted;
    r->tf_attempted = true;
    int rc = acc_transform_model(m, st->transform, st->compress_steps, seed, &t, &accepted, err,
                                 sizeof err);
    if (!rc && !accepted) {
        snprintf(r->detail, sizeof r->detail, "%.190s", err);
        r->reason = ACC_R_TRANSFORM;
        r->tf_seconds = mono_s() - t0;
        compiled_model_free(t);
        return NULL;
    }
    if (rc) {
        fail(r, ACC_R_TRANSFORM, "", err);
    } else if (st->transform != ACC_TF_DISTILL && probe_model(t, pr, vid, r) != ACC_OK) {
        char why[sizeof r->detail];
        snprintf(why, sizeof why, "%s", r->detail);
        r->reason = ACC_OK;
        fail(r, ACC_R_TRANSFORM, "transformed: ", why);
    }
    r->tf_seconds = mono_s() - t0;
    if (r->reason != ACC_OK) {
        compiled_model_free(t);
        return NULL;
    }
    return t;
}

/* vid[d] = the model's id of voc[d]; false when a value is not in the model's vocabulary. */
static bool map_vocab(const CompiledModel *m, const Value *voc, int V, int *vid) {
    for (int d = 0; d < V; d++)
        if ((vid[d] = model_token_id(m, voc[d])) < 0) return false;
    return true;
}

int acc_check_model(const RaspProgram *p, const CompiledModel *m, const AccSettings *st,
                    uint64_t seed, AccResult *r) {
    r->reason = ACC_OK;
    r->detail[0] = 0;
    r->has_const_op = false;
    int V = 0;
    Value voc[GEN_MAX_VOCAB * 8] = {0};
    int vid[GEN_MAX_VOCAB * 8];
    for (int i = 0; i < m->vocab_size && V < (int)(sizeof voc / sizeof voc[0]); i++)
        if (i != m->bos_id && i != m->pad_id) voc[V++] = m->tokens[i];
    Probe pr;
    if (probe_program(p, voc, V, m->max_seq_len, m->causal, st, seed, &pr, r) == ACC_OK) {
        if (!map_vocab(m, voc, V, vid))
            fail(r, ACC_R_MISMATCH, "", "a test token is not in the model's vocabulary");
        else probe_model(m, &pr, vid, r);
    }
    probe_free(&pr);
    return r->reason;
}

int acc_sample(GenSampler *s, uint64_t seed, AccResult *r) {
    long before[GEN_R_COUNT], after[GEN_R_COUNT];
    gen_sampler_rejections(s, before);
    int rc = gen_sample(s, seed, &r->sample);
    gen_sampler_rejections(s, after);
    for (int i = 0; i < GEN_R_COUNT; i++) r->sampler_rejects[i] = after[i] - before[i];
    r->wt.n = 0;
    r->detail[0] = 0;
    r->has_const_op = false;
    r->reason = ACC_OK;
    r->tf_attempted = false;
    r->tf_seconds = 0;
    if (rc) return fail(r, ACC_R_SAMPLER, "", "no program found for the seed");
    memcpy(r->tokens, r->sample.tokens, sizeof r->tokens);
    acc_tokens_hash(r->tokens, r->prog_hash);
    return ACC_OK;
}

int acc_run(GenSampler *s, const AccSettings *st, uint64_t seed, AccResult *r) {
    if (acc_sample(s, seed, r) != ACC_OK) return r->reason;
    return acc_finish(s, st, seed, r);
}

int acc_finish(GenSampler *s, const AccSettings *st, uint64_t seed, AccResult *r) {
    const GenConfig *c = gen_sampler_config(s);
    const GenSample *gs = &r->sample;
    const GenSetting *g = &gs->setting;
    RaspProgram p;
    char err[256];
    if (pt_build_program(gs->rows, gs->n_rows, g->vocab, g->n_vocab, g->max_seq_len, &p, err,
                         sizeof err)) {
        rasp_program_free(&p);
        return fail(r, ACC_R_BUILD, "", err);
    }
    /* The interpreter's checks first: they reject about a quarter of the programs (constant,
     * mostly None, ...) without the cost of compiling them. The test tokens are the
     * vocabulary in ascending order, the order of the compiled model's token table, so
     * acc_check_model on the compiled model draws the same inputs. */
    p.causal = g->causal;
    Value voc[GEN_MAX_VOCAB] = {0};
    int V = 0;
    for (int i = 0; i < g->n_vocab; i++) {
        int j = V++;
        while (j > 0 && val_dir_cmp("tokens", voc[j - 1], g->vocab[i]) > 0) {
            voc[j] = voc[j - 1];
            j--;
        }
        voc[j] = g->vocab[i];
    }
    Probe pr;
    if (probe_program(&p, voc, V, g->max_seq_len, p.causal, st, seed, &pr, r) != ACC_OK) {
        probe_free(&pr);
        rasp_program_free(&p);
        return r->reason;
    }
    CompileOptions co;
    compile_options_default(&co);
    CompiledModel *m = NULL;
    if (compile_program(&p, &co, &m, err, sizeof err)) {
        probe_free(&pr);
        rasp_program_free(&p);
        return fail(r, ACC_R_COMPILE, "", err);
    }
    int32_t *meta = r->meta;
    meta[ACC_META_VOCAB] = m->vocab_size;
    meta[ACC_META_MAX_SEQ_LEN] = m->max_seq_len;
    meta[ACC_META_RESIDUAL] = m->residual_dim;
    meta[ACC_META_LAYERS] = m->num_layers;
    meta[ACC_META_OPS] = gs->n_sops;
    meta[ACC_META_ROWS] = gs->n_rows;
    meta[ACC_META_MLP] = m->mlp_hidden_size;
    meta[ACC_META_HEADS] = m->num_heads;
    int vid[GEN_MAX_VOCAB];
    if (m->residual_dim > c->max_residual || m->num_layers > c->max_layers ||
        m->mlp_hidden_size > c->max_mlp_width) {
        snprintf(err, sizeof err, "residual %d, layers %d, mlp %d", m->residual_dim, m->num_layers,
                 m->mlp_hidden_size);
        fail(r, ACC_R_CAPS, "", err);
    } else if (m->causal != p.causal || !map_vocab(m, voc, V, vid)) {
        fail(r, ACC_R_MISMATCH, "",
             "the model's vocabulary or causality differs from the program's");
    } else if (probe_model(m, &pr, vid, r) == ACC_OK) {
        CompiledModel *enc =
            st->transform == ACC_TF_NONE ? m : transform_model(m, &pr, vid, st, seed, r);
        if (!enc) { /* r has the reason */
        } else if (wt_encode(enc, &st->wt, &r->wt, err, sizeof err))
            fail(r, ACC_R_WTOKENS, "", err);
        else if (model_hash128(m, r->model_hash)) fail(r, ACC_R_WTOKENS, "", "out of memory");
        if (enc != m) compiled_model_free(enc);
    }
    probe_free(&pr);
    compiled_model_free(m);
    rasp_program_free(&p);
    return r->reason;
}
