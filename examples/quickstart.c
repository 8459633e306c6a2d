/* quickstart.c: compress a batch of vectors to int8 with libvectro and check what it cost.
 * Build: cmake -S . -B build && cmake --build build && ./build/examples/quickstart */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "vectro.h"

int main(void) {
  enum { N = 1000, D = 768 };
  float *x = malloc(sizeof(float) * N * D), *x_hat = malloc(sizeof(float) * N * D);
  int8_t *codes = malloc(vec_int8_code_size(D) * N);
  float *scales = malloc(sizeof(float) * N);
  if (!x || !x_hat || !codes || !scales) return 1;
  for (size_t i = 0; i < (size_t)N * D; i++) x[i] = sinf((float)i * 0.37f);

  vec_batch_opts opts = VEC_BATCH_OPTS_INIT; /* all cores, no progress callback */
  int rc = vec_int8_encode(x, N, D, D, codes, scales, &opts);
  if (rc != VEC_OK) {
    fprintf(stderr, "encode failed: %s (%s)\n", vec_strerror(rc), vec_last_error_message());
    return 1;
  }
  rc = vec_int8_decode(codes, scales, N, D, x_hat, D, &opts);
  if (rc != VEC_OK) return 1;

  /* A plain compare, not fmax(): aarch64 gcc 12 crashes vectorising an fmax reduction at -O3. */
  float worst = 0;
  for (size_t i = 0; i < (size_t)N * D; i++) {
    float e = fabsf(x[i] - x_hat[i]);
    if (e > worst) worst = e;
  }
  printf("kernel %s: %d x %d floats -> %zu bytes (%.2fx), max abs error %.5f\n",
         vec_isa_name(vec_active_isa()), N, D, (vec_int8_code_size(D) + 4) * N,
         (4.0 * D) / (D + 4.0), (double)worst);

  x[5 * D + 7] = NAN; /* bad input is an error naming the row, never a silent wrong code */
  rc = vec_int8_encode(x, N, D, D, codes, scales, &opts);
  printf("with a NaN: %s: %s\n", vec_strerror(rc), vec_last_error_message());
  free(x), free(x_hat), free(codes), free(scales);
  return rc == VEC_E_NONFINITE && worst < 0.005f ? 0 : 1;
}
