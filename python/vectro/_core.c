/* _core.c: the CPython extension over libvectro, module part: the method table, module init,
 * the backend calls and the helpers every object file shares (declared in _core.h). Plain C on
 * the buffer protocol (no NumPy headers): the Python layer allocates outputs and normalises
 * inputs; these files check every buffer again, release the GIL around the C work, and turn
 * library errors into vectro.VectroError. */
#include "_core.h"

#include <string.h>
#include <time.h>

PyObject *vpy_error;    /* vectro.VectroError, a subclass of ValueError: the input is at fault */
PyObject *vpy_io_error; /* vectro.VectroIOError(VectroError, OSError): VEC_E_IO */

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
int vpy_get_buffer(PyObject *obj, Py_buffer *view, const char *name, char fmt, Py_ssize_t itemsize,
                   int ndim, int writable) {
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

/* A C-contiguous buffer of exactly `bytes` bytes. */
int vpy_get_flat(PyObject *obj, Py_buffer *view, const char *name, size_t bytes, int writable) {
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

/* ----------------------------------------------------------------------------------------------
 * Progress and interruption while the GIL is released
 * -------------------------------------------------------------------------------------------- */
double vpy_now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Called by the engine on this (the caller's) thread between chunks. Taking the GIL back can wait
 * for another Python thread's switch interval, so it is done at most every 50 ms: often enough for
 * a progress bar and for Ctrl-C, rarely enough to cost nothing. */
int vpy_progress_trampoline(void *user, size_t done, size_t total) {
  vpy_progress *p = user;
  double t = vpy_now_s();
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
      PyErr_SetString(vpy_error, "cancelled: the progress callback returned False");
      stop = 1;
    }
    Py_XDECREF(r);
  }
  p->ts = PyEval_SaveThread();
  if (stop) p->raised = 1;
  return stop;
}

int vpy_parse_threads(PyObject *o, int *threads) {
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
PyObject *vpy_raise_vec(int rc, const vpy_progress *p) {
  if (p->raised) return NULL; /* the callback's own exception, or KeyboardInterrupt */
  return vpy_raise_last(rc);
}

PyObject *vpy_raise_io(const char *message, int err, PyObject *filename) {
  PyObject *e = PyObject_CallFunction(vpy_io_error, "s", message);
  if (!e) return NULL;
  PyObject *no = err ? PyLong_FromLong(err) : NULL;
  PyObject *text = err ? PyUnicode_DecodeLocale(strerror(err), "surrogateescape") : NULL;
  if ((err && (!no || !text || PyObject_SetAttrString(e, "errno", no) < 0 ||
               PyObject_SetAttrString(e, "strerror", text) < 0)) ||
      (filename && filename != Py_None && PyObject_SetAttrString(e, "filename", filename) < 0)) {
    Py_XDECREF(no);
    Py_XDECREF(text);
    Py_DECREF(e);
    return NULL;
  }
  Py_XDECREF(no);
  Py_XDECREF(text);
  PyErr_SetObject(vpy_io_error, e);
  Py_DECREF(e);
  return NULL;
}

PyObject *vpy_raise_path(int rc, PyObject *filename) {
  const char *detail = vec_last_error_message();
  const char *msg = detail && *detail ? detail : vec_strerror(rc);
  if (rc == VEC_E_IO) return vpy_raise_io(msg, vec_last_error_errno(), filename);
  PyErr_Format(rc == VEC_E_NOMEM ? PyExc_MemoryError : vpy_error, "%s", msg);
  return NULL;
}

PyObject *vpy_raise_last(int rc) { return vpy_raise_path(rc, NULL); }

/* VectroIOError's __str__ is the library's message (args[0]), as VectroError's, rather than
 * OSError's "[Errno n] strerror: 'filename'" built from the attributes set after construction. */
static PyObject *io_error_str(PyObject *unused, PyObject *self) {
  (void)unused;
  PyObject *args = PyObject_GetAttrString(self, "args");
  if (!args) return NULL;
  PyObject *s = PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 1
                    ? PyObject_Str(PyTuple_GET_ITEM(args, 0))
                    : PyObject_CallMethod(PyExc_OSError, "__str__", "O", self);
  Py_DECREF(args);
  return s;
}

/* Pickled (by multiprocessing, Dask) as the message plus its attributes, which
 * BaseException.__setstate__ sets back: OSError's own reduce would rebuild it from
 * (errno, strerror, filename) and lose the message. */
static PyObject *io_error_reduce(PyObject *unused, PyObject *self) {
  (void)unused;
  PyObject *args = PyObject_GetAttrString(self, "args");
  PyObject *state = args ? PyDict_New() : NULL;
  if (!state) goto fail;
  static const char *const keys[] = {"errno", "strerror", "filename"};
  for (int i = 0; i < 3; i++) {
    PyObject *v = PyObject_GetAttrString(self, keys[i]);
    if (!v || PyDict_SetItemString(state, keys[i], v) < 0) {
      Py_XDECREF(v);
      goto fail;
    }
    Py_DECREF(v);
  }
  PyObject *extra = PyObject_GetAttrString(self, "__dict__");
  if (!extra || PyDict_Update(state, extra) < 0) {
    Py_XDECREF(extra);
    goto fail;
  }
  Py_DECREF(extra);
  return Py_BuildValue("(ONN)", (PyObject *)Py_TYPE(self), args, state);
fail:
  Py_XDECREF(args);
  Py_XDECREF(state);
  return NULL;
}

static PyMethodDef io_error_methods[] = {
    {"__str__", io_error_str, METH_O, NULL},
    {"__reduce__", io_error_reduce, METH_O, NULL},
};

/* vectro.VectroIOError(VectroError, OSError) with the methods above. */
static PyObject *new_io_error(void) {
  PyObject *dict = PyDict_New(), *bases = NULL, *type = NULL;
  if (!dict) return NULL;
  for (size_t i = 0; i < sizeof io_error_methods / sizeof io_error_methods[0]; i++) {
    PyObject *f = PyCFunction_New(&io_error_methods[i], NULL);
    PyObject *m = f ? PyInstanceMethod_New(f) : NULL; /* binds the exception as the argument */
    Py_XDECREF(f);
    if (!m || PyDict_SetItemString(dict, io_error_methods[i].ml_name, m) < 0) {
      Py_XDECREF(m);
      goto done;
    }
    Py_DECREF(m);
  }
  bases = PyTuple_Pack(2, vpy_error, PyExc_OSError);
  if (bases)
    type = PyErr_NewExceptionWithDoc(
        "vectro.VectroIOError",
        "Raised when a file cannot be opened, read, written, synced or renamed (the library's "
        "VEC_E_IO, and the same failures in vectro's Python helpers): both a VectroError and an "
        "OSError. str(e) is the library's message, naming the file and the step; e.errno and "
        "e.strerror give the OS error when there is one (None otherwise: a target that is not a "
        "regular file, a file that shrank while open), e.filename the path when known.\n\n"
        "Example:\n"
        "    >>> import errno, vectro\n"
        "    >>> try:\n"
        "    ...     vectro.load('/nonexistent/x.vqz')\n"
        "    ... except OSError as e:\n"
        "    ...     print(isinstance(e, vectro.VectroError), e.errno == errno.ENOENT)\n"
        "    True True\n",
        bases, dict);
done:
  Py_XDECREF(bases);
  Py_DECREF(dict);
  return type;
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
    {VEC_CPU_SSE42, "sse4.2"},
    {VEC_CPU_NEON, "neon"},
    {VEC_CPU_DOTPROD, "dotprod"},
    {VEC_CPU_CRC32, "crc32"},
};

static const vec_isa all_isas[] = {VEC_ISA_SCALAR, VEC_ISA_AVX2, VEC_ISA_AVX512, VEC_ISA_NEON};

/* The names of the VEC_CPU_* bits in f, as a new list. */
static PyObject *feature_list(unsigned f) {
  PyObject *feats = PyList_New(0);
  if (!feats) return NULL;
  for (size_t i = 0; i < sizeof feature_names / sizeof feature_names[0]; i++) {
    if (!(f & feature_names[i].bit)) continue;
    PyObject *s = PyUnicode_FromString(feature_names[i].name);
    if (!s || PyList_Append(feats, s) < 0) {
      Py_XDECREF(s);
      Py_DECREF(feats);
      return NULL;
    }
    Py_DECREF(s);
  }
  return feats;
}

static PyObject *backend_info(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  PyObject *feats = feature_list(vec_cpu_features()), *isas = PyList_New(0);
  PyObject *active = feature_list(vec_active_cpu_features());
  if (!feats || !isas || !active) goto fail;
  for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++) {
    if (!vec_isa_supported(all_isas[i])) continue;
    PyObject *s = PyUnicode_FromString(vec_isa_name(all_isas[i]));
    if (!s || PyList_Append(isas, s) < 0) {
      Py_XDECREF(s);
      goto fail;
    }
    Py_DECREF(s);
  }
  return Py_BuildValue("{s:s,s:s,s:N,s:N,s:N,s:i,s:s}", "kernel", vec_isa_name(vec_active_isa()),
                       "library_version", vec_version_string(), "cpu_features", feats,
                       "active_cpu_features", active, "available_kernels", isas, "threads",
                       vec_default_threads(), "compiler",
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
  Py_XDECREF(active);
  return NULL;
}

/* disable_cpu_features(list | None): vec_disable_cpu_features (a comma list of feature names;
 * None or "" switches nothing off). An unknown name is a ValueError carrying the library's text. */
static PyObject *disable_cpu_features(PyObject *self, PyObject *arg) {
  (void)self;
  const char *list = NULL;
  if (arg != Py_None && !(list = PyUnicode_AsUTF8(arg))) return NULL;
  if (vec_disable_cpu_features(list) != VEC_OK) {
    PyErr_Format(PyExc_ValueError, "%s", vec_last_error_message());
    return NULL;
  }
  return PyUnicode_FromString(vec_isa_name(vec_active_isa()));
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
    PyErr_Format(vpy_error, "%s", vec_last_error_message());
    return NULL;
  }
  return PyUnicode_FromString(vec_isa_name(vec_active_isa()));
}

static PyMethodDef methods[] = {
    {"backend_info", backend_info, METH_NOARGS, "Kernel, CPU features, threads, versions."},
    {"codec_new", (PyCFunction)(void (*)(void))vpy_codec_new, METH_FASTCALL,
     "Create a codec handle."},
    {"codec_info", vpy_codec_info, METH_O, "Parameters and sizes of a codec."},
    {"crc32c", vpy_crc32c, METH_O, "CRC-32C of a bytes-like object, as vec_crc32c."},
    {"codec_parse", vpy_codec_parse, METH_O,
     "(codec, group_size, bits, m) of a codec name (vec_codec_params_parse)."},
    {"codec_name", (PyCFunction)(void (*)(void))vpy_codec_name, METH_FASTCALL,
     "Canonical name of (codec, group_size, bits, m) (vec_codec_params_name)."},
    {"codec_train", (PyCFunction)(void (*)(void))vpy_codec_train, METH_FASTCALL,
     "Calibrate a codec."},
    {"codec_ranges", (PyCFunction)(void (*)(void))vpy_codec_ranges, METH_FASTCALL,
     "Get or set calibrated ranges."},
    {"codec_encode", (PyCFunction)(void (*)(void))vpy_codec_encode, METH_FASTCALL, "Encode rows."},
    {"codec_decode", (PyCFunction)(void (*)(void))vpy_codec_decode, METH_FASTCALL, "Decode rows."},
    {"codec_serialize", vpy_codec_serialize, METH_O, "Codec parameters and ranges as bytes."},
    {"codec_state", vpy_codec_state, METH_O, "(generation, codec_serialize bytes) of one state."},
    {"codec_deserialize", vpy_codec_deserialize, METH_O, "Codec from codec_serialize bytes."},
    {"vqz_writer_open", (PyCFunction)(void (*)(void))vpy_vqz_writer_open, METH_FASTCALL,
     "Open a .vqz writer (temporary file until closed with finish)."},
    {"vqz_writer_append", (PyCFunction)(void (*)(void))vpy_vqz_writer_append, METH_FASTCALL,
     "Append encoded rows."},
    {"vqz_writer_append_floats", (PyCFunction)(void (*)(void))vpy_vqz_writer_append_floats,
     METH_FASTCALL, "Encode and append float rows."},
    {"vqz_writer_close", (PyCFunction)(void (*)(void))vpy_vqz_writer_close, METH_FASTCALL,
     "Finish (rename into place) or abort a writer."},
    {"vqz_reader_open", vpy_vqz_reader_open, METH_O, "Open a .vqz file for reading."},
    {"vqz_reader_info", vpy_vqz_reader_info, METH_O, "Header fields, metadata and codec bytes."},
    {"vqz_read", (PyCFunction)(void (*)(void))vpy_vqz_read, METH_FASTCALL,
     "Read rows (random access)."},
    {"vqz_verify", vpy_vqz_verify, METH_O, "Verify every block and the whole-file checksum."},
    {"reader_open", vpy_reader_open, METH_O,
     "Open an embeddings file (.npy, .fvecs, ...) for streaming."},
    {"reader_shape", vpy_reader_shape, METH_O, "(rows, dim) of an embeddings file."},
    {"reader_read", (PyCFunction)(void (*)(void))vpy_reader_read, METH_FASTCALL,
     "Read the next rows into a float32 array."},
    {"compress_file", (PyCFunction)(void (*)(void))vpy_compress_file, METH_FASTCALL,
     "Compress an embeddings file into a .vqz (vec_compress_file)."},
    {"search_codes", (PyCFunction)(void (*)(void))vpy_search_codes, METH_FASTCALL,
     "Top-k search of float queries over encoded rows."},
    {"search_f32", (PyCFunction)(void (*)(void))vpy_search_f32, METH_FASTCALL,
     "Exact top-k search over float32 rows."},
    {"rescore", (PyCFunction)(void (*)(void))vpy_rescore, METH_FASTCALL,
     "Exact scores for candidate rows, best k kept."},
    {"rescore_codes", (PyCFunction)(void (*)(void))vpy_rescore_codes, METH_FASTCALL,
     "Rescores candidate rows with another codec's codes."},
    {"search_rescore", (PyCFunction)(void (*)(void))vpy_search_rescore, METH_FASTCALL,
     "Search over codes with exact rescoring, by error bound or oversample."},
    {"search_has_bounds", vpy_search_has_bounds, METH_O,
     "Whether the codec's search gives error bounds (rescoring by bound)."},
    {"codes_sqnorms", (PyCFunction)(void (*)(void))vpy_codes_sqnorms, METH_FASTCALL,
     "Squared norms of the reconstructions of encoded rows."},
    {"quality", (PyCFunction)(void (*)(void))vpy_quality, METH_FASTCALL,
     "Reconstruction quality figures (vec_quality_measure)."},
    {"kmeans", (PyCFunction)(void (*)(void))vpy_kmeans, METH_FASTCALL, "k-means clustering."},
    {"set_isa", set_isa, METH_O, "Force kernels ('auto', 'scalar', 'avx2', 'avx512', 'neon')."},
    {"disable_cpu_features", disable_cpu_features, METH_O,
     "Switch CPU features off (a comma list, as VECTRO_DISABLE_CPU_FEATURES; None: none)."},
    {"_bench_read", vpy_bench_read, METH_O, "Seconds to read a buffer once (benchmark ceiling)."},
    {"_bench_memcpy", (PyCFunction)(void (*)(void))vpy_bench_memcpy, METH_FASTCALL,
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
  vpy_error = PyErr_NewExceptionWithDoc(
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
  if (!vpy_error || PyModule_AddObject(m, "VectroError", vpy_error) < 0) {
    Py_XDECREF(vpy_error);
    Py_DECREF(m);
    return NULL;
  }
  Py_INCREF(vpy_error);
  vpy_io_error = new_io_error();
  if (!vpy_io_error || PyModule_AddObject(m, "VectroIOError", vpy_io_error) < 0) {
    Py_XDECREF(vpy_io_error);
    Py_DECREF(m);
    return NULL;
  }
  Py_INCREF(vpy_io_error);
  if (vec_py_index_init(m, vpy_error) < 0 ||
      PyModule_AddStringConstant(m, "__version__", vec_version_string()) < 0) {
    Py_DECREF(m);
    return NULL;
  }
  return m;
}
