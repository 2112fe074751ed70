/* eventstream: decode AWS's binary event stream framing
 * (`application/vnd.amazon.eventstream`), as Bedrock's ConverseStream and
 * InvokeModelWithResponseStream answer.
 *
 * A stream is a sequence of messages, each:
 *
 *   total length    u32 big endian (the whole message, these 4 bytes too)
 *   headers length  u32 big endian
 *   prelude CRC     u32: CRC-32 (IEEE) of the 8 bytes above
 *   headers         headers-length bytes: name length (u8), name, value
 *                   type (u8), value (see enum at_es_value)
 *   payload         total - headers - 16 bytes
 *   message CRC     u32: CRC-32 of everything before it
 *
 * Feed bytes in pieces of any size; every complete message whose two CRCs
 * check is handed to a callback with its well-known headers picked out and
 * the stream offset at which it ended (parsers turn it into a time with
 * the exchange's chunk marks). Nothing is copied when a message arrives
 * whole within one feed; a message split across feeds is buffered, up to
 * a cap. Every length is checked against what is there before it is used.
 *
 * A prelude or message CRC that does not check, or a length that cannot
 * be (shorter than a message's fixed part, headers longer than the
 * message), means the framing is lost: decoding stops there, with the
 * reason in `error`; the messages before it were delivered. Headers that
 * do not parse spoil only their message (skipped and counted). A stream
 * that ends inside a message is reported by at_es_finish(). */
#ifndef AT_EVENTSTREAM_H
#define AT_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dynbuf.h"

/* Fixed part of a message: prelude (12) + message CRC (4). */
#define AT_ES_OVERHEAD 16u

/* Header value types (the type byte). */
enum at_es_value {
  AT_ES_TRUE = 0,      /* no value bytes */
  AT_ES_FALSE = 1,     /* no value bytes */
  AT_ES_BYTE = 2,      /* 1 byte, signed */
  AT_ES_SHORT = 3,     /* 2 bytes, signed, big endian */
  AT_ES_INT = 4,       /* 4 bytes */
  AT_ES_LONG = 5,      /* 8 bytes */
  AT_ES_BYTES = 6,     /* u16 length, then the bytes */
  AT_ES_STRING = 7,    /* u16 length, then UTF-8 */
  AT_ES_TIMESTAMP = 8, /* 8 bytes: milliseconds since the epoch */
  AT_ES_UUID = 9       /* 16 bytes */
};

struct at_es_header {
  const char *name; /* not NUL-terminated */
  size_t name_len;
  int type;          /* enum at_es_value */
  const char *value; /* raw value bytes (after the u16 length for BYTES
                        and STRING); NULL for TRUE and FALSE */
  size_t value_len;
  int64_t num; /* TRUE 1, FALSE 0, BYTE/SHORT/INT/LONG/TIMESTAMP their
                  value; 0 for the others */
};

/* Read the header at *pos of a header block; advances *pos. Returns 1 with
 * *h filled, 0 at the end of the block, -1 when the block is malformed
 * (empty name, unknown type, a value that runs past the end). */
int at_es_header_next(const char *block, size_t len, size_t *pos,
                      struct at_es_header *h);

/* A well-known string header: its value, NULL when absent (len 0). */
struct at_es_str {
  const char *p; /* not NUL-terminated */
  size_t len;
};

struct at_es_message {
  size_t offset;       /* stream offset of the message's first byte */
  size_t end_offset;   /* stream offset just past it */
  const char *headers; /* the raw header block */
  size_t headers_len;
  const char *payload;
  size_t payload_len;
  /* string headers AWS defines, picked out for the caller */
  struct at_es_str message_type;   /* ":message-type": event, exception,
                                      error */
  struct at_es_str event_type;     /* ":event-type" */
  struct at_es_str exception_type; /* ":exception-type" */
  struct at_es_str error_code;     /* ":error-code" */
  struct at_es_str error_message;  /* ":error-message" */
  struct at_es_str content_type;   /* ":content-type" */
};

/* 1 when s equals lit (a C string). */
int at_es_str_is(struct at_es_str s, const char *lit);

/* Return 0 to go on, non-zero to stop: later bytes are then ignored. */
typedef int (*at_es_cb)(const struct at_es_message *m, void *arg);

struct at_es {
  at_es_cb cb;
  void *arg;
  size_t max_message; /* larger messages are skipped (their CRC unchecked) */
  size_t offset;      /* stream bytes consumed so far */
  struct dynbuf part; /* a message split across feeds */
  size_t skip;        /* bytes of an oversize message still to drop */
  int stopped;        /* the callback asked to stop */
  int failed;         /* framing lost: nothing more is decoded */
  char error[160];    /* first problem ("" when none) */
  size_t messages;    /* messages delivered */
  size_t bad_headers; /* messages skipped for malformed headers */
  size_t oversize;    /* messages skipped for exceeding max_message */
  int truncated;      /* at_es_finish() found a partial message */
};

void at_es_init(struct at_es *d, size_t max_message, at_es_cb cb, void *arg);

/* Consume n more bytes of the stream. */
void at_es_feed(struct at_es *d, const void *p, size_t n);

/* End of stream: bytes left over (a message cut off) set `truncated` and
 * the error. */
void at_es_finish(struct at_es *d);

void at_es_free(struct at_es *d);

/* Whole-buffer convenience: init, feed, finish. Statistics are left in
 * *d, which the caller must at_es_free(). */
void at_es_parse(struct at_es *d, const void *p, size_t n, size_t max_message,
                 at_es_cb cb, void *arg);

/* 1 when p starts with a plausible message prelude whose CRC checks: how
 * parsers tell an event stream from a JSON body without a content type. */
int at_es_sniff(const void *p, size_t n);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()): continue `crc` (0 to
 * start) over n bytes. */
uint32_t at_crc32(uint32_t crc, const void *p, size_t n);

#endif
