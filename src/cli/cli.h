/* cli.h: what the `vectro` commands share: exit codes, error reporting, codec names, progress. */
#ifndef VEC_CLI_H
#define VEC_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "vectro.h"

/* Exit codes: part of the interface, documented in `vectro --help` and the README. */
enum { EXIT_DATA = 1, EXIT_USAGE = 2, EXIT_FILE = 3, EXIT_INTERNAL = 4 };

/* Maps a library error to an exit code. */
int cli_exit_for(int rc);
/* Prints "vectro: <what>: <library detail>" to stderr; returns cli_exit_for(rc). */
int cli_fail(const char *what, int rc);
/* Parses a non-negative decimal; 0 on success. */
int cli_parse_size(const char *s, size_t *out);
/* Fills codec parameters from a name: every C name, plus the Python ones ("uint8", "int4-g32")
 * and the profiles ("quality", "balanced", "fast"). 0 on success. */
int cli_codec_params(const char *name, size_t dim, vec_codec_params *p);

/* The codec's name as --codec takes it back ("int4-g32", "uint8", "rabitq-4", "pq-48x4"): the one
 * name every command prints. Returns snprintf's count. */
int cli_codec_label(const vec_codec *c, char *buf, size_t cap);

/* The codec flags compress and eval share (opts.c). */
typedef struct cli_codec_opts {
  const char *name; /* --codec or --profile; NULL: int8 */
  size_t group, m, bits;
  unsigned long long seed;
  int have_group, have_seed, center, rounding, have_rounding;
} cli_codec_opts;
/* Parses argv[*i] if it is a codec flag (advancing *i past its value): 1 taken, 0 not a codec
 * flag, -1 a bad value (the message is printed; exit EXIT_USAGE). */
int cli_codec_option(const char *cmd, int argc, char **argv, int *i, cli_codec_opts *o);
/* Checks the flags against each other and fills the parameters (dimension left at 1); 0, or
 * EXIT_USAGE with the message printed. */
int cli_codec_resolve(const char *cmd, const cli_codec_opts *o, vec_codec_params *cp);
/* 1 when both paths name one existing file (through links, symbolic or hard). */
int cli_same_file(const char *a, const char *b);
/* NULL when text is one JSON value (UTF-8, nesting at most 512 deep); else what is wrong, with
 * *where its byte offset. */
const char *cli_json_check(const char *text, size_t *where);

/* Prints eval's quality lines, each with its unit and how it is measured; binary's reconstruction
 * (signs, +-1) has no magnitude, so only its cosine is printed. `have` 0: every row was zero. */
void cli_print_quality(vec_codec_id id, int have, double cos_mean, double cos_min, double rel_mean,
                       double rel_max, double mae);

/* Reads a whole embeddings file (.npy, .fvecs, ...) as n x d float32 rows (free with free()). */
int cli_read_all(const char *path, float **x, size_t *n, size_t *d);

/* A progress bar on stderr (rate, ETA), shown only when stderr is a terminal and not quiet. */
typedef struct cli_progress {
  const char *label;
  uint64_t total;
  double start, last;
  int enabled;
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, uint64_t total, int quiet);
void cli_progress_update(cli_progress *p, uint64_t done, double bytes_per_row);
void cli_progress_end(cli_progress *p);

int cmd_compress(int argc, char **argv);
int cmd_decompress(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_info_file(const char *path);
int cmd_bench(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_eval_vqz(const char *vqz, const char *original, size_t threads);

#endif
