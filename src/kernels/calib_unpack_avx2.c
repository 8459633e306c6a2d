/* calib_unpack_avx2.c: uint4-cal / uint6-cal rows to level bytes with AVX2 (calib_unpack_x86.h). */
#include "calib_unpack_x86.h"

void vec_cal_unpack_avx2(const uint8_t *codes, size_t n, size_t cs, size_t d, unsigned bits,
                         uint8_t *out) {
  lb_unpack_rows_256(codes, n, cs, d, bits, out);
}
