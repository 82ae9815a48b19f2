/* Decoding constraint (constrain.h). The row rules mirror pt_tokens_to_ops/check_row in
 * gen/program_tokens.c; tests/test_train.c checks with random walks that every sequence the
 * constraint lets through decodes. */
#include "meta/constrain.h"

#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "meta/prog_codec.h"

/* What the decoder knows about the rows written so far. */
typedef struct State {
    int n;                     /* complete rows */
    int is_sel[PT_MAX_VARS];   /* row k is a Select */
    int enc[PT_MAX_VARS];      /* row k's enc id */
    int used[PT_MAX_VARS];     /* row k is an argument of a later row */
    int s, k;                  /* unused Selects, unused SOps */
} State;

/* Rows needed at most to consume s unused Selects and k unused SOps so that one unused SOp
 * (the output) is left: each Select takes one row (Aggregate with an unused SOp, or a
 * SelectorWidth when there is none); merging two SOps takes one row (SequenceMap of two
 * categorical, LinearSequenceMap of two numerical) or two (a numerical Map of the
 * categorical one first). */
static int rows_needed(int s, int k) {
    if (s == 0 && k == 0) return 1;
    int kk = k > 0 ? k : 1;
    return s + 2 * (kk - 1);
}

static int fn_kind_ok(int op, int fn) {
    if (fn < 0) return 1; /* not chosen yet: every op has at least one valid fn */
    switch (op) {
    case PT_OP_MAP:
    case PT_OP_SEQMAP:
    case PT_OP_LINSEQMAP: {
        const GenFn *e = fn >= PT_FN_LIB0 ? gen_lib_get(fn - PT_FN_LIB0) : NULL;
        GenFnKind want = op == PT_OP_MAP ? GEN_FN_MAP : op == PT_OP_SEQMAP ? GEN_FN_SEQMAP : GEN_FN_LINEAR;
        return e && e->kind == want;
    }
    case PT_OP_SELECT: return fn >= PT_FN_PRED0 && fn < PT_FN_LIB0;
    default: return fn == PT_FN_NONE;
    }
}

/* Argument a (a1/a2 column id): 0 none, 1 an SOp of encoding *enc, 2 a Select; -1 invalid. */
static int arg_kind(const State *st, int a, int *enc) {
    if (a == PT_ARG_NONE) return 0;
    if (a == PT_ARG_TOKENS || a == PT_ARG_INDICES) {
        *enc = PT_ENC_CAT;
        return 1;
    }
    int v = a - PT_ARG_V1;
    if (v < 0 || v >= st->n) return -1;
    *enc = st->enc[v];
    return st->is_sel[v] ? 2 : 1;
}

/* pt_tokens_to_ops' rules for one row (fn < 0: any). */
static int row_ok(const State *st, int op, int enc, int fn, int a1, int a2) {
    int e1 = 0, e2 = 0;
    int k1 = arg_kind(st, a1, &e1), k2 = arg_kind(st, a2, &e2);
    if (k1 < 0 || k2 < 0) return 0;
    if (op == PT_OP_SELECT ? enc != PT_ENC_NONE : (enc != PT_ENC_CAT && enc != PT_ENC_NUM)) return 0;
    if (!fn_kind_ok(op, fn)) return 0;
    switch (op) {
    case PT_OP_MAP: return k1 == 1 && k2 == 0;
    case PT_OP_SEQMAP: return enc == PT_ENC_CAT && k1 == 1 && e1 == PT_ENC_CAT && k2 == 1 && e2 == PT_ENC_CAT;
    case PT_OP_LINSEQMAP: return enc == PT_ENC_NUM && k1 == 1 && e1 == PT_ENC_NUM && k2 == 1 && e2 == PT_ENC_NUM;
    case PT_OP_SELECT: return k1 == 1 && e1 == PT_ENC_CAT && k2 == 1 && e2 == PT_ENC_CAT;
    case PT_OP_AGGREGATE: return k1 == 2 && k2 == 1 && e2 == enc;
    case PT_OP_SELWIDTH: return k1 == 2 && k2 == 0;
    default: return 0;
    }
}

/* After adding the row, can the remaining rows still finish the program? */
static int row_feasible(const State *st, int op, int a1, int a2) {
    int s = st->s, k = st->k;
    int v1 = a1 - PT_ARG_V1, v2 = a2 - PT_ARG_V1;
    if (v1 >= 0 && !st->used[v1]) {
        if (st->is_sel[v1]) s--;
        else k--;
    }
    if (v2 >= 0 && v2 != v1 && !st->used[v2]) {
        if (st->is_sel[v2]) s--;
        else k--;
    }
    if (op == PT_OP_SELECT) s++;
    else k++;
    return rows_needed(s, k) <= PT_MAX_VARS - (st->n + 1);
}

/* Candidate ids of a column (a1/a2: only "-", tokens, indices and defined variables). */
static int col_lo(int c) { return c == PT_COL_OP ? PT_OP_MAP : 3; }
static int col_hi(const State *st, int c) {
    if (c == PT_COL_A1 || c == PT_COL_A2) return PT_ARG_V1 + st->n;
    if (c == PT_COL_OP) return PT_OP_SELWIDTH + 1;
    if (c == PT_COL_ENC) return PT_ENC_NONE + 1;
    return pt_vocab_size(c);
}

/* Is there a completion of the row whose fields f[0..c) are fixed? fn (column 2) is never
 * enumerated: when unset it is "any valid one". */
static int completable(const State *st, int *f, int c) {
    if (c >= PT_COL_OUT) {
        if (!row_ok(st, f[0], f[1], f[2], f[3], f[4])) return 0;
        return row_feasible(st, f[0], f[3], f[4]);
    }
    if (c == PT_COL_FN && f[2] < 0) {
        if (!fn_kind_ok(f[0], -1)) return 0;
        return completable(st, f, c + 1);
    }
    if (c == PT_COL_FN) return fn_kind_ok(f[0], f[2]) && completable(st, f, c + 1);
    int lo = col_lo(c), hi = col_hi(st, c);
    for (int v = lo; v < hi; v++) {
        f[c] = v;
        /* cheap pruning before descending */
        int ok = 1;
        if (c == PT_COL_ENC && (f[0] == PT_OP_SELECT) != (v == PT_ENC_NONE)) ok = 0;
        if (ok && completable(st, f, c + 1)) {
            f[c] = -1;
            return 1;
        }
    }
    f[c] = -1;
    return 0;
}

int pc_allowed(const int32_t *seq, int n, unsigned char *allowed) {
    int V = pc_vocab_size();
    memset(allowed, 0, (size_t)V);
    State st;
    memset(&st, 0, sizeof st);
    int f[PT_COLS];
    for (int i = 0; i < n; i++) {
        int col, id;
        if (seq[i] == PC_EOS) return 0;
        if (pc_unflat(seq[i], &col, &id) != 0) return -1;
        if (col != i % PT_COLS) return 0;
        f[col] = id;
        if (col == PT_COL_OUT) {
            if (id != PT_OUT_V1 + st.n || !row_ok(&st, f[0], f[1], f[2], f[3], f[4])) return 0;
            for (int j = 3; j <= 4; j++) {
                int v = f[j] - PT_ARG_V1;
                if (v >= 0 && !st.used[v]) {
                    st.used[v] = 1;
                    if (st.is_sel[v]) st.s--;
                    else st.k--;
                }
            }
            st.is_sel[st.n] = f[0] == PT_OP_SELECT;
            st.enc[st.n] = f[1];
            if (st.is_sel[st.n]) st.s++;
            else st.k++;
            st.n++;
        }
    }
    int c = n % PT_COLS;
    int count = 0;
    if (c == PT_COL_OUT) {
        allowed[pc_flat(PT_COL_OUT, PT_OUT_V1 + st.n)] = 1;
        return 1;
    }
    for (int j = c; j < PT_COLS; j++) f[j] = -1;
    if (c == 0) {
        if (st.n >= 1 && st.s == 0 && st.k == 1) {
            allowed[PC_EOS] = 1;
            count++;
        }
        if (st.n >= PT_MAX_VARS) return count;
    } else {
        /* check the prefix of this row is still completable (else it broke the rules) */
        if (!completable(&st, f, c)) return 0;
    }
    int hi = c == PT_COL_FN ? pt_vocab_size(c) : col_hi(&st, c);
    for (int v = col_lo(c); v < hi; v++) {
        f[c] = v;
        int ok = 1;
        if (c == PT_COL_ENC && (f[0] == PT_OP_SELECT) != (v == PT_ENC_NONE)) ok = 0;
        if (ok && completable(&st, f, c + 1)) {
            allowed[pc_flat(c, v)] = 1;
            count++;
        }
        f[c] = -1;
    }
    return count;
}

int pc_constraint_fn(void *user, const int32_t *prog, int n, unsigned char *allowed) {
    (void)user;
    int V = pc_vocab_size();
    unsigned char *mine = malloc((size_t)V);
    if (!mine) return 1;
    int cnt = pc_allowed(prog + 1, n - 1, mine);
    for (int v = 0; v < V; v++)
        if (!mine[v]) allowed[v] = 0;
    free(mine);
    return cnt <= 0;
}
