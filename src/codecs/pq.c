/* pq.c: product quantization: d split into m subspaces of d/m dims, each coded by the index of its
 * nearest of 2^bits k-means centroids (bits 8: one byte per subspace; bits 4: two per byte, the
 * even subspace in the low nibble). Searched by asymmetric look-up tables: float for 8-bit codes,
 * and for 4-bit codes a uint8-quantized table scanned with byte shuffles (fast-scan, pq_*.c).
 *
 * Codes stay one row per record (the .vqz file and the index address rows one by one); the score
 * hook transposes 32 rows at a time into the fast-scan layout and scores every query of the call
 * on that block, so the transpose is paid once per block, not once per query.
 *
 * rotate: rows are first multiplied by the seeded orthogonal rotation R of rotation.h (spreading
 * variance evenly over the subspaces), codes describe R x, decode returns R^T of the centroids,
 * and a query's tables are built from R q (q . R^T c = R q . c). The rotation is regenerated from
 * the seed, never stored. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../kernels/kernels.h"
#include "codec_impl.h"
#include "rotation.h"

#define PQ_MAX_M4 512 /* 4-bit: 256 byte pairs of at most 254 keep the fast-scan sums in uint16 */

typedef struct {
  size_t m, ksub, dsub, kp;
  float *cb;         /* m * ksub * dsub: centroid c of subspace s at cb + (s * ksub + c) * dsub */
  float *ct;         /* per subspace dsub * kp, transposed for the assignment kernels */
  float *cn;         /* per subspace kp squared norms, +Inf in the pad */
  vec_rotation *rot; /* rotate only */
} pq_state;

#define ST(c) ((pq_state *)(c)->state)

static size_t pq_code_size(const vec_codec *c) {
  return c->p.bits == 8 ? c->p.m : ((size_t)c->p.m + 1) / 2;
}
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

static int pq_check(const vec_codec_params *p) {
  if (p->m == 0 || p->dim % p->m != 0)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "pq: m (%u subspaces) must be >= 1 and divide the dimension %zu", p->m, p->dim);
  if (p->bits != 4 && p->bits != 8)
    return vec_fail(VEC_E_INVALID_ARG, -1, "pq: bits must be 4 or 8, got %u", p->bits);
  if (p->bits == 4 && p->m > PQ_MAX_M4)
    return vec_fail(VEC_E_INVALID_ARG, -1, "pq: 4-bit codes allow at most %d subspaces, got %u",
                    PQ_MAX_M4, p->m);
  if (p->rotate != 0 && p->rotate != 1)
    return vec_fail(VEC_E_INVALID_ARG, -1, "pq: rotate must be 0 or 1, got %d", p->rotate);
  return VEC_OK;
}

static void pq_free(vec_codec *c) {
  pq_state *s = ST(c);
  if (!s) return;
  vec_rotation_free(s->rot);
  free(s->cb), free(s->ct), free(s->cn), free(s);
  c->state = NULL;
}

static int pq_init(vec_codec *c) {
  pq_state *s = calloc(1, sizeof *s);
  if (!s) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  c->state = s;
  s->m = c->p.m;
  s->ksub = (size_t)1 << c->p.bits;
  s->dsub = c->d / s->m;
  s->kp = vec_kmeans_kpad(s->ksub);
  s->cb = malloc(s->m * s->ksub * s->dsub * sizeof(float));
  s->ct = malloc(s->m * s->dsub * s->kp * sizeof(float));
  s->cn = malloc(s->m * s->kp * sizeof(float));
  if (!s->cb || !s->ct || !s->cn) {
    pq_free(c);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  if (c->p.rotate) {
    int rc = vec_rotation_create(c->d, c->p.seed, &s->rot);
    if (rc) {
      pq_free(c);
      return rc;
    }
  }
  return VEC_OK;
}

/* The kernels' transposed codebooks and norms, from cb. Returns 0 when a centroid's squared norm
 * overflows float32 (its distances could not be compared). */
static int derive(pq_state *s) {
  int ok = 1;
  for (size_t q = 0; q < s->m; q++) {
    float *ct = s->ct + q * s->dsub * s->kp, *cn = s->cn + q * s->kp;
    memset(ct, 0, s->dsub * s->kp * sizeof(float));
    for (size_t c = 0; c < s->kp; c++) cn[c] = INFINITY;
    for (size_t c = 0; c < s->ksub; c++) {
      const float *v = s->cb + (q * s->ksub + c) * s->dsub;
      float nn = 0.0f;
      for (size_t j = 0; j < s->dsub; j++) ct[j * s->kp + c] = v[j], nn += v[j] * v[j];
      cn[c] = nn;
      ok &= isfinite(nn) != 0;
    }
  }
  return ok;
}

static int pq_train(vec_codec *c, const float *x, size_t n, size_t ldx, const vec_batch_opts *o) {
  pq_state *s = ST(c);
  if (n < s->ksub)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "pq training needs at least 2^bits = %zu vectors (got %zu): fewer vectors "
                    "than centroids",
                    s->ksub, n);
  /* Encoding and search compare |c|^2 - 2 x.c in float32 against the fixed codebooks: for rows
   * whose every value is below 2^-40 these underflow and every centroid ties (rows of 1e-22 got
   * near-random codes). Refused, as rows too large for those distances are (vec_kmeans). */
  float maxabs = 0.0f;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < c->d; j++) {
      float v = fabsf(x[i * ldx + j]);
      maxabs = v > maxabs ? v : maxabs;
    }
  if (maxabs > 0.0f && maxabs < 0x1p-40f)
    return vec_fail(VEC_E_RANGE, -1,
                    "pq cannot train on rows whose largest value is %g (below 2^-40 = %g): its "
                    "float32 distances underflow; scale the rows (e.g. normalise them)",
                    (double)maxabs, 0x1p-40);
  vec_kmeans_params kp = VEC_KMEANS_PARAMS_INIT;
  kp.iters = c->p.train_iters ? c->p.train_iters : 25;
  kp.max_points = c->p.train_max ? c->p.train_max : 256 * s->ksub;
  if (kp.max_points < s->ksub) kp.max_points = s->ksub;
  float *rx = NULL;
  if (s->rot) {
    /* Rotate only the rows k-means would sample anyway (every k-th row, in order, up to the cap:
     * the subspaces then all train on the same rotated rows). */
    size_t nt = n < kp.max_points ? n : kp.max_points, step = n / nt;
    rx = malloc(nt * c->d * sizeof(float));
    if (!rx) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
    for (size_t i = 0; i < nt; i++) vec_rotation_apply(s->rot, x + i * step * ldx, rx + i * c->d);
    x = rx, n = nt, ldx = c->d;
  }
  for (size_t q = 0; q < s->m; q++) {
    /* The same seed for every subspace: each trains on the same sampled rows, as FAISS's PQ. */
    kp.seed = c->p.seed;
    int rc = vec_kmeans(x + q * s->dsub, n, s->dsub, ldx, s->ksub, &kp,
                        s->cb + q * s->ksub * s->dsub, NULL, NULL, o);
    if (rc) {
      free(rx);
      return rc;
    }
  }
  free(rx);
  if (!derive(s)) /* vec_kmeans bounds its input, so this is a last line of defence */
    return vec_fail(VEC_E_RANGE, -1, "pq codebooks too large for float32 distances");
  c->trained = 1;
  return VEC_OK;
}

#define ENC_ROWS 256

static size_t pq_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  (void)scales, (void)flags;
  const pq_state *s = ST(c);
  size_t cs = pq_code_size(c);
  vec_kmeans_assign_fn fn = vec_kernels_get()->kmeans.assign;
  uint32_t best[ENC_ROWS];
  float val[ENC_ROWS], *rx = NULL;
  size_t rows = ENC_ROWS;
  if (s->rot) { /* rotated rows go through a buffer of about 256 KiB */
    rows = ((size_t)65536 / c->d) ? (size_t)65536 / c->d : 1;
    rows = rows < ENC_ROWS ? rows : ENC_ROWS;
    rx = malloc(rows * c->d * sizeof(float));
    if (!rx) {
      *rc = VEC_E_NOMEM;
      return 0;
    }
  }
  for (size_t i0 = 0; i0 < n; i0 += rows) {
    size_t nb = n - i0 < rows ? n - i0 : rows;
    for (size_t i = i0; i < i0 + nb; i++)
      for (size_t j = 0; j < c->d; j++)
        if (!isfinite(x[i * ldx + j])) {
          free(rx);
          *rc = VEC_E_NONFINITE;
          return i;
        }
    const float *src = x + i0 * ldx;
    size_t lds = ldx;
    if (rx) {
      for (size_t i = 0; i < nb; i++) vec_rotation_apply(s->rot, x + (i0 + i) * ldx, rx + i * c->d);
      src = rx, lds = c->d;
    }
    if (c->p.bits == 4) memset(codes + i0 * cs, 0, nb * cs);
    size_t bad = nb;
    for (size_t q = 0; q < s->m; q++) {
      fn(src + q * s->dsub, nb, lds, s->dsub, s->ct + q * s->dsub * s->kp, s->cn + q * s->kp,
         s->ksub, best, val);
      /* A row so large that x.c overflows has no nearest centroid: an error, not code 0. */
      for (size_t i = 0; i < bad; i++)
        if (!isfinite(val[i])) bad = i;
      uint8_t *out = codes + i0 * cs;
      if (c->p.bits == 8) {
        for (size_t i = 0; i < nb; i++) out[i * cs + q] = (uint8_t)best[i];
      } else {
        unsigned sh = (unsigned)(q & 1) * 4;
        for (size_t i = 0; i < nb; i++) out[i * cs + q / 2] |= (uint8_t)(best[i] << sh);
      }
    }
    if (bad < nb) {
      free(rx);
      *rc = VEC_E_RANGE;
      return i0 + bad;
    }
  }
  free(rx);
  return n;
}

static inline size_t code_at(const vec_codec *c, const uint8_t *row, size_t q) {
  return c->p.bits == 8 ? row[q] : (size_t)((row[q / 2] >> ((q & 1) * 4)) & 15);
}

static void pq_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)scales, (void)flags;
  const pq_state *s = ST(c);
  size_t cs = pq_code_size(c);
  for (size_t i = 0; i < n; i++)
    for (size_t q = 0; q < s->m; q++)
      memcpy(out + i * ldo + q * s->dsub,
             s->cb + (q * s->ksub + code_at(c, codes + i * cs, q)) * s->dsub,
             s->dsub * sizeof(float));
  if (s->rot)
    for (size_t i = 0; i < n; i++) vec_rotation_apply_inverse(s->rot, out + i * ldo, out + i * ldo);
}

static void pq_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out) {
  (void)scales;
  const pq_state *s = ST(c);
  size_t cs = pq_code_size(c);
  for (size_t i = 0; i < n; i++) {
    float t = 0.0f;
    for (size_t q = 0; q < s->m; q++) t += s->cn[q * s->kp + code_at(c, codes + i * cs, q)];
    out[i] = t;
  }
}

/* ---- Search: look-up tables ----
 * 8-bit: m * 256 floats, T[q][c] = q_sub . centroid. 4-bit: a 16-byte header (float delta, float
 * bias) and, per code byte, 32 uint8 entries: u = round((T - min_q) / delta), one delta for all
 * subspaces so that sums compare across them; estimate = bias + delta * sum u, bias = sum of min_q.
 * Each entry is off by at most delta / 2, so the estimate is within m * delta / 2 of the float
 * table's (plus float rounding). */
static size_t pq_query_size(const vec_codec *c) {
  const pq_state *s = ST(c);
  size_t scratch = s->rot ? c->d * sizeof(float) : 0; /* R q, with rotate */
  return (c->p.bits == 8 ? s->m * 256 * sizeof(float) : 16 + pq_code_size(c) * 32) + scratch;
}

/* t[q * ksub + c] = (query subspace q) . (centroid c of q), from the transposed codebook so that
 * the loop over centroids vectorizes; each entry still sums its dsub products in order. */
static void table(const pq_state *s, const float *qv, float *t) {
  for (size_t q = 0; q < s->m; q++) {
    const float *ct = s->ct + q * s->dsub * s->kp, *u = qv + q * s->dsub;
    /* 16 centroids at a time in a local accumulator: the compiler keeps it in registers, where
     * sums into t itself would go through memory (t might alias the codebook). */
    for (size_t c0 = 0; c0 < s->ksub; c0 += 16) {
      float acc[16] = {0};
      for (size_t j = 0; j < s->dsub; j++) {
        const float uj = u[j], *v = ct + j * s->kp + c0;
        for (size_t c = 0; c < 16; c++) acc[c] += uj * v[c];
      }
      memcpy(t + q * s->ksub + c0, acc, sizeof acc);
    }
  }
}

/* The 4-bit table's per-subspace steps, 16 entries each. SSE2 is in every x86-64, so these need no
 * dispatch; elsewhere the loops are plain C. Both give the same bytes: min and max are exact, and
 * the rounding is the same arithmetic in the same order (no FMA). */
static inline void min_max16(const float *t, float *lo, float *hi) {
#if defined(__SSE2__)
  __m128 a = _mm_loadu_ps(t), b = _mm_loadu_ps(t + 4), c = _mm_loadu_ps(t + 8),
         d = _mm_loadu_ps(t + 12);
  __m128 mn = _mm_min_ps(_mm_min_ps(a, b), _mm_min_ps(c, d));
  __m128 mx = _mm_max_ps(_mm_max_ps(a, b), _mm_max_ps(c, d));
  mn = _mm_min_ps(mn, _mm_shuffle_ps(mn, mn, _MM_SHUFFLE(1, 0, 3, 2)));
  mn = _mm_min_ps(mn, _mm_shuffle_ps(mn, mn, _MM_SHUFFLE(2, 3, 0, 1)));
  mx = _mm_max_ps(mx, _mm_shuffle_ps(mx, mx, _MM_SHUFFLE(1, 0, 3, 2)));
  mx = _mm_max_ps(mx, _mm_shuffle_ps(mx, mx, _MM_SHUFFLE(2, 3, 0, 1)));
  *lo = _mm_cvtss_f32(mn);
  *hi = _mm_cvtss_f32(mx);
#else
  float l = t[0], h = t[0];
  for (size_t k = 1; k < 16; k++) {
    l = t[k] < l ? t[k] : l;
    h = t[k] > h ? t[k] : h;
  }
  *lo = l;
  *hi = h;
#endif
}

/* out[k] = clamp((t[k] - mn) * inv + 0.5, 0, top) truncated: rounds half up, so each entry is
 * within delta / 2 of the table's (v >= 0 here, and a plain cast beats a libm call per entry). */
static inline void quantize16(const float *t, float mn, float inv, float top, uint8_t *out) {
#if defined(__SSE2__)
  __m128 m = _mm_set1_ps(mn), iv = _mm_set1_ps(inv), h = _mm_set1_ps(0.5f), z = _mm_setzero_ps(),
         tp = _mm_set1_ps(top);
  __m128i w[4];
  for (int i = 0; i < 4; i++) {
    __m128 u = _mm_add_ps(_mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(t + 4 * i), m), iv), h);
    w[i] = _mm_cvttps_epi32(_mm_min_ps(_mm_max_ps(u, z), tp));
  }
  __m128i p = _mm_packus_epi16(_mm_packs_epi32(w[0], w[1]), _mm_packs_epi32(w[2], w[3]));
  _mm_storeu_si128((__m128i *)(void *)out, p);
#else
  for (size_t k = 0; k < 16; k++) {
    float u = (t[k] - mn) * inv + 0.5f;
    u = u < 0.0f ? 0.0f : (u > top ? top : u);
    out[k] = (uint8_t)(int)u;
  }
#endif
}

static void pq_query_prepare(const vec_codec *c, const float *qv, void *qs) {
  const pq_state *s = ST(c);
  if (s->rot) { /* the scratch at the end of qs: aligned for floats (sizes are multiples of 4) */
    float *rq = (float *)((uint8_t *)qs + pq_query_size(c) - c->d * sizeof(float));
    vec_rotation_apply(s->rot, qv, rq);
    qv = rq;
  }
  if (c->p.bits == 8) {
    table(s, qv, qs);
    return;
  }
  float t[PQ_MAX_M4 * 16], mn[PQ_MAX_M4];
  table(s, qv, t);
  /* One step delta for every subspace, chosen so that a pair's two entries (the subspaces sharing
   * a code byte) sum to at most 254: the kernels add the pair's look-ups as bytes before widening
   * (two fewer vector ops per code byte and query on AVX2: 8 -> 6). The ranges are rounded
   * twice, each entry by at most one half, so 253 steps for the widest pair leave a step of
   * margin. Entries are then within delta / 2, delta about half of what a per-entry 255
   * would give: recall@10 moved by at most 0.002, either way, at m = 48 to 192 (sample, synthetic).
   * ceil(m / 2) <= 256 pairs keep the uint16 sums exact. */
  float pair = 0.0f, bias = 0.0f, prev = 0.0f;
  for (size_t q = 0; q < s->m; q++) {
    float lo, hi;
    min_max16(t + q * 16, &lo, &hi);
    mn[q] = lo;
    bias += lo;
    if (q & 1) {
      pair = prev + (hi - lo) > pair ? prev + (hi - lo) : pair;
    } else {
      prev = hi - lo;
      pair = prev > pair ? prev : pair; /* an odd m's last subspace pairs with a zero table */
    }
  }
  float delta = pair > 0.0f ? pair / 253.0f : 1.0f;
  float inv = 1.0f / delta;
  uint8_t *lut = (uint8_t *)qs + 16;
  size_t cs = pq_code_size(c);
  memset(lut, 0, cs * 32); /* the pad subspace of an odd m looks up 0 */
  for (size_t q = 0; q < s->m; q++)
    quantize16(t + q * 16, mn[q], inv, 255.0f, lut + (q / 2) * 32 + (q & 1) * 16);
  memcpy(qs, &delta, 4);
  memcpy((uint8_t *)qs + 4, &bias, 4);
  memset((uint8_t *)qs + 8, 0, 8);
}

/* nb <= 32 rows of cs code bytes into the fast-scan block (pq_kernels.h), rows past nb zero. Full
 * blocks with cs >= 16 go through the SIMD transpose (16 x 16 byte tiles: ~4x cheaper than this
 * byte loop, which matters when a single query scans a block). */
static void transpose_block(vec_pq_pack4_fn pack, const uint8_t *codes, size_t cs, size_t nb,
                            uint8_t *blk) {
  if (nb == VEC_PQ4_BLOCK && cs >= 16) {
    pack(codes, cs, blk);
    return;
  }
  if (nb < VEC_PQ4_BLOCK) memset(blk, 0, cs * VEC_PQ4_BLOCK);
  for (size_t r = 0; r < nb; r++)
    for (size_t b = 0; b < cs; b++) blk[b * VEC_PQ4_BLOCK + r] = codes[r * cs + b];
}

static void pq_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                     const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)scales;
  const pq_state *s = ST(c);
  size_t cs = pq_code_size(c), qsz = VEC_QSTRIDE(c);
  if (c->p.bits == 8) {
    /* Four rows at a time, each summing its even and its odd subspaces in two chains (eight
     * independent adds in flight; every row, in a block or alone, adds in the same order, so
     * its bits do not depend on its neighbours). Query by query, so that one table stays in
     * cache over the call's rows. */
    size_t m2 = s->m & ~(size_t)1;
    for (size_t j = 0; j < nq; j++) {
      const float *tq = (const float *)((const uint8_t *)qs + j * qsz);
      float *o = ip + j * ldo;
      size_t r = 0;
      for (; r + 4 <= nr; r += 4) {
        const uint8_t *r0 = codes + r * cs, *r1 = r0 + cs, *r2 = r1 + cs, *r3 = r2 + cs;
        const float *t = tq;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f, b0 = 0.0f, b1 = 0.0f, b2 = 0.0f,
              b3 = 0.0f;
        for (size_t q = 0; q < m2; q += 2, t += 512) {
          a0 += t[r0[q]], b0 += t[256 + r0[q + 1]];
          a1 += t[r1[q]], b1 += t[256 + r1[q + 1]];
          a2 += t[r2[q]], b2 += t[256 + r2[q + 1]];
          a3 += t[r3[q]], b3 += t[256 + r3[q + 1]];
        }
        if (m2 < s->m) a0 += t[r0[m2]], a1 += t[r1[m2]], a2 += t[r2[m2]], a3 += t[r3[m2]];
        o[r] = a0 + b0, o[r + 1] = a1 + b1, o[r + 2] = a2 + b2, o[r + 3] = a3 + b3;
      }
      for (; r < nr; r++) {
        const uint8_t *row = codes + r * cs;
        const float *t = tq;
        float a = 0.0f, b = 0.0f;
        for (size_t q = 0; q < m2; q += 2, t += 512) a += t[row[q]], b += t[256 + row[q + 1]];
        if (m2 < s->m) a += t[row[m2]];
        o[r] = a + b;
      }
    }
    if (err)
      for (size_t j = 0; j < nq; j++)
        for (size_t i = 0; i < nr; i++) err[j * ldo + i] = 0.0f;
    return;
  }
  vec_pq_scanq4_fn scan = vec_kernels_get()->pq.scanq;
  vec_pq_pack4_fn pack = vec_kernels_get()->pq.pack;
  uint8_t blk[(PQ_MAX_M4 / 2) * VEC_PQ4_BLOCK];
  float tail[VEC_PQ4_QB * VEC_PQ4_BLOCK];
  for (size_t r0 = 0; r0 < nr; r0 += VEC_PQ4_BLOCK) {
    size_t nb = nr - r0 < VEC_PQ4_BLOCK ? nr - r0 : VEC_PQ4_BLOCK;
    transpose_block(pack, codes + r0 * cs, cs, nb, blk);
    for (size_t j0 = 0; j0 < nq; j0 += VEC_PQ4_QB) {
      size_t qn = nq - j0 < VEC_PQ4_QB ? nq - j0 : VEC_PQ4_QB;
      float bias[VEC_PQ4_QB], delta[VEC_PQ4_QB];
      for (size_t i = 0; i < qn; i++) {
        const uint8_t *qp = (const uint8_t *)qs + (j0 + i) * qsz;
        memcpy(&delta[i], qp, 4);
        memcpy(&bias[i], qp + 4, 4);
      }
      const uint8_t *lut = (const uint8_t *)qs + j0 * qsz + 16;
      if (nb == VEC_PQ4_BLOCK) {
        scan(blk, cs, lut, qsz, bias, delta, qn, ip + j0 * ldo + r0, ldo);
      } else {
        scan(blk, cs, lut, qsz, bias, delta, qn, tail, VEC_PQ4_BLOCK);
        for (size_t i = 0; i < qn; i++)
          memcpy(ip + (j0 + i) * ldo + r0, tail + i * VEC_PQ4_BLOCK, nb * sizeof(float));
      }
      if (err)
        for (size_t i = 0; i < qn; i++)
          for (size_t r = 0; r < nb; r++)
            err[(j0 + i) * ldo + r0 + r] = 0.5f * delta[i] * (float)s->m;
    }
  }
}

/* ---- State: u32 m, u32 ksub, u32 dsub, u32 0, then the m * ksub * dsub float32 centroids. ---- */
static size_t pq_state_size(const vec_codec *c) {
  const pq_state *s = ST(c);
  return 16 + 4 * s->m * s->ksub * s->dsub;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void pq_state_write(const vec_codec *c, uint8_t *p) {
  const pq_state *s = ST(c);
  put32(p, (uint32_t)s->m), put32(p + 4, (uint32_t)s->ksub), put32(p + 8, (uint32_t)s->dsub);
  put32(p + 12, 0);
  size_t nf = s->m * s->ksub * s->dsub;
  for (size_t i = 0; i < nf; i++) put32(p + 16 + 4 * i, vec_f2u_pub(s->cb[i]));
}

static int pq_state_read(vec_codec *c, const uint8_t *p, size_t size) {
  pq_state *s = ST(c);
  if (size != pq_state_size(c))
    return vec_fail(VEC_E_FORMAT, -1, "pq codebooks of %zu bytes, expected %zu for d %zu, m %zu",
                    size, pq_state_size(c), c->d, s->m);
  if (get32(p) != s->m || get32(p + 4) != s->ksub || get32(p + 8) != s->dsub || get32(p + 12))
    return vec_fail(VEC_E_FORMAT, -1,
                    "pq codebooks are for m %u, %u centroids, %u dims: the codec has m %zu, %zu, "
                    "%zu",
                    get32(p), get32(p + 4), get32(p + 8), s->m, s->ksub, s->dsub);
  size_t nf = s->m * s->ksub * s->dsub;
  for (size_t i = 0; i < nf; i++) {
    float v = vec_u2f_pub(get32(p + 16 + 4 * i));
    if (!isfinite(v)) return vec_fail(VEC_E_FORMAT, -1, "pq codebook value %zu is NaN or Inf", i);
    s->cb[i] = v;
  }
  if (!derive(s))
    return vec_fail(VEC_E_FORMAT, -1, "pq codebooks hold a centroid whose squared norm overflows");
  return VEC_OK;
}

/* 4-bit: each 32-row block is transposed once per call, so a call takes 32 queries (25 KB of
 * tables at m = 48) instead of the search's 8: the transpose goes from ~10 % of a 100-query
 * search to ~3 %. 8-bit tables (m x 1 KB each) go query by query anyway. */
static size_t pq_score_queries(const vec_codec *c) { return c->p.bits == 4 ? 32 : 0; }

const vec_codec_ops vec_ops_pq = {.id = VEC_CODEC_PQ,
                                  .name = "pq",
                                  .needs_training = 1,
                                  .can_center = 1,
                                  .code_size = pq_code_size,
                                  .scale_count = no_scales,
                                  .encode = pq_encode,
                                  .decode = pq_decode,
                                  .check = pq_check,
                                  .init = pq_init,
                                  .train = pq_train,
                                  .free_state = pq_free,
                                  .state_size = pq_state_size,
                                  .state_write = pq_state_write,
                                  .state_read = pq_state_read,
                                  .query_size = pq_query_size,
                                  .query_prepare = pq_query_prepare,
                                  .score = pq_score,
                                  .score_queries = pq_score_queries,
                                  .sqnorms = pq_sqnorms};
