/* spool: opening and closing the LMDB environment of a spool folder.
 *
 * The on-disk contract is docs/spool-format.md; the choices made here
 * (permissions, MDB_NOSYNC, close-on-exec, fork) are explained there too. */
#include "spool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_FILE "/data.mdb"
#define LOCK_FILE "/lock.mdb"

const char *spool_strerror(int err) {
  switch (err) {
  case SPOOL_OK:
    return "success";
  case SPOOL_ERR_IO:
    return "cannot create or open the spool folder or its files";
  case SPOOL_ERR_FULL:
    return "spool full (map size limit or disk full)";
  case SPOOL_ERR_NOMEM:
    return "out of memory";
  case SPOOL_ERR_CORRUPT:
    return "spool entry breaks the format";
  case SPOOL_ERR_NOTFOUND:
    return "not found (no traces yet)";
  case SPOOL_ERR_LMDB:
    return "LMDB error";
  case SPOOL_ERR_VERSION:
    return "spool written by an incompatible format version";
  case SPOOL_ERR_INVAL:
    return "invalid argument";
  default:
    return "unknown spool error";
  }
}

const char *spool_last_error(const struct spool *sp) {
  return sp ? sp->err : "no spool handle";
}

uint64_t spool_skipped(const struct spool *sp) {
  return sp ? sp->skipped : 0;
}

/* Create dir and its missing parents, each 0700 whatever the umask (an
 * umask without owner write would otherwise also stop us from creating the
 * next component). Folders that exist are left as they are. */
static int make_dirs(struct spool *sp, const char *dir) {
  char buf[sizeof sp->path];
  size_t n = strlen(dir);
  memcpy(buf, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    if (buf[i - 1] == '/')
      continue; /* "a//b" */
    char c = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0700) == 0) {
      if (chmod(buf, 0700) != 0)
        return spool_failf(sp, SPOOL_ERR_IO, "chmod 0700 %s: %s", buf,
                           strerror(errno));
    } else if (errno != EEXIST) {
      return spool_failf(sp, SPOOL_ERR_IO, "create folder %s: %s", buf,
                         strerror(errno));
    }
    buf[i] = c;
  }
  struct stat st;
  if (stat(dir, &st) != 0)
    return spool_failf(sp, SPOOL_ERR_IO, "%s: %s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return spool_failf(sp, SPOOL_ERR_IO, "%s: not a folder", dir);
  return SPOOL_OK;
}

/* The reader's view: the folder and data file must already exist. */
static int check_exists(struct spool *sp, const char *dir, const char *data) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno == ENOENT)
      return spool_failf(sp, SPOOL_ERR_NOTFOUND, "no spool at %s", dir);
    return spool_failf(sp, SPOOL_ERR_IO, "%s: %s", dir, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode))
    return spool_failf(sp, SPOOL_ERR_IO, "%s: not a folder", dir);
  if (stat(data, &st) != 0) {
    if (errno == ENOENT)
      return spool_failf(sp, SPOOL_ERR_NOTFOUND, "no spool at %s (no %s)", dir,
                         data);
    return spool_failf(sp, SPOOL_ERR_IO, "%s: %s", data, strerror(errno));
  }
  /* Made by a writer that has not initialised it yet: opening it
   * read-write would have this reader write the first meta pages. */
  if (st.st_size == 0)
    return spool_failf(sp, SPOOL_ERR_NOTFOUND,
                       "spool at %s is empty (still being created)", dir);
  return SPOOL_OK;
}

static int env_open(struct spool *sp, const char *dir, size_t map_size,
                    unsigned int flags) {
  int rc = mdb_env_create(&sp->env);
  if (rc) {
    sp->env = NULL;
    return rc;
  }
  rc = mdb_env_set_maxdbs(sp->env, SPOOL_MAXDBS);
  if (!rc)
    rc = mdb_env_set_mapsize(sp->env, map_size);
  if (!rc)
    rc = mdb_env_open(sp->env, dir, flags, 0600);
  if (rc) {
    /* lmdb.h: after a failed open the handle must still be closed. */
    mdb_env_close(sp->env);
    sp->env = NULL;
  }
  return rc;
}

/* A writer creates the two files itself before LMDB opens them, 0600
 * whatever the umask: LMDB creates with 0600 & ~umask, and an umask that
 * strips owner write would make its own second open of the data file
 * (O_WRONLY, for meta pages) fail. LMDB takes an empty data file for a new
 * environment. O_EXCL: only a file we just made is closed here, so no lock
 * of an environment is dropped. */
static int precreate(struct spool *sp, const char *path) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return errno == EEXIST ? SPOOL_OK
                           : spool_failf(sp, SPOOL_ERR_IO, "create %s: %s",
                                         path, strerror(errno));
  int rc = fchmod(fd, 0600);
  int e = errno;
  close(fd);
  if (rc != 0)
    return spool_failf(sp, SPOOL_ERR_IO, "chmod 0600 %s: %s", path,
                       strerror(e));
  return SPOOL_OK;
}

/* After the open: the data fd is the one LMDB opens without O_CLOEXEC
 * (0.9.24 mdb_fopen: lock and meta fds get it, me_fd does not, since
 * programs fetch it with mdb_env_get_fd). A lock file that LMDB created
 * for a reader gets the data file's mode and (when we can) owner, so that
 * a reader run by another user never locks the owner out. */
static int fix_files(struct spool *sp, const char *lock, int lock_existed) {
  int fd;
  int rc = mdb_env_get_fd(sp->env, &fd);
  if (rc)
    return spool_fail(sp, rc, "get the data file descriptor");
  int fl = fcntl(fd, F_GETFD);
  if (fl == -1 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
    return spool_failf(sp, SPOOL_ERR_IO, "set close-on-exec on %s: %s",
                       sp->path, strerror(errno));
  struct stat st, lst;
  if (!lock_existed && fstat(fd, &st) == 0 && stat(lock, &lst) == 0) {
    if (chmod(lock, st.st_mode & 0666) != 0)
      return spool_failf(sp, SPOOL_ERR_IO, "chmod %s: %s", lock,
                         strerror(errno));
    if ((lst.st_uid != st.st_uid || lst.st_gid != st.st_gid) && geteuid() == 0)
      (void)!chown(lock, st.st_uid, st.st_gid);
  }
  return SPOOL_OK;
}

/* "autotrace-spool <major>[.<anything>]" -> major, or -1. */
static long format_major(const MDB_val *v) {
  size_t plen = strlen(SPOOL_FORMAT_PREFIX);
  const char *s = v->mv_data;
  if (v->mv_size <= plen || memcmp(s, SPOOL_FORMAT_PREFIX, plen) != 0)
    return -1;
  long major = 0;
  size_t i = plen;
  for (; i < v->mv_size && i < plen + 9; i++) {
    if (s[i] < '0' || s[i] > '9')
      break;
    major = major * 10 + (s[i] - '0');
  }
  if (i == plen || (i < v->mv_size && s[i] != '.'))
    return -1;
  return major;
}

/* Open the five databases inside t. Returns 0 when they are all there and
 * the format is ours, 1 when the environment is empty and init is 0 (a
 * fresh spool: nothing set in t), else t->err. With init, a fresh
 * environment is initialised: meta first, then the others. */
static int open_dbs(struct spool_txn *t, int init) {
  struct spool *sp = t->sp;
  MDB_txn *txn = t->txn;
  int rc = mdb_dbi_open(txn, SPOOL_DB_META, 0, &sp->db_meta);
  if (rc == MDB_NOTFOUND) {
    MDB_dbi main_db;
    MDB_stat ms;
    rc = mdb_dbi_open(txn, NULL, 0, &main_db);
    if (!rc)
      rc = mdb_stat(txn, main_db, &ms);
    if (rc) {
      spool_txn_fail(t, rc, "read the main database");
      return t->err;
    }
    if (ms.ms_entries != 0) {
      t->err = spool_failf(sp, SPOOL_ERR_VERSION,
                           "%s holds an LMDB environment that is not an "
                           "autotrace spool (no meta database)",
                           sp->path);
      return t->err;
    }
    if (!init)
      return 1;
    rc = mdb_dbi_open(txn, SPOOL_DB_META, MDB_CREATE, &sp->db_meta);
    if (rc) {
      spool_txn_fail(t, rc, "create the meta database");
      return t->err;
    }
    unsigned char zero[8];
    spool_put_be64(zero, 0);
    spool_txn_put(t, sp->db_meta, SPOOL_META_FORMAT, strlen(SPOOL_META_FORMAT),
                  SPOOL_FORMAT_VALUE, strlen(SPOOL_FORMAT_VALUE), 0, 0);
    spool_txn_put(t, sp->db_meta, SPOOL_META_LAST_SEQ,
                  strlen(SPOOL_META_LAST_SEQ), zero, 8, 0, 0);
  } else if (rc) {
    spool_txn_fail(t, rc, "open the meta database");
    return t->err;
  } else {
    MDB_val v;
    if (!spool_txn_get(t, sp->db_meta, SPOOL_META_FORMAT,
                       strlen(SPOOL_META_FORMAT), &v)) {
      if (!t->err)
        t->err = spool_failf(sp, SPOOL_ERR_VERSION,
                             "%s is not an autotrace spool (meta has no "
                             "format)",
                             sp->path);
      return t->err;
    }
    long major = format_major(&v);
    if (major != SPOOL_FORMAT_MAJOR) {
      int n = v.mv_size > 64 ? 64 : (int)v.mv_size;
      t->err =
          spool_failf(sp, SPOOL_ERR_VERSION,
                      "%s has format \"%.*s\"; this build reads \"%s\"",
                      sp->path, n, (const char *)v.mv_data, SPOOL_FORMAT_VALUE);
      return t->err;
    }
  }
  static const char *const names[] = {SPOOL_DB_RECORDS, SPOOL_DB_OPEN,
                                      SPOOL_DB_COUNTERS, SPOOL_DB_CURSORS};
  MDB_dbi *dbis[] = {&sp->db_records, &sp->db_open, &sp->db_counters,
                     &sp->db_cursors};
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !t->err; i++) {
    rc = mdb_dbi_open(txn, names[i], init ? MDB_CREATE : 0, dbis[i]);
    if (rc == MDB_NOTFOUND)
      t->err =
          spool_failf(sp, SPOOL_ERR_CORRUPT, "%s: database \"%s\" is missing",
                      sp->path, names[i]);
    else if (rc)
      spool_txn_fail(t, rc, "open a database");
  }
  return t->err;
}

/* Readers look in a read transaction; a writer that finds a fresh
 * environment initialises it in a write transaction, where LMDB's writer
 * lock settles a race between processes creating the spool at once (the
 * loser finds the meta database and only checks it). */
static int init_dbs(struct spool *sp, int writer) {
  struct spool_txn t;
  spool_txn_begin(&t, sp, 1);
  int rc = t.err ? t.err : open_dbs(&t, 0);
  if (rc == 0)
    return spool_txn_commit(&t); /* keeps the dbi handles */
  spool_txn_abort(&t);
  if (rc != 1)
    return rc;
  if (!writer)
    return spool_failf(sp, SPOOL_ERR_NOTFOUND,
                       "spool at %s is empty (still being created)", sp->path);
  spool_txn_begin(&t, sp, 0);
  if (!t.err)
    open_dbs(&t, 1);
  int rc2 = spool_txn_commit(&t);
  sp->dirty = rc2 == SPOOL_OK;
  return rc2;
}

static int open_spool(struct spool *sp, const char *dir, int flags,
                      const struct spool_options *opt) {
  int reader = (flags & SPOOL_OPEN_READONLY) != 0;
  char data[sizeof sp->path + sizeof DATA_FILE];
  char lock[sizeof sp->path + sizeof LOCK_FILE];
  snprintf(data, sizeof data, "%s" DATA_FILE, dir);
  snprintf(lock, sizeof lock, "%s" LOCK_FILE, dir);

  int rc = reader ? check_exists(sp, dir, data) : make_dirs(sp, dir);
  if (!rc && !reader)
    rc = precreate(sp, lock);
  if (!rc && !reader)
    rc = precreate(sp, data);
  if (rc)
    return rc;
  struct stat st;
  int lock_existed = stat(lock, &st) == 0;

  size_t map_size =
      opt && opt->map_size ? opt->map_size : SPOOL_DEFAULT_MAP_SIZE;
  sp->map_max = opt && opt->map_max ? opt->map_max : SPOOL_DEFAULT_MAP_MAX;
  /* MDB_NOTLS: reader slots belong to transactions, not threads (no
   * pthread key in the host, walks from any thread). MDB_NOSYNC: see
   * "Durability" in docs/spool-format.md; spool_close() syncs. */
  unsigned int envflags = MDB_NOTLS | MDB_NOSYNC;
  rc = env_open(sp, dir, map_size, envflags);
  if (reader && (rc == EACCES || rc == EPERM || rc == EROFS)) {
    /* No write access to the data file: read-only LMDB still needs the
     * lock file writable (except on a read-only file system). */
    int rc2 = env_open(sp, dir, map_size, envflags | MDB_RDONLY);
    if (rc2 == 0) {
      sp->rdonly = 1;
      rc = 0;
    } else {
      return spool_failf(sp, SPOOL_ERR_IO,
                         "open spool %s: %s; read-only: %s (LMDB readers "
                         "need write access to %s)",
                         dir, mdb_strerror(rc), mdb_strerror(rc2), lock);
    }
  }
  if (rc) {
    char ctx[sizeof sp->path + 32];
    snprintf(ctx, sizeof ctx, "open spool %s", dir);
    return spool_fail(sp, rc, ctx);
  }
  rc = fix_files(sp, lock, lock_existed);
  if (rc)
    return rc;
  /* Free reader slots that killed processes left behind, or writers could
   * never reuse the pages those snapshots pin. */
  rc = mdb_reader_check(sp->env, NULL);
  if (rc)
    return spool_fail(sp, rc, "clear stale readers");
  return init_dbs(sp, !reader);
}

int spool_open_opts(const char *dir, int flags, const struct spool_options *opt,
                    struct spool **out, char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (out)
    *out = NULL;
  struct spool *sp = NULL;
  int rc;
  const char *msg = NULL;
  if (!dir || !*dir || !out || (flags & ~SPOOL_OPEN_READONLY)) {
    rc = SPOOL_ERR_INVAL;
    msg = "spool_open: invalid argument";
  } else if (strlen(dir) + sizeof LOCK_FILE > sizeof sp->path) {
    rc = SPOOL_ERR_INVAL;
    msg = "spool_open: folder path too long";
  } else if (!(sp = calloc(1, sizeof *sp))) {
    rc = SPOOL_ERR_NOMEM;
    msg = "spool_open: out of memory";
  } else {
    sp->pid = getpid();
    snprintf(sp->path, sizeof sp->path, "%s", dir);
    rc = open_spool(sp, dir, flags, opt);
    msg = sp->err;
  }
  if (rc == 0) {
    sp->err[0] = '\0';
    *out = sp;
    return 0;
  }
  if (err && errlen)
    snprintf(err, errlen, "%s", msg);
  if (sp) {
    if (sp->env)
      mdb_env_close(sp->env);
    free(sp);
  }
  return rc;
}

int spool_open(const char *dir, int flags, struct spool **out, char *err,
               size_t errlen) {
  return spool_open_opts(dir, flags, NULL, out, err, errlen);
}

void spool_close(struct spool *sp) {
  if (!sp)
    return;
  if (sp->pid != getpid()) {
    /* Closing in a forked child would clear reader slots and close fds
     * the way lmdb.h warns against: treat it as the abandon it must be. */
    spool_abandon(sp);
    return;
  }
  if (sp->walking)
    return; /* from inside a callback: the walk still uses the env */
  if (sp->dirty)
    (void)mdb_env_sync(sp->env, 1); /* the one flush MDB_NOSYNC skipped */
  mdb_env_close(sp->env);
  free(sp);
}

/* Environments abandoned after fork(), kept reachable on purpose: they are
 * never used or closed again, and a leak checker must not mistake that
 * deliberate choice for a leak. A process forks a bounded number of levels
 * deep; past the table's size the pointer is simply dropped. */
#define SPOOL_ABANDONED_MAX 16
static MDB_env *abandoned[SPOOL_ABANDONED_MAX];
static unsigned n_abandoned;

void spool_abandon(struct spool *sp) {
  /* The MDB_env, its maps and fds stay as the parent left them: they are
   * the child's copies, never used again, released at exit or exec (every
   * fd is close-on-exec). */
  if (!sp)
    return;
  if (n_abandoned < SPOOL_ABANDONED_MAX)
    abandoned[n_abandoned++] = sp->env;
  free(sp);
}
