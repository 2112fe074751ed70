/* Opening a spool: creation modes, reopening, readers, versions,
 * permissions. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static mode_t mode_of(const char *path) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0, "stat %s", path);
  return st.st_mode & 07777;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Every fd of this process that points into dir must be close-on-exec.
 * Returns how many there are. */
static int spool_fds_all_cloexec(const char *dir) {
  DIR *d = opendir("/proc/self/fd");
  cr_assert_not_null(d);
  int n = 0;
  struct dirent *e;
  for (int guard = 0; guard < 65536 && (e = readdir(d)); guard++) {
    if (e->d_name[0] == '.')
      continue;
    char link[300], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0)
      continue;
    target[len] = '\0';
    if (strncmp(target, dir, strlen(dir)) != 0)
      continue;
    int fl = fcntl(atoi(e->d_name), F_GETFD);
    cr_expect(fl != -1 && (fl & FD_CLOEXEC), "%s is not close-on-exec", target);
    n++;
  }
  closedir(d);
  return n;
}

Test(open, creates_private_folders_and_files_whatever_the_umask) {
  char base[64], dir[128], p[160];
  scratch_dir(base, sizeof base);
  snprintf(dir, sizeof dir, "%s/state/autotrace", base);
  /* Without owner write the second mkdir would fail and LMDB would create
   * a 0400 data file, unless the spool fixes modes itself. */
  umask(0277);
  struct spool *sp;
  char err[256];
  cr_assert_eq(spool_open(dir, 0, &sp, err, sizeof err), 0, "%s", err);
  umask(022);
  snprintf(p, sizeof p, "%s/state", base);
  cr_expect_eq(mode_of(p), 0700);
  cr_expect_eq(mode_of(dir), 0700);
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  cr_expect_eq(mode_of(p), 0600);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  cr_expect_eq(mode_of(p), 0600);
  /* data, lock and LMDB's O_DSYNC meta fd */
  cr_expect_geq(spool_fds_all_cloexec(dir), 2);
  const char *r[] = {"{\"a\":1}"};
  cr_expect_eq(commit_strs(sp, r, 1), 0);
  spool_close(sp);
  cr_expect_eq(spool_fds_all_cloexec(dir), 0, "close leaves no fd behind");
  scratch_remove(base);
}

Test(open, existing_folder_keeps_its_mode) {
  char base[64];
  scratch_dir(base, sizeof base);
  cr_assert_eq(chmod(base, 0750), 0);
  struct spool *sp;
  cr_assert_eq(spool_open(base, 0, &sp, NULL, 0), 0);
  cr_expect_eq(mode_of(base), 0750, "a folder the user made is theirs");
  spool_close(sp);
  scratch_remove(base);
}

Test(open, reopen_keeps_records_and_continues_the_sequence) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  const char *r[] = {"{\"n\":1}", "{\"n\":2}"};
  cr_assert_eq(commit_strs(sp, r, 2), 0);
  spool_close(sp);

  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  uint64_t last;
  cr_expect_eq(spool_last_seq(sp, &last), 0);
  cr_expect_eq(last, 2);
  const char *r2[] = {"{\"n\":3}"};
  cr_assert_eq(commit_strs(sp, r2, 1), 0);
  struct recs got = {0};
  cr_assert_eq(spool_foreach(sp, 0, collect_cb, &got), 0);
  cr_assert_eq(got.n, 3);
  cr_expect_eq(got.v[2].seq, 3);
  cr_expect_str_eq(got.v[2].json, "{\"n\":3}");
  cr_expect_str_eq(got.v[0].json, "{\"n\":1}");
  recs_free(&got);
  spool_close(sp);
  scratch_remove(dir);
}

Test(open, reader_on_missing_folder_is_notfound_and_creates_nothing) {
  char base[64], dir[128];
  scratch_dir(base, sizeof base);
  snprintf(dir, sizeof dir, "%s/nope/autotrace", base);
  struct spool *sp = (struct spool *)1;
  char err[256];
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, err, sizeof err),
               SPOOL_ERR_NOTFOUND);
  cr_expect_null(sp);
  cr_expect_neq(strstr(err, "no spool"), NULL, "%s", err);
  snprintf(dir, sizeof dir, "%s/nope", base);
  cr_expect_not(exists(dir));
  scratch_remove(base);
}

Test(open, reader_on_folder_without_data_is_notfound_and_creates_nothing) {
  char dir[64], p[128];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0),
               SPOOL_ERR_NOTFOUND);
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  cr_expect_not(exists(p));
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  cr_expect_not(exists(p));
  scratch_remove(dir);
}

Test(open, reader_on_empty_data_file_is_notfound_and_writes_nothing) {
  char dir[64], p[128];
  scratch_dir(dir, sizeof dir);
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  FILE *f = fopen(p, "w"); /* what a writer precreates before LMDB runs */
  cr_assert_not_null(f);
  fclose(f);
  struct spool *sp;
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0),
               SPOOL_ERR_NOTFOUND);
  struct stat st;
  cr_assert_eq(stat(p, &st), 0);
  cr_expect_eq(st.st_size, 0);
  /* and a writer takes the empty file for a new spool */
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  const char *r[] = {"{}"};
  cr_expect_eq(commit_strs(sp, r, 1), 0);
  spool_close(sp);
  scratch_remove(dir);
}

Test(open, lock_file_made_by_a_reader_copies_the_data_file_mode) {
  char dir[64], p[128];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  spool_close(sp);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  cr_assert_eq(unlink(p), 0); /* stale lock files may be deleted */
  char data[128];
  snprintf(data, sizeof data, "%s/data.mdb", dir);
  cr_assert_eq(chmod(data, 0640), 0);
  umask(077);
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0), 0);
  cr_expect_eq(mode_of(p), 0640);
  spool_close(sp);
  scratch_remove(dir);
}

Test(open, reader_reads_and_may_set_cursors_when_files_allow) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *w, *r;
  cr_assert_eq(spool_open(dir, 0, &w, NULL, 0), 0);
  const char *recs[] = {"{\"x\":1}"};
  cr_assert_eq(commit_strs(w, recs, 1), 0);
  spool_close(w);
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &r, NULL, 0), 0);
  uint64_t last;
  cr_expect_eq(spool_last_seq(r, &last), 0);
  cr_expect_eq(last, 1);
  cr_expect_eq(spool_cursor_set(r, "otlp", 1), 0);
  spool_close(r);
  scratch_remove(dir);
}

Test(open, other_major_version_is_refused_minor_accepted) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  spool_close(sp);

  const char *v2 = "autotrace-spool 2";
  raw_put(dir, "meta", "format", 6, v2, strlen(v2));
  char err[256];
  cr_expect_eq(spool_open(dir, 0, &sp, err, sizeof err), SPOOL_ERR_VERSION);
  cr_expect_neq(strstr(err, "autotrace-spool 2"), NULL, "%s", err);
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0),
               SPOOL_ERR_VERSION);

  const char *v1x = "autotrace-spool 1.4";
  raw_put(dir, "meta", "format", 6, v1x, strlen(v1x));
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, err, sizeof err), 0,
               "%s", err);
  spool_close(sp);

  const char *junk = "autotrace-spool x";
  raw_put(dir, "meta", "format", 6, junk, strlen(junk));
  cr_expect_eq(spool_open(dir, 0, &sp, NULL, 0), SPOOL_ERR_VERSION);
  scratch_remove(dir);
}

Test(open, foreign_lmdb_environment_is_refused_untouched) {
  char dir[64];
  scratch_dir(dir, sizeof dir);
  raw_put(dir, "other", "k", 1, "v", 1);
  struct spool *sp;
  char err[256];
  cr_expect_eq(spool_open(dir, 0, &sp, err, sizeof err), SPOOL_ERR_VERSION);
  cr_expect_neq(strstr(err, "not an autotrace spool"), NULL, "%s", err);
  /* Nothing was added: a raw reader still finds no meta database. */
  cr_expect_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, NULL, 0),
               SPOOL_ERR_VERSION);
  scratch_remove(dir);
}

Test(open, bad_arguments) {
  struct spool *sp;
  char err[64];
  cr_expect_eq(spool_open(NULL, 0, &sp, err, sizeof err), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_open("", 0, &sp, NULL, 0), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_open("/tmp/x", 0, NULL, NULL, 0), SPOOL_ERR_INVAL);
  cr_expect_eq(spool_open("/tmp/x", 4, &sp, NULL, 0), SPOOL_ERR_INVAL);
  static char longp[5000];
  memset(longp, 'a', sizeof longp - 1);
  cr_expect_eq(spool_open(longp, 0, &sp, err, sizeof err), SPOOL_ERR_INVAL);
  cr_expect_str_neq(err, "");
  cr_expect_str_eq(spool_strerror(SPOOL_ERR_FULL),
                   "spool full (map size limit or disk full)");
  cr_expect_str_eq(spool_strerror(12345), "unknown spool error");
}

Test(open, file_in_place_of_folder_is_io_error) {
  char base[64], p[128];
  scratch_dir(base, sizeof base);
  snprintf(p, sizeof p, "%s/file", base);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fclose(f);
  struct spool *sp;
  char err[256];
  cr_expect_eq(spool_open(p, 0, &sp, err, sizeof err), SPOOL_ERR_IO);
  snprintf(p, sizeof p, "%s/file/sub", base);
  cr_expect_eq(spool_open(p, 0, &sp, err, sizeof err), SPOOL_ERR_IO);
  scratch_remove(base);
}

/* ---- a reader without write access ---- */

struct perm_case {
  const char *dir;
  int lock_writable;
};

/* As another user when we are root (root ignores modes), else as
 * ourselves with the owner's write bit gone. */
static int become_unprivileged(void) {
  if (geteuid() != 0)
    return 0;
  return setgid(65534) == 0 && setuid(65534) == 0 ? 0 : -1;
}

static int read_without_write_access(void *arg) {
  const struct perm_case *pc = arg;
  if (become_unprivileged() != 0)
    return 90;
  struct spool *sp;
  char err[512];
  int rc = spool_open(pc->dir, SPOOL_OPEN_READONLY, &sp, err, sizeof err);
  if (!pc->lock_writable) {
    if (rc != SPOOL_ERR_IO)
      return 10;
    if (!strstr(err, "lock.mdb"))
      return 11; /* the message must say what to fix */
    return 0;
  }
  if (rc != 0)
    return 1;
  struct recs got = {0};
  if (spool_foreach(sp, 0, collect_cb, &got) != 0 || got.n != 2)
    return 2;
  if (strcmp(got.v[1].json, "{\"b\":2}") != 0)
    return 3;
  recs_free(&got);
  if (spool_cursor_set(sp, "otlp", 2) != SPOOL_ERR_IO)
    return 4;
  if (!strstr(spool_last_error(sp), "read-only"))
    return 5;
  const char *r[] = {"{}"};
  if (commit_strs(sp, r, 1) != SPOOL_ERR_IO)
    return 6;
  uint64_t last;
  if (spool_last_seq(sp, &last) != 0 || last != 2)
    return 7;
  spool_close(sp);
  return 0;
}

static void make_shared_spool(char *base, size_t n, char *dir, size_t dn) {
  scratch_dir(base, n);
  snprintf(dir, dn, "%s/spool", base);
  struct spool *sp;
  cr_assert_eq(spool_open(dir, 0, &sp, NULL, 0), 0);
  const char *r[] = {"{\"a\":1}", "{\"b\":2}"};
  cr_assert_eq(commit_strs(sp, r, 2), 0);
  spool_close(sp);
  char p[192];
  cr_assert_eq(chmod(base, 0755), 0);
  cr_assert_eq(chmod(dir, 0555), 0);
  snprintf(p, sizeof p, "%s/data.mdb", dir);
  cr_assert_eq(chmod(p, 0444), 0);
}

Test(open, reader_without_data_write_access_falls_back_to_read_only) {
  char base[64], dir[128], p[192];
  make_shared_spool(base, sizeof base, dir, sizeof dir);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  cr_assert_eq(chmod(p, 0666), 0);
  struct perm_case pc = {dir, 1};
  cr_expect_eq(in_child(read_without_write_access, &pc), 0);
  cr_assert_eq(chmod(dir, 0700), 0);
  scratch_remove(base);
}

Test(open, reader_without_lock_write_access_is_a_clear_io_error) {
  char base[64], dir[128], p[192];
  make_shared_spool(base, sizeof base, dir, sizeof dir);
  snprintf(p, sizeof p, "%s/lock.mdb", dir);
  cr_assert_eq(chmod(p, 0444), 0);
  struct perm_case pc = {dir, 0};
  cr_expect_eq(in_child(read_without_write_access, &pc), 0);
  cr_assert_eq(chmod(dir, 0700), 0);
  scratch_remove(base);
}
