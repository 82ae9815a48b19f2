/* A RASP task as training data: the program's inputs (every one, or a seeded sample) and the
 * interpreter's outputs as classes. The vocabulary and the output classes come from compiling
 * the program, so the encoder's word rows and classes are in the order of Tracr's token and
 * output spaces, which is what the meta-model's weight tokens were made from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bert/bert.h"
#include "util/errmsg.h"
#include "util/rng.h"

/* Inputs of lengths 1..n over v tokens, saturated at limit + 1. */
static long input_count(int v, int n, long limit) {
    long total = 0, pw = 1;
    for (int l = 1; l <= n; l++) {
        if (pw > (limit + 1) / v) return limit + 1;
        pw *= v;
        total += pw;
        if (total > limit) return limit + 1;
    }
    return total;
}

/* Copies the compiled model's token table and output values into t->voc. */
static int take_vocab(BertTask *t, const CompiledModel *cm, const char *path, char *err,
                      size_t errcap) {
    if (cm->output_numerical)
        return err_printf(err, errcap,
                          "%s: the output %s is numerical; bert train needs a categorical output",
                          path, cm->output_name);
    BertVocab *v = &t->voc;
    v->tokens = arena_alloc(&t->arena, sizeof(Value) * (size_t)cm->vocab_size);
    v->outputs = arena_alloc(&t->arena, sizeof(Value) * (size_t)cm->n_out);
    if (!v->tokens || !v->outputs) abort();
    memcpy(v->tokens, cm->tokens, sizeof(Value) * (size_t)cm->vocab_size);
    memcpy(v->outputs, cm->out_values, sizeof(Value) * (size_t)cm->n_out);
    v->n_tokens = cm->vocab_size;
    v->n_outputs = cm->n_out;
    v->bos_id = cm->bos_id;
    v->pad_id = cm->pad_id;
    v->max_seq_len = cm->max_seq_len;
    v->source = arena_strdup(&t->arena, t->prog.source ? t->prog.source : "");
    const char *slash = strrchr(path, '/');
    v->task = arena_strdup(&t->arena, slash ? slash + 1 : path);
    t->T = cm->max_seq_len + 1;
    return 0;
}

static int class_of(const BertVocab *v, Value x) {
    if (x.kind == VAL_NONE) return -1;
    for (int c = 0; c < v->n_outputs; c++)
        if (val_eq(v->outputs[c], x)) return c;
    return -1;
}

/* Task input k: BOS, the tokens vid[digits[i]] for i < l, PAD; its classes from the
 * interpreter (-1 where the output is None or the program raises). */
static void make_input(BertTask *t, int k, const int *vid, const int *digits, int l, Value *xs,
                       Value *ys) {
    int *ids = t->ids + (size_t)k * t->T, *tgt = t->tgt + (size_t)k * t->T;
    ids[0] = t->voc.bos_id;
    tgt[0] = -1;
    for (int i = 0; i < l; i++) {
        ids[1 + i] = vid[digits[i]];
        xs[i] = t->voc.tokens[vid[digits[i]]];
    }
    for (int i = l + 1; i < t->T; i++) ids[i] = t->voc.pad_id, tgt[i] = -1;
    t->len[k] = l + 1;
    char e2[256];
    bool raised = rasp_interp(&t->prog, xs, l, t->prog.causal, ys, e2, sizeof e2) != 0;
    for (int i = 0; i < l; i++) tgt[1 + i] = raised ? -1 : class_of(&t->voc, ys[i]);
}

/* Every input in order of length, then lexicographically; or max_inputs seeded ones. */
static void fill_inputs(BertTask *t, long count, long max_inputs, uint64_t seed) {
    int N = t->voc.max_seq_len, nv = 0;
    int *vid = malloc(sizeof(int) * (size_t)t->voc.n_tokens);
    int digits[4097] = {0};
    Value *xs = malloc(sizeof(Value) * (size_t)N), *ys = malloc(sizeof(Value) * (size_t)N);
    if (!vid || !xs || !ys) abort();
    for (int id = 0; id < t->voc.n_tokens; id++)
        if (id != t->voc.bos_id && id != t->voc.pad_id) vid[nv++] = id;
    t->exhaustive = count <= max_inputs;
    t->n_inputs = (int)(t->exhaustive ? count : max_inputs);
    size_t cells = (size_t)t->n_inputs * (size_t)t->T;
    t->ids = arena_alloc(&t->arena, sizeof(int) * cells);
    t->tgt = arena_alloc(&t->arena, sizeof(int) * cells);
    t->len = arena_alloc(&t->arena, sizeof(int) * (size_t)t->n_inputs);
    if (!t->ids || !t->tgt || !t->len) abort();
    Rng r;
    rng_seed(&r, seed);
    int k = 0;
    for (int l = 1; l <= N && t->exhaustive; l++) {
        memset(digits, 0, sizeof digits);
        for (bool done = false; !done; k++) {
            make_input(t, k, vid, digits, l, xs, ys);
            int i = l - 1;
            while (i >= 0 && ++digits[i] == nv) digits[i--] = 0;
            done = i < 0;
        }
    }
    for (; k < t->n_inputs; k++) { /* a sample: length uniform in 1..N, tokens uniform */
        int l = 1 + (int)rng_below(&r, (uint64_t)N);
        for (int i = 0; i < l; i++) digits[i] = (int)rng_below(&r, (uint64_t)nv);
        make_input(t, k, vid, digits, l, xs, ys);
    }
    free(vid);
    free(xs);
    free(ys);
}

int bert_task_load(const char *path, long max_inputs, uint64_t seed, BertTask *t, char *err,
                   size_t errcap) {
    return bert_task_load_text(path, NULL, max_inputs, seed, t, err, errcap);
}

int bert_task_load_text(const char *path, const char *text, long max_inputs, uint64_t seed,
                        BertTask *t, char *err, size_t errcap) {
    memset(t, 0, sizeof *t);
    arena_init(&t->arena);
    rasp_program_init(&t->prog);
    if (text ? rasp_parse(path, text, &t->prog, err, errcap)
             : rasp_parse_file(path, &t->prog, err, errcap))
        return 1;
    CompileOptions co;
    compile_options_default(&co);
    CompiledModel *cm = NULL;
    char e2[1024];
    if (compile_program(&t->prog, &co, &cm, e2, sizeof e2))
        return err_printf(err, errcap, "%s: does not compile: %s", path, e2);
    int rc = take_vocab(t, cm, path, err, errcap);
    compiled_model_free(cm);
    if (rc) return 1;
    if (t->voc.max_seq_len > 64)
        return err_printf(err, errcap, "%s: max_seq_len %d; bert train takes at most 64", path,
                          t->voc.max_seq_len);
    if (max_inputs < 1) max_inputs = 1;
    long count = input_count(t->voc.n_tokens - 2, t->voc.max_seq_len, max_inputs);
    fill_inputs(t, count, max_inputs, seed);
    return 0;
}

void bert_task_free(BertTask *t) {
    rasp_program_free(&t->prog);
    arena_free(&t->arena);
}

int bert_task_fits(const BertModel *m, const BertTask *t, char *err, size_t errcap) {
    const BertVocab *a = &m->voc, *b = &t->voc;
    if (a->n_tokens != b->n_tokens || a->n_outputs != b->n_outputs || a->bos_id != b->bos_id ||
        a->pad_id != b->pad_id || m->cfg.positions < t->T)
        return err_printf(err, errcap,
                          "the encoder (%d tokens, %d classes, %d positions) does not fit the task "
                          "(%d tokens, %d classes, %d positions)",
                          a->n_tokens, a->n_outputs, m->cfg.positions, b->n_tokens, b->n_outputs,
                          t->T);
    for (int i = 0; i < a->n_tokens; i++)
        if (!val_eq(a->tokens[i], b->tokens[i]))
            return err_printf(err, errcap, "word row %d: the encoder and the task differ", i);
    for (int i = 0; i < a->n_outputs; i++)
        if (!val_eq(a->outputs[i], b->outputs[i]))
            return err_printf(err, errcap, "class %d: the encoder and the task differ", i);
    return 0;
}
