/* _core.c: the CPython extension over libvectro. Plain C on the buffer protocol (no NumPy headers):
 * the Python layer allocates outputs and normalises inputs; this file checks every buffer again,
 * releases the GIL around the C work, and turns library errors into vectro.VectroError. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <time.h>

#include "vectro.h"

static PyObject *VectroError; /* subclass of ValueError: the input is at fault */

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
    if (!r) stop = 1;
    Py_XDECREF(r);
  }
  p->ts = PyEval_SaveThread();
  if (stop) p->raised = 1;
  return stop;
}

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
 * int8
 * -------------------------------------------------------------------------------------------- */

PyDoc_STRVAR(int8_encode_doc,
             "int8_encode(x, codes, scales, threads, progress)\n--\n\n"
             "Encode float32 rows x (n, d) into int8 codes (n, d) and scales (n,).");

static PyObject *int8_encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "int8_encode takes 5 arguments");
    return NULL;
  }
  int threads;
  if (parse_threads(args[3], &threads) < 0) return NULL;
  PyObject *cb = args[4] == Py_None ? NULL : args[4];
  if (cb && !PyCallable_Check(cb)) {
    PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
    return NULL;
  }
  Py_buffer x, q, s;
  if (get_buffer(args[0], &x, "x", 'f', 4, 2, 0) < 0) return NULL;
  if (get_buffer(args[1], &q, "codes", 'b', 1, 2, 1) < 0) goto fail_x;
  if (get_buffer(args[2], &s, "scales", 'f', 4, 1, 1) < 0) goto fail_q;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  if (q.shape[0] != x.shape[0] || q.shape[1] != x.shape[1] || s.shape[0] != x.shape[0] ||
      (n > 1 && q.strides[0] != (Py_ssize_t)d)) {
    PyErr_SetString(PyExc_ValueError,
                    "codes must be a C-contiguous (n, d) int8 array and scales (n,)");
    goto fail_s;
  }
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  progress_ctx p = {NULL, cb, now_s(), 0};
  o.threads = threads;
  o.progress = progress_trampoline;
  o.progress_user = &p;
  p.ts = PyEval_SaveThread();
  int rc = vec_int8_encode((const float *)x.buf, n, d, ldx, (int8_t *)q.buf, (float *)s.buf, &o);
  PyEval_RestoreThread(p.ts);
  PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  PyBuffer_Release(&x);
  if (rc != VEC_OK) return raise_vec(rc, &p);
  Py_RETURN_NONE;
fail_s:
  PyBuffer_Release(&s);
fail_q:
  PyBuffer_Release(&q);
fail_x:
  PyBuffer_Release(&x);
  return NULL;
}

PyDoc_STRVAR(int8_decode_doc, "int8_decode(codes, scales, out, threads, progress)\n--\n\n"
                              "Decode int8 codes (n, d) and scales (n,) into float32 out (n, d).");

static PyObject *int8_decode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 5) {
    PyErr_SetString(PyExc_TypeError, "int8_decode takes 5 arguments");
    return NULL;
  }
  int threads;
  if (parse_threads(args[3], &threads) < 0) return NULL;
  PyObject *cb = args[4] == Py_None ? NULL : args[4];
  if (cb && !PyCallable_Check(cb)) {
    PyErr_SetString(PyExc_TypeError, "progress must be callable or None");
    return NULL;
  }
  Py_buffer q, s, out;
  if (get_buffer(args[0], &q, "codes", 'b', 1, 2, 0) < 0) return NULL;
  if (get_buffer(args[1], &s, "scales", 'f', 4, 1, 0) < 0) goto fail_q;
  if (get_buffer(args[2], &out, "out", 'f', 4, 2, 1) < 0) goto fail_s;
  size_t n = (size_t)q.shape[0], d = (size_t)q.shape[1];
  if (s.shape[0] != q.shape[0] || out.shape[0] != q.shape[0] || out.shape[1] != q.shape[1] ||
      (n > 1 && q.strides[0] != (Py_ssize_t)d) || (n > 0 && s.strides[0] != 4)) {
    PyErr_SetString(PyExc_ValueError,
                    "codes (n, d) must be C-contiguous, scales (n,) contiguous, out (n, d)");
    goto fail_o;
  }
  size_t ldo = n > 1 ? (size_t)out.strides[0] / 4 : d;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  progress_ctx p = {NULL, cb, now_s(), 0};
  o.threads = threads;
  o.progress = progress_trampoline;
  o.progress_user = &p;
  p.ts = PyEval_SaveThread();
  int rc =
      vec_int8_decode((const int8_t *)q.buf, (const float *)s.buf, n, d, (float *)out.buf, ldo, &o);
  PyEval_RestoreThread(p.ts);
  PyBuffer_Release(&out);
  PyBuffer_Release(&s);
  PyBuffer_Release(&q);
  if (rc != VEC_OK) return raise_vec(rc, &p);
  Py_RETURN_NONE;
fail_o:
  PyBuffer_Release(&out);
fail_s:
  PyBuffer_Release(&s);
fail_q:
  PyBuffer_Release(&q);
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

static PyMethodDef methods[] = {
    {"int8_encode", (PyCFunction)(void (*)(void))int8_encode, METH_FASTCALL, int8_encode_doc},
    {"int8_decode", (PyCFunction)(void (*)(void))int8_decode, METH_FASTCALL, int8_decode_doc},
    {"backend_info", backend_info, METH_NOARGS, "Kernel, CPU features, threads, versions."},
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
  VectroError =
      PyErr_NewExceptionWithDoc("vectro.VectroError",
                                "Raised for input vectro cannot compress (NaN/Inf, bad shapes, "
                                "bad scales) and other library errors.",
                                PyExc_ValueError, NULL);
  if (!VectroError || PyModule_AddObject(m, "VectroError", VectroError) < 0) {
    Py_XDECREF(VectroError);
    Py_DECREF(m);
    return NULL;
  }
  Py_INCREF(VectroError);
  if (PyModule_AddStringConstant(m, "__version__", vec_version_string()) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
