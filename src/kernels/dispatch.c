/* dispatch.c: CPU feature detection and the choice of kernel table, made once and overridable by
 * VECTRO_DISABLE_CPU_FEATURES or vec_set_isa(). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define VEC_X86 1
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
  int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  int fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return 0;
  uint64_t xcr0 = read_xcr0();
  int ymm_ok = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state saved by the OS */
  int zmm_ok = (xcr0 & 0xe6) == 0xe6; /* plus opmask and both halves of the ZMM state */
  if (!ymm_ok) return 0;
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
  return f;
}
#else
static unsigned detect(void) { return 0; }
#endif

/* 0 = not detected yet; detected values always carry this bit so they are never 0. */
#define FEATURES_KNOWN (1u << 31)
static _Atomic unsigned g_features;
static _Atomic(const vec_kernels *) g_active;

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
    unsigned need = VEC_CPU_AVX512F | VEC_CPU_AVX512BW | VEC_CPU_AVX512VL;
    return (f & need) == need;
  }
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return (f & VEC_CPU_NEON) != 0;
#endif
  default: return 0;
  }
}

static const vec_kernels *table_for(vec_isa isa) {
  switch (isa) {
#if defined(VEC_HAVE_X86_KERNELS)
  case VEC_ISA_AVX2: return &vec_kernels_avx2;
  case VEC_ISA_AVX512: return &vec_kernels_avx512;
#endif
#if defined(VEC_HAVE_NEON_KERNELS)
  case VEC_ISA_NEON: return &vec_kernels_neon;
#endif
  default: return &vec_kernels_scalar;
  }
}

/* Does the comma-separated list `list` name `word` (or "all")? */
static int list_has(const char *list, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    while (len && (*p == ' ')) p++, len--;
    while (len && p[len - 1] == ' ') len--;
    if ((len == wl && strncmp(p, word, wl) == 0) || (len == 3 && strncmp(p, "all", 3) == 0))
      return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

static vec_isa best_isa(void) {
  const char *off = getenv("VECTRO_DISABLE_CPU_FEATURES");
  if (!off) off = "";
  /* Disabling avx2 disables avx512 too: our AVX-512 build assumes the AVX2 baseline. */
  int no_avx2 = list_has(off, "avx2"), no_avx512 = no_avx2 || list_has(off, "avx512");
  if (!no_avx512 && vec_isa_supported(VEC_ISA_AVX512)) return VEC_ISA_AVX512;
  if (!no_avx2 && vec_isa_supported(VEC_ISA_AVX2)) return VEC_ISA_AVX2;
  if (!list_has(off, "neon") && vec_isa_supported(VEC_ISA_NEON)) return VEC_ISA_NEON;
  return VEC_ISA_SCALAR;
}

const vec_kernels *vec_kernels_get(void) {
  const vec_kernels *k = atomic_load_explicit(&g_active, memory_order_acquire);
  if (VEC_LIKELY(k != NULL)) return k;
  /* Racing first calls compute the same table; whichever store lands is equivalent. */
  k = table_for(best_isa());
  atomic_store_explicit(&g_active, k, memory_order_release);
  return k;
}

vec_isa vec_active_isa(void) { return vec_kernels_get()->isa; }

int vec_set_isa(vec_isa isa) {
  vec_clear_error();
  if (isa == VEC_ISA_AUTO) {
    atomic_store_explicit(&g_active, table_for(best_isa()), memory_order_release);
    return VEC_OK;
  }
  if (!vec_isa_supported(isa))
    return vec_fail(VEC_E_UNSUPPORTED, -1,
                    "instruction set '%s' is not available on this CPU/build", vec_isa_name(isa));
  atomic_store_explicit(&g_active, table_for(isa), memory_order_release);
  return VEC_OK;
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
