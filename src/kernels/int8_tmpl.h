/* int8_tmpl.h: the x86 kernels of the int8 codec, written once for W = VEC_W lanes: avx2.c and
 * avx512.c include it after x86_vec.h. The per-row math is int8_row.h's, shared with every ISA.
 * No software prefetch: measured 15-40% slower from RAM on the development CPU at every distance
 * tried (512 B to 8 KB); the hardware prefetcher follows these streams alone.
 * Tails use an overlapping last vector rather than masks: masked loads were measured slower from
 * RAM on the development CPU, and rewriting a few identical codes is harmless. */
#include "int8_row.h"
#include "kernel_flags.h"
#include "x86_vec.h"

/* W floats -> W int32, x*inv rounded half to even regardless of MXCSR. */
VX_INLINE vi q32(const float *p, vf inv) { return vf_round_i32(vf_mul(vf_loadu(p), inv)); }

/* 4W floats -> 4W int8 codes in order. */
VX_INLINE vi q8x4w(const float *p, vf inv) {
  return vi_pack4_s8(q32(p, inv), q32(p + VEC_W, inv), q32(p + 2 * VEC_W, inv),
                     q32(p + 3 * VEC_W, inv));
}

size_t VEC_SFX(vec_int8_encode_)(const float *x, size_t n, size_t d, size_t ldx, int8_t *q,
                                 size_t ldq, float *scales, unsigned flags) {
  if (d < VEC_W) return vec_int8_encode_scalar(x, n, d, ldx, q, ldq, scales, flags);
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    int8_t *qr = q + i * ldq;
    uint32_t amax = vx_amax_bits(row, d);
    int kind = vec_int8_row_kind(amax);
    if (kind == VEC_ROW_NONFINITE) {
      if (streamed) _mm_sfence();
      return i;
    }
    if (kind == VEC_ROW_ZERO) {
      memset(qr, 0, d);
      scales[i] = 0.0f;
      continue;
    }
    if (kind == VEC_ROW_TINY) {
      vec_int8_encode_tiny_row(row, d, amax, qr, &scales[i]);
      continue;
    }
    float m = vec_u2f(amax);
    const vf inv = vf_set1(127.0f / m);
    scales[i] = vec_int8_scale(m);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % (4 * VEC_W) == 0 &&
        ((uintptr_t)qr & (VEC_VBYTES - 1)) == 0) {
      for (; j < d; j += 4 * VEC_W) vi_stream(qr + j, q8x4w(row + j, inv));
      streamed = 1;
      continue;
    }
    for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) vi_storeu(qr + j, q8x4w(row + j, inv));
    for (; j + VEC_W <= d; j += VEC_W) vi_store_s8(qr + j, q32(row + j, inv));
    if (j < d) vi_store_s8(qr + d - VEC_W, q32(row + d - VEC_W, inv));
  }
  if (streamed) _mm_sfence();
  return n;
}

VX_INLINE vf dq_w(const int8_t *p, vf s) { return vf_mul(vi_to_vf(vi_load_i8(p)), s); }

void VEC_SFX(vec_int8_decode_)(const int8_t *q, size_t n, size_t d, size_t ldq, const float *scales,
                               float *out, size_t ldo, unsigned flags) {
  if (d < VEC_W) {
    vec_int8_decode_scalar(q, n, d, ldq, scales, out, ldo, flags);
    return;
  }
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const int8_t *qr = q + i * ldq;
    float *o = out + i * ldo;
    const vf s = vf_set1(scales[i]);
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % VEC_W == 0 && ((uintptr_t)o & (VEC_VBYTES - 1)) == 0) {
      for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {
        vf_stream(o + j, dq_w(qr + j, s));
        vf_stream(o + j + VEC_W, dq_w(qr + j + VEC_W, s));
        vf_stream(o + j + 2 * VEC_W, dq_w(qr + j + 2 * VEC_W, s));
        vf_stream(o + j + 3 * VEC_W, dq_w(qr + j + 3 * VEC_W, s));
      }
      for (; j < d; j += VEC_W) vf_stream(o + j, dq_w(qr + j, s));
      streamed = 1;
      continue;
    }
    for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {
      vf_storeu(o + j, dq_w(qr + j, s));
      vf_storeu(o + j + VEC_W, dq_w(qr + j + VEC_W, s));
      vf_storeu(o + j + 2 * VEC_W, dq_w(qr + j + 2 * VEC_W, s));
      vf_storeu(o + j + 3 * VEC_W, dq_w(qr + j + 3 * VEC_W, s));
    }
    for (; j + VEC_W <= d; j += VEC_W) vf_storeu(o + j, dq_w(qr + j, s));
    if (j < d) vf_storeu(o + d - VEC_W, dq_w(qr + d - VEC_W, s));
  }
  if (streamed) _mm_sfence();
}
