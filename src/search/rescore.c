/* rescore.c: rescoring candidate lists, exactly against float rows (vec_rescore) or with another
 * codec's codes (vec_rescore_codes), split over queries. */
#include "search_impl.h"

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
        float key = key_unsafe(s->metric, cip[i], xsq)
                        ? key_double(s, j, row, d, cip[i], xsq, 0)
                        : make_key_e(s->metric, s->qsq[j], s->qnorm[j], cip[i], xsq, qexp_of(s, j));
        hent v = {key, cid[i]};
        /* A repeated candidate must not take two slots. */
        if ((h.n < h.k || better(v, h.e[0])) && !heap_contains(&h, v.id)) heap_push(&h, v);
      }
      heap_emit(&h, s->metric, c->ids + j * k, c->scores + j * k);
      vsearch_unscale(s, j, c->scores + j * k, k);
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
      float key;
      if (key_unsafe(s->metric, ip, xsq)) {
        /* Extreme magnitude: in double from the decoded row (tile holds one row here). */
        if (!rows) {
          sc->codec->ops->decode(sc->codec, sc->codes + id * sc->cs, scale_ptr(sc, (size_t)id), 1,
                                 tile, d, 0);
          rows = tile;
        }
        key = key_double(s, j, rows, d, ip, xsq, sc->hooked);
      } else {
        key = make_key_e(s->metric, s->qsq[j], s->qnorm[j], ip, xsq, qexp_of(s, j));
      }
      hent v = {key, id};
      if ((h.n < h.k || better(v, h.e[0])) && !heap_contains(&h, id)) heap_push(&h, v);
    }
    heap_emit(&h, s->metric, c->ids + j * k, c->scores + j * k);
    vsearch_unscale(s, j, c->scores + j * k, k);
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
  void *scaled = NULL;
  rc = vsearch_prepare_queries(s, fn, qbuf, qbuf + nq, &scaled);
  if (!rc && !c->exact && !(qs = scorer_prepare(&s->sc, s->queries, nq, s->ldq)))
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu prepared queries", fn, nq);
  if (!rc) {
    s->qs = qs;
    size_t per_query = c->m * (c->exact ? s->sc.d * sizeof(float) : s->sc.cs + 4), bad;
    if ((rc = vec_parallel_rows(nq, per_query ? per_query : 1, rescore_queries, c, &o, &bad)))
      rc = vsearch_worker_fail(fn, rc);
  }
  free(scaled);
  free(qbuf);
  vec_os_aligned_free(qs);
  return rc;
}

int vec_rescore(const float *x, size_t n, size_t ldx, size_t d, const float *queries, size_t nq,
                size_t ldq, const uint64_t *cand, size_t m, size_t k, vec_metric metric,
                uint64_t *ids, float *scores, const vec_batch_opts *opts) {
  static const char fn[] = "vec_rescore";
  vec_clear_error();
  int rc = vsearch_check_common(fn, queries, nq, ldq, d, k, metric, ids, scores);
  if (rc || (rc = vsearch_check_f32(fn, x, n, ldx, d)) || (rc = check_cand(fn, cand, nq, m, n)))
    return rc;
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
  int rc = vsearch_check_codes(fn, codec, codes, scales, n);
  if (rc || (rc = vsearch_check_common(fn, queries, nq, ldq, codec->d, k, metric, ids, scores)) ||
      (rc = check_cand(fn, cand, nq, m, n)))
    return rc;
  rescore_ctx c;
  rescore_init(&c, queries, nq, ldq, k, metric, cand, m, ids, scores);
  scorer_codes(&c.s.sc, codec, codes, scales);
  c.s.row_sqnorms = row_sqnorms;
  return run_rescore(fn, &c, opts);
}
