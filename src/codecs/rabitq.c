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
 * inspectable as such) and the framework validates them on decode.
 *
 * Centred (params.center): the codec is trained, c = the mean of the training rows, and codes
 * describe x - c: s1 and s2 are those of x - c (alpha of R (x - c)), s0 stays |x| (exact), and a
 * fourth scale carries the per-row term of
 *     q.x = (q - c).(x - c) + (q.c - |c|^2) + c.x
 * as s3 = c.x + |c| |x| (>= 0 by Cauchy-Schwarz, so the framework's scale checks hold; c.x =
 * s3 - |c| s0 to within a float rounding of |c| |x|). The search estimates (q - c).(x - c) from
 * the codes as above, with |q - c| in the bound, adds the per-query q.c - |c|^2 and the per-row
 * c.x; |x - c|^2 = (s0 + |c|)^2 - 2 s3 gives the query-rounding term of the bound. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/parallel.h"
#include "../kernels/kernels.h"
#include "codec_impl.h"
#include "rotation.h"

/* Confidence constant of the bound (RaBitQ's epsilon_0). The estimate's error behaves like a
 * Gaussian with standard deviation |x||q| sqrt(1 - alpha^2) / (alpha sqrt(d - 1)) (the paper's
 * concentration result): on the shipped sample 1.9 (the paper's choice) leaves 5.5% of (query,
 * row) pairs outside the bound at 1 bit, as a Gaussian would at 1.9 sigma; 3.0 leaves ~0.3%. A
 * bound that fails for a candidate near the top-k boundary costs recall after rescoring, so we
 * take 3.0 (measured in tests/c/test_rabitq.c and RABITQ_NOTES.md). */
#define EPS0 3.0f

/* Rows of the training mean's partial sums: fixed, so the sum's order (and the mean's bits) does
 * not depend on how many threads share the blocks. */
#define MEAN_BLOCK 4096

typedef struct {
  vec_rotation *rot;
  float *cen; /* centred: the centre c (d floats), set by training; NULL uncentred */
  float cn;   /* |c| */
  double cc;  /* |c|^2 of the float centre, in double */
} rabitq_state;

#define ST(c) ((rabitq_state *)(c)->state)

static size_t rq_code_size(const vec_codec *c) { return (c->d * c->p.bits + 7) / 8; }
/* Known from the parameters, so layouts are fixed at creation. */
static size_t nscales(const vec_codec *c) { return c->p.center ? 4 : 3; }
static size_t rq_scale_count(const vec_codec *c) { return nscales(c); }

static int rq_check(const vec_codec_params *p) {
  if (p->bits < 1 || p->bits > 8)
    return vec_fail(VEC_E_INVALID_ARG, -1, "rabitq bits per dimension must be 1..8, got %u",
                    p->bits);
  if (p->m != 0) return vec_fail(VEC_E_INVALID_ARG, -1, "rabitq takes no m (got %u)", p->m);
  return VEC_OK;
}

static void rq_free_state(vec_codec *c) {
  rabitq_state *s = c->state;
  if (!s) return;
  vec_rotation_free(s->rot);
  free(s->cen);
  free(s);
  c->state = NULL;
}

static int rq_init(vec_codec *c) {
  rabitq_state *s = calloc(1, sizeof *s);
  if (!s) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  c->state = s;
  int rc = vec_rotation_create(c->d, c->p.seed, &s->rot);
  if (!rc && c->p.center && !(s->cen = calloc(c->d, sizeof(float))))
    rc = vec_fail(VEC_E_NOMEM, -1, "out of memory");
  if (rc) {
    rq_free_state(c);
    return rc;
  }
  c->needs_training = c->p.center;
  return VEC_OK;
}

/* Sets the centre (finite floats) and its derived norms. */
static int set_centre(vec_codec *c, const float *cen) {
  rabitq_state *s = ST(c);
  double cc = 0;
  for (size_t j = 0; j < c->d; j++) cc += (double)cen[j] * cen[j];
  if (!isfinite((float)sqrt(cc)))
    return vec_fail(VEC_E_RANGE, -1, "the centre's norm overflows float32");
  if (s->cen != cen) memcpy(s->cen, cen, c->d * sizeof(float));
  s->cc = cc;
  s->cn = (float)sqrt(cc);
  return VEC_OK;
}

typedef struct {
  const float *x;
  size_t ldx, step, nt, d;
  double *part; /* per block of MEAN_BLOCK sampled rows, d sums */
} mean_ctx;

static int mean_blocks(void *p, size_t b0, size_t b1, size_t *bad_row) {
  mean_ctx *m = p;
  (void)bad_row;
  for (size_t b = b0; b < b1; b++) {
    double *acc = m->part + b * m->d;
    size_t end = (b + 1) * MEAN_BLOCK < m->nt ? (b + 1) * MEAN_BLOCK : m->nt;
    for (size_t j = 0; j < m->d; j++) acc[j] = 0;
    for (size_t i = b * MEAN_BLOCK; i < end; i++) {
      const float *r = m->x + i * m->step * m->ldx;
      for (size_t j = 0; j < m->d; j++) acc[j] += r[j];
    }
  }
  return VEC_OK;
}

/* The centre: the mean of at most train_max rows (every k-th, as pq samples; 0 = all), summed in
 * double by fixed blocks added in order. Rows are finite (codec.c checked them). */
static int rq_train(vec_codec *c, const float *x, size_t n, size_t ldx, const vec_batch_opts *o) {
  if (n < 2)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "rabitq centring needs at least 2 training vectors (got %zu): the mean of "
                    "one vector leaves it nothing to code",
                    n);
  size_t cap = c->p.train_max ? c->p.train_max : n;
  if (cap < 2) cap = 2;
  size_t nt = n < cap ? n : cap, nb = (nt + MEAN_BLOCK - 1) / MEAN_BLOCK, d = c->d;
  mean_ctx m = {x, ldx, n / nt, nt, d, malloc(nb * d * sizeof(double))};
  float *cen = malloc(d * sizeof(float));
  if (!m.part || !cen) {
    free(m.part), free(cen);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  size_t bad;
  int rc = vec_parallel_rows(nb, MEAN_BLOCK * d * sizeof(float), mean_blocks, &m, o, &bad);
  if (rc == VEC_E_CANCELLED) rc = vec_fail(rc, -1, "cancelled by the progress callback");
  if (!rc) {
    for (size_t b = 1; b < nb; b++)
      for (size_t j = 0; j < d; j++) m.part[j] += m.part[b * d + j];
    for (size_t j = 0; j < d; j++) cen[j] = (float)(m.part[j] / (double)nt);
    rc = set_centre(c, cen);
  }
  free(m.part), free(cen);
  if (rc) return rc;
  c->trained = 1;
  return VEC_OK;
}

static const vec_rotation *rot_of(const vec_codec *c) { return ST(c)->rot; }

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

typedef vec_rabitq_kernels rq_kernels;
static rq_kernels pick(void) { return vec_kernels_get()->rabitq; }

/* Candidate scales, as fractions of t_max = 2^(B-1) / max |o_j| (where the largest coordinate
 * reaches the top level): a geometric grid over [0.9, 2.5], then a finer one around the best.
 * Beyond t_max the grid clips the largest coordinates, which is where the optimum lies for
 * Gaussian-like coordinates: measured on the sample at d = 384, the best scale of a 300-point scan
 * lies at 0.94..2.4 t_max (1.58 t_max median at B = 2, 1.17 at B = 4, 0.99 at B = 8), and these
 * 12 points reach its cosine to within 3e-5 on average (RABITQ_NOTES.md). Literal floats, so every
 * platform tries the same scales. */
static const float coarse_t[] = {0.9000000f, 1.1040329f, 1.3543207f,
                                 1.6613495f, 2.0379828f, 2.5000000f};
static const float fine_t[] = {0.8579172f, 0.9028805f, 0.9502002f,
                               1.0524098f, 1.1075663f, 1.1656137f};
_Static_assert(sizeof fine_t == sizeof coarse_t, "best_scale takes both grids in passes of 6");

/* The extended-RaBitQ code of a rotated unit vector o (dp >= d coordinates, zero padded): the
 * grid point of largest cosine with o among the candidate scales. The papers' exact search over
 * every critical scale costs O(2^B d log d); this bounded scan costs 12 vectorised passes. */
static float best_scale(const rq_kernels *k, const float *o, size_t d, size_t dp, unsigned b) {
  enum { NT = sizeof coarse_t / sizeof coarse_t[0] };
  float mx = k->sum(o, d, 2);
  float tmax = (float)(1 << (b - 1)) / mx;
  float fmin = -(float)(1 << (b - 1)), fmax = (float)((1 << (b - 1)) - 1), pad = (float)(dp - d);
  float best = -1.0f, bt = tmax, t[NT], ip[NT], nn[NT];
  for (int round = 0; round < 2; round++) {
    /* The fine grid is around the coarse grid's best; both take one pass of evaln. */
    float t0 = bt;
    for (size_t i = 0; i < NT; i++) t[i] = round ? t0 * fine_t[i] : tmax * coarse_t[i];
    k->evaln(o, dp, t, NT, fmin, fmax, ip, nn);
    for (size_t i = 0; i < NT; i++) {
      float cs = ip[i] / sqrtf(nn[i] - pad);
      if (cs > best) best = cs, bt = t[i];
    }
  }
  return bt;
}

/* The 8 bytes of v (each < 2^b) as 8 b-bit fields in its low 8 b bits, byte k to field k: the
 * inverse of the kernels' unpacking, in three halving steps (pairs of bytes to 2 b bits, pairs of
 * those to 4 b, the two halves to 8 b). Hosts are little-endian (x86-64, AArch64). */
static inline uint64_t gather_fields(uint64_t v, unsigned b) {
  v = (v & 0x00FF00FF00FF00FFull) | ((v >> 8) & 0x00FF00FF00FF00FFull) << b;
  v = (v & 0x0000FFFF0000FFFFull) | ((v >> 16) & 0x0000FFFF0000FFFFull) << (2 * b);
  return (v & 0xFFFFFFFFull) | (v >> 32) << (4 * b);
}

/* b = 3, 5, 6, 7: 8 elements fill b bytes. Groups go in order, each stored as a whole word (its b
 * bytes, then zeros the next group overwrites), but near the row's end, where b bytes. Always
 * inlined with b a constant, so that the shifts are immediates and the copies fixed-size. */
static inline __attribute__((always_inline)) void pack_groups(const uint8_t *u, size_t d,
                                                              unsigned b, uint8_t *row) {
  size_t ng = d / 8, cs = (d * b + 7) / 8, g = 0;
  for (; g < ng; g++) {
    uint64_t v;
    memcpy(&v, u + 8 * g, 8);
    v = gather_fields(v, b);
    if (g * b + 8 <= cs)
      memcpy(row + g * b, &v, 8);
    else
      memcpy(row + g * b, &v, b);
  }
  for (size_t j = 8 * ng; j < d; j++) put_code(row, j, b, u[j]);
}

/* Packs d unsigned B-bit values (one per byte) into a zeroed code row. */
static void pack(const uint8_t *u, size_t d, unsigned b, uint8_t *row) {
  switch (b) {
  case 8: memcpy(row, u, d); break;
  case 4:
    for (size_t k = 0; k < d / 2; k++) row[k] = (uint8_t)(u[2 * k] | u[2 * k + 1] << 4);
    if (d % 2) row[d / 2] = u[d - 1];
    break;
  case 2:
    for (size_t k = 0; k < d / 4; k++)
      row[k] = (uint8_t)(u[4 * k] | u[4 * k + 1] << 2 | u[4 * k + 2] << 4 | u[4 * k + 3] << 6);
    for (size_t j = d / 4 * 4; j < d; j++) put_code(row, j, b, u[j]);
    break;
  case 3: pack_groups(u, d, 3, row); break;
  case 5: pack_groups(u, d, 5, row); break;
  case 6: pack_groups(u, d, 6, row); break;
  default: pack_groups(u, d, 7, row); break;
  }
}

/* sum a_j b_j in double, in 8 interleaved partial sums added in a fixed order: the same bits on
 * every platform and instruction set, without one serial chain of d dependent adds (which cost
 * centred encoding a third of its speed). */
static double dot_f64(const float *a, const float *b, size_t d) {
  double acc[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (size_t k = 0; k < 8; k++) acc[k] += (double)a[j + k] * b[j + k];
  for (; j < d; j++) acc[j % 8] += (double)a[j] * b[j];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* |v|^2 of a row (the kernel's float sum), or -1 with *rc set when v holds NaN or Inf
 * (VEC_E_NONFINITE) or finite values whose norm overflows float (VEC_E_RANGE). */
static double row_norm2(const rq_kernels *k, const float *v, size_t d, int *rc) {
  float n2f = k->sum(v, d, 0);
  if (isfinite(n2f)) return n2f;
  /* Tell the cases apart in double, where every float squared and their sum fit. */
  double n2 = 0;
  for (size_t j = 0; j < d; j++) n2 += (double)v[j] * v[j];
  if (isfinite(n2) && isfinite((float)sqrt(n2))) return n2;
  *rc = isfinite(n2) ? VEC_E_RANGE : VEC_E_NONFINITE;
  return -1;
}

static size_t rq_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  (void)flags;
  const rabitq_state *st = ST(c);
  size_t d = c->d, cs = rq_code_size(c), ns = nscales(c);
  size_t dp = (d + VEC_RQ_LANES - 1) / VEC_RQ_LANES * VEC_RQ_LANES;
  unsigned b = c->p.bits;
  rq_kernels k = pick();
  float *o = calloc(dp, sizeof(float)), *xc = st->cen ? malloc(d * sizeof(float)) : NULL;
  uint8_t *u = malloc(dp);
  if (!o || !u || (st->cen && !xc)) {
    free(o), free(u), free(xc);
    *rc = VEC_E_NOMEM;
    return 0;
  }
  size_t i = 0;
  for (; i < n; i++) {
    const float *xi = x + i * ldx;
    uint8_t *row = codes + i * cs;
    float *sc = scales + i * ns;
    double nx2 = row_norm2(&k, xi, d, rc);
    if (nx2 < 0) break;
    /* v: the vector the codes describe, x or x - c, and nv2 its squared norm. */
    const float *v = xi;
    double nv2 = nx2;
    if (xc) {
      double cx = dot_f64(st->cen, xi, d);
      for (size_t j = 0; j < d; j++) xc[j] = xi[j] - st->cen[j];
      if ((nv2 = row_norm2(&k, xc, d, rc)) < 0) break;
      /* c.x + |c| |x| with the float |c| and s0 that the score recovers c.x with; >= 0 but for
       * rounding, which the clamp absorbs. */
      float s3 = (float)(cx + (double)st->cn * (double)(float)sqrt(nx2));
      if (!isfinite(s3)) {
        *rc = VEC_E_RANGE;
        break;
      }
      sc[3] = s3 > 0.0f ? s3 : 0.0f;
      v = xc;
    }
    double nx = sqrt(nv2);
    sc[0] = (float)sqrt(nx2);
    memset(row, 0, cs);
    if (nv2 == 0.0) {
      /* The zero vector (or x = c): codes 0, factors 0, so estimates, bounds and decode are 0 (c
       * and c.x when centred). */
      sc[1] = sc[2] = 0.0f;
      continue;
    }
    vec_rotation_apply(rot_of(c), v, o);
    float inv = (float)(1.0 / nx);
    for (size_t j = 0; j < d; j++) o[j] *= inv;
    float ip, nn;
    if (b == 1) {
      k.sign(o, d, row); /* o is zero past d: those bits stay 0 */
      ip = k.sum(o, d, 1);
      nn = (float)d;
    } else {
      float t = best_scale(&k, o, d, dp, b);
      float fmin = -(float)(1 << (b - 1)), fmax = (float)((1 << (b - 1)) - 1);
      k.eval(o, dp, t, fmin, fmax, u, &ip, &nn);
      nn -= (float)(dp - d);
      pack(u, d, b, row);
    }
    /* o has norm 1 to float rounding, so alpha is the cosine between code and vector; it is > 0
     * (the sign code alone has alpha = mean |o_j| sqrt(d)). Clamp rounding excursions. */
    double ny = sqrt((double)nn), alpha = (double)ip / ny;
    if (alpha > 1.0) alpha = 1.0;
    if (!(alpha > 1e-6)) alpha = 1e-6;
    sc[1] = (float)(nx / (alpha * ny));
    sc[2] = (float)(nx * sqrt(1.0 - alpha * alpha) / alpha);
  }
  free(o), free(u), free(xc);
  return i;
}

static void rq_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)flags;
  size_t d = c->d, cs = rq_code_size(c), ns = nscales(c);
  unsigned b = c->p.bits;
  int lmax = (1 << b) - 1;
  const float *cen = ST(c)->cen;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *row = codes + i * cs;
    float *oi = out + i * ldo;
    float s1 = scales[i * ns + 1];
    for (size_t j = 0; j < d; j++) oi[j] = s1 * (float)(2 * (int)get_code(row, j, b) - lmax);
    vec_rotation_apply_inverse(rot_of(c), oi, oi);
    if (cen)
      for (size_t j = 0; j < d; j++) oi[j] += cen[j];
  }
}

/* Prepared query: a 64-byte head, then the int8 query qs (R q ~ delta * qs, |qs_j| <= 127) laid
 * out for the kernels: b == 1 as 8 bit planes of qs + 128 and then plain (rabitq_kernels.h),
 * b == 2, 4 split by field, else plain. */
typedef struct {
  float delta; /* R q ~ delta * qs (centred: R (q - c)) */
  float h1;    /* |q| EPS0 / sqrt(d - 1): the estimator's bound per unit of s2 (centred: |q - c|) */
  float h2;    /* EPS0 delta / sqrt(12): the query rounding's bound per unit of |x| / alpha */
  float qk;    /* centred: q.c - |c|^2, the estimate's per-query term; else 0 */
  int64_t sumq; /* sum of qs */
  float cn;     /* centred: |c|, to recover c.x = s3 - |c| s0 */
  uint8_t pad[36];
} rq_qhead;
_Static_assert(sizeof(rq_qhead) == 64, "the prepared query's head is one cache line");

static size_t words(size_t d) { return (d + 63) / 64; }

static size_t rq_query_size(const vec_codec *c) {
  size_t d = c->d;
  unsigned b = c->p.bits;
  size_t body = b == 1             ? 8 * words(d) * sizeof(uint64_t) + 64 * words(d)
                : b == 2 || b == 4 ? 8 / b * rq_code_size(c)
                                   : d;
  /* Rounded to 64 bytes so that the heads of consecutive prepared queries stay aligned. */
  return (sizeof(rq_qhead) + body + 63) / 64 * 64;
}

static void rq_query_prepare(const vec_codec *c, const float *q, void *qs) {
  size_t d = c->d, cs = rq_code_size(c);
  unsigned b = c->p.bits;
  rq_qhead *h = qs;
  uint8_t *body = (uint8_t *)qs + sizeof(rq_qhead);
  memset(qs, 0, rq_query_size(c));
  const rabitq_state *st = ST(c);
  float *qr = malloc((st->cen ? 2 : 1) * d * sizeof(float));
  if (!qr) return; /* hooks cannot fail: an all-zero query scores 0 everywhere */
  if (st->cen) {
    /* Estimate (q - c).(x - c); q.c - |c|^2 goes into every row's estimate. */
    float *qc = qr + d;
    for (size_t j = 0; j < d; j++) qc[j] = q[j] - st->cen[j];
    h->qk = (float)(dot_f64(q, st->cen, d) - st->cc);
    h->cn = st->cn;
    q = qc;
  }
  double n2 = 0;
  for (size_t j = 0; j < d; j++) n2 += (double)q[j] * q[j];
  h->h1 = (float)(sqrt(n2) * EPS0 / sqrt(d > 1 ? (double)(d - 1) : 1.0));
  vec_rotation_apply(rot_of(c), q, qr);
  float mx = pick().sum(qr, d, 2); /* max |qr_j| (fmaxf here was a libm call per element) */
  float delta = mx / 127.0f, inv = mx > 0.0f ? 127.0f / mx : 0.0f;
  int64_t sum = 0;
  uint64_t *planes = (uint64_t *)(void *)body;
  for (size_t j = 0; j < d; j++) {
    /* Rounded to nearest, ties to even, as nearbyintf (a libm call per element without SSE4.1):
     * adding 1.5 * 2^23 leaves no fraction bits for |x| <= 2^22, and the subtraction is exact. */
    float v = (qr[j] * inv + 0x1.8p23f) - 0x1.8p23f;
    int qj = v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v;
    sum += qj;
    if (b == 1) {
      unsigned u = (unsigned)(qj + 128);
      for (int k = 0; k < 8; k++)
        planes[8 * (j / 64) + (size_t)k] |= (uint64_t)((u >> k) & 1u) << (j % 64);
      body[64 * words(d) + j] = (uint8_t)(int8_t)qj; /* after the planes */
    } else if (b == 2 || b == 4) {
      body[(j % (8 / b)) * cs + j / (8 / b)] = (uint8_t)(int8_t)qj;
    } else {
      body[j] = (uint8_t)(int8_t)qj;
    }
  }
  free(qr);
  h->delta = delta;
  h->h2 = (float)(EPS0 * (double)delta / sqrt(12.0));
  h->sumq = sum;
}

/* Rows per kernel call: the integer dot products of a block stay in a small stack buffer. */
#define SCORE_BLOCK 256
/* Codes of 3, 5, 6 or 7 bits are unpacked to one byte per element, once per block of rows, and
 * every query of the call then runs the byte kernel over the block: the unpacking is shared by the
 * queries the search driver scores together. 16 KB stays in L1 beside a query. */
#define UNPACK_BYTES 16384

/* Estimates (and bounds, where err is not NULL) of m rows from their integer dot products; ns
 * scales a row, 4 for a centred codec. One function for every instruction set, so every ISA's
 * results are bit-identical. */
static void finish(const rq_qhead *h, const int64_t *dot, const float *scales, size_t ns, size_t m,
                   int64_t lmax, float *ip, float *err) {
  if (ns == 3) {
    for (size_t r = 0; r < m; r++) {
      const float *sc = scales + r * 3;
      /* <R q, y> ~ delta (2 <qs, u> - L sum qs), y = 2u - L: exact in integers. */
      float yq = (float)(2 * dot[r] - lmax * h->sumq);
      ip[r] = sc[1] * (h->delta * yq);
      if (err) err[r] = sc[2] * h->h1 + (sc[0] + sc[2]) * h->h2;
    }
    return;
  }
  for (size_t r = 0; r < m; r++) {
    const float *sc = scales + r * 4;
    float yq = (float)(2 * dot[r] - lmax * h->sumq);
    /* (q - c).(x - c) + (q.c - |c|^2) + c.x, c.x = s3 - |c| s0 */
    ip[r] = sc[1] * (h->delta * yq) + (h->qk + (sc[3] - h->cn * sc[0]));
    if (err) {
      /* |x - c| / alpha = sqrt(|x - c|^2 + s2^2), |x - c|^2 = (s0 + |c|)^2 - 2 s3 */
      float a = sc[0] + h->cn, v2 = a * a - 2.0f * sc[3];
      err[r] = sc[2] * h->h1 + sqrtf((v2 > 0.0f ? v2 : 0.0f) + sc[2] * sc[2]) * h->h2;
    }
  }
}

static const rq_qhead *qhead(const void *qs, size_t qsz, size_t q) {
  return (const void *)((const uint8_t *)qs + q * qsz);
}

/* rq_score for b = 3, 5, 6, 7. Rows longer than the buffer (d > 16384) are unpacked per query in
 * chunks of elements (a multiple of 8, so that each starts on a byte). */
static void score_unpacked(const vec_codec *c, const rq_kernels *k, const void *qs, size_t nq,
                           const uint8_t *codes, const float *scales, size_t nr, float *ip,
                           float *err, size_t ldo) {
  size_t d = c->d, cs = rq_code_size(c), qsz = rq_query_size(c), ld = VEC_RQ_UNPACK_PAD(d);
  size_t ns = nscales(c);
  unsigned b = c->p.bits;
  int64_t lmax = (1 << b) - 1, dot[SCORE_BLOCK];
  _Alignas(64) uint8_t u[UNPACK_BYTES];
  if (ld <= UNPACK_BYTES) {
    size_t block = UNPACK_BYTES / ld < SCORE_BLOCK ? UNPACK_BYTES / ld : SCORE_BLOCK;
    for (size_t r0 = 0; r0 < nr; r0 += block) {
      size_t m = nr - r0 < block ? nr - r0 : block;
      k->unpack(codes + r0 * cs, cs, m, d, b, u, ld);
      for (size_t q = 0; q < nq; q++) {
        const rq_qhead *h = qhead(qs, qsz, q);
        k->dot((const int8_t *)(h + 1), u, ld, m, d, b, dot);
        finish(h, dot, scales + r0 * ns, ns, m, lmax, ip + q * ldo + r0,
               err ? err + q * ldo + r0 : NULL);
      }
    }
    return;
  }
  for (size_t q = 0; q < nq; q++) {
    const rq_qhead *h = qhead(qs, qsz, q);
    const int8_t *body = (const int8_t *)(h + 1);
    for (size_t r0 = 0; r0 < nr; r0 += SCORE_BLOCK) {
      size_t m = nr - r0 < SCORE_BLOCK ? nr - r0 : SCORE_BLOCK;
      for (size_t r = 0; r < m; r++) {
        dot[r] = 0;
        for (size_t e0 = 0; e0 < d; e0 += UNPACK_BYTES) {
          size_t me = d - e0 < UNPACK_BYTES ? d - e0 : UNPACK_BYTES;
          int64_t part;
          k->unpack(codes + (r0 + r) * cs + e0 / 8 * b, cs, 1, me, b, u, UNPACK_BYTES);
          k->dot(body + e0, u, UNPACK_BYTES, 1, me, b, &part);
          dot[r] += part;
        }
      }
      finish(h, dot, scales + r0 * ns, ns, m, lmax, ip + q * ldo + r0,
             err ? err + q * ldo + r0 : NULL);
    }
  }
}

static void rq_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  size_t d = c->d, cs = rq_code_size(c), qsz = rq_query_size(c), ns = nscales(c);
  unsigned b = c->p.bits;
  int64_t lmax = (1 << b) - 1;
  rq_kernels k = pick();
  if (b != 1 && b != 2 && b != 4 && b != 8) {
    score_unpacked(c, &k, qs, nq, codes, scales, nr, ip, err, ldo);
    return;
  }
  int64_t dot[SCORE_BLOCK];
  for (size_t q = 0; q < nq; q++) {
    const rq_qhead *h = qhead(qs, qsz, q);
    const void *body = h + 1;
    for (size_t r0 = 0; r0 < nr; r0 += SCORE_BLOCK) {
      size_t m = nr - r0 < SCORE_BLOCK ? nr - r0 : SCORE_BLOCK;
      if (b == 1)
        k.dot1(body, words(d), codes + r0 * cs, cs, m, dot);
      else
        k.dot(body, codes + r0 * cs, cs, m, d, b, dot);
      finish(h, dot, scales + r0 * ns, ns, m, lmax, ip + q * ldo + r0,
             err ? err + q * ldo + r0 : NULL);
    }
  }
}

static void rq_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out) {
  (void)codes;
  size_t ns = nscales(c);
  for (size_t i = 0; i < n; i++) out[i] = scales[i * ns] * scales[i * ns];
}

/* ---- State (centred codecs only): the centre, d float32. ---- */
static size_t rq_state_size(const vec_codec *c) { return c->p.center ? 4 * c->d : 0; }

static void rq_state_write(const vec_codec *c, uint8_t *p) {
  const float *cen = ST(c)->cen;
  for (size_t j = 0; j < c->d; j++) {
    uint32_t v = vec_f2u_pub(cen[j]);
    for (int i = 0; i < 4; i++) p[4 * j + (size_t)i] = (uint8_t)(v >> (8 * i));
  }
}

static int rq_state_read(vec_codec *c, const uint8_t *p, size_t size) {
  if (!c->p.center)
    return vec_fail(VEC_E_FORMAT, -1, "an uncentred rabitq codec has no state (got %zu bytes)",
                    size);
  if (size != rq_state_size(c))
    return vec_fail(VEC_E_FORMAT, -1, "rabitq centre of %zu bytes, expected %zu for d %zu", size,
                    rq_state_size(c), c->d);
  float *cen = malloc(c->d * sizeof(float));
  if (!cen) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  for (size_t j = 0; j < c->d; j++) {
    const uint8_t *q = p + 4 * j;
    cen[j] = vec_u2f_pub((uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                         (uint32_t)q[3] << 24);
    if (!isfinite(cen[j])) {
      free(cen);
      return vec_fail(VEC_E_FORMAT, -1, "rabitq centre value %zu is NaN or Inf", j);
    }
  }
  int rc = set_centre(c, cen);
  free(cen);
  return rc;
}

const vec_codec_ops vec_ops_rabitq = {.id = VEC_CODEC_RABITQ,
                                      .name = "rabitq",
                                      .needs_training = 0,
                                      .own_center = 1,
                                      .can_center = 1,
                                      .code_size = rq_code_size,
                                      .scale_count = rq_scale_count,
                                      .encode = rq_encode,
                                      .decode = rq_decode,
                                      .check = rq_check,
                                      .init = rq_init,
                                      .train = rq_train,
                                      .free_state = rq_free_state,
                                      .state_size = rq_state_size,
                                      .state_write = rq_state_write,
                                      .state_read = rq_state_read,
                                      .bounded = 1,
                                      .query_size = rq_query_size,
                                      .query_prepare = rq_query_prepare,
                                      .score = rq_score,
                                      .sqnorms = rq_sqnorms};
