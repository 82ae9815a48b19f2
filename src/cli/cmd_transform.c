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

/* The command line, parsed. */
typedef struct TransformArgs {
    const char *path, *out;
    bool rot, perm, scale, quiet, distill;
    long compress, check;
    uint64_t seed;
    TfCompressOptions co;
    TfDistillOptions dopt;
} TransformArgs;

/* Returns -1 to go on, else the exit status (help printed or a usage error said). */
static int parse_args(int argc, char **argv, TransformArgs *a) {
    long steps = -1, batch = -1, width = 0, x;
    double lr = -1;
    *a = (TransformArgs){.check = 20000, .seed = 1};
    tf_compress_options_default(&a->co);
    tf_distill_options_default(&a->dopt);
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
        case O_ROTATE: a->rot = true; break;
        case O_PERMUTE: a->perm = true; break;
        case O_SCALE: a->scale = true; break;
        case O_QUIET: a->quiet = true; break;
        case O_DISTILL: a->distill = true; break;
        case O_COMPRESS:
            ok = cli_parse_int("transform", "--compress", v, 1, 1 << 20, &a->compress);
            break;
        case O_STEPS: ok = cli_parse_int("transform", "--steps", v, 0, 100000000L, &steps); break;
        case O_WIDTH: ok = cli_parse_int("transform", "--width", v, 1, 1 << 20, &width); break;
        case O_RESTARTS:
            ok = cli_parse_int("transform", "--restarts", v, 1, 1000, &x);
            a->co.restarts = (int)x;
            break;
        case O_BATCH: ok = cli_parse_int("transform", "--batch", v, 1, 1 << 16, &batch); break;
        case O_LR:
            ok = cli_parse_real("transform", "--lr", v, 0, 10, CLI_OPEN_LO | CLI_OPEN_HI, &lr);
            break;
        case O_OUT_WEIGHT:
            ok = cli_parse_real("transform", "--out-weight", v, 0, 1e6, 0, &a->co.out_weight);
            break;
        case O_SEED: ok = cli_parse_u64("transform", "--seed", v, &a->seed); break;
        case O_CHECK:
            ok = cli_parse_int("transform", "--check", v, 0, 100000000L, &a->check);
            break;
        case O_OUT: a->out = v; break;
        default:
            if (a->path) return cli_usage_error("transform", "unexpected argument '%s'", v);
            a->path = v;
        }
        if (!ok) return EXIT_USAGE;
    }
    if (!a->path) return cli_usage_error("transform", "missing MODEL.safetensors");
    if (!a->out) return cli_usage_error("transform", "-o OUT is required");
    if (!a->rot && !a->perm && !a->scale && !a->compress && !a->distill)
        return cli_usage_error(
            "transform",
            "name at least one of --rotate, --permute, --scale, --compress, --distill");
    if (a->compress && a->distill)
        return cli_usage_error("transform", "--compress and --distill exclude each other");
    if (width && !a->distill) return cli_usage_error("transform", "--width applies to --distill");
    if (steps >= 0) a->co.steps = a->dopt.steps = (int)steps;
    if (batch > 0) a->co.batch = a->dopt.batch = (int)batch;
    if (lr > 0) a->co.lr = a->dopt.lr = lr;
    a->dopt.width = (int)width;
    return -1;
}

/* *t: m compressed, distilled or cloned, then scaled, permuted and rotated as asked;
 * *rejected when a distilled student missed its acceptance. Returns 0, or 1 with err. */
static int transformed(const CompiledModel *m, TransformArgs *a, CompiledModel **t, bool *rejected,
                       char *err, size_t errcap) {
    *t = NULL;
    *rejected = false;
    if (a->compress) {
        if (a->compress > m->residual_dim)
            return snprintf(err, errcap, "--compress %ld is wider than the model's residual (%d)",
                            a->compress, m->residual_dim),
                   1;
        a->co.dim = (int)a->compress;
        a->co.seed = a->seed;
        a->co.verbose = !a->quiet;
        TfCompressReport cr;
        if (tf_compress(m, &a->co, t, &cr, err, errcap)) return 1;
        if (!a->quiet)
            fprintf(stderr, "compress: width %d -> %d, %d steps, loss %.4g -> %.4g, %.2f s\n",
                    m->residual_dim, a->co.dim, cr.steps, cr.loss_first, cr.loss_last, cr.seconds);
    } else if (a->distill) {
        a->dopt.seed = a->seed;
        a->dopt.verbose = !a->quiet;
        a->dopt.check_inputs = a->check > 0 ? a->check : 20000;
        TfDistillReport dr;
        if (tf_distill(m, &a->dopt, t, &dr, err, errcap)) return 1;
        *rejected = !dr.accepted;
        if (!a->quiet)
            fprintf(
                stderr,
                "distill: %d steps, loss %.4g -> %.4g, %.2f s; %.2f%% of inputs and %.2f%% of positions match: %s\n",
                dr.steps, dr.loss_first, dr.loss_last, dr.seconds, 100 * dr.input_accuracy,
                100 * dr.position_accuracy,
                dr.accepted ? "accepted" : "NOT accepted (< 99% of inputs)");
    } else {
        *t = tf_model_clone(m);
        if (!*t) return snprintf(err, errcap, "out of memory"), 1;
    }
    return (a->scale && tf_scale(*t, a->seed, err, errcap)) ||
           (a->perm && tf_permute(*t, a->seed, err, errcap)) ||
           (a->rot && tf_rotate(*t, a->seed, err, errcap));
}

/* The file as written (float32, not the float64 weights in memory) against m on a->check
 * inputs, reported. Returns an exit status; 1 with err when the check itself failed. */
static int check_written(const CompiledModel *m, const TransformArgs *a, int *rc, char *err,
                         size_t errcap) {
    CompiledModel *back = NULL;
    TfCompare cmp;
    if (model_load(a->out, &back, err, errcap) ||
        tf_compare(back, m, a->check, a->seed, 1e-3, 1e-4, &cmp, err, errcap)) {
        compiled_model_free(back);
        *rc = EXIT_BAD_INPUT;
        return 1;
    }
    compiled_model_free(back);
    if (!a->quiet) {
        printf(
            "checked %ld inputs%s: %ld/%ld output positions match (%.2f%%), %ld/%ld whole inputs (%.2f%%); "
            "%ld positions without a defined output skipped; max |diff| %.3g (outputs up to %.3g)\n",
            cmp.n_inputs, cmp.exhaustive ? " (every input)" : " (random)", cmp.n_positions_match,
            cmp.n_positions,
            100.0 * (double)cmp.n_positions_match / (double)(cmp.n_positions ? cmp.n_positions : 1),
            cmp.n_inputs_match, cmp.n_inputs,
            100.0 * (double)cmp.n_inputs_match / (double)(cmp.n_inputs ? cmp.n_inputs : 1),
            cmp.n_skipped, cmp.max_abs_diff, cmp.max_ref_abs);
        if (cmp.first_mismatch[0]) printf("first mismatch: %s\n", cmp.first_mismatch);
    }
    if (!a->compress && !a->distill && cmp.n_positions_match != cmp.n_positions) {
        fprintf(stderr,
                "itracr transform: the transformed model's outputs differ from the input's\n");
        *rc = EXIT_BAD_INPUT;
    }
    return 0;
}

int cmd_transform(int argc, char **argv) {
    TransformArgs a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char err[1024];
    CompiledModel *m = NULL, *t = NULL;
    if (model_load(a.path, &m, err, sizeof err)) {
        fprintf(stderr, "itracr transform: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    bool rejected = false;
    rc = EXIT_BAD_INPUT;
    if (transformed(m, &a, &t, &rejected, err, sizeof err) ||
        model_save(t, a.out, err, sizeof err)) {
        fprintf(stderr, "itracr transform: %s\n", err);
    } else {
        rc = EXIT_OK;
        if (a.check > 0 && check_written(m, &a, &rc, err, sizeof err))
            fprintf(stderr, "itracr transform: %s\n", err);
        if (rejected) rc = EXIT_BAD_INPUT;
    }
    compiled_model_free(m);
    compiled_model_free(t);
    return rc;
}
