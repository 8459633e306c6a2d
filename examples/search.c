/* search.c: exhaustive top-10 search of the sample's queries over int8 codes, then the same with
 * exact rescoring against the float32 originals (k x 4 candidates), each against the exact
 * float32 search. Usage: search [CORPUS.npy QUERIES.npy] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_util.h"

enum { K = 10 };

static double recall(const uint64_t *got, const uint64_t *exact, size_t nq) {
  size_t hit = 0;
  for (size_t j = 0; j < nq; j++)
    for (size_t a = 0; a < K; a++)
      for (size_t b = 0; b < K; b++) hit += got[j * K + a] == exact[j * K + b];
  return (double)hit / (double)(nq * K);
}

int main(int argc, char **argv) {
  const char *cpath = argc > 2 ? argv[1] : "data/sample/corpus.npy";
  const char *qpath = argc > 2 ? argv[2] : "data/sample/queries.npy";
  size_t n, d, nq, dq;
  float *x = load_rows(cpath, &n, &d), *q = load_rows(qpath, &nq, &dq);
  if (dq != d) return fprintf(stderr, "queries have dimension %zu, the corpus %zu\n", dq, d), 2;

  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, d);
  vec_codec *codec;
  CHECK(vec_codec_create(&p, &codec));
  int8_t *codes = malloc(vec_codec_code_size(codec) * n);
  float *scales = malloc(sizeof(float) * n), *scores = malloc(sizeof(float) * nq * K);
  uint64_t *exact = malloc(sizeof(uint64_t) * nq * K), *ids = malloc(sizeof(uint64_t) * nq * K);
  if (!codes || !scales || !scores || !exact || !ids) return 1;
  CHECK(vec_codec_encode(codec, x, n, d, codes, scales, NULL));

  CHECK(vec_search_f32(x, n, d, d, q, nq, d, K, VEC_METRIC_IP, exact, scores, NULL));
  CHECK(vec_search_codes(codec, codes, scales, n, NULL, q, nq, d, K, VEC_METRIC_IP, ids, scores,
                         NULL));
  double r_codes = recall(ids, exact, nq);
  vec_search_stats st;
  CHECK(vec_search_rescore(codec, codes, scales, n, x, d, NULL, q, nq, d, K, VEC_METRIC_IP, 4.0,
                           1.0, ids, scores, &st, NULL));
  double r_rescored = recall(ids, exact, nq);
  printf("%zu queries over %zu int8 codes (d = %zu): recall@10 %.3f on the codes, %.3f rescored "
         "(%llu of %llu pairs read exactly); query 0's best: row %llu, score %.4f\n",
         nq, n, d, r_codes, r_rescored, (unsigned long long)st.rescored,
         (unsigned long long)st.scanned, (unsigned long long)ids[0], (double)scores[0]);
  vec_codec_free(codec);
  free(x), free(q), free(codes), free(scales), free(scores), free(exact), free(ids);
  return r_rescored >= r_codes && r_codes > 0.9 ? 0 : 1;
}
