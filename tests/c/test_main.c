/* test_main.c: runs the registered C tests (all, or the groups named on the command line). */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "vectro.h"
#include "vtest.h"

int vt_failed_checks;
int vt_skipped;
#if defined(_WIN32)
void *vt_aligned_live[VT_ALIGNED_MAX];
#endif

void vt_skip(const char *why) {
  vt_skipped++;
  printf("  skipped: %s\n", why);
}

void vt_report(const char *file, int line, const char *expr) {
  vt_failed_checks++;
  fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
}

#if defined(_WIN32)
void *vt_guarded_alloc(size_t bytes, void **handle, size_t *handle_size) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  size_t page = si.dwPageSize;
  size_t data_pages = (bytes + page - 1) / page;
  size_t total = (data_pages + 1) * page;
  char *base = VirtualAlloc(NULL, total, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  DWORD old;
  if (!base) return NULL;
  VirtualProtect(base + data_pages * page, page, PAGE_NOACCESS, &old);
  *handle = base;
  *handle_size = total;
  return base + data_pages * page - bytes;
}

void vt_guarded_free(void *handle, size_t handle_size) {
  (void)handle_size;
  VirtualFree(handle, 0, MEM_RELEASE);
}
#else
void *vt_guarded_alloc(size_t bytes, void **handle, size_t *handle_size) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t data_pages = (bytes + page - 1) / page;
  size_t total = (data_pages + 1) * page;
  char *base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return NULL;
  mprotect(base + data_pages * page, page, PROT_NONE);
  *handle = base;
  *handle_size = total;
  return base + data_pages * page - bytes;
}

void vt_guarded_free(void *handle, size_t handle_size) { munmap(handle, handle_size); }
#endif

int vt_isas(int *out) {
  int n = 0;
  const vec_isa all[] = {VEC_ISA_SCALAR, VEC_ISA_AVX2, VEC_ISA_AVX512, VEC_ISA_NEON};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (vec_isa_supported(all[i])) out[n++] = (int)all[i];
  return n;
}

#define GROUP(name)                                                                                \
  extern const vt_test name##_tests[];                                                             \
  extern const size_t name##_count;
GROUP(int8)
GROUP(engine)
GROUP(dispatch)
GROUP(codec)
GROUP(half)
GROUP(intq)
GROUP(binary)
GROUP(calibrated)
GROUP(vqz)
GROUP(readers)
GROUP(search)
GROUP(rotation)
GROUP(score)
GROUP(rabitq)
GROUP(kmeans)
GROUP(pq)
GROUP(hostile)
GROUP(files)
GROUP(forced)
GROUP(centre)
GROUP(index)
GROUP(platform)
GROUP(features)
GROUP(names)
GROUP(search_wide)

int main(int argc, char **argv) {
  struct {
    const char *name;
    const vt_test *tests;
    size_t count;
  } groups[] = {{"int8", int8_tests, int8_count},
                {"engine", engine_tests, engine_count},
                {"dispatch", dispatch_tests, dispatch_count},
                {"codec", codec_tests, codec_count},
                {"half", half_tests, half_count},
                {"intq", intq_tests, intq_count},
                {"binary", binary_tests, binary_count},
                {"calibrated", calibrated_tests, calibrated_count},
                {"vqz", vqz_tests, vqz_count},
                {"readers", readers_tests, readers_count},
                {"search", search_tests, search_count},
                {"rotation", rotation_tests, rotation_count},
                {"score", score_tests, score_count},
                {"rabitq", rabitq_tests, rabitq_count},
                {"kmeans", kmeans_tests, kmeans_count},
                {"pq", pq_tests, pq_count},
                {"hostile", hostile_tests, hostile_count},
                {"files", files_tests, files_count},
                {"forced", forced_tests, forced_count},
                {"centre", centre_tests, centre_count},
                {"index", index_tests, index_count},
                {"platform", platform_tests, platform_count},
                {"features", features_tests, features_count},
                {"names", names_tests, names_count},
                {"search_wide", search_wide_tests, search_wide_count}};
  const size_t ngroups = sizeof groups / sizeof groups[0];
  for (int a = 1; a < argc; a++) { /* a misspelt group must not pass by running nothing */
    size_t g = 0;
    while (g < ngroups && strcmp(argv[a], groups[g].name) != 0) g++;
    if (g == ngroups) {
      fprintf(stderr, "test_vectro: no test group '%s'\n", argv[a]);
      return 2;
    }
  }
  int passed = 0, failed = 0;
  printf("vectro %s, active kernels: %s\n", vec_version_string(), vec_isa_name(vec_active_isa()));
  for (size_t g = 0; g < ngroups; g++) {
    int selected = argc < 2;
    for (int a = 1; a < argc; a++) selected |= strcmp(argv[a], groups[g].name) == 0;
    if (!selected) continue;
    for (size_t t = 0; t < groups[g].count; t++) {
      int before = vt_failed_checks, skipped = vt_skipped;
      groups[g].tests[t].fn();
      vec_set_isa(VEC_ISA_AUTO); /* a test that forced an ISA must not leak it */
      int ok = vt_failed_checks == before;
      int skip = ok && vt_skipped != skipped;
      printf("%s %s.%s\n",
             !ok    ? "FAIL"
             : skip ? "skip"
                    : "ok  ",
             groups[g].name, groups[g].tests[t].name);
      if (!skip) ok ? passed++ : failed++;
    }
  }
  if (vt_skipped)
    printf("%d passed, %d failed, %d skipped\n", passed, failed, vt_skipped);
  else
    printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
