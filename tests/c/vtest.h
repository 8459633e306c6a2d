/* vtest.h: a minimal test framework: CHECK records a failure and returns from the test. */
#ifndef VTEST_H
#define VTEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int vt_failed_checks;
void vt_report(const char *file, int line, const char *expr);

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      vt_report(__FILE__, __LINE__, #cond);                                                        \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

#define CHECKF(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      vt_report(__FILE__, __LINE__, #cond);                                                        \
      fprintf(stderr, "    ");                                                                     \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} vt_test;

/* Deterministic generator (splitmix64) so failures reproduce. */
static inline uint64_t vt_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* Uniform in [-1, 1). */
static inline float vt_uniform(uint64_t *s) {
  return (float)((double)(vt_next(s) >> 11) * 0x1p-53 * 2.0 - 1.0);
}
/* Roughly normal (sum of uniforms), like embedding coordinates. */
static inline float vt_normal(uint64_t *s) {
  return (vt_uniform(s) + vt_uniform(s) + vt_uniform(s) + vt_uniform(s)) * 0.5f;
}

/* Buffers whose end touches an inaccessible page, so any read or write past the end faults. */
void *vt_guarded_alloc(size_t bytes, void **handle, size_t *handle_size);
void vt_guarded_free(void *handle, size_t handle_size);

/* Instruction sets to test: every one this CPU supports, scalar first. */
int vt_isas(int *out);

#include "vtest_os.h"

#endif
