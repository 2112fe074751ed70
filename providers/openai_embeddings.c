/* openai_embeddings: /v1/embeddings (OpenAI, Azure, Mistral, Together, ...).
 * The input texts are kept; the vectors never are: output is only how many
 * vectors came back and their dimension. Bodies reach this parser with
 * long number arrays already replaced by placeholders (parsers.h,
 * at_json_devector), so a response of many vectors costs no tree of
 * numbers. */
#include <string.h>

#include "json_util.h"
#include "parsers.h"
#include "retrievers.h"

static void add_input(struct at_obs *o, const cJSON *v) {
  if (cJSON_IsString(v)) {
    cJSON *s = cJSON_CreateString(v->valuestring);
    if (s)
      cJSON_AddItemToArray(o->input, s);
    o->oom |= !s;
    return;
  }
  /* A long token-id array arrives as parse.c's vector placeholder. */
  int placeholder = cJSON_GetObjectItemCaseSensitive(v, "$autotrace_vector")
                        ? at_ret_vector_dims(v)
                        : -1;
  if (cJSON_IsArray(v) || cJSON_IsNumber(v) || placeholder > 0) {
    /* token ids: only how many */
    int count = placeholder > 0    ? placeholder
                : cJSON_IsArray(v) ? cJSON_GetArraySize(v)
                                   : 1;
    cJSON *t = cJSON_CreateObject();
    if (!t || !cJSON_AddStringToObject(t, "type", "tokens") ||
        !cJSON_AddNumberToObject(t, "count", count)) {
      cJSON_Delete(t);
      o->oom = 1;
      return;
    }
    cJSON_AddItemToArray(o->input, t);
    return;
  }
  at_obs_parse_error(o, "request.input has an entry that is not text");
}

static void embeddings_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  at_obs_param(o, req, "dimensions");
  at_obs_param(o, req, "encoding_format");
  const cJSON *input = at_json_get(req, "input");
  if (!input)
    return;
  o->input = cJSON_CreateArray();
  if (!o->input) {
    o->oom = 1;
    return;
  }
  /* A string, an array of strings, an array of token ids, or an array of
   * token arrays. */
  if (cJSON_IsArray(input) && cJSON_GetArraySize(input) > 0 &&
      !cJSON_IsNumber(cJSON_GetArrayItem(input, 0))) {
    const cJSON *v;
    cJSON_ArrayForEach(v, input) add_input(o, v);
  } else {
    add_input(o, input);
  }
}

static void embeddings_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_json_str(resp, "id"));
  at_obs_set(o, &o->response_model, at_obs_str(o, resp, "model", "response"));
  const cJSON *data = at_obs_arr(o, resp, "data", "response");
  if (data) {
    int count = cJSON_GetArraySize(data);
    int64_t dims = -1;
    const cJSON *first = cJSON_GetArrayItem(data, 0);
    const cJSON *vec = at_json_get(first, "embedding");
    if (cJSON_IsArray(vec) || cJSON_IsObject(vec))
      dims = at_ret_vector_dims(vec); /* or parse.c's placeholder */
    else if (cJSON_IsString(vec))     /* encoding_format=base64: float32s */
      dims = (int64_t)(at_base64_decoded_size(vec->valuestring,
                                              strlen(vec->valuestring)) /
                       4);
    o->output = cJSON_CreateObject();
    if (!o->output || !cJSON_AddNumberToObject(o->output, "count", count) ||
        (dims >= 0 &&
         !cJSON_AddNumberToObject(o->output, "dimensions", (double)dims)))
      o->oom = 1;
  } else if (!at_json_get(resp, "data")) {
    at_obs_parse_error(o, "response has no data");
  }
  at_openai_usage(o, at_json_get(resp, "usage"), "response.usage");
  /* Embeddings have no output, so a lone total (Voyage) is the input. */
  if (!(o->usage.has & AT_U_INPUT) && (o->usage.has & AT_U_TOTAL))
    at_usage_set(&o->usage, AT_U_INPUT, o->usage.total);
  at_note_usage_missing(o, 0);
}

const struct at_api_parser at_openai_embeddings_parser = {
    "embedding", "embeddings", embeddings_request, embeddings_response, NULL};
