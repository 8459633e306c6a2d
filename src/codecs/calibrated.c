/* calibrated.c: the calibrated codecs uint8-cal and int8-cal (per-dimension ranges learned by
 * codec.c, as sentence-transformers' quantize_embeddings), their scalar reference kernels, and
 * the ops that pick a kernel for the active instruction set. */
#include "../kernels/calibrated_kernels.h"
#include "codec_impl.h"

size_t vec_encode_cal_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                             const float *lo, const float *step, unsigned mode, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    uint32_t amax = 0;
    for (size_t j = 0; j < d; j++) {
      uint32_t a = vec_cal_f2u(row[j]) & VEC_CAL_ABS_MASK;
      amax = a > amax ? a : amax;
    }
    /* Checked before any division: a NaN or Inf never reaches the rounding code. */
    if (amax >= VEC_CAL_NONFINITE_BITS) return i;
    for (size_t j = 0; j < d; j++) qr[j] = vec_cal_code(row[j], lo[j], step[j], mode);
  }
  return n;
}

void vec_decode_cal_scalar(const uint8_t *q, size_t n, size_t d, const float *lo, const float *step,
                           unsigned mode, float *out, size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    for (size_t j = 0; j < d; j++) o[j] = vec_cal_decode1(qr[j], lo[j], step[j], mode);
  }
}

const vec_cal_kernels vec_cal_kernels_scalar = {VEC_ISA_SCALAR, vec_encode_cal_scalar,
                                                vec_decode_cal_scalar};

static unsigned mode_of(const vec_codec *c) {
  return (c->ops->id == VEC_CODEC_INT8_CAL ? VEC_CAL_INT8 : 0u) |
         (c->p.rounding == VEC_ROUND_TRUNCATE ? VEC_CAL_TRUNC : 0u);
}

static size_t cal_code_size(const vec_codec *c) { return c->d; }
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

static size_t cal_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                         float *scales, unsigned flags, int *rc) {
  (void)scales;
  size_t done =
      vec_cal_kernels_active()->encode(x, n, c->d, ldx, codes, c->lo, c->step, mode_of(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void cal_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                       float *out, size_t ldo, unsigned flags) {
  (void)scales;
  vec_cal_kernels_active()->decode(codes, n, c->d, c->lo, c->step, mode_of(c), out, ldo, flags);
}

const vec_codec_ops vec_ops_uint8_cal = {.id = VEC_CODEC_UINT8_CAL,
                                         .name = "uint8-cal",
                                         .needs_training = 1,
                                         .code_size = cal_code_size,
                                         .scale_count = no_scales,
                                         .encode = cal_encode,
                                         .decode = cal_decode};
const vec_codec_ops vec_ops_int8_cal = {.id = VEC_CODEC_INT8_CAL,
                                        .name = "int8-cal",
                                        .needs_training = 1,
                                        .code_size = cal_code_size,
                                        .scale_count = no_scales,
                                        .encode = cal_encode,
                                        .decode = cal_decode};
