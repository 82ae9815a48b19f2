/* libFuzzer target for the .rasp parser: any byte string must parse or fail cleanly; a
 * program that parses must print, re-parse to the same graph, and print identically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parse_compare.h"
#include "rasp/rasp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    RaspProgram p;
    char err[512];
    if (rasp_parse("fuzz.rasp", text, &p, err, sizeof err) != 0) {
        if (strncmp(err, "fuzz.rasp:", 10) != 0 || !strstr(err, ": error: ")) {
            fprintf(stderr, "malformed error message: %s\n", err);
            abort();
        }
        free(text);
        return 0;
    }
    char *once = rasp_format(&p);
    RaspProgram q;
    if (rasp_parse("formatted.rasp", once, &q, err, sizeof err) != 0) {
        fprintf(stderr, "formatted program does not parse: %s\n---\n%s---\n", err, once);
        abort();
    }
    const char *diff = pc_program_diff(&p, &q);
    if (diff) {
        fprintf(stderr, "re-parsed program differs: %s\n---\n%s---\n", diff, once);
        abort();
    }
    char *twice = rasp_format(&q);
    if (strcmp(once, twice) != 0) {
        fprintf(stderr, "format is not stable\n---\n%s---\n%s---\n", once, twice);
        abort();
    }
    /* the token reader against whatever vocabulary was parsed (fixed texts: every distinct
     * string is interned for the life of the process) */
    static const char *const toks[] = {"1", "-2", "2.5", "a", "True", "None", "", "1e999"};
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) (void)rasp_parse_token(&p, toks[i]);
    free(twice);
    free(once);
    rasp_program_free(&q);
    rasp_program_free(&p);
    free(text);
    return 0;
}
