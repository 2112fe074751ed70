/* autotrace upload: the sidecar that ships the spool to Langfuse and to any
 * OpenTelemetry backend (docs/upload.md).
 *
 * One loop, one thread. Each target has a cursor in the spool (the highest
 * record the backend accepted) and at most one batch in flight, recorded
 * in the spool before it is sent; the cursor moves only after the backend
 * said yes. A kill -9 at any moment therefore loses nothing, and the batch
 * re-sent after a restart is rebuilt from the same range into the same
 * bytes. Follow mode sleeps on inotify (with a 2 s fallback poll), so an
 * idle uploader costs nothing; retries wait with exponential backoff and
 * jitter. SIGTERM lets the request in flight finish, records its outcome
 * and exits 0. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/clock.h"
#include "diag.h"
#include "fmt.h"
#include "preload/config.h"
#include "record.h"
#include "spool/spool.h"
#include "store.h"
#include "upload.h"
#include "upload_env.h"

static const char upload_usage[] =
    "usage: autotrace upload [--target T]... [--once | --dry-run] "
    "[--retry-parked]\n"
    "                        [-q] [--spool DIR] [--config FILE] "
    "[--grace SECONDS]\n"
    "                        [--timeout SECONDS] [--batch-spans N] "
    "[--batch-bytes SIZE]\n"
    "                        [--nice N]\n"
    "       autotrace upload --prune [--spool DIR]\n"
    "\n"
    "Ship the spool's finished observations to Langfuse and/or any\n"
    "OpenTelemetry backend, each span once and complete. Follows the spool\n"
    "until SIGTERM (which finishes the request in flight and exits 0).\n"
    "\n"
    "  --target T       langfuse (its OTLP endpoint, v3 and v4), otlp (any\n"
    "                   OpenTelemetry backend) or langfuse-legacy (the v3\n"
    "                   batch API); repeatable. Default: every target the\n"
    "                   environment configures (LANGFUSE_PUBLIC_KEY and\n"
    "                   LANGFUSE_SECRET_KEY; OTEL_EXPORTER_OTLP_ENDPOINT)\n"
    "  --once           send what is there, then exit\n"
    "  --dry-run        print the requests that would be sent (credentials\n"
    "                   redacted); send and change nothing\n"
    "  --retry-parked   first send again the batches a server refused\n"
    "  --prune          apply the retention bounds ($AUTOTRACE_RETENTION,\n"
    "                   default " AT_DEFAULT_RETENTION ") and exit\n"
    "  -q, --quiet      no progress line and no summary\n"
    "  --spool DIR      the spool to upload from\n"
    "  --config FILE    credentials file (KEY=VALUE lines, mode 0600);\n"
    "                   default ${XDG_CONFIG_HOME:-~/.config}/"
    "autotrace/upload.env\n"
    "  --grace SECONDS  a dead process's open span is closed (incomplete)\n"
    "                   and shipped this long after it started (default 30)\n"
    "  --timeout SECONDS  limit of one HTTP request (default 30)\n"
    "  --batch-spans N  spans per request (default 500)\n"
    "  --batch-bytes SIZE  request body size to aim for (default 4M)\n"
    "  --nice N         run at this much lower CPU priority (default 10;\n"
    "                   the threads building requests run only when a CPU\n"
    "                   is idle, unless N is 0)\n"
    "\n"
    "Credentials come from the environment or the config file, never from\n"
    "the command line. See autotrace(1) and docs/upload.md.\n";

/* ---- signals ---- */

static volatile sig_atomic_t g_stop_sig;

static void on_signal(int sig) {
  g_stop_sig = sig;
}

/* The stop signals are blocked except while waiting (ppoll), so that a
 * request in flight is never cut: a pending one is picked up here. */
static int stop_requested(void) {
  if (g_stop_sig)
    return 1;
  sigset_t pend;
  if (sigpending(&pend) == 0 &&
      (sigismember(&pend, SIGTERM) || sigismember(&pend, SIGINT) ||
       sigismember(&pend, SIGHUP))) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGHUP);
    struct timespec zero = {0, 0};
    int sig = sigtimedwait(&s, NULL, &zero);
    if (sig > 0)
      g_stop_sig = sig;
  }
  return g_stop_sig != 0;
}

/* ---- state ---- */

struct tstate {
  struct upload_target *t;
  struct http_client *http;
  uint64_t cursor;
  unsigned attempt;       /* tries of the current batch */
  unsigned server_errors; /* 500-class answers to it */
  int64_t next_try_ns;    /* monotonic; the batch waits until then */
  size_t split_spans;     /* after a 413: fewer spans per request */
  int skip_inflight;      /* after a split: do not re-send the big range */
  int idle;               /* nothing to send at the last look */
  int gave_up;            /* --once: retries exhausted */
  int failing;            /* in a run of failures (for messages) */
  uint64_t sent_spans, sent_batches, parked_batches, parked_spans, retries,
      rejected;
  uint64_t dry_cursor; /* --dry-run: where the next printed batch starts */
};

struct up {
  struct spool *sp;
  char dir[4096];
  struct tstate *ts;
  size_t nts;
  struct upload_build_opts bo;
  int once, dry_run, quiet, progress, retry_parked;
  int64_t grace_ns;
  int64_t ret_age_ns;
  uint64_t ret_bytes;
  int inotify_fd;
  /* Builder threads, each preparing one batch ahead (none: everything on
   * this thread). */
  struct ahead {
    struct upload_builder *w;
    struct tstate *owner; /* whose batch it holds; NULL when idle */
    uint64_t first, last;
  } ahead[AT_UPLOAD_BUILDERS_MAX];
  size_t nahead;
  /* progress line */
  int64_t started_ns, last_draw_ns;
  int64_t rate_t[8];
  uint64_t rate_n[8];
  unsigned rate_i;
  int drawn;
  unsigned rnd;
};

static uint64_t total_sent(const struct up *u) {
  uint64_t n = 0;
  for (size_t i = 0; i < u->nts; i++)
    n += u->ts[i].sent_spans;
  return n;
}

static const char *short_name(const struct tstate *ts) {
  return upload_kind_name(ts->t->kind);
}

/* ---- progress (a terminal only) ---- */

static void progress_clear(struct up *u) {
  if (u->drawn) {
    fputs("\r\033[K", stderr);
    u->drawn = 0;
  }
}

static void progress_draw(struct up *u, int force) {
  if (!u->progress)
    return;
  int64_t now = at_mono_ns();
  if (!force && now - u->last_draw_ns < 500000000LL)
    return;
  u->last_draw_ns = now;
  uint64_t sent = total_sent(u);
  /* Rate over the last few seconds: the oldest of 8 samples 0.5 s apart. */
  unsigned old = (u->rate_i + 1) % 8;
  u->rate_i = (u->rate_i + 1) % 8;
  u->rate_t[u->rate_i] = now;
  u->rate_n[u->rate_i] = sent;
  double rate = 0;
  if (u->rate_t[old] && now > u->rate_t[old])
    rate =
        (double)(sent - u->rate_n[old]) * 1e9 / (double)(now - u->rate_t[old]);
  uint64_t last = 0;
  spool_last_seq(u->sp, &last);
  char line[512], b1[FMT_BUF], b2[FMT_BUF], b3[FMT_BUF];
  size_t k = 0;
  for (size_t i = 0; i < u->nts && k < sizeof line - 1; i++) {
    const struct tstate *ts = &u->ts[i];
    uint64_t pending = last > ts->cursor ? last - ts->cursor : 0;
    int n = snprintf(line + k, sizeof line - k, "%s%s %s sent, %s pending",
                     i ? " | " : "", short_name(ts),
                     fmt_count(ts->sent_spans, b1, sizeof b1),
                     fmt_count(pending, b2, sizeof b2));
    if (n > 0)
      k += (size_t)n < sizeof line - k ? (size_t)n : sizeof line - k - 1;
    if (ts->retries || ts->parked_batches) {
      n = snprintf(line + k, sizeof line - k, ", %s errors, %s parked",
                   fmt_count(ts->retries, b1, sizeof b1),
                   fmt_count(ts->parked_batches, b3, sizeof b3));
      if (n > 0)
        k += (size_t)n < sizeof line - k ? (size_t)n : sizeof line - k - 1;
    }
  }
  fprintf(stderr, "\r\033[Kautotrace upload: %s, %.0f spans/s", line, rate);
  fflush(stderr);
  u->drawn = 1;
}

static void note(struct up *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct up *u, const char *fmt, ...) {
  if (u->quiet)
    return;
  progress_clear(u);
  va_list ap;
  va_start(ap, fmt);
  fputs("autotrace: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- one batch ---- */

enum step { STEP_IDLE = 0, STEP_SENT, STEP_WAIT, STEP_ERROR };

static double rnd01(struct up *u) {
  u->rnd = u->rnd * 1103515245u + 12345u;
  return (double)((u->rnd >> 8) & 0xffff) / 65536.0;
}

/* The info stored with a parked batch: what the server said, when. */
static char *park_info(long status, const char *message, size_t spans) {
  cJSON *j = cJSON_CreateObject();
  cJSON_AddNumberToObject(j, "status", (double)status);
  cJSON_AddStringToObject(j, "message", message);
  cJSON_AddNumberToObject(j, "spans", (double)spans);
  char ns[24];
  snprintf(ns, sizeof ns, "%" PRId64, at_wall_ns());
  cJSON_AddStringToObject(j, "parked_ns", ns);
  char *s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

/* How many records a new batch may take: spans, and stored bytes. The
 * stored record grows in the body (OTLP repeats input and output in
 * gen_ai.* and langfuse.* attributes): aim the records at a fraction. */
static void batch_limits(const struct tstate *ts, size_t *spans, size_t *raw) {
  const struct upload_target *t = ts->t;
  *spans = ts->split_spans ? ts->split_spans : t->batch_spans;
  *raw = t->kind == UP_LEGACY ? t->batch_bytes * 2 / 3 : t->batch_bytes / 3;
}

/* Load [from, to] (to == 0: a new batch from `from`) and build its body
 * within the target's limits. Returns 0, 1 when nothing is there, <0. */
static int load_batch(struct up *u, struct tstate *ts, uint64_t from,
                      uint64_t to, struct upload_batch *b) {
  const struct upload_target *t = ts->t;
  size_t spans, raw;
  batch_limits(ts, &spans, &raw);
  for (int tries = 0; tries < 24; tries++) {
    int rc = upload_batch_load(u->sp, from, to, spans, raw, b);
    if (rc != 0)
      return rc;
    if (upload_batch_build(b, t->kind, &u->bo) != 0) {
      upload_batch_free(b);
      return SPOOL_ERR_NOMEM;
    }
    /* Too big after all: fewer records (a fixed range is sent as is). */
    if (to || b->len <= t->batch_bytes || b->n + b->unreadable <= 1)
      return 0;
    spans = (b->n + b->unreadable) / 2;
    upload_batch_free(b);
  }
  return SPOOL_ERR_INVAL; /* not reached: 1000 spans halve to 1 in 10 */
}

static void print_request(const struct tstate *ts,
                          const struct upload_batch *b) {
  const struct upload_target *t = ts->t;
  printf("# %s: records %" PRIu64 "-%" PRIu64 " (%zu spans, %zu bytes%s)\n",
         t->name, b->first, b->last, b->n, b->len,
         t->gzip == 1 || (t->gzip < 0 && b->len >= AT_UPLOAD_GZIP_MIN)
             ? ", sent gzipped"
             : "");
  printf("POST %s\n", t->shown_url);
  printf("Content-Type: application/json\n");
  for (size_t i = 0; i < t->nheaders; i++)
    printf("%s: %s\n", t->headers[i].name,
           t->headers[i].secret ? "[REDACTED]" : t->headers[i].value);
  printf("\n");
  fwrite(b->body, 1, b->len, stdout);
  printf("\n\n");
}

/* Send b and record the outcome in the spool. parked_first != 0: b is the
 * parked batch starting there (the cursor is not touched). Returns the
 * verdict; d gets the details. */
static enum upload_verdict send_batch(struct up *u, struct tstate *ts,
                                      struct upload_batch *b,
                                      uint64_t parked_first,
                                      struct upload_decision *d) {
  const struct upload_target *t = ts->t;
  int gz = t->gzip == 1 || (t->gzip < 0 && b->len >= AT_UPLOAD_GZIP_MIN);
  struct http_result r;
  memset(d, 0, sizeof *d);
  int prc = gz && b->gz ? http_post(ts->http, t->url, t->headers, t->nheaders,
                                    (const char *)b->gz, b->gz_len, 2, &r)
                        : http_post(ts->http, t->url, t->headers, t->nheaders,
                                    b->body, b->len, gz, &r);
  if (prc != 0) {
    d->verdict = UV_RETRY;
    d->delay_ms = upload_backoff_ms(ts->attempt + 1, rnd01(u));
    snprintf(d->message, sizeof d->message,
             "could not make the request (out of memory?)");
    return UV_RETRY;
  }
  struct upload_answer a = {
      r.status, r.curl_code != 0, r.error,          r.body,
      r.len,    r.retry_after_ms, ts->server_errors};
  upload_decide(&a, t->kind, ts->attempt + 1, b->n, d);
  if (r.status >= 500 && r.status != 502 && r.status != 503 && r.status != 504)
    ts->server_errors++;

  /* The legacy API answers 207 with a verdict per event. */
  struct legacy_error *errs = NULL;
  int nerr = 0;
  if (d->verdict == UV_OK && t->kind == UP_LEGACY) {
    errs = calloc(b->nevents + 1, sizeof *errs);
    int retry = 0;
    size_t total = 0;
    nerr = errs ? upload_legacy_parse(b, r.body, r.len, errs, b->nevents,
                                      &retry, &total)
                : -1;
    if (nerr < 0 && r.status == 207) {
      d->verdict = UV_RETRY;
      d->delay_ms = upload_backoff_ms(ts->attempt + 1, rnd01(u));
      snprintf(d->message, sizeof d->message,
               "HTTP 207 without the documented successes/errors");
    } else if (retry) {
      d->verdict = UV_RETRY;
      d->delay_ms = upload_backoff_ms(ts->attempt + 1, rnd01(u));
      snprintf(d->message, sizeof d->message,
               "HTTP 207: the server failed %zu event(s); sending again",
               total);
    }
    if (nerr < 0)
      nerr = 0;
  }
  if (d->verdict == UV_RETRY || d->verdict == UV_SPLIT) {
    free(errs);
    return d->verdict;
  }

  struct spool_parked *parks = calloc((size_t)nerr + 1, sizeof *parks);
  char **infos = calloc((size_t)nerr + 1, sizeof *infos);
  if (!parks || !infos) {
    free(parks);
    free(infos);
    free(errs);
    d->verdict = UV_RETRY; /* nothing recorded: the same batch again */
    d->delay_ms = upload_backoff_ms(ts->attempt + 1, rnd01(u));
    snprintf(d->message, sizeof d->message, "out of memory");
    return UV_RETRY;
  }
  size_t npark = 0;
  uint64_t refused_events = 0;
  struct spool_counter ctr[4];
  size_t nctr = 0;
  size_t delivered = b->n;
  if (d->verdict == UV_PARK) {
    infos[0] = park_info(r.status, d->message, b->n);
    parks[0] = (struct spool_parked){b->first, b->last, infos[0],
                                     infos[0] ? strlen(infos[0]) : 0};
    npark = 1;
    delivered = 0;
  } else {
    /* Legacy events refused for good: their records parked one by one
     * (trace-create events are not records: only counted). */
    for (int i = 0; i < nerr; i++) {
      if (errs[i].rec == SIZE_MAX || errs[i].rec >= b->n) {
        if (!refused_events++)
          note(u, "%s: the server refused a trace event: %s", short_name(ts),
               errs[i].message);
        continue;
      }
      uint64_t seq = b->seqs[errs[i].rec];
      int dup = 0;
      for (size_t k = 0; k < npark; k++)
        dup |= parks[k].first == seq;
      if (dup)
        continue;
      char msg[320];
      snprintf(msg, sizeof msg, "HTTP %d (event): %s", errs[i].status,
               errs[i].message);
      infos[npark] = park_info(errs[i].status, msg, 1);
      parks[npark] = (struct spool_parked){
          seq, seq, infos[npark], infos[npark] ? strlen(infos[npark]) : 0};
      npark++;
    }
    delivered -= npark;
  }
  /* One re-parked entry keeps its key; a parked batch delivered (or whose
   * events are parked one by one) leaves its entry. */
  uint64_t unpark[1] = {parked_first};
  int same_key = npark == 1 && parks[0].first == parked_first;
  if (delivered)
    ctr[nctr++] = (struct spool_counter){"upload.sent_spans", delivered};
  if (npark)
    ctr[nctr++] = (struct spool_counter){"upload.parked_batches", npark};
  if (d->rejected)
    ctr[nctr++] = (struct spool_counter){"upload.rejected_spans", d->rejected};
  if (refused_events)
    ctr[nctr++] =
        (struct spool_counter){"upload.refused_events", refused_events};
  struct spool_upload_done done = {.ack = parked_first ? 0 : b->last,
                                   .park = parks,
                                   .npark = npark,
                                   .unpark = unpark,
                                   .nunpark = parked_first && !same_key ? 1 : 0,
                                   .counters = ctr,
                                   .ncounters = nctr};
  int rc = spool_upload_done(u->sp, t->name, &done);
  for (size_t i = 0; i < npark; i++)
    free(infos[i]);
  free(infos);
  free(parks);
  free(errs);
  if (rc != SPOOL_OK) {
    /* The backend has it, the spool does not know: it is sent again
     * (byte-identical) after this is fixed. */
    cli_err("%s: cannot record the upload in the spool: %s", short_name(ts),
            spool_last_error(u->sp));
    d->verdict = UV_RETRY;
    d->delay_ms = upload_backoff_ms(ts->attempt + 1, rnd01(u));
    return UV_RETRY;
  }
  ts->sent_spans += delivered;
  ts->rejected += d->rejected;
  if (npark) {
    ts->parked_batches += npark;
    ts->parked_spans += d->verdict == UV_PARK ? b->n : npark;
    progress_clear(u);
    if (d->verdict == UV_PARK)
      cli_warn("%s: parked records %" PRIu64 "-%" PRIu64
               " (%zu spans): %s (see `autotrace stats`; "
               "`autotrace upload --retry-parked` sends them again)",
               short_name(ts), b->first, b->last, b->n, d->message);
    else
      cli_warn("%s: the server refused %zu of %zu events; their records are "
               "parked (see `autotrace stats`)",
               short_name(ts), npark, b->n);
  }
  if (d->rejected)
    note(u, "%s: the backend rejected %" PRIu64 " of %zu spans: %s",
         short_name(ts), d->rejected, b->n,
         d->message[0] ? d->message : "(no message)");
  if (!npark || d->verdict != UV_PARK)
    ts->sent_batches++;
  return d->verdict;
}

/* A failure to retry: schedule, say so once per run of failures. */
static void schedule_retry(struct up *u, struct tstate *ts,
                           const struct upload_decision *d) {
  ts->attempt++;
  ts->retries++;
  ts->next_try_ns = at_mono_ns() + d->delay_ms * 1000000LL;
  if (u->once && ts->attempt >= AT_UPLOAD_ONCE_ATTEMPTS) {
    ts->gave_up = 1;
    progress_clear(u);
    cli_err("%s: giving up after %u attempts: %s", short_name(ts), ts->attempt,
            d->message);
    return;
  }
  if (!ts->failing || ts->attempt % 5 == 0)
    note(u, "%s: %s; trying again in %.1f s (attempt %u)", short_name(ts),
         d->message, (double)d->delay_ms / 1000.0, ts->attempt + 1);
  ts->failing = 1;
}

/* One step for a target: send its next batch (or re-send the one in
 * flight). */
static enum step step_target(struct up *u, struct tstate *ts) {
  const struct upload_target *t = ts->t;
  uint64_t from = (u->dry_run ? ts->dry_cursor : ts->cursor) + 1, to = 0;
  uint64_t f, l;
  if (!ts->skip_inflight &&
      spool_inflight_get(u->sp, t->name, &f, &l) == SPOOL_OK && f == from &&
      l >= f)
    to = l; /* sent before, never acknowledged: exactly the same batch */
  struct upload_batch b;
  int rc = 2;
  for (size_t i = 0; i < u->nahead; i++) {
    struct ahead *a = &u->ahead[i];
    if (a->owner != ts || (a->first > from && !ts->skip_inflight))
      continue; /* another target's, or a batch for later */
    /* The batch built ahead: the one wanted now, or stale. */
    struct upload_batch nb;
    int brc = upload_builder_take(a->w, &nb);
    a->owner = NULL;
    if (rc == 2 && brc == 0 && nb.first == from && (!to || nb.last == to) &&
        !ts->skip_inflight &&
        (nb.len <= ts->t->batch_bytes || nb.n + nb.unreadable <= 1)) {
      b = nb;
      rc = 0;
    } else {
      upload_batch_free(&nb);
    }
  }
  if (rc == 2)
    rc = load_batch(u, ts, from, to, &b);
  if (rc == 1) {
    ts->idle = 1;
    return STEP_IDLE;
  }
  if (rc < 0) {
    cli_err("%s: cannot read the spool: %s", short_name(ts),
            spool_strerror(rc));
    return STEP_ERROR;
  }
  if (u->dry_run) {
    if (b.n)
      print_request(ts, &b);
    ts->dry_cursor = b.last;
    upload_batch_free(&b);
    return STEP_SENT;
  }
  if (b.n == 0) {
    /* Nothing readable in the range: nothing to send, move on. */
    struct spool_counter c[] = {{"upload.unreadable", b.unreadable}};
    struct spool_upload_done done = {
        .ack = b.last, .counters = c, .ncounters = b.unreadable ? 1 : 0};
    rc = spool_upload_done(u->sp, t->name, &done);
    upload_batch_free(&b);
    if (rc != SPOOL_OK) {
      cli_err("%s: %s", short_name(ts), spool_last_error(u->sp));
      return STEP_ERROR;
    }
    ts->cursor = done.ack;
    return STEP_SENT;
  }
  if (!to && spool_inflight_set(u->sp, t->name, b.first, b.last) != SPOOL_OK) {
    cli_err("%s: cannot record the batch in flight: %s", short_name(ts),
            spool_last_error(u->sp));
    upload_batch_free(&b);
    return STEP_ERROR;
  }
  ts->skip_inflight = 0;
  /* While this batch is on the wire, idle builders prepare the next ones,
   * each range following the last one prepared. */
  uint64_t pf = b.last + 1;
  for (size_t i = 0; i < u->nahead; i++)
    if (u->ahead[i].owner == ts && u->ahead[i].last + 1 > pf)
      pf = u->ahead[i].last + 1;
  for (size_t i = 0; i < u->nahead; i++) {
    struct ahead *a = &u->ahead[i];
    if (a->owner)
      continue;
    struct upload_batch nb;
    size_t spans, raw;
    batch_limits(ts, &spans, &raw);
    if (upload_batch_load_raw(u->sp, pf, spans, raw, &nb) != 0)
      break; /* nothing more yet */
    a->first = nb.first;
    a->last = nb.last;
    if (upload_builder_submit(a->w, &nb, t->kind, &u->bo, t->gzip,
                              AT_UPLOAD_GZIP_MIN) != 0) {
      upload_batch_free(&nb);
      break;
    }
    a->owner = ts;
    pf = a->last + 1;
  }
  struct upload_decision d;
  enum upload_verdict v = send_batch(u, ts, &b, 0, &d);
  size_t n = b.n;
  uint64_t last = b.last;
  /* Freeing a batch of thousands of nodes is work too: a builder's. */
  if (u->nahead)
    upload_builder_dispose(u->ahead[last % u->nahead].w, &b);
  else
    upload_batch_free(&b);
  switch (v) {
  case UV_OK:
  case UV_PARK:
    ts->cursor = last;
    if (ts->failing && v == UV_OK)
      note(u, "%s: delivering again", short_name(ts));
    ts->failing = 0;
    ts->attempt = 0;
    ts->server_errors = 0;
    ts->next_try_ns = 0;
    ts->split_spans = 0;
    return STEP_SENT;
  case UV_SPLIT:
    ts->split_spans = n / 2 ? n / 2 : 1;
    ts->skip_inflight = 1;
    note(u, "%s: %s; sending %zu spans per request", short_name(ts), d.message,
         ts->split_spans);
    return STEP_SENT;
  case UV_RETRY:
    schedule_retry(u, ts, &d);
    return STEP_WAIT;
  }
  return STEP_ERROR;
}

/* ---- parked batches ---- */

struct prange {
  uint64_t first, last;
};
struct pranges {
  struct prange *v;
  size_t n, cap;
};

static int collect_parked(const char *target, uint64_t first, uint64_t last,
                          const char *info, size_t len, void *arg) {
  (void)target;
  (void)info;
  (void)len;
  struct pranges *p = arg;
  if (p->n == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    struct prange *v = realloc(p->v, cap * sizeof *v);
    if (!v)
      return 1;
    p->v = v;
    p->cap = cap;
  }
  p->v[p->n++] = (struct prange){first, last};
  return 0;
}

/* Interruptible sleep: ms, or until a stop signal. */
static void nap(int64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  sigset_t empty;
  sigemptyset(&empty);
  ppoll(NULL, 0, &ts, &empty);
}

static void retry_parked(struct up *u, struct tstate *ts) {
  struct pranges p = {0};
  int rc = spool_foreach_parked(u->sp, ts->t->name, collect_parked, &p);
  if (rc < 0 && rc != SPOOL_ERR_CORRUPT) {
    cli_err("%s: cannot read the parked batches: %s", short_name(ts),
            spool_strerror(rc));
    free(p.v);
    return;
  }
  if (p.n)
    note(u, "%s: sending %zu parked batch(es) again", short_name(ts), p.n);
  uint64_t ok = 0, again = 0;
  for (size_t i = 0; i < p.n && !stop_requested(); i++) {
    struct upload_batch b;
    rc = upload_batch_load(u->sp, p.v[i].first, p.v[i].last, 0, 0, &b);
    if (rc < 0) {
      cli_err("%s: cannot read the spool: %s", short_name(ts),
              spool_strerror(rc));
      break;
    }
    if (b.n == 0) {
      /* Its records are gone (retention): nothing left to send. */
      uint64_t un[] = {p.v[i].first};
      struct spool_upload_done done = {.unpark = un, .nunpark = 1};
      spool_upload_done(u->sp, ts->t->name, &done);
      upload_batch_free(&b);
      continue;
    }
    if (upload_batch_build(&b, ts->t->kind, &u->bo) != 0) {
      upload_batch_free(&b);
      break;
    }
    ts->attempt = 0;
    ts->server_errors = 0;
    enum upload_verdict v = UV_RETRY;
    struct upload_decision d;
    for (unsigned tries = 0; tries < AT_UPLOAD_ONCE_ATTEMPTS; tries++) {
      v = send_batch(u, ts, &b, p.v[i].first, &d);
      if (v != UV_RETRY || stop_requested())
        break;
      ts->attempt++;
      ts->retries++;
      note(u, "%s: parked batch: %s; trying again in %.1f s", short_name(ts),
           d.message, (double)d.delay_ms / 1000.0);
      nap(d.delay_ms);
    }
    upload_batch_free(&b);
    ts->attempt = 0;
    ts->server_errors = 0;
    if (v == UV_OK)
      ok++;
    else if (v == UV_SPLIT) {
      /* Park it as two halves and try those. */
      uint64_t mid = p.v[i].first + (p.v[i].last - p.v[i].first) / 2;
      char *info = park_info(413, "split after HTTP 413", 0);
      struct spool_parked halves[] = {
          {p.v[i].first, mid, info, info ? strlen(info) : 0},
          {mid + 1, p.v[i].last, info, info ? strlen(info) : 0}};
      struct spool_upload_done done = {.park = halves, .npark = 2};
      uint64_t last = p.v[i].last;
      if (p.v[i].first < last &&
          spool_upload_done(u->sp, ts->t->name, &done) == SPOOL_OK &&
          collect_parked(NULL, mid + 1, last, NULL, 0, &p) == 0) {
        /* The first half now, the second at the end of the list. */
        p.v[i].last = mid;
        i--;
      }
      free(info);
    } else {
      again++;
    }
  }
  if (p.n)
    note(u,
         "%s: %" PRIu64 " parked batch(es) delivered, %" PRIu64 " still parked",
         short_name(ts), ok, again);
  free(p.v);
}

/* ---- retention ---- */

/* A record's time for retention: its end_ns (else start_ns), found by a
 * scan rather than a parse (records are this project's own JSON). */
static int64_t scan_ns(const char *rec, size_t len, const char *key) {
  size_t kl = strlen(key);
  const char *p = memmem(rec, len, key, kl);
  if (!p)
    return -1;
  const char *end = rec + len;
  p += kl;
  while (p < end && (*p == ' ' || *p == ':' || *p == '"'))
    p++;
  int64_t v = 0;
  int digits = 0;
  while (p < end && *p >= '0' && *p <= '9' && digits < 19) {
    v = v * 10 + (*p - '0');
    p++;
    digits++;
  }
  return digits ? v : -1;
}

static int64_t rec_time(const char *rec, size_t len, void *arg) {
  (void)arg;
  int64_t t = scan_ns(rec, len, "\"end_ns\"");
  return t >= 0 ? t : scan_ns(rec, len, "\"start_ns\"");
}

static void apply_retention(struct up *u) {
  struct spool_retention r = {.max_age_ns = u->ret_age_ns,
                              .max_bytes = u->ret_bytes,
                              .now_ns = at_wall_ns(),
                              .rec_time = rec_time};
  struct spool_retention_result res;
  int rc = spool_retain(u->sp, &r, &res);
  if (rc != SPOOL_OK) {
    cli_warn("retention: %s", spool_last_error(u->sp));
    return;
  }
  if (res.dropped) {
    progress_clear(u);
    cli_warn("retention: the spool was over its size bound (%s): %" PRIu64
             " records were removed before every target had them (counted "
             "as dropped.retention)",
             getenv(AT_ENV_RETENTION) ? getenv(AT_ENV_RETENTION)
                                      : AT_DEFAULT_RETENTION,
             res.dropped);
  }
}

/* ---- the lock ---- */

static int take_lock(const char *dir) {
  char path[4200];
  snprintf(path, sizeof path, "%s/upload.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    cli_err("cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    long pid = strtol(buf, NULL, 10);
    close(fd);
    if (e == EWOULDBLOCK) {
      if (pid > 0)
        cli_err("another autotrace upload (pid %ld) is already sending this "
                "spool (%s)",
                pid, dir);
      else
        cli_err("another autotrace upload is already sending this spool (%s)",
                dir);
    } else {
      cli_err("cannot lock %s: %s", path, strerror(e));
    }
    return -1;
  }
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
    /* The pid is only for the message: the lock itself holds. */
  }
  return fd; /* held until exit; kill -9 releases it too */
}

/* ---- waiting ---- */

static void drain_inotify(int fd) {
  char buf[4096] __attribute__((aligned(8)));
  for (int i = 0; i < 64; i++)
    if (read(fd, buf, sizeof buf) <= 0)
      break;
}

/* Sleep until a spool change, a signal, or timeout_ms. Returns 1 when the
 * spool changed (or may have). */
static int wait_for_work(struct up *u, int64_t timeout_ms) {
  if (timeout_ms < 0)
    timeout_ms = 0;
  struct timespec ts = {(time_t)(timeout_ms / 1000),
                        (long)(timeout_ms % 1000) * 1000000L};
  struct pollfd pfd = {u->inotify_fd, POLLIN, 0};
  sigset_t empty;
  sigemptyset(&empty);
  int n = ppoll(u->inotify_fd >= 0 ? &pfd : NULL, u->inotify_fd >= 0 ? 1 : 0,
                &ts, &empty);
  if (n > 0) {
    drain_inotify(u->inotify_fd);
    /* Let a burst of commits settle into one batch (an idle uploader
     * woken by one commit would otherwise send one span per request). */
    struct timespec linger = {0, 150 * 1000000L};
    ppoll(NULL, 0, &linger, &empty);
    drain_inotify(u->inotify_fd);
    return 1;
  }
  return n == 0 ? 2 : 0; /* 2: the fallback poll */
}

/* ---- the loop ---- */

static int pending_work(struct up *u, int64_t now) {
  for (size_t i = 0; i < u->nts; i++) {
    struct tstate *ts = &u->ts[i];
    if (!ts->idle && !ts->gave_up && ts->next_try_ns <= now)
      return 1;
  }
  return 0;
}

static int all_done(struct up *u) {
  for (size_t i = 0; i < u->nts; i++)
    if (!u->ts[i].idle && !u->ts[i].gave_up)
      return 0;
  return 1;
}

static int run(struct up *u) {
  int64_t next_markers = 0, next_retention = 0;
  int status = CLI_OK;
  for (;;) { /* never spins: every pass sends, or sleeps in ppoll */
    if (stop_requested())
      break;
    int64_t now = at_mono_ns();
    if (!u->dry_run && now >= next_markers) {
      upload_close_dead_markers(u->sp, u->grace_ns, at_wall_ns(),
                                trace_pid_alive);
      next_markers = now + 5 * 1000000000LL;
    }
    if (!u->dry_run && now >= next_retention) {
      apply_retention(u);
      next_retention = now + AT_UPLOAD_RETENTION_EVERY_S * 1000000000LL;
    }
    int errors = 0;
    for (size_t i = 0; i < u->nts && !stop_requested(); i++) {
      struct tstate *ts = &u->ts[i];
      if (ts->idle || ts->gave_up || ts->next_try_ns > now)
        continue;
      if (step_target(u, ts) == STEP_ERROR) {
        errors++;
        ts->next_try_ns = at_mono_ns() + 2000000000LL;
      }
      progress_draw(u, 0);
    }
    if (errors && u->once) {
      status = CLI_FAIL;
      break;
    }
    now = at_mono_ns();
    if (pending_work(u, now))
      continue;
    if (u->once && all_done(u))
      break;
    /* Sleep until the earliest of: a retry is due, the markers' or
     * retention's turn, the fallback poll. */
    int64_t wake = now + (int64_t)AT_UPLOAD_POLL_MS * 1000000LL;
    for (size_t i = 0; i < u->nts; i++) {
      struct tstate *ts = &u->ts[i];
      if (!ts->idle && !ts->gave_up && ts->next_try_ns < wake)
        wake = ts->next_try_ns;
    }
    if (!u->once) {
      if (next_markers < wake)
        wake = next_markers;
      if (next_retention < wake)
        wake = next_retention;
    }
    int woke = wait_for_work(u, (wake - now + 999999) / 1000000);
    if (woke) {
      for (size_t i = 0; i < u->nts; i++)
        u->ts[i].idle = 0;
    }
    progress_draw(u, 0);
  }
  for (size_t i = 0; i < u->nts; i++)
    if (u->ts[i].gave_up)
      status = CLI_FAIL;
  return status;
}

/* ---- the command ---- */

static int parse_uint(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || v > max || *s == '-')
    return -1;
  *out = v;
  return 0;
}

static int open_spool_rw(struct up *u) {
  struct stat st;
  char data[4200];
  snprintf(data, sizeof data, "%s/data.mdb", u->dir);
  if (u->once && stat(data, &st) != 0)
    return 1; /* nothing was ever captured: nothing to do */
  char err[512] = "";
  int rc = spool_open(u->dir, 0, &u->sp, err, sizeof err);
  if (rc != SPOOL_OK) {
    cli_err("cannot open the spool %s for upload: %s", u->dir,
            err[0] ? err : spool_strerror(rc));
    return -1;
  }
  return 0;
}

int cmd_upload(int argc, char **argv) {
  /* The uploader's own libcurl calls must never be captured, should our
   * shim be in LD_PRELOAD: it reads this at its first hook call. */
  setenv(AT_ENV_DISABLE, "1", 1);
  /* Batches are thousands of small JSON nodes freed before a body of
   * megabytes is allocated: without fastbins, glibc does not consolidate
   * them all again on every large allocation (a fifth of the CPU). */
  mallopt(M_MXFAST, 0);
  static const struct option opts[] = {
      {"target", required_argument, NULL, 't'},
      {"once", no_argument, NULL, 'o'},
      {"dry-run", no_argument, NULL, 'n'},
      {"retry-parked", no_argument, NULL, 'r'},
      {"prune", no_argument, NULL, 'p'},
      {"quiet", no_argument, NULL, 'q'},
      {"spool", required_argument, NULL, 's'},
      {"config", required_argument, NULL, 'c'},
      {"grace", required_argument, NULL, 'g'},
      {"timeout", required_argument, NULL, 'T'},
      {"batch-spans", required_argument, NULL, 'B'},
      {"batch-bytes", required_argument, NULL, 'b'},
      {"nice", required_argument, NULL, 'N'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  struct up u;
  memset(&u, 0, sizeof u);
  u.inotify_fd = -1;
  u.grace_ns = (int64_t)AT_UPLOAD_GRACE_S * 1000000000LL;
  int kinds[8];
  size_t nkinds = 0;
  int prune = 0;
  int niceness = AT_UPLOAD_NICE;
  const char *spool_opt = NULL, *config = NULL;
  uint64_t timeout_s = AT_UPLOAD_TIMEOUT_S, batch_spans = 0, batch_bytes = 0, v;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
    switch (c) {
    case 't': {
      int k = upload_kind_parse(optarg);
      if (k < 0) {
        cli_err("--target takes langfuse, otlp or langfuse-legacy, not '%s'",
                optarg);
        return CLI_USAGE;
      }
      if (nkinds < 8)
        kinds[nkinds++] = k;
      break;
    }
    case 'o':
      u.once = 1;
      break;
    case 'n':
      u.dry_run = 1;
      break;
    case 'r':
      u.retry_parked = 1;
      break;
    case 'p':
      prune = 1;
      break;
    case 'q':
      u.quiet = 1;
      break;
    case 's':
      spool_opt = optarg;
      break;
    case 'c':
      config = optarg;
      break;
    case 'g':
      if (parse_uint(optarg, 365ull * 86400, &v) != 0) {
        cli_err("--grace takes seconds, not '%s'", optarg);
        return CLI_USAGE;
      }
      u.grace_ns = (int64_t)v * 1000000000LL;
      break;
    case 'T':
      if (parse_uint(optarg, 3600, &timeout_s) != 0 || timeout_s == 0) {
        cli_err("--timeout takes 1 to 3600 seconds, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 'B':
      if (parse_uint(optarg, 1000000, &batch_spans) != 0 || !batch_spans) {
        cli_err("--batch-spans takes 1 to 1000000, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 'b':
      if (upload_parse_size(optarg, &batch_bytes) != 0 || batch_bytes < 1024 ||
          batch_bytes > (256u << 20)) {
        cli_err("--batch-bytes takes a size from 1K to 256M, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 'N':
      if (parse_uint(optarg, 19, &v) != 0) {
        cli_err("--nice takes 0 to 19, not '%s'", optarg);
        return CLI_USAGE;
      }
      niceness = (int)v;
      break;
    case 'h':
      fputs(upload_usage, stdout);
      return CLI_OK;
    default:
      fputs(upload_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (optind < argc) {
    /* Not echoed: it may well be a key someone tried to pass. */
    cli_err("upload takes no arguments: credentials come from the "
            "environment or the config file");
    fputs(upload_usage, stderr);
    return CLI_USAGE;
  }
  if (u.dry_run)
    u.once = 1;
  /* A sidecar yields to the programs it serves: the threads made from
   * here on inherit this. Failing is harmless. */
  if (niceness > 0) {
    errno = 0;
    (void)!nice(niceness);
  }

  char err[512] = "";
  if (upload_config_load(config, err, sizeof err) < 0) {
    cli_err("%s", err);
    return CLI_FAIL;
  }
  const char *ret = getenv(AT_ENV_RETENTION);
  if (upload_parse_retention(ret, &u.ret_age_ns, &u.ret_bytes, err,
                             sizeof err) != 0) {
    cli_err("%s", err);
    return CLI_FAIL;
  }
  if (cli_spool_dir(spool_opt, u.dir, sizeof u.dir) != 0)
    return CLI_FAIL;

  struct upload_target *targets = NULL;
  size_t ntargets = 0;
  if (!prune) {
    if (upload_targets_from_env(kinds, nkinds, &targets, &ntargets, err,
                                sizeof err) != 0) {
      cli_err("%s", err);
      return CLI_FAIL;
    }
    for (size_t i = 0; i < ntargets; i++) {
      if (batch_spans)
        targets[i].batch_spans = batch_spans;
      if (batch_bytes)
        targets[i].batch_bytes = batch_bytes;
    }
  }

  int status = CLI_OK;
  int lock_fd = -1;
  cJSON *attrs_owned = NULL;
  char host[256];
  /* Signals: blocked except while waiting, so a request in flight always
   * finishes and its outcome is recorded. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGHUP);
  sigprocmask(SIG_BLOCK, &block, NULL);

  if (u.dry_run) {
    int rc = cli_spool_open(u.dir, &u.sp);
    if (rc != 0) {
      if (rc > 0)
        cli_err("%s", CLI_NO_TRACES);
      status = rc > 0 ? CLI_OK : CLI_FAIL;
      goto out;
    }
  } else {
    int rc = open_spool_rw(&u);
    if (rc != 0) {
      if (rc > 0 && !u.quiet)
        cli_err("%s", CLI_NO_TRACES);
      status = rc > 0 ? CLI_OK : CLI_FAIL;
      goto out;
    }
    lock_fd = take_lock(u.dir);
    if (lock_fd < 0) {
      status = CLI_FAIL;
      goto out;
    }
  }
  if (prune) {
    apply_retention(&u);
    goto out;
  }

  upload_build_opts_init(&u.bo, host, sizeof host, &attrs_owned);
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    cli_err("cannot initialise libcurl");
    status = CLI_FAIL;
    goto out;
  }
  u.ts = calloc(ntargets, sizeof *u.ts);
  if (!u.ts) {
    status = CLI_FAIL;
    goto out_curl;
  }
  u.nts = ntargets;
  u.rnd = (unsigned)getpid() ^ (unsigned)at_mono_ns();
  srand(u.rnd);
  for (size_t i = 0; i < ntargets; i++) {
    struct tstate *ts = &u.ts[i];
    ts->t = &targets[i];
    ts->http = http_client_new((long)timeout_s * 1000,
                               AT_UPLOAD_CONNECT_TIMEOUT_S * 1000L);
    int rc = spool_cursor_get(u.sp, ts->t->name, &ts->cursor);
    if (rc == SPOOL_ERR_NOTFOUND && !u.dry_run) {
      /* Registering the target: from now on retention keeps what it has
       * not acknowledged. */
      rc = spool_cursor_set(u.sp, ts->t->name, 0);
    } else if (rc == SPOOL_ERR_NOTFOUND) {
      rc = SPOOL_OK;
    }
    if (rc != SPOOL_OK || !ts->http) {
      cli_err("%s: cannot set up: %s", ts->t->name,
              ts->http ? spool_last_error(u.sp) : "libcurl");
      status = CLI_FAIL;
      goto out_targets;
    }
    ts->dry_cursor = ts->cursor;
  }

  if (!u.once && !u.dry_run) {
    u.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (u.inotify_fd >= 0 &&
        inotify_add_watch(u.inotify_fd, u.dir,
                          IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                              IN_CREATE) < 0) {
      close(u.inotify_fd);
      u.inotify_fd = -1; /* the fallback poll still works */
    }
  }
  u.progress = !u.quiet && !u.dry_run && isatty(STDERR_FILENO);
  u.started_ns = at_mono_ns();
  if (!u.quiet && !u.dry_run && !u.once) {
    for (size_t i = 0; i < u.nts; i++)
      note(&u, "uploading %s to %s", u.dir, u.ts[i].t->shown_url);
  }
  if (!u.dry_run) {
    /* One builder per CPU (at most AT_UPLOAD_BUILDERS_MAX): sending is
     * mostly waiting, building is CPU. */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cpus < 1                        ? 1
                  : cpus > AT_UPLOAD_BUILDERS_MAX ? AT_UPLOAD_BUILDERS_MAX
                                                  : (size_t)cpus;
    for (size_t i = 0; i < want; i++) {
      u.ahead[u.nahead].w = upload_builder_start(niceness > 0);
      if (!u.ahead[u.nahead].w)
        break; /* fewer, or none: build on this thread */
      u.nahead++;
    }
  }
  if (u.retry_parked && !u.dry_run)
    for (size_t i = 0; i < u.nts && !stop_requested(); i++)
      retry_parked(&u, &u.ts[i]);
  status = run(&u);
  if (!u.dry_run && u.once && status == CLI_OK)
    apply_retention(&u);

  progress_clear(&u);
  if (!u.quiet && !u.dry_run) {
    for (size_t i = 0; i < u.nts; i++) {
      const struct tstate *ts = &u.ts[i];
      char b1[FMT_BUF], b2[FMT_BUF];
      fprintf(
          stderr, "autotrace: %s: %s spans sent in %s", short_name(ts),
          fmt_count(ts->sent_spans, b1, sizeof b1),
          fmt_plural(ts->sent_batches, "request", "requests", b2, sizeof b2));
      if (ts->parked_batches)
        fprintf(stderr, ", %" PRIu64 " batch(es) parked", ts->parked_batches);
      if (ts->retries)
        fprintf(stderr, ", %" PRIu64 " retries", ts->retries);
      fputc('\n', stderr);
    }
  }
  if (g_stop_sig == SIGINT)
    status = 130;

out_targets:
  for (size_t i = 0; i < u.nahead; i++)
    upload_builder_stop(u.ahead[i].w);
  for (size_t i = 0; i < u.nts; i++)
    http_client_free(u.ts[i].http);
  free(u.ts);
out_curl:
  curl_global_cleanup();
out:
  if (fflush(stdout) != 0 && u.dry_run)
    status = CLI_FAIL;
  if (u.inotify_fd >= 0)
    close(u.inotify_fd);
  if (u.sp)
    spool_close(u.sp);
  if (lock_fd >= 0)
    close(lock_fd);
  cJSON_Delete(attrs_owned);
  upload_targets_free(targets, ntargets);
  return status;
}
