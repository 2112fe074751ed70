/* OpenAI legacy completions, embeddings and the Responses API. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "helpers.h"

Test(openai_completions, plain) {
  cJSON *r = fx_run("https://api.openai.com/v1/completions",
                    "openai_completions.req.json",
                    "openai_completions.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "generation");
  cr_expect_str_eq(jstr(r, "operation"), "text_completion");
  cr_expect_str_eq(jstr(r, "name"), "text_completion gpt-3.5-turbo-instruct");
  cr_assert_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.0.role"), "user");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "Write a haiku about fog");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"),
                   "Write a haiku about rain");
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 40);
  cr_expect_str_eq(jstr(r, "model_parameters.stop.0"), "\n\n");
  cr_expect_str_eq(jstr(r, "model_parameters.suffix"), "--");
  cr_expect_eq(jnum(r, "model_parameters.best_of"), 1);
  cr_expect(cJSON_IsFalse(jget(r, "model_parameters.echo")));
  cr_assert_eq(jsize(r, "output"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "\nGrey breath on the pier");
  cr_expect_str_eq(jstr(r, "output.1.finish_reason"), "length");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "length");
  cr_expect_str_eq(jstr(r, "response_id"), "cmpl-fx020");
  cr_expect_eq(jnum(r, "usage_details.total"), 26);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:gpt-3.5-turbo-instruct@2026-08-22");
  cJSON_Delete(r);
}

Test(openai_completions, stream_and_token_prompts) {
  struct at_exchange ex;
  char *body = fx_read("openai_completions.sse", NULL);
  ex = fx_exchange("https://api.openai.com/v1/completions",
                   "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":[[1,2,3],"
                   "[4,5]],\"stream\":true}",
                   body, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "\nMist on the water");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.type"), "tokens");
  cr_expect_eq(jnum(r, "input.0.parts.0.count"), 3);
  cr_expect_eq(jnum(r, "input.1.parts.0.count"), 2);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);
  ex.req_body = "{\"model\":\"m\",\"prompt\":[7,8,9,10]}";
  ex.req_body_len = strlen(ex.req_body);
  r = fx_parse(&ex);
  cr_expect_eq(jsize(r, "input"), 1);
  cr_expect_eq(jnum(r, "input.0.parts.0.count"), 4);
  cJSON_Delete(r);
  free(body);
}

Test(openai_embeddings, float_vectors_never_kept) {
  cJSON *r = fx_run("https://api.openai.com/v1/embeddings",
                    "openai_embeddings.req.json", "openai_embeddings.resp.json",
                    200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "operation"), "embeddings");
  cr_expect_str_eq(jstr(r, "name"), "embeddings text-embedding-3-small");
  cr_assert_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.0"), "first passage about lighthouses");
  cr_expect_str_eq(jstr(r, "input.1"), "second passage about buoys");
  cr_expect_eq(jnum(r, "model_parameters.dimensions"), 4);
  cr_expect_str_eq(jstr(r, "model_parameters.encoding_format"), "float");
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 4);
  cr_expect_eq(jsize(r, "output"), 2);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 11);
  cr_expect_null(jget(r, "usage.output_tokens"));
  cr_expect_eq(jnum(r, "usage_details.input"), 11);
  cr_expect_eq(jnum(r, "usage_details.total"), 11);
  cr_expect_float_eq(jnum(r, "cost_details.input"), 11 * 0.02e-6, 1e-15);
  cr_expect_null(jget(r, "finish_reasons"));
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "0.011"), "a vector leaked: %s", text);
  free(text);
  cJSON_Delete(r);
}

Test(openai_embeddings, total_only_usage_is_input) {
  struct at_exchange ex = fx_exchange(
      "https://api.voyageai.com/v1/embeddings",
      "{\"model\":\"voyage-3\",\"input\":[\"a\",\"b\"],\"input_type\":"
      "\"document\"}",
      "{\"object\":\"list\",\"data\":[{\"embedding\":[1,2,3]},"
      "{\"embedding\":[4,5,6]}],\"model\":\"voyage-3\",\"usage\":{"
      "\"total_tokens\":6}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "voyageai"); /* a known host now */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 6);
  cr_expect_eq(jnum(r, "usage_details.input"), 6);
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 3);
  cJSON_Delete(r);
}

Test(openai_embeddings, base64_vectors_and_single_input) {
  /* 8 float32 values = 32 bytes = 44 base64 chars with padding */
  const char *resp =
      "{\"object\":\"list\",\"model\":\"text-embedding-3-large\","
      "\"data\":[{\"index\":0,\"embedding\":"
      "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}],"
      "\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}";
  struct at_exchange ex = fx_exchange(
      "https://x.openai.azure.com/openai/deployments/emb/embeddings",
      "{\"input\":\"one text\",\"encoding_format\":\"base64\"}", resp, 200,
      NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "azure.ai.openai");
  cr_expect_str_eq(jstr(r, "name"), "embeddings text-embedding-3-large");
  /* Azure: no model in the body; the deployment is not the model */
  cr_expect_str_eq(jstr(r, "request_model"), "text-embedding-3-large");
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "emb");
  cr_expect_str_eq(jstr(r, "input.0"), "one text");
  cr_expect_eq(jnum(r, "output.dimensions"), 8);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:text-embedding-3-large@2026-08-22");
  cJSON_Delete(r);
}

#define RESP_URL "https://api.openai.com/v1/responses"

Test(openai_responses, request_items) {
  cJSON *r = fx_run(RESP_URL, "openai_responses.req.json",
                    "openai_responses.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "operation"), "chat");
  cr_expect_str_eq(jstr(r, "request_model"), "o4-mini");
  cr_assert_eq(jsize(r, "input"), 5);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "Answer like a ship's log.");
  cr_expect_str_eq(jstr(r, "input.1.role"), "user");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"),
                   "What is our position, and log it.");
  cr_expect_str_eq(jstr(r, "input.1.parts.1.type"), "blob");
  cr_expect_str_eq(jstr(r, "input.1.parts.1.mime_type"), "image/png");
  cr_expect_eq(jnum(r, "input.1.parts.1.size"), 8);
  cr_expect_str_eq(jstr(r, "input.2.role"), "assistant");
  cr_expect_str_eq(jstr(r, "input.2.parts.0.type"), "tool_call");
  cr_expect_str_eq(jstr(r, "input.2.parts.0.id"), "call_gps");
  cr_expect_str_eq(jstr(r, "input.2.parts.0.name"), "gps_fix");
  cr_expect_str_eq(jstr(r, "input.3.role"), "tool");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.id"), "call_gps");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.response"), "48.38N 4.49W");
  cr_expect_str_eq(jstr(r, "input.4.role"), "assistant");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.content"), "Fix acquired.");
  cr_expect_eq(jnum(r, "model_parameters.max_output_tokens"), 500);
  cr_expect_str_eq(jstr(r, "model_parameters.reasoning.effort"), "medium");
  cr_expect_str_eq(jstr(r, "model_parameters.tools.0.name"), "write_log");
  cr_expect_null(jget(r, "model_parameters.store"));
  cr_expect_str_eq(jstr(r, "metadata.previous_response_id"), "resp_prev_01");
  cJSON_Delete(r);
}

Test(openai_responses, plain_output_items) {
  cJSON *r = fx_run(RESP_URL, "openai_responses.req.json",
                    "openai_responses.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "response_id"), "resp_fx030");
  cr_expect_str_eq(jstr(r, "response_model"), "o4-mini-2025-04-16");
  cr_assert_eq(jsize(r, "output"), 1);
  cr_assert_eq(jsize(r, "output.0.parts"), 3);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Need to log the fix.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"),
                   "Position 48.38N 4.49W.");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.type"), "tool_call");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.id"), "call_log");
  cr_expect_str_eq(jstr(r, "output.0.parts.2.arguments.entry"), "48.38N 4.49W");
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "tool_calls");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_calls");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 300);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 100);
  cr_expect_eq(jnum(r, "usage.reasoning_output_tokens"), 120);
  cr_expect_eq(jnum(r, "usage_details.input"), 200);
  cr_expect_eq(jnum(r, "usage_details.input_cached_tokens"), 100);
  cr_expect_eq(jnum(r, "usage_details.output"), 30);
  cr_expect_eq(jnum(r, "usage_details.output_reasoning_tokens"), 120);
  cr_expect_eq(jnum(r, "usage_details.total"), 450);
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:o4-mini@2026-08-22");
  cr_expect_float_eq(jnum(r, "cost_details.input_cached_tokens"),
                     100 * 0.275e-6, 1e-15);
  cJSON_Delete(r);
}

Test(openai_responses, stream_uses_final_response) {
  char *body = fx_read("openai_responses.sse", NULL);
  struct at_exchange ex = fx_exchange(
      RESP_URL, "{\"model\":\"gpt-4.1-mini\",\"input\":\"Go\",\"stream\":true}",
      body, 200,
      "HTTP/2 200\r\ncontent-type: text/event-stream; charset=utf-8"
      "\r\n");
  ex.marks[0].offset = (size_t)(strstr(body, "Anchors") - body);
  ex.marks[0].t_ns = 1200000000;
  ex.marks[1].offset = ex.resp_body_len;
  ex.marks[1].t_ns = 1300000000;
  ex.nmarks = 2;
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "input.0.role"), "user");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "Go");
  cr_expect_str_eq(jstr(r, "response_id"), "resp_fx031");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Anchors aweigh.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.name"), "set_sail");
  cr_expect_eq(jnum(r, "output.0.parts.1.arguments.heading"), 270);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_calls");
  cr_expect_eq(jnum(r, "usage.total_tokens"), 52);
  /* the first delta ends after the first mark: the second mark's time */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1300000000");
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);
  free(body);
}

Test(openai_responses, stream_cut_rebuilt_from_deltas) {
  cJSON *r = fx_run(RESP_URL, "openai_responses.req.json",
                    "openai_responses_cut.sse", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before response.completed");
  cr_expect_str_eq(jstr(r, "response_id"), "resp_fx031");
  cr_expect_str_eq(jstr(r, "response_model"), "gpt-4.1-mini-2025-04-14");
  cr_assert_eq(jsize(r, "output.0.parts"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Anchors aweigh.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.type"), "tool_call");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.id"), "call_sail");
  /* the arguments were cut too: kept as the string that arrived */
  cr_expect_str_eq(jstr(r, "output.0.parts.1.arguments"), "{\"heading\":");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_null(jget(r, "usage"));
  cJSON_Delete(r);
}

Test(openai_responses, failed_incomplete_and_error_event) {
  struct at_exchange ex = fx_exchange(
      RESP_URL, "{\"model\":\"gpt-5\",\"input\":\"x\"}",
      "{\"id\":\"resp_f\",\"status\":\"failed\",\"model\":\"gpt-5\","
      "\"error\":{\"code\":\"server_error\",\"message\":\"The model failed\"},"
      "\"output\":[]}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "The model failed");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "server_error");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cJSON_Delete(r);

  ex.resp_body = "{\"id\":\"resp_i\",\"status\":\"incomplete\",\"model\":"
                 "\"gpt-5\",\"incomplete_details\":{\"reason\":"
                 "\"max_output_tokens\"},\"output\":[{\"type\":\"message\","
                 "\"content\":[{\"type\":\"output_text\",\"text\":\"abc\"}]}]}";
  ex.resp_body_len = strlen(ex.resp_body);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "length");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "abc");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);

  ex.resp_body = "event: response.created\n"
                 "data: {\"type\":\"response.created\",\"response\":{\"id\":"
                 "\"resp_e\",\"model\":\"gpt-5\",\"status\":\"in_progress\"}}"
                 "\n\n"
                 "event: error\n"
                 "data: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\","
                 "\"message\":\"Slow down\",\"param\":null}\n\n";
  ex.resp_body_len = strlen(ex.resp_body);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"), "Slow down");
  cr_expect_str_eq(jstr(r, "metadata.error_code"), "rate_limit_exceeded");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before response.completed");
  cr_expect_str_eq(jstr(r, "response_id"), "resp_e");
  cJSON_Delete(r);
}

/* Vectors and token-id arrays longer than 16 numbers reach the parser as
 * parse.c's placeholders: the counts must come out the same. */
Test(openai_embeddings, long_vectors_and_token_arrays) {
  char req[4096], resp[8192];
  int n = snprintf(req, sizeof req,
                   "{\"model\":\"text-embedding-3-small\",\"input\":[[");
  for (int i = 0; i < 40; i++)
    n += snprintf(req + n, sizeof req - (size_t)n, "%s%d", i ? "," : "",
                  1000 + i);
  n += snprintf(req + n, sizeof req - (size_t)n, "],[7,8,9]]}");
  n = snprintf(resp, sizeof resp,
               "{\"object\":\"list\",\"model\":\"text-embedding-3-small\","
               "\"data\":[");
  for (int v = 0; v < 3; v++) {
    n += snprintf(resp + n, sizeof resp - (size_t)n,
                  "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[",
                  v ? "," : "", v);
    for (int i = 0; i < 256; i++)
      n += snprintf(resp + n, sizeof resp - (size_t)n, "%s-0.0%d", i ? "," : "",
                    i % 97 + 1);
    n += snprintf(resp + n, sizeof resp - (size_t)n, "]}");
  }
  snprintf(resp + n, sizeof resp - (size_t)n,
           "],\"usage\":{\"prompt_tokens\":43,\"total_tokens\":43}}");
  struct at_exchange ex =
      fx_exchange("https://api.openai.com/v1/embeddings", req, resp, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "metadata.parse_error"), "%s",
                 jstr(r, "metadata.parse_error"));
  cr_assert_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.0.type"), "tokens");
  cr_expect_eq(jnum(r, "input.0.count"), 40);
  cr_expect_eq(jnum(r, "input.1.count"), 3);
  cr_expect_eq(jnum(r, "output.count"), 3);
  cr_expect_eq(jnum(r, "output.dimensions"), 256);
  cJSON_Delete(r);
}

/* A cut Responses stream made at random (text, arguments and reasoning
 * deltas of three items interleaved, a chunk now and then sent twice, a
 * new sequence_number and obfuscation string every time, logprobs there or
 * not): whether an event is read in full or taken for a repeat of the one
 * before (openai_responses.c, rep_tok), each item is rebuilt from exactly
 * the deltas sent. */
static unsigned rr_next(unsigned *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 16;
}

Test(openai_responses, stream_random_deltas_rebuilt_exactly) {
  static const char *const types[] = {"response.output_text.delta",
                                      "response.function_call_arguments.delta",
                                      "response.reasoning_summary_text.delta"};
  static const char *const items[] = {
      "{\"id\":\"msg_r\",\"type\":\"message\",\"role\":\"assistant\","
      "\"content\":[]}",
      "{\"id\":\"fc_r\",\"type\":\"function_call\",\"call_id\":\"call_r\","
      "\"name\":\"look\",\"arguments\":\"\"}",
      "{\"id\":\"rs_r\",\"type\":\"reasoning\",\"summary\":[]}"};
  for (unsigned round = 0; round < 200; round++) {
    unsigned seed = 77 + round;
    struct dynbuf body, want[3];
    dynbuf_init(&body, 1 << 20);
    for (int i = 0; i < 3; i++)
      dynbuf_init(&want[i], 1 << 20);
    char ev[512];
    int seq = 0;
    snprintf(ev, sizeof ev,
             "data: {\"type\":\"response.created\",\"sequence_number\":%d,"
             "\"response\":{\"id\":\"resp_r\",\"model\":\"gpt-5\",\"output\":"
             "[]}}\n\n",
             seq++);
    dynbuf_addstr(&body, ev);
    for (int i = 0; i < 3; i++) {
      snprintf(ev, sizeof ev,
               "data: {\"type\":\"response.output_item.added\","
               "\"sequence_number\":%d,\"output_index\":%d,\"item\":%s}\n\n",
               seq++, i, items[i]);
      dynbuf_addstr(&body, ev);
    }
    int item = 0;
    char piece[8] = "ab";
    for (int e = 0; e < 50; e++) {
      unsigned k = rr_next(&seed) % 100;
      if (k < 20)
        item = (int)(rr_next(&seed) % 3);
      if (k >= 20 && k < 85) { /* a new piece; else the last one again */
        size_t n = rr_next(&seed) % 6;
        for (size_t i = 0; i < n; i++)
          piece[i] = (char)('a' + rr_next(&seed) % 26);
        piece[n] = '\0';
      }
      char obf[16];
      size_t n = rr_next(&seed) % 12;
      for (size_t i = 0; i < n; i++)
        obf[i] = (char)('A' + rr_next(&seed) % 26);
      obf[n] = '\0';
      snprintf(ev, sizeof ev,
               "data: {\"type\":\"%s\",\"sequence_number\":%d,\"item_id\":"
               "\"it\",\"output_index\":%d,\"content_index\":0,\"delta\":"
               "\"%s\"%s,\"obfuscation\":\"%s\"}\n\n",
               types[item], seq++, item, piece,
               rr_next(&seed) % 4 ? ",\"logprobs\":[]" : "", obf);
      dynbuf_addstr(&body, ev);
      dynbuf_addstr(&want[item], piece);
    }
    struct at_exchange ex = fx_exchange(
        RESP_URL, "{\"model\":\"gpt-5\",\"input\":\"x\"}", body.ptr, 200,
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n");
    cJSON *r = fx_parse(&ex);
    cr_assert_str_eq(jstr(r, "metadata.parse_error"),
                     "stream ended before response.completed", "round %u",
                     round);
    int seen[3] = {0, 0, 0};
    const cJSON *m;
    cJSON_ArrayForEach(m, jget(r, "output")) {
      const cJSON *p;
      cJSON_ArrayForEach(p, jget(m, "parts")) {
        const char *type = jstr(p, "type");
        if (!strcmp(type, "text")) {
          seen[0] = 1;
          cr_assert_str_eq(jstr(p, "content"), want[0].ptr ? want[0].ptr : "",
                           "round %u", round);
        } else if (!strcmp(type, "tool_call")) {
          seen[1] = 1;
          const char *args = jstr(p, "arguments");
          const char *w = want[1].ptr ? want[1].ptr : "";
          cr_assert(args && !strcmp(args, w), "round %u: %s vs %s", round,
                    args ? args : "(not a string)", w);
        } else if (!strcmp(type, "reasoning")) {
          seen[2] = 1;
          cr_assert_str_eq(jstr(p, "content"), want[2].ptr ? want[2].ptr : "",
                           "round %u", round);
        }
      }
    }
    /* the call item is there from output_item.added on; text and
     * reasoning parts only with text */
    cr_assert(seen[1], "round %u", round);
    cr_assert_eq(seen[0], want[0].len > 0, "round %u", round);
    cr_assert_eq(seen[2], want[2].len > 0, "round %u", round);
    cJSON_Delete(r);
    dynbuf_free(&body);
    for (int i = 0; i < 3; i++)
      dynbuf_free(&want[i]);
  }
}
