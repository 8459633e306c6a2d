/* search_wide_kernels.h: the batched f16 / bf16 / int16 scoring kernels on a widened, transposed
 * tile (search_wide_tmpl.h for x86, search_wide_neon.c). Same signatures and bits as the score
 * table's row-order entries (score_kernels.h), which they call for few queries or long rows;
 * dispatch.c puts them there. */
#ifndef VEC_SEARCH_WIDE_KERNELS_H
#define VEC_SEARCH_WIDE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_score_f16_tile_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                        const uint8_t *codes, size_t nr, size_t d, float *ip,
                                        size_t ldo);
VEC_HIDDEN void vec_score_bf16_tile_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                         const uint8_t *codes, size_t nr, size_t d, float *ip,
                                         size_t ldo);
VEC_HIDDEN void vec_score_i16_tile_avx2(const uint8_t *qs, size_t qstride, size_t nq,
                                        const uint8_t *codes, const float *scales, size_t nr,
                                        size_t d, float *ip, size_t ldo);
VEC_HIDDEN void vec_score_f16_tile_avx512(const uint8_t *qs, size_t qstride, size_t nq,
                                          const uint8_t *codes, size_t nr, size_t d, float *ip,
                                          size_t ldo);
VEC_HIDDEN void vec_score_bf16_tile_avx512(const uint8_t *qs, size_t qstride, size_t nq,
                                           const uint8_t *codes, size_t nr, size_t d, float *ip,
                                           size_t ldo);
VEC_HIDDEN void vec_score_i16_tile_avx512(const uint8_t *qs, size_t qstride, size_t nq,
                                          const uint8_t *codes, const float *scales, size_t nr,
                                          size_t d, float *ip, size_t ldo);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN void vec_score_f16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq,
                                        const uint8_t *codes, size_t nr, size_t d, float *ip,
                                        size_t ldo);
VEC_HIDDEN void vec_score_bf16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq,
                                         const uint8_t *codes, size_t nr, size_t d, float *ip,
                                         size_t ldo);
VEC_HIDDEN void vec_score_i16_tile_neon(const uint8_t *qs, size_t qstride, size_t nq,
                                        const uint8_t *codes, const float *scales, size_t nr,
                                        size_t d, float *ip, size_t ldo);
#endif

#endif
