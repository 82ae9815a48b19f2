/* RASP program -> Tracr-identical transformer (docs/tracr.md §2): value sets, one craft
 * block per SOp, layer allocation, residual assembly. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler/compile_internal.h"
#include "rasp/validate_sets.h"
#include "util/errmsg.h"
#include "util/strbuf.h"

void compile_options_default(CompileOptions *o) {
    memset(o, 0, sizeof *o);
    o->causal = -1;
}

void model_bind_weights(CompiledModel *m, double *w) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * (size_t)m->key_size;
    size_t M = (size_t)m->mlp_hidden_size, NL = (size_t)m->num_layers;
    m->token_embed = w;
    w += (size_t)m->vocab_size * D;
    m->pos_embed = w;
    w += (size_t)(m->max_seq_len + 1) * D;
    for (size_t l = 0; l < NL; l++) {
        ModelLayer *L = &m->layers[l];
        L->q = w, w += D * HK;
        L->k = w, w += D * HK;
        L->v = w, w += D * HK;
        L->o = w, w += HK * D;
        L->w1 = w, w += D * M;
        L->w2 = w, w += M * D;
    }
    m->unembed = w;
}

void model_alloc_weights(CompiledModel *m) {
    size_t D = (size_t)m->residual_dim, HK = (size_t)m->num_heads * (size_t)m->key_size;
    size_t M = (size_t)m->mlp_hidden_size, NL = (size_t)m->num_layers;
    size_t per_layer = 3 * D * HK + HK * D + 2 * D * M;
    size_t total = (size_t)m->vocab_size * D + (size_t)(m->max_seq_len + 1) * D + per_layer * NL +
                   D * (size_t)m->n_out;
    double *w = arena_alloc(&m->arena, sizeof(double) * total);
    m->layers = arena_alloc(&m->arena, sizeof(ModelLayer) * (NL ? NL : 1));
    model_bind_weights(m, w);
}

void compiled_model_free(CompiledModel *m) {
    if (!m) return;
    arena_free(&m->arena);
    free(m);
}


static char *strcat3(Arena *a, const char *x, const char *y, const char *z) {
    size_t n1 = strlen(x), n2 = strlen(y), n3 = strlen(z);
    char *s = arena_alloc(a, n1 + n2 + n3 + 1);
    memcpy(s, x, n1);
    memcpy(s + n1, y, n2);
    memcpy(s + n1 + n2, z, n3 + 1);
    return s;
}

/* Output basis of an SOp node: (label, v) per value, or (label, None) when numerical. */
static Space node_basis(CCtx *c, CNode *nd) {
    if (nd->e->enc == ENC_NUMERICAL) {
        Dir d = {nd->e->label, val_none()};
        return space_make(c->a, &d, 1);
    }
    return space_from_values(c->a, nd->e->label, nd->vals->items, nd->vals->n);
}

static CNode *child_node(CCtx *c, const CNode *nd, int k) {
    int e = nd->e->child[k];
    if (e < 0) return NULL;
    int id = c->node_of[e];
    return id < 0 ? NULL : &c->nodes[id];
}

static double value_num(Value v) { return val_is_number(v) ? val_as_double(v) : 0; }

/* Builds the block of one SOp node. */
static int build_block(CCtx *c, CNode *nd, char *err, size_t errcap) {
    const RaspExpr *e = nd->e;
    BlkCtx bc = c->bc;
    bc.where = e->label;
    bc.err = err;
    bc.errcap = errcap;
    const char *hn = strcat3(c->a, "_hidden_", e->label, "_");
    CNode *x = child_node(c, nd, 0), *y = child_node(c, nd, 1);
    switch (e->kind) {
    case EXPR_TOKENS:
    case EXPR_INDICES: return 0;
    case EXPR_MAP: {
        if (!x) return err_printf(err, errcap, "%s: Map without input", e->label);
        BlkFn f = blk_fn_lambda(e->fn);
        nd->kind = ALLOC_MLP;
        if (x->e->enc == ENC_CATEGORICAL && e->enc == ENC_CATEGORICAL) {
            nd->mk = MK_CAT;
            return blk_map_cat(&bc, &x->basis, e->label, &nd->basis, f, &nd->mlp);
        }
        if (x->e->enc == ENC_CATEGORICAL) {
            nd->mk = MK_CATNUM;
            return blk_map_cat_num(&bc, &x->basis, nd->basis.d[0], f, c->exact, hn, &nd->mlp);
        }
        nd->mk = MK_DISC;
        Dir in = {x->e->label, val_none()};
        return blk_discretising(&bc, in, x->vals->items, x->vals->n, f, hn,
                                e->enc == ENC_CATEGORICAL ? &nd->basis : NULL, nd->basis.d[0],
                                &nd->mlp);
    }
    case EXPR_SEQMAP: {
        if (!x || !y) return err_printf(err, errcap, "%s: SequenceMap without inputs", e->label);
        if (x->e->enc != ENC_CATEGORICAL || y->e->enc != ENC_CATEGORICAL ||
            e->enc != ENC_CATEGORICAL)
            return err_printf(
                err, errcap,
                "%s: (non-linear) SequenceMap only supports categorical inputs/outputs.", e->label);
        nd->kind = ALLOC_MLP;
        if (x == y) { /* Tracr: equal input spaces -> a Map with g(v) = f(v, v) */
            nd->mk = MK_CAT;
            return blk_map_cat(&bc, &x->basis, e->label, &nd->basis, blk_fn_lambda_diag(e->fn),
                               &nd->mlp);
        }
        nd->mk = MK_SEQ;
        return blk_seqmap_cat(&bc, &x->basis, &y->basis, e->label, &nd->basis, blk_fn_lambda(e->fn),
                              hn, &nd->mlp);
    }
    case EXPR_LINSEQMAP: {
        if (!x || !y)
            return err_printf(err, errcap, "%s: LinearSequenceMap without inputs", e->label);
        if (x->e->enc != ENC_NUMERICAL || y->e->enc != ENC_NUMERICAL || e->enc != ENC_NUMERICAL)
            return err_printf(err, errcap,
                              "%s: LinearSequenceMap only supports numerical inputs/outputs.",
                              e->label);
        nd->kind = ALLOC_MLP;
        nd->mk = MK_LIN;
        Dir dx = {x->e->label, val_none()}, dy = {y->e->label, val_none()};
        return blk_linseqmap(&bc, dx, dy, value_num(e->lin_a), value_num(e->lin_b), hn,
                             nd->basis.d[0], &nd->mlp);
    }
    case EXPR_AGGREGATE:
    case EXPR_SELWIDTH: {
        CNode *sel = x;
        if (!sel || sel->e->kind != EXPR_SELECT)
            return err_printf(err, errcap, "%s: the selector must be a plain Select (got %s)",
                              e->label, sel ? rasp_kind_name(sel->e->kind) : "nothing");
        CNode *keys = child_node(c, sel, 0), *queries = child_node(c, sel, 1);
        if (!keys || !queries)
            return err_printf(err, errcap, "%s: Select without keys/queries", e->label);
        if (keys->e->enc != ENC_CATEGORICAL || queries->e->enc != ENC_CATEGORICAL)
            return err_printf(err, errcap, "%s: Select only supports categorical keys and queries.",
                              sel->e->label);
        BlkPredState *ps = arena_alloc(c->a, sizeof *ps);
        ps->pred = sel->e->pred;
        ps->fn = sel->e->fn;
        BlkPred pred = blk_pred_make(ps);
        if (e->kind == EXPR_AGGREGATE) {
            if (!y) return err_printf(err, errcap, "%s: Aggregate without input", e->label);
            if (y->e->enc != e->enc)
                return err_printf(
                    err, errcap,
                    "%s: An aggregate's output encoding must match its input encoding.", e->label);
            nd->kind = ALLOC_ATTN;
            return blk_attn_aggregate(&bc, &queries->basis, &keys->basis, pred, &y->basis,
                                      &nd->basis, &nd->attn);
        }
        nd->kind = ALLOC_BOTH;
        nd->mk = MK_SW;
        return blk_selector_width(&bc, &queries->basis, &keys->basis, pred, e->label, c->N,
                                  e->enc == ENC_CATEGORICAL ? &nd->basis : NULL, &nd->attn,
                                  &nd->mlp, &nd->sw_attn_dir);
    }
    default:
        return err_printf(err, errcap, "%s: %s is not supported by the compiler", e->label,
                          rasp_kind_name(e->kind));
    }
}

/* Exact mode: the smallest mlp_exactness for which every discretising MLP keeps each of its
 * input values at least twice the ramp width (1/L) away from the thresholds: L >= 4 / gap. */
static double exact_L(CCtx *c, double L) {
    double min_gap = INFINITY;
    for (int i = 0; i < c->n; i++) {
        CNode *nd = &c->nodes[i];
        if (!nd->sop) continue;
        if (nd->e->kind == EXPR_SELWIDTH) {
            double g = 1.0 / c->N - 1.0 / (c->N + 1);
            if (c->N >= 1 && g < min_gap) min_gap = g;
        } else if (nd->e->kind == EXPR_MAP) {
            CNode *x = child_node(c, nd, 0);
            if (!x || x->e->enc != ENC_NUMERICAL) continue;
            size_t n = x->vals->n;
            double *v = arena_alloc(c->a, sizeof(double) * (n ? n : 1));
            size_t m = 0;
            for (size_t k = 0; k < n; k++)
                if (val_is_number(x->vals->items[k])) v[m++] = val_as_double(x->vals->items[k]);
            compile_sort_doubles(v, m);
            for (size_t k = 1; k < m; k++)
                if (v[k] > v[k - 1] && v[k] - v[k - 1] < min_gap) min_gap = v[k] - v[k - 1];
        }
    }
    if (!isfinite(min_gap)) return L;
    double need = ceil(4.0 / min_gap);
    return need > L ? need : L;
}

static void cell_grow(Arena *a, CellList *l) { /* by doubling: at most twice the final size */
    int cap = l->cap ? 2 * l->cap : 256;
    int *r = arena_alloc(a, sizeof(int) * (size_t)cap),
        *c = arena_alloc(a, sizeof(int) * (size_t)cap);
    double *v = arena_alloc(a, sizeof(double) * (size_t)cap);
    if (l->n) {
        memcpy(r, l->row, sizeof(int) * (size_t)l->n);
        memcpy(c, l->col, sizeof(int) * (size_t)l->n);
        memcpy(v, l->val, sizeof(double) * (size_t)l->n);
    }
    l->row = r, l->col = c, l->val = v, l->cap = cap;
}

static inline void cell_push(Arena *a, CellList *l, int row, int col, double val) {
    if (l->n == l->cap) cell_grow(a, l);
    l->row[l->n] = row;
    l->col[l->n] = col;
    l->val[l->n++] = val;
}

static bool increasing(const int *x, int n) {
    for (int i = 1; i < n; i++)
        if (x[i] <= x[i - 1]) return false;
    return true;
}

/* Runs Tracr's validation in full; when it reports issues, writes them to err as the
 * compile error and returns true. */
static bool full_validation_fails(const RaspProgram *p, const Value *vocab, int nv, int N,
                                  char *err, size_t errcap) {
    RaspReport rep;
    rasp_report_init(&rep);
    rasp_validate_compilable(p, vocab, nv, N, &rep);
    bool fails = rep.n > 0;
    if (fails) {
        StrBuf sb;
        sb_init(&sb);
        sb_append(&sb, "the program cannot be compiled:");
        for (int i = 0; i < rep.n; i++) {
            sb_append(&sb, "\n  ");
            sb_append(&sb, rep.items[i].msg);
        }
        err_printf(err, errcap, "%s", sb.s);
        sb_free(&sb);
    }
    rasp_report_free(&rep);
    return fails;
}

typedef struct LayerMlp {
    Space hidden;
    int n_nodes;
    int sum_hidden; /* of the blocks' hidden spaces: more than hidden.n when they share units */
    bool indexed;
    SpaceIndex hix; /* of hidden, once the layer's blocks are placed */
} LayerMlp;

/* What compile_program's phases hand on to each other. */
typedef struct Build {
    CCtx c;
    Arena *scratch;
    const Value *vocab;
    int nv, N;
    bool causal;
    Value bosv, padv;
    const char *tok_name, *idx_name;
    CompiledModel *m; /* from layer allocation on */
    int *heads_in;    /* [num_layers] heads per layer */
    LayerMlp *lm;     /* [num_layers] */
    int H, ks, M;     /* heads, key_size, MLP width: the layers' maxima */
    CNode *sink;      /* the output's node */
    Space tok_space, idx_space, resid;
} Build;

/* The per-node state of the program's SOps in BFS order: value sets, names of the primitive
 * spaces, output bases. */
static int setup_nodes(Build *b, ValueSet *sets, ValueSet *store, int Li, char *err,
                       size_t errcap) {
    const RaspProgram *p = b->c.p;
    CCtx *c = &b->c;
    int ne = p->n_exprs;
    c->node_of = arena_alloc(b->scratch, sizeof(int) * (size_t)ne);
    int *order = arena_alloc(b->scratch, sizeof(int) * (size_t)ne);
    c->n = rasp_bfs_order(p, order);
    c->nodes = arena_alloc(b->scratch, sizeof(CNode) * (size_t)(c->n ? c->n : 1));
    for (int i = 0; i < ne; i++) c->node_of[i] = -1;
    for (int i = 0; i < c->n; i++) {
        CNode *nd = &c->nodes[i];
        nd->expr = order[i];
        nd->e = &p->exprs[order[i]];
        nd->sop = rasp_is_sop(nd->e->kind);
        nd->vals = &sets[order[i]];
        nd->attn_slot = nd->mlp_slot = -1;
        c->node_of[order[i]] = i;
        if (!c->nodes[i].e->label)
            return err_printf(err, errcap,
                              "expression %d has no label (rasp_assign_labels was not run)",
                              order[i]);
    }
    cvs_complete(c, store);
    if (c->exact)
        for (int i = 0; i < c->n; i++) c->nodes[i].vals = c->nodes[i].cvals;
    c->L = c->exact ? exact_L(c, Li) : Li;
    c->bc.arena = b->scratch;
    c->bc.one = (Dir){"one", val_none()};
    /* One pointer per primitive name, so direction comparisons mostly skip strcmp. */
    b->tok_name = "tokens", b->idx_name = "indices";
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].e->kind == EXPR_TOKENS) b->tok_name = c->nodes[i].e->label;
        if (c->nodes[i].e->kind == EXPR_INDICES) b->idx_name = c->nodes[i].e->label;
    }
    c->bc.bos = (Dir){b->tok_name, b->bosv};
    c->bc.L = c->L;

    bool has_tokens = false;
    for (int i = 0; i < c->n; i++)
        if (c->nodes[i].sop) {
            c->nodes[i].basis = node_basis(c, &c->nodes[i]);
            if (c->nodes[i].e->kind == EXPR_TOKENS) has_tokens = true;
        }
    if (!has_tokens)
        return err_printf(err, errcap, "ValueError: the program does not depend on tokens");
    return 0;
}

/* A lower bound of the weight count from the value sets alone, before any block is built (a
 * large max_seq_len makes dense blocks of gigabytes first): every SOp's space is in the
 * residual, the embeddings span it for every token and position, and an MLP's hidden layer
 * is at least its output space (a SequenceMap's at least the product of its inputs' value
 * sets, a SelectorWidth's 2 * max_seq_len). The exact count is checked again in
 * write_weights. */
static int check_weight_bound(const Build *b, char *err, size_t errcap) {
    const CCtx *c = &b->c;
    int N = b->N;
    double d_lb = 1, hidden_lb = 0;
    bool has_indices = false;
    for (int i = 0; i < c->n; i++) has_indices = has_indices || c->nodes[i].e->kind == EXPR_INDICES;
    if (!has_indices) d_lb += N; /* the indices space is in the residual even when unused */
    for (int i = 0; i < c->n; i++) {
        const CNode *nd = &c->nodes[i];
        if (!nd->sop) continue;
        d_lb += nd->basis.n;
        double h = 0;
        if (nd->e->kind == EXPR_MAP && nd->e->enc == ENC_CATEGORICAL) h = nd->basis.n;
        if (nd->e->kind == EXPR_SEQMAP && nd->e->enc == ENC_CATEGORICAL) {
            int x = nd->e->child[0] >= 0 ? c->node_of[nd->e->child[0]] : -1;
            int y = nd->e->child[1] >= 0 ? c->node_of[nd->e->child[1]] : -1;
            if (x >= 0 && y >= 0) h = (double)c->nodes[x].vals->n * (double)c->nodes[y].vals->n;
        }
        /* SelectorWidth discretises its N + 1 attention levels: two hidden units per step */
        if (nd->e->kind == EXPR_SELWIDTH) h = 2.0 * N;
        if (h > hidden_lb) hidden_lb = h;
    }
    double lb = d_lb * ((double)b->nv + N + 1) + 2 * d_lb * hidden_lb;
    if (lb > COMPILE_MAX_WEIGHTS)
        return err_printf(
            err, errcap,
            "the model would have at least %.3g weights (residual at least %.0f, MLP at least %.0f), "
            "more than itracr's limit of %.3g",
            lb, d_lb, hidden_lb, (double)COMPILE_MAX_WEIGHTS);
    return 0;
}

/* Layer allocation: each block's attention and MLP slot (alloc.c); creates the model. */
static int allocate_layers(Build *b, char *err, size_t errcap) {
    CCtx *c = &b->c;
    Arena *scratch = b->scratch;
    AllocKind *kind = arena_alloc(scratch, sizeof(AllocKind) * (size_t)c->n);
    bool *is_sop = arena_alloc(scratch, sizeof(bool) * (size_t)c->n);
    int *coff = arena_alloc(scratch, sizeof(int) * (size_t)(c->n + 1));
    int *ch = arena_alloc(scratch, sizeof(int) * (size_t)(2 * c->n + 1));
    int ne2 = 0;
    for (int i = 0; i < c->n; i++) {
        kind[i] = c->nodes[i].kind;
        is_sop[i] = c->nodes[i].sop;
        coff[i] = ne2;
        for (int k = 0; k < 2; k++) {
            CNode *cn = child_node(c, &c->nodes[i], k);
            if (cn) ch[ne2++] = (int)(cn - c->nodes);
        }
    }
    coff[c->n] = ne2;
    AllocGraph g = {c->n, kind, is_sop, coff, ch};
    AllocResult r;
    int *buf = arena_alloc(scratch, sizeof(int) * (size_t)(9 * c->n + 8));
    r.depth = buf;
    r.attn_layer = buf + c->n;
    r.mlp_layer = buf + 2 * c->n;
    r.attn_slot = buf + 3 * c->n;
    r.mlp_slot = buf + 4 * c->n;
    if (alloc_layers(&g, &r, buf + 5 * c->n))
        return err_printf(err, errcap,
                          "ValueError: the program has no operation that needs a model block");
    for (int i = 0; i < c->n; i++) {
        c->nodes[i].attn_slot = r.attn_slot[i];
        c->nodes[i].mlp_slot = r.mlp_slot[i];
    }
    b->m = calloc(1, sizeof *b->m);
    arena_init(&b->m->arena);
    b->m->num_layers = r.num_layers;
    return 0;
}

/* The spaces of each layer: heads per layer, the MLPs' joint hidden space, key_size. */
static int layer_spaces(Build *b, char *err, size_t errcap) {
    CCtx *c = &b->c;
    int NL = b->m->num_layers;
    b->heads_in = arena_alloc(b->scratch, sizeof(int) * (size_t)NL);
    b->lm = arena_alloc(b->scratch, sizeof(LayerMlp) * (size_t)NL);
    int H = 1, ks = 1, M = 1;
    for (int i = 0; i < c->n; i++) {
        CNode *nd = &c->nodes[i];
        if (nd->attn_slot >= 0) {
            int h = ++b->heads_in[nd->attn_slot];
            if (h > H) H = h;
            int w = nd->attn.q.n > nd->attn.k.n ? nd->attn.q.n : nd->attn.k.n;
            if (w > ks) ks = w;
        }
        if (nd->mlp_slot >= 0) {
            LayerMlp *l = &b->lm[nd->mlp_slot];
            l->hidden =
                l->n_nodes ? space_join(b->scratch, &l->hidden, &nd->mlp.hidden) : nd->mlp.hidden;
            l->n_nodes++;
            l->sum_hidden += nd->mlp.hidden.n;
        }
    }
    for (int l = 0; l < NL; l++)
        if (b->lm[l].hidden.n > M) M = b->lm[l].hidden.n;
    for (int i = 0; i < c->n; i++)
        if (c->nodes[i].attn_slot >= 0 && c->nodes[i].attn.o.n > ks)
            return err_printf(
                err, errcap,
                "ValueError: %s: head output width %d exceeds key_size %d (Tracr fails to assemble this model)",
                c->nodes[i].e->label, c->nodes[i].attn.o.n, ks);
    c->key_size = ks;
    b->H = H, b->ks = ks, b->M = M;
    return 0;
}

/* Tracr's residual space: every space of every block, sorted and de-duplicated. */
static int residual_space(Build *b, char *err, size_t errcap) {
    CCtx *c = &b->c;
    Arena *scratch = b->scratch;
    int nv = b->nv, N = b->N;
    b->sink = &c->nodes[c->node_of[c->p->output]];
    Value *tv = arena_alloc(scratch, sizeof(Value) * (size_t)(nv + 2));
    for (int i = 0; i < nv; i++) tv[i] = b->vocab[i];
    tv[nv] = b->bosv;
    tv[nv + 1] = b->padv;
    b->tok_space = space_from_values(scratch, b->tok_name, tv, (size_t)nv + 2);
    Value *iv = arena_alloc(scratch, sizeof(Value) * (size_t)N);
    for (int i = 0; i < N; i++) iv[i] = val_int(i);
    b->idx_space = space_from_values(scratch, b->idx_name, iv, (size_t)N);
    Space *pieces = arena_alloc(scratch, sizeof(Space) * (size_t)(3 + 6 * c->n));
    int k = 0;
    pieces[k++] = b->tok_space;
    pieces[k++] = b->idx_space;
    pieces[k++] = b->sink->basis;
    for (int i = 0; i < c->n; i++) {
        CNode *nd = &c->nodes[i];
        if (nd->mlp_slot >= 0) {
            pieces[k++] = nd->mlp.in;
            pieces[k++] = nd->mlp.out;
        }
        if (nd->attn_slot >= 0) {
            pieces[k++] = nd->attn.q;
            pieces[k++] = nd->attn.k;
            pieces[k++] = nd->attn.v;
            pieces[k++] = nd->attn.o;
        }
    }
    b->resid = space_union(scratch, pieces, k);
    if (b->tok_space.n != nv + 2)
        return err_printf(err, errcap, "the vocabulary has duplicate tokens");
    return 0;
}

/* The model's config, tokens, residual labels and output values. */
static int write_config(Build *b, char *err, size_t errcap) {
    CompiledModel *m = b->m;
    Arena *ma = &m->arena;
    const CCtx *c = &b->c;
    int nv = b->nv, D = b->resid.n;
    m->num_heads = b->H;
    m->key_size = b->ks;
    m->mlp_hidden_size = b->M;
    m->residual_dim = D;
    m->max_seq_len = b->N;
    m->causal = b->causal;
    m->mlp_exactness = (int)c->L;
    m->exact = c->exact;
    m->vocab_size = nv + 2;
    m->tokens = arena_alloc(ma, sizeof(Value) * (size_t)(nv + 2));
    m->bos_id = m->pad_id = -1;
    for (int i = 0; i < b->tok_space.n; i++) {
        m->tokens[i] = b->tok_space.d[i].value;
        if (val_eq(m->tokens[i], b->bosv)) m->bos_id = i;
        if (val_eq(m->tokens[i], b->padv)) m->pad_id = i;
    }
    m->residual_labels = arena_alloc(ma, sizeof(char *) * (size_t)D);
    dir_strs_arena(ma, b->resid.d, D, m->residual_labels);
    m->source = arena_strdup(ma, c->p->source ? c->p->source : "");
    m->output_name = arena_strdup(ma, b->sink->e->label);
    m->output_numerical = b->sink->e->enc == ENC_NUMERICAL;
    m->n_out = b->sink->basis.n;
    if (m->n_out == 0)
        return err_printf(err, errcap, "%s: the output has an empty value set", b->sink->e->label);
    m->out_values = arena_alloc(ma, sizeof(Value) * (size_t)m->n_out);
    for (int j = 0; j < m->n_out; j++) m->out_values[j] = b->sink->basis.d[j].value;
    return 0;
}

/* What write_head and write_mlp share while the weights are assembled. */
typedef struct Assembly {
    Build *b;
    LayerCells *cells; /* [num_layers]: the non-zero writes, for the warnings' BOS pass */
    bool record;       /* whether the BOS pass reads the cells (compile_bos_uses_cells) */
    bool cells_ok;     /* false once a head's V rows are out of order: no cells then */
    int *ri, *ro;      /* [D + 1]: residual rows of an MLP's input and output directions */
    int *hcol;         /* [M + 1]: layer hidden column of each of the block's hidden units */
    int *head_ct;      /* [num_layers]: heads placed so far */
} Assembly;

static void cell_record(Assembly *as, CellList *l, int row, int col, double val) {
    if (as->record) cell_push(as->b->scratch, l, row, col, val);
}

/* One head: W_QK into Q (K the identity on its space), W_OV into V (O the identity). */
static void write_head(Assembly *as, CNode *nd) {
    Build *b = as->b;
    CompiledModel *m = b->m;
    Arena *ma = &m->arena;
    SpaceIndex *rix = &b->c.rix;
    int D = b->resid.n, ks = b->ks;
    size_t HK = (size_t)b->H * (size_t)ks;
    int l = nd->attn_slot, h = as->head_ct[l]++;
    ModelLayer *L = &m->layers[l];
    AttnBlock *a = &nd->attn;
    m->info[l].head_nodes[m->info[l].n_heads++] = arena_strdup(ma, nd->e->label);
    size_t col = (size_t)h * ks;
    for (int q = 0; q < a->q.n; q++) {
        int r = space_index_find(rix, &a->q.d[q]);
        for (int k = 0; k < a->k.n; k++)
            L->q[(size_t)r * HK + col + k] = a->wqk[(size_t)q * a->k.n + k];
    }
    for (int k = 0; k < a->k.n; k++)
        L->k[(size_t)space_index_find(rix, &a->k.d[k]) * HK + col + k] = 1;
    for (int v = 0, prev = -1; v < a->v.n; v++) {
        int r = space_index_find(rix, &a->v.d[v]);
        if (r <= prev) as->cells_ok = false;
        prev = r;
        for (int oo = 0; oo < a->o.n; oo++) {
            double wv = a->wov[(size_t)v * a->o.n + oo];
            L->v[(size_t)r * HK + col + oo] = wv;
            if (wv != 0) cell_record(as, &as->cells[l].v, r, (int)col + oo, wv);
        }
    }
    for (int oo = 0; oo < a->o.n; oo++) {
        int r = space_index_find(rix, &a->o.d[oo]);
        L->o[(col + oo) * D + r] = 1;
        cell_record(as, &as->cells[l].o, (int)col + oo, r, 1.0);
    }
}

/* One MLP block, added into its layer's W1/W2 (blocks of a layer may share hidden units). */
static void write_mlp(Assembly *as, CNode *nd) {
    Build *b = as->b;
    CompiledModel *m = b->m;
    SpaceIndex *rix = &b->c.rix;
    int D = b->resid.n, M = b->M;
    int l = nd->mlp_slot;
    LayerMlp *lm = &b->lm[l];
    ModelLayer *L = &m->layers[l];
    MlpBlock *blk = &nd->mlp;
    int *ri = as->ri, *ro = as->ro, *hcol = as->hcol;
    m->info[l].mlp_nodes[m->info[l].n_mlp_nodes++] = arena_strdup(&m->arena, nd->e->label);
    for (int k = 0; k < blk->in.n; k++) ri[k] = space_index_find(rix, &blk->in.d[k]);
    for (int k = 0; k < blk->out.n; k++) ro[k] = space_index_find(rix, &blk->out.d[k]);
    if (lm->n_nodes == 1) { /* the layer's hidden space is this block's */
        for (int h = 0; h < blk->hidden.n; h++) hcol[h] = h;
    } else {
        if (!lm->indexed) {
            space_index_init(&lm->hix, b->scratch, &lm->hidden);
            lm->indexed = true;
        }
        for (int h = 0; h < blk->hidden.n; h++)
            hcol[h] = space_index_find(&lm->hix, &blk->hidden.d[h]);
    }
    int nh = blk->hidden.n;
    if (!increasing(ri, blk->in.n) || !increasing(ro, blk->out.n) || !increasing(hcol, nh))
        as->cells[l].repeats = true;
    for (int k = 0; k < blk->in.n; k++)
        for (int h = 0; h < nh; h++) {
            double wv = blk->w1[(size_t)k * nh + h];
            if (wv != 0) {
                L->w1[(size_t)ri[k] * M + hcol[h]] += wv;
                cell_record(as, &as->cells[l].w1, ri[k], hcol[h], wv);
            }
        }
    for (int h = 0; h < nh; h++)
        for (int k = 0; k < blk->out.n; k++) {
            double wv = blk->w2[(size_t)h * blk->out.n + k];
            if (wv != 0) {
                L->w2[(size_t)hcol[h] * D + ro[k]] += wv;
                cell_record(as, &as->cells[l].w2, hcol[h], ro[k], wv);
            }
        }
}

/* The weights: embeddings, unembedding, every block into its layer; per-layer info. */
/* The model's size against COMPILE_MAX_WEIGHTS, from its config alone. */
static int weight_limit(const Build *b, char *err, size_t errcap) {
    const CompiledModel *m = b->m;
    int D = b->resid.n, N = b->N;
    size_t HK = (size_t)b->H * (size_t)b->ks;
    double n_weights =
        (double)D * ((double)m->vocab_size + N + 1 + m->n_out) +
        (double)m->num_layers * (4.0 * D * (double)HK + 2.0 * D * (double)m->mlp_hidden_size);
    if (n_weights > COMPILE_MAX_WEIGHTS)
        return err_printf(
            err, errcap,
            "the model would have %.3g weights (residual %d, MLP %d, %d layers), more "
            "than itracr's limit of %.3g",
            n_weights, D, m->mlp_hidden_size, m->num_layers, (double)COMPILE_MAX_WEIGHTS);
    return 0;
}

static int write_weights(Build *b, char *err, size_t errcap) {
    CCtx *c = &b->c;
    CompiledModel *m = b->m;
    Arena *ma = &m->arena, *scratch = b->scratch;
    int NL = m->num_layers, D = b->resid.n, N = b->N, M = b->M;
    size_t HK = (size_t)b->H * (size_t)b->ks;
    if (weight_limit(b, err, errcap)) return 1;
    model_alloc_weights(m);

    space_index_init(&c->rix, scratch, &b->resid);
    SpaceIndex *rix = &c->rix;
    Dir one = c->bc.one;
    int r_one = space_index_find(rix, &one);
    for (int t = 0; t < b->tok_space.n; t++) {
        m->token_embed[(size_t)t * D + space_index_find(rix, &b->tok_space.d[t])] = 1;
        if (r_one >= 0) m->token_embed[(size_t)t * D + r_one] = 1;
    }
    for (int pidx = 1; pidx <= N; pidx++)
        m->pos_embed[(size_t)pidx * D + space_index_find(rix, &b->idx_space.d[pidx - 1])] = 1;
    for (int j = 0; j < m->n_out; j++)
        m->unembed[(size_t)space_index_find(rix, &b->sink->basis.d[j]) * m->n_out + j] = 1;

    Assembly as = {.b = b, .cells_ok = true};
    as.cells = arena_alloc(scratch, sizeof(LayerCells) * (size_t)NL);
    for (int l = 0; l < NL; l++) as.cells[l].repeats = b->lm[l].sum_hidden > b->lm[l].hidden.n;
    as.record = compile_bos_uses_cells(D, (int)HK, M);
    as.ri = arena_alloc(scratch, sizeof(int) * (size_t)(D + 1));
    as.ro = arena_alloc(scratch, sizeof(int) * (size_t)(D + 1));
    as.hcol = arena_alloc(scratch, sizeof(int) * (size_t)(M + 1));
    as.head_ct = arena_alloc(scratch, sizeof(int) * (size_t)NL);
    m->info = arena_alloc(ma, sizeof(ModelLayerInfo) * (size_t)NL);
    for (int l = 0; l < NL; l++) {
        const LayerMlp *lm = &b->lm[l];
        m->info[l].head_nodes = arena_alloc(ma, sizeof(char *) * (size_t)(b->heads_in[l] + 1));
        m->info[l].mlp_nodes = arena_alloc(ma, sizeof(char *) * (size_t)(lm->n_nodes + 1));
        m->info[l].mlp_hidden = lm->n_nodes ? lm->hidden.n : 0;
        m->info[l].hidden_labels = arena_alloc(ma, sizeof(char *) * (size_t)(lm->hidden.n + 1));
        dir_strs_arena(ma, lm->hidden.d, m->info[l].mlp_hidden, m->info[l].hidden_labels);
    }
    for (int i = 0; i < c->n; i++) {
        if (c->nodes[i].attn_slot >= 0) write_head(&as, &c->nodes[i]);
        if (c->nodes[i].mlp_slot >= 0) write_mlp(&as, &c->nodes[i]);
    }
    c->cells = as.cells_ok && as.record ? as.cells : NULL;
    return 0;
}

/* The compile warnings (compile_warn.c), copied into the model. */
static void finish_warnings(Build *b) {
    CCtx *c = &b->c;
    CompiledModel *m = b->m;
    c->resid = b->resid;
    c->model = m;
    compile_warnings(c);
    m->n_warnings = c->n_warn;
    m->warnings = arena_alloc(&m->arena, sizeof(char *) * (size_t)(c->n_warn + 1));
    for (int i = 0; i < c->n_warn; i++) m->warnings[i] = arena_strdup(&m->arena, c->warn[i]);
    for (int i = 0; i < c->n_warn; i++) free((void *)c->warn[i]);
    free(c->warn);
    c->warn = NULL;
}

/* compile_program, or with check_only everything up to the weights (which cannot fail once
 * the size is within the limit): the same answer without writing a model. */
static int compile_impl(const RaspProgram *p, const CompileOptions *opt, CompiledModel **out,
                        bool check_only, char *err, size_t errcap) {
    *out = NULL;
    CompileOptions o;
    if (opt) o = *opt;
    else compile_options_default(&o);
    const Value *vocab = o.vocab ? o.vocab : p->vocab;
    int nv = o.vocab ? o.n_vocab : p->n_vocab;
    if (!o.vocab && !p->has_vocab)
        return err_printf(err, errcap, "no vocabulary: add a `vocab {...}` line or pass one");
    int N = o.max_seq_len > 0 ? o.max_seq_len : p->max_seq_len;
    if (N <= 0)
        return err_printf(err, errcap, "no max_seq_len: add a `max_seq_len N` line or pass one");
    bool causal = o.causal < 0 ? p->causal : o.causal != 0;
    int Li =
        o.mlp_exactness > 0 ? o.mlp_exactness : (p->mlp_exactness > 0 ? p->mlp_exactness : 100);
    const char *bos_s = o.compiler_bos ? o.compiler_bos : "compiler_bos";
    const char *pad_s = o.compiler_pad ? o.compiler_pad : "compiler_pad";
    if (p->output < 0 || p->output >= p->n_exprs)
        return err_printf(err, errcap, "the program has no output");
    static _Atomic(const char *) bos_slot, pad_slot; /* the default names, interned once */
    Value bosv = o.compiler_bos ? val_str(bos_s) : val_str_once(bos_s, &bos_slot);
    Value padv = o.compiler_pad ? val_str(pad_s) : val_str_once(pad_s, &pad_slot);
    for (int i = 0; i < nv; i++)
        if (val_eq(vocab[i], bosv) || val_eq(vocab[i], padv))
            return err_printf(err, errcap,
                              "ValueError: Compiler BOS/PAD token '%s' is in the vocabulary",
                              val_eq(vocab[i], bosv) ? bos_s : pad_s);

    int ne = p->n_exprs;
    Arena scratch;
    arena_init(&scratch);
    ValueSet *sets = arena_alloc(&scratch, ((size_t)ne + 1) * sizeof(ValueSet));
    RaspReport rep;
    rasp_report_init(&rep);
    bool have_sets;
    /* Validation infers the value sets; compilation uses them (the same sets: Tracr's
     * inference depends only on the program, vocab and max_seq_len). Outside exact mode the
     * checks that the blocks repeat (a lambda on the same values) are left to the blocks,
     * and any failure below runs the full validation, whose report then wins as before. */
    bool deferred = !o.exact;
    rasp_validate_compilable_sets(p, vocab, nv, N, &rep, sets, &have_sets, deferred);
    if (rep.n > 0 || !have_sets) {
        rasp_report_free(&rep);
        rasp_free_value_sets(sets, ne);
        arena_free(&scratch);
        if (!full_validation_fails(p, vocab, nv, N, err,
                                   errcap)) /* not reached: deferring only skips */
            err_printf(err, errcap, "the program cannot be compiled");
        return 1;
    }
    rasp_report_free(&rep);

    ValueSet *store = arena_alloc(&scratch, ((size_t)ne + 1) * sizeof(ValueSet));
    for (int i = 0; i < ne; i++) valset_init(&store[i]);
    Build b;
    memset(&b, 0, sizeof b);
    b.c.p = p;
    b.c.a = &scratch;
    b.c.N = N;
    b.c.exact = o.exact;
    b.scratch = &scratch;
    b.vocab = vocab, b.nv = nv, b.N = N, b.causal = causal;
    b.bosv = bosv, b.padv = padv;
    int rc = setup_nodes(&b, sets, store, Li, err, errcap) || check_weight_bound(&b, err, errcap);
    for (int i = 0; !rc && i < b.c.n; i++)
        if (b.c.nodes[i].sop) rc = build_block(&b.c, &b.c.nodes[i], err, errcap) != 0;
    rc = rc || allocate_layers(&b, err, errcap) || layer_spaces(&b, err, errcap) ||
         residual_space(&b, err, errcap) || write_config(&b, err, errcap) ||
         (check_only ? weight_limit(&b, err, errcap) : write_weights(&b, err, errcap));
    if (!rc && !check_only) finish_warnings(&b);

    CompiledModel *m = b.m;
    if (rc && deferred) full_validation_fails(p, vocab, nv, N, err, errcap);
    if (rc || check_only) {
        compiled_model_free(m);
        m = NULL;
        for (int i = 0; i < b.c.n_warn; i++) free((void *)b.c.warn[i]);
        free(b.c.warn);
    }
    rasp_free_value_sets(sets, ne);
    for (int i = 0; i < ne; i++) valset_free(&store[i]);
    arena_free(&scratch);
    *out = m;
    return rc;
}

int compile_program(const RaspProgram *p, const CompileOptions *opt, CompiledModel **out, char *err,
                    size_t errcap) {
    return compile_impl(p, opt, out, false, err, errcap);
}

int compile_check(const RaspProgram *p, const CompileOptions *opt, char *err, size_t errcap) {
    CompiledModel *m = NULL;
    return compile_impl(p, opt, &m, true, err, errcap);
}
