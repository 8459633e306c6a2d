/* test_dispatch.c: ISA detection, forcing, and the VECTRO_DISABLE_CPU_FEATURES override. */
#include <stdlib.h>

#include "vectro.h"
#include "vtest.h"

static void force_each_isa(void) {
  int isas[4], ni = vt_isas(isas);
  CHECK(ni >= 1 && isas[0] == VEC_ISA_SCALAR);
  for (int k = 0; k < ni; k++) {
    CHECK(vec_set_isa((vec_isa)isas[k]) == VEC_OK);
    CHECK(vec_active_isa() == (vec_isa)isas[k]);
  }
  const vec_isa all[] = {VEC_ISA_AVX2, VEC_ISA_AVX512, VEC_ISA_NEON};
  for (int k = 0; k < 3; k++) {
    if (vec_isa_supported(all[k])) continue;
    vec_isa before = vec_active_isa();
    CHECK(vec_set_isa(all[k]) == VEC_E_UNSUPPORTED);
    CHECK(vec_active_isa() == before);
    CHECK(strstr(vec_last_error_message(), vec_isa_name(all[k])) != NULL);
  }
  CHECK(vec_set_isa((vec_isa)77) == VEC_E_UNSUPPORTED);
  CHECK(vec_set_isa(VEC_ISA_AUTO) == VEC_OK);
}

/* What the environment variable allows is what AUTO picks. */
static void env_override(void) {
  const char *off = getenv("VECTRO_DISABLE_CPU_FEATURES");
  vec_isa active = vec_active_isa();
  if (!off || !*off) {
    vec_isa best = vec_isa_supported(VEC_ISA_AVX512) ? VEC_ISA_AVX512
                   : vec_isa_supported(VEC_ISA_AVX2) ? VEC_ISA_AVX2
                   : vec_isa_supported(VEC_ISA_NEON) ? VEC_ISA_NEON
                                                     : VEC_ISA_SCALAR;
    CHECK(active == best);
  } else if (strcmp(off, "all") == 0) {
    CHECK(active == VEC_ISA_SCALAR);
  } else if (strcmp(off, "avx512") == 0) {
    CHECK(active != VEC_ISA_AVX512);
    if (vec_isa_supported(VEC_ISA_AVX2)) CHECK(active == VEC_ISA_AVX2);
  }
}

static void features_consistent(void) {
  unsigned f = vec_cpu_features();
  if (f & VEC_CPU_AVX512F) CHECK(f & VEC_CPU_AVX2);
  if (vec_isa_supported(VEC_ISA_AVX512)) CHECK(f & VEC_CPU_AVX512BW);
  CHECK(strcmp(vec_isa_name(VEC_ISA_SCALAR), "scalar") == 0);
  CHECK(strcmp(vec_isa_name((vec_isa)99), "unknown") == 0);
  CHECK(vec_version_number() == VEC_VERSION_NUMBER);
  CHECK(strcmp(vec_version_string(), VEC_VERSION_STRING) == 0);
  for (int rc = 0; rc >= -12; rc--) CHECK(strcmp(vec_strerror(rc), "unknown error") != 0);
  CHECK(strcmp(vec_strerror(-1000), "unknown error") == 0);
}

const vt_test dispatch_tests[] = {
    {"env_override", env_override}, /* first: before any test forces an ISA */
    {"force_each_isa", force_each_isa},
    {"features_consistent", features_consistent},
};
const size_t dispatch_count = sizeof dispatch_tests / sizeof dispatch_tests[0];
