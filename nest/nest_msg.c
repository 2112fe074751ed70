#include "nest_msg.h"

#include <stdio.h>
#include <string.h>

/* splitmix64's finaliser: spreads every input bit over the output. */
static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

/* Thirty-two bytes per step in four independent multiply-xorshift
 * chains (eight bytes each), folded together at the end, then
 * splitmix64's finaliser: message texts run to many kilobytes and are
 * hashed for every request, so a byte-at-a-time hash (FNV) cost more than
 * parsing them, and one chain still spent most of its time waiting on its
 * own multiplies. Only equality within one process matters: the values
 * are never stored. */
static uint64_t lane(uint64_t h, uint64_t w) {
  h = (h ^ w) * 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

static uint64_t bytes_hash(const char *s, size_t n, uint64_t seed) {
  uint64_t h0 = 0x243f6a8885a308d3ull ^ seed, h1 = 0x13198a2e03707344ull,
           h2 = 0xa4093822299f31d0ull, h3 = 0x082efa98ec4e6c89ull;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    uint64_t w[4];
    memcpy(w, s + i, 32);
    h0 = lane(h0, w[0]);
    h1 = lane(h1, w[1]);
    h2 = lane(h2, w[2]);
    h3 = lane(h3, w[3]);
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h0 = lane(h0, w);
  }
  if (i < n) {
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h0 = lane(h0, w);
  }
  uint64_t h = lane(lane(lane(h0, h1), h2), h3);
  return mix(h ^ n);
}

uint64_t nest_str_hash(const char *s) {
  return bytes_hash(s ? s : "", s ? strlen(s) : 0, 0x5354);
}

/* Ordered combination. */
static uint64_t seq(uint64_t h, uint64_t x) {
  return mix(h * 0x9e3779b97f4a7c15ull + x);
}

/* Text with leading and trailing blanks cut. */
static uint64_t trimmed_hash(const char *s, uint64_t seed) {
  if (!s)
    return bytes_hash("", 0, seed);
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                   s[n - 1] == '\r'))
    n--;
  return bytes_hash(s, n, seed);
}

uint64_t nest_json_hash(const cJSON *v) {
  if (!v)
    return 0x11;
  if (cJSON_IsString(v))
    return trimmed_hash(v->valuestring, 0x22);
  if (cJSON_IsNumber(v)) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
    return bytes_hash(buf, strlen(buf), 0x33);
  }
  if (cJSON_IsTrue(v))
    return 0x44;
  if (cJSON_IsFalse(v))
    return 0x55;
  if (cJSON_IsNull(v))
    return 0x66;
  if (cJSON_IsArray(v)) {
    uint64_t h = 0x77;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) h = seq(h, nest_json_hash(e));
    return h;
  }
  if (cJSON_IsObject(v)) {
    /* A sum of per-member hashes: the same whatever the key order. */
    uint64_t h = 0x88;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
      h += mix(nest_str_hash(e->string) ^ (nest_json_hash(e) * 31));
    }
    return mix(h);
  }
  return 0x99;
}

static const char *str_of(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int blank(const char *s) {
  if (!s)
    return 1;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
      return 0;
  return 1;
}

/* A tool result's content: text parts are joined, so that "18C" and
 * [{"type":"text","content":"18C"}] (the same result sent as a string, then
 * as blocks) hash the same. */
static uint64_t response_hash(const cJSON *r) {
  if (cJSON_IsArray(r)) {
    uint64_t h = 0x1234;
    int all_text = cJSON_GetArraySize(r) > 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, r) {
      const char *t = str_of(p, "type");
      if (!t || strcmp(t, "text") != 0)
        all_text = 0;
    }
    if (all_text) {
      cJSON_ArrayForEach(p, r) {
        const char *c = str_of(p, "content");
        if (!blank(c))
          h = seq(h, trimmed_hash(c, 0x22));
      }
      return h;
    }
    if (cJSON_GetArraySize(r) == 1 && cJSON_IsString(cJSON_GetArrayItem(r, 0)))
      return seq(0x1234,
                 trimmed_hash(cJSON_GetArrayItem(r, 0)->valuestring, 0x22));
  }
  if (cJSON_IsString(r)) {
    if (blank(r->valuestring))
      return 0x1234;
    return seq(0x1234, trimmed_hash(r->valuestring, 0x22));
  }
  return nest_json_hash(r);
}

static uint64_t part_hash(const cJSON *p, int *skip) {
  *skip = 0;
  const char *type = str_of(p, "type");
  if (!type)
    return nest_json_hash(p);
  if (strcmp(type, "text") == 0) {
    const char *c = str_of(p, "content");
    if (blank(c)) {
      *skip = 1;
      return 0;
    }
    return trimmed_hash(c, 0x7478);
  }
  if (strcmp(type, "reasoning") == 0) {
    *skip = 1;
    return 0;
  }
  if (strcmp(type, "tool_call") == 0) {
    uint64_t h = 0x6361;
    h = seq(h, nest_str_hash(str_of(p, "id")));
    h = seq(h, nest_str_hash(str_of(p, "name")));
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(p, "arguments");
    /* Arguments that are not valid JSON stay strings; "" and {} both mean
     * "no arguments". */
    if (!args || (cJSON_IsString(args) && blank(args->valuestring)) ||
        (cJSON_IsObject(args) && !args->child))
      return seq(h, 0x7b7d);
    return seq(h, nest_json_hash(args));
  }
  if (strcmp(type, "tool_call_response") == 0) {
    uint64_t h = 0x7273;
    const char *id = str_of(p, "id");
    h = seq(h, nest_str_hash(id ? id : str_of(p, "name")));
    return seq(h,
               response_hash(cJSON_GetObjectItemCaseSensitive(p, "response")));
  }
  return nest_json_hash(p);
}

const char *nest_msg_role(const cJSON *msg) {
  const char *r = str_of(msg, "role");
  return r ? r : "";
}

uint64_t nest_msg_hash(const cJSON *msg) {
  const char *role = nest_msg_role(msg);
  if (strcmp(role, "developer") == 0)
    role = "system";
  if (strcmp(role, "model") == 0)
    role = "assistant";
  uint64_t h = seq(0x6d7367, nest_str_hash(role));
  const cJSON *parts = cJSON_GetObjectItemCaseSensitive(msg, "parts");
  const cJSON *p;
  cJSON_ArrayForEach(p, parts) {
    int skip;
    uint64_t ph = part_hash(p, &skip);
    if (!skip)
      h = seq(h, ph);
  }
  return h;
}

uint64_t nest_prefix_next(uint64_t h, uint64_t msg_hash) {
  return seq(h ^ 0x70726566ull, msg_hash);
}

int nest_msg_is_tool_result(const cJSON *msg) {
  if (strcmp(nest_msg_role(msg), "tool") == 0)
    return 1;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(msg, "parts")) {
    const char *t = str_of(p, "type");
    if (t && strcmp(t, "tool_call_response") == 0)
      return 1;
  }
  return 0;
}

int nest_msg_is_user_text(const cJSON *msg) {
  if (strcmp(nest_msg_role(msg), "user") != 0 || nest_msg_is_tool_result(msg))
    return 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(msg, "parts")) {
    const char *t = str_of(p, "type");
    if (t && strcmp(t, "text") == 0 && !blank(str_of(p, "content")))
      return 1;
    if (t && strcmp(t, "text") != 0 && strcmp(t, "reasoning") != 0)
      return 1; /* an image or a file is a question too */
  }
  return 0;
}

int nest_msg_is_assistant(const cJSON *msg) {
  const char *r = nest_msg_role(msg);
  return strcmp(r, "assistant") == 0 || strcmp(r, "model") == 0;
}
