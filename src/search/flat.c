/* flat.c: the exhaustive top-k entry points over encoded rows and float32 rows, and the code
 * norms. Codes are decoded (or scored by a codec's hook) a tile at a time and every query of the
 * batch is scored against the tile while it sits in cache; each query keeps a bounded top-k, so
 * memory is O(nq * k) whatever n is. The order is total (score, then lower row first), which
 * makes the top k unique: merging the heaps of threads in any order gives the same answer, so
 * results do not depend on the thread count. Every score goes through the same dot-product routine
 * with a fixed summation order, so a row scores the same bits whichever tile, chunk or thread it
 * falls in. The scan and its driver are in scan.c, selection in topk.h, scoring in scorer.h and
 * dots.h, checks in check.c, rescoring in rescore.c and rescore_bound.c. */
#include "search_impl.h"

int vec_search_codes(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                     const float *row_sqnorms, const float *queries, size_t nq, size_t ldq,
                     size_t k, vec_metric metric, uint64_t *ids, float *scores,
                     const vec_batch_opts *opts) {
  vec_clear_error();
  return vec_search_codes_masked(codec, codes, scales, n, row_sqnorms, NULL, queries, nq, ldq, k,
                                 metric, ids, scores, opts);
}

int vec_search_codes_masked(const vec_codec *codec, const void *codes, const float *scales,
                            size_t n, const float *row_sqnorms, const uint64_t *allow,
                            const float *queries, size_t nq, size_t ldq, size_t k,
                            vec_metric metric, uint64_t *ids, float *scores,
                            const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_codes";
  int rc = vsearch_check_codes(fn, codec, codes, scales, n);
  if (rc) return rc;
  if ((rc = vsearch_check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores)))
    return rc;
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_codes(&s.sc, codec, codes, scales);
  s.n = n;
  s.row_sqnorms = row_sqnorms;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  s.allow = allow;
  return vsearch_run_search(fn, &s, ids, scores, opts);
}

int vec_search_f32(const float *x, size_t n, size_t ldx, size_t d, const float *queries, size_t nq,
                   size_t ldq, size_t k, vec_metric metric, uint64_t *ids, float *scores,
                   const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_f32";
  vec_clear_error();
  int rc = vsearch_check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc || (rc = vsearch_check_f32(fn, x, n, ldx, d))) return rc;
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_f32(&s.sc, x, ldx, d);
  s.n = n;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  return vsearch_run_search(fn, &s, ids, scores, opts);
}

int vec_codes_sqnorms(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                      float *out, const vec_batch_opts *opts) {
  static const char fn[] = "vec_codes_sqnorms";
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc || (rc = vsearch_check_codes(fn, codec, codes, scales, n))) return rc;
  if (n && !out) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL out with n = %zu", fn, n);
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_codes(&s.sc, codec, codes, scales);
  s.sq_out = out;
  size_t bad;
  rc = vec_parallel_rows(n, s.sc.cs + s.sc.d * sizeof(float), vsearch_sqnorm_rows, &s, &o, &bad);
  return rc ? vsearch_worker_fail(fn, rc) : VEC_OK;
}
