/* retrievers_search: web search APIs as retriever observations — Tavily
 * (api.tavily.com/search), Exa (api.exa.ai /search, /findSimilar,
 * /contents, /answer) and Serper (google.serper.dev /search, /news,
 * /images, /videos, /places, /shopping, /scholar, ...). The data source is
 * "{service}/{endpoint}". Request parameters are picked by name: Tavily's
 * api_key, sent in the JSON body by older clients, is never read.
 * Shapes: retrievers.h. */
#include <stdio.h>
#include <string.h>

#include "json_util.h"
#include "parsers.h"
#include "retrievers.h"
#include "url.h"

/* metadata.data_source_id = "{service}/{last path segment}". */
static void service_source(struct at_obs *o, const char *service) {
  char buf[128];
  struct at_url u;
  size_t n = 0;
  const char *seg = "";
  if (at_url_split(o->ex->url, &u) == 0) {
    size_t end = u.path_len;
    if (end > 1 && u.path[end - 1] == '/')
      end--;
    size_t start = end;
    while (start > 0 && u.path[start - 1] != '/')
      start--;
    seg = u.path + start;
    n = end - start;
  }
  if (n > 64)
    n = 64;
  int len =
      snprintf(buf, sizeof buf, "%s%s%.*s", service, n ? "/" : "", (int)n, seg);
  at_ret_source(o, buf, (size_t)len);
}

static void number_meta(struct at_obs *o, const char *key, const cJSON *v) {
  if (cJSON_IsNumber(v)) {
    cJSON_DeleteItemFromObjectCaseSensitive(o->meta, key);
    if (!cJSON_AddNumberToObject(o->meta, key, v->valuedouble))
      o->oom = 1;
  }
}

static void count_input(struct at_obs *o, const cJSON *req, const char *key) {
  const cJSON *v = at_json_get(req, key);
  if (cJSON_IsNumber(v))
    at_ret_input_num(o, "top_k", v->valuedouble);
}

/* ---- Tavily ----------------------------------------------------------- */

static void tavily_request(struct at_obs *o, const cJSON *req) {
  service_source(o, "tavily");
  at_ret_input(o);
  at_ret_input_str(o, "query", at_obs_str(o, req, "query", "request"));
  count_input(o, req, "max_results");
  static const char *const keys[] = {"search_depth",
                                     "topic",
                                     "time_range",
                                     "days",
                                     "start_date",
                                     "end_date",
                                     "include_answer",
                                     "include_raw_content",
                                     "include_images",
                                     "include_image_descriptions",
                                     "include_domains",
                                     "exclude_domains",
                                     "chunks_per_source",
                                     "country",
                                     "auto_parameters",
                                     "include_favicon",
                                     NULL};
  at_ret_params(o, req, keys);
}

static void tavily_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_json_str(resp, "request_id"));
  cJSON *docs = at_ret_docs(o);
  const cJSON *results = at_obs_arr(o, resp, "results", "response");
  if (!results)
    at_obs_parse_error(o, "response has no results");
  static const char *const skip[] = {"score", "raw_content", NULL};
  const cJSON *r;
  cJSON_ArrayForEach(r, results) {
    cJSON *d = at_ret_doc(o, docs);
    at_ret_doc_num(o, d, "score", at_json_get(r, "score"));
    at_ret_doc_fields(o, d, r, skip);
  }
  const char *answer = at_json_str(resp, "answer");
  if (answer && o->output &&
      !cJSON_AddStringToObject(o->output, "answer", answer))
    o->oom = 1;
  number_meta(o, "response_time_s", at_json_get(resp, "response_time"));
  number_meta(o, "credits", at_json_get(at_json_get(resp, "usage"), "credits"));
}

/* ---- Exa -------------------------------------------------------------- */

static void exa_request(struct at_obs *o, const cJSON *req) {
  service_source(o, "exa");
  at_ret_input(o);
  at_ret_input_str(o, "query", at_obs_str(o, req, "query", "request"));
  at_ret_input_str(o, "url", at_json_str(req, "url"));    /* findSimilar */
  at_ret_input_copy(o, "ids", at_json_get(req, "ids"));   /* contents */
  at_ret_input_copy(o, "urls", at_json_get(req, "urls")); /* contents */
  count_input(o, req, "numResults");
  static const char *const keys[] = {"type",
                                     "category",
                                     "useAutoprompt",
                                     "includeDomains",
                                     "excludeDomains",
                                     "startPublishedDate",
                                     "endPublishedDate",
                                     "startCrawlDate",
                                     "endCrawlDate",
                                     "includeText",
                                     "excludeText",
                                     "contents",
                                     "text",
                                     "highlights",
                                     "summary",
                                     "livecrawl",
                                     "userLocation",
                                     "model",
                                     NULL};
  at_ret_params(o, req, keys);
}

static void exa_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_json_str(resp, "requestId"));
  cJSON *docs = at_ret_docs(o);
  const cJSON *results = at_json_get(resp, "results");
  const cJSON *citations = at_json_get(resp, "citations"); /* /answer */
  if (!cJSON_IsArray(results))
    results = citations;
  if (!cJSON_IsArray(results))
    at_obs_parse_error(o, "response has no results");
  static const char *const skip[] = {"id", "score", NULL};
  const cJSON *r;
  cJSON_ArrayForEach(r, results) {
    cJSON *d = at_ret_doc(o, docs);
    at_ret_doc_id(o, d, at_json_get(r, "id"));
    at_ret_doc_num(o, d, "score", at_json_get(r, "score"));
    at_ret_doc_fields(o, d, r, skip);
  }
  const cJSON *answer = at_json_get(resp, "answer");
  if (answer && o->output) {
    cJSON *c = at_ret_copy(answer);
    if (c)
      cJSON_AddItemToObject(o->output, "answer", c);
    o->oom |= !c;
  }
  at_obs_meta_str(o, "resolved_search_type",
                  at_json_str(resp, "resolvedSearchType"));
  number_meta(o, "cost_usd",
              at_json_get(at_json_get(resp, "costDollars"), "total"));
}

/* ---- Serper ----------------------------------------------------------- */

static void serper_request(struct at_obs *o, const cJSON *req) {
  service_source(o, "serper");
  at_ret_input(o);
  at_ret_input_str(o, "query", at_obs_str(o, req, "q", "request"));
  count_input(o, req, "num");
  static const char *const keys[] = {"gl",   "hl",     "location",
                                     "tbs",  "page",   "autocorrect",
                                     "type", "engine", NULL};
  at_ret_params(o, req, keys);
}

/* The result lists Serper answers with, by endpoint; the first present
 * one is the answer's documents. */
static const char *const serper_lists[] = {
    "organic",  "news",    "images",  "videos",      "places",
    "shopping", "scholar", "patents", "suggestions", NULL};

static void serper_response(struct at_obs *o, const cJSON *resp) {
  cJSON *docs = at_ret_docs(o);
  const cJSON *list = NULL;
  for (size_t i = 0; serper_lists[i] && !list; i++)
    list = at_obs_arr(o, resp, serper_lists[i], "response");
  if (!list)
    at_obs_parse_error(o, "response has no results");
  static const char *const skip[] = {"position", "snippet", "link", NULL};
  const cJSON *r;
  cJSON_ArrayForEach(r, list) {
    cJSON *d = at_ret_doc(o, docs);
    if (!d)
      continue;
    const cJSON *pos = at_json_get(r, "position");
    at_ret_doc_num(o, d, "rank", pos);
    at_ret_doc_str(o, d, "url", at_json_str(r, "link"));
    at_ret_doc_str(o, d, "text", at_json_str(r, "snippet"));
    at_ret_doc_fields(o, d, r, skip);
  }
  const cJSON *box = at_json_get(resp, "answerBox");
  const char *answer = at_json_str(box, "answer");
  if (!answer)
    answer = at_json_str(box, "snippet");
  if (answer && o->output &&
      !cJSON_AddStringToObject(o->output, "answer", answer))
    o->oom = 1;
  const cJSON *kg = at_json_get(resp, "knowledgeGraph");
  if (cJSON_IsObject(kg) && o->output) {
    cJSON *c = at_ret_copy(kg);
    if (c)
      cJSON_AddItemToObject(o->output, "knowledge_graph", c);
    o->oom |= !c;
  }
  number_meta(o, "credits", at_json_get(resp, "credits"));
}

const struct at_api_parser at_tavily_search_parser = {
    "retriever", "retrieval", tavily_request, tavily_response, NULL};
const struct at_api_parser at_exa_search_parser = {
    "retriever", "retrieval", exa_request, exa_response, NULL};
const struct at_api_parser at_serper_search_parser = {
    "retriever", "retrieval", serper_request, serper_response, NULL};
