#include "compiler/alloc.h"

#include <string.h>

/* Longest path from any source (a node without children), counting SOp nodes. */
static int depth_of(const AllocGraph *g, int v, int *depth) {
    if (depth[v] != -2) return depth[v];
    int a = g->child_off[v], b = g->child_off[v + 1];
    if (a == b) return depth[v] = 0;
    int best = -1;
    for (int e = a; e < b; e++) {
        int d = depth_of(g, g->child[e], depth);
        if (d > best) best = d;
    }
    return depth[v] = best < 0 ? -1 : best + (g->is_sop[v] ? 1 : 0);
}

int alloc_layers(const AllocGraph *g, AllocResult *res, int *scratch) {
    int n = g->n;
    for (int i = 0; i < n; i++) res->depth[i] = -2;
    for (int i = 0; i < n; i++) depth_of(g, i, res->depth);

    int mind = -1, maxd = -1;
    for (int i = 0; i < n; i++) {
        if (g->kind[i] == ALLOC_NONE || res->depth[i] < 0) continue;
        if (mind < 0 || res->depth[i] < mind) mind = res->depth[i];
        if (res->depth[i] > maxd) maxd = res->depth[i];
    }
    if (mind < 0) return 1;

    /* level[i] starts as the depth; each condensing step moves every level above d down. */
    int *level = scratch; /* [n] */
    for (int i = 0; i < n; i++) level[i] = res->depth[i];
    for (int d = mind; d < maxd;) {
        bool all_attn = true, all_mlp = true;
        for (int i = 0; i < n; i++) {
            if (g->kind[i] == ALLOC_NONE || level[i] < 0) continue;
            if (level[i] == d && g->kind[i] != ALLOC_ATTN) all_attn = false;
            if (level[i] == d + 1 && g->kind[i] != ALLOC_MLP) all_mlp = false;
        }
        if (all_attn && all_mlp) {
            for (int i = 0; i < n; i++)
                if (g->kind[i] != ALLOC_NONE && level[i] > d) level[i]--;
            maxd--;
        }
        d++;
    }

    int max_craft = -1;
    for (int i = 0; i < n; i++) {
        res->attn_layer[i] = res->mlp_layer[i] = -1;
        res->attn_slot[i] = res->mlp_slot[i] = -1;
        if (g->kind[i] == ALLOC_NONE || level[i] < 0) continue;
        int base = 2 * (level[i] - 1);
        if (g->kind[i] == ALLOC_ATTN || g->kind[i] == ALLOC_BOTH) res->attn_layer[i] = base;
        if (g->kind[i] == ALLOC_MLP || g->kind[i] == ALLOC_BOTH) res->mlp_layer[i] = base + 1;
        int top = base + (g->kind[i] == ALLOC_ATTN ? 0 : 1);
        if (top > max_craft) max_craft = top;
    }
    /* Non-empty craft layers in order take the next transformer slot of their own type
     * (slot 2l = layer l attention, 2l+1 = layer l MLP). */
    int *slot_of = scratch + n; /* [max_craft+1]; reuses the level scratch area */
    int cap = 3 * n + 3;
    if (max_craft + 1 > cap) return 1;
    for (int l = 0; l <= max_craft; l++) slot_of[l] = -1;
    for (int i = 0; i < n; i++) {
        if (res->attn_layer[i] >= 0) slot_of[res->attn_layer[i]] = 0;
        if (res->mlp_layer[i] >= 0) slot_of[res->mlp_layer[i]] = 0;
    }
    int next = 0, last = -1;
    for (int l = 0; l <= max_craft; l++) {
        if (slot_of[l] < 0) continue;
        int type = l & 1;
        if ((next & 1) != type) next++;
        slot_of[l] = next;
        last = next;
        next++;
    }
    for (int i = 0; i < n; i++) {
        if (res->attn_layer[i] >= 0) res->attn_slot[i] = slot_of[res->attn_layer[i]] / 2;
        if (res->mlp_layer[i] >= 0) res->mlp_slot[i] = slot_of[res->mlp_layer[i]] / 2;
    }
    res->num_layers = last / 2 + 1;
    return 0;
}
