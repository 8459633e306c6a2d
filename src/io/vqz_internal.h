/* vqz_internal.h: library-private entry points of the .vqz container (vqz.c) and of CRC-32C
 * (crc32c.c) that the tests and the fuzz target reach past the public header. */
#ifndef VEC_VQZ_INTERNAL_H
#define VEC_VQZ_INTERNAL_H

#include "../common/internal.h"

/* Opens a .vqz image held in memory (what the fuzzer uses: no file, no mmap). The buffer is not
 * copied: it must outlive the reader. `name` labels error messages. Same checks and errors as
 * vec_vqz_reader_open. */
VEC_HIDDEN int vec_vqz_reader_open_memory(const void *buf, size_t size, const char *name,
                                          vec_vqz_reader **out);

/* CRC-32C of data continuing from crc (0 to start), by the byte-table reference. */
VEC_HIDDEN uint32_t vec_crc32c_table(uint32_t crc, const void *data, size_t size);
/* The same by the CPU's CRC32C instructions: returns 0 (and leaves *crc) where there are none. */
VEC_HIDDEN int vec_crc32c_hw(uint32_t *crc, const void *data, size_t size);
/* CRC-32C of A || B from crc1 = CRC(A), crc2 = CRC(B) and len2 = |B| (as zlib's crc32_combine). */
VEC_HIDDEN uint32_t vec_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#endif
