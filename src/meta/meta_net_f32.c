/* Float build of the whole-model forward/backward (the model's). */
#include "meta/meta.h" /* first: it expands the declarations with META_REAL of its own */

#define META_REAL float
#define META_FN(n) n
#include "meta/meta_net_tmpl.h"
