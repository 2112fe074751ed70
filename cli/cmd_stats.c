/* autotrace stats: what was captured, skipped, truncated and dropped, and
 * why. Counters come from the shim (spool_foreach_counter); the rest is
 * counted from the records themselves. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "fmt.h"
#include "jsonout.h"
#include "record.h"
#include "spool/spool.h"
#include "store.h"
#include "term.h"
#include "view_args.h"
#include "upload.h"

static const char stats_usage[] =
    "usage: autotrace stats [--json] [--color=WHEN] [--spool DIR]\n"
    "\n"
    "What the spool holds and what the shim counted while capturing:\n"
    "captured exchanges, skipped ones (not an LLM endpoint, a path no parser\n"
    "understands), truncated bodies, dropped captures (queue full, out of\n"
    "memory, spool full) and parse errors; traces and observations by type,\n"
    "level and provider; tokens and cost; spans left open; and for each\n"
    "upload target, what was sent, what waits, and the batches a server\n"
    "refused (parked) with its message.\n"
    "\n"
    "  --json         the same as a JSON object\n"
    "  --color=WHEN   auto (default), always or never\n"
    "  --spool DIR    read this spool instead of the default\n";

static void bump(cJSON *obj, const char *key) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v)
    cJSON_SetNumberValue(v, v->valuedouble + 1);
  else
    cJSON_AddNumberToObject(obj, key, 1);
}

static int on_counter(const char *name, uint64_t value, void *arg) {
  cJSON_AddNumberToObject(arg, name, (double)value);
  return 0;
}

cJSON *stats_collect(struct spool *sp, const char *dir) {
  cJSON *j = cJSON_CreateObject();
  if (!j)
    return NULL;
  cJSON *spool = cJSON_AddObjectToObject(j, "spool");
  cJSON_AddStringToObject(spool, "path", dir);
  cJSON_AddBoolToObject(spool, "exists", sp != NULL);
  cJSON_AddNumberToObject(spool, "bytes_on_disk",
                          (double)cli_spool_disk_usage(dir));

  cJSON *counters = cJSON_AddObjectToObject(j, "counters");
  struct trace_set ts;
  trace_set_init(&ts);
  if (sp) {
    int rc = spool_foreach_counter(sp, on_counter, counters);
    if (rc < 0 && rc != SPOOL_ERR_NOTFOUND) {
      cli_err("cannot read the spool's counters: %s", spool_strerror(rc));
      cJSON_Delete(j);
      return NULL;
    }
    if (traces_load(sp, NULL, &ts) != 0) {
      cJSON_Delete(j);
      return NULL;
    }
  }

  cJSON *recs = cJSON_AddObjectToObject(j, "records");
  cJSON_AddNumberToObject(recs, "observations", (double)ts.nrecords);
  cJSON_AddNumberToObject(recs, "traces", (double)ts.ntraces);
  cJSON_AddNumberToObject(recs, "unreadable", (double)ts.skipped);
  cJSON *by_type = cJSON_AddObjectToObject(recs, "by_type");
  cJSON *by_level = cJSON_AddObjectToObject(recs, "by_level");
  cJSON *by_provider = cJSON_AddObjectToObject(recs, "by_provider");
  uint64_t in = 0, out = 0, total = 0;
  size_t with_tokens = 0, priced = 0, unpriced = 0, running = 0, incomplete = 0;
  double usd = 0;
  for (size_t i = 0; i < ts.ntraces; i++) {
    const struct trace *t = &ts.traces[i];
    in += t->tokens_in;
    out += t->tokens_out;
    total += t->tokens_total;
    with_tokens += t->n_with_tokens;
    usd += t->cost_usd;
    priced += t->n_priced;
    unpriced += t->n_unpriced;
    running += t->n_running;
    incomplete += t->n_incomplete;
    for (size_t k = 0; k < t->nobs; k++) {
      const struct obs *o = &t->obs[k];
      if (o->marker)
        continue; /* counted as open spans, not as records */
      const char *level = rec_str(o->rec, "level");
      const char *prov = rec_str(o->rec, "provider");
      bump(by_type, o->type ? o->type : "(none)");
      bump(by_level, level ? level : "DEFAULT");
      if (prov)
        bump(by_provider, prov);
    }
  }
  cJSON *tokens = cJSON_AddObjectToObject(j, "tokens");
  cJSON_AddNumberToObject(tokens, "input", (double)in);
  cJSON_AddNumberToObject(tokens, "output", (double)out);
  cJSON_AddNumberToObject(tokens, "total", (double)total);
  cJSON_AddNumberToObject(tokens, "calls_with_usage", (double)with_tokens);
  cJSON *cost = cJSON_AddObjectToObject(j, "cost");
  if (priced)
    cJSON_AddNumberToObject(cost, "usd", usd);
  cJSON_AddNumberToObject(cost, "priced_calls", (double)priced);
  cJSON_AddNumberToObject(cost, "unpriced_calls", (double)unpriced);
  cJSON *open = cJSON_AddObjectToObject(j, "open_spans");
  cJSON_AddNumberToObject(open, "running", (double)running);
  cJSON_AddNumberToObject(open, "incomplete", (double)incomplete);
  trace_set_free(&ts);
  /* The uploader's targets: cursors, pending, parked batches. */
  if (upload_stats_collect(sp, j) != 0)
    cli_warn("cannot read the upload state: %s",
             sp ? spool_last_error(sp) : "no spool");
  return j;
}

/* ---- rendering ---- */

struct counter {
  const char *name;
  double value;
};

/* By group (the part before the first dot), then by name: a group's
 * members sit together even when another name sorts between them
 * ("dropped-x" between "dropped" and "dropped.oom"). */
static int counter_cmp(const void *a, const void *b) {
  const char *x = ((const struct counter *)a)->name;
  const char *y = ((const struct counter *)b)->name;
  size_t gx = strcspn(x, "."), gy = strcspn(y, ".");
  int c = strncmp(x, y, gx < gy ? gx : gy);
  if (c)
    return c;
  if (gx != gy)
    return gx < gy ? -1 : 1;
  return strcmp(x, y);
}

/* "openai 80, anthropic 20", largest first. */
static void tally(FILE *out, const char *label, const cJSON *obj) {
  size_t n = (size_t)cJSON_GetArraySize(obj);
  if (!n)
    return;
  struct counter *c = calloc(n, sizeof *c);
  if (!c)
    return;
  size_t k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj) {
    c[k].name = e->string;
    c[k++].value = e->valuedouble;
  }
  for (size_t i = 1; i < k; i++) /* insertion sort: a handful of keys */
    for (size_t m = i; m > 0 && c[m].value > c[m - 1].value; m--) {
      struct counter tmp = c[m];
      c[m] = c[m - 1];
      c[m - 1] = tmp;
    }
  fprintf(out, "  %-13s", label);
  char b[FMT_BUF];
  for (size_t i = 0; i < k; i++)
    fprintf(out, "%s%s %s", i ? ", " : "", c[i].name,
            fmt_count((uint64_t)c[i].value, b, sizeof b));
  fputc('\n', out);
  free(c);
}

static double num(const cJSON *o, const char *a, const char *b) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
  if (b)
    v = cJSON_GetObjectItemCaseSensitive(v, b);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void render_counters(FILE *out, const cJSON *counters, int color) {
  size_t n = (size_t)cJSON_GetArraySize(counters);
  fprintf(out, "\n%scapture counters%s", term_sgr(color, ST_BOLD),
          term_sgr(color, ST_RESET));
  if (!n) {
    fprintf(out, ": none yet (the shim writes them as it captures)\n");
    return;
  }
  fputc('\n', out);
  struct counter *c = calloc(n, sizeof *c);
  if (!c)
    return;
  size_t k = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, counters) {
    c[k].name = e->string;
    c[k++].value = e->valuedouble;
  }
  qsort(c, k, sizeof *c, counter_cmp);
  char b[FMT_BUF];
  /* Names are "group.reason" (dropped.queue_full): a group line with its
   * total, then its reasons indented. Names without a dot stand alone. */
  for (size_t i = 0; i < k;) {
    const char *dot = strchr(c[i].name, '.');
    size_t glen = dot ? (size_t)(dot - c[i].name) : strlen(c[i].name);
    size_t j = i;
    double sum = 0, exact = -1;
    while (j < k && strncmp(c[j].name, c[i].name, glen) == 0 &&
           (c[j].name[glen] == '.' || c[j].name[glen] == '\0')) {
      if (c[j].name[glen] == '\0')
        exact = c[j].value;
      else
        sum += c[j].value;
      j++;
    }
    int members = (j - i) - (exact >= 0 ? 1 : 0) > 0;
    double head = exact >= 0 ? exact : sum;
    fprintf(out, "  %-28.*s %12s\n", (int)glen, c[i].name,
            fmt_count((uint64_t)head, b, sizeof b));
    if (members)
      for (size_t m = i; m < j; m++)
        if (c[m].name[glen] == '.')
          fprintf(out, "    %-26s %12s\n", c[m].name + glen + 1,
                  fmt_count((uint64_t)c[m].value, b, sizeof b));
    i = j;
  }
  free(c);
}

void stats_render(FILE *out, const cJSON *s, int color) {
  char b1[FMT_BUF], b2[FMT_BUF], b3[FMT_BUF], big[64];
  const cJSON *spool = cJSON_GetObjectItemCaseSensitive(s, "spool");
  const cJSON *recs = cJSON_GetObjectItemCaseSensitive(s, "records");
  const char *path = rec_str(spool, "path");
  fprintf(out, "%sspool%s         %s", term_sgr(color, ST_BOLD),
          term_sgr(color, ST_RESET), path ? path : "?");
  if (rec_bool(spool, "exists") == 1)
    fprintf(
        out, " (%s on disk)\n",
        fmt_bytes((uint64_t)num(spool, "bytes_on_disk", NULL), b1, sizeof b1));
  else
    fprintf(out, " (%s)\n", "not created yet: nothing was captured");

  fprintf(out, "traces        %s\n",
          fmt_count((uint64_t)num(recs, "traces", NULL), b1, sizeof b1));
  fprintf(out, "observations  %s",
          fmt_count((uint64_t)num(recs, "observations", NULL), b1, sizeof b1));
  if (num(recs, "unreadable", NULL) > 0)
    fprintf(out, " %s(%s skipped)%s", term_sgr(color, ST_YELLOW),
            fmt_plural((uint64_t)num(recs, "unreadable", NULL),
                       "unreadable record", "unreadable records", big,
                       sizeof big),
            term_sgr(color, ST_RESET));
  fputc('\n', out);
  tally(out, "by type", cJSON_GetObjectItemCaseSensitive(recs, "by_type"));
  tally(out, "by level", cJSON_GetObjectItemCaseSensitive(recs, "by_level"));
  tally(out, "by provider",
        cJSON_GetObjectItemCaseSensitive(recs, "by_provider"));

  if (num(s, "tokens", "calls_with_usage") > 0)
    fprintf(out, "tokens        %s (%s in \xe2\x86\x92 %s out)\n",
            fmt_count((uint64_t)num(s, "tokens", "total"), b1, sizeof b1),
            fmt_count((uint64_t)num(s, "tokens", "input"), b2, sizeof b2),
            fmt_count((uint64_t)num(s, "tokens", "output"), b3, sizeof b3));
  else
    fprintf(out, "tokens        none reported\n");
  double priced = num(s, "cost", "priced_calls");
  double unpriced = num(s, "cost", "unpriced_calls");
  if (priced > 0)
    fprintf(out, "cost          %s%s", unpriced > 0 ? "\xe2\x89\xa5" : "",
            fmt_cost(num(s, "cost", "usd"), b1, sizeof b1));
  else
    fprintf(out, "cost          unknown");
  if (unpriced > 0)
    fprintf(out, " (%s without a price)",
            fmt_plural((uint64_t)unpriced, "call", "calls", b2, sizeof b2));
  fputc('\n', out);
  fprintf(
      out, "open spans    %s running, %s incomplete\n",
      fmt_count((uint64_t)num(s, "open_spans", "running"), b1, sizeof b1),
      fmt_count((uint64_t)num(s, "open_spans", "incomplete"), b2, sizeof b2));
  render_counters(out, cJSON_GetObjectItemCaseSensitive(s, "counters"), color);
  upload_stats_render(out, s, color);
}

int cmd_stats(int argc, char **argv) {
  struct view_args va;
  int done = view_args_parse(argc, argv, stats_usage, &va);
  if (done >= 0)
    return done;
  int json = va.json;
  enum color_mode cm = va.color;
  const char *spool_opt = va.spool;
  if (optind < argc) {
    fputs(stats_usage, stderr);
    return CLI_USAGE;
  }
  char dir[4096];
  struct spool *sp;
  if (cli_spool_dir(spool_opt, dir, sizeof dir) != 0)
    return CLI_FAIL;
  int rc = cli_spool_open(dir, &sp);
  if (rc < 0)
    return CLI_FAIL;
  cJSON *s = stats_collect(sp, dir);
  if (sp)
    spool_close(sp);
  if (!s)
    return CLI_FAIL;
  int status = CLI_OK;
  if (json)
    status = json_write(stdout, s, 1) == 0 ? CLI_OK : CLI_FAIL;
  else
    stats_render(stdout, s, term_color_enabled(cm, stdout));
  cJSON_Delete(s);
  if (fflush(stdout) != 0)
    status = CLI_FAIL;
  return status;
}
