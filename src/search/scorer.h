/* scorer.h: the scorer, one abstraction over the ways a row is scored (a codec's score hook,
 * decoded tiles, float rows). */
#ifndef VEC_SEARCH_SCORER_H
#define VEC_SEARCH_SCORER_H

#include <stdlib.h>
#include <string.h>

#include "../codecs/codec_impl.h"
#include "../common/platform.h"
#include "dots.h"

#define TILE_ROWS 128 /* rows decoded at once: 128 x d floats stays in L2 for usual d */
#define QBLOCK    8   /* queries scored per pass over a tile (a hook register-blocks over them) */

/* ---------------------------------------------------------------------------------------------
 * Scorers: one abstraction over the three ways a row gets scored. A codec with a score hook scores
 * straight from its codes against a prepared query (a quantized query, a lookup table); any other
 * codec decodes a tile and runs float dots against a copy of the float query; float32 rows are
 * their own tile. Everything above (heaps, threads, rescoring) goes through scorer_*.
 * ------------------------------------------------------------------------------------------- */
typedef struct scorer {
  const vec_codec *codec; /* NULL: float32 rows at x */
  const uint8_t *codes;
  const float *scales;
  size_t cs, sc;
  const float *x;
  size_t ldx;
  size_t d;
  int hooked;   /* codec->ops->score in use */
  int corr;     /* unhooked rows of a codec with the centre correction: dots get w t added */
  size_t qsize; /* bytes of one prepared query */
  size_t qcall; /* queries per score call */
  vec_search_dots_fn dots;
} scorer;

static inline void scorer_codes(scorer *s, const vec_codec *c, const void *codes,
                                const float *scales) {
  memset(s, 0, sizeof *s);
  s->codec = c;
  s->codes = codes;
  s->scales = scales;
  s->cs = c->ops->code_size(c);
  s->sc = c->ops->scale_count(c);
  s->d = c->d;
  s->hooked = c->ops->score && c->ops->query_prepare && c->ops->query_size &&
              (!c->ops->score_preferred || c->ops->score_preferred(c));
  /* An unhooked query is its d floats, then (with the correction) its weight q.c / |c|^2. */
  s->corr = !s->hooked && c->ccorr;
  s->qsize = s->hooked ? c->ops->query_size(c) : (s->d + (s->corr ? 1 : 0)) * sizeof(float);
  s->qcall = s->hooked && c->ops->score_queries ? c->ops->score_queries(c) : 0;
  if (s->qcall == 0) s->qcall = QBLOCK;
  s->dots = pick_dots();
}

static inline void scorer_f32(scorer *s, const float *x, size_t ldx, size_t d) {
  memset(s, 0, sizeof *s);
  s->x = x;
  s->ldx = ldx;
  s->d = d;
  s->qsize = d * sizeof(float);
  s->qcall = QBLOCK;
  s->dots = pick_dots();
}

/* Prepared queries live in one 64-byte aligned block: query j at qs + j * qsize. */
static inline uint8_t *scorer_prepare(const scorer *s, const float *queries, size_t nq,
                                      size_t ldq) {
  size_t bytes = nq * s->qsize;
  bytes = (bytes + 63) & ~(size_t)63;
  uint8_t *qs = vec_os_aligned_alloc(64, bytes ? bytes : 64);
  if (!qs) return NULL;
  for (size_t j = 0; j < nq; j++) {
    if (s->hooked)
      s->codec->ops->query_prepare(s->codec, queries + j * ldq, qs + j * s->qsize);
    else
      memcpy(qs + j * s->qsize, queries + j * ldq, s->d * sizeof(float));
    if (s->corr) {
      float w = vec_centre_query_weight(s->codec, queries + j * ldq);
      memcpy(qs + j * s->qsize + s->d * sizeof(float), &w, sizeof w);
    }
  }
  return qs;
}

static inline const float *scale_ptr(const scorer *s, size_t row) {
  return s->scales && s->sc ? s->scales + row * s->sc : s->scales;
}

/* Float rows [t0, t0 + tn) for the dot path: decoded into tile, or the float32 rows themselves.
 * NULL for a hooked codec, which never needs them to score. */
static inline const float *scorer_rows(const scorer *s, size_t t0, size_t tn, float *tile,
                                       size_t *ld) {
  if (!s->codec) {
    *ld = s->ldx;
    return s->x + t0 * s->ldx;
  }
  if (s->hooked) return NULL;
  s->codec->ops->decode(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, tile, s->d, 0);
  *ld = s->d;
  return tile;
}

/* sq[r] = |x_r|^2 as the scorer sees the rows: the codec's sqnorms hook, else the decoded row's
 * own dot (rows: what scorer_rows gave, or NULL to decode here into tile). */
static inline void scorer_sqnorms(const scorer *s, size_t t0, size_t tn, const float *rows,
                                  size_t ld, float *tile, float *sq) {
  if (s->codec && s->codec->ops->sqnorms) {
    s->codec->ops->sqnorms(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, sq);
    return;
  }
  if (!rows) {
    s->codec->ops->decode(s->codec, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, tile, s->d, 0);
    rows = tile;
    ld = s->d;
  }
  for (size_t r = 0; r < tn; r++) sq[r] = dot1(s->dots, rows + r * ld, rows + r * ld, s->d);
}

/* ip[j * ldo + r] for nb prepared queries (at qs) and rows [t0, t0 + tn); err likewise where not
 * NULL (hooked codecs only). A row's score does not depend on tn, nb or its neighbours. */
static inline void scorer_score(const scorer *s, const uint8_t *qs, size_t nb, size_t t0, size_t tn,
                                const float *rows, size_t ld, float *ip, float *err, size_t ldo) {
  if (s->hooked) {
    s->codec->ops->score(s->codec, qs, nb, s->codes + t0 * s->cs, scale_ptr(s, t0), tn, ip, err,
                         ldo);
    return;
  }
  for (size_t j = 0; j < nb; j++) {
    s->dots((const float *)(const void *)(qs + j * s->qsize), rows, ld, NULL, tn, s->d,
            ip + j * ldo);
    if (s->corr) {
      /* The hooked path's arithmetic (centre.c): the estimate, then w t added. */
      float w;
      memcpy(&w, qs + j * s->qsize + s->d * sizeof(float), sizeof w);
      const float *t = s->scales + t0 * s->sc + s->sc - 1;
      for (size_t r = 0; r < tn; r++) ip[j * ldo + r] += w * t[r * s->sc];
    }
  }
}

#endif
