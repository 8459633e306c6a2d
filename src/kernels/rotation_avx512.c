/* rotation_avx512.c: the structured rotation's AVX-512 kernels: rotation_tmpl.h at 16 lanes (rows
 * shorter than 16 go to the AVX2 kernels). */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "rotation_tmpl.h"
