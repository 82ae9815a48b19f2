/* lift_canon (see canon.h): the atoms of the embeddings and heads, their order, and the model
 * rewritten into them. The MLPs are in canon_mlp.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lift/canon_internal.h"
#include "transform/transform.h"
#include "util/errmsg.h"

double canon_dot(const double *a, const double *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

double canon_coefs(const Canon *c, const double *v, int n_atoms, double *coef) {
    int D = c->D;
    double nv = sqrt(canon_dot(v, v, D)), r2 = 0;
    for (int k = 0; k < n_atoms; k++) coef[k] = canon_dot(c->at + (size_t)k * D, v, D);
    for (int i = 0; i < D; i++) {
        double r = v[i];
        for (int k = 0; k < n_atoms; k++) r -= coef[k] * c->at[(size_t)k * D + i];
        r2 += r * r;
    }
    return sqrt(r2) / (nv > 1e-300 ? nv : 1e-300);
}

int canon_find_atom(const Canon *c, const double *v) {
    for (int k = 0; k < c->na; k++)
        if (canon_dot(c->at + (size_t)k * c->D, v, c->D) > 1 - CANON_TOL) return k;
    return -1;
}

int canon_add_atom(Canon *c, const double *v, int kind, int group, const char *where) {
    int D = c->D;
    if (c->na == D) {
        err_printf(c->err, c->errcap,
                   "%s: writes more directions than the residual stream has (%d)", where, D);
        return -1;
    }
    if (fabs(sqrt(canon_dot(v, v, D)) - 1) > CANON_TOL) {
        err_printf(c->err, c->errcap, "%s: a written direction is not a unit vector (norm %.6g)",
                   where, sqrt(canon_dot(v, v, D)));
        return -1;
    }
    for (int k = 0; k < c->na; k++)
        if (fabs(canon_dot(c->at + (size_t)k * D, v, D)) > CANON_TOL) {
            err_printf(c->err, c->errcap,
                       "%s: a written direction is not orthogonal to the directions written before",
                       where);
            return -1;
        }
    memcpy(c->at + (size_t)c->na * D, v, sizeof(double) * (size_t)D);
    c->kind[c->na] = kind;
    c->group[c->na] = group;
    c->copy_of[c->na] = -1;
    return c->na++;
}

/* Appends row to the orthonormal basis q [*n, D] when it is independent of it. */
static void gs_add(double *q, int *n, const double *row, int D) {
    double *r = q + (size_t)*n * D, nr0 = sqrt(canon_dot(row, row, D));
    if (*n >= D || nr0 < 1e-12) return;
    memcpy(r, row, sizeof(double) * (size_t)D);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < *n; k++) {
            double d = canon_dot(q + (size_t)k * D, r, D);
            for (int i = 0; i < D; i++) r[i] -= d * q[(size_t)k * D + i];
        }
    double nr = sqrt(canon_dot(r, r, D));
    if (nr <= 1e-3 * nr0) return;
    for (int i = 0; i < D; i++) r[i] /= nr;
    (*n)++;
}

/* u [D]: the unit vector orthogonal to every written row (positions, heads' outputs, MLP
 * outputs) and to the token rows: with them it spans the residual stream, and `one` lies in
 * the plane of u and the token rows. Returns 0, or 1 when that space is not one-dimensional. */
static int complement(Canon *c, double *u) {
    const CompiledModel *m = c->m;
    int D = c->D, HK = m->num_heads * m->key_size, n = 0;
    double *q = malloc(sizeof(double) * (size_t)(D + 1) * D); /* [D + 1, D] basis */
    for (int p = 1; p <= c->N; p++) gs_add(q, &n, m->pos_embed + (size_t)p * D, D);
    for (int t = 0; t < c->V; t++) gs_add(q, &n, m->token_embed + (size_t)t * D, D);
    for (int l = 0; l < m->num_layers; l++) {
        for (int r = 0; r < HK; r++) gs_add(q, &n, m->layers[l].o + (size_t)r * D, D);
        for (int j = 0; j < c->M; j++) gs_add(q, &n, m->layers[l].w2 + (size_t)j * D, D);
    }
    int rank = n;
    for (int i = 0; i < D && n == rank; i++) {
        double *e = calloc((size_t)D, sizeof(double));
        e[i] = 1;
        gs_add(q, &n, e, D);
        free(e);
    }
    if (n > rank) memcpy(u, q + (size_t)rank * D, sizeof(double) * (size_t)D);
    free(q);
    if (rank != D - 1)
        return err_printf(
            c->err, c->errcap,
            "token embedding: the written directions leave %d dimensions for `one`, not 1",
            D - rank);
    return 0;
}

/* `one` (when the token rows share it), the token directions (token id order), the index
 * directions (position order). */
static int canon_embeddings(Canon *c) {
    const CompiledModel *m = c->m;
    int D = c->D, V = c->V;
    bool shared = V > 1;
    for (int t = 0; t < V && shared; t++)
        for (int s = 0; s < t && shared; s++)
            shared =
                fabs(canon_dot(m->token_embed + (size_t)t * D, m->token_embed + (size_t)s * D, D) -
                     1) < CANON_TOL;
    double *v = malloc(sizeof(double) * (size_t)D * 2), *one = v + D; /* [D] each */
    int rc = 0;
    if (shared) {
        /* the token rows are one + tok_t: `one` = mean-direction w (<w, row> = 1 for every
         * row) plus or minus u / sqrt(V + 1); both signs give orthonormal token directions */
        if (complement(c, v)) goto fail;
        double sg = (c->variant & 1) ? -1 : 1;
        for (int i = 0; i < D; i++) {
            double w = 0;
            for (int t = 0; t < V; t++) w += m->token_embed[(size_t)t * D + i];
            one[i] = w / (V + 1) + sg * v[i] / sqrt(V + 1.0);
        }
        if ((c->one = canon_add_atom(c, one, AK_ONE, c->ngroups++, "token embedding")) < 0)
            goto fail;
    }
    int gt = c->ngroups++;
    for (int t = 0; t < V; t++) {
        for (int i = 0; i < D; i++)
            v[i] = m->token_embed[(size_t)t * D + i] - (shared ? one[i] : 0);
        int g = t == m->bos_id || t == m->pad_id ? c->ngroups++ : gt;
        int k = canon_add_atom(c, v, AK_CAT, g, "token embedding");
        if (k < 0) goto fail;
        if (t == m->bos_id) c->bos = k;
    }
    if (sqrt(canon_dot(m->pos_embed, m->pos_embed, D)) > CANON_TOL) {
        rc = err_printf(c->err, c->errcap, "position embedding: row 0 (BOS) is not zero");
        goto out;
    }
    c->gidx = c->ngroups++;
    for (int p = 1; p <= c->N; p++)
        if (canon_add_atom(c, m->pos_embed + (size_t)p * D, AK_CAT, c->gidx, "position embedding") <
            0)
            goto fail;
    goto out;
fail:
    rc = 1;
out:
    free(v);
    return rc;
}

/* Every column of w [D, cols] (columns c0 .. c0+n-1) lies in the span of the first n_atoms atoms. */
static int reads_known(Canon *c, const double *w, int cols, int c0, int n, int n_atoms,
                       const char *where) {
    int D = c->D;
    double *col = malloc(sizeof(double) * (size_t)D * 2), *coef = col + D; /* [D] each */
    int rc = 0;
    for (int j = c0; j < c0 + n && !rc; j++) {
        for (int d = 0; d < D; d++) col[d] = w[(size_t)d * cols + j];
        if (canon_dot(col, col, D) > 0 && canon_coefs(c, col, n_atoms, coef) > CANON_TOL)
            rc = err_printf(c->err, c->errcap, "%s: reads a direction no earlier block writes",
                            where);
    }
    free(col);
    return rc;
}

/* A head copies each atom it reads (V O) onto one new atom, in the order of the atoms read. */
static int canon_head(Canon *c, int l, int h) {
    const ModelLayer *L = &c->m->layers[l];
    int D = c->D, ks = c->m->key_size, HK = c->m->num_heads * ks, c0 = h * ks, na0 = c->na;
    char where[64];
    snprintf(where, sizeof where, "layer %d head %d", l, h);
    if (reads_known(c, L->q, HK, c0, ks, na0, where) ||
        reads_known(c, L->k, HK, c0, ks, na0, where) ||
        reads_known(c, L->v, HK, c0, ks, na0, where))
        return 1;
    double *t = malloc(sizeof(double) * (size_t)(ks + 2 * D)), *img = t + ks,
           *coef = img + D; /* [ks], [D], [D] */
    int rc = 0, g = c->ngroups++, n_read = 0, first = -1;
    for (int k = 0; k < na0 && !rc; k++) {
        const double *a = c->at + (size_t)k * D;
        for (int j = 0; j < ks; j++) {
            t[j] = 0;
            for (int d = 0; d < D; d++) t[j] += a[d] * L->v[(size_t)d * HK + c0 + j];
        }
        for (int d = 0; d < D; d++) {
            img[d] = 0;
            for (int j = 0; j < ks; j++) img[d] += t[j] * L->o[(size_t)(c0 + j) * D + d];
        }
        if (sqrt(canon_dot(img, img, D)) < 1e-3) continue;
        int kind = c->kind[k] == AK_NUM ? AK_NUM : k == c->bos ? AK_SWB : AK_CAT;
        int n = canon_add_atom(c, img, kind, g, where);
        if (n < 0) rc = 1;
        else c->copy_of[n] = k, n_read++, first = n;
    }
    if (!rc && n_read > 1 && c->kind[first] == AK_SWB) c->kind[first] = AK_CAT;
    for (int j = c0; j < c0 + ks && !rc; j++)
        if (canon_dot(L->o + (size_t)j * D, L->o + (size_t)j * D, D) > 0 &&
            canon_coefs(c, L->o + (size_t)j * D, c->na, coef) > CANON_TOL)
            rc = err_printf(c->err, c->errcap, "%s: writes outside the copies of what it reads",
                            where);
    free(t);
    return rc;
}

/* ---- order ----------------------------------------------------------------------------- */
static void sort_ints(int *p, int n) {
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && p[k - 1] > p[k]; k--) {
            int t = p[k];
            p[k] = p[k - 1];
            p[k - 1] = t;
        }
}

/* pos[a] [D]: the canonical index of atom a. Creation order, except that the output SOp's
 * atoms follow the unembedding's columns, and an Aggregate's source follows its copy. */
static void canon_order(const Canon *c, int *pos) {
    const CompiledModel *m = c->m;
    int D = c->D, no = m->n_out;
    for (int a = 0; a < D; a++) pos[a] = a;
    int *oc = malloc(sizeof(int) * (size_t)(2 * D + no + 1)), *p = oc + D + no; /* [D + no], [D] */
    double *col = malloc(sizeof(double) * (size_t)D * 2), *coef = col + D;
    bool ok = true;
    for (int j = 0; j < no && ok; j++) {
        for (int d = 0; d < D; d++) col[d] = m->unembed[(size_t)d * no + j];
        canon_coefs(c, col, c->na, coef);
        oc[j] = -1;
        for (int a = 0; a < c->na; a++)
            if (fabs(coef[a] - 1) < CANON_TOL) oc[j] = a;
        ok = oc[j] >= 0 && c->group[oc[j]] == c->group[oc[0]];
    }
    if (ok && no > 1) { /* the columns' atoms take their own positions, in column order */
        for (int j = 0; j < no; j++) p[j] = pos[oc[j]];
        sort_ints(p, no);
        for (int j = 0; j < no; j++) pos[oc[j]] = p[j];
    }
    /* each head's sources, latest head first, in the order of the copies (the index
     * directions keep position order: Tracr's copies of them are in that order too) */
    for (int a = c->na - 1; a >= 0; a--) {
        if (c->copy_of[a] < 0 || c->group[c->copy_of[a]] == c->gidx) continue;
        if (a + 1 < c->na && c->group[a + 1] == c->group[a])
            continue; /* a group once, at its last atom */
        int n = 0;
        for (int b = 0; b <= a; b++)
            if (c->group[b] == c->group[a]) oc[n++] = b;
        for (int i = 0; i < n; i++) p[i] = pos[c->copy_of[oc[i]]];
        sort_ints(p, n);
        for (int i = 1; i < n; i++) /* the copies by their own position */
            for (int k = i; k > 0 && pos[oc[k - 1]] > pos[oc[k]]; k--) {
                int t = oc[k];
                oc[k] = oc[k - 1];
                oc[k - 1] = t;
            }
        for (int i = 0; i < n; i++) pos[c->copy_of[oc[i]]] = p[i];
    }
    free(oc), free(col);
}

/* ---- the rewritten model ---------------------------------------------------------------- */
/* The decimal of at most 5 significant digits within the rotation's rounding of w (mx: the
 * largest magnitude on w's line, which sets that rounding), else w: a weight Tracr wrote as
 * 1, 0.5 or -49.5 reads back as exactly that, so lift's exact value sets hold. */
static double snap_short(double w, double mx) {
    for (int p = 1; p <= 5; p++) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.*g", p, w);
        double d = strtod(buf, NULL);
        if (fabs(d - w) <= 4e-6 * mx && fabs(d - w) <= 1e-4 * fabs(w)) return d;
    }
    return w;
}

/* Entries below CANON_ZERO of their line's largest magnitude become 0, the rest snap_short
 * when shorten (not in heads: their own basis is scaled arbitrarily, only Q K^T and V O are
 * Tracr's numbers): rows of w [rows, cols]
 * (by_row) or its columns. */
static void snap_zero(double *w, int rows, int cols, bool by_row, bool shorten) {
    int nl = by_row ? rows : cols, nel = by_row ? cols : rows;
    for (int a = 0; a < nl; a++) {
        double mx = 0;
        for (int b = 0; b < nel; b++) {
            double v = fabs(by_row ? w[(size_t)a * cols + b] : w[(size_t)b * cols + a]);
            if (v > mx) mx = v;
        }
        for (int b = 0; b < nel; b++) {
            double *v = by_row ? &w[(size_t)a * cols + b] : &w[(size_t)b * cols + a];
            *v = fabs(*v) <= CANON_ZERO * mx ? 0 : shorten ? snap_short(*v, mx) : *v;
        }
    }
}

typedef struct UKey {
    int blk;
    double k1, k2;
    int j;
} UKey;

static int ukey_cmp(const void *pa, const void *pb) {
    const UKey *a = pa, *b = pb;
    if (a->blk != b->blk) return a->blk < b->blk ? -1 : 1;
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 < b->k2 ? -1 : 1;
    return a->j - b->j;
}

/* Layer l's hidden units in block order, each W1 column divided by its scale and W2 row
 * multiplied by it. */
static void canon_units(const Canon *c, const int *pos, ModelLayer *L, int l) {
    int D = c->D, M = c->M;
    UKey *k = malloc(sizeof(UKey) * (size_t)M);                                        /* [M] */
    double *w1 = malloc(sizeof(double) * (size_t)D * M * 2), *w2 = w1 + (size_t)D * M; /* copies */
    for (int j = 0; j < M; j++) {
        const CanonUnit *u = &c->u[(size_t)l * M + j];
        k[j].j = j;
        k[j].blk = u->kind == U_DEAD ? 1 << 30 : u->blk;
        k[j].k1 = u->tau, k[j].k2 = u->sub;
        if (u->kind == U_MAP || u->kind == U_FREE) k[j].k1 = u->y >= 0 ? pos[u->y] : -1;
        if (u->kind == U_SEQ) k[j].k1 = pos[u->x], k[j].k2 = pos[u->y];
    }
    qsort(k, (size_t)M, sizeof(UKey), ukey_cmp);
    memcpy(w1, L->w1, sizeof(double) * (size_t)D * M);
    memcpy(w2, L->w2, sizeof(double) * (size_t)D * M);
    for (int j = 0; j < M; j++) {
        int f = k[j].j;
        double s = c->u[(size_t)l * M + f].s;
        for (int d = 0; d < D; d++) {
            L->w1[(size_t)d * M + j] = w1[(size_t)d * M + f] / s;
            L->w2[(size_t)j * D + d] = w2[(size_t)f * D + d] * s;
        }
    }
    free(k), free(w1);
}

static CompiledModel *canon_build(const Canon *c, const int *pos) {
    const CompiledModel *m = c->m;
    int D = c->D, HK = m->num_heads * m->key_size;
    double *r = malloc(sizeof(double) * (size_t)D * D * 2),
           *rinv = r + (size_t)D * D; /* [D, D] each */
    for (int a = 0; a < D; a++)
        for (int i = 0; i < D; i++) {
            rinv[(size_t)pos[a] * D + i] = c->at[(size_t)a * D + i]; /* row pos[a] = atom a */
            r[(size_t)i * D + pos[a]] = c->at[(size_t)a * D + i];
        }
    CompiledModel *o = tf_model_clone(m);
    if (!o) {
        free(r);
        return NULL;
    }
    tf_change_basis(o, r, rinv);
    free(r);
    snap_zero(o->token_embed, o->vocab_size, D, true, true);
    snap_zero(o->pos_embed, o->max_seq_len + 1, D, true, true);
    for (int l = 0; l < o->num_layers; l++) {
        ModelLayer *L = &o->layers[l];
        canon_units(c, pos, L, l);
        snap_zero(L->q, D, HK, false, false);
        snap_zero(L->k, D, HK, false, false);
        snap_zero(L->v, D, HK, false, false);
        snap_zero(L->o, HK, D, true, false);
        snap_zero(L->w1, D, c->M, false, true);
        snap_zero(L->w2, c->M, D, true, true);
    }
    snap_zero(o->unembed, D, o->n_out, false, true);
    o->info = NULL;
    const char **lab = arena_alloc(&o->arena, sizeof(char *) * (size_t)(D + 1));
    for (int i = 0; i < D; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "canon:%d", i);
        lab[i] = arena_strdup(&o->arena, buf);
    }
    o->residual_labels = lab;
    return o;
}

static int canon_read(Canon *c) {
    if (canon_embeddings(c)) return 1;
    for (int l = 0; l < c->m->num_layers; l++) {
        for (int h = 0; h < c->m->num_heads; h++)
            if (canon_head(c, l, h)) return 1;
        if (canon_mlp(c, l)) return 1;
    }
    if (c->na != c->D)
        return err_printf(c->err, c->errcap, "the blocks explain %d of the %d residual directions",
                          c->na, c->D);
    return 0;
}

int lift_canon(const CompiledModel *m, unsigned variant, CompiledModel **out, CanonInfo *info,
               char *err, size_t errcap) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    if (m->bos_id < 0 || m->bos_id >= m->vocab_size)
        return err_printf(err, errcap, "the model has no BOS token");
    Canon c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.D = m->residual_dim, c.M = m->mlp_hidden_size, c.N = m->max_seq_len, c.V = m->vocab_size;
    c.L = m->mlp_exactness > 0 ? m->mlp_exactness : 100;
    c.variant = variant;
    c.one = c.bos = -1;
    c.err = err, c.errcap = errcap;
    int D = c.D;
    c.at = malloc(sizeof(double) * (size_t)D * D); /* [D, D] */
    c.kind = malloc(sizeof(int) * (size_t)D * 4), c.group = c.kind + D,
    c.copy_of = c.group + D;                                                  /* [D] each */
    int *pos = c.copy_of + D;                                                 /* [D] */
    c.u = calloc((size_t)m->num_layers * (size_t)c.M + 1, sizeof(CanonUnit)); /* [layers, M] */
    int rc = canon_read(&c);
    info->n_ambiguous = c.n_amb;
    info->n_found = c.na;
    if (!rc) {
        canon_order(&c, pos);
        *out = canon_build(&c, pos);
        if (!*out) rc = err_printf(err, errcap, "out of memory");
    }
    free(c.at), free(c.kind), free(c.u);
    return rc;
}
