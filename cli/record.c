#include "record.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

const char *rec_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v) || !v->valuestring || !v->valuestring[0])
    return NULL;
  return v->valuestring;
}

const cJSON *rec_obj(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *rec_arr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsArray(v) ? v : NULL;
}

int rec_ns(const cJSON *o, const char *key, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsString(v) && v->valuestring) {
    const char *s = v->valuestring;
    if (*s < '0' || *s > '9')
      return -1;
    errno = 0;
    char *end;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x <= 0)
      return -1;
    *out = (int64_t)x;
    return 0;
  }
  if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 9.2e18) {
    *out = (int64_t)v->valuedouble;
    return 0;
  }
  return -1;
}

int rec_u64(const cJSON *o, const char *key, uint64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v))
    return -1;
  double d = v->valuedouble;
  if (!(d >= 0) || d > 9.007199254740992e15 || floor(d) != d)
    return -1;
  *out = (uint64_t)d;
  return 0;
}

int rec_num(const cJSON *o, const char *key, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return -1;
  *out = v->valuedouble;
  return 0;
}

int rec_bool(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsBool(v))
    return -1;
  return cJSON_IsTrue(v) ? 1 : 0;
}

int rec_valid(const cJSON *rec) {
  if (!cJSON_IsObject(rec))
    return 0;
  const char *id = rec_str(rec, "id");
  const char *tid = rec_str(rec, "trace_id");
  return id && tid && at_valid_hex_id(id, 16) && at_valid_hex_id(tid, 32);
}

int rec_is_llm(const cJSON *rec) {
  const char *t = rec_str(rec, "type");
  return t && (strcmp(t, "generation") == 0 || strcmp(t, "embedding") == 0);
}

const char *rec_model(const cJSON *rec) {
  const char *m = rec_str(rec, "response_model");
  return m ? m : rec_str(rec, "request_model");
}

void rec_tokens(const cJSON *rec, struct rec_tokens *t) {
  t->input = t->output = t->total = -1;
  const cJSON *u = rec_obj(rec, "usage");
  if (!u)
    return;
  uint64_t v;
  if (rec_u64(u, "input_tokens", &v) == 0)
    t->input = (int64_t)v;
  if (rec_u64(u, "output_tokens", &v) == 0)
    t->output = (int64_t)v;
  if (rec_u64(u, "total_tokens", &v) == 0)
    t->total = (int64_t)v;
  else if (t->input >= 0 && t->output >= 0)
    t->total = t->input + t->output;
  else if (t->input >= 0)
    t->total = t->input; /* embeddings report input only */
}

int rec_cost(const cJSON *rec, double *usd) {
  const cJSON *c = rec_obj(rec, "cost_details");
  double v;
  if (!c || rec_num(c, "total", &v) != 0 || v < 0)
    return -1;
  *usd = v;
  return 0;
}

/* Copy the first line of s into buf, turning control characters (which
 * could drive the terminal) into spaces and skipping leading blanks. */
static void first_line(const char *s, char *buf, size_t len) {
  size_t o = 0;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  for (; *s && *s != '\n' && *s != '\r' && o + 1 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f) {
      buf[o++] = ' ';
    } else if (c == 0xc2 && (unsigned char)s[1] >= 0x80 &&
               (unsigned char)s[1] <= 0x9f) {
      buf[o++] = ' '; /* a C1 control, U+0080..U+009F */
      s++;
    } else {
      buf[o++] = (char)c;
    }
  }
  /* Do not leave half a UTF-8 sequence when the buffer ran out: find the
   * last lead byte and drop it if its sequence is not complete. */
  size_t lead = o;
  while (lead > 0 && ((unsigned char)buf[lead - 1] & 0xc0) == 0x80)
    lead--;
  if (lead > 0 && ((unsigned char)buf[lead - 1] & 0xc0) == 0xc0) {
    unsigned char c = (unsigned char)buf[lead - 1];
    size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    if (o - (lead - 1) < need)
      o = lead - 1;
  }
  buf[o] = '\0';
}

void rec_preview(const cJSON *rec, char *buf, size_t len) {
  if (len == 0)
    return;
  buf[0] = '\0';
  /* A tool's output is its result, as the program sent it back. */
  const cJSON *raw = cJSON_GetObjectItemCaseSensitive(rec, "output");
  const char *rtype = rec_str(rec, "type");
  if (rtype && strcmp(rtype, "tool") == 0 && cJSON_IsString(raw) &&
      raw->valuestring) {
    first_line(raw->valuestring, buf, len);
    return;
  }
  const cJSON *out = rec_arr(rec, "output");
  const cJSON *first_call = NULL;
  const cJSON *msg;
  cJSON_ArrayForEach(msg, out) {
    const cJSON *part;
    cJSON_ArrayForEach(part, rec_arr(msg, "parts")) {
      const char *type = rec_str(part, "type");
      if (!type)
        continue;
      const char *text = rec_str(part, "content");
      if (strcmp(type, "text") == 0 && text) {
        first_line(text, buf, len);
        if (buf[0])
          return;
      } else if (strcmp(type, "tool_call") == 0 && !first_call) {
        first_call = part;
      }
    }
  }
  if (!first_call)
    return;
  const char *name = rec_str(first_call, "name");
  const cJSON *args = cJSON_GetObjectItemCaseSensitive(first_call, "arguments");
  char *a = NULL;
  if (cJSON_IsString(args))
    a = strdup(args->valuestring ? args->valuestring : "");
  else if (args)
    a = cJSON_PrintUnformatted(args);
  char line[1024];
  snprintf(line, sizeof line, "\xe2\x86\x92 %s(%s)", name ? name : "?",
           a ? a : "");
  free(a);
  first_line(line, buf, len);
}
