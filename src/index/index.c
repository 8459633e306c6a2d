/* index.c: vec_index, a store of encoded rows by uint64 id: add, upsert, delete (tombstones and
 * compaction), get, filtered search through the codec pipeline, save and load as .vqz.
 *
 * Invariants (under the lock): rows [0, n) hold codes, scales, code norms, ids, and, when present,
 * rerank codes and originals, all in step; live[] has bit r set iff row r is not deleted; map holds
 * exactly the live rows' ids. Searches take the lock shared, mutations exclusive; encoding happens
 * before the exclusive lock is taken, so a long add blocks searches only while rows are copied. */
#define _DEFAULT_SOURCE /* strdup */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/platform.h"
#include "../io/reader_impl.h"
#include "../io/vqz_internal.h"
#include "../search/search.h"

#define NO_ID      UINT64_MAX
#define META_MAX   4096 /* the metadata the index writes itself, before the caller's members */
#define LOAD_CHUNK 65536

/* A readers-writer lock that prefers writers: glibc's default rwlock prefers readers, so a steady
 * stream of searches would starve an add forever. Not recursive: no path takes it twice. */
typedef struct rwlock {
  pthread_mutex_t m;
  pthread_cond_t c;
  int readers, writer, waiting;
} rwlock;

static int rw_init(rwlock *l) {
  memset(l, 0, sizeof *l);
  if (pthread_mutex_init(&l->m, NULL)) return -1;
  if (pthread_cond_init(&l->c, NULL)) {
    pthread_mutex_destroy(&l->m);
    return -1;
  }
  return 0;
}
static void rw_destroy(rwlock *l) {
  pthread_cond_destroy(&l->c);
  pthread_mutex_destroy(&l->m);
}
static void rw_rdlock(rwlock *l) {
  pthread_mutex_lock(&l->m);
  while (l->writer || l->waiting) pthread_cond_wait(&l->c, &l->m);
  l->readers++;
  pthread_mutex_unlock(&l->m);
}
static void rw_wrlock(rwlock *l) {
  pthread_mutex_lock(&l->m);
  l->waiting++;
  while (l->writer || l->readers) pthread_cond_wait(&l->c, &l->m);
  l->waiting--;
  l->writer = 1;
  pthread_mutex_unlock(&l->m);
}
static void rw_unlock(rwlock *l) {
  pthread_mutex_lock(&l->m);
  if (l->writer)
    l->writer = 0;
  else
    l->readers--;
  if (!l->writer && !l->readers) pthread_cond_broadcast(&l->c);
  pthread_mutex_unlock(&l->m);
}

/* First-stage codes and scales of rows [start, start + n), contiguous: a block of a mapped file,
 * or the rows held in memory. */
typedef struct seg {
  size_t start, n;
  const uint8_t *codes;
  const float *scales;
} seg;

struct vec_index_s {
  rwlock lock;
  vec_codec *codec, *rerank;
  vec_metric metric;
  int keep_originals, bounded;
  size_t d, cs, sc, rcs, rsc; /* dimension; code bytes and scales per row of each codec */
  size_t n, cap, ndead;       /* rows (live and deleted), allocated rows, deleted rows */
  uint8_t *codes, *rcodes;
  float *scales, *sqn, *rscales, *rsqn, *orig, *osq;
  uint64_t *ids, *live;
  uint64_t *mkeys, *mrows; /* id -> row: open addressing, linear probing, NO_ID empty */
  size_t mcap, mcount;
  uint64_t next_id; /* default ids continue after the largest id ever held */
  vec_search_params defaults;
  char *metadata; /* the metadata of the file loaded, or NULL */
  /* Rows are held as x * 2^-sexp (VEC_INDEX_SCALE_AUTO until the first add picks it; see
   * vectro.h). Atomic: add picks it before taking the lock, search reads it before too. */
  atomic_int sexp;
  /* Mapped (vec_index_load with mapped): rows [0, nmap) have their first-stage codes and scales
   * in the file's blocks (segs), read in place; codes and scales hold rows [nmap, n) at r - nmap.
   * Every other per-row array is in memory, indexed by row. */
  vec_os_map map; /* map.base: NULL when nothing is mapped */
  size_t nmap, nsegs;
  seg *segs;
  /* The file rows [0, saved) are in (fpath at commit fgen, a 2.0 file): save appends rows
   * [saved, n) there when nothing else changed. fpath NULL: no such file. */
  char *fpath;
  uint64_t fdev, fino, fgen;
  size_t saved;
  int dirty;       /* a row < saved was replaced in place */
  vec_os_map omap; /* originals mapped from a .npy (orig points into it; omap.base NULL: none) */
  pthread_mutex_t save_m; /* serializes saves (they update the fields above) */
};

/* Row r's first-stage codes and scales, wherever they are. */
static const seg *seg_of(const vec_index *ix, size_t r) {
  size_t lo = 0, hi = ix->nsegs - 1;
  while (lo < hi) {
    size_t mid = lo + (hi - lo + 1) / 2;
    if (ix->segs[mid].start <= r)
      lo = mid;
    else
      hi = mid - 1;
  }
  return &ix->segs[lo];
}
static const uint8_t *code_at(const vec_index *ix, size_t r) {
  if (r >= ix->nmap) return ix->codes + (r - ix->nmap) * ix->cs;
  const seg *s = seg_of(ix, r);
  return s->codes + (r - s->start) * ix->cs;
}
static const float *scale_at(const vec_index *ix, size_t r) {
  if (!ix->sc) return NULL;
  if (r >= ix->nmap) return ix->scales + (r - ix->nmap) * ix->sc;
  const seg *s = seg_of(ix, r);
  return s->scales + (r - s->start) * ix->sc;
}
/* How many rows from r on lie contiguous with it (to the end of its segment, or of the rows). */
static size_t run_from(const vec_index *ix, size_t r) {
  if (r >= ix->nmap) return ix->n - r;
  const seg *s = seg_of(ix, r);
  return s->start + s->n - r;
}

static int file_exists(const char *path) {
  vec_os_stat st;
  return vec_os_path_stat(path, &st) == 0;
}

/* ----- id map ------------------------------------------------------------------------------- */
static inline size_t hash64(uint64_t x, size_t mask) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return (size_t)x & mask;
}

static uint64_t map_get(const vec_index *ix, uint64_t id) {
  if (!ix->mcap) return NO_ID;
  size_t mask = ix->mcap - 1;
  for (size_t i = hash64(id, mask);; i = (i + 1) & mask) {
    if (ix->mkeys[i] == id) return ix->mrows[i];
    if (ix->mkeys[i] == NO_ID) return NO_ID;
  }
}

static void map_put_raw(uint64_t *keys, uint64_t *rows, size_t cap, uint64_t id, uint64_t row) {
  size_t mask = cap - 1, i = hash64(id, mask);
  while (keys[i] != NO_ID && keys[i] != id) i = (i + 1) & mask;
  keys[i] = id;
  rows[i] = row;
}

/* Room for `want` ids at a load factor of at most 1/2. */
static int map_reserve(vec_index *ix, size_t want) {
  if (want <= ix->mcap / 2) return VEC_OK;
  size_t cap = ix->mcap ? ix->mcap : 64;
  while (cap / 2 < want) cap *= 2;
  uint64_t *keys = malloc(cap * sizeof *keys), *rows = malloc(cap * sizeof *rows);
  if (!keys || !rows) {
    free(keys);
    free(rows);
    return VEC_E_NOMEM;
  }
  memset(keys, 0xff, cap * sizeof *keys);
  for (size_t i = 0; i < ix->mcap; i++)
    if (ix->mkeys[i] != NO_ID) map_put_raw(keys, rows, cap, ix->mkeys[i], ix->mrows[i]);
  free(ix->mkeys);
  free(ix->mrows);
  ix->mkeys = keys;
  ix->mrows = rows;
  ix->mcap = cap;
  return VEC_OK;
}

static void map_put(vec_index *ix, uint64_t id, uint64_t row) {
  size_t mask = ix->mcap - 1, i = hash64(id, mask);
  while (ix->mkeys[i] != NO_ID && ix->mkeys[i] != id) i = (i + 1) & mask;
  if (ix->mkeys[i] == NO_ID) ix->mcount++;
  ix->mkeys[i] = id;
  ix->mrows[i] = row;
}

/* Removes id (backward-shift deletion keeps every probe chain unbroken, no tombstones). */
static void map_del(vec_index *ix, uint64_t id) {
  size_t mask = ix->mcap - 1, i = hash64(id, mask);
  while (ix->mkeys[i] != id) {
    if (ix->mkeys[i] == NO_ID) return;
    i = (i + 1) & mask;
  }
  ix->mcount--;
  for (size_t j = (i + 1) & mask; ix->mkeys[j] != NO_ID; j = (j + 1) & mask) {
    size_t h = hash64(ix->mkeys[j], mask);
    /* Move j back to i when its home h is not in the cyclic range (i, j]. */
    if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
      ix->mkeys[i] = ix->mkeys[j];
      ix->mrows[i] = ix->mrows[j];
      i = j;
    }
  }
  ix->mkeys[i] = NO_ID;
}

/* ----- rows --------------------------------------------------------------------------------- */
static int grow(void **p, size_t cap, size_t per_row) {
  if (!*p && !per_row) return VEC_OK;
  size_t bytes;
  if (!vec_mul_ok(cap, per_row, &bytes)) return VEC_E_OVERFLOW;
  void *q = realloc(*p, bytes ? bytes : 1);
  if (!q) return VEC_E_NOMEM;
  *p = q;
  return VEC_OK;
}

/* Mapped originals into memory (rows are about to be added or moved). */
static int unmap_originals(vec_index *ix) {
  if (!ix->omap.base) return VEC_OK;
  size_t bytes;
  if (!vec_mul_ok(ix->cap, ix->d * sizeof(float), &bytes)) return VEC_E_OVERFLOW;
  float *o = malloc(bytes ? bytes : 1);
  if (!o) return VEC_E_NOMEM;
  memcpy(o, ix->orig, ix->n * ix->d * sizeof(float));
  vec_os_unmap(&ix->omap);
  ix->orig = o;
  return VEC_OK;
}

/* Room for `want` rows in every array. */
static int reserve(vec_index *ix, size_t want) {
  if (want <= ix->cap) return VEC_OK;
  int urc = unmap_originals(ix);
  if (urc) return urc;
  size_t cap = ix->cap ? ix->cap : 64;
  if (!ix->cap && want > cap) cap = want; /* a load: exactly its rows */
  while (cap < want) cap = cap * 2 > cap ? cap * 2 : want;
  int orig = ix->keep_originals, sq = ix->metric != VEC_METRIC_IP;
  int rc;
  if ((rc = grow((void **)&ix->codes, cap - ix->nmap, ix->cs)) ||
      (rc = grow((void **)&ix->scales, cap - ix->nmap, ix->sc * sizeof(float))) ||
      (rc = grow((void **)&ix->sqn, cap, sq ? sizeof(float) : 0)) ||
      (rc = grow((void **)&ix->ids, cap, sizeof(uint64_t))) ||
      (rc = grow((void **)&ix->live, (cap + 63) / 64, sizeof(uint64_t))))
    return rc;
  if (ix->rerank && ((rc = grow((void **)&ix->rcodes, cap, ix->rcs)) ||
                     (rc = grow((void **)&ix->rscales, cap, ix->rsc * sizeof(float))) ||
                     (rc = grow((void **)&ix->rsqn, cap, sq ? sizeof(float) : 0))))
    return rc;
  if (orig && ((rc = grow((void **)&ix->orig, cap, ix->d * sizeof(float))) ||
               (rc = grow((void **)&ix->osq, cap, sq ? sizeof(float) : 0))))
    return rc;
  memset(ix->live + (ix->cap + 63) / 64, 0, ((cap + 63) / 64 - (ix->cap + 63) / 64) * 8);
  ix->cap = cap;
  return VEC_OK;
}

static inline int is_live(const vec_index *ix, size_t r) {
  return ix->live[r >> 6] >> (r & 63) & 1;
}
static inline void set_live(vec_index *ix, size_t r, int on) {
  if (on)
    ix->live[r >> 6] |= 1ull << (r & 63);
  else
    ix->live[r >> 6] &= ~(1ull << (r & 63));
}

/* One batch encoded by every stage, before the lock is taken. */
typedef struct encoded {
  size_t n;
  uint8_t *codes, *rcodes;
  float *scales, *sqn, *rscales, *rsqn, *osq;
} encoded;

static void encoded_free(encoded *e) {
  free(e->codes), free(e->rcodes), free(e->scales), free(e->sqn), free(e->rscales), free(e->rsqn),
      free(e->osq);
}

static float sqnorm_f32(const float *x, size_t d) {
  double s = 0.0;
  for (size_t i = 0; i < d; i++) s += (double)x[i] * x[i];
  return (float)s;
}

static int encode_batch(const vec_index *ix, const float *x, size_t n, size_t ldx,
                        const vec_batch_opts *opts, encoded *e) {
  memset(e, 0, sizeof *e);
  e->n = n;
  int sq = ix->metric != VEC_METRIC_IP, rc;
  size_t m = n ? n : 1;
  e->codes = malloc(m * (ix->cs ? ix->cs : 1));
  e->scales = ix->sc ? malloc(m * ix->sc * sizeof(float)) : NULL;
  e->sqn = sq ? malloc(m * sizeof(float)) : NULL;
  if (ix->rerank) {
    e->rcodes = malloc(m * (ix->rcs ? ix->rcs : 1));
    e->rscales = ix->rsc ? malloc(m * ix->rsc * sizeof(float)) : NULL;
    e->rsqn = sq ? malloc(m * sizeof(float)) : NULL;
  }
  e->osq = ix->keep_originals && sq ? malloc(m * sizeof(float)) : NULL;
  if (!e->codes || (ix->sc && !e->scales) || (sq && !e->sqn) ||
      (ix->rerank && (!e->rcodes || (ix->rsc && !e->rscales) || (sq && !e->rsqn))) ||
      (ix->keep_originals && sq && !e->osq)) {
    encoded_free(e);
    return vec_fail(VEC_E_NOMEM, -1, "vec_index_add: out of memory encoding %zu rows", n);
  }
  if ((rc = vec_codec_encode(ix->codec, x, n, ldx, e->codes, e->scales, opts)) ||
      (sq && (rc = vec_codes_sqnorms(ix->codec, e->codes, e->scales, n, e->sqn, opts))) ||
      (ix->rerank && (rc = vec_codec_encode(ix->rerank, x, n, ldx, e->rcodes, e->rscales, opts))) ||
      (ix->rerank && sq &&
       (rc = vec_codes_sqnorms(ix->rerank, e->rcodes, e->rscales, n, e->rsqn, opts)))) {
    encoded_free(e);
    return rc;
  }
  for (size_t i = 0; e->osq && i < n; i++) e->osq[i] = sqnorm_f32(x + i * ldx, ix->d);
  return VEC_OK;
}

/* Writes batch row i of e (and of x) into index row r. */
static void put_row(vec_index *ix, size_t r, const encoded *e, size_t i, const float *x,
                    size_t ldx) {
  size_t h = r - ix->nmap; /* never a mapped row: upsert appends those */
  memcpy(ix->codes + h * ix->cs, e->codes + i * ix->cs, ix->cs);
  if (ix->sc) memcpy(ix->scales + h * ix->sc, e->scales + i * ix->sc, ix->sc * sizeof(float));
  if (e->sqn) ix->sqn[r] = e->sqn[i];
  if (ix->rerank) {
    memcpy(ix->rcodes + r * ix->rcs, e->rcodes + i * ix->rcs, ix->rcs);
    if (ix->rsc) memcpy(ix->rscales + r * ix->rsc, e->rscales + i * ix->rsc, ix->rsc * 4);
    if (e->rsqn) ix->rsqn[r] = e->rsqn[i];
  }
  if (ix->keep_originals) {
    memcpy(ix->orig + r * ix->d, x + i * ldx, ix->d * sizeof(float));
    if (e->osq) ix->osq[r] = e->osq[i];
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* ids: none is NO_ID, none repeats. */
static int check_ids(const char *fn, const uint64_t *ids, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] == NO_ID)
      return vec_fail(VEC_E_INVALID_ARG, (long long)i,
                      "%s: id 2^64 - 1 is reserved (it marks empty result slots)", fn);
  uint64_t *s = malloc((n ? n : 1) * sizeof *s);
  if (!s) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  memcpy(s, ids, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_u64);
  for (size_t i = 1; i < n; i++)
    if (s[i] == s[i - 1]) {
      uint64_t v = s[i];
      free(s);
      return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ids collide within the batch (id %llu)", fn,
                      (unsigned long long)v);
    }
  free(s);
  return VEC_OK;
}

/* ----- life cycle --------------------------------------------------------------------------- */
static int copy_codec(const vec_codec *c, vec_codec **out) {
  size_t sz = vec_codec_serialized_size(c);
  void *buf = malloc(sz ? sz : 1);
  if (!buf) return VEC_E_NOMEM;
  int rc = vec_codec_serialize(c, buf, sz);
  if (!rc) rc = vec_codec_deserialize(buf, sz, out);
  free(buf);
  return rc;
}

int vec_index_create(const vec_codec *codec, vec_metric metric, const vec_index_options *opts,
                     vec_index **out) {
  static const char fn[] = "vec_index_create";
  vec_clear_error();
  if (!codec || !out) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  *out = NULL;
  if (opts && opts->struct_size < sizeof(vec_index_options))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: opts->struct_size is too small", fn);
  if (metric != VEC_METRIC_IP && metric != VEC_METRIC_COSINE && metric != VEC_METRIC_L2)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: unknown metric %d", fn, (int)metric);
  const vec_codec *rerank = opts ? opts->rerank : NULL;
  size_t d = vec_codec_get_params(codec)->dim;
  if (rerank && vec_codec_get_params(rerank)->dim != d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: the rerank codec has dimension %zu, the index %zu",
                    fn, vec_codec_get_params(rerank)->dim, d);
  if (!vec_codec_is_trained(codec) || (rerank && !vec_codec_is_trained(rerank)))
    return vec_fail(VEC_E_NOT_TRAINED, -1, "%s: train the codec%s first", fn, rerank ? "s" : "");
  vec_index *ix = calloc(1, sizeof *ix);
  if (!ix) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  int rc = copy_codec(codec, &ix->codec);
  if (!rc && rerank) rc = copy_codec(rerank, &ix->rerank);
  if (!rc && rw_init(&ix->lock) != 0) rc = VEC_E_THREAD;
  if (!rc && pthread_mutex_init(&ix->save_m, NULL) != 0) {
    rw_destroy(&ix->lock);
    rc = VEC_E_THREAD;
  }
  if (rc) {
    vec_codec_free(ix->codec);
    vec_codec_free(ix->rerank);
    free(ix);
    return vec_fail(rc, -1, "%s: %s", fn, vec_strerror(rc));
  }
  ix->metric = metric;
  ix->keep_originals = opts ? opts->keep_originals != 0 : 0;
  ix->bounded = vec_search_has_bounds(ix->codec);
  ix->d = d;
  ix->cs = vec_codec_code_size(ix->codec);
  ix->sc = vec_codec_scale_count(ix->codec);
  ix->rcs = rerank ? vec_codec_code_size(ix->rerank) : 0;
  ix->rsc = rerank ? vec_codec_scale_count(ix->rerank) : 0;
  ix->defaults = (vec_search_params)VEC_SEARCH_PARAMS_INIT;
  atomic_init(&ix->sexp, VEC_INDEX_SCALE_AUTO);
  *out = ix;
  return VEC_OK;
}

void vec_index_free(vec_index *ix) {
  if (!ix) return;
  rw_destroy(&ix->lock);
  pthread_mutex_destroy(&ix->save_m);
  vec_codec_free(ix->codec);
  vec_codec_free(ix->rerank);
  free(ix->codes), free(ix->rcodes), free(ix->scales), free(ix->sqn), free(ix->rscales);
  free(ix->rsqn), free(ix->omap.base ? NULL : ix->orig), free(ix->osq), free(ix->ids),
      free(ix->live);
  free(ix->mkeys), free(ix->mrows), free(ix->metadata);
  vec_os_unmap(&ix->map);
  vec_os_unmap(&ix->omap);
  free(ix->segs), free(ix->fpath);
  free(ix);
}

/* ----- extreme magnitudes ------------------------------------------------------------------- */
/* max |x_j| over the finite values of one row, on the bit patterns: for floats >= 0 the order of
 * the patterns is the order of the values, and a pattern >= 0x7f800000 is Inf or NaN (masked to
 * 0). In GCC/Clang vector types (SSE2 or NEON, no ISA dispatch needed) and branch-free: every
 * search scans its queries with this, and the scalar compare-and-branch loop was 10% of a
 * 300-query binary search of 200 rows. */
typedef int32_t v4i32 __attribute__((vector_size(16)));

static uint32_t max_abs_bits(const float *x, size_t d) {
  const v4i32 absm = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
  const v4i32 inf = {0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000};
  v4i32 m0 = {0, 0, 0, 0}, m1 = m0;
  size_t j = 0;
  for (; j + 8 <= d; j += 8) {
    v4i32 u0, u1;
    memcpy(&u0, x + j, sizeof u0);
    memcpy(&u1, x + j + 4, sizeof u1);
    u0 &= absm, u1 &= absm;
    u0 &= u0 < inf, u1 &= u1 < inf; /* comparisons give -1 (true) or 0 per lane */
    v4i32 g0 = u0 > m0, g1 = u1 > m1;
    m0 = (u0 & g0) | (m0 & ~g0), m1 = (u1 & g1) | (m1 & ~g1);
  }
  int32_t m = 0;
  for (int t = 0; t < 4; t++) {
    m = m0[t] > m ? m0[t] : m;
    m = m1[t] > m ? m1[t] : m;
  }
  for (; j < d; j++) {
    int32_t u;
    memcpy(&u, x + j, 4);
    u &= 0x7fffffff;
    u = u < 0x7f800000 ? u : 0;
    m = u > m ? u : m;
  }
  return (uint32_t)m;
}

int vec_index_pick_scale_exp(const float *x, size_t n, size_t ldx, size_t d) {
  uint32_t mb = 0;
  for (size_t i = 0; x && i < n; i++) {
    uint32_t r = max_abs_bits(x + i * ldx, d);
    mb = r > mb ? r : mb;
  }
  float m;
  memcpy(&m, &mb, 4);
  if (m == 0.0f || (m >= 0x1p-20f && m <= 0x1p20f)) return 0;
  int k;
  frexpf(m, &k); /* m = f 2^k, f in [0.5, 1): floor(log2 m) = k - 1 */
  return k - 1;
}

#define SCALE_EXP_MAX 150 /* 2^-149 is the smallest float, 2^127 the largest power of two */

int vec_index_set_scale_exp(vec_index *ix, int e) {
  vec_clear_error();
  if (!ix || e < -SCALE_EXP_MAX || e > SCALE_EXP_MAX)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_index_set_scale_exp: bad argument (e = %d)", e);
  int cur = VEC_INDEX_SCALE_AUTO;
  if (atomic_compare_exchange_strong(&ix->sexp, &cur, e) || cur == e) return VEC_OK;
  return vec_fail(VEC_E_INVALID_ARG, -1,
                  "vec_index_set_scale_exp: the index holds rows at scale 2^%d already", cur);
}

int vec_index_scale_exp(const vec_index *ix) {
  int e = ix ? atomic_load(&((vec_index *)ix)->sexp) : 0;
  return e == VEC_INDEX_SCALE_AUTO ? 0 : e;
}

/* x * 2^-e into a new n x d buffer. A finite value that leaves float32's range (a row far larger
 * than the first rows, which set e) is VEC_E_RANGE naming its row; NaN and Inf stay, for the
 * encoder to refuse as it always does. */
static int scale_rows(const char *fn, const float *x, size_t n, size_t ldx, size_t d, int e,
                      float **out) {
  size_t cnt, bytes;
  *out = NULL;
  if (!vec_mul_ok(n, d, &cnt) || !vec_mul_ok(cnt, sizeof(float), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: n x d overflows", fn);
  float *y = malloc(bytes ? bytes : 1);
  if (!y) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      float v = x[i * ldx + j], w = ldexpf(v, -e);
      if (isfinite(v) && !isfinite(w)) {
        free(y);
        return vec_fail(VEC_E_RANGE, (long long)i,
                        "%s: row %zu holds %g, out of float32's range at this index's scale 2^%d "
                        "(set by its first rows)",
                        fn, i, (double)v, e);
      }
      y[i * d + j] = w;
    }
  *out = y;
  return VEC_OK;
}

/* ----- mutations ---------------------------------------------------------------------------- */
static int check_rows(const char *fn, const vec_index *ix, const float *x, size_t n, size_t ldx) {
  if (!ix) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL index", fn);
  if (n && !x) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL x with n = %zu", fn, n);
  if (ldx < ix->d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldx (%zu) must be >= d (%zu)", fn, ldx, ix->d);
  return VEC_OK;
}

static int add_or_upsert(const char *fn, vec_index *ix, const float *x, size_t n, size_t ldx,
                         const uint64_t *ids, uint64_t *ids_out, int replace,
                         const vec_batch_opts *opts) {
  vec_clear_error();
  int rc = check_rows(fn, ix, x, n, ldx);
  if (rc) return rc;
  if (replace && n && !ids) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: upsert needs ids", fn);
  if (ids && (rc = check_ids(fn, ids, n))) return rc;
  if (!n) return VEC_OK;
  int sx = atomic_load(&ix->sexp);
  if (sx == VEC_INDEX_SCALE_AUTO) { /* the first batch picks the scale (a racing add may win) */
    int want = vec_index_pick_scale_exp(x, n, ldx, ix->d);
    sx = atomic_compare_exchange_strong(&ix->sexp, &sx, want) ? want : sx;
  }
  float *xs = NULL;
  if (sx) {
    if ((rc = scale_rows(fn, x, n, ldx, ix->d, sx, &xs))) return rc;
    x = xs;
    ldx = ix->d;
  }
  encoded e;
  if ((rc = encode_batch(ix, x, n, ldx, opts, &e))) {
    free(xs);
    return rc;
  }
  rw_wrlock(&ix->lock);
  uint64_t first = ix->next_id;
  if (!ids && first > NO_ID - 1 - n) {
    rc = vec_fail(VEC_E_OVERFLOW, -1, "%s: default ids would reach 2^64 - 1", fn);
    goto out;
  }
  size_t fresh = 0;
  for (size_t i = 0; ids && i < n; i++) {
    uint64_t r = map_get(ix, ids[i]);
    if (r != NO_ID && !replace) {
      rc = vec_fail(VEC_E_INVALID_ARG, (long long)i, "%s: id %llu is already in the index", fn,
                    (unsigned long long)ids[i]);
      goto out;
    }
    fresh += r == NO_ID || r < ix->nmap; /* a mapped row is replaced by a new row */
  }
  if (!ids) fresh = n;
  if ((rc = reserve(ix, ix->n + fresh)) || (rc = map_reserve(ix, ix->mcount + fresh))) {
    rc = vec_fail(rc, -1, "%s: out of memory for %zu rows", fn, ix->n + fresh);
    goto out;
  }
  /* Nothing can fail from here: the batch goes in whole or not at all. */
  for (size_t i = 0; i < n; i++) {
    uint64_t id = ids ? ids[i] : first + i, r = map_get(ix, id);
    if (r != NO_ID && r < ix->nmap) { /* read-only in the file: a tombstone, and a new row */
      set_live(ix, r, 0);
      ix->ndead++;
      r = NO_ID;
    } else if (r != NO_ID && r < ix->saved) {
      ix->dirty = 1; /* the file's row is stale now: the next save rewrites */
    }
    if (r == NO_ID) {
      r = ix->n++;
      ix->ids[r] = id;
      set_live(ix, r, 1);
      map_put(ix, id, r);
    }
    put_row(ix, r, &e, i, x, ldx);
    if (id >= ix->next_id) ix->next_id = id + 1;
    if (ids_out) ids_out[i] = id;
  }
out:
  rw_unlock(&ix->lock);
  encoded_free(&e);
  free(xs);
  return rc;
}

int vec_index_add(vec_index *ix, const float *x, size_t n, size_t ldx, const uint64_t *ids,
                  uint64_t *ids_out, const vec_batch_opts *opts) {
  return add_or_upsert("vec_index_add", ix, x, n, ldx, ids, ids_out, 0, opts);
}

int vec_index_upsert(vec_index *ix, const float *x, size_t n, size_t ldx, const uint64_t *ids,
                     const vec_batch_opts *opts) {
  return add_or_upsert("vec_index_upsert", ix, x, n, ldx, ids, NULL, 1, opts);
}

/* Copies the mapped rows into memory and drops the mapping (compaction moves rows). */
static int materialize(vec_index *ix) {
  if (unmap_originals(ix))
    return vec_fail(VEC_E_NOMEM, -1, "vec_index_compact: out of memory for the originals");
  if (!ix->nmap) return VEC_OK;
  uint8_t *c = malloc(ix->cap * ix->cs + 1);
  float *s = ix->sc ? malloc(ix->cap * ix->sc * sizeof(float)) : NULL;
  if (!c || (ix->sc && !s)) {
    free(c), free(s);
    return vec_fail(VEC_E_NOMEM, -1, "vec_index_compact: out of memory for %zu rows", ix->n);
  }
  for (size_t r = 0, m; r < ix->n; r += m) {
    m = run_from(ix, r);
    memcpy(c + r * ix->cs, code_at(ix, r), m * ix->cs);
    if (ix->sc) memcpy(s + r * ix->sc, scale_at(ix, r), m * ix->sc * sizeof(float));
  }
  free(ix->codes), free(ix->scales);
  ix->codes = c, ix->scales = s;
  vec_os_unmap(&ix->map);
  free(ix->segs);
  ix->segs = NULL, ix->nsegs = 0, ix->nmap = 0;
  return VEC_OK;
}

/* Moves the live rows down over the deleted ones, keeping their order. Under the write lock, with
 * no mapped rows. The rows no longer match a file's: the next save rewrites. */
static void compact(vec_index *ix) {
  free(ix->fpath);
  ix->fpath = NULL;
  ix->saved = 0;
  size_t w = 0, sq = ix->metric != VEC_METRIC_IP;
  for (size_t r = 0; r < ix->n; r++) {
    if (!is_live(ix, r)) continue;
    if (w != r) {
      memmove(ix->codes + w * ix->cs, ix->codes + r * ix->cs, ix->cs);
      if (ix->sc) memmove(ix->scales + w * ix->sc, ix->scales + r * ix->sc, ix->sc * 4);
      if (sq) ix->sqn[w] = ix->sqn[r];
      if (ix->rerank) {
        memmove(ix->rcodes + w * ix->rcs, ix->rcodes + r * ix->rcs, ix->rcs);
        if (ix->rsc) memmove(ix->rscales + w * ix->rsc, ix->rscales + r * ix->rsc, ix->rsc * 4);
        if (sq) ix->rsqn[w] = ix->rsqn[r];
      }
      if (ix->keep_originals) {
        memmove(ix->orig + w * ix->d, ix->orig + r * ix->d, ix->d * sizeof(float));
        if (sq) ix->osq[w] = ix->osq[r];
      }
      ix->ids[w] = ix->ids[r];
      map_put(ix, ix->ids[w], w);
    }
    w++;
  }
  ix->n = w;
  ix->ndead = 0;
  memset(ix->live, 0, (ix->cap + 63) / 64 * 8);
  for (size_t r = 0; r < w; r++) set_live(ix, r, 1);
}

int vec_index_delete(vec_index *ix, const uint64_t *ids, size_t n, size_t *deleted) {
  static const char fn[] = "vec_index_delete";
  vec_clear_error();
  if (deleted) *deleted = 0;
  if (!ix || (n && !ids)) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  size_t count = 0;
  rw_wrlock(&ix->lock);
  for (size_t i = 0; i < n; i++) {
    uint64_t r = map_get(ix, ids[i]);
    if (r == NO_ID) continue;
    map_del(ix, ids[i]);
    set_live(ix, r, 0);
    ix->ndead++;
    count++;
  }
  /* Tombstones cost a bit test per row in every scan and their rows' bytes: compact once they are
   * a quarter of the rows, so a delete costs O(1) amortized per row. */
  if (ix->ndead > 0 && ix->ndead >= ix->n / 4 && !ix->nmap) compact(ix);
  rw_unlock(&ix->lock);
  if (deleted) *deleted = count;
  return VEC_OK;
}

int vec_index_compact(vec_index *ix) {
  vec_clear_error();
  if (!ix) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_index_compact: NULL index");
  rw_wrlock(&ix->lock);
  int rc = ix->ndead ? materialize(ix) : VEC_OK;
  if (!rc && ix->ndead) compact(ix);
  rw_unlock(&ix->lock);
  return rc;
}

/* ----- reads -------------------------------------------------------------------------------- */
size_t vec_index_count(vec_index *ix) {
  if (!ix) return 0;
  rw_rdlock(&ix->lock);
  size_t n = ix->n - ix->ndead;
  rw_unlock(&ix->lock);
  return n;
}

size_t vec_index_dim(const vec_index *ix) { return ix ? ix->d : 0; }
vec_metric vec_index_metric(const vec_index *ix) { return ix ? ix->metric : VEC_METRIC_IP; }
const vec_codec *vec_index_codec(const vec_index *ix) { return ix ? ix->codec : NULL; }
const vec_codec *vec_index_rerank(const vec_index *ix) { return ix ? ix->rerank : NULL; }
int vec_index_has_originals(const vec_index *ix) { return ix ? ix->keep_originals : 0; }
size_t vec_index_mapped_rows(const vec_index *ix) { return ix ? ix->nmap : 0; }
const char *vec_index_metadata(const vec_index *ix) {
  return ix && ix->metadata ? ix->metadata : "";
}

int vec_index_contains(vec_index *ix, uint64_t id) {
  if (!ix) return 0;
  rw_rdlock(&ix->lock);
  int found = map_get(ix, id) != NO_ID;
  rw_unlock(&ix->lock);
  return found;
}

size_t vec_index_ids(vec_index *ix, uint64_t *out, size_t cap) {
  if (!ix) return 0;
  rw_rdlock(&ix->lock);
  size_t live = ix->n - ix->ndead, w = 0;
  for (size_t r = 0; r < ix->n && w < cap && out; r++)
    if (is_live(ix, r)) out[w++] = ix->ids[r];
  rw_unlock(&ix->lock);
  return live;
}

/* The rows of ids, or VEC_E_NOT_FOUND naming the first missing one. Under the lock. */
static int rows_of(const char *fn, const vec_index *ix, const uint64_t *ids, size_t n,
                   uint64_t *rows) {
  for (size_t i = 0; i < n; i++)
    if ((rows[i] = map_get(ix, ids[i])) == NO_ID)
      return vec_fail(VEC_E_NOT_FOUND, (long long)i, "%s: id %llu is not in the index", fn,
                      (unsigned long long)ids[i]);
  return VEC_OK;
}

int vec_index_get(vec_index *ix, const uint64_t *ids, size_t n, float *out, size_t ldo) {
  static const char fn[] = "vec_index_get";
  vec_clear_error();
  if (!ix || (n && (!ids || !out))) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  if (ldo < ix->d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldo (%zu) must be >= d (%zu)", fn, ldo, ix->d);
  uint64_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (!rows) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  rw_rdlock(&ix->lock);
  int rc = rows_of(fn, ix, ids, n, rows);
  for (size_t i = 0; !rc && i < n; i++) {
    size_t r = (size_t)rows[i];
    if (ix->keep_originals)
      memcpy(out + i * ldo, ix->orig + r * ix->d, ix->d * sizeof(float));
    else
      rc =
          vec_codec_decode(ix->codec, code_at(ix, r), scale_at(ix, r), 1, out + i * ldo, ldo, NULL);
  }
  int e = vec_index_scale_exp(ix); /* back to the caller's scale */
  for (size_t i = 0; !rc && e && i < n; i++)
    for (size_t j = 0; j < ix->d; j++) out[i * ldo + j] = ldexpf(out[i * ldo + j], e);
  rw_unlock(&ix->lock);
  free(rows);
  return rc;
}

int vec_index_get_codes(vec_index *ix, const uint64_t *ids, size_t n, void *codes, float *scales) {
  static const char fn[] = "vec_index_get_codes";
  vec_clear_error();
  if (!ix || (n && (!ids || !codes)))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  uint64_t *rows = malloc((n ? n : 1) * sizeof *rows);
  if (!rows) return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  rw_rdlock(&ix->lock);
  int rc = rows_of(fn, ix, ids, n, rows);
  for (size_t i = 0; !rc && i < n; i++) {
    size_t r = (size_t)rows[i];
    memcpy((uint8_t *)codes + i * ix->cs, code_at(ix, r), ix->cs);
    if (scales && ix->sc) memcpy(scales + i * ix->sc, scale_at(ix, r), ix->sc * 4);
  }
  rw_unlock(&ix->lock);
  free(rows);
  return rc;
}

/* ----- search ------------------------------------------------------------------------------- */
int vec_index_set_search_params(vec_index *ix, const vec_search_params *p) {
  vec_clear_error();
  if (!ix || !p || p->struct_size < sizeof *p)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_index_set_search_params: bad argument");
  rw_wrlock(&ix->lock);
  ix->defaults = *p;
  ix->defaults.filter_ids = NULL;
  ix->defaults.filter_count = 0;
  rw_unlock(&ix->lock);
  return VEC_OK;
}

static size_t times_k(size_t k, double f, size_t cap) {
  double want = ceil((double)k * f);
  size_t m = want >= (double)cap ? cap : (size_t)want;
  return m < k ? k : m;
}

static size_t count_found(const uint64_t *ids, size_t m) {
  size_t c = 0;
  for (size_t i = 0; i < m; i++) c += ids[i] != NO_ID;
  return c;
}

/* A mapped index searches segment by segment: each call reports progress on its own scale. */
typedef struct seg_progress {
  vec_progress_fn fn;
  void *user;
  size_t base, segn, total;
} seg_progress;

static int seg_progress_fn(void *u, size_t done, size_t total) {
  seg_progress *p = u;
  size_t at = total ? (size_t)((double)done / (double)total * (double)p->segn) : 0;
  return p->fn(p->user, p->base + at, p->total);
}

/* Merges b's per-query lists into a's (k each, best first, NO_ID slots last): a wins ties, as its
 * rows are the lower ones, so the result is what one search over all rows returns. */
static void merge_topk(size_t nq, size_t k, vec_metric m, uint64_t *ar, float *as,
                       const uint64_t *br, const float *bs, uint64_t *tr, float *ts) {
  for (size_t q = 0; q < nq; q++) {
    uint64_t *a = ar + q * k;
    float *sa = as + q * k;
    const uint64_t *b = br + q * k;
    const float *sb = bs + q * k;
    size_t i = 0, j = 0;
    for (size_t t = 0; t < k; t++) {
      int ta = i < k && a[i] != NO_ID, tb = j < k && b[j] != NO_ID;
      if (tb && (!ta || (m == VEC_METRIC_L2 ? sb[j] < sa[i] : sb[j] > sa[i])))
        tr[t] = b[j], ts[t] = sb[j], j++;
      else if (ta)
        tr[t] = a[i], ts[t] = sa[i], i++;
      else
        tr[t] = NO_ID, ts[t] = NAN;
    }
    memcpy(a, tr, k * sizeof *a);
    memcpy(sa, ts, k * sizeof *sa);
  }
}

/* The first stage: the k best per query from the codes (rescore 0), or rescored against the
 * originals (rescore 1: over, bound as vec_search_rescore_masked), over every segment. */
static int stage_one(const vec_index *ix, const uint64_t *allow, const float *q, size_t nq,
                     size_t ldq, size_t k, int rescore, double over, double bound, uint64_t *rows,
                     float *scores, vec_search_stats *st, const vec_batch_opts *o) {
  size_t n = ix->n;
  if (!ix->nmap) {
    if (!rescore)
      return vec_search_codes_masked(ix->codec, ix->codes, ix->scales, n, ix->sqn, allow, q, nq,
                                     ldq, k, ix->metric, rows, scores, o);
    return vec_search_rescore_masked(ix->codec, ix->codes, ix->scales, n, ix->sqn, ix->orig, ix->d,
                                     ix->osq, allow, q, nq, ldq, k, ix->metric, over, bound, rows,
                                     scores, st, o);
  }
  size_t ns = ix->nsegs + (n > ix->nmap), words = 0;
  for (size_t s = 0; s < ix->nsegs; s++)
    if ((ix->segs[s].n + 63) / 64 > words) words = (ix->segs[s].n + 63) / 64;
  if ((n - ix->nmap + 63) / 64 > words) words = (n - ix->nmap + 63) / 64;
  uint64_t *br = malloc(nq * k * sizeof *br + 8), *tr = malloc(k * sizeof *tr + 8);
  float *bs = malloc(nq * k * sizeof *bs + 8), *ts = malloc(k * sizeof *ts + 8);
  uint64_t *shifted = allow ? malloc(words * sizeof *shifted + 8) : NULL;
  if (!br || !tr || !bs || !ts || (allow && !shifted)) {
    free(br), free(tr), free(bs), free(ts), free(shifted);
    return vec_fail(VEC_E_NOMEM, -1, "vec_index_search: out of memory");
  }
  vec_batch_opts so = *o;
  seg_progress sp = {o->progress, o->progress_user, 0, 0, n};
  if (o->progress) so.progress = seg_progress_fn, so.progress_user = &sp;
  vec_search_stats acc = {0, 0};
  size_t tot = (n + 63) / 64;
  int rc = VEC_OK;
  for (size_t s = 0; !rc && s < ns; s++) {
    seg g = s < ix->nsegs ? ix->segs[s] : (seg){ix->nmap, n - ix->nmap, ix->codes, ix->scales};
    const uint64_t *al = NULL;
    if (allow && g.start % 64 == 0) {
      al = allow + g.start / 64;
    } else if (allow) { /* the segment's bits, shifted down to bit 0 */
      size_t w0 = g.start / 64, sh = g.start % 64;
      for (size_t w = 0; w < (g.n + 63) / 64; w++)
        shifted[w] = allow[w0 + w] >> sh | (w0 + w + 1 < tot ? allow[w0 + w + 1] << (64 - sh) : 0);
      al = shifted;
    }
    sp.base = g.start, sp.segn = g.n;
    uint64_t *orow = s ? br : rows;
    float *osc = s ? bs : scores;
    const float *sq = ix->sqn ? ix->sqn + g.start : NULL;
    if (!rescore) {
      rc = vec_search_codes_masked(ix->codec, g.codes, g.scales, g.n, sq, al, q, nq, ldq, k,
                                   ix->metric, orow, osc, &so);
    } else {
      vec_search_stats s1 = {0, 0};
      rc = vec_search_rescore_masked(ix->codec, g.codes, g.scales, g.n, sq,
                                     ix->orig + g.start * ix->d, ix->d,
                                     ix->osq ? ix->osq + g.start : NULL, al, q, nq, ldq, k,
                                     ix->metric, over, bound, orow, osc, &s1, &so);
      acc.scanned += s1.scanned, acc.rescored += s1.rescored;
    }
    for (size_t i = 0; !rc && g.start && i < nq * k; i++)
      if (orow[i] != NO_ID) orow[i] += g.start;
    if (!rc && s) merge_topk(nq, k, ix->metric, rows, scores, br, bs, tr, ts);
  }
  if (rescore && st) *st = acc;
  free(br), free(tr), free(bs), free(ts), free(shifted);
  return rc;
}

/* Under the read lock: the pipeline on rows [0, n), rows allowed by allow (NULL: all). */
static int search_locked(const char *fn, vec_index *ix, const float *q, size_t nq, size_t ldq,
                         size_t k, const vec_search_params *p, const uint64_t *allow,
                         uint64_t *rows, float *scores, vec_search_stats *st) {
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = (int)p->threads;
  o.progress = p->progress;
  o.progress_user = p->progress_user;
  size_t n = ix->n;
  int rc;
  st->scanned = (uint64_t)nq * (n - ix->ndead);
  st->rescored = 0;
  if (ix->rerank) {
    double over = p->oversample > 0 ? p->oversample : VEC_INDEX_RERANK_OVERSAMPLE;
    double fin = p->rerank_oversample > 0 ? p->rerank_oversample : VEC_INDEX_FINAL_OVERSAMPLE;
    size_t k1 = times_k(k, over, n > k ? n : k);
    size_t k2 = ix->keep_originals ? times_k(k, fin, SIZE_MAX) : k;
    uint64_t *cand = malloc(nq * k1 * sizeof *cand + 8), *c2 = malloc(nq * k2 * sizeof *c2 + 8);
    float *tmp = malloc(nq * (k1 > k2 ? k1 : k2) * sizeof *tmp + 8);
    if (!cand || !c2 || !tmp) {
      free(cand), free(c2), free(tmp);
      return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for %zu candidates", fn, nq * k1);
    }
    rc = stage_one(ix, allow, q, nq, ldq, k1, 0, 0, 0, cand, tmp, NULL, &o);
    if (!rc) {
      st->rescored = count_found(cand, nq * k1);
      if (ix->keep_originals) {
        rc = vec_rescore_codes(ix->rerank, ix->rcodes, ix->rscales, n, ix->rsqn, q, nq, ldq, cand,
                               k1, k2, ix->metric, c2, tmp, &o);
        if (!rc) {
          st->rescored += count_found(c2, nq * k2);
          rc = vec_rescore(ix->orig, n, ix->d, ix->d, q, nq, ldq, c2, k2, k, ix->metric, rows,
                           scores, &o);
        }
      } else {
        rc = vec_rescore_codes(ix->rerank, ix->rcodes, ix->rscales, n, ix->rsqn, q, nq, ldq, cand,
                               k1, k, ix->metric, rows, scores, &o);
      }
    }
    free(cand), free(c2), free(tmp);
    return rc;
  }
  if (!ix->keep_originals) {
    if (p->oversample != 0)
      return vec_fail(VEC_E_INVALID_ARG, -1,
                      "%s: rescoring (oversample >= 1) needs the float originals: create the "
                      "index with keep_originals, or load it with originals",
                      fn);
    return stage_one(ix, allow, q, nq, ldq, k, 0, 0, 0, rows, scores, NULL, &o);
  }
  /* Originals held: rescore by bound where the codec gives one, else k x oversample. */
  double over = p->oversample == 0 && !ix->bounded ? VEC_INDEX_ORIGINALS_OVERSAMPLE : p->oversample;
  rc = stage_one(ix, allow, q, nq, ldq, k, 1, over, p->bound_scale > 0 ? p->bound_scale : 1.0, rows,
                 scores, st, &o);
  if (!rc) st->scanned = (uint64_t)nq * (n - ix->ndead);
  return rc;
}

/* The queries as searched at the index's scale e, and per query the power of two its scores are
 * scaled back by (*back NULL: none). L2 needs the rows' own factor; ip and cosine rank the same
 * under any positive scaling of a query, so each query is brought into range by its own power of
 * two (a query of 1 against rows of 1e19 would otherwise underflow). *qs NULL: search q as is. */
static int scale_queries(const char *fn, const vec_index *ix, int e, const float *q, size_t nq,
                         size_t ldq, float **qs, int **back) {
  *qs = NULL;
  *back = NULL;
  if (!nq || (!e && ix->metric == VEC_METRIC_L2)) return VEC_OK;
  int *b = malloc(nq * sizeof *b), *eq = malloc(nq * sizeof *eq), any = 0, moved = 0, rc = VEC_OK;
  if (!b || !eq) {
    free(b), free(eq);
    return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  }
  for (size_t i = 0; i < nq; i++) {
    eq[i] = ix->metric == VEC_METRIC_L2 ? e : vec_index_pick_scale_exp(q + i * ldq, 1, ldq, ix->d);
    b[i] = ix->metric == VEC_METRIC_L2 ? 2 * e : ix->metric == VEC_METRIC_IP ? e + eq[i] : 0;
    any |= b[i] != 0;
    moved |= eq[i] != 0;
  }
  if (!moved) { /* the queries as they are (ip at scale 2^e: only the scores move) */
    free(eq);
    if (any)
      *back = b;
    else
      free(b);
    return VEC_OK;
  }
  float *y = malloc(nq * ix->d * sizeof *y);
  if (!y) rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  for (size_t i = 0; !rc && i < nq; i++)
    for (size_t j = 0; !rc && j < ix->d; j++) {
      float v = q[i * ldq + j], w = ldexpf(v, -eq[i]);
      if (isfinite(v) && !isfinite(w))
        rc = vec_fail(VEC_E_RANGE, (long long)i,
                      "%s: query %zu holds %g, out of float32's range at this index's scale 2^%d",
                      fn, i, (double)v, e);
      y[i * ix->d + j] = w;
    }
  free(eq);
  if (rc) {
    free(y), free(b);
    return rc;
  }
  *qs = y;
  *back = b;
  return VEC_OK;
}

int vec_index_search(vec_index *ix, const float *queries, size_t nq, size_t ldq, size_t k,
                     const vec_search_params *params, uint64_t *ids, float *scores,
                     vec_search_stats *stats) {
  static const char fn[] = "vec_index_search";
  vec_clear_error();
  if (!ix) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL index", fn);
  if (params && params->struct_size < sizeof *params)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: params->struct_size is too small", fn);
  if (k == 0) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: k must be >= 1", fn);
  if (nq && (!queries || !ids || !scores))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  if (ldq < ix->d)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: ldq (%zu) must be >= d (%zu)", fn, ldq, ix->d);
  size_t bytes;
  if (!vec_mul_ok(nq, k, &bytes) || !vec_mul_ok(bytes, sizeof(uint64_t), &bytes))
    return vec_fail(VEC_E_OVERFLOW, -1, "%s: nq x k overflows", fn);
  float *qs = NULL;
  int *back = NULL,
      rc0 = scale_queries(fn, ix, vec_index_scale_exp(ix), queries, nq, ldq, &qs, &back);
  if (rc0) return rc0;
  if (qs) {
    queries = qs;
    ldq = ix->d;
  }
  rw_rdlock(&ix->lock);
  vec_search_params p = params ? *params : ix->defaults;
  if (!(p.oversample == 0 || (p.oversample >= 1 && p.oversample <= 1e6)) ||
      !(p.rerank_oversample == 0 || (p.rerank_oversample >= 1 && p.rerank_oversample <= 1e6)) ||
      !(p.bound_scale == 0 || (p.bound_scale > 0 && p.bound_scale <= 16))) {
    rw_unlock(&ix->lock);
    free(qs), free(back);
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "%s: oversample and rerank_oversample must be 0 (default) or in [1, 1e6], "
                    "bound_scale in (0, 16]",
                    fn);
  }
  size_t words = (ix->n + 63) / 64;
  uint64_t *allow = NULL;
  int rc = VEC_OK;
  if (p.filter_ids) {
    /* The allow-list becomes a bitmap over rows (ids not held are ignored), ANDed with live. */
    allow = calloc(words ? words : 1, sizeof *allow);
    if (!allow) rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory for the filter", fn);
    for (size_t i = 0; !rc && i < p.filter_count; i++) {
      uint64_t r = map_get(ix, p.filter_ids[i]);
      if (r != NO_ID) allow[r >> 6] |= 1ull << (r & 63);
    }
  } else if (ix->ndead) {
    allow = ix->live;
  }
  uint64_t *rows = NULL;
  vec_search_stats st = {0, 0};
  if (!rc && !(rows = malloc(bytes ? bytes : 1)))
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  if (!rc) rc = search_locked(fn, ix, queries, nq, ldq, k, &p, allow, rows, scores, &st);
  for (size_t i = 0; !rc && i < nq * k; i++) ids[i] = rows[i] == NO_ID ? NO_ID : ix->ids[rows[i]];
  int own = allow && allow != ix->live; /* read under the lock: live moves when rows grow */
  rw_unlock(&ix->lock);
  if (own) free(allow);
  free(rows);
  /* Scores back to the caller's scale in double, rounded once (+-Inf past float32); + 0 turns a
   * -0 (an L2 distance of 0, a cosine of -0) into 0. NaN (empty slots) stays NaN. */
  for (size_t i = 0; !rc && i < nq; i++)
    for (size_t j = 0; j < k; j++) {
      float *s = scores + i * k + j;
      if (back && back[i]) {
        double v = ldexp((double)*s, back[i]);
        *s = fabs(v) > FLT_MAX ? copysignf(INFINITY, (float)*s) : (float)v;
      }
      *s += 0.0f;
    }
  free(qs), free(back);
  if (stats) *stats = st;
  return rc;
}

/* ----- files -------------------------------------------------------------------------------- */
static const char *metric_name(vec_metric m) {
  return m == VEC_METRIC_COSINE ? "cosine" : m == VEC_METRIC_L2 ? "l2" : "ip";
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Progress of a save or load in rows (Python's Ctrl-C lands through it). */
typedef struct io_progress {
  vec_progress_fn fn;
  void *user;
  uint64_t done, total;
} io_progress;

static int io_step(io_progress *p, size_t rows) {
  p->done += rows;
  if (!p->fn || !p->fn(p->user, (size_t)p->done, (size_t)p->total)) return VEC_OK;
  return vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
}

/* Appends the live rows of one stage to w, in runs of at most LOAD_CHUNK rows (codes NULL: the
 * first stage, wherever its rows are). */
static int write_stage(const vec_index *ix, vec_vqz_writer *w, const uint8_t *codes,
                       const float *scales, size_t cs, size_t sc, io_progress *pr) {
  int rc = VEC_OK;
  for (size_t r = 0; !rc && r < ix->n;) {
    if (!is_live(ix, r)) {
      r++;
      continue;
    }
    size_t e = r, lim = codes ? ix->n : r + run_from(ix, r);
    while (e < lim && e - r < LOAD_CHUNK && is_live(ix, e)) e++;
    const uint8_t *c = codes ? codes + r * cs : code_at(ix, r);
    const float *s = !sc ? NULL : codes ? scales + r * sc : scale_at(ix, r);
    rc = vec_vqz_writer_append(w, c, s, ix->ids + r, e - r);
    if (!rc) rc = io_step(pr, e - r);
    r = e;
  }
  return rc;
}

/* A 2.0 (appendable) file for an index without sidecars: blocks of about 64 MiB of codes, so a
 * mapped search runs over a few large segments. */
static int save_vqz(const vec_index *ix, const char *path, const vec_codec *c, const char *meta,
                    const uint8_t *codes, const float *scales, size_t cs, size_t sc, int v2,
                    io_progress *pr) {
  vec_vqz_options vo = VEC_VQZ_OPTIONS_INIT;
  vo.metadata = meta;
  vo.with_ids = 1;
  if (v2) {
    size_t rows = ((size_t)64 << 20) / (cs + 4 * sc + 8) / 64 * 64;
    vo.block_rows = rows < 64 ? 64 : rows;
  }
  vec_vqz_writer *w;
  int rc =
      v2 ? vec_vqz_writer_open_appendable(path, c, &vo, &w) : vec_vqz_writer_open(path, c, &vo, &w);
  if (rc) return rc;
  if ((rc = write_stage(ix, w, codes, scales, cs, sc, pr))) {
    vec_vqz_writer_abort(w);
    return rc;
  }
  return vec_vqz_writer_finish(w);
}

/* Appends rows [saved, n) to the file the index was read from or last saved to, when path is that
 * file and nothing but additions happened since: no deleted rows, no row of the file replaced, no
 * sidecars, and the file still at the commit the index knows (vec_vqz_append checks that under
 * its lock). Anything else: VEC_E_INVALID_ARG, and the caller rewrites the file. */
static int try_append(vec_index *ix, const char *path, const char *meta) {
  uint64_t dev, ino;
  if (!ix->fpath || ix->dirty || ix->ndead || ix->rerank || ix->keep_originals ||
      ix->saved < ix->nmap || vec_os_file_identity(path, &dev, &ino) != 0 || dev != ix->fdev ||
      ino != ix->fino)
    return VEC_E_INVALID_ARG;
  size_t h = ix->saved - ix->nmap, m = ix->n - ix->saved;
  uint64_t gen;
  int rc = vec_vqz_append(path, ix->fgen, meta, ix->codes + h * ix->cs,
                          ix->sc ? ix->scales + h * ix->sc : NULL, ix->ids + ix->saved, m, &gen);
  if (rc == VEC_OK) ix->fgen = gen, ix->saved = ix->n;
  return rc;
}

int vec_index_save(vec_index *ix, const char *path, const char *extra_metadata) {
  return vec_index_save_opts(ix, path, extra_metadata, NULL);
}

int vec_index_save_opts(vec_index *ix, const char *path, const char *extra_metadata,
                        const vec_batch_opts *opts) {
  static const char fn[] = "vec_index_save";
  vec_clear_error();
  if (!ix || !path) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  if (opts && opts->struct_size < sizeof *opts)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: vec_batch_opts.struct_size is too small", fn);
  size_t plen = strlen(path), extra = extra_metadata ? strlen(extra_metadata) : 0;
  char *side = malloc(plen + 32), *rside = malloc(plen + 32);
  char *meta = malloc(META_MAX + 2 * plen + extra);
  if (!side || !rside || !meta) {
    free(side), free(rside), free(meta);
    return vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
  }
  pthread_mutex_lock(&ix->save_m); /* one save at a time: they update the file's tracking */
  rw_rdlock(&ix->lock);
  int len = snprintf(meta, META_MAX, "{\"vectro_index\": 2, \"metric\": \"%s\", \"next_id\": %llu",
                     metric_name(ix->metric), (unsigned long long)ix->next_id);
  if (ix->rerank)
    len +=
        snprintf(meta + len, META_MAX + plen, ", \"rerank\": \"%s.rerank.vqz\"", base_name(path));
  if (ix->keep_originals)
    len += snprintf(meta + len, META_MAX + plen, ", \"originals\": \"%s.originals.npy\"",
                    base_name(path));
  int sx = vec_index_scale_exp(ix);
  if (sx) /* the codes are of x * 2^-scale_exp */
    len += snprintf(meta + len, META_MAX + plen, ", \"scale_exp\": %d", sx);
  if (extra) len += snprintf(meta + len, extra + 8, ", %s", extra_metadata);
  snprintf(meta + len, 4, "}");
  int rc = VEC_OK;
  if (try_append(ix, path, meta) == VEC_OK) {
    rw_unlock(&ix->lock);
    pthread_mutex_unlock(&ix->save_m);
    free(side), free(rside), free(meta);
    return VEC_OK;
  }
  vec_clear_error();
#if defined(_WIN32)
  /* Windows cannot replace a file while a view of it is mapped (by this index or another): a
   * rewrite first reads the mapped rows and originals into memory and unmaps them. */
  if (ix->map.base || ix->omap.base) {
    rw_unlock(&ix->lock);
    rw_wrlock(&ix->lock);
    rc = materialize(ix);
    rw_unlock(&ix->lock);
    rw_rdlock(&ix->lock);
    if (rc) {
      rw_unlock(&ix->lock);
      pthread_mutex_unlock(&ix->save_m);
      free(side), free(rside), free(meta);
      return rc;
    }
  }
#endif
  io_progress pr = {opts ? opts->progress : NULL, opts ? opts->progress_user : NULL, 0, 0};
  pr.total = (uint64_t)ix->mcount * (1u + (ix->rerank != NULL) + (ix->keep_originals != 0));
  /* The sidecars first: the main file, renamed into place last, names them. A sidecar this call
   * creates is removed again if the save fails, so a failed save leaves no new file. */
  int made_r = 0, made_o = 0;
  if (ix->rerank) {
    snprintf(rside, plen + 32, "%s.rerank.vqz", path);
    made_r = !file_exists(rside);
    rc = save_vqz(ix, rside, ix->rerank, "{\"vectro_index_rerank\": 1}", ix->rcodes, ix->rscales,
                  ix->rcs, ix->rsc, 0, &pr);
  }
  if (!rc && ix->keep_originals) {
    snprintf(side, plen + 32, "%s.originals.npy", path);
    made_o = !file_exists(side);
    vec_npy_writer *nw;
    float *row = malloc(ix->d * sizeof *row); /* the originals at the caller's scale */
    rc = row ? vec_npy_writer_open(side, ix->d, &nw)
             : vec_fail(VEC_E_NOMEM, -1, "%s: no memory", fn);
    size_t since = 0;
    for (size_t r = 0; !rc && r < ix->n; r++) {
      if (!is_live(ix, r)) continue;
      for (size_t j = 0; j < ix->d; j++) row[j] = ldexpf(ix->orig[r * ix->d + j], sx);
      rc = vec_npy_writer_append(nw, row, 1, ix->d);
      if (!rc && ++since == LOAD_CHUNK) rc = io_step(&pr, since), since = 0;
      if (rc) {
        vec_npy_writer_abort(nw); /* frees it and its temporary: no incomplete sidecar */
        nw = NULL;
      }
    }
    if (!rc) rc = vec_npy_writer_finish(nw);
    if (!rc) rc = io_step(&pr, since);
    free(row);
  }
  int v2 = !ix->rerank && !ix->keep_originals;
  if (!rc) rc = save_vqz(ix, path, ix->codec, meta, NULL, NULL, ix->cs, ix->sc, v2, &pr);
  if (rc && made_r) vec_os_unlink(rside);
  if (rc && made_o) vec_os_unlink(side);
  uint64_t dev, ino;
  free(ix->fpath);
  ix->fpath = NULL;
  ix->saved = 0;
  /* The file now holds rows [0, n) in order when none is deleted: later saves may append. */
  if (!rc && v2 && !ix->ndead && vec_os_file_identity(path, &dev, &ino) == 0 &&
      (ix->fpath = strdup(path))) {
    ix->fdev = dev, ix->fino = ino, ix->fgen = 1;
    ix->saved = ix->n, ix->dirty = 0;
  }
  rw_unlock(&ix->lock);
  pthread_mutex_unlock(&ix->save_m);
  free(rside), free(side), free(meta);
  return rc;
}

/* The value of "key" in the index's own metadata (written first, before a caller's members): a
 * string copied into out, or a number. Returns 1 if found. A small scanner, not a JSON parser: it
 * reads the keys vec_index_save writes, in the form it writes them. */
static int meta_value(const char *meta, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *s = strstr(meta, pat);
  if (!s) return 0;
  s += strlen(pat);
  size_t i = 0;
  if (*s == '"') {
    for (s++; *s && *s != '"' && i + 1 < cap; s++) out[i++] = *s;
  } else {
    for (; *s && ((*s >= '0' && *s <= '9') || *s == '-') && i + 1 < cap; s++) out[i++] = *s;
  }
  out[i] = 0;
  return i > 0;
}

/* Reads every row of r into ix's stage (codes/scales arrays already reserved); ids when asked. */
static int load_stage(vec_vqz_reader *r, size_t n, uint8_t *codes, float *scales, size_t cs,
                      size_t sc, uint64_t *ids, io_progress *pr) {
  for (size_t a = 0; a < n; a += LOAD_CHUNK) {
    size_t m = n - a < LOAD_CHUNK ? n - a : LOAD_CHUNK;
    int rc =
        vec_vqz_read(r, a, m, codes + a * cs, sc ? scales + a * sc : NULL, ids ? ids + a : NULL);
    if (!rc) rc = io_step(pr, m);
    if (rc) return rc;
  }
  return VEC_OK;
}

static char *join_dir(const char *path, const char *name) {
  const char *s = strrchr(path, '/');
  size_t dl = s ? (size_t)(s - path) + 1 : 0, nl = strlen(name);
  char *out = malloc(dl + nl + 1);
  if (out) {
    memcpy(out, path, dl);
    memcpy(out + dl, name, nl + 1);
  }
  return out;
}

static int load_originals(vec_index *ix, const char *path, io_progress *pr) {
  vec_reader *rd;
  int rc = vec_reader_open(path, &rd);
  if (rc) return rc;
  if (vec_reader_dim(rd) != ix->d || vec_reader_count(rd) != ix->n) {
    rc = vec_fail(VEC_E_INVALID_ARG, -1,
                  "vec_index_load: originals %s hold %llu rows of %zu, the index %zu of %zu", path,
                  (unsigned long long)vec_reader_count(rd), vec_reader_dim(rd), ix->n, ix->d);
    vec_reader_close(rd);
    return rc;
  }
  int sq = ix->metric != VEC_METRIC_IP;
  ix->keep_originals = 1;
  vec_os_stat st;
  /* A mapped index maps float32 .npy originals too (C order, aligned, at the index's scale): the
   * rescoring reads them in place. Anything else is read into memory. */
  if (ix->nmap && rd->kind == VEC_FILE_NPY && rd->elem == VEC_EL_F32 && !rd->fortran &&
      rd->data_off % 4 == 0 && vec_index_scale_exp(ix) == 0 && vec_os_fstat(rd->fd, &st) == 0 &&
      st.size > 0 && st.size <= SIZE_MAX &&
      vec_os_map_read(rd->fd, 0, (size_t)st.size, &ix->omap) == 0) {
    size_t at = (size_t)rd->data_off;
    vec_reader_close(rd);
    ix->orig = (float *)(void *)((uint8_t *)ix->omap.base + at);
    if ((rc = grow((void **)&ix->osq, ix->cap, sq ? sizeof(float) : 0)))
      return vec_fail(rc, -1, "vec_index_load: out of memory for the originals' norms");
    for (size_t i = 0; sq && i < ix->n; i++) ix->osq[i] = sqnorm_f32(ix->orig + i * ix->d, ix->d);
    if (sq) vec_os_map_drop_pages(&ix->omap); /* as for the codes' norms */
    return VEC_OK;
  }
  if ((rc = grow((void **)&ix->orig, ix->cap, ix->d * sizeof(float))) ||
      (rc = grow((void **)&ix->osq, ix->cap, sq ? sizeof(float) : 0))) {
    vec_reader_close(rd);
    return vec_fail(rc, -1, "vec_index_load: out of memory for the originals");
  }
  for (size_t got = 0, a = 0; a < ix->n && !rc; a += got) {
    size_t want = ix->n - a < LOAD_CHUNK ? ix->n - a : LOAD_CHUNK;
    rc = vec_reader_read(rd, ix->orig + a * ix->d, want, &got);
    if (!rc && !got) rc = vec_fail(VEC_E_FORMAT, -1, "vec_index_load: %s ended early", path);
    if (!rc) rc = io_step(pr, got);
  }
  vec_reader_close(rd);
  int e = vec_index_scale_exp(ix); /* the file holds them at the caller's scale */
  for (size_t i = 0; !rc && e && i < ix->n * ix->d; i++) {
    float v = ix->orig[i], w = ldexpf(v, -e);
    if (isfinite(v) && !isfinite(w))
      rc = vec_fail(VEC_E_INVALID_ARG, (long long)(i / ix->d),
                    "vec_index_load: originals %s: row %zu is out of range at the index's scale "
                    "2^%d",
                    path, i / ix->d, e);
    ix->orig[i] = w;
  }
  for (size_t i = 0; !rc && sq && i < ix->n; i++)
    ix->osq[i] = sqnorm_f32(ix->orig + i * ix->d, ix->d);
  return rc;
}

static int load_rerank(vec_index *ix, const char *path, io_progress *pr) {
  vec_vqz_reader *r;
  int rc = vec_vqz_reader_open(path, &r);
  if (rc) return rc;
  const vec_codec *c = vec_vqz_codec(r);
  if (vec_codec_get_params(c)->dim != ix->d || vec_vqz_count(r) != ix->n) {
    rc = vec_fail(VEC_E_INVALID_ARG, -1,
                  "vec_index_load: rerank file %s holds %llu rows of dimension %zu, the index %zu "
                  "of %zu",
                  path, (unsigned long long)vec_vqz_count(r), vec_codec_get_params(c)->dim, ix->n,
                  ix->d);
    vec_vqz_reader_close(r);
    return rc;
  }
  int sq = ix->metric != VEC_METRIC_IP;
  if ((rc = copy_codec(c, &ix->rerank))) goto out;
  ix->rcs = vec_codec_code_size(ix->rerank);
  ix->rsc = vec_codec_scale_count(ix->rerank);
  if ((rc = grow((void **)&ix->rcodes, ix->cap, ix->rcs)) ||
      (rc = grow((void **)&ix->rscales, ix->cap, ix->rsc * sizeof(float))) ||
      (rc = grow((void **)&ix->rsqn, ix->cap, sq ? sizeof(float) : 0)))
    goto out;
  uint64_t *ids = NULL;
  if (vec_vqz_has_ids(r) && !(ids = malloc((ix->n ? ix->n : 1) * sizeof *ids))) {
    rc = VEC_E_NOMEM;
    goto out;
  }
  rc = load_stage(r, ix->n, ix->rcodes, ix->rscales, ix->rcs, ix->rsc, ids, pr);
  if (!rc && ids && memcmp(ids, ix->ids, ix->n * sizeof *ids) != 0)
    rc = vec_fail(VEC_E_INVALID_ARG, -1,
                  "vec_index_load: rerank file %s holds other ids (or another order)", path);
  free(ids);
  if (!rc && sq) rc = vec_codes_sqnorms(ix->rerank, ix->rcodes, ix->rscales, ix->n, ix->rsqn, NULL);
out:
  vec_vqz_reader_close(r);
  return rc;
}

/* Maps the file of r and points the segments at its blocks (every block checked first, by pread);
 * the ids are read by pread, so nothing of the mapping is touched before a search. */
static int map_file(vec_index *ix, vec_vqz_reader *r, const char *path) {
  int rc = vec_vqz_check_blocks(r), fd = vec_vqz_fd(r);
  if (rc) return rc;
  uint64_t nb = vec_vqz_blocks(r);
  if (!(ix->segs = malloc((size_t)nb * sizeof *ix->segs + 1)))
    return vec_fail(VEC_E_NOMEM, -1, "vec_index_load: out of memory");
  size_t size = vec_vqz_file_size(r);
  if (vec_os_map_read(fd, 0, size, &ix->map) != 0)
    return vec_fail_os(errno, "vec_index_load: cannot map '%s': %s", path, strerror(errno));
  const uint8_t *m = ix->map.addr;
  for (uint64_t b = 0; b < nb; b++) {
    vec_vqz_block blk;
    vec_vqz_block_at(r, b, &blk);
    const uint8_t *at = m + blk.offset;
    ix->segs[b] = (seg){(size_t)blk.first, (size_t)blk.rows, at,
                        ix->sc ? (const float *)(const void *)(at + blk.scales) : NULL};
    ix->nsegs = (size_t)b + 1;
    if (!vec_vqz_has_ids(r)) continue;
    uint8_t *dst = (uint8_t *)(ix->ids + blk.first);
    size_t left = (size_t)blk.rows * 8;
    uint64_t off = blk.offset + blk.ids;
    while (left) {
      ssize_t k = vec_os_pread(fd, dst, left, off);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0)
        return vec_fail(VEC_E_IO, -1, "vec_index_load: cannot read the ids of '%s'", path);
      dst += k, left -= (size_t)k, off += (uint64_t)k;
    }
  }
  return VEC_OK;
}

int vec_index_load(const char *path, const vec_index_load_options *opts, vec_index **out) {
  static const char fn[] = "vec_index_load";
  vec_clear_error();
  if (!path || !out) return vec_fail(VEC_E_INVALID_ARG, -1, "%s: NULL argument", fn);
  *out = NULL;
  if (opts && opts->struct_size < offsetof(vec_index_load_options, progress))
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: opts->struct_size is too small", fn);
  io_progress pr = {NULL, NULL, 0, 0};
  if (opts && opts->struct_size >= sizeof *opts)
    pr.fn = opts->progress, pr.user = opts->progress_user;
  vec_vqz_reader *r;
  int rc = vec_vqz_reader_open(path, &r);
  if (rc) return rc;
  const char *meta = vec_vqz_metadata(r);
  char val[4096];
  vec_metric metric = VEC_METRIC_COSINE;
  if (opts && opts->metric_override >= 0) {
    metric = (vec_metric)opts->metric_override;
  } else if (meta_value(meta, "metric", val, sizeof val)) {
    if (!strcmp(val, "ip"))
      metric = VEC_METRIC_IP;
    else if (!strcmp(val, "l2"))
      metric = VEC_METRIC_L2;
    else if (strcmp(val, "cosine")) {
      vec_vqz_reader_close(r);
      return vec_fail(VEC_E_FORMAT, -1, "%s: %s names an unknown metric '%s'", fn, path, val);
    }
  }
  vec_index *ix;
  if ((rc = vec_index_create(vec_vqz_codec(r), metric, NULL, &ix))) {
    vec_vqz_reader_close(r);
    return rc;
  }
  uint64_t n64 = vec_vqz_count(r);
  size_t n = (size_t)n64;
  int mapped = opts && opts->mapped && n;
  if (mapped) ix->nmap = n; /* reserve then gives the in-memory codes no rows */
  if ((rc = reserve(ix, n)) || (rc = map_reserve(ix, n))) {
    rc = vec_fail(rc, -1, "%s: out of memory for %zu rows", fn, n);
    goto fail;
  }
  pr.total = (uint64_t)n * (1u + (strstr(vec_vqz_metadata(r), "\"originals\": ") != NULL) +
                            (strstr(vec_vqz_metadata(r), "\"rerank\": ") != NULL));
  if (mapped ? (rc = map_file(ix, r, path))
             : (rc = load_stage(r, n, ix->codes, ix->scales, ix->cs, ix->sc,
                                vec_vqz_has_ids(r) ? ix->ids : NULL, &pr)))
    goto fail;
  for (size_t i = 0; !vec_vqz_has_ids(r) && i < n; i++) ix->ids[i] = i;
  for (size_t i = 0; i < n; i++) {
    if (ix->ids[i] == NO_ID) {
      rc = vec_fail(VEC_E_FORMAT, (long long)i, "%s: %s: row %zu has id 2^64 - 1", fn, path, i);
      goto fail;
    }
    if (map_get(ix, ix->ids[i]) != NO_ID) {
      rc = vec_fail(VEC_E_FORMAT, (long long)i, "%s: %s: id %llu repeats (row %zu)", fn, path,
                    (unsigned long long)ix->ids[i], i);
      goto fail;
    }
    map_put(ix, ix->ids[i], i);
    set_live(ix, i, 1);
    if (ix->ids[i] >= ix->next_id) ix->next_id = ix->ids[i] + 1;
  }
  ix->n = n;
  if (meta_value(meta, "next_id", val, sizeof val)) {
    unsigned long long v = strtoull(val, NULL, 10);
    if (v > ix->next_id && v < NO_ID) ix->next_id = v;
  }
  if (meta_value(meta, "scale_exp", val, sizeof val)) {
    char *end;
    long e = strtol(val, &end, 10);
    if (*end || e < -SCALE_EXP_MAX || e > SCALE_EXP_MAX) {
      rc = vec_fail(VEC_E_FORMAT, -1, "%s: %s has an invalid scale_exp '%s'", fn, path, val);
      goto fail;
    }
    atomic_store(&ix->sexp, (int)e);
  } else if (n) {
    atomic_store(&ix->sexp, 0); /* rows held: their scale is the file's */
  }
  for (size_t a = 0, m; ix->metric != VEC_METRIC_IP && a < n; a += m) {
    m = run_from(ix, a);
    if ((rc = vec_codes_sqnorms(ix->codec, code_at(ix, a), scale_at(ix, a), m, ix->sqn + a, NULL)))
      goto fail;
  }
  /* The norms touched every page of the map: let them go from this process's RSS (they stay in the
   * page cache, clean, and come back at the next search's first touch). */
  if (ix->map.base && ix->metric != VEC_METRIC_IP) vec_os_map_drop_pages(&ix->map);
  {
    const char *op = opts ? opts->originals : NULL, *rp = opts ? opts->rerank : NULL;
    int sidecars = !opts || opts->sidecars;
    char *o2 = NULL, *r2 = NULL;
    if (!op && sidecars && meta_value(meta, "originals", val, sizeof val))
      op = o2 = join_dir(path, base_name(val));
    if (!rp && sidecars && meta_value(meta, "rerank", val, sizeof val))
      rp = r2 = join_dir(path, base_name(val));
    if (op) rc = load_originals(ix, op, &pr);
    if (!rc && rp) rc = load_rerank(ix, rp, &pr);
    free(o2);
    free(r2);
    if (rc) goto fail;
  }
  if (!(ix->metadata = strdup(meta))) {
    rc = vec_fail(VEC_E_NOMEM, -1, "%s: out of memory", fn);
    goto fail;
  }
  vec_os_stat st;
  /* A 2.0 file with ids: a later save to the same path may append to it. */
  if (vec_vqz_generation(r) && vec_vqz_has_ids(r) && vec_vqz_fd(r) >= 0 &&
      vec_os_fstat(vec_vqz_fd(r), &st) == 0 && (ix->fpath = strdup(path))) {
    ix->fdev = st.dev, ix->fino = st.ino;
    ix->fgen = vec_vqz_generation(r), ix->saved = n;
  }
  vec_vqz_reader_close(r);
  *out = ix;
  return VEC_OK;
fail:
  vec_vqz_reader_close(r);
  vec_index_free(ix);
  return rc;
}
