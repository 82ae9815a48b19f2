/* rasp_format: canonical text, and parse(format(p)) == p, format(parse(format(p))) ==
 * format(p) on every fixture and every sugar form. */
#include <dirent.h>

#include "parse_compare.h"
#include "rasp/rasp.h"
#include "test.h"

/* Formats src, re-parses, compares graphs and texts. Returns the canonical text (caller
 * frees) or NULL. */
static char *round_trip(const char *name, const char *src) {
    RaspProgram p, q;
    char err[512];
    if (rasp_parse(name, src, &p, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s: %s", name, err);
        return NULL;
    }
    char *once = rasp_format(&p);
    if (rasp_parse("formatted", once, &q, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s: formatted text does not parse: %s\n%s", name, err, once);
        rasp_program_free(&p);
        free(once);
        return NULL;
    }
    const char *diff = pc_program_diff(&p, &q);
    CHECK_MSG(diff == NULL, "%s: %s\n%s", name, diff, once);
    char *twice = rasp_format(&q);
    CHECK_MSG(strcmp(once, twice) == 0, "%s: format not stable:\n%s---\n%s", name, once, twice);
    free(twice);
    rasp_program_free(&q);
    rasp_program_free(&p);
    return once;
}

static void test_fixtures_round_trip(void) {
    DIR *d = opendir(FIXTURE_DIR "/tracr");
    CHECK(d != NULL);
    if (!d) return;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".rasp") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, FIXTURE_DIR "/tracr/%s", de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        char buf[8192];
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        buf[got] = 0;
        fclose(f);
        free(round_trip(path, buf));
        n++;
    }
    closedir(d);
    CHECK(n == 15);
}

/* The canonical text of reverse.rasp, written out by hand. */
static void test_reverse_text(void) {
    char *s = round_trip("reverse", "# comment\nvocab {\"a\", \"b\"}\nmax_seq_len 5\n\n"
                                    "all_true_selector = Select(tokens, tokens, TRUE)\n"
                                    "length = SelectorWidth(all_true_selector)\n"
                                    "opp_idx = length - indices\nopp_idx_m1 = opp_idx - 1\n"
                                    "reverse_selector = Select(indices, opp_idx_m1, EQ)\n"
                                    "reverse = Aggregate(reverse_selector, tokens)\n");
    CHECK_STR(s, "vocab {\"a\", \"b\"}\nmax_seq_len 5\n\n"
                 "all_true_selector = Select(tokens, tokens, TRUE)\n"
                 "length = SelectorWidth(all_true_selector)\n"
                 "opp_idx = SequenceMap(lambda x, y: x - y, length, indices)\n"
                 "opp_idx_m1 = Map(lambda x: x - 1, opp_idx)\n"
                 "reverse_selector = Select(indices, opp_idx_m1, EQ)\n"
                 "reverse = Aggregate(reverse_selector, tokens)\n"
                 "output reverse\n");
    free(s);
}

static void test_explicit_forms(void) {
    char *s = round_trip(
        "forms",
        "causal\nmlp_exactness 7\n"
        "a = numerical(Map(lambda v: v + 1, numerical(tokens), simplify=False))\n"
        "b = Map(lambda x: x * 2, a, simplify=False)\n"
        "c = numerical(Aggregate(Select(indices, indices, LEQ), numerical(b), default=0))\n"
        "d = LinearSequenceMap(c, c, 0.5, -2)\n"
        "e = Aggregate(Select(Full(\"z\"), tokens, lambda key, query: key == query), d, "
        "default=\"none\")\n");
    /* b itself is unreachable (only its numerical copy is used); the copy and the unnamed
     * Select/Full get Tracr's labels from the BFS numbering (e = 1, select = 2, d = 3, ...) */
    CHECK_STR(s, "causal\nmlp_exactness 7\n\n"
                 "a = numerical(Map(lambda v: v + 1, numerical(tokens), simplify=False))\n"
                 "select_6 = Select(indices, indices, LEQ)\n"
                 "map_7 = numerical(Map(lambda x: x * 2, a, simplify=False))\n"
                 "c = numerical(Aggregate(select_6, map_7, default=0))\n"
                 "d = LinearSequenceMap(c, c, 0.5, -2)\n"
                 "full_4 = Full(\"z\")\n"
                 "select_2 = Select(full_4, numerical(tokens), lambda key, query: key == query)\n"
                 "e = Aggregate(select_2, d, default=\"none\")\n"
                 "output e\n");
    free(s);
}

/* Every sugar form formats as explicit calls and survives the round trip. */
static void test_sugar_round_trip(void) {
    static const char *const forms[] = {
        "tokens + 1",
        "1 + tokens",
        "tokens - 1",
        "1 - tokens",
        "tokens * 2",
        "-1 * tokens",
        "tokens / 2",
        "3 / tokens",
        "tokens == \"a\"",
        "tokens != 1",
        "tokens < 1",
        "tokens <= 1",
        "tokens > 1",
        "tokens >= 1",
        "1 < tokens",
        "1 >= tokens",
        "tokens & 1",
        "1 & tokens",
        "tokens | 1",
        "1 | tokens",
        "~tokens",
        "tokens + indices",
        "tokens - indices",
        "tokens * indices",
        "tokens / indices",
        "tokens == indices",
        "tokens < indices",
        "tokens & indices",
        "tokens | indices",
        "numerical(tokens == \"x\")",
        "tokens + 1 + 2",
        "(tokens + 1) * (indices - 1)",
        "~(tokens == 1) & (indices > 2)",
        "SelectorWidth(Select(tokens, indices, LT) & Select(tokens, indices, GT))",
        "SelectorWidth(Select(tokens, indices, LT) | Select(indices, tokens, GT))",
        "SelectorWidth(~Select(tokens, indices, LT))",
        "SelectorWidth(~(Select(tokens, indices, LT) & Select(indices, tokens, EQ)))",
        "SelectorWidth(Select(Full(1), indices, EQ) & Select(tokens, indices, LT))",
        "SelectorWidth(Select(tokens, Full(\"q\"), EQ) | Select(tokens, indices, lambda a, b: a > b))",
        "Map(lambda x: (-1) ** x + -(1) - -x ** 2, tokens)",
        "Map(lambda x: -2 ** 2 + (x if x > 0 else -x) * 1e-05, tokens)",
        "Map(lambda x: x + 1e999 - -1e999, tokens)",
        "Map(lambda x: not (x and (x or 1)) == (1 < x <= 3), tokens)",
        "Map(lambda x: (x, (x,), ())[0] + abs(min(x, 2)) // max(1, round(2.5)) % 3, tokens)",
        "Map(lambda x: (x), tokens)",
        "Map(lambda x: x + \"\\t\\\\ \\\"q\\\" '\\u00e9\\x01\\x7f\\U0001F600\\n\", tokens)",
        "Map(lambda x: int(x) + float(x) + bool(x) + int() + float() + bool(), tokens)",
        "Map(lambda x: x * 0.1 + -0.0 + 1.5e300, tokens)",
        "Map(lambda x: None if x != 0 else True, tokens)",
        "Aggregate(Select(tokens, tokens, TRUE), Full(None))",
        "Aggregate(Select(tokens, tokens, TRUE), Full(-2.5), default=True)",
        "LinearSequenceMap(numerical(tokens + 0), numerical(indices + 0), 1.0, 2)",
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        char src[512];
        snprintf(src, sizeof src, "vocab {1, 2.5, \"a\", True}\nr = %s\n", forms[i]);
        free(round_trip(forms[i], src));
    }
}

static void test_canonical_details(void) {
    /* sugar becomes explicit Maps with the lambda Tracr builds */
    char *s = round_trip("sugar", "a = 1 - tokens\nb = tokens == \"x\"\nc = a & b\nd = ~c\n");
    CHECK_STR(s, "a = Map(lambda x: 1 - x, tokens)\n"
                 "b = Map(lambda x: x == \"x\", tokens)\n"
                 "c = SequenceMap(lambda x, y: x and y, a, b)\n"
                 "d = Map(lambda x: not x, c)\n"
                 "output d\n");
    free(s);
    /* a Map of a Map keeps simplify=False; unnamed nodes get Tracr's labels */
    s = round_trip("nested", "x = Map(lambda x: x + 1, numerical(tokens + 1), simplify=False)\n");
    CHECK_STR(s, "map_2 = numerical(Map(lambda x: x + 1, tokens))\n"
                 "x = Map(lambda x: x + 1, map_2, simplify=False)\n"
                 "output x\n");
    free(s);
}

int main(void) {
    RUN(test_fixtures_round_trip);
    RUN(test_reverse_text);
    RUN(test_explicit_forms);
    RUN(test_sugar_round_trip);
    RUN(test_canonical_details);
    TEST_END();
}
