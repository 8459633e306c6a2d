/* calibrated_scalar.c: the scalar reference kernels of the calibrated codecs (uint8-cal, int8-cal),
 * which every SIMD variant must match bit for bit. */
#include "calibrated_kernels.h"

size_t vec_cal_encode_scalar(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
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

void vec_cal_decode_scalar(const uint8_t *q, size_t n, size_t d, const float *lo, const float *step,
                           unsigned mode, float *out, size_t ldo, unsigned flags) {
  (void)flags;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    for (size_t j = 0; j < d; j++) o[j] = vec_cal_decode1(qr[j], lo[j], step[j], mode);
  }
}
