/* AWS Bedrock InvokeModel: the model-native bodies of each family, plain
 * and streamed (base64 chunks in the event stream), embeddings, header
 * usage. Fixtures: tests/fixtures/providers/bedrock/. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define HOST "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
#define INVOKE "/invoke"
#define STREAM "/invoke-with-response-stream"
#define ES_HEADERS                                                             \
  "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"    \
  "x-amzn-RequestId: req-inv-1\r\n"
#define JSON_HEADERS                                                           \
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"                      \
  "X-Amzn-Bedrock-Input-Token-Count: 17\r\n"                                   \
  "X-Amzn-Bedrock-Output-Token-Count: 6\r\n"                                   \
  "X-Amzn-Bedrock-Invocation-Latency: 321\r\n"                                 \
  "x-amzn-RequestId: req-inv-2\r\n"

static cJSON *run(const char *url, const char *req_name, const char *resp_name,
                  const char *headers) {
  char path[128];
  size_t rlen = 0;
  snprintf(path, sizeof path, "bedrock/%s", req_name);
  char *req = fx_read(path, NULL);
  snprintf(path, sizeof path, "bedrock/%s", resp_name);
  char *resp = fx_read(path, &rlen);
  struct at_exchange ex = fx_exchange(url, req, resp, 200, headers);
  ex.resp_body_len = rlen;
  cJSON *r = fx_parse(&ex);
  free(req);
  free(resp);
  return r;
}

Test(bedrock_invoke, anthropic_plain) {
  cJSON *r = run(HOST "anthropic.claude-3-5-haiku-20241022-v1%3A0" INVOKE,
                 "invoke_anthropic.req.json", "invoke_anthropic.resp.json",
                 JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "request_model"),
                   "anthropic.claude-3-5-haiku-20241022-v1:0");
  cr_expect_str_eq(jstr(r, "response_model"), "claude-3-5-haiku-20241022");
  cr_expect_str_eq(jstr(r, "response_id"), "msg_bdrk_fx02");
  cr_expect_str_eq(jstr(r, "metadata.request_id"), "req-inv-2");
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 300);
  cr_expect_null(jget(r, "model_parameters.stream"));
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"), "Status of valve V2?");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Valve V2 is shut.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "end_turn");
  /* the body's counts, not the headers' */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 530);
  cr_expect_eq(jnum(r, "usage.cache_write_input_tokens"), 500);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 9);
  cr_expect_eq(jnum(r, "metadata.latency_ms"), 321);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:claude-3-5-haiku@2026-08-22");
  /* token counts are no secret: kept in the headers */
  cr_expect_str_eq(
      jstr(r, "http.response_headers.x-amzn-bedrock-input-token-count"), "17");
  cJSON_Delete(r);
}

Test(bedrock_invoke, anthropic_stream) {
  char *req = fx_read("bedrock/invoke_anthropic.req.json", NULL);
  size_t len;
  char *body = fx_read("bedrock/invoke_anthropic_stream.es", &len);
  struct at_exchange ex =
      fx_exchange(HOST "us.anthropic.claude-3-5-haiku-20241022-v1%3A0" STREAM,
                  req, body, 200, ES_HEADERS);
  ex.resp_body_len = len;
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
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.stream")));
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  /* the first text delta is the third chunk */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1000003000");
  cr_expect_str_eq(jstr(r, "response_id"), "msg_bdrk_fx01");
  cr_expect_str_eq(jstr(r, "response_model"), "claude-3-5-haiku-20241022");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Valve V2 is shut.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.id"), "toolu_bdrk_v2");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.arguments.event"), "V2 shut");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "tool_use");
  /* Anthropic's own counts win over the invocation metrics (30) */
  cr_expect_eq(jnum(r, "usage.output_tokens"), 33);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 325);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 300);
  cr_expect_eq(jnum(r, "metadata.latency_ms"), 950);
  cr_expect_eq(jnum(r, "metadata.first_byte_latency_ms"), 210);
  cJSON_Delete(r);
  free(req);
  free(body);
}

Test(bedrock_invoke, llama) {
  cJSON *r =
      run(HOST "meta.llama3-1-70b-instruct-v1%3A0" INVOKE,
          "invoke_llama.req.json", "invoke_llama.resp.json", JSON_HEADERS);
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 64);
  cr_expect_float_eq(jnum(r, "model_parameters.top_p"), 0.9, 1e-9);
  cr_expect_str_eq(jstr(r, "input.0.role"), "user");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "<|begin_of_text|>How hot is the boiler?");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   " The boiler runs at 180 C.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 11);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 9);
  cr_expect_str_eq(jstr(r, "response_model"),
                   "meta.llama3-1-70b-instruct-v1:0");
  cr_expect_str_eq(jstr(r, "response_id"), "req-inv-2");
  /* no confirmed Bedrock price for meta.llama3-1-70b-instruct: no cost, not a
   * guess */
  cr_expect_null(jstr(r, "cost_source"));
  cr_expect_null(cJSON_GetObjectItemCaseSensitive(r, "cost_details"));
  cJSON_Delete(r);

  r = run(HOST "us.meta.llama3-1-70b-instruct-v1%3A0" STREAM,
          "invoke_llama.req.json", "invoke_llama_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Pressure is nominal.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 12);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 4);
  cr_expect_eq(jnum(r, "metadata.latency_ms"), 300);
  cJSON_Delete(r);
}

Test(bedrock_invoke, titan) {
  cJSON *r =
      run(HOST "amazon.titan-text-express-v1" INVOKE, "invoke_titan.req.json",
          "invoke_titan.resp.json", JSON_HEADERS);
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 200);
  cr_expect_str_eq(jstr(r, "model_parameters.stop.0"), "User:");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "Summarise the shift log.");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Quiet shift; no alarms.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "FINISH");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 6);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 8);
  cJSON_Delete(r);

  r = run(HOST "amazon.titan-text-express-v1" STREAM, "invoke_titan.req.json",
          "invoke_titan_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Tank A is full.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "FINISH");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 9);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 5);
  cJSON_Delete(r);
}

Test(bedrock_invoke, nova) {
  cJSON *r = run(HOST "amazon.nova-lite-v1%3A0" INVOKE, "invoke_nova.req.json",
                 "invoke_nova.resp.json", JSON_HEADERS);
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 50);
  cr_expect_eq(jnum(r, "model_parameters.top_k"), 20);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"), "Fan speed?");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "1200 rpm.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "end_turn");
  /* 10 + 50 read: the total (64) leaves nothing else */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 60);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 50);
  cr_expect_eq(jnum(r, "usage.total_tokens"), 64);
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:aws.bedrock:amazon.nova-lite@2026-11-21");
  cJSON_Delete(r);

  r = run(HOST "us.amazon.nova-lite-v1%3A0" STREAM, "invoke_nova.req.json",
          "invoke_nova_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Fan speed is 1200 rpm.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "end_turn");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 14);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 8);
  cJSON_Delete(r);
}

Test(bedrock_invoke, mistral) {
  cJSON *r =
      run(HOST "mistral.mistral-7b-instruct-v0%3A2" INVOKE,
          "invoke_mistral.req.json", "invoke_mistral.resp.json", JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "model_parameters.stop.0"), "</s>");
  cr_expect_eq(jnum(r, "model_parameters.top_k"), 40);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "The impeller.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  /* no usage in the body: the headers' counts */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 17);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 6);
  cr_expect_null(jget(r, "metadata.usage_missing"));
  cJSON_Delete(r);

  r = run(HOST "mistral.mistral-7b-instruct-v0%3A2" STREAM,
          "invoke_mistral.req.json", "invoke_mistral_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Boiler stable.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  /* no counts in the chunks: the invocation metrics */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 7);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 3);
  cJSON_Delete(r);
}

Test(bedrock_invoke, cohere_command_r) {
  cJSON *r =
      run(HOST "cohere.command-r-v1%3A0" INVOKE, "invoke_cohere.req.json",
          "invoke_cohere.resp.json", JSON_HEADERS);
  cr_expect_float_eq(jnum(r, "model_parameters.top_p"), 0.8, 1e-9);
  cr_expect_eq(jnum(r, "model_parameters.top_k"), 10);
  cr_expect_str_eq(jstr(r, "model_parameters.stop.0"), "--");
  cr_assert_eq(jsize(r, "input"), 4);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.1.role"), "user");
  cr_expect_str_eq(jstr(r, "input.2.role"), "assistant");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.content"),
                   "Book a check for pump P-7.");
  cr_expect_str_eq(jstr(r, "response_id"), "fx-cohere-1");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Booking it now.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.name"), "book_check");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.arguments.pump"), "P-7");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "COMPLETE");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 17);
  /* no confirmed Bedrock price for cohere.command-r: no cost, not a guess */
  cr_expect_null(jstr(r, "cost_source"));
  cr_expect_null(cJSON_GetObjectItemCaseSensitive(r, "cost_details"));
  cJSON_Delete(r);
}

/* An id that names no family (an application inference profile): the
 * body's shape decides. */
Test(bedrock_invoke, unknown_model_id_by_shape) {
  const char *url = HOST "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3A"
                         "application-inference-profile%2Fabc123" INVOKE;
  cJSON *r =
      run(url, "invoke_llama.req.json", "invoke_llama.resp.json", JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "<|begin_of_text|>How hot is the boiler?");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   " The boiler runs at 180 C.");
  cr_expect_str_eq(jstr(r, "response_model"),
                   "arn:aws:bedrock:us-east-1:1:application-inference-profile/"
                   "abc123");
  cr_expect_null(jget(r, "cost_details"));
  cJSON_Delete(r);
  r = run(url, "invoke_anthropic.req.json", "invoke_anthropic.resp.json",
          JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Valve V2 is shut.");
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cJSON_Delete(r);
  r = run(url, "invoke_anthropic.req.json", "invoke_anthropic_stream.es",
          ES_HEADERS);
  cr_expect_str_eq(jstr(r, "output.0.parts.1.name"), "log_event");
  cJSON_Delete(r);
  r = run(url, "invoke_nova.req.json", "invoke_nova_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"),
                   "Fan speed is 1200 rpm.");
  cJSON_Delete(r);
}

Test(bedrock_invoke, chunk_problems) {
  /* a llama stream read as if it were Anthropic's: every chunk is JSON but
   * no Anthropic event, so nothing is built and the cut is said */
  cJSON *r =
      run(HOST "anthropic.claude-3-haiku-20240307-v1%3A0" STREAM,
          "invoke_anthropic.req.json", "invoke_llama_stream.es", ES_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_not_null(jstr(r, "metadata.parse_error"));
  /* the invocation metrics still give the counts */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 12);
  cJSON_Delete(r);
}

Test(bedrock_invoke, embeddings) {
  cJSON *r = run(HOST "amazon.titan-embed-text-v2%3A0" INVOKE,
                 "embed_titan.req.json", "embed_titan.resp.json", JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "operation"), "embeddings");
  cr_expect_str_eq(jstr(r, "name"), "embeddings amazon.titan-embed-text-v2:0");
  cr_expect_str_eq(jstr(r, "input.0"), "pump P-7 maintenance manual");
  cr_expect_eq(jnum(r, "model_parameters.dimensions"), 256);
  cr_expect_eq(jnum(r, "output.count"), 1);
  cr_expect_eq(jnum(r, "output.dimensions"), 256);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 6);
  /* no confirmed Bedrock price for amazon.titan-embed-text-v2: no cost, not a
   * guess */
  cr_expect_null(jstr(r, "cost_source"));
  cr_expect_null(cJSON_GetObjectItemCaseSensitive(r, "cost_details"));
  cJSON_Delete(r);

  r = run(HOST "cohere.embed-english-v3" INVOKE, "embed_cohere.req.json",
          "embed_cohere.resp.json", JSON_HEADERS);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.1"), "boiler room");
  cr_expect_str_eq(jstr(r, "model_parameters.input_type"), "search_document");
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 8);
  cr_expect_str_eq(jstr(r, "response_id"), "emb-fx-1");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 17); /* from the headers */
  cJSON_Delete(r);
}
