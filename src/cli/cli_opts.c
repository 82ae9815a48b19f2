/* One option parser for every subcommand: getopt_long over a table (cli.h, "Options"). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* getopt_long's table: each long option returns CLI_LONG_BASE + its row in the command's
 * table, so a row without a short name is still found; -h / --help come last. */
#define CLI_LONG_BASE 1000

static const CliOpt *row_of(const CliOpts *p, int c) {
    if (c >= CLI_LONG_BASE && c < CLI_LONG_BASE + p->n) return &p->opts[c - CLI_LONG_BASE];
    for (int k = 0; k < p->n; k++)
        if (p->opts[k].short_name && p->opts[k].short_name == c) return &p->opts[k];
    return NULL;
}

void cli_opts_init(CliOpts *p, const char *cmd, int argc, char **argv, const CliOpt *opts, int n) {
    if (n > CLI_MAX_OPTS) abort(); /* a programming error: raise CLI_MAX_OPTS */
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->opts = opts;
    p->n = n;
    /* "-": operands come back in order (as option 1); ":": a missing value returns ':' */
    int s = 0, l = 0;
    p->shorts[s++] = '-';
    p->shorts[s++] = ':';
    p->shorts[s++] = 'h';
    for (int k = 0; k < n; k++) {
        if (opts[k].short_name) {
            p->shorts[s++] = opts[k].short_name;
            if (opts[k].has_arg) p->shorts[s++] = ':';
        }
        if (opts[k].name)
            p->longs[l++] =
                (struct option){opts[k].name, opts[k].has_arg ? required_argument : no_argument,
                                NULL, CLI_LONG_BASE + k};
    }
    p->longs[l++] = (struct option){"help", no_argument, NULL, 'h'};
    p->longs[l] = (struct option){NULL, 0, NULL, 0};
    p->shorts[s] = 0;
    optind = 0; /* glibc: start over (each process parses once, but be explicit) */
    opterr = 0; /* the messages below name the command */
}

/* The argv element that held the option getopt_long just returned (its value may have
 * been the next element). */
static const char *option_element(const CliOpts *p) {
    int k = optind - 1;
    if (optarg && k > 0 && optarg == p->argv[k]) k--; /* "--name value", not "--name=value" */
    return k >= 0 && k < p->argc ? p->argv[k] : "";
}

/* "--name" of an element "--name=value" without the value, into buf. */
static const char *spelled(const char *elem, char *buf, size_t cap) {
    size_t len = strcspn(elem, "=");
    snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), elem);
    return buf;
}

int cli_opts_next(CliOpts *p, const char **val) {
    *val = NULL;
    if (p->done) { /* after "--": the rest are operands */
        if (optind >= p->argc) return CLI_END;
        *val = p->argv[optind++];
        return CLI_POS;
    }
    int li = -1;
    int c = getopt_long(p->argc, p->argv, p->shorts, p->longs, &li);
    char buf[128];
    if (c == -1) {
        p->done = true;
        return cli_opts_next(p, val);
    }
    if (c == 1) {
        *val = optarg;
        return CLI_POS;
    }
    if (c == ':') {
        const CliOpt *o = row_of(p, optopt);
        const char *e = optind - 1 < p->argc && optind - 1 >= 0 ? p->argv[optind - 1] : "";
        if (strncmp(e, "--", 2) != 0 && o && o->short_name)
            snprintf(buf, sizeof buf, "-%c", o->short_name);
        else spelled(e, buf, sizeof buf);
        cli_usage_error(p->cmd, "%s needs a value", buf);
        return CLI_ERR;
    }
    if (c == '?') {
        const char *e = optind - 1 >= 0 && optind - 1 < p->argc ? p->argv[optind - 1] : "";
        const CliOpt *o = optopt ? row_of(p, optopt) : NULL;
        if (o && !o->has_arg && strncmp(e, "--", 2) == 0 && strchr(e, '='))
            cli_usage_error(p->cmd, "%s takes no value", spelled(e, buf, sizeof buf));
        else if (optopt && optopt < CLI_LONG_BASE && strncmp(e, "--", 2) != 0)
            cli_usage_error(p->cmd, "unknown option '-%c'", optopt);
        else cli_usage_error(p->cmd, "unknown option '%s'", spelled(e, buf, sizeof buf));
        return CLI_ERR;
    }
    if (li >= 0) { /* getopt_long takes unambiguous prefixes; only the full spelling is an option */
        const char *e = option_element(p);
        bool dashes = strncmp(e, "--", 2) == 0;
        size_t len = dashes ? strcspn(e + 2, "=") : 0;
        if (!dashes || len != strlen(p->longs[li].name) || strncmp(e + 2, p->longs[li].name, len)) {
            cli_usage_error(p->cmd, "unknown option '%s'", spelled(e, buf, sizeof buf));
            return CLI_ERR;
        }
    }
    if (c == 'h') return CLI_HELP;
    const CliOpt *o = row_of(p, c);
    if (!o) abort(); /* getopt_long returned something that is not in the table */
    *val = optarg;
    return o->id;
}

/* ---- numbers ---------------------------------------------------------------------------- */

bool cli_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi,
                   long *out) {
    char *end;
    errno = 0;
    long v = text[0] == '-' || (text[0] >= '0' && text[0] <= '9') ? strtol(text, &end, 10) : 0;
    if (!(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) || errno || *end || v < lo ||
        v > hi) {
        cli_usage_error(cmd, "bad %s '%s': expects an integer in [%ld, %ld]", opt, text, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    bool digit = text[0] >= '0' && text[0] <= '9';
    unsigned long long v = digit ? strtoull(text, &end, 10) : 0;
    if (!digit || errno || *end) {
        cli_usage_error(cmd, "bad %s '%s': expects an integer in [0, %llu]", opt, text,
                        (unsigned long long)UINT64_MAX);
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

bool cli_parse_real(const char *cmd, const char *opt, const char *text, double lo, double hi,
                    unsigned open, double *out) {
    char *end;
    errno = 0;
    bool start = text[0] && !strchr(" \t\n", text[0]);
    double v = start ? strtod(text, &end) : NAN;
    bool ok = start && !*end && errno != ERANGE && isfinite(v) &&
              (open & CLI_OPEN_LO ? v > lo : v >= lo) && (open & CLI_OPEN_HI ? v < hi : v <= hi);
    if (!ok) {
        cli_usage_error(cmd, "bad %s '%s': expects a number in %c%g, %g%c", opt, text,
                        open & CLI_OPEN_LO ? '(' : '[', lo, hi, open & CLI_OPEN_HI ? ')' : ']');
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_range(const char *cmd, const char *opt, const char *text, long lo, long hi, long *a,
                     long *b) {
    char first[32];
    const char *dash =
        text[0] ? strchr(text + 1, '-') : NULL; /* "A-B"; a leading '-' is A's sign */
    size_t n = dash ? (size_t)(dash - text) : strlen(text);
    long x, y;
    char sub[32];
    snprintf(first, sizeof first, "%.*s", (int)(n < sizeof first ? n : sizeof first - 1), text);
    snprintf(sub, sizeof sub, "%s", dash ? dash + 1 : first);
    bool ok = n < sizeof first && strlen(dash ? dash + 1 : first) < sizeof sub;
    char *end;
    errno = 0;
    x = ok && first[0] ? strtol(first, &end, 10) : 0;
    ok = ok && first[0] && !*end && !errno && strchr("-0123456789", first[0]);
    errno = 0;
    y = ok && sub[0] ? strtol(sub, &end, 10) : 0;
    ok = ok && sub[0] && !*end && !errno && strchr("-0123456789", sub[0]);
    if (!ok || x < lo || y > hi || x > y) {
        cli_usage_error(cmd, "bad %s '%s': expects N or A-B (A <= B) within [%ld, %ld]", opt, text,
                        lo, hi);
        return false;
    }
    *a = x;
    *b = y;
    return true;
}

int cli_opts_operand_flag(const char *cmd, int argc, char **argv, const char *usage,
                          const char *flag, const char *what, const char **operand,
                          bool *flag_set) {
    const CliOpt opts[] = {{flag, 0, false, 1}};
    CliOpts ps;
    const char *v;
    *operand = NULL;
    *flag_set = false;
    cli_opts_init(&ps, cmd, argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        if (id == CLI_HELP) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else if (id == CLI_ERR) {
            return EXIT_USAGE;
        } else if (id == 1) {
            *flag_set = true;
        } else if (!*operand) {
            *operand = v;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", v);
        }
    }
    if (!*operand) return cli_usage_error(cmd, "missing %s", what);
    return -1;
}
