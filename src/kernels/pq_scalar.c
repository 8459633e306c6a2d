/* pq_scalar.c: the reference 4-bit fast-scan sum, and the per-ISA picker. */
#include "pq_kernels.h"

void vec_pq4_scan_scalar(const uint8_t *blk, size_t npairs, const uint8_t *lut, uint16_t *out) {
  for (size_t r = 0; r < VEC_PQ4_BLOCK; r++) {
    unsigned s = 0;
    for (size_t j = 0; j < npairs; j++) {
      uint8_t b = blk[j * VEC_PQ4_BLOCK + r];
      s += lut[j * 32 + (b & 15)] + lut[j * 32 + 16 + (b >> 4)];
    }
    out[r] = (uint16_t)s;
  }
}

vec_pq4_scan_fn vec_pq4_scan_pick(void) {
  switch (vec_active_isa()) {
#if defined(VEC_HAVE_X86_KERNELS)
  case VEC_ISA_AVX512: return vec_pq4_scan_avx512;
  case VEC_ISA_AVX2: return vec_pq4_scan_avx2;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return vec_pq4_scan_neon;
#endif
  default: return vec_pq4_scan_scalar;
  }
}
