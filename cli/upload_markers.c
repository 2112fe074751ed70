/* upload_markers: spans left open by processes that died.
 *
 * The shim writes a marker when a long span (the process span) starts and
 * deletes it when it writes the finished record. A process killed with
 * SIGKILL, or one that calls _exit(), leaves the marker behind. The
 * readers (`show`, `export`) close such spans in memory each time they
 * look; the uploader makes the closure permanent, once: after the process
 * is dead and the span older than the grace period, it appends the closed
 * record (cli/traces.c computes it: end = the latest end below it,
 * "incomplete": true) and deletes the marker in one transaction that happens
 * only if the marker is still there (spool_close_marker). The record then gets
 * a sequence number and ships through every target's cursor like any other:
 * exactly once per target. */
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "diag.h"
#include "record.h"
#include "spool/spool.h"
#include "upload.h"

struct scan {
  trace_alive_fn alive;
  int64_t grace_ns, now_ns;
  /* markers due for closing: span id and trace id */
  char (*due)[17];
  char (*due_trace)[33];
  size_t ndue, due_cap;
  int oom;
};

static int on_marker(const char *span_id, const char *json, size_t len,
                     void *arg) {
  struct scan *s = arg;
  cJSON *m = cJSON_ParseWithLength(json, len);
  const char *tid = rec_str(m, "trace_id");
  if (!m || !tid || !at_valid_hex_id(tid, 32)) {
    cJSON_Delete(m); /* unreadable: the readers skip it too */
    return 0;
  }
  uint64_t pid = 0;
  rec_u64(rec_obj(m, "process"), "pid", &pid);
  int64_t start = 0;
  rec_ns(m, "start_ns", &start);
  int alive =
      s->alive && pid > 0 && pid < INT32_MAX && s->alive((long)pid, start);
  /* Dead, and older than the grace period: a process that just died may
   * still have children finishing spans below this one. */
  int due = !alive && (!start || s->now_ns - start >= s->grace_ns);
  if (due) {
    if (s->ndue == s->due_cap) {
      size_t cap = s->due_cap ? s->due_cap * 2 : 16;
      char(*d)[17] = realloc(s->due, cap * sizeof *d);
      if (d)
        s->due = d;
      char(*dt)[33] = d ? realloc(s->due_trace, cap * sizeof *dt) : NULL;
      if (!d || !dt) {
        cJSON_Delete(m);
        s->oom = 1;
        return 1;
      }
      s->due_trace = dt;
      s->due_cap = cap;
    }
    memcpy(s->due[s->ndue], span_id, 17);
    for (int k = 0; k < 32; k++)
      s->due_trace[s->ndue][k] =
          (char)(tid[k] >= 'A' && tid[k] <= 'F' ? tid[k] + 32 : tid[k]);
    s->due_trace[s->ndue][32] = '\0';
    s->ndue++;
  }
  cJSON_Delete(m);
  return 0;
}

static int is_due(const struct scan *s, const char *id) {
  for (size_t i = 0; i < s->ndue; i++)
    if (strcasecmp(s->due[i], id) == 0)
      return 1;
  return 0;
}

long upload_close_dead_markers(struct spool *sp, int64_t grace_ns,
                               int64_t now_ns, trace_alive_fn alive) {
  struct scan s = {0};
  s.alive = alive;
  s.grace_ns = grace_ns;
  s.now_ns = now_ns;
  int rc = spool_foreach_open(sp, on_marker, &s);
  if (s.oom || (rc < 0 && rc != SPOOL_ERR_CORRUPT)) {
    if (!s.oom)
      cli_err("cannot read the spool's open spans: %s", spool_strerror(rc));
    free(s.due);
    free(s.due_trace);
    return -1;
  }
  if (!s.ndue) {
    free(s.due);
    free(s.due_trace);
    return 0;
  }

  /* Load the traces of the due markers: the closure needs their children. */
  const char **ids = malloc(s.ndue * sizeof *ids);
  size_t nids = 0;
  for (size_t i = 0; ids && i < s.ndue; i++) {
    int dup = 0;
    for (size_t j = 0; j < nids && !dup; j++)
      dup = strcmp(ids[j], s.due_trace[i]) == 0;
    if (!dup)
      ids[nids++] = s.due_trace[i];
  }
  struct trace_set ts;
  trace_set_init(&ts);
  ts.alive = alive;
  struct trace_filter f = {0};
  f.ids = ids;
  f.n_ids = nids;
  long closed = 0;
  if (!ids || traces_load(sp, &f, &ts) != 0) {
    closed = -1;
    goto out;
  }
  for (size_t t = 0; t < ts.ntraces; t++) {
    const struct trace *tr = &ts.traces[t];
    for (size_t i = 0; i < tr->nobs; i++) {
      const struct obs *o = &tr->obs[i];
      if (!o->id || !is_due(&s, o->id))
        continue;
      char id[17];
      snprintf(id, sizeof id, "%s", o->id);
      for (char *p = id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
          *p = (char)(*p + 32);
      if (!o->marker) {
        /* The finished record is in the spool already (a stale marker):
         * only the marker goes. */
        const char *del[] = {id};
        struct spool_batch b = {.open_del = del, .nopen_del = 1};
        if (spool_commit(sp, &b) != SPOOL_OK)
          cli_warn("cannot remove the stale open marker %s: %s", id,
                   spool_last_error(sp));
        continue;
      }
      if (o->state != OBS_INCOMPLETE)
        continue; /* alive after all */
      char *text = cJSON_PrintUnformatted(o->rec);
      if (!text) {
        closed = -1;
        goto out;
      }
      struct spool_counter c[] = {{"upload.closed_spans", 1}};
      rc = spool_close_marker(sp, id, text, strlen(text), c, 1, NULL);
      free(text);
      if (rc == SPOOL_OK)
        closed++;
      else if (rc != SPOOL_ERR_NOTFOUND)
        cli_warn("cannot close the open span %s: %s", id, spool_last_error(sp));
    }
  }
out:
  trace_set_free(&ts);
  free(ids);
  free(s.due);
  free(s.due_trace);
  return closed;
}
