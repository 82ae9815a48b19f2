/* Craft blocks against hand-computed weights (docs/tracr.md §2.4, §8) and layer
 * allocation on hand graphs (§2.5). */
#include <math.h>

#include "compiler/alloc.h"
#include "compiler/blocks.h"
#include "compiler/model.h"
#include "rasp/program.h"
#include "rasp/rasp.h"
#include "test.h"

static Arena A;
static char ERR[512];

static BlkCtx ctx(void) {
    BlkCtx c = {0};
    c.arena = &A;
    c.one = (Dir){"one", val_none()};
    c.bos = (Dir){"tokens", val_str("compiler_bos")};
    c.L = 100;
    c.err = ERR;
    c.errcap = sizeof ERR;
    c.where = "test";
    return c;
}

static void check_labels(const Space *s, const char *const *want, int n) {
    CHECK(s->n == n);
    for (int i = 0; i < n && i < s->n; i++) {
        char b[128];
        dir_str(&s->d[i], b, sizeof b);
        CHECK_STR(b, want[i]);
    }
}

static void check_matrix(const double *got, const double *want, int r, int c) {
    for (int i = 0; i < r * c; i++)
        if (fabs(got[i] - want[i]) > 1e-9) {
            fprintf(stderr, "  entry [%d,%d]: got %.9g want %.9g\n", i / c, i % c, got[i], want[i]);
            CHECK(fabs(got[i] - want[i]) <= 1e-9);
            return;
        }
}

static Space tok_space(const Value *v, int n) {
    return space_from_values(&A, "tokens", v, (size_t)n);
}

/* §8: make_length with vocab {a, b}, N = 2: every weight of the SelectorWidth block. */
static void test_selector_width_length(void) {
    BlkCtx c = ctx();
    Value voc[2] = {val_str("a"), val_str("b")};
    Space toks = tok_space(voc, 2);
    Value lv[3] = {val_int(0), val_int(1), val_int(2)};
    Space out = space_from_values(&A, "length", lv, 3);
    BlkPredState ps = {PRED_TRUE, NULL};
    AttnBlock h;
    MlpBlock m;
    Dir adir;
    CHECK(blk_selector_width(&c, &toks, &toks, blk_pred_make(&ps), "length", 2, &out, &h, &m,
                             &adir) == 0);
    const char *q[] = {"one", "tokens:a", "tokens:b", "tokens:compiler_bos"};
    const char *k[] = {"tokens:a", "tokens:b", "tokens:compiler_bos"};
    check_labels(&h.q, q, 4);
    check_labels(&h.k, k, 3);
    double wqk[] = {0, 0, 100, 100, 100, 0, 100, 100, 0, 0, 0, 0};
    check_matrix(h.wqk, wqk, 4, 3);
    const char *v[] = {"tokens:compiler_bos"}, *o[] = {"length_selector_width_attn_output"};
    check_labels(&h.v, v, 1);
    check_labels(&h.o, o, 1);
    CHECK(h.wov[0] == 1);

    const char *in[] = {"length_selector_width_attn_output", "one", "tokens:compiler_bos"};
    const char *hid[] = {"_hidden_clean_bos_",     "_hidden_length_:(1, 0)",
                         "_hidden_length_:(1, 1)", "_hidden_length_:(2, 0)",
                         "_hidden_length_:(2, 1)", "_hidden_length_start"};
    const char *ou[] = {"length:0", "length:1", "length:2", "length_selector_width_attn_output"};
    check_labels(&m.in, in, 3);
    check_labels(&m.hidden, hid, 6);
    check_labels(&m.out, ou, 4);
    double w1[] = {0,
                   100,
                   100,
                   100,
                   100,
                   0, /* A */
                   0,
                   1 - 100.0 * 5 / 12,
                   -100.0 * 5 / 12,
                   1 - 75,
                   -75,
                   1, /* one */
                   1,
                   0,
                   0,
                   0,
                   0,
                   0}; /* bos */
    check_matrix(m.w1, w1, 3, 6);
    double w2[] = {-1, 0, 0, -1, 0, 1, -1, 0, 0, -1, 1, 0, 1, -1, 0, 0, -1, 1, 0, 0, 0, 0, 1, 0};
    check_matrix(m.w2, w2, 6, 4);
    /* The MLP maps A = 1/(w+1) to one-hot w, and BOS (A = 1, bos = 1) to nothing. */
    double x[3], y[4];
    for (int w = 0; w <= 2; w++) {
        x[0] = 1.0 / (w + 1), x[1] = 1, x[2] = 0;
        blk_mlp_apply(&m, x, y);
        for (int j = 0; j < 3; j++) CHECK_NEAR(y[j], j == w ? 1 : 0, 1e-12);
    }
    x[0] = 1, x[1] = 1, x[2] = 1;
    blk_mlp_apply(&m, x, y);
    CHECK_NEAR(y[0], 0, 1e-12);
    CHECK_NEAR(y[3], -1, 1e-12); /* removes the head's A = 1 at BOS */
}

static PyErr f_square(void *c, const Value *a, Value *o, char *m, size_t cap) {
    *o = val_int(a[0].u.i * a[0].u.i);
    return PYERR_OK;
}
static PyErr f_minus2(void *c, const Value *a, Value *o, char *m, size_t cap) {
    *o = val_int(a[0].u.i - 2);
    return PYERR_OK;
}
static PyErr f_add(void *c, const Value *a, Value *o, char *m, size_t cap) {
    *o = val_int(a[0].u.i + a[1].u.i);
    return PYERR_OK;
}
static PyErr f_recip(void *c, const Value *a, Value *o, char *m, size_t cap) {
    if (val_as_double(a[0]) == 0) return PYERR_ARITH;
    *o = val_float(1 / val_as_double(a[0]));
    return PYERR_OK;
}

static void test_discretising_num_num(void) {
    BlkCtx c = ctx();
    Value xs[3] = {val_int(2), val_int(0), val_int(1)};
    MlpBlock m;
    Dir x = {"x", val_none()}, out = {"y", val_none()};
    CHECK(blk_discretising(&c, x, xs, 3, (BlkFn){f_square, NULL}, "_hidden_y_", NULL, out, &m) ==
          0);
    const char *in[] = {"one", "x"};
    const char *hid[] = {"_hidden_y_:(1, 0)", "_hidden_y_:(1, 1)", "_hidden_y_:(2, 0)",
                         "_hidden_y_:(2, 1)", "_hidden_y_start"};
    check_labels(&m.in, in, 2);
    check_labels(&m.hidden, hid, 5);
    double w1[] = {1 - 50, -50, 1 - 150, -150, 1, 100, 100, 100, 100, 0};
    check_matrix(m.w1, w1, 2, 5);
    double w2[] = {1, -1, 3, -3, 0};
    check_matrix(m.w2, w2, 5, 1);
    for (int v = 0; v <= 2; v++) {
        double inp[2] = {1, v}, y;
        blk_mlp_apply(&m, inp, &y);
        CHECK_NEAR(y, v * v, 1e-9);
    }
    /* Arithmetic errors are skipped: 1/x on {0, 1, 2} keeps 1 and 2 only. */
    MlpBlock r;
    CHECK(blk_discretising(&c, x, xs, 3, (BlkFn){f_recip, NULL}, "_hidden_r_", NULL, out, &r) == 0);
    CHECK(r.hidden.n == 3);
    /* Neighbours closer than 2/L mix (the ramp lies below the threshold). */
    Value close[2] = {val_float(0.0), val_float(0.01)};
    MlpBlock q;
    CHECK(blk_discretising(&c, x, close, 2, (BlkFn){f_recip, NULL}, "_hidden_q_", NULL, out, &q) ==
          0);
    CHECK(q.hidden.n == 1); /* 1/0 skipped: a single region */
}

static void test_cat_to_num(void) {
    BlkCtx c = ctx();
    Value voc[3] = {val_int(1), val_int(2), val_int(3)};
    Space toks = tok_space(voc, 3);
    Dir out = {"m", val_none()};
    MlpBlock m;
    CHECK(blk_map_cat_num(&c, &toks, out, (BlkFn){f_minus2, NULL}, false, "_hidden_m_", &m) == 0);
    double w1[] = {-1, 0, 1};
    check_matrix(m.w1, w1, 3, 1);
    CHECK(m.w2[0] == 1);
    double y, in[3] = {1, 0, 0};
    blk_mlp_apply(&m, in, &y);
    CHECK_NEAR(y, 0, 1e-12); /* Tracr's ReLU clips f(1) = -1 to 0 */
    MlpBlock e;
    CHECK(blk_map_cat_num(&c, &toks, out, (BlkFn){f_minus2, NULL}, true, "_hidden_m_", &e) == 0);
    CHECK(e.hidden.n == 2);
    blk_mlp_apply(&e, in, &y);
    CHECK_NEAR(y, -1, 1e-12); /* exact mode keeps the sign */
}

static void test_seqmap(void) {
    BlkCtx c = ctx();
    Value v01[2] = {val_int(0), val_int(1)}, v012[3] = {val_int(0), val_int(1), val_int(2)};
    Space x1 = space_from_values(&A, "a", v01, 2), x2 = space_from_values(&A, "b", v01, 2);
    Space out = space_from_values(&A, "s", v012, 3);
    MlpBlock m;
    CHECK(blk_seqmap_cat(&c, &x1, &x2, "s", &out, (BlkFn){f_add, NULL}, "_hidden_s_", &m) == 0);
    const char *in[] = {"a:0", "a:1", "b:0", "b:1", "one"};
    const char *hid[] = {"_hidden_s_:('a', 0, 'b', 0)", "_hidden_s_:('a', 0, 'b', 1)",
                         "_hidden_s_:('a', 1, 'b', 0)", "_hidden_s_:('a', 1, 'b', 1)"};
    check_labels(&m.in, in, 5);
    check_labels(&m.hidden, hid, 4);
    double w1[] = {1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, -1, -1, -1, -1};
    check_matrix(m.w1, w1, 5, 4);
    double w2[] = {1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1};
    check_matrix(m.w2, w2, 4, 3);
    /* Overlapping input spaces are an error, as in Tracr. */
    CHECK(blk_seqmap_cat(&c, &x1, &x1, "s", &out, (BlkFn){f_add, NULL}, "_hidden_s_", &m) != 0);
}

/* A block larger than the model-size limit is refused before its matrices are allocated
 * (zero-filling them took seconds and gigabytes on decoded programs). */
static void test_block_size_guard(void) {
    BlkCtx c = ctx();
    enum { NX = 700 };
    Value *v = malloc(sizeof(Value) * NX);
    for (int i = 0; i < NX; i++) v[i] = val_int(i);
    Space x1 = space_from_values(&A, "a", v, NX), x2 = space_from_values(&A, "b", v, NX);
    Space out = space_from_values(&A, "s", v, 10);
    MlpBlock m;
    CHECK(blk_seqmap_cat(&c, &x1, &x2, "s", &out, (BlkFn){f_add, NULL}, "_hidden_s_", &m) != 0);
    CHECK(strstr(ERR, "limit") != NULL);
    /* just under: 40 x 40 values build normally */
    Space y1 = space_from_values(&A, "a", v, 40), y2 = space_from_values(&A, "b", v, 40);
    Space o2 = space_from_values(&A, "s", v, 80);
    CHECK(blk_seqmap_cat(&c, &y1, &y2, "s", &o2, (BlkFn){f_add, NULL}, "_hidden_s_", &m) == 0);
    CHECK(m.hidden.n == 1600);
    free(v);
}

static void test_linseqmap(void) {
    BlkCtx c = ctx();
    Dir x = {"opens", val_none()}, y = {"closes", val_none()}, o = {"bal", val_none()};
    MlpBlock m;
    CHECK(blk_linseqmap(&c, x, y, 1, -1, "_hidden_bal_", o, &m) == 0);
    const char *in[] = {"closes", "opens"};
    const char *hid[] = {"_hidden_bal_x:-1", "_hidden_bal_x:1", "_hidden_bal_y:-1",
                         "_hidden_bal_y:1"};
    check_labels(&m.in, in, 2);
    check_labels(&m.hidden, hid, 4);
    double w1[] = {0, 0, -1, 1, -1, 1, 0, 0}; /* closes row, opens row */
    check_matrix(m.w1, w1, 2, 4);
    double w2[] = {-1, 1, 1, -1};
    check_matrix(m.w2, w2, 4, 1);
    double inp[2] = {0.25, 0.5}, r;
    blk_mlp_apply(&m, inp, &r);
    CHECK_NEAR(r, 0.25, 1e-12);
    /* The same node twice: (a + b) x. */
    MlpBlock s;
    CHECK(blk_linseqmap(&c, x, x, 2, 3, "_hidden_t_", o, &s) == 0);
    CHECK(s.in.n == 1);
    double one_in = -0.5;
    blk_mlp_apply(&s, &one_in, &r);
    CHECK_NEAR(r, -2.5, 1e-12);
}

static void test_aggregate_head(void) {
    BlkCtx c = ctx();
    Value v01[2] = {val_int(0), val_int(1)}, vxy[2] = {val_str("x"), val_str("y")};
    Space idx = space_from_values(&A, "indices", v01, 2);
    Space vs = space_from_values(&A, "v", vxy, 2), o = space_from_values(&A, "agg", vxy, 2);
    BlkPredState ps = {PRED_LEQ, NULL};
    AttnBlock h;
    CHECK(blk_attn_aggregate(&c, &idx, &idx, blk_pred_make(&ps), &vs, &o, &h) == 0);
    const char *q[] = {"indices:0", "indices:1", "one", "tokens:compiler_bos"};
    const char *k[] = {"indices:0", "indices:1", "tokens:compiler_bos"};
    const char *v[] = {"tokens:compiler_bos", "v:x", "v:y"};
    check_labels(&h.q, q, 4);
    check_labels(&h.k, k, 3);
    check_labels(&h.v, v, 3);
    double wqk[] = {100, 0, 0, 100, 100, 0, 0, 0, 50, 0, 0, 0};
    check_matrix(h.wqk, wqk, 4, 3);
    double wov[] = {0, 0, 1, 0, 0, 1};
    check_matrix(h.wov, wov, 3, 2);
}

/* ---- layer allocation ---------------------------------------------------------------- */
static void run_alloc(int n, const AllocKind *kind, const bool *sop, const int *off, const int *ch,
                      int *attn, int *mlp, int *layers, int *depth) {
    int buf[64], scratch[64];
    AllocResult r = {depth, buf, buf + 16, attn, mlp, 0};
    AllocGraph g = {n, kind, sop, off, ch};
    CHECK(alloc_layers(&g, &r, scratch) == 0);
    *layers = r.num_layers;
}

static void test_alloc(void) {
    /* frac_prevs: 0 frac (attn) <- 1 select <- 3 indices; 0 <- 2 bools (mlp) <- 4 tokens. */
    {
        AllocKind k[5] = {ALLOC_ATTN, ALLOC_NONE, ALLOC_MLP, ALLOC_NONE, ALLOC_NONE};
        bool s[5] = {1, 0, 1, 1, 1};
        int off[6] = {0, 2, 4, 5, 5, 5}, ch[5] = {1, 2, 3, 3, 4};
        int at[5], ml[5], d[5], nl;
        run_alloc(5, k, s, off, ch, at, ml, &nl, d);
        CHECK(d[0] == 2 && d[1] == 0 && d[2] == 1 && d[3] == 0 && d[4] == 0);
        CHECK(nl == 2);
        CHECK(ml[2] == 0 && at[0] == 1);
    }
    /* A head at depth 1 followed by an MLP at depth 2 condenses into one layer. */
    {
        AllocKind k[4] = {ALLOC_MLP, ALLOC_ATTN, ALLOC_NONE, ALLOC_NONE};
        bool s[4] = {1, 1, 0, 1};
        int off[5] = {0, 1, 3, 5, 5}, ch[5] = {1, 2, 3, 3, 3};
        int at[4], ml[4], d[4], nl;
        run_alloc(4, k, s, off, ch, at, ml, &nl, d);
        CHECK(d[0] == 2 && d[1] == 1);
        CHECK(nl == 1 && at[1] == 0 && ml[0] == 0);
    }
    /* A SelectorWidth (neither pure head nor pure MLP) does not condense: reverse's first
     * two levels give layer 0 attn+mlp and layer 1 mlp. Chain: 0 map <- 1 sw <- 2 select <- 3 tokens. */
    {
        AllocKind k[4] = {ALLOC_MLP, ALLOC_BOTH, ALLOC_NONE, ALLOC_NONE};
        bool s[4] = {1, 1, 0, 1};
        int off[5] = {0, 1, 2, 4, 4}, ch[4] = {1, 2, 3, 3};
        int at[4], ml[4], d[4], nl;
        run_alloc(4, k, s, off, ch, at, ml, &nl, d);
        CHECK(nl == 2 && at[1] == 0 && ml[1] == 0 && ml[0] == 1);
    }
    /* An MLP at depth 1 then a head at depth 3 (MLP at 2): layers [mlp], [attn? no: mlp], ... */
    {
        /* 0 agg(attn, d3) <- 1 sel <- 4 indices; 0 <- 2 map2 (mlp, d2) <- 3 map1 (mlp, d1) <- 5 tokens */
        AllocKind k[6] = {ALLOC_ATTN, ALLOC_NONE, ALLOC_MLP, ALLOC_MLP, ALLOC_NONE, ALLOC_NONE};
        bool s[6] = {1, 0, 1, 1, 1, 1};
        int off[7] = {0, 2, 4, 5, 6, 6, 6}, ch[6] = {1, 2, 4, 4, 3, 5};
        int at[6], ml[6], d[6], nl;
        run_alloc(6, k, s, off, ch, at, ml, &nl, d);
        CHECK(d[0] == 3 && d[2] == 2 && d[3] == 1);
        /* craft layers: map1 1, map2 3, agg 4 -> slots 1, 3, 4 -> layers 0, 1, 2 */
        CHECK(nl == 3 && ml[3] == 0 && ml[2] == 1 && at[0] == 2);
    }
}

/* §8 end to end: the compiled make_length (vocab {a, b}, N = 2), built with rasp_add_expr. */
static void test_length_model(void) {
    RaspProgram p;
    rasp_program_init(&p);
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = EXPR_TOKENS;
    e.label = e.name = "tokens";
    e.child[0] = e.child[1] = -1;
    int t = rasp_add_expr(&p, &e);
    memset(&e, 0, sizeof e);
    e.kind = EXPR_SELECT;
    e.label = e.name = "all_true_selector";
    e.user_named = true;
    e.pred = PRED_TRUE;
    e.child[0] = e.child[1] = t;
    int s = rasp_add_expr(&p, &e);
    memset(&e, 0, sizeof e);
    e.kind = EXPR_SELWIDTH;
    e.label = e.name = "length";
    e.user_named = true;
    e.child[0] = s;
    e.child[1] = -1;
    p.output = rasp_add_expr(&p, &e);
    Value voc[2] = {val_str("a"), val_str("b")};
    CompileOptions o;
    compile_options_default(&o);
    o.vocab = voc;
    o.n_vocab = 2;
    o.max_seq_len = 2;
    CompiledModel *m = NULL;
    char err[512] = "";
    int rc = compile_program(&p, &o, &m, err, sizeof err);
    CHECK_MSG(rc == 0, "%s", err);
    if (m) {
        const char *lab[] = {"indices:0",
                             "indices:1",
                             "length:0",
                             "length:1",
                             "length:2",
                             "length_selector_width_attn_output",
                             "one",
                             "tokens:a",
                             "tokens:b",
                             "tokens:compiler_bos",
                             "tokens:compiler_pad"};
        CHECK(m->residual_dim == 11);
        for (int i = 0; i < 11 && i < m->residual_dim; i++)
            CHECK_STR(m->residual_labels[i], lab[i]);
        CHECK(m->num_layers == 1 && m->num_heads == 1 && m->key_size == 4 &&
              m->mlp_hidden_size == 6);
        CHECK(m->bos_id == 2 && m->pad_id == 3);
        /* E_tok row = one-hot + one; E_pos row 0 = 0, row p = indices:p-1. */
        for (int id = 0; id < 4; id++)
            for (int d = 0; d < 11; d++)
                CHECK(m->token_embed[id * 11 + d] == ((d == 7 + id || d == 6) ? 1 : 0));
        for (int pp = 0; pp < 3; pp++)
            for (int d = 0; d < 11; d++)
                CHECK(m->pos_embed[pp * 11 + d] == ((pp > 0 && d == pp - 1) ? 1 : 0));
        /* Wq = P_Q W_QK: row one -> [0,0,100,0], rows tokens:a/b -> [100,100,0,0]. */
        CHECK(m->layers[0].q[6 * 4 + 2] == 100 && m->layers[0].q[7 * 4 + 0] == 100 &&
              m->layers[0].q[8 * 4 + 1] == 100);
        CHECK(m->layers[0].k[9 * 4 + 2] == 1 && m->layers[0].v[9 * 4 + 0] == 1 &&
              m->layers[0].o[0 * 11 + 5] == 1);
        Value xs[2] = {val_str("a"), val_str("b")}, out[2];
        CHECK(model_run(m, xs, 2, true, out, NULL, err, sizeof err) == 0);
        CHECK(val_eq(out[0], val_int(2)) && val_eq(out[1], val_int(2)));
        CHECK(model_run(m, xs, 1, false, out, NULL, err, sizeof err) == 0);
        CHECK(val_eq(out[0], val_int(1)));
        CHECK(m->n_warnings == 0);
    }
    compiled_model_free(m);
    rasp_program_free(&p);
}

/* SelectorWidth beyond the safe range (§5.2 item 3): warned by default, fixed by exact mode. */
static void build_length(RaspProgram *p, int enc) {
    rasp_program_init(p);
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = EXPR_TOKENS;
    e.label = e.name = "tokens";
    e.child[0] = e.child[1] = -1;
    int t = rasp_add_expr(p, &e);
    memset(&e, 0, sizeof e);
    e.kind = EXPR_SELECT;
    e.label = e.name = "all_true_selector";
    e.pred = PRED_TRUE;
    e.child[0] = e.child[1] = t;
    int s = rasp_add_expr(p, &e);
    memset(&e, 0, sizeof e);
    e.kind = EXPR_SELWIDTH;
    e.enc = (Encoding)enc;
    e.label = e.name = "length";
    e.child[0] = s;
    e.child[1] = -1;
    p->output = rasp_add_expr(p, &e);
}

static void test_selector_width_range(void) {
    Value voc[1] = {val_str("a")};
    for (int enc = 0; enc < 2; enc++)
        for (int N = 5; N <= 12; N++) {
            RaspProgram p;
            build_length(&p, enc);
            CompileOptions o;
            compile_options_default(&o);
            o.vocab = voc;
            o.n_vocab = 1;
            o.max_seq_len = N;
            CompiledModel *m = NULL, *x = NULL;
            char err[512];
            CHECK(compile_program(&p, &o, &m, err, sizeof err) == 0);
            o.exact = true;
            CHECK(compile_program(&p, &o, &x, err, sizeof err) == 0);
            if (m && x) {
                VerifyReport r, rx;
                int v = compile_verify(m, &p, 1000, 1, &r, err, sizeof err);
                int vx = compile_verify(x, &p, 1000, 1, &rx, err, sizeof err);
                /* Tracr: numerical exact up to N = 6, categorical decodes right up to 9. */
                bool safe = enc == 0 ? N <= 9 : N <= 6;
                CHECK_MSG((v == 0) == safe, "enc %d N %d: verify %d (%s)", enc, N, v,
                          r.first_mismatch);
                /* Gaps closer than 2/L always warn (the vector is mixed even where argmax holds). */
                CHECK_MSG((m->n_warnings > 0) == (N >= 7), "enc %d N %d: %d warnings", enc, N,
                          m->n_warnings);
                CHECK_MSG(vx == 0 && x->n_warnings == 0, "exact enc %d N %d: %s", enc, N,
                          rx.first_mismatch);
                CHECK(x->mlp_exactness >= 100);
            }
            compiled_model_free(m);
            compiled_model_free(x);
            rasp_program_free(&p);
        }
}

int main(void) {
    arena_init(&A);
    RUN(test_selector_width_length);
    RUN(test_discretising_num_num);
    RUN(test_cat_to_num);
    RUN(test_seqmap);
    RUN(test_block_size_guard);
    RUN(test_linseqmap);
    RUN(test_aggregate_head);
    RUN(test_alloc);
    RUN(test_length_model);
    RUN(test_selector_width_range);
    arena_free(&A);
    TEST_END();
}
