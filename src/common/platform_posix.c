/* platform_posix.c: the platform layer (platform.h) on Linux, macOS and other POSIX systems: the
 * system calls themselves, EINTR retried where a caller would otherwise see it. */
#if !defined(_WIN32)
#define _GNU_SOURCE /* syscall, O_CLOEXEC, O_DIRECTORY, sched_getaffinity */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_DIRECTORY
#define O_DIRECTORY 0
#endif

#define MAX_LINKS 40 /* as the kernel's own limit on links followed in one lookup */

int vec_os_cpu_count(void) {
  int n = 0;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) {
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    n = c > 0 ? (c > INT_MAX ? INT_MAX : (int)c) : 1;
  }
  return n;
}

void *vec_os_aligned_alloc(size_t align, size_t size) {
  /* C11 wants size to be a multiple of align. */
  size_t padded = (size + align - 1) & ~(align - 1);
  if (padded < size) return NULL;
  return aligned_alloc(align, padded ? padded : align);
}
void vec_os_aligned_free(void *p) { free(p); }

void vec_os_random(void *buf, size_t n) {
  unsigned char *b = buf;
  /* The system call, not glibc's getrandom(): that needs glibc 2.25, newer than the manylinux2014
   * wheels' 2.17 (a kernel before 3.17 says ENOSYS, and the fallback below is used). */
#if defined(__linux__) && defined(SYS_getrandom)
  if (n <= 256 && syscall(SYS_getrandom, b, n, 1 /* GRND_NONBLOCK */) == (long)n) return;
#endif
  static _Atomic uint64_t counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 40) ^
               atomic_fetch_add(&counter, 0x9E3779B97F4A7C15ull);
  for (size_t i = 0; i < n; i++) { /* splitmix64 */
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    b[i] = (unsigned char)(z ^ (z >> 31));
  }
}

int vec_os_open_read(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }
int vec_os_create_excl(const char *path, unsigned mode) {
  return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
}
int vec_os_close(int fd) { return close(fd); }

ssize_t vec_os_pread(int fd, void *buf, size_t n, uint64_t off) {
  if (off > (uint64_t)INT64_MAX) return errno = EINVAL, -1;
  ssize_t k;
  do k = pread(fd, buf, n, (off_t)off);
  while (k < 0 && errno == EINTR);
  return k;
}
ssize_t vec_os_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
  if (off > (uint64_t)INT64_MAX) return errno = EINVAL, -1;
  ssize_t k;
  do k = pwrite(fd, buf, n, (off_t)off);
  while (k < 0 && errno == EINTR);
  return k;
}
ssize_t vec_os_write(int fd, const void *buf, size_t n) {
  ssize_t k;
  do k = write(fd, buf, n);
  while (k < 0 && errno == EINTR);
  return k;
}
int vec_os_fsync(int fd) { return fsync(fd); }

static void from_stat(const struct stat *s, vec_os_stat *st) {
  st->regular = S_ISREG(s->st_mode);
  st->dir = S_ISDIR(s->st_mode);
  st->mode = (unsigned)(s->st_mode & 07777);
  st->size = s->st_size > 0 ? (uint64_t)s->st_size : 0;
  st->dev = (uint64_t)s->st_dev, st->ino = (uint64_t)s->st_ino;
}
int vec_os_fstat(int fd, vec_os_stat *st) {
  struct stat s;
  if (fstat(fd, &s) != 0) return -1;
  from_stat(&s, st);
  return 0;
}
int vec_os_path_stat(const char *path, vec_os_stat *st) {
  struct stat s;
  if (stat(path, &s) != 0) return -1;
  from_stat(&s, st);
  return 0;
}
int vec_os_fchmod(int fd, unsigned mode) { return fchmod(fd, (mode_t)mode); }
int vec_os_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int vec_os_replace(const char *from, const char *to) { return rename(from, to); }
int vec_os_unlink(const char *path) { return unlink(path); }
int vec_os_sync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd) != 0 && errno != EINVAL ? -1 : 0, e = errno;
  close(fd);
  errno = e;
  return rc;
}
FILE *vec_os_fopen(const char *path, const char *mode) { return fopen(path, mode); }

/* Joins the directory part of `base` (up to its last '/') with `rel`. */
static char *join_dir(const char *base, const char *rel) {
  const char *slash = strrchr(base, '/');
  size_t dl = slash ? (size_t)(slash - base) + 1 : 0, rl = strlen(rel);
  char *s = malloc(dl + rl + 1);
  if (s) memcpy(s, base, dl), memcpy(s + dl, rel, rl + 1);
  return s;
}

int vec_os_resolve_links(const char *path, char **out) {
  char *cur = strdup(path);
  if (!cur) return VEC_E_NOMEM;
  for (int hops = 0;; hops++) {
    struct stat st;
    if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) break;
    if (hops == MAX_LINKS) {
      free(cur);
      errno = ELOOP;
      return VEC_E_IO;
    }
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : PATH_MAX;
    char *link = malloc(cap + 1);
    if (!link) {
      free(cur);
      return VEC_E_NOMEM;
    }
    ssize_t len = readlink(cur, link, cap);
    if (len < 0 || (size_t)len >= cap) { /* gone or changed meanwhile: use the path as it is */
      free(link);
      break;
    }
    link[len] = '\0';
    char *next = link[0] == '/' ? strdup(link) : join_dir(cur, link);
    free(link);
    free(cur);
    if (!next) return VEC_E_NOMEM;
    cur = next;
  }
  *out = cur;
  return VEC_OK;
}

int vec_os_map_read(int fd, uint64_t off, size_t len, vec_os_map *m) {
  memset(m, 0, sizeof *m);
  long page = sysconf(_SC_PAGESIZE);
  uint64_t start = off - off % (uint64_t)(page > 0 ? page : 4096);
  size_t span = (size_t)(off - start) + len;
  if (len == 0 || span < len || start > (uint64_t)INT64_MAX) return errno = EINVAL, -1;
  void *p = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, (off_t)start);
  if (p == MAP_FAILED) return -1;
  m->base = p, m->span = span;
  m->addr = (const unsigned char *)p + (off - start);
  return 0;
}
void vec_os_unmap(vec_os_map *m) {
  if (m->base) munmap(m->base, m->span);
  memset(m, 0, sizeof *m);
}

void vec_os_map_drop_pages(const vec_os_map *m) {
  if (m->base) madvise(m->base, m->span, MADV_DONTNEED);
}

int vec_os_open_rw(const char *path) { return open(path, O_RDWR | O_CLOEXEC); }
int vec_os_dup(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 0); }

int vec_os_lock_exclusive(int fd) {
  while (flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) return -1;
  return 0;
}

int vec_os_file_identity(const char *path, uint64_t *dev, uint64_t *ino) {
  struct stat s;
  if (stat(path, &s) != 0) return -1;
  *dev = (uint64_t)s.st_dev, *ino = (uint64_t)s.st_ino;
  return 0;
}
#endif
