/* test_intq.c: the int16 and int4 codecs against an independent reference of their documented
 * math, every ISA against scalar bit for bit, and the codec object's handling of both. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

/* ---- independent reference (float compares, libm rounding in the default mode) ---- */

static float ref_scale(float m, int L) {
  float s = m / (float)L;
  if (isinf(s * (float)L)) s = nextafterf(s, 0.0f); /* documented: decode stays finite */
  return s;
}

/* One segment: integer codes and its scale. */
static void ref_seg(const float *x, size_t len, int L, int *q, float *s) {
  float m = 0.0f;
  for (size_t j = 0; j < len; j++) m = fabsf(x[j]) > m ? fabsf(x[j]) : m;
  if (m == 0.0f) {
    for (size_t j = 0; j < len; j++) q[j] = 0;
    *s = 0.0f;
    return;
  }
  float up = m < 0x1p-96f ? 0x1p96f : 1.0f;
  float inv = (float)L / (m * up);
  for (size_t j = 0; j < len; j++) {
    float r = nearbyintf((x[j] * up) * inv);
    q[j] = (int)(r > (float)L ? (float)L : r < (float)-L ? (float)-L : r);
  }
  *s = ref_scale(m, L);
}

/* int16 row: 2d bytes little-endian, one scale. */
static void ref_i16(const float *x, size_t d, uint8_t *b, float *s) {
  int *q = malloc(d * sizeof(int));
  ref_seg(x, d, 32767, q, s);
  for (size_t j = 0; j < d; j++) {
    uint16_t u = (uint16_t)(int16_t)q[j];
    b[2 * j] = (uint8_t)(u & 0xff);
    b[2 * j + 1] = (uint8_t)(u >> 8);
  }
  free(q);
}

static size_t group_of(size_t d, unsigned g) { return g == 0 || g >= d ? d : g; }
static size_t groups_of(size_t d, unsigned g) { return (d + group_of(d, g) - 1) / group_of(d, g); }

/* int4 row: ceil(d/2) bytes, element 2j in the low nibble of byte j, 2j+1 in the high one. */
static void ref_i4(const float *x, size_t d, unsigned g, uint8_t *b, float *s) {
  size_t gs = group_of(d, g);
  int *q = malloc(d * sizeof(int));
  for (size_t k = 0, j = 0; j < d; k++, j += gs)
    ref_seg(x + j, d - j < gs ? d - j : gs, 7, q + j, &s[k]);
  memset(b, 0, (d + 1) / 2);
  for (size_t j = 0; j < d; j++) b[j / 2] |= (uint8_t)(((unsigned)q[j] & 15u) << (j % 2 ? 4 : 0));
  free(q);
}

static float ref_i4_value(const uint8_t *b, size_t j) {
  int nib = (b[j / 2] >> (j % 2 ? 4 : 0)) & 15;
  return (float)(nib >= 8 ? nib - 16 : nib);
}

/* ---- helpers ---- */

static void fill(float *x, size_t count, uint64_t *seed, int kind) {
  for (size_t i = 0; i < count; i++) {
    switch (kind) {
    case 0: x[i] = vt_normal(seed); break;
    case 1: x[i] = vt_uniform(seed) * 1e30f; break;  /* large */
    case 2: x[i] = vt_uniform(seed) * 1e-38f; break; /* subnormal-ish: the tiny path */
    default: x[i] = (float)((int)(vt_next(seed) % 31) - 15) * 0.5f; /* half-integers: ties */
    }
  }
}

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64); }

static vec_codec *make(vec_codec_id id, size_t d, unsigned g) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  p.group_size = g;
  vec_codec *c = NULL;
  if (vec_codec_create(&p, &c) != VEC_OK) return NULL;
  return c;
}

/* The intq family of `isa`'s table with every sub-feature this CPU has. */
static const vec_intq_kernels *table(int isa) {
  static vec_kernels k[4];
  vec_kernels_fill(&k[isa & 3], (vec_isa)isa, ~0u);
  return &k[isa & 3].intq;
}

/* The group modes exercised throughout: one scale a row, the default 32, and a small group that
 * does not divide most d (6). */
static const unsigned GROUPS[] = {0, 32, 6};
#define NGROUPS (sizeof GROUPS / sizeof GROUPS[0])

/* ---- tests ---- */

static void sizes_and_names(void) {
  vec_codec *c = make(VEC_CODEC_INT16, 768, 0);
  CHECK(c && vec_codec_code_size(c) == 1536 && vec_codec_scale_count(c) == 1);
  CHECK(strcmp(vec_codec_name(VEC_CODEC_INT16), "int16") == 0 && !vec_codec_needs_training(c));
  vec_codec_free(c);
  const struct {
    size_t d;
    unsigned g;
    size_t cs, sc;
  } t[] = {{768, 0, 384, 1},   {769, 0, 385, 1}, {768, 32, 384, 24}, {769, 32, 385, 25},
           {100, 6, 50, 17},   {1, 0, 1, 1},     {1, 32, 1, 1},      {31, 32, 16, 1},
           {100, 1000, 50, 1}, {33, 2, 17, 17}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    c = make(VEC_CODEC_INT4, t[i].d, t[i].g);
    CHECKF(c && vec_codec_code_size(c) == t[i].cs && vec_codec_scale_count(c) == t[i].sc,
           "d %zu g %u", t[i].d, t[i].g);
    vec_codec_free(c);
  }
  CHECK(make(VEC_CODEC_INT4, 64, 5) == NULL); /* odd groups would split a byte */
  vec_codec_id id;
  CHECK(vec_codec_from_name("int4", &id) == VEC_OK && id == VEC_CODEC_INT4);
}

/* Through the codec object, every ISA, against the reference: codes, scales and decoded floats. */
static void matches_reference(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 1;
  enum { N = 5 };
  const size_t dims[] = {1, 2, 3, 7, 15, 16, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 384, 769};
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    const size_t d = dims[di];
    float *x = malloc(N * d * 4), *o = malloc(N * d * 4), *s = malloc(N * d * 4),
          *rs = malloc(d * 4);
    uint8_t *q = malloc(N * 2 * d), *rq = malloc(2 * d);
    for (int kind = 0; kind < 4; kind++) {
      fill(x, N * d, &seed, kind);
      memset(x + 2 * d, 0, d * 4); /* one zero row */
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        const char *isa = vec_isa_name((vec_isa)isas[k]);
        vec_codec *c = make(VEC_CODEC_INT16, d, 0);
        CHECK(c && vec_codec_encode(c, x, N, d, q, s, NULL) == VEC_OK);
        CHECK(vec_codec_decode(c, q, s, N, o, d, NULL) == VEC_OK);
        vec_codec_free(c);
        for (size_t i = 0; i < N; i++) {
          ref_i16(x + i * d, d, rq, rs);
          CHECKF(memcmp(q + i * 2 * d, rq, 2 * d) == 0 && memcmp(&s[i], rs, 4) == 0,
                 "int16 %s kind %d d %zu row %zu", isa, kind, d, i);
          for (size_t j = 0; j < d; j++) {
            float want = (float)(int16_t)(uint16_t)(rq[2 * j] | rq[2 * j + 1] << 8) * rs[0];
            CHECKF(memcmp(&o[i * d + j], &want, 4) == 0, "int16 decode %s d %zu", isa, d);
          }
        }
        for (size_t gi = 0; gi < NGROUPS; gi++) {
          const unsigned g = GROUPS[gi];
          const size_t cs = (d + 1) / 2, sc = groups_of(d, g), gs = group_of(d, g);
          c = make(VEC_CODEC_INT4, d, g);
          CHECK(c && vec_codec_encode(c, x, N, d, q, s, NULL) == VEC_OK);
          CHECK(vec_codec_decode(c, q, s, N, o, d, NULL) == VEC_OK);
          vec_codec_free(c);
          for (size_t i = 0; i < N; i++) {
            ref_i4(x + i * d, d, g, rq, rs);
            CHECKF(memcmp(q + i * cs, rq, cs) == 0 && memcmp(&s[i * sc], rs, sc * 4) == 0,
                   "int4 %s g %u kind %d d %zu row %zu", isa, g, kind, d, i);
            for (size_t j = 0; j < d; j++) {
              float want = ref_i4_value(rq, j) * rs[j / gs];
              CHECKF(memcmp(&o[i * d + j], &want, 4) == 0, "int4 decode %s g %u d %zu j %zu", isa,
                     g, d, j);
            }
          }
        }
      }
    }
    free(x), free(o), free(s), free(rs), free(q), free(rq);
  }
}

/* max |x| = L makes inv exactly 1, so half-integers are exact ties: they must go to even. Long
 * enough rows (and groups) that every SIMD path sees them, under every FP rounding mode. */
static void ties_round_to_even(void) {
  int isas[4], ni = vt_isas(isas);
  enum { D = 96 };
  const float pat[8] = {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.5f, -1.5f};
  const int want[8] = {2, 4, -2, -4, 0, 0, 2, -2};
  const int modes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  float x[D], s[D / 8];
  uint8_t q[2 * D];
  for (int md = 0; md < 4; md++) {
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      const char *isa = vec_isa_name((vec_isa)isas[k]);
      /* int16: values v * 32767/7 would not be exact; use half-integers below 32767 directly */
      for (size_t j = 0; j < D; j++) x[j] = j == 0 ? 32767.0f : pat[j % 8] + 1000.0f * (j % 3);
      vec_codec *c = make(VEC_CODEC_INT16, D, 0);
      CHECK(fesetround(modes[md]) == 0);
      int rc = vec_codec_encode(c, x, 1, D, q, s, NULL);
      fesetround(FE_TONEAREST);
      vec_codec_free(c);
      CHECK(rc == VEC_OK && s[0] == 1.0f);
      for (size_t j = 1; j < D; j++) {
        int v = (int16_t)(uint16_t)(q[2 * j] | q[2 * j + 1] << 8);
        CHECKF(v == want[j % 8] + 1000 * (int)(j % 3), "int16 %s mode %d j %zu: %d", isa, md, j, v);
      }
      for (size_t gi = 0; gi < NGROUPS; gi++) {
        /* every group (g = 8 stands in for 6 here) holds a 7, so every scale is exactly 1 */
        for (size_t j = 0; j < D; j++) x[j] = j % 8 == 7 ? 7.0f : pat[j % 8];
        c = make(VEC_CODEC_INT4, D, GROUPS[gi] == 6 ? 8 : GROUPS[gi]);
        const size_t sc = vec_codec_scale_count(c);
        CHECK(fesetround(modes[md]) == 0);
        rc = vec_codec_encode(c, x, 1, D, q, s, NULL);
        fesetround(FE_TONEAREST);
        vec_codec_free(c);
        CHECK(rc == VEC_OK);
        for (size_t t = 0; t < sc; t++) CHECK(s[t] == 1.0f);
        for (size_t j = 0; j < D; j++) {
          int v = (int)ref_i4_value(q, j), w = j % 8 == 7 ? 7 : want[j % 8];
          CHECKF(v == w, "int4 %s g %u mode %d j %zu: %d", isa, GROUPS[gi], md, j, v);
        }
      }
    }
  }
}

/* Zero, -0.0, subnormal-only (tiny), FLT_MAX-sized groups side by side in one row of 12 groups of
 * 32, so that the eight-groups-at-once paths meet each case; checked against the reference. */
static void special_groups(void) {
  int isas[4], ni = vt_isas(isas);
  enum { D = 12 * 32 + 5 };
  float x[D], s[13], o[D], rs[13];
  uint8_t q[D], rq[D];
  uint64_t seed = 5;
  for (size_t j = 0; j < D; j++) {
    size_t g = j / 32;
    float v = vt_normal(&seed);
    x[j] = g == 0   ? 0.0f
           : g == 1 ? -0.0f
           : g == 2 ? v * 1e-40f                       /* subnormals: tiny path */
           : g == 3 ? (j == 100 ? -0x1p-149f : 0.0f)   /* one denormal */
           : g == 4 ? (j == 130 ? FLT_MAX : v * 1e37f) /* scale steps down an ulp */
           : g == 5 ? v * 1e38f
           : g == 9 ? v * 1e-30f /* tiny, in the leftover groups */
                    : v;
  }
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    vec_codec *c = make(VEC_CODEC_INT4, D, 32);
    CHECK(vec_codec_encode(c, x, 1, D, q, s, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, q, s, 1, o, D, NULL) == VEC_OK);
    vec_codec_free(c);
    ref_i4(x, D, 32, rq, rs);
    CHECKF(memcmp(q, rq, (D + 1) / 2) == 0 && memcmp(s, rs, sizeof s) == 0, "%s",
           vec_isa_name((vec_isa)isas[k]));
    /* a lone denormal's scale 2^-149 / 7 rounds to 0: the code keeps the sign, the value is lost */
    CHECK(s[0] == 0.0f && s[1] == 0.0f && s[2] > 0.0f && s[3] == 0.0f);
    CHECK(ref_i4_value(q, 100) == -7.0f && ref_i4_value(q, 130) == 7.0f);
    for (size_t j = 0; j < D; j++) CHECK(isfinite(o[j]));
    CHECK(o[130] <= FLT_MAX && o[130] >= FLT_MAX * (1.0f - 1e-6f) && o[0] == 0.0f);
    CHECK(s[4] == FLT_MAX / 7.0f); /* 7 * (FLT_MAX / 7) is finite: no step down for int4 */
    /* int16: the same rows one at a time */
    for (size_t g = 0; g < 6; g++) {
      c = make(VEC_CODEC_INT16, 64, 0);
      CHECK(vec_codec_encode(c, x + 32 * g, 1, 64, q, s, NULL) == VEC_OK);
      CHECK(vec_codec_decode(c, q, s, 1, o, 64, NULL) == VEC_OK);
      vec_codec_free(c);
      ref_i16(x + 32 * g, 64, rq, rs);
      CHECKF(memcmp(q, rq, 128) == 0 && s[0] == rs[0], "int16 %s group %zu",
             vec_isa_name((vec_isa)isas[k]), g);
      for (size_t j = 0; j < 64; j++) CHECK(isfinite(o[j]));
      /* 32767 * (FLT_MAX / 32767) overflows: the scale must have stepped down one ulp */
      if (g == 4) CHECK(s[0] == nextafterf(FLT_MAX / 32767.0f, 0.0f));
    }
  }
}

/* Odd d: the last byte's high nibble is 0 and decode writes exactly d floats. */
static void odd_d_padding(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 11;
  for (size_t d = 1; d <= 131; d += 2) {
    float x[131], o[132];
    uint8_t q[66];
    float s[131];
    for (size_t j = 0; j < d; j++) x[j] = -1.0f - vt_uniform(&seed) * 0.1f; /* all negative */
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      for (size_t gi = 0; gi < NGROUPS; gi++) {
        vec_codec *c = make(VEC_CODEC_INT4, d, GROUPS[gi]);
        CHECK(vec_codec_encode(c, x, 1, d, q, s, NULL) == VEC_OK);
        CHECKF((q[d / 2] & 0xf0) == 0 && (q[d / 2] & 0x0f) >= 8, "d %zu g %u byte %02x", d,
               GROUPS[gi], q[d / 2]);
        o[d] = 12345.0f;
        CHECK(vec_codec_decode(c, q, s, 1, o, d, NULL) == VEC_OK);
        CHECK(o[d] == 12345.0f && o[d - 1] < 0.0f);
        vec_codec_free(c);
      }
    }
  }
}

/* Every ISA's kernels against the scalar ones, bit for bit: d = 1..4099, unaligned inputs and
 * outputs, strided rows, and the streaming flag with aligned outputs. */
static void isas_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  enum { N = 3, DMAX = 4099, M = NGROUPS + 1 }; /* M modes: int16 last */
  const size_t XCAP = N * (DMAX + 5) + 64, QCAP = N * 2 * DMAX + 64;
  float *xb = alloc64(XCAP * 4), *ob = alloc64(XCAP * 4), *sb = malloc(N * DMAX * 4);
  uint8_t *qb = alloc64(QCAP), *qref[M];
  float *oref[M], *sref[M];
  for (int m = 0; m < M; m++)
    qref[m] = malloc(QCAP), oref[m] = malloc(XCAP * 4), sref[m] = malloc(N * DMAX * 4);
  uint64_t seed = 42;
  const vec_intq_kernels *sk = table(VEC_ISA_SCALAR);
  for (size_t d = 1; d <= DMAX; d++) {
    size_t off = d % 4, ldx = d + (d % 3 == 0 ? 5 : 0);
    float *x = xb + off;
    fill(x, N * ldx, &seed, (int)(d % 4));
    if (d % 5 == 0) memset(x + ldx, 0, d * 4);
    if (d % 7 == 0 && d > 64) memset(x + 32, 0, 32 * 4); /* a zero group now and then */
    size_t g[M], cs[M], sc[M];
    for (int m = 0; m < M; m++) {
      int i16 = m == NGROUPS;
      g[m] = i16 ? d : group_of(d, GROUPS[m]);
      cs[m] = i16 ? 2 * d : (d + 1) / 2;
      sc[m] = i16 ? 1 : groups_of(d, GROUPS[m]);
      if (i16) {
        CHECK(sk->encode_i16(x, N, d, ldx, qref[m], cs[m], sref[m], 0) == N);
        sk->decode_i16(qref[m], N, d, cs[m], sref[m], oref[m], d, 0);
      } else {
        CHECK(sk->encode_i4(x, N, d, g[m], ldx, qref[m], cs[m], sref[m], sc[m], 0) == N);
        sk->decode_i4(qref[m], N, d, g[m], cs[m], sref[m], sc[m], oref[m], d, 0);
      }
    }
    for (int k = 1; k < ni; k++) {
      const vec_intq_kernels *kt = table(isas[k]);
      for (unsigned flags = 0; flags <= VEC_KF_STREAM; flags++) {
        /* streaming needs alignment: flags = 1 uses aligned outputs, flags = 0 misaligns them */
        uint8_t *q = qb + (flags ? 0 : 1);
        float *o = ob + (flags ? 0 : 1);
        for (int m = 0; m < M; m++) {
          const char *what = m == NGROUPS ? "int16" : "int4";
          memset(ob, 0xff, (N * d + 1) * 4); /* NaN: a value left unwritten cannot pass */
          memset(qb, 0xa5, N * cs[m] + 1);
          if (m == NGROUPS) {
            CHECK(kt->encode_i16(x, N, d, ldx, q, cs[m], sb, flags) == N);
            kt->decode_i16(q, N, d, cs[m], sb, o, d, flags);
          } else {
            CHECK(kt->encode_i4(x, N, d, g[m], ldx, q, cs[m], sb, sc[m], flags) == N);
            kt->decode_i4(q, N, d, g[m], cs[m], sb, sc[m], o, d, flags);
          }
          CHECKF(!memcmp(q, qref[m], N * cs[m]) && !memcmp(sb, sref[m], N * sc[m] * 4),
                 "%s encode %s g=%zu d=%zu flags=%u", what, vec_isa_name((vec_isa)isas[k]), g[m], d,
                 flags);
          CHECKF(!memcmp(o, oref[m], N * d * 4), "%s decode %s g=%zu d=%zu flags=%u", what,
                 vec_isa_name((vec_isa)isas[k]), g[m], d, flags);
        }
      }
    }
  }
  for (int m = 0; m < M; m++) free(qref[m]), free(oref[m]), free(sref[m]);
  free(xb), free(ob), free(sb), free(qb);
}

/* The other group sizes take other paths (g < 32: per-element multipliers by chunks of whole
 * groups; g > 32: one segment each): every ISA against scalar for d = 1..700 on all of them. */
static void other_groups_bit_identical(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t N = 3, DMAX = 700, gs[] = {2, 4, 8, 14, 16, 30, 34, 64, 96, 258};
  float *xb = alloc64(N * DMAX * 4 + 64), *o = alloc64(N * DMAX * 4 + 64),
        *oref = malloc(N * DMAX * 4);
  float *s = malloc(N * DMAX * 4), *sref = malloc(N * DMAX * 4);
  uint8_t *q = alloc64(N * DMAX + 64), *qref = malloc(N * DMAX);
  uint64_t seed = 99;
  const vec_intq_kernels *sk = table(VEC_ISA_SCALAR);
  for (size_t d = 1; d <= DMAX; d++) {
    float *x = xb + d % 3;
    fill(x, N * d, &seed, (int)(d % 4));
    if (d % 4 == 1 && d > 40) {
      memset(x + 8, 0, 12 * 4);                        /* a zero group for small g */
      for (size_t j = 20; j < 34; j++) x[j] *= 1e-33f; /* tiny groups */
    }
    for (size_t gi = 0; gi < sizeof gs / sizeof gs[0]; gi++) {
      const size_t g = gs[gi] < d ? gs[gi] : d, cs = (d + 1) / 2, sc = (d + g - 1) / g;
      CHECK(sk->encode_i4(x, N, d, g, d, qref, cs, sref, sc, 0) == N);
      sk->decode_i4(qref, N, d, g, cs, sref, sc, oref, d, 0);
      for (int k = 1; k < ni; k++) {
        const vec_intq_kernels *kt = table(isas[k]);
        CHECK(kt->encode_i4(x, N, d, g, d, q + 1, cs, s, sc, 0) == N);
        CHECKF(!memcmp(q + 1, qref, N * cs) && !memcmp(s, sref, N * sc * 4), "%s g=%zu d=%zu",
               vec_isa_name((vec_isa)isas[k]), g, d);
        memset(o, 0xff, (N * d + 1) * 4); /* NaN: a value left unwritten cannot pass */
        kt->decode_i4(q + 1, N, d, g, cs, s, sc, o + 1, d, 0);
        CHECKF(!memcmp(o + 1, oref, N * d * 4), "decode %s g=%zu d=%zu",
               vec_isa_name((vec_isa)isas[k]), g, d);
      }
      /* and the reference agrees with the scalar kernels here too */
      float rs[700];
      uint8_t rq[350];
      ref_i4(x, d, (unsigned)g, rq, rs);
      CHECKF(!memcmp(rq, qref, cs) && !memcmp(rs, sref, sc * 4), "reference g=%zu d=%zu", g, d);
    }
  }
  free(xb), free(o), free(oref), free(s), free(sref), free(q), free(qref);
}

/* Buffers that end at an inaccessible page: a tail that reads or writes one element too far
 * crashes here instead of passing silently. */
static void guard_pages(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  const size_t n = 2;
  for (size_t d = 1; d <= 200; d++) {
    void *hx, *ho;
    size_t zx, zo;
    float *x = vt_guarded_alloc(n * d * 4, &hx, &zx), *o = vt_guarded_alloc(n * d * 4, &ho, &zo);
    CHECK(x && o);
    fill(x, n * d, &seed, 0);
    for (size_t m = 0; m <= NGROUPS; m++) {
      vec_codec *c =
          m == NGROUPS ? make(VEC_CODEC_INT16, d, 0) : make(VEC_CODEC_INT4, d, GROUPS[m]);
      size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
      void *hq, *hs;
      size_t zq, zs;
      uint8_t *q = vt_guarded_alloc(n * cs, &hq, &zq);
      float *s = vt_guarded_alloc(n * sc * 4, &hs, &zs);
      CHECK(q && s);
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, n, d, q, s, NULL) == VEC_OK);
        CHECK(vec_codec_decode(c, q, s, n, o, d, NULL) == VEC_OK);
      }
      vt_guarded_free(hq, zq), vt_guarded_free(hs, zs);
      vec_codec_free(c);
    }
    vt_guarded_free(hx, zx), vt_guarded_free(ho, zo);
  }
}

/* |x - x̂| <= s/2 per element with s its own group's scale, up to float rounding: x*inv carries
 * a relative error of about 2^-23, i.e. up to L * 2^-23 code steps, and the decode and the scale
 * one ulp each, so the bound checked is s * (1/2 + L * 2^-22): 0.5000017 s for int4, 0.5078 s for
 * int16. */
static void error_bound(void) {
  uint64_t seed = 3;
  const size_t n = 40, d = 777;
  float *x = malloc(n * d * 4), *o = malloc(n * d * 4), *s = malloc(n * d * 4);
  uint8_t *q = malloc(n * 2 * d);
  for (int kind = 0; kind < 3; kind++) {
    fill(x, n * d, &seed, kind);
    for (size_t m = 0; m <= NGROUPS; m++) {
      int i16 = m == NGROUPS;
      vec_codec *c = i16 ? make(VEC_CODEC_INT16, d, 0) : make(VEC_CODEC_INT4, d, GROUPS[m]);
      const size_t sc = vec_codec_scale_count(c), gs = i16 ? d : group_of(d, GROUPS[m]);
      const float L = i16 ? 32767.0f : 7.0f, k = 0.5f + L * 0x1p-22f;
      CHECK(vec_codec_encode(c, x, n, d, q, s, NULL) == VEC_OK);
      CHECK(vec_codec_decode(c, q, s, n, o, d, NULL) == VEC_OK);
      vec_codec_free(c);
      for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < d; j++) {
          float sg = s[i * sc + j / gs], e = fabsf(x[i * d + j] - o[i * d + j]);
          /* the tiny kind's scales are subnormal, off by up to 2^-150 each, |q| <= L times */
          CHECKF(e <= sg * k + (kind == 2 ? (L + 1.0f) * 0.5f * 0x1p-149f : 0.0f),
                 "kind %d mode %zu row %zu col %zu err %g scale %g", kind, m, i, j, e, sg);
        }
      }
    }
  }
  free(x), free(o), free(s), free(q);
}

/* NaN/Inf at the head, middle, a leftover group and the last element of row 17 (a later bad row
 * must not be the one reported), for every ISA and group mode; then a batch big enough for two
 * threads with bad rows in both threads' halves. */
static void nonfinite_rows_reported(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t n = 40, d = 300;
  float *x = malloc(n * d * 4), *s = malloc(n * d * 4);
  uint8_t *q = malloc(n * 2 * d);
  uint64_t seed = 9;
  const float bad[3] = {NAN, INFINITY, -INFINITY};
  const size_t cols[4] = {0, 150, 270, 299};
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    for (size_t m = 0; m <= NGROUPS; m++) {
      vec_codec *c =
          m == NGROUPS ? make(VEC_CODEC_INT16, d, 0) : make(VEC_CODEC_INT4, d, GROUPS[m]);
      for (int b = 0; b < 3; b++) {
        for (int ci = 0; ci < 4; ci++) {
          fill(x, n * d, &seed, 0);
          x[17 * d + cols[ci]] = bad[b];
          x[30 * d + 3] = NAN;
          CHECK(vec_codec_encode(c, x, n, d, q, s, NULL) == VEC_E_NONFINITE);
          CHECKF(vec_last_error_row() == 17, "%s mode %zu col %zu: row %lld",
                 vec_isa_name((vec_isa)isas[k]), m, cols[ci], vec_last_error_row());
          CHECK(strstr(vec_last_error_message(), "row 17") != NULL);
        }
      }
      vec_codec_free(c);
    }
  }
  free(x), free(s), free(q);
  /* threads = 2 on 12 MB: the second thread's bad row must not win over the first's */
  const size_t bn = 12000, bd = 256;
  float *bx = malloc(bn * bd * 4), *bs = malloc(bn * 64 * 4);
  uint8_t *bq = malloc(bn * 2 * bd);
  CHECK(bx && bs && bq);
  fill(bx, bn * bd, &seed, 0);
  bx[5000 * bd + 200] = NAN;
  bx[11000 * bd + 1] = INFINITY;
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = 2;
  for (size_t m = 0; m <= NGROUPS; m++) {
    vec_codec *c =
        m == NGROUPS ? make(VEC_CODEC_INT16, bd, 0) : make(VEC_CODEC_INT4, bd, GROUPS[m]);
    CHECK(vec_codec_encode(c, bx, bn, bd, bq, bs, &o) == VEC_E_NONFINITE);
    CHECK(vec_last_error_row() == 5000);
    vec_codec_free(c);
  }
  bx[5000 * bd + 200] = 1.0f;
  bx[11000 * bd + 1] = 1.0f;
  vec_codec *c = make(VEC_CODEC_INT4, bd, 32);
  CHECK(vec_codec_encode(c, bx, bn, bd, bq, bs, &o) == VEC_OK);
  CHECK(vec_last_error_row() == -1);
  vec_codec_free(c);
  free(bx), free(bs), free(bq);
}

/* n = 0 (NULL buffers allowed), n = 1, and a strided input and output through the object. */
static void batch_shapes(void) {
  vec_codec *c = make(VEC_CODEC_INT4, 70, 32);
  CHECK(vec_codec_encode(c, NULL, 0, 70, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c, NULL, NULL, 0, NULL, 70, NULL) == VEC_OK);
  float x[3 * 80], o[3 * 90], s[9], rs[3];
  uint8_t q[3 * 35], rq[35];
  uint64_t seed = 13;
  fill(x, 3 * 80, &seed, 0);
  CHECK(vec_codec_encode(c, x, 1, 80, q, s, NULL) == VEC_OK);
  ref_i4(x, 70, 32, rq, rs);
  CHECK(memcmp(q, rq, 35) == 0 && memcmp(s, rs, 12) == 0);
  CHECK(vec_codec_encode(c, x, 3, 80, q, s, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c, q, s, 3, o, 90, NULL) == VEC_OK);
  for (size_t i = 0; i < 3; i++) {
    ref_i4(x + 80 * i, 70, 32, rq, rs);
    CHECK(memcmp(q + 35 * i, rq, 35) == 0 && memcmp(s + 3 * i, rs, 12) == 0);
    for (size_t j = 0; j < 70; j++) CHECK(o[90 * i + j] == ref_i4_value(rq, j) * rs[j / 32]);
  }
  CHECK(vec_codec_encode(c, x, 2, 69, q, s, NULL) == VEC_E_INVALID_ARG); /* ldx < d */
  vec_codec_free(c);
}

/* The group size survives serialization, and the recreated codec gives the same codes. */
static void serialize_round_trip(void) {
  for (size_t m = 0; m <= NGROUPS; m++) {
    vec_codec *c =
        m == NGROUPS ? make(VEC_CODEC_INT16, 50, 0) : make(VEC_CODEC_INT4, 50, GROUPS[m]);
    uint8_t buf[256], q1[100], q2[100];
    float x[50], s1[50], s2[50];
    size_t z = vec_codec_serialized_size(c);
    CHECK(z <= sizeof buf && vec_codec_serialize(c, buf, sizeof buf) == VEC_OK);
    vec_codec *r = NULL;
    CHECK(vec_codec_deserialize(buf, z, &r) == VEC_OK);
    CHECK(vec_codec_kind(r) == vec_codec_kind(c));
    CHECK(vec_codec_get_params(r)->group_size == vec_codec_get_params(c)->group_size);
    CHECK(vec_codec_code_size(r) == vec_codec_code_size(c));
    CHECK(vec_codec_scale_count(r) == vec_codec_scale_count(c));
    uint64_t seed = 17;
    fill(x, 50, &seed, 0);
    CHECK(vec_codec_encode(c, x, 1, 50, q1, s1, NULL) == VEC_OK);
    CHECK(vec_codec_encode(r, x, 1, 50, q2, s2, NULL) == VEC_OK);
    CHECK(memcmp(q1, q2, vec_codec_code_size(c)) == 0);
    CHECK(memcmp(s1, s2, vec_codec_scale_count(c) * 4) == 0);
    buf[21] ^= 1; /* a group size byte: the checksum catches it */
    vec_codec *bad = NULL;
    CHECK(vec_codec_deserialize(buf, z, &bad) == VEC_E_FORMAT && bad == NULL);
    vec_codec_free(c), vec_codec_free(r);
  }
}

/* Scales from outside are checked before anything is written (codec.c; once here). */
static void corrupt_scales_refused(void) {
  vec_codec *c = make(VEC_CODEC_INT4, 64, 32);
  uint8_t q[64] = {0};
  float s[4] = {1.0f, 1.0f, 1.0f, NAN}, o[128];
  o[64] = 12345.0f;
  CHECK(vec_codec_decode(c, q, s, 2, o, 64, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_last_error_row() == 1 && o[64] == 12345.0f);
  s[3] = -1.0f;
  CHECK(vec_codec_decode(c, q, s, 2, o, 64, NULL) == VEC_E_INVALID_ARG);
  vec_codec_free(c);
}

const vt_test intq_tests[] = {
    {"sizes_and_names", sizes_and_names},
    {"matches_reference", matches_reference},
    {"ties_round_to_even", ties_round_to_even},
    {"special_groups", special_groups},
    {"odd_d_padding", odd_d_padding},
    {"isas_bit_identical", isas_bit_identical},
    {"other_groups_bit_identical", other_groups_bit_identical},
    {"guard_pages", guard_pages},
    {"error_bound", error_bound},
    {"nonfinite_rows_reported", nonfinite_rows_reported},
    {"batch_shapes", batch_shapes},
    {"serialize_round_trip", serialize_round_trip},
    {"corrupt_scales_refused", corrupt_scales_refused},
};
const size_t intq_count = sizeof intq_tests / sizeof intq_tests[0];
