/* search_avx2.c: the flat search's dot products with AVX2 + FMA: dots_tmpl.h at 8 lanes. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#include "dots_tmpl.h"
