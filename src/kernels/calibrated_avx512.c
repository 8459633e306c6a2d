/* calibrated_avx512.c: the calibrated codecs' kernels for AVX-512 F/BW/VL (compiled with those
 * flags; only called when the CPU and OS support them): calibrated_tmpl.h at 16 lanes. */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "calibrated_tmpl.h"
