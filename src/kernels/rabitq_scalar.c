/* rabitq_scalar.c: scalar reference kernels of the rabitq codec (rabitq_tmpl.h). */
#define VEC_RQ_ISA scalar
#include "rabitq_tmpl.h"
