/* test_cuda.c: libvectro_cuda against the C library, bit for bit: every encoder's codes and scales,
 * every decoder's floats, the lowest bad row, and the search's ids and scores, on odd dimensions,
 * rounding ties, tiny, huge, zero and denormal rows. Exits 77 (ctest's skip) without a GPU. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vectro.h"
#include "vectro_cuda.h"

static int failures = 0;
#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
    }                                                                                              \
  } while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* xorshift64*: deterministic across machines */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0;
}
static float gauss(void) {
  double u = urand() + 1e-300, v = urand();
  return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* Rows that exercise every path: Gaussian, exact rounding ties for int8 and int4, zero, tiny
 * (below 2^-96), huge (near FLT_MAX), denormals and -0. */
static float *make_rows(size_t n, size_t d) {
  float *x = malloc(n * d * sizeof *x);
  for (size_t i = 0; i < n; i++) {
    float *r = x + i * d;
    int kind = (int)(i % 8);
    for (size_t j = 0; j < d; j++) {
      float g = gauss();
      switch (kind) {
      case 1: r[j] = (float)((int)(j % 127) - 63) + 0.5f; break; /* m = 63.5 ... ties at 127/m */
      case 2: r[j] = 0.0f; break;
      case 3: r[j] = g * 1e-35f; break;
      case 4: r[j] = g * 1e37f; break;
      case 5: r[j] = j % 3 ? g * 1e-40f : -0.0f; break;
      case 6: r[j] = (float)((int)(j % 15) - 7) * 0.5f; break; /* int4 ties */
      default: r[j] = g;
      }
    }
    if (kind == 1) r[0] = 127.0f; /* m = 127: every x.5 is an exact tie */
    if (kind == 6) r[0] = 7.0f;
  }
  return x;
}

static void *dev_copy(const void *h, size_t bytes) {
  void *p = NULL;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) abort();
  if (bytes) cudaMemcpy(p, h, bytes, cudaMemcpyHostToDevice);
  return p;
}
static void *dev_zero(size_t bytes) {
  void *p = NULL;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) abort();
  cudaMemset(p, 0xAB, bytes ? bytes : 1); /* garbage: every byte must be written */
  return p;
}
static void to_host(void *h, const void *dev, size_t bytes) {
  cudaMemcpy(h, dev, bytes, cudaMemcpyDeviceToHost);
}

static vec_codec *codec(vec_codec_id id, size_t d, unsigned group) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  p.group_size = group;
  vec_codec *c = NULL;
  if (vec_codec_create(&p, &c) != VEC_OK) abort();
  return c;
}

/* Encodes and decodes n x d rows on both sides and compares every byte. */
static void check_codec(vec_codec_id id, size_t n, size_t d, unsigned group) {
  vec_codec *c = codec(id, d, group);
  size_t cs = vec_codec_code_size(c), ns = vec_codec_scale_count(c);
  float *x = make_rows(n, d);
  uint8_t *codes = malloc(n * cs), *gcodes = malloc(n * cs);
  float *scales = calloc(n * ns + 1, sizeof(float)), *gscales = calloc(n * ns + 1, sizeof(float));
  int rc = vec_codec_encode(c, x, n, d, codes, scales, NULL);
  if (id == VEC_CODEC_F16 && rc == VEC_E_RANGE) { /* huge rows: refused on both sides alike */
    for (size_t i = 0; i < n; i++)
      if (i % 8 == 4)
        for (size_t j = 0; j < d; j++) x[i * d + j] *= 1e-33f;
    rc = vec_codec_encode(c, x, n, d, codes, scales, NULL);
  }
  CHECK(rc == VEC_OK, "cpu encode %s d=%zu: %s", vec_codec_name(id), d, vec_strerror(rc));
  float *dx = dev_copy(x, n * d * 4);
  void *dcodes = dev_zero(n * cs);
  float *dscales = dev_zero((n * ns + 1) * 4);
  switch (id) {
  case VEC_CODEC_INT8: rc = vec_cuda_int8_encode(dx, n, d, dcodes, dscales, NULL); break;
  case VEC_CODEC_INT4: rc = vec_cuda_int4_encode(dx, n, d, group, dcodes, dscales, NULL); break;
  case VEC_CODEC_BINARY: rc = vec_cuda_binary_encode(dx, n, d, dcodes, NULL); break;
  case VEC_CODEC_F16: rc = vec_cuda_half_encode(dx, n, d, 0, dcodes, NULL); break;
  case VEC_CODEC_BF16: rc = vec_cuda_half_encode(dx, n, d, 1, dcodes, NULL); break;
  default: abort();
  }
  CHECK(rc == VEC_OK, "gpu encode %s d=%zu: %d %s", vec_codec_name(id), d, rc,
        vec_cuda_last_error());
  to_host(gcodes, dcodes, n * cs);
  int has_scales = id == VEC_CODEC_INT8 || id == VEC_CODEC_INT4;
  if (has_scales) to_host(gscales, dscales, n * ns * 4);
  for (size_t i = 0; i < n; i++) {
    if (memcmp(codes + i * cs, gcodes + i * cs, cs) != 0) {
      CHECK(0, "%s d=%zu g=%u: codes of row %zu differ", vec_codec_name(id), d, group, i);
      break;
    }
    if (has_scales && memcmp(scales + i * ns, gscales + i * ns, ns * 4) != 0) {
      CHECK(0, "%s d=%zu g=%u: scales of row %zu differ", vec_codec_name(id), d, group, i);
      break;
    }
  }
  /* decode the CPU's codes on the GPU and compare with the CPU's decode, bit for bit */
  float *out = malloc(n * d * 4), *gout = malloc(n * d * 4);
  CHECK(vec_codec_decode(c, codes, scales, n, out, d, NULL) == VEC_OK, "cpu decode");
  cudaMemcpy(dcodes, codes, n * cs, cudaMemcpyHostToDevice);
  cudaMemcpy(dscales, scales, (n * ns + 1) * 4, cudaMemcpyHostToDevice);
  float *dout = dev_zero(n * d * 4);
  switch (id) {
  case VEC_CODEC_INT8: rc = vec_cuda_int8_decode(dcodes, dscales, n, d, dout, NULL); break;
  case VEC_CODEC_INT4: rc = vec_cuda_int4_decode(dcodes, dscales, n, d, group, dout, NULL); break;
  case VEC_CODEC_BINARY: rc = vec_cuda_binary_decode(dcodes, n, d, dout, NULL); break;
  case VEC_CODEC_F16: rc = vec_cuda_half_decode(dcodes, n, d, 0, dout, NULL); break;
  case VEC_CODEC_BF16: rc = vec_cuda_half_decode(dcodes, n, d, 1, dout, NULL); break;
  default: abort();
  }
  CHECK(rc == VEC_OK, "gpu decode %s", vec_codec_name(id));
  to_host(gout, dout, n * d * 4);
  CHECK(memcmp(out, gout, n * d * 4) == 0, "%s d=%zu g=%u: decoded floats differ",
        vec_codec_name(id), d, group);
  cudaFree(dx);
  cudaFree(dcodes);
  cudaFree(dscales);
  cudaFree(dout);
  free(x), free(codes), free(gcodes), free(scales), free(gscales), free(out), free(gout);
  vec_codec_free(c);
}

/* NaN in rows 70 and 40 of 100: the lowest (40) is named, with the error code. */
static void check_bad_rows(void) {
  size_t n = 100, d = 37;
  float *x = make_rows(n, d);
  x[70 * d + 3] = NAN;
  x[40 * d + 36] = INFINITY;
  float *dx = dev_copy(x, n * d * 4);
  void *dc = dev_zero(n * d * 2);
  float *ds = dev_zero(n * 4 * d);
  CHECK(vec_cuda_int8_encode(dx, n, d, dc, ds, NULL) == VEC_E_NONFINITE, "int8 NaN");
  CHECK(vec_cuda_last_error_row() == 40, "int8 bad row %lld", vec_cuda_last_error_row());
  CHECK(vec_cuda_int4_encode(dx, n, d, 0, dc, ds, NULL) == VEC_E_NONFINITE, "int4 NaN");
  CHECK(vec_cuda_last_error_row() == 40, "int4 bad row");
  CHECK(vec_cuda_binary_encode(dx, n, d, dc, NULL) == VEC_E_NONFINITE, "binary NaN");
  CHECK(vec_cuda_last_error_row() == 40, "binary bad row");
  /* f16: a finite 70000 in row 20 is out of range and comes first */
  x[20 * d] = 70000.0f;
  for (size_t i = 0; i < n; i++)
    if (i % 8 == 4)
      for (size_t j = 0; j < d; j++) x[i * d + j] = 1.0f;
  cudaMemcpy(dx, x, n * d * 4, cudaMemcpyHostToDevice);
  CHECK(vec_cuda_half_encode(dx, n, d, 0, dc, NULL) == VEC_E_RANGE, "f16 range");
  CHECK(vec_cuda_last_error_row() == 20, "f16 bad row %lld", vec_cuda_last_error_row());
  CHECK(vec_cuda_half_encode(dx, n, d, 1, dc, NULL) == VEC_E_NONFINITE, "bf16 NaN");
  CHECK(vec_cuda_last_error_row() == 40, "bf16 bad row");
  CHECK(vec_cuda_int8_encode(dx, n, 0, dc, ds, NULL) == VEC_E_INVALID_ARG, "d = 0");
  CHECK(vec_cuda_int4_encode(dx, n, d, 3, dc, ds, NULL) == VEC_E_INVALID_ARG, "odd group");
  cudaFree(dx);
  cudaFree(dc);
  cudaFree(ds);
  free(x);
}

/* Search: ids and scores equal vec_search_codes' (int8: bit for bit; binary: the same ids, the
 * Hamming distance as score), with duplicate rows so that ties must go to the lower row. */
static void check_search(size_t n, size_t d, size_t nq, size_t k) {
  float *x = make_rows(n, d), *q = make_rows(nq, d);
  for (size_t i = 0; i < n; i++) /* keep the Gaussian rows only: others are special cases above */
    if (i % 8 != 0 && i % 8 != 7)
      for (size_t j = 0; j < d; j++) x[i * d + j] = gauss();
  for (size_t i = 0; i + 1 < n; i += 97) memcpy(x + (i + 1) * d, x + i * d, d * 4); /* ties */
  for (size_t i = 0; i < nq; i++)
    for (size_t j = 0; j < d; j++) q[i * d + j] = gauss();
  uint64_t *ids = malloc(nq * k * 8), *gids = malloc(nq * k * 8);
  float *sc = malloc(nq * k * 4), *gsc = malloc(nq * k * 4);
  /* int8 */
  vec_codec *c = codec(VEC_CODEC_INT8, d, 0);
  int8_t *codes = malloc(n * d);
  float *scales = malloc(n * 4);
  CHECK(vec_codec_encode(c, x, n, d, codes, scales, NULL) == VEC_OK, "encode");
  CHECK(vec_search_codes(c, codes, scales, n, NULL, q, nq, d, k, VEC_METRIC_IP, ids, sc, NULL) ==
            VEC_OK,
        "cpu search");
  void *dcodes = dev_copy(codes, n * d), *dscales = dev_copy(scales, n * 4),
       *dq = dev_copy(q, nq * d * 4);
  uint64_t *dids = dev_zero(nq * k * 8);
  float *dsc = dev_zero(nq * k * 4);
  int rc = vec_cuda_int8_search(dcodes, dscales, n, d, dq, nq, k, dids, dsc, NULL);
  CHECK(rc == VEC_OK, "gpu int8 search: %d %s", rc, vec_cuda_last_error());
  to_host(gids, dids, nq * k * 8);
  to_host(gsc, dsc, nq * k * 4);
  CHECK(memcmp(ids, gids, nq * k * 8) == 0, "int8 search n=%zu d=%zu k=%zu: ids differ", n, d, k);
  CHECK(memcmp(sc, gsc, nq * k * 4) == 0, "int8 search n=%zu d=%zu k=%zu: scores differ", n, d, k);
  vec_codec_free(c);
  /* binary */
  c = codec(VEC_CODEC_BINARY, d, 0);
  size_t nb = (d + 7) / 8;
  uint8_t *bc = malloc(n * nb), *bq = malloc(nq * nb);
  CHECK(vec_codec_encode(c, x, n, d, bc, NULL, NULL) == VEC_OK, "binary encode");
  CHECK(vec_codec_encode(c, q, nq, d, bq, NULL, NULL) == VEC_OK, "binary encode q");
  CHECK(vec_search_codes(c, bc, NULL, n, NULL, q, nq, d, k, VEC_METRIC_IP, ids, sc, NULL) == VEC_OK,
        "cpu binary search");
  void *dbc = dev_copy(bc, n * nb), *dbq = dev_copy(bq, nq * nb);
  rc = vec_cuda_binary_search(dbc, n, d, dbq, nq, k, dids, dsc, NULL);
  CHECK(rc == VEC_OK, "gpu binary search: %d %s", rc, vec_cuda_last_error());
  to_host(gids, dids, nq * k * 8);
  to_host(gsc, dsc, nq * k * 4);
  CHECK(memcmp(ids, gids, nq * k * 8) == 0, "binary search n=%zu d=%zu k=%zu: ids differ", n, d, k);
  for (size_t j = 0; j < nq && failures == 0; j++)
    for (size_t t = 0; t < k && t < n; t++) {
      uint64_t r = gids[j * k + t];
      unsigned h = 0;
      for (size_t e = 0; e < d; e++)
        h += ((bc[r * nb + e / 8] ^ bq[j * nb + e / 8]) >> (7 - e % 8)) & 1u;
      CHECK(gsc[j * k + t] == (float)h, "binary distance of query %zu slot %zu", j, t);
    }
  if (n < k)
    for (size_t j = 0; j < nq; j++)
      CHECK(gids[j * k + n] == UINT64_MAX && isnan(gsc[j * k + n]), "empty slots");
  vec_codec_free(c);
  cudaFree(dcodes), cudaFree(dscales), cudaFree(dq), cudaFree(dids), cudaFree(dsc);
  cudaFree(dbc), cudaFree(dbq);
  free(x), free(q), free(ids), free(gids), free(sc), free(gsc), free(codes), free(scales);
  free(bc), free(bq);
}

int main(void) {
  if (vec_cuda_device_count() == 0) {
    printf("test_cuda: SKIPPED, no CUDA device (%s)\n", vec_cuda_last_error());
    return 77;
  }
  const size_t dims[] = {1, 3, 7, 8, 31, 32, 33, 127, 384, 385, 1024, 3071};
  for (size_t t = 0; t < sizeof dims / sizeof *dims; t++) {
    size_t d = dims[t], n = 8 * 33 + 5;
    check_codec(VEC_CODEC_INT8, n, d, 0);
    check_codec(VEC_CODEC_INT4, n, d, 0);
    if (d > 32) check_codec(VEC_CODEC_INT4, n, d, 32);
    if (d > 8) check_codec(VEC_CODEC_INT4, n, d, 2);
    check_codec(VEC_CODEC_BINARY, n, d, 0);
    check_codec(VEC_CODEC_F16, n, d, 0);
    check_codec(VEC_CODEC_BF16, n, d, 0);
  }
  check_bad_rows();
  check_search(20000, 384, 37, 10);
  check_search(20000, 385, 5, 100);
  check_search(3000, 96, 130, 1);
  check_search(50, 33, 3, 64); /* n < k */
  check_search(100000, 768, 2, 1024);
  printf("test_cuda: %s\n", failures ? "FAILED" : "all checks passed");
  return failures ? 1 : 0;
}
