/* test_search.c: flat top-k search over codes and floats against a brute-force double-precision
 * reference on the decoded rows, for every codec and metric; ties, padding, thread-count
 * independence, rescoring (candidates, codes, error bounds) and the error cases. A fake codec with
 * search hooks (int8 with an exact double score and a rigorous error bound) drives the hook and
 * bound paths of the driver whatever the real codecs implement. */
#include <math.h>
#include <stdlib.h>

#include "../../src/codecs/codec_impl.h"
#include "vectro.h"
#include "vtest.h"

typedef struct ref_ent {
  double s;
  uint64_t id;
} ref_ent;

static int g_l2; /* qsort has no context: the metric of the reference being sorted */
/* When set, the inner products the reference uses instead of q . x in double: a codec with search
 * hooks scores by its own estimate (an int8 query, Hamming), which test_score checks against q . x̂;
 * here the driver must rank exactly by that estimate. */
static const double *g_ip_override;

static int cmp_ref(const void *pa, const void *pb) {
  const ref_ent *a = pa, *b = pb;
  double sa = g_l2 ? -a->s : a->s, sb = g_l2 ? -b->s : b->s;
  if (sa != sb) return sa > sb ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* Exact scores of query q against n rows (row i at x + i*ldx) in double, plus a tolerance per row
 * for float32 arithmetic. */
static void ref_scores(const float *x, size_t n, size_t ldx, size_t d, const float *q, vec_metric m,
                       ref_ent *out, double *tol) {
  double qq = 0;
  for (size_t j = 0; j < d; j++) qq += (double)q[j] * q[j];
  for (size_t i = 0; i < n; i++) {
    const float *r = x + i * ldx;
    double ip = 0, xx = 0;
    for (size_t j = 0; j < d; j++) {
      ip += (double)q[j] * r[j];
      xx += (double)r[j] * r[j];
    }
    if (g_ip_override) ip = g_ip_override[i];
    double s = ip, t = 1e-5 * sqrt(qq * xx) + 1e-6;
    if (m == VEC_METRIC_COSINE) {
      s = xx > 0 ? ip / sqrt(qq * xx) : 0.0;
      t = 1e-5;
    } else if (m == VEC_METRIC_L2) {
      s = qq + xx - 2 * ip;
      if (s < 0) s = 0;
      t = 1e-5 * (qq + xx) + 1e-6;
    }
    out[i] = (ref_ent){s, i};
    tol[i] = t;
  }
}

/* Checks one query's results against the reference: scores near the reference's sorted scores,
 * each id's own reference score near the returned score, ids distinct, best first, padding. */
static int check_query(const float *x, size_t n, size_t ldx, size_t d, const float *q, size_t k,
                       vec_metric m, const uint64_t *ids, const float *scores) {
  ref_ent *ref = malloc((n ? n : 1) * sizeof *ref);
  double *tol = malloc((n ? n : 1) * sizeof *tol);
  double *byid = malloc((n ? n : 1) * sizeof *byid);
  int ok = ref && tol && byid;
  if (ok) {
    ref_scores(x, n, ldx, d, q, m, ref, tol);
    for (size_t i = 0; i < n; i++) byid[i] = ref[i].s;
    g_l2 = m == VEC_METRIC_L2;
    qsort(ref, n, sizeof *ref, cmp_ref);
  }
  for (size_t i = 0; ok && i < k; i++) {
    if (i >= n) {
      ok = ids[i] == UINT64_MAX && isnan(scores[i]);
      continue;
    }
    uint64_t id = ids[i];
    ok = id < n && fabs(byid[id] - scores[i]) <= tol[id] &&
         fabs(ref[i].s - scores[i]) <= tol[ref[i].id] + tol[id];
    for (size_t j = 0; ok && j < i; j++) ok = ids[j] != id;
    if (ok && i > 0) {
      int worse = m == VEC_METRIC_L2 ? scores[i] > scores[i - 1] : scores[i] < scores[i - 1];
      ok = worse || (scores[i] == scores[i - 1] && ids[i] > ids[i - 1]);
    }
    if (!ok)
      fprintf(stderr, "    slot %zu: id %llu score %.9g, reference id %llu score %.9g\n", i,
              (unsigned long long)id, (double)scores[i], (unsigned long long)ref[i].id, ref[i].s);
  }
  free(ref);
  free(tol);
  free(byid);
  return ok;
}

typedef struct codec_case {
  vec_codec_id id;
  size_t d;
  unsigned group;
} codec_case;

static const codec_case k_cases[] = {
    {VEC_CODEC_INT8, 37, 0},   {VEC_CODEC_INT16, 24, 0},     {VEC_CODEC_INT4, 33, 0},
    {VEC_CODEC_INT4, 32, 8},   {VEC_CODEC_F16, 19, 0},       {VEC_CODEC_BF16, 16, 0},
    {VEC_CODEC_BINARY, 45, 0}, {VEC_CODEC_UINT8_CAL, 20, 0}, {VEC_CODEC_INT8_CAL, 9, 0},
};

static void fill(float *x, size_t count, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < count; i++) x[i] = vt_normal(&s);
}

/* The codec's own estimate of q . x for every row, one row per score call. Returns 0 (and writes
 * nothing) where the search does not score through the hooks, by the rule flat.c applies. */
static int hook_estimates(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                          const float *q, double *est) {
  if (!c->ops->score || (c->ops->score_preferred && !c->ops->score_preferred(c))) return 0;
  size_t cs = c->ops->code_size(c), sc = c->ops->scale_count(c);
  /* query_prepare may promise its kernels aligned state: give it what the driver gives (64). */
  size_t qsz = (c->ops->query_size(c) + 63) / 64 * 64;
  void *qs = aligned_alloc(64, qsz ? qsz : 64);
  if (!qs) return 0; /* the caller's comparison against q . x̂ then fails loudly */
  c->ops->query_prepare(c, q, qs);
  for (size_t i = 0; i < n; i++) {
    float ip;
    c->ops->score(c, qs, 1, codes + i * cs, sc ? scales + i * sc : NULL, 1, &ip, NULL, 1);
    est[i] = ip;
  }
  free(qs);
  return 1;
}

/* Every codec x metric x nq = 1..7 x k in {1, 10, > n}: vec_search_codes against the reference on
 * the decoded rows, with and without precomputed norms (which must not change a bit). */
static void codes_match_reference(void) {
  const size_t n = 150, nqmax = 7;
  const size_t ks[] = {1, 10, 160};
  for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
    size_t d = k_cases[c].d;
    vec_codec_params p = VEC_CODEC_PARAMS_INIT(k_cases[c].id, d);
    p.group_size = k_cases[c].group;
    vec_codec *codec = NULL;
    CHECK(vec_codec_create(&p, &codec) == VEC_OK);
    float *x = malloc(n * d * sizeof(float)), *xh = malloc(n * d * sizeof(float));
    float *q = malloc(nqmax * (d + 3) * sizeof(float)), *sq = malloc(n * sizeof(float));
    size_t cs = vec_codec_code_size(codec), sc = vec_codec_scale_count(codec);
    uint8_t *codes = malloc(n * cs);
    float *scales = malloc((sc ? n * sc : 1) * sizeof(float));
    uint64_t *ids = malloc(nqmax * 160 * sizeof(uint64_t)), *ids2 = malloc(nqmax * 160 * 8);
    float *scores = malloc(nqmax * 160 * sizeof(float)), *scores2 = malloc(nqmax * 160 * 4);
    double *est = malloc(n * sizeof *est);
    CHECK(x && xh && q && sq && codes && scales && ids && ids2 && scores && scores2 && est);
    fill(x, n * d, 11 + c);
    fill(q, nqmax * (d + 3), 97 + c);
    if (vec_codec_needs_training(codec)) CHECK(vec_codec_train(codec, x, n, d) == VEC_OK);
    CHECK(vec_codec_encode(codec, x, n, d, codes, scales, NULL) == VEC_OK);
    CHECK(vec_codec_decode(codec, codes, scales, n, xh, d, NULL) == VEC_OK);
    CHECK(vec_codes_sqnorms(codec, codes, scales, n, sq, NULL) == VEC_OK);
    for (size_t i = 0; i < n; i++) {
      double r = 0;
      for (size_t j = 0; j < d; j++) r += (double)xh[i * d + j] * xh[i * d + j];
      CHECKF(fabs(sq[i] - r) <= 1e-5 * r + 1e-6, "%s row %zu", vec_codec_name(k_cases[c].id), i);
    }
    for (int m = 0; m < 3; m++)
      for (size_t nq = 1; nq <= nqmax; nq++)
        for (size_t ki = 0; ki < 3; ki++) {
          size_t k = ks[ki], ldq = d + 3;
          vec_metric met = (vec_metric)m;
          CHECK(vec_search_codes(codec, codes, scales, n, NULL, q, nq, ldq, k, met, ids, scores,
                                 NULL) == VEC_OK);
          for (size_t j = 0; j < nq; j++) {
            int hooked = hook_estimates(codec, codes, scales, n, q + j * ldq, est);
            g_ip_override = hooked ? est : NULL;
            int ok = check_query(xh, n, d, d, q + j * ldq, k, met, ids + j * k, scores + j * k);
            g_ip_override = NULL; /* before CHECKF, which returns on failure */
            CHECKF(ok, "%s metric %d nq %zu k %zu query %zu", vec_codec_name(k_cases[c].id), m, nq,
                   k, j);
          }
          CHECK(vec_search_codes(codec, codes, scales, n, sq, q, nq, ldq, k, met, ids2, scores2,
                                 NULL) == VEC_OK);
          CHECK(memcmp(ids, ids2, nq * k * sizeof *ids) == 0);
          CHECK(memcmp(scores, scores2, nq * k * sizeof *scores) == 0);
        }
    vec_codec_free(codec);
    free(x);
    free(xh);
    free(q);
    free(sq);
    free(codes);
    free(scales);
    free(ids);
    free(ids2);
    free(scores);
    free(scores2);
    free(est);
  }
}

/* The float baseline against the reference, with a row stride wider than d. */
static void f32_matches_reference(void) {
  const size_t n = 300, d = 21, ldx = 24, nq = 5, k = 10;
  float x[300 * 24], q[5 * 21];
  uint64_t ids[5 * 10];
  float scores[5 * 10];
  fill(x, n * ldx, 5);
  fill(q, nq * d, 6);
  for (int m = 0; m < 3; m++) {
    CHECK(vec_search_f32(x, n, ldx, d, q, nq, d, k, (vec_metric)m, ids, scores, NULL) == VEC_OK);
    for (size_t j = 0; j < nq; j++)
      CHECKF(check_query(x, n, ldx, d, q + j * d, k, (vec_metric)m, ids + j * k, scores + j * k),
             "metric %d query %zu", m, j);
  }
}

/* Small-integer rows are scored exactly in float: the ids must equal the reference's exactly, and
 * equal scores (repeated rows) come out lowest row first. */
static void ties_by_lower_row(void) {
  const size_t n = 40, d = 8, k = 12;
  float x[40 * 8], q[8] = {1, -2, 0, 3, 1, 1, -1, 2};
  uint64_t s = 3;
  for (size_t i = 0; i < 5; i++)
    for (size_t j = 0; j < d; j++) x[i * d + j] = (float)(int)(vt_next(&s) % 7) - 3.0f;
  for (size_t i = 5; i < n; i++) memcpy(x + i * d, x + (i % 5) * d, d * sizeof(float));
  uint64_t ids[12];
  float scores[12];
  ref_ent ref[40];
  double tol[40];
  for (int m = 0; m < 3; m += 2) {
    CHECK(vec_search_f32(x, n, d, d, q, 1, d, k, (vec_metric)m, ids, scores, NULL) == VEC_OK);
    ref_scores(x, n, d, d, q, (vec_metric)m, ref, tol);
    g_l2 = m == VEC_METRIC_L2;
    qsort(ref, n, sizeof *ref, cmp_ref);
    for (size_t i = 0; i < k; i++) {
      CHECKF(ids[i] == ref[i].id, "metric %d slot %zu: %llu vs %llu", m, i,
             (unsigned long long)ids[i], (unsigned long long)ref[i].id);
      CHECK(scores[i] == (float)ref[i].s);
    }
  }
  /* The same through int8 codes: identical rows have identical codes, so identical scores. */
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec) == VEC_OK);
  int8_t codes[40 * 8];
  float sc[40];
  CHECK(vec_codec_encode(codec, x, n, d, codes, sc, NULL) == VEC_OK);
  int rc =
      vec_search_codes(codec, codes, sc, n, NULL, q, 1, d, k, VEC_METRIC_IP, ids, scores, NULL);
  vec_codec_free(codec);
  CHECK(rc == VEC_OK);
  for (size_t i = 1; i < k; i++)
    CHECK(scores[i] < scores[i - 1] || (scores[i] == scores[i - 1] && ids[i] > ids[i - 1]));
}

/* n == 0 and n < k pad with UINT64_MAX / NaN. */
static void padding(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 4);
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec) == VEC_OK);
  float q[8] = {1, 2, 3, 4, 4, 3, 2, 1}, x[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  int8_t codes[12];
  float sc[3];
  uint64_t ids[10];
  float scores[10];
  int rc0 =
      vec_search_codes(codec, NULL, NULL, 0, NULL, q, 2, 4, 5, VEC_METRIC_L2, ids, scores, NULL);
  int rc1 = vec_codec_encode(codec, x, 3, 4, codes, sc, NULL);
  int rc2 = rc1 ? rc1
                : vec_search_codes(codec, codes, sc, 3, NULL, q, 1, 4, 5, VEC_METRIC_IP, ids + 5,
                                   scores + 5, NULL);
  vec_codec_free(codec);
  CHECK(rc0 == VEC_OK && rc2 == VEC_OK);
  for (int i = 0; i < 5; i++) CHECK(ids[i] == UINT64_MAX && isnan(scores[i]));
  CHECK(ids[5] == 2 && ids[6] == 1 && ids[7] == 0);
  CHECK(ids[8] == UINT64_MAX && isnan(scores[8]) && ids[9] == UINT64_MAX && isnan(scores[9]));
  CHECK(vec_search_f32(NULL, 0, 4, 4, q, 2, 4, 5, VEC_METRIC_IP, ids, scores, NULL) == VEC_OK);
  for (int i = 0; i < 10; i++) CHECK(ids[i] == UINT64_MAX && isnan(scores[i]));
}

static int g_calls;
static int count_progress(void *user, size_t done, size_t total) {
  (void)user;
  (void)done;
  (void)total;
  g_calls++;
  return 0;
}

/* Threads 1, 2, 4 (and many chunks on one thread, via progress) give identical bits. */
static void threads_identical(void) {
  const size_t n = 40000, d = 64, nq = 7, k = 10;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec) == VEC_OK);
  float *x = malloc(n * d * sizeof(float)), *q = malloc(nq * d * sizeof(float));
  int8_t *codes = malloc(n * d);
  float *sc = malloc(n * sizeof(float));
  uint64_t ids[4][7 * 10];
  float scores[4][7 * 10];
  int ok = x && q && codes && sc;
  if (ok) {
    fill(x, n * d, 77);
    fill(q, nq * d, 78);
    /* Plant exact duplicates of a strong row far apart so ties cross chunk boundaries. */
    for (size_t i = 0; i < d; i++) x[i] = q[i];
    memcpy(x + 39999 * d, x, d * sizeof(float));
    memcpy(x + 20001 * d, x, d * sizeof(float));
    ok = vec_codec_encode(codec, x, n, d, codes, sc, NULL) == VEC_OK;
  }
  int threads[4] = {1, 2, 4, 1};
  for (int m = 0; ok && m < 3; m++)
    for (int t = 0; ok && t < 4; t++) {
      vec_batch_opts o = VEC_BATCH_OPTS_INIT;
      o.threads = threads[t];
      if (t == 3) o.progress = count_progress;
      g_calls = 0;
      ok = vec_search_codes(codec, codes, sc, n, NULL, q, nq, d, k, (vec_metric)m, ids[t],
                            scores[t], &o) == VEC_OK;
      if (t == 3) ok = ok && g_calls > 1;
      if (t > 0)
        ok = ok && memcmp(ids[t], ids[0], sizeof ids[0]) == 0 &&
             memcmp(scores[t], scores[0], sizeof scores[0]) == 0;
      if (m == 0 && t == 0) ok = ok && ids[0][0] == 0 && ids[0][1] == 20001 && ids[0][2] == 39999;
    }
  vec_codec_free(codec);
  free(x);
  free(q);
  free(codes);
  free(sc);
  CHECK(ok);
}

/* Rescoring candidates that contain the float top-k returns exactly vec_search_f32's answer. */
static void rescore_recovers_float_topk(void) {
  const size_t n = 500, d = 16, nq = 3, k = 10, m = 40;
  float x[500 * 16], q[3 * 16];
  fill(x, n * d, 123);
  fill(q, nq * d, 124);
  uint64_t ids[30], ids2[30], cand[3 * 40];
  float scores[30], scores2[30];
  for (int met = 0; met < 3; met++) {
    CHECK(vec_search_f32(x, n, d, d, q, nq, d, k, (vec_metric)met, ids, scores, NULL) == VEC_OK);
    uint64_t s = 9;
    for (size_t j = 0; j < nq; j++) {
      uint64_t *c = cand + j * m;
      for (size_t i = 0; i < m; i++) c[i] = vt_next(&s) % n;
      for (size_t i = 0; i < k; i++) c[(i * 7 + 3) % m] = ids[j * k + i];
      c[0] = UINT64_MAX; /* skipped */
      c[1] = ids[j * k]; /* the best one twice: still one slot */
      c[2] = ids[j * k];
      if (ids[j * k] == c[3]) c[0] = 0; /* keep c[3]'s member: harmless either way */
    }
    CHECK(vec_rescore(x, n, d, d, q, nq, d, cand, m, k, (vec_metric)met, ids2, scores2, NULL) ==
          VEC_OK);
    CHECK(memcmp(ids, ids2, sizeof ids) == 0);
    CHECK(memcmp(scores, scores2, sizeof scores) == 0);
  }
  /* Fewer distinct candidates than k pad; an index >= n is refused. */
  uint64_t few[3] = {4, UINT64_MAX, 4};
  CHECK(vec_rescore(x, n, d, d, q, 1, d, few, 3, 2, VEC_METRIC_IP, ids2, scores2, NULL) == VEC_OK);
  CHECK(ids2[0] == 4 && ids2[1] == UINT64_MAX && isnan(scores2[1]));
  few[1] = n;
  CHECK(vec_rescore(x, n, d, d, q, 1, d, few, 3, 2, VEC_METRIC_IP, ids2, scores2, NULL) ==
        VEC_E_INVALID_ARG);
}

/* ---- A fake hooked codec: int8's codes, its own search hooks. The prepared query is the float
 * query plus |q|_1; the estimate is q . x̂ in double, rounded once, so it is exactly reproducible;
 * the bound s / 2 * |q|_1 (+ rounding) holds because |x_i - x̂_i| <= s / 2. ---- */
static size_t fake_qsize(const vec_codec *c) { return (c->d + 1) * sizeof(float); }
static void fake_prepare(const vec_codec *c, const float *q, void *qs) {
  float *o = qs;
  double l1 = 0;
  for (size_t i = 0; i < c->d; i++) o[i] = q[i], l1 += fabs(q[i]);
  o[c->d] = (float)l1;
}
static void fake_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                       const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  size_t d = c->d;
  for (size_t j = 0; j < nq; j++) {
    const float *q = (const float *)qs + j * (d + 1);
    for (size_t r = 0; r < nr; r++) {
      const int8_t *x = (const int8_t *)codes + r * d;
      double a = 0;
      for (size_t i = 0; i < d; i++) a += (double)q[i] * x[i];
      ip[j * ldo + r] = (float)(a * scales[r]);
      if (err) err[j * ldo + r] = scales[r] * 0.5f * q[d] * 1.001f + 1e-6f;
    }
  }
}
static void fake_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                         float *out) {
  for (size_t r = 0; r < n; r++) {
    double a = 0;
    for (size_t i = 0; i < c->d; i++)
      a += (double)((const int8_t *)codes)[r * c->d + i] * ((const int8_t *)codes)[r * c->d + i];
    out[r] = (float)(a * scales[r] * scales[r]);
  }
}

/* An int8 codec whose ops are swapped for a copy with the fake hooks. */
static vec_codec *fake_codec(size_t d, vec_codec_ops *ops) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c = NULL;
  if (vec_codec_create(&p, &c) != VEC_OK) return NULL;
  *ops = *c->ops;
  ops->bounded = 1;
  ops->query_size = fake_qsize;
  ops->query_prepare = fake_prepare;
  ops->score = fake_score;
  ops->sqnorms = fake_sqnorms;
  c->ops = ops;
  return c;
}

typedef struct db {
  size_t n, d;
  float *x, *xh, *q;
  int8_t *codes;
  float *sc;
} db;

static int db_make(db *b, vec_codec *c, size_t n, size_t d, size_t nq, uint64_t seed) {
  b->n = n, b->d = d;
  b->x = malloc(n * d * 4), b->xh = malloc(n * d * 4), b->q = malloc(nq * d * 4);
  b->codes = malloc(n * d), b->sc = malloc(n * 4);
  if (!b->x || !b->xh || !b->q || !b->codes || !b->sc) return 0;
  fill(b->x, n * d, seed);
  fill(b->q, nq * d, seed + 1);
  return vec_codec_encode(c, b->x, n, d, b->codes, b->sc, NULL) == VEC_OK &&
         vec_codec_decode(c, b->codes, b->sc, n, b->xh, d, NULL) == VEC_OK;
}

static void db_free(db *b) { free(b->x), free(b->xh), free(b->q), free(b->codes), free(b->sc); }

/* The hook path: results against the reference on the decoded rows, vec_codes_sqnorms through
 * the hook, identical bits for any thread count (row split and query split alike). */
static void hooks_drive_search(void) {
  const size_t n = 3000, d = 29, nq = 37, k = 10;
  vec_codec_ops ops;
  vec_codec *c = fake_codec(d, &ops);
  db b;
  uint64_t *ids = malloc(3 * nq * k * 8);
  float *scores = malloc(3 * nq * k * 4), *sq = malloc(n * 4);
  CHECK(c && ids && scores && sq && db_make(&b, c, n, d, nq, 41));
  CHECK(vec_codes_sqnorms(c, b.codes, b.sc, n, sq, NULL) == VEC_OK);
  float one;
  fake_sqnorms(c, (const uint8_t *)b.codes + 5 * d, b.sc + 5, 1, &one);
  CHECK(sq[5] == one);
  int threads[3] = {1, 2, 4};
  for (int m = 0; m < 3; m++) {
    for (int t = 0; t < 3; t++) {
      vec_batch_opts o = VEC_BATCH_OPTS_INIT;
      o.threads = threads[t];
      CHECK(vec_search_codes(c, b.codes, b.sc, n, t == 2 ? sq : NULL, b.q, nq, d, k, (vec_metric)m,
                             ids + t * nq * k, scores + t * nq * k, &o) == VEC_OK);
      CHECKF(memcmp(ids, ids + t * nq * k, nq * k * 8) == 0 &&
                 memcmp(scores, scores + t * nq * k, nq * k * 4) == 0,
             "metric %d threads %d", m, threads[t]);
    }
    for (size_t j = 0; j < nq; j++)
      CHECKF(check_query(b.xh, n, d, d, b.q + j * d, k, (vec_metric)m, ids + j * k, scores + j * k),
             "metric %d query %zu", m, j);
  }
  vec_codec_free(c);
  db_free(&b);
  free(ids), free(scores), free(sq);
}

/* Many queries on a small database split over queries: the same bits as one thread. */
static void query_split_identical(void) {
  const size_t n = 900, d = 48, nq = 70, k = 7;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  db b;
  uint64_t *ids = malloc(2 * nq * k * 8);
  float *scores = malloc(2 * nq * k * 4);
  CHECK(ids && scores && db_make(&b, c, n, d, nq, 51));
  for (int m = 0; m < 3; m++) {
    vec_batch_opts o = VEC_BATCH_OPTS_INIT;
    o.threads = 1;
    CHECK(vec_search_codes(c, b.codes, b.sc, n, NULL, b.q, nq, d, k, (vec_metric)m, ids, scores,
                           &o) == VEC_OK);
    o.threads = 4;
    o.progress = count_progress;
    g_calls = 0;
    CHECK(vec_search_codes(c, b.codes, b.sc, n, NULL, b.q, nq, d, k, (vec_metric)m, ids + nq * k,
                           scores + nq * k, &o) == VEC_OK);
    CHECK(g_calls >= 1);
    CHECK(memcmp(ids, ids + nq * k, nq * k * 8) == 0);
    CHECK(memcmp(scores, scores + nq * k, nq * k * 4) == 0);
    CHECK(vec_search_f32(b.x, n, d, d, b.q, nq, d, k, (vec_metric)m, ids, scores, &o) == VEC_OK);
    o.threads = 1;
    CHECK(vec_search_f32(b.x, n, d, d, b.q, nq, d, k, (vec_metric)m, ids + nq * k, scores + nq * k,
                         &o) == VEC_OK);
    CHECK(memcmp(ids, ids + nq * k, nq * k * 8) == 0);
    CHECK(memcmp(scores, scores + nq * k, nq * k * 4) == 0);
  }
  vec_codec_free(c);
  db_free(&b);
  free(ids), free(scores);
}

/* vec_rescore_codes reproduces vec_search_codes' top-k from a candidate list that holds it, with
 * the real int8 codec (decode path) and the fake one (hook path); candidates >= n are refused. */
static void rescore_codes_matches_search(void) {
  const size_t n = 800, d = 33, nq = 5, k = 6, m = 30;
  vec_codec_ops ops;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *real = NULL, *fake = fake_codec(d, &ops);
  CHECK(vec_codec_create(&p, &real) == VEC_OK && fake);
  db b;
  CHECK(db_make(&b, real, n, d, nq, 61));
  uint64_t cand[5 * 30], ids[5 * 6], ids2[5 * 6];
  float cs[5 * 30], scores[5 * 6], scores2[5 * 6];
  vec_codec *cs_[2] = {real, fake};
  for (int ci = 0; ci < 2; ci++)
    for (int met = 0; met < 3; met++) {
      vec_metric mt = (vec_metric)met;
      CHECK(vec_search_codes(cs_[ci], b.codes, b.sc, n, NULL, b.q, nq, d, k, mt, ids, scores,
                             NULL) == VEC_OK);
      /* Candidates: the binary-like stage is played by the float search's top m. */
      CHECK(vec_search_f32(b.x, n, d, d, b.q, nq, d, m, mt, cand, cs, NULL) == VEC_OK);
      for (size_t j = 0; j < nq; j++)
        for (size_t i = 0; i < k; i++) cand[j * m + m - 1 - i] = ids[j * k + i];
      vec_batch_opts o = VEC_BATCH_OPTS_INIT;
      o.threads = 2;
      CHECK(vec_rescore_codes(cs_[ci], b.codes, b.sc, n, NULL, b.q, nq, d, cand, m, k, mt, ids2,
                              scores2, &o) == VEC_OK);
      CHECKF(memcmp(ids, ids2, sizeof ids) == 0 && memcmp(scores, scores2, sizeof scores) == 0,
             "codec %d metric %d", ci, met);
    }
  cand[3] = n;
  CHECK(vec_rescore_codes(real, b.codes, b.sc, n, NULL, b.q, nq, d, cand, m, k, VEC_METRIC_IP, ids2,
                          scores2, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_last_error_row() == 0);
  CHECK(vec_rescore_codes(real, b.codes, b.sc, n, NULL, b.q, nq, d - 1, cand, m, k, VEC_METRIC_IP,
                          ids2, scores2, NULL) == VEC_E_INVALID_ARG);
  vec_codec_free(real);
  vec_codec_free(fake);
  db_free(&b);
}

/* By bound, the result is exactly the float top-k while only a fraction of rows is read from the
 * originals; by oversample, it equals vec_search_codes + vec_rescore. */
static void search_rescore_bound_and_oversample(void) {
  const size_t n = 4000, d = 24, nq = 6, k = 10;
  vec_codec_ops ops;
  vec_codec *fake = fake_codec(d, &ops);
  db b;
  CHECK(fake && db_make(&b, fake, n, d, nq, 71));
  uint64_t ids[60], ids2[60], cand[6 * 40];
  float scores[60], scores2[60], cs[6 * 40], *xsq = malloc(n * 4);
  CHECK(xsq != NULL);
  for (size_t i = 0; i < n; i++) {
    float s = 0;
    vec_search_f32(b.x + i * d, 1, d, d, b.x + i * d, 1, d, 1, VEC_METRIC_IP, ids, &s, NULL);
    xsq[i] = s;
  }
  for (int met = 0; met < 3; met++) {
    vec_metric mt = (vec_metric)met;
    CHECK(vec_search_f32(b.x, n, d, d, b.q, nq, d, k, mt, ids, scores, NULL) == VEC_OK);
    for (int t = 1; t <= 2; t++) {
      vec_batch_opts o = VEC_BATCH_OPTS_INIT;
      o.threads = t;
      vec_search_stats st;
      CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, t == 2 ? xsq : NULL, b.q, nq, d, k,
                               mt, 0.0, 1.0, ids2, scores2, &st, &o) == VEC_OK);
      CHECKF(memcmp(ids, ids2, sizeof ids) == 0 && memcmp(scores, scores2, sizeof scores) == 0,
             "metric %d threads %d", met, t);
      CHECKF(st.scanned == n * nq && st.rescored >= k * nq && st.rescored < n * nq / 4,
             "metric %d: rescored %llu of %llu", met, (unsigned long long)st.rescored,
             (unsigned long long)st.scanned);
    }
    /* Oversample: the same as the two calls it stands for. */
    vec_search_stats st;
    CHECK(vec_search_codes(fake, b.codes, b.sc, n, NULL, b.q, nq, d, 40, mt, cand, cs, NULL) ==
          VEC_OK);
    CHECK(vec_rescore(b.x, n, d, d, b.q, nq, d, cand, 40, k, mt, ids, scores, NULL) == VEC_OK);
    CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, nq, d, k, mt, 4.0, 1.0,
                             ids2, scores2, &st, NULL) == VEC_OK);
    CHECK(memcmp(ids, ids2, sizeof ids) == 0 && memcmp(scores, scores2, sizeof scores) == 0);
    CHECK(st.rescored == 40 * nq);
  }
  /* Errors: no bounds with oversample 0, a bad oversample, no originals, short ldx, k > n pads. */
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *real = NULL;
  CHECK(vec_codec_create(&p, &real) == VEC_OK);
  CHECK(vec_search_rescore(real, b.codes, b.sc, n, b.x, d, NULL, b.q, 1, d, k, VEC_METRIC_IP, 0.0,
                           1.0, ids2, scores2, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "bound") != NULL);
  CHECK(vec_search_has_bounds(fake) && !vec_search_has_bounds(real) &&
        !vec_search_has_bounds(NULL));
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, 1, d, k, VEC_METRIC_IP, 0.5,
                           1.0, ids2, scores2, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, NULL, d, NULL, b.q, 1, d, k, VEC_METRIC_IP, 0.0,
                           1.0, ids2, scores2, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d - 1, NULL, b.q, 1, d, k, VEC_METRIC_IP,
                           0.0, 1.0, ids2, scores2, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, 3, b.x, d, NULL, b.q, 1, d, 5, VEC_METRIC_L2, 0.0,
                           1.0, ids2, scores2, NULL, NULL) == VEC_OK);
  CHECK(ids2[2] < 3 && ids2[3] == UINT64_MAX && isnan(scores2[4]));
  CHECK(vec_search_rescore(real, b.codes, b.sc, 3, b.x, d, NULL, b.q, 1, d, 5, VEC_METRIC_L2, 8.0,
                           1.0, ids2, scores2, NULL, NULL) == VEC_OK);
  CHECK(ids2[2] < 3 && ids2[3] == UINT64_MAX && isnan(scores2[4]));
  /* bound_scale: a looser bound rescores more rows, a tighter one fewer (never below k a query);
   * outside (0, 16] is an error with oversample 0 and ignored with an oversample. */
  vec_search_stats s1, s05, s4;
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, nq, d, k, VEC_METRIC_IP, 0.0,
                           1.0, ids2, scores2, &s1, NULL) == VEC_OK);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, nq, d, k, VEC_METRIC_IP, 0.0,
                           0.5, ids2, scores2, &s05, NULL) == VEC_OK);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, nq, d, k, VEC_METRIC_IP, 0.0,
                           4.0, ids2, scores2, &s4, NULL) == VEC_OK);
  CHECKF(s05.rescored >= k * nq && s05.rescored < s1.rescored && s1.rescored < s4.rescored,
         "rescored %llu / %llu / %llu", (unsigned long long)s05.rescored,
         (unsigned long long)s1.rescored, (unsigned long long)s4.rescored);
  static const double bad_scale[] = {0.0, -1.0, 16.5, NAN};
  for (int i = 0; i < 4; i++)
    CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, 1, d, k, VEC_METRIC_IP, 0.0,
                             bad_scale[i], ids2, scores2, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_search_rescore(fake, b.codes, b.sc, n, b.x, d, NULL, b.q, 1, d, k, VEC_METRIC_IP, 4.0,
                           0.0, ids2, scores2, NULL, NULL) == VEC_OK);
  vec_codec_free(real);
  vec_codec_free(fake);
  db_free(&b);
  free(xsq);
}

/* Each instruction set's dot kernel (blocks of four rows and single rows alike) against the
 * reference, bit-identical between vec_search_f32 and vec_rescore, ties intact. */
static void every_isa(void) {
  int isas[4], ni = vt_isas(isas), bad = -1;
  for (int i = 0; i < ni && bad < 0; i++) {
    int before = vt_failed_checks;
    if (vec_set_isa((vec_isa)isas[i]) != VEC_OK) bad = i;
    codes_match_reference();
    f32_matches_reference();
    ties_by_lower_row();
    rescore_recovers_float_topk();
    rescore_codes_matches_search();
    search_rescore_bound_and_oversample();
    if (vt_failed_checks != before) bad = i;
  }
  vec_set_isa(VEC_ISA_AUTO); /* before any CHECK: later tests must see the default */
  CHECKF(bad < 0, "isa %s", vec_isa_name((vec_isa)isas[bad < 0 ? 0 : bad]));
}

static void errors(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 4);
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec) == VEC_OK);
  float x[8] = {1, 2, 3, 4, -1, 0, 2, 1}, q[12] = {1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0};
  int8_t codes[8];
  float sc[2];
  uint64_t ids[6];
  float scores[6];
  int rc[10];
  rc[0] = vec_codec_encode(codec, x, 2, 4, codes, sc, NULL);
  rc[1] = vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 0, VEC_METRIC_IP, ids, scores, NULL);
  rc[2] = vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 3, 2, VEC_METRIC_IP, ids, scores, NULL);
  rc[3] = vec_search_codes(NULL, codes, sc, 2, NULL, q, 3, 4, 2, VEC_METRIC_IP, ids, scores, NULL);
  rc[4] =
      vec_search_codes(codec, codes, NULL, 2, NULL, q, 3, 4, 2, VEC_METRIC_IP, ids, scores, NULL);
  rc[5] =
      vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 2, VEC_METRIC_IP, NULL, scores, NULL);
  rc[6] = vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 2, (vec_metric)9, ids, scores, NULL);
  q[9] = NAN;
  rc[7] = vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 2, VEC_METRIC_IP, ids, scores, NULL);
  long long row7 = vec_last_error_row();
  q[9] = 0;
  q[8] = 0; /* query 2 is now all zero */
  rc[8] =
      vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 2, VEC_METRIC_COSINE, ids, scores, NULL);
  long long row8 = vec_last_error_row();
  rc[9] = vec_search_codes(codec, codes, sc, 2, NULL, q, 3, 4, 2, VEC_METRIC_IP, ids, scores, NULL);
  sc[1] = -1; /* a corrupt scale is refused, naming its row */
  int rc_scale =
      vec_search_codes(codec, codes, sc, 2, NULL, q, 1, 4, 1, VEC_METRIC_IP, ids, scores, NULL);
  long long row_scale = vec_last_error_row();
  int rc_sq = vec_codes_sqnorms(codec, codes, sc, 2, scores, NULL);
  vec_codec_free(codec);
  CHECK(rc[0] == VEC_OK);
  CHECK(rc_scale == VEC_E_INVALID_ARG && row_scale == 1 && rc_sq == VEC_E_INVALID_ARG);
  for (int i = 1; i <= 6; i++) CHECKF(rc[i] == VEC_E_INVALID_ARG, "case %d: %d", i, rc[i]);
  CHECK(rc[7] == VEC_E_NONFINITE && row7 == 2);
  CHECK(rc[8] == VEC_E_INVALID_ARG && row8 == 2);
  CHECK(rc[9] == VEC_OK); /* a zero query is fine for IP */
  CHECK(vec_search_f32(x, 2, 4, 4, q, 1, 4, 0, VEC_METRIC_IP, ids, scores, NULL) ==
        VEC_E_INVALID_ARG);
  CHECK(vec_search_f32(x, 2, 3, 4, q, 1, 4, 1, VEC_METRIC_IP, ids, scores, NULL) ==
        VEC_E_INVALID_ARG);
  CHECK(vec_search_f32(NULL, 2, 4, 4, q, 1, 4, 1, VEC_METRIC_IP, ids, scores, NULL) ==
        VEC_E_INVALID_ARG);
  q[1] = INFINITY;
  CHECK(vec_search_f32(x, 2, 4, 4, q, 1, 4, 1, VEC_METRIC_L2, ids, scores, NULL) ==
        VEC_E_NONFINITE);
  CHECK(vec_last_error_row() == 0);
  CHECK(vec_codes_sqnorms(NULL, codes, sc, 2, scores, NULL) == VEC_E_INVALID_ARG);
}

/* ---- A table codec: row r scores g_keys[r] whatever the query (the row is found from its codes'
 * address), so a test sets every key the heaps see: runs of ties, NaN anywhere in a run, inf. ----
 */
static const float *g_keys;
static const uint8_t *g_codes0;
static void table_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                        const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)qs, (void)scales;
  size_t r0 = (size_t)(codes - g_codes0) / c->d;
  for (size_t j = 0; j < nq; j++)
    for (size_t r = 0; r < nr; r++) {
      ip[j * ldo + r] = g_keys[r0 + r];
      if (err) err[j * ldo + r] = 0.0f;
    }
}

typedef struct key_ent {
  float key;
  uint64_t id;
} key_ent;

/* The driver's order: larger key first, NaN last, ties by lower row. */
static int cmp_key(const void *pa, const void *pb) {
  const key_ent *a = pa, *b = pb;
  int na = isnan(a->key), nb = isnan(b->key);
  if (na != nb) return na - nb;
  if (!na && a->key != b->key) return a->key > b->key ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* One key pattern (tab) through vec_search_codes against a full sort, for every metric, k and
 * thread count. */
static void heap_filter_check(vec_codec *c, const int8_t *codes, const float *sc, const float *tab,
                              const float *sq, const float *q, size_t n, size_t d, size_t nq,
                              key_ent *ref, uint64_t *ids, float *scores, int pat) {
  static const size_t ks[] = {1, 7, 100, 600, 2999, 3000};
  for (int m = 0; m < 3; m++) {
    for (size_t r = 0; r < n; r++) {
      float ip = tab[r], key = ip;
      if (m == VEC_METRIC_COSINE) key = ip / (1.0f * sqrtf(4.0f));
      if (m == VEC_METRIC_L2) {
        float l2 = (1.0f + 4.0f) - 2.0f * ip;
        key = -(l2 > 0.0f ? l2 : 0.0f);
      }
      ref[r] = (key_ent){key, r};
    }
    qsort(ref, n, sizeof *ref, cmp_key);
    for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
      for (int t = 1; t <= 2; t++) {
        size_t k = ks[ki];
        vec_batch_opts o = VEC_BATCH_OPTS_INIT;
        o.threads = t;
        int rc = vec_search_codes(c, codes, sc, n, sq, q, nq, d, k, (vec_metric)m, ids, scores, &o);
        CHECKF(rc == VEC_OK, "%s", vec_last_error_message());
        int ok = 1;
        for (size_t j = 0; j < nq && ok; j++)
          for (size_t i = 0; i < k && ok; i++) {
            float want = m == VEC_METRIC_L2 ? -ref[i].key : ref[i].key, got = scores[j * k + i];
            ok = ids[j * k + i] == ref[i].id && (got == want || (isnan(got) && isnan(want)));
          }
        CHECKF(ok, "pattern %d metric %d k %zu threads %d", pat, m, k, t);
      }
  }
}

/* The driver keeps each query's candidates in a reservoir that compacts with a quickselect and
 * filters runs of rows by the k-th key; whatever the keys (ties, NaN opening runs or filling the
 * k-th place, infinities), the top k must be exactly a full sort's. Keys are small multiples of
 * 1/8 and |x|^2 = 4, so every metric's key is exact in float. */
static void heap_filter_exact(void) {
  const size_t n = 3000, d = 4, nq = 3;
  vec_codec_ops ops;
  vec_codec *c = fake_codec(d, &ops);
  CHECK(c != NULL);
  if (!c) return;
  ops.score = table_score;
  int8_t *codes = calloc(n, d);
  float *sc = malloc(n * 4), *tab = malloc(n * 4), *sq = malloc(n * 4),
        q[3 * 4] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0};
  key_ent *ref = malloc(n * sizeof *ref);
  uint64_t *ids = malloc(nq * n * 8);
  float *scores = malloc(nq * n * 4);
  CHECK(codes && sc && tab && sq && ref && ids && scores);
  g_keys = tab;
  g_codes0 = (const uint8_t *)codes;
  /* Patterns: 1/8 NaN; 7/8 NaN (a reservoir's k-th can be NaN); every key equal. */
  for (int pat = 0; pat < 3; pat++) {
    uint64_t st = 9 + (uint64_t)pat;
    for (size_t r = 0; r < n; r++) {
      tab[r] = (float)(int)(vt_next(&st) % 41) / 8.0f; /* 41 values: many ties */
      unsigned u = (unsigned)(vt_next(&st) % 8);
      if (pat == 0 ? u == 0 : pat == 1 ? u != 0 : 0) tab[r] = NAN; /* opening runs and inside */
      if (pat == 2) tab[r] = 0.5f;
      if (r == 700 && pat < 2) tab[r] = INFINITY;
      if (r == 333) tab[r] = -INFINITY;
      sc[r] = 1.0f;
      sq[r] = 4.0f;
    }
    heap_filter_check(c, codes, sc, tab, sq, q, n, d, nq, ref, ids, scores, pat);
  }
  vec_codec_free(c);
  free(codes), free(sc), free(tab), free(sq), free(ref), free(ids), free(scores);
}
/* ---- Extreme but finite magnitudes: rows and queries scaled by 1e19 (|x|^2 and q.x past
 * float32's range) or 1e-22 (below it). ---- */

/* The double reference on the floats given; ids must rank as it does (near-ties allowed within
 * the tolerance), and each score must be the reference's where float32 can hold it, else Inf
 * (past the range) or +0 (below it), never NaN or -0. */
static int check_extreme(const float *x, size_t n, size_t d, const float *q, size_t k, vec_metric m,
                         const uint64_t *ids, const float *scores) {
  ref_ent *ref = malloc(n * sizeof *ref);
  double *byid = malloc(n * sizeof *byid), qq = 0;
  int ok = ref && byid;
  for (size_t j = 0; j < d; j++) qq += (double)q[j] * q[j];
  for (size_t i = 0; ok && i < n; i++) {
    double ip = 0, xx = 0, l2 = 0;
    for (size_t j = 0; j < d; j++) {
      ip += (double)q[j] * x[i * d + j];
      xx += (double)x[i * d + j] * x[i * d + j];
      l2 += ((double)q[j] - x[i * d + j]) * ((double)q[j] - x[i * d + j]);
    }
    ref[i] = (ref_ent){m == VEC_METRIC_IP       ? ip
                       : m == VEC_METRIC_COSINE ? ip / sqrt(qq * xx)
                                                : l2,
                       i};
    byid[i] = ref[i].s;
  }
  if (ok) {
    g_l2 = m == VEC_METRIC_L2;
    qsort(ref, n, sizeof *ref, cmp_ref);
  }
  for (size_t i = 0; ok && i < k; i++) {
    uint64_t id = ids[i];
    double mag = m == VEC_METRIC_COSINE ? 1.0 : fabs(ref[0].s) + fabs(ref[k - 1].s);
    ok = id < n && fabs(byid[id] - ref[i].s) <= 1e-5 * mag;
    double want = ok ? byid[id] : 0, a = fabs(want);
    if (ok && a >= 1e-30 && a <= 3e38)
      ok = fabs(scores[i] - want) <= 1e-4 * a;
    else if (ok)
      ok = !isnan(scores[i]) && !(scores[i] == 0 && signbit(scores[i])) &&
           (a <= 3.4e38 || isinf(scores[i])) && (m != VEC_METRIC_L2 || scores[i] >= 0);
    if (!ok)
      fprintf(stderr, "    slot %zu: id %llu score %.9g, reference id %llu score %.9g\n", i,
              (unsigned long long)id, (double)scores[i], (unsigned long long)ref[i].id, ref[i].s);
  }
  free(ref);
  free(byid);
  return ok;
}

/* Recall@k of ids against the float top-k of the unscaled rows. */
static double recall_vs(const uint64_t *ids, const uint64_t *truth, size_t k) {
  size_t hit = 0;
  for (size_t i = 0; i < k; i++)
    for (size_t j = 0; j < k; j++) hit += ids[i] == truth[j];
  return (double)hit / (double)k;
}

/* Every search entry point at 1e19 and 1e-22, for IP, cosine and L2: vec_search_f32, vec_rescore
 * and vec_search_rescore rank exactly (as the double reference); vec_search_codes and
 * vec_rescore_codes, for every codec that accepts such rows, find what they find on the same rows
 * unscaled (recall within 0.1) with no NaN score; codecs that cannot hold them refuse them. */
static void extreme_magnitudes(void) {
  enum { N = 400, D = 32, NQ = 5, K = 10 };
  static const float mags[] = {1e19f, 1e-22f};
  static const struct {
    vec_codec_id id;
    unsigned bits, m;
  } cases[] = {{VEC_CODEC_INT8, 0, 0},   {VEC_CODEC_INT4, 0, 0},      {VEC_CODEC_INT16, 0, 0},
               {VEC_CODEC_BF16, 0, 0},   {VEC_CODEC_UINT8_CAL, 0, 0}, {VEC_CODEC_INT8_CAL, 0, 0},
               {VEC_CODEC_RABITQ, 2, 0}, {VEC_CODEC_PQ, 8, 8},        {VEC_CODEC_F16, 0, 0}};
  float *x = malloc(N * D * sizeof(float)), *xs = malloc(N * D * sizeof(float));
  float q[NQ * D], qs[NQ * D], scores[NQ * K], s2[NQ * K], *sc = malloc(N * 4 * sizeof(float));
  uint64_t ids[NQ * K], truth[NQ * K], base[NQ * K], cand[NQ * 4 * K];
  uint8_t *codes = malloc(N * 64);
  CHECK(x && xs && sc && codes);
  fill(x, N * D, 301);
  fill(q, NQ * D, 302);
  for (size_t t = 0; t < 2; t++) {
    for (size_t i = 0; i < N * D; i++) xs[i] = x[i] * mags[t];
    for (size_t i = 0; i < NQ * D; i++) qs[i] = q[i] * mags[t];
    for (int m = 0; m < 3; m++) {
      vec_metric met = (vec_metric)m;
      CHECK(vec_search_f32(xs, N, D, D, qs, NQ, D, K, met, ids, scores, NULL) == VEC_OK);
      for (size_t j = 0; j < NQ; j++)
        CHECKF(check_extreme(xs, N, D, qs + j * D, K, met, ids + j * K, scores + j * K),
               "f32 %g metric %d query %zu", (double)mags[t], m, j);
      /* Rescoring every 4th row plus the true top-k reproduces the f32 result. */
      for (size_t j = 0; j < NQ; j++)
        for (size_t i = 0; i < 4 * K; i++)
          cand[j * 4 * K + i] = i < K ? ids[j * K + i] : (uint64_t)(i * 7 % N);
      CHECK(vec_rescore(xs, N, D, D, qs, NQ, D, cand, 4 * K, K, met, truth, s2, NULL) == VEC_OK);
      CHECK(memcmp(ids, truth, sizeof ids) == 0 && memcmp(scores, s2, sizeof s2) == 0);
      CHECK(vec_search_f32(x, N, D, D, q, NQ, D, K, met, truth, s2, NULL) == VEC_OK);
      for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vec_codec_params p = VEC_CODEC_PARAMS_INIT(cases[c].id, D);
        p.bits = cases[c].bits;
        p.m = cases[c].m;
        vec_codec *a = NULL, *b = NULL;
        CHECK(vec_codec_create(&p, &a) == VEC_OK && vec_codec_create(&p, &b) == VEC_OK);
        if (!a || !b) continue;
        const char *name = vec_codec_name(cases[c].id);
        int rc = vec_codec_needs_training(a) ? vec_codec_train(a, xs, N, D) : VEC_OK;
        if (!rc) rc = vec_codec_encode(a, xs, N, D, codes, sc, NULL);
        if (cases[c].id == VEC_CODEC_F16 || cases[c].id == VEC_CODEC_PQ) {
          /* f16 holds neither 1e19 nor 1e-22 (a row of 1e-22 would encode to zeros); pq's
           * float32 distances to its centroids overflow at 1e19 and underflow at 1e-22. */
          CHECKF(rc == VEC_E_RANGE, "%s at %g: rc %d", name, (double)mags[t], rc);
        } else {
          CHECKF(rc == VEC_OK, "%s at %g: rc %d %s", name, (double)mags[t], rc,
                 vec_last_error_message());
          CHECK(vec_search_codes(a, codes, sc, N, NULL, qs, NQ, D, K, met, ids, scores, NULL) ==
                VEC_OK);
          uint8_t *c2 = malloc(N * 64);
          float *sc2 = malloc(N * 4 * sizeof(float));
          CHECK(c2 && sc2);
          rc = vec_codec_needs_training(b) ? vec_codec_train(b, x, N, D) : VEC_OK;
          CHECK(rc == VEC_OK && vec_codec_encode(b, x, N, D, c2, sc2, NULL) == VEC_OK);
          CHECK(vec_search_codes(b, c2, sc2, N, NULL, q, NQ, D, K, met, base, s2, NULL) == VEC_OK);
          for (size_t j = 0; j < NQ; j++) {
            double got = recall_vs(ids + j * K, truth + j * K, K),
                   want = recall_vs(base + j * K, truth + j * K, K);
            CHECKF(got >= want - 0.2, "%s at %g metric %d query %zu: recall %.2f, unscaled %.2f",
                   name, (double)mags[t], m, j, got, want);
            for (size_t i = 0; i < K; i++)
              CHECKF(!isnan(scores[j * K + i]) &&
                         !(scores[j * K + i] == 0 && signbit(scores[j * K + i])),
                     "%s at %g metric %d: score %g", name, (double)mags[t], m,
                     (double)scores[j * K + i]);
          }
          /* Rescoring with the codes reproduces the search's own scores. */
          for (size_t j = 0; j < NQ; j++)
            for (size_t i = 0; i < 4 * K; i++)
              cand[j * 4 * K + i] = i < K ? ids[j * K + i] : (uint64_t)(i * 7 % N);
          CHECK(vec_rescore_codes(a, codes, sc, N, NULL, qs, NQ, D, cand, 4 * K, K, met, base, s2,
                                  NULL) == VEC_OK);
          CHECKF(memcmp(ids, base, sizeof ids) == 0 && memcmp(scores, s2, sizeof s2) == 0,
                 "%s rescore_codes at %g metric %d", name, (double)mags[t], m);
          /* Exact rescoring (by bound where the codec has one, else oversampled) ranks exactly. */
          for (int by_bound = 0; by_bound < 2; by_bound++) {
            if (by_bound && !vec_search_has_bounds(a)) continue;
            CHECK(vec_search_rescore(a, codes, sc, N, xs, D, NULL, qs, NQ, D, K, met,
                                     by_bound ? 0.0 : 40.0, 1.0, ids, scores, NULL,
                                     NULL) == VEC_OK);
            for (size_t j = 0; j < NQ; j++)
              CHECKF(check_extreme(xs, N, D, qs + j * D, K, met, ids + j * K, scores + j * K),
                     "%s rescored (bound %d) at %g metric %d query %zu", name, by_bound,
                     (double)mags[t], m, j);
          }
          free(c2);
          free(sc2);
        }
        vec_codec_free(a);
        vec_codec_free(b);
      }
    }
  }
  free(x);
  free(xs);
  free(sc);
  free(codes);
}

const vt_test search_tests[] = {
    {"codes_match_reference", codes_match_reference},
    {"f32_matches_reference", f32_matches_reference},
    {"ties_by_lower_row", ties_by_lower_row},
    {"padding", padding},
    {"threads_identical", threads_identical},
    {"rescore_recovers_float_topk", rescore_recovers_float_topk},
    {"hooks_drive_search", hooks_drive_search},
    {"query_split_identical", query_split_identical},
    {"rescore_codes_matches_search", rescore_codes_matches_search},
    {"search_rescore_bound_and_oversample", search_rescore_bound_and_oversample},
    {"heap_filter_exact", heap_filter_exact},
    {"every_isa", every_isa},
    {"errors", errors},
    {"extreme_magnitudes", extreme_magnitudes},
};
const size_t search_count = sizeof search_tests / sizeof search_tests[0];
