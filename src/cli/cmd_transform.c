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
    uint64_t seed = 1;
    TfCompressOptions co;
    tf_compress_options_default(&co);
    enum {
        O_ROTATE = 1,
        O_PERMUTE,
        O_SCALE,
        O_QUIET,
        O_DISTILL,
        O_COMPRESS,
        O_STEPS,
        O_WIDTH,
        O_RESTARTS,
        O_BATCH,
        O_LR,
        O_OUT_WEIGHT,
        O_SEED,
        O_CHECK,
        O_OUT
    };
    static const CliOpt opts[] = {{"rotate", 0, false, O_ROTATE},
                                  {"permute", 0, false, O_PERMUTE},
                                  {"scale", 0, false, O_SCALE},
                                  {"quiet", 0, false, O_QUIET},
                                  {"distill", 0, false, O_DISTILL},
                                  {"compress", 0, true, O_COMPRESS},
                                  {"steps", 0, true, O_STEPS},
                                  {"width", 0, true, O_WIDTH},
                                  {"restarts", 0, true, O_RESTARTS},
                                  {"batch", 0, true, O_BATCH},
                                  {"lr", 0, true, O_LR},
                                  {"out-weight", 0, true, O_OUT_WEIGHT},
                                  {"seed", 0, true, O_SEED},
                                  {"check", 0, true, O_CHECK},
                                  {NULL, 'o', true, O_OUT}};
    CliOpts ps;
    const char *v;
    cli_opts_init(&ps, "transform", argc, argv, opts, CLI_NOPTS(opts));
    for (int id; (id = cli_opts_next(&ps, &v)) != CLI_END;) {
        bool ok = true;
        switch (id) {
        case CLI_HELP: fputs(usage, stdout); return EXIT_OK;
        case CLI_ERR: return EXIT_USAGE;
        case O_ROTATE: rot = true; break;
        case O_PERMUTE: perm = true; break;
        case O_SCALE: scale = true; break;
        case O_QUIET: quiet = true; break;
        case O_DISTILL: distill = true; break;
        case O_COMPRESS:
            ok = cli_parse_int("transform", "--compress", v, 1, 1 << 20, &compress);
            break;
        case O_STEPS: ok = cli_parse_int("transform", "--steps", v, 0, 100000000L, &steps); break;
        case O_WIDTH: ok = cli_parse_int("transform", "--width", v, 1, 1 << 20, &width); break;
        case O_RESTARTS:
            ok = cli_parse_int("transform", "--restarts", v, 1, 1000, &x);
            co.restarts = (int)x;
            break;
        case O_BATCH: ok = cli_parse_int("transform", "--batch", v, 1, 1 << 16, &batch); break;
        case O_LR:
            ok = cli_parse_real("transform", "--lr", v, 0, 10, CLI_OPEN_LO | CLI_OPEN_HI, &lr);
            break;
        case O_OUT_WEIGHT:
            ok = cli_parse_real("transform", "--out-weight", v, 0, 1e6, 0, &co.out_weight);
            break;
        case O_SEED: ok = cli_parse_u64("transform", "--seed", v, &seed); break;
        case O_CHECK: ok = cli_parse_int("transform", "--check", v, 0, 100000000L, &check); break;
        case O_OUT: out = v; break;
        default:
            if (path) return cli_usage_error("transform", "unexpected argument '%s'", v);
            path = v;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!path) return cli_usage_error("transform", "missing MODEL.safetensors");
    if (!out) return cli_usage_error("transform", "-o OUT is required");
    if (!rot && !perm && !scale && !compress && !distill)
        return cli_usage_error(
            "transform",
            "name at least one of --rotate, --permute, --scale, --compress, --distill");
    if (compress && distill)
        return cli_usage_error("transform", "--compress and --distill exclude each other");
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
            fprintf(stderr,
                    "itracr transform: --compress %ld is wider than the model's residual (%d)\n",
                    compress, m->residual_dim);
            goto done;
        }
        co.dim = (int)compress;
        co.seed = seed;
        co.verbose = !quiet;
        TfCompressReport cr;
        if (tf_compress(m, &co, &t, &cr, err, sizeof err)) goto fail;
        if (!quiet)
            fprintf(stderr, "compress: width %d -> %d, %d steps, loss %.4g -> %.4g, %.2f s\n",
                    m->residual_dim, co.dim, cr.steps, cr.loss_first, cr.loss_last, cr.seconds);
    } else if (distill) {
        dopt.seed = seed;
        dopt.verbose = !quiet;
        dopt.check_inputs = check > 0 ? check : 20000;
        TfDistillReport dr;
        if (tf_distill(m, &dopt, &t, &dr, err, sizeof err)) goto fail;
        rejected = !dr.accepted;
        if (!quiet)
            fprintf(
                stderr,
                "distill: %d steps, loss %.4g -> %.4g, %.2f s; %.2f%% of inputs and %.2f%% of positions match: %s\n",
                dr.steps, dr.loss_first, dr.loss_last, dr.seconds, 100 * dr.input_accuracy,
                100 * dr.position_accuracy,
                dr.accepted ? "accepted" : "NOT accepted (< 99% of inputs)");
    } else {
        t = tf_model_clone(m);
    }
    if ((scale && tf_scale(t, seed, err, sizeof err)) ||
        (perm && tf_permute(t, seed, err, sizeof err)) ||
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
            printf(
                "checked %ld inputs%s: %ld/%ld output positions match (%.2f%%), %ld/%ld whole inputs (%.2f%%); "
                "%ld positions without a defined output skipped; max |diff| %.3g (outputs up to %.3g)\n",
                cmp.n_inputs, cmp.exhaustive ? " (every input)" : " (random)",
                cmp.n_positions_match, cmp.n_positions,
                100.0 * (double)cmp.n_positions_match /
                    (double)(cmp.n_positions ? cmp.n_positions : 1),
                cmp.n_inputs_match, cmp.n_inputs,
                100.0 * (double)cmp.n_inputs_match / (double)(cmp.n_inputs ? cmp.n_inputs : 1),
                cmp.n_skipped, cmp.max_abs_diff, cmp.max_ref_abs);
            if (cmp.first_mismatch[0]) printf("first mismatch: %s\n", cmp.first_mismatch);
        }
        if (!compress && !distill && cmp.n_positions_match != cmp.n_positions) {
            fprintf(stderr,
                    "itracr transform: the transformed model's outputs differ from the input's\n");
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
