/* vqz_internal.h: library-private entry points of the .vqz container (vqz.c) and of CRC-32C
 * (kernels/crc_kernels.h) that the tests and the fuzz target reach past the public header. */
#ifndef VEC_VQZ_INTERNAL_H
#define VEC_VQZ_INTERNAL_H

#include "../common/internal.h"
#include "../kernels/crc_kernels.h" /* vec_crc32c_table, _hw, _combine */

/* Opens a .vqz image held in memory (what the fuzzer uses: no file, no mmap). The buffer is not
 * copied: it must outlive the reader. `name` labels error messages. Same checks and errors as
 * vec_vqz_reader_open. */
VEC_HIDDEN int vec_vqz_reader_open_memory(const void *buf, size_t size, const char *name,
                                          vec_vqz_reader **out);

#endif
