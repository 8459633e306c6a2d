/* files.c: the `vectro` commands that work on files (compress, decompress, verify, info FILE,
 * eval FILE.vqz) and `bench`. Everything streams in chunks, so memory stays bounded by --chunk
 * whatever the size of the input. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define DEFAULT_CHUNK 65536 /* rows per chunk at most: a few tens of MB at common dimensions */
/* Chunks are sized in bytes, then capped at DEFAULT_CHUNK rows: at d = 2^20 a chunk of 65536 rows
 * would be 256 GiB of floats, so a valid 2-row file could not be decompressed. */
#define CHUNK_BYTES ((size_t)64 << 20)
/* Calibrated codecs learn their ranges from at most this many leading rows. */
#define CALIBRATION_ROWS 100000

/* Rows per chunk for rows of row_bytes bytes: CHUNK_BYTES worth (at least 1), at most
 * DEFAULT_CHUNK and at most n (at least 1). */
static size_t chunk_rows(size_t row_bytes, uint64_t n) {
  size_t rows = row_bytes ? CHUNK_BYTES / row_bytes : DEFAULT_CHUNK;
  if (rows > DEFAULT_CHUNK) rows = DEFAULT_CHUNK;
  if (rows > n) rows = (size_t)n;
  return rows ? rows : 1;
}

static int want_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * compress
 * ------------------------------------------------------------------------------------------- */
static void usage_compress(FILE *f) {
  fprintf(f,
          "usage: vectro compress [--codec NAME | --profile P] [--group G] [--m M] [--bits B]\n"
          "                       [--seed S] [--center] [--rounding MODE] [--threads N]\n"
          "                       [--chunk ROWS] [--metadata JSON] [--quiet]\n"
          "                       INPUT OUTPUT.vqz\n\n"
          "Compresses embeddings (.npy float16/32/64, .fvecs, .bvecs, .ivecs) into a .vqz file,\n"
          "streaming: memory is bounded by the chunk, whatever the input's size. The output is\n"
          "written to a temporary name and renamed when complete, so an existing OUTPUT is only\n"
          "replaced by a finished, checksummed file (keeping its mode; a symbolic link is\n"
          "written through). OUTPUT may not be INPUT.\n\n"
          "  --codec NAME     int8 (default), int16, int4, int4-g32, f16, bf16, binary, uint8,\n"
          "                   uint4, uint6 (per-dimension 4 / 6 bits), int8-cal (calibrated\n"
          "                   codecs learn ranges from the first %d rows, at most 256 MiB),\n"
          "                   rabitq (rotation + B-bit codes, or rabitq-B),\n"
          "                   pq (with --m, --bits) or pq-MxB: product quantization, k-means\n"
          "                   codebooks trained on a sample of those rows\n"
          "  --m M            pq: subspaces (must divide the dimension)\n"
          "  --bits B         rabitq: bits per dimension, 1..8 (default 4);\n"
          "                   pq: bits per subspace code, 4 or 8 (default 8)\n"
          "  --seed S         rabitq: seed of the random rotation; pq: of the training sample and\n"
          "                   k-means starts (default 0)\n"
          "  --center         code x - c for c the mean of the first %d rows (search adds q.c\n"
          "                   back): every codec but f16, bf16 and int16; much better on\n"
          "                   anisotropic models (e5)\n"
          "  --profile P      quality (rabitq-8 --center), balanced (rabitq-4 --center),\n"
          "                   fast (rabitq-1 --center), as in Python\n"
          "  --group G        int4: one scale per G dimensions (int4 --group 32 = int4-g32)\n"
          "  --rounding MODE  calibrated codecs: nearest (default) or truncate\n"
          "                   (sentence-transformers)\n"
          "  --threads N      worker threads, 0 = all cores (default)\n"
          "  --chunk ROWS     rows per chunk (default: 64 MiB of floats, at most %d rows)\n"
          "  --metadata JSON  one JSON value stored in the file (model name, source, ...);\n"
          "                   checked to be JSON\n"
          "  --quiet          no progress bar (it is shown only when stderr is a terminal)\n",
          CALIBRATION_ROWS, CALIBRATION_ROWS, DEFAULT_CHUNK);
}

/* The progress bar, fed by vec_compress_file with the file's rows. */
typedef struct {
  cli_progress *bar;
  double bytes_per_row;
} compress_progress;

static int compress_progress_cb(void *user, size_t done, size_t total) {
  compress_progress *p = user;
  (void)total;
  cli_progress_update(p->bar, done, p->bytes_per_row);
  return 0;
}

int cmd_compress(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *meta = NULL;
  size_t threads = 0, chunk = 0; /* chunk 0: sized by bytes */
  int quiet = 0;
  cli_codec_opts co = {0};
  if (want_help(argc, argv)) {
    usage_compress(stdout);
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc, taken = cli_codec_option("compress", argc, argv, &i, &co);
    if (taken < 0) return EXIT_USAGE;
    if (taken) continue;
    if (strcmp(a, "--threads") == 0 && more) {
      if (cli_parse_size(argv[++i], &threads) || threads > 4096) {
        fprintf(stderr, "vectro compress: --threads needs an integer in 0..4096\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--chunk") == 0 && more) {
      if (cli_parse_size(argv[++i], &chunk) || chunk == 0 || chunk > ((size_t)1 << 30)) {
        fprintf(stderr, "vectro compress: --chunk needs a positive number of rows\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--metadata") == 0 && more) {
      if (meta) {
        fprintf(stderr, "vectro compress: --metadata is given twice (a file holds one)\n");
        return EXIT_USAGE;
      }
      meta = argv[++i];
      size_t at;
      const char *why = cli_json_check(meta, &at);
      if (why) {
        fprintf(stderr, "vectro compress: --metadata is not JSON: %s at byte %zu\n", why, at);
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      quiet = 1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "vectro compress: unknown option '%s' or missing value (see --help)\n", a);
      return EXIT_USAGE;
    } else if (!in) {
      in = a;
    } else if (!out) {
      out = a;
    } else {
      fprintf(stderr, "vectro compress: too many arguments ('%s')\n", a);
      return EXIT_USAGE;
    }
  }
  if (!in || !out) {
    usage_compress(stderr);
    return EXIT_USAGE;
  }
  vec_codec_params cp;
  if (cli_codec_resolve("compress", &co, &cp)) return EXIT_USAGE;
  if (cli_same_file(in, out)) {
    fprintf(stderr, "vectro compress: the output '%s' is the input file: choose another path\n",
            out);
    return EXIT_USAGE;
  }

  /* The dimension and row count first: the codec is made for the input's dimension, and a
   * parameter that dimension cannot take is a usage error, before anything is read. */
  vec_reader *r = NULL;
  vec_codec *c = NULL;
  int ret = 0, rc = vec_reader_open(in, &r);
  if (rc) return cli_fail("compress", rc);
  size_t d = vec_reader_dim(r);
  uint64_t n = vec_reader_count(r), done_rows = 0;
  vec_reader_close(r);
  cp.dim = d;
  if ((rc = vec_codec_create(&cp, &c))) { /* parameters this input's dimension cannot take */
    ret = cli_fail("compress", rc);
    return rc == VEC_E_INVALID_ARG ? EXIT_USAGE : ret;
  }
  /* The pipeline itself is the library's (vec_compress_file), shared with Python's
   * compress_file: chunking, training on the leading rows, the atomic writer. */
  vec_compress_opts o = VEC_COMPRESS_OPTS_INIT;
  o.metadata = meta;
  o.chunk_rows = chunk;
  o.batch.threads = (int)threads;
  cli_progress prog;
  cli_progress_start(&prog, "compress", n, quiet);
  compress_progress cpu = {&prog, 4.0 * (double)d};
  o.batch.progress = compress_progress_cb;
  o.batch.progress_user = &cpu;
  rc = vec_compress_file(in, out, c, &o, &done_rows);
  cli_progress_end(&prog);
  if (rc) {
    ret = cli_fail("compress", rc);
    vec_codec_free(c);
    return ret;
  }
  size_t bpv = vec_codec_code_size(c) + 4 * vec_codec_scale_count(c);
  char label[64];
  cli_codec_label(c, label, sizeof label);
  if (!quiet)
    fprintf(stderr, "vectro compress: %s -> %s: %llu x %zu, %s, %zu bytes/vector (%.2fx)\n", in,
            out, (unsigned long long)done_rows, d, label, bpv, 4.0 * (double)d / (double)bpv);
  vec_codec_free(c);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * decompress, verify, info FILE
 * ------------------------------------------------------------------------------------------- */
/* Reads rows [first, first + n) of a .vqz and decodes them into out (n x d). */
static int read_decode(vec_vqz_reader *r, uint64_t first, size_t n, unsigned char *codes,
                       float *scales, float *out, const vec_batch_opts *bo) {
  const vec_codec *c = vec_vqz_codec(r);
  size_t d = vec_codec_get_params(c)->dim;
  int rc = vec_vqz_read(r, first, n, codes, vec_codec_scale_count(c) ? scales : NULL, NULL);
  if (!rc) rc = vec_codec_decode(c, codes, vec_codec_scale_count(c) ? scales : NULL, n, out, d, bo);
  return rc;
}

int cmd_decompress(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  int quiet = 0;
  size_t threads = 0;
  if (want_help(argc, argv)) {
    printf("usage: vectro decompress [--threads N] [--quiet] INPUT.vqz OUTPUT.npy\n\n"
           "Reconstructs float32 embeddings into a .npy file (C order), streaming. Each block's\n"
           "checksum is verified as it is read; the output is written to a temporary name and\n"
           "renamed only when complete. A summary goes to stderr unless --quiet.\n");
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
      quiet = 1;
    } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      if (cli_parse_size(argv[++i], &threads) || threads > 4096) {
        fprintf(stderr, "vectro decompress: --threads needs an integer in 0..4096\n");
        return EXIT_USAGE;
      }
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "vectro decompress: unknown option '%s' (see --help)\n", argv[i]);
      return EXIT_USAGE;
    } else if (!in) {
      in = argv[i];
    } else if (!out) {
      out = argv[i];
    } else {
      fprintf(stderr, "vectro decompress: too many arguments ('%s')\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!in || !out) {
    fprintf(stderr, "usage: vectro decompress INPUT.vqz OUTPUT.npy (see --help)\n");
    return EXIT_USAGE;
  }
  if (cli_same_file(in, out)) {
    fprintf(stderr, "vectro decompress: the output '%s' is the input file: choose another path\n",
            out);
    return EXIT_USAGE;
  }
  vec_vqz_reader *r = NULL;
  vec_npy_writer *w = NULL;
  unsigned char *codes = NULL;
  float *scales = NULL, *rows = NULL;
  int ret = 0, rc = vec_vqz_reader_open(in, &r);
  if (rc) return cli_fail(in, rc);
  const vec_codec *c = vec_vqz_codec(r);
  size_t d = vec_codec_get_params(c)->dim, cs = vec_codec_code_size(c),
         sc = vec_codec_scale_count(c);
  uint64_t n = vec_vqz_count(r);
  size_t chunk = chunk_rows(cs + sc * sizeof(float) + d * sizeof(float), n);
  codes = malloc(chunk * cs + 1);
  scales = malloc(chunk * sc * sizeof(float) + 1);
  rows = malloc(chunk * d * sizeof(float));
  if (!codes || !scales || !rows) {
    ret = cli_fail("decompress", VEC_E_NOMEM);
    goto done;
  }
  if ((rc = vec_npy_writer_open(out, d, &w))) {
    ret = cli_fail(out, rc);
    goto done;
  }
  vec_batch_opts bo = VEC_BATCH_OPTS_INIT;
  bo.threads = (int)threads;
  cli_progress prog;
  cli_progress_start(&prog, "decompress", n, quiet);
  for (uint64_t i = 0; i < n && !rc; i += chunk) {
    size_t m = n - i < chunk ? (size_t)(n - i) : chunk;
    rc = read_decode(r, i, m, codes, scales, rows, &bo);
    if (!rc) rc = vec_npy_writer_append(w, rows, m, d);
    cli_progress_update(&prog, i + m, 4.0 * (double)d);
  }
  cli_progress_end(&prog);
  if (rc) {
    ret = cli_fail(in, rc);
    goto done;
  }
  rc = vec_npy_writer_finish(w);
  w = NULL;
  if (rc) {
    ret = cli_fail(out, rc);
  } else if (!quiet) {
    char label[64];
    cli_codec_label(c, label, sizeof label);
    fprintf(stderr, "vectro decompress: %s -> %s: %llu x %zu float32 decoded from %s codes\n", in,
            out, (unsigned long long)n, d, label);
  }
done:
  vec_npy_writer_abort(w);
  vec_vqz_reader_close(r);
  free(codes), free(scales), free(rows);
  return ret;
}

int cmd_verify(int argc, char **argv) {
  if (want_help(argc, argv) || argc != 2) {
    FILE *f = argc == 2 ? stdout : stderr;
    fprintf(f,
            "usage: vectro verify FILE.vqz\n\nChecks the whole file: header, codec, every block's\n"
            "CRC-32C and the whole-file checksum. Exit 0 when intact, 3 when not (the message\n"
            "names the first bad block).\n");
    return argc == 2 ? 0 : EXIT_USAGE;
  }
  vec_vqz_reader *r;
  int rc = vec_vqz_reader_open(argv[1], &r);
  if (rc) return cli_fail(argv[1], rc);
  rc = vec_vqz_verify(r);
  if (!rc) {
    vec_vqz_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    vec_vqz_get_info(r, &info);
    printf("%s: OK (%llu rows, %llu blocks, all checksums match)\n", argv[1],
           (unsigned long long)info.count, (unsigned long long)info.blocks);
  }
  vec_vqz_reader_close(r);
  return rc ? cli_fail(argv[1], rc) : 0;
}

int cmd_info_file(const char *path) {
  vec_vqz_reader *r;
  int rc = vec_vqz_reader_open(path, &r);
  if (rc) return cli_fail(path, rc);
  vec_vqz_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  vec_vqz_get_info(r, &info);
  const vec_codec *c = vec_vqz_codec(r);
  const vec_codec_params *p = vec_codec_get_params(c);
  size_t bpv = info.code_size + 4 * info.scale_count;
  printf("file         %s\n", path);
  printf("format       .vqz version %u.%u\n", info.version_major, info.version_minor);
  char label[64];
  cli_codec_label(c, label, sizeof label);
  printf("codec        %s", label);
  if (info.codec == VEC_CODEC_INT4 && p->group_size)
    printf(" (one scale per %u dims)", p->group_size);
  if (info.codec == VEC_CODEC_PQ)
    printf(" (%u subspaces x %u bits)", p->m, p->bits);
  else if (info.codec == VEC_CODEC_RABITQ)
    printf(" (%u bits, seed %llu%s)", p->bits, (unsigned long long)p->seed,
           p->center ? ", centred on the training mean" : "");
  else if (vec_codec_needs_training(c))
    printf(" (calibrated, %s)", p->rounding == VEC_ROUND_TRUNCATE ? "truncate" : "nearest");
  printf("\nvectors      %llu x %zu\n", (unsigned long long)info.count, info.dim);
  printf("size         %llu bytes on disk; %zu bytes/vector (float32: %zu, %.2fx)\n",
         (unsigned long long)info.file_size, bpv, 4 * info.dim,
         bpv ? 4.0 * (double)info.dim / (double)bpv : 0.0);
  printf("blocks       %llu of %zu rows\n", (unsigned long long)info.blocks, info.block_rows);
  printf("ids          %s\n", info.has_ids ? "yes (uint64)" : "no");
  const char *meta = vec_vqz_metadata(r);
  printf("metadata     %.*s%s\n", 200, *meta ? meta : "(none)", strlen(meta) > 200 ? "..." : "");
  printf("checksums    header and index ok; blocks not checked (run `vectro verify`)\n");
  vec_vqz_reader_close(r);
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * eval FILE.vqz --original X
 * ------------------------------------------------------------------------------------------- */
int cmd_eval_vqz(const char *vqz, const char *original, size_t threads) {
  vec_vqz_reader *r = NULL;
  vec_reader *o = NULL;
  unsigned char *codes = NULL;
  float *scales = NULL, *rec = NULL, *orig = NULL;
  int ret = 0, rc = vec_vqz_reader_open(vqz, &r);
  if (rc) return cli_fail(vqz, rc);
  if ((rc = vec_reader_open(original, &o))) {
    ret = cli_fail(original, rc);
    goto done;
  }
  const vec_codec *c = vec_vqz_codec(r);
  size_t d = vec_codec_get_params(c)->dim, cs = vec_codec_code_size(c),
         sc = vec_codec_scale_count(c);
  uint64_t n = vec_vqz_count(r);
  if (vec_reader_dim(o) != d || vec_reader_count(o) != n) {
    fprintf(stderr, "vectro eval: %s holds %llu x %zu, %s holds %llu x %zu\n", original,
            (unsigned long long)vec_reader_count(o), vec_reader_dim(o), vqz, (unsigned long long)n,
            d);
    ret = EXIT_USAGE;
    goto done;
  }
  size_t chunk = chunk_rows(cs + sc * sizeof(float) + 2 * d * sizeof(float), n);
  codes = malloc(chunk * cs + 1), scales = malloc(chunk * sc * sizeof(float) + 1);
  rec = malloc(chunk * d * sizeof(float)), orig = malloc(chunk * d * sizeof(float));
  if (!codes || !scales || !rec || !orig) {
    ret = cli_fail("eval", VEC_E_NOMEM);
    goto done;
  }
  vec_batch_opts bo = VEC_BATCH_OPTS_INIT;
  bo.threads = (int)threads;
  /* The figures are means over rows: combine chunks weighted by the rows each one counted. */
  double w_sum = 0, rel_sum = 0, cos_sum = 0, mae_sum = 0, rel_max = 0, cos_min = 1, abs_max = 0;
  for (uint64_t i = 0; i < n; i += chunk) {
    size_t m = n - i < chunk ? (size_t)(n - i) : chunk, got = 0;
    if ((rc = read_decode(r, i, m, codes, scales, rec, &bo)) ||
        (rc = vec_reader_read(o, orig, m, &got))) {
      ret = cli_fail(rc == VEC_E_IO ? original : vqz, rc);
      goto done;
    }
    vec_quality q = {sizeof q, 0, 0, 0, 0, 0, 0, 0};
    if ((rc = vec_quality_measure(orig, d, rec, d, m, d, &q))) {
      ret = cli_fail(original, rc);
      goto done;
    }
    double wt = (double)(m - q.zero_rows);
    w_sum += wt, rel_sum += q.rel_l2_mean * wt, cos_sum += q.cosine_mean * wt,
        mae_sum += q.mae * wt;
    rel_max = fmax(rel_max, q.rel_l2_max), cos_min = fmin(cos_min, q.cosine_min);
    abs_max = fmax(abs_max, q.max_abs_err);
  }
  size_t bpv = cs + 4 * sc;
  char label[64];
  cli_codec_label(c, label, sizeof label);
  printf("vectro eval: %s against %s (%llu x %zu), codec %s\n", vqz, original,
         (unsigned long long)n, d, label);
  printf("bytes/vector    %zu (float32: %zu), compression %.2fx\n", bpv, 4 * d,
         4.0 * (double)d / (double)bpv);
  cli_print_quality(vec_codec_kind(c), w_sum > 0, cos_sum / w_sum, cos_min, rel_sum / w_sum,
                    rel_max, mae_sum / w_sum);
  if (vec_codec_kind(c) != VEC_CODEC_BINARY)
    printf("max abs error   %g (largest |x - x^| over all values, in the input's units)\n",
           abs_max);
done:
  vec_vqz_reader_close(r);
  vec_reader_close(o);
  free(codes), free(scales), free(rec), free(orig);
  return ret;
}

/* ---------------------------------------------------------------------------------------------
 * bench
 * ------------------------------------------------------------------------------------------- */
static double mono(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int cmd_bench(int argc, char **argv) {
  size_t d = 768, mb = 256, threads = 1;
  if (want_help(argc, argv)) {
    printf("usage: vectro bench [--dim D] [--mb MB] [--threads N]\n\n"
           "Encode and decode throughput on this machine of int8, int16, int4, int4-g32, f16,\n"
           "bf16, binary, uint8, rabitq-4 and pq-(D/8)x4 (uint8 and pq trained on the first\n"
           "10,000 rows first, not timed), on MB megabytes of random float32 rows of dimension D\n"
           "(default 768, 256 MB, one thread), best of 3, in GB/s of float32 and million vectors\n"
           "per second. Search speed is not measured here; the source tree's bench/ compares\n"
           "against NumPy and FAISS.\n");
    return 0;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    size_t *dst = strcmp(argv[i], "--dim") == 0       ? &d
                  : strcmp(argv[i], "--mb") == 0      ? &mb
                  : strcmp(argv[i], "--threads") == 0 ? &threads
                                                      : NULL;
    if (!dst || cli_parse_size(argv[i + 1], dst)) {
      fprintf(stderr, "vectro bench: bad option '%s' (see --help)\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (argc % 2 == 0 || d == 0 || mb == 0 || threads > 4096) {
    fprintf(stderr, "vectro bench: options take positive values (see --help)\n");
    return EXIT_USAGE;
  }
  size_t n = mb * 1000000 / (4 * d);
  if (n == 0) n = 1;
  float *x = malloc(n * d * sizeof(float)), *out = malloc(n * d * sizeof(float));
  unsigned char *codes = malloc(n * d * 2 + 1);
  float *scales = malloc(n * (d / 2 + 4) * sizeof(float));
  if (!x || !out || !codes || !scales) {
    free(x), free(out), free(codes), free(scales);
    return cli_fail("bench", VEC_E_NOMEM);
  }
  uint64_t s = 88172645463325252ull;
  for (size_t i = 0; i < n * d; i++) { /* xorshift, summed to a rough bell curve */
    float v = 0;
    for (int k = 0; k < 4; k++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      v += (float)(s >> 40) * 0x1p-24f - 0.5f;
    }
    x[i] = v;
  }
  printf("vectro %s bench: %zu x %zu float32 (%zu MB), %zu thread(s), kernel %s\n",
         vec_version_string(), n, d, mb, threads, vec_isa_name(vec_active_isa()));
  printf("%-10s %10s %12s %12s %12s\n", "codec", "bytes/vec", "encode GB/s", "decode GB/s",
         "Mvec/s enc");
  char pqname[32];
  snprintf(pqname, sizeof pqname, "pq-%zux4", d % 8 == 0 ? d / 8 : d % 4 == 0 ? d / 4 : d);
  const char *names[] = {"int8", "int16",  "int4",  "int4-g32", "f16",
                         "bf16", "binary", "uint8", "rabitq-4", pqname};
  vec_batch_opts bo = VEC_BATCH_OPTS_INIT;
  bo.threads = (int)threads;
  int ret = 0;
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    vec_codec_params p;
    vec_codec *c;
    cli_codec_params(names[k], d, &p);
    int rc = vec_codec_create(&p, &c);
    if (!rc && vec_codec_needs_training(c)) rc = vec_codec_train(c, x, n < 10000 ? n : 10000, d);
    if (rc) {
      ret = cli_fail("bench", rc);
      break;
    }
    float *sc = vec_codec_scale_count(c) ? scales : NULL;
    double be = 1e30, bd = 1e30;
    for (int rep = 0; rep < 4 && !rc; rep++) { /* the first run warms caches and page tables */
      double t = mono();
      rc = vec_codec_encode(c, x, n, d, codes, sc, &bo);
      double te = mono() - t;
      t = mono();
      if (!rc) rc = vec_codec_decode(c, codes, sc, n, out, d, &bo);
      double td = mono() - t;
      if (rep) be = fmin(be, te), bd = fmin(bd, td);
    }
    if (rc) {
      vec_codec_free(c);
      ret = cli_fail("bench", rc);
      break;
    }
    double gb = (double)n * (double)d * 4e-9;
    printf("%-10s %10zu %12.1f %12.1f %12.2f\n", names[k],
           vec_codec_code_size(c) + 4 * vec_codec_scale_count(c), gb / be, gb / bd,
           (double)n / be / 1e6);
    vec_codec_free(c);
  }
  free(x), free(out), free(codes), free(scales);
  return ret;
}

/* ---------------------------------------------------------------------------------------------
 * search
 * ------------------------------------------------------------------------------------------- */
int cli_read_all(const char *path, float **x, size_t *n, size_t *d) {
  vec_reader *r;
  int rc = vec_reader_open(path, &r);
  if (rc) return rc;
  *n = (size_t)vec_reader_count(r), *d = vec_reader_dim(r);
  *x = malloc(*n * *d * sizeof(float) + 1);
  size_t have = 0;
  while (!rc && *x && have < *n) {
    size_t got = 0;
    rc = vec_reader_read(r, *x + have * *d, *n - have, &got);
    if (!got) break;
    have += got;
  }
  vec_reader_close(r);
  return *x ? rc : VEC_E_NOMEM;
}
