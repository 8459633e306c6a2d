/* vectro_cuda.h: libvectro_cuda, the CUDA kernels of Vectro: encode and decode of int8, int4,
 * binary, f16 and bf16, and top-k search on int8 and binary codes, on data already in GPU memory.
 *
 * Every code is bit for bit what the C library (vectro.h) writes for the same input: the same
 * max|x| from |x| bit patterns, the same reciprocal, round half to even whatever the rounding mode,
 * the same tiny-row pre-scaling and scale step-down, the same packing. Search scores are the C
 * library's too (int8: (sq * s) * dot, the query quantized by the int8 encoder; binary: Hamming
 * distance), with ties broken by the lower row index, so the top-k equals vec_search_codes'.
 *
 * Conventions: every pointer argument is a device pointer (cudaMalloc'd, managed, or a tensor's
 * data) unless it is named host_*; rows are dense (row i of x at x + i * d floats); `stream` is a
 * cudaStream_t (NULL: the legacy default stream). Calls are asynchronous on the stream except
 * where a result must reach the host (the encoders' verdict on bad rows, the search's scratch):
 * those synchronize the stream before they return. Errors are the VEC_E_* codes of vectro.h;
 * vec_cuda_last_error() gives the CUDA runtime's message for a VEC_E_CUDA. Not thread-safe per
 * stream: two host threads may call concurrently on different streams. */
#ifndef VECTRO_CUDA_H
#define VECTRO_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define VEC_CUDA_API __declspec(dllexport)
#else
#define VEC_CUDA_API __attribute__((visibility("default")))
#endif

#define VEC_E_CUDA (-20) /* the CUDA runtime failed (no device, out of device memory, ...) */

/** Number of CUDA devices usable from this process (0 when there is no driver or no device; never
 *  an error). */
VEC_CUDA_API int vec_cuda_device_count(void);

/** The last CUDA runtime message of this thread, or "" (e.g. "no CUDA-capable device"). */
VEC_CUDA_API const char *vec_cuda_last_error(void);

/** Lowest bad row of the last failed encode on this thread (VEC_E_NONFINITE, VEC_E_RANGE), or -1.
 */
VEC_CUDA_API long long vec_cuda_last_error_row(void);

/* ---- int8: per-vector symmetric, codes n * d int8, scales n floats ---- */
VEC_CUDA_API int vec_cuda_int8_encode(const float *x, size_t n, size_t d, int8_t *codes,
                                      float *scales, void *stream);
VEC_CUDA_API int vec_cuda_int8_decode(const int8_t *codes, const float *scales, size_t n, size_t d,
                                      float *out, void *stream);

/* ---- int4: groups of g dims (g = 0 or g >= d: one scale a row; else g even), ceil(d/2) code
 * bytes a row (element 2j in the low nibble of byte j), ceil(d/g) scales a row ---- */
VEC_CUDA_API int vec_cuda_int4_encode(const float *x, size_t n, size_t d, size_t g, uint8_t *codes,
                                      float *scales, void *stream);
VEC_CUDA_API int vec_cuda_int4_decode(const uint8_t *codes, const float *scales, size_t n, size_t d,
                                      size_t g, float *out, void *stream);

/* ---- binary: sign bits packed like numpy.packbits(x > 0), ceil(d/8) bytes a row ---- */
VEC_CUDA_API int vec_cuda_binary_encode(const float *x, size_t n, size_t d, uint8_t *codes,
                                        void *stream);
VEC_CUDA_API int vec_cuda_binary_decode(const uint8_t *codes, size_t n, size_t d, float *out,
                                        void *stream);

/* ---- f16 / bf16: round to nearest even, 2d bytes a row, little-endian; bf16 = 1 for bfloat16.
 * A finite value that would round to Inf is VEC_E_RANGE, NaN/Inf VEC_E_NONFINITE ---- */
VEC_CUDA_API int vec_cuda_half_encode(const float *x, size_t n, size_t d, int bf16, uint16_t *codes,
                                      void *stream);
VEC_CUDA_API int vec_cuda_half_decode(const uint16_t *codes, size_t n, size_t d, int bf16,
                                      float *out, void *stream);

/* ---- search: exhaustive top-k, k <= VEC_CUDA_MAX_K, results best first, ties to the lower row;
 * slots past n hold id UINT64_MAX and score NaN (as vec_search_codes) ---- */
#define VEC_CUDA_MAX_K 1024

/** Inner-product search of nq float32 queries (d floats each) over n int8 rows (codes, scales as
 *  vec_cuda_int8_encode / vec_int8_encode wrote them). The queries are quantized on the device by
 *  the int8 encoder, the dots are exact integers (dp4a), and scores are (sq * s_r) * dot, the
 *  bits of vec_search_codes(int8, VEC_METRIC_IP). d <= 65536.
 *  @return VEC_OK; VEC_E_NONFINITE (a query holds NaN/Inf: vec_cuda_last_error_row() = the query);
 *          VEC_E_INVALID_ARG; VEC_E_CUDA. */
VEC_CUDA_API int vec_cuda_int8_search(const int8_t *codes, const float *scales, size_t n, size_t d,
                                      const float *queries, size_t nq, size_t k, uint64_t *ids,
                                      float *scores, void *stream);

/** Hamming search of nq packed binary queries (ceil(d/8) bytes each, e.g. vec_cuda_binary_encode's
 *  output) over n binary rows; scores are the Hamming distances as floats (exact), smallest first,
 *  so the ids equal vec_search_codes(binary)'s. Pad bits past d are ignored. */
VEC_CUDA_API int vec_cuda_binary_search(const uint8_t *codes, size_t n, size_t d,
                                        const uint8_t *queries, size_t nq, size_t k, uint64_t *ids,
                                        float *scores, void *stream);

#ifdef __cplusplus
}
#endif
#endif
