/* topk.h: top-k selection: bounded heaps ordered by (key, row), sorted insertion for small k, and a
 * reservoir with k-th selection (radix) for larger k. Header-only: the scan inlines them. */
#ifndef VEC_SEARCH_TOPK_H
#define VEC_SEARCH_TOPK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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

static inline void heap_sift_down(heap *h, size_t i) {
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

static inline void heap_push(heap *h, hent v) {
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

static inline int heap_contains(const heap *h, uint64_t id) {
  for (size_t i = 0; i < h->n; i++)
    if (h->e[i].id == id) return 1;
  return 0;
}

/* Sorts the heap best first (heapsort: the root, the worst, goes to the end) and writes k slots,
 * padding with UINT64_MAX / NaN. */
static inline void heap_emit(heap *h, vec_metric metric, uint64_t *ids, float *scores) {
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
static inline void push_tile(heap *h, const float *keys, size_t n, size_t t0, int sorted) {
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
static inline uint32_t kth_largest(uint32_t *a, size_t n, size_t t) {
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
static inline void res_compact(reservoir *v) {
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

static inline void res_offer(reservoir *v, const float *keys, size_t n, size_t t0) {
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
static inline void sort_best_first(hent *e, size_t n, hent *tmp, uint32_t *kr) {
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
static inline void res_flush(reservoir *v, heap *h) {
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

#endif
