/* Decompiling checked against the weights (search.h). */
#include "eval/search.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset/model_hash.h"
#include "rasp/rasp.h"

#define CELLS (PT_ROWS * PT_COLS)

const char *search_verdict_name(SearchVerdict v) {
    switch (v) {
    case SEARCH_WEIGHTS: return "weights";
    case SEARCH_FUNCTION: return "function";
    default: return "none";
    }
}

void search_options_default(SearchOptions *o) {
    memset(o, 0, sizeof *o);
    o->max_candidates = 64;
    o->budget_ms = 0;
    meta_cand_options_default(&o->cands);
    equiv_options_default(&o->equiv);
    o->function_check = true;
    o->weights_check = true;
    o->prune = true;
    repair_options_default(&o->repair);
}

void search_options_seed(SearchOptions *o, uint64_t seed) {
    o->cands.seed = seed;
    o->equiv.seed = seed;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

int search_given_init(SearchGiven *g, const CompiledModel *m, char *err, size_t errcap) {
    memset(g, 0, sizeof *g);
    g->m = m;
    g->vocab = malloc(sizeof(Value) * (size_t)(m->vocab_size > 0 ? m->vocab_size : 1));
    g->prefix = malloc(sizeof *g->prefix * (size_t)(m->num_layers > 0 ? 2 * m->num_layers : 1));
    g->n_prefix = 2 * m->num_layers;
    if (!g->vocab || !g->prefix || model_hash128(m, g->hash) != 0 ||
        model_prefix_hashes(m, 0, 2 * m->num_layers, g->prefix) != 0) {
        free(g->vocab);
        free(g->prefix);
        g->vocab = NULL;
        g->prefix = NULL;
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (int i = 0; i < m->vocab_size; i++)
        if (i != m->bos_id && i != m->pad_id) g->vocab[g->n_vocab++] = m->tokens[i];
    return 0;
}

void search_given_free(SearchGiven *g) {
    free(g->vocab);
    free(g->prefix);
    memset(g, 0, sizeof *g);
}

/* The guard: value sets inferred from the program bound what the compiler will build. A
 * categorical SOp takes one residual direction per value and a SequenceMap one hidden unit
 * per pair of input values, so a candidate far beyond the given model in either is refused
 * before the compiler spends time and memory on it (a weights match is impossible then, and
 * a function match of a model many times larger is not worth that cost). */
static int guard(const SearchGiven *g, const RaspProgram *p, char *why, size_t whycap) {
    ValueSet *sets = calloc((size_t)(p->n_exprs > 0 ? p->n_exprs : 1), sizeof *sets);
    if (!sets) {
        snprintf(why, whycap, "out of memory");
        return 1;
    }
    char e[256];
    int rc = 0;
    if (rasp_infer_value_sets(p, g->vocab, g->n_vocab, g->m->max_seq_len, sets, e, sizeof e)) {
        snprintf(why, whycap, "does not compile: %.200s", e);
        rc = 1;
    } else {
        size_t width = 0, product = 0;
        for (int i = 0; i < p->n_exprs; i++) {
            const RaspExpr *x = &p->exprs[i];
            if (x->kind == EXPR_SELECT || x->kind == EXPR_SEL_AND || x->kind == EXPR_SEL_OR ||
                x->kind == EXPR_SEL_NOT)
                continue;
            width += x->enc == ENC_CATEGORICAL ? sets[i].n : 1;
            if (x->kind == EXPR_SEQMAP && x->child[0] >= 0 && x->child[1] >= 0) {
                size_t pr = sets[x->child[0]].n * sets[x->child[1]].n;
                if (pr > product) product = pr;
            }
        }
        size_t wmax = 4 * (size_t)g->m->residual_dim + 64,
               pmax = 4 * (size_t)g->m->mlp_hidden_size + 256;
        if (width > wmax || product > pmax) {
            snprintf(
                why, whycap,
                "too large to compile here (residual ~%zu, SequenceMap %zu pairs; the model has %d, %d)",
                width, product, g->m->residual_dim, g->m->mlp_hidden_size);
            rc = 1;
        }
    }
    rasp_free_value_sets(sets, p->n_exprs);
    free(sets);
    return rc;
}

int search_compile(const SearchGiven *g, const int16_t *table, CompiledModel **out, char *why,
                   size_t whycap) {
    *out = NULL;
    RaspProgram p;
    if (pt_decode(table, g->vocab, g->n_vocab, g->m->max_seq_len, &p, why, whycap)) {
        rasp_program_free(&p);
        return 1;
    }
    int rc = guard(g, &p, why, whycap);
    if (!rc) {
        CompileOptions co;
        compile_options_default(&co);
        co.vocab = g->vocab;
        co.n_vocab = g->n_vocab;
        co.max_seq_len = g->m->max_seq_len;
        co.causal = g->m->causal;
        co.exact = g->m->exact;
        co.mlp_exactness = g->m->mlp_exactness;
        char e[512];
        if (compile_program(&p, &co, out, e, sizeof e)) {
            snprintf(why, whycap, "does not compile: %.300s", e);
            rc = 1;
        }
    }
    rasp_program_free(&p);
    return rc;
}

bool search_same_weights(const SearchGiven *g, const CompiledModel *c) {
    const CompiledModel *m = g->m;
    if (m->num_layers != c->num_layers || m->num_heads != c->num_heads ||
        m->key_size != c->key_size || m->mlp_hidden_size != c->mlp_hidden_size ||
        m->residual_dim != c->residual_dim || m->max_seq_len != c->max_seq_len ||
        m->causal != c->causal || m->vocab_size != c->vocab_size || m->n_out != c->n_out ||
        m->output_numerical != c->output_numerical)
        return false;
    uint64_t h[2];
    if (model_hash128(c, h) != 0) return false;
    return h[0] == g->hash[0] && h[1] == g->hash[1];
}

int search_same_function(const SearchGiven *g, const CompiledModel *c, const EquivOptions *eo,
                         EquivResult *r, char *err, size_t errcap) {
    memset(r, 0, sizeof *r);
    return equiv_models(g->m, NULL, c, eo, r, err, errcap);
}

int search_progress(const SearchGiven *g, const CompiledModel *c) {
    int S = 2 * c->num_layers, n = S < g->n_prefix ? S : g->n_prefix;
    /* once two prefixes differ every longer one does: bisect for the first that differs */
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        uint64_t h[1][2];
        if (model_prefix_hashes(c, mid, mid + 1, h) != 0) return -1;
        if (h[0][0] != g->prefix[mid][0] || h[0][1] != g->prefix[mid][1]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Where candidate `table` (compiled: c) goes wrong first against the given model, as a
 * sequence position for meta_cands_limit_last: the first sublayer s whose prefix digest
 * differs holds the first error in a row of sublayers <= s, so the limit is the end of the
 * last row (its table included) in sublayers <= s + 1 (one sublayer of margin: Tracr's
 * condensing of layers lets a wrong row move a right one). -1: no sublayer differs (or the
 * rows cannot be read). */
int search_error_limit(const SearchGiven *g, const CompiledModel *c, const int16_t *table) {
    return search_error_limit_at(g, c, search_progress(g, c), table);
}

int search_error_limit_at(const SearchGiven *g, const CompiledModel *c, int lo,
                          const int16_t *table) {
    if (lo < 0) return -1;
    int S = 2 * c->num_layers, n = S < g->n_prefix ? S : g->n_prefix;
    int sm = lo < n ? lo : S != g->n_prefix ? n : -1; /* else: one has more sublayers */
    PtOp rows[PT_MAX_VARS];
    int nr, key[PT_MAX_VARS];
    char e[256];
    if (sm < 0 || pt_tokens_to_ops(table, rows, &nr, e, sizeof e) != 0) return -1;
    pt_sort_keys(rows, nr, nr - 1, key); /* 2 sub + 1 for an SOp, 2 sub for a Select */
    int kmax = 2 * (sm + 1) + 1, pos = 0, limit = 0;
    for (int i = 0; i < nr; i++) {
        int w = PT_COLS + (rows[i].fn == PT_FN_TABLE ? rows[i].ntab + 1 : 0);
        if (key[i] <= kmax) limit = pos + w;
        pos += w;
    }
    return limit;
}

/* One drawn candidate. */
typedef struct Cand {
    int16_t table[CELLS];
    double score;
    int compiles; /* 1 compiled, 0 refused (guard or compiler), -1 not decoded */
    int progress; /* leading sublayers its compiled model gets right (-1: not known) */
} Cand;

/* The repair of the drawn candidates that compiled, most leading sublayers right first (then
 * by score, order[]). On a weights match the result becomes that program. */
static int repair(const SearchGiven *g, const Cand *cs, const int *order, int tried,
                  const SearchOptions *o, double t0, SearchResult *r, char *err, size_t errcap) {
    int16_t *seeds = malloc(sizeof *seeds * (size_t)CELLS * (size_t)(tried > 0 ? tried : 1));
    int *pick = malloc(sizeof *pick * (size_t)(tried > 0 ? tried : 1));
    if (!seeds || !pick) {
        free(seeds);
        free(pick);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int ns = 0;
    for (int k = 0; k < tried; k++) {
        int i = order[k];
        if (cs[i].compiles != 1 || cs[i].progress < 0) continue;
        int p = ns++;
        while (p > 0 && cs[pick[p - 1]].progress < cs[i].progress) {
            pick[p] = pick[p - 1];
            p--;
        }
        pick[p] = i;
    }
    for (int k = 0; k < ns; k++)
        memcpy(seeds + (size_t)k * CELLS, cs[pick[k]].table, sizeof cs[0].table);
    /* under a search budget the repair gets what is left of it (at least 1 ms) */
    RepairOptions ro = o->repair;
    if (o->budget_ms > 0) {
        double left = o->budget_ms - (now_ms() - t0);
        if (left < 1) left = 1;
        if (ro.budget_ms <= 0 || ro.budget_ms > left) ro.budget_ms = left;
    }
    int rc = search_repair(g, seeds, ns, &ro, &r->repair, err, errcap);
    free(seeds);
    free(pick);
    if (rc) return -1;
    r->repair_ran = true;
    if (r->repair.found) {
        r->verdict = SEARCH_WEIGHTS;
        r->repaired = true;
    }
    return 0;
}

int search_decompile(MetaModel *mm, const CompiledModel *given, const float *payload,
                     const int16_t *ids, int P, const SearchOptions *o, SearchResult *r, char *err,
                     size_t errcap) {
    double t0 = now_ms();
    memset(r, 0, sizeof *r);
    r->winner = -1;
    /* one decode step is far too small to share between threads (eval_run.c does the same
     * for its single-thread case): outside a parallel region, run the search on one thread */
    int saved_threads = omp_get_max_threads();
    if (!omp_in_parallel()) omp_set_num_threads(1);
    int K = o->max_candidates > 0 ? o->max_candidates : 1;
    SearchGiven g;
    if (search_given_init(&g, given, err, errcap)) return -1;
    PcContext on_model = {g.vocab, g.n_vocab, given->max_seq_len, 0, NULL};
    MetaCands *mc = meta_cands_new(mm, payload, ids, P, &o->cands, &on_model, err, errcap);
    Cand *cs = calloc((size_t)K, sizeof *cs);
    int rc = 0;
    if (!mc || !cs) {
        if (mc) snprintf(err, errcap, "out of memory");
        rc = -1;
        goto done;
    }
    char why[512] = "";
    /* phase 1: draw, compile, compare weights; with a budget it keeps a quarter of it for
     * the function checks of phase 2 */
    double budget1 = o->function_check ? 0.75 * o->budget_ms : o->budget_ms;
    while (r->tried < K) {
        if (r->tried > 0 && o->budget_ms > 0 && now_ms() - t0 > budget1) {
            r->out_of_budget = true;
            break;
        }
        Cand *c = &cs[r->tried];
        int got = meta_cands_next(mc, c->table, &c->score, err, errcap);
        if (got < 0) {
            rc = -1;
            goto done;
        }
        if (got == 0) break;
        r->tried++;
        CompiledModel *cm = NULL;
        char w[512];
        if (search_compile(&g, c->table, &cm, w, sizeof w)) {
            c->compiles = 0;
            if (strstr(w, "too large")) r->guarded++;
            if (r->tried == 1) snprintf(why, sizeof why, "%s", w);
            continue;
        }
        c->compiles = 1;
        c->progress = -1;
        r->compiled++;
        bool same = o->weights_check && search_same_weights(&g, cm);
        if (!same && o->weights_check) c->progress = search_progress(&g, cm);
        if (!same && o->weights_check && o->prune) {
            int limit = search_error_limit_at(&g, cm, c->progress, c->table);
            if (limit >= 0) r->pruned += meta_cands_limit_last(mc, limit);
        }
        compiled_model_free(cm);
        if (same) {
            r->verdict = SEARCH_WEIGHTS;
            r->winner = r->tried - 1;
            break;
        }
    }
    /* phase 2: the function check in score order (ties: draw order) */
    int *order = NULL;
    if (r->verdict == SEARCH_NONE && r->tried > 0) {
        order = malloc(sizeof(int) * (size_t)r->tried);
        if (!order) {
            snprintf(err, errcap, "out of memory");
            rc = -1;
            goto done;
        }
        for (int i = 0; i < r->tried; i++) {
            int j = i;
            while (j > 0 && cs[order[j - 1]].score < cs[i].score) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
        for (int k = 0; o->function_check && k < r->tried; k++) {
            Cand *c = &cs[order[k]];
            if (c->compiles != 1) continue;
            if (k > 0 && o->budget_ms > 0 && now_ms() - t0 > o->budget_ms) {
                r->out_of_budget = true;
                break;
            }
            CompiledModel *cm = NULL;
            char w[512];
            if (search_compile(&g, c->table, &cm, w, sizeof w)) continue; /* compiled in phase 1 */
            EquivResult er;
            int frc = search_same_function(&g, cm, &o->equiv, &er, err, errcap);
            compiled_model_free(cm);
            r->func_checked++;
            if (frc) {
                rc = -1;
                goto done_order;
            }
            if (er.status == EVAL_FN_EQUIVALENT) {
                r->verdict = SEARCH_FUNCTION;
                r->winner = order[k];
                r->n_inputs = er.n_inputs;
                r->exhaustive = er.exhaustive;
                break;
            }
        }
        if (r->verdict == SEARCH_NONE) {
            /* the best-scoring candidate that compiles, else the best-scoring one */
            r->winner = order[0];
            for (int k = 0; k < r->tried; k++)
                if (cs[order[k]].compiles == 1) {
                    r->winner = order[k];
                    break;
                }
        }
        r->search_verdict = r->verdict;
        memcpy(r->search_table, cs[r->winner].table, sizeof r->search_table);
        if (o->weights_check && o->repair.max_steps > 0) {
            int rrc = repair(&g, cs, order, r->tried, o, t0, r, err, errcap);
            if (rrc) {
                rc = -1;
                goto done_order;
            }
        }
        if (r->verdict == SEARCH_NONE) {
            CompiledModel *cm = NULL;
            char w[512];
            if (cs[r->winner].compiles == 1 && o->function_check &&
                search_compile(&g, cs[r->winner].table, &cm, w, sizeof w) == 0) {
                EquivOptions eo = o->equiv;
                eo.count_all = true;
                EquivResult er;
                int frc = search_same_function(&g, cm, &eo, &er, err, errcap);
                compiled_model_free(cm);
                if (frc) {
                    rc = -1;
                    goto done_order;
                }
                r->n_disagree = er.n_different;
                r->n_inputs = er.n_inputs;
                r->exhaustive = er.exhaustive;
                snprintf(r->detail, sizeof r->detail, "%s", er.detail);
            } else {
                snprintf(r->detail, sizeof r->detail, "%s",
                         cs[r->winner].compiles == 1 ? "not checked" : why);
            }
        }
    }
    if (r->repaired) {
        memcpy(r->table, r->repair.table, sizeof r->table);
    } else if (r->winner >= 0) {
        memcpy(r->table, cs[r->winner].table, sizeof r->table);
        r->score = cs[r->winner].score;
    }
    if (r->verdict == SEARCH_WEIGHTS && !r->repaired) {
        r->search_verdict = r->verdict;
        memcpy(r->search_table, r->table, sizeof r->search_table);
    }
done_order:
    free(order);
done:
    if (mc) r->model_steps = meta_cands_model_steps(mc);
    meta_cands_free(mc);
    free(cs);
    search_given_free(&g);
    if (!omp_in_parallel()) omp_set_num_threads(saved_threads);
    r->ms = now_ms() - t0;
    return rc;
}
