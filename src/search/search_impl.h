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
  const float *qsq;   /* |q_j|^2 */
  const float *qnorm; /* |q_j| */
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

/* The exact float key of row id for query j, with the arithmetic of vec_search_f32. */
static inline float exact_key(const search_ctx *s, vec_dots_fn dots, size_t j, const float *row,
                              size_t d) {
  const float *q = s->queries + j * s->ldq;
  float ip = dot1(dots, q, row, d);
  float xsq = s->metric == VEC_METRIC_IP ? 0.0f : dot1(dots, row, row, d);
  return make_key(s->metric, s->qsq[j], s->qnorm[j], ip, xsq);
}

/* The best key row r could have for query j given estimate ip +- e: the bound of |q.x - ip| <= e
 * carried through the metric (L2's -2 q.x doubles it; cosine divides by the exact norms). A
 * relative slack covers the float rounding between the estimate's and the exact arithmetic. */
static inline float optimistic_key(const search_ctx *s, size_t j, float ip, float e, float xsq) {
  float qn = s->qnorm[j], xn = sqrtf(xsq);
  e = e * s->bound_scale * 1.0001f + 1e-5f * qn * xn + 1e-30f;
  return make_key(s->metric, s->qsq[j], qn, ip + e, xsq);
}

/* keys[r] = make_key(...) for a tile, one loop per metric so that the compiler vectorizes it. */
static inline void tile_keys(vec_metric metric, float qsq, float qnorm, const float *ip,
                             const float *sq, size_t n, float *keys) {
  if (metric == VEC_METRIC_L2) {
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
VEC_HIDDEN int vsearch_prepare_queries(vec_dots_fn dots, const char *fn, const float *queries,
                                       size_t nq, size_t ldq, size_t d, vec_metric metric,
                                       float *qsq, float *qnorm);
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
