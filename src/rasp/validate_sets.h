/* rasp_validate_compilable for the compiler: the same checks and report, keeping the value
 * sets it infers so that compilation does not infer them a second time. */
#ifndef ITRACR_RASP_VALIDATE_SETS_H
#define ITRACR_RASP_VALIDATE_SETS_H
#include <stdbool.h>

#include "rasp/rasp.h"

/* Adds to r exactly what rasp_validate_compilable adds and returns the same count.
 * sets[n_exprs] is always initialised (free with rasp_free_value_sets); *have_sets is true
 * when it holds rasp_infer_value_sets' result for (vocab, max_seq_len), false when the
 * program was refused before inference or inference failed (r then has an issue).
 *
 * defer: skip the checks that call a lambda or predicate on the values of a set with no
 * None (a Map on its input set, a categorical SequenceMap on its input pairs, a Select's
 * predicate on its key and query pairs). The compiler's blocks (non-exact mode) call the
 * same functions on the same values and fail wherever a skipped check would report, so a
 * compiler that defers must, when anything fails, run the full validation and report that
 * instead (compile_program does). The report is then a subset of the full one. */
int rasp_validate_compilable_sets(const RaspProgram *p, const Value *vocab, int n_vocab,
                                  int max_seq_len, RaspReport *r, ValueSet *sets, bool *have_sets,
                                  bool defer);

#endif
