/* The RASP program graph: storage, names, Tracr's BFS order and node labels. */
#include "rasp/program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rasp_program_init(RaspProgram *p) {
    memset(p, 0, sizeof *p);
    arena_init(&p->arena);
    p->output = -1;
}

void rasp_program_free(RaspProgram *p) {
    free(p->exprs);
    arena_free(&p->arena);
    memset(p, 0, sizeof *p);
    p->output = -1;
}

int rasp_add_expr(RaspProgram *p, const RaspExpr *e) {
    if (p->n_exprs == p->cap_exprs) {
        int cap = p->cap_exprs ? p->cap_exprs * 2 : 16;
        RaspExpr *x = realloc(p->exprs, (size_t)cap * sizeof *x);
        if (!x) {
            fprintf(stderr, "itracr: out of memory\n");
            abort();
        }
        p->exprs = x;
        p->cap_exprs = cap;
    }
    p->exprs[p->n_exprs] = *e;
    return p->n_exprs++;
}

bool rasp_is_selector(ExprKind k) {
    return k == EXPR_SELECT || k == EXPR_SEL_AND || k == EXPR_SEL_OR || k == EXPR_SEL_NOT;
}

bool rasp_is_sop(ExprKind k) { return !rasp_is_selector(k); }

const char *rasp_default_name(ExprKind k) {
    switch (k) {
    case EXPR_TOKENS: return "tokens";
    case EXPR_INDICES: return "indices";
    case EXPR_MAP: return "map";
    case EXPR_SEQMAP: return "sequence_map";
    case EXPR_LINSEQMAP: return "linear_sequence_map";
    case EXPR_FULL: return "full";
    case EXPR_SELECT: return "select";
    case EXPR_AGGREGATE: return "aggregate";
    case EXPR_SELWIDTH: return "selector_width";
    case EXPR_SEL_AND: return "selector_and";
    case EXPR_SEL_OR: return "selector_or";
    case EXPR_SEL_NOT: return "selector_not";
    }
    return "expr";
}

const char *rasp_kind_name(ExprKind k) {
    switch (k) {
    case EXPR_TOKENS: return "tokens";
    case EXPR_INDICES: return "indices";
    case EXPR_MAP: return "Map";
    case EXPR_SEQMAP: return "SequenceMap";
    case EXPR_LINSEQMAP: return "LinearSequenceMap";
    case EXPR_FULL: return "Full";
    case EXPR_SELECT: return "Select";
    case EXPR_AGGREGATE: return "Aggregate";
    case EXPR_SELWIDTH: return "SelectorWidth";
    case EXPR_SEL_AND: return "SelectorAnd";
    case EXPR_SEL_OR: return "SelectorOr";
    case EXPR_SEL_NOT: return "SelectorNot";
    }
    return "?";
}

const char *rasp_pred_name(Pred p) {
    static const char *names[] = {"EQ", "LT", "LEQ", "GT", "GEQ", "NEQ", "TRUE", "FALSE", "lambda"};
    return (unsigned)p < sizeof names / sizeof *names ? names[p] : "?";
}

/* Tracr's rasp_to_graph enqueues a child every time it is seen (duplicates included) and
 * creates its graph node, and reads its label (assigning the lazy unique_id), the first
 * time it is seen as a child. A duplicate dequeue only revisits children that already
 * exist, so the node insertion order, and the id order, is exactly a plain BFS from the
 * sink that marks a node when it is first enqueued, with children in child order
 * (Select: keys, queries; Aggregate: selector, sop; SequenceMap: fst, snd).
 * tokens/indices are identified by kind: every copy of them is one Tracr node. */
int rasp_bfs_order(const RaspProgram *p, int *order) {
    if (p->output < 0 || p->output >= p->n_exprs) return 0;
    unsigned char *seen = calloc((size_t)p->n_exprs, 1);
    if (!seen) return 0;
    int prim_first[2] = {-1, -1}; /* first tokens / indices expr met */
    int n = 0, head = 0;
    order[n++] = p->output;
    seen[p->output] = 1;
    if (p->exprs[p->output].kind == EXPR_TOKENS) prim_first[0] = p->output;
    if (p->exprs[p->output].kind == EXPR_INDICES) prim_first[1] = p->output;
    while (head < n) {
        const RaspExpr *e = &p->exprs[order[head++]];
        for (int c = 0; c < 2; c++) {
            int ch = e->child[c];
            if (ch < 0 || ch >= p->n_exprs || seen[ch]) continue;
            ExprKind k = p->exprs[ch].kind;
            if (k == EXPR_TOKENS || k == EXPR_INDICES) {
                int slot = k == EXPR_TOKENS ? 0 : 1;
                if (prim_first[slot] >= 0) continue;
                prim_first[slot] = ch;
            }
            seen[ch] = 1;
            order[n++] = ch;
        }
    }
    free(seen);
    return n;
}

void rasp_assign_labels(RaspProgram *p) {
    if (p->output < 0) return;
    int *order = malloc((size_t)p->n_exprs * sizeof *order);
    if (!order) return;
    int n = rasp_bfs_order(p, order);
    int next_id = 1; /* Tracr's process-wide counter, fresh for one compile */
    for (int i = 0; i < n; i++) {
        RaspExpr *e = &p->exprs[order[i]];
        if (e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES) {
            /* primitives override .label, so they never draw an id */
            e->label = rasp_default_name(e->kind);
            continue;
        }
        int id = next_id++;
        if (e->user_named && e->name) {
            e->label = e->name;
        } else {
            char buf[64];
            snprintf(buf, sizeof buf, "%s_%d", rasp_default_name(e->kind), id);
            e->label = arena_strdup(&p->arena, buf);
            if (!e->name) e->name = rasp_default_name(e->kind);
        }
    }
    /* tokens/indices copies that BFS skipped (merged into the first) still get their label */
    for (int i = 0; i < p->n_exprs; i++) {
        RaspExpr *e = &p->exprs[i];
        if ((e->kind == EXPR_TOKENS || e->kind == EXPR_INDICES) && !e->label)
            e->label = rasp_default_name(e->kind);
    }
    free(order);
}

int rasp_post_order_into(const RaspProgram *p, int root, int *order, int *stack,
                         unsigned char *state) {
    if (root < 0 || root >= p->n_exprs) return -1;
    unsigned char *next = state + p->n_exprs; /* next child to try; state: 1 once pushed */
    memset(state, 0, 2 * (size_t)p->n_exprs);
    int n = 0, sp = 0;
    stack[sp++] = root;
    state[root] = 1;
    while (sp) {
        int x = stack[sp - 1];
        if (next[x] < 2) {
            int ch = p->exprs[x].child[next[x]++];
            if (ch >= 0 && ch < p->n_exprs && !state[ch]) {
                state[ch] = 1;
                stack[sp++] = ch;
            }
            continue;
        }
        sp--;
        order[n++] = x;
    }
    return n;
}

int rasp_post_order(const RaspProgram *p, int root, int *order) {
    if (root < 0 || root >= p->n_exprs) return -1;
    unsigned char *state = malloc(2 * (size_t)p->n_exprs);
    int *stack = malloc((size_t)p->n_exprs * sizeof *stack);
    if (!state || !stack) {
        fprintf(stderr, "itracr: out of memory\n");
        abort();
    }
    int n = rasp_post_order_into(p, root, order, stack, state);
    free(state);
    free(stack);
    return n;
}
