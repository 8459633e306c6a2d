/* npy.h: NumPy .npy files of float embeddings: the strict header parser shared by the whole-file
 * reader (the CLI's) and the streaming vec_reader; the writer is public (vectro.h). */
#ifndef VEC_NPY_H
#define VEC_NPY_H

#include "../common/internal.h"
#include "convert.h"

/* What a .npy header says, checked for consistency but not yet against the file's size. */
typedef struct vec_npy_header {
  size_t data_offset;  /* bytes of magic, version, length and header text before the data */
  vec_elem elem;       /* VEC_EL_F16, VEC_EL_F32 or VEC_EL_F64 */
  int fortran;         /* 1 when the data is in Fortran (column-major) order */
  int ndim;            /* 1 or 2; a 1-D array is one row */
  uint64_t rows, cols; /* cols in 1..2^28 */
  uint64_t data_bytes; /* rows * cols * element size: the exact size the data must have */
} vec_npy_header;

/* Reads the fixed part of a .npy file (magic, version, header length) from the first `size` bytes
 * of buf (12 are enough). On success *header_end is the offset just past the header text, which is
 * how many bytes vec_npy_parse_header needs. VEC_E_FORMAT (not a .npy, truncated) or
 * VEC_E_VERSION (a version other than 1.0, 2.0, 3.0), with a message naming `name`. */
VEC_HIDDEN int vec_npy_preamble(const unsigned char *buf, size_t size, const char *name,
                                size_t *header_end);

/* Parses the whole header (buf holds at least the bytes up to the preamble's header_end). The
 * header is a Python dict literal with exactly the keys 'descr' (a little-endian float type),
 * 'fortran_order' (True/False) and 'shape' (a tuple of 1 or 2 non-negative ints). Malformed text
 * gives VEC_E_FORMAT; a well-formed header of a type we do not read (big-endian, integers, objects,
 * structured) gives VEC_E_UNSUPPORTED. */
VEC_HIDDEN int vec_npy_parse_header(const unsigned char *buf, size_t size, const char *name,
                                    vec_npy_header *h);

/* Reads a 1-D or 2-D .npy array of little-endian float16, float32 or float64 (C or Fortran order,
 * format versions 1, 2 and 3) as float32 rows. On success *data (free with free()) holds
 * *n x *d floats, C order. Every length is checked against the file's size before use; errors
 * (VEC_E_FORMAT, VEC_E_UNSUPPORTED for other dtypes, VEC_E_NOMEM, VEC_E_IO for I/O) carry a
 * message naming the file and the problem. */
VEC_HIDDEN int vec_npy_read_f32(const char *path, float **data, size_t *n, size_t *d);

/* The same from a buffer holding a whole .npy file (what the fuzzer uses). */
VEC_HIDDEN int vec_npy_parse_f32(const unsigned char *buf, size_t size, const char *name,
                                 float **data, size_t *n, size_t *d);

#endif
