/* rabitq_avx512.c: AVX-512 kernels of the rabitq codec: the scale search in one 16-lane register
 * (the reference's lanes exactly), the rest rabitq_tmpl.h vectorised with -mavx512bw (and POPCNT,
 * which every AVX-512 CPU has, for the 1-bit codes). */
#include <immintrin.h>
#include <string.h>

#define VEC_RQ_ISA         avx512
#define VEC_RQ_POPCNT_ATTR __attribute__((target("popcnt")))
#define VEC_RQ_HAVE_EVAL   1
#include "rabitq_tmpl.h"

void vec_rq_eval_avx512(const float *o, size_t dp, float t, float fmin, float fmax, uint8_t *u,
                        float *ip, float *nn) {
  const __m512 vt = _mm512_set1_ps(t), lo = _mm512_set1_ps(fmin), hi = _mm512_set1_ps(fmax);
  const __m512 two = _mm512_set1_ps(2.0f), one = _mm512_set1_ps(1.0f);
  __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
  for (size_t j = 0; j < dp; j += 16) {
    __m512 v = _mm512_loadu_ps(o + j);
    __m512 f =
        _mm512_roundscale_ps(_mm512_mul_ps(vt, v), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
    __m512 y = _mm512_add_ps(_mm512_mul_ps(two, f), one);
    a = _mm512_add_ps(a, _mm512_mul_ps(y, v));
    b = _mm512_add_ps(b, _mm512_mul_ps(y, y));
    if (u)
      _mm_storeu_si128((__m128i *)(void *)(u + j),
                       _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_sub_ps(f, lo))));
  }
  float la[16], lb[16];
  _mm512_storeu_ps(la, a);
  _mm512_storeu_ps(lb, b);
  *ip = rq_tree_avx512(la);
  *nn = rq_tree_avx512(lb);
}

/* One 64-bit word of a 1-bit code row against the query's eight planes of that word (one zmm):
 * AND with the broadcast word, VPOPCNTQ, and the eight counts accumulate in eight lanes. */
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) void
vec_rq_dot1_avx512vpop(const uint64_t *planes, size_t w, const uint8_t *codes, size_t cs, size_t nr,
                       int64_t *out) {
  const __m512i weights = _mm512_setr_epi64(1, 2, 4, 8, 16, 32, 64, 128);
  size_t full = cs / 8;
  for (size_t r = 0; r < nr; r++) {
    const uint8_t *row = codes + r * cs;
    __m512i acc = _mm512_setzero_si512();
    uint64_t ones = 0;
    for (size_t i = 0; i < w; i++) {
      uint64_t c = 0;
      if (i < full)
        memcpy(&c, row + 8 * i, 8);
      else
        memcpy(&c, row + 8 * i, cs - 8 * i);
      __m512i p = _mm512_loadu_si512((const void *)(planes + 8 * i));
      acc = _mm512_add_epi64(
          acc, _mm512_popcnt_epi64(_mm512_and_si512(p, _mm512_set1_epi64((long long)c))));
      ones += (uint64_t)_mm_popcnt_u64(c);
    }
    /* Lane k counts bit k of the query: weight 2^k (a shift, as in the scalar reference). */
    int64_t s =
        _mm512_reduce_add_epi64(_mm512_sllv_epi64(acc, _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7)));
    (void)weights;
    out[r] = s - 128 * (int64_t)ones;
  }
}
