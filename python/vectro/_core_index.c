/* _core_index.c: the vec_index binding of vectro._core (a capsule around vec_index*). Buffers are
 * checked here, the GIL is released around every library call (the index has its own lock), and
 * a long search answers Ctrl-C through the progress callback. */
#include "_core.h"

#include <limits.h>
#include <string.h>

#define INDEX_CAPSULE "vectro.index"
#define CODEC_CAPSULE "vectro.codec"

static PyObject *IndexError_; /* vectro.VectroError, set by vec_py_index_init */

/* MemoryError, VectroIOError (VEC_E_IO, naming `path` when given) or VectroError. */
static PyObject *fail_path(int rc, PyObject *path) {
  if (rc == VEC_E_NOMEM || rc == VEC_E_IO) return vpy_raise_path(rc, path);
  const char *detail = vec_last_error_message();
  PyErr_Format(IndexError_, "%s", detail && *detail ? detail : vec_strerror(rc));
  return NULL;
}

static PyObject *fail(int rc) { return fail_path(rc, NULL); }

static void index_capsule_free(PyObject *cap) {
  vec_index_free((vec_index *)PyCapsule_GetPointer(cap, INDEX_CAPSULE));
}

static vec_index *get_index(PyObject *o) {
  return (vec_index *)PyCapsule_GetPointer(o, INDEX_CAPSULE);
}

static vec_codec *get_codec_(PyObject *o) {
  return (vec_codec *)PyCapsule_GetPointer(o, CODEC_CAPSULE);
}

static PyObject *wrap(vec_index *ix) {
  PyObject *cap = PyCapsule_New(ix, INDEX_CAPSULE, index_capsule_free);
  if (!cap) vec_index_free(ix);
  return cap;
}

/* A C-contiguous buffer of `itemsize`-byte items ('f' float32 or 'Q' uint64), or None -> NULL. */
static int get_vec(PyObject *o, Py_buffer *v, const char *name, size_t itemsize, int writable,
                   int optional) {
  v->obj = NULL;
  v->buf = NULL;
  v->len = 0;
  if (optional && o == Py_None) return 0;
  if (PyObject_GetBuffer(o, v, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) return -1;
  if ((size_t)v->itemsize != itemsize || v->len % (Py_ssize_t)itemsize) {
    PyErr_Format(PyExc_TypeError, "%s has items of %zd bytes, expected %zu", name, v->itemsize,
                 itemsize);
    PyBuffer_Release(v);
    v->obj = NULL;
    return -1;
  }
  return 0;
}

/* index_new(codec, rerank|None, metric, keep_originals) */
static PyObject *index_new(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) return PyErr_Format(PyExc_TypeError, "index_new takes 4 arguments");
  vec_codec *c = get_codec_(args[0]), *r = NULL;
  if (!c || (args[1] != Py_None && !(r = get_codec_(args[1])))) return NULL;
  long metric = PyLong_AsLong(args[2]);
  int keep = PyObject_IsTrue(args[3]);
  if ((metric == -1 && PyErr_Occurred()) || keep < 0) return NULL;
  vec_index_options o = VEC_INDEX_OPTIONS_INIT;
  o.rerank = r;
  o.keep_originals = keep;
  vec_index *ix;
  int rc = vec_index_create(c, (vec_metric)metric, &o, &ix);
  return rc ? fail(rc) : wrap(ix);
}

/* Rows (n, d) float32, C-contiguous: returns n, or -1. */
static Py_ssize_t rows_of(Py_buffer *x, size_t d) {
  size_t n = (size_t)x->len / 4 / (d ? d : 1);
  if (n * d * 4 != (size_t)x->len) {
    PyErr_Format(PyExc_ValueError, "rows must have %zu columns", d);
    return -1;
  }
  return (Py_ssize_t)n;
}

/* index_add(ix, x, ids|None, ids_out, threads, replace) */
static PyObject *index_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6) return PyErr_Format(PyExc_TypeError, "index_add takes 6 arguments");
  vec_index *ix = get_index(args[0]);
  if (!ix) return NULL;
  long threads = PyLong_AsLong(args[4]);
  int replace = PyObject_IsTrue(args[5]);
  if ((threads == -1 && PyErr_Occurred()) || replace < 0) return NULL;
  Py_buffer x = {0}, ids = {0}, out = {0};
  PyObject *ret = NULL;
  if (get_vec(args[1], &x, "x", 4, 0, 0) < 0 || get_vec(args[2], &ids, "ids", 8, 0, 1) < 0 ||
      get_vec(args[3], &out, "ids_out", 8, 1, 1) < 0)
    goto done;
  size_t d = vec_index_dim(ix);
  Py_ssize_t n = rows_of(&x, d);
  if (n < 0) goto done;
  if ((ids.obj && ids.len != n * 8) || (out.obj && out.len != n * 8)) {
    PyErr_SetString(PyExc_ValueError, "ids must hold one uint64 per row");
    goto done;
  }
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = (int)threads;
  /* Ctrl-C stops the encoding; the batch then goes in not at all (add is atomic). */
  vpy_progress sig = {NULL, NULL, 0.0, 0};
  o.progress = vpy_progress_trampoline;
  o.progress_user = &sig;
  int rc;
  sig.ts = PyEval_SaveThread();
  if (replace)
    rc = vec_index_upsert(ix, x.buf, (size_t)n, d, ids.buf, &o);
  else
    rc = vec_index_add(ix, x.buf, (size_t)n, d, ids.buf, out.buf, &o);
  PyEval_RestoreThread(sig.ts);
  if (sig.raised) /* KeyboardInterrupt is set */
    ;
  else if (rc)
    fail(rc);
  else
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&out);
  vpy_release(&ids);
  vpy_release(&x);
  return ret;
}

/* index_delete(ix, ids) -> int */
static PyObject *index_delete(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) return PyErr_Format(PyExc_TypeError, "index_delete takes 2 arguments");
  vec_index *ix = get_index(args[0]);
  Py_buffer ids;
  if (!ix || get_vec(args[1], &ids, "ids", 8, 0, 0) < 0) return NULL;
  size_t done = 0;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = vec_index_delete(ix, ids.buf, (size_t)ids.len / 8, &done);
  Py_END_ALLOW_THREADS
  vpy_release(&ids);
  return rc ? fail(rc) : PyLong_FromSize_t(done);
}

/* index_get(ix, ids, out (n, d) float32) */
static PyObject *index_get(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 3) return PyErr_Format(PyExc_TypeError, "index_get takes 3 arguments");
  vec_index *ix = get_index(args[0]);
  Py_buffer ids = {0}, out = {0};
  PyObject *ret = NULL;
  if (!ix || get_vec(args[1], &ids, "ids", 8, 0, 0) < 0 ||
      get_vec(args[2], &out, "out", 4, 1, 0) < 0)
    goto done;
  size_t n = (size_t)ids.len / 8, d = vec_index_dim(ix);
  if ((size_t)out.len != n * d * 4) {
    PyErr_Format(PyExc_ValueError, "out must hold %zu x %zu floats", n, d);
    goto done;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = vec_index_get(ix, ids.buf, n, out.buf, d);
  Py_END_ALLOW_THREADS
  if (rc == VEC_E_NOT_FOUND) {
    PyObject *i = PyLong_FromLongLong(vec_last_error_row());
    if (i) PyErr_SetObject(PyExc_KeyError, i); /* Python maps it back to the id */
    Py_XDECREF(i);
  } else if (rc) {
    fail(rc);
  } else {
    ret = (Py_INCREF(Py_None), Py_None);
  }
done:
  vpy_release(&out);
  vpy_release(&ids);
  return ret;
}

/* index_ids(ix) -> bytes of the live uint64 ids in row order */
static PyObject *index_ids(PyObject *self, PyObject *arg) {
  (void)self;
  vec_index *ix = get_index(arg);
  if (!ix) return NULL;
  for (;;) {
    size_t n = vec_index_count(ix);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * 8));
    if (!b) return NULL;
    size_t got;
    Py_BEGIN_ALLOW_THREADS
    got = vec_index_ids(ix, (uint64_t *)PyBytes_AS_STRING(b), n);
    Py_END_ALLOW_THREADS
    if (got == n) return b;
    Py_DECREF(b); /* it changed in between: again */
  }
}

static PyObject *index_count(PyObject *self, PyObject *arg) {
  (void)self;
  vec_index *ix = get_index(arg);
  return ix ? PyLong_FromSize_t(vec_index_count(ix)) : NULL;
}

/* index_contains(ix, id) */
static PyObject *index_contains(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) return PyErr_Format(PyExc_TypeError, "index_contains takes 2 arguments");
  vec_index *ix = get_index(args[0]);
  if (!ix) return NULL;
  unsigned long long id = PyLong_AsUnsignedLongLong(args[1]);
  if (id == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  return PyBool_FromLong(vec_index_contains(ix, (uint64_t)id));
}

/* index_search(ix, queries (nq, d), k, oversample, rerank_oversample, bound_scale, threads,
 *              filter|None, ids_out, scores_out, progress|None) -> (scanned, rescored) */
static PyObject *index_search(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 11) return PyErr_Format(PyExc_TypeError, "index_search takes 11 arguments");
  if (args[10] != Py_None && !PyCallable_Check(args[10]))
    return PyErr_Format(PyExc_TypeError, "progress must be callable or None");
  vec_index *ix = get_index(args[0]);
  if (!ix) return NULL;
  Py_ssize_t k = PyLong_AsSsize_t(args[2]);
  double over = PyFloat_AsDouble(args[3]), rover = PyFloat_AsDouble(args[4]),
         bscale = PyFloat_AsDouble(args[5]);
  long threads = PyLong_AsLong(args[6]);
  if (PyErr_Occurred()) return NULL;
  if (k < 1) return PyErr_Format(PyExc_ValueError, "k must be >= 1");
  Py_buffer q = {0}, flt = {0}, ids = {0}, sc = {0};
  PyObject *ret = NULL;
  if (get_vec(args[1], &q, "queries", 4, 0, 0) < 0 ||
      get_vec(args[7], &flt, "filter", 8, 0, 1) < 0 || get_vec(args[8], &ids, "ids", 8, 1, 0) < 0 ||
      get_vec(args[9], &sc, "scores", 4, 1, 0) < 0)
    goto done;
  size_t d = vec_index_dim(ix);
  Py_ssize_t nq = rows_of(&q, d);
  if (nq < 0) goto done;
  if (ids.len != nq * k * 8 || sc.len != nq * k * 4) {
    PyErr_SetString(PyExc_ValueError, "ids and scores must hold nq x k items");
    goto done;
  }
  vec_search_stats st = {0, 0};
  /* Ctrl-C and the progress callable while the GIL is released: the shared trampoline */
  vpy_progress sig = {NULL, args[10] == Py_None ? NULL : args[10], 0.0, 0};
  vec_search_params p = VEC_SEARCH_PARAMS_INIT;
  p.oversample = over;
  p.rerank_oversample = rover;
  p.bound_scale = bscale;
  p.threads = (int)threads;
  p.progress = vpy_progress_trampoline;
  p.progress_user = &sig;
  if (flt.obj) {
    p.filter_ids = flt.buf ? flt.buf : (const uint64_t *)"";
    p.filter_count = (size_t)flt.len / 8;
  }
  sig.ts = PyEval_SaveThread();
  int rc = vec_index_search(ix, q.buf, (size_t)nq, d, (size_t)k, &p, ids.buf, sc.buf, &st);
  PyEval_RestoreThread(sig.ts);
  if (rc || sig.raised)
    vpy_raise_vec(rc ? rc : VEC_E_CANCELLED, &sig); /* or the KeyboardInterrupt already set */
  else
    ret = Py_BuildValue("(KK)", (unsigned long long)st.scanned, (unsigned long long)st.rescored);
done:
  vpy_release(&sc);
  vpy_release(&ids);
  vpy_release(&flt);
  vpy_release(&q);
  return ret;
}

/* index_pick_scale(x (n, d) float32, d) -> the exponent vec_index would pick for these rows */
static PyObject *index_pick_scale(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) return PyErr_Format(PyExc_TypeError, "index_pick_scale takes 2 arguments");
  Py_ssize_t d = PyLong_AsSsize_t(args[1]);
  if (d < 1) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "d must be >= 1");
  Py_buffer x;
  if (get_vec(args[0], &x, "rows", 4, 0, 0) < 0) return NULL;
  Py_ssize_t n = rows_of(&x, (size_t)d);
  int e = 0;
  if (n > 0) {
    Py_BEGIN_ALLOW_THREADS
    e = vec_index_pick_scale_exp(x.buf, (size_t)n, (size_t)d, (size_t)d);
    Py_END_ALLOW_THREADS
  }
  vpy_release(&x);
  return n < 0 ? NULL : PyLong_FromLong(e);
}

/* index_set_scale(ix, e) */
static PyObject *index_set_scale(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) return PyErr_Format(PyExc_TypeError, "index_set_scale takes 2 arguments");
  vec_index *ix = get_index(args[0]);
  if (!ix) return NULL;
  long e = PyLong_AsLong(args[1]);
  if (e == -1 && PyErr_Occurred()) return NULL;
  int rc = vec_index_set_scale_exp(ix, e < INT_MIN ? INT_MIN : e > INT_MAX ? INT_MAX : (int)e);
  if (rc) return fail(rc);
  Py_RETURN_NONE;
}

/* index_save(ix, path, extra_metadata|None) */
static PyObject *index_save(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 3) return PyErr_Format(PyExc_TypeError, "index_save takes 3 arguments");
  vec_index *ix = get_index(args[0]);
  if (!ix) return NULL;
  PyObject *path = NULL;
  if (!PyUnicode_FSConverter(args[1], &path)) return NULL;
  const char *extra = args[2] == Py_None ? NULL : PyUnicode_AsUTF8(args[2]);
  if (args[2] != Py_None && !extra) return Py_DECREF(path), NULL;
  vpy_progress sig = {NULL, NULL, 0.0, 0};
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.progress = vpy_progress_trampoline; /* Ctrl-C: no file is written */
  o.progress_user = &sig;
  sig.ts = PyEval_SaveThread();
  int rc = vec_index_save_opts(ix, PyBytes_AS_STRING(path), extra, &o);
  PyEval_RestoreThread(sig.ts);
  Py_DECREF(path);
  if (sig.raised) return NULL;
  if (rc) return fail_path(rc, args[1]);
  Py_RETURN_NONE;
}

/* index_load(path, originals|None, rerank|None, metric (-1 = the file's), mapped) */
static PyObject *index_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) return PyErr_Format(PyExc_TypeError, "index_load takes 5 arguments");
  int mapped = PyObject_IsTrue(args[4]);
  if (mapped < 0) return NULL;
  PyObject *p[3] = {NULL, NULL, NULL};
  for (int i = 0; i < 3; i++)
    if (args[i] != Py_None && !PyUnicode_FSConverter(args[i], &p[i])) {
      for (int j = 0; j < i; j++) Py_XDECREF(p[j]);
      return NULL;
    }
  long metric = PyLong_AsLong(args[3]);
  vec_index_load_options o = VEC_INDEX_LOAD_OPTIONS_INIT;
  o.originals = p[1] ? PyBytes_AS_STRING(p[1]) : NULL;
  o.rerank = p[2] ? PyBytes_AS_STRING(p[2]) : NULL;
  o.metric_override = (int)metric;
  o.mapped = mapped;
  vec_index *ix = NULL;
  vpy_progress sig = {NULL, NULL, 0.0, 0};
  o.progress = vpy_progress_trampoline;
  o.progress_user = &sig;
  sig.ts = PyEval_SaveThread();
  int rc = vec_index_load(PyBytes_AS_STRING(p[0]), &o, &ix);
  PyEval_RestoreThread(sig.ts);
  for (int i = 0; i < 3; i++) Py_XDECREF(p[i]);
  if (sig.raised) return NULL;
  return rc ? fail_path(rc, args[0]) : wrap(ix);
}

static PyObject *codec_bytes(const vec_codec *c) {
  if (!c) Py_RETURN_NONE;
  size_t n = vec_codec_serialized_size(c);
  PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
  if (b && vec_codec_serialize(c, PyBytes_AS_STRING(b), n) != VEC_OK) {
    Py_DECREF(b);
    return fail(VEC_E_INVALID_ARG);
  }
  return b;
}

/* index_info(ix) -> dict */
static PyObject *index_info(PyObject *self, PyObject *arg) {
  (void)self;
  vec_index *ix = get_index(arg);
  if (!ix) return NULL;
  PyObject *c = codec_bytes(vec_index_codec(ix)), *r = c ? codec_bytes(vec_index_rerank(ix)) : NULL;
  PyObject *d =
      r ? Py_BuildValue("{s:n,s:i,s:O,s:O,s:O,s:s,s:i,s:i,s:n}", "dim",
                        (Py_ssize_t)vec_index_dim(ix), "metric", (int)vec_index_metric(ix),
                        "has_originals", vec_index_has_originals(ix) ? Py_True : Py_False, "codec",
                        c, "rerank", r, "metadata", vec_index_metadata(ix), "bounded",
                        vec_search_has_bounds(vec_index_codec(ix)), "scale_exp",
                        vec_index_scale_exp(ix), "mapped_rows",
                        (Py_ssize_t)vec_index_mapped_rows(ix))
        : NULL;
  Py_XDECREF(c);
  Py_XDECREF(r);
  return d;
}

/* index_mapped_rows(ix) -> rows searched in place (cheap: search reports it every call) */
static PyObject *index_mapped_rows(PyObject *self, PyObject *arg) {
  (void)self;
  vec_index *ix = get_index(arg);
  return ix ? PyLong_FromSize_t(vec_index_mapped_rows(ix)) : NULL;
}

#define FAST(name, doc) {#name, (PyCFunction)(void (*)(void))name, METH_FASTCALL, doc}
static PyMethodDef index_methods[] = {
    FAST(index_new, "Create a vec_index."),
    FAST(index_add, "Add (or upsert) rows by id."),
    FAST(index_delete, "Delete ids; returns how many were held."),
    FAST(index_get, "Float rows of ids (originals or reconstructions)."),
    {"index_ids", index_ids, METH_O, "Live ids in row order, as bytes of uint64."},
    {"index_count", index_count, METH_O, "Live rows."},
    FAST(index_contains, "Whether an id is held."),
    FAST(index_search, "Top-k search through the index's pipeline, with an optional allow-list."),
    FAST(index_pick_scale,
         "The power-of-two exponent vec_index picks for rows (extreme magnitudes)."),
    FAST(index_set_scale, "Set the index's exponent before its first add."),
    FAST(index_save, "Save as .vqz (with sidecars)."),
    FAST(index_load, "Load an index from a .vqz."),
    {"index_info", index_info, METH_O, "Dimension, metric, codecs, metadata."},
    {"index_mapped_rows", index_mapped_rows, METH_O, "Rows searched in place from a memory map."},
    {NULL, NULL, 0, NULL},
};

int vec_py_index_init(PyObject *module, PyObject *error) {
  IndexError_ = error;
  return PyModule_AddFunctions(module, index_methods);
}
