/* Repairing candidates against Tracr weights (search.h, "repair").
 *
 * The prefix digests of the given model say in which sublayer a candidate's compiled model
 * first goes wrong. Everything it computes before that sublayer is right (up to a renaming
 * of directions), so the error is in a row whose block lies in that sublayer or later: such
 * a row is replaced by every row form the program tokens allow there, each result compiled
 * and digested, and a replacement is kept only when the first wrong sublayer moves later.
 * That is a beam search whose every step is checked by the compiler, and the only thing it
 * reads of the given model is its digests: no weight is interpreted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "dataset/model_hash.h"
#include "eval/search.h"
#include "gen/lambda_lib.h"
#include "util/rng.h"
#include "util/u64set.h"

#define CELLS (PT_ROWS * PT_COLS)

void repair_options_default(RepairOptions *o) {
    memset(o, 0, sizeof *o);
    o->max_steps = 16;
    o->beam = 3;
    o->max_compiles = 20000;
}

/* One program in the beam: canonical rows and the number of leading sublayers it gets right. */
typedef struct State {
    PtOp rows[PT_MAX_VARS];
    int n;
    int progress;
    long dist;  /* structural distance to the given model (sizes()) */
    long agree; /* output positions agreeing with the given model on the sample (-1: not run) */
    int blocks; /* blocks of the first wrong sublayer the given model has too */
} State;

/* The fields of a row form: a library function or a predicate, or a whole table: rank != 0,
 * the table of a Map's or SequenceMap's input ranks (pt_row_rank_table: 1 x-major, 2
 * y-major), what Tracr compiles for an injective function ordered like its inputs, such as
 * sort's keys x + i/5; pat != 0, Select pattern pat - 1 (sel_pattern). */
typedef struct Form {
    int16_t op, enc, fn, a0, a1;
    int8_t rank;
    int16_t pat;
    int dist; /* fields that differ from the row it replaces */
} Form;

typedef struct Repair {
    const SearchGiven *g;
    const RepairOptions *o;
    RepairResult *res;
    U64Set seen; /* token tables tried */
    State *next; /* [beam] best successors of this step, by progress */
    int n_next;
    State *pool; /* [n_pool] the seeds, scored (while collecting them: pool != NULL) */
    int n_pool;
    Form *forms; /* [cap_forms] */
    int cap_forms;
    bool found;
    int *given_sizes; /* [n_prefix + 1] sizes() of the given model */
    /* the given model's block digests per sublayer (model_block_digests), computed on first
     * use: gblocks[s] sorted, n_gblocks[s] of them (-1: not yet) */
    uint64_t (**gblocks)[2];
    int *n_gblocks;
    double t0;        /* start, monotonic ms */
    /* the function sample: FN_PER_LEN seeded inputs of each length 1..N and the given
     * model's outputs on them, for the table edits */
    int *fn_tok;    /* [N, FN_PER_LEN, N] indices into g->vocab */
    Value *fn_want; /* [N, FN_PER_LEN, N] */
    double *fn_raw; /* [N, FN_PER_LEN, N] */
} Repair;

#define FN_PER_LEN 12

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* What each sublayer holds: heads in use (attention) or hidden units in use (MLP), then the
 * residual width. out[2 * num_layers + 1]. */
static void sizes(const CompiledModel *m, int *out) {
    int D = m->residual_dim, H = m->num_heads, ks = m->key_size, M = m->mlp_hidden_size;
    for (int l = 0; l < m->num_layers; l++) {
        const ModelLayer *L = &m->layers[l];
        int heads = 0, units = 0;
        for (int h = 0; h < H; h++) {
            bool used = false;
            for (int d = 0; d < D && !used; d++)
                for (int c = h * ks; c < (h + 1) * ks && !used; c++)
                    used = L->q[(size_t)d * H * ks + c] != 0 || L->o[(size_t)c * D + d] != 0;
            heads += used;
        }
        for (int u = 0; u < M; u++) {
            bool used = false;
            for (int d = 0; d < D && !used; d++)
                used = L->w1[(size_t)d * M + u] != 0 || L->w2[(size_t)u * D + d] != 0;
            units += used;
        }
        out[2 * l] = heads;
        out[2 * l + 1] = units;
    }
    out[2 * m->num_layers] = D;
}

/* The structural distance of c to the given model: per sublayer, the difference in heads or
 * hidden units in use (a missing sublayer counts as empty), plus the difference in residual
 * width. It ranks programs that are right up to the same sublayer: one that holds an extra
 * block there is further from the given model than one that does not. */
static long distance(const Repair *rp, const CompiledModel *c) {
    int Sg = rp->g->n_prefix, Sc = 2 * c->num_layers;
    int *cs = malloc(sizeof *cs * (size_t)(Sc + 1));
    if (!cs) return -1;
    sizes(c, cs);
    long d = labs((long)rp->given_sizes[Sg] - cs[Sc]);
    for (int s = 0; s < (Sg > Sc ? Sg : Sc); s++)
        d += labs((long)(s < Sg ? rp->given_sizes[s] : 0) - (s < Sc ? cs[s] : 0));
    free(cs);
    return d;
}

/* a is better than b: more leading sublayers right, else closer in structure, else more
 * blocks of the first wrong sublayer right, else agreeing with the given model on more of
 * the function sample */
static bool better(const State *a, const State *b) {
    if (a->progress != b->progress) return a->progress > b->progress;
    if (a->dist != b->dist) return a->dist < b->dist;
    if (a->blocks != b->blocks) return a->blocks > b->blocks;
    return a->agree > b->agree;
}

/* Runs m on the function sample: the given model's outputs when want is NULL (stored), else
 * the number of output positions where m agrees with them. -1 on failure. */
static long fn_run(Repair *rp, const CompiledModel *m, bool given) {
    const SearchGiven *g = rp->g;
    int N = g->m->max_seq_len, nv = g->n_vocab;
    int id[64];
    if (nv > 64) return -1;
    for (int v = 0; v < nv; v++) {
        id[v] = -1;
        for (int t = 0; t < m->vocab_size; t++)
            if (t != m->bos_id && t != m->pad_id && val_eq(m->tokens[t], g->vocab[v])) id[v] = t;
        if (id[v] < 0) return -1;
    }
    int *ids = malloc(sizeof *ids * (size_t)FN_PER_LEN * (size_t)(N + 1));
    double *out = malloc(sizeof *out * (size_t)FN_PER_LEN * (size_t)(N + 1) * (size_t)m->n_out);
    long agree = 0;
    char err[256];
    for (int l = 1; l <= N && agree >= 0; l++) {
        int T = l + 1;
        const int *tok = rp->fn_tok + (size_t)(l - 1) * FN_PER_LEN * N;
        for (int b = 0; b < FN_PER_LEN; b++) {
            ids[b * T] = m->bos_id;
            for (int i = 0; i < l; i++) ids[b * T + 1 + i] = id[tok[b * N + i]];
        }
        if (!ids || !out || model_forward_f64(m, ids, FN_PER_LEN, T, out, err, sizeof err)) {
            agree = -1;
            break;
        }
        for (int b = 0; b < FN_PER_LEN; b++)
            for (int i = 0; i < l; i++) {
                double raw;
                Value v = model_decode_row(m, out + ((size_t)b * T + 1 + i) * m->n_out, &raw);
                size_t at = ((size_t)(l - 1) * FN_PER_LEN + b) * N + i;
                if (given) {
                    rp->fn_want[at] = v;
                    rp->fn_raw[at] = raw;
                } else if (g->m->output_numerical || m->output_numerical) {
                    double t = g->m->output_numerical ? rp->fn_raw[at] : NAN;
                    double p = m->output_numerical ? raw : NAN;
                    if (!g->m->output_numerical && val_is_number(rp->fn_want[at]))
                        t = val_as_double(rp->fn_want[at]);
                    if (!m->output_numerical && val_is_number(v)) p = val_as_double(v);
                    agree += !isnan(t) && !isnan(p) && fabs(p - t) <= 1e-5 + 0.005 * fabs(t);
                } else {
                    agree += val_eq(rp->fn_want[at], v);
                }
            }
    }
    free(ids);
    free(out);
    return agree;
}

/* The function sample and the given model's outputs on it. 0, or -1 (OOM, or a vocabulary
 * the sample cannot index: then the table edits are off). */
static int fn_init(Repair *rp) {
    int N = rp->g->m->max_seq_len, nv = rp->g->n_vocab;
    size_t cells = (size_t)N * FN_PER_LEN * (size_t)N;
    rp->fn_tok = malloc(sizeof *rp->fn_tok * cells);
    rp->fn_want = malloc(sizeof *rp->fn_want * cells);
    rp->fn_raw = malloc(sizeof *rp->fn_raw * cells);
    if (!rp->fn_tok || !rp->fn_want || !rp->fn_raw || nv <= 0) return -1;
    uint64_t st = 0x5eed5eedULL;
    for (size_t i = 0; i < cells; i++) rp->fn_tok[i] = (int)(rng_splitmix64(&st) % (uint64_t)nv);
    return fn_run(rp, rp->g->m, true) < 0 ? -1 : 0;
}

static bool over_budget(const Repair *rp) {
    const RepairOptions *o = rp->o;
    return (o->max_compiles > 0 && rp->res->compiled >= o->max_compiles) ||
           (o->budget_ms > 0 && now_ms() - rp->t0 > o->budget_ms);
}

/* Keeps s among the best o->beam successors (higher progress first; among equals the one
 * found first, which is the smaller edit). */
static void keep(Repair *rp, const State *s) {
    int B = rp->o->beam > 0 ? rp->o->beam : 1;
    int p = rp->n_next;
    if (p == B) {
        if (!better(s, &rp->next[B - 1])) return;
        p = B - 1;
    } else {
        rp->n_next++;
    }
    while (p > 0 && better(s, &rp->next[p - 1])) {
        rp->next[p] = rp->next[p - 1];
        p--;
    }
    rp->next[p] = *s;
}

static int cmp_digest2(const void *pa, const void *pb) {
    const uint64_t *a = pa, *b = pb;
    if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

/* Sorted block digests of sublayer s of m into *out (malloc'ed), their count in *n. */
static int sorted_blocks(const CompiledModel *m, int s, uint64_t (**out)[2], int *n) {
    int cap = m->num_heads > m->mlp_hidden_size ? m->num_heads : m->mlp_hidden_size;
    *out = malloc(sizeof **out * (size_t)(cap > 0 ? cap : 1));
    if (!*out || model_block_digests(m, s, *out, n)) return -1;
    qsort(*out, (size_t)*n, sizeof **out, cmp_digest2);
    return 0;
}

/* How many blocks of sublayer s of c the given model's sublayer s has too (as multisets).
 * -1 on OOM. */
static int blocks_shared(Repair *rp, const CompiledModel *c, int s) {
    if (s < 0 || s >= rp->g->n_prefix || s >= 2 * c->num_layers) return 0;
    if (rp->n_gblocks[s] < 0 &&
        sorted_blocks(rp->g->m, s, &rp->gblocks[s], &rp->n_gblocks[s]) != 0)
        return -1;
    uint64_t(*cb)[2] = NULL;
    int nc = 0, shared = 0;
    if (sorted_blocks(c, s, &cb, &nc) != 0) {
        free(cb);
        return -1;
    }
    const uint64_t(*gb)[2] = rp->gblocks[s];
    for (int i = 0, j = 0; i < rp->n_gblocks[s] && j < nc;) {
        int k = cmp_digest2(gb[i], cb[j]);
        if (k == 0) shared++, i++, j++;
        else if (k < 0) i++;
        else j++;
    }
    free(cb);
    return shared;
}

/* Canonicalises rows[n] (output: the last row), compiles it for the given model and scores
 * it. Returns 1 on a weights match (res->table set), 0 otherwise, -1 on OOM. */
static int try_rows_fn(Repair *rp, const PtOp *rows, int n, const State *base, bool fn);

/* table (which has the given weights) in its canonical spelling: decoded and encoded again,
 * so a whole-table form that a comparison or a library entry says on its domain is written
 * that way, as pt_encode writes the true program. Kept only when it still compiles to the
 * given weights. */
static void canonical_found(Repair *rp, int16_t *table) {
    const SearchGiven *g = rp->g;
    RaspProgram q;
    char why[512];
    int16_t t2[CELLS];
    if (pt_decode(table, g->vocab, g->n_vocab, g->m->max_seq_len, &q, why, sizeof why) != 0)
        return;
    int rc = pt_encode(&q, t2, why, sizeof why);
    rasp_program_free(&q);
    if (rc != 0 || memcmp(t2, table, sizeof t2) == 0) return;
    CompiledModel *cm = NULL;
    if (search_compile(g, t2, &cm, why, sizeof why) == 0 && search_same_weights(g, cm))
        memcpy(table, t2, sizeof t2);
    compiled_model_free(cm);
}

static int try_rows(Repair *rp, const PtOp *rows, int n, const State *base) {
    return try_rows_fn(rp, rows, n, base, false);
}

/* When every block of a program's model cm has the given model's digests but the weights
 * still differ, the difference can lie in the unembedding: which value each output
 * direction stands for. The given model says it (its output columns' values, the model's
 * observable outputs), so the output row -- a categorical Map or SequenceMap -- is written
 * as its table with each value renamed to the given model's value of the same column.
 * Returns try_rows' result for the renamed program, 0 when there is none. */
static int output_renamed(Repair *rp, const PtOp *rows, int n, const CompiledModel *cm,
                          const State *base) {
    const SearchGiven *g = rp->g;
    const PtOp *o = &rows[n - 1];
    if ((o->op != PT_OP_MAP && o->op != PT_OP_SEQMAP) || o->enc != PT_ENC_CAT ||
        cm->output_numerical || g->m->output_numerical || cm->n_out != g->m->n_out)
        return 0;
    bool same = true;
    for (int k = 0; k < cm->n_out && same; k++)
        same = cm->out_values[k].kind == g->m->out_values[k].kind &&
               val_eq(cm->out_values[k], g->m->out_values[k]);
    if (same) return 0;
    PtOp r2[PT_MAX_VARS];
    int inner;
    char why[256];
    memcpy(r2, rows, sizeof(PtOp) * (size_t)n);
    if (pt_row_as_table(rows, n, n - 1, g->vocab, g->n_vocab, g->m->max_seq_len, &r2[n - 1],
                        &inner, why, sizeof why) != 0)
        return 0;
    Value sv[32];
    int ns = pt_sorted_vocab(g->vocab, g->n_vocab, sv);
    PtOp *t = &r2[n - 1];
    for (int i = 0; i < t->ntab; i++) {
        Value v;
        if (pt_token_value(t->tab[i], sv, ns, &v)) return 0;
        int k = 0;
        while (k < cm->n_out && !(cm->out_values[k].kind == v.kind && val_eq(cm->out_values[k], v)))
            k++;
        int tok = k < cm->n_out ? pt_value_token(g->m->out_values[k], sv, ns) : -1;
        if (tok < 0) return 0;
        t->tab[i] = (int16_t)tok;
    }
    return try_rows(rp, r2, n, base);
}

/* ... fn: a program right up to the same sublayer and as close in structure as base is
 * scored on the function sample too, and kept when it agrees on more of it. */
static int try_rows_fn(Repair *rp, const PtOp *rows, int n, const State *base, bool fn) {
    State s;
    char e[256];
    if (pt_canonicalize(rows, n, n - 1, s.rows, &s.n, e, sizeof e) != 0 ||
        !pt_tables_fit(s.rows, s.n))
        return 0;
    int16_t table[CELLS];
    pt_ops_to_tokens(s.rows, s.n, table);
    int fresh = u64set_add(&rp->seen, XXH3_64bits(table, sizeof table));
    if (fresh <= 0) return fresh;
    rp->res->tried++;
    CompiledModel *cm = NULL;
    char why[512];
    if (search_compile(rp->g, table, &cm, why, sizeof why) != 0) return 0;
    rp->res->compiled++;
    if (search_same_weights(rp->g, cm)) {
        compiled_model_free(cm);
        canonical_found(rp, table);
        memcpy(rp->res->table, table, sizeof table);
        rp->found = true;
        return 1;
    }
    s.progress = search_progress(rp->g, cm);
    if (s.progress > rp->res->best_progress) rp->res->best_progress = s.progress;
    if (s.progress == rp->g->n_prefix) {
        /* every block right: only the output's value names can differ */
        int t = output_renamed(rp, s.rows, s.n, cm, base);
        if (t != 0) {
            compiled_model_free(cm);
            return t;
        }
    }
    s.dist = s.progress < 0 ? -1 : distance(rp, cm);
    s.blocks = s.progress < 0 ? -1 : blocks_shared(rp, cm, s.progress);
    s.agree = -1;
    if (fn && base && s.progress == base->progress && s.dist == base->dist) {
        rp->res->fn_scored++;
        s.agree = fn_run(rp, cm, false);
    }
    compiled_model_free(cm);
    if (s.progress < 0 || s.dist < 0 || s.blocks < 0) return -1;
    if (rp->pool && !base) rp->pool[rp->n_pool++] = s;
    else if (!base || better(&s, base)) keep(rp, &s);
    return 0;
}

/* Encoding of an argument source (tokens and indices are categorical). */
static int src_enc(const PtOp *rows, int a) { return a < 0 ? PT_ENC_CAT : rows[a].enc; }

static int add_form(Repair *rp, int *k, const PtOp *was, int op, int enc, int fn, int a0, int a1) {
    if (*k == rp->cap_forms) {
        int cap = rp->cap_forms ? 2 * rp->cap_forms : 4096;
        Form *f = realloc(rp->forms, sizeof *f * (size_t)cap);
        if (!f) return -1;
        rp->forms = f;
        rp->cap_forms = cap;
    }
    Form *f = &rp->forms[(*k)++];
    f->op = (int16_t)op;
    f->enc = (int16_t)enc;
    f->fn = (int16_t)fn;
    f->a0 = (int16_t)a0;
    f->a1 = (int16_t)a1;
    f->rank = 0;
    f->pat = 0;
    f->dist = (was->op != op) + (was->enc != enc) + (was->fn != fn) + (was->arg[0] != a0) +
              (was->arg[1] != a1);
    return 0;
}

/* Selector tables that none of the eight comparisons writes but Tracr's library programs
 * do, with lambdas: a test of the key alone (count_less_freq's k <= 2) or the query alone,
 * and a diagonal (detect_pattern's q == k + 1), over the key and query ranks (nk, nq: their
 * value sets' sizes). Pattern id -> tab[nk * nq] (key-major); false past the last one. */
static bool sel_pattern(int id, int nk, int nq, int16_t *tab) {
    const int count[7] = {nk - 1, nk - 1, nk, nq - 1, nq - 1, nq, nk + nq - 1};
    int fam = 0;
    while (fam < 7 && id >= count[fam]) id -= count[fam++];
    if (fam == 7 || id < 0) return false;
    for (int k = 0; k < nk; k++)
        for (int q = 0; q < nq; q++) {
            bool v = fam == 0   ? k <= id
                     : fam == 1 ? k > id
                     : fam == 2 ? k == id
                     : fam == 3 ? q <= id
                     : fam == 4 ? q > id
                     : fam == 5 ? q == id
                                : q == k + id - (nk - 1);
            tab[k * nq + q] = (int16_t)(v ? PT_VAL_TRUE : PT_VAL_FALSE);
        }
    return true;
}

/* Every row form that may stand at position p of rows (arguments before p): Selects when
 * select, else SOps; when must >= 0, only forms with an argument `must`. Ordered by their
 * distance to *was, smallest first (was NULL: any order; *was itself left out). Returns the
 * count in rp->forms, or -1 on OOM. */
static int row_forms(Repair *rp, const PtOp *rows, int p, bool select, const PtOp *was,
                     int must) {
    static const PtOp none = {.op = 0, .enc = 0, .fn = 0, .arg = {-9, -9}};
    if (!was) was = &none;
    int16_t sop[PT_MAX_VARS + 2], sel[PT_MAX_VARS];
    int ns = 0, nl = 0, k = 0;
    sop[ns++] = PT_SRC_TOKENS;
    sop[ns++] = PT_SRC_INDICES;
    for (int i = 0; i < p; i++) {
        if (rows[i].op == PT_OP_SELECT) sel[nl++] = (int16_t)i;
        else sop[ns++] = (int16_t)i;
    }
#define REFS(x, y) (must < 0 || (x) == must || (y) == must)
    int rc = 0;
    size_t sz[2];
    char why[200];
    if (select && was == &rows[p] &&
        pt_row_input_sizes(rows, p + 1, p, rp->g->vocab, rp->g->n_vocab, rp->g->m->max_seq_len,
                           sz, why, sizeof why) == 0 &&
        sz[0] * sz[1] <= PT_MAX_TABLE) {
        int16_t tab[PT_MAX_TABLE];
        for (int id = 0; !rc && sel_pattern(id, (int)sz[0], (int)sz[1], tab); id++)
            if (!(rc = add_form(rp, &k, was, PT_OP_SELECT, PT_ENC_NONE, PT_FN_TABLE, was->arg[0],
                                was->arg[1]))) {
                rp->forms[k - 1].pat = (int16_t)(id + 1);
                rp->forms[k - 1].dist = 1;
            }
    }
    if (select) {
        for (int a = 0; a < ns && !rc; a++)
            for (int b = 0; b < ns && !rc; b++) {
                if (src_enc(rows, sop[a]) != PT_ENC_CAT || src_enc(rows, sop[b]) != PT_ENC_CAT ||
                    !REFS(sop[a], sop[b]))
                    continue;
                for (int q = 0; q < 8 && !rc; q++)
                    rc = add_form(rp, &k, was, PT_OP_SELECT, PT_ENC_NONE, PT_FN_PRED0 + q, sop[a],
                                  sop[b]);
            }
    } else {
        int nlib = gen_lib_count();
        for (int a = 0; a < ns && !rc; a++) {
            int ea = src_enc(rows, sop[a]);
            for (int i = 0; i < nlib && !rc && REFS(sop[a], -9); i++) {
                const GenFn *f = gen_lib_get(i);
                if (f->kind != GEN_FN_MAP) continue;
                for (int enc = PT_ENC_CAT; enc <= PT_ENC_NUM && !rc; enc++) {
                    int mode = ea == PT_ENC_CAT ? (enc == PT_ENC_CAT ? GEN_MODE_CC : GEN_MODE_CN)
                                                : (enc == PT_ENC_CAT ? GEN_MODE_NC : GEN_MODE_NN);
                    if (f->modes & (unsigned)mode)
                        rc = add_form(rp, &k, was, PT_OP_MAP, enc, pt_fn_of_lib(i), sop[a],
                                      PT_SRC_NONE);
                }
            }
            if (!rc && ea == PT_ENC_CAT && REFS(sop[a], -9) &&
                !(rc = add_form(rp, &k, was, PT_OP_MAP, PT_ENC_CAT, PT_FN_TABLE, sop[a],
                                PT_SRC_NONE)))
                rp->forms[k - 1].rank = 1, rp->forms[k - 1].dist += !rp->forms[k - 1].dist;
            for (int b = 0; b < ns && !rc; b++) {
                int eb = src_enc(rows, sop[b]);
                if (!REFS(sop[a], sop[b])) continue;
                for (int m = 1; m <= 2 && !rc && ea == PT_ENC_CAT && eb == PT_ENC_CAT; m++)
                    if (!(rc = add_form(rp, &k, was, PT_OP_SEQMAP, PT_ENC_CAT, PT_FN_TABLE,
                                        sop[a], sop[b])))
                        rp->forms[k - 1].rank = (int8_t)m,
                        rp->forms[k - 1].dist += !rp->forms[k - 1].dist;
                for (int i = 0; i < nlib && !rc; i++) {
                    const GenFn *f = gen_lib_get(i);
                    if (f->kind == GEN_FN_SEQMAP && ea == PT_ENC_CAT && eb == PT_ENC_CAT)
                        rc = add_form(rp, &k, was, PT_OP_SEQMAP, PT_ENC_CAT, pt_fn_of_lib(i),
                                      sop[a], sop[b]);
                    else if (f->kind == GEN_FN_LINEAR && ea == PT_ENC_NUM && eb == PT_ENC_NUM)
                        rc = add_form(rp, &k, was, PT_OP_LINSEQMAP, PT_ENC_NUM, pt_fn_of_lib(i),
                                      sop[a], sop[b]);
                }
            }
        }
        for (int s = 0; s < nl && !rc; s++) {
            if (REFS(sel[s], -9))
                rc = add_form(rp, &k, was, PT_OP_SELWIDTH, PT_ENC_CAT, PT_FN_NONE, sel[s],
                              PT_SRC_NONE);
            for (int a = 0; a < ns && !rc; a++)
                if (REFS(sel[s], sop[a]))
                    rc = add_form(rp, &k, was, PT_OP_AGGREGATE, src_enc(rows, sop[a]), PT_FN_NONE,
                                  sel[s], sop[a]);
        }
    }
#undef REFS
    if (rc) return -1;
    /* stable counting sort by distance (1..5): the smallest edits first */
    Form *tmp = malloc(sizeof *tmp * (size_t)(k > 0 ? k : 1));
    if (!tmp) return -1;
    int m = 0;
    for (int d = 1; d <= 5; d++)
        for (int i = 0; i < k; i++)
            if (rp->forms[i].dist == d) tmp[m++] = rp->forms[i];
    memcpy(rp->forms, tmp, sizeof *tmp * (size_t)m);
    free(tmp);
    return m;
}

/* rows[r] = form F (rows before r are its arguments). 0, or 1 when F cannot stand there (a
 * rank table too large for the value tokens). */
static int set_form(Repair *rp, PtOp *rows, int r, const Form *F) {
    PtOp *o = &rows[r];
    o->op = F->op;
    o->enc = F->enc;
    o->fn = F->fn;
    o->arg[0] = F->a0;
    o->arg[1] = F->a1;
    o->ntab = 0;
    char why[200];
    if (F->pat) {
        size_t sz[2];
        if (pt_row_input_sizes(rows, r + 1, r, rp->g->vocab, rp->g->n_vocab,
                               rp->g->m->max_seq_len, sz, why, sizeof why) ||
            sz[0] * sz[1] > PT_MAX_TABLE || !sel_pattern(F->pat - 1, (int)sz[0], (int)sz[1], o->tab))
            return 1;
        o->ntab = (int16_t)(sz[0] * sz[1]);
        return 0;
    }
    if (!F->rank) return 0;
    PtOp t;
    if (pt_row_rank_table(rows, r + 1, r, rp->g->vocab, rp->g->n_vocab, rp->g->m->max_seq_len,
                          F->rank == 2, &t, why, sizeof why))
        return 1;
    *o = t;
    return 0;
}

/* rows[n] with a free slot opened at position p: rows p.. move down one, arguments that
 * point at them follow. The slot is left for the caller. */
static void open_slot(const PtOp *rows, int n, int p, PtOp *out) {
    memcpy(out, rows, sizeof(PtOp) * (size_t)p);
    memcpy(out + p + 1, rows + p, sizeof(PtOp) * (size_t)(n - p));
    for (int i = p + 1; i <= n; i++)
        for (int j = 0; j < 2; j++)
            if (out[i].arg[j] >= p) out[i].arg[j]++;
}

/* The sublayer each row's block lies in (a Select: its first consumer's attention). */
static void row_sublayers(const State *s, int *subl) {
    int key[PT_MAX_VARS];
    pt_sort_keys(s->rows, s->n, s->n - 1, key);
    for (int i = 0; i < s->n; i++) subl[i] = key[i] < 0 ? -1 : key[i] / 2;
}

/* The rows in the order they are edited: those at the first wrong sublayer, then the later
 * ones by sublayer, then the earlier ones, latest first (nearest to where the error shows).
 * stage_end[3]: where each of the three groups ends. Returns the count. */
static int row_order(const State *s, int *order, int *stage_end) {
    int subl[PT_MAX_VARS], no = 0;
    row_sublayers(s, subl);
    for (int i = 0; i < s->n; i++)
        if (subl[i] == s->progress) order[no++] = i;
    stage_end[0] = no;
    for (int l = s->progress + 1; no < s->n && l <= 2 * PT_MAX_VARS + 1; l++)
        for (int i = 0; i < s->n; i++)
            if (subl[i] == l) order[no++] = i;
    stage_end[1] = no;
    for (int i = s->n - 1; i >= 0; i--)
        if (subl[i] < s->progress) order[no++] = i;
    stage_end[2] = no;
    return no;
}

/* Whether the beam of the next step is full of programs right in more leading sublayers than
 * s: then s's other rows are left (the edits of one row are all tried, so the smallest edit
 * that moves on is among them); compiles go to the next step instead. */
static bool beam_moved_on(const Repair *rp, const State *s) {
    int B = rp->o->beam > 0 ? rp->o->beam : 1;
    return rp->n_next == B && rp->next[B - 1].progress > s->progress;
}

/* Edits of one row: each open row replaced by every form; when none of them moves on, the
 * rows before the first wrong sublayer too (a function that only renames the values it
 * writes leaves the digests of its own sublayer unchanged: the error shows where a later
 * block, or the unembedding, reads those values). 1 found, 0 not, -1 OOM. */
static int edit_rows(Repair *rp, const State *s) {
    /* a group of rows (row_order) runs only when the ones before it moved nothing on */
    int order[PT_MAX_VARS], stage_end[3], no = row_order(s, order, stage_end);
    int kept = rp->n_next, t;
    /* the output moved down to an earlier SOp: the rows above it dropped */
    for (int k = s->n - 2; k >= 0; k--)
        if (s->rows[k].op != PT_OP_SELECT && (t = try_rows(rp, s->rows, k + 1, s)) != 0) return t;
    PtOp rows[PT_MAX_VARS];
    for (int q = 0, st = 0; q < no; q++) {
        while (q == stage_end[st]) {
            if (rp->n_next > kept) return 0;
            st++;
        }
        int r = order[q];
        int nf = row_forms(rp, s->rows, r, s->rows[r].op == PT_OP_SELECT, &s->rows[r], -1);
        if (nf < 0) return -1;
        memcpy(rows, s->rows, sizeof(PtOp) * (size_t)s->n);
        for (int f = 0; f < nf; f++) {
            if (over_budget(rp)) return 0;
            if (set_form(rp, rows, r, &rp->forms[f])) continue;
            if ((t = try_rows(rp, rows, s->n, s)) != 0) return t;
        }
        if (beam_moved_on(rp, s)) return 0;
    }
    return 0;
}

/* Edits that add a row: a new output on top of the old one (an SOp, or a Select and its
 * Aggregate or SelectorWidth), and a new SOp in front of an open row, taking the place of
 * one of its SOp arguments. */
static int add_rows(Repair *rp, const State *s) {
    if (s->n + 2 > PT_MAX_VARS) return 0;
    PtOp rows[PT_MAX_VARS];
    int n = s->n, t;
    /* a new output that reads the old one */
    memcpy(rows, s->rows, sizeof(PtOp) * (size_t)n);
    int nf = row_forms(rp, rows, n, false, NULL, n - 1);
    if (nf < 0) return -1;
    for (int f = 0; f < nf; f++) {
        if (over_budget(rp)) return 0;
        if (set_form(rp, rows, n, &rp->forms[f])) continue;
        if ((t = try_rows(rp, rows, n + 1, s)) != 0) return t;
    }
    /* a new Select and its consumer, the old output read by one of them */
    Form *sels = NULL;
    int nsel = row_forms(rp, rows, n, true, NULL, -1);
    if (nsel < 0 || !(sels = malloc(sizeof *sels * (size_t)(nsel > 0 ? nsel : 1)))) return -1;
    memcpy(sels, rp->forms, sizeof *sels * (size_t)nsel);
    for (int a = 0; a < nsel && !over_budget(rp); a++) {
        set_form(rp, rows, n, &sels[a]);
        bool reads = sels[a].a0 == n - 1 || sels[a].a1 == n - 1;
        nf = row_forms(rp, rows, n + 1, false, NULL, reads ? n : n - 1);
        if (nf < 0) {
            free(sels);
            return -1;
        }
        for (int f = 0; f < nf; f++) {
            const Form *F = &rp->forms[f];
            if ((F->op != PT_OP_AGGREGATE && F->op != PT_OP_SELWIDTH) || F->a0 != n) continue;
            if (over_budget(rp)) break;
            set_form(rp, rows, n + 1, F);
            if ((t = try_rows(rp, rows, n + 2, s)) != 0) {
                free(sels);
                return t;
            }
        }
    }
    free(sels);
    /* a new SOp in front of an open row, as one of its SOp arguments */
    int order[PT_MAX_VARS], stage_end[3];
    row_order(s, order, stage_end);
    int no = stage_end[1]; /* the rows at or after the first wrong sublayer */
    for (int q = 0; q < no; q++) {
        int r = order[q];
        for (int j = 0; j < 2; j++) {
            int a = s->rows[r].arg[j];
            if (a == PT_SRC_NONE || (a >= 0 && s->rows[a].op == PT_OP_SELECT)) continue;
            open_slot(s->rows, n, r, rows);
            rows[r + 1].arg[j] = (int16_t)r;
            nf = row_forms(rp, rows, r, false, NULL, -1);
            if (nf < 0) return -1;
            for (int f = 0; f < nf; f++) {
                if (over_budget(rp)) return 0;
                if (set_form(rp, rows, r, &rp->forms[f])) continue;
                if ((t = try_rows(rp, rows, n + 1, s)) != 0) return t;
            }
        }
    }
    return 0;
}

/* The state's own agreement on the function sample (s->agree). 0, or -1 on failure. */
static int own_agree(Repair *rp, State *s) {
    if (s->agree >= 0) return 0;
    int16_t table[CELLS];
    pt_ops_to_tokens(s->rows, s->n, table);
    CompiledModel *cm = NULL;
    char why[512];
    if (search_compile(rp->g, table, &cm, why, sizeof why) != 0) return -1;
    rp->res->fn_scored++;
    s->agree = fn_run(rp, cm, false);
    compiled_model_free(cm);
    return s->agree < 0 ? -1 : 0;
}

/* Edits of tables, steered by the function sample: each Map, SequenceMap and Select written
 * as its table (pt_row_as_table), then one cell changed to another value of that table, or
 * (a Select) one query's column set to a single key, to no key or to every key. A cell is
 * invisible to the digests of its own sublayer when it only renames values, and a table is
 * too large to try whole; the function sample gives the credit a digest cannot. */
static int edit_tables(Repair *rp, State *s) {
    if (!rp->fn_tok || own_agree(rp, s) != 0) return 0;
    int order[PT_MAX_VARS], stage_end[3], no = row_order(s, order, stage_end);
    const SearchGiven *g = rp->g;
    PtOp rows[PT_MAX_VARS];
    char e[256];
    for (int q = 0; q < no; q++) {
        int r = order[q], inner, t;
        PtOp tab;
        if (pt_row_as_table(s->rows, s->n, r, g->vocab, g->n_vocab, g->m->max_seq_len, &tab,
                            &inner, e, sizeof e) != 0)
            continue;
        memcpy(rows, s->rows, sizeof(PtOp) * (size_t)s->n);
        PtOp *o = &rows[r];
        *o = tab;
        int nt = tab.ntab;
        if (tab.op == PT_OP_SELECT) {
            int nk = nt / inner;
            for (int j = 0; j < inner; j++)
                for (int pat = -2; pat < nk; pat++) { /* -2 no key, -1 every key, else key pat */
                    for (int i = 0; i < nk; i++)
                        o->tab[i * inner + j] = (int16_t)(pat == -1 || pat == i ? PT_VAL_TRUE
                                                                                : PT_VAL_FALSE);
                    if (over_budget(rp)) return 0;
                    if ((t = try_rows_fn(rp, rows, s->n, s, true)) != 0) return t;
                }
            memcpy(o->tab, tab.tab, sizeof tab.tab);
            for (int i = 0; i < nt; i++) {
                o->tab[i] = (int16_t)(tab.tab[i] == PT_VAL_TRUE ? PT_VAL_FALSE : PT_VAL_TRUE);
                if (over_budget(rp)) return 0;
                if ((t = try_rows_fn(rp, rows, s->n, s, true)) != 0) return t;
                o->tab[i] = tab.tab[i];
            }
        } else {
            /* the table's own values; a bool table may take either bool (a constant one has
             * only one of them) */
            int16_t vals[PT_MAX_TABLE + 2];
            int nv = 0;
            bool bools = false;
            for (int i = 0; i < nt; i++) {
                int k = 0;
                while (k < nv && vals[k] != tab.tab[i]) k++;
                if (k == nv) vals[nv++] = tab.tab[i];
                bools |= tab.tab[i] == PT_VAL_TRUE || tab.tab[i] == PT_VAL_FALSE;
            }
            for (int b = PT_VAL_FALSE; b <= PT_VAL_TRUE && bools; b++) {
                int k = 0;
                while (k < nv && vals[k] != b) k++;
                if (k == nv) vals[nv++] = (int16_t)b;
            }
            for (int i = 0; i < nt; i++)
                for (int k = 0; k < nv; k++) {
                    if (vals[k] == tab.tab[i]) continue;
                    o->tab[i] = vals[k];
                    if (over_budget(rp)) return 0;
                    if ((t = try_rows_fn(rp, rows, s->n, s, true)) != 0) return t;
                    o->tab[i] = tab.tab[i];
                }
        }
    }
    return 0;
}

int search_repair(const SearchGiven *g, const int16_t *seeds, int n_seeds,
                  const RepairOptions *o, RepairResult *res, char *err, size_t errcap) {
    memset(res, 0, sizeof *res);
    res->sublayers = g->n_prefix;
    double t0 = now_ms();
    char e[256];
    if (gen_lib_init(e, sizeof e) != 0) {
        snprintf(err, errcap, "lambda library: %s", e);
        return -1;
    }
    int B = o->beam > 0 ? o->beam : 1;
    Repair rp = {.g = g, .o = o, .res = res, .t0 = t0};
    State *beam = malloc(sizeof *beam * (size_t)B);
    rp.next = malloc(sizeof *rp.next * (size_t)B);
    rp.given_sizes = malloc(sizeof(int) * (size_t)(g->n_prefix + 1));
    int rc = 0, nb = 0;
    rp.gblocks = calloc((size_t)(g->n_prefix + 1), sizeof *rp.gblocks);
    rp.n_gblocks = malloc(sizeof(int) * (size_t)(g->n_prefix + 1));
    if (!beam || !rp.next || !rp.given_sizes || !rp.gblocks || !rp.n_gblocks) goto oom;
    for (int i = 0; i <= g->n_prefix; i++) rp.n_gblocks[i] = -1;
    sizes(g->m, rp.given_sizes);
    if (fn_init(&rp) != 0) { /* no function sample: no table edits */
        free(rp.fn_tok);
        rp.fn_tok = NULL;
    }
    /* the seeds, scored and ranked: the beam starts from the best of them, and from the next
     * best ones when a beam runs out of programs that move on before the limits */
    rp.pool = malloc(sizeof *rp.pool * (size_t)(n_seeds > 0 ? n_seeds : 1));
    if (!rp.pool) goto oom;
    for (int i = 0; i < n_seeds && !rp.found && !over_budget(&rp); i++) {
        PtOp rows[PT_MAX_VARS];
        int n;
        if (pt_tokens_to_ops(seeds + (size_t)i * CELLS, rows, &n, e, sizeof e) != 0 || n == 0)
            continue;
        int t = try_rows(&rp, rows, n, NULL);
        if (t < 0) goto oom;
    }
    State *pool = rp.pool;
    int n_pool = rp.n_pool;
    rp.pool = NULL;
    for (int i = 1; i < n_pool; i++) { /* stable insertion sort, best first */
        State x = pool[i];
        int j = i;
        while (j > 0 && better(&x, &pool[j - 1])) pool[j] = pool[j - 1], j--;
        pool[j] = x;
    }
    for (int start = 0; start < n_pool && !rp.found && !over_budget(&rp); start += B) {
        rp.n_next = n_pool - start < B ? n_pool - start : B;
        memcpy(rp.next, pool + start, sizeof *pool * (size_t)rp.n_next);
        if (start > 0) res->restarts++;
        for (int step = 0; step < o->max_steps && !rp.found && rp.n_next > 0; step++) {
            nb = rp.n_next;
            memcpy(beam, rp.next, sizeof *beam * (size_t)nb);
            if (getenv("ITRACR_REPAIR_DEBUG"))
                for (int b = 0; b < nb; b++) {
                    int16_t t[CELLS];
                    pt_ops_to_tokens(beam[b].rows, beam[b].n, t);
                    char *f = pt_format_table(t);
                    fprintf(stderr, "start %d step %d beam %d progress %d dist %ld given %d\n%s",
                            start, step, b, beam[b].progress, beam[b].dist, g->n_prefix,
                            f ? f : "");
                    free(f);
                }
            rp.n_next = 0;
            res->steps = step + 1;
            for (int b = 0; b < nb && !rp.found && !over_budget(&rp); b++)
                if (edit_rows(&rp, &beam[b]) < 0) goto oom_pool;
            /* rows are added only when no edit of a row moved on */
            bool stuck = rp.n_next == 0;
            for (int b = 0; b < nb && !rp.found && stuck && !over_budget(&rp); b++)
                if (add_rows(&rp, &beam[b]) < 0) goto oom_pool;
            /* tables are edited only when no row could be replaced or added either */
            stuck = rp.n_next == 0;
            for (int b = 0; b < nb && !rp.found && stuck && !over_budget(&rp); b++)
                if (edit_tables(&rp, &beam[b]) < 0) goto oom_pool;
            if (over_budget(&rp)) break;
        }
    }
    free(pool);
    res->found = rp.found;
    res->out_of_budget = !rp.found && over_budget(&rp);
    goto done;
oom_pool:
    free(pool);
oom:
    snprintf(err, errcap, "out of memory");
    rc = -1;
done:
    free(beam);
    free(rp.next);
    free(rp.pool);
    u64set_free(&rp.seen);
    free(rp.forms);
    free(rp.given_sizes);
    for (int i = 0; rp.gblocks && i <= g->n_prefix; i++) free(rp.gblocks[i]);
    free(rp.gblocks);
    free(rp.n_gblocks);
    free(rp.fn_tok);
    free(rp.fn_want);
    free(rp.fn_raw);
    res->ms = now_ms() - t0;
    return rc;
}
