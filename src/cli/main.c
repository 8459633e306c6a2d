/* main.c: the `vectro` command line: dispatch, `codecs`, `eval` and `info`, and the helpers the
 * commands share (files.c holds compress, decompress, verify and bench).
 * Exit codes are part of the interface: 0 ok, 1 the data cannot be compressed as asked (NaN/Inf, a
 * value out of range, a codec that cannot be trained on it), 2 usage, 3 a file that cannot be read
 * or is malformed, 4 out of memory or another internal failure. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/time.h>
#include <unistd.h>

#include "cli.h"

static const char *const codec_names[] = {"int8",      "int16",    "int4",      "f16",
                                          "bf16",      "binary",   "uint8-cal", "int8-cal",
                                          "uint4-cal", "uint6-cal"};
#define NCODECS (sizeof codec_names / sizeof codec_names[0])

static void usage_main(FILE *f) {
  fprintf(f, "usage: vectro [--version] [--help] COMMAND [ARGS]\n\n"
             "Compress float32 embeddings and measure what it costs.\n\n"
             "commands:\n"
             "  compress    embeddings (.npy, .fvecs, .bvecs, .ivecs) -> .vqz, streaming\n"
             "  decompress  .vqz -> .npy (float32)\n"
             "  info        a .vqz's header, codec, counts and sizes; or this machine's kernels\n"
             "  verify      full integrity check of a .vqz (every block's checksum)\n"
             "  eval        quality of a codec on embeddings, or of a .vqz against its original\n"
             "  search      top-k search of queries over a .vqz, optionally rescored exactly\n"
             "  codecs      the codecs and their size per vector\n"
             "  bench       encode/decode throughput of every codec on this machine\n\n"
             "Run `vectro COMMAND --help` for a command's options.\n"
             "exit codes: 0 ok, 1 data the codec refuses (NaN/Inf, out of range), 2 usage,\n"
             "            3 unreadable or malformed file, 4 internal error or out of memory\n");
}

int cli_exit_for(int rc) {
  switch (rc) {
  case VEC_OK: return 0;
  case VEC_E_NONFINITE:
  case VEC_E_RANGE:
  case VEC_E_NOT_TRAINED: return EXIT_DATA;
  case VEC_E_FORMAT:
  case VEC_E_VERSION:
  case VEC_E_IO:
  case VEC_E_UNSUPPORTED: return EXIT_FILE;
  case VEC_E_INVALID_ARG: return EXIT_DATA;
  default: return EXIT_INTERNAL;
  }
}

int cli_fail(const char *what, int rc) {
  const char *detail = vec_last_error_message();
  fprintf(stderr, "vectro: %s: %s\n", what, detail && *detail ? detail : vec_strerror(rc));
  return cli_exit_for(rc);
}

/* A file that could not be read or parsed: exit 3, except when memory ran out. */
static int fail_read(int rc) {
  cli_fail("eval", rc);
  return rc == VEC_E_NOMEM ? EXIT_INTERNAL : EXIT_FILE;
}

int cli_parse_size(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-') return -1;
  *out = (size_t)v;
  return 0;
}

int cli_codec_params(const char *name, size_t dim, vec_codec_params *p) {
  /* The profiles are Python's (vectro.PROFILES): centred rabitq, which no anisotropic set (e5)
   * collapses, unlike binary or int4 (docs/quality.md); then the library's one name grammar,
   * shared with Python. */
  int center = 0;
  if (strcmp(name, "quality") == 0)
    name = "rabitq-8", center = 1;
  else if (strcmp(name, "balanced") == 0)
    name = "rabitq-4", center = 1;
  else if (strcmp(name, "fast") == 0)
    name = "rabitq-1", center = 1;
  if (vec_codec_params_parse(name, p) != VEC_OK) return -1;
  if (p->codec == VEC_CODEC_RABITQ && !p->bits) p->bits = 4; /* bare "rabitq": 4 bits, as Python */
  p->dim = dim;
  p->center = center;
  return 0;
}

static double now_s(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

void cli_progress_start(cli_progress *p, const char *label, uint64_t total, int quiet) {
  p->label = label;
  p->total = total;
  p->start = p->last = now_s();
  p->enabled = !quiet && isatty(STDERR_FILENO);
}

void cli_progress_update(cli_progress *p, uint64_t done, double bytes_per_row) {
  if (!p->enabled) return;
  double t = now_s();
  if (t - p->last < 0.1 && done < p->total) return; /* redraw at most ten times a second */
  p->last = t;
  double el = t - p->start, frac = p->total ? (double)done / (double)p->total : 1.0;
  double rate = el > 0 ? (double)done * bytes_per_row / el / 1e6 : 0.0;
  double eta = frac > 0 && frac < 1 ? el * (1 - frac) / frac : 0.0;
  int bar = (int)(frac * 30);
  fprintf(stderr, "\r%s [%.*s%*s] %5.1f%%  %llu/%llu rows  %.0f MB/s  ETA %d:%02d ", p->label, bar,
          "==============================", 30 - bar, "", 100 * frac, (unsigned long long)done,
          (unsigned long long)p->total, rate, (int)eta / 60, (int)eta % 60);
  fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
  if (p->enabled) fprintf(stderr, "\n");
}

/* ---------------------------------------------------------------------------------------------
 * info, codecs
 * ------------------------------------------------------------------------------------------- */
static int cmd_info(int argc, char **argv) {
  if (argc > 1) {
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
      printf("usage: vectro info [FILE.vqz]\n\nWith a file: its format version, codec, dimension,\n"
             "row count, sizes, blocks, ids, metadata and header checksum state.\n"
             "Without: the library version, the kernels in use and available, the CPU\n"
             "features detected and the default thread count.\n");
      return 0;
    }
    if (argc == 2 && argv[1][0] != '-') return cmd_info_file(argv[1]);
    fprintf(stderr, "vectro info: unexpected argument '%s'\n", argv[1]);
    return EXIT_USAGE;
  }
  printf("vectro %s\nkernel     %s\navailable ", vec_version_string(),
         vec_isa_name(vec_active_isa()));
  const vec_isa isas[] = {VEC_ISA_SCALAR, VEC_ISA_AVX2, VEC_ISA_AVX512, VEC_ISA_NEON};
  for (size_t i = 0; i < 4; i++)
    if (vec_isa_supported(isas[i])) printf(" %s", vec_isa_name(isas[i]));
  static const struct {
    unsigned bit;
    const char *name;
  } feats[] = {{VEC_CPU_AVX2, "avx2"},
               {VEC_CPU_FMA, "fma"},
               {VEC_CPU_F16C, "f16c"},
               {VEC_CPU_AVX512F, "avx512f"},
               {VEC_CPU_AVX512BW, "avx512bw"},
               {VEC_CPU_AVX512VL, "avx512vl"},
               {VEC_CPU_AVX512VNNI, "avx512vnni"},
               {VEC_CPU_AVX512VPOPCNTDQ, "avx512vpopcntdq"},
               {VEC_CPU_AVX512BF16, "avx512bf16"},
               {VEC_CPU_SSE42, "sse4.2"},
               {VEC_CPU_NEON, "neon"},
               {VEC_CPU_DOTPROD, "dotprod"},
               {VEC_CPU_CRC32, "crc32"}};
  /* What the kernels use: the CPU's features less those VECTRO_DISABLE_CPU_FEATURES turns off. */
  unsigned f = vec_active_cpu_features();
  printf("\nfeatures  ");
  for (size_t i = 0; i < sizeof feats / sizeof feats[0]; i++)
    if (f & feats[i].bit) printf(" %s", feats[i].name);
  printf("\nthreads    %d\n", vec_default_threads());
  return 0;
}

static int cmd_codecs(int argc, char **argv) {
  size_t d = 768;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: vectro codecs [--dim D]\n\nEvery codec with its bytes per vector and "
             "compression\n"
             "ratio against float32 at dimension D (default 768).\n");
      return 0;
    } else if (strcmp(argv[i], "--dim") == 0 && i + 1 < argc) {
      if (cli_parse_size(argv[++i], &d) || d == 0) {
        fprintf(stderr, "vectro codecs: --dim needs a positive integer\n");
        return EXIT_USAGE;
      }
    } else {
      fprintf(stderr, "vectro codecs: unknown option '%s' (see --help)\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  printf("%-10s %12s %8s\n", "codec", "bytes/vec", "ratio");
  for (size_t i = 0; i < NCODECS; i++) {
    for (unsigned g = 0; g <= 32; g += 32) {
      vec_codec_id id;
      vec_codec_from_name(codec_names[i], &id);
      if (g && id != VEC_CODEC_INT4) break;
      vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
      p.group_size = g;
      vec_codec *c;
      int rc = vec_codec_create(&p, &c);
      if (rc) return cli_fail("codecs", rc);
      size_t b = vec_codec_code_size(c) + 4 * vec_codec_scale_count(c);
      char label[32];
      cli_codec_label(c, label, sizeof label);
      printf("%-10s %12zu %7.2fx\n", label, b, 4.0 * (double)d / (double)b);
      vec_codec_free(c);
    }
  }
  /* The parameterised ones: rabitq by bits; pq at 32x and 64x where d divides (names as
   * --codec takes them; pq trains on the data, rabitq does not). */
  char names[8][32];
  size_t nn = 0;
  static const unsigned rbits[] = {1, 2, 4, 8};
  for (size_t i = 0; i < 4; i++) snprintf(names[nn++], sizeof names[0], "rabitq-%u", rbits[i]);
  if (d % 4 == 0) snprintf(names[nn++], sizeof names[0], "pq-%zux4", d / 4);
  if (d % 8 == 0) snprintf(names[nn++], sizeof names[0], "pq-%zux8", d / 8);
  if (d % 8 == 0) snprintf(names[nn++], sizeof names[0], "pq-%zux4", d / 8);
  for (size_t i = 0; i < nn; i++) {
    vec_codec_params p;
    vec_codec *c;
    if (cli_codec_params(names[i], d, &p)) continue; /* pq past its subspace limit */
    if (vec_codec_create(&p, &c)) continue;
    size_t b = vec_codec_code_size(c) + 4 * vec_codec_scale_count(c);
    printf("%-10s %12zu %7.2fx\n", names[i], b, 4.0 * (double)d / (double)b);
    vec_codec_free(c);
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------------
 * eval
 * ------------------------------------------------------------------------------------------- */
void cli_print_quality(vec_codec_id id, int have, double cos_mean, double cos_min, double rel_mean,
                       double rel_max, double mae) {
  if (!have) {
    printf("cosine          n/a (every vector is zero)\n");
    return;
  }
  printf("cosine          mean %.6f  min %.6f (cosine(x, x^) per vector)\n", cos_mean, cos_min);
  if (id == VEC_CODEC_BINARY) {
    /* Sign bits keep no magnitude: x^ is +-1 in every dimension, so |x - x^| measures the
     * input's scale, not the codec. The cosine and recall are what binary is judged by. */
    printf("rel. L2 error   n/a: binary keeps signs only and decodes to +-1 (no magnitude)\n");
    return;
  }
  printf("rel. L2 error   mean %.5f  max %.5f (|x - x^| / |x| per vector)\n", rel_mean, rel_max);
  printf("mean abs error  %.6f (mean |x - x^| over a vector, in units of its max |x|)\n", mae);
}

static void usage_eval(FILE *f) {
  fprintf(
      f,
      "usage: vectro eval [--codec NAME | --profile P] [--group G] [--m M] [--bits B] [--seed S]\n"
      "                   [--center] [--rounding MODE] [--queries Q.npy] [-k K] [--threads N]\n"
      "                   EMBEDDINGS.npy\n"
      "       vectro eval --original ORIGINAL.npy [--threads N] FILE.vqz\n\n"
      "Compresses the embeddings (a float16/32/64 .npy, n x d) with a codec, reconstructs them\n"
      "and reports bytes per vector, cosine(x, x^), relative L2 error |x - x^| / |x|, mean\n"
      "absolute error (in units of each vector's max |x|), and recall@k: the share of the exact\n"
      "float32 inner-product top k that an exact search over the reconstructions x^ returns.\n"
      "That is recall of what the codec keeps; `vectro search` on the codes themselves can\n"
      "score differently (binary: Hamming; pq: table look-ups; rabitq: its estimator).\n"
      "Without --queries, every tenth vector (at most 1000) is held out as a query when there\n"
      "are 100 or more. Codecs that train (uint8, uint4, uint6, int8-cal, pq, --center) are\n"
      "fitted on the database vectors. With a .vqz and --original, its rows are compared with\n"
      "the original rows (no recall: use `vectro search` for that).\n\n"
      "  --codec NAME     int8 (default), int16, int4, int4-gG, f16, bf16, binary, uint8,\n"
      "                   uint4, uint6 (per-dimension 4 / 6 bits), int8-cal,\n"
      "                   pq-MxB (M subspaces of B = 4 or 8 bits), rabitq-B (1..8)\n"
      "  --profile P      quality (rabitq-8 --center), balanced (rabitq-4 --center),\n"
      "                   fast (rabitq-1 --center), as in Python\n"
      "  --group G        int4: one scale per G dimensions (e.g. 32); 0 = per vector\n"
      "  --m M, --bits B  pq: subspaces and bits; rabitq: bits (as `vectro compress`)\n"
      "  --seed S         rabitq: rotation seed; pq: sample and k-means seed (default 0)\n"
      "  --center         code x - c, c the database mean (scores add q.c back): every codec\n"
      "                   but f16, bf16 and int16; much better on anisotropic models (e5)\n"
      "  --rounding MODE  calibrated codecs: nearest (default) or truncate "
      "(sentence-transformers)\n"
      "  --queries FILE   held-out query embeddings (.npy)\n"
      "  -k K             k of recall@k (default 10)\n"
      "  --threads N      worker threads, 0 = all cores (default)\n");
}

static int cmd_eval(int argc, char **argv) {
  const char *qpath = NULL, *path = NULL, *original = NULL;
  size_t k = 10, threads = 0;
  int k_given = 0;
  cli_codec_opts co = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc, taken;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage_eval(stdout);
      return 0;
    }
    if ((taken = cli_codec_option("eval", argc, argv, &i, &co)) < 0) return EXIT_USAGE;
    if (taken) continue;
    if (strcmp(a, "--queries") == 0 && more) {
      qpath = argv[++i];
    } else if (strcmp(a, "--original") == 0 && more) {
      original = argv[++i];
    } else if (strcmp(a, "-k") == 0 && more) {
      if (cli_parse_size(argv[++i], &k) || k == 0 || k > 10000) {
        fprintf(stderr, "vectro eval: -k needs an integer in 1..10000\n");
        return EXIT_USAGE;
      }
      k_given = 1;
    } else if (strcmp(a, "--threads") == 0 && more) {
      if (cli_parse_size(argv[++i], &threads) || threads > 4096) {
        fprintf(stderr, "vectro eval: --threads needs an integer in 0..4096\n");
        return EXIT_USAGE;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "vectro eval: unknown option '%s' or missing value (see --help)\n", a);
      return EXIT_USAGE;
    } else if (!path) {
      path = a;
    } else {
      fprintf(stderr, "vectro eval: one embeddings file only (got '%s' and '%s')\n", path, a);
      return EXIT_USAGE;
    }
  }
  if (!path) {
    usage_eval(stderr);
    return EXIT_USAGE;
  }
  size_t plen = strlen(path);
  if (plen > 4 && strcmp(path + plen - 4, ".vqz") == 0) {
    if (!original) {
      fprintf(stderr, "vectro eval: a .vqz needs --original ORIGINAL.npy to compare against\n");
      return EXIT_USAGE;
    }
    /* The file's codes are compared row by row; nothing else given would be used. */
    if (qpath || k_given || co.name || co.have_group || co.m || co.bits || co.have_seed ||
        co.center || co.have_rounding) {
      fprintf(stderr, "vectro eval: with a .vqz only --original and --threads apply (its codec is "
                      "the file's; for recall on its codes, run `vectro search`)\n");
      return EXIT_USAGE;
    }
    return cmd_eval_vqz(path, original, threads);
  }
  if (original) {
    fprintf(stderr, "vectro eval: --original applies to a .vqz file only\n");
    return EXIT_USAGE;
  }
  /* The Python names and the profiles work here too ("uint8", "int4-g32", "balanced"...). */
  vec_codec_params cp;
  if (cli_codec_resolve("eval", &co, &cp)) return EXIT_USAGE;

  float *x = NULL, *qs = NULL, *db = NULL, *rec = NULL, *scales = NULL, *best = NULL;
  unsigned char *codes = NULL;
  uint64_t *t1 = NULL, *t2 = NULL;
  vec_codec *c = NULL;
  size_t n, d, nq = 0, qd;
  int ret = 0, rc = cli_read_all(path, &x, &n, &d);
  if (rc) return fail_read(rc);
  if (qpath) {
    rc = cli_read_all(qpath, &qs, &nq, &qd);
    if (rc) {
      ret = fail_read(rc);
      goto done;
    }
    if (qd != d) {
      fprintf(stderr, "vectro eval: %s has dimension %zu, %s has %zu\n", qpath, qd, path, d);
      ret = EXIT_USAGE;
      goto done;
    }
  }
  /* Split: with --queries the whole file is the database; else every tenth row is a query. */
  size_t ndb = n;
  db = x;
  if (!qpath && n >= 100) {
    nq = n / 10 < 1000 ? n / 10 : 1000;
    qs = malloc(nq * d * sizeof(float));
    db = malloc((n - nq) * d * sizeof(float));
    if (!qs || !db) {
      ret = cli_fail("eval", VEC_E_NOMEM);
      goto done;
    }
    size_t iq = 0, idb = 0;
    for (size_t i = 0; i < n; i++) {
      if (i % 10 == 9 && iq < nq)
        memcpy(qs + iq++ * d, x + i * d, d * sizeof(float));
      else
        memcpy(db + idb++ * d, x + i * d, d * sizeof(float));
    }
    ndb = idb;
  }
  if (ndb == 0) {
    fprintf(stderr, "vectro eval: %s holds no vectors\n", path);
    ret = EXIT_DATA;
    goto done;
  }
  vec_codec_params p = cp;
  p.dim = d;
  if ((rc = vec_codec_create(&p, &c))) { /* parameters this dimension cannot take: usage */
    ret = cli_fail("eval", rc);
    if (rc == VEC_E_INVALID_ARG) ret = EXIT_USAGE;
    goto done;
  }
  if (vec_codec_needs_training(c) && (rc = vec_codec_train(c, db, ndb, d))) {
    ret = cli_fail(path, rc);
    goto done;
  }
  size_t cs = vec_codec_code_size(c), sc = vec_codec_scale_count(c);
  codes = malloc(ndb * cs + 1);
  scales = malloc(ndb * sc * sizeof(float) + 1);
  rec = malloc(ndb * d * sizeof(float));
  if (!codes || !scales || !rec) {
    ret = cli_fail("eval", VEC_E_NOMEM);
    goto done;
  }
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = (int)threads;
  if ((rc = vec_codec_encode(c, db, ndb, d, codes, sc ? scales : NULL, &o)) ||
      (rc = vec_codec_decode(c, codes, sc ? scales : NULL, ndb, rec, d, &o))) {
    ret = cli_fail(path, rc);
    goto done;
  }
  vec_quality qm = {sizeof qm, 0, 0, 0, 0, 0, 0, 0};
  if ((rc = vec_quality_measure(db, d, rec, d, ndb, d, &qm))) {
    ret = cli_fail(path, rc);
    goto done;
  }
  size_t bpv = cs + 4 * sc;
  char label[64];
  cli_codec_label(c, label, sizeof label);
  printf("vectro eval: %s (%zu x %zu), codec %s", path, n, d, label);
  printf("\nbytes/vector    %zu (float32: %zu), compression %.2fx\n", bpv, 4 * d,
         4.0 * (double)d / (double)bpv);
  cli_print_quality(p.codec, qm.zero_rows < ndb, qm.cosine_mean, qm.cosine_min, qm.rel_l2_mean,
                    qm.rel_l2_max, qm.mae);
  if (nq) {
    /* recall@k: the library's exact search over the originals and over the reconstructions */
    size_t kk = k < ndb ? k : ndb;
    t1 = malloc(nq * kk * sizeof *t1), t2 = malloc(nq * kk * sizeof *t2);
    best = malloc(nq * kk * sizeof *best);
    if (!t1 || !t2 || !best) {
      ret = cli_fail("eval", VEC_E_NOMEM);
      goto done;
    }
    if ((rc = vec_search_f32(db, ndb, d, d, qs, nq, d, kk, VEC_METRIC_IP, t1, best, &o)) ||
        (rc = vec_search_f32(rec, ndb, d, d, qs, nq, d, kk, VEC_METRIC_IP, t2, best, &o))) {
      ret = cli_fail(qpath ? qpath : "eval: query", rc);
      goto done;
    }
    double hits = 0;
    for (size_t i = 0; i < nq; i++)
      for (size_t a = 0; a < kk; a++)
        for (size_t b = 0; b < kk; b++)
          if (t1[i * kk + a] == t2[i * kk + b]) hits += 1;
    printf("recall@%zu       %.4f (%zu queries %s; exact inner-product search over x^ against "
           "float32, not a search on the codes)\n",
           k, hits / (double)(nq * kk), nq,
           qpath ? "from the queries file" : "held out of the input");
  }
done:
  if (db != x) free(db);
  free(x), free(qs), free(rec), free(scales), free(codes), free(t1), free(t2), free(best);
  vec_codec_free(c);
  return ret;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage_main(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage_main(stdout);
    return 0;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    printf("vectro %s\n", vec_version_string());
    return 0;
  }
  if (strcmp(cmd, "info") == 0) return cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "codecs") == 0) return cmd_codecs(argc - 1, argv + 1);
  if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
  if (strcmp(cmd, "compress") == 0) return cmd_compress(argc - 1, argv + 1);
  if (strcmp(cmd, "decompress") == 0) return cmd_decompress(argc - 1, argv + 1);
  if (strcmp(cmd, "verify") == 0) return cmd_verify(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
  if (strcmp(cmd, "search") == 0) return cmd_search(argc - 1, argv + 1);
  fprintf(stderr, "vectro: unknown command '%s' (see vectro --help)\n", cmd);
  return EXIT_USAGE;
}
