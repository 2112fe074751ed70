/* jsontok: the tree-less tokenizer the stream parsers use. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "providers/jsontok.h"

static struct jt j;

static int parse(const char *s) {
  return jt_parse(&j, s, strlen(s));
}

static void teardown(void) {
  jt_free(&j);
}

TestSuite(jsontok, .fini = teardown);

Test(jsontok, accepts_what_json_allows) {
  const char *ok[] = {"{}",
                      "[]",
                      " {\"a\" : [1, -2.5e+3, 0.0, true, false, null]} ",
                      "\"just a string\"",
                      "0",
                      "-0",
                      "[[[[]]]]",
                      "{\"a\":{\"b\":{}},\"c\":[{}]}",
                      "\"\\u00e9\\ud83d\\ude00\\n\\\"\\\\\\/\\b\\f\\r\\t\"",
                      "\t\r\n[1]\n"};
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    cr_expect_eq(parse(ok[i]), 0, "%s", ok[i]);
    cJSON *c = cJSON_Parse(ok[i]);
    cr_expect_not_null(c, "cJSON disagrees on %s", ok[i]);
    cJSON_Delete(c);
  }
}

Test(jsontok, rejects_what_json_does_not) {
  const char *bad[] = {"",
                       " ",
                       "{",
                       "}",
                       "[1,]",
                       "{\"a\":1,}",
                       "{\"a\" 1}",
                       "{1:2}",
                       "[1 2]",
                       "01",
                       "1.",
                       ".5",
                       "-",
                       "1e",
                       "tru",
                       "nul",
                       "\"unterminated",
                       "\"bad \\x escape\"",
                       "\"\\u12g4\"",
                       "\"tab\there\"",
                       "{} {}",
                       "[1]]",
                       "{\"a\":1]",
                       "[\"a\":1]"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_expect_eq(parse(bad[i]), -1, "should reject: %s", bad[i]);
  /* nesting is capped */
  char deep[400];
  memset(deep, '[', 200);
  memset(deep + 200, ']', 200);
  cr_expect_eq(jt_parse(&j, deep, sizeof deep), -1);
  cr_expect_eq(jt_parse(&j, deep + 100, 200), 0); /* 100 levels is fine */
  cr_expect_eq(jt_parse(&j, NULL, 0), -1);
}

Test(jsontok, lookups) {
  cr_assert_eq(parse("{\"id\":\"c1\",\"n\":null,\"choices\":[{\"index\":1,"
                     "\"delta\":{\"content\":\"hi\"}},{\"index\":2},7],"
                     "\"tail\":true}"),
               0);
  cr_expect_eq(jt_type(&j, 0), JT_OBJECT);
  cr_expect(jt_eq(&j, JT_GET(&j, 0, "id"), "c1"));
  cr_expect_eq(JT_GET(&j, 0, "n"), -1); /* null is absent */
  cr_expect_eq(JT_GET(&j, 0, "missing"), -1);
  cr_expect_eq(jt_type(&j, JT_GET(&j, 0, "tail")), JT_TRUE);
  int ch = JT_GET(&j, 0, "choices");
  cr_assert_eq(jt_type(&j, ch), JT_ARRAY);
  int e0 = jt_first(&j, ch);
  int e1 = jt_after(&j, ch, e0);
  int e2 = jt_after(&j, ch, e1);
  cr_expect_eq(jt_after(&j, ch, e2), -1);
  int64_t v = 0;
  cr_expect(jt_count(&j, JT_GET(&j, e0, "index"), &v));
  cr_expect_eq(v, 1);
  cr_expect(jt_count(&j, JT_GET(&j, e1, "index"), &v));
  cr_expect_eq(v, 2);
  cr_expect_eq(jt_type(&j, e2), JT_NUMBER);
  cr_expect(jt_eq(&j, JT_GET(&j, JT_GET(&j, e0, "delta"), "content"), "hi"));
  /* lookups on the wrong kind of token just fail */
  cr_expect_eq(JT_GET(&j, ch, "x"), -1);
  cr_expect_eq(JT_GET(&j, -1, "x"), -1);
  cr_expect_eq(jt_first(&j, 0), -1);
  struct jt_key keys[] = {JT_KEY("tail"), JT_KEY("id"), JT_KEY("n"),
                          JT_KEY("nope")};
  int out[4];
  jt_pick(&j, 0, keys, 4, out);
  cr_expect_eq(out[0], JT_GET(&j, 0, "tail"));
  cr_expect_eq(out[1], JT_GET(&j, 0, "id"));
  cr_expect_eq(out[2], -1);
  cr_expect_eq(out[3], -1);
  cJSON *c = jt_cjson(&j, ch);
  cr_assert(cJSON_IsArray(c));
  cr_expect_eq(cJSON_GetArraySize(c), 3);
  cJSON_Delete(c);
}

Test(jsontok, string_decoding) {
  cr_assert_eq(parse("[\"plain\",\"a\\\"b\\\\c\\/d\\n\",\"\\u00e9\\u20ac\","
                     "\"\\ud83d\\ude00\",\"\\ud800x\",\"nul\\u0000!\","
                     "\"\\u0041\\u0062\",\"\"]"),
               0);
  const char *want[] = {"plain",
                        "a\"b\\c/d\n",
                        "\xc3\xa9\xe2\x82\xac",
                        "\xf0\x9f\x98\x80",
                        "\xef\xbf\xbdx",
                        "nul\xef\xbf\xbd!",
                        "Ab",
                        ""};
  int el = jt_first(&j, 0);
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    struct dynbuf b;
    dynbuf_init(&b, 1024);
    cr_expect_eq(jt_str(&j, el, &b), (long)strlen(want[i]));
    cr_expect_str_eq(b.ptr ? b.ptr : "", want[i], "element %zu", i);
    char small[64];
    cr_expect_str_eq(jt_strbuf(&j, el, small, sizeof small), want[i]);
    dynbuf_free(&b);
    el = jt_after(&j, 0, el);
  }
  /* does not fit: NULL, never a cut string */
  char tiny[4];
  cr_expect_null(jt_strbuf(&j, jt_first(&j, 0), tiny, sizeof tiny));
  struct dynbuf b;
  dynbuf_init(&b, 16);
  cr_expect_eq(jt_str(&j, 0, &b), -1); /* not a string */
  dynbuf_free(&b);
  /* an escaped key still matches */
  cr_assert_eq(parse("{\"k\\u0065y\":5}"), 0);
  int64_t v;
  cr_expect(jt_count(&j, JT_GET(&j, 0, "key"), &v));
  cr_expect_eq(v, 5);
}

Test(jsontok, counts) {
  cr_assert_eq(parse("[0,12,12.0,-0,9007199254740992,9007199254740993,-1,"
                     "1.5,1e3,12345678901234567,\"7\"]"),
               0);
  int64_t want[] = {0, 12, 12, 0, 9007199254740992LL};
  int el = jt_first(&j, 0);
  for (size_t i = 0; i < 5; i++) {
    int64_t v = -5;
    cr_expect(jt_count(&j, el, &v), "element %zu", i);
    cr_expect_eq(v, want[i], "element %zu", i);
    el = jt_after(&j, 0, el);
  }
  for (; el >= 0; el = jt_after(&j, 0, el)) {
    int64_t v;
    cr_expect_not(jt_count(&j, el, &v), "token at %u", j.t[el].start);
  }
}

/* The prefix memo: a jt that parses a run of similar texts must give, for
 * each, exactly the tokens (and verdict) a fresh jt gives; and the tokens
 * it does not call fresh (jt_fresh) must be those of the previous text it
 * read: same kind, and for scalars the same bytes. */
static char prev_text[65536];
static struct jt_tok prev_toks[8192];
static size_t prev_n;
static int have_prev;

static void check_fresh(const struct jt *memo, const char *s) {
  int nf = jt_fresh(memo);
  if (nf < 0 || !have_prev)
    return;
  for (size_t i = 0; i < memo->n; i++) {
    int fresh = 0;
    for (int f = 0; f < nf; f++)
      fresh |= i >= memo->fresh[f][0] && i < memo->fresh[f][1];
    if (fresh)
      continue;
    cr_assert_lt(i, prev_n, "token %zu is not fresh but new: %s", i, s);
    const struct jt_tok *a = &memo->t[i], *b = &prev_toks[i];
    cr_assert_eq(a->type, b->type, "token %zu changed kind: %s", i, s);
    if (a->type != JT_OBJECT && a->type != JT_ARRAY)
      cr_assert(
          a->end - a->start == b->end - b->start &&
              !memcmp(s + a->start, prev_text + b->start, a->end - a->start),
          "token %zu changed but is not fresh: %s", i, s);
  }
}

static void same_tokens(struct jt *memo, const char *s) {
  struct jt fresh;
  jt_init(&fresh);
  int want = jt_parse(&fresh, s, strlen(s));
  int got = jt_parse(memo, s, strlen(s));
  cr_assert_eq(got, want, "verdict differs on %s", s);
  if (want == 0) {
    cr_assert_eq(memo->n, fresh.n, "token count differs on %s", s);
    for (size_t i = 0; i < fresh.n; i++) {
      const struct jt_tok *a = &memo->t[i], *b = &fresh.t[i];
      cr_assert(a->start == b->start && a->end == b->end &&
                    a->next == b->next && a->type == b->type &&
                    a->escaped == b->escaped,
                "token %zu differs on %s", i, s);
    }
    check_fresh(memo, s);
    have_prev = strlen(s) < sizeof prev_text && memo->n <= 8192;
    if (have_prev) {
      strcpy(prev_text, s);
      memcpy(prev_toks, memo->t, memo->n * sizeof *memo->t);
      prev_n = memo->n;
    }
  } else {
    have_prev = 0;
  }
  jt_free(&fresh);
}

Test(jsontok, prefix_memo_gives_fresh_results) {
  const char *run[] = {
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
      "\"assistant\","
      "\"content\":\"\"},\"finish_reason\":null}]}",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}"
      ","
      "\"finish_reason\":null}]}",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
      "\"lo\\n\"},"
      "\"finish_reason\":null}]}",
      /* same prefix, then an empty container where a value was */
      "{\"id\":\"c1\",\"choices\":[]}",
      "{\"id\":\"c1\",\"choices\":[{}]}",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0}]}",
      /* a number that grows past the shared prefix */
      "{\"id\":\"c1\",\"n\":12,\"x\":1}",
      "{\"id\":\"c1\",\"n\":123,\"x\":1}",
      "{\"id\":\"c1\",\"n\":12}",
      /* broken after the prefix, then whole again */
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"}}]"
      "}",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"y\"}}]"
      "}",
      /* shorter than the prefix, and unrelated */
      "{\"id\"",
      "[1,2,3]",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"z\"}}]"
      "}",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"z\"}}]"
      "} x",
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"z\"}}]"
      "}",
      /* deeper than the checkpoint depth */
      "[[[[[[[[[[[1]]]]]]]]]]]",
      "[[[[[[[[[[[2]]]]]]]]]]]",
      "[[[[[[[[[[[2,{\"a\":[]}]]]]]]]]]]]",
  };
  struct jt memo;
  jt_init(&memo);
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof run / sizeof *run; i++)
      same_tokens(&memo, run[i]);
  jt_free(&memo);
}

/* Random texts made by splicing pieces of valid events: many share long
 * prefixes and many are broken just past them. */
Test(jsontok, prefix_memo_random_splices) {
  const char *pieces[] = {"{\"a\":", "[",        "]", "}",      "1",
                          "22",      "\"s\"",    ",", "\"k\":", "null",
                          "{",       "\"e\\n\"", " ", "true"};
  const size_t np = sizeof pieces / sizeof *pieces;
  struct jt memo;
  jt_init(&memo);
  unsigned seed = 12345;
  char text[256];
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = 0;
    seed = seed * 1103515245u + 12345u;
    int parts = 1 + (int)(seed >> 16) % 12;
    /* start from a fixed valid prefix half of the time */
    if (seed & 0x100) {
      strcpy(text, "{\"id\":\"x\",\"c\":[{\"d\":");
      len = strlen(text);
    }
    for (int p = 0; p < parts; p++) {
      seed = seed * 1103515245u + 12345u;
      const char *pc = pieces[(seed >> 16) % np];
      size_t pl = strlen(pc);
      if (len + pl >= sizeof text)
        break;
      memcpy(text + len, pc, pl);
      len += pl;
    }
    text[len] = '\0';
    same_tokens(&memo, text);
  }
  jt_free(&memo);
}

/* Runs: events of one stream share their structure and differ in a few
 * values, whose lengths move everything after them. A generator makes
 * valid JSON from two random streams, one for the structure (fixed per
 * family, or diverging from a random step on) and one for the values
 * (each value varying now and then), with whitespace here and there;
 * every text must tokenize exactly as a fresh jt does. */
struct gen {
  unsigned shape, vals;
  int step, diverge_at, vary;
  char *out;
  size_t n, cap;
};

static unsigned shape_rand(struct gen *g) {
  if (++g->step == g->diverge_at)
    g->shape ^= 0x5bd1e995u;
  g->shape = g->shape * 1103515245u + 12345u;
  return g->shape >> 16;
}

static unsigned val_rand(struct gen *g) {
  g->vals = g->vals * 22695477u + 1u;
  return g->vals >> 16;
}

static void emit(struct gen *g, const char *s) {
  size_t k = strlen(s);
  if (g->n + k < g->cap) {
    memcpy(g->out + g->n, s, k);
    g->n += k;
    g->out[g->n] = '\0';
  }
}

static void gap(struct gen *g) {
  if (val_rand(g) % 23 == 0)
    emit(g, val_rand(g) % 2 ? " " : "\n ");
}

static void gen_value(struct gen *g, int depth) {
  unsigned kind = shape_rand(g) % (depth >= 5 ? 4 : 7);
  /* a value's bytes: the family's, or (now and then) this text's own */
  unsigned v = shape_rand(g);
  if (g->vary && val_rand(g) % 5 == 0)
    v = val_rand(g);
  char buf[48];
  gap(g);
  switch (kind) {
  case 0:
    snprintf(buf, sizeof buf, "\"%.*s%s\"", (int)(v % 9), "abcdefghi",
             v % 7 == 0 ? "\\n" : "");
    emit(g, buf);
    break;
  case 1:
    snprintf(buf, sizeof buf, "%s%u%s", v % 5 == 0 ? "-" : "", v % 100000,
             v % 3 == 0 ? ".5" : "");
    emit(g, buf);
    break;
  case 2:
    emit(g, v % 3 == 0 ? "true" : v % 3 == 1 ? "false" : "null");
    break;
  case 3:
    snprintf(buf, sizeof buf, "%u", v % 10);
    emit(g, buf);
    break;
  case 4:
  case 5: {
    unsigned members = shape_rand(g) % 4;
    emit(g, "{");
    for (unsigned m = 0; m < members; m++) {
      snprintf(buf, sizeof buf, "%s\"k%u\":", m ? "," : "", shape_rand(g) % 7);
      gap(g);
      emit(g, buf);
      gen_value(g, depth + 1);
    }
    gap(g);
    emit(g, "}");
    break;
  }
  default: {
    unsigned els = shape_rand(g) % 4;
    emit(g, "[");
    for (unsigned e = 0; e < els; e++) {
      if (e)
        emit(g, ",");
      gen_value(g, depth + 1);
    }
    gap(g);
    emit(g, "]");
  }
  }
  gap(g);
}

/* jt_parse_value on a text with more after it: the memo parse gives what
 * a fresh one does, and the value it finds is exactly what jt_parse reads
 * from the bytes it took. */
static void same_value(struct jt *memo, const char *s) {
  struct jt fresh, whole;
  jt_init(&fresh);
  jt_init(&whole);
  size_t used_memo = 0, used_fresh = 0;
  int want = jt_parse_value(&fresh, s, strlen(s), &used_fresh);
  int got = jt_parse_value(memo, s, strlen(s), &used_memo);
  cr_assert_eq(got, want, "verdict differs on %s", s);
  if (want == 0) {
    cr_assert_eq(used_memo, used_fresh, "end differs on %s", s);
    cr_assert_eq(jt_parse(&whole, s, used_fresh), 0, "prefix not JSON: %s", s);
    cr_assert_eq(memo->n, whole.n, "token count differs on %s", s);
    for (size_t i = 0; i < whole.n; i++) {
      const struct jt_tok *a = &memo->t[i], *b = &whole.t[i];
      cr_assert(a->start == b->start && a->end == b->end &&
                    a->next == b->next && a->type == b->type &&
                    a->escaped == b->escaped,
                "token %zu differs on %s", i, s);
    }
  }
  jt_free(&fresh);
  jt_free(&whole);
}

Test(jsontok, values_that_end_where_the_next_byte_says) {
  /* a number alone ends at the first byte that is not part of it: the
   * memo must not take "21" from "2121" because the last value was 21 */
  static const char *const texts[] = {"21,2",  "2121]",   "21 ",    "21",
                                      "[21]x", "[2121]x", "\"21\"1"};
  struct jt memo;
  jt_init(&memo);
  for (int round = 0; round < 3; round++)
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
      same_value(&memo, texts[i]);
  jt_free(&memo);
}

Test(jsontok, runs_give_fresh_results) {
  static char text[65536];
  struct jt memo, values;
  jt_init(&memo);
  jt_init(&values);
  unsigned family_seed = 99, val_seed = 7;
  size_t checked = 0;
  for (int family = 0; family < 1500; family++) {
    family_seed = family_seed * 1103515245u + 12345u;
    for (int ev = 0; ev < 12; ev++) {
      val_seed = val_seed * 1103515245u + 12345u;
      struct gen g = {.shape = family_seed,
                      .vals = val_seed,
                      .vary = ev > 0,
                      .out = text,
                      .cap = sizeof text};
      /* a few texts whose structure departs from the family's midway */
      if (val_seed % 6 == 0)
        g.diverge_at = 1 + (int)((val_seed >> 8) % 40);
      text[0] = '\0';
      emit(&g, "{\"k0\":");
      gen_value(&g, 1);
      emit(&g, ",\"tail\":{\"a\":[1,{\"b\":\"c\"}],\"d\":null}}");
      same_tokens(&memo, text);
      checked++;
      /* the same text as one element of an array, more elements after */
      static const char *const after[] = {",{\"k0\":1}]", "]", " , [", "x", ""};
      size_t tl = strlen(text);
      snprintf(text + tl, sizeof text - tl, "%s", after[val_seed % 5]);
      same_value(&values, text);
      text[tl] = '\0';
      /* and now and then a copy cut short, or with a byte changed */
      if (val_seed % 11 == 0 && g.n > 2) {
        text[g.n - 1 - (val_seed >> 4) % 3] = (val_seed >> 9) % 2 ? ']' : ',';
        same_tokens(&memo, text);
      }
    }
  }
  cr_expect_gt(checked, 10000);
  jt_free(&memo);
  jt_free(&values);
}
