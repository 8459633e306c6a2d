/* crc32c.c: CRC-32C (Castagnoli, reflected 0x82F63B78), table-driven slicing by one byte.
 * The checksum of every serialized structure; a hardware (SSE4.2 / ARMv8 CRC) path can replace
 * this once files are large enough for it to matter. */
#include <pthread.h>

#include "../codecs/codec_impl.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    table[i] = c;
  }
}

uint32_t vec_crc32c(uint32_t crc, const void *data, size_t size) {
  pthread_once(&table_once, build_table);
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < size; i++) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}
