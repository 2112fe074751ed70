#include "symbols.h"

#include <dlfcn.h>
#include <stddef.h>

void *at_find_symbol(const char *name, void *self) {
  void *p = dlsym(RTLD_NEXT, name);
  if (p == self)
    return NULL; /* would recurse into our own hook */
  return p;
}
