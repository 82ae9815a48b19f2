/* Canonical .rasp text of a program: settings, one explicit call per reachable expression
 * in index order (labels as names, no operator sugar), then the output. Written so that
 * parsing it back gives the same graph: simplify=False wherever re-parsing would fuse two
 * Maps, numerical(...) around numerical SOps, default= when it is not None. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rasp/rasp.h"
#include "util/strbuf.h"

static void put_string(StrBuf *b, const char *s) {
    sb_append(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\') sb_append(b, "\\\\");
        else if (*p == '"') sb_append(b, "\\\"");
        else if (*p == '\n') sb_append(b, "\\n");
        else if (*p == '\r') sb_append(b, "\\r");
        else if (*p == '\t') sb_append(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f) sb_printf(b, "\\x%02x", *p);
        else sb_appendn(b, (const char *)p, 1);
    }
    sb_append(b, "\"");
}

/* A constant as the parser reads it back (infinities as 1e999, Python's overflowing
 * literal; NaN has no literal and cannot come from a parsed program). */
static void put_value(StrBuf *b, Value v) {
    char tmp[64];
    switch (v.kind) {
    case VAL_NONE: sb_append(b, "None"); break;
    case VAL_BOOL: sb_append(b, v.u.b ? "True" : "False"); break;
    case VAL_INT: sb_printf(b, "%lld", (long long)v.u.i); break;
    case VAL_FLOAT:
        if (isinf(v.u.f)) sb_append(b, v.u.f < 0 ? "-1e999" : "1e999");
        else if (isnan(v.u.f)) sb_append(b, "float(\"nan\")");
        else {
            val_float_repr(v.u.f, tmp, sizeof tmp);
            sb_append(b, tmp);
        }
        break;
    case VAL_STR: put_string(b, v.u.s); break;
    case VAL_TUPLE:
        sb_append(b, "(");
        for (size_t i = 0; i < v.u.t->n; i++) {
            if (i) sb_append(b, ", ");
            put_value(b, v.u.t->items[i]);
        }
        sb_append(b, v.u.t->n == 1 ? ",)" : ")");
        break;
    }
}

static bool is_ident(const char *s) {
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    static const char *const kw[] = {"True", "False", "None",   "and", "or", "not",
                                     "if",   "else",  "lambda", "in",  "is", NULL};
    for (int i = 0; kw[i]; i++)
        if (strcmp(s, kw[i]) == 0) return false;
    return true;
}

static void put_lambda(StrBuf *b, const Lambda *f, const char *d0, const char *d1) {
    const char *names[2] = {d0, d1};
    int n = f->n_params == 2 ? 2 : 1;
    if (is_ident(f->params[0]) &&
        (n == 1 || (is_ident(f->params[1]) && strcmp(f->params[0], f->params[1]) != 0))) {
        names[0] = f->params[0];
        names[1] = n == 2 ? f->params[1] : NULL;
    }
    sb_append(b, "lambda ");
    sb_append(b, names[0]);
    if (n == 2) {
        sb_append(b, ", ");
        sb_append(b, names[1]);
    }
    sb_append(b, ": ");
    size_t len = py_format(f->body, names, NULL, 0);
    char *s = malloc(len + 1);
    if (!s) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    py_format(f->body, names, s, len + 1);
    sb_append(b, s);
    free(s);
}

/* The two dialects: the .rasp text, and Python for Tracr's own `rasp` module (`fmt --tracr`),
 * which differ only in prefixes (`rasp.`, `rasp.Comparison.`) and the `.named()` suffix. */
typedef enum { DIALECT_RASP, DIALECT_TRACR } Dialect;

static void put_ref(StrBuf *b, const RaspProgram *p, int i, Dialect d) {
    const RaspExpr *e = &p->exprs[i];
    const char *pre = d == DIALECT_TRACR ? "rasp." : "";
    if (e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES) {
        const char *n = rasp_default_name(e->kind);
        if (e->enc == ENC_NUMERICAL) sb_printf(b, "%snumerical(%s%s)", pre, pre, n);
        else sb_printf(b, "%s%s", pre, n);
        return;
    }
    if (e->label) sb_append(b, e->label);
    else sb_printf(b, "%s_%d", rasp_default_name(e->kind), i);
}

static void put_call(StrBuf *b, const RaspProgram *p, const RaspExpr *e, Dialect d) {
    const char *kind = rasp_kind_name(e->kind);
    if (d == DIALECT_TRACR) sb_append(b, "rasp.");
    sb_append(b, kind);
    sb_append(b, "(");
    switch (e->kind) {
    case EXPR_MAP:
        put_lambda(b, e->fn, "x", NULL);
        sb_append(b, ", ");
        put_ref(b, p, e->child[0], d);
        if (e->no_simplify || p->exprs[e->child[0]].kind == EXPR_MAP)
            sb_append(b, ", simplify=False");
        break;
    case EXPR_SEQMAP:
        put_lambda(b, e->fn, "x", "y");
        sb_append(b, ", ");
        put_ref(b, p, e->child[0], d);
        sb_append(b, ", ");
        put_ref(b, p, e->child[1], d);
        break;
    case EXPR_LINSEQMAP:
        put_ref(b, p, e->child[0], d);
        sb_append(b, ", ");
        put_ref(b, p, e->child[1], d);
        sb_append(b, ", ");
        put_value(b, e->lin_a);
        sb_append(b, ", ");
        put_value(b, e->lin_b);
        break;
    case EXPR_FULL: put_value(b, e->full_value); break;
    case EXPR_SELECT:
        put_ref(b, p, e->child[0], d);
        sb_append(b, ", ");
        put_ref(b, p, e->child[1], d);
        sb_append(b, ", ");
        if (e->pred == PRED_LAMBDA) put_lambda(b, e->fn, "k", "q");
        else
            sb_printf(b, "%s%s", d == DIALECT_TRACR ? "rasp.Comparison." : "",
                      rasp_pred_name(e->pred));
        break;
    case EXPR_AGGREGATE:
        put_ref(b, p, e->child[0], d);
        sb_append(b, ", ");
        put_ref(b, p, e->child[1], d);
        if (e->default_value.kind != VAL_NONE) {
            sb_append(b, ", default=");
            put_value(b, e->default_value);
        }
        break;
    case EXPR_SELWIDTH:
    case EXPR_SEL_NOT: put_ref(b, p, e->child[0], d); break;
    case EXPR_SEL_AND:
    case EXPR_SEL_OR:
        put_ref(b, p, e->child[0], d);
        sb_append(b, ", ");
        put_ref(b, p, e->child[1], d);
        break;
    case EXPR_TOKENS:
    case EXPR_INDICES: break;
    }
    sb_append(b, ")");
}

/* Tracr's settings as the arguments of compile_rasp_to_model. */
static void put_tracr_compile(StrBuf *b, const RaspProgram *p) {
    sb_append(b, "\nprogram = ");
    put_ref(b, p, p->output, DIALECT_TRACR);
    sb_append(b, "\n\nif __name__ == \"__main__\":\n    from tracr.compiler import compiling\n\n");
    if (!p->has_vocab || p->max_seq_len <= 0) {
        sb_append(b, "    # the .rasp file sets no vocab or max_seq_len: give them here\n");
        sb_append(b, "    raise SystemExit(\"set vocab and max_seq_len\")\n");
        return;
    }
    sb_append(b, "    vocab = {");
    for (int i = 0; i < p->n_vocab; i++) {
        if (i) sb_append(b, ", ");
        put_value(b, p->vocab[i]);
    }
    sb_append(
        b,
        "}\n    model = compiling.compile_rasp_to_model(\n        program,\n        vocab=vocab,\n");
    sb_printf(b, "        max_seq_len=%d,\n", p->max_seq_len);
    if (p->causal) sb_append(b, "        causal=True,\n");
    sb_printf(b,
              "        compiler_bos=\"compiler_bos\",\n        compiler_pad=\"compiler_pad\",\n"
              "        mlp_exactness=%d,\n    )\n",
              p->mlp_exactness > 0 ? p->mlp_exactness : 100);
    sb_append(b, "    by_text = {str(v): v for v in vocab}  # command-line words to tokens\n"
                 "    xs = [by_text[w] for w in sys.argv[1:]]\n"
                 "    print(\"model:\", model.apply([\"compiler_bos\"] + xs).decoded[1:])\n"
                 "    print(\"rasp: \", rasp.evaluate(program, xs))\n");
}

static void put_directives(StrBuf *b, const RaspProgram *p) {
    if (p->has_vocab) {
        sb_append(b, "vocab {");
        for (int i = 0; i < p->n_vocab; i++) {
            if (i) sb_append(b, ", ");
            put_value(b, p->vocab[i]);
        }
        sb_append(b, "}\n");
    }
    if (p->max_seq_len > 0) sb_printf(b, "max_seq_len %d\n", p->max_seq_len);
    if (p->causal) sb_append(b, "causal\n");
    if (p->mlp_exactness > 0) sb_printf(b, "mlp_exactness %d\n", p->mlp_exactness);
}

static char *format_program(const RaspProgram *p, Dialect d) {
    StrBuf b;
    sb_init(&b);
    if (d == DIALECT_TRACR)
        sb_append(&b, "# Written by `itracr fmt --tracr`: the program in Tracr's Python RASP.\n"
                      "import sys\n\nfrom tracr.rasp import rasp\n\n");
    else put_directives(&b, p);
    if (p->output < 0 || p->output >= p->n_exprs) return sb_take(&b);
    if (d == DIALECT_RASP && b.len > 0) sb_append(&b, "\n");

    /* reachable from the output; children have smaller indices, so one backward sweep */
    unsigned char *reach = calloc((size_t)p->n_exprs, 1);
    if (!reach) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    reach[p->output] = 1;
    for (int i = p->n_exprs - 1; i >= 0; i--) {
        if (!reach[i]) continue;
        for (int c = 0; c < 2; c++) {
            int ch = p->exprs[i].child[c];
            if (ch >= 0 && ch < p->n_exprs) reach[ch] = 1;
        }
    }
    for (int i = 0; i < p->n_exprs; i++) {
        const RaspExpr *e = &p->exprs[i];
        if (!reach[i] || e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES) continue;
        put_ref(&b, p, i, d);
        sb_append(&b, " = ");
        bool num = e->enc == ENC_NUMERICAL && rasp_is_sop(e->kind);
        if (num) sb_append(&b, d == DIALECT_TRACR ? "rasp.numerical(" : "numerical(");
        put_call(&b, p, e, d);
        if (num) sb_append(&b, ")");
        if (d == DIALECT_TRACR) {
            sb_append(&b, ".named(");
            put_string(&b, e->label ? e->label : rasp_default_name(e->kind));
            sb_append(&b, ")");
        }
        sb_append(&b, "\n");
    }
    free(reach);
    if (d == DIALECT_TRACR) {
        put_tracr_compile(&b, p);
    } else {
        sb_append(&b, "output ");
        put_ref(&b, p, p->output, d);
        sb_append(&b, "\n");
    }
    return sb_take(&b);
}

char *rasp_format(const RaspProgram *p) { return format_program(p, DIALECT_RASP); }

char *rasp_format_tracr(const RaspProgram *p) { return format_program(p, DIALECT_TRACR); }
