/* centre.c: generic centring (params.center) for codecs whose module does not centre itself:
 * the mean c of the training rows is subtracted before encoding and added back after decoding,
 * and search scores gain the q.c term, by wrapping the module's ops (codec_impl.h).
 *
 * Why: embeddings of many models (e5, ada-002) sit in a narrow cone (mean pairwise cosine ~0.8),
 * so a codec that spends its levels on x wastes them on the shared offset; on x - c they resolve
 * what tells rows apart (data/e5: binary recall@10 0.08 -> 0.32, int4 0.72 -> 0.83).
 *
 * The score of a query against a row is the module's estimate of q.(x - c) plus q.c, so inner
 * products, cosine and L2 (whose |x|^2 the search takes from decoded rows) stay correct. Binary is
 * the one exception to "the module's estimate": its query bits are sign(q - c), so the scan stays
 * pure Hamming between sign(q - c) and sign(x - c) (FAISS IndexBinaryFlat on centred data); its
 * score cscale * mq * (d - 2 hamming) + q.c estimates (q - c).(x - c) + q.c, leaving out the
 * per-row c.(x - c), which would need a weighted sum per row instead of a popcount.
 *
 * The centre correction (every centred codec but binary): a row's coding error e = x - x^ costs
 * q.e in every score. Where queries share the data's offset, q = a c + r with a = q.c / |c|^2
 * near 1 and |r| about half |q| (data/e5), so most of q.e is a c.e, the same for every query: the
 * encoder stores t = c.e as one more scale per row (the last) and the score adds a t, leaving
 * only r.e. recall@10 on e5 codes: uint8 0.989 -> 0.992, uint4 0.854 -> 0.916, int8 0.986 ->
 * 0.994 (docs/quality.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

/* Rows handled per chunk by the wrapped encoder (its scratch is one chunk of d floats a row). */
#define CHUNK_ROWS 64
/* The module's own scales of a chunk of rows, gathered out of rows that also hold the correction:
 * floats on the stack (a module has at most d / 32 scales a row, so chunks stay >= 1 row). */
#define GATHER_FLOATS 1024

static size_t c_scale_count(const vec_codec *c) {
  return c->base->scale_count(c) + (c->ccorr ? 1 : 0);
}

/* Rows [i0, i0 + m) of the module's scales out of rows of sc = bsc + 1 (the correction last). */
static size_t gather_rows(size_t n, size_t bsc) {
  size_t m = bsc ? GATHER_FLOATS / bsc : n;
  return m ? m : 1;
}
static void gather_scales(const float *scales, size_t m, size_t bsc, float *out) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < bsc; j++) out[i * bsc + j] = scales[i * (bsc + 1) + j];
}

/* q.c in double, in order: the same bits on every ISA. */
static float dot_centre(const vec_codec *c, const float *q) {
  double s = 0.0;
  for (size_t j = 0; j < c->d; j++) s += (double)q[j] * c->cen[j];
  return (float)s;
}

/* o = r - cen; VEC_E_NONFINITE for NaN or Inf in r, VEC_E_RANGE where a finite value is so far
 * from the centre that the difference overflows. */
static int centre_row(const vec_codec *c, const float *r, float *o) {
  for (size_t j = 0; j < c->d; j++) {
    if (!isfinite(r[j])) return VEC_E_NONFINITE;
    o[j] = r[j] - c->cen[j];
    if (!isfinite(o[j])) return VEC_E_RANGE;
  }
  return VEC_OK;
}

/* t = c.((x - c) - dec) in double for row i of a chunk: xc the centred rows, dec their decoding. */
static float correction(const vec_codec *c, const float *xc, const float *dec) {
  double t = 0.0;
  for (size_t j = 0; j < c->d; j++) t += (double)c->cen[j] * ((double)xc[j] - (double)dec[j]);
  return (float)t;
}

static size_t c_encode(const vec_codec *c, const float *x, size_t n, size_t ldx, uint8_t *codes,
                       float *scales, unsigned flags, int *rc) {
  size_t d = c->d, cs = c->base->code_size(c), bsc = c->base->scale_count(c);
  size_t sc = bsc + (c->ccorr ? 1 : 0);
  size_t rows = d <= 4096 ? CHUNK_ROWS : 1;
  /* With the correction: the chunk's own scales (bs) and its decoding (dec) as well. */
  float *buf = malloc(rows * d * sizeof(float) * (c->ccorr ? 2 : 1));
  float *bs = c->ccorr && bsc ? malloc(rows * bsc * sizeof(float)) : NULL;
  if (!buf || (c->ccorr && bsc && !bs)) {
    free(buf), free(bs);
    *rc = VEC_E_NOMEM;
    return 0;
  }
  float *dec = buf + rows * d;
  for (size_t i0 = 0; i0 < n; i0 += rows) {
    size_t m = n - i0 < rows ? n - i0 : rows, good = m;
    int bad = VEC_OK;
    for (size_t i = 0; i < m && !bad; i++)
      if ((bad = centre_row(c, x + (i0 + i) * ldx, buf + i * d))) good = i;
    uint8_t *ci = codes + i0 * cs;
    float *si = c->ccorr ? bs : scales ? scales + i0 * sc : NULL;
    size_t done = good ? c->base->encode(c, buf, good, d, ci, si, flags, rc) : 0;
    if (c->ccorr && done) {
      c->base->decode(c, ci, bs, done, dec, d, 0);
      for (size_t i = 0; i < done; i++) {
        float *so = scales + (i0 + i) * sc;
        for (size_t j = 0; j < bsc; j++) so[j] = bs[i * bsc + j];
        /* A row so large that c.e leaves float32 (|c| |e| > 3.4e38) keeps the plain estimate
         * rather than becoming an error it was not before. */
        float t = correction(c, buf + i * d, dec + i * d);
        so[bsc] = isfinite(t) ? t : 0.0f;
      }
    }
    if (done < good || bad) {
      if (done == good) *rc = bad;
      free(buf), free(bs);
      return i0 + done;
    }
  }
  free(buf), free(bs);
  return n;
}

/* x^ = c + cscale * (the module's decoding of x - c): a multiply then an add, never fused. */
static void c_decode(const vec_codec *c, const uint8_t *codes, const float *scales, size_t n,
                     float *out, size_t ldo, unsigned flags) {
  size_t bsc = c->base->scale_count(c);
  if (!c->ccorr || !bsc) {
    c->base->decode(c, codes, c->ccorr ? NULL : scales, n, out, ldo, flags);
  } else {
    float bs[GATHER_FLOATS];
    size_t step = gather_rows(n, bsc), cs = c->base->code_size(c);
    for (size_t i0 = 0; i0 < n; i0 += step) {
      size_t m = n - i0 < step ? n - i0 : step;
      gather_scales(scales + i0 * (bsc + 1), m, bsc, bs);
      c->base->decode(c, codes + i0 * cs, bs, m, out + i0 * ldo, ldo, flags);
    }
  }
  float s = c->cscale;
  for (size_t i = 0; i < n; i++) {
    float *o = out + i * ldo;
    if (s == 1.0f)
      for (size_t j = 0; j < c->d; j++) o[j] = c->cen[j] + o[j];
    else
      for (size_t j = 0; j < c->d; j++) {
        float p = s * o[j];
        o[j] = c->cen[j] + p;
      }
  }
}

float vec_centre_query_weight(const vec_codec *c, const float *q) {
  double qc = 0.0, cc = 0.0;
  for (size_t j = 0; j < c->d; j++) {
    qc += (double)q[j] * c->cen[j];
    cc += (double)c->cen[j] * c->cen[j];
  }
  return cc > 0.0 ? (float)(qc / cc) : 0.0f;
}

/* Prepared query: the module's bytes, then a 64-byte trailer holding q.c and, for the centre
 * correction, q.c / |c|^2. */
static size_t c_query_size(const vec_codec *c) { return c->base->query_size(c) + 64; }

static void c_query_prepare(const vec_codec *c, const float *q, void *qs) {
  size_t bq = c->base->query_size(c);
  uint8_t *t = (uint8_t *)qs + bq;
  memset(t, 0, 64);
  if (c->base->query_prepare_centred)
    c->base->query_prepare_centred(c, q, c->cen, qs);
  else
    c->base->query_prepare(c, q, qs);
  float qc = dot_centre(c, q), w = c->ccorr ? vec_centre_query_weight(c, q) : 0.0f;
  memcpy(t, &qc, sizeof qc);
  memcpy(t + sizeof qc, &w, sizeof w);
}

static void c_score(const vec_codec *c, const void *qs, size_t nq, const uint8_t *codes,
                    const float *scales, size_t nr, float *ip, float *err, size_t ldo) {
  size_t bsc = c->base->scale_count(c);
  if (!c->ccorr || !bsc) {
    c->base->score(c, qs, nq, codes, c->ccorr ? NULL : scales, nr, ip, err, ldo);
  } else {
    float bs[GATHER_FLOATS];
    size_t step = gather_rows(nr, bsc), cs = c->base->code_size(c);
    for (size_t i0 = 0; i0 < nr; i0 += step) {
      size_t m = nr - i0 < step ? nr - i0 : step;
      gather_scales(scales + i0 * (bsc + 1), m, bsc, bs);
      c->base->score(c, qs, nq, codes + i0 * cs, bs, m, ip + i0, err ? err + i0 : NULL, ldo);
    }
  }
  size_t stride = c_query_size(c), bq = c->base->query_size(c), sc = bsc + 1;
  for (size_t j = 0; j < nq; j++) {
    float qc, w;
    memcpy(&qc, (const uint8_t *)qs + j * stride + bq, sizeof qc);
    memcpy(&w, (const uint8_t *)qs + j * stride + bq + sizeof qc, sizeof w);
    float s = c->cscale, *r = ip + j * ldo;
    if (c->ccorr)
      for (size_t i = 0; i < nr; i++) {
        float p = s * r[i], a = w * scales[i * sc + bsc];
        r[i] = (p + qc) + a;
      }
    else
      for (size_t i = 0; i < nr; i++) {
        float p = s * r[i];
        r[i] = p + qc;
      }
  }
}

int vec_centre_setup(vec_codec *c) {
  c->cen = calloc(c->d, sizeof(float));
  c->centred = malloc(sizeof *c->centred);
  if (!c->cen || !c->centred) {
    vec_centre_free(c);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  *c->centred = *c->base;
  c->centred->scale_count = c_scale_count;
  c->centred->encode = c_encode;
  c->centred->decode = c_decode;
  /* The module's |x|^2 would be that of x - c: the search decodes rows for norms instead. */
  c->centred->sqnorms = NULL;
  if (c->base->score && c->base->query_prepare && c->base->query_size) {
    c->centred->query_size = c_query_size;
    c->centred->query_prepare = c_query_prepare;
    c->centred->score = c_score;
  }
  c->cscale = 1.0f;
  c->ccorr = c->base->id != VEC_CODEC_BINARY;
  c->ops = c->centred;
  c->needs_training = 1;
  return VEC_OK;
}

void vec_centre_free(vec_codec *c) {
  free(c->cen);
  free(c->centred);
  c->cen = NULL;
  c->centred = NULL;
}

int vec_centre_train(vec_codec *c, const float *x, size_t n, size_t ldx, float **xc,
                     size_t *n_out) {
  size_t d = c->d, step = 1;
  if (c->p.train_max && n > c->p.train_max) step = (n + c->p.train_max - 1) / c->p.train_max;
  size_t m = (n + step - 1) / step;
  double *acc = calloc(d, sizeof(double));
  float *out = malloc(m * d * sizeof(float));
  if (!acc || !out) {
    free(acc);
    free(out);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  /* Sums in double, rows in order: the same centre for any thread count or ISA. */
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++) acc[j] += x[i * step * ldx + j];
  for (size_t j = 0; j < d; j++) c->cen[j] = (float)(acc[j] / (double)m);
  double dev = 0.0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < d; j++) {
      float v = x[i * step * ldx + j] - c->cen[j];
      out[i * d + j] = v;
      dev += fabs((double)v);
    }
  free(acc);
  for (size_t i = 0; i < m * d; i++)
    if (!isfinite(out[i])) {
      free(out);
      return vec_fail(VEC_E_RANGE, (long long)(i / d * step),
                      "training row %zu is too far from the mean for float32", i / d * step);
    }
  /* Binary decodes its bits to c +- cscale: the mean |x - c| over the rows and dimensions. */
  c->cscale = 1.0f;
  if (c->base->id == VEC_CODEC_BINARY) {
    float s = (float)(dev / ((double)m * (double)d));
    c->cscale = s > 0.0f ? s : 1.0f;
  }
  c->cen_set = 1;
  *xc = out;
  *n_out = m;
  return VEC_OK;
}
