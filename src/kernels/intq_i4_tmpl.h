/* intq_i4_tmpl.h: the int4 encode/decode kernels' row and segment logic, written once for every
 * vector ISA (AVX2, AVX-512, NEON): the includer first defines the few steps that depend on the
 * vector (below), then includes this, then defines enc4_row_g32, its own reduction of a row in
 * groups of 32 (shared by the x86 pair in intq_tmpl.h; NEON's has a different shape).
 *
 * The includer provides:
 *   I4_CAN_STREAM      1 where non-temporal stores exist (x86), 0 otherwise
 *   I4_OUT_ALIGN       the alignment mask streamed float stores need (0 without streaming)
 *   i4_vf, i4_splat(f) a float vector and its broadcast
 *   i4_amax(x, len)    max of the |x| bit patterns of x[0..len), len >= 32
 *   i4_sfence()        orders streamed stores before what follows
 *   q4x32(p, inv), q4x32v(p, inv) 32 floats -> 16 code bytes (one / per-element multipliers)
 *   put16(q, v, stream) stores those 16 bytes
 *   enc4_wide(x, le, q, inv, stream) the wider steps an ISA has before the 32-float ones; returns
 *                      how far it got (0 when it has none)
 *   dq4_put(p, s, o, stream) / dq4v_put(p, sb, o) 16 code bytes -> 32 floats at o, times s or
 *                      times the per-element scales sb[0..32)
 *   I4_DEC_SEG_INLINE  optional: `inline` to hint dec4_seg inline */
#include "intq_kernels.h"

#ifndef VEC_SFX /* x86_vec.h defines it; NEON needs it here */
#define VEC_SFX_(a, b)  a##b
#define VEC_SFX_X(a, b) VEC_SFX_(a, b)
#define VEC_SFX(name)   VEC_SFX_X(name, VEC_ISA_SUFFIX)
#endif

static int enc4_row_g32(const float *row, size_t d, uint8_t *qr, float *sr, int stream);

/* An inline hint for dec4_seg, or none: gcc inlined it into the AVX2 decoder and not the AVX-512
 * one before these kernels were one template, and keeps doing so only when told (without it the
 * AVX2 int4 decoder ran 2.7% more instructions, callgrind). */
#ifndef I4_DEC_SEG_INLINE
#define I4_DEC_SEG_INLINE
#endif

/* One segment (group or row) of len floats; as vec_intq_encode_i4_seg_scalar. stream: len % 32 == 0
 * and q 16-byte aligned, so every store is a whole aligned one. */
static int enc4_seg(const float *x, size_t len, uint8_t *q, float *scale, int stream) {
  if (len < 32) return vec_intq_encode_i4_seg_scalar(x, len, q, scale);
  uint32_t amax = i4_amax(x, len);
  float m = vec_u2f(amax);
  switch (vec_int8_row_kind(amax)) {
  case VEC_ROW_NONFINITE: return 1;
  case VEC_ROW_ZERO:
    memset(q, 0, (len + 1) / 2);
    *scale = 0.0f;
    return 0;
  case VEC_ROW_TINY: vec_intq_encode_i4_tiny_seg(x, len, amax, q, scale); return 0;
  default: break;
  }
  *scale = vec_intq_scale(m, (float)VEC_I4_L);
  const float invs = (float)VEC_I4_L / m;
  const i4_vf inv = i4_splat(invs);
  const size_t le = len & ~(size_t)1; /* the last pair's start stays even: byte aligned */
  size_t j = enc4_wide(x, le, q, inv, stream);
  for (; j + 32 <= le; j += 32) put16(q + j / 2, q4x32(x + j, inv), stream);
  if (j < le) put16(q + (le - 32) / 2, q4x32(x + le - 32, inv), 0);
  if (le < len) vec_intq_quant_i4_scalar(x, le, len, 1.0f, invs, q);
  return 0;
}

/* A row in groups of g < 32 dims, too short for a vector each. Chunks of whole groups (up to 256
 * dims) get their per-element multipliers written to a buffer, then are quantized 32 at a time as
 * a row is (tail overlapping within the chunk); zero groups get inv = 0, tiny groups are redone by
 * the scalar path. A last chunk shorter than 32 goes to the scalar path whole. */
static int enc4_row_small(const float *row, size_t d, size_t g, uint8_t *qr, float *sr) {
  float invb[VEC_I4_CHUNK];
  uint32_t amx[VEC_I4_CHUNK / 2];
  const size_t per = VEC_I4_CHUNK / g * g;
  for (size_t c0 = 0; c0 < d; c0 += per) {
    const size_t cl = d - c0 < per ? d - c0 : per, ng = (cl + g - 1) / g;
    const float *x = row + c0;
    uint8_t *q = qr + c0 / 2;
    float *s = sr + c0 / g;
    if (cl < 32) {
      for (size_t k = 0, j = 0; j < cl; k++, j += g)
        if (vec_intq_encode_i4_seg_scalar(x + j, cl - j < g ? cl - j : g, q + j / 2, s + k))
          return 1;
      return 0;
    }
    int any_tiny = 0;
    for (size_t k = 0, j = 0; j < cl; k++, j += g) {
      const size_t len = cl - j < g ? cl - j : g;
      const uint32_t a = vec_intq_amax_bits(x + j, len);
      const int kind = vec_int8_row_kind(a);
      if (kind == VEC_ROW_NONFINITE) return 1;
      any_tiny |= kind == VEC_ROW_TINY;
      const float m = vec_u2f(a), inv = kind == VEC_ROW_NORMAL ? (float)VEC_I4_L / m : 0.0f;
      s[k] = vec_intq_scale(m, (float)VEC_I4_L);
      for (size_t t = 0; t < len; t++) invb[j + t] = inv;
      amx[k] = a;
    }
    const size_t le = cl & ~(size_t)1;
    size_t j = 0;
    for (; j + 32 <= le; j += 32) put16(q + j / 2, q4x32v(x + j, invb + j), 0);
    if (j < le) put16(q + (le - 32) / 2, q4x32v(x + le - 32, invb + le - 32), 0);
    if (le < cl) vec_intq_quant_i4_scalar(x, le, cl, 1.0f, invb[le], q);
    if (VEC_UNLIKELY(any_tiny))
      for (size_t k = 0; k < ng; k++)
        if (vec_int8_row_kind(amx[k]) == VEC_ROW_TINY)
          vec_intq_encode_i4_tiny_seg(x + k * g, cl - k * g < g ? cl - k * g : g, amx[k],
                                      q + k * g / 2, s + k);
  }
  return 0;
}

size_t VEC_SFX(vec_intq_encode_i4_)(const float *x, size_t n, size_t d, size_t g, size_t ldx,
                                    uint8_t *q, size_t ldq, float *scales, size_t lds,
                                    unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const float *row = x + i * ldx;
    uint8_t *qr = q + i * ldq;
    float *sr = scales + i * lds;
    int stream = I4_CAN_STREAM && (flags & VEC_KF_STREAM) && d % 32 == 0 && g % 32 == 0 &&
                 ((uintptr_t)qr & 15) == 0;
    streamed |= stream;
    int bad = 0;
    if (g == 32) {
      bad = enc4_row_g32(row, d, qr, sr, stream);
    } else if (g < 32) {
      bad = enc4_row_small(row, d, g, qr, sr);
    } else {
      for (size_t k = 0, j = 0; j < d && !bad; k++, j += g)
        bad = enc4_seg(row + j, d - j < g ? d - j : g, qr + j / 2, sr + k, stream);
    }
    if (bad) {
      if (streamed) i4_sfence();
      return i;
    }
  }
  if (streamed) i4_sfence();
  return n;
}

static I4_DEC_SEG_INLINE void dec4_seg(const uint8_t *q, size_t len, float s, float *o,
                                       int stream) {
  if (len < 32) {
    vec_intq_decode_i4_seg_scalar(q, 0, len, s, o);
    return;
  }
  const i4_vf sv = i4_splat(s);
  const size_t le = len & ~(size_t)1;
  size_t j = 0;
  for (; j + 32 <= le; j += 32) dq4_put(q + j / 2, sv, o + j, stream);
  if (j < le) dq4_put(q + (le - 32) / 2, sv, o + le - 32, 0);
  if (le < len) vec_intq_decode_i4_seg_scalar(q, le, len, s, o);
}

/* Groups of g < 32 dims: per-element scales in a buffer, as enc4_row_small. */
static void dec4_row_small(const uint8_t *qr, size_t d, size_t g, const float *sr, float *o) {
  float sb[VEC_I4_CHUNK];
  const size_t per = VEC_I4_CHUNK / g * g;
  for (size_t c0 = 0; c0 < d; c0 += per) {
    const size_t cl = d - c0 < per ? d - c0 : per;
    const uint8_t *q = qr + c0 / 2;
    const float *s = sr + c0 / g;
    if (cl < 32) {
      for (size_t k = 0, j = 0; j < cl; k++, j += g)
        vec_intq_decode_i4_seg_scalar(q, j, cl - j < g ? cl : j + g, s[k], o + c0);
      return;
    }
    for (size_t k = 0, j = 0; j < cl; k++, j += g)
      for (size_t t = j; t < cl && t < j + g; t++) sb[t] = s[k];
    const size_t le = cl & ~(size_t)1;
    for (size_t j = 0;; j += 32) {
      if (j + 32 > le) {
        if (j == le) break;
        j = le - 32; /* overlapping last block */
      }
      dq4v_put(q + j / 2, sb + j, o + c0 + j);
    }
    if (le < cl) vec_intq_decode_i4_seg_scalar(q, le, cl, sb[le], o + c0);
  }
}

void VEC_SFX(vec_intq_decode_i4_)(const uint8_t *q, size_t n, size_t d, size_t g, size_t ldq,
                                  const float *scales, size_t lds, float *out, size_t ldo,
                                  unsigned flags) {
  int streamed = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *qr = q + i * ldq;
    const float *sr = scales + i * lds;
    float *o = out + i * ldo;
    int stream = I4_CAN_STREAM && (flags & VEC_KF_STREAM) && d % 32 == 0 && g % 32 == 0 &&
                 ((uintptr_t)o & I4_OUT_ALIGN) == 0;
    streamed |= stream;
    if (g < 32) {
      dec4_row_small(qr, d, g, sr, o);
    } else if (g == 32) { /* whole groups inline; only the last, short one goes through dec4_seg */
      size_t k = 0;
      for (; 32 * k + 32 <= d; k++) dq4_put(qr + 16 * k, i4_splat(sr[k]), o + 32 * k, stream);
      if (32 * k < d) dec4_seg(qr + 16 * k, d - 32 * k, sr[k], o + 32 * k, 0);
    } else {
      for (size_t k = 0, j = 0; j < d; k++, j += g)
        dec4_seg(qr + j / 2, d - j < g ? d - j : g, sr[k], o + j, stream);
    }
  }
  if (streamed) i4_sfence();
}
