/* test_features.c: every CPU sub-feature fallback, run on this machine (as libdeflate's
 * disable_cpu_features_for_testing): for each instruction set and each subset of the optional
 * features the kernels branch on (f16c, vnni, vpopcntdq, crc32), the table holds no kernel that
 * needs a switched-off feature, and codes and scores stay bit for bit those of the full set. */
#include <stdlib.h>
#include <string.h>

#include "../../src/kernels/kernels.h"
#include "vectro.h"
#include "vtest.h"

static const struct {
  const char *name;
  unsigned bits;
} subs[] = {{"f16c", VEC_CPU_F16C},
            {"vnni", VEC_CPU_AVX512VNNI},
            {"vpopcntdq", VEC_CPU_AVX512VPOPCNTDQ},
            {"crc32", VEC_CPU_SSE42 | VEC_CPU_CRC32}};
#define NSUBS  (sizeof subs / sizeof subs[0])
#define NMASKS (1u << NSUBS)

/* The comma list naming the subs in `mask`, and their VEC_CPU_* bits. */
static unsigned list_of(unsigned mask, char *buf) {
  unsigned bits = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < NSUBS; i++)
    if (mask >> i & 1) {
      if (buf[0]) strcat(buf, ",");
      strcat(buf, subs[i].name);
      bits |= subs[i].bits;
    }
  return bits;
}

/* A table never holds a kernel that needs a feature it was not filled with. */
static void table_respects_features(void) {
  vec_kernels k, ref;
  vec_kernels_fill(&ref, VEC_ISA_SCALAR, 0);
  int isas[4], ni = vt_isas(isas);
  for (int ii = 0; ii < ni; ii++)
    for (unsigned mask = 0; mask < NMASKS; mask++) {
      char list[64];
      unsigned off = list_of(mask, list);
      CHECK(vec_kernels_fill(&k, (vec_isa)isas[ii], ~off) == 1);
      CHECK(k.isa == (vec_isa)isas[ii]);
      CHECK((k.features & off) == 0);
      CHECK((k.features & ~vec_cpu_features()) == 0);
      if (!(k.features & VEC_CPU_AVX512VNNI))
        CHECK(!k.score.i8_vnni && !k.score.u8_vnni && !k.score.i4_vnni);
      if (!(k.features & VEC_CPU_AVX512VPOPCNTDQ)) CHECK(!k.score.b1_popcnt);
#if defined(VEC_HAVE_X86_KERNELS)
      if (!(k.features & VEC_CPU_AVX512VNNI)) {
        CHECK(k.rabitq.dot != vec_rabitq_dot_avx512vnni);
        CHECK(k.rabitq.dot1 != vec_rabitq_dot1_avx512vnni);
      }
      if (!(k.features & VEC_CPU_AVX512VPOPCNTDQ))
        CHECK(k.rabitq.dot1 != vec_rabitq_dot1_avx512vpop);
      if (!(k.features & VEC_CPU_F16C)) {
        CHECK(k.half.encode_f16 == ref.half.encode_f16 && k.half.decode_f16 == ref.half.decode_f16);
        CHECK(k.score.f16 == ref.score.f16);
      }
#endif
      if (!(k.features & (VEC_CPU_SSE42 | VEC_CPU_CRC32))) CHECK(k.crc.update == ref.crc.update);
    }
  /* An instruction set this build or CPU lacks gives the scalar table and 0. */
  if (!vec_isa_supported(VEC_ISA_NEON)) {
    CHECK(vec_kernels_fill(&k, VEC_ISA_NEON, ~0u) == 0);
    CHECK(k.isa == VEC_ISA_SCALAR && k.int8.encode == ref.int8.encode);
  }
}

/* The API: unknown names refused (nothing changes), known ones honoured per instruction set, ""
 * restores everything, and the forced instruction set survives. */
static void api_names(void) {
  unsigned cpu = vec_cpu_features();
  CHECK(vec_disable_cpu_features("vnni,bogus") == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "bogus") != NULL);
  CHECK(vec_disable_cpu_features(NULL) == VEC_OK);
  CHECK(vec_active_cpu_features() == cpu);
  int isas[4], ni = vt_isas(isas);
  for (int ii = 0; ii < ni; ii++) {
    CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
    CHECK(vec_disable_cpu_features(" vnni , f16c,vpopcntdq,sse4.2 ") == VEC_OK);
    CHECK(vec_active_isa() == (vec_isa)isas[ii]);
    CHECK((vec_active_cpu_features() &
           (VEC_CPU_AVX512VNNI | VEC_CPU_F16C | VEC_CPU_AVX512VPOPCNTDQ | VEC_CPU_SSE42)) == 0);
    CHECK(vec_disable_cpu_features("") == VEC_OK);
    CHECK(vec_active_cpu_features() == cpu);
  }
  /* Instruction-set names cap the automatic choice only. */
  CHECK(vec_set_isa(VEC_ISA_AUTO) == VEC_OK);
  CHECK(vec_disable_cpu_features("avx512,avx2,neon") == VEC_OK);
  CHECK(vec_active_isa() == VEC_ISA_SCALAR);
  for (int ii = 0; ii < ni; ii++) CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
  CHECK(vec_disable_cpu_features("all") == VEC_OK);
  CHECK((vec_active_cpu_features() & (VEC_CPU_AVX512VNNI | VEC_CPU_F16C)) == 0);
  CHECK(vec_set_isa(VEC_ISA_AUTO) == VEC_OK);
  CHECK(vec_active_isa() == VEC_ISA_SCALAR);
  CHECK(vec_disable_cpu_features(getenv("VECTRO_DISABLE_CPU_FEATURES")) == VEC_OK);
}

/* CRC-32C through the table equals the byte-table reference at odd lengths and offsets. */
static void crc_each_setting(void) {
  unsigned char buf[300];
  uint64_t seed = 7;
  for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)vt_next(&seed);
  for (unsigned mask = 0; mask < NMASKS; mask++) {
    char list[64];
    list_of(mask, list);
    CHECK(vec_disable_cpu_features(list) == VEC_OK);
    for (size_t off = 0; off < 4; off++)
      for (size_t len = 0; len < 270; len += 13)
        CHECKF(vec_crc32c(5, buf + off, len) == vec_crc32c_table(5, buf + off, len),
               "crc %s off %zu len %zu", list, off, len);
  }
  CHECK(vec_disable_cpu_features(getenv("VECTRO_DISABLE_CPU_FEATURES")) == VEC_OK);
}

typedef struct {
  int codec;
  unsigned group, bits;
} codec_case;

/* Encodes and searches (inner product) with codec `cc` at dimension d under the current setting:
 * codes from unaligned rows into an unaligned buffer, then the top k of 3 queries. */
static int run_codec(const vec_codec *c, const float *x, size_t n, size_t d, const float *q,
                     uint8_t *codes, float *scales, uint64_t *ids, float *scores) {
  if (vec_codec_encode(c, x, n, d, codes, scales, NULL) != VEC_OK) return 0;
  return vec_search_codes(c, codes, scales, n, NULL, q, 3, d, 5, VEC_METRIC_IP, ids, scores,
                          NULL) == VEC_OK;
}

/* Each codec's codes and scores with every subset of the sub-features off equal those with all of
 * them on, per instruction set (bit for bit: the optional kernels are exact integer variants). */
static void codecs_each_setting(void) {
  const codec_case cases[] = {{VEC_CODEC_INT8, 0, 0},   {VEC_CODEC_INT4, 32, 0},
                              {VEC_CODEC_INT4, 0, 0},   {VEC_CODEC_UINT8_CAL, 0, 0},
                              {VEC_CODEC_BINARY, 0, 0}, {VEC_CODEC_F16, 0, 0},
                              {VEC_CODEC_BF16, 0, 0},   {VEC_CODEC_INT16, 0, 0},
                              {VEC_CODEC_RABITQ, 0, 4}, {VEC_CODEC_RABITQ, 0, 1}};
  const size_t dims[] = {13, 67}, n = 37;
  float *xb = malloc((n * 67 + 1) * sizeof(float)), *qb = malloc((3 * 67 + 1) * sizeof(float));
  uint8_t *cb = malloc(n * 67 * 4 + 1), *cref = malloc(n * 67 * 4);
  float *sb = malloc(n * 8 * sizeof(float)), *sref = malloc(n * 8 * sizeof(float));
  float sc[15], scref[15];
  uint64_t id[15], idref[15], seed = 11;
  int isas[4], ni = vt_isas(isas);
  for (size_t di = 0; di < 2; di++) {
    size_t d = dims[di];
    float *x = xb + 1, *q = qb + 1; /* unaligned rows and queries */
    for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed);
    for (size_t i = 0; i < 3 * d; i++) q[i] = vt_normal(&seed);
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
      vec_codec_params p = VEC_CODEC_PARAMS_INIT((vec_codec_id)cases[ci].codec, d);
      p.group_size = cases[ci].group;
      p.bits = cases[ci].bits;
      if (p.group_size >= d) p.group_size = 0;
      vec_codec *c = NULL;
      CHECK(vec_codec_create(&p, &c) == VEC_OK);
      if (vec_codec_needs_training(c)) CHECK(vec_codec_train(c, x, n, d) == VEC_OK);
      size_t cs = vec_codec_code_size(c), ns = vec_codec_scale_count(c);
      CHECK(cs <= 67 * 4 && ns <= 8);
      uint8_t *codes = cb + 1;
      for (int ii = 0; ii < ni; ii++) {
        CHECK(vec_disable_cpu_features("") == VEC_OK);
        CHECK(vec_set_isa((vec_isa)isas[ii]) == VEC_OK);
        CHECK(run_codec(c, x, n, d, q, cref, sref, idref, scref));
        for (unsigned mask = 1; mask < NMASKS; mask++) {
          char list[64];
          list_of(mask, list);
          CHECK(vec_disable_cpu_features(list) == VEC_OK);
          CHECK(vec_active_isa() == (vec_isa)isas[ii]);
          CHECKF(run_codec(c, x, n, d, q, codes, sb, id, sc), "codec %d", cases[ci].codec);
          CHECKF(memcmp(codes, cref, n * cs) == 0 && memcmp(sb, sref, n * ns * sizeof(float)) == 0,
                 "codes: codec %d d %zu %s off: %s", cases[ci].codec, d,
                 vec_isa_name((vec_isa)isas[ii]), list);
          /* f16 scores sum in the order of their kernel: without F16C the scalar one runs. */
          int exact = !(cases[ci].codec == VEC_CODEC_F16 && (mask & 1));
          CHECKF(!exact || (memcmp(id, idref, sizeof id) == 0 && memcmp(sc, scref, sizeof sc) == 0),
                 "search: codec %d d %zu %s off: %s", cases[ci].codec, d,
                 vec_isa_name((vec_isa)isas[ii]), list);
        }
      }
      vec_codec_free(c);
    }
  }
  CHECK(vec_disable_cpu_features(getenv("VECTRO_DISABLE_CPU_FEATURES")) == VEC_OK);
  free(xb), free(qb), free(cb), free(cref), free(sb), free(sref);
}

const vt_test features_tests[] = {
    {"table_respects_features", table_respects_features},
    {"api_names", api_names},
    {"crc_each_setting", crc_each_setting},
    {"codecs_each_setting", codecs_each_setting},
};
const size_t features_count = sizeof features_tests / sizeof features_tests[0];
