/* npy.c: a strict reader of NumPy .npy files (format versions 1-3) holding float16/32/64 arrays.
 * The header is untrusted text: it is parsed with explicit bounds, and the shape it promises must
 * match the bytes the file actually holds, so nothing is ever read past the end. */
#include "npy.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finds `key` ('descr' etc., quoted) in the header dict text and returns a pointer just past the
 * colon that follows it, or NULL. */
static const char *find_key(const char *h, size_t len, const char *key) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl + 2 <= len; i++) {
    if ((h[i] == '\'' || h[i] == '"') && memcmp(h + i + 1, key, kl) == 0 && h[i + 1 + kl] == h[i]) {
      size_t j = i + kl + 2;
      while (j < len && h[j] == ' ') j++;
      if (j < len && h[j] == ':') return h + j + 1;
      return NULL;
    }
  }
  return NULL;
}

static const char *skip_spaces(const char *p, const char *end) {
  while (p < end && *p == ' ') p++;
  return p;
}

/* Parses an unsigned decimal at p; fails on overflow past 2^62 or no digits. */
static const char *parse_uint(const char *p, const char *end, uint64_t *v) {
  uint64_t x = 0;
  const char *s = p;
  while (p < end && *p >= '0' && *p <= '9') {
    if (x > ((uint64_t)1 << 62) / 10) return NULL;
    x = x * 10 + (uint64_t)(*p - '0');
    p++;
  }
  if (p == s) return NULL;
  *v = x;
  return p;
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return vec_u2f_pub(sign | 0x7f800000u | (man << 13)); /* Inf / NaN */
  if (exp == 0) {
    float f = ldexpf((float)man, -24); /* subnormal or zero: exact */
    return sign ? -f : f;
  }
  return vec_u2f_pub(sign | ((exp + 112) << 23) | (man << 13));
}

int vec_npy_parse_f32(const unsigned char *buf, size_t size, const char *name, float **data,
                      size_t *n, size_t *d) {
  *data = NULL;
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
    return vec_fail(VEC_E_FORMAT, -1, "%s: not a .npy file (bad magic)", name);
  unsigned major = buf[6];
  size_t hlen, hoff;
  if (major == 1) {
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    hoff = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    hoff = 12;
  } else {
    return vec_fail(VEC_E_VERSION, -1, "%s: .npy format version %u is not supported (1-3 are)",
                    name, major);
  }
  if (hlen > size - hoff) return vec_fail(VEC_E_FORMAT, -1, "%s: truncated .npy header", name);
  const char *h = (const char *)buf + hoff, *hend = h + hlen;

  const char *p = find_key(h, hlen, "descr");
  if (!p) return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header has no 'descr'", name);
  p = skip_spaces(p, hend);
  if (hend - p < 5 || (*p != '\'' && *p != '"'))
    return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'descr' in .npy header", name);
  char q = *p++;
  const char *e = memchr(p, q, (size_t)(hend - p));
  if (!e) return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'descr' in .npy header", name);
  size_t dl = (size_t)(e - p);
  size_t isz;
  if (dl == 3 && (p[0] == '<' || p[0] == '|' || p[0] == '=') && p[1] == 'f' &&
      (p[2] == '2' || p[2] == '4' || p[2] == '8')) {
    isz = (size_t)(p[2] - '0');
  } else {
    return vec_fail(VEC_E_UNSUPPORTED, -1,
                    "%s: dtype '%.*s' is not supported: need little-endian float16, float32 or "
                    "float64 ('<f2', '<f4', '<f8')",
                    name, (int)(dl < 20 ? dl : 20), p);
  }

  p = find_key(h, hlen, "fortran_order");
  if (!p) return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header has no 'fortran_order'", name);
  p = skip_spaces(p, hend);
  int fortran;
  if (hend - p >= 4 && memcmp(p, "True", 4) == 0)
    fortran = 1;
  else if (hend - p >= 5 && memcmp(p, "False", 5) == 0)
    fortran = 0;
  else
    return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'fortran_order' in .npy header", name);

  p = find_key(h, hlen, "shape");
  if (!p) return vec_fail(VEC_E_FORMAT, -1, "%s: .npy header has no 'shape'", name);
  p = skip_spaces(p, hend);
  if (p >= hend || *p != '(')
    return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'shape' in .npy header", name);
  p++;
  uint64_t dims[3];
  int nd = 0;
  for (;;) {
    p = skip_spaces(p, hend);
    if (p < hend && *p == ')') break;
    if (nd == 3) return vec_fail(VEC_E_FORMAT, -1, "%s: array has more than 2 dimensions", name);
    p = parse_uint(p, hend, &dims[nd]);
    if (!p) return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'shape' in .npy header", name);
    nd++;
    p = skip_spaces(p, hend);
    if (p < hend && *p == ',')
      p++;
    else if (!(p < hend && *p == ')'))
      return vec_fail(VEC_E_FORMAT, -1, "%s: bad 'shape' in .npy header", name);
  }
  if (nd != 1 && nd != 2)
    return vec_fail(VEC_E_FORMAT, -1, "%s: need a 1-D or 2-D array of embeddings, got %d-D", name,
                    nd);
  uint64_t rows = nd == 2 ? dims[0] : 1, cols = nd == 2 ? dims[1] : dims[0];
  if (cols == 0 || cols > ((uint64_t)1 << 28))
    return vec_fail(VEC_E_FORMAT, -1, "%s: absurd dimension %llu", name, (unsigned long long)cols);
  size_t count, bytes;
  if (rows > SIZE_MAX || !vec_mul_ok((size_t)rows, (size_t)cols, &count) ||
      !vec_mul_ok(count, isz, &bytes) || !vec_mul_ok(count, sizeof(float), &(size_t){0}))
    return vec_fail(VEC_E_FORMAT, -1, "%s: shape (%llu, %llu) is too large", name,
                    (unsigned long long)rows, (unsigned long long)cols);
  size_t doff = hoff + hlen;
  if (size - doff != bytes)
    return vec_fail(
        VEC_E_FORMAT, -1,
        "%s: the header promises %zu bytes of data but the file holds %zu (truncated or "
        "corrupt)",
        name, bytes, size - doff);
  float *out = malloc(count ? count * sizeof(float) : 1);
  if (!out) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu floats", name, count);
  const unsigned char *src = buf + doff;
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < cols; c++) {
      size_t k = fortran ? c * rows + r : r * cols + c; /* element (r, c) in file order */
      const unsigned char *s = src + k * isz;
      float v;
      if (isz == 4) {
        v = vec_u2f_pub((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 |
                        (uint32_t)s[3] << 24);
      } else if (isz == 2) {
        v = half_to_float((uint16_t)(s[0] | s[1] << 8));
      } else {
        uint64_t u = 0;
        for (int b = 7; b >= 0; b--) u = u << 8 | s[b];
        double dv;
        memcpy(&dv, &u, sizeof dv);
        v = (float)dv; /* beyond float32 becomes Inf, which the codecs report by row */
      }
      out[r * cols + c] = v;
    }
  }
  *data = out;
  *n = (size_t)rows;
  *d = (size_t)cols;
  return VEC_OK;
}

int vec_npy_read_f32(const char *path, float **data, size_t *n, size_t *d) {
  *data = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: %s", path, strerror(errno));
  unsigned char *buf = NULL;
  size_t cap = 0, size = 0;
  for (;;) { /* read to the end: works for pipes too, and never trusts a size from stat */
    if (size == cap) {
      size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", path);
      }
      buf = nb, cap = ncap;
    }
    size_t got = fread(buf + size, 1, cap - size, f);
    size += got;
    if (got == 0) break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: read error", path);
  }
  int rc = vec_npy_parse_f32(buf, size, path, data, n, d);
  free(buf);
  return rc;
}
