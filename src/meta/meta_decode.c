#include "meta/meta.h"

#include <cblas.h>
#include <omp.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta_par.h"

/* KV-cached incremental decoder for up to nb hypotheses advancing in lockstep. */
typedef struct {
    MetaModel *m;
    int np, nb, maxT, C, M, V, H, nl;
    float *kpre, *vpre;         /* [nl][np][C] */
    float *kc, *vc, *kc2, *vc2; /* [nb][nl][maxT][C] program keys/values (2: reorder target) */
    float *x, *ln, *mean, *rstd, *qkv, *atty, *fch, *fchg, *logits, *sc;
    /* x, ln, atty [nb,C]; mean, rstd [nb]; qkv [nb,3C]; fch(g) [nb,M]; logits [nb,V];
     * sc [nb*H][np+maxT] attention scores */
} Dec;

static void dec_free(Dec *d) {
    float *bufs[] = {d->kpre, d->vpre, d->kc,  d->vc,   d->kc2, d->vc2,  d->x,      d->ln,
                     d->mean, d->rstd, d->qkv, d->atty, d->fch, d->fchg, d->logits, d->sc};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) free(bufs[i]);
    memset(d, 0, sizeof *d);
}

static int dec_init(Dec *d, MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o, int nb,
                    char *err, size_t errcap) {
    memset(d, 0, sizeof *d);
    const MetaConfig *c = &m->cfg;
    if (!pre || pre->P < 0 || pre->P > c->max_prefix ||
        (pre->P > 0 && (!pre->payload || (c->n_id_fields && !pre->ids)))) {
        snprintf(err, errcap, "meta decode: bad prefix (P must be in [0, %d] with payload and ids)",
                 c->max_prefix);
        return -1;
    }
    if (o->max_len < 1 || o->max_len > c->max_prog) {
        snprintf(err, errcap, "meta decode: max_len %d out of range [1, %d]", o->max_len,
                 c->max_prog);
        return -1;
    }
    if (o->bos < 0 || o->bos >= c->vocab || o->eos < -1 || o->eos >= c->vocab) {
        snprintf(err, errcap, "meta decode: bos %d / eos %d out of range for vocab %d", o->bos,
                 o->eos, c->vocab);
        return -1;
    }
    d->m = m;
    d->np = pre->P, d->nb = nb, d->maxT = o->max_len;
    d->C = c->d_model, d->M = c->mlp_ratio * c->d_model, d->V = c->vocab, d->H = c->n_head,
    d->nl = c->n_layer;
    size_t C = (size_t)d->C, nlz = (size_t)(d->nl ? d->nl : 1);
    size_t pre_n = nlz * (size_t)(d->np ? d->np : 1) * C,
           prog_n = (size_t)nb * nlz * (size_t)d->maxT * C;
    d->kpre = malloc(sizeof(float) * pre_n);
    d->vpre = malloc(sizeof(float) * pre_n);
    d->kc = malloc(sizeof(float) * prog_n);
    d->vc = malloc(sizeof(float) * prog_n);
    d->kc2 = malloc(sizeof(float) * prog_n);
    d->vc2 = malloc(sizeof(float) * prog_n);
    d->x = malloc(sizeof(float) * nb * C);
    d->ln = malloc(sizeof(float) * nb * C);
    d->mean = malloc(sizeof(float) * nb);
    d->rstd = malloc(sizeof(float) * nb);
    d->qkv = malloc(sizeof(float) * nb * 3 * C);
    d->atty = malloc(sizeof(float) * nb * C);
    d->fch = malloc(sizeof(float) * nb * d->M);
    d->fchg = malloc(sizeof(float) * nb * d->M);
    d->logits = malloc(sizeof(float) * nb * d->V);
    d->sc = malloc(sizeof(float) * nb * d->H * (size_t)(d->np + d->maxT));
    if (!d->kpre || !d->vpre || !d->kc || !d->vc || !d->kc2 || !d->vc2 || !d->x || !d->ln ||
        !d->mean || !d->rstd || !d->qkv || !d->atty || !d->fch || !d->fchg || !d->logits ||
        !d->sc) {
        dec_free(d);
        snprintf(err, errcap, "meta decode: out of memory");
        return -1;
    }
    /* Encode the prefix with one full forward (one dummy program token, which the weight
     * tokens cannot see) and keep each layer's keys and values of the weight tokens. */
    if (o->reuse_prefix) {
        if (m->acts.B != 1 || m->acts.P != pre->P) {
            dec_free(d);
            snprintf(
                err, errcap,
                "meta decode: reuse_prefix, but the last forward was not on a prefix of %d tokens",
                pre->P);
            return -1;
        }
    } else {
        int32_t plen = pre->P, tok = o->bos;
        MetaBatch b = {1, pre->P, 1, pre->payload, pre->ids, &plen, &tok, NULL};
        if (meta_forward(m, &b, NULL, err, errcap)) {
            dec_free(d);
            return -1;
        }
    }
    for (int l = 0; l < d->nl; l++)
        for (int p = 0; p < d->np; p++) {
            const float *row = m->acts.qkv[l] + (size_t)p * 3 * C;
            memcpy(d->kpre + ((size_t)l * d->np + p) * C, row + C, sizeof(float) * C);
            memcpy(d->vpre + ((size_t)l * d->np + p) * C, row + 2 * C, sizeof(float) * C);
        }
    return 0;
}

static float *kslot(const Dec *d, float *base, int r, int l, int t) {
    return base + (((size_t)r * d->nl + l) * d->maxT + t) * d->C;
}

/* out[j] = scale * <rows[j, :hs], q> for the n rows of a [n, ld] matrix: the attention scores
 * of one head against cached keys. BLAS when enabled (the plain loop is a scalar reduction). */
static void rows_dot(const float *rows, int n, int ld, const float *q, int hs, float scale,
                     float *out) {
    if (n <= 0) return;
    if (meta_blas_enabled()) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, hs, scale, rows, ld, q, 1, 0.0f, out, 1);
        return;
    }
    for (int j = 0; j < n; j++) {
        const float *k = rows + (size_t)j * ld;
        float a = 0;
        for (int e = 0; e < hs; e++) a += q[e] * k[e];
        out[j] = a * scale;
    }
}

/* y[:hs] (= or +=, by acc) sum_j p[j] rows[j, :hs]: one head's attention output. */
static void rows_combine(const float *rows, int n, int ld, const float *p, int hs, int acc,
                         float *y) {
    if (!acc)
        for (int e = 0; e < hs; e++) y[e] = 0;
    if (n <= 0) return;
    if (meta_blas_enabled()) {
        cblas_sgemv(CblasRowMajor, CblasTrans, n, hs, 1.0f, rows, ld, p, 1, 1.0f, y, 1);
        return;
    }
    for (int j = 0; j < n; j++) {
        const float *v = rows + (size_t)j * ld;
        for (int e = 0; e < hs; e++) y[e] += p[j] * v[e];
    }
}

/* Runs position t for rows 0..n-1 with input tokens tok[n]; logits land in d->logits [n,V]. */
static void dec_step(Dec *d, int n, const int32_t *tok, int t) {
    const MetaModel *m = d->m;
    const MetaLayout *lay = &m->lay;
    const float *pr = m->params;
    int C = d->C, M = d->M, H = d->H, hs = C / H, S = d->np + d->maxT;
    float scale = 1.0f / sqrtf((float)hs);
    for (int r = 0; r < n; r++) {
        const float *te = pr + lay->wte + (size_t)tok[r] * C, *pe = pr + lay->wpe + (size_t)t * C;
        for (int j = 0; j < C; j++) d->x[(size_t)r * C + j] = te[j] + pe[j];
    }
    for (int l = 0; l < d->nl; l++) {
        const MetaBlockOffsets *o = &lay->blocks[l];
        meta_layernorm_forward(d->ln, d->mean, d->rstd, d->x, pr + o->ln1_g, pr + o->ln1_b, n, C);
        meta_linear_forward(d->qkv, d->ln, pr + o->qkv_w, pr + o->qkv_b, n, C, 3 * C, 0);
        for (int r = 0; r < n; r++) {
            memcpy(kslot(d, d->kc, r, l, t), d->qkv + (size_t)r * 3 * C + C, sizeof(float) * C);
            memcpy(kslot(d, d->vc, r, l, t), d->qkv + (size_t)r * 3 * C + 2 * C, sizeof(float) * C);
        }
        /* One decode step is a few thousand multiply-adds per hypothesis: a parallel region
         * costs more than it saves (and stalls badly on a loaded machine) unless the beam is
         * wide and the prefix long. */
        META_PAR((long)n * H * (d->np + t + 1) * hs > (1L << 17),
                 "omp parallel for schedule(static)", for (int rh = 0; rh < n * H; rh++) {
                     int r = rh / H, h = rh % H;
                     const float *q = d->qkv + (size_t)r * 3 * C + (size_t)h * hs;
                     float *s = d->sc + (size_t)rh * S;
                     int ns = d->np + t + 1;
                     const float *kp = d->kpre + (size_t)l * d->np * C + (size_t)h * hs;
                     const float *vp = d->vpre + (size_t)l * d->np * C + (size_t)h * hs;
                     const float *kg = kslot(d, d->kc, r, l, 0) + (size_t)h * hs;
                     const float *vg = kslot(d, d->vc, r, l, 0) + (size_t)h * hs;
                     rows_dot(kp, d->np, C, q, hs, scale, s);
                     rows_dot(kg, t + 1, C, q, hs, scale, s + d->np);
                     float mx = -INFINITY;
                     for (int j = 0; j < ns; j++) mx = s[j] > mx ? s[j] : mx;
                     float sum = 0;
                     for (int j = 0; j < ns; j++) {
                         s[j] = expf(s[j] - mx);
                         sum += s[j];
                     }
                     for (int j = 0; j < ns; j++) s[j] /= sum;
                     float *y = d->atty + (size_t)r * C + (size_t)h * hs;
                     rows_combine(vp, d->np, C, s, hs, 0, y);
                     rows_combine(vg, t + 1, C, s + d->np, hs, 1, y);
                 });
        meta_linear_forward(d->x, d->atty, pr + o->proj_w, pr + o->proj_b, n, C, C, 1);
        meta_layernorm_forward(d->ln, d->mean, d->rstd, d->x, pr + o->ln2_g, pr + o->ln2_b, n, C);
        meta_linear_forward(d->fch, d->ln, pr + o->fc_w, pr + o->fc_b, n, C, M, 0);
        meta_gelu_forward(d->fchg, d->fch, (size_t)n * M);
        meta_linear_forward(d->x, d->fchg, pr + o->fcp_w, pr + o->fcp_b, n, M, C, 1);
    }
    meta_layernorm_forward(d->ln, d->mean, d->rstd, d->x, pr + lay->lnf_g, pr + lay->lnf_b, n, C);
    meta_linear_forward(d->logits, d->ln, pr + lay->head_w, NULL, n, C, d->V, 0);
}

static int ask(const MetaDecodeOpts *o, const int32_t *prog, int n, unsigned char *allowed, int V,
               char *err, size_t errcap) {
    memset(allowed, 1, (size_t)V);
    if (o->allow && o->allow(o->user, prog, n, allowed)) {
        snprintf(err, errcap,
                 "meta decode: the constraint callback stopped decoding at position %d", n);
        return -1;
    }
    return 0;
}

int meta_decode_greedy(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o, int32_t *out,
                       int *out_len, char *err, size_t errcap) {
    *out_len = 0;
    Dec d;
    if (dec_init(&d, m, pre, o, 1, err, errcap)) return -1;
    int V = d.V, rc = 0;
    int32_t *prog = malloc(sizeof(int32_t) * (size_t)(o->max_len + 1));
    unsigned char *allowed = malloc((size_t)V);
    if (!prog || !allowed) {
        snprintf(err, errcap, "meta decode: out of memory");
        rc = -1;
        goto done;
    }
    prog[0] = o->bos;
    for (int t = 0; t < o->max_len; t++) {
        dec_step(&d, 1, &prog[t], t);
        if (ask(o, prog, t + 1, allowed, V, err, errcap)) {
            rc = -1;
            break;
        }
        int best = -1;
        for (int v = 0; v < V; v++)
            if (allowed[v] && (best < 0 || d.logits[v] > d.logits[best])) best = v;
        if (best < 0) {
            snprintf(err, errcap, "meta decode: no token allowed at position %d", t + 1);
            rc = 1;
            break;
        }
        prog[t + 1] = best;
        out[(*out_len)++] = best;
        if (best == o->eos) break;
    }
done:
    free(prog);
    free(allowed);
    dec_free(&d);
    return rc;
}

typedef struct {
    double score;
    int row, tok;
} Cand;

/* a ranks before b: higher score, then lower row, then lower token. */
static int cand_before(const Cand *a, const Cand *b) {
    if (a->score != b->score) return a->score > b->score;
    if (a->row != b->row) return a->row < b->row;
    return a->tok < b->tok;
}

int meta_decode_beam(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o, int W,
                     int32_t *out, int *out_len, float *score, char *err, size_t errcap) {
    *out_len = 0;
    if (W < 1 || W > 1024) {
        snprintf(err, errcap, "meta decode: beam width %d out of range [1, 1024]", W);
        return -1;
    }
    Dec d;
    if (dec_init(&d, m, pre, o, W, err, errcap)) return -1;
    int V = d.V, Lx = o->max_len + 1, rc = 0;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)W * Lx),
            *seq2 = malloc(sizeof(int32_t) * (size_t)W * Lx);
    int32_t *fin = malloc(sizeof(int32_t) * (size_t)W * Lx),
            *last = malloc(sizeof(int32_t) * (size_t)W);
    int *fin_len = malloc(sizeof(int) * (size_t)W);
    double *sc = malloc(sizeof(double) * (size_t)W), *fin_sc = malloc(sizeof(double) * (size_t)W);
    double *lp = malloc(sizeof(double) * (size_t)V);
    Cand *top = malloc(sizeof(Cand) * (size_t)W);
    unsigned char *allowed = malloc((size_t)V);
    if (!seq || !seq2 || !fin || !last || !fin_len || !sc || !fin_sc || !lp || !top || !allowed) {
        snprintf(err, errcap, "meta decode: out of memory");
        rc = -1;
        goto done;
    }
    int n = 1, nfin = 0, t = 0;
    seq[0] = o->bos;
    sc[0] = 0;
    for (; t < o->max_len && n > 0 && nfin < W; t++) {
        for (int r = 0; r < n; r++) last[r] = seq[(size_t)r * Lx + t];
        dec_step(&d, n, last, t);
        int ntop = 0;
        for (int r = 0; r < n; r++) {
            if (ask(o, seq + (size_t)r * Lx, t + 1, allowed, V, err, errcap)) {
                rc = -1;
                goto done;
            }
            const float *z = d.logits + (size_t)r * V;
            double mx = z[0], s = 0;
            for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
            for (int v = 0; v < V; v++) s += exp((double)z[v] - mx);
            double lse = mx + log(s);
            for (int v = 0; v < V; v++) {
                if (!allowed[v]) continue;
                Cand c = {sc[r] + (double)z[v] - lse, r, v};
                if (ntop == W && !cand_before(&c, &top[W - 1])) continue;
                int i = ntop < W ? ntop++ : W - 1;
                while (i > 0 && cand_before(&c, &top[i - 1])) {
                    top[i] = top[i - 1];
                    i--;
                }
                top[i] = c;
            }
        }
        if (ntop == 0) {
            snprintf(err, errcap, "meta decode: no token allowed at position %d", t + 1);
            rc = -1;
            goto done;
        }
        int nn = 0;
        for (int i = 0; i < ntop; i++) {
            const Cand *c = &top[i];
            int32_t *dst;
            if (c->tok == o->eos) {
                if (nfin == W) continue;
                dst = fin + (size_t)nfin * Lx;
                fin_len[nfin] = t + 2;
                fin_sc[nfin++] = c->score;
            } else {
                dst = seq2 + (size_t)nn * Lx;
                /* the hypothesis continues from its parent's cache */
                for (int l = 0; l < d.nl; l++) {
                    memcpy(kslot(&d, d.kc2, nn, l, 0), kslot(&d, d.kc, c->row, l, 0),
                           sizeof(float) * (size_t)(t + 1) * d.C);
                    memcpy(kslot(&d, d.vc2, nn, l, 0), kslot(&d, d.vc, c->row, l, 0),
                           sizeof(float) * (size_t)(t + 1) * d.C);
                }
                sc[nn++] = c->score; /* sc[r] for r >= nn was read already: top holds copies */
            }
            memcpy(dst, seq + (size_t)c->row * Lx, sizeof(int32_t) * (size_t)(t + 1));
            dst[t + 1] = c->tok;
        }
        int32_t *ts = seq;
        seq = seq2, seq2 = ts;
        float *tk = d.kc;
        d.kc = d.kc2, d.kc2 = tk;
        tk = d.vc;
        d.vc = d.vc2, d.vc2 = tk;
        n = nn;
    }
    /* best finished, else best unfinished (rows are in rank order, so row 0) */
    const int32_t *best = NULL;
    int blen = 0;
    double bsc = -INFINITY;
    for (int i = 0; i < nfin; i++)
        if (!best || fin_sc[i] > bsc)
            best = fin + (size_t)i * Lx, blen = fin_len[i], bsc = fin_sc[i];
    if (!best && n > 0) best = seq, blen = t + 1, bsc = sc[0];
    if (!best) {
        snprintf(err, errcap, "meta decode: beam search produced no hypothesis");
        rc = -1;
        goto done;
    }
    for (int i = 1; i < blen; i++) out[(*out_len)++] = best[i];
    if (score) *score = (float)bsc;
done:
    free(seq), free(seq2), free(fin), free(last), free(fin_len), free(sc), free(fin_sc), free(lp),
        free(top), free(allowed);
    dec_free(&d);
    return rc;
}

/* ---- sessions ---------------------------------------------------------------------------- */

struct MetaDecSession {
    Dec d;
    MetaDecodeOpts o;
    int32_t *in;            /* [maxT+1] the input token of each position (in[0] = BOS) */
    float *lg;              /* [maxT, V] the logits each cached position gave */
    int n_valid;            /* positions 0..n_valid-1 hold keys/values/logits of in[0..] */
    unsigned char *allowed; /* [V] */
    double *lp;             /* [V] */
    long n_steps;
};

MetaDecSession *meta_dec_session_new(MetaModel *m, const MetaPrefix *pre, const MetaDecodeOpts *o,
                                     char *err, size_t errcap) {
    MetaDecSession *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "meta decode: out of memory");
        return NULL;
    }
    if (dec_init(&s->d, m, pre, o, 1, err, errcap)) {
        free(s);
        return NULL;
    }
    s->o = *o;
    s->o.reuse_prefix = 0;
    int V = s->d.V;
    s->in = malloc(sizeof(int32_t) * (size_t)(o->max_len + 1));
    s->lg = malloc(sizeof(float) * (size_t)o->max_len * V);
    s->allowed = malloc((size_t)V);
    s->lp = malloc(sizeof(double) * (size_t)V);
    if (!s->in || !s->lg || !s->allowed || !s->lp) {
        meta_dec_session_free(s);
        snprintf(err, errcap, "meta decode: out of memory");
        return NULL;
    }
    s->in[0] = o->bos;
    return s;
}

void meta_dec_session_free(MetaDecSession *s) {
    if (!s) return;
    dec_free(&s->d);
    free(s->in);
    free(s->lg);
    free(s->allowed);
    free(s->lp);
    free(s);
}

long meta_dec_session_steps(const MetaDecSession *s) { return s->n_steps; }

/* The logits of position t with input tok (in[0..t-1] already set and valid). */
static const float *session_step(MetaDecSession *s, int t, int32_t tok) {
    int V = s->d.V;
    if (t < s->n_valid && s->in[t] == tok) return s->lg + (size_t)t * V;
    s->in[t] = tok;
    dec_step(&s->d, 1, &tok, t);
    s->n_steps++;
    memcpy(s->lg + (size_t)t * V, s->d.logits, sizeof(float) * (size_t)V);
    s->n_valid = t + 1; /* later positions were computed after another input */
    return s->lg + (size_t)t * V;
}

int meta_dec_session_run(MetaDecSession *s, const int32_t *force, int nf, Rng *rng, float temp,
                         int n_alt, MetaDecStep *steps, int32_t *alt_tok, float *alt_lp,
                         int *out_len, char *err, size_t errcap) {
    const MetaDecodeOpts *o = &s->o;
    int V = s->d.V, T = o->max_len;
    *out_len = 0;
    if (nf < 0 || nf > T) {
        snprintf(err, errcap, "meta decode: %d forced tokens, at most %d", nf, T);
        return -1;
    }
    /* seq[0] = BOS, seq[t+1] = the token generated at position t */
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(T + 1));
    if (!seq) {
        snprintf(err, errcap, "meta decode: out of memory");
        return -1;
    }
    seq[0] = o->bos;
    int rc = 0;
    for (int t = 0; t < T; t++) {
        /* a forced position still runs (its keys and values serve the later ones), from the
         * cache when the previous run had the same start */
        if (t < nf) {
            (void)session_step(s, t, seq[t]);
            seq[t + 1] = force[t];
            steps[t].tok = force[t];
            (*out_len)++;
            if (force[t] == o->eos) break;
            continue;
        }
        const float *z = session_step(s, t, seq[t]);
        if (ask(o, seq, t + 1, s->allowed, V, err, errcap)) {
            rc = 1; /* a dead end of this start, not a failure of the session */
            break;
        }
        double mx = z[0], sum = 0;
        for (int v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        for (int v = 0; v < V; v++) sum += exp((double)z[v] - mx);
        double lse = mx + log(sum);
        for (int v = 0; v < V; v++) s->lp[v] = (double)z[v] - lse;
        int best = -1;
        if (rng) {
            double tt = temp > 0 ? (double)temp : 1.0, tot = 0, amx = -INFINITY;
            for (int v = 0; v < V; v++)
                if (s->allowed[v] && s->lp[v] > amx) amx = s->lp[v];
            for (int v = 0; v < V; v++)
                if (s->allowed[v]) tot += exp((s->lp[v] - amx) / tt);
            double u = rng_uniform(rng) * tot;
            for (int v = 0; v < V; v++) {
                if (!s->allowed[v]) continue;
                best = v;
                u -= exp((s->lp[v] - amx) / tt);
                if (u < 0) break;
            }
        } else {
            for (int v = 0; v < V; v++)
                if (s->allowed[v] && (best < 0 || z[v] > z[best])) best = v;
        }
        if (best < 0) {
            snprintf(err, errcap, "meta decode: no token allowed at position %d", t + 1);
            rc = 1;
            break;
        }
        /* the n_alt best other allowed tokens, by insertion (n_alt is small) */
        int na = 0;
        int32_t *at = alt_tok + (size_t)t * (n_alt > 0 ? n_alt : 0);
        float *al = alt_lp + (size_t)t * (n_alt > 0 ? n_alt : 0);
        for (int v = 0; v < V && n_alt > 0; v++) {
            if (!s->allowed[v] || v == best) continue;
            if (na == n_alt && !(s->lp[v] > al[na - 1])) continue;
            int i = na < n_alt ? na++ : n_alt - 1;
            while (i > 0 && s->lp[v] > al[i - 1]) {
                at[i] = at[i - 1];
                al[i] = al[i - 1];
                i--;
            }
            at[i] = v;
            al[i] = (float)s->lp[v];
        }
        steps[t].tok = best;
        steps[t].lp = (float)s->lp[best];
        steps[t].n_alt = na;
        seq[t + 1] = best;
        (*out_len)++;
        if (best == o->eos) break;
    }
    free(seq);
    return rc;
}
