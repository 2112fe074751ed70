/* ndjson: incremental newline-delimited JSON splitter (see ndjson.h). */
#include "ndjson.h"

#include <string.h>

void at_ndjson_init(struct at_ndjson *s, size_t max_line, at_ndjson_cb cb,
                    void *arg) {
  memset(s, 0, sizeof(*s));
  s->cb = cb;
  s->arg = arg;
  s->max_line = max_line ? max_line : 1;
  /* One byte more than the cap (a '\r' before the '\n' is counted with
   * the line until the end is seen): the checks below, not dynbuf's
   * silent cut, decide what is too big. */
  dynbuf_init(&s->line, s->max_line + 2);
}

void at_ndjson_free(struct at_ndjson *s) {
  dynbuf_free(&s->line);
}

static int blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
      return 0;
  return 1;
}

/* A complete line (its '\n' already dropped). */
static void deliver(struct at_ndjson *s, const char *p, size_t n,
                    size_t end_offset, int unterminated) {
  if (!s->first_done) {
    s->first_done = 1;
    if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
      p += 3;
      n -= 3;
    }
  }
  if (n && p[n - 1] == '\r')
    n--;
  if (blank(p, n))
    return;
  struct at_ndjson_line l = {p, n, end_offset, unterminated};
  s->lines++;
  if (unterminated)
    s->unterminated = 1;
  if (s->cb && s->cb(&l, s->arg))
    s->stopped = 1;
}

/* A line that is too long (or could not be buffered): dropped, counted,
 * and, when its end has not been seen yet, skipped up to it. */
static void overflow(struct at_ndjson *s, int end_seen) {
  s->oversize++;
  s->skipping = !end_seen;
  s->pending = 0;
  dynbuf_reset(&s->line);
  s->first_done = 1; /* the BOM check belongs to the first line */
}

/* Too long? A '\r' before the line end is not counted. */
static int too_long(const struct at_ndjson *s, const char *p, size_t n) {
  return n > s->max_line + (n && p[n - 1] == '\r');
}

void at_ndjson_feed(struct at_ndjson *s, const char *p, size_t n) {
  /* Bounded: every pass consumes the rest of a line or all that is
   * left. */
  while (n && !s->stopped) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    size_t used = nl ? take + 1 : take;
    s->offset += used;
    if (s->skipping) {
      s->skipping = !nl;
    } else if (!s->pending && nl) {
      /* the usual case: a whole line inside this piece, no copy */
      if (too_long(s, p, take))
        overflow(s, 1);
      else
        deliver(s, p, take, s->offset, 0);
    } else if (s->line.len + take > s->max_line + 1 ||
               dynbuf_add(&s->line, p, take) != 0) {
      overflow(s, nl != NULL);
    } else if (nl) {
      const char *l = s->line.ptr ? s->line.ptr : "";
      s->pending = 0;
      if (too_long(s, l, s->line.len))
        overflow(s, 1);
      else
        deliver(s, l, s->line.len, s->offset, 0);
      dynbuf_reset(&s->line);
    } else {
      s->pending = 1;
    }
    p += used;
    n -= used;
  }
}

void at_ndjson_finish(struct at_ndjson *s) {
  if (!s->stopped && !s->skipping && s->pending) {
    const char *l = s->line.ptr ? s->line.ptr : "";
    if (too_long(s, l, s->line.len))
      overflow(s, 1);
    else
      deliver(s, l, s->line.len, s->offset, 1);
  }
  s->pending = 0;
  s->skipping = 0;
  dynbuf_reset(&s->line);
}

void at_ndjson_parse(struct at_ndjson *s, const char *p, size_t n,
                     size_t max_line, at_ndjson_cb cb, void *arg) {
  at_ndjson_init(s, max_line, cb, arg);
  at_ndjson_feed(s, p, n);
  at_ndjson_finish(s);
}

/* One line's bounds: skips blank lines; returns 0 at the end. */
static int next_line(const char **p, const char *end, const char **ls,
                     const char **le) {
  while (*p < end) {
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl ? nl : end;
    const char *a = *p, *b = e;
    *p = nl ? nl + 1 : end;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
      a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
      b--;
    if (a < b) {
      *ls = a;
      *le = b;
      return 1;
    }
  }
  return 0;
}

int at_ndjson_sniff(const char *p, size_t n) {
  const char *end = p + n, *ls, *le;
  if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3;
  if (!next_line(&p, end, &ls, &le))
    return 0;
  if (*ls != '{' || le[-1] != '}')
    return 0;
  return next_line(&p, end, &ls, &le) && *ls == '{';
}
