/* Candidate programs best first (meta.h). */
#include "meta/meta.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/weight_tokens.h"
#include "util/u64set.h"

/* One decoded candidate sequence. */
typedef struct Node {
    int len;          /* tokens, EOS included */
    int fixed;        /* children change positions >= fixed only */
    double score;     /* sum of lp */
    MetaDecStep *st;  /* [len] */
    int32_t *alt_tok; /* [len, n_alt] */
    float *alt_lp;    /* [len, n_alt] */
} Node;

/* A child waiting in the queue: node's token at position t replaced by alternative a. */
typedef struct Entry {
    double est;
    int node, t, a;
} Entry;

struct MetaCands {
    MetaCandOptions o;
    MetaDecSession *ses;
    Rng rng;
    int A, T; /* alternatives per position, max sequence length */
    Node *nodes;
    int n_nodes, cap_nodes;
    Entry *heap;
    int n_heap, cap_heap;
    U64Set seen; /* sequence hashes of the candidates produced */
    int produced, dup_run;
    int last; /* the node emitted last (-1: none) */
    /* the constraint's view of the meta-model: its output size bounds the allowed[] it fills
     * (a model trained before tables has fewer outputs than this build's flat vocabulary) */
    PcContext ctx;
    /* scratch for one run: [T] steps, [T, A] alternatives, [T] forced tokens */
    MetaDecStep *st;
    int32_t *at, *force;
    float *al;
};

void meta_cand_options_default(MetaCandOptions *o) {
    o->mode = MC_MIX;
    o->n_alt = 3;
    o->seed = 1;
    o->temp = 1.0f;
}

static const char *mode_names[] = {"redecode", "keep", "sample", "mix"};
#define N_MODES ((int)(sizeof mode_names / sizeof *mode_names))

int meta_cand_mode_parse(const char *s, MetaCandMode *mode) {
    for (int i = 0; i < N_MODES; i++)
        if (strcmp(s, mode_names[i]) == 0) {
            *mode = (MetaCandMode)i;
            return 0;
        }
    return -1;
}

const char *meta_cand_mode_name(MetaCandMode mode) {
    return (unsigned)mode < (unsigned)N_MODES ? mode_names[mode] : "?";
}

/* Entry a is popped before b. */
static int entry_before(const Entry *a, const Entry *b) {
    if (a->est != b->est) return a->est > b->est;
    if (a->node != b->node) return a->node < b->node;
    if (a->t != b->t) return a->t < b->t;
    return a->a < b->a;
}

static int heap_push(MetaCands *c, Entry e) {
    if (c->n_heap == c->cap_heap) {
        int nc = c->cap_heap ? 2 * c->cap_heap : 256;
        Entry *h = realloc(c->heap, sizeof(Entry) * (size_t)nc);
        if (!h) return -1;
        c->heap = h, c->cap_heap = nc;
    }
    int i = c->n_heap++;
    while (i > 0 && entry_before(&e, &c->heap[(i - 1) / 2])) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = e;
    return 0;
}

static Entry heap_pop(MetaCands *c) {
    Entry top = c->heap[0], last = c->heap[--c->n_heap];
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        const Entry *mv = &last;
        if (l < c->n_heap && entry_before(&c->heap[l], mv)) m = l, mv = &c->heap[l];
        if (r < c->n_heap && entry_before(&c->heap[r], mv)) m = r;
        if (m == i) break;
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (c->n_heap > 0) c->heap[i] = last;
    return top;
}

static uint64_t seq_hash(const MetaDecStep *st, int len) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
    for (int i = 0; i < len; i++) {
        h ^= (uint64_t)(uint32_t)st[i].tok + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
    }
    return h ? h : 1;
}

/* Stores the scratch run (len tokens) as a new node; returns its index or -1 (OOM). */
static int node_add(MetaCands *c, int len, int fixed) {
    if (c->n_nodes == c->cap_nodes) {
        int nc = c->cap_nodes ? 2 * c->cap_nodes : 64;
        Node *nn = realloc(c->nodes, sizeof(Node) * (size_t)nc);
        if (!nn) return -1;
        c->nodes = nn, c->cap_nodes = nc;
    }
    Node *n = &c->nodes[c->n_nodes];
    size_t A = (size_t)c->A;
    n->len = len, n->fixed = fixed;
    n->st = malloc(sizeof(MetaDecStep) * (size_t)len);
    n->alt_tok = malloc(sizeof(int32_t) * (size_t)len * (A ? A : 1));
    n->alt_lp = malloc(sizeof(float) * (size_t)len * (A ? A : 1));
    if (!n->st || !n->alt_tok || !n->alt_lp) {
        free(n->st), free(n->alt_tok), free(n->alt_lp);
        return -1;
    }
    memcpy(n->st, c->st, sizeof(MetaDecStep) * (size_t)len);
    memcpy(n->alt_tok, c->at, sizeof(int32_t) * (size_t)len * A);
    memcpy(n->alt_lp, c->al, sizeof(float) * (size_t)len * A);
    n->score = 0;
    for (int i = 0; i < len; i++) n->score += n->st[i].lp;
    return c->n_nodes++;
}

/* Queues the children of node k (positions >= its fixed). */
static int push_children(MetaCands *c, int k) {
    const Node *n = &c->nodes[k];
    for (int t = n->fixed; t < n->len; t++)
        for (int a = 0; a < n->st[t].n_alt; a++) {
            Entry e = {n->score - n->st[t].lp + n->alt_lp[(size_t)t * c->A + a], k, t, a};
            if (heap_push(c, e)) return -1;
        }
    return 0;
}

MetaCands *meta_cands_new(MetaModel *m, const float *payload, const int16_t *ids, int P,
                          const MetaCandOptions *o, const PcContext *model, char *err,
                          size_t errcap) {
    if (P > m->cfg.max_prefix) {
        snprintf(err, errcap, "%d weight tokens, but the meta-model takes at most %d", P,
                 m->cfg.max_prefix);
        return NULL;
    }
    if (m->cfg.payload_dim != WT_WIDTH || m->cfg.n_id_fields != WT_N_IDS ||
        !meta_vocab_known(m->cfg.vocab)) {
        snprintf(
            err, errcap,
            "the meta-model's config does not match the token formats (payload %d, ids %d, vocab %d)",
            m->cfg.payload_dim, m->cfg.n_id_fields, m->cfg.vocab);
        return NULL;
    }
    MetaCands *c = calloc(1, sizeof *c);
    int32_t *ids32 = meta_ids_widen(ids, P);
    if (!c || !ids32) {
        free(c), free(ids32);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    c->o = *o;
    c->A = o->n_alt < 0 ? 0 : o->n_alt > 16 ? 16 : o->n_alt;
    c->last = -1;
    c->T = m->cfg.max_prog < PC_MAX_LEN ? m->cfg.max_prog : PC_MAX_LEN;
    rng_seed(&c->rng, o->seed);
    MetaPrefix pre = {P, payload, ids32};
    c->ctx = (PcContext){NULL, 0, 0, m->cfg.vocab, NULL};
    if (model) { /* the model's own vocabulary: every candidate validates and compiles on it */
        c->ctx = *model;
        c->ctx.model_vocab = m->cfg.vocab;
        c->ctx.cache = pc_cache_new(); /* candidates share prefixes (NULL: slower, same) */
    }
    MetaDecodeOpts dop = {PC_BOS, PC_EOS, c->T, pc_constraint_fn, &c->ctx, 0};
    c->ses = meta_dec_session_new(m, &pre, &dop, err, errcap);
    free(ids32); /* the session keeps the prefix's keys and values, not the ids */
    size_t A = (size_t)(c->A ? c->A : 1);
    c->st = malloc(sizeof(MetaDecStep) * (size_t)c->T);
    c->at = malloc(sizeof(int32_t) * (size_t)c->T * A);
    c->al = malloc(sizeof(float) * (size_t)c->T * A);
    c->force = malloc(sizeof(int32_t) * (size_t)c->T);
    if (!c->ses || !c->st || !c->at || !c->al || !c->force) {
        if (c->ses) snprintf(err, errcap, "out of memory");
        meta_cands_free(c);
        return NULL;
    }
    return c;
}

void meta_cands_free(MetaCands *c) {
    if (!c) return;
    meta_dec_session_free(c->ses);
    pc_cache_free(c->ctx.cache);
    for (int i = 0; i < c->n_nodes; i++)
        free(c->nodes[i].st), free(c->nodes[i].alt_tok), free(c->nodes[i].alt_lp);
    free(c->nodes), free(c->heap), u64set_free(&c->seen);
    free(c->st), free(c->at), free(c->al), free(c->force);
    free(c);
}

long meta_cands_model_steps(const MetaCands *c) { return meta_dec_session_steps(c->ses); }

int meta_cands_limit_last(MetaCands *c, int limit) {
    if (c->last < 0 || c->o.mode == MC_SAMPLE) return 0;
    int kept = 0, dropped = 0;
    for (int i = 0; i < c->n_heap; i++) {
        const Entry *e = &c->heap[i];
        if (e->node == c->last && e->t >= limit) dropped++;
        else c->heap[kept++] = *e;
    }
    if (!dropped) return 0;
    /* rebuild the heap from the entries kept (each pushed again: the order is a function of
     * the entries alone, so the queue stays deterministic) */
    int n = kept;
    c->n_heap = 0;
    for (int i = 0; i < n; i++) {
        Entry e = c->heap[i];
        int j = c->n_heap++;
        while (j > 0 && entry_before(&e, &c->heap[(j - 1) / 2])) {
            c->heap[j] = c->heap[(j - 1) / 2];
            j = (j - 1) / 2;
        }
        c->heap[j] = e;
    }
    return dropped;
}

/* Runs the session with force[0..nf) into the scratch; *len. */
static int run(MetaCands *c, int nf, Rng *rng, int *len, char *err, size_t errcap) {
    return meta_dec_session_run(c->ses, c->force, nf, rng, c->o.temp, c->A, c->st, c->at, c->al,
                                len, err, errcap);
}

/* Whether the scratch sequence st[0..len) obeys the constraint at every position. */
static int valid_seq(MetaCands *c, int len, unsigned char *allowed) {
    int32_t seq[PC_MAX_LEN];
    for (int i = 0; i < len; i++) {
        if (pc_allowed_ctx(&c->ctx, seq, i, allowed) <= 0 || c->st[i].tok < 0 ||
            c->st[i].tok >= pc_vocab_size() || !allowed[c->st[i].tok])
            return 0;
        seq[i] = c->st[i].tok;
    }
    return len > 0 && seq[len - 1] == PC_EOS;
}

/* The child of entry e into the scratch (*len); returns 0, 1 when the change leads to a dead
 * end of the constraint (no child), or -1. */
static int make_child(MetaCands *c, const Entry *e, int *len, char *err, size_t errcap) {
    const Node *p = &c->nodes[e->node];
    size_t A = (size_t)c->A;
    int32_t alt = p->alt_tok[(size_t)e->t * A + e->a];
    float alt_lp = p->alt_lp[(size_t)e->t * A + e->a];
    if (c->o.mode == MC_KEEP) {
        memcpy(c->st, p->st, sizeof(MetaDecStep) * (size_t)p->len);
        memcpy(c->at, p->alt_tok, sizeof(int32_t) * (size_t)p->len * A);
        memcpy(c->al, p->alt_lp, sizeof(float) * (size_t)p->len * A);
        c->st[e->t].tok = alt;
        c->st[e->t].lp = alt_lp;
        /* the parent's token becomes an alternative of no one: a child never changes t again */
        unsigned char allowed[1024];
        if (pc_vocab_size() <= (int)sizeof allowed && valid_seq(c, p->len, allowed)) {
            *len = p->len;
            return 0;
        }
    }
    for (int i = 0; i < e->t; i++) c->force[i] = p->st[i].tok;
    c->force[e->t] = alt;
    int rc = run(c, e->t + 1, NULL, len, err, errcap);
    if (rc) return rc;
    /* the forced positions keep the parent's numbers (the session fills only t > e->t) */
    for (int i = 0; i < e->t; i++) {
        c->st[i] = p->st[i];
        memcpy(c->at + (size_t)i * A, p->alt_tok + (size_t)i * A, sizeof(int32_t) * A);
        memcpy(c->al + (size_t)i * A, p->alt_lp + (size_t)i * A, sizeof(float) * A);
    }
    c->st[e->t].tok = alt;
    c->st[e->t].lp = alt_lp;
    c->st[e->t].n_alt = 0;
    return 0;
}

static int emit(MetaCands *c, const Node *n, int16_t *table, double *score, char *err,
                size_t errcap) {
    c->last = (int)(n - c->nodes);
    int32_t seq[PC_MAX_LEN];
    for (int i = 0; i < n->len; i++) seq[i] = n->st[i].tok;
    if (pc_decode(seq, n->len, table, err, errcap)) return -1;
    *score = n->score;
    c->produced++;
    return 1;
}

int meta_cands_next(MetaCands *c, int16_t *table, double *score, char *err, size_t errcap) {
    int len = 0;
    if (c->produced == 0) {
        if (run(c, 0, NULL, &len, err, errcap)) return -1;
        int k = node_add(c, len, 0);
        if (k < 0 || u64set_add(&c->seen, seq_hash(c->st, len)) < 0 ||
            (c->o.mode != MC_SAMPLE && push_children(c, k))) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        return emit(c, &c->nodes[k], table, score, err, errcap);
    }
    if (c->o.mode == MC_SAMPLE || (c->o.mode == MC_MIX && c->produced % 2 == 1)) {
        /* at most 64 duplicates in a row: the distribution is then (nearly) exhausted (mix:
         * the queue's turn then) */
        while (c->dup_run < 64) {
            int rc = run(c, 0, &c->rng, &len, err, errcap);
            if (rc < 0) return -1;
            if (rc > 0) { /* a dead end counts as a repeat: the loop stays bounded */
                c->dup_run++;
                continue;
            }
            if (len == 0 || c->st[len - 1].tok != PC_EOS) continue;
            int fresh = u64set_add(&c->seen, seq_hash(c->st, len));
            if (fresh < 0) {
                snprintf(err, errcap, "out of memory");
                return -1;
            }
            if (!fresh) {
                c->dup_run++;
                continue;
            }
            c->dup_run = 0;
            /* sample: only the newest sample is kept; mix: it joins the tree */
            if (c->o.mode == MC_SAMPLE && c->n_nodes > 0) {
                Node *o = &c->nodes[0];
                free(o->st), free(o->alt_tok), free(o->alt_lp);
                c->n_nodes = 0;
            }
            int k = node_add(c, len, 0);
            if (k < 0 || (c->o.mode == MC_MIX && push_children(c, k))) {
                snprintf(err, errcap, "out of memory");
                return -1;
            }
            return emit(c, &c->nodes[k], table, score, err, errcap);
        }
        if (c->o.mode == MC_SAMPLE) return 0;
    }
    while (c->n_heap > 0) {
        Entry e = heap_pop(c);
        int rc = make_child(c, &e, &len, err, errcap);
        if (rc < 0) return -1;
        if (rc > 0) continue; /* no valid program starts this way */
        if (len == 0 || c->st[len - 1].tok != PC_EOS) continue; /* ran out of length */
        int fresh = u64set_add(&c->seen, seq_hash(c->st, len));
        if (fresh < 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        if (!fresh) continue;
        int k = node_add(c, len, e.t + 1);
        if (k < 0 || push_children(c, k)) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        return emit(c, &c->nodes[k], table, score, err, errcap);
    }
    return 0;
}
