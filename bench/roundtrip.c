/* The generator issue's round-trip check at full scale: for N sampled programs (default
 * 100,000, default generator settings), decode(encode(p)) — and also the trip through the
 * .rasp text, parse(format(p)) then encode — gives the same canonical tokens and compiles to
 * a byte-identical model file. Too slow for the test suite (tests/test_gen_sampler.c runs the
 * same check on 2,000 samples); run it as
 *     make bench && build/release/bench/roundtrip [N] [SEED]
 * It prints the counts and exits 1 on any difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compiler/model.h"
#include "gen/program_tokens.h"
#include "gen/sampler.h"
#include "rasp/rasp.h"

static int compile_bytes(const RaspProgram *p, unsigned char **buf, size_t *len, char *err,
                         size_t cap) {
    CompileOptions o;
    compile_options_default(&o);
    CompiledModel *m = NULL;
    if (compile_program(p, &o, &m, err, cap) != 0) return 1;
    int rc = model_serialize(m, buf, len, err, cap);
    compiled_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    GenConfig cfg;
    gen_config_default(&cfg);
    char err[2048];
    GenSampler *s = gen_sampler_new(&cfg, err, sizeof err);
    if (!s) {
        fprintf(stderr, "roundtrip: %s\n", err);
        return 1;
    }
    Value vocab[GEN_MAX_VOCAB];
    for (int i = 0; i < cfg.n_vocab; i++) vocab[i] = val_int(cfg.vocab[i]);
    long sampled = 0, no_sample = 0, uncompilable = 0, token_diff = 0, text_diff = 0,
         model_diff = 0, first_reported = 0;
    clock_t t0 = clock();
    for (long i = 0; i < n; i++) {
        GenSample g;
        if (gen_sample(s, gen_sample_seed(seed, (uint64_t)i), &g) != 0) {
            no_sample++;
            continue;
        }
        sampled++;
        RaspProgram p, q, r;
        if (pt_decode(g.tokens, vocab, cfg.n_vocab, cfg.max_seq_len, &p, err, sizeof err) != 0) {
            token_diff++;
            continue;
        }
        unsigned char *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        int16_t t2[PT_ROWS * PT_COLS], t3[PT_ROWS * PT_COLS];
        bool bad_tokens =
            pt_encode(&p, t2, err, sizeof err) != 0 || memcmp(t2, g.tokens, sizeof t2) != 0;
        /* through the text format */
        char *text = rasp_format(&p);
        bool bad_text = rasp_parse("<roundtrip>", text, &r, err, sizeof err) != 0;
        if (!bad_text) {
            bad_text =
                pt_encode(&r, t3, err, sizeof err) != 0 || memcmp(t3, g.tokens, sizeof t3) != 0;
            rasp_program_free(&r);
        }
        free(text);
        if (compile_bytes(&p, &b1, &n1, err, sizeof err) != 0) {
            uncompilable++;
        } else if (pt_decode(t2, vocab, cfg.n_vocab, cfg.max_seq_len, &q, err, sizeof err) != 0) {
            bad_tokens = true;
        } else {
            if (compile_bytes(&q, &b2, &n2, err, sizeof err) != 0 || n1 != n2 ||
                memcmp(b1, b2, n1)) {
                model_diff++;
                if (!first_reported++) {
                    char *t = pt_format_table(g.tokens);
                    fprintf(stderr, "roundtrip: sample %ld compiles differently:\n%s\n", i, t);
                    free(t);
                }
            }
            rasp_program_free(&q);
        }
        token_diff += bad_tokens;
        text_diff += bad_text;
        free(b1);
        free(b2);
        rasp_program_free(&p);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("seeds=%ld sampled=%ld no_sample=%ld uncompilable=%ld token_diff=%ld text_diff=%ld "
           "model_diff=%ld cpu_s=%.1f\n",
           n, sampled, no_sample, uncompilable, token_diff, text_diff, model_diff, secs);
    gen_sampler_free(s);
    return (token_diff || text_diff || model_diff || uncompilable) ? 1 : 0;
}
