/* binary.c: the binary (sign-bit) codec: one bit per dimension, bit = (x > 0), packed exactly as
 * numpy.packbits(x > 0, axis=-1); the kernels live in src/kernels/binary_*.c.
 *
 * The codes are byte-identical to sentence-transformers' "ubinary" precision
 * (np.packbits(emb > 0).astype(uint8)); its "binary" precision is the same bytes minus 128 as int8.
 * They can be searched as they are with FAISS IndexBinaryFlat (Hamming distance).
 *
 * Decoding gives +1.0f for a set bit and -1.0f otherwise. Binary keeps only signs, not magnitudes,
 * so a reconstruction is compared with its input by cosine (direction), never by L2 error: its
 * norm is sqrt(d) whatever the input's. */
#include "../kernels/binary_kernels.h"
#include "codec_impl.h"

static size_t binary_code_size(const vec_codec *c) { return (c->d + 7) / 8; }
static size_t no_scales(const vec_codec *c) {
  (void)c;
  return 0;
}

static vec_encode_binary_fn pick_encode(void) {
  switch (vec_active_isa()) {
#if defined(VEC_HAVE_X86_KERNELS)
  case VEC_ISA_AVX512: return vec_encode_binary_avx512;
  case VEC_ISA_AVX2: return vec_encode_binary_avx2;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return vec_encode_binary_neon;
#endif
  default: return vec_encode_binary_scalar;
  }
}

static vec_decode_binary_fn pick_decode(void) {
  switch (vec_active_isa()) {
#if defined(VEC_HAVE_X86_KERNELS)
  case VEC_ISA_AVX512: return vec_decode_binary_avx512;
  case VEC_ISA_AVX2: return vec_decode_binary_avx2;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return vec_decode_binary_neon;
#endif
  default: return vec_decode_binary_scalar;
  }
}

/* NaN has no meaningful sign, and Inf is refused too, as by every other codec, so that one bad
 * embedding is reported the same way whichever codec a pipeline uses. */
static size_t binary_encode_op(const vec_codec *c, const float *x, size_t n, size_t ldx,
                               uint8_t *codes, float *scales, unsigned flags, int *rc) {
  (void)scales;
  size_t done = pick_encode()(x, n, c->d, ldx, codes, binary_code_size(c), flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void binary_decode_op(const vec_codec *c, const uint8_t *codes, const float *scales,
                             size_t n, float *out, size_t ldo, unsigned flags) {
  (void)scales;
  pick_decode()(codes, n, c->d, binary_code_size(c), out, ldo, flags);
}

const vec_codec_ops vec_ops_binary = {.id = VEC_CODEC_BINARY,
                                      .name = "binary",
                                      .needs_training = 0,
                                      .code_size = binary_code_size,
                                      .scale_count = no_scales,
                                      .encode = binary_encode_op,
                                      .decode = binary_decode_op};
