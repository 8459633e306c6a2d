/* npy.c: NumPy .npy files (format versions 1-3) of float16/32/64 arrays: a strict header parser,
 * a whole-file reader, and a streaming float32 writer whose header is byte for byte np.save's.
 * The header is untrusted text: it is parsed with explicit bounds, and the shape it promises must
 * match the bytes the file actually holds, so nothing is ever read past the end. */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "tmpfile.h"

#include "../common/platform.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
 * Header parsing. The header is a Python dict literal, e.g.
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }
 * followed by spaces and a newline. We accept what a Python literal parser would for these three
 * keys (either quote, any whitespace, trailing commas, Python 2's 'L' suffix) and nothing else.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} cursor;

static void ws(cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int accept(cursor *c, char ch) {
  ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string without escapes (none of the values we accept needs one). */
static int string_lit(cursor *c, const char **s, size_t *len) {
  ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
  char q = *c->p++;
  const char *e = memchr(c->p, q, (size_t)(c->end - c->p));
  if (!e || memchr(c->p, '\\', (size_t)(e - c->p))) return 0;
  *s = c->p;
  *len = (size_t)(e - c->p);
  c->p = e + 1;
  return 1;
}

static int word(cursor *c, const char *w) {
  size_t n = strlen(w);
  ws(c);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0) return 0;
  c->p += n;
  return 1;
}

#define DIM_LIMIT ((uint64_t)1 << 62)

/* A tuple of non-negative decimal ints. Returns the count, or -1 (with *why set) when malformed. */
static int shape_tuple(cursor *c, uint64_t *dims, int max, const char **why) {
  *why = "'shape' is not a tuple of integers";
  if (!accept(c, '(')) return -1;
  int nd = 0;
  if (accept(c, ')')) return 0;
  for (;;) {
    ws(c);
    if (c->p < c->end && *c->p == '-') {
      *why = "'shape' holds a negative dimension";
      return -1;
    }
    const char *s = c->p;
    uint64_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      uint64_t digit = (uint64_t)(*c->p - '0');
      if (x > (DIM_LIMIT - digit) / 10) { /* x * 10 + digit would pass the limit */
        *why = "'shape' holds a dimension beyond 2^62";
        return -1;
      }
      x = x * 10 + digit;
      c->p++;
    }
    if (c->p == s || (c->p - s > 1 && *s == '0')) return -1; /* no digits, or a leading zero */
    if (c->p < c->end && *c->p == 'L') c->p++;               /* written by Python 2 */
    if (nd == max) {
      *why = "the array has more than 2 dimensions: need n x d embeddings";
      return -1;
    }
    dims[nd++] = x;
    if (accept(c, ')')) {
      if (nd == 1) return -1; /* "(3)" is the int 3 in Python, not a tuple */
      return nd;
    }
    if (!accept(c, ',')) return -1;
    if (accept(c, ')')) return nd;
  }
}

int vec_npy_preamble(const unsigned char *buf, size_t size, const char *name, size_t *header_end) {
  if (size == 0) return vec_fail(VEC_E_FORMAT, -1, "%s: empty file, not a .npy", name);
  if (memcmp(buf, "\x93NUMPY", size < 6 ? size : 6) != 0)
    return vec_fail(VEC_E_FORMAT, -1, "%s: not a .npy file (bad magic)", name);
  if (size < 8) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
  unsigned major = buf[6], minor = buf[7];
  if (major < 1 || major > 3 || minor != 0)
    return vec_fail(VEC_E_VERSION, -1,
                    "%s: .npy format version %u.%u is not supported (1.0, 2.0 and 3.0 are)", name,
                    major, minor);
  size_t hoff = major == 1 ? 10 : 12;
  if (size < hoff) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
  size_t hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
  if (major > 1) {
    uint32_t l32 = vec_get32le(buf + 8);
    if (l32 > SIZE_MAX - hoff) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
    hlen = l32;
  }
  *header_end = hoff + hlen;
  return VEC_OK;
}

int vec_npy_parse_header(const unsigned char *buf, size_t size, const char *name,
                         vec_npy_header *h) {
  size_t end;
  int rc = vec_npy_preamble(buf, size, name, &end);
  if (rc) return rc;
  if (end > size) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
  size_t hoff = buf[6] == 1 ? 10 : 12;
  cursor c = {(const char *)buf + hoff, (const char *)buf + end};
  const char *descr = NULL, *why = NULL;
  size_t dlen = 0;
  int fortran = -1, nd = -1;
  uint64_t dims[2] = {0, 0};

  if (!accept(&c, '{')) return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header is not a dict", name);
  while (!accept(&c, '}')) {
    const char *key;
    size_t klen;
    if (!string_lit(&c, &key, &klen) || !accept(&c, ':'))
      return vec_fail(VEC_E_FORMAT, -1, "%s: malformed .npy header dict", name);
    if (klen == 5 && memcmp(key, "descr", 5) == 0 && !descr) {
      ws(&c);
      if (c.p < c.end && *c.p == '[')
        return vec_fail(VEC_E_UNSUPPORTED, -1,
                        "%s: structured dtype is not supported: need little-endian float16, "
                        "float32 or float64",
                        name);
      if (!string_lit(&c, &descr, &dlen))
        return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'descr' in .npy header", name);
    } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0 && fortran < 0) {
      if (word(&c, "True"))
        fortran = 1;
      else if (word(&c, "False"))
        fortran = 0;
      else
        return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'fortran_order' in .npy header", name);
    } else if (klen == 5 && memcmp(key, "shape", 5) == 0 && nd < 0) {
      nd = shape_tuple(&c, dims, 2, &why);
      if (nd < 0) return vec_fail(VEC_E_FORMAT, -1, "%s: %s", name, why);
    } else {
      return vec_fail(VEC_E_FORMAT, -1, "%s: unexpected or repeated key '%.*s' in .npy header",
                      name, (int)(klen < 40 ? klen : 40), key);
    }
    if (!accept(&c, ',')) {
      if (!accept(&c, '}'))
        return vec_fail(VEC_E_FORMAT, -1, "%s: malformed .npy header dict", name);
      break;
    }
  }
  ws(&c);
  if (c.p != c.end) return vec_fail(VEC_E_FORMAT, -1, "%s: junk after the .npy header dict", name);
  if (!descr || fortran < 0 || nd < 0)
    return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header lacks '%s'", name,
                    !descr        ? "descr"
                    : fortran < 0 ? "fortran_order"
                                  : "shape");
  if (dlen == 3 && descr[0] == '<' && descr[1] == 'f' && descr[2] == '2')
    h->elem = VEC_EL_F16;
  else if (dlen == 3 && descr[0] == '<' && descr[1] == 'f' && descr[2] == '4')
    h->elem = VEC_EL_F32;
  else if (dlen == 3 && descr[0] == '<' && descr[1] == 'f' && descr[2] == '8')
    h->elem = VEC_EL_F64;
  else
    return vec_fail(VEC_E_UNSUPPORTED, -1,
                    "%s: dtype '%.*s' is not supported: need little-endian float16, float32 or "
                    "float64 ('<f2', '<f4', '<f8')",
                    name, (int)(dlen < 20 ? dlen : 20), descr);
  if (nd != 1 && nd != 2)
    return vec_fail(VEC_E_FORMAT, -1, "%s: need a 1-D or 2-D array of embeddings, got %d-D", name,
                    nd);
  uint64_t rows = nd == 2 ? dims[0] : 1, cols = nd == 2 ? dims[1] : dims[0];
  if (cols == 0 || cols > ((uint64_t)1 << 28))
    return vec_fail(VEC_E_FORMAT, -1, "%s: absurd dimension %llu", name, (unsigned long long)cols);
  uint64_t isz = vec_elem_size(h->elem);
  if (rows > UINT64_MAX / cols / isz)
    return vec_fail(VEC_E_FORMAT, -1, "%s: shape (%llu, %llu) is too large", name,
                    (unsigned long long)rows, (unsigned long long)cols);
  h->data_offset = end;
  h->fortran = fortran;
  h->ndim = nd;
  h->rows = rows;
  h->cols = cols;
  h->data_bytes = rows * cols * isz;
  return VEC_OK;
}

int vec_npy_parse_f32(const unsigned char *buf, size_t size, const char *name, float **data,
                      size_t *n, size_t *d) {
  *data = NULL;
  vec_npy_header h;
  int rc = vec_npy_parse_header(buf, size, name, &h);
  if (rc) return rc;
  if (size - h.data_offset != h.data_bytes)
    return vec_fail(VEC_E_FORMAT, -1,
                    "%s: the header promises %llu bytes of data but the file holds %zu (truncated "
                    "or corrupt)",
                    name, (unsigned long long)h.data_bytes, size - h.data_offset);
  /* The data fits in memory, so rows * cols fits size_t; the float copy must fit too. */
  size_t rows = (size_t)h.rows, cols = (size_t)h.cols, count = rows * cols;
  if (!vec_mul_ok(count, sizeof(float), &(size_t){0}))
    return vec_fail(VEC_E_FORMAT, -1, "%s: shape (%zu, %zu) is too large", name, rows, cols);
  float *out = malloc(count ? count * sizeof(float) : 1);
  if (!out) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu floats", name, count);
  const unsigned char *src = buf + h.data_offset;
  size_t isz = vec_elem_size(h.elem);
  if (!h.fortran) {
    vec_elem_convert(h.elem, src, count, out);
  } else {
    for (size_t c = 0; c < cols; c++) /* column c is contiguous in the file */
      for (size_t r = 0; r < rows; r++)
        vec_elem_convert(h.elem, src + (c * rows + r) * isz, 1, out + r * cols + c);
  }
  *data = out;
  *n = rows;
  *d = cols;
  return VEC_OK;
}

int vec_npy_read_f32(const char *path, float **data, size_t *n, size_t *d) {
  *data = NULL;
  FILE *f = vec_os_fopen(path, "rb");
  if (!f) return vec_fail_os(errno, "%s: %s", path, strerror(errno));
  unsigned char *buf = NULL;
  size_t cap = 0, size = 0;
  int err = 0;
  for (;;) { /* read to the end: works for pipes too, and never trusts a size from stat */
    if (size == cap) {
      size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", path);
      }
      buf = nb, cap = ncap;
    }
    size_t got = fread(buf + size, 1, cap - size, f);
    size += got;
    if (got == 0) {
      err = ferror(f) ? errno : 0;
      break;
    }
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return vec_fail_os(err ? err : EIO, "%s: read error: %s", path, strerror(err ? err : EIO));
  }
  int rc = vec_npy_parse_f32(buf, size, path, data, n, d);
  free(buf);
  return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Writer: float32, C order, always format 1.0. The header is np.save's: the dict, then NumPy's
 * growth room (spaces making the row count's field 21 characters wide, so a row count of any
 * uint64 fits the same space), then spaces to a multiple of 64 bytes and '\n'. It is written with
 * 0 rows first and rewritten in place by finish, so no data ever moves.
 * ------------------------------------------------------------------------------------------- */
#define NPY_GROWTH_DIGITS 21
#define WRITE_BUF         ((size_t)1 << 20)

struct vec_npy_writer_s {
  int fd;
  char *path, *tmp;
  size_t dim;
  uint64_t rows;
  size_t header_len;
  unsigned char *buf; /* WRITE_BUF bytes of pending little-endian data */
  size_t used;
  int failed; /* an append failed: finish must not publish the file */
};

/* np.save's header for shape (rows, dim); returns its length (a multiple of 64, < 256). */
static size_t npy_header(char out[256], uint64_t rows, size_t dim) {
  char n[24];
  int nl = snprintf(n, sizeof n, "%llu", (unsigned long long)rows);
  int len =
      snprintf(out + 10, 246, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s, %zu), }%*s",
               n, dim, NPY_GROWTH_DIGITS - nl, "");
  size_t total = 10 + (size_t)len + 1; /* + the closing newline */
  size_t pad = (64 - total % 64) % 64;
  memset(out + 10 + len, ' ', pad);
  out[total + pad - 1] = '\n';
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  size_t hlen = total + pad - 10;
  out[8] = (char)(hlen & 0xff);
  out[9] = (char)(hlen >> 8);
  return total + pad;
}

static int write_all(int fd, const void *p, size_t n, uint64_t off, int positional) {
  const unsigned char *s = p;
  while (n) {
    ssize_t w = positional ? vec_os_pwrite(fd, s, n, off) : vec_os_write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += w, n -= (size_t)w, off += (uint64_t)w;
  }
  return 0;
}

static void writer_free(vec_npy_writer *w) {
  free(w->path);
  free(w->tmp);
  free(w->buf);
  free(w);
}

/* Drops the temporary file and the writer. */
static void writer_discard(vec_npy_writer *w) {
  if (w->fd >= 0) vec_os_close(w->fd);
  vec_os_unlink(w->tmp);
  writer_free(w);
}

int vec_npy_writer_open(const char *path, size_t dim, vec_npy_writer **out) {
  vec_clear_error();
  if (!out) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  *out = NULL;
  if (!path || !*path) return vec_fail(VEC_E_INVALID_ARG, -1, "no path given");
  if (dim == 0 || dim > ((size_t)1 << 28))
    return vec_fail(VEC_E_INVALID_ARG, -1, "dimension %zu is outside 1..2^28", dim);
  vec_npy_writer *w = calloc(1, sizeof *w);
  if (w) w->buf = malloc(WRITE_BUF);
  if (!w || !w->buf) {
    if (w) writer_free(w);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  w->dim = dim;
  /* A fresh temporary beside the target (links followed; same file system, so the rename is
   * atomic), created as np.save's file would be: the umask applies, a replaced file's mode stays.
   */
  int rc = vec_tmpfile_create(path, &w->path, &w->tmp, &w->fd);
  if (rc) {
    writer_free(w);
    return rc;
  }
  char h[256];
  w->header_len = npy_header(h, 0, dim);
  if (write_all(w->fd, h, w->header_len, 0, 0) != 0) {
    int e = errno;
    writer_discard(w);
    return vec_fail_os(e, "%s: writing the header: %s", path, strerror(e));
  }
  *out = w;
  return VEC_OK;
}

static int flush(vec_npy_writer *w) {
  if (w->used && write_all(w->fd, w->buf, w->used, 0, 0) != 0) {
    w->failed = 1;
    return vec_fail_os(errno, "%s: write failed: %s", w->path, strerror(errno));
  }
  w->used = 0;
  return VEC_OK;
}

int vec_npy_writer_append(vec_npy_writer *w, const float *x, size_t n, size_t ldx) {
  vec_clear_error();
  if (!w || (n && !x)) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  if (ldx < w->dim)
    return vec_fail(VEC_E_INVALID_ARG, -1, "ldx %zu is shorter than a row (%zu)", ldx, w->dim);
  if (w->failed)
    return vec_fail(VEC_E_IO, -1, "%s: an earlier write failed; abort this writer", w->path);
  if (n > UINT64_MAX - w->rows) return vec_fail(VEC_E_OVERFLOW, -1, "row count overflows");
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    for (size_t j = 0; j < w->dim; j++) {
      if (w->used + 4 > WRITE_BUF) {
        int rc = flush(w);
        if (rc) return rc;
      }
      uint32_t u = vec_f2u_pub(row[j]);
      unsigned char *p = w->buf + w->used;
      p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8);
      p[2] = (unsigned char)(u >> 16), p[3] = (unsigned char)(u >> 24);
      w->used += 4;
    }
  }
  w->rows += n;
  return VEC_OK;
}

void vec_npy_writer_abort(vec_npy_writer *w) {
  if (w) writer_discard(w);
}

int vec_npy_writer_finish(vec_npy_writer *w) {
  vec_clear_error();
  if (!w) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  if (w->failed) {
    int rc = vec_fail(VEC_E_IO, -1, "%s: an earlier write failed; nothing was written", w->path);
    writer_discard(w);
    return rc;
  }
  int rc = flush(w);
  if (rc) {
    writer_discard(w);
    return rc;
  }
  char h[256];
  size_t hl = npy_header(h, w->rows, w->dim);
  const char *step = "rewriting the header";
  if (hl != w->header_len || write_all(w->fd, h, hl, 0, 1) != 0) goto io_fail;
  step = "fsync";
  if (vec_os_fsync(w->fd) != 0) goto io_fail;
  step = "close";
  int fd = w->fd;
  w->fd = -1;
  if (vec_os_close(fd) != 0) goto io_fail;
  step = "rename";
  if (vec_os_replace(w->tmp, w->path) != 0) goto io_fail;
  /* The rename is durable only once the directory is synced. The file is in place by now, so a
   * failure here is reported but cannot undo it; file systems that cannot sync a directory say
   * EINVAL, which is no failure of ours. */
  const char *slash = strrchr(w->path, '/');
  size_t dl = slash ? (size_t)(slash - w->path) : 0;
  char *dir = malloc(dl + 2);
  if (dir) {
    if (!slash)
      strcpy(dir, ".");
    else if (dl == 0)
      strcpy(dir, "/");
    else
      memcpy(dir, w->path, dl), dir[dl] = '\0';
    /* A directory that cannot be opened is skipped, as before; EINVAL counts as synced. */
    int e = vec_os_sync_dir(dir) != 0 && errno != ENOENT && errno != EACCES ? errno : 0;
    free(dir);
    if (e) {
      rc =
          vec_fail_os(e, "%s: written, but syncing its directory failed: %s", w->path, strerror(e));
      writer_free(w);
      return rc;
    }
  }
  writer_free(w);
  return VEC_OK;

io_fail:
  rc = vec_fail_os(errno, "%s: %s failed: %s", w->path, step, strerror(errno));
  writer_discard(w);
  return rc;
}
