/* _core.h: what the object files of vectro._core share (private to the extension): the module's
 * exception, buffer checks, progress and Ctrl-C while the GIL is released, the codec handle and
 * its guard, and the method implementations the table in _core.c lists. */
#ifndef VECTRO_PY_CORE_H
#define VECTRO_PY_CORE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>

#include "vectro.h"

/* vectro.VectroError (a subclass of ValueError: the input is at fault), set by module init. */
extern PyObject *vpy_error;
/* vectro.VectroIOError(VectroError, OSError): every VEC_E_IO, with errno and filename. */
extern PyObject *vpy_io_error;

/* ----------------------------------------------------------------------------------------------
 * Buffers, errors, arguments (_core.c)
 * -------------------------------------------------------------------------------------------- */
/* A buffer of `ndim` dimensions, element format `fmt`, contiguous along its last axis (rows may be
 * strided by a multiple of the item size). Raises TypeError/ValueError naming the argument. */
int vpy_get_buffer(PyObject *obj, Py_buffer *view, const char *name, char fmt, Py_ssize_t itemsize,
                   int ndim, int writable);
/* A C-contiguous buffer of exactly `bytes` bytes. */
int vpy_get_flat(PyObject *obj, Py_buffer *view, const char *name, size_t bytes, int writable);
/* The one cleanup style of these files: every Py_buffer starts as {0} (or is left with obj NULL by
 * a failed get), and one `done:` label releases them all, whichever were taken. */
static inline void vpy_release(Py_buffer *v) {
  if (v->obj) PyBuffer_Release(v);
}
/* threads: 0 (all cores) to 4096, else ValueError. */
int vpy_parse_threads(PyObject *o, int *threads);
/* Raises MemoryError, VectroIOError (VEC_E_IO, with vec_last_error_errno) or VectroError with the
 * library's last message after a failed call; returns NULL. */
PyObject *vpy_raise_last(int rc);
/* vpy_raise_last, with `filename` (the path argument, or NULL) as the VectroIOError's filename. */
PyObject *vpy_raise_path(int rc, PyObject *filename);
/* Raises VectroIOError: str(e) is message; errno/strerror set when err != 0, filename when given.
 */
PyObject *vpy_raise_io(const char *message, int err, PyObject *filename);

/* ----------------------------------------------------------------------------------------------
 * Progress and interruption while the GIL is released (_core.c)
 * -------------------------------------------------------------------------------------------- */
typedef struct {
  PyThreadState *ts; /* saved state of the calling thread while the GIL is released */
  PyObject *callback;
  double last; /* start it at 0: the first step then already checks Ctrl-C and reports progress */
  int raised;
} vpy_progress;

double vpy_now_s(void);
/* The vec_batch_opts progress callback: Ctrl-C and the Python callback, at most every 50 ms. */
int vpy_progress_trampoline(void *user, size_t done, size_t total);
/* vpy_raise_last, unless the callback already raised (its exception, or KeyboardInterrupt). */
PyObject *vpy_raise_vec(int rc, const vpy_progress *p);

/* Long calls that take no progress callback from Python still check for Ctrl-C between chunks,
 * as encode does: VPY_INTERRUPTIBLE_BEGIN releases the GIL with the trampoline installed,
 * VPY_INTERRUPTIBLE_END takes it back; p.raised then says KeyboardInterrupt is pending. */
#define VPY_INTERRUPTIBLE_BEGIN(o, p)                                                              \
  vpy_progress p = {NULL, NULL, 0.0, 0};                                                           \
  (o).progress = vpy_progress_trampoline;                                                          \
  (o).progress_user = &p;                                                                          \
  p.ts = PyEval_SaveThread();
#define VPY_INTERRUPTIBLE_END(p) PyEval_RestoreThread((p).ts);

/* ----------------------------------------------------------------------------------------------
 * Codec handles (_core_codec.c)
 * -------------------------------------------------------------------------------------------- */
#define VPY_CODEC_CAPSULE "vectro.codec"

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
} vpy_codec_guard;

/* The codec behind a capsule, or NULL with TypeError. */
vec_codec *vpy_get_codec(PyObject *o);
/* The guard of a capsule vpy_get_codec accepted. */
vpy_codec_guard *vpy_guard_of(PyObject *o);
/* Shared hold, for calls that only read the codec. Call with the GIL released. */
void vpy_guard_read(vpy_codec_guard *g);
void vpy_guard_done(vpy_codec_guard *g);
/* Shared hold taken with the GIL held: tried first, else waited for with the GIL released. */
void vpy_guard_read_gil(vpy_codec_guard *g);
/* Exclusive hold for a change of state, or -1 with VectroError when the codec is in use. */
int vpy_guard_write(vpy_codec_guard *g, const char *what);

/* ----------------------------------------------------------------------------------------------
 * Method implementations, listed in the table in _core.c
 * -------------------------------------------------------------------------------------------- */
#define VPY_FASTCALL(name) PyObject *name(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
#define VPY_O(name)        PyObject *name(PyObject *self, PyObject *arg)

/* _core_codec.c */
VPY_FASTCALL(vpy_codec_new);
VPY_O(vpy_codec_info);
VPY_O(vpy_crc32c);
VPY_O(vpy_codec_parse);
VPY_FASTCALL(vpy_codec_name);
VPY_FASTCALL(vpy_codec_train);
VPY_FASTCALL(vpy_codec_ranges);
VPY_FASTCALL(vpy_codec_encode);
VPY_FASTCALL(vpy_codec_decode);
VPY_O(vpy_codec_serialize);
VPY_O(vpy_codec_state);
VPY_O(vpy_codec_deserialize);
/* _core_files.c */
VPY_FASTCALL(vpy_vqz_writer_open);
VPY_FASTCALL(vpy_vqz_writer_append);
VPY_FASTCALL(vpy_vqz_writer_append_floats);
VPY_FASTCALL(vpy_vqz_writer_close);
VPY_O(vpy_vqz_reader_open);
VPY_O(vpy_vqz_reader_info);
VPY_FASTCALL(vpy_vqz_read);
VPY_O(vpy_vqz_verify);
VPY_O(vpy_reader_open);
VPY_O(vpy_reader_shape);
VPY_FASTCALL(vpy_reader_read);
VPY_FASTCALL(vpy_compress_file);
/* _core_search.c */
VPY_FASTCALL(vpy_search_codes);
VPY_FASTCALL(vpy_search_f32);
VPY_FASTCALL(vpy_rescore);
VPY_FASTCALL(vpy_rescore_codes);
VPY_FASTCALL(vpy_search_rescore);
VPY_O(vpy_search_has_bounds);
VPY_FASTCALL(vpy_codes_sqnorms);
/* _core_quality.c */
VPY_FASTCALL(vpy_quality);
VPY_FASTCALL(vpy_kmeans);
VPY_O(vpy_bench_read);
VPY_FASTCALL(vpy_bench_memcpy);

/* _core_index.c: adds the vec_index methods to the module. */
int vec_py_index_init(PyObject *module, PyObject *error);

#endif
