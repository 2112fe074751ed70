/* AWS Bedrock: endpoints, the model id from the path, Converse plain and
 * streamed (binary event stream), errors, headers, secrets. Fixtures:
 * tests/fixtures/providers/bedrock/. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "helpers.h"
#include "providers/bedrock.h"
#include "providers/eventstream.h"
#include "providers/json_util.h"
#include "providers/redact.h"

#define HOST "https://bedrock-runtime.us-east-1.amazonaws.com"
#define CLAUDE "us.anthropic.claude-3-7-sonnet-20250219-v1%3A0"
#define CONVERSE_URL HOST "/model/" CLAUDE "/converse"
#define STREAM_URL HOST "/model/" CLAUDE "/converse-stream"

#define JSON_HEADERS                                                           \
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                      \
  "x-amzn-RequestId: 5f0c-req-1\r\n"
#define ES_HEADERS                                                             \
  "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"    \
  "x-amzn-RequestId: 5f0c-req-2\r\n"

static char *fx(const char *name, size_t *len) {
  char path[128];
  snprintf(path, sizeof path, "bedrock/%s", name);
  return fx_read(path, len);
}

/* Request and response fixtures through the parser; the response may be
 * binary (its length is taken from the file). */
static cJSON *run(const char *url, const char *req_name, const char *resp_name,
                  int status, const char *headers) {
  size_t rlen = 0;
  char *req = req_name ? fx(req_name, NULL) : NULL;
  char *resp = resp_name ? fx(resp_name, &rlen) : NULL;
  struct at_exchange ex = fx_exchange(url, req, resp, status, headers);
  ex.resp_body_len = rlen;
  cJSON *r = fx_parse(&ex);
  free(req);
  free(resp);
  return r;
}

static int match(const char *url, enum at_api *api, const char **prov) {
  struct at_match m = {0};
  int r = at_match_url(url, &m);
  *api = m.api;
  *prov = m.provider;
  return r;
}

/* ---- endpoints -------------------------------------------------------- */

Test(bedrock, endpoints) {
  enum at_api api;
  const char *prov;
  cr_assert(match(CONVERSE_URL, &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_CONVERSE);
  cr_expect_str_eq(prov, "aws.bedrock");
  cr_assert(match(STREAM_URL, &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_CONVERSE);
  cr_assert(
      match(HOST "/model/meta.llama3-8b-instruct-v1%3A0/invoke", &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_INVOKE);
  cr_assert(match(HOST "/model/meta.llama3-8b-instruct-v1%3A0/"
                       "invoke-with-response-stream/",
                  &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_INVOKE);
  cr_assert(
      match(HOST "/model/amazon.titan-embed-text-v2%3A0/invoke", &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_EMBED);
  cr_assert(match("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com"
                  "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
                  &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_CONVERSE);
  cr_expect_str_eq(prov, "aws.bedrock");
  /* a VPC endpoint is named for the service */
  cr_assert(match("https://vpce-0a1b2c3d-x9y8.bedrock-runtime.eu-west-1.vpce."
                  "amazonaws.com/model/amazon.nova-lite-v1%3A0/converse",
                  &api, &prov));
  cr_expect_eq(api, AT_API_BEDROCK_CONVERSE);
  cr_expect_str_eq(prov, "aws.bedrock");
  /* other Bedrock paths are skipped; other hosts are not Bedrock */
  cr_assert(match(HOST "/model/x/count-tokens", &api, &prov));
  cr_expect_eq(api, AT_API_OTHER_LLM);
  cr_expect_not(match("https://example.com/model/x/converse", &api, &prov));
  cr_expect_not(match("https://vpce-1.s3.eu-west-1.vpce.amazonaws.com/model/"
                      "x/converse",
                      &api, &prov));
  /* Bedrock's OpenAI-compatible endpoint */
  cr_assert(match("https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/"
                  "chat/completions",
                  &api, &prov));
  cr_expect_eq(api, AT_API_OPENAI_CHAT);
  cr_expect_str_eq(prov, "aws.bedrock");
  /* no model segment */
  cr_expect_not(match("https://example.com/converse", &api, &prov));
}

Test(bedrock, model_from_path) {
  char m[AT_BEDROCK_MODEL_MAX];
  cr_assert(at_bedrock_url_model(CONVERSE_URL, m, sizeof m));
  cr_expect_str_eq(m, "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  cr_assert(at_bedrock_url_model(
      HOST "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
           "inference-profile%2Fus.meta.llama3-3-70b-instruct-v1%3A0/invoke",
      m, sizeof m));
  cr_expect_str_eq(m, "arn:aws:bedrock:us-east-1:123456789012:"
                      "inference-profile/us.meta.llama3-3-70b-instruct-v1:0");
  cr_expect_str_eq(at_bedrock_base_model(m), "meta.llama3-3-70b-instruct-v1:0");
  /* a raw ARN, '/' and all */
  cr_assert(at_bedrock_url_model(
      HOST "/model/arn:aws:bedrock:us-east-1::foundation-model/"
           "amazon.nova-pro-v1:0/converse?x=1",
      m, sizeof m));
  cr_expect_str_eq(at_bedrock_base_model(m), "amazon.nova-pro-v1:0");
  /* bad escapes stay as written; bytes that are not UTF-8 become '?' */
  cr_assert(at_bedrock_url_model(HOST "/model/a%zz%4/converse", m, sizeof m));
  cr_expect_str_eq(m, "a%zz%4");
  cr_assert(at_bedrock_url_model(HOST "/model/a%FFb/converse", m, sizeof m));
  cr_expect_str_eq(m, "a?b");
  cr_expect_not(at_bedrock_url_model(HOST "/model//converse", m, sizeof m));
  cr_expect_not(at_bedrock_url_model(HOST "/foo/converse", m, sizeof m));
  cr_expect_not(at_bedrock_url_model(NULL, m, sizeof m));
}

/* ---- Converse --------------------------------------------------------- */

Test(bedrock, converse_request) {
  cJSON *r = run(CONVERSE_URL, "converse.req.json", "converse.resp.json", 200,
                 JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "provider"), "aws.bedrock");
  cr_expect_str_eq(jstr(r, "name"),
                   "chat us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  cr_expect_str_eq(jstr(r, "request_model"),
                   "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  const cJSON *p = jget(r, "model_parameters");
  cr_expect_eq(jnum(p, "max_tokens"), 512);
  cr_expect_float_eq(jnum(p, "temperature"), 0.3, 1e-9);
  cr_expect_float_eq(jnum(p, "top_p"), 0.9, 1e-9);
  cr_expect_str_eq(jstr(p, "stop.0"), "END");
  cr_expect_str_eq(jstr(p, "tools.0.toolSpec.name"), "read_pressure");
  cr_expect(cJSON_IsObject(jget(p, "tool_choice.auto")));
  cr_expect_eq(jnum(p, "thinking.budget_tokens"), 2048);
  cr_expect_eq(jnum(p, "top_k"), 50);
  cr_expect_null(jget(p, "stream"));
  cr_expect_null(jget(p, "requestMetadata"));

  cr_assert_eq(jsize(r, "input"), 4);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_eq(jsize(r, "input.0.parts"), 1); /* the cachePoint is no part */
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "You watch over the plant's pumps.");
  const cJSON *u = jget(r, "input.1.parts");
  cr_assert_eq(jsize(u, ""), 3);
  cr_expect_str_eq(jstr(u, "0.content"), "Is pump P-7 healthy?");
  cr_expect_str_eq(jstr(u, "1.type"), "blob");
  cr_expect_str_eq(jstr(u, "1.modality"), "image");
  cr_expect_str_eq(jstr(u, "1.mime_type"), "image/png");
  cr_expect_eq(jnum(u, "1.size"), 16);
  cr_expect_null(jget(u, "1.content"));
  cr_expect_str_eq(jstr(u, "2.modality"), "document");
  cr_expect_str_eq(jstr(u, "2.mime_type"), "application/pdf");
  cr_expect_eq(jnum(u, "2.size"), 9);
  const cJSON *a = jget(r, "input.2.parts");
  cr_expect_str_eq(jstr(r, "input.2.role"), "assistant");
  cr_assert_eq(jsize(a, ""), 3);
  cr_expect_str_eq(jstr(a, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(a, "0.content"), "I need its pressure.");
  cr_expect_str_eq(jstr(a, "1.content"), "Reading the gauge.");
  cr_expect_str_eq(jstr(a, "2.type"), "tool_call");
  cr_expect_str_eq(jstr(a, "2.id"), "tooluse_a1");
  cr_expect_str_eq(jstr(a, "2.name"), "read_pressure");
  cr_expect_str_eq(jstr(a, "2.arguments.pump"), "P-7");
  const cJSON *t = jget(r, "input.3.parts");
  cr_assert_eq(jsize(t, ""), 4);
  cr_expect_str_eq(jstr(t, "0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(t, "0.id"), "tooluse_a1");
  cr_expect_float_eq(jnum(t, "0.response.bar"), 7.5, 1e-9);
  cr_expect_null(jget(t, "0.is_error"));
  cr_expect_str_eq(jstr(t, "1.response"), "gauge offline");
  cr_expect(cJSON_IsTrue(jget(t, "1.is_error")));
  cr_expect_str_eq(jstr(t, "2.response.0.content"), "a");
  cr_expect_str_eq(jstr(t, "2.response.1.content"), "{\"b\":1}");
  cr_expect_str_eq(jstr(t, "3.content"), "Well?");
  cJSON_Delete(r);
}

Test(bedrock, converse_response) {
  cJSON *r = run(CONVERSE_URL, "converse.req.json", "converse.resp.json", 200,
                 JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "response_model"),
                   "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  cr_expect_str_eq(jstr(r, "response_id"), "5f0c-req-1");
  cr_expect_str_eq(jstr(r, "metadata.request_id"), "5f0c-req-1");
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 4);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "0.content"), "7.5 bar is within range.");
  cr_expect(cJSON_IsTrue(jget(o, "1.redacted")));
  cr_expect_str_eq(jstr(o, "2.content"), "P-7 is healthy at 7.5 bar.");
  cr_expect_str_eq(jstr(o, "3.name"), "log_check");
  cr_expect(cJSON_IsTrue(jget(o, "3.arguments.ok")));
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "tool_use");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  /* inputTokens leave the cache out: 120 + 1000 read + 200 written */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1320);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 45);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage.cache_write_input_tokens"), 200);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 1365);
  cr_expect_eq(jnum(r, "usage_details.input"), 120);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation"), 200);
  cr_expect_eq(jnum(r, "metadata.latency_ms"), 1530);
  cr_expect_null(jget(r, "metadata.stop_sequence"));
  cr_expect_null(jget(r, "metadata.usage_missing"));
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:claude-3-7-sonnet@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.input"), 120 * 3e-6, 1e-12);
  cr_expect(cJSON_IsFalse(jget(r, "metadata.stream")));
  cJSON_Delete(r);
}

/* inputTokens with the cache already in (a total that leaves it out) are
 * taken as they are. */
Test(bedrock, converse_inclusive_input_total) {
  struct at_exchange ex = fx_exchange(
      HOST "/model/amazon.nova-pro-v1%3A0/converse",
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}",
      "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"
      "\"yo\"}]}},\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":500,"
      "\"outputTokens\":5,\"totalTokens\":505,\"cacheReadInputTokens\":400}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 500);
  cr_expect_eq(jnum(r, "usage_details.input"), 100);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 400);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:aws.bedrock:amazon.nova-pro@2026-11-21");
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"), 400 * 0.2e-6,
                     1e-12);
  cJSON_Delete(r);
}

Test(bedrock, converse_wrong_types_are_partial) {
  struct at_exchange ex = fx_exchange(
      CONVERSE_URL,
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":5},\"x\",{"
      "\"image\":{\"format\":\"png\"}},{\"futureBlock\":{}}]},7],"
      "\"inferenceConfig\":[1]}",
      "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":\"oops\"}},"
      "\"usage\":{\"inputTokens\":-1,\"outputTokens\":\"2\"}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_not_null(jstr(r, "metadata.parse_error"));
  cr_expect_str_eq(jstr(r, "input.0.parts.0.type"), "image");
  cr_expect_str_eq(jstr(r, "input.0.parts.1.type"), "futureBlock");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "oops");
  cr_expect_null(jget(r, "usage"));
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);
}

Test(bedrock, converse_stream) {
  size_t len;
  char *body = fx("converse_stream.es", &len);
  char *req = fx("converse.req.json", NULL);
  struct at_exchange ex = fx_exchange(STREAM_URL, req, body, 200, ES_HEADERS);
  ex.resp_body_len = len;
  /* a mark at the end of every message: the first reasoning delta is
   * message 2 */
  size_t off = 0;
  while (off < len && ex.nmarks < AT_MAX_CHUNK_MARKS) {
    const unsigned char *m = (const unsigned char *)body + off;
    off += (size_t)m[0] << 24 | (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];
    ex.marks[ex.nmarks].offset = off;
    ex.marks[ex.nmarks].t_ns = 1000000000 + 1000 * (int64_t)(ex.nmarks + 1);
    ex.nmarks++;
  }
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.stream")));
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1000002000");
  cr_expect_str_eq(jstr(r, "response_id"), "5f0c-req-2");
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 3);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "0.content"), "The pump needs a pressure check.");
  cr_expect_str_eq(jstr(o, "1.content"),
                   "Checking pump P-7 \xe2\x80\x94 one moment.");
  cr_expect_str_eq(jstr(o, "2.type"), "tool_call");
  cr_expect_str_eq(jstr(o, "2.id"), "tooluse_pump1");
  cr_expect_str_eq(jstr(o, "2.name"), "read_pressure");
  cr_expect_str_eq(jstr(o, "2.arguments.pump"), "P-7");
  cr_expect_str_eq(jstr(o, "2.arguments.unit"), "bar");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 940);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 900);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 61);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 1001);
  cr_expect_eq(jnum(r, "metadata.latency_ms"), 812);
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
  free(body);
  free(req);
}

Test(bedrock, converse_stream_cut) {
  cJSON *r = run(STREAM_URL, "converse.req.json", "converse_stream_cut.es", 200,
                 ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect(strstr(jstr(r, "metadata.parse_error"), "ended inside a message"));
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"), "Checking pump ");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);
}

Test(bedrock, converse_stream_bad_crc) {
  cJSON *r = run(STREAM_URL, "converse.req.json", "converse_stream_badcrc.es",
                 200, ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect(strstr(jstr(r, "metadata.parse_error"), "message CRC mismatch"),
            "%s", jstr(r, "metadata.parse_error"));
  /* the tool block started in message 9, which failed: not there */
  cr_expect_eq(jsize(r, "output.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);
}

Test(bedrock, converse_stream_exception) {
  cJSON *r = run(STREAM_URL, "converse.req.json",
                 "converse_stream_exception.es", 200, ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "Too many tokens, please wait before trying again.");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "throttlingException");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"), "Checking pump ");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
}

Test(bedrock, converse_stream_unknown_event_and_header_types) {
  cJSON *r = run(STREAM_URL, "converse.req.json",
                 "converse_stream_odd_headers.es", 200, ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Checking pump P-7 \xe2\x80\x94 one moment.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  cJSON_Delete(r);
}

/* One event-stream message: string headers h (name, value, ...,
 * NULL-terminated, at most three pairs) and the payload, its lengths and
 * both CRCs filled in, appended to b. */
static void es_message(struct dynbuf *b, const char *const *h,
                       const void *payload, size_t plen) {
  unsigned char out[1024];
  size_t n = 12;
  for (size_t i = 0; i < 6 && h[i]; i += 2) {
    size_t nl = strlen(h[i]), vl = strlen(h[i + 1]);
    out[n++] = (unsigned char)nl;
    memcpy(out + n, h[i], nl);
    n += nl;
    out[n++] = 7; /* string */
    out[n++] = 0;
    out[n++] = (unsigned char)vl;
    memcpy(out + n, h[i + 1], vl);
    n += vl;
  }
  size_t hl = n - 12, total = n + plen + 4;
  cr_assert_lt(total, sizeof out);
  memcpy(out + n, payload, plen);
  for (int i = 0; i < 4; i++) {
    out[i] = (unsigned char)(total >> (24 - 8 * i));
    out[4 + i] = (unsigned char)(hl >> (24 - 8 * i));
  }
  uint32_t c = at_crc32(0, out, 8);
  for (int i = 0; i < 4; i++)
    out[8 + i] = (unsigned char)(c >> (24 - 8 * i));
  c = at_crc32(0, out, total - 4);
  for (int i = 0; i < 4; i++)
    out[total - 4 + i] = (unsigned char)(c >> (24 - 8 * i));
  dynbuf_add(b, out, total);
}

/* An error message (":message-type: error") and payload bytes that are not
 * UTF-8: the record stays valid UTF-8 and says what happened. */
Test(bedrock, stream_error_message_and_bad_utf8) {
  static const char delta[] =
      "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"ok \xff\xfe end\"}}";
  static const char *const event[] = {":message-type", "event", ":event-type",
                                      "contentBlockDelta", NULL};
  static const char *const error[] = {":message-type",
                                      "error",
                                      ":error-code",
                                      "InternalFailure",
                                      ":error-message",
                                      "The service hit a snag",
                                      NULL};
  struct dynbuf body;
  dynbuf_init(&body, 4096);
  es_message(&body, event, delta, sizeof delta - 1);
  es_message(&body, error, "", 0);
  struct at_exchange ex =
      fx_exchange(STREAM_URL, "{\"messages\":[]}", body.ptr, 200, ES_HEADERS);
  ex.resp_body_len = body.len;
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "The service hit a snag");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "InternalFailure");
  cr_expect(strstr(jstr(r, "metadata.parse_error"), "not valid UTF-8"));
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "ok ?? end");
  char *text = cJSON_PrintUnformatted(r);
  cr_expect(at_utf8_valid(text, strlen(text)));
  free(text);
  cJSON_Delete(r);
  dynbuf_free(&body);
}

/* Binary junk, or JSON, announced as an event stream. */
Test(bedrock, not_an_event_stream) {
  struct at_exchange ex =
      fx_exchange(STREAM_URL, "{\"messages\":[]}",
                  "\x01\x02garbage that is not framed at all", 200, ES_HEADERS);
  cJSON *r = fx_parse(&ex);
  cr_expect(strstr(jstr(r, "metadata.parse_error"), "prelude CRC mismatch"));
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cJSON_Delete(r);
  ex = fx_exchange(STREAM_URL, "{\"messages\":[]}", "{\"message\":\"hi\"}", 200,
                   ES_HEADERS);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_not_null(jstr(r, "metadata.parse_error"));
  cJSON_Delete(r);
  /* and an empty stream */
  ex = fx_exchange(STREAM_URL, "{\"messages\":[]}", NULL, 200, ES_HEADERS);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "response body is empty");
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.stream")));
  cJSON_Delete(r);
}

/* A stream without a content type is still recognised by its framing. */
Test(bedrock, stream_sniffed_without_content_type) {
  cJSON *r = run(STREAM_URL, "converse.req.json", "converse_stream.es", 200,
                 "HTTP/1.1 200 OK\r\n");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  cJSON_Delete(r);
}

/* ---- errors and headers ----------------------------------------------- */

Test(bedrock, http_error_with_error_type_header) {
  cJSON *r = run(CONVERSE_URL, "converse.req.json", "error_400.json", 400,
                 "HTTP/1.1 400 Bad Request\r\n"
                 "Content-Type: application/json\r\n"
                 "x-amzn-ErrorType: ValidationException:http://internal."
                 "amazon.com/coral/com.amazon.bedrock/\r\n"
                 "x-amzn-RequestId: 5f0c-req-3\r\n");
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect(strncmp(jstr(r, "status_message"), "Malformed input request", 23) ==
            0);
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "ValidationException");
  cr_expect_str_eq(jstr(r, "response_id"), "5f0c-req-3");
  cr_expect_null(jget(r, "output"));
  cr_expect_null(jget(r, "response_model"));
  cr_expect_str_eq(jstr(r, "request_model"),
                   "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  cJSON_Delete(r);
}

/* SigV4 headers and a presigned URL: no secret reaches the record. */
Test(bedrock, secrets_never_stored) {
  char *req = fx("converse.req.json", NULL);
  char *resp = fx("converse.resp.json", NULL);
  struct at_exchange ex = fx_exchange(
      CONVERSE_URL "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                   "&X-Amz-Credential=AKIDSECRETKEYID%2F20251121%2Fus-east-1"
                   "%2Fbedrock%2Faws4_request&X-Amz-Date=20251121T101010Z"
                   "&X-Amz-Security-Token=FQoGZXIvYXdzSESSIONTOKEN"
                   "&X-Amz-Signature=0123abcdSIGNATUREHEX",
      req, resp, 200, JSON_HEADERS);
  ex.req_headers =
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDSECRETKEYID/20251121/"
      "us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f"
      "1024\r\n"
      "X-Amz-Security-Token: FQoGZXIvYXdzSESSIONTOKEN\r\n"
      "X-Amz-Date: 20251121T101010Z\r\n"
      "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb924\r\n";
  ex.req_headers_len = strlen(ex.req_headers);
  cJSON *r = fx_parse(&ex);
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "AKIDSECRETKEYID"));
  cr_expect_null(strstr(text, "SESSIONTOKEN"));
  cr_expect_null(strstr(text, "SIGNATUREHEX"));
  cr_expect_null(strstr(text, "fe5f80f77d5f"));
  cr_expect_str_eq(jstr(r, "http.request_headers.authorization"), "[REDACTED]");
  cr_expect_str_eq(jstr(r, "http.request_headers.x-amz-security-token"),
                   "[REDACTED]");
  cr_expect_str_eq(jstr(r, "http.request_headers.x-amz-date"),
                   "20251121T101010Z");
  cr_expect_str_eq(jstr(r, "http.request_headers.x-amz-content-sha256"),
                   "e3b0c44298fc1c149afbf4c8996fb924");
  cr_expect(strstr(jstr(r, "http.url"), "X-Amz-Date=20251121T101010Z"));
  cr_expect(strstr(jstr(r, "http.url"), "X-Amz-Signature=REDACTED"));
  /* the model id is still read from the path */
  cr_expect_str_eq(jstr(r, "request_model"),
                   "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
  free(text);
  cJSON_Delete(r);
  free(req);
  free(resp);
  /* a "token-count" header with anything but a number is still secret */
  cr_expect_not(at_redact_header_is_secret("X-Amzn-Bedrock-Input-Token-Count",
                                           32, "16", 2));
  cr_expect(at_redact_header_is_secret("x-amzn-bedrock-input-token-count", 32,
                                       "AKIDEXAMPLEKEY", 14));
}

Test(bedrock, arn_model_is_priced_by_its_id) {
  struct at_exchange ex = fx_exchange(
      HOST "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
           "inference-profile%2Fus.amazon.nova-micro-v1%3A0/converse",
      "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}",
      "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{\"text\":"
      "\"yo\"}]}},\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":"
      "1000,\"outputTokens\":100}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "request_model"),
                   "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                   "us.amazon.nova-micro-v1:0");
  cr_expect_str_eq(jstr(r, "response_model"), "us.amazon.nova-micro-v1:0");
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:aws.bedrock:amazon.nova-micro@2026-11-21");
  cr_expect_float_eq(jnum(r, "cost_details.total"),
                     1000 * 0.035e-6 + 100 * 0.14e-6, 1e-12);
  cJSON_Delete(r);
}

/* One event-stream message with :message-type event, :event-type type and
 * a JSON payload, appended to b. */
static void es_frame(struct dynbuf *b, const char *type, const char *json) {
  const char *h[] = {
      ":message-type",    "event", ":event-type", type, ":content-type",
      "application/json", NULL};
  es_message(b, h, json, strlen(json));
}

/* ConverseStream made at random (text deltas of blocks 0 and 2 and
 * tool-input deltas of block 1 interleaved, a delta now and then sent twice, a
 * new "p" padding every time): whether an event is read in full or taken for a
 * repeat of the one before (bedrock.c, rep_tok), each block is exactly its
 * deltas. */
Test(bedrock, converse_stream_random_deltas_exactly) {
  for (unsigned round = 0; round < 200; round++) {
    unsigned seed = 31 + round;
    struct dynbuf body, want[3];
    dynbuf_init(&body, 1 << 20);
    for (int i = 0; i < 3; i++)
      dynbuf_init(&want[i], 1 << 20);
    char ev[512], piece[8] = "ab";
    es_frame(&body, "messageStart", "{\"role\":\"assistant\"}");
    es_frame(&body, "contentBlockStart",
             "{\"contentBlockIndex\":1,\"start\":{\"toolUse\":{\"toolUseId\":"
             "\"tu_r\",\"name\":\"look\"}}}");
    int block = 0;
    for (int e = 0; e < 50; e++) {
      seed = seed * 1103515245u + 12345u;
      unsigned k = (seed >> 16) % 100;
      if (k < 15)
        block = (int)((seed >> 12) % 3);
      if (k >= 15 && k < 85) {
        size_t n = 1 + (seed >> 8) % 5;
        for (size_t i = 0; i < n; i++)
          piece[i] = (char)('a' + (seed >> (i * 3)) % 26);
        piece[n] = '\0';
      }
      char pad[16];
      size_t pn = (seed >> 4) % 14;
      for (size_t i = 0; i < pn; i++)
        pad[i] = (char)('A' + (seed >> (i % 20)) % 26);
      pad[pn] = '\0';
      if (block != 1 && round % 2)
        snprintf(ev, sizeof ev,
                 "{\"contentBlockIndex\":%d,\"delta\":{\"text\":\"%s\"},"
                 "\"p\":\"%s\"}",
                 block, piece, pad);
      else if (block != 1) /* the index after the delta: as valid */
        snprintf(ev, sizeof ev,
                 "{\"delta\":{\"text\":\"%s\"},\"contentBlockIndex\":%d,"
                 "\"p\":\"%s\"}",
                 piece, block, pad);
      else
        snprintf(ev, sizeof ev,
                 "{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":{\"input\":"
                 "\"%s\"}},\"p\":\"%s\"}",
                 piece, pad);
      es_frame(&body, "contentBlockDelta", ev);
      dynbuf_addstr(&want[block], piece);
    }
    es_frame(&body, "messageStop", "{\"stopReason\":\"tool_use\"}");
    struct at_exchange ex =
        fx_exchange(STREAM_URL, "{\"messages\":[]}", body.ptr, 200, ES_HEADERS);
    ex.resp_body_len = body.len;
    cJSON *r = fx_parse(&ex);
    int seen_text = 0, seen_tool = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, jget(r, "output.0.parts")) {
      const char *type = jstr(p, "type");
      if (!strcmp(type, "text")) {
        /* in block order: 0, then 2 */
        int b = seen_text++ == 0 && want[0].len ? 0 : 2;
        cr_assert_str_eq(jstr(p, "content"), want[b].ptr ? want[b].ptr : "",
                         "round %u block %d", round, b);
      } else if (!strcmp(type, "tool_call")) {
        seen_tool = 1;
        /* no input deltas: the tool call's input is {} */
        if (!want[1].len) {
          cr_assert(cJSON_IsObject(jget(p, "arguments")), "round %u", round);
          continue;
        }
        const char *args = jstr(p, "arguments");
        cr_assert(args && !strcmp(args, want[1].ptr), "round %u: %s", round,
                  args ? args : "(not a string)");
      }
    }
    cr_assert_eq(seen_text, (want[0].len > 0) + (want[2].len > 0), "round %u",
                 round);
    cr_assert(seen_tool, "round %u", round);
    cJSON_Delete(r);
    dynbuf_free(&body);
    for (int i = 0; i < 3; i++)
      dynbuf_free(&want[i]);
  }
}
