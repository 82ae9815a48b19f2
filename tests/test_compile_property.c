/* Random small programs (seeded), compiled and checked against the interpreter on every
 * input up to max_seq_len. A mismatch is allowed only when the compiler warned about one of
 * Tracr's silent failures; those are counted and reported. */
#include <math.h>

#include "compiler/model.h"
#include "rasp/program.h"
#include "rasp/rasp.h"
#include "test.h"

static unsigned long long S = 0x1234567ULL;
static unsigned rnd(unsigned n) {
    S ^= S << 13;
    S ^= S >> 7;
    S ^= S << 17;
    return (unsigned)(S % n);
}

typedef struct Gen {
    RaspProgram p;
    int cat[64], n_cat;     /* categorical SOps */
    int num[64], n_num;     /* numerical SOps */
    int num01[64], n_num01; /* numerical SOps with values in {0, 1} */
    int n_named;
} Gen;

static const char *label(Gen *g) {
    char b[16];
    snprintf(b, sizeof b, "v%d", ++g->n_named);
    return arena_strdup(&g->p.arena, b);
}

static Lambda *lam(Gen *g, int n_params, PyExpr *body) {
    Lambda *l = arena_alloc(&g->p.arena, sizeof *l);
    l->n_params = n_params;
    l->params[0] = "x";
    l->params[1] = "y";
    l->body = body;
    return l;
}

static PyExpr *X(Gen *g) { return py_param(&g->p.arena, 0); }
static PyExpr *Y(Gen *g) { return py_param(&g->p.arena, 1); }
static PyExpr *C(Gen *g, int v) { return py_const(&g->p.arena, val_int(v)); }
static PyExpr *Cf(Gen *g, double v) { return py_const(&g->p.arena, val_float(v)); }

static int add(Gen *g, ExprKind k, Encoding enc, int c0, int c1) {
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = k;
    e.enc = enc;
    e.label = e.name = label(g);
    e.user_named = true;
    e.child[0] = c0;
    e.child[1] = c1;
    e.default_value = val_none();
    return rasp_add_expr(&g->p, &e);
}

/* A categorical -> categorical function on small ints. */
static PyExpr *cat_fn(Gen *g) {
    Arena *a = &g->p.arena;
    switch (rnd(7)) {
    case 0: return py_binary(a, PYB_ADD, X(g), C(g, 1));
    case 1: return py_binary(a, PYB_SUB, X(g), C(g, 1));
    case 2: return py_binary(a, PYB_MOD, X(g), C(g, 2));
    case 3: return py_cmp2(a, PYC_GT, X(g), C(g, 1));
    case 4: return py_cmp2(a, PYC_EQ, X(g), C(g, (int)rnd(3)));
    case 5: return py_binary(a, PYB_MUL, X(g), C(g, 2));
    default: return py_binary(a, PYB_FLOORDIV, X(g), C(g, 2));
    }
}

static void gen_program(Gen *g) {
    rasp_program_init(&g->p);
    memset(g->cat, 0, sizeof g->cat);
    g->n_cat = g->n_num = g->n_num01 = g->n_named = 0;
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = EXPR_TOKENS;
    e.label = e.name = "tokens";
    e.child[0] = e.child[1] = -1;
    g->cat[g->n_cat++] = rasp_add_expr(&g->p, &e);
    e.kind = EXPR_INDICES;
    e.label = e.name = "indices";
    g->cat[g->n_cat++] = rasp_add_expr(&g->p, &e);
    Arena *a = &g->p.arena;
    int n_ops = 1 + (int)rnd(5);
    int last = -1;
    for (int op = 0; op < n_ops; op++) {
        /* The first operation reads tokens, so most programs depend on them (Tracr needs it). */
        int x = op == 0 ? g->cat[0] : g->cat[rnd((unsigned)g->n_cat)],
            y = g->cat[rnd((unsigned)g->n_cat)];
        int r;
        switch (rnd(10)) {
        case 0: /* categorical Map */
            r = add(g, EXPR_MAP, ENC_CATEGORICAL, x, -1);
            g->p.exprs[r].fn = lam(g, 1, cat_fn(g));
            g->cat[g->n_cat++] = r;
            break;
        case 1: { /* categorical -> numerical Map (0/1 or general) */
            r = add(g, EXPR_MAP, ENC_NUMERICAL, x, -1);
            bool b01 = rnd(2);
            g->p.exprs[r].fn = lam(g, 1,
                                   b01 ? py_cmp2(a, PYC_EQ, X(g), C(g, (int)rnd(3)))
                                       : py_binary(a, PYB_SUB, X(g), C(g, (int)rnd(2))));
            g->num[g->n_num++] = r;
            if (b01) g->num01[g->n_num01++] = r;
            break;
        }
        case 2: /* categorical SequenceMap of two different nodes */
            if (x == y) continue;
            r = add(g, EXPR_SEQMAP, ENC_CATEGORICAL, x, y);
            g->p.exprs[r].fn =
                lam(g, 2,
                    rnd(2) ? py_binary(a, PYB_ADD, X(g), Y(g)) : py_binary(a, PYB_SUB, X(g), Y(g)));
            g->cat[g->n_cat++] = r;
            break;
        case 3: /* numerical -> numerical / categorical Map */
            if (!g->n_num) continue;
            x = g->num[rnd((unsigned)g->n_num)];
            if (rnd(2)) {
                r = add(g, EXPR_MAP, ENC_CATEGORICAL, x, -1);
                g->p.exprs[r].fn = lam(g, 1, py_cmp2(a, PYC_GT, X(g), Cf(g, 0.5)));
                g->cat[g->n_cat++] = r;
            } else {
                r = add(g, EXPR_MAP, ENC_NUMERICAL, x, -1);
                g->p.exprs[r].fn = lam(g, 1, py_binary(a, PYB_MUL, X(g), C(g, 2)));
                g->num[g->n_num++] = r;
            }
            break;
        case 4: { /* LinearSequenceMap */
            if (g->n_num < 1) continue;
            x = g->num[rnd((unsigned)g->n_num)];
            y = g->num[rnd((unsigned)g->n_num)];
            r = add(g, EXPR_LINSEQMAP, ENC_NUMERICAL, x, y);
            static const int ca[4] = {1, -1, 2, 1}, cb[4] = {-1, 1, 1, 1};
            int k = (int)rnd(4);
            RaspExpr *E = &g->p.exprs[r];
            E->lin_a = val_int(ca[k]);
            E->lin_b = val_int(cb[k]);
            E->fn = lam(g, 2,
                        py_binary(a, PYB_ADD, py_binary(a, PYB_MUL, C(g, ca[k]), X(g)),
                                  py_binary(a, PYB_MUL, C(g, cb[k]), Y(g))));
            g->num[g->n_num++] = r;
            break;
        }
        case 5:
        case 6:
        case 7: {                 /* Select + Aggregate (categorical or numerical) */
            bool unique = rnd(2); /* keys = indices with EQ: at most one key per query */
            int s = add(g, EXPR_SELECT, ENC_CATEGORICAL, unique ? g->cat[1] : x, y);
            static const Pred preds[8] = {PRED_EQ,  PRED_LT,  PRED_LEQ,  PRED_GT,
                                          PRED_GEQ, PRED_NEQ, PRED_TRUE, PRED_FALSE};
            g->p.exprs[s].pred = unique ? PRED_EQ : preds[rnd(8)];
            if (g->n_num01 && rnd(2)) {
                int v = g->num01[rnd((unsigned)g->n_num01)];
                r = add(g, EXPR_AGGREGATE, ENC_NUMERICAL, s, v);
                g->p.exprs[r].default_value = val_int(0);
                g->num[g->n_num++] = r;
            } else {
                int v = g->cat[rnd((unsigned)g->n_cat)];
                r = add(g, EXPR_AGGREGATE, ENC_CATEGORICAL, s, v);
                g->cat[g->n_cat++] = r;
            }
            break;
        }
        default: { /* SelectorWidth */
            int s = add(g, EXPR_SELECT, ENC_CATEGORICAL, x, y);
            static const Pred preds[4] = {PRED_EQ, PRED_LT, PRED_TRUE, PRED_NEQ};
            g->p.exprs[s].pred = preds[rnd(4)];
            bool num = rnd(3) == 0;
            r = add(g, EXPR_SELWIDTH, num ? ENC_NUMERICAL : ENC_CATEGORICAL, s, -1);
            if (num) g->num[g->n_num++] = r;
            else g->cat[g->n_cat++] = r;
            break;
        }
        }
        last = r;
    }
    if (last < 0) { /* every draw was skipped: one categorical Map of tokens */
        last = add(g, EXPR_MAP, ENC_CATEGORICAL, g->cat[0], -1);
        g->p.exprs[last].fn = lam(g, 1, cat_fn(g));
    }
    g->p.output = last;
    int V = 2 + (int)rnd(2);
    g->p.vocab = arena_alloc(a, sizeof(Value) * 4);
    for (int i = 0; i < V; i++) g->p.vocab[i] = val_int(i + (int)(S & 1));
    g->p.n_vocab = V;
    g->p.has_vocab = true;
    g->p.max_seq_len = 3 + (int)rnd(3);
    g->p.causal = rnd(4) == 0;
}

static void describe(const RaspProgram *p) {
    for (int i = 0; i < p->n_exprs; i++) {
        const RaspExpr *e = &p->exprs[i];
        char body[256] = "";
        if (e->fn) py_format(e->fn->body, e->fn->params, body, sizeof body);
        fprintf(stderr, "    %s = %s%s(%s%s%s) %s %s\n", e->label,
                e->enc == ENC_NUMERICAL ? "numerical " : "", rasp_kind_name(e->kind),
                e->child[0] >= 0 ? p->exprs[e->child[0]].label : "", e->child[1] >= 0 ? ", " : "",
                e->child[1] >= 0 ? p->exprs[e->child[1]].label : "",
                e->kind == EXPR_SELECT ? rasp_pred_name(e->pred) : "", body);
    }
    fprintf(stderr, "    vocab n=%d first=%lld N=%d causal=%d\n", p->n_vocab,
            (long long)p->vocab[0].u.i, p->max_seq_len, p->causal);
}

static void test_random_programs(void) {
    const int N_PROGRAMS = 400;
    int compiled = 0, rejected = 0, clean = 0, warned_ok = 0, warned_bad = 0, unwarned_bad = 0,
        exact_bad = 0, exact_warn_bad = 0, positions = 0;
    for (int t = 0; t < N_PROGRAMS; t++) {
        Gen g;
        gen_program(&g);
        CompiledModel *m = NULL;
        char err[1024], err2[1024];
        int crc = compile_program(&g.p, NULL, &m, err, sizeof err);
        /* compile_check answers as compile_program does, with its message */
        int krc = compile_check(&g.p, NULL, err2, sizeof err2);
        CHECK_MSG((crc != 0) == (krc != 0) && (!crc || strcmp(err, err2) == 0),
                  "program %d: compile %d (%s), check %d (%s)", t, crc, crc ? err : "", krc,
                  krc ? err2 : "");
        if (crc) {
            rejected++;
            if (getenv("PROP_VERBOSE")) fprintf(stderr, "  program %d rejected: %s\n", t, err);
            rasp_program_free(&g.p);
            continue;
        }
        compiled++;
        VerifyReport rep;
        int rc = compile_verify(m, &g.p, 1000000, (unsigned long long)t, &rep, err, sizeof err);
        CHECK_MSG(rc >= 0, "verify error: %s", err);
        CHECK(rep.exhaustive);
        positions += rep.n_positions;
        if (rc == 0 && m->n_warnings == 0) clean++;
        else if (rc == 0) warned_ok++;
        else if (m->n_warnings > 0) {
            warned_bad++;
            if (getenv("PROP_VERBOSE")) {
                fprintf(stderr, "  program %d: %s\n", t, rep.first_mismatch);
                for (int w = 0; w < m->n_warnings; w++)
                    fprintf(stderr, "    warning: %s\n", m->warnings[w]);
            }
        } else {
            unwarned_bad++;
            fprintf(stderr, "  program %d: %s (no warning)\n", t, rep.first_mismatch);
            describe(&g.p);
        }
        /* exact mode */
        CompiledModel *mx = NULL;
        CompileOptions o;
        compile_options_default(&o);
        o.exact = true;
        if (compile_program(&g.p, &o, &mx, err, sizeof err) == 0) {
            VerifyReport rx;
            if (compile_verify(mx, &g.p, 1000000, (unsigned long long)t, &rx, err, sizeof err) ==
                1) {
                exact_bad++;
                if (mx->n_warnings) {
                    exact_warn_bad++;
                    if (getenv("PROP_VERBOSE"))
                        for (int w = 0; w < mx->n_warnings; w++)
                            fprintf(stderr, "    exact warning: %s\n", mx->warnings[w]);
                } else {
                    fprintf(stderr, "  program %d (exact mode): %s (no warning)\n", t,
                            rx.first_mismatch);
                    describe(&g.p);
                }
            }
        }
        compiled_model_free(mx);
        compiled_model_free(m);
        rasp_program_free(&g.p);
    }
    printf("random programs: %d generated, %d compiled, %d rejected by the compiler\n", N_PROGRAMS,
           compiled, rejected);
    printf(
        "  %d exact matches without warnings, %d matched despite warnings, %d mismatched after a warning, "
        "%d mismatched without a warning; %d positions compared\n",
        clean, warned_ok, warned_bad, unwarned_bad, positions);
    printf("  exact mode: %d mismatched (%d of them warned)\n", exact_bad, exact_warn_bad);
    CHECK(unwarned_bad == 0);
    CHECK(exact_bad == exact_warn_bad);
    CHECK(compiled >= N_PROGRAMS / 2);
}

int main(void) {
    RUN(test_random_programs);
    TEST_END();
}
