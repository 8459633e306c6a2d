/* _core_quality.c: measurement bindings of vectro._core: reconstruction quality, k-means, and
 * the physical ceilings the benchmark compares against. */
#include "_core.h"

#include <string.h>

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

PyObject *vpy_bench_read(PyObject *self, PyObject *arg) {
  (void)self;
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  uint64_t r;
  double t0 = vpy_now_s();
  Py_BEGIN_ALLOW_THREADS
#if defined(__x86_64__) && defined(__GNUC__)
  r = (vec_cpu_features() & VEC_CPU_AVX2) ? read_avx2(b.buf, (size_t)b.len)
                                          : read_plain(b.buf, (size_t)b.len);
#else
  r = read_plain(b.buf, (size_t)b.len);
#endif
  Py_END_ALLOW_THREADS
  double t = vpy_now_s() - t0;
  PyBuffer_Release(&b);
  return Py_BuildValue("(dK)", t, (unsigned long long)r);
}

PyObject *vpy_bench_memcpy(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "_bench_memcpy(dst, src)");
    return NULL;
  }
  Py_buffer dst = {0}, src = {0};
  PyObject *ret = NULL;
  if (PyObject_GetBuffer(args[0], &dst, PyBUF_WRITABLE) < 0 ||
      PyObject_GetBuffer(args[1], &src, PyBUF_SIMPLE) < 0)
    goto done;
  if (dst.len < src.len) {
    PyErr_SetString(PyExc_ValueError, "dst is smaller than src");
    goto done;
  }
  double t0 = vpy_now_s(), t;
  Py_BEGIN_ALLOW_THREADS
  memcpy(dst.buf, src.buf, (size_t)src.len);
  Py_END_ALLOW_THREADS
  t = vpy_now_s() - t0;
  ret = PyFloat_FromDouble(t);
done:
  vpy_release(&src);
  vpy_release(&dst);
  return ret;
}

/* ----------------------------------------------------------------------------------------------
 * Quality
 * -------------------------------------------------------------------------------------------- */
PyObject *vpy_quality(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "quality(x, x_hat)");
    return NULL;
  }
  Py_buffer x = {0}, h = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[0], &x, "x", 'f', 4, 2, 0) < 0 ||
      vpy_get_buffer(args[1], &h, "x_hat", 'f', 4, 2, 0) < 0)
    goto done;
  if (x.shape[0] != h.shape[0] || x.shape[1] != h.shape[1]) {
    PyErr_SetString(PyExc_ValueError, "x and x_hat must have the same shape");
    goto done;
  }
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d, ldh = n > 1 ? (size_t)h.strides[0] / 4 : d;
  vec_quality q = {sizeof q, 0, 0, 0, 0, 0, 0, 0};
  int rc;
  Py_BEGIN_ALLOW_THREADS
  rc = vec_quality_measure(x.buf, ldx, h.buf, ldh, n, d, &q);
  Py_END_ALLOW_THREADS
  if (rc != VEC_OK)
    vpy_raise_last(rc);
  else
    ret =
        Py_BuildValue("{s:d,s:d,s:d,s:d,s:d,s:d,s:n}", "rel_l2_mean", q.rel_l2_mean, "rel_l2_max",
                      q.rel_l2_max, "cosine_mean", q.cosine_mean, "cosine_min", q.cosine_min, "mae",
                      q.mae, "max_abs_err", q.max_abs_err, "zero_rows", (Py_ssize_t)q.zero_rows);
done:
  vpy_release(&h);
  vpy_release(&x);
  return ret;
}

/* ----------------------------------------------------------------------------------------------
 * Clustering
 * -------------------------------------------------------------------------------------------- */
/* kmeans(x, k, iters, seed, max_points, init, threads, centroids, assign) -> (objective,
 * train_rows, empty_repairs). centroids (k x d float32) and assign (n uint32) are written. */
PyObject *vpy_kmeans(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
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
  if (vpy_parse_threads(args[6], &threads) < 0) return NULL;
  Py_buffer x = {0}, cen = {0}, asg = {0};
  PyObject *ret = NULL;
  if (vpy_get_buffer(args[0], &x, "x", 'f', 4, 2, 0) < 0) goto done;
  size_t n = (size_t)x.shape[0], d = (size_t)x.shape[1];
  size_t ldx = n > 1 ? (size_t)x.strides[0] / 4 : d;
  if (vpy_get_flat(args[7], &cen, "centroids", k * d * 4, 1) < 0) goto done;
  if (vpy_get_flat(args[8], &asg, "assign", n * 4, 1) < 0) goto done;
  vec_kmeans_params p = VEC_KMEANS_PARAMS_INIT;
  p.iters = (unsigned)iters;
  p.seed = seed;
  p.max_points = max_points;
  p.init = (vec_kmeans_init)init;
  vec_kmeans_stats st = {sizeof st, 0.0, 0, 0};
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = threads;
  int rc;
  VPY_INTERRUPTIBLE_BEGIN(o, pc)
  rc = vec_kmeans((const float *)x.buf, n, d, ldx, k, &p, cen.buf, asg.buf, &st, &o);
  VPY_INTERRUPTIBLE_END(pc)
  if (rc != VEC_OK) {
    if (!pc.raised) vpy_raise_last(rc);
  } else {
    ret =
        Py_BuildValue("dnn", st.objective, (Py_ssize_t)st.train_rows, (Py_ssize_t)st.empty_repairs);
  }
done:
  vpy_release(&asg);
  vpy_release(&cen);
  vpy_release(&x);
  return ret;
}
