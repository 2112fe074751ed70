/* Retrievers: vector databases, search APIs and rerankers as `retriever`
 * observations; vectors never kept; keys (headers, Tavily's api_key in
 * the body) never in the record. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "providers/parsers.h"

/* The exchange of two fixtures with the given request headers. */
static cJSON *run_with_headers(const char *url, const char *req_fx,
                               const char *resp_fx, const char *req_headers,
                               char **text) {
  char *req = fx_read(req_fx, NULL);
  char *resp = fx_read(resp_fx, NULL);
  struct at_exchange ex = fx_exchange(url, req, resp, 200, NULL);
  if (req_headers) {
    ex.req_headers = req_headers;
    ex.req_headers_len = strlen(req_headers);
  }
  cJSON *r = fx_parse(&ex);
  *text = cJSON_PrintUnformatted(r);
  free(req);
  free(resp);
  return r;
}

static void expect_retriever(const cJSON *r, const char *provider,
                             const char *name) {
  cr_expect_str_eq(jstr(r, "type"), "retriever");
  cr_expect_str_eq(jstr(r, "operation"), "retrieval");
  cr_expect_str_eq(jstr(r, "provider"), provider);
  cr_expect_str_eq(jstr(r, "name"), name);
  cr_expect_str_eq(jstr(r, "level"), "DEFAULT");
  cr_expect_null(jget(r, "metadata.parse_error"));
}

Test(retrievers, endpoints) {
  struct at_match m;
  static const struct {
    const char *url;
    enum at_api api;
    const char *provider;
  } cases[] = {
      {"https://idx-abc1234.svc.aped-4627-b74a.pinecone.io/query",
       AT_API_PINECONE_QUERY, "pinecone"},
      {"https://idx-abc1234.svc.us-east1-aws.pinecone.io/records/namespaces/"
       "ns1/search",
       AT_API_PINECONE_QUERY, "pinecone"},
      {"https://idx-abc1234.svc.us-east1-aws.pinecone.io/vectors/upsert",
       AT_API_OTHER_LLM, "pinecone"},
      {"https://api.pinecone.io/indexes", AT_API_OTHER_LLM, "pinecone"},
      {"https://x1.eu-central.aws.cloud.qdrant.io:6333/collections/docs/"
       "points/query",
       AT_API_QDRANT_SEARCH, "qdrant"},
      {"https://x1.cloud.qdrant.io/collections/docs/points", AT_API_OTHER_LLM,
       "qdrant"},
      /* Qdrant and Chroma signatures on any host */
      {"http://localhost:6333/collections/docs/points/search",
       AT_API_QDRANT_SEARCH, "qdrant"},
      {"http://10.0.0.5:6333/collections/docs/points/search/batch",
       AT_API_QDRANT_SEARCH, "qdrant"},
      {"http://localhost:8000/api/v1/collections/5f1e/query",
       AT_API_CHROMA_QUERY, "chroma"},
      {"http://chroma:8000/api/v2/tenants/t/databases/d/collections/c1/query",
       AT_API_CHROMA_QUERY, "chroma"},
      {"https://api.trychroma.com/api/v2/tenants/t/databases/d/collections/c1/"
       "query",
       AT_API_CHROMA_QUERY, "chroma"},
      {"https://api.trychroma.com/api/v2/tenants/t/databases/d/collections/c1/"
       "add",
       AT_API_OTHER_LLM, "chroma"},
      {"https://sandbox-1.weaviate.network/v1/graphql", AT_API_WEAVIATE_GRAPHQL,
       "weaviate"},
      {"https://abc.c0.europe-west3.gcp.weaviate.cloud/v1/graphql",
       AT_API_WEAVIATE_GRAPHQL, "weaviate"},
      {"https://sandbox-1.weaviate.network/v1/batch/objects", AT_API_OTHER_LLM,
       "weaviate"},
      {"http://localhost:8882/indexes/my-index/search", AT_API_MARQO_SEARCH,
       "marqo"},
      {"https://api.tavily.com/search", AT_API_TAVILY_SEARCH, "tavily"},
      {"https://api.tavily.com/extract", AT_API_OTHER_LLM, "tavily"},
      {"https://api.exa.ai/findSimilar", AT_API_EXA_SEARCH, "exa"},
      {"https://api.exa.ai/contents", AT_API_EXA_SEARCH, "exa"},
      {"https://google.serper.dev/news", AT_API_SERPER_SEARCH, "serper"},
      {"https://api.voyageai.com/v1/rerank", AT_API_RERANK, "voyageai"},
      {"https://api.voyageai.com/v1/embeddings", AT_API_OPENAI_EMBEDDINGS,
       "voyageai"},
      {"https://api.jina.ai/v1/rerank", AT_API_RERANK, "jina"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert(at_match_url(cases[i].url, &m), "%s", cases[i].url);
    cr_expect_eq(m.api, cases[i].api, "%s", cases[i].url);
    cr_expect_str_eq(m.provider, cases[i].provider, "%s", cases[i].url);
  }
  /* Weaviate's GraphQL path alone is not enough, nor a bare /query */
  cr_expect_not(at_match_url("https://example.com/v1/graphql", &m));
  cr_expect_not(at_match_url("https://example.com/query", &m));
  cr_expect_not(at_match_url("https://example.com/collections/x/points", &m));
  cr_expect_not(at_match_url("https://example.com/indexes/i/search", &m));
  /* a configured host speaks its service's API */
  cr_assert_eq(at_hosts_configure("vectors.corp=weaviate", NULL, 0), 1);
  cr_assert(at_match_url("https://vectors.corp/v1/graphql", &m));
  cr_expect_eq(m.api, AT_API_WEAVIATE_GRAPHQL);
  at_hosts_configure(NULL, NULL, 0);
}

Test(retrievers, pinecone_query_drops_vectors_and_keys) {
  char *text;
  cJSON *r = run_with_headers(
      "https://manuals-x7k2m9q.svc.us-east-1-aws.pinecone.io/query",
      "retrievers/pinecone_query.req.json",
      "retrievers/pinecone_query.resp.json",
      "Api-Key: pcsk_SECRET_pinecone_key\r\nContent-Type: application/json\r\n",
      &text);
  expect_retriever(r, "pinecone", "retrieval manuals");
  cr_expect_str_eq(jstr(r, "metadata.data_source_id"), "manuals");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_eq(jnum(r, "input.vector_dimensions"), 24);
  cr_expect_str_eq(jstr(r, "input.namespace"), "manuals");
  cr_expect_eq(jnum(r, "input.filter.year.$gte"), 2020);
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.includeValues")));
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_str_eq(jstr(d, "0.id"), "doc-1#c3");
  cr_expect_float_eq(jnum(d, "0.score"), 0.912, 1e-9);
  cr_expect_str_eq(jstr(d, "0.text"), "Grease the lock gate hinges monthly.");
  cr_expect_str_eq(jstr(d, "0.title"), "Gate care");
  cr_expect_eq(jnum(d, "0.metadata.page"), 3);
  cr_expect_str_eq(jstr(d, "0.metadata.source_url"), "https://x.test/a");
  cr_expect_eq(jnum(d, "0.metadata.embedding_copy.dimensions"), -1,
               "a vector in metadata is dropped");
  cr_expect_null(jget(d, "0.metadata.embedding_copy"));
  cr_expect_null(jget(d, "0.values"));
  /* a long text is cut at 2000 bytes, and says so */
  cr_expect_eq(strlen(jstr(d, "1.text")), 2000);
  cr_expect(cJSON_IsTrue(jget(d, "1.text_truncated")));
  cr_expect_str_eq(jstr(d, "1.url"), "https://manuals.test/b");
  cr_expect_eq(jnum(r, "metadata.read_units"), 5);
  cr_expect_null(jget(r, "usage"));
  cr_expect_null(strstr(text, "pcsk_SECRET"), "the Api-Key header leaked");
  cr_expect_str_eq(jstr(r, "http.request_headers.api-key"), "[REDACTED]");
  cr_expect_null(strstr(text, "0.23"), "a vector value reached the record");
  free(text);
  cJSON_Delete(r);
}

Test(retrievers, pinecone_records_search) {
  cJSON *r = fx_run("https://idx-abc1234.svc.us-east1-aws.pinecone.io/records/"
                    "namespaces/faq/search",
                    "retrievers/pinecone_records.req.json",
                    "retrievers/pinecone_records.resp.json", 200, NULL);
  expect_retriever(r, "pinecone", "retrieval idx");
  cr_expect_str_eq(jstr(r, "input.query"), "how to oil a hinge");
  cr_expect_str_eq(jstr(r, "input.namespace"), "faq");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "output.documents.0.id"), "rec-9");
  cr_expect_float_eq(jnum(r, "output.documents.0.score"), 0.71, 1e-9);
  cr_expect_str_eq(jstr(r, "output.documents.1.metadata.chunk_text"),
                   "Hinges rust in winter.");
  cr_expect_eq(jnum(r, "metadata.read_units"), 6);
  cr_expect_eq(jnum(r, "metadata.embed_total_tokens"), 5);
  cJSON_Delete(r);
}

Test(retrievers, qdrant_search_query_and_batch) {
  char *text;
  cJSON *r = run_with_headers(
      "http://localhost:6333/collections/rules/points/search",
      "retrievers/qdrant_search.req.json", "retrievers/qdrant_search.resp.json",
      "api-key: qdrant-SECRET-key\r\n", &text);
  expect_retriever(r, "qdrant", "retrieval rules");
  cr_expect_eq(jnum(r, "input.top_k"), 3);
  cr_expect_eq(jnum(r, "input.vector_dimensions"), 20);
  cr_expect_str_eq(jstr(r, "input.using"), "text-dense");
  cr_expect_str_eq(jstr(r, "input.filter.must.0.key"), "canal");
  cr_expect_float_eq(jnum(r, "model_parameters.score_threshold"), 0.2, 1e-9);
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_str_eq(jstr(d, "0.id"), "42", "numeric ids become text");
  cr_expect_float_eq(jnum(d, "0.score"), 0.88, 1e-9);
  cr_expect_str_eq(jstr(d, "0.text"), "Boats must give way at locks.");
  cr_expect_eq(jnum(d, "0.metadata.chapter"), 2);
  cr_expect_str_eq(jstr(d, "1.id"), "5c56c793-69f3-4fbf-87e6-c4bf54c28c26");
  cr_expect_null(strstr(text, "qdrant-SECRET"));
  free(text);
  cJSON_Delete(r);

  r = fx_run("http://localhost:6333/collections/rules/points/query",
             "retrievers/qdrant_query.req.json",
             "retrievers/qdrant_query.resp.json", 200, NULL);
  expect_retriever(r, "qdrant", "retrieval rules");
  cr_expect_str_eq(jstr(r, "input.query"), "mooring rules");
  cr_expect_str_eq(jstr(r, "input.using"), "text");
  cr_expect_str_eq(jstr(r, "output.documents.0.id"), "7");
  cr_expect_str_eq(jstr(r, "output.documents.0.text"),
                   "Moor on the towpath side.");
  cJSON_Delete(r);

  r = fx_run("http://localhost:6333/collections/rules/points/search/batch",
             "retrievers/qdrant_batch.req.json",
             "retrievers/qdrant_batch.resp.json", 200, NULL);
  cr_expect_eq(jnum(r, "input.batch"), 2);
  cr_expect_str_eq(jstr(r, "output.documents.1.id"), "2");
  cr_expect_eq(jnum(r, "output.documents.1.query_index"), 1);
  cJSON_Delete(r);
}

Test(retrievers, chroma_query_two_queries) {
  cJSON *r = fx_run("http://localhost:8000/api/v2/tenants/default_tenant/"
                    "databases/default_database/collections/c0ffee/query",
                    "retrievers/chroma_query.req.json",
                    "retrievers/chroma_query.resp.json", 200, NULL);
  expect_retriever(r, "chroma", "retrieval c0ffee");
  cr_expect_null(jget(r, "input.query"), "two queries: no single query text");
  cr_expect_str_eq(jstr(r, "input.queries.1"), "lift bridge");
  cr_expect_eq(jnum(r, "input.query_count"), 2);
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "input.filter.county"), "Kent");
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 3);
  cr_expect_str_eq(jstr(d, "0.id"), "b1");
  cr_expect_float_eq(jnum(d, "0.distance"), 0.12, 1e-9);
  cr_expect_str_eq(jstr(d, "0.text"), "A swing bridge pivots.");
  cr_expect_eq(jnum(d, "1.metadata.page"), 2);
  cr_expect_str_eq(jstr(d, "2.id"), "b3");
  cr_expect_eq(jnum(d, "2.query_index"), 1);
  cr_expect_null(jget(d, "2.metadata"));
  cJSON_Delete(r);
}

Test(retrievers, weaviate_graphql) {
  cJSON *r = fx_run("https://sandbox-1.weaviate.network/v1/graphql",
                    "retrievers/weaviate_graphql.req.json",
                    "retrievers/weaviate_graphql.resp.json", 200, NULL);
  expect_retriever(r, "weaviate", "retrieval Article");
  cr_expect_str_eq(jstr(r, "input.query"), "narrow \"boats\"");
  cr_expect_str_eq(jstr(r, "input.search"), "nearText");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_not_null(strstr(jstr(r, "input.graphql"), "Get { Article"));
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_str_eq(jstr(d, "0.id"), "0b1c2d3e-0000-4000-8000-000000000001");
  cr_expect_float_eq(jnum(d, "0.distance"), 0.14, 1e-9);
  cr_expect_str_eq(jstr(d, "0.title"), "Life aboard");
  cr_expect_str_eq(jstr(d, "0.text"), "Narrowboats are 7 feet wide.");
  cr_expect_null(jget(d, "0.metadata"));
  cJSON_Delete(r);

  r = fx_run("https://sandbox-1.weaviate.network/v1/graphql",
             "retrievers/weaviate_bm25.req.json",
             "retrievers/weaviate_bm25.resp.json", 200, NULL);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_str_eq(jstr(r, "status_message"),
                   "explainScore is not available for bm25");
  cr_expect_str_eq(jstr(r, "name"), "retrieval Lock");
  cr_expect_str_eq(jstr(r, "input.query"), "deep lock");
  cr_expect_str_eq(jstr(r, "input.search"), "bm25");
  cr_expect_float_eq(jnum(r, "output.documents.0.score"), 2.5, 1e-9);
  cr_expect_str_eq(jstr(r, "output.documents.0.metadata.name"), "Lock 8");
  cJSON_Delete(r);
}

Test(retrievers, tavily_api_key_in_body_never_stored) {
  char *text;
  cJSON *r = run_with_headers("https://api.tavily.com/search",
                              "retrievers/tavily.req.json",
                              "retrievers/tavily.resp.json",
                              "Content-Type: application/json\r\n", &text);
  expect_retriever(r, "tavily", "retrieval tavily/search");
  cr_expect_str_eq(jstr(r, "input.query"), "oldest canal in England");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "model_parameters.search_depth"), "basic");
  cr_expect(cJSON_IsTrue(jget(r, "model_parameters.include_answer")));
  cr_expect_null(jget(r, "model_parameters.api_key"));
  cr_expect_null(jget(r, "input.api_key"));
  cr_expect_null(strstr(text, "tvly-SECRET"), "Tavily's api_key leaked");
  cr_expect_null(strstr(text, "api_key"));
  cr_expect_str_eq(jstr(r, "response_id"), "tav-req-1");
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_str_eq(jstr(d, "0.url"), "https://history.test/fossdyke");
  cr_expect_str_eq(jstr(d, "0.title"), "Fossdyke - history");
  cr_expect_str_eq(jstr(d, "0.text"),
                   "The Fossdyke is thought to date from around 120 AD.");
  cr_expect_float_eq(jnum(d, "0.score"), 0.98, 1e-9);
  cr_expect_null(jget(d, "0.metadata"), "raw_content (null) is not kept");
  cr_expect_str_eq(jstr(r, "output.answer"),
                   "The Fossdyke, built by the Romans.");
  cr_expect_float_eq(jnum(r, "metadata.response_time_s"), 1.23, 1e-9);
  free(text);
  cJSON_Delete(r);
}

Test(retrievers, exa_and_serper) {
  cJSON *r = fx_run("https://api.exa.ai/search", "retrievers/exa.req.json",
                    "retrievers/exa.resp.json", 200, NULL);
  expect_retriever(r, "exa", "retrieval exa/search");
  cr_expect_str_eq(jstr(r, "input.query"), "canal restoration trusts");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "model_parameters.type"), "neural");
  cr_expect_str_eq(jstr(r, "response_id"), "exa-req-5");
  cr_expect_str_eq(jstr(r, "output.documents.0.id"), "https://trust.test/a");
  cr_expect_float_eq(jnum(r, "output.documents.0.score"), 0.31, 1e-9);
  cr_expect_str_eq(jstr(r, "output.documents.0.text"),
                   "Volunteers restore locks.");
  cr_expect_str_eq(jstr(r, "output.documents.0.metadata.author"), "K. Lock");
  cr_expect_float_eq(jnum(r, "metadata.cost_usd"), 0.006, 1e-12);
  cJSON_Delete(r);

  char *text;
  r = run_with_headers("https://google.serper.dev/news",
                       "retrievers/serper_news.req.json",
                       "retrievers/serper_news.resp.json",
                       "X-API-KEY: serper-SECRET-abc\r\n", &text);
  expect_retriever(r, "serper", "retrieval serper/news");
  cr_expect_str_eq(jstr(r, "input.query"), "canal reopening");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "model_parameters.tbs"), "qdr:w");
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_eq(jnum(d, "0.rank"), 1);
  cr_expect_str_eq(jstr(d, "0.url"), "https://news.test/1");
  cr_expect_str_eq(jstr(d, "0.text"), "The stretch reopened on Monday.");
  cr_expect_str_eq(jstr(d, "0.metadata.source"), "Local News");
  cr_expect_eq(jnum(r, "metadata.credits"), 1);
  cr_expect_null(strstr(text, "serper-SECRET"));
  free(text);
  cJSON_Delete(r);
}

Test(retrievers, marqo_search) {
  cJSON *r = fx_run("http://localhost:8882/indexes/cottages/search",
                    "retrievers/marqo.req.json", "retrievers/marqo.resp.json",
                    200, NULL);
  expect_retriever(r, "marqo", "retrieval cottages");
  cr_expect_str_eq(jstr(r, "input.query"), "lock keeper cottage");
  cr_expect_str_eq(jstr(r, "input.filter"), "county:Kent");
  cr_expect_str_eq(jstr(r, "output.documents.0.id"), "cott-1");
  cr_expect_str_eq(jstr(r, "output.documents.0.title"), "Keeper's cottage");
  cr_expect_str_eq(jstr(r, "output.documents.0.metadata.Description"),
                   "A cottage by lock 3.");
  cr_expect_null(jget(r, "output.documents.0.metadata._highlights"));
  cJSON_Delete(r);
}

Test(retrievers, rerank_cohere_and_voyage) {
  cJSON *r =
      fx_run("https://api.cohere.com/v2/rerank", "cohere/rerank.req.json",
             "cohere/rerank.resp.json", 200, NULL);
  expect_retriever(r, "cohere", "retrieval rerank-v3.5");
  cr_expect_str_eq(jstr(r, "request_model"), "rerank-v3.5");
  cr_expect_str_eq(jstr(r, "input.query"), "Which lock is deepest?");
  cr_expect_eq(jnum(r, "input.top_k"), 2);
  cr_expect_str_eq(jstr(r, "input.documents.2"), "Lock 9 is shallow.");
  cr_expect_str_eq(jstr(r, "response_id"), "rr-1");
  const cJSON *d = jget(r, "output.documents");
  cr_assert_eq(jsize(d, ""), 2);
  cr_expect_eq(jnum(d, "0.index"), 1);
  cr_expect_float_eq(jnum(d, "0.score"), 0.91, 1e-9);
  cr_expect_str_eq(jstr(d, "0.text"), "Lock 8 is 4.1 m deep.");
  cr_expect_str_eq(jstr(d, "1.text"), "Lock 7 is 3.2 m deep.");
  cr_expect_eq(jnum(r, "metadata.billed_units.search_units"), 1);
  cr_expect_null(jget(r, "usage"));
  cJSON_Delete(r);

  r = fx_run("https://api.voyageai.com/v1/rerank", "cohere/rerank.req.json",
             "retrievers/voyage_rerank.resp.json", 200, NULL);
  expect_retriever(r, "voyageai", "retrieval rerank-v3.5");
  cr_expect_str_eq(jstr(r, "response_model"), "rerank-2");
  cr_expect_eq(jnum(r, "output.documents.0.index"), 2);
  cr_expect_str_eq(jstr(r, "output.documents.0.text"), "Lock 9 is shallow.");
  cr_expect_eq(jnum(r, "usage.input_tokens"), 31);
  cJSON_Delete(r);
}

Test(retrievers, errors_and_broken_bodies) {
  struct at_exchange ex = fx_exchange(
      "http://localhost:6333/collections/nope/points/search",
      "{\"vector\":[1,2],\"limit\":1}",
      "{\"status\":{\"error\":\"Not found: Collection `nope` doesn't exist!\"},"
      "\"time\":0.0001}",
      404, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "level"), "ERROR");
  cr_expect_not_null(strstr(jstr(r, "status_message"), "doesn't exist"));
  cr_expect_str_eq(jstr(r, "name"), "retrieval nope");
  cJSON_Delete(r);

  static const struct {
    const char *url, *req, *resp;
  } cases[] = {
      {"https://i-abc1234.svc.x.pinecone.io/query", "{\"topK\":\"3\"}",
       "{\"matches\":{}}"},
      {"http://h/collections/c/points/query", "{\"query\":{}}",
       "{\"result\":7}"},
      {"http://h/api/v1/collections/c/query", "{\"query_texts\":[1]}",
       "{\"ids\":[[1,{}],\"x\"],\"distances\":[\"no\"]}"},
      {"https://w.weaviate.network/v1/graphql", "{\"query\":7}",
       "{\"data\":[]}"},
      {"https://api.tavily.com/search", "[]", "{\"results\":\"none\"}"},
      {"https://google.serper.dev/search", "{\"q\":{}}", "{\"organic\":7}"},
      {"https://api.cohere.com/v1/rerank", "{\"documents\":{}}",
       "{\"results\":[{\"index\":99999999999},7]}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ex = fx_exchange(cases[i].url, cases[i].req, cases[i].resp, 200, NULL);
    r = fx_parse(&ex);
    cr_expect_str_eq(jstr(r, "type"), "retriever", "case %zu", i);
    cr_expect_not_null(jget(r, "metadata.parse_error"), "case %zu", i);
    cJSON_Delete(r);
  }
}

Test(retrievers, documents_are_capped) {
  /* 150 matches: 100 kept, the rest counted */
  size_t cap = 150 * 64 + 64;
  char *resp = malloc(cap);
  size_t n = (size_t)snprintf(resp, cap, "{\"matches\":[");
  for (int i = 0; i < 150; i++)
    n += (size_t)snprintf(resp + n, cap - n, "%s{\"id\":\"m%d\",\"score\":0.5}",
                          i ? "," : "", i);
  snprintf(resp + n, cap - n, "]}");
  struct at_exchange ex =
      fx_exchange("https://i-abc1234.svc.x.pinecone.io/query",
                  "{\"topK\":150,\"id\":\"m0\"}", resp, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jsize(r, "output.documents"), 100);
  cr_expect_eq(jnum(r, "output.documents_omitted"), 50);
  cr_expect_str_eq(jstr(r, "input.id"), "m0");
  cJSON_Delete(r);
  free(resp);
}

Test(retrievers, devector_replaces_only_long_number_arrays) {
  char text[1024];
  size_t n = (size_t)snprintf(
      text, sizeof text,
      "{\"v\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17],"
      "\"short\":[1,2,3],\"s\":\"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\","
      "\"mixed\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,\"x\"],"
      "\"nested\":[[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,"
      "0.5,0.5,0.5,0.5],[1e3]]}");
  size_t len;
  char *out = at_json_devector(text, n, &len);
  cr_assert_not_null(out);
  cr_expect_eq(strlen(out), len);
  cr_expect_str_eq(out,
                   "{\"v\":{\"$autotrace_vector\":17},\"short\":[1,2,3],"
                   "\"s\":\"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]\","
                   "\"mixed\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,\"x\"],"
                   "\"nested\":[{\"$autotrace_vector\":18},[1e3]]}");
  free(out);
  cr_expect_null(at_json_devector("{\"a\":[1,2]}", 11, &len), "none to do");
  cr_expect_null(at_json_devector("{\"a\":[1,2", 9, &len), "not JSON");
}

Test(retrievers, long_vectors_are_counted_not_parsed) {
  /* a 1024-dimension Ollama embedding and a 768-dimension Chroma query */
  size_t cap = 64 * 1024;
  char *resp = malloc(cap), *req = malloc(cap);
  size_t n = (size_t)snprintf(resp, cap, "{\"model\":\"m\",\"embeddings\":[[");
  for (int i = 0; i < 1024; i++)
    n += (size_t)snprintf(resp + n, cap - n, "%s-0.0%d", i ? "," : "", i);
  snprintf(resp + n, cap - n, "]],\"prompt_eval_count\":3}");
  struct at_exchange ex =
      fx_exchange("http://localhost:11434/api/embed",
                  "{\"model\":\"m\",\"input\":\"x\"}", resp, 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "output.count"), 1);
  cr_expect_eq(jnum(r, "output.dimensions"), 1024);
  cJSON_Delete(r);

  n = (size_t)snprintf(req, cap, "{\"query_embeddings\":[[");
  for (int i = 0; i < 768; i++)
    n += (size_t)snprintf(req + n, cap - n, "%s0.%d", i ? "," : "", i);
  snprintf(req + n, cap - n, "]],\"n_results\":1}");
  ex = fx_exchange("http://localhost:8000/api/v1/collections/c/query", req,
                   "{\"ids\":[[\"a\"]],\"distances\":[[0.5]],\"embeddings\":"
                   "[[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]]]}",
                   200, NULL);
  r = fx_parse(&ex);
  cr_expect_eq(jnum(r, "input.vector_dimensions"), 768);
  cr_expect_str_eq(jstr(r, "output.documents.0.id"), "a");
  char *text = cJSON_PrintUnformatted(r);
  cr_expect_null(strstr(text, "autotrace_vector"), "placeholder leaked");
  free(text);
  cJSON_Delete(r);
  free(req);
  free(resp);
}
