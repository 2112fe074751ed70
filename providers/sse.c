/* sse: incremental text/event-stream splitter (see sse.h). */
#include "sse.h"

#include <string.h>

#define SSE_NAME_MAX 1024 /* cap for the event and id fields */

static void reset_event(struct at_sse *s) {
  dynbuf_reset(&s->data);
  dynbuf_reset(&s->event);
}

void at_sse_init(struct at_sse *s, size_t max_event, at_sse_cb cb, void *arg) {
  memset(s, 0, sizeof(*s));
  s->cb = cb;
  s->arg = arg;
  s->max_event = max_event ? max_event : 1;
  /* The buffers get a little more room than max_event (and a first line
   * room for a BOM) so that the checks below, not dynbuf's silent cut,
   * decide what is too big. */
  dynbuf_init(&s->line, s->max_event + 8); /* + a BOM */
  dynbuf_init(&s->data, s->max_event + 2);
  dynbuf_init(&s->event, SSE_NAME_MAX);
  dynbuf_init(&s->id, SSE_NAME_MAX);
}

void at_sse_free(struct at_sse *s) {
  dynbuf_free(&s->line);
  dynbuf_free(&s->data);
  dynbuf_free(&s->event);
  dynbuf_free(&s->id);
}

static void overflow(struct at_sse *s) {
  if (!s->skipping)
    s->oversize++;
  s->skipping = 1;
  reset_event(s);
}

/* A blank line: hand over the event gathered so far, if it has data. */
static void dispatch(struct at_sse *s, size_t end_offset, int unterminated) {
  if (s->skipping) {
    s->skipping = 0;
    reset_event(s);
    return;
  }
  if (s->data.len == 0 || s->data.oom) {
    reset_event(s);
    return;
  }
  s->data.len--; /* the '\n' after the last data line */
  s->data.ptr[s->data.len] = '\0';
  struct at_sse_event ev = {
      .event = s->event.ptr ? s->event.ptr : "",
      .event_len = s->event.len,
      .data = s->data.ptr,
      .data_len = s->data.len,
      .id = s->id.ptr ? s->id.ptr : "",
      .id_len = s->id.len,
      .end_offset = end_offset,
      .unterminated = unterminated,
  };
  s->events++;
  if (s->cb && s->cb(&ev, s->arg))
    s->stopped = 1;
  reset_event(s);
}

static void process_line(struct at_sse *s, const char *line, size_t len,
                         size_t end_offset) {
  if (!s->bom_checked) {
    s->bom_checked = 1;
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
      line += 3;
      len -= 3;
    }
  }
  if (len == 0) {
    dispatch(s, end_offset, 0);
    return;
  }
  if (s->skipping || line[0] == ':')
    return; /* inside an oversized event, or a comment */
  if (len > s->max_event) {
    overflow(s);
    return;
  }
  /* "data:" lines are nearly all of a stream: recognised without a
   * search for the colon */
  const char *colon =
      len >= 5 && !memcmp(line, "data:", 5) ? line + 4 : memchr(line, ':', len);
  size_t flen = colon ? (size_t)(colon - line) : len;
  const char *v = colon ? colon + 1 : line + len;
  size_t vlen = (size_t)(line + len - v);
  if (vlen && *v == ' ') {
    v++;
    vlen--;
  }
  if (flen == 4 && memcmp(line, "data", 4) == 0) {
    if (s->data.len + vlen + 1 > s->max_event) {
      overflow(s);
      return;
    }
    struct dynbuf *d = &s->data;
    if (d->ptr && d->len + vlen + 2 <= d->cap) {
      /* room already: the value and its '\n' without two calls */
      memcpy(d->ptr + d->len, v, vlen);
      d->len += vlen;
      d->ptr[d->len++] = '\n';
      d->ptr[d->len] = '\0';
    } else {
      dynbuf_add(d, v, vlen);
      dynbuf_add(d, "\n", 1);
    }
  } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
    dynbuf_reset(&s->event);
    dynbuf_add(&s->event, v, vlen);
  } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
    if (!memchr(v, '\0', vlen)) {
      dynbuf_reset(&s->id);
      dynbuf_add(&s->id, v, vlen);
    }
  }
  /* "retry" and unknown fields are ignored, as the standard says. */
}

/* A line that arrived in several feeds is gathered in s->line. One that
 * grows past the cap is dropped: a comment silently (as a comment of any
 * length is), anything else by skipping its event, exactly as if the whole
 * line had arrived at once. */
static void hold_partial(struct at_sse *s, const char *p, size_t n) {
  if (s->skipping || s->partial_drop)
    return;
  size_t limit = s->max_event + (s->bom_checked ? 0 : 3); /* BOM room */
  if (s->line.len + n <= limit) {
    dynbuf_add(&s->line, p, n);
    return;
  }
  char head[4];
  size_t hn = s->line.len < sizeof head ? s->line.len : sizeof head;
  memcpy(head, s->line.ptr ? s->line.ptr : "", hn);
  for (size_t i = 0; hn < sizeof head && i < n; i++)
    head[hn++] = p[i];
  size_t skip =
      (!s->bom_checked && hn >= 3 && memcmp(head, "\xEF\xBB\xBF", 3) == 0) ? 3
                                                                           : 0;
  dynbuf_reset(&s->line);
  if (hn > skip && head[skip] == ':')
    s->partial_drop = 1;
  else
    overflow(s);
}

void at_sse_feed(struct at_sse *s, const char *p, size_t n) {
  size_t base = s->offset;
  s->offset += n;
  size_t i = 0;
  /* Most streams end lines with LF alone: when this feed has no CR, one
   * search per line will do. */
  int has_cr = memchr(p, '\r', n) != NULL;
  while (i < n && !s->stopped) {
    if (s->after_cr) {
      s->after_cr = 0;
      if (p[i] == '\n') {
        i++;
        continue;
      }
    }
    /* the line ends at the first LF or CR: two memchr beat a byte loop */
    const char *lf = memchr(p + i, '\n', n - i);
    size_t span = lf ? (size_t)(lf - (p + i)) : n - i;
    const char *cr = has_cr ? memchr(p + i, '\r', span) : NULL;
    size_t k = cr ? (size_t)(cr - p) : lf ? (size_t)(lf - p) : n;
    if (k == n) {
      hold_partial(s, p + i, n - i);
      s->partial = 1;
      break;
    }
    if (s->partial) {
      /* The end of a line begun in an earlier feed. A partial line is
       * never blank; if it was dropped (oversized), nothing is left. */
      s->partial = 0;
      hold_partial(s, p + i, k - i);
      if (s->line.len)
        process_line(s, s->line.ptr, s->line.len, base + k + 1);
      s->bom_checked = 1; /* even when the first line was dropped */
      s->partial_drop = 0;
      dynbuf_reset(&s->line);
    } else {
      process_line(s, p + i, k - i, base + k + 1);
    }
    s->after_cr = p[k] == '\r';
    i = k + 1;
  }
}

void at_sse_finish(struct at_sse *s) {
  if (s->stopped)
    return;
  if (s->partial && s->line.len)
    process_line(s, s->line.ptr, s->line.len, s->offset);
  s->partial = 0;
  s->partial_drop = 0;
  dynbuf_reset(&s->line);
  if (s->data.len && !s->skipping) {
    s->unterminated = 1;
    dispatch(s, s->offset, 1);
  }
}

void at_sse_parse(struct at_sse *s, const char *p, size_t n, size_t max_event,
                  at_sse_cb cb, void *arg) {
  at_sse_init(s, max_event, cb, arg);
  if (p && n)
    at_sse_feed(s, p, n);
  at_sse_finish(s);
}
