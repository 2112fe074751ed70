/* upload_batch: a batch is the records of one sequence range, and its body
 * is a function of those records and the configuration only — never of
 * the time or of what else is in the spool. So a batch that was sent but
 * not acknowledged (a timeout, a kill -9) is rebuilt after a restart from
 * the same range, recorded in the spool as "in flight", into the same
 * bytes: the same span ids, the same content, which backends collapse.
 *
 * The OTLP body is cli/otlp.c's, exactly what `autotrace export --format
 * otlp` prints, plus the resource attributes of OTEL_RESOURCE_ATTRIBUTES. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "spool/spool.h"
#include "upload.h"
#include "upload_env.h"

void upload_build_opts_init(struct upload_build_opts *o, char *host_buf,
                            size_t host_len, cJSON **attrs_owned) {
  memset(o, 0, sizeof *o);
  otlp_opts_from_env(&o->otlp, host_buf, host_len);
  *attrs_owned = NULL;
  const char *ra = getenv(AT_ENV_OTEL_RESOURCE_ATTRIBUTES);
  if (ra && *ra) {
    cJSON *a = upload_parse_resource_attrs(ra);
    if (a) {
      *attrs_owned = a;
      o->resource_attrs = a;
      /* OTEL_SERVICE_NAME wins over a service.name given here. */
      const char *svc = rec_str(a, "service.name");
      if (svc && !o->otlp.service_name)
        o->otlp.service_name = svc;
    }
  }
}

static int grow(struct upload_batch *b) {
  size_t cap = b->cap ? b->cap * 2 : 64;
  cJSON **r = realloc(b->recs, cap * sizeof *r);
  if (!r)
    return -1;
  b->recs = r;
  uint64_t *s = realloc(b->seqs, cap * sizeof *s);
  if (!s)
    return -1;
  b->seqs = s;
  b->cap = cap;
  return 0;
}

struct load_ctx {
  struct upload_batch *b;
  uint64_t to;
  size_t max_spans, max_bytes;
  int oom;
  int any;
};

static int on_record(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct load_ctx *c = arg;
  struct upload_batch *b = c->b;
  size_t taken = b->n + b->unreadable;
  if (c->to) {
    if (seq > c->to)
      return 1;
  } else if (taken >= c->max_spans ||
             (taken > 0 && b->raw_bytes + len > c->max_bytes)) {
    return 1;
  }
  c->any = 1;
  if (!c->to) {
    if (!b->first)
      b->first = seq;
    b->last = seq;
  }
  b->raw_bytes += len;
  cJSON *j = cJSON_ParseWithLength(rec, len);
  if (!rec_valid(j)) {
    cJSON_Delete(j);
    b->unreadable++;
    return 0;
  }
  if (b->n == b->cap && grow(b) != 0) {
    cJSON_Delete(j);
    c->oom = 1;
    return 1;
  }
  b->recs[b->n] = j;
  b->seqs[b->n] = seq;
  b->n++;
  return 0;
}

struct raw_ctx {
  struct upload_batch *b;
  size_t max_spans, max_bytes, cap;
  int oom;
};

static int on_raw(uint64_t seq, const char *rec, size_t len, void *arg) {
  struct raw_ctx *c = arg;
  struct upload_batch *b = c->b;
  if (b->nraw >= c->max_spans ||
      (b->nraw > 0 && b->raw_bytes + len > c->max_bytes))
    return 1;
  if (b->nraw == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    char **r = realloc(b->raw, cap * sizeof *r);
    size_t *l = r ? realloc(b->raw_len, cap * sizeof *l) : NULL;
    uint64_t *q = l ? realloc(b->raw_seq, cap * sizeof *q) : NULL;
    if (r)
      b->raw = r;
    if (l)
      b->raw_len = l;
    if (!q) {
      c->oom = 1;
      return 1;
    }
    b->raw_seq = q;
    c->cap = cap;
  }
  char *copy = malloc(len ? len : 1);
  if (!copy) {
    c->oom = 1;
    return 1;
  }
  memcpy(copy, rec, len);
  if (!b->first)
    b->first = seq;
  b->last = seq;
  b->raw[b->nraw] = copy;
  b->raw_len[b->nraw] = len;
  b->raw_seq[b->nraw] = seq;
  b->nraw++;
  b->raw_bytes += len;
  return 0;
}

int upload_batch_load_raw(struct spool *sp, uint64_t from, size_t max_spans,
                          size_t max_bytes, struct upload_batch *b) {
  memset(b, 0, sizeof *b);
  struct raw_ctx c = {b, max_spans ? max_spans : 1, max_bytes ? max_bytes : 1,
                      0, 0};
  int rc = spool_foreach(sp, from ? from : 1, on_raw, &c);
  if (c.oom) {
    upload_batch_free(b);
    return SPOOL_ERR_NOMEM;
  }
  if (rc < 0 && rc != SPOOL_ERR_CORRUPT) {
    upload_batch_free(b);
    return rc;
  }
  return b->nraw ? 0 : 1;
}

int upload_batch_parse(struct upload_batch *b) {
  int rc = 0;
  for (size_t i = 0; i < b->nraw; i++) {
    cJSON *j = rc ? NULL : cJSON_ParseWithLength(b->raw[i], b->raw_len[i]);
    free(b->raw[i]);
    b->raw[i] = NULL;
    if (rc)
      continue;
    if (!rec_valid(j)) {
      cJSON_Delete(j);
      b->unreadable++;
      continue;
    }
    if (b->n == b->cap && grow(b) != 0) {
      cJSON_Delete(j);
      rc = -1;
      continue;
    }
    b->recs[b->n] = j;
    b->seqs[b->n] = b->raw_seq[i];
    b->n++;
  }
  free(b->raw);
  free(b->raw_len);
  free(b->raw_seq);
  b->raw = NULL;
  b->raw_len = NULL;
  b->raw_seq = NULL;
  b->nraw = 0;
  return rc;
}

int upload_batch_load(struct spool *sp, uint64_t from, uint64_t to,
                      size_t max_spans, size_t max_bytes,
                      struct upload_batch *b) {
  memset(b, 0, sizeof *b);
  if (from == 0)
    from = 1;
  if (to) {
    b->first = from;
    b->last = to;
  }
  struct load_ctx c = {
      b, to, max_spans ? max_spans : 1, max_bytes ? max_bytes : 1, 0, 0};
  int rc = spool_foreach(sp, from, on_record, &c);
  if (c.oom) {
    upload_batch_free(b);
    return SPOOL_ERR_NOMEM;
  }
  /* A malformed entry was skipped: the rest came through. */
  if (rc < 0 && rc != SPOOL_ERR_CORRUPT) {
    upload_batch_free(b);
    return rc;
  }
  if (!to && !c.any)
    return 1;
  return 0;
}

/* Add attrs (an object of strings) to every resource that lacks them. */
static void add_resource_attrs(cJSON *req, const cJSON *attrs) {
  if (!attrs || !cJSON_GetArraySize(attrs))
    return;
  const cJSON *rs;
  cJSON_ArrayForEach(rs,
                     cJSON_GetObjectItemCaseSensitive(req, "resourceSpans")) {
    cJSON *list = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(rs, "resource"), "attributes");
    if (!cJSON_IsArray(list))
      continue;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
      if (!cJSON_IsString(a) || !a->string)
        continue;
      int present = 0;
      const cJSON *kv;
      cJSON_ArrayForEach(kv, list) {
        const char *k = rec_str(kv, "key");
        if (k && strcmp(k, a->string) == 0)
          present = 1;
      }
      if (present)
        continue;
      cJSON *kvn = cJSON_CreateObject();
      if (!kvn)
        continue;
      cJSON_AddStringToObject(kvn, "key", a->string);
      cJSON *val = cJSON_AddObjectToObject(kvn, "value");
      if (val)
        cJSON_AddStringToObject(val, "stringValue", a->valuestring);
      cJSON_AddItemToArray(list, kvn);
    }
  }
}

int upload_batch_build(struct upload_batch *b, enum upload_kind kind,
                       const struct upload_build_opts *o) {
  free(b->body);
  b->body = NULL;
  b->len = 0;
  cJSON_Delete(b->tree);
  b->tree = NULL;
  free(b->gz);
  b->gz = NULL;
  b->gz_len = 0;
  if (kind == UP_LEGACY)
    return upload_legacy_build(b);
  cJSON *req =
      otlp_request_from_records((const cJSON *const *)b->recs, b->n, &o->otlp);
  if (!req)
    return -1;
  add_resource_attrs(req, o->resource_attrs);
  /* One buffer of about the right size rather than cJSON's doubling
   * reallocs of a body of megabytes. */
  size_t cap = b->raw_bytes * 3 + 65536;
  for (int tries = 0; tries < 3 && !b->body; tries++, cap *= 2) {
    char *buf = malloc(cap);
    if (!buf)
      break;
    if (cJSON_PrintPreallocated(req, buf,
                                (int)(cap < INT32_MAX ? cap : INT32_MAX), 0))
      b->body = buf;
    else
      free(buf);
  }
  if (!b->body)
    b->body = cJSON_PrintUnformatted(req);
  b->tree = req;
  if (!b->body)
    return -1;
  b->len = strlen(b->body);
  return 0;
}

void upload_batch_drop_records(struct upload_batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    cJSON_Delete(b->recs[i]);
    b->recs[i] = NULL;
  }
}

void upload_batch_free(struct upload_batch *b) {
  for (size_t i = 0; i < b->n; i++)
    cJSON_Delete(b->recs[i]);
  free(b->recs);
  free(b->seqs);
  free(b->body);
  cJSON_Delete(b->tree);
  free(b->gz);
  for (size_t i = 0; i < b->nraw; i++)
    free(b->raw[i]);
  free(b->raw);
  free(b->raw_len);
  free(b->raw_seq);
  for (size_t i = 0; i < b->nevents; i++)
    free(b->event_ids[i]);
  free(b->event_ids);
  free(b->event_rec);
  memset(b, 0, sizeof *b);
}
