/* search_scalar.c: the scalar reference of the search's dot-product kernel: eight interleaved
 * partial sums in a fixed order (the compiler vectorises the lane loop without reassociating), and
 * dot4 computes each row with exactly the arithmetic of dot, so the two are interchangeable bit for
 * bit. */
#include "search_kernels.h"

static inline float lanes_sum(const float s[8]) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot(const float *a, const float *b, size_t d) {
  float s[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; l++) s[l] += a[j + l] * b[j + l];
  for (int l = 0; j + (size_t)l < d; l++) s[l] += a[j + l] * b[j + l];
  return lanes_sum(s);
}

/* One query against four rows at once: the query is loaded once for four rows. */
static void dot4(const float *q, const float *x0, const float *x1, const float *x2, const float *x3,
                 size_t d, float out[4]) {
  float s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; l++) {
      float v = q[j + l];
      s0[l] += v * x0[j + l];
      s1[l] += v * x1[j + l];
      s2[l] += v * x2[j + l];
      s3[l] += v * x3[j + l];
    }
  for (int l = 0; j + (size_t)l < d; l++) {
    float v = q[j + l];
    s0[l] += v * x0[j + l];
    s1[l] += v * x1[j + l];
    s2[l] += v * x2[j + l];
    s3[l] += v * x3[j + l];
  }
  out[0] = lanes_sum(s0);
  out[1] = lanes_sum(s1);
  out[2] = lanes_sum(s2);
  out[3] = lanes_sum(s3);
}

void vec_search_dots_scalar(const float *q, const float *rows, size_t ld, const uint64_t *idx,
                            size_t nr, size_t d, float *out) {
  size_t r = 0;
  for (; r + 4 <= nr; r += 4)
    dot4(q, VEC_DOTS_ROW(rows, ld, idx, r), VEC_DOTS_ROW(rows, ld, idx, r + 1),
         VEC_DOTS_ROW(rows, ld, idx, r + 2), VEC_DOTS_ROW(rows, ld, idx, r + 3), d, out + r);
  for (; r < nr; r++) out[r] = dot(q, VEC_DOTS_ROW(rows, ld, idx, r), d);
}
