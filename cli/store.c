#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "preload/config.h"
#include "spool/spool.h"

int cli_spool_dir(const char *opt, char *out, size_t outlen) {
  const char *v = getenv(AT_ENV_SPOOL);
  const char *xdg = getenv("XDG_STATE_HOME");
  const char *home = getenv("HOME");
  int n;
  if (opt && *opt)
    n = snprintf(out, outlen, "%s", opt);
  else if (v && *v)
    n = snprintf(out, outlen, "%s", v);
  else if (xdg && *xdg == '/')
    n = snprintf(out, outlen, "%s/autotrace", xdg);
  else if (home && *home)
    n = snprintf(out, outlen, "%s/.local/state/autotrace", home);
  else {
    cli_err("cannot tell where the spool is: set AUTOTRACE_SPOOL or HOME, "
            "or pass --spool DIR");
    return -1;
  }
  if (n < 0 || (size_t)n >= outlen) {
    cli_err("spool path is too long");
    return -1;
  }
  return 0;
}

int cli_spool_open(const char *dir, struct spool **sp) {
  *sp = NULL;
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno == ENOENT)
      return 1;
    cli_err("cannot read the spool %s: %s", dir, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode)) {
    cli_err("the spool %s is not a folder", dir);
    return -1;
  }
  char err[256] = "";
  int rc = spool_open(dir, SPOOL_OPEN_READONLY, sp, err, sizeof err);
  if (rc == SPOOL_ERR_NOTFOUND)
    return 1; /* the folder exists but nothing was ever written there */
  if (rc != SPOOL_OK) {
    cli_err("cannot open the spool %s: %s", dir,
            err[0] ? err : spool_strerror(rc));
    *sp = NULL;
    return -1;
  }
  return 0;
}

uint64_t cli_spool_disk_usage(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  uint64_t total = 0;
  struct dirent *e;
  char path[4096 + 256];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
      total += (uint64_t)st.st_blocks * 512;
  }
  closedir(d);
  return total;
}
