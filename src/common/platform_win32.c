/* platform_win32.c: the platform layer (platform.h) on Windows (MinGW-w64; MSVC-compatible calls
 * only): CRT descriptors over handles that allow rename and delete while open, positional I/O
 * through OVERLAPPED offsets, MoveFileExW for atomic replacement, file-mapping objects. */
#if defined(_WIN32)
#define WIN32_LEAN_AND_MEAN
#define _CRT_RAND_S /* rand_s: RtlGenRandom, the system's CSPRNG */
#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform.h"

/* errno for the last Win32 error, so callers' strerror(errno) messages stay meaningful. */
static int set_errno_from_win32(void) {
  switch (GetLastError()) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
  case ERROR_INVALID_DRIVE:
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME: errno = ENOENT; break;
  case ERROR_ACCESS_DENIED:
  case ERROR_SHARING_VIOLATION:
  case ERROR_LOCK_VIOLATION: errno = EACCES; break;
  case ERROR_FILE_EXISTS:
  case ERROR_ALREADY_EXISTS: errno = EEXIST; break;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY: errno = ENOMEM; break;
  case ERROR_DISK_FULL:
  case ERROR_HANDLE_DISK_FULL: errno = ENOSPC; break;
  case ERROR_INVALID_HANDLE: errno = EBADF; break;
  case ERROR_INVALID_NAME:
  case ERROR_INVALID_PARAMETER:
  case ERROR_NO_UNICODE_TRANSLATION: errno = EINVAL; break;
  case ERROR_DIRECTORY: errno = ENOTDIR; break;
  case ERROR_FILENAME_EXCED_RANGE: errno = ENAMETOOLONG; break;
  default: errno = EIO; break;
  }
  return -1;
}

/* UTF-8 -> UTF-16 (malloc'd), NULL with errno set (EINVAL for invalid UTF-8). */
static wchar_t *wide(const char *s) {
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
  if (n <= 0) {
    errno = EINVAL;
    return NULL;
  }
  wchar_t *w = malloc((size_t)n * sizeof *w);
  if (!w) {
    errno = ENOMEM;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
  return w;
}

static HANDLE handle_of(int fd) {
  intptr_t h = _get_osfhandle(fd);
  return h == -1 ? INVALID_HANDLE_VALUE : (HANDLE)h;
}

int vec_os_cpu_count(void) {
  DWORD_PTR proc = 0, sys = 0;
  int n = 0;
  if (GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys))
    for (; proc; proc &= proc - 1) n++;
  if (n <= 0) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    n = (int)si.dwNumberOfProcessors;
  }
  return n > 0 ? n : 1;
}

void *vec_os_aligned_alloc(size_t align, size_t size) {
  return _aligned_malloc(size ? size : 1, align);
}
void vec_os_aligned_free(void *p) { _aligned_free(p); }

void vec_os_random(void *buf, size_t n) {
  unsigned char *b = buf;
  size_t i = 0;
  for (unsigned v; i < n && rand_s(&v) == 0;)
    for (int k = 0; k < 4 && i < n; k++, v >>= 8) b[i++] = (unsigned char)v;
  if (i == n) return;
  static _Atomic uint64_t counter;
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  uint64_t s = (uint64_t)t.QuadPart ^ ((uint64_t)time(NULL) << 30) ^
               ((uint64_t)GetCurrentProcessId() << 40) ^
               atomic_fetch_add(&counter, 0x9E3779B97F4A7C15ull);
  for (; i < n; i++) { /* splitmix64 */
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    b[i] = (unsigned char)(z ^ (z >> 31));
  }
}

/* CreateFileW with every sharing mode: like a POSIX descriptor, an open file does not stop others
 * from reading, writing, renaming over or deleting it. */
static int open_fd(const char *path, DWORD access, DWORD disposition, int crt_flags) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  HANDLE h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                         disposition, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_BACKUP_SEMANTICS, NULL);
  free(w);
  if (h == INVALID_HANDLE_VALUE) return set_errno_from_win32();
  int fd = _open_osfhandle((intptr_t)h, crt_flags | _O_BINARY | _O_NOINHERIT);
  if (fd < 0) {
    CloseHandle(h);
    errno = EMFILE;
  }
  return fd;
}
int vec_os_open_read(const char *path) {
  /* FILE_FLAG_BACKUP_SEMANTICS lets a directory open too, so that fstat can say it is one. */
  return open_fd(path, GENERIC_READ, OPEN_EXISTING, _O_RDONLY);
}
int vec_os_create_excl(const char *path, unsigned mode) {
  (void)mode; /* a new file's ACL comes from its directory */
  return open_fd(path, GENERIC_READ | GENERIC_WRITE, CREATE_NEW, _O_RDWR);
}
int vec_os_close(int fd) { return _close(fd); }

/* ReadFile/WriteFile take a DWORD count: a larger request is a short one, as POSIX allows. */
#define IO_MAX ((DWORD)1 << 30)

ssize_t vec_os_pread(int fd, void *buf, size_t n, uint64_t off) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off, ov.OffsetHigh = (DWORD)(off >> 32);
  DWORD got = 0;
  if (!ReadFile(h, buf, n > IO_MAX ? IO_MAX : (DWORD)n, &got, &ov)) {
    if (GetLastError() == ERROR_HANDLE_EOF) return 0;
    return set_errno_from_win32();
  }
  return (ssize_t)got;
}
ssize_t vec_os_pwrite(int fd, const void *buf, size_t n, uint64_t off) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  /* A positional write through a synchronous handle moves the file pointer: put it back, as
   * pwrite leaves the position alone. */
  LARGE_INTEGER zero = {0}, pos;
  if (!SetFilePointerEx(h, zero, &pos, FILE_CURRENT)) return set_errno_from_win32();
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = (DWORD)off, ov.OffsetHigh = (DWORD)(off >> 32);
  DWORD put = 0;
  BOOL ok = WriteFile(h, buf, n > IO_MAX ? IO_MAX : (DWORD)n, &put, &ov);
  if (!ok) set_errno_from_win32();
  int e = errno;
  SetFilePointerEx(h, pos, NULL, FILE_BEGIN);
  errno = e;
  return ok ? (ssize_t)put : -1;
}
ssize_t vec_os_write(int fd, const void *buf, size_t n) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  DWORD put = 0;
  if (!WriteFile(h, buf, n > IO_MAX ? IO_MAX : (DWORD)n, &put, NULL)) return set_errno_from_win32();
  return (ssize_t)put;
}
int vec_os_fsync(int fd) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  return FlushFileBuffers(h) ? 0 : set_errno_from_win32();
}

int vec_os_fstat(int fd, vec_os_stat *st) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  memset(st, 0, sizeof *st);
  if (GetFileType(h) != FILE_TYPE_DISK) return 0; /* a console, pipe or device: not regular */
  BY_HANDLE_FILE_INFORMATION fi;
  if (!GetFileInformationByHandle(h, &fi)) return set_errno_from_win32();
  st->dir = (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  st->regular = !st->dir;
  st->mode = fi.dwFileAttributes & FILE_ATTRIBUTE_READONLY ? 0444u : 0666u;
  st->size = (uint64_t)fi.nFileSizeHigh << 32 | fi.nFileSizeLow;
  st->dev = fi.dwVolumeSerialNumber;
  st->ino = (uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow;
  return 0;
}
int vec_os_path_stat(const char *path, vec_os_stat *st) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  WIN32_FILE_ATTRIBUTE_DATA a;
  BOOL ok = GetFileAttributesExW(w, GetFileExInfoStandard, &a);
  free(w);
  if (!ok) return set_errno_from_win32();
  memset(st, 0, sizeof *st);
  st->dir = (a.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
  st->regular = !st->dir && !(a.dwFileAttributes & FILE_ATTRIBUTE_DEVICE);
  st->mode = a.dwFileAttributes & FILE_ATTRIBUTE_READONLY ? 0444u : 0666u;
  st->size = (uint64_t)a.nFileSizeHigh << 32 | a.nFileSizeLow;
  return 0;
}
int vec_os_fchmod(int fd, unsigned mode) {
  (void)fd, (void)mode;
  return 0;
}

/* Volume serial number and file index: Windows' device and inode. */
static int file_id(const char *path, BY_HANDLE_FILE_INFORMATION *fi) {
  int fd = vec_os_open_read(path);
  if (fd < 0) return -1;
  BOOL ok = GetFileInformationByHandle(handle_of(fd), fi);
  _close(fd);
  return ok ? 0 : -1;
}
int vec_os_same_file(const char *a, const char *b) {
  BY_HANDLE_FILE_INFORMATION fa, fb;
  return file_id(a, &fa) == 0 && file_id(b, &fb) == 0 &&
         fa.dwVolumeSerialNumber == fb.dwVolumeSerialNumber &&
         fa.nFileIndexHigh == fb.nFileIndexHigh && fa.nFileIndexLow == fb.nFileIndexLow;
}

/* POSIX-semantics rename (Windows 10 1607 and later, NTFS): replaces `to` even while others have
 * it open, as rename(2) does, which MoveFileExW refuses (access denied). 0, or -1 where the system
 * or file system does not support it. FileRenameInfoEx = 22 and the flags are spelt out: older
 * headers lack them. */
static int replace_posix(const wchar_t *wf, const wchar_t *wt) {
  size_t len = wcslen(wt) * sizeof(wchar_t);
  size_t size = offsetof(FILE_RENAME_INFO, FileName) + len + sizeof(wchar_t);
  FILE_RENAME_INFO *ri = calloc(1, size);
  if (!ri) return -1;
  DWORD flags =
      0x1 | 0x2; /* FILE_RENAME_FLAG_REPLACE_IF_EXISTS | FILE_RENAME_FLAG_POSIX_SEMANTICS */
  memcpy(ri, &flags, sizeof flags); /* the union of ReplaceIfExists and Flags */
  ri->FileNameLength = (DWORD)len;
  memcpy(ri->FileName, wt, len + sizeof(wchar_t));
  HANDLE h =
      CreateFileW(wf, DELETE | SYNCHRONIZE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                  NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  BOOL ok = h != INVALID_HANDLE_VALUE &&
            SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)22, ri, (DWORD)size);
  if (h != INVALID_HANDLE_VALUE) CloseHandle(h);
  free(ri);
  return ok ? 0 : -1;
}

int vec_os_replace(const char *from, const char *to) {
  wchar_t *wf = wide(from), *wt = wf ? wide(to) : NULL;
  /* Where POSIX semantics are not available (FAT, older Windows, Wine), MoveFileExW: atomic too,
   * but it fails while another process has the target open. */
  BOOL ok = wf && wt &&
            (replace_posix(wf, wt) == 0 ||
             MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH));
  int rc = ok ? 0 : wf && wt ? set_errno_from_win32() : -1;
  free(wf), free(wt);
  return rc;
}
int vec_os_unlink(const char *path) {
  wchar_t *w = wide(path);
  if (!w) return -1;
  BOOL ok = DeleteFileW(w);
  free(w);
  return ok ? 0 : set_errno_from_win32();
}
int vec_os_sync_dir(const char *dir) {
  (void)dir; /* MOVEFILE_WRITE_THROUGH returned only once the rename was on disk */
  return 0;
}
FILE *vec_os_fopen(const char *path, const char *mode) {
  wchar_t *w = wide(path), *wm = w ? wide(mode) : NULL;
  FILE *f = w && wm ? _wfopen(w, wm) : NULL;
  free(w), free(wm);
  return f;
}

int vec_os_resolve_links(const char *path, char **out) {
  char *p = strdup(path);
  if (!p) return VEC_E_NOMEM;
  for (char *c = p; *c; c++)
    if (*c == '\\') *c = '/';
  *out = p;
  return VEC_OK;
}

int vec_os_map_read(int fd, uint64_t off, size_t len, vec_os_map *m) {
  memset(m, 0, sizeof *m);
  SYSTEM_INFO si;
  GetSystemInfo(&si); /* views start at multiples of the allocation granularity (64 KiB) */
  uint64_t start = off - off % si.dwAllocationGranularity;
  size_t span = (size_t)(off - start) + len;
  if (len == 0 || span < len) return errno = EINVAL, -1;
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  HANDLE map = CreateFileMappingW(h, NULL, PAGE_READONLY, 0, 0, NULL);
  if (!map) return set_errno_from_win32();
  void *p = MapViewOfFile(map, FILE_MAP_READ, (DWORD)(start >> 32), (DWORD)start, span);
  if (!p) {
    set_errno_from_win32();
    int e = errno;
    CloseHandle(map);
    errno = e;
    return -1;
  }
  m->base = p, m->span = span, m->handle = map;
  m->addr = (const unsigned char *)p + (off - start);
  return 0;
}
void vec_os_unmap(vec_os_map *m) {
  if (m->base) UnmapViewOfFile(m->base);
  if (m->handle) CloseHandle(m->handle);
  memset(m, 0, sizeof *m);
}

void vec_os_map_drop_pages(const vec_os_map *m) { (void)m; }

int vec_os_open_rw(const char *path) {
  return open_fd(path, GENERIC_READ | GENERIC_WRITE, OPEN_EXISTING, _O_RDWR);
}
int vec_os_dup(int fd) { return _dup(fd); }

int vec_os_lock_exclusive(int fd) {
  HANDLE h = handle_of(fd);
  if (h == INVALID_HANDLE_VALUE) return errno = EBADF, -1;
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.Offset = 0xFFFFFFFEu, ov.OffsetHigh = 0x7FFFFFFFu; /* one byte no file reaches */
  return LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ov) ? 0 : set_errno_from_win32();
}

int vec_os_file_identity(const char *path, uint64_t *dev, uint64_t *ino) {
  BY_HANDLE_FILE_INFORMATION fi;
  if (file_id(path, &fi) != 0) return -1;
  *dev = fi.dwVolumeSerialNumber;
  *ino = (uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow;
  return 0;
}
#endif
