/* Gemini and Vertex AI: URL recognition, generateContent request and
 * answers (plain, JSON-array stream, SSE), errors, blocked prompts, enums
 * sent as numbers, embeddings, secrets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "providers/json_util.h"

#define GEM "https://generativelanguage.googleapis.com/v1beta/models/"
#define GEN_URL GEM "gemini-2.5-flash:generateContent"
#define STREAM_URL GEM "gemini-2.5-pro:streamGenerateContent"
#define SSE_URL GEM "gemini-2.0-flash:streamGenerateContent?alt=sse"
#define VERTEX                                                                 \
  "https://us-central1-aiplatform.googleapis.com/v1/projects/p1/locations/"    \
  "us-central1/"
#define SIMPLE_REQ                                                             \
  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}"

static struct at_match m;

static int match(const char *url) {
  memset(&m, 0, sizeof m);
  return at_match_url(url, &m);
}

#define EXPECT_MATCH(url, api_, provider_)                                     \
  do {                                                                         \
    cr_expect_eq(match(url), 1, "%s should match", url);                       \
    cr_expect_eq(m.api, api_, "%s: api %d", url, m.api);                       \
    cr_expect_str_eq(m.provider ? m.provider : "(null)", provider_, "%s",      \
                     url);                                                     \
  } while (0)

/* Every record must print as valid UTF-8 JSON that parses back. */
static void expect_valid_record(const cJSON *r) {
  char *text = cJSON_PrintUnformatted(r);
  cr_assert_not_null(text);
  cr_expect(at_utf8_valid(text, strlen(text)), "record is not UTF-8");
  cJSON *back = cJSON_Parse(text);
  cr_expect_not_null(back, "record does not parse back: %.200s", text);
  cJSON_Delete(back);
  free(text);
}

static cJSON *run(const char *url, const char *req, const char *resp,
                  int status) {
  struct at_exchange ex = fx_exchange(url, req, resp, status, NULL);
  cJSON *r = fx_parse(&ex);
  expect_valid_record(r);
  return r;
}

/* A request given as text, the response from a fixture. */
static cJSON *run_fx(const char *url, const char *req, const char *fixture,
                     int status, const char *resp_headers) {
  char *resp = fx_read(fixture, NULL);
  struct at_exchange ex = fx_exchange(url, req, resp, status, resp_headers);
  cJSON *r = fx_parse(&ex);
  expect_valid_record(r);
  free(resp);
  return r;
}

/* ---- URLs ------------------------------------------------------------- */

Test(gemini, urls) {
  EXPECT_MATCH(GEN_URL, AT_API_GEMINI_GENERATE, "gcp.gemini");
  EXPECT_MATCH("https://generativelanguage.googleapis.com/v1/models/"
               "gemini-2.0-flash:streamGenerateContent?alt=sse&key=k",
               AT_API_GEMINI_GENERATE, "gcp.gemini");
  EXPECT_MATCH("https://generativelanguage.googleapis.com/v1beta/tunedModels/"
               "my-tune-7:generateContent",
               AT_API_GEMINI_GENERATE, "gcp.gemini");
  EXPECT_MATCH(GEM "text-embedding-004:embedContent", AT_API_GEMINI_EMBED,
               "gcp.gemini");
  EXPECT_MATCH(GEM "gemini-embedding-001:batchEmbedContents",
               AT_API_GEMINI_EMBED, "gcp.gemini");
  /* the ':' percent-encoded, a trailing slash */
  EXPECT_MATCH(GEM "gemini-2.5-flash%3AgenerateContent", AT_API_GEMINI_GENERATE,
               "gcp.gemini");
  EXPECT_MATCH(GEN_URL "/", AT_API_GEMINI_GENERATE, "gcp.gemini");
  /* not generations: skipped as other LLM calls */
  EXPECT_MATCH(GEM "gemini-2.5-flash:countTokens", AT_API_OTHER_LLM,
               "gcp.gemini");
  EXPECT_MATCH("https://generativelanguage.googleapis.com/v1beta/"
               "cachedContents",
               AT_API_OTHER_LLM, "gcp.gemini");
  EXPECT_MATCH("https://generativelanguage.googleapis.com/v1beta/models",
               AT_API_OTHER_LLM, "gcp.gemini");

  EXPECT_MATCH(VERTEX "publishers/google/models/gemini-2.5-pro:"
                      "streamGenerateContent?alt=sse",
               AT_API_GEMINI_GENERATE, "gcp.vertex_ai");
  EXPECT_MATCH(VERTEX "endpoints/4417:generateContent", AT_API_GEMINI_GENERATE,
               "gcp.vertex_ai");
  EXPECT_MATCH("https://aiplatform.googleapis.com/v1/publishers/google/models/"
               "gemini-2.5-flash:generateContent?key=k",
               AT_API_GEMINI_GENERATE, "gcp.vertex_ai");
  EXPECT_MATCH(VERTEX "publishers/anthropic/models/claude-sonnet-4:rawPredict",
               AT_API_OTHER_LLM, "gcp.vertex_ai");

  /* Google's shape through a proxy: Google's API, backend unknown */
  EXPECT_MATCH("https://gw.example.net/google/v1beta/models/"
               "gemini-2.0-flash:generateContent",
               AT_API_GEMINI_GENERATE, "gcp.gen_ai");
  cr_expect_eq(match("https://gw.example.net/v1/things/a:generateContent"), 0);
  cr_expect_eq(match("https://gw.example.net/v1/models/:generateContent"), 0);
  cr_expect_eq(match("https://gw.example.net/v1/models/x:countTokens"), 0);
  cr_expect_eq(match("https://gw.example.net/generateContent"), 0);
}

Test(gemini, model_from_url) {
  cJSON *r = run("https://generativelanguage.googleapis.com/v1beta/"
                 "tunedModels/my-tune-7:generateContent",
                 SIMPLE_REQ, NULL, 0);
  cr_expect_str_eq(jstr(r, "request_model"), "tunedModels/my-tune-7");
  cr_expect_str_eq(jstr(r, "name"), "generate_content tunedModels/my-tune-7");
  cr_expect_null(jget(r, "model_parameters.stream"));
  cJSON_Delete(r);

  r = run(VERTEX "endpoints/4417:streamGenerateContent", SIMPLE_REQ, NULL, 0);
  cr_expect_str_eq(jstr(r, "request_model"), "endpoints/4417");
  cr_expect_str_eq(jstr(r, "provider"), "gcp.vertex_ai");
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.stream")));
  /* no answer: the method said it was to stream */
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cJSON_Delete(r);

  r = run(GEM "gemini-2.5-flash%3agenerateContent", SIMPLE_REQ, NULL, 0);
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-flash");
  cJSON_Delete(r);

  /* a request that is not JSON still names its model (it is in the URL) */
  struct at_exchange ex =
      fx_exchange(GEN_URL, "{\"contents\":[{\"parts\":[{\"te", NULL, 0, NULL);
  ex.req_body_truncated = 1;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-flash");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request is not JSON (truncated)");
  cJSON_Delete(r);
}

/* ---- generateContent -------------------------------------------------- */

Test(gemini, request_contents_and_parameters) {
  cJSON *r = fx_run(GEN_URL, "gemini/generate.req.json",
                    "gemini/generate.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "generation");
  cr_expect_str_eq(jstr(r, "provider"), "gcp.gemini");
  cr_expect_str_eq(jstr(r, "operation"), "generate_content");
  cr_expect_str_eq(jstr(r, "name"), "generate_content gemini-2.5-flash");
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-flash");

  const cJSON *p = jget(r, "model_parameters");
  cr_expect_float_eq(jnum(p, "temperature"), 0.3, 1e-9);
  cr_expect_float_eq(jnum(p, "top_p"), 0.9, 1e-9);
  cr_expect_eq(jnum(p, "top_k"), 32);
  cr_expect_eq(jnum(p, "max_tokens"), 256);
  cr_expect_eq(jnum(p, "n"), 2);
  cr_expect_str_eq(jstr(p, "stop.0"), "END");
  cr_expect_float_eq(jnum(p, "presence_penalty"), 0.1, 1e-9);
  cr_expect_float_eq(jnum(p, "frequency_penalty"), 0.2, 1e-9);
  cr_expect_eq(jnum(p, "seed"), 7);
  cr_expect_str_eq(jstr(p, "response_mime_type"), "application/json");
  cr_expect_str_eq(jstr(p, "response_schema.properties.entry.type"), "STRING");
  cr_expect_eq(jnum(p, "thinking.thinkingBudget"), 128);
  cr_expect_str_eq(jstr(p, "tools.0.functionDeclarations.0.name"), "read_lamp");
  cr_expect_str_eq(jstr(p, "tool_config.functionCallingConfig.mode"), "AUTO");
  cr_expect_null(jget(p, "safety_settings"));
  cr_expect_null(jget(p, "safetySettings"));
  cr_expect_null(jget(p, "stream"));
  cr_expect_str_eq(jstr(r, "metadata.cached_content"),
                   "cachedContents/harbour-log-2");

  const cJSON *in = jget(r, "input");
  cr_assert_eq(jsize(in, ""), 7);
  cr_expect_str_eq(jstr(in, "0.role"), "system");
  cr_expect_eq(jsize(in, "0.parts"), 2);
  cr_expect_str_eq(jstr(in, "0.parts.1.content"), "Answer in one line.");

  cr_expect_str_eq(jstr(in, "1.role"), "user");
  cr_assert_eq(jsize(in, "1.parts"), 4);
  cr_expect_str_eq(jstr(in, "1.parts.0.content"),
                   "What does the lamp look like tonight?");
  cr_expect_str_eq(jstr(in, "1.parts.1.type"), "blob");
  cr_expect_str_eq(jstr(in, "1.parts.1.modality"), "image");
  cr_expect_str_eq(jstr(in, "1.parts.1.mime_type"), "image/jpeg");
  cr_expect_eq(jnum(in, "1.parts.1.size"), 10);
  cr_expect_null(jget(in, "1.parts.1.data"));
  cr_expect_str_eq(jstr(in, "1.parts.2.type"), "uri");
  cr_expect_str_eq(jstr(in, "1.parts.2.modality"), "video");
  cr_expect_str_eq(jstr(in, "1.parts.2.uri"), "gs://harbour-cams/night.mp4");
  cr_expect_str_eq(jstr(in, "1.parts.2.mime_type"), "video/mp4");
  /* snake_case spelling; a Files API URI is a provider-side file */
  cr_expect_str_eq(jstr(in, "1.parts.3.type"), "file");
  cr_expect_str_eq(jstr(in, "1.parts.3.modality"), "document");
  cr_expect_str_eq(jstr(in, "1.parts.3.file_id"), "files/tide-table-7");

  cr_expect_str_eq(jstr(in, "2.role"), "assistant");
  cr_assert_eq(jsize(in, "2.parts"), 2);
  cr_expect_str_eq(jstr(in, "2.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(in, "2.parts.0.content"),
                   "Checking the lamp sensor first.");
  cr_expect_str_eq(jstr(in, "2.parts.1.type"), "tool_call");
  cr_expect_str_eq(jstr(in, "2.parts.1.id"), "fc-lamp-1");
  cr_expect_str_eq(jstr(in, "2.parts.1.name"), "read_lamp");
  cr_expect_str_eq(jstr(in, "2.parts.1.arguments.tower"), "north");
  cr_expect(cJSON_IsFalse(jget(in, "2.parts.1.arguments.verbose")));
  cr_expect_null(jget(in, "2.parts.1.thoughtSignature"));

  /* the function response is a tool message; the text after it goes on
   * as the user's */
  cr_expect_str_eq(jstr(in, "3.role"), "tool");
  cr_assert_eq(jsize(in, "3.parts"), 1);
  cr_expect_str_eq(jstr(in, "3.parts.0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(in, "3.parts.0.id"), "fc-lamp-1");
  cr_expect_str_eq(jstr(in, "3.parts.0.name"), "read_lamp");
  cr_expect_eq(jnum(in, "3.parts.0.response.lumens"), 1200);
  cr_expect_str_eq(jstr(in, "4.role"), "user");
  cr_expect_str_eq(jstr(in, "4.parts.0.content"), "Is that bright enough?");

  cr_expect_str_eq(jstr(in, "5.role"), "assistant");
  cr_expect_str_eq(jstr(in, "5.parts.0.type"), "executable_code");
  cr_expect_str_eq(jstr(in, "5.parts.0.language"), "PYTHON");
  cr_expect_str_eq(jstr(in, "5.parts.0.code"), "print(1200 >= 1000)");
  cr_expect_str_eq(jstr(in, "5.parts.1.type"), "code_execution_result");
  cr_expect_str_eq(jstr(in, "5.parts.1.outcome"), "OUTCOME_OK");
  cr_expect_str_eq(jstr(in, "5.parts.1.output"), "True\n");

  cr_expect_str_eq(jstr(in, "6.role"), "user"); /* no role: the user */
  cr_expect_str_eq(jstr(in, "6.parts.0.content"), "Log it.");
  cJSON_Delete(r);
}

Test(gemini, plain_response_candidates_usage_cost) {
  cJSON *r = fx_run(GEN_URL, "gemini/generate.req.json",
                    "gemini/generate.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cr_expect_str_eq(jstr(r, "response_id"), "resp-lighthouse-01");
  cr_expect_str_eq(jstr(r, "response_model"), "gemini-2.5-flash-001");
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1100000000");

  /* candidates in index order, whatever their order in the body */
  cr_assert_eq(jsize(r, "output"), 2);
  const cJSON *o = jget(r, "output.0");
  cr_expect_str_eq(jstr(o, "role"), "assistant");
  cr_assert_eq(jsize(o, "parts"), 4);
  cr_expect_str_eq(jstr(o, "parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "parts.0.content"), "The lamp reads 1200 lumens.");
  cr_expect_str_eq(jstr(o, "parts.1.content"), "{\"entry\": ");
  cr_expect_str_eq(jstr(o, "parts.2.content"), "\"Lamp steady, 1200 lm\"}");
  cr_expect_str_eq(jstr(o, "parts.3.type"), "tool_call");
  cr_expect_str_eq(jstr(o, "parts.3.id"), "fc-log-9");
  cr_expect_str_eq(jstr(o, "parts.3.name"), "write_log");
  cr_expect_str_eq(jstr(o, "parts.3.arguments.line"), "lamp ok");
  cr_expect_str_eq(jstr(o, "finish_reason"), "STOP");
  cr_expect_str_eq(jstr(r, "output.1.parts.0.content"),
                   "{\"entry\": \"Lamp dim, 600 lm\"}");
  cr_expect_str_eq(jstr(r, "output.1.finish_reason"), "MAX_TOKENS");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "STOP");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "MAX_TOKENS");

  /* input = prompt (cache included) + tool-use prompt; output =
   * candidates + thoughts */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1560);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 65);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage.reasoning_output_tokens"), 25);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 1625);
  cr_expect_eq(jnum(r, "usage_details.input"), 560);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage_details.output"), 40);
  cr_expect_eq(jnum(r, "usage_details.output_reasoning_tokens"), 25);
  cr_expect_eq(jnum(r, "usage_details.total"), 1625);
  cr_expect_str_eq(jstr(r, "metadata.service_tier"), "standard");
  cr_expect_null(jget(r, "metadata.usage_missing"));

  /* gemini-2.5-flash-001 is priced as gemini-2.5-flash */
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:gemini-2.5-flash@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.input"), 560 * 0.30e-6, 1e-15);
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"),
                     1000 * 0.03e-6, 1e-15);
  cr_expect_float_eq(jnum(r, "cost_details.total"),
                     560 * 0.30e-6 + 1000 * 0.03e-6 + 65 * 2.5e-6, 1e-15);
  cJSON_Delete(r);
}

/* Byte offsets just past each element of a JSON-array stream, as chunk
 * marks 1 µs apart. */
static void mark_elements(struct at_exchange *ex, const char *body) {
  const char *p = body;
  while ((p = strstr(p, "}\n,")) && ex->nmarks < AT_MAX_CHUNK_MARKS) {
    p += 1;
    ex->marks[ex->nmarks].offset = (size_t)(p - body);
    ex->marks[ex->nmarks].t_ns = 1000000000 + 1000 * (int64_t)(ex->nmarks + 1);
    ex->nmarks++;
  }
}

Test(gemini, stream_json_array) {
  char *body = fx_read("gemini/stream.json", NULL);
  struct at_exchange ex =
      fx_exchange(STREAM_URL, SIMPLE_REQ, body, 200,
                  "HTTP/1.1 200 OK\r\nContent-Type: application/json; "
                  "charset=UTF-8\r\n");
  mark_elements(&ex, body);
  cr_assert_geq(ex.nmarks, 3);
  cJSON *r = fx_parse(&ex);
  expect_valid_record(r);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.stream")));
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-pro");
  cr_expect_str_eq(jstr(r, "response_model"), "gemini-2.5-pro");
  cr_expect_str_eq(jstr(r, "response_id"), "resp-tide-7");
  /* the first element already carries output (a thought) */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1000001000");
  cr_assert_eq(jsize(r, "output"), 1);
  const cJSON *o = jget(r, "output.0");
  cr_assert_eq(jsize(o, "parts"), 3);
  cr_expect_str_eq(jstr(o, "parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "parts.0.content"), "Weighing the tide tables.");
  cr_expect_str_eq(jstr(o, "parts.1.type"), "text");
  cr_expect_str_eq(jstr(o, "parts.1.content"), "High tide at 18:40.");
  cr_expect_str_eq(jstr(o, "parts.2.type"), "tool_call");
  cr_expect_null(jget(o, "parts.2.id"));
  cr_expect_str_eq(jstr(o, "parts.2.name"), "ring_bell");
  cr_expect_eq(jnum(o, "parts.2.arguments.times"), 3);
  cr_expect_str_eq(jstr(o, "finish_reason"), "STOP");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "STOP");
  /* the last report wins: 20 in, 9 + 14 out */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 20);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 23);
  cr_expect_eq(jnum(r, "usage.reasoning_output_tokens"), 14);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 43);
  cr_expect_eq(jnum(r, "usage_details.output"), 9);
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gemini-2.5-pro@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.total"), 20 * 1.25e-6 + 23 * 10e-6,
                     1e-15);
  cJSON_Delete(r);

  /* the same elements, LF only and one line each */
  const char *compact =
      "[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Ebb\"}]}}]},"
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" tide\"}]},"
      "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":3,"
      "\"candidatesTokenCount\":2}}]";
  r = run(STREAM_URL, SIMPLE_REQ, compact, 200);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Ebb tide");
  cr_expect_eq(jnum(r, "usage.total_tokens"), 5);
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
  free(body);
}

Test(gemini, stream_sse_with_crlf) {
  cJSON *r = fx_run(SSE_URL, NULL, "gemini/stream.sse", 200,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "request body is empty");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "response_model"), "gemini-2.0-flash");
  cr_expect_str_eq(jstr(r, "response_id"), "resp-fog-3");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Fog horn on.");
  cr_expect_eq(jsize(r, "output.0.parts"), 1);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "STOP");
  /* early chunks carry only trafficType: the counts come from the last */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 12);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 4);
  cr_expect_null(jget(r, "usage.reasoning_output_tokens"));
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:gemini-2.0-flash@2026-08-22");
  cJSON_Delete(r);
}

Test(gemini, stream_cut_and_malformed) {
  cJSON *r =
      run_fx(STREAM_URL, SIMPLE_REQ, "gemini/stream_cut.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "stream ended before the JSON array was closed");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "The keeper");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "error");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 9);
  cr_expect_null(jget(r, "usage.output_tokens"));
  cJSON_Delete(r);

  r = run(STREAM_URL, SIMPLE_REQ, "[]", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "stream has no chunks");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the stream carried no usageMetadata counts");
  cJSON_Delete(r);

  r = run(STREAM_URL, SIMPLE_REQ,
          "[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]} "
          "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"b\"}]},"
          "\"finishReason\":\"STOP\"}]}]",
          200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream: chunks not separated by ','");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "ab");
  cJSON_Delete(r);

  r = run(STREAM_URL, SIMPLE_REQ,
          "[{\"candidates\": 7}, 12, {\"usageMetadata\":{\"promptTokenCount\":"
          "\"x\"}}, {\"candidates\":[{\"index\":\"one\"}]}]",
          200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream chunk is not a JSON object");
  cr_expect_null(jget(r, "usage"));
  cJSON_Delete(r);

  /* an SSE event that is not JSON, then a good one */
  r = run(SSE_URL, SIMPLE_REQ,
          "data: {oops\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":"
          "[{\"text\":\"ok\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n",
          200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream chunk is not a JSON object");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "ok");
  cJSON_Delete(r);

  /* SSE without a finish reason: cut */
  r = run(SSE_URL, SIMPLE_REQ,
          "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Half"
          "\"}]}}]}\r\n\r\n",
          200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before a finish reason arrived");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);
}

Test(gemini, stream_candidates_by_index) {
  /* index 0 is left out when a sibling names its own (proto3) */
  const char *body =
      "[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A1\"}]}},"
      "{\"index\":1,\"content\":{\"parts\":[{\"text\":\"B1\"}]}}]},\r\n"
      "{\"candidates\":[{\"index\":1,\"content\":{\"parts\":[{\"text\":\"B2\"}"
      "]},\"finishReason\":\"STOP\"},{\"content\":{\"parts\":[{\"text\":"
      "\"A2\"}]},\"finishReason\":\"MAX_TOKENS\"}]}]";
  cJSON *r = run(STREAM_URL, SIMPLE_REQ, body, 200);
  cr_assert_eq(jsize(r, "output"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "A1A2");
  cr_expect_str_eq(jstr(r, "output.1.parts.0.content"), "B1B2");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "MAX_TOKENS");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "STOP");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
}

Test(gemini, stream_error_element) {
  cJSON *r =
      run_fx(STREAM_URL, SIMPLE_REQ, "gemini/stream_error.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "The model is overloaded. Please try again later.");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "UNAVAILABLE");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "503");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Partial log");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);
}

Test(gemini, http_error_and_blocked_prompt) {
  cJSON *r = run_fx(GEN_URL, SIMPLE_REQ, "gemini/error_429.json", 429, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "Resource has been exhausted (e.g. check quota).");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "RESOURCE_EXHAUSTED");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "429");
  cr_expect_null(jget(r, "output"));
  cr_expect_null(jget(r, "completion_start_ns"));
  cJSON_Delete(r);

  /* a 200 with an error object */
  r = run(GEN_URL, SIMPLE_REQ,
          "{\"error\":{\"code\":500,\"message\":\"Internal error "
          "encountered.\",\"status\":\"INTERNAL\"}}",
          200);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "Internal error encountered.");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);

  r = run_fx(GEN_URL, SIMPLE_REQ, "gemini/blocked.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "prompt blocked: SAFETY: The prompt was flagged by the "
                   "safety filters.");
  cr_expect_str_eq(jstr(r, "metadata.block_reason"), "SAFETY");
  cr_expect_null(jget(r, "output"));
  cr_expect_null(jget(r, "finish_reasons"));
  cr_expect_null(jget(r, "metadata.parse_error"));
  cr_expect_eq(jnum(r, "usage.input_tokens"), 14);
  cr_expect_null(jget(r, "usage.output_tokens"));
  cJSON_Delete(r);

  /* the same as a stream, reason as an enum number */
  r = run(STREAM_URL, SIMPLE_REQ, "[{\"promptFeedback\":{\"blockReason\":2}}]",
          200);
  cr_expect_str_eq(jstr(r, "status_message"), "prompt blocked: OTHER");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
}

Test(gemini, enums_as_numbers) {
  /* Vertex numbers its finish reasons on: 9 is MALFORMED_FUNCTION_CALL */
  cJSON *r = run_fx(VERTEX "publishers/google/models/gemini-2.5-flash:"
                           "streamGenerateContent?%24alt=json%3Benum-"
                           "encoding%3Dint",
                    SIMPLE_REQ, "gemini/vertex_enum_int.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "provider"), "gcp.vertex_ai");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "MALFORMED_FUNCTION_CALL");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.arguments.times"), "three");
  cr_expect_eq(jnum(r, "usage.output_tokens"), 5);
  cJSON_Delete(r);

  /* the Gemini API numbers them differently past OTHER: kept as numbers */
  r = run_fx(STREAM_URL, SIMPLE_REQ, "gemini/vertex_enum_int.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "9");
  cJSON_Delete(r);
  r = run(GEN_URL, SIMPLE_REQ,
          "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
          "\"finishReason\":2}]}",
          200);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "MAX_TOKENS");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usageMetadata counts");
  cJSON_Delete(r);
}

Test(gemini, wrong_types_give_partial_records) {
  cJSON *r = run(GEN_URL, "{\"contents\": 5, \"generationConfig\": []}",
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":7},"
                 "{\"text\":\"kept\"}]},\"finishReason\":\"STOP\"}],"
                 "\"usageMetadata\":{\"promptTokenCount\":\"ten\","
                 "\"candidatesTokenCount\":2},\"modelVersion\":1}",
                 200);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request.generationConfig is not an object");
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-flash");
  cr_expect_eq(jsize(r, "input"), 0);
  cr_expect_null(jget(r, "response_model"));
  cr_expect_eq(jsize(r, "output.0.parts"), 1);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "kept");
  cr_expect_null(jget(r, "usage.input_tokens"));
  cr_expect_eq(jnum(r, "usage.output_tokens"), 2);
  cJSON_Delete(r);

  r = run(GEN_URL,
          "{\"contents\":[7,{\"role\":\"model\",\"parts\":{\"text\":\"x\"}},"
          "{\"parts\":[{\"inlineData\":\"AAAA\"},{\"mystery\":{}},"
          "{\"thoughtSignature\":\"c2ln\"}]}],\"systemInstruction\":\"Be "
          "brief.\"}",
          "{\"candidates\": {}}", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request.contents[] is not an object");
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "Be brief.");
  cr_expect_str_eq(jstr(r, "input.1.role"), "assistant");
  cr_expect_eq(jsize(r, "input.1.parts"), 0);
  /* a wrongly typed part keeps its place; a lone thought signature is
   * no part */
  cr_expect_eq(jsize(r, "input.2.parts"), 2);
  cr_expect_str_eq(jstr(r, "input.2.parts.0.type"), "inline_data");
  cr_expect_str_eq(jstr(r, "input.2.parts.1.type"), "mystery");
  cr_expect_null(jget(r, "output"));
  cJSON_Delete(r);

  r = run(GEN_URL, "[1,2]", "not json", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request is not a JSON object");
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-2.5-flash");
  cJSON_Delete(r);
}

Test(gemini, audio_tokens_and_binary_capture) {
  /* 300 prompt tokens of which 100 audio, 20 of those from the cache */
  const char *resp =
      "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A bell.\"}]},"
      "\"finishReason\":\"STOP\"}],\"usageMetadata\":{"
      "\"promptTokenCount\":300,\"candidatesTokenCount\":3,"
      "\"cachedContentTokenCount\":50,\"totalTokenCount\":303,"
      "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":200},"
      "{\"modality\":\"AUDIO\",\"tokenCount\":100}],"
      "\"cacheTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":30},"
      "{\"modality\":\"AUDIO\",\"tokenCount\":20}]}}";
  const char *req = "{\"contents\":[{\"parts\":[{\"text\":\"What is this?\"},"
                    "{\"inlineData\":{\"mimeType\":\"audio/wav\",\"data\":"
                    "\"UklG\\nRg==\"}}]}]}";
  struct at_exchange ex = fx_exchange(GEN_URL, req, resp, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 300);
  cr_expect_eq(jnum(r, "usage.input_audio_tokens"), 80);
  cr_expect_eq(jnum(r, "usage_details.input_audio_tokens"), 80);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 50);
  cr_expect_eq(jnum(r, "usage_details.input"), 170);
  cr_expect_eq(jnum(r, "usage_details.total"), 303);
  cr_expect_str_eq(jstr(r, "input.0.parts.1.type"), "blob");
  cr_expect_str_eq(jstr(r, "input.0.parts.1.modality"), "audio");
  cr_expect_eq(jnum(r, "input.0.parts.1.size"), 4);
  cr_expect_null(jget(r, "input.0.parts.1.content"));
  cJSON_Delete(r);

  /* AUTOTRACE_CAPTURE_BINARY=1: the bytes are kept, as base64 */
  struct at_parse_opts opts = {0};
  opts.capture_binary = 1;
  const char *skip = NULL;
  r = at_parse_exchange(&ex, NULL, &opts, &skip);
  cr_assert_not_null(r);
  cr_expect_str_eq(jstr(r, "input.0.parts.1.content"), "UklGRg==");
  cJSON_Delete(r);
}

/* ---- embeddings ------------------------------------------------------- */

Test(gemini, embeddings) {
  cJSON *r =
      fx_run(GEM "text-embedding-004:embedContent", "gemini/embed.req.json",
             "gemini/embed.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "operation"), "embeddings");
  cr_expect_str_eq(jstr(r, "name"), "embeddings text-embedding-004");
  cr_expect_str_eq(jstr(r, "request_model"), "text-embedding-004");
  cr_expect_eq(jsize(r, "input"), 1);
  cr_expect_str_eq(jstr(r, "input.0"), "tide\ntable");
  cr_expect_eq(jnum(r, "model_parameters.dimensions"), 3);
  cr_expect_str_eq(jstr(r, "model_parameters.task_type"), "RETRIEVAL_QUERY");
  cr_expect_eq(jnum(r, "output.count"), 1);
  cr_expect_eq(jnum(r, "output.dimensions"), 3);
  cr_expect_null(jget(r, "usage"));
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usageMetadata counts");
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);

  r = fx_run(GEM "gemini-embedding-001:batchEmbedContents",
             "gemini/batch_embed.req.json", "gemini/batch_embed.resp.json", 200,
             NULL);
  cr_expect_str_eq(jstr(r, "request_model"), "gemini-embedding-001");
  cr_expect_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.1"), "south tower");
  cr_expect_eq(jnum(r, "model_parameters.dimensions"), 4);
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 4);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 6);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:gemini-embedding-001@2026-08-21");
  cr_expect_float_eq(jnum(r, "cost_details.total"), 6 * 0.15e-6, 1e-15);
  cJSON_Delete(r);

  /* the model from the body when the URL names none */
  r = run("https://gw.example.net/v1beta/models/x:embedContent",
          "{\"requests\": 3}", "{\"embeddings\": 1}", 200);
  cr_expect_str_eq(jstr(r, "provider"), "gcp.gen_ai");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request.requests is not an array");
  cr_expect_null(jget(r, "output"));
  cJSON_Delete(r);
}

/* ---- secrets ---------------------------------------------------------- */

Test(gemini, api_keys_never_reach_the_record) {
  char *body = fx_read("gemini/stream.sse", NULL);
  struct at_exchange ex =
      fx_exchange(GEM "gemini-2.0-flash:streamGenerateContent?alt=sse&key="
                      "AIzaSyTOPSECRET1",
                  SIMPLE_REQ, body, 200,
                  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                  "X-Goog-Api-Key: AIzaSyTOPSECRET3\r\n");
  ex.req_headers = "Content-Type: application/json\r\n"
                   "x-goog-api-key: AIzaSyTOPSECRET2\r\n"
                   "Authorization: Bearer ya29.TOPSECRET4\r\n";
  ex.req_headers_len = strlen(ex.req_headers);
  cJSON *r = fx_parse(&ex);
  char *text = cJSON_PrintUnformatted(r);
  cr_assert_not_null(text);
  cr_expect_null(strstr(text, "TOPSECRET"), "a key leaked: %s", text);
  cr_expect_str_eq(jstr(r, "http.url"),
                   GEM "gemini-2.0-flash:streamGenerateContent?alt=sse&key="
                       "REDACTED");
  cr_expect_str_eq(jstr(r, "http.request_headers.x-goog-api-key"),
                   "[REDACTED]");
  cr_expect_str_eq(jstr(r, "http.response_headers.x-goog-api-key"),
                   "[REDACTED]");
  cr_expect_str_eq(jstr(r, "http.request_headers.authorization"), "[REDACTED]");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Fog horn on.");
  free(text);
  cJSON_Delete(r);
  free(body);

  /* the key in a Vertex express-mode URL, percent-encoded name */
  r = run("https://aiplatform.googleapis.com/v1/publishers/google/models/"
          "gemini-2.5-flash:generateContent?%6Bey=AIzaSyTOPSECRET5",
          SIMPLE_REQ, NULL, 0);
  text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "TOPSECRET"), "a key leaked: %s", text);
  free(text);
  cJSON_Delete(r);
}

/* Streams made at random from the chunk shapes Gemini sends (a text or
 * thought part, the same chunk twice, an empty part carrying a thought
 * signature, usage that grows, a member nothing reads changing), as SSE
 * and as a JSON array: whether a chunk is read in full or taken for a
 * repeat of the one before (gemini.c, repeat_chunk), the answer must be
 * the pieces sent, in runs of one kind, and the usage the last one. */
Test(gemini, stream_random_chunks_assemble_exactly) {
  static char body[1 << 16];
  for (unsigned round = 0; round < 240; round++) {
    unsigned seed = 4242 + round;
    int array = round % 2;
    size_t n = 0;
    /* expected parts: kinds and texts of the runs */
    char want[16][2048];
    int kinds[16], nruns = 0;
    char chunk[512], last[512] = "", piece[12] = "ab";
    int thought = 0, count = 0;
    n += (size_t)snprintf(body + n, sizeof body - n, "%s", array ? "[" : "");
    for (int e = 0; e < 40; e++) {
      seed = seed * 1103515245u + 12345u;
      unsigned k = (seed >> 16) % 100;
      if (k < 12 && last[0]) {
        snprintf(chunk, sizeof chunk, "%s", last); /* the same again */
      } else {
        if (k < 30)
          thought = !thought;
        size_t len = (seed >> 8) % 7;
        for (size_t i = 0; i < len; i++)
          piece[i] = (char)('a' + (seed >> (i * 2)) % 26);
        piece[len] = '\0';
        count += 1 + (int)(seed % 3);
        snprintf(
            chunk, sizeof chunk,
            "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"%s\"%s%s}"
            "],\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{"
            "\"promptTokenCount\":11,\"candidatesTokenCount\":%d,"
            "\"totalTokenCount\":%d},\"modelVersion\":\"gemini-2.5-pro\","
            "\"createTime\":\"%s\",\"responseId\":\"r-1\"}",
            piece, thought ? ",\"thought\":true" : "",
            len == 0 ? ",\"thoughtSignature\":\"c2ln\"" : "", count, 11 + count,
            k % 9 == 0 ? "2026-11-21T12:00:01Z" : "t0");
      }
      /* the pieces the chunk adds (the last chunk's, when repeated) */
      const char *t = strstr(chunk, "\"text\":\"") + 8;
      size_t tl = (size_t)(strchr(t, '"') - t);
      int kind = strstr(chunk, "\"thought\":true") != NULL;
      if (tl) {
        if (!nruns || kinds[nruns - 1] != kind) {
          cr_assert_lt(nruns, 16);
          kinds[nruns] = kind;
          want[nruns++][0] = '\0';
        }
        strncat(want[nruns - 1], t, tl);
      }
      snprintf(last, sizeof last, "%s", chunk);
      n += (size_t)snprintf(body + n, sizeof body - n, "%s%s%s",
                            array ? (e ? ",\r\n" : "") : "data: ", chunk,
                            array ? "" : "\r\n\r\n");
    }
    /* the finishing chunk with the final usage, or (every other time)
     * without: the usage is then the last one a chunk carried */
    if (round % 4 < 2) {
      count += 1;
      snprintf(chunk, sizeof chunk,
               "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],"
               "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
               "\"usageMetadata\":{\"promptTokenCount\":11,"
               "\"candidatesTokenCount\":%d,\"totalTokenCount\":%d}}",
               count, 11 + count);
    } else {
      snprintf(chunk, sizeof chunk,
               "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],"
               "\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}]}");
    }
    n += (size_t)snprintf(body + n, sizeof body - n, "%s%s%s%s",
                          array ? ",\r\n" : "data: ", chunk,
                          array ? "" : "\r\n\r\n", array ? "]" : "");
    cr_assert_lt(n, sizeof body - 1);
    cJSON *r = run(array ? STREAM_URL : SSE_URL, SIMPLE_REQ, body, 200);
    cr_assert_null(jget(r, "metadata.parse_error"), "round %u", round);
    cr_assert_eq(jsize(r, "output.0.parts"), nruns, "round %u", round);
    for (int i = 0; i < nruns; i++) {
      char path[64];
      snprintf(path, sizeof path, "output.0.parts.%d.type", i);
      cr_assert_str_eq(jstr(r, path), kinds[i] ? "reasoning" : "text",
                       "round %u part %d", round, i);
      snprintf(path, sizeof path, "output.0.parts.%d.content", i);
      cr_assert_str_eq(jstr(r, path), want[i], "round %u part %d", round, i);
    }
    cr_assert_eq(jnum(r, "usage.output_tokens"), count, "round %u", round);
    cJSON_Delete(r);
  }
}
