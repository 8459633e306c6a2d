/* avx512.c: the int8 codec's AVX-512 F/BW/VL kernels (compiled with those flags; only called when
 * the CPU and OS support them): int8_tmpl.h at 16 lanes. */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "int8_tmpl.h"
