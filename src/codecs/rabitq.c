/* rabitq.c: the rabitq codec: a seeded random rotation (rotation.h), then 1..8-bit codes of the
 * rotated unit vector with per-vector correction factors, an unbiased inner-product estimator and
 * an error bound per estimate (RaBitQ, Gao & Long, SIGMOD 2024; its multi-bit extension, Gao et
 * al., SIGMOD 2025). docs/rabitq.md explains the math.
 *
 * Row layout. Codes: ceil(d * B / 8) bytes, element j's B-bit unsigned code u_j in bits
 * [j B, j B + B) of the row read as a little-endian bit stream (B = 4: element 2k in the low
 * nibble of byte k; B = 1: element 8k + i in bit i of byte k). u_j stands for the odd integer
 * y_j = 2 u_j - (2^B - 1), a point of the grid {-(2^B - 1), ..., -1, 1, ..., 2^B - 1}.
 * Scales: three float32, all >= 0 and finite (so the codec framework's scale checks apply):
 *   s0 = |x|                           exact norm (sqnorms, L2 and cosine)
 *   s1 = |x| / (alpha |y|)             estimate of q.x = s1 * <R q, y>
 *   s2 = |x| sqrt(1 - alpha^2) / alpha error bound of q.x = s2 * |q| * EPS0 / sqrt(d - 1)
 * with alpha = <y / |y|, R x / |x|> (> 0, the cosine between the code and the rotated vector).
 * They are scales rather than code bytes so that codes stay plain packed bits (searchable and
 * inspectable as such) and the framework validates them on decode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"
#include "rotation.h"

/* Confidence constant of the bound (RaBitQ's epsilon_0). The estimate's error behaves like a
 * Gaussian with standard deviation |x||q| sqrt(1 - alpha^2) / (alpha sqrt(d - 1)) (the paper's
 * concentration result): on the shipped sample 1.9 (the paper's choice) leaves 5.5% of (query,
 * row) pairs outside the bound at 1 bit, as a Gaussian would at 1.9 sigma; 3.0 leaves ~0.3%. A
 * bound that fails for a candidate near the top-k boundary costs recall after rescoring, so we
 * take 3.0 (measured in tests/c/test_rabitq.c and RABITQ_NOTES.md). */
#define EPS0    3.0f
#define NSCALES 3

typedef struct {
  vec_rotation *rot;
} rabitq_state;

static size_t rq_code_size(const vec_codec *c) { return (c->d * c->p.bits + 7) / 8; }
static size_t rq_scale_count(const vec_codec *c) {
  (void)c;
  return NSCALES;
}

static int rq_check(const vec_codec_params *p) {
  if (p->bits < 1 || p->bits > 8)
    return vec_fail(VEC_E_INVALID_ARG, -1, "rabitq bits per dimension must be 1..8, got %u",
                    p->bits);
  if (p->m != 0) return vec_fail(VEC_E_INVALID_ARG, -1, "rabitq takes no m (got %u)", p->m);
  return VEC_OK;
}

static int rq_init(vec_codec *c) {
  rabitq_state *s = calloc(1, sizeof *s);
  if (!s) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  int rc = vec_rotation_create(c->d, c->p.seed, &s->rot);
  if (rc) {
    free(s);
    return rc;
  }
  c->state = s;
  return VEC_OK;
}

static void rq_free_state(vec_codec *c) {
  rabitq_state *s = c->state;
  if (!s) return;
  vec_rotation_free(s->rot);
  free(s);
  c->state = NULL;
}

static const vec_rotation *rot_of(const vec_codec *c) {
  return ((const rabitq_state *)c->state)->rot;
}

static void put_code(uint8_t *row, size_t j, unsigned b, unsigned u) {
  size_t bit = j * b;
  row[bit / 8] |= (uint8_t)(u << (bit % 8));
  if (bit % 8 + b > 8) row[bit / 8 + 1] |= (uint8_t)(u >> (8 - bit % 8));
}

static unsigned get_code(const uint8_t *row, size_t j, unsigned b) {
  size_t bit = j * b;
  unsigned v = row[bit / 8] >> (bit % 8);
  if (bit % 8 + b > 8) v |= (unsigned)row[bit / 8 + 1] << (8 - bit % 8);
  return v & ((1u << b) - 1u);
}

/* Odd grid value (y = 2u - L, L = 2^B - 1) nearest to 2 t o, i.e. 2 floor(t o) + 1, clamped. */
static inline int grid_of(float v, int lmax) {
  float f = floorf(v);
  int y = f >= (float)lmax ? lmax : f <= (float)-lmax ? -lmax : 2 * (int)f + 1;
  return y > lmax ? lmax : y < -lmax ? -lmax : y;
}

/* cos(y(t), o) for the grid point at scale t; o has d unit-norm coordinates. */
static double cos_at(const float *o, size_t d, float t, int lmax, double *ip, double *nn) {
  double a = 0, b = 0;
  for (size_t j = 0; j < d; j++) {
    int y = grid_of(t * o[j], lmax);
    a += (double)y * o[j];
    b += (double)y * y;
  }
  *ip = a, *nn = b;
  return b > 0 ? a / sqrt(b) : 0.0;
}

/* The extended RaBitQ code: the grid point whose direction is closest to o (largest cosine).
 * The best scale t is searched on a coarse log grid over [0.1, 1] t_max (t_max = 2^(B-1) / max
 * |o_j|, where every coordinate saturates) and refined around the best point; the papers' exact
 * search over all critical points costs O(2^B d log d) and gains little over this (measured in
 * RABITQ_NOTES.md). */
static float best_scale(const float *o, size_t d, unsigned b) {
  int lmax = (1 << b) - 1;
  float mx = 0.0f;
  for (size_t j = 0; j < d; j++) mx = fmaxf(mx, fabsf(o[j]));
  float tmax = (float)(1 << (b - 1)) / mx;
  double best = -1.0, ip, nn;
  float bt = tmax;
  const int coarse = 12;
  for (int i = 0; i < coarse; i++) {
    float t = tmax * powf(10.0f, -1.0f + (float)i / (float)(coarse - 1));
    double cs = cos_at(o, d, t, lmax, &ip, &nn);
    if (cs > best) best = cs, bt = t;
  }
  const float step = powf(10.0f, 1.0f / (float)(coarse - 1));
  for (int i = -4; i <= 4; i++) {
    float t = bt * powf(step, (float)i / 5.0f);
    double cs = cos_at(o, d, t, lmax, &ip, &nn);
    if (cs > best) best = cs, bt = t;
  }
  return bt;
}

static size_t rq_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  (void)flags;
  size_t d = c->d, cs = rq_code_size(c);
  unsigned b = c->p.bits;
  int lmax = (1 << b) - 1;
  float *o = malloc(d * sizeof(float));
  if (!o) {
    *rc = VEC_E_NOMEM;
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    const float *xi = x + i * ldx;
    uint8_t *row = codes + i * cs;
    float *sc = scales + i * NSCALES;
    double nx2 = 0;
    for (size_t j = 0; j < d; j++) nx2 += (double)xi[j] * xi[j];
    if (!isfinite(nx2)) {
      for (size_t j = 0; j < d; j++)
        if (!isfinite(xi[j])) {
          free(o);
          *rc = VEC_E_NONFINITE;
          return i;
        }
      /* Finite but |x|^2 overflows double: not reachable from float input. */
    }
    memset(row, 0, cs);
    double nx = sqrt(nx2);
    if (nx2 == 0.0 || !isfinite((float)nx)) {
      if (!isfinite((float)nx)) {
        free(o);
        *rc = VEC_E_RANGE;
        return i;
      }
      /* The zero vector: codes 0, every factor 0, so estimates, bounds and decode are 0. */
      sc[0] = sc[1] = sc[2] = 0.0f;
      continue;
    }
    vec_rotation_apply(rot_of(c), xi, o);
    float inv = (float)(1.0 / nx);
    for (size_t j = 0; j < d; j++) o[j] *= inv;
    double ip = 0, nn = 0;
    if (b == 1) {
      for (size_t j = 0; j < d; j++) {
        int pos = o[j] > 0.0f;
        put_code(row, j, 1, (unsigned)pos);
        ip += pos ? o[j] : -o[j];
      }
      nn = (double)d;
    } else {
      float t = best_scale(o, d, b);
      for (size_t j = 0; j < d; j++) {
        int y = grid_of(t * o[j], lmax);
        put_code(row, j, b, (unsigned)((y + lmax) / 2));
        ip += (double)y * o[j];
        nn += (double)y * y;
      }
    }
    double ny = sqrt(nn);
    double alpha = ip / ny;
    /* o has norm 1 to float rounding; alpha is the cosine. It is > 0: the sign code alone has
     * alpha = mean |o_j| sqrt(d) > 0. Clamp tiny rounding excursions above 1. */
    if (alpha > 1.0) alpha = 1.0;
    if (!(alpha > 0.0)) alpha = 1e-6;
    sc[0] = (float)nx;
    sc[1] = (float)(nx / (alpha * ny));
    sc[2] = (float)(nx * sqrt(1.0 - alpha * alpha) / alpha);
  }
  free(o);
  return n;
}

static void rq_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)flags;
  size_t d = c->d, cs = rq_code_size(c);
  unsigned b = c->p.bits;
  int lmax = (1 << b) - 1;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *row = codes + i * cs;
    float *oi = out + i * ldo;
    float s1 = scales[i * NSCALES + 1];
    for (size_t j = 0; j < d; j++) oi[j] = s1 * (float)(2 * (int)get_code(row, j, b) - lmax);
    vec_rotation_apply_inverse(rot_of(c), oi, oi);
  }
}

/* Prepared query: [sum of R q, |q| EPS0 / sqrt(d - 1), 0, 0, R q (d floats)]. */
#define QHEAD 4
static size_t rq_query_size(const vec_codec *c) { return (QHEAD + c->d) * sizeof(float); }

static void rq_query_prepare(const vec_codec *c, const float *q, void *qs) {
  float *h = qs, *qr = h + QHEAD;
  size_t d = c->d;
  vec_rotation_apply(rot_of(c), q, qr);
  double sum = 0, n2 = 0;
  for (size_t j = 0; j < d; j++) sum += qr[j], n2 += (double)q[j] * q[j];
  h[0] = (float)sum;
  h[1] = (float)(sqrt(n2) * EPS0 / sqrt(d > 1 ? (double)(d - 1) : 1.0));
  h[2] = h[3] = 0.0f;
}

/* sum_j qr_j u_j for one row. Fixed summation order (8 partial sums), so a row's estimate does
 * not depend on which other rows share the call. */
static float dot_codes(const float *qr, const uint8_t *row, size_t d, unsigned b) {
  float acc[8] = {0};
  if (b == 1) {
    for (size_t j = 0; j < d; j++)
      if ((row[j / 8] >> (j % 8)) & 1) acc[j % 8] += qr[j];
  } else if (b == 4) {
    for (size_t j = 0; j < d; j++)
      acc[j % 8] += qr[j] * (float)((row[j / 2] >> (4 * (j % 2))) & 15);
  } else if (b == 8) {
    for (size_t j = 0; j < d; j++) acc[j % 8] += qr[j] * (float)row[j];
  } else {
    for (size_t j = 0; j < d; j++) acc[j % 8] += qr[j] * (float)get_code(row, j, b);
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

static void rq_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  size_t d = c->d, cs = rq_code_size(c), qsz = QHEAD + d;
  unsigned b = c->p.bits;
  float lmax = (float)((1 << b) - 1);
  for (size_t q = 0; q < nq; q++) {
    const float *h = (const float *)qs + q * qsz, *qr = h + QHEAD;
    for (size_t r = 0; r < nr; r++) {
      const float *sc = scales + r * NSCALES;
      float dot = dot_codes(qr, codes + r * cs, d, b);
      ip[q * ldo + r] = sc[1] * (2.0f * dot - lmax * h[0]);
      if (err) err[q * ldo + r] = sc[2] * h[1];
    }
  }
}

static void rq_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out) {
  (void)c, (void)codes;
  for (size_t i = 0; i < n; i++) out[i] = scales[i * NSCALES] * scales[i * NSCALES];
}

const vec_codec_ops vec_ops_rabitq = {.id = VEC_CODEC_RABITQ,
                                      .name = "rabitq",
                                      .needs_training = 0,
                                      .code_size = rq_code_size,
                                      .scale_count = rq_scale_count,
                                      .encode = rq_encode,
                                      .decode = rq_decode,
                                      .check = rq_check,
                                      .init = rq_init,
                                      .free_state = rq_free_state,
                                      .bounded = 1,
                                      .query_size = rq_query_size,
                                      .query_prepare = rq_query_prepare,
                                      .score = rq_score,
                                      .sqnorms = rq_sqnorms};
