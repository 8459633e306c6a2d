/* crc32c.c: CRC-32C (Castagnoli, reflected 0x82F63B78), the checksum of every serialized
 * structure and of .vqz blocks. The byte-table version is the reference; the CPU's own CRC32C
 * instructions (SSE4.2 on x86-64, the ARMv8 CRC extension on AArch64) are the kernel table's crc
 * family where dispatch.c finds them, and give the same values, which the tests check on odd
 * lengths and alignments. */
#include <pthread.h>
#include <string.h>

#include "crc_kernels.h"
#include "kernels.h"

#if defined(VEC_CRC_X86)
#include <nmmintrin.h>
#elif defined(VEC_CRC_ARM)
#include <arm_acle.h>
#endif

#define POLY 0x82F63B78u

static uint32_t table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void);

uint32_t vec_crc_update_scalar(uint32_t crc, const void *data, size_t size) {
  pthread_once(&crc_once, crc_init);
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(VEC_CRC_X86) || defined(VEC_CRC_ARM)
/* The crc32 instruction has a latency of 3 cycles but a throughput of 1, so the hardware paths run
 * three independent lanes and join them: for raw CRC registers, crc(A || B) = shift_|B|(crc(A)) ^
 * crc0(B), where shift_n appends n zero bytes, a linear map applied here by 4 table lookups. */
#define LONG_LANE  8192
#define SHORT_LANE 256
static uint32_t shift_long[4][256], shift_short[4][256];

static uint32_t crc_shift(const uint32_t t[4][256], uint32_t c) {
  return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
}

static void build_shift(uint32_t t[4][256], uint64_t len) {
  uint32_t col[32]; /* the image of each bit: combine(x, 0, len) is the shift of x */
  for (int i = 0; i < 32; i++) col[i] = vec_crc32c_combine(1u << i, 0, len);
  for (int k = 0; k < 4; k++)
    for (uint32_t b = 0; b < 256; b++) {
      uint32_t v = 0;
      for (int i = 0; i < 8; i++)
        if (b >> i & 1) v ^= col[8 * k + i];
      t[k][b] = v;
    }
}

/* Three lanes of `lane` bytes at p, joined into the raw register c (STEP64 folds 8 bytes). */
#define CRC_THREE_LANES(STEP64, c, p, size, lane, tab)                                             \
  for (; size >= 3 * (size_t)(lane); p += 3 * (lane), size -= 3 * (size_t)(lane)) {                \
    uint64_t c1 = 0, c2 = 0;                                                                       \
    for (size_t i = 0; i < (lane); i += 8) {                                                       \
      uint64_t v0, v1, v2;                                                                         \
      memcpy(&v0, p + i, 8);                                                                       \
      memcpy(&v1, p + (lane) + i, 8);                                                              \
      memcpy(&v2, p + 2 * (lane) + i, 8);                                                          \
      c = STEP64(c, v0);                                                                           \
      c1 = STEP64(c1, v1);                                                                         \
      c2 = STEP64(c2, v2);                                                                         \
    }                                                                                              \
    c = crc_shift(tab, (uint32_t)c) ^ (uint32_t)c1;                                                \
    c = crc_shift(tab, (uint32_t)c) ^ (uint32_t)c2;                                                \
  }
#endif

#if defined(VEC_CRC_X86)
/* Three lanes of crc32q, then single steps for the tail. Only this function gets SSE4.2 code, so
 * the rest of the library keeps the baseline instruction set. "crc32" too: clang 22 no longer lets
 * target("sse4.2") alone inline _mm_crc32_u64. */
__attribute__((target("sse4.2,crc32"))) uint32_t vec_crc_update_sse42(uint32_t crc,
                                                                      const void *data,
                                                                      size_t size) {
  pthread_once(&crc_once, crc_init);
  const unsigned char *p = data;
  uint64_t c = ~crc & 0xffffffffu;
  for (; size && ((uintptr_t)p & 7); size--) c = _mm_crc32_u8((uint32_t)c, *p++);
  CRC_THREE_LANES(_mm_crc32_u64, c, p, size, LONG_LANE, shift_long)
  CRC_THREE_LANES(_mm_crc32_u64, c, p, size, SHORT_LANE, shift_short)
  for (; size >= 8; size -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8); /* aligned here; memcpy keeps it free of aliasing assumptions */
    c = _mm_crc32_u64(c, v);
  }
  for (; size; size--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return ~(uint32_t)c;
}
#elif defined(VEC_CRC_ARM)
#if defined(__ARM_FEATURE_CRC32)
#define CRC_ARM_ATTR
#else
/* Built for a baseline without the CRC extension: compile just this function with it (dispatch.c
 * asks the kernel, HWCAP, whether the CPU has it). */
#define CRC_ARM_ATTR __attribute__((target("+crc")))
#endif
CRC_ARM_ATTR uint32_t vec_crc_update_armv8(uint32_t crc, const void *data, size_t size) {
  pthread_once(&crc_once, crc_init);
  const unsigned char *p = data;
  uint64_t c = ~crc;
  for (; size && ((uintptr_t)p & 7); size--) c = __crc32cb((uint32_t)c, *p++);
#define ARM_STEP64(c_, v_) __crc32cd((uint32_t)(c_), (v_))
  CRC_THREE_LANES(ARM_STEP64, c, p, size, LONG_LANE, shift_long)
  CRC_THREE_LANES(ARM_STEP64, c, p, size, SHORT_LANE, shift_short)
#undef ARM_STEP64
  for (; size >= 8; size -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __crc32cd((uint32_t)c, v);
  }
  for (; size; size--) c = __crc32cb((uint32_t)c, *p++);
  return ~(uint32_t)c;
}
#endif

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[i] = c;
  }
#if defined(VEC_CRC_X86) || defined(VEC_CRC_ARM)
  build_shift(shift_long, LONG_LANE);
  build_shift(shift_short, SHORT_LANE);
#endif
}

uint32_t vec_crc32c(uint32_t crc, const void *data, size_t size) {
  return vec_kernels_get()->crc.update(crc, data, size);
}

uint32_t vec_crc32c_table(uint32_t crc, const void *data, size_t size) {
  return vec_crc_update_scalar(crc, data, size);
}

int vec_crc32c_hw(uint32_t *crc, const void *data, size_t size) {
#if defined(VEC_CRC_X86)
  if (vec_cpu_features() & VEC_CPU_SSE42) {
    *crc = vec_crc_update_sse42(*crc, data, size);
    return 1;
  }
#elif defined(VEC_CRC_ARM)
  if (vec_cpu_features() & VEC_CPU_CRC32) {
    *crc = vec_crc_update_armv8(*crc, data, size);
    return 1;
  }
#else
  (void)crc, (void)data, (void)size;
#endif
  return 0;
}

/* crc32c_combine below works on 32x32 matrices over GF(2): mat[i] is the image of bit i. */
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
  uint32_t sum = 0;
  for (; vec; vec >>= 1, mat++)
    if (vec & 1) sum ^= *mat;
  return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat) {
  for (int n = 0; n < 32; n++) sq[n] = gf2_times(mat, mat[n]);
}

/* zlib's crc32_combine with the Castagnoli polynomial: applies len2 zero bytes to crc1 by
 * repeated squaring of the one-zero-bit operator (O(log len2) matrix products), then adds crc2. */
uint32_t vec_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  if (len2 == 0) return crc1;
  uint32_t even[32], odd[32];
  odd[0] = POLY;
  for (int n = 1; n < 32; n++) odd[n] = 1u << (n - 1);
  gf2_square(even, odd); /* two zero bits */
  gf2_square(odd, even); /* four zero bits */
  do {
    gf2_square(even, odd); /* first pass: one zero byte */
    if (len2 & 1) crc1 = gf2_times(even, crc1);
    len2 >>= 1;
    if (!len2) break;
    gf2_square(odd, even);
    if (len2 & 1) crc1 = gf2_times(odd, crc1);
    len2 >>= 1;
  } while (len2);
  return crc1 ^ crc2;
}
