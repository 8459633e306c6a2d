/* rotation.c: the seeded structured rotation described in rotation.h: tables of per-step
 * multipliers built once, applied with the per-ISA Walsh-Hadamard kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "rotation.h"

#define MAX_OPS 6

/* A transform: the unnormalised Walsh-Hadamard of size len (a power of two), or a Kac stage of
 * len / 2 pairs (i, i + len / 2), on coordinates [start, start + len). */
typedef struct {
  int kac;
  size_t start, len;
} rot_op;

/* Forward: for each op i: mul(fwd row i), transform i; then mul(fwd row nops). */
struct vec_rotation {
  size_t d, p;
  uint64_t seed;
  int nops;
  rot_op op[MAX_OPS];
  float *fwd;  /* nops + 1 rows of d multipliers */
  float *inv;  /* the same rows for the inverse (row i undoes fwd row i and transform i) */
  float *ones; /* d ones: the inverse multiplies after each transform, not before */
};

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void add_op(vec_rotation *r, int kac, size_t start, size_t len) {
  r->op[r->nops].kac = kac;
  r->op[r->nops].start = start;
  r->op[r->nops].len = len;
  r->nops++;
}

int vec_rotation_create(size_t d, uint64_t seed, vec_rotation **out) {
  *out = NULL;
  if (d == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "rotation dimension must be >= 1");
  vec_rotation *r = calloc(1, sizeof *r);
  if (!r) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  r->d = d;
  r->seed = seed;
  r->p = 1;
  while (r->p * 2 <= d) r->p *= 2;
  if (r->p == d) {
    for (int k = 0; k < 3; k++) add_op(r, 0, 0, d);
  } else {
    size_t h2 = d / 2 * 2;
    for (int k = 0; k < 2; k++) {
      add_op(r, 1, k ? d - h2 : 0, h2);
      add_op(r, 0, 0, r->p);
      add_op(r, 0, d - r->p, r->p);
    }
  }
  size_t rows = (size_t)r->nops + 1;
  r->fwd = malloc((2 * rows + 1) * d * sizeof(float));
  double *ex = malloc(d * sizeof(double));
  if (!r->fwd || !ex) {
    free(r->fwd), free(ex), free(r);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  r->inv = r->fwd + rows * d;
  r->ones = r->inv + rows * d;
  for (size_t j = 0; j < d; j++) r->ones[j] = 1.0f;
  /* The transforms are unnormalised: one on n coordinates leaves sqrt(n) in excess on them
   * (tracked in ex[]), and the next multiplier divides it out (computed in double, rounded once:
   * the same floats on every platform). So every element entering a transform carries the same
   * scale, which keeps each step orthogonal. The inverse runs backwards; a transform's inverse is
   * itself divided by n, applied by the multiply that follows it there. */
  for (size_t j = 0; j < d; j++) ex[j] = 1.0;
  uint64_t state = seed, word = 0;
  size_t t = 0;
  for (size_t row = 0; row < rows; row++) {
    size_t lo = 0, hi = 0;
    double n = 0.0;
    if (row < (size_t)r->nops) {
      const rot_op *o = &r->op[row];
      lo = o->start, hi = o->start + o->len;
      n = o->kac ? 2.0 : (double)o->len;
    }
    for (size_t j = 0; j < d; j++, t++) {
      if (t % 64 == 0) word = splitmix64(&state);
      double sign = (word >> (t % 64)) & 1 ? -1.0 : 1.0;
      double m = sign / ex[j];
      int in = j >= lo && j < hi;
      r->fwd[row * d + j] = (float)m;
      r->inv[row * d + j] = (float)((1.0 / m) * (in ? 1.0 / n : 1.0));
      ex[j] = in ? sqrt(n) : 1.0;
    }
  }
  free(ex);
  *out = r;
  return VEC_OK;
}

static void pick(vec_rotation_fwht_fn *h, vec_rotation_vmul_fn *m, vec_rotation_kac_fn *kac) {
  const vec_rotation_kernels *k = &vec_kernels_get()->rotation;
  *h = k->fwht, *m = k->vmul, *kac = k->kac;
}

/* Rows with a value of 2^110 or more (adversarial input only) are rotated scaled by 2^-64, an
 * exact power of two, and scaled back: the transform's sums grow a value by up to sqrt(len) and
 * overflowed float from about 2e37 (a row with a finite norm decoded to NaN). The check is an
 * OR of integer compares, which vectorizes; Inf and NaN match too and stay what they are. */
#define BIG_BITS 0x76800000u /* 2^110 */
static int scale_if_big(float *v, size_t d, float by) {
  uint32_t any = 0;
  for (size_t j = 0; j < d; j++) {
    uint32_t u;
    memcpy(&u, v + j, 4);
    any |= (uint32_t)((u & 0x7fffffffu) >= BIG_BITS);
  }
  if (any)
    for (size_t j = 0; j < d; j++) v[j] *= by;
  return any != 0;
}

static void scale_back(float *v, size_t d) {
  for (size_t j = 0; j < d; j++) v[j] *= 0x1p64f;
}

void vec_rotation_apply(const vec_rotation *r, const float *x, float *out) {
  vec_rotation_fwht_fn h;
  vec_rotation_vmul_fn m;
  vec_rotation_kac_fn kac;
  pick(&h, &m, &kac);
  size_t d = r->d;
  if (out != x) memcpy(out, x, d * sizeof(float));
  int big = scale_if_big(out, d, 0x1p-64f);
  for (int i = 0; i < r->nops; i++) {
    const rot_op *o = &r->op[i];
    const float *mi = r->fwd + (size_t)i * d;
    /* The kernels fuse the diagonal into the transform's span; the rest gets it here. */
    m(out, mi, o->start);
    m(out + o->start + o->len, mi + o->start + o->len, d - o->start - o->len);
    if (o->kac)
      kac(out + o->start, mi + o->start, o->len / 2);
    else
      h(out + o->start, mi + o->start, o->len);
  }
  m(out, r->fwd + (size_t)r->nops * d, d);
  if (big) scale_back(out, d);
}

void vec_rotation_apply_inverse(const vec_rotation *r, const float *y, float *out) {
  vec_rotation_fwht_fn h;
  vec_rotation_vmul_fn m;
  vec_rotation_kac_fn kac;
  pick(&h, &m, &kac);
  size_t d = r->d;
  if (out != y) memcpy(out, y, d * sizeof(float));
  int big = scale_if_big(out, d, 0x1p-64f);
  m(out, r->inv + (size_t)r->nops * d, d);
  for (int i = r->nops - 1; i >= 0; i--) {
    const rot_op *o = &r->op[i];
    if (o->kac)
      kac(out + o->start, r->ones, o->len / 2);
    else
      h(out + o->start, r->ones, o->len);
    m(out, r->inv + (size_t)i * d, d);
  }
  if (big) scale_back(out, d);
}

void vec_rotation_free(vec_rotation *r) {
  if (!r) return;
  free(r->fwd);
  free(r);
}

size_t vec_rotation_dim(const vec_rotation *r) { return r->d; }
uint64_t vec_rotation_seed(const vec_rotation *r) { return r->seed; }
