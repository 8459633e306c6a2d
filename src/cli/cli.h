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
