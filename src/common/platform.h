/* platform.h: the operating-system layer of libvectro: files, memory maps, random bytes, CPU count
 * and aligned memory, implemented for POSIX (platform_posix.c) and Windows (platform_win32.c), so
 * no other file needs an #ifdef or a POSIX-only call.
 * Files are int descriptors opened in binary mode and not inherited by child processes; calls
 * return what their POSIX namesakes return (-1 with errno set on failure). Paths are UTF-8 on
 * Windows. */
#ifndef VEC_PLATFORM_H
#define VEC_PLATFORM_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h> /* ssize_t, also in MinGW */

#include "internal.h"

/* Processors this process may run on (its affinity mask where the system has one), at least 1. */
VEC_HIDDEN int vec_os_cpu_count(void);

/* size bytes aligned to align (a power of two, a multiple of sizeof(void *)), NULL when out of
 * memory; freed only by vec_os_aligned_free (Windows has no aligned_alloc that free() frees). */
VEC_HIDDEN void *vec_os_aligned_alloc(size_t align, size_t size);
VEC_HIDDEN void vec_os_aligned_free(void *p);

/* n cryptographically random bytes from the system (getrandom, RtlGenRandom); where none is
 * available, a mix of the clock, the process id and a counter that still differs on every call. */
VEC_HIDDEN void vec_os_random(void *buf, size_t n);

/* Opens an existing file for reading. On Windows others may still rename, replace or delete it
 * while it is open (FILE_SHARE_DELETE), as on POSIX. */
VEC_HIDDEN int vec_os_open_read(const char *path);
/* Creates a new file for writing, failing with EEXIST if the name exists (a link included): the
 * O_CREAT | O_EXCL of temporary files. mode (narrowed by the umask) applies on POSIX only. */
VEC_HIDDEN int vec_os_create_excl(const char *path, unsigned mode);
VEC_HIDDEN int vec_os_close(int fd);
/* Positional read and write (the file position is left as it was); short counts as POSIX. */
VEC_HIDDEN ssize_t vec_os_pread(int fd, void *buf, size_t n, uint64_t off);
VEC_HIDDEN ssize_t vec_os_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* Write at the file position. */
VEC_HIDDEN ssize_t vec_os_write(int fd, const void *buf, size_t n);
/* Flushes the file's data to stable storage (fsync, FlushFileBuffers). */
VEC_HIDDEN int vec_os_fsync(int fd);

typedef struct {
  int regular; /* a regular file (not a directory, device, pipe or socket) */
  int dir;
  unsigned mode; /* permission bits (07777); 0666 or 0444 on Windows */
  uint64_t size;
  uint64_t dev, ino; /* the file's identity (device and inode; volume serial and file index) */
} vec_os_stat;
VEC_HIDDEN int vec_os_fstat(int fd, vec_os_stat *st);
/* stat() of path, links followed; -1 with errno ENOENT when nothing is there. */
VEC_HIDDEN int vec_os_path_stat(const char *path, vec_os_stat *st);
/* Gives fd the permission bits of mode (a no-op on Windows, which has none but read-only). */
VEC_HIDDEN int vec_os_fchmod(int fd, unsigned mode);
/* 1 when a and b name the same existing file (device and inode, volume and file index). */
VEC_HIDDEN int vec_os_same_file(const char *a, const char *b);

/* Atomically replaces `to` by `from` (rename(2); MoveFileExW with MOVEFILE_REPLACE_EXISTING |
 * MOVEFILE_WRITE_THROUGH on Windows, which also flushes the rename itself). */
VEC_HIDDEN int vec_os_replace(const char *from, const char *to);
VEC_HIDDEN int vec_os_unlink(const char *path);
/* Makes a completed replace in directory `dir` durable: fsync of the directory on POSIX (file
 * systems that cannot sync one, EINVAL, count as success); nothing to do on Windows. */
VEC_HIDDEN int vec_os_sync_dir(const char *dir);
/* fopen() with a UTF-8 path. */
VEC_HIDDEN FILE *vec_os_fopen(const char *path, const char *mode);

/* *out (malloc'd) is path with symbolic links in its last component followed, so that a writer
 * replaces the file a link points to, not the link (a dangling link resolves to where it points).
 * On Windows the path is returned with '\' turned into '/' (which Windows accepts) so that the
 * directory part is found the same way, and links are not followed.
 * Returns VEC_OK, VEC_E_NOMEM, or VEC_E_IO with errno (ELOOP) set. */
VEC_HIDDEN int vec_os_resolve_links(const char *path, char **out);

/* A read-only memory map of bytes [off, off + len) of fd: addr points at byte off (any offset;
 * the map starts at the page or allocation-granularity boundary below it). len > 0. */
typedef struct {
  const void *addr;
  void *base; /* what was mapped, and how much */
  size_t span;
  void *handle; /* the Windows file-mapping object */
} vec_os_map;
VEC_HIDDEN int vec_os_map_read(int fd, uint64_t off, size_t len, vec_os_map *m);
VEC_HIDDEN void vec_os_unmap(vec_os_map *m);
/* Tells the system the mapped pages need not stay resident (madvise MADV_DONTNEED of a read-only
 * file map: they are read again from the file when touched); a no-op on Windows. */
VEC_HIDDEN void vec_os_map_drop_pages(const vec_os_map *m);

/* Opens an existing file for reading and writing (positional writes, as an appender does). */
VEC_HIDDEN int vec_os_open_rw(const char *path);
VEC_HIDDEN int vec_os_dup(int fd);
/* Blocks until this descriptor holds the file's exclusive appender lock, released by closing it.
 * Advisory between cooperating writers (flock on POSIX); on Windows a lock on one byte far past
 * any data (LockFileEx), so readers of the file's bytes are never blocked by it. */
VEC_HIDDEN int vec_os_lock_exclusive(int fd);
/* The identity (dev, ino of vec_os_stat) of the file at path, links followed. */
VEC_HIDDEN int vec_os_file_identity(const char *path, uint64_t *dev, uint64_t *ino);

#endif
