/* test_hostile.c: inputs an adversary controls that pass every checksum: a file truncated under an
 * open reader, codes that decode to Inf/NaN, headers that ask for gigabytes, very wide rows. Each
 * must give a clear error (or the right answer), never a crash, a huge allocation or NaN output. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/codecs/codec_impl.h"
#include "vectro.h"
#include "vtest.h"

static char *tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "/tmp/vectro-hostile-%ld-%s", (long)getpid(), name);
  return buf;
}

/* Writes n rows of codec c (made from x) to path with blocks of block_rows. */
static int write_rows(const char *path, const vec_codec *c, const float *x, size_t n,
                      size_t block_rows) {
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.block_rows = block_rows;
  vec_vqz_writer *w;
  int rc = vec_vqz_writer_open(path, c, &o, &w);
  if (rc) return rc;
  if ((rc = vec_vqz_writer_append_floats(w, x, n, vec_codec_get_params(c)->dim, NULL, NULL))) {
    vec_vqz_writer_abort(w);
    return rc;
  }
  return vec_vqz_writer_finish(w);
}

/* The reader reads with pread: a file truncated in place while open gives VEC_E_IO naming the
 * change (it used to be memory-mapped, and the read faulted with SIGBUS). */
static void truncated_under_open_reader(void) {
  char path[256];
  tmp_path(path, sizeof path, "trunc.vqz");
  size_t n = 1000, d = 32;
  float *x = malloc(n * d * sizeof(float));
  uint64_t seed = 1;
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(write_rows(path, c, x, n, 100) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  unsigned char codes[10 * 32];
  float scales[10];
  CHECK(vec_vqz_read(r, 0, 10, codes, scales, NULL) == VEC_OK); /* block 0 verified */
  CHECK(truncate(path, 1024) == 0);                             /* inside block 0 */
  CHECK(vec_vqz_read(r, 0, 10, codes, scales, NULL) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), "changed while open") != NULL);
  CHECK(vec_vqz_read(r, 900, 10, codes, scales, NULL) == VEC_E_IO);
  CHECK(vec_vqz_verify(r) == VEC_E_IO);
  vec_vqz_reader_close(r);
  unlink(path);
  vec_codec_free(c);
  free(x);
}

/* Codes and scales that pass the writer's checks and every CRC but decode to Inf or NaN: the
 * decoder says which row, and the reader refuses the block on first read and in verify. */
static void nonfinite_codes_refused(void) {
  char path[256];
  tmp_path(path, sizeof path, "nan.vqz");
  size_t d = 16, n = 5;
  /* f16: code 0x7C00 is +Inf, 0x7E00 NaN; bf16: 0x7F80 is +Inf. */
  for (int k = 0; k < 3; k++) {
    vec_codec_id id = k == 2 ? VEC_CODEC_BF16 : VEC_CODEC_F16;
    vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
    vec_codec *c;
    CHECK(vec_codec_create(&p, &c) == VEC_OK);
    uint16_t codes[5 * 16] = {0};
    codes[3 * d + 7] = k == 0 ? 0x7C00 : k == 1 ? 0x7E00 : 0x7F80;
    float out[5 * 16];
    CHECK(vec_codec_decode(c, codes, NULL, n, out, d, NULL) == VEC_E_NONFINITE);
    CHECK(vec_last_error_row() == 3);
    vec_vqz_writer *w;
    CHECK(vec_vqz_writer_open(path, c, NULL, &w) == VEC_OK);
    CHECK(vec_vqz_writer_append(w, codes, NULL, NULL, n) == VEC_OK);
    CHECK(vec_vqz_writer_finish(w) == VEC_OK);
    vec_vqz_reader *r;
    CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
    uint16_t back[5 * 16];
    CHECK(vec_vqz_read(r, 0, n, back, NULL, NULL) == VEC_E_FORMAT);
    CHECK(strstr(vec_last_error_message(), "row 3 decodes to NaN or Inf") != NULL);
    CHECK(vec_vqz_verify(r) == VEC_E_FORMAT);
    vec_vqz_reader_close(r);
    vec_codec_free(c);
  }
  /* int8: a finite scale of 3e38 times a code of 127 is Inf. */
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  int8_t codes[5 * 16];
  float scales[5] = {1, 1, 1e-3f, 3e38f, 1};
  for (size_t i = 0; i < n * d; i++) codes[i] = 127;
  float out[5 * 16];
  CHECK(vec_codec_decode(c, codes, scales, n, out, d, NULL) == VEC_E_NONFINITE);
  CHECK(vec_last_error_row() == 3);
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(path, c, NULL, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append(w, codes, scales, NULL, n) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  CHECK(vec_vqz_verify(r) == VEC_E_FORMAT);
  CHECK(strstr(vec_last_error_message(), "row 3 decodes to NaN or Inf") != NULL);
  vec_vqz_reader_close(r);
  vec_codec_free(c);
  unlink(path);
}

/* A serialized codec whose header names d = 2^26 (76 bytes for rabitq, which builds its rotation
 * from the seed) is refused before anything is allocated; what a real codec needs still loads. */
static void header_cannot_ask_for_gigabytes(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_RABITQ, 64);
  p.bits = 1;
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  size_t size = vec_codec_serialized_size(c);
  unsigned char buf[512];
  CHECK(size <= sizeof buf);
  CHECK(vec_codec_serialize(c, buf, size) == VEC_OK);
  vec_codec_free(c);
  static const uint64_t dims[] = {(uint64_t)1 << 26, (uint64_t)1 << 28, (uint64_t)1 << 16};
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < 8; i++) buf[12 + i] = (unsigned char)(dims[k] >> (8 * i));
    uint32_t crc = vec_crc32c(0, buf, size - 4);
    for (int i = 0; i < 4; i++) buf[size - 4 + i] = (unsigned char)(crc >> (8 * i));
    vec_codec *back = NULL;
    int rc = vec_codec_deserialize(buf, size, &back);
    if (k < 2) {
      CHECKF(rc == VEC_E_FORMAT, "d = %llu gave %d", (unsigned long long)dims[k], rc);
      CHECK(strstr(vec_last_error_message(), "more than a header may make a reader allocate"));
    } else {
      CHECK(rc == VEC_OK && vec_codec_get_params(back)->dim == dims[k]); /* 65536: fine */
    }
    vec_codec_free(back);
  }
}

/* A valid file of 2 rows of d = 2^20 reads, decodes and verifies (chunks were 65536 rows x d). */
static void wide_rows_read_and_verify(void) {
  char path[256];
  tmp_path(path, sizeof path, "wide.vqz");
  size_t n = 2, d = (size_t)1 << 20;
  float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
  unsigned char *codes = malloc(n * d);
  CHECK(x && y && codes);
  uint64_t seed = 2;
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(write_rows(path, c, x, n, 0) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  CHECK(vec_vqz_verify(r) == VEC_OK);
  float scales[2];
  CHECK(vec_vqz_read(r, 0, n, codes, scales, NULL) == VEC_OK);
  CHECK(vec_codec_decode(vec_vqz_codec(r), codes, scales, n, y, d, NULL) == VEC_OK);
  float err = 0;
  for (size_t i = 0; i < n * d; i++) err = fmaxf(err, fabsf(x[i] - y[i]));
  CHECK(err < 0.05f);
  vec_vqz_reader_close(r);
  vec_codec_free(c);
  unlink(path);
  free(x), free(y), free(codes);
}

/* Long calls without threads of their own stop when their progress callback asks (Python's
 * Ctrl-C): verification between blocks and while checking the whole file, quality measurement
 * every 2^20 values. The calls seen are counted, and an uncancelled run reaches done == total. */
typedef struct {
  size_t calls, stop_at, last_done, last_total;
} stopper;

static int stop_after(void *user, size_t done, size_t total) {
  stopper *s = user;
  s->calls++;
  s->last_done = done;
  s->last_total = total;
  return s->stop_at && s->calls >= s->stop_at;
}

static void long_calls_can_be_cancelled(void) {
  char path[256];
  tmp_path(path, sizeof path, "cancel.vqz");
  size_t n = 3000, d = 512;
  float *x = malloc(n * d * sizeof(float)), *y = malloc(n * d * sizeof(float));
  CHECK(x && y);
  uint64_t seed = 3;
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed), y[i] = x[i] + 0.01f;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(write_rows(path, c, x, n, 100) == VEC_OK);
  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  stopper s = {0, 0, 0, 0};
  o.progress = stop_after;
  o.progress_user = &s;
  CHECK(vec_vqz_verify_opts(r, &o) == VEC_OK);
  CHECK(s.calls > 30 && s.last_done == s.last_total); /* 30 blocks, then the file by MiB */
  s = (stopper){0, 5, 0, 0};
  CHECK(vec_vqz_verify_opts(r, &o) == VEC_E_CANCELLED && s.calls == 5);
  vec_vqz_reader_close(r);
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  s = (stopper){0, 1, 0, 0};
  CHECK(vec_vqz_verify_opts(r, &o) == VEC_E_CANCELLED && s.calls == 1 &&
        s.last_done < s.last_total);
  vec_vqz_reader_close(r);
  vec_quality q = {sizeof q, 0, 0, 0, 0, 0, 0, 0};
  s = (stopper){0, 0, 0, 0};
  CHECK(vec_quality_measure_opts(x, d, y, d, n, d, &q, &o) == VEC_OK && s.calls >= 1);
  s = (stopper){0, 1, 0, 0};
  CHECK(vec_quality_measure_opts(x, d, y, d, n, d, &q, &o) == VEC_E_CANCELLED && s.calls == 1);
  unlink(path);
  vec_codec_free(c);
  free(x);
  free(y);
}

const vt_test hostile_tests[] = {
    {"truncated_under_open_reader", truncated_under_open_reader},
    {"nonfinite_codes_refused", nonfinite_codes_refused},
    {"header_cannot_ask_for_gigabytes", header_cannot_ask_for_gigabytes},
    {"wide_rows_read_and_verify", wide_rows_read_and_verify},
    {"long_calls_can_be_cancelled", long_calls_can_be_cancelled},
};
const size_t hostile_count = sizeof hostile_tests / sizeof hostile_tests[0];
