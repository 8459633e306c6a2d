/* codec.c: the generic codec object: creation, argument checks, threads and progress, training
 * storage and serialization. The per-codec math lives in the modules listed in `registry`. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/parallel.h"
#include "codec_impl.h"

/* Outputs above this size use non-temporal stores (see int8.c for the measurement). */
#define STREAM_MIN_BYTES ((size_t)16 << 20)

static const vec_codec_ops *const registry[] = {
    &vec_ops_int8,   &vec_ops_f16,    &vec_ops_bf16,      &vec_ops_int16,
    &vec_ops_int4,   &vec_ops_binary, &vec_ops_uint8_cal, &vec_ops_int8_cal,
    &vec_ops_rabitq, &vec_ops_pq,     &vec_ops_uint4_cal, &vec_ops_uint6_cal,
};
#define NREG (sizeof registry / sizeof registry[0])

static const vec_codec_ops *ops_for(vec_codec_id id) {
  for (size_t i = 0; i < NREG; i++)
    if (registry[i]->id == id) return registry[i];
  return NULL;
}

const char *vec_codec_name(vec_codec_id id) {
  const vec_codec_ops *o = ops_for(id);
  return o ? o->name : "unknown";
}

int vec_codec_from_name(const char *name, vec_codec_id *id) {
  vec_clear_error();
  for (size_t i = 0; name && i < NREG; i++) {
    if (strcmp(registry[i]->name, name) == 0) {
      *id = registry[i]->id;
      return VEC_OK;
    }
  }
  return vec_fail(VEC_E_INVALID_ARG, -1, "unknown codec '%s'", name ? name : "(null)");
}

int vec_codec_create(const vec_codec_params *params, vec_codec **out) {
  vec_clear_error();
  if (!params || !out) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_codec_create: NULL argument");
  *out = NULL;
  /* A caller built against the header before `center` was added passes the shorter struct: the
   * fields it does not have take their defaults (0), which is what struct_size is for. */
  const size_t oldest = offsetof(vec_codec_params, center);
  if (params->struct_size != sizeof(vec_codec_params) && params->struct_size != oldest)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "vec_codec_params.struct_size is %zu, expected %zu (or %zu from an older "
                    "header)",
                    params->struct_size, sizeof(vec_codec_params), oldest);
  vec_codec_params given = {0};
  memcpy(&given, params, params->struct_size);
  params = &given;
  const vec_codec_ops *ops = ops_for(params->codec);
  if (!ops) return vec_fail(VEC_E_INVALID_ARG, -1, "unknown codec id %d", (int)params->codec);
  if (params->dim == 0 || params->dim > ((size_t)1 << 28))
    return vec_fail(VEC_E_INVALID_ARG, -1, "dimension %zu is outside 1..2^28", params->dim);
  if (params->codec == VEC_CODEC_INT4 && (params->group_size % 2 != 0))
    return vec_fail(VEC_E_INVALID_ARG, -1, "int4 group size must be 0 or even, got %u",
                    params->group_size);
  if (params->rounding != VEC_ROUND_NEAREST && params->rounding != VEC_ROUND_TRUNCATE)
    return vec_fail(VEC_E_INVALID_ARG, -1, "unknown rounding mode %d", params->rounding);
  if (!(params->calib_low_q >= 0.0f && params->calib_low_q < params->calib_high_q &&
        params->calib_high_q <= 1.0f))
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "calibration quantiles must satisfy 0 <= low < high <= 1");
  if (params->center != 0 && params->center != 1)
    return vec_fail(VEC_E_INVALID_ARG, -1, "center must be 0 or 1, got %d", params->center);
  if (params->center && !ops->can_center)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "center does not apply to '%s' (binary, int8, int4, the calibrated codecs, "
                    "rabitq and pq take it)",
                    ops->name);
  if (ops->check) {
    int rc = ops->check(params);
    if (rc) return rc;
  }
  vec_codec *c = calloc(1, sizeof *c);
  if (!c) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  c->ops = ops;
  c->base = ops;
  c->p = *params;
  c->p.struct_size = sizeof(vec_codec_params);
  c->d = params->dim;
  c->needs_training = ops->needs_training;
  if (ops->init) {
    int rc = ops->init(c);
    if (rc) {
      vec_codec_free(c);
      return rc;
    }
  }
  if (c->p.center && !ops->own_center) {
    int rc = vec_centre_setup(c);
    if (rc) {
      vec_codec_free(c);
      return rc;
    }
  }
  c->trained = !c->needs_training;
  if (VEC_HAS_RANGES(c)) {
    c->lo = malloc(4 * c->d * sizeof(float));
    if (!c->lo) {
      free(c);
      return vec_fail(VEC_E_NOMEM, -1, "out of memory");
    }
    c->hi = c->lo + c->d;
    c->step = c->hi + c->d;
    c->inv = c->step + c->d;
  }
  *out = c;
  return VEC_OK;
}

void vec_codec_free(vec_codec *c) {
  if (!c) return;
  if (c->base->free_state) c->base->free_state(c);
  vec_centre_free(c);
  free(c->lo);
  free(c);
}

vec_codec_id vec_codec_kind(const vec_codec *c) { return c->ops->id; }
const vec_codec_params *vec_codec_get_params(const vec_codec *c) { return &c->p; }
size_t vec_codec_code_size(const vec_codec *c) { return c->ops->code_size(c); }
size_t vec_codec_scale_count(const vec_codec *c) { return c->ops->scale_count(c); }
int vec_codec_needs_training(const vec_codec *c) { return c->needs_training; }
int vec_codec_is_trained(const vec_codec *c) { return c->trained; }

/* Derives step and inv from lo/hi. A zero range gives step 0 and inv 0: code 0, decodes to lo. */
static void derive_steps(vec_codec *c) {
  for (size_t j = 0; j < c->d; j++) {
    c->step[j] = (c->hi[j] - c->lo[j]) / VEC_CAL_LEVELS(c);
    c->inv[j] = c->step[j] > 0.0f ? 1.0f / c->step[j] : 0.0f;
  }
  c->trained = !c->cen || c->cen_set;
}

static int check_ranges(const vec_codec *c, const float *lo, const float *hi) {
  for (size_t j = 0; j < c->d; j++) {
    if (!isfinite(lo[j]) || !isfinite(hi[j]) || !(lo[j] <= hi[j]))
      return vec_fail(VEC_E_INVALID_ARG, -1,
                      "range of dimension %zu is [%g, %g]: need finite lo <= hi", j, (double)lo[j],
                      (double)hi[j]);
    if (!isfinite((hi[j] - lo[j]) / VEC_CAL_LEVELS(c)))
      return vec_fail(VEC_E_RANGE, -1, "range of dimension %zu is too wide for float32", j);
  }
  return VEC_OK;
}

int vec_codec_set_ranges(vec_codec *c, const float *lo, const float *hi) {
  vec_clear_error();
  if (!c || !lo || !hi) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  if (!VEC_HAS_RANGES(c))
    return vec_fail(VEC_E_INVALID_ARG, -1, "codec '%s' has no ranges", c->ops->name);
  int rc = check_ranges(c, lo, hi);
  if (rc) return rc;
  memcpy(c->lo, lo, c->d * sizeof(float));
  memcpy(c->hi, hi, c->d * sizeof(float));
  derive_steps(c);
  return VEC_OK;
}

int vec_codec_get_ranges(const vec_codec *c, float *lo, float *hi) {
  vec_clear_error();
  if (!VEC_HAS_RANGES(c))
    return vec_fail(VEC_E_INVALID_ARG, -1, "codec '%s' has no ranges", c->ops->name);
  if (!c->trained) return vec_fail(VEC_E_NOT_TRAINED, -1, "codec has not been trained");
  memcpy(lo, c->lo, c->d * sizeof(float));
  memcpy(hi, c->hi, c->d * sizeof(float));
  return VEC_OK;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n) with linear interpolation (NumPy's default "linear"). */
static float quantile_sorted(const float *v, size_t n, double q) {
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  if (i >= n - 1) return v[n - 1];
  double frac = pos - (double)i;
  return (float)((double)v[i] + frac * ((double)v[i + 1] - (double)v[i]));
}

int vec_codec_train(vec_codec *c, const float *x, size_t n, size_t ldx) {
  return vec_codec_train_opts(c, x, n, ldx, NULL);
}

static int train_module(vec_codec *c, const float *x, size_t n, size_t ldx,
                        const vec_batch_opts *opts);

/* A generically centred codec: the centre first, then the module's own training (if any) on the
 * centred rows. */
static int train_centred(vec_codec *c, const float *x, size_t n, size_t ldx,
                         const vec_batch_opts *opts) {
  if (n == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "training needs at least 1 vector");
  if (!x || ldx < c->d) return vec_fail(VEC_E_INVALID_ARG, -1, "bad training buffer or stride");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < c->d; j++)
      if (!isfinite(x[i * ldx + j]))
        return vec_fail(VEC_E_NONFINITE, (long long)i, "training row %zu holds NaN or Inf", i);
  float *xc;
  size_t m;
  int rc = vec_centre_train(c, x, n, ldx, &xc, &m);
  if (rc) return rc;
  c->trained = 0;
  if (c->base->needs_training) {
    /* Already sampled to train_max rows; pq's own default sampling still applies. */
    rc = train_module(c, xc, m, c->d, opts);
  }
  free(xc);
  if (rc) {
    c->cen_set = 0;
    return rc;
  }
  c->trained = 1;
  return VEC_OK;
}

int vec_codec_train_opts(vec_codec *c, const float *x, size_t n, size_t ldx,
                         const vec_batch_opts *opts) {
  vec_clear_error();
  if (!c) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL codec");
  if (!c->needs_training) return VEC_OK;
  if (c->cen) return train_centred(c, x, n, ldx, opts);
  return train_module(c, x, n, ldx, opts);
}

static int train_module(vec_codec *c, const float *x, size_t n, size_t ldx,
                        const vec_batch_opts *opts) {
  if (c->base->train) {
    vec_batch_opts o;
    int rc = vec_batch_opts_resolve(opts, &o);
    if (rc) return rc;
    size_t bytes;
    if (n == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "training needs at least 1 vector");
    if (!x || ldx < c->d) return vec_fail(VEC_E_INVALID_ARG, -1, "bad training buffer or stride");
    if (!vec_mul_ok(n, ldx, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
      return vec_fail(VEC_E_OVERFLOW, -1, "n (%zu) x ldx (%zu) overflows", n, ldx);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < c->d; j++)
        if (!isfinite(x[i * ldx + j]))
          return vec_fail(VEC_E_NONFINITE, (long long)i, "training row %zu holds NaN or Inf", i);
    return c->base->train(c, x, n, ldx, &o);
  }
  if (n < 2)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "calibration needs at least 2 vectors (got %zu): one vector has no spread", n);
  if (!x || ldx < c->d) return vec_fail(VEC_E_INVALID_ARG, -1, "bad calibration buffer or stride");
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < c->d; j++)
      if (!isfinite(x[i * ldx + j]))
        return vec_fail(VEC_E_NONFINITE, (long long)i, "calibration row %zu holds NaN or Inf", i);
  int minmax = c->p.calib_low_q == 0.0f && c->p.calib_high_q == 1.0f;
  float *col = minmax ? NULL : malloc(n * sizeof(float));
  if (!minmax && !col) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  for (size_t j = 0; j < c->d; j++) {
    if (minmax) {
      float lo = x[j], hi = x[j];
      for (size_t i = 1; i < n; i++) {
        float v = x[i * ldx + j];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      c->lo[j] = lo, c->hi[j] = hi;
    } else {
      for (size_t i = 0; i < n; i++) col[i] = x[i * ldx + j];
      qsort(col, n, sizeof(float), cmp_float);
      c->lo[j] = quantile_sorted(col, n, c->p.calib_low_q);
      c->hi[j] = quantile_sorted(col, n, c->p.calib_high_q);
    }
    if (!isfinite((c->hi[j] - c->lo[j]) / 255.0f)) {
      free(col);
      return vec_fail(VEC_E_RANGE, -1, "range of dimension %zu is too wide for float32", j);
    }
  }
  free(col);
  derive_steps(c);
  return VEC_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  const vec_codec *c;
  const float *x;
  size_t ldx;
  uint8_t *codes;
  float *scales;
  const uint8_t *dcodes;
  const float *dscales;
  float *out;
  size_t ldo, cs, sc;
  unsigned flags;
} batch_ctx;

static int encode_rows(void *p, size_t begin, size_t end, size_t *bad_row) {
  batch_ctx *b = p;
  int rc = VEC_OK;
  size_t m = end - begin;
  size_t done = b->c->ops->encode(b->c, b->x + begin * b->ldx, m, b->ldx, b->codes + begin * b->cs,
                                  b->scales ? b->scales + begin * b->sc : NULL, b->flags, &rc);
  if (done < m) {
    *bad_row = begin + done;
    return rc != VEC_OK ? rc : VEC_E_NONFINITE;
  }
  return VEC_OK;
}

/* Whether x[0..d) is all finite: an all-ones exponent is Inf or NaN. GCC/clang vector types (SSE2
 * or NEON, the baseline of every target we build) test 16 floats per step; the compilers do not
 * vectorise the plain loop at -O2. */
typedef uint32_t fin_u32x4 __attribute__((vector_size(16)));
static int row_finite(const float *x, size_t d) {
  const fin_u32x4 e = {0x7F800000u, 0x7F800000u, 0x7F800000u, 0x7F800000u};
  fin_u32x4 bad = {0, 0, 0, 0};
  size_t j = 0;
  for (; j + 16 <= d; j += 16) {
    fin_u32x4 v[4];
    memcpy(v, x + j, sizeof v);
    for (int k = 0; k < 4; k++) bad |= (fin_u32x4)((v[k] & e) == e);
  }
  uint32_t tail = 0;
  for (; j < d; j++) {
    uint32_t u;
    memcpy(&u, x + j, 4);
    tail |= (u & 0x7F800000u) == 0x7F800000u;
  }
  return !(tail | bad[0] | bad[1] | bad[2] | bad[3]);
}

/* Checksum-valid codes can still decode to Inf or NaN (f16/bf16 codes with an all-ones exponent,
 * an int8 scale of 3e38 times 127, crafted ranges or codebooks), and no caller expects those from
 * a decoder: every decoded row is checked, by the chunk just written (still in cache, unless the
 * kernel streamed it past the cache). */
static int decode_rows(void *p, size_t begin, size_t end, size_t *bad_row) {
  batch_ctx *b = p;
  float *out = b->out + begin * b->ldo;
  b->c->ops->decode(b->c, b->dcodes + begin * b->cs, b->dscales ? b->dscales + begin * b->sc : NULL,
                    end - begin, out, b->ldo, b->flags);
  for (size_t i = 0; i < end - begin; i++)
    if (!row_finite(out + i * b->ldo, b->c->d)) {
      *bad_row = begin + i;
      return VEC_E_NONFINITE;
    }
  return VEC_OK;
}

static int check_batch(const vec_codec *c, const char *fn, size_t n, size_t ld,
                       const char *ldname) {
  size_t bytes;
  if (!c) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL codec", fn);
  if (ld < c->d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: %s (%zu) must be >= d (%zu)", fn, ldname, ld, c->d);
  if (!vec_mul_ok(n, ld, &bytes) || !vec_mul_ok(bytes, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n (%zu) x %s (%zu) overflows", fn, n, ldname, ld);
  if (!c->trained)
    return vec_fail(VEC_E_NOT_TRAINED, -1, "%s: codec '%s'%s must be trained (%s) first", fn,
                    c->ops->name, c->p.center ? " with center" : "",
                    VEC_HAS_RANGES(c) ? "calibrated) or given ranges (vec_codec_set_ranges"
                                      : "vec_codec_train");
  return VEC_OK;
}

static int finish(int rc, size_t bad) {
  if (rc == VEC_E_NONFINITE) return vec_fail(rc, (long long)bad, "row %zu holds NaN or Inf", bad);
  if (rc == VEC_E_RANGE)
    return vec_fail(rc, (long long)bad, "row %zu holds a value outside the codec's range", bad);
  if (rc == VEC_E_CANCELLED) return vec_fail(rc, -1, "cancelled by the progress callback");
  if (rc == VEC_E_NOMEM) return vec_fail(rc, -1, "out of memory");
  return rc;
}

int vec_codec_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, void *codes,
                     float *scales, const vec_batch_opts *opts) {
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc || (rc = check_batch(c, "vec_codec_encode", n, ldx, "ldx"))) return rc;
  batch_ctx b = {0};
  b.c = c;
  b.cs = c->ops->code_size(c);
  b.sc = c->ops->scale_count(c);
  if (n && (!x || !codes || (b.sc && !scales)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_codec_encode: NULL buffer with n = %zu", n);
  b.x = x;
  b.ldx = ldx;
  b.codes = codes;
  b.scales = scales;
  b.flags = n * b.cs >= STREAM_MIN_BYTES ? VEC_KF_STREAM : 0;
  size_t bad;
  rc = vec_parallel_rows(n, c->d * sizeof(float) + b.cs, encode_rows, &b, &o, &bad);
  return finish(rc, bad);
}

int vec_codec_decode(const vec_codec *c, const void *codes, const float *scales, size_t n,
                     float *out, size_t ldo, const vec_batch_opts *opts) {
  vec_clear_error();
  vec_batch_opts o;
  int rc = vec_batch_opts_resolve(opts, &o);
  if (rc || (rc = check_batch(c, "vec_codec_decode", n, ldo, "ldo"))) return rc;
  batch_ctx b = {0};
  b.c = c;
  b.cs = c->ops->code_size(c);
  b.sc = c->ops->scale_count(c);
  if (n && (!codes || !out || (b.sc && !scales)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_codec_decode: NULL buffer with n = %zu", n);
  /* Scales come from outside (a file, a user): a bad one would silently poison a whole row. */
  size_t bs = b.sc ? vec_codec_bad_scale(c, scales, n) : 0;
  if (bs < n * b.sc)
    return vec_fail(VEC_E_INVALID_ARG, (long long)(bs / b.sc),
                    "row %zu has scale %g: scales must be finite and >= 0", bs / b.sc,
                    (double)scales[bs]);
  b.dcodes = codes;
  b.dscales = scales;
  b.out = out;
  b.ldo = ldo;
  b.flags = n * c->d * sizeof(float) >= STREAM_MIN_BYTES ? VEC_KF_STREAM : 0;
  size_t bad;
  rc = vec_parallel_rows(n, c->d * sizeof(float) + b.cs, decode_rows, &b, &o, &bad);
  if (rc == VEC_E_NONFINITE)
    return vec_fail(rc, (long long)bad,
                    "row %zu decodes to NaN or Inf: its codes or scales are out of range for a "
                    "finite vector (corrupt or crafted input)",
                    bad);
  return finish(rc, bad);
}

/* ---------------------------------------------------------------------------------------------
 * Serialization: "VQCD", u16 major, u16 minor, u32 codec id, u64 dim, u32 group size,
 * i32 rounding, f32 low quantile, f32 high quantile, u32 flags (bit 0: ranges follow, bit 1:
 * module state follows), then if ranges d f32 lo and d f32 hi; minor >= 1 adds after the flags
 * u32 bits, u32 m, u32 rotate, u32 train_iters, u64 train_max, u64 seed (SER_EXT bytes) before
 * the ranges; major 2 adds after those u32 center and u32 0 (SER_EXT2 bytes); then if state a u64
 * size and that many bytes; then u32 CRC-32C of everything before. All little-endian.
 *
 * Versions: 1.0 (no extension), 1.1 (the extension), 2.0 (the extension and center). A codec is
 * written in the oldest version that holds it, so files of the codecs that predate a version stay
 * byte-identical (the golden files pin them). 2.0 is a major version because a 1.x reader that
 * skipped the centre would decode and score a centred codec's codes wrongly: readers refuse a
 * major above theirs (VEC_E_VERSION), so 1.x readers refuse a centred codec instead. Readers also
 * refuse a minor above the newest they know for its major, whose layout they cannot know.
 *
 * 2.1 (vectro 0.2): a codec centred by codec.c rather than by its module (centre.c: binary, int8,
 * int4, the calibrated codecs, pq) sets flag bit 2 and stores, after the ranges and before the
 * module state, d f32 centre values and one f32 scale (binary's mean |x - c|, else 1); and the
 * codecs uint4-cal and uint6-cal (ids 11, 12) are written as 2.1 too, centred or not. 2.0 readers
 * refuse both by the minor version instead of misreading them; a centred rabitq codec is still
 * written as 2.0.
 *
 * 2.2 (vectro 0.2): the u32 after center holds centre flags, bit 0: the codec keeps the centre
 * correction (one more scale a row, centre.c), which every generically centred codec but binary
 * now does. 2.1 readers refuse it by the minor version (they would read rows of the wrong
 * width); a 2.1 codec reads as before, without the correction.
 * ------------------------------------------------------------------------------------------- */
#define SER_MAJOR  2 /* the newest major this code reads */
#define SER_HEADER 40
#define SER_EXT    32
#define SER_EXT2   8

/* The newest minor of each major this code knows (index: major). */
static const unsigned ser_minor_max[SER_MAJOR + 1] = {0, 1, 2};

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void putf(uint8_t *p, float f) { put32(p, vec_f2u_pub(f)); }

static int has_state(const vec_codec *c) {
  return c->ops->state_size && c->trained && c->ops->state_size(c) > 0;
}
/* The generic centre is written (flag bit 2) once trained. */
static int has_centre(const vec_codec *c) { return c->cen && c->cen_set; }
/* 2.2: the centre correction; 2.1: generic centring or a codec that 2.0 readers do not know. */
static unsigned ser_minor(const vec_codec *c) {
  if (c->ccorr) return 2;
  return c->cen || c->base->id == VEC_CODEC_UINT4_CAL || c->base->id == VEC_CODEC_UINT6_CAL ? 1 : 0;
}

/* The oldest version that holds the codec (see above): 2.x for a centred codec or a codec that
 * 1.x readers do not know, 1.1 for one with any parameter of the extension or module state, else
 * 1.0. Every 2.x serialization carries the extension (readers of 2.x expect it before the centre
 * fields): an uncentred uint4-cal has none of its parameters set, yet is 2.1. */
static unsigned ser_major(const vec_codec *c) { return c->p.center || ser_minor(c) ? 2 : 1; }
static int needs_ext(const vec_codec *c) {
  const vec_codec_params *q = &c->p;
  return q->bits || q->m || q->rotate || q->train_iters || q->train_max || q->seed || q->center ||
         has_state(c) || ser_major(c) >= 2;
}

size_t vec_codec_serialized_size(const vec_codec *c) {
  return SER_HEADER + (needs_ext(c) ? SER_EXT : 0) + (ser_major(c) >= 2 ? SER_EXT2 : 0) +
         (VEC_HAS_RANGES(c) && c->trained ? 8 * c->d : 0) + (has_centre(c) ? 4 * c->d + 4 : 0) +
         (has_state(c) ? 8 + c->ops->state_size(c) : 0) + 4;
}

int vec_codec_serialize(const vec_codec *c, void *buf, size_t cap) {
  vec_clear_error();
  size_t need = vec_codec_serialized_size(c);
  if (!buf || cap < need)
    return vec_fail(VEC_E_INVALID_ARG, -1, "buffer of %zu bytes, need %zu", cap, need);
  uint8_t *p = buf;
  memcpy(p, "VQCD", 4);
  int ext = needs_ext(c);
  unsigned major = ser_major(c);
  p[4] = (uint8_t)major, p[5] = 0, p[6] = major == 1 ? (ext ? 1 : 0) : (uint8_t)ser_minor(c);
  p[7] = 0;
  put32(p + 8, (uint32_t)c->ops->id);
  put64(p + 12, (uint64_t)c->d);
  put32(p + 20, c->p.group_size);
  put32(p + 24, (uint32_t)c->p.rounding);
  putf(p + 28, c->p.calib_low_q);
  putf(p + 32, c->p.calib_high_q);
  int ranges = VEC_HAS_RANGES(c) && c->trained, state = has_state(c), centre = has_centre(c);
  put32(p + 36, (ranges ? 1u : 0u) | (state ? 2u : 0u) | (centre ? 4u : 0u));
  size_t off = SER_HEADER;
  if (ext) {
    put32(p + off, c->p.bits);
    put32(p + off + 4, c->p.m);
    put32(p + off + 8, (uint32_t)c->p.rotate);
    put32(p + off + 12, c->p.train_iters);
    put64(p + off + 16, (uint64_t)c->p.train_max);
    put64(p + off + 24, c->p.seed);
    off += SER_EXT;
  }
  if (major >= 2) {
    put32(p + off, (uint32_t)c->p.center);
    put32(p + off + 4, c->ccorr ? 1u : 0u);
    off += SER_EXT2;
  }
  if (ranges) {
    for (size_t j = 0; j < c->d; j++) putf(p + off + 4 * j, c->lo[j]);
    off += 4 * c->d;
    for (size_t j = 0; j < c->d; j++) putf(p + off + 4 * j, c->hi[j]);
    off += 4 * c->d;
  }
  if (centre) {
    for (size_t j = 0; j < c->d; j++) putf(p + off + 4 * j, c->cen[j]);
    putf(p + off + 4 * c->d, c->cscale);
    off += 4 * c->d + 4;
  }
  if (state) {
    size_t ss = c->ops->state_size(c);
    put64(p + off, (uint64_t)ss);
    c->base->state_write(c, p + off + 8);
    off += 8 + ss;
  }
  put32(p + off, vec_crc32c(0, p, off));
  return VEC_OK;
}

/* What a serialised codec may make the reader allocate beyond its own bytes. A codec's tables are
 * either carried in the serialisation (ranges, pq codebooks: the allocation follows the input's
 * size) or built from the parameters alone (rabitq's and rotated pq's rotation: 60 bytes per
 * dimension; untrained pq's empty tables): those are what a tiny hostile header can blow up (a
 * 76-byte .vqc with d = 2^26 asked for 3 GB). The bound admits every codec a real embedding
 * needs (rabitq and rotated pq up to ~3.7 million dimensions, 8-bit pq without its codebooks up to
 * ~110 thousand) and refuses the rest before allocating anything. */
#define SER_ALLOC_FIXED ((uint64_t)256 << 20)
#define SER_ALLOC_RATIO 8

/* Upper bound, in bytes, of what vec_codec_create allocates for these parameters. */
static uint64_t create_bytes(const vec_codec_params *p) {
  uint64_t d = p->dim, bytes = 16 * d;             /* calibrated ranges, steps and inverses */
  uint64_t rotation = (2 * 7 + 1) * 4 * d + 8 * d; /* <= 7 transforms + 1, both ways, scratch */
  if (p->codec == VEC_CODEC_RABITQ) bytes += rotation + 4 * d; /* and the centre */
  if (p->codec == VEC_CODEC_PQ) {
    uint64_t ksub = (uint64_t)1 << (p->bits < 16 ? p->bits : 16), kp = ksub + 64;
    bytes += (ksub + kp) * 4 * d + (uint64_t)p->m * kp * 4 + (p->rotate ? rotation : 0);
  }
  return bytes;
}

int vec_codec_deserialize(const void *buf, size_t size, vec_codec **out) {
  vec_clear_error();
  if (!buf || !out) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  *out = NULL;
  const uint8_t *p = buf;
  if (size < SER_HEADER + 4 || memcmp(p, "VQCD", 4) != 0)
    return vec_fail(VEC_E_FORMAT, -1, "not a serialized vectro codec (bad magic or too short)");
  unsigned major = p[4] | (unsigned)p[5] << 8, minor = p[6] | (unsigned)p[7] << 8;
  if (major == 0)
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec has format version 0.%u (invalid)", minor);
  if (major > SER_MAJOR || minor > ser_minor_max[major])
    return vec_fail(VEC_E_VERSION, -1,
                    "codec written by format version %u.%u; this vectro reads up to %u.%u: upgrade",
                    major, minor, SER_MAJOR, ser_minor_max[SER_MAJOR]);
  uint64_t dim = get64(p + 12);
  uint32_t flags = get32(p + 36);
  int ranges = flags & 1u, state = (flags >> 1) & 1u, centre = (flags >> 2) & 1u;
  if (centre && (major < 2 || minor < 1))
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec %u.%u has a flag it cannot have", major,
                    minor);
  if (dim == 0 || dim > ((uint64_t)1 << 28))
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec has an absurd dimension %llu",
                    (unsigned long long)dim);
  size_t ext = major >= 2 ? SER_EXT + SER_EXT2 : minor >= 1 ? SER_EXT : 0;
  size_t rbase = SER_HEADER + ext;
  size_t cbase = rbase + (ranges ? 8 * (size_t)dim : 0);
  size_t body = cbase + (centre ? 4 * (size_t)dim + 4 : 0);
  uint64_t ss = 0;
  if (state) {
    if (size < body + 8 + 4)
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec is truncated (%zu bytes)", size);
    ss = get64(p + body);
    if (ss > size - body - 8 - 4)
      return vec_fail(VEC_E_FORMAT, -1,
                      "serialized codec is truncated (state of %llu bytes, %zu bytes in all)",
                      (unsigned long long)ss, size);
    body += 8 + (size_t)ss;
  }
  if (size < body + 4)
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec is truncated (%zu of %zu bytes)", size,
                    body + 4);
  if (vec_crc32c(0, p, body) != get32(p + body))
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec fails its checksum (corrupt)");
  /* Bytes after the checksum belong to nothing: a .vqc with a tail was damaged or concatenated. */
  if (size != body + 4)
    return vec_fail(VEC_E_FORMAT, -1,
                    "serialized codec is followed by %zu unexpected bytes (it ends at byte %zu)",
                    size - body - 4, body + 4);
  vec_codec_params prm = VEC_CODEC_PARAMS_INIT((vec_codec_id)get32(p + 8), (size_t)dim);
  prm.group_size = get32(p + 20);
  prm.rounding = (int)get32(p + 24);
  prm.calib_low_q = vec_u2f_pub(get32(p + 28));
  prm.calib_high_q = vec_u2f_pub(get32(p + 32));
  if (ext) {
    prm.bits = get32(p + SER_HEADER);
    prm.m = get32(p + SER_HEADER + 4);
    prm.rotate = (int)get32(p + SER_HEADER + 8);
    prm.train_iters = get32(p + SER_HEADER + 12);
    prm.train_max = (size_t)get64(p + SER_HEADER + 16);
    prm.seed = get64(p + SER_HEADER + 24);
  }
  uint32_t cflags = 0;
  if (major >= 2) {
    prm.center = (int)get32(p + SER_HEADER + SER_EXT);
    cflags = get32(p + SER_HEADER + SER_EXT + 4);
    if (cflags > (minor >= 2 ? 1u : 0u))
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec %u.%u has centre flags %u it cannot have",
                      major, minor, cflags);
  }
  uint64_t need = create_bytes(&prm);
  if (need > SER_ALLOC_FIXED + SER_ALLOC_RATIO * (uint64_t)size)
    return vec_fail(VEC_E_FORMAT, -1,
                    "serialized codec of %zu bytes asks for %llu MiB of tables (dimension %llu): "
                    "more than a header may make a reader allocate (256 MiB plus 8 times its own "
                    "size); corrupt or hostile",
                    size, (unsigned long long)(need >> 20), (unsigned long long)dim);
  vec_codec *c;
  int rc = vec_codec_create(&prm, &c);
  if (rc)
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec is invalid: %s", vec_last_error_message());
  if (centre && !c->cen) {
    vec_codec_free(c);
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec has a centre it cannot use");
  }
  if (c->cen) {
    /* A 2.1 codec predates the correction: its rows have none. */
    if ((cflags & 1u) && !c->ccorr) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec has a centre correction it cannot use");
    }
    c->ccorr = (int)(cflags & 1u);
  } else if (cflags) {
    vec_codec_free(c);
    return vec_fail(VEC_E_FORMAT, -1, "serialized codec has centre flags but no centre");
  }
  if (centre) {
    for (size_t j = 0; j < c->d; j++) {
      c->cen[j] = vec_u2f_pub(get32(p + cbase + 4 * j));
      if (!isfinite(c->cen[j])) {
        vec_codec_free(c);
        return vec_fail(VEC_E_FORMAT, -1, "serialized codec's centre value %zu is NaN or Inf", j);
      }
    }
    c->cscale = vec_u2f_pub(get32(p + cbase + 4 * c->d));
    if (!(c->cscale > 0.0f) || isinf(c->cscale)) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec's centre scale is not finite and > 0");
    }
    c->cen_set = 1;
  }
  if (state) {
    if (!c->base->state_read) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec has state it cannot use");
    }
    rc = c->base->state_read(c, p + body - ss, (size_t)ss);
    if (rc) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec state is invalid: %s",
                      vec_last_error_message());
    }
    c->trained = 1;
  }
  if (ranges) {
    if (!VEC_HAS_RANGES(c)) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec has ranges it cannot use");
    }
    for (size_t j = 0; j < c->d; j++) {
      c->lo[j] = vec_u2f_pub(get32(p + rbase + 4 * j));
      c->hi[j] = vec_u2f_pub(get32(p + rbase + 4 * (c->d + j)));
    }
    if (check_ranges(c, c->lo, c->hi) != VEC_OK) {
      vec_codec_free(c);
      return vec_fail(VEC_E_FORMAT, -1, "serialized codec has invalid ranges");
    }
    derive_steps(c);
  }
  if (c->cen) /* trained: the centre, and the module's ranges or state where it needs them */
    c->trained = c->cen_set && (!c->base->needs_training || ranges || state);
  *out = c;
  return VEC_OK;
}
