/* Test helper: builds a program-token table from text, one "op enc fn a1 a2 out" row per
 * ';'-separated item, framed by START/END and padded (tokens by pt_token_id names; "#N" is
 * the raw id N, for garbage predictions). A row "END" ends the table early, "NOEND" leaves the
 * END row out. */
#ifndef ITRACR_TESTS_EVAL_TABLES_H
#define ITRACR_TESTS_EVAL_TABLES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/program_tokens.h"

static int16_t tab_id(int col, const char *name) {
    if (name[0] == '#') return (int16_t)atoi(name + 1);
    int id = pt_token_id(col, name);
    if (id < 0) {
        fprintf(stderr, "eval_tables.h: unknown token '%s' in column %d\n", name, col);
        abort();
    }
    return (int16_t)id;
}

static void tab_build(int16_t *t, const char *text) {
    memset(t, 0, sizeof(int16_t) * PT_ROWS * PT_COLS);
    for (int c = 0; c < PT_COLS; c++) t[c] = PT_START;
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", text);
    int row = 1, end = 1;
    char *save = NULL;
    for (char *item = strtok_r(buf, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
        char f[PT_COLS][32];
        int n = sscanf(item, "%31s %31s %31s %31s %31s %31s", f[0], f[1], f[2], f[3], f[4], f[5]);
        if (n == 1 && strcmp(f[0], "NOEND") == 0) {
            end = 0;
            continue;
        }
        if (n != PT_COLS) {
            fprintf(stderr, "eval_tables.h: bad row '%s'\n", item);
            abort();
        }
        for (int c = 0; c < PT_COLS; c++) t[row * PT_COLS + c] = tab_id(c, f[c]);
        row++;
    }
    if (end && row < PT_ROWS)
        for (int c = 0; c < PT_COLS; c++) t[row * PT_COLS + c] = PT_END;
}

#endif
