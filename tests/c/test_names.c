/* test_names.c: the codec-name grammar (vec_codec_params_parse) and the canonical name written
 * back (vec_codec_params_name); the same table is checked through Python in test_codec_names.py. */
#include <stdlib.h>
#include <string.h>

#include "vectro.h"
#include "vtest.h"

static const struct {
  const char *name;
  vec_codec_id codec;
  unsigned group, bits, m;
  const char *canonical;
} good[] = {
    {"int8", VEC_CODEC_INT8, 0, 0, 0, "int8"},
    {"INT8", VEC_CODEC_INT8, 0, 0, 0, "int8"},
    {"int16", VEC_CODEC_INT16, 0, 0, 0, "int16"},
    {"int4", VEC_CODEC_INT4, 0, 0, 0, "int4"},
    {"int4-g32", VEC_CODEC_INT4, 32, 0, 0, "int4-g32"},
    {"Int4-G016", VEC_CODEC_INT4, 16, 0, 0, "int4-g16"},
    {"int4-g4294967295", VEC_CODEC_INT4, 4294967295u, 0, 0, "int4-g4294967295"},
    {"f16", VEC_CODEC_F16, 0, 0, 0, "f16"},
    {"float16", VEC_CODEC_F16, 0, 0, 0, "f16"},
    {"fp16", VEC_CODEC_F16, 0, 0, 0, "f16"},
    {"half", VEC_CODEC_F16, 0, 0, 0, "f16"},
    {"bf16", VEC_CODEC_BF16, 0, 0, 0, "bf16"},
    {"bfloat16", VEC_CODEC_BF16, 0, 0, 0, "bf16"},
    {"binary", VEC_CODEC_BINARY, 0, 0, 0, "binary"},
    {"ubinary", VEC_CODEC_BINARY, 0, 0, 0, "binary"},
    {"uint8", VEC_CODEC_UINT8_CAL, 0, 0, 0, "uint8-cal"},
    {"uint8-cal", VEC_CODEC_UINT8_CAL, 0, 0, 0, "uint8-cal"},
    {"int8-cal", VEC_CODEC_INT8_CAL, 0, 0, 0, "int8-cal"},
    {"uint4", VEC_CODEC_UINT4_CAL, 0, 0, 0, "uint4-cal"},
    {"uint6-cal", VEC_CODEC_UINT6_CAL, 0, 0, 0, "uint6-cal"},
    {"rabitq", VEC_CODEC_RABITQ, 0, 0, 0, "rabitq"},
    {"rabitq-4", VEC_CODEC_RABITQ, 0, 4, 0, "rabitq-4"},
    {"RaBitQ-1", VEC_CODEC_RABITQ, 0, 1, 0, "rabitq-1"},
    {"rabitq-9", VEC_CODEC_RABITQ, 0, 9, 0, "rabitq-9"}, /* the form is right: create refuses 9 */
    {"pq", VEC_CODEC_PQ, 0, 0, 0, "pq"},
    {"pq-48x4", VEC_CODEC_PQ, 0, 4, 48, "pq-48x4"},
    {"PQ-96X8", VEC_CODEC_PQ, 0, 8, 96, "pq-96x8"},
};

static const struct {
  const char *name, *message; /* the start of vec_last_error_message() */
} bad[] = {
    {"", "unknown precision ''"},
    {"int3", "unknown precision 'int3'"},
    {"float64", "unknown precision 'float64'"},
    {"int8 ", "unknown precision 'int8 '"},
    {" int8", "unknown precision ' int8'"},
    {"int8-cal-", "unknown precision"},
    {"uint8-CAL\xc3\xa9", "unknown precision"}, /* UTF-8 after a valid name */
    {"\xc3\xa9", "unknown precision"},
    {"int4-g", "int4 with groups is 'int4-g<N>'"},
    {"int4-g0", "int4 with groups is 'int4-g<N>'"},
    {"int4-g-3", "int4 with groups is 'int4-g<N>'"},
    {"int4-g+3", "int4 with groups is 'int4-g<N>'"},
    {"int4-g32x", "int4 with groups is 'int4-g<N>'"},
    {"int4-g4294967296", "int4 with groups is 'int4-g<N>'"},
    {"int4-g\xd9\xa3", "int4 with groups is 'int4-g<N>'"}, /* an Arabic-Indic digit */
    {"rabitq-", "rabitq precision is 'rabitq-<bits>'"},
    {"rabitq4", "rabitq precision is 'rabitq-<bits>'"},
    {"rabitq-0", "rabitq precision is 'rabitq-<bits>'"},
    {"rabitq-4x", "rabitq precision is 'rabitq-<bits>'"},
    {"pq-", "pq precision is 'pq-<m>x<bits>'"},
    {"pq48x4", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-48", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-x4", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-48x", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-48x4x2", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-0x4", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-99999999999999999999x4", "pq precision is 'pq-<m>x<bits>'"},
    {"pq-4x99999999999999999999", "pq precision is 'pq-<m>x<bits>'"},
};

static void good_names_parse_and_round_trip(void) {
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    vec_codec_params p, q;
    CHECKF(vec_codec_params_parse(good[i].name, &p) == VEC_OK, "%s: %s", good[i].name,
           vec_last_error_message());
    CHECKF(p.codec == good[i].codec && p.group_size == good[i].group && p.bits == good[i].bits &&
               p.m == good[i].m && p.dim == 0 && p.struct_size == sizeof p,
           "%s", good[i].name);
    char buf[64];
    int n = vec_codec_params_name(&p, buf, sizeof buf);
    CHECKF(n == (int)strlen(good[i].canonical) && strcmp(buf, good[i].canonical) == 0, "%s -> %s",
           good[i].name, buf);
    CHECK(vec_codec_params_parse(buf, &q) == VEC_OK); /* the printed name reads back the same */
    CHECK(q.codec == p.codec && q.group_size == p.group_size && q.bits == p.bits && q.m == p.m);
  }
}

static void bad_names_say_what_is_wrong(void) {
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    vec_codec_params p;
    memset(&p, 0x5a, sizeof p);
    CHECKF(vec_codec_params_parse(bad[i].name, &p) == VEC_E_INVALID_ARG, "%s", bad[i].name);
    const char *msg = vec_last_error_message();
    CHECKF(strncmp(msg, bad[i].message, strlen(bad[i].message)) == 0, "%s: %s", bad[i].name, msg);
    CHECK(((const unsigned char *)&p)[0] == 0x5a); /* out untouched */
  }
  vec_codec_params p;
  CHECK(vec_codec_params_parse(NULL, &p) == VEC_E_INVALID_ARG);
  CHECK(vec_codec_params_parse("int8", NULL) == VEC_E_INVALID_ARG);
  char big[5000];
  memset(big, '9', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  memcpy(big, "pq-", 3);
  CHECK(vec_codec_params_parse(big, &p) == VEC_E_INVALID_ARG);
  CHECK(strlen(vec_last_error_message()) < 256); /* the name is cut in the message, not the stack */
  CHECK(vec_codec_params_name(NULL, big, sizeof big) == -1);
}

/* Every parsed name makes the codec it names once it has a dimension (or the library's message
 * when the values do not fit it), and the name's size-query form is snprintf's. */
static void parsed_names_create_codecs(void) {
  vec_codec_params p;
  CHECK(vec_codec_params_parse("int4-g32", &p) == VEC_OK);
  p.dim = 64;
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) == VEC_OK && vec_codec_scale_count(c) == 2);
  vec_codec_free(c);
  CHECK(vec_codec_params_parse("rabitq-9", &p) == VEC_OK);
  p.dim = 64;
  CHECK(vec_codec_create(&p, &c) == VEC_E_INVALID_ARG);
  char small[4];
  CHECK(vec_codec_params_parse("pq-48x4", &p) == VEC_OK);
  CHECK(vec_codec_params_name(&p, small, sizeof small) == 7 && strcmp(small, "pq-") == 0);
}

const vt_test names_tests[] = {
    {"good_names_parse_and_round_trip", good_names_parse_and_round_trip},
    {"bad_names_say_what_is_wrong", bad_names_say_what_is_wrong},
    {"parsed_names_create_codecs", parsed_names_create_codecs},
};
const size_t names_count = sizeof names_tests / sizeof names_tests[0];
