/* Every Tracr fixture: the compiled model must equal Tracr's (config, layers, residual
 * directions, token ids, every weight up to a permutation of residual directions, heads'
 * columns and MLP hidden units) and reproduce its outputs on every listed input. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>

#include "compiler/model.h"
#include "io/json_util.h"
#include "rasp/rasp.h"
#include "test.h"

#define TOL 1e-6
static const char *DIR_ = FIXTURE_DIR "/tracr";
static int n_fixtures, n_order_diffs;

static cJSON *read_json(const char *path) {
    cJSON *j = NULL;
    char err[512];
    if (json_read_file(path, &j, err, sizeof err) != 0) fprintf(stderr, "  %s\n", err);
    return j;
}

static Value jval(const cJSON *j) {
    if (cJSON_IsString(j)) return val_str(j->valuestring);
    if (cJSON_IsBool(j)) return val_bool(cJSON_IsTrue(j));
    if (cJSON_IsNull(j)) return val_none();
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15) return val_int((int64_t)d);
        return val_float(d);
    }
    return val_none();
}

/* Fixture matrix as doubles [r, c]. */
static double *jmat(const cJSON *w, const char *name, int *r, int *c) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(w, name);
    if (!cJSON_IsArray(m)) return NULL;
    *r = cJSON_GetArraySize(m);
    *c = *r ? cJSON_GetArraySize(cJSON_GetArrayItem(m, 0)) : 0;
    double *d = calloc((size_t)(*r) * (*c) + 1, sizeof(double));
    int i = 0;
    const cJSON *row, *x;
    cJSON_ArrayForEach(row, m) {
        int k = 0;
        cJSON_ArrayForEach(x, row) {
            if (k < *c) d[(size_t)i * (*c) + k] = x->valuedouble;
            k++;
        }
        i++;
    }
    return d;
}

static int find_str(const char *const *a, int n, const char *s) {
    for (int i = 0; i < n; i++)
        if (a[i] && strcmp(a[i], s) == 0) return i;
    return -1;
}

/* Label of the single non-zero entry of column c (by rows) of W [R, C], or NULL. */
static const char *col_label(const double *W, int R, int C, int c, const char *const *rl) {
    for (int r = 0; r < R; r++)
        if (W[(size_t)r * C + c] != 0) return rl[r];
    return NULL;
}
static const char *row_label(const double *W, int C, int r, const char *const *cl) {
    for (int c = 0; c < C; c++)
        if (W[(size_t)r * C + c] != 0) return cl[c];
    return NULL;
}

typedef struct Fx {
    const char *name;
    const char **flab; /* fixture residual labels (stripped) */
    int D;
    int *res; /* fixture residual index -> ours */
    const CompiledModel *m;
    int bad;
} Fx;

/* Compares fixture F [r, c] with ours G [r, c] under row map rmap and column map cmap
 * (fixture index -> ours; -1 = must be zero in the fixture). Our entries that no fixture
 * entry maps to must be zero. */
static void cmp_mat(Fx *x, const char *what, const double *F, const double *G, int r, int c,
                    const int *rmap, const int *cmap) {
    char *covered = calloc((size_t)r * c + 1, 1);
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++) {
            double f = F[(size_t)i * c + j];
            int gi = rmap ? rmap[i] : i, gj = cmap ? cmap[j] : j;
            if (gi < 0 || gj < 0) {
                if (fabs(f) > TOL) {
                    if (!x->bad++)
                        fprintf(stderr, "  %s %s: fixture entry [%d,%d]=%g has no counterpart\n",
                                x->name, what, i, j, f);
                }
                continue;
            }
            covered[(size_t)gi * c + gj] = 1;
            double g = G[(size_t)gi * c + gj];
            if (fabs(f - g) > TOL) {
                if (!x->bad++)
                    fprintf(stderr, "  %s %s: [%d,%d] fixture %.9g, ours %.9g\n", x->name, what, i,
                            j, f, g);
            }
        }
    for (size_t k = 0; k < (size_t)r * c; k++)
        if (!covered[k] && fabs(G[k]) > TOL) {
            if (!x->bad++)
                fprintf(stderr, "  %s %s: our entry %zu = %g is not in the fixture\n", x->name,
                        what, k, G[k]);
        }
    free(covered);
}

static void check_fixture(const char *stem) {
    char path[512];
    snprintf(path, sizeof path, "%s/%.200s.json", DIR_, stem);
    cJSON *J = read_json(path);
    CHECK_MSG(J != NULL, "%s unreadable", path);
    if (!J) return;
    n_fixtures++;
    snprintf(path, sizeof path, "%s/%.200s.rasp", DIR_, stem);
    RaspProgram p;
    char err[2048] = "";
    int prc = rasp_parse_file(path, &p, err, sizeof err);
    CHECK_MSG(prc == 0, "%s: %s", stem, err);
    if (prc) {
        rasp_program_free(&p);
        cJSON_Delete(J);
        return;
    }
    const cJSON *jv = cJSON_GetObjectItemCaseSensitive(J, "vocab");
    int nv = cJSON_GetArraySize(jv);
    Value *voc = calloc((size_t)nv + 1, sizeof(Value));
    for (int i = 0; i < nv; i++) voc[i] = jval(cJSON_GetArrayItem(jv, i));
    CompileOptions o;
    compile_options_default(&o);
    o.vocab = voc;
    o.n_vocab = nv;
    o.max_seq_len = cJSON_GetObjectItemCaseSensitive(J, "max_seq_len")->valueint;
    o.causal = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(J, "causal"));
    o.mlp_exactness = cJSON_GetObjectItemCaseSensitive(J, "mlp_exactness")->valueint;
    CompiledModel *m = NULL;
    int rc = compile_program(&p, &o, &m, err, sizeof err);
    const cJSON *jerr = cJSON_GetObjectItemCaseSensitive(J, "error");
    if (jerr) {
        CHECK_MSG(rc != 0, "%s: Tracr refuses this program but we compiled it", stem);
        goto out;
    }
    CHECK_MSG(rc == 0, "%s: %s", stem, err);
    if (rc) goto out;

    Fx x = {stem, NULL, 0, NULL, m, 0};
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(J, "config");
#define CFG(k, v)                                                                                  \
    CHECK_MSG(cJSON_GetObjectItemCaseSensitive(cfg, k)->valueint == (v),                           \
              "%s: %s fixture %d ours %d", stem, k,                                                \
              cJSON_GetObjectItemCaseSensitive(cfg, k)->valueint, (v))
    CFG("num_layers", m->num_layers);
    CFG("num_heads", m->num_heads);
    CFG("key_size", m->key_size);
    CFG("mlp_hidden_size", m->mlp_hidden_size);
    CFG("residual_dim", m->residual_dim);
    if (m->num_layers != cJSON_GetObjectItemCaseSensitive(cfg, "num_layers")->valueint ||
        m->num_heads != cJSON_GetObjectItemCaseSensitive(cfg, "num_heads")->valueint ||
        m->key_size != cJSON_GetObjectItemCaseSensitive(cfg, "key_size")->valueint ||
        m->mlp_hidden_size != cJSON_GetObjectItemCaseSensitive(cfg, "mlp_hidden_size")->valueint ||
        m->residual_dim != cJSON_GetObjectItemCaseSensitive(cfg, "residual_dim")->valueint)
        goto out;
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, M = m->mlp_hidden_size,
        HK = H * ks;

    /* residual labels: same multiset; order reported */
    const cJSON *rl = cJSON_GetObjectItemCaseSensitive(J, "residual_labels_stripped");
    x.flab = calloc((size_t)D, sizeof(char *));
    x.res = calloc((size_t)D, sizeof(int));
    x.D = D;
    int order_diff = 0;
    for (int i = 0; i < D; i++) {
        x.flab[i] = cJSON_GetArrayItem(rl, i)->valuestring;
        x.res[i] = find_str(m->residual_labels, D, x.flab[i]);
        CHECK_MSG(x.res[i] >= 0, "%s: residual label %s missing", stem, x.flab[i]);
        if (x.res[i] != i) order_diff++;
    }
    for (int i = 0; i < D; i++)
        CHECK_MSG(find_str(x.flab, D, m->residual_labels[i]) >= 0, "%s: extra label %s", stem,
                  m->residual_labels[i]);
    if (order_diff) {
        n_order_diffs++;
        printf(
            "note: %s: residual order differs from Tracr's at %d of %d positions (Tracr sorts labels with ids):",
            stem, order_diff, D);
        for (int i = 0; i < D; i++)
            if (x.res[i] != i) printf(" %d:%s", i, x.flab[i]);
        printf("\n");
    }
    for (int i = 0; i < D; i++)
        if (x.res[i] < 0) goto out;

    /* token ids */
    const cJSON *ti = cJSON_GetObjectItemCaseSensitive(J, "token_ids"), *pr;
    CHECK(cJSON_GetArraySize(ti) == m->vocab_size);
    cJSON_ArrayForEach(pr, ti) {
        Value tv = jval(cJSON_GetArrayItem(pr, 0));
        int id = cJSON_GetArrayItem(pr, 1)->valueint;
        CHECK_MSG(model_token_id(m, tv) == id, "%s: token id mismatch for id %d", stem, id);
    }

    /* layers: heads and MLP widths, node sets, hidden labels */
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(J, "layers");
    CHECK(cJSON_GetArraySize(layers) == m->num_layers);
    const cJSON *W = cJSON_GetObjectItemCaseSensitive(J, "weights");
    int r, c;
    double *F = jmat(W, "token_embed/embeddings", &r, &c);
    CHECK(F && r == m->vocab_size && c == D);
    if (F) cmp_mat(&x, "token_embed", F, m->token_embed, r, D, NULL, x.res);
    free(F);
    F = jmat(W, "pos_embed/embeddings", &r, &c);
    CHECK(F && r == m->max_seq_len + 1 && c == D);
    if (F) cmp_mat(&x, "pos_embed", F, m->pos_embed, r, D, NULL, x.res);
    free(F);
    F = jmat(W, "unembed/w", &r, &c);
    CHECK(F && r == D && c == m->n_out);
    if (F) cmp_mat(&x, "unembed", F, m->unembed, D, c, x.res, NULL);
    free(F);
    const cJSON *ov =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(J, "output"), "values");
    if (!m->output_numerical)
        for (int j = 0; j < m->n_out; j++)
            CHECK(val_eq(jval(cJSON_GetArrayItem(ov, j)), m->out_values[j]));

    int *cmap = malloc(sizeof(int) * (size_t)(HK > M ? HK : M) + 8);
    for (int l = 0; l < m->num_layers; l++) {
        const cJSON *L = cJSON_GetArrayItem(layers, l);
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(L, "attn"),
                    *ml = cJSON_GetObjectItemCaseSensitive(L, "mlp");
        const ModelLayerInfo *in = &m->info[l];
        int fh = cJSON_GetObjectItemCaseSensitive(at, "heads")->valueint;
        CHECK_MSG(fh == in->n_heads, "%s layer %d: heads fixture %d ours %d", stem, l, fh,
                  in->n_heads);
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(at, "nodes");
        for (int h = 0; h < fh && h < in->n_heads; h++)
            CHECK_MSG(strcmp(cJSON_GetArrayItem(fn, h)->valuestring, in->head_nodes[h]) == 0,
                      "%s layer %d head %d: %s vs %s", stem, l, h,
                      cJSON_GetArrayItem(fn, h)->valuestring, in->head_nodes[h]);
        int fm = cJSON_GetObjectItemCaseSensitive(ml, "hidden")->valueint;
        CHECK_MSG(fm == in->mlp_hidden, "%s layer %d: mlp hidden fixture %d ours %d", stem, l, fm,
                  in->mlp_hidden);
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(ml, "nodes");
        CHECK(cJSON_GetArraySize(mn) == in->n_mlp_nodes);
        const cJSON *it;
        cJSON_ArrayForEach(it, mn)
            CHECK_MSG(find_str(in->mlp_nodes, in->n_mlp_nodes, it->valuestring) >= 0,
                      "%s layer %d: mlp node %s", stem, l, it->valuestring);

        char nm[128];
        double *Fq, *Fk, *Fv, *Fo, *F1, *F2;
        snprintf(nm, sizeof nm, "transformer/layer_%d/attn/query/w", l);
        Fq = jmat(W, nm, &r, &c);
        snprintf(nm, sizeof nm, "transformer/layer_%d/attn/key/w", l);
        Fk = jmat(W, nm, &r, &c);
        snprintf(nm, sizeof nm, "transformer/layer_%d/attn/value/w", l);
        Fv = jmat(W, nm, &r, &c);
        snprintf(nm, sizeof nm, "transformer/layer_%d/attn/linear/w", l);
        Fo = jmat(W, nm, &r, &c);
        snprintf(nm, sizeof nm, "transformer/layer_%d/mlp/linear_1/w", l);
        F1 = jmat(W, nm, &r, &c);
        snprintf(nm, sizeof nm, "transformer/layer_%d/mlp/linear_2/w", l);
        F2 = jmat(W, nm, &r, &c);
        CHECK(Fq && Fk && Fv && Fo && F1 && F2);
        if (!(Fq && Fk && Fv && Fo && F1 && F2)) goto next;
        const ModelLayer *ML = &m->layers[l];
        /* heads: fixture head h -> our head with the same node; columns by the direction each
         * key column reads (Wk) and each output row writes (Wo). */
        for (int k = 0; k < HK; k++) cmap[k] = -1;
        for (int h = 0; h < fh; h++) {
            int oh = find_str(in->head_nodes, in->n_heads, cJSON_GetArrayItem(fn, h)->valuestring);
            if (oh < 0) continue;
            for (int cc = 0; cc < ks; cc++) {
                const char *fl = col_label(Fk, D, HK, h * ks + cc, x.flab);
                if (!fl) continue;
                for (int oc = 0; oc < ks; oc++) {
                    const char *ol = col_label(ML->k, D, HK, oh * ks + oc, m->residual_labels);
                    if (ol && strcmp(ol, fl) == 0) cmap[h * ks + cc] = oh * ks + oc;
                }
            }
        }
        cmp_mat(&x, "attn/query", Fq, ML->q, D, HK, x.res, cmap);
        cmp_mat(&x, "attn/key", Fk, ML->k, D, HK, x.res, cmap);
        for (int k = 0; k < HK; k++) cmap[k] = -1;
        for (int h = 0; h < fh; h++) {
            int oh = find_str(in->head_nodes, in->n_heads, cJSON_GetArrayItem(fn, h)->valuestring);
            if (oh < 0) continue;
            for (int cc = 0; cc < ks; cc++) {
                const char *fl = row_label(Fo, D, h * ks + cc, x.flab);
                if (!fl) continue;
                for (int oc = 0; oc < ks; oc++) {
                    const char *ol = row_label(ML->o, D, oh * ks + oc, m->residual_labels);
                    if (ol && strcmp(ol, fl) == 0) cmap[h * ks + cc] = oh * ks + oc;
                }
            }
        }
        cmp_mat(&x, "attn/value", Fv, ML->v, D, HK, x.res, cmap);
        {
            /* linear is [HK, D]: rows by cmap, columns by the residual map */
            cmp_mat(&x, "attn/linear", Fo, ML->o, HK, D, cmap, x.res);
        }
        /* MLP hidden units by label */
        const cJSON *hl = cJSON_GetObjectItemCaseSensitive(ml, "hidden_labels");
        for (int k = 0; k < M; k++) cmap[k] = -1;
        for (int k = 0; k < fm; k++) {
            const char *lb = cJSON_GetArrayItem(hl, k)->valuestring;
            cmap[k] = find_str(in->hidden_labels, in->mlp_hidden, lb);
            CHECK_MSG(cmap[k] >= 0, "%s layer %d: hidden unit %s missing", stem, l, lb);
        }
        cmp_mat(&x, "mlp/linear_1", F1, ML->w1, D, M, x.res, cmap);
        cmp_mat(&x, "mlp/linear_2", F2, ML->w2, M, D, cmap, x.res);
    next:
        free(Fq), free(Fk), free(Fv), free(Fo), free(F1), free(F2);
    }
    free(cmap);
    CHECK_MSG(x.bad == 0, "%s: %d weight entries differ", stem, x.bad);

    /* outputs on every case, float64 and float32 forward */
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(J, "cases"), *cs;
    int n_cases = 0, n_bad = 0;
    cJSON_ArrayForEach(cs, cases) {
        const cJSON *inp = cJSON_GetObjectItemCaseSensitive(cs, "input"),
                    *mo = cJSON_GetObjectItemCaseSensitive(cs, "model");
        int n = cJSON_GetArraySize(inp);
        Value xs[64], got[64], got32[64];
        double raw[64], raw32[64];
        for (int i = 0; i < n && i < 64; i++) xs[i] = jval(cJSON_GetArrayItem(inp, i));
        if (model_run(m, xs, n, true, got, raw, err, sizeof err) ||
            model_run(m, xs, n, false, got32, raw32, err, sizeof err)) {
            CHECK_MSG(0, "%s: %s", stem, err);
            continue;
        }
        n_cases++;
        for (int i = 0; i < n; i++) {
            const cJSON *w = cJSON_GetArrayItem(mo, i);
            bool ok, ok32;
            if (m->output_numerical) {
                double wv = w->valuedouble;
                ok = fabs(raw[i] - wv) <= 1e-5 * (1 + fabs(wv));
                ok32 = fabs(raw32[i] - wv) <= 1e-4 * (1 + fabs(wv));
            } else {
                ok = val_eq(got[i], jval(w));
                ok32 = val_eq(got32[i], jval(w));
            }
            if (!ok || !ok32) {
                if (!n_bad) {
                    char a[64], b[64];
                    val_repr_fmt(got[i], a, sizeof a);
                    val_repr_fmt(jval(w), b, sizeof b);
                    fprintf(stderr,
                            "  %s case %d pos %d: ours %s (raw %.9g, f32 %.9g) fixture %s\n", stem,
                            n_cases - 1, i, a, raw[i], raw32[i], b);
                }
                n_bad++;
            }
        }
    }
    CHECK_MSG(n_bad == 0, "%s: %d output positions differ", stem, n_bad);
    CHECK(n_cases > 0);
    printf("%-18s D=%-3d layers=%d heads=%d ks=%-2d mlp=%-3d cases=%d warnings=%d\n", stem, D,
           m->num_layers, H, ks, M, n_cases, m->n_warnings);
    for (int i = 0; i < m->n_warnings; i++) printf("    warning: %s\n", m->warnings[i]);
    free(x.flab);
    free(x.res);
out:
    compiled_model_free(m);
    free(voc);
    rasp_program_free(&p);
    cJSON_Delete(J);
}

static void test_all_fixtures(void) {
    char names[64][64];
    int n = test_list_stems(DIR_, ".json", names, 64);
    CHECK(n >= 0);
    for (int i = 0; i < n; i++) {
        int before = t_failed_checks;
        check_fixture(names[i]);
        if (t_failed_checks != before) fprintf(stderr, "fixture %s FAILED\n", names[i]);
    }
    CHECK(n_fixtures >= 15);
    printf("%d fixtures checked; residual order differs from Tracr's in %d\n", n_fixtures,
           n_order_diffs);
}

int main(void) {
    RUN(test_all_fixtures);
    TEST_END();
}
