/* retrievers: shared helpers of the retriever parsers (see retrievers.h). */
#include "retrievers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_util.h"
#include "jsontok.h"
#include "parsers.h"
#include "url.h"

#define COPY_DEPTH 6
#define COPY_MEMBERS 64
#define VECTOR_MIN 16
#define SOURCE_MAX 200

cJSON *at_ret_input(struct at_obs *o) {
  if (!o->input) {
    o->input = cJSON_CreateObject();
    o->oom |= !o->input;
  }
  return cJSON_IsObject(o->input) ? o->input : NULL;
}

/* s cut to at most max bytes on a character boundary, as a new string
 * item; *cut says whether anything was dropped. */
static cJSON *cut_string(const char *s, size_t max, int *cut) {
  size_t n = strlen(s);
  *cut = n > max;
  if (!*cut)
    return cJSON_CreateString(s);
  char *buf = malloc(max + 1);
  if (!buf)
    return NULL;
  at_utf8_clean(buf, max + 1, s, n, 0);
  cJSON *item = cJSON_CreateString(buf);
  free(buf);
  return item;
}

static void put(struct at_obs *o, cJSON *obj, const char *key, cJSON *item) {
  if (!obj || !item) {
    cJSON_Delete(item);
    o->oom |= obj && !item;
    return;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  cJSON_AddItemToObject(obj, key, item);
}

void at_ret_input_str(struct at_obs *o, const char *key, const char *s) {
  if (!s)
    return;
  int cut;
  put(o, at_ret_input(o), key, cut_string(s, AT_DOC_TEXT_MAX, &cut));
}

void at_ret_input_copy(struct at_obs *o, const char *key, const cJSON *v) {
  if (v)
    put(o, at_ret_input(o), key, at_ret_copy(v));
}

void at_ret_input_num(struct at_obs *o, const char *key, double n) {
  put(o, at_ret_input(o), key, cJSON_CreateNumber(n));
}

void at_ret_params(struct at_obs *o, const cJSON *req,
                   const char *const *keys) {
  for (size_t i = 0; keys[i]; i++) {
    const cJSON *v = at_json_get(req, keys[i]);
    if (v)
      put(o, o->params, keys[i], at_ret_copy(v));
  }
}

void at_ret_source(struct at_obs *o, const char *s, size_t n) {
  if (!s || !n)
    return;
  char buf[SOURCE_MAX + 1];
  at_utf8_clean(buf, sizeof buf, s, n, 1);
  at_obs_meta_str(o, "data_source_id", buf);
}

cJSON *at_ret_docs(struct at_obs *o) {
  if (!o->output) {
    o->output = cJSON_CreateObject();
    if (!o->output || !cJSON_AddArrayToObject(o->output, "documents")) {
      o->oom = 1;
      return NULL;
    }
  }
  cJSON *docs = cJSON_GetObjectItemCaseSensitive(o->output, "documents");
  return cJSON_IsArray(docs) ? docs : NULL;
}

cJSON *at_ret_doc(struct at_obs *o, cJSON *docs) {
  if (!docs)
    return NULL;
  if (cJSON_GetArraySize(docs) >= AT_DOCS_MAX) {
    cJSON *n = cJSON_GetObjectItemCaseSensitive(o->output, "documents_omitted");
    if (n)
      cJSON_SetNumberValue(n, n->valuedouble + 1);
    else if (!cJSON_AddNumberToObject(o->output, "documents_omitted", 1))
      o->oom = 1;
    return NULL;
  }
  cJSON *d = cJSON_CreateObject();
  if (!d) {
    o->oom = 1;
    return NULL;
  }
  cJSON_AddItemToArray(docs, d);
  return d;
}

void at_ret_doc_id(struct at_obs *o, cJSON *doc, const cJSON *v) {
  if (!doc || !v)
    return;
  if (cJSON_IsString(v)) {
    int cut;
    put(o, doc, "id", cut_string(v->valuestring, SOURCE_MAX * 2, &cut));
  } else if (cJSON_IsNumber(v)) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v->valuedouble);
    put(o, doc, "id", cJSON_CreateString(buf));
  } else if (!cJSON_IsNull(v)) {
    at_obs_parse_error(o, "a document id is not a string or number");
  }
}

void at_ret_doc_num(struct at_obs *o, cJSON *doc, const char *key,
                    const cJSON *v) {
  if (doc && cJSON_IsNumber(v))
    put(o, doc, key, cJSON_CreateNumber(v->valuedouble));
  else if (doc && v && !cJSON_IsNull(v))
    at_obs_parse_error(o, "a document %s is not a number", key);
}

void at_ret_doc_str(struct at_obs *o, cJSON *doc, const char *key,
                    const char *s) {
  if (!doc || !s)
    return;
  int cut;
  put(o, doc, key, cut_string(s, AT_DOC_TEXT_MAX, &cut));
  if (cut && !strcmp(key, "text"))
    put(o, doc, "text_truncated", cJSON_CreateTrue());
}

/* The placeholder at_json_devector() left for a vector: its length. */
static int placeholder(const cJSON *v) {
  const cJSON *n =
      cJSON_IsObject(v) && v->child && !v->child->next
          ? cJSON_GetObjectItemCaseSensitive(v, "$autotrace_vector")
          : NULL;
  return cJSON_IsNumber(n) ? n->valueint : -1;
}

static int is_vector(const cJSON *v) {
  if (placeholder(v) > 0)
    return 1;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) <= VECTOR_MIN)
    return 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, v) if (!cJSON_IsNumber(e)) return 0;
  return 1;
}

static cJSON *copy_at(const cJSON *v, int depth) {
  if (cJSON_IsString(v)) {
    int cut;
    return cut_string(v->valuestring, AT_DOC_TEXT_MAX, &cut);
  }
  if (is_vector(v)) {
    int dims = placeholder(v);
    cJSON *d = cJSON_CreateObject();
    if (d && !cJSON_AddNumberToObject(
                 d, "dimensions", dims > 0 ? dims : cJSON_GetArraySize(v))) {
      cJSON_Delete(d);
      return NULL;
    }
    return d;
  }
  if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
    cJSON *c = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!c || depth >= COPY_DEPTH)
      return c;
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
      if (n++ == COPY_MEMBERS)
        break;
      cJSON *item = copy_at(e, depth + 1);
      if (!item) {
        cJSON_Delete(c);
        return NULL;
      }
      if (cJSON_IsArray(c))
        cJSON_AddItemToArray(c, item);
      else
        cJSON_AddItemToObject(c, e->string ? e->string : "", item);
    }
    return c;
  }
  return cJSON_Duplicate(v, 0); /* number, bool, null */
}

cJSON *at_ret_copy(const cJSON *v) {
  return v ? copy_at(v, 0) : NULL;
}

static int listed(const char *key, const char *const *list) {
  for (size_t i = 0; list && list[i]; i++)
    if (!strcmp(key, list[i]))
      return 1;
  return 0;
}

/* The same without case: stored fields are named by users ("Title"). */
static int listed_nocase(const char *key, const char *const *list) {
  for (size_t i = 0; list[i]; i++)
    if (!strcasecmp(key, list[i]))
      return 1;
  return 0;
}

static const char *const text_keys[] = {
    "text",  "content",  "page_content", "pageContent",
    "chunk", "document", "body",         NULL,
};
static const char *const url_keys[] = {"url", "link", "uri", NULL};

void at_ret_doc_fields(struct at_obs *o, cJSON *doc, const cJSON *obj,
                       const char *const *skip) {
  if (!doc || !cJSON_IsObject(obj))
    return;
  cJSON *meta = NULL;
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, obj) {
    const char *k = e->string ? e->string : "";
    if (listed(k, skip))
      continue;
    const char *lift = NULL;
    if (cJSON_IsString(e)) {
      if (listed_nocase(k, text_keys))
        lift = "text";
      else if (!strcasecmp(k, "title"))
        lift = "title";
      else if (listed_nocase(k, url_keys))
        lift = "url";
    }
    if (lift && !cJSON_GetObjectItemCaseSensitive(doc, lift)) {
      at_ret_doc_str(o, doc, lift, e->valuestring);
      continue;
    }
    if (is_vector(e) || n++ == COPY_MEMBERS)
      continue; /* vectors are never kept */
    if (!meta)
      meta = cJSON_CreateObject();
    cJSON *c = meta ? copy_at(e, 1) : NULL;
    if (!c) {
      cJSON_Delete(meta);
      o->oom = 1;
      return;
    }
    cJSON_AddItemToObject(meta, k, c);
  }
  /* metadata goes last, after the lifted fields */
  if (meta)
    cJSON_AddItemToObject(doc, "metadata", meta);
}

int at_ret_vector_dims(const cJSON *v) {
  int n = placeholder(v);
  if (n > 0)
    return n;
  if (cJSON_IsObject(v)) {
    const cJSON *inner = at_json_get(v, "values");
    if (!inner)
      inner = at_json_get(v, "vector");
    v = inner;
    if ((n = placeholder(v)) > 0)
      return n;
  }
  if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v))
    return -1;
  const cJSON *e;
  cJSON_ArrayForEach(e, v) if (!cJSON_IsNumber(e)) return -1;
  return cJSON_GetArraySize(v);
}

int at_ret_path_segment(const struct at_obs *o, const char *marker,
                        const char **seg, size_t *len) {
  struct at_url u;
  if (!o->ex || at_url_split(o->ex->url, &u) != 0)
    return 0;
  size_t mlen = strlen(marker);
  const char *found = NULL;
  for (size_t i = 0; i + mlen <= u.path_len; i++)
    if (!memcmp(u.path + i, marker, mlen))
      found = u.path + i + mlen;
  if (!found)
    return 0;
  const char *end = u.path + u.path_len;
  size_t n = 0;
  while (found + n < end && found[n] != '/')
    n++;
  if (!n)
    return 0;
  *seg = found;
  *len = n;
  return 1;
}

/* ---- vectors out of bodies before parsing ----------------------------- */

#define DEVEC_KEY "$autotrace_vector"

char *at_json_devector(const char *s, size_t len, size_t *out_len) {
  struct jt j;
  jt_init(&j);
  char *out = NULL;
  size_t pos = 0, o = 0;
  if (jt_parse(&j, s, len) != 0)
    goto done;
  /* Bounded: each pass moves t forward, past a whole array when one is
   * replaced. */
  for (size_t t = 0; t < j.n;) {
    const struct jt_tok *k = &j.t[t];
    size_t kids = k->next - t - 1;
    if (k->type != JT_ARRAY || kids <= VECTOR_MIN) {
      t++;
      continue;
    }
    size_t c = t + 1;
    while (c < k->next && j.t[c].type == JT_NUMBER)
      c++;
    if (c != k->next) {
      t++;
      continue;
    }
    if (!out) {
      out = malloc(len + 1); /* a placeholder is shorter than its vector */
      if (!out)
        goto done;
    }
    memcpy(out + o, s + pos, k->start - pos);
    o += k->start - pos;
    o += (size_t)sprintf(out + o, "{\"" DEVEC_KEY "\":%zu}", kids);
    pos = k->end;
    t = k->next;
  }
  if (out) {
    memcpy(out + o, s + pos, len - pos);
    o += len - pos;
    out[o] = '\0';
    *out_len = o;
  }
done:
  jt_free(&j);
  return out;
}

int at_devector_parser(const struct at_api_parser *p) {
  return !strcmp(p->type, "retriever") || p == &at_ollama_embed_parser ||
         p == &at_cohere_embed_parser || p == &at_openai_embeddings_parser;
}
