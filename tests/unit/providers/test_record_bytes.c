/* The bytes of printed records, pinned: at_parse_exchange() then
 * at_json_write(), compared with tests/fixtures/providers/printed/<case>.json
 * byte for byte. The other tests look values up; these catch any change in
 * key order, number or string formatting, or which keys are present, so
 * that work on how records are built cannot change what is recorded.
 *
 * When a change to the record is intended, run the binary with
 * AT_PRINTED_WRITE=1 from the repository root to rewrite the files, and
 * review their diff. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dynbuf.h"
#include "helpers.h"
#include "providers/json_write.h"

/* A request with what the record builder has to get right: escapes,
 * control characters, non-ASCII text, fractional and whole parameters,
 * nested parameter objects, a tool call and its result. */
static const char REQ_RICH[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\\n\\tQuote \\\"q\\\" "
    "back\\\\slash \\u0001ctl caf\\u00e9 \xe6\xbc\xa2\xe5\xad\x97 "
    "\xf0\x9f\x98\x80\"},"
    "{\"role\":\"user\",\"content\":\"Weather in Paris?\",\"name\":\"ann\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
    "\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":2}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18C\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"And "
    "tomorrow?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"https://example.com/a.png?sig=SECRET&x=1\"}}]}],"
    "\"temperature\":0.7,\"top_p\":0.95,\"max_tokens\":100,\"seed\":-42,"
    "\"frequency_penalty\":1e-7,\"presence_penalty\":-0.5,"
    "\"logit_bias\":{\"50256\":-100,\"11\":12.25},"
    "\"response_format\":{\"type\":\"json_object\"},"
    "\"stop\":[\"\\n\\n\",\"END\"],\"tools\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}}}}}],"
    "\"user\":\"bench\"}";

static const char RESP_RICH[] =
    "{\"id\":\"chatcmpl-rich\",\"object\":\"chat.completion\","
    "\"created\":1700000000,\"model\":\"gpt-4o-mini-2024-07-18\","
    "\"system_fingerprint\":\"fp_x\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Tomorrow: 21\\u00b0C, "
    "\\\"sunny\\\".\\r\\nBye\",\"tool_calls\":[{\"id\":\"call_2\",\"type\":"
    "\"function\",\"function\":{\"name\":\"get_time\",\"arguments\":"
    "\"{\\\"tz\\\":\\\"CET\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":1234,\"completion_tokens\":56,"
    "\"total_tokens\":1290,\"prompt_tokens_details\":{\"cached_tokens\":"
    "1024},\"completion_tokens_details\":{\"reasoning_tokens\":7}}}";

static char *printed(const cJSON *rec) {
  struct dynbuf b;
  dynbuf_init(&b, 1 << 24);
  cr_assert_eq(at_json_write(&b, rec), 0);
  return b.ptr;
}

/* Compare rec's text with the pinned file (or rewrite the file). */
static void pinned(const char *name, cJSON *rec) {
  char *got = printed(rec);
  cJSON_Delete(rec);
  char file[128];
  snprintf(file, sizeof file, "printed/%s.json", name);
  if (getenv("AT_PRINTED_WRITE")) {
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/providers/%s", file);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s (run from the repository root)",
                       path);
    fprintf(f, "%s\n", got);
    fclose(f);
  }
  size_t len;
  char *want = fx_read(file, &len);
  cr_assert(len > 0 && want[len - 1] == '\n', "%s: no final newline", file);
  want[len - 1] = '\0';
  cr_expect_str_eq(got, want, "%s: the printed record changed", name);
  free(want);
  free(got);
}

Test(record_bytes, openai_chat_rich) {
  struct at_exchange ex =
      fx_exchange("https://api.openai.com/v1/chat/completions?api-key=SECRET",
                  REQ_RICH, RESP_RICH, 200,
                  "Content-Type: application/json\r\nX-Request-Id: req_1\r\n"
                  "Set-Cookie: a=b\r\nopenai-processing-ms: 321\r\n");
  pinned("openai_chat_rich", fx_parse(&ex));
}

Test(record_bytes, openai_chat_fixture) {
  pinned("openai_chat", fx_run("https://api.openai.com/v1/chat/completions",
                               "openai_chat.req.json", "openai_chat.resp.json",
                               200, "Content-Type: application/json\r\n"));
}

Test(record_bytes, openai_chat_stream_tools) {
  pinned("openai_chat_tools_sse",
         fx_run("https://api.openai.com/v1/chat/completions",
                "openai_chat.req.json", "openai_chat_tools.sse", 200,
                "Content-Type: text/event-stream\r\n"));
}

Test(record_bytes, openai_error_429) {
  pinned("openai_error_429",
         fx_run("https://api.openai.com/v1/chat/completions",
                "openai_chat.req.json", "openai_error_429.json", 429,
                "Content-Type: application/json\r\nRetry-After: 2\r\n"));
}

Test(record_bytes, openai_embeddings) {
  pinned("openai_embeddings",
         fx_run("https://api.openai.com/v1/embeddings",
                "openai_embeddings.req.json", "openai_embeddings.resp.json",
                200, "Content-Type: application/json\r\n"));
}

Test(record_bytes, anthropic_stream_thinking_tool) {
  pinned("anthropic_thinking_tool",
         fx_run("https://api.anthropic.com/v1/messages",
                "anthropic_messages.req.json", "anthropic_thinking_tool.sse",
                200, "content-type: text/event-stream\r\n"));
}

Test(record_bytes, anthropic_messages) {
  pinned("anthropic_messages",
         fx_run("https://api.anthropic.com/v1/messages",
                "anthropic_messages.req.json", "anthropic_messages.resp.json",
                200, "content-type: application/json\r\n"));
}
