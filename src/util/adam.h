/* One Adam step, shared by every trainer that keeps its parameters in one double array
 * (compression, distillation, the BERT encoder): beta1 0.9, beta2 0.999, eps 1e-8, bias
 * correction by the step count (from 0). p[n] moves against g[n]; m1[n], m2[n] are the
 * moments. decay (NULL: none) marks the entries that also get decoupled weight decay wd
 * (AdamW). */
#ifndef ITRACR_UTIL_ADAM_H
#define ITRACR_UTIL_ADAM_H
#include <math.h>
#include <stddef.h>

static inline void adam_update(double *p, const double *g, double *m1, double *m2, size_t n,
                               int step, double lr, double wd, const unsigned char *decay) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double c1 = 1 - pow(b1, step + 1), c2 = 1 - pow(b2, step + 1);
    for (size_t i = 0; i < n; i++) {
        m1[i] = b1 * m1[i] + (1 - b1) * g[i];
        m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i];
        double d = lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps);
        if (decay && decay[i]) d += lr * wd * p[i];
        p[i] -= d;
    }
}

#endif
