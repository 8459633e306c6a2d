/* vtest_os.h: what the C tests need from POSIX, given on Windows (MinGW-w64, run under Wine or on
 * Windows) by small stand-ins; included by vtest.h after the system headers. Elsewhere it is empty.
 * Tests of what Windows does not have (symbolic links, FIFOs, permission bits) call
 * VT_SKIP_ON_WINDOWS first and are reported as skipped there. */
#ifndef VTEST_OS_H
#define VTEST_OS_H

extern int vt_skipped;
void vt_skip(const char *why);
#if defined(_WIN32)
#define VT_SKIP_ON_WINDOWS(why)                                                                    \
  do {                                                                                             \
    vt_skip(why);                                                                                  \
    return;                                                                                        \
  } while (0)
#else
#define VT_SKIP_ON_WINDOWS(why) ((void)0)
#endif

#if defined(_WIN32)
#include <direct.h>
#include <errno.h>
#include <io.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <wchar.h>

/* aligned_alloc (absent from the Windows CRT): _aligned_malloc memory, which only _aligned_free
 * may release, so the tests' free() looks the pointer up first. Tests allocate from one thread. */
#define VT_ALIGNED_MAX 4096
extern void *vt_aligned_live[VT_ALIGNED_MAX];
static inline void *vt_aligned_alloc(size_t align, size_t size) {
  void *p = _aligned_malloc(size ? size : 1, align);
  for (size_t i = 0; p && i < VT_ALIGNED_MAX; i++)
    if (!vt_aligned_live[i]) return vt_aligned_live[i] = p;
  _aligned_free(p);
  return NULL;
}
static inline void vt_free(void *p) {
  for (size_t i = 0; p && i < VT_ALIGNED_MAX; i++)
    if (vt_aligned_live[i] == p) {
      vt_aligned_live[i] = NULL;
      _aligned_free(p);
      return;
    }
  free(p);
}
#define aligned_alloc(a, n) vt_aligned_alloc(a, n)
#define free(p)             vt_free(p)

/* mkdtemp: a fresh directory named from the template's trailing XXXXXX. */
static inline char *vt_mkdtemp(char *t) {
  size_t n = strlen(t);
  if (n < 6 || strcmp(t + n - 6, "XXXXXX") != 0) return errno = EINVAL, NULL;
  static const char a[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int tries = 0; tries < 100; tries++) {
    for (size_t i = n - 6; i < n; i++) t[i] = a[rand() % 36];
    if (_mkdir(t) == 0) return t;
    if (errno != EEXIST) return NULL;
  }
  return NULL;
}
#define mkdtemp(t)  vt_mkdtemp(t)
#define mkdir(p, m) _mkdir(p)

/* unlink through the wide-character call: the ANSI one is limited to MAX_PATH (260) characters,
 * shorter than the long names the file tests write (the library itself uses wide paths). */
static inline int vt_unlink(const char *p) {
  wchar_t w[1024];
  size_t n = mbstowcs(w, p, 1024);
  if (n == (size_t)-1 || n == 1024) return errno = ENAMETOOLONG, -1;
  return _wunlink(w);
}
#define unlink(p) vt_unlink(p)

/* The tests' `rm -rf 'DIR'` cleanup, done here (cmd.exe has no rm): the directory's files, then
 * the directory (the tests make no subdirectories there). Other commands go to the system. */
#include <dirent.h>
static inline int vt_system(const char *cmd) {
  char dir[600], p[1200];
  size_t n;
  if (strncmp(cmd, "rm -rf '", 8) != 0 || (n = strlen(cmd + 8)) < 1 || n > sizeof dir ||
      cmd[8 + n - 1] != '\'')
    return system(cmd);
  memcpy(dir, cmd + 8, n - 1), dir[n - 1] = '\0';
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      vt_unlink(p);
    }
  if (d) closedir(d);
  return _rmdir(dir);
}
#define system(c) vt_system(c)

/* Never called: the tests using them skip first on Windows. */
#define S_ISLNK(m) 0
#ifndef S_ISFIFO
#define S_ISFIFO(m) 0
#endif
#define lstat(p, s) stat(p, s)
static inline int symlink(const char *to, const char *from) {
  (void)to, (void)from;
  return errno = ENOSYS, -1;
}
static inline int mkfifo(const char *p, int mode) {
  (void)p, (void)mode;
  return errno = ENOSYS, -1;
}
#endif

#endif
