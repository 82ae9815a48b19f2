/* Malformed .rasp programs: each must fail with "FILE:LINE:COL: error: ..." at the right
 * place and a message that says what was wrong, and leave an empty program. */
#include "parse_compare.h"
#include "rasp/rasp.h"
#include "test.h"

typedef struct ErrCase {
    const char *src;
    int line, col;
    const char *msg; /* substring of the message */
} ErrCase;

#define OK1 "a = tokens + 1\n"

static const ErrCase cases[] = {
    /* syntax */
    {"reverse = Aggregate(sel, )\n", 1, 21, "unknown name 'sel'"},
    {"x = Map(lambda x: x, tokens\n", 2, 1, "found end of file; expected ',' or ')'"},
    {"x = Map(lambda x: x, )\n", 1, 22, "found ')'; expected an SOp as argument 2 of Map"},
    {"x = tokens +\n", 1, 13, "found end of line; expected an expression"},
    {"x = (tokens + 1\ny = x\n", 2, 1,
     "found name 'y'; expected ')'"}, /* newlines inside () are skipped */
    {"x = tokens + 1 2\n", 1, 16, "found number 2; expected end of line"},
    {"x tokens\n", 1, 3, "found name 'tokens'; expected '='"},
    {"= tokens\n", 1, 1, "found '='; expected a statement"},
    {"x = lenght + 1\n", 1, 5, "unknown name 'lenght'"},
    {OK1 "b = a +* 2\n", 2, 8, "found '*'; expected an expression"},
    {"x = tokens[0]\n", 1, 11, "found '['; expected end of line"},
    {"x = Map(lambda x: x +, tokens)\n", 1, 22, "found ','; expected an expression"},
    {"x = Map(lambda x: x if x, tokens)\n", 1, 25, "expected 'else'"},
    {"x = Map(lambda x: (x, tokens)\n", 1, 23, "unknown name 'tokens' in lambda"},
    {"x = Map(lambda x: (x, 1\n", 2, 1, "found end of file; expected ',' or ')'"},
    {"x = Map(lambda x: x[0:1], tokens)\n", 1, 22, "expected ']'"},
    {"x = Map(lambda x: x & 1, tokens)\n", 1, 21, "bitwise operators are not supported"},
    {"x = Map(lambda x: x in (1, 2), tokens)\n", 1, 21, "'in' and 'is' are not supported"},
    /* lexical */
    {"x = tokens == \"abc\n", 1, 15, "unterminated string"},
    {"x = tokens == 'a\\'\n", 1, 15, "unterminated string"},
    {"x = tokens $ 1\n", 1, 12, "bad character '$'"},
    {"x = tokens + 1\ny = x \x01 2\n", 2, 7, "bad character \\x01"},
    {"x = tokens == \"\xff\"\n", 1, 16, "invalid UTF-8"},
    {"x = tokens + 1 \xc3\xa9\n", 1, 16, "bad character '\xc3\xa9'"},
    {"x = tokens + 1abc\n", 1, 14, "invalid number literal"},
    {"x = tokens + 1e\n", 1, 14, "invalid number literal"},
    {"x = tokens + 0123\n", 1, 14, "leading zeros"},
    {"x = tokens + 99999999999999999999\n", 1, 14, "integer literal too large"},
    {"x = tokens == \"a\\x4\"\n", 1, 17, "truncated \\x escape"},
    {"x = tokens == \"a\\0\"\n", 1, 17, "NUL character"},
    {"x = tokens == \"\\udc00\"\n", 1, 16, "invalid code point"},
    /* argument counts and kinds */
    {"x = Map(lambda x: x, tokens, False, 1)\n", 1, 37,
     "expected ')' (Map takes 2 or 3 arguments)"},
    {"x = SelectorWidth(Select(tokens, tokens, EQ), 1)\n", 1, 47, "SelectorWidth takes 1 argument"},
    {"x = Select(tokens, tokens)\n", 1, 26, "expected a predicate"},
    {"x = Aggregate(Select(tokens, tokens, EQ))\n", 1, 41,
     "expected an SOp as argument 2 of Aggregate"},
    {"x = Map(tokens, tokens)\n", 1, 9, "expected a lambda with 1 parameter"},
    {"x = Map(lambda a, b: a, tokens)\n", 1, 9, "lambda with 2 parameters; expected 1"},
    {"x = SequenceMap(lambda a: a, tokens, indices)\n", 1, 17,
     "lambda with 1 parameter; expected 2"},
    {"x = Select(tokens, tokens, lambda k: k)\nw = SelectorWidth(x)\n", 1, 28,
     "lambda with 1 parameter; expected 2"},
    {"x = Map(lambda x, x: x, tokens)\n", 1, 19, "duplicate parameter 'x'"},
    {"s = Select(tokens, tokens, EQ)\nx = Map(lambda x: x, s)\n", 2, 22,
     "found a selector; expected an SOp"},
    {"x = SelectorWidth(tokens)\n", 1, 19, "found an SOp; expected a selector"},
    {"s = Select(tokens, tokens, EQ)\nx = Aggregate(tokens, s)\n", 2, 15,
     "found an SOp; expected a selector"},
    {"s = Select(tokens, tokens, EQ)\nx = s + 1\n", 2, 5, "found a selector as an operand of '+'"},
    {"s = Select(tokens, tokens, EQ)\nx = s & tokens\n", 2, 9,
     "found an SOp as an operand of '&' with a selector"},
    {"x = Map(lambda x: x, tokens, simplify=1)\n", 1, 39, "expected True or False"},
    {"x = Map(lambda x: x, tokens, simple=False)\n", 1, 30, "unknown keyword argument 'simple'"},
    {"x = Aggregate(Select(tokens, tokens, EQ), tokens, default=0, default=1)\n", 1, 62,
     "given twice"},
    {"x = Aggregate(Select(tokens, tokens, EQ), default=0, tokens)\n", 1, 54,
     "positional arguments come first"},
    {"x = LinearSequenceMap(tokens, indices, 1, \"a\")\n", 1, 43,
     "expected a number as argument 4"},
    {"x = Full(tokens)\n", 1, 10, "found an SOp; expected a constant"},
    {"x = numerical(Select(tokens, tokens, EQ))\n", 1, 15, "found a selector; expected an SOp"},
    {"x = Map(lambda x: y, tokens)\n", 1, 19, "unknown name 'y' in lambda"},
    {"x = Map(lambda x: abs, tokens)\n", 1, 19, "builtin 'abs' used as a value"},
    {"x = Map(lambda x: abs(x, 1), tokens)\n", 1, 19, "abs() called with 2 arguments; expected 1"},
    {"x = Map(lambda x: x(1), tokens)\n", 1, 19, "call of the parameter 'x'"},
    {"x = Map(lambda x: lambda y: y, tokens)\n", 1, 19, "nested lambda"},
    {"x = Map(lambda True: 1, tokens)\n", 1, 16, "expected a parameter name"},
    {"x = Map(lambda x: x, tokens) + EQ\n", 1, 32, "predicates are the third argument of Select"},
    {"x = lambda x: x\n", 1, 5, "found a lambda"},
    {"x = -tokens\n", 1, 5, "unary '-' on an SOp"},
    {"x = tokens ** 2\n", 1, 12, "operator '**' is not defined on SOps"},
    {"x = tokens // 2\n", 1, 12, "operator '//' is not defined on SOps"},
    {"x = 1 < tokens < 3\n", 1, 16, "chained comparisons are not supported"},
    {"x = tokens + 1 / 0\n", 1, 16, "ZeroDivisionError"},
    {"x = 3\n", 1, 5, "found an int; expected an SOp or a selector"},
    {"x = tokens + \"ab\" * 600\n", 1, 19, "constant string or tuple too long"},
    /* fuzz: "" * 80**8 spent 10**15 steps repeating an empty string */
    {"vocab {\"\" * +80**8}\nx = tokens + 1\n", 1, 11, "constant string or tuple too long"},
    /* statements and directives */
    {"vocab {1}\nvocab {2}\n" OK1, 2, 1, "duplicate 'vocab' directive (first on line 1)"},
    {"max_seq_len 0\n" OK1, 1, 13, "expected a positive integer after max_seq_len"},
    {"max_seq_len 2.5\n" OK1, 1, 13, "expected a positive integer"},
    {"max_seq_len 5\nmax_seq_len 5\n" OK1, 2, 1, "duplicate 'max_seq_len' directive"},
    {"mlp_exactness -1\n" OK1, 1, 15, "expected a positive integer after mlp_exactness"},
    {"causal\ncausal\n" OK1, 2, 1, "duplicate 'causal'"},
    {"causal 1\n" OK1, 1, 8, "expected end of line"},
    {"vocab {}\n" OK1, 1, 8, "expected at least one vocabulary value"},
    {"vocab {1, None}\n" OK1, 1, 11, "found None in the vocabulary"},
    {"vocab {1, tokens}\n" OK1, 1, 11, "found an SOp in the vocabulary"},
    {"vocab 1, 2\n" OK1, 1, 7, "expected '{'"},
    {OK1 "output b\n", 2, 8, "output of undefined name 'b'"},
    {OK1 "s = Select(tokens, tokens, EQ)\noutput s\n", 3, 8, "output 's' is a selector"},
    {OK1 "output a\noutput a\n", 3, 1, "duplicate 'output' directive"},
    {OK1 "s = Select(tokens, tokens, EQ)\n", 2, 1, "the last assignment 's' is a selector"},
    {"# only a comment\n\nvocab {1}\n", 4, 1, "program has no assignment"},
    {"", 1, 1, "program has no assignment"},
    {OK1 "a = tokens + 2\n", 2, 1, "name 'a' is already assigned (line 1)"},
    {"tokens = indices + 1\n", 1, 1, "cannot assign to the reserved name 'tokens'"},
    {"Map = tokens + 1\n", 1, 1, "reserved name 'Map'"},
    {"x = tokens\n", 1, 1, "the output 'x' is tokens itself"},
    /* the unnamed Select is node 2 in Tracr's numbering, so its label is select_2 */
    {"select_2 = Select(indices, indices, LT)\nx = Aggregate(Select(tokens, tokens, EQ), SelectorWidth(select_2))\n",
     1, 1, "name 'select_2' is also the label of an unnamed expression"},
    {"x = ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
     "tokens",
     1, 105, "nested too deeply"},
};

static void test_error_cases(void) {
    int n = (int)(sizeof cases / sizeof cases[0]);
    CHECK(n >= 40);
    for (int i = 0; i < n; i++) {
        const ErrCase *c = &cases[i];
        RaspProgram p;
        char err[512];
        int rc = rasp_parse("bad.rasp", c->src, &p, err, sizeof err);
        CHECK_MSG(rc != 0, "case %d parsed: %s", i, c->src);
        if (rc == 0) {
            rasp_program_free(&p);
            continue;
        }
        char want[64];
        snprintf(want, sizeof want, "bad.rasp:%d:%d: error: ", c->line, c->col);
        CHECK_MSG(strncmp(err, want, strlen(want)) == 0, "case %d: want %s, got %s", i, want, err);
        CHECK_MSG(strstr(err, c->msg) != NULL, "case %d: want \"%s\" in %s", i, c->msg, err);
        CHECK(p.n_exprs == 0 && p.exprs == NULL && p.output == -1);
        rasp_program_free(&p);
    }
}

/* Every message has the "found ...; expected ..." or "<problem>; expected ..." shape. */
static void test_messages_say_expected(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RaspProgram p;
        char err[512];
        if (rasp_parse("bad.rasp", cases[i].src, &p, err, sizeof err) == 0) {
            rasp_program_free(&p);
            continue;
        }
        CHECK_MSG(strstr(err, "; expected ") != NULL, "case %zu: %s", i, err);
        rasp_program_free(&p);
    }
}

/* A small error buffer truncates the message but never overflows. */
static void test_small_buffer(void) {
    RaspProgram p;
    char err[16];
    memset(err, 'x', sizeof err);
    CHECK(rasp_parse("a-long-file-name.rasp", "x = y\n", &p, err, 10) != 0);
    CHECK(strlen(err) == 9 && err[10] == 'x');
    CHECK(rasp_parse("f", "x = y\n", &p, NULL, 0) != 0);
    rasp_program_free(&p);
}

static void test_file_errors(void) {
    RaspProgram p;
    char err[256];
    CHECK(rasp_parse_file("tests/fixtures/does-not-exist.rasp", &p, err, sizeof err) != 0);
    CHECK(strstr(err, "does-not-exist.rasp") != NULL && strstr(err, "cannot open") != NULL);
    /* a NUL byte inside a file is a bad character, not the end of the text */
    const char *path = "build/test_parse_errors_nul.rasp";
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite("a = tokens + 1\nb = a\0 + 1\n", 1, 26, f);
        fclose(f);
        CHECK(rasp_parse_file(path, &p, err, sizeof err) != 0);
        CHECK_MSG(strstr(err, ":2:6: error: bad character \\x00") != NULL, "%s", err);
        remove(path);
    }
    rasp_program_free(&p);
}

/* Every prefix of a fixture, and the fixture with one byte replaced by each of a few
 * troublesome characters, either fails with a located message or parses and round-trips
 * through the printer (a deterministic slice of what the fuzz target does). */
static void test_mutations(void) {
    FILE *f = fopen(FIXTURE_DIR "/tracr/shuffle_dyck.rasp", "rb");
    CHECK(f != NULL);
    if (!f) return;
    char src[4096];
    size_t len = fread(src, 1, sizeof src - 1, f);
    fclose(f);
    src[len] = 0;
    static const char repl[] = {')', '(', '"', '\n', '#', '~', '-', ',', '=', '\x80', 'x', '0'};
    int n_ok = 0, n_err = 0;
    char buf[4096];
    for (size_t pos = 0; pos <= len; pos++) {
        for (int r = -1; r < (int)sizeof repl; r++) {
            memcpy(buf, src, len + 1);
            if (r < 0) buf[pos] = 0; /* prefix */
            else if (pos < len) buf[pos] = repl[r];
            else continue;
            RaspProgram p, q;
            char err[512];
            if (rasp_parse("m.rasp", buf, &p, err, sizeof err) != 0) {
                CHECK_MSG(strncmp(err, "m.rasp:", 7) == 0 && strstr(err, ": error: ") &&
                              strstr(err, "; expected "),
                          "%s", err);
                n_err++;
                continue;
            }
            n_ok++;
            char *once = rasp_format(&p);
            bool reparsed = rasp_parse("f", once, &q, err, sizeof err) == 0;
            CHECK_MSG(reparsed, "%s\n%s", err, once);
            if (reparsed) {
                const char *diff = pc_program_diff(&p, &q);
                CHECK_MSG(diff == NULL, "%s", diff);
                char *twice = rasp_format(&q);
                CHECK(strcmp(once, twice) == 0);
                free(twice);
                rasp_program_free(&q);
            }
            free(once);
            rasp_program_free(&p);
        }
    }
    CHECK(n_ok > 100 && n_err > 1000);
}

int main(void) {
    RUN(test_error_cases);
    RUN(test_messages_say_expected);
    RUN(test_small_buffer);
    RUN(test_file_errors);
    RUN(test_mutations);
    TEST_END();
}
