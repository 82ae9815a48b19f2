/* Layer allocation (docs/tracr.md §2.5): longest-path depth counted in SOps, levels,
 * Tracr's condensing heuristic, craft layer indices and transformer slots.
 *
 * Works on an abstract graph so it can be tested on hand-made graphs: nodes in graph
 * insertion order (Tracr's BFS discovery order), each with its children. */
#ifndef ITRACR_COMPILER_ALLOC_H
#define ITRACR_COMPILER_ALLOC_H
#include <stdbool.h>

typedef enum {
    ALLOC_NONE, /* no block: tokens, indices, selectors */
    ALLOC_MLP,
    ALLOC_ATTN,
    ALLOC_BOTH /* SelectorWidth: attention head then MLP */
} AllocKind;

typedef struct AllocGraph {
    int n;
    const AllocKind *kind; /* [n] */
    const bool *is_sop;    /* [n]: selectors add 0 to the depth */
    const int *child_off;  /* [n+1]: children of i are child[child_off[i] .. child_off[i+1]) */
    const int *child;
} AllocGraph;

typedef struct AllocResult {
    int *depth;      /* [n]: -1 for nodes not reached from a source */
    int *attn_layer; /* [n]: craft layer index of the node's head, -1 if none */
    int *mlp_layer;  /* [n]: craft layer index of the node's MLP, -1 if none */
    int *attn_slot;  /* [n]: transformer layer holding the head, -1 if none */
    int *mlp_slot;   /* [n]: transformer layer holding the MLP, -1 if none */
    int num_layers;  /* transformer layers */
} AllocResult;

/* Every array of res must have room for g->n entries (scratch: 4*n+4 ints). Returns 0, or
 * non-zero when the graph has no model block (Tracr: "min of empty sequence"). */
int alloc_layers(const AllocGraph *g, AllocResult *res, int *scratch);

#endif
