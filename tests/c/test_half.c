/* test_half.c: the f16 and bf16 codecs against an independent reference, every ISA against scalar
 * bit for bit, bad rows (NaN/Inf, out of range) and the codec object around them. */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/kernels/half_kernels.h"
#include "vectro.h"
#include "vtest.h"

/* ---------------------------------------------------------------------------------------------
 * Independent reference: the documented math in double arithmetic (frexp, ldexp and nearbyint in
 * the default rounding mode), sharing no code with the library.
 * ------------------------------------------------------------------------------------------- */

/* A binary format with `mbits` significand bits, exponent bias `bias` and largest exponent emax:
 * round |x| to nearest, ties to even, subnormals included. Returns VEC_OK, VEC_E_NONFINITE or
 * VEC_E_RANGE (the rounded value would be Inf). */
static int ref_round(float f, int mbits, int bias, int emax, uint16_t *code) {
  if (isnan(f) || isinf(f)) return VEC_E_NONFINITE;
  uint16_t sign = signbit(f) ? 0x8000 : 0;
  double a = fabs((double)f);
  int emin = 1 - bias;
  if (a < ldexp(1.0, emin)) { /* subnormal: units of 2^(emin - mbits); 2^mbits is the min normal */
    *code = sign | (uint16_t)nearbyint(ldexp(a, mbits - emin));
    return VEC_OK;
  }
  int e;
  frexp(a, &e);
  int E = e - 1; /* a in [2^E, 2^(E+1)) */
  double s = nearbyint(ldexp(a, mbits - E));
  if (s == ldexp(1.0, mbits + 1)) s = ldexp(1.0, mbits), E++;
  if (E > emax) return VEC_E_RANGE;
  *code = sign | (uint16_t)(((unsigned)(E + bias) << mbits) | (unsigned)(s - ldexp(1.0, mbits)));
  return VEC_OK;
}
static int ref_f16(float f, uint16_t *code) { return ref_round(f, 10, 15, 15, code); }
static int ref_bf16(float f, uint16_t *code) { return ref_round(f, 7, 127, 127, code); }

/* The value a finite code stands for. */
static double ref_value(uint16_t h, int mbits, int bias) {
  int ebits = 15 - mbits;
  unsigned e = (h >> mbits) & ((1u << ebits) - 1), m = h & ((1u << mbits) - 1);
  double v = e == 0 ? ldexp(m, 1 - bias - mbits) : ldexp((1u << mbits) + m, (int)e - bias - mbits);
  return (h & 0x8000u) ? -v : v;
}

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint16_t code_at(const uint8_t *q, size_t j) {
  return (uint16_t)(q[2 * j] | q[2 * j + 1] << 8);
}

/* ---------------------------------------------------------------------------------------------
 * Data and helpers
 * ------------------------------------------------------------------------------------------- */
enum { KIND_NORMAL, KIND_WIDE, KIND_BITS, KIND_TIES, KIND_BF16_WIDE, NKINDS };

/* Random floats every f16 can hold (|x| < 65520) except KIND_BF16_WIDE (any finite bf16). */
static float gen(uint64_t *s, int kind) {
  uint64_t r = vt_next(s);
  uint32_t sign = (uint32_t)(r >> 63) << 31;
  switch (kind) {
  case KIND_NORMAL: return vt_normal(s);
  case KIND_WIDE: /* 2^-30 .. 2^15: zero-rounding, subnormal halves, the top of the range */
    return (sign ? -1.0f : 1.0f) *
           ldexpf(1.0f + (float)(r & 0xffff) / 65536.0f, (int)((r >> 16) % 45) - 30) *
           ((r >> 32) % 64 == 0 ? 0.0f : 1.0f);
  case KIND_BITS: return float_of(sign | (uint32_t)(r % VEC_F16_RANGE)); /* f32 subnormals too */
  case KIND_TIES: {
    /* exact f16 ties (13 dropped bits = 1000..0), bf16 ties (16 dropped bits), and their
     * neighbours one ulp away */
    uint32_t u = (uint32_t)(r % VEC_F16_RANGE);
    u = ((r >> 40) & 1) ? (u & ~0xfffu) | 0x1000u : (u & ~0xffffu) | 0x8000u;
    if (u >= VEC_F16_RANGE) u = 0x47000000u | 0x1000u;
    u += (uint32_t)((r >> 41) % 3) - 1u; /* -1, 0 or +1 ulp */
    return float_of(sign | u);
  }
  default: return float_of(sign | (uint32_t)(r % VEC_BF16_RANGE));
  }
}

static void fill(float *x, size_t count, uint64_t *s, int kind) {
  for (size_t i = 0; i < count; i++) x[i] = gen(s, kind);
}

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

static vec_codec *make(vec_codec_id id, size_t d) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
  vec_codec *c = NULL;
  return vec_codec_create(&p, &c) == VEC_OK ? c : NULL;
}

/* Kernels per instruction set, as half.c picks them (f16 on x86 also needs F16C: NULL if not). */
typedef struct {
  vec_isa isa;
  vec_half_encode_fn enc[2]; /* [0] f16, [1] bf16 */
  vec_half_decode_fn dec[2];
} kset;

static int kernel_sets(kset *out) {
  int n = 0;
  out[n++] = (kset){VEC_ISA_SCALAR,
                    {vec_half_encode_f16_scalar, vec_half_encode_bf16_scalar},
                    {vec_half_decode_f16_scalar, vec_half_decode_bf16_scalar}};
#if defined(VEC_HAVE_X86_KERNELS)
  int f16c = (vec_cpu_features() & VEC_CPU_F16C) != 0;
  if (vec_isa_supported(VEC_ISA_AVX2))
    out[n++] = (kset){VEC_ISA_AVX2,
                      {f16c ? vec_half_encode_f16_avx2 : NULL, vec_half_encode_bf16_avx2},
                      {f16c ? vec_half_decode_f16_avx2 : NULL, vec_half_decode_bf16_avx2}};
  if (vec_isa_supported(VEC_ISA_AVX512))
    out[n++] = (kset){VEC_ISA_AVX512,
                      {f16c ? vec_half_encode_f16_avx512 : NULL, vec_half_encode_bf16_avx512},
                      {f16c ? vec_half_decode_f16_avx512 : NULL, vec_half_decode_bf16_avx512}};
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  out[n++] = (kset){VEC_ISA_NEON,
                    {vec_half_encode_f16_neon, vec_half_encode_bf16_neon},
                    {vec_half_decode_f16_neon, vec_half_decode_bf16_neon}};
#endif
  return n;
}

static const char *const fmt_name[2] = {"f16", "bf16"};
static const vec_codec_id fmt_id[2] = {VEC_CODEC_F16, VEC_CODEC_BF16};

/* ---------------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------------- */

/* Through the codec object, on every ISA: codes equal the reference, decodes equal the value. */
static void matches_reference(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t dims[] = {1, 3, 8, 17, 64, 100, 768};
  enum { N = 5 };
  uint64_t seed = 1;
  for (int f = 0; f < 2; f++) {
    for (int kind = 0; kind < NKINDS; kind++) {
      if (f == 0 && kind == KIND_BF16_WIDE) continue;
      for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        size_t d = dims[di];
        float *x = malloc(N * d * 4), *o = malloc(N * d * 4);
        uint8_t *q = malloc(N * d * 2);
        vec_codec *c = make(fmt_id[f], d);
        CHECK(x && o && q && c);
        fill(x, N * d, &seed, kind);
        /* f16 refuses a non-zero row that would encode to all zeros (tested in special_values):
         * such a row gets one ordinary value. */
        for (size_t i = 0; f == 0 && i < N; i++) {
          size_t j = 0;
          uint16_t h = 0;
          while (j < d && ref_f16(x[i * d + j], &h) == VEC_OK && (h & 0x7fff) == 0) j++;
          if (j == d) x[i * d] = 1.0f;
        }
        for (int k = 0; k < ni; k++) {
          CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
          CHECK(vec_codec_encode(c, x, N, d, q, NULL, NULL) == VEC_OK);
          CHECK(vec_codec_decode(c, q, NULL, N, o, d, NULL) == VEC_OK);
          for (size_t j = 0; j < N * d; j++) {
            uint16_t want = 0;
            CHECK((f ? ref_bf16(x[j], &want) : ref_f16(x[j], &want)) == VEC_OK);
            CHECKF(code_at(q, j) == want, "%s %s kind %d d %zu: x = %a (%08x) gave %04x, want %04x",
                   fmt_name[f], vec_isa_name((vec_isa)isas[k]), kind, d, (double)x[j],
                   (unsigned)bits_of(x[j]), code_at(q, j), want);
            double v = f ? ref_value(want, 7, 127) : ref_value(want, 10, 15);
            CHECK((double)o[j] == v && !!signbit(o[j]) == ((want & 0x8000u) != 0));
          }
        }
        vec_codec_free(c), free(x), free(o), free(q);
      }
    }
  }
}

/* Hand-picked values: signed zeros, ties to even at every scale, subnormal halves, the largest
 * finite values, and the first values that round to Inf (refused). */
static void special_values(void) {
  static const struct {
    float x;
    int rc;
    uint16_t f16;
  } f16_cases[] = {
      {0.0f, VEC_OK, 0x0000},
      {-0.0f, VEC_OK, 0x8000},
      {1.0f, VEC_OK, 0x3c00},
      {-2.0f, VEC_OK, 0xc000},
      {0x1.002p0f, VEC_OK, 0x3c00}, /* 1 + 2^-11: tie, to even (down) */
      {0x1.006p0f, VEC_OK, 0x3c02}, /* 1 + 3*2^-11: tie, to even (up) */
      {2049.0f, VEC_OK, 0x6800},
      {2051.0f, VEC_OK, 0x6802},
      {0x1p-14f, VEC_OK, 0x0400},         /* smallest normal half */
      {0x1.ff4p-15f, VEC_OK, 0x03fe},     /* 1022.5 units: tie, to even (1022) */
      {0x1.ffcp-15f, VEC_OK, 0x0400},     /* 1023.5 units: tie, rounds up into the normals */
      {0x1p-24f, VEC_OK, 0x0001},         /* smallest subnormal half */
      {0x1p-25f, VEC_OK, 0x0000},         /* half of it: tie, to even (0) */
      {-0x1.000002p-25f, VEC_OK, 0x8001}, /* just above the tie */
      {0x1.8p-24f, VEC_OK, 0x0002},       /* 1.5 units: tie, to even (2) */
      {0x1p-149f, VEC_OK, 0x0000},
      {-FLT_MIN, VEC_OK, 0x8000},
      {65504.0f, VEC_OK, 0x7bff},
      {-65504.0f, VEC_OK, 0xfbff},
      {65519.996f, VEC_OK, 0x7bff}, /* below the tie: still finite */
      {65520.0f, VEC_E_RANGE, 0},
      {-65520.0f, VEC_E_RANGE, 0},
      {1e10f, VEC_E_RANGE, 0},
      {FLT_MAX, VEC_E_RANGE, 0},
      {INFINITY, VEC_E_NONFINITE, 0},
      {-INFINITY, VEC_E_NONFINITE, 0},
      {NAN, VEC_E_NONFINITE, 0},
  };
  static const struct {
    uint32_t u;
    int rc;
    uint16_t bf16;
  } bf16_cases[] = {
      {0x00000000u, VEC_OK, 0x0000},     {0x80000000u, VEC_OK, 0x8000},
      {0x3f800000u, VEC_OK, 0x3f80},     {0x3f808000u, VEC_OK, 0x3f80}, /* tie, to even (down) */
      {0x3f818000u, VEC_OK, 0x3f82},                                    /* tie, to even (up) */
      {0x3f808001u, VEC_OK, 0x3f81},     {0x00000001u, VEC_OK, 0x0000}, /* f32 subnormals kept */
      {0x00008000u, VEC_OK, 0x0000},     {0x00018000u, VEC_OK, 0x0002},
      {0x807fffffu, VEC_OK, 0x8080}, /* largest f32 subnormal rounds up to -FLT_MIN */
      {0x7f7f7fffu, VEC_OK, 0x7f7f},     {0x7f7f8000u, VEC_E_RANGE, 0},
      {0xff7fffffu, VEC_E_RANGE, 0},     {0x7f800000u, VEC_E_NONFINITE, 0},
      {0xffc00000u, VEC_E_NONFINITE, 0},
  };
  int isas[4], ni = vt_isas(isas);
  /* f16 rows of two values, the second 1: a row whose every value rounds to zero is refused. */
  vec_codec *c16 = make(VEC_CODEC_F16, 2), *cbf = make(VEC_CODEC_BF16, 1);
  CHECK(c16 && cbf);
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    for (size_t i = 0; i < sizeof f16_cases / sizeof f16_cases[0]; i++) {
      uint8_t q[4];
      uint16_t r = 0xdead;
      float x = f16_cases[i].x, row[2] = {x, 1.0f};
      CHECK(ref_f16(x, &r) == f16_cases[i].rc); /* the reference agrees with the table */
      CHECK(f16_cases[i].rc != VEC_OK || r == f16_cases[i].f16);
      CHECKF(vec_codec_encode(c16, row, 1, 2, q, NULL, NULL) == f16_cases[i].rc, "f16 case %zu", i);
      /* Alone in its row, a non-zero value that rounds to zero is refused (the row would decode
       * to zeros); zero itself is not. */
      row[1] = 0.0f;
      int alone = vec_codec_encode(c16, row, 1, 2, q, NULL, NULL);
      CHECKF(alone == (f16_cases[i].rc == VEC_OK && (r & 0x7fff) == 0 && x != 0.0f
                           ? VEC_E_RANGE
                           : f16_cases[i].rc),
             "f16 case %zu alone: %d", i, alone);
      row[1] = 1.0f;
      CHECK(vec_codec_encode(c16, row, 1, 2, q, NULL, NULL) == f16_cases[i].rc);
      CHECKF(f16_cases[i].rc != VEC_OK || code_at(q, 0) == f16_cases[i].f16, "f16 case %zu: %04x",
             i, code_at(q, 0));
    }
    for (size_t i = 0; i < sizeof bf16_cases / sizeof bf16_cases[0]; i++) {
      uint8_t q[2];
      uint16_t r = 0xdead;
      float x = float_of(bf16_cases[i].u);
      CHECK(ref_bf16(x, &r) == bf16_cases[i].rc);
      CHECK(bf16_cases[i].rc != VEC_OK || r == bf16_cases[i].bf16);
      CHECKF(vec_codec_encode(cbf, &x, 1, 1, q, NULL, NULL) == bf16_cases[i].rc, "bf16 case %zu",
             i);
      CHECKF(bf16_cases[i].rc != VEC_OK || code_at(q, 0) == bf16_cases[i].bf16,
             "bf16 case %zu: %04x", i, code_at(q, 0));
    }
  }
  vec_codec_free(c16), vec_codec_free(cbf);
}

/* Every tie and its neighbours, for every finite half: the rounding boundaries are all hit. */
static void every_f16_boundary(void) {
  int isas[4], ni = vt_isas(isas);
  enum { D = 3 * 0x7bff };
  float *x = malloc(D * 4);
  uint8_t *q = malloc(D * 2);
  vec_codec *c = make(VEC_CODEC_F16, D);
  CHECK(x && q && c);
  for (unsigned h = 0; h < 0x7bff; h++) { /* the midpoint between h and h + 1, and +-1 ulp */
    float mid =
        (float)((ref_value((uint16_t)h, 10, 15) + ref_value((uint16_t)(h + 1), 10, 15)) / 2);
    x[3 * h] = nextafterf(mid, 0.0f);
    x[3 * h + 1] = (h & 1) ? -mid : mid;
    x[3 * h + 2] = nextafterf(mid, INFINITY);
  }
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_codec_encode(c, x, 1, D, q, NULL, NULL) == VEC_OK);
    for (unsigned h = 0; h < 0x7bff; h++) {
      unsigned even = (h & 1) ? h + 1 : h;
      CHECKF(code_at(q, 3 * h) == h && code_at(q, 3 * h + 1) == (even | ((h & 1) << 15)) &&
                 code_at(q, 3 * h + 2) == h + 1,
             "%s h=%04x: %04x %04x %04x", vec_isa_name((vec_isa)isas[k]), h, code_at(q, 3 * h),
             code_at(q, 3 * h + 1), code_at(q, 3 * h + 2));
    }
  }
  vec_codec_free(c), free(x), free(q);
}

/* All 65536 codes decode exactly (NaNs quieted with their sign and payload), the same on every
 * ISA; every finite code re-encodes to itself. */
static void decode_every_code(void) {
  kset ks[4];
  int nk = kernel_sets(ks);
  enum { D = 65536 };
  uint8_t *q = malloc(2 * D), *q2 = malloc(2 * D);
  float *o = malloc(4 * D), *oref = malloc(4 * D);
  CHECK(q && q2 && o && oref);
  for (uint32_t h = 0; h < D; h++) q[2 * h] = (uint8_t)h, q[2 * h + 1] = (uint8_t)(h >> 8);
  for (int f = 0; f < 2; f++) {
    int mbits = f ? 7 : 10, bias = f ? 127 : 15;
    uint32_t emask = f ? 0x7f80u : 0x7c00u;
    ks[0].dec[f](q, 1, D, oref, D, 0);
    for (uint32_t h = 0; h < D; h++) {
      float v = oref[h];
      uint32_t m = h & ((1u << mbits) - 1);
      if ((h & emask) != emask) {
        CHECKF((double)v == ref_value((uint16_t)h, mbits, bias) && !!signbit(v) == (int)(h >> 15),
               "%s code %04x decoded %a", fmt_name[f], h, (double)v);
      } else if (m == 0) {
        CHECK(isinf(v) && !!signbit(v) == (int)(h >> 15));
      } else {
        /* payload kept in the top significand bits; f16 (not bf16, a plain shift) quiets it */
        uint32_t want = (m << (23 - mbits)) | (f ? 0u : 0x400000u);
        CHECKF(isnan(v) && !!signbit(v) == (int)(h >> 15) && (bits_of(v) & 0x7fffffu) == want,
               "%s code %04x decoded %08x", fmt_name[f], h, (unsigned)bits_of(v));
      }
    }
    for (int k = 0; k < nk; k++) {
      if (!ks[k].dec[f]) continue;
      for (int off = 0; off < 2; off++) {
        memset(o, 0, 4 * D);
        ks[k].dec[f](q, 1, D - (size_t)off, o + off, D, 0); /* misaligned output too */
        CHECKF(memcmp(o + off, oref, 4 * (D - (size_t)off)) == 0, "%s %s off %d", fmt_name[f],
               vec_isa_name(ks[k].isa), off);
      }
      /* finite codes round-trip: re-encode one row of each sign */
      float *fin = malloc(4 * D);
      size_t nf = 0;
      CHECK(fin);
      for (uint32_t h = 0; h < D; h++)
        if ((h & emask) != emask) fin[nf++] = oref[h];
      int rc = VEC_OK;
      size_t done = ks[k].enc[f] ? ks[k].enc[f](fin, 1, nf, nf, q2, 0, &rc) : 1;
      CHECK(done == 1);
      for (uint32_t h = 0, i = 0; ks[k].enc[f] && h < D; h++)
        if ((h & emask) != emask) CHECK(code_at(q2, i++) == h);
      free(fin);
    }
  }
  free(q), free(q2), free(o), free(oref);
}

/* Every ISA's kernels against scalar, bit for bit: d = 1..4099, unaligned input and code/output
 * pointers (codes at odd byte addresses), strided rows, both store paths (regular, streaming). */
static void isas_bit_identical(void) {
  kset ks[4];
  int nk = kernel_sets(ks);
  const size_t N = 3, DMAX = 4099;
  float *xb = alloc64((N * (DMAX + 5) + 64) * 4), *ob = alloc64((N * (DMAX + 7) + 64) * 4);
  float *oref = malloc(N * (DMAX + 7) * 4);
  uint8_t *qb = alloc64(2 * N * DMAX + 128), *qref = malloc(2 * N * DMAX);
  CHECK(xb && ob && oref && qb && qref);
  uint64_t seed = 42;
  for (size_t d = 1; d <= DMAX; d++) {
    size_t off = d % 4, ldx = d + (d % 3 == 0 ? 5 : 0), ldo = d + (d % 4 == 1 ? 7 : 0);
    float *x = xb + off;
    for (int f = 0; f < 2; f++) {
      int kind = (int)((d + (size_t)f) % (f ? NKINDS : NKINDS - 1));
      fill(x, N * ldx, &seed, kind);
      if (d % 5 == 0) memset(x + ldx, 0, d * 4); /* a zero row now and then */
      int rc = VEC_OK;
      CHECK(ks[0].enc[f](x, N, d, ldx, qref, 0, &rc) == N && rc == VEC_OK);
      memset(oref, 0xa5, N * ldo * 4);
      ks[0].dec[f](qref, N, d, oref, ldo, 0);
      for (int k = 1; k < nk; k++) {
        if (!ks[k].enc[f]) continue;
        for (unsigned flags = 0; flags <= VEC_KF_STREAM; flags++) {
          /* streaming needs alignment: flags = 1 gets aligned outputs, flags = 0 odd ones */
          uint8_t *q = qb + (flags ? 0 : 1);
          float *o = ob + (flags ? 0 : 1);
          CHECK(ks[k].enc[f](x, N, d, ldx, q, flags, &rc) == N && rc == VEC_OK);
          CHECKF(memcmp(q, qref, 2 * N * d) == 0, "encode %s %s d=%zu flags=%u", fmt_name[f],
                 vec_isa_name(ks[k].isa), d, flags);
          memset(o, 0xa5, N * ldo * 4);
          ks[k].dec[f](q, N, d, o, ldo, flags);
          CHECKF(memcmp(o, oref, N * ldo * 4) == 0, "decode %s %s d=%zu flags=%u", fmt_name[f],
                 vec_isa_name(ks[k].isa), d, flags); /* the gaps between rows untouched too */
        }
      }
    }
  }
  free(xb), free(ob), free(oref), free(qb), free(qref);
}

/* Inputs, codes and outputs that end at an inaccessible page: a read or write one element past
 * the end crashes here. n = 1 and n = 2 rows, every d up to 200, every ISA. */
static void guard_pages(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  for (size_t d = 1; d <= 200; d++) {
    for (size_t n = 1; n <= 2; n++) {
      void *hx, *hq, *ho;
      size_t zx, zq, zo;
      float *x = vt_guarded_alloc(n * d * 4, &hx, &zx);
      uint8_t *q = vt_guarded_alloc(n * d * 2, &hq, &zq);
      float *o = vt_guarded_alloc(n * d * 4, &ho, &zo);
      CHECK(x && q && o);
      fill(x, n * d, &seed, KIND_NORMAL);
      for (int f = 0; f < 2; f++) {
        vec_codec *c = make(fmt_id[f], d);
        CHECK(c);
        for (int k = 0; k < ni; k++) {
          CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
          CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
          CHECK(vec_codec_decode(c, q, NULL, n, o, d, NULL) == VEC_OK);
          for (size_t j = 0; j < n * d; j++)
            CHECK(fabsf(o[j] - x[j]) <= fmaxf(fabsf(x[j]) * (f ? 0x1p-8f : 0x1p-11f), 0x1p-25f));
        }
        vec_codec_free(c);
      }
      vt_guarded_free(hx, zx), vt_guarded_free(hq, zq), vt_guarded_free(ho, zo);
    }
  }
}

/* NaN, Inf and out-of-range values at the head, middle and tail of a row: the lowest bad row is
 * reported with its own error, whichever ISA runs. */
static void bad_rows_reported(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t n = 40, d = 77;
  float *x = malloc(n * d * 4);
  uint8_t *q = malloc(n * d * 2);
  CHECK(x && q);
  uint64_t seed = 9;
  const size_t cols[3] = {0, 38, 76}; /* head, middle, last element (a SIMD tail) */
  for (int f = 0; f < 2; f++) {
    vec_codec *c = make(fmt_id[f], d);
    CHECK(c);
    const float bad[5] = {NAN, INFINITY, -INFINITY, f ? FLT_MAX : 65520.0f,
                          f ? -float_of(VEC_BF16_RANGE) : -1e30f};
    const int want[5] = {VEC_E_NONFINITE, VEC_E_NONFINITE, VEC_E_NONFINITE, VEC_E_RANGE,
                         VEC_E_RANGE};
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      for (int b = 0; b < 5; b++) {
        for (int col = 0; col < 3; col++) {
          fill(x, n * d, &seed, KIND_NORMAL);
          x[17 * d + cols[col]] = bad[b];
          x[30 * d + 3] = NAN; /* a later bad row must not be the one reported */
          x[31 * d + 5] = 1e30f;
          CHECKF(vec_codec_encode(c, x, n, d, q, NULL, NULL) == want[b], "%s %s b %d col %zu",
                 fmt_name[f], vec_isa_name((vec_isa)isas[k]), b, cols[col]);
          CHECK(vec_last_error_row() == 17);
          CHECKF(strstr(vec_last_error_message(), "row 17") != NULL, "%s",
                 vec_last_error_message());
        }
      }
      /* NaN outranks a range error in the same row */
      fill(x, n * d, &seed, KIND_NORMAL);
      x[3 * d + 1] = f ? FLT_MAX : 1e38f;
      x[3 * d + 70] = NAN;
      CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_E_NONFINITE);
      CHECK(vec_last_error_row() == 3);
    }
    /* a success clears the detail */
    fill(x, n * d, &seed, KIND_NORMAL);
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
    CHECK(vec_last_error_row() == -1 && vec_last_error_message()[0] == '\0');
    vec_codec_free(c);
  }
  free(x), free(q);
}

/* A batch large enough to be split over two threads: the lowest bad row wins even when a later
 * chunk fails first. */
static void bad_rows_with_threads(void) {
  const size_t n = 12000, d = 256; /* 18 MB of work: above the engine's threshold for 2 threads */
  float *x = malloc(n * d * 4);
  uint8_t *q = malloc(n * d * 2);
  CHECK(x && q);
  uint64_t seed = 5;
  fill(x, n * d, &seed, KIND_NORMAL);
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = 2;
  for (int f = 0; f < 2; f++) {
    vec_codec *c = make(fmt_id[f], d);
    CHECK(c);
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, &o) == VEC_OK);
    x[11000 * d + 255] = NAN;
    x[9000 * d + 7] = f ? FLT_MAX : 70000.0f;
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, &o) == VEC_E_RANGE && vec_last_error_row() == 9000);
    x[100 * d] = -INFINITY;
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, &o) == VEC_E_NONFINITE &&
          vec_last_error_row() == 100);
    x[100 * d] = x[9000 * d + 7] = x[11000 * d + 255] = 0.5f;
    vec_codec_free(c);
  }
  free(x), free(q);
}

/* The codecs round to nearest even whatever the FP rounding mode: the scalar code is integer-only
 * and F16C takes its mode from the instruction. (NEON's FCVTN follows FPCR, as documented in
 * half_neon.c, so it is left out here.) */
static void rounding_mode_independent(void) {
  int isas[4], ni = vt_isas(isas);
  enum { N = 4, D = 301 };
  static float x[N * D];
  static uint8_t want[2][N * D * 2], q[N * D * 2];
  uint64_t seed = 77;
  fill(x, N * D, &seed, KIND_TIES);
  vec_codec *c[2] = {make(VEC_CODEC_F16, D), make(VEC_CODEC_BF16, D)};
  CHECK(c[0] && c[1]);
  CHECK(vec_set_isa(VEC_ISA_SCALAR) == VEC_OK);
  for (int f = 0; f < 2; f++) CHECK(vec_codec_encode(c[f], x, N, D, want[f], NULL, NULL) == 0);
  const int modes[3] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  int failed = 0;
  for (int m = 0; m < 3 && !failed; m++) {
    for (int k = 0; k < ni && !failed; k++) {
      if (isas[k] == VEC_ISA_NEON) continue;
      vec_set_isa((vec_isa)isas[k]);
      for (int f = 0; f < 2 && !failed; f++) {
        fesetround(modes[m]);
        int rc = vec_codec_encode(c[f], x, N, D, q, NULL, NULL);
        fesetround(FE_TONEAREST);
        failed = rc != VEC_OK || memcmp(q, want[f], sizeof q) != 0;
      }
    }
  }
  vec_codec_free(c[0]), vec_codec_free(c[1]);
  CHECK(!failed);
}

/* The object around the kernels: sizes, flags, n = 0, no scales (none are read), strides,
 * serialization, and arguments codec.c refuses. */
static void codec_object(void) {
  enum { N = 9, D = 37, LD = 41 };
  float x[N * LD], o[N * LD], o2[N * LD];
  uint8_t q[N * D * 2], q2[N * D * 2];
  uint64_t seed = 3;
  fill(x, N * LD, &seed, KIND_NORMAL);
  for (int f = 0; f < 2; f++) {
    vec_codec *c = make(fmt_id[f], D), *c2 = NULL;
    CHECK(c);
    CHECK(strcmp(vec_codec_name(fmt_id[f]), fmt_name[f]) == 0);
    CHECK(vec_codec_code_size(c) == 2 * D && vec_codec_scale_count(c) == 0);
    CHECK(!vec_codec_needs_training(c) && vec_codec_is_trained(c));
    CHECK(vec_codec_train(c, x, N, LD) == VEC_OK); /* a no-op */
    CHECK(vec_codec_encode(c, NULL, 0, D, NULL, NULL, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, NULL, NULL, 0, NULL, D, NULL) == VEC_OK);
    /* strided rows: encoding the rows one at a time gives the same codes */
    CHECK(vec_codec_encode(c, x, N, LD, q, NULL, NULL) == VEC_OK);
    for (size_t i = 0; i < N; i++)
      CHECK(vec_codec_encode(c, x + i * LD, 1, D, q2 + i * 2 * D, NULL, NULL) == VEC_OK);
    CHECK(memcmp(q, q2, sizeof q) == 0);
    /* a scales pointer, even to garbage, is ignored: there are no scales to check */
    float junk = NAN;
    for (size_t i = 0; i < N * LD; i++) o[i] = o2[i] = -7.0f;
    CHECK(vec_codec_decode(c, q, &junk, N, o, LD, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, q, NULL, N, o2, LD, NULL) == VEC_OK);
    CHECK(memcmp(o, o2, sizeof o) == 0);
    for (size_t i = 0; i < N; i++) {
      CHECK(o[i * LD + D] == -7.0f); /* the stride gap is left alone */
      for (size_t j = 0; j < D; j++) {
        uint16_t h;
        CHECK((f ? ref_bf16(x[i * LD + j], &h) : ref_f16(x[i * LD + j], &h)) == VEC_OK);
        CHECK((double)o[i * LD + j] == (f ? ref_value(h, 7, 127) : ref_value(h, 10, 15)));
      }
    }
    /* serialization round trip: the copy encodes identically */
    unsigned char buf[64];
    size_t sz = vec_codec_serialized_size(c);
    CHECK(sz <= sizeof buf && vec_codec_serialize(c, buf, sizeof buf) == VEC_OK);
    CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
    CHECK(vec_codec_kind(c2) == fmt_id[f] && vec_codec_get_params(c2)->dim == D);
    memset(q2, 0, sizeof q2);
    CHECK(vec_codec_encode(c2, x, N, LD, q2, NULL, NULL) == VEC_OK);
    CHECK(memcmp(q, q2, sizeof q) == 0);
    buf[sz / 2] ^= 0x10;
    vec_codec *c3 = NULL;
    CHECK(vec_codec_deserialize(buf, sz, &c3) == VEC_E_FORMAT && c3 == NULL);
    /* what codec.c refuses */
    CHECK(vec_codec_encode(c, x, N, D - 1, q, NULL, NULL) == VEC_E_INVALID_ARG);
    CHECK(vec_codec_decode(c, q, NULL, N, o, D - 1, NULL) == VEC_E_INVALID_ARG);
    CHECK(vec_codec_encode(c, NULL, 1, D, q, NULL, NULL) == VEC_E_INVALID_ARG);
    CHECK(vec_codec_decode(c, NULL, NULL, 1, o, D, NULL) == VEC_E_INVALID_ARG);
    float lo[D] = {0}, hi[D] = {0};
    CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_INVALID_ARG);
    vec_codec_free(c), vec_codec_free(c2);
  }
}

/* Relative error of normal values is at most half an ulp: 2^-11 (f16), 2^-8 (bf16). */
static void error_bound(void) {
  enum { N = 20, D = 768 };
  static float x[N * D], o[N * D];
  static uint8_t q[N * D * 2];
  uint64_t seed = 13;
  fill(x, N * D, &seed, KIND_NORMAL);
  for (int f = 0; f < 2; f++) {
    vec_codec *c = make(fmt_id[f], D);
    CHECK(c);
    CHECK(vec_codec_encode(c, x, N, D, q, NULL, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, q, NULL, N, o, D, NULL) == VEC_OK);
    for (size_t i = 0; i < N * D; i++) {
      double e = fabs((double)o[i] - x[i]), tol = fabs((double)x[i]) * (f ? 0x1p-8 : 0x1p-11);
      if (fabsf(x[i]) < 0x1p-14f) tol = f ? tol : 0x1p-25; /* f16 subnormals: absolute */
      CHECKF(e <= tol, "%s x %a o %a", fmt_name[f], (double)x[i], (double)o[i]);
    }
    vec_codec_free(c);
  }
}

const vt_test half_tests[] = {
    {"matches_reference", matches_reference},
    {"special_values", special_values},
    {"every_f16_boundary", every_f16_boundary},
    {"decode_every_code", decode_every_code},
    {"isas_bit_identical", isas_bit_identical},
    {"guard_pages", guard_pages},
    {"bad_rows_reported", bad_rows_reported},
    {"bad_rows_with_threads", bad_rows_with_threads},
    {"rounding_mode_independent", rounding_mode_independent},
    {"codec_object", codec_object},
    {"error_bound", error_bound},
};
const size_t half_count = sizeof half_tests / sizeof half_tests[0];
