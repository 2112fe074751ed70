/* usage: inclusive counts to the record's usage and usage_details. */
#include "usage.h"

#include "json_cs.h"

void at_usage_set(struct at_usage *u, unsigned field, int64_t v) {
  switch (field) {
  case AT_U_INPUT:
    u->input = v;
    break;
  case AT_U_OUTPUT:
    u->output = v;
    break;
  case AT_U_CACHE_READ:
    u->cache_read = v;
    break;
  case AT_U_CACHE_WRITE:
    u->cache_write = v;
    break;
  case AT_U_REASONING:
    u->reasoning = v;
    break;
  case AT_U_TOTAL:
    u->total = v;
    break;
  case AT_U_CACHE_WRITE_1H:
    u->cache_write_1h = v;
    break;
  case AT_U_INPUT_AUDIO:
    u->input_audio = v;
    break;
  case AT_U_OUTPUT_AUDIO:
    u->output_audio = v;
    break;
  default:
    return;
  }
  u->has |= field;
}

int at_usage_any(const struct at_usage *u) {
  return u->has != 0;
}

/* key: a literal (json_cs.h). */
static void add_count(cJSON *o, const char *key, int64_t v) {
  at_cs_num(o, key, (double)v);
}

cJSON *at_usage_inclusive_json(const struct at_usage *u) {
  if (!u->has)
    return NULL;
  cJSON *o = at_node_object();
  if (!o)
    return NULL;
  if (u->has & AT_U_INPUT)
    add_count(o, "input_tokens", u->input);
  if (u->has & AT_U_OUTPUT)
    add_count(o, "output_tokens", u->output);
  if (u->has & AT_U_CACHE_READ)
    add_count(o, "cache_read_input_tokens", u->cache_read);
  if (u->has & AT_U_CACHE_WRITE)
    add_count(o, "cache_write_input_tokens", u->cache_write);
  if (u->has & AT_U_REASONING)
    add_count(o, "reasoning_output_tokens", u->reasoning);
  if (u->has & AT_U_CACHE_WRITE_1H)
    add_count(o, "cache_write_1h_input_tokens", u->cache_write_1h);
  if (u->has & AT_U_INPUT_AUDIO)
    add_count(o, "input_audio_tokens", u->input_audio);
  if (u->has & AT_U_OUTPUT_AUDIO)
    add_count(o, "output_audio_tokens", u->output_audio);
  if (u->has & AT_U_TOTAL)
    add_count(o, "total_tokens", u->total);
  else if ((u->has & AT_U_INPUT) && (u->has & AT_U_OUTPUT))
    add_count(o, "total_tokens", u->input + u->output);
  return o;
}

/* a - b, never below zero: a provider that reports more cached tokens than
 * input tokens must not produce a negative bucket. */
static int64_t minus(int64_t a, int64_t b) {
  return a > b ? a - b : 0;
}

cJSON *at_usage_details_json(const struct at_usage *u) {
  if (!(u->has & (AT_U_INPUT | AT_U_OUTPUT)))
    return NULL;
  cJSON *o = at_node_object();
  if (!o)
    return NULL;
  int64_t total = 0;
  if (u->has & AT_U_INPUT) {
    int64_t cr = (u->has & AT_U_CACHE_READ) ? u->cache_read : 0;
    int64_t cw = (u->has & AT_U_CACHE_WRITE) ? u->cache_write : 0;
    int64_t cw1h = (u->has & AT_U_CACHE_WRITE_1H) ? u->cache_write_1h : 0;
    int64_t au = (u->has & AT_U_INPUT_AUDIO) ? u->input_audio : 0;
    if (cw1h > cw)
      cw1h = cw; /* part of the writes, never more */
    int64_t in = minus(minus(minus(u->input, cr), cw), au);
    add_count(o, "input", in);
    total += in;
    if (cr) {
      add_count(o, "input_cached_tokens", cr);
      total += cr;
    }
    if (cw - cw1h) {
      add_count(o, "input_cache_creation", cw - cw1h);
      total += cw - cw1h;
    }
    if (cw1h) {
      add_count(o, "input_cache_creation_1h", cw1h);
      total += cw1h;
    }
    if (au) {
      add_count(o, "input_audio_tokens", au);
      total += au;
    }
  }
  if (u->has & AT_U_OUTPUT) {
    int64_t rs = (u->has & AT_U_REASONING) ? u->reasoning : 0;
    int64_t au = (u->has & AT_U_OUTPUT_AUDIO) ? u->output_audio : 0;
    int64_t out = minus(minus(u->output, rs), au);
    add_count(o, "output", out);
    total += out;
    if (rs) {
      add_count(o, "output_reasoning_tokens", rs);
      total += rs;
    }
    if (au) {
      add_count(o, "output_audio_tokens", au);
      total += au;
    }
  }
  add_count(o, "total", total);
  return o;
}
