/* codec_impl.h: what every codec module provides to the generic codec object (codec.c).
 * A module owns its math and reads its kernels from the kernel table (vec_kernels_get(); it never
 * chooses one itself); codec.c owns argument checks, threads, progress, training storage and
 * serialization. */
#ifndef VEC_CODEC_IMPL_H
#define VEC_CODEC_IMPL_H

#include <math.h>

#include "../common/internal.h"
#include "../kernels/kernels.h"

struct vec_codec_s {
  const struct vec_codec_ops *ops;  /* base, or &centred below for a generically centred codec */
  const struct vec_codec_ops *base; /* the module's own ops */
  vec_codec_params p;
  size_t d;
  int needs_training; /* ops->needs_training, or set by the parameters (centred rabitq) */
  int trained;
  /* Calibrated codecs: per-dimension range [lo, hi], and derived step = (hi - lo) / 255 and
   * inv = 1 / step (0 where the range is 0). NULL for the others. One allocation of 4d floats. */
  float *lo, *hi, *step, *inv;
  /* Codecs with learned or seeded state beyond ranges (rabitq's rotation, pq's codebooks): owned
   * by the module through the state hooks below. NULL for the others. */
  void *state;
  /* Generic centring (params.center on a codec whose module does not centre itself, see
   * centre.c): ops points at `centred`, a copy of the module's ops whose encode, decode, query
   * and score wrap the module's: rows are coded as x - cen, decoded as cen + cscale * x^, and a
   * query's score gets q.cen added. cscale is 1 except for binary (its +-1 codes need the mean
   * |x - cen| to decode to the data's scale). NULL cen: uncentred. */
  float *cen;
  float cscale;
  int cen_set; /* the centre was trained or read */
  /* A centred codec other than binary keeps one more scale a row (the last): the centre
   * correction t = cen . e, e = x - x^ the coding error, signed, which the search adds to a
   * query's estimate as (q . cen / |cen|^2) t. Where queries share the data's offset (e5-style
   * embeddings), q . e is mostly a multiple of cen . e: the part of the coding error that shifts a
   * row's score for every query. 0 for codecs read from files written before it existed (2.1). */
  int ccorr;
  struct vec_codec_ops *centred;
};

typedef struct vec_codec_ops {
  vec_codec_id id;
  const char *name;
  int needs_training; /* always; a codec whose parameters decide sets c->needs_training in init */
  int own_center;     /* the module centres itself (rabitq); else codec.c wraps it (centre.c) */
  int can_center;     /* params.center is accepted (a codec that loses nothing to offsets cannot) */
  size_t (*code_size)(const vec_codec *c);
  size_t (*scale_count)(const vec_codec *c);
  /* Encodes rows [0, n): codes at stride code_size bytes, scales at stride scale_count floats.
   * Returns n, or the first row it cannot encode with *rc set to VEC_E_NONFINITE or VEC_E_RANGE
   * (rows after it are left unspecified). flags: VEC_KF_*. */
  size_t (*encode)(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                   float *scales, unsigned flags, int *rc);
  /* Decodes rows [0, n) into out (stride ldo floats). Scales were validated by the caller. */
  void (*decode)(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                 float *out, size_t ldo, unsigned flags);

  /* ---- Optional hooks: NULL where a codec has no use for them. ---- */
  /* Validates the codec-specific parameters at create time (vec_fail with a message). */
  int (*check)(const vec_codec_params *p);
  /* Allocates c->state at create time (a seeded rotation needs no training). */
  int (*init)(vec_codec *c);
  /* Training other than per-dimension ranges (k-means, rabitq's centre). Set: the codec has no
   * ranges and vec_codec_train calls this after the generic checks (n >= 1, finite rows). */
  int (*train)(vec_codec *c, const float *x, size_t n, size_t ldx, const vec_batch_opts *o);
  void (*free_state)(vec_codec *c);
  /* Serialized state (written after the parameters, CRC-covered). state_read validates it all:
   * it comes from a file. */
  size_t (*state_size)(const vec_codec *c);
  void (*state_write)(const vec_codec *c, uint8_t *p);
  int (*state_read)(vec_codec *c, const uint8_t *p, size_t size);

  /* ---- Search straight from codes (search/flat.c); NULL: decode a tile, float dot products. ----
   * query_prepare turns a float query (d floats, finite) into query_size bytes of per-query state
   * (a quantized query, a lookup table). score writes ip[j * ldo + r] = the codec's estimate of
   * q_j . x_r for nq prepared queries (at qs + j * query_size) and nr rows; where err is not NULL
   * it also writes err[j * ldo + r], a bound with |q_j . x_r - estimate| <= err in all but a
   * vanishing fraction of cases (codecs with error bounds; the search rescores what the bound
   * cannot rule out). A row's estimate must not depend on nr, nq or which rows share the call. */
  int bounded; /* score writes err: the search can rescore by bound instead of a fixed oversample */
  size_t (*query_size)(const vec_codec *c);
  void (*query_prepare)(const vec_codec *c, const float *q, void *qs);
  void (*score)(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                const float *scales, size_t nr, float *ip, float *err, size_t ldo);
  /* Whether the search should use score for this codec instance (NULL: yes). A hook whose kernel
   * is only scalar for some parameters (int4 with per-group scales) loses to decode + SIMD dots. */
  int (*score_preferred)(const vec_codec *c);
  /* Queries per score call that amortize the hook's per-call work (pq's 4-bit code transpose);
   * NULL or 0: the search's default of 8. */
  size_t (*score_queries)(const vec_codec *c);
  /* Generic centring: prepares the query for codes of x - cen where plain query_prepare(q) is not
   * what the codes want (binary: the sign bits of q - cen, so the scan stays pure Hamming). */
  void (*query_prepare_centred)(const vec_codec *c, const float *q, const float *cen, void *qs);
  /* |x|^2 per row as the codec estimates it (for L2 and cosine); NULL: |decode(x)|^2. */
  void (*sqnorms)(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                  float *out);
} vec_codec_ops;

/* Codecs with per-dimension ranges (the calibrated ones): trained by ranges, not by a hook. */
#define VEC_HAS_RANGES(c) ((c)->base->needs_training && !(c)->base->train)
/* Bytes between prepared queries: the module's query_size, or more when centring wraps it. A
 * module's score hook must step through its nq queries by this, not by its own size. */
#define VEC_QSTRIDE(c) ((c)->ops->query_size(c))
/* Top level of a calibrated codec's code (uint4-cal: 15, uint6-cal: 63, the others 255). */
#define VEC_CAL_LEVELS(c)                                                                          \
  ((c)->base->id == VEC_CODEC_UINT4_CAL   ? 15.0f                                                  \
   : (c)->base->id == VEC_CODEC_UINT6_CAL ? 63.0f                                                  \
                                          : 255.0f)

/* Generic centring (centre.c). */
VEC_HIDDEN int vec_centre_setup(vec_codec *c);
/* q . cen / |cen|^2 in double: the weight of a row's centre correction in q's estimate. */
VEC_HIDDEN float vec_centre_query_weight(const vec_codec *c, const float *q);
/* The first of the n * scale_count scales (rows at stride scale_count) that the codec cannot
 * take: NaN or Inf anywhere, or a negative value but in the centre correction's slot (the last);
 * n * scale_count if none. Scales come from files and users: a bad one would poison a row. */
static inline size_t vec_codec_bad_scale(const vec_codec *c, const float *scales, size_t n) {
  size_t sc = c->ops->scale_count(c), corr = c->ccorr ? sc - 1 : sc;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < sc; j++) {
      float v = scales[i * sc + j];
      if (j == corr ? !isfinite(v) : !(v >= 0.0f) || isinf(v)) return i * sc + j;
    }
  return n * sc;
}
VEC_HIDDEN void vec_centre_free(vec_codec *c);
/* Trains the centre on x (sampling as params.train_max) and returns in *xc a malloc'ed copy of
 * the sampled rows minus the centre (n_out rows, stride d) for the module's own training. */
VEC_HIDDEN int vec_centre_train(vec_codec *c, const float *x, size_t n, size_t ldx, float **xc,
                                size_t *n_out);

/* One per module; a module that is not built yet simply is not listed in codec.c. */
VEC_HIDDEN extern const vec_codec_ops vec_ops_int8;
VEC_HIDDEN extern const vec_codec_ops vec_ops_f16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_bf16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int16;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int4;
VEC_HIDDEN extern const vec_codec_ops vec_ops_binary;
VEC_HIDDEN extern const vec_codec_ops vec_ops_uint8_cal;
VEC_HIDDEN extern const vec_codec_ops vec_ops_int8_cal;
VEC_HIDDEN extern const vec_codec_ops vec_ops_rabitq;
VEC_HIDDEN extern const vec_codec_ops vec_ops_pq;
VEC_HIDDEN extern const vec_codec_ops vec_ops_uint4_cal;
VEC_HIDDEN extern const vec_codec_ops vec_ops_uint6_cal;

/* vec_crc32c, the checksum of serialized codecs and .vqz blocks, is public: vectro.h. */

#endif
