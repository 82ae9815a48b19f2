/* decompile's paths without a meta-model (`itracr decompile --method auto|lift|probe`): lift the model (Tracr's
 * layout, else its canonicalised basis, lift/canon.h) and print the program with the method
 * and the verdict, in decompile's text and JSON forms. The meta-model path is untouched. */
#ifndef ITRACR_EVAL_DECOMP_LIFT_H
#define ITRACR_EVAL_DECOMP_LIFT_H
#include <stdbool.h>
#include <stddef.h>

#include "compiler/model.h"
#include "lift/probe.h"

typedef enum { DECOMP_AUTO, DECOMP_LIFT, DECOMP_META, DECOMP_PROBE } DecompMethod;

/* "auto", "lift", "meta", "probe" -> *m; returns 0, or 1 for an unknown name. */
int decomp_method_parse(const char *s, DecompMethod *m);

/* Lifts m and, when the program is verified, prints it (stdout: the .rasp text, or with json
 * one object {"method": "lift", "program", "verified", "verdict", ...}; stderr: the
 * "method: lift" and "verified:" lines) and returns 1. Returns 0 with the reason in why (the
 * refusal, or the failed verdict) when lift gives no verified program; nothing is printed. */
int decomp_lift_try(const CompiledModel *m, bool json, char *why, size_t whycap);

/* The same for the program read from m's activations (lift/probe.h): printed ("method:
 * probe", "verified: function") and 1 when its compiled model gives m's outputs on every
 * compared input; else 0 with the reason in why, and (closest not NULL) a program that is not
 * verified kept in *closest (free with probe_result_free; zeroed when there is none).
 * fallback (NULL: none) says why an earlier method did not answer ("lift refused: ..."): it
 * goes into "method: probe (...)" and the JSON's "lift", as the meta path reports it. */
int decomp_probe_try(const CompiledModel *m, bool json, const char *fallback, ProbeResult *closest,
                     char *why, size_t whycap);
/* Prints r as decompile does: the program (or one JSON object) and, on stderr, "method: probe"
 * and "verified: function" or "verified: none (disagrees on N of M inputs)". */
void decomp_probe_print(const ProbeResult *r, bool json, double ms, const char *fallback);

#endif
