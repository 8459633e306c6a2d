/* intq_scalar.c: the portable reference kernels of the int16 and int4 codecs, and the pieces of
 * them that the SIMD variants reuse for rare rows and short tails. */
#include "intq_kernels.h"

/* Bytes, not an int16 store: the codes are little-endian on every host and q may be unaligned. */
void vec_intq_quant_i16_scalar(const float *x, size_t j0, size_t j1, float up, float inv,
                               uint8_t *q) {
  for (size_t j = j0; j < j1; j++) {
    unsigned c = (unsigned)vec_intq_round((x[j] * up) * inv, VEC_I16_L);
    q[2 * j] = (uint8_t)c;
    q[2 * j + 1] = (uint8_t)(c >> 8);
  }
}

size_t vec_intq_encode_i16_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                  size_t ldq, float *scales, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * ldq;
    uint32_t amax = vec_intq_amax_bits(row, d);
    float m = vec_u2f(amax);
    switch (vec_int8_row_kind(amax)) {
    case VEC_ROW_NONFINITE: return i;
    case VEC_ROW_ZERO:
      memset(qr, 0, 2 * d);
      scales[i] = 0.0f;
      break;
    case VEC_ROW_TINY:
      /* 2^96 * x is exact, and keeps L / m from overflowing (int8_row.h) */
      vec_intq_quant_i16_scalar(row, 0, d, 0x1p96f, (float)VEC_I16_L / (m * 0x1p96f), qr);
      scales[i] = vec_intq_scale(m, (float)VEC_I16_L);
      break;
    default:
      vec_intq_quant_i16_scalar(row, 0, d, 1.0f, (float)VEC_I16_L / m, qr);
      scales[i] = vec_intq_scale(m, (float)VEC_I16_L);
    }
  }
  return n;
}

void vec_intq_decode_i16_scalar(const uint8_t *q, size_t n, size_t d, size_t ldq,
                                const float *scales, float *out, size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    float s = scales[i];
    for (size_t j = 0; j < d; j++) {
      int16_t c = (int16_t)(uint16_t)(qr[2 * j] | (unsigned)qr[2 * j + 1] << 8);
      o[j] = (float)c * s;
    }
  }
}

void vec_intq_quant_i4_scalar(const float *x, size_t j0, size_t j1, float up, float inv,
                              uint8_t *q) {
  size_t j = j0;
  for (; j + 2 <= j1; j += 2) {
    unsigned lo = (unsigned)vec_intq_round((x[j] * up) * inv, VEC_I4_L) & 15u;
    unsigned hi = (unsigned)vec_intq_round((x[j + 1] * up) * inv, VEC_I4_L) & 15u;
    q[j / 2] = (uint8_t)(lo | hi << 4);
  }
  if (j < j1) q[j / 2] = (uint8_t)((unsigned)vec_intq_round((x[j] * up) * inv, VEC_I4_L) & 15u);
}

void vec_intq_encode_i4_tiny_seg(const float *x, size_t len, uint32_t amax, uint8_t *q,
                                 float *scale) {
  float m = vec_u2f(amax);
  vec_intq_quant_i4_scalar(x, 0, len, 0x1p96f, (float)VEC_I4_L / (m * 0x1p96f), q);
  *scale = vec_intq_scale(m, (float)VEC_I4_L);
}

int vec_intq_encode_i4_seg_scalar(const float *x, size_t len, uint8_t *q, float *scale) {
  uint32_t amax = vec_intq_amax_bits(x, len);
  float m = vec_u2f(amax);
  switch (vec_int8_row_kind(amax)) {
  case VEC_ROW_NONFINITE: return 1;
  case VEC_ROW_ZERO:
    memset(q, 0, (len + 1) / 2);
    *scale = 0.0f;
    break;
  case VEC_ROW_TINY: vec_intq_encode_i4_tiny_seg(x, len, amax, q, scale); break;
  default:
    vec_intq_quant_i4_scalar(x, 0, len, 1.0f, (float)VEC_I4_L / m, q);
    *scale = vec_intq_scale(m, (float)VEC_I4_L);
  }
  return 0;
}

size_t vec_intq_encode_i4_scalar(const float *x, size_t n, size_t d, size_t g, size_t ldx,
                                 uint8_t *q, size_t ldq, float *scales, size_t lds,
                                 unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    for (size_t k = 0, j = 0; j < d; k++, j += g) {
      size_t len = d - j < g ? d - j : g;
      if (vec_intq_encode_i4_seg_scalar(row + j, len, q + i * ldq + j / 2, scales + i * lds + k))
        return i;
    }
  }
  return n;
}

void vec_intq_decode_i4_seg_scalar(const uint8_t *q, size_t j0, size_t j1, float s, float *out) {
  for (size_t j = j0; j < j1; j++) {
    unsigned nib = (q[j / 2] >> (4 * (j & 1))) & 15u;
    out[j] = (float)((int)(nib ^ 8u) - 8) * s; /* sign-extends the 4-bit two's complement */
  }
}

void vec_intq_decode_i4_scalar(const uint8_t *q, size_t n, size_t d, size_t g, size_t ldq,
                               const float *scales, size_t lds, float *out, size_t ldo,
                               unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0, j = 0; j < d; k++, j += g)
      vec_intq_decode_i4_seg_scalar(q + i * ldq, j, d - j < g ? d : j + g, scales[i * lds + k],
                                    out + i * ldo);
}
