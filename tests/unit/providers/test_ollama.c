/* Ollama's native API: /api/chat, /api/generate, /api/embed(dings), plain
 * and NDJSON-streamed, errors in the body and mid-stream. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define CHAT_URL "http://localhost:11434/api/chat"
#define GEN_URL "http://127.0.0.1:11434/api/generate"
#define EMBED_URL "http://localhost:11434/api/embed"
#define NDJSON_HEADERS                                                         \
  "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"

Test(ollama, chat_request_messages_and_options) {
  cJSON *r = fx_run(CHAT_URL, "ollama/chat.req.json", "ollama/chat.ndjson", 200,
                    NDJSON_HEADERS);
  cr_expect_str_eq(jstr(r, "provider"), "ollama");
  cr_expect_str_eq(jstr(r, "type"), "generation");
  cr_expect_str_eq(jstr(r, "name"), "chat llama3.2-vision");
  const cJSON *p = jget(r, "model_parameters");
  cr_expect_float_eq(jnum(p, "temperature"), 0.1, 1e-9);
  cr_expect_float_eq(jnum(p, "top_p"), 0.8, 1e-9);
  cr_expect_eq(jnum(p, "top_k"), 20);
  cr_expect_eq(jnum(p, "max_tokens"), 256, "num_predict is max_tokens");
  cr_expect_str_eq(jstr(p, "stop.0"), "<end>");
  cr_expect_eq(jnum(p, "seed"), 3);
  cr_expect_eq(jnum(p, "num_ctx"), 8192);
  cr_expect_float_eq(jnum(p, "repeat_penalty"), 1.1, 1e-9);
  cr_expect_str_eq(jstr(p, "format.type"), "object");
  cr_expect_str_eq(jstr(p, "tools.0.function.name"), "read_gauge");
  cr_expect(cJSON_IsTrue(jget(p, "think")));
  cr_expect_null(jget(p, "keep_alive"));
  cr_expect_null(jget(p, "stream"), "not sent, so not recorded");
  cr_expect_null(jget(p, "num_predict"));

  cr_assert_eq(jsize(r, "input"), 5);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  const cJSON *u = jget(r, "input.1.parts");
  cr_assert_eq(jsize(u, ""), 2);
  cr_expect_str_eq(jstr(u, "0.content"), "What does this gauge show?");
  cr_expect_str_eq(jstr(u, "1.type"), "blob");
  cr_expect_str_eq(jstr(u, "1.modality"), "image");
  cr_expect_str_eq(jstr(u, "1.mime_type"), "image/png");
  cr_expect_eq(jnum(u, "1.size"), 16);
  const cJSON *a = jget(r, "input.2.parts");
  cr_assert_eq(jsize(a, ""), 3);
  cr_expect_str_eq(jstr(a, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(a, "0.content"), "I need the gauge id.");
  cr_expect_str_eq(jstr(a, "1.content"), "");
  cr_expect_str_eq(jstr(a, "2.type"), "tool_call");
  cr_expect_str_eq(jstr(a, "2.name"), "read_gauge");
  cr_expect_str_eq(jstr(a, "2.arguments.gauge"), "boiler");
  cr_expect_str_eq(jstr(r, "input.3.role"), "tool");
  cr_expect_str_eq(jstr(r, "input.3.name"), "read_gauge");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.type"), "tool_call_response");
  cr_expect_str_eq(jstr(r, "input.3.parts.0.response"), "7.5 bar");
  cr_expect_str_eq(jstr(r, "input.4.parts.0.content"), "Is that safe?");
  cJSON_Delete(r);
}

Test(ollama, chat_ndjson_stream) {
  char *req = fx_read("ollama/chat.req.json", NULL);
  size_t len;
  char *resp = fx_read("ollama/chat.ndjson", &len);
  struct at_exchange ex = fx_exchange(CHAT_URL, req, resp, 200, NDJSON_HEADERS);
  /* the third line (the first text) arrives at 1.3 s */
  const char *third = strstr(resp, "{\\\"safe\\\"");
  size_t third_end = (size_t)(strchr(third, '\n') - resp) + 1;
  ex.marks[0] = (struct at_chunk_mark){third_end - 1, 1200000000};
  ex.marks[1] = (struct at_chunk_mark){third_end, 1300000000};
  ex.marks[2] = (struct at_chunk_mark){len, 1800000000};
  ex.nmarks = 3;
  cJSON *r = fx_parse(&ex);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "response_model"), "llama3.2-vision");
  cr_expect_null(jget(r, "response_id"));
  /* the first thinking piece is output too: it arrived in line one */
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1200000000");
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 3);
  cr_expect_str_eq(jstr(o, "0.type"), "reasoning");
  cr_expect_str_eq(jstr(o, "0.content"),
                   "Seven and a half is below the limit.");
  cr_expect_str_eq(jstr(o, "1.type"), "text");
  cr_expect_str_eq(jstr(o, "1.content"), "{\"safe\": true}");
  cr_expect_str_eq(jstr(o, "2.type"), "tool_call");
  cr_expect_str_eq(jstr(o, "2.id"), "call_q1");
  cr_expect_str_eq(jstr(o, "2.name"), "log_reading");
  cr_expect_float_eq(jnum(o, "2.arguments.value"), 7.5, 1e-9);
  cr_expect_str_eq(jstr(r, "output.0.finish_reason"), "stop");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 61);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 17);
  cr_expect_eq(jnum(r, "usage_details.total"), 78);
  cr_expect_eq(jnum(r, "metadata.total_duration_ns"), 900000000);
  cr_expect_eq(jnum(r, "metadata.load_duration_ns"), 100000000);
  cr_expect_eq(jnum(r, "metadata.prompt_eval_duration_ns"), 200000000);
  cr_expect_eq(jnum(r, "metadata.eval_duration_ns"), 500000000);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
  free(req);
  free(resp);
}

Test(ollama, stream_without_content_type_is_sniffed) {
  /* no Content-Type: the body itself says NDJSON */
  cJSON *r =
      fx_run(CHAT_URL, "ollama/chat.req.json", "ollama/chat.ndjson", 200, NULL);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"), "{\"safe\": true}");
  cr_expect_eq(jnum(r, "usage.output_tokens"), 17);
  cJSON_Delete(r);
}

Test(ollama, chat_plain_answer) {
  cJSON *r = fx_run(CHAT_URL, "ollama/chat.req.json", "ollama/chat.resp.json",
                    200, NULL);
  cr_expect(cJSON_IsFalse(jget(r, "metadata.stream")));
  const cJSON *o = jget(r, "output.0.parts");
  cr_assert_eq(jsize(o, ""), 2);
  cr_expect_str_eq(jstr(o, "0.content"), "Compare with 10 bar.");
  cr_expect_str_eq(jstr(o, "1.content"), "Yes, 7.5 bar is within range.");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "length");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 50);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 9);
  cr_expect_eq(jnum(r, "metadata.eval_duration_ns"), 30);
  cr_expect_str_eq(jstr(r, "completion_start_ns"), "1100000000");
  cJSON_Delete(r);
}

Test(ollama, error_line_mid_stream) {
  cJSON *r = fx_run(CHAT_URL, "ollama/chat.req.json",
                    "ollama/chat_error.ndjson", 200, NDJSON_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "an error was encountered while running the model: "
                   "unexpected EOF");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Par");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_null(jget(r, "metadata.parse_error"), "an error is no cut");
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);
}

Test(ollama, cut_stream_keeps_the_text) {
  cJSON *r = fx_run(CHAT_URL, "ollama/chat.req.json", "ollama/chat_cut.ndjson",
                    200, NDJSON_HEADERS);
  cr_expect_str_eq(jstr(r, "level"), "WARNING");
  cr_expect_str_eq(jstr(r, "metadata.parse_error"),
                   "stream ended before the done line");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "Once upon");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "error");
  cr_expect_null(jget(r, "usage"));
  cJSON_Delete(r);
}

Test(ollama, http_error) {
  cJSON *r = fx_run(CHAT_URL, "ollama/chat.req.json", "ollama/error_404.json",
                    404, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "model \"llama9\" not found, try pulling it first");
  cr_expect_null(jget(r, "output"));
  cJSON_Delete(r);
}

Test(ollama, generate_stream_crlf_and_last_line) {
  cJSON *r = fx_run(GEN_URL, "ollama/generate.req.json",
                    "ollama/generate.ndjson", 200, NULL);
  cr_expect_str_eq(jstr(r, "operation"), "text_completion");
  cr_expect_str_eq(jstr(r, "name"), "text_completion codellama:7b-code");
  cr_assert_eq(jsize(r, "input"), 2);
  cr_expect_str_eq(jstr(r, "input.0.role"), "system");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "Complete the code.");
  cr_expect_str_eq(jstr(r, "input.1.parts.0.content"), "def add(a, b):");
  cr_expect_str_eq(jstr(r, "input.1.parts.1.mime_type"), "image/jpeg");
  cr_expect_str_eq(jstr(r, "model_parameters.suffix"), "    return result");
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.raw")));
  cr_expect_eq(jnum(r, "model_parameters.max_tokens"), 32);
  cr_expect_eq(jnum(r, "metadata.context_tokens"), 4);
  cr_expect(cJSON_IsTrue(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "output.0.parts.0.type"), "reasoning");
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "sum");
  cr_expect_str_eq(jstr(r, "output.0.parts.1.content"),
                   "\n    result = a + b\n");
  cr_expect_str_eq(jstr(r, "finish_reasons.0"), "stop");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 12);
  cr_expect_eq(jnum(r, "usage.output_tokens"), 6);
  cr_expect_null(jget(r, "metadata.parse_error"));
  cJSON_Delete(r);
}

Test(ollama, embed_and_legacy_embeddings) {
  cJSON *r = fx_run(EMBED_URL, "ollama/embed.req.json",
                    "ollama/embed.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "name"), "embeddings nomic-embed-text");
  cr_expect_str_eq(jstr(r, "input.0"), "lock gate");
  cr_expect_str_eq(jstr(r, "input.1"), "weir");
  cr_expect_eq(jnum(r, "output.count"), 2);
  cr_expect_eq(jnum(r, "output.dimensions"), 4);
  cr_expect_eq(jnum(r, "usage.input_tokens"), 8);
  cr_expect_null(jget(r, "usage.output_tokens"));
  cr_expect_eq(jnum(r, "model_parameters.dimensions"), 4);
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.truncate")));
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "0.7"), "vectors are never kept");
  free(text);
  cJSON_Delete(r);

  r = fx_run("http://localhost:11434/api/embeddings",
             "ollama/embeddings_legacy.req.json",
             "ollama/embeddings_legacy.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "input.0"), "sluice");
  cr_expect_eq(jnum(r, "output.count"), 1);
  cr_expect_eq(jnum(r, "output.dimensions"), 3);
  cr_expect_str_eq(jstr(r, "metadata.usage_missing"),
                   "the response carried no usage");
  cJSON_Delete(r);
}

Test(ollama, configured_host_and_proxy_prefix) {
  cr_assert_eq(at_hosts_configure("gpu-box:8080=ollama", NULL, 0), 1);
  struct at_match m;
  cr_assert(at_match_url("http://gpu-box:8080/api/chat", &m));
  cr_expect_eq(m.api, AT_API_OLLAMA_CHAT);
  cr_expect_str_eq(m.provider, "ollama");
  cr_assert(at_match_url("http://gpu-box:8080/ollama/api/generate", &m));
  cr_expect_eq(m.api, AT_API_OLLAMA_GENERATE);
  cr_assert(at_match_url("http://gpu-box:8080/api/embeddings", &m));
  cr_expect_eq(m.api, AT_API_OLLAMA_EMBED);
  cr_assert(at_match_url("http://gpu-box:8080/api/tags", &m));
  cr_expect_eq(m.api, AT_API_OTHER_LLM);
  cr_expect_not(at_match_url("http://elsewhere:8080/api/chat", &m));
  at_hosts_configure(NULL, NULL, 0);
}

Test(ollama, broken_bodies_give_partial_records) {
  static const char *const bodies[] = {
      "{\"model\":\"m\",\"message\":{\"content\":5},\"done\":true}",
      "{\"model\":\"m\",\"message\":\"x\",\"done\":\"yes\"}\n{\"a\":1}\n",
      "\n\n\n",
      "{\"done\":true,\"eval_count\":-3}\n{\"done\":true}",
      "[1,2]\n[3]\n",
      "{\"message\":{\"tool_calls\":[{\"function\":7},{}]}}\n{\"x\":0}\n",
  };
  for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
    struct at_exchange ex =
        fx_exchange(CHAT_URL, "{\"model\":\"m\",\"messages\":{}}", bodies[i],
                    200, i % 2 ? NDJSON_HEADERS : NULL);
    cJSON *r = fx_parse(&ex);
    cr_expect_str_eq(jstr(r, "level"), "WARNING", "body %zu", i);
    cr_expect_not_null(jget(r, "metadata.parse_error"), "body %zu", i);
    cJSON_Delete(r);
  }
}

Test(ollama, pretty_printed_answer_is_not_a_stream) {
  struct at_exchange ex = fx_exchange(
      CHAT_URL, "{\"model\":\"m\",\"messages\":[],\"stream\":false}",
      "{\n  \"model\": \"m\",\n  \"message\": {\"role\": \"assistant\", "
      "\"content\": \"hi\"},\n  \"done\": true,\n  \"done_reason\": \"stop\","
      "\n  \"eval_count\": 1\n}\n",
      200, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
  cJSON *r = fx_parse(&ex);
  cr_expect(cJSON_IsFalse(jget(r, "metadata.stream")));
  cr_expect_str_eq(jstr(r, "output.0.parts.0.content"), "hi");
  cr_expect_eq(jnum(r, "usage.output_tokens"), 1);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cJSON_Delete(r);
}
