/* json_read and json_write: the fast paths between JSON text and cJSON
 * trees must give what cJSON itself gives. */
#include <criterion/criterion.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/dynbuf.h"
#include "providers/json_read.h"
#include "providers/json_write.h"

/* Parse with both parsers: same acceptance, equal trees, and our printer
 * prints exactly what cJSON prints. */
static void same_as_cjson(const char *text) {
  size_t len = strlen(text);
  const char *end_ours = NULL, *end_theirs = NULL;
  cJSON *ours = at_json_read(text, len, &end_ours);
  cJSON *theirs = cJSON_ParseWithLengthOpts(text, len, &end_theirs, 0);
  cr_assert_eq(ours != NULL, theirs != NULL, "acceptance differs on %s", text);
  if (!theirs)
    return;
  /* cJSON_Compare looks members up by name, which duplicate keys defeat:
   * compare what cJSON prints of each tree instead. */
  char *want = cJSON_PrintUnformatted(theirs);
  char *mine = cJSON_PrintUnformatted(ours);
  cr_expect_str_eq(mine, want, "trees differ on %s", text);
  cJSON_free(mine);
  struct dynbuf b;
  dynbuf_init(&b, 1 << 20);
  cr_assert_eq(at_json_write(&b, ours), 0);
  cr_expect_str_eq(b.ptr, want);
  cr_expect_eq(strlen(b.ptr), b.len);
  dynbuf_free(&b);
  cJSON_free(want);
  cJSON_Delete(ours);
  cJSON_Delete(theirs);
}

Test(json_text, values_like_cjson) {
  const char *cases[] = {
      "{}",
      "[]",
      " \t\r\n{ \"a\" : [ 1 , 2 , { } , [ ] ] } ",
      "{\"a\":\"b\",\"a\":\"dup kept in order\"}",
      "\"just a string\"",
      "0",
      "-0",
      "123456789012345",
      "1234567890123456789",
      "-42.5e-3",
      "1E400",
      "0.1",
      "0.30000000000000004",
      "1e15",
      "999999999999999",
      "-999999999999999",
      "1e16",
      "2147483648",
      "[1e-7,1e300,-1.5e-300,5e-324]",
      "3.141592653589793",
      "[true,false,null]",
      "{\"esc\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t\"}",
      "\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
      "\"raw \xc3\xa9 utf-8\"",
      "\"ctl \x01 byte\"",
      "\"ends in backslash pair \\\\\"",
      "\"\\\\\\\"\"",
      "{\"n\":2147483647,\"m\":2147483648,\"k\":-2147483649}",
      "\xEF\xBB\xBF{\"bom\":1}",
      "[1,2",
      "{\"a\" 1}",
      "{\"a\":1,}",
      "[1 2]",
      "\"unterminated",
      "\"bad \\x escape\"",
      "\"short \\u12\"",
      "tru",
      "nul",
      "",
      "-",
      "[-]",
      "{\"a\":01}",
      "[1.5.5]",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    same_as_cjson(cases[i]);
}

Test(json_text, end_points_past_the_value) {
  const char *t = "{\"a\":1}  trailing";
  const char *end = NULL;
  cJSON *v = at_json_read(t, strlen(t), &end);
  cr_assert_not_null(v);
  cr_expect_eq(end, t + 7);
  cJSON_Delete(v);
}

Test(json_text, lone_surrogates_become_replacement_chars) {
  const char *t = "[\"a\\ud800b\",\"\\udc00\"]";
  cJSON *v = at_json_read(t, strlen(t), NULL);
  cr_assert_not_null(v);
  cr_expect_str_eq(cJSON_GetArrayItem(v, 0)->valuestring, "a\xEF\xBF\xBD"
                                                          "b");
  cr_expect_str_eq(cJSON_GetArrayItem(v, 1)->valuestring, "\xEF\xBF\xBD");
  cJSON_Delete(v);
}

Test(json_text, nesting_limit_is_cjsons) {
  static char deep[2 * 1001 + 1];
  memset(deep, '[', 1000);
  memset(deep + 1000, ']', 1000);
  deep[2000] = '\0';
  cJSON *v = at_json_read(deep, 2000, NULL);
  cr_expect_not_null(v);
  cJSON_Delete(v);
  memset(deep, '[', 1001);
  memset(deep + 1001, ']', 1001);
  deep[2002] = '\0';
  cr_expect_null(at_json_read(deep, 2002, NULL));
}

Test(json_text, long_strings_and_escapes_round_trip) {
  size_t n = 100000;
  char *s = malloc(n + 1);
  cr_assert_not_null(s);
  for (size_t i = 0; i < n; i++)
    s[i] = "ab\"c\\d\ne\x1f f\xc3\xa9"[i % 14];
  s[n] = '\0';
  cJSON *str = cJSON_CreateString(s);
  char *text = cJSON_PrintUnformatted(str);
  struct dynbuf b;
  dynbuf_init(&b, 1 << 24);
  cr_assert_eq(at_json_write(&b, str), 0);
  cr_expect_str_eq(b.ptr, text);
  cJSON *back = at_json_read(b.ptr, b.len, NULL);
  cr_assert_not_null(back);
  cr_expect_str_eq(back->valuestring, s);
  dynbuf_free(&b);
  cJSON_free(text);
  cJSON_Delete(back);
  cJSON_Delete(str);
  free(s);
}

Test(json_text, writer_reports_the_cap) {
  cJSON *v = cJSON_CreateString("0123456789abcdef0123456789");
  struct dynbuf b;
  dynbuf_init(&b, 10);
  cr_expect_eq(at_json_write(&b, v), -1);
  cr_expect(b.truncated);
  dynbuf_free(&b);
  cJSON_Delete(v);
}

/* A locale whose decimal point is ',' must not leak into JSON. */
Test(json_text, decimal_comma_locale) {
  if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") &&
      !setlocale(LC_NUMERIC, "fr_FR.UTF-8") &&
      !setlocale(LC_NUMERIC, "C.UTF-8"))
    cr_skip_test("no locale to switch to");
  const char *t = "[0.25,1e-7]";
  cJSON *v = at_json_read(t, strlen(t), NULL);
  cr_assert_not_null(v);
  cr_expect_float_eq(cJSON_GetArrayItem(v, 0)->valuedouble, 0.25, 1e-12);
  struct dynbuf b;
  dynbuf_init(&b, 1024);
  cr_assert_eq(at_json_write(&b, v), 0);
  cr_expect_str_eq(b.ptr, "[0.25,1e-07]");
  dynbuf_free(&b);
  cJSON_Delete(v);
  setlocale(LC_NUMERIC, "C");
}

/* Numbers as cJSON prints them, many of them: the writer prints short
 * decimals (0.7, 0.00039, 1.5e-10) without stdio, and must agree with
 * cJSON's %1.15g / %1.17g on every double, short decimal or not. */
static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void number_like_cjson(double d, struct dynbuf *b) {
  cJSON *v = cJSON_CreateNumber(d);
  char *want = cJSON_PrintUnformatted(v);
  b->len = 0;
  cr_assert_eq(at_json_write(b, v), 0);
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  cr_assert_str_eq(b->ptr, want, "%.17g (bits %016llx)", d,
                   (unsigned long long)bits);
  cJSON_free(want);
  cJSON_Delete(v);
}

Test(json_text, numbers_like_cjson) {
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const double fixed[] = {0.1,
                          0.2,
                          0.7,
                          0.95,
                          1e-7,
                          -0.5,
                          12.25,
                          0.00039,
                          0.000246,
                          0.001908,
                          1e-5,
                          1.5e-10,
                          0.0001,
                          0.00001,
                          123456789.125,
                          99999999999999.9,
                          0.3,
                          1.1,
                          2.675,
                          1e-22,
                          9.999999999999999e-5,
                          5e-324,
                          1e-300,
                          1.7976931348623157e308,
                          0.1 + 0.2};
  struct dynbuf b;
  dynbuf_init(&b, 1024);
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
    number_like_cjson(fixed[i], &b);
    number_like_cjson(-fixed[i], &b);
    number_like_cjson(nextafter(fixed[i], 0), &b);
    number_like_cjson(nextafter(fixed[i], 1e300), &b);
  }
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 100000; i++) {
    /* m / 10^k with up to 17 digits, its neighbours, and random bits */
    uint64_t m = rng_next(&s) % (uint64_t)pow10[1 + rng_next(&s) % 17];
    int k = (int)(rng_next(&s) % 23);
    double d = (double)m / pow10[k];
    number_like_cjson(d, &b);
    number_like_cjson(-d, &b);
    number_like_cjson(nextafter(d, 1e300), &b);
    uint64_t bits = rng_next(&s);
    double r;
    memcpy(&r, &bits, sizeof r);
    if (!isnan(r) && !isinf(r))
      number_like_cjson(r, &b);
  }
  dynbuf_free(&b);
}

/* Keys and values short enough for the writer's one-step path (under 16
 * bytes), at every alignment and ending right before an unmapped page:
 * the printed text must be cJSON's, and no byte past a page may be read
 * (the guard page would fault). Built without ASan this exercises the
 * SSE2 path; with ASan, the byte loop that replaces it. */
Test(json_text, short_strings_at_page_ends) {
  long pg = sysconf(_SC_PAGESIZE);
  char *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(map, MAP_FAILED);
  cr_assert_eq(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
  static const char pool[] = "ab\"\\\n\t\x01\x1f\x7f\xc3\xa9 zZ09/";
  unsigned seed = 99;
  for (int round = 0; round < 4000; round++) {
    seed = seed * 1103515245u + 12345u;
    size_t n = (seed >> 16) % 20; /* 0..19: both sides of 16 */
    /* at the page end, or somewhere in the middle */
    char *s = (round & 1) ? map + pg - n - 1 : map + 100 + (round % 37);
    for (size_t i = 0; i < n; i++) {
      seed = seed * 1103515245u + 12345u;
      s[i] = pool[(seed >> 16) % (sizeof pool - 1)];
    }
    s[n] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON *v = cJSON_CreateString(s);
    cr_assert_not_null(v);
    /* the key is read in place (CS: not copied) */
    cJSON_AddItemToObjectCS(o, s, v);
    char *want = cJSON_PrintUnformatted(o);
    for (size_t room = 0; room < 40; room += 13) {
      struct dynbuf b;
      dynbuf_init(&b, 1 << 20);
      /* vary how much room the buffer has left, around the writer's
       * threshold for writing in place */
      cr_assert_eq(dynbuf_reserve(&b, room + 1), 0);
      cr_assert_eq(at_json_write(&b, o), 0);
      cr_assert_str_eq(b.ptr, want, "string of %zu bytes", n);
      dynbuf_free(&b);
    }
    cJSON_free(want);
    cJSON_Delete(o);
  }
  munmap(map, (size_t)pg * 2);
}
