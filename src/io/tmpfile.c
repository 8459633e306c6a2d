/* tmpfile.c: the temporary files writers rename into place (see tmpfile.h): link resolution,
 * unpredictable O_EXCL names that fit NAME_MAX, and the mode of the file being replaced. */
#define _GNU_SOURCE /* getrandom, O_CLOEXEC, O_DIRECTORY */
#include "tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#define MAX_LINKS 40  /* as the kernel's own limit on links followed in one lookup */
#define RAND_LEN  8   /* 36^8 names: guessing one is hopeless, and O_EXCL catches a collision */
#define NAME_CAP  255 /* NAME_MAX of every common file system; a temporary's name stays within */

/* Joins the directory part of `base` (up to its last '/') with `rel`. */
static char *join_dir(const char *base, const char *rel) {
  const char *slash = strrchr(base, '/');
  size_t dl = slash ? (size_t)(slash - base) + 1 : 0, rl = strlen(rel);
  char *s = malloc(dl + rl + 1);
  if (s) memcpy(s, base, dl), memcpy(s + dl, rel, rl + 1);
  return s;
}

/* Follows symbolic links in the last component of path (a dangling link resolves to where it
 * points, so the file is created there, as open(O_CREAT) would). *out is malloc'd. */
static int resolve_links(const char *path, char **out) {
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

/* Random bytes from the kernel; where that fails, a mix of the clock, the pid and a counter (still
 * unique per call, and O_EXCL makes any collision a retry, not a failure). */
static void random_bytes(unsigned char *b, size_t n) {
#if defined(__linux__)
  if (getrandom(b, n, GRND_NONBLOCK) == (ssize_t)n) return;
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

int vec_tmpfile_create(const char *path, char **target, char **tmp, int *fd) {
  *target = *tmp = NULL;
  *fd = -1;
  char *t = NULL;
  int rc = resolve_links(path, &t);
  if (rc == VEC_E_NOMEM) return vec_fail(rc, -1, "out of memory");
  if (rc) return vec_fail_os(errno, "cannot write '%s': %s", path, strerror(errno));
  /* The temporary is ".<name>.<random>.tmp" beside the target: hidden, recognisable, and with the
   * name cut so the whole stays within NAME_CAP however long the target's name is. */
  const char *slash = strrchr(t, '/');
  const char *base = slash ? slash + 1 : t;
  size_t dl = (size_t)(base - t), bl = strlen(base), extra = 1 + 1 + RAND_LEN + 4;
  size_t keep = bl + extra > NAME_CAP ? NAME_CAP - extra : bl;
  char *name = malloc(dl + keep + extra + 1);
  if (!name) {
    free(t);
    return vec_fail(VEC_E_NOMEM, -1, "out of memory");
  }
  struct stat old;
  int exists = stat(t, &old) == 0, replacing = exists && S_ISREG(old.st_mode);
  /* Renaming over a device, pipe, socket or directory would replace it: as root, writing to
   * /dev/null would turn it into a plain file for every process on the machine. */
  if (exists && !replacing) {
    rc = vec_fail(VEC_E_IO, -1,
                  "cannot write '%s': it is not a regular file (a device, pipe or directory); "
                  "vectro publishes a finished file by renaming it over the target",
                  path);
    free(t), free(name);
    return rc;
  }
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int f = -1, err = 0;
  for (int attempt = 0; attempt < 100; attempt++) {
    unsigned char r[RAND_LEN];
    char suffix[RAND_LEN + 1];
    random_bytes(r, sizeof r);
    for (size_t i = 0; i < RAND_LEN; i++) suffix[i] = alphabet[r[i] % 36];
    suffix[RAND_LEN] = '\0';
    snprintf(name, dl + keep + extra + 1, "%.*s.%.*s.%s.tmp", (int)dl, t, (int)keep, base, suffix);
    /* 0666 narrowed by the umask, as for any file the process creates; O_EXCL never follows a
     * link planted under this name and never reuses a stale file. */
    f = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (f >= 0 || errno != EEXIST) break;
  }
  err = errno;
  if (f < 0) {
    rc = vec_fail_os(err, "cannot create a temporary file next to '%s': %s", path, strerror(err));
    free(t), free(name);
    return rc;
  }
  /* Replacing a file keeps its permission bits (a private 0600 file stays private). */
  if (replacing && fchmod(f, old.st_mode & 07777) != 0) {
    err = errno;
    close(f);
    unlink(name);
    rc = vec_fail_os(err, "cannot give the new '%s' the mode of the old one: %s", path,
                     strerror(err));
    free(t), free(name);
    return rc;
  }
  *target = t, *tmp = name, *fd = f;
  return VEC_OK;
}
