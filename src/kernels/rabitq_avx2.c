/* rabitq_avx2.c: AVX2 kernels of the rabitq codec: rabitq_tmpl.h vectorised with -mavx2 (and
 * POPCNT, which every AVX2 CPU has, for the 1-bit codes). */
#define VEC_RQ_ISA         avx2
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#include "rabitq_tmpl.h"
