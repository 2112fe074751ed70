/* parse_bench: how fast the parsers turn one exchange into a record.
 *
 * For every API the parsers handle, a typical exchange is built in memory
 * from synthetic bodies written here (a 5-20 KB plain JSON exchange, and a
 * stream of 200 events), checked once (the record must have usage and
 * output and no parse error: a bench of the error path would flatter), then
 * at_parse_exchange() runs on it in a loop for about a second on one CPU.
 * Reported: exchanges per CPU-second against the targets (20,000/s plain,
 * 10,000/s streams), microseconds per exchange, allocations per exchange,
 * and the peak of live heap bytes while one exchange is parsed (record
 * included), measured by counting malloc/free over 100 exchanges before
 * the timed loop (not under ASan).
 *
 *   build/bench/parse_bench [-t SECONDS] [-f FILTER] [-c CPU]
 *
 * Each case runs SECONDS of thread CPU time in eleven slices; the median
 * slice's rate is reported. FILTER picks the cases whose "API shape" label
 * contains it, or, written
 * "=label", the one case with exactly that label.
 *
 * Exit status 1 when an exchange does not parse cleanly (a bench or parser
 * bug); missed targets are reported, not fatal. */
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "providers/providers.h"

/* ---- heap accounting ---------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define COUNT_HEAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define COUNT_HEAP 0
#endif
#endif
#ifndef COUNT_HEAP
#define COUNT_HEAP 1
#endif

static long long heap_live, heap_peak, heap_allocs;
static int heap_counting; /* off while timing: the count costs time too */

#if COUNT_HEAP
/* glibc's own entry points; the wrappers below replace malloc for the whole
 * process (libcjson included: they are exported), and count usable bytes,
 * which free can subtract without a header. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static void heap_add(void *p) {
  if (!heap_counting)
    return;
  heap_live += (long long)malloc_usable_size(p);
  heap_allocs++;
  if (heap_live > heap_peak)
    heap_peak = heap_live;
}

__attribute__((visibility("default"))) void *malloc(size_t n) {
  void *p = __libc_malloc(n);
  if (p)
    heap_add(p);
  return p;
}

__attribute__((visibility("default"))) void *calloc(size_t n, size_t size) {
  void *p = __libc_calloc(n, size);
  if (p)
    heap_add(p);
  return p;
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n) {
  long long old = p ? (long long)malloc_usable_size(p) : 0;
  void *q = __libc_realloc(p, n);
  if (q) {
    if (heap_counting)
      heap_live -= old;
    heap_add(q);
  } else if (n == 0 && heap_counting) {
    heap_live -= old; /* glibc frees */
  }
  return q;
}

__attribute__((visibility("default"))) void free(void *p) {
  if (p && heap_counting)
    heap_live -= (long long)malloc_usable_size(p);
  __libc_free(p);
}
#endif

/* ---- building bodies ---------------------------------------------------- */

struct buf {
  char *p;
  size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0,
                      fmt, ap);
    va_end(ap);
    if (n < 0)
      abort();
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + (size_t)n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np)
      abort();
    b->p = np;
    b->cap = cap;
  }
}

static void put_bytes(struct buf *b, const void *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np)
      abort();
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* Deterministic prose, JSON-safe, with an escape and a non-ASCII word now
 * and then, about `bytes` long. */
static unsigned rng = 12345;
static unsigned next_rand(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 16;
}

static void prose(struct buf *b, size_t bytes) {
  static const char *const words[] = {
      "the",    "model",   "returns", "a",          "summary",      "of",
      "each",   "invoice", "with",    "totals",     "and",          "dates",
      "café",   "naïve",   "résumé",  "\\\"ok\\\"", "line\\nbreak", "tokens",
      "stream", "context", "window",  "cache",      "pricing",      "tier"};
  size_t start = b->len;
  while (b->len - start < bytes) {
    const char *w = words[next_rand() % (sizeof words / sizeof words[0])];
    put(b, "%s%s", b->len > start ? " " : "", w);
  }
}

static char *take(struct buf *b, size_t *len) {
  *len = b->len;
  return b->p;
}

/* OpenAI-style chat messages, about `bytes` of text in all. */
static void chat_messages(struct buf *b, size_t bytes) {
  put(b, "[{\"role\":\"system\",\"content\":\"");
  prose(b, 600);
  put(b, "\"}");
  size_t per = bytes / 8;
  for (int i = 0; i < 8; i++) {
    put(b, ",{\"role\":\"%s\",\"content\":\"", i % 2 ? "assistant" : "user");
    prose(b, per);
    put(b, "\"}");
  }
  put(b, "]");
}

static const char *const TOOLS_JSON =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_invoice\","
    "\"description\":\"Fetch one invoice by id\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"id\":{\"type\":\"string\"},\"currency\":"
    "{\"type\":\"string\",\"enum\":[\"EUR\",\"USD\"]}},\"required\":"
    "[\"id\"]}}}]";

/* ---- the exchanges ------------------------------------------------------ */

struct bench_case {
  const char *name;  /* API */
  const char *shape; /* plain / stream */
  const char *url;
  const char *resp_headers;
  char *req, *resp;
  size_t req_len, resp_len;
};

#define CT_JSON "Content-Type: application/json\r\n"
#define CT_SSE "Content-Type: text/event-stream\r\n"
#define CT_NDJSON "Content-Type: application/x-ndjson\r\n"
#define CT_AWS "Content-Type: application/vnd.amazon.eventstream\r\n"

static void openai_chat(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"gpt-4o-mini\",\"temperature\":0.2,\"messages\":");
  chat_messages(&q, 8000);
  put(&q, ",\"tools\":%s%s}", TOOLS_JSON,
      stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"
             : "");
  if (!stream) {
    put(&r, "{\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion\","
            "\"created\":1763700000,\"model\":\"gpt-4o-mini-2024-07-18\","
            "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
            "\"content\":\"");
    prose(&r, 4500);
    put(&r, "\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":"
            "\"stop\"}],\"usage\":{\"prompt_tokens\":2400,"
            "\"completion_tokens\":1100,\"total_tokens\":3500,"
            "\"prompt_tokens_details\":{\"cached_tokens\":1024,"
            "\"audio_tokens\":0},\"completion_tokens_details\":{"
            "\"reasoning_tokens\":0,\"audio_tokens\":0}},\"service_tier\":"
            "\"default\",\"system_fingerprint\":\"fp_b1\"}");
  } else {
    for (int i = 0; i < 200; i++) {
      put(&r,
          "data: {\"id\":\"chatcmpl-b1\",\"object\":"
          "\"chat.completion.chunk\",\"created\":1763700000,\"model\":"
          "\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\","
          "\"system_fingerprint\":\"fp_b1\",\"choices\":[{\"index\":0,"
          "\"delta\":{%s\"content\":\"",
          i == 0 ? "\"role\":\"assistant\"," : "");
      prose(&r, 18);
      /* with include_usage every chunk has "usage":null; "obfuscation"
       * pads each to a random length (OpenAI, 2025 on) */
      put(&r,
          "\"},\"logprobs\":null,\"finish_reason\":%s}],\"usage\":null,"
          "\"obfuscation\":\"%.*s\"}\n\n",
          i == 199 ? "\"stop\"" : "null", (int)(next_rand() % 12),
          "Xq3vK9pLm2Tz");
    }
    put(&r, "data: {\"id\":\"chatcmpl-b1\",\"object\":\"chat.completion."
            "chunk\",\"created\":1763700000,\"model\":\"gpt-4o-mini-2024-07-"
            "18\",\"choices\":[],\"usage\":{\"prompt_tokens\":2400,"
            "\"completion_tokens\":200,\"total_tokens\":2600}}\n\n"
            "data: [DONE]\n\n");
  }
  c->url = "https://api.openai.com/v1/chat/completions";
  c->resp_headers = stream ? CT_SSE : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void openai_completions(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"gpt-3.5-turbo-instruct\",\"max_tokens\":400,"
          "\"prompt\":\"");
  prose(&q, 8000);
  put(&q, "\"%s}", stream ? ",\"stream\":true" : "");
  if (!stream) {
    put(&r, "{\"id\":\"cmpl-b2\",\"object\":\"text_completion\",\"created\":"
            "1763700000,\"model\":\"gpt-3.5-turbo-instruct\",\"choices\":[{"
            "\"text\":\"");
    prose(&r, 4500);
    put(&r, "\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"length\"}],"
            "\"usage\":{\"prompt_tokens\":2000,\"completion_tokens\":400,"
            "\"total_tokens\":2400}}");
  } else {
    for (int i = 0; i < 200; i++) {
      put(&r, "data: {\"id\":\"cmpl-b2\",\"object\":\"text_completion\","
              "\"created\":1763700000,\"choices\":[{\"text\":\"");
      prose(&r, 18);
      put(&r,
          "\",\"index\":0,\"logprobs\":null,\"finish_reason\":%s}],"
          "\"model\":\"gpt-3.5-turbo-instruct\"}\n\n",
          i == 199 ? "\"length\"" : "null");
    }
    put(&r, "data: {\"id\":\"cmpl-b2\",\"object\":\"text_completion\","
            "\"created\":1763700000,\"choices\":[],\"model\":\"gpt-3.5-turbo-"
            "instruct\",\"usage\":{\"prompt_tokens\":2000,"
            "\"completion_tokens\":200,\"total_tokens\":2200}}\n\n"
            "data: [DONE]\n\n");
  }
  c->url = "https://api.openai.com/v1/completions";
  c->resp_headers = stream ? CT_SSE : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void openai_embeddings(struct bench_case *c, int stream) {
  (void)stream;
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"text-embedding-3-small\",\"input\":[");
  for (int i = 0; i < 8; i++) {
    put(&q, "%s\"", i ? "," : "");
    prose(&q, 700);
    put(&q, "\"");
  }
  put(&q, "]}");
  put(&r, "{\"object\":\"list\",\"data\":[");
  for (int i = 0; i < 8; i++) {
    put(&r, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":[",
        i ? "," : "", i);
    for (int d = 0; d < 128; d++)
      put(&r, "%s%.8f", d ? "," : "", (double)(next_rand() % 20000) / 1e4 - 1);
    put(&r, "]}");
  }
  put(&r, "],\"model\":\"text-embedding-3-small\",\"usage\":{"
          "\"prompt_tokens\":1400,\"total_tokens\":1400}}");
  c->url = "https://api.openai.com/v1/embeddings";
  c->resp_headers = CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void responses_body(struct buf *r, const char *status, size_t text) {
  put(r,
      "{\"id\":\"resp_b3\",\"object\":\"response\",\"created_at\":"
      "1763700000,\"status\":\"%s\",\"model\":\"gpt-4.1-2025-04-14\","
      "\"output\":[{\"id\":\"msg_b3\",\"type\":\"message\",\"status\":"
      "\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
      "\"output_text\",\"annotations\":[],\"text\":\"",
      status);
  prose(r, text);
  put(r, "\"}]}],\"usage\":{\"input_tokens\":2400,\"input_tokens_details\":"
         "{\"cached_tokens\":0},\"output_tokens\":1100,"
         "\"output_tokens_details\":{\"reasoning_tokens\":0},"
         "\"total_tokens\":3500}}");
}

static void openai_responses(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"gpt-4.1\",\"instructions\":\"");
  prose(&q, 600);
  put(&q, "\",\"input\":");
  chat_messages(&q, 8000);
  put(&q, "%s}", stream ? ",\"stream\":true" : "");
  if (!stream) {
    responses_body(&r, "completed", 4500);
  } else {
    put(&r, "event: response.created\ndata: {\"type\":\"response.created\","
            "\"sequence_number\":0,\"response\":{\"id\":\"resp_b3\","
            "\"object\":\"response\",\"status\":\"in_progress\",\"model\":"
            "\"gpt-4.1-2025-04-14\",\"output\":[]}}\n\n");
    for (int i = 0; i < 198; i++) {
      put(&r,
          "event: response.output_text.delta\ndata: {\"type\":"
          "\"response.output_text.delta\",\"sequence_number\":%d,"
          "\"item_id\":\"msg_b3\",\"output_index\":0,\"content_index\":0,"
          "\"delta\":\"",
          i + 1);
      prose(&r, 18);
      put(&r, "\",\"logprobs\":[],\"obfuscation\":\"%.*s\"}\n\n",
          (int)(next_rand() % 12), "Pz8wQ1rTk4Ln");
    }
    put(&r, "event: response.completed\ndata: {\"type\":"
            "\"response.completed\",\"sequence_number\":199,\"response\":");
    responses_body(&r, "completed", 3600);
    put(&r, "}\n\n");
  }
  c->url = "https://api.openai.com/v1/responses";
  c->resp_headers = stream ? CT_SSE : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void anthropic_messages(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":2048,\"system\":\"");
  prose(&q, 600);
  put(&q, "\",\"messages\":[");
  for (int i = 0; i < 8; i++) {
    put(&q, "%s{\"role\":\"%s\",\"content\":[{\"type\":\"text\",\"text\":\"",
        i ? "," : "", i % 2 ? "assistant" : "user");
    prose(&q, 1000);
    put(&q, "\"}]}");
  }
  put(&q, "]%s}", stream ? ",\"stream\":true" : "");
  if (!stream) {
    put(&r, "{\"id\":\"msg_b4\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":"
            "\"text\",\"text\":\"");
    prose(&r, 4500);
    put(&r, "\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
            "\"usage\":{\"input_tokens\":2400,\"cache_creation_input_tokens\":"
            "0,\"cache_read_input_tokens\":1024,\"output_tokens\":1100,"
            "\"service_tier\":\"standard\"}}");
  } else {
    put(&r, "event: message_start\ndata: {\"type\":\"message_start\","
            "\"message\":{\"id\":\"msg_b4\",\"type\":\"message\",\"role\":"
            "\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\","
            "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
            "\"usage\":{\"input_tokens\":2400,\"cache_read_input_tokens\":"
            "1024,\"output_tokens\":1}}}\n\n"
            "event: content_block_start\ndata: {\"type\":"
            "\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
            "\"text\",\"text\":\"\"}}\n\n");
    for (int i = 0; i < 195; i++) {
      put(&r, "event: content_block_delta\ndata: {\"type\":"
              "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
              "\"text_delta\",\"text\":\"");
      prose(&r, 18);
      put(&r, "\"}}\n\n");
    }
    put(&r, "event: content_block_stop\ndata: {\"type\":"
            "\"content_block_stop\",\"index\":0}\n\n"
            "event: message_delta\ndata: {\"type\":\"message_delta\","
            "\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},"
            "\"usage\":{\"output_tokens\":200}}\n\n"
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  }
  c->url = "https://api.anthropic.com/v1/messages";
  c->resp_headers = stream ? CT_SSE : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void gemini_request(struct buf *q) {
  put(q, "{\"systemInstruction\":{\"parts\":[{\"text\":\"");
  prose(q, 600);
  put(q, "\"}]},\"contents\":[");
  for (int i = 0; i < 8; i++) {
    put(q, "%s{\"role\":\"%s\",\"parts\":[{\"text\":\"", i ? "," : "",
        i % 2 ? "model" : "user");
    prose(q, 1000);
    put(q, "\"}]}");
  }
  put(q, "],\"generationConfig\":{\"temperature\":0.2,\"maxOutputTokens\":"
         "2048}}");
}

/* One GenerateContentResponse: `n` is the chunk's number, the usage so
 * far grows with it as Gemini's does. */
static void gemini_chunk(struct buf *r, size_t text, int last, int n) {
  put(r, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"");
  prose(r, text);
  put(r,
      "\"}],\"role\":\"model\"}%s,\"index\":0}],\"usageMetadata\":{"
      "\"promptTokenCount\":2400,\"candidatesTokenCount\":%d,"
      "\"totalTokenCount\":%d},\"modelVersion\":\"gemini-2.5-flash\","
      "\"responseId\":\"gem-b5\"}",
      last ? ",\"finishReason\":\"STOP\"" : "", last ? 1100 : 5 * n + 5,
      last ? 3500 : 2405 + 5 * n);
}

static void gemini(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  gemini_request(&q);
  if (stream == 0) {
    gemini_chunk(&r, 4500, 1, 0);
    c->url = "https://generativelanguage.googleapis.com/v1beta/models/"
             "gemini-2.5-flash:generateContent";
    c->resp_headers = CT_JSON;
  } else if (stream == 1) {
    for (int i = 0; i < 200; i++) {
      put(&r, "data: ");
      gemini_chunk(&r, 18, i == 199, i);
      put(&r, "\r\n\r\n");
    }
    c->url = "https://generativelanguage.googleapis.com/v1beta/models/"
             "gemini-2.5-flash:streamGenerateContent?alt=sse";
    c->resp_headers = CT_SSE;
  } else {
    put(&r, "[");
    for (int i = 0; i < 200; i++) {
      put(&r, "%s", i ? ",\r\n" : "");
      gemini_chunk(&r, 18, i == 199, i);
    }
    put(&r, "]");
    c->url = "https://generativelanguage.googleapis.com/v1beta/models/"
             "gemini-2.5-flash:streamGenerateContent";
    c->resp_headers = CT_JSON;
  }
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void cohere_chat(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"command-a-03-2025\",\"messages\":");
  chat_messages(&q, 8000);
  put(&q, "%s}", stream ? ",\"stream\":true" : "");
  if (!stream) {
    put(&r, "{\"id\":\"co-b6\",\"message\":{\"role\":\"assistant\","
            "\"content\":[{\"type\":\"text\",\"text\":\"");
    prose(&r, 4500);
    put(&r, "\"}]},\"finish_reason\":\"COMPLETE\",\"usage\":{"
            "\"billed_units\":{\"input_tokens\":2400,\"output_tokens\":1100},"
            "\"tokens\":{\"input_tokens\":2450,\"output_tokens\":1100}}}");
  } else {
    put(&r, "event: message-start\ndata: {\"id\":\"co-b6\",\"type\":"
            "\"message-start\",\"delta\":{\"message\":{\"role\":"
            "\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":"
            "[],\"citations\":[]}}}\n\n"
            "event: content-start\ndata: {\"type\":\"content-start\","
            "\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":"
            "\"text\",\"text\":\"\"}}}}\n\n");
    for (int i = 0; i < 196; i++) {
      put(&r, "event: content-delta\ndata: {\"type\":\"content-delta\","
              "\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"");
      prose(&r, 18);
      put(&r, "\"}}}}\n\n");
    }
    put(&r, "event: content-end\ndata: {\"type\":\"content-end\","
            "\"index\":0}\n\n"
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{"
            "\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{"
            "\"input_tokens\":2400,\"output_tokens\":200},\"tokens\":{"
            "\"input_tokens\":2450,\"output_tokens\":200}}}}\n\n"
            "data: [DONE]\n\n");
  }
  c->url = "https://api.cohere.com/v2/chat";
  c->resp_headers = stream ? CT_SSE : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

static void ollama_chat(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"model\":\"llama3.2\",\"messages\":");
  chat_messages(&q, 8000);
  put(&q, ",\"stream\":%s}", stream ? "true" : "false");
  const char *done_tail =
      "\"done\":true,\"done_reason\":\"stop\",\"total_duration\":"
      "5000000000,\"load_duration\":1000000,\"prompt_eval_count\":2400,"
      "\"prompt_eval_duration\":200000000,\"eval_count\":%d,"
      "\"eval_duration\":4000000000}";
  if (!stream) {
    put(&r, "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-21T07:00:00Z\","
            "\"message\":{\"role\":\"assistant\",\"content\":\"");
    prose(&r, 4500);
    put(&r, "\"},");
    put(&r, done_tail, 1100);
  } else {
    for (int i = 0; i < 199; i++) {
      put(&r, "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-21T07:00:"
              "00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"");
      prose(&r, 18);
      put(&r, "\"},\"done\":false}\n");
    }
    put(&r, "{\"model\":\"llama3.2\",\"created_at\":\"2026-11-21T07:00:05Z\","
            "\"message\":{\"role\":\"assistant\",\"content\":\"\"},");
    put(&r, done_tail, 199);
    put(&r, "\n");
  }
  c->url = "http://localhost:11434/api/chat";
  c->resp_headers = stream ? CT_NDJSON : CT_JSON;
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

/* AWS event-stream framing: prelude (total length, headers length, CRC),
 * string headers, payload, message CRC (CRC-32, as zlib's). */
static uint32_t crc32_of(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

static void be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}

static void aws_header(struct buf *h, const char *name, const char *value) {
  unsigned char b[3];
  size_t nl = strlen(name), vl = strlen(value);
  b[0] = (unsigned char)nl;
  put_bytes(h, b, 1);
  put_bytes(h, name, nl);
  b[0] = 7; /* string */
  b[1] = (unsigned char)(vl >> 8);
  b[2] = (unsigned char)vl;
  put_bytes(h, b, 3);
  put_bytes(h, value, vl);
}

static void aws_frame(struct buf *out, const char *event, const char *json) {
  struct buf h = {0};
  aws_header(&h, ":event-type", event);
  aws_header(&h, ":content-type", "application/json");
  aws_header(&h, ":message-type", "event");
  size_t pl = strlen(json);
  uint32_t total = (uint32_t)(12 + h.len + pl + 4);
  unsigned char pre[12];
  be32(pre, total);
  be32(pre + 4, (uint32_t)h.len);
  be32(pre + 8, crc32_of(0, pre, 8));
  size_t start = out->len;
  put_bytes(out, pre, 12);
  put_bytes(out, h.p, h.len);
  put_bytes(out, json, pl);
  unsigned char crc[4];
  be32(crc,
       crc32_of(0, (const unsigned char *)out->p + start, out->len - start));
  put_bytes(out, crc, 4);
  free(h.p);
}

static void bedrock_converse(struct bench_case *c, int stream) {
  struct buf q = {0}, r = {0};
  put(&q, "{\"system\":[{\"text\":\"");
  prose(&q, 600);
  put(&q, "\"}],\"messages\":[");
  for (int i = 0; i < 8; i++) {
    put(&q, "%s{\"role\":\"%s\",\"content\":[{\"text\":\"", i ? "," : "",
        i % 2 ? "assistant" : "user");
    prose(&q, 1000);
    put(&q, "\"}]}");
  }
  put(&q, "],\"inferenceConfig\":{\"maxTokens\":2048,\"temperature\":0.2}}");
  if (!stream) {
    put(&r, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[{"
            "\"text\":\"");
    prose(&r, 4500);
    put(&r, "\"}]}},\"stopReason\":\"end_turn\",\"usage\":{\"inputTokens\":"
            "2400,\"outputTokens\":1100,\"totalTokens\":3500},\"metrics\":{"
            "\"latencyMs\":4200}}");
    c->url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
             "amazon.nova-micro-v1:0/converse";
    c->resp_headers = CT_JSON;
  } else {
    aws_frame(&r, "messageStart", "{\"p\":\"abcd\",\"role\":\"assistant\"}");
    for (int i = 0; i < 196; i++) {
      struct buf j = {0};
      put(&j, "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"");
      prose(&j, 18);
      put(&j, "\"},\"p\":\"abcdefgh\"}");
      aws_frame(&r, "contentBlockDelta", j.p);
      free(j.p);
    }
    aws_frame(&r, "contentBlockStop", "{\"contentBlockIndex\":0,\"p\":\"ab\"}");
    aws_frame(&r, "messageStop", "{\"p\":\"abc\",\"stopReason\":\"end_turn\"}");
    aws_frame(&r, "metadata",
              "{\"metrics\":{\"latencyMs\":4200},\"p\":\"abcdef\",\"usage\":"
              "{\"inputTokens\":2400,\"outputTokens\":200,\"totalTokens\":"
              "2600}}");
    c->url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
             "amazon.nova-micro-v1:0/converse-stream";
    c->resp_headers = CT_AWS;
  }
  c->req = take(&q, &c->req_len);
  c->resp = take(&r, &c->resp_len);
}

struct maker {
  const char *name;
  const char *shape;
  void (*make)(struct bench_case *c, int stream);
  int stream; /* 0 plain, 1 stream, 2 second stream form */
};

static const struct maker makers[] = {
    {"openai chat", "plain", openai_chat, 0},
    {"openai chat", "stream", openai_chat, 1},
    {"openai completions", "plain", openai_completions, 0},
    {"openai completions", "stream", openai_completions, 1},
    {"openai embeddings", "plain", openai_embeddings, 0},
    {"openai responses", "plain", openai_responses, 0},
    {"openai responses", "stream", openai_responses, 1},
    {"anthropic messages", "plain", anthropic_messages, 0},
    {"anthropic messages", "stream", anthropic_messages, 1},
    {"gemini generate", "plain", gemini, 0},
    {"gemini generate", "stream", gemini, 1},
    {"gemini generate", "stream-array", gemini, 2},
    {"cohere v2 chat", "plain", cohere_chat, 0},
    {"cohere v2 chat", "stream", cohere_chat, 1},
    {"ollama chat", "plain", ollama_chat, 0},
    {"ollama chat", "stream-ndjson", ollama_chat, 1},
    {"bedrock converse", "plain", bedrock_converse, 0},
    {"bedrock converse", "stream-aws", bedrock_converse, 1},
};

/* ---- running ------------------------------------------------------------ */

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct at_exchange exchange_of(const struct bench_case *c) {
  struct at_exchange ex;
  memset(&ex, 0, sizeof ex);
  ex.method = "POST";
  ex.url = c->url;
  ex.req_body = c->req;
  ex.req_body_len = c->req_len;
  ex.resp_body = c->resp;
  ex.resp_body_len = c->resp_len;
  ex.resp_headers = c->resp_headers;
  ex.resp_headers_len = strlen(c->resp_headers);
  ex.status = 200;
  ex.t_start_ns = 1763700000000000000;
  ex.t_first_byte_ns = ex.t_start_ns + 300000000;
  ex.t_end_ns = ex.t_start_ns + 900000000;
  ex.capture_path = "bench";
  return ex;
}

/* NULL when the record is what a clean parse gives, else what is wrong. */
static const char *check(const cJSON *rec, const char *skip, char *why,
                         size_t cap) {
  if (!rec) {
    snprintf(why, cap, "no record: %s", skip ? skip : "out of memory");
    return why;
  }
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(rec, "metadata");
  const cJSON *pe = cJSON_GetObjectItemCaseSensitive(meta, "parse_error");
  const cJSON *lvl = cJSON_GetObjectItemCaseSensitive(rec, "level");
  if (cJSON_IsString(pe))
    snprintf(why, cap, "parse_error: %.80s", pe->valuestring);
  else if (!cJSON_IsString(lvl) || strcmp(lvl->valuestring, "DEFAULT"))
    snprintf(why, cap, "level %s",
             cJSON_IsString(lvl) ? lvl->valuestring : "(none)");
  else if (!cJSON_GetObjectItemCaseSensitive(rec, "usage"))
    snprintf(why, cap, "no usage");
  else if (!cJSON_GetObjectItemCaseSensitive(rec, "output"))
    snprintf(why, cap, "no output");
  else
    return NULL;
  return why;
}

int main(int argc, char **argv) {
  double seconds = 1.0;
  const char *filter = NULL;
  int cpu = -1;
  int opt;
  while ((opt = getopt(argc, argv, "t:f:c:h")) != -1) {
    switch (opt) {
    case 't':
      seconds = atof(optarg);
      break;
    case 'f':
      filter = optarg;
      break;
    case 'c':
      cpu = atoi(optarg);
      break;
    default:
      fprintf(stderr, "usage: %s [-t SECONDS] [-f FILTER] [-c CPU]\n", argv[0]);
      return opt == 'h' ? 0 : 2;
    }
  }
  if (!(seconds > 0) || seconds > 600)
    seconds = 1.0;
  /* one CPU: the given one, else the one we start on */
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu >= 0 ? cpu : sched_getcpu(), &set);
  int pinned = sched_setaffinity(0, sizeof set, &set) == 0;
  /* price lookups read AUTOTRACE_PRICES: measure the built-in table */
  unsetenv("AUTOTRACE_PRICES");

  printf("parse_bench: %.2f s per case, %s, heap %s\n", seconds,
         pinned ? "pinned to one CPU" : "not pinned",
         COUNT_HEAP ? "counted" : "not counted (sanitizer build)");
  printf("%-20s %-13s %7s %7s %10s %8s %8s %9s %8s %s\n", "API", "shape",
         "req KB", "resp KB", "exch/s", "target", "us/exch", "peak KB",
         "allocs", "verdict");
  int bad = 0, missed = 0;
  for (size_t i = 0; i < sizeof makers / sizeof makers[0]; i++) {
    const struct maker *mk = &makers[i];
    char label[64];
    snprintf(label, sizeof label, "%s %s", mk->name, mk->shape);
    if (filter && (filter[0] == '=' ? strcmp(label, filter + 1) != 0
                                    : !strstr(label, filter)))
      continue;
    struct bench_case c;
    memset(&c, 0, sizeof c);
    c.name = mk->name;
    c.shape = mk->shape;
    mk->make(&c, mk->stream);
    struct at_exchange ex = exchange_of(&c);
    struct at_parse_opts po = {0};

    const char *skip = NULL;
    char why[160];
    cJSON *rec = at_parse_exchange(&ex, NULL, &po, &skip);
    const char *problem = check(rec, skip, why, sizeof why);
    cJSON_Delete(rec);
    if (problem) {
      printf("%-20s %-13s %7.1f %7.1f %10s %8s %8s %9s %8s BAD (%s)\n",
             mk->name, mk->shape, c.req_len / 1024.0, c.resp_len / 1024.0, "-",
             "-", "-", "-", "-", problem);
      bad = 1;
      free(c.req);
      free(c.resp);
      continue;
    }
    for (int w = 0; w < 50; w++) /* warm the caches and the price index */
      cJSON_Delete(at_parse_exchange(&ex, NULL, &po, NULL));

    /* memory: 100 exchanges with the heap counted */
    long long allocs = 0, peak_max = 0;
    heap_counting = COUNT_HEAP;
    for (int k = 0; k < 100; k++) {
      long long base = heap_live, a0 = heap_allocs;
      heap_peak = heap_live;
      cJSON_Delete(at_parse_exchange(&ex, NULL, &po, NULL));
      if (heap_peak - base > peak_max)
        peak_max = heap_peak - base;
      allocs += heap_allocs - a0;
    }
    heap_counting = 0;
    /* speed: CPU time of this thread, so that a busy machine slows the
     * clock as much as the work (wall time is capped at 20x), in eleven
     * slices whose median rate is reported: on a shared machine a slice
     * now and then runs slow (another guest, a cold cache) */
    enum { SLICES = 11 };
    double rates[SLICES];
    for (int sl = 0; sl < SLICES; sl++) {
      long long n = 0;
      double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), cpu_t = c0;
      double w0 = clock_s(CLOCK_MONOTONIC), w = w0;
      while (cpu_t - c0 < seconds / SLICES && w - w0 < 20 * seconds / SLICES) {
        for (int k = 0; k < 16; k++)
          cJSON_Delete(at_parse_exchange(&ex, NULL, &po, NULL));
        n += 16;
        cpu_t = clock_s(CLOCK_THREAD_CPUTIME_ID);
        w = clock_s(CLOCK_MONOTONIC);
      }
      rates[sl] = (double)n / (cpu_t - c0);
    }
    for (int a = 1; a < SLICES; a++) /* insertion sort: eleven values */
      for (int b = a; b > 0 && rates[b - 1] > rates[b]; b--) {
        double t = rates[b];
        rates[b] = rates[b - 1];
        rates[b - 1] = t;
      }
    double rate = rates[SLICES / 2];
    int streamed = strncmp(mk->shape, "stream", 6) == 0;
    double target = streamed ? 10000 : 20000;
    int ok = rate >= target;
    missed += !ok;
    printf("%-20s %-13s %7.1f %7.1f %10.0f %8.0f %8.1f %9.1f %8lld %s\n",
           mk->name, mk->shape, c.req_len / 1024.0, c.resp_len / 1024.0, rate,
           target, 1e6 / rate, COUNT_HEAP ? peak_max / 1024.0 : 0.0,
           COUNT_HEAP ? allocs / 100 : 0, ok ? "PASS" : "below target");
    free(c.req);
    free(c.resp);
  }
  if (missed)
    printf("parse_bench: %d case(s) below target\n", missed);
  return bad ? 1 : 0;
}
