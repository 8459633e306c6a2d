/* tmpfile.c: the temporary files writers rename into place (see tmpfile.h): link resolution,
 * unpredictable O_EXCL names that fit NAME_MAX, and the mode of the file being replaced. */
#include "tmpfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/platform.h"

#define RAND_LEN 8   /* 36^8 names: guessing one is hopeless, and O_EXCL catches a collision */
#define NAME_CAP 255 /* NAME_MAX of every common file system; a temporary's name stays within */

int vec_tmpfile_create(const char *path, char **target, char **tmp, int *fd) {
  *target = *tmp = NULL;
  *fd = -1;
  char *t = NULL;
  int rc = vec_os_resolve_links(path, &t);
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
  vec_os_stat old;
  int exists = vec_os_path_stat(t, &old) == 0, replacing = exists && old.regular;
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
    vec_os_random(r, sizeof r);
    for (size_t i = 0; i < RAND_LEN; i++) suffix[i] = alphabet[r[i] % 36];
    suffix[RAND_LEN] = '\0';
    snprintf(name, dl + keep + extra + 1, "%.*s.%.*s.%s.tmp", (int)dl, t, (int)keep, base, suffix);
    /* 0666 narrowed by the umask, as for any file the process creates; O_EXCL never follows a
     * link planted under this name and never reuses a stale file. */
    f = vec_os_create_excl(name, 0666);
    if (f >= 0 || errno != EEXIST) break;
  }
  err = errno;
  if (f < 0) {
    rc = vec_fail_os(err, "cannot create a temporary file next to '%s': %s", path, strerror(err));
    free(t), free(name);
    return rc;
  }
  /* Replacing a file keeps its permission bits (a private 0600 file stays private). */
  if (replacing && vec_os_fchmod(f, old.mode) != 0) {
    err = errno;
    vec_os_close(f);
    vec_os_unlink(name);
    rc = vec_fail_os(err, "cannot give the new '%s' the mode of the old one: %s", path,
                     strerror(err));
    free(t), free(name);
    return rc;
  }
  *target = t, *tmp = name, *fd = f;
  return VEC_OK;
}
