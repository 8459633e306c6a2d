/* vectro.h: the public C API of libvectro, embedding compression with SIMD kernels.
 * This header is the manual: every declaration carries what it does, units, ownership and errors.
 */
#ifndef VECTRO_H
#define VECTRO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(VEC_BUILDING_DLL)
#define VEC_API __declspec(dllexport)
#elif defined(__GNUC__) && !defined(_WIN32) /* PE has no symbol visibility: MinGW exports all */
#define VEC_API __attribute__((visibility("default")))
#else
#define VEC_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */
/* The project's single version source: CMake (project VERSION), the Python package's metadata
 * (pyproject.toml reads these three lines), vectro.__version__ and `vectro --version` all take it
 * from here; scripts/version.py prints it and checks a release tag against it. */
#define VEC_VERSION_MAJOR  0
#define VEC_VERSION_MINOR  1
#define VEC_VERSION_PATCH  0
#define VEC_VERSION_NUMBER (VEC_VERSION_MAJOR * 10000 + VEC_VERSION_MINOR * 100 + VEC_VERSION_PATCH)
#define VEC_VERSION_STR_(x) #x
#define VEC_VERSION_STR(x)  VEC_VERSION_STR_(x)
#define VEC_VERSION_STRING                                                                         \
  VEC_VERSION_STR(VEC_VERSION_MAJOR)                                                               \
  "." VEC_VERSION_STR(VEC_VERSION_MINOR) "." VEC_VERSION_STR(VEC_VERSION_PATCH)

/** @return VEC_VERSION_NUMBER of the library actually linked (compare with the header's). */
VEC_API unsigned vec_version_number(void);
/** @return the library's version as "MAJOR.MINOR.PATCH"; a static string. */
VEC_API const char *vec_version_string(void);

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of size bytes, the checksum of every .vqz
 *  block and serialized codec (docs/format.md); hardware-accelerated where the CPU has it.
 *  @param crc  0 to start, or the result for the bytes before these to continue
 *  @return the CRC of everything so far */
VEC_API uint32_t vec_crc32c(uint32_t crc, const void *data, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Errors
 * Every fallible function returns an int: VEC_OK (0) or a negative VEC_E_* code. The library
 * never aborts, exits or prints. Numbers are pinned: new codes are only ever appended.
 * ------------------------------------------------------------------------------------------- */
#define VEC_OK            0
#define VEC_E_INVALID_ARG (-1)  /* a NULL pointer, d == 0, a stride shorter than a row, ... */
#define VEC_E_NONFINITE   (-2)  /* NaN or Inf in the input; vec_last_error_row() names the row */
#define VEC_E_NOMEM       (-3)  /* an allocation failed */
#define VEC_E_CANCELLED   (-4)  /* the progress callback asked to stop */
#define VEC_E_UNSUPPORTED (-5)  /* e.g. forcing an instruction set this CPU lacks */
#define VEC_E_OVERFLOW    (-6)  /* n * d (or a byte size derived from it) overflows size_t */
#define VEC_E_THREAD      (-7)  /* a worker thread could not be started */
#define VEC_E_RANGE       (-8)  /* a value the codec cannot represent (e.g. |x| >= 65520 for f16) */
#define VEC_E_NOT_TRAINED (-9)  /* a calibrated codec used before vec_codec_train/set_ranges */
#define VEC_E_FORMAT      (-10) /* serialized data that is truncated, corrupt or not ours */
#define VEC_E_VERSION     (-11) /* serialized data written by a newer, incompatible version */
#define VEC_E_IO (-12) /* a file could not be opened, read, written or renamed (errno text) */
#define VEC_E_NOT_FOUND (-13) /* an id the index does not hold (vec_index_get) */

/** @return a static, human-readable description of an error code (never NULL). */
VEC_API const char *vec_strerror(int rc);

/** Detail on the last error raised on the calling thread ("row 17 holds NaN or Inf"), or "" when
 *  the last call succeeded. Thread-local, valid until the thread's next call into the library. */
VEC_API const char *vec_last_error_message(void);

/** Row index the last error on the calling thread refers to, or -1 when it names no row. */
VEC_API long long vec_last_error_row(void);

/** The OS error (an errno value: ENOENT, EACCES, ENOSPC...) behind the last VEC_E_IO on the
 *  calling thread, or 0 when that error has none (a target that is not a regular file, a file that
 *  shrank while open, a writer spoiled by an earlier failure) or the last error was not VEC_E_IO.
 *  The Python binding raises it as vectro.VectroIOError's errno. */
VEC_API int vec_last_error_errno(void);

/* ---------------------------------------------------------------------------------------------
 * Batch options, shared by every batch function.
 * ------------------------------------------------------------------------------------------- */

/** Progress callback: `done` of `total` rows are finished. Called on the caller's thread only,
 *  between chunks of work, and once more with done == total on success. Return 0 to go on, any
 *  other value to cancel: the batch function then returns VEC_E_CANCELLED, and its outputs are
 *  partially written. */
typedef int (*vec_progress_fn)(void *user, size_t done, size_t total);

typedef struct vec_batch_opts {
  size_t struct_size;       /* sizeof(vec_batch_opts): lets the struct grow compatibly */
  int threads;              /* 0 = every available core; 1 = the caller's thread only */
  vec_progress_fn progress; /* may be NULL */
  void *progress_user;      /* handed to progress unchanged */
} vec_batch_opts;

/** Initialiser with the defaults: all cores, no progress callback. Passing NULL as the options
 *  pointer of any batch function means the same. Small batches always run on the caller's thread:
 *  threads are only started when each gets enough work to repay its start. */
#define VEC_BATCH_OPTS_INIT {sizeof(vec_batch_opts), 0, NULL, NULL}

/** @return the number of cores that threads = 0 uses (the CPUs this process may run on). */
VEC_API int vec_default_threads(void);

/* ---------------------------------------------------------------------------------------------
 * int8, per-vector symmetric (the original Vectro scheme).
 *
 * For each row x of d floats: m = max|x_i|, scale s = m / 127 and
 *     q_i = clamp(round_half_even(x_i * (127 / m)), -127, 127),     x̂_i = q_i * s,
 * all in float32 arithmetic. The reciprocal 127/m is computed once per row (a multiply per
 * element, not a divide, is what lets the kernels run at memory speed); the codes can differ from
 * round(x_i / s) only where x_i / s lies within one float rounding of a half-integer. An all-zero
 * row gets s = 0 and decodes to zeros. Rows whose m is below 2^-96 are first scaled by an exact
 * power of two so that 127/m cannot overflow, and where m is within an ulp of FLT_MAX the scale
 * steps down one ulp so that 127 * s stays finite. |x_i - x̂_i| <= s / 2 (plus float rounding).
 * Every instruction-set variant gives bit-identical codes and scales.
 * ------------------------------------------------------------------------------------------- */

/** Bytes of int8 codes per vector of d dimensions (the float32 scale is stored apart). */
VEC_API size_t vec_int8_code_size(size_t d);

/** Encodes n rows of d float32 values.
 *  @param x       n rows; row i starts at x + i * ldx (ldx >= d, in floats, not bytes)
 *  @param codes   n * d int8 codes written row-major (row i at codes + i * d)
 *  @param scales  n float32 scales
 *  @param opts    threads, progress; NULL for defaults
 *  @return VEC_OK; VEC_E_NONFINITE if a row holds NaN or Inf (vec_last_error_row() gives the
 *          lowest such row; outputs of other rows are unspecified); VEC_E_INVALID_ARG,
 *          VEC_E_OVERFLOW, VEC_E_CANCELLED, VEC_E_THREAD. n == 0 is valid and does nothing. */
VEC_API int vec_int8_encode(const float *x, size_t n, size_t d, size_t ldx, int8_t *codes,
                            float *scales, const vec_batch_opts *opts);

/** Decodes n rows: out[i * ldo + j] = codes[i * d + j] * scales[i].
 *  @return VEC_OK; VEC_E_INVALID_ARG when ldo < d, a pointer is NULL with n > 0, or a scale is
 *          negative, NaN or Inf (vec_last_error_row() names it; nothing is written then). */
VEC_API int vec_int8_decode(const int8_t *codes, const float *scales, size_t n, size_t d,
                            float *out, size_t ldo, const vec_batch_opts *opts);

/* ---------------------------------------------------------------------------------------------
 * Codecs: one object API for every compression scheme.
 *
 * A codec turns n float32 rows of d dimensions into n rows of vec_codec_code_size() bytes of codes
 * plus vec_codec_scale_count() float32 side values per row ("scales"; 0 for codecs that need
 * none). Codes and scales are separate arrays, each row-major and contiguous. Every codec has a
 * scalar reference and SIMD kernels that produce bit-identical codes.
 *
 *   name        codes per row          scales per row  math
 *   int8        d int8                 1               per-vector symmetric (see vec_int8_encode)
 *   int16       d int16 (LE)           1               per-vector symmetric, 32767 levels a side
 *   int4        ceil(d/2) bytes        1 or ceil(d/g)  symmetric, 7 levels a side, per vector or
 *                                                      per group of g dims; element 2j in the low
 *                                                      nibble of byte j, two's complement
 *   f16, bf16   d uint16 (LE)          0               IEEE half / bfloat16, round half to even
 *   binary      ceil(d/8) bytes        0               bit = x > 0, numpy.packbits order (first
 *                                                      dim in the most significant bit), pad 0;
 *                                                      decodes to +1 / -1 (compare by cosine)
 *   uint8-cal   d uint8                0               per-dimension ranges learned from data:
 *   int8-cal    d int8                 0               v = (x - lo) / step, step = (hi - lo)/255,
 *                                                      u = clamp(round(v), 0, 255) (or floor with
 *                                                      VEC_ROUND_TRUNCATE, sentence-transformers'
 *                                                      codes); int8-cal stores u - 128. Decodes to
 *                                                      lo + u*step (truncated: lo + (u + 0.5)*step,
 *                                                      the middle of the bucket)
 *   uint4-cal   ceil(d/2) bytes        0               the same with 16 levels: step = (hi-lo)/15,
 *                                                      round to nearest only; dimension 2i in the
 *                                                      low nibble of byte i (FAISS's QT_4bit)
 *   uint6-cal   ceil(6d/8) bytes       0               64 levels, step = (hi-lo)/63; dimension j
 *                                                      in bits [6j, 6j+6) of the row, LSB first
 *   rabitq      ceil(d*B/8) bytes      3 (4 centred)   seeded random rotation, then B = bits
 *                                                      (1..8) per dimension; see below
 *   pq          m (bits 8) or          0               product quantization: d split into m
 *               ceil(m/2) (bits 4)                     subspaces (m divides d), each coded by its
 *                                                      nearest of 2^bits k-means centroids,
 *                                                      trained by vec_codec_train (n >= 2^bits
 *                                                      rows, at most train_max sampled); 4-bit:
 *                                                      subspace 2j in the low nibble of byte j.
 *                                                      rotate: the seeded rotation first, undone
 *                                                      on decode. Searched by look-up tables
 *                                                      (4-bit: SIMD fast-scan on uint8 tables,
 *                                                      within m*step/2 of the float table's
 *                                                      score: rescore)
 *
 * RaBitQ (VEC_CODEC_RABITQ; Gao & Long, SIGMOD 2024, and its B-bit extension, Gao et al., SIGMOD
 * 2025; docs/rabitq.md): x is rotated by a seeded, dimension-preserving fast orthogonal rotation R
 * (random signs and Walsh-Hadamard transforms, O(d log d), params.seed), and the direction of
 * R x is coded as the closest point y of the grid of odd integers |y_j| <= 2^B - 1 (element j as
 * u_j = (y_j + 2^B - 1) / 2 in bits [jB, jB + B) of the row, little-endian). Scales: |x|,
 * |x| / (alpha |y|) and |x| sqrt(1 - alpha^2) / alpha, alpha the cosine of y and R x. Its search
 * estimate of q.x is unbiased and comes with an error bound; decoding gives R^T (scale_1 y), the
 * vector whose inner product with a query is that estimate. No training; bits must be 1..8.
 * With params.center = 1 the codec is trained (vec_codec_train): c = the mean of the training
 * rows (at most train_max of them, every k-th row; 0 = all; computed in double, the same for any
 * thread count; n >= 2), and it codes x - c instead of x: the scales become |x|,
 * |x - c| / (alpha |y|), |x - c| sqrt(1 - alpha^2) / alpha and c.x + |c| |x| (>= 0), the search
 * estimates (q - c).(x - c) and adds q.c + c.x - |c|^2, so estimate and bound scale with
 * |q - c| |x - c| instead of |q| |x|; decoding gives c + R^T (scale_1 y). The centre is part of
 * the serialized codec (format version 2.0, which readers that predate it refuse).
 *
 * NaN or Inf in the input is always an error naming the row, for every codec. Finite values a
 * codec cannot hold are VEC_E_RANGE naming the row: f16 past 65504, and a non-zero f16 row whose
 * every value rounds to 0 (below 2^-24: it would decode to zeros); pq training rows whose largest
 * value is below 2^-40 (its float32 distances underflow) or whose squared distances overflow.
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_codec_s vec_codec;

/* Codec ids are stored in files: pinned, only ever appended. */
typedef enum vec_codec_id {
  VEC_CODEC_INT8 = 1,
  VEC_CODEC_F16 = 2,
  VEC_CODEC_BF16 = 3,
  VEC_CODEC_INT16 = 4,
  VEC_CODEC_INT4 = 5,
  VEC_CODEC_BINARY = 6,
  VEC_CODEC_UINT8_CAL = 7,
  VEC_CODEC_INT8_CAL = 8,
  VEC_CODEC_RABITQ = 9,     /* random rotation + 1..8-bit codes with correction factors */
  VEC_CODEC_PQ = 10,        /* product quantization: m sub-codebooks of 2^bits k-means centroids */
  VEC_CODEC_UINT4_CAL = 11, /* per-dimension ranges, 16 levels, two codes a byte (FAISS QT_4bit) */
  VEC_CODEC_UINT6_CAL = 12  /* per-dimension ranges, 64 levels, 6 bits a code (FAISS QT_6bit) */
} vec_codec_id;

#define VEC_ROUND_NEAREST  0 /* round half to even: the default, the smallest error */
#define VEC_ROUND_TRUNCATE 1 /* floor, as sentence-transformers (calibrated codecs only) */

typedef struct vec_codec_params {
  size_t struct_size;   /* sizeof(vec_codec_params) */
  vec_codec_id codec;   /* which scheme */
  size_t dim;           /* d >= 1 */
  unsigned group_size;  /* int4: 0 = one scale per vector, else dims per scale (e.g. 32) */
  int rounding;         /* calibrated codecs: VEC_ROUND_NEAREST or VEC_ROUND_TRUNCATE */
  float calib_low_q;    /* calibrated: quantile of each dimension taken as its low end (0 = min) */
  float calib_high_q;   /* ... and its high end (1 = max); e.g. 0.001 and 0.999 */
  unsigned bits;        /* rabitq: bits per dimension 1..8; pq: bits per sub-code, 4 or 8 */
  unsigned m;           /* pq: number of subspaces (d % m == 0) */
  int rotate;           /* pq: apply the seeded random rotation before splitting (rabitq always) */
  unsigned train_iters; /* pq: k-means iterations (0 = default 25) */
  size_t train_max;     /* pq, centred rabitq: training rows used at most, sampled (0 = default:
                           pq 256 per centroid, rabitq every row) */
  uint64_t seed;        /* rotation signs, k-means initialisation and sampling */
  int center;           /* 1 = code x - c for c the mean of the training rows (needs
                           vec_codec_train; sampled as train_max). rabitq centres itself (4
                           scales a row); binary (sign(x - c), still Hamming-searchable: the
                           query's bits are sign(q - c)), int8, int4, uint8-cal, int8-cal,
                           uint4-cal, uint6-cal and pq are wrapped by the library: the module codes x - c,
                           decoding adds c back and search scores add q.c (format 2.1).
                           f16, bf16, int16: must be 0 */
} vec_codec_params;

/* The default calibration quantiles: min/max, except for the 4- and 6-bit per-dimension codecs,
 * whose 16 / 64 levels are better spent on the bulk than on one outlier (recall@10 on the codes,
 * e5 / MiniLM samples: uint4 0.823 -> 0.855 / 0.924 -> 0.946 at 0.005; uint6 0.948 -> 0.952 /
 * 0.980 -> 0.983 at 0.0005; uint8 loses from any clipping: BENCHMARKS.md, issue 14). */
#define VEC_CALIB_Q_DEFAULT(codec_)                                                                \
  ((codec_) == VEC_CODEC_UINT4_CAL ? 0.005f : (codec_) == VEC_CODEC_UINT6_CAL ? 0.0005f : 0.0f)

#define VEC_CODEC_PARAMS_INIT(codec_, dim_)                                                        \
  {sizeof(vec_codec_params),                                                                       \
   (codec_),                                                                                       \
   (dim_),                                                                                         \
   0,                                                                                              \
   VEC_ROUND_NEAREST,                                                                              \
   VEC_CALIB_Q_DEFAULT(codec_),                                                                    \
   1.0f - VEC_CALIB_Q_DEFAULT(codec_),                                                             \
   0,                                                                                              \
   0,                                                                                              \
   0,                                                                                              \
   0,                                                                                              \
   0,                                                                                              \
   0,                                                                                              \
   0}

/** Creates a codec. @return VEC_OK and *out, or VEC_E_INVALID_ARG (unknown codec, d == 0, a
 *  group size that is not a positive multiple of 2, quantiles outside 0 <= lo < hi <= 1),
 *  VEC_E_NOMEM. Free with vec_codec_free. */
VEC_API int vec_codec_create(const vec_codec_params *params, vec_codec **out);
/** Frees a codec; NULL is a no-op. */
VEC_API void vec_codec_free(vec_codec *codec);

/** @return the codec's name as in the table above ("int8", "uint8-cal", ...). */
VEC_API const char *vec_codec_name(vec_codec_id id);
/** Looks a codec up by name. @return VEC_OK, or VEC_E_INVALID_ARG for an unknown name. */
VEC_API int vec_codec_from_name(const char *name, vec_codec_id *id);

/** Parses a codec name of the one grammar the CLI (--codec) and Python (Codec(precision)) take,
 *  as FAISS's index factory reads "PQ48x4":
 *
 *      int8 | int16 | int4 | int4-g<N> | f16 | bf16 | binary | uint8-cal | int8-cal | uint4-cal |
 *      uint6-cal | rabitq | rabitq-<bits> | pq | pq-<m>x<bits>
 *
 *  plus the aliases float16, fp16, half (f16), bfloat16 (bf16), ubinary (binary), uint8, uint4,
 *  uint6 (the -cal codecs). ASCII letters compare case-insensitively. A number is decimal digits
 *  only, 1 to 4294967295 (0 is refused: leave the part out for the codec's default). The grammar
 *  checks the form; vec_codec_create checks the values (pq bits 4 or 8, m dividing the dimension,
 *  rabitq bits 1 to 8) once the dimension is known. Profiles ("balanced"...) are not names: each
 *  front end maps its own before calling this.
 *  @param out set to VEC_CODEC_PARAMS_INIT(codec, 0) with group_size, bits and m from the name
 *         (0 where the name leaves them out); set dim (and options) before vec_codec_create.
 *  @return VEC_OK; VEC_E_INVALID_ARG (out untouched) with vec_last_error_message() saying what is
 *          wrong ("unknown precision 'x'; expected ...", "pq precision is 'pq-<m>x<bits>' ...").
 */
VEC_API int vec_codec_params_parse(const char *name, vec_codec_params *out);

/** The canonical name of p's codec and its name-level parameters (codec, group_size, bits, m):
 *  "int4-g32", "rabitq-4", "pq-48x4", "uint8-cal", ... vec_codec_params_parse reads it back to the
 *  same four fields (pq with only one of m and bits set is named "pq").
 *  @return the length of the name (snprintf's: the name is whole when it is < cap), or -1 for NULL
 *          p. */
VEC_API int vec_codec_params_name(const vec_codec_params *p, char *buf, size_t cap);

/** @return the codec's kind, and its parameters (a pointer owned by the codec, valid
 *  until vec_codec_free). */
VEC_API vec_codec_id vec_codec_kind(const vec_codec *codec);
VEC_API const vec_codec_params *vec_codec_get_params(const vec_codec *codec);
/** Bytes of codes per row. */
VEC_API size_t vec_codec_code_size(const vec_codec *codec);
/** float32 scales per row (0 when the codec has none). */
VEC_API size_t vec_codec_scale_count(const vec_codec *codec);
/** Non-zero for codecs that must be trained before use (calibrated, pq, centred rabitq). */
VEC_API int vec_codec_needs_training(const vec_codec *codec);
/** Non-zero once a codec that needs training has been trained (always non-zero for the others). */
VEC_API int vec_codec_is_trained(const vec_codec *codec);

/** Learns per-dimension ranges from n calibration rows (calibrated codecs), k-means codebooks
 *  (pq) or the centre (centred rabitq); a no-op for the others.
 *  @return VEC_OK; VEC_E_INVALID_ARG if n < 2 (one vector has no spread to learn from);
 *          VEC_E_NONFINITE naming the row. A dimension that is constant in the calibration data
 *          keeps a zero range: it encodes to code 0 and decodes to that constant. */
VEC_API int vec_codec_train(vec_codec *codec, const float *x, size_t n, size_t ldx);
/** vec_codec_train with threads and progress (k-means training is the costly one; progress counts
 *  training rows per iteration). */
VEC_API int vec_codec_train_opts(vec_codec *codec, const float *x, size_t n, size_t ldx,
                                 const vec_batch_opts *opts);
/** Sets the per-dimension ranges directly (d floats each; lo[j] <= hi[j], finite). */
VEC_API int vec_codec_set_ranges(vec_codec *codec, const float *lo, const float *hi);
/** Copies the ranges out. @return VEC_E_NOT_TRAINED if there are none. */
VEC_API int vec_codec_get_ranges(const vec_codec *codec, float *lo, float *hi);

/** Encodes n rows (row i at x + i*ldx, ldx >= d floats) into codes (n * code_size bytes) and
 *  scales (n * scale_count floats; may be NULL when scale_count is 0).
 *  @return VEC_OK; VEC_E_NONFINITE or VEC_E_RANGE naming the lowest bad row
 *          (vec_last_error_row); VEC_E_NOT_TRAINED; VEC_E_INVALID_ARG; VEC_E_CANCELLED. */
VEC_API int vec_codec_encode(const vec_codec *codec, const float *x, size_t n, size_t ldx,
                             void *codes, float *scales, const vec_batch_opts *opts);
/** Decodes n rows into out (row i at out + i*ldo, ldo >= d). Scales are checked first (finite,
 *  >= 0), so corrupt input is refused before anything is written. Codes that decode to Inf or NaN
 *  (f16/bf16 codes with an all-ones exponent, a finite scale too large for its codes) give
 *  VEC_E_NONFINITE naming the lowest such row (vec_last_error_row); out is then partly written. */
VEC_API int vec_codec_decode(const vec_codec *codec, const void *codes, const float *scales,
                             size_t n, float *out, size_t ldo, const vec_batch_opts *opts);

/** Size in bytes of the codec's serialized form (parameters and trained ranges). */
VEC_API size_t vec_codec_serialized_size(const vec_codec *codec);
/** Writes the serialized form (little-endian, versioned, CRC-checked) into buf.
 *  @return VEC_OK or VEC_E_INVALID_ARG if cap is too small. */
VEC_API int vec_codec_serialize(const vec_codec *codec, void *buf, size_t cap);
/** Recreates a codec from vec_codec_serialize output. @return VEC_OK; VEC_E_FORMAT for
 *  truncated or corrupt data, and for parameters whose tables would take more than 256 MiB plus 8
 *  times size bytes (a tiny hostile header naming a huge dimension; docs/robustness.md says why no
 *  real codec comes near); VEC_E_VERSION for data from a newer format version (a centred rabitq
 *  codec is version 2.0: readers of 1.x refuse it). */
VEC_API int vec_codec_deserialize(const void *buf, size_t size, vec_codec **out);

/* ---------------------------------------------------------------------------------------------
 * Quality: what compression cost, row by row (defined once, used everywhere).
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_quality {
  size_t struct_size; /* sizeof(vec_quality), set by the caller */
  double rel_l2_mean; /* mean over rows of ||x - x̂|| / ||x|| (rows with x = 0 excluded) */
  double rel_l2_max;
  double cosine_mean; /* mean over rows of cos(x, x̂) (rows where either is 0 excluded) */
  double cosine_min;
  double mae;         /* mean |x - x̂| in units of each row's max |x|, averaged over rows */
  double max_abs_err; /* largest |x - x̂| anywhere */
  size_t zero_rows;   /* rows excluded from the relative figures */
} vec_quality;

/** Measures reconstructions x̂ against originals x (n rows of d, strides in floats).
 *  @return VEC_OK; VEC_E_NONFINITE naming a row of either with NaN or Inf; VEC_E_INVALID_ARG. */
VEC_API int vec_quality_measure(const float *x, size_t ldx, const float *xhat, size_t ldh, size_t n,
                                size_t d, vec_quality *out);

/** vec_quality_measure with a progress callback (opts->progress, on the caller's thread every
 *  few thousand rows, done/total in rows; non-zero stops it: VEC_E_CANCELLED). NULL: defaults. */
VEC_API int vec_quality_measure_opts(const float *x, size_t ldx, const float *xhat, size_t ldh,
                                     size_t n, size_t d, vec_quality *out,
                                     const vec_batch_opts *opts);

/* ---------------------------------------------------------------------------------------------
 * Embeddings files: reading .npy / .fvecs / .bvecs / .ivecs in chunks, writing .npy.
 *
 * A reader streams an embeddings file of any size as float32 rows, in chunks the caller sizes:
 * it holds one buffer of about a megabyte (plus, for a Fortran-order .npy, a block of about 4 MB
 * of rows, or one row when a row is bigger), so a file larger than RAM can be processed. Formats:
 *   .npy    NumPy format 1.0, 2.0 or 3.0; dtype '<f2', '<f4' or '<f8'; shape (n, d), or (d,) as
 *           one row; C or Fortran order. Recognised by its magic, whatever the file's name.
 *   .fvecs  per row: int32 d, then d float32      (recognised by the name's extension, any case)
 *   .bvecs  per row: int32 d, then d uint8        (converted to float: 0..255)
 *   .ivecs  per row: int32 d, then d int32        (converted to the nearest float)
 * All little-endian. Open checks the header against the file's size: a .npy whose shape promises
 * more or fewer bytes than the file holds, or a *vecs file whose size is not a whole number of
 * rows (of the first row's d), is VEC_E_FORMAT, as is an empty file. Every *vecs row's d is
 * checked as it is read (the first and last rows already at open): a mismatch is VEC_E_FORMAT
 * with vec_last_error_row() naming the row.
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_reader_s vec_reader;

/** Opens an embeddings file for reading (formats above).
 *  @param path  file to read; it must be a regular file (the reader needs its size and seeks)
 *  @param out   receives the reader; close it with vec_reader_close
 *  @return VEC_OK; VEC_E_IO when the file cannot be opened or is a directory (the message names
 *          the path and carries strerror's text); VEC_E_FORMAT for a malformed, truncated or
 *          over-long file; VEC_E_UNSUPPORTED for a .npy of another dtype (big-endian, integers,
 *          objects, structured); VEC_E_VERSION for a .npy format version other than 1-3;
 *          VEC_E_NOMEM; VEC_E_INVALID_ARG for NULL arguments. */
VEC_API int vec_reader_open(const char *path, vec_reader **out);

/** @return the number of float32 values per row (>= 1), or 0 for NULL. */
VEC_API size_t vec_reader_dim(const vec_reader *r);

/** @return the number of rows in the file (may be 0 for a .npy of shape (0, d)), or 0 for NULL. */
VEC_API uint64_t vec_reader_count(const vec_reader *r);

/** Reads the next rows as float32, C order: min(max_rows, rows left) rows of vec_reader_dim()
 *  floats written contiguously to out, and their number in *got (0 at the end of the file).
 *  @param out       room for max_rows * vec_reader_dim() floats
 *  @return VEC_OK; VEC_E_IO for an OS read error; VEC_E_FORMAT for a *vecs row of another
 *          dimension (vec_last_error_row() names it) or a file that ended early (it shrank after
 *          open); VEC_E_NOMEM (a Fortran-order block); VEC_E_INVALID_ARG. On error *got is 0,
 *          the position is unchanged and out holds unspecified values. */
VEC_API int vec_reader_read(vec_reader *r, float *out, size_t max_rows, size_t *got);

/** Moves to row `row` (0 <= row <= vec_reader_count(); the count itself is the end): the next
 *  vec_reader_read starts there. Every supported format allows it in O(1).
 *  @return VEC_OK, or VEC_E_INVALID_ARG past the end (the position is unchanged). */
VEC_API int vec_reader_seek(vec_reader *r, uint64_t row);

/** Closes the file and frees the reader; NULL is a no-op. */
VEC_API void vec_reader_close(vec_reader *r);

/** A float32, C-order .npy written row by row, so that an output larger than RAM can be streamed
 *  out. The bytes are exactly np.save's for the final array (format 1.0, dict
 *  {'descr': '<f4', 'fortran_order': False, 'shape': (n, d), }, the header padded with spaces to
 *  a multiple of 64 bytes and ending in '\n'): NumPy's header keeps room for a row count of 21
 *  digits, so the count is patched in place at the end and no data moves. The data goes to a
 *  temporary file next to path (path + ".<pid>.<k>.tmp"), which replaces path only when
 *  vec_npy_writer_finish succeeds: a reader of path never sees a half-written file. */
typedef struct vec_npy_writer_s vec_npy_writer;

/** Starts a file of rows of `dim` floats.
 *  @return VEC_OK and *out; VEC_E_IO when the temporary cannot be created (missing directory,
 *          read-only file system; the message names path and carries strerror's text);
 *          VEC_E_INVALID_ARG for dim outside 1..2^28 or NULL arguments; VEC_E_NOMEM. */
VEC_API int vec_npy_writer_open(const char *path, size_t dim, vec_npy_writer **out);

/** Appends n rows; row i starts at x + i * ldx (ldx >= dim, in floats). Any float values,
 *  NaN and Inf included, are stored as they are.
 *  @return VEC_OK; VEC_E_IO for a failed write (the writer is then spoiled: finish refuses to
 *          publish it); VEC_E_INVALID_ARG. */
VEC_API int vec_npy_writer_append(vec_npy_writer *w, const float *x, size_t n, size_t ldx);

/** Completes the file: writes the final shape into the header, fsyncs, renames the temporary over
 *  path and fsyncs the directory. Always frees w. On failure path is untouched (an existing file
 *  keeps its contents) and the temporary is removed, except when only the final directory fsync
 *  fails: the file is in place then, and the error says so.
 *  @return VEC_OK; VEC_E_IO naming the step that failed; VEC_E_INVALID_ARG for NULL. */
VEC_API int vec_npy_writer_finish(vec_npy_writer *w);

/** Abandons the file: removes the temporary and frees w; path is untouched. NULL is a no-op. */
VEC_API void vec_npy_writer_abort(vec_npy_writer *w);

/* ---------------------------------------------------------------------------------------------
 * The .vqz container: codes (and scales, optional uint64 ids, a JSON metadata string) of one codec
 * in a single checksummed, memory-mappable file. Byte-by-byte specification: docs/format.md.
 *
 * Rows are stored in blocks of block_rows rows, each block with its own CRC-32C, so row i is at a
 * computable offset and a reader checks only the blocks it touches. A writer streams rows to a
 * temporary file beside the target and renames it over the target only when finished, so a crash
 * or an error never leaves a partial file at the target path, nor clobbers the one already there.
 * Writer and reader objects are not thread-safe: use one per thread (reads of one reader may run
 * concurrently from several threads; the other calls may not).
 * Writers here write format 1.0; vec_index_save writes 2.0, the appendable layout (two commit
 * slots, blocks of any size, metadata in the footer: docs/format.md), which readers read as well
 * and readers older than 2.0 refuse with VEC_E_VERSION.
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_vqz_writer_s vec_vqz_writer;
typedef struct vec_vqz_reader_s vec_vqz_reader;

typedef struct vec_vqz_options {
  size_t struct_size;   /* sizeof(vec_vqz_options) */
  const char *metadata; /* JSON text (UTF-8) stored verbatim, or NULL for none */
  int with_ids;         /* non-zero: store one uint64 id per row */
  size_t block_rows;    /* rows per checksummed block; 0 = about 1 MiB of codes per block */
} vec_vqz_options;

#define VEC_VQZ_OPTIONS_INIT {sizeof(vec_vqz_options), NULL, 0, 0}

/** Starts writing a .vqz file. Creates a temporary file beside path (same directory, so the final
 *  rename is atomic); path itself is not touched until vec_vqz_writer_finish. The codec is copied
 *  (the caller may free it at once) and its serialized form is stored in the file.
 *  @param opts  metadata, ids, block size; NULL for the defaults (no metadata, no ids)
 *  @return VEC_OK and *out; VEC_E_INVALID_ARG (NULL argument, struct_size, a block of more than
 *          1 GiB or 2^32 - 1 rows, metadata over 2^31 bytes); VEC_E_NOT_TRAINED for a calibrated
 *          codec without ranges; VEC_E_IO (the temporary cannot be created or written: the message
 *          names the path and the OS error); VEC_E_NOMEM. */
VEC_API int vec_vqz_writer_open(const char *path, const vec_codec *codec,
                                const vec_vqz_options *opts, vec_vqz_writer **out);

/** Appends n rows of already encoded data. Memory stays bounded by one block whatever n is.
 *  @param codes   n * vec_codec_code_size() bytes, row-major
 *  @param scales  n * vec_codec_scale_count() floats (finite, >= 0); NULL when the count is 0
 *  @param ids     n ids; required if the writer was opened with_ids, else must be NULL
 *  @return VEC_OK; VEC_E_INVALID_ARG (a missing buffer, ids on a writer without ids, a negative
 *          or non-finite scale: vec_last_error_row() names the row counted from the start of the
 *          file); VEC_E_OVERFLOW; VEC_E_IO. After any error the writer is poisoned: later appends
 *          and vec_vqz_writer_finish fail, and the target path is never touched. */
VEC_API int vec_vqz_writer_append(vec_vqz_writer *w, const void *codes, const float *scales,
                                  const uint64_t *ids, size_t n);

/** Encodes n float32 rows (row i at x + i * ldx, ldx >= d) with the writer's codec, in block-sized
 *  pieces straight into the block buffer, and appends them: the same bytes as vec_codec_encode
 *  followed by vec_vqz_writer_append. opts: threads and progress (done/total over all n rows).
 *  @return VEC_OK; VEC_E_NONFINITE or VEC_E_RANGE with vec_last_error_row() = the bad row counted
 *          from the start of the file; VEC_E_CANCELLED; VEC_E_INVALID_ARG; VEC_E_IO. Any error
 *          poisons the writer, as for vec_vqz_writer_append. */
VEC_API int vec_vqz_writer_append_floats(vec_vqz_writer *w, const float *x, size_t n, size_t ldx,
                                         const uint64_t *ids, const vec_batch_opts *opts);

/** Writes the last block and the footer (block index, each block's CRC-32C, whole-file CRC-32C),
 *  fills in the header, fsyncs the file, renames it over path and fsyncs the directory. Always
 *  frees w. On any failure before the rename (including a writer poisoned by an earlier error) the
 *  temporary file is removed and a file already at path is left untouched.
 *  @return VEC_OK; VEC_E_INVALID_ARG (NULL, or poisoned: the message repeats the first error);
 *          VEC_E_IO naming the path and the OS error. */
VEC_API int vec_vqz_writer_finish(vec_vqz_writer *w);

/** Abandons a writer: removes its temporary file and frees it. NULL is a no-op. */
VEC_API void vec_vqz_writer_abort(vec_vqz_writer *w);

/* ---------------------------------------------------------------------------------------------
 * Compressing a file: the one pipeline behind `vectro compress` and Python's compress_file.
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_compress_opts {
  size_t struct_size;   /* sizeof(vec_compress_opts) */
  const char *metadata; /* JSON text stored in the file (vec_vqz_options.metadata), or NULL */
  size_t chunk_rows;    /* rows read and encoded at a time; 0: 64 MiB of float32, <= 65536 rows */
  vec_batch_opts batch; /* threads; progress counts the file's rows (done, total): during training
                           it reports 0, then the rows encoded, and done == total once at the end,
                           before the file is published; non-zero cancels (VEC_E_CANCELLED) */
} vec_compress_opts;

#define VEC_COMPRESS_OPTS_INIT {sizeof(vec_compress_opts), NULL, 0, VEC_BATCH_OPTS_INIT}

/** Compresses an embeddings file (anything vec_reader_open reads: .npy, .fvecs, .bvecs, .ivecs)
 *  into a .vqz at `output`, in memory bounded by the chunk whatever the input's size. A codec that
 *  needs training and has none (calibrated, pq, centred rabitq) is first trained, here, on the
 *  file's leading rows (at most 100,000 and 256 MiB of them); `codec` is then left trained. The
 *  output is written as vec_vqz_writer does (temporary name, renamed when complete: an existing
 *  file is only replaced by a finished one, keeping its mode; a symbolic link is written through).
 *  @param codec     of the input's dimension
 *  @param opts      NULL for the defaults
 *  @param rows_out  rows written, or NULL
 *  @return VEC_OK; VEC_E_INVALID_ARG (NULL; output is the input file, also through a link; the
 *          codec's dimension is not the file's; a bad struct_size); the errors of vec_reader_open,
 *          vec_reader_read, vec_codec_train_opts and the writer (VEC_E_IO, VEC_E_FORMAT,
 *          VEC_E_NONFINITE naming the file's row, ...); VEC_E_CANCELLED. On any error nothing is
 *          written at output. */
VEC_API int vec_compress_file(const char *input, const char *output, vec_codec *codec,
                              const vec_compress_opts *opts, uint64_t *rows_out);

/** @return the rows appended so far. */
VEC_API uint64_t vec_vqz_writer_count(const vec_vqz_writer *w);

/** Opens a .vqz file (kept open, read with pread: no memory map) and checks the magic, the version
 *  (a newer major version gives VEC_E_VERSION, with a message naming that version and asking for
 *  an upgrade), the header's checksum, the embedded codec, the metadata's checksum, and the footer
 *  and block index against the file's size. Data blocks are checked (CRC-32C, and that they decode
 *  to finite values) when first read, or by vec_vqz_verify. Nothing outside the file is ever read.
 *  A file replaced by rename does not affect an open reader; one truncated in place makes reads
 *  past its new end fail with VEC_E_IO (never a fault); one rewritten in place gives whatever
 *  bytes it then holds for blocks already checked (replace files by rename, as the writer does).
 *  A reader may be shared by threads.
 *  @return VEC_OK and *out; VEC_E_IO (cannot open or map: names the path); VEC_E_FORMAT (not a
 *          .vqz file, truncated, corrupt, unfinished by its writer, or a header promising more
 *          rows than the file holds: the message says which); VEC_E_VERSION; VEC_E_NOMEM. */
VEC_API int vec_vqz_reader_open(const char *path, vec_vqz_reader **out);

/** Unmaps and frees a reader (and its codec); NULL is a no-op. */
VEC_API void vec_vqz_reader_close(vec_vqz_reader *r);

/** @return the number of rows in the file. */
VEC_API uint64_t vec_vqz_count(const vec_vqz_reader *r);

/** @return the file's codec, owned by the reader (valid until vec_vqz_reader_close). */
VEC_API const vec_codec *vec_vqz_codec(const vec_vqz_reader *r);

/** @return the metadata string as written (NUL-terminated), or "" when there is none. Owned by the
 *  reader. */
VEC_API const char *vec_vqz_metadata(const vec_vqz_reader *r);

/** @return non-zero when the file stores one uint64 id per row. */
VEC_API int vec_vqz_has_ids(const vec_vqz_reader *r);

/** Copies rows [first, first + n) out: codes (n * code_size bytes), scales (n * scale_count
 *  floats) and ids (n). scales and ids may be NULL to skip them. Each block touched is checked
 *  against its CRC-32C the first time (the reader remembers verified blocks).
 *  @return VEC_OK; VEC_E_INVALID_ARG (first + n > count, codes NULL with n > 0, ids asked of a
 *          file without ids); VEC_E_FORMAT for a corrupt block: the message names the block and
 *          its rows, vec_last_error_row() gives the block's first row; nothing useful is in the
 *          outputs then. */
VEC_API int vec_vqz_read(vec_vqz_reader *r, uint64_t first, size_t n, void *codes, float *scales,
                         uint64_t *ids);

/** Checks every data block's CRC-32C and that its rows decode to finite values, and the whole-file
 *  CRC-32C.
 *  @return VEC_OK; VEC_E_FORMAT naming the first bad block or row (or the part outside the
 *          blocks); VEC_E_IO when the file shrank since it was opened. */
VEC_API int vec_vqz_verify(vec_vqz_reader *r);

/** vec_vqz_verify with a progress callback (opts->progress, called on the caller's thread after
 *  each block and each MiB of the whole-file check, done/total in bytes; non-zero stops it:
 *  VEC_E_CANCELLED). opts->threads is unused. NULL: as vec_vqz_verify. */
VEC_API int vec_vqz_verify_opts(vec_vqz_reader *r, const vec_batch_opts *opts);

typedef struct vec_vqz_info {
  size_t struct_size;                    /* sizeof(vec_vqz_info), set by the caller */
  unsigned version_major, version_minor; /* format version the file was written with */
  vec_codec_id codec;
  size_t dim;
  uint64_t count;     /* rows */
  size_t code_size;   /* bytes of codes per row */
  size_t scale_count; /* float32 scales per row */
  size_t block_rows;  /* rows per block (the last block may hold fewer) */
  uint64_t blocks;    /* number of blocks */
  uint64_t file_size; /* bytes */
  int has_ids;
  size_t metadata_size; /* bytes of metadata, without a terminating NUL */
} vec_vqz_info;

/** Describes an open file. @return VEC_OK, or VEC_E_INVALID_ARG for NULL or a struct_size smaller
 *  than sizeof(vec_vqz_info). */
VEC_API int vec_vqz_get_info(const vec_vqz_reader *r, vec_vqz_info *info);

/* ---------------------------------------------------------------------------------------------
 * Search: exact (flat) top-k over encoded rows, scored straight from the codes.
 *
 * A row's score is the codec's estimate of q . x: codecs with search kernels score from the codes
 * against a query prepared once per call (int8 against a quantized int8 query, binary by Hamming
 * distance, ...; see each codec's notes), the others decode a tile of rows and take float32 dot
 * products q . x̂. Nothing of size n is allocated. A row's score does not depend on which rows or
 * queries share its tile, chunk or thread, results per query are the k best, best first, ties
 * broken by the lower row index, so the answer is the same whatever the thread count. The work is
 * split over database rows, or, when many queries meet a database too small to keep every thread
 * busy, over blocks of queries: progress callbacks then count rows or query blocks.
 * Extreme magnitudes (rows or queries of 1e19 or 1e-22): a query whose max|q| is outside
 * [2^-20, 2^20] is scaled by a power of two and its scores scaled back (past float32's range
 * they read Inf, below it +0, never NaN or -0); a row whose |x|^2 or dot product leaves
 * [2^-100, 2^100] is scored in double. Ordinary magnitudes give the same bits as without this.
 * ------------------------------------------------------------------------------------------- */
typedef enum vec_metric {
  VEC_METRIC_IP = 0,     /* q . x (the codec's estimate), larger is better */
  VEC_METRIC_COSINE = 1, /* q . x / (|q| |x|), larger is better; a row with |x| = 0 scores 0 */
  VEC_METRIC_L2 = 2      /* |q - x|^2 (as |q|^2 + |x|^2 - 2 q . x, clamped at 0), smaller first */
} vec_metric;

/** Top-k search of nq float32 queries (row j at queries + j * ldq, ldq >= d, d the codec's) over
 *  n encoded rows (codes and scales as vec_codec_encode wrote them).
 *  @param row_sqnorms  n floats |x_i|^2 from vec_codes_sqnorms, or NULL: COSINE and L2 then
 *                      compute them on the fly (the same bits either way); unused by IP
 *  @param ids          nq * k row indices: query j's at ids + j * k, best first
 *  @param scores       nq * k scores, alongside ids. When n < k the slots past n hold id
 *                      UINT64_MAX and score NaN
 *  @param opts         threads, progress; NULL for defaults
 *  @return VEC_OK (also for n == 0: every slot UINT64_MAX / NaN); VEC_E_INVALID_ARG (k == 0, an
 *          unknown metric, ldq < d, a NULL pointer, a negative or non-finite scale naming the row,
 *          a COSINE query of norm 0: vec_last_error_row() = the query index); VEC_E_NONFINITE
 *          (a query holds NaN or Inf: vec_last_error_row() = the query index); VEC_E_NOT_TRAINED;
 *          VEC_E_OVERFLOW; VEC_E_NOMEM; VEC_E_CANCELLED. */
VEC_API int vec_search_codes(const vec_codec *codec, const void *codes, const float *scales,
                             size_t n, const float *row_sqnorms, const float *queries, size_t nq,
                             size_t ldq, size_t k, vec_metric metric, uint64_t *ids, float *scores,
                             const vec_batch_opts *opts);

/** The same search over n float32 rows of d dimensions (row i at x + i * ldx, ldx >= d; queries
 *  at stride ldq >= d): the exact baseline.
 *  @return as vec_search_codes (less the codec errors; d == 0 and ldx < d are VEC_E_INVALID_ARG).
 */
VEC_API int vec_search_f32(const float *x, size_t n, size_t ldx, size_t d, const float *queries,
                           size_t nq, size_t ldq, size_t k, vec_metric metric, uint64_t *ids,
                           float *scores, const vec_batch_opts *opts);

/** Rescoring: for each query j, the m candidate row indices at cand + j * m (UINT64_MAX entries
 *  are skipped, a repeated index counts once) are scored exactly against the float32 originals x
 *  (n rows of d floats at stride ldx) and the best k kept, written to ids / scores as in
 *  vec_search_codes. Scores are bit-identical to vec_search_f32's, so when the candidates contain
 *  the float top-k, the result is exactly that top-k. Split over queries on opts' threads.
 *  @return VEC_OK; VEC_E_INVALID_ARG for a candidate >= n (vec_last_error_row() = its query) and
 *          the argument errors of vec_search_f32; VEC_E_NONFINITE; VEC_E_NOMEM; VEC_E_CANCELLED. */
VEC_API int vec_rescore(const float *x, size_t n, size_t ldx, size_t d, const float *queries,
                        size_t nq, size_t ldq, const uint64_t *cand, size_t m, size_t k,
                        vec_metric metric, uint64_t *ids, float *scores,
                        const vec_batch_opts *opts);

/** Rescoring from codes: as vec_rescore, but the candidates are scored with another codec's
 *  encoded rows (e.g. int8 codes rescoring binary candidates: the middle stage of a binary ->
 *  int8 -> float32 pipeline, or codes read from a higher-precision .vqz). Scores are bit-identical
 *  to vec_search_codes' for the same codec, codes and row_sqnorms (NULL allowed, as there).
 *  d is the codec's; the stage that produced cand must have had the same rows in the same order.
 *  @return as vec_rescore, plus the codec errors of vec_search_codes. */
VEC_API int vec_rescore_codes(const vec_codec *codec, const void *codes, const float *scales,
                              size_t n, const float *row_sqnorms, const float *queries, size_t nq,
                              size_t ldq, const uint64_t *cand, size_t m, size_t k,
                              vec_metric metric, uint64_t *ids, float *scores,
                              const vec_batch_opts *opts);

/** @return non-zero if the codec's search kernel gives error bounds, so that vec_search_rescore
 *          can rescore by bound (oversample == 0); 0 otherwise or for NULL. */
VEC_API int vec_search_has_bounds(const vec_codec *codec);

/* What vec_search_rescore did. */
typedef struct vec_search_stats {
  uint64_t scanned;  /* (query, row) pairs scored from the codes */
  uint64_t rescored; /* (query, row) pairs scored exactly against the float originals */
} vec_search_stats;

/** Search over codes with exact rescoring against the float32 originals x (n rows of the codec's
 *  d floats at stride ldx, the same rows as the codes): the result is scored as vec_search_f32
 *  scores it (bit-identical scores).
 *  - oversample >= 1: the k x oversample best rows by the codes' estimate are rescored.
 *  - oversample == 0: by error bound, for codecs whose search kernel gives one (vec_codec_* docs
 *    say which): one pass over the codes, and a row is rescored only when its estimate plus its
 *    bound could still enter the exact top-k so far. The answer is then the exact float top-k
 *    unless a bound fails (the codecs' bounds hold in all but a vanishing fraction of cases).
 *  @param x_sqnorms  n floats |x_i|^2 of the originals (for COSINE and L2 bounds), or NULL: then
 *                    computed with one pass over x. Unused by IP and by oversample >= 1
 *  @param bound_scale with oversample == 0, the factor applied to every error bound: 1 keeps the
 *                    codec's bound; below 1 rescores fewer rows at the risk of missing a true
 *                    neighbour whose estimate fell further than the scaled bound (rabitq-1 on the
 *                    sample: 0.8 rescores 0.71x the rows of 1 and recall@10 stays 1.000; 0.6 half
 *                    the rows at 0.9987 - measure on your data). In (0, 16]; ignored when
 *                    oversample >= 1
 *  @param stats      what was scanned and rescored, or NULL
 *  @return as vec_search_codes; VEC_E_INVALID_ARG also for oversample not 0 and not in [1, 1e6],
 *          oversample == 0 with a codec without bounds, bound_scale outside (0, 16], ldx < d, a
 *          NULL x. */
VEC_API int vec_search_rescore(const vec_codec *codec, const void *codes, const float *scales,
                               size_t n, const float *x, size_t ldx, const float *x_sqnorms,
                               const float *queries, size_t nq, size_t ldq, size_t k,
                               vec_metric metric, double oversample, double bound_scale,
                               uint64_t *ids, float *scores, vec_search_stats *stats,
                               const vec_batch_opts *opts);

/** Writes out[i] = |x_i|^2 for n encoded rows as the search estimates it (the codec's own norm
 *  estimate where it has one, else |x̂_i|^2), to pass as vec_search_codes' row_sqnorms.
 *  @return VEC_OK; VEC_E_INVALID_ARG (NULL, a bad scale naming the row); VEC_E_NOT_TRAINED;
 *          VEC_E_OVERFLOW; VEC_E_NOMEM; VEC_E_CANCELLED. */
VEC_API int vec_codes_sqnorms(const vec_codec *codec, const void *codes, const float *scales,
                              size_t n, float *out, const vec_batch_opts *opts);

/* ---------------------------------------------------------------------------------------------
 * Index: a store of encoded rows by uint64 id, searched on the codes (vec_index).
 *
 * An index owns a pipeline: a first-stage codec whose codes every search scans, an optional rerank
 * codec whose codes rescore the first stage's candidates, and optional float32 originals (kept on
 * add, or read at load) that rescore exactly. It holds, per row, the codes and scales of each
 * stage, |x|^2 of each stage for COSINE and L2, the id, and the original when kept: in memory,
 * about (code_size + 4 * scale_count + 8 + 4) bytes a row plus 16 bytes a row for the id map, plus
 * 4 * d (+ 4) bytes a row with originals. An index loaded mapped (vec_index_load_options.mapped)
 * keeps its file's codes, scales and float32 .npy originals out of that count: they are searched
 * in place from the page cache.
 *
 * Ids are uint64; 2^64 - 1 (UINT64_MAX) is refused, as it marks empty result slots. add refuses an
 * id already held (and ids that repeat within the batch), with nothing added; upsert replaces the
 * rows of ids held (in place: a row keeps its position in vec_index_ids) and appends the others.
 * Without ids, add assigns next_id, next_id + 1, ..., where next_id is one past the largest id ever
 * held (deleted ids are never handed out again). delete marks rows dead (tombstones, skipped by
 * every search) and compacts once a quarter of the rows are dead.
 *
 * Thread safety: one readers-writer lock. Any number of vec_index_search / get / ids / count calls
 * may run at once; add, upsert, delete, compact and set_search_params wait for them and run alone.
 * add and upsert encode before they take the lock. vec_index_free must not race with anything.
 * ------------------------------------------------------------------------------------------- */
typedef struct vec_index_s vec_index;

/* Defaults of the search pipeline, shared by the CLI and the Python package. */
#define VEC_INDEX_RERANK_OVERSAMPLE                                                                \
  20.0                                 /* stage 1 keeps k x this for the rerank codec: binary      \
                                          codes need ~20x for recall@10 0.95 (the sample) */
#define VEC_INDEX_FINAL_OVERSAMPLE 2.0 /* the rerank codec keeps k x this for the exact stage */
#define VEC_INDEX_ORIGINALS_OVERSAMPLE                                                             \
  4.0 /* originals held, no rerank codec, a codec without                                          \
         error bounds: k x this are rescored exactly */

typedef struct vec_index_options {
  size_t struct_size;      /* sizeof(vec_index_options) */
  const vec_codec *rerank; /* a second codec of the same dimension (copied), or NULL */
  int keep_originals;      /* non-zero: keep a float32 copy of every row for exact rescoring */
} vec_index_options;

#define VEC_INDEX_OPTIONS_INIT {sizeof(vec_index_options), NULL, 0}

/* How a search runs; zero fields take the defaults. */
typedef struct vec_search_params {
  size_t struct_size; /* sizeof(vec_search_params) */
  /* Without a rerank codec and without originals: no rescoring (scores are the codes' estimates;
   * oversample must be 0). With originals: 0 = rescore by error bound where the codec gives bounds
   * (vec_search_has_bounds), else k x VEC_INDEX_ORIGINALS_OVERSAMPLE candidates; >= 1 = rescore
   * k x oversample candidates exactly. With a rerank codec: stage 1 keeps k x oversample
   * candidates (0 = VEC_INDEX_RERANK_OVERSAMPLE). */
  double oversample;
  double rerank_oversample; /* with a rerank codec and originals: k x this (0 = 2) go to the exact
                               stage; without originals the rerank stage keeps k */
  double bound_scale;       /* rescoring by bound: the bound's factor, (0, 16]; 0 = 1 */
  int threads;              /* 0 = every core */
  vec_progress_fn progress; /* as in vec_batch_opts: counts rows or query blocks, may cancel */
  void *progress_user;
  const uint64_t *filter_ids; /* an allow-list: only these ids may be returned (ids not held are
                                 ignored; an empty list returns nothing); NULL: every row */
  size_t filter_count;
} vec_search_params;

#define VEC_SEARCH_PARAMS_INIT {sizeof(vec_search_params), 0.0, 0.0, 1.0, 0, NULL, NULL, NULL, 0}

/** Creates an empty index over a copy of codec (trained, when it needs training) with the given
 *  metric. @param opts NULL for VEC_INDEX_OPTIONS_INIT.
 *  @return VEC_OK and *out; VEC_E_INVALID_ARG (NULL, unknown metric, a rerank codec of another
 *          dimension, struct_size); VEC_E_NOT_TRAINED; VEC_E_NOMEM. Free with vec_index_free. */
VEC_API int vec_index_create(const vec_codec *codec, vec_metric metric,
                             const vec_index_options *opts, vec_index **out);

/** Frees an index; NULL is a no-op. */
VEC_API void vec_index_free(vec_index *index);

/** Adds n float32 rows (row i at x + i * ldx, ldx >= d), encoded by every stage.
 *  @param ids      n ids, or NULL for next_id, next_id + 1, ...
 *  @param ids_out  n ids assigned (may be NULL)
 *  @param opts     threads and progress of the encoding
 *  @return VEC_OK; VEC_E_INVALID_ARG (an id already held or repeated in the batch, 2^64 - 1:
 *          vec_last_error_row() names it); VEC_E_NONFINITE / VEC_E_RANGE naming the row;
 *          VEC_E_NOMEM; VEC_E_CANCELLED. On any error nothing was added. */
VEC_API int vec_index_add(vec_index *index, const float *x, size_t n, size_t ldx,
                          const uint64_t *ids, uint64_t *ids_out, const vec_batch_opts *opts);

/** As vec_index_add, but an id already held has its row replaced (codes, originals, norms) in
 *  place; ids are required. @return as vec_index_add, less the "already held" error. */
VEC_API int vec_index_upsert(vec_index *index, const float *x, size_t n, size_t ldx,
                             const uint64_t *ids, const vec_batch_opts *opts);

/** Deletes the rows of n ids; ids not held are ignored. *deleted (may be NULL): how many were.
 *  @return VEC_OK; VEC_E_INVALID_ARG for NULL. */
VEC_API int vec_index_delete(vec_index *index, const uint64_t *ids, size_t n, size_t *deleted);

/** Drops deleted rows now (delete does it by itself once they are a quarter). @return VEC_OK. */
VEC_API int vec_index_compact(vec_index *index);

/** @return the live rows (added and not deleted). */
VEC_API size_t vec_index_count(vec_index *index);
/** @return the dimension. */
VEC_API size_t vec_index_dim(const vec_index *index);
/** @return the metric. */
VEC_API vec_metric vec_index_metric(const vec_index *index);
/** @return the first-stage codec and the rerank codec (or NULL), owned by the index. */
VEC_API const vec_codec *vec_index_codec(const vec_index *index);
VEC_API const vec_codec *vec_index_rerank(const vec_index *index);
/** @return non-zero when the index holds float originals (search and get depend on it). */
VEC_API int vec_index_has_originals(const vec_index *index);
/** @return non-zero when id is held. */
VEC_API int vec_index_contains(vec_index *index, uint64_t id);
/** @return the rows whose first-stage codes are searched in place from a memory map (opened with
 *  vec_index_load_options.mapped; 0 once compaction copied them into memory). */
VEC_API size_t vec_index_mapped_rows(const vec_index *index);
/** Copies min(cap, count) live ids in row order (insertion order; upsert keeps a row's place) to
 *  out. @return the live count (call with cap 0 to size out). */
VEC_API size_t vec_index_ids(vec_index *index, uint64_t *out, size_t cap);
/** @return the metadata text of the file the index was loaded from ("" otherwise), owned by it. */
VEC_API const char *vec_index_metadata(const vec_index *index);

/* Extreme magnitudes: rows whose largest |x_j| lies outside [2^-20, 2^20] (say 1e19, or 1e-22)
 * would overflow or underflow float32 norms and dot products (NaN, -0 or tied scores). The index
 * therefore holds x * 2^-e (exact: only the exponent changes) for e = VEC_INDEX_SCALE_AUTO's pick
 * from the first batch added (floor(log2 max|x|), or 0 for moderate data: results bit-identical),
 * unless set before. Queries are scaled to match (L2: by 2^-e; ip and cosine each by its own power
 * of two), and scores scaled back in double (+-Inf past float32, never NaN or -0); get returns
 * rows at the caller's scale; save writes "scale_exp" (when not 0) and the originals at the
 * caller's scale, load applies both. A codec that needs training must be trained on x * 2^-e. */
#define VEC_INDEX_SCALE_AUTO (-1000)
/** The exponent e an index picks for rows x (n rows of d, stride ldx): 0 when max |x_j| over the
 *  finite values is 0 or in [2^-20, 2^20], else floor(log2 max|x_j|). */
VEC_API int vec_index_pick_scale_exp(const float *x, size_t n, size_t ldx, size_t d);
/** Sets the index's exponent e (rows are held as x * 2^-e) before the first add; e in
 *  [-140, 140]. @return VEC_OK (also when e is the exponent already set); VEC_E_INVALID_ARG when
 *  out of range, or once another exponent was set or rows were added. */
VEC_API int vec_index_set_scale_exp(vec_index *index, int e);
/** @return the index's exponent e (0 while none was picked). */
VEC_API int vec_index_scale_exp(const vec_index *index);

/** Rows of n ids as float32 (row i at out + i * ldo, ldo >= d): the original when held, else the
 *  first codec's reconstruction. @return VEC_OK; VEC_E_NOT_FOUND naming the first missing id
 *  (vec_last_error_row() = its position); VEC_E_INVALID_ARG; VEC_E_NOMEM. */
VEC_API int vec_index_get(vec_index *index, const uint64_t *ids, size_t n, float *out, size_t ldo);

/** The first codec's codes (n * code_size bytes) and scales (n * scale_count, may be NULL) of n
 *  ids. @return as vec_index_get. */
VEC_API int vec_index_get_codes(vec_index *index, const uint64_t *ids, size_t n, void *codes,
                                float *scales);

/** Sets the parameters vec_index_search uses when given NULL (their filter is ignored).
 *  @return VEC_OK; VEC_E_INVALID_ARG. */
VEC_API int vec_index_set_search_params(vec_index *index, const vec_search_params *params);

/** Top-k search of nq float32 queries (row j at queries + j * ldq, ldq >= d) through the pipeline
 *  (see vec_search_params): ids (not rows) and scores, nq * k each, best first, as
 *  vec_search_codes writes them (UINT64_MAX / NaN in slots past the rows that may be returned).
 *  Deleted rows and rows outside the filter never appear. The answer does not depend on the thread
 *  count. @param params NULL: the index's defaults (VEC_SEARCH_PARAMS_INIT unless set).
 *  @param stats  (query, row) pairs scanned and rescored, or NULL
 *  @return VEC_OK; VEC_E_INVALID_ARG (k == 0, ldq < d, parameters out of range, oversample >= 1
 *          without originals nor rerank codec, a COSINE query of norm 0); VEC_E_NONFINITE naming
 *          the query; VEC_E_NOMEM; VEC_E_CANCELLED. */
VEC_API int vec_index_search(vec_index *index, const float *queries, size_t nq, size_t ldq,
                             size_t k, const vec_search_params *params, uint64_t *ids,
                             float *scores, vec_search_stats *stats);

/** Writes the live rows to a .vqz file (the writer's temp-and-rename, so crash-safe): the first
 *  codec's codes with ids (format 2.0, appendable, when there are no sidecars; else 1.0), and JSON
 * metadata {"vectro_index": 2, "metric": ..., "next_id": ..., "rerank": ..., "originals": ...}
 * followed by extra_metadata (JSON object members, e.g.
 *  "\"str_ids\": [...]", or NULL). With a rerank codec its codes go to path + ".rerank.vqz", and
 *  held originals to path + ".originals.npy", both written before path itself.
 *  Saving to the 2.0 file the index was loaded from or last saved to, when rows were only added
 *  since (no delete, no upsert of a row already in the file, no sidecars) and the file is still
 *  at the commit the index knows, appends instead: new blocks and footer after the file's end,
 *  fsync, then a commit slot, fsync (docs/format.md, "Version 2.0"); nothing already in the file
 *  is rewritten, and a crash leaves the previous commit readable. Otherwise the file is rewritten.
 *  @return VEC_OK; VEC_E_IO naming the path; VEC_E_NOMEM; VEC_E_INVALID_ARG. */
VEC_API int vec_index_save(vec_index *index, const char *path, const char *extra_metadata);

/** vec_index_save with a progress callback (opts->progress, on the caller's thread every 65536
 *  rows written, done/total in rows over every file written; non-zero stops the save with
 *  VEC_E_CANCELLED: the main file is then untouched, and a sidecar this call created is removed).
 *  opts->threads is unused; NULL: as vec_index_save. */
VEC_API int vec_index_save_opts(vec_index *index, const char *path, const char *extra_metadata,
                                const vec_batch_opts *opts);

typedef struct vec_index_load_options {
  size_t struct_size;    /* sizeof(vec_index_load_options) */
  const char *originals; /* float32 rows in the file's order (.npy, .fvecs), or NULL */
  const char *rerank;    /* a .vqz of the same rows and ids in another codec, or NULL */
  int sidecars;          /* non-zero: load the sidecars vec_index_save named when the two above
                            are NULL */
  int metric_override;   /* -1: the metric in the file (cosine when it names none); else a
                            vec_metric */
  /* Added in 0.1 (a struct_size that ends before them means NULL): called on the caller's thread
   * every 65536 rows read, done/total in rows over every file read; non-zero stops the load with
   * VEC_E_CANCELLED. */
  vec_progress_fn progress;
  void *progress_user;
  int mapped; /* non-zero: search the first stage's codes in place, from a memory map of path (see
                 vec_index_load); a struct_size that ends before it means 0 */
} vec_index_load_options;

#define VEC_INDEX_LOAD_OPTIONS_INIT                                                                \
  {sizeof(vec_index_load_options), NULL, NULL, 1, -1, NULL, NULL, 0}

/** Opens an index from any .vqz: the file's codec, its ids (a file without ids: 0 .. n-1), the
 *  metric and next_id of its metadata, and the sidecars. The rows are read into memory (each block
 *  checked against its CRC-32C); the result is an ordinary index, to search, add to and save.
 *  With opts->mapped, every block is checked the same way (by pread), then the file is memory-
 *  mapped and the first stage's codes and scales are searched where they lie: RAM holds the ids,
 *  the id map, norms (COSINE, L2) and the sidecars, not the codes. Rows added later are held in
 *  memory; an upsert of a mapped row deletes it and adds the new row at the end; delete keeps
 *  tombstones (no automatic compaction), and vec_index_compact copies the mapped rows into memory
 *  first. As with SQLite's mmap mode, the file must not be truncated or rewritten in place while
 *  mapped: touching a page a truncation removed raises SIGBUS. vectro's writers never do that
 *  (they rename a new file over the old one, which the map survives, or append past the end).
 *  @return VEC_OK and *out; VEC_E_FORMAT (an id that repeats or is 2^64 - 1, naming the row; an
 *          unknown metric; a corrupt file); VEC_E_INVALID_ARG (originals or rerank rows that do
 *          not match); VEC_E_IO; VEC_E_VERSION; VEC_E_NOMEM. */
VEC_API int vec_index_load(const char *path, const vec_index_load_options *opts, vec_index **out);

/* ---------------------------------------------------------------------------------------------
 * Clustering: k-means (Lloyd's algorithm), the trainer of the pq codec, public for IVF-style uses.
 *
 * Training runs on at most max_points rows sampled without replacement (seeded), so its cost does
 * not grow with the collection. Each iteration assigns every training row to its nearest centroid
 * by squared L2 (|c|^2 - 2 x.c, SIMD, threaded over rows) and moves each centroid to the mean of
 * its rows (sums in double, accumulated in row order on one thread: the result depends on the seed
 * and the instruction set, never on the thread count). An empty cluster takes over half of the
 * largest one: a copy of its centroid, both perturbed by a relative 1/1024 in opposite directions
 * (as FAISS). Ties go to the lowest centroid index.
 * ------------------------------------------------------------------------------------------- */
typedef enum vec_kmeans_init {
  VEC_KMEANS_INIT_RANDOM = 0,  /* k distinct training rows picked at random (FAISS's default) */
  VEC_KMEANS_INIT_PLUSPLUS = 1 /* k-means++: D^2 sampling (better starts, O(n k d) more serial) */
} vec_kmeans_init;

typedef struct vec_kmeans_params {
  size_t struct_size;   /* sizeof(vec_kmeans_params) */
  unsigned iters;       /* Lloyd iterations; 0 = 25 */
  uint64_t seed;        /* sampling and initialisation */
  vec_kmeans_init init; /* VEC_KMEANS_INIT_RANDOM or VEC_KMEANS_INIT_PLUSPLUS */
  size_t max_points;    /* training rows used at most (sampled); 0 = 256 * k, as FAISS */
} vec_kmeans_params;

#define VEC_KMEANS_PARAMS_INIT {sizeof(vec_kmeans_params), 25, 0, VEC_KMEANS_INIT_RANDOM, 0}

typedef struct vec_kmeans_stats {
  size_t struct_size;   /* sizeof(vec_kmeans_stats), set by the caller */
  double objective;     /* sum over all n input rows of the squared L2 distance to the nearest
                           final centroid */
  size_t train_rows;    /* rows the iterations ran on (min(n, max_points)) */
  size_t empty_repairs; /* empty clusters split off a large one, over all iterations */
} vec_kmeans_stats;

/** Clusters n rows of d floats (row i at x + i * ldx, ldx >= d) into k centroids.
 *  @param params     NULL for VEC_KMEANS_PARAMS_INIT
 *  @param centroids  out: k * d floats, row-major
 *  @param assign     out, may be NULL: n indices of the nearest final centroid (a final pass over
 *                    all n rows, run when assign or stats is given)
 *  @param stats      out, may be NULL: objective and counters
 *  @param opts       threads, progress (counted in training rows per iteration); NULL: defaults
 *  @return VEC_OK; VEC_E_INVALID_ARG (k == 0, n < k: fewer rows than centroids, max_points < k,
 *          d == 0, ldx < d, an unknown init, NULL, a struct_size too small); VEC_E_NONFINITE naming
 *          the first row holding NaN or Inf; VEC_E_RANGE naming the first row with a value
 *          above sqrt(FLT_MAX / (4 d)), where float32 squared distances could overflow;
 *          VEC_E_OVERFLOW; VEC_E_NOMEM; VEC_E_CANCELLED. */
VEC_API int vec_kmeans(const float *x, size_t n, size_t d, size_t ldx, size_t k,
                       const vec_kmeans_params *params, float *centroids, uint32_t *assign,
                       vec_kmeans_stats *stats, const vec_batch_opts *opts);

/* ---------------------------------------------------------------------------------------------
 * Instruction sets: detected once, overridable for tests and for machines that misreport.
 * The environment variable VECTRO_DISABLE_CPU_FEATURES is read at the first call that needs the
 * kernels: a comma list of instruction sets (avx512, avx2, neon; also zmm, fma, avx512f,
 * avx512bw, avx512vl), which cap the automatic choice, and of sub-features (f16c, vnni,
 * vpopcntdq, bf16, sse4.2, crc32, dotprod), whose kernels are then never used, whatever the
 * instruction set; "all" is every one. Unknown names are ignored there (vec_disable_cpu_features
 * reports them).
 * ------------------------------------------------------------------------------------------- */
typedef enum vec_isa {
  VEC_ISA_SCALAR = 0, /* portable C, the reference every other variant is tested against */
  VEC_ISA_AVX2 = 1,   /* x86-64 AVX2 + FMA */
  VEC_ISA_AVX512 = 2, /* x86-64 AVX-512 F/BW/VL */
  VEC_ISA_NEON = 3,   /* AArch64 Advanced SIMD */
  VEC_ISA_AUTO = 255  /* for vec_set_isa: the best this CPU supports (after the env variable) */
} vec_isa;

/* CPU feature bits reported by vec_cpu_features(). */
#define VEC_CPU_AVX2            (1u << 0)
#define VEC_CPU_FMA             (1u << 1)
#define VEC_CPU_F16C            (1u << 2)
#define VEC_CPU_AVX512F         (1u << 3)
#define VEC_CPU_AVX512BW        (1u << 4)
#define VEC_CPU_AVX512VL        (1u << 5)
#define VEC_CPU_AVX512VNNI      (1u << 6)
#define VEC_CPU_AVX512VPOPCNTDQ (1u << 7)
#define VEC_CPU_AVX512BF16      (1u << 8)
#define VEC_CPU_SSE42           (1u << 9) /* the CRC32C instruction */
#define VEC_CPU_NEON            (1u << 16)
#define VEC_CPU_DOTPROD         (1u << 17)
#define VEC_CPU_CRC32           (1u << 18) /* the ARMv8 CRC extension */

/** @return the VEC_CPU_* bits this CPU and OS support (before any override). */
VEC_API unsigned vec_cpu_features(void);

/** @return the instruction set whose kernels are in use now. */
VEC_API vec_isa vec_active_isa(void);

/** @return a static lower-case name ("scalar", "avx2", "avx512", "neon", "auto"), or "unknown". */
VEC_API const char *vec_isa_name(vec_isa isa);

/** @return non-zero if this CPU (ignoring overrides) can run the given instruction set. */
VEC_API int vec_isa_supported(vec_isa isa);

/** Forces the kernels of one instruction set for every later call in the process, or returns to
 *  automatic choice with VEC_ISA_AUTO. Not meant to race with running batches.
 *  @return VEC_OK, or VEC_E_UNSUPPORTED if this CPU cannot run it (nothing changes then). */
VEC_API int vec_set_isa(vec_isa isa);

/** Switches CPU features off for every later call, as VECTRO_DISABLE_CPU_FEATURES does (the same
 *  comma list, replacing the variable's setting; NULL or "" switches nothing off), so that the
 *  fallbacks of a machine without them run here (tests, benchmarks). An instruction set forced by
 *  vec_set_isa stays forced; its sub-feature kernels follow the list. Not meant to race with
 *  running batches.
 *  @return VEC_OK, or VEC_E_INVALID_ARG naming an unknown feature (nothing changes then). */
VEC_API int vec_disable_cpu_features(const char *list);

/** @return the VEC_CPU_* bits the kernels in use now rely on: vec_cpu_features() less those
 *  switched off. */
VEC_API unsigned vec_active_cpu_features(void);

#ifdef __cplusplus
}
#endif
#endif /* VECTRO_H */
