/* search.c: `vectro search`, a thin front end over vec_index: the index (its metric, ids and
 * sidecars) comes from the file, the search defaults from vec_search_params, as in Python. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage_search(FILE *f) {
  fprintf(f,
          "usage: vectro search [-k K] [--metric ip|cosine|l2] [--rescore FILE] [--oversample F]\n"
          "                     [--rerank-oversample F] [--bound-scale S] [--threads N] [--mmap]\n"
          "                     INDEX.vqz QUERIES.npy\n\n"
          "Exhaustive search of the queries over an index saved by vectro.Index.save or any .vqz\n"
          "file (a file without ids answers row numbers), with the metric stored in the file\n"
          "(--metric overrides it; cosine when the file names none) and the sidecars save wrote\n"
          "(INDEX.vqz.rerank.vqz, INDEX.vqz.originals.npy). --rescore FILE adds a stage: float32\n"
          "originals (.npy, .fvecs) rescore exactly, a .vqz of a higher-precision codec (the same\n"
          "rows) rescores with its codes. The defaults are the library's, shared with Python:\n"
          "with a rerank codec, k x 20 candidates (--oversample) go to it and k x 2\n"
          "(--rerank-oversample) to the originals; with originals alone, rescoring by error bound\n"
          "where the codec gives one (each bound times S, default 1), else of k x 4 candidates.\n"
          "--mmap searches the codes in place from a memory map of INDEX.vqz (no copy in memory;\n"
          "the file must not be truncated meanwhile). Ctrl-C stops a long search. Prints one line "
          "per result: query<TAB>rank<TAB>id<TAB>score,\n"
          "and on stderr what was scanned and rescored.\n");
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}
static int check_interrupt(void *user, size_t done, size_t total) {
  (void)user, (void)done, (void)total;
  return interrupted != 0;
}

static int parse_factor(const char *s, double lo, double hi, double *out) {
  char *end;
  *out = strtod(s, &end);
  return *end || end == s || !(*out >= lo && *out <= hi);
}

int cmd_search(int argc, char **argv) {
  const char *path = NULL, *qpath = NULL, *extra = NULL;
  size_t k = 10, threads = 0;
  vec_search_params sp = VEC_SEARCH_PARAMS_INIT;
  int metric = -1, mapped = 0;
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    usage_search(stdout);
    return 0;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (strcmp(a, "-k") == 0 && more) {
      if (cli_parse_size(argv[++i], &k) || k == 0 || k > 100000) {
        fprintf(stderr, "vectro search: -k needs an integer in 1..100000\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--metric") == 0 && more) {
      const char *m = argv[++i];
      metric = !strcmp(m, "ip")       ? VEC_METRIC_IP
               : !strcmp(m, "cosine") ? VEC_METRIC_COSINE
               : !strcmp(m, "l2")     ? VEC_METRIC_L2
                                      : -2;
      if (metric == -2) {
        fprintf(stderr, "vectro search: --metric is ip, cosine or l2, not '%s'\n", m);
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--rescore") == 0 && more) {
      extra = argv[++i];
    } else if (strcmp(a, "--oversample") == 0 && more) {
      if (parse_factor(argv[++i], 1.0, 1000.0, &sp.oversample)) {
        fprintf(stderr, "vectro search: --oversample needs a number in 1..1000\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--rerank-oversample") == 0 && more) {
      if (parse_factor(argv[++i], 1.0, 1000.0, &sp.rerank_oversample)) {
        fprintf(stderr, "vectro search: --rerank-oversample needs a number in 1..1000\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--bound-scale") == 0 && more) {
      if (parse_factor(argv[++i], 1e-9, 16.0, &sp.bound_scale)) {
        fprintf(stderr, "vectro search: --bound-scale needs a number in (0, 16]\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--threads") == 0 && more) {
      if (cli_parse_size(argv[++i], &threads) || threads > 4096) {
        fprintf(stderr, "vectro search: --threads needs an integer in 0..4096\n");
        return EXIT_USAGE;
      }
    } else if (strcmp(a, "--mmap") == 0) {
      mapped = 1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "vectro search: unknown option '%s' or missing value (see --help)\n", a);
      return EXIT_USAGE;
    } else if (!path) {
      path = a;
    } else if (!qpath) {
      qpath = a;
    } else {
      fprintf(stderr, "vectro search: too many arguments ('%s')\n", a);
      return EXIT_USAGE;
    }
  }
  if (!path || !qpath) {
    usage_search(stderr);
    return EXIT_USAGE;
  }
  size_t len = extra ? strlen(extra) : 0;
  int extra_vqz = len >= 4 && strcmp(extra + len - 4, ".vqz") == 0;
  vec_index_load_options lo = VEC_INDEX_LOAD_OPTIONS_INIT;
  lo.originals = extra && !extra_vqz ? extra : NULL;
  lo.rerank = extra_vqz ? extra : NULL;
  lo.metric_override = metric;
  lo.mapped = mapped;
  vec_index *ix = NULL;
  float *q = NULL, *scores = NULL;
  uint64_t *ids = NULL;
  size_t nq = 0, qd = 0;
  int ret = 0, rc = vec_index_load(path, &lo, &ix);
  if (rc) {
    ret = cli_fail(extra && strstr(vec_last_error_message(), extra) ? extra : path, rc);
    /* vec_index_load refuses arguments only for --rescore rows that do not match the index (row
     * count, dimension, ids): two files that do not match, a usage error (README's exit codes). */
    return rc == VEC_E_INVALID_ARG ? EXIT_USAGE : ret;
  }
  size_t d = vec_index_dim(ix), n = vec_index_count(ix);
  if ((rc = cli_read_all(qpath, &q, &nq, &qd))) {
    ret = cli_fail(qpath, rc);
    goto done;
  }
  if (qd != d) {
    fprintf(stderr, "vectro search: %s has dimension %zu, %s has %zu\n", qpath, qd, path, d);
    ret = EXIT_USAGE;
    goto done;
  }
  ids = malloc(nq * k * sizeof *ids + 1), scores = malloc(nq * k * sizeof *scores + 1);
  if (!ids || !scores) {
    ret = cli_fail("search", VEC_E_NOMEM);
    goto done;
  }
  sp.threads = (int)threads;
  sp.progress = check_interrupt;
  /* ISO C signal(), not sigaction: Windows has only this one (the handler only sets a flag). */
  void (*old_sigint)(int) = signal(SIGINT, on_sigint);
  vec_search_stats st;
  rc = vec_index_search(ix, q, nq, d, k, &sp, ids, scores, &st);
  signal(SIGINT, old_sigint == SIG_ERR ? SIG_DFL : old_sigint);
  if (rc) {
    ret = rc == VEC_E_CANCELLED && interrupted
              ? (fprintf(stderr, "vectro search: interrupted\n"), 130)
              : cli_fail(qpath, rc);
    goto done;
  }
  const vec_codec *c = vec_index_codec(ix), *rr = vec_index_rerank(ix);
  char cname[64], rname[64]; /* the names --codec takes back (int4-g32, rabitq-4, pq-48x4) */
  cli_codec_label(c, cname, sizeof cname);
  if (rr) cli_codec_label(rr, rname, sizeof rname);
  static const char *const mnames[] = {"ip", "cosine", "l2"};
  fprintf(stderr, "vectro search: %zu queries over %zu rows (%s, %s)", nq, n, cname,
          mnames[vec_index_metric(ix)]);
  if (rr)
    fprintf(stderr, "; candidates rescored with the %s codes of %s", rname,
            extra ? extra : "the sidecar");
  if (vec_index_has_originals(ix))
    fprintf(stderr, "; %llu candidates rescored exactly against %s (%s)",
            (unsigned long long)st.rescored, extra && !extra_vqz ? extra : "the originals",
            rr                                               ? "after the rerank codec"
            : sp.oversample == 0 && vec_search_has_bounds(c) ? "by error bound"
                                                             : "by oversample");
  if (!rr && !vec_index_has_originals(ix)) fprintf(stderr, ", no rescoring");
  fprintf(stderr, "\n");
  for (size_t i = 0; i < nq; i++)
    for (size_t j = 0; j < k; j++)
      if (ids[i * k + j] != UINT64_MAX)
        printf("%zu\t%zu\t%llu\t%.6g\n", i, j, (unsigned long long)ids[i * k + j],
               (double)scores[i * k + j]);
done:
  vec_index_free(ix);
  free(q), free(ids), free(scores);
  return ret;
}
