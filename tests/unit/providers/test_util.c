/* json_util and usage: the small helpers every parser leans on. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "providers/json_util.h"
#include "providers/usage.h"

Test(json_util, salvage_top_level_string) {
  char out[64];
  const char *b = "{\"tools\":[{\"model\":\"inner\"}],\"meta\":{\"model\":"
                  "\"nested\"},\"note\":\"say \\\"model\\\": \\\"x\\\"\","
                  "\"model\":\"gpt-4o\",\"messages\":[{\"content\":\"cut";
  cr_assert(at_json_salvage_string(b, strlen(b), "model", out, sizeof out));
  cr_expect_str_eq(out, "gpt-4o");
  const char *cut = "{\"messages\":[],\"model\":\"gpt-4";
  cr_expect_not(at_json_salvage_string(cut, strlen(cut), "model", out, 64));
  const char *num = "{\"model\":42}";
  cr_expect_not(at_json_salvage_string(num, strlen(num), "model", out, 64));
  cr_expect_not(at_json_salvage_string("[\"model\"]", 9, "model", out, 64));
  const char *big = "{\"model\":\"0123456789\"}";
  cr_expect_not(at_json_salvage_string(big, strlen(big), "model", out, 8));
  cr_expect_not(at_json_salvage_string("", 0, "model", out, 64));
}

Test(json_util, base64_sizes) {
  cr_expect_eq(at_base64_decoded_size("", 0), 0);
  cr_expect_eq(at_base64_decoded_size("QQ==", 4), 1);
  cr_expect_eq(at_base64_decoded_size("QUI=", 4), 2);
  cr_expect_eq(at_base64_decoded_size("QUJD", 4), 3);
  cr_expect_eq(at_base64_decoded_size("QUJD\nREVG\r\n", 11), 6);
  cr_expect_eq(at_base64_decoded_size("QUJDRA", 6), 4); /* unpadded */
}

Test(json_util, utf8_clean_and_valid) {
  char out[16];
  cr_expect_eq(at_utf8_clean(out, sizeof out,
                             "a\xff"
                             "b",
                             3, 0),
               3);
  cr_expect_str_eq(out, "a?b");
  cr_expect_eq(at_utf8_clean(out, sizeof out, "x\ty\001z\n", 6, 1), 6);
  cr_expect_str_eq(out, "x\ty z\n");
  /* never splits a character: 5 bytes of room, "é" needs 2 at offset 4 */
  cr_expect_eq(at_utf8_clean(out, 6, "abcd\xc3\xa9", 6, 0), 4);
  cr_expect_str_eq(out, "abcd");
  /* overlong, surrogate, truncated sequences are not UTF-8 */
  cr_expect_not(at_utf8_valid("\xc0\xaf", 2));
  cr_expect_not(at_utf8_valid("\xed\xa0\x80", 3));
  cr_expect_not(at_utf8_valid("\xe2\x82", 2));
  cr_expect_not(at_utf8_valid("\xf4\x90\x80\x80", 4));
  cr_expect(at_utf8_valid("\xf0\x9f\x98\x80 plain ascii, long enough", 30));
  cr_expect(at_utf8_valid("", 0));
}

/* The validator skips ASCII in blocks; this reference goes byte by byte
 * through the well-formed sequences of Unicode's table 3-7. */
static int utf8_reference(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
      len = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
      return 0;
    if (n - i < len)
      return 0;
    for (size_t k = 1; k < len; k++)
      if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xBF))
        return 0;
    i += len;
  }
  return 1;
}

Test(json_util, utf8_valid_agrees_with_bytewise_reference) {
  /* Mostly ASCII with valid and broken sequences at every alignment of
   * the 16- and 8-byte blocks, at the end of the text and across it. */
  static const char *const pieces[] = {"a",
                                       "0123456789abcdef",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\xc0\xaf",
                                       "\xed\xa0\x80",
                                       "\xe2\x82",
                                       "\xf4\x90\x80\x80",
                                       "\x80",
                                       "\xff",
                                       " ",
                                       "\xc3"};
  unsigned seed = 7;
  unsigned char buf[96];
  int valid = 0, invalid = 0;
  for (int round = 0; round < 20000; round++) {
    size_t n = 0;
    while (n < 80) {
      seed = seed * 1103515245u + 12345u;
      unsigned r = (seed >> 16) % 100;
      /* broken pieces rarely, so that long valid texts occur too */
      size_t p = r < 55 ? 0 : r < 70 ? 1 : r < 94 ? 2 + r % 3 : 5 + r % 8;
      size_t k = strlen(pieces[p]);
      if (n + k > sizeof buf)
        break;
      memcpy(buf + n, pieces[p], k);
      n += k;
      if ((seed >> 8) % 7 == 0)
        break;
    }
    for (size_t cut = n > 3 ? n - 3 : 0; cut <= n; cut++) {
      int want = utf8_reference(buf, cut);
      cr_assert_eq(at_utf8_valid((const char *)buf, cut), want,
                   "round %d, %zu bytes", round, cut);
      want ? valid++ : invalid++;
    }
  }
  cr_expect_gt(valid, 1000);
  cr_expect_gt(invalid, 1000);
}

Test(json_util, counts_and_parse) {
  cJSON *v = cJSON_Parse("[5, 5.5, -1, 1e300, \"5\", 9007199254740992]");
  int64_t c;
  cr_expect(at_json_count(cJSON_GetArrayItem(v, 0), &c));
  cr_expect_eq(c, 5);
  cr_expect_not(at_json_count(cJSON_GetArrayItem(v, 1), &c));
  cr_expect_not(at_json_count(cJSON_GetArrayItem(v, 2), &c));
  cr_expect_not(at_json_count(cJSON_GetArrayItem(v, 3), &c));
  cr_expect_not(at_json_count(cJSON_GetArrayItem(v, 4), &c));
  cr_expect(at_json_count(cJSON_GetArrayItem(v, 5), &c));
  cJSON_Delete(v);
  cr_expect_null(at_json_parse("{} x", 4));
  cr_expect_null(at_json_parse("", 0));
  v = at_json_parse("{\"a\":1}\n\n", 9);
  cr_expect_not_null(v);
  cJSON_Delete(v);
}

Test(usage, buckets_and_clamping) {
  struct at_usage u = {0};
  cr_expect_null(at_usage_details_json(&u));
  cr_expect_null(at_usage_inclusive_json(&u));
  at_usage_set(&u, AT_U_INPUT, 100);
  at_usage_set(&u, AT_U_CACHE_READ, 150); /* nonsense: more than input */
  at_usage_set(&u, AT_U_OUTPUT, 10);
  at_usage_set(&u, AT_U_REASONING, 0);
  cJSON *d = at_usage_details_json(&u);
  cr_expect_eq(cJSON_GetObjectItem(d, "input")->valuedouble, 0);
  cr_expect_eq(cJSON_GetObjectItem(d, "input_cached_tokens")->valuedouble, 150);
  cr_expect_null(cJSON_GetObjectItem(d, "output_reasoning_tokens"));
  cr_expect_eq(cJSON_GetObjectItem(d, "total")->valuedouble, 160);
  cJSON *i = at_usage_inclusive_json(&u);
  cr_expect_eq(cJSON_GetObjectItem(i, "reasoning_output_tokens")->valuedouble,
               0); /* the provider said zero: kept */
  cr_expect_eq(cJSON_GetObjectItem(i, "total_tokens")->valuedouble, 110);
  cJSON_Delete(d);
  cJSON_Delete(i);
  /* output only (no input count): input bucket absent */
  struct at_usage o = {0};
  at_usage_set(&o, AT_U_OUTPUT, 7);
  d = at_usage_details_json(&o);
  cr_expect_null(cJSON_GetObjectItem(d, "input"));
  cr_expect_eq(cJSON_GetObjectItem(d, "total")->valuedouble, 7);
  cJSON_Delete(d);
  i = at_usage_inclusive_json(&o);
  cr_expect_null(cJSON_GetObjectItem(i, "total_tokens"));
  cJSON_Delete(i);
}
