/* vqz.c: the .vqz container (docs/format.md is the byte-by-byte specification): a streaming writer
 * that holds at most one block in memory and renames a finished temporary over the target, and a
 * reader (pread, no memory map) that checks every length against the file's size before use and
 * every block's CRC-32C before trusting its bytes. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codecs/codec_impl.h"
#include "../common/platform.h"
#include "tmpfile.h"
#include "vqz_internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vqz.c copies floats and ids as little-endian bytes: big-endian hosts need byte swaps here"
#endif

/* Format constants (docs/format.md). */
#define VQZ_MAJOR  2 /* the newest major this reader reads; writers write 1.0 unless appendable */
#define VQZ_MINOR  0
#define VQZ_SLOTS  64 /* 2.0: two 32-byte commit slots after the fixed header */
#define VQZ_SLOT   32
#define VQZ_HEADER 96 /* fixed header of 1.0, CRC included */
#define VQZ_HEADER_MAX  65536
#define VQZ_PREFIX      16 /* magic, version, header size: the same in every version */
#define VQZ_FOOTER_HEAD 16 /* footer magic + block count */
#define VQZ_FOOTER_TAIL 8  /* footer CRC + whole-file CRC */
#define VQZ_ENTRY       16 /* block index entry: u64 offset, u32 rows, u32 CRC */
#define VQZ_MAX_DIM     ((uint64_t)1 << 28)
#define VQZ_FLAG_IDS    1u

static const unsigned char vqz_magic[8] = {0x89, 'V', 'Q', 'Z', '\r', '\n', 0x1a, '\n'};
static const unsigned char foot_magic[8] = {'V', 'Q', 'Z', 'I', 'N', 'D', 'E', 'X'};
static const unsigned char foot2_magic[8] = {'V', 'Q', 'Z', 'F', 'O', 'O', 'T', '2'};

/* The writer's limits: a block it must buffer stays at most 1 GiB, the default aims at 1 MiB of
 * codes (large enough that per-block costs vanish, small enough to check on every first read). */
#define WRITER_MAX_BLOCK   ((uint64_t)1 << 30)
#define DEFAULT_BLOCK_CODE ((size_t)1 << 20)
#define MAX_METADATA       ((size_t)1 << 31)

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static unsigned get16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }
static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t pad8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }
static uint64_t pad64(uint64_t v) { return (v + 63) & ~(uint64_t)63; }

/* Section offsets inside a block of r rows (all multiples of 8) and its size; 0 on overflow,
 * which no valid layout produces since a block of r >= 1 rows holds at least one code byte. */
typedef struct {
  uint64_t scales, ids, size;
} block_layout;

static int layout(uint64_t r, uint64_t cs, uint64_t sc, int ids, block_layout *l) {
  uint64_t codes, sbytes, ibytes;
  *l = (block_layout){0, 0, 0};
  if (__builtin_mul_overflow(r, cs, &codes) || __builtin_mul_overflow(r, sc, &sbytes) ||
      __builtin_mul_overflow(sbytes, 4, &sbytes) || __builtin_mul_overflow(r, 8, &ibytes) ||
      codes > ((uint64_t)1 << 62) || sbytes > ((uint64_t)1 << 61) || ibytes > ((uint64_t)1 << 61))
    return 0;
  l->scales = pad8(codes);
  l->ids = pad8(l->scales + sbytes);
  l->size = l->ids + (ids ? ibytes : 0);
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Writer
 * ------------------------------------------------------------------------------------------- */
struct vec_vqz_writer_s {
  int fd;
  char *path, *tmp;
  vec_codec *codec; /* the writer's own copy */
  size_t cs, sc, rows_per_block;
  int has_ids, tmp_created;
  block_layout full; /* layout of a full block: where rows are buffered */
  uint8_t *buf;      /* one full block */
  size_t fill;       /* rows in buf */
  uint64_t count, blocks, pos, data_off, stride;
  uint32_t body_crc; /* CRC-32C of the bytes written after the fixed header */
  uint32_t *crcs;    /* one per finished block: the index is written at finish */
  size_t crcs_cap;
  uint8_t header[VQZ_HEADER];
  int v2;     /* format 2.0 (appendable): commit slots, metadata in the footer */
  char *meta; /* 2.0: the metadata, written in the footer by finish */
  size_t meta_size;
  int failed;
  char failmsg[256];
};

static int io_fail(const char *what, const char *path) {
  return vec_fail_os(errno, "%s '%s': %s", what, path, strerror(errno));
}

/* Writes n bytes at the end of the temporary, keeping pos and the running CRC. */
static int emit(vec_vqz_writer *w, const void *data, size_t n, uint32_t crc_of_data) {
  const uint8_t *p = data;
  size_t left = n;
  while (left) {
    ssize_t k = vec_os_write(w->fd, p, left);
    if (k < 0) {
      if (errno == EINTR) continue;
      return io_fail("cannot write", w->tmp);
    }
    p += k, left -= (size_t)k;
  }
  w->body_crc = vec_crc32c_combine(w->body_crc, crc_of_data, n);
  w->pos += n;
  return VEC_OK;
}

static int emit_crc(vec_vqz_writer *w, const void *data, size_t n) {
  return emit(w, data, n, vec_crc32c(0, data, n));
}

static int emit_zeros(vec_vqz_writer *w, uint64_t n) {
  static const uint8_t zeros[64];
  while (n) {
    size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
    int rc = emit_crc(w, zeros, k);
    if (rc) return rc;
    n -= k;
  }
  return VEC_OK;
}

static void build_header(vec_vqz_writer *w, uint32_t codec_size, uint32_t meta_size,
                         uint32_t meta_crc, uint64_t footer_off) {
  uint8_t *h = w->header;
  memset(h, 0, VQZ_HEADER);
  memcpy(h, vqz_magic, 8);
  put16(h + 8, w->v2 ? 2 : 1);
  put16(h + 10, 0);
  put32(h + 12, VQZ_HEADER);
  put32(h + 16, w->has_ids ? VQZ_FLAG_IDS : 0);
  put32(h + 20, (uint32_t)vec_codec_kind(w->codec));
  put64(h + 24, (uint64_t)w->codec->d);
  if (w->v2) footer_off = 0; /* 2.0: the commit slots hold count and footer, the footer metadata */
  put64(h + 32, footer_off ? w->count : 0);
  put32(h + 40, (uint32_t)w->cs);
  put32(h + 44, (uint32_t)w->sc);
  put32(h + 48, (uint32_t)w->rows_per_block);
  put32(h + 52, codec_size);
  put32(h + 56, w->v2 ? 0 : meta_size);
  put32(h + 60, w->v2 ? 0 : meta_crc);
  put64(h + 64, w->data_off);
  put64(h + 72, w->v2 ? 0 : w->stride);
  put64(h + 80, footer_off);
  put32(h + VQZ_HEADER - 4, vec_crc32c(0, h, VQZ_HEADER - 4));
}

static void writer_free(vec_vqz_writer *w) {
  if (w->fd >= 0) vec_os_close(w->fd);
  free(w->path);
  free(w->tmp);
  free(w->buf);
  free(w->crcs);
  free(w->meta);
  vec_codec_free(w->codec);
  free(w);
}

static void writer_discard(vec_vqz_writer *w) {
  if (w->fd >= 0) {
    vec_os_close(w->fd);
    w->fd = -1;
  }
  if (w->tmp_created) vec_os_unlink(w->tmp);
  writer_free(w);
}

/* Records the first error so that finish can repeat it, and returns rc. */
static int poison(vec_vqz_writer *w, int rc) {
  if (!w->failed) {
    w->failed = rc;
    snprintf(w->failmsg, sizeof w->failmsg, "%s", vec_last_error_message());
  }
  return rc;
}

static int writer_open(const char *path, const vec_codec *codec, const vec_vqz_options *opts,
                       int v2, vec_vqz_writer **out) {
  if (!path || !codec || !out)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_writer_open: NULL argument");
  *out = NULL;
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  if (opts) {
    if (opts->struct_size < sizeof o)
      return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_options.struct_size is %zu, expected %zu",
                      opts->struct_size, sizeof o);
    o = *opts;
  }
  if (!vec_codec_is_trained(codec))
    return vec_fail(VEC_E_NOT_TRAINED, -1,
                    "codec '%s' must be trained before its codes can be stored",
                    vec_codec_name(vec_codec_kind(codec)));
  size_t meta_size = o.metadata ? strlen(o.metadata) : 0;
  if (meta_size > MAX_METADATA)
    return vec_fail(VEC_E_INVALID_ARG, -1, "metadata of %zu bytes is over the 2 GiB limit",
                    meta_size);
  size_t cs = vec_codec_code_size(codec), sc = vec_codec_scale_count(codec);
  size_t rpb =
      o.block_rows ? o.block_rows : (DEFAULT_BLOCK_CODE / cs ? DEFAULT_BLOCK_CODE / cs : 1);
  block_layout full;
  if (rpb > UINT32_MAX || !layout(rpb, cs, sc, o.with_ids != 0, &full) ||
      full.size > WRITER_MAX_BLOCK)
    return vec_fail(VEC_E_INVALID_ARG, -1,
                    "block_rows %zu is too large: a block must stay under 2^32 rows and 1 GiB",
                    rpb);

  vec_vqz_writer *w = calloc(1, sizeof *w);
  if (!w) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  w->fd = -1;
  w->v2 = v2;
  w->cs = cs, w->sc = sc, w->rows_per_block = rpb, w->has_ids = o.with_ids != 0;
  w->full = full;
  w->stride = pad64(full.size);
  size_t codec_size = vec_codec_serialized_size(codec);
  uint8_t *ser = malloc(codec_size);
  w->buf = calloc(1, (size_t)full.size);
  int rc = VEC_E_NOMEM;
  if (!ser || !w->buf) goto fail_nomem;
  if ((rc = vec_codec_serialize(codec, ser, codec_size)) ||
      (rc = vec_codec_deserialize(ser, codec_size, &w->codec)))
    goto fail;

  /* A fresh temporary beside the target (links followed), renamed over it by finish. */
  free(w->path), free(w->tmp);
  w->path = w->tmp = NULL;
  if ((rc = vec_tmpfile_create(path, &w->path, &w->tmp, &w->fd))) goto fail;
  w->tmp_created = 1;
  uint64_t meta_off = VQZ_HEADER + (v2 ? VQZ_SLOTS : 0) + codec_size;
  w->data_off = pad64(meta_off + (v2 ? 0 : meta_size));
  if (v2) {
    w->meta_size = meta_size;
    if (!(w->meta = malloc(meta_size + 1))) goto fail_nomem;
    memcpy(w->meta, o.metadata ? o.metadata : "", meta_size);
  }
  uint32_t meta_crc = vec_crc32c(0, o.metadata ? o.metadata : "", meta_size);
  /* The header is written now with count 0 and no footer offset (what marks a file its writer did
   * not finish) and written again by finish. */
  build_header(w, (uint32_t)codec_size, (uint32_t)meta_size, meta_crc, 0);
  rc = VEC_OK;
  for (size_t k = 0; k < VQZ_HEADER && rc == VEC_OK;) {
    ssize_t n = vec_os_write(w->fd, w->header + k, VQZ_HEADER - k);
    if (n < 0 && errno != EINTR) rc = io_fail("cannot write", w->tmp);
    if (n > 0) k += (size_t)n;
  }
  w->pos = VQZ_HEADER;
  if (rc || (v2 && (rc = emit_zeros(w, VQZ_SLOTS))) || (rc = emit_crc(w, ser, codec_size)) ||
      (!v2 && (rc = emit(w, o.metadata ? o.metadata : "", meta_size, meta_crc))) ||
      (rc = emit_zeros(w, w->data_off - w->pos)))
    goto fail;
  free(ser);
  *out = w;
  return VEC_OK;

fail_nomem:
  rc = vec_fail(VEC_E_NOMEM, -1, "out of memory");
fail:
  free(ser);
  writer_discard(w);
  return rc;
}

int vec_vqz_writer_open(const char *path, const vec_codec *codec, const vec_vqz_options *opts,
                        vec_vqz_writer **out) {
  vec_clear_error();
  return writer_open(path, codec, opts, 0, out);
}

int vec_vqz_writer_open_appendable(const char *path, const vec_codec *codec,
                                   const vec_vqz_options *opts, vec_vqz_writer **out) {
  vec_clear_error();
  return writer_open(path, codec, opts, 1, out);
}

uint64_t vec_vqz_writer_count(const vec_vqz_writer *w) { return w ? w->count : 0; }

/* Writes the buffered rows as one block (padding first up to the block's computed offset). */
static int flush_block(vec_vqz_writer *w) {
  size_t r = w->fill;
  if (r == 0) return VEC_OK;
  block_layout l;
  layout(r, w->cs, w->sc, w->has_ids, &l);
  if (r < w->rows_per_block) { /* the last block: its sections move down to their r-row places */
    memmove(w->buf + l.scales, w->buf + w->full.scales, r * w->sc * 4);
    if (w->has_ids) memmove(w->buf + l.ids, w->buf + w->full.ids, r * 8);
    memset(w->buf + r * w->cs, 0, (size_t)(l.scales - r * w->cs));
    memset(w->buf + l.scales + r * w->sc * 4, 0, (size_t)(l.ids - l.scales - r * w->sc * 4));
  }
  if (w->crcs_cap == w->blocks) {
    size_t cap = w->crcs_cap ? w->crcs_cap * 2 : 64;
    uint32_t *c = realloc(w->crcs, cap * sizeof *c);
    if (!c) return vec_fail(VEC_E_NOMEM, -1, "out of memory for the block index");
    w->crcs = c, w->crcs_cap = cap;
  }
  int rc = emit_zeros(w, w->data_off + w->blocks * w->stride - w->pos);
  if (rc) return rc;
  uint32_t crc = vec_crc32c(0, w->buf, (size_t)l.size);
  if ((rc = emit(w, w->buf, (size_t)l.size, crc))) return rc;
  w->crcs[w->blocks++] = crc;
  w->fill = 0;
  return VEC_OK;
}

static int check_append(vec_vqz_writer *w, const char *fn, size_t n, const uint64_t *ids) {
  if (w->failed)
    return vec_fail(VEC_E_INVALID_ARG, -1, "%s: the writer failed earlier (%s)", fn, w->failmsg);
  if (n && w->has_ids && !ids)
    return poison(w, vec_fail(VEC_E_INVALID_ARG, -1,
                              "%s: the file stores ids (with_ids) but ids is NULL", fn));
  if (n && !w->has_ids && ids)
    return poison(w, vec_fail(VEC_E_INVALID_ARG, -1,
                              "%s: ids given, but the writer was opened without with_ids", fn));
  if (w->count + n < w->count)
    return poison(w, vec_fail(VEC_E_OVERFLOW, -1, "%s: row count overflows", fn));
  return VEC_OK;
}

int vec_vqz_writer_append(vec_vqz_writer *w, const void *codes, const float *scales,
                          const uint64_t *ids, size_t n) {
  vec_clear_error();
  if (!w) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_writer_append: NULL writer");
  int rc = check_append(w, "vec_vqz_writer_append", n, ids);
  if (rc) return rc;
  if (n && (!codes || (w->sc && !scales)))
    return poison(w, vec_fail(VEC_E_INVALID_ARG, -1,
                              "vec_vqz_writer_append: NULL codes or scales with n = %zu", n));
  /* Scales are checked before anything is buffered: a file never holds one decode would refuse. */
  size_t bad = w->sc ? vec_codec_bad_scale(w->codec, scales, n) : 0;
  if (bad < n * w->sc) {
    uint64_t row = w->count + bad / w->sc;
    return poison(w, vec_fail(VEC_E_INVALID_ARG, (long long)row,
                              "row %llu has scale %g: scales must be finite and >= 0",
                              (unsigned long long)row, (double)scales[bad]));
  }
  const uint8_t *c = codes;
  for (size_t done = 0; done < n;) {
    size_t take = w->rows_per_block - w->fill;
    if (take > n - done) take = n - done;
    memcpy(w->buf + w->fill * w->cs, c + done * w->cs, take * w->cs);
    if (w->sc)
      memcpy(w->buf + w->full.scales + w->fill * w->sc * 4, scales + done * w->sc,
             take * w->sc * 4);
    if (w->has_ids) memcpy(w->buf + w->full.ids + w->fill * 8, ids + done, take * 8);
    w->fill += take, w->count += take, done += take;
    if (w->fill == w->rows_per_block && (rc = flush_block(w))) return poison(w, rc);
  }
  return VEC_OK;
}

/* Maps each piece's progress onto the whole call. */
typedef struct {
  vec_progress_fn fn;
  void *user;
  size_t base, total;
} progress_map;

static int mapped_progress(void *user, size_t done, size_t total) {
  progress_map *m = user;
  (void)total;
  return m->fn(m->user, m->base + done, m->total);
}

int vec_vqz_writer_append_floats(vec_vqz_writer *w, const float *x, size_t n, size_t ldx,
                                 const uint64_t *ids, const vec_batch_opts *opts) {
  vec_clear_error();
  if (!w) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_writer_append_floats: NULL writer");
  int rc = check_append(w, "vec_vqz_writer_append_floats", n, ids);
  if (rc) return rc;
  if (n && (!x || ldx < w->codec->d))
    return poison(w, vec_fail(VEC_E_INVALID_ARG, -1,
                              "vec_vqz_writer_append_floats: NULL x or ldx (%zu) < d (%zu)", ldx,
                              w->codec->d));
  vec_batch_opts local;
  progress_map map = {0};
  const vec_batch_opts *po = opts;
  if (opts && opts->struct_size >= sizeof local && opts->progress) {
    local = *opts;
    map.fn = opts->progress, map.user = opts->progress_user, map.total = n;
    local.progress = mapped_progress, local.progress_user = &map;
    po = &local;
  }
  for (size_t done = 0; done < n;) {
    size_t take = w->rows_per_block - w->fill;
    if (take > n - done) take = n - done;
    map.base = done;
    /* Straight into the block buffer: the scales section starts at a multiple of 8 bytes of a
     * malloc'd buffer, so it is aligned for floats. */
    rc = vec_codec_encode(
        w->codec, x + done * ldx, take, ldx, w->buf + w->fill * w->cs,
        w->sc ? (float *)(void *)(w->buf + w->full.scales) + w->fill * w->sc : NULL, po);
    if (rc) {
      long long bad = vec_last_error_row();
      if (bad >= 0 && (rc == VEC_E_NONFINITE || rc == VEC_E_RANGE)) {
        uint64_t row = w->count + (uint64_t)bad;
        vec_fail(rc, (long long)row, "row %llu of the file (row %zu of this call) %s",
                 (unsigned long long)row, done + (size_t)bad,
                 rc == VEC_E_NONFINITE ? "holds NaN or Inf"
                                       : "holds a value outside the codec's range");
      }
      return poison(w, rc);
    }
    if (w->has_ids) memcpy(w->buf + w->full.ids + w->fill * 8, ids + done, take * 8);
    w->fill += take, w->count += take, done += take;
    if (w->fill == w->rows_per_block && (rc = flush_block(w))) return poison(w, rc);
  }
  return VEC_OK;
}

/* fsyncs the directory holding path, so that the rename itself survives a crash. */
static int sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) {
    dir = strdup(".");
  } else {
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(len + 1);
    if (dir) memcpy(dir, path, len), dir[len] = '\0';
  }
  if (!dir) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  int rc = VEC_OK;
  /* Some file systems cannot sync a directory (EINVAL): vec_os_sync_dir counts that as done. */
  if (vec_os_sync_dir(dir) != 0)
    rc = vec_fail_os(errno, "'%s' was written, but syncing its directory '%s' failed: %s", path,
                     dir, strerror(errno));
  free(dir);
  return rc;
}

/* A 2.0 footer (docs/format.md): magic, block count, old_b entries copied from old plus new_b
 * entries, the metadata, and the footer's CRC-32C. malloc'd; *size its bytes. */
static uint8_t *footer2(const uint8_t *old, uint64_t old_b, const uint8_t *add, uint64_t new_b,
                        const char *meta, size_t ms, size_t *size) {
  uint64_t b = old_b + new_b;
  size_t n = VQZ_FOOTER_HEAD + (size_t)b * VQZ_ENTRY + 8 + ms + 4;
  uint8_t *f = malloc(n);
  if (!f) return NULL;
  memcpy(f, foot2_magic, 8);
  put64(f + 8, b);
  if (old_b) memcpy(f + VQZ_FOOTER_HEAD, old, (size_t)old_b * VQZ_ENTRY);
  if (new_b) memcpy(f + VQZ_FOOTER_HEAD + old_b * VQZ_ENTRY, add, (size_t)new_b * VQZ_ENTRY);
  uint8_t *m = f + VQZ_FOOTER_HEAD + b * VQZ_ENTRY;
  put32(m, (uint32_t)ms);
  put32(m + 4, 0);
  if (ms) memcpy(m + 8, meta, ms);
  put32(f + n - 4, vec_crc32c(0, f, n - 4));
  *size = n;
  return f;
}

static void put_slot(uint8_t *s, uint64_t gen, uint64_t footer_off, uint64_t count,
                     uint32_t footer_size) {
  put64(s, gen);
  put64(s + 8, footer_off);
  put64(s + 16, count);
  put32(s + 24, footer_size);
  put32(s + 28, vec_crc32c(0, s, 28));
}

static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off, const char *name) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t k = vec_os_pwrite(fd, p, n, off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return io_fail("cannot write", name);
    p += k, n -= (size_t)k, off += (uint64_t)k;
  }
  return VEC_OK;
}

/* 2.0: the footer after the last block, then commit slot 0 (generation 1); the header written at
 * open is already final. */
static int finish_v2(vec_vqz_writer *w) {
  int rc = emit_zeros(w, pad64(w->pos) - w->pos);
  if (rc) return rc;
  uint64_t footer_off = w->pos;
  uint8_t *entries = malloc(w->blocks ? (size_t)w->blocks * VQZ_ENTRY : 1);
  if (!entries) return vec_fail(VEC_E_NOMEM, -1, "out of memory for the block index");
  for (uint64_t b = 0; b < w->blocks; b++) {
    uint64_t rows = w->count - b * w->rows_per_block;
    if (rows > w->rows_per_block) rows = w->rows_per_block;
    put64(entries + b * VQZ_ENTRY, w->data_off + b * w->stride);
    put32(entries + b * VQZ_ENTRY + 8, (uint32_t)rows);
    put32(entries + b * VQZ_ENTRY + 12, w->crcs[b]);
  }
  size_t fs;
  uint8_t *f = footer2(NULL, 0, entries, w->blocks, w->meta, w->meta_size, &fs);
  free(entries);
  if (!f) return vec_fail(VEC_E_NOMEM, -1, "out of memory for the footer");
  if (fs > UINT32_MAX) {
    free(f);
    return vec_fail(VEC_E_INVALID_ARG, -1, "the footer of '%s' would exceed 4 GiB", w->path);
  }
  rc = emit_crc(w, f, fs);
  free(f);
  uint8_t slot[VQZ_SLOT];
  put_slot(slot, 1, footer_off, w->count, (uint32_t)fs);
  if (!rc) rc = pwrite_all(w->fd, slot, VQZ_SLOT, VQZ_HEADER, w->tmp);
  return rc;
}

int vec_vqz_writer_finish(vec_vqz_writer *w) {
  vec_clear_error();
  if (!w) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_writer_finish: NULL writer");
  if (w->failed) {
    int rc = vec_fail(VEC_E_INVALID_ARG, -1, "'%s' was not written: an append failed earlier (%s)",
                      w->path, w->failmsg);
    writer_discard(w);
    return rc;
  }
  int rc = flush_block(w);
  if (rc) goto fail;
  if (w->v2) {
    if ((rc = finish_v2(w))) goto fail;
    goto sync;
  }
  uint64_t footer_off = w->pos;
  build_header(w, get32(w->header + 52), get32(w->header + 56), get32(w->header + 60), footer_off);
  /* The footer: magic, block count, the index (offsets and row counts are implied by the header,
   * stored so that a reader can cross-check them), the footer's own CRC, the whole-file CRC. */
  uint8_t chunk[VQZ_FOOTER_HEAD + 256 * VQZ_ENTRY];
  memcpy(chunk, foot_magic, 8);
  put64(chunk + 8, w->blocks);
  size_t k = VQZ_FOOTER_HEAD;
  uint32_t foot_crc = 0;
  for (uint64_t b = 0; b < w->blocks; b++) {
    uint64_t rows = w->count - b * w->rows_per_block;
    if (rows > w->rows_per_block) rows = w->rows_per_block;
    put64(chunk + k, w->data_off + b * w->stride);
    put32(chunk + k + 8, (uint32_t)rows);
    put32(chunk + k + 12, w->crcs[b]);
    k += VQZ_ENTRY;
    if (k == sizeof chunk) {
      foot_crc = vec_crc32c(foot_crc, chunk, k);
      if ((rc = emit_crc(w, chunk, k))) goto fail;
      k = 0;
    }
  }
  foot_crc = vec_crc32c(foot_crc, chunk, k);
  put32(chunk + k, foot_crc);
  k += 4;
  if ((rc = emit_crc(w, chunk, k))) goto fail;
  uint32_t file_crc =
      vec_crc32c_combine(vec_crc32c(0, w->header, VQZ_HEADER), w->body_crc, w->pos - VQZ_HEADER);
  put32(chunk, file_crc);
  if ((rc = emit_crc(w, chunk, 4))) goto fail;
  for (size_t off = 0; off < VQZ_HEADER;) {
    ssize_t n = vec_os_pwrite(w->fd, w->header + off, VQZ_HEADER - off, off);
    if (n < 0 && errno != EINTR) {
      rc = io_fail("cannot write", w->tmp);
      goto fail;
    }
    if (n > 0) off += (size_t)n;
  }
sync:
  if (vec_os_fsync(w->fd) != 0) {
    rc = io_fail("cannot sync", w->tmp);
    goto fail;
  }
  int fd = w->fd;
  w->fd = -1;
  if (vec_os_close(fd) != 0) {
    rc = io_fail("cannot close", w->tmp);
    goto fail;
  }
  if (vec_os_replace(w->tmp, w->path) != 0) {
    rc = vec_fail_os(errno, "cannot rename '%s' to '%s': %s", w->tmp, w->path, strerror(errno));
    goto fail;
  }
  rc = sync_dir(w->path);
  writer_free(w);
  return rc;
fail:
  writer_discard(w);
  return rc;
}

void vec_vqz_writer_abort(vec_vqz_writer *w) {
  if (w) writer_discard(w);
}

/* ---------------------------------------------------------------------------------------------
 * Reader
 * ------------------------------------------------------------------------------------------- */
/* The reader reads with pread, not through a memory map: a file truncated (or rewritten in place)
 * under a mapping raises SIGBUS, which would kill the process (Python included) outside any error
 * path. With pread a shrunk file is a short read and an error naming the file; a file replaced by
 * rename (what every vectro writer does) leaves the open descriptor on the old, intact file. The
 * copy costs what a memcpy from the mapping cost: both read the page cache. */
struct vec_vqz_reader_s {
  const uint8_t *base; /* an image in memory (vec_vqz_reader_open_memory); NULL for a file */
  int fd;              /* the file (base == NULL) */
  size_t size;
  uint8_t *footer; /* the footer (block index and checksums), size - footer_off bytes */
  char *name;
  vec_codec *codec;
  char *metadata;
  unsigned major, minor;
  int has_ids;
  uint64_t count, blocks, data_off, stride, footer_off;
  size_t cs, sc, rows_per_block, meta_size;
  /* One flag per block, set once its CRC has matched. Atomic so that concurrent reads may set
   * them; two threads checking the same block at once only cost a second CRC. */
  atomic_uchar *verified;
  /* 2.0: block b's offset and first row (bfirst has blocks + 1 entries), the committed
   * generation and the slot (0 or 1) that holds it. NULL / 0 for 1.x files. */
  uint64_t *boff, *bfirst, gen;
  int slot;
  uint32_t hs;
};

void vec_vqz_reader_close(vec_vqz_reader *r) {
  if (!r) return;
  if (!r->base && r->fd >= 0) vec_os_close(r->fd);
  free(r->footer);
  vec_codec_free(r->codec);
  free(r->metadata);
  free(r->name);
  free((void *)r->verified);
  free(r->boff);
  free(r->bfirst);
  free(r);
}

/* Reads bytes [off, off + n) into dst: from the image, or by pread. Every caller has checked the
 * range against the size the file had when opened, so a short read means the file shrank. */
static int fetch_into(const vec_vqz_reader *r, uint64_t off, size_t n, void *dst) {
  if (r->base) {
    memcpy(dst, r->base + off, n);
    return VEC_OK;
  }
  uint8_t *d = dst;
  while (n) {
    ssize_t k = vec_os_pread(r->fd, d, n, off);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return io_fail("cannot read", r->name);
    if (k == 0)
      return vec_fail(VEC_E_IO, -1,
                      "'%s' changed while open: it is now shorter than the %zu bytes it had "
                      "(truncated, or rewritten in place; replace files by rename)",
                      r->name, r->size);
    d += k, n -= (size_t)k, off += (uint64_t)k;
  }
  return VEC_OK;
}

/* Bytes [off, off + n) as *out: a pointer into the image, or into *keep (malloc'd and read by
 * pread; the caller frees it, also on error). */
static int fetch(const vec_vqz_reader *r, uint64_t off, size_t n, const uint8_t **out,
                 uint8_t **keep) {
  *keep = NULL;
  if (r->base) {
    *out = r->base + off;
    return VEC_OK;
  }
  if (!(*keep = malloc(n ? n : 1)))
    return vec_fail(VEC_E_NOMEM, -1, "out of memory reading %zu bytes of '%s'", n, r->name);
  *out = *keep;
  return fetch_into(r, off, n, *keep);
}

static uint64_t block_rows_of(const vec_vqz_reader *r, uint64_t b) {
  if (r->bfirst) return r->bfirst[b + 1] - r->bfirst[b];
  uint64_t rows = r->count - b * r->rows_per_block;
  return rows < r->rows_per_block ? rows : r->rows_per_block;
}
static uint64_t block_off(const vec_vqz_reader *r, uint64_t b) {
  return r->boff ? r->boff[b] : r->data_off + b * r->stride;
}
static uint64_t block_first(const vec_vqz_reader *r, uint64_t b) {
  return r->bfirst ? r->bfirst[b] : b * r->rows_per_block;
}
/* The block holding row (< count). */
static uint64_t block_of(const vec_vqz_reader *r, uint64_t row) {
  if (!r->bfirst) return row / r->rows_per_block;
  uint64_t lo = 0, hi = r->blocks - 1; /* the last b with bfirst[b] <= row */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo + 1) / 2;
    if (r->bfirst[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* Every check of vec_vqz_reader_open except the data blocks' CRCs (first read, or verify). */
static int parse_header(vec_vqz_reader *r, const uint8_t *p);

/* 2.0: the footer a commit slot names (at off, fs bytes, count rows): checked whole, then kept. */
static int parse_footer2(vec_vqz_reader *r, uint64_t off, uint64_t fs, uint64_t count) {
  const char *nm = r->name;
  size_t S = r->size;
  if (off < r->data_off || off % 8 || fs < VQZ_FOOTER_HEAD + 12 || fs > S || off > S - fs)
    return vec_fail(VEC_E_FORMAT, -1,
                    "'%s': the footer (at %llu, %llu bytes) lies outside the file", nm,
                    (unsigned long long)off, (unsigned long long)fs);
  uint8_t *f = malloc((size_t)fs);
  if (!f) return vec_fail(VEC_E_NOMEM, -1, "out of memory for the footer of '%s'", nm);
  int rc = fetch_into(r, off, (size_t)fs, f);
  uint64_t B = rc ? 0 : get64(f + 8);
  if (!rc &&
      (memcmp(f, foot2_magic, 8) != 0 || vec_crc32c(0, f, (size_t)fs - 4) != get32(f + fs - 4)))
    rc = vec_fail(VEC_E_FORMAT, -1, "'%s': the footer fails its magic or CRC-32C check", nm);
  if (!rc && B > (fs - VQZ_FOOTER_HEAD - 12) / VQZ_ENTRY)
    rc = vec_fail(VEC_E_FORMAT, -1, "'%s': the footer's block count is invalid", nm);
  uint64_t ms = 0, mat = 0;
  if (!rc) {
    mat = VQZ_FOOTER_HEAD + B * VQZ_ENTRY;
    ms = get32(f + mat);
    if (ms != fs - mat - 12)
      rc = vec_fail(VEC_E_FORMAT, -1, "'%s': the footer's metadata size is invalid", nm);
    else if (memchr(f + mat + 8, 0, (size_t)ms))
      rc = vec_fail(VEC_E_FORMAT, -1, "'%s': the metadata holds a NUL byte", nm);
  }
  uint64_t *bo = NULL, *bf = NULL;
  if (!rc && (!(bo = malloc((size_t)(B + 1) * 8)) || !(bf = malloc((size_t)(B + 1) * 8))))
    rc = vec_fail(VEC_E_NOMEM, -1, "out of memory");
  uint64_t end = r->data_off, total = 0;
  for (uint64_t b = 0; !rc && b < B; b++) {
    const uint8_t *e = f + VQZ_FOOTER_HEAD + b * VQZ_ENTRY;
    uint64_t bo_b = get64(e), rows = get32(e + 8);
    block_layout l;
    if (rows == 0 || bo_b % 8 || bo_b < end || !layout(rows, r->cs, r->sc, r->has_ids, &l) ||
        l.size > off || bo_b > off - l.size || total + rows < total) {
      rc = vec_fail(VEC_E_FORMAT, -1,
                    "'%s': block %llu (at %llu, %llu rows) is out of place (corrupt)", nm,
                    (unsigned long long)b, (unsigned long long)bo_b, (unsigned long long)rows);
      break;
    }
    bo[b] = bo_b, bf[b] = total;
    end = bo_b + l.size, total += rows;
  }
  if (!rc && total != count)
    rc = vec_fail(VEC_E_FORMAT, -1, "'%s': the blocks hold %llu rows, the commit says %llu", nm,
                  (unsigned long long)total, (unsigned long long)count);
  char *meta = rc ? NULL : malloc((size_t)ms + 1);
  if (!rc && !meta) rc = vec_fail(VEC_E_NOMEM, -1, "out of memory");
  if (rc) {
    free(f), free(bo), free(bf);
    return rc;
  }
  bf[B] = total;
  memcpy(meta, f + mat + 8, (size_t)ms);
  meta[ms] = 0;
  free(r->footer), free(r->boff), free(r->bfirst), free(r->metadata);
  r->footer = f, r->boff = bo, r->bfirst = bf, r->metadata = meta, r->meta_size = (size_t)ms;
  r->count = count, r->blocks = B, r->footer_off = off;
  return VEC_OK;
}

/* 2.0: the valid commit slot of the highest generation whose footer checks out (a slot torn by a
 * crash fails its CRC, and the other slot still names the previous, intact footer). */
static int parse_commit(vec_vqz_reader *r) {
  uint8_t s[VQZ_SLOTS];
  if (r->hs + (uint64_t)VQZ_SLOTS > r->size)
    return vec_fail(VEC_E_FORMAT, -1, "'%s' is truncated inside its commit slots", r->name);
  int rc = fetch_into(r, r->hs, VQZ_SLOTS, s);
  if (rc) return rc;
  uint64_t g[2];
  for (int i = 0; i < 2; i++) {
    const uint8_t *p = s + i * VQZ_SLOT;
    g[i] = vec_crc32c(0, p, 28) == get32(p + 28) ? get64(p) : 0;
  }
  int first = g[1] > g[0];
  rc =
      vec_fail(VEC_E_FORMAT, -1, "'%s' holds no valid commit (its writer never finished)", r->name);
  for (int t = 0; t < 2; t++) {
    int i = t ? !first : first;
    if (!g[i]) continue;
    const uint8_t *p = s + i * VQZ_SLOT;
    rc = parse_footer2(r, get64(p + 8), get32(p + 24), get64(p + 16));
    if (rc == VEC_OK) {
      r->gen = g[i], r->slot = i;
      break;
    }
  }
  if (rc) return rc;
  r->verified = calloc(r->blocks ? (size_t)r->blocks : 1, sizeof *r->verified);
  if (!r->verified) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  return VEC_OK;
}

static int parse(vec_vqz_reader *r) {
  /* Every header field lies in the first VQZ_HEADER_MAX bytes (the header size is checked
   * against it), so those are read once. */
  uint8_t *keep;
  const uint8_t *p = NULL;
  int rc = fetch(r, 0, r->size < VQZ_HEADER_MAX ? r->size : VQZ_HEADER_MAX, &p, &keep);
  if (rc == VEC_OK) rc = parse_header(r, p);
  free(keep);
  return rc;
}

static int parse_header(vec_vqz_reader *r, const uint8_t *p) {
  size_t S = r->size;
  const char *nm = r->name;
  if (S >= 8 && memcmp(p, vqz_magic, 8) != 0) {
    if (S >= 7 && memcmp(p, "\x89VQZ\n\x1a\n", 7) == 0)
      return vec_fail(VEC_E_FORMAT, -1,
                      "'%s' is a .vqz file damaged by a text-mode transfer (CR LF became LF)", nm);
    return vec_fail(VEC_E_FORMAT, -1, "'%s' is not a .vqz file (bad magic)", nm);
  }
  if (S < VQZ_PREFIX || memcmp(p, vqz_magic, 8) != 0)
    return vec_fail(VEC_E_FORMAT, -1, "'%s' is truncated: %zu bytes, too short for a .vqz header",
                    nm, S);
  /* Magic, version and header size sit at the same place in every version, and the header's CRC
   * is always its last 4 bytes: a corrupt version number is then caught as corruption, and only a
   * header that checks out is judged by its version. */
  size_t hs = get32(p + 12);
  if (hs < VQZ_PREFIX + 4 || hs > VQZ_HEADER_MAX || hs % 4)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': header size %zu is invalid (corrupt)", nm, hs);
  if (hs > S)
    return vec_fail(VEC_E_FORMAT, -1, "'%s' is truncated inside its header (%zu of %zu bytes)", nm,
                    S, hs);
  if (vec_crc32c(0, p, hs - 4) != get32(p + hs - 4))
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the header fails its CRC-32C check (corrupt)", nm);
  r->major = get16(p + 8), r->minor = get16(p + 10);
  if (r->major == 0)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': format version 0.%u is invalid", nm, r->minor);
  if (r->major > VQZ_MAJOR || (r->major == 2 && r->minor > 0))
    return vec_fail(VEC_E_VERSION, -1,
                    "'%s' was written in .vqz format version %u.%u; this vectro (%s) reads "
                    "versions up to %u.x: upgrade vectro to read it",
                    nm, r->major, r->minor, VEC_VERSION_STRING, VQZ_MAJOR);
  if (hs < VQZ_HEADER)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': header of %zu bytes, version 1 needs %d", nm, hs,
                    VQZ_HEADER);
  uint32_t flags = get32(p + 16);
  r->has_ids = (flags & VQZ_FLAG_IDS) != 0;
  uint32_t codec_id = get32(p + 20);
  uint64_t dim = get64(p + 24);
  r->count = get64(p + 32);
  uint64_t cs = get32(p + 40), sc = get32(p + 44), R = get32(p + 48);
  uint64_t codec_size = get32(p + 52), meta_size = get32(p + 56);
  uint32_t meta_crc = get32(p + 60);
  r->data_off = get64(p + 64);
  r->stride = get64(p + 72);
  r->footer_off = get64(p + 80);
  if (dim == 0 || dim > VQZ_MAX_DIM)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': absurd dimension %llu (must be 1..2^28)", nm,
                    (unsigned long long)dim);
  if (R == 0) return vec_fail(VEC_E_FORMAT, -1, "'%s': 0 rows per block (corrupt)", nm);

  /* The embedded codec. Its own CRC (its last 4 bytes) is checked here first, so that damage to
   * its version field reads as corruption rather than as a newer version. */
  uint64_t codec_at = hs + (r->major >= 2 ? VQZ_SLOTS : 0);
  r->hs = (uint32_t)hs;
  if (codec_at > S || codec_size < 8 || codec_size > S - codec_at)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': embedded codec of %llu bytes does not fit the file",
                    nm, (unsigned long long)codec_size);
  const uint8_t *cp = NULL;
  uint8_t *keep;
  int rc = fetch(r, codec_at, (size_t)codec_size, &cp, &keep);
  if (rc) {
    free(keep);
    return rc;
  }
  if (vec_crc32c(0, cp, (size_t)codec_size - 4) != get32(cp + codec_size - 4)) {
    free(keep);
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the embedded codec fails its CRC-32C check", nm);
  }
  rc = vec_codec_deserialize(cp, (size_t)codec_size, &r->codec);
  free(keep);
  if (rc == VEC_E_VERSION) return vec_fail(rc, -1, "'%s': %s", nm, vec_last_error_message());
  if (rc)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': embedded codec: %s", nm, vec_last_error_message());
  const vec_codec *c = r->codec;
  if (vec_codec_serialized_size(c) != codec_size || (uint32_t)vec_codec_kind(c) != codec_id ||
      c->d != dim || vec_codec_code_size(c) != cs || vec_codec_scale_count(c) != sc)
    return vec_fail(VEC_E_FORMAT, -1,
                    "'%s': the header (codec %u, d = %llu, %llu code bytes, %llu scales) disagrees "
                    "with the embedded codec",
                    nm, codec_id, (unsigned long long)dim, (unsigned long long)cs,
                    (unsigned long long)sc);
  if (!vec_codec_is_trained(c)) /* a writer only stores trained codecs: the file was altered */
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the embedded %s codec is untrained (no %s)", nm,
                    vec_codec_name(vec_codec_kind(c)),
                    vec_codec_kind(c) == VEC_CODEC_PQ       ? "codebooks"
                    : vec_codec_kind(c) == VEC_CODEC_RABITQ ? "centre"
                                                            : "ranges");
  r->cs = (size_t)cs, r->sc = (size_t)sc, r->rows_per_block = (size_t)R;

  uint64_t meta_off = codec_at + codec_size;
  if (r->major >= 2) {
    if (meta_size || meta_crc)
      return vec_fail(VEC_E_FORMAT, -1, "'%s': a 2.0 header names metadata (corrupt)", nm);
    if (r->data_off < meta_off || r->data_off > S || r->data_off % 8)
      return vec_fail(VEC_E_FORMAT, -1, "'%s': data offset %llu is invalid", nm,
                      (unsigned long long)r->data_off);
    return parse_commit(r);
  }
  if (meta_size > S - meta_off)
    return vec_fail(VEC_E_FORMAT, -1, "'%s' is truncated inside its metadata", nm);
  r->metadata = malloc((size_t)meta_size + 1);
  if (!r->metadata) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  if ((rc = fetch_into(r, meta_off, (size_t)meta_size, r->metadata))) return rc;
  r->metadata[meta_size] = '\0';
  r->meta_size = (size_t)meta_size;
  if (vec_crc32c(0, r->metadata, (size_t)meta_size) != meta_crc)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the metadata fails its CRC-32C check", nm);
  if (memchr(r->metadata, 0, (size_t)meta_size))
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the metadata holds a NUL byte", nm);

  if (r->data_off < meta_off + meta_size || r->data_off > S || r->data_off % 8)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': data offset %llu is invalid", nm,
                    (unsigned long long)r->data_off);
  if (r->footer_off == 0)
    return vec_fail(VEC_E_FORMAT, -1,
                    "'%s' is incomplete: its writer never finished it (no footer)", nm);
  block_layout full, last;
  if (!layout(R, cs, sc, r->has_ids, &full) || r->stride < full.size || r->stride % 8)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': block stride %llu is invalid", nm,
                    (unsigned long long)r->stride);
  r->blocks = r->count / R + (r->count % R != 0);
  uint64_t data_end = r->data_off;
  if (r->blocks) {
    uint64_t span;
    layout(block_rows_of(r, r->blocks - 1), cs, sc, r->has_ids, &last);
    if (__builtin_mul_overflow(r->blocks - 1, r->stride, &span) ||
        __builtin_add_overflow(data_end, span, &data_end) ||
        __builtin_add_overflow(data_end, last.size, &data_end) || data_end > S)
      return vec_fail(VEC_E_FORMAT, -1,
                      "'%s': the header promises %llu rows, more than the file's %zu bytes hold "
                      "(truncated or corrupt)",
                      nm, (unsigned long long)r->count, S);
  }
  uint64_t foot_need;
  if (r->footer_off < data_end || r->footer_off > S ||
      __builtin_mul_overflow(r->blocks, VQZ_ENTRY, &foot_need) || foot_need > S ||
      foot_need + VQZ_FOOTER_HEAD + VQZ_FOOTER_TAIL != S - r->footer_off)
    return vec_fail(VEC_E_FORMAT, -1,
                    "'%s': the footer (at %llu, %llu blocks) does not end the file's %zu bytes "
                    "(truncated or corrupt)",
                    nm, (unsigned long long)r->footer_off, (unsigned long long)r->blocks, S);
  if (!(r->footer = malloc(S - (size_t)r->footer_off)))
    return vec_fail(VEC_E_NOMEM, -1, "out of memory for the block index of '%s'", nm);
  if ((rc = fetch_into(r, r->footer_off, S - (size_t)r->footer_off, r->footer))) return rc;
  const uint8_t *f = r->footer;
  size_t index_end = VQZ_FOOTER_HEAD + (size_t)foot_need;
  if (memcmp(f, foot_magic, 8) != 0 || get64(f + 8) != r->blocks)
    return vec_fail(VEC_E_FORMAT, -1, "'%s': bad footer (corrupt)", nm);
  if (vec_crc32c(0, f, index_end) != get32(f + index_end))
    return vec_fail(VEC_E_FORMAT, -1, "'%s': the block index fails its CRC-32C check", nm);
  for (uint64_t b = 0; b < r->blocks; b++) {
    const uint8_t *e = f + VQZ_FOOTER_HEAD + b * VQZ_ENTRY;
    if (get64(e) != r->data_off + b * r->stride || get32(e + 8) != block_rows_of(r, b))
      return vec_fail(VEC_E_FORMAT, -1, "'%s': block index entry %llu disagrees with the header",
                      nm, (unsigned long long)b);
  }
  r->verified = calloc(r->blocks ? (size_t)r->blocks : 1, sizeof *r->verified);
  if (!r->verified) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  return VEC_OK;
}

/* A reader over an image in memory (base) or the open file fd (base NULL; the reader owns fd). */
static int open_reader(const void *base, int fd, size_t size, const char *name,
                       vec_vqz_reader **out) {
  vec_vqz_reader *r = calloc(1, sizeof *r);
  size_t nl = strlen(name);
  char *nm = malloc(nl + 1);
  if (!r || !nm) {
    free(r);
    free(nm);
    if (!base) vec_os_close(fd);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  memcpy(nm, name, nl + 1);
  r->base = base, r->fd = fd, r->size = size, r->name = nm;
  int rc = parse(r);
  if (rc) {
    vec_vqz_reader_close(r);
    return rc;
  }
  *out = r;
  return VEC_OK;
}

int vec_vqz_reader_open_memory(const void *buf, size_t size, const char *name,
                               vec_vqz_reader **out) {
  vec_clear_error();
  if (!out || (!buf && size)) return vec_fail(VEC_E_INVALID_ARG, -1, "NULL argument");
  *out = NULL;
  static const uint8_t empty[1];
  return open_reader(buf ? buf : empty, -1, size, name ? name : "(memory)", out);
}

int vec_vqz_reader_open(const char *path, vec_vqz_reader **out) {
  vec_clear_error();
  if (!path || !out) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_reader_open: NULL argument");
  *out = NULL;
  int fd = vec_os_open_read(path);
  if (fd < 0) return io_fail("cannot open", path);
  vec_os_stat st;
  if (vec_os_fstat(fd, &st) != 0) {
    int rc = io_fail("cannot stat", path);
    vec_os_close(fd);
    return rc;
  }
  if (!st.regular) {
    vec_os_close(fd);
    return vec_fail(VEC_E_IO, -1, "'%s' is not a regular file", path);
  }
  if (st.size > SIZE_MAX || st.size > (uint64_t)INT64_MAX) {
    vec_os_close(fd);
    return vec_fail(VEC_E_IO, -1, "'%s' is too large", path);
  }
  return open_reader(NULL, fd, (size_t)st.size, path, out);
}

uint64_t vec_vqz_count(const vec_vqz_reader *r) { return r ? r->count : 0; }
const vec_codec *vec_vqz_codec(const vec_vqz_reader *r) { return r ? r->codec : NULL; }
const char *vec_vqz_metadata(const vec_vqz_reader *r) { return r ? r->metadata : ""; }
int vec_vqz_has_ids(const vec_vqz_reader *r) { return r ? r->has_ids : 0; }

/* A checksum only proves the bytes are the ones written: a crafted (or buggy) writer can store
 * codes that decode to Inf or NaN (f16 codes with an all-ones exponent, an int8 scale of 3e38),
 * which would turn into NaN scores in search and NaN rows in decompress. So a block is also
 * decoded once, in pieces of at most 256 KiB of floats, and refused when a row is not finite. */
static int block_finite(const vec_vqz_reader *r, const uint8_t *blk, uint64_t rows,
                        const block_layout *l, uint64_t first) {
  size_t d = r->codec->d, piece = ((size_t)256 << 10) / (d * sizeof(float));
  if (piece == 0) piece = 1;
  if (piece > rows) piece = (size_t)rows;
  float *out = malloc(piece * d * sizeof(float)), *sc = malloc(piece * r->sc * 4 + 4);
  int rc = out && sc ? VEC_OK : vec_fail(VEC_E_NOMEM, -1, "out of memory");
  vec_batch_opts o = VEC_BATCH_OPTS_INIT;
  o.threads = 1;
  for (uint64_t i = 0; rc == VEC_OK && i < rows; i += piece) {
    size_t m = rows - i < piece ? (size_t)(rows - i) : piece;
    memcpy(sc, blk + l->scales + i * r->sc * 4, m * r->sc * 4); /* aligned copy of the scales */
    rc = vec_codec_decode(r->codec, blk + i * r->cs, sc, m, out, d, &o);
    if (rc) {
      long long bad = vec_last_error_row();
      uint64_t row = first + i + (bad >= 0 ? (uint64_t)bad : 0);
      rc = vec_fail(VEC_E_FORMAT, (long long)row,
                    "'%s': row %llu %s, although its block passes its CRC-32C: the file was "
                    "written with out-of-range codes or scales",
                    r->name, (unsigned long long)row,
                    rc == VEC_E_NONFINITE ? "decodes to NaN or Inf" : "has an invalid scale");
    }
  }
  free(out);
  free(sc);
  return rc;
}

/* Reads block b (its bytes in *out, any buffer in *keep for the caller to free) and checks it
 * against its CRC-32C and that it decodes to finite values, once per reader: a verified block is
 * not read here again. */
static int check_block(vec_vqz_reader *r, uint64_t b, const uint8_t **out, uint8_t **keep) {
  const uint8_t *e = r->footer + VQZ_FOOTER_HEAD + b * VQZ_ENTRY;
  uint64_t rows = block_rows_of(r, b), first = block_first(r, b);
  block_layout l;
  layout(rows, r->cs, r->sc, r->has_ids, &l);
  int rc = fetch(r, block_off(r, b), (size_t)l.size, out, keep);
  if (rc) return rc;
  if (vec_crc32c(0, *out, (size_t)l.size) != get32(e + 12))
    return vec_fail(VEC_E_FORMAT, (long long)first,
                    "'%s': block %llu (rows %llu..%llu) fails its CRC-32C check: the file is "
                    "corrupt",
                    r->name, (unsigned long long)b, (unsigned long long)first,
                    (unsigned long long)(first + rows - 1));
  if ((rc = block_finite(r, *out, rows, &l, first))) return rc;
  atomic_store_explicit(&r->verified[b], 1, memory_order_release);
  return VEC_OK;
}

int vec_vqz_read(vec_vqz_reader *r, uint64_t first, size_t n, void *codes, float *scales,
                 uint64_t *ids) {
  vec_clear_error();
  if (!r) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_read: NULL reader");
  if (first > r->count || n > r->count - first)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_read: rows %llu + %zu are past the %llu rows",
                    (unsigned long long)first, n, (unsigned long long)r->count);
  if (n && !codes) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_read: NULL codes");
  if (n && ids && !r->has_ids)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_read: '%s' stores no ids", r->name);
  uint8_t *c = codes;
  for (size_t done = 0; done < n;) {
    uint64_t row = first + done, b = block_of(r, row), j = row - block_first(r, b);
    uint64_t rows = block_rows_of(r, b);
    size_t take = (size_t)(rows - j) < n - done ? (size_t)(rows - j) : n - done;
    block_layout l;
    layout(rows, r->cs, r->sc, r->has_ids, &l);
    uint64_t at = block_off(r, b);
    int rc;
    if (atomic_load_explicit(&r->verified[b], memory_order_acquire)) {
      /* straight from the file into the outputs */
      if ((rc = fetch_into(r, at + j * r->cs, take * r->cs, c + done * r->cs)) ||
          (scales && r->sc &&
           (rc = fetch_into(r, at + l.scales + j * r->sc * 4, take * r->sc * 4,
                            scales + done * r->sc))) ||
          (ids && (rc = fetch_into(r, at + l.ids + j * 8, take * 8, ids + done))))
        return rc;
    } else {
      const uint8_t *blk = NULL;
      uint8_t *keep;
      rc = check_block(r, b, &blk, &keep);
      if (rc == VEC_OK) {
        memcpy(c + done * r->cs, blk + j * r->cs, take * r->cs);
        if (scales && r->sc)
          memcpy(scales + done * r->sc, blk + l.scales + j * r->sc * 4, take * r->sc * 4);
        if (ids) memcpy(ids + done, blk + l.ids + j * 8, take * 8);
      }
      free(keep);
      if (rc) return rc;
    }
    done += take;
  }
  return VEC_OK;
}

int vec_vqz_verify(vec_vqz_reader *r) { return vec_vqz_verify_opts(r, NULL); }

/* Progress of a verification in bytes; non-zero (after setting the error) stops it. */
static int verify_progress(const vec_batch_opts *o, uint64_t done, uint64_t total) {
  if (!o || !o->progress || !o->progress(o->progress_user, (size_t)done, (size_t)total)) return 0;
  return vec_fail(VEC_E_CANCELLED, -1, "cancelled by the progress callback");
}

int vec_vqz_verify_opts(vec_vqz_reader *r, const vec_batch_opts *opts) {
  vec_clear_error();
  if (!r) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_verify: NULL reader");
  if (opts && opts->struct_size < sizeof *opts)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_batch_opts.struct_size is %zu, expected %zu",
                    opts->struct_size, sizeof *opts);
  /* Blocks first (as many bytes as they hold), then the whole file once more. */
  uint64_t total = 2 * r->size - 4, done = 0;
  for (uint64_t b = 0; b < r->blocks; b++) {
    const uint8_t *blk = NULL;
    uint8_t *keep;
    int rc = check_block(r, b, &blk, &keep);
    free(keep);
    if (rc) return rc;
    done = (uint64_t)((double)r->size * (double)(b + 1) / (double)r->blocks);
    if ((rc = verify_progress(opts, done, total))) return rc;
  }
  if (r->major >= 2) return VEC_OK; /* 2.0 has no whole-file CRC (appends would rewrite it) */
  /* The whole-file CRC, read in pieces of at most 1 MiB. */
  uint32_t crc = 0;
  uint8_t *buf = r->base ? NULL : malloc((size_t)1 << 20);
  if (!r->base && !buf) return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  uint8_t tail[4];
  int rc = fetch_into(r, r->size - 4, 4, tail);
  for (uint64_t off = 0; rc == VEC_OK && off < r->size - 4;) {
    size_t k =
        r->size - 4 - off < ((size_t)1 << 20) ? (size_t)(r->size - 4 - off) : (size_t)1 << 20;
    const uint8_t *p = r->base ? r->base + off : buf;
    if (!r->base) rc = fetch_into(r, off, k, buf);
    if (rc == VEC_OK) crc = vec_crc32c(crc, p, k);
    off += k;
    if (rc == VEC_OK) rc = verify_progress(opts, r->size + off, total);
  }
  free(buf);
  if (rc) return rc;
  if (crc != get32(tail))
    return vec_fail(VEC_E_FORMAT, -1,
                    "'%s': the whole-file CRC-32C does not match: bytes outside the data blocks "
                    "(padding or the file checksum itself) are corrupt",
                    r->name);
  return VEC_OK;
}

int vec_vqz_get_info(const vec_vqz_reader *r, vec_vqz_info *info) {
  vec_clear_error();
  if (!r || !info) return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_get_info: NULL argument");
  if (info->struct_size < sizeof *info)
    return vec_fail(VEC_E_INVALID_ARG, -1, "vec_vqz_info.struct_size is %zu, expected %zu",
                    info->struct_size, sizeof *info);
  info->version_major = r->major;
  info->version_minor = r->minor;
  info->codec = vec_codec_kind(r->codec);
  info->dim = r->codec->d;
  info->count = r->count;
  info->code_size = r->cs;
  info->scale_count = r->sc;
  info->block_rows = r->rows_per_block;
  info->blocks = r->blocks;
  info->file_size = r->size;
  info->has_ids = r->has_ids;
  info->metadata_size = r->meta_size;
  return VEC_OK;
}

/* ---------------------------------------------------------------------------------------------
 * In place: what vec_index needs to map a file's blocks and to append to a 2.0 file.
 * ------------------------------------------------------------------------------------------- */
uint64_t vec_vqz_blocks(const vec_vqz_reader *r) { return r ? r->blocks : 0; }

void vec_vqz_block_at(const vec_vqz_reader *r, uint64_t b, vec_vqz_block *out) {
  block_layout l;
  out->rows = block_rows_of(r, b);
  layout(out->rows, r->cs, r->sc, r->has_ids, &l);
  out->offset = block_off(r, b);
  out->first = block_first(r, b);
  out->scales = l.scales;
  out->ids = l.ids;
}

int vec_vqz_check_blocks(vec_vqz_reader *r) {
  for (uint64_t b = 0; b < r->blocks; b++) {
    if (atomic_load_explicit(&r->verified[b], memory_order_acquire)) continue;
    const uint8_t *blk = NULL;
    uint8_t *keep;
    int rc = check_block(r, b, &blk, &keep);
    free(keep);
    if (rc) return rc;
  }
  return VEC_OK;
}

int vec_vqz_fd(const vec_vqz_reader *r) { return r->base ? -1 : r->fd; }
size_t vec_vqz_file_size(const vec_vqz_reader *r) { return r->size; }
uint64_t vec_vqz_generation(const vec_vqz_reader *r) { return r->major >= 2 ? r->gen : 0; }

int vec_vqz_append(const char *path, uint64_t expect_gen, const char *metadata, const void *codes,
                   const float *scales, const uint64_t *ids, size_t n, uint64_t *new_gen) {
  int fd = vec_os_open_rw(path);
  if (fd < 0) return io_fail("cannot open", path);
  /* One appender at a time (advisory: every vectro appender takes it). */
  if (vec_os_lock_exclusive(fd) != 0) {
    int rc = io_fail("cannot lock", path);
    vec_os_close(fd);
    return rc;
  }
  vec_os_stat st;
  int rfd = vec_os_dup(fd), rc;
  if (rfd < 0 || vec_os_fstat(fd, &st) != 0) {
    rc = io_fail("cannot open", path);
    if (rfd >= 0) vec_os_close(rfd);
    vec_os_close(fd);
    return rc;
  }
  vec_vqz_reader *r = NULL;
  if ((rc = open_reader(NULL, rfd, (size_t)st.size, path, &r))) {
    vec_os_close(fd);
    return rc;
  }
  uint8_t *buf = NULL, *entries = NULL, *f = NULL;
  if (r->major < 2 || !r->has_ids || r->gen != expect_gen) {
    rc = vec_fail(VEC_E_INVALID_ARG, -1,
                  "'%s' changed since it was read (commit %llu, expected %llu): not appending",
                  path, (unsigned long long)r->gen, (unsigned long long)expect_gen);
    goto out;
  }
  size_t cs = r->cs, sc = r->sc;
  /* Blocks of at most about 256 MiB, after everything the file holds (never over a byte that a
   * commit, or a reader's mapping, may still use). */
  size_t per = ((size_t)256 << 20) / (cs + 4 * sc + 8);
  if (per < 1) per = 1;
  if (per > UINT32_MAX) per = UINT32_MAX;
  uint64_t nb = (n + per - 1) / per, pos = pad64(st.size);
  entries = malloc(nb ? (size_t)nb * VQZ_ENTRY : 1);
  if (!entries) {
    rc = vec_fail(VEC_E_NOMEM, -1, "out of memory");
    goto out;
  }
  for (uint64_t b = 0; b < nb; b++) {
    size_t a = (size_t)b * per, m = n - a < per ? n - a : per;
    block_layout l;
    layout(m, cs, sc, 1, &l);
    if (!(buf = calloc(1, (size_t)l.size))) {
      rc = vec_fail(VEC_E_NOMEM, -1, "out of memory for a block of %zu rows", m);
      goto out;
    }
    memcpy(buf, (const uint8_t *)codes + a * cs, m * cs);
    if (sc) memcpy(buf + l.scales, scales + a * sc, m * sc * 4);
    memcpy(buf + l.ids, ids + a, m * 8);
    put64(entries + b * VQZ_ENTRY, pos);
    put32(entries + b * VQZ_ENTRY + 8, (uint32_t)m);
    put32(entries + b * VQZ_ENTRY + 12, vec_crc32c(0, buf, (size_t)l.size));
    if ((rc = pwrite_all(fd, buf, (size_t)l.size, pos, path))) goto out;
    pos = pad64(pos + l.size);
    free(buf);
    buf = NULL;
  }
  size_t fs, ms = metadata ? strlen(metadata) : 0;
  f = footer2(r->footer + VQZ_FOOTER_HEAD, r->blocks, entries, nb, metadata, ms, &fs);
  if (!f) {
    rc = vec_fail(VEC_E_NOMEM, -1, "out of memory for the footer");
    goto out;
  }
  if (fs > UINT32_MAX || ms > MAX_METADATA) {
    rc = vec_fail(VEC_E_INVALID_ARG, -1, "the footer of '%s' would exceed 4 GiB", path);
    goto out;
  }
  /* Durable order: the new blocks and footer first, then the commit slot the older generation
   * held (the current one, and the footer it names, are never written over). */
  if ((rc = pwrite_all(fd, f, fs, pos, path))) goto out;
  if (vec_os_fsync(fd) != 0) {
    rc = io_fail("cannot sync", path);
    goto out;
  }
  uint8_t slot[VQZ_SLOT];
  put_slot(slot, r->gen + 1, pos, r->count + n, (uint32_t)fs);
  if ((rc = pwrite_all(fd, slot, VQZ_SLOT, r->hs + (uint64_t)(!r->slot) * VQZ_SLOT, path)))
    goto out;
  if (vec_os_fsync(fd) != 0) {
    rc = io_fail("cannot sync", path);
    goto out;
  }
  if (new_gen) *new_gen = r->gen + 1;
out:
  free(buf), free(entries), free(f);
  vec_vqz_reader_close(r);
  vec_os_close(fd); /* releases the lock */
  return rc;
}
