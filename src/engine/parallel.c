/* parallel.c: contiguous row chunks handed out through one atomic counter to short-lived pthreads.
 * Threads are started per call, and only when each gets enough bytes to repay its start (tens of
 * microseconds), so small batches run entirely on the caller's thread at no extra cost. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../common/platform.h"

/* A thread must get at least this many bytes of traffic to be worth starting. */
#define MIN_BYTES_PER_THREAD ((size_t)4 << 20)
/* Chunk size: small enough for balance and a lively progress bar, large enough that the atomic
 * counter and the callback cost nothing measurable. */
#define CHUNK_BYTES ((size_t)512 << 10)
#define MAX_THREADS 256

int vec_default_threads(void) {
  static _Atomic int cached;
  int n = atomic_load_explicit(&cached, memory_order_relaxed);
  if (n > 0) return n;
  n = vec_os_cpu_count();
  if (n > MAX_THREADS) n = MAX_THREADS;
  atomic_store_explicit(&cached, n, memory_order_relaxed);
  return n;
}

int vec_batch_opts_resolve(const vec_batch_opts *opts, vec_batch_opts *out) {
  vec_batch_opts def = VEC_BATCH_OPTS_INIT;
  if (!opts) {
    *out = def;
    return VEC_OK;
  }
  if (opts->struct_size < sizeof(vec_batch_opts))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_batch_opts.struct_size is %zu, expected >= %zu",
                    opts->struct_size, sizeof(vec_batch_opts));
  if (opts->threads < 0)
    return vec_fail(VEC_E_INVALID_ARG, -1, "threads must be >= 0 (0 = all cores), got %d",
                    opts->threads);
  *out = *opts;
  out->struct_size = sizeof(vec_batch_opts);
  return VEC_OK;
}

typedef struct job {
  vec_rows_fn fn;
  void *ctx;
  size_t n, chunk_rows, nchunks;
  _Atomic size_t next_chunk;
  _Atomic size_t rows_done;
  _Atomic size_t bad_row; /* lowest failing row so far, SIZE_MAX if none (read lock-free) */
  int rc;                 /* error of that row; written with bad_row under err_lock */
  pthread_mutex_t err_lock;
  _Atomic int cancelled;
} job;

/* Runs one chunk unless an earlier row already failed or the job was cancelled; 0 = stop. */
static int run_next_chunk(job *jb) {
  size_t c = atomic_fetch_add_explicit(&jb->next_chunk, 1, memory_order_relaxed);
  if (c >= jb->nchunks || atomic_load_explicit(&jb->cancelled, memory_order_relaxed)) return 0;
  size_t begin = c * jb->chunk_rows;
  /* Chunks are claimed in increasing order, so once one fails every later chunk is moot. */
  if (begin >= atomic_load_explicit(&jb->bad_row, memory_order_acquire)) return 0;
  size_t end = begin + jb->chunk_rows < jb->n ? begin + jb->chunk_rows : jb->n;
  size_t bad = SIZE_MAX;
  int rc = jb->fn(jb->ctx, begin, end, &bad);
  if (rc != VEC_OK) {
    if (bad < begin || bad >= end) bad = begin; /* a callee that named no row: blame the chunk */
    pthread_mutex_lock(&jb->err_lock);          /* rare: row and code must change together */
    if (bad < atomic_load_explicit(&jb->bad_row, memory_order_relaxed)) {
      jb->rc = rc;
      atomic_store_explicit(&jb->bad_row, bad, memory_order_release);
    }
    pthread_mutex_unlock(&jb->err_lock);
    return 1; /* later chunks stop themselves via bad_row; earlier ones must still run */
  }
  atomic_fetch_add_explicit(&jb->rows_done, end - begin, memory_order_relaxed);
  return 1;
}

static void *worker(void *arg) {
  job *jb = arg;
  while (run_next_chunk(jb)) {
  }
  return NULL;
}

int vec_parallel_rows(size_t n, size_t row_bytes, vec_rows_fn fn, void *ctx,
                      const vec_batch_opts *opts, size_t *bad_row) {
  *bad_row = SIZE_MAX;
  if (n == 0) {
    if (opts->progress && opts->progress(opts->progress_user, 0, 0)) return VEC_E_CANCELLED;
    return VEC_OK;
  }
  if (row_bytes == 0) row_bytes = 1;
  size_t total = n > SIZE_MAX / row_bytes ? SIZE_MAX : n * row_bytes;

  size_t want = opts->threads == 0 ? (size_t)vec_default_threads() : (size_t)opts->threads;
  size_t useful = total / MIN_BYTES_PER_THREAD;
  size_t nthreads = want < useful ? want : useful;
  if (nthreads < 1) nthreads = 1;
  if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;

  job jb;
  jb.fn = fn;
  jb.ctx = ctx;
  jb.n = n;
  jb.chunk_rows = CHUNK_BYTES / row_bytes ? CHUNK_BYTES / row_bytes : 1;
  if (nthreads == 1 && !opts->progress) jb.chunk_rows = n; /* one call, no bookkeeping */
  /* One thread with a progress callback (Ctrl-C checks from Python): chunks of 16x the usual
   * bytes, or n/32 rows if more, so a small job stays one call while a large one still answers
   * within a few percent of the work. A search pays per chunk (a top-k that starts empty, a merge
   * of nq * k entries): 512 KiB chunks made a one-thread search of 200k int8 rows 2x slower, and
   * 4000 binary rows x 300 queries 2.5x slower in 13 chunks. */
  if (nthreads == 1 && opts->progress) {
    size_t rows = jb.chunk_rows <= SIZE_MAX / 16 ? 16 * jb.chunk_rows : SIZE_MAX;
    jb.chunk_rows = rows > n / 32 ? rows : n / 32;
  }
  jb.nchunks = (n + jb.chunk_rows - 1) / jb.chunk_rows;
  atomic_init(&jb.next_chunk, 0);
  atomic_init(&jb.rows_done, 0);
  atomic_init(&jb.bad_row, SIZE_MAX);
  jb.rc = VEC_OK;
  atomic_init(&jb.cancelled, 0);
  if (pthread_mutex_init(&jb.err_lock, NULL) != 0) return VEC_E_THREAD;

  pthread_t tids[MAX_THREADS];
  size_t started = 0;
  for (size_t t = 1; t < nthreads; t++) {
    /* A thread that cannot start only means less parallelism: the caller does its share. */
    if (pthread_create(&tids[started], NULL, worker, &jb) != 0) break;
    started++;
  }
  while (run_next_chunk(&jb)) {
    if (opts->progress) {
      size_t done = atomic_load_explicit(&jb.rows_done, memory_order_relaxed);
      if (opts->progress(opts->progress_user, done, n))
        atomic_store_explicit(&jb.cancelled, 1, memory_order_relaxed);
    }
  }
  for (size_t t = 0; t < started; t++) pthread_join(tids[t], NULL);
  pthread_mutex_destroy(&jb.err_lock);

  int rc = jb.rc; /* every writer has been joined */
  if (rc != VEC_OK) {
    *bad_row = atomic_load_explicit(&jb.bad_row, memory_order_acquire);
    return rc;
  }
  if (atomic_load_explicit(&jb.cancelled, memory_order_relaxed)) return VEC_E_CANCELLED;
  if (opts->progress && opts->progress(opts->progress_user, n, n)) return VEC_E_CANCELLED;
  return VEC_OK;
}
