/* upload_stats: the "upload" part of `autotrace stats` — for each target
 * the uploader has registered: its cursor, how many records wait, the
 * batch in flight, and the parked batches with what the server said; and
 * the retention setting with the records' size. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "record.h"
#include "spool/spool.h"
#include "term.h"
#include "upload.h"
#include "upload_env.h"

static cJSON *target_obj(cJSON *targets, const char *name) {
  cJSON *t;
  cJSON_ArrayForEach(t, targets) {
    const char *n = rec_str(t, "name");
    if (n && strcmp(n, name) == 0)
      return t;
  }
  t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "name", name);
  const char *sp = strchr(name, ' ');
  if (sp) {
    char kind[32];
    size_t n = (size_t)(sp - name) < sizeof kind - 1 ? (size_t)(sp - name)
                                                     : sizeof kind - 1;
    memcpy(kind, name, n);
    kind[n] = '\0';
    cJSON_AddStringToObject(t, "kind", kind);
    cJSON_AddStringToObject(t, "url", sp + 1);
  }
  cJSON_AddItemToArray(targets, t);
  return t;
}

static int on_cursor(const char *target, uint64_t seq, void *arg) {
  cJSON *t = target_obj(arg, target);
  cJSON_AddNumberToObject(t, "cursor", (double)seq);
  return 0;
}

static int on_parked(const char *target, uint64_t first, uint64_t last,
                     const char *info, size_t len, void *arg) {
  cJSON *t = target_obj(arg, target);
  cJSON *parked = cJSON_GetObjectItemCaseSensitive(t, "parked");
  if (!parked)
    parked = cJSON_AddArrayToObject(t, "parked");
  cJSON *e = cJSON_CreateObject();
  cJSON_AddNumberToObject(e, "first", (double)first);
  cJSON_AddNumberToObject(e, "last", (double)last);
  cJSON *j = cJSON_ParseWithLength(info, len);
  if (cJSON_IsObject(j)) {
    const cJSON *v;
    cJSON_ArrayForEach(v, j) {
      if (v->string && !cJSON_GetObjectItemCaseSensitive(e, v->string))
        cJSON_AddItemToObject(e, v->string, cJSON_Duplicate(v, 1));
    }
  }
  cJSON_Delete(j);
  cJSON_AddItemToArray(parked, e);
  return 0;
}

int upload_stats_collect(struct spool *sp, cJSON *stats) {
  cJSON *up = cJSON_AddObjectToObject(stats, "upload");
  cJSON *targets = cJSON_AddArrayToObject(up, "targets");
  cJSON *ret = cJSON_AddObjectToObject(up, "retention");
  if (!targets || !ret)
    return -1;
  const char *setting = getenv(AT_ENV_RETENTION);
  if (!setting || !*setting)
    setting = AT_DEFAULT_RETENTION;
  cJSON_AddStringToObject(ret, "setting", setting);
  int64_t age;
  uint64_t bytes;
  char err[256];
  if (upload_parse_retention(setting, &age, &bytes, err, sizeof err) == 0) {
    cJSON_AddNumberToObject(ret, "max_age_s", (double)(age / 1000000000LL));
    cJSON_AddNumberToObject(ret, "max_bytes", (double)bytes);
  } else {
    cJSON_AddStringToObject(ret, "error", err);
  }
  if (!sp)
    return 0;
  uint64_t rbytes = 0, count = 0;
  if (spool_records_size(sp, &rbytes, &count) == SPOOL_OK)
    cJSON_AddNumberToObject(ret, "records_bytes", (double)rbytes);
  int rc = spool_foreach_cursor(sp, on_cursor, targets);
  if (rc < 0)
    return -1;
  rc = spool_foreach_parked(sp, NULL, on_parked, targets);
  if (rc < 0 && rc != SPOOL_ERR_CORRUPT)
    return -1;
  cJSON *t;
  cJSON_ArrayForEach(t, targets) {
    const char *name = rec_str(t, "name");
    uint64_t cursor = 0, n = 0;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cursor");
    if (cJSON_IsNumber(c))
      cursor = (uint64_t)c->valuedouble;
    else
      cJSON_AddNumberToObject(t, "cursor", 0);
    if (spool_count_range(sp, cursor + 1, UINT64_MAX, &n) == SPOOL_OK)
      cJSON_AddNumberToObject(t, "pending", (double)n);
    uint64_t f, l;
    if (name && spool_inflight_get(sp, name, &f, &l) == SPOOL_OK) {
      cJSON *inf = cJSON_AddObjectToObject(t, "in_flight");
      cJSON_AddNumberToObject(inf, "first", (double)f);
      cJSON_AddNumberToObject(inf, "last", (double)l);
    }
    uint64_t pspans = 0;
    size_t pb = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "parked")) {
      pb++;
      uint64_t k = 0;
      const cJSON *pf = cJSON_GetObjectItemCaseSensitive(e, "first");
      const cJSON *pl = cJSON_GetObjectItemCaseSensitive(e, "last");
      if (cJSON_IsNumber(pf) && cJSON_IsNumber(pl) &&
          spool_count_range(sp, (uint64_t)pf->valuedouble,
                            (uint64_t)pl->valuedouble, &k) == SPOOL_OK)
        pspans += k;
    }
    cJSON_AddNumberToObject(t, "parked_batches", (double)pb);
    cJSON_AddNumberToObject(t, "parked_spans", (double)pspans);
  }
  return 0;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void upload_stats_render(FILE *out, const cJSON *stats, int color) {
  const cJSON *up = cJSON_GetObjectItemCaseSensitive(stats, "upload");
  if (!up)
    return;
  char b1[FMT_BUF], b2[FMT_BUF], b3[FMT_BUF];
  fprintf(out, "\n%supload%s", term_sgr(color, ST_BOLD),
          term_sgr(color, ST_RESET));
  const cJSON *targets = cJSON_GetObjectItemCaseSensitive(up, "targets");
  if (!cJSON_GetArraySize(targets))
    fprintf(out, ": nothing uploaded yet (see `autotrace upload`)\n");
  else
    fputc('\n', out);
  const cJSON *t;
  cJSON_ArrayForEach(t, targets) {
    const char *name = rec_str(t, "name");
    fprintf(out, "  %s\n", name ? name : "?");
    fprintf(out, "    sent up to record %s, %s pending",
            fmt_count((uint64_t)num(t, "cursor"), b1, sizeof b1),
            fmt_count((uint64_t)num(t, "pending"), b2, sizeof b2));
    const cJSON *inf = cJSON_GetObjectItemCaseSensitive(t, "in_flight");
    if (inf)
      fprintf(out, ", records %s-%s in flight",
              fmt_count((uint64_t)num(inf, "first"), b1, sizeof b1),
              fmt_count((uint64_t)num(inf, "last"), b3, sizeof b3));
    fputc('\n', out);
    size_t pb = (size_t)num(t, "parked_batches");
    if (!pb)
      continue;
    fprintf(out, "    %sparked: %s (%s)%s\n", term_sgr(color, ST_YELLOW),
            fmt_plural(pb, "batch", "batches", b1, sizeof b1),
            fmt_plural((uint64_t)num(t, "parked_spans"), "span", "spans", b2,
                       sizeof b2),
            term_sgr(color, ST_RESET));
    size_t shown = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "parked")) {
      if (shown++ == 10) {
        fprintf(out, "      ... %zu more (autotrace stats --json)\n", pb - 10);
        break;
      }
      const char *msg = rec_str(e, "message");
      fprintf(out, "      records %s-%s: %s\n",
              fmt_count((uint64_t)num(e, "first"), b1, sizeof b1),
              fmt_count((uint64_t)num(e, "last"), b3, sizeof b3),
              msg ? msg : "(no message)");
    }
    fprintf(out, "      retry with: autotrace upload --retry-parked\n");
  }
  const cJSON *ret = cJSON_GetObjectItemCaseSensitive(up, "retention");
  const char *setting = rec_str(ret, "setting");
  fprintf(out, "  retention %s", setting ? setting : "?");
  if (cJSON_GetObjectItemCaseSensitive(ret, "records_bytes"))
    fprintf(out, " (records use %s)",
            fmt_bytes((uint64_t)num(ret, "records_bytes"), b1, sizeof b1));
  const char *err = rec_str(ret, "error");
  if (err)
    fprintf(out, " %s(%s)%s", term_sgr(color, ST_RED), err,
            term_sgr(color, ST_RESET));
  fputc('\n', out);
}
