/* `autotrace parse` end to end, on bodies written here (not recorded ones):
 * what the command adds around the parsers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/ids.h"
#include "helpers.h"

static char *dir;

static char *write_file(const char *name, const char *text) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  sprintf(p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
  return p;
}

static const char chat_req[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"Say hi\"}],\"temperature\":0.5}";
static const char chat_resp[] =
    "{\"id\":\"chatcmpl-test1\",\"object\":\"chat.completion\","
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\"},"
    "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":9,"
    "\"completion_tokens\":2,\"total_tokens\":11}}";
static const char chat_sse[] =
    "data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\","
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-s\",\"object\":\"chat.completion.chunk\","
    "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{"
    "\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static void setup(void) {
  dir = th_tmpdir();
}

static void teardown(void) {
  free(dir);
}

TestSuite(parse_cmd, .init = setup, .fini = teardown);

static int parse(char **out, char **err, const char *a1, const char *a2,
                 const char *a3, const char *a4, const char *a5,
                 const char *a6) {
  char *argv[] = {"parse",    (char *)a1, (char *)a2, (char *)a3,
                  (char *)a4, (char *)a5, (char *)a6, NULL};
  int argc = 1;
  while (argv[argc])
    argc++;
  return th_capture(cmd_parse, argc, argv, out, err);
}

Test(parse_cmd, jsonl_record_gets_ids) {
  char *rq = write_file("req.json", chat_req);
  char *rs = write_file("resp.json", chat_resp);
  char *out, *err;
  int rc =
      parse(&out, &err, "--request", rq, "--response", rs, "--format", "jsonl");
  cr_assert_eq(rc, 0, "%s", err);
  cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line");
  cJSON *r = th_json(out);
  const char *id = cJSON_GetObjectItem(r, "id")->valuestring;
  const char *tid = cJSON_GetObjectItem(r, "trace_id")->valuestring;
  cr_expect(at_valid_hex_id(id, 16));
  cr_expect(at_valid_hex_id(tid, 32));
  cr_expect_eq(cJSON_GetObjectItem(r, "v")->valueint, 1);
  cr_expect_str_eq(cJSON_GetObjectItem(r, "kind")->valuestring, "observation");
  cr_expect_str_eq(cJSON_GetObjectItem(r, "response_model")->valuestring,
                   "gpt-4o-mini-2024-07-18",
                   "the URL was guessed: OpenAI chat");
  cJSON_Delete(r);
  free(out);
  free(err);
  free(rq);
  free(rs);
}

Test(parse_cmd, pretty_is_indented_with_spaces) {
  char *rq = write_file("req.json", chat_req);
  char *rs = write_file("resp.json", chat_resp);
  char *out;
  cr_assert_eq(parse(&out, NULL, "--request", rq, "--response", rs, NULL, NULL),
               0);
  cr_expect(strchr(out, '\t') == NULL, "no tabs");
  cr_expect(strstr(out, "{\n  \"") == out, "two-space indent: %.40s", out);
  cJSON *r = th_json(out);
  cJSON_Delete(r);
  free(out);
  free(rq);
  free(rs);
}

Test(parse_cmd, otlp_is_a_request_with_one_span) {
  char *rq = write_file("req.json", chat_req);
  char *rs = write_file("resp.json", chat_resp);
  char *out;
  cr_assert_eq(
      parse(&out, NULL, "--request", rq, "--response", rs, "--format", "otlp"),
      0);
  cJSON *j = th_json(out);
  cJSON *rss = cJSON_GetObjectItem(j, "resourceSpans");
  cJSON *spans = cJSON_GetObjectItem(
      cJSON_GetArrayItem(
          cJSON_GetObjectItem(cJSON_GetArrayItem(rss, 0), "scopeSpans"), 0),
      "spans");
  cr_expect_eq(cJSON_GetArraySize(spans), 1);
  cr_expect(strstr(out, "\"gen_ai.response.id\",\"value\":{\"stringValue\":"
                        "\"chatcmpl-test1\"}") != NULL,
            "%s", out);
  cJSON_Delete(j);
  free(out);
  free(rq);
  free(rs);
}

Test(parse_cmd, a_stream_without_headers_is_recognised) {
  char *rq = write_file("req.json", "{\"model\":\"gpt-4o-mini\",\"stream\":"
                                    "true,\"messages\":[]}");
  char *rs = write_file("resp.sse", chat_sse);
  char *out, *err;
  cr_assert_eq(
      parse(&out, &err, "--request", rq, "--response", rs, "--format", "jsonl"),
      0, "%s", err);
  cr_expect(strstr(out, "\"content\":\"Hello\"") != NULL,
            "the deltas were joined, so the body was read as a stream: %s",
            out);
  free(out);
  free(err);
  /* A headers file without a content type gets the same guess. */
  char *h = write_file("h.json", "{\"x-request-id\":\"abc\"}");
  cr_assert_eq(
      parse(&out, NULL, "--request", rq, "--response", rs, "--headers", h), 0);
  cr_expect(strstr(out, "\"content\": \"Hello\"") != NULL, "%s", out);
  free(out);
  free(h);
  free(rq);
  free(rs);
}

Test(parse_cmd, url_and_status_are_used) {
  char *rq = write_file("req.json", chat_req);
  char *rs = write_file("err.json", "{\"error\":{\"message\":\"Rate limit "
                                    "reached\",\"type\":\"requests\"}}");
  char *h = write_file("h.txt", "HTTP/2 429\ncontent-type: application/json\n"
                                "retry-after: 20\n");
  char *out, *err;
  char *argv[] = {"parse",
                  "--request",
                  rq,
                  "--response",
                  rs,
                  "--url",
                  "https://api.groq.com/openai/v1/"
                  "chat/completions",
                  "--status",
                  "429",
                  "--headers",
                  h,
                  "--format",
                  "jsonl",
                  NULL};
  int rc = th_capture(cmd_parse, 13, argv, &out, &err);
  cr_assert_eq(rc, 0, "%s", err);
  cJSON *r = th_json(out);
  cr_expect_str_eq(cJSON_GetObjectItem(r, "level")->valuestring, "ERROR");
  cr_expect(strstr(cJSON_GetObjectItem(r, "status_message")->valuestring,
                   "Rate limit reached") != NULL);
  cr_expect_str_eq(cJSON_GetObjectItem(r, "provider")->valuestring, "groq");
  cr_expect_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(r, "http"), "status")->valueint,
      429);
  cJSON_Delete(r);
  free(out);
  free(err);
  free(rq);
  free(rs);
  free(h);
}

Test(parse_cmd, bad_input_is_explained) {
  char *rq = write_file("req.json", chat_req);
  char *out, *err;
  cr_expect_eq(parse(&out, &err, "--request", rq, "--response",
                     "/nonexistent/resp.json", NULL, NULL),
               1);
  cr_expect_str_eq(out, "");
  cr_expect(strstr(err, "cannot read the response /nonexistent/resp.json: "
                        "No such file or directory") != NULL,
            "%s", err);
  free(out);
  free(err);
  char *notes = write_file("notes.txt", "these are not headers\n");
  cr_expect_eq(
      parse(NULL, &err, "--request", rq, "--response", rq, "--headers", notes),
      1);
  cr_expect(strstr(err, "neither") != NULL, "%s", err);
  free(err);
  cr_expect_eq(parse(NULL, &err, "--request", rq, "--response", rq, "--url",
                     "https://example.com/search"),
               1);
  cr_expect(strstr(err, "is not an endpoint autotrace parses") != NULL, "%s",
            err);
  free(err);
  cr_expect_eq(parse(NULL, NULL, "--request", rq, NULL, NULL, NULL, NULL), 2);
  cr_expect_eq(
      parse(NULL, NULL, "--request", rq, "--response", rq, "--format", "xml"),
      2);
  cr_expect_eq(
      parse(NULL, NULL, "--request", rq, "--response", rq, "--status", "abc"),
      2);
  free(notes);
  free(rq);
}
