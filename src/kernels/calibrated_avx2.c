/* calibrated_avx2.c: the calibrated codecs' kernels for AVX2 (compiled with -mavx2; only called
 * when the CPU has it): calibrated_tmpl.h at 8 lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "calibrated_tmpl.h"
