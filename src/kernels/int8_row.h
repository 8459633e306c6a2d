/* int8_row.h: the per-row arithmetic of the int8 codec that every instruction set shares, so the
 * variants differ only in how many elements they touch at once, never in the math. */
#ifndef VEC_INT8_ROW_H
#define VEC_INT8_ROW_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/internal.h"

/* |x| bit patterns compare as unsigned integers in the same order as the floats, and NaN/Inf
 * (exponent all ones) compare above every finite value: one integer max both finds max|x| exactly
 * (independent of summation order or SIMD width) and detects non-finite input for free. */
#define VEC_ABS_MASK       0x7fffffffu
#define VEC_NONFINITE_BITS 0x7f800000u
/* Below 2^-96, 127/m could overflow float32 (it does below ~3.7e-37); such rows are scaled up by
 * 2^96 first, an exact operation. */
#define VEC_TINY_BITS 0x0f800000u /* bits of 2^-96 */

static inline uint32_t vec_f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
static inline float vec_u2f(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Round half to even without depending on the current floating-point rounding mode (a user may
 * have changed it with fesetround; the SIMD variants use explicit-mode instructions). Clamping to
 * [-128, 128] first changes no result (everything beyond rounds, then clamps, to +-127) and keeps
 * the integer conversion in range. */
static inline int8_t vec_q8(float v) {
  v = v < -128.0f ? -128.0f : (v > 128.0f ? 128.0f : v);
  int r = (int)v;                   /* truncation toward zero, exact and in range after the clamp */
  float frac = fabsf(v - (float)r); /* exact: the fractional part */
  /* Branch-free: on real data the rounding direction is a coin flip, and a branch here mispredicted
   * often enough to make this reference 4x slower on Gaussian data than on smooth data. */
  int up = (frac > 0.5f) | ((frac == 0.5f) & (r & 1));
  r += up * (1 - 2 * (v < 0.0f));
  return (int8_t)(r > 127 ? 127 : (r < -127 ? -127 : r));
}

/* The scale m/127, except within an ulp of FLT_MAX, where 127 * (m/127) would round up to Inf on
 * decode: there the scale steps down one ulp so every reconstruction stays finite. */
static inline float vec_int8_scale(float m) {
  float s = m / 127.0f;
  if (VEC_UNLIKELY(isinf(s * 127.0f))) s = nextafterf(s, 0.0f);
  return s;
}

/* How a row is encoded, from the bit pattern of its max |x|. */
enum { VEC_ROW_ZERO = 0, VEC_ROW_NORMAL = 1, VEC_ROW_TINY = 2, VEC_ROW_NONFINITE = 3 };

static inline int vec_int8_row_kind(uint32_t amax_bits) {
  if (amax_bits >= VEC_NONFINITE_BITS) return VEC_ROW_NONFINITE;
  if (amax_bits == 0) return VEC_ROW_ZERO;
  if (amax_bits < VEC_TINY_BITS) return VEC_ROW_TINY;
  return VEC_ROW_NORMAL;
}

/* Encodes a row whose max|x| is tiny: pre-scales by 2^96 (exact) so that the reciprocal is finite.
 * Shared by all variants (rare, so scalar). Writes the scale. */
static inline void vec_int8_encode_tiny_row(const float *x, size_t d, uint32_t amax_bits, int8_t *q,
                                            float *scale) {
  const float up = 0x1p96f;
  float m = vec_u2f(amax_bits);
  float inv = 127.0f / (m * up);
  for (size_t j = 0; j < d; j++) q[j] = vec_q8((x[j] * up) * inv);
  *scale = vec_int8_scale(m);
}

/* Encodes rows [0, n) (row i at x + i*ldx, codes at q + i*ldq, scale at scales[i]).
 * Returns the index of the first row holding NaN or Inf (stopping there), or n. */
typedef size_t (*vec_int8_encode_fn)(const float *x, size_t n, size_t d, size_t ldx, int8_t *q,
                                     size_t ldq, float *scales, unsigned flags);
/* Decodes rows [0, n): out[i*ldo + j] = q[i*ldq + j] * scales[i]. */
typedef void (*vec_int8_decode_fn)(const int8_t *q, size_t n, size_t d, size_t ldq,
                                   const float *scales, float *out, size_t ldo, unsigned flags);

#define VEC_INT8_DECLARE(isa)                                                                      \
  VEC_HIDDEN size_t vec_int8_encode_##isa(const float *x, size_t n, size_t d, size_t ldx,          \
                                          int8_t *q, size_t ldq, float *scales, unsigned flags);   \
  VEC_HIDDEN void vec_int8_decode_##isa(const int8_t *q, size_t n, size_t d, size_t ldq,           \
                                        const float *scales, float *out, size_t ldo,               \
                                        unsigned flags);
VEC_INT8_DECLARE(scalar)
#if defined(VEC_HAVE_X86_KERNELS)
VEC_INT8_DECLARE(avx2)
VEC_INT8_DECLARE(avx512)
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_INT8_DECLARE(neon)
#endif

#endif
