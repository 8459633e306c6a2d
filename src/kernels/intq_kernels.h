/* intq_kernels.h: the int16 and int4 codecs' per-element math (shared by every instruction set)
 * and their kernel tables. The max, NaN and tiny-row tricks are int8's (see int8_row.h). */
#ifndef VEC_INTQ_KERNELS_H
#define VEC_INTQ_KERNELS_H

#include "int8_row.h"
#include "kernel_flags.h"

#define VEC_I16_L 32767 /* int16 levels a side: codes in [-32767, 32767], symmetric */
#define VEC_I4_L  7     /* int4: codes in [-7, 7]; -8 is never produced */

/* Round half to even independent of the FP rounding mode, then clamp to [-L, L]; the argument of
 * int8's vec_q8 with L as a parameter. Clamping to [-(L+1), L+1] first changes no result and keeps
 * the conversion in range. v - r is exact: r is v truncated, of the same sign and binade or 0. */
static inline int vec_intq_round(float v, int L) {
  const float lim = (float)(L + 1);
  v = v < -lim ? -lim : (v > lim ? lim : v);
  int r = (int)v;
  float frac = fabsf(v - (float)r);
  int up = (frac > 0.5f) | ((frac == 0.5f) & (r & 1)); /* branch-free, as vec_q8 explains */
  r += up * (1 - 2 * (v < 0.0f));
  return r > L ? L : (r < -L ? -L : r);
}

/* m / L, stepped down one ulp where L * (m / L) would round to Inf, so decoding stays finite. */
static inline float vec_intq_scale(float m, float L) {
  float s = m / L;
  if (VEC_UNLIKELY(isinf(s * L))) s = nextafterf(s, 0.0f);
  return s;
}

/* Dims per chunk of the small-group (g < 32) SIMD paths: their per-element buffers' length. */
#define VEC_I4_CHUNK 256

/* Max |x| bit pattern of x[0..len): exact, and >= VEC_NONFINITE_BITS iff NaN/Inf is present. */
static inline uint32_t vec_intq_amax_bits(const float *x, size_t len) {
  uint32_t amax = 0;
  for (size_t j = 0; j < len; j++) {
    uint32_t a = vec_f2u(x[j]) & VEC_ABS_MASK;
    amax = a > amax ? a : amax;
  }
  return amax;
}

/* Encodes rows [0, n) of d floats to int16 (2d bytes a row, little-endian, at stride ldq bytes),
 * one scale a row. Returns the first row holding NaN/Inf, or n. */
typedef size_t (*vec_intq_encode_i16_fn)(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                         size_t ldq, float *scales, unsigned flags);
typedef void (*vec_intq_decode_i16_fn)(const uint8_t *q, size_t n, size_t d, size_t ldq,
                                       const float *scales, float *out, size_t ldo, unsigned flags);
/* int4: groups of g dims (0 < g <= d, g even unless g == d; the last group may be shorter), one
 * scale each (lds = ceil(d / g) a row); ceil(d/2) code bytes a row at stride ldq. */
typedef size_t (*vec_intq_encode_i4_fn)(const float *x, size_t n, size_t d, size_t g, size_t ldx,
                                        uint8_t *q, size_t ldq, float *scales, size_t lds,
                                        unsigned flags);
typedef void (*vec_intq_decode_i4_fn)(const uint8_t *q, size_t n, size_t d, size_t g, size_t ldq,
                                      const float *scales, size_t lds, float *out, size_t ldo,
                                      unsigned flags);

/* The SIMD variants (every one matches the scalar reference bit for bit). */
#define VEC_INTQ_DECLARE(isa)                                                                      \
  VEC_HIDDEN size_t vec_intq_encode_i16_##isa(const float *x, size_t n, size_t d, size_t ldx,      \
                                              uint8_t *q, size_t ldq, float *scales,               \
                                              unsigned flags);                                     \
  VEC_HIDDEN void vec_intq_decode_i16_##isa(const uint8_t *q, size_t n, size_t d, size_t ldq,      \
                                            const float *scales, float *out, size_t ldo,           \
                                            unsigned flags);                                       \
  VEC_HIDDEN size_t vec_intq_encode_i4_##isa(const float *x, size_t n, size_t d, size_t g,         \
                                             size_t ldx, uint8_t *q, size_t ldq, float *scales,    \
                                             size_t lds, unsigned flags);                          \
  VEC_HIDDEN void vec_intq_decode_i4_##isa(const uint8_t *q, size_t n, size_t d, size_t g,         \
                                           size_t ldq, const float *scales, size_t lds,            \
                                           float *out, size_t ldo, unsigned flags);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_INTQ_DECLARE(avx2)
VEC_INTQ_DECLARE(avx512)
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_INTQ_DECLARE(neon)
#endif

VEC_HIDDEN size_t vec_intq_encode_i16_scalar(const float *x, size_t n, size_t d, size_t ldx,
                                             uint8_t *q, size_t ldq, float *scales, unsigned flags);
VEC_HIDDEN void vec_intq_decode_i16_scalar(const uint8_t *q, size_t n, size_t d, size_t ldq,
                                           const float *scales, float *out, size_t ldo,
                                           unsigned flags);
/* Codes of x[j0..j1) with multiplier inv after a pre-scale by up (1 or 2^96): int16 at q. */
VEC_HIDDEN void vec_intq_quant_i16_scalar(const float *x, size_t j0, size_t j1, float up, float inv,
                                          uint8_t *q);
/* One int4 segment (a group, or a whole row) of len floats: codes at q (ceil(len/2) bytes; a
 * segment starts at an even element, so at a byte boundary), scale at *scale.
 * Returns 0, or 1 if the segment holds NaN/Inf. */
VEC_HIDDEN int vec_intq_encode_i4_seg_scalar(const float *x, size_t len, uint8_t *q, float *scale);
/* The tiny-max case of a segment whose max |x| bit pattern is amax (shared by all variants). */
VEC_HIDDEN void vec_intq_encode_i4_tiny_seg(const float *x, size_t len, uint32_t amax, uint8_t *q,
                                            float *scale);
/* Codes of x[j0..j1) (j0 even) as above: packed into q + j0/2; an odd last one gets a 0 high
 * nibble. */
VEC_HIDDEN void vec_intq_quant_i4_scalar(const float *x, size_t j0, size_t j1, float up, float inv,
                                         uint8_t *q);
VEC_HIDDEN void vec_intq_decode_i4_seg_scalar(const uint8_t *q, size_t j0, size_t j1, float s,
                                              float *out);
VEC_HIDDEN size_t vec_intq_encode_i4_scalar(const float *x, size_t n, size_t d, size_t g,
                                            size_t ldx, uint8_t *q, size_t ldq, float *scales,
                                            size_t lds, unsigned flags);
VEC_HIDDEN void vec_intq_decode_i4_scalar(const uint8_t *q, size_t n, size_t d, size_t g,
                                          size_t ldq, const float *scales, size_t lds, float *out,
                                          size_t ldo, unsigned flags);

#endif
