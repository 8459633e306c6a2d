/* reader_impl.h: the vec_reader object, shared by reader.c (opening, .npy, seeking) and vecs.c
 * (the .fvecs/.bvecs/.ivecs layouts). */
#ifndef VEC_READER_IMPL_H
#define VEC_READER_IMPL_H

#include "../common/internal.h"
#include "convert.h"

/* Raw bytes read per system call: large enough that the call costs nothing against the bytes,
 * small enough to stay in cache while they are converted. Smaller files get a buffer of their own
 * size, so opening many small files stays cheap. */
#define VEC_READER_BUF ((size_t)1 << 20)

typedef enum vec_file_kind {
  VEC_FILE_NPY = 1,
  VEC_FILE_FVECS,
  VEC_FILE_BVECS,
  VEC_FILE_IVECS
} vec_file_kind;

struct vec_reader_s {
  int fd;
  char *path; /* for messages */
  vec_file_kind kind;
  vec_elem elem;
  size_t dim;
  uint64_t count;     /* rows */
  uint64_t pos;       /* the next row vec_reader_read returns */
  uint64_t data_off;  /* .npy: where the data starts */
  uint64_t row_bytes; /* *vecs: 4 + dim * element size */
  int fortran;        /* .npy in column-major order: served through `block` */
  unsigned char *buf; /* buf_cap bytes of raw file data */
  size_t buf_cap;     /* VEC_READER_BUF, or less for a smaller file (at least 16) */
  float *block;       /* Fortran order: rows [block_r0, block_r0 + block_n) as float32 rows */
  uint64_t block_r0;
  size_t block_n, block_cap;
};

/* Reads exactly n bytes at file offset off. VEC_E_IO for an OS error (errno text), VEC_E_FORMAT
 * when the file ends first: it was checked at open, so it has shrunk since. */
VEC_HIDDEN int vec_reader_pread(const vec_reader *r, void *buf, size_t n, uint64_t off);

/* *vecs: fills dim, count and row_bytes from the file of `size` bytes, checking the first and
 * last rows' dims and that the size is a whole number of rows. */
VEC_HIDDEN int vec_vecs_open(vec_reader *r, uint64_t size);
/* *vecs: reads rows [r->pos, r->pos + k) into out, checking each row's dim. */
VEC_HIDDEN int vec_vecs_read(vec_reader *r, float *out, size_t k);

#endif
