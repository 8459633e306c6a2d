/* search.h: the flat search's entry points for vec_index (private): the public ones plus a bitmap
 * of the rows that may be returned (tombstones and filters), and norms passed in. */
#ifndef VEC_SEARCH_H
#define VEC_SEARCH_H

#include "../common/internal.h"

/* vec_search_codes where only rows whose bit is set in allow (bit i of allow[i / 64]) may enter
 * the top k; allow NULL: every row. Does not clear the error detail (the caller has). */
VEC_HIDDEN int vec_search_codes_masked(const vec_codec *codec, const void *codes,
                                       const float *scales, size_t n, const float *row_sqnorms,
                                       const uint64_t *allow, const float *queries, size_t nq,
                                       size_t ldq, size_t k, vec_metric metric, uint64_t *ids,
                                       float *scores, const vec_batch_opts *opts);

/* vec_search_rescore with the same mask; row_sqnorms are the codes' norms (oversample path). */
VEC_HIDDEN int vec_search_rescore_masked(const vec_codec *codec, const void *codes,
                                         const float *scales, size_t n, const float *row_sqnorms,
                                         const float *x, size_t ldx, const float *x_sqnorms,
                                         const uint64_t *allow, const float *queries, size_t nq,
                                         size_t ldq, size_t k, vec_metric metric, double oversample,
                                         double bound_scale, uint64_t *ids, float *scores,
                                         vec_search_stats *stats, const vec_batch_opts *opts);

#endif
