/* bufpool: capture buffers kept for the next exchange instead of freed.
 *
 * An exchange's copies (request headers and body, response headers and
 * body) are made on the app's thread into malloc()ed buffers that travel
 * with the capture to the writer, which gives them back here once it has
 * parsed them (preload/worker.c). Freed and allocated again for the next
 * exchange, those buffers cost the app's thread what the copies do not:
 * large allocations make glibc consolidate its fast bins and sort its
 * unsorted chunks, the memory comes back cold (or, after a heap trim, as
 * fresh pages: ~2.5 us a page fault on a VM). Measured on make bench's
 * CPU test, _int_malloc, _int_free and malloc_consolidate together cost
 * the app's thread ~10 us per 10 KB exchange. This pool keeps a few of
 * them, bounded in count and bytes, for the next exchange to copy into.
 *
 * Thread-safe: one mutex, held for a few list operations (one free list
 * per power-of-two size class, see bufpool.c); the fork handlers of
 * preload/worker.c call the atfork functions. */
#ifndef AT_BUFPOOL_H
#define AT_BUFPOOL_H

#include <stddef.h>

/* A batch of 64 consumed captures gives back up to 5 buffers each. */
#define AT_BUFPOOL_SLOTS 512
#define AT_BUFPOOL_BYTES (4u << 20)     /* all kept buffers together */
#define AT_BUFPOOL_MAX_BUF (256u << 10) /* bigger ones are freed */
#define AT_BUFPOOL_MIN_BUF 256u         /* smaller ones too: not worth a slot */

/* A kept buffer of at least want bytes, its size in *cap: from want's own
 * size class when one there is big enough, else from the smallest class
 * above that has one; the most recently kept first. NULL when there is
 * none (the caller allocates as before). */
char *at_bufpool_get(size_t want, size_t *cap);

/* The same for n buffers at once, under one lock (each lock taken is a
 * cache line the writer thread may hold): out[i] and cap[i] for want[i],
 * out[i] NULL where there is none. */
void at_bufpool_get_n(size_t n, const size_t *want, char **out, size_t *cap);

/* Keep p (malloc()ed, cap bytes) for a later get, or free it when the
 * pool is full or p is too big. p may be NULL. */
void at_bufpool_put(char *p, size_t cap);

/* A zeroed capture, its memory kept from an earlier one when the pool has
 * room for it (a capture is ~2 KB: past glibc's tcache, its calloc/free
 * went through the bins on the app's thread for every exchange); NULL when
 * out of memory. */
struct at_capture *at_capture_alloc(void);

/* Free a consumed capture: the copies of a curl exchange and the capture's
 * own memory are kept for later exchanges, the rest is freed. */
void at_capture_release(struct at_capture *c);

/* Buffers kept now (tests). */
size_t at_bufpool_count(void);

void at_bufpool_atfork_prepare(void);
void at_bufpool_atfork_parent(void);
/* The child keeps the parent's buffers (they are its memory too). */
void at_bufpool_atfork_child(void);

#endif
