/* dispatch.c: CPU feature detection and the one place that chooses kernels: it fills the
 * vec_kernels table (kernels.h) from the instruction set and its sub-features, once per setting,
 * overridable by VECTRO_DISABLE_CPU_FEATURES, vec_set_isa() and vec_disable_cpu_features(). */
#define _GNU_SOURCE /* getauxval */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "search_wide_kernels.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define VEC_X86 1
#elif defined(__aarch64__) && !defined(__ARM_FEATURE_CRC32)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

#if defined(VEC_X86)
static uint64_t read_xcr0(void) {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((uint64_t)edx << 32) | eax;
}

static unsigned detect(void) {
  unsigned a, b, c, d, f = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  if ((c >> 20) & 1) f |= VEC_CPU_SSE42; /* CRC32C needs no AVX state */
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  int fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return f;
  uint64_t xcr0 = read_xcr0();
  int ymm_ok = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state saved by the OS */
  int zmm_ok = (xcr0 & 0xe6) == 0xe6; /* plus opmask and both halves of the ZMM state */
  if (!ymm_ok) return f;
  if (fma) f |= VEC_CPU_FMA;
  if (f16c) f |= VEC_CPU_F16C;
  if (__get_cpuid_max(0, NULL) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  if ((b >> 5) & 1) f |= VEC_CPU_AVX2;
  if (zmm_ok) {
    if ((b >> 16) & 1) f |= VEC_CPU_AVX512F;
    if ((b >> 30) & 1) f |= VEC_CPU_AVX512BW;
    if ((b >> 31) & 1) f |= VEC_CPU_AVX512VL;
    if ((c >> 11) & 1) f |= VEC_CPU_AVX512VNNI;
    if ((c >> 14) & 1) f |= VEC_CPU_AVX512VPOPCNTDQ;
    __cpuid_count(7, 1, a, b, c, d);
    if ((a >> 5) & 1) f |= VEC_CPU_AVX512BF16;
  }
  return f;
}
#elif defined(__aarch64__)
#if defined(__linux__)
#include <sys/auxv.h>
#endif
static unsigned detect(void) {
  unsigned f = VEC_CPU_NEON; /* architectural on AArch64 */
#if defined(__ARM_FEATURE_DOTPROD)
  f |= VEC_CPU_DOTPROD;
#elif defined(__linux__)
  if (getauxval(AT_HWCAP) & (1ul << 20)) f |= VEC_CPU_DOTPROD; /* HWCAP_ASIMDDP: SDOT / UDOT */
#endif
#if defined(__ARM_FEATURE_CRC32)
  f |= VEC_CPU_CRC32;
#else
  if (getauxval(AT_HWCAP) & HWCAP_CRC32) f |= VEC_CPU_CRC32;
#endif
  return f;
}
#else
static unsigned detect(void) { return 0; }
#endif

/* 0 = not detected yet; detected values always carry this bit so they are never 0. */
#define FEATURES_KNOWN (1u << 31)
static _Atomic unsigned g_features;

unsigned vec_cpu_features(void) {
  unsigned f = atomic_load_explicit(&g_features, memory_order_acquire);
  if (!f) {
    f = detect() | FEATURES_KNOWN;
    atomic_store_explicit(&g_features, f, memory_order_release);
  }
  return f & ~FEATURES_KNOWN;
}

int vec_isa_supported(vec_isa isa) {
  unsigned f = vec_cpu_features();
  switch (isa) {
  case VEC_ISA_SCALAR: return 1;
#if defined(VEC_HAVE_X86_KERNELS)
  case VEC_ISA_AVX2: return (f & (VEC_CPU_AVX2 | VEC_CPU_FMA)) == (VEC_CPU_AVX2 | VEC_CPU_FMA);
  case VEC_ISA_AVX512: {
    unsigned need =
        VEC_CPU_AVX2 | VEC_CPU_FMA | VEC_CPU_AVX512F | VEC_CPU_AVX512BW | VEC_CPU_AVX512VL;
    return (f & need) == need;
  }
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return (f & VEC_CPU_NEON) != 0;
#endif
  default: return 0;
  }
}

/* ---- Filling a table ---- */

static void fill_scalar(vec_kernels *k) {
  k->isa = VEC_ISA_SCALAR;
  k->int8 = (vec_int8_kernels){vec_int8_encode_scalar, vec_int8_decode_scalar};
  k->intq = (vec_intq_kernels){vec_intq_encode_i16_scalar, vec_intq_decode_i16_scalar,
                               vec_intq_encode_i4_scalar, vec_intq_decode_i4_scalar};
  k->half = (vec_half_kernels){vec_half_encode_f16_scalar, vec_half_decode_f16_scalar,
                               vec_half_encode_bf16_scalar, vec_half_decode_bf16_scalar};
  k->cal = (vec_cal_kernels){vec_cal_encode_scalar, vec_cal_decode_scalar, vec_cal_unpack_scalar};
  k->binary = (vec_binary_kernels){vec_binary_encode_scalar, vec_binary_decode_scalar};
  k->score = vec_score_table_scalar;
  k->search = (vec_search_kernels){vec_search_dots_scalar};
  k->rabitq = (vec_rabitq_kernels){vec_rabitq_eval_scalar, vec_rabitq_evaln_scalar,
                                   vec_rabitq_sum_scalar,  vec_rabitq_dot_scalar,
                                   vec_rabitq_dot1_scalar, vec_rabitq_unpack_scalar,
                                   vec_rabitq_sign_scalar};
  k->pq = (vec_pq_kernels){vec_pq_scan4_scalar, vec_pq_scanq4_scalar, vec_pq_pack4_scalar};
  k->kmeans = (vec_kmeans_kernels){vec_kmeans_assign_scalar};
  k->rotation = (vec_rotation_kernels){vec_rotation_fwht_scalar, vec_rotation_vmul_scalar,
                                       vec_rotation_kac_scalar};
  k->crc = (vec_crc_kernels){vec_crc_update_scalar};
}

#if defined(VEC_HAVE_X86_KERNELS)
static void fill_avx2(vec_kernels *k, unsigned f) {
  k->isa = VEC_ISA_AVX2;
  k->int8 = (vec_int8_kernels){vec_int8_encode_avx2, vec_int8_decode_avx2};
  k->intq = (vec_intq_kernels){vec_intq_encode_i16_avx2, vec_intq_decode_i16_avx2,
                               vec_intq_encode_i4_avx2, vec_intq_decode_i4_avx2};
  k->half.encode_bf16 = vec_half_encode_bf16_avx2;
  k->half.decode_bf16 = vec_half_decode_bf16_avx2;
  if (f & VEC_CPU_F16C) { /* a CPUID bit of its own, which AVX2 does not imply */
    k->half.encode_f16 = vec_half_encode_f16_avx2;
    k->half.decode_f16 = vec_half_decode_f16_avx2;
  }
  k->cal = (vec_cal_kernels){vec_cal_encode_avx2, vec_cal_decode_avx2, vec_cal_unpack_avx2};
  k->binary = (vec_binary_kernels){vec_binary_encode_avx2, vec_binary_decode_avx2};
  k->score = vec_score_table_avx2;
  /* f16 / bf16 / int16 batches on a widened, transposed tile (same bits as the row-order entries,
   * which it calls for few queries). */
  k->score.f16 = vec_score_f16_tile_avx2;
  k->score.bf16 = vec_score_bf16_tile_avx2;
  k->score.i16 = vec_score_i16_tile_avx2;
  k->search = (vec_search_kernels){vec_search_dots_avx2};
  k->rabitq = (vec_rabitq_kernels){
      vec_rabitq_eval_avx2, vec_rabitq_evaln_avx2,  vec_rabitq_sum_avx2, vec_rabitq_dot_avx2,
      vec_rabitq_dot1_avx2, vec_rabitq_unpack_avx2, vec_rabitq_sign_avx2};
  /* AVX-512 machines keep these AVX2 kernels: a 512-bit fast scan (two code bytes a register, the
   * tables put in place by lane shuffles) measured 9% slower on Zen 4 (pq-96x4, sample). */
  k->pq = (vec_pq_kernels){vec_pq_scan4_avx2, vec_pq_scanq4_avx2, vec_pq_pack4_avx2};
  k->kmeans = (vec_kmeans_kernels){vec_kmeans_assign_avx2};
  k->rotation =
      (vec_rotation_kernels){vec_rotation_fwht_avx2, vec_rotation_vmul_avx2, vec_rotation_kac_avx2};
}

static void fill_avx512(vec_kernels *k, unsigned f) {
  fill_avx2(k, f); /* pq and rabitq's sign stay AVX2 */
  k->isa = VEC_ISA_AVX512;
  k->int8 = (vec_int8_kernels){vec_int8_encode_avx512, vec_int8_decode_avx512};
  k->intq = (vec_intq_kernels){vec_intq_encode_i16_avx512, vec_intq_decode_i16_avx512,
                               vec_intq_encode_i4_avx512, vec_intq_decode_i4_avx512};
  k->half.encode_bf16 = vec_half_encode_bf16_avx512;
  k->half.decode_bf16 = vec_half_decode_bf16_avx512;
  if (f & VEC_CPU_F16C) {
    k->half.encode_f16 = vec_half_encode_f16_avx512;
    k->half.decode_f16 = vec_half_decode_f16_avx512;
  }
  k->cal = (vec_cal_kernels){vec_cal_encode_avx512, vec_cal_decode_avx512, vec_cal_unpack_avx512};
  k->binary = (vec_binary_kernels){vec_binary_encode_avx512, vec_binary_decode_avx512};
  k->score = vec_score_table_avx512;
  /* f16 / bf16 / int16 batches on a widened, transposed tile (same bits as the row-order entries,
   * which it calls for few queries). */
  k->score.f16 = vec_score_f16_tile_avx512;
  k->score.bf16 = vec_score_bf16_tile_avx512;
  k->score.i16 = vec_score_i16_tile_avx512;
  k->search = (vec_search_kernels){vec_search_dots_avx512};
  k->rabitq.eval = vec_rabitq_eval_avx512;
  k->rabitq.evaln = vec_rabitq_evaln_avx512;
  k->rabitq.sum = vec_rabitq_sum_avx512;
  k->rabitq.dot = (f & VEC_CPU_AVX512VNNI) ? vec_rabitq_dot_avx512vnni : vec_rabitq_dot_avx512;
  k->rabitq.dot1 = (f & VEC_CPU_AVX512VNNI)        ? vec_rabitq_dot1_avx512vnni
                   : (f & VEC_CPU_AVX512VPOPCNTDQ) ? vec_rabitq_dot1_avx512vpop
                                                   : vec_rabitq_dot1_avx512;
  k->rabitq.unpack = vec_rabitq_unpack_avx512;
  k->kmeans = (vec_kmeans_kernels){vec_kmeans_assign_avx512};
  k->rotation = (vec_rotation_kernels){vec_rotation_fwht_avx512, vec_rotation_vmul_avx512,
                                       vec_rotation_kac_avx512};
}
#endif

#if defined(VEC_HAVE_NEON_KERNELS)
static void fill_neon(vec_kernels *k) {
  k->isa = VEC_ISA_NEON;
  k->int8 = (vec_int8_kernels){vec_int8_encode_neon, vec_int8_decode_neon};
  k->intq = (vec_intq_kernels){vec_intq_encode_i16_neon, vec_intq_decode_i16_neon,
                               vec_intq_encode_i4_neon, vec_intq_decode_i4_neon};
  k->half = (vec_half_kernels){vec_half_encode_f16_neon, vec_half_decode_f16_neon,
                               vec_half_encode_bf16_neon, vec_half_decode_bf16_neon};
  k->cal = (vec_cal_kernels){vec_cal_encode_neon, vec_cal_decode_neon, vec_cal_unpack_neon};
  k->binary = (vec_binary_kernels){vec_binary_encode_neon, vec_binary_decode_neon};
  k->score = vec_score_table_neon;
  k->score.f16 = vec_score_f16_tile_neon; /* batches on a widened, transposed tile */
  k->score.bf16 = vec_score_bf16_tile_neon;
  k->score.i16 = vec_score_i16_tile_neon;
  /* search: NEON has no dot kernel of its own yet and keeps the scalar one. */
  k->rabitq = (vec_rabitq_kernels){
      vec_rabitq_eval_neon, vec_rabitq_evaln_neon,  vec_rabitq_sum_neon, vec_rabitq_dot_neon,
      vec_rabitq_dot1_neon, vec_rabitq_unpack_neon, vec_rabitq_sign_neon};
  k->pq = (vec_pq_kernels){vec_pq_scan4_neon, vec_pq_scanq4_neon, vec_pq_pack4_scalar};
  k->kmeans = (vec_kmeans_kernels){vec_kmeans_assign_neon};
  k->rotation =
      (vec_rotation_kernels){vec_rotation_fwht_neon, vec_rotation_vmul_neon, vec_rotation_kac_neon};
}
#endif

int vec_kernels_fill(vec_kernels *k, vec_isa isa, unsigned features) {
  unsigned f = features & vec_cpu_features();
  int ok = vec_isa_supported(isa) && isa != VEC_ISA_AUTO;
  memset(k, 0, sizeof *k);
  fill_scalar(k);
  k->features = f;
  if (ok) switch (isa) {
#if defined(VEC_HAVE_X86_KERNELS)
    case VEC_ISA_AVX2: fill_avx2(k, f); break;
    case VEC_ISA_AVX512: fill_avx512(k, f); break;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
    case VEC_ISA_NEON: fill_neon(k); break;
#endif
    default: break;
    }
  /* Optional score variants: switched off with their feature, so readers take the first non-NULL
   * entry and never look at the CPU themselves. */
  if (!(f & VEC_CPU_AVX512VNNI)) {
    k->score.i8_vnni = NULL;
    k->score.u8_vnni = NULL;
    k->score.i4_vnni = NULL;
  }
  if (!(f & VEC_CPU_AVX512VPOPCNTDQ)) k->score.b1_popcnt = NULL;
  if (!(f & VEC_CPU_DOTPROD)) {
    k->score.i8_dot = NULL;
    k->score.i4_dot = NULL;
  }
#if defined(VEC_HAVE_X86_KERNELS)
  if (!(f & VEC_CPU_F16C)) k->score.f16 = vec_score_table_scalar.f16;
#endif
  /* CRC-32C: the CPU's instructions serve every ISA, the scalar one included. */
#if defined(VEC_CRC_X86)
  if (f & VEC_CPU_SSE42) k->crc.update = vec_crc_update_sse42;
#elif defined(VEC_CRC_ARM)
  if (f & VEC_CPU_CRC32) k->crc.update = vec_crc_update_armv8;
#endif
  return ok;
}

/* ---- The settings, and the tables made for them ---- */

/* Names for VECTRO_DISABLE_CPU_FEATURES and vec_disable_cpu_features(). An instruction-set name
 * (isa != 0) caps the automatic choice only: vec_set_isa() can still force it, as the tests do.
 * A sub-feature name (bits != 0) switches its kernels off whatever the instruction set. */
typedef struct {
  const char *name;
  unsigned bits; /* VEC_CPU_* sub-features switched off */
  unsigned isas; /* 1 << vec_isa: instruction sets taken out of the automatic choice */
} feature_name;

#define ISA_BIT(i) (1u << (i))
#define SUB_ALL                                                                                    \
  (VEC_CPU_F16C | VEC_CPU_AVX512VNNI | VEC_CPU_AVX512VPOPCNTDQ | VEC_CPU_AVX512BF16 |              \
   VEC_CPU_SSE42 | VEC_CPU_CRC32 | VEC_CPU_DOTPROD)
static const feature_name feature_names[] = {
    {"all", SUB_ALL, ISA_BIT(VEC_ISA_AVX2) | ISA_BIT(VEC_ISA_AVX512) | ISA_BIT(VEC_ISA_NEON)},
    {"avx2", 0, ISA_BIT(VEC_ISA_AVX2) | ISA_BIT(VEC_ISA_AVX512)}, /* AVX-512 builds on AVX2 */
    {"fma", 0, ISA_BIT(VEC_ISA_AVX2) | ISA_BIT(VEC_ISA_AVX512)},
    {"avx512", 0, ISA_BIT(VEC_ISA_AVX512)},
    {"zmm", 0, ISA_BIT(VEC_ISA_AVX512)},
    {"avx512f", 0, ISA_BIT(VEC_ISA_AVX512)},
    {"avx512bw", 0, ISA_BIT(VEC_ISA_AVX512)},
    {"avx512vl", 0, ISA_BIT(VEC_ISA_AVX512)},
    {"neon", 0, ISA_BIT(VEC_ISA_NEON)},
    {"f16c", VEC_CPU_F16C, 0},
    {"vnni", VEC_CPU_AVX512VNNI, 0},
    {"avx512vnni", VEC_CPU_AVX512VNNI, 0},
    {"vpopcntdq", VEC_CPU_AVX512VPOPCNTDQ, 0},
    {"avx512vpopcntdq", VEC_CPU_AVX512VPOPCNTDQ, 0},
    {"bf16", VEC_CPU_AVX512BF16, 0},
    {"avx512bf16", VEC_CPU_AVX512BF16, 0},
    {"sse4.2", VEC_CPU_SSE42, 0},
    {"sse42", VEC_CPU_SSE42, 0},
    {"crc32", VEC_CPU_SSE42 | VEC_CPU_CRC32, 0},
    {"dotprod", VEC_CPU_DOTPROD, 0},
};

/* Parses a comma list into *bits and *isas. Returns the first unknown name's start (its length in
 * *bad_len), or NULL when every name is known; unknown names are skipped. Blanks around names are
 * ignored. */
static const char *parse_list(const char *list, unsigned *bits, unsigned *isas, size_t *bad_len) {
  const char *bad = NULL;
  *bits = *isas = 0;
  for (const char *p = list; p && *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len && *p == ' ') p++, len--;
    while (len && p[len - 1] == ' ') len--;
    if (len) {
      size_t i = 0, n = sizeof feature_names / sizeof feature_names[0];
      for (; i < n; i++)
        if (strlen(feature_names[i].name) == len && strncmp(p, feature_names[i].name, len) == 0)
          break;
      if (i < n) {
        *bits |= feature_names[i].bits;
        *isas |= feature_names[i].isas;
      } else if (!bad) {
        bad = p;
        *bad_len = len;
      }
    }
    if (!e) break;
    p = e + 1;
  }
  return bad;
}

/* Tables are kept, never rewritten while they may be read: a configuration gets a slot the first
 * time it is used (a handful in any process; tests use about a dozen). Past SLOTS distinct
 * configurations the oldest slot is reused, which is safe as long as vec_set_isa() does not race
 * with running batches, as vectro.h asks. */
#define SLOTS 48
static vec_kernels g_slots[SLOTS];
static unsigned g_used, g_next;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(const vec_kernels *) g_active;

/* The settings (under g_lock): read from the environment on first use, then changed by the API. */
static int g_settings_known;
static unsigned g_off_bits, g_off_isas;
static vec_isa g_forced = VEC_ISA_AUTO;

static void load_env(void) {
  if (g_settings_known) return;
  g_settings_known = 1;
  size_t bad_len;
  /* Unknown names in the variable are skipped (the library never prints); the API reports them. */
  (void)parse_list(getenv("VECTRO_DISABLE_CPU_FEATURES"), &g_off_bits, &g_off_isas, &bad_len);
}

static vec_isa best_isa(void) {
  const vec_isa order[] = {VEC_ISA_AVX512, VEC_ISA_AVX2, VEC_ISA_NEON};
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (!(g_off_isas & ISA_BIT(order[i])) && vec_isa_supported(order[i])) return order[i];
  return VEC_ISA_SCALAR;
}

/* The table for the current settings (under g_lock). */
static const vec_kernels *table_locked(void) {
  load_env();
  vec_isa isa = g_forced == VEC_ISA_AUTO ? best_isa() : g_forced;
  unsigned f = vec_cpu_features() & ~g_off_bits;
  for (unsigned i = 0; i < g_used; i++)
    if (g_slots[i].isa == isa && g_slots[i].features == f) return &g_slots[i];
  vec_kernels *k = &g_slots[g_next];
  g_next = (g_next + 1) % SLOTS;
  if (g_used < SLOTS) g_used++;
  vec_kernels_fill(k, isa, f);
  return k;
}

static void reselect_locked(void) {
  atomic_store_explicit(&g_active, table_locked(), memory_order_release);
}

const vec_kernels *vec_kernels_get(void) {
  const vec_kernels *k = atomic_load_explicit(&g_active, memory_order_acquire);
  if (VEC_LIKELY(k != NULL)) return k;
  pthread_mutex_lock(&g_lock);
  k = atomic_load_explicit(&g_active, memory_order_acquire);
  if (!k) {
    k = table_locked();
    atomic_store_explicit(&g_active, k, memory_order_release);
  }
  pthread_mutex_unlock(&g_lock);
  return k;
}

vec_isa vec_active_isa(void) { return vec_kernels_get()->isa; }

unsigned vec_active_cpu_features(void) { return vec_kernels_get()->features; }

int vec_set_isa(vec_isa isa) {
  vec_clear_error();
  if (isa != VEC_ISA_AUTO && !vec_isa_supported(isa))
    return vec_fail(VEC_E_UNSUPPORTED, -1,
                    "instruction set '%s' is not available on this CPU/build", vec_isa_name(isa));
  pthread_mutex_lock(&g_lock);
  load_env();
  g_forced = isa;
  reselect_locked();
  pthread_mutex_unlock(&g_lock);
  return VEC_OK;
}

int vec_disable_cpu_features(const char *list) {
  vec_clear_error();
  unsigned bits, isas;
  size_t bad_len = 0;
  const char *bad = parse_list(list ? list : "", &bits, &isas, &bad_len);
  if (bad)
    return vec_fail(
        VEC_E_INVALID_ARG, -1,
        "unknown CPU feature '%.*s' (known: all, avx2, fma, avx512, zmm, avx512f, "
        "avx512bw, avx512vl, neon, f16c, vnni, vpopcntdq, bf16, sse4.2, crc32, dotprod)",
        (int)(bad_len > 40 ? 40 : bad_len), bad);
  pthread_mutex_lock(&g_lock);
  g_settings_known = 1; /* replaces the environment variable's setting */
  g_off_bits = bits;
  g_off_isas = isas;
  reselect_locked();
  pthread_mutex_unlock(&g_lock);
  return VEC_OK;
}

int vec_score_i4_preferred(size_t d, size_t g) {
  vec_isa isa = vec_kernels_get()->isa;
  return g >= d || isa == VEC_ISA_NEON ||
         ((isa == VEC_ISA_AVX2 || isa == VEC_ISA_AVX512) && vec_score_i4g_fits(d, g));
}

const char *vec_isa_name(vec_isa isa) {
  switch (isa) {
  case VEC_ISA_SCALAR: return "scalar";
  case VEC_ISA_AVX2: return "avx2";
  case VEC_ISA_AVX512: return "avx512";
  case VEC_ISA_NEON: return "neon";
  case VEC_ISA_AUTO: return "auto";
  default: return "unknown";
  }
}
