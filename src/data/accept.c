/* Acceptance of generated samples (see accept.h). The verification is its own fast path:
 * one batched float64 forward pass per input length, one interpreter trace per input, and
 * the same trace feeds the degeneracy checks. */
#include "data/accept.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/fast_forward.h"
#include "data/model_hash.h"
#include "io/checksum.h"
#include "rasp/rasp.h"

static const char *const REASONS[ACC_R_COUNT] = {
    "ok", "sampler", "build", "compile", "caps", "eval_error", "mismatch", "constant",
    "identity", "mostly_none", "const_op", "wtokens"};

const char *const acc_meta_names[ACC_META_COLS] = {
    "vocab_size", "max_seq_len", "residual_dim", "num_layers", "n_ops", "n_rows",
    "mlp_hidden_size", "num_heads"};

const char *acc_reason_name(int r) { return r >= 0 && r < ACC_R_COUNT ? REASONS[r] : "?"; }

void acc_settings_default(AccSettings *s) {
    s->n_test = 64;
    s->reject_const_ops = true;
    wt_options_default(&s->wt);
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

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
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

int acc_check_model(const RaspProgram *p, const CompiledModel *m, const AccSettings *st,
                    uint64_t seed, AccResult *r) {
    r->reason = ACC_OK;
    r->detail[0] = 0;
    r->has_const_op = false;
    int N = m->max_seq_len, nt = st->n_test > 0 ? st->n_test : 64;
    int V = 0;
    Value voc[GEN_MAX_VOCAB * 8];
    int vid[GEN_MAX_VOCAB * 8];
    for (int i = 0; i < m->vocab_size && V < (int)(sizeof voc / sizeof voc[0]); i++)
        if (i != m->bos_id && i != m->pad_id) {
            vid[V] = i;
            voc[V++] = m->tokens[i];
        }
    if (V == 0 || N <= 0) return fail(r, ACC_R_EVAL, "", "empty vocabulary or max_seq_len 0");
    double total = 0;
    for (int l = 1; l <= N; l++) total += pow((double)V, l);
    bool exhaustive = total <= (double)nt;

    int ne = p->n_exprs;
    OpVar *ops = calloc((size_t)ne, sizeof *ops);
    int *ids = malloc(sizeof(int) * (size_t)nt * (N + 1));
    int *dig = malloc(sizeof(int) * (size_t)nt * N);
    double *y = malloc(sizeof(double) * (size_t)nt * (N + 1) * m->n_out);
    Value *xs = malloc(sizeof(Value) * (size_t)N);
    OpVar outv = {0};
    long n_pos = 0, n_none = 0, n_ok_inputs = 0;
    bool identity = true;
    char err[256];
    uint64_t rs = seed ^ 0x7465737473ULL;
    FfModel ff = {0};
    if (!ops || !ids || !dig || !y || !xs || ff_build(m, &ff)) {
        fail(r, ACC_R_EVAL, "", "out of memory");
        goto done;
    }
    for (int len = 1; len <= N && r->reason == ACC_OK; len++) {
        long long count = exhaustive ? llround(pow((double)V, len)) : nt / N + (len <= nt % N);
        if (count == 0) continue;
        for (long long k = 0; k < count; k++) {
            long long code = k;
            ids[k * (len + 1)] = m->bos_id;
            for (int t = 0; t < len; t++) {
                int d;
                if (exhaustive) {
                    d = (int)(code % V);
                    code /= V;
                } else {
                    d = (int)(rng_next(&rs) % (uint64_t)V);
                }
                dig[k * N + t] = d;
                ids[k * (len + 1) + t + 1] = vid[d];
            }
        }
        if (ff_forward(&ff, ids, (int)count, len + 1, y, err, sizeof err)) {
            fail(r, ACC_R_MISMATCH, "forward: ", err);
            break;
        }
        for (long long k = 0; k < count && r->reason == ACC_OK; k++) {
            for (int t = 0; t < len; t++) xs[t] = voc[dig[k * N + t]];
            RaspTrace tr;
            if (rasp_eval_trace(p, xs, len, m->causal, &tr, err, sizeof err)) continue;
            n_ok_inputs++;
            const Value *want = tr.sop + (size_t)p->output * len;
            for (int t = 0; t < len; t++) {
                n_pos++;
                if (want[t].kind == VAL_NONE) n_none++;
                note(&outv, want[t]);
                if (!val_eq(want[t], xs[t])) identity = false;
                if (want[t].kind == VAL_NONE) continue;
                const double *row = y + ((size_t)k * (len + 1) + t + 1) * m->n_out;
                double raw;
                Value got = model_decode_row(m, row, &raw);
                bool ok = m->output_numerical ? numerical_match(raw, want[t]) : val_eq(got, want[t]);
                if (!ok) {
                    char gb[64], wb[64];
                    if (m->output_numerical) snprintf(gb, sizeof gb, "%.6g", raw);
                    else val_repr_fmt(got, gb, sizeof gb);
                    val_repr_fmt(want[t], wb, sizeof wb);
                    snprintf(r->detail, sizeof r->detail, "length %d position %d: model %s, RASP %s",
                             len, t, gb, wb);
                    r->reason = ACC_R_MISMATCH;
                    break;
                }
            }
            for (int e = 0; e < ne; e++) {
                ExprKind kd = p->exprs[e].kind;
                if (!tr.done[e] || !rasp_is_sop(kd) || kd == EXPR_TOKENS || kd == EXPR_INDICES) continue;
                for (int t = 0; t < len; t++) note(&ops[e], tr.sop[(size_t)e * len + t]);
            }
            rasp_trace_free(&tr);
        }
    }
    if (r->reason != ACC_OK) goto done;
    if (n_ok_inputs == 0) {
        fail(r, ACC_R_EVAL, "", "the interpreter raised on every test input");
        goto done;
    }
    if (!outv.varies) {
        fail(r, ACC_R_CONSTANT, "", "the output never varies");
        goto done;
    }
    if (identity) {
        fail(r, ACC_R_IDENTITY, "", "the output equals the input");
        goto done;
    }
    if (2 * n_none > n_pos) {
        fail(r, ACC_R_MOSTLY_NONE, "", "most output positions are None");
        goto done;
    }
    for (int e = 0; e < ne; e++)
        if (ops[e].seen && !ops[e].varies) {
            r->has_const_op = true;
            if (st->reject_const_ops)
                fail(r, ACC_R_CONST_OP, p->exprs[e].label ? p->exprs[e].label : "?", " never varies");
            break;
        }
done:
    if (ff.mats) ff_free(&ff);
    free(ops);
    free(ids);
    free(dig);
    free(y);
    free(xs);
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
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < c->n_vocab; i++) vocab[i] = val_int(c->vocab[i]);
    RaspProgram p;
    char err[256];
    if (pt_build_program(gs->rows, gs->n_rows, vocab, c->n_vocab, c->max_seq_len, &p, err, sizeof err)) {
        rasp_program_free(&p);
        return fail(r, ACC_R_BUILD, "", err);
    }
    CompileOptions co;
    compile_options_default(&co);
    CompiledModel *m = NULL;
    if (compile_program(&p, &co, &m, err, sizeof err)) {
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
    if (m->residual_dim > c->max_residual || m->num_layers > c->max_layers ||
        m->mlp_hidden_size > c->max_mlp_width) {
        snprintf(err, sizeof err, "residual %d, layers %d, mlp %d", m->residual_dim, m->num_layers,
                 m->mlp_hidden_size);
        fail(r, ACC_R_CAPS, "", err);
    } else if (acc_check_model(&p, m, st, seed, r) == ACC_OK) {
        if (wt_encode(m, &st->wt, &r->wt, err, sizeof err)) fail(r, ACC_R_WTOKENS, "", err);
        else if (model_hash128(m, r->model_hash)) fail(r, ACC_R_WTOKENS, "", "out of memory");
    }
    compiled_model_free(m);
    rasp_program_free(&p);
    return r->reason;
}
