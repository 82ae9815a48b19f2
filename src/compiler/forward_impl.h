/* Body of the compiled model's forward pass (docs/tracr.md §2.7), instantiated for double
 * and float by forward.c with REAL, GEMM and FWD_NAME defined. */

/* C[m,n] (+)= A[m,k] B[k,n], row-major. */
static void FWD_NAME(_mm)(REAL *C, const REAL *A, const REAL *B, int m, int k, int n, bool acc) {
    GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, A, k, B, n, acc ? 1 : 0, C, n);
}

static void FWD_NAME(_run)(const CompiledModel *mdl, const REAL *W, const int *ids, int B, int T,
                           REAL *out) {
    const int D = mdl->residual_dim, H = mdl->num_heads, ks = mdl->key_size,
              M = mdl->mlp_hidden_size;
    const int HK = H * ks, BT = B * T, V = mdl->vocab_size, N = mdl->max_seq_len, NO = mdl->n_out;
    const REAL *tok = W, *pos = W + (size_t)V * D;
    const REAL *lw = pos + (size_t)(N + 1) * D;
    const size_t per_layer = 3 * (size_t)D * HK + (size_t)HK * D + 2 * (size_t)D * M;
    const REAL *unemb = lw + per_layer * (size_t)mdl->num_layers;

    REAL *x = malloc(sizeof(REAL) * (size_t)BT * D);      /* [BT, D] */
    REAL *q = malloc(sizeof(REAL) * (size_t)BT * HK * 4); /* q, k, v, z: [BT, HK] each */
    REAL *k = q + (size_t)BT * HK, *v = k + (size_t)BT * HK, *z = v + (size_t)BT * HK;
    REAL *hid = malloc(sizeof(REAL) * (size_t)BT * M); /* [BT, M] */
    REAL *att = malloc(sizeof(REAL) * (size_t)T * T);  /* [T, T] */
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            REAL *row = x + ((size_t)b * T + t) * D;
            const REAL *te = tok + (size_t)ids[b * T + t] * D, *pe = pos + (size_t)t * D;
            for (int d = 0; d < D; d++) row[d] = te[d] + pe[d];
        }
    const REAL scale = (REAL)(1.0 / sqrt((double)ks));
    for (int l = 0; l < mdl->num_layers; l++) {
        const REAL *Wq = lw + per_layer * l, *Wk = Wq + (size_t)D * HK, *Wv = Wk + (size_t)D * HK;
        const REAL *Wo = Wv + (size_t)D * HK, *W1 = Wo + (size_t)HK * D, *W2 = W1 + (size_t)D * M;
        FWD_NAME(_mm)(q, x, Wq, BT, D, HK, false);
        FWD_NAME(_mm)(k, x, Wk, BT, D, HK, false);
        FWD_NAME(_mm)(v, x, Wv, BT, D, HK, false);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < T; i++) {
                    const REAL *qi = q + ((size_t)b * T + i) * HK + (size_t)h * ks;
                    REAL mx = -INFINITY;
                    for (int j = 0; j < T; j++) {
                        REAL s;
                        if (mdl->causal && j > i) {
                            s = (REAL)-1e30;
                        } else {
                            const REAL *kj = k + ((size_t)b * T + j) * HK + (size_t)h * ks;
                            s = 0;
                            for (int c = 0; c < ks; c++) s += qi[c] * kj[c];
                            s *= scale;
                        }
                        att[(size_t)i * T + j] = s;
                        if (s > mx) mx = s;
                    }
                    REAL sum = 0;
                    for (int j = 0; j < T; j++) {
                        REAL e = (REAL)exp((double)(att[(size_t)i * T + j] - mx));
                        att[(size_t)i * T + j] = e;
                        sum += e;
                    }
                    REAL *zi = z + ((size_t)b * T + i) * HK + (size_t)h * ks;
                    for (int c = 0; c < ks; c++) zi[c] = 0;
                    for (int j = 0; j < T; j++) {
                        REAL a = att[(size_t)i * T + j] / sum;
                        if (a == 0) continue;
                        const REAL *vj = v + ((size_t)b * T + j) * HK + (size_t)h * ks;
                        for (int c = 0; c < ks; c++) zi[c] += a * vj[c];
                    }
                }
            }
        FWD_NAME(_mm)(x, z, Wo, BT, HK, D, true);
        FWD_NAME(_mm)(hid, x, W1, BT, D, M, false);
        for (size_t i = 0; i < (size_t)BT * M; i++)
            if (hid[i] < 0) hid[i] = 0;
        FWD_NAME(_mm)(x, hid, W2, BT, M, D, true);
    }
    FWD_NAME(_mm)(out, x, unemb, BT, D, NO, false);
    free(x);
    free(q);
    free(hid);
    free(att);
}
