/* Program-token tables: vocabularies, reading and checking a table, building the program it
 * describes (the encoder: pt_encode.c). */
#include "gen/program_tokens.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "rasp/rasp.h"
#include "util/strbuf.h"

static const char *const k_special[3] = {"PAD", "START", "END"};
static const char *const k_op[] = {"Map",    "SequenceMap", "LinearSequenceMap",
                                   "Select", "Aggregate",   "SelectorWidth"};
static const char *const k_enc[] = {"cat", "num", "-"};
static const char *const k_pred[8] = {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE"};
static const char *const k_col[PT_COLS] = {"op", "enc", "fn", "a1", "a2", "out"};
static const char *const k_var[PT_MAX_VARS] = {
    "v1",  "v2",  "v3",  "v4",  "v5",  "v6",  "v7",  "v8",  "v9",  "v10",
    "v11", "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20",
    "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30"};

int pt_vocab_size(int col) {
    switch (col) {
    case PT_COL_OP: return PT_OP_VOCAB;
    case PT_COL_ENC: return PT_ENC_VOCAB;
    case PT_COL_FN:
        return PT_FN_TABLE + 1 + (gen_lib_count() > PT_LIB_V1 ? gen_lib_count() - PT_LIB_V1 : 0);
    case PT_COL_A1:
    case PT_COL_A2: return PT_ARG_VOCAB;
    case PT_COL_OUT: return PT_OUT_VOCAB;
    default: return 0;
    }
}

const char *pt_token_name(int col, int id) {
    if (id < 0 || id >= pt_vocab_size(col)) return NULL;
    if (id < 3) return k_special[id];
    switch (col) {
    case PT_COL_OP: return k_op[id - PT_OP_MAP];
    case PT_COL_ENC: return k_enc[id - PT_ENC_CAT];
    case PT_COL_FN:
        if (id == PT_FN_NONE) return "-";
        if (id < PT_FN_LIB0) return k_pred[id - PT_FN_PRED0];
        if (id == PT_FN_TABLE) return "table";
        return gen_lib_get(pt_fn_lib(id)) ? gen_lib_get(pt_fn_lib(id))->name : NULL;
    case PT_COL_A1:
    case PT_COL_A2:
        if (id == PT_ARG_NONE) return "-";
        if (id == PT_ARG_TOKENS) return "tokens";
        if (id == PT_ARG_INDICES) return "indices";
        return k_var[id - PT_ARG_V1];
    case PT_COL_OUT: return k_var[id - PT_OUT_V1];
    default: return NULL;
    }
}

int pt_token_id(int col, const char *name) {
    int n = pt_vocab_size(col);
    for (int id = 0; id < n; id++) {
        const char *s = pt_token_name(col, id);
        if (s && name && strcmp(s, name) == 0) return id;
    }
    return -1;
}

int pt_fn_lib(int fn) {
    if (fn < PT_FN_LIB0 || fn == PT_FN_TABLE) return -1;
    int i = fn < PT_FN_TABLE ? fn - PT_FN_LIB0 : fn - PT_FN_LIB0 - 1;
    return i < gen_lib_count() ? i : -1;
}

int pt_fn_of_lib(int i) { return i < PT_LIB_V1 ? PT_FN_LIB0 + i : PT_FN_LIB0 + i + 1; }

/* ---- value tokens -------------------------------------------------------------------- */

int pt_value_token(Value v, const Value *vocab, int n_vocab) {
    if (v.kind == VAL_BOOL) return v.u.b ? PT_VAL_TRUE : PT_VAL_FALSE;
    if (v.kind == VAL_INT && v.u.i >= PT_VAL_INT_MIN && v.u.i <= PT_VAL_INT_MAX)
        return PT_VAL_INT0 + (int)(v.u.i - PT_VAL_INT_MIN);
    for (int k = 0; vocab && k < n_vocab && k < PT_VAL_VOCAB - PT_VAL_TOK0; k++)
        if (vocab[k].kind == v.kind && val_eq(vocab[k], v)) return PT_VAL_TOK0 + k;
    return -1;
}

int pt_token_value(int id, const Value *vocab, int n_vocab, Value *out) {
    *out = val_none();
    if (id >= PT_VAL_INT0 && id < PT_VAL_FALSE) *out = val_int(PT_VAL_INT_MIN + (id - PT_VAL_INT0));
    else if (id == PT_VAL_FALSE || id == PT_VAL_TRUE) *out = val_bool(id == PT_VAL_TRUE);
    else if (id >= PT_VAL_TOK0 && id < PT_VAL_VOCAB && vocab && id - PT_VAL_TOK0 < n_vocab)
        *out = vocab[id - PT_VAL_TOK0];
    else return -1;
    return 0;
}

static char g_value_names[PT_VAL_VOCAB][16];
static pthread_once_t g_value_names_once = PTHREAD_ONCE_INIT;

static void value_names_init(void) {
    for (int id = 3; id < PT_VAL_VOCAB; id++) {
        if (id < PT_VAL_FALSE)
            snprintf(g_value_names[id], sizeof g_value_names[id], "%d",
                     PT_VAL_INT_MIN + (id - PT_VAL_INT0));
        else if (id == PT_VAL_FALSE) snprintf(g_value_names[id], sizeof g_value_names[id], "False");
        else if (id == PT_VAL_TRUE) snprintf(g_value_names[id], sizeof g_value_names[id], "True");
        else snprintf(g_value_names[id], sizeof g_value_names[id], "t%d", id - PT_VAL_TOK0);
    }
}

const char *pt_value_name(int id) {
    if (id < 0 || id >= PT_VAL_VOCAB || id == PT_START) return NULL;
    if (id < 3) return k_special[id];
    pthread_once(&g_value_names_once, value_names_init);
    return g_value_names[id];
}

/* ---- writing ------------------------------------------------------------------------- */

int pt_tables_fit(const PtOp *rows, int n) {
    int need = 0;
    for (int k = 0; k < n; k++)
        if (rows[k].fn == PT_FN_TABLE) need += rows[k].ntab + 1;
    return n <= PT_MAX_VARS && need <= (PT_ROWS - n - 2) * PT_COLS;
}

static int16_t arg_token(int a) {
    if (a == PT_SRC_NONE) return PT_ARG_NONE;
    if (a == PT_SRC_TOKENS) return PT_ARG_TOKENS;
    if (a == PT_SRC_INDICES) return PT_ARG_INDICES;
    return (int16_t)(PT_ARG_V1 + a);
}

void pt_ops_to_tokens(const PtOp *rows, int n, int16_t *tokens) {
    memset(tokens, 0, sizeof(int16_t) * PT_ROWS * PT_COLS);
    if (n > PT_MAX_VARS) n = PT_MAX_VARS;
    for (int c = 0; c < PT_COLS; c++) tokens[c] = PT_START;
    for (int k = 0; k < n; k++) {
        int16_t *t = tokens + (k + 1) * PT_COLS;
        t[PT_COL_OP] = rows[k].op;
        t[PT_COL_ENC] = rows[k].enc;
        t[PT_COL_FN] = rows[k].fn;
        t[PT_COL_A1] = arg_token(rows[k].arg[0]);
        t[PT_COL_A2] = arg_token(rows[k].arg[1]);
        t[PT_COL_OUT] = (int16_t)(PT_OUT_V1 + k);
    }
    for (int c = 0; c < PT_COLS; c++) tokens[(n + 1) * PT_COLS + c] = PT_END;
    int at = (n + 2) * PT_COLS, cap = PT_ROWS * PT_COLS;
    for (int k = 0; k < n; k++) {
        if (rows[k].fn != PT_FN_TABLE) continue;
        if (at + rows[k].ntab + 1 > cap) break;
        for (int i = 0; i < rows[k].ntab; i++) tokens[at++] = rows[k].tab[i];
        tokens[at++] = PT_END;
    }
}

/* ---- reading ------------------------------------------------------------------------- */

typedef struct Reader {
    const PtOp *rows;
    int k; /* current row index (table row k+1) */
    char *err;
    size_t cap;
} Reader;

static int fail(Reader *r, const char *fmt, const char *a, const char *b) {
    char what[200];
    snprintf(what, sizeof what, fmt, a, b);
    snprintf(r->err, r->cap, "row %d: %s", r->k + 1, what);
    return 1;
}

static const char *src_name(const Reader *r, int a, char *buf, size_t cap) {
    (void)r;
    if (a == PT_SRC_TOKENS) return "tokens";
    if (a == PT_SRC_INDICES) return "indices";
    snprintf(buf, cap, "v%d", a + 1);
    return buf;
}

static int src_enc(const PtOp *rows, int a) { return a < 0 ? PT_ENC_CAT : rows[a].enc; }

/* Checks that argument j of the current row names an SOp (want_enc: 0 any, else that enc). */
static int want_sop(Reader *r, int j, int want_enc, const char *role) {
    char buf[16];
    int a = r->rows[r->k].arg[j];
    if (a == PT_SRC_NONE) return fail(r, "%s needs an SOp in column %s", role, j ? "a2" : "a1");
    if (a >= 0 && r->rows[a].op == PT_OP_SELECT)
        return fail(r, "%s must be an SOp, but %s is a Select", role,
                    src_name(r, a, buf, sizeof buf));
    if (want_enc && src_enc(r->rows, a) != want_enc)
        return fail(r,
                    want_enc == PT_ENC_CAT ? "%s must be categorical, but %s is numerical"
                                           : "%s must be numerical, but %s is categorical",
                    role, src_name(r, a, buf, sizeof buf));
    return 0;
}

static int want_select(Reader *r, const char *opname) {
    char buf[16];
    int a = r->rows[r->k].arg[0];
    if (a == PT_SRC_NONE) return fail(r, "%s needs a Select in column a1%s", opname, "");
    if (a < 0 || r->rows[a].op != PT_OP_SELECT)
        return fail(r, "%s needs a Select in column a1, but %s is an SOp", opname,
                    src_name(r, a, buf, sizeof buf));
    return 0;
}

static int want_none(Reader *r, int j, const char *opname) {
    if (r->rows[r->k].arg[j] != PT_SRC_NONE)
        return fail(r, "%s takes '-' in column %s", opname, j ? "a2" : "a1");
    return 0;
}

static int want_fn(Reader *r, GenFnKind kind, const char *opname, const char *what) {
    int fn = r->rows[r->k].fn;
    if (fn == PT_FN_TABLE && kind != GEN_FN_LINEAR) return 0;
    const GenFn *e = gen_lib_get(pt_fn_lib(fn));
    if (!e || e->kind != kind) return fail(r, "%s needs %s in column fn", opname, what);
    return 0;
}

static int check_row(Reader *r) {
    const PtOp *o = &r->rows[r->k];
    const char *name = k_op[o->op - PT_OP_MAP];
    int is_sel = o->op == PT_OP_SELECT;
    if (is_sel && o->enc != PT_ENC_NONE) return fail(r, "Select takes '-' in column enc%s", "", "");
    if (!is_sel && o->enc == PT_ENC_NONE)
        return fail(r, "%s needs cat or num in column enc", name, "");
    switch (o->op) {
    case PT_OP_MAP:
        if (want_fn(r, GEN_FN_MAP, name, "a Map function")) return 1;
        return want_sop(r, 0, 0, "the Map input") || want_none(r, 1, name);
    case PT_OP_SEQMAP:
        if (o->enc != PT_ENC_CAT)
            return fail(r,
                        "SequenceMap must be categorical (Tracr compiles only categorical ones)%s",
                        "", "");
        if (want_fn(r, GEN_FN_SEQMAP, name, "a SequenceMap function")) return 1;
        return want_sop(r, 0, PT_ENC_CAT, "the first SequenceMap input") ||
               want_sop(r, 1, PT_ENC_CAT, "the second SequenceMap input");
    case PT_OP_LINSEQMAP:
        if (o->enc != PT_ENC_NUM) return fail(r, "LinearSequenceMap must be numerical%s", "", "");
        if (want_fn(r, GEN_FN_LINEAR, name, "a coefficient pair")) return 1;
        return want_sop(r, 0, PT_ENC_NUM, "the first LinearSequenceMap input") ||
               want_sop(r, 1, PT_ENC_NUM, "the second LinearSequenceMap input");
    case PT_OP_SELECT:
        if ((o->fn < PT_FN_PRED0 || o->fn >= PT_FN_LIB0) && o->fn != PT_FN_TABLE)
            return fail(
                r,
                "Select needs a predicate (EQ LT LEQ GT GEQ NEQ TRUE FALSE, or table) in column fn%s",
                "", "");
        return want_sop(r, 0, PT_ENC_CAT, "the Select keys") ||
               want_sop(r, 1, PT_ENC_CAT, "the Select queries");
    case PT_OP_AGGREGATE:
        if (o->fn != PT_FN_NONE) return fail(r, "Aggregate takes '-' in column fn%s", "", "");
        return want_select(r, name) || want_sop(r, 1, o->enc, "the aggregated SOp");
    case PT_OP_SELWIDTH:
        if (o->fn != PT_FN_NONE) return fail(r, "SelectorWidth takes '-' in column fn%s", "", "");
        return want_select(r, name) || want_none(r, 1, name);
    }
    return fail(r, "unknown operation%s", "", "");
}

int pt_tokens_to_ops(const int16_t *tokens, PtOp *rows, int *n, char *err, size_t errcap) {
    *n = 0;
    Reader r = {rows, -1, err, errcap};
    if (!tokens) {
        snprintf(err, errcap, "no token table");
        return 1;
    }
    for (int c = 0; c < PT_COLS; c++)
        if (tokens[c] != PT_START) {
            snprintf(err, errcap, "row 0: expected the START row (START in every column)");
            return 1;
        }
    int end = -1;
    for (int row = 1; row < PT_ROWS && end < 0; row++) {
        const int16_t *t = tokens + row * PT_COLS;
        r.k = row - 1;
        if (t[PT_COL_OP] == PT_END) {
            for (int c = 1; c < PT_COLS; c++)
                if (t[c] != PT_END)
                    return fail(&r, "the END row needs END in every column, found %s in column %s",
                                pt_token_name(c, t[c]) ? pt_token_name(c, t[c]) : "?", k_col[c]);
            end = row;
            break;
        }
        if (t[PT_COL_OP] == PT_PAD)
            return fail(&r, "padding before the END row (missing END)%s", "", "");
        if (row > PT_MAX_VARS)
            return fail(&r, "expected the END row: a table holds at most 30 operations%s", "", "");
        for (int c = 0; c < PT_COLS; c++) {
            if (t[c] < 0 || t[c] >= pt_vocab_size(c)) {
                char id[16];
                snprintf(id, sizeof id, "%d", t[c]);
                return fail(&r, "unknown token id %s in column %s", id, k_col[c]);
            }
            if (t[c] < 3) return fail(&r, "unexpected %s in column %s", k_special[t[c]], k_col[c]);
        }
        PtOp *o = &rows[r.k];
        o->op = t[PT_COL_OP];
        o->enc = t[PT_COL_ENC];
        o->fn = t[PT_COL_FN];
        if (t[PT_COL_OUT] != PT_OUT_V1 + r.k) {
            char want[16];
            snprintf(want, sizeof want, "v%d", r.k + 1);
            return fail(&r, "column out must be %s (the row's own variable), found %s", want,
                        pt_token_name(PT_COL_OUT, t[PT_COL_OUT]));
        }
        for (int j = 0; j < 2; j++) {
            int a = t[PT_COL_A1 + j];
            if (a == PT_ARG_NONE) o->arg[j] = PT_SRC_NONE;
            else if (a == PT_ARG_TOKENS) o->arg[j] = PT_SRC_TOKENS;
            else if (a == PT_ARG_INDICES) o->arg[j] = PT_SRC_INDICES;
            else if (a - PT_ARG_V1 >= r.k)
                return fail(&r, "%s used before it is defined%s", pt_token_name(PT_COL_A1, a), "");
            else o->arg[j] = (int16_t)(a - PT_ARG_V1);
        }
        if (check_row(&r)) return 1;
        *n = row;
    }
    if (end < 0) {
        snprintf(err, errcap, "missing END row");
        *n = 0;
        return 1;
    }
    /* the tables' values, in row order, each closed by END */
    int at = (end + 1) * PT_COLS;
    const int cap = PT_ROWS * PT_COLS;
    for (int k = 0; k < *n; k++) {
        PtOp *o = &rows[k];
        o->ntab = 0;
        if (o->fn != PT_FN_TABLE) continue;
        for (;;) {
            if (at >= cap) {
                snprintf(err, errcap, "row %d: the table of v%d is not closed by END", k + 1,
                         k + 1);
                *n = 0;
                return 1;
            }
            int v = tokens[at++];
            if (v == PT_END) break;
            if (v < 3 || v >= PT_VAL_VOCAB) {
                snprintf(err, errcap, "row %d: the table of v%d holds %s, not a value token", k + 1,
                         k + 1, v == PT_PAD ? "PAD" : "an unknown id");
                *n = 0;
                return 1;
            }
            if (o->op == PT_OP_SELECT && v != PT_VAL_FALSE && v != PT_VAL_TRUE) {
                snprintf(err, errcap,
                         "row %d: the predicate table of v%d holds %s, not True or False", k + 1,
                         k + 1, pt_value_name(v) ? pt_value_name(v) : "an unknown id");
                *n = 0;
                return 1;
            }
            if (o->ntab == PT_MAX_TABLE) {
                snprintf(err, errcap, "row %d: the table of v%d has more than %d values", k + 1,
                         k + 1, PT_MAX_TABLE);
                *n = 0;
                return 1;
            }
            o->tab[o->ntab++] = (int16_t)v;
        }
        if (o->ntab == 0) {
            snprintf(err, errcap, "row %d: the table of v%d is empty", k + 1, k + 1);
            *n = 0;
            return 1;
        }
    }
    for (int i = at; i < cap; i++)
        if (tokens[i] != PT_PAD) {
            int row = i / PT_COLS, c = i % PT_COLS;
            const char *name = pt_token_name(c, tokens[i]);
            if (at == (end + 1) * PT_COLS) /* no tables */
                snprintf(err, errcap,
                         "row %d: expected padding after the END row, found %s in column %s", row,
                         name ? name : "an unknown id", k_col[c]);
            else
                snprintf(err, errcap, "row %d: expected padding after the tables, found id %d", row,
                         tokens[i]);
            *n = 0;
            return 1;
        }
    int cnt = *n;
    *n = 0;
    if (cnt == 0) {
        snprintf(err, errcap, "row 1: the table has no operation rows");
        return 1;
    }
    if (rows[cnt - 1].op == PT_OP_SELECT) {
        snprintf(err, errcap,
                 "row %d: the last row is the program's output and must be an SOp, not a Select",
                 cnt);
        return 1;
    }
    unsigned char used[PT_MAX_VARS] = {0};
    for (int k = 0; k < cnt; k++)
        for (int j = 0; j < 2; j++)
            if (rows[k].arg[j] >= 0) used[rows[k].arg[j]] = 1;
    for (int k = 0; k < cnt - 1; k++)
        if (!used[k]) {
            snprintf(err, errcap,
                     "row %d: v%d is never used (only the last row, the output, may be unused)",
                     k + 1, k + 1);
            return 1;
        }
    *n = cnt;
    return 0;
}

/* ---- building the program ------------------------------------------------------------ */

static int cmp_vocab(const void *a, const void *b) {
    return val_dir_cmp("tokens", *(const Value *)a, *(const Value *)b);
}

int pt_sorted_vocab(const Value *vocab, int n, Value *out) {
    if (n > PT_VAL_VOCAB - PT_VAL_TOK0) n = PT_VAL_VOCAB - PT_VAL_TOK0;
    if (n > 0) memcpy(out, vocab, sizeof(Value) * (size_t)n);
    if (n > 1) qsort(out, (size_t)n, sizeof(Value), cmp_vocab);
    return n;
}

/* The value set of expression e of p (reachable or not) in the compiler's order, copied
 * into *dom. Returns 0, or non-zero with a message. */
static int domain_of(RaspProgram *p, int e, const Value *vocab, int n_vocab, int max_seq_len,
                     ValueSet *dom, char *err, size_t errcap) {
    int saved = p->output;
    p->output = e;
    ValueSet *sets = malloc(sizeof(ValueSet) * (size_t)p->n_exprs);
    if (!sets) {
        p->output = saved;
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    int rc = rasp_infer_value_sets(p, vocab, n_vocab, max_seq_len, sets, err, errcap);
    p->output = saved;
    if (rc == 0) {
        valset_copy(dom, &sets[e]);
        valset_sort(dom, p->exprs[e].label ? p->exprs[e].label : "x");
    }
    rasp_free_value_sets(sets, p->n_exprs);
    free(sets);
    return rc;
}

/* `v0 if x == k0 else v1 if x == k1 else ... v(n-1)` over the parameter param: the table
 * {k: v}[x] on its keys (the keys are the input's whole value set, so the last test can be
 * dropped). TODO(after the lift branch, which adds the dict display to the parser): build
 * py_lookup so the text reads {k: v, ...}[x] as lift prints it. */
static PyExpr *table_chain(Arena *a, int param, const Value *keys, PyExpr *const *vals, int n) {
    PyExpr *e = vals[n - 1];
    for (int i = n - 2; i >= 0; i--)
        e = py_ifexp(a, vals[i], py_cmp2(a, PYC_EQ, py_param(a, param), py_const(a, keys[i])), e);
    return e;
}

/* The lambda of a table row o whose input expressions are child[0..1] of out. */
static Lambda *table_lambda(RaspProgram *out, const PtOp *o, const int *child, const Value *vocab,
                            int n_vocab, int max_seq_len, int k, char *err, size_t errcap) {
    Value sv[32];
    int ns = pt_sorted_vocab(vocab, n_vocab, sv);
    int nin = o->op == PT_OP_MAP ? 1 : 2; /* SequenceMap (x, y), Select (key, query) */
    ValueSet dom[2];
    valset_init(&dom[0]);
    valset_init(&dom[1]);
    Lambda *f = NULL;
    char why[300];
    for (int j = 0; j < nin; j++)
        if (domain_of(out, child[j], vocab, n_vocab, max_seq_len, &dom[j], why, sizeof why)) {
            snprintf(err, errcap, "row %d: the value set of the table's input: %s", k + 1, why);
            goto done;
        }
    size_t want = nin == 1 ? dom[0].n : dom[0].n * dom[1].n;
    if (want != (size_t)o->ntab) {
        snprintf(err, errcap, "row %d: the table has %d values, but its input has %zu %s", k + 1,
                 o->ntab, want, nin == 1 ? "values" : "value pairs");
        goto done;
    }
    PyExpr *vals[PT_MAX_TABLE];
    for (int i = 0; i < o->ntab; i++) {
        Value v;
        if (pt_token_value(o->tab[i], sv, ns, &v)) {
            snprintf(err, errcap, "row %d: table value %s is not a value of this vocabulary", k + 1,
                     pt_value_name(o->tab[i]) ? pt_value_name(o->tab[i]) : "?");
            goto done;
        }
        vals[i] = py_const(&out->arena, v);
    }
    f = arena_alloc(&out->arena, sizeof *f);
    memset(f, 0, sizeof *f);
    f->n_params = nin;
    bool pred = o->op == PT_OP_SELECT;
    f->params[0] = pred ? "k" : "x";
    f->params[1] = nin == 1 ? NULL : pred ? "q" : "y";
    if (nin == 1) {
        f->body = table_chain(&out->arena, 0, dom[0].items, vals, o->ntab);
    } else {
        int nb = (int)dom[1].n;
        PyExpr *rowsx[PT_MAX_TABLE];
        for (size_t i = 0; i < dom[0].n; i++)
            rowsx[i] = table_chain(&out->arena, 1, dom[1].items, vals + i * (size_t)nb, nb);
        f->body = table_chain(&out->arena, 0, dom[0].items, rowsx, (int)dom[0].n);
    }
done:
    valset_free(&dom[0]);
    valset_free(&dom[1]);
    return f;
}

static int add_primitive(RaspProgram *p, ExprKind kind) {
    RaspExpr e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.label = kind == EXPR_TOKENS ? "tokens" : "indices";
    e.name = e.label;
    e.enc = ENC_CATEGORICAL;
    e.child[0] = e.child[1] = -1;
    e.default_value = val_none();
    e.full_value = val_none();
    e.lin_a = e.lin_b = val_none();
    return rasp_add_expr(p, &e);
}

int pt_build_program(const PtOp *rows, int n, const Value *vocab, int n_vocab, int max_seq_len,
                     RaspProgram *out, char *err, size_t errcap) {
    rasp_program_init(out);
    if (n <= 0 || n > PT_MAX_VARS) {
        snprintf(err, errcap, "a program needs 1 to %d rows, not %d", PT_MAX_VARS, n);
        return 1;
    }
    int tok = -1, idx = -1, at[PT_MAX_VARS];
    for (int k = 0; k < n; k++) {
        const PtOp *o = &rows[k];
        int child[2] = {-1, -1};
        for (int j = 0; j < 2; j++) {
            int a = o->arg[j];
            if (a == PT_SRC_TOKENS) {
                if (tok < 0) tok = add_primitive(out, EXPR_TOKENS);
                child[j] = tok;
            } else if (a == PT_SRC_INDICES) {
                if (idx < 0) idx = add_primitive(out, EXPR_INDICES);
                child[j] = idx;
            } else if (a >= 0) {
                if (a >= k) {
                    snprintf(err, errcap, "row %d: v%d used before it is defined", k + 1, a + 1);
                    rasp_program_free(out);
                    rasp_program_init(out);
                    return 1;
                }
                child[j] = at[a];
            }
        }
        RaspExpr e;
        memset(&e, 0, sizeof e);
        char label[16];
        snprintf(label, sizeof label, "v%d", k + 1);
        e.label = arena_strdup(&out->arena, label);
        e.name = e.label;
        e.user_named = true;
        e.enc = o->enc == PT_ENC_NUM ? ENC_NUMERICAL : ENC_CATEGORICAL;
        e.child[0] = child[0];
        e.child[1] = child[1];
        e.default_value = val_none();
        e.full_value = val_none();
        e.lin_a = e.lin_b = val_none();
        const GenFn *f = gen_lib_get(pt_fn_lib(o->fn));
        switch (o->op) {
        case PT_OP_MAP: e.kind = EXPR_MAP; break;
        case PT_OP_SEQMAP: e.kind = EXPR_SEQMAP; break;
        case PT_OP_LINSEQMAP: e.kind = EXPR_LINSEQMAP; break;
        case PT_OP_SELECT: e.kind = EXPR_SELECT; break;
        case PT_OP_AGGREGATE: e.kind = EXPR_AGGREGATE; break;
        default: e.kind = EXPR_SELWIDTH; break;
        }
        if (o->fn == PT_FN_TABLE) { /* Map, SequenceMap or Select (checked) */
            if (!vocab || n_vocab <= 0) {
                snprintf(err, errcap, "row %d: a table needs the vocabulary", k + 1);
                rasp_program_free(out);
                rasp_program_init(out);
                return 1;
            }
            e.fn = table_lambda(out, o, child, vocab, n_vocab, max_seq_len, k, err, errcap);
            if (!e.fn) {
                rasp_program_free(out);
                rasp_program_init(out);
                return 1;
            }
            if (e.kind == EXPR_MAP && o->arg[0] >= 0 && rows[o->arg[0]].op == PT_OP_MAP)
                e.no_simplify = true;
        } else if (e.kind == EXPR_MAP || e.kind == EXPR_SEQMAP || e.kind == EXPR_LINSEQMAP) {
            if (!f) {
                snprintf(err, errcap, "row %d: no library function", k + 1);
                rasp_program_free(out);
                rasp_program_init(out);
                return 1;
            }
            e.fn = f->fn;
            if (e.kind == EXPR_LINSEQMAP) {
                e.lin_a = f->va;
                e.lin_b = f->vb;
            }
            /* Tracr would fuse a Map of a Map; the row form keeps both nodes. */
            if (e.kind == EXPR_MAP && o->arg[0] >= 0 && rows[o->arg[0]].op == PT_OP_MAP)
                e.no_simplify = true;
        }
        if (e.kind == EXPR_SELECT)
            e.pred = o->fn == PT_FN_TABLE ? PRED_LAMBDA : (Pred)(o->fn - PT_FN_PRED0);
        if (e.kind == EXPR_AGGREGATE && e.enc == ENC_NUMERICAL) e.default_value = val_int(0);
        at[k] = rasp_add_expr(out, &e);
    }
    out->output = at[n - 1];
    if (vocab && n_vocab > 0) {
        out->vocab = arena_alloc(&out->arena, sizeof(Value) * (size_t)n_vocab);
        memcpy(out->vocab, vocab, sizeof(Value) * (size_t)n_vocab);
        out->n_vocab = n_vocab;
        out->has_vocab = true;
    }
    out->max_seq_len = max_seq_len;
    rasp_assign_labels(out);
    return 0;
}

int pt_decode(const int16_t *tokens, const Value *vocab, int n_vocab, int max_seq_len,
              RaspProgram *out, char *err, size_t errcap) {
    PtOp rows[PT_MAX_VARS];
    int n;
    rasp_program_init(out);
    if (gen_lib_init(err, errcap) != 0) return 1;
    if (pt_tokens_to_ops(tokens, rows, &n, err, errcap) != 0) return 1;
    rasp_program_free(out);
    return pt_build_program(rows, n, vocab, n_vocab, max_seq_len, out, err, errcap);
}

int pt_first_bad_cell(const int16_t *tokens) {
    int end = PT_ROWS;
    for (int row = 1; row < PT_ROWS && end == PT_ROWS; row++)
        if (tokens[row * PT_COLS + PT_COL_OP] == PT_END) end = row;
    for (int i = 0; i < PT_ROWS * PT_COLS; i++) {
        int lim = i / PT_COLS > end ? PT_VAL_VOCAB : pt_vocab_size(i % PT_COLS);
        if (tokens[i] < 0 || tokens[i] >= lim) return i;
    }
    return -1;
}

char *pt_format_table(const int16_t *tokens) {
    StrBuf b;
    sb_init(&b);
    int end = -1;
    for (int row = 0; row < PT_ROWS && end < 0; row++) {
        const int16_t *t = tokens + row * PT_COLS;
        int pad = 1;
        for (int c = 0; c < PT_COLS; c++) pad &= t[c] == PT_PAD;
        if (pad) continue;
        for (int c = 0; c < PT_COLS; c++) {
            const char *s = pt_token_name(c, t[c]);
            if (s) sb_printf(&b, "%s%s", c ? " " : "", s);
            else sb_printf(&b, "%s#%d", c ? " " : "", t[c]);
        }
        sb_append(&b, "\n");
        if (row > 0 && t[0] == PT_END) end = row;
    }
    /* after the END row: the tables' value tokens (each closed by END), then PAD */
    int last = PT_ROWS * PT_COLS;
    while (end >= 0 && last > (end + 1) * PT_COLS && tokens[last - 1] == PT_PAD) last--;
    for (int i = end >= 0 ? (end + 1) * PT_COLS : last, col = 0; i < last; i++, col++) {
        const char *s = pt_value_name(tokens[i]);
        if (s) sb_printf(&b, "%s%s", col ? " " : "", s);
        else sb_printf(&b, "%s#%d", col ? " " : "", tokens[i]);
        if (tokens[i] == PT_END || i + 1 == last) sb_append(&b, "\n"), col = -1;
    }
    return sb_take(&b);
}

/* ---- a row as its table (search_repair.c) ------------------------------------------------ */

static int expr_of_row(const RaspProgram *p, int k) {
    char label[16];
    snprintf(label, sizeof label, "v%d", k + 1);
    for (int e = 0; e < p->n_exprs; e++)
        if (p->exprs[e].label && strcmp(p->exprs[e].label, label) == 0) return e;
    return -1;
}

int pt_row_as_table(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                    int max_seq_len, PtOp *out, int *inner, char *err, size_t errcap) {
    const PtOp *o = &rows[r];
    if (o->op != PT_OP_MAP && o->op != PT_OP_SEQMAP && o->op != PT_OP_SELECT) {
        snprintf(err, errcap, "row %d has no function", r + 1);
        return 1;
    }
    RaspProgram p;
    if (pt_build_program(rows, n, vocab, n_vocab, max_seq_len, &p, err, errcap)) return 1;
    Value sv[32];
    int ns = pt_sorted_vocab(vocab, n_vocab, sv);
    int e = expr_of_row(&p, r), nin = o->op == PT_OP_MAP ? 1 : 2, rc = 1;
    ValueSet dom[2];
    valset_init(&dom[0]);
    valset_init(&dom[1]);
    if (e < 0) {
        snprintf(err, errcap, "row %d not found", r + 1);
        goto done;
    }
    const RaspExpr *x = &p.exprs[e];
    for (int j = 0; j < nin; j++) {
        if (p.exprs[x->child[j]].enc != ENC_CATEGORICAL) {
            snprintf(err, errcap, "row %d: a table needs categorical inputs", r + 1);
            goto done;
        }
        if (domain_of(&p, x->child[j], vocab, n_vocab, max_seq_len, &dom[j], err, errcap))
            goto done;
    }
    size_t cells = nin == 1 ? dom[0].n : dom[0].n * dom[1].n;
    if (cells == 0 || cells > PT_MAX_TABLE) {
        snprintf(err, errcap, "row %d: %zu table cells", r + 1, cells);
        goto done;
    }
    *out = *o;
    out->fn = PT_FN_TABLE;
    out->ntab = (int16_t)cells;
    *inner = nin == 1 ? 1 : (int)dom[1].n;
    char msg[128];
    for (size_t i = 0; i < cells; i++) {
        Value v;
        if (nin == 1) {
            if (lambda_call(x->fn, &dom[0].items[i], &v, msg, sizeof msg) != PYERR_OK) {
                snprintf(err, errcap, "row %d: %s", r + 1, msg);
                goto done;
            }
        } else if (o->op == PT_OP_SEQMAP) {
            Value args[2] = {dom[0].items[i / dom[1].n], dom[1].items[i % dom[1].n]};
            if (lambda_call(x->fn, args, &v, msg, sizeof msg) != PYERR_OK) {
                snprintf(err, errcap, "row %d: %s", r + 1, msg);
                goto done;
            }
        } else {
            bool b;
            if (rasp_select_pred(x, dom[0].items[i / dom[1].n], dom[1].items[i % dom[1].n], &b,
                                 msg, sizeof msg)) {
                snprintf(err, errcap, "row %d: %s", r + 1, msg);
                goto done;
            }
            v = val_bool(b);
        }
        int t = pt_value_token(v, sv, ns);
        if (t < 0) {
            snprintf(err, errcap, "row %d: a table value has no value token", r + 1);
            goto done;
        }
        out->tab[i] = (int16_t)t;
    }
    rc = 0;
done:
    valset_free(&dom[0]);
    valset_free(&dom[1]);
    rasp_program_free(&p);
    return rc;
}

int pt_rank0(size_t n) {
    if (n == 0 || n > (size_t)(PT_VAL_INT_MAX - PT_VAL_INT_MIN + 1)) return INT_MIN;
    return n <= (size_t)PT_VAL_INT_MAX + 1 ? 0 : PT_VAL_INT_MIN;
}

int pt_row_input_sizes(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                       int max_seq_len, size_t *size, char *err, size_t errcap) {
    const PtOp *o = &rows[r];
    int nin = o->op == PT_OP_MAP || o->op == PT_OP_SELWIDTH ? 1 : 2;
    size[0] = size[1] = 1;
    if (r >= n) {
        snprintf(err, errcap, "row %d out of range", r + 1);
        return 1;
    }
    for (int j = 0; j < nin; j++) {
        int a = o->arg[j];
        if (a == PT_SRC_TOKENS || a == PT_SRC_INDICES) {
            size[j] = a == PT_SRC_INDICES ? (size_t)max_seq_len : (size_t)n_vocab;
            continue;
        }
        if (a < 0 || a >= r || rows[a].enc != PT_ENC_CAT) {
            snprintf(err, errcap, "row %d: argument %d is not a categorical SOp before it", r + 1,
                     j + 1);
            return 1;
        }
        /* the rows up to the argument are its program (row r may hold anything) */
        RaspProgram p;
        if (pt_build_program(rows, a + 1, vocab, n_vocab, max_seq_len, &p, err, errcap)) return 1;
        ValueSet dom;
        valset_init(&dom);
        int e = expr_of_row(&p, a);
        int rc = e < 0 || domain_of(&p, e, vocab, n_vocab, max_seq_len, &dom, err, errcap);
        size[j] = dom.n;
        valset_free(&dom);
        rasp_program_free(&p);
        if (rc) return 1;
    }
    return 0;
}

int pt_row_rank_table(const PtOp *rows, int n, int r, const Value *vocab, int n_vocab,
                      int max_seq_len, bool second_major, PtOp *out, char *err, size_t errcap) {
    const PtOp *o = &rows[r];
    if ((o->op != PT_OP_MAP && o->op != PT_OP_SEQMAP) || o->enc != PT_ENC_CAT) {
        snprintf(err, errcap, "row %d is not a categorical Map or SequenceMap", r + 1);
        return 1;
    }
    size_t size[2];
    if (pt_row_input_sizes(rows, n, r, vocab, n_vocab, max_seq_len, size, err, errcap)) return 1;
    size_t cells = size[0] * size[1];
    int rank0 = pt_rank0(cells);
    if (cells > PT_MAX_TABLE || rank0 == INT_MIN) {
        snprintf(err, errcap, "row %d: %zu ranks have no value tokens", r + 1, cells);
        return 1;
    }
    *out = *o;
    out->fn = PT_FN_TABLE;
    out->ntab = (int16_t)cells;
    for (size_t k = 0; k < cells; k++) {
        size_t rank = second_major ? (k % size[1]) * size[0] + k / size[1] : k;
        out->tab[k] = (int16_t)(PT_VAL_INT0 + rank0 + (int)rank - PT_VAL_INT_MIN);
    }
    return 0;
}
