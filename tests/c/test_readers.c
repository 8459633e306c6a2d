/* test_readers.c: vec_reader over .npy (files written by NumPy, versions 1-3, float16/32/64, C and
 * Fortran order, 1-D) and .fvecs/.bvecs/.ivecs, in chunks of every size and with seeks; every
 * malformed input refused with a clear error; and the .npy writer, byte for byte np.save.
 * Files made here come from a tiny writer of this file's own, independent of the library's. */
#define _POSIX_C_SOURCE  200809L
#define _DARWIN_C_SOURCE /* macOS declares mkdtemp only with this beside _POSIX_C_SOURCE */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectro.h"
#include "vtest.h"

#include "../../src/io/npy.h"

/* ------------------------------------------------------------------------------------------ */
/* Files: a private temporary directory, and the committed data next to this source file.     */

static char tmp_root[256];

static const char *tmp_dir(void) {
  if (!tmp_root[0]) {
    const char *t = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/vectro-readers-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_root)) tmp_root[0] = '\0';
  }
  return tmp_root;
}

static void tmp_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmp_dir(), name);
}

static void data_path(char *out, size_t cap, const char *name) {
  const char *env = getenv("VECTRO_TEST_DATA");
  if (env && *env) {
    snprintf(out, cap, "%s/%s", env, name);
    return;
  }
  /* __FILE__ is .../tests/c/test_readers.c (CMake compiles by absolute path) */
  const char *f = __FILE__;
  size_t n = strlen(f), cut = n;
  int slashes = 0;
  while (cut > 0 && slashes < 2)
    if (f[--cut] == '/') slashes++;
  snprintf(out, cap, "%.*s/data/%s", (int)cut, f, name);
}

static int write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = n ? fwrite(p, 1, n, f) : 0;
  return fclose(f) == 0 && w == n ? 0 : -1;
}

/* The whole file (malloc'd, free it), or NULL. */
static unsigned char *read_bytes(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  unsigned char *b = malloc(cap);
  for (;;) {
    if (len == cap) b = realloc(b, cap *= 2);
    size_t got = fread(b + len, 1, cap - len, f);
    if (!got) break;
    len += got;
  }
  fclose(f);
  *n = len;
  return b;
}

/* Entries of the temporary directory whose names start with prefix. */
static int count_entries(const char *prefix) {
  DIR *d = opendir(tmp_dir());
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  if (d) closedir(d);
  return n;
}

static void remove_tmp(const char *name) {
  char p[512];
  tmp_path(p, sizeof p, name);
  remove(p);
}

/* A .npy of the given format version: magic, header length, the dict text padded with spaces to a
 * multiple of 64 bytes and ended with '\n' (as the format asks), then the data bytes. */
static size_t make_npy(unsigned char *out, int major, const char *dict, const void *data,
                       size_t dlen) {
  size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
  size_t total = pre + dl + 1, pad = (64 - total % 64) % 64, hlen = dl + pad + 1;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)major, out[7] = 0;
  for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(out + pre, dict, dl);
  memset(out + pre + dl, ' ', pad);
  out[pre + hlen - 1] = '\n';
  if (dlen) memcpy(out + pre + hlen, data, dlen);
  return pre + hlen + dlen;
}

static void put_f32(unsigned char *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static void put_i32(unsigned char *p, int32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)((uint32_t)v >> (8 * i));
}

/* Exact in float16, float32 and float64 alike, and different from row to row and column to
 * column. */
static float gen(uint64_t i, uint64_t j) {
  return (float)((i * 131 + j * 7) % 1000) * 0.25f - 100.0f;
}

static uint16_t f32_to_f16_exact(float f) { /* only for gen()'s values: normal, exact */
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) == 0) return (uint16_t)(u >> 16);
  uint32_t sign = (u >> 16) & 0x8000u, exp = ((u >> 23) & 0xff) - 112, man = (u >> 13) & 0x3ff;
  return (uint16_t)(sign | exp << 10 | man);
}

/* Writes rows x cols of gen() as element size isz (2, 4, 8), C or Fortran order. */
static unsigned char *gen_data(uint64_t rows, uint64_t cols, int isz, int fortran, size_t *len) {
  *len = (size_t)(rows * cols * (uint64_t)isz);
  unsigned char *b = malloc(*len ? *len : 1);
  for (uint64_t i = 0; i < rows; i++)
    for (uint64_t j = 0; j < cols; j++) {
      unsigned char *p = b + (fortran ? j * rows + i : i * cols + j) * (uint64_t)isz;
      float v = gen(i, j);
      if (isz == 4) {
        put_f32(p, v);
      } else if (isz == 2) {
        uint16_t h = f32_to_f16_exact(v);
        p[0] = (unsigned char)h, p[1] = (unsigned char)(h >> 8);
      } else {
        double dv = v;
        uint64_t u;
        memcpy(&u, &dv, 8);
        for (int k = 0; k < 8; k++) p[k] = (unsigned char)(u >> (8 * k));
      }
    }
  return b;
}

/* Reads the whole file in chunks of `chunk` rows into a fresh array (NULL on any failure). */
static float *read_all(const char *path, size_t chunk, size_t *rows, size_t *dim) {
  vec_reader *r;
  if (vec_reader_open(path, &r) != VEC_OK) return NULL;
  size_t d = vec_reader_dim(r), n = (size_t)vec_reader_count(r);
  if (chunk > n + 5) chunk = n + 5; /* still asks for more than is left */
  float *all = malloc((n + chunk) * d * sizeof(float)), *tmp = malloc(chunk * d * sizeof(float));
  size_t have = 0, got;
  int rc;
  while ((rc = vec_reader_read(r, tmp, chunk, &got)) == VEC_OK && got) {
    if (have + got > n) break;
    memcpy(all + have * d, tmp, got * d * sizeof(float));
    have += got;
  }
  vec_reader_close(r);
  free(tmp);
  if (rc != VEC_OK || have != n) {
    free(all);
    return NULL;
  }
  *rows = n;
  *dim = d;
  return all;
}

/* ------------------------------------------------------------------------------------------ */
/* Files written by NumPy: values must be NumPy's own astype(float32), bit for bit.           */

static void numpy_files_in_chunks(void) {
  const struct {
    const char *name;
    size_t dim;
  } files[] = {{"v1_f2_c", 5}, {"v1_f4_c", 5}, {"v1_f8_c", 5}, {"v1_f2_f", 5},
               {"v1_f4_f", 5}, {"v1_f8_f", 5}, {"v1_1d", 11},  {"v2_f4_c", 3},
               {"v3_f2_f", 4}, {"small", 4}, /* .fvecs */
               {"small", 3},                 /* .bvecs */
               {"small", 3}};                /* .ivecs */
  const char *vecs_ext[] = {"fvecs", "bvecs", "ivecs"};
  for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
    char path[512], exp_path[512], name[64];
    if (f < 9) {
      snprintf(name, sizeof name, "%s.npy", files[f].name);
      data_path(exp_path, sizeof exp_path, files[f].name);
      strcat(exp_path, ".f32");
    } else {
      snprintf(name, sizeof name, "small.%s", vecs_ext[f - 9]);
      char e[64];
      snprintf(e, sizeof e, "small_%s.f32", vecs_ext[f - 9]);
      data_path(exp_path, sizeof exp_path, e);
    }
    data_path(path, sizeof path, name);
    size_t elen;
    unsigned char *expect = read_bytes(exp_path, &elen);
    CHECKF(expect != NULL, "missing %s", exp_path);
    size_t n_exp = elen / 4 / files[f].dim;
    const size_t chunks[] = {1, 7, n_exp, n_exp + 5};
    for (size_t c = 0; c < 4; c++) {
      size_t n, d;
      float *x = read_all(path, chunks[c] ? chunks[c] : 1, &n, &d);
      CHECKF(x != NULL, "%s: %s", name, vec_last_error_message());
      int same = n == n_exp && d == files[f].dim && memcmp(x, expect, elen) == 0;
      free(x);
      CHECKF(same, "%s read in chunks of %zu differs from NumPy's values", name, chunks[c]);
    }
    if (f < 9) { /* the whole-file reader the CLI uses agrees */
      float *x;
      size_t n, d;
      CHECK(vec_npy_read_f32(path, &x, &n, &d) == VEC_OK);
      int same = n == n_exp && d == files[f].dim && memcmp(x, expect, elen) == 0;
      free(x);
      CHECK(same);
    }
    free(expect);
  }
}

static void seek_anywhere(void) {
  const char *names[] = {"v1_f4_f", "v1_f2_c", "v1_f8_f", "small_fvecs"};
  const char *files[] = {"v1_f4_f.npy", "v1_f2_c.npy", "v1_f8_f.npy", "small.fvecs"};
  for (size_t f = 0; f < 4; f++) {
    char path[512], exp_path[512], e[64];
    data_path(path, sizeof path, files[f]);
    snprintf(e, sizeof e, "%s.f32", names[f]);
    data_path(exp_path, sizeof exp_path, e);
    size_t elen;
    unsigned char *expect = read_bytes(exp_path, &elen);
    CHECK(expect != NULL);
    vec_reader *r;
    CHECK(vec_reader_open(path, &r) == VEC_OK);
    size_t d = vec_reader_dim(r), n = (size_t)vec_reader_count(r);
    uint64_t seed = 5 + f;
    float buf[3 * 8];
    for (int t = 0; t < 40; t++) {
      size_t row = (size_t)(vt_next(&seed) % (n + 1)), got;
      CHECK(vec_reader_seek(r, row) == VEC_OK);
      CHECK(vec_reader_read(r, buf, 3, &got) == VEC_OK);
      size_t want = n - row < 3 ? n - row : 3;
      CHECK(got == want);
      CHECK(memcmp(buf, expect + row * d * 4, got * d * 4) == 0);
    }
    size_t got = 9;
    CHECK(vec_reader_seek(r, n) == VEC_OK);
    CHECK(vec_reader_read(r, buf, 3, &got) == VEC_OK && got == 0);
    CHECK(vec_reader_seek(r, n + 1) == VEC_E_INVALID_ARG);
    CHECK(vec_reader_read(r, buf, 3, &got) == VEC_OK && got == 0); /* still at the end */
    vec_reader_close(r);
    free(expect);
  }
}

/* Rows bigger than the reader's buffer, many columns gathered in Fortran order, f16/f64 converted
 * in pieces, and every chunk size landing across block and buffer boundaries. */
static void large_files(void) {
  const struct {
    uint64_t rows, cols;
    int isz, fortran;
  } cases[] = {{3, 300000, 4, 0}, {2, 600000, 2, 0}, {300000, 2, 4, 1},
               {2000, 600, 4, 1}, {5, 50000, 8, 1},  {70000, 3, 8, 0}};
  const char *descr[] = {"", "", "<f2", "", "<f4", "", "", "", "<f8"};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t dlen;
    unsigned char *data =
        gen_data(cases[k].rows, cases[k].cols, cases[k].isz, cases[k].fortran, &dlen);
    char dict[160], path[512];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%llu, %llu), }",
             descr[cases[k].isz], cases[k].fortran ? "True" : "False",
             (unsigned long long)cases[k].rows, (unsigned long long)cases[k].cols);
    unsigned char *file = malloc(dlen + 256);
    size_t flen = make_npy(file, 1, dict, data, dlen);
    tmp_path(path, sizeof path, "large.npy");
    CHECK(write_bytes(path, file, flen) == 0);
    free(file);
    free(data);
    const size_t chunks[] = {1, 7, 1000, 1 << 20};
    for (size_t c = 0; c < 4; c++) {
      if (chunks[c] == 1 && cases[k].rows > 10000) continue; /* a second each: enough with 7 */
      size_t n, d;
      float *x = read_all(path, chunks[c], &n, &d);
      CHECKF(x != NULL, "case %zu: %s", k, vec_last_error_message());
      int ok = n == cases[k].rows && d == cases[k].cols;
      for (size_t i = 0; ok && i < n; i++)
        for (size_t j = 0; ok && j < d; j++) ok = x[i * d + j] == gen(i, j);
      free(x);
      CHECKF(ok, "case %zu, chunks of %zu: wrong values", k, chunks[c]);
    }
  }
  /* .fvecs rows larger than the buffer */
  size_t dim = 300000, rowb = 4 + 4 * dim;
  unsigned char *f = malloc(3 * rowb);
  for (size_t i = 0; i < 3; i++) {
    put_i32(f + i * rowb, (int32_t)dim);
    for (size_t j = 0; j < dim; j++) put_f32(f + i * rowb + 4 + 4 * j, gen(i, j));
  }
  char path[512];
  tmp_path(path, sizeof path, "large.fvecs");
  CHECK(write_bytes(path, f, 3 * rowb) == 0);
  free(f);
  size_t n, d;
  float *x = read_all(path, 2, &n, &d);
  CHECK(x != NULL && n == 3 && d == dim);
  int ok = 1;
  for (size_t i = 0; ok && i < n; i++)
    for (size_t j = 0; ok && j < d; j++) ok = x[i * d + j] == gen(i, j);
  free(x);
  CHECK(ok);
  remove(path);
  remove_tmp("large.npy");
}

/* ------------------------------------------------------------------------------------------ */
/* Malformed .npy headers: each refused with its own code and a message that says why.        */

static void npy_bad_headers(void) {
  const struct {
    const char *dict;
    size_t data_bytes;
    int rc;
    const char *says;
  } cases[] = {
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, VEC_E_UNSUPPORTED,
       "'>f4'"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24, VEC_E_UNSUPPORTED,
       "dtype"},
      {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", 48, VEC_E_UNSUPPORTED, "'|O'"},
      {"{'descr': '<f4x', 'fortran_order': False, 'shape': (2, 3), }", 24, VEC_E_UNSUPPORTED,
       "dtype"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, VEC_E_UNSUPPORTED,
       "structured"},
      {"{'descr': 4, 'fortran_order': False, 'shape': (2, 3), }", 24, VEC_E_FORMAT, "descr"},
      {"{'fortran_order': False, 'shape': (2, 3), }", 24, VEC_E_FORMAT, "lacks 'descr'"},
      {"{'descr': '<f4', 'shape': (2, 3), }", 24, VEC_E_FORMAT, "lacks 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False, }", 24, VEC_E_FORMAT, "lacks 'shape'"},
      {"{}", 0, VEC_E_FORMAT, "lacks"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5), }", 240, VEC_E_FORMAT,
       "more than 2"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, VEC_E_FORMAT, "0-D"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0,
       VEC_E_FORMAT, "too large"},
      {"{'descr': '<f2', 'fortran_order': False, 'shape': (4611686018427387904, 1), }", 0,
       VEC_E_FORMAT, "promises"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 4), }", 0,
       VEC_E_FORMAT, "beyond 2^62"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }", 0, VEC_E_FORMAT, "negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -4), }", 0, VEC_E_FORMAT, "negative"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }", 0, VEC_E_FORMAT,
       "dimension 0"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12, VEC_E_FORMAT, "tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,,), }", 12, VEC_E_FORMAT, "tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4.0), }", 48, VEC_E_FORMAT, "tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (03, 4), }", 48, VEC_E_FORMAT, "tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [3, 4], }", 48, VEC_E_FORMAT, "tuple"},
      {"{'descr': '<f4', 'fortran_order': 'False', 'shape': (3, 4), }", 48, VEC_E_FORMAT,
       "fortran_order"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (3, 4), }", 48, VEC_E_FORMAT,
       "fortran_order"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 48,
       VEC_E_FORMAT, "repeated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'x': 1}", 48, VEC_E_FORMAT,
       "'x'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } x", 48, VEC_E_FORMAT, "junk"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)", 48, VEC_E_FORMAT, "malformed"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (3, 4)}", 48, VEC_E_FORMAT, "malformed"},
      {"{descr: '<f4', 'fortran_order': False, 'shape': (3, 4)}", 48, VEC_E_FORMAT, "malformed"},
      {"['descr', '<f4']", 48, VEC_E_FORMAT, "not a dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 47, VEC_E_FORMAT,
       "truncated"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", 49, VEC_E_FORMAT,
       "trailing bytes"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", 4, VEC_E_FORMAT,
       "trailing bytes"},
  };
  unsigned char data[512] = {0}, file[1024];
  char path[512];
  tmp_path(path, sizeof path, "bad.npy");
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    size_t len = make_npy(file, 1, cases[k].dict, data, cases[k].data_bytes);
    CHECK(write_bytes(path, file, len) == 0);
    vec_reader *r = (vec_reader *)1;
    int rc = vec_reader_open(path, &r);
    CHECKF(rc == cases[k].rc && r == NULL, "case %zu (%s): rc %d, want %d", k, cases[k].dict, rc,
           cases[k].rc);
    CHECKF(strstr(vec_last_error_message(), cases[k].says) != NULL &&
               strstr(vec_last_error_message(), path) != NULL,
           "case %zu: message \"%s\" should say \"%s\"", k, vec_last_error_message(),
           cases[k].says);
    float *x = (float *)1;
    size_t n, d;
    CHECKF(vec_npy_parse_f32(file, len, "mem", &x, &n, &d) == cases[k].rc && x == NULL,
           "case %zu: the in-memory parser disagrees", k);
  }
  /* Versions other than 1.0, 2.0, 3.0 */
  size_t len =
      make_npy(file, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", data, 4);
  const unsigned char versions[][2] = {{0, 0}, {4, 0}, {1, 1}, {2, 5}, {255, 0}};
  for (size_t v = 0; v < 5; v++) {
    file[6] = versions[v][0], file[7] = versions[v][1];
    CHECK(write_bytes(path, file, len) == 0);
    vec_reader *r;
    CHECK(vec_reader_open(path, &r) == VEC_E_VERSION);
    CHECK(strstr(vec_last_error_message(), "version") != NULL);
  }
  /* A header length past the end of the file, and one beyond the reader's limit */
  file[6] = 2, file[7] = 0;
  const unsigned char lens[][4] = {{0xff, 0xff, 0xff, 0xff}, {0, 0, 0x20, 0}};
  for (size_t v = 0; v < 2; v++) {
    memcpy(file + 8, lens[v], 4);
    CHECK(write_bytes(path, file, len) == 0);
    vec_reader *r;
    CHECK(vec_reader_open(path, &r) == VEC_E_FORMAT);
    CHECK(strstr(vec_last_error_message(), "header") != NULL);
  }
  remove(path);
}

/* What a Python literal parser accepts is accepted: quotes, spacing, trailing commas, 'L'. */
static void npy_header_variants(void) {
  const char *ok[] = {
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
      "{ 'descr' :'<f4',\t'fortran_order':False ,\n'shape':( 2 ,3 , ) , }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
      "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
  };
  float vals[6];
  unsigned char data[24], file[512];
  for (int i = 0; i < 6; i++) vals[i] = (float)i + 0.5f, put_f32(data + 4 * i, vals[i]);
  char path[512];
  tmp_path(path, sizeof path, "variant.npy");
  for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
    size_t len = make_npy(file, k % 2 ? 3 : 1, ok[k], data, sizeof data);
    CHECK(write_bytes(path, file, len) == 0);
    size_t n, d;
    float *x = read_all(path, 4, &n, &d);
    CHECKF(x != NULL, "variant %zu: %s", k, vec_last_error_message());
    int is_1d = k == 5, fortran = k == 4;
    CHECK(n == (is_1d ? 1u : 2u) && d == (is_1d ? 6u : 3u));
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) CHECK(x[i * d + j] == vals[fortran ? j * n + i : i * d + j]);
    free(x);
  }
  remove(path);
}

/* Every prefix of a valid file is refused (and the whole file with bytes added), for both
 * readers of .npy; the file itself reads. */
static void npy_truncated_at_every_length(void) {
  const struct {
    int major, isz, fortran;
    const char *dict;
  } files[] = {{1, 4, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"},
               {2, 8, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 4), }"},
               {3, 2, 0, "{'descr': '<f2', 'fortran_order': False, 'shape': (12,), }"}};
  char path[512];
  tmp_path(path, sizeof path, "trunc.npy");
  for (size_t f = 0; f < 3; f++) {
    size_t dlen;
    unsigned char *data = gen_data(3, 4, files[f].isz, files[f].fortran, &dlen), file[512];
    size_t len = make_npy(file, files[f].major, files[f].dict, data, dlen);
    free(data);
    for (size_t cut = 0; cut <= len + 3; cut++) {
      if (cut > len) file[cut - 1] = 0;
      CHECK(write_bytes(path, file, cut) == 0);
      vec_reader *r = NULL;
      int rc = vec_reader_open(path, &r);
      float *x = NULL;
      size_t n, d;
      int prc = vec_npy_parse_f32(file, cut, "mem", &x, &n, &d);
      free(x);
      vec_reader_close(r);
      if (cut == len) {
        CHECKF(rc == VEC_OK && prc == VEC_OK, "file %zu: the whole file fails", f);
      } else {
        CHECKF(rc == VEC_E_FORMAT && prc == VEC_E_FORMAT,
               "file %zu cut at %zu of %zu: rc %d / %d (%s)", f, cut, len, rc, prc,
               vec_last_error_message());
      }
    }
  }
  remove(path);
}

/* ------------------------------------------------------------------------------------------ */
/* *vecs                                                                                      */

/* Element j of row i in the *vecs files made here (bvecs: 0..255). */
static float vecs_val(int esz, size_t i, size_t j) {
  return esz == 1 ? (float)((i * 131 + j * 7) % 256) : gen(i, j);
}

/* rows of dim d (row `bad_row` claims dim `bad_dim`), element j of row i vecs_val(i, j). */
static size_t make_vecs(unsigned char *out, int esz, size_t rows, int32_t d, size_t bad_row,
                        int32_t bad_dim) {
  size_t off = 0;
  for (size_t i = 0; i < rows; i++) {
    put_i32(out + off, i == bad_row ? bad_dim : d);
    off += 4;
    for (int32_t j = 0; j < d; j++, off += (size_t)esz) {
      float v = vecs_val(esz, i, (size_t)j);
      if (esz == 1)
        out[off] = (unsigned char)v;
      else
        put_f32(out + off, v);
    }
  }
  return off;
}

static void vecs_rows_and_dims(void) {
  unsigned char file[4096];
  char path[512];
  const char *exts[] = {"fvecs", "bvecs", "FVECS"};
  for (size_t e = 0; e < 3; e++) {
    int esz = e == 1 ? 1 : 4;
    snprintf(path, sizeof path, "%s/rows.%s", tmp_dir(), exts[e]);
    size_t rowb = 4 + 5 * (size_t)esz;
    size_t len = make_vecs(file, esz, 9, 5, SIZE_MAX, 0);
    /* every prefix: whole rows read, anything else refused naming the truncated row */
    for (size_t cut = 0; cut <= len + 2; cut++) {
      if (cut > len) file[cut - 1] = 0;
      CHECK(write_bytes(path, file, cut) == 0);
      vec_reader *r = NULL;
      int rc = vec_reader_open(path, &r);
      if (cut > 0 && cut % rowb == 0 && cut <= len) {
        CHECKF(rc == VEC_OK, "cut %zu: %s", cut, vec_last_error_message());
        CHECK(vec_reader_count(r) == cut / rowb && vec_reader_dim(r) == 5);
        float x[9 * 5];
        size_t got;
        CHECK(vec_reader_read(r, x, 9, &got) == VEC_OK && got == cut / rowb);
        for (size_t i = 0; i < got; i++)
          for (size_t j = 0; j < 5; j++) CHECK(x[i * 5 + j] == vecs_val(esz, i, j));
        vec_reader_close(r);
      } else {
        CHECKF(rc == VEC_E_FORMAT && r == NULL, "cut %zu: rc %d", cut, rc);
        if (cut) {
          CHECK(vec_last_error_row() == (long long)(cut / rowb));
          CHECK(strstr(vec_last_error_message(), "truncated") != NULL);
        } else {
          CHECK(strstr(vec_last_error_message(), "empty") != NULL);
        }
      }
    }
    /* a row in the middle with another dim: found when read, naming the row */
    len = make_vecs(file, esz, 9, 5, 4, 6);
    CHECK(write_bytes(path, file, len) == 0);
    vec_reader *r;
    CHECK(vec_reader_open(path, &r) == VEC_OK);
    float x[9 * 5];
    size_t got = 0;
    CHECK(vec_reader_read(r, x, 3, &got) == VEC_OK && got == 3);
    CHECK(vec_reader_read(r, x, 3, &got) == VEC_E_FORMAT && got == 0);
    CHECK(vec_last_error_row() == 4 && strstr(vec_last_error_message(), "row 4") != NULL);
    CHECK(vec_reader_seek(r, 5) == VEC_OK);
    CHECK(vec_reader_read(r, x, 9, &got) == VEC_OK && got == 4); /* past it all is well */
    vec_reader_close(r);
    /* the last row's or the first's: found at open */
    const size_t bad_rows[] = {8, 0, 0, 0};
    const int32_t bad_dims[] = {4, 0, -5, 1 << 29};
    for (size_t b = 0; b < 4; b++) {
      len = make_vecs(file, esz, 9, 5, bad_rows[b], bad_dims[b]);
      CHECK(write_bytes(path, file, len) == 0);
      CHECK(vec_reader_open(path, &r) == VEC_E_FORMAT);
      CHECK(vec_last_error_row() == (long long)bad_rows[b]);
      CHECK(strstr(vec_last_error_message(), "dimension") != NULL);
    }
    remove(path);
  }
  /* .ivecs: int32 values to float, rounding beyond 2^24 */
  const int32_t iv[] = {3, 16777217, -16777217, 2147483647, 3, -1, 0, 5};
  unsigned char b[32];
  for (int i = 0; i < 8; i++) put_i32(b + 4 * i, iv[i]);
  snprintf(path, sizeof path, "%s/ints.ivecs", tmp_dir());
  CHECK(write_bytes(path, b, sizeof b) == 0);
  size_t n, d;
  float *x = read_all(path, 1, &n, &d);
  CHECK(x != NULL && n == 2 && d == 3);
  int ok = x[0] == 16777216.0f && x[1] == -16777216.0f && x[2] == 2147483648.0f && x[3] == -1.0f &&
           x[4] == 0.0f && x[5] == 5.0f;
  free(x);
  CHECK(ok);
  remove(path);
}

/* ------------------------------------------------------------------------------------------ */
/* Files that are missing, empty, directories, not ours, or shrink while being read.          */

static void open_errors(void) {
  char path[512];
  vec_reader *r = (vec_reader *)1;
  tmp_path(path, sizeof path, "no-such-file.npy");
  CHECK(vec_reader_open(path, &r) == VEC_E_IO && r == NULL);
  CHECK(strstr(vec_last_error_message(), path) != NULL);
  CHECK(strstr(vec_last_error_message(), strerror(ENOENT)) != NULL);
  CHECK(vec_reader_open(tmp_dir(), &r) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), strerror(EISDIR)) != NULL);
  tmp_path(path, sizeof path, "dir.fvecs");
  CHECK(mkdir(path, 0700) == 0);
  CHECK(vec_reader_open(path, &r) == VEC_E_IO);
  rmdir(path);
  const char *empties[] = {"empty.npy", "empty.fvecs", "empty.bvecs", "empty.ivecs", "empty"};
  for (size_t k = 0; k < 5; k++) {
    tmp_path(path, sizeof path, empties[k]);
    CHECK(write_bytes(path, "", 0) == 0);
    CHECK(vec_reader_open(path, &r) == VEC_E_FORMAT);
    CHECK(strstr(vec_last_error_message(), "empty") != NULL);
    remove(path);
  }
  tmp_path(path, sizeof path, "text.npy");
  CHECK(write_bytes(path, "hello, world\n", 13) == 0);
  CHECK(vec_reader_open(path, &r) == VEC_E_FORMAT);
  CHECK(strstr(vec_last_error_message(), "magic") != NULL);
  remove(path);
  CHECK(vec_reader_open(NULL, &r) == VEC_E_INVALID_ARG);
  CHECK(vec_reader_open(path, NULL) == VEC_E_INVALID_ARG);
  size_t got;
  CHECK(vec_reader_read(NULL, NULL, 0, &got) == VEC_E_INVALID_ARG);
  CHECK(vec_reader_seek(NULL, 0) == VEC_E_INVALID_ARG);
  CHECK(vec_reader_dim(NULL) == 0 && vec_reader_count(NULL) == 0);
  vec_reader_close(NULL);
}

static void file_shrinks_while_read(void) {
  const char *dicts[] = {"{'descr': '<f4', 'fortran_order': False, 'shape': (400, 8), }",
                         "{'descr': '<f8', 'fortran_order': True, 'shape': (400, 8), }"};
  char path[512];
  tmp_path(path, sizeof path, "shrink.npy");
  for (int k = 0; k < 3; k++) {
    unsigned char *file = malloc(400 * 8 * 8 + 256);
    size_t len;
    if (k < 2) {
      size_t dlen;
      unsigned char *data = gen_data(400, 8, k ? 8 : 4, k, &dlen);
      len = make_npy(file, 1, dicts[k], data, dlen);
      free(data);
    } else {
      tmp_path(path, sizeof path, "shrink.fvecs");
      len = make_vecs(file, 4, 400, 8, SIZE_MAX, 0);
    }
    CHECK(write_bytes(path, file, len) == 0);
    free(file);
    vec_reader *r;
    CHECK(vec_reader_open(path, &r) == VEC_OK);
    CHECK(truncate(path, (off_t)(len / 2)) == 0);
    float *x = malloc(400 * 8 * sizeof(float));
    size_t got = 1;
    int rc = vec_reader_read(r, x, 400, &got);
    free(x);
    vec_reader_close(r);
    CHECKF(rc == VEC_E_FORMAT && got == 0, "case %d: rc %d", k, rc);
    CHECK(strstr(vec_last_error_message(), "shrank") != NULL);
    remove(path);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* The writer                                                                                 */

static void npy_writer_matches_np_save(void) {
  const size_t shapes[][2] = {{3, 5}, {0, 7}, {1000, 1}};
  for (size_t s = 0; s < 3; s++) {
    size_t n = shapes[s][0], d = shapes[s][1], ld = d + 3;
    float *x = malloc((n + 1) * ld * sizeof(float));
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < ld; j++) x[i * ld + j] = j < d ? (float)(i * d + j) * 0.5f - 1 : NAN;
    char name[64], ref_path[512], path[512];
    snprintf(name, sizeof name, "np_save_%zux%zu.npy", n, d);
    data_path(ref_path, sizeof ref_path, name);
    tmp_path(path, sizeof path, name);
    vec_npy_writer *w;
    CHECK(vec_npy_writer_open(path, d, &w) == VEC_OK);
    for (size_t i = 0, t = 0; i < n; t++) { /* uneven pieces, empty ones too */
      size_t m = (t * 7 + 1) % 5;
      if (m > n - i) m = n - i;
      CHECK(vec_npy_writer_append(w, x + i * ld, m, ld) == VEC_OK);
      i += m;
    }
    CHECK(vec_npy_writer_finish(w) == VEC_OK);
    free(x);
    size_t rlen, len;
    unsigned char *ref = read_bytes(ref_path, &rlen), *got = read_bytes(path, &len);
    CHECKF(ref != NULL, "missing %s", ref_path);
    int same = got && len == rlen && memcmp(ref, got, len) == 0;
    free(ref);
    free(got);
    CHECKF(same, "%s differs from NumPy's", name);
    CHECK(count_entries(name) == 1); /* no temporary left */
    remove(path);
  }
}

static void npy_writer_round_trip(void) {
  const size_t shapes[][2] = {{1234, 17}, {20000, 20}, {1, 1}};
  char path[512];
  tmp_path(path, sizeof path, "rt.npy");
  for (size_t s = 0; s < 3; s++) {
    size_t n = shapes[s][0], d = shapes[s][1];
    float *x = malloc(n * d * sizeof(float));
    uint64_t seed = 99 + s;
    for (size_t i = 0; i < n * d; i++) x[i] = vt_normal(&seed);
    x[0] = -0.0f;
    if (n * d > 3) x[1] = INFINITY, x[2] = NAN, x[3] = 1e-45f;
    vec_npy_writer *w;
    CHECK(vec_npy_writer_open(path, d, &w) == VEC_OK);
    CHECK(count_entries(".rt.npy.") == 1); /* the temporary, next to the target */
    for (size_t i = 0; i < n; i += 333)
      CHECK(vec_npy_writer_append(w, x + i * d, n - i < 333 ? n - i : 333, d) == VEC_OK);
    CHECK(vec_npy_writer_append(w, NULL, 0, d) == VEC_OK);
    CHECK(vec_npy_writer_finish(w) == VEC_OK);
    CHECK(count_entries(".rt.npy.") == 0);
    size_t rn, rd;
    float *y = read_all(path, 100, &rn, &rd);
    CHECK(y != NULL && rn == n && rd == d);
    int same = memcmp(x, y, n * d * sizeof(float)) == 0;
    free(y);
    float *z;
    CHECK(vec_npy_read_f32(path, &z, &rn, &rd) == VEC_OK && rn == n && rd == d);
    same &= memcmp(x, z, n * d * sizeof(float)) == 0;
    free(z);
    free(x);
    CHECK(same);
  }
  remove(path);
}

static void npy_writer_failures(void) {
  char path[512];
  vec_npy_writer *w = (vec_npy_writer *)1;
  float row[4] = {1, 2, 3, 4};
  /* a missing directory */
  tmp_path(path, sizeof path, "no-such-dir/out.npy");
  CHECK(vec_npy_writer_open(path, 4, &w) == VEC_E_IO && w == NULL);
  CHECK(strstr(vec_last_error_message(), path) != NULL);
  CHECK(strstr(vec_last_error_message(), strerror(ENOENT)) != NULL);
  /* a file system that refuses new files (tests run as root: chmod would not stop us), beside an
   * existing file that must stay as it is */
  size_t before_len = 0, after_len = 0;
  unsigned char *before = read_bytes("/proc/version", &before_len);
  CHECK(vec_npy_writer_open("/proc/version", 4, &w) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), "/proc/version") != NULL);
  CHECK(vec_npy_writer_open("/proc/vectro-readers-test.npy", 4, &w) == VEC_E_IO);
  unsigned char *after = read_bytes("/proc/version", &after_len);
  int same = before && after && before_len == after_len && !memcmp(before, after, after_len);
  free(before);
  free(after);
  CHECK(same);
  /* aborted: an existing file keeps its contents, no temporary stays */
  tmp_path(path, sizeof path, "keep.npy");
  CHECK(write_bytes(path, "old contents", 12) == 0);
  CHECK(vec_npy_writer_open(path, 4, &w) == VEC_OK);
  CHECK(vec_npy_writer_append(w, row, 1, 4) == VEC_OK);
  vec_npy_writer_abort(w);
  size_t len;
  unsigned char *b = read_bytes(path, &len);
  same = b && len == 12 && memcmp(b, "old contents", 12) == 0;
  free(b);
  CHECK(same);
  CHECK(count_entries("keep.npy") == 1);
  remove(path);
  /* A directory as the target is refused at open (a rename would fail or replace it)... */
  tmp_path(path, sizeof path, "adir.npy");
  CHECK(mkdir(path, 0700) == 0);
  CHECK(vec_npy_writer_open(path, 4, &w) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), "not a regular file") != NULL);
  CHECK(rmdir(path) == 0);
  /* ...and one that appears while the writer is open makes finish fail at the rename: the
   * directory stays, no temporary is left */
  char inner[600];
  snprintf(inner, sizeof inner, "%s/x", path);
  CHECK(vec_npy_writer_open(path, 4, &w) == VEC_OK);
  CHECK(mkdir(path, 0700) == 0);
  CHECK(write_bytes(inner, "x", 1) == 0);
  CHECK(vec_npy_writer_append(w, row, 1, 4) == VEC_OK);
  CHECK(vec_npy_writer_finish(w) == VEC_E_IO);
  CHECK(strstr(vec_last_error_message(), "rename") != NULL);
  struct stat st;
  CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && stat(inner, &st) == 0);
  CHECK(count_entries("adir.npy") == 1);
  remove(inner);
  rmdir(path);
  /* arguments */
  tmp_path(path, sizeof path, "args.npy");
  CHECK(vec_npy_writer_open(path, 0, &w) == VEC_E_INVALID_ARG);
  CHECK(vec_npy_writer_open(NULL, 4, &w) == VEC_E_INVALID_ARG);
  CHECK(vec_npy_writer_open(path, 4, NULL) == VEC_E_INVALID_ARG);
  CHECK(vec_npy_writer_open(path, 4, &w) == VEC_OK);
  CHECK(vec_npy_writer_append(w, row, 1, 3) == VEC_E_INVALID_ARG);
  CHECK(vec_npy_writer_append(w, NULL, 1, 4) == VEC_E_INVALID_ARG);
  CHECK(vec_npy_writer_append(NULL, row, 1, 4) == VEC_E_INVALID_ARG);
  vec_npy_writer_abort(w);
  CHECK(count_entries("args.npy") == 0);
  CHECK(vec_npy_writer_finish(NULL) == VEC_E_INVALID_ARG);
  vec_npy_writer_abort(NULL);
}

static void cleanup(void) { /* last: the temporary directory, empty if every test cleaned up */
  if (tmp_root[0]) CHECKF(rmdir(tmp_root) == 0, "%s: %s", tmp_root, strerror(errno));
}

const vt_test readers_tests[] = {{"numpy_files_in_chunks", numpy_files_in_chunks},
                                 {"seek_anywhere", seek_anywhere},
                                 {"large_files", large_files},
                                 {"npy_bad_headers", npy_bad_headers},
                                 {"npy_header_variants", npy_header_variants},
                                 {"npy_truncated_at_every_length", npy_truncated_at_every_length},
                                 {"vecs_rows_and_dims", vecs_rows_and_dims},
                                 {"open_errors", open_errors},
                                 {"file_shrinks_while_read", file_shrinks_while_read},
                                 {"npy_writer_matches_np_save", npy_writer_matches_np_save},
                                 {"npy_writer_round_trip", npy_writer_round_trip},
                                 {"npy_writer_failures", npy_writer_failures},
                                 {"cleanup", cleanup}};
const size_t readers_count = sizeof readers_tests / sizeof readers_tests[0];
