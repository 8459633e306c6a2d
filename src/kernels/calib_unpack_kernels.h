/* calib_unpack_kernels.h: unpacking uint4-cal / uint6-cal rows (levels packed LSB first, as
 * calibrated.c writes them) to one byte a level, per instruction set; every variant gives the
 * same bytes as the scalar one, which the others hand their tails. */
#ifndef VECTRO_CALIB_UNPACK_KERNELS_H
#define VECTRO_CALIB_UNPACK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_flags.h"

/* n rows of cs code bytes (rows cs apart) to n rows of d level bytes (rows d apart); bits is 4
 * or 6. Reads only the rows' own bytes: never past codes + n * cs. */
typedef void (*vec_cal_unpack_fn)(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                  unsigned bits, uint8_t *out);

VEC_HIDDEN void vec_cal_unpack_scalar(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                      unsigned bits, uint8_t *out);
/* One row's levels k0..d-1 (k0 a multiple of 4 for 6 bits, of 2 for 4 bits): the SIMD tails. */
VEC_HIDDEN void vec_cal_unpack_row_from(const uint8_t *q, size_t cs, size_t d, unsigned bits,
                                        size_t k0, uint8_t *t);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN void vec_cal_unpack_avx2(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                    unsigned bits, uint8_t *out);
VEC_HIDDEN void vec_cal_unpack_avx512(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                      unsigned bits, uint8_t *out);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN void vec_cal_unpack_neon(const uint8_t *codes, size_t n, size_t cs, size_t d,
                                    unsigned bits, uint8_t *out);
#endif

#endif
