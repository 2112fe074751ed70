/* curl_bench: time N sequential libcurl requests on one reused easy handle.
 *
 *   curl_bench [-n N] [--warmup W] [--body-size B] [--setopt-each]
 *              [--setopt-only] [--pin-cpu C] [--max-seconds S]
 *              [--lockstep IN,OUT,EVERY,first|second] URL
 *
 * Each request is a POST of a realistic OpenAI chat request of about B
 * bytes (several messages; default 1024) -- or a GET when B is 0. Only
 * curl_easy_perform is timed (CLOCK_MONOTONIC); the options are set once,
 * unless --setopt-each: then every request sets CURLOPT_URL and its body
 * again inside the timed region, as most applications do (so the shim's
 * setopt hooks and URL check are counted too). W warm-up requests (default
 * 0) run first and are not counted. Every answer must be HTTP 200 with a
 * body (a file:// URL: any body). --setopt-only times the setopt calls
 * alone (no transfer at all): the shim's URL check in isolation.
 *
 * --pin-cpu C pins this (the main) thread to CPU C once the first request
 * is done. Threads created before that -- autotrace's spool writer starts
 * at the first capture -- keep the affinity the program started with, so
 * with the mock server pinned to C as well, client and server trade the
 * CPU without cross-CPU wake-ups while the writer may run on another one,
 * as it would on a machine with spare cores.
 *
 * --lockstep runs two clients turn about: this one waits for a byte on
 * the FIFO IN before each block of EVERY requests (the first block of the
 * one named "first" excepted) and writes one to OUT after it; the other
 * client is started with the two FIFOs swapped. Both then see the machine
 * in the same state, block after block: on a VM whose speed changes in
 * steps every few tenths of a second, comparing two runs made one after
 * the other compares two different machines (bench/run.sh). The waits
 * are not timed; a partner silent for 10 s ends the run with an error.
 *
 * Prints one line on stdout:
 *   n=2000 p50_us=.. p99_us=.. mean_us=.. min_us=.. max_us=.. total_ms=..
 *   resp_bytes=.. req_bytes=.. failures=0 thread_cpu_ms=..
 *   thread_user_ms=.. thread_sys_ms=.. thread_minflt=.. thread_nvcsw=..
 * (thread_*: CPU of the main thread alone, up to the end of the loop)
 * Exit status 0 when every request succeeded, 1 otherwise, 2 for usage.
 * Bounded: each transfer times out after 10 s, the whole loop stops after
 * --max-seconds (default 120). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct sink {
  size_t bytes;
};

static size_t on_write(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  ((struct sink *)ud)->bytes += size * n;
  return size * n;
}

/* Append s to b (capacity cap), filler text when s is NULL (len bytes). */
static size_t put(char *b, size_t at, size_t cap, const char *s, size_t len) {
  static const char words[] =
      "The quarterly report shows revenue up four percent, costs flat, "
      "and a backlog of support tickets that needs triage before Friday. ";
  for (size_t i = 0; i < len && at + 1 < cap; i++, at++)
    b[at] = s ? s[i] : words[i % (sizeof words - 1)];
  b[at < cap ? at : cap - 1] = '\0';
  return at;
}

/* A chat request of about `target` bytes: a system prompt, three user
 * turns and two assistant turns sharing the space, plus parameters. */
static char *make_request(size_t target, size_t *len) {
  static const char *roles[] = {"system", "user",      "assistant",
                                "user",   "assistant", "user"};
  const size_t nmsg = sizeof roles / sizeof roles[0];
  static const char head[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[";
  static const char tail[] =
      "],\"temperature\":0.2,\"max_tokens\":512,\"top_p\":1,"
      "\"user\":\"bench\"}";
  size_t overhead = sizeof head - 1 + sizeof tail - 1;
  for (size_t i = 0; i < nmsg; i++)
    overhead += strlen("{\"role\":\"\",\"content\":\"\"},") + strlen(roles[i]);
  overhead -= 1; /* no comma after the last message */
  size_t fill = target > overhead + nmsg ? target - overhead : nmsg;
  size_t cap = overhead + fill + 64;
  char *b = malloc(cap);
  if (!b)
    return NULL;
  size_t at = put(b, 0, cap, head, sizeof head - 1);
  for (size_t i = 0; i < nmsg; i++) {
    size_t share = fill / nmsg + (i == nmsg - 1 ? fill % nmsg : 0);
    at = put(b, at, cap, "{\"role\":\"", 9);
    at = put(b, at, cap, roles[i], strlen(roles[i]));
    at = put(b, at, cap, "\",\"content\":\"", 13);
    at = put(b, at, cap, NULL, share);
    at = put(b, at, cap, "\"}", 2);
    if (i + 1 < nmsg)
      at = put(b, at, cap, ",", 1);
  }
  at = put(b, at, cap, tail, sizeof tail - 1);
  *len = at;
  return b;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p) {
  size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
  if (k < 1)
    k = 1;
  if (k > n)
    k = n;
  return v[k - 1];
}

/* Taking turns with another client (--lockstep). */
struct lockstep {
  int in, out; /* FIFOs, -1: not in lockstep */
  long every;
  int first;
};

static int parse_lockstep(const char *arg, struct lockstep *ls) {
  char in[512], out[512], role[16];
  long every;
  if (sscanf(arg, "%511[^,],%511[^,],%ld,%15s", in, out, &every, role) != 4 ||
      every < 1 || (strcmp(role, "first") != 0 && strcmp(role, "second") != 0))
    return -1;
  /* O_RDWR: opening a FIFO so does not wait for the other end (Linux) */
  ls->in = open(in, O_RDWR | O_CLOEXEC);
  ls->out = open(out, O_RDWR | O_CLOEXEC);
  if (ls->in < 0 || ls->out < 0) {
    fprintf(stderr, "curl_bench: lockstep: %s: %s\n", ls->in < 0 ? in : out,
            strerror(errno));
    return -1;
  }
  ls->every = every;
  ls->first = role[0] == 'f';
  return 0;
}

static int wait_turn(const struct lockstep *ls) {
  struct pollfd p = {.fd = ls->in, .events = POLLIN};
  for (;;) {
    int r = poll(&p, 1, 10000);
    if (r < 0 && errno == EINTR)
      continue;
    char c;
    if (r == 1 && read(ls->in, &c, 1) == 1)
      return 0;
    fprintf(stderr, "curl_bench: lockstep: no turn from the other client\n");
    return -1;
  }
}

static void pass_turn(const struct lockstep *ls) {
  char c = 't';
  while (write(ls->out, &c, 1) < 0 && errno == EINTR)
    ;
}

static int usage(void) {
  fprintf(stderr, "usage: curl_bench [-n N] [--warmup W] [--body-size B] "
                  "[--setopt-each] [--setopt-only] [--pin-cpu C] "
                  "[--max-seconds S] [--lockstep IN,OUT,EVERY,first|second] "
                  "URL\n");
  return 2;
}

int main(int argc, char **argv) {
  long n = 2000, warmup = 0;
  long body_size = 1024;
  double max_s = 120;
  const char *url = NULL;
  int setopt_each = 0, setopt_only = 0;
  int pin_cpu = -1;
  struct lockstep ls = {.in = -1, .out = -1};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      url = a;
      continue;
    }
    if (strcmp(a, "--setopt-each") == 0) {
      setopt_each = 1;
      continue;
    }
    if (strcmp(a, "--setopt-only") == 0) {
      setopt_only = 1;
      continue;
    }
    if (i + 1 >= argc)
      return usage();
    if (strcmp(a, "-n") == 0)
      n = atol(argv[++i]);
    else if (strcmp(a, "--warmup") == 0)
      warmup = atol(argv[++i]);
    else if (strcmp(a, "--body-size") == 0)
      body_size = atol(argv[++i]);
    else if (strcmp(a, "--max-seconds") == 0)
      max_s = atof(argv[++i]);
    else if (strcmp(a, "--pin-cpu") == 0)
      pin_cpu = atoi(argv[++i]);
    else if (strcmp(a, "--lockstep") == 0) {
      if (parse_lockstep(argv[++i], &ls) != 0)
        return usage();
    } else
      return usage();
  }
  if (!url || n < 1 || n > 10000000 || warmup < 0 || body_size < 0)
    return usage();

  size_t req_len = 0;
  char *req = NULL;
  if (body_size > 0 && !(req = make_request((size_t)body_size, &req_len))) {
    fprintf(stderr, "curl_bench: out of memory\n");
    return 1;
  }
  double *t = malloc((size_t)n * sizeof *t);
  if (!t || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "curl_bench: cannot initialise\n");
    return 1;
  }
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = NULL;
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Authorization: Bearer sk-bench-not-a-key");
  struct sink sink = {0};
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (req) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req_len);
  }

  int is_file = strncmp(url, "file:", 5) == 0;
  long failures = 0, done = 0;
  size_t resp_bytes = 0;
  double t_begin = mono_us(), deadline = t_begin + max_s * 1e6;
  for (long i = 0; i < warmup + n; i++) {
    if (ls.in >= 0 && i % ls.every == 0 && !(ls.first && i == 0) &&
        wait_turn(&ls) != 0) {
      failures++;
      break;
    }
    sink.bytes = 0;
    double t0 = mono_us();
    if (setopt_each || setopt_only) {
      curl_easy_setopt(h, CURLOPT_URL, url);
      if (req) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req_len);
      }
    }
    CURLcode rc = setopt_only ? CURLE_OK : curl_easy_perform(h);
    double t1 = mono_us();
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (setopt_only) {
      status = 200;
      sink.bytes = 1;
    }
    if (rc != CURLE_OK || (status != 200 && !is_file) || sink.bytes == 0) {
      if (failures++ < 3)
        fprintf(stderr, "curl_bench: request %ld: %s, HTTP %ld\n", i,
                curl_easy_strerror(rc), status);
    }
    if (ls.in >= 0 && ((i + 1) % ls.every == 0 || i + 1 == warmup + n))
      pass_turn(&ls);
    if (i == 0 && pin_cpu >= 0 && pin_cpu < CPU_SETSIZE) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(pin_cpu, &set);
      if (sched_setaffinity(0, sizeof set, &set) != 0)
        fprintf(stderr, "curl_bench: cannot pin to CPU %d\n", pin_cpu);
    }
    if (i >= warmup) {
      t[done++] = t1 - t0;
      resp_bytes = sink.bytes;
    }
    if (t1 > deadline) {
      fprintf(stderr, "curl_bench: stopped after %.0f s\n", max_s);
      failures++;
      break;
    }
  }
  double total_ms = (mono_us() - t_begin) / 1e3;
  /* CPU of this (the application's) thread alone, start-up included */
  struct rusage ru;
  double thread_user_ms = -1, thread_sys_ms = 0;
  long thread_minflt = -1, thread_nvcsw = -1;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    thread_minflt = ru.ru_minflt;
    thread_nvcsw = ru.ru_nvcsw;
    thread_user_ms =
        ((double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec) / 1e3;
    thread_sys_ms =
        ((double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec) / 1e3;
  }
  curl_easy_cleanup(h);
  curl_slist_free_all(hdrs);
  curl_global_cleanup();

  if (done == 0) {
    fprintf(stderr, "curl_bench: no request completed\n");
    return 1;
  }
  double sum = 0;
  for (long i = 0; i < done; i++)
    sum += t[i];
  qsort(t, (size_t)done, sizeof *t, cmp_double);
  printf("n=%ld p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f "
         "max_us=%.2f total_ms=%.1f resp_bytes=%zu req_bytes=%zu "
         "failures=%ld thread_cpu_ms=%.1f thread_user_ms=%.1f "
         "thread_sys_ms=%.1f thread_minflt=%ld thread_nvcsw=%ld\n",
         done, pct(t, (size_t)done, 50), pct(t, (size_t)done, 99),
         sum / (double)done, t[0], t[done - 1], total_ms, resp_bytes, req_len,
         failures, thread_user_ms + thread_sys_ms, thread_user_ms,
         thread_sys_ms, thread_minflt, thread_nvcsw);
  free(t);
  free(req);
  return failures ? 1 : 0;
}
