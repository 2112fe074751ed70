/* Cohere: chat v2 (plain and SSE), chat v1 (plain and NDJSON), generate,
 * embed, errors; usage from `tokens`, else `billed_units`. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define V2_URL "https://api.cohere.com/v2/chat"
#define V1_URL "https://api.cohere.com/v1/chat"
#define GEN_URL "https://api.cohere.ai/v1/generate"
#define SSE_HEADERS "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
#define NDJSON_HEADERS                                                         \
  "HTTP/1.1 200 OK\r\nContent-Type: application/stream+json\r\n"

Test(cohere, endpoints) {
  struct at_match m;
  static const struct {
    const char *url;
    enum at_api api;
  } cases[] = {
      {"https://api.cohere.com/v2/chat", AT_API_COHERE_CHAT},
      {"https://api.cohere.ai/v1/chat", AT_API_COHERE_CHAT_V1},
      {"https://api.cohere.com/v1/generate", AT_API_COHERE_GENERATE},
      {"https://api.cohere.com/v2/embed", AT_API_COHERE_EMBED},
      {"https://api.cohere.com/v1/embed", AT_API_COHERE_EMBED},
      {"https://api.cohere.com/v2/rerank", AT_API_RERANK},
      {"https://api.cohere.com/v1/tokenize", AT_API_OTHER_LLM},
      {"https://api.cohere.com/compatibility/v1/chat/completions",
       AT_API_OPENAI_CHAT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert(at_match_url(cases[i].url, &m), "%s", cases[i].url);
    cr_expect_eq(m.api, cases[i].api, "%s", cases[i].url);
    cr_expect_str_eq(m.provider, "cohere");
  }
  /* Cohere's paths mean nothing on other hosts */
  cr_expect_not(at_match_url("https://example.com/v2/chat", &m));
}

Test(cohere, v2_request) {
  cJSON *r = fx_run(V2_URL, "cohere/v2_chat.req.json",
                    "cohere/v2_chat.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "provider"), "cohere");
  cr_expect_str_eq(jstr(r, "name"), "chat command-a-03-2025");
  const cJSON *p = jget(r, "model_parameters");
  cr_expect_float_eq(jnum(p, "temperature"), 0.3, 1e-9);
  cr_expect_eq(jnum(p, "max_tokens"), 400);
  cr_expect_float_eq(jnum(p, "top_p"), 0.9, 1e-9, "p is top_p");
  cr_expect_eq(jnum(p, "top_k"), 40, "k is top_k");
  cr_expect_null(jget(p, "p"));
  cr_expect_null(jget(p, "k"));
  cr_expect_str_eq(jstr(p, "stop_sequences.0"), "END");
  cr_expect_eq(jnum(p, "seed"), 11);
  cr_expect_float_eq(jnum(p, "frequency_penalty"), 0.1, 1e-9);
  cr_expect_float_eq(jnum(p, "presence_penalty"), 0.2, 1e-9);
  cr_expect_str_eq(jstr(p, "tools.0.function.name"), "lock_depth");
  cr_expect_str_eq(jstr(p, "response_format.type"), "json_object");
  cr_expect(cJSON_IsFalse(jget(p, "stream")));
  cr_expect_eq(jnum(r, "metadata.request_documents"), 1);

  cr_assert_eq(jsize(r, "input"), 5);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "You plan canal trips.");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"), "How deep is lock 7?");
  cr_expect_str_eq(jstr(r, "input.1.parts.1.type"), "blob");
  cr_expect_str_eq(jstr(r, "input.1.parts.1.mime_type"), "image/png");
  const cJSON *a = jget(r, "input.2.parts");
  cr_assert_eq(jsize(a, ""), 2);
  cr_expect_str_eq(jstr(a, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(a, "0.content"), "I will look up lock 7.");
  cr_expect_str_eq(jstr(a, "1.id"), "lock_lookup_x1");
  cr_expect_eq(jnum(a, "1.arguments.lock"), 7);
  cr_expect_str_eq(jstr(r, "input.3.role"), "tool");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.id"), "lock_lookup_x1");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.response.0.type"), "document");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.content"), "And lock 8?");
  cJSON_Delete(r);
}

Test(cohere, v2_plain_answer_usage_from_tokens) {
  cJSON *r = fx_run(V2_URL, "cohere/v2_chat.req.json",
                    "cohere/v2_chat.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "response_id"), "c0h3re-v2-0001");
  cr_expect_null(jget(r, "response_model"));
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 4);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning"); /* the tool plan */
  cr_expect_str_eq(jstr(o, "0.content"), "Lock 8 needs a second lookup.");
  cr_expect_str_eq(jstr(o, "1.type"), "reasoning"); /* a thinking block */
  cr_expect_str_eq(jstr(o, "2.content"), "Checking lock 8.");
  cr_expect_str_eq(jstr(o, "3.type"), "tool_call");
  cr_expect_str_eq(jstr(o, "3.id"), "lock_lookup_x2");
  cr_expect_eq(jnum(o, "3.arguments.lock"), 8);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "TOOL_CALL");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 1410);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 64);
  cr_expect_eq(jnum(r, "usage.cache_read_input_tokens"), 1024);
  cr_expect_eq(jnum(r, "usage_details.input"), 386);
  cr_expect_eq(jnum(r, "metadata.billed_units.input_tokens"), 120);
  cr_expect_eq(jnum(r, "metadata.billed_units.output_tokens"), 31);
  cJSON_Delete(r);
}

Test(cohere, v2_stream_tool_calls_usage_from_billed_units) {
  cJSON *r = fx_run(V2_URL, "cohere/v2_chat.req.json", "cohere/v2_tools.sse",
                    200, SSE_HEADERS);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "response_id"), "c0h3re-v2-0002");
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 3);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "0.content"), "I will check both locks.");
  cr_expect_str_eq(jstr(o, "1.id"), "lock_a");
  cr_expect_str_eq(jstr(o, "1.name"), "lock_depth");
  cr_expect_eq(jnum(o, "1.arguments.lock"), 7);
  cr_expect_str_eq(jstr(o, "2.id"), "lock_b");
  cr_expect_eq(jnum(o, "2.arguments.lock"), 8);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "TOOL_CALL");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 52);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 23);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);
}

Test(cohere, v2_stream_text_and_thinking_crlf) {
  char *req = fx_read("cohere/v2_chat.req.json", NULL);
  char *sse = fx_read("cohere/v2_text.sse", NULL);
  size_t len;
  char *crlf = fx_crlf(sse, &len);
  struct at_exchange ex = fx_exchange(V2_URL, req, crlf, 200, NULL);
  cJSON *r = fx_parse(&ex);
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 2);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "0.content"), "Locks fill from upstream.");
  cr_expect_str_eq(jstr(o, "1.type"), "text");
  cr_expect_str_eq(jstr(o, "1.content"),
                   "Open the top paddles \xc3\xa9 first.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "MAX_TOKENS");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 200);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 13);
  cJSON_Delete(r);
  /* cut before message-end: the text so far, finish "error" */
  char *cut =
      strstr(crlf, "event: content-end\r\ndata: {\"type\":\"content-end\","
                   "\"index\":1}");
  cr_assert_not_null(cut);
  *cut = '\0';
  ex = fx_exchange(V2_URL, req, crlf, 200, SSE_HEADERS);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before message-end");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"),
                   "Open the top paddles \xc3\xa9 first.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);
  free(crlf);
  free(sse);
  free(req);
}

Test(cohere, v1_request_and_plain_answer) {
  cJSON *r = fx_run(V1_URL, "cohere/v1_chat.req.json",
                    "cohere/v1_chat.resp.json", 200, NULL);
  cr_expect_float_eq(jnum(r, "model_parameters.top_p"), 0.75, 1e-9);
  cr_expect_eq(jnum(r, "model_parameters.top_k"), 0);
  cr_expect_str_eq(jstr(r, "model_parameters.connectors.0.id"), "web-search");
  cr_assert_eq(jsize(r, "input"), 6);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"),
                   "You are a lock keeper.");
  cr_expect_str_eq(jstr(r, "input.1.role"), "user");
  cr_expect_str_eq(jstr(r, "input.2.role"), "assistant");
  cr_expect_str_eq(jstr(r, "input.2.parts.0.type"), "tool_call");
  cr_expect_str_eq(jstr(r, "input.2.parts.0.name"), "lock_state");
  cr_expect_eq(jnum(r, "input.2.parts.0.arguments.lock"), 3);
  cr_expect_str_eq(jstr(r, "input.3.role"), "tool");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.name"), "lock_state");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.response.0.state"), "open");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.content"), "Lock 3 is open.");
  cr_expect_str_eq(jstr(r, "input.5.parts.0.content"), "Close it, please.");

  cr_expect_str_eq(jstr(r, "response_id"), "v1resp-42");
  cr_expect_str_eq(jstr(r, "metadata.generation_id"), "v1gen-42");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "I will close lock 3.");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.name"), "close_lock");
  cr_expect_eq(jnum(r, "output.0.parts.1.arguments.lock"), 3);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "COMPLETE");
  /* no `tokens`: billed units are all there is */
  cr_expect_eq(jnum(r, "usage.input_tokens"), 33);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 8);
  cJSON_Delete(r);
}

Test(cohere, v1_ndjson_stream) {
  cJSON *r = fx_run(V1_URL, "cohere/v1_chat.req.json", "cohere/v1_chat.ndjson",
                    200, NDJSON_HEADERS);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "response_id"), "v1resp-77");
  cr_expect_str_eq(jstr(r, "metadata.generation_id"), "v1gen-77");
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 2);
  cr_expect_str_eq(jstr(o, "0.content"), "Closing lock 3.");
  cr_expect_str_eq(jstr(o, "1.name"), "close_lock");
  cr_expect_eq(jnum(o, "1.arguments.lock"), 3);
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "COMPLETE");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 410);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 7);
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
}

Test(cohere, v1_cut_stream) {
  cJSON *r = fx_run(V1_URL, "cohere/v1_chat.req.json",
                    "cohere/v1_chat_cut.ndjson", 200, NDJSON_HEADERS);
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before stream-end");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Half a");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_str_eq(jstr(r, "response_id"), "v1gen-78");
  cJSON_Delete(r);
}

Test(cohere, generate_plain_and_stream) {
  cJSON *r = fx_run(GEN_URL, "cohere/generate.req.json",
                    "cohere/generate.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "operation"), "text_completion");
  cr_expect_eq(jnum(r, "model_parameters.num_generations"), 2);
  cr_expect_eq(jnum(r, "model_parameters.top_k"), 5);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "Name two canal boats.");
  cr_expect_str_eq(jstr(r, "response_id"), "gen-batch-9");
  cr_assert_eq(jsize(r, "output"), 2);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), " Narrowboat Nell");
  cr_expect_str_eq(jstr(r, "output.1.parts.0.content"), " The Kingfisher");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "MAX_TOKENS");
  cr_expect_str_eq(jstr(r, "finish_reasons.1"), "COMPLETE");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 5);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 9);
  cJSON_Delete(r);

  r = fx_run(GEN_URL, "cohere/generate.req.json", "cohere/generate.ndjson", 200,
             NULL);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "response_id"), "gen-stream-3");
  cr_assert_eq(jsize(r, "output"), 1);
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), " Narrowboat");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "COMPLETE");
  cr_expect_eq(jnum(r, "usage.output_tokens"), 2);
  cJSON_Delete(r);
}

Test(cohere, embed_by_type_and_floats) {
  cJSON *r = fx_run("https://api.cohere.com/v2/embed", "cohere/embed.req.json",
                    "cohere/embed.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "name"), "embeddings embed-v4.0");
  cr_expect_str_eq(jstr(r, "input.1"), "aqueduct");
  cr_expect_str_eq(jstr(r, "model_parameters.input_type"), "search_query");
  cr_expect_str_eq(jstr(r, "model_parameters.embedding_types.1"), "int8");
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 3);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 4);
  cr_expect_str_eq(jstr(r, "response_id"), "emb-5");
  cJSON_Delete(r);
  r = fx_run("https://api.cohere.com/v1/embed", "cohere/embed.req.json",
             "cohere/embed_v1.resp.json", 200, NULL);
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 2);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 3);
  cJSON_Delete(r);
}

Test(cohere, http_error_message) {
  cJSON *r = fx_run(V2_URL, "cohere/v2_chat.req.json", "cohere/error_400.json",
                    400, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "invalid request: message must be at least 1 token long");
  cJSON_Delete(r);
}

Test(cohere, broken_bodies_give_partial_records) {
  static const char *const bodies[] = {
      "{\"id\":1,\"message\":[],\"usage\":{\"tokens\":{\"input_tokens\":-1}}}",
      "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":9999,"
      "\"delta\":{\"message\":{\"content\":{\"text\":\"x\"}}}}\n\n"
      "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":7}\n\n",
      "event: tool-call-start\ndata: {\"type\":\"tool-call-start\","
      "\"index\":-3}\n\ndata: nope\n\n",
      "{\"message\":{\"content\":[{\"type\":7},\"s\",{\"type\":\"text\","
      "\"text\":[]}],\"tool_calls\":{}}}",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct at_exchange ex = fx_exchange(
        V2_URL, "{\"model\":3,\"messages\":[{\"role\":\"tool\"},7]}", bodies[i],
        200, NULL);
    cJSON *r = fx_parse(&ex);
    cr_expect_str_eq(jstr(r, "level"), "WARNING", "body %zu", i);
    cr_expect_not_null(jget(r, "metadata.parse_error"), "body %zu", i);
    cJSON_Delete(r);
  }
}
