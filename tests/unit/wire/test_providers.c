/* wire → at_exchange → the provider parsers: a streamed, compressed,
 * chunked answer read in small pieces gives the same generation (and the
 * right time to first token) as the curl path would. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "helpers.h"
#include "providers/providers.h"

static const char *REQ_BODY =
    "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"stream_options\":"
    "{\"include_usage\":true},\"messages\":[{\"role\":\"user\","
    "\"content\":\"Say hello\"}]}";

static const char *EVENTS[] = {
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
    "\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"Hel\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
    "\"lo\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}]}\n\n",
    "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":"
    "\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,"
    "\"completion_tokens\":2,\"total_tokens\":7}}\n\n",
    "data: [DONE]\n\n"};
#define NEV 6

static int only_llm(void *arg, const struct wire_request *rq) {
  char url[512];
  struct at_match m;
  if (wire_request_url(rq, "https", NULL, url, sizeof url) < 0)
    return 0;
  return at_match_url(url, &m) ? (int)m.api : 0;
}

static const char *text_of(const cJSON *rec) {
  const cJSON *out = cJSON_GetObjectItem(rec, "output");
  const cJSON *msg = cJSON_GetArrayItem(out, 0);
  const cJSON *parts = cJSON_GetObjectItem(msg, "parts");
  const cJSON *p0 = cJSON_GetArrayItem(parts, 0);
  const cJSON *c = cJSON_GetObjectItem(p0, "content");
  return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* Feed the exchange: headers and the first `with_head` events in one read
 * (as servers often do), then each event gzip-compressed and chunked, cut
 * into reads of `piece` bytes (0: whole), event i at time 300 + i. */
static cJSON *run_stream(size_t with_head, size_t piece, int64_t *t_first) {
  struct wire_conn *c = wire_conn_new(NULL, only_llm, NULL);
  char req[1024];
  int rn = snprintf(req, sizeof req,
                    "POST /v1/chat/completions HTTP/1.1\r\n"
                    "Host: api.openai.com\r\nAuthorization: Bearer sk-x\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n%s",
                    strlen(REQ_BODY), REQ_BODY);
  wire_conn_feed(c, WIRE_OUT, req, (size_t)rn, 100);

  char *parts[NEV];
  size_t part_n[NEV];
  compress_pieces("gzip", EVENTS, NEV, parts, part_n);
  /* each compressed event as one chunk */
  char *chunk[NEV];
  size_t chunk_n[NEV];
  for (size_t i = 0; i < NEV; i++) {
    char sz[32];
    int k = snprintf(sz, sizeof sz, "%zx\r\n", part_n[i]);
    size_t a;
    char *tmp = concat(sz, (size_t)k, parts[i], part_n[i], &a);
    const char *tail = i + 1 == NEV ? "\r\n0\r\n\r\n" : "\r\n";
    chunk[i] = concat(tmp, a, tail, strlen(tail), &chunk_n[i]);
    free(tmp);
    free(parts[i]);
  }
  const char *head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                     "\r\n";
  size_t first_n;
  char *first = concat(head, strlen(head), "", 0, &first_n);
  for (size_t i = 0; i < with_head; i++) {
    size_t nn;
    char *grown = concat(first, first_n, chunk[i], chunk_n[i], &nn);
    free(first);
    first = grown;
    first_n = nn;
  }
  wire_conn_feed(c, WIRE_IN, first, first_n, 200);
  for (size_t i = with_head; i < NEV; i++) {
    size_t step = piece ? piece : chunk_n[i];
    for (size_t off = 0; off < chunk_n[i]; off += step)
      wire_conn_feed(c, WIRE_IN, chunk[i] + off,
                     chunk_n[i] - off < step ? chunk_n[i] - off : step,
                     300 + (int64_t)i);
  }
  for (size_t i = 0; i < NEV; i++)
    free(chunk[i]);
  free(first);

  struct wire_exchange *x = wire_conn_next(c);
  cr_assert(x);
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_eq(x->interest, AT_API_OPENAI_CHAT);
  cr_assert_str_eq(x->resp_coding, "gzip");
  *t_first = x->t_first_byte_ns;
  struct at_exchange ex;
  cr_assert_eq(wire_exchange_fill(x, "https", NULL, &ex), 0);
  cr_assert_str_eq(ex.url, "https://api.openai.com/v1/chat/completions");
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, NULL, NULL, &skip);
  cr_assert(rec, "skipped: %s", skip ? skip : "?");
  wire_exchange_free(x);
  wire_conn_free(c);
  return rec;
}

static double num(const cJSON *o, const char *a, const char *b) {
  const cJSON *x = cJSON_GetObjectItem(o, a);
  if (b)
    x = cJSON_GetObjectItem(x, b);
  if (cJSON_IsString(x)) /* times are decimal strings (int64) */
    return atof(x->valuestring);
  return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

Test(providers, streamed_gzip_chunked_openai) {
  static const size_t pieces[] = {0, 10, 1};
  for (size_t k = 0; k < 3; k++) {
    int64_t t_first;
    cJSON *rec = run_stream(1, pieces[k], &t_first);
    cr_assert_eq(t_first, 200);
    const char *text = text_of(rec);
    cr_assert(text, "no output text");
    cr_assert_str_eq(text, "Hello");
    cr_assert_eq(num(rec, "usage", "output_tokens"), 2);
    /* the first token arrived with event 1, at 300 + 1 */
    cr_assert_eq(num(rec, "completion_start_ns", NULL), 301, "piece %zu: %f",
                 pieces[k], num(rec, "completion_start_ns", NULL));
    const cJSON *lvl = cJSON_GetObjectItem(rec, "level");
    cr_assert_str_eq(lvl->valuestring, "DEFAULT");
    /* secrets stay out of the record */
    char *s = cJSON_PrintUnformatted(rec);
    cr_assert_null(strstr(s, "sk-x"));
    free(s);
    cJSON_Delete(rec);
  }
}

Test(providers, first_token_in_the_same_read_as_the_headers) {
  int64_t t_first;
  cJSON *rec = run_stream(2, 10, &t_first);
  cr_assert_str_eq(text_of(rec), "Hello");
  cr_assert_eq(num(rec, "completion_start_ns", NULL), 200);
  cJSON_Delete(rec);
}

Test(providers, partial_exchange_reaches_the_parser_as_an_error) {
  struct step s[] = {
      OUT("POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
          "Content-Length: 2\r\n\r\n{}"),
      IN("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
         "Content-Length: 100\r\n\r\n{\"id\":"),
      CLOSE("ECONNRESET")};
  struct run r;
  run_script(s, NSTEPS(s), 0, NULL, only_llm, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct at_exchange ex;
  cr_assert_eq(wire_exchange_fill(r.x[0], "https", NULL, &ex), 0);
  cr_assert_eq(ex.transport_error, -1);
  cr_assert_str_eq(ex.transport_error_msg, "response body cut: ECONNRESET");
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, NULL, NULL, &skip);
  cr_assert(rec);
  cr_assert_str_eq(cJSON_GetObjectItem(rec, "level")->valuestring, "ERROR");
  cJSON_Delete(rec);
  run_free(&r);
}
