/* Typed random RASP programs, built operation by operation from tokens, indices and the
 * variables defined so far, under Tracr's typing rules (docs/program-tokens.md, "Sampler").
 *
 * Every SOp of a sample feeds the output (the last operation): the sampler keeps count of
 * the variables nothing uses yet and, when the operations left could no longer consume them
 * all, makes the next operation take them as arguments. The value set of every variable is
 * computed as Tracr infers it, which lets the sampler refuse operations that would be
 * constant, the identity, wider than the size caps, or inexact after compilation (a
 * numerical mean feeding anything but a test of x == 0).
 *
 * A sample is a function of (config, seed) only: gen_sample reseeds its own splitmix64
 * generator from the seed it is given, so samples can be drawn in any order or thread. */
#ifndef ITRACR_GEN_SAMPLER_H
#define ITRACR_GEN_SAMPLER_H
#include <stdbool.h>
#include <stdint.h>

#include "util/rng.h"

#include "gen/program_tokens.h"
#include "rasp/value.h"

#define GEN_MAX_VOCAB 32
#define GEN_MAX_VALS 64 /* value-set size the sampler can track per variable */

/* SOp kinds the sampler draws (op weights are indexed by these). */
enum { GEN_K_MAP, GEN_K_SEQMAP, GEN_K_LINSEQMAP, GEN_K_AGGREGATE, GEN_K_SELWIDTH, GEN_K_COUNT };

/* Vocabulary kinds of a per-program setting (a mask in GenConfig.vocab_kinds). */
enum { GEN_VOCAB_INT = 1, GEN_VOCAB_LETTERS = 2, GEN_VOCAB_WORDS = 4, GEN_VOCAB_MIXED = 8 };
#define GEN_VOCAB_KINDS 4
#define GEN_MAX_LETTERS 26
#define GEN_MAX_WORDS 32

/* The setting a program is compiled in: what a decoder needs besides the program tokens. */
typedef struct GenSetting {
    int kind; /* GEN_VOCAB_* (the fixed setting counts as GEN_VOCAB_INT) */
    int n_vocab;
    Value vocab[GEN_MAX_VOCAB]; /* drawn settings: ascending in the compiler's token order;
                                 * the fixed setting: GenConfig.vocab as given */
    int max_seq_len;
    bool causal;
} GenSetting;

typedef struct GenConfig {
    int min_ops, max_ops; /* SOps per program (Selects not counted); default 1..8 */
    /* The fixed setting (vary == false, the default): these tokens and length, non-causal. */
    int vocab[GEN_MAX_VOCAB]; /* integer tokens; default {0,1,2,3,4} */
    int n_vocab;
    int max_seq_len; /* default 5 */
    /* Drawn settings (vary == true): per program, a vocabulary size in vocab_min..vocab_max,
     * a kind from vocab_kinds (uniform), a max_seq_len in len_min..len_max, causal with
     * p_causal. A range of one point draws nothing, so vocab 5..5 of kind int, length 5..5
     * and p_causal 0 give the fixed setting's samples bit for bit (vocab {0..4}). */
    bool vary;
    int vocab_min, vocab_max; /* default 2..10 */
    unsigned vocab_kinds;     /* default int | letters | words | mixed */
    int len_min, len_max;     /* default 2..10 */
    double p_causal;          /* default 0.25 */
    /* Chance that a Map of a categorical number or bool is a random table instead of a
     * library entry (default 0; gen_config_general 0.1). Maps of strings are always tables:
     * no library entry takes a string. */
    double p_table;
    /* Chance that a new Select's predicate is a table over its keys' and queries' value sets
     * (a lambda predicate: a test of the key alone, a shifted match of numbers, or random)
     * instead of a comparison (default 0; gen_config_general 0.15). */
    double p_pred_table;
    double op_weight[GEN_K_COUNT]; /* relative chance of each SOp kind */
    double pred_weight[8];         /* Select predicates in Pred order (EQ..FALSE) */
    double p_numerical;            /* chance that an op which may be numerical is made numerical */
    double p_reuse_select;         /* chance to reuse an existing Select instead of a new one */
    bool categorical_only;         /* no numerical SOps at all */
    int max_values;                /* value-set size of a categorical SOp (<= GEN_MAX_VALS) */
    int max_residual;              /* residual width D */
    int max_layers;                /* transformer layers */
    int max_mlp_width;             /* MLP hidden units per layer */
    int max_tries;                 /* fresh starts per sample before giving up */
} GenConfig;

void gen_config_default(GenConfig *c);
/* The default with drawn settings (vary = true and the ranges above). */
void gen_config_general(GenConfig *c);
/* A drawn setting that cannot vary (one vocabulary size of kind int, one length, never
 * causal) becomes the fixed setting it always draws (vocab {0..n-1}): same samples, and a
 * dataset with the fixed setting's bytes. */
void gen_config_normalize(GenConfig *c);
/* True when samples can differ in their setting (the dataset must then store it). */
bool gen_config_varies(const GenConfig *c);
/* "int", "letters", "words", "mixed" (kind is one GEN_VOCAB_ bit); NULL otherwise. */
const char *gen_vocab_kind_name(int kind);
/* Parses "int,letters" into a mask. Returns 0 or -1. */
int gen_parse_vocab_kinds(const char *text, unsigned *mask);
/* Checks the ranges (ops 1..15, vocab 1..32 distinct, max_seq_len 1..64, weights >= 0 with
 * some positive, caps positive). Returns 0 or non-zero with a message. */
int gen_config_check(const GenConfig *c, char *err, size_t errcap);

/* Why an attempt was abandoned (counted, for tuning and reports). */
enum {
    GEN_R_STUCK,     /* no valid operation found for a step */
    GEN_R_LAYERS,    /* too many layers */
    GEN_R_MLP,       /* a layer's MLP too wide */
    GEN_R_RESIDUAL,  /* residual too wide */
    GEN_R_NO_TOKENS, /* the output does not depend on tokens (Tracr refuses it) */
    GEN_R_HEAD,      /* a categorical Aggregate wider than key_size (Tracr's assembly fails) */
    GEN_R_TABLES,    /* the tables' values do not fit in the program-token table */
    GEN_R_COUNT
};

typedef struct GenSample {
    PtOp rows[PT_MAX_VARS]; /* canonical rows */
    int n_rows;
    int n_sops;
    int16_t tokens[PT_ROWS * PT_COLS];
    GenSetting setting; /* vocabulary, max_seq_len and causality of this program */
    /* Sizes Tracr will give the compiled model (as the sampler predicts them). */
    int residual, layers, mlp_width, key_size;
} GenSample;

typedef struct GenSampler GenSampler;

/* Returns NULL (with a message) for a bad config or a broken lambda library. */
GenSampler *gen_sampler_new(const GenConfig *c, char *err, size_t errcap);
void gen_sampler_free(GenSampler *s);
const GenConfig *gen_sampler_config(const GenSampler *s);
/* Draws the sample of `seed`. Returns 0, or non-zero when max_tries fresh starts all failed
 * (the caller moves on to another seed). */
int gen_sample(GenSampler *s, uint64_t seed, GenSample *out);
/* Abandoned attempts by reason since gen_sampler_new: counts[GEN_R_COUNT]. */
void gen_sampler_rejections(const GenSampler *s, long *counts);

/* ---- settings as integers (setting.c), for the shards' sample_setting tensor ---------- */
/* A row of GEN_SETTING_COLS int32: kind, n_vocab, max_seq_len, causal, then n_vocab token
 * codes (zero-padded to GEN_MAX_VOCAB). A token code is the integer itself for an int in
 * [0, 2^30), and -(1 + k) for the string gen_symbol(k): the 26 letters, then the words. */
enum { GEN_SET_KIND, GEN_SET_N_VOCAB, GEN_SET_MAX_SEQ_LEN, GEN_SET_CAUSAL, GEN_SET_VOCAB0 };
#define GEN_SETTING_COLS (GEN_SET_VOCAB0 + GEN_MAX_VOCAB)
#define GEN_N_SYMBOLS (GEN_MAX_LETTERS + GEN_MAX_WORDS)
const char *gen_symbol(int k); /* NULL when out of range */
/* Returns 0, or -1 for a value without a code (another string, a negative int, ...). */
int gen_setting_to_row(const GenSetting *g, int32_t *row);
/* Returns 0, or -1 for a row that is not a setting (bad kind, sizes or codes). */
int gen_setting_from_row(const int32_t *row, GenSetting *g);
/* One line for reports, e.g.
 * "letters 4 [a c d q] len 7 causal" into buf. */
void gen_setting_describe(const GenSetting *g, char *buf, size_t cap);

/* The seed of sample i of a run with seed `base` (util/rng.h's splitmix64). */
uint64_t gen_sample_seed(uint64_t base, uint64_t i);

#endif
