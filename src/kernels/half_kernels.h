/* half_kernels.h: the f16 and bf16 kernels of every instruction set, and the per-element
 * conversions they share, written once in integer arithmetic so no FP mode can change a bit. */
#ifndef VEC_HALF_KERNELS_H
#define VEC_HALF_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/internal.h"
#include "kernel_flags.h"

/* |x| bit patterns order like the floats, and NaN/Inf sit above every finite value, so one integer
 * max per row, compared with two thresholds, finds both kinds of bad row exactly. */
#define VEC_HALF_ABS_MASK  0x7fffffffu
#define VEC_HALF_NONFINITE 0x7f800000u /* |x| bits at or above: NaN or Inf */
/* 65520 is the midpoint between 65504 (the largest half, odd significand) and 2^16 (Inf): ties
 * to even round it and everything above to Inf, so these inputs are refused, never turned to Inf.
 */
#define VEC_F16_RANGE 0x477ff000u /* bits of 65520.0f */
/* Likewise for bfloat16: 0x7f7f is the largest finite (odd) code, and 0x7f7f8000 ties up to Inf. */
#define VEC_BF16_RANGE 0x7f7f8000u

/* Encodes rows [0, n) (row i at x + i*ldx) into d little-endian uint16 codes per row, stored
 * contiguously (row i at q + 2*i*d bytes; q needs no particular alignment). Returns n, or the
 * first row holding NaN/Inf (*rc = VEC_E_NONFINITE) or a finite value that would round to Inf
 * (*rc = VEC_E_RANGE); that row's codes and those after it are unspecified. */
typedef size_t (*vec_half_encode_fn)(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                     unsigned flags, int *rc);
/* Decodes rows [0, n) of d codes (row i at q + 2*i*d bytes) into out (row i at out + i*ldo). */
typedef void (*vec_half_decode_fn)(const uint8_t *q, size_t n, size_t d, float *out, size_t ldo,
                                   unsigned flags);

/* Row verdict from the max of its |x| bits; `range` is VEC_F16_RANGE or VEC_BF16_RANGE. */
static inline int vec_half_row_rc(uint32_t amax, uint32_t range) {
  if (amax >= VEC_HALF_NONFINITE) return VEC_E_NONFINITE;
  return amax >= range ? VEC_E_RANGE : VEC_OK;
}

/* float32 bits -> binary16 bits, round to nearest, ties to even, subnormal halves exact. Defined
 * for |x| < 65520 (callers check the row); other inputs give some code, never undefined behaviour.
 * Float32 subnormals are below 2^-126, far under half the smallest half subnormal (2^-25): they
 * become signed zeros, so denormals-are-zero modes in the SIMD variants cannot change a code. */
static inline uint16_t vec_f16_from_bits(uint32_t u) {
  uint32_t sign = (u >> 16) & 0x8000u, a = u & VEC_HALF_ABS_MASK;
  if (a >= 0x38800000u) { /* |x| >= 2^-14: a normal half */
    /* Rebias the exponent (127 -> 15) in place, then round off 13 significand bits; a carry out
     * of the significand steps the exponent, which is exactly right (1.111..1 -> 10.0). */
    uint32_t m = a - 0x38000000u;
    m += 0x0fffu + ((m >> 13) & 1u);
    return (uint16_t)(sign | (m >> 13));
  }
  uint32_t e = a >> 23;
  if (e < 102) return (uint16_t)sign; /* |x| < 2^-25: rounds to zero */
  /* A subnormal half counts units of 2^-24: |x| / 2^-24 = sig >> (126 - e), shift in 14..24. */
  uint32_t sig = (a & 0x7fffffu) | 0x800000u, s = 126 - e;
  uint32_t q = sig >> s, rem = sig & ((1u << s) - 1u), half = 1u << (s - 1);
  q +=
      (rem > half) | ((rem == half) & (q & 1u)); /* q = 0x400 is the smallest normal: still right */
  return (uint16_t)(sign | q);
}

/* binary16 bits -> float32 bits, exact. A signalling NaN comes back quiet (quiet bit set, payload
 * kept), as F16C and AArch64 FCVTL do, so every variant decodes corrupt codes identically. */
static inline uint32_t vec_f16_to_bits(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u);
  if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
  if (m == 0) return sign;
  /* Subnormal half: m * 2^-24 is exact in float32 (and a normal float), so no rounding mode or
   * flush-to-zero setting can touch it. */
  float v = (float)m * 0x1p-24f;
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  return sign | bits;
}

/* float32 bits -> bfloat16 bits: the upper half after round to nearest, ties to even. */
static inline uint16_t vec_bf16_from_bits(uint32_t u) {
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline uint32_t vec_half_load_bits(const float *p) {
  uint32_t u;
  memcpy(&u, p, sizeof u);
  return u;
}
static inline void vec_half_store_code(uint8_t *q, uint16_t h) { /* little-endian on any host */
  q[0] = (uint8_t)h;
  q[1] = (uint8_t)(h >> 8);
}
static inline uint16_t vec_half_load_code(const uint8_t *q) {
  return (uint16_t)(q[0] | (unsigned)q[1] << 8);
}

VEC_HIDDEN size_t vec_half_encode_f16_scalar(const float *x, size_t n, size_t d, size_t ldx,
                                             uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_f16_scalar(const uint8_t *q, size_t n, size_t d, float *out,
                                           size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_half_encode_bf16_scalar(const float *x, size_t n, size_t d, size_t ldx,
                                              uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_bf16_scalar(const uint8_t *q, size_t n, size_t d, float *out,
                                            size_t ldo, unsigned flags);

#if defined(VEC_HAVE_X86_KERNELS)
/* The f16 variants need F16C: callers check VEC_CPU_F16C (every AVX-512 CPU has it). */
VEC_HIDDEN size_t vec_half_encode_f16_avx2(const float *x, size_t n, size_t d, size_t ldx,
                                           uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_f16_avx2(const uint8_t *q, size_t n, size_t d, float *out,
                                         size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_half_encode_bf16_avx2(const float *x, size_t n, size_t d, size_t ldx,
                                            uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_bf16_avx2(const uint8_t *q, size_t n, size_t d, float *out,
                                          size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_half_encode_f16_avx512(const float *x, size_t n, size_t d, size_t ldx,
                                             uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_f16_avx512(const uint8_t *q, size_t n, size_t d, float *out,
                                           size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_half_encode_bf16_avx512(const float *x, size_t n, size_t d, size_t ldx,
                                              uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_bf16_avx512(const uint8_t *q, size_t n, size_t d, float *out,
                                            size_t ldo, unsigned flags);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN size_t vec_half_encode_f16_neon(const float *x, size_t n, size_t d, size_t ldx,
                                           uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_f16_neon(const uint8_t *q, size_t n, size_t d, float *out,
                                         size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_half_encode_bf16_neon(const float *x, size_t n, size_t d, size_t ldx,
                                            uint8_t *q, unsigned flags, int *rc);
VEC_HIDDEN void vec_half_decode_bf16_neon(const uint8_t *q, size_t n, size_t d, float *out,
                                          size_t ldo, unsigned flags);
#endif

#endif
