/* example_util.h: shared by the C examples: load a whole embeddings file (.npy, .fvecs) with
 * libvectro's streaming reader, and a check macro that prints the library's detail and exits. */
#ifndef EXAMPLE_UTIL_H
#define EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "vectro.h"

#define CHECK(call)                                                                                \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != VEC_OK) {                                                                           \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, vec_strerror(rc_),                    \
              vec_last_error_message());                                                           \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* Reads every row of path as float32; *n and *d receive the shape. The caller frees the result. */
static float *load_rows(const char *path, size_t *n, size_t *d) {
  vec_reader *r;
  CHECK(vec_reader_open(path, &r));
  *n = (size_t)vec_reader_count(r);
  *d = vec_reader_dim(r);
  float *x = malloc(sizeof(float) * (*n ? *n : 1) * *d);
  if (!x) exit(1);
  size_t got = 0, total = 0;
  while (total < *n) {
    CHECK(vec_reader_read(r, x + total * *d, *n - total, &got));
    if (got == 0) break;
    total += got;
  }
  vec_reader_close(r);
  *n = total;
  return x;
}

#endif
