/* probe_model: the program read from activations (probe.h, docs/probe.md): the variants of
 * the reading, the output table, the program and its check. */
#include "lift/probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "lift/probe_internal.h"
#include "rasp/rasp.h"
#include "util/errmsg.h"

/* The first is the default; the others lean towards noisier or cleaner models. */
static const ProbeParams VARIANTS[] = {
    {SEL_SHARE, MAX_UV, PAIR_FROM_UV, 4, 2e-4, false},
    {SEL_SHARE, MAX_UV, 1e-4, 4, 2e-4, false},
    {0.3, MAX_UV, PAIR_FROM_UV, 4, 2e-4, false},
    {SEL_SHARE, 0.5, 0.2, 8, 2e-4, false},
    {SEL_SHARE, MAX_UV, PAIR_FROM_UV, 2, 1e-3, false},
    {0.7, MAX_UV, PAIR_FROM_UV, 4, 5e-5, false},
};
#define N_VARIANTS ((int)(sizeof VARIANTS / sizeof *VARIANTS))

void probe_options_default(ProbeOptions *o) {
    memset(o, 0, sizeof *o);
    o->max_inputs = PROBE_MAX_INPUTS;
    o->check_inputs = 20000;
    o->seed = 1;
    o->name_functions = true;
}

void probe_result_free(ProbeResult *r) {
    free(r->program);
    compiled_model_free(r->model);
    memset(r, 0, sizeof *r);
}

/* ---- output ---------------------------------------------------------------------------------- */

/* The model's output column at each position, -1 where it has no clear winner (tf_compare's
 * rule: Tracr's rows are all zero where the program's value is None). */
static void output_columns(const Probe *p, int *col) {
    const PAct *A = &p->A;
    int NO = A->n_out;
    for (int i = 0; i < A->P; i++) {
        const float *r = A->out + (size_t)i * NO;
        double t1 = -INFINITY, t2 = -INFINITY, big = 0;
        int arg = 0;
        for (int j = 0; j < NO; j++) {
            if (r[j] > t1) t2 = t1, t1 = r[j], arg = j;
            else if (r[j] > t2) t2 = r[j];
            if (fabs(r[j]) > big) big = fabs(r[j]);
        }
        col[i] = NO == 1 || (t1 - t2 > 0.5 * big && t1 - t2 > 1e-3) ? arg : -1;
    }
}

/* The output table: from the feature whose labels determine the columns with the fewest
 * exceptions (then the fewest labels, then the latest). Returns its index or -1. */
static int read_output(Probe *p, long *exceptions) {
    const PAct *A = &p->A;
    int NO = A->n_out;
    int *col = malloc(sizeof(int) * (size_t)A->P); /* [P] */
    output_columns(p, col);
    long best = -1;
    int bf = -1;
    for (int c = 0; c < p->nf; c++) {
        const PFeat *F = &p->f[c];
        long *cnt = calloc((size_t)F->n * NO, sizeof(long)); /* [n, NO] */
        for (int i = 0; i < A->P; i++)
            if (col[i] >= 0 && F->lab[i] >= 0) cnt[(size_t)F->lab[i] * NO + col[i]]++;
        long err = 0;
        for (int l = 0; l < F->n; l++) {
            long tot = 0, mx = 0;
            for (int j = 0; j < NO; j++) {
                tot += cnt[(size_t)l * NO + j];
                if (cnt[(size_t)l * NO + j] > mx) mx = cnt[(size_t)l * NO + j];
            }
            err += tot - mx;
        }
        /* positions with a value whose feature has none cannot be matched */
        for (int i = 0; i < A->P; i++)
            if (col[i] >= 0 && F->lab[i] < 0) err++;
        free(cnt);
        if (bf < 0 || err < best || (err == best && F->n <= p->f[bf].n)) best = err, bf = c;
    }
    int fi = pf_new(p, LS_MAP, NO, 1 << 30);
    if (fi < 0 || bf < 0) {
        free(col);
        return -1;
    }
    PFeat *f = &p->f[fi];
    f->a = bf;
    f->out = true;
    const PFeat *F = &p->f[bf];
    f->tab = calloc((size_t)(F->n ? F->n : 1), sizeof(int)); /* [n(a)] */
    long *cnt = calloc((size_t)(F->n ? F->n : 1) * NO, sizeof(long));
    for (int i = 0; i < A->P; i++)
        if (col[i] >= 0 && F->lab[i] >= 0) cnt[(size_t)F->lab[i] * NO + col[i]]++;
    double *sum = calloc((size_t)NO, sizeof(double)); /* [NO] */
    for (int l = 0; l < F->n; l++) {
        long mx = -1;
        for (int j = 0; j < NO; j++)
            if (cnt[(size_t)l * NO + j] > mx) mx = cnt[(size_t)l * NO + j], f->tab[l] = j;
        if (mx > 0) continue;
        /* A value whose positions never show a clear output (Tracr's selector width has
         * thin margins at its largest widths: 1/9 and 1/10 of BOS's weight are close)
         * takes the column with the largest total score over its positions. */
        memset(sum, 0, sizeof(double) * (size_t)NO);
        bool any = false;
        for (int i = 0; i < A->P; i++) {
            if (F->lab[i] != l) continue;
            any = true;
            for (int j = 0; j < NO; j++) sum[j] += A->out[(size_t)i * NO + j];
        }
        for (int j = 1; j < NO && any; j++)
            if (sum[j] > sum[f->tab[l]]) f->tab[l] = j;
    }
    free(sum);
    for (int i = 0; i < A->P; i++) f->lab[i] = F->lab[i] < 0 ? -1 : f->tab[F->lab[i]];
    free(cnt), free(col);
    *exceptions = best;
    return fi;
}

/* ---- the program --------------------------------------------------------------------------- */

static void mark(const Probe *p, int i, bool *used) {
    if (i < 0 || used[i]) return;
    used[i] = true;
    const PFeat *f = &p->f[i];
    mark(p, f->a, used);
    mark(p, f->b, used);
    mark(p, f->sk, used);
    mark(p, f->sq, used);
}

/* Builds lift's form of the used features and prints it (lift_emit). */
static char *emit(Probe *p, int out, bool naming, int *n_sops) {
    const CompiledModel *m = p->m;
    bool used[MAX_FEATS] = {0};
    mark(p, out, used);
    if (!used[0] && p->f[out].numerical && p->f[out].kind == LS_MAP && p->f[out].ftab &&
        !p->f[out].nums && !p->f[p->f[out].a].numerical) {
        /* a numerical Map of a categorical SOp that does not read tokens: it reads instead a
         * SequenceMap of that SOp and tokens that ignores tokens (a categorical table, so
         * Tracr compiles it). The SequenceMap takes the output's place in the feature order
         * (before the output that reads it) and the output moves to the end. */
        int a = p->f[out].a, na = p->f[a].n, nt = p->f[0].n;
        int si = pf_new(p, LS_SEQMAP, na, p->f[a].stage);
        if (si < 0) return NULL;
        PFeat *w = &p->f[si];
        w->a = a, w->b = 0;
        w->tab = malloc(sizeof(int) * (size_t)(na ? na : 1) * nt); /* [n_a * n_tokens] */
        for (int i = 0; i < na; i++)
            for (int t = 0; t < nt; t++) w->tab[i * nt + t] = i;
        memcpy(w->lab, p->f[a].lab, sizeof(int) * (size_t)p->A.P);
        PFeat tmp = p->f[out];
        p->f[out] = *w;
        p->f[si] = tmp;
        p->f[si].a = out;
        out = si;
        memset(used, 0, sizeof used);
        mark(p, out, used);
    }
    if (!used[0] && (p->f[out].numerical || p->f[p->f[out].a].numerical))
        return NULL; /* no table to widen: not compiled */
    if (!used[0]) {
        /* Tracr compiles only programs that read tokens: the output table takes them as a
         * second argument it ignores */
        PFeat *o = &p->f[out];
        int na = p->f[o->a].n, nt = p->f[0].n;
        int *tab = malloc(sizeof(int) * (size_t)(na ? na : 1) * nt); /* [n_a * n_tokens] */
        for (int i = 0; i < na; i++)
            for (int t = 0; t < nt; t++) tab[i * nt + t] = o->tab[i];
        free(o->tab);
        o->tab = tab;
        o->kind = LS_SEQMAP;
        o->b = 0;
    }
    used[0] = used[1] = true;
    int map[MAX_FEATS];
    Lift x;
    memset(&x, 0, sizeof x);
    arena_init(&x.a);
    x.m = m;
    x.N = m->max_seq_len;
    x.output = -1;
    x.header = "# read by itracr decompile --method probe from the model's activations; the\n"
               "# values of intermediate SOps are canonical (docs/probe.md)\n";
    *n_sops = 0;
    for (int i = 0; i < p->nf; i++) {
        if (!used[i]) continue;
        const PFeat *f = &p->f[i];
        int si = lift_new_sop(&x, f->kind, f->numerical, f->numerical ? 1 : f->n, 0);
        map[i] = si;
        LSop *s = &x.s[si];
        if (i >= 2) ++*n_sops;
        s->a = f->a >= 0 ? map[f->a] : -1;
        s->b = f->b >= 0 ? map[f->b] : -1;
        if (f->kind == LS_TOKENS) {
            s->vals = arena_alloc(&x.a, sizeof(Value) * (size_t)f->n);
            for (int v = 0; v < f->n; v++) s->vals[v] = m->tokens[p->A.vid[v]];
            s->known = true;
        } else if (f->kind == LS_INDICES) {
            s->vals = arena_alloc(&x.a, sizeof(Value) * (size_t)f->n);
            for (int v = 0; v < f->n; v++) s->vals[v] = val_int(v);
            s->known = true;
        } else if (f->out) {
            s->vals = m->out_values;
            s->known = true;
        }
        if (f->tab) {
            int G = p->f[f->a].n * (f->b >= 0 ? p->f[f->b].n : 1);
            s->tab = arena_alloc(&x.a, sizeof(int) * (size_t)(G ? G : 1));
            memcpy(s->tab, f->tab, sizeof(int) * (size_t)G);
        }
        s->ca = f->ca, s->cb = f->cb;
        if (f->nums) {
            s->n_num = f->n;
            s->num = arena_alloc(&x.a, sizeof(double) * (size_t)f->n);
            memcpy(s->num, f->nums, sizeof(double) * (size_t)f->n);
        }
        if ((f->tab || f->ftab) && f->kind == LS_MAP && p->f[f->a].nums) {
            /* a Map of a number: Tracr's discretising MLP, one output (a label, or a number
             * for a numerical Map) per input number */
            const PFeat *in = &p->f[f->a];
            s->n_vs = in->n;
            s->vs = arena_alloc(&x.a, sizeof(double) * (size_t)in->n);
            memcpy(s->vs, in->nums, sizeof(double) * (size_t)in->n);
            if (f->tab) {
                s->rtab = arena_alloc(&x.a, sizeof(int) * (size_t)in->n);
                memcpy(s->rtab, f->tab, sizeof(int) * (size_t)in->n);
            } else {
                s->rftab = arena_alloc(&x.a, sizeof(double) * (size_t)in->n);
                memcpy(s->rftab, f->ftab, sizeof(double) * (size_t)in->n);
            }
        }
        if (f->ftab) {
            int G = p->f[f->a].n;
            s->ftab = arena_alloc(&x.a, sizeof(double) * (size_t)(G ? G : 1));
            memcpy(s->ftab, f->ftab, sizeof(double) * (size_t)G);
        }
        if (f->sel) {
            s->sel.keys = map[f->sk];
            s->sel.queries = map[f->sq];
            size_t cells = (size_t)p->f[f->sk].n * p->f[f->sq].n;
            s->sel.tab = arena_alloc(&x.a, cells ? cells : 1);
            memcpy(s->sel.tab, f->sel, cells);
        }
        if (i == out) x.output = si;
    }
    int nf = 0, nn = 0;
    char *text = lift_emit(&x, naming, &nf, &nn);
    arena_free(&x.a);
    return text;
}

/* text with a comment line after its header comments: compile it with --exact */
static char *exact_note(const char *text) {
    static const char note[] = "# compile with --exact: Tracr's value sets miss numbers its means "
                               "reach (docs/compiler.md)\n";
    size_t h = 0;
    while (text[h] == '#') {
        const char *nl = strchr(text + h, '\n');
        if (!nl) break;
        h = (size_t)(nl - text) + 1;
    }
    size_t n = strlen(text);
    char *out = malloc(n + sizeof note); /* [n + note + NUL] */
    memcpy(out, text, h);
    memcpy(out + h, note, sizeof note - 1);
    memcpy(out + h + sizeof note - 1, text + h, n - h + 1);
    return out;
}

static int check(Probe *p, ProbeResult *r) {
    const CompiledModel *m = p->m;
    RaspProgram prog;
    char sub[1024];
    if (rasp_parse("<probed>", r->program, &prog, sub, sizeof sub))
        return err_printf(p->err, p->errcap, "the probed program does not parse: %s", sub);
    Value *vocab = malloc(sizeof(Value) * (size_t)p->A.nv); /* [nv] */
    for (int v = 0; v < p->A.nv; v++) vocab[v] = m->tokens[p->A.vid[v]];
    CompileOptions co;
    char bos[256], pad[256];
    lift_compile_options(m, vocab, p->A.nv, &co, bos, pad);
    CompiledModel *re = NULL;
    int rc = 0;
    if (compile_program(&prog, &co, &re, sub, sizeof sub)) {
        /* a Map keyed by the numbers a mean takes fails on the numbers of Tracr's value set
         * that the model never showed; exact mode gives the mean its true set */
        CompileOptions cx = co;
        cx.exact = true;
        char sub2[256];
        if (co.exact || compile_program(&prog, &cx, &re, sub2, sizeof sub2)) {
            if (pf_debug()) fprintf(stderr, "probe: does not compile:\n%s", r->program);
            rc = err_printf(p->err, p->errcap, "the probed program does not compile: %.400s", sub);
            goto out;
        }
        co.exact = true;
        char *t = exact_note(r->program);
        free(r->program);
        r->program = t;
    }
    PCompare c;
    if (probe_ref_compare(&p->ref, m, re, &c, sub, sizeof sub)) {
        rc = err_printf(p->err, p->errcap, "comparing the probed program: %.400s", sub);
        goto out;
    }
    /* Tracr's value set of a numerical mean misses most of the numbers it takes, so a Map the
     * probe reads straight from a mean compiles wrong where the given model (which reached it
     * another way) is right: exact mode completes the sets (docs/compiler.md) */
    if (c.n_positions_match < c.n_positions && re->n_warnings > 0 && !co.exact) {
        CompileOptions cx = co;
        cx.exact = true;
        CompiledModel *rx = NULL;
        PCompare c2;
        if (!compile_program(&prog, &cx, &rx, sub, sizeof sub) &&
            !probe_ref_compare(&p->ref, m, rx, &c2, sub, sizeof sub) &&
            c2.n_positions_match > c.n_positions_match) {
            compiled_model_free(re);
            re = rx, rx = NULL, c = c2;
            char *t = exact_note(r->program);
            free(r->program);
            r->program = t;
        }
        compiled_model_free(rx);
    }
    r->n_inputs = c.n_inputs, r->n_inputs_match = c.n_inputs_match;
    r->n_positions = c.n_positions, r->n_positions_match = c.n_positions_match;
    r->exhaustive = p->ref.exhaustive;
    r->verified = c.n_positions > 0 && c.n_positions_match == c.n_positions;
    snprintf(r->verdict, sizeof r->verdict,
             "%s: outputs equal the model's on %ld of %ld %sinputs (%ld of %ld positions with a "
             "clear output)%s%.200s",
             r->verified ? "VERIFIED" : "NOT VERIFIED", c.n_inputs_match, c.n_inputs,
             p->ref.exhaustive ? "" : "sampled ", c.n_positions_match, c.n_positions,
             c.first[0] ? "; first difference: " : "", c.first);
out:
    if (rc) compiled_model_free(re);
    else r->model = re;
    rasp_program_free(&prog);
    free(vocab);
    return rc;
}

int probe_model(const CompiledModel *m, const ProbeOptions *o_in, ProbeResult *r, char *err,
                size_t errcap) {
    ProbeOptions o;
    if (o_in) o = *o_in;
    else probe_options_default(&o);
    memset(r, 0, sizeof *r);
    r->reference_verified = -1;
    if (m->bos_id < 0 || m->max_seq_len > 64)
        return err_printf(err, errcap, "the model has no BOS token or is longer than 64");
    char lerr[512];
    if (o.name_functions && gen_lib_init(lerr, sizeof lerr))
        return err_printf(err, errcap, "lambda library: %s", lerr);
    Probe p;
    memset(&p, 0, sizeof p);
    p.m = m;
    p.err = err;
    p.errcap = errcap;
    if (probe_acts(m, o.max_inputs > 0 ? o.max_inputs : PROBE_MAX_INPUTS, o.seed, &p.A, err,
                   errcap))
        return 1;
    const PAct *A = &p.A;
    if (probe_ref_init(m, A, o.check_inputs > 0 ? o.check_inputs : 20000, o.seed, &p.ref, err,
                       errcap)) {
        probe_acts_free(&p.A);
        return 1;
    }
    double *w = malloc(sizeof(double) * (size_t)A->P * A->D); /* [P, D] a block's write */
    int rc = 1, nvar = o.variants > 0 && o.variants < N_VARIANTS ? o.variants : N_VARIANTS;
    char verr[512] = "";
    /* Variants of the thresholds, each checked against the model: the first verified one,
     * else the one whose outputs agree with the model's at the most positions. */
    int tokens_first = 0; /* retrying variant v with selectors over tokens preferred */
    for (int v = 0; v < nvar; v++) {
        p.par = VARIANTS[v];
        p.par.tokens_first = tokens_first;
        bool no_tokens = false;
        p.nf = 0;
        p.err = verr;
        p.errcap = sizeof verr;
        int t = pf_new(&p, LS_TOKENS, A->nv, 0), ix = pf_new(&p, LS_INDICES, A->N, 0);
        for (int i = 0; i < A->P; i++) p.f[t].lab[i] = A->tok[i], p.f[ix].lab[i] = A->tpos[i];
        int vrc = 0;
        for (int l = 0; l < m->num_layers && !vrc; l++) {
            for (int h = 0; h < m->num_heads && !vrc; h++) vrc = pf_read_head(&p, l, h, w);
            if (!vrc) vrc = pf_read_mlp(&p, l, w);
        }
        long exc = 0;
        int out = vrc ? -1 : m->output_numerical ? pf_read_numeric_output(&p) : read_output(&p, &exc);
        if (!vrc && out < 0) vrc = err_printf(verr, sizeof verr, "too many SOps to probe");
        ProbeResult t_r;
        memset(&t_r, 0, sizeof t_r);
        if (!vrc) {
            t_r.program = emit(&p, out, o.name_functions, &t_r.n_sops);
            no_tokens = !t_r.program;
            vrc = t_r.program ? check(&p, &t_r)
                              : err_printf(verr, sizeof verr, "the probed program does not read tokens");
            if (vrc) probe_result_free(&t_r);
        }
        pf_free_all(&p);
        if (pf_debug())
            fprintf(stderr, "probe: variant %d: %s\n%s", v, vrc ? verr : t_r.verdict,
                    vrc ? "" : t_r.program);
        if (vrc) {
            if (rc && v == 0 && !tokens_first) snprintf(err, errcap, "%s", verr); /* the default's reason */
            /* Tracr compiles only programs that read tokens; when the SOps that fit best read
             * it nowhere (indices fitting a causal selector as well as tokens do), the same
             * variant is read again with selectors over tokens preferred */
            if (no_tokens && !tokens_first) tokens_first = 1, v--;
            else tokens_first = 0;
            continue;
        }
        tokens_first = 0;
        t_r.variant = v;
        if (rc || t_r.n_positions_match > r->n_positions_match ||
            (t_r.n_positions_match == r->n_positions_match &&
             t_r.n_inputs_match > r->n_inputs_match)) {
            if (!rc) probe_result_free(r);
            *r = t_r;
            rc = 0;
        } else probe_result_free(&t_r);
        if (r->verified) break;
    }
    free(w);
    /* after the variants: a refusal fills nothing else, a success has replaced *r */
    r->reference_verified = -1;
    PCompare rc_ref;
    char rerr[256];
    if (o.reference && !probe_ref_compare(&p.ref, m, o.reference, &rc_ref, rerr, sizeof rerr))
        r->reference_verified =
            rc_ref.n_positions > 0 && rc_ref.n_positions_match == rc_ref.n_positions;
    probe_ref_free(&p.ref);
    probe_acts_free(&p.A);
    return rc;
}
