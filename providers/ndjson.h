/* ndjson: split a newline-delimited JSON stream into lines.
 *
 * Ollama streams its answers as one JSON object per line
 * (application/x-ndjson), Cohere's v1 API likewise
 * (application/stream+json). Feed bytes in pieces of any size; each
 * non-blank line is handed to a callback with the byte offset in the whole
 * stream just past its line end (parsers turn it into a time with the
 * exchange's chunk marks, as for SSE). The splitter does not parse JSON.
 *
 * Lines end at '\n'; a '\r' right before it is dropped (CRLF). A UTF-8 BOM
 * at the very start is skipped. Lines holding only spaces, tabs and '\r'
 * are skipped. A last line without a line end is delivered by
 * at_ndjson_finish() and marked unterminated. Memory is bounded: a line
 * longer than the cap is skipped and counted, and splitting resumes at the
 * next line. Splitting the input differently never changes what is
 * delivered. */
#ifndef AT_NDJSON_H
#define AT_NDJSON_H

#include <stddef.h>

#include "dynbuf.h"

struct at_ndjson_line {
  const char *data; /* the line without its line end; NOT NUL-terminated */
  size_t len;
  size_t end_offset; /* stream offset just past the '\n' (or the end) */
  int unterminated;  /* the stream ended before this line's '\n' */
};

/* Return 0 to go on, non-zero to stop: later lines are then ignored. */
typedef int (*at_ndjson_cb)(const struct at_ndjson_line *line, void *arg);

struct at_ndjson {
  at_ndjson_cb cb;
  void *arg;
  size_t max_line;     /* cap on one line (line end excluded) */
  size_t offset;       /* bytes consumed so far */
  struct dynbuf line;  /* a line split across feeds */
  int pending;         /* the last feed ended inside a line */
  int skipping;        /* the line overflowed: drop it up to its end */
  int first_done;      /* the first line (BOM check) is behind us */
  int stopped;         /* the callback asked to stop */
  size_t lines;        /* lines delivered */
  size_t oversize;     /* lines dropped because they exceeded max_line */
  size_t unterminated; /* 1 when at_ndjson_finish() flushed a last line */
};

void at_ndjson_init(struct at_ndjson *s, size_t max_line, at_ndjson_cb cb,
                    void *arg);

/* Consume n more bytes of the stream. */
void at_ndjson_feed(struct at_ndjson *s, const char *p, size_t n);

/* End of stream: a last line with no line end is delivered too. */
void at_ndjson_finish(struct at_ndjson *s);

void at_ndjson_free(struct at_ndjson *s);

/* Whole-buffer convenience: init, feed, finish. Statistics are left in
 * *s, which the caller must at_ndjson_free(). */
void at_ndjson_parse(struct at_ndjson *s, const char *p, size_t n,
                     size_t max_line, at_ndjson_cb cb, void *arg);

/* Does this body look like NDJSON rather than one JSON value: a first
 * non-blank line that starts with '{' and ends in '}', followed by another
 * non-blank line? Cheap (stops at the second line). */
int at_ndjson_sniff(const char *p, size_t n);

#endif
