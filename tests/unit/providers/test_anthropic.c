/* Anthropic Messages: request blocks, plain and streamed answers, errors. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define MSG_URL "https://api.anthropic.com/v1/messages"

Test(anthropic, request_blocks_and_params) {
  cJSON *r = fx_run(MSG_URL, "anthropic_messages.req.json",
                    "anthropic_messages.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "provider"), "anthropic");
  cr_expect_str_eq(jstr(r, "operation"), "chat");
  cr_expect_str_eq(jstr(r, "name"), "chat claude-sonnet-4-5");
  const cJSON *p = jget(r, "model_parameters");
  cr_expect_eq(jnum(p, "max_tokens"), 2048);
  cr_expect_float_eq(jnum(p, "temperature"), 0.5, 1e-9);
  cr_expect_float_eq(jnum(p, "top_p"), 0.95, 1e-9);
  cr_expect_eq(jnum(p, "top_k"), 40);
  cr_expect_str_eq(jstr(p, "stop_sequences.0"), "###");
  cr_expect(cJSON_IsFalse(jget(p, "stream")));
  cr_expect_eq(jnum(p, "thinking.budget_tokens"), 1024);
  cr_expect_str_eq(jstr(p, "tool_choice.type"), "auto");
  cr_expect_str_eq(jstr(p, "tools.0.name"), "read_gauge");
  cr_expect_null(jget(p, "metadata"));
  cr_expect_null(jget(p, "system"));

  cr_assert_eq(jsize(r, "input"), 5);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_eq(jsize(r, "input.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "You are the engine room.");
  cr_expect_str_eq(jstr(r, "input.0.parts.1.content"), "Report in bars.");
  const cJSON *u = jget(r, "input.1.parts");
  cr_assert_eq(jsize(u, ""), 4);
  cr_expect_str_eq(jstr(u, "0.content"), "Check the boiler.");
  cr_expect_str_eq(jstr(u, "1.type"), "blob");
  cr_expect_str_eq(jstr(u, "1.modality"), "image");
  cr_expect_str_eq(jstr(u, "1.mime_type"), "image/png");
  cr_expect_eq(jnum(u, "1.size"), 16);
  cr_expect_str_eq(jstr(u, "2.type"), "uri");
  cr_expect_str_eq(jstr(u, "2.uri"),
                   "https://cdn.example.net/gauge.jpg?X-Amz-Signature=REDACTED"
                   "&size=2");
  cr_expect_str_eq(jstr(u, "3.type"), "blob");
  cr_expect_str_eq(jstr(u, "3.modality"), "document");
  cr_expect_str_eq(jstr(u, "3.mime_type"), "application/pdf");
  cr_expect_eq(jnum(u, "3.size"), 9);
  const cJSON *a = jget(r, "input.2.parts");
  cr_expect_str_eq(jstr(r, "input.2.role"), "assistant");
  cr_assert_eq(jsize(a, ""), 3);
  cr_expect_str_eq(jstr(a, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(a, "0.content"), "I should read the gauge.");
  cr_expect_str_eq(jstr(a, "1.type"), "reasoning");
  cr_expect(cJSON_IsTrue(jget(a, "1.redacted")));
  cr_expect_null(jget(a, "1.content"));
  cr_expect_str_eq(jstr(a, "2.type"), "tool_call");
  cr_expect_str_eq(jstr(a, "2.id"), "toolu_g1");
  cr_expect_str_eq(jstr(a, "2.arguments.gauge"), "boiler");
  const cJSON *t = jget(r, "input.3.parts");
  cr_expect_str_eq(jstr(r, "input.3.role"), "user");
  cr_expect_str_eq(jstr(t, "0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(t, "0.id"), "toolu_g1");
  cr_expect_str_eq(jstr(t, "0.response"), "7.5 bar");
  cr_expect_null(jget(t, "0.is_error"));
  cr_expect_str_eq(jstr(t, "1.id"), "toolu_g2");
  cr_expect_str_eq(jstr(t, "1.response.0.content"), "gauge offline");
  cr_expect(cJSON_IsTrue(jget(t, "1.is_error")));
  cr_expect_str_eq(jstr(r, "input.4.parts.0.content"), "Is that safe?");
  cJSON_Delete(r);
}

Test(anthropic, plain_response_with_cache_usage) {
  cJSON *r = fx_run(MSG_URL, "anthropic_messages.req.json",
                    "anthropic_messages.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "response_id"), "msg_fx040");
  cr_expect_str_eq(jstr(r, "response_model"), "claude-sonnet-4-5-20250929");
  cr_assert_eq(jsize(r, "output.0.parts"), 3);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "7.5 bar is within limits.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"),
                   "Yes, within limits. Re-reading the spare gauge.");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.name"), "read_gauge");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.arguments.gauge"), "spare");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "tool_use");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  /* inclusive input = 50 + 1000 read + 200 written */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1250);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage.cache_write_input_tokens"), 200);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 90);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 1340);
  cr_expect_eq(jnum(r, "usage_details.input"), 50);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 1000);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation"), 200);
  cr_expect_eq(jnum(r, "usage_details.output"), 90);
  cr_expect_eq(jnum(r, "usage_details.total"), 1340);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:claude-sonnet-4-5@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.total"),
                     (150 + 300 + 750 + 1350) * 1e-6, 1e-15);
  cr_expect_str_eq(jstr(r, "metadata.service_tier"), "standard");
  cr_expect_null(jget(r, "metadata.stop_sequence"));
  cJSON_Delete(r);
}

Test(anthropic, stream_thinking_then_tool_use) {
  char *body = fx_read("anthropic_thinking_tool.sse", NULL);
  struct at_exchange ex = fx_exchange(
      MSG_URL,
      "{\"model\":\"claude-opus-4-1\",\"max_tokens\":100,\"stream\":"
      "true,\"messages\":[{\"role\":\"user\",\"content\":\"Go\"}]}",
      body, 200, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
  /* one mark per event; the first thinking delta is the 4th event */
  const char *p = body;
  while ((p = strstr(p, "\n\n")) && ex.nmarks < AT_MAX_CHUNK_MARKS) {
    p += 2;
    ex.marks[ex.nmarks].offset = (size_t)(p - body);
    ex.marks[ex.nmarks].t_ns = 1000000000 + 1000 * (int64_t)(ex.nmarks + 1);
    ex.nmarks++;
  }
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "response_id"), "msg_fx041");
  cr_expect_str_eq(jstr(r, "response_model"), "claude-opus-4-1-20250805");
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1000004000");
  cr_assert_eq(jsize(r, "output.0.parts"), 3);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "The valve must close.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"), "Closing it now.");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.type"), "tool_call");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.id"), "toolu_v1");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.name"), "set_valve");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.arguments.valve"), "V2");
  cr_expect(cJSON_IsFalse(jget(r, "output.0.parts.2.arguments.open")));
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 2030);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 2000);
  cr_expect_eq(jnum(r, "usage.cache_write_input_tokens"), 0);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 64); /* message_delta wins */
  cr_expect_eq(jnum(r, "usage_details.input"), 30);
  cr_expect_null(jget(r, "usage_details.input_cache_creation"));
  cr_expect_eq(jnum(r, "usage_details.total"), 2094);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:claude-opus-4-1@2026-08-22");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cJSON_Delete(r);
  free(body);
}

Test(anthropic, stream_overloaded_error_event) {
  cJSON *r = fx_run(MSG_URL, "anthropic_messages.req.json",
                    "anthropic_overloaded.sse", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "Overloaded");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "overloaded_error");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before message_stop");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Partial answ");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 12);
  cJSON_Delete(r);
}

Test(anthropic, stream_cut) {
  cJSON *r = fx_run(MSG_URL, "anthropic_messages.req.json", "anthropic_cut.sse",
                    200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "stream ended before message_stop");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "The valve");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "error");
  cJSON_Delete(r);
}

Test(anthropic, http_errors) {
  cJSON *r = fx_run(MSG_URL, "anthropic_messages.req.json",
                    "anthropic_error_401.json", 401, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "invalid x-api-key");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "authentication_error");
  cr_expect_eq(jnum(r, "http.status"), 401);
  cr_expect_null(jget(r, "output"));
  cr_expect_null(jget(r, "completion_start_ns"));
  cr_expect_eq(jsize(r, "input"), 5); /* the request is still recorded */
  cJSON_Delete(r);

  struct at_exchange ex = fx_exchange(
      MSG_URL, "{\"model\":\"claude-haiku-4-5\",\"messages\":[]}",
      "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
      "\"message\":\"Overloaded\"}}",
      529, NULL);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "status_message"), "Overloaded");
  cr_expect_str_eq(jstr(r, "metadata.error_type"), "overloaded_error");
  cJSON_Delete(r);
}

Test(anthropic, cache_creation_breakdown_only) {
  struct at_exchange ex = fx_exchange(
      MSG_URL, "{\"model\":\"claude-3-5-haiku-20241022\",\"messages\":[]}",
      "{\"id\":\"m\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\","
      "\"usage\":{\"input_tokens\":5,\"cache_creation\":{"
      "\"ephemeral_5m_input_tokens\":10,\"ephemeral_1h_input_tokens\":20},"
      "\"output_tokens\":2}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "usage.cache_write_input_tokens"), 30);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 35);
  /* 5-minute and 1-hour writes are priced apart */
  cr_expect_eq(jnum(r, "usage.cache_write_1h_input_tokens"), 20);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation"), 10);
  cr_expect_eq(jnum(r, "usage_details.input_cache_creation_1h"), 20);
  cr_expect_eq(jnum(r, "usage_details.total"), 37);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:claude-3-5-haiku@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.input_cache_creation_1h"),
                     20 * 1.6e-6, 1e-15);
  cJSON_Delete(r);
}

Test(anthropic, deltas_without_block_start_are_text) {
  struct at_exchange ex = fx_exchange(
      MSG_URL, "{\"model\":\"claude-3-haiku\",\"messages\":[]}",
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
      "\"type\":\"text_delta\",\"text\":\"orphan\"}}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
      "\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "orphan");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "end_turn");
  cr_expect_eq(jnum(r, "usage.output_tokens"), 3);
  cr_expect_null(jget(r, "usage.input_tokens"));
  cJSON_Delete(r);
}
