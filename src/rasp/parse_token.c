/* One --input token as a value of the program's vocabulary type. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rasp/rasp.h"

/* Python int() of a decimal literal: optional sign, digits, nothing else. */
static bool parse_int(const char *s, int64_t *out) {
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    if (!*p) return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9') return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* Python float() of a decimal literal (digits, '.', exponent) or inf/nan. */
static bool parse_float(const char *s, double *out) {
    if (!*s) return false;
    for (const char *q = s; *q; q++)
        if (!strchr("0123456789.eE+-", *q)) {
            const char *w = s + (*s == '+' || *s == '-');
            if (strcasecmp(w, "inf") && strcasecmp(w, "infinity") && strcasecmp(w, "nan"))
                return false;
            break;
        }
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s) return false;
    *out = v;
    return true;
}

static Value number_or_string(const char *text) {
    int64_t i;
    double f;
    if (parse_int(text, &i)) return val_int(i);
    if (parse_float(text, &f)) return val_float(f);
    return val_str(text);
}

Value rasp_parse_token(const RaspProgram *p, const char *text) {
    if (!text) text = "";
    int n_int = 0, n_float = 0, n_bool = 0, n_str = 0;
    for (int i = 0; p && i < p->n_vocab; i++) {
        switch (p->vocab[i].kind) {
        case VAL_INT: n_int++; break;
        case VAL_FLOAT: n_float++; break;
        case VAL_BOOL: n_bool++; break;
        case VAL_STR: n_str++; break;
        default: break;
        }
    }
    int n = p ? p->n_vocab : 0;
    if (n > 0 && n_str == n) return val_str(text);
    if (n > 0 && n_bool == n) {
        if (strcmp(text, "True") == 0) return val_bool(true);
        if (strcmp(text, "False") == 0) return val_bool(false);
        return number_or_string(text);
    }
    if (n > 0 && n_int + n_float + n_bool == n) {
        /* all-int vocabularies read "3" as 3; with floats, "3" is still the int 3 (equal
         * to 3.0 for every comparison) and "2.5" a float */
        if (strcmp(text, "True") == 0 && n_bool) return val_bool(true);
        if (strcmp(text, "False") == 0 && n_bool) return val_bool(false);
        return number_or_string(text);
    }
    /* mixed or no vocabulary: a vocabulary entry spelled like this wins, else a literal */
    char buf[256];
    for (int i = 0; i < n; i++) {
        val_str_fmt(p->vocab[i], buf, sizeof buf);
        if (strcmp(buf, text) == 0) return p->vocab[i];
    }
    if (strcmp(text, "True") == 0) return val_bool(true);
    if (strcmp(text, "False") == 0) return val_bool(false);
    if (strcmp(text, "None") == 0) return val_none();
    return number_or_string(text);
}
