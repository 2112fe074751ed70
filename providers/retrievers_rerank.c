/* retrievers_rerank: rerank APIs as retriever observations — Cohere
 * (/v1/rerank, /v2/rerank), Voyage AI and Jina (/v1/rerank), and servers
 * that copy their shape (vLLM, Infinity, TEI behind a configured host).
 *
 * Request: {model, query, documents: [string | {text, ...}], top_n |
 * top_k, return_documents, ...}. Answer: Cohere and Jina {id?, results:
 * [{index, relevance_score, document?}], meta | usage}, Voyage {data:
 * [...], model, usage: {total_tokens}}. The input keeps the query and the
 * documents sent (cut, at most AT_DOCS_MAX); each result becomes a
 * document {index, score, text} with the text of the document it points
 * to. Token counts (Voyage, Jina) are input tokens; Cohere's search units
 * go to metadata.billed_units. Shapes: retrievers.h. */
#include <string.h>

#include "json_util.h"
#include "parsers.h"
#include "retrievers.h"

/* The text of a document as sent: a string, or {text} ({"data": ...} and
 * other structured documents are kept as a bounded copy). */
static cJSON *doc_text(const cJSON *d) {
  const char *t = cJSON_IsString(d) ? d->valuestring : at_json_str(d, "text");
  if (t) {
    cJSON *tmp = cJSON_CreateString(t);
    cJSON *c = at_ret_copy(tmp); /* cut */
    cJSON_Delete(tmp);
    return c;
  }
  return at_ret_copy(d);
}

static void rerank_request(struct at_obs *o, const cJSON *req) {
  at_obs_set(o, &o->request_model, at_obs_str(o, req, "model", "request"));
  cJSON *in = at_ret_input(o);
  const cJSON *q = at_json_get(req, "query");
  if (cJSON_IsString(q))
    at_ret_input_str(o, "query", q->valuestring);
  else if (q)
    at_ret_input_copy(o, "query", q); /* Jina: an image or an object */
  else
    at_obs_parse_error(o, "request has no query");
  const cJSON *n = at_json_get(req, "top_n");
  if (!n)
    n = at_json_get(req, "top_k");
  if (cJSON_IsNumber(n))
    at_ret_input_num(o, "top_k", n->valuedouble);
  const cJSON *docs = at_obs_arr(o, req, "documents", "request");
  if (docs && in) {
    cJSON *arr = cJSON_AddArrayToObject(in, "documents");
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs) {
      if (!arr || i++ == AT_DOCS_MAX)
        break;
      cJSON *c = doc_text(d);
      if (!c) {
        o->oom = 1;
        break;
      }
      cJSON_AddItemToArray(arr, c);
    }
    if (cJSON_GetArraySize(docs) > AT_DOCS_MAX)
      at_ret_input_num(o, "documents_count", cJSON_GetArraySize(docs));
    o->oom |= !arr;
  }
  static const char *const keys[] = {"return_documents",   "max_chunks_per_doc",
                                     "max_tokens_per_doc", "rank_fields",
                                     "truncation",         NULL};
  at_ret_params(o, req, keys);
}

static void rerank_response(struct at_obs *o, const cJSON *resp) {
  at_obs_set(o, &o->response_id, at_json_str(resp, "id"));
  at_obs_set(o, &o->response_model, at_json_str(resp, "model"));
  cJSON *docs = at_ret_docs(o);
  const cJSON *results = at_json_get(resp, "results");
  if (!cJSON_IsArray(results))
    results = at_json_get(resp, "data");
  if (!cJSON_IsArray(results)) {
    at_obs_parse_error(o, "response has no results");
    results = NULL;
  }
  const cJSON *sent = at_json_get(o->input, "documents");
  const cJSON *r;
  cJSON_ArrayForEach(r, results) {
    cJSON *d = at_ret_doc(o, docs);
    if (!d)
      continue;
    const cJSON *idx = at_json_get(r, "index");
    at_ret_doc_num(o, d, "index", idx);
    at_ret_doc_num(o, d, "score", at_json_get(r, "relevance_score"));
    const cJSON *doc = at_json_get(r, "document");
    const char *t =
        cJSON_IsString(doc) ? doc->valuestring : at_json_str(doc, "text");
    int64_t i;
    if (!t && at_json_count(idx, &i) && i < AT_DOCS_MAX) {
      const cJSON *s = cJSON_GetArrayItem(sent, (int)i);
      t = cJSON_IsString(s) ? s->valuestring : NULL;
    }
    at_ret_doc_str(o, d, "text", t);
  }
  const cJSON *usage = at_json_get(resp, "usage");
  int64_t tokens;
  if (at_obs_count(o, usage, "total_tokens", "response.usage", &tokens))
    at_usage_set(&o->usage, AT_U_INPUT, tokens);
  const cJSON *billed = at_json_get(at_json_get(resp, "meta"), "billed_units");
  if (cJSON_IsObject(billed) &&
      at_json_add_copy(o->meta, "billed_units", billed) != 0)
    o->oom = 1;
}

const struct at_api_parser at_rerank_parser = {
    "retriever", "retrieval", rerank_request, rerank_response, NULL};
