/* ids: W3C trace-context identifiers as lowercase hex.
 * A trace id is 16 random bytes (32 hex), a span id 8 (16 hex); neither is
 * ever all zeros, which W3C and OTLP call invalid. */
#ifndef AT_IDS_H
#define AT_IDS_H

#define AT_TRACE_ID_HEX 32
#define AT_SPAN_ID_HEX 16

/* out must hold AT_TRACE_ID_HEX + 1 (resp. AT_SPAN_ID_HEX + 1) bytes. */
void at_new_trace_id(char *out);
void at_new_span_id(char *out);

/* 1 when s is exactly n lowercase-or-uppercase hex digits, not all zero. */
int at_valid_hex_id(const char *s, unsigned n);

/* Parse a W3C traceparent "00-<32hex>-<16hex>-<2hex>". On success copies
 * the ids (lowercased) and returns 0; returns -1 for anything malformed. */
int at_parse_traceparent(const char *tp, char *trace_id, char *span_id);

#endif
