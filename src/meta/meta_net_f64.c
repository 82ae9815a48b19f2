/* Double build of the whole-model forward/backward, for gradient checks. */
#define REAL double
#define FN(n) n##_f64
#include "meta/meta_net_tmpl.h"
