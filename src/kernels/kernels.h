/* kernels.h: the kernel layer's one table. dispatch.c fills a vec_kernels once per instruction set
 * and CPU sub-feature set (a sub-table per family); codecs, search and cluster read it and never
 * choose a kernel themselves.
 *
 * Layering: src/kernels includes only its own headers and src/common/internal.h, never a header
 * of src/codecs, src/search, src/cluster, src/io or above (scripts/check_layers.sh checks it).
 * Every family has a scalar reference here, which every variant matches bit for bit (integer codes,
 * half conversions) or within its stated rounding (float sums).
 *
 * Kernels never allocate and never validate arguments: checks live one layer up, in the codecs. */
#ifndef VEC_KERNELS_H
#define VEC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"
#include "binary_kernels.h"
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
  vec_encode_int8_fn encode;
  vec_decode_int8_fn decode;
} vec_int8_kernels;

typedef struct vec_intq_kernels {
  vec_encode_i16_fn encode_i16;
  vec_decode_i16_fn decode_i16;
  vec_encode_i4_fn encode_i4;
  vec_decode_i4_fn decode_i4;
} vec_intq_kernels;

typedef struct vec_half_kernels {
  vec_encode_u16_fn encode_f16;
  vec_decode_u16_fn decode_f16;
  vec_encode_u16_fn encode_bf16;
  vec_decode_u16_fn decode_bf16;
} vec_half_kernels;

typedef struct vec_cal_kernels {
  vec_encode_cal_fn encode;
  vec_decode_cal_fn decode;
} vec_cal_kernels;

typedef struct vec_binary_kernels {
  vec_encode_binary_fn encode;
  vec_decode_binary_fn decode;
} vec_binary_kernels;

typedef struct vec_search_kernels {
  vec_dots_fn dots;
} vec_search_kernels;

typedef struct vec_rabitq_kernels {
  vec_rq_eval_fn eval;
  vec_rq_evaln_fn evaln;
  vec_rq_sum_fn sum;
  vec_rq_dot_fn dot;
  vec_rq_dot1_fn dot1;
  vec_rq_unpack_fn unpack;
  vec_rq_sign_fn sign;
} vec_rabitq_kernels;

typedef struct vec_pq_kernels {
  vec_pq4_scan_fn scan;
  vec_pq4_scanq_fn scanq;
  vec_pq4_pack_fn pack;
} vec_pq_kernels;

typedef struct vec_kmeans_kernels {
  vec_km_assign_fn assign;
} vec_kmeans_kernels;

typedef struct vec_rotation_kernels {
  vec_fwht_fn fwht;
  vec_vmul_fn vmul;
  vec_kac_fn kac;
} vec_rotation_kernels;

/* CRC-32C of data continuing from crc (0 to start). */
typedef uint32_t (*vec_crc32c_fn)(uint32_t crc, const void *data, size_t size);
typedef struct vec_crc_kernels {
  vec_crc32c_fn update;
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
