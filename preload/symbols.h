/* symbols: the real implementations behind our hooks.
 *
 * Resolved with dlsym(RTLD_NEXT) on first use, so the shim never loads a
 * library by itself: when the application has no libcurl, no curl hook is
 * ever called and nothing is resolved. A lookup that returns our own hook
 * (a broken link order) is treated as missing rather than recursing. */
#ifndef AT_SYMBOLS_H
#define AT_SYMBOLS_H

/* Returns the next definition of `name` after the shim, or NULL when there
 * is none or it is `self`. */
void *at_find_symbol(const char *name, void *self);

/* Cache a symbol in *slot. Racing threads store the same value. */
static inline void *at_resolve(void **slot, const char *name, void *self) {
  void *p = __atomic_load_n(slot, __ATOMIC_RELAXED);
  if (!p) {
    p = at_find_symbol(name, self);
    __atomic_store_n(slot, p, __ATOMIC_RELAXED);
  }
  return p;
}

#endif
