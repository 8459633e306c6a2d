/* calibrated_tmpl.h: the x86 kernels of the calibrated codecs (uint8-cal, int8-cal), written once
 * for W = VEC_W lanes: calibrated_avx2.c and calibrated_avx512.c include it after x86_vec.h. Same
 * math as vec_cal_code / vec_cal_decode1, W dimensions at a time. */
#include "calibrated_kernels.h"
#include "x86_vec.h"

/* W dimensions -> W codes as int32 (the uint8 level; int8 codes are flipped when packed). Folds
 * the |x| bits into *bad to catch NaN/Inf. */
VX_INLINE vi cal_w(const float *x, const float *lo, const float *st, unsigned mode, vi *bad) {
  vf xv = vf_loadu(x), s = vf_loadu(st);
  *bad = vi_max_u32(*bad, vi_and(vf_bits(xv), vi_set1_32(VEC_CAL_ABS_MASK)));
  vf v = vf_div(vf_sub(xv, vf_loadu(lo)), s);
  /* Step 0 (a constant dimension): v is 0/0 or +-Inf; force 0, the lowest code. */
  v = vf_zero_where_zero(s, v);
  v = vf_min(vf_max(v, vf_zero()), vf_set1(255.0f));
  return (mode & VEC_CAL_TRUNC) ? vf_trunc_i32(v) : vf_round_i32(v);
}

/* 4W dimensions -> 4W code bytes in order. */
VX_INLINE vi cal_4w(const float *x, const float *lo, const float *st, unsigned mode, vi *bad) {
  vi a = cal_w(x, lo, st, mode, bad);
  vi b = cal_w(x + VEC_W, lo + VEC_W, st + VEC_W, mode, bad);
  vi c = cal_w(x + 2 * VEC_W, lo + 2 * VEC_W, st + 2 * VEC_W, mode, bad);
  vi d = cal_w(x + 3 * VEC_W, lo + 3 * VEC_W, st + 3 * VEC_W, mode, bad);
  return vi_pack4_u8(a, b, c, d, (mode & VEC_CAL_INT8) != 0);
}

/* Each mode gets its own copy of the loops with the mode folded to constants. */
VX_INLINE size_t VEC_SFX(cal_encode_body_)(const float *x, size_t n, size_t d, size_t ldx,
                                           uint8_t *q, const float *lo, const float *st,
                                           unsigned mode, unsigned flags) {
  const vi nonfinite = vi_set1_32(VEC_CAL_NONFINITE_BITS);
  int stream =
      (flags & VEC_KF_STREAM) && d % (4 * VEC_W) == 0 && ((uintptr_t)q & (VEC_VBYTES - 1)) == 0;
  const int flip = (mode & VEC_CAL_INT8) != 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * d;
    vi bad = vi_zero();
    size_t j = 0;
    if (stream) {
      for (; j < d; j += 4 * VEC_W) vi_stream(qr + j, cal_4w(row + j, lo + j, st + j, mode, &bad));
    } else {
      for (; j + 4 * VEC_W <= d; j += 4 * VEC_W)
        vi_storeu(qr + j, cal_4w(row + j, lo + j, st + j, mode, &bad));
      for (; j + VEC_W <= d; j += VEC_W)
        vi_store_bytes(qr + j, cal_w(row + j, lo + j, st + j, mode, &bad), flip);
      /* Overlapping last vector: rewrites a few identical codes instead of masking. */
      if (j < d) {
        size_t k = d - VEC_W;
        vi_store_bytes(qr + k, cal_w(row + k, lo + k, st + k, mode, &bad), flip);
      }
    }
    if (VEC_UNLIKELY(vi_any_ge_u32(bad, nonfinite))) {
      if (stream) _mm_sfence();
      return i;
    }
  }
  if (stream) _mm_sfence();
  return n;
}

size_t VEC_SFX(vec_cal_encode_)(const float *x, size_t n, size_t d, size_t ldx, uint8_t *q,
                                const float *lo, const float *st, unsigned mode, unsigned flags) {
  if (d < VEC_W) return vec_cal_encode_scalar(x, n, d, ldx, q, lo, st, mode, flags);
  switch (mode) {
  case 0: return VEC_SFX(cal_encode_body_)(x, n, d, ldx, q, lo, st, 0, flags);
  case VEC_CAL_INT8: return VEC_SFX(cal_encode_body_)(x, n, d, ldx, q, lo, st, VEC_CAL_INT8, flags);
  case VEC_CAL_TRUNC:
    return VEC_SFX(cal_encode_body_)(x, n, d, ldx, q, lo, st, VEC_CAL_TRUNC, flags);
  default:
    return VEC_SFX(cal_encode_body_)(x, n, d, ldx, q, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, flags);
  }
}

/* W bytes -> W reconstructions, lo + t * step with t from vec_cal_level (exact in float32). */
VX_INLINE vf dcal_w(const uint8_t *q, const float *lo, const float *st, unsigned mode) {
  vf t;
  if (mode & VEC_CAL_INT8) {
    t = vf_add(vi_to_vf(vi_load_i8(q)), vf_set1(128.0f));
    if (mode & VEC_CAL_TRUNC) t = vf_add(t, vf_set1(0.5f));
  } else {
    t = vi_to_vf(vi_load_u8(q));
    if (mode & VEC_CAL_TRUNC) t = vf_add(t, vf_set1(0.5f));
  }
  return vf_add(vf_loadu(lo), vf_mul(t, vf_loadu(st)));
}

VX_INLINE void VEC_SFX(cal_decode_body_)(const uint8_t *q, size_t n, size_t d, const float *lo,
                                         const float *st, unsigned mode, float *out, size_t ldo,
                                         unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * d;
    float *o = out + i * ldo;
    size_t j = 0;
    if ((flags & VEC_KF_STREAM) && d % VEC_W == 0 && ((uintptr_t)o & (VEC_VBYTES - 1)) == 0) {
      for (; j < d; j += VEC_W) vf_stream(o + j, dcal_w(qr + j, lo + j, st + j, mode));
      streamed = 1;
      continue;
    }
    for (; j + 4 * VEC_W <= d; j += 4 * VEC_W) {
      vf_storeu(o + j, dcal_w(qr + j, lo + j, st + j, mode));
      vf_storeu(o + j + VEC_W, dcal_w(qr + j + VEC_W, lo + j + VEC_W, st + j + VEC_W, mode));
      size_t k = j + 2 * VEC_W;
      vf_storeu(o + k, dcal_w(qr + k, lo + k, st + k, mode));
      k += VEC_W;
      vf_storeu(o + k, dcal_w(qr + k, lo + k, st + k, mode));
    }
    for (; j + VEC_W <= d; j += VEC_W) vf_storeu(o + j, dcal_w(qr + j, lo + j, st + j, mode));
    if (j < d) {
      size_t k = d - VEC_W;
      vf_storeu(o + k, dcal_w(qr + k, lo + k, st + k, mode));
    }
  }
  if (streamed) _mm_sfence();
}

void VEC_SFX(vec_cal_decode_)(const uint8_t *q, size_t n, size_t d, const float *lo,
                              const float *st, unsigned mode, float *out, size_t ldo,
                              unsigned flags) {
  if (d < VEC_W) {
    vec_cal_decode_scalar(q, n, d, lo, st, mode, out, ldo, flags);
    return;
  }
  switch (mode) {
  case 0: VEC_SFX(cal_decode_body_)(q, n, d, lo, st, 0, out, ldo, flags); break;
  case VEC_CAL_INT8:
    VEC_SFX(cal_decode_body_)(q, n, d, lo, st, VEC_CAL_INT8, out, ldo, flags);
    break;
  case VEC_CAL_TRUNC:
    VEC_SFX(cal_decode_body_)(q, n, d, lo, st, VEC_CAL_TRUNC, out, ldo, flags);
    break;
  default:
    VEC_SFX(cal_decode_body_)(q, n, d, lo, st, VEC_CAL_INT8 | VEC_CAL_TRUNC, out, ldo, flags);
  }
}
