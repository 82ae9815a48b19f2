/* The repair of the search (eval/search.h): from a wrong program -- a wrong predicate, a
 * wrong argument, a wrong function, a row too many, a row too few at the top or in the
 * middle, a Select pattern or sort keys no value token spells, the output's value names --
 * it finds a program whose compiled model has the given model's weights. The reference is independent of the digests the repair steers by: the repaired program is
 * the true one (the same canonical table), and its compiled model gives the given model's
 * output on every input (brute force through model_run). A compile limit stops it and is
 * never exceeded; the same seeds give the same answer and the same counts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "compiler/model.h"
#include "eval/search.h"
#include "rasp/rasp.h"
#include "test.h"

#define CELLS (PT_ROWS * PT_COLS)
#define HEAD "vocab {0, 1, 2, 3}\nmax_seq_len 4\n"

/* Repairs seed (program text) against the compiled truth; checks the answer. */
static void repair_case(const char *name, const char *truth, const char *seed, int min_steps) {
    char err[512], why[512];
    CompiledModel *m = tc_compile_text(truth);
    CHECK_MSG(m != NULL, "%s", name);
    if (!m) return;
    SearchGiven g;
    int16_t want[CELLS], s[CELLS];
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    CHECK_MSG(tc_table_of(truth, want) && tc_table_of(seed, s), "%s", name);
    /* the seed is wrong: its model is not the given one */
    CompiledModel *c = NULL;
    CHECK_MSG(search_compile(&g, s, &c, why, sizeof why) == 0, "%s: %s", name, why);
    CHECK_MSG(c && !search_same_weights(&g, c), "%s: the seed already matches", name);
    compiled_model_free(c);
    RepairOptions o;
    repair_options_default(&o);
    RepairResult r;
    CHECK(search_repair(&g, s, 1, &o, &r, err, sizeof err) == 0);
    CHECK_MSG(r.found, "%s: not repaired (%d steps, %ld compiled)", name, r.steps, r.compiled);
    if (r.found) {
        if (memcmp(r.table, want, sizeof want) != 0) {
            char *f = pt_format_table(r.table);
            CHECK_MSG(0, "%s: repaired to another program:\n%s", name, f ? f : "");
            free(f);
        }
        CHECK_MSG(r.steps >= min_steps, "%s: %d steps", name, r.steps);
        c = NULL;
        CHECK(search_compile(&g, r.table, &c, why, sizeof why) == 0);
        CHECK_MSG(c && tc_brute_disagree(m, c, NULL) == 0, "%s: the repaired model computes otherwise",
                  name);
        compiled_model_free(c);
    }
    CHECK(r.compiled <= o.max_compiles && r.compiled <= r.tried);
    search_given_free(&g);
    compiled_model_free(m);
}

static const char *k_sort = HEAD "s = Select(tokens, tokens, LT)\n"
                                 "w = SelectorWidth(s)\n"
                                 "t = Select(w, indices, EQ)\n"
                                 "out = Aggregate(t, tokens)\n";

static void test_edits(void) {
    /* a wrong predicate and a wrong aggregated SOp, in two sublayers */
    repair_case("predicate", k_sort,
                HEAD "s = Select(tokens, tokens, LEQ)\nw = SelectorWidth(s)\n"
                     "t = Select(w, indices, EQ)\nout = Aggregate(t, w)\n",
                2);
    /* a wrong function, seen only where the output is read out */
    repair_case("function",
                HEAD "a = Map(lambda x: x + 1, tokens)\ns = Select(tokens, tokens, EQ)\n"
                     "b = Aggregate(s, a)\n",
                HEAD "a = Map(lambda x: x - 1, tokens)\ns = Select(tokens, tokens, EQ)\n"
                     "b = Aggregate(s, a)\n",
                1);
    /* a row too many: the output aggregates a Map of what it should aggregate */
    repair_case("extra row",
                HEAD "a = Map(lambda x: x + 1, tokens)\ns = Select(tokens, tokens, EQ)\n"
                     "b = Aggregate(s, a)\n",
                HEAD "a = Map(lambda x: x + 1, tokens)\nc = Map(lambda x: abs(x - 2), a)\n"
                     "s = Select(tokens, tokens, EQ)\nb = Aggregate(s, c)\n",
                1);
    /* a row too few on top: the seed stops one Map early */
    repair_case("missing output",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n"
                     "m = Map(lambda x: x % 2, w)\n",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n", 1);
    /* a row too many on top: the seed goes one Map further */
    repair_case("extra output",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n"
                     "m = Map(lambda x: x % 2, w)\n",
                1);
    /* a row too few in the middle: the SequenceMap reads tokens where the truth reads a Map */
    repair_case("missing middle row",
                HEAD "a = Map(lambda x: x * 2, tokens)\n"
                     "b = SequenceMap(lambda x, y: x - y, a, indices)\n",
                HEAD "b = SequenceMap(lambda x, y: x - y, tokens, indices)\n", 1);
    /* a Select that must become a table: the previous position, every position for the
     * first query, which neither a predicate nor a whole-table pattern says; from EQ,
     * column edits */
    repair_case("select table",
                HEAD "s = Select(indices, indices, lambda k, q: q == k + 1 or q == 0)\n"
                     "out = Aggregate(s, tokens)\n",
                HEAD "s = Select(indices, indices, EQ)\nout = Aggregate(s, tokens)\n", 2);
    /* whole-table Select patterns: a test of the key alone, a diagonal */
    repair_case("select key pattern",
                HEAD "s = Select(tokens, tokens, EQ)\nw = SelectorWidth(s)\n"
                     "l = Select(w, w, lambda k, q: k <= 1)\nout = SelectorWidth(l)\n",
                HEAD "s = Select(tokens, tokens, EQ)\nw = SelectorWidth(s)\n"
                     "l = Select(w, w, LT)\nout = SelectorWidth(l)\n",
                1);
    repair_case("select diagonal",
                HEAD "s = Select(indices, indices, lambda k, q: q == k + 2)\n"
                     "out = Aggregate(s, tokens)\n",
                HEAD "s = Select(indices, indices, LEQ)\nout = Aggregate(s, tokens)\n", 1);
    /* sort keys without value tokens (x + i/4, i + x/4): the rank tables, x- and y-major */
    const char *keys[2] = {"x + i / 4", "i + x / 4"};
    for (int k = 0; k < 2; k++) {
        char truth[512];
        snprintf(truth, sizeof truth,
                 HEAD "k = SequenceMap(lambda x, i: %s, tokens, indices)\n"
                      "s = Select(k, k, LT)\nw = SelectorWidth(s)\nt = Select(w, indices, EQ)\n"
                      "out = Aggregate(t, tokens)\n",
                 keys[k]);
        repair_case(keys[k], truth,
                    HEAD "k = SequenceMap(lambda x, y: x * y, tokens, indices)\n"
                         "s = Select(k, k, LT)\nw = SelectorWidth(s)\n"
                         "t = Select(w, indices, EQ)\nout = Aggregate(t, tokens)\n",
                    1);
    }
    /* every block right, the output's values not: renamed to the given model's output
     * values (x + 1 for x + 2 over the widths; the table written as add2 again) */
    repair_case("output values",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n"
                     "m = Map(lambda x: x + 2, w)\n",
                HEAD "s = Select(tokens, tokens, TRUE)\nw = SelectorWidth(s)\n"
                     "m = Map(lambda x: x + 1, w)\n",
                0);
    /* a Map table with one wrong cell (string tokens: every function is a table) */
    repair_case("map table",
                "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 4\n"
                "m = Map(lambda x: 1 if x == \"a\" else 2, tokens)\n"
                "s = Select(tokens, tokens, EQ)\nw = SelectorWidth(s)\n"
                "out = SequenceMap(lambda x, y: x + y, m, w)\n",
                "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 4\n"
                "m = Map(lambda x: 1 if x == \"b\" else 2, tokens)\n"
                "s = Select(tokens, tokens, EQ)\nw = SelectorWidth(s)\n"
                "out = SequenceMap(lambda x, y: x + y, m, w)\n",
                1);
}

static void test_limits(void) {
    char err[512];
    CompiledModel *m = tc_compile_text(k_sort);
    CHECK(m != NULL);
    if (!m) return;
    SearchGiven g;
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    int16_t s[CELLS];
    CHECK(tc_table_of(HEAD "s = Select(tokens, tokens, LEQ)\nw = SelectorWidth(s)\n"
                        "t = Select(w, indices, EQ)\nout = Aggregate(t, w)\n",
                   s));
    RepairOptions o;
    repair_options_default(&o);
    o.max_compiles = 5;
    RepairResult r, r2;
    CHECK(search_repair(&g, s, 1, &o, &r, err, sizeof err) == 0);
    CHECK(!r.found && r.out_of_budget && r.compiled <= 5);
    /* the same seeds, the same search: answer and counts */
    repair_options_default(&o);
    CHECK(search_repair(&g, s, 1, &o, &r, err, sizeof err) == 0);
    CHECK(search_repair(&g, s, 1, &o, &r2, err, sizeof err) == 0);
    CHECK(r.found && r2.found && memcmp(r.table, r2.table, sizeof r.table) == 0);
    CHECK(r.tried == r2.tried && r.compiled == r2.compiled && r.steps == r2.steps);
    /* a seed that does not decode is skipped; with no other seed nothing is found */
    int16_t two[2][CELLS];
    memset(two, 0, sizeof two);
    CHECK(search_repair(&g, two[0], 1, &o, &r, err, sizeof err) == 0);
    CHECK(!r.found && r.compiled == 0);
    /* ... and does not stop the good seed after it */
    memcpy(two[1], s, sizeof two[1]);
    CHECK(search_repair(&g, two[0], 2, &o, &r, err, sizeof err) == 0);
    CHECK(r.found);
    /* max_steps 0: no edit is made */
    o.max_steps = 0;
    CHECK(search_repair(&g, s, 1, &o, &r, err, sizeof err) == 0);
    CHECK(!r.found && r.steps == 0);
    search_given_free(&g);
    compiled_model_free(m);
}

/* A start that ends without the weights (here: max_steps 1, beam 1) is followed by a start
 * from the next best seed. The first seed is right in more leading sublayers but two edits
 * away (a Map too many on top, the wrong SOp aggregated); the second is one edit away (the
 * first Select's predicate). */
static void test_restart(void) {
    char err[512];
    CompiledModel *m = tc_compile_text(k_sort);
    CHECK(m != NULL);
    if (!m) return;
    SearchGiven g;
    CHECK(search_given_init(&g, m, err, sizeof err) == 0);
    int16_t seeds[2][CELLS], want[CELLS];
    CHECK(tc_table_of(k_sort, want));
    CHECK(tc_table_of(HEAD "s = Select(tokens, tokens, LT)\nw = SelectorWidth(s)\n"
                           "t = Select(w, indices, EQ)\na = Aggregate(t, w)\n"
                           "out = Map(lambda x: x + 1, a)\n",
                      seeds[0]) &&
          tc_table_of(HEAD "s = Select(tokens, tokens, LEQ)\nw = SelectorWidth(s)\n"
                           "t = Select(w, indices, EQ)\nout = Aggregate(t, tokens)\n",
                      seeds[1]));
    RepairOptions o;
    repair_options_default(&o);
    o.max_steps = 1;
    o.beam = 1;
    RepairResult r;
    CHECK(search_repair(&g, seeds[0], 1, &o, &r, err, sizeof err) == 0);
    CHECK_MSG(!r.found && r.restarts == 0 && r.best_progress < r.sublayers,
              "the first seed alone: found %d, restarts %d", r.found, r.restarts);
    CHECK(search_repair(&g, seeds[0], 2, &o, &r, err, sizeof err) == 0);
    CHECK_MSG(r.found && r.restarts == 1 && r.steps == 1, "found %d restarts %d steps %d",
              r.found, r.restarts, r.steps);
    CHECK(r.found && memcmp(r.table, want, sizeof want) == 0);
    search_given_free(&g);
    compiled_model_free(m);
}

int main(void) {
    RUN(test_edits);
    RUN(test_limits);
    RUN(test_restart);
    TEST_END();
}
