/* rescore_bound.c: search with exact rescoring against the originals, by error bound in the scan
 * where the codec gives bounds, else of k x oversample candidates. */
#include "search_impl.h"

/* ---------------------------------------------------------------------------------------------
 * Search with rescoring: by error bound where the codec gives one, else by oversampling.
 * ------------------------------------------------------------------------------------------- */
int vsearch_has_bounds(const vec_codec *c) {
  return c && c->ops->bounded && c->ops->score && c->ops->query_prepare && c->ops->query_size;
}

int vec_search_has_bounds(const vec_codec *codec) { return vsearch_has_bounds(codec); }

int vec_search_rescore(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                       const float *x, size_t ldx, const float *x_sqnorms, const float *queries,
                       size_t nq, size_t ldq, size_t k, vec_metric metric, double oversample,
                       double bound_scale, uint64_t *ids, float *scores, vec_search_stats *stats,
                       const vec_batch_opts *opts) {
  vec_clear_error();
  return vec_search_rescore_masked(codec, codes, scales, n, NULL, x, ldx, x_sqnorms, NULL, queries,
                                   nq, ldq, k, metric, oversample, bound_scale, ids, scores, stats,
                                   opts);
}

int vec_search_rescore_masked(const vec_codec *codec, const void *codes, const float *scales,
                              size_t n, const float *row_sqnorms, const float *x, size_t ldx,
                              const float *x_sqnorms, const uint64_t *allow, const float *queries,
                              size_t nq, size_t ldq, size_t k, vec_metric metric, double oversample,
                              double bound_scale, uint64_t *ids, float *scores,
                              vec_search_stats *stats, const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_rescore";
  if (stats) memset(stats, 0, sizeof *stats);
  int rc = vsearch_check_codes(fn, codec, codes, scales, n);
  if (rc || (rc = vsearch_check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores)) ||
      (rc = vsearch_check_f32(fn, x, n, ldx, codec->d)))
    return rc;
  if (!(oversample == 0.0 || (oversample >= 1.0 && oversample <= 1e6)))
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "%s: oversample must be 0 (by error bound) or in [1, 1e6], got %g", fn,
                    oversample);
  int by_bound = oversample == 0.0;
  if (by_bound && !(bound_scale > 0.0 && bound_scale <= 16.0))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: bound_scale must be in (0, 16], got %g", fn,
                    bound_scale);
  if (by_bound && !vsearch_has_bounds(codec))
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "%s: codec '%s' gives no error bounds: pass oversample >= 1", fn,
                    codec->ops->name);
  vec_batch_opts o;
  if ((rc = vec_batch_opts_resolve(opts, &o))) return rc;
  if (!by_bound) {
    /* Candidates from the codes, then exact rescoring of them. */
    double want = ceil((double)k * oversample);
    size_t m = want >= (double)n ? (n ? n : 1) : (size_t)want, bytes;
    if (m < k) m = k;
    if (!vec_mul_ok(nq, m, &bytes) || !vec_mul_ok(bytes, sizeof(uint64_t), &bytes))
      return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq (%zu) x k x oversample overflows", fn, nq);
    uint64_t *cand = malloc(bytes ? bytes : 1);
    float *cs = malloc(nq * m * sizeof(float) + 1);
    if (!cand || !cs) {
      free(cand);
      free(cs);
      return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu candidates", fn, nq * m);
    }
    rc = vec_search_codes_masked(codec, codes, scales, n, row_sqnorms, allow, queries, nq, ldq, m,
                                 metric, cand, cs, &o);
    if (!rc)
      rc = vec_rescore(x, n, ldx, codec->d, queries, nq, ldq, cand, m, k, metric, ids, scores, &o);
    free(cand);
    free(cs);
    if (!rc && stats) {
      stats->scanned = (uint64_t)n * nq;
      stats->rescored = (uint64_t)(n < m ? n : m) * nq;
    }
    return rc;
  }
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_codes(&s.sc, codec, codes, scales);
  s.n = n;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  s.bound = 1;
  s.allow = allow;
  s.bound_scale = (float)bound_scale;
  s.x = x;
  s.ldx = ldx;
  float *own_sq = NULL;
  if (metric != VEC_METRIC_IP) {
    if (x_sqnorms) {
      s.x_sq = x_sqnorms;
    } else {
      /* The bounds need the originals' exact norms: one pass over x when not given. */
      if (!(own_sq = malloc((n ? n : 1) * sizeof(float))))
        return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu norms", fn, n);
      s.sq_out = own_sq;
      size_t bad;
      vec_batch_opts quiet = o;
      quiet.progress = NULL;
      if ((rc = vec_parallel_rows(n, codec->d * sizeof(float), vsearch_f32_sqnorm_rows, &s, &quiet,
                                  &bad))) {
        free(own_sq);
        return vsearch_worker_fail(fn, rc);
      }
      s.x_sq = own_sq;
    }
  }
  rc = vsearch_run_search(fn, &s, ids, scores, &o);
  free(own_sq);
  if (!rc && stats) {
    stats->scanned = (uint64_t)n * nq;
    stats->rescored = atomic_load(&s.rescored);
  }
  return rc;
}
