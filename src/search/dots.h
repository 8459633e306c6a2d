/* dots.h: the float dot products of the flat search and of rescoring (one summation order, so a row
 * scores the same bits in every path). */
#ifndef VEC_SEARCH_DOTS_H
#define VEC_SEARCH_DOTS_H

#include <stddef.h>

#include "../kernels/kernels.h"

/* The active table's kernel (NEON has none of its own yet and gets the scalar one). */
static inline vec_search_dots_fn pick_dots(void) { return vec_kernels_get()->search.dots; }

static inline float dot1(vec_search_dots_fn f, const float *a, const float *b, size_t d) {
  float r;
  f(a, b, 0, NULL, 1, d, &r);
  return r;
}

#endif
