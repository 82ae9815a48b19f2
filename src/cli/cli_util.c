/* Argument helpers shared by the subcommands. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/json_util.h"

char *cli_find_shipped(const char *rel) {
    if (access(rel, R_OK) == 0) return strdup(rel);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = 0;
    const char *up[] = {"/../../", "/../", "/../share/itracr/"};
    for (size_t i = 0; i < sizeof up / sizeof *up; i++) {
        size_t len = strlen(exe) + strlen(up[i]) + strlen(rel) + 1;
        char *p = malloc(len);
        if (!p) return NULL;
        snprintf(p, len, "%s%s%s", exe, up[i], rel);
        if (access(p, R_OK) == 0) return p;
        free(p);
    }
    return NULL;
}

bool cli_is_help(const char *arg) { return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0; }

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "itracr %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see itracr %s --help)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

static int split_tokens(const RaspProgram *p, const char *text, const char *seps, Value *out,
                        int cap) {
    int n = 0;
    const char *s = text;
    while (*s) {
        s += strspn(s, seps);
        if (!*s) break;
        size_t len = strcspn(s, seps);
        if (n == cap) return -1;
        char *tok = strndup(s, len);
        if (!tok) abort();
        out[n++] = rasp_parse_token(p, tok);
        free(tok);
        s += len;
    }
    return n;
}

int cli_split_input(const RaspProgram *p, const char *text, Value *out, int cap) {
    return split_tokens(p, text, " \t", out, cap);
}

int cli_parse_vocab(const RaspProgram *p, const char *text, Value *out, int cap) {
    return split_tokens(p, text, ", \t", out, cap);
}

void cli_print_json_value(FILE *f, Value v) {
    switch (v.kind) {
    case VAL_NONE: fputs("null", f); return;
    case VAL_BOOL: fputs(v.u.b ? "true" : "false", f); return;
    case VAL_INT: fprintf(f, "%lld", (long long)v.u.i); return;
    case VAL_FLOAT: {
        char buf[64];
        if (v.u.f != v.u.f || v.u.f == 1.0 / 0.0 || v.u.f == -1.0 / 0.0) {
            fputs("null", f); /* JSON has no inf/nan */
            return;
        }
        val_float_repr(v.u.f, buf, sizeof buf);
        fputs(buf, f);
        return;
    }
    case VAL_STR: { /* the project's one JSON string escaper (io/json_util.h) */
        StrBuf b;
        sb_init(&b);
        json_write_string(&b, v.u.s, strlen(v.u.s));
        fputs(b.s, f);
        sb_free(&b);
        return;
    }
    case VAL_TUPLE:
        fputc('[', f);
        for (size_t i = 0; i < v.u.t->n; i++) {
            if (i) fputs(", ", f);
            cli_print_json_value(f, v.u.t->items[i]);
        }
        fputc(']', f);
        return;
    }
}

void cli_print_value(FILE *f, Value v) {
    char buf[256];
    size_t n = val_str_fmt(v, buf, sizeof buf);
    if (n < sizeof buf) {
        fputs(buf, f);
        return;
    }
    char *big = malloc(n + 1);
    if (!big) abort();
    val_str_fmt(v, big, n + 1);
    fputs(big, f);
    free(big);
}

bool cli_load_program(const char *path, RaspProgram *p) {
    char err[1024];
    if (rasp_parse_file(path, p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    return true;
}
