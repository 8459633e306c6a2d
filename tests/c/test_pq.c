/* test_pq.c: the pq codec: parameters and errors, encoding against a brute-force reference, the
 * look-up-table scores against q . decode(x), the 4-bit fast-scan kernels bit for bit against the
 * scalar reference on every ISA, serialization (and corrupt state), and .vqz files. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/codecs/codec_impl.h"
#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

static float *randn(size_t n, uint64_t seed) {
  float *x = malloc(n * sizeof(float));
  uint64_t s = seed;
  for (size_t i = 0; i < n; i++) x[i] = vt_normal(&s);
  return x;
}

static vec_codec *make_pq_r(size_t d, unsigned m, unsigned bits, int rotate, const float *x,
                            size_t n) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_PQ, d);
  p.m = m, p.bits = bits, p.train_iters = 8, p.seed = 3, p.rotate = rotate;
  vec_codec *c = NULL;
  if (vec_codec_create(&p, &c) != VEC_OK) return NULL;
  if (x && vec_codec_train(c, x, n, d) != VEC_OK) {
    vec_codec_free(c);
    return NULL;
  }
  return c;
}

static vec_codec *make_pq(size_t d, unsigned m, unsigned bits, const float *x, size_t n) {
  return make_pq_r(d, m, bits, 0, x, n);
}

static void params_and_errors(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_PQ, 30);
  vec_codec *c = NULL;
  p.bits = 8;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG); /* m = 0 */
  p.m = 4;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG); /* 30 % 4 */
  CHECK(strstr(vec_last_error_message(), "divide the dimension 30") != NULL);
  p.m = 5, p.bits = 5;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.bits = 4, p.rotate = 2;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.rotate = 0, p.dim = 1030, p.m = 515;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.dim = 30, p.m = 5;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(vec_codec_code_size(c) == 3 && vec_codec_scale_count(c) == 0);
  CHECK(vec_codec_needs_training(c) && !vec_codec_is_trained(c));
  float *x = randn(30 * 20, 1);
  uint8_t codes[60];
  CHECK(vec_codec_encode(c, x, 20, 30, codes, NULL, NULL) == VEC_E_NOT_TRAINED);
  CHECK(vec_codec_train(c, x, 10, 30) == VEC_E_INVALID_ARG); /* 10 < 16 centroids */
  CHECK(strstr(vec_last_error_message(), "fewer vectors than centroids") != NULL);
  CHECK(vec_codec_train(c, x, 20, 30) == VEC_OK && vec_codec_is_trained(c));
  x[7 * 30 + 4] = NAN;
  CHECK(vec_codec_encode(c, x, 20, 30, codes, NULL, NULL) == VEC_E_NONFINITE);
  CHECK(vec_last_error_row() == 7);
  CHECK(vec_codec_train(c, x, 20, 30) == VEC_E_NONFINITE);
  vec_codec_free(c);
  p.bits = 8, p.m = 30;
  CHECK(vec_codec_create(&p, &c) == VEC_OK && vec_codec_code_size(c) == 30);
  vec_codec_free(c);
  free(x);
}

static double sqd(const float *a, const float *b, size_t d) {
  double s = 0;
  for (size_t j = 0; j < d; j++) s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
  return s;
}

/* Codes pick the nearest centroid per subspace (up to float ties) on every ISA; decoding gives
 * centroids, which encode back to themselves. */
static void encode_matches_reference(void) {
  static const struct {
    size_t d;
    unsigned m, bits;
    int rotate;
  } cases[] = {{30, 5, 4, 0}, {30, 3, 4, 0}, {21, 7, 8, 0}, {16, 16, 4, 0},
               {40, 8, 8, 0}, {30, 5, 4, 1}, {64, 8, 8, 1}};
  int isas[4], ni = vt_isas(isas);
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    size_t d = cases[t].d, n = 700, nt = 301;
    unsigned m = cases[t].m, bits = cases[t].bits;
    float *x = randn(n * d, 10 + t);
    vec_codec *c = make_pq_r(d, m, bits, cases[t].rotate, x, n);
    CHECK(c != NULL);
    size_t cs = vec_codec_code_size(c), ksub = (size_t)1 << bits, dsub = d / m;
    uint8_t *codes = malloc(nt * cs), *codes2 = malloc(nt * cs);
    float *dec = malloc(nt * d * sizeof(float)), *cent = malloc(ksub * d * sizeof(float));
    /* Every centroid, read back through decode of crafted codes. */
    for (size_t k = 0; k < ksub; k++) {
      uint8_t row[64];
      for (size_t q = 0; q < m; q++) {
        if (bits == 8)
          row[q] = (uint8_t)k;
        else if (q % 2 == 0)
          row[q / 2] = (uint8_t)k;
        else
          row[q / 2] |= (uint8_t)(k << 4);
      }
      CHECK(vec_codec_decode(c, row, NULL, 1, cent + k * d, d, NULL) == VEC_OK);
    }
    for (int s = 0; s < ni; s++) {
      CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
      CHECK(vec_codec_encode(c, x, nt, d, codes, NULL, NULL) == VEC_OK);
      for (size_t i = 0; i < nt && !cases[t].rotate; i++) {
        for (size_t q = 0; q < m; q++) {
          size_t code = bits == 8 ? codes[i * cs + q] : (codes[i * cs + q / 2] >> (q % 2 * 4)) & 15;
          double best = INFINITY;
          for (size_t k = 0; k < ksub; k++) {
            double e = sqd(x + i * d + q * dsub, cent + k * d + q * dsub, dsub);
            best = e < best ? e : best;
          }
          double got = sqd(x + i * d + q * dsub, cent + code * d + q * dsub, dsub);
          CHECKF(got <= best + 1e-5 * (1 + best), "case %zu isa %d row %zu sub %zu", t, isas[s], i,
                 q);
        }
        if (bits == 4 && m % 2) CHECK((codes[i * cs + cs - 1] >> 4) == 0); /* pad nibble */
      }
      if (cases[t].rotate) { /* changing any one subspace's code must not bring x^ closer to x */
        float *alt = malloc(d * sizeof(float));
        uint8_t row[64];
        for (size_t i = 0; i < 40; i++) {
          CHECK(vec_codec_decode(c, codes + i * cs, NULL, 1, dec, d, NULL) == VEC_OK);
          double e0 = sqd(x + i * d, dec, d);
          for (size_t q = 0; q < m; q++)
            for (size_t k = 0; k < ksub; k += 5) {
              memcpy(row, codes + i * cs, cs);
              if (bits == 8)
                row[q] = (uint8_t)k;
              else
                row[q / 2] = (uint8_t)((row[q / 2] & (q % 2 ? 0x0f : 0xf0)) | k << (q % 2 * 4));
              CHECK(vec_codec_decode(c, row, NULL, 1, alt, d, NULL) == VEC_OK);
              CHECKF(sqd(x + i * d, alt, d) >= e0 - 1e-4 * (1 + e0), "rotate row %zu sub %zu", i,
                     q);
            }
        }
        free(alt);
      }
      CHECK(vec_codec_decode(c, codes, NULL, nt, dec, d, NULL) == VEC_OK);
      CHECK(vec_codec_encode(c, dec, nt, d, codes2, NULL, NULL) == VEC_OK);
      CHECK(memcmp(codes, codes2, nt * cs) == 0);
    }
    vec_set_isa(VEC_ISA_AUTO);
    vec_codec_free(c);
    free(x), free(codes), free(codes2), free(dec), free(cent);
  }
}

/* Random fast-scan tables within the kernels' contract (pq_kernels.h): per code byte j, the two
 * subspaces' largest entries sum to at most 255, and reach it exactly, so a kernel that added the
 * look-ups with a wrap or a saturation would be caught. */
static void contract_lut(uint8_t *lut, size_t np, uint64_t *s) {
  for (size_t j = 0; j < np; j++) {
    unsigned a = (unsigned)(vt_next(s) % 256), b = 255 - a;
    for (size_t c = 0; c < 16; c++) {
      lut[j * 32 + c] = (uint8_t)(vt_next(s) % (a + 1));
      lut[j * 32 + 16 + c] = (uint8_t)(vt_next(s) % (b + 1));
    }
    lut[j * 32 + vt_next(s) % 16] = (uint8_t)a;
    lut[j * 32 + 16 + vt_next(s) % 16] = (uint8_t)b;
  }
}

static void fastscan_kernels_bit_exact(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t s = 5;
  size_t maxp = 256; /* m = 512, the 4-bit codec's largest */
  uint8_t *blkb = malloc(maxp * 32 + 1), *lutb = malloc(maxp * 32 + 1);
  uint8_t *blk = blkb + 1, *lut = lutb + 1; /* unaligned */
  float *outb = malloc(33 * sizeof(float)), *got = outb + 1;
  for (size_t np = 1; np <= maxp; np = np < 40 ? np + 1 : np * 2) {
    for (size_t i = 0; i < np * 32; i++) blk[i] = (uint8_t)vt_next(&s);
    contract_lut(lut, np, &s);
    if (np == maxp) /* the largest sums: 256 pairs of 128 + 127 = 65280 */
      for (size_t j = 0; j < np; j++)
        memset(lut + j * 32, 128, 16), memset(lut + j * 32 + 16, 127, 16);
    float ref[32], refs[32];
    vec_pq_scan4_scalar(blk, np, lut, 0.0f, 1.0f, ref); /* the integer sums, exactly */
    vec_pq_scan4_scalar(blk, np, lut, -3.25f, 0.0173f, refs);
    for (size_t r = 0; r < 32; r++) {
      unsigned e = 0;
      for (size_t j = 0; j < np; j++)
        e += lut[j * 32 + (blk[j * 32 + r] & 15)] + lut[j * 32 + 16 + (blk[j * 32 + r] >> 4)];
      CHECK(ref[r] == (float)e);
      CHECK(refs[r] == -3.25f + 0.0173f * (float)e);
    }
    for (int t = 0; t < ni; t++) {
      CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
      vec_kernels_get()->pq.scan(blk, np, lut, 0.0f, 1.0f, got);
      CHECKF(memcmp(ref, got, sizeof ref) == 0, "isa %s npairs %zu", vec_isa_name((vec_isa)isas[t]),
             np);
      vec_kernels_get()->pq.scan(blk, np, lut, -3.25f, 0.0173f, got);
      CHECK(memcmp(refs, got, sizeof refs) == 0);
    }
    /* 1..4 queries at once: each query's own table (an odd stride apart), bias and delta give
     * the single scan's bits, outputs at an odd stride. */
    size_t ls = np * 32 + 7, ldo = 37;
    uint8_t *luts = malloc(VEC_PQ4_QB * ls);
    float *mq = malloc(VEC_PQ4_QB * ldo * sizeof(float)), one[32];
    float bias[VEC_PQ4_QB] = {0.5f, -3.25f, 7.0f, 0.0f},
          delta[VEC_PQ4_QB] = {1.0f, 0.0173f, 0.25f, 3.5f};
    CHECK(luts && mq);
    for (size_t i = 0; i < VEC_PQ4_QB; i++) contract_lut(luts + i * ls, np, &s);
    for (int t = 0; t < ni; t++) {
      CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
      for (size_t nq = 1; nq <= VEC_PQ4_QB; nq++) {
        vec_kernels_get()->pq.scanq(blk, np, luts, ls, bias, delta, nq, mq, ldo);
        for (size_t i = 0; i < nq; i++) {
          vec_pq_scan4_scalar(blk, np, luts + i * ls, bias[i], delta[i], one);
          CHECKF(memcmp(one, mq + i * ldo, sizeof one) == 0, "isa %s npairs %zu nq %zu query %zu",
                 vec_isa_name((vec_isa)isas[t]), np, nq, i);
        }
      }
    }
    free(luts), free(mq);
    vec_set_isa(VEC_ISA_AUTO);
  }
  /* Guard pages: a block of exactly np * 32 bytes ends at an inaccessible page. */
  void *h1, *h2;
  size_t s1, s2, np = 7;
  uint8_t *gb = vt_guarded_alloc(np * 32, &h1, &s1), *gl = vt_guarded_alloc(np * 32, &h2, &s2);
  for (size_t i = 0; i < np * 32; i++) gb[i] = (uint8_t)i;
  contract_lut(gl, np, &s);
  float ref[32];
  vec_pq_scan4_scalar(gb, np, gl, 1.0f, 0.5f, ref);
  for (int t = 0; t < ni; t++) {
    CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
    vec_kernels_get()->pq.scan(gb, np, gl, 1.0f, 0.5f, got);
    CHECK(memcmp(ref, got, sizeof ref) == 0);
  }
  vt_guarded_free(h1, s1), vt_guarded_free(h2, s2);
  free(blkb), free(lutb), free(outb);
}

/* The block transposes against the byte loop: widths 16..100, codes ending at a guard page. */
static void pack_matches_reference(void) {
  int isas[4], ni = vt_isas(isas);
  uint64_t s = 8;
  for (size_t cs = 16; cs <= 100; cs += cs < 40 ? 1 : 13) {
    void *h;
    size_t hs;
    uint8_t *codes = vt_guarded_alloc(32 * cs, &h, &hs), *blk = malloc(32 * cs);
    uint8_t *want = malloc(32 * cs);
    for (size_t i = 0; i < 32 * cs; i++) codes[i] = (uint8_t)vt_next(&s);
    for (size_t r = 0; r < 32; r++)
      for (size_t b = 0; b < cs; b++) want[b * 32 + r] = codes[r * cs + b];
    vec_pq_pack4_scalar(codes, cs, blk);
    CHECKF(memcmp(blk, want, 32 * cs) == 0, "scalar cs %zu", cs);
    for (int t = 0; t < ni; t++) {
      CHECK(vec_set_isa((vec_isa)isas[t]) == VEC_OK);
      memset(blk, 0xee, 32 * cs);
      vec_kernels_get()->pq.pack(codes, cs, blk);
      CHECKF(memcmp(blk, want, 32 * cs) == 0, "isa %s cs %zu", vec_isa_name((vec_isa)isas[t]), cs);
    }
    vec_set_isa(VEC_ISA_AUTO);
    vt_guarded_free(h, hs);
    free(blk), free(want);
  }
}

/* Table scores against q . decode(x): 8-bit within float rounding, 4-bit within the quantization
 * bound the score reports; bit-identical on every ISA and whatever rows share the call. */
static void scores_match_decoded(void) {
  static const struct {
    size_t d;
    unsigned m, bits;
    int rotate;
  } cases[] = {{30, 5, 4, 0},  {30, 15, 4, 0}, {24, 6, 8, 0},  {64, 16, 4, 0}, {64, 32, 8, 0},
               {96, 48, 4, 0}, {64, 64, 4, 0}, {66, 33, 4, 0}, {30, 5, 4, 1},  {96, 48, 8, 1}};
  int isas[4], ni = vt_isas(isas);
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    size_t d = cases[t].d, n = 600, nr = 77, nq = 3;
    float *x = randn(n * d, 40 + t), *qv = randn(nq * d, 90 + t);
    vec_codec *c = make_pq_r(d, cases[t].m, cases[t].bits, cases[t].rotate, x, n);
    CHECK(c != NULL);
    size_t cs = vec_codec_code_size(c), qsz = c->ops->query_size(c);
    uint8_t *codes = malloc(nr * cs), *qs = malloc(nq * qsz);
    float *dec = malloc(nr * d * sizeof(float)), *ip = malloc(nq * nr * sizeof(float));
    float *err = malloc(nq * nr * sizeof(float)), *ref = malloc(nq * nr * sizeof(float));
    float *one = malloc(nq * sizeof(float)), sq[77];
    CHECK(vec_codec_encode(c, x, nr, d, codes, NULL, NULL) == VEC_OK);
    CHECK(vec_codec_decode(c, codes, NULL, nr, dec, d, NULL) == VEC_OK);
    c->ops->sqnorms(c, codes, NULL, nr, sq);
    for (size_t r = 0; r < nr; r++) {
      double e = 0;
      for (size_t j = 0; j < d; j++) e += (double)dec[r * d + j] * dec[r * d + j];
      CHECK(fabs(sq[r] - e) <= 1e-5 * (1 + e));
    }
    for (int s = 0; s < ni; s++) {
      CHECK(vec_set_isa((vec_isa)isas[s]) == VEC_OK);
      for (size_t j = 0; j < nq; j++) c->ops->query_prepare(c, qv + j * d, qs + j * qsz);
      c->ops->score(c, qs, nq, codes, NULL, nr, ip, err, nr);
      for (size_t j = 0; j < nq; j++)
        for (size_t r = 0; r < nr; r++) {
          double e = 0, mag = 0;
          for (size_t k = 0; k < d; k++)
            e += (double)qv[j * d + k] * dec[r * d + k],
                mag += fabs(qv[j * d + k] * dec[r * d + k]);
          double tol = 1e-5 * (1 + mag) + err[j * nr + r];
          CHECKF(fabs(ip[j * nr + r] - e) <= tol, "case %zu q %zu r %zu: %g vs %g (tol %g)", t, j,
                 r, (double)ip[j * nr + r], e, tol);
          if (cases[t].bits == 8) CHECK(err[j * nr + r] == 0.0f);
        }
      if (s == 0)
        memcpy(ref, ip, nq * nr * sizeof(float));
      else
        CHECK(memcmp(ref, ip, nq * nr * sizeof(float)) == 0);
      /* One row at a time, at odd offsets: the same bits. */
      for (size_t r = 0; r < nr; r += 5) {
        c->ops->score(c, qs, nq, codes + r * cs, NULL, 1, one, NULL, 1);
        for (size_t j = 0; j < nq; j++) CHECK(one[j] == ref[j * nr + r]);
      }
    }
    vec_set_isa(VEC_ISA_AUTO);
    vec_codec_free(c);
    free(x), free(qv), free(codes), free(qs), free(dec), free(ip), free(err), free(ref), free(one);
  }
}

/* The query tables pq.c prepares keep the kernels' contract (pq_kernels.h: a code byte's two
 * look-ups sum to at most 255) on skewed data, where one subspace's range dwarfs the rest or two
 * wide ones share a byte, for odd m (a zero pad table) and m = 512 (256 byte pairs); and the
 * widest pair uses the scale (not a vacuous pass). */
static void tables_keep_contract(void) {
  static const struct {
    size_t d;
    unsigned m;
  } cases[] = {{30, 5}, {66, 33}, {96, 48}, {1024, 512}};
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    size_t d = cases[t].d, n = 200, nq = 6, sub = d / cases[t].m;
    float *x = randn(n * d, 300 + t), *qv = randn(nq * d, 400 + t);
    for (size_t i = 0; i < n; i++) /* subspaces 0 and 1 (one byte) 1000x and 300x wider */
      for (size_t k = 0; k < 2 * sub; k++) x[i * d + k] *= k < sub ? 1000.0f : 300.0f;
    for (size_t j = 0; j < nq; j++)
      for (size_t k = 0; k < d; k++) /* queries: some skewed, one leaning on the last subspace */
        qv[j * d + k] *= j == 1 && k < sub ? 50.0f : j == 2 && k >= d - sub ? 1e4f : 1.0f;
    vec_codec *c = make_pq(d, cases[t].m, 4, x, n);
    CHECK(c != NULL);
    size_t cs = vec_codec_code_size(c), qsz = c->ops->query_size(c);
    uint8_t *qs = malloc(qsz);
    for (size_t j = 0; j < nq; j++) {
      c->ops->query_prepare(c, qv + j * d, qs);
      const uint8_t *lut = qs + 16;
      unsigned widest = 0;
      for (size_t b = 0; b < cs; b++) {
        unsigned lo = 0, hi = 0;
        for (size_t e = 0; e < 16; e++) {
          lo = lut[b * 32 + e] > lo ? lut[b * 32 + e] : lo;
          hi = lut[b * 32 + 16 + e] > hi ? lut[b * 32 + 16 + e] : hi;
        }
        CHECKF(lo + hi <= 255, "m %u query %zu byte %zu: %u + %u", cases[t].m, j, b, lo, hi);
        if (cases[t].m % 2 && b == cs - 1) CHECK(hi == 0); /* the pad subspace */
        widest = lo + hi > widest ? lo + hi : widest;
      }
      CHECKF(widest >= 250, "m %u query %zu: widest pair %u", cases[t].m, j, widest);
    }
    vec_codec_free(c);
    free(x), free(qv), free(qs);
  }
}

static void serialization(void) {
  size_t d = 30, n = 300;
  float *x = randn(n * d, 77);
  vec_codec *c = make_pq(d, 5, 4, x, n), *c2 = NULL;
  CHECK(c != NULL);
  size_t sz = vec_codec_serialized_size(c);
  CHECK(sz > 16 * 30 * 4);
  uint8_t *buf = malloc(sz), *good = malloc(sz);
  CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
  memcpy(good, buf, sz);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  CHECK(vec_codec_kind(c2) == VEC_CODEC_PQ && vec_codec_is_trained(c2));
  CHECK(vec_codec_get_params(c2)->m == 5 && vec_codec_get_params(c2)->bits == 4);
  uint8_t a[3 * 50], b[3 * 50];
  CHECK(vec_codec_encode(c, x, 50, d, a, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, x, 50, d, b, NULL, NULL) == VEC_OK);
  CHECK(memcmp(a, b, sizeof a) == 0);
  vec_codec_free(c2);
  c2 = NULL;
  /* Any flipped byte: refused (checksum, or the checks behind it). */
  for (size_t i = 0; i < sz; i += 37) {
    memcpy(buf, good, sz);
    buf[i] ^= 0x20;
    int rc = vec_codec_deserialize(buf, sz, &c2);
    CHECKF(rc == VEC_E_FORMAT || rc == VEC_E_VERSION, "byte %zu: rc %d", i, rc);
    CHECK(c2 == NULL);
  }
  CHECK(vec_codec_deserialize(good, sz - 1, &c2) == VEC_E_FORMAT);
  /* Consistent checksums over inconsistent content reach the state's own checks. */
  memcpy(buf, good, sz);
  buf[44] = 10; /* m 5 -> 10: the codebooks no longer fit */
  uint32_t crc = vec_crc32c(0, buf, sz - 4);
  for (int i = 0; i < 4; i++) buf[sz - 4 + i] = (uint8_t)(crc >> (8 * i));
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT && c2 == NULL);
  memcpy(buf, good, sz);
  size_t first = sz - 4 - 4 * 16 * 30; /* first codebook float */
  uint32_t nanbits = 0x7fc00000u;
  for (int i = 0; i < 4; i++) buf[first + 8 + i] = (uint8_t)(nanbits >> (8 * i));
  crc = vec_crc32c(0, buf, sz - 4);
  for (int i = 0; i < 4; i++) buf[sz - 4 + i] = (uint8_t)(crc >> (8 * i));
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_FORMAT && c2 == NULL);
  CHECKF(strstr(vec_last_error_message(), "NaN") != NULL, "%s", vec_last_error_message());
  vec_codec_free(c);
  free(x), free(buf), free(good);
}

static void rotate_round_trip(void) {
  size_t d = 30, n = 400;
  float *x = randn(n * d, 31), *a = malloc(n * d * sizeof(float)), *b = malloc(n * d * 4);
  vec_codec *c = make_pq_r(d, 5, 8, 1, x, n), *c2 = NULL, *c3 = make_pq(d, 5, 8, x, n);
  CHECK(c && c3);
  size_t sz = vec_codec_serialized_size(c);
  uint8_t *buf = malloc(sz), q1[5 * 400], q2[5 * 400];
  CHECK(vec_codec_serialize(c, buf, sz) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK && vec_codec_get_params(c2)->rotate == 1);
  CHECK(vec_codec_encode(c, x, n, d, q1, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c2, x, n, d, q2, NULL, NULL) == VEC_OK);
  CHECK(memcmp(q1, q2, sizeof q1) == 0);
  CHECK(vec_codec_decode(c, q1, NULL, n, a, d, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c2, q2, NULL, n, b, d, NULL) == VEC_OK);
  CHECK(memcmp(a, b, n * d * sizeof(float)) == 0);
  /* The rotation is part of the model: the unrotated codec's codes differ. */
  CHECK(vec_codec_encode(c3, x, n, d, q2, NULL, NULL) == VEC_OK);
  CHECK(memcmp(q1, q2, sizeof q1) != 0);
  vec_codec_free(c), vec_codec_free(c2), vec_codec_free(c3);
  free(x), free(a), free(b), free(buf);
}

/* vec_search_codes over pq codes (metric IP) = the top-k of the score hook's own estimates, ties
 * to the lower row, for 40 queries (8-bit tables of 16 KB: the driver takes them in groups of
 * 16), k 1..25, any thread count. */
static void search_matches_score_topk(void) {
  static const unsigned bits[] = {4, 8};
  for (int b = 0; b < 2; b++) {
    size_t d = 64, n = 3000, nq = 45; /* 4-bit: one call of 32 queries, one of 13 (4+4+4+1) */
    float *x = randn(n * d, 60 + b), *qv = randn(nq * d, 61 + b);
    vec_codec *c = make_pq(d, 16, bits[b], x, n);
    CHECK(c != NULL);
    size_t cs = vec_codec_code_size(c), qsz = c->ops->query_size(c);
    uint8_t *codes = malloc(n * cs), *qs = malloc(qsz);
    float *ip = malloc(n * sizeof(float)), sc[25];
    uint64_t ids[45 * 25];
    float scores[45 * 25];
    CHECK(vec_codec_encode(c, x, n, d, codes, NULL, NULL) == VEC_OK);
    for (size_t k = 1; k <= 25; k += 12)
      for (int threads = 1; threads <= 2; threads++) {
        vec_batch_opts o = VEC_BATCH_OPTS_INIT;
        o.threads = threads;
        CHECK(vec_search_codes(c, codes, NULL, n, NULL, qv, nq, d, k, VEC_METRIC_IP, ids, scores,
                               &o) == VEC_OK);
        for (size_t j = 0; j < nq; j++) {
          c->ops->query_prepare(c, qv + j * d, qs);
          c->ops->score(c, qs, 1, codes, NULL, n, ip, NULL, n);
          for (size_t t = 0; t < k; t++) { /* selection: best score, then lowest row */
            size_t bi = SIZE_MAX;
            for (size_t r = 0; r < n; r++) {
              int taken = 0;
              for (size_t u = 0; u < t; u++) taken |= ids[j * k + u] == r;
              if (taken) continue;
              if (bi == SIZE_MAX || ip[r] > ip[bi]) bi = r;
            }
            sc[t] = ip[bi];
            CHECKF(ids[j * k + t] == bi && scores[j * k + t] == sc[t],
                   "bits %u k %zu q %zu slot %zu: %llu (%g) vs %zu (%g)", bits[b], k, j, t,
                   (unsigned long long)ids[j * k + t], (double)scores[j * k + t], bi,
                   (double)sc[t]);
          }
        }
      }
    vec_codec_free(c);
    free(x), free(qv), free(codes), free(qs), free(ip);
  }
}

static void vqz_and_search(void) {
  size_t d = 32, n = 400;
  float *x = randn(n * d, 8);
  vec_codec *c = make_pq(d, 8, 8, x, n);
  CHECK(c != NULL);
  char path[] = "/tmp/vectro_pq_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  vec_vqz_writer *w = NULL;
  CHECK(vec_vqz_writer_open(path, c, NULL, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append_floats(w, x, n, d, NULL, NULL) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  vec_vqz_reader *r = NULL;
  CHECK(vec_vqz_reader_open(path, &r) == VEC_OK);
  CHECK(vec_vqz_count(r) == n);
  uint8_t *codes = malloc(n * 8), *mine = malloc(n * 8);
  CHECK(vec_vqz_read(r, 0, n, codes, NULL, NULL) == VEC_OK);
  CHECK(vec_codec_encode(vec_vqz_codec(r), x, n, d, mine, NULL, NULL) == VEC_OK);
  CHECK(memcmp(codes, mine, n * 8) == 0);
  /* Each row's nearest by inner product over its own codes: itself, mostly. */
  uint64_t ids[5 * 1];
  float sc[5];
  CHECK(vec_search_codes(vec_vqz_codec(r), codes, NULL, n, NULL, x, 5, d, 1, VEC_METRIC_L2, ids, sc,
                         NULL) == VEC_OK);
  int hits = 0;
  for (int j = 0; j < 5; j++) hits += ids[j] == (uint64_t)j;
  CHECK(hits >= 4);
  vec_vqz_reader_close(r);
  unlink(path);
  vec_codec_free(c);
  free(x), free(codes), free(mine);
}

const vt_test pq_tests[] = {
    {"params_and_errors", params_and_errors},
    {"encode_matches_reference", encode_matches_reference},
    {"fastscan_kernels_bit_exact", fastscan_kernels_bit_exact},
    {"pack_matches_reference", pack_matches_reference},
    {"scores_match_decoded", scores_match_decoded},
    {"tables_keep_contract", tables_keep_contract},
    {"serialization", serialization},
    {"rotate_round_trip", rotate_round_trip},
    {"search_matches_score_topk", search_matches_score_topk},
    {"vqz_and_search", vqz_and_search},
};
const size_t pq_count = sizeof pq_tests / sizeof pq_tests[0];
