/* The encoder learns a RASP task in-test: reverse over 3 tokens at length up to 3 (39
 * inputs) reaches 100% per input; the task's data match the interpreter. */
#include <stdlib.h>

#include "bert/bert.h"
#include "test.h"

static char g_dir[256], g_task[300];

static const char *reverse3 = "vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 3\n"
                              "all_true_selector = Select(tokens, tokens, TRUE)\n"
                              "length = SelectorWidth(all_true_selector)\n"
                              "opp_idx = length - indices\nopp_idx_m1 = opp_idx - 1\n"
                              "reverse_selector = Select(indices, opp_idx_m1, EQ)\n"
                              "reverse = Aggregate(reverse_selector, tokens)\n";

static void write_task(void) {
    snprintf(g_task, sizeof g_task, "%s/reverse3.rasp", g_dir);
    FILE *f = fopen(g_task, "w");
    fputs(reverse3, f);
    fclose(f);
}

static void test_task_data(void) {
    BertTask t;
    char err[512];
    CHECK_MSG(bert_task_load(g_task, 1000, 1, &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.exhaustive && t.n_inputs == 3 + 9 + 27 && t.T == 4);
    CHECK(t.voc.n_tokens == 5 && t.voc.n_outputs == 3);
    /* the last input is c c c; reversed "a b c" (index 3 + 9 + 5 = 17) is c b a */
    int k = 3 + 9 + 5;
    CHECK(t.len[k] == 4);
    for (int i = 1; i < 4; i++) {
        Value in = t.voc.tokens[t.ids[k * 4 + 4 - i]], out = t.voc.outputs[t.tgt[k * 4 + i]];
        CHECK(val_eq(in, out));
    }
    CHECK(t.tgt[k * 4] == -1);
    bert_task_free(&t);
    /* a sample when the inputs are too many */
    CHECK(bert_task_load(g_task, 10, 3, &t, err, sizeof err) == 0);
    CHECK(!t.exhaustive && t.n_inputs == 10);
    bert_task_free(&t);
    CHECK(bert_task_load("tests/no/such.rasp", 10, 3, &t, err, sizeof err) == 1);
    bert_task_free(&t);
}

static void test_learns_reverse(void) {
    BertTask t;
    char err[512];
    CHECK(bert_task_load(g_task, 1000, 1, &t, err, sizeof err) == 0);
    BertConfig cfg = {.vocab = t.voc.n_tokens,
                      .positions = t.T,
                      .hidden = 16,
                      .heads = 2,
                      .layers = 1,
                      .intermediate = 32,
                      .classes = t.voc.n_outputs,
                      .ln_eps = 1e-12};
    BertModel m;
    CHECK(bert_alloc(&m, &cfg, err, sizeof err) == 0);
    BertAccuracy acc;
    CHECK(bert_accuracy(&m, &t, &acc, err, sizeof err) == 1); /* no vocabulary yet: refused */
    CHECK(strstr(err, "does not fit the task") != NULL);
    bert_set_vocab(&m, &t.voc);
    bert_init(&m, 1);
    CHECK(bert_accuracy(&m, &t, &acc, err, sizeof err) == 0);
    CHECK(acc.inputs == 39 && acc.positions == 3 + 18 + 81);
    CHECK(acc.inputs_ok < 39); /* untrained */
    BertTrainOptions o;
    bert_train_options_default(&o);
    o.steps = 1500;
    o.batch = 16;
    double loss;
    CHECK_MSG(bert_train(&m, &t, &o, &loss, err, sizeof err) == 0, "%s", err);
    CHECK(bert_accuracy(&m, &t, &acc, err, sizeof err) == 0);
    CHECK_MSG(acc.inputs_ok == 39, "%ld of 39 inputs, loss %g", acc.inputs_ok, loss);
    CHECK(loss < 0.1);
    bert_free(&m);
    bert_task_free(&t);
}

int main(void) {
    if (test_tmpdir(g_dir, sizeof g_dir, "bert_train")) return 1;
    write_task();
    RUN(test_task_data);
    RUN(test_learns_reverse);
    test_rm_tree(g_dir);
    TEST_END();
}
