#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const char *infer(const char *req, const char *resp) {
  return parse_infer_url(req, req ? strlen(req) : 0, resp,
                         resp ? strlen(resp) : 0);
}

#define CHAT "https://api.openai.com/v1/chat/completions"
#define ANTHROPIC "https://api.anthropic.com/v1/messages"
#define RESPONSES "https://api.openai.com/v1/responses"
#define EMBEDDINGS "https://api.openai.com/v1/embeddings"
#define COMPLETIONS "https://api.openai.com/v1/completions"

Test(parse_infer, the_response_says_first) {
  cr_expect_str_eq(infer("{}", "{\"type\":\"message\",\"content\":[]}"),
                   ANTHROPIC);
  cr_expect_str_eq(infer("{}", "{\"type\":\"error\",\"error\":{}}"), ANTHROPIC);
  cr_expect_str_eq(infer("{}", "{\"object\":\"response\",\"output\":[]}"),
                   RESPONSES);
  cr_expect_str_eq(infer("{}", "{\"object\":\"list\",\"data\":[{\"object\":"
                               "\"embedding\",\"embedding\":[0.1]}]}"),
                   EMBEDDINGS);
  cr_expect_str_eq(infer("{}", "{\"object\":\"list\",\"data\":[{"
                               "\"embedding\":[0.1]}]}"),
                   EMBEDDINGS, "an embedding without its object tag");
  cr_expect_str_eq(infer("{}", "{\"object\":\"text_completion\"}"),
                   COMPLETIONS);
  cr_expect_str_eq(infer("{}", "{\"object\":\"chat.completion\"}"), CHAT);
}

Test(parse_infer, streams_are_told_apart_by_their_events) {
  cr_expect_str_eq(
      infer("{}", "event: message_start\ndata: {\"type\":\"message_start\"}\n"),
      ANTHROPIC);
  cr_expect_str_eq(infer("{}", "event: response.created\ndata: {}\n\n"),
                   RESPONSES);
  cr_expect_str_eq(
      infer("{}", "data: {\"object\":\"text_completion\",\"choices\":[]}\n\n"),
      COMPLETIONS);
  cr_expect_str_eq(infer("{}", "data: {\"object\":\"chat.completion.chunk\"}"
                               "\n\ndata: [DONE]\n\n"),
                   CHAT);
}

Test(parse_infer, errors_fall_back_to_the_request) {
  const char *openai_err = "{\"error\":{\"message\":\"bad\"}}";
  cr_expect_str_eq(infer("{\"model\":\"claude\",\"max_tokens\":10,\"system\":"
                         "\"x\",\"messages\":[]}",
                         openai_err),
                   ANTHROPIC);
  cr_expect_str_eq(infer("{\"model\":\"gpt-4o\",\"max_tokens\":10,"
                         "\"messages\":[]}",
                         openai_err),
                   CHAT, "max_tokens and messages alone are OpenAI's too");
  cr_expect_str_eq(infer("{\"model\":\"gpt-4o\",\"input\":\"hi\"}", openai_err),
                   RESPONSES);
  cr_expect_str_eq(infer("{\"model\":\"text-embedding-3-small\",\"input\":"
                         "\"hi\"}",
                         openai_err),
                   EMBEDDINGS);
  cr_expect_str_eq(infer("{\"model\":\"x\",\"prompt\":\"hi\"}", openai_err),
                   COMPLETIONS);
  cr_expect_str_eq(infer("", ""), CHAT);
  cr_expect_str_eq(infer(NULL, NULL), CHAT);
}

static char *block(const char *text, int status) {
  size_t n = 0;
  char *b = parse_headers_block(text, strlen(text), status, &n);
  if (b)
    cr_expect_eq(strlen(b), n);
  return b;
}

Test(parse_headers, lines_become_a_crlf_block) {
  char *b = block("HTTP/1.1 200 OK\nContent-Type: text/event-stream\r\n"
                  "x-request-id: abc \n\n",
                  200);
  cr_assert_not_null(b);
  cr_expect_str_eq(b, "HTTP/1.1 200\r\nContent-Type: text/event-stream\r\n"
                      "x-request-id: abc\r\n\r\n");
  free(b);
}

Test(parse_headers, a_json_object_works_too) {
  char *b = block("{\"content-type\":\"application/json\",\"set-cookie\":"
                  "[\"a=1\",\"b=2\"],\"content-length\":42,\"x\":null}",
                  429);
  cr_assert_not_null(b);
  cr_expect_str_eq(b, "HTTP/1.1 429\r\ncontent-type: application/json\r\n"
                      "set-cookie: a=1\r\nset-cookie: b=2\r\n"
                      "content-length: 42\r\n\r\n");
  free(b);
}

Test(parse_headers, other_text_is_refused) {
  cr_expect_null(block("this is not a header file\n", 200));
  cr_expect_null(block("{\"broken\": ", 200));
  cr_expect_null(block("[1,2]", 200));
  cr_expect_null(block(": no name\n", 200));
  char *b = block("", 204);
  cr_assert_not_null(b, "an empty file means no headers");
  cr_expect_str_eq(b, "HTTP/1.1 204\r\n\r\n");
  free(b);
}
