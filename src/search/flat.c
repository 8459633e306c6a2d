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
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../codecs/codec_impl.h"
#include "../engine/parallel.h"
#include "search.h"
#include "search_kernels.h"
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#define TILE_ROWS 128 /* rows decoded at once: 128 x d floats stays in L2 for usual d */
#define QBLOCK    8   /* queries scored per pass over a tile (a hook register-blocks over them) */

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

void vec_dots_scalar(const float *q, const float *rows, size_t ld, const uint64_t *idx, size_t nr,
                     size_t d, float *out) {
  size_t r = 0;
  for (; r + 4 <= nr; r += 4)
    dot4(q, VEC_DOTS_ROW(rows, ld, idx, r), VEC_DOTS_ROW(rows, ld, idx, r + 1),
         VEC_DOTS_ROW(rows, ld, idx, r + 2), VEC_DOTS_ROW(rows, ld, idx, r + 3), d, out + r);
  for (; r < nr; r++) out[r] = dot(q, VEC_DOTS_ROW(rows, ld, idx, r), d);
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
  f(a, b, 0, NULL, 1, d, &r);
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

/* Sorts the heap best first (heapsort: the root, the worst, goes to the end) and writes k slots,
 * padding with UINT64_MAX / NaN. */
static void heap_emit(heap *h, vec_metric metric, uint64_t *ids, float *scores) {
  size_t n = h->n, run = 1;
  while (run < n && better(h->e[run], h->e[run - 1])) run++;
  if (run >= n) { /* sorted worst first already (a reservoir's flush): reverse */
    for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
      hent t = h->e[a];
      h->e[a] = h->e[b];
      h->e[b] = t;
    }
    h->n = 0;
  }
  while (h->n > 1) {
    hent t = h->e[0];
    h->e[0] = h->e[--h->n];
    h->e[h->n] = t;
    heap_sift_down(h, 0);
  }
  h->n = n;
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
 * Scorers: one abstraction over the three ways a row gets scored. A codec with a score hook scores
 * straight from its codes against a prepared query (a quantized query, a lookup table); any other
 * codec decodes a tile and runs float dots against a copy of the float query; float32 rows are
 * their own tile. Everything above (heaps, threads, rescoring) goes through scorer_*.
 * ------------------------------------------------------------------------------------------- */
typedef struct scorer {
  const vec_codec *codec; /* NULL: float32 rows at x */
  const uint8_t *codes;
  const float *scales;
  size_t cs, sc;
  const float *x;
  size_t ldx;
  size_t d;
  int hooked;   /* codec->ops->score in use */
  size_t qsize; /* bytes of one prepared query */
  size_t qcall; /* queries per score call */
  vec_dots_fn dots;
} scorer;

static void scorer_codes(scorer *s, const vec_codec *c, const void *codes, const float *scales) {
  memset(s, 0, sizeof *s);
  s->codec = c;
  s->codes = codes;
  s->scales = scales;
  s->cs = c->ops->code_size(c);
  s->sc = c->ops->scale_count(c);
  s->d = c->d;
  s->hooked = c->ops->score && c->ops->query_prepare && c->ops->query_size &&
              (!c->ops->score_preferred || c->ops->score_preferred(c));
  s->qsize = s->hooked ? c->ops->query_size(c) : s->d * sizeof(float);
  s->qcall = s->hooked && c->ops->score_queries ? c->ops->score_queries(c) : 0;
  if (s->qcall == 0) s->qcall = QBLOCK;
  s->dots = pick_dots();
}

static void scorer_f32(scorer *s, const float *x, size_t ldx, size_t d) {
  memset(s, 0, sizeof *s);
  s->x = x;
  s->ldx = ldx;
  s->d = d;
  s->qsize = d * sizeof(float);
  s->qcall = QBLOCK;
  s->dots = pick_dots();
}

/* Prepared queries live in one 64-byte aligned block: query j at qs + j * qsize. */
static uint8_t *scorer_prepare(const scorer *s, const float *queries, size_t nq, size_t ldq) {
  size_t bytes = nq * s->qsize;
  bytes = (bytes + 63) & ~(size_t)63;
  uint8_t *qs = aligned_alloc(64, bytes ? bytes : 64);
  if (!qs) return NULL;
  for (size_t j = 0; j < nq; j++) {
    if (s->hooked)
      s->codec->ops->query_prepare(s->codec, queries + j * ldq, qs + j * s->qsize);
    else
      memcpy(qs + j * s->qsize, queries + j * ldq, s->d * sizeof(float));
  }
  return qs;
}

static inline const float *scale_ptr(const scorer *s, size_t row) {
  return s->scales && s->sc ? s->scales + row * s->sc : s->scales;
}

/* Float rows [t0, t0 + tn) for the dot path: decoded into tile, or the float32 rows themselves.
 * NULL for a hooked codec, which never needs them to score. */
static const float *scorer_rows(const scorer *s, size_t t0, size_t tn, float *tile, size_t *ld) {
  if (!s->codec) {
    *ld = s->ldx;
    return s->x + t0 * s->ldx;
  }
  if (s->hooked) return NULL;
  s->codec->ops->decode(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, tile, s->d, 0);
  *ld = s->d;
  return tile;
}

/* sq[r] = |x_r|^2 as the scorer sees the rows: the codec's sqnorms hook, else the decoded row's
 * own dot (rows: what scorer_rows gave, or NULL to decode here into tile). */
static void scorer_sqnorms(const scorer *s, size_t t0, size_t tn, const float *rows, size_t ld,
                           float *tile, float *sq) {
  if (s->codec && s->codec->ops->sqnorms) {
    s->codec->ops->sqnorms(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, sq);
    return;
  }
  if (!rows) {
    s->codec->ops->decode(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, tile, s->d, 0);
    rows = tile;
    ld = s->d;
  }
  for (size_t r = 0; r < tn; r++) sq[r] = dot1(s->dots, rows + r * ld, rows + r * ld, s->d);
}

/* ip[j * ldo + r] for nb prepared queries (at qs) and rows [t0, t0 + tn); err likewise where not
 * NULL (hooked codecs only). A row's score does not depend on tn, nb or its neighbours. */
static void scorer_score(const scorer *s, const uint8_t *qs, size_t nb, size_t t0, size_t tn,
                         const float *rows, size_t ld, float *ip, float *err, size_t ldo) {
  if (s->hooked) {
    s->codec->ops->score(s->codec, qs, nb, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, ip, err,
                         ldo);
    return;
  }
  for (size_t j = 0; j < nb; j++)
    s->dots((const float *)(const void *)(qs + j * s->qsize), rows, ld, NULL, tn, s->d,
            ip + j * ldo);
}

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
static float exact_key(const search_ctx *s, vec_dots_fn dots, size_t j, const float *row,
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
static void tile_keys(vec_metric metric, float qsq, float qnorm, const float *ip, const float *sq,
                      size_t n, float *keys) {
  if (metric == VEC_METRIC_L2) {
    for (size_t r = 0; r < n; r++) {
      float l2 = (qsq + sq[r]) - 2.0f * ip[r];
      keys[r] = -(l2 > 0.0f ? l2 : 0.0f);
    }
  } else {
    for (size_t r = 0; r < n; r++) keys[r] = make_key(metric, qsq, qnorm, ip[r], sq[r]);
  }
}

/* Bit i set where keys[i] > thr, for 16 keys (NaN compares false). */
static inline unsigned gt_mask16(const float *keys, float thr) {
#if defined(__SSE__)
  __m128 t = _mm_set1_ps(thr);
  unsigned m0 = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(keys), t));
  unsigned m1 = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(keys + 4), t));
  unsigned m2 = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(keys + 8), t));
  unsigned m3 = (unsigned)_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(keys + 12), t));
  return m0 | m1 << 4 | m2 << 8 | m3 << 12;
#else
  unsigned m = 0;
  for (unsigned i = 0; i < 16; i++) m |= (unsigned)(keys[i] > thr) << i;
  return m;
#endif
}

/* For a small k (<= SMALL_K) a heap that starts empty is kept sorted worst first, which is a heap
 * as well (each parent worse than its children) and lets heap_emit skip its sort: an entry goes
 * in by shifting the few worse ones down, predictable where a sift-down's compares are coin flips
 * (pq-48x4, k = 10: 16% of the search time in sift-downs). */
#define SMALL_K 16
static inline void sorted_insert(heap *h, hent v) {
  size_t i;
  if (h->n < h->k) {
    for (i = h->n++; i > 0 && better(h->e[i - 1], v); i--) h->e[i] = h->e[i - 1];
  } else {
    if (!better(v, h->e[0])) return;
    for (i = 0; i + 1 < h->n && better(v, h->e[i + 1]); i++) h->e[i] = h->e[i + 1];
  }
  h->e[i] = v;
}

/* Offers rows t0 .. t0 + n - 1 with keys[] to h, an empty heap at the start of a scan (sorted:
 * through sorted_insert). Once h is full with a non-NaN root only a key above it can enter (a later
 * row never wins a tie), so runs of 16 are checked against it with one SIMD compare. */
static void push_tile(heap *h, const float *keys, size_t n, size_t t0, int sorted) {
#define PUT(i)                                                                                     \
  (sorted ? sorted_insert(h, (hent){keys[i], t0 + (i)}) : heap_push(h, (hent){keys[i], t0 + (i)}))
  size_t r = 0;
  for (; r < n && (h->n < h->k || isnan(h->e[0].key)); r++) PUT(r);
  if (r == n) return;
  float thr = h->e[0].key;
  for (; r + 16 <= n; r += 16)
    for (unsigned m = gt_mask16(keys + r, thr); m; m &= m - 1) {
      size_t i = r + (size_t)__builtin_ctz(m);
      if (keys[i] > thr) PUT(i), thr = h->e[0].key;
    }
  for (; r < n; r++)
    if (keys[r] > thr) PUT(r), thr = h->e[0].key;
#undef PUT
}

/* A key as a uint32 whose unsigned order is better()'s order of keys: NaN lowest (0), -0 = +0. */
static inline uint32_t key_rank(float f) {
  if (isnan(f)) return 0;
  f += 0.0f; /* -0 + 0 = +0 */
  uint32_t u;
  memcpy(&u, &f, 4);
  return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* The (t + 1)-th largest of a[0 .. n), t < n; a is reordered. Quickselect with a median-of-three
 * pivot and branch-free partitions (the compares are coin flips to a branch predictor); the second
 * partition gathers the pivot's equals, so runs of equal keys (quantized scores) cost no more. */
static uint32_t kth_largest(uint32_t *a, size_t n, size_t t) {
  size_t lo = 0, hi = n;
  for (;;) {
    if (hi - lo <= 16) {
      for (size_t i = lo + 1; i < hi; i++) {
        uint32_t v = a[i];
        size_t j = i;
        for (; j > lo && a[j - 1] < v; j--) a[j] = a[j - 1];
        a[j] = v;
      }
      return a[t];
    }
    uint32_t x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
    uint32_t p = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    size_t i = lo, e;
    for (size_t j = lo; j < hi; j++) { /* [lo, i) > p */
      uint32_t v = a[j];
      a[j] = a[i];
      a[i] = v;
      i += v > p;
    }
    if (t < i) {
      hi = i;
      continue;
    }
    e = i;
    for (size_t j = i; j < hi; j++) { /* [i, e) == p */
      uint32_t v = a[j];
      a[j] = a[e];
      a[e] = v;
      e += v == p;
    }
    if (t < e) return p;
    lo = e;
  }
}

/* A reservoir of candidates for one query's top k: rows are appended while they beat thr, the k-th
 * best key of the last compaction, and when the buffer fills a quickselect keeps the k best and
 * raises thr. A heap pays log k per accepted row, which with k = 100 (a rescoring pass's
 * candidates) cost more than the fast-scan kernels; this pays about 2 compares. The same total
 * order decides what is kept, so the top k is the heap's. Rows come in increasing order, so a key
 * equal to thr (a later row) can never displace the k-th: the filter is a strict >. */
typedef struct reservoir {
  hent *e; /* entries of equal key in increasing row order (see res_compact) */
  size_t n, k, cap;
  float thr;
  int armed;         /* thr valid: some compaction left a non-NaN k-th key */
  uint32_t *scratch; /* 2 * cap entries, shared by a scan's reservoirs */
  hent *tmp;         /* cap entries, shared likewise */
} reservoir;

/* Keeps the k best: those whose key ranks above the k-th's, then of the keys equal to it the
 * earliest rows, which the order (key, lower row) prefers. */
static void res_compact(reservoir *v) {
  uint32_t *rank = v->scratch, *sel = v->scratch + v->cap, tu;
  size_t n = v->n, w = 0, nt = 0;
  for (size_t r = 0; r < n; r++) sel[r] = rank[r] = key_rank(v->e[r].key);
  tu = kth_largest(sel, n, v->k - 1);
  /* Branch-free (keep is a coin flip): those above the k-th stay in place, those equal to it go
   * to tmp, and the earliest of them fill the remaining places. The buffer is then no longer in
   * row order, but entries of equal key still are, which is all ties need: a later compaction's
   * k-th either equals this one (the tmp entries, in order) or is above it (kept entries, then
   * rows added after this compaction, in order). */
  for (size_t r = 0; r < n; r++) {
    hent x = v->e[r];
    v->e[w] = x;
    w += rank[r] > tu;
    v->tmp[nt] = x;
    nt += rank[r] == tu;
  }
  for (size_t i = 0; w < v->k; i++) v->e[w++] = v->tmp[i];
  v->n = w;
  v->thr = v->tmp[0].key;
  v->armed = tu != 0; /* a NaN k-th: everything beats it, keep accepting */
}

static inline void res_add(reservoir *v, float key, uint64_t id) {
  v->e[v->n++] = (hent){key, id};
  if (v->n == v->cap) res_compact(v);
}

static void res_offer(reservoir *v, const float *keys, size_t n, size_t t0) {
  size_t r = 0;
  for (; r < n && !v->armed; r++) res_add(v, keys[r], t0 + r);
  for (; r + 16 <= n; r += 16)
    for (unsigned m = gt_mask16(keys + r, v->thr); m; m &= m - 1) {
      size_t i = r + (size_t)__builtin_ctz(m);
      if (keys[i] > v->thr) res_add(v, keys[i], t0 + i); /* thr may have risen since the mask */
    }
  for (; r < n; r++)
    if (keys[r] > v->thr) res_add(v, keys[r], t0 + r);
}

/* Sorts e[0 .. n) best first, stably by key rank, so that equal keys keep their order (in a
 * reservoir, the lower rows first): an LSD radix sort of ~rank in 8-bit digits, skipping a digit
 * every entry shares. tmp holds n entries, kr 2n. */
static void sort_best_first(hent *e, size_t n, hent *tmp, uint32_t *kr) {
  if (n < 2) return;
  if (n <= 48) { /* the radix passes' 256-bin overhead would dominate: a stable insertion sort */
    for (size_t i = 0; i < n; i++) kr[i] = key_rank(e[i].key);
    for (size_t i = 1; i < n; i++) {
      hent v = e[i];
      uint32_t x = kr[i];
      size_t j = i;
      for (; j > 0 && kr[j - 1] < x; j--) e[j] = e[j - 1], kr[j] = kr[j - 1];
      e[j] = v;
      kr[j] = x;
    }
    return;
  }
  uint32_t cnt[4][256], *ks = kr, *kd = kr + n;
  memset(cnt, 0, sizeof cnt);
  for (size_t i = 0; i < n; i++) {
    uint32_t x = ~key_rank(e[i].key);
    ks[i] = x;
    cnt[0][x & 255]++, cnt[1][x >> 8 & 255]++, cnt[2][x >> 16 & 255]++, cnt[3][x >> 24]++;
  }
  hent *src = e, *dst = tmp;
  for (unsigned b = 0; b < 4; b++) {
    unsigned sh = 8 * b;
    if (cnt[b][ks[0] >> sh & 255] == n) continue; /* one digit for all: the pass moves nothing */
    uint32_t pos[256], sum = 0;
    for (unsigned d = 0; d < 256; d++) pos[d] = sum, sum += cnt[b][d];
    for (size_t i = 0; i < n; i++) {
      uint32_t p = pos[ks[i] >> sh & 255]++;
      dst[p] = src[i];
      kd[p] = ks[i];
    }
    hent *t = src;
    src = dst, dst = t;
    uint32_t *u = ks;
    ks = kd, kd = u;
  }
  if (src != e) memcpy(e, src, n * sizeof *e);
}

/* The reservoir's k best into h, which is empty at the start of a scan. */
static void res_flush(reservoir *v, heap *h) {
  if (v->n > v->k) res_compact(v);
  /* Sorted worst first, an array is already a heap (each parent worse than its children), and
   * heap_emit finds it sorted and only reverses it: one radix sort instead of k pushes and a
   * heapsort. */
  size_t n = v->n;
  sort_best_first(v->e, n, v->tmp, v->scratch);
  for (size_t i = 0; i < n; i++) h->e[i] = v->e[n - 1 - i];
  h->n = n;
}

#define RES_MAX_K 4096 /* larger k: the plain heap, whose memory is what the caller gave */

/* Scores rows [rb, re) for queries [qb, qe) into heaps hs[0 .. qe - qb). */
static int scan(search_ctx *s, size_t rb, size_t re, size_t qb, size_t qe, heap *hs) {
  const scorer *sc = &s->sc;
  size_t d = sc->d;
  int need_sq = s->metric != VEC_METRIC_IP;
  int need_tile =
      sc->codec &&
      (!sc->hooked || (need_sq && !s->row_sqnorms && !s->bound && !sc->codec->ops->sqnorms));
  float *tile = need_tile ? malloc(TILE_ROWS * d * sizeof(float)) : NULL;
  size_t qc = sc->qcall;
  float *ip = malloc(qc * TILE_ROWS * sizeof(float));
  float *err = s->bound ? malloc(qc * TILE_ROWS * sizeof(float)) : NULL;
  if ((need_tile && !tile) || !ip || (s->bound && !err)) {
    free(tile);
    free(ip);
    free(err);
    return VEC_E_NOMEM;
  }
  /* Reservoirs for the plain top-k where k is past a dozen (pq-48x4 on the sample: a filtered heap
   * wins at k = 10, 7.7 against 8.1 us a query; the reservoir at 16, 8.6 against 9.3, and by 2x
   * at 100), bounded in memory, and short of nearly every row entering anyway. */
  size_t nres = qe - qb, hk = nres ? hs[0].k : 0, cap = 2 * hk + 48;
  int use_res = !s->bound && !s->allow && hk > 12 && hk <= RES_MAX_K && hk * 2 < re - rb;
  reservoir *res = use_res ? malloc(nres * sizeof *res) : NULL;
  hent *rstore = use_res ? malloc(nres * cap * sizeof(hent)) : NULL;
  uint32_t *rscratch = use_res ? malloc(2 * cap * sizeof(uint32_t)) : NULL;
  hent *rtmp = use_res ? malloc(cap * sizeof(hent)) : NULL;
  if (use_res && (!res || !rstore || !rscratch || !rtmp)) {
    free(tile), free(ip), free(err), free(res), free(rstore), free(rscratch), free(rtmp);
    return VEC_E_NOMEM;
  }
  for (size_t j = 0; use_res && j < nres; j++)
    res[j] = (reservoir){rstore + j * cap, 0, hs[j].k, cap, 0.0f, 0, rscratch, rtmp};
  uint64_t rescored = 0;
  float sq[TILE_ROWS], keys[TILE_ROWS];
  /* Queries go in groups whose prepared forms fit QCACHE_BYTES: every tile reads the group's
   * forms, so a batch of 8-bit PQ tables (48 KB a query) would otherwise stream from memory once
   * per tile. Rows still reach each query in increasing order. */
  size_t group = sc->qsize ? QCACHE_BYTES / sc->qsize / qc * qc : 0;
  if (group < qc) group = qc;
  for (size_t g0 = qb; g0 < qe; g0 += group) {
    size_t g1 = qe - g0 < group ? qe : g0 + group;
    for (size_t t0 = rb; t0 < re; t0 += TILE_ROWS) {
      size_t tn = re - t0 < TILE_ROWS ? re - t0 : TILE_ROWS, ld = 0;
      const float *rows = scorer_rows(sc, t0, tn, tile, &ld);
      if (need_sq) {
        if (s->bound)
          memcpy(sq, s->x_sq + t0, tn * sizeof(float));
        else if (s->row_sqnorms)
          memcpy(sq, s->row_sqnorms + t0, tn * sizeof(float));
        else
          scorer_sqnorms(sc, t0, tn, rows, ld, tile, sq);
      }
      for (size_t j0 = g0; j0 < g1; j0 += qc) {
        size_t nb = g1 - j0 < qc ? g1 - j0 : qc;
        scorer_score(sc, s->qs + j0 * sc->qsize, nb, t0, tn, rows, ld, ip, err, TILE_ROWS);
        for (size_t b = 0; b < nb; b++) {
          size_t j = j0 + b;
          heap *h = &hs[j - qb];
          const float *ipj = ip + b * TILE_ROWS;
          if (!s->bound) {
            const float *kj = ipj;
            if (s->metric != VEC_METRIC_IP) {
              tile_keys(s->metric, s->qsq[j], s->qnorm[j], ipj, sq, tn, keys);
              kj = keys;
            }
            if (s->allow) {
              /* A masked row never enters, not even into a heap that is not full yet. */
              for (size_t r = 0; r < tn; r++)
                if (allowed(s, t0 + r)) heap_push(h, (hent){kj[r], t0 + r});
            } else if (use_res)
              res_offer(&res[j - qb], kj, tn, t0);
            else
              push_tile(h, kj, tn, t0, h->k <= SMALL_K);
            continue;
          }
          /* A row is read from the originals only if its optimistic key could still enter the
           * exact top-k. The keys come first, in a loop free of the heap; once the heap is full
           * (and its k-th is not NaN) a SIMD compare of 16 against the k-th picks the few rows
           * to look at, each checked again against the k-th as it rises. A later row never wins
           * a tie, so "beats the root" is a strict >, as in better(). */
          const float *ej = err + b * TILE_ROWS;
          for (size_t r = 0; r < tn; r++)
            keys[r] = optimistic_key(s, j, ipj[r], ej[r], need_sq ? sq[r] : 0.0f);
          size_t r = 0;
          for (; r < tn && (h->n < h->k || isnan(h->e[0].key)); r++) {
            if (!allowed(s, t0 + r)) continue;
            if (h->n == h->k && !better((hent){keys[r], t0 + r}, h->e[0])) continue;
            rescored++;
            heap_push(h, (hent){exact_key(s, sc->dots, j, s->x + (t0 + r) * s->ldx, d), t0 + r});
          }
          for (; r < tn; r += 16) {
            size_t e = tn - r < 16 ? tn : r + 16;
            unsigned m = e - r == 16 ? gt_mask16(keys + r, h->e[0].key) : (1u << (e - r)) - 1u;
            for (; m; m &= m - 1) {
              size_t i = r + (size_t)__builtin_ctz(m);
              if (!(keys[i] > h->e[0].key) || !allowed(s, t0 + i))
                continue; /* cannot enter: no need to read the row */
              rescored++;
              heap_push(h, (hent){exact_key(s, sc->dots, j, s->x + (t0 + i) * s->ldx, d), t0 + i});
            }
          }
        }
      }
    }
  }
  if (s->bound) atomic_fetch_add_explicit(&s->rescored, rescored, memory_order_relaxed);
  for (size_t j = 0; use_res && j < nres; j++) res_flush(&res[j], &hs[j]);
  free(tile);
  free(ip);
  free(err);
  free(res);
  free(rstore);
  free(rscratch);
  free(rtmp);
  return VEC_OK;
}

/* Row split: rows [begin, end) for every query into local heaps, merged into the shared ones.
 * The order (score, row) is total, so merge order cannot change the result. */
static int search_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  search_ctx *s = vctx;
  (void)bad_row;
  size_t nq = s->nq, rows = end - begin;
  size_t hk = s->k < rows ? s->k : rows;
  heap *hs = malloc(nq * sizeof(heap));
  hent *store = malloc(nq * hk * sizeof(hent));
  int rc = hs && store ? VEC_OK : VEC_E_NOMEM;
  if (!rc) {
    for (size_t j = 0; j < nq; j++) hs[j] = (heap){store + j * hk, 0, hk};
    rc = scan(s, begin, end, 0, nq, hs);
  }
  if (!rc) {
    pthread_mutex_lock(&s->lock);
    for (size_t j = 0; j < nq; j++)
      for (size_t i = 0; i < hs[j].n; i++) heap_push(&s->heaps[j], hs[j].e[i]);
    pthread_mutex_unlock(&s->lock);
  }
  free(hs);
  free(store);
  return rc;
}

/* Query split: blocks [begin, end) of QBLOCK queries scan every row into their own final heaps
 * (no other worker touches them). */
static int search_queries(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  search_ctx *s = vctx;
  (void)bad_row;
  size_t qb = begin * QBLOCK, qe = end * QBLOCK < s->nq ? end * QBLOCK : s->nq;
  return scan(s, 0, s->n, qb, qe, s->heaps + qb);
}

/* Splitting by queries pays when a row split would leave threads idle (the database is too small
 * to give each one its minimum share) but there are query blocks enough to go round. */
static int choose_by_queries(size_t n, size_t row_bytes, size_t nq, const vec_batch_opts *o) {
  size_t t = o->threads ? (size_t)o->threads : (size_t)vec_default_threads();
  size_t blocks = (nq + QBLOCK - 1) / QBLOCK;
  if (t < 2 || blocks < 2) return 0;
  size_t db;
  if (!vec_mul_ok(n, row_bytes, &db)) return 0;
  return db / t < ((size_t)8 << 20);
}

/* |x_i|^2 through the scorer, so passed-in norms change no score. */
static int sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  const search_ctx *s = vctx;
  (void)bad_row;
  const scorer *sc = &s->sc;
  int need_tile = !sc->codec->ops->sqnorms;
  float *tile = need_tile ? malloc(TILE_ROWS * sc->d * sizeof(float)) : NULL;
  if (need_tile && !tile) return VEC_E_NOMEM;
  for (size_t t0 = begin; t0 < end; t0 += TILE_ROWS) {
    size_t tn = end - t0 < TILE_ROWS ? end - t0 : TILE_ROWS;
    scorer_sqnorms(sc, t0, tn, NULL, 0, tile, s->sq_out + t0);
  }
  free(tile);
  return VEC_OK;
}

/* |x_i|^2 of float rows, with the search's dot (vec_search_rescore's bounds without x_sqnorms). */
static int f32_sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  const search_ctx *s = vctx;
  (void)bad_row;
  for (size_t i = begin; i < end; i++)
    s->sq_out[i] = dot1(s->sc.dots, s->x + i * s->ldx, s->x + i * s->ldx, s->sc.d);
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

static int check_codes(const char *fn, const vec_codec *codec, const void *codes,
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
  for (size_t i = 0; i < n * sc; i++)
    if (!(scales[i] >= 0.0f) || isinf(scales[i]))
      return vec_fail(VEC_E_INVALID_ARG, (long long)(i / sc),
                      "%s: row %zu has scale %g: scales must be finite and >= 0", fn, i / sc,
                      (double)scales[i]);
  return VEC_OK;
}

static int worker_fail(const char *fn, int rc) {
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  return vec_fail(rc, -1, "%s: out of memory in a worker", fn);
}

/* The shared driver: s has the scorer and query fields set. */
static int run_search(const char *fn, search_ctx *s, uint64_t *ids, float *scores,
                      const vec_batch_opts *opts) {
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  size_t n = s->n, nq = s->nq, k = s->k, d = s->sc.d;
  float *qbuf = malloc(2 * (nq ? nq : 1) * sizeof(float));
  size_t hk = k < n ? k : n;
  heap *hs = malloc((nq ? nq : 1) * sizeof(heap));
  hent *store = malloc((nq * hk > 0 ? nq * hk : 1) * sizeof(hent));
  uint8_t *qs = NULL;
  if (!qbuf || !hs || !store) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu x %zu results", fn, nq, k);
    goto out;
  }
  s->qsq = qbuf;
  s->qnorm = qbuf + nq;
  rc = prepare_queries(s->sc.dots, fn, s->queries, nq, s->ldq, d, s->metric, qbuf, qbuf + nq);
  if (rc) goto out;
  /* Queries are prepared once per call, not per chunk: every chunk reads the same block. */
  if (!(qs = scorer_prepare(&s->sc, s->queries, nq, s->ldq))) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu prepared queries", fn, nq);
    goto out;
  }
  s->qs = qs;
  for (size_t j = 0; j < nq; j++) hs[j] = (heap){store + j * hk, 0, hk};
  s->heaps = hs;
  atomic_init(&s->rescored, 0);
  if (n && nq) {
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
      rc = vec_fail(VEC_E_THREAD, -1, "%s: cannot create a mutex", fn);
      goto out;
    }
    size_t own = s->sc.codec ? s->sc.cs : d * sizeof(float), bad;
    s->by_queries = choose_by_queries(n, own, nq, &o);
    if (s->by_queries) {
      /* A block of queries reads the whole database. */
      size_t blocks = (nq + QBLOCK - 1) / QBLOCK, db;
      db = vec_mul_ok(n, own, &db) ? db : SIZE_MAX;
      rc = vec_parallel_rows(blocks, db, search_queries, s, &o, &bad);
    } else {
      /* Bytes per row size the chunks and decide whether threads pay: the row's own bytes plus
       * a capped share of the query batch. Uncapped, a large batch would shrink chunks to a few
       * rows, each paying an allocation and a merge of nq * k entries under the lock. */
      size_t row_bytes = own + (nq < 4 ? nq : 4) * d;
      rc = vec_parallel_rows(n, row_bytes, search_rows, s, &o, &bad);
    }
    pthread_mutex_destroy(&s->lock);
    if (rc) {
      rc = worker_fail(fn, rc);
      goto out;
    }
  } else if (o.progress && o.progress(o.progress_user, 0, 0)) {
    rc = vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
    goto out;
  }
  for (size_t j = 0; j < nq; j++) {
    heap tmp = hs[j];
    tmp.k = k; /* emit pads to k slots */
    heap_emit(&tmp, s->metric, ids + j * k, scores + j * k);
  }
out:
  free(qbuf);
  free(hs);
  free(store);
  free(qs);
  return rc;
}

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
  int rc = check_codes(fn, codec, codes, scales, n);
  if (rc) return rc;
  if ((rc = check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores))) return rc;
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
  return run_search(fn, &s, ids, scores, opts);
}

static int check_f32(const char *fn, const float *x, size_t n, size_t ldx, size_t d) {
  if (ldx < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldx (%zu) must be >= d (%zu)", fn, ldx, d);
  size_t bytes;
  if (!vec_mul_ok(n, ldx, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) x ldx (%zu) overflows", fn, n, ldx);
  if (n && !x) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL x with n = %zu", fn, n);
  return VEC_OK;
}

int vec_search_f32(const float *x, size_t n, size_t ldx, size_t d, const float *queries, size_t nq,
                   size_t ldq, size_t k, vec_metric metric, uint64_t *ids, float *scores,
                   const vec_batch_opts *opts) {
  static const char fn[] = "vec_search_f32";
  vec_clear_error();
  int rc = check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc || (rc = check_f32(fn, x, n, ldx, d))) return rc;
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_f32(&s.sc, x, ldx, d);
  s.n = n;
  s.queries = queries;
  s.nq = nq;
  s.ldq = ldq;
  s.k = k;
  s.metric = metric;
  return run_search(fn, &s, ids, scores, opts);
}

/* ---------------------------------------------------------------------------------------------
 * Rescoring a candidate list, split over queries.
 * ------------------------------------------------------------------------------------------- */
typedef struct rescore_ctx {
  search_ctx s;         /* metric, queries, |q| */
  const uint64_t *cand; /* nq x m */
  size_t m;
  uint64_t *ids;
  float *scores;
  int exact; /* 1: float rows s.x; 0: codes through the scorer with prepared queries s.qs */
} rescore_ctx;

/* The fields both rescoring entry points share; the caller then sets the scorer (and x). */
static void rescore_init(rescore_ctx *c, const float *queries, size_t nq, size_t ldq, size_t k,
                         vec_metric metric, const uint64_t *cand, size_t m, uint64_t *ids,
                         float *scores) {
  memset(c, 0, sizeof *c);
  c->s.queries = queries;
  c->s.nq = nq;
  c->s.ldq = ldq;
  c->s.k = k;
  c->s.metric = metric;
  c->cand = cand;
  c->m = m;
  c->ids = ids;
  c->scores = scores;
}

static int rescore_queries(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  rescore_ctx *c = vctx;
  const search_ctx *s = &c->s;
  const scorer *sc = &s->sc;
  (void)bad_row;
  size_t k = s->k, m = c->m, d = sc->d;
  hent *store = malloc(k * sizeof(hent));
  float *tile = !c->exact && sc->codec ? malloc(d * sizeof(float)) : NULL;
  /* Exact rescoring gathers a query's candidates and scores them in one kernel call: four rows
   * at a time are four independent streams from memory, where one at a time waits on each. */
  uint64_t *cid = c->exact ? malloc((m ? m : 1) * sizeof(uint64_t)) : NULL;
  float *cip = c->exact ? malloc((m ? m : 1) * sizeof(float)) : NULL;
  if (!store || (!c->exact && sc->codec && !tile) || (c->exact && (!cid || !cip))) {
    free(store), free(tile), free(cid), free(cip);
    return VEC_E_NOMEM;
  }
  for (size_t j = begin; j < end; j++) {
    heap h = {store, 0, k};
    if (c->exact) {
      size_t nc = 0;
      for (size_t i = 0; i < m; i++)
        if (c->cand[j * m + i] != UINT64_MAX) cid[nc++] = c->cand[j * m + i];
      /* dots() and make_key() as in the flat search: rescoring the float top-k reproduces it
       * (a kernel's per-row arithmetic does not depend on the rows beside it). */
      sc->dots(s->queries + j * s->ldq, s->x, s->ldx, cid, nc, d, cip);
      for (size_t i = 0; i < nc; i++) {
        const float *row = s->x + cid[i] * s->ldx;
        float xsq = s->metric == VEC_METRIC_IP ? 0.0f : dot1(sc->dots, row, row, d);
        hent v = {make_key(s->metric, s->qsq[j], s->qnorm[j], cip[i], xsq), cid[i]};
        /* A repeated candidate must not take two slots. */
        if ((h.n < h.k || better(v, h.e[0])) && !heap_contains(&h, v.id)) heap_push(&h, v);
      }
      heap_emit(&h, s->metric, c->ids + j * k, c->scores + j * k);
      continue;
    }
    for (size_t i = 0; i < m; i++) {
      uint64_t id = c->cand[j * m + i];
      if (id == UINT64_MAX) continue;
      /* One row through the scorer: its estimate does not depend on the rows beside it, so the
       * key equals vec_search_codes' bit for bit. */
      size_t ld = 0;
      const float *rows = scorer_rows(sc, (size_t)id, 1, tile, &ld);
      float ip, xsq = 0.0f;
      scorer_score(sc, s->qs + j * sc->qsize, 1, (size_t)id, 1, rows, ld, &ip, NULL, 1);
      if (s->metric != VEC_METRIC_IP) {
        if (s->row_sqnorms)
          xsq = s->row_sqnorms[id];
        else
          scorer_sqnorms(sc, (size_t)id, 1, rows, ld, tile, &xsq);
      }
      hent v = {make_key(s->metric, s->qsq[j], s->qnorm[j], ip, xsq), id};
      if ((h.n < h.k || better(v, h.e[0])) && !heap_contains(&h, id)) heap_push(&h, v);
    }
    heap_emit(&h, s->metric, c->ids + j * k, c->scores + j * k);
  }
  free(store), free(tile), free(cid), free(cip);
  return VEC_OK;
}

static int check_cand(const char *fn, const uint64_t *cand, size_t nq, size_t m, size_t n) {
  size_t bytes;
  if (!vec_mul_ok(nq, m, &bytes) || !vec_mul_ok(bytes, sizeof(uint64_t), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq (%zu) x m (%zu) overflows", fn, nq, m);
  if (nq && m && !cand) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL candidates", fn);
  for (size_t i = 0; i < nq * m; i++)
    if (cand[i] != UINT64_MAX && cand[i] >= n)
      return vec_fail(VEC_E_INVALID_ARG, (long long)(i / m),
                      "%s: candidate %llu of query %zu is not below n = %zu", fn,
                      (unsigned long long)cand[i], i / m, n);
  return VEC_OK;
}

static int run_rescore(const char *fn, rescore_ctx *c, const vec_batch_opts *opts) {
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  search_ctx *s = &c->s;
  size_t nq = s->nq;
  float *qbuf = malloc(2 * (nq ? nq : 1) * sizeof(float));
  uint8_t *qs = NULL;
  if (!qbuf) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  s->qsq = qbuf;
  s->qnorm = qbuf + nq;
  rc = prepare_queries(s->sc.dots, fn, s->queries, nq, s->ldq, s->sc.d, s->metric, qbuf, qbuf + nq);
  if (!rc && !c->exact && !(qs = scorer_prepare(&s->sc, s->queries, nq, s->ldq)))
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu prepared queries", fn, nq);
  if (!rc) {
    s->qs = qs;
    size_t per_query = c->m * (c->exact ? s->sc.d * sizeof(float) : s->sc.cs + 4), bad;
    if ((rc = vec_parallel_rows(nq, per_query ? per_query : 1, rescore_queries, c, &o, &bad)))
      rc = worker_fail(fn, rc);
  }
  free(qbuf);
  free(qs);
  return rc;
}

int vec_rescore(const float *x, size_t n, size_t ldx, size_t d, const float *queries, size_t nq,
                size_t ldq, const uint64_t *cand, size_t m, size_t k, vec_metric metric,
                uint64_t *ids, float *scores, const vec_batch_opts *opts) {
  static const char fn[] = "vec_rescore";
  vec_clear_error();
  int rc = check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc || (rc = check_f32(fn, x, n, ldx, d)) || (rc = check_cand(fn, cand, nq, m, n))) return rc;
  rescore_ctx c;
  rescore_init(&c, queries, nq, ldq, k, metric, cand, m, ids, scores);
  scorer_f32(&c.s.sc, x, ldx, d);
  c.s.x = x;
  c.s.ldx = ldx;
  c.exact = 1;
  return run_rescore(fn, &c, opts);
}

int vec_rescore_codes(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                      const float *row_sqnorms, const float *queries, size_t nq, size_t ldq,
                      const uint64_t *cand, size_t m, size_t k, vec_metric metric, uint64_t *ids,
                      float *scores, const vec_batch_opts *opts) {
  static const char fn[] = "vec_rescore_codes";
  vec_clear_error();
  int rc = check_codes(fn, codec, codes, scales, n);
  if (rc || (rc = check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores)) ||
      (rc = check_cand(fn, cand, nq, m, n)))
    return rc;
  rescore_ctx c;
  rescore_init(&c, queries, nq, ldq, k, metric, cand, m, ids, scores);
  scorer_codes(&c.s.sc, codec, codes, scales);
  c.s.row_sqnorms = row_sqnorms;
  return run_rescore(fn, &c, opts);
}

/* ---------------------------------------------------------------------------------------------
 * Search with rescoring: by error bound where the codec gives one, else by oversampling.
 * ------------------------------------------------------------------------------------------- */
static int has_bounds(const vec_codec *c) {
  return c && c->ops->bounded && c->ops->score && c->ops->query_prepare && c->ops->query_size;
}

int vec_search_has_bounds(const vec_codec *codec) { return has_bounds(codec); }

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
  int rc = check_codes(fn, codec, codes, scales, n);
  if (rc || (rc = check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores)) ||
      (rc = check_f32(fn, x, n, ldx, codec->d)))
    return rc;
  if (!(oversample == 0.0 || (oversample >= 1.0 && oversample <= 1e6)))
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "%s: oversample must be 0 (by error bound) or in [1, 1e6], got %g", fn,
                    oversample);
  int by_bound = oversample == 0.0;
  if (by_bound && !(bound_scale > 0.0 && bound_scale <= 16.0))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: bound_scale must be in (0, 16], got %g", fn,
                    bound_scale);
  if (by_bound && !has_bounds(codec))
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
      if ((rc =
               vec_parallel_rows(n, codec->d * sizeof(float), f32_sqnorm_rows, &s, &quiet, &bad))) {
        free(own_sq);
        return worker_fail(fn, rc);
      }
      s.x_sq = own_sq;
    }
  }
  rc = run_search(fn, &s, ids, scores, &o);
  free(own_sq);
  if (!rc && stats) {
    stats->scanned = (uint64_t)n * nq;
    stats->rescored = atomic_load(&s.rescored);
  }
  return rc;
}

int vec_codes_sqnorms(const vec_codec *codec, const void *codes, const float *scales, size_t n,
                      float *out, const vec_batch_opts *opts) {
  static const char fn[] = "vec_codes_sqnorms";
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc || (rc = check_codes(fn, codec, codes, scales, n))) return rc;
  if (n && !out) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL out with n = %zu", fn, n);
  search_ctx s;
  memset(&s, 0, sizeof s);
  scorer_codes(&s.sc, codec, codes, scales);
  s.sq_out = out;
  size_t bad;
  rc = vec_parallel_rows(n, s.sc.cs + s.sc.d * sizeof(float), sqnorm_rows, &s, &o, &bad);
  return rc ? worker_fail(fn, rc) : VEC_OK;
}
