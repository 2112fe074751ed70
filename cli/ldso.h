/* ldso: find the file a DT_NEEDED name resolves to, in the order glibc's
 * dynamic loader searches (ld.so(8)), without running the loader:
 *
 *   1. a name with a slash is a path (relative to the current folder);
 *   2. DT_RPATH of the object that needs it, then of the executable —
 *      only when the needing object has no DT_RUNPATH;
 *   3. LD_LIBRARY_PATH, unless the program runs in secure-execution mode;
 *   4. DT_RUNPATH of the object that needs it;
 *   5. /etc/ld.so.cache;
 *   6. the default folders (/lib/<multiarch>, /usr/lib/<multiarch>,
 *      /lib64, /usr/lib64, /lib, /usr/lib).
 *
 * $ORIGIN in a path list is the folder of the object that holds it;
 * entries using $LIB or $PLATFORM are skipped. A candidate is taken only
 * when it is an ELF file of the executable's class and machine, as the
 * loader does. Not modelled: glibc-hwcaps subfolders outside the cache,
 * the RPATH of intermediate loaders between the needing object and the
 * executable, and preloaded objects. */
#ifndef AT_CLI_LDSO_H
#define AT_CLI_LDSO_H

#include <stddef.h>

struct ldso;

/* The object a name is needed by: its path (for $ORIGIN) and path lists. */
struct ldso_obj {
  const char *path;
  const char *rpath;   /* DT_RPATH or NULL */
  const char *runpath; /* DT_RUNPATH or NULL */
};

/* A search for programs of this ELF class and machine. ld_library_path is
 * the program's LD_LIBRARY_PATH (NULL when unset); secure: the program runs
 * in secure-execution mode (setuid), which ignores it. cache_path is the
 * ld.so.cache to read (NULL: /etc/ld.so.cache; a missing one is empty).
 * Returns NULL when out of memory. */
struct ldso *ldso_new(int cls, unsigned machine, const char *ld_library_path,
                      int secure, const char *cache_path);
void ldso_free(struct ldso *ld);

/* Resolve name, needed by `by` in a program whose executable is `exe` (the
 * same as `by` for the executable's own needs). Writes the path into out
 * and returns 0, or returns -1 when the loader would not find it. */
int ldso_find(struct ldso *ld, const char *name, const struct ldso_obj *by,
              const struct ldso_obj *exe, char *out, size_t outlen);

#endif
