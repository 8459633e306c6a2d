/* _core_files.c: the file objects of vectro._core: the .vqz writer and reader and the streaming
 * embeddings reader (capsules around C objects). */
#include "_core.h"

#include <string.h>

/* ----------------------------------------------------------------------------------------------
 * Files: .vqz writer and reader, the streaming embeddings reader (capsules around C objects)
 * -------------------------------------------------------------------------------------------- */
#define VQZW_CAPSULE   "vectro.vqz_writer"
#define VQZR_CAPSULE   "vectro.vqz_reader"
#define READER_CAPSULE "vectro.reader"

/* A stateful object Python threads may share (the writer, the streaming reader): a mutex
 * serialises every call, and close takes the object out under it, so a close waits for a running
 * append and an append after it finds the handle closed (no use after free, no file finished
 * under a running append). The mutex is only ever waited for with the GIL released. A capsule
 * cannot be freed during a call: the call's arguments hold a reference to it. */
typedef struct {
  pthread_mutex_t mu;
  void *obj; /* NULL once closed */
  void (*drop)(void *);
  PyObject *path; /* the path it was opened with: VectroIOError's filename */
} guarded;

static void drop_writer(void *w) { vec_vqz_writer_abort(w); }
static void drop_reader(void *r) { vec_reader_close(r); }

/* A writer dropped without finish (an exception, a crash of the caller) removes its temporary. */
static void guarded_capsule_free(PyObject *cap) {
  guarded *h = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
  if (!h) return;
  if (h->obj) h->drop(h->obj);
  Py_XDECREF(h->path);
  pthread_mutex_destroy(&h->mu);
  PyMem_RawFree(h);
}

static PyObject *guarded_capsule(void *obj, const char *name, void (*drop)(void *),
                                 PyObject *path) {
  guarded *h = PyMem_RawCalloc(1, sizeof *h);
  if (!h || pthread_mutex_init(&h->mu, NULL) != 0) {
    PyMem_RawFree(h);
    drop(obj);
    return PyErr_NoMemory();
  }
  h->obj = obj, h->drop = drop, h->path = path;
  Py_XINCREF(path);
  PyObject *cap = PyCapsule_New(h, name, guarded_capsule_free);
  if (!cap) {
    drop(obj);
    Py_XDECREF(path);
    pthread_mutex_destroy(&h->mu);
    PyMem_RawFree(h);
  }
  return cap;
}

/* The handle behind a capsule, or NULL with TypeError. */
static guarded *get_guarded(PyObject *o, const char *name) {
  guarded *h = PyCapsule_IsValid(o, name) ? PyCapsule_GetPointer(o, name) : NULL;
  if (!h) PyErr_Format(PyExc_TypeError, "expected a %s handle", name);
  return h;
}

/* Locks h (call with the GIL released) and returns its object, NULL when closed. */
static void *guarded_lock(guarded *h) {
  pthread_mutex_lock(&h->mu);
  return h->obj;
}
static void guarded_unlock(guarded *h) { pthread_mutex_unlock(&h->mu); }

/* rc for a call on a closed handle: raised by raise_closed. */
#define RC_CLOSED 1
static PyObject *raise_closed(const char *what) {
  PyErr_Format(PyExc_ValueError, "the %s is closed (closed or aborted, maybe by another thread)",
               what);
  return NULL;
}

static void vqzr_capsule_free(PyObject *cap) {
  vec_vqz_reader_close((vec_vqz_reader *)PyCapsule_GetPointer(cap, VQZR_CAPSULE));
}

/* The object behind a capsule, or NULL with ValueError. */
static void *get_cap(PyObject *o, const char *name) {
  void *p = PyCapsule_IsValid(o, name) ? PyCapsule_GetPointer(o, name) : NULL;
  if (!p) PyErr_Format(PyExc_ValueError, "expected an open %s handle", name);
  return p;
}

static PyObject *path_arg(PyObject *o) { /* str or os.PathLike -> bytes */
  PyObject *b = NULL;
  if (!PyUnicode_FSConverter(o, &b)) return NULL;
  return b;
}

PyObject *vpy_vqz_writer_open(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError,
                    "vqz_writer_open(path, codec, metadata, with_ids, block_rows)");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[1]);
  if (!c) return NULL;
  PyObject *pb = path_arg(args[0]);
  if (!pb) return NULL;
  const char *meta = NULL;
  if (args[2] != Py_None && !(meta = PyUnicode_AsUTF8(args[2]))) {
    Py_DECREF(pb);
    return NULL;
  }
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.metadata = meta;
  o.with_ids = PyObject_IsTrue(args[3]);
  o.block_rows = PyLong_AsSize_t(args[4]);
  if (PyErr_Occurred()) {
    Py_DECREF(pb);
    return NULL;
  }
  vec_vqz_writer *w;
  vpy_codec_guard *g = vpy_guard_of(args[1]);
  unsigned long long gen;
  int rc;
  /* The writer copies the codec: under the guard, so the copy is one state, named by gen. */
  Py_BEGIN_ALLOW_THREADS
  vpy_guard_read(g);
  gen = g->gen;
  rc = vec_vqz_writer_open(PyBytes_AS_STRING(pb), c, &o, &w);
  vpy_guard_done(g);
  Py_END_ALLOW_THREADS
  Py_DECREF(pb);
  if (rc != VEC_OK) return vpy_raise_path(rc, args[0]);
  PyObject *cap = guarded_capsule(w, VQZW_CAPSULE, drop_writer, args[0]);
  return cap ? Py_BuildValue("(NK)", cap, gen) : NULL;
}

/* vqz_writer_append(w, codes, scales|None, ids|None, n) */
PyObject *vpy_vqz_writer_append(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "vqz_writer_append(writer, codes, scales, ids, n)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], VQZW_CAPSULE);
  if (!h) return NULL;
  Py_ssize_t n = PyLong_AsSsize_t(args[4]);
  if (n < 0) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "n must be >= 0");
  Py_buffer q = {0}, s = {0}, id = {0};
  PyObject *ret = NULL;
  int have_s = args[2] != Py_None, have_id = args[3] != Py_None;
  if (PyObject_GetBuffer(args[1], &q, PyBUF_C_CONTIGUOUS) < 0) goto done;
  if (have_s && PyObject_GetBuffer(args[2], &s, PyBUF_C_CONTIGUOUS) < 0) goto done;
  if (have_id && PyObject_GetBuffer(args[3], &id, PyBUF_C_CONTIGUOUS) < 0) goto done;
  if (have_id && id.len != n * 8) {
    PyErr_Format(PyExc_ValueError, "ids must hold %zd uint64 values", n);
    goto done;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS
  vec_vqz_writer *w = guarded_lock(h);
  rc = w ? vec_vqz_writer_append(w, q.buf, have_s ? (const float *)s.buf : NULL,
                                 have_id ? (const uint64_t *)id.buf : NULL, (size_t)n)
         : RC_CLOSED;
  guarded_unlock(h);
  Py_END_ALLOW_THREADS
  if (rc == RC_CLOSED)
    raise_closed("writer");
  else if (rc != VEC_OK)
    vpy_raise_path(rc, h->path);
  else
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&id);
  vpy_release(&s);
  vpy_release(&q);
  return ret;
}

/* vqz_writer_append_floats(w, x, ids|None, threads) */
PyObject *vpy_vqz_writer_append_floats(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "vqz_writer_append_floats(writer, x, ids, threads)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], VQZW_CAPSULE);
  if (!h) return NULL;
  int threads;
  if (vpy_parse_threads(args[3], &threads) < 0) return NULL;
  Py_buffer x = {0}, id = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) goto done;
  int have_id = args[2] != Py_None;
  if (have_id && PyObject_GetBuffer(args[2], &id, PyBUF_C_CONTIGUOUS) < 0) goto done;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  if (have_id && (size_t)id.len != n * 8) {
    PyErr_Format(PyExc_ValueError, "ids must hold %zu uint64 values", n);
    goto done;
  }
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  vec_vqz_writer *w = guarded_lock(h);
  rc = w ? vec_vqz_writer_append_floats(w, (const float *)x.buf, n, ldx,
                                        have_id ? (const uint64_t *)id.buf : NULL, &o)
         : RC_CLOSED;
  guarded_unlock(h);
  VPY_INTERRUPTIBLE_END(p)
  if (rc == RC_CLOSED)
    raise_closed("writer");
  else if (rc != VEC_OK && !p.raised)
    vpy_raise_path(rc, h->path);
  else if (rc == VEC_OK)
    ret = (Py_INCREF(Py_None), Py_None);
done:
  vpy_release(&id);
  vpy_release(&x);
  return ret;
}

/* vqz_writer_close(w, finish): finish (rename into place) or abort; the handle is closed after,
 * whatever happens. It waits for a running append, so the file it publishes holds every row an
 * append that returned normally was given. */
PyObject *vpy_vqz_writer_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "vqz_writer_close(writer, finish)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], VQZW_CAPSULE);
  if (!h) return NULL;
  int finish = PyObject_IsTrue(args[1]);
  if (finish < 0) return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  vec_vqz_writer *w = guarded_lock(h);
  h->obj = NULL;
  rc = !w ? RC_CLOSED : finish ? vec_vqz_writer_finish(w) : (vec_vqz_writer_abort(w), VEC_OK);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS
  if (rc == RC_CLOSED) return raise_closed("writer");
  if (rc != VEC_OK) return vpy_raise_path(rc, h->path);
  Py_RETURN_NONE;
}

PyObject *vpy_vqz_reader_open(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *pb = path_arg(arg);
  if (!pb) return NULL;
  vec_vqz_reader *r;
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = vec_vqz_reader_open(PyBytes_AS_STRING(pb), &r);
  Py_END_ALLOW_THREADS
  Py_DECREF(pb);
  if (rc != VEC_OK) return vpy_raise_path(rc, arg);
  PyObject *cap = PyCapsule_New(r, VQZR_CAPSULE, vqzr_capsule_free);
  if (!cap) vec_vqz_reader_close(r);
  return cap;
}

PyObject *vpy_vqz_reader_info(PyObject *self, PyObject *arg) {
  (void)self;
  vec_vqz_reader *r = get_cap(arg, VQZR_CAPSULE);
  if (!r) return NULL;
  vec_vqz_info i;
  memset(&i, 0, sizeof i);
  i.struct_size = sizeof i;
  int rc = vec_vqz_get_info(r, &i);
  if (rc != VEC_OK) return vpy_raise_last(rc);
  const vec_codec *c = vec_vqz_codec(r);
  size_t size = vec_codec_serialized_size(c);
  PyObject *blob = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
  if (!blob) return NULL;
  if (vec_codec_serialize(c, PyBytes_AS_STRING(blob), size) != VEC_OK) {
    Py_DECREF(blob);
    return vpy_raise_last(VEC_E_INVALID_ARG);
  }
  /* metadata as bytes: the file may hold text that is not UTF-8, which Python reports on access */
  return Py_BuildValue("{s:I,s:I,s:n,s:K,s:n,s:n,s:n,s:K,s:K,s:i,s:y,s:N}", "version_major",
                       i.version_major, "version_minor", i.version_minor, "dim", (Py_ssize_t)i.dim,
                       "count", (unsigned long long)i.count, "code_size", (Py_ssize_t)i.code_size,
                       "scale_count", (Py_ssize_t)i.scale_count, "block_rows",
                       (Py_ssize_t)i.block_rows, "blocks", (unsigned long long)i.blocks,
                       "file_size", (unsigned long long)i.file_size, "has_ids", i.has_ids,
                       "metadata", vec_vqz_metadata(r), "codec", blob);
}

/* vqz_read(r, first, n, codes, scales|None, ids|None) */
PyObject *vpy_vqz_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError, "vqz_read(reader, first, n, codes, scales, ids)");
    return NULL;
  }
  vec_vqz_reader *r = get_cap(args[0], VQZR_CAPSULE);
  if (!r) return NULL;
  unsigned long long first = PyLong_AsUnsignedLongLong(args[1]);
  Py_ssize_t n = PyLong_AsSsize_t(args[2]);
  if (PyErr_Occurred()) return NULL;
  const vec_codec *c = vec_vqz_codec(r);
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  Py_buffer q = {0}, s = {0}, id = {0};
  PyObject *ret = NULL;
  int have_s = args[4] != Py_None, have_id = args[5] != Py_None, rc;
  if (vpy_get_flat(args[3], &q, "codes", (size_t)n * cs, 1) < 0) goto done;
  if (have_s && vpy_get_flat(args[4], &s, "scales", (size_t)n * sc * 4, 1) < 0) goto done;
  if (have_id && vpy_get_flat(args[5], &id, "ids", (size_t)n * 8, 1) < 0) goto done;
  {
    /* In pieces of at most 2 MiB of codes and scales, Ctrl-C checked between them (a whole
     * file read at once would otherwise keep it pending until the end). */
    size_t row = cs + 4 * sc + 8, step = ((size_t)2 << 20) / (row ? row : 1);
    step = step ? step : 1;
    rc = VEC_OK;
    vpy_progress p = {NULL, NULL, 0.0, 0};
    p.ts = PyEval_SaveThread();
    for (size_t a = 0; rc == VEC_OK && a < (size_t)n; a += step) {
      size_t m = (size_t)n - a < step ? (size_t)n - a : step;
      rc = vec_vqz_read(r, first + a, m, (uint8_t *)q.buf + a * cs,
                        have_s ? (float *)s.buf + a * sc : NULL,
                        have_id ? (uint64_t *)id.buf + a : NULL);
      if (rc == VEC_OK && a + m < (size_t)n && vpy_progress_trampoline(&p, a + m, (size_t)n))
        rc = VEC_E_CANCELLED;
    }
    PyEval_RestoreThread(p.ts);
    if (rc != VEC_OK)
      vpy_raise_vec(rc, &p);
    else
      ret = (Py_INCREF(Py_None), Py_None);
  }
done:
  vpy_release(&id);
  vpy_release(&s);
  vpy_release(&q);
  return ret;
}

PyObject *vpy_vqz_verify(PyObject *self, PyObject *arg) {
  (void)self;
  vec_vqz_reader *r = get_cap(arg, VQZR_CAPSULE);
  if (!r) return NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  VPY_INTERRUPTIBLE_BEGIN(o, p)
  int rc = vec_vqz_verify_opts(r, &o);
  VPY_INTERRUPTIBLE_END(p)
  if (rc != VEC_OK) return vpy_raise_vec(rc, &p);
  Py_RETURN_NONE;
}

PyObject *vpy_reader_open(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *pb = path_arg(arg);
  if (!pb) return NULL;
  vec_reader *r;
  int rc = vec_reader_open(PyBytes_AS_STRING(pb), &r);
  Py_DECREF(pb);
  if (rc != VEC_OK) return vpy_raise_path(rc, arg);
  return guarded_capsule(r, READER_CAPSULE, drop_reader, arg);
}

PyObject *vpy_reader_shape(PyObject *self, PyObject *arg) {
  (void)self;
  guarded *h = get_guarded(arg, READER_CAPSULE);
  if (!h) return NULL;
  unsigned long long n = 0;
  size_t d = 0;
  Py_BEGIN_ALLOW_THREADS
  vec_reader *r = guarded_lock(h);
  if (r) n = vec_reader_count(r), d = vec_reader_dim(r);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS
  if (!d) return raise_closed("reader");
  return Py_BuildValue("(Kn)", n, (Py_ssize_t)d);
}

/* reader_read(r, out): fills rows of out (n, d float32, C order); returns how many were read.
 */
PyObject *vpy_reader_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "reader_read(reader, out)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], READER_CAPSULE);
  if (!h) return NULL;
  Py_buffer out;
  if (vpy_get_buffer(args[1], &out, "out", 'f', 4, 2, 1) < 0) return NULL;
  size_t got = 0, d = 0, rows = (size_t)out.shape[0], cols = (size_t)out.shape[1];
  size_t stride = rows > 1 ? (size_t)out.strides[0] : 4 * cols;
  int rc, bad_shape = 0;
  Py_BEGIN_ALLOW_THREADS
  vec_reader *r = guarded_lock(h);
  d = r ? vec_reader_dim(r) : 0;
  bad_shape = r && (cols != d || stride != 4 * d);
  rc = !r ? RC_CLOSED : bad_shape ? VEC_OK : vec_reader_read(r, (float *)out.buf, rows, &got);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS
  PyBuffer_Release(&out);
  if (rc == RC_CLOSED) return raise_closed("reader");
  if (bad_shape)
    return PyErr_Format(PyExc_ValueError, "out must be C-contiguous with %zu columns", d);
  if (rc != VEC_OK) return vpy_raise_path(rc, h->path);
  return PyLong_FromSize_t(got);
}

/* compress_file(src, dst, codec, metadata|None, chunk_rows, threads, progress|None) -> rows:
 * vec_compress_file, the pipeline `vectro compress` runs. A codec that needs training and has none
 * is trained by it on the file's leading rows, so it is held exclusively (as fit holds it);
 * otherwise shared. Ctrl-C and the progress callback are checked between chunks. */
PyObject *vpy_compress_file(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 7) {
    PyErr_SetString(PyExc_TypeError,
                    "compress_file(src, dst, codec, metadata, chunk_rows, threads, progress)");
    return NULL;
  }
  vec_codec *c = vpy_get_codec(args[2]);
  if (!c) return NULL;
  int threads;
  if (vpy_parse_threads(args[5], &threads) < 0) return NULL;
  size_t chunk = PyLong_AsSize_t(args[4]);
  if (chunk == (size_t)-1 && PyErr_Occurred()) return NULL;
  PyObject *src = NULL, *dst = NULL, *ret = NULL;
  const char *meta = NULL;
  if (!(src = path_arg(args[0])) || !(dst = path_arg(args[1]))) goto done;
  if (args[3] != Py_None && !(meta = PyUnicode_AsUTF8(args[3]))) goto done;
  vpy_codec_guard *g = vpy_guard_of(args[2]);
  int train = vec_codec_needs_training(c) && !vec_codec_is_trained(c);
  if (train) {
    if (vpy_guard_write(g, "fit") < 0) goto done;
    g->gen++; /* the pipeline trains it: even a failed run may have changed the state */
  }
  vec_compress_opts o = VEC_COMPRESS_OPTS_INIT;
  o.metadata = meta;
  o.chunk_rows = chunk;
  o.batch.threads = threads;
  vpy_progress p = {NULL, args[6] == Py_None ? NULL : args[6], 0.0, 0};
  o.batch.progress = vpy_progress_trampoline;
  o.batch.progress_user = &p;
  uint64_t rows = 0;
  int rc;
  p.ts = PyEval_SaveThread();
  if (!train) vpy_guard_read(g);
  rc = vec_compress_file(PyBytes_AS_STRING(src), PyBytes_AS_STRING(dst), c, &o, &rows);
  vpy_guard_done(g);
  PyEval_RestoreThread(p.ts);
  if (rc == VEC_OK)
    ret = PyLong_FromUnsignedLongLong(rows);
  else if (!p.raised) {
    /* The file a VEC_E_IO is about: the reader's messages start "<input>: ", the writer's never. */
    const char *msg = vec_last_error_message(), *in = PyBytes_AS_STRING(src);
    size_t len = strlen(in);
    int input = strncmp(msg, in, len) == 0 && msg[len] == ':';
    vpy_raise_path(rc, args[input ? 0 : 1]);
  }
done:
  Py_XDECREF(src);
  Py_XDECREF(dst);
  return ret;
}
