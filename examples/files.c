/* files.c: write a .vqz file (int4-g32 codes, ids, JSON metadata) from float rows, reopen it,
 * read a row range back with its ids, and verify every checksum.
 * Usage: files [EMBEDDINGS.npy [OUT.vqz]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

int main(int argc, char **argv) {
  const char *in = argc > 1 ? argv[1] : "data/sample/corpus.npy";
  const char *out = argc > 2 ? argv[2] : "example_files.vqz";
  size_t n, d;
  float *x = load_rows(in, &n, &d);

  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT4, d);
  p.group_size = 32;
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec));
  uint64_t *ids = malloc(sizeof(uint64_t) * n);
  if (!ids) return 1;
  for (size_t i = 0; i < n; i++) ids[i] = 1000000 + i; /* your document ids */

  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.with_ids = 1;
  o.metadata = "{\"model\": \"all-MiniLM-L6-v2\"}";
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(out, codec, &o, &w)); /* a temporary beside OUT until finish */
  CHECK(vec_vqz_writer_append_floats(w, x, n, d, ids, NULL));
  CHECK(vec_vqz_writer_finish(w)); /* footer, fsync, rename: now OUT exists, complete */

  vec_vqz_reader *r;
  CHECK(vec_vqz_reader_open(out, &r));
  vec_vqz_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK(vec_vqz_get_info(r, &info));
  const vec_codec *fc = vec_vqz_codec(r);
  size_t rows = n < 10 ? n : 10, first = n / 2 < n - rows ? n / 2 : n - rows;
  unsigned char *codes = malloc(vec_codec_code_size(fc) * rows);
  float *scales = malloc(sizeof(float) * vec_codec_scale_count(fc) * rows);
  uint64_t *got = malloc(sizeof(uint64_t) * rows);
  if (!codes || !scales || !got) return 1;
  CHECK(vec_vqz_read(r, first, rows, codes, scales, got)); /* touched blocks are checksummed */
  CHECK(vec_vqz_verify(r));                                /* every block and the whole file */
  printf("%s: %llu rows x %zu, %llu blocks, %llu bytes, metadata %s; row %zu has id %llu\n", out,
         (unsigned long long)info.count, info.dim, (unsigned long long)info.blocks,
         (unsigned long long)info.file_size, vec_vqz_metadata(r), first,
         (unsigned long long)got[0]);
  int ok = got[0] == 1000000 + first && info.count == n;
  vec_vqz_reader_close(r);
  vec_codec_free(codec);
  free(x), free(ids), free(codes), free(scales), free(got);
  remove(out);
  return ok ? 0 : 1;
}
