/* reader.c: vec_reader, embeddings files read in chunks whatever their size. Everything goes
 * through pread into one buffer of at most VEC_READER_BUF bytes (plus, for Fortran-order .npy, a
 * block of about 4 MB of rows), so memory is bounded by the caller's chunk, never by the file.
 * The file's size is checked against its header at open; a file that shrinks afterwards gives an
 * error at the read that notices, never a crash (which is why there is no mmap path: a mapping of
 * a file truncated under it raises SIGBUS). */
#define _POSIX_C_SOURCE   200809L
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/platform.h"
#include "npy.h"
#include "reader_impl.h"

/* Headers longer than this are refused: a float array's is under 200 bytes, and only padding
 * could make one bigger. */
#define MAX_HEADER VEC_READER_BUF
/* Fortran order: rows gathered per block (the block holds about this many bytes of floats). */
#define BLOCK_BYTES ((size_t)4 << 20)

int vec_reader_pread(const vec_reader *r, void *buf, size_t n, uint64_t off) {
  unsigned char *p = buf;
  while (n) {
    ssize_t got = vec_os_pread(r->fd, p, n, off);
    if (got < 0) {
      if (errno == EINTR) continue;
      return vec_fail_os(errno, "%s: read failed: %s", r->path, strerror(errno));
    }
    if (got == 0)
      return vec_fail(VEC_E_FORMAT, -1,
                      "%s: the file ended at byte %llu, before the data its header promises (it "
                      "shrank after it was opened?)",
                      r->path, (unsigned long long)off);
    p += got, n -= (size_t)got, off += (uint64_t)got;
  }
  return VEC_OK;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int npy_open(vec_reader *r, uint64_t size) {
  unsigned char pre[12];
  size_t have = size < sizeof pre ? (size_t)size : sizeof pre, end;
  int rc = vec_reader_pread(r, pre, have, 0);
  if (rc || (rc = vec_npy_preamble(pre, have, r->path, &end))) return rc;
  if (end > MAX_HEADER)
    return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header of %zu bytes (more than the %zu accepted)",
                    r->path, end, MAX_HEADER);
  if (end > size) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", r->path);
  /* end <= size and end <= MAX_HEADER, so the header fits the buffer */
  vec_npy_header h;
  rc = vec_reader_pread(r, r->buf, end, 0);
  if (!rc) rc = vec_npy_parse_header(r->buf, end, r->path, &h);
  if (rc) return rc;
  if (size - h.data_offset != h.data_bytes)
    return vec_fail(
        VEC_E_FORMAT, -1, "%s: the header promises %llu bytes of data but the file holds %llu (%s)",
        r->path, (unsigned long long)h.data_bytes, (unsigned long long)(size - h.data_offset),
        size - h.data_offset < h.data_bytes ? "truncated" : "trailing bytes");
  r->elem = h.elem;
  r->dim = (size_t)h.cols;
  r->count = h.rows;
  r->data_off = h.data_offset;
  r->fortran = h.fortran && h.ndim == 2 && h.rows > 1; /* else both orders are the same bytes */
  return VEC_OK;
}

int vec_reader_open(const char *path, vec_reader **out) {
  vec_clear_error();
  if (!out) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  *out = NULL;
  if (!path) return vec_fail(VEC_E_INVALID_ARG, -1, "no path given");
  vec_reader *r = calloc(1, sizeof *r);
  size_t pl = strlen(path);
  if (r) {
    r->fd = -1;
    r->path = malloc(pl + 1);
  }
  if (!r || !r->path) {
    vec_reader_close(r);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  memcpy(r->path, path, pl + 1);
  int rc;
  vec_os_stat st;
  r->fd = vec_os_open_read(path);
  if (r->fd < 0 || vec_os_fstat(r->fd, &st) != 0) {
    rc = vec_fail_os(errno, "%s: %s", path, strerror(errno));
  } else if (st.dir) {
    rc = vec_fail_os(EISDIR, "%s: %s", path, strerror(EISDIR));
  } else if (!st.regular) {
    rc = vec_fail(VEC_E_IO, -1, "%s: not a regular file (the reader needs its size and seeks)",
                  path);
  } else {
    uint64_t size = st.size;
    r->buf_cap = size < VEC_READER_BUF ? (size < 16 ? 16 : (size_t)size) : VEC_READER_BUF;
    r->buf = malloc(r->buf_cap);
    r->kind = ends_with(path, ".fvecs")   ? VEC_FILE_FVECS
              : ends_with(path, ".bvecs") ? VEC_FILE_BVECS
              : ends_with(path, ".ivecs") ? VEC_FILE_IVECS
                                          : VEC_FILE_NPY;
    rc = !r->buf                   ? vec_fail(VEC_E_NOMEM, -1, "out of memory")
         : r->kind == VEC_FILE_NPY ? npy_open(r, size)
                                   : vec_vecs_open(r, size);
  }
  if (rc) {
    vec_reader_close(r);
    return rc;
  }
  *out = r;
  return VEC_OK;
}

size_t vec_reader_dim(const vec_reader *r) { return r ? r->dim : 0; }

uint64_t vec_reader_count(const vec_reader *r) { return r ? r->count : 0; }

/* C order: the rows are one contiguous run of elements. */
static int npy_read_c(vec_reader *r, float *out, size_t k) {
  size_t isz = vec_elem_size(r->elem), total = k * r->dim;
  uint64_t off = r->data_off + r->pos * r->dim * isz;
  if (r->elem == VEC_EL_F32 && vec_host_is_le()) /* already the bytes we want */
    return vec_reader_pread(r, out, total * 4, off);
  size_t per = r->buf_cap / isz;
  for (size_t i = 0; i < total; i += per) {
    size_t m = total - i < per ? total - i : per;
    int rc = vec_reader_pread(r, r->buf, m * isz, off + i * isz);
    if (rc) return rc;
    vec_elem_convert(r->elem, r->buf, m, out + i);
  }
  return VEC_OK;
}

/* Fortran order: rows [r0, r0 + n) gathered column by column (each column's slice is contiguous)
 * into the block, so a column costs one read per block, not one per row. */
static int npy_load_block(vec_reader *r, uint64_t r0) {
  size_t isz = vec_elem_size(r->elem), per = r->buf_cap / isz;
  uint64_t left = r->count - r0;
  size_t n = left < r->block_cap ? (size_t)left : r->block_cap;
  r->block_n = 0;
  for (size_t c = 0; c < r->dim; c++) {
    uint64_t off = r->data_off + ((uint64_t)c * r->count + r0) * isz;
    for (size_t i = 0; i < n; i += per) {
      size_t m = n - i < per ? n - i : per;
      int rc = vec_reader_pread(r, r->buf, m * isz, off + i * isz);
      if (rc) return rc;
      for (size_t j = 0; j < m; j++)
        vec_elem_convert(r->elem, r->buf + j * isz, 1, r->block + (i + j) * r->dim + c);
    }
  }
  r->block_r0 = r0;
  r->block_n = n;
  return VEC_OK;
}

static int npy_read_fortran(vec_reader *r, float *out, size_t k) {
  if (!r->block) {
    size_t cap = BLOCK_BYTES / (r->dim * sizeof(float));
    if (cap == 0) cap = 1; /* one row: no more than the caller's own buffer holds */
    if (cap > r->count) cap = (size_t)r->count;
    r->block = malloc(cap * r->dim * sizeof(float));
    if (!r->block) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", r->path);
    r->block_cap = cap;
  }
  uint64_t row = r->pos;
  for (size_t done = 0; done < k;) {
    if (row < r->block_r0 || row >= r->block_r0 + r->block_n) {
      int rc = npy_load_block(r, row);
      if (rc) return rc;
    }
    size_t from = (size_t)(row - r->block_r0), m = r->block_n - from;
    if (m > k - done) m = k - done;
    memcpy(out + done * r->dim, r->block + from * r->dim, m * r->dim * sizeof(float));
    done += m, row += m;
  }
  return VEC_OK;
}

int vec_reader_read(vec_reader *r, float *out, size_t max_rows, size_t *got) {
  vec_clear_error();
  if (got) *got = 0;
  if (!r || !got || (max_rows && !out)) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  uint64_t left = r->count - r->pos;
  size_t k = left < max_rows ? (size_t)left : max_rows;
  if (k == 0) return VEC_OK;
  if (!vec_mul_ok(k, r->dim * sizeof(float), &(size_t){0}))
    return vec_fail(VEC_E_OVERFLOW, -1, "%zu rows of %zu floats overflow size_t", k, r->dim);
  int rc = r->kind != VEC_FILE_NPY ? vec_vecs_read(r, out, k)
           : r->fortran            ? npy_read_fortran(r, out, k)
                                   : npy_read_c(r, out, k);
  if (rc) return rc;
  r->pos += k;
  *got = k;
  return VEC_OK;
}

int vec_reader_seek(vec_reader *r, uint64_t row) {
  vec_clear_error();
  if (!r) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  if (row > r->count)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: row %llu is past the end (%llu rows)", r->path,
                    (unsigned long long)row, (unsigned long long)r->count);
  r->pos = row;
  return VEC_OK;
}

void vec_reader_close(vec_reader *r) {
  if (!r) return;
  if (r->fd >= 0) vec_os_close(r->fd);
  free(r->path);
  free(r->buf);
  free(r->block);
  free(r);
}
