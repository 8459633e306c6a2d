/* score_scalar.c: the scalar reference of the scoring kernels (int64 sums, so any d is exact), and
 * the choice of kernel per ISA and CPU feature. */
#include "score_kernels.h"

#include "half_kernels.h"
#include "kernels.h"

int64_t vec_score_i8_dot_scalar(const int8_t *q, const int8_t *x, size_t d) {
  int64_t s = 0;
  for (size_t j = 0; j < d; j++) s += (int32_t)q[j] * x[j];
  return s;
}

uint64_t vec_score_b1_ham_scalar(const uint8_t *q, const uint8_t *x, size_t d) {
  size_t nb = (d + 7) / 8, j = 0;
  uint64_t h = 0;
  /* Whole 8-byte words first (memcpy: rows have no alignment); the last byte keeps only its
   * valid bits, so pad bits of untrusted codes never count. */
  for (; j + 8 < nb; j += 8) {
    uint64_t a, b;
    memcpy(&a, q + j, 8);
    memcpy(&b, x + j, 8);
    h += (uint64_t)__builtin_popcountll(a ^ b);
  }
  for (; j + 1 < nb; j++) h += (uint64_t)__builtin_popcount((unsigned)(q[j] ^ x[j]));
  h += (uint64_t)__builtin_popcount((unsigned)((q[j] ^ x[j]) & vec_score_b1_lastmask(d)));
  return h;
}

static void score_i8_scalar(const uint8_t *qs, size_t qstride, size_t nq, const int8_t *codes,
                            const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    const int8_t *q = (const int8_t *)(h + VEC_SCORE_HDR);
    float sq = vec_score_hdr_f32(h);
    for (size_t r = 0; r < nr; r++)
      ip[j * ldo + r] =
          vec_score_i8_out(sq, scales[r], vec_score_i8_dot_scalar(q, codes + r * d, d));
  }
}

static void score_b1_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                            size_t nr, size_t d, float *ip, size_t ldo) {
  size_t nb = (d + 7) / 8;
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    float mq = vec_score_hdr_f32(h);
    for (size_t r = 0; r < nr; r++)
      ip[j * ldo + r] =
          vec_score_b1_out(mq, d, vec_score_b1_ham_scalar(h + VEC_SCORE_HDR, codes + r * nb, d));
  }
}

void vec_score_i4_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                         const float *scales, size_t nr, size_t d, size_t g, float *ip,
                         size_t ldo) {
  size_t nb = (d + 1) / 2, ng = (d + g - 1) / g, half = vec_score_pad64(nb);
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    const int8_t *qe = (const int8_t *)(h + VEC_SCORE_HDR), *qo = qe + half;
    float sq = vec_score_hdr_f32(h);
    for (size_t r = 0; r < nr; r++) {
      const uint8_t *c = codes + r * nb;
      const float *s = scales + r * ng;
      float acc = 0.0f;
      for (size_t gi = 0; gi < ng; gi++) {
        /* g is even when there are several groups, so groups start on byte boundaries. */
        size_t b0 = gi * g / 2, b1 = gi + 1 == ng ? nb : (gi + 1) * g / 2;
        int64_t dot = 0;
        for (size_t k = b0; k < b1; k++)
          dot += (int32_t)qe[k] * vec_score_nib(c[k]) + (int32_t)qo[k] * vec_score_nib(c[k] >> 4);
        /* The first term is taken as it is (0.0f + -0.0f would lose a sign). */
        acc = gi == 0 ? s[0] * (float)dot : acc + s[gi] * (float)dot;
      }
      ip[j * ldo + r] = sq * acc;
    }
  }
}

void vec_score_u8_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                         size_t nr, size_t d, unsigned flip, float *ip, size_t ldo) {
  for (size_t j = 0; j < nq; j++) {
    const uint8_t *h = qs + j * qstride;
    const int8_t *w = (const int8_t *)(h + VEC_SCORE_HDR);
    float sw = vec_score_hdr_f32(h), c0 = vec_score_hdr_f32(h + 4);
    for (size_t r = 0; r < nr; r++) {
      const uint8_t *x = codes + r * d;
      int64_t dot = 0;
      for (size_t k = 0; k < d; k++) dot += (int32_t)w[k] * (int32_t)(x[k] ^ flip);
      ip[j * ldo + r] = vec_score_u8_out(c0, sw, dot);
    }
  }
}

/* Eight interleaved partial sums reduced in a fixed tree, like the flat search's float dot. */
static inline float lanes_sum(const float s[8]) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* kind: 0 f16, 1 bf16, 2 int16 (two's complement). */
static inline float half_value(const uint8_t *p, int bf16) {
  uint16_t c = vec_half_load_code(p);
  if (bf16 == 2) return (float)(int16_t)c;
  uint32_t u = bf16 ? (uint32_t)c << 16 : vec_f16_to_bits(c);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline void score_h_scalar(const uint8_t *qs, size_t qstride, size_t nq,
                                  const uint8_t *codes, size_t nr, size_t d, float *ip, size_t ldo,
                                  int bf16) {
  for (size_t j = 0; j < nq; j++) {
    /* Prepared queries carry no alignment promise: floats are read through memcpy. */
    const uint8_t *q = qs + j * qstride + VEC_SCORE_HDR;
    for (size_t r = 0; r < nr; r++) {
      const uint8_t *x = codes + r * 2 * d;
      float s[8] = {0};
      for (size_t k = 0; k < d; k++) {
        float qk;
        memcpy(&qk, q + 4 * k, sizeof qk);
        s[k % 8] += qk * half_value(x + 2 * k, bf16);
      }
      ip[j * ldo + r] = lanes_sum(s);
    }
  }
}

static void score_i16_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             const float *scales, size_t nr, size_t d, float *ip, size_t ldo) {
  score_h_scalar(qs, qstride, nq, codes, nr, d, ip, ldo, 2);
  for (size_t j = 0; j < nq; j++)
    for (size_t r = 0; r < nr; r++) ip[j * ldo + r] = vec_score_i16_out(scales[r], ip[j * ldo + r]);
}
static void score_f16_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                             size_t nr, size_t d, float *ip, size_t ldo) {
  score_h_scalar(qs, qstride, nq, codes, nr, d, ip, ldo, 0);
}
static void score_bf16_scalar(const uint8_t *qs, size_t qstride, size_t nq, const uint8_t *codes,
                              size_t nr, size_t d, float *ip, size_t ldo) {
  score_h_scalar(qs, qstride, nq, codes, nr, d, ip, ldo, 1);
}

const vec_score_kernels vec_score_table_scalar = {.i8 = score_i8_scalar,
                                                  .b1 = score_b1_scalar,
                                                  .f16 = score_f16_scalar,
                                                  .bf16 = score_bf16_scalar,
                                                  .i16 = score_i16_scalar,
                                                  .i4 = vec_score_i4_scalar,
                                                  .u8 = vec_score_u8_scalar};

/* The active table's score family (dispatch.c fills it: the optional variants are NULL where their
 * CPU feature is off, f16 is the scalar kernel where F16C is). Read per call: vec_set_isa() may
 * change the active set between batches. */
static const vec_score_kernels *table(void) { return &vec_kernels_get()->score; }

vec_score_i8_fn vec_score_pick_i8(size_t d) {
  if (d > VEC_SCORE_I8_MAX_D) return score_i8_scalar; /* int32 sums could overflow */
  const vec_score_kernels *t = table();
  if (t->i8_vnni) return t->i8_vnni;
  if (t->i8_dot) return t->i8_dot;
  return t->i8;
}

vec_score_b1_fn vec_score_pick_b1(void) {
  const vec_score_kernels *t = table();
  if (t->b1_popcnt) return t->b1_popcnt;
  return t->b1;
}

vec_score_h_fn vec_score_pick_f16(void) { return table()->f16; }

vec_score_h_fn vec_score_pick_bf16(void) { return table()->bf16; }

vec_score_i16_fn vec_score_pick_i16(void) {
  const vec_score_kernels *t = table();
  return t->i16 ? t->i16 : score_i16_scalar;
}

vec_score_u8_fn vec_score_pick_u8(size_t d) {
  if (d > VEC_SCORE_U8_MAX_D) return vec_score_u8_scalar;
  const vec_score_kernels *t = table();
  if (t->u8_vnni) return t->u8_vnni;
  return t->u8 ? t->u8 : vec_score_u8_scalar;
}

vec_score_i4_fn vec_score_pick_i4(size_t d) {
  if (d > VEC_SCORE_I8_MAX_D) return vec_score_i4_scalar;
  const vec_score_kernels *t = table();
  if (t->i4_vnni) return t->i4_vnni;
  if (t->i4_dot) return t->i4_dot;
  return t->i4 ? t->i4 : vec_score_i4_scalar;
}
