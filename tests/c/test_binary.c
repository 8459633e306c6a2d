/* test_binary.c: the binary (sign-bit) codec against a hand-written numpy.packbits(x > 0)
 * reference, and every ISA's kernels against the scalar ones, bit for bit. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/kernels/binary_kernels.h"
#include "vectro.h"
#include "vtest.h"

/* Independent reference of the documented layout, sharing no code with the library:
 * numpy.packbits(x > 0, axis=-1), bitorder 'big': element j is bit 7 - j % 8 of byte j / 8. */
static void ref_pack(const float *x, size_t d, uint8_t *out) {
  memset(out, 0, (d + 7) / 8);
  for (size_t j = 0; j < d; j++)
    if (x[j] > 0.0f) out[j / 8] |= (uint8_t)(0x80u >> (j % 8));
}
static void ref_unpack(const uint8_t *c, size_t d, float *out) {
  for (size_t j = 0; j < d; j++) out[j] = (c[j / 8] & (0x80u >> (j % 8))) ? 1.0f : -1.0f;
}

static void fill(float *x, size_t count, uint64_t *seed, int kind) {
  for (size_t i = 0; i < count; i++) {
    switch (kind) {
    case 0: x[i] = vt_normal(seed); break;
    case 1: x[i] = vt_uniform(seed) * 1e30f; break;  /* huge */
    case 2: x[i] = vt_uniform(seed) * 1e-40f; break; /* subnormal */
    default: {                                       /* exact zeros of both signs among values */
      uint64_t r = vt_next(seed) % 4;
      x[i] = r == 0 ? 0.0f : r == 1 ? -0.0f : vt_uniform(seed);
    }
    }
  }
}

/* C11 aligned_alloc wants the size to be a multiple of the alignment. */
static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

typedef struct {
  vec_isa isa;
  vec_binary_encode_fn enc;
  vec_binary_decode_fn dec;
} kernel_pair;

/* The kernels of every ISA this CPU runs, scalar first. */
static int kernel_pairs(kernel_pair *out) {
  int isas[4], ni = vt_isas(isas), n = 0;
  for (int k = 0; k < ni; k++) {
    kernel_pair p = {(vec_isa)isas[k], vec_binary_encode_scalar, vec_binary_decode_scalar};
#if defined(VEC_HAVE_X86_KERNELS)
    if (p.isa == VEC_ISA_AVX2) p.enc = vec_binary_encode_avx2, p.dec = vec_binary_decode_avx2;
    if (p.isa == VEC_ISA_AVX512) p.enc = vec_binary_encode_avx512, p.dec = vec_binary_decode_avx512;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
    if (p.isa == VEC_ISA_NEON) p.enc = vec_binary_encode_neon, p.dec = vec_binary_decode_neon;
#endif
    out[n++] = p;
  }
  return n;
}

static vec_codec *make_codec(size_t d) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_BINARY, d);
  vec_codec *c = NULL;
  return vec_codec_create(&p, &c) == VEC_OK ? c : NULL;
}

/* A vector worked out by hand; numpy.packbits([1,0,0,0,1,1,0,1, 1,0,1]) == [141, 160]. */
static void golden_bytes(void) {
  const float x[11] = {0.5f,       -1.0f,   0.0f, -0.0f, 3.0f, 0x1p-149f,
                       -0x1p-149f, FLT_MAX, 7.0f, -7.0f, 1.0f};
  const uint8_t want[2] = {0x8d, 0xa0};
  const float back[11] = {1, -1, -1, -1, 1, 1, -1, 1, 1, -1, 1};
  int isas[4], ni = vt_isas(isas);
  vec_codec *c = make_codec(11);
  CHECK(c != NULL);
  for (int k = 0; k < ni; k++) {
    uint8_t q[2] = {0xff, 0xff};
    float o[11];
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_codec_encode(c, x, 1, 11, q, NULL, NULL) == VEC_OK);
    CHECKF(q[0] == want[0] && q[1] == want[1], "%s: %02x %02x", vec_isa_name((vec_isa)isas[k]),
           q[0], q[1]);
    CHECK(vec_codec_decode(c, q, NULL, 1, o, 11, NULL) == VEC_OK);
    CHECK(memcmp(o, back, sizeof o) == 0);
  }
  vec_codec_free(c);
}

/* Zeros of both signs, subnormals, extremes, in every position of a vector (head, body, tail). */
static void special_values(void) {
  const float v[] = {0.0f,      -0.0f,    0x1p-149f, -0x1p-149f,      FLT_MIN, -FLT_MIN,
                     FLT_MAX,   -FLT_MAX, 1e-30f,    -1e-30f,         1.0f,    -1.0f,
                     0x1p-126f, 1e30f,    -1e30f,    0x1.fffffep-127f};
  const size_t nv = sizeof v / sizeof v[0];
  int isas[4], ni = vt_isas(isas);
  const size_t dims[] = {1, 7, 8, 9, 16, 17, 63, 64, 65, 130};
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di];
    float x[130];
    uint8_t q[17], want[17];
    vec_codec *c = make_codec(d);
    CHECK(c != NULL);
    for (size_t shift = 0; shift < nv; shift++) {
      for (size_t j = 0; j < d; j++) x[j] = v[(j + shift) % nv];
      ref_pack(x, d, want);
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, 1, d, q, NULL, NULL) == VEC_OK);
        CHECKF(memcmp(q, want, (d + 7) / 8) == 0, "%s d=%zu shift=%zu",
               vec_isa_name((vec_isa)isas[k]), d, shift);
      }
    }
    vec_codec_free(c);
  }
  /* the reference itself is pinned: 0 and -0 are not > 0, the smallest subnormal is */
  float z[3] = {-0.0f, 0.0f, 0x1p-149f};
  uint8_t b;
  ref_pack(z, 3, &b);
  CHECK(b == 0x20);
}

/* Through the codec object on every ISA, against the reference, for many data kinds. */
static void matches_reference(void) {
  enum { N = 5 };
  const size_t dims[] = {1,  2,  3,  7,  8,   9,   15,  16,   17,  31,
                         33, 63, 64, 65, 100, 384, 768, 1000, 1536};
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 1;
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    size_t d = dims[di], cs = (d + 7) / 8;
    float *x = malloc(N * d * sizeof(float)), *o = malloc(N * d * sizeof(float)),
          *ro = malloc(d * sizeof(float));
    uint8_t *q = malloc(N * cs), *rq = malloc(cs);
    vec_codec *c = make_codec(d);
    CHECK(x && o && ro && q && rq && c);
    CHECK(vec_codec_code_size(c) == cs);
    for (int kind = 0; kind < 4; kind++) {
      fill(x, N * d, &seed, kind);
      for (int k = 0; k < ni; k++) {
        CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
        CHECK(vec_codec_encode(c, x, N, d, q, NULL, NULL) == VEC_OK);
        CHECK(vec_codec_decode(c, q, NULL, N, o, d, NULL) == VEC_OK);
        for (size_t i = 0; i < N; i++) {
          ref_pack(x + i * d, d, rq);
          ref_unpack(rq, d, ro);
          CHECKF(memcmp(q + i * cs, rq, cs) == 0, "%s kind %d d %zu row %zu",
                 vec_isa_name((vec_isa)isas[k]), kind, d, i);
          CHECKF(memcmp(o + i * d, ro, d * sizeof(float)) == 0, "decode %s d %zu",
                 vec_isa_name((vec_isa)isas[k]), d);
        }
      }
    }
    vec_codec_free(c);
    free(x), free(o), free(ro), free(q), free(rq);
  }
}

/* Every ISA's kernels against scalar and the reference, bit for bit: d = 1..4099, unaligned input
 * and outputs, strided input, code and output rows, both store paths. Bytes between strided rows
 * must stay untouched, and decode must ignore garbage in the pad bits. */
static void isas_bit_identical(void) {
  kernel_pair kp[4];
  int nk = kernel_pairs(kp);
  const size_t N = 3, DMAX = 4099, CMAX = (DMAX + 7) / 8 + 3;
  float *xb = alloc64((N * (DMAX + 5) + 64) * sizeof(float));
  float *ob = alloc64((N * (DMAX + 3) + 64) * sizeof(float));
  float *oref = malloc(N * (DMAX + 3) * sizeof(float)), *ro = malloc(DMAX * sizeof(float));
  uint8_t *qb = alloc64(N * CMAX + 64), *qref = malloc(N * CMAX), *rq = malloc(CMAX);
  uint8_t *junk = malloc(N * CMAX);
  CHECK(xb && ob && oref && ro && qb && qref && rq && junk);
  uint64_t seed = 42;
  for (size_t d = 1; d <= DMAX; d++) {
    size_t off = d % 4, ldx = d + (d % 3 == 0 ? 5 : 0); /* unaligned start, sometimes strided */
    size_t cs = (d + 7) / 8, ldc = cs + (d % 7 == 0 ? 3 : 0), ldo = d + (d % 5 == 0 ? 3 : 0);
    float *x = xb + off;
    fill(x, N * ldx, &seed, (int)(d % 4));
    if (d % 11 == 0) x[ldx + d - 1] = -0.0f; /* a signed zero on the last element */
    memset(qref, 0xa5, N * ldc);
    CHECK(vec_binary_encode_scalar(x, N, d, ldx, qref, ldc, 0) == N);
    for (size_t i = 0; i < N; i++) {
      ref_pack(x + i * ldx, d, rq);
      CHECKF(memcmp(qref + i * ldc, rq, cs) == 0, "scalar encode d=%zu row %zu", d, i);
    }
    /* decode input: random bytes, pad bits included */
    for (size_t b = 0; b < N * ldc; b++) junk[b] = (uint8_t)vt_next(&seed);
    for (size_t b = 0; b < N * ldo; b++) oref[b] = 7.0f;
    vec_binary_decode_scalar(junk, N, d, ldc, oref, ldo, 0);
    for (size_t i = 0; i < N; i++) {
      ref_unpack(junk + i * ldc, d, ro);
      CHECKF(memcmp(oref + i * ldo, ro, d * sizeof(float)) == 0, "scalar decode d=%zu", d);
    }
    for (int k = 1; k < nk; k++) {
      for (unsigned flags = 0; flags <= VEC_KF_STREAM; flags++) {
        /* streaming needs alignment: flags=1 uses aligned outputs, flags=0 misaligns them */
        uint8_t *q = qb + (flags ? 0 : 1);
        float *o = ob + (flags ? 0 : 1);
        memset(q, 0xa5, N * ldc);
        CHECK(kp[k].enc(x, N, d, ldx, q, ldc, flags) == N);
        CHECKF(memcmp(q, qref, N * ldc) == 0, "encode %s d=%zu flags=%u", vec_isa_name(kp[k].isa),
               d, flags);
        for (size_t b = 0; b < N * ldo; b++) o[b] = 7.0f;
        kp[k].dec(junk, N, d, ldc, o, ldo, flags);
        CHECKF(memcmp(o, oref, N * ldo * sizeof(float)) == 0, "decode %s d=%zu flags=%u",
               vec_isa_name(kp[k].isa), d, flags);
      }
    }
  }
  free(xb), free(ob), free(oref), free(ro), free(qb), free(qref), free(rq), free(junk);
}

/* Inputs and outputs that end at an inaccessible page: a tail that reads or writes one element
 * too far crashes here instead of passing silently. */
static void guard_pages(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t seed = 7;
  for (size_t d = 1; d <= 1100; d += (d < 300 ? 1 : 7)) {
    size_t n = 2, cs = (d + 7) / 8;
    void *hx, *hq, *ho;
    size_t zx, zq, zo;
    float *x = vt_guarded_alloc(n * d * sizeof(float), &hx, &zx);
    uint8_t *q = vt_guarded_alloc(n * cs, &hq, &zq);
    float *o = vt_guarded_alloc(n * d * sizeof(float), &ho, &zo);
    uint8_t want[2 * 138];
    vec_codec *c = make_codec(d);
    CHECK(x && q && o && c);
    fill(x, n * d, &seed, 0);
    ref_pack(x, d, want);
    ref_pack(x + d, d, want + cs);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
      CHECKF(memcmp(q, want, n * cs) == 0, "%s d=%zu", vec_isa_name((vec_isa)isas[k]), d);
      CHECK(vec_codec_decode(c, q, NULL, n, o, d, NULL) == VEC_OK);
      for (size_t j = 0; j < n * d; j++) CHECK(o[j] == (x[j] > 0.0f ? 1.0f : -1.0f));
    }
    vec_codec_free(c);
    vt_guarded_free(hx, zx), vt_guarded_free(hq, zq), vt_guarded_free(ho, zo);
  }
}

/* NaN (either sign) and +-Inf in the head, the body and the last element of a row are refused on
 * every ISA, naming the lowest bad row even when a later row is bad too. */
static void nonfinite_rows_reported(void) {
  int isas[4], ni = vt_isas(isas);
  const size_t n = 40, dims[] = {5, 77, 770};
  const float bad[4] = {NAN, -NAN, INFINITY, -INFINITY};
  uint64_t seed = 9;
  for (size_t di = 0; di < 3; di++) {
    size_t d = dims[di];
    const size_t cols[3] = {0, d / 2, d - 1};
    float *x = malloc(n * d * sizeof(float));
    uint8_t *q = malloc(n * ((d + 7) / 8));
    vec_codec *c = make_codec(d);
    CHECK(x && q && c);
    for (int k = 0; k < ni; k++) {
      CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
      for (int b = 0; b < 4; b++) {
        for (int col = 0; col < 3; col++) {
          fill(x, n * d, &seed, 0);
          x[17 * d + cols[col]] = bad[b];
          x[30 * d + 3 % d] = NAN; /* a later bad row must not be the one reported */
          CHECKF(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_E_NONFINITE, "%s d=%zu b=%d",
                 vec_isa_name((vec_isa)isas[k]), d, b);
          CHECK(vec_last_error_row() == 17);
          CHECKF(strstr(vec_last_error_message(), "row 17") != NULL, "%s",
                 vec_last_error_message());
        }
      }
    }
    /* a success clears the detail */
    fill(x, n * d, &seed, 0);
    CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
    CHECK(vec_last_error_row() == -1 && vec_last_error_message()[0] == '\0');
    vec_codec_free(c);
    free(x), free(q);
  }
}

/* With two threads on a batch big enough to be split, the lowest bad row is still the one named,
 * whichever thread finds its own bad row first; and the codes match a one-thread run. */
static void threads_lowest_row(void) {
  const size_t n = 20000, d = 256, cs = 32;
  float *x = malloc(n * d * sizeof(float));
  uint8_t *q1 = malloc(n * cs), *q2 = malloc(n * cs);
  vec_codec *c = make_codec(d);
  CHECK(x && q1 && q2 && c);
  uint64_t seed = 5;
  fill(x, n * d, &seed, 0);
  vec_batch_opts one = VEC_BATCH_OPTS_INIT, two = VEC_BATCH_OPTS_INIT;
  one.threads = 1;
  two.threads = 2;
  CHECK(vec_codec_encode(c, x, n, d, q1, NULL, &one) == VEC_OK);
  CHECK(vec_codec_encode(c, x, n, d, q2, NULL, &two) == VEC_OK);
  CHECK(memcmp(q1, q2, n * cs) == 0);
  const size_t first[3] = {3000, 12000, 19999}, later[3] = {15000, 15000, 19999};
  for (int t = 0; t < 3; t++) {
    float keep1 = x[first[t] * d + 100], keep2 = x[later[t] * d + 255];
    x[first[t] * d + 100] = INFINITY;
    x[later[t] * d + 255] = NAN;
    CHECK(vec_codec_encode(c, x, n, d, q2, NULL, &two) == VEC_E_NONFINITE);
    CHECKF(vec_last_error_row() == (long long)first[t], "row %lld, want %zu", vec_last_error_row(),
           first[t]);
    x[first[t] * d + 100] = keep1, x[later[t] * d + 255] = keep2;
  }
  vec_codec_free(c);
  free(x), free(q1), free(q2);
}

/* n = 0 does nothing (NULL buffers allowed); n = 1 works; binary takes no scales at all. */
static void empty_and_single(void) {
  vec_codec *c = make_codec(13);
  CHECK(c != NULL);
  CHECK(vec_codec_encode(c, NULL, 0, 13, NULL, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c, NULL, NULL, 0, NULL, 13, NULL) == VEC_OK);
  float x[13] = {1, -1, 1, -1, 1, -1, 1, -1, 1, 1, 1, 1, 1}, o[13];
  uint8_t q[2];
  CHECK(vec_codec_encode(c, x, 1, 13, q, NULL, NULL) == VEC_OK);
  CHECK(q[0] == 0xaa && q[1] == 0xf8);
  CHECK(vec_codec_decode(c, q, NULL, 1, o, 13, NULL) == VEC_OK);
  CHECK(memcmp(o, x, sizeof x) == 0); /* +-1 inputs survive exactly */
  CHECK(vec_codec_encode(c, x, 1, 12, q, NULL, NULL) == VEC_E_INVALID_ARG); /* ldx < d */
  CHECK(vec_codec_encode(c, NULL, 1, 13, q, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_codec_decode(c, q, NULL, 1, NULL, 13, NULL) == VEC_E_INVALID_ARG);
  vec_codec_free(c);
}

/* Binary keeps only signs: each reconstruction is exactly sign(x) as +-1, its norm sqrt(d), and
 * it is judged by cosine (about sqrt(2/pi) = 0.80 for Gaussian data), never by L2 error. */
static void decode_keeps_direction(void) {
  const size_t n = 50, d = 768;
  float *x = malloc(n * d * sizeof(float)), *o = malloc(n * d * sizeof(float));
  uint8_t *q = malloc(n * d / 8);
  vec_codec *c = make_codec(d);
  CHECK(x && o && q && c);
  uint64_t seed = 3;
  for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed) * 0.1f;
  CHECK(vec_codec_encode(c, x, n, d, q, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c, q, NULL, n, o, d, NULL) == VEC_OK);
  vec_quality qa = {sizeof qa, 0, 0, 0, 0, 0, 0, 0};
  CHECK(vec_quality_measure(x, d, o, d, n, d, &qa) == VEC_OK);
  CHECKF(qa.cosine_mean > 0.75 && qa.cosine_min > 0.7, "cosine mean %g min %g", qa.cosine_mean,
         qa.cosine_min);
  for (size_t i = 0; i < n * d; i++) CHECK(o[i] == (x[i] > 0.0f ? 1.0f : -1.0f));
  vec_codec_free(c);
  free(x), free(o), free(q);
}

/* The codec object: name, sizes, no training, and a serialization round trip that still encodes
 * the same bytes. */
static void codec_object(void) {
  vec_codec_id id;
  CHECK(vec_codec_from_name("binary", &id) == VEC_OK && id == VEC_CODEC_BINARY);
  CHECK(strcmp(vec_codec_name(VEC_CODEC_BINARY), "binary") == 0);
  const size_t dims[] = {1, 7, 8, 9, 768, 1100}, want[] = {1, 1, 1, 2, 96, 138};
  for (int k = 0; k < 6; k++) {
    vec_codec *c = make_codec(dims[k]);
    CHECK(c != NULL);
    CHECK(vec_codec_code_size(c) == want[k] && vec_codec_scale_count(c) == 0);
    CHECK(!vec_codec_needs_training(c) && vec_codec_is_trained(c));
    vec_codec_free(c);
  }
  enum { N = 9, D = 45 };
  float x[N * D], lo[D] = {0}, hi[D] = {0};
  uint8_t q1[N * 6], q2[N * 6], buf[64];
  uint64_t seed = 17;
  fill(x, N * D, &seed, 3);
  vec_codec *c = make_codec(D), *c2 = NULL;
  CHECK(c != NULL);
  CHECK(vec_codec_train(c, x, N, D) == VEC_OK); /* a no-op: nothing to learn */
  CHECK(vec_codec_set_ranges(c, lo, hi) == VEC_E_INVALID_ARG);
  size_t sz = vec_codec_serialized_size(c);
  CHECK(sz <= sizeof buf && vec_codec_serialize(c, buf, sizeof buf) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  CHECK(vec_codec_kind(c2) == VEC_CODEC_BINARY && vec_codec_get_params(c2)->dim == D);
  CHECK(vec_codec_encode(c, x, N, D, q1, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, x, N, D, q2, NULL, NULL) == VEC_OK);
  CHECK(memcmp(q1, q2, sizeof q1) == 0);
  buf[13] ^= 1; /* the dimension, under the checksum */
  vec_codec *c3 = NULL;
  CHECK(vec_codec_deserialize(buf, sz, &c3) == VEC_E_FORMAT && c3 == NULL);
  vec_codec_free(c), vec_codec_free(c2);
}

const vt_test binary_tests[] = {
    {"golden_bytes", golden_bytes},
    {"special_values", special_values},
    {"matches_reference", matches_reference},
    {"isas_bit_identical", isas_bit_identical},
    {"guard_pages", guard_pages},
    {"nonfinite_rows_reported", nonfinite_rows_reported},
    {"threads_lowest_row", threads_lowest_row},
    {"empty_and_single", empty_and_single},
    {"decode_keeps_direction", decode_keeps_direction},
    {"codec_object", codec_object},
};
const size_t binary_count = sizeof binary_tests / sizeof binary_tests[0];
