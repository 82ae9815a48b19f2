#include "gen/sampler.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen/lambda_lib.h"
#include "rasp/rasp.h"

#define NO_PICK INT_MIN
#define STEP_TRIES 48

/* Codes for arguments: >= 0 a variable (row), PT_SRC_TOKENS / PT_SRC_INDICES the primitives. */
typedef struct Var {
    PtOp op;
    unsigned vt;   /* GEN_VT_* of its values */
    bool may_none; /* None can occur at run time (categorical Aggregate downstream) */
    bool exact;    /* the inferred value set holds every run-time value */
    bool tok;      /* depends on tokens (Tracr compiles nothing else) */
    int uses;
    int hidden; /* MLP hidden units of its block (SelectorWidth: 2N+1) */
    int nvals;
    Value vals[GEN_MAX_VALS];
} Var;

struct GenSampler {
    GenConfig cfg;
    uint64_t rng;
    Var base[2]; /* tokens, indices */
    Var vars[PT_MAX_VARS];
    int n;
    long rej[GEN_R_COUNT];
    int maps[3][64], n_maps[3]; /* Map entries accepting INT, BOOL, FRAC */
    int seqs[64], n_seqs;
    int lins[64], n_lins;
    GenSetting set;              /* the current sample's setting */
    Value svocab[GEN_MAX_VOCAB]; /* its vocabulary in the compiler's order (value tokens tK) */
    Value letters[GEN_MAX_LETTERS], words[GEN_MAX_WORDS]; /* interned string tokens */
};


/* ---- random numbers ------------------------------------------------------------------ */

uint64_t gen_sample_seed(uint64_t base, uint64_t i) {
    uint64_t s = base ^ (i * 0xd1b54a32d192ed03ULL);
    return rng_splitmix64(&s);
}

static double unit(GenSampler *s) { return (double)(rng_splitmix64(&s->rng) >> 11) * 0x1p-53; }
static int below(GenSampler *s, int n) {
    return n <= 1 ? 0 : (int)((rng_splitmix64(&s->rng) >> 33) % (uint64_t)n);
}
static int weighted(GenSampler *s, const double *w, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    if (total <= 0) return -1;
    double r = unit(s) * total;
    for (int i = 0; i < n; i++) {
        if (r < w[i]) return i;
        r -= w[i];
    }
    for (int i = n - 1; i >= 0; i--)
        if (w[i] > 0) return i;
    return -1;
}

/* ---- config -------------------------------------------------------------------------- */

void gen_config_default(GenConfig *c) {
    memset(c, 0, sizeof *c);
    c->min_ops = 1;
    c->max_ops = 8;
    c->n_vocab = 5;
    for (int i = 0; i < 5; i++) c->vocab[i] = i;
    c->max_seq_len = 5;
    c->op_weight[GEN_K_MAP] = 3;
    c->op_weight[GEN_K_SEQMAP] = 2;
    c->op_weight[GEN_K_LINSEQMAP] = 1;
    c->op_weight[GEN_K_AGGREGATE] = 2.5;
    c->op_weight[GEN_K_SELWIDTH] = 1.5;
    const double pw[8] = {3, 1, 1, 1, 1, 1, 0.5, 0}; /* FALSE selects nothing: no use */
    memcpy(c->pred_weight, pw, sizeof pw);
    c->p_numerical = 0.3;
    c->p_reuse_select = 0.2;
    c->max_values = 24;
    c->max_residual = 160;
    c->max_layers = 10;
    c->max_mlp_width = 128;
    c->max_tries = 200;
    c->vary = false;
    c->vocab_min = 2;
    c->vocab_max = 10;
    c->vocab_kinds = GEN_VOCAB_INT | GEN_VOCAB_LETTERS | GEN_VOCAB_WORDS | GEN_VOCAB_MIXED;
    c->len_min = 2;
    c->len_max = 10;
    c->p_causal = 0.25;
}

void gen_config_general(GenConfig *c) {
    gen_config_default(c);
    c->vary = true;
    c->p_table = 0.1;
    c->p_pred_table = 0.15;
}

bool gen_config_varies(const GenConfig *c) {
    return c->vary && (c->vocab_min != c->vocab_max || c->vocab_kinds != GEN_VOCAB_INT ||
                       c->len_min != c->len_max || c->p_causal > 0);
}

void gen_config_normalize(GenConfig *c) {
    if (!c->vary || gen_config_varies(c) || c->vocab_min < 1 || c->vocab_min > GEN_MAX_VOCAB)
        return;
    c->vary = false;
    c->n_vocab = c->vocab_min;
    for (int i = 0; i < c->n_vocab; i++) c->vocab[i] = i;
    c->max_seq_len = c->len_min;
}

static const char *const k_kind_names[GEN_VOCAB_KINDS] = {"int", "letters", "words", "mixed"};

const char *gen_vocab_kind_name(int kind) {
    for (int i = 0; i < GEN_VOCAB_KINDS; i++)
        if (kind == 1 << i) return k_kind_names[i];
    return NULL;
}

int gen_parse_vocab_kinds(const char *text, unsigned *mask) {
    *mask = 0;
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < GEN_VOCAB_KINDS; i++)
            if (strlen(k_kind_names[i]) == n && strncmp(p, k_kind_names[i], n) == 0) found = i;
        if (found < 0) return -1;
        *mask |= 1u << found;
        p += n;
        if (*p == ',') p++;
    }
    return *mask ? 0 : -1;
}

int gen_config_check(const GenConfig *c, char *err, size_t errcap) {
    if (c->min_ops < 1 || c->max_ops < c->min_ops || c->max_ops > PT_MAX_VARS / 2) {
        snprintf(err, errcap, "ops must satisfy 1 <= min <= max <= %d (got %d..%d)",
                 PT_MAX_VARS / 2, c->min_ops, c->max_ops);
        return 1;
    }
    if (c->n_vocab < 1 || c->n_vocab > GEN_MAX_VOCAB) {
        snprintf(err, errcap, "vocabulary needs 1 to %d tokens", GEN_MAX_VOCAB);
        return 1;
    }
    for (int i = 0; i < c->n_vocab; i++)
        for (int j = 0; j < i; j++)
            if (c->vocab[i] == c->vocab[j]) {
                snprintf(err, errcap, "vocabulary token %d appears twice", c->vocab[i]);
                return 1;
            }
    if (c->max_seq_len < 1 || c->max_seq_len > GEN_MAX_VALS - 1) {
        snprintf(err, errcap, "max_seq_len must be 1..%d", GEN_MAX_VALS - 1);
        return 1;
    }
    double tot = 0;
    for (int k = 0; k < GEN_K_COUNT; k++) {
        if (!(c->op_weight[k] >= 0)) {
            snprintf(err, errcap, "op weights must be >= 0");
            return 1;
        }
        tot += c->op_weight[k];
    }
    if (tot <= 0) {
        snprintf(err, errcap, "some op weight must be positive");
        return 1;
    }
    tot = 0;
    for (int k = 0; k < 8; k++) {
        if (!(c->pred_weight[k] >= 0)) {
            snprintf(err, errcap, "predicate weights must be >= 0");
            return 1;
        }
        tot += c->pred_weight[k];
    }
    if (tot <= 0) {
        snprintf(err, errcap, "some predicate weight must be positive");
        return 1;
    }
    if (!(c->p_numerical >= 0 && c->p_numerical <= 1) ||
        !(c->p_reuse_select >= 0 && c->p_reuse_select <= 1)) {
        snprintf(err, errcap, "probabilities must be in [0, 1]");
        return 1;
    }
    if (c->vary) {
        if (c->vocab_min < 1 || c->vocab_max < c->vocab_min || c->vocab_max > GEN_MAX_VOCAB) {
            snprintf(err, errcap,
                     "vocabulary sizes must satisfy 1 <= min <= max <= %d (got %d..%d)",
                     GEN_MAX_VOCAB, c->vocab_min, c->vocab_max);
            return 1;
        }
        if (!c->vocab_kinds || c->vocab_kinds >= 1u << GEN_VOCAB_KINDS) {
            snprintf(err, errcap, "no vocabulary kind (int, letters, words, mixed) chosen");
            return 1;
        }
        if ((c->vocab_kinds & GEN_VOCAB_LETTERS) && c->vocab_max > GEN_MAX_LETTERS) {
            snprintf(err, errcap, "letter vocabularies hold at most %d tokens", GEN_MAX_LETTERS);
            return 1;
        }
        if ((c->vocab_kinds & GEN_VOCAB_MIXED) && c->vocab_min < 2) {
            snprintf(err, errcap, "a mixed vocabulary needs at least 2 tokens");
            return 1;
        }
        if (c->len_min < 1 || c->len_max < c->len_min || c->len_max > GEN_MAX_VALS - 1) {
            snprintf(err, errcap, "max_seq_len range must satisfy 1 <= min <= max <= %d",
                     GEN_MAX_VALS - 1);
            return 1;
        }
        if (!(c->p_causal >= 0 && c->p_causal <= 1) || !(c->p_table >= 0 && c->p_table <= 1)) {
            snprintf(err, errcap, "the causal and table probabilities must be in [0, 1]");
            return 1;
        }
    }
    if (!(c->p_pred_table >= 0 && c->p_pred_table <= 1)) {
        snprintf(err, errcap, "the predicate-table probability must be in [0, 1]");
        return 1;
    }
    if (c->max_values < 2 || c->max_values > GEN_MAX_VALS || c->max_residual < 1 ||
        c->max_layers < 1 || c->max_mlp_width < 1 || c->max_tries < 1) {
        snprintf(err, errcap, "caps must be positive (max_values 2..%d)", GEN_MAX_VALS);
        return 1;
    }
    return 0;
}

/* ---- sampler object ------------------------------------------------------------------ */

GenSampler *gen_sampler_new(const GenConfig *c, char *err, size_t errcap) {
    if (gen_config_check(c, err, errcap) != 0) return NULL;
    if (gen_lib_init(err, errcap) != 0) return NULL;
    GenSampler *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->cfg = *c;
    const unsigned vts[3] = {GEN_VT_INT, GEN_VT_BOOL, GEN_VT_FRAC};
    for (int i = 0; i < gen_lib_count(); i++) {
        const GenFn *f = gen_lib_get(i);
        if (f->kind == GEN_FN_MAP) {
            for (int t = 0; t < 3; t++)
                if (f->dom & vts[t]) s->maps[t][s->n_maps[t]++] = i;
        } else if (f->kind == GEN_FN_SEQMAP) {
            s->seqs[s->n_seqs++] = i;
        } else {
            s->lins[s->n_lins++] = i;
        }
    }
    for (int i = 0; i < GEN_MAX_LETTERS; i++) s->letters[i] = val_str(gen_symbol(i));
    for (int i = 0; i < GEN_MAX_WORDS; i++) s->words[i] = val_str(gen_symbol(GEN_MAX_LETTERS + i));
    return s;
}

/* ---- the setting --------------------------------------------------------------------- */

static int below(GenSampler *s, int n);
static double unit(GenSampler *s);

/* k distinct values of pool[n] (in pool order, which is ascending). */
static void pick_subset(GenSampler *s, const Value *pool, int n, int k, Value *out) {
    int idx[GEN_MAX_WORDS];
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 0; i < k; i++) {
        int j = i + below(s, n - i);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    /* ascending pool order */
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    for (int i = 0; i < k; i++) out[i] = pool[idx[i]];
}

static int cmp_tokens(const void *a, const void *b) {
    return val_dir_cmp("tokens", *(const Value *)a, *(const Value *)b);
}

/* Draws the sample's setting (nothing is drawn for a fixed setting or a one-point range)
 * and sets up tokens and indices. */
static void draw_setting(GenSampler *s) {
    const GenConfig *c = &s->cfg;
    GenSetting *g = &s->set;
    memset(g, 0, sizeof *g);
    Var *t = &s->base[0];
    if (!c->vary) {
        g->kind = GEN_VOCAB_INT;
        g->n_vocab = c->n_vocab;
        for (int i = 0; i < c->n_vocab; i++) g->vocab[i] = val_int(c->vocab[i]);
        g->max_seq_len = c->max_seq_len;
        t->vt = GEN_VT_INT;
    } else {
        int kinds[GEN_VOCAB_KINDS], nk = 0;
        for (int i = 0; i < GEN_VOCAB_KINDS; i++)
            if (c->vocab_kinds & (1u << i)) kinds[nk++] = 1 << i;
        g->kind = kinds[below(s, nk)];
        int lo = c->vocab_min;
        if (g->kind == GEN_VOCAB_MIXED && lo < 2) lo = 2;
        int hi = c->vocab_max;
        if (g->kind == GEN_VOCAB_LETTERS && hi > GEN_MAX_LETTERS) hi = GEN_MAX_LETTERS;
        int n = lo + below(s, hi - lo + 1);
        g->n_vocab = n;
        g->max_seq_len = c->len_min + below(s, c->len_max - c->len_min + 1);
        g->causal = c->p_causal > 0 && unit(s) < c->p_causal;
        switch (g->kind) {
        case GEN_VOCAB_INT:
            for (int i = 0; i < n; i++) g->vocab[i] = val_int(i);
            t->vt = GEN_VT_INT;
            break;
        case GEN_VOCAB_LETTERS:
            pick_subset(s, s->letters, GEN_MAX_LETTERS, n, g->vocab);
            t->vt = GEN_VT_STR;
            break;
        case GEN_VOCAB_WORDS:
            pick_subset(s, s->words, GEN_MAX_WORDS, n, g->vocab);
            t->vt = GEN_VT_STR;
            break;
        default: { /* mixed: integers 0..k-1 and k' letters, both present */
            int ni = 1 + below(s, n - 1);
            for (int i = 0; i < ni; i++) g->vocab[i] = val_int(i);
            pick_subset(s, s->letters, GEN_MAX_LETTERS, n - ni, g->vocab + ni);
            t->vt = GEN_VT_MIXED;
            break;
        }
        }
        qsort(g->vocab, (size_t)n, sizeof(Value), cmp_tokens);
    }
    Var *x = &s->base[1];
    t->op.op = x->op.op = PT_OP_MAP; /* any SOp kind: only "not a Select" matters */
    t->op.enc = x->op.enc = PT_ENC_CAT;
    x->vt = GEN_VT_INT;
    t->exact = x->exact = true;
    t->tok = true;
    t->nvals = g->n_vocab;
    for (int i = 0; i < g->n_vocab; i++) t->vals[i] = g->vocab[i];
    x->nvals = g->max_seq_len;
    for (int i = 0; i < g->max_seq_len; i++) x->vals[i] = val_int(i);
    memcpy(s->svocab, g->vocab, sizeof(Value) * (size_t)g->n_vocab);
    qsort(s->svocab, (size_t)g->n_vocab, sizeof(Value), cmp_tokens);
}

void gen_sampler_free(GenSampler *s) { free(s); }
const GenConfig *gen_sampler_config(const GenSampler *s) { return &s->cfg; }
void gen_sampler_rejections(const GenSampler *s, long *counts) {
    memcpy(counts, s->rej, sizeof s->rej);
}

static Var *var(GenSampler *s, int code) {
    if (code == PT_SRC_TOKENS) return &s->base[0];
    if (code == PT_SRC_INDICES) return &s->base[1];
    return &s->vars[code];
}

/* ---- value sets ---------------------------------------------------------------------- */

/* Adds v unless an equal value is present. Returns -1 when the set is full. */
static int vals_add(Value *vals, int *n, int cap, Value v) {
    for (int i = 0; i < *n; i++)
        if (val_eq(vals[i], v)) return 0;
    if (*n >= cap) return -1;
    vals[(*n)++] = v;
    return 0;
}

static bool vals_binary(const Var *v) {
    for (int i = 0; i < v->nvals; i++)
        if (!val_is_number(v->vals[i]) ||
            !(val_eq(v->vals[i], val_int(0)) || val_eq(v->vals[i], val_int(1))))
            return false;
    return true;
}

static bool vals_meet(const Var *a, const Var *b) {
    for (int i = 0; i < a->nvals; i++)
        for (int j = 0; j < b->nvals; j++)
            if (val_eq(a->vals[i], b->vals[j])) return true;
    return false;
}

/* Python can order every pair of values of these two types (numbers with numbers, strings
 * with strings). */
static bool orderable(unsigned a, unsigned b) {
    const unsigned num = GEN_VT_INT | GEN_VT_BOOL | GEN_VT_FRAC | GEN_VT_REAL;
    if ((a | b) & GEN_VT_MIXED) return false;
    return (!(a & ~num) && !(b & ~num)) || (a == GEN_VT_STR && b == GEN_VT_STR);
}

/* ---- picking arguments --------------------------------------------------------------- */

typedef struct Want {
    int enc;       /* 0 any, else PT_ENC_CAT / PT_ENC_NUM */
    unsigned vt;   /* 0 any, else mask */
    bool not_none; /* no may_none variables */
    bool binary;   /* values within {0, 1}, exact */
    int exclude;   /* a code not to pick, or NO_PICK */
} Want;

static bool wants(GenSampler *s, const Want *w, int code) {
    if (code == w->exclude) return false;
    Var *v = var(s, code);
    if (v->op.op == PT_OP_SELECT) return false;
    if (w->enc && v->op.enc != w->enc) return false;
    if (w->vt && !(v->vt & w->vt)) return false;
    if (w->not_none && v->may_none) return false;
    if (w->binary && (!v->exact || v->may_none || !vals_binary(v))) return false;
    return true;
}

static bool dangling(GenSampler *s, int code) {
    return code >= 0 && s->vars[code].uses == 0 && s->vars[code].op.op != PT_OP_SELECT;
}

/* Picks an SOp for w. With *need > 0 a still-unused variable is taken when one fits (and
 * *need drops); otherwise unused variables are twice as likely as the rest. */
static int pick(GenSampler *s, const Want *w, int *need) {
    int cand[PT_MAX_VARS + 2], nc = 0, dang[PT_MAX_VARS], nd = 0;
    for (int code = PT_SRC_INDICES; code < s->n; code++) {
        if (code == PT_SRC_NONE) continue;
        if (!wants(s, w, code)) continue;
        cand[nc++] = code;
        if (dangling(s, code)) dang[nd++] = code;
    }
    if (nc == 0) return NO_PICK;
    int code;
    if (*need > 0 && nd > 0) {
        code = dang[below(s, nd)];
    } else {
        double wt[PT_MAX_VARS + 2];
        for (int i = 0; i < nc; i++) wt[i] = dangling(s, cand[i]) ? 2.0 : 1.0;
        code = cand[weighted(s, wt, nc)];
    }
    if (dangling(s, code) && *need > 0) (*need)--;
    return code;
}

/* ---- building operations ------------------------------------------------------------- */

/* Number of distinct unused variables among codes[n]. */
static int consumed(GenSampler *s, const int *codes, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!dangling(s, codes[i])) continue;
        int dup = 0;
        for (int j = 0; j < i; j++) dup |= codes[j] == codes[i];
        k += !dup;
    }
    return k;
}

static int find_op(GenSampler *s, const PtOp *o) {
    for (int i = 0; i < s->n; i++) {
        const PtOp *p = &s->vars[i].op;
        if (p->op == o->op && p->enc == o->enc && p->fn == o->fn && p->arg[0] == o->arg[0] &&
            p->arg[1] == o->arg[1] &&
            (o->fn != PT_FN_TABLE ||
             (p->ntab == o->ntab &&
              memcmp(p->tab, o->tab, sizeof(int16_t) * (size_t)o->ntab) == 0)))
            return i;
    }
    return -1;
}

/* in's value set in the compiler's order (the order of a table's keys) into dom. */
static void sorted_domain(const Var *in, Value *dom) {
    for (int i = 0, nd = 0; i < in->nvals; i++) {
        int j = nd++;
        while (j > 0 && val_dir_cmp("x", dom[j - 1], in->vals[i]) > 0) {
            dom[j] = dom[j - 1];
            j--;
        }
        dom[j] = in->vals[i];
    }
}

/* A predicate table for Select(keys, queries) into sel (fn, ntab, tab): one bool per
 * (key, query) pair of their value sets in the compiler's order, key-major. Drawn from the
 * shapes lambda predicates take in practice (Tracr's classic programs among them): a test
 * of the key alone (k == c, k != c, k < c, k <= c for a key value c), a shifted match of
 * integers (q == k + d, d in -2, -1, 1, 2), or uniform random bits. Refused (false) when
 * nothing is selected or a comparison selects the same pairs (the token form spells that
 * predicate by its name, and a sample must be canonical), or a test cannot order the
 * values. */
static bool draw_pred_table(GenSampler *s, int keys, int queries, PtOp *sel) {
    const Var *kv = var(s, keys), *qv = var(s, queries);
    int nk = kv->nvals, nq = qv->nvals;
    if (nk < 1 || nq < 1 || nk * nq > PT_MAX_TABLE) return false;
    Value kd[GEN_MAX_VALS], qd[GEN_MAX_VALS];
    sorted_domain(kv, kd);
    sorted_domain(qv, qd);
    int shape = below(s, 3), test = below(s, 4), d = 1 + below(s, 2);
    if (below(s, 2)) d = -d;
    Value c = kd[below(s, nk)];
    int any = 0;
    for (int i = 0; i < nk; i++)
        for (int j = 0; j < nq; j++) {
            bool b, ok = true;
            if (shape == 0) {
                int o = test >= 2 ? val_pycmp(kd[i], c, &ok) : 0;
                b = test == 0 ? val_eq(kd[i], c) : test == 1 ? !val_eq(kd[i], c) : test == 2 ? o < 0 : o <= 0;
            } else if (shape == 1) {
                ok = kd[i].kind == VAL_INT && qd[j].kind == VAL_INT;
                b = ok && qd[j].u.i == kd[i].u.i + d;
            } else {
                b = below(s, 2);
            }
            if (!ok) return false;
            sel->tab[i * nq + j] = (int16_t)(b ? PT_VAL_TRUE : PT_VAL_FALSE);
            any += b;
        }
    if (!any) return false;
    sel->fn = PT_FN_TABLE;
    sel->ntab = (int16_t)(nk * nq);
    for (int p = PRED_EQ; p <= PRED_FALSE; p++) {
        RaspExpr cmp;
        memset(&cmp, 0, sizeof cmp);
        cmp.kind = EXPR_SELECT;
        cmp.pred = (Pred)p;
        bool same = true;
        for (int i = 0; i < nk * nq && same; i++) {
            bool b;
            char msg[160];
            same = rasp_select_pred(&cmp, kd[i / nq], qd[i % nq], &b, msg, sizeof msg) == 0 &&
                   b == (sel->tab[i] == PT_VAL_TRUE);
        }
        if (same) return false;
    }
    return true;
}

static int pick_pred(GenSampler *s, bool allow_true) {
    double w[8];
    memcpy(w, s->cfg.pred_weight, sizeof w);
    w[PRED_FALSE] = 0;
    if (!allow_true) w[PRED_TRUE] = 0;
    return weighted(s, w, 8);
}

/* A selector for op: reuse an existing Select, or describe a new one in *sel (keys,
 * queries, pred). Returns the existing row or -1 for a new one; -2 when none fits.
 * sop is the aggregated variable (NO_PICK for SelectorWidth). */
static int choose_select(GenSampler *s, int mode, int sop, PtOp *sel, int *need) {
    /* mode 0: any (not TRUE for categorical Aggregate: it would average), 1: SelectorWidth,
     * 2: keys = indices EQ (width <= 1), 3: keys = sop EQ (equal values) */
    bool allow_true =
        mode == 1 || (mode == 0 && sop != NO_PICK && var(s, sop)->op.enc == PT_ENC_NUM);
    if (mode <= 1 && unit(s) < s->cfg.p_reuse_select) {
        int c[PT_MAX_VARS], nc = 0;
        for (int i = 0; i < s->n; i++) {
            const PtOp *p = &s->vars[i].op;
            if (p->op != PT_OP_SELECT) continue;
            if (!allow_true && p->fn == PT_FN_PRED0 + PRED_TRUE) continue;
            c[nc++] = i;
        }
        if (nc > 0) {
            int i = c[below(s, nc)];
            *sel = s->vars[i].op;
            return i;
        }
    }
    Want w = {PT_ENC_CAT, 0, true, false, NO_PICK};
    int keys, queries, pred;
    if (mode == 2) {
        keys = PT_SRC_INDICES;
        pred = PRED_EQ;
        w.exclude = PT_SRC_INDICES;
        queries = pick(s, &w, need);
        if (queries == NO_PICK) return -2;
        /* Some query value must be a valid index, or the result is always None. */
        bool hit = false;
        Var *q = var(s, queries);
        for (int i = 0; i < q->nvals && !hit; i++)
            hit = val_is_number(q->vals[i]) && val_as_double(q->vals[i]) >= 0 &&
                  val_as_double(q->vals[i]) < s->set.max_seq_len;
        if (!hit) return -2;
    } else if (mode == 3) {
        keys = sop;
        pred = PRED_EQ;
        w.exclude = sop;
        queries = pick(s, &w, need);
        if (queries == NO_PICK || !vals_meet(var(s, sop), var(s, queries))) return -2;
    } else if (s->cfg.p_pred_table > 0 && unit(s) < s->cfg.p_pred_table) {
        keys = pick(s, &w, need);
        queries = pick(s, &w, need);
        if (keys == NO_PICK || queries == NO_PICK || !draw_pred_table(s, keys, queries, sel))
            return -2;
        pred = -1;
    } else {
        pred = pick_pred(s, allow_true);
        if (pred < 0) return -2;
        keys = pick(s, &w, need);
        queries = pick(s, &w, need);
        if (keys == NO_PICK || queries == NO_PICK) return -2;
        /* An order predicate between a string and a number raises TypeError in Python (and
         * in Tracr's compiler, which calls it on every key-query pair). */
        if (pred != PRED_EQ && pred != PRED_NEQ && pred != PRED_TRUE &&
            !orderable(var(s, keys)->vt, var(s, queries)->vt))
            return -2;
    }
    sel->op = PT_OP_SELECT;
    sel->enc = PT_ENC_NONE;
    if (pred >= 0) sel->fn = (int16_t)(PT_FN_PRED0 + pred), sel->ntab = 0;
    sel->arg[0] = (int16_t)keys;
    sel->arg[1] = (int16_t)queries;
    return find_op(s, sel);
}

/* A random table for a Map of the categorical variable x into op (fn, ntab, tab): one value
 * per element of x's value set, all ints 0..k-1, all bools, or all string tokens of the
 * vocabulary; *vt is their type. Refused (false) when it is constant or when a library entry
 * gives the same values on x's value set: program tokens spell that function by its
 * library name (pt_encode), and a sample must be in canonical form. */
static bool draw_table(GenSampler *s, PtOp *op, int x, unsigned *vt) {
    const Var *in = var(s, x);
    if (in->op.enc != PT_ENC_CAT || in->nvals < 2 || in->nvals > PT_MAX_TABLE) return false;
    int strs[GEN_MAX_VOCAB], nstr = 0;
    for (int i = 0; i < s->set.n_vocab; i++)
        if (s->svocab[i].kind == VAL_STR) strs[nstr++] = PT_VAL_TOK0 + i;
    int kind = below(s, nstr >= 2 ? 3 : 2);
    int k = kind == 0 ? 2 + below(s, in->nvals < 4 ? in->nvals - 1 : 3) : kind == 1 ? 2 : nstr;
    op->fn = PT_FN_TABLE;
    op->ntab = (int16_t)in->nvals;
    int first = -1;
    bool varies = false;
    for (int i = 0; i < in->nvals; i++) {
        int r = below(s, k);
        int t = kind == 0   ? PT_VAL_INT0 + (r - PT_VAL_INT_MIN)
                : kind == 1 ? (r ? PT_VAL_TRUE : PT_VAL_FALSE)
                            : strs[r];
        op->tab[i] = (int16_t)t;
        if (first < 0) first = t;
        varies |= t != first;
    }
    if (!varies) return false;
    *vt = kind == 0 ? GEN_VT_INT : kind == 1 ? GEN_VT_BOOL : GEN_VT_STR;
    Value dom[GEN_MAX_VALS]; /* the table's keys */
    int nd = in->nvals;
    sorted_domain(in, dom);
    for (int l = 0; l < gen_lib_count(); l++) {
        if (gen_lib_get(l)->kind != GEN_FN_MAP) continue;
        bool same = true;
        for (int i = 0; i < nd && same; i++) {
            Value r, want;
            pt_token_value(op->tab[i], s->svocab, s->set.n_vocab, &want);
            same =
                gen_lib_call(l, &dom[i], &r) == PYERR_OK && r.kind == want.kind && val_eq(r, want);
        }
        if (same) return false;
    }
    return true;
}

/* The Map op (a library entry or a table) applied to x, a value of its input variable in.
 * A table lists its values in the compiler's order of in's value set, so x's position is
 * the number of values before it in that order. */
static PyErr map_call(GenSampler *s, const PtOp *op, const Var *in, Value x, Value *r) {
    if (op->fn != PT_FN_TABLE) return gen_lib_call(pt_fn_lib(op->fn), &x, r);
    int at = 0;
    for (int i = 0; i < in->nvals; i++) at += val_dir_cmp("x", in->vals[i], x) < 0;
    if (at >= op->ntab || pt_token_value(op->tab[at], s->svocab, s->set.n_vocab, r))
        return PYERR_VALUE;
    return PYERR_OK;
}

/* Fills the candidate SOp v (v->op set by the caller: a library entry, or a table with
 * range `table_vt`) or returns false. */
static bool build_map(GenSampler *s, Var *v, int x, unsigned table_vt) {
    const GenConfig *c = &s->cfg;
    Var *in = var(s, x);
    bool in_num = in->op.enc == PT_ENC_NUM, out_num = v->op.enc == PT_ENC_NUM;
    const GenFn *f = v->op.fn == PT_FN_TABLE ? NULL : gen_lib_get(pt_fn_lib(v->op.fn));
    unsigned mode =
        in_num ? (out_num ? GEN_MODE_NN : GEN_MODE_NC) : (out_num ? GEN_MODE_CN : GEN_MODE_CC);
    if (!((f ? f->modes : (unsigned)(GEN_MODE_CC | GEN_MODE_CN)) & mode)) return false;
    if (out_num && !in_num && in->may_none) return false;
    /* The map of a map must not undo it (not(not x), x+1-1). */
    const Var *inner = x >= 0 && in->op.op == PT_OP_MAP ? var(s, in->op.arg[0]) : NULL;
    int defined = 0;
    bool changed = false;
    v->nvals = 0;
    for (int i = 0; i < in->nvals; i++) {
        Value r;
        PyErr e = map_call(s, &v->op, in, in->vals[i], &r);
        if (e == PYERR_ARITH && in_num) continue;
        if (e != PYERR_OK) return false; /* a categorical MLP would crash on it */
        if (r.kind == VAL_NONE) continue;
        defined++;
        if (!val_eq(r, in->vals[i])) changed = true;
        if (mode == GEN_MODE_CN && !(val_is_number(r) && val_as_double(r) >= 0)) return false;
        if (vals_add(v->vals, &v->nvals, GEN_MAX_VALS, r) != 0) return false;
    }
    if (v->nvals < 2 || !changed) return false;
    if (!out_num && v->nvals > c->max_values) return false;
    if (inner) {
        bool undone = true;
        for (int i = 0; i < inner->nvals && undone; i++) {
            Value g, r;
            if (map_call(s, &in->op, inner, inner->vals[i], &g) != PYERR_OK || g.kind == VAL_NONE)
                continue;
            if (map_call(s, &v->op, in, g, &r) != PYERR_OK || !val_eq(r, inner->vals[i]))
                undone = false;
        }
        if (undone) return false;
    }
    v->hidden = mode == GEN_MODE_CC ? v->nvals : mode == GEN_MODE_CN ? 1 : 1 + 2 * (defined - 1);
    v->vt = f ? f->range : table_vt;
    v->exact = true;
    v->may_none = in->may_none;
    return v->hidden <= c->max_mlp_width;
}

static bool build_pair(GenSampler *s, Var *v, int x, int y, int fn, bool linear) {
    const GenConfig *c = &s->cfg;
    Var *a = var(s, x), *b = var(s, y);
    if (!linear && a->nvals * b->nvals > c->max_mlp_width) return false;
    bool diff_x = false, diff_y = false;
    v->nvals = 0;
    for (int i = 0; i < a->nvals; i++)
        for (int j = 0; j < b->nvals; j++) {
            Value args[2] = {a->vals[i], b->vals[j]}, r;
            PyErr e = gen_lib_call(fn, args, &r);
            if (e != PYERR_OK) return false;
            if (r.kind == VAL_NONE) continue;
            diff_x |= !val_eq(r, args[0]);
            diff_y |= !val_eq(r, args[1]);
            if (vals_add(v->vals, &v->nvals, GEN_MAX_VALS, r) != 0) return false;
        }
    if (v->nvals < 2 || !diff_x || !diff_y) return false;
    v->may_none = a->may_none || b->may_none;
    if (linear) {
        v->hidden = 4;
        bool ints = !((a->vt | b->vt) & ~(unsigned)(GEN_VT_INT | GEN_VT_BOOL));
        v->exact = a->exact && b->exact && ints;
        v->vt = v->exact ? GEN_VT_INT : GEN_VT_REAL;
    } else {
        if (v->nvals > c->max_values) return false;
        v->hidden = a->nvals * b->nvals;
        v->vt = gen_lib_get(fn)->range;
        v->exact = true;
    }
    return true;
}

/* One operation being drawn by try_op: the candidate SOp, the variables it consumes and its
 * Select. */
typedef struct Draft {
    Var cand;
    int args[4], nargs;
    int left;      /* unused variables still to consume (pick counts them down) */
    PtOp sel;      /* the Select of an Aggregate or SelectorWidth */
    int sel_row;   /* existing Select row, or -1 for a new one, -3 for none */
    bool want_num; /* drawn once per try: a numerical output */
} Draft;

static bool draft_map(GenSampler *s, Draft *d) {
    const GenConfig *c = &s->cfg;
    Var *cand = &d->cand;
    /* (no variable has a string type in an integer setting, so the candidates, and the
     * random numbers drawn, are those of the library-only sampler there) */
    Want w = {0, GEN_VT_INT | GEN_VT_BOOL | GEN_VT_FRAC | GEN_VT_STR | GEN_VT_MIXED, false, false,
              NO_PICK};
    int x = pick(s, &w, &d->left);
    if (x == NO_PICK) return false;
    unsigned vt = var(s, x)->vt;
    cand->op.op = PT_OP_MAP;
    cand->op.enc = d->want_num ? PT_ENC_NUM : PT_ENC_CAT;
    cand->op.arg[0] = (int16_t)x;
    bool table = vt == GEN_VT_STR || vt == GEN_VT_MIXED ||
                 (c->p_table > 0 && var(s, x)->op.enc == PT_ENC_CAT && unit(s) < c->p_table);
    if (table) {
        unsigned tvt;
        if (!draw_table(s, &cand->op, x, &tvt) || !build_map(s, cand, x, tvt)) return false;
        d->args[d->nargs++] = x;
        d->sel_row = -3;
        return true;
    }
    int t = vt == GEN_VT_INT ? 0 : vt == GEN_VT_BOOL ? 1 : 2;
    if (s->n_maps[t] == 0) return false;
    int fn = s->maps[t][below(s, s->n_maps[t])];
    cand->op.fn = (int16_t)pt_fn_of_lib(fn);
    if (!build_map(s, cand, x, 0)) return false;
    d->args[d->nargs++] = x;
    d->sel_row = -3;
    return true;
}

static bool draft_pair(GenSampler *s, Draft *d, bool lin) {
    const GenConfig *c = &s->cfg;
    Var *cand = &d->cand;
    if (lin && c->categorical_only) return false;
    int fn = lin ? s->lins[below(s, s->n_lins)] : s->seqs[below(s, s->n_seqs)];
    Want w = {lin ? PT_ENC_NUM : PT_ENC_CAT, lin ? 0 : gen_lib_get(fn)->dom, false, false, NO_PICK};
    int x = pick(s, &w, &d->left);
    if (x == NO_PICK) return false;
    w.exclude = x;
    int y = pick(s, &w, &d->left);
    if (y == NO_PICK) return false;
    cand->op.op = lin ? PT_OP_LINSEQMAP : PT_OP_SEQMAP;
    cand->op.enc = lin ? PT_ENC_NUM : PT_ENC_CAT;
    cand->op.fn = (int16_t)pt_fn_of_lib(fn);
    cand->op.arg[0] = (int16_t)x;
    cand->op.arg[1] = (int16_t)y;
    if (!build_pair(s, cand, x, y, fn, lin)) return false;
    d->args[d->nargs++] = x;
    d->args[d->nargs++] = y;
    d->sel_row = -3;
    return true;
}

static bool draft_aggregate(GenSampler *s, Draft *d, int need) {
    Var *cand = &d->cand;
    int sop = NO_PICK;
    if (d->want_num) {
        Want w = {PT_ENC_NUM, 0, true, true, NO_PICK};
        sop = pick(s, &w, &d->left);
    }
    if (sop != NO_PICK) {
        d->sel_row = choose_select(s, 0, sop, &d->sel, &d->left);
    } else {
        Want w = {PT_ENC_CAT, 0, false, false, NO_PICK};
        d->left = need;
        sop = pick(s, &w, &d->left);
        if (sop == NO_PICK) return false;
        double r = unit(s);
        int mode = r < 0.5 || var(s, sop)->may_none ? 2 : r < 0.8 ? 3 : 0;
        d->sel_row = choose_select(s, mode, sop, &d->sel, &d->left);
    }
    if (d->sel_row == -2) return false;
    Var *x = var(s, sop);
    /* Aggregating with Select(indices, indices, EQ) or Select(x, x, EQ) over x copies x. */
    if (d->sel.fn == PT_FN_PRED0 + PRED_EQ && d->sel.arg[0] == d->sel.arg[1] &&
        (d->sel.arg[0] == PT_SRC_INDICES || d->sel.arg[0] == sop))
        return false;
    cand->op.op = PT_OP_AGGREGATE;
    cand->op.enc = x->op.enc;
    cand->op.arg[1] = (int16_t)sop;
    d->args[d->nargs++] = sop;
    if (x->op.enc == PT_ENC_NUM) {
        cand->vt = GEN_VT_FRAC;
        cand->exact = false;
        cand->may_none = false;
        cand->nvals = 0;
        for (int i = 0; i < x->nvals; i++)
            for (int l = 1; l <= s->set.max_seq_len; l++)
                if (vals_add(cand->vals, &cand->nvals, GEN_MAX_VALS,
                             val_float(val_as_double(x->vals[i]) / l)) != 0)
                    return false;
    } else {
        cand->vt = x->vt;
        cand->exact = x->exact;
        cand->may_none = true;
        cand->nvals = x->nvals;
        memcpy(cand->vals, x->vals, sizeof(Value) * (size_t)x->nvals);
    }
    return true;
}

static bool draft_selwidth(GenSampler *s, Draft *d) {
    Var *cand = &d->cand;
    d->sel_row = choose_select(s, 1, NO_PICK, &d->sel, &d->left);
    if (d->sel_row == -2) return false;
    /* Select(indices, indices, EQ) always has width 1. */
    if (d->sel.fn == PT_FN_PRED0 + PRED_EQ && d->sel.arg[0] == PT_SRC_INDICES &&
        d->sel.arg[1] == PT_SRC_INDICES)
        return false;
    cand->op.op = PT_OP_SELWIDTH;
    cand->op.enc = d->want_num ? PT_ENC_NUM : PT_ENC_CAT;
    cand->vt = GEN_VT_INT;
    cand->exact = true;
    cand->may_none = false;
    cand->hidden = 2 * s->set.max_seq_len + 1;
    cand->nvals = s->set.max_seq_len + 1;
    for (int i = 0; i <= s->set.max_seq_len; i++) cand->vals[i] = val_int(i);
    return true;
}

/* Appends a drafted operation (and its new Select, if any) unless it consumes fewer than need
 * unused variables or repeats an existing row. */
static bool commit_draft(GenSampler *s, Draft *d, int need) {
    Var *cand = &d->cand;
    bool new_sel = d->sel_row == -1;
    if (new_sel) {
        d->args[d->nargs++] = d->sel.arg[0];
        d->args[d->nargs++] = d->sel.arg[1];
    }
    if (consumed(s, d->args, d->nargs) < need) return false;
    /* Commit: the new Select first, then the SOp. */
    if (d->sel_row != -3) {
        int sel_row = d->sel_row;
        if (new_sel) {
            Var *sv = &s->vars[s->n];
            memset(sv, 0, sizeof *sv);
            sv->op = d->sel;
            sv->uses = 0;
            sel_row = s->n++;
        }
        cand->op.arg[0] = (int16_t)sel_row;
        if (find_op(s, &cand->op) >= 0) {
            if (new_sel) s->n--;
            return false;
        }
        s->vars[sel_row].uses++;
        if (new_sel)
            for (int j = 0; j < 2; j++) {
                Var *kv = var(s, d->sel.arg[j]);
                if (j == 0 || d->sel.arg[1] != d->sel.arg[0]) kv->uses++;
            }
        if (cand->op.arg[1] != PT_SRC_NONE) var(s, cand->op.arg[1])->uses++;
    } else {
        if (find_op(s, &cand->op) >= 0) return false;
        var(s, cand->op.arg[0])->uses++;
        if (cand->op.arg[1] != PT_SRC_NONE && cand->op.arg[1] != cand->op.arg[0])
            var(s, cand->op.arg[1])->uses++;
    }
    cand->tok = false;
    for (int j = 0; j < 2; j++) {
        int a = cand->op.arg[j];
        if (a == PT_SRC_NONE) continue;
        Var *av = var(s, a);
        if (av->op.op == PT_OP_SELECT)
            cand->tok |= var(s, av->op.arg[0])->tok || var(s, av->op.arg[1])->tok;
        else cand->tok |= av->tok;
    }
    s->vars[s->n++] = *cand;
    return true;
}

/* Tries one operation of kind k that consumes at least need unused variables; on success
 * appends it (and its new Select, if any). */
static bool try_op(GenSampler *s, int k, int need) {
    const GenConfig *c = &s->cfg;
    if (s->n + 2 > PT_MAX_VARS) return false;
    Draft d;
    memset(&d.cand.op, 0, sizeof d.cand.op);
    d.cand.op.arg[0] = d.cand.op.arg[1] = PT_SRC_NONE;
    d.cand.op.fn = PT_FN_NONE;
    d.cand.uses = 0;
    d.cand.hidden = 0;
    d.nargs = 0;
    d.left = need;
    d.sel_row = -1;
    d.want_num = !c->categorical_only && unit(s) < c->p_numerical;
    bool ok;
    switch (k) {
    case GEN_K_MAP: ok = draft_map(s, &d); break;
    case GEN_K_SEQMAP:
    case GEN_K_LINSEQMAP: ok = draft_pair(s, &d, k == GEN_K_LINSEQMAP); break;
    case GEN_K_AGGREGATE: ok = draft_aggregate(s, &d, need); break;
    case GEN_K_SELWIDTH: ok = draft_selwidth(s, &d); break;
    default: ok = false;
    }
    return ok && commit_draft(s, &d, need);
}

/* ---- sizes and the finished sample --------------------------------------------------- */

static int finish(GenSampler *s, GenSample *out, int n_sops) {
    const GenConfig *c = &s->cfg;
    int n = s->n;
    PtOp ops[PT_MAX_VARS];
    memset(ops, 0, sizeof ops);
    for (int i = 0; i < n; i++) ops[i] = s->vars[i].op;
    int sub[PT_MAX_VARS], mlp_layer[PT_MAX_VARS];
    int layers = pt_layer_alloc(ops, n, sub, mlp_layer);
    if (layers > c->max_layers) {
        s->rej[GEN_R_LAYERS]++;
        return 1;
    }
    int width[PT_MAX_VARS + 1] = {0}, has_sw[PT_MAX_VARS + 1] = {0}, mlp = 0;
    bool one = false;
    int resid = s->set.n_vocab + 2 + s->set.max_seq_len;
    for (int i = 0; i < n; i++) {
        const Var *v = &s->vars[i];
        if (v->op.op == PT_OP_SELECT) continue;
        int l = mlp_layer[i];
        if (l >= 0 && l <= PT_MAX_VARS) {
            width[l] += v->hidden;
            if (v->op.op == PT_OP_SELWIDTH) has_sw[l] = 1;
        }
        resid += v->op.enc == PT_ENC_NUM ? 1 : v->nvals;
        if (v->op.op == PT_OP_SELWIDTH) resid++;
        if (v->op.op == PT_OP_AGGREGATE || v->op.op == PT_OP_SELWIDTH || v->op.op == PT_OP_SEQMAP ||
            (v->op.op == PT_OP_MAP && var(s, v->op.arg[0])->op.enc == PT_ENC_NUM))
            one = true;
    }
    resid += one;
    /* Tracr's key_size is the widest head's max(|queries| + 2, |keys| + 1); a categorical
     * Aggregate whose value set is wider than that breaks its assembly. */
    int key_size = 1, widest_out = 0;
    for (int i = 0; i < n; i++) {
        const Var *v = &s->vars[i];
        if (v->op.op != PT_OP_AGGREGATE && v->op.op != PT_OP_SELWIDTH) continue;
        const PtOp *sel = &s->vars[v->op.arg[0]].op;
        int q = var(s, sel->arg[1])->nvals + 2, k = var(s, sel->arg[0])->nvals + 1;
        if (q > key_size) key_size = q;
        if (k > key_size) key_size = k;
        if (v->op.op == PT_OP_AGGREGATE && v->op.enc == PT_ENC_CAT && v->nvals > widest_out)
            widest_out = v->nvals;
    }
    if (widest_out > key_size) {
        s->rej[GEN_R_HEAD]++;
        return 1;
    }
    if (!s->vars[n - 1].tok) {
        s->rej[GEN_R_NO_TOKENS]++;
        return 1;
    }
    /* Tracr's mlp_hidden_size is at least 1, even without any MLP. */
    mlp = 1;
    for (int l = 0; l <= PT_MAX_VARS; l++)
        if (width[l] + has_sw[l] > mlp) mlp = width[l] + has_sw[l];
    if (mlp > c->max_mlp_width) {
        s->rej[GEN_R_MLP]++;
        return 1;
    }
    if (resid > c->max_residual) {
        s->rej[GEN_R_RESIDUAL]++;
        return 1;
    }
    char err[200];
    if (pt_canonicalize(ops, n, n - 1, out->rows, &out->n_rows, err, sizeof err) != 0) return 1;
    if (!pt_tables_fit(out->rows, out->n_rows)) {
        s->rej[GEN_R_TABLES]++;
        return 1;
    }
    pt_ops_to_tokens(out->rows, out->n_rows, out->tokens);
    out->n_sops = n_sops;
    out->residual = resid;
    out->layers = layers;
    out->mlp_width = mlp;
    out->key_size = key_size;
    out->setting = s->set;
    return 0;
}

int gen_sample(GenSampler *s, uint64_t seed, GenSample *out) {
    const GenConfig *c = &s->cfg;
    s->rng = seed;
    draw_setting(s);
    int n_sops = c->min_ops + below(s, c->max_ops - c->min_ops + 1);
    double w[GEN_K_COUNT];
    memcpy(w, c->op_weight, sizeof w);
    if (c->categorical_only) w[GEN_K_LINSEQMAP] = 0;
    for (int attempt = 0; attempt < c->max_tries; attempt++) {
        s->n = 0;
        s->base[0].uses = s->base[1].uses = 0;
        bool ok = true;
        for (int i = 0; i < n_sops && ok; i++) {
            int dang = 0;
            for (int j = 0; j < s->n; j++) dang += dangling(s, j);
            int rem_after = n_sops - 1 - i;
            int need = dang - rem_after > 0 ? dang - rem_after : 0;
            bool placed = false;
            for (int t = 0; t < STEP_TRIES && !placed; t++) {
                int k = weighted(s, w, GEN_K_COUNT);
                placed = k >= 0 && try_op(s, k, need);
            }
            if (!placed) {
                s->rej[GEN_R_STUCK]++;
                ok = false;
            }
        }
        if (ok && finish(s, out, n_sops) == 0) return 0;
    }
    return 1;
}
