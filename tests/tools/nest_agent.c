/* nest_agent: example agents whose trees tests/integration/test_nesting.sh
 * asserts. Plain libcurl programs, knowing nothing of autotrace, talking
 * to examples/mock_provider.py (OpenAI chat completions).
 *
 *   nest_agent MODE BASE_URL      (BASE_URL: http://127.0.0.1:PORT/v1)
 *
 * Modes:
 *   loop    one question; the model calls get_weather, then get_time
 *           (x-mock-tool-rounds: 2), then answers: a sequential tool loop
 *   chat    three questions in one conversation, no tools: a multi-turn
 *           chat
 *   two     two threads, each its own conversation with one tool round,
 *           their requests interleaved (each waits for the other between
 *           steps)
 *   retry   the first attempt fails (x-mock-status: 500), the retry with
 *           the same body succeeds with a tool call, then the answer
 *   plan    a planner/executor: plan() asks for a plan (no tools), then
 *           execute() runs a tool loop, then summarize() asks once more
 *   subthread  the model calls a "research" tool that is itself an agent
 *           run on a new thread (its own conversation), joined before the
 *           tool result is sent back
 *   subproc the same "research" tool run as a child process (fork + exec
 *           of this program in mode "child")
 *   child   (used by subproc) one question, answered without tools
 *   parallel   the model asks for two tools at once (x-mock-parallel-
 *           tools: 2); each runs on its own thread, then one request
 *           carries both results
 *
 * Prints one line per model answer on stdout. Exits 0 when every request
 * got the HTTP status it expected.
 *
 * JSON is handled with string search: enough for the mock's answers. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
      fprintf(stderr, "nest_agent: out of memory\n");
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

/* The raw (still escaped) JSON string value after "key": in p, malloc'd;
 * NULL when absent. */
static char *raw_string_after(const char *p, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  const char *s = strstr(p, pat);
  if (!s)
    return NULL;
  s += strlen(pat);
  const char *e = s;
  while (*e && *e != '"') {
    if (*e == '\\' && e[1])
      e++;
    e++;
  }
  char *out = malloc((size_t)(e - s) + 1);
  memcpy(out, s, (size_t)(e - s));
  out[e - s] = '\0';
  return out;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  buf_add(ud, p, sz * n);
  return sz * n;
}

static const char *base_url;

/* POST one chat request; the answer into out. Returns the HTTP status. */
/* The expected trees (tests/integration/test_nesting.sh) name the
 * program's functions, so what the compiler may inline is fixed here: the
 * HTTP call and the mode functions are folded into their callers, the
 * conversation functions never are. Steps: main (the entry), conv_run (a
 * span), conv_step (the call site). Left to itself, GCC inlines conv_run
 * into main at one call site in the sanitizer build only (not at -O2
 * alone): that stack has no conv_run frame, so no conv_run span. */
#define FOLDED static inline __attribute__((always_inline))
#define KEPT static __attribute__((noinline))

FOLDED long post(const char *body, const char *extra_header, struct buf *out) {
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = NULL;
  char url[512];
  snprintf(url, sizeof url, "%s/chat/completions", base_url);
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Authorization: Bearer sk-test-SECRET123");
  if (extra_header)
    hdrs = curl_slist_append(hdrs, extra_header);
  out->len = 0;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  long status = 0;
  if (curl_easy_perform(h) == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  return status;
}

/* ---- one conversation ---- */

struct conv {
  struct buf msgs;   /* the messages so far, comma-separated JSON objects */
  const char *tools; /* the "tools" array, or NULL */
  const char *header;
};

static const char TOOLS[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
    "\"string\"}},\"required\":[\"city\"]}}},{\"type\":\"function\","
    "\"function\":{\"name\":\"get_time\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}}]";

static void conv_msg(struct conv *c, const char *json) {
  if (c->msgs.len)
    buf_str(&c->msgs, ",");
  buf_str(&c->msgs, json);
}

static void conv_user(struct conv *c, const char *text) {
  char m[512];
  snprintf(m, sizeof m, "{\"role\":\"user\",\"content\":\"%s\"}", text);
  conv_msg(c, m);
}

static char *conv_body(struct conv *c) {
  struct buf b = {0};
  buf_str(&b, "{\"model\":\"gpt-4o-mini\",\"messages\":[");
  buf_str(&b, c->msgs.data ? c->msgs.data : "");
  buf_str(&b, "]");
  if (c->tools) {
    buf_str(&b, ",\"tools\":");
    buf_str(&b, c->tools);
  }
  buf_str(&b, "}");
  return b.data;
}

static const char RESEARCH_TOOL[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"research\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"topic\":{"
    "\"type\":\"string\"}},\"required\":[\"topic\"]}}}]";

static const char *research(void);

/* The local tools. */
static const char *run_tool(const char *name) {
  if (strcmp(name, "get_weather") == 0)
    return "18C and sunny";
  if (strcmp(name, "get_time") == 0)
    return "09:00";
  if (strcmp(name, "research") == 0)
    return research();
  return "unknown tool";
}

/* One step: send the conversation; a tool call is run and its result
 * appended (returns 1), a text answer is appended (returns 0); -1 on an
 * unexpected status. */
KEPT int conv_step(struct conv *c, const char *extra_header, long want) {
  char *body = conv_body(c);
  struct buf out = {0};
  long st = post(body, extra_header ? extra_header : c->header, &out);
  free(body);
  if (st != want) {
    fprintf(stderr, "nest_agent: HTTP %ld, expected %ld\n", st, want);
    free(out.data);
    return -1;
  }
  if (st != 200) {
    printf("error> HTTP %ld\n", st);
    free(out.data);
    return 2;
  }
  int rc;
  const char *calls = strstr(out.data, "\"tool_calls\": [");
  if (calls) {
    char *id = raw_string_after(calls, "id");
    char *name = raw_string_after(calls, "name");
    char *args = raw_string_after(calls, "arguments");
    struct buf m = {0};
    buf_str(&m, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
                "\"id\":\"");
    buf_str(&m, id);
    buf_str(&m, "\",\"type\":\"function\",\"function\":{\"name\":\"");
    buf_str(&m, name);
    buf_str(&m, "\",\"arguments\":\"");
    buf_str(&m, args);
    buf_str(&m, "\"}}]}");
    conv_msg(c, m.data);
    m.len = 0;
    buf_str(&m, "{\"role\":\"tool\",\"tool_call_id\":\"");
    buf_str(&m, id);
    buf_str(&m, "\",\"content\":\"");
    buf_str(&m, run_tool(name));
    buf_str(&m, "\"}");
    conv_msg(c, m.data);
    printf("assistant> (calls %s)\n", name);
    free(m.data);
    free(id);
    free(name);
    free(args);
    rc = 1;
  } else {
    char *text = raw_string_after(out.data, "content");
    struct buf m = {0};
    buf_str(&m, "{\"role\":\"assistant\",\"content\":\"");
    buf_str(&m, text ? text : "");
    buf_str(&m, "\"}");
    conv_msg(c, m.data);
    printf("assistant> %s\n", text ? text : "");
    free(m.data);
    free(text);
    rc = 0;
  }
  fflush(stdout);
  free(out.data);
  return rc;
}

/* Steps until a text answer (at most 8). */
KEPT int conv_run(struct conv *c) {
  for (int i = 0; i < 8; i++) {
    int rc = conv_step(c, NULL, 200);
    if (rc <= 0)
      return rc;
  }
  return -1;
}

/* ---- modes ---- */

FOLDED int mode_loop(void) {
  struct conv c = {{0}, TOOLS, "x-mock-tool-rounds: 2"};
  conv_msg(&c, "{\"role\":\"system\",\"content\":\"Use tools.\"}");
  conv_user(&c, "What should I wear in Paris this morning?");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

FOLDED int mode_chat(void) {
  static const char *const qs[] = {"Hello there", "What is two plus two",
                                   "Thank you"};
  struct conv c = {{0}, NULL, NULL};
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    conv_user(&c, qs[i]);
    rc = conv_run(&c);
  }
  free(c.msgs.data);
  return rc;
}

/* Two threads in lock step: A step, B step, A step, B step. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn; /* whose step it is: 0 = A, 1 = B */

struct worker {
  int me;
  const char *question;
  int rc;
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  struct conv c = {{0}, TOOLS, NULL};
  conv_user(&c, w->question);
  for (int step = 0; step < 2; step++) {
    pthread_mutex_lock(&mu);
    while (turn != w->me)
      pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    int rc = conv_step(&c, NULL, 200);
    if (rc < 0)
      w->rc = 1;
    pthread_mutex_lock(&mu);
    turn = !w->me;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  }
  free(c.msgs.data);
  return NULL;
}

FOLDED int mode_two(void) {
  struct worker a = {0, "Weather in Paris please", 0};
  struct worker b = {1, "Weather in Oslo please", 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, worker_main, &a);
  pthread_create(&tb, NULL, worker_main, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  return a.rc || b.rc;
}

FOLDED int mode_retry(void) {
  struct conv c = {{0}, TOOLS, NULL};
  conv_user(&c, "Weather in Rome now");
  int rc = conv_step(&c, "x-mock-status: 500", 500) != 2;
  if (!rc)
    rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

/* plan: three named steps, each its own request. */
KEPT int plan(void) {
  struct conv c = {{0}, NULL, NULL};
  conv_user(&c, "Plan a day in Lyon");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

KEPT int execute(void) {
  struct conv c = {{0}, TOOLS, NULL};
  conv_user(&c, "Execute the first step of the plan");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

KEPT int summarize(void) {
  struct conv c = {{0}, NULL, NULL};
  conv_user(&c, "Summarize the day");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

FOLDED int mode_plan(void) {
  int rc = plan();
  if (!rc)
    rc = execute();
  if (!rc)
    rc = summarize();
  return rc;
}

/* The research tool: a sub-agent on a thread or in a child process. */
static int research_in_child; /* 0: thread, 1: process */
static const char *self_path;
static char research_answer[256];

KEPT void *research_thread(void *arg) {
  (void)arg;
  struct conv c = {{0}, NULL, NULL};
  conv_user(&c, "Research the history of Lyon");
  if (conv_run(&c) != 0)
    snprintf(research_answer, sizeof research_answer, "failed");
  else
    snprintf(research_answer, sizeof research_answer, "notes on Lyon");
  free(c.msgs.data);
  return NULL;
}

static const char *research(void) {
  if (!research_in_child) {
    pthread_t t;
    if (pthread_create(&t, NULL, research_thread, NULL) != 0)
      return "failed";
    pthread_join(t, NULL);
    return research_answer;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    execl(self_path, self_path, "child", base_url, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
      WEXITSTATUS(st) != 0)
    return "failed";
  return "notes on Lyon";
}

FOLDED int mode_sub(int in_child) {
  research_in_child = in_child;
  struct conv c = {{0}, RESEARCH_TOOL, NULL};
  conv_user(&c, "Write a guide to Lyon");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

FOLDED int mode_child(void) {
  struct conv c = {{0}, NULL, NULL};
  conv_user(&c, "Research the history of Lyon");
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

/* parallel: every tool call of one answer runs on its own thread. */
struct call_job {
  char *id, *name, *args;
  const char *result;
};

KEPT void *tool_thread(void *arg) {
  struct call_job *j = arg;
  j->result = run_tool(j->name);
  return NULL;
}

/* The first request of parallel_run: the answer with the tool calls. */
KEPT long ask_for_tools(struct conv *c, struct buf *out) {
  char *body = conv_body(c);
  long st = post(body, c->header, out);
  free(body);
  return st;
}

KEPT int parallel_run(void) {
  struct conv c = {{0}, TOOLS, "x-mock-parallel-tools: 2"};
  conv_user(&c, "Weather and time in Paris");
  struct buf out = {0};
  long st = ask_for_tools(&c, &out);
  struct call_job jobs[4];
  int n = 0;
  for (const char *p = st == 200 ? strstr(out.data, "\"tool_calls\": [") : NULL;
       p && n < 4; n++) {
    p = strstr(p, "\"id\": \"call_");
    if (!p)
      break;
    jobs[n].id = raw_string_after(p, "id");
    jobs[n].name = raw_string_after(p, "name");
    jobs[n].args = raw_string_after(p, "arguments");
    p += 6;
  }
  if (n != 2) {
    fprintf(stderr, "nest_agent: expected 2 tool calls, got %d\n", n);
    free(out.data);
    return -1;
  }
  printf("assistant> (calls %s and %s)\n", jobs[0].name, jobs[1].name);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, tool_thread, &jobs[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  struct buf m = {0};
  buf_str(&m, "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[");
  for (int i = 0; i < 2; i++) {
    buf_str(&m, i ? ",{\"id\":\"" : "{\"id\":\"");
    buf_str(&m, jobs[i].id);
    buf_str(&m, "\",\"type\":\"function\",\"function\":{\"name\":\"");
    buf_str(&m, jobs[i].name);
    buf_str(&m, "\",\"arguments\":\"");
    buf_str(&m, jobs[i].args ? jobs[i].args : "{}");
    buf_str(&m, "\"}}");
  }
  buf_str(&m, "]}");
  conv_msg(&c, m.data);
  for (int i = 0; i < 2; i++) {
    m.len = 0;
    buf_str(&m, "{\"role\":\"tool\",\"tool_call_id\":\"");
    buf_str(&m, jobs[i].id);
    buf_str(&m, "\",\"content\":\"");
    buf_str(&m, jobs[i].result);
    buf_str(&m, "\"}");
    conv_msg(&c, m.data);
    free(jobs[i].id);
    free(jobs[i].name);
    free(jobs[i].args);
  }
  free(m.data);
  free(out.data);
  c.header = NULL;
  int rc = conv_run(&c);
  free(c.msgs.data);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr,
            "usage: nest_agent "
            "loop|chat|two|retry|plan|subthread|subproc|parallel BASE_URL\n");
    return 2;
  }
  base_url = argv[2];
  self_path = argv[0];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc;
  if (strcmp(argv[1], "loop") == 0)
    rc = mode_loop();
  else if (strcmp(argv[1], "chat") == 0)
    rc = mode_chat();
  else if (strcmp(argv[1], "two") == 0)
    rc = mode_two();
  else if (strcmp(argv[1], "retry") == 0)
    rc = mode_retry();
  else if (strcmp(argv[1], "plan") == 0)
    rc = mode_plan();
  else if (strcmp(argv[1], "subthread") == 0)
    rc = mode_sub(0);
  else if (strcmp(argv[1], "subproc") == 0)
    rc = mode_sub(1);
  else if (strcmp(argv[1], "child") == 0)
    rc = mode_child();
  else if (strcmp(argv[1], "parallel") == 0)
    rc = parallel_run();
  else
    rc = 2;
  curl_global_cleanup();
  return rc ? 1 : 0;
}
