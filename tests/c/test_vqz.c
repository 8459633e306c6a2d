/* test_vqz.c: the .vqz container: round trips for every codec, random access, the golden files
 * that pin the format, and damaged input (every truncation, every flipped byte, newer versions,
 * impossible headers) that must fail with a clear error and never crash; plus the CRC-32C paths.
 * Set VECTRO_WRITE_GOLDEN=1 to (re)write the .vqz files of tests/data and the fuzz seed corpus. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/io/vqz_internal.h"
#include "vectro.h"
#include "vtest.h"

#ifndef VEC_TEST_DATA_DIR
#define VEC_TEST_DATA_DIR "tests/data"
#endif
#ifndef VEC_FUZZ_CORPUS_DIR
#define VEC_FUZZ_CORPUS_DIR "tests/fuzz/corpus/vqz"
#endif

/* ---- helpers ---------------------------------------------------------------------------- */

static char *make_tmpdir(void) {
  char tmpl[] = "/tmp/vqz-test-XXXXXX";
  char *d = mkdtemp(tmpl);
  return d ? strdup(d) : NULL;
}

static void join(char *out, size_t cap, const char *dir, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

/* Number of entries in dir other than . and .. */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static void remove_tree(char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      join(p, sizeof p, dir, e->d_name);
      if (remove(p) != 0) rmdir(p);
    }
    closedir(d);
  }
  rmdir(dir);
  free(dir);
}

static unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return b;
}

static int write_all(const char *path, const void *buf, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(buf, 1, size, f) == size;
  return fclose(f) == 0 && ok ? 0 : -1;
}

static void put32le(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64le(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
/* Re-seals the 96-byte header of a 1.x file after a test edits it. */
static void fix_header_crc(unsigned char *p) { put32le(p + 92, vec_crc32c_table(0, p, 92)); }

typedef struct {
  vec_codec_id id;
  unsigned group;
  const char *label;
} codec_case;

static const codec_case all_codecs[] = {
    {VEC_CODEC_INT8, 0, "int8"},         {VEC_CODEC_INT16, 0, "int16"},
    {VEC_CODEC_INT4, 0, "int4"},         {VEC_CODEC_INT4, 32, "int4-g32"},
    {VEC_CODEC_F16, 0, "f16"},           {VEC_CODEC_BF16, 0, "bf16"},
    {VEC_CODEC_BINARY, 0, "binary"},     {VEC_CODEC_UINT8_CAL, 0, "uint8-cal"},
    {VEC_CODEC_INT8_CAL, 0, "int8-cal"},
};

static float *random_rows(size_t n, size_t d, uint64_t seed) {
  float *x = malloc((n ? n : 1) * d * sizeof(float));
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed);
  return x;
}

/* A codec of the case, trained on calibration rows when it needs it. */
static vec_codec *make_codec(const codec_case *cc, size_t d) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(cc->id, d);
  p.group_size = cc->group;
  vec_codec *c;
  if (vec_codec_create(&p, &c) != VEC_OK) return NULL;
  if (vec_codec_needs_training(c)) {
    float *cal = random_rows(64, d, 99);
    int rc = vec_codec_train(c, cal, 64, d);
    free(cal);
    if (rc != VEC_OK) {
      vec_codec_free(c);
      return NULL;
    }
  }
  return c;
}

/* Encoded data of n rows: codes, scales, ids. */
typedef struct {
  size_t n, cs, sc;
  unsigned char *codes;
  float *scales;
  uint64_t *ids;
} encoded;

static int encode_rows(const vec_codec *c, const float *x, size_t n, encoded *e) {
  e->n = n;
  e->cs = vec_codec_code_size(c);
  e->sc = vec_codec_scale_count(c);
  e->codes = malloc(n * e->cs + 1);
  e->scales = malloc((n * e->sc + 1) * sizeof(float));
  e->ids = malloc((n + 1) * sizeof(uint64_t));
  for (size_t i = 0; i < n; i++) e->ids[i] = 0x1234567890ull * (i + 1) ^ (i << 40);
  return vec_codec_encode(c, x, n, vec_codec_get_params(c)->dim, e->codes, e->scales, NULL);
}

static void encoded_free(encoded *e) {
  free(e->codes);
  free(e->scales);
  free(e->ids);
}

/* Reads every row of r and compares with e (ids too when the file has them). */
static int matches(vec_vqz_reader *r, const encoded *e, int with_ids) {
  if (vec_vqz_count(r) != e->n) return 0;
  unsigned char *codes = malloc(e->n * e->cs + 1);
  float *scales = malloc((e->n * e->sc + 1) * sizeof(float));
  uint64_t *ids = malloc((e->n + 1) * sizeof(uint64_t));
  int ok = vec_vqz_read(r, 0, e->n, codes, e->sc ? scales : NULL, with_ids ? ids : NULL) == VEC_OK;
  ok = ok && memcmp(codes, e->codes, e->n * e->cs) == 0;
  ok = ok && (!e->sc || memcmp(scales, e->scales, e->n * e->sc * sizeof(float)) == 0);
  ok = ok && (!with_ids || memcmp(ids, e->ids, e->n * sizeof(uint64_t)) == 0);
  free(codes);
  free(scales);
  free(ids);
  return ok;
}

/* Appends e's rows in uneven chunks (1, 2, 3, 5, 8, ... rows). */
static int append_uneven(vec_vqz_writer *w, const encoded *e, int with_ids) {
  size_t done = 0, step = 1, prev = 1;
  while (done < e->n) {
    size_t take = step < e->n - done ? step : e->n - done;
    int rc =
        vec_vqz_writer_append(w, e->codes + done * e->cs, e->sc ? e->scales + done * e->sc : NULL,
                              with_ids ? e->ids + done : NULL, take);
    if (rc) return rc;
    done += take;
    size_t next = step + prev;
    prev = step, step = next;
  }
  return VEC_OK;
}

/* ---- CRC-32C ---------------------------------------------------------------------------- */

static void crc_check_value_and_paths(void) {
  const char *s = "123456789";
  CHECK(vec_crc32c_table(0, s, 9) == 0xE3069283u);
  uint32_t hw = 0;
  int have_hw = vec_crc32c_hw(&hw, s, 9);
  CHECK(!have_hw || hw == 0xE3069283u);
  printf("    crc32c hardware path: %s\n", have_hw ? "yes" : "no (table only)");
  uint64_t seed = 5;
  enum { MAX = 70001 };
  unsigned char *buf = malloc(MAX + 16);
  for (size_t i = 0; i < MAX + 16; i++) buf[i] = (unsigned char)vt_next(&seed);
  for (int trial = 0; trial < 400; trial++) {
    size_t len = trial < 200 ? (size_t)trial * 2 + 1 : (size_t)(vt_next(&seed) % MAX) | 1;
    size_t off = (size_t)(vt_next(&seed) % 16);
    uint32_t start = trial % 3 ? (uint32_t)vt_next(&seed) : 0;
    uint32_t ref = vec_crc32c_table(start, buf + off, len);
    uint32_t h = start;
    if (vec_crc32c_hw(&h, buf + off, len)) CHECKF(h == ref, "hw len %zu off %zu", len, off);
    CHECKF(vec_crc32c_table(start, buf + off, len) == ref, "len %zu", len);
    /* combine: CRC(A || B) from the parts, at every split */
    size_t cut = len / 3;
    uint32_t a = vec_crc32c_table(0, buf + off, cut),
             b = vec_crc32c_table(0, buf + off + cut, len - cut);
    CHECKF(vec_crc32c_combine(a, b, len - cut) == vec_crc32c_table(0, buf + off, len), "cut %zu",
           cut);
  }
  free(buf);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void round_trip_every_codec(void) {
  const size_t d = 70, ns[] = {0, 1, 300};
  char *dir = make_tmpdir();
  CHECK(dir);
  char path[512];
  join(path, sizeof path, dir, "rt.vqz");
  for (size_t ci = 0; ci < sizeof all_codecs / sizeof all_codecs[0]; ci++) {
    vec_codec *c = make_codec(&all_codecs[ci], d);
    CHECKF(c, "%s", all_codecs[ci].label);
    for (size_t ni = 0; ni < 3; ni++) {
      float *x = random_rows(ns[ni], d, 7 + ni);
      encoded e;
      CHECK(encode_rows(c, x, ns[ni], &e) == VEC_OK);
      for (int variant = 0; variant < 4; variant++) {
        int with_ids = variant & 1;
        const char *meta = variant & 2 ? "{\"model\": \"m\u00e9\", \"source\": \"test\"}" : NULL;
        vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
        o.with_ids = with_ids;
        o.metadata = meta;
        o.block_rows = variant == 3 ? 0 : 7; /* 300 rows: not a multiple of 7 */
        vec_vqz_writer *w;
        CHECK(vec_vqz_writer_open(path, c, &o, &w) == VEC_OK);
        CHECK(append_uneven(w, &e, with_ids) == VEC_OK);
        CHECK(vec_vqz_writer_count(w) == ns[ni]);
        CHECKF(vec_vqz_writer_finish(w) == VEC_OK, "%s", vec_last_error_message());
        CHECK(dir_entries(dir) == 1);
        vec_vqz_reader *r;
        CHECKF(vec_vqz_reader_open(path, &r) == VEC_OK, "%s", vec_last_error_message());
        vec_vqz_info info = {.struct_size = sizeof info};
        CHECK(vec_vqz_get_info(r, &info) == VEC_OK);
        CHECK(info.version_major == 1 && info.version_minor == 0);
        CHECK(info.codec == all_codecs[ci].id && info.dim == d && info.count == ns[ni]);
        CHECK(info.code_size == e.cs && info.scale_count == e.sc && info.has_ids == with_ids);
        CHECK(info.metadata_size == (meta ? strlen(meta) : 0));
        CHECK(strcmp(vec_vqz_metadata(r), meta ? meta : "") == 0);
        CHECK(vec_vqz_has_ids(r) == with_ids);
        CHECK(info.block_rows == (variant == 3 ? ((size_t)1 << 20) / e.cs : 7));
        CHECK(info.blocks == (ns[ni] + info.block_rows - 1) / info.block_rows);
        const vec_codec *rc = vec_vqz_codec(r);
        CHECK(vec_codec_kind(rc) == all_codecs[ci].id &&
              vec_codec_get_params(rc)->group_size == all_codecs[ci].group);
        CHECK(vec_vqz_verify(r) == VEC_OK);
        CHECKF(matches(r, &e, with_ids), "%s n=%zu variant %d", all_codecs[ci].label, ns[ni],
               variant);
        /* The stored codec decodes the stored codes exactly as the original codec does. */
        if (ns[ni]) {
          float *o1 = malloc(ns[ni] * d * sizeof(float)), *o2 = malloc(ns[ni] * d * sizeof(float));
          CHECK(vec_codec_decode(c, e.codes, e.scales, ns[ni], o1, d, NULL) == VEC_OK);
          CHECK(vec_codec_decode(rc, e.codes, e.scales, ns[ni], o2, d, NULL) == VEC_OK);
          int same = memcmp(o1, o2, ns[ni] * d * sizeof(float)) == 0;
          free(o1);
          free(o2);
          CHECK(same);
        }
        vec_vqz_reader_close(r);
      }
      encoded_free(&e);
      free(x);
    }
    vec_codec_free(c);
  }
  remove_tree(dir);
}

/* append_floats gives the very bytes of encode + append, whatever the chunking. */
static void append_floats_equals_encode_append(void) {
  const size_t d = 33, n = 1000;
  char *dir = make_tmpdir();
  CHECK(dir);
  char pa[512], pb[512];
  join(pa, sizeof pa, dir, "a.vqz");
  join(pb, sizeof pb, dir, "b.vqz");
  for (size_t ci = 0; ci < sizeof all_codecs / sizeof all_codecs[0]; ci++) {
    vec_codec *c = make_codec(&all_codecs[ci], d);
    CHECK(c);
    float *x = random_rows(n, d, 21);
    encoded e;
    CHECK(encode_rows(c, x, n, &e) == VEC_OK);
    vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
    o.with_ids = 1;
    o.block_rows = 64;
    o.metadata = "{}";
    vec_vqz_writer *w;
    CHECK(vec_vqz_writer_open(pa, c, &o, &w) == VEC_OK);
    CHECK(append_uneven(w, &e, 1) == VEC_OK);
    CHECK(vec_vqz_writer_finish(w) == VEC_OK);
    CHECK(vec_vqz_writer_open(pb, c, &o, &w) == VEC_OK);
    vec_batch_opts bo = VEC_BATCH_OPTS_INIT;
    bo.threads = 2;
    for (size_t done = 0, step = 13; done < n; done += step, step = step * 3 % 211 + 1) {
      size_t take = step < n - done ? step : n - done;
      CHECK(vec_vqz_writer_append_floats(w, x + done * d, take, d, e.ids + done, &bo) == VEC_OK);
      if (take < step) break;
    }
    CHECK(vec_vqz_writer_count(w) == n);
    CHECK(vec_vqz_writer_finish(w) == VEC_OK);
    size_t sa, sb;
    unsigned char *ba = read_all(pa, &sa), *bb = read_all(pb, &sb);
    int same = ba && bb && sa == sb && memcmp(ba, bb, sa) == 0;
    free(ba);
    free(bb);
    CHECKF(same, "%s", all_codecs[ci].label);
    encoded_free(&e);
    free(x);
    vec_codec_free(c);
  }
  remove_tree(dir);
}

static int count_progress(void *user, size_t done, size_t total) {
  size_t *last = user;
  if (done < last[0] || total != 500) last[1] = 1; /* must grow and report the whole call */
  last[0] = done;
  return 0;
}

static void append_floats_progress_and_default_blocks(void) {
  const size_t d = 64, n = 40000; /* int8: 16384 rows per default block, so three blocks */
  char *dir = make_tmpdir();
  CHECK(dir);
  char path[512];
  join(path, sizeof path, dir, "big.vqz");
  vec_codec *c = make_codec(&all_codecs[0], d);
  float *x = random_rows(n, d, 3);
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(path, c, NULL, &w) == VEC_OK);
  size_t state[2] = {0, 0};
  vec_batch_opts bo = VEC_BATCH_OPTS_INIT;
  bo.progress = count_progress;
  bo.progress_user = state;
  CHECK(vec_vqz_writer_append_floats(w, x, 500, d, NULL, &bo) == VEC_OK);
  CHECK(state[0] == 500 && state[1] == 0);
  CHECK(vec_vqz_writer_append_floats(w, x + 500 * d, n - 500, d, NULL, NULL) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  vec_vqz_info info = {.struct_size = sizeof info};
  CHECK(vec_vqz_get_info(r, &info) == VEC_OK);
  CHECK(info.block_rows == 16384 && info.blocks == 3 && info.count == n);
  encoded e;
  CHECK(encode_rows(c, x, n, &e) == VEC_OK);
  CHECK(vec_vqz_verify(r) == VEC_OK);
  CHECK(matches(r, &e, 0));
  encoded_free(&e);
  vec_vqz_reader_close(r);
  free(x);
  vec_codec_free(c);
  remove_tree(dir);
}

static void random_access_across_blocks(void) {
  const size_t d = 19, n = 1000;
  char *dir = make_tmpdir();
  CHECK(dir);
  char path[512];
  join(path, sizeof path, dir, "ra.vqz");
  const codec_case g4 = {VEC_CODEC_INT4, 4, "int4-g4"}; /* 5 scales a row: tests their offsets */
  vec_codec *c = make_codec(&g4, d);
  float *x = random_rows(n, d, 8);
  encoded e;
  CHECK(encode_rows(c, x, n, &e) == VEC_OK);
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.with_ids = 1;
  o.block_rows = 37;
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(path, c, &o, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, e.codes, e.scales, e.ids, n) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  unsigned char codes[200 * 16];
  float scales[200 * 4];
  uint64_t ids[200];
  uint64_t seed = 4;
  for (int t = 0; t < 500; t++) {
    size_t cnt = (size_t)(vt_next(&seed) % 120);
    uint64_t first = vt_next(&seed) % (n - cnt + 1);
    if (t == 0) first = 36, cnt = 2; /* straddles the first boundary */
    if (t == 1) first = n - 1, cnt = 1;
    memset(codes, 0xAB, sizeof codes);
    CHECK(vec_vqz_read(r, first, cnt, codes, t % 2 ? scales : NULL, t % 3 ? ids : NULL) == VEC_OK);
    CHECK(memcmp(codes, e.codes + first * e.cs, cnt * e.cs) == 0);
    if (t % 2) CHECK(memcmp(scales, e.scales + first * e.sc, cnt * e.sc * 4) == 0);
    if (t % 3) CHECK(memcmp(ids, e.ids + first, cnt * 8) == 0);
  }
  CHECK(vec_vqz_read(r, n, 0, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_vqz_read(r, n - 2, 3, codes, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_vqz_read(r, UINT64_MAX, 2, codes, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_vqz_read(r, 0, 1, NULL, NULL, NULL) == VEC_E_INVALID_ARG);
  vec_vqz_info small = {.struct_size = sizeof small - 1};
  CHECK(vec_vqz_get_info(r, &small) == VEC_E_INVALID_ARG);
  vec_vqz_reader_close(r);
  vec_vqz_reader_close(NULL);
  /* ids asked of a file without them */
  o.with_ids = 0;
  CHECK(vec_vqz_writer_open(path, c, &o, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, e.codes, e.scales, NULL, 3) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  CHECK(vec_vqz_read(r, 0, 1, codes, scales, ids) == VEC_E_INVALID_ARG);
  vec_vqz_reader_close(r);
  encoded_free(&e);
  free(x);
  vec_codec_free(c);
  remove_tree(dir);
}

/* ---- golden files ----------------------------------------------------------------------- */

/* The golden files' contents, defined without any encoder so that they pin the container only. */
#define G1_D    5
#define G1_N    10
#define G1_META "{\"model\": \"golden\", \"source\": \"vectro tests\"}"
static void g1_data(int8_t *codes, float *scales, uint64_t *ids) {
  for (int i = 0; i < G1_N; i++) {
    for (int j = 0; j < G1_D; j++) codes[i * G1_D + j] = (int8_t)(i * 13 + j * 29 - 60);
    scales[i] = 0.5f + 0.25f * (float)i;
    ids[i] = 1000 + 7 * (uint64_t)i + ((uint64_t)i << 56);
  }
}
#define G2_D 3
#define G2_N 5

static int write_golden_int8(const char *path) {
  int8_t codes[G1_N * G1_D];
  float scales[G1_N];
  uint64_t ids[G1_N];
  g1_data(codes, scales, ids);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, G1_D);
  vec_codec *c;
  if (vec_codec_create(&p, &c)) return -1;
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.metadata = G1_META;
  o.with_ids = 1;
  o.block_rows = 4; /* blocks of 4, 4 and 2 rows */
  vec_vqz_writer *w;
  int rc = vec_vqz_writer_open(path, c, &o, &w);
  if (!rc) rc = vec_vqz_writer_append(w, codes, scales, ids, 3);
  if (!rc) rc = vec_vqz_writer_append(w, codes + 3 * G1_D, scales + 3, ids + 3, G1_N - 3);
  if (!rc) rc = vec_vqz_writer_finish(w);
  vec_codec_free(c);
  return rc;
}

static int write_golden_uint8cal(const char *path) {
  const float lo[G2_D] = {-1.0f, 0.0f, 2.0f}, hi[G2_D] = {1.0f, 4.0f, 2.5f};
  uint8_t codes[G2_N * G2_D];
  for (int i = 0; i < G2_N * G2_D; i++) codes[i] = (uint8_t)(i * 17);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_UINT8_CAL, G2_D);
  vec_codec *c;
  if (vec_codec_create(&p, &c) || vec_codec_set_ranges(c, lo, hi)) return -1;
  vec_vqz_writer *w;
  int rc = vec_vqz_writer_open(path, c, NULL, &w);
  if (!rc) rc = vec_vqz_writer_append(w, codes, NULL, NULL, G2_N);
  if (!rc) rc = vec_vqz_writer_finish(w);
  vec_codec_free(c);
  return rc;
}

static int write_golden_empty(const char *path) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_F16, 4);
  vec_codec *c;
  if (vec_codec_create(&p, &c)) return -1;
  vec_vqz_writer *w;
  int rc = vec_vqz_writer_open(path, c, NULL, &w);
  if (!rc) rc = vec_vqz_writer_finish(w);
  vec_codec_free(c);
  return rc;
}

/* More seeds for the fuzzer: other codecs, valid and damaged. */
static int write_seed_int4(const char *path) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT4, 40);
  p.group_size = 16;
  vec_codec *c;
  if (vec_codec_create(&p, &c)) return -1;
  float *x = random_rows(9, 40, 1);
  uint64_t ids[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1};
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.with_ids = 1;
  o.block_rows = 2;
  o.metadata = "{\"seed\": true}";
  vec_vqz_writer *w;
  int rc = vec_vqz_writer_open(path, c, &o, &w);
  if (!rc) rc = vec_vqz_writer_append_floats(w, x, 9, 40, ids, NULL);
  if (!rc) rc = vec_vqz_writer_finish(w);
  free(x);
  vec_codec_free(c);
  return rc;
}

static void save_variant(const char *name, const unsigned char *b, size_t n) {
  char p[512];
  join(p, sizeof p, VEC_FUZZ_CORPUS_DIR, name);
  if (write_all(p, b, n)) fprintf(stderr, "cannot write %s\n", p);
}

static int write_golden_files(void) {
  char p[512];
  int rc = 0;
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_int8_ids.vqz");
  rc |= write_golden_int8(p);
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_uint8cal.vqz");
  rc |= write_golden_uint8cal(p);
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_empty_f16.vqz");
  rc |= write_golden_empty(p);
  const char *names[] = {"golden_int8_ids.vqz", "golden_uint8cal.vqz", "golden_empty_f16.vqz"};
  for (int i = 0; i < 3; i++) {
    size_t n;
    join(p, sizeof p, VEC_TEST_DATA_DIR, names[i]);
    unsigned char *b = read_all(p, &n);
    if (!b) return -1;
    save_variant(names[i], b, n);
    if (i == 0) { /* damaged seeds from the first */
      save_variant("truncated_mid.vqz", b, n / 2);
      unsigned char *d = malloc(n);
      memcpy(d, b, n);
      d[300] ^= 0x40; /* inside the data blocks */
      save_variant("flipped_block.vqz", d, n);
      memcpy(d, b, n);
      put64le(d + 32, 1000000); /* more rows than the file holds, header re-sealed */
      fix_header_crc(d);
      save_variant("count_too_large.vqz", d, n);
      memcpy(d, b, n);
      d[8] = 2; /* a newer major version, re-sealed */
      fix_header_crc(d);
      save_variant("newer_major.vqz", d, n);
      memcpy(d, b, n);
      put64le(d + 32, 0); /* what an unfinished temporary looks like */
      put64le(d + 80, 0);
      fix_header_crc(d);
      save_variant("incomplete.vqz", d, n);
      free(d);
    }
    free(b);
  }
  join(p, sizeof p, VEC_FUZZ_CORPUS_DIR, "seed_int4_g16_ids.vqz");
  rc |= write_seed_int4(p);
  return rc;
}

static void golden_files(void) {
  if (getenv("VECTRO_WRITE_GOLDEN")) CHECK(write_golden_files() == 0);
  char p[512];
  /* golden_int8_ids: int8, d = 5, 10 rows in blocks of 4, ids, metadata */
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_int8_ids.vqz");
  size_t size;
  unsigned char *b = read_all(p, &size);
  CHECKF(b, "cannot read %s", p);
  static const unsigned char magic[8] = {0x89, 'V', 'Q', 'Z', '\r', '\n', 0x1a, '\n'};
  CHECK(size > 96 && memcmp(b, magic, 8) == 0 && b[8] == 1 && b[9] == 0 && b[10] == 0);
  vec_vqz_reader *r;
  CHECKF(vec_vqz_reader_open(p, &r) == VEC_OK, "%s", vec_last_error_message());
  vec_vqz_info info = {.struct_size = sizeof info};
  CHECK(vec_vqz_get_info(r, &info) == VEC_OK);
  CHECK(info.codec == VEC_CODEC_INT8 && info.dim == G1_D && info.count == G1_N);
  CHECK(info.block_rows == 4 && info.blocks == 3 && info.has_ids && info.file_size == size);
  CHECK(strcmp(vec_vqz_metadata(r), G1_META) == 0);
  CHECK(vec_vqz_verify(r) == VEC_OK);
  int8_t codes[G1_N * G1_D], got[G1_N * G1_D];
  float scales[G1_N], gs[G1_N];
  uint64_t ids[G1_N], gi[G1_N];
  g1_data(codes, scales, ids);
  CHECK(vec_vqz_read(r, 0, G1_N, got, gs, gi) == VEC_OK);
  CHECK(memcmp(got, codes, sizeof codes) == 0 && memcmp(gs, scales, sizeof gs) == 0 &&
        memcmp(gi, ids, sizeof gi) == 0);
  vec_vqz_reader_close(r);
  /* Row 9 sits where docs/format.md says: block 2 at data_offset + 2 * stride. */
  uint64_t data_off = 0, stride = 0;
  for (int i = 7; i >= 0; i--)
    data_off = data_off << 8 | b[64 + i], stride = stride << 8 | b[72 + i];
  CHECK(memcmp(b + data_off + 2 * stride + 1 * G1_D, codes + 9 * G1_D, G1_D) == 0);
  /* And today's writer produces the very same bytes. */
  char *dir = make_tmpdir();
  char q[512];
  join(q, sizeof q, dir, "again.vqz");
  CHECK(write_golden_int8(q) == 0);
  size_t s2;
  unsigned char *b2 = read_all(q, &s2);
  int same = b2 && s2 == size && memcmp(b, b2, size) == 0;
  free(b2);
  free(b);
  CHECK(same);

  /* golden_uint8cal: the calibrated codec's ranges travel in the file */
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_uint8cal.vqz");
  CHECK(vec_vqz_reader_open(p, &r) == VEC_OK);
  float lo[G2_D], hi[G2_D];
  CHECK(vec_codec_get_ranges(vec_vqz_codec(r), lo, hi) == VEC_OK);
  CHECK(lo[0] == -1.0f && hi[1] == 4.0f && lo[2] == 2.0f && hi[2] == 2.5f);
  uint8_t c2[G2_N * G2_D];
  CHECK(vec_vqz_read(r, 0, G2_N, c2, NULL, NULL) == VEC_OK);
  for (int i = 0; i < G2_N * G2_D; i++) CHECK(c2[i] == (uint8_t)(i * 17));
  CHECK(vec_vqz_metadata(r)[0] == '\0' && !vec_vqz_has_ids(r));
  vec_vqz_reader_close(r);
  b = read_all(p, &size);
  CHECK(write_golden_uint8cal(q) == 0);
  b2 = read_all(q, &s2);
  same = b && b2 && s2 == size && memcmp(b, b2, size) == 0;
  free(b);
  free(b2);
  CHECK(same);

  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_empty_f16.vqz");
  CHECK(vec_vqz_reader_open(p, &r) == VEC_OK);
  CHECK(vec_vqz_count(r) == 0 && vec_vqz_verify(r) == VEC_OK);
  vec_vqz_reader_close(r);
  b = read_all(p, &size);
  CHECK(write_golden_empty(q) == 0);
  b2 = read_all(q, &s2);
  same = b && b2 && s2 == size && memcmp(b, b2, size) == 0;
  free(b);
  free(b2);
  CHECK(same);
  remove_tree(dir);
}

/* ---- damaged input ---------------------------------------------------------------------- */

static unsigned char *golden_bytes(size_t *size) {
  char p[512];
  join(p, sizeof p, VEC_TEST_DATA_DIR, "golden_int8_ids.vqz");
  return read_all(p, size);
}

/* Opens bytes as a file (the real path: open + mmap). */
static int open_bytes(const char *dir, const unsigned char *b, size_t n, vec_vqz_reader **r) {
  char p[512];
  join(p, sizeof p, dir, "damaged.vqz");
  if (write_all(p, b, n)) return 99;
  return vec_vqz_reader_open(p, r);
}

static void truncated_at_every_length(void) {
  size_t size;
  unsigned char *b = golden_bytes(&size);
  CHECK(b);
  char *dir = make_tmpdir();
  for (size_t len = 0; len < size; len++) {
    vec_vqz_reader *r = (vec_vqz_reader *)1;
    int rc = open_bytes(dir, b, len, &r);
    CHECKF(rc == VEC_E_FORMAT && r == NULL, "length %zu: rc %d", len, rc);
    CHECK(strlen(vec_last_error_message()) > 10);
    CHECK(vec_vqz_reader_open_memory(b, len, "mem", &r) == VEC_E_FORMAT);
  }
  vec_vqz_reader *r;
  CHECK(open_bytes(dir, b, size, &r) == VEC_OK);
  vec_vqz_reader_close(r);
  free(b);
  remove_tree(dir);
}

static void flipped_byte_at_every_offset(void) {
  size_t size;
  unsigned char *b = golden_bytes(&size);
  CHECK(b);
  char *dir = make_tmpdir();
  int8_t codes[G1_N * G1_D], got[G1_N * G1_D];
  float scales[G1_N], gs[G1_N];
  uint64_t ids[G1_N], gi[G1_N];
  g1_data(codes, scales, ids);
  const unsigned char masks[] = {0x01, 0x80, 0xff};
  int open_failed = 0, read_failed = 0, verify_failed = 0;
  for (size_t off = 0; off < size; off++) {
    for (size_t m = 0; m < sizeof masks; m++) {
      b[off] ^= masks[m];
      vec_vqz_reader *r = NULL;
      int rc = open_bytes(dir, b, size, &r);
      if (rc != VEC_OK) {
        CHECKF(rc == VEC_E_FORMAT, "offset %zu mask %x: rc %d (%s)", off, masks[m], rc,
               vec_last_error_message());
        open_failed++;
      } else {
        /* Reading first: the data must be right or the read must fail. */
        rc = vec_vqz_read(r, 0, G1_N, got, gs, gi);
        if (rc == VEC_OK) {
          CHECKF(memcmp(got, codes, sizeof got) == 0 && memcmp(gs, scales, sizeof gs) == 0 &&
                     memcmp(gi, ids, sizeof gi) == 0 && strcmp(vec_vqz_metadata(r), G1_META) == 0,
                 "offset %zu: wrong data read without an error", off);
        } else {
          CHECKF(rc == VEC_E_FORMAT, "offset %zu: read rc %d", off, rc);
          CHECK(strstr(vec_last_error_message(), "block") != NULL);
          read_failed++;
        }
        rc = vec_vqz_verify(r);
        CHECKF(rc == VEC_E_FORMAT, "offset %zu mask %x: verify rc %d", off, masks[m], rc);
        verify_failed++;
        vec_vqz_reader_close(r);
      }
      b[off] ^= masks[m];
    }
  }
  CHECK(open_failed > 0 && read_failed > 0 && verify_failed > 0);
  printf("    %zu bytes x 3 flips: %d refused at open, %d at read, %d more only by verify\n", size,
         open_failed, read_failed, verify_failed - read_failed);
  free(b);
  remove_tree(dir);
}

static void bad_magic_versions_and_headers(void) {
  size_t size;
  unsigned char *b = golden_bytes(&size);
  CHECK(b);
  unsigned char *d = malloc(size + 1);
  vec_vqz_reader *r;
  /* wrong magic */
  memcpy(d, b, size);
  d[1] = 'X';
  CHECK(vec_vqz_reader_open_memory(d, size, "x", &r) == VEC_E_FORMAT);
  CHECK(strstr(vec_last_error_message(), "not a .vqz") != NULL);
  CHECK(vec_vqz_reader_open_memory("PK\3\4 zip file", 14, "x", &r) == VEC_E_FORMAT);
  /* CR LF -> LF, as a text-mode transfer does */
  memcpy(d, b, 4);
  memcpy(d + 4, b + 5, size - 5);
  CHECK(vec_vqz_reader_open_memory(d, size - 1, "x", &r) == VEC_E_FORMAT);
  CHECK(strstr(vec_last_error_message(), "text-mode") != NULL);
  /* a newer major version (the header re-sealed, so only the version is at stake) */
  memcpy(d, b, size);
  d[8] = 2;
  d[10] = 3;
  CHECK(vec_vqz_reader_open_memory(d, size, "new.vqz", &r) == VEC_E_FORMAT); /* unsealed */
  fix_header_crc(d);
  CHECK(vec_vqz_reader_open_memory(d, size, "new.vqz", &r) == VEC_E_VERSION);
  CHECK(strstr(vec_last_error_message(), "2.3") != NULL);
  CHECK(strstr(vec_last_error_message(), "upgrade") != NULL);
  /* a newer minor version is compatible */
  memcpy(d, b, size);
  d[10] = 9;
  fix_header_crc(d);
  CHECK(vec_vqz_reader_open_memory(d, size, "x", &r) == VEC_OK);
  vec_vqz_info info = {.struct_size = sizeof info};
  CHECK(vec_vqz_get_info(r, &info) == VEC_OK && info.version_minor == 9);
  /* A header followed by its own CRC leaves the CRC register in a fixed state whatever the header
   * holds, so the whole-file CRC, which runs on from there, accepts a re-sealed header. */
  CHECK(vec_vqz_verify(r) == VEC_OK);
  vec_vqz_reader_close(r);
  /* a header promising more rows than the file holds */
  const uint64_t counts[] = {G1_N + 1, G1_N + 4, (uint64_t)1 << 40, UINT64_MAX};
  for (int i = 0; i < 4; i++) {
    memcpy(d, b, size);
    put64le(d + 32, counts[i]);
    fix_header_crc(d);
    CHECK(vec_vqz_reader_open_memory(d, size, "x", &r) == VEC_E_FORMAT);
  }
  CHECK(strstr(vec_last_error_message(), "promises") != NULL);
  /* absurd dimensions and sizes */
  const struct {
    int off, width;
    uint64_t v;
  } edits[] = {{24, 8, 0},          {24, 8, (uint64_t)1 << 40},
               {24, 8, 6},          {40, 4, 0xffffffff},
               {44, 4, 1000},       {48, 4, 0},
               {48, 4, 0xffffffff}, {52, 4, 0xfffffff0},
               {56, 4, 0xffffffff}, {64, 8, UINT64_MAX},
               {72, 8, 8},          {72, 8, UINT64_MAX / 2},
               {80, 8, UINT64_MAX}, {80, 8, 0},
               {12, 4, 0xfffffff0}, {20, 4, 2}};
  for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
    memcpy(d, b, size);
    if (edits[i].width == 8)
      put64le(d + edits[i].off, edits[i].v);
    else
      put32le(d + edits[i].off, (uint32_t)edits[i].v);
    fix_header_crc(d);
    int rc = vec_vqz_reader_open_memory(d, size, "x", &r);
    CHECKF(rc == VEC_E_FORMAT, "edit %zu: rc %d", i, rc);
  }
  /* an unfinished file: count 0 and no footer offset */
  memcpy(d, b, size);
  put64le(d + 32, 0);
  put64le(d + 80, 0);
  fix_header_crc(d);
  CHECK(vec_vqz_reader_open_memory(d, size, "x", &r) == VEC_E_FORMAT);
  CHECK(strstr(vec_last_error_message(), "incomplete") != NULL);
  free(d);
  free(b);
}

/* ---- writer failures -------------------------------------------------------------------- */

static void io_errors_name_the_path(void) {
  vec_codec *c = make_codec(&all_codecs[0], 8);
  vec_vqz_writer *w = (vec_vqz_writer *)1;
  const char *missing = "/tmp/vectro-no-such-dir-8471/sub/out.vqz";
  CHECK(vec_vqz_writer_open(missing, c, NULL, &w) == VEC_E_IO && w == NULL);
  CHECK(strstr(vec_last_error_message(), missing) != NULL);
  /* /proc refuses new files even to root, where chmod would not stop a write */
  CHECK(vec_vqz_writer_open("/proc/vectro-test.vqz", c, NULL, &w) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), "/proc/vectro-test.vqz") != NULL);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(missing, &r) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), missing) != NULL);
  CHECK(vec_vqz_reader_open("/tmp", &r) == VEC_E_IO);
  vec_codec_free(c);
}

static void writer_rejects_bad_arguments(void) {
  vec_codec *c = make_codec(&all_codecs[0], 8);
  char *dir = make_tmpdir();
  char p[512];
  join(p, sizeof p, dir, "x.vqz");
  vec_vqz_writer *w;
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.struct_size = 4;
  CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_E_INVALID_ARG);
  o.struct_size = sizeof o;
  o.block_rows = (size_t)1 << 40;
  CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_E_INVALID_ARG);
  CHECK(vec_vqz_writer_open(NULL, c, NULL, &w) == VEC_E_INVALID_ARG);
  vec_codec_params cp = VEC_CODEC_PARAMS_INIT(VEC_CODEC_UINT8_CAL, 8);
  vec_codec *untrained;
  CHECK(vec_codec_create(&cp, &untrained) == VEC_OK);
  CHECK(vec_vqz_writer_open(p, untrained, NULL, &w) == VEC_E_NOT_TRAINED);
  vec_codec_free(untrained);
  CHECK(dir_entries(dir) == 0);
  /* errors in append poison the writer */
  int8_t codes[16] = {0};
  float scales[2] = {1.0f, -1.0f};
  uint64_t ids[2] = {1, 2};
  o.block_rows = 0;
  o.with_ids = 1;
  CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, codes, scales, ids, 2) == VEC_E_INVALID_ARG); /* scale < 0 */
  CHECK(vec_last_error_row() == 1);
  scales[1] = 1.0f;
  CHECK(vec_vqz_writer_append(w, codes, scales, ids, 2) == VEC_E_INVALID_ARG); /* poisoned */
  CHECK(vec_vqz_writer_finish(w) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "scale") != NULL);
  CHECK(dir_entries(dir) == 0);
  CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, codes, scales, NULL, 2) == VEC_E_INVALID_ARG); /* ids missing */
  CHECK(vec_vqz_writer_finish(w) == VEC_E_INVALID_ARG);
  o.with_ids = 0;
  CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, codes, scales, ids, 2) == VEC_E_INVALID_ARG); /* ids unwanted */
  vec_vqz_writer_abort(w);
  vec_vqz_writer_abort(NULL);
  CHECK(vec_vqz_writer_finish(NULL) == VEC_E_INVALID_ARG);
  CHECK(dir_entries(dir) == 0);
  vec_codec_free(c);
  remove_tree(dir);
}

/* A failed or abandoned write leaves the file already at path byte-identical, and no temporary. */
static void failed_write_keeps_existing_file(void) {
  const size_t d = 16, n = 100;
  size_t gsize;
  unsigned char *golden = golden_bytes(&gsize);
  CHECK(golden);
  char *dir = make_tmpdir();
  char p[512];
  join(p, sizeof p, dir, "keep.vqz");
  vec_codec *c = make_codec(&all_codecs[0], d);
  float *x = random_rows(n, d, 2);
  x[77 * d + 3] = NAN;
  for (int mode = 0; mode < 3; mode++) {
    CHECK(write_all(p, golden, gsize) == 0);
    vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
    o.block_rows = 8;
    vec_vqz_writer *w;
    CHECK(vec_vqz_writer_open(p, c, &o, &w) == VEC_OK);
    CHECK(dir_entries(dir) == 2); /* the target and the temporary beside it */
    CHECK(vec_vqz_writer_append_floats(w, x, 50, d, NULL, NULL) == VEC_OK);
    if (mode == 0) { /* NaN at row 77 of the file, row 27 of the second call */
      CHECK(vec_vqz_writer_append_floats(w, x + 50 * d, 50, d, NULL, NULL) == VEC_E_NONFINITE);
      CHECK(vec_last_error_row() == 77);
      CHECK(strstr(vec_last_error_message(), "77") != NULL);
      CHECK(vec_vqz_writer_append_floats(w, x, 1, d, NULL, NULL) == VEC_E_INVALID_ARG);
      CHECK(vec_vqz_writer_finish(w) == VEC_E_INVALID_ARG);
      CHECK(strstr(vec_last_error_message(), p) != NULL);
    } else if (mode == 1) {
      vec_vqz_writer_abort(w);
    } else { /* the rename fails: path is now a directory */
      CHECK(remove(p) == 0 && mkdir(p, 0755) == 0);
      CHECK(vec_vqz_writer_finish(w) == VEC_E_IO);
      CHECK(strstr(vec_last_error_message(), p) != NULL);
      CHECK(dir_entries(dir) == 1 && rmdir(p) == 0);
      continue;
    }
    CHECK(dir_entries(dir) == 1);
    size_t s2;
    unsigned char *now = read_all(p, &s2);
    int same = now && s2 == gsize && memcmp(now, golden, gsize) == 0;
    free(now);
    CHECK(same);
  }
  /* A temporary caught before finish is recognisably unfinished. */
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(p, c, NULL, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append_floats(w, x, 20, d, NULL, NULL) == VEC_OK);
  DIR *dd = opendir(dir);
  char tmp[600] = "";
  for (struct dirent *e; dd && (e = readdir(dd));)
    if (strstr(e->d_name, ".tmp")) join(tmp, sizeof tmp, dir, e->d_name);
  if (dd) closedir(dd);
  CHECK(tmp[0]);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(tmp, &r) == VEC_E_FORMAT);
  vec_vqz_writer_abort(w);
  CHECK(dir_entries(dir) == 0);
  free(x);
  free(golden);
  vec_codec_free(c);
  remove_tree(dir);
}

const vt_test vqz_tests[] = {
    {"crc_check_value_and_paths", crc_check_value_and_paths},
    {"round_trip_every_codec", round_trip_every_codec},
    {"append_floats_equals_encode_append", append_floats_equals_encode_append},
    {"append_floats_progress_and_default_blocks", append_floats_progress_and_default_blocks},
    {"random_access_across_blocks", random_access_across_blocks},
    {"golden_files", golden_files},
    {"truncated_at_every_length", truncated_at_every_length},
    {"flipped_byte_at_every_offset", flipped_byte_at_every_offset},
    {"bad_magic_versions_and_headers", bad_magic_versions_and_headers},
    {"io_errors_name_the_path", io_errors_name_the_path},
    {"writer_rejects_bad_arguments", writer_rejects_bad_arguments},
    {"failed_write_keeps_existing_file", failed_write_keeps_existing_file},
};
const size_t vqz_count = sizeof vqz_tests / sizeof vqz_tests[0];
