/* test_rotation.c: the seeded structured rotation: orthogonality, inverse, determinism, pinned
 * output, and every ISA's Walsh-Hadamard kernels against the scalar reference (bit for bit). */
#include <math.h>
#include <stdlib.h>

#include "../../src/codecs/rotation.h"
#include "../../src/kernels/rotation_kernels.h"
#include "vectro.h"
#include "vtest.h"

static const size_t dims[] = {1,  2,  3,  4,   5,   7,   8,   9,   15,  16,  17,  31,  32,   33,
                              63, 64, 65, 100, 127, 128, 129, 255, 256, 300, 384, 768, 1000, 1024};
#define NDIMS (sizeof dims / sizeof dims[0])

static double norm(const float *x, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) s += (double)x[j] * x[j];
  return sqrt(s);
}

static void test_orthogonal(void) {
  uint64_t s = 1;
  for (size_t t = 0; t < NDIMS; t++) {
    size_t d = dims[t];
    float *x = malloc(d * sizeof(float)), *y = malloc(d * sizeof(float));
    float *z = malloc(d * sizeof(float)), *w = malloc(d * sizeof(float));
    vec_rotation *r;
    CHECK(x && y && z && w && vec_rotation_create(d, 7 + d, &r) == VEC_OK);
    CHECK(vec_rotation_dim(r) == d && vec_rotation_seed(r) == 7 + d);
    for (size_t j = 0; j < d; j++) x[j] = vt_normal(&s), w[j] = vt_normal(&s);
    vec_rotation_apply(r, x, y);
    double nx = norm(x, d), ny = norm(y, d);
    CHECKF(fabs(nx - ny) <= 1e-5 * nx, "d=%zu |x|=%g |Rx|=%g", d, nx, ny);
    vec_rotation_apply_inverse(r, y, z);
    for (size_t j = 0; j < d; j++) CHECKF(fabs(z[j] - x[j]) <= 1e-5 * nx, "d=%zu j=%zu", d, j);
    /* Inner products are kept, so it is a rotation, not only norm-preserving per vector. */
    double ip = 0, ipr = 0;
    vec_rotation_apply(r, w, z);
    for (size_t j = 0; j < d; j++) ip += (double)x[j] * w[j], ipr += (double)y[j] * z[j];
    CHECKF(fabs(ip - ipr) <= 1e-5 * nx * norm(w, d), "d=%zu <x,w>=%g <Rx,Rw>=%g", d, ip, ipr);
    /* In place gives the same as out of place. */
    memcpy(z, x, d * sizeof(float));
    vec_rotation_apply(r, z, z);
    CHECK(memcmp(z, y, d * sizeof(float)) == 0);
    vec_rotation_apply_inverse(r, z, z);
    for (size_t j = 0; j < d; j++) CHECK(fabs(z[j] - x[j]) <= 1e-5 * nx);
    vec_rotation_free(r);
    free(x), free(y), free(z), free(w);
  }
}

/* A rotation must mix: a basis vector spreads over many coordinates (d >= 16). */
static void test_mixes(void) {
  for (size_t t = 0; t < NDIMS; t++) {
    size_t d = dims[t];
    if (d < 16) continue;
    float *e = calloc(d, sizeof(float)), *y = malloc(d * sizeof(float));
    vec_rotation *r;
    CHECK(e && y && vec_rotation_create(d, 3, &r) == VEC_OK);
    for (size_t i = 0; i < d; i += d / 7 + 1) {
      memset(e, 0, d * sizeof(float));
      e[i] = 1.0f;
      vec_rotation_apply(r, e, y);
      double mx = 0;
      /* A plain compare: aarch64 gcc 12 crashes vectorising an fmax reduction here. */
      for (size_t j = 0; j < d; j++)
        if (fabs(y[j]) > mx) mx = fabs(y[j]);
      /* A Gaussian vector has max |y_j| ~ sqrt(2 ln d / d) (~3.1 / sqrt(d) at d = 127). */
      CHECKF(mx <= 5.0 / sqrt((double)d), "d=%zu basis %zu max |y| = %g", d, i, mx);
    }
    vec_rotation_free(r);
    free(e), free(y);
  }
}

static void test_seeds(void) {
  size_t d = 384;
  float x[384], a[384], b[384], c[384];
  uint64_t s = 9;
  for (size_t j = 0; j < d; j++) x[j] = vt_normal(&s);
  vec_rotation *r1, *r2, *r3;
  CHECK(vec_rotation_create(d, 42, &r1) == VEC_OK);
  CHECK(vec_rotation_create(d, 42, &r2) == VEC_OK);
  CHECK(vec_rotation_create(d, 43, &r3) == VEC_OK);
  vec_rotation_apply(r1, x, a);
  vec_rotation_apply(r2, x, b);
  vec_rotation_apply(r3, x, c);
  CHECK(memcmp(a, b, sizeof a) == 0);
  size_t same = 0;
  for (size_t j = 0; j < d; j++) same += a[j] == c[j];
  CHECK(same < 8);
  vec_rotation_free(r1), vec_rotation_free(r2), vec_rotation_free(r3);
  vec_rotation *bad = (vec_rotation *)1;
  CHECK(vec_rotation_create(0, 1, &bad) == VEC_E_INVALID_ARG && bad == NULL);
}

/* The construction is pinned: these outputs hold on every platform and ISA. */
static void test_pinned(void) {
  const float x[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.25f};
  const float want3[3] = {7.071067691e-01f, 1.853553295e+00f, -1.146446466e+00f};
  const float want5[5] = {7.950484753e-02f, -1.253140569e+00f, -1.740577698e+00f, 2.923635960e+00f,
                          1.076364279e+00f};
  float y[5];
  int isas[8];
  int ni = vt_isas(isas);
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    vec_rotation *r;
    CHECK(vec_rotation_create(3, 12345, &r) == VEC_OK);
    vec_rotation_apply(r, x, y);
    for (int j = 0; j < 3; j++) CHECKF(y[j] == want3[j], "d=3 y[%d]=%.9g", j, (double)y[j]);
    vec_rotation_free(r);
    CHECK(vec_rotation_create(5, 12345, &r) == VEC_OK);
    vec_rotation_apply(r, x, y);
    for (int j = 0; j < 5; j++) CHECKF(y[j] == want5[j], "d=5 y[%d]=%.9g", j, (double)y[j]);
    vec_rotation_free(r);
  }
}

/* Each ISA's FWHT and multiply on unaligned, guard-paged buffers against the scalar reference. */
static void test_kernels_vs_scalar(void) {
  int isas[8];
  int ni = vt_isas(isas);
  uint64_t s = 5;
  for (size_t p = 1; p <= 4096; p *= 2) {
    void *h;
    size_t hs;
    float *x = vt_guarded_alloc((p + 1) * sizeof(float), &h, &hs);
    float *ref = malloc(p * sizeof(float)), *src = malloc(p * sizeof(float));
    float *mm = malloc(p * sizeof(float));
    CHECK(x && ref && src && mm);
    float *xu = x + 1; /* unaligned, ends on the guard page */
    for (size_t j = 0; j < p; j++) src[j] = vt_normal(&s), mm[j] = vt_normal(&s);
    memcpy(ref, src, p * sizeof(float));
    vec_rotation_fwht_scalar(ref, mm, p);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      memcpy(xu, src, p * sizeof(float));
      switch (isas[k]) {
#if defined(VEC_HAVE_X86_KERNELS)
      case VEC_ISA_AVX2: vec_rotation_fwht_avx2(xu, mm, p); break;
      case VEC_ISA_AVX512: vec_rotation_fwht_avx512(xu, mm, p); break;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
      case VEC_ISA_NEON: vec_rotation_fwht_neon(xu, mm, p); break;
#endif
      default: vec_rotation_fwht_scalar(xu, mm, p); break;
      }
      CHECKF(memcmp(xu, ref, p * sizeof(float)) == 0, "isa %s p=%zu",
             vec_isa_name((vec_isa)isas[k]), p);
    }
    vt_guarded_free(h, hs);
    free(ref), free(src), free(mm);
  }
  for (size_t n = 0; n < 300; n += 7) {
    float a[301], m[301], ref[301], b[301];
    for (size_t j = 0; j <= n; j++) a[j] = vt_normal(&s), m[j] = vt_normal(&s);
    memcpy(ref, a + 1, n * sizeof(float));
    vec_rotation_vmul_scalar(ref, m + 1, n);
    for (int k = 0; k < ni; k++) {
      memcpy(b + 1, a + 1, n * sizeof(float));
      switch (isas[k]) {
#if defined(VEC_HAVE_X86_KERNELS)
      case VEC_ISA_AVX2: vec_rotation_vmul_avx2(b + 1, m + 1, n); break;
      case VEC_ISA_AVX512: vec_rotation_vmul_avx512(b + 1, m + 1, n); break;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
      case VEC_ISA_NEON: vec_rotation_vmul_neon(b + 1, m + 1, n); break;
#endif
      default: vec_rotation_vmul_scalar(b + 1, m + 1, n); break;
      }
      CHECK(memcmp(b + 1, ref, n * sizeof(float)) == 0);
    }
    /* Kac stage of n / 2 pairs (n - 1 elements when n is odd leave the last alone). */
    size_t hh = n / 2;
    memcpy(ref, a + 1, n * sizeof(float));
    vec_rotation_kac_scalar(ref, m + 1, hh);
    for (int k = 0; k < ni; k++) {
      memcpy(b + 1, a + 1, n * sizeof(float));
      switch (isas[k]) {
#if defined(VEC_HAVE_X86_KERNELS)
      case VEC_ISA_AVX2: vec_rotation_kac_avx2(b + 1, m + 1, hh); break;
      case VEC_ISA_AVX512: vec_rotation_kac_avx512(b + 1, m + 1, hh); break;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
      case VEC_ISA_NEON: vec_rotation_kac_neon(b + 1, m + 1, hh); break;
#endif
      default: vec_rotation_kac_scalar(b + 1, m + 1, hh); break;
      }
      CHECK(memcmp(b + 1, ref, n * sizeof(float)) == 0);
    }
  }
}

/* Whole rotations agree bit for bit across ISAs, odd d included. */
static void test_rotation_isas(void) {
  int isas[8];
  int ni = vt_isas(isas);
  uint64_t s = 11;
  for (size_t t = 0; t < NDIMS; t++) {
    size_t d = dims[t];
    float *x = malloc(d * sizeof(float)), *ref = malloc(d * sizeof(float));
    float *y = malloc(d * sizeof(float));
    vec_rotation *r;
    CHECK(x && ref && y && vec_rotation_create(d, 99, &r) == VEC_OK);
    for (size_t j = 0; j < d; j++) x[j] = vt_normal(&s);
    CHECK(vec_set_isa(VEC_ISA_SCALAR) == VEC_OK);
    vec_rotation_apply(r, x, ref);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      vec_rotation_apply(r, x, y);
      CHECKF(memcmp(y, ref, d * sizeof(float)) == 0, "isa %s d=%zu", vec_isa_name((vec_isa)isas[k]),
             d);
    }
    vec_rotation_free(r);
    free(x), free(ref), free(y);
  }
}

/* Values near FLT_MAX (a 1e38 spike; every entry 2^115) rotate without overflow: finite, the norm
 * kept, and the inverse gives the input back. The unscaled transform overflowed from ~2e37. */
static void test_huge_values(void) {
  static const size_t ds[] = {7, 384, 1000, 4096};
  for (size_t t = 0; t < 4; t++) {
    size_t d = ds[t];
    float *x = calloc(d, sizeof(float)), *y = malloc(d * sizeof(float));
    float *z = malloc(d * sizeof(float));
    vec_rotation *r;
    CHECK(x && y && z && vec_rotation_create(d, 3, &r) == VEC_OK);
    for (int pat = 0; pat < 2; pat++) {
      for (size_t j = 0; j < d; j++) x[j] = pat ? 0x1p115f * (j % 2 ? -1.0f : 1.0f) : 0.0f;
      if (!pat) x[d / 2] = 1e38f, x[0] = 1.0f;
      vec_rotation_apply(r, x, y);
      double nx = norm(x, d), ny = norm(y, d);
      int finite = 1;
      for (size_t j = 0; j < d; j++) finite &= isfinite(y[j]) != 0;
      CHECKF(finite && fabs(nx - ny) <= 1e-5 * nx, "d=%zu pattern %d |x|=%g |Rx|=%g", d, pat, nx,
             ny);
      vec_rotation_apply_inverse(r, y, z);
      for (size_t j = 0; j < d; j++)
        CHECKF(isfinite(z[j]) && fabs(z[j] - x[j]) <= 1e-5 * nx, "d=%zu pattern %d j=%zu", d, pat,
               j);
    }
    vec_rotation_free(r);
    free(x), free(y), free(z);
  }
}

const vt_test rotation_tests[] = {{"rotation_orthogonal", test_orthogonal},
                                  {"rotation_mixes", test_mixes},
                                  {"rotation_seeds", test_seeds},
                                  {"rotation_pinned", test_pinned},
                                  {"rotation_kernels_vs_scalar", test_kernels_vs_scalar},
                                  {"rotation_isas", test_rotation_isas},
                                  {"rotation_huge_values", test_huge_values}};
const size_t rotation_count = sizeof rotation_tests / sizeof rotation_tests[0];
