/* codec_api.c: every codec through the one vec_codec object: create (training the ones that
 * learn from data), encode, decode, measure what it cost, serialize and restore.
 * Usage: codec_api [EMBEDDINGS.npy]   (default: the shipped sample) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h"

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "data/sample/corpus.npy";
  size_t n, d;
  float *x = load_rows(path, &n, &d);
  /* the codec's base name, and the name with the parameters set below */
  const char *names[] = {"f16",    "bf16",      "int16",  "int8", "int4",
                         "binary", "uint8-cal", "rabitq", "pq"};
  const char *shown[] = {"f16",    "bf16",      "int16",    "int8",   "int4-g32",
                         "binary", "uint8-cal", "rabitq-4", "pq-48x8"};
  float *x_hat = malloc(sizeof(float) * n * d);
  if (!x_hat) return 1;
  printf("%zu x %zu float32 from %s\n", n, d, path);
  printf("%-10s %9s %7s %10s %10s\n", "codec", "bytes/vec", "ratio", "cos mean", "cos min");
  for (size_t c = 0; c < sizeof names / sizeof *names; c++) {
    vec_codec_id id;
    CHECK(vec_codec_from_name(names[c], &id));
    vec_codec_params p = VEC_CODEC_PARAMS_INIT(id, d);
    if (id == VEC_CODEC_INT4) p.group_size = 32;              /* int4-g32 */
    if (id == VEC_CODEC_RABITQ) p.bits = 4;                   /* rabitq-4 */
    if (id == VEC_CODEC_PQ) p.m = 48, p.bits = 8, p.seed = 1; /* pq-48x8 */
    vec_codec *codec;
    CHECK(vec_codec_create(&p, &codec));
    if (vec_codec_needs_training(codec)) CHECK(vec_codec_train(codec, x, n, d));

    size_t code_size = vec_codec_code_size(codec), sc = vec_codec_scale_count(codec);
    unsigned char *codes = malloc(code_size * n);
    float *scales = sc ? malloc(sizeof(float) * sc * n) : NULL;
    if (!codes || (sc && !scales)) return 1;
    CHECK(vec_codec_encode(codec, x, n, d, codes, scales, NULL)); /* NULL opts: all cores */
    CHECK(vec_codec_decode(codec, codes, scales, n, x_hat, d, NULL));

    vec_quality q;
    memset(&q, 0, sizeof q);
    q.struct_size = sizeof q;
    CHECK(vec_quality_measure(x, d, x_hat, d, n, d, &q));
    size_t bytes = code_size + 4 * sc;
    printf("%-10s %9zu %6.2fx %10.6f %10.6f\n", shown[c], bytes, 4.0 * (double)d / (double)bytes,
           q.cosine_mean, q.cosine_min);

    /* The codec's parameters and everything it learned travel as bytes (stored in .vqz files). */
    size_t size = vec_codec_serialized_size(codec);
    void *buf = malloc(size);
    vec_codec *again;
    if (!buf) return 1;
    CHECK(vec_codec_serialize(codec, buf, size));
    CHECK(vec_codec_deserialize(buf, size, &again));
    if (vec_codec_code_size(again) != code_size) return 1;
    vec_codec_free(again);
    free(buf), free(codes), free(scales);
    vec_codec_free(codec);
  }
  free(x), free(x_hat);
  return 0;
}
