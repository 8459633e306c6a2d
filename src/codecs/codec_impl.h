/* codec_impl.h: what every codec module provides to the generic codec object (codec.c).
 * A module owns its math and picks its kernels with vec_active_isa(); codec.c owns argument
 * checks, threads, progress, training storage and serialization. */
#ifndef VEC_CODEC_IMPL_H
#define VEC_CODEC_IMPL_H

#include "../common/internal.h"
#include "../kernels/kernels.h"

struct vec_codec_s {
  const struct vec_codec_ops *ops;
  vec_codec_params p;
  size_t d;
  int trained;
  /* Calibrated codecs: per-dimension range [lo, hi], and derived step = (hi - lo) / 255 and
   * inv = 1 / step (0 where the range is 0). NULL for the others. One allocation of 4d floats. */
  float *lo, *hi, *step, *inv;
};

typedef struct vec_codec_ops {
  vec_codec_id id;
  const char *name;
  int needs_training;
  size_t (*code_size)(const vec_codec *c);
  size_t (*scale_count)(const vec_codec *c);
  /* Encodes rows [0, n): codes at stride code_size bytes, scales at stride scale_count floats.
   * Returns n, or the first row it cannot encode with *rc set to VEC_E_NONFINITE or VEC_E_RANGE
   * (rows after it are left unspecified). flags: VEC_KF_*. */
  size_t (*encode)(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                   float *scales, unsigned flags, int *rc);
  /* Decodes rows [0, n) into out (stride ldo floats). Scales were validated by the caller. */
  void (*decode)(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                 float *out, size_t ldo, unsigned flags);
} vec_codec_ops;

/* One per module; a module that is not built yet simply is not listed in codec.c. */
VEC_HIDDEN extern const vec_codec_ops vec_ops_int8;
VEC_HIDDEN extern const vec_codec_ops vec_ops_f16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_bf16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int4;
VEC_HIDDEN extern const vec_codec_ops vec_ops_binary;
VEC_HIDDEN extern const vec_codec_ops vec_ops_uint8_cal;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int8_cal;

/* CRC-32C (Castagnoli), the checksum of serialized codecs and (later) of .vqz blocks. */
VEC_HIDDEN uint32_t vec_crc32c(uint32_t crc, const void *data, size_t size);

#endif
