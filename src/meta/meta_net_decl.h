/* Included twice by meta/meta.h (float, then double with suffix _f64); no include guard. */

/* Activations and backward scratch for batches up to max_batch samples of up to
 * (max_prefix + max_prog) positions. N = B*L rows, BT = B*T program rows, M = mlp width.
 * Buffers are used packed for the current B, P, T. */
typedef struct META_FN(MetaActs) {
    int max_batch;
    int B, P, T;       /* of the last forward */
    int count;         /* targets not ignored in the last forward (0: backward is a no-op) */
    META_REAL *pay;    /* [B,P,F] the payload converted to REAL */
    META_REAL **resid; /* [n_layer+1] of [N,C]: block inputs; resid[n_layer] is the output */
    META_REAL **ln1, **ln1_mean, **ln1_rstd; /* [N,C], [N], [N] */
    META_REAL **qkv;                         /* [N,3C] */
    META_REAL **att;                         /* [B,H,L,L] */
    META_REAL **atty;                        /* [N,C] attention output before the projection */
    META_REAL **mid;                         /* [N,C] residual after attention */
    META_REAL **ln2, **ln2_mean, **ln2_rstd;
    META_REAL **fch, **fchg;                      /* [N,M] MLP hidden before / after GELU */
    META_REAL *xprog, *lnf, *lnf_mean, *lnf_rstd; /* [BT,C], [BT,C], [BT], [BT] */
    META_REAL *logits, *probs, *losses;           /* [BT,V], [BT,V], [BT] */
    /* backward scratch */
    META_REAL *dres, *dln, *dqkv, *datt, *datty, *dfch, *dfchg, *dxprog, *dlnf, *dlogits;
    void *block; /* the single allocation behind every buffer */
} META_FN(MetaActs);

/* Returns 0, or -1 on OOM (the config must be valid). */
int META_FN(meta_acts_alloc)(META_FN(MetaActs) * a, const MetaConfig *c, int max_batch);
void META_FN(meta_acts_free)(META_FN(MetaActs) * a);

/* Forward over a validated batch; returns the mean cross-entropy over targets that are not
 * ignored (0 when targets is NULL or all ignored). Logits stay in a->logits [B,T,V]. */
double META_FN(meta_net_forward)(META_FN(MetaActs) * a, const MetaConfig *c, const MetaLayout *lay,
                                 const META_REAL *params, const MetaBatch *b);
/* Backward of the last forward (same batch): grads [n_params] += d(mean loss)/d(params). */
void META_FN(meta_net_backward)(META_FN(MetaActs) * a, const MetaConfig *c, const MetaLayout *lay,
                                const META_REAL *params, META_REAL *grads, const MetaBatch *b);
