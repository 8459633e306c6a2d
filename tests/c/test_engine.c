/* test_engine.c: threading gives the same bits as one thread; progress and cancellation work. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../../src/engine/parallel.h"
#include "vectro.h"
#include "vtest.h"

enum { N = 30000, D = 384 }; /* ~58 MB of traffic: enough for the engine to start threads */

static float *make_input(void) {
  float *x = malloc((size_t)N * D * sizeof(float));
  uint64_t seed = 5;
  for (size_t i = 0; i < (size_t)N * D; i++) x[i] = vt_normal(&seed);
  return x;
}

static void threads_bit_identical(void) {
  float *x = make_input(), *s1 = malloc(N * 4), *s2 = malloc(N * 4);
  float *o1 = malloc((size_t)N * D * 4), *o2 = malloc((size_t)N * D * 4);
  int8_t *q1 = malloc((size_t)N * D), *q2 = malloc((size_t)N * D);
  vec_batch_opts one = VEC_BATCH_OPTS_INIT;
  one.threads = 1;
  CHECK(vec_int8_encode(x, N, D, D, q1, s1, &one) == VEC_OK);
  CHECK(vec_int8_decode(q1, s1, N, D, o1, D, &one) == VEC_OK);
  int counts[] = {0, 2, 3, 7};
  for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++) {
    vec_batch_opts o = VEC_BATCH_OPTS_INIT;
    o.threads = counts[t];
    CHECK(vec_int8_encode(x, N, D, D, q2, s2, &o) == VEC_OK);
    CHECK(memcmp(q1, q2, (size_t)N * D) == 0 && memcmp(s1, s2, N * 4) == 0);
    CHECK(vec_int8_decode(q2, s2, N, D, o2, D, &o) == VEC_OK);
    CHECK(memcmp(o1, o2, (size_t)N * D * 4) == 0);
  }
  free(x), free(s1), free(s2), free(o1), free(o2), free(q1), free(q2);
}

typedef struct {
  pthread_t caller;
  size_t calls, last, total;
  int monotonic, on_caller, cancel_after;
} prog;

static int on_progress(void *user, size_t done, size_t total) {
  prog *p = user;
  p->calls++;
  if (done < p->last) p->monotonic = 0;
  if (!pthread_equal(pthread_self(), p->caller)) p->on_caller = 0;
  p->last = done;
  p->total = total;
  return p->cancel_after && p->calls >= (size_t)p->cancel_after;
}

static void progress_and_cancel(void) {
  float *x = make_input(), *s = malloc(N * 4);
  int8_t *q = malloc((size_t)N * D);
  for (int threads = 1; threads <= 2; threads++) {
    prog p = {pthread_self(), 0, 0, 0, 1, 1, 0};
    vec_batch_opts o = VEC_BATCH_OPTS_INIT;
    o.threads = threads;
    o.progress = on_progress;
    o.progress_user = &p;
    CHECK(vec_int8_encode(x, N, D, D, q, s, &o) == VEC_OK);
    /* With a second thread, a loaded machine can let it take every chunk before the caller claims
     * one: then only the final call comes, so only one thread can promise calls along the way. */
    CHECK(p.calls >= (threads == 1 ? 2u : 1u) && p.monotonic && p.on_caller);
    CHECK(p.last == N && p.total == N);

    prog c = {pthread_self(), 0, 0, 0, 1, 1, 1};
    o.progress_user = &c;
    CHECK(vec_int8_encode(x, N, D, D, q, s, &o) == VEC_E_CANCELLED);
    CHECK(c.calls == 1);
    if (threads == 1) CHECK(c.last < N); /* stopped after the first chunk */
    CHECK(strstr(vec_last_error_message(), "cancel") != NULL);
  }
  /* n = 0 still reports (0 of 0), so a progress bar can close */
  prog z = {pthread_self(), 0, 0, 99, 1, 1, 0};
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.progress = on_progress;
  o.progress_user = &z;
  CHECK(vec_int8_encode(NULL, 0, D, D, NULL, NULL, &o) == VEC_OK);
  CHECK(z.calls == 1 && z.total == 0);
  free(x), free(s), free(q);
}

/* With several threads, the lowest bad row is reported whatever the scheduling. */
static void threaded_nonfinite_lowest_row(void) {
  float *x = make_input(), *s = malloc(N * 4);
  int8_t *q = malloc((size_t)N * D);
  x[(size_t)25000 * D + 1] = NAN;
  x[(size_t)9000 * D + 383] = INFINITY;
  x[(size_t)29999 * D] = NAN;
  for (int rep = 0; rep < 5; rep++) {
    vec_batch_opts o = VEC_BATCH_OPTS_INIT;
    o.threads = 4;
    CHECK(vec_int8_encode(x, N, D, D, q, s, &o) == VEC_E_NONFINITE);
    CHECK(vec_last_error_row() == 9000);
  }
  free(x), free(s), free(q);
}

/* The race the test above leaves to chance (on 2 cores it rarely happens), forced: the chunk
 * holding the lower bad row reports only after a later chunk has reported a higher one. The
 * engine must still return the lower row and its error (a "first failure wins" engine returned
 * the higher). */
typedef struct {
  size_t low, high;
  _Atomic int high_reported;
} race;

static void nap_ms(long ms) {
  struct timespec t = {0, ms * 1000000L};
  nanosleep(&t, NULL);
}

static int race_rows(void *ctx, size_t begin, size_t end, size_t *bad) {
  race *r = ctx;
  if (r->high >= begin && r->high < end) {
    *bad = r->high;
    atomic_store(&r->high_reported, 1);
    return VEC_E_NONFINITE;
  }
  if (r->low >= begin && r->low < end) {
    /* Wait (at most 2 s: with one thread the later chunk never runs) for the other thread's
     * failure, then a little longer so that the engine has stored it. */
    for (int i = 0; i < 2000 && !atomic_load(&r->high_reported); i++) nap_ms(1);
    nap_ms(20);
    *bad = r->low;
    return VEC_E_RANGE;
  }
  return VEC_OK;
}

static void lowest_row_wins_a_forced_race(void) {
  race r = {1000, 900000, 0};
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = 2;
  size_t bad = 0;
  CHECK(vec_parallel_rows(1000000, 4096, race_rows, &r, &o, &bad) == VEC_E_RANGE);
  CHECK(bad == 1000);
  CHECKF(atomic_load(&r.high_reported), "the engine did not run the chunks on two threads");
}

static void default_threads(void) { CHECK(vec_default_threads() >= 1); }

const vt_test engine_tests[] = {
    {"threads_bit_identical", threads_bit_identical},
    {"progress_and_cancel", progress_and_cancel},
    {"threaded_nonfinite_lowest_row", threaded_nonfinite_lowest_row},
    {"lowest_row_wins_a_forced_race", lowest_row_wins_a_forced_race},
    {"default_threads", default_threads},
};
const size_t engine_count = sizeof engine_tests / sizeof engine_tests[0];
