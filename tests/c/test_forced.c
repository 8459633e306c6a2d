/* test_forced.c: tests that force what random inputs rarely produce, so that a plausible wrong
 * change fails: the engine's lowest-bad-row promise under a forced race, and rabitq's bound at a
 * bit width where the query's own rounding, not the code's, dominates the error. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/engine/parallel.h"
#include "../../src/io/npy.h"
#include "vectro.h"
#include "vtest.h"

/* Rows are 1 MB, so chunks are single rows and 16 rows give 16 MB: enough for 2 threads. Row 3
 * and row 9 fail; the chunk of row 3 waits until row 9 has failed first (or 2 s pass, when
 * there is one thread only), so the later chunk always reports before the earlier one. */
typedef struct {
  _Atomic int late_failed;
} race_ctx;

static int race_rows(void *ctx, size_t begin, size_t end, size_t *bad) {
  race_ctx *r = ctx;
  for (size_t i = begin; i < end; i++) {
    if (i == 9) {
      atomic_store(&r->late_failed, 1);
      *bad = 9;
      return VEC_E_NONFINITE;
    }
    if (i == 3) {
      struct timespec pause = {0, 1000000};
      for (int t = 0; t < 2000 && !atomic_load(&r->late_failed); t++) nanosleep(&pause, NULL);
      *bad = 3;
      return VEC_E_RANGE;
    }
  }
  return VEC_OK;
}

static void parallel_reports_lowest_row_when_a_later_one_fails_first(void) {
  for (int rep = 0; rep < 3; rep++) {
    race_ctx r;
    atomic_init(&r.late_failed, 0);
    vec_batch_opts o = VEC_BATCH_OPTS_INIT;
    o.threads = 2;
    size_t bad = 0;
    int rc = vec_parallel_rows(16, (size_t)1 << 20, race_rows, &r, &o, &bad);
    CHECKF(atomic_load(&r.late_failed), "row 9 never ran: the engine ran on one thread");
    CHECKF(bad == 3 && rc == VEC_E_RANGE, "reported row %zu (rc %d); row 3 is the lowest bad row",
           bad, rc);
  }
}

/* At 8 bits the code's own error (the h1 term) is tiny, so the query's rounding to int8 (the h2
 * term) is most of |estimate - q.x|: a bound without it fails for most pairs. */
static void rabitq_bound_covers_query_rounding(void) {
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/c/test_forced.c");
  char pc[1024], pq[1024];
  snprintf(pc, sizeof pc, "%.*sdata/sample/corpus.npy", (int)(cut ? cut - f : 0), f);
  snprintf(pq, sizeof pq, "%.*sdata/sample/queries.npy", (int)(cut ? cut - f : 0), f);
  float *xb = NULL, *xq = NULL;
  size_t n, d, nq, dq;
  int rc1 = vec_npy_read_f32(pc, &xb, &n, &d), rc2 = vec_npy_read_f32(pq, &xq, &nq, &dq);
  if (rc1 || rc2) {
    printf("    sample data not found: skipped\n");
    free(xb), free(xq);
    return;
  }
  n = n < 500 ? n : 500;
  nq = nq < 20 ? nq : 20;
  for (unsigned bits = 6; bits <= 8; bits += 2) {
    vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, d);
    p.bits = bits;
    p.seed = 7;
    vec_codec *c;
    CHECK(vec_codec_create(&p, &c) == VEC_OK);
    uint8_t *codes = malloc(n * vec_codec_code_size(c));
    float *sc = malloc(n * 4 * sizeof(float)), *ip = malloc(n * sizeof(float));
    float *err = malloc(n * sizeof(float)), *qs = malloc(c->ops->query_size(c));
    CHECK(codes && sc && ip && err && qs);
    CHECK(vec_codec_encode(c, xb, n, d, codes, sc, NULL) == VEC_OK);
    size_t miss = 0, total = 0;
    for (size_t qi = 0; qi < nq; qi++) {
      c->ops->query_prepare(c, xq + qi * d, qs);
      c->ops->score(c, qs, 1, codes, sc, n, ip, err, n);
      for (size_t r = 0; r < n; r++, total++) {
        double t = 0;
        for (size_t j = 0; j < d; j++) t += (double)xq[qi * d + j] * xb[r * d + j];
        miss += fabs(t - ip[r]) > err[r];
      }
    }
    free(codes), free(sc), free(ip), free(err), free(qs);
    vec_codec_free(c);
    CHECKF(miss <= total / 100, "bits %u: %zu of %zu pairs outside estimate +- bound", bits, miss,
           total);
  }
  free(xb), free(xq);
}

const vt_test forced_tests[] = {
    {"parallel_reports_lowest_row_when_a_later_one_fails_first",
     parallel_reports_lowest_row_when_a_later_one_fails_first},
    {"rabitq_bound_covers_query_rounding", rabitq_bound_covers_query_rounding},
};
const size_t forced_count = sizeof forced_tests / sizeof forced_tests[0];
