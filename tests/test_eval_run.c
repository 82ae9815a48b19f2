/* The evaluation loop's own pieces (eval/eval_run.h): the noise baseline's weight tokens and
 * the teacher-forced table, the latter against per-prefix forward passes (causality makes the
 * argmax at position j of the full pass equal the last argmax of a pass over tokens 0..j). */
#include <math.h>
#include <stdint.h>

#include "dataset/weight_tokens.h"
#include "eval/eval_run.h"
#include "gen/lambda_lib.h"
#include "meta/meta.h"
#include "test.h"
#include "util/rng.h"

static void noise_keeps_norms_and_ids(void) {
    enum { P = 6 };
    float x[P * WT_WIDTH], y[P * WT_WIDTH], y2[P * WT_WIDTH], z[P * WT_WIDTH], w[P * WT_WIDTH];
    Rng r;
    rng_seed(&r, 42);
    for (int i = 0; i < P * WT_WIDTH; i++) x[i] = (float)(3 * rng_normal(&r));
    for (int k = 0; k < WT_WIDTH; k++) x[2 * WT_WIDTH + k] = 0; /* an all-zero token */
    for (int k = 0; k < WT_WIDTH; k++) x[4 * WT_WIDTH + k] = k == 7 ? 5.0f : 0.0f; /* one-hot */
    eval_noise_payload(x, P, 7, 3, y);
    eval_noise_payload(x, P, 7, 3, y2);
    eval_noise_payload(x, P, 7, 4, z); /* another sample */
    eval_noise_payload(x, P, 8, 3, w); /* another seed */
    CHECK(memcmp(y, y2, sizeof y) == 0);
    CHECK(memcmp(y, z, sizeof y) != 0);
    CHECK(memcmp(y, w, sizeof y) != 0);
    for (int p = 0; p < P; p++) {
        double nx = 0, ny = 0, dot = 0;
        int nonzero = 0;
        for (int k = 0; k < WT_WIDTH; k++) {
            double a = x[p * WT_WIDTH + k], b = y[p * WT_WIDTH + k];
            nx += a * a;
            ny += b * b;
            dot += a * b;
            nonzero += b != 0;
        }
        CHECK_NEAR(sqrt(ny), sqrt(nx), 1e-4 * (1 + sqrt(nx)));
        if (p == 2) CHECK(nonzero == 0);
        else {
            CHECK(nonzero == WT_WIDTH);  /* noise, not the token: every entry is non-zero */
            CHECK(fabs(dot) < 0.9 * nx); /* not (nearly) parallel to the original */
        }
    }
}

/* A table whose fields are valid ids of their columns (pc_encode's rules), rows rows long. */
static void make_table(int16_t *t, int rows, Rng *r) {
    memset(t, 0, sizeof(int16_t) * PT_ROWS * PT_COLS);
    for (int c = 0; c < PT_COLS; c++) {
        t[c] = PT_START;
        t[(rows + 1) * PT_COLS + c] = PT_END;
    }
    for (int i = 1; i <= rows; i++)
        for (int c = 0; c < PT_COLS; c++)
            /* (fn below "table": a table row would need its values after the END row) */
            t[i * PT_COLS + c] =
                (int16_t)(3 + rng_below(
                                  r, (uint64_t)((c == PT_COL_FN ? PT_FN_TABLE : pt_vocab_size(c)) -
                                                3)));
}

static int argmax_last(MetaModel *m, const float *payload, const int32_t *ids, int P,
                       const int32_t *tok, int T) {
    int32_t plen = P;
    MetaBatch b = {1, P, T, payload, ids, &plen, tok, NULL};
    char err[256];
    if (meta_forward(m, &b, NULL, err, sizeof err) != 0) return -1;
    int V = m->cfg.vocab;
    const float *z = m->acts.logits + (size_t)(T - 1) * V;
    int best = 0;
    for (int v = 1; v < V; v++)
        if (z[v] > z[best]) best = v;
    return best;
}

static void teacher_table_matches_prefix_passes(void) {
    char err[256];
    CHECK(gen_lib_init(err, sizeof err) == 0);
    TrainConfig tc;
    train_config_default(&tc);
    tc.d_model = 16;
    tc.n_layer = 1;
    tc.n_head = 2;
    tc.max_prefix = 8;
    MetaConfig cfg = train_meta_config(&tc);
    MetaModel m;
    if (meta_model_init(&m, &cfg, 11, 1, err, sizeof err) != 0) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    /* sharper logits than the initialisation's, so the argmax varies with the input */
    for (size_t i = 0; i < m.lay.n_params; i++) m.params[i] *= 8;
    Rng r;
    rng_seed(&r, 5);
    enum { P = 7 };
    float payload[P * WT_WIDTH];
    int16_t ids[P * WT_N_IDS];
    int32_t ids32[P * WT_N_IDS];
    int idv[WT_N_IDS];
    wt_id_vocab(idv);
    for (int i = 0; i < P * WT_WIDTH; i++) payload[i] = (float)rng_normal(&r);
    for (int p = 0; p < P; p++)
        for (int k = 0; k < WT_N_IDS; k++)
            ids32[p * WT_N_IDS + k] = ids[p * WT_N_IDS + k] =
                (int16_t)(1 + rng_below(&r, (uint64_t)(idv[k] < 9 ? idv[k] - 1 : 8)));
    long right = 0, positions = 0, cells_right = 0;
    for (int trial = 0; trial < 6; trial++) {
        int rows = 1 + trial % 4;
        int16_t truth[PT_ROWS * PT_COLS], tf[PT_ROWS * PT_COLS];
        make_table(truth, rows, &r);
        if (trial == 5) /* the truth follows the model's best in-column choices */
            for (int j = 0; j < rows * PT_COLS; j++) {
                int32_t seq[PC_MAX_LEN], len, tok[PC_MAX_LEN];
                CHECK(pc_encode(truth, seq, &len, err, sizeof err) == 0);
                tok[0] = PC_BOS;
                for (int i = 1; i <= j; i++) tok[i] = seq[i - 1];
                /* pick the best token of the right column at position j */
                int32_t plen = P;
                MetaBatch b = {1, P, j + 1, payload, ids32, &plen, tok, NULL};
                CHECK(meta_forward(&m, &b, NULL, err, sizeof err) == 0);
                const float *z = m.acts.logits + (size_t)j * cfg.vocab;
                int best = -1, col, id;
                /* (not fn:table: a table row needs its values, which this truth has not) */
                for (int v = 0; v < cfg.vocab; v++)
                    if (pc_unflat(v, &col, &id) == 0 && col == j % PT_COLS &&
                        !(col == PT_COL_FN && id == PT_FN_TABLE) && (best < 0 || z[v] > z[best]))
                        best = v;
                pc_unflat(best, &col, &id);
                truth[(1 + j / PT_COLS) * PT_COLS + j % PT_COLS] = (int16_t)id;
            }
        if (eval_teacher_table(&m, truth, payload, ids, P, tf, err, sizeof err) != 0) {
            CHECK_MSG(0, "%s", err);
            continue;
        }
        int32_t seq[PC_MAX_LEN], tok[PC_MAX_LEN];
        int len;
        CHECK(pc_encode(truth, seq, &len, err, sizeof err) == 0);
        CHECK(len == rows * PT_COLS + 1);
        tok[0] = PC_BOS;
        for (int i = 1; i < len; i++) tok[i] = seq[i - 1];
        for (int c = 0; c < PT_COLS; c++) CHECK(tf[c] == PT_START);
        int row_ok[PT_ROWS];
        for (int i = 0; i < PT_ROWS; i++) row_ok[i] = 1;
        for (int j = 0; j < len; j++) {
            int a = argmax_last(&m, payload, ids32, P, tok, j + 1);
            int row = 1 + j / PT_COLS, c = j % PT_COLS;
            positions++;
            right += a == seq[j];
            if (a != seq[j]) row_ok[row] = 0;
            if (j < len - 1) {
                int col = -1, id = -1;
                int16_t want = pc_unflat(a, &col, &id) == 0 && col == c ? (int16_t)id
                               : a == PC_EOS                            ? PT_END
                                                                        : (int16_t)pt_vocab_size(c);
                CHECK_MSG(tf[row * PT_COLS + c] == want, "trial %d pos %d: cell %d, want %d", trial,
                          j, tf[row * PT_COLS + c], want);
                cells_right += tf[row * PT_COLS + c] == truth[row * PT_COLS + c];
                CHECK((tf[row * PT_COLS + c] == truth[row * PT_COLS + c]) == (a == seq[j]));
            } else {
                /* the END position: the END row kept iff the argmax is EOS */
                int all_end = 1;
                for (int k = 0; k < PT_COLS; k++) all_end &= tf[row * PT_COLS + k] == PT_END;
                CHECK(all_end == (a == PC_EOS));
                for (int k = 0; k < PT_COLS; k++) CHECK(tf[(row + 1) * PT_COLS + k] == PT_PAD);
            }
        }
        EvalPair pr;
        eval_compare(truth, tf, &pr);
        int rows_right = 0;
        for (int i = 1; i <= rows; i++) rows_right += row_ok[i];
        CHECK(pr.row_correct == rows_right);
    }
    CHECK(right > 0 && right < positions); /* the trials exercise both outcomes */
    CHECK(cells_right > 0);
    meta_model_free(&m);
}

int main(void) {
    RUN(noise_keeps_norms_and_ids);
    RUN(teacher_table_matches_prefix_passes);
    TEST_END();
}
