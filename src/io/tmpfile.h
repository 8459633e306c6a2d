/* tmpfile.h: how every vectro writer (.vqz, .npy) creates the temporary it later renames over its
 * target: links followed, an unpredictable short name, O_EXCL, the replaced file's mode kept. */
#ifndef VEC_IO_TMPFILE_H
#define VEC_IO_TMPFILE_H

#include "../common/internal.h"

/* Resolves `path` (symbolic links in its last component are followed, so a link is written
 * through, never replaced) and creates a fresh temporary beside the resolved target with
 * O_CREAT | O_EXCL and an unpredictable name, retried on collision. The temporary takes the mode
 * of the file it will replace, or 0666 narrowed by the umask for a new file. On success *target
 * and *tmp are malloc'd paths (rename *tmp over *target to publish) and *fd is open for writing.
 * An existing target that is not a regular file (a device such as /dev/null, a FIFO, a socket, a
 * directory) is refused: the rename would replace it.
 * Errors: VEC_E_IO (message names path), VEC_E_NOMEM. */
VEC_HIDDEN int vec_tmpfile_create(const char *path, char **target, char **tmp, int *fd);

#endif
