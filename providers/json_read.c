/* json_read: JSON text → cJSON tree, several times faster than cJSON's own
 * parser.
 *
 * The writer thread parses every request and response body it records,
 * and cJSON_Parse spends ~25 instructions per byte on it (two byte-by-byte
 * passes over each string, a strtod and a temporary copy per number).
 * Request bodies are mostly long strings (the conversation), so this
 * parser finds string ends and escapes with memchr, copies plain runs with
 * memcpy, and converts short integers without strtod. The tree it builds
 * is an ordinary cJSON tree: nodes and strings come from cJSON_malloc, so
 * cJSON_Delete frees them with the same allocator.
 *
 * A tree that is only read and then dropped (a request or response body
 * the parsers look through) can instead live in an arena
 * (at_json_read_arena): a few blocks instead of a malloc and a free per
 * node and per string, which was a third of the writer's allocator work.
 *
 * It accepts what cJSON accepts, with the same result (a fuzz target checks
 * this), with one deliberate difference: a lone UTF-16 surrogate escape
 * becomes U+FFFD instead of failing the whole document. */
#include "json_read.h"

#include <locale.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_node.h"

/* cJSON's own CJSON_NESTING_LIMIT. */
#define JR_MAX_DEPTH 1000

struct jr {
  const char *p, *end;
  struct at_json_arena *arena; /* NULL: cJSON_malloc */
};

/* An arena block; data is 16-byte aligned like malloc's memory. */
struct at_json_block {
  struct at_json_block *next;
  size_t cap, used;
  _Alignas(16) unsigned char data[];
};

/* One block kept from the last arena freed, for the next one. A block is
 * tens of kilobytes: glibc serves such a malloc by first consolidating
 * every small free chunk (thousands of instructions), which made a fresh
 * block per body cost more than the per-node mallocs it replaced. Taken
 * and given back by atomic exchange: any thread may parse. */
#define SPARE_MAX ((size_t)1 << 20)
static _Atomic(struct at_json_block *) spare;

static struct at_json_block *block_new(size_t cap) {
  struct at_json_block *b = atomic_exchange(&spare, NULL);
  if (b && b->cap >= cap)
    return b;
  free(b);
  b = malloc(sizeof *b + cap);
  if (b)
    b->cap = cap;
  return b;
}

static void *arena_alloc(struct at_json_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  struct at_json_block *b = a->head;
  if (!b || b->cap - b->used < n) {
    size_t cap = a->next_cap;
    if (cap < n)
      cap = n;
    b = block_new(cap);
    if (!b)
      return NULL;
    cap = b->cap;
    b->next = a->head;
    b->used = 0;
    a->head = b;
    /* Each block twice the last: a big body takes few blocks. */
    a->next_cap = cap < ((size_t)1 << 26) ? cap * 2 : cap;
  }
  void *p = b->data + b->used;
  b->used += n;
  return p;
}

void at_json_arena_free(struct at_json_arena *a) {
  struct at_json_block *b = a->head, *keep = NULL;
  while (b) {
    struct at_json_block *next = b->next;
    if (b->cap <= SPARE_MAX && (!keep || b->cap > keep->cap)) {
      free(keep);
      keep = b;
    } else {
      free(b);
    }
    b = next;
  }
  if (keep)
    free(atomic_exchange(&spare, keep));
  a->head = NULL;
  a->next_cap = 0;
}

static void *jr_alloc(struct jr *r, size_t n) {
  return r->arena ? arena_alloc(r->arena, n) : cJSON_malloc(n);
}

/* Arena memory goes with the arena. */
static void jr_free(struct jr *r, void *p) {
  if (!r->arena)
    cJSON_free(p);
}

/* cJSON treats every byte <= 32 as whitespace. */
static void skip_ws(struct jr *r) {
  while (r->p < r->end && (unsigned char)*r->p <= 32)
    r->p++;
}

static cJSON *new_node(struct jr *r, int type) {
  cJSON *n = jr_alloc(r, sizeof *n);
  if (n) {
    memset(n, 0, sizeof *n);
    n->type = type;
  }
  return n;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = (unsigned char)p[i];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decode the escapes of s[0..n) (the text between the quotes) into o,
 * which holds at least n + 1 bytes: no escape grows. Returns the decoded
 * length, or -1 on an invalid escape. */
static long decode_escapes(const char *s, size_t n, char *o) {
  const char *e = s + n;
  char *w = o;
  while (s < e) {
    const char *bs = memchr(s, '\\', (size_t)(e - s));
    if (!bs) {
      memcpy(w, s, (size_t)(e - s));
      w += e - s;
      break;
    }
    memcpy(w, s, (size_t)(bs - s));
    w += bs - s;
    s = bs + 1;
    if (s >= e)
      return -1;
    char c = *s++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      *w++ = c;
      break;
    case 'b':
      *w++ = '\b';
      break;
    case 'f':
      *w++ = '\f';
      break;
    case 'n':
      *w++ = '\n';
      break;
    case 'r':
      *w++ = '\r';
      break;
    case 't':
      *w++ = '\t';
      break;
    case 'u': {
      unsigned cp, lo;
      if (e - s < 4 || hex4(s, &cp) < 0)
        return -1;
      s += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* A high surrogate takes the low one that follows it. */
        if (e - s >= 6 && s[0] == '\\' && s[1] == 'u' &&
            hex4(s + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
          s += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else {
          cp = 0xFFFD;
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = 0xFFFD;
      }
      w += put_utf8(w, cp);
      break;
    }
    default:
      return -1;
    }
  }
  *w = '\0';
  return (long)(w - o);
}

/* r->p is just past an opening quote. Returns the string's text (from
 * jr_alloc) and leaves r->p past the closing quote, or NULL. */
static char *read_string(struct jr *r) {
  const char *s = r->p, *from = s, *q;
  for (;;) {
    q = memchr(from, '"', (size_t)(r->end - from));
    if (!q)
      return NULL;
    /* A quote is the end unless an odd run of backslashes precedes it. */
    size_t k = 0;
    while (q - k > s && q[-1 - (long)k] == '\\')
      k++;
    if (!(k & 1))
      break;
    from = q + 1;
  }
  size_t n = (size_t)(q - s);
  char *out = jr_alloc(r, n + 1);
  if (!out)
    return NULL;
  if (!memchr(s, '\\', n)) {
    memcpy(out, s, n);
    out[n] = '\0';
  } else if (decode_escapes(s, n, out) < 0) {
    jr_free(r, out);
    return NULL;
  }
  r->p = q + 1;
  return out;
}

static int is_num_char(char c) {
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' ||
         c == 'e' || c == 'E';
}

/* cJSON's number rule: take the run of number characters, let strtod
 * convert what it can, continue after what it used. */
static cJSON *read_number(struct jr *r) {
  const char *s = r->p;
  size_t n = 0;
  while (s + n < r->end && is_num_char(s[n]))
    n++;
  double d;
  size_t used;
  /* Fast path: -?[0-9]{1,15} is exact in a double and is what strtod
   * would return. */
  size_t i = s[0] == '-';
  size_t digits = 0;
  int64_t v = 0;
  while (i + digits < n && s[i + digits] >= '0' && s[i + digits] <= '9' &&
         digits < 16) {
    v = v * 10 + (s[i + digits] - '0');
    digits++;
  }
  if (digits > 0 && digits <= 15 && i + digits == n) {
    d = s[0] == '-' ? -(double)v : (double)v;
    used = n;
  } else {
    char stackbuf[64];
    char *tmp = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!tmp)
      return NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    /* strtod follows the application's locale, whose decimal point may
     * not be '.' (cJSON does the same swap). */
    char dp = *localeconv()->decimal_point;
    if (dp && dp != '.')
      for (size_t k = 0; k < n; k++)
        if (tmp[k] == '.')
          tmp[k] = dp;
    char *after = NULL;
    d = strtod(tmp, &after);
    used = (size_t)(after - tmp);
    if (tmp != stackbuf)
      free(tmp);
    if (used == 0)
      return NULL;
  }
  cJSON *node = new_node(r, cJSON_Number);
  if (!node)
    return NULL;
  at_node_set_number(node, d);
  r->p = s + used;
  return node;
}

static int literal(struct jr *r, const char *word, size_t n) {
  if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
    return 0;
  r->p += n;
  return 1;
}

/* A scalar, or an empty shell for '{' / '['. NULL on error. */
static cJSON *read_value_start(struct jr *r) {
  if (r->p >= r->end)
    return NULL;
  char c = *r->p;
  switch (c) {
  case '{':
  case '[':
    r->p++;
    return new_node(r, c == '{' ? cJSON_Object : cJSON_Array);
  case '"': {
    r->p++;
    char *s = read_string(r);
    if (!s)
      return NULL;
    cJSON *n = new_node(r, cJSON_String);
    if (!n) {
      jr_free(r, s);
      return NULL;
    }
    n->valuestring = s;
    return n;
  }
  case 't':
    return literal(r, "true", 4) ? new_node(r, cJSON_True) : NULL;
  case 'f':
    return literal(r, "false", 5) ? new_node(r, cJSON_False) : NULL;
  case 'n':
    return literal(r, "null", 4) ? new_node(r, cJSON_NULL) : NULL;
  default:
    if (c == '-' || (c >= '0' && c <= '9'))
      return read_number(r);
    return NULL;
  }
}

/* Link child as the last element of parent (cJSON keeps the last element
 * in the first one's prev). */
static void append(cJSON *parent, cJSON *child) {
  cJSON *head = parent->child;
  if (!head) {
    parent->child = child;
    child->prev = child;
    return;
  }
  cJSON *tail = head->prev;
  tail->next = child;
  child->prev = tail;
  head->prev = child;
}

static cJSON *read_tree(const char *text, size_t len, const char **end,
                        struct at_json_arena *arena) {
  if (!text)
    return NULL;
  struct jr r = {text, text + len, arena};
  cJSON *stack[JR_MAX_DEPTH];
  size_t depth = 0;
  cJSON *root = NULL;

  /* cJSON skips a UTF-8 byte order mark. */
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
    r.p += 3;
  for (;;) {
    skip_ws(&r);
    char *key = NULL;
    cJSON *parent = depth ? stack[depth - 1] : NULL;
    if (parent && parent->type == cJSON_Object) {
      if (r.p >= r.end || *r.p != '"')
        goto fail;
      r.p++;
      if (!(key = read_string(&r)))
        goto fail;
      skip_ws(&r);
      if (r.p >= r.end || *r.p != ':') {
        jr_free(&r, key);
        goto fail;
      }
      r.p++;
      skip_ws(&r);
    }
    cJSON *v = read_value_start(&r);
    if (!v) {
      jr_free(&r, key);
      goto fail;
    }
    v->string = key;
    if (parent)
      append(parent, v);
    else
      root = v;
    if (v->type == cJSON_Object || v->type == cJSON_Array) {
      if (depth >= JR_MAX_DEPTH)
        goto fail;
      stack[depth++] = v;
      skip_ws(&r);
      char close = v->type == cJSON_Object ? '}' : ']';
      if (r.p < r.end && *r.p == close) {
        r.p++;
        depth--;
      } else {
        continue; /* its first member */
      }
    }
    /* After a value: a comma for the next member, or closers. */
    while (depth) {
      skip_ws(&r);
      if (r.p >= r.end)
        goto fail;
      char close = stack[depth - 1]->type == cJSON_Object ? '}' : ']';
      if (*r.p == ',') {
        r.p++;
        break;
      }
      if (*r.p != close)
        goto fail;
      r.p++;
      depth--;
    }
    if (!depth)
      break;
  }
  if (end)
    *end = r.p;
  return root;
fail:
  if (!arena) /* an arena's partial tree goes with the arena */
    cJSON_Delete(root);
  return NULL;
}

cJSON *at_json_read(const char *text, size_t len, const char **end) {
  return read_tree(text, len, end, NULL);
}

cJSON *at_json_read_arena(const char *text, size_t len, const char **end,
                          struct at_json_arena *a) {
  /* A first block that holds a typical body's tree whole: its strings
   * are at most the text, and its nodes a fraction of it. */
  if (!a->head && a->next_cap < 2 * len + 4096)
    a->next_cap = 2 * len + 4096;
  return read_tree(text, len, end, a);
}
