/* rabitq_neon.c: NEON kernels of the rabitq codec: rabitq_tmpl.h vectorised for AArch64. */
#define VEC_RQ_ISA neon
#include "rabitq_tmpl.h"
