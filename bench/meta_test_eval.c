/* Held-out evaluation of a trained meta-model, the `itracr decompile --check` logic over a
 * dataset split: for the first N samples of DIR/SPLIT, constrained decode (greedy or beam),
 * exact match of the table, and functional equivalence of the recompiled prediction with
 * the true program (same vocab and max_seq_len; every input when <= 100,000, else 10,000
 * seeded random ones). Each check runs in a child process limited to 2 GiB and 60 s; one
 * that dies counts as not equivalent (check_out_of_resources).
 *
 *   build/release/bench/meta_test_eval META.safetensors DIR [SPLIT=test] [N=500] [BEAM=1]
 *
 * The dataset's vocabulary is the generator default 0..4 with max_seq_len 5 unless
 * VOCAB_N / MAX_SEQ_LEN are set in the environment (tokens 0..VOCAB_N-1). Prints one summary
 * line of JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eval/equiv.h"
#include "meta/meta.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s META.safetensors DIR [SPLIT] [N] [BEAM]\n", argv[0]);
        return 2;
    }
    const char *split = argc > 3 ? argv[3] : "test";
    int n = argc > 4 ? atoi(argv[4]) : 500, beam = argc > 5 ? atoi(argv[5]) : 1;
    int nv = getenv("VOCAB_N") ? atoi(getenv("VOCAB_N")) : 5;
    int msl = getenv("MAX_SEQ_LEN") ? atoi(getenv("MAX_SEQ_LEN")) : 5;
    if (nv < 1 || nv > 64 || msl < 1 || n < 1) return 2;
    char err[1024];
    MetaModel m;
    if (meta_checkpoint_load(&m, argv[1], beam > 1 ? beam : 1, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    TrainData d;
    train_data_init(&d);
    if (train_data_load_split(&d, argv[2], split, 0, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    Value vocab[64];
    for (int i = 0; i < nv; i++) vocab[i] = val_int(i);
    if (n > d.n) n = d.n;
    int exact = 0, equiv = 0, no_decode = 0, no_compile = 0, too_long = 0, resource = 0;
    clock_t t0 = clock();
    for (int s = 0; s < n; s++) {
        int P = (int)(d.off[s + 1] - d.off[s]);
        int16_t pred[PT_ROWS * PT_COLS];
        const int16_t *truth = d.prog + (size_t)s * PT_ROWS * PT_COLS;
        if (P > m.cfg.max_prefix) {
            too_long++;
            continue;
        }
        if (meta_decode_table(&m, d.payload + d.off[s] * WT_WIDTH, d.ids + d.off[s] * WT_N_IDS, P,
                              beam, pred, err, sizeof err) != 0) {
            no_decode++;
            continue;
        }
        exact += memcmp(pred, truth, sizeof pred) == 0;
        if (getenv("VERBOSE")) {
            char *tx = pt_format_table(pred);
            fprintf(stderr, "sample %d:\n%s", s, tx ? tx : "");
            free(tx);
        }
        /* The check runs in a child with a memory and time limit: a wild prediction (say 30
         * rows of chained SequenceMaps) can make the compiler's value sets explode. */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            struct rlimit rl = {(rlim_t)2 << 30, (rlim_t)2 << 30};
            setrlimit(RLIMIT_AS, &rl);
            alarm(60);
            EquivOptions eo;
            equiv_options_default(&eo);
            EquivResult r;
            if (equiv_check_pair(truth, pred, vocab, nv, msl, NULL, &eo, &r, err, sizeof err) != 0)
                _exit(5);
            _exit(r.status == EVAL_FN_EQUIVALENT ? 0 : r.status == EVAL_FN_NO_COMPILE ? 2 : 1);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid) {
            fprintf(stderr, "sample %d: fork/wait failed\n", s);
            continue;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) > 2) {
            resource++;
            continue;
        }
        equiv += WEXITSTATUS(st) == 0;
        no_compile += WEXITSTATUS(st) == 2;
    }
    printf(
        "{\"split\":\"%s\",\"n\":%d,\"beam\":%d,\"exact\":%.4f,\"equivalent\":%.4f,\"n_exact\":%d,"
        "\"n_equivalent\":%d,\"no_compile\":%d,\"check_out_of_resources\":%d,\"decode_failed\":%d,\"too_many_weight_tokens\":%d,\"cpu_s\":%.1f}\n",
        split, n, beam, (double)exact / n, (double)equiv / n, exact, equiv, no_compile, resource,
        no_decode, too_long, (double)(clock() - t0) / CLOCKS_PER_SEC);
    train_data_free(&d);
    meta_model_free(&m);
    return 0;
}
