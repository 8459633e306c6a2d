/* search_wide_avx512.c: batched f16 / bf16 / int16 scoring for AVX-512: search_wide_tmpl.h at 16
 * lanes, 16-row tiles, 8 queries x 2 chains (dims l and l + 8 mod 16) a register block; the
 * row-order kernels of score_avx512.c take the calls it does not. */
#define VEC_W          16
#define VEC_ISA_SUFFIX avx512
#define SW_QB          8
#define SW_F16_ROWS    vec_score_table_avx512.f16
#define SW_BF16_ROWS   vec_score_table_avx512.bf16
#define SW_I16_ROWS    vec_score_table_avx512.i16
#include "search_wide_kernels.h"
#include "search_wide_tmpl.h"
