/* retrievers_vector: queries to vector databases as retriever
 * observations — Pinecone (/query, /records/namespaces/{ns}/search),
 * Qdrant (/collections/{c}/points/search|query|recommend|discover and
 * their /batch forms), Chroma (v1 and v2 .../collections/{id}/query),
 * Weaviate (/v1/graphql Get queries) and Marqo (/indexes/{i}/search,
 * also Meilisearch's shape of the same path). Writes and admin calls of
 * these services are not matched (registry.c). Shapes: retrievers.h. */
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "parsers.h"
#include "retrievers.h"
#include "url.h"

/* ---- shared ----------------------------------------------------------- */

static void vector_input(struct at_obs *o, const char *key, const cJSON *v) {
  int dims = at_ret_vector_dims(v);
  if (dims > 0)
    at_ret_input_num(o, key, dims);
}

/* A count parameter (top_k, limit, ...) into input.top_k. */
static void top_k(struct at_obs *o, const cJSON *req, const char *key) {
  const cJSON *v = at_json_get(req, key);
  if (cJSON_IsNumber(v))
    at_ret_input_num(o, "top_k", v->valuedouble);
}

static void number_meta(struct at_obs *o, const char *key, const cJSON *v) {
  if (cJSON_IsNumber(v)) {
    cJSON_DeleteItemFromObjectCaseSensitive(o->meta, key);
    if (!cJSON_AddNumberToObject(o->meta, key, v->valuedouble))
      o->oom = 1;
  }
}

/* ---- Pinecone --------------------------------------------------------- */

/* The index of a data-plane host "{index}-{project}.svc.{env}.pinecone.io":
 * the first label without its 7-character project suffix. */
static void pinecone_source(struct at_obs *o) {
  struct at_url u;
  if (at_url_split(o->ex->url, &u) != 0)
    return;
  size_t n = strcspn(u.host, ".");
  if (n > u.host_len)
    n = u.host_len;
  int svc = u.host_len > n + 5 && !memcmp(u.host + n, ".svc.", 5);
  if (svc && n > 8 && u.host[n - 8] == '-') {
    int alnum = 1;
    for (size_t i = n - 7; i < n; i++) {
      char c = u.host[i];
      alnum &= (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    }
    if (alnum)
      n -= 8;
  }
  at_ret_source(o, u.host, n);
}

static void pinecone_request(struct at_obs *o, const cJSON *req) {
  pinecone_source(o);
  at_ret_input(o);
  const cJSON *q = at_json_get(req, "query");
  if (cJSON_IsObject(q)) {
    /* /records/namespaces/{ns}/search: {query: {inputs: {text}, top_k,
     * filter, vector, id}, fields, rerank} */
    const cJSON *inputs = at_json_get(q, "inputs");
    at_ret_input_str(o, "query", at_json_str(inputs, "text"));
    top_k(o, q, "top_k");
    at_ret_input_copy(o, "filter", at_json_get(q, "filter"));
    vector_input(o, "vector_dimensions", at_json_get(q, "vector"));
    at_ret_input_str(o, "id", at_json_str(q, "id"));
    const char *ns;
    size_t nlen;
    if (at_ret_path_segment(o, "/namespaces/", &ns, &nlen)) {
      char buf[256];
      at_utf8_clean(buf, sizeof buf, ns, nlen, 1);
      at_ret_input_str(o, "namespace", buf);
    }
    static const char *const keys[] = {"fields", "rerank", NULL};
    at_ret_params(o, req, keys);
    return;
  }
  /* /query: {topK, vector | sparseVector | id, namespace, filter,
   * includeValues, includeMetadata} */
  top_k(o, req, "topK");
  top_k(o, req, "top_k");
  vector_input(o, "vector_dimensions", at_json_get(req, "vector"));
  at_ret_input_str(o, "id", at_json_str(req, "id"));
  const char *ns = at_json_str(req, "namespace");
  if (ns && ns[0])
    at_ret_input_str(o, "namespace", ns);
  at_ret_input_copy(o, "filter", at_json_get(req, "filter"));
  static const char *const keys[] = {"includeMetadata", "includeValues", NULL};
  at_ret_params(o, req, keys);
}

static void pinecone_response(struct at_obs *o, const cJSON *resp) {
  cJSON *docs = at_ret_docs(o);
  const cJSON *matches = at_obs_arr(o, resp, "matches", "response");
  const cJSON *m;
  cJSON_ArrayForEach(m, matches) {
    cJSON *d = at_ret_doc(o, docs);
    at_ret_doc_id(o, d, at_json_get(m, "id"));
    at_ret_doc_num(o, d, "score", at_json_get(m, "score"));
    at_ret_doc_fields(o, d, at_json_get(m, "metadata"), NULL);
  }
  const cJSON *result = at_json_get(resp, "result");
  const cJSON *hits = at_json_get(result, "hits");
  cJSON_ArrayForEach(m, hits) {
    cJSON *d = at_ret_doc(o, docs);
    at_ret_doc_id(o, d, at_json_get(m, "_id"));
    at_ret_doc_num(o, d, "score", at_json_get(m, "_score"));
    at_ret_doc_fields(o, d, at_json_get(m, "fields"), NULL);
  }
  if (!matches && !hits)
    at_obs_parse_error(o, "response has no matches");
  const cJSON *usage = at_json_get(resp, "usage");
  const cJSON *ru = at_json_get(usage, "readUnits");
  number_meta(o, "read_units", ru ? ru : at_json_get(usage, "read_units"));
  number_meta(o, "embed_total_tokens",
              at_json_get(usage, "embed_total_tokens"));
  number_meta(o, "rerank_units", at_json_get(usage, "rerank_units"));
}

/* ---- Qdrant ----------------------------------------------------------- */

/* One Qdrant search or query request. */
static void qdrant_one(struct at_obs *o, const cJSON *req) {
  const cJSON *q = at_json_get(req, "query");
  const cJSON *nearest = at_json_get(q, "nearest");
  if (nearest)
    q = nearest;
  if (cJSON_IsObject(q) && at_json_str(q, "text")) {
    at_ret_input_str(o, "query", at_json_str(q, "text")); /* inference */
  } else if (cJSON_IsString(q) || (cJSON_IsNumber(q))) {
    at_ret_input_copy(o, "point_id", q); /* query by point id */
  } else if (cJSON_IsObject(q) && at_ret_vector_dims(q) < 0) {
    at_ret_input_copy(o, "query", q); /* recommend, fusion, ... bounded */
  }
  vector_input(o, "vector_dimensions", q);
  vector_input(o, "vector_dimensions", at_json_get(req, "vector"));
  const cJSON *named = at_json_get(req, "vector");
  if (cJSON_IsObject(named))
    at_ret_input_str(o, "using", at_json_str(named, "name"));
  at_ret_input_str(o, "using", at_json_str(req, "using"));
  top_k(o, req, "limit");
  top_k(o, req, "top");
  at_ret_input_copy(o, "filter", at_json_get(req, "filter"));
  at_ret_input_copy(o, "prefetch", at_json_get(req, "prefetch"));
  at_ret_input_copy(o, "positive", at_json_get(req, "positive"));
  at_ret_input_copy(o, "negative", at_json_get(req, "negative"));
  static const char *const keys[] = {"with_payload",
                                     "with_vector",
                                     "with_vectors",
                                     "score_threshold",
                                     "offset",
                                     "params",
                                     NULL};
  at_ret_params(o, req, keys);
}

static void qdrant_request(struct at_obs *o, const cJSON *req) {
  const char *c;
  size_t n;
  if (at_ret_path_segment(o, "/collections/", &c, &n))
    at_ret_source(o, c, n);
  at_ret_input(o);
  const cJSON *batch = at_json_get(req, "searches");
  if (cJSON_IsArray(batch)) {
    at_ret_input_num(o, "batch", cJSON_GetArraySize(batch));
    /* the batch's first search stands for all of them */
    qdrant_one(o, cJSON_GetArrayItem(batch, 0));
    return;
  }
  qdrant_one(o, req);
}

static void qdrant_points(struct at_obs *o, cJSON *docs, const cJSON *points,
                          int query_index) {
  const cJSON *p;
  cJSON_ArrayForEach(p, points) {
    cJSON *d = at_ret_doc(o, docs);
    if (!d)
      continue;
    at_ret_doc_id(o, d, at_json_get(p, "id"));
    at_ret_doc_num(o, d, "score", at_json_get(p, "score"));
    at_ret_doc_fields(o, d, at_json_get(p, "payload"), NULL);
    if (query_index >= 0 &&
        !cJSON_AddNumberToObject(d, "query_index", query_index))
      o->oom = 1;
  }
}

static void qdrant_response(struct at_obs *o, const cJSON *resp) {
  cJSON *docs = at_ret_docs(o);
  const cJSON *result = at_json_get(resp, "result");
  const char *status = at_json_str(resp, "status");
  if (status && strcmp(status, "ok") != 0)
    at_obs_raise(o, AT_LEVEL_ERROR, status, strlen(status));
  const cJSON *points = at_json_get(result, "points");
  const cJSON *groups = at_json_get(result, "groups");
  if (cJSON_IsArray(points)) { /* /points/query */
    qdrant_points(o, docs, points, -1);
  } else if (cJSON_IsArray(groups)) { /* grouped queries */
    const cJSON *g;
    cJSON_ArrayForEach(g, groups)
        qdrant_points(o, docs, at_json_get(g, "hits"), -1);
  } else if (cJSON_IsArray(result)) {
    const cJSON *first = cJSON_GetArrayItem(result, 0);
    if (cJSON_IsArray(first) || at_json_get(first, "points")) {
      /* batches: one list per search */
      int i = 0;
      const cJSON *r;
      cJSON_ArrayForEach(r, result) {
        qdrant_points(o, docs, cJSON_IsArray(r) ? r : at_json_get(r, "points"),
                      i++);
      }
    } else {
      qdrant_points(o, docs, result, -1);
    }
  } else {
    at_obs_parse_error(o, "response has no result");
  }
  number_meta(o, "server_time_s", at_json_get(resp, "time"));
}

/* ---- Chroma ----------------------------------------------------------- */

static void chroma_request(struct at_obs *o, const cJSON *req) {
  const char *c;
  size_t n;
  if (at_ret_path_segment(o, "/collections/", &c, &n))
    at_ret_source(o, c, n);
  at_ret_input(o);
  const cJSON *texts = at_json_get(req, "query_texts");
  const cJSON *embs = at_json_get(req, "query_embeddings");
  int nq = cJSON_GetArraySize(cJSON_IsArray(texts) ? texts : embs);
  const cJSON *t0 = cJSON_GetArrayItem(texts, 0);
  if (cJSON_IsArray(texts) && nq == 1 && cJSON_IsString(t0))
    at_ret_input_str(o, "query", t0->valuestring);
  else if (cJSON_IsArray(texts))
    at_ret_input_copy(o, "queries", texts);
  if (nq > 1)
    at_ret_input_num(o, "query_count", nq);
  vector_input(o, "vector_dimensions", cJSON_GetArrayItem(embs, 0));
  top_k(o, req, "n_results");
  at_ret_input_copy(o, "filter", at_json_get(req, "where"));
  at_ret_input_copy(o, "where_document", at_json_get(req, "where_document"));
  static const char *const keys[] = {"include", NULL};
  at_ret_params(o, req, keys);
}

static void chroma_response(struct at_obs *o, const cJSON *resp) {
  cJSON *docs = at_ret_docs(o);
  const cJSON *ids = at_obs_arr(o, resp, "ids", "response");
  if (!ids) {
    at_obs_parse_error(o, "response has no ids");
    return;
  }
  const cJSON *dist = at_json_get(resp, "distances");
  const cJSON *texts = at_json_get(resp, "documents");
  const cJSON *metas = at_json_get(resp, "metadatas");
  const cJSON *uris = at_json_get(resp, "uris");
  int nq = cJSON_GetArraySize(ids);
  for (int q = 0; q < nq; q++) {
    const cJSON *row = cJSON_GetArrayItem(ids, q);
    if (!cJSON_IsArray(row)) {
      at_obs_parse_error(o, "response.ids has a row that is not an array");
      continue;
    }
    int n = cJSON_GetArraySize(row);
    for (int i = 0; i < n; i++) {
      cJSON *d = at_ret_doc(o, docs);
      if (!d)
        continue;
      at_ret_doc_id(o, d, cJSON_GetArrayItem(row, i));
      at_ret_doc_num(o, d, "distance",
                     cJSON_GetArrayItem(cJSON_GetArrayItem(dist, q), i));
      const cJSON *t = cJSON_GetArrayItem(cJSON_GetArrayItem(texts, q), i);
      if (cJSON_IsString(t))
        at_ret_doc_str(o, d, "text", t->valuestring);
      const cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(uris, q), i);
      if (cJSON_IsString(u))
        at_ret_doc_str(o, d, "url", u->valuestring);
      at_ret_doc_fields(
          o, d, cJSON_GetArrayItem(cJSON_GetArrayItem(metas, q), i), NULL);
      if (nq > 1 && !cJSON_AddNumberToObject(d, "query_index", q))
        o->oom = 1;
    }
  }
}

/* ---- Weaviate GraphQL ------------------------------------------------- */

static int ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_';
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
    p++;
  return p;
}

/* A GraphQL string literal at p (after the quote handling): copied
 * unescaped into out. Returns 1 when one was read. */
static int gql_string(const char *p, char *out, size_t cap) {
  if (*p != '"')
    return 0;
  p++;
  size_t n = 0;
  while (*p && *p != '"' && n + 1 < cap) {
    if (*p == '\\' && p[1]) {
      p++;
      char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
      out[n++] = c;
    } else {
      out[n++] = *p;
    }
    p++;
  }
  out[n] = '\0';
  return 1;
}

/* The value of argument `name` (a whole word followed by ':'): a string,
 * or the first string of a list. */
static int gql_arg_string(const char *q, const char *name, char *out,
                          size_t cap) {
  size_t k = strlen(name);
  for (const char *p = strstr(q, name); p; p = strstr(p + 1, name)) {
    if ((p > q && ident_char(p[-1])) || ident_char(p[k]))
      continue;
    const char *v = skip_ws(p + k);
    if (*v != ':')
      continue;
    v = skip_ws(v + 1);
    if (*v == '[')
      v = skip_ws(v + 1);
    if (gql_string(v, out, cap))
      return 1;
  }
  return 0;
}

static int gql_arg_number(const char *q, const char *name, double *out) {
  size_t k = strlen(name);
  for (const char *p = strstr(q, name); p; p = strstr(p + 1, name)) {
    if ((p > q && ident_char(p[-1])) || ident_char(p[k]))
      continue;
    const char *v = skip_ws(p + k);
    if (*v != ':')
      continue;
    v = skip_ws(v + 1);
    char *end;
    double d = strtod(v, &end);
    if (end != v) {
      *out = d;
      return 1;
    }
  }
  return 0;
}

/* The first class under "Get { ... }": "Get { Article (...) { ... } }". */
static int gql_get_class(const char *q, const char **cls, size_t *len) {
  for (const char *p = strstr(q, "Get"); p; p = strstr(p + 1, "Get")) {
    if ((p > q && ident_char(p[-1])) || ident_char(p[3]))
      continue;
    const char *v = skip_ws(p + 3);
    if (*v != '{')
      continue;
    v = skip_ws(v + 1);
    size_t n = 0;
    while (ident_char(v[n]))
      n++;
    if (n) {
      *cls = v;
      *len = n;
      return 1;
    }
  }
  return 0;
}

static void weaviate_request(struct at_obs *o, const cJSON *req) {
  at_ret_input(o);
  const char *q = at_obs_str(o, req, "query", "request");
  if (!q) {
    at_obs_parse_error(o, "request has no GraphQL query");
    return;
  }
  const char *cls;
  size_t clen;
  if (gql_get_class(q, &cls, &clen))
    at_ret_source(o, cls, clen);
  static const char *const kinds[] = {"nearText",  "nearVector", "nearObject",
                                      "nearImage", "bm25",       "hybrid",
                                      "ask",       NULL};
  for (size_t i = 0; kinds[i]; i++) {
    const char *p = strstr(q, kinds[i]);
    if (p && (p == q || !ident_char(p[-1])) &&
        !ident_char(p[strlen(kinds[i])])) {
      at_ret_input_str(o, "search", kinds[i]);
      break;
    }
  }
  char *text = malloc(AT_DOC_TEXT_MAX + 1);
  if (!text) {
    o->oom = 1;
    return;
  }
  if (gql_arg_string(q, "concepts", text, AT_DOC_TEXT_MAX + 1) ||
      gql_arg_string(q, "query", text, AT_DOC_TEXT_MAX + 1) ||
      gql_arg_string(q, "question", text, AT_DOC_TEXT_MAX + 1)) {
    char *clean = malloc(AT_DOC_TEXT_MAX + 1);
    if (clean) {
      at_utf8_clean(clean, AT_DOC_TEXT_MAX + 1, text, strlen(text), 0);
      at_ret_input_str(o, "query", clean);
    }
    o->oom |= !clean;
    free(clean);
  }
  free(text);
  double limit;
  if (gql_arg_number(q, "limit", &limit))
    at_ret_input_num(o, "top_k", limit);
  at_ret_input_str(o, "graphql", q);
  at_ret_input_copy(o, "variables", at_json_get(req, "variables"));
}

static void weaviate_response(struct at_obs *o, const cJSON *resp) {
  const cJSON *errors = at_json_get(resp, "errors");
  if (cJSON_IsArray(errors) && cJSON_GetArraySize(errors) > 0) {
    const char *m = at_json_str(cJSON_GetArrayItem(errors, 0), "message");
    at_obs_raise(o, AT_LEVEL_ERROR, m ? m : "GraphQL error",
                 m ? strlen(m) : 13);
  }
  cJSON *docs = at_ret_docs(o);
  const cJSON *data = at_json_get(resp, "data");
  const cJSON *get = at_json_get(data, "Get");
  if (!cJSON_IsObject(get)) {
    if (data && !get)
      at_obs_meta_str(o, "graphql_operation",
                      data->child ? data->child->string : NULL);
    else if (!errors)
      at_obs_parse_error(o, "response has no data");
    return;
  }
  static const char *const skip[] = {"_additional", NULL};
  const cJSON *cls;
  cJSON_ArrayForEach(cls, get) {
    const cJSON *obj;
    cJSON_ArrayForEach(obj, cls) {
      cJSON *d = at_ret_doc(o, docs);
      if (!d)
        continue;
      const cJSON *add = at_json_get(obj, "_additional");
      at_ret_doc_id(o, d, at_json_get(add, "id"));
      /* bm25 and hybrid scores come as strings */
      const cJSON *sc = at_json_get(add, "score");
      if (cJSON_IsString(sc)) {
        char *end;
        double v = strtod(sc->valuestring, &end);
        if (end != sc->valuestring && !cJSON_AddNumberToObject(d, "score", v))
          o->oom = 1;
      } else {
        at_ret_doc_num(o, d, "score", sc);
      }
      at_ret_doc_num(o, d, "distance", at_json_get(add, "distance"));
      at_ret_doc_num(o, d, "certainty", at_json_get(add, "certainty"));
      at_ret_doc_fields(o, d, obj, skip);
    }
  }
}

/* ---- Marqo (and Meilisearch) ------------------------------------------ */

static void marqo_request(struct at_obs *o, const cJSON *req) {
  const char *c;
  size_t n;
  if (at_ret_path_segment(o, "/indexes/", &c, &n))
    at_ret_source(o, c, n);
  at_ret_input(o);
  const cJSON *q = at_json_get(req, "q");
  if (cJSON_IsString(q))
    at_ret_input_str(o, "query", q->valuestring);
  else if (cJSON_IsObject(q)) /* weighted queries: {"text": weight} */
    at_ret_input_copy(o, "query", q);
  top_k(o, req, "limit");
  at_ret_input_copy(o, "filter", at_json_get(req, "filter"));
  static const char *const keys[] = {"offset",
                                     "searchMethod",
                                     "searchableAttributes",
                                     "showHighlights",
                                     "reRanker",
                                     "attributesToRetrieve",
                                     "hybridParameters",
                                     NULL};
  at_ret_params(o, req, keys);
}

static void marqo_response(struct at_obs *o, const cJSON *resp) {
  cJSON *docs = at_ret_docs(o);
  const cJSON *hits = at_obs_arr(o, resp, "hits", "response");
  if (!hits) {
    at_obs_parse_error(o, "response has no hits");
    return;
  }
  static const char *const skip[] = {
      "_id", "_score", "_highlights", "_rankingScore", "_tensor_facets", NULL};
  const cJSON *h;
  cJSON_ArrayForEach(h, hits) {
    cJSON *d = at_ret_doc(o, docs);
    if (!d)
      continue;
    const cJSON *id = at_json_get(h, "_id");
    at_ret_doc_id(o, d, id ? id : at_json_get(h, "id"));
    const cJSON *sc = at_json_get(h, "_score");
    at_ret_doc_num(o, d, "score", sc ? sc : at_json_get(h, "_rankingScore"));
    at_ret_doc_fields(o, d, h, skip);
  }
  number_meta(o, "server_time_ms", at_json_get(resp, "processingTimeMs"));
}

const struct at_api_parser at_pinecone_query_parser = {
    "retriever", "retrieval", pinecone_request, pinecone_response, NULL};
const struct at_api_parser at_qdrant_search_parser = {
    "retriever", "retrieval", qdrant_request, qdrant_response, NULL};
const struct at_api_parser at_chroma_query_parser = {
    "retriever", "retrieval", chroma_request, chroma_response, NULL};
const struct at_api_parser at_weaviate_graphql_parser = {
    "retriever", "retrieval", weaviate_request, weaviate_response, NULL};
const struct at_api_parser at_marqo_search_parser = {
    "retriever", "retrieval", marqo_request, marqo_response, NULL};
