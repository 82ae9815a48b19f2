/* Decoding constraint (meta.h). The row rules mirror pt_tokens_to_ops/check_row in
 * gen/program_tokens.c and, with a context, the checks of rasp_validate_compilable on the
 * model's own vocabulary; tests/test_train.c and tests/test_constrain_vocab.c check with
 * random walks that every sequence the constraint lets through decodes (and compiles). */
#include "meta/meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/model.h"
#include "gen/lambda_lib.h"
#include "gen/program_tokens.h"
#include "rasp/rasp.h"

/* What the decoder knows about the rows written so far. */
typedef struct State {
    int n;                   /* complete rows */
    PtOp rows[PT_MAX_VARS];  /* their fields (ids as in the table; args as PtOp codes) */
    int is_sel[PT_MAX_VARS]; /* row k is a Select */
    int enc[PT_MAX_VARS];    /* row k's enc id */
    int used[PT_MAX_VARS];   /* row k is an argument of a later row */
    int s, k;                /* unused Selects, unused SOps */
    int cells;               /* table cells the tables so far take (values + END each) */
    int tokens_used;         /* some row reads tokens */
    /* with a context: value sets of the rows (and of tokens, indices) */
    const PcContext *ctx;
    int tables; /* table tokens may be used (a context, a model that has them) */
    int have_sets;
    ValueSet sets[PT_MAX_VARS + 2]; /* [row], then tokens, indices */
} State;

static const ValueSet *set_of(const State *st, int a) {
    if (a == PT_ARG_TOKENS) return &st->sets[PT_MAX_VARS];
    if (a == PT_ARG_INDICES) return &st->sets[PT_MAX_VARS + 1];
    return &st->sets[a - PT_ARG_V1];
}

/* Caps that keep a decoded model within itracr's size limit: the values of a
 * LinearSequenceMap (the product of its inputs' value sets bounds them; a discretising MLP
 * reading it has two units per value) and the input pairs of a categorical SequenceMap. */
#define PC_MAX_LINEAR_VALUES 512
#define PC_MAX_PAIRS 4096

/* Rows needed at most to consume s unused Selects and k unused SOps so that one unused SOp
 * (the output) is left: each Select takes one row (Aggregate with an unused SOp, or a
 * SelectorWidth when there is none); merging two SOps takes one row (SequenceMap of two
 * categorical, LinearSequenceMap of two numerical) or two (a numerical Map of the
 * categorical one first). */
static int rows_needed(int s, int k) {
    if (s == 0 && k == 0) return 1;
    int kk = k > 0 ? k : 1;
    return s + 2 * (kk - 1);
}

/* The same on a vocabulary, where a library function need not apply to the values, with
 * kc categorical and kn numerical unused SOps. A plan of moves that are always valid there:
 * a Select's categorical SelectorWidth (s - 1, kc + 1), a numerical SOp mapped with gt0,
 * defined on every number (kn - 1, kc + 1), two categorical SOps merged by Select(a, b, EQ),
 * which compares anything (kc - 2, s + 1). Each move lowers the count by one, so a program
 * within it can always be finished. (A LinearSequenceMap merge would be cheaper but is not
 * always valid: its value set is the product of its inputs', which itracr caps.) */
static int rows_needed_ctx(int s, int kc, int kn) {
    if (s == 0 && kc + kn == 0) return 1;
    if (s == 0 && kc + kn == 1) return 0;
    return s + kn + 2 * (kc + kn + s - 1);
}

static int fn_kind_ok(const State *st, int op, int fn) {
    if (fn < 0) return 1; /* not chosen yet: every op has at least one valid fn */
    switch (op) {
    case PT_OP_MAP:
    case PT_OP_SEQMAP:
    case PT_OP_LINSEQMAP: {
        if (fn == PT_FN_TABLE) return op != PT_OP_LINSEQMAP && st->tables && st->have_sets;
        const GenFn *e = gen_lib_get(pt_fn_lib(fn));
        GenFnKind want = op == PT_OP_MAP      ? GEN_FN_MAP
                         : op == PT_OP_SEQMAP ? GEN_FN_SEQMAP
                                              : GEN_FN_LINEAR;
        return e && e->kind == want;
    }
    case PT_OP_SELECT:
        return (fn >= PT_FN_PRED0 && fn < PT_FN_LIB0) ||
               (fn == PT_FN_TABLE && st->tables && st->have_sets);
    default: return fn == PT_FN_NONE;
    }
}

/* Argument a (a1/a2 column id): 0 none, 1 an SOp of encoding *enc, 2 a Select; -1 invalid. */
static int arg_kind(const State *st, int a, int *enc) {
    if (a == PT_ARG_NONE) return 0;
    if (a == PT_ARG_TOKENS || a == PT_ARG_INDICES) {
        *enc = PT_ENC_CAT;
        return 1;
    }
    int v = a - PT_ARG_V1;
    if (v < 0 || v >= st->n) return -1;
    *enc = st->enc[v];
    return st->is_sel[v] ? 2 : 1;
}

/* ---- the checks on the model's vocabulary (a context) -------------------------------- */

/* Tracr's compiler calls a categorical Map on every value of its input (any exception
 * fails it; a numerical Map needs numbers) and a discretising MLP on every value of a
 * numerical input (arithmetic errors skipped; some value must be defined). */
static int map_fn_ok(const State *st, int enc, int fn, int a1) {
    int ein = 0;
    arg_kind(st, a1, &ein);
    const ValueSet *in = set_of(st, a1);
    int lib = pt_fn_lib(fn), defined = 0;
    for (size_t i = 0; i < in->n; i++) {
        Value r;
        PyErr e = gen_lib_call(lib, &in->items[i], &r);
        if (ein == PT_ENC_NUM && (e == PYERR_ARITH || (e == PYERR_OK && r.kind == VAL_NONE)))
            continue;
        if (e != PYERR_OK) return 0;
        defined++;
        if (enc == PT_ENC_NUM && !val_is_number(r)) return 0;
    }
    return ein == PT_ENC_CAT || defined > 0;
}

static int seqmap_fn_ok(const State *st, int fn, int a1, int a2) {
    const ValueSet *x = set_of(st, a1), *y = set_of(st, a2);
    if (x->n * y->n > PC_MAX_PAIRS) return 0; /* its MLP has a unit per pair */
    int lib = pt_fn_lib(fn);
    /* every pair, even of one SOp with itself: Tracr's value-set inference takes the product */
    for (size_t i = 0; i < x->n; i++)
        for (size_t j = 0; j < y->n; j++) {
            Value args[2] = {x->items[i], y->items[j]}, r;
            if (gen_lib_call(lib, args, &r) != PYERR_OK) return 0;
        }
    return 1;
}

/* Values of a table over the input(s) of a row (0 when it has no table): a Map's input, a
 * SequenceMap's pairs, a Select's (key, query) pairs. */
static int table_len(const State *st, int op, int a1, int a2) {
    size_t n = op == PT_OP_MAP ? set_of(st, a1)->n : set_of(st, a1)->n * set_of(st, a2)->n;
    return n >= 1 && n <= PT_MAX_TABLE ? (int)n : 0;
}

static int arg_of_code(int code) {
    return code == PT_SRC_TOKENS    ? PT_ARG_TOKENS
           : code == PT_SRC_INDICES ? PT_ARG_INDICES
                                    : PT_ARG_V1 + code;
}

/* Tracr's key_size of the head of a Select of keys k and queries q: max(|q| + 2, |k| + 1). */
static size_t head_key_size(const State *st, int k, int q) {
    size_t a = set_of(st, q)->n + 2, b = set_of(st, k)->n + 1;
    return a > b ? a : b;
}

/* Does the program (with the row op(a1, a2) added) hold a categorical Aggregate wider than
 * the key_size of its heads? Every Select becomes a head (only Aggregate and SelectorWidth
 * consume one, and no row may stay unused), so the Selects so far give key_size's lower
 * bound, and a Select(x, x, EQ) of the aggregated SOp (and its SelectorWidth) always fixes
 * a debt. */
static int width_debt(const State *st, int op, int enc, int a1, int a2) {
    if (!st->ctx || !st->have_sets) return 0;
    size_t ks = 1, widest = 0;
    for (int r = 0; r <= st->n; r++) {
        int rop = r < st->n ? st->rows[r].op : op;
        int renc = r < st->n ? st->rows[r].enc : enc;
        int x1 = r < st->n ? arg_of_code(st->rows[r].arg[0]) : a1;
        int x2 = r < st->n ? arg_of_code(st->rows[r].arg[1]) : a2;
        if (rop == PT_OP_SELECT) {
            size_t k = head_key_size(st, x1, x2);
            if (k > ks) ks = k;
        } else if (rop == PT_OP_AGGREGATE && renc == PT_ENC_CAT && set_of(st, x2)->n > widest) {
            widest = set_of(st, x2)->n;
        }
    }
    return widest > ks;
}

static int values_ok(const State *st, int op, int enc, int fn, int a1, int a2) {
    int e1 = 0, e2 = 0;
    arg_kind(st, a1, &e1);
    arg_kind(st, a2, &e2);
    switch (op) {
    case PT_OP_MAP:
        if (fn == PT_FN_TABLE) return e1 == PT_ENC_CAT && table_len(st, op, a1, a2) > 0;
        return map_fn_ok(st, enc, fn, a1);
    case PT_OP_SEQMAP:
        if (fn == PT_FN_TABLE) return table_len(st, op, a1, a2) > 0;
        return seqmap_fn_ok(st, fn, a1, a2);
    case PT_OP_LINSEQMAP: /* its value set is the product's: kept small, for the model's size */
        return set_of(st, a1)->n * set_of(st, a2)->n <= PC_MAX_LINEAR_VALUES;
    case PT_OP_SELECT: {
        if (fn == PT_FN_TABLE) return table_len(st, op, a1, a2) > 0;
        int p = fn - PT_FN_PRED0;
        if (p == PRED_EQ || p == PRED_NEQ || p == PRED_TRUE || p == PRED_FALSE) return 1;
        const ValueSet *k = set_of(st, a1), *q = set_of(st, a2);
        for (size_t i = 0; i < k->n; i++)
            for (size_t j = 0; j < q->n; j++) {
                bool ok;
                val_pycmp(k->items[i], q->items[j], &ok);
                if (!ok) return 0;
            }
        return 1;
    }
    case PT_OP_AGGREGATE: {
        const ValueSet *x = set_of(st, a2);
        if (enc == PT_ENC_NUM) {
            for (size_t i = 0; i < x->n; i++)
                if (!val_eq(x->items[i], val_int(0)) && !val_eq(x->items[i], val_int(1))) return 0;
            return 1;
        }
        /* The head's output width must fit the model's key_size (Tracr's assembly), but
         * key_size grows with later heads, so that is checked on the finished program. */
        (void)x;
        return 1;
    }
    default: return 1;
    }
}

/* pt_tokens_to_ops' rules for one row (fn < 0: any), and with a context the vocabulary's. */
static int row_ok(const State *st, int op, int enc, int fn, int a1, int a2) {
    int e1 = 0, e2 = 0;
    int k1 = arg_kind(st, a1, &e1), k2 = arg_kind(st, a2, &e2);
    if (k1 < 0 || k2 < 0) return 0;
    if (op == PT_OP_SELECT ? enc != PT_ENC_NONE : (enc != PT_ENC_CAT && enc != PT_ENC_NUM))
        return 0;
    if (!fn_kind_ok(st, op, fn)) return 0;
    int ok;
    switch (op) {
    case PT_OP_MAP: ok = k1 == 1 && k2 == 0; break;
    case PT_OP_SEQMAP:
        ok = enc == PT_ENC_CAT && k1 == 1 && e1 == PT_ENC_CAT && k2 == 1 && e2 == PT_ENC_CAT;
        break;
    case PT_OP_LINSEQMAP:
        ok = enc == PT_ENC_NUM && k1 == 1 && e1 == PT_ENC_NUM && k2 == 1 && e2 == PT_ENC_NUM;
        break;
    case PT_OP_SELECT: ok = k1 == 1 && e1 == PT_ENC_CAT && k2 == 1 && e2 == PT_ENC_CAT; break;
    case PT_OP_AGGREGATE: ok = k1 == 2 && k2 == 1 && e2 == enc; break;
    case PT_OP_SELWIDTH: ok = k1 == 2 && k2 == 0; break;
    default: ok = 0;
    }
    if (!ok || fn < 0 || !st->ctx || !st->have_sets) return ok;
    return values_ok(st, op, enc, fn, a1, a2);
}

/* After adding the row (and its table), can the remaining rows still finish the program
 * within the table's cells? */
static int row_feasible(const State *st, int op, int enc, int fn, int a1, int a2) {
    int s = st->s, k = st->k;
    int v1 = a1 - PT_ARG_V1, v2 = a2 - PT_ARG_V1;
    if (v1 >= 0 && !st->used[v1]) {
        if (st->is_sel[v1]) s--;
        else k--;
    }
    if (v2 >= 0 && v2 != v1 && !st->used[v2]) {
        if (st->is_sel[v2]) s--;
        else k--;
    }
    if (op == PT_OP_SELECT) s++;
    else k++;
    int cells = st->cells + (fn == PT_FN_TABLE ? table_len(st, op, a1, a2) + 1 : 0);
    int need;
    if (st->ctx) {
        int kc = 0, kn = 0;
        for (int r = 0; r <= st->n; r++) {
            int sel = r < st->n ? st->is_sel[r] : op == PT_OP_SELECT;
            int e = r < st->n ? st->enc[r] : enc;
            int unused = r == st->n || (!st->used[r] && r != v1 && r != v2);
            if (!sel && unused) {
                kc += e != PT_ENC_NUM;
                kn += e == PT_ENC_NUM;
            }
        }
        need = rows_needed_ctx(s, kc, kn);
        /* a Select(x, x, EQ) of a too wide Aggregate's SOp, its SelectorWidth and a merge */
        if (width_debt(st, op, enc, a1, a2)) need += 3;
    } else {
        need = rows_needed(s, k);
    }
    /* a program must read tokens: a Select of tokens, its SelectorWidth and a merge */
    if (!st->tokens_used && a1 != PT_ARG_TOKENS && a2 != PT_ARG_TOKENS) need += st->ctx ? 3 : 2;
    return (st->n + 1 + need + 2) * PT_COLS + cells <= PT_ROWS * PT_COLS;
}

/* Candidate ids of a column (a1/a2: only "-", tokens, indices and defined variables). */
static int col_lo(int c) { return c == PT_COL_OP ? PT_OP_MAP : 3; }
static int col_hi(const State *st, int c) {
    if (c == PT_COL_A1 || c == PT_COL_A2) return PT_ARG_V1 + st->n;
    if (c == PT_COL_OP) return PT_OP_SELWIDTH + 1;
    if (c == PT_COL_ENC) return PT_ENC_NONE + 1;
    return pt_vocab_size(c);
}

/* Is there a completion of the row whose fields f[0..c) are fixed? */
static int completable(const State *st, int *f, int c) {
    if (c >= PT_COL_OUT) {
        if (!row_ok(st, f[0], f[1], f[2], f[3], f[4])) return 0;
        return row_feasible(st, f[0], f[1], f[2], f[3], f[4]);
    }
    /* Without a context fn is not enumerated: every op has a valid one, and which one does
     * not matter for the arguments. */
    if (c == PT_COL_FN && !st->ctx) return completable(st, f, c + 1);
    int lo = col_lo(c), hi = col_hi(st, c);
    for (int v = lo; v < hi; v++) {
        f[c] = v;
        int ok = 1;
        if (c == PT_COL_ENC && (f[0] == PT_OP_SELECT) != (v == PT_ENC_NONE)) ok = 0;
        if (ok && c == PT_COL_FN && !fn_kind_ok(st, f[0], v)) ok = 0;
        if (ok && completable(st, f, c + 1)) {
            f[c] = -1;
            return 1;
        }
    }
    f[c] = -1;
    return 0;
}

/* The value sets of the rows so far, on the context's vocabulary. */
static void compute_sets(State *st) {
    const PcContext *ctx = st->ctx;
    for (int i = 0; i < PT_MAX_VARS + 2; i++) valset_init(&st->sets[i]);
    for (int i = 0; i < ctx->n_vocab; i++) valset_add(&st->sets[PT_MAX_VARS], ctx->vocab[i]);
    for (int i = 0; i < ctx->max_seq_len; i++) valset_add(&st->sets[PT_MAX_VARS + 1], val_int(i));
    st->have_sets = 1;
    if (st->n == 0) return;
    RaspProgram p;
    char err[300];
    if (pt_build_program(st->rows, st->n, ctx->vocab, ctx->n_vocab, ctx->max_seq_len, &p, err,
                         sizeof err)) {
        st->have_sets = 0;
        return;
    }
    ValueSet *sets = malloc(sizeof(ValueSet) * (size_t)p.n_exprs);
    for (int x = 0; sets && x < p.n_exprs; x++) {
        const char *l = p.exprs[x].label;
        int k = l && l[0] == 'v' ? atoi(l + 1) - 1 : -1;
        if (k < 0 || k >= st->n || st->is_sel[k]) continue;
        p.output = x;
        if (rasp_infer_value_sets(&p, ctx->vocab, ctx->n_vocab, ctx->max_seq_len, sets, err,
                                  sizeof err) == 0)
            valset_copy(&st->sets[k], &sets[x]);
        else st->have_sets = 0;
        rasp_free_value_sets(sets, p.n_exprs);
    }
    if (!sets) st->have_sets = 0;
    free(sets);
    rasp_program_free(&p);
}

static void free_sets(State *st) {
    if (!st->ctx) return;
    for (int i = 0; i < PT_MAX_VARS + 2; i++) valset_free(&st->sets[i]);
}

/* Does the finished program compile on the context's vocabulary? (compile_program runs
 * rasp_validate_compilable first, and refuses models beyond itracr's size limit.) */
static int program_ok(const State *st) {
    RaspProgram p;
    char err[300];
    const PcContext *ctx = st->ctx;
    if (pt_build_program(st->rows, st->n, ctx->vocab, ctx->n_vocab, ctx->max_seq_len, &p, err,
                         sizeof err))
        return 0;
    CompileOptions o;
    compile_options_default(&o);
    int ok = compile_check(&p, &o, err, sizeof err) == 0;
    rasp_program_free(&p);
    return ok;
}

/* ---- the cache of scan states (meta.h, PcCache) ---------------------------------------- */
typedef struct CacheEntry {
    int len;         /* tokens of the prefix; the scan is at a row boundary after them */
    int32_t *prefix; /* [len] */
    int ok;          /* the rows as a finished program compile: 1, 0, -1 not asked yet */
    State st;        /* its sets owned by the entry */
} CacheEntry;

struct PcCache {
    CacheEntry **slot; /* [PC_CACHE_SLOTS] open addressing by prefix hash */
    uint64_t *key;     /* [PC_CACHE_SLOTS] 0: empty */
    int n;
};
#define PC_CACHE_SLOTS (2 * PC_CACHE_MAX)

PcCache *pc_cache_new(void) {
    PcCache *c = calloc(1, sizeof *c);
    if (c) {
        c->slot = calloc(PC_CACHE_SLOTS, sizeof *c->slot);
        c->key = calloc(PC_CACHE_SLOTS, sizeof *c->key);
    }
    if (!c || !c->slot || !c->key) {
        pc_cache_free(c);
        return NULL;
    }
    return c;
}

static void entry_free(CacheEntry *e) {
    if (!e) return;
    for (int i = 0; i < PT_MAX_VARS + 2; i++) valset_free(&e->st.sets[i]);
    free(e->prefix);
    free(e);
}

static void cache_clear(PcCache *c) {
    for (int i = 0; i < PC_CACHE_SLOTS; i++) {
        entry_free(c->slot[i]);
        c->slot[i] = NULL;
        c->key[i] = 0;
    }
    c->n = 0;
}

void pc_cache_free(PcCache *c) {
    if (!c) return;
    if (c->slot && c->key) cache_clear(c);
    free(c->slot);
    free(c->key);
    free(c);
}

/* h[i]: hash of seq[0..i) for i <= n (never 0). */
static void prefix_hashes(const int32_t *seq, int n, uint64_t *h) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    h[0] = x;
    for (int i = 0; i < n; i++) {
        x ^= (uint64_t)(uint32_t)seq[i] + 0x9E3779B97F4A7C15ull + (x << 6) + (x >> 2);
        x *= 0xff51afd7ed558ccdull;
        h[i + 1] = x ? x : 1;
    }
}

static CacheEntry *cache_find(const PcCache *c, const int32_t *seq, int len, uint64_t h) {
    for (size_t j = h & (PC_CACHE_SLOTS - 1); c->key[j]; j = (j + 1) & (PC_CACHE_SLOTS - 1)) {
        const CacheEntry *e = c->slot[j];
        if (c->key[j] == h && e->len == len &&
            memcmp(e->prefix, seq, sizeof(int32_t) * (size_t)len) == 0)
            return c->slot[j];
    }
    return NULL;
}

static void copy_state(State *dst, const State *src) {
    *dst = *src;
    for (int i = 0; i < PT_MAX_VARS + 2; i++) {
        valset_init(&dst->sets[i]);
        valset_copy(&dst->sets[i], &src->sets[i]);
    }
}

/* Keeps st as the state after seq[0..len) (a row boundary). Out of memory: not kept. */
static void cache_put(PcCache *c, const int32_t *seq, int len, uint64_t h, const State *st) {
    if (cache_find(c, seq, len, h)) return;
    if (c->n >= PC_CACHE_MAX) cache_clear(c);
    CacheEntry *e = calloc(1, sizeof *e);
    int32_t *pre = malloc(sizeof(int32_t) * (size_t)(len > 0 ? len : 1));
    if (!e || !pre) {
        free(e), free(pre);
        return;
    }
    memcpy(pre, seq, sizeof(int32_t) * (size_t)len);
    e->len = len, e->prefix = pre, e->ok = -1;
    copy_state(&e->st, st);
    size_t j = h & (PC_CACHE_SLOTS - 1);
    while (c->key[j]) j = (j + 1) & (PC_CACHE_SLOTS - 1);
    c->key[j] = h, c->slot[j] = e;
    c->n++;
}

static int16_t arg_code(int a) {
    if (a == PT_ARG_NONE) return PT_SRC_NONE;
    if (a == PT_ARG_TOKENS) return PT_SRC_TOKENS;
    if (a == PT_ARG_INDICES) return PT_SRC_INDICES;
    return (int16_t)(a - PT_ARG_V1);
}

/* May value token v (id) be the table's next value (k values written of len)? */
static int value_ok(const State *st, const PtOp *o, int k, int len, int v) {
    if (k == len) return v == PT_END;
    if (v == PT_END || v < 3 || v >= PT_VAL_VOCAB) return 0;
    if (o->op == PT_OP_SELECT) return v == PT_VAL_FALSE || v == PT_VAL_TRUE; /* a predicate */
    if (v >= PT_VAL_TOK0) return v - PT_VAL_TOK0 < st->ctx->n_vocab && o->enc == PT_ENC_CAT;
    return 1; /* ints and bools: numbers for a numerical Map, values for a categorical one */
}

/* program_ok of the state after seq[0..n) (a row boundary), asked once per cached prefix. */
static int finished_ok(const State *st, const int32_t *seq, int n, PcCache *cache,
                       const uint64_t *hs) {
    CacheEntry *e = cache ? cache_find(cache, seq, n, hs[n]) : NULL;
    if (e && e->ok >= 0) return e->ok;
    int ok = program_ok(st);
    if (e) e->ok = ok;
    return ok;
}

int pc_allowed_ctx(const PcContext *ctx, const int32_t *seq, int n, unsigned char *allowed) {
    int V = pc_vocab_size();
    memset(allowed, 0, (size_t)V);
    State *st = calloc(1, sizeof *st);
    if (!st) return -1;
    st->ctx = ctx;
    st->tables = ctx && (ctx->model_vocab <= 0 || ctx->model_vocab > PC_FN_TABLE);
    PcCache *cache = ctx ? ctx->cache : NULL;
    uint64_t hs[PC_MAX_LEN + 1]; /* [n + 1] prefix hashes, with a cache */
    if (cache && n > PC_MAX_LEN) cache = NULL;
    if (cache) prefix_hashes(seq, n, hs);
    int start = 0;
    for (int i = n; cache && i > 0 && !start; i--) {
        const CacheEntry *e = cache_find(cache, seq, i, hs[i]);
        if (e) copy_state(st, &e->st), start = i;
    }
    if (ctx && !start) compute_sets(st); /* of no rows: tokens and indices */
    int f[PT_COLS], field = 0, tab = -1, tlen = 0, count = 0;
    int rc = 0;
    for (int i = start; i < n; i++) {
        int col, id;
        if (seq[i] == PC_EOS) goto done;
        if (pc_unflat(seq[i], &col, &id) != 0) {
            rc = -1;
            goto done;
        }
        if (tab >= 0) { /* inside the table of row tab */
            PtOp *o = &st->rows[tab];
            if (col != PC_COL_VAL || !value_ok(st, o, o->ntab, tlen, id)) goto done;
            if (id == PT_END) {
                st->cells += o->ntab + 1;
                tab = -1;
                free_sets(st);
                compute_sets(st);
                if (cache) cache_put(cache, seq, i + 1, hs[i + 1], st);
            } else {
                o->tab[o->ntab++] = (int16_t)id;
            }
            continue;
        }
        if (col != field) goto done;
        f[col] = id;
        if (++field < PT_COLS) continue;
        field = 0;
        if (id != PT_OUT_V1 + st->n || !row_ok(st, f[0], f[1], f[2], f[3], f[4]) ||
            !row_feasible(st, f[0], f[1], f[2], f[3], f[4]))
            goto done;
        for (int j = 3; j <= 4; j++) {
            int v = f[j] - PT_ARG_V1;
            if (v >= 0 && !st->used[v]) {
                st->used[v] = 1;
                if (st->is_sel[v]) st->s--;
                else st->k--;
            }
            st->tokens_used |= f[j] == PT_ARG_TOKENS;
        }
        PtOp *o = &st->rows[st->n];
        memset(o, 0, sizeof *o);
        o->op = (int16_t)f[0];
        o->enc = (int16_t)f[1];
        o->fn = (int16_t)f[2];
        o->arg[0] = arg_code(f[3]);
        o->arg[1] = arg_code(f[4]);
        st->is_sel[st->n] = f[0] == PT_OP_SELECT;
        st->enc[st->n] = f[1];
        if (st->is_sel[st->n]) st->s++;
        else st->k++;
        if (f[2] == PT_FN_TABLE) {
            tab = st->n;
            tlen = table_len(st, f[0], f[3], f[4]);
        }
        st->n++;
        if (tab < 0 && ctx) {
            free_sets(st);
            compute_sets(st);
            if (cache) cache_put(cache, seq, i + 1, hs[i + 1], st);
        }
    }
    if (tab >= 0) { /* the next value of the table */
        const PtOp *o = &st->rows[tab];
        for (int v = 2; v < PT_VAL_VOCAB; v++)
            if (v != PT_START && value_ok(st, o, o->ntab, tlen, v)) {
                allowed[pc_flat_value(v)] = 1;
                count++;
            }
        goto done;
    }
    int c = field;
    if (c == PT_COL_OUT) {
        allowed[pc_flat(PT_COL_OUT, PT_OUT_V1 + st->n)] = 1;
        count = 1;
        goto done;
    }
    for (int j = c; j < PT_COLS; j++) f[j] = -1;
    if (c == 0) {
        if (st->n >= 1 && st->s == 0 && st->k == 1 && st->tokens_used &&
            (!ctx || finished_ok(st, seq, n, cache, hs))) {
            allowed[PC_EOS] = 1;
            count++;
        }
        if (st->n >= PT_MAX_VARS) goto done;
    } else if (!completable(st, f, c)) {
        goto done; /* the row's prefix already broke the rules */
    }
    for (int v = col_lo(c); v < col_hi(st, c); v++) {
        f[c] = v;
        int ok = 1;
        if (c == PT_COL_ENC && (f[0] == PT_OP_SELECT) != (v == PT_ENC_NONE)) ok = 0;
        if (ok && c == PT_COL_FN && !fn_kind_ok(st, f[0], v)) ok = 0;
        if (ok && completable(st, f, c + 1)) {
            allowed[pc_flat(c, v)] = 1;
            count++;
        }
        f[c] = -1;
    }
done:
    free_sets(st);
    free(st);
    return rc < 0 ? rc : count;
}

int pc_allowed(const int32_t *seq, int n, unsigned char *allowed) {
    return pc_allowed_ctx(NULL, seq, n, allowed);
}

int pc_constraint_fn(void *user, const int32_t *prog, int n, unsigned char *allowed) {
    const PcContext *ctx = user;
    int V = pc_vocab_size();
    int model_vocab = ctx && ctx->model_vocab > 0 ? ctx->model_vocab : V;
    unsigned char *mine = malloc((size_t)V);
    if (!mine) return 1;
    int cnt = pc_allowed_ctx(ctx && ctx->n_vocab > 0 ? ctx : NULL, prog + 1, n - 1, mine);
    int left = 0;
    for (int v = 0; v < model_vocab; v++) {
        if (v >= V || !mine[v]) allowed[v] = 0;
        left += allowed[v] != 0;
    }
    free(mine);
    return cnt <= 0 || left == 0;
}
