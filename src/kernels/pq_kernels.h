/* pq_kernels.h: the 4-bit PQ fast-scan kernel, one variant per ISA.
 *
 * Layout (built on the fly by pq.c from the row-major codes, 32 rows at a time): a block holds, for
 * each byte position j of the codes (subspaces 2j and 2j + 1), the 32 rows' byte j contiguously:
 * blk[j * 32 + r]. The low nibble is subspace 2j's code, the high nibble subspace 2j + 1's. The
 * query's look-up table is quantized to uint8: lut[j * 32 + c] for subspace 2j and
 * lut[j * 32 + 16 + c] for subspace 2j + 1, so one byte shuffle (pshufb / vqtbl1q) looks up 32 (or
 * 64) rows of one subspace at once.
 *
 * Contract on the table (pq.c's query preparation keeps it): for every j, the largest entry of
 * subspace 2j plus the largest of 2j + 1 is at most 255, so a code byte's two look-ups add as
 * bytes without wrapping before they are widened, and npairs <= 256 keeps every row's sum in
 * uint16. Tables outside it give unspecified sums (no memory is touched out of bounds). */
#ifndef VEC_PQ_KERNELS_H
#define VEC_PQ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"

#define VEC_PQ4_BLOCK 32

/* out[r] = bias + delta * (float)sum_r for r in [0, 32), where sum_r = sum over j < npairs of
 * lut[j*32 + (blk[j*32 + r] & 15)] + lut[j*32 + 16 + (blk[j*32 + r] >> 4)], exact in integers
 * (the caller keeps every sum below 65536), then one float multiply and one add (no FMA): every
 * variant gives the same bits. */
typedef void (*vec_pq_scan4_fn)(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                                float delta, float *out);
/* The same for nq in 1..VEC_PQ4_QB queries at once (they share each code load): query i's table
 * at lut + i * ls, its bias[i] and delta[i], its 32 outputs at out + i * ldo; bit for bit nq
 * single scans. */
#define VEC_PQ4_QB 4
typedef void (*vec_pq_scanq4_fn)(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                                 const float *bias, const float *delta, size_t nq, float *out,
                                 size_t ldo);
/* Transposes 32 rows of cs >= 16 code bytes (row r at codes + r * cs) into blk[j * 32 + r]. */
typedef void (*vec_pq_pack4_fn)(const uint8_t *codes, size_t cs, uint8_t *blk);

VEC_HIDDEN void vec_pq_scan4_scalar(const uint8_t *blk, size_t npairs, const uint8_t *lut,
                                    float bias, float delta, float *out);
VEC_HIDDEN void vec_pq_pack4_scalar(const uint8_t *codes, size_t cs, uint8_t *blk);
/* The multi-query reference: one query at a time through vec_pq_scan4_scalar. */
VEC_HIDDEN void vec_pq_scanq4_scalar(const uint8_t *blk, size_t npairs, const uint8_t *lut,
                                     size_t ls, const float *bias, const float *delta, size_t nq,
                                     float *out, size_t ldo);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_pq_scan4_avx2(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                                  float delta, float *out);
VEC_HIDDEN void vec_pq_scanq4_avx2(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                                   const float *bias, const float *delta, size_t nq, float *out,
                                   size_t ldo);
VEC_HIDDEN void vec_pq_pack4_avx2(const uint8_t *codes, size_t cs, uint8_t *blk);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN void vec_pq_scan4_neon(const uint8_t *blk, size_t npairs, const uint8_t *lut, float bias,
                                  float delta, float *out);
VEC_HIDDEN void vec_pq_scanq4_neon(const uint8_t *blk, size_t npairs, const uint8_t *lut, size_t ls,
                                   const float *bias, const float *delta, size_t nq, float *out,
                                   size_t ldo);
#endif

#endif
