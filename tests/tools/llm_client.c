/* llm_client: a libcurl client that exercises the code paths an application
 * may use to talk to an LLM API, so that the integration tests can check
 * that autotrace captures each of them and changes nothing.
 *
 *   llm_client [options] URL
 *     --body FILE | --body-string S   request body (POST); "{{i}}" in it is
 *                                     replaced by the transfer's number
 *     -H 'Name: value'                request header (repeatable)
 *     --api easy|multi|multi-socket   how transfers are driven
 *     --post postfields|copypostfields|readfunction
 *     --write callback|default        default: no WRITEFUNCTION, libcurl
 *                                     writes to stdout itself
 *     --header-cb                     install a HEADERFUNCTION (counts only)
 *     --repeat N                      N transfers, one after the other, on
 *                                     one reused easy handle
 *     --parallel N                    N transfers at once on one multi handle
 *     --dup                           perform with a curl_easy_duphandle copy
 *     --alt-url URL2                  with --repeat: transfers 2, 3, 6, 7, ...
 *                                     go to URL2 instead (the URL set again
 *                                     on the same handle before each)
 *     --reset                         curl_easy_reset and reconfigure between
 *                                     transfers (implies at least 2)
 *     --fork                          one transfer, then fork(): the child and
 *                                     then the parent each make one more
 *     --compressed                    CURLOPT_ACCEPT_ENCODING ""
 *     --cacert F | --insecure         TLS verification
 *     --timeout-ms N                  per-transfer timeout (default 60000)
 *     --maps-to FILE                  after the transfers, copy
 *                                     /proc/self/maps to FILE (which
 *                                     libraries the process ended up with),
 *                                     200 ms later, or as soon as it holds
 *     --maps-wait-for S               S (at most 5 s)
 *
 * The response bodies go to stdout exactly as received (in transfer order);
 * one "status=NNN curlcode=N" line per transfer goes to stderr. The exit
 * status is 0 when every transfer completed (whatever the HTTP status), 1
 * when one failed, 2 for usage errors. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum api { API_EASY, API_MULTI, API_SOCKET };
enum post { POST_FIELDS, POST_COPY, POST_READ };

struct opts {
  const char *url;
  const char *alt_url; /* --alt-url */
  char *body;          /* NULL: GET */
  size_t body_len;
  const char *headers[64];
  int nheaders;
  enum api api;
  enum post post;
  int write_cb;
  int header_cb;
  int repeat;
  int parallel;
  int dup;
  int reset;
  int fork;
  int compressed;
  const char *cacert;
  int insecure;
  long timeout_ms;
  const char *maps_to;
  const char *maps_wait_for;
};

struct buf {
  char *data;
  size_t len, cap;
};

/* One transfer's state. */
struct xfer {
  CURL *h;
  struct curl_slist *hdrs;
  char *body; /* this transfer's body (placeholder replaced) */
  size_t body_len;
  size_t read_off;
  struct buf out;
  long header_lines;
  CURLcode result;
  int done;
};

static struct opts O;

static void die(const char *msg) {
  fprintf(stderr, "llm_client: %s\n", msg);
  exit(2);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    die("out of memory");
  return q;
}

static void buf_add(struct buf *b, const char *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "llm_client: %s: %s\n", path, strerror(errno));
    exit(2);
  }
  struct buf b = {0};
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
    buf_add(&b, tmp, n);
  fclose(f);
  if (!b.data)
    buf_add(&b, "", 0);
  *len = b.len;
  return b.data;
}

/* The body with every "{{i}}" replaced by the transfer number. */
static char *body_for(int index, size_t *len) {
  static const char ph[] = "{{i}}";
  char num[32];
  int nl = snprintf(num, sizeof num, "%d", index);
  struct buf b = {0};
  size_t i = 0;
  while (i < O.body_len) {
    if (O.body_len - i >= sizeof ph - 1 &&
        memcmp(O.body + i, ph, sizeof ph - 1) == 0) {
      buf_add(&b, num, (size_t)nl);
      i += sizeof ph - 1;
    } else {
      buf_add(&b, O.body + i, 1);
      i++;
    }
  }
  if (!b.data)
    buf_add(&b, "", 0);
  *len = b.len;
  return b.data;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud) {
  struct xfer *x = ud;
  buf_add(&x->out, p, sz * n);
  return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
  struct xfer *x = ud;
  (void)p;
  x->header_lines++;
  return sz * n;
}

/* Deliver the body in small, uneven pieces. */
static size_t on_read(char *dst, size_t sz, size_t n, void *ud) {
  struct xfer *x = ud;
  size_t room = sz * n;
  size_t piece = 7 + (x->read_off % 11);
  size_t left = x->body_len - x->read_off;
  if (piece > room)
    piece = room;
  if (piece > left)
    piece = left;
  memcpy(dst, x->body + x->read_off, piece);
  x->read_off += piece;
  return piece;
}

static int on_seek(void *ud, curl_off_t off, int origin) {
  struct xfer *x = ud;
  if (origin != SEEK_SET || off < 0 || (size_t)off > x->body_len)
    return CURL_SEEKFUNC_FAIL;
  x->read_off = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

#define SET(h, opt, val)                                                       \
  do {                                                                         \
    if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK)                       \
      die("curl_easy_setopt " #opt " failed");                                 \
  } while (0)

static void configure(struct xfer *x) {
  CURL *h = x->h;
  SET(h, CURLOPT_URL, O.url);
  SET(h, CURLOPT_NOSIGNAL, 1L);
  SET(h, CURLOPT_TIMEOUT_MS, O.timeout_ms);
  if (O.cacert)
    SET(h, CURLOPT_CAINFO, O.cacert);
  if (O.insecure) {
    SET(h, CURLOPT_SSL_VERIFYPEER, 0L);
    SET(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (O.compressed)
    SET(h, CURLOPT_ACCEPT_ENCODING, "");
  if (x->hdrs)
    SET(h, CURLOPT_HTTPHEADER, x->hdrs);
  if (O.write_cb) {
    SET(h, CURLOPT_WRITEFUNCTION, on_write);
    SET(h, CURLOPT_WRITEDATA, x);
  }
  if (O.header_cb) {
    SET(h, CURLOPT_HEADERFUNCTION, on_header);
    SET(h, CURLOPT_HEADERDATA, x);
  }
  if (x->body) {
    switch (O.post) {
    case POST_FIELDS:
      /* No size: libcurl takes strlen() of the body. */
      SET(h, CURLOPT_POSTFIELDS, x->body);
      break;
    case POST_COPY:
      SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
      SET(h, CURLOPT_COPYPOSTFIELDS, x->body);
      break;
    case POST_READ:
      SET(h, CURLOPT_POST, 1L);
      SET(h, CURLOPT_READFUNCTION, on_read);
      SET(h, CURLOPT_READDATA, x);
      SET(h, CURLOPT_SEEKFUNCTION, on_seek);
      SET(h, CURLOPT_SEEKDATA, x);
      SET(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
      break;
    }
  }
}

static void xfer_init(struct xfer *x, int index) {
  memset(x, 0, sizeof *x);
  x->h = curl_easy_init();
  if (!x->h)
    die("curl_easy_init failed");
  for (int i = 0; i < O.nheaders; i++) {
    struct curl_slist *l = curl_slist_append(x->hdrs, O.headers[i]);
    if (!l)
      die("curl_slist_append failed");
    x->hdrs = l;
  }
  if (O.body) {
    x->body = body_for(index, &x->body_len);
    if (O.post == POST_FIELDS && strlen(x->body) != x->body_len)
      die("--post postfields needs a body without NUL bytes");
  }
  configure(x);
}

static void xfer_free(struct xfer *x) {
  if (x->h)
    curl_easy_cleanup(x->h);
  curl_slist_free_all(x->hdrs);
  free(x->body);
  free(x->out.data);
  memset(x, 0, sizeof *x);
}

/* Before a new transfer on the same handle. */
static void xfer_rewind(struct xfer *x) {
  x->read_off = 0;
  x->out.len = 0;
  x->done = 0;
  x->header_lines = 0;
}

/* Print a finished transfer: body (callback mode) to stdout, status line to
 * stderr. Returns 0 when the transfer completed. */
static int report(struct xfer *x) {
  long status = 0;
  curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
  if (O.write_cb && x->out.len) {
    fwrite(x->out.data, 1, x->out.len, stdout);
  }
  fflush(stdout);
  if (O.header_cb && x->result == CURLE_OK && x->header_lines == 0) {
    fprintf(stderr, "llm_client: header callback never called\n");
    return 1;
  }
  fprintf(stderr, "status=%ld curlcode=%d\n", status, (int)x->result);
  return x->result == CURLE_OK ? 0 : 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the multi API: perform + poll ---- */

static void collect(CURLM *m, struct xfer *xs, int n, int *left) {
  CURLMsg *msg;
  int q;
  while ((msg = curl_multi_info_read(m, &q)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    for (int i = 0; i < n; i++) {
      if (xs[i].h == msg->easy_handle && !xs[i].done) {
        xs[i].result = msg->data.result;
        xs[i].done = 1;
        curl_multi_remove_handle(m, xs[i].h);
        (*left)--;
      }
    }
  }
}

static void run_multi_poll(CURLM *m, struct xfer *xs, int n) {
  int left = n, running = 0;
  double deadline = now_s() + (double)O.timeout_ms / 1000.0 + 5.0;
  while (left > 0) {
    if (now_s() > deadline)
      die("multi loop: timed out");
    CURLMcode mc = curl_multi_perform(m, &running);
    if (mc != CURLM_OK)
      die(curl_multi_strerror(mc));
    collect(m, xs, n, &left);
    if (left == 0)
      break;
    mc = curl_multi_poll(m, NULL, 0, 200, NULL);
    if (mc != CURLM_OK)
      die(curl_multi_strerror(mc));
  }
}

/* ---- the multi socket API: socket_action + our own poll() ---- */

#define MAX_SOCKS 64
struct sockstate {
  curl_socket_t fd[MAX_SOCKS];
  short events[MAX_SOCKS];
  int nfds;
  long timeout_ms; /* -1: none */
};

static int on_socket(CURL *e, curl_socket_t s, int what, void *ud, void *sp) {
  struct sockstate *st = ud;
  (void)e;
  (void)sp;
  int i;
  for (i = 0; i < st->nfds; i++)
    if (st->fd[i] == s)
      break;
  if (what == CURL_POLL_REMOVE) {
    if (i < st->nfds) {
      st->fd[i] = st->fd[st->nfds - 1];
      st->events[i] = st->events[st->nfds - 1];
      st->nfds--;
    }
    return 0;
  }
  if (i == st->nfds) {
    if (st->nfds == MAX_SOCKS)
      return -1;
    st->nfds++;
    st->fd[i] = s;
  }
  st->events[i] = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                          ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud) {
  struct sockstate *st = ud;
  (void)m;
  st->timeout_ms = timeout_ms;
  return 0;
}

static void run_multi_socket(CURLM *m, struct sockstate *st, struct xfer *xs,
                             int n) {
  int left = n, running = 0;
  double deadline = now_s() + (double)O.timeout_ms / 1000.0 + 5.0;
  /* Adding the handles armed the timer: kick it. */
  curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
  collect(m, xs, n, &left);
  while (left > 0) {
    if (now_s() > deadline)
      die("multi-socket loop: timed out");
    struct pollfd pfd[MAX_SOCKS];
    int nfds = st->nfds;
    for (int i = 0; i < nfds; i++) {
      pfd[i].fd = st->fd[i];
      pfd[i].events = st->events[i];
      pfd[i].revents = 0;
    }
    int wait =
        st->timeout_ms < 0 || st->timeout_ms > 200 ? 200 : (int)st->timeout_ms;
    int r = poll(pfd, (nfds_t)nfds, wait);
    if (r < 0 && errno != EINTR)
      die("poll failed");
    if (r > 0) {
      for (int i = 0; i < nfds; i++) {
        if (!pfd[i].revents)
          continue;
        int ev = 0;
        if (pfd[i].revents & (POLLIN | POLLHUP))
          ev |= CURL_CSELECT_IN;
        if (pfd[i].revents & POLLOUT)
          ev |= CURL_CSELECT_OUT;
        if (pfd[i].revents & (POLLERR | POLLNVAL))
          ev |= CURL_CSELECT_ERR;
        curl_multi_socket_action(m, pfd[i].fd, ev, &running);
      }
    } else {
      curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    collect(m, xs, n, &left);
  }
}

/* Run transfers xs[0..n) to completion with the chosen API. */
static void run_batch(struct xfer *xs, int n) {
  if (O.api == API_EASY) {
    for (int i = 0; i < n; i++) {
      xs[i].result = curl_easy_perform(xs[i].h);
      xs[i].done = 1;
    }
    return;
  }
  CURLM *m = curl_multi_init();
  if (!m)
    die("curl_multi_init failed");
  struct sockstate st = {.nfds = 0, .timeout_ms = -1};
  if (O.api == API_SOCKET) {
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &st);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, &st);
  }
  for (int i = 0; i < n; i++)
    if (curl_multi_add_handle(m, xs[i].h) != CURLM_OK)
      die("curl_multi_add_handle failed");
  if (O.api == API_MULTI)
    run_multi_poll(m, xs, n);
  else
    run_multi_socket(m, &st, xs, n);
  curl_multi_cleanup(m);
}

/* One transfer on x, reporting it. */
static int one(struct xfer *x) {
  xfer_rewind(x);
  run_batch(x, 1);
  return report(x);
}

static int run_fork(void) {
  struct xfer x;
  int rc = 0;
  xfer_init(&x, 0);
  rc |= one(&x);
  xfer_free(&x);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    die("fork failed");
  if (pid == 0) {
    xfer_init(&x, 1);
    int crc = one(&x);
    xfer_free(&x);
    curl_global_cleanup();
    exit(crc); /* exit(), not _exit(): atexit handlers run as in real apps */
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR)
      die("waitpid failed");
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    rc = 1;
  xfer_init(&x, 2);
  rc |= one(&x);
  xfer_free(&x);
  return rc;
}

static void copy_maps(const char *to) {
  size_t len;
  char *maps = NULL;
  /* Poll: libraries another thread loads appear when they appear. */
  for (int i = 0; i < 250; i++) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    free(maps);
    maps = read_file("/proc/self/maps", &len);
    if (O.maps_wait_for ? strstr(maps, O.maps_wait_for) != NULL : i >= 10)
      break;
    nanosleep(&ts, NULL);
  }
  FILE *f = fopen(to, "wb");
  if (!f || fwrite(maps, 1, len, f) != len || fclose(f) != 0)
    die("cannot write --maps-to file");
  free(maps);
}

static void usage(void) {
  fprintf(stderr,
          "usage: llm_client [--body FILE | --body-string S] [-H HDR]...\n"
          "  [--api easy|multi|multi-socket]\n"
          "  [--post postfields|copypostfields|readfunction]\n"
          "  [--write callback|default] [--header-cb] [--repeat N]"
          " [--alt-url URL2]\n"
          "  [--parallel N] [--dup] [--reset] [--fork] [--compressed]\n"
          "  [--cacert F] [--insecure] [--timeout-ms N] [--maps-to F] URL\n");
  exit(2);
}

static int to_int(const char *s, int lo, int hi) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi)
    usage();
  return (int)v;
}

static void parse_args(int argc, char **argv) {
  O.api = API_EASY;
  O.post = POST_FIELDS;
  O.write_cb = 1;
  O.repeat = 1;
  O.parallel = 1;
  O.timeout_ms = 60000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                                \
  do {                                                                         \
    if (!v)                                                                    \
      usage();                                                                 \
    i++;                                                                       \
  } while (0)
    if (!strcmp(a, "--body")) {
      NEEDV();
      free(O.body);
      O.body = read_file(v, &O.body_len);
    } else if (!strcmp(a, "--body-string")) {
      NEEDV();
      free(O.body);
      O.body_len = strlen(v);
      O.body = xrealloc(NULL, O.body_len + 1);
      memcpy(O.body, v, O.body_len + 1);
    } else if (!strcmp(a, "-H")) {
      NEEDV();
      if (O.nheaders == 64)
        die("too many headers");
      O.headers[O.nheaders++] = v;
    } else if (!strcmp(a, "--api")) {
      NEEDV();
      if (!strcmp(v, "easy"))
        O.api = API_EASY;
      else if (!strcmp(v, "multi"))
        O.api = API_MULTI;
      else if (!strcmp(v, "multi-socket"))
        O.api = API_SOCKET;
      else
        usage();
    } else if (!strcmp(a, "--post")) {
      NEEDV();
      if (!strcmp(v, "postfields"))
        O.post = POST_FIELDS;
      else if (!strcmp(v, "copypostfields"))
        O.post = POST_COPY;
      else if (!strcmp(v, "readfunction"))
        O.post = POST_READ;
      else
        usage();
    } else if (!strcmp(a, "--write")) {
      NEEDV();
      if (!strcmp(v, "callback"))
        O.write_cb = 1;
      else if (!strcmp(v, "default"))
        O.write_cb = 0;
      else
        usage();
    } else if (!strcmp(a, "--header-cb")) {
      O.header_cb = 1;
    } else if (!strcmp(a, "--repeat")) {
      NEEDV();
      O.repeat = to_int(v, 1, 1000);
    } else if (!strcmp(a, "--parallel")) {
      NEEDV();
      O.parallel = to_int(v, 1, 32);
    } else if (!strcmp(a, "--alt-url")) {
      NEEDV();
      O.alt_url = v;
    } else if (!strcmp(a, "--dup")) {
      O.dup = 1;
    } else if (!strcmp(a, "--reset")) {
      O.reset = 1;
    } else if (!strcmp(a, "--fork")) {
      O.fork = 1;
    } else if (!strcmp(a, "--compressed")) {
      O.compressed = 1;
    } else if (!strcmp(a, "--cacert")) {
      NEEDV();
      O.cacert = v;
    } else if (!strcmp(a, "--insecure")) {
      O.insecure = 1;
    } else if (!strcmp(a, "--maps-to")) {
      NEEDV();
      O.maps_to = v;
    } else if (!strcmp(a, "--maps-wait-for")) {
      NEEDV();
      O.maps_wait_for = v;
    } else if (!strcmp(a, "--timeout-ms")) {
      NEEDV();
      O.timeout_ms = to_int(v, 1, 3600000);
    } else if (a[0] == '-') {
      usage();
    } else if (!O.url) {
      O.url = a;
    } else {
      usage();
    }
#undef NEEDV
  }
  if (!O.url)
    usage();
  if (O.parallel > 1 && O.api == API_EASY)
    die("--parallel needs --api multi or multi-socket");
  if (O.parallel > 1 && !O.write_cb)
    die("--parallel needs --write callback (outputs would interleave)");
  if ((O.parallel > 1) + O.dup + O.fork > 1)
    die("--parallel, --dup and --fork do not combine");
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    die("curl_global_init failed");
  int rc = 0;
  if (O.fork) {
    rc = run_fork();
  } else if (O.parallel > 1) {
    struct xfer *xs = xrealloc(NULL, sizeof *xs * (size_t)O.parallel);
    for (int i = 0; i < O.parallel; i++)
      xfer_init(&xs[i], i);
    for (int r = 0; r < O.repeat; r++) {
      for (int i = 0; i < O.parallel; i++)
        xfer_rewind(&xs[i]);
      run_batch(xs, O.parallel);
      for (int i = 0; i < O.parallel; i++)
        rc |= report(&xs[i]);
    }
    for (int i = 0; i < O.parallel; i++)
      xfer_free(&xs[i]);
    free(xs);
  } else {
    struct xfer x;
    xfer_init(&x, 0);
    if (O.dup) {
      /* Perform with the copy only; the original is configured but idle.
       * The copy's callbacks still point at x (as in a real program). */
      CURL *orig = x.h;
      x.h = curl_easy_duphandle(orig);
      if (!x.h)
        die("curl_easy_duphandle failed");
      curl_easy_cleanup(orig);
    }
    int rounds = O.repeat;
    if (O.reset && rounds < 2)
      rounds = 2;
    for (int r = 0; r < rounds; r++) {
      if (r > 0 && O.reset) {
        curl_easy_reset(x.h);
        configure(&x);
      }
      if (O.alt_url)
        SET(x.h, CURLOPT_URL, r % 4 < 2 ? O.url : O.alt_url);
      rc |= one(&x);
    }
    xfer_free(&x);
  }
  free(O.body);
  if (O.maps_to)
    copy_maps(O.maps_to);
  curl_global_cleanup();
  return rc;
}
