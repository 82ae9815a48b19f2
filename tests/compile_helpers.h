/* Test helpers: a model compiled with the default options from .rasp text or a file, or NULL
 * with the parse or compile error on stderr (the caller's CHECK then fails). */
#ifndef ITRACR_TEST_COMPILE_HELPERS_H
#define ITRACR_TEST_COMPILE_HELPERS_H
#include <stdio.h>

#include "compiler/model.h"
#include "dataset/model_hash.h"
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

#endif
