/* chunked: see chunked.h. A byte-driven state machine for the short parts
 * (size lines, CRLFs, trailers) and one span per call for chunk data.
 * Bare LF is accepted wherever CRLF is expected (RFC 9112 §2.2). */
#include "chunked.h"

#include <string.h>

enum {
  CK_SIZE,       /* reading hex digits */
  CK_EXT,        /* after the size: whitespace, extensions, up to LF */
  CK_DATA,       /* chunk data; size = bytes left */
  CK_DATA_CR,    /* expecting the CRLF after chunk data */
  CK_DATA_LF,    /* CR seen after chunk data */
  CK_TRAILER,    /* at the start of a trailer line (or the final CRLF) */
  CK_TRAILER_IN, /* inside a trailer field line */
  CK_END_LF,     /* CR seen on the empty line that ends the message */
  CK_DONE,
  CK_ERROR
};

void wire_chunked_init(struct wire_chunked *c, size_t max_trailer) {
  memset(c, 0, sizeof *c);
  c->state = CK_SIZE;
  c->max_trailer = max_trailer;
}

int wire_chunked_done(const struct wire_chunked *c) {
  return c->state == CK_DONE;
}

int wire_chunked_in_data(const struct wire_chunked *c) {
  return c->state == CK_DATA;
}

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  ch |= 0x20;
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  return -1;
}

static size_t fail(struct wire_chunked *c, const char *why, size_t at) {
  c->state = CK_ERROR;
  c->error = why;
  return at;
}

/* The size line ended: data, or the trailer section after the last chunk. */
static void size_line_done(struct wire_chunked *c) {
  c->state = c->size ? CK_DATA : CK_TRAILER;
  c->line = 0;
  c->semi = 0;
}

size_t wire_chunked_feed(struct wire_chunked *c, const char *p, size_t n,
                         wire_data_fn cb, void *arg) {
  size_t i = 0;
  while (i < n) {
    unsigned char ch = (unsigned char)p[i];
    switch (c->state) {
    case CK_SIZE: {
      int v = hexval(ch);
      if (v >= 0) {
        if (c->digits == 16)
          return fail(c, "chunk size too large", i);
        c->size = c->size << 4 | (uint64_t)v;
        c->digits++;
        c->line++;
        i++;
        break;
      }
      if (c->digits == 0)
        return fail(c, "invalid chunk size", i);
      if (ch != ';' && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
        return fail(c, "invalid chunk size", i);
      c->state = CK_EXT;
      break; /* the same byte is looked at again as CK_EXT */
    }
    case CK_EXT: {
      if (!c->semi) {
        /* BWS, then ";" or the line end */
        if (ch == '\n') {
          i++;
          size_line_done(c);
          break;
        }
        if (ch == ';')
          c->semi = 1;
        else if (ch != ' ' && ch != '\t' && ch != '\r')
          return fail(c, "invalid chunk size", i);
        if (++c->line > WIRE_CHUNK_LINE_MAX)
          return fail(c, "chunk extension too long", i);
        i++;
        break;
      }
      /* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ): skipped
       * up to the line end (its CR included), within WIRE_CHUNK_LINE_MAX. */
      const char *lf = memchr(p + i, '\n', n - i);
      size_t upto = lf ? (size_t)(lf - p) : n;
      size_t len = upto - i;
      if (c->line + len > WIRE_CHUNK_LINE_MAX)
        return fail(c, "chunk extension too long", i);
      c->line += len;
      if (!lf) {
        i = n;
        break;
      }
      i = upto + 1;
      size_line_done(c);
      break;
    }
    case CK_DATA: {
      size_t take = n - i;
      if ((uint64_t)take > c->size)
        take = (size_t)c->size;
      if (cb)
        cb(arg, p + i, take);
      c->data_total += take;
      c->size -= take;
      i += take;
      if (c->size == 0)
        c->state = CK_DATA_CR;
      break;
    }
    case CK_DATA_CR:
      if (ch == '\r')
        c->state = CK_DATA_LF;
      else if (ch == '\n')
        c->state = CK_SIZE, c->digits = 0;
      else
        return fail(c, "missing CRLF after chunk data", i);
      i++;
      break;
    case CK_DATA_LF:
      if (ch != '\n')
        return fail(c, "missing CRLF after chunk data", i);
      c->state = CK_SIZE;
      c->digits = 0;
      i++;
      break;
    case CK_TRAILER:
      if (ch == '\r') {
        c->state = CK_END_LF;
        i++;
      } else if (ch == '\n') {
        c->state = CK_DONE;
        i++;
      } else {
        c->state = CK_TRAILER_IN;
      }
      break;
    case CK_TRAILER_IN: {
      const char *lf = memchr(p + i, '\n', n - i);
      size_t upto = lf ? (size_t)(lf - p) + 1 : n;
      if (c->trailer + (upto - i) > c->max_trailer)
        return fail(c, "chunked trailer section too large", i);
      c->trailer += upto - i;
      i = upto;
      if (lf)
        c->state = CK_TRAILER;
      break;
    }
    case CK_END_LF:
      if (ch != '\n')
        return fail(c, "invalid end of chunked trailer section", i);
      c->state = CK_DONE;
      i++;
      break;
    default: /* CK_DONE, CK_ERROR: the rest is not ours */
      return i;
    }
    if (c->state == CK_DONE)
      return i;
  }
  return i;
}
