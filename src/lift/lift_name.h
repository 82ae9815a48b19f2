/* Candidate lambdas for naming lifted tables (lift_name.c). */
#ifndef ITRACR_LIFT_NAME_H
#define ITRACR_LIFT_NAME_H
#include <stdbool.h>

#include "rasp/pyexpr.h"
#include "util/arena.h"

/* Candidate bodies (parameter 0 = x / key, 1 = y / query), simplest first. */
int lift_map_candidates(Arena *a, const Value *dom, int n, PyExpr **out, int cap);
int lift_seqmap_candidates(Arena *a, int max_seq_len, PyExpr **out, int cap);
int lift_pred_candidates(Arena *a, const Value *kdom, int nk, int max_seq_len, PyExpr **out,
                         int cap);

/* Does body agree with the table? args [n_args * arity]; tab[i] = output index or -1 for
 * None. discover: outvals[n_out] are unknown and receive the candidate's sorted values;
 * else they are the known values. */
bool lift_fit(const PyExpr *body, int arity, const Value *args, int n_args, const int *tab,
              Value *outvals, int n_out, bool discover);
/* Numerical table: body(args[i]) == want[i] (within float32 rounding). */
bool lift_fit_num(const PyExpr *body, int arity, const Value *args, int n_args, const double *want);

#endif
