/* The switch between OpenBLAS and the plain-loop matrix products (the plain loops are the
 * fallback and the test oracle). The default is BLAS unless ITRACR_NO_BLAS=1 is set in the
 * environment; tests flip it with meta_set_blas. The first call sets OpenBLAS to one thread:
 * the meta kernels parallelise matrix products themselves with OpenMP (meta_gemm splits the
 * output), so only one thread pool is ever busy. */
#ifndef ITRACR_META_BLAS_H
#define ITRACR_META_BLAS_H

int meta_blas_enabled(void);
void meta_set_blas(int on);
/* Kernel name of the OpenBLAS build in use (e.g. "SkylakeX"), or "none". */
const char *meta_blas_corename(void);

#endif
