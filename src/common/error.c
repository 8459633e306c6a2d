/* error.c: error codes, their names, and the thread-local detail of the last failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char tl_message[256];
static _Thread_local long long tl_row = -1;
static _Thread_local int tl_errno; /* the OS error behind the last VEC_E_IO, 0 when none */

const char *vec_strerror(int rc) {
  switch (rc) {
  case VEC_OK: return "success";
  case VEC_E_INVALID_ARG: return "invalid argument";
  case VEC_E_NONFINITE: return "input holds NaN or Inf";
  case VEC_E_NOMEM: return "out of memory";
  case VEC_E_CANCELLED: return "cancelled by the progress callback";
  case VEC_E_UNSUPPORTED: return "not supported on this CPU";
  case VEC_E_OVERFLOW: return "size overflow";
  case VEC_E_THREAD: return "could not start a worker thread";
  case VEC_E_RANGE: return "value outside the codec's range";
  case VEC_E_NOT_TRAINED: return "codec used before training";
  case VEC_E_FORMAT: return "malformed or corrupt data";
  case VEC_E_VERSION: return "written by a newer version";
  case VEC_E_IO: return "input/output error";
  case VEC_E_NOT_FOUND: return "id not found";
  default: return "unknown error";
  }
}

const char *vec_last_error_message(void) { return tl_message; }

long long vec_last_error_row(void) { return tl_row; }

int vec_last_error_errno(void) { return tl_errno; }

void vec_clear_error(void) {
  tl_message[0] = '\0';
  tl_row = -1;
  tl_errno = 0;
}

static void set_message(const char *fmt, va_list ap) {
  /* Formatted apart first: callers may wrap the previous message (an argument that points into
   * tl_message itself), and vsnprintf from a buffer into itself is undefined. */
  char tmp[sizeof tl_message];
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  memcpy(tl_message, tmp, sizeof tmp);
}

int vec_fail(int rc, long long row, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(fmt, ap);
  va_end(ap);
  tl_row = row;
  tl_errno = 0;
  return rc;
}

int vec_fail_os(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(fmt, ap);
  va_end(ap);
  tl_row = -1;
  tl_errno = err;
  return VEC_E_IO;
}

unsigned vec_version_number(void) { return VEC_VERSION_NUMBER; }

const char *vec_version_string(void) { return VEC_VERSION_STRING; }
