/* codec_name.c: the one grammar of codec names ("int4-g32", "rabitq-4", "pq-48x4", aliases), read
 * by vec_codec_params_parse and written back by vec_codec_params_name; the CLI and Python use it.
 */
#include <stdio.h>
#include <string.h>

#include "../common/internal.h"

/* Other spellings users bring from NumPy, PyTorch and sentence-transformers. */
static const struct {
  const char *alias, *name;
} aliases[] = {
    {"float16", "f16"},    {"fp16", "f16"},        {"half", "f16"},        {"bfloat16", "bf16"},
    {"ubinary", "binary"}, {"uint8", "uint8-cal"}, {"uint4", "uint4-cal"}, {"uint6", "uint6-cal"},
};

#define NAME_MAX_LEN 64 /* longer than any valid name: anything longer is unknown */

static const char expected[] =
    "expected int8, int16, int4, int4-g<N>, f16, bf16, binary, uint8, uint8-cal, int8-cal, "
    "uint4-cal, uint6-cal, rabitq, rabitq-<bits>, pq, pq-<m>x<bits>, or an alias (float16, fp16, "
    "half, bfloat16, ubinary, uint4, uint6)";

/* A decimal number of 1 to 4294967295 spanning s[0..len) (digits only: no sign, no space). */
static int parse_number(const char *s, size_t len, unsigned *out) {
  if (len == 0) return -1;
  unsigned long long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (unsigned long long)(s[i] - '0');
    if (v > 0xFFFFFFFFull) return -1; /* checked at every digit: no wrap-around, however long */
  }
  if (v == 0) return -1; /* 0 would mean "the default" in the params: say the default by omitting */
  *out = (unsigned)v;
  return 0;
}

static int bad(const char *name, const char *form) {
  return vec_fail(VEC_E_INVALID_ARG, -1, "%s, got '%.100s'", form, name);
}

int vec_codec_params_parse(const char *name, vec_codec_params *out) {
  vec_clear_error();
  if (!name || !out)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_codec_params_parse: NULL argument");
  char low[NAME_MAX_LEN + 1];
  size_t len = strlen(name);
  if (len > NAME_MAX_LEN || len == 0)
    return vec_fail(VEC_E_INVALID_ARG, -1, "unknown precision '%.100s'; %s", name, expected);
  for (size_t i = 0; i <= len;
       i++) /* ASCII case folding only: other bytes stay and match nothing */
    low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
  const char *base = low;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(low, aliases[i].alias) == 0) base = aliases[i].name;
  unsigned group = 0, bits = 0, m = 0;
  if (strncmp(base, "int4-g", 6) == 0) {
    if (parse_number(base + 6, strlen(base + 6), &group) < 0)
      return bad(name,
                 "int4 with groups is 'int4-g<N>', N >= 1 dimensions a scale (e.g. 'int4-g32')");
    base = "int4";
  } else if (strncmp(base, "rabitq", 6) == 0 && base[6]) {
    if (base[6] != '-' || parse_number(base + 7, strlen(base + 7), &bits) < 0)
      return bad(name, "rabitq precision is 'rabitq-<bits>' (e.g. 'rabitq-4')");
    base = "rabitq";
  } else if (strncmp(base, "pq", 2) == 0 && base[2]) {
    const char *x = base[2] == '-' ? strchr(base + 3, 'x') : NULL;
    if (!x || parse_number(base + 3, (size_t)(x - base - 3), &m) < 0 ||
        parse_number(x + 1, strlen(x + 1), &bits) < 0)
      return bad(name, "pq precision is 'pq-<m>x<bits>' (e.g. 'pq-48x4')");
    base = "pq";
  }
  vec_codec_id id;
  if (vec_codec_from_name(base, &id) != VEC_OK)
    return vec_fail(VEC_E_INVALID_ARG, -1, "unknown precision '%.100s'; %s", name, expected);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, 0);
  p.group_size = group;
  p.bits = bits;
  p.m = m;
  *out = p;
  return VEC_OK;
}

int vec_codec_params_name(const vec_codec_params *p, char *buf, size_t cap) {
  if (!p) return -1;
  const char *base = vec_codec_name(p->codec);
  switch (p->codec) {
  case VEC_CODEC_INT4:
    return p->group_size ? snprintf(buf, cap, "int4-g%u", p->group_size)
                         : snprintf(buf, cap, "int4");
  case VEC_CODEC_RABITQ:
    return p->bits ? snprintf(buf, cap, "rabitq-%u", p->bits) : snprintf(buf, cap, "rabitq");
  case VEC_CODEC_PQ:
    /* "pq-<m>x<bits>" needs both: a half-given pair has no name, so it is named by neither */
    return p->m && p->bits ? snprintf(buf, cap, "pq-%ux%u", p->m, p->bits)
                           : snprintf(buf, cap, "pq");
  default: return snprintf(buf, cap, "%s", base);
  }
}
