/* half_avx2.c: the f16/bf16 kernels for AVX2 (built with -mavx2 -mfma -mf16c): half_tmpl.h at 8
 * lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "half_tmpl.h"
