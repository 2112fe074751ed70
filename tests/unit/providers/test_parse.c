/* parse: shared outcomes for every API — errors, bad bodies, limits. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "providers/json_util.h"

#define CHAT_URL "https://api.openai.com/v1/chat/completions"
#define MSG_URL "https://api.anthropic.com/v1/messages"
#define SIMPLE_REQ                                                             \
  "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","               \
  "\"content\":\"hi\"}]}"

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

Test(parse_errors, openai_http_errors) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json", "openai_error_400.json",
                    400, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "Invalid value for 'temperature': expected a number "
                   "between 0 and 2.");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "invalid_request_error");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "invalid_value");
  cr_expect_str_eq(jstr(r, "metadata.error_param"), "temperature");
  cr_expect_null(jget(r, "output"));
  cr_expect_null(jget(r, "usage"));
  cr_expect_null(jget(r, "completion_start_ns"));
  cr_expect_eq(jsize(r, "input"), 7);
  cJSON_Delete(r);

  r = fx_run(CHAT_URL, "openai_chat.req.json", "openai_error_429.json", 429,
             NULL);
  cr_expect_str_eq(jstr(r, "status_message"),
                   "Rate limit reached for requests. Please try again in 20s.");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "rate_limit_exceeded");
  cr_expect_null(jget(r, "metadata.error_param"));
  cJSON_Delete(r);

  /* a numeric code (OpenRouter) and a string error (Ollama) */
  r = run(CHAT_URL, SIMPLE_REQ,
          "{\"error\":{\"message\":\"Provider returned error\",\"code\":429}}",
          429);
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "429");
  cJSON_Delete(r);
  r = run(CHAT_URL, SIMPLE_REQ, "{\"error\":\"model not found\"}", 404);
  cr_expect_str_eq(jstr(r, "status_message"), "model not found");
  cJSON_Delete(r);
  r = run(CHAT_URL, SIMPLE_REQ,
          "{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"field required\"}]}",
          422);
  cr_expect_str_eq(jstr(r, "status_message"), "field required");
  cJSON_Delete(r);
}

Test(parse_errors, text_html_and_empty_error_bodies) {
  char long_text[2000];
  memset(long_text, 'e', sizeof long_text - 1);
  long_text[sizeof long_text - 1] = '\0';
  memcpy(long_text, "upstream timed out ", 19);
  cJSON *r = run(CHAT_URL, SIMPLE_REQ, long_text, 504);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_eq(strlen(jstr(r, "status_message")), 500);
  cr_expect_eq(strncmp(jstr(r, "status_message"), "upstream timed out", 18), 0);
  cJSON_Delete(r);

  r = run(CHAT_URL, SIMPLE_REQ,
          "<html><head><title>502 Bad Gateway</title></head></html>\n", 502);
  cr_expect_str_eq(jstr(r, "status_message"),
                   "<html><head><title>502 Bad Gateway</title></head></html>");
  cJSON_Delete(r);

  struct at_exchange ex = fx_exchange(CHAT_URL, SIMPLE_REQ, "", 503,
                                      "HTTP/1.1 503 Service Unavailable\r\n"
                                      "Retry-After: 3\r\n");
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "status_message"), "HTTP 503 Service Unavailable");
  cr_expect_str_eq(jstr(r, "http.response_headers.retry-after"), "3");
  cJSON_Delete(r);

  /* a multi-byte character is never split by the 500-byte cut */
  char accents[1200] = "";
  for (int i = 0; i < 500; i++)
    strcat(accents, "\xc3\xa9"); /* é */
  r = run(CHAT_URL, SIMPLE_REQ, accents, 500);
  cr_expect_eq(strlen(jstr(r, "status_message")), 500);
  cJSON_Delete(r);

  /* an error delivered as an event stream */
  r = run(MSG_URL, "{\"model\":\"claude-3-haiku\",\"messages\":[]}",
          "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"invalid_request_error\",\"message\":\"bad stream\"}}\n\n",
          400);
  cr_expect_str_eq(jstr(r, "status_message"), "bad stream");
  cJSON_Delete(r);
}

Test(parse_errors, error_object_in_200) {
  cJSON *r = run(CHAT_URL, SIMPLE_REQ,
                 "{\"error\":{\"message\":\"upstream failed\",\"type\":"
                 "\"server_error\"}}",
                 200);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "upstream failed");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "server_error");
  cJSON_Delete(r);
}

Test(parse_errors, transport_errors) {
  struct at_exchange ex = fx_exchange(CHAT_URL, SIMPLE_REQ, NULL, 0, NULL);
  ex.transport_error = 28;
  ex.transport_error_msg = "Operation timed out after 30000 milliseconds";
  ex.t_first_byte_ns = 0;
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "Operation timed out after 30000 milliseconds");
  cr_expect_str_eq(jstr(r, "metadata.transport_error"),
                   "Operation timed out after 30000 milliseconds");
  cr_expect_null(jget(r, "http.status"));
  cr_expect_null(jget(r, "metadata.parse_error"));
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "hi");
  cJSON_Delete(r);

  /* abandoned mid-stream: what arrived is kept */
  ex = fx_exchange(CHAT_URL,
                   "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}",
                   "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                   "\"Hel\"}}]}\n\n",
                   200, NULL);
  ex.transport_error = -1;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "transfer abandoned before it finished");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Hel");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before [DONE]");
  cJSON_Delete(r);

  /* no body, stream requested */
  ex = fx_exchange(CHAT_URL,
                   "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}",
                   NULL, 0, NULL);
  ex.transport_error = 7;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "status_message"), "transport error 7");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cJSON_Delete(r);
}

Test(parse_bodies, not_json_empty_binary_gzip) {
  cJSON *r = run(CHAT_URL, SIMPLE_REQ, "Internal hiccup, not JSON", 200);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "response is not JSON");
  cr_expect_str_eq(jstr(r, "status_message"), "response is not JSON");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4o-mini");
  cr_expect_null(jget(r, "output"));
  cJSON_Delete(r);

  r = run(CHAT_URL, SIMPLE_REQ, "", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "response body is empty");
  cJSON_Delete(r);

  r = run(CHAT_URL, "", "{\"choices\":[]}", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "request body is empty");
  cr_expect_null(jget(r, "input"));
  cJSON_Delete(r);

  r = run(CHAT_URL, SIMPLE_REQ, "[1,2,3]", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "response is not a JSON object");
  cJSON_Delete(r);

  r = run(CHAT_URL, "\"just a string\"", "{}", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request is not a JSON object");
  cJSON_Delete(r);

  char gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage";
  struct at_exchange ex = fx_exchange(CHAT_URL, SIMPLE_REQ, gz, 200, NULL);
  ex.resp_body_len = sizeof gz - 1;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "response: compressed body");
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cJSON_Delete(r);
  ex = fx_exchange(CHAT_URL, gz, "{}", 200, NULL);
  ex.req_body_len = sizeof gz - 1;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "request: compressed body");
  cJSON_Delete(r);

  char bin[4096];
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (char)((i * 131 + 7) & 0xff);
  bin[0] = 'x'; /* not gzip magic */
  ex = fx_exchange(MSG_URL, bin, bin, 200, NULL);
  ex.req_body_len = ex.resp_body_len = sizeof bin;
  r = fx_parse(&ex);
  expect_valid_record(r);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect(jstr(r, "metadata.parse_error") != NULL);
  cJSON_Delete(r);
}

Test(parse_bodies, invalid_utf8_is_cleaned) {
  const char *req = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"bad \xff\xfe byte\"}]}";
  cJSON *r = run(CHAT_URL, req, "{}", 200);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "bad ?? byte");
  cr_expect(strstr(jstr(r, "metadata.parse_error"), "UTF-8") != NULL);
  cJSON_Delete(r);
}

Test(parse_bodies, invalid_utf8_in_error_body) {
  /* found by fuzzing: an error body's fields reach the record too */
  cJSON *r = run(CHAT_URL, SIMPLE_REQ,
                 "{\"error\":{\"message\":\"bad \xc3\",\"type\":\"inv\x97lid\","
                 "\"code\":\"x\xff\"}}",
                 400);
  cr_expect_str_eq(jstr(r, "status_message"), "bad ?");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "inv?lid");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "x?");
  cJSON_Delete(r);
}

Test(parse_bodies, wrong_types_give_partial_records) {
  cJSON *r = run(CHAT_URL,
                 "{\"model\":42,\"messages\":{\"role\":\"user\"},"
                 "\"temperature\":\"hot\"}",
                 "{\"id\":7,\"model\":[\"x\"],\"choices\":\"none\","
                 "\"usage\":{\"prompt_tokens\":\"10\",\"completion_tokens\":"
                 "-3,\"total_tokens\":1.5}}",
                 200);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request.model is not a string");
  cr_expect_null(jget(r, "request_model"));
  cr_expect_null(jget(r, "response_model"));
  cr_expect_null(jget(r, "usage"));
  cr_expect_str_eq(jstr(r, "name"), "chat");
  /* temperature is kept as sent */
  cr_expect_str_eq(jstr(r, "model_parameters.temperature"), "hot");
  cJSON_Delete(r);

  r = run(CHAT_URL,
          "{\"model\":\"gpt-4o\",\"messages\":[5,{\"content\":\"no role\"},"
          "{\"role\":\"assistant\",\"content\":7,\"tool_calls\":{\"a\":1}},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":9},"
          "{\"nope\":1},3]}]}",
          "{\"model\":\"gpt-4o\",\"choices\":[7,{\"index\":\"x\","
          "\"message\":\"m\"},{\"index\":1,\"message\":{\"content\":"
          "\"fine\",\"tool_calls\":[1,{\"function\":\"f\"}]},"
          "\"finish_reason\":9}]}",
          200);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request.messages[] is not an object");
  cr_expect_eq(jsize(r, "input"), 3);
  cr_expect_str_eq(jstr(r, "input.0.role"), "user"); /* defaulted */
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "no role");
  cr_expect(jsize(r, "output") >= 1);
  cr_expect_null(jget(r, "finish_reasons"));
  cJSON_Delete(r);

  r = run(MSG_URL,
          "{\"model\":\"claude-3-haiku\",\"system\":5,\"messages\":[{\"role\":"
          "\"user\",\"content\":[{\"type\":\"image\",\"source\":7},"
          "{\"type\":\"tool_result\",\"content\":{}}]}]}",
          "{\"type\":\"message\",\"content\":\"plain\",\"stop_reason\":1,"
          "\"usage\":{\"input_tokens\":true}}",
          200);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "plain");
  cr_expect_null(jget(r, "usage"));
  cJSON_Delete(r);
}

Test(parse_bodies, huge_input_kept_whole) {
  size_t n = 1 << 20;
  char *req = malloc(n + 200);
  strcpy(req, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\","
              "\"content\":\"");
  size_t off = strlen(req);
  memset(req + off, 'a', n);
  strcpy(req + off + n, "\"}]}");
  cJSON *r = run(CHAT_URL, req, "{\"choices\":[]}", 200);
  cr_expect_eq(strlen(jstr(r, "input.0.parts.0.content")), n);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);
  free(req);
}

Test(parse_bodies, truncated_bodies) {
  const char *req = "{\"stream\":false,\"model\":\"gpt-4o-mini\",\"messages\":"
                    "[{\"role\":\"user\",\"content\":\"aaaaaaaa";
  struct at_exchange ex = fx_exchange(
      CHAT_URL, req,
      "{\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":"
      "100000,\"completion_tokens\":5}}",
      200, NULL);
  ex.req_body_truncated = 1;
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.request_truncated")));
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "request is not JSON (truncated)");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4o-mini"); /* salvaged */
  cr_expect_null(jget(r, "input"));
  cr_expect_eq(jnum(r, "usage.input_tokens"), 100000);
  cr_expect(jget(r, "cost_details") != NULL);
  cJSON_Delete(r);

  ex = fx_exchange(CHAT_URL, SIMPLE_REQ, "{\"choices\":[{\"index\":0,", 200,
                   NULL);
  ex.resp_body_truncated = 1;
  r = fx_parse(&ex);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.response_truncated")));
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "response is not JSON (truncated)");
  cJSON_Delete(r);

  /* a truncated body that still parses: the warning says why */
  ex = fx_exchange(CHAT_URL, SIMPLE_REQ, "{\"choices\":[]}", 200, NULL);
  ex.resp_body_truncated = 1;
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "status_message"),
                   "response body truncated at AUTOTRACE_MAX_BODY");
  cJSON_Delete(r);

  /* the model comes last and was cut: nothing to salvage */
  ex = fx_exchange(CHAT_URL, "{\"messages\":[],\"model\":\"gpt-4", "{}", 200,
                   NULL);
  ex.req_body_truncated = 1;
  r = fx_parse(&ex);
  cr_expect_null(jget(r, "request_model"));
  cJSON_Delete(r);
}

Test(parse_modes, metadata_only_drops_content) {
  char *req = fx_read("openai_chat.req.json", NULL);
  char *resp = fx_read("openai_chat.resp.json", NULL);
  struct at_exchange ex = fx_exchange(CHAT_URL, req, resp, 200, NULL);
  struct at_parse_opts opts = {.capture_metadata_only = 1};
  cJSON *r = at_parse_exchange(&ex, NULL, &opts, NULL);
  cr_assert_not_null(r);
  cr_expect_null(jget(r, "input"));
  cr_expect_null(jget(r, "output"));
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1200);
  cr_expect(jget(r, "cost_details") != NULL);
  cr_expect(jget(r, "model_parameters") != NULL);
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "harbours"));
  cr_expect_null(strstr(text, "Brest is calmer"));
  free(text);
  cJSON_Delete(r);
  free(req);
  free(resp);
}

Test(parse_modes, skips_and_explicit_match) {
  const char *why = NULL;
  struct at_exchange ex =
      fx_exchange("https://example.com/index.html", SIMPLE_REQ, "{}", 200, 0);
  cr_expect_null(at_parse_exchange(&ex, NULL, NULL, &why));
  cr_expect_str_eq(why, "not an LLM endpoint");
  ex.url = "https://api.openai.com/v1/models";
  cr_expect_null(at_parse_exchange(&ex, NULL, NULL, &why));
  cr_expect_str_eq(why, "an LLM host, but not an API autotrace parses");
  ex.url = CHAT_URL;
  ex.method = "GET";
  cr_expect_null(at_parse_exchange(&ex, NULL, NULL, &why));
  cr_expect_str_eq(why, "not a POST request");
  cr_expect_null(at_parse_exchange(NULL, NULL, NULL, &why));

  /* the hook's decision is used as given, whatever the URL says */
  ex = fx_exchange("http://10.1.1.1:9999/generate", SIMPLE_REQ,
                   "{\"choices\":[{\"index\":0,\"message\":{\"content\":"
                   "\"ok\"},\"finish_reason\":\"stop\"}]}",
                   200, NULL);
  struct at_match m = {AT_API_OPENAI_CHAT, "vllm"};
  cJSON *r = at_parse_exchange(&ex, &m, NULL, &why);
  cr_assert_not_null(r);
  cr_expect_str_eq(jstr(r, "provider"), "vllm");
  cr_expect_str_eq(jstr(r, "http.server_address"), "10.1.1.1");
  cr_expect_eq(jnum(r, "http.server_port"), 9999);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "ok");
  cJSON_Delete(r);
  ex.url = NULL;
  r = at_parse_exchange(&ex, &m, NULL, &why);
  cr_assert_not_null(r);
  cr_expect_null(jget(r, "http.url"));
  cr_expect_null(jget(r, "http.server_address"));
  cJSON_Delete(r);
}

Test(parse_modes, odd_statuses_and_unknown_bodies) {
  cJSON *r = run(CHAT_URL, SIMPLE_REQ, "", 302);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect(strstr(jstr(r, "status_message"), "HTTP 302") != NULL);
  cJSON_Delete(r);

  r = run(CHAT_URL, SIMPLE_REQ, NULL, 0);
  cr_expect_str_eq(jstr(r, "status_message"), "no response received");
  cJSON_Delete(r);

  struct at_exchange ex =
      fx_exchange(CHAT_URL, NULL, "{\"choices\":[]}", 200, NULL);
  ex.req_body_unknown = 1;
  r = fx_parse(&ex);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.request_body_unknown")));
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);

  /* an event stream where none is expected */
  r = run("https://api.openai.com/v1/embeddings", "{\"model\":\"e\"}",
          "data: {}\n\n", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "unexpected event stream for this API");
  cJSON_Delete(r);

  /* a stream with nothing in it */
  r = run(CHAT_URL, SIMPLE_REQ, ": just a comment\n\n", 200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"), "stream has no events");
  cJSON_Delete(r);

  /* non-JSON events in the middle are reported */
  r = run(CHAT_URL, SIMPLE_REQ,
          "data: oops\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{"
          "\"content\":\"x\"},\"finish_reason\":\"stop\"}]}\n\n"
          "data: [DONE]\n\n",
          200);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream event is not a JSON object");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "x");
  cJSON_Delete(r);
}

Test(parse_modes, name_and_timing_fields) {
  struct at_exchange ex = fx_exchange(
      "https://r.openai.azure.com/openai/deployments/d/chat/completions"
      "?api-version=1&api-key=SECRETQ",
      "{\"messages\":[]}", "{\"model\":\"gpt-4o-2024-11-20\",\"choices\":[]}",
      200, NULL);
  ex.t_start_ns = 1763705992120000000LL;
  ex.t_end_ns = 1763705992480000000LL;
  ex.t_first_byte_ns = 1763705992300000000LL;
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "name"), "chat gpt-4o-2024-11-20");
  cr_expect_str_eq(jstr(r, "start_ns"), "1763705992120000000");
  cr_expect_str_eq(jstr(r, "end_ns"), "1763705992480000000");
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1763705992300000000");
  cr_expect_str_eq(jstr(r, "http.url"),
                   "https://r.openai.azure.com/openai/deployments/d/chat/"
                   "completions?api-version=1&api-key=REDACTED");
  cJSON_Delete(r);
}
