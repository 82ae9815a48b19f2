/* Double build of the whole-model forward/backward, for gradient checks. */
#include "meta/meta.h" /* first: it expands the declarations with META_REAL of its own */

#define META_REAL double
#define META_FN(n) n##_f64
#include "meta/meta_net_tmpl.h"
