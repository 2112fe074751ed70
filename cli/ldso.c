/* ldso: see ldso.h. The ld.so.cache reader understands the format glibc's
 * ldconfig writes ("glibc-ld.so.cache1.1", alone or after the old
 * "ld.so-1.7.0" table); it matches entries by name and lets the ELF header
 * check pick the one for the right machine, instead of decoding the
 * per-architecture flag bits. */
#include "ldso.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf_inspect.h"

#define CACHE_MAX (64u << 20) /* larger is not an ld.so.cache */
#define OLD_MAGIC "ld.so-1.7.0"
#define NEW_MAGIC "glibc-ld.so.cache"
#define NEW_VERSION "1.1"
#define NEW_HEADER 48 /* magic 17, version 3, nlibs, len_strings, flags... */
#define NEW_ENTRY 24  /* flags, key, value, osversion, hwcap (u64) */
#define OLD_ENTRY 12  /* flags, key, value */

struct ldso {
  int cls;
  unsigned machine;
  char *llp; /* LD_LIBRARY_PATH, or NULL when unset or ignored */
  char *cache;
  size_t cache_len;
  size_t new_off; /* where the new-format table starts in cache */
  uint32_t nlibs;
  const char *dirs[6];
  char multiarch[2][64];
};

static const char *multiarch_of(unsigned machine, int cls) {
  switch (machine) {
  case EM_X86_64:
    return cls == ELFCLASS64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
  case EM_386:
    return "i386-linux-gnu";
  case EM_AARCH64:
    return "aarch64-linux-gnu";
  case EM_ARM:
    return "arm-linux-gnueabihf";
  case EM_RISCV:
    return "riscv64-linux-gnu";
  case EM_PPC64:
    return "powerpc64le-linux-gnu";
  case EM_S390:
    return "s390x-linux-gnu";
  default:
    return NULL;
  }
}

static void load_cache(struct ldso *ld, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
      (uint64_t)st.st_size > CACHE_MAX) {
    close(fd);
    return;
  }
  char *buf = malloc((size_t)st.st_size);
  size_t got = 0;
  while (buf && got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  close(fd);
  if (!buf || got != (size_t)st.st_size) {
    free(buf);
    return;
  }
  size_t off = 0;
  if (got >= 16 && memcmp(buf, OLD_MAGIC, sizeof OLD_MAGIC - 1) == 0) {
    /* The old table first; the new one follows, 8-byte aligned. */
    uint32_t nold;
    memcpy(&nold, buf + sizeof OLD_MAGIC - 1, 4);
    uint64_t end = 16 + (uint64_t)nold * OLD_ENTRY;
    off = (size_t)((end + 7) & ~(uint64_t)7);
  }
  if (off > got || got - off < NEW_HEADER ||
      memcmp(buf + off, NEW_MAGIC, sizeof NEW_MAGIC - 1) != 0 ||
      memcmp(buf + off + 17, NEW_VERSION, 3) != 0) {
    free(buf); /* only the old format (pre-2.32 era with compat off) */
    return;
  }
  uint32_t nlibs;
  memcpy(&nlibs, buf + off + 20, 4);
  if ((uint64_t)nlibs * NEW_ENTRY > got - off - NEW_HEADER) {
    free(buf);
    return;
  }
  ld->cache = buf;
  ld->cache_len = got;
  ld->new_off = off;
  ld->nlibs = nlibs;
}

struct ldso *ldso_new(int cls, unsigned machine, const char *ld_library_path,
                      int secure, const char *cache_path) {
  struct ldso *ld = calloc(1, sizeof *ld);
  if (!ld)
    return NULL;
  ld->cls = cls;
  ld->machine = machine;
  if (ld_library_path && *ld_library_path && !secure) {
    ld->llp = strdup(ld_library_path);
    if (!ld->llp) {
      free(ld);
      return NULL;
    }
  }
  load_cache(ld, cache_path ? cache_path : "/etc/ld.so.cache");
  size_t nd = 0;
  const char *ma = multiarch_of(machine, cls);
  if (ma) {
    snprintf(ld->multiarch[0], sizeof ld->multiarch[0], "/lib/%s", ma);
    snprintf(ld->multiarch[1], sizeof ld->multiarch[1], "/usr/lib/%s", ma);
    ld->dirs[nd++] = ld->multiarch[0];
    ld->dirs[nd++] = ld->multiarch[1];
  }
  if (cls == ELFCLASS64) {
    ld->dirs[nd++] = "/lib64";
    ld->dirs[nd++] = "/usr/lib64";
  }
  ld->dirs[nd++] = "/lib";
  ld->dirs[nd++] = "/usr/lib";
  return ld;
}

void ldso_free(struct ldso *ld) {
  if (!ld)
    return;
  free(ld->llp);
  free(ld->cache);
  free(ld);
}

/* dir/name when it is a library the loader would take. */
static int try_dir(struct ldso *ld, const char *dir, size_t dirlen,
                   const char *name, char *out, size_t outlen) {
  if (dirlen == 0) {
    dir = "."; /* an empty entry is the current folder */
    dirlen = 1;
  }
  int n = snprintf(out, outlen, "%.*s/%s", (int)dirlen, dir, name);
  if (n < 0 || (size_t)n >= outlen)
    return -1;
  return elf_matches(out, ld->cls, ld->machine);
}

/* Expand one entry of a path list ($ORIGIN, ${ORIGIN}) into buf; -1 when
 * it uses what we do not model ($LIB, $PLATFORM) or does not fit. */
static int expand(const char *entry, size_t len, const char *origin_of,
                  char *buf, size_t buflen) {
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    if (entry[i] == '$') {
      size_t nl;
      if (len - i >= 7 && memcmp(entry + i, "$ORIGIN", 7) == 0)
        nl = 7;
      else if (len - i >= 9 && memcmp(entry + i, "${ORIGIN}", 9) == 0)
        nl = 9;
      else
        return -1;
      if (!origin_of)
        return -1;
      char real[PATH_MAX];
      const char *p = realpath(origin_of, real) ? real : origin_of;
      const char *slash = strrchr(p, '/');
      size_t dl = slash ? (size_t)(slash - p) : 1;
      if (!slash)
        p = ".";
      if (o + dl >= buflen)
        return -1;
      memcpy(buf + o, p, dl);
      o += dl;
      i += nl;
      continue;
    }
    if (o + 1 >= buflen)
      return -1;
    buf[o++] = entry[i++];
  }
  buf[o] = '\0';
  return 0;
}

static int try_list(struct ldso *ld, const char *list, const char *origin_of,
                    const char *name, char *out, size_t outlen) {
  if (!list)
    return -1;
  const char *p = list;
  for (int guard = 0; guard < 256; guard++) {
    size_t len = strcspn(p, ":;");
    char dir[PATH_MAX];
    if (expand(p, len, origin_of, dir, sizeof dir) == 0 &&
        try_dir(ld, dir, strlen(dir), name, out, outlen) == 0)
      return 0;
    if (p[len] == '\0')
      break;
    p += len + 1;
  }
  return -1;
}

static int try_cache(struct ldso *ld, const char *name, char *out,
                     size_t outlen) {
  if (!ld->cache)
    return -1;
  const char *base = ld->cache + ld->new_off; /* offsets count from here */
  size_t span = ld->cache_len - ld->new_off;
  for (uint32_t i = 0; i < ld->nlibs; i++) {
    const char *e = base + NEW_HEADER + (size_t)i * NEW_ENTRY;
    uint32_t key, value;
    memcpy(&key, e + 4, 4);
    memcpy(&value, e + 8, 4);
    if (key >= span || value >= span)
      continue;
    const char *k = base + key, *v = base + value;
    if (!memchr(k, '\0', span - key) || !memchr(v, '\0', span - value))
      continue;
    if (strcmp(k, name) != 0)
      continue;
    if (strlen(v) < outlen && elf_matches(v, ld->cls, ld->machine) == 0) {
      strcpy(out, v);
      return 0;
    }
  }
  return -1;
}

int ldso_find(struct ldso *ld, const char *name, const struct ldso_obj *by,
              const struct ldso_obj *exe, char *out, size_t outlen) {
  if (strchr(name, '/')) {
    if (strlen(name) >= outlen || elf_matches(name, ld->cls, ld->machine))
      return -1;
    strcpy(out, name);
    return 0;
  }
  if (by && !by->runpath) {
    if (try_list(ld, by->rpath, by->path, name, out, outlen) == 0)
      return 0;
    if (exe && exe != by && !exe->runpath &&
        try_list(ld, exe->rpath, exe->path, name, out, outlen) == 0)
      return 0;
  }
  if (try_list(ld, ld->llp, NULL, name, out, outlen) == 0)
    return 0;
  if (by && try_list(ld, by->runpath, by->path, name, out, outlen) == 0)
    return 0;
  if (try_cache(ld, name, out, outlen) == 0)
    return 0;
  for (size_t i = 0; i < sizeof ld->dirs / sizeof *ld->dirs; i++)
    if (ld->dirs[i] &&
        try_dir(ld, ld->dirs[i], strlen(ld->dirs[i]), name, out, outlen) == 0)
      return 0;
  return -1;
}
