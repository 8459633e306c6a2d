/* rabitq_avx512.c: AVX-512 kernels of the rabitq codec: rabitq_tmpl.h vectorised with -mavx512bw
 * (and POPCNT for the 1-bit codes). */
#define VEC_RQ_ISA         avx512
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#include "rabitq_tmpl.h"
