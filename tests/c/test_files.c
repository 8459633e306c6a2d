/* test_files.c: how the writers (.vqz and .npy) publish files: the mode of a replaced file is
 * kept, new files follow the umask, temporaries have short unpredictable names that fit long
 * targets, and a symbolic link is written through (the link stays, its target is replaced). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vectro.h"
#include "vtest.h"

static char root[256];

static const char *dir(void) {
  if (!root[0]) {
    snprintf(root, sizeof root, "/tmp/vectro-files-XXXXXX");
    if (!mkdtemp(root)) root[0] = '\0';
  }
  return root;
}

static void at(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", dir(), name);
}

/* Writes a 3-row int8 .vqz (tag is stored as metadata, so contents tell writes apart). */
static int write_vqz(const char *path, const char *tag) {
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 4);
  vec_codec *c;
  if (vec_codec_create(&p, &c)) return -1;
  vec_vqz_options o = VEC_VQZ_OPTIONS_INIT;
  o.metadata = tag;
  vec_vqz_writer *w;
  float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  int rc = vec_vqz_writer_open(path, c, &o, &w);
  if (!rc) rc = vec_vqz_writer_append_floats(w, x, 3, 4, NULL, NULL);
  if (!rc) rc = vec_vqz_writer_finish(w);
  vec_codec_free(c);
  return rc;
}

static int write_npy(const char *path) {
  float x[6] = {1, 2, 3, 4, 5, 6};
  vec_npy_writer *w;
  int rc = vec_npy_writer_open(path, 3, &w);
  if (!rc) rc = vec_npy_writer_append(w, x, 2, 3);
  if (!rc) rc = vec_npy_writer_finish(w);
  return rc;
}

/* The metadata of a .vqz, or "" when it cannot be read. */
static void meta_of(const char *path, char *out, size_t cap) {
  vec_vqz_reader *r;
  out[0] = '\0';
  if (vec_vqz_reader_open(path, &r)) return;
  snprintf(out, cap, "%s", vec_vqz_metadata(r));
  vec_vqz_reader_close(r);
}

static unsigned mode_of(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffffu;
}

static int entries(void) {
  DIR *d = opendir(dir());
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  if (d) closedir(d);
  return n;
}

static void clear_dir(void) {
  DIR *d = opendir(dir());
  char p[1024];
  for (struct dirent *e; d && (e = readdir(d));) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    at(p, sizeof p, e->d_name);
    unlink(p);
  }
  if (d) closedir(d);
}

static void replaced_file_keeps_its_mode(void) {
  VT_SKIP_ON_WINDOWS("Windows files have no permission bits (an ACL inherited from the directory)");
  char v[512], n[512];
  at(v, sizeof v, "m.vqz");
  at(n, sizeof n, "m.npy");
  mode_t old = umask(022);
  CHECK(write_vqz(v, "a") == VEC_OK && write_npy(n) == VEC_OK);
  CHECK(mode_of(v) == 0644 && mode_of(n) == 0644); /* new files: 0666 narrowed by the umask */
  CHECK(chmod(v, 0600) == 0 && chmod(n, 0640) == 0);
  CHECK(write_vqz(v, "b") == VEC_OK && write_npy(n) == VEC_OK);
  CHECKF(mode_of(v) == 0600, "replaced .vqz has mode %o, was 0600", mode_of(v));
  CHECKF(mode_of(n) == 0640, "replaced .npy has mode %o, was 0640", mode_of(n));
  char m[64];
  meta_of(v, m, sizeof m);
  CHECK(strcmp(m, "b") == 0);
  clear_dir();
  umask(077);
  CHECK(write_vqz(v, "c") == VEC_OK && write_npy(n) == VEC_OK);
  CHECK(mode_of(v) == 0600 && mode_of(n) == 0600);
  umask(old);
  clear_dir();
}

static void long_names_and_unpredictable_temporaries(void) {
  /* 250 characters: the old ".<pid>.<n>.tmp" suffix pushed the temporary past NAME_MAX. */
  char name[256], p[1024];
  memset(name, 'x', 246);
  memcpy(name + 246, ".vqz", 5);
  at(p, sizeof p, name);
  CHECKF(write_vqz(p, "long") == VEC_OK, "%s", vec_last_error_message());
  char m[64];
  meta_of(p, m, sizeof m);
  CHECK(strcmp(m, "long") == 0);
  memcpy(name + 246, ".npy", 5);
  at(p, sizeof p, name);
  CHECKF(write_npy(p) == VEC_OK, "%s", vec_last_error_message());
  clear_dir();
  /* Two writers of one target get different temporaries, neither named after the pid. */
  at(p, sizeof p, "t.vqz");
  vec_codec_params cp = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 4);
  vec_codec *c;
  CHECK(vec_codec_create(&cp, &c) == VEC_OK);
  vec_vqz_writer *w1, *w2;
  CHECK(vec_vqz_writer_open(p, c, NULL, &w1) == VEC_OK);
  CHECK(vec_vqz_writer_open(p, c, NULL, &w2) == VEC_OK);
  char pid[32], names[2][300] = {"", ""};
  snprintf(pid, sizeof pid, ".%ld.", (long)getpid());
  DIR *d = opendir(dir());
  int k = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (strstr(e->d_name, ".tmp") && k < 2) snprintf(names[k++], sizeof names[0], "%s", e->d_name);
  if (d) closedir(d);
  vec_vqz_writer_abort(w1);
  vec_vqz_writer_abort(w2);
  vec_codec_free(c);
  CHECK(k == 2 && strcmp(names[0], names[1]) != 0);
  CHECKF(!strstr(names[0], pid) && !strstr(names[1], pid), "predictable names %s %s", names[0],
         names[1]);
  CHECK(entries() == 0);
  clear_dir();
}

static void symlinks_are_written_through(void) {
  VT_SKIP_ON_WINDOWS("symbolic links: Windows needs a privilege to make them, and vectro does not "
                     "follow them there");
  char target[512], link[512], m[64];
  at(target, sizeof target, "real.vqz");
  at(link, sizeof link, "link.vqz");
  CHECK(write_vqz(target, "old") == VEC_OK);
  CHECK(symlink("real.vqz", link) == 0); /* relative, as links usually are */
  CHECK(chmod(target, 0600) == 0);
  CHECK(write_vqz(link, "new") == VEC_OK);
  struct stat st;
  CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode)); /* the link stays a link */
  meta_of(target, m, sizeof m);
  CHECK(strcmp(m, "new") == 0); /* and its target was replaced */
  CHECK(mode_of(target) == 0600);
  /* A dangling link: the file is created where it points, as open(O_CREAT) would. */
  char dang[512], where[512];
  at(dang, sizeof dang, "dangling.npy");
  at(where, sizeof where, "made.npy");
  CHECK(symlink("made.npy", dang) == 0);
  CHECK(write_npy(dang) == VEC_OK);
  CHECK(lstat(dang, &st) == 0 && S_ISLNK(st.st_mode) && stat(where, &st) == 0);
  /* A loop is an I/O error naming the path, not a hang. */
  char a[512], b[512];
  at(a, sizeof a, "loop-a.vqz");
  at(b, sizeof b, "loop-b.vqz");
  CHECK(symlink("loop-b.vqz", a) == 0 && symlink("loop-a.vqz", b) == 0);
  CHECK(write_vqz(a, "x") == VEC_E_IO && strstr(vec_last_error_message(), "loop-a.vqz"));
  clear_dir();
}

/* A target that is not a regular file is refused and left as it was: renaming over /dev/null as
 * root once turned it into a plain file for the whole machine. A FIFO stands in for the device
 * (no privileges needed), a directory and a link to a FIFO too. */
static void non_regular_targets_are_refused(void) {
  VT_SKIP_ON_WINDOWS("FIFOs and symbolic links do not exist on Windows");
  char fifo[512], sub[512], link[512];
  at(fifo, sizeof fifo, "pipe");
  at(sub, sizeof sub, "sub");
  at(link, sizeof link, "to-pipe.vqz");
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK(mkdir(sub, 0700) == 0);
  CHECK(symlink("pipe", link) == 0);
  struct stat st;
  CHECK(write_vqz(fifo, "x") == VEC_E_IO && strstr(vec_last_error_message(), "not a regular file"));
  CHECK(write_npy(fifo) == VEC_E_IO);
  CHECK(write_vqz(link, "x") == VEC_E_IO);
  CHECK(stat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
  CHECK(write_npy(sub) == VEC_E_IO);
  CHECK(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(rmdir(sub) == 0);
  clear_dir();
}

/* vec_last_error_errno: the OS error behind a VEC_E_IO, 0 for a refusal that is not one, reset by
 * the next call. */
static void io_errors_carry_errno(void) {
  char missing[300], fifo[300];
  at(missing, sizeof missing, "no-such-dir/x.vqz");
  CHECK(write_vqz(missing, "x") == VEC_E_IO && vec_last_error_errno() == ENOENT);
  vec_vqz_reader *r = NULL;
  CHECK(vec_vqz_reader_open(missing, &r) == VEC_E_IO && vec_last_error_errno() == ENOENT);
  vec_reader *er = NULL;
  CHECK(vec_reader_open(dir(), &er) == VEC_E_IO && vec_last_error_errno() == EISDIR);
#if !defined(_WIN32) /* no FIFOs there */
  at(fifo, sizeof fifo, "errno-fifo");
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK(write_vqz(fifo, "x") == VEC_E_IO && vec_last_error_errno() == 0);
  CHECK(unlink(fifo) == 0);
#else
  (void)fifo;
#endif
  CHECK(write_vqz(missing, "x") == VEC_E_IO && vec_last_error_errno() == ENOENT);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 0);
  vec_codec *c = NULL;
  CHECK(vec_codec_create(&p, &c) != VEC_OK && vec_last_error_errno() == 0); /* not an I/O error */
}

static int stop_at_half(void *user, size_t done, size_t total) {
  int *calls = user;
  ++*calls;
  return done * 2 >= total && total > 0;
}

/* vec_compress_file: the bytes of the step-by-step pipeline (reader, train, writer), whatever the
 * chunk; the input refused as output (also through a link); a codec of another dimension, a
 * cancel and a missing input leave nothing behind. */
static void compress_file_pipeline(void) {
  char npy[300], a[300], b[300], link[300];
  at(npy, sizeof npy, "in.npy");
  at(a, sizeof a, "a.vqz");
  at(b, sizeof b, "b.vqz");
  at(link, sizeof link, "in-link.vqz");
  enum { N = 1000, D = 16 };
  float *x = malloc(sizeof(float) * N * D);
  CHECK(x != NULL);
  for (size_t i = 0; i < (size_t)N * D; i++) x[i] = (float)((i * 7919) % 1000) / 100.0f - 5.0f;
  vec_npy_writer *nw;
  CHECK(vec_npy_writer_open(npy, D, &nw) == VEC_OK);
  CHECK(vec_npy_writer_append(nw, x, N, D) == VEC_OK && vec_npy_writer_finish(nw) == VEC_OK);
  vec_codec_params p = VEC_CODEC_PARAMS_INIT(VEC_CODEC_UINT8_CAL, D);
  vec_codec *c1, *c2;
  CHECK(vec_codec_create(&p, &c1) == VEC_OK && vec_codec_create(&p, &c2) == VEC_OK);
  vec_compress_opts o = VEC_COMPRESS_OPTS_INIT;
  o.chunk_rows = 33;
  uint64_t rows = 0;
  CHECK(vec_compress_file(npy, a, c1, &o, &rows) == VEC_OK && rows == N);
  CHECK(vec_codec_is_trained(c1));
  /* by hand: train on the leading rows (all 1000 here), encode, write */
  CHECK(vec_codec_train(c2, x, N, D) == VEC_OK);
  vec_vqz_writer *w;
  CHECK(vec_vqz_writer_open(b, c2, NULL, &w) == VEC_OK);
  CHECK(vec_vqz_writer_append_floats(w, x, N, D, NULL, NULL) == VEC_OK);
  CHECK(vec_vqz_writer_finish(w) == VEC_OK);
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  CHECK(fa && fb);
  int same = 1, ca, cb;
  do {
    ca = fgetc(fa), cb = fgetc(fb);
    same &= ca == cb;
  } while (ca != EOF && cb != EOF);
  fclose(fa), fclose(fb);
  CHECK(same);
#if !defined(_WIN32) /* symbolic links need a privilege there */
  CHECK(symlink("in.npy", link) == 0);
  CHECK(vec_compress_file(npy, link, c1, NULL, NULL) == VEC_E_INVALID_ARG &&
        strstr(vec_last_error_message(), "is the input file"));
  CHECK(unlink(link) == 0);
#endif
  CHECK(vec_compress_file(npy, npy, c1, NULL, NULL) == VEC_E_INVALID_ARG);
  CHECK(unlink(b) == 0);
  vec_codec_params p8 = VEC_CODEC_PARAMS_INIT(VEC_CODEC_INT8, 8);
  vec_codec *c8;
  CHECK(vec_codec_create(&p8, &c8) == VEC_OK);
  CHECK(vec_compress_file(npy, b, c8, NULL, NULL) == VEC_E_INVALID_ARG);
  vec_codec_free(c8);
  int calls = 0;
  o.batch.progress = stop_at_half, o.batch.progress_user = &calls;
  CHECK(vec_compress_file(npy, b, c1, &o, &rows) == VEC_E_CANCELLED && calls > 0 && rows == 0);
  char missing[300];
  at(missing, sizeof missing, "missing.npy");
  CHECK(vec_compress_file(missing, b, c1, NULL, NULL) == VEC_E_IO &&
        vec_last_error_errno() == ENOENT);
  struct stat st;
  CHECK(stat(b, &st) != 0); /* nothing published by any failed run */
  o.struct_size = 8;
  CHECK(vec_compress_file(npy, b, c1, &o, NULL) == VEC_E_INVALID_ARG);
  CHECK(unlink(a) == 0 && unlink(npy) == 0);
  vec_codec_free(c1), vec_codec_free(c2);
  free(x);
}

static void cleanup(void) { CHECK(rmdir(dir()) == 0); }

const vt_test files_tests[] = {
    {"replaced_file_keeps_its_mode", replaced_file_keeps_its_mode},
    {"long_names_and_unpredictable_temporaries", long_names_and_unpredictable_temporaries},
    {"symlinks_are_written_through", symlinks_are_written_through},
    {"non_regular_targets_are_refused", non_regular_targets_are_refused},
    {"io_errors_carry_errno", io_errors_carry_errno},
    {"compress_file_pipeline", compress_file_pipeline},
    {"cleanup", cleanup},
};
const size_t files_count = sizeof files_tests / sizeof files_tests[0];
