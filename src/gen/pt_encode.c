/* Program -> program tokens (pt_encode, declared in program_tokens.h): each operation's row,
 * its function as a library entry or a table over its input's value set, then the canonical
 * rows. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "rasp/rasp.h"
/* The encoder's state for one program. A categorical Map or SequenceMap whose values have
 * no value token (floats, tuples: Tracr's sort keys x + i/5, nary_sequencemap's argument
 * tuples) is written with its values renamed to their ranks: Tracr lays a categorical
 * value set out in sorted order and reads it only through that order (MLP tables, Select
 * comparisons), so ranks compile to the same weights as long as the values never reach the
 * output (not the output, not aggregated). Its consumers are then written against the
 * renamed values: their tables list the same values in the same order, and a compact
 * spelling (comparison, library entry) is kept only where it agrees on the renamed set. */
typedef struct Enc {
    const RaspProgram *p;
    ValueSet *sets;            /* [n_exprs] value sets, inferred on first use (NULL before) */
    const unsigned char *reach; /* [n_exprs] 1: the output depends on it */
    int *rank0;                /* [n_exprs] INT_MIN: values kept; else its k-th value -> rank0 + k */
    char *err;
    size_t errcap;
} Enc;

#define KEPT INT_MIN

static int enc_fail(Enc *x, const RaspExpr *e, const char *what) {
    snprintf(x->err, x->errcap, "%s: %s", e->label ? e->label : "?", what);
    return 1;
}

/* Strictly the same value: same kind (1, 1.0 and True compile to different outputs). */
static bool same_value(Value a, Value b) { return a.kind == b.kind && val_eq(a, b); }

static int need_sets(Enc *x, const RaspExpr *e) {
    if (x->sets) return 0;
    const RaspProgram *p = x->p;
    x->sets = malloc(sizeof(ValueSet) * (size_t)p->n_exprs);
    if (!x->sets) return enc_fail(x, e, "out of memory");
    char why[300];
    if (rasp_infer_value_sets(p, p->vocab, p->n_vocab, p->max_seq_len, x->sets, why,
                              sizeof why)) {
        rasp_free_value_sets(x->sets, p->n_exprs);
        free(x->sets);
        x->sets = NULL;
        return enc_fail(x, e, why);
    }
    return 0;
}

/* Whether expression i may have its values renamed: a categorical Map or SequenceMap, not
 * the output, read only by Maps, SequenceMaps and Selects (an Aggregate would carry its
 * values on, a numerical operation would read them as numbers). */
static bool may_rename(const Enc *x, int i) {
    const RaspProgram *p = x->p;
    const RaspExpr *e = &p->exprs[i];
    if (i == p->output || e->enc != ENC_CATEGORICAL ||
        (e->kind != EXPR_MAP && e->kind != EXPR_SEQMAP))
        return false;
    for (int k = i + 1; k < p->n_exprs; k++) {
        const RaspExpr *c = &p->exprs[k];
        if (!x->reach[k] || (c->child[0] != i && c->child[1] != i)) continue;
        if (c->kind != EXPR_MAP && c->kind != EXPR_SEQMAP && c->kind != EXPR_SELECT) return false;
    }
    return true;
}

/* dom: the value set of expression c in the compiler's order, as the encoded program will
 * have it (ranks where c's values are renamed). */
static void decoded_domain(const Enc *x, int c, const ValueSet *truth, ValueSet *dom) {
    valset_copy(dom, truth);
    if (x->rank0[c] == KEPT) return;
    for (size_t k = 0; k < dom->n; k++) dom->items[k] = val_int(x->rank0[c] + (int)k);
}

/* outs[n] renamed to their ranks in e's sorted value set, when that is allowed and the
 * ranks fit the int value tokens. Returns 0, or non-zero (outs unchanged). */
static int rename_to_ranks(Enc *x, int i, Value *outs, size_t n) {
    if (!may_rename(x, i)) return 1;
    const RaspExpr *e = &x->p->exprs[i];
    ValueSet set;
    valset_init(&set);
    valset_copy(&set, &x->sets[i]);
    valset_sort(&set, e->label ? e->label : "x");
    int rc = 1, rank0 = pt_rank0(set.n);
    Value ranks[PT_MAX_TABLE];
    if (rank0 == INT_MIN) goto done;
    for (size_t k = 0; k < n; k++) {
        size_t at = 0;
        while (at < set.n && !same_value(set.items[at], outs[k])) at++;
        if (at == set.n) goto done; /* not in the inferred set: renaming could change it */
        ranks[k] = val_int(rank0 + (int)at);
    }
    memcpy(outs, ranks, sizeof(Value) * n);
    x->rank0[i] = rank0;
    rc = 0;
done:
    valset_free(&set);
    return rc;
}

/* Expression i's function by its values: the comparison (a Select) or the library entry of
 * its kind with the same values on the input's value set, else its table (o->fn, o->ntab,
 * o->tab). Returns 0, or non-zero with a message. */
static int encode_by_values(Enc *x, int i, PtOp *o) {
    const RaspProgram *p = x->p;
    const RaspExpr *e = &p->exprs[i];
    if (!p->has_vocab || p->n_vocab <= 0) {
        char body[200] = "", what[300];
        if (e->fn) py_format(e->fn->body, e->fn->params, body, sizeof body);
        snprintf(
            what, sizeof what,
            e->kind == EXPR_SELECT
                ? "lambda predicate `%s` has no token form without the program's vocabulary (its table needs the value sets)"
                : "function `%s` is not in the lambda library (and, without the program's vocabulary, has no table)",
            body);
        return enc_fail(x, e, what);
    }
    if (need_sets(x, e)) return 1;
    bool pred = e->kind == EXPR_SELECT; /* a predicate on (key, query) */
    int nin = e->kind == EXPR_MAP ? 1 : 2;
    ValueSet dom[2], ddom[2]; /* the inputs' value sets: true, and as encoded */
    for (int j = 0; j < 2; j++) valset_init(&dom[j]), valset_init(&ddom[j]);
    int rc = 1;
    Value args[2], outs[PT_MAX_TABLE];
    int n = 0;
    for (int j = 0; j < nin; j++) {
        const RaspExpr *c = &p->exprs[e->child[j]];
        /* Tracr compiles a Map of a numerical SOp from its values on that SOp's value set
         * (a discretising MLP), so the table holds it; Select and SequenceMap read only
         * categorical SOps */
        if (c->enc != ENC_CATEGORICAL && nin == 2) {
            enc_fail(x, e,
                     pred ? "a lambda predicate on a numerical SOp has no token form"
                          : "a SequenceMap of a numerical SOp has no token form");
            goto done;
        }
        valset_copy(&dom[j], &x->sets[e->child[j]]);
        valset_sort(&dom[j], c->label ? c->label : "x");
        decoded_domain(x, e->child[j], &dom[j], &ddom[j]);
    }
    size_t total = nin == 1 ? dom[0].n : dom[0].n * dom[1].n;
    if (pred) {
        /* the compact spelling: the first comparison that agrees on every pair (one that
         * raises on some pair does not); no table needed, so no size limit */
        for (int c = PRED_EQ; c <= PRED_FALSE; c++) {
            RaspExpr cmp = *e;
            cmp.pred = (Pred)c;
            bool same = total > 0;
            for (size_t k = 0; k < total && same; k++) {
                bool b, want;
                char msg[200];
                size_t kk = k / dom[1].n, q = k % dom[1].n;
                same = rasp_select_pred(e, dom[0].items[kk], dom[1].items[q], &want, msg,
                                        sizeof msg) == 0 &&
                       rasp_select_pred(&cmp, ddom[0].items[kk], ddom[1].items[q], &b, msg,
                                        sizeof msg) == 0 &&
                       b == want;
            }
            if (same) {
                o->fn = (int16_t)(PT_FN_PRED0 + c);
                rc = 0;
                goto done;
            }
        }
    }
    if (total == 0 || total > PT_MAX_TABLE) {
        char what[120];
        snprintf(what, sizeof what, "a table over %zu inputs has no token form (1 to %d)", total,
                 PT_MAX_TABLE);
        enc_fail(x, e, what);
        goto done;
    }
    for (size_t k = 0; k < total; k++) {
        args[0] = dom[0].items[nin == 1 ? k : k / dom[1].n];
        if (nin == 2) args[1] = dom[1].items[k % dom[1].n];
        char msg[200];
        bool b = false;
        if (pred ? rasp_select_pred(e, args[0], args[1], &b, msg, sizeof msg) != 0
                 : lambda_call(e->fn, args, &outs[n], msg, sizeof msg) != PYERR_OK) {
            char what[300];
            snprintf(what, sizeof what, "the function raises on its value set (%s)", msg);
            enc_fail(x, e, what);
            goto done;
        }
        if (pred) outs[n] = val_bool(b);
        n++;
    }
    Value sv[32];
    int ns = pt_sorted_vocab(p->vocab, p->n_vocab, sv);
    bool tokenless = false;
    for (size_t k = 0; k < total && !pred; k++) tokenless |= pt_value_token(outs[k], sv, ns) < 0;
    if (tokenless) rename_to_ranks(x, i, outs, total); /* else the error below names the value */
    /* the compact spelling: the first library entry with the same values */
    GenFnKind kind = nin == 1 ? GEN_FN_MAP : GEN_FN_SEQMAP;
    for (int l = 0; l < gen_lib_count() && !pred; l++) {
        if (gen_lib_get(l)->kind != kind) continue;
        bool same = true;
        for (size_t k = 0; k < total && same; k++) {
            args[0] = ddom[0].items[nin == 1 ? k : k / dom[1].n];
            if (nin == 2) args[1] = ddom[1].items[k % dom[1].n];
            Value r;
            same = gen_lib_call(l, args, &r) == PYERR_OK && same_value(r, outs[k]);
        }
        if (same) {
            o->fn = (int16_t)pt_fn_of_lib(l);
            rc = 0;
            goto done;
        }
    }
    o->fn = PT_FN_TABLE;
    o->ntab = (int16_t)total;
    for (size_t k = 0; k < total; k++) {
        int t = pt_value_token(outs[k], sv, ns);
        if (t < 0) {
            char v[64], what[200];
            val_repr_fmt(outs[k], v, sizeof v);
            snprintf(what, sizeof what,
                     "table value %s has no value token (ints %d..%d, bools, the vocabulary)", v,
                     PT_VAL_INT_MIN, PT_VAL_INT_MAX);
            enc_fail(x, e, what);
            goto done;
        }
        o->tab[k] = (int16_t)t;
    }
    rc = 0;
done:
    for (int j = 0; j < 2; j++) valset_free(&dom[j]), valset_free(&ddom[j]);
    return rc;
}

/* reach[i] = 1 for every expression the output depends on. */
static int mark_reachable(const RaspProgram *p, unsigned char *reach, char *err, size_t errcap) {
    reach[p->output] = 1;
    for (int i = p->n_exprs - 1; i >= 0; i--)
        if (reach[i])
            for (int j = 0; j < 2; j++) {
                int c = p->exprs[i].child[j];
                if (c >= 0 && c < i) reach[c] = 1;
                else if (c >= i) {
                    snprintf(err, errcap, "%s: child %d is not defined before it",
                             p->exprs[i].label, c);
                    return 1;
                }
            }
    return 0;
}

/* Whether an argument of e has its values renamed (then e's function is read by its values). */
static bool reads_renamed(const Enc *x, const RaspExpr *e) {
    for (int j = 0; j < 2; j++)
        if (e->child[j] >= 0 && x->rank0[e->child[j]] != KEPT) return true;
    return false;
}

/* The row of expression i (not tokens or indices); src maps earlier expressions to their
 * sources. */
static int encode_op(Enc *x, int i, const int *src, PtOp *out) {
    const RaspProgram *p = x->p;
    const RaspExpr *e = &p->exprs[i];
    bool renamed_in = reads_renamed(x, e);
    PtOp o;
    memset(&o, 0, sizeof o);
    o.enc = e->enc == ENC_NUMERICAL ? PT_ENC_NUM : PT_ENC_CAT;
    o.fn = PT_FN_NONE;
    o.arg[0] = o.arg[1] = PT_SRC_NONE;
    int lib = -1, nargs = 2;
    switch (e->kind) {
    case EXPR_MAP:
        o.op = PT_OP_MAP;
        nargs = 1;
        lib = renamed_in ? -1 : gen_lib_lookup_lambda(GEN_FN_MAP, e->fn);
        break;
    case EXPR_SEQMAP:
        o.op = PT_OP_SEQMAP;
        lib = renamed_in ? -1 : gen_lib_lookup_lambda(GEN_FN_SEQMAP, e->fn);
        break;
    case EXPR_LINSEQMAP:
        o.op = PT_OP_LINSEQMAP;
        lib = gen_lib_lookup_linear(e->lin_a, e->lin_b);
        break;
    case EXPR_SELECT:
        o.op = PT_OP_SELECT;
        o.enc = PT_ENC_NONE;
        if (e->pred != PRED_LAMBDA && !renamed_in) o.fn = (int16_t)(PT_FN_PRED0 + (int)e->pred);
        else if ((e->pred == PRED_LAMBDA && !e->fn) || e->child[0] < 0 || e->child[1] < 0)
            return enc_fail(x, e, "a lambda predicate without its function");
        else if (encode_by_values(x, i, &o)) return 1;
        break;
    case EXPR_AGGREGATE:
        o.op = PT_OP_AGGREGATE;
        if (e->enc == ENC_CATEGORICAL
                ? e->default_value.kind != VAL_NONE
                : !(val_is_number(e->default_value) && val_eq(e->default_value, val_int(0))))
            return enc_fail(
                x, e,
                "only default=None (categorical) or default=0 (numerical) have a token form");
        break;
    case EXPR_SELWIDTH:
        o.op = PT_OP_SELWIDTH;
        nargs = 1;
        break;
    default: {
        char what[120];
        snprintf(what, sizeof what, "%s has no program-token form", rasp_kind_name(e->kind));
        return enc_fail(x, e, what);
    }
    }
    if ((e->kind == EXPR_MAP || e->kind == EXPR_SEQMAP || e->kind == EXPR_LINSEQMAP)) {
        if (lib < 0 && e->kind != EXPR_LINSEQMAP && e->fn && e->child[0] >= 0 &&
            (e->kind == EXPR_MAP || e->child[1] >= 0)) {
            if (encode_by_values(x, i, &o)) return 1;
        } else if (lib < 0) {
            char body[200] = "";
            if (e->fn) py_format(e->fn->body, e->fn->params, body, sizeof body);
            char what[300];
            if (e->kind == EXPR_LINSEQMAP)
                snprintf(what, sizeof what, "coefficient pair not in the lambda library");
            else snprintf(what, sizeof what, "function `%s` is not in the lambda library", body);
            return enc_fail(x, e, what);
        }
        if (lib >= 0) o.fn = (int16_t)pt_fn_of_lib(lib);
    }
    if ((e->kind == EXPR_AGGREGATE || e->kind == EXPR_SELWIDTH) &&
        (e->child[0] < 0 || p->exprs[e->child[0]].kind != EXPR_SELECT))
        return enc_fail(x, e, "the selector must be a plain Select to have a token form");
    for (int j = 0; j < nargs; j++) {
        int c = e->child[j];
        if (c < 0) return enc_fail(x, e, "missing argument");
        o.arg[j] = (int16_t)src[c];
    }
    *out = o;
    return 0;
}

/* The canonical rows of the operations, as tokens; they must decode again. */
static int rows_to_tokens(const PtOp *ops, int nops, int out, int16_t *tokens, char *err,
                          size_t errcap) {
    PtOp rows[PT_MAX_VARS];
    int nrows;
    if (pt_canonicalize(ops, nops, out, rows, &nrows, err, errcap) != 0) return 1;
    if (!pt_tables_fit(rows, nrows)) {
        snprintf(err, errcap, "the tables' values do not fit after the END row (%d rows)", nrows);
        return 1;
    }
    pt_ops_to_tokens(rows, nrows, tokens);
    /* The table must decode: report Tracr typing problems (e.g. a Select on a numerical SOp)
     * here, in the decoder's words. */
    PtOp check[PT_MAX_VARS];
    int nc;
    char why[300];
    if (pt_tokens_to_ops(tokens, check, &nc, why, sizeof why) != 0) {
        snprintf(err, errcap, "canonical %s", why);
        return 1;
    }
    return 0;
}

int pt_encode(const RaspProgram *p, int16_t *tokens, char *err, size_t errcap) {
    if (gen_lib_init(err, errcap) != 0) return 1;
    if (!p || p->output < 0 || p->output >= p->n_exprs) {
        snprintf(err, errcap, "program has no output");
        return 1;
    }
    int n = p->n_exprs;
    unsigned char *reach = calloc((size_t)n, 1);
    int *src = malloc(sizeof(int) * (size_t)n), *rank0 = malloc(sizeof(int) * (size_t)n);
    Enc x = {p, NULL, reach, rank0, err, errcap};
    PtOp *ops = malloc(sizeof(PtOp) * (size_t)(n < PT_MAX_INPUT_EXPRS ? n : PT_MAX_INPUT_EXPRS));
    int rc = 1, nops = 0;
    if (!reach || !src || !rank0 || !ops) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    if (mark_reachable(p, reach, err, errcap)) goto done;
    for (int i = 0; i < n; i++) rank0[i] = KEPT;
    for (int i = 0; i < n; i++) {
        if (!reach[i]) continue;
        const RaspExpr *e = &p->exprs[i];
        if (e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES) {
            if (e->enc == ENC_NUMERICAL) {
                enc_fail(&x, e, "tokens and indices must be categorical");
                goto done;
            }
            src[i] = e->kind == EXPR_TOKENS ? PT_SRC_TOKENS : PT_SRC_INDICES;
            continue;
        }
        if (nops >= PT_MAX_INPUT_EXPRS) {
            snprintf(err, errcap, "program has more than %d operations", PT_MAX_INPUT_EXPRS);
            goto done;
        }
        if (encode_op(&x, i, src, &ops[nops])) goto done;
        src[i] = nops++;
    }
    if (src[p->output] < 0) {
        snprintf(err, errcap, "the output is %s itself; a program needs at least one operation",
                 p->exprs[p->output].label);
        goto done;
    }
    if (rows_to_tokens(ops, nops, src[p->output], tokens, err, errcap)) goto done;
    rc = 0;
done:
    if (x.sets) rasp_free_value_sets(x.sets, n);
    free(x.sets);
    free(reach);
    free(src);
    free(rank0);
    free(ops);
    return rc;
}
