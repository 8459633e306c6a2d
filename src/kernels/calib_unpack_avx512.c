/* calib_unpack_avx512.c: uint4-cal / uint6-cal rows to level bytes under the AVX-512 flags: the
 * 256-bit loop of calib_unpack_x86.h (the unpacking is a small share of a search; the integer
 * dot products that follow use the 512-bit VNNI kernel). */
#include "calib_unpack_x86.h"

void vec_cal_unpack_avx512(const uint8_t *codes, size_t n, size_t cs, size_t d, unsigned bits,
                           uint8_t *out) {
  lb_unpack_rows_256(codes, n, cs, d, bits, out);
}
