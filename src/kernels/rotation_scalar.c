/* rotation_scalar.c: scalar reference kernels of the structured rotation (see rotation_kernels.h).
 */
#include "rotation_kernels.h"

void vec_rotation_fwht_scalar(float *x, const float *m, size_t p) {
  for (size_t i = 0; i < p; i++) x[i] *= m[i];
  for (size_t h = 1; h < p; h *= 2)
    for (size_t i = 0; i < p; i += 2 * h)
      for (size_t j = i; j < i + h; j++) {
        float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
}

void vec_rotation_vmul_scalar(float *x, const float *m, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] *= m[i];
}

void vec_rotation_kac_scalar(float *x, const float *m, size_t h) {
  vec_rotation_kac_tail_scalar(x, m, 0, h);
}
