/* search_avx512.c: the flat search's dot products with AVX-512F: dots_tmpl.h at 16 lanes. */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#include "dots_tmpl.h"
