/* Layer allocation of program rows through the compiler's own allocator, so the canonical
 * order of program tokens follows the compiled layers exactly. */
#include <limits.h>

#include "compiler/alloc.h"
#include "gen/program_tokens.h"

int pt_layer_alloc(const PtOp *ops, int n, int *sub, int *mlp_layer) {
    if (n > PT_MAX_INPUT_EXPRS) n = PT_MAX_INPUT_EXPRS;
    enum { M = PT_MAX_INPUT_EXPRS + 2 };
    /* Nodes: 0 = tokens, 1 = indices, 2 + i = ops[i]. */
    AllocKind kind[M];
    bool is_sop[M];
    int off[M + 1], child[2 * M];
    int depth[M], attn_layer[M], mlp_l[M], attn_slot[M], mlp_slot[M], scratch[4 * M + 4];
    int nn = n + 2, ne = 0;
    kind[0] = kind[1] = ALLOC_NONE;
    is_sop[0] = is_sop[1] = true;
    off[0] = off[1] = off[2] = 0;
    for (int i = 0; i < n; i++) {
        const PtOp *o = &ops[i];
        switch (o->op) {
        case PT_OP_AGGREGATE: kind[i + 2] = ALLOC_ATTN; break;
        case PT_OP_SELWIDTH: kind[i + 2] = ALLOC_BOTH; break;
        case PT_OP_SELECT: kind[i + 2] = ALLOC_NONE; break;
        default: kind[i + 2] = ALLOC_MLP; break;
        }
        is_sop[i + 2] = o->op != PT_OP_SELECT;
        for (int j = 0; j < 2; j++) {
            int a = o->arg[j];
            if (a == PT_SRC_TOKENS) child[ne++] = 0;
            else if (a == PT_SRC_INDICES) child[ne++] = 1;
            else if (a >= 0 && a < i) child[ne++] = a + 2;
        }
        off[i + 3] = ne;
    }
    AllocGraph g = {nn, kind, is_sop, off, child};
    AllocResult r = {depth, attn_layer, mlp_l, attn_slot, mlp_slot, 0};
    int ok = alloc_layers(&g, &r, scratch) == 0;
    for (int i = 0; i < n; i++) {
        int v = i + 2;
        sub[i] = !ok ? -1 : ops[i].op == PT_OP_AGGREGATE ? attn_layer[v] : mlp_l[v];
        if (mlp_layer) mlp_layer[i] = ok ? mlp_slot[v] : -1;
    }
    return ok ? r.num_layers : 0;
}

void pt_sort_keys(const PtOp *ops, int n, int output, int *key) {
    int sub[PT_MAX_INPUT_EXPRS];
    unsigned char reach[PT_MAX_INPUT_EXPRS] = {0};
    if (n > PT_MAX_INPUT_EXPRS) n = PT_MAX_INPUT_EXPRS;
    pt_layer_alloc(ops, n, sub, NULL);
    if (output >= 0 && output < n) reach[output] = 1;
    for (int i = n - 1; i >= 0; i--)
        if (reach[i])
            for (int j = 0; j < 2; j++)
                if (ops[i].arg[j] >= 0 && ops[i].arg[j] < i) reach[ops[i].arg[j]] = 1;
    for (int i = 0; i < n; i++)
        key[i] = reach[i] && ops[i].op != PT_OP_SELECT && sub[i] >= 0 ? 2 * sub[i] + 1 : -1;
    /* A Select goes just before the attention sublayer of its earliest consumer. */
    for (int i = 0; i < n; i++) {
        if (!reach[i] || ops[i].op != PT_OP_SELECT) continue;
        int best = INT_MAX;
        for (int c = i + 1; c < n; c++) {
            if (!reach[c] || ops[c].arg[0] != i || sub[c] < 0) continue;
            if (ops[c].op == PT_OP_AGGREGATE) {
                if (sub[c] < best) best = sub[c];
            } else if (ops[c].op == PT_OP_SELWIDTH) {
                if (sub[c] - 1 < best) best = sub[c] - 1;
            }
        }
        key[i] = best == INT_MAX ? -1 : 2 * best;
    }
}
