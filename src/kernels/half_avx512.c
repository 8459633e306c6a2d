/* half_avx512.c: the f16/bf16 kernels for AVX-512 F/BW/VL: half_tmpl.h at 16 lanes (rows shorter
 * than 16 go to the AVX2 kernels). */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "half_tmpl.h"
