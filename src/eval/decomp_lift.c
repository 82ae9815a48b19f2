/* decomp_lift_try (see decomp_lift.h). */
#include "eval/decomp_lift.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/json_util.h"
#include "lift/lift.h"
#include "lift/probe.h"

int decomp_method_parse(const char *s, DecompMethod *m) {
    static const char *names[] = {"auto", "lift", "meta", "probe"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *m = (DecompMethod)i;
            return 0;
        }
    return 1;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* "weights" when the recompiled weights equal the given ones; "function" when the proof is the
 * given model's outputs (a canonicalised basis: the weights compare only after rewriting). */
static const char *verified_name(const LiftResult *r) {
    return r->canonical ? "function" : "weights";
}

static void print_json(const LiftResult *r, double ms) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "method", "lift");
    cJSON_AddStringToObject(j, "program", r->program);
    cJSON_AddStringToObject(j, "verified", verified_name(r));
    cJSON_AddStringToObject(j, "verdict", r->verdict);
    cJSON_AddBoolToObject(j, "canonicalised", r->canonical);
    cJSON_AddBoolToObject(j, "weights_equal", r->weights_equal);
    cJSON_AddItemToObject(j, "inputs", json_number(r->n_inputs));
    cJSON_AddBoolToObject(j, "exhaustive", r->exhaustive);
    cJSON_AddItemToObject(j, "functions", json_number(r->n_functions));
    cJSON_AddItemToObject(j, "named", json_number(r->n_named));
    cJSON_AddItemToObject(j, "ms", json_number(ms));
    char *out = cJSON_PrintUnformatted(j);
    if (out) printf("%s\n", out);
    free(out);
    cJSON_Delete(j);
}

int decomp_lift_try(const CompiledModel *m, bool json, char *why, size_t whycap) {
    LiftOptions o;
    lift_options_default(&o);
    LiftResult r;
    char err[1024];
    double t0 = now_ms();
    if (lift_model(m, &o, &r, err, sizeof err)) {
        snprintf(why, whycap, "lift refused: %s", err);
        return 0;
    }
    double ms = now_ms() - t0;
    if (!r.verified) {
        snprintf(why, whycap, "lift: %s", r.verdict);
        lift_result_free(&r);
        return 0;
    }
    if (json) print_json(&r, ms);
    else {
        fputs(r.program, stdout);
        fprintf(stderr, "method: lift%s\nverified: %s (%s)\n",
                r.canonical ? " (basis canonicalised)" : "", verified_name(&r), r.verdict);
    }
    lift_result_free(&r);
    return 1;
}

void decomp_probe_print(const ProbeResult *r, bool json, double ms, const char *fallback) {
    long off = r->n_inputs - r->n_inputs_match;
    char line[160];
    if (r->verified) snprintf(line, sizeof line, "function");
    else snprintf(line, sizeof line, "none (disagrees on %ld of %ld inputs)", off, r->n_inputs);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "method", "probe");
        if (fallback) cJSON_AddStringToObject(j, "lift", fallback);
        cJSON_AddStringToObject(j, "program", r->program);
        cJSON_AddStringToObject(j, "verified", r->verified ? "function" : "none");
        cJSON_AddStringToObject(j, "verified_line", line);
        cJSON_AddStringToObject(j, "verdict", r->verdict);
        cJSON_AddItemToObject(j, "inputs", json_number((double)r->n_inputs));
        cJSON_AddItemToObject(j, "disagree", json_number((double)off));
        cJSON_AddBoolToObject(j, "exhaustive", r->exhaustive);
        cJSON_AddItemToObject(j, "sops", json_number(r->n_sops));
        cJSON_AddItemToObject(j, "ms", json_number(ms));
        char *out = cJSON_PrintUnformatted(j);
        if (out) printf("%s\n", out);
        free(out);
        cJSON_Delete(j);
    } else {
        fputs(r->program, stdout);
        if (fallback) fprintf(stderr, "method: probe (%s)\n", fallback);
        else fprintf(stderr, "method: probe\n");
        fprintf(stderr, "verified: %s (%s)\n", line, r->verdict);
    }
}

int decomp_probe_try(const CompiledModel *m, bool json, const char *fallback, ProbeResult *closest,
                     char *why, size_t whycap) {
    ProbeOptions o;
    probe_options_default(&o);
    ProbeResult r;
    char err[1024];
    double t0 = now_ms();
    if (closest) memset(closest, 0, sizeof *closest);
    if (probe_model(m, &o, &r, err, sizeof err)) {
        snprintf(why, whycap, "probe refused: %s", err);
        return 0;
    }
    double ms = now_ms() - t0;
    if (!r.verified) {
        snprintf(why, whycap, "probe: %s", r.verdict);
        if (closest) *closest = r;
        else probe_result_free(&r);
        return 0;
    }
    decomp_probe_print(&r, json, ms, fallback);
    probe_result_free(&r);
    return 1;
}
