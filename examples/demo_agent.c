/* demo_agent: a tiny tool-using "agent" written against libcurl only, the
 * way many C programs talk to an LLM. It knows nothing about autotrace:
 *
 *   autotrace run -- build/examples/demo_agent
 *
 * 1. asks the model a question, offering a get_weather tool;
 * 2. the model answers with a tool call; the agent runs the tool locally;
 * 3. sends the tool result back (streamed, with usage) and prints the final
 *    answer as it arrives.
 *
 * Environment: OPENAI_BASE_URL (default http://127.0.0.1:8080/v1),
 * OPENAI_API_KEY (default a fake demo key), DEMO_MODEL (default
 * gpt-4o-mini), DEMO_QUESTION.
 *
 * JSON is handled with plain string search: enough for the answers of the
 * bundled mock (examples/mock_provider.py) and of OpenAI itself, and it
 * keeps the demo a single file with a single dependency. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf {
  char *data;
  size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      fprintf(stderr, "demo_agent: out of memory\n");
      exit(1);
    }
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) {
  buf_add(b, s, strlen(s));
}

/* Append s as a JSON string literal, quotes included. */
static void buf_json_str(struct buf *b, const char *s) {
  buf_add(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      buf_add(b, esc, 2);
    } else if (c == '\n') {
      buf_add(b, "\\n", 2);
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_add(b, esc, 6);
    } else {
      buf_add(b, (const char *)&c, 1);
    }
  }
  buf_add(b, "\"", 1);
}

/* Find "key": "<string>" at or after p and return the decoded string
 * (malloc'd), or NULL. *end (if given) is set past the closing quote. */
static char *json_string_after(const char *p, const char *key,
                               const char **end) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *k = strstr(p, pat);
  if (!k)
    return NULL;
  const char *s = k + strlen(pat);
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if (*s != ':')
    return NULL;
  s++;
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
    s++;
  if (*s != '"')
    return NULL; /* null, a number, an object... */
  s++;
  struct buf out = {0};
  buf_add(&out, "", 0);
  while (*s && *s != '"') {
    if (*s == '\\' && s[1]) {
      s++;
      char c = *s;
      switch (c) {
      case 'n':
        c = '\n';
        break;
      case 't':
        c = '\t';
        break;
      case 'r':
        c = '\r';
        break;
      case 'b':
      case 'f':
        c = ' ';
        break;
      case 'u': {
        unsigned v = 0;
        int i;
        for (i = 1; i <= 4 && s[i]; i++) {
          char h = s[i];
          v = v * 16 + (unsigned)(h >= 'a'   ? h - 'a' + 10
                                  : h >= 'A' ? h - 'A' + 10
                                             : h - '0');
        }
        s += i - 1;
        if (v < 0x80) {
          c = (char)v;
        } else { /* UTF-8 encode the BMP code point (no surrogates) */
          char u[3];
          size_t n;
          if (v < 0x800) {
            u[0] = (char)(0xC0 | (v >> 6));
            u[1] = (char)(0x80 | (v & 0x3F));
            n = 2;
          } else {
            u[0] = (char)(0xE0 | (v >> 12));
            u[1] = (char)(0x80 | ((v >> 6) & 0x3F));
            u[2] = (char)(0x80 | (v & 0x3F));
            n = 3;
          }
          buf_add(&out, u, n);
          s++;
          continue;
        }
        break;
      }
      default:
        break; /* \" \\ \/ */
      }
      buf_add(&out, &c, 1);
      s++;
    } else {
      buf_add(&out, s, 1);
      s++;
    }
  }
  if (end)
    *end = *s ? s + 1 : s;
  return out.data;
}

/* ---- the tool ---- */

static char *get_weather(const char *arguments) {
  char *city = json_string_after(arguments, "city", NULL);
  if (!city)
    city = json_string_after(arguments, "location", NULL);
  const char *name = city && *city ? city : "somewhere";
  /* Deterministic "weather": derived from the name. */
  unsigned h = 0;
  for (const char *p = name; *p; p++)
    h = h * 31 + (unsigned char)*p;
  static const char *skies[] = {"sunny", "cloudy", "windy", "rainy"};
  char *out = malloc(128 + strlen(name));
  if (!out) {
    fprintf(stderr, "demo_agent: out of memory\n");
    exit(1);
  }
  sprintf(out, "%u degrees C and %s in %s", 12 + h % 15, skies[h / 15 % 4],
          name);
  free(city);
  return out;
}

/* ---- HTTP ---- */

struct stream {
  struct buf all;  /* every byte received */
  struct buf line; /* the SSE line being assembled */
  struct buf answer;
  int streaming;
};

static void on_sse_line(struct stream *st, const char *line) {
  if (strncmp(line, "data: ", 6) != 0 || strcmp(line + 6, "[DONE]") == 0)
    return;
  const char *delta = strstr(line, "\"delta\"");
  if (!delta)
    return;
  char *piece = json_string_after(delta, "content", NULL);
  if (piece && *piece) {
    fputs(piece, stdout);
    fflush(stdout);
    buf_str(&st->answer, piece);
  }
  free(piece);
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  struct stream *st = ud;
  size_t len = sz * n;
  buf_add(&st->all, p, len);
  if (st->streaming) {
    for (size_t i = 0; i < len; i++) {
      if (p[i] == '\n') {
        if (st->line.len && st->line.data[st->line.len - 1] == '\r')
          st->line.data[--st->line.len] = '\0';
        on_sse_line(st, st->line.data ? st->line.data : "");
        st->line.len = 0;
        if (st->line.data)
          st->line.data[0] = '\0';
      } else {
        buf_add(&st->line, p + i, 1);
      }
    }
  }
  return len;
}

/* POST body to base/chat/completions; returns the HTTP status (0 when the
 * transfer failed). */
static long post_chat(CURL *h, const char *url, struct curl_slist *hdrs,
                      const char *body, struct stream *st) {
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    fprintf(stderr, "demo_agent: request to %s failed: %s\n", url,
            curl_easy_strerror(rc));
    return 0;
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200)
    fprintf(stderr, "demo_agent: HTTP %ld from %s:\n%s\n", status, url,
            st->all.data ? st->all.data : "");
  return status;
}

static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v && *v ? v : def;
}

int main(void) {
  const char *base = env_or("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1");
  const char *key = env_or("OPENAI_API_KEY", "sk-demo-0000-not-a-real-key");
  const char *model = env_or("DEMO_MODEL", "gpt-4o-mini");
  const char *question =
      env_or("DEMO_QUESTION", "What is the weather like in Paris today?");
  int rc = 1;

  struct buf url = {0}, auth = {0}, msgs = {0}, body = {0};
  buf_str(&url, base);
  if (url.len && url.data[url.len - 1] == '/')
    url.data[--url.len] = '\0';
  buf_str(&url, "/chat/completions");
  buf_str(&auth, "Authorization: Bearer ");
  buf_str(&auth, key);

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, auth.data);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  if (!h || !hdrs) {
    fprintf(stderr, "demo_agent: cannot set up libcurl\n");
    return 1;
  }
  struct stream st1 = {0}, st2 = {0};
  char *call_id = NULL, *fn_name = NULL, *fn_args = NULL, *result = NULL;
  static const char tools[] =
      "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
      "\"description\":\"Current weather in a city\",\"parameters\":{"
      "\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
      "\"required\":[\"city\"]}}}]";

  /* Step 1: the question, with the tool on offer. */
  printf("user> %s\n", question);
  buf_str(&msgs, "{\"role\":\"system\",\"content\":\"You are a helpful "
                 "assistant. Use tools when they help.\"},"
                 "{\"role\":\"user\",\"content\":");
  buf_json_str(&msgs, question);
  buf_str(&msgs, "}");
  buf_str(&body, "{\"model\":");
  buf_json_str(&body, model);
  buf_str(&body, ",\"temperature\":0.2,\"messages\":[");
  buf_add(&body, msgs.data, msgs.len);
  buf_str(&body, "],\"tools\":");
  buf_str(&body, tools);
  buf_str(&body, "}");
  if (post_chat(h, url.data, hdrs, body.data, &st1) != 200)
    goto out;

  if (!st1.all.data) {
    fprintf(stderr, "demo_agent: empty answer from %s\n", url.data);
    goto out;
  }
  const char *tc = strstr(st1.all.data, "\"tool_calls\"");
  if (!tc) {
    char *content = json_string_after(st1.all.data, "content", NULL);
    printf("assistant> %s\n", content ? content : "(no answer)");
    free(content);
    rc = content ? 0 : 1;
    goto out;
  }
  call_id = json_string_after(tc, "id", NULL);
  fn_name = json_string_after(tc, "name", NULL);
  fn_args = json_string_after(tc, "arguments", NULL);
  if (!call_id || !fn_name || !fn_args) {
    fprintf(stderr, "demo_agent: could not read the tool call:\n%s\n",
            st1.all.data);
    goto out;
  }
  printf("assistant> (calls %s %s)\n", fn_name, fn_args);

  /* Step 2: run the tool. */
  if (strcmp(fn_name, "get_weather") != 0) {
    fprintf(stderr, "demo_agent: the model asked for unknown tool %s\n",
            fn_name);
    goto out;
  }
  result = get_weather(fn_args);
  printf("tool> %s\n", result);

  /* Step 3: the result goes back; the answer is streamed. */
  buf_str(&msgs, ",{\"role\":\"assistant\",\"content\":null,"
                 "\"tool_calls\":[{\"id\":");
  buf_json_str(&msgs, call_id);
  buf_str(&msgs, ",\"type\":\"function\",\"function\":{\"name\":");
  buf_json_str(&msgs, fn_name);
  buf_str(&msgs, ",\"arguments\":");
  buf_json_str(&msgs, fn_args);
  buf_str(&msgs, "}}]},{\"role\":\"tool\",\"tool_call_id\":");
  buf_json_str(&msgs, call_id);
  buf_str(&msgs, ",\"content\":");
  buf_json_str(&msgs, result);
  buf_str(&msgs, "}");
  body.len = 0;
  buf_str(&body, "{\"model\":");
  buf_json_str(&body, model);
  buf_str(&body, ",\"temperature\":0.2,\"stream\":true,"
                 "\"stream_options\":{\"include_usage\":true},\"messages\":[");
  buf_add(&body, msgs.data, msgs.len);
  buf_str(&body, "],\"tools\":");
  buf_str(&body, tools);
  buf_str(&body, "}");
  st2.streaming = 1;
  printf("assistant> ");
  fflush(stdout);
  if (post_chat(h, url.data, hdrs, body.data, &st2) != 200) {
    printf("\n");
    goto out;
  }
  printf("\n");
  if (st2.answer.len == 0) {
    fprintf(stderr, "demo_agent: the streamed answer was empty\n");
    goto out;
  }
  rc = 0;

out:
  free(call_id);
  free(fn_name);
  free(fn_args);
  free(result);
  free(st1.all.data);
  free(st1.line.data);
  free(st1.answer.data);
  free(st2.all.data);
  free(st2.line.data);
  free(st2.answer.data);
  free(url.data);
  free(auth.data);
  free(msgs.data);
  free(body.data);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  curl_global_cleanup();
  return rc;
}
