/* calib_unpack_neon.c: uint4-cal / uint6-cal rows to level bytes with NEON: vst2 interleaves the
 * two nibbles of 16 bytes, vld3 / vst4 turn 24 bytes into 32 six-bit levels. */
#include <arm_neon.h>

#include "calib_unpack_kernels.h"

void vec_cal_unpack_neon(const uint8_t *codes, size_t n, size_t cs, size_t d, unsigned bits,
                         uint8_t *out) {
  const uint8x16_t m4 = vdupq_n_u8(15);
  const uint8x8_t m6 = vdup_n_u8(63), m4h = vdup_n_u8(15), m2 = vdup_n_u8(3);
  for (size_t r = 0; r < n; r++) {
    const uint8_t *q = codes + r * cs;
    uint8_t *t = out + r * d;
    size_t k = 0;
    if (bits == 4) {
      for (; k + 32 <= d; k += 32) {
        uint8x16_t v = vld1q_u8(q + k / 2);
        uint8x16x2_t o = {{vandq_u8(v, m4), vshrq_n_u8(v, 4)}};
        vst2q_u8(t + k, o);
      }
    } else {
      for (; k + 32 <= d; k += 32) { /* 24 bytes: groups of 3 de-interleaved into 8 lanes each */
        uint8x8x3_t b = vld3_u8(q + k / 4 * 3);
        uint8x8x4_t o;
        o.val[0] = vand_u8(b.val[0], m6);
        o.val[1] = vorr_u8(vshr_n_u8(b.val[0], 6), vshl_n_u8(vand_u8(b.val[1], m4h), 2));
        o.val[2] = vorr_u8(vshr_n_u8(b.val[1], 4), vshl_n_u8(vand_u8(b.val[2], m2), 4));
        o.val[3] = vshr_n_u8(b.val[2], 2);
        vst4_u8(t + k, o);
      }
    }
    vec_cal_unpack_row_from(q, cs, d, bits, k, t);
  }
}
