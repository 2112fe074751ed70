/* libfns: per-caller resolution of real library functions (libfns.h). */
#include "libfns.h"

#include <dlfcn.h>
#include <link.h>
#include <string.h>

struct range_q {
  uintptr_t base; /* l_addr of the object */
  const char *name;
  uintptr_t lo, hi;
  int found;
};

static int find_range(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct range_q *q = arg;
  if (info->dlpi_addr != q->base ||
      strcmp(info->dlpi_name ? info->dlpi_name : "", q->name) != 0)
    return 0;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD)
      continue;
    uintptr_t s = info->dlpi_addr + ph->p_vaddr;
    if (s < lo)
      lo = s;
    if (s + ph->p_memsz > hi)
      hi = s + ph->p_memsz;
  }
  q->lo = lo;
  q->hi = hi;
  q->found = lo < hi;
  return 1;
}

/* Last resort: the first loaded object other than the shim that defines
 * name (a caller we could not identify). */
struct any_q {
  const char *sym;
  void *self_base;
  void *found;
};

static int find_any(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  struct any_q *q = arg;
  if (!info->dlpi_name || !info->dlpi_name[0])
    return 0; /* the main program: RTLD_NEXT already looked there */
  void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
  if (!h)
    return 0;
  void *p = dlsym(h, q->sym);
  dlclose(h);
  Dl_info di;
  if (p && dladdr(p, &di) && di.dli_fbase != q->self_base) {
    q->found = p;
    return 1;
  }
  return 0;
}

static void resolve(struct at_libfns *L, struct link_map *lm,
                    struct at_libfns_obj *o) {
  Dl_info self;
  void *self_base = dladdr((void *)resolve, &self) ? self.dli_fbase : NULL;
  void *h = NULL;
  if (lm && lm->l_name && lm->l_name[0])
    h = dlopen(lm->l_name, RTLD_LAZY | RTLD_NOLOAD);
  for (size_t i = 0; i < L->nnames; i++) {
    void *p = h ? dlsym(h, L->names[i]) : NULL;
    Dl_info di;
    if (p && dladdr(p, &di) && di.dli_fbase == self_base)
      p = NULL; /* never our own hook */
    if (!p) {
      p = dlsym(RTLD_NEXT, L->names[i]);
      if (p && dladdr(p, &di) && di.dli_fbase == self_base)
        p = NULL;
    }
    if (!p) {
      struct any_q q = {L->names[i], self_base, NULL};
      dl_iterate_phdr(find_any, &q);
      p = q.found;
    }
    o->fn[i] = p;
  }
  if (h)
    dlclose(h);
}

/* Every set that has resolved something, for the fork child handler. */
#define MAX_SETS 8
static struct at_libfns *sets[MAX_SETS];
static int nsets;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* In a fork()ed child: a set's mutex may have been held by another thread
 * of the parent (resolving); nobody holds it now. */
static void atfork_child(void) {
  for (int i = 0; i < nsets && i < MAX_SETS; i++)
    if (sets[i])
      pthread_mutex_init(&sets[i]->mu, NULL);
}

static void register_fork(void) {
  pthread_atfork(NULL, NULL, atfork_child);
}

/* For a caller that cannot be cached (unplaceable, or the cache is full):
 * per thread, so that another thread cannot overwrite it mid-call. */
static __thread struct at_libfns_obj spill;

void *const *at_libfns_slow(struct at_libfns *L, const char *const *names,
                            size_t nnames, const void *ra) {
  pthread_once(&fork_once, register_fork);
  pthread_mutex_lock(&L->mu);
  if (!L->names) {
    L->names = names;
    L->nnames = nnames;
  }
  if (!L->registered) {
    L->registered = 1;
    int i = __atomic_fetch_add(&nsets, 1, __ATOMIC_RELAXED);
    if (i < MAX_SETS)
      __atomic_store_n(&sets[i], L, __ATOMIC_RELEASE);
  }
  uintptr_t a = (uintptr_t)ra;
  int n = L->n;
  for (int i = 0; i < n; i++) {
    if (a >= L->objs[i].lo && a < L->objs[i].hi) {
      pthread_mutex_unlock(&L->mu);
      return L->objs[i].fn;
    }
  }
  Dl_info info;
  struct link_map *lm = NULL;
  struct range_q q = {0};
  if (dladdr1(ra, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm) {
    q.base = lm->l_addr;
    q.name = lm->l_name ? lm->l_name : "";
    dl_iterate_phdr(find_range, &q);
  }
  struct at_libfns_obj *o = n < AT_LIBFNS_MAX_OBJS ? &L->objs[n] : &spill;
  memset(o, 0, sizeof *o);
  resolve(L, lm, o);
  if (q.found && o != &spill) {
    o->lo = q.lo;
    o->hi = q.hi;
    __atomic_store_n(&L->n, n + 1, __ATOMIC_RELEASE);
  }
  /* A caller we could not place gets the spill slot, resolved afresh on
   * every call: slow, but right. (An unplaced object in the cache slot is
   * overwritten by the next miss: n was not advanced.) */
  if (!q.found && o != &spill) {
    spill = *o;
    o = &spill;
  }
  void *const *fn = o->fn;
  pthread_mutex_unlock(&L->mu);
  return fn;
}
