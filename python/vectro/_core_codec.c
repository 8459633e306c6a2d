/* _core_codec.c: codec objects of vectro._core (a capsule around vec_codec* guarded by a
 * readers-writer lock): create, fit, ranges, encode, decode, (de)serialise, crc32c. */
#include "_core.h"

#include <string.h>

/* ----------------------------------------------------------------------------------------------
 * Codec objects (a capsule around vec_codec*)
 * -------------------------------------------------------------------------------------------- */
static void codec_capsule_free(PyObject *cap) {
  vpy_codec_guard *g = PyCapsule_GetContext(cap);
  vec_codec_free((vec_codec *)PyCapsule_GetPointer(cap, VPY_CODEC_CAPSULE));
  if (g) {
    pthread_rwlock_destroy(&g->lk);
    PyMem_RawFree(g);
  }
}

/* A capsule owning c (freed on failure too). */
static PyObject *codec_capsule(vec_codec *c) {
  vpy_codec_guard *g = PyMem_RawCalloc(1, sizeof *g);
  if (!g || pthread_rwlock_init(&g->lk, NULL) != 0) {
    PyMem_RawFree(g);
    vec_codec_free(c);
    return PyErr_NoMemory();
  }
  PyObject *cap = PyCapsule_New(c, VPY_CODEC_CAPSULE, NULL);
  if (!cap || PyCapsule_SetContext(cap, g) < 0) {
    Py_XDECREF(cap);
    pthread_rwlock_destroy(&g->lk);
    PyMem_RawFree(g);
    vec_codec_free(c);
    return NULL;
  }
  PyCapsule_SetDestructor(cap, codec_capsule_free);
  return cap;
}

vec_codec *vpy_get_codec(PyObject *o) {
  vec_codec *c =
      PyCapsule_IsValid(o, VPY_CODEC_CAPSULE) ? PyCapsule_GetPointer(o, VPY_CODEC_CAPSULE) : NULL;
  if (!c) PyErr_SetString(PyExc_TypeError, "expected a codec handle");
  return c;
}

/* The guard of a capsule vpy_get_codec accepted. */
vpy_codec_guard *vpy_guard_of(PyObject *o) { return PyCapsule_GetContext(o); }

/* Shared hold, for calls that only read the codec. Call with the GIL released. */
void vpy_guard_read(vpy_codec_guard *g) { pthread_rwlock_rdlock(&g->lk); }
void vpy_guard_done(vpy_codec_guard *g) { pthread_rwlock_unlock(&g->lk); }

/* Shared hold taken with the GIL held: tried first, else waited for with the GIL released. */
void vpy_guard_read_gil(vpy_codec_guard *g) {
  if (pthread_rwlock_tryrdlock(&g->lk) == 0) return;
  Py_BEGIN_ALLOW_THREADS
  vpy_guard_read(g);
  Py_END_ALLOW_THREADS
}

/* Exclusive hold for a change of state, or -1 with VectroError when the codec is in use. */
int vpy_guard_write(vpy_codec_guard *g, const char *what) {
  if (pthread_rwlock_trywrlock(&g->lk) == 0) return 0;
  PyErr_Format(vpy_error,
               "cannot %s this codec while another call uses it (an encode, decode, search or "
               "fit in another thread, or the progress callback of a running call): a codec "
               "never changes under a running call; %s it after that call returns",
               what, what);
  return -1;
}

PyObject *vpy_codec_new(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6 && nargs != 7) {
    PyErr_SetString(PyExc_TypeError,
                    "codec_new(name, dim, group_size, rounding, low_q, high_q[, extra: dict])");
    return NULL;
  }
  const char *name = PyUnicode_AsUTF8(args[0]);
  if (!name) return NULL;
  Py_ssize_t dim = PyLong_AsSsize_t(args[1]);
  long group = PyLong_AsLong(args[2]), rounding = PyLong_AsLong(args[3]);
  double lq = PyFloat_AsDouble(args[4]), hq = PyFloat_AsDouble(args[5]);
  if (PyErr_Occurred()) return NULL;
  if (dim < 1 || group < 0 || group > (1L << 28)) {
    PyErr_Format(PyExc_ValueError, "dimension must be >= 1 and group size >= 0 (got %zd, %ld)", dim,
                 group);
    return NULL;
  }
  vec_codec_id id;
  if (vec_codec_from_name(name, &id) != VEC_OK) return vpy_raise_last(VEC_E_INVALID_ARG);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, (size_t)dim);
  p.group_size = (unsigned)group;
  p.rounding = (int)rounding;
  p.calib_low_q = (float)lq;
  p.calib_high_q = (float)hq;
  if (nargs == 7 && args[6] != Py_None) {
    /* bits, m, rotate, train_iters, train_max, seed, center: the rabitq / pq parameters */
    if (!PyDict_Check(args[6])) {
      PyErr_SetString(PyExc_TypeError, "codec_new: extra parameters must be a dict");
      return NULL;
    }
    static const char *const keys[] = {"bits",      "m",    "rotate", "train_iters",
                                       "train_max", "seed", "center"};
    unsigned long long v[7] = {0};
    for (int i = 0; i < 7; i++) {
      PyObject *o = PyDict_GetItemString(args[6], keys[i]);
      if (!o) continue;
      v[i] = PyLong_AsUnsignedLongLong(o);
      if (PyErr_Occurred()) return NULL;
      if ((i < 4 || i == 6) && v[i] > 0xFFFFFFFFull) {
        PyErr_Format(PyExc_ValueError, "codec parameter %s is too large", keys[i]);
        return NULL;
      }
    }
    p.bits = (unsigned)v[0];
    p.m = (unsigned)v[1];
    p.rotate = v[2] != 0;
    p.train_iters = (unsigned)v[3];
    p.train_max = (size_t)v[4];
    p.seed = (uint64_t)v[5];
    p.center = v[6] > 1 ? 2 : (int)v[6]; /* 2: refused by vec_codec_create, with its message */
  }
  vec_codec *c;
  int rc = vec_codec_create(&p, &c);
  if (rc != VEC_OK) return vpy_raise_last(rc);
  return codec_capsule(c);
}

/* codec_parse(name) -> (codec name, group_size, bits, m): vec_codec_params_parse, the grammar the
 * CLI reads too; ValueError with the library's message for a name it refuses. */
PyObject *vpy_codec_parse(PyObject *self, PyObject *arg) {
  (void)self;
  if (!PyUnicode_Check(arg))
    return PyErr_Format(PyExc_TypeError, "precision must be a string, got %.100s",
                        Py_TYPE(arg)->tp_name);
  Py_ssize_t len;
  const char *name = PyUnicode_AsUTF8AndSize(arg, &len);
  if (!name) return NULL;
  vec_codec_params p;
  if ((size_t)len != strlen(name)) /* an embedded NUL would cut the name short in C */
    return PyErr_Format(PyExc_ValueError, "unknown precision %R: it holds a NUL character", arg);
  if (vec_codec_params_parse(name, &p) != VEC_OK)
    return PyErr_Format(PyExc_ValueError, "%s", vec_last_error_message());
  return Py_BuildValue("(sIII)", vec_codec_name(p.codec), p.group_size, p.bits, p.m);
}

/* codec_name(codec name, group_size, bits, m) -> the canonical name (vec_codec_params_name). */
PyObject *vpy_codec_name(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) return PyErr_Format(PyExc_TypeError, "codec_name(name, group_size, bits, m)");
  const char *name = PyUnicode_AsUTF8(args[0]);
  unsigned long v[3];
  for (int i = 0; i < 3 && name; i++) {
    v[i] = PyLong_AsUnsignedLong(args[1 + i]);
    if (PyErr_Occurred()) return NULL;
    if (v[i] > 0xFFFFFFFFul)
      return PyErr_Format(PyExc_OverflowError, "codec_name: value too large");
  }
  if (!name) return NULL;
  vec_codec_id id;
  if (vec_codec_from_name(name, &id) != VEC_OK) return vpy_raise_last(VEC_E_INVALID_ARG);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, 0);
  p.group_size = (unsigned)v[0], p.bits = (unsigned)v[1], p.m = (unsigned)v[2];
  char buf[64];
  int n = vec_codec_params_name(&p, buf, sizeof buf);
  if (n < 0 || (size_t)n >= sizeof buf) return PyErr_Format(PyExc_ValueError, "codec_name failed");
  return PyUnicode_FromStringAndSize(buf, n);
}

/* crc32c(data) -> int: the library's CRC-32C of a bytes-like object (the .vqz/codec checksum).
 */
PyObject *vpy_crc32c(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0) return NULL;
  uint32_t c;
  Py_BEGIN_ALLOW_THREADS
  c = vec_crc32c(0, b.buf, (size_t)b.len);
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&b);
  return PyLong_FromUnsignedLong(c);
}

PyObject *vpy_codec_info(PyObject *self, PyObject *arg) {
  (void)self;
  vec_codec *c = vpy_get_codec(arg);
  if (!c) return NULL;
  const vec_codec_params *p = vec_codec_get_params(c);
  vpy_codec_guard *g = vpy_guard_of(arg);
  vpy_guard_read_gil(g); /* "trained" and "gen" change under fit */
  int trained = vec_codec_is_trained(c);
  unsigned long long gen = g->gen;
  vpy_guard_done(g);
  return Py_BuildValue("{s:s,s:n,s:n,s:n,s:i,s:i,s:I,s:i,s:d,s:d,s:I,s:I,s:i,s:I,s:n,s:K,s:i,s:K}",
                       "name", vec_codec_name(vec_codec_kind(c)), "dim", (Py_ssize_t)p->dim,
                       "code_size", (Py_ssize_t)vec_codec_code_size(c), "scale_count",
                       (Py_ssize_t)vec_codec_scale_count(c), "needs_training",
                       vec_codec_needs_training(c), "trained", trained, "group_size", p->group_size,
                       "rounding", p->rounding, "low_q", (double)p->calib_low_q, "high_q",
                       (double)p->calib_high_q, "bits", p->bits, "m", p->m, "rotate", p->rotate,
                       "train_iters", p->train_iters, "train_max", (Py_ssize_t)p->train_max, "seed",
                       (unsigned long long)p->seed, "center", p->center, "gen", gen);
}

PyObject *vpy_codec_train(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "codec_train(codec, x[, threads])");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  if (!c) return NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  if (nargs == 3) {
    long t = PyLong_AsLong(args[2]);
    if (PyErr_Occurred()) return NULL;
    o.threads = t < 0 ? 0 : (int)t;
  }
  Py_buffer x = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) goto done;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  int rc;
  if (d != vec_codec_get_params(c)->dim) {
    PyErr_Format(vpy_error, "calibration data has dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    goto done;
  }
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  if (vpy_guard_write(g, "fit") < 0) goto done;
  g->gen++; /* even a failed fit may have changed the state */
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_codec_train_opts(c, (const float *)x.buf, n, ldx, &o);
  vpy_guard_done(g);
  VPY_INTERRUPTIBLE_END(p)
  if (rc != VEC_OK) {
    if (!p.raised) vpy_raise_last(rc);
    goto done;
  }
  ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&x);
  return ret;
}

/* codec_ranges(codec, lo, hi, set): copies ranges in (set) or out of the codec. */
PyObject *vpy_codec_ranges(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "codec_ranges(codec, lo, hi, set)");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  if (!c) return NULL;
  int set = PyObject_IsTrue(args[3]);
  Py_buffer lo = {0}, hi = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[1], &lo, "lo", 'f', 4, 1, !set) < 0 ||
      vpy_get_buffer(args[2], &hi, "hi", 'f', 4, 1, !set) < 0)
    goto done;
  size_t d = vec_codec_get_params(c)->dim;
  int rc = VEC_E_INVALID_ARG;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  if ((size_t)lo.shape[0] == d && (size_t)hi.shape[0] == d) {
    if (!set) {
      vpy_guard_read_gil(g);
      rc = vec_codec_get_ranges(c, lo.buf, hi.buf);
      vpy_guard_done(g);
    } else if (vpy_guard_write(g, "set the ranges of") < 0) {
      goto done;
    } else {
      g->gen++;
      rc = vec_codec_set_ranges(c, lo.buf, hi.buf);
      vpy_guard_done(g);
    }
  }
  if (rc == VEC_E_INVALID_ARG && !(*vec_last_error_message()))
    PyErr_Format(PyExc_ValueError, "ranges must be two float32 arrays of length %zu", d);
  else if (rc != VEC_OK)
    vpy_raise_last(rc);
  else
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&hi);
  vpy_release(&lo);
  return ret;
}
PyObject *vpy_codec_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError, "codec_encode(codec, x, codes, scales, threads, progress)");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[0]);
  if (!c) return NULL;
  int threads;
  if (vpy_parse_threads(args[4], &threads) < 0) return NULL;
  PyObject *cb = args[5] == Py_None ? NULL : args[5];
  Py_buffer x = {0}, q = {0}, s = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) goto done;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  if (d != vec_codec_get_params(c)->dim) {
    PyErr_Format(PyExc_ValueError, "embeddings have dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    goto done;
  }
  if (vpy_get_flat(args[2], &q, "codes", n * cs, 1) < 0) goto done;
  int have_s = sc > 0;
  if (have_s && vpy_get_flat(args[3], &s, "scales", n * sc * 4, 1) < 0) goto done;
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  vpy_progress p = {NULL, cb, 0.0, 0};
  o.threads = threads;
  o.progress = vpy_progress_trampoline;
  o.progress_user = &p;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  p.ts = PyEval_SaveThread();
  vpy_guard_read(g);
  unsigned long long gen = g->gen;
  int rc =
      vec_codec_encode(c, (const float *)x.buf, n, ldx, q.buf, have_s ? (float *)s.buf : NULL, &o);
  vpy_guard_done(g);
  PyEval_RestoreThread(p.ts);
  if (rc != VEC_OK)
    vpy_raise_vec(rc, &p);
  else
    ret = PyLong_FromUnsignedLongLong(gen); /* the state that made the codes */
done:
  vpy_release(&s);
  vpy_release(&q);
  vpy_release(&x);
  return ret;
}

PyObject *vpy_codec_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6 && nargs != 7) {
    PyErr_SetString(PyExc_TypeError,
                    "codec_decode(codec, codes, scales, out, threads, progress[, gen])");
    return NULL;
  }
  /* gen: the codec state the caller checked the codes against; -1 (or absent): no check */
  long long want_gen = nargs == 7 ? PyLong_AsLongLong(args[6]) : -1;
  if (want_gen == -1 && PyErr_Occurred()) return NULL;
  vec_codec *c = vpy_get_codec(args[0]);
  if (!c) return NULL;
  int threads;
  if (vpy_parse_threads(args[4], &threads) < 0) return NULL;
  PyObject *cb = args[5] == Py_None ? NULL : args[5];
  Py_buffer out = {0}, q = {0}, s = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[3], &out, "out", 'f', 4, 2, 1) < 0) goto done;
  size_t n = (size_t)out.shape[0], d = (size_t)out.shape[1];
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  if (d != vec_codec_get_params(c)->dim) {
    PyErr_Format(PyExc_ValueError, "out has dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    goto done;
  }
  if (vpy_get_flat(args[1], &q, "codes", n * cs, 0) < 0) goto done;
  int have_s = sc > 0;
  if (have_s && vpy_get_flat(args[2], &s, "scales", n * sc * 4, 0) < 0) goto done;
  size_t ldo = n > 1 ? (size_t)out.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  vpy_progress p = {NULL, cb, 0.0, 0};
  o.threads = threads;
  o.progress = vpy_progress_trampoline;
  o.progress_user = &p;
  vpy_codec_guard *g = vpy_guard_of(args[0]);
  p.ts = PyEval_SaveThread();
  vpy_guard_read(g);
  int stale = want_gen >= 0 && g->gen != (unsigned long long)want_gen;
  int rc = stale ? VEC_OK
                 : vec_codec_decode(c, q.buf, have_s ? (const float *)s.buf : NULL, n,
                                    (float *)out.buf, ldo, &o);
  vpy_guard_done(g);
  PyEval_RestoreThread(p.ts);
  if (stale)
    PyErr_SetString(vpy_error, "the codec was refitted after these codes were checked against "
                               "it (by another thread): they were made by another codec state");
  else if (rc != VEC_OK)
    vpy_raise_vec(rc, &p);
  else
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&s);
  vpy_release(&q);
  vpy_release(&out);
  return ret;
}

/* The serialisation of one state of the codec, with its generation when with_gen. */
static PyObject *serialize_state(PyObject *arg, int with_gen) {
  vec_codec *c = vpy_get_codec(arg);
  if (!c) return NULL;
  vpy_codec_guard *g = vpy_guard_of(arg);
  vpy_guard_read_gil(g); /* the size and the bytes of one state */
  size_t size = vec_codec_serialized_size(c);
  unsigned long long gen = g->gen;
  PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
  int rc = b ? vec_codec_serialize(c, PyBytes_AS_STRING(b), size) : VEC_E_NOMEM;
  vpy_guard_done(g);
  if (!b) return NULL;
  if (rc != VEC_OK) {
    Py_DECREF(b);
    return vpy_raise_last(rc);
  }
  return with_gen ? Py_BuildValue("(KN)", gen, b) : b;
}

PyObject *vpy_codec_serialize(PyObject *self, PyObject *arg) {
  (void)self;
  return serialize_state(arg, 0);
}

/* codec_state(codec) -> (gen, bytes): one state's serialisation and its generation, atomically.
 */
PyObject *vpy_codec_state(PyObject *self, PyObject *arg) {
  (void)self;
  return serialize_state(arg, 1);
}

PyObject *vpy_codec_deserialize(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  vec_codec *c;
  int rc = vec_codec_deserialize(b.buf, (size_t)b.len, &c);
  PyBuffer_Release(&b);
  if (rc != VEC_OK) return vpy_raise_last(rc);
  return codec_capsule(c);
}
