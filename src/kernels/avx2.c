/* avx2.c: the int8 codec's AVX2 kernels (compiled with -mavx2 -mfma; only called when the CPU has
 * them): int8_tmpl.h at 8 lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "int8_tmpl.h"
