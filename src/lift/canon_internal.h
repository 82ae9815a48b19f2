/* The canonicaliser's state (canon.c: embeddings, heads, order, rebuild; canon_mlp.c: MLPs). */
#ifndef ITRACR_LIFT_CANON_INTERNAL_H
#define ITRACR_LIFT_CANON_INTERNAL_H
#include <stdbool.h>

#include "lift/canon.h"

enum { AK_ONE, AK_CAT, AK_NUM, AK_SWB }; /* atom kinds; AK_SWB: a selector width's BOS copy */

/* hidden-unit kinds */
enum { U_DEAD, U_START, U_PAIR, U_LIN, U_SEQ, U_MAP, U_FREE, U_CLEAN };

typedef struct CanonUnit {
    int kind;
    double s; /* the scale tf_scale gave it (W1 column / s, W2 row * s undo it) */
    int blk;  /* block in this layer (units of a block stay together) */
    int x, y; /* atoms: PAIR/LIN: the input; SEQ: inputs (x's group first); MAP: output */
    double tau,
        sub; /* PAIR: the threshold its kink sits at, the start unit last; LIN: input, sign */
} CanonUnit;

typedef struct Canon {
    const CompiledModel *m;
    int D, M, N, V;
    double L;   /* mlp_exactness */
    double *at; /* [D, D]: row k = atom k in the given model's coordinates */
    int na;
    int *kind;    /* [D] AK_* */
    int *group;   /* [D] source that wrote it (one SOp each, except a Map's side-by-side twins) */
    int *copy_of; /* [D] a head's copy: the atom it copies, else -1 */
    int ngroups;
    int one, bos; /* atoms (-1 when absent) */
    int gidx;     /* the index directions' group */
    unsigned variant;
    int n_amb;    /* numerical atoms of unknown sign met so far */
    CanonUnit *u; /* [num_layers, M] */
    int nblk;     /* blocks so far (block ids are model-wide) */
    char *err;
    size_t errcap;
} Canon;

double canon_dot(const double *a, const double *b, int n);
/* coef[k] = <atom k, v> for k < n_atoms; returns |v - sum coef_k atom_k| / max(|v|, tiny). */
double canon_coefs(const Canon *c, const double *v, int n_atoms, double *coef);
/* Adds unit vector v as an atom (checked: unit norm, orthogonal to every atom); returns its
 * index, or -1 with the reason (naming `where`) in c->err. */
int canon_add_atom(Canon *c, const double *v, int kind, int group, const char *where);
/* The atom v is parallel to (same sign), or -1. */
int canon_find_atom(const Canon *c, const double *v);
/* Reads layer l's MLP: classifies, rescales and groups its units, adds its atoms. */
int canon_mlp(Canon *c, int l);

#endif
