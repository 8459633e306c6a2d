/* _core.c: the CPython extension over libvectro. Plain C on the buffer protocol (no NumPy headers):
 * the Python layer allocates outputs and normalises inputs; this file checks every buffer again,
 * releases the GIL around the C work, and turns library errors into vectro.VectroError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "vectro.h"

static PyObject *VectroError; /* subclass of ValueError: the input is at fault */

int vec_py_index_init(PyObject *module, PyObject *error); /* _core_index.c: vec_index */

/* ----------------------------------------------------------------------------------------------
 * Buffers
 * -------------------------------------------------------------------------------------------- */

/* Is `fmt` the struct-module code `want` in native byte order ("f", "=f", "<f" on LE)? */
static int format_is(const char *fmt, char want) {
  if (!fmt) return want == 'B';
  if (fmt[0] == '@' || fmt[0] == '=') fmt++;
#if PY_BIG_ENDIAN
  else if (fmt[0] == '>' || fmt[0] == '!')
    fmt++;
#else
  else if (fmt[0] == '<')
    fmt++;
#endif
  return fmt[0] == want && fmt[1] == '\0';
}

/* Gets a buffer of `ndim` dimensions, element format `fmt`, contiguous along its last axis (rows
 * may be strided by a multiple of the item size). Raises TypeError/ValueError naming the argument.
 */
static int get_buffer(PyObject *obj, Py_buffer *view, const char *name, char fmt,
                      Py_ssize_t itemsize, int ndim, int writable) {
  int flags = PyBUF_STRIDES | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
  if (PyObject_GetBuffer(obj, view, flags) < 0) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s must be a%s buffer (a NumPy array), got %.100s", name,
                 writable ? " writable" : "", Py_TYPE(obj)->tp_name);
    return -1;
  }
  const char *why = NULL;
  if (!format_is(view->format, fmt) || view->itemsize != itemsize)
    why = "has the wrong element type";
  else if (view->ndim != ndim)
    why = "has the wrong number of dimensions";
  else if (ndim >= 1 && view->shape[ndim - 1] > 1 && view->strides[ndim - 1] != itemsize)
    why = "is not contiguous along its last axis";
  else if (ndim == 2 && view->shape[0] > 1 &&
           (view->strides[0] < view->shape[1] * itemsize || view->strides[0] % itemsize))
    why = "has an unsupported row stride";
  if (why) {
    PyErr_Format(PyExc_TypeError, "%s %s (format '%s', ndim %d)", name, why,
                 view->format ? view->format : "B", view->ndim);
    PyBuffer_Release(view);
    return -1;
  }
  return 0;
}

/* ----------------------------------------------------------------------------------------------
 * Progress and interruption while the GIL is released
 * -------------------------------------------------------------------------------------------- */
typedef struct {
  PyThreadState *ts; /* saved state of the calling thread while the GIL is released */
  PyObject *callback;
  double last;
  int raised;
} progress_ctx;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Called by the engine on this (the caller's) thread between chunks. Taking the GIL back can wait
 * for another Python thread's switch interval, so it is done at most every 50 ms: often enough for
 * a progress bar and for Ctrl-C, rarely enough to cost nothing. */
static int progress_trampoline(void *user, size_t done, size_t total) {
  progress_ctx *p = user;
  double t = now_s();
  int final = done == total;
  if (!(final && p->callback) && t - p->last < 0.05) return 0;
  p->last = t;
  PyEval_RestoreThread(p->ts);
  int stop = 0;
  if (PyErr_CheckSignals() < 0) {
    stop = 1;
  } else if (p->callback) {
    PyObject *r = PyObject_CallFunction(p->callback, "nn", (Py_ssize_t)done, (Py_ssize_t)total);
    if (!r) {
      stop = 1;
    } else if (r == Py_False) { /* False cancels (None, the usual return, goes on) */
      PyErr_SetString(VectroError, "cancelled: the progress callback returned False");
      stop = 1;
    }
    Py_XDECREF(r);
  }
  p->ts = PyEval_SaveThread();
  if (stop) p->raised = 1;
  return stop;
}

/* Long calls that take no progress callback from Python still check for Ctrl-C between chunks,
 * as encode does: INTERRUPTIBLE_BEGIN releases the GIL with the trampoline installed,
 * INTERRUPTIBLE_END takes it back; p.raised then says KeyboardInterrupt is pending. */
#define INTERRUPTIBLE_BEGIN(o, p)                                                                  \
  progress_ctx p = {NULL, NULL, now_s(), 0};                                                       \
  (o).progress = progress_trampoline;                                                              \
  (o).progress_user = &p;                                                                          \
  p.ts = PyEval_SaveThread();
#define INTERRUPTIBLE_END(p) PyEval_RestoreThread((p).ts);

static int parse_threads(PyObject *o, int *threads) {
  long v = PyLong_AsLong(o);
  if (v == -1 && PyErr_Occurred()) return -1;
  if (v < 0 || v > 4096) {
    PyErr_Format(PyExc_ValueError, "threads must be between 0 (all cores) and 4096, got %ld", v);
    return -1;
  }
  *threads = (int)v;
  return 0;
}

/* Raises the right exception after a failed library call. */
static PyObject *raise_vec(int rc, const progress_ctx *p) {
  if (p->raised) return NULL; /* the callback's own exception, or KeyboardInterrupt */
  const char *detail = vec_last_error_message();
  PyObject *type = rc == VEC_E_NOMEM ? PyExc_MemoryError : VectroError;
  PyErr_Format(type, "%s", detail && *detail ? detail : vec_strerror(rc));
  return NULL;
}

/* ----------------------------------------------------------------------------------------------
 * Backend
 * -------------------------------------------------------------------------------------------- */
static const struct {
  unsigned bit;
  const char *name;
} feature_names[] = {
    {VEC_CPU_AVX2, "avx2"},
    {VEC_CPU_FMA, "fma"},
    {VEC_CPU_F16C, "f16c"},
    {VEC_CPU_AVX512F, "avx512f"},
    {VEC_CPU_AVX512BW, "avx512bw"},
    {VEC_CPU_AVX512VL, "avx512vl"},
    {VEC_CPU_AVX512VNNI, "avx512vnni"},
    {VEC_CPU_AVX512VPOPCNTDQ, "avx512vpopcntdq"},
    {VEC_CPU_AVX512BF16, "avx512bf16"},
    {VEC_CPU_NEON, "neon"},
    {VEC_CPU_DOTPROD, "dotprod"},
};

static const vec_isa all_isas[] = {VEC_ISA_SCALAR, VEC_ISA_AVX2, VEC_ISA_AVX512, VEC_ISA_NEON};

static PyObject *backend_info(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  unsigned f = vec_cpu_features();
  PyObject *feats = PyList_New(0), *isas = PyList_New(0);
  if (!feats || !isas) goto fail;
  for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
    if (!(f & feature_names[i].bit)) continue;
    PyObject *s = PyUnicode_FromString(feature_names[i].name);
    if (!s || PyList_Append(feats, s) < 0) {
      Py_XDECREF(s);
      goto fail;
    }
    Py_DECREF(s);
  }
  for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++) {
    if (!vec_isa_supported(all_isas[i])) continue;
    PyObject *s = PyUnicode_FromString(vec_isa_name(all_isas[i]));
    if (!s || PyList_Append(isas, s) < 0) {
      Py_XDECREF(s);
      goto fail;
    }
    Py_DECREF(s);
  }
  return Py_BuildValue("{s:s,s:s,s:N,s:N,s:i,s:s}", "kernel", vec_isa_name(vec_active_isa()),
                       "library_version", vec_version_string(), "cpu_features", feats,
                       "available_kernels", isas, "threads", vec_default_threads(), "compiler",
#if defined(__clang__)
                       "clang " __clang_version__
#elif defined(__GNUC__)
                       "gcc " __VERSION__
#else
                       "unknown"
#endif
  );
fail:
  Py_XDECREF(feats);
  Py_XDECREF(isas);
  return NULL;
}

static PyObject *set_isa(PyObject *self, PyObject *arg) {
  (void)self;
  const char *name = PyUnicode_AsUTF8(arg);
  if (!name) return NULL;
  vec_isa isa = VEC_ISA_AUTO;
  if (strcmp(name, "auto") != 0) {
    size_t i = 0;
    for (; i < sizeof all_isas / sizeof all_isas[0]; i++)
      if (strcmp(name, vec_isa_name(all_isas[i])) == 0) break;
    if (i == sizeof all_isas / sizeof all_isas[0]) {
      PyErr_Format(PyExc_ValueError,
                   "unknown kernel '%s': expected 'auto', 'scalar', 'avx2', 'avx512' or 'neon'",
                   name);
      return NULL;
    }
    isa = all_isas[i];
  }
  int rc = vec_set_isa(isa);
  if (rc != VEC_OK) {
    PyErr_Format(VectroError, "%s", vec_last_error_message());
    return NULL;
  }
  return PyUnicode_FromString(vec_isa_name(vec_active_isa()));
}

/* ----------------------------------------------------------------------------------------------
 * Physical ceilings for the benchmark: a plain read and a memcpy of a buffer, timed by the caller.
 * -------------------------------------------------------------------------------------------- */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t read_avx2(const unsigned char *p, size_t n) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    a = _mm256_or_si256(a, _mm256_loadu_si256((const __m256i *)(p + i)));
    b = _mm256_or_si256(b, _mm256_loadu_si256((const __m256i *)(p + i + 32)));
    c = _mm256_or_si256(c, _mm256_loadu_si256((const __m256i *)(p + i + 64)));
    d = _mm256_or_si256(d, _mm256_loadu_si256((const __m256i *)(p + i + 96)));
  }
  a = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
  uint64_t r = (uint64_t)_mm256_extract_epi64(a, 0) | (uint64_t)_mm256_extract_epi64(a, 3);
  for (; i < n; i++) r |= p[i];
  return r;
}
#endif

static uint64_t read_plain(const unsigned char *p, size_t n) {
  uint64_t r = 0, w;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    r |= w;
  }
  for (; i < n; i++) r |= p[i];
  return r;
}

static PyObject *bench_read(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  uint64_t r;
  double t0 = now_s();
  Py_BEGIN_ALLOW_THREADS
#if defined(__x86_64__) && defined(__GNUC__)
      r = (vec_cpu_features() & VEC_CPU_AVX2) ? read_avx2(b.buf, (size_t)b.len)
                                              : read_plain(b.buf, (size_t)b.len);
#else
      r = read_plain(b.buf, (size_t)b.len);
#endif
  Py_END_ALLOW_THREADS double t = now_s() - t0;
  PyBuffer_Release(&b);
  return Py_BuildValue("(dK)", t, (unsigned long long)r);
}

static PyObject *bench_memcpy(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "_bench_memcpy(dst, src)");
    return NULL;
  }
  Py_buffer dst, src;
  if (PyObject_GetBuffer(args[0], &dst, PyBUF_WRITABLE) < 0) return NULL;
  if (PyObject_GetBuffer(args[1], &src, PyBUF_SIMPLE) < 0) {
    PyBuffer_Release(&dst);
    return NULL;
  }
  double t = -1;
  if (dst.len >= src.len) {
    double t0 = now_s();
    Py_BEGIN_ALLOW_THREADS memcpy(dst.buf, src.buf, (size_t)src.len);
    Py_END_ALLOW_THREADS t = now_s() - t0;
  }
  PyBuffer_Release(&src);
  PyBuffer_Release(&dst);
  if (t < 0) {
    PyErr_SetString(PyExc_ValueError, "dst is smaller than src");
    return NULL;
  }
  return PyFloat_FromDouble(t);
}

/* ----------------------------------------------------------------------------------------------
 * Codec objects (a capsule around vec_codec*)
 * -------------------------------------------------------------------------------------------- */
#define CODEC_CAPSULE "vectro.codec"

/* Python threads share a codec while the GIL is released, so every capsule carries (as its
 * context) a readers-writer lock: encode, decode, search and serialisation hold it shared, fit and
 * set_ranges exclusively, so a codec never changes under a running call. A change of state is
 * only tried (trywrlock) and raises when the codec is in use: waiting could deadlock when the
 * user is a progress callback of a running encode on the same thread. `gen` counts the changes,
 * so Python can tell which state made a set of codes. The rule that avoids deadlock with the GIL:
 * a thread never blocks on a guard while it holds the GIL. */
typedef struct {
  pthread_rwlock_t lk;
  unsigned long long gen;
} codec_guard;

static void codec_capsule_free(PyObject *cap) {
  codec_guard *g = PyCapsule_GetContext(cap);
  vec_codec_free((vec_codec *)PyCapsule_GetPointer(cap, CODEC_CAPSULE));
  if (g) {
    pthread_rwlock_destroy(&g->lk);
    PyMem_RawFree(g);
  }
}

/* A capsule owning c (freed on failure too). */
static PyObject *codec_capsule(vec_codec *c) {
  codec_guard *g = PyMem_RawCalloc(1, sizeof *g);
  if (!g || pthread_rwlock_init(&g->lk, NULL) != 0) {
    PyMem_RawFree(g);
    vec_codec_free(c);
    return PyErr_NoMemory();
  }
  PyObject *cap = PyCapsule_New(c, CODEC_CAPSULE, NULL);
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

static vec_codec *get_codec(PyObject *o) {
  vec_codec *c =
      PyCapsule_IsValid(o, CODEC_CAPSULE) ? PyCapsule_GetPointer(o, CODEC_CAPSULE) : NULL;
  if (!c) PyErr_SetString(PyExc_TypeError, "expected a codec handle");
  return c;
}

/* The guard of a capsule get_codec accepted. */
static codec_guard *guard_of(PyObject *o) { return PyCapsule_GetContext(o); }

/* Shared hold, for calls that only read the codec. Call with the GIL released. */
static void guard_read(codec_guard *g) { pthread_rwlock_rdlock(&g->lk); }
static void guard_done(codec_guard *g) { pthread_rwlock_unlock(&g->lk); }

/* Shared hold taken with the GIL held: tried first, else waited for with the GIL released. */
static void guard_read_gil(codec_guard *g) {
  if (pthread_rwlock_tryrdlock(&g->lk) == 0) return;
  Py_BEGIN_ALLOW_THREADS guard_read(g);
  Py_END_ALLOW_THREADS
}

/* Exclusive hold for a change of state, or -1 with VectroError when the codec is in use. */
static int guard_write(codec_guard *g, const char *what) {
  if (pthread_rwlock_trywrlock(&g->lk) == 0) return 0;
  PyErr_Format(VectroError,
               "cannot %s this codec while another call uses it (an encode, decode, search or "
               "fit in another thread, or the progress callback of a running call): a codec "
               "never changes under a running call; %s it after that call returns",
               what, what);
  return -1;
}

static PyObject *raise_last(int rc) {
  const char *detail = vec_last_error_message();
  PyErr_Format(rc == VEC_E_NOMEM ? PyExc_MemoryError : VectroError, "%s",
               detail && *detail ? detail : vec_strerror(rc));
  return NULL;
}

static PyObject *codec_new(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  if (vec_codec_from_name(name, &id) != VEC_OK) return raise_last(VEC_E_INVALID_ARG);
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
  if (rc != VEC_OK) return raise_last(rc);
  return codec_capsule(c);
}

/* crc32c(data) -> int: the library's CRC-32C of a bytes-like object (the .vqz/codec checksum). */
static PyObject *crc32c(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_C_CONTIGUOUS) < 0) return NULL;
  uint32_t c;
  Py_BEGIN_ALLOW_THREADS c = vec_crc32c(0, b.buf, (size_t)b.len);
  Py_END_ALLOW_THREADS PyBuffer_Release(&b);
  return PyLong_FromUnsignedLong(c);
}

static PyObject *codec_info(PyObject *self, PyObject *arg) {
  (void)self;
  vec_codec *c = get_codec(arg);
  if (!c) return NULL;
  const vec_codec_params *p = vec_codec_get_params(c);
  codec_guard *g = guard_of(arg);
  guard_read_gil(g); /* "trained" and "gen" change under fit */
  int trained = vec_codec_is_trained(c);
  unsigned long long gen = g->gen;
  guard_done(g);
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

static PyObject *codec_train(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2 && nargs != 3) {
    PyErr_SetString(PyExc_TypeError, "codec_train(codec, x[, threads])");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
  if (!c) return NULL;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  if (nargs == 3) {
    long t = PyLong_AsLong(args[2]);
    if (PyErr_Occurred()) return NULL;
    o.threads = t < 0 ? 0 : (int)t;
  }
  Py_buffer x;
  if (get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  int rc;
  if (d != vec_codec_get_params(c)->dim) {
    PyBuffer_Release(&x);
    PyErr_Format(VectroError, "calibration data has dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    return NULL;
  }
  codec_guard *g = guard_of(args[0]);
  if (guard_write(g, "fit") < 0) {
    PyBuffer_Release(&x);
    return NULL;
  }
  g->gen++; /* even a failed fit may have changed the state */
  INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_codec_train_opts(c, (const float *)x.buf, n, ldx, &o);
  guard_done(g);
  INTERRUPTIBLE_END(p)
  PyBuffer_Release(&x);
  if (rc != VEC_OK) return p.raised ? NULL : raise_last(rc);
  Py_RETURN_NONE;
}

/* codec_ranges(codec, lo, hi, set): copies ranges in (set) or out of the codec. */
static PyObject *codec_ranges(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "codec_ranges(codec, lo, hi, set)");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
  if (!c) return NULL;
  int set = PyObject_IsTrue(args[3]);
  Py_buffer lo, hi;
  if (get_buffer(args[1], &lo, "lo", 'f', 4, 1, !set) < 0) return NULL;
  if (get_buffer(args[2], &hi, "hi", 'f', 4, 1, !set) < 0) {
    PyBuffer_Release(&lo);
    return NULL;
  }
  size_t d = vec_codec_get_params(c)->dim;
  int rc = VEC_E_INVALID_ARG;
  codec_guard *g = guard_of(args[0]);
  if ((size_t)lo.shape[0] == d && (size_t)hi.shape[0] == d) {
    if (!set) {
      guard_read_gil(g);
      rc = vec_codec_get_ranges(c, lo.buf, hi.buf);
      guard_done(g);
    } else if (guard_write(g, "set the ranges of") < 0) {
      PyBuffer_Release(&hi);
      PyBuffer_Release(&lo);
      return NULL;
    } else {
      g->gen++;
      rc = vec_codec_set_ranges(c, lo.buf, hi.buf);
      guard_done(g);
    }
  }
  PyBuffer_Release(&hi);
  PyBuffer_Release(&lo);
  if (rc == VEC_E_INVALID_ARG && !(*vec_last_error_message())) {
    PyErr_Format(PyExc_ValueError, "ranges must be two float32 arrays of length %zu", d);
    return NULL;
  }
  if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
}

/* A C-contiguous buffer of exactly `bytes` bytes. */
static int get_flat(PyObject *obj, Py_buffer *view, const char *name, size_t bytes, int writable) {
  if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0) {
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s buffer", name,
                 writable ? " writable" : "");
    return -1;
  }
  if ((size_t)view->len != bytes) {
    PyErr_Format(PyExc_ValueError, "%s holds %zd bytes, expected %zu", name, view->len, bytes);
    PyBuffer_Release(view);
    return -1;
  }
  return 0;
}

static PyObject *codec_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6) {
    PyErr_SetString(PyExc_TypeError, "codec_encode(codec, x, codes, scales, threads, progress)");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
  if (!c) return NULL;
  int threads;
  if (parse_threads(args[4], &threads) < 0) return NULL;
  PyObject *cb = args[5] == Py_None ? NULL : args[5];
  Py_buffer x, q, s = {0};
  if (get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  if (d != vec_codec_get_params(c)->dim) {
    PyBuffer_Release(&x);
    PyErr_Format(PyExc_ValueError, "embeddings have dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    return NULL;
  }
  if (get_flat(args[2], &q, "codes", n * cs, 1) < 0) {
    PyBuffer_Release(&x);
    return NULL;
  }
  int have_s = sc > 0;
  if (have_s && get_flat(args[3], &s, "scales", n * sc * 4, 1) < 0) {
    PyBuffer_Release(&q);
    PyBuffer_Release(&x);
    return NULL;
  }
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  progress_ctx p = {NULL, cb, now_s(), 0};
  o.threads = threads;
  o.progress = progress_trampoline;
  o.progress_user = &p;
  codec_guard *g = guard_of(args[0]);
  p.ts = PyEval_SaveThread();
  guard_read(g);
  unsigned long long gen = g->gen;
  int rc =
      vec_codec_encode(c, (const float *)x.buf, n, ldx, q.buf, have_s ? (float *)s.buf : NULL, &o);
  guard_done(g);
  PyEval_RestoreThread(p.ts);
  if (have_s) PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  PyBuffer_Release(&x);
  if (rc != VEC_OK) return raise_vec(rc, &p);
  return PyLong_FromUnsignedLongLong(gen); /* the state that made the codes */
}

static PyObject *codec_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 6 && nargs != 7) {
    PyErr_SetString(PyExc_TypeError,
                    "codec_decode(codec, codes, scales, out, threads, progress[, gen])");
    return NULL;
  }
  /* gen: the codec state the caller checked the codes against; -1 (or absent): no check */
  long long want_gen = nargs == 7 ? PyLong_AsLongLong(args[6]) : -1;
  if (want_gen == -1 && PyErr_Occurred()) return NULL;
  vec_codec *c = get_codec(args[0]);
  if (!c) return NULL;
  int threads;
  if (parse_threads(args[4], &threads) < 0) return NULL;
  PyObject *cb = args[5] == Py_None ? NULL : args[5];
  Py_buffer out, q, s = {0};
  if (get_buffer(args[3], &out, "out", 'f', 4, 2, 1) < 0) return NULL;
  size_t n = (size_t)out.shape[0], d = (size_t)out.shape[1];
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  if (d != vec_codec_get_params(c)->dim) {
    PyBuffer_Release(&out);
    PyErr_Format(PyExc_ValueError, "out has dimension %zu, the codec %zu", d,
                 vec_codec_get_params(c)->dim);
    return NULL;
  }
  if (get_flat(args[1], &q, "codes", n * cs, 0) < 0) {
    PyBuffer_Release(&out);
    return NULL;
  }
  int have_s = sc > 0;
  if (have_s && get_flat(args[2], &s, "scales", n * sc * 4, 0) < 0) {
    PyBuffer_Release(&q);
    PyBuffer_Release(&out);
    return NULL;
  }
  size_t ldo = n > 1 ? (size_t)out.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  progress_ctx p = {NULL, cb, now_s(), 0};
  o.threads = threads;
  o.progress = progress_trampoline;
  o.progress_user = &p;
  codec_guard *g = guard_of(args[0]);
  p.ts = PyEval_SaveThread();
  guard_read(g);
  int stale = want_gen >= 0 && g->gen != (unsigned long long)want_gen;
  int rc = stale ? VEC_OK
                 : vec_codec_decode(c, q.buf, have_s ? (const float *)s.buf : NULL, n,
                                    (float *)out.buf, ldo, &o);
  guard_done(g);
  PyEval_RestoreThread(p.ts);
  if (stale) {
    if (have_s) PyBuffer_Release(&s);
    PyBuffer_Release(&q);
    PyBuffer_Release(&out);
    PyErr_SetString(VectroError, "the codec was refitted after these codes were checked against "
                                 "it (by another thread): they were made by another codec state");
    return NULL;
  }
  if (have_s) PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  PyBuffer_Release(&out);
  if (rc != VEC_OK) return raise_vec(rc, &p);
  Py_RETURN_NONE;
}

/* The serialisation of one state of the codec, with its generation when with_gen. */
static PyObject *serialize_state(PyObject *arg, int with_gen) {
  vec_codec *c = get_codec(arg);
  if (!c) return NULL;
  codec_guard *g = guard_of(arg);
  guard_read_gil(g); /* the size and the bytes of one state */
  size_t size = vec_codec_serialized_size(c);
  unsigned long long gen = g->gen;
  PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
  int rc = b ? vec_codec_serialize(c, PyBytes_AS_STRING(b), size) : VEC_E_NOMEM;
  guard_done(g);
  if (!b) return NULL;
  if (rc != VEC_OK) {
    Py_DECREF(b);
    return raise_last(rc);
  }
  return with_gen ? Py_BuildValue("(KN)", gen, b) : b;
}

static PyObject *codec_serialize(PyObject *self, PyObject *arg) {
  (void)self;
  return serialize_state(arg, 0);
}

/* codec_state(codec) -> (gen, bytes): one state's serialisation and its generation, atomically. */
static PyObject *codec_state(PyObject *self, PyObject *arg) {
  (void)self;
  return serialize_state(arg, 1);
}

static PyObject *codec_deserialize(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  vec_codec *c;
  int rc = vec_codec_deserialize(b.buf, (size_t)b.len, &c);
  PyBuffer_Release(&b);
  if (rc != VEC_OK) return raise_last(rc);
  return codec_capsule(c);
}

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
} guarded;

static void drop_writer(void *w) { vec_vqz_writer_abort(w); }
static void drop_reader(void *r) { vec_reader_close(r); }

/* A writer dropped without finish (an exception, a crash of the caller) removes its temporary. */
static void guarded_capsule_free(PyObject *cap) {
  guarded *h = PyCapsule_GetPointer(cap, PyCapsule_GetName(cap));
  if (!h) return;
  if (h->obj) h->drop(h->obj);
  pthread_mutex_destroy(&h->mu);
  PyMem_RawFree(h);
}

static PyObject *guarded_capsule(void *obj, const char *name, void (*drop)(void *)) {
  guarded *h = PyMem_RawCalloc(1, sizeof *h);
  if (!h || pthread_mutex_init(&h->mu, NULL) != 0) {
    PyMem_RawFree(h);
    drop(obj);
    return PyErr_NoMemory();
  }
  h->obj = obj, h->drop = drop;
  PyObject *cap = PyCapsule_New(h, name, guarded_capsule_free);
  if (!cap) {
    drop(obj);
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

static PyObject *vqz_writer_open(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError,
                    "vqz_writer_open(path, codec, metadata, with_ids, block_rows)");
    return NULL;
  }
  vec_codec *c = get_codec(args[1]);
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
  codec_guard *g = guard_of(args[1]);
  unsigned long long gen;
  int rc;
  /* The writer copies the codec: under the guard, so the copy is one state, named by gen. */
  Py_BEGIN_ALLOW_THREADS guard_read(g);
  gen = g->gen;
  rc = vec_vqz_writer_open(PyBytes_AS_STRING(pb), c, &o, &w);
  guard_done(g);
  Py_END_ALLOW_THREADS Py_DECREF(pb);
  if (rc != VEC_OK) return raise_last(rc);
  PyObject *cap = guarded_capsule(w, VQZW_CAPSULE, drop_writer);
  return cap ? Py_BuildValue("(NK)", cap, gen) : NULL;
}

/* vqz_writer_append(w, codes, scales|None, ids|None, n) */
static PyObject *vqz_writer_append(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "vqz_writer_append(writer, codes, scales, ids, n)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], VQZW_CAPSULE);
  if (!h) return NULL;
  Py_ssize_t n = PyLong_AsSsize_t(args[4]);
  if (n < 0) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "n must be >= 0");
  Py_buffer q, s = {0}, id = {0};
  if (PyObject_GetBuffer(args[1], &q, PyBUF_C_CONTIGUOUS) < 0) return NULL;
  int have_s = args[2] != Py_None, have_id = args[3] != Py_None;
  if (have_s && PyObject_GetBuffer(args[2], &s, PyBUF_C_CONTIGUOUS) < 0) goto fail_q;
  if (have_id && PyObject_GetBuffer(args[3], &id, PyBUF_C_CONTIGUOUS) < 0) goto fail_s;
  if (have_id && id.len != n * 8) {
    PyErr_Format(PyExc_ValueError, "ids must hold %zd uint64 values", n);
    goto fail_id;
  }
  int rc;
  Py_BEGIN_ALLOW_THREADS vec_vqz_writer *w = guarded_lock(h);
  rc = w ? vec_vqz_writer_append(w, q.buf, have_s ? (const float *)s.buf : NULL,
                                 have_id ? (const uint64_t *)id.buf : NULL, (size_t)n)
         : RC_CLOSED;
  guarded_unlock(h);
  Py_END_ALLOW_THREADS if (have_id) PyBuffer_Release(&id);
  if (have_s) PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  if (rc == RC_CLOSED) return raise_closed("writer");
  if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
fail_id:
  if (have_id) PyBuffer_Release(&id);
fail_s:
  if (have_s) PyBuffer_Release(&s);
fail_q:
  PyBuffer_Release(&q);
  return NULL;
}

/* vqz_writer_append_floats(w, x, ids|None, threads) */
static PyObject *vqz_writer_append_floats(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 4) {
    PyErr_SetString(PyExc_TypeError, "vqz_writer_append_floats(writer, x, ids, threads)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], VQZW_CAPSULE);
  if (!h) return NULL;
  int threads;
  if (parse_threads(args[3], &threads) < 0) return NULL;
  Py_buffer x, id = {0};
  if (get_buffer(args[1], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  int have_id = args[2] != Py_None;
  if (have_id && PyObject_GetBuffer(args[2], &id, PyBUF_C_CONTIGUOUS) < 0) {
    PyBuffer_Release(&x);
    return NULL;
  }
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  if (have_id && (size_t)id.len != n * 8) {
    PyBuffer_Release(&id);
    PyBuffer_Release(&x);
    return PyErr_Format(PyExc_ValueError, "ids must hold %zu uint64 values", n);
  }
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  INTERRUPTIBLE_BEGIN(o, p)
  vec_vqz_writer *w = guarded_lock(h);
  rc = w ? vec_vqz_writer_append_floats(w, (const float *)x.buf, n, ldx,
                                        have_id ? (const uint64_t *)id.buf : NULL, &o)
         : RC_CLOSED;
  guarded_unlock(h);
  INTERRUPTIBLE_END(p)
  if (have_id) PyBuffer_Release(&id);
  PyBuffer_Release(&x);
  if (rc == RC_CLOSED) return raise_closed("writer");
  if (rc != VEC_OK) return p.raised ? NULL : raise_last(rc);
  Py_RETURN_NONE;
}

/* vqz_writer_close(w, finish): finish (rename into place) or abort; the handle is closed after,
 * whatever happens. It waits for a running append, so the file it publishes holds every row an
 * append that returned normally was given. */
static PyObject *vqz_writer_close(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  Py_BEGIN_ALLOW_THREADS vec_vqz_writer *w = guarded_lock(h);
  h->obj = NULL;
  rc = !w ? RC_CLOSED : finish ? vec_vqz_writer_finish(w) : (vec_vqz_writer_abort(w), VEC_OK);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS if (rc == RC_CLOSED) return raise_closed("writer");
  if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *vqz_reader_open(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *pb = path_arg(arg);
  if (!pb) return NULL;
  vec_vqz_reader *r;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = vec_vqz_reader_open(PyBytes_AS_STRING(pb), &r);
  Py_END_ALLOW_THREADS Py_DECREF(pb);
  if (rc != VEC_OK) return raise_last(rc);
  PyObject *cap = PyCapsule_New(r, VQZR_CAPSULE, vqzr_capsule_free);
  if (!cap) vec_vqz_reader_close(r);
  return cap;
}

static PyObject *vqz_reader_info(PyObject *self, PyObject *arg) {
  (void)self;
  vec_vqz_reader *r = get_cap(arg, VQZR_CAPSULE);
  if (!r) return NULL;
  vec_vqz_info i;
  memset(&i, 0, sizeof i);
  i.struct_size = sizeof i;
  int rc = vec_vqz_get_info(r, &i);
  if (rc != VEC_OK) return raise_last(rc);
  const vec_codec *c = vec_vqz_codec(r);
  size_t size = vec_codec_serialized_size(c);
  PyObject *blob = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
  if (!blob) return NULL;
  if (vec_codec_serialize(c, PyBytes_AS_STRING(blob), size) != VEC_OK) {
    Py_DECREF(blob);
    return raise_last(VEC_E_INVALID_ARG);
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
static PyObject *vqz_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  Py_buffer q, s = {0}, id = {0};
  int have_s = args[4] != Py_None, have_id = args[5] != Py_None, rc;
  if (get_flat(args[3], &q, "codes", (size_t)n * cs, 1) < 0) return NULL;
  if (have_s && get_flat(args[4], &s, "scales", (size_t)n * sc * 4, 1) < 0) goto fail_q;
  if (have_id && get_flat(args[5], &id, "ids", (size_t)n * 8, 1) < 0) goto fail_s;
  Py_BEGIN_ALLOW_THREADS rc =
      vec_vqz_read(r, first, (size_t)n, q.buf, have_s ? s.buf : NULL, have_id ? id.buf : NULL);
  Py_END_ALLOW_THREADS if (have_id) PyBuffer_Release(&id);
  if (have_s) PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
fail_s:
  if (have_s) PyBuffer_Release(&s);
fail_q:
  PyBuffer_Release(&q);
  return NULL;
}

static PyObject *vqz_verify(PyObject *self, PyObject *arg) {
  (void)self;
  vec_vqz_reader *r = get_cap(arg, VQZR_CAPSULE);
  if (!r) return NULL;
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = vec_vqz_verify(r);
  Py_END_ALLOW_THREADS if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
}

static PyObject *reader_open(PyObject *self, PyObject *arg) {
  (void)self;
  PyObject *pb = path_arg(arg);
  if (!pb) return NULL;
  vec_reader *r;
  int rc = vec_reader_open(PyBytes_AS_STRING(pb), &r);
  Py_DECREF(pb);
  if (rc != VEC_OK) return raise_last(rc);
  return guarded_capsule(r, READER_CAPSULE, drop_reader);
}

static PyObject *reader_shape(PyObject *self, PyObject *arg) {
  (void)self;
  guarded *h = get_guarded(arg, READER_CAPSULE);
  if (!h) return NULL;
  unsigned long long n = 0;
  size_t d = 0;
  Py_BEGIN_ALLOW_THREADS vec_reader *r = guarded_lock(h);
  if (r) n = vec_reader_count(r), d = vec_reader_dim(r);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS if (!d) return raise_closed("reader");
  return Py_BuildValue("(Kn)", n, (Py_ssize_t)d);
}

/* reader_read(r, out): fills rows of out (n, d float32, C order); returns how many were read. */
static PyObject *reader_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "reader_read(reader, out)");
    return NULL;
  }
  guarded *h = get_guarded(args[0], READER_CAPSULE);
  if (!h) return NULL;
  Py_buffer out;
  if (get_buffer(args[1], &out, "out", 'f', 4, 2, 1) < 0) return NULL;
  size_t got = 0, d = 0, rows = (size_t)out.shape[0], cols = (size_t)out.shape[1];
  size_t stride = rows > 1 ? (size_t)out.strides[0] : 4 * cols;
  int rc, bad_shape = 0;
  Py_BEGIN_ALLOW_THREADS vec_reader *r = guarded_lock(h);
  d = r ? vec_reader_dim(r) : 0;
  bad_shape = r && (cols != d || stride != 4 * d);
  rc = !r ? RC_CLOSED : bad_shape ? VEC_OK : vec_reader_read(r, (float *)out.buf, rows, &got);
  guarded_unlock(h);
  Py_END_ALLOW_THREADS PyBuffer_Release(&out);
  if (rc == RC_CLOSED) return raise_closed("reader");
  if (bad_shape)
    return PyErr_Format(PyExc_ValueError, "out must be C-contiguous with %zu columns", d);
  if (rc != VEC_OK) return raise_last(rc);
  return PyLong_FromSize_t(got);
}

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
  return get_buffer(o, &h->v[h->n], name, 'f', 4, 2, 0) < 0 ? NULL : &h->v[h->n++];
}

/* A C-contiguous buffer of exactly `bytes` bytes; for None (when optional) sets *buf to NULL. */
static int hold_flat(held *h, PyObject *o, const char *name, size_t bytes, int writable,
                     int optional, void **buf) {
  *buf = NULL;
  if (optional && o == Py_None) return 0;
  if (get_flat(o, &h->v[h->n], name, bytes, writable) < 0) return -1;
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
  return parse_metric(mo, metric) < 0 || parse_threads(to, threads) < 0 ? -1 : 0;
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

static PyObject *search_done(held *h, int rc, const progress_ctx *p) {
  held_release(h);
  if (rc != VEC_OK) return p->raised ? NULL : raise_last(rc);
  Py_RETURN_NONE;
}

/* search_codes(codec, codes, scales|None, sqnorms|None, queries, k, metric, ids, scores, threads)
 */
static PyObject *search_codes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 10) {
    PyErr_SetString(PyExc_TypeError, "search_codes takes 10 arguments");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
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
  codec_guard *g = guard_of(args[0]);
  INTERRUPTIBLE_BEGIN(o, p)
  guard_read(g);
  rc = vec_search_codes(c, codes, scales, n, sqn, q->buf, (size_t)q->shape[0], ld_of(q, d), k,
                        metric, ids, sco, &o);
  guard_done(g);
  INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* search_f32(x, queries, k, metric, ids, scores, threads) */
static PyObject *search_f32(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_search_f32(x->buf, (size_t)x->shape[0], ld_of(x, d), d, q->buf, (size_t)q->shape[0],
                      ld_of(q, d), k, metric, ids, sco, &o);
  INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* rescore(x, queries, cand (nq, m) uint64, k, metric, ids, scores, threads) */
static PyObject *rescore(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  INTERRUPTIBLE_BEGIN(o, p)
  rc = vec_rescore(x->buf, (size_t)x->shape[0], ld_of(x, d), d, q->buf, nq, ld_of(q, d), cand->buf,
                   m, k, metric, ids, sco, &o);
  INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* rescore_codes(codec, codes, scales|None, sqnorms|None, queries, cand (nq, m) uint64, k, metric,
 * ids, scores, threads) */
static PyObject *rescore_codes(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 11) {
    PyErr_SetString(PyExc_TypeError, "rescore_codes takes 11 arguments");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
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
  codec_guard *g = guard_of(args[0]);
  INTERRUPTIBLE_BEGIN(o, p)
  guard_read(g);
  rc = vec_rescore_codes(c, codes, scales, n, sqn, q->buf, nq, ld_of(q, d), cand->buf, m, k, metric,
                         ids, sco, &o);
  guard_done(g);
  INTERRUPTIBLE_END(p)
  return search_done(&h, rc, &p);
}

/* search_rescore(codec, codes, scales|None, x, x_sqnorms|None, queries, k, metric, oversample,
 * ids, scores, threads, bound_scale) -> (scanned, rescored) */
static PyObject *search_rescore(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 13) {
    PyErr_SetString(PyExc_TypeError, "search_rescore takes 13 arguments");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
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
  codec_guard *g = guard_of(args[0]);
  INTERRUPTIBLE_BEGIN(o, p)
  guard_read(g);
  rc =
      vec_search_rescore(c, codes, scales, n, x->buf, ld_of(x, d), xsq, q->buf, (size_t)q->shape[0],
                         ld_of(q, d), k, metric, over, bscale, ids, sco, &st, &o);
  guard_done(g);
  INTERRUPTIBLE_END(p)
  held_release(&h);
  if (rc != VEC_OK) return p.raised ? NULL : raise_last(rc);
  return Py_BuildValue("(KK)", (unsigned long long)st.scanned, (unsigned long long)st.rescored);
}

/* search_has_bounds(codec) -> bool */
static PyObject *search_has_bounds(PyObject *self, PyObject *arg) {
  (void)self;
  vec_codec *c = get_codec(arg);
  if (!c) return NULL;
  codec_guard *g = guard_of(arg);
  guard_read_gil(g);
  int has = vec_search_has_bounds(c);
  guard_done(g);
  return PyBool_FromLong(has);
}

/* codes_sqnorms(codec, codes, scales|None, out, threads) */
static PyObject *codes_sqnorms(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "codes_sqnorms takes 5 arguments");
    return NULL;
  }
  vec_codec *c = get_codec(args[0]);
  int threads;
  if (!c || parse_threads(args[4], &threads) < 0) return NULL;
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  Py_buffer codes, s = {0}, out;
  if (PyObject_GetBuffer(args[1], &codes, PyBUF_C_CONTIGUOUS) < 0) return NULL;
  size_t n = cs ? (size_t)codes.len / cs : 0;
  int have_s = args[2] != Py_None;
  if (have_s && get_flat(args[2], &s, "scales", n * sc * 4, 0) < 0) goto f_codes;
  if (get_flat(args[3], &out, "out", n * 4, 1) < 0) goto f_s;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  codec_guard *g = guard_of(args[0]);
  Py_BEGIN_ALLOW_THREADS guard_read(g);
  rc = vec_codes_sqnorms(c, codes.buf, have_s ? s.buf : NULL, n, out.buf, &o);
  guard_done(g);
  Py_END_ALLOW_THREADS PyBuffer_Release(&out);
  if (have_s) PyBuffer_Release(&s);
  PyBuffer_Release(&codes);
  if (rc != VEC_OK) return raise_last(rc);
  Py_RETURN_NONE;
f_s:
  if (have_s) PyBuffer_Release(&s);
f_codes:
  PyBuffer_Release(&codes);
  return NULL;
}

static PyObject *quality(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "quality(x, x_hat)");
    return NULL;
  }
  Py_buffer x, h;
  if (get_buffer(args[0], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  if (get_buffer(args[1], &h, "x_hat", 'f', 4, 2, 0) < 0) {
    PyBuffer_Release(&x);
    return NULL;
  }
  if (x.shape[0] != h.shape[0] || x.shape[1] != h.shape[1]) {
    PyBuffer_Release(&h);
    PyBuffer_Release(&x);
    PyErr_SetString(PyExc_ValueError, "x and x_hat must have the same shape");
    return NULL;
  }
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d, ldh = n > 1 ? (size_t)h.strides[0] / 4 : d;
  vec_quality q = {sizeof q, 0, 0, 0, 0, 0, 0, 0};
  int rc;
  Py_BEGIN_ALLOW_THREADS rc = vec_quality_measure(x.buf, ldx, h.buf, ldh, n, d, &q);
  Py_END_ALLOW_THREADS PyBuffer_Release(&h);
  PyBuffer_Release(&x);
  if (rc != VEC_OK) return raise_last(rc);
  return Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:d,s:n}", "rel_l2_mean", q.rel_l2_mean, "rel_l2_max",
                       q.rel_l2_max, "cosine_mean", q.cosine_mean, "cosine_min", q.cosine_min,
                       "mae", q.mae, "max_abs_err", q.max_abs_err, "zero_rows",
                       (Py_ssize_t)q.zero_rows);
}

/* ----------------------------------------------------------------------------------------------
 * Clustering
 * -------------------------------------------------------------------------------------------- */
/* kmeans(x, k, iters, seed, max_points, init, threads, centroids, assign) -> (objective,
 * train_rows, empty_repairs). centroids (k x d float32) and assign (n uint32) are written. */
static PyObject *kmeans(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 9) {
    PyErr_SetString(PyExc_TypeError,
                    "kmeans(x, k, iters, seed, max_points, init, threads, centroids, assign)");
    return NULL;
  }
  size_t k = PyLong_AsSize_t(args[1]);
  unsigned long iters = PyLong_AsUnsignedLong(args[2]);
  unsigned long long seed = PyLong_AsUnsignedLongLongMask(args[3]);
  size_t max_points = PyLong_AsSize_t(args[4]);
  long init = PyLong_AsLong(args[5]);
  if (PyErr_Occurred()) return NULL;
  int threads;
  if (parse_threads(args[6], &threads) < 0) return NULL;
  Py_buffer x, cen, asg;
  if (get_buffer(args[0], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  if (get_flat(args[7], &cen, "centroids", k * d * 4, 1) < 0) goto f_x;
  if (get_flat(args[8], &asg, "assign", n * 4, 1) < 0) goto f_c;
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  p.iters = (unsigned)iters;
  p.seed = seed;
  p.max_points = max_points;
  p.init = (vec_kmeans_init)init;
  vec_kmeans_stats st = {sizeof st, 0.0, 0, 0};
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  INTERRUPTIBLE_BEGIN(o, pc)
  rc = vec_kmeans((const float *)x.buf, n, d, ldx, k, &p, cen.buf, asg.buf, &st, &o);
  INTERRUPTIBLE_END(pc)
  PyBuffer_Release(&asg);
  PyBuffer_Release(&cen);
  PyBuffer_Release(&x);
  if (rc != VEC_OK) return pc.raised ? NULL : raise_last(rc);
  return Py_BuildValue("dnn", st.objective, (Py_ssize_t)st.train_rows,
                       (Py_ssize_t)st.empty_repairs);
f_c:
  PyBuffer_Release(&cen);
f_x:
  PyBuffer_Release(&x);
  return NULL;
}

static PyMethodDef methods[] = {
    {"backend_info", backend_info, METH_NOARGS, "Kernel, CPU features, threads, versions."},
    {"codec_new", (PyCFunction)(void (*)(void))codec_new, METH_FASTCALL, "Create a codec handle."},
    {"codec_info", codec_info, METH_O, "Parameters and sizes of a codec."},
    {"crc32c", crc32c, METH_O, "CRC-32C of a bytes-like object, as vec_crc32c."},
    {"codec_train", (PyCFunction)(void (*)(void))codec_train, METH_FASTCALL, "Calibrate a codec."},
    {"codec_ranges", (PyCFunction)(void (*)(void))codec_ranges, METH_FASTCALL,
     "Get or set calibrated ranges."},
    {"codec_encode", (PyCFunction)(void (*)(void))codec_encode, METH_FASTCALL, "Encode rows."},
    {"codec_decode", (PyCFunction)(void (*)(void))codec_decode, METH_FASTCALL, "Decode rows."},
    {"codec_serialize", codec_serialize, METH_O, "Codec parameters and ranges as bytes."},
    {"codec_state", codec_state, METH_O, "(generation, codec_serialize bytes) of one state."},
    {"codec_deserialize", codec_deserialize, METH_O, "Codec from codec_serialize bytes."},
    {"vqz_writer_open", (PyCFunction)(void (*)(void))vqz_writer_open, METH_FASTCALL,
     "Open a .vqz writer (temporary file until closed with finish)."},
    {"vqz_writer_append", (PyCFunction)(void (*)(void))vqz_writer_append, METH_FASTCALL,
     "Append encoded rows."},
    {"vqz_writer_append_floats", (PyCFunction)(void (*)(void))vqz_writer_append_floats,
     METH_FASTCALL, "Encode and append float rows."},
    {"vqz_writer_close", (PyCFunction)(void (*)(void))vqz_writer_close, METH_FASTCALL,
     "Finish (rename into place) or abort a writer."},
    {"vqz_reader_open", vqz_reader_open, METH_O, "Open a .vqz file for reading."},
    {"vqz_reader_info", vqz_reader_info, METH_O, "Header fields, metadata and codec bytes."},
    {"vqz_read", (PyCFunction)(void (*)(void))vqz_read, METH_FASTCALL,
     "Read rows (random access)."},
    {"vqz_verify", vqz_verify, METH_O, "Verify every block and the whole-file checksum."},
    {"reader_open", reader_open, METH_O,
     "Open an embeddings file (.npy, .fvecs, ...) for streaming."},
    {"reader_shape", reader_shape, METH_O, "(rows, dim) of an embeddings file."},
    {"reader_read", (PyCFunction)(void (*)(void))reader_read, METH_FASTCALL,
     "Read the next rows into a float32 array."},
    {"search_codes", (PyCFunction)(void (*)(void))search_codes, METH_FASTCALL,
     "Top-k search of float queries over encoded rows."},
    {"search_f32", (PyCFunction)(void (*)(void))search_f32, METH_FASTCALL,
     "Exact top-k search over float32 rows."},
    {"rescore", (PyCFunction)(void (*)(void))rescore, METH_FASTCALL,
     "Exact scores for candidate rows, best k kept."},
    {"rescore_codes", (PyCFunction)(void (*)(void))rescore_codes, METH_FASTCALL,
     "Rescores candidate rows with another codec's codes."},
    {"search_rescore", (PyCFunction)(void (*)(void))search_rescore, METH_FASTCALL,
     "Search over codes with exact rescoring, by error bound or oversample."},
    {"search_has_bounds", search_has_bounds, METH_O,
     "Whether the codec's search gives error bounds (rescoring by bound)."},
    {"codes_sqnorms", (PyCFunction)(void (*)(void))codes_sqnorms, METH_FASTCALL,
     "Squared norms of the reconstructions of encoded rows."},
    {"quality", (PyCFunction)(void (*)(void))quality, METH_FASTCALL,
     "Reconstruction quality figures (vec_quality_measure)."},
    {"kmeans", (PyCFunction)(void (*)(void))kmeans, METH_FASTCALL, "k-means clustering."},
    {"set_isa", set_isa, METH_O, "Force kernels ('auto', 'scalar', 'avx2', 'avx512', 'neon')."},
    {"_bench_read", bench_read, METH_O, "Seconds to read a buffer once (benchmark ceiling)."},
    {"_bench_memcpy", (PyCFunction)(void (*)(void))bench_memcpy, METH_FASTCALL,
     "Seconds to memcpy src into dst (benchmark ceiling)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT,
                                    "vectro._core",
                                    "C core of vectro (use the vectro package, not this module).",
                                    -1,
                                    methods,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL};

/* Declared first: clang 22's -Wmissing-prototypes flags the definition alone. */
PyMODINIT_FUNC PyInit__core(void);
PyMODINIT_FUNC PyInit__core(void) {
  /* The extension is linked with the library it was compiled against; refuse a mismatch rather
   * than run kernels whose structs or semantics may differ. */
  if (vec_version_number() != VEC_VERSION_NUMBER) {
    PyErr_Format(PyExc_ImportError, "vectro: compiled against libvectro %s but loaded %s",
                 VEC_VERSION_STRING, vec_version_string());
    return NULL;
  }
  PyObject *m = PyModule_Create(&module);
  if (!m) return NULL;
  VectroError = PyErr_NewExceptionWithDoc(
      "vectro.VectroError",
      "Raised for input vectro cannot compress (NaN/Inf, bad shapes, "
      "bad scales) and other library errors; a ValueError, and its "
      "message names the row or the file.\n\n"
      "Example:\n"
      "    >>> import numpy as np, vectro\n"
      "    >>> try:\n"
      "    ...     vectro.quantize_embeddings(np.array([[1.0, np.nan]]))\n"
      "    ... except vectro.VectroError as e:\n"
      "    ...     print(isinstance(e, ValueError), e)\n"
      "    True row 0 holds NaN or Inf\n",
      PyExc_ValueError, NULL);
  if (!VectroError || PyModule_AddObject(m, "VectroError", VectroError) < 0) {
    Py_XDECREF(VectroError);
    Py_DECREF(m);
    return NULL;
  }
  Py_INCREF(VectroError);
  if (vec_py_index_init(m, VectroError) < 0 ||
      PyModule_AddStringConstant(m, "__version__", vec_version_string()) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
