/* compress.c: the one compress-a-file pipeline (embeddings file -> .vqz): chunks sized in bytes,
 * training on the leading rows, encode straight into the atomic writer, progress and cancel. The
 * CLI's `vectro compress` and Python's compress_file both call it. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>

#include "../common/platform.h"
#include "../common/internal.h"

#define CHUNK_ROWS_MAX    65536
#define CHUNK_BYTES       ((size_t)64 << 20)
#define CALIBRATION_ROWS  100000
#define CALIBRATION_BYTES ((size_t)256 << 20)

/* Progress of a sub-step reported as rows of the whole file: training reports `base` (nothing
 * written yet, but Ctrl-C and cancel still reach the caller), encoding base + its rows done. */
typedef struct {
  const vec_batch_opts *user;
  size_t base, total;
  int scale; /* 0: report base only (training), 1: base + done (encoding) */
} step_progress;

static int step_cb(void *u, size_t done, size_t total) {
  step_progress *s = u;
  (void)total;
  return s->user->progress(s->user->progress_user, s->base + (s->scale ? done : 0), s->total);
}

int vec_compress_file(const char *input, const char *output, vec_codec *codec,
                      const vec_compress_opts *opts, uint64_t *rows_out) {
  vec_clear_error();
  if (!input || !output || !codec)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_compress_file: NULL argument");
  vec_compress_opts o = VEC_COMPRESS_OPTS_INIT;
  if (opts) {
    if (opts->struct_size != sizeof o)
      return vec_fail(VEC_E_INVALID_ARG, -1, "vec_compress_opts.struct_size is %zu, expected %zu",
                      opts->struct_size, sizeof o);
    o = *opts;
  }
  if (rows_out) *rows_out = 0;
  /* Writing the codes over the input would replace the embeddings with a lossy copy. */
  if (vec_os_same_file(input, output))
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "the output '%s' is the input file: choose another output path", output);
  vec_reader *r = NULL;
  vec_vqz_writer *w = NULL;
  float *buf = NULL;
  int rc = vec_reader_open(input, &r);
  if (rc) return rc;
  size_t d = vec_reader_dim(r);
  uint64_t n = vec_reader_count(r);
  size_t cd = vec_codec_get_params(codec)->dim;
  if (cd != d) {
    rc = vec_fail(VEC_E_INVALID_ARG, -1, "%s has dimension %zu, the codec %zu", input, d, cd);
    goto done;
  }
  size_t row_bytes = d * sizeof(float), chunk = o.chunk_rows;
  if (!chunk) { /* by bytes: 65536 rows of d = 2^20 would be 256 GiB for a valid 2-row file */
    chunk = CHUNK_BYTES / row_bytes;
    if (chunk > CHUNK_ROWS_MAX) chunk = CHUNK_ROWS_MAX;
  }
  if ((uint64_t)chunk > n) chunk = (size_t)n;
  if (!chunk) chunk = 1;
  if (d > SIZE_MAX / sizeof(float) / chunk || !(buf = malloc(chunk * row_bytes))) {
    rc = vec_fail(VEC_E_NOMEM, -1, "out of memory for a chunk of %zu rows of %zu floats", chunk, d);
    goto done;
  }
  vec_batch_opts bo = o.batch;
  step_progress sp = {&o.batch, 0, (size_t)n, 0};
  if (o.batch.progress) bo.progress = step_cb, bo.progress_user = &sp;
  if (vec_codec_needs_training(codec) && !vec_codec_is_trained(codec)) {
    /* train on the leading rows (at most CALIBRATION_ROWS and CALIBRATION_BYTES), then start over
     */
    size_t cal = n < CALIBRATION_ROWS ? (size_t)n : CALIBRATION_ROWS, got = 0;
    if (cal > CALIBRATION_BYTES / row_bytes) cal = CALIBRATION_BYTES / row_bytes;
    if (cal < 2 && n >= 2) cal = 2; /* what any trainable codec needs at the least */
    float *calib = malloc(cal * row_bytes + 1);
    if (!calib) {
      rc = vec_fail(VEC_E_NOMEM, -1, "out of memory for %zu calibration rows", cal);
      goto done;
    }
    while (got < cal && !rc) {
      size_t g = 0;
      rc = vec_reader_read(r, calib + got * d, cal - got, &g);
      if (!g) break;
      got += g;
    }
    if (!rc) rc = vec_codec_train_opts(codec, calib, got, d, &bo);
    free(calib);
    if (!rc) rc = vec_reader_seek(r, 0);
    if (rc) goto done;
  }
  vec_vqz_options vo = VEC_VQZ_OPTIONS_INIT;
  vo.metadata = o.metadata;
  if ((rc = vec_vqz_writer_open(output, codec, &vo, &w))) goto done;
  sp.scale = 1;
  uint64_t rows = 0;
  for (;;) {
    size_t got = 0;
    if ((rc = vec_reader_read(r, buf, chunk, &got)) || !got) break;
    sp.base = (size_t)rows;
    if ((rc = vec_vqz_writer_append_floats(w, buf, got, d, NULL, &bo))) break;
    rows += got;
  }
  /* the final report (done == total) comes before the file is published, so it can still cancel */
  if (!rc && o.batch.progress && o.batch.progress(o.batch.progress_user, (size_t)rows, (size_t)n))
    rc = vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
  if (rc) goto done;
  rc = vec_vqz_writer_finish(w);
  w = NULL;
  if (!rc && rows_out) *rows_out = rows;
done:
  vec_vqz_writer_abort(w);
  vec_reader_close(r);
  free(buf);
  return rc;
}
