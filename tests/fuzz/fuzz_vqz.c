/* fuzz_vqz.c: libFuzzer target for the .vqz reader: opens the input as a file image, then reads
 * everything it promises (info, metadata, every row in chunks, the whole-file verify) and decodes
 * a few rows. Any input may be refused, but nothing may crash, leak or read outside the buffer.
 * Built with -DVEC_FUZZ_REPLAY_MAIN it is a plain program that replays files and directories of
 * inputs (the seed corpus in CI), for builds without -fsanitize=fuzzer. */
#include <stdlib.h>
#include <string.h>

#include "../../src/io/vqz_internal.h"
#include "vectro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vec_vqz_reader *r;
  if (vec_vqz_reader_open_memory(data, size, "fuzz", &r) != VEC_OK) return 0;
  vec_vqz_info info = {.struct_size = sizeof info};
  vec_vqz_get_info(r, &info);
  const vec_codec *codec = vec_vqz_codec(r);
  size_t cs = vec_codec_code_size(codec), sc = vec_codec_scale_count(codec);
  (void)strlen(vec_vqz_metadata(r));
  /* A file that opened holds every row it promises, so these buffers stay within a few times the
   * input's size. */
  enum { CHUNK = 16 };
  uint64_t n = vec_vqz_count(r);
  unsigned char *codes = malloc(CHUNK * cs);
  float *scales = malloc(CHUNK * (sc ? sc : 1) * sizeof(float));
  uint64_t *ids = malloc(CHUNK * sizeof(uint64_t));
  size_t d = vec_codec_get_params(codec)->dim;
  float *out = d <= 4096 ? malloc(CHUNK * d * sizeof(float)) : NULL;
  if (codes && scales && ids) {
    for (uint64_t first = 0; first < n; first += CHUNK) {
      size_t take = n - first < CHUNK ? (size_t)(n - first) : CHUNK;
      if (vec_vqz_read(r, first, take, codes, scales, vec_vqz_has_ids(r) ? ids : NULL) != VEC_OK)
        break;
      vec_batch_opts one = VEC_BATCH_OPTS_INIT;
      one.threads = 1;
      if (out && first < 4 * CHUNK) /* decode refuses bad scales; it must not crash on any */
        vec_codec_decode(codec, codes, scales, take, out, d, &one);
    }
  }
  vec_vqz_verify(r);
  free(codes);
  free(scales);
  free(ids);
  free(out);
  vec_vqz_reader_close(r);
  return 0;
}

#ifdef VEC_FUZZ_REPLAY_MAIN
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  unsigned char *buf = NULL;
  size_t size = 0, cap = 0;
  for (;;) {
    if (size == cap) {
      cap = cap ? cap * 2 : 4096;
      unsigned char *nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return 1;
      }
      buf = nb;
    }
    size_t got = fread(buf + size, 1, cap - size, f);
    if (!got) break;
    size += got;
  }
  fclose(f);
  /* An exact-size copy, so that ASan sees any read past the input's end. */
  unsigned char *exact = malloc(size ? size : 1);
  if (size) memcpy(exact, buf, size);
  free(buf);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  printf("ok %s (%zu bytes)\n", path, size);
  return 0;
}

int main(int argc, char **argv) {
  int failed = 0, files = 0;
  for (int a = 1; a < argc; a++) {
    struct stat st;
    if (stat(argv[a], &st) == 0 && S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[a]);
      for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[a], e->d_name);
        failed |= replay_file(p);
        files++;
      }
      if (d) closedir(d);
    } else {
      failed |= replay_file(argv[a]);
      files++;
    }
  }
  printf("%d inputs replayed\n", files);
  return failed || files == 0;
}
#endif
