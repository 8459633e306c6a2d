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

/* Where block b of a file lies (offset in the file; rows; first row; its scales and ids sections
 * as offsets from the block's start), for vec_index to search a file's blocks in place. */
typedef struct vec_vqz_block {
  uint64_t offset, rows, first, scales, ids;
} vec_vqz_block;
VEC_HIDDEN uint64_t vec_vqz_blocks(const vec_vqz_reader *r);
VEC_HIDDEN void vec_vqz_block_at(const vec_vqz_reader *r, uint64_t b, vec_vqz_block *out);
/* Checks every block not checked yet (CRC-32C, finite decode), read by pread. */
VEC_HIDDEN int vec_vqz_check_blocks(vec_vqz_reader *r);
/* The reader's descriptor (-1 for an image in memory) and the file's size when opened. */
VEC_HIDDEN int vec_vqz_fd(const vec_vqz_reader *r);
VEC_HIDDEN size_t vec_vqz_file_size(const vec_vqz_reader *r);
/* The committed generation of a 2.0 file (>= 1); 0 for a 1.x file. */
VEC_HIDDEN uint64_t vec_vqz_generation(const vec_vqz_reader *r);

/* A writer of format 2.0 (appendable: commit slots, metadata in the footer), else as
 * vec_vqz_writer_open; the file is committed as generation 1. */
VEC_HIDDEN int vec_vqz_writer_open_appendable(const char *path, const vec_codec *codec,
                                              const vec_vqz_options *opts, vec_vqz_writer **out);
/* Appends n rows (codes, scales, ids) to the 2.0 file at path whose committed generation must be
 * expect_gen, with a new footer holding metadata: new blocks and footer after the file's end,
 * fsync, then the other commit slot (generation + 1), fsync. Under an exclusive flock. A crash at
 * any point leaves the previous commit readable. *new_gen: the generation committed. */
VEC_HIDDEN int vec_vqz_append(const char *path, uint64_t expect_gen, const char *metadata,
                              const void *codes, const float *scales, const uint64_t *ids, size_t n,
                              uint64_t *new_gen);

#endif
