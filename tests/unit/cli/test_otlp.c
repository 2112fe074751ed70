#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli/otlp.h"
#include "helpers.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"

/* ---- the OTLP/HTTP JSON rules (otel.md §5, langfuse.md §4) ---- */

static int is_hex(const char *s, size_t n) {
  if (!s || strlen(s) != n)
    return 0;
  int nonzero = 0;
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return 0; /* lowercase only */
    nonzero |= s[i] != '0';
  }
  return nonzero;
}

static int is_decimal(const char *s) {
  if (!s || !*s)
    return 0;
  if (*s == '-')
    s++;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

static void check_any_value(const cJSON *v, const char *key);

static void check_kv_list(const cJSON *attrs, const char *where) {
  cr_assert(cJSON_IsArray(attrs), "%s: attributes must be a list", where);
  const cJSON *kv;
  cJSON_ArrayForEach(kv, attrs) {
    cr_assert(cJSON_IsObject(kv), "%s: a KeyValue is an object", where);
    cr_assert_eq(cJSON_GetArraySize(kv), 2, "%s: exactly key and value", where);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(kv, "key");
    cr_assert(cJSON_IsString(k) && k->valuestring[0], "%s: key", where);
    check_any_value(cJSON_GetObjectItemCaseSensitive(kv, "value"),
                    k->valuestring);
  }
}

static void check_any_value(const cJSON *v, const char *key) {
  cr_assert(cJSON_IsObject(v), "%s: value must be an AnyValue object", key);
  cr_assert_eq(cJSON_GetArraySize(v), 1, "%s: exactly one xValue", key);
  const cJSON *x = v->child;
  if (strcmp(x->string, "stringValue") == 0)
    cr_assert(cJSON_IsString(x), "%s", key);
  else if (strcmp(x->string, "intValue") == 0)
    cr_assert(cJSON_IsString(x) && is_decimal(x->valuestring),
              "%s: intValue is a decimal string", key);
  else if (strcmp(x->string, "doubleValue") == 0)
    cr_assert(cJSON_IsNumber(x), "%s", key);
  else if (strcmp(x->string, "boolValue") == 0)
    cr_assert(cJSON_IsBool(x), "%s", key);
  else if (strcmp(x->string, "arrayValue") == 0) {
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(x, "values");
    cr_assert(cJSON_IsArray(vals), "%s: arrayValue.values", key);
    const cJSON *e;
    cJSON_ArrayForEach(e, vals) check_any_value(e, key);
  } else
    cr_assert_fail("%s: unexpected %s", key, x->string);
}

/* Check the whole request; returns the number of spans. */
static size_t check_request(const cJSON *req) {
  cr_assert(cJSON_IsObject(req));
  const cJSON *rss = cJSON_GetObjectItemCaseSensitive(req, "resourceSpans");
  cr_assert(cJSON_IsArray(rss));
  size_t nspans = 0;
  const cJSON *rs;
  cJSON_ArrayForEach(rs, rss) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(rs, "resource");
    check_kv_list(cJSON_GetObjectItemCaseSensitive(res, "attributes"),
                  "resource");
    const cJSON *sss = cJSON_GetObjectItemCaseSensitive(rs, "scopeSpans");
    cr_assert(cJSON_IsArray(sss));
    const cJSON *ss;
    cJSON_ArrayForEach(ss, sss) {
      const cJSON *scope = cJSON_GetObjectItemCaseSensitive(ss, "scope");
      cr_assert(
          cJSON_IsString(cJSON_GetObjectItemCaseSensitive(scope, "name")));
      const cJSON *spans = cJSON_GetObjectItemCaseSensitive(ss, "spans");
      cr_assert(cJSON_IsArray(spans));
      const cJSON *sp;
      cJSON_ArrayForEach(sp, spans) {
        nspans++;
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(sp, "traceId");
        const cJSON *sid = cJSON_GetObjectItemCaseSensitive(sp, "spanId");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(sp, "parentSpanId");
        cr_assert(cJSON_IsString(tid) && is_hex(tid->valuestring, 32),
                  "traceId: 32 lowercase hex");
        cr_assert(cJSON_IsString(sid) && is_hex(sid->valuestring, 16),
                  "spanId: 16 lowercase hex");
        cr_assert(cJSON_IsString(pid) && (pid->valuestring[0] == '\0' ||
                                          is_hex(pid->valuestring, 16)),
                  "parentSpanId: empty or 16 hex");
        cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sp, "name")));
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(sp, "kind");
        cr_assert(cJSON_IsNumber(kind) &&
                      (kind->valueint == 1 || kind->valueint == 3),
                  "kind is an integer enum");
        const char *times[] = {"startTimeUnixNano", "endTimeUnixNano"};
        for (int i = 0; i < 2; i++) {
          const cJSON *t = cJSON_GetObjectItemCaseSensitive(sp, times[i]);
          cr_assert(cJSON_IsString(t) && is_decimal(t->valuestring),
                    "%s is a decimal string", times[i]);
        }
        check_kv_list(cJSON_GetObjectItemCaseSensitive(sp, "attributes"),
                      "span");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(sp, "status");
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(st, "code");
        cr_assert(cJSON_IsNumber(code) &&
                      (code->valueint == 0 || code->valueint == 2),
                  "status UNSET or ERROR, never OK");
      }
    }
  }
  return nspans;
}

/* The value of attribute key on span (a cJSON AnyValue), or NULL. */
static const cJSON *attr(const cJSON *span, const char *key) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, cJSON_GetObjectItemCaseSensitive(span, "attributes")) {
    if (strcmp(cJSON_GetObjectItem(kv, "key")->valuestring, key) == 0)
      return cJSON_GetObjectItem(kv, "value");
  }
  return NULL;
}

static const char *attr_str(const cJSON *span, const char *key) {
  const cJSON *v = attr(span, key);
  const cJSON *s = v ? cJSON_GetObjectItem(v, "stringValue") : NULL;
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

static const char *attr_int(const cJSON *span, const char *key) {
  const cJSON *v = attr(span, key);
  const cJSON *s = v ? cJSON_GetObjectItem(v, "intValue") : NULL;
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

static const cJSON *span_at(const cJSON *req, int rs, int i) {
  const cJSON *r =
      cJSON_GetArrayItem(cJSON_GetObjectItem(req, "resourceSpans"), rs);
  const cJSON *ss = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "scopeSpans"), 0);
  return cJSON_GetArrayItem(cJSON_GetObjectItem(ss, "spans"), i);
}

static const char generation[] =
    "{\"v\":1,\"kind\":\"observation\",\"id\":\"6F1C2A9D0B3E4F51\","
    "\"trace_id\":\"" T1 "\",\"parent_id\":\"b7ad6b7169203331\","
    "\"type\":\"generation\",\"name\":\"chat gpt-4o-mini\","
    "\"start_ns\":\"1763705992120000000\",\"end_ns\":\"1763705992480000000\","
    "\"completion_start_ns\":\"1763705992300000000\",\"level\":\"DEFAULT\","
    "\"provider\":\"openai\",\"operation\":\"chat\","
    "\"request_model\":\"gpt-4o-mini\","
    "\"response_model\":\"gpt-4o-mini-2024-07-18\","
    "\"response_id\":\"chatcmpl-42\","
    "\"model_parameters\":{\"temperature\":0.2,\"top_p\":1,\"stream\":true,"
    "\"max_completion_tokens\":100,\"stop\":\"END\",\"n\":2,\"seed\":7,"
    "\"top_k\":40,\"frequency_penalty\":0.5,\"presence_penalty\":-0.5},"
    "\"input\":[{\"role\":\"user\",\"parts\":[{\"type\":\"text\","
    "\"content\":\"Hi\"}]}],"
    "\"output\":[{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\","
    "\"content\":\"Hello!\"}],\"finish_reason\":\"stop\"}],"
    "\"finish_reasons\":[\"stop\",\"length\"],"
    "\"usage\":{\"input_tokens\":1000,\"output_tokens\":50,"
    "\"cache_read_input_tokens\":800,\"cache_write_input_tokens\":100,"
    "\"reasoning_output_tokens\":20,\"total_tokens\":1050},"
    "\"usage_details\":{\"input\":100,\"input_cached_tokens\":800,"
    "\"input_cache_creation\":100,\"output\":30,\"output_reasoning_tokens\":"
    "20,\"total\":1050},"
    "\"cost_details\":{\"input\":0.001,\"output\":0.002,\"total\":0.003},"
    "\"cost_source\":\"builtin:gpt-4o-mini\","
    "\"http\":{\"method\":\"POST\",\"url\":"
    "\"https://api.openai.com/v1/chat/completions\",\"status\":200,"
    "\"server_address\":\"api.openai.com\",\"server_port\":443},"
    "\"metadata\":{\"stream\":true,\"capture\":\"curl\",\"ratio\":0.5,"
    "\"argv\":[\"a\",\"b\"]},"
    "\"session_id\":\"s1\",\"user_id\":\"u1\",\"trace_name\":\"agent\","
    "\"tags\":[\"x\",\"y\"],"
    "\"process\":{\"pid\":4242,\"tid\":4242,\"exe\":\"/usr/bin/agent\"}}";

Test(otlp, a_generation_maps_to_gen_ai_and_langfuse_attributes) {
  cJSON *rec = th_json(generation);
  const cJSON *recs[] = {rec};
  struct otlp_opts o = {0};
  o.host_name = "box";
  cJSON *req = otlp_request_from_records(recs, 1, &o);
  cr_assert_eq(check_request(req), 1);
  const cJSON *sp = span_at(req, 0, 0);
  cr_expect_str_eq(cJSON_GetObjectItem(sp, "spanId")->valuestring,
                   "6f1c2a9d0b3e4f51", "ids are lowercased");
  cr_expect_str_eq(cJSON_GetObjectItem(sp, "parentSpanId")->valuestring,
                   "b7ad6b7169203331");
  cr_expect_eq(cJSON_GetObjectItem(sp, "kind")->valueint, 3, "CLIENT");
  cr_expect_str_eq(cJSON_GetObjectItem(sp, "startTimeUnixNano")->valuestring,
                   "1763705992120000000");
  cr_expect_str_eq(attr_str(sp, "gen_ai.operation.name"), "chat");
  cr_expect_str_eq(attr_str(sp, "gen_ai.provider.name"), "openai");
  cr_expect_str_eq(attr_str(sp, "gen_ai.request.model"), "gpt-4o-mini");
  cr_expect_str_eq(attr_str(sp, "gen_ai.response.model"),
                   "gpt-4o-mini-2024-07-18");
  cr_expect_str_eq(attr_str(sp, "gen_ai.response.id"), "chatcmpl-42");
  const cJSON *fr = attr(sp, "gen_ai.response.finish_reasons");
  const cJSON *vals =
      cJSON_GetObjectItem(cJSON_GetObjectItem(fr, "arrayValue"), "values");
  cr_assert_eq(cJSON_GetArraySize(vals), 2);
  cr_expect_str_eq(
      cJSON_GetObjectItem(cJSON_GetArrayItem(vals, 1), "stringValue")
          ->valuestring,
      "length");
  /* Usage: the provider's inclusive counts, both cache-write names. */
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.input_tokens"), "1000");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.output_tokens"), "50");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.cache_read.input_tokens"), "800");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.cache_creation.input_tokens"),
                   "100");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.cache_write.input_tokens"),
                   "100");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.reasoning.output_tokens"), "20");
  /* Request parameters, typed. */
  cr_expect_float_eq(
      cJSON_GetObjectItem(attr(sp, "gen_ai.request.temperature"), "doubleValue")
          ->valuedouble,
      0.2, 1e-12);
  cr_expect_not_null(
      cJSON_GetObjectItem(attr(sp, "gen_ai.request.top_p"), "doubleValue"),
      "top_p stays a double even when whole");
  cr_expect_str_eq(attr_int(sp, "gen_ai.request.max_tokens"), "100",
                   "max_completion_tokens is the same limit");
  cr_expect_str_eq(attr_int(sp, "gen_ai.request.seed"), "7");
  cr_expect_str_eq(attr_int(sp, "gen_ai.request.top_k"), "40");
  cr_expect_str_eq(attr_int(sp, "gen_ai.request.choice.count"), "2");
  cr_expect(cJSON_IsTrue(
      cJSON_GetObjectItem(attr(sp, "gen_ai.request.stream"), "boolValue")));
  cr_expect_not_null(attr(sp, "gen_ai.request.stop_sequences"),
                     "a single stop string becomes a one-element array");
  cr_expect_float_eq(
      cJSON_GetObjectItem(attr(sp, "gen_ai.response.time_to_first_chunk"),
                          "doubleValue")
          ->valuedouble,
      0.18, 1e-9);
  cr_expect_str_eq(attr_str(sp, "server.address"), "api.openai.com");
  cr_expect_str_eq(attr_int(sp, "server.port"), "443");
  cr_expect_str_eq(attr_int(sp, "http.response.status_code"), "200");
  cr_expect_null(attr(sp, "error.type"));
  /* Messages and Langfuse's own attributes are JSON strings. */
  cJSON *in = th_json(attr_str(sp, "gen_ai.input.messages"));
  cr_expect_str_eq(
      cJSON_GetObjectItem(cJSON_GetArrayItem(in, 0), "role")->valuestring,
      "user");
  cJSON_Delete(in);
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.input"),
                   attr_str(sp, "gen_ai.input.messages"));
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.output"),
                   attr_str(sp, "gen_ai.output.messages"));
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.type"), "generation");
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.model.name"),
                   "gpt-4o-mini-2024-07-18");
  cJSON *ud = th_json(attr_str(sp, "langfuse.observation.usage_details"));
  cr_expect_eq(cJSON_GetObjectItem(ud, "input")->valueint, 100,
               "usage_details carries the exclusive buckets");
  cJSON_Delete(ud);
  cJSON *cd = th_json(attr_str(sp, "langfuse.observation.cost_details"));
  cr_expect_float_eq(cJSON_GetObjectItem(cd, "total")->valuedouble, 0.003,
                     1e-12);
  cJSON_Delete(cd);
  cJSON *mp = th_json(attr_str(sp, "langfuse.observation.model.parameters"));
  cr_expect_eq(cJSON_GetObjectItem(mp, "seed")->valueint, 7);
  cJSON_Delete(mp);
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.completion_start_time"),
                   "2025-11-21T06:19:52.300000Z");
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.level"), "DEFAULT");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(
      attr(sp, "langfuse.observation.metadata.stream"), "boolValue")));
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.metadata.capture"),
                   "curl");
  cr_expect_not_null(cJSON_GetObjectItem(
      attr(sp, "langfuse.observation.metadata.ratio"), "doubleValue"));
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.metadata.argv"),
                   "[\"a\",\"b\"]");
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.metadata.cost_source"),
                   "builtin:gpt-4o-mini");
  cr_expect_str_eq(attr_str(sp, "session.id"), "s1");
  cr_expect_str_eq(attr_str(sp, "user.id"), "u1");
  cr_expect_str_eq(attr_str(sp, "langfuse.trace.name"), "agent");
  cr_expect_not_null(attr(sp, "langfuse.trace.tags"));
  cr_expect_eq(
      cJSON_GetObjectItem(cJSON_GetObjectItem(sp, "status"), "code")->valueint,
      0);
  /* The resource: the process, and who made the data. */
  const cJSON *res = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(req, "resourceSpans"), 0),
      "resource");
  cJSON *fake = cJSON_CreateObject();
  cJSON_AddItemReferenceToObject(fake, "attributes",
                                 cJSON_GetObjectItem(res, "attributes"));
  cr_expect_str_eq(attr_str(fake, "service.name"), "agent");
  cr_expect_str_eq(attr_int(fake, "process.pid"), "4242");
  cr_expect_str_eq(attr_str(fake, "process.executable.path"), "/usr/bin/agent");
  cr_expect_str_eq(attr_str(fake, "telemetry.sdk.name"), "autotrace");
  cr_expect_not_null(attr_str(fake, "telemetry.sdk.version"));
  cr_expect_str_eq(attr_str(fake, "host.name"), "box");
  cJSON_Delete(fake);
  cJSON_Delete(req);
  cJSON_Delete(rec);
}

Test(otlp, errors_set_status_and_error_type) {
  cJSON *r1 =
      th_json("{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
              "\"type\":\"generation\",\"start_ns\":\"10\",\"end_ns\":\"20\","
              "\"level\":\"ERROR\",\"status_message\":\"Rate limit reached\","
              "\"http\":{\"status\":429}}");
  cJSON *r2 =
      th_json("{\"id\":\"2222222222222222\",\"trace_id\":\"" T1 "\","
              "\"type\":\"generation\",\"start_ns\":\"10\",\"level\":\"ERROR\","
              "\"metadata\":{\"transport_error\":\"Operation timed out\"}}");
  const cJSON *recs[] = {r1, r2};
  cJSON *req = otlp_request_from_records(recs, 2, NULL);
  cr_assert_eq(check_request(req), 2);
  const cJSON *s1 = span_at(req, 0, 0), *s2 = span_at(req, 0, 1);
  const cJSON *st = cJSON_GetObjectItem(s1, "status");
  cr_expect_eq(cJSON_GetObjectItem(st, "code")->valueint, 2);
  cr_expect_str_eq(cJSON_GetObjectItem(st, "message")->valuestring,
                   "Rate limit reached");
  cr_expect_str_eq(attr_str(s1, "error.type"), "429");
  cr_expect_str_eq(attr_str(s1, "langfuse.observation.status_message"),
                   "Rate limit reached");
  cr_expect_str_eq(attr_str(s2, "error.type"), "transport");
  cr_expect_str_eq(cJSON_GetObjectItem(s2, "endTimeUnixNano")->valuestring,
                   "10", "a missing end takes the start");
  cr_expect_null(attr(s2, "gen_ai.response.time_to_first_chunk"));
  cJSON_Delete(req);
  cJSON_Delete(r1);
  cJSON_Delete(r2);
}

Test(otlp, trace_attributes_reach_every_span_and_processes_group) {
  cJSON *a = th_json("{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
                     "\"type\":\"span\",\"name\":\"agent\",\"start_ns\":\"1\","
                     "\"end_ns\":\"9\",\"session_id\":\"s1\",\"tags\":[\"t\"],"
                     "\"process\":{\"pid\":1,\"exe\":\"/bin/agent\"}}");
  cJSON *b = th_json("{\"id\":\"2222222222222222\",\"trace_id\":\"" T1 "\","
                     "\"parent_id\":\"1111111111111111\",\"type\":\"tool\","
                     "\"start_ns\":\"2\",\"end_ns\":\"3\",\"incomplete\":true,"
                     "\"process\":{\"pid\":2,\"exe\":\"/bin/helper\"}}");
  cJSON *c = th_json("{\"id\":\"3333333333333333\",\"trace_id\":\"" T1 "\","
                     "\"type\":\"span\",\"start_ns\":\"4\",\"end_ns\":\"5\","
                     "\"process\":{\"pid\":1,\"exe\":\"/bin/agent\"}}");
  cJSON *bad = th_json("{\"id\":\"zz\",\"trace_id\":\"" T1 "\"}");
  const cJSON *recs[] = {a, b, bad, c};
  cJSON *req = otlp_request_from_records(recs, 4, NULL);
  cr_assert_eq(check_request(req), 3, "the bad record is left out");
  cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(req, "resourceSpans")), 2,
               "one resource per process");
  const cJSON *helper = span_at(req, 1, 0);
  cr_expect_str_eq(attr_str(helper, "session.id"), "s1",
                   "copied from another span of the trace");
  cr_expect_not_null(attr(helper, "langfuse.trace.tags"));
  cr_expect_str_eq(cJSON_GetObjectItem(helper, "name")->valuestring, "tool",
                   "a nameless span is named after its type");
  cr_expect_eq(cJSON_GetObjectItem(helper, "kind")->valueint, 1, "INTERNAL");
  cr_expect(cJSON_IsTrue(cJSON_GetObjectItem(
      attr(helper, "langfuse.observation.metadata.incomplete"), "boolValue")));
  const cJSON *third = span_at(req, 0, 1);
  cr_expect_str_eq(cJSON_GetObjectItem(third, "spanId")->valuestring,
                   "3333333333333333", "same process, same resource");
  cr_expect_str_eq(cJSON_GetObjectItem(third, "parentSpanId")->valuestring, "",
                   "roots have an empty parent");
  cJSON_Delete(req);
  cJSON_Delete(a);
  cJSON_Delete(b);
  cJSON_Delete(c);
  cJSON_Delete(bad);
}

Test(otlp, service_name_prefers_the_option) {
  cJSON *a = th_json("{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
                     "\"start_ns\":\"1\",\"process\":{\"exe\":\"/x/prog\"}}");
  const cJSON *recs[] = {a};
  struct otlp_opts o = {"my-svc", NULL};
  cJSON *req = otlp_request_from_records(recs, 1, &o);
  check_request(req);
  const cJSON *res = cJSON_GetObjectItem(
      cJSON_GetArrayItem(cJSON_GetObjectItem(req, "resourceSpans"), 0),
      "resource");
  char *s = cJSON_PrintUnformatted(res);
  cr_expect(strstr(s, "\"my-svc\"") != NULL, "%s", s);
  cr_expect(strstr(s, "host.name") == NULL, "no host unless given");
  free(s);
  cJSON_Delete(req);
  o.service_name = NULL;
  req = otlp_request_from_records(recs, 1, &o);
  s = cJSON_PrintUnformatted(req);
  cr_expect(strstr(s, "{\"stringValue\":\"prog\"}") != NULL,
            "else the program's basename: %s", s);
  free(s);
  cJSON_Delete(req);
  cJSON_Delete(a);
}

Test(otlp, an_empty_batch_is_a_valid_request) {
  cJSON *req = otlp_request_from_records(NULL, 0, NULL);
  cr_assert_eq(check_request(req), 0);
  char *s = cJSON_PrintUnformatted(req);
  cr_expect_str_eq(s, "{\"resourceSpans\":[]}");
  free(s);
  cJSON_Delete(req);
}

Test(otlp, embeddings_carry_no_chat_messages) {
  cJSON *e = th_json("{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
                     "\"type\":\"embedding\",\"start_ns\":\"1\",\"end_ns\":"
                     "\"2\",\"operation\":\"embeddings\",\"input\":[\"a\"],"
                     "\"output\":{\"count\":1,\"dimensions\":8},"
                     "\"usage\":{\"input_tokens\":3}}");
  const cJSON *recs[] = {e};
  cJSON *req = otlp_request_from_records(recs, 1, NULL);
  cr_assert_eq(check_request(req), 1);
  const cJSON *sp = span_at(req, 0, 0);
  cr_expect_eq(cJSON_GetObjectItem(sp, "kind")->valueint, 3, "CLIENT");
  cr_expect_null(attr(sp, "gen_ai.input.messages"),
                 "not in the chat message shape");
  cr_expect_null(attr(sp, "gen_ai.output.messages"));
  cr_expect_str_eq(attr_str(sp, "langfuse.observation.output"),
                   "{\"count\":1,\"dimensions\":8}");
  cr_expect_str_eq(attr_int(sp, "gen_ai.usage.input_tokens"), "3");
  cJSON_Delete(req);
  cJSON_Delete(e);
}

/* Inferred tools and agents (docs/nesting.md) are the GenAI conventions'
 * execute_tool and invoke_agent spans, and Langfuse's tool and agent. */
Test(otlp, tools_and_agents_map_to_execute_tool_and_invoke_agent) {
  cJSON *t = th_json(
      "{\"id\":\"1111111111111111\",\"trace_id\":\"" T1 "\","
      "\"parent_id\":\"2222222222222222\",\"type\":\"tool\",\"name\":"
      "\"get_weather\",\"start_ns\":\"1\",\"end_ns\":\"2\",\"operation\":"
      "\"execute_tool\",\"input\":{\"city\":\"Paris\"},\"output\":\"18C\","
      "\"metadata\":{\"tool_call_id\":\"call_1\"}}");
  cJSON *a = th_json(
      "{\"id\":\"3333333333333333\",\"trace_id\":\"" T1 "\","
      "\"parent_id\":\"1111111111111111\",\"type\":\"agent\",\"name\":"
      "\"researcher\",\"start_ns\":\"1\",\"end_ns\":\"2\",\"operation\":"
      "\"invoke_agent\"}");
  const cJSON *recs[] = {t, a};
  cJSON *req = otlp_request_from_records(recs, 2, NULL);
  cr_assert_eq(check_request(req), 2);
  const cJSON *ts = span_at(req, 0, 0), *as = span_at(req, 0, 1);
  cr_expect_eq(cJSON_GetObjectItem(ts, "kind")->valueint, 1, "INTERNAL");
  cr_expect_str_eq(attr_str(ts, "gen_ai.operation.name"), "execute_tool");
  cr_expect_str_eq(attr_str(ts, "gen_ai.tool.name"), "get_weather");
  cr_expect_str_eq(attr_str(ts, "gen_ai.tool.call.id"), "call_1");
  cr_expect_str_eq(attr_str(ts, "gen_ai.tool.call.arguments"),
                   "{\"city\":\"Paris\"}");
  cr_expect_str_eq(attr_str(ts, "gen_ai.tool.call.result"), "18C");
  cr_expect_str_eq(attr_str(ts, "langfuse.observation.type"), "tool");
  cr_expect_null(attr(ts, "gen_ai.input.messages"));
  cr_expect_str_eq(attr_str(as, "gen_ai.operation.name"), "invoke_agent");
  cr_expect_str_eq(attr_str(as, "gen_ai.agent.name"), "researcher");
  cr_expect_str_eq(attr_str(as, "langfuse.observation.type"), "agent");
  cJSON_Delete(req);
  cJSON_Delete(t);
  cJSON_Delete(a);
}

Test(otlp, the_validator_catches_broken_shapes) {
  /* The checks above must be able to fail: a hand-made span with an
   * attribute object instead of a KeyValue list is refused. */
  cJSON *bad = th_json("[{\"key\":\"k\",\"value\":{\"intValue\":5}}]");
  const cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(bad, 0), "value");
  const cJSON *x = cJSON_GetObjectItem(v, "intValue");
  cr_expect_not(cJSON_IsString(x), "a numeric intValue is what we reject");
  cr_expect_not(is_decimal("12a"));
  cr_expect_not(is_hex("0AF7651916CD43DD8448EB211C80319C", 32),
                "uppercase ids are refused");
  cr_expect_not(is_hex("00000000000000000000000000000000", 32));
  cr_expect(is_hex(T1, 32));
  cJSON_Delete(bad);
}
