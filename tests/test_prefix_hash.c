/* Prefix digests of compiled models (model_prefix_hashes) and the search's use of them:
 * programs that share their first blocks have equal digests up to the first block that
 * differs and different ones from there on; renaming the program's variables changes
 * nothing; and search_error_limit turns the first differing sublayer into the end of the
 * candidate's rows up to one sublayer later. Block digests count the blocks of one sublayer
 * two models share. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "dataset/model_hash.h"
#include "eval/search.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "test.h"

#define HEAD "vocab {0, 1, 2, 3}\nmax_seq_len 4\n"
/* layer 0: a SelectorWidth (attention + MLP); layer 1's MLP: a Map of it */
#define WIDTH "s = Select(tokens, tokens, LT)\nw = SelectorWidth(s)\n"

static int prefixes(const CompiledModel *m, uint64_t (*h)[2]) {
    int S = 2 * m->num_layers;
    CHECK(model_prefix_hashes(m, 0, S, h) == 0);
    return S;
}

static void test_shared_prefix(void) {
    CompiledModel *a = tc_compile_text(HEAD WIDTH "m = Map(lambda x: x + 1, w)\n");
    CompiledModel *b = tc_compile_text(HEAD WIDTH "m = Map(lambda x: x < 2, w)\n");
    /* the same as a with other names */
    CompiledModel *c = tc_compile_text(HEAD "sel = Select(tokens, tokens, LT)\n"
                                            "width = SelectorWidth(sel)\n"
                                            "plus = Map(lambda x: x + 1, width)\n");
    /* a relabelled copy of a's last Map (x + 2 instead of x + 1): the same blocks up to the
     * names of m's values, so every prefix agrees, and only the whole-model hash (which
     * reads the output values) tells them apart */
    CompiledModel *d = tc_compile_text(HEAD WIDTH "m = Map(lambda x: x + 2, w)\n");
    CHECK(a && b && c && d);
    if (!a || !b || !c || !d) goto done;
    CHECK(a->num_layers == 2 && b->num_layers == 2);
    uint64_t ha[4][2], hb[4][2], hc[4][2], hd[4][2];
    CHECK(prefixes(a, ha) == 4 && prefixes(b, hb) == 4 && prefixes(c, hc) == 4 &&
          prefixes(d, hd) == 4);
    for (int s = 0; s < 4; s++) {
        bool ab = memcmp(ha[s], hb[s], sizeof ha[s]) == 0;
        CHECK_MSG(ab == (s < 3), "prefix %d: a and b %s", s, ab ? "agree" : "differ");
        CHECK_MSG(memcmp(ha[s], hc[s], sizeof ha[s]) == 0, "prefix %d: renaming changed it", s);
        CHECK_MSG(memcmp(ha[s], hd[s], sizeof ha[s]) == 0, "prefix %d: relabelling changed it", s);
    }
    /* prefixes are not the whole model */
    uint64_t fa[2], fd[2];
    CHECK(model_hash128(a, fa) == 0 && model_hash128(d, fd) == 0 && memcmp(fa, fd, sizeof fa));
    /* a range: prefix 2 alone is the third of all */
    uint64_t one[1][2];
    CHECK(model_prefix_hashes(a, 2, 3, one) == 0 && memcmp(one[0], ha[2], sizeof one[0]) == 0);
done:
    compiled_model_free(a);
    compiled_model_free(b);
    compiled_model_free(c);
    compiled_model_free(d);
}

/* Block digests (model_block_digests): the first MLP holds two Maps of the tokens, two hidden
 * units each (one per output value, reading the tokens that map to it). A model with one Map
 * changed shares that sublayer's other two units with the truth; one whose Maps are x == "b"
 * and x == "c" shares the two of x == "b" (the truth's second Map, under the first one's
 * name); a renamed copy shares all four; the prefix digest of the sublayer tells only "all
 * or not". */
static int shared(const CompiledModel *a, const CompiledModel *b, int s) {
    int cap = 64, na = 0, nb = 0, k = 0;
    uint64_t da[64][2], db[64][2];
    if (a->mlp_hidden_size > cap || b->mlp_hidden_size > cap || model_block_digests(a, s, da, &na) ||
        model_block_digests(b, s, db, &nb))
        return -1;
    bool used[64] = {false};
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (!used[j] && memcmp(da[i], db[j], sizeof da[i]) == 0) {
                used[j] = true;
                k++;
                break;
            }
    return k;
}

static void test_block_digests(void) {
#define STR "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 3\n"
#define SUM "r = SequenceMap(lambda x, y: x + y, p, q)\n"
    CompiledModel *t = tc_compile_text(STR "p = Map(lambda x: 1 if x == \"a\" else 0, tokens)\n"
                                           "q = Map(lambda x: 1 if x == \"b\" else 0, tokens)\n" SUM);
    CompiledModel *one = tc_compile_text(STR "p = Map(lambda x: 1 if x == \"a\" else 0, tokens)\n"
                                             "q = Map(lambda x: 1 if x == \"c\" else 0, tokens)\n" SUM);
    CompiledModel *two = tc_compile_text(STR "p = Map(lambda x: 1 if x == \"b\" else 0, tokens)\n"
                                             "q = Map(lambda x: 1 if x == \"c\" else 0, tokens)\n" SUM);
    CompiledModel *none = tc_compile_text(STR "p = Map(lambda x: 1 if x == \"c\" else 0, tokens)\n"
                                              "q = Map(lambda x: 2 if x == \"c\" else 0, tokens)\n" SUM);
    CompiledModel *ren = tc_compile_text(STR "u = Map(lambda x: 1 if x == \"a\" else 0, tokens)\n"
                                             "v = Map(lambda x: 1 if x == \"b\" else 0, tokens)\n"
                                             "r = SequenceMap(lambda x, y: x + y, u, v)\n");
    CHECK(t && one && two && ren);
    if (t && one && two && ren) {
        uint64_t ht[4][2], h1[4][2];
        CHECK(prefixes(t, ht) >= 2 && prefixes(one, h1) >= 2);
        CHECK(memcmp(ht[1], h1[1], sizeof ht[1]) != 0); /* the sublayer's digest: differs */
        CHECK_MSG(shared(t, t, 1) == 4, "%d", shared(t, t, 1));
        CHECK_MSG(shared(t, ren, 1) == 4, "%d", shared(t, ren, 1));
        CHECK_MSG(shared(t, one, 1) == 2, "%d", shared(t, one, 1));
        CHECK_MSG(shared(t, two, 1) == 2, "%d", shared(t, two, 1));
        CHECK_MSG(none && shared(t, none, 1) == 0, "%d", none ? shared(t, none, 1) : -1);
        /* out of range: no blocks */
        uint64_t d[1][2];
        int n = 5;
        CHECK(model_block_digests(t, 99, d, &n) == 0 && n == 0);
    }
    compiled_model_free(t);
    compiled_model_free(one);
    compiled_model_free(two);
    compiled_model_free(ren);
    compiled_model_free(none);
#undef STR
#undef SUM
}

/* search_error_limit: the given model is a (Select, SelectorWidth, Map x + 1); a candidate
 * with the wrong Map (x < 2) goes wrong in sublayer 3, whose rows end the sequence, so the
 * limit is the whole sequence; with the wrong comparison (LEQ) it goes wrong in sublayer 0,
 * so the limit ends after sublayer 1's rows (the Select and the SelectorWidth), before the
 * Map. */
static void test_error_limit(void) {
    char err[256];
    CHECK(gen_lib_init(err, sizeof err) == 0);
    RaspProgram p;
    CHECK(rasp_parse("t.rasp", HEAD WIDTH "m = Map(lambda x: x + 1, w)\n", &p, err, sizeof err) ==
          0);
    CompiledModel *given = tc_compile_program(&p, "given");
    rasp_program_free(&p);
    SearchGiven g;
    CHECK(given && search_given_init(&g, given, err, sizeof err) == 0);
    if (!given) return;
    const char *cands[] = {HEAD WIDTH "m = Map(lambda x: x < 2, w)\n",
                           HEAD "s = Select(tokens, tokens, LEQ)\nw = SelectorWidth(s)\n"
                                "m = Map(lambda x: x + 1, w)\n",
                           HEAD WIDTH "m = Map(lambda x: x + 1, w)\n"};
    const int want[] = {3 * PT_COLS, 2 * PT_COLS, -1};
    for (int i = 0; i < 3; i++) {
        int16_t t[PT_ROWS * PT_COLS];
        CompiledModel *c = NULL;
        if (rasp_parse("c.rasp", cands[i], &p, err, sizeof err) == 0 &&
            pt_encode(&p, t, err, sizeof err) == 0)
            c = tc_compile_program(&p, "candidate");
        rasp_program_free(&p);
        CHECK_MSG(c != NULL, "candidate %d: %s", i, err);
        if (!c) continue;
        int got = search_error_limit(&g, c, t);
        CHECK_MSG(got == want[i], "candidate %d: limit %d, want %d", i, got, want[i]);
        compiled_model_free(c);
    }
    search_given_free(&g);
    compiled_model_free(given);
}

int main(void) {
    RUN(test_shared_prefix);
    RUN(test_error_limit);
    RUN(test_block_digests);
    TEST_END();
}
