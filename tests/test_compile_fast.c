/* The compiler's fast paths against plain reference implementations: the hashed space index
 * against space_find, the union of sorted pieces and the ranked sort against the original
 * step-for-step merge sort (mixed-type values included, where the order is not transitive),
 * shortest float repr against trying every precision, batched labels against dir_str, the
 * sparse BOS pass (through the warnings it drives) against a dense pass over the model, and
 * compile errors under deferred validation against the full validation report. */
#include <math.h>

#include "compiler/basis.h"
#include "compiler/compile_internal.h"
#include "compiler/model.h"
#include "rasp/rasp.h"
#include "test.h"

static unsigned long long S = 0x2545f4914f6cdd1dULL;
static unsigned rnd(unsigned n) {
    S ^= S << 13;
    S ^= S >> 7;
    S ^= S << 17;
    return (unsigned)(S % n);
}

/* Names: equal strings at different addresses (content decides everywhere). */
static char NAMES[6][2][8];
static const char *rand_name(void) {
    int k = (int)rnd(6);
    return NAMES[k][rnd(2)];
}

/* Values with cross-kind equalities (1 == 1.0 == True), strs, tuples, None and NaN: every
 * kind of comparison the order has, including the string fallback. */
static Value rand_value(int mix) {
    int k = (int)rnd(12);
    switch (mix ? rnd(8) : rnd(3)) {
    case 0: return val_int(k - 4);
    case 1: return val_float((k - 4) / 2.0);
    case 2: return val_bool(k & 1);
    case 3: {
        char b[8];
        snprintf(b, sizeof b, "%c%d", 'a' + k % 3, k % 4);
        return val_str(b);
    }
    case 4: {
        Value it[2] = {val_int(k % 3), val_int(k % 2)};
        return val_tuple(it, 1 + k % 2);
    }
    case 5: {
        Value it[2] = {val_str(k & 1 ? "x" : "y"), val_int(k % 3)};
        return val_tuple(it, 2);
    }
    case 6: return k == 0 ? val_float(NAN) : val_int(10 * k);
    default: return val_none();
    }
}

static Dir rand_dir(int mix) { return (Dir){rand_name(), rand_value(mix)}; }

/* The original dir_cmp and the original stable merge sort with de-duplication. */
static int ref_cmp(const Dir *a, const Dir *b) {
    int c = strcmp(a->name, b->name);
    if (c) return c < 0 ? -1 : 1;
    bool an = a->value.kind == VAL_NONE, bn = b->value.kind == VAL_NONE;
    if (an || bn) return an && bn ? 0 : (an ? -1 : 1);
    return val_dir_cmp(a->name, a->value, b->value);
}

static bool ref_eq(const Dir *a, const Dir *b) {
    return strcmp(a->name, b->name) == 0 && val_eq(a->value, b->value);
}

static void ref_merge_sort(Dir *d, int n, Dir *tmp) {
    if (n < 2) return;
    if (n <= 8) {
        for (int i = 1; i < n; i++) {
            Dir x = d[i];
            int j = i - 1;
            while (j >= 0 && ref_cmp(&d[j], &x) > 0) {
                d[j + 1] = d[j];
                j--;
            }
            d[j + 1] = x;
        }
        return;
    }
    int h = n / 2;
    ref_merge_sort(d, h, tmp);
    ref_merge_sort(d + h, n - h, tmp);
    if (ref_cmp(&d[h - 1], &d[h]) <= 0) return;
    memcpy(tmp, d, sizeof(Dir) * (size_t)n);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) d[k++] = ref_cmp(&tmp[j], &tmp[i]) < 0 ? tmp[j++] : tmp[i++];
    while (i < h) d[k++] = tmp[i++];
    while (j < n) d[k++] = tmp[j++];
}

static int ref_sort_unique(Dir *d, int n) {
    Dir *tmp = malloc(sizeof(Dir) * (size_t)(n + 1));
    ref_merge_sort(d, n, tmp);
    free(tmp);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || !ref_eq(&d[m - 1], &d[i])) d[m++] = d[i];
    return m;
}

/* The same directions: the same name address and the same value object (kind and bits), so
 * that a different representative of equal values (1 vs 1.0) counts as a difference. */
static bool same_dir(const Dir *a, const Dir *b) {
    if (a->name != b->name || a->value.kind != b->value.kind) return false;
    switch (a->value.kind) {
    case VAL_NONE: return true;
    case VAL_BOOL: return a->value.u.b == b->value.u.b;
    case VAL_INT: return a->value.u.i == b->value.u.i;
    case VAL_FLOAT: return memcmp(&a->value.u.f, &b->value.u.f, sizeof(double)) == 0;
    case VAL_STR: return a->value.u.s == b->value.u.s;
    case VAL_TUPLE: return a->value.u.t == b->value.u.t;
    }
    return false;
}

static bool same_space(const Dir *a, int na, const Dir *b, int nb) {
    if (na != nb) return false;
    for (int i = 0; i < na; i++)
        if (!same_dir(&a[i], &b[i])) return false;
    return true;
}

static void init_names(void) {
    static const char *base[6] = {"tokens", "indices", "one", "x", "x_1", "_hidden_x_"};
    for (int k = 0; k < 6; k++)
        for (int c = 0; c < 2; c++) snprintf(NAMES[k][c], sizeof NAMES[k][c], "%s", base[k]);
}

/* space_make (small and ranked sizes) == the original sort. */
static void test_space_make_matches_reference(void) {
    Arena a;
    arena_init(&a);
    for (int round = 0; round < 3000; round++) {
        int n = 1 + (int)rnd(round % 3 == 0 ? 80 : 20), mix = round % 2;
        Dir d[80], ref[80];
        for (int i = 0; i < n; i++) d[i] = ref[i] = rand_dir(mix);
        Space s = space_make(&a, d, n);
        int m = ref_sort_unique(ref, n);
        CHECK_MSG(same_space(s.d, s.n, ref, m), "round %d (n %d, mix %d)", round, n, mix);
        if (t_cur_failed) break;
    }
    arena_free(&a);
}

/* space_union of sorted pieces == the original sort of their concatenation. */
static void test_space_union_matches_reference(void) {
    Arena a;
    arena_init(&a);
    for (int round = 0; round < 3000; round++) {
        int mix = round % 3 == 0, np = 1 + (int)rnd(8), total = 0;
        Space pieces[8];
        Dir all[8 * 16];
        for (int p = 0; p < np; p++) {
            if (p > 0 && rnd(4) == 0) { /* the same array again, or a prefix of it */
                pieces[p] = pieces[rnd((unsigned)p)];
                if (pieces[p].n > 1 && rnd(2)) pieces[p].n--;
            } else if (p > 0 && rnd(4) == 0) {
                pieces[p] = space_join(&a, &pieces[rnd((unsigned)p)], &pieces[rnd((unsigned)p)]);
            } else {
                Dir d[16];
                int n = (int)rnd(16);
                const char *nm = rand_name();
                for (int i = 0; i < n; i++)
                    d[i] = rnd(3) ? (Dir){nm, rand_value(mix)} : rand_dir(mix);
                pieces[p] = space_make(&a, d, n);
            }
            if (pieces[p].n > 16) pieces[p].n = 16;
            memcpy(all + total, pieces[p].d, sizeof(Dir) * (size_t)pieces[p].n);
            total += pieces[p].n;
        }
        Space u = space_union(&a, pieces, np);
        int m = ref_sort_unique(all, total);
        CHECK_MSG(same_space(u.d, u.n, all, m), "round %d (%d pieces, mix %d)", round, np, mix);
        if (t_cur_failed) break;
    }
    arena_free(&a);
}

/* space_index_find == space_find on random spaces and queries (present, absent, equal by
 * value under another kind or name address). */
static void test_space_index_matches_find(void) {
    Arena a;
    arena_init(&a);
    for (int round = 0; round < 2000; round++) {
        int n = (int)rnd(round % 4 == 0 ? 200 : 24), mix = round % 2;
        Dir d[200];
        for (int i = 0; i < n; i++) d[i] = rand_dir(mix);
        Space s = space_make(&a, d, n);
        if (round % 5 == 0 && s.n > 2) { /* a joined space may hold equal directions */
            Space t = space_make(&a, d, n / 2);
            s = space_join(&a, &s, &t);
        }
        SpaceIndex ix;
        space_index_init(&ix, &a, &s);
        for (int q = 0; q < 60; q++) {
            Dir x = q % 2 && s.n ? s.d[rnd((unsigned)s.n)] : rand_dir(1);
            if (q % 3 == 0) x.name = NAMES[0][0] == x.name ? NAMES[0][1] : x.name;
            CHECK_MSG(space_index_find(&ix, &x) == space_find(&s, &x), "round %d query %d", round,
                      q);
        }
        if (t_cur_failed) break;
    }
    arena_free(&a);
}

/* Python's repr of a double as the shortest digits that read back: every precision tried. */
static void ref_float_digits(double f, char *digits, int *exp10) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    const char *p = tmp + (tmp[0] == '-');
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    *exp10 = atoi(p + 1);
}

static void test_float_repr_shortest(void) {
    for (int i = 0; i < 200000; i++) {
        double f;
        unsigned long long bits = ((unsigned long long)rnd(1u << 31) << 33) ^
                                  ((unsigned long long)rnd(1u << 31) << 2) ^ rnd(4);
        switch (i % 5) {
        case 0: memcpy(&f, &bits, sizeof f); break;                          /* any double */
        case 1: f = (double)rnd(2000) / (double)(1 + rnd(97)); break;        /* k/l */
        case 2: f = ldexp((double)(bits & 0xfffff), -(int)rnd(1100)); break; /* subnormals too */
        case 3: f = (double)rnd(100000) / 1000.0; break;
        default: f = nextafter((double)rnd(1000) / 7.0, rnd(2) ? 1e300 : -1e300); break;
        }
        if (!isfinite(f) || f == 0) continue;
        char got[64], want_digits[24];
        int want_exp;
        val_float_repr(f, got, sizeof got);
        ref_float_digits(f, want_digits, &want_exp);
        CHECK_MSG(strtod(got, NULL) == f, "%s does not read back as %.17g", got, f);
        /* the digits of got, without sign, point, leading and trailing zeros */
        char gd[40];
        int k = 0;
        for (const char *p = got; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9' && (k || *p != '0')) gd[k++] = *p;
        while (k > 1 && gd[k - 1] == '0') k--;
        gd[k] = 0;
        CHECK_MSG(strcmp(gd, want_digits) == 0, "%.17g: repr %s, shortest digits %s", f, got,
                  want_digits);
        if (t_cur_failed) break;
    }
}

static void test_labels_match_dir_str(void) {
    Arena a;
    arena_init(&a);
    Dir d[300];
    const char *out[300];
    for (int round = 0; round < 50; round++) {
        int n = (int)rnd(300);
        for (int i = 0; i < n; i++) {
            d[i] = rand_dir(1);
            if (rnd(5) == 0) d[i].value = val_int_pair(rnd(2000), rnd(3)); /* hidden units */
            if (rnd(9) == 0) d[i].value = val_int((long long)rnd(1u << 31) * -4096);
        }
        dir_strs_arena(&a, d, n, out);
        for (int i = 0; i < n; i++) {
            char want[256];
            dir_str(&d[i], want, sizeof want);
            CHECK_STR(out[i], want);
        }
    }
    arena_free(&a);
}

static void test_int_pair_is_the_tuple(void) {
    for (int i = 0; i < 5000; i++) {
        long long x = (long long)rnd(3000) - 100, y = (long long)rnd(4) - 1;
        Value it[2] = {val_int(x), val_int(y)};
        Value t = val_tuple(it, 2), p = val_int_pair(x, y);
        CHECK(p.kind == VAL_TUPLE && p.u.t == t.u.t);
    }
}

/* ---- programs ---------------------------------------------------------------------------- */
static int compile_text(const char *src, const CompileOptions *o, CompiledModel **m, char *err,
                        size_t cap, RaspProgram *p) {
    if (rasp_parse("t.rasp", src, p, err, cap)) return -1;
    return compile_program(p, o, m, err, cap);
}

/* The residual stream at BOS after the whole model, by the dense matrices (x: [D]). */
static void dense_bos(const CompiledModel *m, double *x) {
    int D = m->residual_dim, HK = m->num_heads * m->key_size, M = m->mlp_hidden_size;
    double *z = calloc((size_t)HK + 1, sizeof(double)), *h = calloc((size_t)M + 1, sizeof(double));
    for (int d = 0; d < D; d++) x[d] = m->token_embed[(size_t)m->bos_id * D + d] + m->pos_embed[d];
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        for (int k = 0; k < HK; k++) {
            z[k] = 0;
            for (int d = 0; d < D; d++) z[k] += x[d] * L->v[(size_t)d * HK + k];
        }
        for (int d = 0; d < D; d++)
            for (int k = 0; k < HK; k++) x[d] += z[k] * L->o[(size_t)k * D + d];
        for (int k = 0; k < M; k++) {
            h[k] = 0;
            for (int d = 0; d < D; d++) h[k] += x[d] * L->w1[(size_t)d * M + k];
        }
        for (int d = 0; d < D; d++)
            for (int k = 0; k < M; k++)
                if (h[k] > 0) x[d] += h[k] * L->w2[(size_t)k * D + d];
    }
    free(z);
    free(h);
}

/* Whether a residual row of SOp `label` ("label" or "label:value") is non-zero at BOS. */
static bool label_nonzero(const CompiledModel *m, const double *x, const char *label) {
    size_t n = strlen(label);
    for (int d = 0; d < m->residual_dim; d++) {
        const char *r = m->residual_labels[d];
        if (strncmp(r, label, n) == 0 && (r[n] == 0 || r[n] == ':') && fabs(x[d]) > 1e-6)
            return true;
    }
    return false;
}

static bool has_warning(const CompiledModel *m, const char *a, const char *b) {
    for (int i = 0; i < m->n_warnings; i++)
        if (strstr(m->warnings[i], a) && (!b || strstr(m->warnings[i], b))) return true;
    return false;
}

/* The BOS warnings (keys or averaged SOp not zero at BOS) follow a dense BOS pass. */
static void check_bos_warnings(const char *src) {
    RaspProgram p;
    CompiledModel *m = NULL;
    char err[2048];
    if (compile_text(src, NULL, &m, err, sizeof err, &p) != 0) {
        rasp_program_free(&p);
        return;
    }
    double *x = calloc((size_t)m->residual_dim + 1, sizeof(double));
    dense_bos(m, x);
    for (int i = 0; i < p.n_exprs; i++) {
        const RaspExpr *e = &p.exprs[i];
        if ((e->kind != EXPR_AGGREGATE && e->kind != EXPR_SELWIDTH) || e->child[0] < 0) continue;
        const RaspExpr *sel = &p.exprs[e->child[0]];
        if (sel->kind != EXPR_SELECT) continue;
        if (p.exprs[sel->child[0]].kind == EXPR_TOKENS)
            continue; /* BOS is a token: never flagged */
        const char *keys = p.exprs[sel->child[0]].label;
        char a[300];
        snprintf(a, sizeof a, "%s: its selector's keys (%s) are not zero", e->label, keys);
        CHECK_MSG(has_warning(m, a, NULL) == label_nonzero(m, x, keys), "%s", a);
        if (e->kind == EXPR_AGGREGATE && e->enc == ENC_NUMERICAL && e->child[1] >= 0) {
            const char *y = p.exprs[e->child[1]].label;
            snprintf(a, sizeof a, "%s: the averaged SOp %s is not zero", e->label, y);
            CHECK_MSG(has_warning(m, a, NULL) == label_nonzero(m, x, y), "%s", a);
        }
    }
    free(x);
    compiled_model_free(m);
    rasp_program_free(&p);
}

/* A random program as text: categorical and numerical Maps, SequenceMaps, Selects with
 * Aggregates and SelectorWidths, over the variables defined so far. */
static void random_program(char *buf, size_t cap) {
    static const char *cat_fn[] = {"x + 1", "x - 1", "x % 2", "1 if x > 1 else 0", "x * 2"};
    static const char *num_fn[] = {"1 if x == 1 else 0", "1 if x > 0 else 0", "1 if x < 2 else 0"};
    static const char *disc_fn[] = {"1 if x < 0.5 else 0", "x > 0.3", "1 if x == 0 else 0"};
    static const char *preds[] = {"EQ", "LT", "LEQ", "GT", "TRUE", "NEQ"};
    size_t k = (size_t)snprintf(buf, cap, "vocab {0, 1, 2, 3}\nmax_seq_len %u\n", 3 + rnd(4));
    char cat[16][16] = {"tokens", "indices"}, num[16][16];
    int nc = 2, nn = 0, ops = 2 + (int)rnd(6);
    for (int i = 0; i < ops && k < cap; i++) {
        char v[16];
        snprintf(v, sizeof v, "v%d", i % 100);
        /* mostly the newest variables, so that most operations feed the output */
        const char *a = rnd(4) ? cat[nc - 1] : cat[rnd((unsigned)nc)], *b = cat[rnd((unsigned)nc)];
        const char *y = nn ? (rnd(4) ? num[nn - 1] : num[rnd((unsigned)nn)]) : NULL;
        switch (rnd(8)) {
        case 0:
            k += (size_t)snprintf(buf + k, cap - k, "%s = Map(lambda x: %s, %s)\n", v,
                                  cat_fn[rnd(5)], a);
            strcpy(cat[nc++], v);
            break;
        case 1:
            k += (size_t)snprintf(buf + k, cap - k, "%s = numerical(Map(lambda x: %s, %s))\n", v,
                                  num_fn[rnd(3)], a);
            strcpy(num[nn++], v);
            break;
        case 2: { /* a numerical-input MLP: often not zero at BOS, which the warnings catch */
            if (!nn) break;
            bool to_num = rnd(2);
            k += (size_t)snprintf(buf + k, cap - k, "%s = %s(Map(lambda x: %s, %s))\n", v,
                                  to_num ? "numerical" : "", disc_fn[rnd(3)], y);
            if (to_num) strcpy(num[nn++], v);
            else strcpy(cat[nc++], v), strcpy(cat[nc++], v); /* drawn more often as keys */
            break;
        }
        case 7: /* keys from a numerical-input MLP, which is not zero at BOS */
            if (!nn) break;
            k += (size_t)snprintf(
                buf + k, cap - k,
                "%s_k = Map(lambda x: %s, %s)\ns%d = Select(%s_k, %s, %s)\n%s = SelectorWidth(s%d)\n",
                v, disc_fn[rnd(3)], y, i, v, a, preds[rnd(6)], v, i);
            strcpy(cat[nc++], v);
            break;
        case 3:
            if (a == b) break;
            k += (size_t)snprintf(buf + k, cap - k,
                                  "%s = SequenceMap(lambda x, y: x + y, %s, %s)\n", v, a, b);
            strcpy(cat[nc++], v);
            break;
        case 4:
            if (!nn) break;
            k += (size_t)snprintf(
                buf + k, cap - k,
                "s%d = Select(%s, %s, %s)\n%s = numerical(Aggregate(s%d, %s, default=0))\n", i, a,
                b, preds[rnd(6)], v, i, y);
            strcpy(num[nn++], v);
            break;
        case 5:
            k += (size_t)snprintf(buf + k, cap - k,
                                  "s%d = Select(%s, %s, %s)\n%s = SelectorWidth(s%d)\n", i, a, b,
                                  preds[rnd(6)], v, i);
            strcpy(cat[nc++], v);
            break;
        default:
            k += (size_t)snprintf(buf + k, cap - k,
                                  "s%d = Select(indices, %s, EQ)\n%s = Aggregate(s%d, %s)\n", i, a,
                                  v, i, b);
            strcpy(cat[nc++], v);
            break;
        }
        if (nc >= 14 || nn >= 15) break;
    }
}

static double BOS_X[2][4096];
static int BOS_D[2], BOS_PASS;
static void observe_bos(const double *x, int D) {
    BOS_D[BOS_PASS] = D;
    memcpy(BOS_X[BOS_PASS], x, sizeof(double) * (size_t)(D < 4096 ? D : 4096));
}

/* The BOS residual is the same, bit for bit, and so is every warning, whichever BOS pass
 * (dense, or sparse from the written cells) computed it. */
static void test_bos_passes_agree(void) {
    compile_bos_observer = observe_bos;
    char src[4096];
    int compiled = 0, with_bos_warning = 0;
    for (int t = 0; t < 1500; t++) {
        random_program(src, sizeof src);
        RaspProgram p;
        CompiledModel *m[2] = {NULL, NULL};
        char err[2048];
        BOS_D[0] = BOS_D[1] = -1;
        for (int pass = 0; pass < 2; pass++) {
            BOS_PASS = pass;
            compile_bos_sparse_min_cells = pass ? 0 : INFINITY;
            RaspProgram q;
            if (compile_text(src, NULL, &m[pass], err, sizeof err, &q) != 0) m[pass] = NULL;
            if (pass) p = q;
            else rasp_program_free(&q);
        }
        compile_bos_sparse_min_cells = 8192;
        CHECK((m[0] == NULL) == (m[1] == NULL));
        if (m[0] && m[1]) {
            compiled++;
            CHECK(BOS_D[0] == m[0]->residual_dim && BOS_D[1] == BOS_D[0] && BOS_D[0] <= 4096);
            CHECK(memcmp(BOS_X[0], BOS_X[1], sizeof(double) * (size_t)BOS_D[0]) == 0);
            CHECK(m[0]->n_warnings == m[1]->n_warnings);
            for (int i = 0; i < m[0]->n_warnings && i < m[1]->n_warnings; i++)
                CHECK_STR(m[0]->warnings[i], m[1]->warnings[i]);
            if (has_warning(m[1], "BOS position", NULL)) with_bos_warning++;
        }
        compiled_model_free(m[0]);
        compiled_model_free(m[1]);
        rasp_program_free(&p);
        if (t_cur_failed) {
            fprintf(stderr, "  program:\n%s\n", src);
            break;
        }
    }
    compile_bos_observer = NULL;
    printf("BOS passes: %d programs compiled, %d with a BOS warning\n", compiled, with_bos_warning);
    CHECK(compiled > 500 && with_bos_warning > 10);
}

static void test_bos_warnings_follow_dense_pass(void) {
    compile_bos_sparse_min_cells = 0; /* the sparse pass everywhere */
    static const char *progs[] = {
        "vocab {1, 2, 3}\nmax_seq_len 5\n"
        "m = numerical(Map(lambda x: x - 1, tokens))\n"
        "s = Select(tokens, tokens, LEQ)\n"
        "out = numerical(Aggregate(s, m, default=0))\n",
        "vocab {0, 1, 2}\nmax_seq_len 4\n"
        "k = Map(lambda x: x + 1, tokens)\n"
        "s = Select(k, tokens, EQ)\n"
        "out = Aggregate(s, indices)\n",
        "vocab {0, 1}\nmax_seq_len 4\n"
        "b = numerical(Map(lambda x: 1 if x == 1 else 0, tokens))\n"
        "s = Select(indices, indices, LEQ)\n"
        "f = numerical(Aggregate(s, b, default=0))\n"
        "c = Map(lambda x: x > 0.5, f)\n"
        "s2 = Select(c, c, EQ)\n"
        "out = SelectorWidth(s2)\n",
        "vocab {0, 1}\nmax_seq_len 4\n"
        "b = numerical(Map(lambda x: 1 if x == 1 else 0, tokens))\n"
        "s = Select(indices, indices, LEQ)\n"
        "f = numerical(Aggregate(s, b, default=0))\n"
        "g = numerical(Map(lambda x: 1 if x < 0.5 else 0, f))\n"
        "out = numerical(Aggregate(s, g, default=0))\n",
    };
    for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) check_bos_warnings(progs[i]);
    /* the classic programs */
    static const char *names[] = {"count",   "count_less_freq", "detect_pattern",   "frac_prevs",
                                  "hist",    "length",          "nary_sequencemap", "pair_balance",
                                  "reverse", "shift_by",        "shuffle_dyck",     "shuffle_dyck2",
                                  "sort",    "sort_freq",       "sort_unique"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fixtures/tracr/%s.rasp", names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        check_bos_warnings(buf);
    }
    compile_bos_sparse_min_cells = 8192;
}

/* Compile errors from checks that validation leaves to the blocks (a lambda or predicate
 * failing on its values) read exactly as the full validation reports them. */
static void test_deferred_checks_report_as_validation(void) {
    static const char *progs[] = {
        /* a categorical Map raising ZeroDivisionError (inference skips it, validation not) */
        "vocab {0, 1, 2}\nmax_seq_len 3\nout = Map(lambda x: 6 // x, tokens)\n",
        /* a categorical SequenceMap raising TypeError on some pairs */
        "vocab {1, 2}\nmax_seq_len 3\nm = Map(lambda x: 'a' if x == 1 else 2, tokens)\n"
        "out = SequenceMap(lambda x, y: x + y, m, indices)\n",
        /* a predicate that cannot compare str and int, and a second issue after it */
        "vocab {'a', 'b'}\nmax_seq_len 3\ns = Select(tokens, indices, LT)\nagg = Aggregate(s, tokens)\n"
        "out = Map(lambda x: 1 // 0, agg)\n",
        /* a lambda predicate raising on one pair */
        "vocab {0, 1}\nmax_seq_len 3\ns = Select(tokens, indices, lambda k, q: q // k == 1)\n"
        "out = SelectorWidth(s)\n",
        /* None in a value set (the vocabulary below): checked up front */
        "max_seq_len 3\nout = Map(lambda x: x + 1, tokens)\n",
        "max_seq_len 3\ns = Select(tokens, indices, lambda k, q: k < q)\nout = SelectorWidth(s)\n",
        /* a numerical Map whose function gives a string */
        "vocab {0, 1}\nmax_seq_len 3\nn = numerical(Map(lambda x: x, tokens))\n"
        "out = numerical(Map(lambda x: 'a', n))\n",
    };
    Value with_none[3] = {val_none(), val_int(1), val_int(2)};
    for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) {
        RaspProgram p;
        CompiledModel *m = NULL;
        char err[4096];
        CompileOptions o;
        compile_options_default(&o);
        bool none = strncmp(progs[i], "vocab", 5) != 0;
        if (none) {
            o.vocab = with_none;
            o.n_vocab = 3;
        }
        int rc = compile_text(progs[i], &o, &m, err, sizeof err, &p);
        CHECK_MSG(rc == 1, "program %zu: rc %d (%s)", i, rc, err);
        RaspReport r;
        rasp_report_init(&r);
        rasp_validate_compilable(&p, none ? with_none : p.vocab, none ? 3 : p.n_vocab,
                                 p.max_seq_len, &r);
        char want[4096];
        size_t k = (size_t)snprintf(want, sizeof want, "the program cannot be compiled:");
        for (int j = 0; j < r.n && k < sizeof want; j++)
            k += (size_t)snprintf(want + k, sizeof want - k, "\n  %s", r.items[j].msg);
        if (r.n > 0) CHECK_STR(err, want);
        else CHECK_MSG(0, "program %zu: validation found nothing, compile said: %s", i, err);
        rasp_report_free(&r);
        compiled_model_free(m);
        rasp_program_free(&p);
    }
}

int main(void) {
    init_names();
    RUN(test_space_make_matches_reference);
    RUN(test_space_union_matches_reference);
    RUN(test_space_index_matches_find);
    RUN(test_float_repr_shortest);
    RUN(test_labels_match_dir_str);
    RUN(test_int_pair_is_the_tuple);
    RUN(test_bos_warnings_follow_dense_pass);
    RUN(test_bos_passes_agree);
    RUN(test_deferred_checks_report_as_validation);
    TEST_END();
}
