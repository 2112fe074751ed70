/* dynbuf: a growable byte buffer with a hard cap.
 *
 * Modelled on curl's dynbuf: every buffer has a maximum size fixed at init.
 * Appending past the cap keeps what fits and sets `truncated`, so a capture
 * of a huge body stays bounded and says that it was cut. The contents are
 * always NUL-terminated (the NUL is not counted in `len`), so text parsers
 * may treat the buffer as a C string while binary data stays intact. */
#ifndef AT_DYNBUF_H
#define AT_DYNBUF_H

#include <stddef.h>

struct dynbuf {
  char *ptr;     /* NULL until the first append */
  size_t len;    /* bytes held, excluding the terminating NUL */
  size_t cap;    /* bytes allocated */
  size_t max;    /* hard cap on len */
  int truncated; /* 1 once an append did not fit */
  int oom;       /* 1 once an allocation failed */
};

void dynbuf_init(struct dynbuf *b, size_t max);

/* Append n bytes. Returns 0 when everything was stored, 1 when the cap cut
 * the data (what fit is kept), -1 on allocation failure (buffer unchanged
 * but marked oom). Never aborts. */
int dynbuf_add(struct dynbuf *b, const void *p, size_t n);
int dynbuf_addstr(struct dynbuf *b, const char *s);

/* Make room for n more bytes up front (capped at max), so that a copy of
 * known size costs one allocation instead of a doubling chain. Returns 0,
 * or -1 on allocation failure (the buffer is unchanged). */
int dynbuf_reserve(struct dynbuf *b, size_t n);

/* Empty the buffer but keep its memory and its cap. */
void dynbuf_reset(struct dynbuf *b);

/* Make an empty buffer use p (malloc()ed, cap bytes, cap >= 1) as its
 * memory: a buffer kept from an earlier use, so that appends fill memory
 * that is already mapped and warm. The buffer owns p from now on. */
void dynbuf_adopt(struct dynbuf *b, char *p, size_t cap);

/* Hand the memory to the caller (who frees it) and re-init the buffer.
 * Returns NULL when nothing was ever appended. */
char *dynbuf_take(struct dynbuf *b, size_t *len);

void dynbuf_free(struct dynbuf *b);

#endif
