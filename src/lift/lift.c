/* lift_model: scan, name, print, then the proof by recompilation (see lift.h). */
#include "lift/lift.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/model_hash.h"
#include "gen/lambda_lib.h"
#include "lift/canon.h"
#include "lift/lift_internal.h"
#include "rasp/rasp.h"
#include "util/errmsg.h"
#include "util/rng.h"

void lift_options_default(LiftOptions *o) {
    memset(o, 0, sizeof *o);
    o->name_functions = true;
    o->verify = true;
    o->max_inputs = LIFT_MAX_INPUTS;
    o->canon = true;
}

void lift_result_free(LiftResult *r) {
    free(r->program);
    memset(r, 0, sizeof *r);
}

void lift_compile_options(const CompiledModel *m, const Value *vocab, int n_vocab,
                          CompileOptions *co, char bos[256], char pad[256]) {
    compile_options_default(co);
    co->vocab = vocab;
    co->n_vocab = n_vocab;
    co->max_seq_len = m->max_seq_len;
    co->causal = m->causal;
    co->mlp_exactness = m->mlp_exactness;
    snprintf(bos, 256, "compiler_bos");
    snprintf(pad, 256, "compiler_pad");
    if (m->tokens[m->bos_id].kind == VAL_STR) snprintf(bos, 256, "%s", m->tokens[m->bos_id].u.s);
    if (m->pad_id >= 0 && m->tokens[m->pad_id].kind == VAL_STR)
        snprintf(pad, 256, "%s", m->tokens[m->pad_id].u.s);
    co->compiler_bos = bos;
    co->compiler_pad = pad;
    co->exact = m->exact;
}

/* Outputs of a and b on every input up to max_seq_len (or max_inputs seeded ones), run in
 * batches of one length through the sparse float64 forward pass. */
static int compare_outputs(const CompiledModel *a, const CompiledModel *b, const Value *vocab,
                           int nv, int max_inputs, double row_tol, double num_tol, LiftResult *r,
                           char *err, size_t errcap) {
    int N = a->max_seq_len;
    double total = 0, p = 1;
    for (int n = 1; n <= N; n++) total += (p *= nv);
    bool exhaustive = total <= max_inputs;
    int *vid = malloc(sizeof(int) * (size_t)nv);
    for (int i = 0; i < nv; i++) vid[i] = model_token_id(a, vocab[i]);
    int per_len = exhaustive ? 0 : (max_inputs + N - 1) / N;
    int cap = exhaustive ? (int)(p > 1 ? p : 1) : per_len;
    int *ids = malloc(sizeof(int) * (size_t)cap * (size_t)(N + 1));
    double *oa = malloc(sizeof(double) * (size_t)cap * (size_t)(N + 1) * (size_t)a->n_out);
    double *ob = malloc(sizeof(double) * (size_t)cap * (size_t)(N + 1) * (size_t)b->n_out);
    int *dig = calloc((size_t)N + 1, sizeof(int));
    FwdSparse *sa = fwd_sparse_new(a), *sb = fwd_sparse_new(b);
    uint64_t seed = 0x11f7;
    int rc = 0, count = 0;
    for (int n = 1; n <= N && !rc; n++) {
        int B = 0;
        double cnt = 1;
        for (int i = 0; i < n; i++) cnt *= nv;
        int want = exhaustive ? (int)cnt : per_len;
        memset(dig, 0, sizeof(int) * (size_t)(N + 1));
        for (int k = 0; k < want; k++) {
            int *row = ids + (size_t)B * (n + 1);
            row[0] = a->bos_id;
            for (int i = 0; i < n; i++)
                row[i + 1] = vid[exhaustive ? dig[i] : (int)(rng_splitmix64(&seed) % (uint64_t)nv)];
            B++;
            if (exhaustive) {
                int t = 0;
                while (t < n && ++dig[t] == nv) dig[t++] = 0;
            }
        }
        if (model_forward_f64_sparse(a, sa, ids, B, n + 1, oa, err, errcap) ||
            model_forward_f64_sparse(b, sb, ids, B, n + 1, ob, err, errcap)) {
            rc = 1;
            break;
        }
        for (int k = 0; k < B; k++)
            for (int i = 1; i <= n; i++) {
                const double *ra = oa + ((size_t)k * (n + 1) + i) * a->n_out,
                             *rb = ob + ((size_t)k * (n + 1) + i) * b->n_out;
                double xa, xb;
                Value va = model_decode_row(a, ra, &xa), vb = model_decode_row(b, rb, &xb);
                /* the unembedded rows, not only their argmax: where RASP gives None the row
                 * can be a near tie that rounding decides either way */
                bool same = a->output_numerical ? fabs(xa - xb) <= num_tol * (1 + fabs(xa))
                                                : val_eq(va, vb);
                if (!same && !a->output_numerical && a->n_out == b->n_out) {
                    same = true;
                    for (int c = 0; c < a->n_out && same; c++)
                        same = fabs(ra[c] - rb[c]) <= row_tol * (1 + fabs(ra[c]));
                }
                if (!same && !r->n_output_diffs++) {
                    char s1[48], s2[48];
                    int len = snprintf(r->first_diff, sizeof r->first_diff, "input");
                    for (int t = 1; t <= n && len < 120; t++) {
                        val_repr_fmt(a->tokens[ids[(size_t)k * (n + 1) + t]], s1, sizeof s1);
                        len += snprintf(r->first_diff + len, sizeof r->first_diff - (size_t)len,
                                        " %s", s1);
                    }
                    val_repr_fmt(a->output_numerical ? val_float(xa) : va, s1, sizeof s1);
                    val_repr_fmt(a->output_numerical ? val_float(xb) : vb, s2, sizeof s2);
                    snprintf(r->first_diff + len, sizeof r->first_diff - (size_t)len,
                             ", position %d: model %s, lifted %s", i - 1, s1, s2);
                }
            }
        count += B;
    }
    r->n_inputs = count;
    r->exhaustive = exhaustive;
    fwd_sparse_free(sa);
    fwd_sparse_free(sb);
    free(vid), free(ids), free(oa), free(ob), free(dig);
    return rc;
}

/* ref: the model whose outputs the lifted program must reproduce (m itself, or the rotated
 * model m was canonicalised from: its float32 rotation leaves ~1e-6 on the rows, hence 1e-4,
 * and numerical outputs, which large MLP slopes amplify it in, within 1e-3 instead of 1e-4). */
static int verify(const CompiledModel *m, const CompiledModel *ref, Lift *x, LiftResult *r,
                  const LiftOptions *opt, char *err, size_t errcap) {
    RaspProgram p;
    char sub[1024];
    if (rasp_parse("<lifted>", r->program, &p, sub, sizeof sub))
        return err_printf(err, errcap, "the lifted program does not parse: %s", sub);
    const LSop *T = &x->s[0];
    CompileOptions co;
    char bos[256], pad[256];
    lift_compile_options(m, T->vals, T->n, &co, bos, pad);
    CompiledModel *re = NULL;
    int rc = 0;
    if (compile_program(&p, &co, &re, sub, sizeof sub)) {
        snprintf(r->verdict, sizeof r->verdict,
                 "NOT VERIFIED: the lifted program does not compile: %.400s", sub);
        goto out;
    }
    uint64_t h1[2], h2[2];
    if (model_hash128(m, h1) || model_hash128(re, h2)) {
        rc = err_printf(err, errcap, "out of memory");
        goto out;
    }
    r->hash_equal = h1[0] == h2[0] && h1[1] == h2[1];
    char why[400] = "";
    r->weights_equal = lift_same_weights(x, re, why, sizeof why);
    if (compare_outputs(ref, re, T->vals, T->n,
                        opt->max_inputs > 0 ? opt->max_inputs : LIFT_MAX_INPUTS,
                        ref == m ? 1e-6 : 1e-4, ref == m ? 1e-4 : 1e-3, r, sub, sizeof sub)) {
        snprintf(r->verdict, sizeof r->verdict, "NOT VERIFIED: forward pass failed: %.300s", sub);
        goto out;
    }
    /* a canonicalised model is proved by the given model's outputs (its weights compare
     * within the float32 rotation's rounding, reported but not required) */
    r->verified = (r->weights_equal || ref != m) && r->n_output_diffs == 0;
    /* the parts are bounded (why %.200s) so the line fits the 512-byte verdict */
    snprintf(
        r->verdict, sizeof r->verdict,
        "%s%s: recompiled weights %s%.200s%s; outputs %s on %s%d inputs%s (unembedded rows within %s)",
        r->verified ? "VERIFIED" : "NOT VERIFIED",
        ref != m ? " (basis canonicalised; outputs of the given model)" : "",
        r->weights_equal ? "identical up to residual, head and unit permutation" : "DIFFER: ",
        r->weights_equal ? "" : why,
        r->hash_equal ? " (model hash equal)" : " (model hash differs)",
        r->n_output_diffs ? "differ" : "equal", r->exhaustive ? "all " : "", r->n_inputs,
        r->exhaustive ? " up to max_seq_len" : " (seeded sample)", ref == m ? "1e-6" : "1e-4");
    if (r->n_output_diffs) {
        size_t L = strlen(r->verdict);
        if (L < sizeof r->verdict)
            snprintf(r->verdict + L, sizeof r->verdict - L, "; first: %.200s", r->first_diff);
    }
out:
    compiled_model_free(re);
    rasp_program_free(&p);
    return rc;
}

/* Lifts m in Tracr's layout; ref as in verify. */
static int lift_layout(const CompiledModel *m, const CompiledModel *ref, const LiftOptions *opt_in,
                       LiftResult *r, char *err, size_t errcap) {
    LiftOptions opt = *opt_in;
    memset(r, 0, sizeof *r);
    char lerr[512];
    if (opt.name_functions && gen_lib_init(lerr, sizeof lerr))
        return err_printf(err, errcap, "lambda library: %s", lerr);
    Lift x;
    memset(&x, 0, sizeof x);
    arena_init(&x.a);
    x.m = m;
    x.err = err;
    x.errcap = errcap;
    x.output = -1;
    int rc = 1;
    if (m->bos_id < 0 || m->bos_id >= m->vocab_size) {
        err_printf(err, errcap, "the model has no BOS token");
        goto out;
    }
    if (lift_scan(&x)) goto out;
    r->program = lift_emit(&x, opt.name_functions, &r->n_functions, &r->n_named);
    r->n_sops = x.n - 2;
    if (opt.verify && verify(m, ref, &x, r, &opt, err, errcap)) {
        lift_result_free(r);
        goto out;
    }
    if (!opt.verify) snprintf(r->verdict, sizeof r->verdict, "not verified (--no-verify)");
    rc = 0;
out:
    arena_free(&x.a);
    return rc;
}

/* The canonicalised basis (lift/canon.h), each sign variant in turn until one lifts, its
 * program computes m's outputs and recompiles to the canonicalised weights; else the best. */
static int lift_canonical(const CompiledModel *m, const LiftOptions *opt, LiftResult *r, char *err,
                          size_t errcap) {
    char best[512] = "";
    int best_found = -1; /* the refusal reported: the variant that got furthest */
    unsigned n_var = 2;
    bool have = false;
    int best_score = -1;
    LiftOptions scan = *opt;
    scan.verify = false;
    for (unsigned v = 0; v < n_var; v++) {
        CompiledModel *c = NULL;
        char cerr[512];
        CanonInfo ci;
        int rc = lift_canon(m, v, &c, &ci, cerr, sizeof cerr);
        int amb = ci.n_ambiguous < CANON_MAX_AMBIGUOUS ? ci.n_ambiguous : CANON_MAX_AMBIGUOUS;
        if (2u << amb > n_var) n_var = 2u << amb; /* signs met further on, once earlier ones fit */
        LiftResult t;
        if (!rc)
            rc = lift_layout(c, c, &scan, &t, cerr,
                             sizeof cerr); /* cheap: refuses most wrong signs */
        if (!rc) {
            lift_result_free(&t);
            rc = lift_layout(c, m, opt, &t, cerr, sizeof cerr);
        }
        compiled_model_free(c);
        if (rc) {
            if (ci.n_found > best_found)
                best_found = ci.n_found, snprintf(best, sizeof best, "%s", cerr);
            continue;
        }
        t.canonical = true;
        t.canon_variant = v;
        /* the best so far: verified with the weights equal, then verified, then lifted (a
         * numerical direction of the other sign can compute the same function: -x read
         * with mirrored thresholds) */
        int score = t.verified * 2 + (t.verified && t.weights_equal);
        if (!have || score > best_score) {
            if (have) lift_result_free(r);
            *r = t, have = true, best_score = score;
        } else lift_result_free(&t);
        if (best_score == 3 || !opt->verify) break;
    }
    if (!have) err_printf(err, errcap, "%s", best);
    return !have;
}

int lift_model(const CompiledModel *m, const LiftOptions *opt_in, LiftResult *r, char *err,
               size_t errcap) {
    LiftOptions opt;
    if (opt_in) opt = *opt_in;
    else lift_options_default(&opt);
    char first[512];
    if (!lift_layout(m, m, &opt, r, first, sizeof first)) return 0;
    if (!opt.canon) return err_printf(err, errcap, "%s", first);
    char cerr[512];
    if (!lift_canonical(m, &opt, r, cerr, sizeof cerr)) return 0;
    return err_printf(err, errcap, "%s; as a rotated model: %s", first, cerr);
}
