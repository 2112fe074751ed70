/* fuzz_parse: libFuzzer target for everything at_parse_exchange() reaches.
 *
 * Input layout (so that seeds can be written by hand):
 *   byte 0      API: value % 5 (chat, completions, embeddings, responses,
 *               messages)
 *   byte 1      flags: bit0 SSE content-type, bit1..2 status (200, 400,
 *               0 + transport error, 503), bit3 request truncated,
 *               bit4 response truncated, bit5 metadata only, bit6 chunk
 *               marks, bit7 also exercise URL/header helpers on the data
 *   bytes 2..3  request length, little endian (clamped to what is left)
 *   then        request bytes, then response bytes.
 * Anything goes; the target checks that a record comes back and that it
 * prints as valid UTF-8 JSON, and that the stream tokenizer (jsontok) never
 * accepts text cJSON rejects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/json_util.h"
#include "providers/jsontok.h"
#include "providers/providers.h"
#include "providers/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum at_api apis[] = {
    AT_API_OPENAI_CHAT, AT_API_OPENAI_COMPLETIONS, AT_API_OPENAI_EMBEDDINGS,
    AT_API_OPENAI_RESPONSES, AT_API_ANTHROPIC_MESSAGES};

static char *dup_n(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s)
    abort();
  if (n)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  enum at_api api = apis[data[0] % 5];
  uint8_t flags = data[1];
  size_t req_len = (size_t)data[2] | ((size_t)data[3] << 8);
  data += 4;
  size -= 4;
  if (req_len > size)
    req_len = size;
  /* exact-size copies so that ASan sees any read past the end */
  char *req = dup_n(data, req_len);
  char *resp = dup_n(data + req_len, size - req_len);
  size_t resp_len = size - req_len;

  static const int statuses[] = {200, 400, 0, 503};
  struct at_exchange ex;
  memset(&ex, 0, sizeof ex);
  ex.method = "POST";
  ex.url = "https://api.example.test/v1/x?key=k";
  ex.req_headers = "Authorization: Bearer k\r\n";
  ex.req_headers_len = strlen(ex.req_headers);
  ex.resp_headers = (flags & 1) ? "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/event-stream\r\n"
                                : "HTTP/1.1 200 OK\r\n";
  ex.resp_headers_len = strlen(ex.resp_headers);
  ex.req_body = req;
  ex.req_body_len = req_len;
  ex.resp_body = resp;
  ex.resp_body_len = resp_len;
  ex.status = statuses[(flags >> 1) & 3];
  if (ex.status == 0) {
    ex.transport_error = 28;
    ex.transport_error_msg = "timed out";
  }
  ex.req_body_truncated = (flags >> 3) & 1;
  ex.resp_body_truncated = (flags >> 4) & 1;
  ex.t_start_ns = 1;
  ex.t_first_byte_ns = 2;
  ex.t_end_ns = 3;
  if (flags & 64) {
    for (size_t i = 0; i < AT_MAX_CHUNK_MARKS; i++) {
      ex.marks[i].offset = resp_len * i / AT_MAX_CHUNK_MARKS;
      ex.marks[i].t_ns = 10 + (int64_t)i;
    }
    ex.nmarks = AT_MAX_CHUNK_MARKS;
  }
  ex.capture_path = "fuzz";

  struct at_match m = {api, "fuzz"};
  struct at_parse_opts opts = {.capture_metadata_only = (flags >> 5) & 1};
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, &m, &opts, &skip);
  if (!rec)
    abort(); /* only allocation failure may give NULL here */
  char *text = cJSON_PrintUnformatted(rec);
  if (!text || !at_utf8_valid(text, strlen(text)))
    abort();
  free(text);
  cJSON_Delete(rec);

  if (flags & 128) {
    /* the request bytes as a URL and host spec, the response as headers */
    struct at_match mm;
    at_match_url(req, &mm);
    char *u = at_redact_url(req);
    free(u);
    char err[128];
    at_hosts_configure(req, err, sizeof err);
    at_match_url("http://localhost:8000/v1/chat/completions", &mm);
    at_hosts_configure(NULL, NULL, 0);
    cJSON *h = at_redact_headers(resp, resp_len);
    cJSON_Delete(h);
  }
  /* jsontok is the stricter reader; surrogate escapes are the exception
   * (it turns a lone one into U+FFFD where cJSON gives up). */
  struct jt jt;
  jt_init(&jt);
  if (jt_parse(&jt, req, req_len) == 0 && !memmem(req, req_len, "\\ud", 3) &&
      !memmem(req, req_len, "\\uD", 3)) {
    cJSON *c = cJSON_ParseWithLength(req, req_len);
    if (!c)
      abort();
    cJSON_Delete(c);
  }
  jt_free(&jt);
  free(req);
  free(resp);
  return 0;
}
