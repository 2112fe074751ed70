#include <criterion/criterion.h>
#include <string.h>

#include "cli/record.h"
#include "helpers.h"

Test(record, wrong_types_read_as_absent) {
  cJSON *r = th_json("{\"name\":5,\"start_ns\":\"12x\",\"end_ns\":\"-3\","
                     "\"usage\":{\"input_tokens\":\"9\",\"output_tokens\":"
                     "-1,\"total_tokens\":2.5},\"level\":\"\",\"metadata\":"
                     "[1],\"incomplete\":\"yes\"}");
  int64_t ns;
  uint64_t u;
  cr_expect_null(rec_str(r, "name"));
  cr_expect_null(rec_str(r, "level"), "empty strings are unknown");
  cr_expect_eq(rec_ns(r, "start_ns", &ns), -1);
  cr_expect_eq(rec_ns(r, "end_ns", &ns), -1);
  cr_expect_null(rec_obj(r, "metadata"));
  cr_expect_eq(rec_bool(r, "incomplete"), -1);
  const cJSON *usage = rec_obj(r, "usage");
  cr_expect_eq(rec_u64(usage, "input_tokens", &u), -1);
  cr_expect_eq(rec_u64(usage, "output_tokens", &u), -1);
  cr_expect_eq(rec_u64(usage, "total_tokens", &u), -1);
  struct rec_tokens t;
  rec_tokens(r, &t);
  cr_expect_eq(t.input, -1);
  cr_expect_eq(t.output, -1);
  cr_expect_eq(t.total, -1);
  cr_expect_eq(rec_u64(NULL, "x", &u), -1, "a missing object is fine too");
  cJSON_Delete(r);
}

Test(record, times_are_decimal_strings_of_ns) {
  cJSON *r = th_json("{\"start_ns\":\"1763705992123456789\",\"end_ns\":1e9}");
  int64_t ns = 0;
  cr_expect_eq(rec_ns(r, "start_ns", &ns), 0);
  cr_expect_eq(ns, 1763705992123456789LL, "no precision lost");
  cr_expect_eq(rec_ns(r, "end_ns", &ns), 0, "a number is tolerated");
  cr_expect_eq(ns, 1000000000LL);
  cJSON_Delete(r);
}

Test(record, validity_needs_both_ids) {
  cJSON *ok = th_json("{\"id\":\"6f1c2a9d0b3e4f51\",\"trace_id\":"
                      "\"0af7651916cd43dd8448eb211c80319c\"}");
  cJSON *short_id = th_json("{\"id\":\"6f1c\",\"trace_id\":"
                            "\"0af7651916cd43dd8448eb211c80319c\"}");
  cJSON *zero = th_json("{\"id\":\"6f1c2a9d0b3e4f51\",\"trace_id\":"
                        "\"00000000000000000000000000000000\"}");
  cJSON *arr = th_json("[1,2]");
  cr_expect(rec_valid(ok));
  cr_expect_not(rec_valid(short_id));
  cr_expect_not(rec_valid(zero));
  cr_expect_not(rec_valid(arr));
  cr_expect_not(rec_valid(NULL));
  cJSON_Delete(ok);
  cJSON_Delete(short_id);
  cJSON_Delete(zero);
  cJSON_Delete(arr);
}

Test(record, tokens_fall_back_to_the_sum) {
  cJSON *r = th_json("{\"usage\":{\"input_tokens\":9,\"output_tokens\":3}}");
  struct rec_tokens t;
  rec_tokens(r, &t);
  cr_expect_eq(t.input, 9);
  cr_expect_eq(t.output, 3);
  cr_expect_eq(t.total, 12);
  cJSON_Delete(r);
  r = th_json("{\"usage\":{\"input_tokens\":8}}");
  rec_tokens(r, &t);
  cr_expect_eq(t.total, 8, "embeddings report input only");
  cJSON_Delete(r);
}

Test(record, cost_and_model) {
  cJSON *r = th_json("{\"cost_details\":{\"total\":0.5},\"request_model\":"
                     "\"a\",\"response_model\":\"b\"}");
  double usd = 0;
  cr_expect_eq(rec_cost(r, &usd), 0);
  cr_expect_float_eq(usd, 0.5, 1e-12);
  cr_expect_str_eq(rec_model(r), "b", "the model that answered wins");
  cJSON_Delete(r);
  r = th_json("{\"cost_details\":{\"input\":0.5},\"request_model\":\"a\"}");
  cr_expect_eq(rec_cost(r, &usd), -1, "no total, no cost");
  cr_expect_str_eq(rec_model(r), "a");
  cJSON_Delete(r);
}

Test(record, preview_is_the_first_line_of_text) {
  cJSON *r = th_json(
      "{\"output\":[{\"role\":\"assistant\",\"parts\":["
      "{\"type\":\"reasoning\",\"content\":\"thinking\"},"
      "{\"type\":\"text\",\"content\":\"\\n  Hello\\u001b[31m there!\\nmore\"},"
      "{\"type\":\"tool_call\",\"name\":\"f\",\"arguments\":{}}]}]}");
  char buf[256];
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "Hello [31m there!",
                   "leading blanks skipped, escape made harmless");
  cJSON_Delete(r);
}

Test(record, preview_falls_back_to_the_first_tool_call) {
  cJSON *r = th_json("{\"output\":[{\"role\":\"assistant\",\"parts\":["
                     "{\"type\":\"tool_call\",\"id\":\"c1\",\"name\":"
                     "\"get_weather\",\"arguments\":{\"city\":\"Paris\"}},"
                     "{\"type\":\"tool_call\",\"name\":\"second\"}]}]}");
  char buf[256];
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "\xe2\x86\x92 get_weather({\"city\":\"Paris\"})");
  cJSON_Delete(r);
  r = th_json("{\"output\":[{\"parts\":[{\"type\":\"tool_call\",\"name\":"
              "\"g\",\"arguments\":\"{not json\"}]}]}");
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "\xe2\x86\x92 g({not json)",
                   "unparsed arguments stay a string");
  cJSON_Delete(r);
  r = th_json("{\"output\":\"oops\"}");
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "", "a wrongly typed output shows nothing");
  cJSON_Delete(r);
}

Test(record, preview_of_a_tool_is_its_result) {
  cJSON *r = th_json("{\"type\":\"tool\",\"input\":{\"city\":\"Paris\"},"
                     "\"output\":\"18C\\nand rain\"}");
  char buf[256];
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "18C");
  cJSON_Delete(r);
}

Test(record, preview_never_cuts_a_character) {
  cJSON *r = th_json("{\"output\":[{\"parts\":[{\"type\":\"text\","
                     "\"content\":\"ab\xc3\xa9\xc3\xa9\"}]}]}");
  char buf[4]; /* room for "ab" and half an é */
  rec_preview(r, buf, sizeof buf);
  cr_expect_str_eq(buf, "ab");
  char buf2[5];
  rec_preview(r, buf2, sizeof buf2);
  cr_expect_str_eq(buf2, "ab\xc3\xa9");
  cJSON_Delete(r);
}
