/* calibrated.c: placeholder until this module's codecs are written: creating them fails cleanly. */
#include "codec_impl.h"

static size_t zero(const vec_codec *c) {
  (void)c;
  return 0;
}
static size_t no_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                        float *scales, unsigned flags, int *rc) {
  (void)c, (void)x, (void)n, (void)ldx, (void)codes, (void)scales, (void)flags;
  *rc = VEC_E_UNSUPPORTED;
  return 0;
}
static void no_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                      float *out, size_t ldo, unsigned flags) {
  (void)c, (void)codes, (void)scales, (void)n, (void)out, (void)ldo, (void)flags;
}
const vec_codec_ops vec_ops_uint8_cal = {VEC_CODEC_UINT8_CAL, "uint8-cal", 1, zero, zero,
                                         no_encode,           no_decode};
const vec_codec_ops vec_ops_int8_cal = {VEC_CODEC_INT8_CAL, "int8-cal", 1, zero, zero,
                                        no_encode,          no_decode};
