/* OpenAI chat completions: request, plain answers, streamed answers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "helpers.h"

#define CHAT_URL "https://api.openai.com/v1/chat/completions"
#define SSE_HEADERS "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"

Test(openai_chat, request_fields) {
  cJSON *r =
      fx_run(CHAT_URL, "openai_chat.req.json", "openai_chat.resp.json", 200,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "openai-organization: org-x\r\n"
             "Set-Cookie: __cf_bm=SECRETCOOKIE\r\n");
  cr_expect_str_eq(jstr(r, "type"), "generation");
  cr_expect_str_eq(jstr(r, "name"), "chat gpt-4o-mini");
  cr_expect_str_eq(jstr(r, "provider"), "openai");
  cr_expect_str_eq(jstr(r, "operation"), "chat");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4o-mini");

  /* parameters, as sent; stop becomes an array */
  const cJSON *p = jget(r, "model_parameters");
  cr_expect_float_eq(jnum(p, "temperature"), 0.3, 1e-9);
  cr_expect_float_eq(jnum(p, "top_p"), 0.9, 1e-9);
  cr_expect_eq(jnum(p, "max_completion_tokens"), 300);
  cr_expect_eq(jsize(p, "stop"), 1);
  cr_expect_str_eq(jstr(p, "stop.0"), "END");
  cr_expect_eq(jnum(p, "seed"), 42);
  cr_expect_eq(jnum(p, "n"), 1);
  cr_expect_float_eq(jnum(p, "frequency_penalty"), 0.1, 1e-9);
  cr_expect_float_eq(jnum(p, "presence_penalty"), 0.2, 1e-9);
  cr_expect_str_eq(jstr(p, "reasoning_effort"), "low");
  cr_expect(cJSON_IsTrue(jget(p, "parallel_tool_calls")));
  cr_expect_str_eq(jstr(p, "response_format.type"), "json_object");
  cr_expect_str_eq(jstr(p, "tools.0.function.name"), "tide_table");
  cr_expect_str_eq(jstr(p, "tool_choice"), "auto");
  cr_expect(cJSON_IsFalse(jget(p, "logprobs")));
  cr_expect(cJSON_IsFalse(jget(p, "stream")));
  cr_expect_null(jget(p, "user"));
  cr_expect_null(jget(p, "messages"));
  cr_expect_null(jget(p, "model"));

  /* input messages in send order */
  cr_assert_eq(jsize(r, "input"), 7);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.type"), "text");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "You are a terse travel assistant.");
  cr_expect_str_eq(jstr(r, "input.1.role"), "developer");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"), "Prefer metric units.");
  const cJSON *u = jget(r, "input.2.parts");
  cr_assert_eq(jsize(u, ""), 4);
  cr_expect_str_eq(jstr(u, "0.content"), "Compare these two harbours.");
  cr_expect_str_eq(jstr(u, "1.type"), "uri");
  cr_expect_str_eq(jstr(u, "1.modality"), "image");
  cr_expect_str_eq(jstr(u, "1.uri"),
                   "https://img.example.org/harbour.png?sig=REDACTED&w=800");
  cr_expect_str_eq(jstr(u, "2.type"), "blob");
  cr_expect_str_eq(jstr(u, "2.modality"), "image");
  cr_expect_str_eq(jstr(u, "2.mime_type"), "image/jpeg");
  cr_expect_eq(jnum(u, "2.size"), 13); /* 20 base64 chars, "==" pad */
  cr_expect_null(jget(u, "2.content"));
  cr_expect_str_eq(jstr(u, "3.type"), "blob");
  cr_expect_str_eq(jstr(u, "3.modality"), "audio");
  cr_expect_str_eq(jstr(u, "3.mime_type"), "audio/wav");
  cr_expect_eq(jnum(u, "3.size"), 12);
  const cJSON *a = jget(r, "input.3");
  cr_expect_str_eq(jstr(a, "role"), "assistant");
  cr_assert_eq(jsize(a, "parts"), 2);
  cr_expect_str_eq(jstr(a, "parts.0.type"), "tool_call");
  cr_expect_str_eq(jstr(a, "parts.0.id"), "call_tide_1");
  cr_expect_str_eq(jstr(a, "parts.0.name"), "tide_table");
  cr_expect_str_eq(jstr(a, "parts.0.arguments.port"), "Brest");
  cr_expect_eq(jnum(a, "parts.0.arguments.days"), 2);
  cr_expect_str_eq(jstr(a, "parts.1.arguments"), "not json {");
  cr_expect_str_eq(jstr(r, "input.4.role"), "tool");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.id"), "call_tide_1");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.response"),
                   "High water 06:12, 18:40");
  cr_expect_str_eq(jstr(r, "input.5.parts.0.id"), "call_tide_2");
  cr_expect_str_eq(jstr(r, "input.5.parts.0.response.0.content"),
                   "error: bad arguments");
  cr_expect_str_eq(jstr(r, "input.6.name"), "skipper");
  cr_expect_str_eq(jstr(r, "input.6.parts.0.content"),
                   "Which one is calmer tonight?");

  /* http: secrets gone, names lowercase */
  cr_expect_str_eq(jstr(r, "http.method"), "POST");
  cr_expect_str_eq(jstr(r, "http.url"), CHAT_URL);
  cr_expect_eq(jnum(r, "http.status"), 200);
  cr_expect_str_eq(jstr(r, "http.server_address"), "api.openai.com");
  cr_expect_eq(jnum(r, "http.server_port"), 443);
  cr_expect_str_eq(jstr(r, "http.request_headers.authorization"), "[REDACTED]");
  cr_expect_str_eq(jstr(r, "http.request_headers.content-type"),
                   "application/json");
  cr_expect_str_eq(jstr(r, "http.response_headers.openai-organization"),
                   "org-x");
  cr_expect_str_eq(jstr(r, "http.response_headers.set-cookie"), "[REDACTED]");
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "SECRET"), "a secret survived: %s", text);
  free(text);
  cJSON_Delete(r);
}

Test(openai_chat, plain_response_fields) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json", "openai_chat.resp.json",
                    200, NULL);
  cr_expect_str_eq(jstr(r, "response_model"), "gpt-4o-mini-2024-07-18");
  cr_expect_str_eq(jstr(r, "response_id"), "chatcmpl-fx001");
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "status_message"));
  cr_expect_str_eq(jstr(r, "start_ns"), "1000000000");
  cr_expect_str_eq(jstr(r, "end_ns"), "1900000000");
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1100000000");
  cr_assert_eq(jsize(r, "output"), 1);
  cr_expect_str_eq(jstr(r, "output.0.role"), "assistant");
  cr_expect_eq(jsize(r, "output.0.parts"), 1);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Brest is calmer tonight.");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "stop");
  cr_expect_eq(jsize(r, "finish_reasons"), 1);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  /* usage: inclusive as reported */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1200);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 80);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 1024);
  cr_expect_eq(jnum(r, "usage.reasoning_output_tokens"), 64);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 1280);
  cr_expect_null(jget(r, "usage.cache_write_input_tokens"));
  /* usage_details: exclusive buckets */
  cr_expect_eq(jsize(r, "usage_details"), 5);
  cr_expect_eq(jnum(r, "usage_details.input"), 176);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 1024);
  cr_expect_eq(jnum(r, "usage_details.output"), 16);
  cr_expect_eq(jnum(r, "usage_details.output_reasoning_tokens"), 64);
  cr_expect_eq(jnum(r, "usage_details.total"), 1280);
  /* cost from the built-in table, by the response model */
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-4o-mini@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.input"), 176 * 0.15e-6, 1e-15);
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"),
                     1024 * 0.075e-6, 1e-15);
  cr_expect_float_eq(jnum(r, "cost_details.total"),
                     (176 * 0.15 + 1024 * 0.075 + 80 * 0.6) * 1e-6, 1e-15);
  cr_expect(cJSON_IsFalse(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "metadata.capture"), "curl");
  cr_expect_str_eq(jstr(r, "metadata.system_fingerprint"), "fp_fx01");
  cr_expect_str_eq(jstr(r, "metadata.service_tier"), "default");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cr_expect_null(jget(r, "metadata.usage_missing"));
  cJSON_Delete(r);
}

Test(openai_chat, n2_refusal_and_parallel_tool_calls) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json",
                    "openai_chat_n2.resp.json", 200, NULL);
  cr_assert_eq(jsize(r, "output"), 2);
  /* index order, not array order */
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "refusal");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "I can't help with that.");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "stop");
  cr_expect_eq(jsize(r, "output.1.parts"), 2);
  cr_expect_str_eq(jstr(r, "output.1.parts.0.id"), "call_a");
  cr_expect_str_eq(jstr(r, "output.1.parts.0.arguments.q"), "alpha");
  cr_expect_str_eq(jstr(r, "output.1.parts.1.id"), "call_b");
  cr_expect_str_eq(jstr(r, "output.1.parts.1.arguments.q"), "beta");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "tool_calls");
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-4.1@2026-08-22");
  cr_expect_eq(jsize(r, "usage_details"), 3);
  cJSON_Delete(r);
}

Test(openai_chat, legacy_function_call) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json",
                    "openai_chat_function_call.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "tool_call");
  cr_expect_null(jget(r, "output.0.parts.0.id"));
  cr_expect_str_eq(jstr(r, "output.0.parts.0.name"), "get_forecast");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.arguments.city"), "Oslo");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "function_call");
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:gpt-3.5-turbo-0613@2026-08-22");
  cJSON_Delete(r);
}

/* Marks at the end of the first, second, ... events: the first event
 * carrying output must give completion_start_ns. */
static void mark_events(struct at_exchange *ex, const char *body) {
  const char *p = body;
  ex->nmarks = 0;
  while ((p = strstr(p, "\n\n")) && ex->nmarks < AT_MAX_CHUNK_MARKS) {
    p += 2;
    ex->marks[ex->nmarks].offset = (size_t)(p - body);
    ex->marks[ex->nmarks].t_ns = 1000000000 + 1000 * (int64_t)(ex->nmarks + 1);
    ex->nmarks++;
  }
}

Test(openai_chat, stream_parallel_tools_with_usage) {
  char *req = fx_read("openai_chat.req.json", NULL);
  char *body = fx_read("openai_chat_tools.sse", NULL);
  struct at_exchange ex = fx_exchange(CHAT_URL, req, body, 200, SSE_HEADERS);
  mark_events(&ex, body);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "response_id"), "chatcmpl-fx010");
  cr_expect_str_eq(jstr(r, "response_model"), "gpt-4o-2024-08-06");
  /* the second event names the first tool call: output starts there */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1000002000");
  cr_assert_eq(jsize(r, "output"), 1);
  cr_assert_eq(jsize(r, "output.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.id"), "call_north");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.name"), "wind_speed");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.arguments.site"), "Nordkapp");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.id"), "call_south");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.arguments.site"), "Cape Agulhas");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "tool_calls");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_calls");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 95);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 40);
  cr_expect_eq(jnum(r, "usage_details.input"), 95);
  cr_expect_eq(jnum(r, "usage_details.total"), 135);
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-4o@2026-08-22");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "metadata.system_fingerprint"), "fp_fx10");
  cr_expect_null(jget(r, "metadata.usage_missing"));
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);

  /* the same bytes with CRLF line ends and no content-type header */
  size_t n;
  char *crlf = fx_crlf(body, &n);
  ex = fx_exchange(CHAT_URL, req, crlf, 200, NULL);
  r = fx_parse(&ex);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "output.0.parts.1.arguments.site"), "Cape Agulhas");
  cr_expect_eq(jnum(r, "usage.total_tokens"), 135);
  cJSON_Delete(r);
  free(crlf);
  free(req);
  free(body);
}

Test(openai_chat, stream_n2_without_usage) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json", "openai_chat_n2.sse", 200,
                    SSE_HEADERS);
  cr_assert_eq(jsize(r, "output"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Fresh water");
  cr_expect_str_eq(jstr(r, "output.1.parts.0.content"), "Salt water");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "stop");
  cr_expect_str_eq(jstr(r, "output.1.finish_reason"), "length");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "length");
  cr_expect_null(jget(r, "usage"));
  cr_expect_null(jget(r, "usage_details"));
  cr_expect_null(jget(r, "cost_details"));
  cr_expect(strstr(jstr(r, "metadata.usage_missing"), "include_usage") != NULL);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  /* no marks: the first byte is the best bound */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1100000000");
  cJSON_Delete(r);
}

Test(openai_chat, stream_reasoning_content) {
  char *body = fx_read("openai_chat_reasoning.sse", NULL);
  struct at_exchange ex = fx_exchange(
      "https://api.deepseek.com/chat/completions",
      "{\"model\":\"deepseek-reasoner\",\"stream\":true,\"messages\":[{"
      "\"role\":\"user\",\"content\":\"12^2?\"}]}",
      body, 200, NULL);
  cJSON *r = fx_parse(&ex);
  free(body);
  cr_expect_str_eq(jstr(r, "provider"), "deepseek");
  cr_assert_eq(jsize(r, "output.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Twelve squared is 144.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.type"), "text");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"), "144");
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 16);
  cr_expect_eq(jnum(r, "usage.reasoning_output_tokens"), 25);
  cr_expect_eq(jnum(r, "usage_details.input"), 4);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 16);
  cr_expect_eq(jnum(r, "usage_details.output"), 5);
  cr_expect_eq(jnum(r, "usage_details.output_reasoning_tokens"), 25);
  cr_expect_eq(jnum(r, "usage_details.total"), 50);
  /* DeepSeek's cache hits have their own price */
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:deepseek-reasoner@2026-05-12");
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"),
                     16 * 0.0028e-6, 1e-15);
  cJSON_Delete(r);
}

Test(openai_chat, stream_cut_before_done) {
  cJSON *r = fx_run(CHAT_URL, "openai_chat.req.json", "openai_chat_cut.sse",
                    200, SSE_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before [DONE]");
  cr_expect_str_eq(jstr(r, "status_message"), "stream ended before [DONE]");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "The first half");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "error");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);
}

Test(openai_chat, stream_error_event_mid_stream) {
  const char *body =
      "data: {\"id\":\"c1\",\"model\":\"llama\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"content\":\"par\"},\"finish_reason\":null}]}\n\n"
      "event: error\n"
      "data: {\"error\":{\"message\":\"Tool call failed\",\"type\":"
      "\"invalid_request_error\",\"code\":\"tool_use_failed\"}}\n\n";
  struct at_exchange ex =
      fx_exchange("https://api.groq.com/openai/v1/chat/completions",
                  "{\"model\":\"llama\",\"messages\":[]}", body, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "Tool call failed");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "invalid_request_error");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "tool_use_failed");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "par");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);
}

Test(openai_chat, stream_tool_call_without_index) {
  /* Mistral sends whole tool calls without an index */
  const char *body =
      "data: {\"id\":\"m1\",\"model\":\"mistral-small\",\"choices\":[{"
      "\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
      "data: {\"id\":\"m1\",\"model\":\"mistral-small\",\"choices\":[{"
      "\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"t1\",\"function\":{"
      "\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"t2\","
      "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]},"
      "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":9,"
      "\"completion_tokens\":3,\"total_tokens\":12}}\n\n"
      "data: [DONE]\n\n";
  struct at_exchange ex = fx_exchange(
      "https://api.mistral.ai/v1/chat/completions",
      "{\"model\":\"mistral-small\",\"messages\":[]}", body, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "mistral_ai");
  cr_assert_eq(jsize(r, "output.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.id"), "t1");
  cr_expect_eq(jnum(r, "output.0.parts.0.arguments.a"), 1);
  cr_expect_str_eq(jstr(r, "output.0.parts.1.name"), "g");
  cr_expect_eq(jsize(r, "output.0.parts.1.arguments"), 0);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 12);
  cJSON_Delete(r);
}

Test(openai_chat, groq_usage_under_x_groq) {
  const char *body =
      "data: {\"id\":\"g1\",\"model\":\"llama3-8b-8192\",\"choices\":[{"
      "\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}"
      "\n\n"
      "data: {\"id\":\"g1\",\"model\":\"llama3-8b-8192\",\"choices\":[{"
      "\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"x_groq\":{"
      "\"usage\":{\"queue_time\":0.1,\"prompt_tokens\":7,"
      "\"completion_tokens\":2,\"total_tokens\":9}}}\n\n"
      "data: [DONE]\n\n";
  struct at_exchange ex =
      fx_exchange("https://api.groq.com/openai/v1/chat/completions",
                  "{\"model\":\"llama3-8b-8192\",\"messages\":[{\"role\":"
                  "\"user\",\"content\":\"hello\"}],\"stream\":true}",
                  body, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 7);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 2);
  cr_expect_null(jget(r, "metadata.usage_missing"));
  cJSON_Delete(r);
}

/* Streams made at random from the chunk shapes OpenAI sends (text, the
 * same chunk twice, reasoning, refusal, tool-call arguments, a changed
 * "created" or "usage" member, a new "obfuscation" string every time):
 * whether a chunk is read in full or taken for a repeat of the one before
 * (openai.c, repeat_event), the assembled answer must be exactly the sum
 * of the deltas sent. */
struct rand_stream {
  unsigned seed;
  struct dynbuf body;
  struct dynbuf text, reasoning, refusal, args;
};

static unsigned rs_next(struct rand_stream *g) {
  g->seed = g->seed * 1103515245u + 12345u;
  return g->seed >> 16;
}

static void rs_word(struct rand_stream *g, char *out, size_t cap) {
  static const char *const w[] = {"a",   "bc",  " def",      "ghij", "é",
                                  "\\n", "x y", "\\\"q\\\"", "",     "zz"};
  snprintf(out, cap, "%s", w[rs_next(g) % 10]);
}

/* The decoded form of a piece written with JSON escapes. */
static void rs_add_decoded(struct dynbuf *b, const char *piece) {
  for (const char *p = piece; *p; p++) {
    if (*p == '\\') {
      p++;
      dynbuf_add(b, *p == 'n' ? "\n" : p, 1);
    } else {
      dynbuf_add(b, p, 1);
    }
  }
}

static void rs_event(struct rand_stream *g, const char *created,
                     const char *delta, const char *finish, int usage_null) {
  char obf[16];
  size_t n = rs_next(g) % 13;
  for (size_t i = 0; i < n; i++)
    obf[i] = (char)('a' + rs_next(g) % 26);
  obf[n] = '\0';
  char ev[512];
  snprintf(ev, sizeof ev,
           "data: {\"id\":\"chatcmpl-r\",\"object\":\"chat.completion.chunk\","
           "\"created\":%s,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
           "\"delta\":{%s},\"logprobs\":null,\"finish_reason\":%s}]%s,"
           "\"obfuscation\":\"%s\"}\n\n",
           created, delta, finish, usage_null ? ",\"usage\":null" : "", obf);
  dynbuf_addstr(&g->body, ev);
}

Test(openai_chat, stream_random_chunks_assemble_exactly) {
  for (unsigned round = 0; round < 300; round++) {
    struct rand_stream g = {.seed = 1000 + round};
    dynbuf_init(&g.body, 1 << 20);
    dynbuf_init(&g.text, 1 << 20);
    dynbuf_init(&g.reasoning, 1 << 20);
    dynbuf_init(&g.refusal, 1 << 20);
    dynbuf_init(&g.args, 1 << 20);
    rs_event(&g, "1700000000", "\"role\":\"assistant\",\"content\":\"\"",
             "null", 1);
    char last_delta[128] = "", w[32], delta[128];
    int tool_started = 0;
    for (int e = 0; e < 60; e++) {
      unsigned k = rs_next(&g) % 100;
      const char *created = "1700000000";
      int usage_null = 1;
      if (k < 55) {
        rs_word(&g, w, sizeof w);
        snprintf(delta, sizeof delta, "\"content\":\"%s\"", w);
        rs_add_decoded(&g.text, w);
      } else if (k < 65 && last_delta[0]) {
        /* the same delta again: the text is added twice */
        snprintf(delta, sizeof delta, "%s", last_delta);
        if (!strncmp(delta, "\"content\":\"", 11)) {
          snprintf(w, sizeof w, "%.*s", (int)(strlen(delta) - 12), delta + 11);
          rs_add_decoded(&g.text, w);
        } else if (!strncmp(delta, "\"reasoning_content\":\"", 21)) {
          snprintf(w, sizeof w, "%.*s", (int)(strlen(delta) - 22), delta + 21);
          rs_add_decoded(&g.reasoning, w);
        } else if (!strncmp(delta, "\"refusal\":\"", 11)) {
          snprintf(w, sizeof w, "%.*s", (int)(strlen(delta) - 12), delta + 11);
          rs_add_decoded(&g.refusal, w);
        } else {
          snprintf(delta, sizeof delta, "\"content\":\"\"");
        }
      } else if (k < 73) {
        rs_word(&g, w, sizeof w);
        snprintf(delta, sizeof delta, "\"reasoning_content\":\"%s\"", w);
        rs_add_decoded(&g.reasoning, w);
      } else if (k < 77) {
        rs_word(&g, w, sizeof w);
        snprintf(delta, sizeof delta, "\"refusal\":\"%s\"", w);
        rs_add_decoded(&g.refusal, w);
      } else if (k < 85) {
        char letters[8];
        size_t n = 1 + rs_next(&g) % 5;
        for (size_t i = 0; i < n; i++)
          letters[i] = (char)('a' + rs_next(&g) % 26);
        letters[n] = '\0';
        snprintf(delta, sizeof delta,
                 "\"tool_calls\":[{\"index\":0,%s\"function\":{%s"
                 "\"arguments\":\"%s\"}}]",
                 tool_started ? "" : "\"id\":\"call_r\",\"type\":\"function\",",
                 tool_started ? "" : "\"name\":\"look\",", letters);
        tool_started = 1;
        dynbuf_addstr(&g.args, letters);
      } else {
        /* a text delta with a member nobody reads changed, or usage gone */
        rs_word(&g, w, sizeof w);
        snprintf(delta, sizeof delta, "\"content\":\"%s\"", w);
        rs_add_decoded(&g.text, w);
        if (k < 92)
          created = rs_next(&g) % 2 ? "{\"t\":[1,2]}" : "\"later\"";
        else
          usage_null = 0;
      }
      rs_event(&g, created, delta, "null", usage_null);
      snprintf(last_delta, sizeof last_delta, "%s", delta);
    }
    rs_event(&g, "1700000000", "", "\"stop\"", 1);
    dynbuf_addstr(&g.body, "data: [DONE]\n\n");

    struct at_exchange ex = fx_exchange(
        CHAT_URL, "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[]}",
        g.body.ptr, 200, SSE_HEADERS);
    cJSON *r = fx_parse(&ex);
    cr_assert_null(jget(r, "metadata.parse_error"), "round %u", round);
    const cJSON *parts = jget(r, "output.0.parts");
    cr_assert(parts, "round %u", round);
    int seen_text = 0, seen_reasoning = 0, seen_refusal = 0, seen_tool = 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, parts) {
      const char *type = jstr(p, "type");
      const char *content = jstr(p, "content");
      if (!strcmp(type, "text")) {
        seen_text = 1;
        cr_assert_str_eq(content, g.text.ptr ? g.text.ptr : "", "round %u",
                         round);
      } else if (!strcmp(type, "reasoning")) {
        seen_reasoning = 1;
        cr_assert_str_eq(content, g.reasoning.ptr, "round %u", round);
      } else if (!strcmp(type, "refusal")) {
        seen_refusal = 1;
        cr_assert_str_eq(content, g.refusal.ptr, "round %u", round);
      } else if (!strcmp(type, "tool_call")) {
        seen_tool = 1;
        cr_assert_str_eq(jstr(p, "arguments"), g.args.ptr, "round %u", round);
        cr_assert_str_eq(jstr(p, "name"), "look");
      }
    }
    cr_assert_eq(seen_text, g.text.len > 0, "round %u", round);
    cr_assert_eq(seen_reasoning, g.reasoning.len > 0, "round %u", round);
    cr_assert_eq(seen_refusal, g.refusal.len > 0, "round %u", round);
    cr_assert_eq(seen_tool, g.args.len > 0, "round %u", round);
    cr_assert_str_eq(jstr(r, "output.0.finish_reason"), "stop");
    cJSON_Delete(r);
    dynbuf_free(&g.body);
    dynbuf_free(&g.text);
    dynbuf_free(&g.reasoning);
    dynbuf_free(&g.refusal);
    dynbuf_free(&g.args);
  }
}
