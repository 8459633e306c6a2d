/* parallel.h: the engine that splits a batch of rows over threads, reports progress and cancels. */
#ifndef VEC_PARALLEL_H
#define VEC_PARALLEL_H

#include "../common/internal.h"

/* Processes rows [begin, end). Returns VEC_OK, or an error code with *bad_row set to the row at
 * fault (rows after it in the range need not be processed). */
typedef int (*vec_rows_fn)(void *ctx, size_t begin, size_t end, size_t *bad_row);

/* Runs fn over rows [0, n) in contiguous chunks on up to opts->threads threads (the caller's
 * included); row_bytes (the bytes a row reads plus writes) sizes the chunks and decides whether
 * threads pay off. On an error from fn, returns it with *bad_row the lowest failing row: every
 * chunk below that row still runs, so the answer does not depend on scheduling. Returns
 * VEC_E_CANCELLED if the progress callback asked to stop. */
VEC_HIDDEN int vec_parallel_rows(size_t n, size_t row_bytes, vec_rows_fn fn, void *ctx,
                                 const vec_batch_opts *opts, size_t *bad_row);

/* Validates opts (NULL means defaults) and copies it into *out. */
VEC_HIDDEN int vec_batch_opts_resolve(const vec_batch_opts *opts, vec_batch_opts *out);

#endif
