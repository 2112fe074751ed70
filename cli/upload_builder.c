/* upload_builder: helper threads that turn the next batches' records into
 * their request bodies while the main thread sends the current one: each
 * parses the stored records, builds the body, gzips it, and frees the
 * batches already sent, so that the sending thread only does I/O.
 *
 * Building (cli/otlp.c's span trees, then printing them) is most of the
 * uploader's CPU; sending is mostly waiting for the backend. Overlapping
 * the two is what lets one uploader keep up with many traced processes.
 * The thread touches no spool and no libcurl handle: it gets parsed
 * records and gives back a body. A body is a function of its records, so
 * building it early changes nothing that is sent. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "upload.h"
#include "upload_env.h"

struct upload_builder {
  pthread_t thread;
  int idle_class; /* run under SCHED_IDLE */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  int state; /* 0 idle, 1 building, 2 done */
  struct upload_batch batch;
  enum upload_kind kind;
  const struct upload_build_opts *opts;
  int gzip;
  size_t gzip_min;
  int result;
  /* Batches already sent, to be freed here rather than on the sender's
   * thread. */
  struct upload_batch trash[4];
  size_t ntrash;
};

/* Parse (when the batch came raw), build, and gzip when asked. */
static int build(struct upload_builder *w) {
  struct upload_batch *b = &w->batch;
  if (b->nraw && upload_batch_parse(b) != 0)
    return -1;
  int rc = upload_batch_build(b, w->kind, w->opts);
  if (rc == 0 && (w->gzip == 1 || (w->gzip < 0 && b->len >= w->gzip_min))) {
    size_t n = 0;
    b->gz = http_gzip(b->body, b->len, 1, &n);
    b->gz_len = b->gz ? n : 0; /* without it, the sender gzips */
  }
  if (rc == 0) {
    /* The sender needs the bytes and the sequence numbers, not the trees:
     * free them now, while they are hot, and keep memory low. */
    upload_batch_drop_records(b);
    cJSON_Delete(b->tree);
    b->tree = NULL;
    if (b->gz) {
      free(b->body); /* b->len stays: the size is still checked */
      b->body = NULL;
    }
  }
  return rc;
}

static void *run(void *arg) {
  struct upload_builder *w = arg;
  if (w->idle_class) {
    /* Building is the uploader's CPU work: it runs only when no other
     * program wants the CPU, and any program waking up preempts it. The
     * traced programs never wait for it. */
    struct sched_param p = {0};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &p);
  }
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->stop && w->state != 1 && !w->ntrash)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->ntrash) {
      struct upload_batch t[4];
      size_t n = w->ntrash;
      memcpy(t, w->trash, n * sizeof *t);
      w->ntrash = 0;
      pthread_mutex_unlock(&w->mu);
      for (size_t i = 0; i < n; i++)
        upload_batch_free(&t[i]);
      pthread_mutex_lock(&w->mu);
      continue;
    }
    if (w->stop)
      break;
    pthread_mutex_unlock(&w->mu);
    int rc = build(w);
    pthread_mutex_lock(&w->mu);
    w->result = rc;
    w->state = 2;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

struct upload_builder *upload_builder_start(int idle_class) {
  struct upload_builder *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->idle_class = idle_class;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  /* Signals stay with the main thread (it blocks the stop signals before
   * this; block everything else here too). */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int rc = pthread_create(&w->thread, NULL, run, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NULL;
  }
  return w;
}

int upload_builder_idle(struct upload_builder *w) {
  pthread_mutex_lock(&w->mu);
  int idle = w->state == 0;
  pthread_mutex_unlock(&w->mu);
  return idle;
}

void upload_builder_dispose(struct upload_builder *w, struct upload_batch *b) {
  pthread_mutex_lock(&w->mu);
  if (w->ntrash < sizeof w->trash / sizeof *w->trash && !w->stop) {
    w->trash[w->ntrash++] = *b;
    memset(b, 0, sizeof *b);
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  upload_batch_free(b); /* no room: here (a no-op when it was taken) */
}

int upload_builder_submit(struct upload_builder *w, struct upload_batch *b,
                          enum upload_kind kind,
                          const struct upload_build_opts *o, int gzip,
                          size_t gzip_min) {
  pthread_mutex_lock(&w->mu);
  if (w->state != 0) {
    pthread_mutex_unlock(&w->mu);
    return -1;
  }
  w->batch = *b; /* moved: the caller's copy is emptied */
  memset(b, 0, sizeof *b);
  w->kind = kind;
  w->opts = o;
  w->gzip = gzip;
  w->gzip_min = gzip_min;
  w->state = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

int upload_builder_take(struct upload_builder *w, struct upload_batch *out) {
  pthread_mutex_lock(&w->mu);
  if (w->state == 0) {
    pthread_mutex_unlock(&w->mu);
    return -2;
  }
  while (w->state != 2)
    pthread_cond_wait(&w->cv, &w->mu);
  *out = w->batch;
  memset(&w->batch, 0, sizeof w->batch);
  int rc = w->result;
  w->state = 0;
  pthread_mutex_unlock(&w->mu);
  return rc;
}

void upload_builder_stop(struct upload_builder *w) {
  if (!w)
    return;
  struct upload_batch b;
  if (upload_builder_take(w, &b) != -2)
    upload_batch_free(&b);
  pthread_mutex_lock(&w->mu);
  w->stop = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  for (size_t i = 0; i < w->ntrash; i++)
    upload_batch_free(&w->trash[i]);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}
