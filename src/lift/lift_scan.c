/* Reading the weights back into SOps (see lift.h): embeddings, attention heads, MLP blocks.
 * Every check names the block that fails it, so a refusal points at the first place where
 * the model stops looking like Tracr's output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lift/lift_internal.h"
#include "util/errmsg.h"

/* Weights are float32 in model files: entries equal up to float32 rounding match. */
static bool near(double a, double b) { return fabs(a - b) <= 1e-5 * (1 + fabs(b)); }
static bool nz(double w) { return w != 0 && fabs(w) > 1e-12; }

int lift_new_sop(Lift *x, LsKind k, bool numerical, int n, int layer) {
    if (x->n == x->cap) {
        int cap = x->cap ? 2 * x->cap : 32;
        LSop *s = arena_alloc(&x->a, sizeof(LSop) * (size_t)cap);
        if (x->n) memcpy(s, x->s, sizeof(LSop) * (size_t)x->n);
        x->s = s;
        x->cap = cap;
    }
    LSop *s = &x->s[x->n];
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->numerical = numerical;
    s->n = n;
    s->dims = arena_alloc(&x->a, sizeof(int) * (size_t)(n ? n : 1));
    s->a = s->b = -1;
    s->cls = x->n;
    s->layer = layer;
    return x->n++;
}

static int fail(Lift *x, const char *fmt, const char *where, const char *why) {
    return err_printf(x->err, x->errcap, fmt, where, why);
}

/* Registers dims[n] as written by SOp si; each residual direction is written once. */
static int claim(Lift *x, int si, const int *dims, int n, const char *where) {
    LSop *s = &x->s[si];
    for (int i = 0; i < n; i++) {
        int d = dims[i];
        if (d == x->one || d == x->bos || x->dim_sop[d] >= 0 || x->dim_sw[d] >= 0)
            return err_printf(x->err, x->errcap,
                              "%s: writes residual direction %d, which is already in use", where,
                              d);
        s->dims[i] = d;
        x->dim_sop[d] = si;
    }
    return 0;
}

static int uniq(Lift *x, double *v, int n, double **out);

/* A categorical Map read back from 0/1 table units can also be several numerical Maps side
 * by side (numerical(tokens == "(") and numerical(tokens == ")") in one layer write the same
 * units). When a block reads one of its directions as a number, and nothing has read it as
 * a categorical SOp yet, it is split into one numerical indicator Map per direction.
 * Returns the SOp that now owns dim, or -1. */
static int split_numerical(Lift *x, int dim) {
    int si = x->dim_sop[dim];
    if (si < 0) return -1;
    LSop *S = &x->s[si];
    if (S->numerical) return si;
    if (S->kind != LS_MAP || !S->tab || S->used || x->s[S->a].numerical) return -1;
    int n = S->n, na = x->s[S->a].n, a = S->a, layer = S->layer;
    int *tab = S->tab, *dims = S->dims;
    for (int t = 0; t < n; t++) {
        int ti = t == 0 ? si : lift_new_sop(x, LS_MAP, true, 1, layer);
        LSop *T = &x->s[ti];
        T->numerical = true;
        T->n = 1;
        T->a = a;
        T->tab = NULL;
        T->dims = arena_alloc(&x->a, sizeof(int));
        T->dims[0] = dims[t];
        x->dim_sop[dims[t]] = ti;
        T->ftab = arena_alloc(&x->a, sizeof(double) * (size_t)na);
        double *v = malloc(sizeof(double) * (size_t)na);
        for (int i = 0; i < na; i++) v[i] = T->ftab[i] = tab[i] == t;
        T->n_num = uniq(x, v, na, &T->num);
        free(v);
    }
    return x->dim_sop[dim];
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorted distinct copy of v[n] into the arena; returns the count. */
static int uniq(Lift *x, double *v, int n, double **out) {
    qsort(v, (size_t)n, sizeof(double), cmp_dbl);
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    *out = arena_alloc(&x->a, sizeof(double) * (size_t)(k ? k : 1));
    memcpy(*out, v, sizeof(double) * (size_t)k);
    return k;
}

/* The number a float32 weight stands for: the shortest decimal with the same float32 value
 * (0.2f reads as 0.2), so that printed tables say what the author wrote. */
static double snap(double w) {
    if ((double)(float)w != w) return w;
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, w);
        double d = strtod(buf, NULL);
        if ((float)d == (float)w) return d;
    }
    return w;
}

/* ---- embeddings ------------------------------------------------------------------------ */
static int scan_embeddings(Lift *x) {
    const CompiledModel *m = x->m;
    int D = x->D, V = m->vocab_size;
    /* `one` is the direction every token row sets (when any block uses it) */
    x->one = -1;
    for (int d = 0; d < D; d++) {
        bool all = true;
        for (int t = 0; t < V && all; t++) all = near(m->token_embed[(size_t)t * D + d], 1);
        if (all) x->one = d;
    }
    int *tokdim = arena_alloc(&x->a, sizeof(int) * (size_t)V);
    for (int t = 0; t < V; t++) {
        tokdim[t] = -1;
        for (int d = 0; d < D; d++) {
            double w = m->token_embed[(size_t)t * D + d];
            if (d == x->one || !nz(w)) continue;
            if (!near(w, 1) || tokdim[t] >= 0)
                return err_printf(
                    x->err, x->errcap,
                    "token embedding: row %d is not a one-hot token direction (plus `one`)", t);
            tokdim[t] = d;
        }
        if (tokdim[t] < 0)
            return err_printf(x->err, x->errcap, "token embedding: row %d has no token direction",
                              t);
        for (int u = 0; u < t; u++)
            if (tokdim[u] == tokdim[t])
                return err_printf(x->err, x->errcap,
                                  "token embedding: rows %d and %d share a direction", u, t);
    }
    x->bos = tokdim[m->bos_id];
    x->pad = m->pad_id >= 0 ? tokdim[m->pad_id] : -1;
    int ti = lift_new_sop(x, LS_TOKENS, false, V - 1 - (m->pad_id >= 0), -1);
    LSop *tk = &x->s[ti];
    tk->vals = arena_alloc(&x->a, sizeof(Value) * (size_t)V);
    int k = 0;
    for (int d = 0; d < D; d++)
        for (int t = 0; t < V; t++)
            if (tokdim[t] == d && t != m->bos_id && t != m->pad_id) {
                tk->dims[k] = d;
                tk->vals[k++] = m->tokens[t];
                x->dim_sop[d] = ti;
            }
    tk->known = true;
    x->dim_sop[x->bos] = -1;
    if (x->pad >= 0) x->dim_sop[x->pad] = -1;
    /* positions: row 0 (BOS) zero, row p one-hot on indices:p-1 */
    int N = x->N;
    for (int d = 0; d < D; d++)
        if (nz(m->pos_embed[d]))
            return err_printf(x->err, x->errcap, "position embedding: row 0 (BOS) is not zero");
    int ii = lift_new_sop(x, LS_INDICES, false, N, -1);
    LSop *ix = &x->s[ii];
    ix->vals = arena_alloc(&x->a, sizeof(Value) * (size_t)N);
    for (int p = 1; p <= N; p++) {
        int hit = -1;
        for (int d = 0; d < D; d++) {
            double w = m->pos_embed[(size_t)p * D + d];
            if (!nz(w)) continue;
            if (!near(w, 1) || hit >= 0 || x->dim_sop[d] >= 0 || d == x->one || d == x->bos ||
                d == x->pad)
                return err_printf(x->err, x->errcap,
                                  "position embedding: row %d is not a one-hot index direction", p);
            hit = d;
        }
        if (hit < 0) return err_printf(x->err, x->errcap, "position embedding: row %d is empty", p);
        if (p > 1 && hit <= ix->dims[p - 2])
            return err_printf(x->err, x->errcap,
                              "position embedding: index directions are out of order");
        ix->dims[p - 1] = hit;
        ix->vals[p - 1] = val_int(p - 1);
        x->dim_sop[hit] = ii;
    }
    ix->known = true;
    return 0;
}

/* ---- attention ------------------------------------------------------------------------- */
/* The SOp whose directions include every dim of set[n] (ignoring `skip` dims), or -1 with
 * *mixed set when they belong to several. */
static int owner(const Lift *x, const int *set, int n, bool *mixed) {
    int o = -1;
    *mixed = false;
    for (int i = 0; i < n; i++) {
        int s = x->dim_sop[set[i]];
        if (s < 0 || (o >= 0 && s != o)) {
            *mixed = true;
            return -1;
        }
        o = s;
    }
    return o;
}

/* One head being read: its layer, column range and the residual dims each of its four
 * matrices touches. */
typedef struct HeadScan {
    const ModelLayer *L;
    int D, ks, HK, c0; /* residual width, key size, all heads' width, this head's first column */
    int *qr, *kr, *vr, *oc; /* [D] each: rows of Q, K, V used, columns of O written */
    int nq, nk, nv, no;
    char where[96];
} HeadScan;

/* sum over the head's columns c of a[da][c] * b[db][c] (both [D, HK]) */
static double head_dot(const HeadScan *hs, const double *a, int da, const double *b, int db) {
    double s = 0;
    for (int c = 0; c < hs->ks; c++)
        s += a[(size_t)da * hs->HK + hs->c0 + c] * b[(size_t)db * hs->HK + hs->c0 + c];
    return s;
}

/* sum over c of V[dv][c] * O[c][d_out], the OV map's entry */
static double head_ov(const HeadScan *hs, int dv, int d_out) {
    double w = 0;
    for (int c = 0; c < hs->ks; c++)
        w += hs->L->v[(size_t)dv * hs->HK + hs->c0 + c] *
             hs->L->o[(size_t)(hs->c0 + c) * hs->D + d_out];
    return w;
}

static void head_spaces(Lift *x, HeadScan *hs) {
    const ModelLayer *L = hs->L;
    int D = hs->D, HK = hs->HK, c0 = hs->c0;
    hs->qr = arena_alloc(&x->a, sizeof(int) * (size_t)D * 4);
    hs->kr = hs->qr + D, hs->vr = hs->kr + D, hs->oc = hs->vr + D;
    hs->nq = hs->nk = hs->nv = hs->no = 0;
    for (int d = 0; d < D; d++) {
        bool q = false, k = false, v = false, o = false;
        for (int c = 0; c < hs->ks; c++) {
            q |= nz(L->q[(size_t)d * HK + c0 + c]);
            k |= nz(L->k[(size_t)d * HK + c0 + c]);
            v |= nz(L->v[(size_t)d * HK + c0 + c]);
            o |= nz(L->o[(size_t)(c0 + c) * D + d]);
        }
        if (q) hs->qr[hs->nq++] = d;
        if (k) hs->kr[hs->nk++] = d;
        if (v) hs->vr[hs->nv++] = d;
        if (o) hs->oc[hs->no++] = d;
    }
}

/* The key and query SOps of the head (BOS, `one` set aside). Returns 0 or fail's 1. */
static int head_qk_sops(Lift *x, HeadScan *hs, int *ks_sop, int *qs_sop) {
    if (!hs->nk || x->bos < 0) return fail(x, "%s: %s", hs->where, "reads no key directions");
    bool has_bos = false, mixed;
    int nk0 = 0;
    for (int i = 0; i < hs->nk; i++) {
        if (hs->kr[i] == x->bos) has_bos = true;
        else hs->kr[nk0++] = hs->kr[i];
    }
    *ks_sop = owner(x, hs->kr, nk0, &mixed);
    if (!has_bos || *ks_sop < 0 || x->s[*ks_sop].numerical || x->s[*ks_sop].n != nk0)
        return fail(x, "%s: %s", hs->where, "its key space is not one categorical SOp plus BOS");
    int nq0 = 0;
    for (int i = 0; i < hs->nq; i++)
        if (hs->qr[i] != x->one && hs->qr[i] != x->bos) hs->qr[nq0++] = hs->qr[i];
    /* A predicate that selects nothing leaves the query SOp unidentifiable: the keys stand in
     * (docs/lift.md, identifiability). */
    *qs_sop = nq0 ? owner(x, hs->qr, nq0, &mixed) : *ks_sop;
    if (*qs_sop < 0 || x->s[*qs_sop].numerical)
        return fail(x, "%s: %s", hs->where, "its query space is not one categorical SOp");
    x->s[*ks_sop].used = x->s[*qs_sop].used = true;
    if (x->one < 0)
        return fail(x, "%s: %s", hs->where, "there is no `one` direction for the BOS logit");
    return 0;
}

/* No query-key weight outside Tracr's: `one` and BOS as queries reach only `one` x BOS, and
 * no query value attends to BOS directly. */
static int head_no_stray_qk(Lift *x, const HeadScan *hs, const LSop *K, const LSop *Q) {
    const ModelLayer *L = hs->L;
    int extra_q[2] = {x->one, x->bos};
    for (int e = 0; e < 2; e++) {
        if (extra_q[e] < 0) continue;
        for (int ki = -1; ki < K->n; ki++) {
            int kd = ki < 0 ? x->bos : K->dims[ki];
            if (extra_q[e] == x->one && kd == x->bos) continue;
            if (nz(head_dot(hs, L->q, extra_q[e], L->k, kd)))
                return fail(x, "%s: %s", hs->where,
                            "`one` or BOS carries a query-key weight Tracr never sets");
        }
    }
    for (int qi = 0; qi < Q->n; qi++)
        if (nz(head_dot(hs, L->q, Q->dims[qi], L->k, x->bos)))
            return fail(x, "%s: %s", hs->where, "a query value attends to BOS directly");
    return 0;
}

/* The head's selector: its predicate table over (key, query) values, read from the bilinear
 * form Wq Wk^T (invariant to the head's own basis); *sw when it is a selector width's head
 * (it copies BOS alone). Returns 0 or fail's 1. */
static int head_selector(Lift *x, HeadScan *hs, LSel *sel, bool *sw) {
    const ModelLayer *L = hs->L;
    int ks_sop, qs_sop;
    if (head_qk_sops(x, hs, &ks_sop, &qs_sop)) return 1;
    const LSop *K = &x->s[ks_sop], *Q = &x->s[qs_sop];
    double bos_logit = head_dot(hs, L->q, x->one, L->k, x->bos);
    /* sel table over (key, query) values, entries 0 or the coldness c */
    double cold = 0;
    unsigned char *tab = arena_alloc(&x->a, (size_t)K->n * (size_t)Q->n);
    double *qk = arena_alloc(&x->a, sizeof(double) * (size_t)K->n * (size_t)Q->n);
    for (int ki = 0; ki < K->n; ki++)
        for (int qi = 0; qi < Q->n; qi++) {
            double s = head_dot(hs, L->q, Q->dims[qi], L->k, K->dims[ki]);
            qk[ki * Q->n + qi] = s;
            if (nz(s) && cold == 0) cold = s;
        }
    /* a selector width copies BOS alone and gives it the full selection logit
     * (always_attend_to_bos); an aggregate gives BOS half of it */
    *sw = hs->nv == 1 && hs->vr[0] == x->bos;
    if (cold == 0 && nz(bos_logit))
        cold = *sw ? bos_logit : 2 * bos_logit; /* a predicate never true */
    if (cold == 0 || !near(bos_logit, *sw ? cold : cold / 2))
        return fail(x, "%s: %s", hs->where,
                    "the BOS logit is not Tracr's (half the selection logit, or equal to it)");
    if (cold <= 0) return fail(x, "%s: %s", hs->where, "the selection logit is not positive");
    for (int ki = 0; ki < K->n; ki++)
        for (int qi = 0; qi < Q->n; qi++) {
            double s = qk[ki * Q->n + qi];
            if (nz(s) && !near(s, cold))
                return fail(x, "%s: %s", hs->where,
                            "a query-key entry is neither 0 nor the selection logit");
            tab[ki * Q->n + qi] = nz(s);
        }
    if (head_no_stray_qk(x, hs, K, Q)) return 1;
    *sel = (LSel){ks_sop, qs_sop, tab};
    return 0;
}

/* A selector width's head: it copies BOS into one new direction, which becomes pending
 * until its MLP is read. */
static int head_selector_width(Lift *x, const HeadScan *hs, LSel sel) {
    if (hs->nv != 1 || hs->vr[0] != x->bos || hs->no != 1)
        return fail(x, "%s: %s", hs->where,
                    "a selector-width head must copy BOS into one new direction");
    if (!near(head_ov(hs, x->bos, hs->oc[0]), 1))
        return fail(x, "%s: %s", hs->where, "the selector-width head's BOS copy is not 1");
    int d = hs->oc[0];
    if (x->dim_sop[d] >= 0 || x->dim_sw[d] >= 0 || d == x->one || d == x->bos)
        return fail(x, "%s: %s", hs->where, "writes a direction that is already in use");
    x->pending[x->n_pending] = sel;
    x->pending_dim[x->n_pending] = d;
    x->dim_sw[d] = x->n_pending++;
    return 0;
}

/* An aggregate's head: the OV map copies the value SOp's directions, in order, into new
 * ones (categorical), or one numerical direction into one (a mean). */
static int head_aggregate(Lift *x, HeadScan *hs, int l, LSel sel) {
    bool mixed;
    int nv = hs->nv, no = hs->no;
    int vs_sop = owner(x, hs->vr, nv, &mixed);
    if (vs_sop >= 0 && nv == 1 && no == 1 && !x->s[vs_sop].numerical && x->s[vs_sop].n > 1)
        vs_sop = split_numerical(x, hs->vr[0]);
    if (vs_sop < 0) return fail(x, "%s: %s", hs->where, "its value space is not one SOp");
    x->s[vs_sop].used = true;
    const LSop *S = &x->s[vs_sop];
    if (S->n != nv || no != nv)
        return fail(x, "%s: %s", hs->where, "the value and output spaces differ in size");
    qsort(hs->oc, (size_t)no, sizeof(int), cmp_int);
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < no; j++)
            if (!near(head_ov(hs, S->dims[i], hs->oc[j]), i == j ? 1 : 0))
                return fail(x, "%s: %s", hs->where,
                            "the value-output map does not copy values in order");
    bool num = S->numerical;
    if (num && S->n != 1)
        return fail(x, "%s: %s", hs->where, "a numerical aggregate of several directions");
    int ai = lift_new_sop(x, LS_AGG, num, no, l);
    LSop *A = &x->s[ai];
    A->a = vs_sop;
    A->sel = sel;
    if (claim(x, ai, hs->oc, no, hs->where)) return 1;
    if (num) {
        const LSop *S2 = &x->s[vs_sop];
        for (int i = 0; i < S2->n_num; i++)
            if (S2->num[i] != 0 && S2->num[i] != 1)
                return fail(x, "%s: %s", hs->where,
                            "a numerical mean of values other than 0 and 1");
        double *v = malloc(sizeof(double) * (size_t)(S2->n_num * x->N + 1));
        int k = 0;
        for (int i = 0; i < S2->n_num; i++)
            for (int len = 1; len <= x->N; len++) v[k++] = S2->num[i] / len;
        A->n_num = uniq(x, v, k, &A->num);
        free(v);
    }
    return 0;
}

static int scan_head(Lift *x, int l, int h) {
    const CompiledModel *m = x->m;
    HeadScan hs = {.L = &m->layers[l], .D = x->D, .ks = m->key_size};
    hs.HK = m->num_heads * hs.ks;
    hs.c0 = h * hs.ks;
    snprintf(hs.where, sizeof hs.where, "layer %d head %d", l, h);
    head_spaces(x, &hs);
    if (!hs.nq && !hs.nk && !hs.nv && !hs.no) return 0;
    LSel sel = {0};
    bool sw = false;
    if (head_selector(x, &hs, &sel, &sw)) return 1;
    return sw ? head_selector_width(x, &hs, sel) : head_aggregate(x, &hs, l, sel);
}

/* ---- MLPs ------------------------------------------------------------------------------ */
typedef struct Unit {
    int nin, nout;
    int *in, *out;      /* dims */
    double *win, *wout; /* weights */
    double w_one;       /* weight on `one` (also present in in[]) */
} Unit;

static double win(const Unit *u, int d) {
    for (int i = 0; i < u->nin; i++)
        if (u->in[i] == d) return u->win[i];
    return 0;
}

/* number of input dims other than `one` */
static int n_real_in(const Lift *x, const Unit *u) {
    return u->nin - (win(u, x->one) != 0 && x->one >= 0);
}

static int real_in(const Lift *x, const Unit *u, int k) {
    for (int i = 0; i < u->nin; i++)
        if (u->in[i] != x->one && k-- == 0) return u->in[i];
    return -1;
}

/* A discretising MLP (tracr-reference §2.4.3) on input direction xd starting at unit j:
 * pairs (k,0), (k,1) then the start unit. Fills thresholds and the unit range. */
static int scan_discretising(Lift *x, const Unit *U, int M, int j, int xd, double *thr, int *n_thr,
                             int *end, const char *where) {
    int k = j, nt = 0;
    while (k + 1 < M && U[k].nin >= 1 && win(&U[k], xd) != 0 && n_real_in(x, &U[k]) == 1 &&
           n_real_in(x, &U[k + 1]) == 1 && win(&U[k + 1], xd) != 0) {
        double a0 = win(&U[k], xd), a1 = win(&U[k + 1], xd);
        double b0 = x->one >= 0 ? win(&U[k], x->one) : 0,
               b1 = x->one >= 0 ? win(&U[k + 1], x->one) : 0;
        if (!near(a0, x->L) || !near(a1, x->L) || !near(b0 - b1, 1))
            return fail(
                x, "%s: %s", where,
                "a discretising unit pair does not have Tracr's slopes (L, L) and offsets (1 - L t, -L t)");
        thr[nt++] = -b1 / x->L;
        k += 2;
    }
    if (k >= M || x->one < 0 || n_real_in(x, &U[k]) != 0 || !near(win(&U[k], x->one), 1))
        return fail(x, "%s: %s", where, "a discretising MLP does not end with its start unit");
    *n_thr = nt;
    *end = k + 1;
    return 0;
}

/* The input values whose midpoints are the thresholds: the value set of the input SOp. */
static int match_values(Lift *x, const LSop *X, const double *thr, int nt, double **vs,
                        const char *where) {
    if (X->n_num != nt + 1)
        return fail(
            x, "%s: %s", where,
            "the thresholds do not fit the input's value set (a value where the function is undefined?)");
    for (int k = 0; k < nt; k++) {
        double mid = (X->num[k] + X->num[k + 1]) / 2;
        if (fabs(mid - thr[k]) > 1e-4 * (1 + fabs(mid)))
            return fail(x, "%s: %s", where,
                        "a threshold is not the midpoint of neighbouring input values");
    }
    *vs = X->num;
    return 0;
}

/* Output of a discretising block over units [j, e): numerical (one dim, telescoping sums)
 * or categorical (one-hot telescoping). Writes the SOp. */
static int finish_discretising(Lift *x, const Unit *U, int j, int e, int in_sop, const double *vs,
                               int nvs, int l, LsKind kind, const LSel *sel, int sw_dim,
                               const char *where) {
    /* output dims: the union of written dims (the selector width's BOS dim excluded) */
    int *od = malloc(sizeof(int) * (size_t)(x->D + 1)), no = 0;
    for (int k = j; k < e; k++)
        for (int i = 0; i < U[k].nout; i++) {
            int d = U[k].out[i], seen = 0;
            if (d == sw_dim) continue;
            for (int t = 0; t < no; t++) seen |= od[t] == d;
            if (!seen) od[no++] = d;
        }
    qsort(od, (size_t)no, sizeof(int), cmp_int);
    const Unit *st = &U[e - 1];
    /* per-region output in the output dims' coordinates: start + sum of steps */
    double *acc = calloc((size_t)(no ? no : 1), sizeof(double));
    double *regions = malloc(sizeof(double) * (size_t)nvs * (size_t)(no ? no : 1));
    for (int t = 0; t < no; t++)
        for (int i = 0; i < st->nout; i++)
            if (st->out[i] == od[t]) acc[t] = st->wout[i];
    for (int r = 0; r < nvs; r++) {
        if (r > 0) {
            const Unit *p0 = &U[j + 2 * (r - 1)], *p1 = p0 + 1;
            for (int t = 0; t < no; t++) {
                double w0 = 0, w1 = 0;
                for (int i = 0; i < p0->nout; i++)
                    if (p0->out[i] == od[t]) w0 = p0->wout[i];
                for (int i = 0; i < p1->nout; i++)
                    if (p1->out[i] == od[t]) w1 = p1->wout[i];
                if (!near(w1, -w0)) {
                    free(od), free(acc), free(regions);
                    return fail(x, "%s: %s", where,
                                "a discretising unit pair does not write opposite steps");
                }
                acc[t] += w0;
            }
        }
        memcpy(regions + (size_t)r * no, acc, sizeof(double) * (size_t)no);
    }
    /* categorical when every region is one-hot and there are several output dims, or when
     * this is a categorical selector width */
    bool onehot = no >= 1;
    int *hot = malloc(sizeof(int) * (size_t)nvs);
    for (int r = 0; r < nvs && onehot; r++) {
        hot[r] = -1;
        for (int t = 0; t < no; t++) {
            double v = regions[(size_t)r * no + t];
            if (near(v, 1) && hot[r] < 0) hot[r] = t;
            else if (fabs(v) > 1e-5) onehot = false;
        }
        if (hot[r] < 0) onehot = false;
    }
    bool categorical = onehot && (no > 1 || (kind == LS_SW && x->N == 0));
    if (kind == LS_SW) categorical = no == x->N + 1;
    if (!categorical && no != 1) {
        free(od), free(acc), free(regions), free(hot);
        return fail(x, "%s: %s", where,
                    "a discretising MLP writes neither one number nor one-hot values");
    }
    int si = lift_new_sop(x, kind, !categorical, no, l);
    LSop *S = &x->s[si];
    S->a = in_sop;
    S->n_vs = nvs;
    S->vs = (double *)vs;
    if (sel) S->sel = *sel;
    S->sw_dim = sw_dim;
    int rc = claim(x, si, od, no, where);
    if (!rc && kind == LS_SW) {
        if (categorical) {
            S->vals = arena_alloc(&x->a, sizeof(Value) * (size_t)no);
            for (int t = 0; t < no; t++) S->vals[t] = val_int(t);
            S->known = true;
            /* widths: region r (value 1/(w+1) ascending) decodes to N - r */
            for (int r = 0; r < nvs && !rc; r++)
                if (!onehot || hot[r] != x->N - r)
                    rc = fail(x, "%s: %s", where, "the selector-width MLP does not decode widths");
        } else {
            double *v = malloc(sizeof(double) * (size_t)(x->N + 1));
            for (int w = 0; w <= x->N; w++) v[w] = w;
            S->n_num = uniq(x, v, x->N + 1, &S->num);
            free(v);
            for (int r = 0; r < nvs && !rc; r++)
                if (!near(regions[r], x->N - r))
                    rc = fail(x, "%s: %s", where, "the selector-width MLP does not decode widths");
        }
    } else if (!rc && categorical) {
        S->rtab = arena_alloc(&x->a, sizeof(int) * (size_t)nvs);
        for (int r = 0; r < nvs; r++) S->rtab[r] = hot[r];
    } else if (!rc) {
        S->rftab = arena_alloc(&x->a, sizeof(double) * (size_t)nvs);
        double *v = malloc(sizeof(double) * (size_t)nvs);
        for (int r = 0; r < nvs; r++) v[r] = S->rftab[r] = snap(regions[r]);
        S->n_num = uniq(x, v, nvs, &S->num);
        free(v);
    }
    free(od), free(acc), free(regions), free(hot);
    return rc;
}

/* The hidden units of layer l's MLP with their non-zero reads and writes; *any: whether one
 * unit reads or writes anything. */
static Unit *read_units(Lift *x, const ModelLayer *L, int M, bool *any) {
    int D = x->D;
    Unit *U = arena_alloc(&x->a, sizeof(Unit) * (size_t)M);
    *any = false;
    for (int j = 0; j < M; j++) {
        Unit *u = &U[j];
        int ni = 0, no = 0;
        for (int d = 0; d < D; d++)
            ni += nz(L->w1[(size_t)d * M + j]), no += nz(L->w2[(size_t)j * D + d]);
        u->in = arena_alloc(&x->a, sizeof(int) * (size_t)(ni + no + 1));
        u->out = u->in + ni;
        u->win = arena_alloc(&x->a, sizeof(double) * (size_t)(ni + no + 1));
        u->wout = u->win + ni;
        for (int d = 0; d < D; d++) {
            double a = L->w1[(size_t)d * M + j], b = L->w2[(size_t)j * D + d];
            if (nz(a)) u->in[u->nin] = d, u->win[u->nin++] = a;
            if (nz(b)) u->out[u->nout] = d, u->wout[u->nout++] = b;
        }
        *any |= ni || no;
    }
    return U;
}

/* A selector width's discretising MLP on its BOS weight (direction d0), from unit j. */
static int scan_selector_width(Lift *x, const Unit *U, int M, int j, int d0, double *thr, int l,
                               const char *where, int *next) {
    int p = x->dim_sw[d0], nt, e;
    if (scan_discretising(x, U, M, j, d0, thr, &nt, &e, where)) return 1;
    double *v = malloc(sizeof(double) * (size_t)(x->N + 1)), *vs;
    for (int w = 0; w <= x->N; w++) v[w] = 1.0 / (w + 1);
    int nvs = uniq(x, v, x->N + 1, &vs);
    free(v);
    if (nvs != nt + 1)
        return fail(x, "%s: %s", where,
                    "the selector-width MLP has the wrong number of thresholds");
    for (int k = 0; k < nt; k++)
        if (fabs((vs[k] + vs[k + 1]) / 2 - thr[k]) > 1e-4)
            return fail(x, "%s: %s", where, "the selector-width MLP's thresholds are not Tracr's");
    if (finish_discretising(x, U, j, e, -1, vs, nvs, l, LS_SW, &x->pending[p], d0, where)) return 1;
    x->dim_sw[d0] = -2 - x->n; /* consumed */
    *next = e;
    return 0;
}

/* LinearSequenceMap: four units (x,-1), (x,+1), (y,-1), (y,+1) from unit j, x the SOp xs. */
static int scan_linseqmap(Lift *x, const Unit *U, int j, int xs, int l, const char *where) {
    const Unit *q = &U[j];
    int dx = real_in(x, &q[0], 0), dy = n_real_in(x, &q[2]) == 1 ? real_in(x, &q[2], 0) : -1;
    bool ok = dy >= 0 && x->dim_sop[dy] >= 0 && x->s[x->dim_sop[dy]].numerical;
    int od = q[0].nout ? q[0].out[0] : q[2].nout ? q[2].out[0] : -1;
    for (int t = 0; t < 4 && ok; t++) {
        int dd = t < 2 ? dx : dy;
        ok = n_real_in(x, &q[t]) == 1 && (x->one < 0 || win(&q[t], x->one) == 0) &&
             near(win(&q[t], dd), t % 2 ? 1 : -1) && q[t].nout <= 1 &&
             (q[t].nout == 0 || q[t].out[0] == od);
    }
    double wa = q[1].nout ? q[1].wout[0] : 0, wb = q[3].nout ? q[3].wout[0] : 0;
    ok = ok && od >= 0 && near(q[0].nout ? q[0].wout[0] : 0, -wa) &&
         near(q[2].nout ? q[2].wout[0] : 0, -wb);
    if (!ok)
        return fail(x, "%s: %s", where,
                    "a numerical MLP is neither discretising nor a linear sequence map");
    int si = lift_new_sop(x, LS_LINSEQ, true, 1, l);
    LSop *S = &x->s[si];
    S->a = xs;
    S->b = x->dim_sop[dy];
    x->s[S->b].used = true;
    S->ca = snap(wa);
    S->cb = snap(wb);
    if (claim(x, si, &od, 1, where)) return 1;
    const LSop *A = &x->s[S->a], *B = &x->s[S->b];
    double *v = malloc(sizeof(double) * (size_t)(A->n_num * B->n_num + 1));
    int k = 0;
    for (int a = 0; a < A->n_num; a++)
        for (int b = 0; b < B->n_num; b++) v[k++] = S->ca * A->num[a] + S->cb * B->num[b];
    S->n_num = uniq(x, v, k, &S->num);
    free(v);
    return 0;
}

/* SequenceMap of two categorical SOps: |A||B| units h_ab = ReLU(a + b - 1), fst-major, from
 * unit j (u, reading the directions da and db). */
static int scan_seqmap(Lift *x, const Unit *U, int M, int j, const Unit *u, int l,
                       const char *where, int *next) {
    int da = real_in(x, u, 0), db = real_in(x, u, 1);
    int sa = x->dim_sop[da], sb = x->dim_sop[db];
    if (sa >= 0) x->s[sa].used = true;
    if (sb >= 0) x->s[sb].used = true;
    if (sa < 0 || sb < 0 || sa == sb || x->s[sa].numerical || x->s[sb].numerical)
        return fail(x, "%s: %s", where, "a sequence-map unit does not read two categorical SOps");
    const LSop *A = &x->s[sa], *B = &x->s[sb];
    int cnt = A->n * B->n;
    if (j + cnt > M) return fail(x, "%s: %s", where, "a sequence-map block is cut short");
    int fst = -1;
    for (int try = 0; try < 2 && fst < 0; try++) {
        const LSop *F = try ? B : A, *S2 = try ? A : B;
        bool ok = true;
        for (int t = 0; t < cnt && ok; t++) {
            const Unit *w = &U[j + t];
            int fd = F->dims[t / S2->n], sd = S2->dims[t % S2->n];
            ok = n_real_in(x, w) == 2 && near(win(w, x->one), -1) && near(win(w, fd), 1) &&
                 near(win(w, sd), 1);
        }
        if (ok) fst = try ? sb : sa;
    }
    if (fst < 0)
        return fail(x, "%s: %s", where,
                    "the sequence-map units do not cover every value pair in order");
    int snd = fst == sa ? sb : sa;
    int *od = malloc(sizeof(int) * (size_t)(cnt + 1)), no = 0;
    for (int t = 0; t < cnt; t++) {
        const Unit *w = &U[j + t];
        if (w->nout > 1 || (w->nout == 1 && !near(w->wout[0], 1))) {
            free(od);
            return fail(x, "%s: %s", where, "a sequence-map unit does not write one output value");
        }
        if (w->nout) {
            int seen = 0;
            for (int k = 0; k < no; k++) seen |= od[k] == w->out[0];
            if (!seen) od[no++] = w->out[0];
        }
    }
    qsort(od, (size_t)no, sizeof(int), cmp_int);
    int si = lift_new_sop(x, LS_SEQMAP, false, no, l);
    LSop *S = &x->s[si];
    S->a = fst;
    S->b = snd;
    S->tab = arena_alloc(&x->a, sizeof(int) * (size_t)cnt);
    for (int t = 0; t < cnt; t++) {
        S->tab[t] = -1;
        for (int k = 0; k < no && U[j + t].nout; k++)
            if (od[k] == U[j + t].out[0]) S->tab[t] = k;
    }
    int rc = claim(x, si, od, no, where);
    free(od);
    if (rc) return 1;
    *next = j + cnt;
    return 0;
}

/* SequenceMap(f, X, X) as units j..k-1 (nu of them unreached): the diagonal from the units,
 * every other pair to the unreached values in order (then to the first value): any such f
 * compiles to these weights (docs/lift.md, identifiability). */
static int diagonal_seqmap(Lift *x, const Unit *U, int j, int k, int xs, int l, const char *where) {
    int cnt = k - j, na = x->s[xs].n;
    int si = lift_new_sop(x, LS_SEQMAP, false, cnt, l);
    LSop *S = &x->s[si];
    const LSop *X = &x->s[xs];
    S->a = S->b = xs;
    S->tab = arena_alloc(&x->a, sizeof(int) * (size_t)na * (size_t)na);
    S->tabfree = arena_alloc(&x->a, (size_t)na * (size_t)na);
    int *od = malloc(sizeof(int) * (size_t)cnt), *unreached = malloc(sizeof(int) * (size_t)cnt),
        nu = 0;
    for (int t = 0; t < cnt; t++) {
        od[t] = U[j + t].out[0];
        if (!U[j + t].nin) unreached[nu++] = t;
        for (int i = 0; i < U[j + t].nin; i++)
            for (int v = 0; v < na; v++)
                if (X->dims[v] == U[j + t].in[i]) S->tab[v * na + v] = t;
    }
    int next = 0;
    for (int a2 = 0; a2 < na; a2++)
        for (int b2 = 0; b2 < na; b2++)
            if (a2 != b2) {
                S->tab[a2 * na + b2] = next < nu ? unreached[next++] : 0;
                S->tabfree[a2 * na + b2] = 1;
            }
    int rc = next < nu ? fail(x, "%s: %s", where, "more unreached values than value pairs")
                       : claim(x, si, od, cnt, where);
    free(od);
    free(unreached);
    return rc ? 1 : 0;
}

/* A categorical Map as units j..k-1: each reads a disjoint set of X's values (a table row). */
static int table_map(Lift *x, const Unit *U, int j, int k, int xs, int l, const char *where) {
    int cnt = k - j;
    int si = lift_new_sop(x, LS_MAP, false, cnt, l);
    LSop *S = &x->s[si];
    const LSop *X = &x->s[xs];
    S->a = xs;
    S->tab = arena_alloc(&x->a, sizeof(int) * (size_t)X->n);
    int *od = malloc(sizeof(int) * (size_t)cnt);
    for (int t = 0; t < cnt; t++) {
        od[t] = U[j + t].out[0];
        for (int i = 0; i < U[j + t].nin; i++)
            for (int v = 0; v < X->n; v++)
                if (X->dims[v] == U[j + t].in[i]) S->tab[v] = t;
    }
    int rc = claim(x, si, od, cnt, where);
    free(od);
    return rc ? 1 : 0;
}

/* Categorical Map from unit j: consecutive units with disjoint 0/1 preimages covering the
 * SOp xs. -1 when the units do not cover it (then it is not such a map). */
static int scan_categorical_map(Lift *x, const Unit *U, int M, int j, int xs, int l,
                                const char *where, int *next) {
    const LSop *X = &x->s[xs];
    unsigned char *cov = calloc((size_t)X->n, 1);
    int k = j, covered = 0, last_out = -1, n_free = 0;
    bool complete = false;
    while (k < M && !complete) {
        const Unit *w = &U[k];
        bool ok = w->nout == 1 && near(w->wout[0], 1) && w->out[0] > last_out;
        if (ok && !w->nin) { /* an unreached value (see scan_mlp) */
            n_free++;
            last_out = w->out[0];
            k++;
            continue;
        }
        for (int i = 0; i < w->nin && ok; i++) {
            int d = w->in[i], vi = -1;
            if (x->dim_sop[d] != xs || !near(w->win[i], 1)) ok = false;
            for (int t = 0; t < X->n && ok; t++)
                if (X->dims[t] == d) vi = t;
            if (vi < 0 || cov[vi]) ok = false;
        }
        if (!ok) break;
        for (int i = 0; i < w->nin; i++)
            for (int t = 0; t < X->n; t++)
                if (X->dims[t] == w->in[i]) cov[t] = 1, covered++;
        last_out = w->out[0];
        k++;
        complete = covered == X->n;
    }
    free(cov);
    /* unreached values sorting after the last reached one */
    while (complete && n_free >= 0 && k < M && !U[k].nin && U[k].nout == 1 &&
           near(U[k].wout[0], 1) && U[k].out[0] > last_out)
        last_out = U[k++].out[0], n_free++;
    if (!complete) return -1;
    if ((n_free ? diagonal_seqmap(x, U, j, k, xs, l, where)
                : table_map(x, U, j, k, xs, l, where)) != 0)
        return 1;
    *next = k;
    return 0;
}

/* Categorical -> numerical Map: one unit, W1 = f(value), W2 = 1. */
static int scan_numerical_map(Lift *x, const Unit *u, int xs, int l, const char *where) {
    if (u->nout != 1 || !near(u->wout[0], 1))
        return fail(x, "%s: %s", where,
                    "a categorical MLP unit is neither a table row nor a numerical map");
    int si = lift_new_sop(x, LS_MAP, true, 1, l);
    LSop *S = &x->s[si];
    const LSop *X = &x->s[xs];
    S->a = xs;
    S->ftab = arena_alloc(&x->a, sizeof(double) * (size_t)X->n);
    double *v = malloc(sizeof(double) * (size_t)X->n);
    for (int t = 0; t < X->n; t++) v[t] = S->ftab[t] = snap(win(u, X->dims[t]));
    S->n_num = uniq(x, v, X->n, &S->num);
    free(v);
    return claim(x, si, &u->out[0], 1, where) ? 1 : 0;
}

/* A block whose input is the SOp xs (read through direction d0 by unit u = U[j], nr real
 * inputs, weight w_one on `one`): a numerical MLP (linear sequence map or discretising) or a
 * categorical one (sequence map, table, numerical map). */
static int scan_block(Lift *x, const Unit *U, int M, int j, const Unit *u, int xs, int nr, int d0,
                      double w_one, double *thr, int l, const char *where, int *next) {
    const LSop *X = &x->s[xs];
    if (X->numerical) {
        if (w_one == 0 && nr == 1 && near(fabs(u->win[0]), 1) && !near(x->L, 1) && j + 3 < M) {
            if (scan_linseqmap(x, U, j, xs, l, where)) return 1;
            *next = j + 4;
            return 0;
        }
        int nt, e;
        double *vs = NULL;
        if (nr != 1 || scan_discretising(x, U, M, j, d0, thr, &nt, &e, where) ||
            match_values(x, X, thr, nt, &vs, where))
            return nr != 1
                       ? fail(x, "%s: %s", where, "a numerical MLP unit reads several directions")
                       : 1;
        if (finish_discretising(x, U, j, e, xs, vs, nt + 1, l, LS_MAP, NULL, -1, where)) return 1;
        *next = e;
        return 0;
    }
    /* categorical input */
    if (near(w_one, -1) && nr == 2) return scan_seqmap(x, U, M, j, u, l, where, next);
    if (w_one != 0) return fail(x, "%s: %s", where, "a categorical MLP unit reads `one`");
    for (int i = 0; i < u->nin; i++)
        if (x->dim_sop[u->in[i]] != xs)
            return fail(x, "%s: %s", where, "a map unit reads several SOps");
    int rc = scan_categorical_map(x, U, M, j, xs, l, where, next);
    if (rc >= 0) return rc;
    if (scan_numerical_map(x, u, xs, l, where)) return 1;
    *next = j + 1;
    return 0;
}

static int scan_mlp(Lift *x, int l) {
    const CompiledModel *m = x->m;
    int M = m->mlp_hidden_size;
    bool any;
    Unit *U = read_units(x, &m->layers[l], M, &any);
    if (!any) return 0;
    double *thr = arena_alloc(&x->a, sizeof(double) * (size_t)(M + 1));
    for (int j = 0; j < M;) {
        const Unit *u = &U[j];
        char where[96];
        snprintf(where, sizeof where, "layer %d MLP unit %d", l, j);
        if (!u->nin && !u->nout) {
            j++;
            continue;
        }
        /* A unit that writes an output value but reads nothing is a value no input
         * reaches: Tracr's Map path for SequenceMap(f, x, x) keeps a hidden unit for every
         * f(a, b) though only f(a, a) is ever computed. Read on from the next unit that reads. */
        int probe = j;
        while (probe < M && !U[probe].nin && U[probe].nout == 1 && near(U[probe].wout[0], 1))
            probe++;
        if (probe == M || (!u->nin && (x->one >= 0 && win(&U[probe], x->one) != 0)))
            return fail(x, "%s: %s", where, "writes without reading anything");
        u = &U[probe];
        int nr = n_real_in(x, u);
        int d0 = nr ? real_in(x, u, 0) : -1;
        if (nr == 1 && d0 == x->bos) { /* the shared clean-BOS unit of selector widths */
            j++;
            continue;
        }
        if (nr == 0) return fail(x, "%s: %s", where, "reads only `one` outside a discretising MLP");
        if (nr == 1 && x->dim_sw[d0] >= 0) {
            if (scan_selector_width(x, U, M, j, d0, thr, l, where, &j)) return 1;
            continue;
        }
        int xs = x->dim_sop[d0];
        if (xs < 0) return fail(x, "%s: %s", where, "reads a direction no earlier block writes");
        double w_one = x->one >= 0 ? win(u, x->one) : 0;
        /* a number read from one direction of a categorical table: a discretising unit
         * (slope L) or a linear sequence map unit (weight -1 first) */
        if (nr == 1 && !x->s[xs].numerical &&
            (near(win(u, d0), x->L) || (w_one == 0 && near(win(u, d0), -1)))) {
            int t = split_numerical(x, d0);
            if (t >= 0) xs = t;
        }
        if (x->s[xs].numerical && nr == 1 && w_one == 0 && near(win(u, d0), -1) && j + 2 < M &&
            n_real_in(x, &U[j + 2]) == 1) {
            int dy = real_in(x, &U[j + 2], 0);
            if (dy >= 0 && x->dim_sop[dy] >= 0 && !x->s[x->dim_sop[dy]].numerical)
                split_numerical(x, dy);
        }
        x->s[xs].used = true;
        if (scan_block(x, U, M, j, u, xs, nr, d0, w_one, thr, l, where, &j)) return 1;
    }
    for (int p = 0; p < x->n_pending; p++)
        if (x->dim_sw[x->pending_dim[p]] >= 0)
            return err_printf(x->err, x->errcap,
                              "layer %d: a selector-width head has no MLP in its layer", l);
    return 0;
}

int lift_scan(Lift *x) {
    const CompiledModel *m = x->m;
    x->D = m->residual_dim;
    x->N = m->max_seq_len;
    x->L = m->mlp_exactness > 0 ? m->mlp_exactness : 100;
    x->dim_sop = arena_alloc(&x->a, sizeof(int) * (size_t)x->D);
    x->dim_sw = arena_alloc(&x->a, sizeof(int) * (size_t)x->D);
    for (int d = 0; d < x->D; d++) x->dim_sop[d] = x->dim_sw[d] = -1;
    int maxp = m->num_layers * m->num_heads + 1;
    x->pending = arena_alloc(&x->a, sizeof(LSel) * (size_t)maxp);
    x->pending_dim = arena_alloc(&x->a, sizeof(int) * (size_t)maxp);
    if (scan_embeddings(x)) return 1;
    for (int l = 0; l < m->num_layers; l++) {
        for (int h = 0; h < m->num_heads; h++)
            if (scan_head(x, l, h)) return 1;
        if (scan_mlp(x, l)) return 1;
    }
    /* the output: the SOp the unembedding reads, column j = its j-th value */
    int no = m->n_out, *od = malloc(sizeof(int) * (size_t)no);
    for (int j = 0; j < no; j++) {
        od[j] = -1;
        for (int d = 0; d < x->D; d++) {
            double w = m->unembed[(size_t)d * no + j];
            if (!nz(w)) continue;
            if (!near(w, 1) || od[j] >= 0) {
                free(od);
                return err_printf(x->err, x->errcap,
                                  "unembedding: column %d is not a one-hot projection", j);
            }
            od[j] = d;
        }
    }
    bool mixed;
    if (m->output_numerical && no == 1 && od[0] >= 0) split_numerical(x, od[0]);
    int o = no > 0 && od[0] >= 0 ? owner(x, od, no, &mixed) : -1;
    bool ok = o >= 0 && x->s[o].n == no;
    for (int j = 0; ok && j < no; j++) ok = x->s[o].dims[j] == od[j];
    free(od);
    if (!ok)
        return err_printf(
            x->err, x->errcap,
            "unembedding: the output columns are not the directions of one SOp in order");
    if (x->s[o].kind == LS_TOKENS || x->s[o].kind == LS_INDICES)
        return err_printf(
            x->err, x->errcap,
            "unembedding: the output is an input SOp (Tracr compiles no such program)");
    if (x->s[o].numerical != (m->output_numerical != 0))
        return err_printf(x->err, x->errcap,
                          "unembedding: the output SOp is %s but the model decodes it as %s",
                          x->s[o].numerical ? "numerical" : "categorical",
                          m->output_numerical ? "numerical" : "categorical");
    x->output = o;
    if (!m->output_numerical) {
        LSop *O = &x->s[o];
        if (O->known) {
            for (int j = 0; j < no; j++)
                if (!val_eq(O->vals[j], m->out_values[j]))
                    return err_printf(
                        x->err, x->errcap,
                        "unembedding: the output values disagree with the values the weights imply");
        }
        O->vals = arena_alloc(&x->a, sizeof(Value) * (size_t)no);
        memcpy(O->vals, m->out_values, sizeof(Value) * (size_t)no);
        O->known = true;
    }
    return 0;
}
