/* The .rasp parser: fixture programs (against Tracr's JSON), operator sugar, Map fusion,
 * annotated copies and selector simplification (docs/tracr.md §1.2–§1.3, §5.3). */
#include <cjson/cJSON.h>
#include <dirent.h>

#include "io/atomic_file.h"
#include "rasp/rasp.h"
#include "test.h"

static char g_err[512];

static bool parse(const char *src, RaspProgram *p) {
    if (rasp_parse("t.rasp", src, p, g_err, sizeof g_err) != 0) {
        fprintf(stderr, "  parse error: %s\n", g_err);
        return false;
    }
    return true;
}

static int find(const RaspProgram *p, const char *label) {
    for (int i = 0; i < p->n_exprs; i++)
        if (p->exprs[i].label && strcmp(p->exprs[i].label, label) == 0) return i;
    return -1;
}

static const char *label_of(const RaspProgram *p, int i) {
    return i >= 0 && i < p->n_exprs ? p->exprs[i].label : "(none)";
}

/* f(args) through the expression's lambda. */
static Value call1(const RaspExpr *e, Value x) {
    Value out;
    char msg[128];
    if (!e->fn || lambda_call(e->fn, &x, &out, msg, sizeof msg) != PYERR_OK)
        return val_str("<error>");
    return out;
}
static Value call2(const RaspExpr *e, Value x, Value y) {
    Value args[2] = {x, y}, out;
    char msg[128];
    if (!e->fn || lambda_call(e->fn, args, &out, msg, sizeof msg) != PYERR_OK)
        return val_str("<error>");
    return out;
}
static bool same(Value a, Value b) { return a.kind == b.kind && val_eq(a, b); }

/* ---- fixtures ------------------------------------------------------------------------ */

static char *read_all(const char *path) {
    unsigned char *b = NULL;
    size_t len;
    char err[256];
    return read_whole_file(path, &b, &len, err, sizeof err) ? NULL : (char *)b;
}

static Value json_value(const cJSON *j) {
    if (cJSON_IsBool(j)) return val_bool(cJSON_IsTrue(j));
    if (cJSON_IsString(j)) return val_str(j->valuestring);
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        return d == (double)(int64_t)d ? val_int((int64_t)d) : val_float(d);
    }
    return val_none();
}

/* Every fixture: settings, output name/encoding, and the set of computed nodes in Tracr's
 * layer table equals the set of labelled SOps the parser built. */
static void test_fixtures(void) {
    DIR *d = opendir(FIXTURE_DIR "/tracr");
    CHECK(d != NULL);
    if (!d) return;
    int n_checked = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".rasp") != 0) continue;
        char path[512], jpath[512];
        snprintf(path, sizeof path, FIXTURE_DIR "/tracr/%s", de->d_name);
        snprintf(jpath, sizeof jpath, FIXTURE_DIR "/tracr/%.*s.json", (int)(len - 5), de->d_name);
        RaspProgram p;
        int rc = rasp_parse_file(path, &p, g_err, sizeof g_err);
        CHECK_MSG(rc == 0, "%s: %s", path, g_err);
        if (rc) continue;
        char *js = read_all(jpath);
        cJSON *j = js ? cJSON_Parse(js) : NULL;
        CHECK_MSG(j != NULL, "%s", jpath);
        if (j) {
            const cJSON *out = cJSON_GetObjectItem(j, "output");
            const char *oname = cJSON_GetObjectItem(out, "name")->valuestring;
            CHECK_STR(label_of(&p, p.output), oname);
            bool num = strcmp(cJSON_GetObjectItem(out, "encoding")->valuestring, "numerical") == 0;
            CHECK_MSG(p.exprs[p.output].enc == (num ? ENC_NUMERICAL : ENC_CATEGORICAL),
                      "%s output encoding", path);
            CHECK(p.max_seq_len == cJSON_GetObjectItem(j, "max_seq_len")->valueint);
            CHECK(p.causal == cJSON_IsTrue(cJSON_GetObjectItem(j, "causal")));
            const cJSON *vocab = cJSON_GetObjectItem(j, "vocab");
            CHECK(p.has_vocab && p.n_vocab == cJSON_GetArraySize(vocab));
            const cJSON *v;
            cJSON_ArrayForEach(v, vocab) {
                bool found = false;
                for (int i = 0; i < p.n_vocab; i++) found |= same(p.vocab[i], json_value(v));
                CHECK_MSG(found, "%s: vocab entry missing", path);
            }
            /* nodes computed by the model, by name */
            int n_nodes = 0;
            const cJSON *layer;
            cJSON_ArrayForEach(layer, cJSON_GetObjectItem(j, "layers")) {
                const char *halves[2] = {"attn", "mlp"};
                for (int h = 0; h < 2; h++) {
                    const cJSON *name;
                    cJSON_ArrayForEach(
                        name, cJSON_GetObjectItem(cJSON_GetObjectItem(layer, halves[h]), "nodes")) {
                        int idx = find(&p, name->valuestring);
                        CHECK_MSG(idx >= 0, "%s: node %s missing", path, name->valuestring);
                        if (idx >= 0) CHECK(rasp_is_sop(p.exprs[idx].kind));
                    }
                }
            }
            /* and no computed SOp the model lacks (SelectorWidth appears in both halves) */
            for (int i = 0; i < p.n_exprs; i++) {
                const RaspExpr *e = &p.exprs[i];
                if (!rasp_is_sop(e->kind) || e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES)
                    continue;
                n_nodes++;
                bool found = false;
                cJSON_ArrayForEach(layer, cJSON_GetObjectItem(j, "layers")) {
                    const char *halves[2] = {"attn", "mlp"};
                    for (int h = 0; h < 2; h++) {
                        const cJSON *name;
                        cJSON_ArrayForEach(
                            name,
                            cJSON_GetObjectItem(cJSON_GetObjectItem(layer, halves[h]), "nodes"))
                            found |= strcmp(name->valuestring, e->label) == 0;
                    }
                }
                CHECK_MSG(found, "%s: parsed node %s not in Tracr's model", path, e->label);
            }
            CHECK(n_nodes > 0);
            cJSON_Delete(j);
        }
        free(js);
        rasp_program_free(&p);
        n_checked++;
    }
    closedir(d);
    CHECK(n_checked == 15);
}

/* reverse.rasp, node by node. */
static void test_reverse_structure(void) {
    RaspProgram p;
    if (!parse("vocab {\"a\", \"b\"}\nmax_seq_len 5\n"
               "all_true_selector = Select(tokens, tokens, TRUE)\n"
               "length = SelectorWidth(all_true_selector)\n"
               "opp_idx = length - indices\n"
               "opp_idx_m1 = opp_idx - 1\n"
               "reverse_selector = Select(indices, opp_idx_m1, EQ)\n"
               "reverse = Aggregate(reverse_selector, tokens)\n",
               &p)) {
        CHECK(0);
        return;
    }
    CHECK(p.n_exprs == 8); /* tokens, indices + 6 */
    CHECK(p.exprs[0].kind == EXPR_TOKENS && p.exprs[1].kind == EXPR_INDICES);
    CHECK_STR(p.exprs[0].label, "tokens");
    int sel = find(&p, "all_true_selector"), len = find(&p, "length"), opp = find(&p, "opp_idx"),
        m1 = find(&p, "opp_idx_m1"), rs = find(&p, "reverse_selector"), rev = find(&p, "reverse");
    CHECK(sel >= 0 && len >= 0 && opp >= 0 && m1 >= 0 && rs >= 0 && rev >= 0);
    if (rev < 0 || rs < 0 || m1 < 0 || opp < 0 || len < 0 || sel < 0) return;
    CHECK(p.output == rev);
    CHECK(p.exprs[sel].kind == EXPR_SELECT && p.exprs[sel].pred == PRED_TRUE);
    CHECK(p.exprs[sel].child[0] == 0 && p.exprs[sel].child[1] == 0);
    CHECK(p.exprs[len].kind == EXPR_SELWIDTH && p.exprs[len].child[0] == sel);
    CHECK(p.exprs[opp].kind == EXPR_SEQMAP && p.exprs[opp].child[0] == len &&
          p.exprs[opp].child[1] == 1);
    CHECK(same(call2(&p.exprs[opp], val_int(5), val_int(2)), val_int(3)));
    CHECK(p.exprs[m1].kind == EXPR_MAP && p.exprs[m1].child[0] == opp);
    CHECK(same(call1(&p.exprs[m1], val_int(3)), val_int(2)));
    CHECK(p.exprs[rs].kind == EXPR_SELECT && p.exprs[rs].pred == PRED_EQ &&
          p.exprs[rs].child[0] == 1 && p.exprs[rs].child[1] == m1);
    CHECK(p.exprs[rev].kind == EXPR_AGGREGATE && p.exprs[rev].child[0] == rs &&
          p.exprs[rev].child[1] == 0);
    CHECK(p.exprs[rev].default_value.kind == VAL_NONE);
    for (int i = 0; i < p.n_exprs; i++) CHECK(p.exprs[i].enc == ENC_CATEGORICAL);
    CHECK(p.exprs[rev].pos.line == 8 && p.exprs[rev].pos.col == 11);
    CHECK(p.source != NULL && p.filename != NULL && strcmp(p.filename, "t.rasp") == 0);
    rasp_program_free(&p);
}

static void test_frac_prevs_structure(void) {
    RaspProgram p;
    if (!parse("bools = numerical(tokens == \"l\")\n"
               "prevs = Select(indices, indices, LEQ)\n"
               "frac_prevs = numerical(Aggregate(prevs, bools, default=0))\n",
               &p)) {
        CHECK(0);
        return;
    }
    CHECK(p.n_exprs == 5);
    int b = find(&p, "bools"), f = find(&p, "frac_prevs");
    CHECK(b >= 0 && f >= 0 && p.output == f);
    if (b < 0 || f < 0) return;
    CHECK(p.exprs[b].kind == EXPR_MAP && p.exprs[b].enc == ENC_NUMERICAL && p.exprs[b].user_named);
    CHECK(p.exprs[p.exprs[b].child[0]].kind == EXPR_TOKENS);
    CHECK(same(call1(&p.exprs[b], val_str("l")), val_bool(true)));
    CHECK(same(call1(&p.exprs[b], val_str("o")), val_bool(false)));
    CHECK(p.exprs[f].enc == ENC_NUMERICAL && same(p.exprs[f].default_value, val_int(0)));
    CHECK(p.exprs[p.exprs[f].child[1]].enc == ENC_NUMERICAL);
    CHECK(!p.has_vocab && p.max_seq_len == 0 && !p.causal && p.mlp_exactness == 0);
    rasp_program_free(&p);
}

static void test_directives(void) {
    RaspProgram p;
    if (!parse(
            "# header\n\nvocab {1, 2.5, \"x\", True, 1.0, -3}\nmax_seq_len 7\ncausal\nmlp_exactness 42\n"
            "a = tokens + 1  # trailing comment\nb = a * 2\noutput a\n",
            &p)) {
        CHECK(0);
        return;
    }
    /* {1, 2.5, "x", True, 1.0, -3}: True and 1.0 equal 1, so Python's set keeps 4 values */
    CHECK(p.has_vocab && p.n_vocab == 4);
    if (p.n_vocab == 4) {
        CHECK(same(p.vocab[0], val_int(1)));
        CHECK(same(p.vocab[1], val_float(2.5)));
        CHECK(same(p.vocab[2], val_str("x")));
        CHECK(same(p.vocab[3], val_int(-3)));
    }
    CHECK(p.max_seq_len == 7 && p.causal && p.mlp_exactness == 42);
    CHECK_STR(label_of(&p, p.output), "a");
    CHECK(p.n_exprs == 2); /* b is not reachable from the output */
    rasp_program_free(&p);

    /* a call may span lines */
    CHECK(parse("x = Map(\n  lambda v: v,\n  tokens,\n  simplify=False,\n)\n", &p));
    CHECK(p.n_exprs == 2 && p.exprs[1].no_simplify);
    rasp_program_free(&p);
}

/* ---- sugar --------------------------------------------------------------------------- */

typedef struct SugarCase {
    const char *expr; /* right-hand side, over tokens (t) and indices */
    ExprKind kind;
    Value x, y; /* arguments */
    Value want;
} SugarCase;

static void test_sugar(void) {
    const SugarCase cases[] = {
        {"tokens + 1", EXPR_MAP, {VAL_INT, {.i = 2}}, {0}, {VAL_INT, {.i = 3}}},
        {"1 + tokens", EXPR_MAP, {VAL_INT, {.i = 2}}, {0}, {VAL_INT, {.i = 3}}},
        {"tokens - 1", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = 4}}},
        {"1 - tokens", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = -4}}},
        {"tokens * 3", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = 15}}},
        {"-1 * tokens", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = -5}}},
        {"tokens / 2", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_FLOAT, {.f = 2.5}}},
        {"10 / tokens", EXPR_MAP, {VAL_INT, {.i = 4}}, {0}, {VAL_FLOAT, {.f = 2.5}}},
        {"tokens == 2", EXPR_MAP, {VAL_INT, {.i = 2}}, {0}, {VAL_BOOL, {.b = true}}},
        {"tokens != 2", EXPR_MAP, {VAL_INT, {.i = 2}}, {0}, {VAL_BOOL, {.b = false}}},
        {"tokens < 2", EXPR_MAP, {VAL_INT, {.i = 1}}, {0}, {VAL_BOOL, {.b = true}}},
        {"tokens <= 2", EXPR_MAP, {VAL_INT, {.i = 3}}, {0}, {VAL_BOOL, {.b = false}}},
        {"tokens > 2", EXPR_MAP, {VAL_INT, {.i = 3}}, {0}, {VAL_BOOL, {.b = true}}},
        {"tokens >= 2", EXPR_MAP, {VAL_INT, {.i = 1}}, {0}, {VAL_BOOL, {.b = false}}},
        {"2 < tokens", EXPR_MAP, {VAL_INT, {.i = 3}}, {0}, {VAL_BOOL, {.b = true}}}, /* x > 2 */
        {"2 >= tokens", EXPR_MAP, {VAL_INT, {.i = 3}}, {0}, {VAL_BOOL, {.b = false}}},
        {"\"a\" == tokens", EXPR_MAP, {VAL_STR, {.s = NULL}}, {0}, {VAL_BOOL, {.b = true}}},
        {"tokens & 0", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = 0}}}, /* x and 0 */
        {"7 & tokens", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = 5}}}, /* 7 and x */
        {"tokens | 7", EXPR_MAP, {VAL_INT, {.i = 0}}, {0}, {VAL_INT, {.i = 7}}}, /* x or 7 */
        {"7 | tokens", EXPR_MAP, {VAL_INT, {.i = 5}}, {0}, {VAL_INT, {.i = 5}}}, /* Tracr: x or 7 */
        {"~tokens", EXPR_MAP, {VAL_INT, {.i = 0}}, {0}, {VAL_BOOL, {.b = true}}},
        {"tokens + indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = 5}}},
        {"tokens - indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = -1}}},
        {"tokens * indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = 6}}},
        {"tokens / indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = 2}},
         {VAL_FLOAT, {.f = 1.5}}},
        {"tokens < indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_BOOL, {.b = true}}},
        {"tokens == indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_BOOL, {.b = false}}},
        {"tokens & indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = 3}}},
        {"tokens | indices",
         EXPR_SEQMAP,
         {VAL_INT, {.i = 2}},
         {VAL_INT, {.i = 3}},
         {VAL_INT, {.i = 2}}},
        {"tokens + 1 + 2", EXPR_MAP, {VAL_INT, {.i = 1}}, {0}, {VAL_INT, {.i = 4}}}, /* fused */
        {"tokens + (1 + 2) * 2", EXPR_MAP, {VAL_INT, {.i = 1}}, {0}, {VAL_INT, {.i = 7}}},
        {"tokens * -2 ** 2", EXPR_MAP, {VAL_INT, {.i = 1}}, {0}, {VAL_INT, {.i = -4}}},
        {"(tokens == 1) + (tokens == 1)",
         EXPR_SEQMAP,
         {VAL_BOOL, {.b = true}},
         {VAL_BOOL, {.b = true}},
         {VAL_INT, {.i = 2}}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const SugarCase *c = &cases[i];
        char src[256];
        snprintf(src, sizeof src, "r = %s\n", c->expr);
        RaspProgram p;
        if (!parse(src, &p)) {
            CHECK_MSG(0, "%s", c->expr);
            continue;
        }
        const RaspExpr *e = &p.exprs[p.output];
        CHECK_MSG(e->kind == c->kind, "%s: kind %d", c->expr, e->kind);
        CHECK_MSG(e->enc == ENC_CATEGORICAL, "%s", c->expr);
        Value x = c->x.kind == VAL_STR ? val_str("a") : c->x;
        Value got = c->kind == EXPR_MAP ? call1(e, x) : call2(e, x, c->y);
        char buf[64];
        val_repr_fmt(got, buf, sizeof buf);
        CHECK_MSG(same(got, c->want), "%s gives %s", c->expr, buf);
        /* Maps apply to tokens, SequenceMaps to (tokens, indices) or the two Maps */
        if (c->kind == EXPR_MAP)
            CHECK_MSG(p.exprs[e->child[0]].kind == EXPR_TOKENS, "%s child", c->expr);
        rasp_program_free(&p);
    }
}

/* ---- Map fusion and copies ------------------------------------------------------------ */

static void test_map_fusion(void) {
    RaspProgram p;
    CHECK(parse("a = Map(lambda x: x + 1, tokens)\nb = Map(lambda y: y * 2, a)\n", &p));
    CHECK(p.n_exprs == 2); /* tokens and the fused b */
    int b = find(&p, "b");
    CHECK(b >= 0 && find(&p, "a") < 0);
    if (b >= 0) {
        CHECK(p.exprs[b].kind == EXPR_MAP && p.exprs[p.exprs[b].child[0]].kind == EXPR_TOKENS);
        CHECK(same(call1(&p.exprs[b], val_int(3)), val_int(8)));
    }
    rasp_program_free(&p);

    /* simplify=False on the outer Map keeps both nodes */
    CHECK(parse("a = Map(lambda x: x + 1, tokens)\nb = Map(lambda y: y * 2, a, simplify=False)\n",
                &p));
    CHECK(p.n_exprs == 3);
    b = find(&p, "b");
    int a = find(&p, "a");
    CHECK(a >= 0 && b >= 0 && p.exprs[b].child[0] == a && p.exprs[b].no_simplify);
    if (b >= 0) CHECK(same(call1(&p.exprs[b], val_int(3)), val_int(6)));
    rasp_program_free(&p);

    /* the flag of the inner Map does not stop the outer one from fusing */
    CHECK(parse("a = Map(lambda x: x + 1, tokens, simplify=False)\nb = Map(lambda y: y * 2, a)\n",
                &p));
    CHECK(p.n_exprs == 2);
    rasp_program_free(&p);

    /* the inner Map's numerical encoding disappears; only the outer annotation counts */
    CHECK(parse("a = numerical(Map(lambda x: x - 1, numerical(Map(lambda x: x + 1, tokens))))\n",
                &p));
    CHECK(p.n_exprs == 2);
    CHECK(p.exprs[p.output].kind == EXPR_MAP && p.exprs[p.output].enc == ENC_NUMERICAL);
    CHECK(same(call1(&p.exprs[p.output], val_int(4)), val_int(4)));
    rasp_program_free(&p);
    CHECK(parse("a = Map(lambda x: x - 1, numerical(Map(lambda x: x + 1, tokens)))\n", &p));
    CHECK(p.n_exprs == 2 && p.exprs[p.output].enc == ENC_CATEGORICAL);
    rasp_program_free(&p);

    /* shuffle_dyck: the identity Map fuses with `balance < 0` */
    CHECK(parse(
        "b = numerical(LinearSequenceMap(numerical(tokens + 0), numerical(indices + 0), 1, -1))\n"
        "neg = b < 0\nany = numerical(Map(lambda x: x, neg))\n",
        &p));
    int any = find(&p, "any"), bb = find(&p, "b");
    CHECK(any >= 0 && bb >= 0 && find(&p, "neg") < 0);
    if (any >= 0) {
        CHECK(p.exprs[any].child[0] == bb && p.exprs[any].enc == ENC_NUMERICAL);
        CHECK(same(call1(&p.exprs[any], val_int(-1)), val_bool(true)));
    }
    if (bb >= 0) {
        CHECK(p.exprs[bb].kind == EXPR_LINSEQMAP && same(p.exprs[bb].lin_a, val_int(1)) &&
              same(p.exprs[bb].lin_b, val_int(-1)));
        CHECK(same(call2(&p.exprs[bb], val_int(5), val_int(2)), val_int(3)));
    }
    rasp_program_free(&p);
}

static void test_copies(void) {
    RaspProgram p;
    CHECK(parse(
        "a = tokens == 1\nb = numerical(a)\nc = a\nd = SequenceMap(lambda x, y: x + y, b, c)\n"
        "e = SequenceMap(lambda x, y: x - y, d, a)\n",
        &p));
    int a = find(&p, "a"), b = find(&p, "b"), c = find(&p, "c");
    CHECK(a >= 0 && b >= 0 && c >= 0 && a != b && b != c && a != c);
    if (a >= 0 && b >= 0 && c >= 0) {
        CHECK(p.exprs[a].enc == ENC_CATEGORICAL && p.exprs[b].enc == ENC_NUMERICAL &&
              p.exprs[c].enc == ENC_CATEGORICAL);
        CHECK(p.exprs[a].child[0] == p.exprs[b].child[0] &&
              p.exprs[b].child[0] == p.exprs[c].child[0]);
        CHECK(p.exprs[b].fn == p.exprs[a].fn);
    }
    CHECK(p.n_exprs == 6);
    rasp_program_free(&p);

    /* categorical() of a numerical SOp is a categorical copy */
    CHECK(parse("a = numerical(tokens + 1)\nb = categorical(a)\nc = a + b\n", &p));
    a = find(&p, "a");
    b = find(&p, "b");
    CHECK(a >= 0 && b >= 0 && p.exprs[a].enc == ENC_NUMERICAL && p.exprs[b].enc == ENC_CATEGORICAL);
    rasp_program_free(&p);

    /* tokens/indices stay the one primitive node; a numerical annotation sticks to it */
    CHECK(parse("t = tokens\nn = numerical(indices)\nx = SequenceMap(lambda a, b: a + b, t, n)\n"
                "y = x + tokens\n",
                &p));
    CHECK(p.n_exprs == 4);
    CHECK(p.exprs[0].kind == EXPR_TOKENS && p.exprs[0].enc == ENC_CATEGORICAL);
    CHECK(p.exprs[1].kind == EXPR_INDICES && p.exprs[1].enc == ENC_NUMERICAL);
    CHECK_STR(p.exprs[1].label, "indices");
    rasp_program_free(&p);
}

/* ---- selectors ----------------------------------------------------------------------- */

/* The selection matrix of the output's selector, through SelectorWidth and the evaluator. */
static bool widths(const char *prog, const Value *xs, int n, int *w) {
    RaspProgram p;
    if (!parse(prog, &p)) return false;
    Value out[8];
    bool ok = rasp_interp(&p, xs, n, false, out, g_err, sizeof g_err) == 0;
    for (int i = 0; ok && i < n; i++) {
        ok = out[i].kind == VAL_INT;
        w[i] = (int)out[i].u.i;
    }
    rasp_program_free(&p);
    return ok;
}

static bool cmp_pred(int pred, int64_t k, int64_t q) {
    switch (pred) {
    case 0: return k == q;
    case 1: return k < q;
    case 2: return k <= q;
    case 3: return k > q;
    case 4: return k >= q;
    case 5: return k != q;
    case 6: return true;
    default: return false;
    }
}

/* Tracr's rasp_test: & and | of two Selects agree with the unsimplified SelectorAnd/Or for
 * every choice of keys and queries among tokens, indices and Full(1) and every comparison,
 * on the input [0, 1, 2, 3]. */
static void test_selector_simplification_exhaustive(void) {
    static const char *const sops[] = {"tokens", "indices", "Full(1)"};
    static const char *const preds[] = {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"};
    Value xs[4] = {val_int(2), val_int(0), val_int(3), val_int(1)};
    int mismatches = 0, simplified = 0, total = 0;
    for (int k1 = 0; k1 < 3; k1++)
        for (int q1 = 0; q1 < 3; q1++)
            for (int p1 = 0; p1 < 8; p1++)
                for (int k2 = 0; k2 < 3; k2++)
                    for (int q2 = 0; q2 < 3; q2++)
                        for (int p2 = 0; p2 < 8; p2++)
                            for (int op = 0; op < 2; op++) {
                                char src[256];
                                snprintf(
                                    src, sizeof src,
                                    "s = Select(%s, %s, %s) %s Select(%s, %s, %s)\nw = SelectorWidth(s)\n",
                                    sops[k1], sops[q1], preds[p1], op ? "|" : "&", sops[k2],
                                    sops[q2], preds[p2]);
                                int w[4];
                                total++;
                                if (!widths(src, xs, 4, w)) {
                                    mismatches++;
                                    continue;
                                }
                                for (int q = 0; q < 4; q++) {
                                    int want = 0;
                                    for (int k = 0; k < 4; k++) {
                                        int64_t vals[3][2] = {
                                            {xs[k].u.i, xs[q].u.i}, {k, q}, {1, 1}};
                                        bool a = cmp_pred(p1, vals[k1][0], vals[q1][1]);
                                        bool b = cmp_pred(p2, vals[k2][0], vals[q2][1]);
                                        want += op ? (a || b) : (a && b);
                                    }
                                    if (w[q] != want) mismatches++;
                                }
                                RaspProgram p;
                                if (parse(src, &p)) {
                                    /* with equal or Full keys and queries the result is one Select */
                                    bool keys_ok = k1 == k2 || k1 == 2 || k2 == 2;
                                    bool q_ok = q1 == q2 || q1 == 2 || q2 == 2;
                                    ExprKind kind = p.exprs[p.exprs[p.output].child[0]].kind;
                                    if (kind == EXPR_SELECT) simplified++;
                                    if (kind != (keys_ok && q_ok ? EXPR_SELECT
                                                 : op            ? EXPR_SEL_OR
                                                                 : EXPR_SEL_AND))
                                        mismatches++;
                                    rasp_program_free(&p);
                                }
                            }
    CHECK_MSG(mismatches == 0, "%d mismatches", mismatches);
    CHECK(total == 3 * 3 * 8 * 3 * 3 * 8 * 2);
    CHECK(simplified == 7 * 7 * 64 * 2); /* 7 of 9 key pairs (and of query pairs) simplify */
}

static void test_selector_simplification_cases(void) {
    RaspProgram p;
    /* same keys and queries: one Select with a combined predicate */
    CHECK(parse("a = tokens + 0\nb = indices + 0\ns1 = Select(a, b, EQ)\ns2 = Select(a, b, GT)\n"
                "s = s1 | s2\nw = SelectorWidth(s)\n",
                &p));
    int s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SELECT && p.exprs[s].pred == PRED_LAMBDA);
    if (s >= 0) {
        CHECK(p.exprs[s].child[0] == find(&p, "a") && p.exprs[s].child[1] == find(&p, "b"));
        CHECK(val_truthy(call2(&p.exprs[s], val_int(3), val_int(3))));
        CHECK(val_truthy(call2(&p.exprs[s], val_int(4), val_int(3))));
        CHECK(!val_truthy(call2(&p.exprs[s], val_int(2), val_int(3))));
    }
    CHECK(find(&p, "s1") < 0 && find(&p, "s2") < 0);
    rasp_program_free(&p);

    /* a copy is a different object: no simplification */
    CHECK(parse(
        "a = tokens + 0\nc = numerical(a)\ns = Select(a, indices, EQ) & Select(c, indices, EQ)\n"
        "w = SelectorWidth(s)\n",
        &p));
    s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SEL_AND);
    rasp_program_free(&p);

    /* Full keys: the fill value is baked into the first predicate */
    CHECK(parse(
        "s = Select(Full(1), indices, EQ) & Select(tokens, indices, LT)\nw = SelectorWidth(s)\n",
        &p));
    s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SELECT);
    if (s >= 0) {
        CHECK(p.exprs[p.exprs[s].child[0]].kind == EXPR_TOKENS &&
              p.exprs[p.exprs[s].child[1]].kind == EXPR_INDICES);
        CHECK(val_truthy(call2(&p.exprs[s], val_int(0), val_int(1))));  /* 1 == 1 and 0 < 1 */
        CHECK(!val_truthy(call2(&p.exprs[s], val_int(0), val_int(2)))); /* 1 != 2 */
        CHECK(!val_truthy(call2(&p.exprs[s], val_int(5), val_int(1)))); /* 5 < 1 fails */
    }
    rasp_program_free(&p);

    /* Full queries */
    CHECK(parse("s = Select(tokens, indices, NEQ) | Select(tokens, Full(2), lambda k, q: k == q)\n"
                "w = SelectorWidth(s)\n",
                &p));
    s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SELECT);
    if (s >= 0) {
        CHECK(p.exprs[p.exprs[s].child[1]].kind == EXPR_INDICES);
        CHECK(val_truthy(call2(&p.exprs[s], val_int(2), val_int(2))));  /* k == 2 */
        CHECK(!val_truthy(call2(&p.exprs[s], val_int(3), val_int(3)))); /* 3 == 3, 3 != 2 */
        CHECK(val_truthy(call2(&p.exprs[s], val_int(3), val_int(4))));
        CHECK_STR(p.exprs[s].fn->params[0], "k");
    }
    rasp_program_free(&p);

    /* ~Select is a Select with the negated predicate; ~ of anything else a SelectorNot */
    CHECK(parse("s = ~Select(tokens, indices, LT)\nw = SelectorWidth(s)\n", &p));
    s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SELECT);
    if (s >= 0) {
        CHECK(!val_truthy(call2(&p.exprs[s], val_int(1), val_int(2))));
        CHECK(val_truthy(call2(&p.exprs[s], val_int(2), val_int(2))));
    }
    rasp_program_free(&p);
    CHECK(parse("a = Select(tokens, indices, LT)\nb = Select(indices, tokens, LT)\ns = ~(a & b)\n"
                "w = SelectorWidth(s)\n",
                &p));
    s = find(&p, "s");
    CHECK(s >= 0 && p.exprs[s].kind == EXPR_SEL_NOT);
    if (s >= 0) CHECK(p.exprs[p.exprs[s].child[0]].kind == EXPR_SEL_AND);
    rasp_program_free(&p);

    /* the explicit calls never simplify */
    CHECK(parse("a = Select(tokens, tokens, LT)\ns = SelectorAnd(a, a)\nn = SelectorNot(a)\n"
                "o = SelectorOr(s, n)\nw = SelectorWidth(o)\n",
                &p));
    CHECK(p.exprs[find(&p, "s")].kind == EXPR_SEL_AND &&
          p.exprs[find(&p, "n")].kind == EXPR_SEL_NOT &&
          p.exprs[find(&p, "o")].kind == EXPR_SEL_OR);
    rasp_program_free(&p);

    /* has_prev (Tracr's rasp_test): tokens seen before, via SelectorAnd of two Selects */
    int w[4];
    Value xs[4] = {val_str("a"), val_str("b"), val_str("a"), val_str("a")};
    CHECK(widths("prev = Select(indices, indices, LT)\nsame = Select(tokens, tokens, EQ)\n"
                 "w = SelectorWidth(prev & same)\n",
                 xs, 4, w));
    CHECK(w[0] == 0 && w[1] == 0 && w[2] == 1 && w[3] == 2);
}

static void test_lambda_bodies(void) {
    static const struct {
        const char *body;
        int64_t x;
        const char *want; /* repr */
    } cases[] = {
        {"-2 ** 2", 0, "-4"},
        {"(-2) ** 2", 0, "4"},
        {"2 ** 3 ** 2", 0, "512"},
        {"2 ** -1", 0, "0.5"},
        {"-x ** 2", 3, "-9"},
        {"x - 1 - 1", 5, "3"},
        {"x // 2 * 2 + x % 2", 7, "7"},
        {"1 < x < 3", 2, "True"},
        {"1 < x < 3", 3, "False"},
        {"not x == 2 or x > 10", 2, "False"},
        {"x and 5 or 7", 0, "7"},
        {"'big' if x > 2 else 'small' if x > 0 else 'zero'", 1, "'small'"},
        {"(x, x + 1)[1]", 4, "5"},
        {"(x,)", 4, "(4,)"},
        {"()", 4, "()"},
        {"abs(-x) + min(x, 2) + max(1, 2, x)", 5, "12"},
        {"int(x / 2) + float(x) + round(2.5) + bool(x)", 3, "7.0"},
        {"round(x / 3, 2)", 2, "0.67"},
        {"None if x else True", 0, "True"},
        {"x + +1 - -1", 0, "2"},
        {"1e999 > x", 0, "True"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char src[256];
        snprintf(src, sizeof src, "m = Map(lambda x: %s, tokens)\n", cases[i].body);
        RaspProgram p;
        if (!parse(src, &p)) {
            CHECK_MSG(0, "%s", cases[i].body);
            continue;
        }
        char buf[64];
        val_repr_fmt(call1(&p.exprs[p.output], val_int(cases[i].x)), buf, sizeof buf);
        CHECK_MSG(strcmp(buf, cases[i].want) == 0, "%s on %lld gives %s, expected %s",
                  cases[i].body, (long long)cases[i].x, buf, cases[i].want);
        rasp_program_free(&p);
    }
}

static void test_parse_token(void) {
    RaspProgram p;
    CHECK(parse("vocab {1, 2, 3}\nm = tokens + 1\n", &p));
    CHECK(same(rasp_parse_token(&p, "3"), val_int(3)));
    CHECK(same(rasp_parse_token(&p, "-7"), val_int(-7)));
    CHECK(same(rasp_parse_token(&p, "2.5"), val_float(2.5)));
    CHECK(same(rasp_parse_token(&p, "x"), val_str("x")));
    rasp_program_free(&p);
    CHECK(parse("vocab {\"1\", \"a\"}\nm = tokens + 1\n", &p));
    CHECK(same(rasp_parse_token(&p, "1"), val_str("1")));
    rasp_program_free(&p);
    CHECK(parse("vocab {1.5, 2}\nm = tokens + 1\n", &p));
    CHECK(same(rasp_parse_token(&p, "1.5"), val_float(1.5)));
    CHECK(same(rasp_parse_token(&p, "2"), val_int(2)));
    rasp_program_free(&p);
    CHECK(parse("vocab {True, False}\nm = ~tokens\n", &p));
    CHECK(same(rasp_parse_token(&p, "True"), val_bool(true)));
    CHECK(same(rasp_parse_token(&p, "False"), val_bool(false)));
    rasp_program_free(&p);
    CHECK(parse("vocab {1, \"a\", True}\nm = tokens == 1\n", &p));
    CHECK(same(rasp_parse_token(&p, "1"), val_int(1)));
    CHECK(same(rasp_parse_token(&p, "a"), val_str("a")));
    CHECK(same(rasp_parse_token(&p, "True"), val_bool(true)));
    rasp_program_free(&p);
    CHECK(parse("m = tokens == 1\n", &p));
    CHECK(same(rasp_parse_token(&p, "4"), val_int(4)));
    CHECK(same(rasp_parse_token(&p, "b"), val_str("b")));
    rasp_program_free(&p);
}

int main(void) {
    RUN(test_fixtures);
    RUN(test_reverse_structure);
    RUN(test_frac_prevs_structure);
    RUN(test_directives);
    RUN(test_sugar);
    RUN(test_map_fusion);
    RUN(test_copies);
    RUN(test_selector_simplification_exhaustive);
    RUN(test_selector_simplification_cases);
    RUN(test_lambda_bodies);
    RUN(test_parse_token);
    TEST_END();
}
