/* fuzz_npy.c: libFuzzer target for the .npy parser and vec_reader. Each input is parsed in memory
 * (vec_npy_parse_f32) and, written to a file, opened by vec_reader as .npy and as .fvecs, .bvecs
 * and .ivecs. Beyond not crashing, the two .npy readers must agree: the same error code, or the
 * same rows bit for bit, whatever the chunk size and after a seek. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vectro.h"

#ifndef O_BINARY
#define O_BINARY 0 /* Windows: no newline translation */
#endif
#if defined(_WIN32)
#include <direct.h>
#define COPIES 4 /* no symbolic links without a privilege: the input is written four times */
static char *mkdtemp(char *t) {
  return _mktemp_s(t, strlen(t) + 1) == 0 && _mkdir(t) == 0 ? t : NULL;
}
static int symlink(const char *to, const char *from) { return (void)to, (void)from, -1; }
#else
#define COPIES 1
#endif

#include "../../src/io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void die(const char *what);

static char dir[256];
static char paths[4]
                 [300]; /* in.npy, then links to it (copies of it) named in.fvecs, .bvecs, .ivecs */

static void cleanup(void) {
  for (int i = 0; i < 4; i++) unlink(paths[i]);
  rmdir(dir);
}

static int setup(void) {
  if (dir[0]) return 0;
  const char *t = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/vectro-fuzz-npy-XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(dir)) return -1;
  const char *names[] = {"in.npy", "in.fvecs", "in.bvecs", "in.ivecs"};
  for (int i = 0; i < 4; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
    if (COPIES == 1 && i && symlink("in.npy", paths[i]) != 0) return -1;
  }
  atexit(cleanup);
  return 0;
}

static void die(const char *what) {
  fprintf(stderr, "fuzz_npy: %s (%s)\n", what, vec_last_error_message());
  abort();
}

/* Reads every row in chunks of `chunk`; returns the rc of the first failing call. */
static int read_rows(vec_reader *r, size_t chunk, float *out) {
  size_t d = vec_reader_dim(r), total = 0, got;
  uint64_t n = vec_reader_count(r);
  for (;;) {
    int rc = vec_reader_read(r, out + total * d, chunk, &got);
    if (rc) return rc;
    if (got > chunk || total + got > n) die("read returned more rows than exist");
    if (!got) break;
    total += got;
  }
  if (total != n) die("read ended before the count");
  return VEC_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (setup() != 0) die("cannot set up the input files");
  for (int i = 0; i < COPIES; i++) {
    int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_BINARY, 0600);
    if (fd < 0) die("cannot create the input file");
    size_t off = 0;
    while (off < size) {
      ssize_t w = write(fd, data + off, (unsigned)(size - off));
      if (w <= 0) break;
      off += (size_t)w;
    }
    close(fd);
    if (off != size) die("cannot write the input file");
  }
  size_t chunk = size ? 1 + data[size - 1] % 8 : 1;

  float *x = NULL;
  size_t n = 0, d = 0;
  int prc = vec_npy_parse_f32(data, size, "fuzz", &x, &n, &d);
  vec_reader *r = NULL;
  int rc = vec_reader_open(paths[0], &r);
  if (rc != prc) die("vec_reader_open and vec_npy_parse_f32 disagree");
  if (rc == VEC_OK) {
    if (vec_reader_dim(r) != d || vec_reader_count(r) != n) die("shapes disagree");
    float *y = malloc((n * d + 1) * sizeof(float));
    if (!y) abort();
    if (read_rows(r, chunk, y) != VEC_OK) die("a file that parses fails to read");
    if (memcmp(x, y, n * d * sizeof(float)) != 0) die("values disagree");
    uint64_t mid = n / 2;
    size_t got;
    if (vec_reader_seek(r, mid) != VEC_OK || vec_reader_read(r, y, n, &got) != VEC_OK ||
        got != n - mid || memcmp(y, x + mid * d, got * d * sizeof(float)) != 0)
      die("seek and read disagree");
    free(y);
  }
  vec_reader_close(r);
  free(x);

  for (int k = 1; k < 4; k++) { /* the same bytes as a *vecs file: errors are fine, crashes not */
    if (vec_reader_open(paths[k], &r) != VEC_OK) continue;
    size_t dim = vec_reader_dim(r);
    uint64_t rows = vec_reader_count(r);
    size_t esz = k == 2 ? 1 : 4;
    if (dim == 0 || rows * (4 + dim * esz) != size) die("*vecs shape does not match the size");
    float *y = malloc((size_t)rows * dim * sizeof(float));
    if (!y) abort();
    read_rows(r, chunk, y);
    free(y);
    vec_reader_close(r);
  }
  return 0;
}
