/* The switch between OpenBLAS and the plain-loop matrix products (the plain loops are the
 * fallback and the test oracle). The default is BLAS unless ITRACR_NO_BLAS=1 is set in the
 * environment; tests flip it with meta_set_blas. */
#ifndef ITRACR_META_BLAS_H
#define ITRACR_META_BLAS_H

int meta_blas_enabled(void);
void meta_set_blas(int on);
/* OpenBLAS runs its own threads; inside our OpenMP regions that call sgemm per (batch, head)
 * it must run on the calling thread. begin returns the previous thread count for end. */
int meta_blas_serial_begin(void);
void meta_blas_serial_end(int prev);
/* Kernel name of the OpenBLAS build in use (e.g. "SkylakeX"), or "none". */
const char *meta_blas_corename(void);

#endif
