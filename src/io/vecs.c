/* vecs.c: the .fvecs / .bvecs / .ivecs layouts of the TEXMEX corpora (SIFT, GIST, ...): each row
 * is an int32 dim followed by dim float32 / uint8 / int32 values, all little-endian. Nothing says
 * the rows agree, so every row's dim is checked as it is read; the size is checked at open. */
#include <stdio.h>

#include "reader_impl.h"

static int row_dim(const vec_reader *r, const unsigned char *p, uint64_t row) {
  int32_t d = (int32_t)vec_get32le(p);
  if (d < 0 || (uint64_t)d != r->dim)
    return vec_fail(VEC_E_FORMAT, (long long)row,
                    "%s: row %llu has dimension %ld, but the first row has %zu (corrupt, or not a "
                    "*vecs file)",
                    r->path, (unsigned long long)row, (long)d, r->dim);
  return VEC_OK;
}

int vec_vecs_open(vec_reader *r, uint64_t size) {
  r->elem = r->kind == VEC_FILE_BVECS   ? VEC_EL_U8
            : r->kind == VEC_FILE_IVECS ? VEC_EL_I32
                                        : VEC_EL_F32;
  if (size == 0)
    return vec_fail(VEC_E_FORMAT, -1, "%s: empty file: no rows, so no dimension", r->path);
  unsigned char b[4];
  if (size < 4)
    return vec_fail(VEC_E_FORMAT, 0, "%s: row 0 is truncated (%llu bytes)", r->path,
                    (unsigned long long)size);
  int rc = vec_reader_pread(r, b, 4, 0);
  if (rc) return rc;
  int32_t d = (int32_t)vec_get32le(b);
  if (d <= 0 || d > (1 << 28))
    return vec_fail(VEC_E_FORMAT, 0, "%s: row 0 has dimension %ld (need 1..2^28)", r->path,
                    (long)d);
  r->dim = (size_t)d;
  r->row_bytes = 4 + (uint64_t)d * vec_elem_size(r->elem);
  if (size % r->row_bytes != 0) {
    uint64_t row = size / r->row_bytes;
    return vec_fail(
        VEC_E_FORMAT, (long long)row,
        "%s: size %llu is not a multiple of the row size %llu (dimension %zu): row %llu "
        "is truncated, or rows differ in dimension",
        r->path, (unsigned long long)size, (unsigned long long)r->row_bytes, r->dim,
        (unsigned long long)row);
  }
  r->count = size / r->row_bytes;
  /* The last row too: a file of mixed dims rarely survives both checks, so most are refused
   * before any data is read. */
  rc = vec_reader_pread(r, b, 4, (r->count - 1) * r->row_bytes);
  return rc ? rc : row_dim(r, b, r->count - 1);
}

int vec_vecs_read(vec_reader *r, float *out, size_t k) {
  size_t esz = vec_elem_size(r->elem);
  uint64_t row = r->pos;
  if (r->row_bytes <= r->buf_cap) { /* whole rows per read */
    size_t per = (size_t)(r->buf_cap / r->row_bytes);
    for (size_t done = 0; done < k;) {
      size_t m = k - done < per ? k - done : per;
      int rc = vec_reader_pread(r, r->buf, m * (size_t)r->row_bytes, row * r->row_bytes);
      if (rc) return rc;
      for (size_t i = 0; i < m; i++) {
        const unsigned char *p = r->buf + i * (size_t)r->row_bytes;
        rc = row_dim(r, p, row + i);
        if (rc) return rc;
        vec_elem_convert(r->elem, p + 4, r->dim, out + (done + i) * r->dim);
      }
      done += m, row += m;
    }
    return VEC_OK;
  }
  for (size_t i = 0; i < k; i++, row++) { /* a row larger than the buffer: in pieces */
    uint64_t off = row * r->row_bytes;
    int rc = vec_reader_pread(r, r->buf, 4, off);
    if (rc || (rc = row_dim(r, r->buf, row))) return rc;
    size_t per = r->buf_cap / esz;
    for (size_t j = 0; j < r->dim; j += per) {
      size_t m = r->dim - j < per ? r->dim - j : per;
      rc = vec_reader_pread(r, r->buf, m * esz, off + 4 + j * esz);
      if (rc) return rc;
      vec_elem_convert(r->elem, r->buf, m, out + i * r->dim + j);
    }
  }
  return VEC_OK;
}
