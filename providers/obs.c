/* obs: the observation under construction (see obs.h). */
#include "obs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_cs.h"
#include "json_util.h"

#define STATUS_TEXT_MAX 500

int at_obs_init(struct at_obs *o, const struct at_exchange *ex) {
  memset(o, 0, sizeof(*o));
  o->ex = ex;
  o->params = at_node_object();
  o->meta = at_node_object();
  if (!o->params || !o->meta) {
    o->oom = 1;
    return -1;
  }
  return 0;
}

void at_obs_free(struct at_obs *o) {
  free(o->request_model);
  free(o->response_model);
  free(o->response_id);
  cJSON_Delete(o->params);
  cJSON_Delete(o->input);
  cJSON_Delete(o->output);
  cJSON_Delete(o->finish_reasons);
  cJSON_Delete(o->meta);
  memset(o, 0, sizeof(*o));
}

void at_obs_raise(struct at_obs *o, int level, const char *msg, size_t len) {
  if (level < o->level)
    return;
  if (level == o->level && o->status[0])
    return; /* the first reason at a level stays */
  o->level = level;
  if (!msg)
    return;
  size_t cap = sizeof(o->status);
  if (cap > STATUS_TEXT_MAX + 1)
    cap = STATUS_TEXT_MAX + 1;
  at_utf8_clean(o->status, cap, msg, len, 1);
}

void at_obs_parse_error(struct at_obs *o, const char *fmt, ...) {
  char buf[320];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  /* Field names in messages come from the input: keep them printable. */
  char clean[sizeof buf];
  at_utf8_clean(clean, sizeof clean, buf, strlen(buf), 1);
  if (!cJSON_GetObjectItemCaseSensitive(o->meta, "parse_error"))
    cJSON_AddStringToObject(o->meta, "parse_error", clean);
  at_obs_raise(o, AT_LEVEL_WARNING, clean, strlen(clean));
}

void at_obs_set(struct at_obs *o, char **slot, const char *s) {
  free(*slot);
  *slot = NULL;
  if (s) {
    *slot = strdup(s);
    if (!*slot)
      o->oom = 1;
  }
}

/* at_json_get, comparing first bytes before whole names: the parsers
 * look up every parameter they know (some twenty-five for a chat) in a
 * request that has a handful, and a strcmp per member was most of it. */
static const cJSON *member(const cJSON *obj, const char *key) {
  if (!cJSON_IsObject(obj))
    return NULL;
  for (const cJSON *c = obj->child; c && c->string; c = c->next)
    if (c->string[0] == key[0] && strcmp(c->string, key) == 0)
      return cJSON_IsNull(c) ? NULL : c;
  return NULL; /* cJSON's lookup too stops at a member without a name */
}

static const cJSON *typed(struct at_obs *o, const cJSON *obj, const char *key,
                          const char *where, int (*is)(const cJSON *),
                          const char *tname) {
  const cJSON *v = member(obj, key);
  if (!v)
    return NULL;
  if (is(v))
    return v;
  at_obs_parse_error(o, "%s.%s is not %s", where, key, tname);
  return NULL;
}

static int is_string(const cJSON *v) {
  return cJSON_IsString(v) != 0;
}
static int is_array(const cJSON *v) {
  return cJSON_IsArray(v) != 0;
}
static int is_object(const cJSON *v) {
  return cJSON_IsObject(v) != 0;
}

const char *at_obs_str(struct at_obs *o, const cJSON *obj, const char *key,
                       const char *where) {
  const cJSON *v = typed(o, obj, key, where, is_string, "a string");
  return v ? v->valuestring : NULL;
}

const cJSON *at_obs_arr(struct at_obs *o, const cJSON *obj, const char *key,
                        const char *where) {
  return typed(o, obj, key, where, is_array, "an array");
}

const cJSON *at_obs_objv(struct at_obs *o, const cJSON *obj, const char *key,
                         const char *where) {
  return typed(o, obj, key, where, is_object, "an object");
}

int at_obs_count(struct at_obs *o, const cJSON *obj, const char *key,
                 const char *where, int64_t *out) {
  const cJSON *v = at_json_get(obj, key);
  if (!v)
    return 0;
  if (at_json_count(v, out))
    return 1;
  at_obs_parse_error(o, "%s.%s is not a token count", where, key);
  return 0;
}

void at_obs_usage(struct at_obs *o, const cJSON *obj, const char *key,
                  const char *where, unsigned field) {
  int64_t v;
  if (at_obs_count(o, obj, key, where, &v))
    at_usage_set(&o->usage, field, v);
}

void at_obs_param(struct at_obs *o, const cJSON *req, const char *key) {
  const cJSON *v = member(req, key);
  if (v && !at_cs_add(o->params, key, cJSON_Duplicate(v, 1)))
    o->oom = 1;
}

void at_obs_meta_str(struct at_obs *o, const char *key, const char *s) {
  if (!s || !s[0])
    return; /* unknown stays absent, never "" */
  cJSON_DeleteItemFromObjectCaseSensitive(o->meta, key);
  if (!cJSON_AddStringToObject(o->meta, key, s))
    o->oom = 1;
}

void at_obs_finish_reason(struct at_obs *o, const char *reason) {
  if (!o->finish_reasons)
    o->finish_reasons = at_node_array();
  if (!o->finish_reasons || !reason) {
    o->oom |= !o->finish_reasons;
    return;
  }
  cJSON *s = at_node_string(reason);
  if (!s) {
    o->oom = 1;
    return;
  }
  cJSON_AddItemToArray(o->finish_reasons, s);
}

int64_t at_obs_time_at(const struct at_exchange *ex, size_t offset) {
  size_t n = ex->nmarks < AT_MAX_CHUNK_MARKS ? ex->nmarks : AT_MAX_CHUNK_MARKS;
  for (size_t i = 0; i < n; i++)
    if (ex->marks[i].offset >= offset && ex->marks[i].t_ns > 0)
      return ex->marks[i].t_ns;
  /* Without marks the first byte is the best lower bound we have; past
   * the last mark, the event arrived by the end of the transfer. */
  if (n == 0 && ex->t_first_byte_ns > 0)
    return ex->t_first_byte_ns;
  return ex->t_end_ns;
}

void at_obs_first_output(struct at_obs *o, size_t offset) {
  if (o->completion_start_ns == 0)
    o->completion_start_ns = at_obs_time_at(o->ex, offset);
}

void at_obs_finish(struct at_obs *o, cJSON *msg, const char *reason) {
  if (!reason)
    return;
  if (msg && !at_cs_str(msg, "finish_reason", reason))
    o->oom = 1;
  at_obs_finish_reason(o, reason);
}

void at_obs_each_message(struct at_obs *o, const cJSON *req,
                         at_message_fn each) {
  const cJSON *msgs = at_obs_arr(o, req, "messages", "request");
  if (!msgs) {
    if (!at_json_get(req, "messages"))
      at_obs_parse_error(o, "request has no messages");
    return;
  }
  if (!o->input && !(o->input = at_node_array())) {
    o->oom = 1;
    return;
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, msgs) each(o, m);
}

const char *at_obs_message_role(struct at_obs *o, const cJSON *m,
                                const char *where) {
  if (!cJSON_IsObject(m)) {
    at_obs_parse_error(o, "%s is not an object", where);
    return NULL;
  }
  const char *role = at_obs_str(o, m, "role", where);
  if (!role) {
    at_obs_parse_error(o, "%s has no role", where);
    role = "user";
  }
  return role;
}
