/* kmeans.c: Lloyd's k-means on a seeded sample: random or k-means++ starts, SIMD assignment
 * threaded over rows, centroid sums in double in row order (thread-count independent), and
 * FAISS-style repair of empty clusters. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/parallel.h"
#include "../kernels/kernels.h"

#define SPLIT_EPS (1.0f / 1024.0f)

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n) (n < 2^64; the modulo bias is below 2^-40 for the sizes used here). */
static size_t rng_below(uint64_t *s, size_t n) { return (size_t)(rng_next(s) % (uint64_t)n); }

static double rng_unit(uint64_t *s) { return (double)(rng_next(s) >> 11) * 0x1p-53; }

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return (x > y) - (x < y);
}

typedef struct {
  vec_kmeans_assign_fn fn;
  const float *x;
  size_t ldx, d, k;
  const float *ct, *cn;
  uint32_t *best;
  float *val;
} assign_ctx;

static int assign_rows(void *p, size_t begin, size_t end, size_t *bad_row) {
  assign_ctx *a = p;
  (void)bad_row;
  a->fn(a->x + begin * a->ldx, end - begin, a->ldx, a->d, a->ct, a->cn, a->k, a->best + begin,
        a->val + begin);
  return VEC_OK;
}

/* Transposes the centroids for the kernels: ct[j * kp + c], pad columns 0, pad norms +Inf (never
 * nearest). */
static void prepare_centroids(const float *cen, size_t k, size_t d, float *ct, float *cn) {
  size_t kp = vec_kmeans_kpad(k);
  memset(ct, 0, d * kp * sizeof(float));
  for (size_t c = 0; c < kp; c++) cn[c] = INFINITY;
  for (size_t c = 0; c < k; c++) {
    float s = 0.0f;
    for (size_t j = 0; j < d; j++) {
      float v = cen[c * d + j];
      ct[j * kp + c] = v;
      s += v * v;
    }
    cn[c] = s;
  }
}

static int run_assign(const float *x, size_t n, size_t ldx, size_t d, const float *cen, size_t k,
                      float *ct, float *cn, uint32_t *best, float *val, const vec_batch_opts *o) {
  prepare_centroids(cen, k, d, ct, cn);
  assign_ctx a = {vec_kernels_get()->kmeans.assign, x, ldx, d, k, ct, cn, best, val};
  size_t bad;
  size_t cost = k * d * 2 > 64 ? k * d * 2 : 64;
  return vec_parallel_rows(n, cost, assign_rows, &a, o, &bad);
}

static double sqdist(const float *a, const float *b, size_t d) {
  double s = 0.0;
  for (size_t j = 0; j < d; j++) {
    double t = (double)a[j] - (double)b[j];
    s += t * t;
  }
  return s;
}

static void init_plusplus(const float *xs, size_t nt, size_t ld, size_t d, size_t k, uint64_t *rng,
                          float *cen, double *mind) {
  size_t first = rng_below(rng, nt);
  memcpy(cen, xs + first * ld, d * sizeof(float));
  for (size_t i = 0; i < nt; i++) mind[i] = sqdist(xs + i * ld, cen, d);
  for (size_t c = 1; c < k; c++) {
    double total = 0.0;
    for (size_t i = 0; i < nt; i++) total += mind[i];
    size_t pick = nt - 1;
    if (total > 0.0) {
      double r = rng_unit(rng) * total, acc = 0.0;
      for (size_t i = 0; i < nt; i++) {
        acc += mind[i];
        if (acc > r) {
          pick = i;
          break;
        }
      }
    } else {
      pick = rng_below(rng, nt);
    }
    float *cc = cen + c * d;
    memcpy(cc, xs + pick * ld, d * sizeof(float));
    for (size_t i = 0; i < nt; i++) {
      double t = sqdist(xs + i * ld, cc, d);
      if (t < mind[i]) mind[i] = t;
    }
  }
}

int vec_kmeans(const float *x, size_t n, size_t d, size_t ldx, size_t k,
               const vec_kmeans_params *params, float *centroids, uint32_t *assign,
               vec_kmeans_stats *stats, const vec_batch_opts *opts) {
  vec_clear_error();
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  if (params) {
    if (params->struct_size < sizeof(vec_kmeans_params))
      return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans_params.struct_size is %zu, expected %zu",
                      params->struct_size, sizeof(vec_kmeans_params));
    p = *params;
  }
  if (stats && stats->struct_size < sizeof(vec_kmeans_stats))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans_stats.struct_size is %zu, expected %zu",
                    stats->struct_size, sizeof(vec_kmeans_stats));
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  if (!centroids || (n && !x)) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: NULL argument");
  if (d == 0 || ldx < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: need d >= 1 and ldx >= d (d %zu, ldx %zu)",
                    d, ldx);
  if (k == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: k must be >= 1");
  if (k > UINT32_MAX) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: k above 2^32 - 1");
  if (n < k)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "k-means needs at least as many training vectors as centroids (%zu < k = %zu)",
                    n, k);
  if (p.init != VEC_KMEANS_INIT_RANDOM && p.init != VEC_KMEANS_INIT_PLUSPLUS)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: unknown init %d", (int)p.init);
  size_t iters = p.iters ? p.iters : 25;
  size_t cap = p.max_points;
  if (cap == 0) cap = k > SIZE_MAX / 256 ? SIZE_MAX : 256 * k;
  if (cap < k)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_kmeans: max_points (%zu) is below k (%zu)", cap, k);
  size_t bytes, kp = vec_kmeans_kpad(k);
  if (!vec_mul_ok(n, ldx, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes) ||
      !vec_mul_ok(kp, d, &bytes) || !vec_mul_ok(bytes, sizeof(double), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "vec_kmeans: sizes overflow (n %zu, k %zu, d %zu)", n, k,
                    d);
  /* Distances are |c|^2 - 2 x.c in float32: past this bound on |x_j| they can overflow to +Inf,
   * every centroid would tie and the clustering would be silently meaningless. */
  const float lim = sqrtf(FLT_MAX / (4.0f * (float)d));
  float maxabs = 0.0f;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      float v = x[i * ldx + j];
      maxabs = fabsf(v) > maxabs ? fabsf(v) : maxabs;
      if (!isfinite(v))
        return vec_fail(VEC_E_NONFINITE, (long long)i, "k-means row %zu holds NaN or Inf", i);
      if (fabsf(v) > lim)
        return vec_fail(VEC_E_RANGE, (long long)i,
                        "k-means row %zu holds %g: squared distances at d = %zu overflow float32 "
                        "beyond |x| = %g",
                        i, (double)v, d, (double)lim);
    }

  /* At the other end those distances underflow (rows of 1e-22: |c|^2 is about 1e-44, below
   * float32's normal range), and again every centroid ties. Such rows are clustered as a copy
   * scaled by a power of two (exact) and the centroids scaled back. */
  float *scaled = NULL;
  int sexp = 0;
  if (maxabs > 0.0f && maxabs < 0x1p-40f) {
    sexp = ilogbf(maxabs);
    if (!(scaled = malloc(n * d * sizeof(float))))
      return vec_fail(VEC_E_NOMEM, -1, "vec_kmeans: out of memory");
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) scaled[i * d + j] = ldexpf(x[i * ldx + j], -sexp);
    x = scaled;
    ldx = d;
  }
  uint64_t rng = p.seed ^ 0x6b6d65616e73ull; /* "kmeans": seed 0 is a fine seed too */
  size_t nt = n < cap ? n : cap;
  const float *xs = x;
  size_t ld = ldx;
  float *sample = NULL, *ct = NULL, *cn = NULL, *val = NULL;
  uint32_t *asg = NULL;
  double *sums = NULL, *mind = NULL;
  size_t *idx = NULL, *counts = NULL;
  rc = VEC_E_NOMEM;
  if (nt < n) {
    /* A partial Fisher-Yates shuffle picks the sample; sorting it keeps reads in memory order. */
    idx = malloc(n * sizeof *idx);
    sample = malloc(nt * d * sizeof(float));
    if (!idx || !sample) goto out;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = 0; i < nt; i++) {
      size_t j = i + rng_below(&rng, n - i), t = idx[i];
      idx[i] = idx[j], idx[j] = t;
    }
    qsort(idx, nt, sizeof *idx, cmp_size);
    for (size_t i = 0; i < nt; i++) memcpy(sample + i * d, x + idx[i] * ldx, d * sizeof(float));
    free(idx);
    idx = NULL;
    xs = sample, ld = d;
  }
  ct = malloc(d * kp * sizeof(float));
  cn = malloc(kp * sizeof(float));
  val = malloc(nt * sizeof(float));
  asg = malloc(nt * sizeof(uint32_t));
  sums = malloc(k * d * sizeof(double));
  counts = malloc(k * sizeof(size_t));
  if (!ct || !cn || !val || !asg || !sums || !counts) goto out;

  if (p.init == VEC_KMEANS_INIT_PLUSPLUS) {
    mind = malloc(nt * sizeof(double));
    if (!mind) goto out;
    init_plusplus(xs, nt, ld, d, k, &rng, centroids, mind);
  } else {
    idx = malloc(nt * sizeof *idx);
    if (!idx) goto out;
    for (size_t i = 0; i < nt; i++) idx[i] = i;
    for (size_t c = 0; c < k; c++) {
      size_t j = c + rng_below(&rng, nt - c), t = idx[c];
      idx[c] = idx[j], idx[j] = t;
      memcpy(centroids + c * d, xs + idx[c] * ld, d * sizeof(float));
    }
  }

  size_t repairs = 0;
  for (size_t it = 0; it < iters; it++) {
    rc = run_assign(xs, nt, ld, d, centroids, k, ct, cn, asg, val, &o);
    if (rc) goto out;
    memset(sums, 0, k * d * sizeof(double));
    memset(counts, 0, k * sizeof(size_t));
    for (size_t i = 0; i < nt; i++) {
      double *s = sums + (size_t)asg[i] * d;
      const float *r = xs + i * ld;
      for (size_t j = 0; j < d; j++) s[j] += r[j];
      counts[asg[i]]++;
    }
    for (size_t c = 0; c < k; c++)
      if (counts[c])
        for (size_t j = 0; j < d; j++)
          centroids[c * d + j] = (float)(sums[c * d + j] / (double)counts[c]);
    for (size_t c = 0; c < k; c++) {
      if (counts[c]) continue;
      size_t big = 0;
      for (size_t b = 1; b < k; b++)
        if (counts[b] > counts[big]) big = b;
      float *ce = centroids + c * d, *cb = centroids + big * d;
      memcpy(ce, cb, d * sizeof(float));
      for (size_t j = 0; j < d; j++) {
        float up = 1.0f + SPLIT_EPS, down = 1.0f - SPLIT_EPS;
        ce[j] *= j % 2 ? down : up;
        cb[j] *= j % 2 ? up : down;
      }
      counts[c] = counts[big] / 2;
      counts[big] -= counts[c];
      repairs++;
    }
  }

  if (assign || stats) {
    float *fv = val;
    uint32_t *fa = assign ? assign : asg;
    if (n > nt) {
      float *v2 = realloc(val, n * sizeof(float));
      if (!v2) goto out;
      val = fv = v2;
      if (!assign) {
        uint32_t *a2 = realloc(asg, n * sizeof(uint32_t));
        if (!a2) goto out;
        asg = fa = a2;
      }
    }
    rc = run_assign(x, n, ldx, d, centroids, k, ct, cn, fa, fv, &o);
    if (rc) goto out;
    /* Recomputed in double from the assigned centroid: |c|^2 - 2 x.c in float cancels badly when
     * the clusters are tight. */
    double obj = 0.0;
    for (size_t i = 0; i < n; i++) obj += sqdist(x + i * ldx, centroids + (size_t)fa[i] * d, d);
    if (stats) {
      stats->objective = ldexp(obj, 2 * sexp);
      stats->train_rows = nt;
      stats->empty_repairs = repairs;
    }
  }
  for (size_t i = 0; sexp && i < k * d; i++) centroids[i] = ldexpf(centroids[i], sexp);
  rc = VEC_OK;
out:
  if (rc == VEC_E_NOMEM) vec_fail(rc, -1, "vec_kmeans: out of memory");
  if (rc == VEC_E_CANCELLED) vec_fail(rc, -1, "cancelled by the progress callback");
  free(sample), free(ct), free(cn), free(val), free(asg), free(sums), free(mind), free(idx);
  free(counts);
  free(scaled);
  return rc;
}
