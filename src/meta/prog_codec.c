/* Flat program tokens (meta.h). */
#include "meta/meta.h"

#include <stdio.h>
#include <string.h>

#include "gen/lambda_lib.h"

static const char *const k_colname[PT_COLS + 1] = {"op", "enc", "fn", "a1", "a2", "out", "val"};

/* Column sizes of the flat vocabulary's first part, frozen: the fn column as it was before
 * "table" (its ids from PT_FN_TABLE on are flat tokens of the second part). */
static int base_size(int col) { return col == PT_COL_FN ? PT_FN_TABLE : pt_vocab_size(col); }

int pc_col_offset(int col) {
    int off = PC_FIRST;
    for (int c = 0; c < col && c < PT_COLS; c++) off += base_size(c) - 3;
    return off;
}

int pc_vocab_size(void) {
    char err[200];
    if (gen_lib_init(err, sizeof err) != 0) return 0;
    /* library entries beyond PT_LIB_V1 (none yet) follow the value tokens */
    return PC_VAL_END + 1 + (pt_vocab_size(PT_COL_FN) - PT_FN_TABLE - 1);
}

int pc_flat(int col, int id) {
    if (col < 0 || col >= PT_COLS || id < 3 || id >= pt_vocab_size(col)) return -1;
    if (col == PT_COL_FN && id >= PT_FN_TABLE)
        return id == PT_FN_TABLE ? PC_FN_TABLE : PC_VAL_END + (id - PT_FN_TABLE);
    return pc_col_offset(col) + id - 3;
}

int pc_flat_value(int id) {
    if (id == PT_END) return PC_VAL_END;
    if (id < 3 || id >= PT_VAL_VOCAB) return -1;
    return PC_VAL0 + id - 3;
}

int pc_unflat(int flat, int *col, int *id) {
    if (flat < PC_FIRST) return -1;
    for (int c = 0; c < PT_COLS; c++) {
        int lo = pc_col_offset(c), n = base_size(c) - 3;
        if (flat >= lo && flat < lo + n) {
            *col = c;
            *id = flat - lo + 3;
            return 0;
        }
    }
    if (flat == PC_FN_TABLE) {
        *col = PT_COL_FN;
        *id = PT_FN_TABLE;
        return 0;
    }
    if (flat >= PC_VAL0 && flat <= PC_VAL_END) {
        *col = PC_COL_VAL;
        *id = flat == PC_VAL_END ? PT_END : flat - PC_VAL0 + 3;
        return 0;
    }
    if (flat > PC_VAL_END && flat < pc_vocab_size()) {
        *col = PT_COL_FN;
        *id = PT_FN_TABLE + (flat - PC_VAL_END);
        return 0;
    }
    return -1;
}

const char *pc_token_name(int flat, char *buf, size_t cap) {
    static const char *const special[3] = {"PAD", "BOS", "EOS"};
    int col, id;
    if (flat >= 0 && flat < PC_FIRST) snprintf(buf, cap, "%s", special[flat]);
    else if (pc_unflat(flat, &col, &id) == 0)
        snprintf(buf, cap, "%s:%s", k_colname[col],
                 col == PC_COL_VAL ? pt_value_name(id) : pt_token_name(col, id));
    else snprintf(buf, cap, "#%d", flat);
    return buf;
}

int pc_encode(const int16_t *table, int32_t *seq, int *len, char *err, size_t errcap) {
    *len = 0;
    char e2[200];
    if (gen_lib_init(e2, sizeof e2) != 0) {
        snprintf(err, errcap, "lambda library: %s", e2);
        return 1;
    }
    for (int c = 0; c < PT_COLS; c++)
        if (table[c] != PT_START) {
            snprintf(err, errcap, "row 0: expected the START row");
            return 1;
        }
    int end = -1;
    for (int row = 1; row < PT_ROWS && end < 0; row++)
        if (table[row * PT_COLS] == PT_END) end = row;
    if (end < 0) {
        snprintf(err, errcap, "missing END row");
        return 1;
    }
    for (int c = 1; c < PT_COLS; c++)
        if (table[end * PT_COLS + c] != PT_END) {
            snprintf(err, errcap, "row %d: incomplete END row", end);
            return 1;
        }
    int n = 0, at = (end + 1) * PT_COLS; /* the next table value */
    const int cap = PT_ROWS * PT_COLS;
    for (int row = 1; row < end; row++) {
        const int16_t *t = table + row * PT_COLS;
        for (int c = 0; c < PT_COLS; c++) {
            int f = pc_flat(c, t[c]);
            if (f < 0) {
                snprintf(err, errcap, "row %d: id %d is not an operation token of column %s", row,
                         t[c], k_colname[c]);
                return 1;
            }
            seq[n++] = f;
        }
        if (t[PT_COL_FN] != PT_FN_TABLE) continue;
        /* the table's values, then END (a sequence never outgrows the table it came from) */
        int k = 0;
        for (;; k++) {
            int v = at < cap ? table[at++] : PT_PAD;
            int f = pc_flat_value(v);
            if (f < 0 || (v == PT_END && k == 0)) {
                snprintf(err, errcap,
                         "row %d: the table is not a list of value tokens closed by END", row);
                return 1;
            }
            seq[n++] = f;
            if (v == PT_END) break;
        }
    }
    seq[n++] = PC_EOS;
    *len = n;
    return 0;
}

int pc_decode(const int32_t *seq, int len, int16_t *table, char *err, size_t errcap) {
    memset(table, 0, sizeof(int16_t) * PT_ROWS * PT_COLS);
    for (int c = 0; c < PT_COLS; c++) table[c] = PT_START;
    if (len < 1 || len > PC_MAX_LEN || seq[len - 1] != PC_EOS) {
        snprintf(err, errcap, "sequence of %d tokens does not end with EOS", len);
        return 1;
    }
    int16_t vals[PT_ROWS * PT_COLS];
    int rows = 0, nv = 0, field = 0, in_table = 0;
    for (int i = 0; i < len - 1; i++) {
        int col, id;
        char nb[64];
        int want = in_table ? PC_COL_VAL : field;
        if (pc_unflat(seq[i], &col, &id) != 0 || col != want) {
            snprintf(err, errcap, "position %d: %s is not a token of column %s", i,
                     pc_token_name(seq[i], nb, sizeof nb), k_colname[want]);
            return 1;
        }
        if (in_table) {
            if (nv >= PT_ROWS * PT_COLS) {
                snprintf(err, errcap, "position %d: too many table values", i);
                return 1;
            }
            vals[nv++] = (int16_t)id;
            if (id == PT_END) in_table = 0;
            continue;
        }
        if (field == 0 && rows >= PT_MAX_VARS) {
            snprintf(err, errcap, "position %d: more than %d rows", i, PT_MAX_VARS);
            return 1;
        }
        table[(1 + rows) * PT_COLS + col] = (int16_t)id;
        if (++field == PT_COLS) {
            field = 0;
            in_table = table[(1 + rows) * PT_COLS + PT_COL_FN] == PT_FN_TABLE;
            rows++;
        }
    }
    if (field != 0 || in_table) {
        snprintf(err, errcap, "EOS at position %d is not at the start of a row", len - 1);
        return 1;
    }
    for (int c = 0; c < PT_COLS; c++) table[(rows + 1) * PT_COLS + c] = PT_END;
    if ((rows + 2) * PT_COLS + nv > PT_ROWS * PT_COLS) {
        snprintf(err, errcap, "the tables' values do not fit after the END row");
        return 1;
    }
    memcpy(table + (rows + 2) * PT_COLS, vals, sizeof(int16_t) * (size_t)nv);
    return 0;
}
