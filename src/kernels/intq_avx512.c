/* intq_avx512.c: AVX-512 F/BW/VL kernels of the int16 and int4 codecs: intq_tmpl.h at 16 lanes. */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "intq_tmpl.h"
