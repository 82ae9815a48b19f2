/* Float build of the whole-model forward/backward (the model's). */
#define REAL float
#define FN(n) n
#include "meta/meta_net_tmpl.h"
