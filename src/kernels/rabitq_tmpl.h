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
void VEC_RQ_FN(vec_rq_eval)(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                            float *ip, float *nn) {
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

float VEC_RQ_FN(vec_rq_sum)(const float *x, size_t n, int mode) {
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

/* Chunks keep int32 lane sums from overflowing: 255 * 127 * 8192 * 2 < 2^31. */
#define VEC_RQ_CHUNK 8192

/* b = 2 or 4: e = 8 / b elements per byte; q[s cs + k] pairs with field s of byte k. */
static inline int64_t VEC_RQ_FN(dot_fields)(const int8_t *q, const uint8_t *row, size_t cs,
                                            unsigned b) {
  int64_t total = 0;
  for (size_t k0 = 0; k0 < cs; k0 += VEC_RQ_CHUNK) {
    size_t k1 = k0 + VEC_RQ_CHUNK < cs ? k0 + VEC_RQ_CHUNK : cs;
    int32_t acc = 0;
    if (b == 4) {
      for (size_t k = k0; k < k1; k++)
        acc += (int32_t)(row[k] & 15) * q[k] + (int32_t)(row[k] >> 4) * q[cs + k];
    } else {
      for (size_t k = k0; k < k1; k++)
        acc += (int32_t)(row[k] & 3) * q[k] + (int32_t)((row[k] >> 2) & 3) * q[cs + k] +
               (int32_t)((row[k] >> 4) & 3) * q[2 * cs + k] +
               (int32_t)(row[k] >> 6) * q[3 * cs + k];
    }
    total += acc;
  }
  return total;
}

/* Unpacks elements [g0 * 8, g0 * 8 + 8 ng) of a row of b-bit codes (b = 3, 5, 6, 7: 8 elements
 * in b bytes, read as one little-endian word) into bytes. B is a constant in each instance. */
#define VEC_RQ_UNPACK(B)                                                                           \
  for (size_t g = 0; g < ng; g++) {                                                                \
    size_t at = (g0 + g) * (B), nb = cs - at < 8 ? cs - at : 8;                                    \
    uint64_t v = 0;                                                                                \
    memcpy(&v, row + at, nb);                                                                      \
    for (unsigned k = 0; k < 8; k++)                                                               \
      u[8 * g + k] = (uint8_t)((v >> (k * (B))) & ((1u << (B)) - 1u));                             \
  }

/* Other widths: unpack a block to bytes, then the same byte dot product as b = 8. */
static inline int64_t VEC_RQ_FN(dot_odd)(const int8_t *q, const uint8_t *row, size_t cs, size_t d,
                                         unsigned b) {
  enum { BLOCK = 1024 }; /* elements per block: 8 * 1024 * 127 * 127 fits int32 */
  uint8_t u[BLOCK];
  int64_t total = 0;
  for (size_t e0 = 0; e0 < d; e0 += BLOCK) {
    size_t m = d - e0 < BLOCK ? d - e0 : BLOCK, g0 = e0 / 8, ng = (m + 7) / 8;
    switch (b) {
    case 3: VEC_RQ_UNPACK(3) break;
    case 5: VEC_RQ_UNPACK(5) break;
    case 6: VEC_RQ_UNPACK(6) break;
    default: VEC_RQ_UNPACK(7) break;
    }
    int32_t acc = 0;
    for (size_t k = 0; k < m; k++) acc += (int32_t)u[k] * q[e0 + k];
    total += acc;
  }
  return total;
}

void VEC_RQ_FN(vec_rq_dot)(const int8_t *q, const uint8_t *codes, size_t cs, size_t nr, size_t d,
                           unsigned b, int64_t *out) {
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    int64_t total = 0;
    if (b == 4 || b == 2) {
      total = VEC_RQ_FN(dot_fields)(q, row, cs, b);
    } else if (b == 8) {
      for (size_t k0 = 0; k0 < d; k0 += VEC_RQ_CHUNK) {
        size_t k1 = k0 + VEC_RQ_CHUNK < d ? k0 + VEC_RQ_CHUNK : d;
        int32_t acc = 0;
        for (size_t k = k0; k < k1; k++) acc += (int32_t)row[k] * q[k];
        total += acc;
      }
    } else {
      total = VEC_RQ_FN(dot_odd)(q, row, cs, d, b);
    }
    out[r] = total;
  }
}

#ifndef VEC_RQ_HAVE_DOT1
VEC_RQ_POPCNT_ATTR
void VEC_RQ_FN(vec_rq_dot1)(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs,
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
