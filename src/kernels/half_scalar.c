/* half_scalar.c: the portable f16 and bf16 reference kernels; every SIMD variant matches them bit
 * for bit. Conversions are integer-only (half_kernels.h), so fesetround cannot change a code. */
#include "half_kernels.h"

/* The conversion and the row's |x| max run in one pass; the verdict comes at the row's end. */
#define ENCODE_SCALAR(name, convert, range)                                                        \
  size_t name(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q, unsigned flags,          \
              int *rc) {                                                                           \
    (void)flags;                                                                                   \
    for (size_t i = 0; i < n; i++) {                                                               \
      const float *row = x + i * ldx;                                                              \
      uint8_t *qr = q + 2 * i * d;                                                                 \
      uint32_t amax = 0;                                                                           \
      for (size_t j = 0; j < d; j++) {                                                             \
        uint32_t u = vec_half_load_bits(row + j), a = u & VEC_HALF_ABS_MASK;                       \
        amax = a > amax ? a : amax;                                                                \
        vec_half_store_code(qr + 2 * j, convert(u));                                               \
      }                                                                                            \
      int r = vec_half_row_rc(amax, range);                                                        \
      if (r != VEC_OK) {                                                                           \
        *rc = r;                                                                                   \
        return i;                                                                                  \
      }                                                                                            \
    }                                                                                              \
    return n;                                                                                      \
  }

ENCODE_SCALAR(vec_half_encode_f16_scalar, vec_f16_from_bits, VEC_F16_RANGE)
ENCODE_SCALAR(vec_half_encode_bf16_scalar, vec_bf16_from_bits, VEC_BF16_RANGE)

static inline uint32_t bf16_to_bits(uint16_t h) { return (uint32_t)h << 16; }

#define DECODE_SCALAR(name, convert)                                                               \
  void name(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo, unsigned flags) {        \
    (void)flags;                                                                                   \
    for (size_t i = 0; i < n; i++) {                                                               \
      const uint8_t *qr = q + 2 * i * d;                                                           \
      float *o = out + i * ldo;                                                                    \
      for (size_t j = 0; j < d; j++) {                                                             \
        uint32_t u = convert(vec_half_load_code(qr + 2 * j));                                      \
        memcpy(o + j, &u, sizeof u);                                                               \
      }                                                                                            \
    }                                                                                              \
  }

DECODE_SCALAR(vec_half_decode_f16_scalar, vec_f16_to_bits)
DECODE_SCALAR(vec_half_decode_bf16_scalar, bf16_to_bits)
