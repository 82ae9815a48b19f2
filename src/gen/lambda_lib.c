#include "gen/lambda_lib.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rasp/rasp.h"

#define INT GEN_VT_INT
#define BOOL GEN_VT_BOOL
#define FRAC GEN_VT_FRAC
#define NUMS (GEN_VT_INT | GEN_VT_BOOL | GEN_VT_FRAC | GEN_VT_REAL)
#define ALLM (GEN_MODE_CC | GEN_MODE_CN | GEN_MODE_NC | GEN_MODE_NN)
#define NOCN (GEN_MODE_CC | GEN_MODE_NC | GEN_MODE_NN)
#define MAP(name, src, dom, range, modes)                                                          \
    {                                                                                              \
        name, GEN_FN_MAP, src, dom, range, modes, 0, 0, NULL, {0}, { 0 }                           \
    }
#define SEQ(name, src, dom, range)                                                                 \
    {                                                                                              \
        name, GEN_FN_SEQMAP, src, dom, range, GEN_MODE_CC, 0, 0, NULL, {0}, { 0 }                  \
    }
#define LIN(name, src, a, b)                                                                       \
    {                                                                                              \
        name, GEN_FN_LINEAR, src, NUMS, GEN_VT_REAL, GEN_MODE_NN, a, b, NULL, {0}, { 0 }           \
    }

/* Append only: an entry's position is its token id. Each one is non-constant, not the
 * identity (or a projection) and different from every other entry on its domain (vocab
 * {0..4}, selector widths {0..5}, bools, numerical means); tests/test_gen_lambda_lib.c
 * checks that. */
static GenFn g_table[] = {
    /* int -> int */
    MAP("add1", "lambda x: x + 1", INT, INT, ALLM),
    MAP("add2", "lambda x: x + 2", INT, INT, ALLM),
    MAP("sub1", "lambda x: x - 1", INT, INT, NOCN),
    MAP("sub2", "lambda x: x - 2", INT, INT, NOCN),
    MAP("mul2", "lambda x: x * 2", INT, INT, ALLM),
    MAP("neg", "lambda x: -x", INT, INT, NOCN),
    MAP("rsub4", "lambda x: 4 - x", INT, INT, NOCN),
    MAP("sq", "lambda x: x * x", INT, INT, ALLM),
    MAP("mod2", "lambda x: x % 2", INT, INT, ALLM),
    MAP("mod3", "lambda x: x % 3", INT, INT, ALLM),
    MAP("half", "lambda x: x // 2", INT, INT, ALLM),
    MAP("min2", "lambda x: min(x, 2)", INT, INT, ALLM),
    MAP("max2", "lambda x: max(x, 2)", INT, INT, ALLM),
    MAP("dist2", "lambda x: abs(x - 2)", INT, INT, ALLM),
    /* int -> bool; gt0 and eq0 only test x == 0, so they stay exact on numerical means */
    MAP("lt2", "lambda x: x < 2", INT, BOOL, ALLM),
    MAP("lt3", "lambda x: x < 3", INT, BOOL, ALLM),
    MAP("gt2", "lambda x: x > 2", INT, BOOL, ALLM),
    MAP("gt0", "lambda x: x > 0", INT | FRAC, BOOL, ALLM),
    MAP("eq0", "lambda x: x == 0", INT | FRAC, BOOL, ALLM),
    MAP("eq1", "lambda x: x == 1", INT, BOOL, ALLM),
    MAP("eq2", "lambda x: x == 2", INT, BOOL, ALLM),
    MAP("even", "lambda x: x % 2 == 0", INT, BOOL, ALLM),
    /* bool -> bool */
    MAP("not", "lambda x: not x", BOOL, BOOL, ALLM),
    /* int x int -> int */
    SEQ("add_xy", "lambda x, y: x + y", INT, INT),
    SEQ("sub_xy", "lambda x, y: x - y", INT, INT),
    SEQ("mul_xy", "lambda x, y: x * y", INT, INT),
    SEQ("min_xy", "lambda x, y: min(x, y)", INT, INT),
    SEQ("max_xy", "lambda x, y: max(x, y)", INT, INT),
    SEQ("absdiff_xy", "lambda x, y: abs(x - y)", INT, INT),
    SEQ("parity_xy", "lambda x, y: (x + y) % 2", INT, INT),
    /* int x int -> bool */
    SEQ("eq_xy", "lambda x, y: x == y", INT, BOOL),
    SEQ("lt_xy", "lambda x, y: x < y", INT, BOOL),
    SEQ("le_xy", "lambda x, y: x <= y", INT, BOOL),
    /* bool x bool -> bool */
    SEQ("and_xy", "lambda x, y: x and y", BOOL, BOOL),
    SEQ("or_xy", "lambda x, y: x or y", BOOL, BOOL),
    SEQ("xor_xy", "lambda x, y: x != y", BOOL, BOOL),
    /* LinearSequenceMap coefficient pairs (a*x + b*y) */
    LIN("lin_1_1", "1, 1", 1, 1),
    LIN("lin_1_m1", "1, -1", 1, -1),
    LIN("lin_m1_1", "-1, 1", -1, 1),
    LIN("lin_2_1", "2, 1", 2, 1),
    LIN("lin_1_2", "1, 2", 1, 2),
    LIN("lin_2_m1", "2, -1", 2, -1),
    LIN("lin_m1_2", "-1, 2", -1, 2),
};

#define N_ENTRIES ((int)(sizeof g_table / sizeof g_table[0]))

/* The tiny programs the entries were parsed from: they own the lambdas, so they live for
 * the whole process (reachable from this global, so LeakSanitizer stays quiet). */
static RaspProgram g_progs[N_ENTRIES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_status = -1;
static char g_err[512];

static void lib_init_once(void) {
    char text[256];
    for (int i = 0; i < N_ENTRIES; i++) {
        GenFn *e = &g_table[i];
        switch (e->kind) {
        case GEN_FN_MAP: snprintf(text, sizeof text, "f = Map(%s, tokens)\n", e->src); break;
        case GEN_FN_SEQMAP:
            snprintf(text, sizeof text, "f = SequenceMap(%s, tokens, indices)\n", e->src);
            break;
        case GEN_FN_LINEAR:
            snprintf(text, sizeof text, "f = LinearSequenceMap(tokens, indices, %s)\n", e->src);
            break;
        }
        char err[400];
        if (rasp_parse("<lambda library>", text, &g_progs[i], err, sizeof err) != 0) {
            snprintf(g_err, sizeof g_err, "lambda library entry %s: %s", e->name, err);
            return;
        }
        RaspProgram *p = &g_progs[i];
        const RaspExpr *x = p->output >= 0 ? &p->exprs[p->output] : NULL;
        ExprKind want = e->kind == GEN_FN_MAP      ? EXPR_MAP
                        : e->kind == GEN_FN_SEQMAP ? EXPR_SEQMAP
                                                   : EXPR_LINSEQMAP;
        if (!x || x->kind != want || !x->fn) {
            snprintf(g_err, sizeof g_err, "lambda library entry %s: source did not parse to a %s",
                     e->name, rasp_kind_name(want));
            return;
        }
        e->fn = x->fn;
        if (e->kind == GEN_FN_LINEAR) {
            e->va = x->lin_a;
            e->vb = x->lin_b;
        }
    }
    g_status = 0;
}

int gen_lib_init(char *err, size_t errcap) {
    pthread_once(&g_once, lib_init_once);
    if (g_status != 0 && err && errcap) snprintf(err, errcap, "%s", g_err);
    return g_status;
}

int gen_lib_count(void) { return N_ENTRIES; }

const GenFn *gen_lib_get(int i) {
    if (gen_lib_init(NULL, 0) != 0 || i < 0 || i >= N_ENTRIES) return NULL;
    return &g_table[i];
}

int gen_lib_find(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < N_ENTRIES; i++)
        if (strcmp(g_table[i].name, name) == 0) return i;
    return -1;
}

int gen_lib_lookup_lambda(GenFnKind kind, const Lambda *fn) {
    if (!fn || gen_lib_init(NULL, 0) != 0) return -1;
    for (int i = 0; i < N_ENTRIES; i++) {
        const GenFn *e = &g_table[i];
        if (e->kind == kind && e->fn->n_params == fn->n_params && py_equal(e->fn->body, fn->body))
            return i;
    }
    return -1;
}

/* Same kind and value: 1 and 1.0 give the same weights but print differently, and the
 * library entry is the printed one. */
static bool same_coef(Value a, Value b) { return a.kind == b.kind && val_eq(a, b); }

int gen_lib_lookup_linear(Value a, Value b) {
    if (gen_lib_init(NULL, 0) != 0) return -1;
    for (int i = 0; i < N_ENTRIES; i++) {
        const GenFn *e = &g_table[i];
        if (e->kind == GEN_FN_LINEAR && same_coef(e->va, a) && same_coef(e->vb, b)) return i;
    }
    return -1;
}

PyErr gen_lib_call(int i, const Value *args, Value *out) {
    const GenFn *e = gen_lib_get(i);
    if (!e) {
        *out = val_none();
        return PYERR_VALUE;
    }
    return lambda_call(e->fn, args, out, NULL, 0);
}
