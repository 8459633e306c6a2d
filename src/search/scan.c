/* scan.c: the flat scan: tiles of rows scored for a group of queries into top-k heaps or
 * reservoirs (skipping rows outside the allow bitmap), the row or query split over threads, and
 * the driver every entry point runs. */
#include <float.h>

#include "search_impl.h"

/* The keys of a tile (kj: keys, or the raw ips for IP) with every row of extreme magnitude
 * scored again in double (key_double) from its float values: the rows themselves, or that row
 * decoded into one. Returns the array holding the keys (keys when anything was fixed). */
static const float *fix_extreme_keys(const search_ctx *s, size_t j, size_t t0, size_t tn,
                                     const float *rows, size_t ld, const float *ipj,
                                     const float *sq, const float *kj, float *keys, float *one) {
  const scorer *sc = &s->sc;
  int ip_only = s->metric == VEC_METRIC_IP, any = 0;
  /* First a branch-free pass the compiler vectorizes: nearly every tile has no such row. */
  for (size_t r = 0; r < tn; r++) {
    any |= !(fabsf(ipj[r]) <= FLT_MAX);
    if (!ip_only) any |= !(sq[r] >= SAFE_SQ_LO) | !(sq[r] <= SAFE_SQ_HI);
  }
  if (!any) return kj;
  for (size_t r = 0; r < tn; r++) {
    if (!key_unsafe(s->metric, ipj[r], ip_only ? 0.0f : sq[r])) continue;
    if (kj != keys) {
      memcpy(keys, kj, tn * sizeof(float));
      kj = keys;
    }
    const float *x = rows ? rows + r * ld : one;
    if (!rows)
      sc->codec->ops->decode(sc->codec, sc->codes + (t0 + r) * sc->cs, scale_ptr(sc, t0 + r), 1,
                             one, sc->d, 0);
    keys[r] = key_double(s, j, x, sc->d, ipj[r], ip_only ? 0.0f : sq[r], sc->hooked);
  }
  return kj;
}

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
  /* One decoded row, for a row of extreme magnitude that a hooked codec scored from its codes. */
  float *one = sc->codec ? malloc(d * sizeof(float)) : NULL;
  if ((need_tile && !tile) || !ip || (s->bound && !err) || (sc->codec && !one)) {
    free(tile);
    free(ip);
    free(err);
    free(one);
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
    free(tile), free(ip), free(err), free(one), free(res), free(rstore), free(rscratch), free(rtmp);
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
              tile_keys(s->metric, s->qsq[j], s->qnorm[j], ipj, sq, tn, keys, qexp_of(s, j));
              kj = keys;
            }
            kj = fix_extreme_keys(s, j, t0, tn, rows, ld, ipj, sq, kj, keys, one);
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
  free(one);
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
int vsearch_sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
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
int vsearch_f32_sqnorm_rows(void *vctx, size_t begin, size_t end, size_t *bad_row) {
  const search_ctx *s = vctx;
  (void)bad_row;
  for (size_t i = begin; i < end; i++)
    s->sq_out[i] = dot1(s->sc.dots, s->x + i * s->ldx, s->x + i * s->ldx, s->sc.d);
  return VEC_OK;
}

/* The shared driver: s has the scorer and query fields set. */
int vsearch_run_search(const char *fn, search_ctx *s, uint64_t *ids, float *scores,
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
  void *scaled = NULL;
  if (!qbuf || !hs || !store) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu x %zu results", fn, nq, k);
    goto out;
  }
  s->qsq = qbuf;
  s->qnorm = qbuf + nq;
  rc = vsearch_prepare_queries(s, fn, qbuf, qbuf + nq, &scaled);
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
      rc = vsearch_worker_fail(fn, rc);
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
    vsearch_unscale(s, j, scores + j * k, k);
  }
out:
  free(scaled);
  free(qbuf);
  free(hs);
  free(store);
  vec_os_aligned_free(qs);
  return rc;
}
