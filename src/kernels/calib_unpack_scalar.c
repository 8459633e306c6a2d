/* calib_unpack_scalar.c: the reference unpacking of uint4-cal / uint6-cal rows to level bytes,
 * and the tails every SIMD variant hands it. */
#include "calib_unpack_kernels.h"

void vec_cal_unpack_row_from(const uint8_t *q, size_t cs, size_t d, unsigned bits, size_t k0,
                             uint8_t *t) {
  size_t k = k0;
  if (bits == 4) {
    for (; k + 1 < d; k += 2) {
      t[k] = q[k >> 1] & 15u;
      t[k + 1] = q[k >> 1] >> 4;
    }
    if (k < d) t[k] = q[k >> 1] & 15u;
    return;
  }
  /* 6 bits: four levels in each 3 bytes (little-endian 24-bit word) */
  for (; k + 3 < d; k += 4) {
    const uint8_t *b = q + k / 4 * 3;
    uint32_t w = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
    t[k] = w & 63u, t[k + 1] = (w >> 6) & 63u, t[k + 2] = (w >> 12) & 63u, t[k + 3] = w >> 18;
  }
  for (; k < d; k++) { /* the last 1..3 levels: their bytes only (the row may end mid-word) */
    size_t pos = k * 6, b = pos >> 3;
    unsigned w = q[b] | (b + 1 < cs ? (unsigned)q[b + 1] << 8 : 0u);
    t[k] = (uint8_t)((w >> (pos & 7)) & 63u);
  }
}

void vec_cal_unpack_scalar(const uint8_t *codes, size_t n, size_t cs, size_t d, unsigned bits,
                           uint8_t *out) {
  for (size_t r = 0; r < n; r++)
    vec_cal_unpack_row_from(codes + r * cs, cs, d, bits, 0, out + r * d);
}
