/* binary_scalar.c: the scalar reference of the binary (sign-bit) codec; every SIMD variant must
 * produce its exact bytes and floats, and falls back to it where a row is shorter than a vector. */
#include "binary_kernels.h"

size_t vec_binary_encode_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *codes,
                                size_t ldc, unsigned flags) {
  (void)flags; /* codes are 1/32 of the input: streaming them would gain nothing */
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *c = codes + i * ldc;
    uint32_t amax = 0;
    for (size_t j = 0; j < d; j += 8) {
      size_t m = d - j < 8 ? d - j : 8;
      unsigned byte = 0; /* elements past d never set a bit: the pad stays 0 */
      for (size_t k = 0; k < m; k++) {
        float v = row[j + k];
        uint32_t a = vec_f2u_pub(v) & VEC_B1_ABS_MASK;
        /* Strictly greater: +0.0 and -0.0 give 0, as numpy's x > 0; NaN would give 0 too, but a
         * NaN has no meaningful sign, so the row is refused below. */
        byte |= (unsigned)(v > 0.0f) << (7 - k);
        amax = a > amax ? a : amax;
      }
      c[j / 8] = (uint8_t)byte;
    }
    /* Inf has a perfectly good sign, but every other codec refuses it, and a codec that silently
     * accepted it would let bad embeddings through unnoticed in a mixed pipeline. */
    if (amax >= VEC_B1_NONFINITE) return i;
  }
  return n;
}

void vec_binary_decode_scalar(const uint8_t *codes, size_t n, size_t d, size_t ldc, float *out,
                              size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *c = codes + i * ldc;
    float *o = out + i * ldo;
    for (size_t j = 0; j < d; j++) {
      uint32_t bit = (uint32_t)(c[j / 8] >> (7 - j % 8)) & 1u;
      o[j] = vec_u2f_pub(VEC_B1_MINUS_ONE ^ (bit << 31)); /* set bit clears the sign: +1.0f */
    }
  }
}
