/* The meta-model's training domain (eval/ood.h): read from a checkpoint's .train.json and the
 * dataset it names, or the generator's defaults; models outside it are reported with every
 * reason, models inside with none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler/model.h"
#include "eval/ood.h"
#include "meta/meta.h"
#include "rasp/rasp.h"
#include "test.h"

static CompiledModel *compile_text(const char *text) {
    RaspProgram p;
    char err[1024];
    if (rasp_parse("<test>", text, &p, err, sizeof err)) {
        fprintf(stderr, "  parse: %s\n", err);
        return NULL;
    }
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    if (compile_program(&p, &o, &m, err, sizeof err)) fprintf(stderr, "  compile: %s\n", err);
    rasp_program_free(&p);
    return m;
}

static const char *PROG =
    "select_all = Select(tokens, tokens, TRUE)\nlength = SelectorWidth(select_all)\noutput length\n";

static void test_generator_defaults(void) {
    MetaDomain d;
    char err[512], why[512], text[512];
    /* no checkpoint, no sidecar: the generator's defaults (vocab {0..4}, max_seq_len 5) */
    CHECK(meta_domain_read("/nonexistent/meta.safetensors", &d, err, sizeof err) == 0);
    CHECK(!d.vary && d.n_vocab == 5 && d.max_seq_len == 5 && strstr(d.source, "defaults"));
    snprintf(text, sizeof text, "vocab {0, 1, 2, 3, 4}\nmax_seq_len 5\n%s", PROG);
    CompiledModel *in = compile_text(text);
    CHECK(in && meta_domain_check(&d, in, why, sizeof why) == 0 && why[0] == 0);
    snprintf(text, sizeof text, "vocab {\"a\", \"b\"}\nmax_seq_len 7\n%s", PROG);
    CompiledModel *out = compile_text(text);
    CHECK(out && meta_domain_check(&d, out, why, sizeof why) == 2);
    CHECK_MSG(strstr(why, "vocab of 2 non-integer tokens, trained on {0, 1, 2, 3, 4}") &&
                  strstr(why, "max_seq_len 7, trained on 5"),
              "%s", why);
    compiled_model_free(in);
    compiled_model_free(out);
}

/* A checkpoint trained on a dataset: its manifest's generator block is the domain. */
static void test_dataset_manifest(void) {
    char dir[] = "/tmp/itracr_ood_XXXXXX", path[512], err[512], why[512], text[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs(
        "{\"format\": \"itracr-dataset/1\", \"generator\": {\"vocab\": [1, 2, 3], \"max_seq_len\": 4, "
        "\"max_residual\": 8, \"max_layers\": 10, \"max_mlp_width\": 128}}\n",
        f);
    fclose(f);
    TrainConfig tc;
    train_config_default(&tc);
    char *js = train_sidecar_json(&tc, dir), meta[600];
    snprintf(meta, sizeof meta, "%s/meta.safetensors", dir);
    char *side = train_sidecar_path(meta);
    f = fopen(side, "w");
    CHECK(f && js);
    if (f && js) fputs(js, f);
    if (f) fclose(f);
    MetaDomain d;
    CHECK_MSG(meta_domain_read(meta, &d, err, sizeof err) == 0, "%s", err);
    CHECK(d.n_vocab == 3 && d.vocab[0] == 1 && d.max_seq_len == 4 && d.max_residual == 8 &&
          strstr(d.source, "manifest.json"));
    snprintf(text, sizeof text, "vocab {1, 2, 3}\nmax_seq_len 4\n%s", PROG);
    CompiledModel *m = compile_text(text);
    /* vocab and length as trained; the residual width (> 8) is not */
    CHECK_MSG(m && m->residual_dim > 8 && meta_domain_check(&d, m, why, sizeof why) == 1 &&
                  strstr(why, "residual width"),
              "%s", why);
    compiled_model_free(m);
    unlink(side), unlink(path);
    rmdir(dir);
    free(js), free(side);
}

/* A streamed run that drew general-setting samples (--general): its domain is the general
 * setting's ranges, which hold string vocabularies and other lengths, and the fixed one. */
static void test_general_stream(void) {
    char dir[] = "/tmp/itracr_ood_XXXXXX", err[512], why[512], text[512], meta[600];
    CHECK(mkdtemp(dir) != NULL);
    TrainConfig tc;
    train_config_default(&tc);
    tc.stream = 1, tc.general = 0.5;
    char *js = train_sidecar_json(&tc, NULL);
    snprintf(meta, sizeof meta, "%s/meta.safetensors", dir);
    char *side = train_sidecar_path(meta);
    FILE *f = fopen(side, "w");
    CHECK(f && js);
    if (f && js) fputs(js, f);
    if (f) fclose(f);
    MetaDomain d;
    CHECK_MSG(meta_domain_read(meta, &d, err, sizeof err) == 0, "%s", err);
    CHECK(d.vary && d.vocab_min == 2 && d.vocab_max == 10 && d.len_min == 2 && d.len_max == 10 &&
          strstr(d.source, "general"));
    const char *inside[] = {"vocab {\"a\", \"b\", \"c\"}\nmax_seq_len 8\n",
                            "vocab {0, 1, 2, 3, 4}\nmax_seq_len 5\n"};
    for (int i = 0; i < 2; i++) {
        snprintf(text, sizeof text, "%s%s", inside[i], PROG);
        CompiledModel *m = compile_text(text);
        CHECK_MSG(m && meta_domain_check(&d, m, why, sizeof why) == 0, "%s", why);
        compiled_model_free(m);
    }
    snprintf(text, sizeof text, "vocab {0, 1, 2, 3, 4}\nmax_seq_len 12\n%s", PROG);
    CompiledModel *m = compile_text(text);
    CHECK_MSG(m && meta_domain_check(&d, m, why, sizeof why) == 1 && strstr(why, "2..10"), "%s",
              why);
    compiled_model_free(m);
    unlink(side);
    rmdir(dir);
    free(js), free(side);
}

int main(void) {
    RUN(test_generator_defaults);
    RUN(test_dataset_manifest);
    RUN(test_general_stream);
    TEST_END();
}
