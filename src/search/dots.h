/* dots.h: the float dot products of the flat search and of rescoring (one summation order, so a row
 * scores the same bits in every path). */
#ifndef VEC_SEARCH_DOTS_H
#define VEC_SEARCH_DOTS_H

#include <stddef.h>

#include "search_kernels.h"

/* The active instruction set's kernel; NEON has none of its own yet and uses the scalar one. */
static inline vec_dots_fn pick_dots(void) {
#if defined(VEC_HAVE_X86_KERNELS)
  switch (vec_active_isa()) {
  case VEC_ISA_AVX512: return vec_dots_avx512;
  case VEC_ISA_AVX2: return vec_dots_avx2;
  default: break;
  }
#endif
  return vec_dots_scalar;
}

static inline float dot1(vec_dots_fn f, const float *a, const float *b, size_t d) {
  float r;
  f(a, b, 0, NULL, 1, d, &r);
  return r;
}

#endif
