/* int8.c: the per-vector symmetric int8 codec: argument checks, then row chunks to the kernels.
 * The math itself lives in src/kernels/ (int8_row.h defines it once for every ISA). */
#include <math.h>
#include <string.h>

#include "../engine/parallel.h"
#include "../kernels/kernels.h"
#include "codec_impl.h"

/* Above this many output bytes, non-temporal stores: the output cannot stay in cache anyway, and
 * skipping the read-for-ownership of each line saves a fifth to a third of the traffic. */
#ifndef STREAM_MIN_BYTES
#define STREAM_MIN_BYTES ((size_t)16 << 20)
#endif

size_t vec_int8_code_size(size_t d) { return d; }

typedef struct {
  const vec_kernels *k;
  const float *x;
  size_t d, ldx;
  int8_t *codes;
  float *scales;
  const float *dscales;
  float *out;
  size_t ldo;
  const int8_t *dcodes;
  unsigned flags;
} int8_ctx;

static int encode_rows(void *p, size_t begin, size_t end, size_t *bad_row) {
  int8_ctx *c = p;
  size_t m = end - begin;
  size_t done = c->k->int8.encode(c->x + begin * c->ldx, m, c->d, c->ldx, c->codes + begin * c->d,
                                  c->d, c->scales + begin, c->flags);
  if (done < m) {
    *bad_row = begin + done;
    return VEC_E_NONFINITE;
  }
  return VEC_OK;
}

static int decode_rows(void *p, size_t begin, size_t end, size_t *bad_row) {
  int8_ctx *c = p;
  (void)bad_row;
  c->k->int8.decode(c->dcodes + begin * c->d, end - begin, c->d, c->d, c->dscales + begin,
                    c->out + begin * c->ldo, c->ldo, c->flags);
  return VEC_OK;
}

/* Common checks: shapes, NULLs, and that n rows of stride ld fit in size_t bytes. */
static int check_shape(const char *fn, size_t n, size_t d, size_t ld, const char *ldname) {
  size_t bytes;
  if (d == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: d must be >= 1", fn);
  if (ld < d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: %s (%zu) must be >= d (%zu)", fn, ldname, ld, d);
  if (!vec_mul_ok(n, ld, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) x %s (%zu) overflows", fn, n, ldname, ld);
  return VEC_OK;
}

int vec_int8_encode(const float *x, size_t n, size_t d, size_t ldx, int8_t *codes, float *scales,
                    const vec_batch_opts *opts) {
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  if ((rc = check_shape("vec_int8_encode", n, d, ldx, "ldx"))) return rc;
  if (n && (!x || !codes || !scales))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_int8_encode: NULL buffer with n = %zu", n);
  int8_ctx c = {0};
  c.k = vec_kernels_get();
  c.x = x;
  c.d = d;
  c.ldx = ldx;
  c.codes = codes;
  c.scales = scales;
  c.flags = n * d >= STREAM_MIN_BYTES ? VEC_KF_STREAM : 0;
  size_t bad;
  rc = vec_parallel_rows(n, d * (sizeof(float) + 1), encode_rows, &c, &o, &bad);
  if (rc == VEC_E_NONFINITE) return vec_fail(rc, (long long)bad, "row %zu holds NaN or Inf", bad);
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  return rc;
}

int vec_int8_decode(const int8_t *codes, const float *scales, size_t n, size_t d, float *out,
                    size_t ldo, const vec_batch_opts *opts) {
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc) return rc;
  if ((rc = check_shape("vec_int8_decode", n, d, ldo, "ldo"))) return rc;
  if (n && (!codes || !scales || !out))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_int8_decode: NULL buffer with n = %zu", n);
  /* Scales come from outside (a file, a user): a bad one would silently poison a whole row. */
  for (size_t i = 0; i < n; i++) {
    float s = scales[i];
    if (!(s >= 0.0f) || isinf(s))
      return vec_fail(VEC_E_INVALID_ARG, (long long)i,
                      "row %zu has scale %g: scales must be finite and >= 0", i, (double)s);
  }
  int8_ctx c = {0};
  c.k = vec_kernels_get();
  c.d = d;
  c.dcodes = codes;
  c.dscales = scales;
  c.out = out;
  c.ldo = ldo;
  c.flags = n * d * sizeof(float) >= STREAM_MIN_BYTES ? VEC_KF_STREAM : 0;
  size_t bad;
  rc = vec_parallel_rows(n, d * (sizeof(float) + 1), decode_rows, &c, &o, &bad);
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  return rc;
}

/* The int8 codec through the generic codec object: the same kernels, codes and scales. */
static size_t int8_code_size(const vec_codec *c) { return c->d; }
static size_t one_scale(const vec_codec *c) {
  (void)c;
  return 1;
}

static size_t int8_encode_op(const vec_codec *c, const float *x, size_t n, size_t ldx,
                             uint8_t *codes, float *scales, unsigned flags, int *rc) {
  size_t done =
      vec_kernels_get()->int8.encode(x, n, c->d, ldx, (int8_t *)codes, c->d, scales, flags);
  if (done < n) *rc = VEC_E_NONFINITE;
  return done;
}

static void int8_decode_op(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                           float *out, size_t ldo, unsigned flags) {
  vec_kernels_get()->int8.decode((const int8_t *)codes, n, c->d, c->d, scales, out, ldo, flags);
}

/* Search straight from codes: the query is quantized by the same symmetric scheme (its own scale
 * sq), so q^.x^ = sq * s * (integer dot), exact in the integers and identical on every ISA. Query
 * rounding costs little ranking quality (recall@10 0.994 vs 0.996 for a float query on the
 * shipped sample; see score_kernels.h for the layout). */
static size_t int8_query_size(const vec_codec *c) { return VEC_SCORE_HDR + vec_score_pad64(c->d); }

static void int8_query_prepare(const vec_codec *c, const float *q, void *qs) {
  uint8_t *h = qs;
  int8_t *qc = (int8_t *)(h + VEC_SCORE_HDR);
  float sq = 0.0f;
  memset(h, 0, int8_query_size(c));
  /* The scalar encoder, not the active ISA's: a query must prepare the same bytes everywhere. */
  vec_int8_encode_scalar(q, 1, c->d, c->d, qc, c->d, &sq, 0);
  int64_t total = 0;
  for (size_t j = 0; j < c->d; j++) total += qc[j];
  /* Only the int32 (VNNI) kernels read it, and only for d <= VEC_SCORE_I8_MAX_D, where it fits. */
  int32_t sum = c->d <= VEC_SCORE_I8_MAX_D ? (int32_t)total : 0;
  memcpy(h, &sq, sizeof sq);
  memcpy(h + 4, &sum, sizeof sum);
}

static void int8_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                       const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  (void)err; /* not a bounded codec */
  vec_score_pick_i8(c->d)(qs, VEC_QSTRIDE(c), nq, (const int8_t *)codes, scales, nr, c->d, ip, ldo);
}

/* s^2 * sum(c^2): the same formula as a row scored against itself. */
static void int8_sqnorms(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                         float *out) {
  for (size_t i = 0; i < n; i++) {
    const int8_t *x = (const int8_t *)codes + i * c->d;
    out[i] = vec_score_i8_out(scales[i], scales[i], vec_score_i8_dot_scalar(x, x, c->d));
  }
}

/* The x86 batch kernels transpose a tile of rows once a call (search_tmpl.h): a batch of 64 queries
 * a call amortises it. */
static size_t int8_score_queries(const vec_codec *c) {
  (void)c;
  return 64;
}

const vec_codec_ops vec_ops_int8 = {.id = VEC_CODEC_INT8,
                                    .name = "int8",
                                    .needs_training = 0,
                                    .can_center = 1,
                                    .code_size = int8_code_size,
                                    .scale_count = one_scale,
                                    .encode = int8_encode_op,
                                    .decode = int8_decode_op,
                                    .query_size = int8_query_size,
                                    .query_prepare = int8_query_prepare,
                                    .score = int8_score,
                                    .sqnorms = int8_sqnorms,
                                    .score_queries = int8_score_queries};
