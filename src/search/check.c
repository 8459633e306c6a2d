/* check.c: argument checks of the search entry points, and the query preparation they share
 * (|q|, NaN/Inf refused naming the query). */
#include "search_impl.h"

/* A query's scaling exponent: 0 (untouched, bit-identical scores) when max|q| is in
 * [2^-20, 2^20] or 0, else that of max|q|, capped at +-40 so that the scaled L2 keys of rows of
 * ordinary size (|x|^2 up to 2^40 x d) still fit a float against a scaled tiny query. */
static int query_exp(const float *q, size_t d) {
  float m = 0.0f;
  for (size_t i = 0; i < d; i++) m = fabsf(q[i]) > m ? fabsf(q[i]) : m;
  if (m == 0.0f || (m >= 0x1p-20f && m <= 0x1p20f)) return 0;
  int e = ilogbf(m);
  return e < -40 ? -40 : e > 40 ? 40 : e;
}

/* Checks queries (finite; non-zero for cosine), scales those of extreme magnitude (s->queries then
 * points to a scaled copy in *owned, which the caller frees, and s->qexp to the exponents) and
 * fills |q|^2 and |q| of the queries as scaled. */
int vsearch_prepare_queries(search_ctx *s, const char *fn, float *qsq, float *qnorm, void **owned) {
  size_t nq = s->nq, d = s->sc.d, ldq = s->ldq;
  const float *queries = s->queries;
  *owned = NULL;
  int any = 0;
  for (size_t j = 0; j < nq; j++) {
    const float *q = queries + j * ldq;
    for (size_t i = 0; i < d; i++)
      if (!isfinite(q[i]))
        return vec_fail(VEC_E_NONFINITE, (long long)j, "%s: query %zu holds NaN or Inf", fn, j);
    any |= query_exp(q, d) != 0;
  }
  if (any) {
    /* nq x d floats plus nq ints: the sizes were checked by vsearch_check_common. */
    float *copy = malloc(nq * d * sizeof(float) + nq * sizeof(int));
    if (!copy) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu scaled queries", fn, nq);
    int *ex = (int *)(void *)(copy + nq * d);
    for (size_t j = 0; j < nq; j++) {
      const float *q = queries + j * ldq;
      ex[j] = query_exp(q, d);
      for (size_t i = 0; i < d; i++) copy[j * d + i] = ldexpf(q[i], -ex[j]);
    }
    *owned = copy;
    s->queries = copy;
    s->ldq = d;
    s->qexp = ex;
  }
  for (size_t j = 0; j < nq; j++) {
    const float *q = s->queries + j * s->ldq;
    qsq[j] = dot1(s->sc.dots, q, q, d);
    qnorm[j] = sqrtf(qsq[j]);
    if (s->metric == VEC_METRIC_COSINE && !(qsq[j] > 0.0f))
      return vec_fail(VEC_E_INVALID_ARG, (long long)j,
                      "%s: query %zu has norm 0, which has no cosine", fn, j);
  }
  return VEC_OK;
}

int vsearch_check_common(const char *fn, const float *queries, size_t nq, size_t ldq, size_t d,
                         size_t k, vec_metric metric, const uint64_t *ids, const float *scores) {
  if (k == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: k must be >= 1", fn);
  if (d == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: d must be >= 1", fn);
  if (metric != VEC_METRIC_IP && metric != VEC_METRIC_COSINE && metric != VEC_METRIC_L2)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: unknown metric %d", fn, (int)metric);
  if (ldq < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldq (%zu) must be >= d (%zu)", fn, ldq, d);
  if (nq && (!queries || !ids || !scores))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL buffer with nq = %zu", fn, nq);
  size_t bytes;
  if (!vec_mul_ok(nq, k, &bytes) || !vec_mul_ok(bytes, sizeof(hent), &bytes) ||
      !vec_mul_ok(nq, ldq, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes) ||
      !vec_mul_ok(nq, d, &bytes) || !vec_mul_ok(bytes, 64, &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq (%zu) x k (%zu) or x ldq overflows", fn, nq, k);
  return VEC_OK;
}

int vsearch_check_codes(const char *fn, const vec_codec *codec, const void *codes,
                        const float *scales, size_t n) {
  if (!codec) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL codec", fn);
  if (!codec->trained)
    return vec_fail(VEC_E_NOT_TRAINED, -1, "%s: codec '%s' must be trained first", fn,
                    codec->ops->name);
  size_t cs = codec->ops->code_size(codec), sc = codec->ops->scale_count(codec), bytes;
  if (!vec_mul_ok(n, cs, &bytes) || !vec_mul_ok(n, sc + 1, &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) overflows", fn, n);
  if (n && (!codes || (sc && !scales)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL buffer with n = %zu", fn, n);
  /* Scales come from outside (a file, a user): refuse corrupt ones as vec_codec_decode does. */
  size_t bad = sc ? vec_codec_bad_scale(codec, scales, n) : 0;
  if (bad < n * sc)
    return vec_fail(VEC_E_INVALID_ARG, (long long)(bad / sc),
                    "%s: row %zu has scale %g: scales must be finite and >= 0", fn, bad / sc,
                    (double)scales[bad]);
  return VEC_OK;
}

int vsearch_worker_fail(const char *fn, int rc) {
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  return vec_fail(rc, -1, "%s: out of memory in a worker", fn);
}

int vsearch_check_f32(const char *fn, const float *x, size_t n, size_t ldx, size_t d) {
  if (ldx < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldx (%zu) must be >= d (%zu)", fn, ldx, d);
  size_t bytes;
  if (!vec_mul_ok(n, ldx, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) x ldx (%zu) overflows", fn, n, ldx);
  if (n && !x) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL x with n = %zu", fn, n);
  return VEC_OK;
}
