/* convert.h: decoding of the little-endian element types embedding files hold into float32,
 * shared by the .npy parser, the streaming reader and the *vecs formats. Byte by byte, so the
 * result is the same on any host and needs no alignment. */
#ifndef VEC_IO_CONVERT_H
#define VEC_IO_CONVERT_H

#include <math.h>
#include <string.h>

#include "../common/internal.h"

/* Element types found in files. */
typedef enum vec_elem {
  VEC_EL_F16 = 1, /* IEEE half, '<f2' */
  VEC_EL_F32 = 2, /* '<f4', .fvecs */
  VEC_EL_F64 = 3, /* '<f8' */
  VEC_EL_U8 = 4,  /* .bvecs */
  VEC_EL_I32 = 5  /* .ivecs */
} vec_elem;

static inline size_t vec_elem_size(vec_elem e) {
  switch (e) {
  case VEC_EL_F16: return 2;
  case VEC_EL_U8: return 1;
  case VEC_EL_F64: return 8;
  default: return 4;
  }
}

static inline int vec_host_is_le(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static inline uint32_t vec_get32le(const unsigned char *s) {
  return (uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24;
}

static inline float vec_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return vec_u2f_pub(sign | 0x7f800000u | (man << 13)); /* Inf / NaN */
  if (exp == 0) {
    float f = ldexpf((float)man, -24); /* subnormal or zero: exact */
    return sign ? -f : f;
  }
  return vec_u2f_pub(sign | ((exp + 112) << 23) | (man << 13));
}

/* Converts n elements of type e at src (little-endian) to float32 at dst. float64 beyond the
 * float32 range becomes Inf (as NumPy's astype), which the codecs then report by row; int32 beyond
 * 2^24 rounds to the nearest float. */
static inline void vec_elem_convert(vec_elem e, const unsigned char *src, size_t n, float *dst) {
  switch (e) {
  case VEC_EL_F16:
    for (size_t i = 0; i < n; i++)
      dst[i] = vec_half_to_float((uint16_t)(src[2 * i] | src[2 * i + 1] << 8));
    break;
  case VEC_EL_F32:
    for (size_t i = 0; i < n; i++) dst[i] = vec_u2f_pub(vec_get32le(src + 4 * i));
    break;
  case VEC_EL_F64:
    for (size_t i = 0; i < n; i++) {
      uint64_t u = (uint64_t)vec_get32le(src + 8 * i) | (uint64_t)vec_get32le(src + 8 * i + 4)
                                                            << 32;
      double dv;
      memcpy(&dv, &u, sizeof dv);
      dst[i] = (float)dv;
    }
    break;
  case VEC_EL_U8:
    for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
    break;
  case VEC_EL_I32:
    for (size_t i = 0; i < n; i++) dst[i] = (float)(int32_t)vec_get32le(src + 4 * i);
    break;
  }
}

#endif
