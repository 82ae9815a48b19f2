/* itracr transform: function-preserving transforms and compression of a model file. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compiler/model.h"
#include "transform/transform.h"

static const char *usage =
    "usage: itracr transform MODEL.safetensors (--rotate | --permute | --scale | --compress D)...\n"
    "                        [--seed S] -o OUT.safetensors\n"
    "\n"
    "Rewrites a compiled model's weights without changing what it computes (docs/transforms.md):\n"
    "  --rotate         a random orthogonal change of basis of the residual stream (Haar)\n"
    "  --permute        random order of the heads of each layer and of the MLP hidden units\n"
    "  --scale          random positive rescaling of hidden units (W1 column s, W2 row 1/s) and\n"
    "                   of each head's query/key and value/output columns\n"
    "  --compress D     learn a projection of the residual stream to width D (weights frozen,\n"
    "                   Adam in float64) and fold it into the weights; approximate\n"
    "  --distill        train a student of the same shape from a random start on the model's\n"
    "                   outputs (Adam, float64); approximate; accepted when >= 99% of whole\n"
    "                   inputs decode as the input model's\n"
    "  --width W        distillation: the student's residual width (default the model's;\n"
    "                   smaller forces superposition)\n"
    "  --steps N        compression / distillation: Adam steps (default 2000 / 3000)\n"
    "  --restarts K     compression: K runs from different random starts, the best kept\n"
    "                   (default 1)\n"
    "  --batch B        compression / distillation: sequences per step (default 32)\n"
    "  --lr X           compression / distillation: learning rate (default 0.01 / 0.003)\n"
    "  --out-weight X   compression: weight of the output term against the per-layer terms\n"
    "                   of the loss (default 10)\n"
    "  --seed S         seed of every random choice (default 1)\n"
    "  --check N        compare the written model with the input on every input up to\n"
    "                   max_seq_len, or on N random ones when there are more (default 20000);\n"
    "                   0 skips the check\n"
    "  --quiet          no report\n"
    "Transforms apply in the order distill or compress (not both), scale, permute, rotate. The report gives the share\n"
    "of output positions (and of whole inputs) where the written model decodes the same value\n"
    "as the input model; numerical outputs match within 1e-4 + 1e-3 |y|. Exit status 1 when a\n"
    "function-preserving transform (no --compress or --distill) changes an output, or when a\n"
    "distilled student is not accepted (the file is written all the same).\n";

int cmd_transform(int argc, char **argv) {
    const char *path = NULL, *out = NULL;
    bool rot = false, perm = false, scale = false, quiet = false, distill = false;
    long steps = -1, batch = -1, width = 0;
    double lr = -1;
    long compress = 0, check = 20000, x;
    unsigned long long seed = 1;
    TfCompressOptions co;
    tf_compress_options_default(&co);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
#define NEED()                                                                            \
    do {                                                                                  \
        if (!v) return cli_usage_error("transform", "%s needs a value", a);               \
        i++;                                                                              \
    } while (0)
        if (strcmp(a, "--rotate") == 0) rot = true;
        else if (strcmp(a, "--permute") == 0) perm = true;
        else if (strcmp(a, "--scale") == 0) scale = true;
        else if (strcmp(a, "--quiet") == 0) quiet = true;
        else if (strcmp(a, "--distill") == 0) distill = true;
        else if (strcmp(a, "--compress") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 1, 1 << 20, &compress)) return EXIT_USAGE;
        } else if (strcmp(a, "--steps") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 0, 100000000L, &steps)) return EXIT_USAGE;
        } else if (strcmp(a, "--width") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 1, 1 << 20, &width)) return EXIT_USAGE;
        } else if (strcmp(a, "--restarts") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 1, 1000, &x)) return EXIT_USAGE;
            co.restarts = (int)x;
        } else if (strcmp(a, "--batch") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 1, 1 << 16, &batch)) return EXIT_USAGE;
        } else if (strcmp(a, "--lr") == 0) {
            NEED();
            char *end;
            lr = strtod(v, &end);
            if (!*v || *end || !(lr > 0 && lr < 10)) return cli_usage_error("transform", "bad --lr '%s'", v);
        } else if (strcmp(a, "--out-weight") == 0) {
            NEED();
            char *end;
            co.out_weight = strtod(v, &end);
            if (!*v || *end || !(co.out_weight >= 0 && co.out_weight <= 1e6))
                return cli_usage_error("transform", "bad --out-weight '%s'", v);
        } else if (strcmp(a, "--seed") == 0) {
            NEED();
            char *end;
            seed = strtoull(v, &end, 10);
            if (!*v || *end || v[0] == '-') return cli_usage_error("transform", "bad --seed '%s'", v);
        } else if (strcmp(a, "--check") == 0) {
            NEED();
            if (!cli_parse_int("transform", a, v, 0, 100000000L, &check)) return EXIT_USAGE;
        } else if (strcmp(a, "-o") == 0) {
            NEED();
            out = v;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("transform", "unknown option '%s'", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("transform", "unexpected argument '%s'", a);
        }
#undef NEED
    }
    if (!path) return cli_usage_error("transform", "missing MODEL.safetensors");
    if (!out) return cli_usage_error("transform", "-o OUT is required");
    if (!rot && !perm && !scale && !compress && !distill)
        return cli_usage_error("transform", "name at least one of --rotate, --permute, --scale, --compress, --distill");
    if (compress && distill) return cli_usage_error("transform", "--compress and --distill exclude each other");
    if (steps >= 0) co.steps = (int)steps;
    if (batch > 0) co.batch = (int)batch;
    if (lr > 0) co.lr = lr;
    TfDistillOptions dopt;
    tf_distill_options_default(&dopt);
    if (steps >= 0) dopt.steps = (int)steps;
    if (batch > 0) dopt.batch = (int)batch;
    if (lr > 0) dopt.lr = lr;
    dopt.width = (int)width;
    if (width && !distill) return cli_usage_error("transform", "--width applies to --distill");
    bool rejected = false;

    char err[1024];
    CompiledModel *m = NULL, *t = NULL, *back = NULL;
    if (model_load(path, &m, err, sizeof err)) {
        fprintf(stderr, "itracr transform: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    int rc = EXIT_BAD_INPUT;
    if (compress) {
        if (compress > m->residual_dim) {
            fprintf(stderr, "itracr transform: --compress %ld is wider than the model's residual (%d)\n", compress,
                    m->residual_dim);
            goto done;
        }
        co.dim = (int)compress;
        co.seed = seed;
        co.verbose = !quiet;
        TfCompressReport cr;
        if (tf_compress(m, &co, &t, &cr, err, sizeof err)) goto fail;
        if (!quiet)
            fprintf(stderr, "compress: width %d -> %d, %d steps, loss %.4g -> %.4g, %.2f s\n", m->residual_dim,
                    co.dim, cr.steps, cr.loss_first, cr.loss_last, cr.seconds);
    } else if (distill) {
        dopt.seed = seed;
        dopt.verbose = !quiet;
        dopt.check_inputs = check > 0 ? check : 20000;
        TfDistillReport dr;
        if (tf_distill(m, &dopt, &t, &dr, err, sizeof err)) goto fail;
        rejected = !dr.accepted;
        if (!quiet)
            fprintf(stderr,
                    "distill: %d steps, loss %.4g -> %.4g, %.2f s; %.2f%% of inputs and %.2f%% of positions match: %s\n",
                    dr.steps, dr.loss_first, dr.loss_last, dr.seconds, 100 * dr.input_accuracy,
                    100 * dr.position_accuracy, dr.accepted ? "accepted" : "NOT accepted (< 99% of inputs)");
    } else {
        t = tf_model_clone(m);
    }
    if ((scale && tf_scale(t, seed, err, sizeof err)) || (perm && tf_permute(t, seed, err, sizeof err)) ||
        (rot && tf_rotate(t, seed, err, sizeof err)))
        goto fail;
    if (model_save(t, out, err, sizeof err)) goto fail;
    rc = EXIT_OK;
    if (check > 0) {
        /* the file as written (float32), not the float64 weights in memory */
        TfCompare cmp;
        if (model_load(out, &back, err, sizeof err) ||
            tf_compare(back, m, check, seed, 1e-3, 1e-4, &cmp, err, sizeof err)) {
            rc = EXIT_BAD_INPUT;
            goto fail;
        }
        if (!quiet) {
            printf("checked %ld inputs%s: %ld/%ld output positions match (%.2f%%), %ld/%ld whole inputs (%.2f%%); "
                   "%ld positions without a defined output skipped; max |diff| %.3g (outputs up to %.3g)\n",
                   cmp.n_inputs, cmp.exhaustive ? " (every input)" : " (random)", cmp.n_positions_match,
                   cmp.n_positions, 100.0 * (double)cmp.n_positions_match / (double)(cmp.n_positions ? cmp.n_positions : 1),
                   cmp.n_inputs_match, cmp.n_inputs, 100.0 * (double)cmp.n_inputs_match / (double)(cmp.n_inputs ? cmp.n_inputs : 1),
                   cmp.n_skipped, cmp.max_abs_diff, cmp.max_ref_abs);
            if (cmp.first_mismatch[0]) printf("first mismatch: %s\n", cmp.first_mismatch);
        }
        if (!compress && !distill && cmp.n_positions_match != cmp.n_positions) {
            fprintf(stderr, "itracr transform: the transformed model's outputs differ from the input's\n");
            rc = EXIT_BAD_INPUT;
        }
    }
    if (rejected) rc = EXIT_BAD_INPUT;
    goto done;
fail:
    fprintf(stderr, "itracr transform: %s\n", err);
done:
    compiled_model_free(m);
    compiled_model_free(t);
    compiled_model_free(back);
    return rc;
}
