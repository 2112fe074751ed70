/* autotrace parse: run the provider parsers offline on one recorded
 * exchange and print the observation they make of it. The way to find out
 * why a call was not understood, and how the conformance suite runs. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "common/clock.h"
#include "common/ids.h"
#include "diag.h"
#include "jsonout.h"
#include "otlp.h"
#include "preload/config.h"
#include "providers/providers.h"
#include "record.h"

static const char parse_usage[] =
    "usage: autotrace parse --request FILE --response FILE [--url URL]\n"
    "                       [--status N] [--headers FILE]\n"
    "                       [--format pretty|jsonl|otlp]\n"
    "\n"
    "Parse one recorded exchange (a request body and a response body, as\n"
    "sent and received) and print the observation autotrace makes of it.\n"
    "\n"
    "  --request FILE   the request body (may be empty)\n"
    "  --response FILE  the response body: JSON, or a stream as received\n"
    "  --url URL        the URL it was sent to; without it the API is\n"
    "                   guessed from the bodies (OpenAI chat, completions,\n"
    "                   embeddings, Responses, or Anthropic messages)\n"
    "  --status N       the HTTP status (default 200)\n"
    "  --headers FILE   the response headers: \"Name: value\" lines or a\n"
    "                   JSON object; without it the content type is guessed\n"
    "                   from the body (an event stream or JSON)\n"
    "  --format F       pretty (default: indented JSON), jsonl (one line) or\n"
    "                   otlp (an OTLP/HTTP JSON request)\n";

/* The whole file, NUL-terminated (not counted in *len). NULL on failure,
 * with errno set. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (n + 1 < cap) {
      if (ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
      }
      break;
    }
    char *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      errno = ENOMEM;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  fclose(f);
  if (buf) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* ---- guessing the API ---- */

#define URL_CHAT "https://api.openai.com/v1/chat/completions"
#define URL_COMPLETIONS "https://api.openai.com/v1/completions"
#define URL_EMBEDDINGS "https://api.openai.com/v1/embeddings"
#define URL_RESPONSES "https://api.openai.com/v1/responses"
#define URL_ANTHROPIC "https://api.anthropic.com/v1/messages"

static int has(const char *s, size_t n, const char *needle) {
  return s && memmem(s, n, needle, strlen(needle)) != NULL;
}

static int str_is(const cJSON *o, const char *key, const char *value) {
  const char *s = rec_str(o, key);
  return s && strcmp(s, value) == 0;
}

const char *parse_infer_url(const char *req, size_t req_len, const char *resp,
                            size_t resp_len) {
  cJSON *r = resp ? cJSON_ParseWithLength(resp, resp_len) : NULL;
  const char *url = NULL;
  if (cJSON_IsObject(r)) {
    const cJSON *data = rec_arr(r, "data");
    const cJSON *first = data ? cJSON_GetArrayItem(data, 0) : NULL;
    if (str_is(r, "type", "message") || str_is(r, "type", "error"))
      url = URL_ANTHROPIC; /* OpenAI errors have no top-level type */
    else if (str_is(r, "object", "response"))
      url = URL_RESPONSES;
    else if (str_is(r, "object", "list") &&
             (str_is(first, "object", "embedding") ||
              cJSON_GetObjectItemCaseSensitive(first, "embedding")))
      url = URL_EMBEDDINGS;
    else if (str_is(r, "object", "text_completion"))
      url = URL_COMPLETIONS;
  } else if (!r) {
    /* A stream: the event names tell the API apart. */
    if (has(resp, resp_len, "event: message_start") ||
        has(resp, resp_len, "\"type\":\"message_start\"") ||
        has(resp, resp_len, "\"type\": \"message_start\""))
      url = URL_ANTHROPIC;
    else if (has(resp, resp_len, "event: response.") ||
             has(resp, resp_len, "\"type\":\"response.") ||
             has(resp, resp_len, "\"type\": \"response."))
      url = URL_RESPONSES;
    else if (has(resp, resp_len, "\"object\":\"text_completion\"") ||
             has(resp, resp_len, "\"object\": \"text_completion\""))
      url = URL_COMPLETIONS;
  }
  cJSON_Delete(r);
  if (url)
    return url;

  /* The response said nothing decisive (an error, say): ask the request. */
  cJSON *q = req && req_len ? cJSON_ParseWithLength(req, req_len) : NULL;
  if (cJSON_IsObject(q)) {
    int messages = cJSON_GetObjectItemCaseSensitive(q, "messages") != NULL;
    if (messages && cJSON_GetObjectItemCaseSensitive(q, "max_tokens") &&
        cJSON_GetObjectItemCaseSensitive(q, "system"))
      url = URL_ANTHROPIC;
    else if (!messages && cJSON_GetObjectItemCaseSensitive(q, "input")) {
      const char *model = rec_str(q, "model");
      url = model && strstr(model, "embed") ? URL_EMBEDDINGS : URL_RESPONSES;
    } else if (!messages && cJSON_GetObjectItemCaseSensitive(q, "prompt"))
      url = URL_COMPLETIONS;
  }
  cJSON_Delete(q);
  return url ? url : URL_CHAT;
}

/* ---- headers ---- */

struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) {
  sb_add(b, s, strlen(s));
}

static void header_line(struct sbuf *b, const char *name, const char *value) {
  sb_str(b, name);
  sb_str(b, ": ");
  sb_str(b, value);
  sb_str(b, "\r\n");
}

char *parse_headers_block(const char *text, size_t len, int status,
                          size_t *out_len) {
  struct sbuf b = {0};
  char status_line[64];
  snprintf(status_line, sizeof status_line, "HTTP/1.1 %d\r\n", status);
  sb_str(&b, status_line);
  size_t i = 0;
  while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' ||
                     text[i] == '\n'))
    i++;
  if (i < len && text[i] == '{') {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(j)) {
      cJSON_Delete(j);
      free(b.p);
      return NULL;
    }
    const cJSON *h;
    cJSON_ArrayForEach(h, j) {
      if (!h->string)
        continue;
      if (cJSON_IsString(h)) {
        header_line(&b, h->string, h->valuestring);
      } else if (cJSON_IsNumber(h)) {
        char num[32];
        snprintf(num, sizeof num, "%.0f", h->valuedouble);
        header_line(&b, h->string, num);
      } else if (cJSON_IsArray(h)) {
        const cJSON *v;
        cJSON_ArrayForEach(v, h) {
          if (cJSON_IsString(v)) {
            header_line(&b, h->string, v->valuestring);
          }
        }
      }
    }
    cJSON_Delete(j);
  } else {
    for (i = 0; i < len;) {
      size_t e = i;
      while (e < len && text[e] != '\n')
        e++;
      size_t end = e;
      while (end > i && (text[end - 1] == '\r' || text[end - 1] == ' '))
        end--;
      const char *colon = memchr(text + i, ':', end - i);
      if (end > i && !(end - i >= 5 && memcmp(text + i, "HTTP/", 5) == 0)) {
        if (!colon || colon == text + i || memchr(text + i, '\0', end - i)) {
          free(b.p);
          return NULL; /* not a header line: the wrong file? */
        }
        sb_add(&b, text + i, end - i);
        sb_str(&b, "\r\n");
      }
      i = e + 1;
    }
  }
  sb_str(&b, "\r\n");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  *out_len = b.len;
  return b.p;
}

/* Without a headers file the content type is what decides between a
 * stream and a plain body: guess it from the first bytes. */
static const char *guess_content_type(const char *body, size_t len) {
  size_t i = 0;
  while (i < len && (body[i] == ' ' || body[i] == '\r' || body[i] == '\n' ||
                     body[i] == '\t'))
    i++;
  static const char *const sse[] = {"data:", "event:", ":", "id:", "retry:"};
  for (size_t k = 0; k < sizeof sse / sizeof *sse; k++) {
    size_t n = strlen(sse[k]);
    if (len - i >= n && memcmp(body + i, sse[k], n) == 0)
      return "text/event-stream";
  }
  return "application/json";
}

/* Does the header block name a content type? */
static int has_content_type(const char *block) {
  for (const char *l = block; *l;) {
    if (strncasecmp(l, "content-type:", 13) == 0)
      return 1;
    const char *nl = strchr(l, '\n');
    if (!nl)
      break;
    l = nl + 1;
  }
  return 0;
}

/* The block with one more header before its closing blank line. */
static char *add_header(const char *block, size_t *len, const char *name,
                        const char *value) {
  size_t n = *len, extra = strlen(name) + 2 + strlen(value) + 2;
  char *out = malloc(n + extra + 1);
  if (!out)
    return NULL;
  size_t keep = n >= 2 ? n - 2 : n; /* before the final "\r\n" */
  memcpy(out, block, keep);
  snprintf(out + keep, extra + 3, "%s: %s\r\n\r\n", name, value);
  *len = keep + extra + 2;
  return out;
}

/* ---- the command ---- */

/* Give the record what a captured one would have: ids (fresh), so that
 * every output format is complete and valid. */
static void complete_record(cJSON *rec) {
  char id[AT_SPAN_ID_HEX + 1], tid[AT_TRACE_ID_HEX + 1];
  if (!cJSON_GetObjectItemCaseSensitive(rec, "v"))
    cJSON_AddNumberToObject(rec, "v", 1);
  if (!cJSON_GetObjectItemCaseSensitive(rec, "kind"))
    cJSON_AddStringToObject(rec, "kind", "observation");
  if (!rec_str(rec, "id")) {
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "id");
    at_new_span_id(id);
    cJSON_AddStringToObject(rec, "id", id);
  }
  if (!rec_str(rec, "trace_id")) {
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "trace_id");
    at_new_trace_id(tid);
    cJSON_AddStringToObject(rec, "trace_id", tid);
  }
}

int cmd_parse(int argc, char **argv) {
  static const struct option opts[] = {
      {"request", required_argument, NULL, 'q'},
      {"response", required_argument, NULL, 'r'},
      {"url", required_argument, NULL, 'u'},
      {"status", required_argument, NULL, 's'},
      {"headers", required_argument, NULL, 'H'},
      {"format", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *req_path = NULL, *resp_path = NULL, *url = NULL;
  const char *headers_path = NULL, *format = "pretty";
  int status = 200;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'q':
      req_path = optarg;
      break;
    case 'r':
      resp_path = optarg;
      break;
    case 'u':
      url = optarg;
      break;
    case 's': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 0 || v > 999) {
        cli_err("--status takes an HTTP status code, not '%s'", optarg);
        return CLI_USAGE;
      }
      status = (int)v;
      break;
    }
    case 'H':
      headers_path = optarg;
      break;
    case 'f':
      if (strcmp(optarg, "pretty") != 0 && strcmp(optarg, "jsonl") != 0 &&
          strcmp(optarg, "otlp") != 0) {
        cli_err("--format takes pretty, jsonl or otlp, not '%s'", optarg);
        return CLI_USAGE;
      }
      format = optarg;
      break;
    case 'h':
      fputs(parse_usage, stdout);
      return CLI_OK;
    default:
      fputs(parse_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (!req_path || !resp_path || optind < argc) {
    if (!req_path || !resp_path)
      cli_err("parse needs both --request FILE and --response FILE");
    fputs(parse_usage, stderr);
    return CLI_USAGE;
  }

  size_t req_len = 0, resp_len = 0, hdr_text_len = 0, hdr_len = 0;
  char *req = slurp(req_path, &req_len);
  if (!req) {
    cli_err("cannot read the request %s: %s", req_path, strerror(errno));
    return CLI_FAIL;
  }
  char *resp = slurp(resp_path, &resp_len);
  if (!resp) {
    cli_err("cannot read the response %s: %s", resp_path, strerror(errno));
    free(req);
    return CLI_FAIL;
  }
  char *hdrs;
  if (headers_path) {
    char *text = slurp(headers_path, &hdr_text_len);
    if (!text) {
      cli_err("cannot read the headers %s: %s", headers_path, strerror(errno));
      free(req);
      free(resp);
      return CLI_FAIL;
    }
    hdrs = parse_headers_block(text, hdr_text_len, status, &hdr_len);
    free(text);
    if (hdrs && !has_content_type(hdrs)) {
      /* Some recorders drop it; the parsers need it to spot a stream. */
      char *more = add_header(hdrs, &hdr_len, "Content-Type",
                              guess_content_type(resp, resp_len));
      free(hdrs);
      hdrs = more;
    }
    if (!hdrs) {
      cli_err("%s holds neither \"Name: value\" lines nor a JSON object",
              headers_path);
      free(req);
      free(resp);
      return CLI_FAIL;
    }
  } else {
    char line[64];
    snprintf(line, sizeof line, "Content-Type: %s",
             guess_content_type(resp, resp_len));
    hdrs = parse_headers_block(line, strlen(line), status, &hdr_len);
  }
  if (!url)
    url = parse_infer_url(req, req_len, resp, resp_len);

  int64_t now = at_wall_ns();
  struct at_exchange ex;
  memset(&ex, 0, sizeof ex);
  ex.method = "POST";
  ex.url = url;
  ex.resp_headers = hdrs;
  ex.resp_headers_len = hdrs ? hdr_len : 0;
  ex.req_body = req;
  ex.req_body_len = req_len;
  ex.resp_body = resp;
  ex.resp_body_len = resp_len;
  ex.status = status;
  ex.t_start_ns = now;
  ex.t_end_ns = now;
  ex.capture_path = "parse";
  struct at_parse_opts po = {0};
  /* as the shim reads it (preload/config.c): set and not 0/false/no/off */
  const char *cb = getenv(AT_ENV_CAPTURE_BINARY);
  po.capture_binary = cb && *cb && strcmp(cb, "0") && strcasecmp(cb, "false") &&
                      strcasecmp(cb, "no") && strcasecmp(cb, "off");
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, NULL, &po, &skip);
  free(req);
  free(resp);
  free(hdrs);
  if (!rec) {
    if (skip)
      cli_err("%s is not an endpoint autotrace parses: %s", url, skip);
    else
      cli_err("out of memory while parsing");
    return CLI_FAIL;
  }
  complete_record(rec);

  int rc = 0;
  if (strcmp(format, "otlp") == 0) {
    struct otlp_opts oo;
    char host[256];
    otlp_opts_from_env(&oo, host, sizeof host);
    const cJSON *one = rec;
    cJSON *reqj = otlp_request_from_records(&one, 1, &oo);
    rc = reqj ? json_write(stdout, reqj, 0) : -1;
    cJSON_Delete(reqj);
  } else {
    rc = json_write(stdout, rec, strcmp(format, "pretty") == 0);
  }
  cJSON_Delete(rec);
  if (rc != 0 || fflush(stdout) != 0) {
    cli_err("cannot write the result");
    return CLI_FAIL;
  }
  return CLI_OK;
}
