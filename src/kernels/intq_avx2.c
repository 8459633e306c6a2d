/* intq_avx2.c: AVX2 kernels of the int16 and int4 codecs (compiled with -mavx2 -mfma; only called
 * when the CPU has them): intq_tmpl.h at 8 lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "intq_tmpl.h"
