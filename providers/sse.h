/* sse: split a text/event-stream into events (WHATWG HTML, "Server-sent
 * events", the event stream interpretation).
 *
 * Feed bytes in pieces of any size; each complete event is handed to a
 * callback with the byte offset in the whole stream at which it was
 * completed (parsers turn it into a time with the exchange's chunk marks).
 * Memory is bounded: an event larger than the cap is skipped and counted. */
#ifndef AT_SSE_H
#define AT_SSE_H

#include <stddef.h>

#include "dynbuf.h"

struct at_sse_event {
  const char *event; /* the "event:" field; "" when the event had none */
  size_t event_len;
  const char *data; /* "data:" lines joined with '\n'; NUL-terminated */
  size_t data_len;
  const char *id; /* the last "id:" seen so far in the stream ("" if none) */
  size_t id_len;
  size_t end_offset; /* stream offset just past the line that ended it */
  int unterminated;  /* the stream ended before this event's blank line */
};

/* Return 0 to go on, non-zero to stop: later events are then ignored. */
typedef int (*at_sse_cb)(const struct at_sse_event *ev, void *arg);

struct at_sse {
  at_sse_cb cb;
  void *arg;
  size_t max_event;    /* cap on an event's data (and on one line) */
  size_t offset;       /* bytes consumed so far */
  struct dynbuf line;  /* a line split across feeds */
  struct dynbuf data;  /* data buffer of the event being read */
  struct dynbuf event; /* event type buffer */
  struct dynbuf id;    /* last event id */
  int partial;         /* the last feed ended inside a line */
  int partial_drop;    /* ... inside an over-long comment being dropped */
  int skipping;        /* the event overflowed: drop it up to its end */
  int after_cr;        /* last byte was CR: a following LF is not a line */
  int bom_checked;     /* a UTF-8 BOM is skipped at the very start */
  int stopped;         /* the callback asked to stop */
  size_t events;       /* events delivered */
  size_t oversize;     /* events dropped because they exceeded max_event */
  size_t unterminated; /* 1 when at_sse_finish() flushed a trailing event */
};

void at_sse_init(struct at_sse *s, size_t max_event, at_sse_cb cb, void *arg);

/* Consume n more bytes of the stream. */
void at_sse_feed(struct at_sse *s, const char *p, size_t n);

/* End of stream: a last event not closed by a blank line is delivered too
 * (and counted in `unterminated`), as is a last line with no line end. */
void at_sse_finish(struct at_sse *s);

void at_sse_free(struct at_sse *s);

/* Whole-buffer convenience: init, feed, finish. Statistics are left in
 * *s, which the caller must at_sse_free(). */
void at_sse_parse(struct at_sse *s, const char *p, size_t n, size_t max_event,
                  at_sse_cb cb, void *arg);

#endif
