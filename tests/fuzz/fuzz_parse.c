/* fuzz_parse: libFuzzer target for everything at_parse_exchange() reaches.
 *
 * Input layout (so that seeds can be written by hand):
 *   byte 0      API: value % N_APIS (chat, completions, embeddings,
 *               responses, messages, Gemini generate, Gemini embed); for
 *               the Gemini APIs a value >= 128 picks a Vertex AI URL;
 *               a value in [64, 128) picks Bedrock instead: (v - 64) % 3
 *               Converse, InvokeModel, embeddings, and (v - 64) / 3 the
 *               model in the URL (one of bedrock_models); bit0 of the
 *               flags then means an event-stream content type;
 *               a value in [32, 64) picks Cohere, Ollama or a retriever:
 *               native_apis[(v - 32) % N_NATIVE], with its own URL, and
 *               bit0 of the flags its stream content type
 *   byte 1      flags: bit0 SSE content-type, bit1..2 status (200, 400,
 *               0 + transport error, 503), bit3 request truncated,
 *               bit4 response truncated, bit5 metadata only, bit6 chunk
 *               marks, bit7 also exercise URL/header helpers on the data
 *   bytes 2..3  request length, little endian (clamped to what is left)
 *   then        request bytes, then response bytes.
 * Anything goes; the target checks that a record comes back and that it
 * prints as valid UTF-8 JSON, and that the stream tokenizer (jsontok) never
 * accepts text cJSON rejects. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/json_util.h"
#include "providers/jsontok.h"
#include "providers/providers.h"
#include "providers/redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum at_api apis[] = {
    AT_API_OPENAI_CHAT,        AT_API_OPENAI_COMPLETIONS,
    AT_API_OPENAI_EMBEDDINGS,  AT_API_OPENAI_RESPONSES,
    AT_API_ANTHROPIC_MESSAGES, AT_API_GEMINI_GENERATE,
    AT_API_GEMINI_EMBED};
#define N_APIS (sizeof apis / sizeof apis[0])

/* Cohere, Ollama and the retrievers read their URL (index, collection,
 * namespace): each comes with one. */
static const struct {
  enum at_api api;
  const char *url, *stream_type;
} native_apis[] = {
    {AT_API_COHERE_CHAT, "https://api.cohere.com/v2/chat", "text/event-stream"},
    {AT_API_COHERE_CHAT_V1, "https://api.cohere.com/v1/chat",
     "application/stream+json"},
    {AT_API_COHERE_GENERATE, "https://api.cohere.com/v1/generate",
     "application/stream+json"},
    {AT_API_COHERE_EMBED, "https://api.cohere.com/v2/embed", "x/y"},
    {AT_API_RERANK, "https://api.cohere.com/v2/rerank", "x/y"},
    {AT_API_OLLAMA_CHAT, "http://localhost:11434/api/chat",
     "application/x-ndjson"},
    {AT_API_OLLAMA_GENERATE, "http://localhost:11434/api/generate",
     "application/x-ndjson"},
    {AT_API_OLLAMA_EMBED, "http://localhost:11434/api/embed", "x/y"},
    {AT_API_PINECONE_QUERY,
     "https://idx-abc1234.svc.us-east1-aws.pinecone.io/records/namespaces/"
     "n%2F1/search",
     "x/y"},
    {AT_API_QDRANT_SEARCH, "http://q:6333/collections/c/points/search/batch",
     "x/y"},
    {AT_API_CHROMA_QUERY,
     "http://c:8000/api/v2/tenants/t/databases/d/collections//query", "x/y"},
    {AT_API_WEAVIATE_GRAPHQL, "https://w.weaviate.network/v1/graphql", "x/y"},
    {AT_API_MARQO_SEARCH, "http://localhost:8882/indexes/i/search", "x/y"},
    {AT_API_TAVILY_SEARCH, "https://api.tavily.com/search", "x/y"},
    {AT_API_EXA_SEARCH, "https://api.exa.ai/findSimilar", "x/y"},
    {AT_API_SERPER_SEARCH, "https://google.serper.dev/", "x/y"},
};
#define N_NATIVE (sizeof native_apis / sizeof native_apis[0])

static const enum at_api bedrock_apis[] = {
    AT_API_BEDROCK_CONVERSE, AT_API_BEDROCK_INVOKE, AT_API_BEDROCK_EMBED};
/* one per InvokeModel family, and ids that name none */
static const char *const bedrock_models[] = {
    "us.anthropic.claude-3-7-sonnet-20250219-v1%3A0",
    "meta.llama3-1-70b-instruct-v1%3A0",
    "amazon.titan-text-express-v1",
    "amazon.nova-micro-v1%3A0",
    "mistral.mistral-7b-instruct-v0%3A2",
    "cohere.command-r-v1%3A0",
    "ai21.jamba-1-5-mini-v1%3A0",
    "deepseek.r1-v1%3A0",
    "amazon.titan-embed-text-v2%3A0",
    "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fx",
    "%FF%00bad%3",
};

static char *dup_n(const uint8_t *p, size_t n) {
  char *s = malloc(n + 1);
  if (!s)
    abort();
  if (n)
    memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4)
    return 0;
  enum at_api api = apis[data[0] % N_APIS];
  int vertex = data[0] >= 128;
  int bedrock = data[0] >= 64 && data[0] < 128;
  unsigned bsel = (unsigned)data[0] - 64u;
  if (bedrock)
    api = bedrock_apis[bsel % 3];
  int native = data[0] >= 32 && data[0] < 64;
  size_t nsel = native ? ((size_t)data[0] - 32) % N_NATIVE : 0;
  if (native)
    api = native_apis[nsel].api;
  uint8_t flags = data[1];
  size_t req_len = (size_t)data[2] | ((size_t)data[3] << 8);
  data += 4;
  size -= 4;
  if (req_len > size)
    req_len = size;
  /* exact-size copies so that ASan sees any read past the end */
  char *req = dup_n(data, req_len);
  char *resp = dup_n(data + req_len, size - req_len);
  size_t resp_len = size - req_len;

  static const int statuses[] = {200, 400, 0, 503};
  struct at_exchange ex;
  memset(&ex, 0, sizeof ex);
  ex.method = "POST";
  ex.url = (flags & 128) ? "https://r.openai.azure.com/openai/deployments/d%41/"
                           "x?api-version=v&key=k"
                         : "https://api.example.test/v1/x?key=k";
  if (api == AT_API_GEMINI_GENERATE || api == AT_API_GEMINI_EMBED)
    ex.url = vertex
                 ? "https://us-central1-aiplatform.googleapis.com/v1/projects/"
                   "p/locations/l/publishers/google/models/gemini-2.5-flash:"
                   "streamGenerateContent?%24alt=json%3Benum-encoding%3Dint"
                 : "https://generativelanguage.googleapis.com/v1beta/models/"
                   "gemini-2.5-flash:streamGenerateContent?key=k";
  ex.req_headers = "Authorization: Bearer k\r\n";
  ex.req_headers_len = strlen(ex.req_headers);
  ex.resp_headers = (flags & 1) ? "HTTP/1.1 200 OK\r\n"
                                  "Content-Type: text/event-stream\r\n"
                                : "HTTP/1.1 200 OK\r\n";
  ex.resp_headers_len = strlen(ex.resp_headers);
  char burl[256];
  if (bedrock) {
    static const char *const actions[] = {
        "converse-stream", "invoke-with-response-stream", "invoke"};
    size_t nm = sizeof bedrock_models / sizeof bedrock_models[0];
    snprintf(burl, sizeof burl,
             "https://bedrock-runtime.us-east-1.amazonaws.com/model/%s/%s",
             bedrock_models[(bsel / 3) % nm], actions[bsel % 3]);
    ex.url = burl;
    ex.resp_headers =
        (flags & 1) ? "HTTP/1.1 200 OK\r\n"
                      "Content-Type: application/vnd.amazon.eventstream\r\n"
                      "x-amzn-RequestId: r-1\r\n"
                    : "HTTP/1.1 200 OK\r\nx-amzn-RequestId: r-1\r\n"
                      "X-Amzn-Bedrock-Input-Token-Count: 5\r\n"
                      "x-amzn-ErrorType: ValidationException:x\r\n";
    ex.resp_headers_len = strlen(ex.resp_headers);
  }
  char ntype[96];
  if (native) {
    ex.url = native_apis[nsel].url;
    snprintf(ntype, sizeof ntype, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n",
             (flags & 1) ? native_apis[nsel].stream_type : "application/json");
    ex.resp_headers = ntype;
    ex.resp_headers_len = strlen(ntype);
  }
  ex.req_body = req;
  ex.req_body_len = req_len;
  ex.resp_body = resp;
  ex.resp_body_len = resp_len;
  ex.status = statuses[(flags >> 1) & 3];
  if (ex.status == 0) {
    ex.transport_error = 28;
    ex.transport_error_msg = "timed out";
  }
  ex.req_body_truncated = (flags >> 3) & 1;
  ex.resp_body_truncated = (flags >> 4) & 1;
  ex.t_start_ns = 1;
  ex.t_first_byte_ns = 2;
  ex.t_end_ns = 3;
  if (flags & 64) {
    for (size_t i = 0; i < AT_MAX_CHUNK_MARKS; i++) {
      ex.marks[i].offset = resp_len * i / AT_MAX_CHUNK_MARKS;
      ex.marks[i].t_ns = 10 + (int64_t)i;
    }
    ex.nmarks = AT_MAX_CHUNK_MARKS;
  }
  ex.capture_path = "fuzz";

  struct at_match m = {api, "fuzz"};
  struct at_parse_opts opts = {.capture_metadata_only = (flags >> 5) & 1,
                               .capture_binary = (flags >> 7) & 1};
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, &m, &opts, &skip);
  if (!rec)
    abort(); /* only allocation failure may give NULL here */
  char *text = cJSON_PrintUnformatted(rec);
  if (!text || !at_utf8_valid(text, strlen(text)))
    abort();
  free(text);
  cJSON_Delete(rec);

  if (flags & 128) {
    /* the request bytes as a URL and host spec, the response as headers */
    struct at_match mm;
    at_match_url(req, &mm);
    char *u = at_redact_url(req);
    free(u);
    char err[128];
    at_hosts_configure(req, err, sizeof err);
    at_match_url("http://localhost:8000/v1/chat/completions", &mm);
    at_hosts_configure(NULL, NULL, 0);
    cJSON *h = at_redact_headers(resp, resp_len);
    cJSON_Delete(h);
  }
  /* jsontok is the stricter reader; surrogate escapes are the exception
   * (it turns a lone one into U+FFFD where cJSON gives up). */
  struct jt jt;
  jt_init(&jt);
  if (jt_parse(&jt, req, req_len) == 0 && !memmem(req, req_len, "\\ud", 3) &&
      !memmem(req, req_len, "\\uD", 3)) {
    cJSON *c = cJSON_ParseWithLength(req, req_len);
    if (!c)
      abort();
    cJSON_Delete(c);
  }
  jt_free(&jt);
  free(req);
  free(resp);
  return 0;
}
