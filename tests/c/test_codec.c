/* test_codec.c: the generic codec object: names, sizes, int8 through it, training storage,
 * serialization (round trip, corruption, newer versions) and the quality figures. */
#include <math.h>
#include <stdlib.h>

#include "vectro.h"
#include "vtest.h"

static void names_round_trip(void) {
  const char *names[] = {"int8", "f16", "bf16", "int16", "int4", "binary", "uint8-cal", "int8-cal"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    vec_codec_id id;
    CHECK(vec_codec_from_name(names[i], &id) == VEC_OK);
    CHECK(strcmp(vec_codec_name(id), names[i]) == 0);
  }
  vec_codec_id id;
  CHECK(vec_codec_from_name("int3", &id) == VEC_E_INVALID_ARG);
  CHECK(strstr(vec_last_error_message(), "int3") != NULL);
  CHECK(strcmp(vec_codec_name((vec_codec_id)99), "unknown") == 0);
}

static void create_rejects_bad_params(void) {
  vec_codec *c = (vec_codec *)1;
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 0);
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG && c == NULL);
  p.dim = 8;
  p.codec = (vec_codec_id)99;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.codec = VEC_CODEC_INT4;
  p.group_size = 3;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.group_size = 0;
  p.calib_low_q = 0.6f;
  p.calib_high_q = 0.5f;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.calib_low_q = 0.0f;
  p.calib_high_q = 1.0f;
  p.rounding = 7;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.struct_size = 3;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  p.struct_size = sizeof p + 8; /* a newer header than this library */
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  /* A caller built before `center` existed passes the shorter struct: the memory past it is not
   * read (garbage there must not turn centring on), and the codec is an uncentred rabitq. */
  p.rounding = VEC_ROUND_NEAREST;
  p.codec = VEC_CODEC_RABITQ, p.bits = 2, p.center = 7;
  p.struct_size = offsetof(vec_codec_params, center);
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(vec_codec_get_params(c)->center == 0 && !vec_codec_needs_training(c));
  CHECK(vec_codec_get_params(c)->struct_size == sizeof p && vec_codec_scale_count(c) == 3);
  vec_codec_free(c);
  vec_codec_free(NULL); /* a no-op */
}

/* The codec object's int8 is the same codec as vec_int8_encode, bit for bit. */
static void int8_through_codec(void) {
  enum { N = 33, D = 97 };
  float x[N * D], s1[N], s2[N], o1[N * D], o2[N * D];
  int8_t q1[N * D], q2[N * D];
  uint64_t seed = 11;
  for (size_t i = 0; i < N * D; i++) x[i] = vt_normal(&seed);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, D);
  vec_codec *c;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  CHECK(vec_codec_code_size(c) == D && vec_codec_scale_count(c) == 1);
  CHECK(!vec_codec_needs_training(c) && vec_codec_is_trained(c));
  CHECK(vec_int8_encode(x, N, D, D, q1, s1, NULL) == VEC_OK);
  CHECK(vec_codec_encode(c, x, N, D, q2, s2, NULL) == VEC_OK);
  CHECK(memcmp(q1, q2, sizeof q1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
  CHECK(vec_int8_decode(q1, s1, N, D, o1, D, NULL) == VEC_OK);
  CHECK(vec_codec_decode(c, q2, s2, N, o2, D, NULL) == VEC_OK);
  CHECK(memcmp(o1, o2, sizeof o1) == 0);
  x[20 * D + 96] = NAN;
  CHECK(vec_codec_encode(c, x, N, D, q2, s2, NULL) == VEC_E_NONFINITE &&
        vec_last_error_row() == 20);
  s2[4] = -1.0f;
  CHECK(vec_codec_decode(c, q2, s2, N, o2, D, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_last_error_row() == 4);
  CHECK(vec_codec_encode(c, x, N, D - 1, q2, s2, NULL) == VEC_E_INVALID_ARG); /* ldx < d */
  vec_codec_free(c);
}

static void serialize_round_trip_and_corruption(void) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 384);
  vec_codec *c, *c2;
  CHECK(vec_codec_create(&p, &c) == VEC_OK);
  size_t sz = vec_codec_serialized_size(c);
  unsigned char buf[64];
  CHECK(sz <= sizeof buf);
  CHECK(vec_codec_serialize(c, buf, sz - 1) == VEC_E_INVALID_ARG);
  CHECK(vec_codec_serialize(c, buf, sizeof buf) == VEC_OK);
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_OK);
  CHECK(vec_codec_kind(c2) == VEC_CODEC_INT8 && vec_codec_get_params(c2)->dim == 384);
  vec_codec_free(c2);
  /* every truncation, and every flipped bit, is refused */
  for (size_t cut = 0; cut < sz; cut++) CHECK(vec_codec_deserialize(buf, cut, &c2) == VEC_E_FORMAT);
  for (size_t byte = 0; byte < sz; byte++) {
    for (int bit = 0; bit < 8; bit++) {
      buf[byte] ^= (unsigned char)(1u << bit);
      int rc = vec_codec_deserialize(buf, sz, &c2);
      CHECKF(rc == VEC_E_FORMAT || rc == VEC_E_VERSION, "byte %zu bit %d rc %d", byte, bit, rc);
      buf[byte] ^= (unsigned char)(1u << bit);
    }
  }
  /* a newer major version is named as such, before the checksum is even looked at; so is a newer
   * minor of a known major (1.2 or 2.3: this code knows 1.1 and 2.2), whose layout it cannot
   * know */
  buf[4] = 3;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_VERSION);
  CHECK(strstr(vec_last_error_message(), "upgrade") != NULL);
  buf[4] = 1, buf[6] = 2;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_VERSION);
  CHECK(strstr(vec_last_error_message(), "version 1.2") != NULL);
  buf[4] = 2, buf[6] = 3;
  CHECK(vec_codec_deserialize(buf, sz, &c2) == VEC_E_VERSION);
  buf[6] = 0;
  vec_codec_free(c);
}

static void quality_figures(void) {
  float x[2 * 4] = {3, 4, 0, 0, 0, 0, 0, 0};
  float h[2 * 4] = {3, 4, 0, 0, 0, 0, 0, 0};
  vec_quality q = {sizeof q, 0, 0, 0, 0, 0, 0, 0};
  CHECK(vec_quality_measure(x, 4, h, 4, 2, 4, &q) == VEC_OK);
  CHECK(q.rel_l2_mean == 0 && q.cosine_mean == 1.0 && q.zero_rows == 1 && q.max_abs_err == 0);
  h[1] = 3; /* error (0, 1, 0, 0) against ||x|| = 5 */
  CHECK(vec_quality_measure(x, 4, h, 4, 2, 4, &q) == VEC_OK);
  CHECK(fabs(q.rel_l2_mean - 0.2) < 1e-12 && fabs(q.max_abs_err - 1.0) < 1e-12);
  CHECK(fabs(q.cosine_mean - 21.0 / (5.0 * sqrt(18.0))) < 1e-12); /* x.h = 9 + 12 */
  CHECK(fabs(q.mae - 0.25 / 4.0) < 1e-12); /* mean |e| = 1/4, in units of max|x| = 4 */
  h[6] = NAN;
  CHECK(vec_quality_measure(x, 4, h, 4, 2, 4, &q) == VEC_E_NONFINITE && vec_last_error_row() == 1);
  q.struct_size = 0;
  CHECK(vec_quality_measure(x, 4, h, 4, 2, 4, &q) == VEC_E_INVALID_ARG);
}

const vt_test codec_tests[] = {
    {"names_round_trip", names_round_trip},
    {"create_rejects_bad_params", create_rejects_bad_params},
    {"int8_through_codec", int8_through_codec},
    {"serialize_round_trip_and_corruption", serialize_round_trip_and_corruption},
    {"quality_figures", quality_figures},
};
const size_t codec_count = sizeof codec_tests / sizeof codec_tests[0];
