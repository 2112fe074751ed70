/* jsontok: a validating JSON tokenizer that builds no tree.
 *
 * Streams deliver hundreds of small JSON events per answer; building a
 * cJSON tree for each costs more than everything else together. This reads
 * an event into a flat array of tokens (reused from event to event), lets
 * the stream parsers pick the few fields they need, and hands any rare
 * subtree (usage, an error, a whole response) to cJSON by its raw text.
 *
 * Strict RFC 8259: anything cJSON would reject is rejected here too, and a
 * few things cJSON tolerates (trailing commas, control characters in
 * strings) are rejected as well. Nesting is capped at 128 levels. */
#ifndef AT_JSONTOK_H
#define AT_JSONTOK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dynbuf.h"

enum jt_type {
  JT_OBJECT = 1,
  JT_ARRAY,
  JT_STRING,
  JT_NUMBER,
  JT_TRUE,
  JT_FALSE,
  JT_NULL
};

struct jt_tok {
  uint32_t start, end; /* raw text span: quotes and brackets included */
  uint32_t next;       /* index of the first token after this subtree */
  uint8_t type;        /* enum jt_type */
  uint8_t escaped;     /* a string holding backslash escapes */
};

/* A point of a parse where it can resume: about to read a value at pos,
 * with ntok tokens done and `depth` containers open (their token indexes
 * are stack[stack_at .. stack_at + depth) of the checkpoint pool). */
struct jt_ckpt {
  uint32_t pos, ntok, stack_at;
  uint8_t depth;
  uint8_t peeked; /* reached from '[': the byte at pos was looked at */
};

#define JT_CKPT_MAX 32
#define JT_FRESH_MAX 4
#define JT_TPL_MAX 16

struct jt {
  const char *s;
  size_t len;
  struct jt_tok *t;
  size_t n, cap;
  /* Prefix memo (jsontok.c, jt_parse): the events of one stream mostly
   * begin with the same bytes (ids, model, the path to the delta), so a
   * parse resumes from the last checkpoint inside the prefix it shares
   * with the previous text instead of tokenizing it again. */
  unsigned parses; /* texts parsed with this jt */
  char *prev;      /* copy of the previous text (parses >= 2) */
  size_t prev_len, prev_cap;
  int prev_ok;   /* the previous parse succeeded */
  size_t prev_n; /* its token count */
  struct jt_ckpt ck[JT_CKPT_MAX];
  size_t nck;
  uint32_t ckstack[JT_CKPT_MAX * 8];
  size_t nckstack;
  /* Runs (jsontok.c, resync): what the previous parse had from the resume
   * point on, its tokens [obase, prev_n) and checkpoints, so that stretches
   * of text that did not change are copied rather than tokenized again. */
  struct jt_tok *ot;
  size_t ocap;
  uint32_t obase;
  struct jt_ckpt ock[JT_CKPT_MAX];
  size_t nock, oc;
  uint32_t ockstack[JT_CKPT_MAX * 8];
  size_t okeep; /* ckstack entries below this are the previous parse's */
  /* Template (jsontok.c, refill): the scalar tokens the last parse read
   * anew, which the next text may change while keeping every other byte. */
  uint32_t tpl[JT_TPL_MAX];
  size_t ntpl;
  int have_tpl;
  int prefix;  /* jt_parse_value: one value at the start, then stop */
  size_t used; /* bytes the last successful parse took */
  /* What the last parse read anew (jt_fresh). */
  int nfresh; /* -1: not known */
  uint32_t fresh[JT_FRESH_MAX][2];
  uint32_t fresh_from;
};

void jt_init(struct jt *j);
void jt_free(struct jt *j);

/* Tokenize s[0..len): exactly one JSON value, whitespace around it.
 * Returns 0, -1 when the text is not JSON, -2 when it is too big (more
 * than 2^20 tokens, or over 4 GiB) or memory ran out. Token 0 is the
 * root. */
int jt_parse(struct jt *j, const char *s, size_t len);

/* After a successful jt_parse: which tokens it read anew, as up to
 * JT_FRESH_MAX ranges [fresh[i][0], fresh[i][1]) of token indexes; or -1
 * when that is not known (a first text, nothing shared with the previous
 * one, more ranges). Every other token is the same value as the token of
 * the same index in the previous text: a string, number or literal with
 * the same bytes, an object or array of the same kind whose members are
 * themselves fresh or not. (The counts of tokens may differ: the last
 * range then runs to the end.) Stream parsers use it to see that an event
 * repeats the previous one but for a few values. */
static inline int jt_fresh(const struct jt *j) {
  return j->nfresh;
}

/* jt_parse for the one JSON value at the start of s[0..len) (whitespace
 * before it allowed): stops right after it, not looking at what follows,
 * and sets *used to the bytes it took. For a run of values one after
 * another (a JSON array streamed element by element), with the memo. */
int jt_parse_value(struct jt *j, const char *s, size_t len, size_t *used);

/* The value of member `key` of object token `obj`, or -1 when obj is not
 * an object, the key is absent, or its value is null. */
int jt_get(const struct jt *j, int obj, const char *key);
int jt_getn(const struct jt *j, int obj, const char *key, size_t klen);

/* jt_get for a string literal key, its length known at compile time (the
 * "" pastes make anything but a literal a compile error). */
#define JT_GET(j, obj, key) jt_getn((j), (obj), "" key "", sizeof(key) - 1)

/* Several members in one pass over obj (keys built with JT_KEY only: the
 * signature is what is compared first): out[i] receives the value token
 * of keys[i] (-1 when absent or null; the first occurrence wins). */
struct jt_key {
  const char *name;
  size_t len;
  uint64_t sig; /* first 8 bytes (zero-padded) ^ len << 56: JT_KEY makes it */
};
#define JT_KEY_C(lit, i)                                                       \
  ((uint64_t)(unsigned char)((i) < sizeof(lit) - 1                             \
                                 ? (lit)[(i) < sizeof(lit) ? (i) : 0]          \
                                 : 0)                                          \
   << (8 * (i)))
#define JT_KEY(lit)                                                            \
  {                                                                            \
    "" lit "", sizeof(lit) - 1,                                                \
        (JT_KEY_C(lit, 0) | JT_KEY_C(lit, 1) | JT_KEY_C(lit, 2) |              \
         JT_KEY_C(lit, 3) | JT_KEY_C(lit, 4) | JT_KEY_C(lit, 5) |              \
         JT_KEY_C(lit, 6) | JT_KEY_C(lit, 7)) ^                                \
            ((uint64_t)(sizeof(lit) - 1) << 56)                                \
  }
void jt_pick(const struct jt *j, int obj, const struct jt_key *keys,
             size_t nkeys, int *out);

/* For a stream parser whose last event did nothing but add text token
 * `tok` (or -1): 1 when this parse (successful) read nothing anew but
 * `tok` itself and values of members of object `obj` that the parser does
 * not read (names not among keys[]), or reads only in a way it can redo
 * (keys[i] with bit i of `allow` set: *touched, when not NULL, gets the
 * bits of those whose values changed). 0 otherwise, or when not known:
 * the event must then be read in full. */
int jt_repeats(const struct jt *j, int tok, int obj, const struct jt_key *keys,
               size_t nkeys, unsigned allow, unsigned *touched);

/* Children: the first element of an array token (-1 when empty or not an
 * array), and the element after `el` within array `arr` (-1 at the end). */
int jt_first(const struct jt *j, int arr);
int jt_after(const struct jt *j, int arr, int el);

/* Type of token i, 0 for -1. */
int jt_type(const struct jt *j, int i);

/* 1 when token i is a string equal to lit. */
int jt_eq(const struct jt *j, int i, const char *lit);

/* Append the decoded string token i to out; returns the number of bytes
 * appended, or -1 when i is not a string. \u0000 becomes U+FFFD so that
 * text stays a C string. */
long jt_str(const struct jt *j, int i, struct dynbuf *out);

/* Decode a string token into buf (cap bytes, NUL-terminated). Returns buf,
 * or NULL when i is not a string or it does not fit. */
const char *jt_strbuf(const struct jt *j, int i, char *buf, size_t cap);

/* 1 and *out when token i is a number holding a whole value in [0, 2^53]
 * (the rule at_json_count applies). */
int jt_count(const struct jt *j, int i, int64_t *out);

/* The subtree at token i as a cJSON tree (parsed from its raw text), or
 * NULL for -1 or on allocation failure. */
cJSON *jt_cjson(const struct jt *j, int i);

#endif
