/* calibrated_kernels.h: kernels of the calibrated codecs (uint8-cal, int8-cal) and the per-element
 * math every instruction set shares, so the variants differ only in width, never in results. */
#ifndef VEC_CALIBRATED_KERNELS_H
#define VEC_CALIBRATED_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel_flags.h"

/* Mode bits, fixed per codec object. */
#define VEC_CAL_INT8  1u /* int8-cal: codes are signed, u = code + 128 */
#define VEC_CAL_TRUNC 2u /* VEC_ROUND_TRUNCATE (sentence-transformers); else round half to even */

/* Encodes rows [0, n) (row i at x + i*ldx) into d codes each at q + i*d, with per-dimension lo[j]
 * and step[j] (>= 0). Returns the first row holding NaN or Inf (its codes are unspecified), or n.
 */
typedef size_t (*vec_cal_encode_fn)(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                    const float *lo, const float *step, unsigned mode,
                                    unsigned flags);
/* Decodes rows [0, n) (codes at q + i*d) into out + i*ldo. */
typedef void (*vec_cal_decode_fn)(const uint8_t *q, size_t n, size_t d, const float *lo,
                                  const float *step, unsigned mode, float *out, size_t ldo,
                                  unsigned flags);

/* Scalar kernels, exported so that SIMD variants can hand them rows too short for a vector. */
VEC_HIDDEN size_t vec_cal_encode_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                        const float *lo, const float *step, unsigned mode,
                                        unsigned flags);
VEC_HIDDEN void vec_cal_decode_scalar(const uint8_t *q, size_t n, size_t d, const float *lo,
                                      const float *step, unsigned mode, float *out, size_t ldo,
                                      unsigned flags);

#define VEC_CAL_DECLARE(isa)                                                                       \
  VEC_HIDDEN size_t vec_cal_encode_##isa(const float *x, size_t n, size_t d, size_t ldx,           \
                                         uint8_t *q, const float *lo, const float *step,           \
                                         unsigned mode, unsigned flags);                           \
  VEC_HIDDEN void vec_cal_decode_##isa(const uint8_t *q, size_t n, size_t d, const float *lo,      \
                                       const float *step, unsigned mode, float *out, size_t ldo,   \
                                       unsigned flags);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_CAL_DECLARE(avx2)
VEC_CAL_DECLARE(avx512)
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_CAL_DECLARE(neon)
#endif

/* |x| bit patterns at or above this are NaN or Inf (see int8_row.h for the integer-max trick). */
#define VEC_CAL_ABS_MASK       0x7fffffffu
#define VEC_CAL_NONFINITE_BITS 0x7f800000u

static inline uint32_t vec_cal_f2u(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* One code as the byte stored. v = (x - lo) / step must be a true division: it is what
 * sentence-transformers computes, and x * (1/step) differs from it in the last bit often enough to
 * move codes across bucket edges. v is never NaN here: x is finite, step > 0 (step 0 is handled by
 * the caller), so at worst x - lo overflows to +-Inf, which clamps like any out-of-range value.
 * Clamping before converting changes no result (the bounds are integers) and keeps the integer
 * conversion defined. Rounding to nearest is done by hand so the FP environment cannot change it.
 */
static inline uint8_t vec_cal_code(float x, float lo, float step, unsigned mode) {
  if (step == 0.0f) return (mode & VEC_CAL_INT8) ? 0x80u : 0u;
  float v = (x - lo) / step;
  if (mode & VEC_CAL_TRUNC) {
    /* sentence-transformers >= 6: clip(floor(v), 0, 255), and int8 is that minus 128. Clamping
     * first makes floor and truncation the same. */
    v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
    int t = (int)v;
    return (uint8_t)((mode & VEC_CAL_INT8) ? t ^ 0x80 : t);
  }
  v = v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
  int r = (int)v;
  float frac = v - (float)r; /* exact */
  /* Branch-free for the same reason as vec_q8: the direction is a coin flip on real data. */
  r += (frac > 0.5f) | ((frac == 0.5f) & (r & 1));
  return (uint8_t)((mode & VEC_CAL_INT8) ? r ^ 0x80 : r);
}

/* The bucket value t (in steps above lo) that a stored byte decodes to; always exact in float32.
 * u is the level (the byte, or code + 128 for int8). Rounded codes decode to u; truncated ones to
 * the middle of the interval [u, u + 1) they came from, u + 0.5: on average that halves the error
 * of decoding them at u (sentence-transformers' own dequantization does the latter). */
static inline float vec_cal_level(uint8_t byte, unsigned mode) {
  float u = (mode & VEC_CAL_INT8) ? (float)((int)(int8_t)byte + 128) : (float)byte;
  return u + ((mode & VEC_CAL_TRUNC) ? 0.5f : 0.0f);
}

/* x̂ = lo + t * step, a multiply then an add (never fused: every ISA must give these bits). */
static inline float vec_cal_decode1(uint8_t byte, float lo, float step, unsigned mode) {
  float p = vec_cal_level(byte, mode) * step;
  return lo + p;
}

#endif
