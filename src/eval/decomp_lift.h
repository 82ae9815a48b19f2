/* decompile's exact path (`itracr decompile --method auto|lift`): lift the model (Tracr's
 * layout, else its canonicalised basis, lift/canon.h) and print the program with the method
 * and the verdict, in decompile's text and JSON forms. The meta-model path is untouched. */
#ifndef ITRACR_EVAL_DECOMP_LIFT_H
#define ITRACR_EVAL_DECOMP_LIFT_H
#include <stdbool.h>
#include <stddef.h>

#include "compiler/model.h"

typedef enum { DECOMP_AUTO, DECOMP_LIFT, DECOMP_META } DecompMethod;

/* "auto", "lift", "meta" -> *m; returns 0, or 1 for an unknown name. */
int decomp_method_parse(const char *s, DecompMethod *m);

/* Lifts m and, when the program is verified, prints it (stdout: the .rasp text, or with json
 * one object {"method": "lift", "program", "verified", "verdict", ...}; stderr: the
 * "method: lift" and "verified:" lines) and returns 1. Returns 0 with the reason in why (the
 * refusal, or the failed verdict) when lift gives no verified program; nothing is printed. */
int decomp_lift_try(const CompiledModel *m, bool json, char *why, size_t whycap);

#endif
