/* rabitq_avx512.c: AVX-512 kernels of the rabitq codec: the scale search in one 16-lane register
 * (the reference's lanes exactly), the rest rabitq_tmpl.h vectorised with -mavx512bw (and POPCNT,
 * which every AVX-512 CPU has, for the 1-bit codes). */
#include <immintrin.h>

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
