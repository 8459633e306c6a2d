/* opts.c: what compress and eval share so their flags and names cannot drift: the codec flags
 * (--codec/--profile, --group, --m, --bits, --seed, --center, --rounding), the one codec name
 * every command prints (the name --codec takes back), the output-is-input check and a JSON check
 * for --metadata. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>

#include "../common/platform.h"
#include "cli.h"

int cli_codec_label(const vec_codec *c, char *buf, size_t cap) {
  const vec_codec_params *p = vec_codec_get_params(c);
  /* The library's canonical name, except the per-dimension codecs, which the CLI shows by their
   * short aliases (uint8, uint4, uint6: each parses back to the same codec); a centred codec is
   * named with its flag, so the name given back makes the same codec. */
  const char *ctr = p->center ? " --center" : "";
  char name[64];
  if (p->codec == VEC_CODEC_UINT8_CAL)
    snprintf(name, sizeof name, "uint8");
  else if (p->codec == VEC_CODEC_UINT4_CAL)
    snprintf(name, sizeof name, "uint4");
  else if (p->codec == VEC_CODEC_UINT6_CAL)
    snprintf(name, sizeof name, "uint6");
  else if (vec_codec_params_name(p, name, sizeof name) < 0)
    name[0] = '\0';
  return snprintf(buf, cap, "%s%s", name, ctr);
}

int cli_codec_option(const char *cmd, int argc, char **argv, int *i, cli_codec_opts *o) {
  const char *a = argv[*i];
  int more = *i + 1 < argc;
  if (strcmp(a, "--center") == 0) {
    o->center = 1;
    return 1;
  }
  if (!more) return 0;
  const char *v = argv[*i + 1];
  if (strcmp(a, "--codec") == 0 || strcmp(a, "--profile") == 0) {
    if (o->name) {
      fprintf(stderr, "vectro %s: the codec is given twice ('%s', then %s '%s')\n", cmd, o->name, a,
              v);
      return -1;
    }
    o->name = v;
  } else if (strcmp(a, "--group") == 0) {
    if (cli_parse_size(v, &o->group) || o->group > 65536) {
      fprintf(stderr, "vectro %s: --group needs an integer in 0..65536\n", cmd);
      return -1;
    }
    o->have_group = 1;
  } else if (strcmp(a, "--m") == 0) {
    if (cli_parse_size(v, &o->m) || o->m == 0 || o->m > 65536) {
      fprintf(stderr, "vectro %s: --m needs a positive number of subspaces\n", cmd);
      return -1;
    }
  } else if (strcmp(a, "--bits") == 0) {
    if (cli_parse_size(v, &o->bits) || o->bits < 1 || o->bits > 8) {
      fprintf(stderr, "vectro %s: --bits needs an integer in 1..8\n", cmd);
      return -1;
    }
  } else if (strcmp(a, "--seed") == 0) {
    size_t sv;
    if (cli_parse_size(v, &sv)) {
      fprintf(stderr, "vectro %s: --seed needs a non-negative integer\n", cmd);
      return -1;
    }
    o->seed = sv, o->have_seed = 1;
  } else if (strcmp(a, "--rounding") == 0) {
    if (strcmp(v, "nearest") == 0)
      o->rounding = VEC_ROUND_NEAREST;
    else if (strcmp(v, "truncate") == 0)
      o->rounding = VEC_ROUND_TRUNCATE;
    else {
      fprintf(stderr, "vectro %s: --rounding is nearest or truncate, not '%s'\n", cmd, v);
      return -1;
    }
    o->have_rounding = 1;
  } else {
    return 0;
  }
  ++*i;
  return 1;
}

int cli_codec_resolve(const char *cmd, const cli_codec_opts *o, vec_codec_params *cp) {
  const char *name = o->name ? o->name : "int8";
  if (cli_codec_params(name, 1, cp)) {
    fprintf(stderr, "vectro %s: %s (see `vectro codecs`)\n", cmd, vec_last_error_message());
    return EXIT_USAGE;
  }
  vec_codec_id id = cp->codec;
  int is_float = id == VEC_CODEC_F16 || id == VEC_CODEC_BF16 || id == VEC_CODEC_INT16;
  const char *bad = o->m && id != VEC_CODEC_PQ ? "--m"
                    : (o->bits || o->have_seed) && id != VEC_CODEC_RABITQ && id != VEC_CODEC_PQ
                        ? "--bits and --seed"
                    : o->center && is_float                 ? "--center"
                    : o->have_group && id != VEC_CODEC_INT4 ? "--group"
                    : o->have_rounding && id != VEC_CODEC_UINT8_CAL && id != VEC_CODEC_INT8_CAL
                        ? "--rounding"
                        : NULL;
  if (bad) {
    static const char *const applies[] = {"pq", "rabitq and pq",
                                          ("binary, int8, int4, uint8, uint4, uint6, int8-cal, "
                                           "rabitq and pq"),
                                          "int4", "calibrated (uint8, int8-cal)"};
    int k = bad[2] == 'm' ? 0 : bad[2] == 'b' ? 1 : bad[2] == 'c' ? 2 : bad[2] == 'g' ? 3 : 4;
    fprintf(stderr, "vectro %s: %s applies to the %s codec%s only, not '%s'\n", cmd, bad,
            applies[k], k == 1 || k == 2 ? "s" : "", name);
    return EXIT_USAGE;
  }
  if (id == VEC_CODEC_PQ && o->bits && o->bits != 4 && o->bits != 8) {
    fprintf(stderr, "vectro %s: pq takes --bits 4 or 8\n", cmd);
    return EXIT_USAGE;
  }
  /* "rabitq-2", "pq-48x4" or "int4-g32" already name their parameters: a flag may repeat them,
   * not change them, as Codec("rabitq-2", bits=4) is an error in Python. */
  if (strchr(name, '-') || cp->center) { /* a profile names its bits too */
    const char *flag = o->bits && cp->bits && o->bits != cp->bits                      ? "bits"
                       : o->m && cp->m && o->m != cp->m                                ? "m"
                       : o->have_group && cp->group_size && o->group != cp->group_size ? "group"
                                                                                       : NULL;
    if (flag) {
      size_t v = flag[0] == 'b' ? o->bits : flag[0] == 'm' ? o->m : o->group;
      fprintf(stderr, "vectro %s: --%s %zu contradicts --codec %s\n", cmd, flag, v, name);
      return EXIT_USAGE;
    }
  }
  if (o->m) cp->m = (unsigned)o->m;
  if (o->bits) cp->bits = (unsigned)o->bits;
  if (o->have_group && !cp->group_size) cp->group_size = (unsigned)o->group;
  if (id == VEC_CODEC_PQ && !cp->bits) cp->bits = 8;
  if (id == VEC_CODEC_PQ && !cp->m) {
    fprintf(stderr, "vectro %s: pq needs its subspace count: --m M, or name it pq-MxB (pq-48x4)\n",
            cmd);
    return EXIT_USAGE;
  }
  cp->seed = (uint64_t)o->seed;
  cp->center = o->center || cp->center; /* a profile is centred by itself */
  cp->rounding = o->have_rounding ? o->rounding : VEC_ROUND_NEAREST;
  return 0;
}

int cli_same_file(const char *a, const char *b) { return vec_os_same_file(a, b); }

/* A JSON value per RFC 8259, with nesting bounded (so no reader's recursion can overflow on what
 * this writes) and strings checked to be UTF-8. Iterative: a stack of open brackets. */
#define JSON_MAX_DEPTH 512

typedef struct {
  const unsigned char *s;
  size_t i;
} jcur;

static void ws(jcur *c) {
  while (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' || c->s[c->i] == '\r')
    c->i++;
}

/* One UTF-8 sequence at c->i (not ASCII); 0 when malformed. */
static int utf8_seq(jcur *c) {
  const unsigned char *p = c->s + c->i;
  unsigned n = p[0] >= 0xF0 && p[0] <= 0xF4  ? 3
               : p[0] >= 0xE0                ? 2
               : p[0] >= 0xC2 && p[0] < 0xE0 ? 1
                                             : 0;
  if (!n || p[0] > 0xF4) return 0;
  unsigned cp = p[0] & (0x3F >> n);
  for (unsigned k = 1; k <= n; k++) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (p[k] & 0x3Fu);
  }
  if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) ||
      (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  c->i += n + 1;
  return 1;
}

static int string(jcur *c) {
  c->i++; /* the opening quote */
  for (;;) {
    unsigned char ch = c->s[c->i];
    if (ch == '"') return c->i++, 1;
    if (ch < 0x20) return 0; /* control characters (and the end) are not allowed raw */
    if (ch == '\\') {
      unsigned char e = c->s[c->i + 1];
      if (e == 'u') {
        for (int k = 2; k < 6; k++) {
          unsigned char h = c->s[c->i + k];
          if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
            return 0;
        }
        c->i += 6;
      } else if (e && strchr("\"\\/bfnrt", e)) {
        c->i += 2;
      } else {
        return 0;
      }
    } else if (ch < 0x80) {
      c->i++;
    } else if (!utf8_seq(c)) {
      return 0;
    }
  }
}

static int number(jcur *c) {
  const unsigned char *s = c->s;
  size_t i = c->i;
  if (s[i] == '-') i++;
  if (s[i] == '0')
    i++;
  else if (s[i] >= '1' && s[i] <= '9')
    while (s[i] >= '0' && s[i] <= '9') i++;
  else
    return 0;
  if (s[i] == '.') {
    if (!(s[++i] >= '0' && s[i] <= '9')) return 0;
    while (s[i] >= '0' && s[i] <= '9') i++;
  }
  if (s[i] == 'e' || s[i] == 'E') {
    if (s[++i] == '+' || s[i] == '-') i++;
    if (!(s[i] >= '0' && s[i] <= '9')) return 0;
    while (s[i] >= '0' && s[i] <= '9') i++;
  }
  c->i = i;
  return 1;
}

const char *cli_json_check(const char *text, size_t *where) {
  jcur c = {(const unsigned char *)text, 0};
  char stack[JSON_MAX_DEPTH];
  int depth = 0;
  const char *err = NULL;
  for (;;) {
    /* Expect a value. */
    ws(&c);
    unsigned char ch = c.s[c.i];
    if (ch == '{' || ch == '[') {
      if (depth == JSON_MAX_DEPTH) {
        err = "nested more than 512 levels deep";
        break;
      }
      stack[depth++] = (char)ch;
      c.i++;
      ws(&c);
      if (c.s[c.i] == (ch == '{' ? '}' : ']')) {
        c.i++, depth--;
        goto after_value;
      }
      if (ch == '{') {
        if (c.s[c.i] != '"' || !string(&c)) {
          err = "expected a string key";
          break;
        }
        ws(&c);
        if (c.s[c.i++] != ':') {
          err = "expected ':'";
          break;
        }
      }
      continue;
    } else if (ch == '"') {
      if (!string(&c)) {
        err = "bad string (control character, bad escape or not UTF-8)";
        break;
      }
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      if (!number(&c)) {
        err = "bad number";
        break;
      }
    } else if (strncmp((const char *)c.s + c.i, "true", 4) == 0) {
      c.i += 4;
    } else if (strncmp((const char *)c.s + c.i, "false", 5) == 0) {
      c.i += 5;
    } else if (strncmp((const char *)c.s + c.i, "null", 4) == 0) {
      c.i += 4;
    } else {
      err = ch ? "expected a value" : "unexpected end";
      break;
    }
  after_value:
    ws(&c);
    if (depth == 0) {
      if (c.s[c.i]) err = "text after the value";
      break;
    }
    char open = stack[depth - 1];
    if (c.s[c.i] == ',') {
      c.i++;
      if (open == '{') {
        ws(&c);
        if (c.s[c.i] != '"' || !string(&c)) {
          err = "expected a string key";
          break;
        }
        ws(&c);
        if (c.s[c.i++] != ':') {
          err = "expected ':'";
          break;
        }
      }
      continue;
    }
    if (c.s[c.i] == (open == '{' ? '}' : ']')) {
      c.i++, depth--;
      goto after_value;
    }
    err = open == '{' ? "expected ',' or '}'" : "expected ',' or ']'";
    break;
  }
  *where = c.i;
  return err;
}
