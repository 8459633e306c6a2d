/* test_kmeans.c: k-means: the assignment kernels against the scalar reference on every ISA, cluster
 * recovery, monotone objective, thread-count determinism, empty-cluster repair, sample cap, errors.
 */
#include <math.h>
#include <stdlib.h>

#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

static double exact_dist(const float *x, const float *c, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) s += ((double)x[j] - c[j]) * ((double)x[j] - c[j]);
  return s;
}

static void kernels_match_scalar(void) {
  static const size_t ds[] = {1, 2, 3, 7, 8, 9, 16, 17, 33, 64, 65, 130};
  static const size_t ks[] = {1, 2, 5, 16, 17, 63, 64, 65, 130, 256};
  int isas[4], ni = vt_isas(isas);
  uint64_t s = 11;
  for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++) {
    for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
      size_t d = ds[a], k = ks[b], n = 13, kp = vec_kmeans_kpad(k);
      float *buf = malloc((n * d + 1) * sizeof(float)), *x = buf + 1; /* unaligned */
      float *cen = malloc(k * d * sizeof(float)), *ct = calloc(d * kp, sizeof(float));
      float *cn = malloc(kp * sizeof(float)), val0[13], val1[13];
      uint32_t best0[13], best1[13];
      for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&s);
      for (size_t i = 0; i < k * d; i++) cen[i] = vt_normal(&s);
      for (size_t c = 0; c < kp; c++) cn[c] = INFINITY;
      for (size_t c = 0; c < k; c++) {
        float t = 0;
        for (size_t j = 0; j < d; j++)
          ct[j * kp + c] = cen[c * d + j], t += cen[c * d + j] * cen[c * d + j];
        cn[c] = t;
      }
      vec_kmeans_assign_scalar(x, n, d, d, ct, cn, k, best0, val0);
      for (size_t i = 0; i < n; i++) {
        double dmin = INFINITY;
        for (size_t c = 0; c < k; c++) {
          double t = exact_dist(x + i * d, cen + c * d, d);
          dmin = t < dmin ? t : dmin;
        }
        CHECKF(exact_dist(x + i * d, cen + best0[i] * d, d) <= dmin + 1e-4 * (1 + dmin),
               "scalar d %zu k %zu row %zu", d, k, i);
      }
      for (int t = 0; t < ni; t++) {
        CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
        vec_kernels_get()->kmeans.assign(x, n, d, d, ct, cn, k, best1, val1);
        for (size_t i = 0; i < n; i++) {
          double e0 = exact_dist(x + i * d, cen + best0[i] * d, d);
          double e1 = exact_dist(x + i * d, cen + best1[i] * d, d);
          CHECKF(best0[i] == best1[i] || fabs(e0 - e1) <= 1e-4 * (1 + e0),
                 "isa %s d %zu k %zu row %zu: %u vs %u", vec_isa_name((vec_isa)isas[t]), d, k, i,
                 best0[i], best1[i]);
          CHECKF(fabsf(val0[i] - val1[i]) <= 1e-4f * (1.0f + fabsf(val0[i])), "val %g vs %g",
                 (double)val0[i], (double)val1[i]);
        }
      }
      vec_set_isa(VEC_ISA_AUTO);
      free(buf), free(cen), free(ct), free(cn);
    }
  }
}

static void ties_lowest_index(void) {
  /* Three identical centroids: every ISA must pick the first. */
  int isas[4], ni = vt_isas(isas);
  size_t d = 5, k = 70, kp = vec_kmeans_kpad(k);
  float x[5] = {1, 2, 3, 4, 5}, *ct = calloc(d * kp, sizeof(float)), cn[128];
  for (size_t c = 0; c < kp; c++) cn[c] = INFINITY;
  for (size_t c = 0; c < k; c++) {
    float t = 0;
    for (size_t j = 0; j < d; j++) {
      float v = (c == 3 || c == 40 || c == 69) ? x[j] : -x[j] * (float)(c + 1);
      ct[j * kp + c] = v, t += v * v;
    }
    cn[c] = t;
  }
  for (int t = 0; t < ni; t++) {
    uint32_t b;
    float v;
    CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
    vec_kernels_get()->kmeans.assign(x, 1, d, d, ct, cn, k, &b, &v);
    CHECKF(b == 3, "isa %s picked %u", vec_isa_name((vec_isa)isas[t]), b);
  }
  free(ct);
}

/* n points around nc well separated centres. */
static float *clusters(size_t nc, size_t per, size_t d, uint64_t seed, float *centres) {
  uint64_t s = seed;
  float *x = malloc(nc * per * d * sizeof(float));
  for (size_t c = 0; c < nc; c++)
    for (size_t j = 0; j < d; j++) centres[c * d + j] = 20.0f * vt_uniform(&s);
  for (size_t c = 0; c < nc; c++)
    for (size_t i = 0; i < per; i++)
      for (size_t j = 0; j < d; j++)
        x[(c * per + i) * d + j] = centres[c * d + j] + 0.05f * vt_normal(&s);
  return x;
}

static void finds_separated_clusters(void) {
  size_t nc = 6, per = 40, d = 10;
  float centres[60], cen[60];
  float *x = clusters(nc, per, d, 3, centres);
  {
    vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
    p.init = VEC_KMEANS_INIT_PLUSPLUS;
    p.seed = 5;
    uint32_t asg[240];
    vec_kmeans_stats st = {sizeof st, 0, 0, 0};
    CHECK(vec_kmeans(x, nc * per, d, d, nc, &p, cen, asg, &st, NULL) == VEC_OK);
    /* Every true cluster lands in one centroid, and each centroid sits on a true centre (k-means++
     * picks one start per cluster here: D^2 sampling makes a second start in one cluster ~1e-5
     * likely). */
    for (size_t c = 0; c < nc; c++) {
      for (size_t i = 1; i < per; i++) CHECK(asg[c * per + i] == asg[c * per]);
      CHECKF(exact_dist(cen + asg[c * per] * d, centres + c * d, d) < 0.01, "c %zu", c);
    }
    CHECK(st.objective < 240 * d * 0.0025 * 1.5 && st.train_rows == 240);
  }
  free(x);
}

static void objective_non_increasing(void) {
  size_t n = 600, d = 12, k = 9;
  uint64_t s = 9;
  float *x = malloc(n * d * sizeof(float)), cen[108];
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&s);
  double prev = INFINITY;
  for (unsigned it = 1; it <= 10; it++) {
    vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
    p.iters = it;
    vec_kmeans_stats st = {sizeof st, 0, 0, 0};
    CHECK(vec_kmeans(x, n, d, d, k, &p, cen, NULL, &st, NULL) == VEC_OK);
    CHECK(st.empty_repairs == 0);
    CHECKF(st.objective <= prev * (1 + 1e-6), "iter %u: %g after %g", it, st.objective, prev);
    prev = st.objective;
  }
  free(x);
}

static void deterministic_across_threads(void) {
  size_t n = 5000, d = 32, k = 64;
  uint64_t s = 21;
  float *x = malloc(n * d * sizeof(float));
  float *c1 = malloc(k * d * sizeof(float)), *c2 = malloc(k * d * sizeof(float));
  uint32_t *a1 = malloc(n * 4), *a2 = malloc(n * 4);
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&s);
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  p.iters = 4;
  p.seed = 77;
  vec_batch_opts o1 = VEC_BATCH_OPTS_INIT, o4 = VEC_BATCH_OPTS_INIT;
  o1.threads = 1, o4.threads = 4;
  CHECK(vec_kmeans(x, n, d, d, k, &p, c1, a1, NULL, &o1) == VEC_OK);
  CHECK(vec_kmeans(x, n, d, d, k, &p, c2, a2, NULL, &o4) == VEC_OK);
  CHECK(memcmp(c1, c2, k * d * sizeof(float)) == 0);
  CHECK(memcmp(a1, a2, n * 4) == 0);
  p.seed = 78; /* another seed, another answer */
  CHECK(vec_kmeans(x, n, d, d, k, &p, c2, a2, NULL, &o4) == VEC_OK);
  CHECK(memcmp(c1, c2, k * d * sizeof(float)) != 0);
  free(x), free(c1), free(c2), free(a1), free(a2);
}

static void empty_cluster_repair(void) {
  /* 40 copies of one point and 4 of another: random starts pick duplicates, whose clusters empty.
   */
  size_t n = 44, d = 3, k = 4;
  float x[44 * 3], cen[12];
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) x[i * d + j] = i < 40 ? 1.0f + (float)j : -5.0f;
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  p.iters = 3;
  vec_kmeans_stats st = {sizeof st, 0, 0, 0};
  uint32_t asg[44];
  CHECK(vec_kmeans(x, n, d, d, k, &p, cen, asg, &st, NULL) == VEC_OK);
  CHECK(st.empty_repairs > 0);
  for (size_t i = 0; i < k * d; i++) CHECK(isfinite(cen[i]));
  /* The split copies sit within 1/1024 of the big cluster's centre: the objective stays ~0. */
  CHECKF(st.objective < 1e-3, "objective %g", st.objective);
  CHECK(asg[43] != asg[0]);
}

static void sample_cap(void) {
  size_t n = 3000, d = 4;
  uint64_t s = 2;
  float *x = malloc(n * d * sizeof(float)), cen[80];
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&s);
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  p.max_points = 100;
  vec_kmeans_stats st = {sizeof st, 0, 0, 0};
  uint32_t *asg = malloc(n * 4);
  CHECK(vec_kmeans(x, n, d, d, 10, &p, cen, asg, &st, NULL) == VEC_OK);
  CHECK(st.train_rows == 100);
  for (size_t i = 0; i < n; i++) CHECK(asg[i] < 10);
  p.max_points = 0; /* default: 256 per centroid */
  CHECK(vec_kmeans(x, n, d, d, 2, &p, cen, NULL, &st, NULL) == VEC_OK);
  CHECK(st.train_rows == 512);
  CHECK(vec_kmeans(x, n, d, d, 20, &p, cen, NULL, &st, NULL) == VEC_OK);
  CHECK(st.train_rows == n);
  free(x), free(asg);
}

/* Rows of 1e-22 (2^-73) or 2^-100: their float32 distances lose precision, then underflow, and
 * every centroid tied, so k-means returned its initial picks. It clusters a copy scaled by a power
 * of two, so the centroids are exactly those of the unscaled rows times 2^-e, the assignment is
 * the same, and the objective scales by 2^-2e. */
static void tiny_magnitudes(void) {
  size_t nc = 6, per = 40, d = 10, n = nc * per;
  float centres[60], cen[60], cen2[60];
  float *x = clusters(nc, per, d, 3, centres), *xs = malloc(n * d * sizeof(float));
  CHECK(xs != NULL);
  static const int exps[] = {73, 100};
  for (size_t t = 0; t < 2; t++) {
    int e = exps[t];
    for (size_t i = 0; i < n * d; i++) xs[i] = ldexpf(x[i], -e);
    vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
    p.init = VEC_KMEANS_INIT_PLUSPLUS;
    p.seed = 5;
    uint32_t asg[240], asg2[240];
    vec_kmeans_stats st = {sizeof st, 0, 0, 0}, st2 = st;
    CHECK(vec_kmeans(x, n, d, d, nc, &p, cen, asg, &st, NULL) == VEC_OK);
    CHECK(vec_kmeans(xs, n, d, d, nc, &p, cen2, asg2, &st2, NULL) == VEC_OK);
    CHECKF(memcmp(asg, asg2, sizeof asg) == 0, "2^-%d", e);
    for (size_t i = 0; i < nc * d; i++) CHECKF(cen2[i] == ldexpf(cen[i], -e), "2^-%d", e);
    double want = ldexp(st.objective, -2 * e);
    CHECKF(fabs(st2.objective - want) <= 1e-12 * want, "2^-%d", e);
  }
  free(x);
  free(xs);
}

static void errors(void) {
  float x[40] = {0}, cen[40];
  for (int i = 0; i < 40; i++) x[i] = (float)i;
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  CHECK(vec_kmeans(x, 3, 4, 4, 5, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "at least as many") != NULL);
  CHECK(vec_kmeans(x, 10, 4, 4, 0, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_kmeans(x, 10, 4, 3, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_kmeans(x, 10, 0, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_kmeans(NULL, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, NULL, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  p.max_points = 1;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  p.max_points = 0;
  p.init = (vec_kmeans_init)7;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  p.init = VEC_KMEANS_INIT_RANDOM;
  p.struct_size = 8;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  p.struct_size = sizeof p;
  vec_kmeans_stats st = {4, 0, 0, 0};
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, &st, NULL) == VEC_E_INVALID_ARG);
  x[6 * 4 + 2] = NAN;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_NONFINITE);
  CHECK(vec_last_error_row() == 6);
  x[6 * 4 + 2] = INFINITY;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_NONFINITE);
  /* Finite but so large that squared distances overflow: every centroid would tie at +Inf. The
   * bound at d = 4 is sqrt(FLT_MAX / 16) ~ 4.6e18: just under it trains, just over it is refused.
   */
  x[6 * 4 + 2] = 4.5e18f;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_OK);
  x[7 * 4 + 1] = -4.7e18f;
  CHECK(vec_kmeans(x, 10, 4, 4, 2, &p, cen, NULL, NULL, NULL) == VEC_E_RANGE);
  CHECK(vec_last_error_row() == 7);
  CHECK(strstr(vec_last_error_message(), "overflow") != NULL);
}

const vt_test kmeans_tests[] = {
    {"kernels_match_scalar", kernels_match_scalar},
    {"ties_lowest_index", ties_lowest_index},
    {"finds_separated_clusters", finds_separated_clusters},
    {"objective_non_increasing", objective_non_increasing},
    {"deterministic_across_threads", deterministic_across_threads},
    {"empty_cluster_repair", empty_cluster_repair},
    {"sample_cap", sample_cap},
    {"errors", errors},
    {"tiny_magnitudes", tiny_magnitudes},
};
const size_t kmeans_count = sizeof kmeans_tests / sizeof kmeans_tests[0];
