/* _core_search.c: search bindings of vectro._core: top-k over codes and float32, rescoring,
 * the norms of encoded rows. */
#include "_core.h"

#include <string.h>

/* ----------------------------------------------------------------------------------------------
 * Search
 * -------------------------------------------------------------------------------------------- */
static int parse_metric(PyObject *o, vec_metric *m) {
  long v = PyLong_AsLong(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (v < 0 || v > 2) {
    PyErr_SetString(PyExc_ValueError, "metric must be 0 (ip), 1 (cosine) or 2 (l2)");
    return -1;
  }
  *m = (vec_metric)v;
  return 0;
}

/* The buffers a search binding holds, released together (last first) on every exit. */
typedef struct held {
  Py_buffer v[8];
  int n;
} held;

static void held_release(held *h) {
  while (h->n > 0) PyBuffer_Release(&h->v[--h->n]);
}

/* Float32 rows (n, d), rows possibly strided: NULL with the error raised. */
static Py_buffer *hold_rows(held *h, PyObject *o, const char *name) {
  return vpy_get_buffer(o, &h->v[h->n], name, 'f', 4, 2, 0) < 0 ? NULL : &h->v[h->n++];
}

/* A C-contiguous buffer of exactly `bytes` bytes; for None (when optional) sets *buf to NULL. */
static int hold_flat(held *h, PyObject *o, const char *name, size_t bytes, int writable,
                     int optional, void **buf) {
  *buf = NULL;
  if (optional && o == Py_None) return 0;
  if (vpy_get_flat(o, &h->v[h->n], name, bytes, writable) < 0) return -1;
  *buf = h->v[h->n++].buf;
  return 0;
}

/* Any C-contiguous buffer (codes, candidate ids): its size is checked by the caller. */
static Py_buffer *hold_any(held *h, PyObject *o) {
  return PyObject_GetBuffer(o, &h->v[h->n], PyBUF_C_CONTIGUOUS) < 0 ? NULL : &h->v[h->n++];
}

/* k, metric and threads, the arguments every search binding takes. */
static int parse_search(PyObject *ko, PyObject *mo, PyObject *to, size_t *k, vec_metric *metric,
                        int *threads) {
  Py_ssize_t v = PyLong_AsSsize_t(ko);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (v < 0) {
    PyErr_SetString(PyExc_ValueError, "k must be >= 0");
    return -1;
  }
  *k = (size_t)v;
  return parse_metric(mo, metric) < 0 || vpy_parse_threads(to, threads) < 0 ? -1 : 0;
}

/* Queries (nq, d) against data of dimension d (`of` names it in the error). */
static Py_buffer *hold_queries(held *h, PyObject *o, size_t d, const char *of) {
  Py_buffer *q = hold_rows(h, o, "queries");
  if (q && (size_t)q->shape[1] != d) {
    PyErr_Format(PyExc_ValueError, "queries have dimension %zd, %s %zu", q->shape[1], of, d);
    return NULL;
  }
  return q;
}

/* A codec's codes and its scales (None when it has none): *n rows. */
static int hold_codes(held *h, const vec_codec *c, PyObject *codes, PyObject *scales, size_t *n,
                      void **cb, void **sb) {
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  Py_buffer *v = hold_any(h, codes);
  if (!v) return -1;
  *cb = v->buf;
  *n = cs ? (size_t)v->len / cs : 0;
  return hold_flat(h, scales, "scales", *n * sc * 4, 0, 1, sb);
}

/* The (nq, k) outputs: uint64 ids and float32 scores. */
static int hold_results(held *h, PyObject *ids, PyObject *scores, size_t nq, size_t k, void **ib,
                        void **sb) {
  if (hold_flat(h, ids, "ids", nq * k * 8, 1, 0, ib) < 0) return -1;
  return hold_flat(h, scores, "scores", nq * k * 4, 1, 0, sb);
}

/* Row stride in floats of a (rows, d) float32 view. */
static size_t ld_of(const Py_buffer *v, size_t d) {
  return v->shape[0] > 1 ? (size_t)v->strides[0] / 4 : d;
}

static PyObject *search_done(held *h, int rc, const vpy_progress *p) {
  held_release(h);
  if (rc != VEC_OK) return p->raised ? NULL : vpy_raise_last(rc);
  Py_RETURN_NONE;
}

/* search_codes(codec, codes, scales|None, sqnorms|None, queries, k, metric, ids, scores,
 * threads)
 */
PyObject *vpy_search_codes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 10) {
    PyErr_SetString(PyExc_TypeError, "search_codes takes 10 arguments");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  size_t k, n, d = c ? vec_codec_get_params(c)->dim : 0;
  vec_metric metric;
  int threads;
  if (!c || parse_search(args[5], args[6], args[9], &k, &metric, &threads) < 0) return NULL;
  held h = {.n = 0};
  void *codes, *scales, *sqn, *ids, *sco;
  Py_buffer *q = hold_queries(&h, args[4], d, "the index");
  if (!q || hold_codes(&h, c, args[1], args[2], &n, &codes, &scales) < 0 ||
      hold_flat(&h, args[3], "sqnorms", n * 4, 0, 1, &sqn) < 0 ||
      hold_results(&h, args[7], args[8], (size_t)q->shape[0], k, &ids, &sco) < 0)
    return held_release(&h), NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  vpy_guard_read(g);
  rc = vec_search_codes(c, codes, scales, n, sqn, q->buf, (size_t)q->shape[0], ld_of(q, d), k,
                        metric, ids, sco, &o);
  vpy_guard_done(g);
  VPY_INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* search_f32(x, queries, k, metric, ids, scores, threads) */
PyObject *vpy_search_f32(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 7) {
    PyErr_SetString(PyExc_TypeError, "search_f32 takes 7 arguments");
    return NULL;
  }
  size_t k;
  vec_metric metric;
  int threads;
  if (parse_search(args[2], args[3], args[6], &k, &metric, &threads) < 0) return NULL;
  held h = {.n = 0};
  void *ids, *sco;
  Py_buffer *x = hold_rows(&h, args[0], "x"), *q = NULL;
  size_t d = x ? (size_t)x->shape[1] : 0;
  if (!x || !(q = hold_queries(&h, args[1], d, "the data")) ||
      hold_results(&h, args[4], args[5], (size_t)q->shape[0], k, &ids, &sco) < 0)
    return held_release(&h), NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_search_f32(x->buf, (size_t)x->shape[0], ld_of(x, d), d, q->buf, (size_t)q->shape[0],
                      ld_of(q, d), k, metric, ids, sco, &o);
  VPY_INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* rescore(x, queries, cand (nq, m) uint64, k, metric, ids, scores, threads) */
PyObject *vpy_rescore(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 8) {
    PyErr_SetString(PyExc_TypeError, "rescore takes 8 arguments");
    return NULL;
  }
  size_t k;
  vec_metric metric;
  int threads;
  if (parse_search(args[3], args[4], args[7], &k, &metric, &threads) < 0) return NULL;
  held h = {.n = 0};
  void *ids, *sco;
  Py_buffer *x = hold_rows(&h, args[0], "x"), *q = NULL, *cand = NULL;
  size_t d = x ? (size_t)x->shape[1] : 0;
  if (!x || !(q = hold_queries(&h, args[1], d, "the data")) || !(cand = hold_any(&h, args[2])) ||
      hold_results(&h, args[5], args[6], (size_t)q->shape[0], k, &ids, &sco) < 0)
    return held_release(&h), NULL;
  size_t nq = (size_t)q->shape[0], m = nq ? (size_t)cand->len / 8 / nq : 0;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_rescore(x->buf, (size_t)x->shape[0], ld_of(x, d), d, q->buf, nq, ld_of(q, d), cand->buf,
                   m, k, metric, ids, sco, &o);
  VPY_INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* rescore_codes(codec, codes, scales|None, sqnorms|None, queries, cand (nq, m) uint64, k,
 * metric, ids, scores, threads) */
PyObject *vpy_rescore_codes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 11) {
    PyErr_SetString(PyExc_TypeError, "rescore_codes takes 11 arguments");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  size_t k, n, d = c ? vec_codec_get_params(c)->dim : 0;
  vec_metric metric;
  int threads;
  if (!c || parse_search(args[6], args[7], args[10], &k, &metric, &threads) < 0) return NULL;
  held h = {.n = 0};
  void *codes, *scales, *sqn, *ids, *sco;
  Py_buffer *q = hold_queries(&h, args[4], d, "the rescoring codec"), *cand = NULL;
  if (!q || hold_codes(&h, c, args[1], args[2], &n, &codes, &scales) < 0 ||
      hold_flat(&h, args[3], "sqnorms", n * 4, 0, 1, &sqn) < 0 || !(cand = hold_any(&h, args[5])) ||
      hold_results(&h, args[8], args[9], (size_t)q->shape[0], k, &ids, &sco) < 0)
    return held_release(&h), NULL;
  size_t nq = (size_t)q->shape[0], m = nq ? (size_t)cand->len / 8 / nq : 0;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  vpy_guard_read(g);
  rc = vec_rescore_codes(c, codes, scales, n, sqn, q->buf, nq, ld_of(q, d), cand->buf, m, k, metric,
                         ids, sco, &o);
  vpy_guard_done(g);
  VPY_INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* search_rescore(codec, codes, scales|None, x, x_sqnorms|None, queries, k, metric, oversample,
 * ids, scores, threads, bound_scale) -> (scanned, rescored) */
PyObject *vpy_search_rescore(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 13) {
    PyErr_SetString(PyExc_TypeError, "search_rescore takes 13 arguments");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  size_t k, n, d = c ? vec_codec_get_params(c)->dim : 0;
  vec_metric metric;
  int threads;
  if (!c || parse_search(args[6], args[7], args[11], &k, &metric, &threads) < 0) return NULL;
  double over = PyFloat_AsDouble(args[8]), bscale = PyFloat_AsDouble(args[12]);
  if (PyErr_Occurred()) return NULL;
  held h = {.n = 0};
  void *codes, *scales, *xsq, *ids, *sco;
  Py_buffer *q = hold_queries(&h, args[5], d, "the index"), *x = NULL;
  if (!q || hold_codes(&h, c, args[1], args[2], &n, &codes, &scales) < 0 ||
      !(x = hold_rows(&h, args[3], "originals")))
    return held_release(&h), NULL;
  if ((size_t)x->shape[0] != n || (size_t)x->shape[1] != d) {
    PyErr_Format(PyExc_ValueError, "originals have shape (%zd, %zd), the index (%zu, %zu)",
                 x->shape[0], x->shape[1], n, d);
    return held_release(&h), NULL;
  }
  if (hold_flat(&h, args[4], "x_sqnorms", n * 4, 0, 1, &xsq) < 0 ||
      hold_results(&h, args[9], args[10], (size_t)q->shape[0], k, &ids, &sco) < 0)
    return held_release(&h), NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  vec_search_stats st = {0, 0};
  int rc;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  vpy_guard_read(g);
  rc =
      vec_search_rescore(c, codes, scales, n, x->buf, ld_of(x, d), xsq, q->buf, (size_t)q->shape[0],
                         ld_of(q, d), k, metric, over, bscale, ids, sco, &st, &o);
  vpy_guard_done(g);
  VPY_INTERRUPTIBLE_END(p)
  held_release(&h);
  if (rc != VEC_OK) return p.raised ? NULL : vpy_raise_last(rc);
  return Py_BuildValue("(KK)", (unsigned long long)st.scanned, (unsigned long long)st.rescored);
}

/* search_has_bounds(codec) -> bool */
PyObject *vpy_search_has_bounds(PyObject *self, PyObject *arg) {
  (void)self;
  vec_codec *c = vpy_get_codec(arg);
  if (!c) return NULL;
  vpy_codec_guard *g = vpy_guard_of(arg);
  vpy_guard_read_gil(g);
  int has = vec_search_has_bounds(c);
  vpy_guard_done(g);
  return PyBool_FromLong(has);
}

/* codes_sqnorms(codec, codes, scales|None, out, threads) */
PyObject *vpy_codes_sqnorms(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "codes_sqnorms takes 5 arguments");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  int threads;
  if (!c || vpy_parse_threads(args[4], &threads) < 0) return NULL;
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  Py_buffer codes = {0}, s = {0}, out = {0};
  PyObject *ret = NULL;
  if (PyObject_GetBuffer(args[1], &codes, PyBUF_C_CONTIGUOUS) < 0) goto done;
  size_t n = cs ? (size_t)codes.len / cs : 0;
  int have_s = args[2] != Py_None;
  if (have_s && vpy_get_flat(args[2], &s, "scales", n * sc * 4, 0) < 0) goto done;
  if (vpy_get_flat(args[3], &out, "out", n * 4, 1) < 0) goto done;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  Py_BEGIN_ALLOW_THREADS
  vpy_guard_read(g);
  rc = vec_codes_sqnorms(c, codes.buf, have_s ? s.buf : NULL, n, out.buf, &o);
  vpy_guard_done(g);
  Py_END_ALLOW_THREADS
  if (rc != VEC_OK)
    vpy_raise_last(rc);
  else
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&out);
  vpy_release(&s);
  vpy_release(&codes);
  return ret;
}
