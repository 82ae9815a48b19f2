/* Canonical row order of a program: merge identical operations, drop what the output does
 * not use, order by compiled sublayer then by row tokens, and rename v1..vN. */
#include <stdio.h>
#include <string.h>

#include "gen/program_tokens.h"

/* Tables: shorter first, then by their value tokens (only fn == PT_FN_TABLE has one). */
static int cmp_tables(const PtOp *a, const PtOp *b) {
    if (a->fn != PT_FN_TABLE || b->fn != PT_FN_TABLE) return 0;
    if (a->ntab != b->ntab) return a->ntab < b->ntab ? -1 : 1;
    for (int i = 0; i < a->ntab; i++)
        if (a->tab[i] != b->tab[i]) return a->tab[i] < b->tab[i] ? -1 : 1;
    return 0;
}

static int same_op(const PtOp *a, const PtOp *b) {
    return a->op == b->op && a->enc == b->enc && a->fn == b->fn && a->arg[0] == b->arg[0] &&
           a->arg[1] == b->arg[1] && cmp_tables(a, b) == 0;
}

/* Row tokens of op i with variables named by newname (row index, -1 = not yet named). */
static int row_tokens(const PtOp *o, const int *newname, int16_t *t) {
    t[0] = o->op;
    t[1] = o->enc;
    t[2] = o->fn;
    for (int j = 0; j < 2; j++) {
        int a = o->arg[j];
        if (a == PT_SRC_NONE) t[3 + j] = PT_ARG_NONE;
        else if (a == PT_SRC_TOKENS) t[3 + j] = PT_ARG_TOKENS;
        else if (a == PT_SRC_INDICES) t[3 + j] = PT_ARG_INDICES;
        else if (newname[a] < 0) return -1;
        else t[3 + j] = (int16_t)(PT_ARG_V1 + newname[a]);
    }
    return 0;
}

static int cmp_rows(const int16_t *a, const int16_t *b) {
    for (int c = 0; c < 5; c++)
        if (a[c] != b[c]) return a[c] < b[c] ? -1 : 1;
    return 0;
}

int pt_canonicalize(const PtOp *ops, int n, int output, PtOp *out, int *n_out, char *err,
                    size_t errcap) {
    *n_out = 0;
    if (n <= 0 || output < 0 || output >= n) {
        snprintf(err, errcap, "program has no output operation");
        return 1;
    }
    if (n > PT_MAX_INPUT_EXPRS) {
        snprintf(err, errcap, "program has %d operations; at most %d are supported", n,
                 PT_MAX_INPUT_EXPRS);
        return 1;
    }
    PtOp m[PT_MAX_INPUT_EXPRS];
    int rep[PT_MAX_INPUT_EXPRS];
    for (int i = 0; i < n; i++) {
        m[i] = ops[i];
        for (int j = 0; j < 2; j++) {
            int a = ops[i].arg[j];
            if (a >= i || a < PT_SRC_INDICES) {
                snprintf(err, errcap, "operation %d: argument %d refers to operation %d", i, j + 1,
                         a);
                return 1;
            }
            if (a >= 0) m[i].arg[j] = (int16_t)rep[a];
        }
        rep[i] = i;
        for (int k = 0; k < i; k++)
            if (rep[k] == k && same_op(&m[k], &m[i])) {
                rep[i] = k;
                break;
            }
    }
    int key[PT_MAX_INPUT_EXPRS];
    pt_sort_keys(m, n, rep[output], key);

    /* Stable insertion sort of the reachable operations by key. */
    int order[PT_MAX_INPUT_EXPRS], cnt = 0;
    for (int i = 0; i < n; i++) {
        if (key[i] < 0) continue;
        int p = cnt++;
        while (p > 0 && key[order[p - 1]] > key[i]) {
            order[p] = order[p - 1];
            p--;
        }
        order[p] = i;
    }
    if (cnt > PT_MAX_VARS) {
        snprintf(err, errcap, "program has %d operations; program tokens hold at most %d", cnt,
                 PT_MAX_VARS);
        return 1;
    }
    int newname[PT_MAX_INPUT_EXPRS];
    for (int i = 0; i < n; i++) newname[i] = -1;
    int16_t tok[PT_MAX_VARS][5];
    int next = 0;
    for (int g = 0; g < cnt;) {
        int e = g;
        while (e < cnt && key[order[e]] == key[order[g]]) e++;
        /* Inside a group no row depends on another, so every argument is already named. */
        for (int a = g; a < e; a++)
            if (row_tokens(&m[order[a]], newname, tok[a]) != 0) {
                snprintf(err, errcap, "operation %d: an argument is not computed before it",
                         order[a]);
                return 1;
            }
        for (int a = g + 1; a < e; a++) {
            int16_t t[5];
            int oi = order[a];
            memcpy(t, tok[a], sizeof t);
            int p = a;
            int c;
            while (p > g && ((c = cmp_rows(tok[p - 1], t)) > 0 ||
                             (c == 0 && cmp_tables(&m[order[p - 1]], &m[oi]) > 0))) {
                memcpy(tok[p], tok[p - 1], sizeof t);
                order[p] = order[p - 1];
                p--;
            }
            memcpy(tok[p], t, sizeof t);
            order[p] = oi;
        }
        for (int a = g; a < e; a++) {
            int i = order[a];
            newname[i] = next;
            PtOp *o = &out[next++];
            *o = m[i];
            for (int j = 0; j < 2; j++)
                if (o->arg[j] >= 0) o->arg[j] = (int16_t)newname[o->arg[j]];
        }
        g = e;
    }
    *n_out = next;
    return 0;
}
