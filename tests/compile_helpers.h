/* Test helpers: a model compiled with the default options from .rasp text or a file, or NULL
 * with the parse or compile error on stderr (the caller's CHECK then fails); and the brute-force
 * reference for comparing two models' functions. */
#ifndef ITRACR_TEST_COMPILE_HELPERS_H
#define ITRACR_TEST_COMPILE_HELPERS_H
#include <stdio.h>

#include "compiler/model.h"
#include "dataset/model_hash.h"
#include "gen/program_tokens.h"
#include "rasp/rasp.h"

static inline CompiledModel *tc_compile_program(const RaspProgram *p, const char *where) {
    char err[1024];
    CompiledModel *m = NULL;
    if (compile_program(p, NULL, &m, err, sizeof err))
        fprintf(stderr, "  %s: compile: %s\n", where, err);
    return m;
}

static inline CompiledModel *tc_compile_text(const char *text) {
    RaspProgram p;
    char err[1024];
    if (rasp_parse("t.rasp", text, &p, err, sizeof err)) {
        fprintf(stderr, "  parse: %s\n", err);
        rasp_program_free(&p);
        return NULL;
    }
    CompiledModel *m = tc_compile_program(&p, "t.rasp");
    rasp_program_free(&p);
    return m;
}

static inline CompiledModel *tc_compile_file(const char *path) {
    RaspProgram p;
    char err[1024];
    if (rasp_parse_file(path, &p, err, sizeof err)) {
        fprintf(stderr, "  %s\n", err);
        rasp_program_free(&p);
        return NULL;
    }
    CompiledModel *m = tc_compile_program(&p, path);
    rasp_program_free(&p);
    return m;
}

/* p's compiled model as its name-independent hash (model_hash128) in hash[0..1]; hash[2] = 1
 * when it compiled and hashed, else 0 (the error on stderr). */
static inline void tc_model_hash(const RaspProgram *p, uint64_t *hash) {
    hash[0] = hash[1] = hash[2] = 0;
    CompiledModel *m = tc_compile_program(p, "program");
    if (m) hash[2] = model_hash128(m, hash) == 0;
    compiled_model_free(m);
}

/* The program tokens of .rasp text: 1, or 0 with the error on stderr. */
static inline int tc_table_of(const char *src, int16_t *tab) {
    RaspProgram p;
    char err[512];
    int ok = rasp_parse("t.rasp", src, &p, err, sizeof err) == 0 &&
             pt_encode(&p, tab, err, sizeof err) == 0;
    if (!ok) fprintf(stderr, "table: %s\n", err);
    rasp_program_free(&p);
    return ok;
}

/* Inputs (every length 1..N over a's vocabulary) on which a and b give a different output at
 * some position, each run through model_run: the reference count for the function checks.
 * *total (may be NULL) gets the inputs run. -1 when a run fails. */
static inline long tc_brute_disagree(const CompiledModel *a, const CompiledModel *b, long *total) {
    Value voc[64];
    int nv = 0;
    for (int i = 0; i < a->vocab_size && nv < 64; i++)
        if (i != a->bos_id && i != a->pad_id) voc[nv++] = a->tokens[i];
    long bad = 0, n = 0;
    for (int l = 1; l <= a->max_seq_len && l <= 16; l++) {
        int dig[16] = {0};
        for (;;) {
            Value xs[16], oa[16], ob[16];
            double ra[16], rb[16];
            char err[256];
            for (int i = 0; i < l; i++) xs[i] = voc[dig[i]];
            if (model_run(a, xs, l, true, oa, ra, err, sizeof err) != 0 ||
                model_run(b, xs, l, true, ob, rb, err, sizeof err) != 0)
                return -1;
            int diff = 0;
            for (int i = 0; i < l; i++) diff |= !val_eq(oa[i], ob[i]);
            bad += diff;
            n++;
            int i = l - 1;
            while (i >= 0 && ++dig[i] == nv) dig[i--] = 0;
            if (i < 0) break;
        }
    }
    if (total) *total = n;
    return bad;
}

#endif
