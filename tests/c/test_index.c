/* test_index.c: vec_index: ids (defaults, refusals), add/upsert/delete/get in step, tombstones
 * and compaction, filtered search against a search over the allowed rows alone, the rescoring
 * pipeline, save/load round trips (sidecars, files without ids, repeated ids), cancellation, and
 * concurrent searches during mutations from several threads with every answer checked. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "vectro.h"
#include "vtest.h"

#define D 24

static float *rows(size_t n, uint64_t seed) {
  float *x = malloc(n * D * sizeof(float));
  for (size_t i = 0; i < n * D; i++) x[i] = vt_normal(&seed);
  return x;
}

static vec_codec *codec_of(vec_codec_id id) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, D);
  vec_codec *c = NULL;
  return vec_codec_create(&p, &c) ? NULL : c;
}

static vec_index *make(vec_codec_id id, vec_metric m, int keep, vec_codec_id rerank) {
  vec_codec *c = codec_of(id), *r = rerank != id ? codec_of(rerank) : NULL;
  vec_index_options o = VEC_INDEX_OPTIONS_INIT;
  o.keep_originals = keep;
  o.rerank = r;
  vec_index *ix = NULL;
  if (vec_index_create(c, m, &o, &ix)) ix = NULL;
  vec_codec_free(c);
  vec_codec_free(r);
  return ix;
}

/* The top-1 id of one query. */
static uint64_t top1(vec_index *ix, const float *q, const vec_search_params *p) {
  uint64_t id = 0;
  float s;
  return vec_index_search(ix, q, 1, D, 1, p, &id, &s, NULL) ? UINT64_MAX - 1 : id;
}

static void ids_and_refusals(void) {
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_IP, 0, VEC_CODEC_INT8);
  CHECK(ix);
  float *x = rows(10, 1);
  uint64_t out[10], given[3] = {9, 3, 9}, bad[1] = {UINT64_MAX};
  CHECK(vec_index_add(ix, x, 2, D, NULL, out, NULL) == VEC_OK && out[0] == 0 && out[1] == 1);
  CHECK(vec_index_add(ix, x, 3, D, given, NULL, NULL) == VEC_E_INVALID_ARG); /* 9 twice */
  CHECK(vec_index_add(ix, x, 1, D, bad, NULL, NULL) == VEC_E_INVALID_ARG);   /* NO_ID */
  CHECK(vec_index_add(ix, x, 2, D, given, NULL, NULL) == VEC_OK);            /* 9, 3 */
  uint64_t again[2] = {100, 3};
  CHECK(vec_index_add(ix, x, 2, D, again, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(!vec_index_contains(ix, 100) && vec_index_count(ix) == 4); /* nothing of it went in */
  CHECK(vec_index_add(ix, x, 1, D, NULL, out, NULL) == VEC_OK && out[0] == 10);
  size_t del = 0;
  uint64_t gone[3] = {10, 10, 77};
  CHECK(vec_index_delete(ix, gone, 3, &del) == VEC_OK && del == 1);
  CHECK(vec_index_add(ix, x, 1, D, NULL, out, NULL) == VEC_OK && out[0] == 11); /* never 10 */
  uint64_t live[8];
  CHECK(vec_index_ids(ix, live, 8) == 5);
  CHECK(live[0] == 0 && live[1] == 1 && live[2] == 9 && live[3] == 3 && live[4] == 11);
  float g[D];
  uint64_t missing[2] = {9, 10};
  CHECK(vec_index_get(ix, missing, 2, g, D) == VEC_E_NOT_FOUND && vec_last_error_row() == 1);
  vec_index_free(ix);
  free(x);
}

/* Search over an index with deletes and a filter equals a search over an index built from the
 * allowed rows alone (same ids), for every metric and with the rescoring stages. */
static void filter_and_tombstones_match_a_fresh_index(void) {
  size_t n = 700;
  float *x = rows(n, 2), *q = rows(9, 3);
  vec_metric ms[] = {VEC_METRIC_IP, VEC_METRIC_COSINE, VEC_METRIC_L2};
  for (int mi = 0; mi < 3; mi++)
    for (int keep = 0; keep < 2; keep++) {
      vec_codec_id rr = keep ? VEC_CODEC_INT8 : VEC_CODEC_F16;
      vec_index *a = make(VEC_CODEC_BINARY, ms[mi], keep, rr);
      vec_index *b = make(VEC_CODEC_BINARY, ms[mi], keep, rr);
      CHECK(a && b);
      uint64_t *ids = malloc(n * sizeof *ids), *del = malloc(n * sizeof *del),
               *allow = malloc(n * 8);
      size_t nd = 0, na = 0;
      for (size_t i = 0; i < n; i++) ids[i] = 1000 + 7 * i;
      CHECK(vec_index_add(a, x, n, D, ids, NULL, NULL) == VEC_OK);
      for (size_t i = 0; i < n; i += 9) del[nd++] = ids[i]; /* 1/9: tombstones, no compaction */
      size_t got;
      CHECK(vec_index_delete(a, del, nd, &got) == VEC_OK && got == nd);
      for (size_t i = 0; i < n; i++)
        if (i % 9 && i % 3 == 1) {
          allow[na++] = ids[i];
          CHECK(vec_index_add(b, x + i * D, 1, D, ids + i, NULL, NULL) == VEC_OK);
        }
      allow[na++] = ids[0]; /* deleted: must stay out */
      allow[na++] = 5;      /* never held */
      vec_search_params p = VEC_SEARCH_PARAMS_INIT;
      p.filter_ids = allow;
      p.filter_count = na;
      p.oversample = 3;
      size_t k = 12;
      uint64_t ia[9 * 12], ib[9 * 12];
      float sa[9 * 12], sb[9 * 12];
      vec_search_params pb = p;
      pb.filter_ids = NULL;
      CHECK(vec_index_search(a, q, 9, D, k, &p, ia, sa, NULL) == VEC_OK);
      CHECK(vec_index_search(b, q, 9, D, k, &pb, ib, sb, NULL) == VEC_OK);
      for (size_t i = 0; i < 9 * k; i++)
        CHECKF(ia[i] == ib[i], "metric %d keep %d slot %zu", mi, keep, i);
      for (size_t i = 0; i < 9 * k; i++) CHECK(sa[i] == sb[i] || (isnan(sa[i]) && isnan(sb[i])));
      p.filter_count = 0; /* an empty allow-list: nothing */
      CHECK(vec_index_search(a, q, 1, D, k, &p, ia, sa, NULL) == VEC_OK && ia[0] == UINT64_MAX);
      vec_index_free(a);
      vec_index_free(b);
      free(ids), free(del), free(allow);
    }
  free(x), free(q);
}

static void upsert_get_compaction_keep_rows_in_step(void) {
  size_t n = 200;
  float *x = rows(n, 4), *y = rows(n, 5);
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_L2, 1, VEC_CODEC_INT8);
  CHECK(ix);
  CHECK(vec_index_add(ix, x, n, D, NULL, NULL, NULL) == VEC_OK);
  uint64_t del[120];
  for (size_t i = 0; i < 120; i++) del[i] = 2 * i; /* 60% of the rows: compacts */
  size_t got;
  CHECK(vec_index_delete(ix, del, 100, &got) == VEC_OK && got == 100 && vec_index_count(ix) == 100);
  uint64_t up[3] = {1, 0, 5000};
  CHECK(vec_index_upsert(ix, y, 3, D, up, NULL) == VEC_OK && vec_index_count(ix) == 102);
  float g[3 * D];
  CHECK(vec_index_get(ix, up, 3, g, D) == VEC_OK);
  CHECK(memcmp(g, y, sizeof g) == 0); /* originals held: the rows themselves */
  for (size_t i = 0; i < 3; i++) CHECK(top1(ix, y + i * D, NULL) == up[i]);
  for (size_t i = 3; i < n; i += 2) CHECK(top1(ix, x + i * D, NULL) == i);
  uint64_t live[128];
  CHECK(vec_index_ids(ix, live, 128) == 102 && live[0] == 1 && live[1] == 3 && live[100] == 0);
  vec_index_free(ix);
  free(x), free(y);
}

static int cancel_at_once(void *user, size_t done, size_t total) {
  (void)user, (void)done, (void)total;
  return 1;
}

static void cancellation(void) {
  size_t n = 5000;
  float *x = rows(n, 6);
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_COSINE, 0, VEC_CODEC_INT8);
  CHECK(ix && vec_index_add(ix, x, n, D, NULL, NULL, NULL) == VEC_OK);
  vec_search_params p = VEC_SEARCH_PARAMS_INIT;
  p.progress = cancel_at_once;
  p.threads = 1;
  uint64_t id[40];
  float s[40];
  CHECK(vec_index_search(ix, x, 4, D, 10, &p, id, s, NULL) == VEC_E_CANCELLED);
  CHECK(vec_index_search(ix, x, 4, D, 10, NULL, id, s, NULL) == VEC_OK && id[0] == 0);
  p.progress = NULL;
  p.oversample = 2; /* no originals held */
  CHECK(vec_index_search(ix, x, 1, D, 10, &p, id, s, NULL) == VEC_E_INVALID_ARG);
  vec_index_free(ix);
  free(x);
}

static char *tmpdir(void) {
  char t[] = "/tmp/vec-index-test-XXXXXX";
  char *d = mkdtemp(t);
  return d ? strdup(d) : NULL;
}

static void save_load_round_trip(void) {
  char *dir = tmpdir(), path[512], side[600];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/i.vqz", dir);
  size_t n = 300;
  float *x = rows(n, 7);
  vec_index *ix = make(VEC_CODEC_BINARY, VEC_METRIC_COSINE, 1, VEC_CODEC_INT8);
  CHECK(ix && vec_index_add(ix, x, n, D, NULL, NULL, NULL) == VEC_OK);
  uint64_t del[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 299};
  CHECK(vec_index_delete(ix, del, 10, NULL) == VEC_OK);
  CHECK(vec_index_save(ix, path, "\"note\": \"x\"") == VEC_OK);
  vec_index *back = NULL;
  CHECK(vec_index_load(path, NULL, &back) == VEC_OK);
  CHECK(vec_index_metric(back) == VEC_METRIC_COSINE && vec_index_count(back) == n - 10);
  CHECK(vec_index_has_originals(back) && vec_index_rerank(back));
  CHECK(strstr(vec_index_metadata(back), "\"note\": \"x\""));
  uint64_t ia[8 * 10], ib[8 * 10];
  float sa[8 * 10], sb[8 * 10];
  CHECK(vec_index_search(ix, x, 8, D, 10, NULL, ia, sa, NULL) == VEC_OK);
  CHECK(vec_index_search(back, x, 8, D, 10, NULL, ib, sb, NULL) == VEC_OK);
  CHECK(memcmp(ia, ib, sizeof ia) == 0 && memcmp(sa, sb, sizeof sa) == 0);
  uint64_t out;
  CHECK(vec_index_add(back, x, 1, D, NULL, &out, NULL) == VEC_OK && out == 300);
  vec_index_free(back);
  /* A plain .vqz without ids: ids 0..n-1; metric overridable. */
  snprintf(side, sizeof side, "%s/plain.vqz", dir);
  vec_codec *c = codec_of(VEC_CODEC_INT8);
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(side, c, NULL, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append_floats(w, x, 50, D, NULL, NULL) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  vec_index_load_options lo = VEC_INDEX_LOAD_OPTIONS_INIT;
  lo.metric_override = VEC_METRIC_IP;
  CHECK(vec_index_load(side, &lo, &back) == VEC_OK && vec_index_count(back) == 50);
  CHECK(top1(back, x + 17 * D, NULL) == 17 && vec_index_metric(back) == VEC_METRIC_IP);
  vec_index_free(back);
  /* Repeated ids in a file are refused, naming the row. */
  vec_vqz_options vo = VEC_VQZ_OPTIONS_INIT;
  vo.with_ids = 1;
  uint64_t dup[3] = {4, 5, 4};
  CHECK(vec_vqz_writer_open(side, c, &vo, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append_floats(w, x, 3, D, dup, NULL) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  CHECK(vec_index_load(side, NULL, &back) == VEC_E_FORMAT && vec_last_error_row() == 2);
  vec_codec_free(c);
  vec_index_free(ix);
  free(x);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  free(dir);
}

/* Every codec of format 2.x, centred or not, goes into an index: vec_index_create copies the
 * codec through its serialization, so a codec whose bytes do not read back (an uncentred
 * uint4-cal or uint6-cal was written as 2.1 without the parameter block 2.x readers expect) made
 * vec_index_create fail with "malformed or corrupt data". Search and a save/load round trip too. */
static void codecs_of_format_2(void) {
  static const vec_codec_id ids[] = {VEC_CODEC_UINT4_CAL, VEC_CODEC_UINT6_CAL, VEC_CODEC_INT8,
                                     VEC_CODEC_BINARY,    VEC_CODEC_UINT8_CAL, VEC_CODEC_RABITQ};
  char *dir = tmpdir(), path[512];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/c.vqz", dir);
  size_t n = 200;
  float *x = rows(n, 11);
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
    for (int center = 0; center <= 1; center++) {
      vec_codec_params p = VEC_CODEC_PARAMS_INIT(ids[i], D);
      if (ids[i] == VEC_CODEC_RABITQ) p.bits = 2;
      p.center = center;
      vec_codec *c = NULL;
      CHECK(vec_codec_create(&p, &c) == VEC_OK);
      if (!c) continue;
      CHECK(vec_codec_train(c, x, n, D) == VEC_OK);
      size_t sz = vec_codec_serialized_size(c);
      void *buf = malloc(sz);
      vec_codec *back = NULL;
      CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
      CHECK(vec_codec_deserialize(buf, sz, &back) == VEC_OK);
      CHECK(back && vec_codec_is_trained(back));
      vec_codec_free(back);
      free(buf);
      vec_index *ix = NULL, *ld = NULL;
      int rc = vec_index_create(c, VEC_METRIC_IP, NULL, &ix);
      if (rc)
        fprintf(stderr, "codec %d center %d: %s\n", (int)ids[i], center, vec_last_error_message());
      CHECK(rc == VEC_OK);
      vec_codec_free(c);
      if (rc) continue;
      CHECK(vec_index_add(ix, x, n, D, NULL, NULL, NULL) == VEC_OK);
      uint64_t ia[3], ib[3];
      float sa[3], sb[3];
      CHECK(vec_index_search(ix, x + 5 * D, 1, D, 3, NULL, ia, sa, NULL) == VEC_OK);
      CHECK(vec_index_save(ix, path, NULL) == VEC_OK);
      CHECK(vec_index_load(path, NULL, &ld) == VEC_OK);
      CHECK(ld && vec_index_count(ld) == n);
      if (ld) {
        CHECK(vec_index_search(ld, x + 5 * D, 1, D, 3, NULL, ib, sb, NULL) == VEC_OK);
        CHECK(memcmp(ia, ib, sizeof ia) == 0 && memcmp(sa, sb, sizeof sa) == 0);
      }
      vec_index_free(ld);
      vec_index_free(ix);
    }
  free(x);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  free(dir);
}

/* Rows of 1e19 or 1e-22 overflow or underflow float32 norms and dot products: the index holds
 * them scaled by a power of two (vectro.h), so it answers as for the unscaled rows, with scores
 * scaled back (cosine as is, ip and L2 by s^2), across save and load with originals given at the
 * caller's scale, and get returns rows at the caller's scale. */
/* Save and load stop when their progress callback asks (Python's Ctrl-C), every 65536 rows of
 * each file: a cancelled save leaves no file (nor a sidecar it created), a cancelled load no
 * index; uncancelled, both reach done == total. */
typedef struct {
  size_t calls, stop_at, done, total;
} io_stop;

static int io_stop_cb(void *user, size_t done, size_t total) {
  io_stop *s = user;
  s->calls++;
  s->done = done;
  s->total = total;
  return s->stop_at && s->calls >= s->stop_at;
}

static void save_load_can_be_cancelled(void) {
  char *dir = tmpdir(), path[512], side[600];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/big.vqz", dir);
  size_t n = 140000; /* three progress steps a file */
  float *x = rows(n, 8);
  vec_index *ix = make(VEC_CODEC_BINARY, VEC_METRIC_COSINE, 1, VEC_CODEC_INT8), *back = NULL;
  CHECK(x && ix && vec_index_add(ix, x, n, D, NULL, NULL, NULL) == VEC_OK);
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  io_stop s = {0, 4, 0, 0}; /* into the second file (the originals) */
  o.progress = io_stop_cb;
  o.progress_user = &s;
  CHECK(vec_index_save_opts(ix, path, NULL, &o) == VEC_E_CANCELLED && s.calls == 4);
  CHECK(access(path, F_OK) != 0);
  snprintf(side, sizeof side, "%s.rerank.vqz", path);
  CHECK(access(side, F_OK) != 0);
  snprintf(side, sizeof side, "%s.originals.npy", path);
  CHECK(access(side, F_OK) != 0);
  s = (io_stop){0, 0, 0, 0};
  CHECK(vec_index_save_opts(ix, path, NULL, &o) == VEC_OK);
  CHECK(s.calls == 9 && s.done == s.total && s.total == 3 * n);
  vec_index_load_options lo = VEC_INDEX_LOAD_OPTIONS_INIT;
  lo.progress = io_stop_cb;
  lo.progress_user = &s;
  s = (io_stop){0, 5, 0, 0};
  CHECK(vec_index_load(path, &lo, &back) == VEC_E_CANCELLED && back == NULL && s.calls == 5);
  s = (io_stop){0, 0, 0, 0};
  CHECK(vec_index_load(path, &lo, &back) == VEC_OK && back && vec_index_count(back) == n);
  CHECK(s.done == s.total && s.total == 3 * n);
  /* An older, shorter options struct (without the progress members) is still accepted. */
  vec_index_free(back);
  lo.struct_size = offsetof(vec_index_load_options, progress);
  CHECK(vec_index_load(path, &lo, &back) == VEC_OK && back);
  vec_index_free(back);
  vec_index_free(ix);
  unlink(path);
  unlink(side);
  snprintf(side, sizeof side, "%s.rerank.vqz", path);
  unlink(side);
  rmdir(dir);
  free(dir);
  free(x);
}

static void extreme_magnitudes(void) {
  static const vec_metric metrics[] = {VEC_METRIC_IP, VEC_METRIC_COSINE, VEC_METRIC_L2};
  static const float scale[] = {0x1p64f, 0x1p-72f}; /* exact: the check needs no tolerance */
  char *dir = tmpdir(), path[512], opath[600];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/x.vqz", dir);
  snprintf(opath, sizeof opath, "%s/x.vqz.originals.npy", dir);
  size_t n = 200, nq = 4;
  float *x = rows(n, 21), *xs = malloc(n * D * sizeof(float)), *qs = malloc(nq * D * sizeof(float));
  float got[D];
  for (size_t m = 0; m < 3; m++)
    for (size_t t = 0; t < 2; t++) {
      for (size_t i = 0; i < n * D; i++) xs[i] = x[i] * scale[t];
      for (size_t i = 0; i < nq * D; i++) qs[i] = x[i] * scale[t];
      double f = metrics[m] == VEC_METRIC_COSINE ? 1.0 : (double)scale[t] * scale[t];
      vec_index *ref = make(VEC_CODEC_INT8, metrics[m], 1, VEC_CODEC_INT8);
      vec_index *ix = make(VEC_CODEC_INT8, metrics[m], 1, VEC_CODEC_INT8), *back = NULL;
      CHECK(ref && ix);
      if (!ref || !ix) continue;
      CHECK(vec_index_add(ref, x, n, D, NULL, NULL, NULL) == VEC_OK && !vec_index_scale_exp(ref));
      CHECK(vec_index_add(ix, xs, n, D, NULL, NULL, NULL) == VEC_OK && vec_index_scale_exp(ix));
      CHECK(vec_index_set_scale_exp(ix, 3) == VEC_E_INVALID_ARG); /* rows are held already */
      uint64_t ia[4 * 5], ib[4 * 5];
      float sa[4 * 5], sb[4 * 5];
      for (int round = 0; round < 2; round++) {
        vec_index *s = round ? back : ix;
        CHECK(vec_index_search(ref, x, nq, D, 5, NULL, ia, sa, NULL) == VEC_OK);
        CHECK(vec_index_search(s, qs, nq, D, 5, NULL, ib, sb, NULL) == VEC_OK);
        CHECK(memcmp(ia, ib, sizeof ia) == 0);
        for (size_t i = 0; i < nq * 5; i++) {
          double want = sa[i] * f;
          if (fabs(want) > 1e-37 && fabs(want) < 3e38)
            CHECK(fabs(sb[i] - want) <= 1e-5 * fabs(want) + (f == 1.0 ? 1e-6 : 0));
          else
            CHECK(!isnan(sb[i]) && !(sb[i] == 0 && signbit(sb[i])));
        }
        uint64_t id = 7;
        CHECK(vec_index_get(s, &id, 1, got, D) == VEC_OK &&
              memcmp(got, xs + 7 * D, sizeof got) == 0);
        if (!round) { /* the saved originals are at the caller's scale; load scales them back */
          CHECK(vec_index_save(ix, path, NULL) == VEC_OK);
          CHECK(strstr(vec_index_metadata(ix), "scale_exp") == NULL);
          vec_index_load_options lo = VEC_INDEX_LOAD_OPTIONS_INIT;
          lo.originals = opath;
          CHECK(vec_index_load(path, &lo, &back) == VEC_OK);
          CHECK(back && vec_index_scale_exp(back) == vec_index_scale_exp(ix));
          CHECK(back && strstr(vec_index_metadata(back), "\"scale_exp\": "));
          if (!back) break;
        }
      }
      vec_index_free(back);
      vec_index_free(ix);
      vec_index_free(ref);
    }
  /* A row far beyond the scale the first rows set is refused, naming it; moderate rows pick 0. */
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_IP, 0, VEC_CODEC_INT8);
  for (size_t i = 0; i < 2 * D; i++) xs[i] = x[i] * 0x1p-100f;
  xs[D + 3] = 3e38f;
  CHECK(vec_index_add(ix, xs, 1, D, NULL, NULL, NULL) == VEC_OK && vec_index_scale_exp(ix) < -90);
  CHECK(vec_index_add(ix, xs, 2, D, NULL, NULL, NULL) == VEC_E_RANGE && vec_last_error_row() == 1);
  CHECK(vec_index_pick_scale_exp(x, n, D, D) == 0);
  vec_index_free(ix);
  free(x), free(xs), free(qs);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  free(dir);
}

/* Threads: searchers check that untouched rows are always found under their ids and that a
 * filter is always obeyed, while a writer adds, upserts and deletes other rows. */
typedef struct shared {
  vec_index *ix;
  const float *x;
  size_t fixed;
  atomic_int stop; /* atomics: the test's own flags must not race under TSan */
  atomic_int bad;
} shared;

static void *searcher(void *arg) {
  shared *s = arg;
  uint64_t seed = (uint64_t)(uintptr_t)arg ^ 77, allow[2];
  while (!s->stop) {
    size_t r = (size_t)(vt_next(&seed) % s->fixed);
    if (top1(s->ix, s->x + r * D, NULL) != r) s->bad++;
    vec_search_params p = VEC_SEARCH_PARAMS_INIT;
    allow[0] = r;
    allow[1] = (r + 1) % s->fixed;
    p.filter_ids = allow;
    p.filter_count = 2;
    uint64_t id[3];
    float sc[3];
    if (vec_index_search(s->ix, s->x + r * D, 1, D, 3, &p, id, sc, NULL) ||
        !((id[0] == allow[0] && id[1] == allow[1]) || (id[0] == allow[1] && id[1] == allow[0])) ||
        id[2] != UINT64_MAX)
      s->bad++;
  }
  return NULL;
}

static void concurrent_searches_and_mutations(void) {
  size_t fixed = 200, extra = 400;
  float *x = rows(fixed + extra, 8);
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_COSINE, 1, VEC_CODEC_INT8);
  CHECK(ix && vec_index_add(ix, x, fixed, D, NULL, NULL, NULL) == VEC_OK);
  shared s = {ix, x, fixed, 0, 0};
  atomic_init(&s.stop, 0);
  atomic_init(&s.bad, 0);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, searcher, &s) == 0);
  for (size_t i = 0; i < extra; i += 20) {
    uint64_t ids[20];
    for (size_t j = 0; j < 20; j++) ids[j] = 10000 + i + j;
    if (vec_index_add(ix, x + (fixed + i) * D, 20, D, ids, NULL, NULL)) s.bad += 1000;
    if (vec_index_upsert(ix, x + (fixed + i) * D, 5, D, ids + 10, NULL)) s.bad += 1000;
    if (vec_index_delete(ix, ids, 10, NULL)) s.bad += 1000;
  }
  s.stop = 1;
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECKF(atomic_load(&s.bad) == 0, "%d bad answers", atomic_load(&s.bad));
  CHECK(vec_index_count(ix) == fixed + extra / 2);
  vec_index_free(ix);
  free(x);
}

/* ----- in place: mapped search, appending saves, torn commits --------------------------------- */
#define NQ 9
#define KK 10

/* a and b answer the same (ids and bit-identical scores) with params p. */
static int same_answers(vec_index *a, vec_index *b, const float *q, const vec_search_params *p) {
  uint64_t ia[NQ * KK], ib[NQ * KK];
  float sa[NQ * KK], sb[NQ * KK];
  if (vec_index_search(a, q, NQ, D, KK, p, ia, sa, NULL) ||
      vec_index_search(b, q, NQ, D, KK, p, ib, sb, NULL))
    return 0;
  return memcmp(ia, ib, sizeof ia) == 0 && memcmp(sa, sb, sizeof sa) == 0;
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*n + 1);
  if (b && fread(b, 1, *n, f) != *n) b = (free(b), NULL);
  fclose(f);
  return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f) fwrite(b, 1, n, f), fclose(f);
}

static vec_index *open_at(const char *path, int mapped) {
  vec_index_load_options o = VEC_INDEX_LOAD_OPTIONS_INIT;
  o.mapped = mapped;
  vec_index *ix = NULL;
  return vec_index_load(path, &o, &ix) ? NULL : ix;
}

/* An index opened mapped answers as the same rows held in memory (one segment), also after two
 * appending saves (segments starting at rows 300 and 450, not multiples of 64: the filter's bits
 * shift), with deletes, an upsert of a mapped row, a filter, and compaction; each save appends
 * without touching a byte of the file outside the commit slots. */
static void mapped_search_and_append_in_place(void) {
  char *dir = tmpdir(), path[512];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/m.vqz", dir);
  size_t n = 517;
  float *x = rows(n + 1, 21), *q = rows(NQ, 22);
  vec_codec_id codecs[] = {VEC_CODEC_INT8, VEC_CODEC_BINARY, VEC_CODEC_F16};
  vec_metric metrics[] = {VEC_METRIC_COSINE, VEC_METRIC_IP, VEC_METRIC_L2};
  for (int c = 0; c < 3; c++) {
    vec_index *ref = make(codecs[c], metrics[c], 0, codecs[c]);
    CHECK(ref && vec_index_add(ref, x, 300, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(vec_index_save(ref, path, NULL) == VEC_OK);
    vec_index *m = open_at(path, 1), *cp = open_at(path, 0);
    CHECK(m && cp && same_answers(ref, m, q, NULL) && same_answers(ref, cp, q, NULL));
    vec_index_free(cp);
    size_t at[3] = {300, 450, n};
    for (int step = 0; step < 2; step++) {
      size_t before_n;
      unsigned char *before = slurp(path, &before_n);
      CHECK(before);
      CHECK(vec_index_add(m, x + at[step] * D, at[step + 1] - at[step], D, NULL, NULL, NULL) ==
            VEC_OK);
      CHECK(vec_index_add(ref, x + at[step] * D, at[step + 1] - at[step], D, NULL, NULL, NULL) ==
            VEC_OK);
      CHECK(same_answers(ref, m, q, NULL)); /* the mapped rows and those in memory */
      CHECK(vec_index_save(m, path, "\"step\": 1") == VEC_OK);
      size_t after_n;
      unsigned char *after = slurp(path, &after_n);
      CHECK(after && after_n > before_n);
      CHECKF(memcmp(before, after, 96) == 0 &&
                 memcmp(before + 160, after + 160, before_n - 160) == 0,
             "an appending save changed bytes outside the commit slots");
      free(before), free(after);
    }
    vec_index *m2 = open_at(path, 1), *c2 = open_at(path, 0);
    CHECK(m2 && c2 && vec_index_count(m2) == n && strstr(vec_index_metadata(m2), "\"step\": 1"));
    CHECK(same_answers(ref, m2, q, NULL) && same_answers(ref, c2, q, NULL));
    uint64_t allow[7] = {3, 299, 301, 330, 449, 451, 516};
    vec_search_params p = VEC_SEARCH_PARAMS_INIT;
    p.filter_ids = allow, p.filter_count = 7, p.threads = 2;
    CHECK(same_answers(ref, m2, q, &p));
    uint64_t del[4] = {5, 320, 460, 9999};
    CHECK(vec_index_delete(m2, del, 4, NULL) == VEC_OK && vec_index_delete(ref, del, 4, NULL) == 0);
    CHECK(same_answers(ref, m2, q, NULL) && same_answers(ref, m2, q, &p));
    uint64_t up[2] = {7, 470};
    CHECK(vec_index_upsert(m2, x + n * D, 1, D, up, NULL) == VEC_OK); /* a mapped row */
    CHECK(vec_index_upsert(ref, x + n * D, 1, D, up, NULL) == VEC_OK);
    float got[D];
    CHECK(vec_index_get(m2, up, 1, got, D) == VEC_OK && vec_index_count(m2) == n - 3);
    uint64_t ia[NQ * KK], ib[NQ * KK];
    float sa[NQ * KK], sb[NQ * KK];
    CHECK(vec_index_search(ref, q, NQ, D, KK, NULL, ia, sa, NULL) == VEC_OK);
    CHECK(vec_index_search(m2, q, NQ, D, KK, NULL, ib, sb, NULL) == VEC_OK);
    CHECK(memcmp(sa, sb, sizeof sa) == 0); /* the upserted row moved: ties may order otherwise */
#if defined(_WIN32)
    /* Windows cannot replace a file another handle maps: m goes first (m2's own map is let go
     * of by the rewrite itself). */
    vec_index_free(m);
    m = NULL;
#endif
    CHECK(vec_index_save(m2, path, NULL) == VEC_OK); /* deletes: a rewrite */
    vec_index *c3 = open_at(path, 1);
    CHECK(c3 && vec_index_count(c3) == n - 3);
    CHECK(vec_index_search(c3, q, NQ, D, KK, NULL, ib, sb, NULL) == VEC_OK);
    CHECK(memcmp(sa, sb, sizeof sa) == 0);
    CHECK(vec_index_compact(m2) == VEC_OK && vec_index_count(m2) == n - 3);
    CHECK(vec_index_search(m2, q, NQ, D, KK, NULL, ib, sb, NULL) == VEC_OK);
    CHECK(memcmp(sa, sb, sizeof sa) == 0);
    vec_index_free(c3), vec_index_free(m2), vec_index_free(c2), vec_index_free(m);
    vec_index_free(ref);
  }
  free(x), free(q);
  remove(path);
  rmdir(dir);
  free(dir);
}

/* A commit torn by a crash (the newer slot damaged) opens at the previous commit; bytes a crash
 * left after the last commit are ignored, and the next save appends after them; a newer major
 * version is refused as such; a second writer whose view is stale rewrites instead of appending. */
static void torn_commits_and_stale_writers(void) {
  char *dir = tmpdir(), path[512];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/t.vqz", dir);
  float *x = rows(200, 31);
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_IP, 0, VEC_CODEC_INT8);
  CHECK(ix && vec_index_add(ix, x, 100, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(ix, path, NULL) == VEC_OK);
  CHECK(vec_index_add(ix, x + 100 * D, 50, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(ix, path, NULL) == VEC_OK); /* appended: generation 2 in slot 1 */
  vec_index_free(ix);
  size_t sz;
  unsigned char *good = slurp(path, &sz), *bad = malloc(sz + 1000);
  CHECK(good && bad);
  memcpy(bad, good, sz);
  bad[96 + 32 + 9] ^= 0x40; /* slot 1's footer offset: torn */
  spit(path, bad, sz);
  vec_index *back = open_at(path, 1);
  CHECK(back && vec_index_count(back) == 100);
  vec_index_free(back);
  memcpy(bad, good, sz);
  memset(bad + sz, 0xab, 1000); /* blocks of an append that never committed */
  spit(path, bad, sz + 1000);
  CHECK((back = open_at(path, 0)) && vec_index_count(back) == 150);
  CHECK(vec_index_add(back, x + 150 * D, 10, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(back, path, NULL) == VEC_OK);
  vec_index_free(back);
  size_t sz3;
  unsigned char *third = slurp(path, &sz3);
  CHECK(third && sz3 > sz + 1000 && memcmp(third + 160, bad + 160, sz + 1000 - 160) == 0);
  CHECK((back = open_at(path, 1)) && vec_index_count(back) == 160);
#if !defined(_WIN32)
  /* Two handles on one file: the first appends, the second's commit is stale, so it rewrites. */
  vec_index *other = open_at(path, 0);
  CHECK(other && vec_index_add(back, x + 160 * D, 5, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(back, path, NULL) == VEC_OK);
  CHECK(vec_index_add(other, x + 170 * D, 7, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(other, path, NULL) == VEC_OK);
  vec_index *last = open_at(path, 1);
  CHECK(last && vec_index_count(last) == 167);
  CHECK(same_answers(last, other, x, NULL) && same_answers(back, back, x, NULL));
  vec_index_free(last), vec_index_free(other), vec_index_free(back);
#else
  /* Windows cannot replace a file another handle has mapped (back, here): no stale rewrite. */
  vec_index_free(back);
#endif
  free(third);
  /* A newer major version: refused as such, not as damage. */
  memcpy(bad, good, sz);
  bad[8] = 3;
  uint32_t crc = vec_crc32c(0, bad, 92);
  for (int i = 0; i < 4; i++) bad[92 + i] = (unsigned char)(crc >> (8 * i));
  spit(path, bad, sz);
  vec_index *newer = NULL;
  CHECK(vec_index_load(path, NULL, &newer) == VEC_E_VERSION && !newer);
  free(good), free(bad), free(x);
  remove(path);
  rmdir(dir);
  free(dir);
}

/* With float originals (a .npy sidecar), a mapped index maps them too and rescores from the map:
 * the same answers as in memory, before and after rows are added (which copies them in). */
static void mapped_originals(void) {
  char *dir = tmpdir(), path[512], side[600];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/o.vqz", dir);
  float *x = rows(400, 41), *q = rows(NQ, 42);
  vec_metric ms[] = {VEC_METRIC_COSINE, VEC_METRIC_L2, VEC_METRIC_IP};
  for (int mi = 0; mi < 3; mi++) {
    vec_index *ref = make(VEC_CODEC_INT8, ms[mi], 1, VEC_CODEC_INT8);
    CHECK(ref && vec_index_add(ref, x, 300, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(vec_index_save(ref, path, NULL) == VEC_OK);
    vec_index *m = open_at(path, 1);
    CHECK(m && vec_index_has_originals(m) && vec_index_mapped_rows(m) == 300);
    vec_search_params p = VEC_SEARCH_PARAMS_INIT;
    CHECK(same_answers(ref, m, q, NULL));
    p.oversample = 3;
    CHECK(same_answers(ref, m, q, &p));
    CHECK(vec_index_add(m, x + 300 * D, 100, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(vec_index_add(ref, x + 300 * D, 100, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(same_answers(ref, m, q, NULL));
    float a[D], b[D];
    uint64_t id = 7;
    CHECK(vec_index_get(m, &id, 1, a, D) == VEC_OK && vec_index_get(ref, &id, 1, b, D) == VEC_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    vec_index_free(m), vec_index_free(ref);
  }
  snprintf(side, sizeof side, "%s.originals.npy", path);
  remove(side), remove(path), rmdir(dir);
  free(dir), free(x), free(q);
}

/* Every byte of a 2.0 file (two commits) flipped in turn: each load, copied or mapped, either
 * fails with an error or gives an index that searches (ASan watches every read). */
static void v2_every_byte_flipped(void) {
  char *dir = tmpdir(), path[512];
  CHECK(dir);
  snprintf(path, sizeof path, "%s/f.vqz", dir);
  float *x = rows(40, 51);
  vec_index *ix = make(VEC_CODEC_INT8, VEC_METRIC_COSINE, 0, VEC_CODEC_INT8);
  CHECK(ix && vec_index_add(ix, x, 30, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(ix, path, "\"a\": 1") == VEC_OK);
  CHECK(vec_index_add(ix, x + 30 * D, 10, D, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_index_save(ix, path, "\"a\": 2") == VEC_OK);
  vec_index_free(ix);
  size_t sz;
  unsigned char *good = slurp(path, &sz), *bad = malloc(sz);
  CHECK(good && bad);
  int opened = 0;
  for (size_t at = 0; at < sz; at++) {
    memcpy(bad, good, sz);
    bad[at] ^= (unsigned char)(1u << (at % 8));
    spit(path, bad, sz);
    for (int mapped = 0; mapped < 2; mapped++) {
      vec_index *b = open_at(path, mapped);
      if (!b) continue;
      opened++;
      uint64_t id[3];
      float sc[3];
      size_t n = vec_index_count(b);
      CHECKF(n == 30 || n == 40, "byte %zu: %zu rows", at, n);
      CHECK(vec_index_search(b, x, 1, D, 3, NULL, id, sc, NULL) == VEC_OK);
      vec_index_free(b);
    }
  }
  CHECK(opened > 0); /* padding bytes and the older commit's slot are not checked */
  free(good), free(bad), free(x);
  remove(path), rmdir(dir), free(dir);
}

/* The exponent picked from the finite values only, whatever the row length (the vector loop takes
 * 8 at a time, the rest one by one). */
static void pick_scale_exp_finite_only(void) {
  float r[21];
  for (size_t d = 1; d <= 21; d++) {
    for (size_t j = 0; j < d; j++) r[j] = 0.5f;
    CHECK(vec_index_pick_scale_exp(r, 1, d, d) == 0);
    r[d - 1] = -3e30f; /* the largest, last: in the tail or the last vector */
    CHECKF(vec_index_pick_scale_exp(r, 1, d, d) == 101, "d = %zu", d);
    r[0] = INFINITY;
    if (d > 2) r[d / 2] = NAN;
    CHECKF(vec_index_pick_scale_exp(r, 1, d, d) == (d > 1 ? 101 : 0), "d = %zu", d);
    for (size_t j = 1; j + 1 < d; j++) r[j] = j == d / 2 ? NAN : -1e-31f;
    r[d - 1] = 1e-30f; /* r[0] stays Inf (d > 1) */
    CHECKF(vec_index_pick_scale_exp(r, 1, d, d) == -100, "d = %zu", d);
  }
}

const vt_test index_tests[] = {
    {"index_pick_scale_exp", pick_scale_exp_finite_only},
    {"index_mapped_originals", mapped_originals},
    {"index_v2_every_byte_flipped", v2_every_byte_flipped},
    {"index_ids_and_refusals", ids_and_refusals},
    {"index_filter_and_tombstones", filter_and_tombstones_match_a_fresh_index},
    {"index_upsert_get_compaction", upsert_get_compaction_keep_rows_in_step},
    {"index_cancellation", cancellation},
    {"index_save_load", save_load_round_trip},
    {"index_codecs_of_format_2", codecs_of_format_2},
    {"index_extreme_magnitudes", extreme_magnitudes},
    {"index_save_load_can_be_cancelled", save_load_can_be_cancelled},
    {"index_threads", concurrent_searches_and_mutations},
    {"index_mapped_append", mapped_search_and_append_in_place},
    {"index_torn_commits", torn_commits_and_stale_writers},
};
const size_t index_count = sizeof index_tests / sizeof index_tests[0];
