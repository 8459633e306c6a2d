/* search_wide_avx2.c: batched f16 / bf16 / int16 scoring for AVX2: search_wide_tmpl.h at 8
 * lanes, 6 queries x 2 row vectors a register block; the row-order kernels of score_avx2.c take
 * the calls it does not. */
#define VEC_W          8
#define VEC_ISA_SUFFIX avx2
#define SW_QB          6
#define SW_F16_ROWS    vec_score_table_avx2.f16
#define SW_BF16_ROWS   vec_score_table_avx2.bf16
#define SW_I16_ROWS    vec_score_table_avx2.i16
#include "search_wide_kernels.h"
#include "search_wide_tmpl.h"
