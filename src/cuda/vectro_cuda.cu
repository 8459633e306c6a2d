// vectro_cuda.cu: the CUDA kernels behind vectro_cuda.h. Each encoder is the C reference's
// per-row arithmetic (src/kernels/int8_row.h, intq_kernels.h, half_kernels.h, binary_scalar.c)
// written for a warp per row; every float operation that decides a bit is an explicitly rounded
// intrinsic (__fmul_rn, __fdiv_rn), so neither -use_fast_math nor FMA contraction can change a code.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "vectro_cuda.h"

#define VEC_OK            0
#define VEC_E_INVALID_ARG (-1)
#define VEC_E_NONFINITE   (-2)
#define VEC_E_NOMEM       (-3)
#define VEC_E_OVERFLOW    (-6)
#define VEC_E_RANGE       (-8)

namespace {

constexpr uint32_t kAbsMask = 0x7fffffffu;
constexpr uint32_t kNonfinite = 0x7f800000u;
constexpr uint32_t kTinyBits = 0x0f800000u;  // 2^-96: below it 127/m could overflow
constexpr uint32_t kF16Range = 0x477ff000u;  // 65520.0f: rounds to Inf in binary16
constexpr uint32_t kBf16Range = 0x7f7f8000u; // the bfloat16 equivalent
constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 8;             // warps per block in the row kernels
constexpr unsigned long long kNoBad = ~0ull; // the status word when every row was good

thread_local char g_msg[256];
thread_local long long g_bad_row = -1;

int cuda_fail(cudaError_t e) {
  strncpy(g_msg, cudaGetErrorString(e), sizeof g_msg - 1);
  g_msg[sizeof g_msg - 1] = 0;
  return e == cudaErrorMemoryAllocation ? VEC_E_NOMEM : VEC_E_CUDA;
}

#define CUDA_TRY(expr)                                                                             \
  do {                                                                                             \
    cudaError_t e_ = (expr);                                                                       \
    if (e_ != cudaSuccess) return cuda_fail(e_);                                                   \
  } while (0)

__device__ __forceinline__ uint32_t f2u(float f) { return __float_as_uint(f); }
__device__ __forceinline__ float u2f(uint32_t u) { return __uint_as_float(u); }

__device__ __forceinline__ uint32_t warp_max_u32(uint32_t v) {
  for (int o = kWarp / 2; o > 0; o /= 2) {
    uint32_t w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}

// Round half to even independent of the rounding mode, clamped to [-L, L] (vec_intq_round).
__device__ __forceinline__ int round_clamp(float v, int L) {
  const float lim = (float)(L + 1);
  v = v < -lim ? -lim : (v > lim ? lim : v);
  int r = (int)v; // truncation toward zero (cvt.rzi), exact after the clamp
  float frac = fabsf(__fsub_rn(v, (float)r));
  int up = (frac > 0.5f) | ((frac == 0.5f) & (r & 1));
  r += up * (1 - 2 * (v < 0.0f));
  return r > L ? L : (r < -L ? -L : r);
}

// m / L, one ulp lower where L * (m / L) would round to Inf (vec_int8_scale, vec_intq_scale).
__device__ __forceinline__ float sym_scale(float m, float L) {
  float s = __fdiv_rn(m, L);
  if (isinf(__fmul_rn(s, L))) s = nextafterf(s, 0.0f);
  return s;
}

// Records the lowest bad row with its error code: the key orders by row first.
__device__ __forceinline__ void report_bad(unsigned long long *status, size_t row, int rc) {
  atomicMin(status, ((unsigned long long)row << 4) | (unsigned long long)(-rc));
}

// Max |x| bit pattern over x[j0, j1) by one warp (exact and order-free: an integer max).
__device__ __forceinline__ uint32_t seg_amax(const float *x, size_t j0, size_t j1, int lane) {
  uint32_t a = 0;
  for (size_t j = j0 + lane; j < j1; j += kWarp) {
    uint32_t v = f2u(x[j]) & kAbsMask;
    a = v > a ? v : a;
  }
  return warp_max_u32(a);
}

// ---------------------------------------------------------------------------------------------
// int8 and int4 encoders: the row kind from max|x| bits, then round_clamp(x * (L / m)) with the
// tiny-row path x * 2^96 * (L / (m * 2^96)), all products rounded as the C reference rounds them.

// Quantizes x[j0, j1) (a segment of one row) to levels in [-L, L]; returns the scale, or NaN when
// the segment is bad (the caller reports it). `q(j, v)` stores level v of element j.
struct SegParams {
  float up, inv, scale;
  int kind; // 0 zero, 1 normal, 2 tiny, 3 non-finite
};

__device__ __forceinline__ SegParams seg_params(uint32_t amax, float L) {
  SegParams p;
  p.up = 1.0f;
  p.inv = 0.0f;
  p.scale = 0.0f;
  if (amax >= kNonfinite) {
    p.kind = 3;
  } else if (amax == 0) {
    p.kind = 0;
  } else {
    float m = u2f(amax);
    if (amax < kTinyBits) {
      p.kind = 2;
      p.up = 0x1p96f;
      p.inv = __fdiv_rn(L, __fmul_rn(m, 0x1p96f));
    } else {
      p.kind = 1;
      p.inv = __fdiv_rn(L, m);
    }
    p.scale = sym_scale(m, L);
  }
  return p;
}

__device__ __forceinline__ int quant(float x, const SegParams &p, int L) {
  if (p.kind == 0) return 0;
  float v = p.kind == 2 ? __fmul_rn(__fmul_rn(x, p.up), p.inv) : __fmul_rn(x, p.inv);
  return round_clamp(v, L);
}

__global__ void int8_encode_kernel(const float *__restrict__ x, size_t n, size_t d,
                                   int8_t *__restrict__ codes, float *__restrict__ scales,
                                   unsigned long long *status) {
  const int lane = threadIdx.x % kWarp;
  for (size_t i = (size_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp; i < n;
       i += (size_t)gridDim.x * kRowsPerBlock) {
    const float *row = x + i * d;
    SegParams p = seg_params(seg_amax(row, 0, d, lane), 127.0f);
    if (p.kind == 3) {
      if (lane == 0) report_bad(status, i, VEC_E_NONFINITE);
      continue;
    }
    int8_t *q = codes + i * d;
    for (size_t j = lane; j < d; j += kWarp) q[j] = (int8_t)quant(row[j], p, 127);
    if (lane == 0) scales[i] = p.scale;
  }
}

__global__ void int8_decode_kernel(const int8_t *__restrict__ codes, const float *__restrict__ scales,
                                   size_t n, size_t d, float *__restrict__ out) {
  size_t total = n * d;
  for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x)
    out[t] = __fmul_rn((float)codes[t], scales[t / d]);
}

// int4: a warp per row, the row's groups in turn; g is even (or the whole row), so a code byte
// never straddles two groups.
__global__ void int4_encode_kernel(const float *__restrict__ x, size_t n, size_t d, size_t g,
                                   uint8_t *__restrict__ codes, float *__restrict__ scales,
                                   unsigned long long *status) {
  const int lane = threadIdx.x % kWarp;
  const size_t nb = (d + 1) / 2, ns = (d + g - 1) / g;
  for (size_t i = (size_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp; i < n;
       i += (size_t)gridDim.x * kRowsPerBlock) {
    const float *row = x + i * d;
    uint8_t *q = codes + i * nb;
    for (size_t k = 0, j0 = 0; j0 < d; k++, j0 += g) {
      size_t j1 = d - j0 < g ? d : j0 + g;
      SegParams p = seg_params(seg_amax(row, j0, j1, lane), 7.0f);
      if (p.kind == 3) {
        if (lane == 0) report_bad(status, i, VEC_E_NONFINITE);
        break;
      }
      for (size_t j = j0 + 2 * (size_t)lane; j < j1; j += 2 * kWarp) {
        unsigned lo = (unsigned)quant(row[j], p, 7) & 15u;
        unsigned hi = j + 1 < j1 ? ((unsigned)quant(row[j + 1], p, 7) & 15u) : 0u;
        q[j / 2] = (uint8_t)(lo | hi << 4);
      }
      if (lane == 0) scales[i * ns + k] = p.scale;
    }
  }
}

__global__ void int4_decode_kernel(const uint8_t *__restrict__ codes,
                                   const float *__restrict__ scales, size_t n, size_t d, size_t g,
                                   float *__restrict__ out) {
  const size_t nb = (d + 1) / 2, ns = (d + g - 1) / g, total = n * d;
  for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x) {
    size_t i = t / d, j = t % d;
    unsigned nib = (codes[i * nb + j / 2] >> (4 * (j & 1))) & 15u;
    out[t] = __fmul_rn((float)((int)(nib ^ 8u) - 8), scales[i * ns + j / g]);
  }
}

// ---------------------------------------------------------------------------------------------
// binary: lane l of a warp builds bytes l, l + 32, ... of the row (8 elements each, MSB first).
__global__ void binary_encode_kernel(const float *__restrict__ x, size_t n, size_t d,
                                     uint8_t *__restrict__ codes, unsigned long long *status) {
  const int lane = threadIdx.x % kWarp;
  const size_t nb = (d + 7) / 8;
  for (size_t i = (size_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp; i < n;
       i += (size_t)gridDim.x * kRowsPerBlock) {
    const float *row = x + i * d;
    uint32_t amax = 0;
    for (size_t b = lane; b < nb; b += kWarp) {
      unsigned byte = 0;
      for (size_t e = 0; e < 8 && 8 * b + e < d; e++) {
        float v = row[8 * b + e];
        uint32_t a = f2u(v) & kAbsMask;
        amax = a > amax ? a : amax;
        byte |= (unsigned)(v > 0.0f) << (7 - e);
      }
      codes[i * nb + b] = (uint8_t)byte;
    }
    amax = warp_max_u32(amax);
    if (lane == 0 && amax >= kNonfinite) report_bad(status, i, VEC_E_NONFINITE);
  }
}

__global__ void binary_decode_kernel(const uint8_t *__restrict__ codes, size_t n, size_t d,
                                     float *__restrict__ out) {
  const size_t nb = (d + 7) / 8, total = n * d;
  for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x) {
    size_t i = t / d, j = t % d;
    unsigned bit = (codes[i * nb + j / 8] >> (7 - j % 8)) & 1u;
    out[t] = bit ? 1.0f : -1.0f;
  }
}

// ---------------------------------------------------------------------------------------------
// f16 / bf16: integer conversions (half_kernels.h), so no rounding mode or flush-to-zero applies.
__device__ __forceinline__ uint16_t f16_from_bits(uint32_t u) {
  uint32_t sign = (u >> 16) & 0x8000u, a = u & kAbsMask;
  if (a >= 0x38800000u) {
    uint32_t m = a - 0x38000000u;
    m += 0x0fffu + ((m >> 13) & 1u);
    return (uint16_t)(sign | (m >> 13));
  }
  uint32_t e = a >> 23;
  if (e < 102) return (uint16_t)sign;
  uint32_t sig = (a & 0x7fffffu) | 0x800000u, s = 126 - e;
  uint32_t q = sig >> s, rem = sig & ((1u << s) - 1u), half = 1u << (s - 1);
  q += (rem > half) | ((rem == half) & (q & 1u));
  return (uint16_t)(sign | q);
}

__device__ __forceinline__ uint32_t f16_to_bits(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u);
  if (e != 0) return sign | ((e + 112u) << 23) | (m << 13);
  if (m == 0) return sign;
  return sign | f2u(__fmul_rn((float)m, 0x1p-24f)); // exact: a normal float32
}

__device__ __forceinline__ uint16_t bf16_from_bits(uint32_t u) {
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__global__ void half_encode_kernel(const float *__restrict__ x, size_t n, size_t d, int bf16,
                                   uint16_t *__restrict__ codes, unsigned long long *status) {
  const int lane = threadIdx.x % kWarp;
  const uint32_t range = bf16 ? kBf16Range : kF16Range;
  for (size_t i = (size_t)blockIdx.x * kRowsPerBlock + threadIdx.x / kWarp; i < n;
       i += (size_t)gridDim.x * kRowsPerBlock) {
    const float *row = x + i * d;
    uint32_t amax = 0;
    for (size_t j = lane; j < d; j += kWarp) {
      uint32_t u = f2u(row[j]), a = u & kAbsMask;
      amax = a > amax ? a : amax;
      codes[i * d + j] = bf16 ? bf16_from_bits(u) : f16_from_bits(u);
    }
    amax = warp_max_u32(amax);
    if (lane == 0 && amax >= range)
      report_bad(status, i, amax >= kNonfinite ? VEC_E_NONFINITE : VEC_E_RANGE);
  }
}

__global__ void half_decode_kernel(const uint16_t *__restrict__ codes, size_t n, size_t d, int bf16,
                                   float *__restrict__ out) {
  const size_t total = n * d;
  for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x)
    out[t] = u2f(bf16 ? (uint32_t)codes[t] << 16 : f16_to_bits(codes[t]));
}

// ---------------------------------------------------------------------------------------------
// Top-k. A block owns one query and a range of rows; warps score rows, and candidates that beat
// the block's current k-th go through a small shared buffer into a sorted list that one thread
// maintains. (score, row) is a total order (higher score first, then the lower row), so the kept
// set and its order do not depend on which warp saw a row first: the result is deterministic and
// equals the C library's. A second pass merges the per-block lists the same way.

struct Cand {
  float key; // larger is better (the score, or minus the Hamming distance)
  uint64_t id;
};

__device__ __forceinline__ bool better(float ka, uint64_t ia, float kb, uint64_t ib) {
  return ka > kb || (ka == kb && ia < ib);
}

constexpr int kTopkThreads = 256;
constexpr int kBufCap = 2 * kTopkThreads;

struct TopK {
  Cand *list;  // shared, k entries, sorted best first; empty slots have id ~0 and key -Inf
  Cand *buf;   // shared, kBufCap pending candidates
  int *nbuf;   // shared counter
  float *kth_key;
  uint64_t *kth_id;
  int k;
};

__device__ void topk_init(TopK &t) {
  for (int i = threadIdx.x; i < t.k; i += blockDim.x) {
    t.list[i].key = -INFINITY;
    t.list[i].id = ~0ull;
  }
  if (threadIdx.x == 0) {
    *t.nbuf = 0;
    *t.kth_key = -INFINITY;
    *t.kth_id = ~0ull;
  }
  __syncthreads();
}

// Offers a candidate (any thread); it is queued only if it beats the current k-th.
__device__ __forceinline__ void topk_offer(TopK &t, float key, uint64_t id) {
  if (better(key, id, *t.kth_key, *t.kth_id)) {
    int pos = atomicAdd(t.nbuf, 1);
    if (pos < kBufCap) t.buf[pos] = Cand{key, id};
  }
}

// Every thread calls it after each round, in which a thread offers at most one candidate, so a
// round never overflows the buffer (kBufCap is twice the block).
__device__ void topk_flush(TopK &t) {
  __syncthreads();
  if (threadIdx.x == 0) {
    int nb = *t.nbuf < kBufCap ? *t.nbuf : kBufCap;
    for (int c = 0; c < nb; c++) {
      Cand x = t.buf[c];
      if (!better(x.key, x.id, t.list[t.k - 1].key, t.list[t.k - 1].id)) continue;
      int p = t.k - 1;
      while (p > 0 && better(x.key, x.id, t.list[p - 1].key, t.list[p - 1].id)) {
        t.list[p] = t.list[p - 1];
        p--;
      }
      t.list[p] = x;
    }
    *t.nbuf = 0;
    *t.kth_key = t.list[t.k - 1].key;
    *t.kth_id = t.list[t.k - 1].id;
  }
  __syncthreads();
}

__device__ void topk_shared(TopK &t, int k) {
  extern __shared__ unsigned char smem[];
  t.list = reinterpret_cast<Cand *>(smem);
  t.buf = t.list + k;
  t.nbuf = reinterpret_cast<int *>(t.buf + kBufCap);
  static_assert(sizeof(Cand) == 16, "Cand layout");
  unsigned char *tail = reinterpret_cast<unsigned char *>(t.nbuf) + 16;
  t.kth_key = reinterpret_cast<float *>(tail);
  t.kth_id = reinterpret_cast<uint64_t *>(tail + 8);
  t.k = k;
}

__host__ __device__ constexpr size_t topk_smem(int k) {
  return (size_t)(k + kBufCap) * 16 + 16 + 16;
}

// int8 scoring: the query's codes sit in shared memory after the top-k state, as int32 words of
// 4 codes (zero padded), so a row is read as words with __dp4a where rows are word aligned.
__global__ void int8_search_kernel(const int8_t *__restrict__ codes,
                                   const float *__restrict__ scales, size_t n, size_t d,
                                   const int8_t *__restrict__ qcodes,
                                   const float *__restrict__ qscales, int k, size_t rows_per_block,
                                   Cand *__restrict__ part) {
  extern __shared__ unsigned char smem[];
  TopK t;
  topk_shared(t, k);
  int32_t *qw = reinterpret_cast<int32_t *>(smem + topk_smem(k));
  const size_t j = blockIdx.y, words = (d + 3) / 4;
  const int8_t *q = qcodes + j * d;
  for (size_t w = threadIdx.x; w < words; w += blockDim.x) {
    int32_t v = 0;
    for (int b = 0; b < 4; b++)
      if (4 * w + b < d) v |= (int32_t)(uint8_t)q[4 * w + b] << (8 * b);
    qw[w] = v;
  }
  topk_init(t);
  const float sq = qscales[j];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const size_t r0 = (size_t)blockIdx.x * rows_per_block;
  const size_t r1 = r0 + rows_per_block < n ? r0 + rows_per_block : n;
  const bool aligned = d % 4 == 0;
  // Rounds of blockDim.x rows: each warp scores 32 rows of the round one after another, lane r of
  // the warp keeping row r's score, so each thread offers at most one candidate a round.
  for (size_t base = r0; base < r1; base += blockDim.x) {
    float key = -INFINITY;
    uint64_t id = ~0ull;
    for (int rr = 0; rr < kWarp; rr++) {
      size_t r = base + (size_t)warp * kWarp + rr;
      if (r >= r1) break;
      const int8_t *x = codes + r * d;
      int acc = 0;
      if (aligned) {
        const int32_t *xw = reinterpret_cast<const int32_t *>(x);
        for (size_t w = lane; w < words; w += kWarp) acc = __dp4a(xw[w], qw[w], acc);
      } else {
        for (size_t e = lane; e < d; e += kWarp)
          acc += (int)x[e] * (int)(int8_t)(qw[e / 4] >> (8 * (e % 4)));
      }
      for (int o = kWarp / 2; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, o);
      if (lane == rr) {
        key = __fmul_rn(__fmul_rn(sq, scales[r]), (float)acc);
        id = r;
      }
    }
    if (id != ~0ull) topk_offer(t, key, id);
    topk_flush(t);
  }
  Cand *out = part + ((size_t)j * gridDim.x + blockIdx.x) * k;
  for (int i = threadIdx.x; i < k; i += blockDim.x) out[i] = t.list[i];
}

__global__ void binary_search_kernel(const uint8_t *__restrict__ codes, size_t n, size_t d,
                                     const uint8_t *__restrict__ queries, int k,
                                     size_t rows_per_block, Cand *__restrict__ part) {
  extern __shared__ unsigned char smem[];
  TopK t;
  topk_shared(t, k);
  uint8_t *qs = smem + topk_smem(k);
  const size_t j = blockIdx.y, nb = (d + 7) / 8;
  const unsigned lastmask = d % 8 ? (0xffu << (8 - d % 8)) & 0xffu : 0xffu;
  for (size_t b = threadIdx.x; b < nb; b += blockDim.x) qs[b] = queries[j * nb + b];
  topk_init(t);
  const size_t r0 = (size_t)blockIdx.x * rows_per_block;
  const size_t r1 = r0 + rows_per_block < n ? r0 + rows_per_block : n;
  // A thread a row: rows of a few dozen bytes are read whole by one thread (the rows of a warp
  // are adjacent, so the warp's loads still cover contiguous memory).
  for (size_t base = r0; base < r1; base += blockDim.x) {
    size_t r = base + threadIdx.x;
    if (r < r1) {
      const uint8_t *x = codes + r * nb;
      unsigned h = 0;
      for (size_t b = 0; b + 1 < nb; b++) h += __popc((unsigned)(x[b] ^ qs[b]));
      h += __popc((unsigned)(x[nb - 1] ^ qs[nb - 1]) & lastmask);
      topk_offer(t, -(float)h, r);
    }
    topk_flush(t);
  }
  Cand *out = part + ((size_t)j * gridDim.x + blockIdx.x) * k;
  for (int i = threadIdx.x; i < k; i += blockDim.x) out[i] = t.list[i];
}

// Merges the per-block lists of each query (blockIdx.x = query) into the final top-k.
__global__ void merge_kernel(const Cand *__restrict__ part, int parts, int k, int negate,
                             size_t n, uint64_t *__restrict__ ids, float *__restrict__ scores) {
  extern __shared__ unsigned char smem[];
  TopK t;
  topk_shared(t, k);
  topk_init(t);
  const size_t j = blockIdx.x, total = (size_t)parts * k;
  const Cand *c = part + j * total;
  for (size_t base = 0; base < total; base += blockDim.x) {
    size_t i = base + threadIdx.x;
    if (i < total && c[i].id != ~0ull) topk_offer(t, c[i].key, c[i].id);
    topk_flush(t);
  }
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    Cand x = t.list[i];
    bool empty = x.id == ~0ull || x.id >= n;
    ids[j * k + i] = empty ? ~0ull : x.id;
    scores[j * k + i] = empty ? __int_as_float(0x7fc00000) : (negate ? -x.key : x.key);
  }
}

// ---------------------------------------------------------------------------------------------
// Host side.

int g_sm_count = 0;

int sm_count() {
  if (g_sm_count == 0) {
    int dev = 0, c = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&c, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
      c = 80;
    g_sm_count = c > 0 ? c : 80;
  }
  return g_sm_count;
}

unsigned grid_rows(size_t n) {
  size_t blocks = (n + kRowsPerBlock - 1) / kRowsPerBlock, cap = (size_t)sm_count() * 32;
  return (unsigned)(blocks < cap ? (blocks ? blocks : 1) : cap);
}

unsigned grid_elems(size_t total) {
  size_t blocks = (total + 255) / 256, cap = (size_t)sm_count() * 64;
  return (unsigned)(blocks < cap ? (blocks ? blocks : 1) : cap);
}

bool mul_overflows(size_t a, size_t b) { return b != 0 && a > SIZE_MAX / b; }

// Runs an encoder that reports bad rows through a status word, then reads the verdict back.
template <typename Launch> int run_checked(cudaStream_t st, Launch launch) {
  g_bad_row = -1;
  unsigned long long *status = nullptr;
  CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(&status), sizeof *status, st));
  unsigned long long host = kNoBad;
  cudaError_t e = cudaMemcpyAsync(status, &host, sizeof host, cudaMemcpyHostToDevice, st);
  if (e == cudaSuccess) {
    launch(status);
    e = cudaGetLastError();
  }
  if (e == cudaSuccess) e = cudaMemcpyAsync(&host, status, sizeof host, cudaMemcpyDeviceToHost, st);
  cudaFreeAsync(status, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  if (e != cudaSuccess) return cuda_fail(e);
  if (host == kNoBad) return VEC_OK;
  g_bad_row = (long long)(host >> 4);
  return -(int)(host & 15u);
}

int check_rows(const void *a, const void *b, size_t n, size_t d) {
  if (d == 0) return VEC_E_INVALID_ARG;
  if (n > 0 && (a == nullptr || b == nullptr)) return VEC_E_INVALID_ARG;
  if (mul_overflows(n, d) || mul_overflows(n * d, 4)) return VEC_E_OVERFLOW;
  return VEC_OK;
}

size_t i4_group(size_t d, size_t g) { return g == 0 || g >= d ? d : g; }

// Top-k over one or both search kernels: partial lists, then the merge.
template <typename Launch>
int run_search(size_t n, size_t nq, size_t k, int negate, uint64_t *ids, float *scores,
               cudaStream_t st, size_t extra_smem, Launch launch) {
  const int kk = (int)k;
  size_t rows_per_block = 4096;
  size_t want = (size_t)sm_count() * 4 / (nq ? nq : 1); // blocks per query to fill the GPU
  if (want < 1) want = 1;
  size_t by_rows = (n + rows_per_block - 1) / rows_per_block;
  size_t parts = by_rows < want ? by_rows : want;
  if (parts < 1) parts = 1;
  if (parts > 65535) parts = 65535;
  rows_per_block = (n + parts - 1) / parts;
  if (rows_per_block == 0) rows_per_block = 1;
  Cand *part = nullptr;
  CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(&part), nq * parts * k * sizeof(Cand), st));
  size_t smem = topk_smem(kk) + extra_smem;
  dim3 grid((unsigned)parts, (unsigned)nq);
  cudaError_t e = cudaSuccess;
  if (smem > 48 * 1024)
    e = launch(grid, smem, rows_per_block, part, true);
  else
    e = launch(grid, smem, rows_per_block, part, false);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e == cudaSuccess) {
    size_t msmem = topk_smem(kk);
    if (msmem > 48 * 1024)
      e = cudaFuncSetAttribute(merge_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               (int)msmem);
    if (e == cudaSuccess) {
      merge_kernel<<<(unsigned)nq, kTopkThreads, msmem, st>>>(part, (int)parts, kk, negate, n, ids,
                                                               scores);
      e = cudaGetLastError();
    }
  }
  cudaFreeAsync(part, st);
  if (e == cudaSuccess) e = cudaStreamSynchronize(st);
  return e == cudaSuccess ? VEC_OK : cuda_fail(e);
}

} // namespace

extern "C" {

int vec_cuda_device_count(void) {
  int c = 0;
  cudaError_t e = cudaGetDeviceCount(&c);
  if (e != cudaSuccess) {
    cuda_fail(e);
    cudaGetLastError(); // a missing driver is not sticky: clear it for later calls
    return 0;
  }
  return c;
}

const char *vec_cuda_last_error(void) { return g_msg; }

long long vec_cuda_last_error_row(void) { return g_bad_row; }

int vec_cuda_int8_encode(const float *x, size_t n, size_t d, int8_t *codes, float *scales,
                         void *stream) {
  int rc = check_rows(x, codes, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  if (scales == nullptr) return VEC_E_INVALID_ARG;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  return run_checked(st, [&](unsigned long long *status) {
    int8_encode_kernel<<<grid_rows(n), kRowsPerBlock * kWarp, 0, st>>>(x, n, d, codes, scales,
                                                                        status);
  });
}

int vec_cuda_int8_decode(const int8_t *codes, const float *scales, size_t n, size_t d, float *out,
                         void *stream) {
  int rc = check_rows(codes, out, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  if (scales == nullptr) return VEC_E_INVALID_ARG;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  int8_decode_kernel<<<grid_elems(n * d), 256, 0, st>>>(codes, scales, n, d, out);
  CUDA_TRY(cudaGetLastError());
  return VEC_OK;
}

int vec_cuda_int4_encode(const float *x, size_t n, size_t d, size_t g, uint8_t *codes,
                         float *scales, void *stream) {
  int rc = check_rows(x, codes, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  g = i4_group(d, g);
  if (scales == nullptr || (g < d && g % 2 != 0)) return VEC_E_INVALID_ARG;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  return run_checked(st, [&](unsigned long long *status) {
    int4_encode_kernel<<<grid_rows(n), kRowsPerBlock * kWarp, 0, st>>>(x, n, d, g, codes, scales,
                                                                        status);
  });
}

int vec_cuda_int4_decode(const uint8_t *codes, const float *scales, size_t n, size_t d, size_t g,
                         float *out, void *stream) {
  int rc = check_rows(codes, out, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  g = i4_group(d, g);
  if (scales == nullptr || (g < d && g % 2 != 0)) return VEC_E_INVALID_ARG;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  int4_decode_kernel<<<grid_elems(n * d), 256, 0, st>>>(codes, scales, n, d, g, out);
  CUDA_TRY(cudaGetLastError());
  return VEC_OK;
}

int vec_cuda_binary_encode(const float *x, size_t n, size_t d, uint8_t *codes, void *stream) {
  int rc = check_rows(x, codes, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  return run_checked(st, [&](unsigned long long *status) {
    binary_encode_kernel<<<grid_rows(n), kRowsPerBlock * kWarp, 0, st>>>(x, n, d, codes, status);
  });
}

int vec_cuda_binary_decode(const uint8_t *codes, size_t n, size_t d, float *out, void *stream) {
  int rc = check_rows(codes, out, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  binary_decode_kernel<<<grid_elems(n * d), 256, 0, st>>>(codes, n, d, out);
  CUDA_TRY(cudaGetLastError());
  return VEC_OK;
}

int vec_cuda_half_encode(const float *x, size_t n, size_t d, int bf16, uint16_t *codes,
                         void *stream) {
  int rc = check_rows(x, codes, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  return run_checked(st, [&](unsigned long long *status) {
    half_encode_kernel<<<grid_rows(n), kRowsPerBlock * kWarp, 0, st>>>(x, n, d, bf16 != 0, codes,
                                                                        status);
  });
}

int vec_cuda_half_decode(const uint16_t *codes, size_t n, size_t d, int bf16, float *out,
                         void *stream) {
  int rc = check_rows(codes, out, n, d);
  if (rc != VEC_OK || n == 0) return rc;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  half_decode_kernel<<<grid_elems(n * d), 256, 0, st>>>(codes, n, d, bf16 != 0, out);
  CUDA_TRY(cudaGetLastError());
  return VEC_OK;
}

int vec_cuda_int8_search(const int8_t *codes, const float *scales, size_t n, size_t d,
                         const float *queries, size_t nq, size_t k, uint64_t *ids, float *scores,
                         void *stream) {
  if (d == 0 || d > 65536 || k == 0 || k > VEC_CUDA_MAX_K || nq > 65535) return VEC_E_INVALID_ARG;
  if (nq == 0) return VEC_OK;
  if (queries == nullptr || ids == nullptr || scores == nullptr) return VEC_E_INVALID_ARG;
  if (n > 0 && (codes == nullptr || scales == nullptr)) return VEC_E_INVALID_ARG;
  if (mul_overflows(n, d)) return VEC_E_OVERFLOW;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  int8_t *qc = nullptr;
  float *qs = nullptr;
  CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(&qc), nq * d, st));
  cudaError_t e = cudaMallocAsync(reinterpret_cast<void **>(&qs), nq * sizeof(float), st);
  if (e != cudaSuccess) {
    cudaFreeAsync(qc, st);
    return cuda_fail(e);
  }
  int rc = vec_cuda_int8_encode(queries, nq, d, qc, qs, stream);
  if (rc == VEC_OK) {
    size_t qbytes = (d + 3) / 4 * 4;
    rc = run_search(n, nq, k, 0, ids, scores, st, qbytes,
                    [&](dim3 grid, size_t smem, size_t rpb, Cand *part, bool big) {
                      if (big) {
                        cudaError_t a = cudaFuncSetAttribute(
                            int8_search_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)smem);
                        if (a != cudaSuccess) return a;
                      }
                      int8_search_kernel<<<grid, kTopkThreads, smem, st>>>(
                          codes, scales, n, d, qc, qs, (int)k, rpb, part);
                      return cudaSuccess;
                    });
  }
  cudaFreeAsync(qc, st);
  cudaFreeAsync(qs, st);
  return rc;
}

int vec_cuda_binary_search(const uint8_t *codes, size_t n, size_t d, const uint8_t *queries,
                           size_t nq, size_t k, uint64_t *ids, float *scores, void *stream) {
  if (d == 0 || d > 65536 * 8 || k == 0 || k > VEC_CUDA_MAX_K || nq > 65535)
    return VEC_E_INVALID_ARG;
  if (nq == 0) return VEC_OK;
  if (queries == nullptr || ids == nullptr || scores == nullptr) return VEC_E_INVALID_ARG;
  if (n > 0 && codes == nullptr) return VEC_E_INVALID_ARG;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  size_t nb = (d + 7) / 8;
  return run_search(n, nq, k, 1, ids, scores, st, nb,
                    [&](dim3 grid, size_t smem, size_t rpb, Cand *part, bool big) {
                      if (big) {
                        cudaError_t a = cudaFuncSetAttribute(
                            binary_search_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)smem);
                        if (a != cudaSuccess) return a;
                      }
                      binary_search_kernel<<<grid, kTopkThreads, smem, st>>>(codes, n, d, queries,
                                                                             (int)k, rpb, part);
                      return cudaSuccess;
                    });
}

} // extern "C"
