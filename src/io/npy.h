/* npy.h: reading NumPy .npy files of float embeddings (internal until the io API is published). */
#ifndef VEC_NPY_H
#define VEC_NPY_H

#include "../common/internal.h"

/* Reads a 1-D or 2-D .npy array of little-endian float16, float32 or float64 (C or Fortran order,
 * format versions 1, 2 and 3) as float32 rows. On success *data (free with free()) holds
 * *n x *d floats, C order. Every length is checked against the file's size before use; errors
 * (VEC_E_FORMAT, VEC_E_UNSUPPORTED for other dtypes, VEC_E_NOMEM, VEC_E_INVALID_ARG for I/O)
 * carry a message naming the file and the problem. */
VEC_HIDDEN int vec_npy_read_f32(const char *path, float **data, size_t *n, size_t *d);

/* The same from a buffer holding a whole .npy file (what the file reader and the fuzzer use). */
VEC_HIDDEN int vec_npy_parse_f32(const unsigned char *buf, size_t size, const char *name,
                                 float **data, size_t *n, size_t *d);

#endif
