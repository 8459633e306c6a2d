/* kernels.h: the kernel layer's one table. dispatch.c fills a vec_kernels once per instruction set
 * and CPU sub-feature set (a sub-table per family); codecs, search and cluster read it and never
 * choose a kernel themselves.
 *
 * Layering: src/kernels includes only its own headers and src/common/internal.h, never a header
 * of src/codecs, src/search, src/cluster, src/io or above (scripts/check_layers.sh checks it).
 * Every family has a scalar reference here, which every variant matches bit for bit (integer codes,
 * half conversions) or within its stated rounding (float sums).
 *
 * Naming: every kernel is vec_<family>_<op>_<isa>, the family being the sub-table's name
 * (vec_int8_encode_avx512, vec_intq_decode_i4_neon, vec_half_encode_bf16_scalar,
 * vec_cal_decode_avx2, vec_binary_encode_neon, vec_rabitq_dot1_avx512vpop, vec_pq_scan4_avx2,
 * vec_kmeans_assign_avx512, vec_rotation_fwht_neon, vec_crc_update_sse42). A variant that needs a
 * sub-feature appends it to the ISA (avx512vnni, avx512vpop). Score kernels name the code kind,
 * then the layout (vec_score_i8_tile_avx2, vec_score_u8_rows_avx2); per-ISA tables are
 * vec_<family>_table_<isa>. tools/rename_kernels.sh lists any name off this scheme.
 *
 * Templates: an AVX2/AVX-512 pair that differs only in width is one *_tmpl.h written over
 * x86_vec.h and compiled twice (VEC_W = 8 or 16, VEC_ISA_SUFFIX avx2 or avx512); docs/internals.md
 * lists them, and the twins that differ in algorithm.
 *
 * Kernels never allocate and never validate arguments: checks live one layer up, in the codecs. */
#ifndef VEC_KERNELS_H
#define VEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"
#include "binary_kernels.h"
#include "calib_unpack_kernels.h"
#include "calibrated_kernels.h"
#include "crc_kernels.h"
#include "half_kernels.h"
#include "int8_row.h"
#include "intq_kernels.h"
#include "kernel_flags.h"
#include "kmeans_kernels.h"
#include "pq_kernels.h"
#include "rabitq_kernels.h"
#include "rotation_kernels.h"
#include "score_kernels.h"
#include "search_kernels.h"

/* ---- Sub-tables, one per family ---- */
typedef struct vec_int8_kernels {
  vec_int8_encode_fn encode;
  vec_int8_decode_fn decode;
} vec_int8_kernels;

typedef struct vec_intq_kernels {
  vec_intq_encode_i16_fn encode_i16;
  vec_intq_decode_i16_fn decode_i16;
  vec_intq_encode_i4_fn encode_i4;
  vec_intq_decode_i4_fn decode_i4;
} vec_intq_kernels;

typedef struct vec_half_kernels {
  vec_half_encode_fn encode_f16;
  vec_half_decode_fn decode_f16;
  vec_half_encode_fn encode_bf16;
  vec_half_decode_fn decode_bf16;
} vec_half_kernels;

typedef struct vec_cal_kernels {
  vec_cal_encode_fn encode;
  vec_cal_decode_fn decode;
  vec_cal_unpack_fn unpack; /* uint4-cal/uint6-cal levels to bytes */
} vec_cal_kernels;

typedef struct vec_binary_kernels {
  vec_binary_encode_fn encode;
  vec_binary_decode_fn decode;
} vec_binary_kernels;

typedef struct vec_search_kernels {
  vec_search_dots_fn dots;
} vec_search_kernels;

typedef struct vec_rabitq_kernels {
  vec_rabitq_eval_fn eval;
  vec_rabitq_evaln_fn evaln;
  vec_rabitq_sum_fn sum;
  vec_rabitq_dot_fn dot;
  vec_rabitq_dot1_fn dot1;
  vec_rabitq_unpack_fn unpack;
  vec_rabitq_sign_fn sign;
} vec_rabitq_kernels;

typedef struct vec_pq_kernels {
  vec_pq_scan4_fn scan;
  vec_pq_scanq4_fn scanq;
  vec_pq_pack4_fn pack;
} vec_pq_kernels;

typedef struct vec_kmeans_kernels {
  vec_kmeans_assign_fn assign;
} vec_kmeans_kernels;

typedef struct vec_rotation_kernels {
  vec_rotation_fwht_fn fwht;
  vec_rotation_vmul_fn vmul;
  vec_rotation_kac_fn kac;
} vec_rotation_kernels;

/* CRC-32C of data continuing from crc (0 to start). */
typedef uint32_t (*vec_crc_update_fn)(uint32_t crc, const void *data, size_t size);
typedef struct vec_crc_kernels {
  vec_crc_update_fn update;
} vec_crc_kernels;

/* The whole table. `features` is the VEC_CPU_* set the table was filled for: the CPU's, less what
 * VECTRO_DISABLE_CPU_FEATURES or vec_disable_cpu_features() switched off. In `score`, the optional
 * variants (i8_vnni, b1_popcnt, ...) are NULL where their feature is off, and f16 is the scalar
 * kernel where F16C is off, so readers take the first non-NULL entry. */
typedef struct vec_kernels {
  vec_isa isa;
  unsigned features;
  vec_int8_kernels int8;
  vec_intq_kernels intq;
  vec_half_kernels half;
  vec_cal_kernels cal;
  vec_binary_kernels binary;
  vec_score_kernels score;
  vec_search_kernels search;
  vec_rabitq_kernels rabitq;
  vec_pq_kernels pq;
  vec_kmeans_kernels kmeans;
  vec_rotation_kernels rotation;
  vec_crc_kernels crc;
} vec_kernels;

/* The table for the active instruction set; filled on first use (thread-safe, idempotent). Read it
 * per call, not once per object: vec_set_isa() may change it between calls. */
VEC_HIDDEN const vec_kernels *vec_kernels_get(void);

/* Fills *k for `isa` with the sub-features in `features` (VEC_CPU_* bits; those this CPU lacks are
 * dropped). Returns 0 when `isa` was not compiled for this target (*k is then the scalar table).
 * For tests and benchmarks that compare variants side by side. */
VEC_HIDDEN int vec_kernels_fill(vec_kernels *k, vec_isa isa, unsigned features);

/* Whether int4 codes with groups of g dims are best scored straight from the codes (a SIMD kernel
 * takes the shape) rather than decoded a tile at a time and scored as floats. */
VEC_HIDDEN int vec_score_i4_preferred(size_t d, size_t g);

#endif
