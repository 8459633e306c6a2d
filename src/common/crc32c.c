/* crc32c.c: CRC-32C (Castagnoli, reflected 0x82F63B78), the checksum of every serialized
 * structure and of .vqz blocks. The byte-table version is the reference; the CPU's own CRC32C
 * instructions (SSE4.2 on x86-64, the ARMv8 CRC extension on AArch64) are chosen once at run time
 * and give the same values, which the tests check on odd lengths and alignments. */
#define _GNU_SOURCE /* getauxval */
#include <pthread.h>
#include <string.h>

#include "../codecs/codec_impl.h"
#include "../io/vqz_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <nmmintrin.h>
#define VEC_CRC_X86 1
#elif defined(__aarch64__) && defined(__GNUC__)
#include <arm_acle.h>
#if !defined(__ARM_FEATURE_CRC32)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#define VEC_CRC_ARM 1
#endif

#define POLY 0x82F63B78u

static uint32_t table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static uint32_t (*crc_impl)(uint32_t, const unsigned char *, size_t);

static uint32_t crc_table(uint32_t crc, const unsigned char *p, size_t size) {
  crc = ~crc;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

#if defined(VEC_CRC_X86)
/* One dependent crc32q per 8 bytes: about 8 bytes per 3 cycles, some 10x the table. Only this
 * function gets SSE4.2 code, so the rest of the library keeps the baseline instruction set. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const unsigned char *p,
                                                         size_t size) {
  uint64_t c = ~crc & 0xffffffffu;
  for (; size && ((uintptr_t)p & 7); size--) c = _mm_crc32_u8((uint32_t)c, *p++);
  for (; size >= 8; size -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8); /* aligned here; memcpy keeps it free of aliasing assumptions */
    c = _mm_crc32_u64(c, v);
  }
  for (; size; size--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return ~(uint32_t)c;
}

static int hw_available(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2);
}
#elif defined(VEC_CRC_ARM)
#if defined(__ARM_FEATURE_CRC32)
#define CRC_ARM_ATTR
static int hw_available(void) { return 1; }
#else
/* Built for a baseline without the CRC extension: compile just this function with it and ask the
 * kernel (HWCAP) whether the CPU has it. */
#define CRC_ARM_ATTR __attribute__((target("+crc")))
static int hw_available(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#endif
CRC_ARM_ATTR static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t size) {
  uint32_t c = ~crc;
  for (; size && ((uintptr_t)p & 7); size--) c = __crc32cb(c, *p++);
  for (; size >= 8; size -= 8, p += 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __crc32cd(c, v);
  }
  for (; size; size--) c = __crc32cb(c, *p++);
  return ~c;
}
#endif

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    table[i] = c;
  }
  crc_impl = crc_table;
#if defined(VEC_CRC_X86) || defined(VEC_CRC_ARM)
  if (hw_available()) crc_impl = crc_hw;
#endif
}

uint32_t vec_crc32c(uint32_t crc, const void *data, size_t size) {
  pthread_once(&crc_once, crc_init);
  return crc_impl(crc, data, size);
}

uint32_t vec_crc32c_table(uint32_t crc, const void *data, size_t size) {
  pthread_once(&crc_once, crc_init);
  return crc_table(crc, data, size);
}

int vec_crc32c_hw(uint32_t *crc, const void *data, size_t size) {
  pthread_once(&crc_once, crc_init);
#if defined(VEC_CRC_X86) || defined(VEC_CRC_ARM)
  if (hw_available()) {
    *crc = crc_hw(*crc, data, size);
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
