/* binary_kernels.h: the sign-bit (binary) codec's kernels, one pair per instruction set, and the
 * bit helpers they share. Layout is numpy.packbits(x > 0, axis=-1): element 8j+k of a row is bit
 * (7 - k) of byte j, and the pad bits of the last byte are 0. */
#ifndef VEC_BINARY_KERNELS_H
#define VEC_BINARY_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/internal.h"
#include "kernel_flags.h"

/* Encodes rows [0, n) (row i at x + i*ldx, its ceil(d/8) code bytes at codes + i*ldc). Returns the
 * first row holding NaN or Inf (its codes and those of later rows unspecified), or n. */
typedef size_t (*vec_binary_encode_fn)(const float *x, size_t n, size_t d, size_t ldx,
                                       uint8_t *codes, size_t ldc, unsigned flags);
/* Decodes rows [0, n): out[i*ldo + j] = +1.0f if bit j of row i is set, else -1.0f. Pad bits are
 * ignored. */
typedef void (*vec_binary_decode_fn)(const uint8_t *codes, size_t n, size_t d, size_t ldc,
                                     float *out, size_t ldo, unsigned flags);

VEC_HIDDEN size_t vec_binary_encode_scalar(const float *x, size_t n, size_t d, size_t ldx,
                                           uint8_t *codes, size_t ldc, unsigned flags);
VEC_HIDDEN void vec_binary_decode_scalar(const uint8_t *codes, size_t n, size_t d, size_t ldc,
                                         float *out, size_t ldo, unsigned flags);
#if defined(VEC_HAVE_X86_KERNELS)
VEC_HIDDEN size_t vec_binary_encode_avx2(const float *x, size_t n, size_t d, size_t ldx,
                                         uint8_t *codes, size_t ldc, unsigned flags);
VEC_HIDDEN void vec_binary_decode_avx2(const uint8_t *codes, size_t n, size_t d, size_t ldc,
                                       float *out, size_t ldo, unsigned flags);
VEC_HIDDEN size_t vec_binary_encode_avx512(const float *x, size_t n, size_t d, size_t ldx,
                                           uint8_t *codes, size_t ldc, unsigned flags);
VEC_HIDDEN void vec_binary_decode_avx512(const uint8_t *codes, size_t n, size_t d, size_t ldc,
                                         float *out, size_t ldo, unsigned flags);
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
VEC_HIDDEN size_t vec_binary_encode_neon(const float *x, size_t n, size_t d, size_t ldx,
                                         uint8_t *codes, size_t ldc, unsigned flags);
VEC_HIDDEN void vec_binary_decode_neon(const uint8_t *codes, size_t n, size_t d, size_t ldc,
                                       float *out, size_t ldo, unsigned flags);
#endif

/* |x| bit patterns at or above this are NaN or Inf. As in the int8 codec, an unsigned max of the
 * |x| bits over a row detects every non-finite value with one cheap integer op per vector. */
#define VEC_B1_ABS_MASK  0x7fffffffu
#define VEC_B1_NONFINITE 0x7f800000u

#define VEC_B1_PLUS_ONE  0x3f800000u /* bits of +1.0f */
#define VEC_B1_MINUS_ONE 0xbf800000u /* bits of -1.0f: +1.0f with the sign bit set */

/* Reverses the bit order inside each byte of w (bytes stay in place). x86 compare masks come out
 * element 0 in bit 0 (LSB first); packbits wants element 0 in bit 7 of each byte. Three swap
 * rounds on a 64-bit word cost ~15 simple ops per 64 elements, cheaper than 8 table look-ups. */
static inline uint64_t vec_b1_rev_bits_in_bytes(uint64_t w) {
  w = ((w >> 1) & 0x5555555555555555ull) | ((w & 0x5555555555555555ull) << 1);
  w = ((w >> 2) & 0x3333333333333333ull) | ((w & 0x3333333333333333ull) << 2);
  return ((w >> 4) & 0x0f0f0f0f0f0f0f0full) | ((w & 0x0f0f0f0f0f0f0f0full) << 4);
}

#endif
