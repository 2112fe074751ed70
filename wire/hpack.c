/* hpack: libnghttp2's HPACK inflater behind a counting allocator; see
 * hpack.h. */
#include "hpack.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

/* Each allocation is preceded by its size, in a header that keeps the
 * block aligned for any type; the header counts against the bound. */
#define HDR ((size_t) _Alignof(max_align_t))
_Static_assert(_Alignof(max_align_t) >= sizeof(size_t), "size header fits");

struct wire_hpack {
  nghttp2_hd_inflater *inf;
  nghttp2_mem mem; /* the inflater keeps a pointer to it */
  size_t used, max;
  int over; /* an allocation was refused by the bound */
};

static void *budget_take(struct wire_hpack *h, size_t n) {
  if (n > SIZE_MAX - HDR)
    return NULL;
  if (n + HDR > h->max || h->used > h->max - (n + HDR)) {
    h->over = 1;
    return NULL;
  }
  size_t *p = malloc(n + HDR);
  if (!p)
    return NULL;
  p[0] = n;
  h->used += n + HDR;
  return (char *)p + HDR;
}

static void *m_malloc(size_t n, void *ud) {
  return budget_take(ud, n);
}

static void m_free(void *ptr, void *ud) {
  struct wire_hpack *h = ud;
  if (!ptr)
    return;
  size_t *p = (size_t *)(void *)((char *)ptr - HDR);
  h->used -= p[0] + HDR;
  free(p);
}

static void *m_calloc(size_t nmemb, size_t size, void *ud) {
  if (size && nmemb > SIZE_MAX / size)
    return NULL;
  void *p = budget_take(ud, nmemb * size);
  if (p)
    memset(p, 0, nmemb * size);
  return p;
}

static void *m_realloc(void *ptr, size_t n, void *ud) {
  struct wire_hpack *h = ud;
  if (!ptr)
    return budget_take(h, n);
  if (n == 0) {
    m_free(ptr, ud);
    return NULL;
  }
  size_t *old = (size_t *)(void *)((char *)ptr - HDR);
  size_t was = old[0];
  if (n > was && (n - was > h->max || h->used > h->max - (n - was))) {
    h->over = 1;
    return NULL;
  }
  if (n > SIZE_MAX - HDR)
    return NULL;
  size_t *p = realloc(old, n + HDR);
  if (!p)
    return NULL;
  p[0] = n;
  h->used = h->used - was + n;
  return (char *)p + HDR;
}

struct wire_hpack *wire_hpack_new(size_t max_mem) {
  struct wire_hpack *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->max = max_mem;
  h->mem.mem_user_data = h;
  h->mem.malloc = m_malloc;
  h->mem.free = m_free;
  h->mem.calloc = m_calloc;
  h->mem.realloc = m_realloc;
  if (nghttp2_hd_inflate_new2(&h->inf, &h->mem) != 0) {
    free(h);
    return NULL;
  }
  return h;
}

void wire_hpack_free(struct wire_hpack *h) {
  if (!h)
    return;
  nghttp2_hd_inflate_del(h->inf);
  free(h);
}

static const char *why(const struct wire_hpack *h, long rv) {
  if (h->over)
    return "HPACK: dynamic table over the memory bound";
  switch (rv) {
  case NGHTTP2_ERR_NOMEM:
    return "HPACK: out of memory";
  case NGHTTP2_ERR_BUFFER_ERROR:
    return "HPACK: header field too large";
  case NGHTTP2_ERR_INVALID_STATE:
    return "HPACK: table size change inside a header block";
  default:
    return "HPACK: invalid header block (COMPRESSION_ERROR)";
  }
}

int wire_hpack_decode(struct wire_hpack *h, const void *in, size_t n, int final,
                      wire_hpack_field_fn f, void *arg, const char **err) {
  const uint8_t *p = in;
  /* Each turn consumes input or emits a field (which consumed input
   * earlier), and ends with the block: the loop is bounded by n. */
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    ssize_t r = nghttp2_hd_inflate_hd2(h->inf, &nv, &flags, p, n, final);
    if (r < 0) {
      *err = why(h, (long)r);
      return -1;
    }
    p += r;
    n -= (size_t)r;
    if (flags & NGHTTP2_HD_INFLATE_EMIT)
      f(arg, (const char *)nv.name, nv.namelen, (const char *)nv.value,
        nv.valuelen);
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(h->inf);
      return 0;
    }
    if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
      return 0;
  }
}

int wire_hpack_table_size(struct wire_hpack *h, uint32_t size,
                          const char **err) {
  int r = nghttp2_hd_inflate_change_table_size(h->inf, size);
  if (r != 0) {
    *err = why(h, r);
    return -1;
  }
  return 0;
}

size_t wire_hpack_mem(const struct wire_hpack *h) {
  return h->used;
}
