/* internal.h: helpers shared by every part of libvectro (never installed).
 * Error detail is thread-local so that stateless batch calls can still say which row was bad. */
#ifndef VEC_INTERNAL_H
#define VEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vectro.h"

#if defined(__GNUC__)
#define VEC_LIKELY(x)   __builtin_expect(!!(x), 1)
#define VEC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define VEC_LIKELY(x)   (x)
#define VEC_UNLIKELY(x) (x)
#endif
#if defined(__GNUC__) && !defined(_WIN32) /* PE (Windows) objects have no symbol visibility */
#define VEC_HIDDEN __attribute__((visibility("hidden")))
#else
#define VEC_HIDDEN
#endif
/* printf-style checking; MinGW's `printf` archetype is Microsoft's (no %zu): vectro builds there
 * with __USE_MINGW_ANSI_STDIO=1, whose printf is the C99 one that gnu_printf describes. */
#if defined(__MINGW32__)
#define VEC_PRINTF(f, a) __attribute__((format(gnu_printf, f, a)))
#elif defined(__GNUC__)
#define VEC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VEC_PRINTF(f, a)
#endif

/* Records rc with a printf-style detail for vec_last_error_message(); returns rc so that callers
 * can write `return vec_fail(VEC_E_INVALID_ARG, -1, "d must be >= 1")`. row < 0: no row. */
VEC_HIDDEN int vec_fail(int rc, long long row, const char *fmt, ...) VEC_PRINTF(3, 4);

/* vec_fail(VEC_E_IO, -1, ...) that also records the OS error `err` (an errno value, 0: none) for
 * vec_last_error_errno(). Returns VEC_E_IO. */
VEC_HIDDEN int vec_fail_os(int err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Clears the calling thread's error detail; every public entry point calls it first. */
VEC_HIDDEN void vec_clear_error(void);

/* Float <-> bit pattern, without aliasing tricks. */
static inline uint32_t vec_f2u_pub(float f) {
  union {
    float f;
    uint32_t u;
  } v = {f};
  return v.u;
}
static inline float vec_u2f_pub(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } v = {u};
  return v.f;
}

/* a * b without overflow, else returns 0 and leaves *out unspecified. */
static inline int vec_mul_ok(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

#endif
