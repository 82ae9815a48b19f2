/* canon_mlp (see canon_internal.h): an MLP layer's hidden units, recognised by what they read
 * (in the atoms known before the layer), rescaled to Tracr's constants, grouped into blocks,
 * and the atoms their blocks write. The unit kinds are Tracr's MLPs (docs/lift.md):
 *   START  reads only `one` (weight 1): a discretising MLP's start unit;
 *   PAIR   reads one direction x with slope L (and `one`): a discretising unit, kink at tau;
 *   LIN    reads one numerical x with weight -1 or +1, no `one`: a linear sequence map;
 *   SEQ    reads `one` with weight -1 and one direction of each of two categorical SOps;
 *   MAP    reads categorical directions with weight 1 (a table row) or f(v) (a numerical
 *          Map), writes one direction with weight 1;
 *   FREE   writes one direction and reads nothing (SequenceMap(f, x, x)'s unreached values);
 *   CLEAN  reads only BOS (the selector widths' shared clean-BOS unit). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/canon_internal.h"
#include "util/errmsg.h"

typedef struct Layer Layer;
static CanonUnit *U(Layer *y, int j);
struct Layer {
    Canon *c;
    int l, na0;
    double *ax;               /* [M] weight on the unit's input x (PAIR, LIN) */
    bool *lone;               /* [M] reads exactly one direction, not `one` */
    double *raw;              /* [M, D] the part of each W2 row outside the atoms known before */
    double *o;                /* [M, D] raw * s: the unit's write in Tracr's scale */
    int *mask_grp;            /* [M] MAP: the group its inputs belong to */
    unsigned long long *mask; /* [M] MAP: the inputs as bits of their group */
    int n_readers, words;
    unsigned long long *readby; /* [M, words] MAP: the later readers that read the unit's write */
};

static CanonUnit *U(Layer *y, int j) { return &y->c->u[(size_t)y->l * y->c->M + j]; }

/* Whether reader w [D, cols] (columns c0 .. c0+n-1: a later head's Q, K or V, a later W1
 * column, the unembedding) reads direction o [D]. */
static bool reads(const double *w, int cols, int c0, int n, const double *o, int D) {
    double ow = 0, ww = 0;
    for (int j = c0; j < c0 + n; j++) {
        double d = 0;
        for (int i = 0; i < D; i++)
            d += o[i] * w[(size_t)i * cols + j],
                ww += w[(size_t)i * cols + j] * w[(size_t)i * cols + j];
        ow += d * d;
    }
    return ow > 1e-12 * (ww > 0 ? ww : 1);
}

static bool tracked(Layer *y, int j) {
    return (U(y, j)->kind == U_MAP && y->mask_grp[j] >= 0) || U(y, j)->kind == U_SEQ;
}

/* Later readers that read each MAP or SEQ unit's write: directions one reader reads together
 * belong to one SOp (a head's query, key or value space, a table row's input, the output),
 * so a block can only hold units whose writes are read with each other. Units that read
 * `one` (sequence maps, discretising MLPs) read two SOps or a number and are no such reader. */
static void later_readers(Layer *y) {
    Canon *c = y->c;
    const CompiledModel *m = c->m;
    int D = c->D, M = c->M, H = m->num_heads, ks = m->key_size, HK = H * ks;
    int nr = (m->num_layers - y->l - 1) * (3 * H + M) + 1;
    y->words = (nr + 63) / 64;
    y->readby = calloc((size_t)M * (size_t)y->words + 1, sizeof(unsigned long long));
    int r = 0;
    for (int l = y->l + 1; l <= m->num_layers; l++) {
        const ModelLayer *L = l < m->num_layers ? &m->layers[l] : NULL;
        int nc = L ? 3 * H + M : 1;
        for (int k = 0; k < nc; k++, r++) {
            const double *w = !L          ? m->unembed
                              : k < 3 * H ? (k < H       ? L->q
                                             : k < 2 * H ? L->k
                                                         : L->v)
                                          : L->w1;
            int cols = !L          ? m->n_out
                       : k < 3 * H ? HK
                                   : M,
                c0 = !L          ? 0
                     : k < 3 * H ? (k % H) * ks
                                 : k - 3 * H;
            int n = !L ? m->n_out : k < 3 * H ? ks : 1;
            if (L && k >= 3 * H && c->one >= 0 &&
                reads(w, cols, c0, n, c->at + (size_t)c->one * D, D))
                continue;
            for (int j = 0; j < M; j++)
                if (tracked(y, j) && reads(w, cols, c0, n, y->o + (size_t)j * D, D))
                    y->readby[(size_t)j * y->words + r / 64] |= 1ULL << (r % 64);
        }
    }
    y->n_readers = r;
}

static bool share_reader(Layer *y, int j, int k) {
    for (int w = 0; w < y->words; w++)
        if (y->readby[(size_t)j * y->words + w] & y->readby[(size_t)k * y->words + w]) return true;
    return false;
}

/* Whether the cover stack[n] is closed: no unit outside it (reading group g) shares a reader
 * with one inside. */
static bool cover_closed(Layer *y, const int *stack, int n, int g) {
    for (int k = 0; k < y->c->M; k++) {
        bool in = false;
        for (int i = 0; i < n && !in; i++) in = stack[i] == k;
        if (in || U(y, k)->kind != U_MAP || U(y, k)->blk >= 0 || y->mask_grp[k] != g) continue;
        for (int i = 0; i < n; i++)
            if (share_reader(y, stack[i], k)) return false;
    }
    return true;
}

static int unit_fail(Layer *y, int j, const char *why) {
    return err_printf(y->c->err, y->c->errcap, "layer %d MLP unit %d: %s", y->l, j, why);
}

static double norm(const double *v, int D) { return sqrt(canon_dot(v, v, D)); }

/* Kind, scale and inputs of unit j from its W1 column. */
static int classify(Layer *y, int j) {
    Canon *c = y->c;
    const ModelLayer *L = &c->m->layers[y->l];
    int D = c->D, M = c->M;
    CanonUnit *u = &c->u[(size_t)y->l * M + j];
    double *col = malloc(sizeof(double) * (size_t)D * 2), *coef = col + D; /* [D] each */
    for (int d = 0; d < D; d++) col[d] = L->w1[(size_t)d * M + j];
    int rc = 0;
    if (norm(col, D) > 0 && canon_coefs(c, col, y->na0, coef) > CANON_TOL) {
        free(col);
        return unit_fail(y, j, "reads a direction no earlier block writes");
    }
    if (norm(col, D) == 0) memset(coef, 0, sizeof(double) * (size_t)D);
    double mx = 0, a_one = 0, n_raw = norm(y->raw + (size_t)j * D, D);
    for (int k = 0; k < y->na0; k++) mx = fmax(mx, fabs(coef[k]));
    int nin = 0, in[2] = {-1, -1};
    bool all_cat = true;
    for (int k = 0; k < y->na0; k++) {
        if (fabs(coef[k]) <= CANON_ZERO * mx || mx == 0) continue;
        if (k == c->one) {
            a_one = coef[k];
            continue;
        }
        if (nin < 2) in[nin] = k;
        nin++;
        all_cat &= c->kind[k] == AK_CAT;
    }
    u->x = in[0], u->y = in[1];
    int x = in[0];
    if (mx == 0) u->kind = n_raw > 1e-9 ? U_FREE : U_DEAD, u->s = n_raw > 1e-9 ? 1 / n_raw : 1;
    else if (nin == 0 && a_one > 0) u->kind = U_START, u->s = a_one, u->tau = INFINITY;
    else if (nin == 1 && x == c->bos && a_one == 0 && coef[x] > 0)
        u->kind = U_CLEAN, u->s = coef[x];
    else if (nin == 1 && (a_one != 0 || c->kind[x] != AK_CAT) && coef[x] > 0)
        u->kind = U_PAIR, u->s = coef[x] / c->L, u->tau = -a_one / coef[x];
    else if (nin == 1 && a_one == 0 && coef[x] < 0) u->kind = U_LIN, u->s = -coef[x];
    else if (nin == 2 && a_one < 0 && c->group[in[0]] != c->group[in[1]]) {
        u->kind = U_SEQ, u->s = -a_one;
        if (c->group[in[1]] < c->group[in[0]]) u->x = in[1], u->y = in[0];
    } else if (nin >= 1 && a_one == 0 && all_cat) {
        u->kind = U_MAP, u->s = n_raw > 1e-9 ? 1 / n_raw : mx;
        int g = c->group[x];
        unsigned long long bits = 0;
        bool exact = true; /* a table row: weight 1 on each value of its preimage */
        for (int k = 0, i = 0; k < y->na0; k++) {
            if (c->group[k] != g) continue;
            if (fabs(coef[k]) > CANON_ZERO * mx) {
                exact &= fabs(coef[k] / u->s - 1) < CANON_TOL * 10;
                if (i < 64) bits |= 1ULL << i;
            }
            i++;
        }
        for (int k = 0; k < y->na0; k++)
            if (fabs(coef[k]) > CANON_ZERO * mx && c->group[k] != g)
                rc = unit_fail(y, j, "a map unit reads several SOps");
        y->mask_grp[j] = exact ? g : -1;
        y->mask[j] = bits;
    } else rc = unit_fail(y, j, "reads its inputs in none of Tracr's MLP shapes");
    y->ax[j] = x >= 0 ? coef[x] : 0;
    y->lone[j] = nin == 1 && a_one == 0;
    free(col);
    return rc;
}

/* ---- blocks ------------------------------------------------------------------------------ */

/* Splits the table-row units reading group g into exact covers of its values (one block
 * each, the first cover found); the rest are numerical Maps, a block each. */
static void cover_blocks(Layer *y, int g, int n_vals) {
    Canon *c = y->c;
    int M = c->M;
    unsigned long long full = n_vals >= 64 ? ~0ULL : (1ULL << n_vals) - 1;
    int *stack = malloc(sizeof(int) * (size_t)(M + 1)),
        *next = malloc(sizeof(int) * (size_t)(M + 1));
    for (;;) {
        /* depth-first: the unit covering the lowest uncovered value, among unassigned units */
        int depth = 0;
        unsigned long long cov = 0;
        long steps = 0;
        next[0] = 0;
        bool first_pass = true;
        while (steps++ < 200000) {
            if (cov == full) {
                if (!first_pass || cover_closed(y, stack, depth, g)) break;
                depth--; /* not closed: look further */
                cov &= ~y->mask[stack[depth]];
                continue;
            }
            int low = 0;
            while (cov >> low & 1) low++;
            int j = next[depth];
            while (j < M && !(U(y, j)->blk < 0 && U(y, j)->kind == U_MAP && y->mask_grp[j] == g &&
                              (y->mask[j] >> low & 1) && !(y->mask[j] & cov)))
                j++;
            if (j < M) {
                stack[depth] = j, next[depth] = j + 1;
                cov |= y->mask[j];
                next[++depth] = 0;
            } else if (depth > 0) {
                depth--;
                cov &= ~y->mask[stack[depth]];
            } else if (first_pass) { /* no closed cover: take the first cover found */
                first_pass = false;
                next[0] = 0;
                cov = 0;
            } else break;
        }
        if (cov != full || depth == 0) break;
        int b = c->nblk++;
        for (int i = 0; i < depth; i++) U(y, stack[i])->blk = b;
    }
    free(stack), free(next);
}

/* Whether block b is empty or reads the same two SOps as SEQ unit j. */
static bool seq_same_inputs(Layer *y, int j, int b) {
    Canon *c = y->c;
    for (int k = 0; k < c->M; k++)
        if (U(y, k)->blk == b)
            return c->group[U(y, k)->x] == c->group[U(y, j)->x] &&
                   c->group[U(y, k)->y] == c->group[U(y, j)->y];
    return true;
}

static int uf_find(int *p, int i) {
    while (p[i] != i) i = p[i] = p[p[i]];
    return i;
}

/* Whether unit j's (x, y) pair is already in block b. */
static bool pair_taken(Layer *y, int j, int b) {
    for (int k = 0; k < y->c->M; k++)
        if (U(y, k)->blk == b && U(y, k)->kind == U_SEQ && U(y, k)->x == U(y, j)->x &&
            U(y, k)->y == U(y, j)->y)
            return true;
    return false;
}

/* Sequence-map units reading the same two SOps, one block per SequenceMap: units writing the
 * same direction or directions a later reader reads together are one SequenceMap; each
 * connected set goes to the first block that lacks its value pairs (units that write nothing,
 * None, fill the blocks that miss their pair). */
static void seq_blocks(Layer *y, int *parent) {
    Canon *c = y->c;
    int M = c->M, D = c->D;
    for (int j = 0; j < M; j++) parent[j] = j;
    for (int j = 0; j < M; j++)
        for (int k = j + 1; k < M && U(y, j)->kind == U_SEQ; k++) {
            CanonUnit *u = U(y, j), *v = U(y, k);
            if (v->kind != U_SEQ || c->group[u->x] != c->group[v->x] ||
                c->group[u->y] != c->group[v->y])
                continue;
            const double *oj = y->o + (size_t)j * D, *ok = y->o + (size_t)k * D;
            double nj = norm(oj, D), nk = norm(ok, D);
            if ((nj > 1e-3 && nk > 1e-3 && canon_dot(oj, ok, D) > (1 - CANON_TOL) * nj * nk) ||
                share_reader(y, j, k))
                parent[uf_find(parent, k)] = uf_find(parent, j);
        }
    int first = c->nblk;
    for (int size = M; size >= 1; size--) /* larger sets first: None units last */
        for (int r = 0; r < M; r++) {
            if (U(y, r)->kind != U_SEQ || uf_find(parent, r) != r) continue;
            int n = 0;
            for (int j = 0; j < M; j++) n += U(y, j)->kind == U_SEQ && uf_find(parent, j) == r;
            if (n != size) continue;
            int b = first;
            for (; b < c->nblk; b++) {
                bool ok = true;
                for (int j = 0; j < M && ok; j++)
                    if (U(y, j)->kind == U_SEQ && uf_find(parent, j) == r)
                        ok = !pair_taken(y, j, b) && seq_same_inputs(y, j, b);
                if (ok) break;
            }
            if (b == c->nblk) c->nblk++;
            for (int j = 0; j < M; j++)
                if (U(y, j)->kind == U_SEQ && uf_find(parent, j) == r) U(y, j)->blk = b;
        }
}

static bool overlap(Layer *y, int j, int k) {
    const double *a = y->o + (size_t)j * y->c->D, *b = y->o + (size_t)k * y->c->D;
    double na = norm(a, y->c->D), nb = norm(b, y->c->D);
    return na > 1e-6 && nb > 1e-6 && fabs(canon_dot(a, b, y->c->D)) > CANON_TOL * na * nb;
}

/* Several discretising MLPs on one input x in one layer (Map(f, x) and Map(g, x) side by
 * side): every threshold then has B pairs. A block's nonzero steps and its start unit share
 * output directions (a numerical block writes along one, a categorical one's steps chain its
 * values), so they are split by overlap of their writes; pairs that write nothing fill the
 * blocks that miss their threshold. With B = 1 the units stay unassigned (one block). */
static void split_pairs(Layer *y, int x, int *list, int *parent) {
    Canon *c = y->c;
    int M = c->M, n = 0;
    for (int j = 0; j < M; j++)
        if (U(y, j)->kind == U_PAIR && U(y, j)->x == x && U(y, j)->blk < 0) list[n++] = j;
    for (int i = 1; i < n; i++) /* by tau */
        for (int k = i; k > 0 && U(y, list[k - 1])->tau > U(y, list[k])->tau; k--) {
            int t = list[k];
            list[k] = list[k - 1];
            list[k - 1] = t;
        }
    int B = 1;
    while (B < n &&
           fabs(U(y, list[B])->tau - U(y, list[0])->tau) < 1e-6 * (1 + fabs(U(y, list[0])->tau)))
        B++;
    if (B == 1 || n % (2 * B)) return;
    for (int j = 0; j < M; j++) parent[j] = j;
    for (int i = 0; i < n; i++) /* writes that overlap: one block (starts included) */
        for (int k = 0; k < M; k++)
            if ((U(y, k)->kind == U_START || (U(y, k)->kind == U_PAIR && U(y, k)->x == x)) &&
                overlap(y, list[i], k))
                parent[uf_find(parent, k)] = uf_find(parent, list[i]);
    int first = c->nblk;
    c->nblk += B;
    for (int i = 0; i < n; i++) { /* components to blocks, in order of first appearance */
        int r = uf_find(parent, list[i]), b = -1;
        if (norm(y->o + (size_t)list[i] * c->D, c->D) <= 1e-6) continue;
        for (int k = 0; k < i && b < 0; k++)
            if (U(y, list[k])->blk >= 0 && uf_find(parent, list[k]) == r) b = U(y, list[k])->blk;
        for (int bb = first; bb < first + B && b < 0; bb++) {
            bool used = false;
            for (int k = 0; k < i; k++) used |= U(y, list[k])->blk == bb;
            if (!used) b = bb;
        }
        if (b < 0) b = first; /* more components than blocks: lift will refuse */
        U(y, list[i])->blk = b;
    }
    for (int i = 0; i < n; i++) { /* writes nothing: the blocks lacking this kink */
        if (U(y, list[i])->blk >= 0) continue;
        int cl = i - i % B; /* its cluster of B equal taus */
        for (int bb = first; bb < first + B && U(y, list[i])->blk < 0; bb++) {
            bool has = false;
            for (int k = cl; k < cl + B; k++) has |= U(y, list[k])->blk == bb;
            if (!has) U(y, list[i])->blk = bb;
        }
    }
    for (int j = 0; j < M; j++) /* a start that shares writes with a block is its start */
        if (U(y, j)->kind == U_START && U(y, j)->blk < 0)
            for (int i = 0; i < n && U(y, j)->blk < 0; i++)
                if (uf_find(parent, j) == uf_find(parent, list[i]) &&
                    norm(y->o + (size_t)list[i] * c->D, c->D) > 1e-6)
                    U(y, j)->blk = U(y, list[i])->blk;
}

/* The discretising blocks (PAIR units by input, sorted by tau; START units matched to the
 * block their region values fit), seqmap blocks by input pair, the rest alone. */
static int group_units(Layer *y) {
    Canon *c = y->c;
    int M = c->M;
    for (int j = 0; j < M; j++) U(y, j)->blk = -1;
    /* units reading one direction x alone: a linear sequence map's come in pairs of opposite
     * weights on x; a negative one without a partner is a numerical Map's (f(v) < 0) */
    for (int j = 0; j < M; j++) {
        CanonUnit *u = U(y, j);
        if (!y->lone[j] ||
            (u->kind != U_LIN && u->kind != U_MAP && !(u->kind == U_PAIR && u->tau == 0)))
            continue;
        bool partner = false;
        for (int k = 0; k < M && !partner; k++)
            partner =
                k != j && y->lone[k] && U(y, k)->x == u->x && (y->ax[k] > 0) != (y->ax[j] > 0);
        if (partner)
            u->kind = U_LIN, u->s = fabs(y->ax[j]), u->sub = y->ax[j] > 0, y->mask_grp[j] = -1;
        else if (u->kind == U_LIN) {
            double nr = norm(y->raw + (size_t)j * c->D, c->D);
            u->kind = U_MAP, u->s = nr > 1e-9 ? 1 / nr : -y->ax[j], y->mask_grp[j] = -1;
        }
    }
    for (int j = 0; j < M; j++)
        for (int d = 0; d < c->D; d++)
            y->o[(size_t)j * c->D + d] = y->raw[(size_t)j * c->D + d] * U(y, j)->s;
    later_readers(y);
    for (int g = 0; g < c->ngroups; g++) {
        int n = 0;
        for (int k = 0; k < y->na0; k++) n += c->group[k] == g;
        if (n > 64)
            return err_printf(c->err, c->errcap, "layer %d: a map over more than 64 values", y->l);
        cover_blocks(y, g, n);
    }
    int *parent = malloc(sizeof(int) * (size_t)M * 2), *list = parent + M; /* [M] each */
    seq_blocks(y, parent);
    for (int j = 0; j < M; j++)
        if (U(y, j)->kind == U_PAIR && U(y, j)->blk < 0) split_pairs(y, U(y, j)->x, list, parent);
    free(parent);
    int free_blk = -1, n_cover = 0;
    for (int j = 0; j < M; j++)
        if (U(y, j)->kind == U_MAP && U(y, j)->blk >= 0 && U(y, j)->blk != free_blk)
            free_blk = U(y, j)->blk, n_cover++;
    for (int j = 0; j < M; j++) {
        CanonUnit *u = U(y, j);
        if (u->blk >= 0 || u->kind == U_DEAD || u->kind == U_START) continue;
        if (u->kind == U_FREE) {
            if (n_cover != 1)
                return unit_fail(
                    y, j, "writes without reading, beside no single table it could belong to");
            u->blk = free_blk;
            continue;
        }
        u->blk = c->nblk++;
        for (int k = j + 1; k < M; k++) {
            CanonUnit *v = U(y, k);
            const double *oj = y->o + (size_t)j * c->D, *ok = y->o + (size_t)k * c->D;
            bool same =
                v->blk < 0 && v->kind == u->kind &&
                ((u->kind == U_PAIR && v->x == u->x) ||
                 (u->kind == U_LIN && fabs(canon_dot(oj, ok, c->D)) >
                                          (1 - CANON_TOL) * norm(oj, c->D) * norm(ok, c->D)));
            if (same) v->blk = u->blk;
        }
    }
    return 0;
}

/* ---- atoms ------------------------------------------------------------------------------- */
/* The atom of o [D] (a unit write in Tracr's scale), found or added to group g. */
static int write_atom(Layer *y, int j, const double *o, int kind, int g) {
    Canon *c = y->c;
    char where[64];
    snprintf(where, sizeof where, "layer %d MLP unit %d", y->l, j);
    int a = canon_find_atom(c, o);
    if (a >= 0 && (a < y->na0 || c->group[a] != g)) {
        unit_fail(y, j, "writes a direction another block writes");
        return -1;
    }
    return a >= 0 ? a : canon_add_atom(c, o, kind, g, where);
}

/* The units of block b in order of tau (PAIR) and the start unit (or -1). */
static int block_units(Layer *y, int b, int *list) {
    int n = 0, M = y->c->M;
    for (int j = 0; j < M; j++)
        if (U(y, j)->blk == b) list[n++] = j;
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && U(y, list[k - 1])->tau > U(y, list[k])->tau; k--) {
            int t = list[k];
            list[k] = list[k - 1];
            list[k - 1] = t;
        }
    return n;
}

/* A discretising block: units[n] (pairs by tau, then the start unit). Region r's write is
 * start + the first unit of each pair up to r. Numerical when every region writes along one
 * direction; categorical when each region writes one unit direction. Returns 0 when they fit;
 * with commit, adds the atoms (a selector width's in width order: its regions run from width
 * N down to 0). */
static int chain(Layer *y, const int *units, int n, bool commit, int g) {
    Canon *c = y->c;
    int D = c->D, nr = n / 2 + 1;
    if (n % 2 == 0 || U(y, units[n - 1])->kind != U_START) return 1;
    double *R = malloc(sizeof(double) * (size_t)nr * D); /* [nr, D] region writes */
    memcpy(R, y->o + (size_t)units[n - 1] * D, sizeof(double) * (size_t)D);
    int rc = 0, first = -1;
    for (int r = 1; r < nr && !rc; r++) {
        const double *p0 = y->o + (size_t)units[2 * r - 2] * D,
                     *p1 = y->o + (size_t)units[2 * r - 1] * D;
        for (int d = 0; d < D; d++) {
            R[(size_t)r * D + d] = R[(size_t)(r - 1) * D + d] + p0[d];
            if (fabs(p0[d] + p1[d]) > CANON_TOL * (1 + fabs(p0[d]))) rc = 1; /* opposite steps */
        }
    }
    bool numerical = true, categorical = true;
    for (int r = 0; r < nr && !rc; r++) {
        const double *v = R + (size_t)r * D;
        double nv = norm(v, D);
        categorical &= fabs(nv - 1) < CANON_TOL;
        if (nv < 1e-6) continue;
        if (first < 0) first = r;
        const double *f = R + (size_t)first * D;
        numerical &= fabs(fabs(canon_dot(v, f, D)) - nv * norm(f, D)) < CANON_TOL * nv * norm(f, D);
        for (int q = 0; q < r && categorical; q++) {
            double d = canon_dot(v, R + (size_t)q * D, D);
            categorical = fabs(d) < CANON_TOL || fabs(d - 1) < CANON_TOL;
        }
    }
    if (!rc && first < 0) rc = 1;
    if (!rc && !numerical && !categorical) rc = 1;
    if (!rc && commit && numerical) {
        double *e = malloc(sizeof(double) * (size_t)D), nf = norm(R + (size_t)first * D, D);
        double sg = (c->variant >> (1 + c->n_amb) & 1) ? -1 : 1;
        c->n_amb++;
        for (int d = 0; d < D; d++) e[d] = sg * R[(size_t)first * D + d] / nf;
        rc = write_atom(y, units[0], e, AK_NUM, g) < 0;
        free(e);
    } else if (!rc && commit) {
        bool sw = c->kind[U(y, units[0])->x] == AK_SWB;
        for (int i = 0; i < nr && !rc; i++) {
            int r = sw ? nr - 1 - i : i;
            rc = write_atom(y, units[0], R + (size_t)r * D, AK_CAT, g) < 0;
        }
    }
    free(R);
    return rc;
}

/* Gives each START unit the PAIR block whose regions it fits (depth-first matching). */
static bool has_start(Layer *y, int b) {
    for (int j = 0; j < y->c->M; j++)
        if (U(y, j)->blk == b && U(y, j)->kind == U_START) return true;
    return false;
}

static int match_starts(Layer *y, const int *starts, int ns, const int *blocks, int nb, int *list) {
    if (ns == 0) {
        for (int i = 0; i < nb; i++)
            if (!has_start(y, blocks[i])) return 1;
        return 0;
    }
    for (int i = 0; i < nb; i++) {
        int b = blocks[i];
        if (has_start(y, b)) continue;
        CanonUnit *s = U(y, starts[0]);
        s->blk = b;
        int n = block_units(y, b, list);
        if (!chain(y, list, n, false, -1) && !match_starts(y, starts + 1, ns - 1, blocks, nb, list))
            return 0;
        s->blk = -1;
    }
    return 1;
}

/* The atoms block b writes. */
static int block_write(Layer *y, int b, int *list) {
    Canon *c = y->c;
    int D = c->D, n = block_units(y, b, list), g = c->ngroups++, kind = U(y, list[0])->kind;
    if (kind == U_PAIR) {
        if (!chain(y, list, n, true, g)) return 0;
        return c->err[0]
                   ? 1
                   : unit_fail(
                         y, list[0],
                         "a discretising MLP whose regions write neither one number nor one-hot values");
    }
    if (kind == U_CLEAN) return 0;
    if (kind == U_LIN) {
        int f = -1;
        for (int i = 0; i < n && f < 0; i++)
            if (norm(y->o + (size_t)list[i] * D, D) > 1e-6) f = list[i];
        if (f < 0) return unit_fail(y, list[0], "a linear sequence map that writes nothing");
        double *e = malloc(sizeof(double) * (size_t)D), nf = norm(y->o + (size_t)f * D, D);
        double sg = (c->variant >> (1 + c->n_amb) & 1) ? -1 : 1;
        c->n_amb++;
        for (int d = 0; d < D; d++) e[d] = sg * y->o[(size_t)f * D + d] / nf;
        int rc = write_atom(y, f, e, AK_NUM, g) < 0;
        free(e);
        /* which input comes first, the negative unit of each first */
        for (int i = 0; i < n; i++) U(y, list[i])->tau = U(y, list[i])->x != U(y, list[0])->x;
        return rc;
    }
    for (int i = 0; i < n; i++) { /* MAP, FREE, SEQ: one direction per unit, weight 1 */
        CanonUnit *u = U(y, list[i]);
        const double *o = y->o + (size_t)list[i] * D;
        int a = -1;
        if (norm(o, D) > 1e-3) {
            int ak = kind == U_MAP && y->mask_grp[list[i]] < 0 ? AK_NUM : AK_CAT;
            if ((a = write_atom(y, list[i], o, ak, g)) < 0) return 1;
        }
        if (u->kind != U_SEQ) u->y = a;
    }
    return 0;
}

int canon_mlp(Canon *c, int l) {
    const ModelLayer *L = &c->m->layers[l];
    int D = c->D, M = c->M, rc = 0;
    if (M == 0) return 0;
    Layer y = {.c = c, .l = l, .na0 = c->na};
    y.ax = malloc(sizeof(double) * (size_t)M);                            /* [M] */
    y.lone = calloc((size_t)M, sizeof(bool));                             /* [M] */
    y.raw = malloc(sizeof(double) * (size_t)M * D * 2);                   /* [M, D] */
    y.o = y.raw + (size_t)M * D;                                          /* [M, D] */
    y.mask_grp = malloc(sizeof(int) * (size_t)M * 4);                     /* [M] */
    int *list = y.mask_grp + M, *starts = list + M, *blocks = starts + M; /* [M] each */
    y.mask = calloc((size_t)M, sizeof(unsigned long long));               /* [M] */
    double *coef = malloc(sizeof(double) * (size_t)D);                    /* [D] */
    c->err[0] = 0;
    for (int j = 0; j < M; j++) {
        const double *w = L->w2 + (size_t)j * D;
        canon_coefs(c, w, y.na0, coef);
        for (int d = 0; d < D; d++) {
            double r = w[d];
            for (int k = 0; k < y.na0; k++) r -= coef[k] * c->at[(size_t)k * D + d];
            y.raw[(size_t)j * D + d] = r;
        }
        y.mask_grp[j] = -1;
    }
    for (int j = 0; j < M && !rc; j++) rc = classify(&y, j);
    int blk0 = c->nblk, ns = 0, nb = 0;
    if (!rc) rc = group_units(&y);
    for (int j = 0; j < M && !rc; j++) {
        if (U(&y, j)->kind == U_START && U(&y, j)->blk < 0) starts[ns++] = j;
        if (U(&y, j)->kind == U_PAIR && (nb == 0 || blocks[nb - 1] != U(&y, j)->blk)) {
            bool seen = false;
            for (int i = 0; i < nb; i++) seen |= blocks[i] == U(&y, j)->blk;
            if (!seen) blocks[nb++] = U(&y, j)->blk;
        }
    }
    if (!rc && match_starts(&y, starts, ns, blocks, nb, list))
        rc = err_printf(
            c->err, c->errcap,
            "layer %d MLP: its discretising units and start units do not pair into Tracr's blocks",
            l);
    for (int b = blk0; b < c->nblk && !rc; b++) rc = block_write(&y, b, list);
    for (int j = 0; j < M && !rc; j++) {
        const double *w = L->w2 + (size_t)j * D;
        if (norm(w, D) > 0 && canon_coefs(c, w, c->na, coef) > CANON_TOL)
            rc = unit_fail(&y, j, "writes outside the directions its block explains");
    }
    free(y.ax), free(y.lone), free(y.readby), free(y.raw), free(y.mask_grp), free(y.mask),
        free(coef);
    return rc;
}
