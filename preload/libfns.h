/* libfns: the real functions of a library as its caller would have bound
 * them.
 *
 * dlsym(RTLD_NEXT) searches only the global scope. libssl and libgnutls
 * are often loaded into a local scope instead: Python's _ssl module is
 * dlopen()ed RTLD_LOCAL with libssl as its dependency, and wheels bundle
 * their own copy of libssl under another file name. Our SSL_write hook is
 * reached by all of them (the preloaded shim comes first in every lookup),
 * and must forward each call to the library the caller was linked with,
 * not to whichever copy a global lookup finds: a call with one copy's SSL*
 * in another copy's SSL_write would crash.
 *
 * So the real functions are looked up per calling object: from the return
 * address, the object that made the call (dladdr1), then dlsym() on a
 * handle to that object, which searches the object and its dependencies —
 * exactly what the dynamic linker would have bound without us. The answer
 * is cached per object (an address range), so a call costs a scan of a few
 * ranges; the slow path runs once per calling object. */
#ifndef AT_LIBFNS_H
#define AT_LIBFNS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define AT_LIBFNS_MAX_NAMES 16
#define AT_LIBFNS_MAX_OBJS 32

struct at_libfns_obj {
  uintptr_t lo, hi; /* the calling object's mapped range */
  void *fn[AT_LIBFNS_MAX_NAMES];
};

/* All zero until the first call (the names come with each call): the set
 * lives in .bss, so loading the shim writes no page of it. A pointer
 * initialised at compile time would need a relocation at load, and a
 * page fault (~2.5 us on a VM) in every process, LLM or not. */
struct at_libfns {
  const char *const *names; /* names[0..nnames) to resolve */
  size_t nnames;
  pthread_mutex_t mu; /* serialises the slow path */
  int n;              /* objects cached (published with release) */
  int registered;     /* known to the fork handler */
  struct at_libfns_obj objs[AT_LIBFNS_MAX_OBJS];
};

#define AT_LIBFNS_INIT                                                         \
  { .mu = PTHREAD_MUTEX_INITIALIZER }

/* The functions for a call made from return address ra: fn[i] is the
 * definition of names[i] (of nnames, the same at every call for a set)
 * the calling object sees (NULL when it has none). Never NULL itself. */
void *const *at_libfns_slow(struct at_libfns *L, const char *const *names,
                            size_t nnames, const void *ra);

static inline void *const *at_libfns_for(struct at_libfns *L,
                                         const char *const *names,
                                         size_t nnames, const void *ra) {
  int n = __atomic_load_n(&L->n, __ATOMIC_ACQUIRE);
  uintptr_t a = (uintptr_t)ra;
  for (int i = 0; i < n; i++)
    if (a >= L->objs[i].lo && a < L->objs[i].hi)
      return L->objs[i].fn;
  return at_libfns_slow(L, names, nnames, ra);
}

#endif
