/* crc_kernels.h: the CRC-32C kernels (crc32c.c): the byte-table reference and the CPU's own CRC32C
 * instructions, and the helpers the tests and the .vqz writer reach past the public header. */
#ifndef VEC_CRC_KERNELS_H
#define VEC_CRC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define VEC_CRC_X86 1
#elif defined(__aarch64__) && defined(__GNUC__)
#define VEC_CRC_ARM 1
#endif

/* CRC-32C of data continuing from crc (0 to start): the byte-table reference. */
VEC_HIDDEN uint32_t vec_crc_update_scalar(uint32_t crc, const void *data, size_t size);
#if defined(VEC_CRC_X86)
VEC_HIDDEN uint32_t vec_crc_update_sse42(uint32_t crc, const void *data, size_t size); /* SSE4.2 */
#elif defined(VEC_CRC_ARM)
VEC_HIDDEN uint32_t vec_crc_update_armv8(uint32_t crc, const void *data, size_t size); /* +crc */
#endif

/* The same as vec_crc_update_scalar (the name the tests and the fuzz target know). */
VEC_HIDDEN uint32_t vec_crc32c_table(uint32_t crc, const void *data, size_t size);
/* The same by the CPU's CRC32C instructions: returns 0 (and leaves *crc) where there are none. */
VEC_HIDDEN int vec_crc32c_hw(uint32_t *crc, const void *data, size_t size);
/* CRC-32C of A || B from crc1 = CRC(A), crc2 = CRC(B) and len2 = |B| (as zlib's crc32_combine). */
VEC_HIDDEN uint32_t vec_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

#endif
