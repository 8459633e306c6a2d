/* rabitq_tmpl.h: the rabitq kernels written once in plain C; each rabitq_<isa>.c defines
 * VEC_RQ_ISA (and VEC_RQ_POPCNT_ATTR) and includes this, and the compiler vectorises it with that
 * file's instruction-set flags. Integer sums are exact; float sums keep VEC_RQ_LANES independent
 * lanes reduced in a fixed tree, an order vectorisation does not change (no reassociation, no FMA
 * contraction: -ffp-contract=off), so every ISA gives the same bits. */
#include <string.h>

#include "rabitq_kernels.h"

#define VEC_RQ_CAT2(a, b) a##_##b
#define VEC_RQ_CAT(a, b)  VEC_RQ_CAT2(a, b)
#define VEC_RQ_FN(name)   VEC_RQ_CAT(name, VEC_RQ_ISA)

#ifndef VEC_RQ_POPCNT_ATTR
#define VEC_RQ_POPCNT_ATTR
#endif

/* Lane sums reduced in a fixed tree: lane l += lane l + s for s = 8, 4, 2, 1. */
static inline float VEC_RQ_FN(rq_tree)(float *a) {
  for (size_t s = VEC_RQ_LANES / 2; s > 0; s /= 2)
    for (size_t l = 0; l < s; l++) a[l] += a[l + s];
  return a[0];
}

#ifndef VEC_RQ_HAVE_EVAL
void VEC_RQ_FN(vec_rabitq_eval)(const float *o, size_t dp, float t, float fmin, float fmax,
                                uint8_t *u, float *ip, float *nn) {
  float a[VEC_RQ_LANES] = {0}, b[VEC_RQ_LANES] = {0};
  for (size_t j = 0; j < dp; j += VEC_RQ_LANES)
    for (size_t l = 0; l < VEC_RQ_LANES; l++) {
      float v = o[j + l];
      float f = __builtin_floorf(t * v);
      f = f < fmin ? fmin : f;
      f = f > fmax ? fmax : f;
      float y = 2.0f * f + 1.0f;
      a[l] += y * v;
      b[l] += y * y;
      if (u) u[j + l] = (uint8_t)(int)(f - fmin);
    }
  *ip = VEC_RQ_FN(rq_tree)(a);
  *nn = VEC_RQ_FN(rq_tree)(b);
}
#endif

#ifndef VEC_RQ_HAVE_EVALN
void VEC_RQ_FN(vec_rabitq_evaln)(const float *o, size_t dp, const float *t, size_t nt, float fmin,
                                 float fmax, float *ip, float *nn) {
  for (size_t i = 0; i < nt; i++)
    VEC_RQ_FN(vec_rabitq_eval)(o, dp, t[i], fmin, fmax, NULL, ip + i, nn + i);
}
#endif

#ifndef VEC_RQ_HAVE_SUM
float VEC_RQ_FN(vec_rabitq_sum)(const float *x, size_t n, int mode) {
  float a[VEC_RQ_LANES] = {0};
  size_t j = 0;
  if (mode == 2) {
    for (; j + VEC_RQ_LANES <= n; j += VEC_RQ_LANES)
      for (size_t l = 0; l < VEC_RQ_LANES; l++) {
        float v = __builtin_fabsf(x[j + l]);
        a[l] = a[l] < v ? v : a[l];
      }
    for (; j < n; j++) {
      float v = __builtin_fabsf(x[j]);
      a[j % VEC_RQ_LANES] = a[j % VEC_RQ_LANES] < v ? v : a[j % VEC_RQ_LANES];
    }
    float m = a[0];
    for (size_t l = 1; l < VEC_RQ_LANES; l++) m = m < a[l] ? a[l] : m;
    return m;
  }
  if (mode == 1) {
    for (; j + VEC_RQ_LANES <= n; j += VEC_RQ_LANES)
      for (size_t l = 0; l < VEC_RQ_LANES; l++) a[l] += __builtin_fabsf(x[j + l]);
    for (; j < n; j++) a[j % VEC_RQ_LANES] += __builtin_fabsf(x[j]);
  } else {
    for (; j + VEC_RQ_LANES <= n; j += VEC_RQ_LANES)
      for (size_t l = 0; l < VEC_RQ_LANES; l++) a[l] += x[j + l] * x[j + l];
    for (; j < n; j++) a[j % VEC_RQ_LANES] += x[j] * x[j];
  }
  return VEC_RQ_FN(rq_tree)(a);
}
#endif

/* Chunks keep int32 lane sums from overflowing: 255 * 127 * 8192 * 2 < 2^31. */
#define VEC_RQ_CHUNK 8192

/* Bytes [k0, k1) of a b = 2 or 4 row: e = 8 / b elements per byte; q[s cs + k] pairs with field s
 * of byte k. Also the SIMD kernels' tail. */
static inline int64_t VEC_RQ_FN(rq_dot_fields)(const int8_t *q, const uint8_t *row, size_t cs,
                                               unsigned b, size_t k0, size_t k1) {
  int64_t total = 0;
  for (; k0 < k1; k0 += VEC_RQ_CHUNK) {
    size_t ke = k1 - k0 < VEC_RQ_CHUNK ? k1 : k0 + VEC_RQ_CHUNK;
    int32_t acc = 0;
    if (b == 4) {
      for (size_t k = k0; k < ke; k++)
        acc += (int32_t)(row[k] & 15) * q[k] + (int32_t)(row[k] >> 4) * q[cs + k];
    } else {
      for (size_t k = k0; k < ke; k++)
        acc += (int32_t)(row[k] & 3) * q[k] + (int32_t)((row[k] >> 2) & 3) * q[cs + k] +
               (int32_t)((row[k] >> 4) & 3) * q[2 * cs + k] +
               (int32_t)(row[k] >> 6) * q[3 * cs + k];
    }
    total += acc;
  }
  return total;
}

/* Elements [k0, k1) of a row of one byte per element. Also the SIMD kernels' tail. */
static inline int64_t VEC_RQ_FN(rq_dot_bytes)(const int8_t *q, const uint8_t *row, size_t k0,
                                              size_t k1) {
  int64_t total = 0;
  for (; k0 < k1; k0 += VEC_RQ_CHUNK) {
    size_t ke = k1 - k0 < VEC_RQ_CHUNK ? k1 : k0 + VEC_RQ_CHUNK;
    int32_t acc = 0;
    for (size_t k = k0; k < ke; k++) acc += (int32_t)row[k] * q[k];
    total += acc;
  }
  return total;
}

#ifndef VEC_RQ_HAVE_DOT
void VEC_RQ_FN(vec_rabitq_dot)(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr,
                               size_t d, unsigned b, int64_t *out) {
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    out[r] = b == 4 || b == 2 ? VEC_RQ_FN(rq_dot_fields)(q, row, cs, b, 0, cs)
                              : VEC_RQ_FN(rq_dot_bytes)(q, row, 0, d);
  }
}
#endif

/* The 8 b-bit fields in the low 8 b bits of v (higher bits ignored) moved to one byte each, field
 * k to byte k: three halving steps (4 + 4 fields to the two 32-bit halves, 2 + 2 to the 16-bit
 * quarters, 1 + 1 to the bytes), 12 word operations for 8 elements. */
static inline uint64_t VEC_RQ_FN(rq_spread)(uint64_t v, unsigned b) {
  uint64_t m4 = ((uint64_t)1 << (4 * b)) - 1;
  uint64_t m2 = (((uint64_t)1 << (2 * b)) - 1) * 0x0000000100000001ull;
  uint64_t m1 = (((uint64_t)1 << b) - 1) * 0x0001000100010001ull;
  v = (v & m4) | ((v >> (4 * b)) & m4) << 32;
  v = (v & m2) | ((v >> (2 * b)) & m2) << 16;
  return (v & m1) | ((v >> b) & m1) << 8;
}

/* Groups [g0, g1) of 8 elements of a row of nbytes bytes of b-bit codes into bytes [8 g0, 8 g1) of
 * u. Group g is bytes [g b, g b + b) of the row (8 b bits); it is read as one little-endian word
 * where the row has 8 bytes from there, byte by byte at its end. Always inlined, so that where b
 * is a constant (the reference) the shifts and masks are immediates. Also the SIMD kernels' tail.
 */
static inline __attribute__((always_inline)) void
VEC_RQ_FN(rq_unpack_groups)(const uint8_t *row, size_t nbytes, size_t g0, size_t g1, unsigned b,
                            uint8_t *u) {
  for (size_t g = g0; g < g1; g++) {
    size_t at = g * b;
    uint64_t v = 0;
    if (at + 8 <= nbytes) {
      memcpy(&v, row + at, 8);
    } else {
      for (size_t i = 0; at + i < nbytes; i++) v |= (uint64_t)row[at + i] << (8 * i);
    }
    v = VEC_RQ_FN(rq_spread)(v, b);
    memcpy(u + 8 * g, &v, 8);
  }
}

#ifndef VEC_RQ_HAVE_UNPACK
void VEC_RQ_FN(vec_rabitq_unpack)(const uint8_t *codes, size_t cs, size_t nr, size_t d, unsigned b,
                                  uint8_t *out, size_t ldo) {
  size_t nbytes = (d * b + 7) / 8, ng = (d + 7) / 8;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    uint8_t *u = out + r * ldo;
    switch (b) {
    case 3: VEC_RQ_FN(rq_unpack_groups)(row, nbytes, 0, ng, 3, u); break;
    case 5: VEC_RQ_FN(rq_unpack_groups)(row, nbytes, 0, ng, 5, u); break;
    case 6: VEC_RQ_FN(rq_unpack_groups)(row, nbytes, 0, ng, 6, u); break;
    default: VEC_RQ_FN(rq_unpack_groups)(row, nbytes, 0, ng, 7, u); break;
    }
  }
}
#endif

#ifndef VEC_RQ_HAVE_SIGN
void VEC_RQ_FN(vec_rabitq_sign)(const float *o, size_t d, uint8_t *row) {
  for (size_t k = 0; k < (d + 7) / 8; k++) {
    unsigned v = 0;
    for (unsigned i = 0; i < 8; i++) v |= (unsigned)(o[8 * k + i] > 0.0f) << i;
    row[k] = (uint8_t)v;
  }
}
#endif

#ifndef VEC_RQ_HAVE_DOT1
VEC_RQ_POPCNT_ATTR
void VEC_RQ_FN(vec_rabitq_dot1)(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs,
                                size_t nr, int64_t *out) {
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    uint64_t pc[9] = {0};
    for (size_t i = 0; i < w; i++) {
      uint64_t c = 0;
      if (8 * i + 8 <= cs)
        memcpy(&c, row + 8 * i, 8); /* little-endian: element 64i + k is bit k */
      else
        memcpy(&c, row + 8 * i, cs - 8 * i);
      for (int k = 0; k < 8; k++) pc[k] += (uint64_t)__builtin_popcountll(c & planes[8 * i + k]);
      pc[8] += (uint64_t)__builtin_popcountll(c);
    }
    int64_t s = 0;
    for (int k = 0; k < 8; k++) s += (int64_t)(pc[k] << k);
    out[r] = s - 128 * (int64_t)pc[8];
  }
}
#endif
