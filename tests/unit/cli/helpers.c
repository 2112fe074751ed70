#include "helpers.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spool/spool.h"

/* Temporary folders go when the test's process exits (Criterion runs
 * each test in its own process). */
#define MAX_TMPDIRS 16
static char tmpdirs[MAX_TMPDIRS][64];
static int ntmpdirs;

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void remove_tmpdirs(void) {
  for (int i = 0; i < ntmpdirs; i++)
    nftw(tmpdirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *th_tmpdir(void) {
  char tmpl[] = "/tmp/autotrace-cli-test-XXXXXX";
  char *d = mkdtemp(tmpl);
  cr_assert_not_null(d, "mkdtemp");
  if (ntmpdirs == 0)
    atexit(remove_tmpdirs);
  if (ntmpdirs < MAX_TMPDIRS)
    snprintf(tmpdirs[ntmpdirs++], sizeof tmpdirs[0], "%s", d);
  return strdup(d);
}

static struct spool *open_rw(const char *dir) {
  struct spool *sp = NULL;
  char err[256] = "";
  int rc = spool_open(dir, 0, &sp, err, sizeof err);
  cr_assert_eq(rc, SPOOL_OK, "spool_open(%s): %s", dir, err);
  return sp;
}

int th_spool_records(const char *dir, const char *const *json, size_t n) {
  struct spool *sp = open_rw(dir);
  size_t *lens = calloc(n ? n : 1, sizeof *lens);
  for (size_t i = 0; i < n; i++)
    lens[i] = strlen(json[i]);
  struct spool_batch b = {0};
  b.records = json;
  b.record_lens = lens;
  b.nrecords = n;
  int rc = spool_commit(sp, &b);
  free(lens);
  spool_close(sp);
  return rc;
}

int th_spool_marker(const char *dir, const char *span_id, const char *json) {
  struct spool *sp = open_rw(dir);
  struct spool_open_mark m = {span_id, json, strlen(json)};
  struct spool_batch b = {0};
  b.open_add = &m;
  b.nopen_add = 1;
  int rc = spool_commit(sp, &b);
  spool_close(sp);
  return rc;
}

int th_spool_counter(const char *dir, const char *name, uint64_t value) {
  struct spool *sp = open_rw(dir);
  struct spool_counter c = {name, value};
  struct spool_batch b = {0};
  b.counters = &c;
  b.ncounters = 1;
  int rc = spool_commit(sp, &b);
  spool_close(sp);
  return rc;
}

static char *read_all(int fd) {
  lseek(fd, 0, SEEK_SET);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  ssize_t got;
  while ((got = read(fd, buf + n, cap - n - 1)) > 0) {
    n += (size_t)got;
    if (n + 1 == cap)
      buf = realloc(buf, cap *= 2);
  }
  buf[n] = '\0';
  return buf;
}

int th_capture(int (*fn)(int, char **), int argc, char **argv, char **out,
               char **err) {
  char o[] = "/tmp/autotrace-cli-out-XXXXXX";
  char e[] = "/tmp/autotrace-cli-err-XXXXXX";
  int ofd = mkstemp(o), efd = mkstemp(e);
  cr_assert(ofd >= 0 && efd >= 0);
  unlink(o);
  unlink(e);
  fflush(stdout);
  fflush(stderr);
  int save_out = dup(1), save_err = dup(2);
  dup2(ofd, 1);
  dup2(efd, 2);
  int rc = fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(save_out, 1);
  dup2(save_err, 2);
  close(save_out);
  close(save_err);
  char *so = read_all(ofd), *se = read_all(efd);
  close(ofd);
  close(efd);
  if (out)
    *out = so;
  else
    free(so);
  if (err)
    *err = se;
  else
    free(se);
  return rc;
}

const char *th_fmt(const char *fmt, ...) {
  static char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

cJSON *th_json(const char *s) {
  cJSON *j = cJSON_Parse(s);
  cr_assert_not_null(j, "not JSON: %.300s", s);
  return j;
}
