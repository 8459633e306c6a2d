/* scalar.c: the portable reference kernels. Every SIMD variant must match these bit for bit. */
#include "int8_row.h"
#include "kernels.h"

size_t vec_int8_encode_scalar(const float *x, size_t n, size_t d, size_t ldx, int8_t *q, size_t ldq,
                              float *scales, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    int8_t *qr = q + i * ldq;
    uint32_t amax = 0;
    for (size_t j = 0; j < d; j++) {
      uint32_t a = vec_f2u(row[j]) & VEC_ABS_MASK;
      amax = a > amax ? a : amax;
    }
    switch (vec_int8_row_kind(amax)) {
    case VEC_ROW_NONFINITE: return i;
    case VEC_ROW_ZERO:
      memset(qr, 0, d);
      scales[i] = 0.0f;
      break;
    case VEC_ROW_TINY: vec_int8_encode_tiny_row(row, d, amax, qr, &scales[i]); break;
    default: {
      float m = vec_u2f(amax);
      float inv = 127.0f / m;
      for (size_t j = 0; j < d; j++) qr[j] = vec_q8(row[j] * inv);
      scales[i] = vec_int8_scale(m);
    }
    }
  }
  return n;
}

void vec_int8_decode_scalar(const int8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                            float *out, size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const int8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    float s = scales[i];
    for (size_t j = 0; j < d; j++) o[j] = (float)qr[j] * s;
  }
}
