/* search_impl.h: what the flat search's files share: the search job (search_ctx), the keys of a
 * score under each metric, and the driver and checks (scan.c, check.c). */
#ifndef VEC_SEARCH_SEARCH_IMPL_H
#define VEC_SEARCH_SEARCH_IMPL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../engine/parallel.h"
#include "scorer.h"
#include "search.h"
#include "topk.h"

/* ---------------------------------------------------------------------------------------------
 * The search job shared by every chunk.
 * ------------------------------------------------------------------------------------------- */
#define QCACHE_BYTES ((size_t)256 << 10) /* prepared queries kept hot over a run of tiles */

typedef struct search_ctx {
  scorer sc;
  size_t n;
  const float *row_sqnorms; /* may be NULL */
  const float *queries;     /* float queries: checks, |q|, exact rescoring */
  size_t nq, ldq, k;
  vec_metric metric;
  const uint8_t *qs;  /* prepared queries */
  const float *qsq;   /* |q_j|^2 (of the scaled query) */
  const float *qnorm; /* |q_j| */
  const int *qexp;    /* query j was scaled by 2^-qexp[j] (NULL: every exponent is 0) */
  heap *heaps;        /* nq global heaps */
  int by_queries;     /* work split over blocks of queries, each scanning every row */
  /* Bound-driven rescoring (vec_search_rescore): exact float rows and their |x|^2. */
  int bound;
  float bound_scale; /* applied to every error bound */
  const float *x;
  size_t ldx;
  const float *x_sq;
  _Atomic uint64_t rescored;
  float *sq_out;         /* vec_codes_sqnorms' output */
  const uint64_t *allow; /* a bitmap of the rows that may be returned (vec_index), or NULL */
  pthread_mutex_t lock;
} search_ctx;

static inline int allowed(const search_ctx *s, size_t row) {
  return !s->allow || (s->allow[row >> 6] >> (row & 63) & 1u);
}

static inline float make_key(vec_metric metric, float qsq, float qnorm, float ip, float xsq) {
  switch (metric) {
  case VEC_METRIC_COSINE: {
    float den = qnorm * sqrtf(xsq);
    return den > 0.0f ? ip / den : 0.0f;
  }
  case VEC_METRIC_L2: {
    /* The expansion reuses the dot product; clamp the rounding noise of near-equal vectors. */
    float l2 = (qsq + xsq) - 2.0f * ip;
    return -(l2 > 0.0f ? l2 : 0.0f);
  }
  default: return ip;
  }
}

/* ---------------------------------------------------------------------------------------------
 * Extreme magnitudes. A query whose max|q| is outside [2^-20, 2^20] is scaled by a power of two
 * (exact) before anything else (vsearch_prepare_queries), and its scores scaled back at the end
 * (vsearch_unscale). IP and cosine rank the same for a positively scaled query; L2's key becomes
 * |q - x|^2 2^-2e. A row whose |x|^2 (or whose dot product) leaves float32's safe range is scored
 * again in double from its float values (key_double), so rows of 1e19 or 1e-22 neither overflow
 * nor underflow. Queries and rows of ordinary magnitudes take neither path: their scores are the
 * same bits as before.
 * ------------------------------------------------------------------------------------------- */
#define SAFE_SQ_LO 0x1p-100f /* below this, a float |x|^2 may have lost products to underflow */
#define SAFE_SQ_HI 0x1p100f  /* above this, |q|^2 + |x|^2 - 2 q.x may overflow */

static inline int qexp_of(const search_ctx *s, size_t j) { return s->qexp ? s->qexp[j] : 0; }

static inline int key_unsafe(vec_metric metric, float ip, float xsq) {
  return !isfinite(ip) || (metric != VEC_METRIC_IP && !(xsq >= SAFE_SQ_LO && xsq <= SAFE_SQ_HI));
}

/* make_key for query j, whose query was scaled by 2^-e: only L2 changes, to the key of the scaled
 * pair, |q'|^2 + |x|^2 2^-2e - 2 (q'.x) 2^-e, in double so that the scaling cannot overflow. */
static inline float make_key_e(vec_metric metric, float qsq, float qnorm, float ip, float xsq,
                               int e) {
  if (e == 0 || metric != VEC_METRIC_L2) return make_key(metric, qsq, qnorm, ip, xsq);
  double l2 = ((double)qsq + ldexp((double)xsq, -2 * e)) - 2.0 * ldexp((double)ip, -e);
  return (float)-(l2 > 0.0 ? l2 : 0.0);
}

/* The key of row x (d floats) for query j, in double from the floats themselves: no product or
 * sum of float32 values can overflow or underflow a double. ip and xsq are the float estimates; a
 * row that turns out to be all zeros keeps their key, as before. hooked: ip is a codec's own
 * estimate from its codes (x is then the decoded row), kept where it is finite and not tiny, so
 * that only the norm changes arithmetic. */
static inline float key_double(const search_ctx *s, size_t j, const float *x, size_t d, float ip,
                               float xsq, int hooked) {
  const float *q = s->queries + j * s->ldq;
  int e = qexp_of(s, j);
  double qx = 0.0, xx = 0.0, qq = 0.0, l2 = 0.0;
  for (size_t i = 0; i < d; i++) {
    qx += (double)q[i] * x[i];
    xx += (double)x[i] * x[i];
    qq += (double)q[i] * q[i];
    double diff = (double)q[i] - ldexp((double)x[i], -e);
    l2 += diff * diff;
  }
  if (xx == 0.0) return make_key_e(s->metric, s->qsq[j], s->qnorm[j], ip, xsq, e);
  if (hooked && isfinite(ip) && fabsf(ip) >= SAFE_SQ_LO) {
    qx = ip;
    l2 = qq + ldexp(xx, -2 * e) - 2.0 * ldexp(qx, -e);
    l2 = l2 > 0.0 ? l2 : 0.0;
  }
  switch (s->metric) {
  case VEC_METRIC_COSINE: return (float)(qx / (sqrt(qq) * sqrt(xx)));
  case VEC_METRIC_L2: return (float)-l2;
  default: return (float)qx;
  }
}

/* Scores of query j scaled back to the caller's scale: q.x 2^e for IP, |q - x|^2 2^2e for L2, in
 * float (exact, or Inf / 0 past float32's range). */
static inline void vsearch_unscale(const search_ctx *s, size_t j, float *scores, size_t k) {
  int e = qexp_of(s, j);
  if (e == 0 || s->metric == VEC_METRIC_COSINE) return;
  int by = s->metric == VEC_METRIC_L2 ? 2 * e : e;
  for (size_t i = 0; i < k; i++) scores[i] = ldexpf(scores[i], by);
}

/* The exact float key of row id for query j, with the arithmetic of vec_search_f32. */
static inline float exact_key(const search_ctx *s, vec_search_dots_fn dots, size_t j,
                              const float *row, size_t d) {
  const float *q = s->queries + j * s->ldq;
  float ip = dot1(dots, q, row, d);
  float xsq = s->metric == VEC_METRIC_IP ? 0.0f : dot1(dots, row, row, d);
  if (key_unsafe(s->metric, ip, xsq)) return key_double(s, j, row, d, ip, xsq, 0);
  return make_key_e(s->metric, s->qsq[j], s->qnorm[j], ip, xsq, qexp_of(s, j));
}

/* The best key row r could have for query j given estimate ip +- e: the bound of |q.x - ip| <= e
 * carried through the metric (L2's -2 q.x doubles it; cosine divides by the exact norms). A
 * relative slack covers the float rounding between the estimate's and the exact arithmetic. A row
 * of extreme magnitude gets +Inf: it is always scored exactly. */
static inline float optimistic_key(const search_ctx *s, size_t j, float ip, float e, float xsq) {
  if (key_unsafe(s->metric, ip, xsq) || !isfinite(e)) return INFINITY;
  float qn = s->qnorm[j], xn = sqrtf(xsq);
  e = e * s->bound_scale * 1.0001f + 1e-5f * qn * xn + 1e-30f;
  return make_key_e(s->metric, s->qsq[j], qn, ip + e, xsq, qexp_of(s, j));
}

/* keys[r] = make_key(...) for a tile, one loop per metric so that the compiler vectorizes it.
 * Rows of extreme magnitude are fixed afterwards by the caller (key_unsafe, key_double). */
static inline void tile_keys(vec_metric metric, float qsq, float qnorm, const float *ip,
                             const float *sq, size_t n, float *keys, int e) {
  if (e != 0) {
    for (size_t r = 0; r < n; r++) keys[r] = make_key_e(metric, qsq, qnorm, ip[r], sq[r], e);
  } else if (metric == VEC_METRIC_L2) {
    for (size_t r = 0; r < n; r++) {
      float l2 = (qsq + sq[r]) - 2.0f * ip[r];
      keys[r] = -(l2 > 0.0f ? l2 : 0.0f);
    }
  } else {
    for (size_t r = 0; r < n; r++) keys[r] = make_key(metric, qsq, qnorm, ip[r], sq[r]);
  }
}

/* scan.c: the driver shared by every entry point: prepares the queries, splits the rows (or the
 * query blocks) over threads, scans, merges and writes k slots per query. */
VEC_HIDDEN int vsearch_run_search(const char *fn, search_ctx *s, uint64_t *ids, float *scores,
                                  const vec_batch_opts *opts);
/* Workers for vec_parallel_rows: |x_i|^2 of encoded rows (into s->sq_out), and of float rows. */
VEC_HIDDEN int vsearch_sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row);
VEC_HIDDEN int vsearch_f32_sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row);
/* check.c: |q|^2 and |q| of every query, refusing NaN/Inf (and a zero COSINE query) by index;
 * the argument checks shared by the entry points. */
VEC_HIDDEN int vsearch_prepare_queries(search_ctx *s, const char *fn, float *qsq, float *qnorm,
                                       void **owned);
VEC_HIDDEN int vsearch_check_common(const char *fn, const float *queries, size_t nq, size_t ldq,
                                    size_t d, size_t k, vec_metric metric, const uint64_t *ids,
                                    const float *scores);
VEC_HIDDEN int vsearch_check_codes(const char *fn, const vec_codec *codec, const void *codes,
                                   const float *scales, size_t n);
VEC_HIDDEN int vsearch_check_f32(const char *fn, const float *x, size_t n, size_t ldx, size_t d);
VEC_HIDDEN int vsearch_worker_fail(const char *fn, int rc);
/* rescore_bound.c */
VEC_HIDDEN int vsearch_has_bounds(const vec_codec *c);

#endif
