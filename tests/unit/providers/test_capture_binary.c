/* AUTOTRACE_CAPTURE_BINARY: binary parts keep their bytes (base64) only
 * when asked; otherwise type, mime and size. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "providers/providers.h"

static cJSON *parse_with(const struct at_exchange *ex, int capture_binary) {
  struct at_parse_opts opts = {0};
  opts.capture_binary = capture_binary;
  const char *skip = NULL;
  cJSON *r = at_parse_exchange(ex, NULL, &opts, &skip);
  cr_assert_not_null(r, "no record (%s)", skip ? skip : "oom");
  return r;
}

/* "hello!!" is aGVsbG8hIQ== */
static const char *const OPENAI_REQ =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"text\",\"text\":\"What is in these?\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"data:image/png;base64,aGVs\\nbG8h\\r\\nIQ==\"}},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"data:image/svg+xml,%3Csvg%2F%3E\"}},"
    "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"UklGRg==\","
    "\"format\":\"wav\"}},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"https://img.example.org/cat.png\"}}]}]}";

static const char *const OPENAI_RESP =
    "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
    "\"content\":\"Pictures.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":90,\"completion_tokens\":2,"
    "\"total_tokens\":92,\"prompt_tokens_details\":{\"cached_tokens\":0,"
    "\"audio_tokens\":40},\"completion_tokens_details\":{"
    "\"reasoning_tokens\":0,\"audio_tokens\":0}}}";

Test(capture_binary, openai_parts_both_modes) {
  struct at_exchange ex =
      fx_exchange("https://api.openai.com/v1/chat/completions", OPENAI_REQ,
                  OPENAI_RESP, 200, NULL);
  cJSON *r = parse_with(&ex, 0);
  const cJSON *p = jget(r, "input.0.parts");
  cr_assert_eq(jsize(p, ""), 5);
  cr_expect_str_eq(jstr(p, "1.type"), "blob");
  cr_expect_str_eq(jstr(p, "1.mime_type"), "image/png");
  cr_expect_eq(jnum(p, "1.size"), 7);
  cr_expect_null(jget(p, "1.content"));
  cr_expect_eq(jnum(p, "2.size"), 6);
  cr_expect_null(jget(p, "2.content"));
  cr_expect_str_eq(jstr(p, "3.modality"), "audio");
  cr_expect_null(jget(p, "3.content"));
  cr_expect_str_eq(jstr(p, "4.type"), "uri");
  cJSON_Delete(r);

  r = parse_with(&ex, 1);
  p = jget(r, "input.0.parts");
  cr_expect_str_eq(jstr(p, "1.content"), "aGVsbG8hIQ=="); /* no whitespace */
  cr_expect_eq(jnum(p, "1.size"), 7);
  /* a percent-encoded data: URL: its bytes, base64-encoded ("<svg/>") */
  cr_expect_str_eq(jstr(p, "2.content"), "PHN2Zy8+");
  cr_expect_str_eq(jstr(p, "3.content"), "UklGRg==");
  cr_expect_str_eq(jstr(p, "3.mime_type"), "audio/wav");
  cr_expect_null(jget(p, "4.content")); /* a URL stays a URL */
  cr_expect_str_eq(jstr(p, "0.content"), "What is in these?");
  /* audio input is its own usage bucket */
  cr_expect_eq(jnum(r, "usage.input_audio_tokens"), 40);
  cr_expect_null(jget(r, "usage.output_audio_tokens"));
  cr_expect_eq(jnum(r, "usage_details.input"), 50);
  cr_expect_eq(jnum(r, "usage_details.input_audio_tokens"), 40);
  cr_expect_eq(jnum(r, "usage_details.total"), 92);
  /* gpt-4o-mini has no audio price: named, not priced as text */
  cr_expect_str_eq(jstr(r, "metadata.cost_unpriced"), "input_audio_tokens");
  cr_expect_null(jget(r, "cost_details.input_audio_tokens"));
  cJSON_Delete(r);
}

Test(capture_binary, anthropic_and_responses_parts) {
  struct at_exchange ex = fx_exchange(
      "https://api.anthropic.com/v1/messages",
      "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":10,\"messages\":[{"
      "\"role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{"
      "\"type\":\"base64\",\"media_type\":\"image/jpeg\",\"data\":\"/9j/4A==\""
      "}},{\"type\":\"document\",\"source\":{\"type\":\"base64\","
      "\"media_type\":\"application/pdf\",\"data\":\"JVBERi0=\"}}]}]}",
      "{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":"
      "[{\"type\":\"text\",\"text\":\"A photo.\"}],\"stop_reason\":"
      "\"end_turn\",\"usage\":{\"input_tokens\":30,\"output_tokens\":3}}",
      200, NULL);
  cJSON *r = parse_with(&ex, 1);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.type"), "blob");
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "/9j/4A==");
  cr_expect_eq(jnum(r, "input.0.parts.0.size"), 4);
  cr_expect_str_eq(jstr(r, "input.0.parts.1.content"), "JVBERi0=");
  cJSON_Delete(r);
  r = parse_with(&ex, 0);
  cr_expect_null(jget(r, "input.0.parts.0.content"));
  cr_expect_null(jget(r, "input.0.parts.1.content"));
  cJSON_Delete(r);

  ex = fx_exchange(
      "https://api.openai.com/v1/responses",
      "{\"model\":\"gpt-4.1\",\"input\":[{\"role\":\"user\",\"content\":[{"
      "\"type\":\"input_image\",\"image_url\":\"data:image/gif;base64,R0lG\"}"
      "]}]}",
      "{\"id\":\"resp_1\",\"object\":\"response\",\"model\":\"gpt-4.1\","
      "\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":5,"
      "\"output_tokens\":0,\"total_tokens\":5}}",
      200, NULL);
  r = parse_with(&ex, 1);
  cr_expect_str_eq(jstr(r, "input.0.parts.0.content"), "R0lG");
  cJSON_Delete(r);
  r = parse_with(&ex, 0);
  cr_expect_null(jget(r, "input.0.parts.0.content"));
  cr_expect_eq(jnum(r, "input.0.parts.0.size"), 3);
  cJSON_Delete(r);
}

Test(capture_binary, metadata_only_still_wins) {
  struct at_exchange ex =
      fx_exchange("https://api.openai.com/v1/chat/completions", OPENAI_REQ,
                  OPENAI_RESP, 200, NULL);
  struct at_parse_opts opts = {0};
  opts.capture_metadata_only = 1;
  opts.capture_binary = 1;
  cJSON *r = at_parse_exchange(&ex, NULL, &opts, NULL);
  cr_assert_not_null(r);
  cr_expect_null(jget(r, "input"));
  cr_expect_null(jget(r, "output"));
  cr_expect_eq(jnum(r, "usage.input_tokens"), 90);
  cJSON_Delete(r);
}
