/* rotation_avx2.c: the structured rotation's AVX2 kernels (compiled with -mavx2 -mfma):
 * rotation_tmpl.h at 8 lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "rotation_tmpl.h"
