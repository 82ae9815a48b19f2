/* The second half of `itracr demo`: the inverse direction. A program from the shipped
 * meta-model's training distribution is compiled, its weights are decompiled with the shipped
 * model (greedy, then the verified search), and the true and predicted programs are printed
 * with the verdict. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "dataset/weight_tokens.h"
#include "eval/search.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "meta/meta.h"

/* Sample 29 of `itracr gen -n 1000 --seed 777 --split test=1` (the shipped model was trained
 * on --seed 1; this program is not in its training split), printed by `itracr fmt`. With the
 * model shipped when this was written (step 8,000) the greedy decode gets one lambda wrong and
 * the search finds the program at its 4th candidate; the demo prints whatever happens. */
static const char *inverse_source =
    "# sample 29 of `itracr gen -n 1000 --seed 777 --split test=1`: held out from training\n"
    "vocab {0, 1, 2, 3, 4}\n"
    "max_seq_len 5\n"
    "\n"
    "v1 = Map(lambda x: x // 2, indices)\n"
    "v2 = Map(lambda x: max(x, 2), tokens)\n"
    "v3 = SequenceMap(lambda x, y: x - y, v1, v2)\n"
    "output v3\n";

#define META_NAME "models/meta-small.safetensors"

static void print_indented(const char *s) {
    for (const char *l = s; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) : strlen(l);
        if (n && l[0] != '#' && strncmp(l, "vocab", 5) && strncmp(l, "max_seq_len", 11))
            printf("    %.*s\n", (int)n, l);
        l += n + (e ? 1 : 0);
    }
}

static void print_table_program(const int16_t *t, const Value *vocab, int nv, int msl) {
    RaspProgram p;
    char err[256];
    if (pt_decode(t, vocab, nv, msl, &p, err, sizeof err) == 0) {
        char *s = rasp_format(&p);
        if (s) print_indented(s);
        free(s);
    } else {
        printf("    (does not decode: %s)\n", err);
    }
    rasp_program_free(&p);
}

int demo_inverse(const char *meta_arg) {
    printf("\n== the inverse direction: weights -> program ==\n");
    char *meta = meta_arg ? strdup(meta_arg) : cli_find_shipped(META_NAME);
    if (!meta || access(meta, R_OK) != 0) {
        printf(
            "skipped: the shipped meta-model %s was not found (run from the checkout, or pass --meta PATH)\n",
            meta_arg ? meta_arg : META_NAME);
        free(meta);
        return EXIT_OK;
    }
    char err[1024];
    RaspProgram p;
    CompiledModel *m = NULL;
    MetaModel mm;
    int have_mm = 0, rc = EXIT_BAD_INPUT;
    WtTokens wt;
    wt_tokens_init(&wt);
    WtOptions wo;
    wt_options_default(&wo); /* chunks/asinh: what the shipped model was trained on */
    if (rasp_parse("<demo:inverse.rasp>", inverse_source, &p, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        free(meta);
        return EXIT_BAD_INPUT;
    }
    CompileOptions co;
    compile_options_default(&co);
    if (compile_program(&p, &co, &m, err, sizeof err) != 0 || gen_lib_init(err, sizeof err) != 0 ||
        wt_encode(m, &wo, &wt, err, sizeof err) != 0) {
        fprintf(stderr, "itracr demo: %s\n", err);
        goto done;
    }
    if (meta_checkpoint_load(&mm, meta, 1, err, sizeof err) != 0) {
        printf("skipped: %s\n", err);
        rc = EXIT_OK;
        goto done;
    }
    have_mm = 1;
    printf(
        "a program from the shipped model's training distribution (vocab {0..4}, max_seq_len 5), drawn\n"
        "with a seed it never trained on; compiled to %d layers, residual width %d, %d weight tokens,\n"
        "then decompiled by %s:\n\ntrue program:\n",
        m->num_layers, m->residual_dim, wt.n, meta);
    print_indented(inverse_source);
    Value vocab[64];
    int nv = 0;
    for (int i = 0; i < m->vocab_size && nv < 64; i++)
        if (i != m->bos_id && i != m->pad_id) vocab[nv++] = m->tokens[i];
    int16_t greedy[PT_ROWS * PT_COLS], truth[PT_ROWS * PT_COLS];
    if (pt_encode(&p, truth, err, sizeof err) != 0 ||
        meta_decode_table(&mm, wt.payload, wt.ids, wt.n, 1, greedy, err, sizeof err) != 0) {
        fprintf(stderr, "itracr demo: %s\n", err);
        goto done;
    }
    printf("\ntop-1 (greedy) prediction: %s\n",
           memcmp(greedy, truth, sizeof truth) == 0 ? "exact" : "wrong");
    print_table_program(greedy, vocab, nv, m->max_seq_len);
    SearchOptions so;
    search_options_default(&so);
    SearchResult r;
    if (search_decompile(&mm, m, wt.payload, wt.ids, wt.n, &so, &r, err, sizeof err) != 0) {
        fprintf(stderr, "itracr demo: %s\n", err);
        goto done;
    }
    printf("\nsearch (`itracr decompile --search %d`): candidate %d of %d tried (1 is the greedy\n"
           "decode), %.0f ms; %s\n",
           so.max_candidates, r.winner + 1, r.tried, r.ms,
           memcmp(r.table, truth, sizeof truth) == 0 ? "exact" : "not the true program");
    print_table_program(r.table, vocab, nv, m->max_seq_len);
    if (r.verdict != SEARCH_NONE) printf("verified: %s\n", search_verdict_name(r.verdict));
    else printf("verified: none (disagrees on %ld of %ld inputs)\n", r.n_disagree, r.n_inputs);
    rc = EXIT_OK;
done:
    if (have_mm) meta_model_free(&mm);
    wt_tokens_free(&wt);
    if (m) compiled_model_free(m);
    rasp_program_free(&p);
    free(meta);
    return rc;
}
