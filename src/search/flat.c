/* flat.c: exhaustive top-k search over encoded rows (and over float32 rows, the exact baseline).
 *
 * Codes are decoded a tile at a time into a small buffer by the codec's own decode ops, then every
 * query of the batch is scored against the tile while it sits in cache. Each query keeps a bounded
 * heap of its k best (score, row) pairs, so memory is O(nq * k) whatever n is. The order is total
 * (score, then lower row first), which makes the top k unique: merging the heaps of threads in any
 * order gives the same answer, so results do not depend on the thread count. Every score goes
 * through the same dot-product routine with a fixed summation order, so a row scores the same bits
 * whichever tile, chunk or thread it falls in.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../codecs/codec_impl.h"
#include "../engine/parallel.h"
#include "search_kernels.h"

#define TILE_ROWS 128 /* rows decoded at once: 128 x d floats stays in L2 for usual d */

/* ---------------------------------------------------------------------------------------------
 * Dot products. Eight interleaved partial sums in a fixed order: the compiler vectorises the lane
 * loop without reassociating anything, and dot4 computes each of its rows with exactly the
 * arithmetic of dot, so the two are interchangeable bit for bit.
 * ------------------------------------------------------------------------------------------- */
static inline float lanes_sum(const float s[8]) {
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static float dot(const float *a, const float *b, size_t d) {
  float s[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; l++) s[l] += a[j + l] * b[j + l];
  for (int l = 0; j + (size_t)l < d; l++) s[l] += a[j + l] * b[j + l];
  return lanes_sum(s);
}

/* One query against four rows at once: the query is loaded once for four rows. */
static void dot4(const float *q, const float *x0, const float *x1, const float *x2, const float *x3,
                 size_t d, float out[4]) {
  float s0[8] = {0}, s1[8] = {0}, s2[8] = {0}, s3[8] = {0};
  size_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; l++) {
      float v = q[j + l];
      s0[l] += v * x0[j + l];
      s1[l] += v * x1[j + l];
      s2[l] += v * x2[j + l];
      s3[l] += v * x3[j + l];
    }
  for (int l = 0; j + (size_t)l < d; l++) {
    float v = q[j + l];
    s0[l] += v * x0[j + l];
    s1[l] += v * x1[j + l];
    s2[l] += v * x2[j + l];
    s3[l] += v * x3[j + l];
  }
  out[0] = lanes_sum(s0);
  out[1] = lanes_sum(s1);
  out[2] = lanes_sum(s2);
  out[3] = lanes_sum(s3);
}

void vec_dots_scalar(const float *q, const float *rows, size_t ld, size_t nr, size_t d,
                     float *out) {
  size_t r = 0;
  for (; r + 4 <= nr; r += 4)
    dot4(q, rows + r * ld, rows + (r + 1) * ld, rows + (r + 2) * ld, rows + (r + 3) * ld, d,
         out + r);
  for (; r < nr; r++) out[r] = dot(q, rows + r * ld, d);
}

/* The active instruction set's kernel; NEON has none of its own yet and uses the scalar one. */
static vec_dots_fn pick_dots(void) {
#if defined(VEC_HAVE_X86_KERNELS)
  switch (vec_active_isa()) {
  case VEC_ISA_AVX512: return vec_dots_avx512;
  case VEC_ISA_AVX2: return vec_dots_avx2;
  default: break;
  }
#endif
  return vec_dots_scalar;
}

static inline float dot1(vec_dots_fn f, const float *a, const float *b, size_t d) {
  float r;
  f(a, b, 0, 1, d, &r);
  return r;
}

/* ---------------------------------------------------------------------------------------------
 * Bounded heaps. Keys are "larger is better" (L2 distances are negated, which is exact); the root
 * holds the worst kept entry. NaN (only from overflow in the arithmetic) ranks below everything.
 * ------------------------------------------------------------------------------------------- */
typedef struct hent {
  float key;
  uint64_t id;
} hent;

static inline int better(hent a, hent b) {
  if (a.key > b.key) return 1;
  if (a.key < b.key) return 0;
  if (a.key == b.key) return a.id < b.id;
  if (isnan(a.key) != isnan(b.key)) return isnan(b.key);
  return a.id < b.id;
}

typedef struct heap {
  hent *e;
  size_t n, k;
} heap;

static void heap_sift_down(heap *h, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, w = i;
    if (l < h->n && better(h->e[w], h->e[l])) w = l;
    if (l + 1 < h->n && better(h->e[w], h->e[l + 1])) w = l + 1;
    if (w == i) return;
    hent t = h->e[i];
    h->e[i] = h->e[w];
    h->e[w] = t;
    i = w;
  }
}

static void heap_push(heap *h, hent v) {
  if (h->n < h->k) {
    size_t i = h->n++;
    h->e[i] = v;
    while (i > 0) {
      size_t p = (i - 1) / 2;
      if (!better(h->e[p], h->e[i])) break;
      hent t = h->e[i];
      h->e[i] = h->e[p];
      h->e[p] = t;
      i = p;
    }
  } else if (better(v, h->e[0])) {
    h->e[0] = v;
    heap_sift_down(h, 0);
  }
}

static int heap_contains(const heap *h, uint64_t id) {
  for (size_t i = 0; i < h->n; i++)
    if (h->e[i].id == id) return 1;
  return 0;
}

static int cmp_hent(const void *pa, const void *pb) {
  hent a = *(const hent *)pa, b = *(const hent *)pb;
  return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* Sorts the heap best first and writes k slots, padding with UINT64_MAX / NaN. */
static void heap_emit(heap *h, vec_metric metric, uint64_t *ids, float *scores) {
  qsort(h->e, h->n, sizeof(hent), cmp_hent);
  for (size_t i = 0; i < h->k; i++) {
    if (i < h->n) {
      ids[i] = h->e[i].id;
      scores[i] = metric == VEC_METRIC_L2 ? -h->e[i].key : h->e[i].key;
    } else {
      ids[i] = UINT64_MAX;
      scores[i] = NAN;
    }
  }
}

/* ---------------------------------------------------------------------------------------------
 * The search job shared by every chunk.
 * ------------------------------------------------------------------------------------------- */
typedef struct search_ctx {
  const vec_codec *codec; /* NULL: float32 rows at x */
  const uint8_t *codes;
  const float *scales;
  size_t cs, sc;
  const float *x;
  size_t ldx;
  size_t d;
  const float *row_sqnorms; /* may be NULL */
  const float *queries;
  size_t nq, ldq, k;
  vec_metric metric;
  const float *qsq;   /* |q_j|^2 */
  const float *qnorm; /* |q_j| */
  vec_dots_fn dots;
  heap *heaps;   /* nq global heaps, merged into under lock */
  float *sq_out; /* vec_codes_sqnorms' output */
  pthread_mutex_t lock;
} search_ctx;

static float make_key(const search_ctx *s, size_t j, float ip, float xsq) {
  switch (s->metric) {
  case VEC_METRIC_COSINE: {
    float den = s->qnorm[j] * sqrtf(xsq);
    return den > 0.0f ? ip / den : 0.0f;
  }
  case VEC_METRIC_L2: {
    /* The expansion reuses the dot product; clamp the rounding noise of near-equal vectors. */
    float l2 = (s->qsq[j] + xsq) - 2.0f * ip;
    return -(l2 > 0.0f ? l2 : 0.0f);
  }
  default: return ip;
  }
}

/* Scores rows [begin, end) into local heaps, then merges them into the shared ones. */
static int search_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  search_ctx *s = vctx;
  (void)bad_row;
  size_t d = s->d, nq = s->nq, k = s->k;
  size_t rows = end - begin;
  size_t hk = k < rows ? k : rows;
  float *tile = NULL;
  if (s->codec) {
    tile = malloc(TILE_ROWS * d * sizeof(float));
    if (!tile) return VEC_E_NOMEM;
  }
  heap *hs = malloc(nq * sizeof(heap));
  hent *store = malloc(nq * hk * sizeof(hent));
  if (!hs || !store) {
    free(tile);
    free(hs);
    free(store);
    return VEC_E_NOMEM;
  }
  for (size_t j = 0; j < nq; j++) hs[j] = (heap){store + j * hk, 0, hk};
  int need_sq = s->metric != VEC_METRIC_IP;
  float sq[TILE_ROWS], ip[TILE_ROWS];
  for (size_t t0 = begin; t0 < end; t0 += TILE_ROWS) {
    size_t tn = end - t0 < TILE_ROWS ? end - t0 : TILE_ROWS;
    const float *rowp;
    size_t ld;
    if (s->codec) {
      s->codec->ops->decode(s->codec, s->codes + t0 * s->cs,
                            s->scales ? s->scales + t0 * s->sc : NULL, tn, tile, d, 0);
      rowp = tile;
      ld = d;
    } else {
      rowp = s->x + t0 * s->ldx;
      ld = s->ldx;
    }
    if (need_sq)
      for (size_t r = 0; r < tn; r++)
        sq[r] = s->row_sqnorms ? s->row_sqnorms[t0 + r]
                               : dot1(s->dots, rowp + r * ld, rowp + r * ld, d);
    for (size_t j = 0; j < nq; j++) {
      const float *q = s->queries + j * s->ldq;
      heap *h = &hs[j];
      s->dots(q, rowp, ld, tn, d, ip);
      for (size_t r = 0; r < tn; r++)
        heap_push(h, (hent){make_key(s, j, ip[r], need_sq ? sq[r] : 0.0f), t0 + r});
    }
  }
  /* The order (score, row) is total, so merge order cannot change the result. */
  pthread_mutex_lock(&s->lock);
  for (size_t j = 0; j < nq; j++)
    for (size_t i = 0; i < hs[j].n; i++) heap_push(&s->heaps[j], hs[j].e[i]);
  pthread_mutex_unlock(&s->lock);
  free(tile);
  free(hs);
  free(store);
  return VEC_OK;
}

/* |x̂_i|^2 with the same dot() the search uses, so passed-in norms change no score. */
static int sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  const search_ctx *s = vctx;
  (void)bad_row;
  size_t d = s->d;
  float *tile = malloc(TILE_ROWS * d * sizeof(float));
  if (!tile) return VEC_E_NOMEM;
  float *out = s->sq_out;
  for (size_t t0 = begin; t0 < end; t0 += TILE_ROWS) {
    size_t tn = end - t0 < TILE_ROWS ? end - t0 : TILE_ROWS;
    s->codec->ops->decode(s->codec, s->codes + t0 * s->cs,
                          s->scales ? s->scales + t0 * s->sc : NULL, tn, tile, d, 0);
    for (size_t r = 0; r < tn; r++) out[t0 + r] = dot1(s->dots, tile + r * d, tile + r * d, d);
  }
  free(tile);
  return VEC_OK;
}

/* Checks queries (finite; non-zero for cosine) and fills |q|^2 and |q|. */
static int prepare_queries(vec_dots_fn dots, const char *fn, const float *queries, size_t nq,
                           size_t ldq, size_t d, vec_metric metric, float *qsq, float *qnorm) {
  for (size_t j = 0; j < nq; j++) {
    const float *q = queries + j * ldq;
    for (size_t i = 0; i < d; i++)
      if (!isfinite(q[i]))
        return vec_fail(VEC_E_NONFINITE, (long long)j, "%s: query %zu holds NaN or Inf", fn, j);
    qsq[j] = dot1(dots, q, q, d);
    qnorm[j] = sqrtf(qsq[j]);
    if (metric == VEC_METRIC_COSINE && !(qsq[j] > 0.0f))
      return vec_fail(VEC_E_INVALID_ARG, (long long)j,
                      "%s: query %zu has norm 0, which has no cosine", fn, j);
  }
  return VEC_OK;
}

static int check_common(const char *fn, const float *queries, size_t nq, size_t ldq, size_t d,
                        size_t k, vec_metric metric, const uint64_t *ids, const float *scores) {
  if (k == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: k must be >= 1", fn);
  if (metric != VEC_METRIC_IP && metric != VEC_METRIC_COSINE && metric != VEC_METRIC_L2)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: unknown metric %d", fn, (int)metric);
  if (ldq < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldq (%zu) must be >= d (%zu)", fn, ldq, d);
  if (nq && (!queries || !ids || !scores))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL buffer with nq = %zu", fn, nq);
  size_t bytes;
  if (!vec_mul_ok(nq, k, &bytes) || !vec_mul_ok(bytes, sizeof(hent), &bytes) ||
      !vec_mul_ok(nq, ldq, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq (%zu) x k (%zu) or x ldq overflows", fn, nq, k);
  return VEC_OK;
}

/* The shared driver: s has the database fields set. */
static int run_search(const char *fn, search_ctx *s, size_t n, uint64_t *ids, float *scores,
                      const vec_batch_opts *opts) {
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  size_t nq = s->nq, k = s->k;
  float *qbuf = malloc(2 * (nq ? nq : 1) * sizeof(float));
  size_t hk = k < n ? k : n;
  heap *hs = malloc((nq ? nq : 1) * sizeof(heap));
  hent *store = malloc((nq * hk > 0 ? nq * hk : 1) * sizeof(hent));
  if (!qbuf || !hs || !store) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu x %zu results", fn, nq, k);
    goto out;
  }
  s->qsq = qbuf;
  s->qnorm = qbuf + nq;
  rc = prepare_queries(s->dots, fn, s->queries, nq, s->ldq, s->d, s->metric, qbuf, qbuf + nq);
  if (rc) goto out;
  for (size_t j = 0; j < nq; j++) hs[j] = (heap){store + j * hk, 0, hk};
  s->heaps = hs;
  if (n && nq) {
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
      rc = vec_fail(VEC_E_THREAD, -1, "%s: cannot create a mutex", fn);
      goto out;
    }
    /* Bytes per row size the chunks and decide whether threads pay: the row's own bytes plus a
     * capped share of the query batch. Uncapped, a large batch would shrink chunks to a few rows,
     * each paying an allocation and a merge of nq * k entries under the lock. */
    size_t row_bytes = (s->codec ? s->cs : s->d * sizeof(float)) + (nq < 4 ? nq : 4) * s->d;
    size_t bad;
    rc = vec_parallel_rows(n, row_bytes, search_rows, s, &o, &bad);
    pthread_mutex_destroy(&s->lock);
    if (rc == VEC_E_CANCELLED) {
      rc = vec_fail(rc, -1, "cancelled by the progress callback");
      goto out;
    }
    if (rc) {
      rc = vec_fail(rc, -1, "%s: out of memory in a worker", fn);
      goto out;
    }
  } else if (o.progress && o.progress(o.progress_user, 0, 0)) {
    rc = vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
    goto out;
  }
  for (size_t j = 0; j < nq; j++) {
    hs[j].k = hk;
    heap tmp = hs[j];
    tmp.k = k; /* emit pads to k slots */
    heap_emit(&tmp, s->metric, ids + j * k, scores + j * k);
  }
out:
  free(qbuf);
  free(hs);
  free(store);
  return rc;
}

int vec_search_codes(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                     const float *row_sqnorms, const float *queries, size_t nq, size_t ldq,
                     size_t k, vec_metric metric, uint64_t *ids, float *scores,
                     const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_codes";
  vec_clear_error();
  if (!codec) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL codec", fn);
  int rc = check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores);
  if (rc) return rc;
  if (!codec->trained)
    return vec_fail(VEC_E_NOT_TRAINED, -1, "%s: codec '%s' must be trained first", fn,
                    codec->ops->name);
  search_ctx s;
  memset(&s, 0, sizeof s);
  s.codec = codec;
  s.cs = codec->ops->code_size(codec);
  s.sc = codec->ops->scale_count(codec);
  size_t bytes;
  if (!vec_mul_ok(n, s.cs, &bytes) || !vec_mul_ok(n, s.sc + 1, &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) overflows", fn, n);
  if (n && (!codes || (s.sc && !scales)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL buffer with n = %zu", fn, n);
  /* Scales come from outside (a file, a user): refuse corrupt ones as vec_codec_decode does. */
  for (size_t i = 0; i < n * s.sc; i++)
    if (!(scales[i] >= 0.0f) || isinf(scales[i]))
      return vec_fail(VEC_E_INVALID_ARG, (long long)(i / s.sc),
                      "%s: row %zu has scale %g: scales must be finite and >= 0", fn, i / s.sc,
                      (double)scales[i]);
  s.codes = codes;
  s.scales = scales;
  s.d = codec->d;
  s.row_sqnorms = row_sqnorms;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  s.dots = pick_dots();
  return run_search(fn, &s, n, ids, scores, opts);
}

/* The float32 entry points take no d: the signature (fixed by the API) has none, so d is the query
 * stride ldq, i.e. queries are packed rows of d floats, and database rows need ldx >= ldq. */
int vec_search_f32(const float *x, size_t n, size_t ldx, const float *queries, size_t nq,
                   size_t ldq, size_t k, vec_metric metric, uint64_t *ids, float *scores,
                   const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_f32";
  vec_clear_error();
  size_t d = ldq;
  if (d == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldq (= d) must be >= 1", fn);
  int rc = check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc) return rc;
  if (ldx < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldx (%zu) must be >= d = ldq (%zu)", fn, ldx, d);
  size_t bytes;
  if (!vec_mul_ok(n, ldx, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) x ldx (%zu) overflows", fn, n, ldx);
  if (n && !x) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL x with n = %zu", fn, n);
  search_ctx s;
  memset(&s, 0, sizeof s);
  s.x = x;
  s.ldx = ldx;
  s.d = d;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  s.dots = pick_dots();
  return run_search(fn, &s, n, ids, scores, opts);
}

int vec_rescore(const float *x, size_t n, size_t ldx, const float *queries, size_t nq, size_t ldq,
                const uint64_t *cand, size_t m, size_t k, vec_metric metric, uint64_t *ids,
                float *scores) {
  static const char fn[] = "vec_rescore";
  vec_clear_error();
  size_t d = ldq;
  if (d == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldq (= d) must be >= 1", fn);
  int rc = check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc) return rc;
  if (ldx < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldx (%zu) must be >= d = ldq (%zu)", fn, ldx, d);
  size_t bytes;
  if (!vec_mul_ok(nq, m, &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq (%zu) x m (%zu) overflows", fn, nq, m);
  if (nq && m && (!cand || !x))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL candidates or rows", fn);
  for (size_t i = 0; i < nq * m; i++)
    if (cand[i] != UINT64_MAX && cand[i] >= n)
      return vec_fail(VEC_E_INVALID_ARG, (long long)(i / m),
                      "%s: candidate %llu of query %zu is not below n = %zu", fn,
                      (unsigned long long)cand[i], i / m, n);
  float *qbuf = malloc(2 * (nq ? nq : 1) * sizeof(float));
  hent *store = malloc(k * sizeof(hent));
  if (!qbuf || !store) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
    goto out;
  }
  vec_dots_fn dots = pick_dots();
  rc = prepare_queries(dots, fn, queries, nq, ldq, d, metric, qbuf, qbuf + nq);
  if (rc) goto out;
  search_ctx s;
  memset(&s, 0, sizeof s);
  s.metric = metric;
  s.qsq = qbuf;
  s.qnorm = qbuf + nq;
  for (size_t j = 0; j < nq; j++) {
    const float *q = queries + j * ldq;
    heap h = {store, 0, k};
    for (size_t i = 0; i < m; i++) {
      uint64_t id = cand[j * m + i];
      if (id == UINT64_MAX) continue;
      const float *row = x + id * ldx;
      /* dot() and make_key() as in the flat search: rescoring the float top-k reproduces it. */
      float ip = dot1(dots, q, row, d);
      float xsq = metric == VEC_METRIC_IP ? 0.0f : dot1(dots, row, row, d);
      hent v = {make_key(&s, j, ip, xsq), id};
      /* A repeated candidate must not take two slots. */
      if ((h.n < h.k || better(v, h.e[0])) && !heap_contains(&h, id)) heap_push(&h, v);
    }
    heap_emit(&h, metric, ids + j * k, scores + j * k);
  }
out:
  free(qbuf);
  free(store);
  return rc;
}

int vec_codes_sqnorms(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                      float *out, const vec_batch_opts *opts) {
  static const char fn[] = "vec_codes_sqnorms";
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  if (!codec) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL codec", fn);
  if (!codec->trained)
    return vec_fail(VEC_E_NOT_TRAINED, -1, "%s: codec '%s' must be trained first", fn,
                    codec->ops->name);
  search_ctx s;
  memset(&s, 0, sizeof s);
  s.codec = codec;
  s.cs = codec->ops->code_size(codec);
  s.sc = codec->ops->scale_count(codec);
  s.d = codec->d;
  size_t bytes;
  if (!vec_mul_ok(n, s.cs, &bytes) || !vec_mul_ok(n, s.sc + 1, &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) overflows", fn, n);
  if (n && (!codes || !out || (s.sc && !scales)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL buffer with n = %zu", fn, n);
  for (size_t i = 0; i < n * s.sc; i++)
    if (!(scales[i] >= 0.0f) || isinf(scales[i]))
      return vec_fail(VEC_E_INVALID_ARG, (long long)(i / s.sc),
                      "%s: row %zu has scale %g: scales must be finite and >= 0", fn, i / s.sc,
                      (double)scales[i]);
  s.codes = codes;
  s.scales = scales;
  s.sq_out = out;
  s.dots = pick_dots();
  size_t bad;
  rc = vec_parallel_rows(n, s.cs + s.d * sizeof(float), sqnorm_rows, &s, &o, &bad);
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  if (rc) return vec_fail(rc, -1, "%s: out of memory in a worker", fn);
  return VEC_OK;
}
