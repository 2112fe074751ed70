/* json_util: cJSON and text helpers shared by the parsers. */
#include "json_util.h"
#include "json_node.h"
#include "json_read.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

const cJSON *at_json_get(const cJSON *obj, const char *key) {
  if (!cJSON_IsObject(obj))
    return NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNull(v) ? NULL : v;
}

const char *at_json_str(const cJSON *obj, const char *key) {
  const cJSON *v = at_json_get(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int at_json_count(const cJSON *v, int64_t *out) {
  if (!cJSON_IsNumber(v))
    return 0;
  double d = v->valuedouble;
  /* NaN fails both comparisons; 2^53 keeps every value exact. */
  if (!(d >= 0 && d <= 9007199254740992.0))
    return 0;
  int64_t i = (int64_t)d;
  if ((double)i != d)
    return 0;
  *out = i;
  return 1;
}

cJSON *at_json_parse(const char *s, size_t len) {
  if (!s || len == 0)
    return NULL;
  const char *end = NULL;
  cJSON *v = at_json_read(s, len, &end);
  if (!v)
    return NULL;
  /* cJSON stops after the first value; anything but whitespace after it
   * means the text was not one JSON value. */
  size_t used = end ? (size_t)(end - s) : len;
  for (size_t i = used; i < len; i++) {
    char c = s[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\0') {
      cJSON_Delete(v);
      return NULL;
    }
  }
  return v;
}

int at_json_add_copy(cJSON *obj, const char *key, const cJSON *v) {
  if (!v)
    return 0;
  cJSON *c = cJSON_Duplicate(v, 1);
  if (!c)
    return -1;
  if (key)
    cJSON_AddItemToObject(obj, key, c);
  else
    cJSON_AddItemToArray(obj, c);
  return 0;
}

cJSON *at_json_strn(const char *s, size_t n) {
  /* One allocation and one copy, straight into the node's string:
   * message contents run to many kilobytes, and going through a
   * NUL-terminated temporary and cJSON_CreateString copied them twice. The
   * memory comes from cJSON's allocator, so cJSON_Delete frees it. */
  char *text = cJSON_malloc(n + 1);
  if (!text)
    return NULL;
  if (n)
    memcpy(text, s, n);
  text[n] = '\0';
  cJSON *item = at_node_new();
  if (!item) {
    cJSON_free(text);
    return NULL;
  }
  item->type = cJSON_String;
  item->valuestring = text;
  return item;
}

cJSON *at_json_add_strn(cJSON *obj, const char *key, const char *s, size_t n) {
  cJSON *item = at_json_strn(s, n);
  if (!item)
    return NULL;
  if (key)
    cJSON_AddItemToObject(obj, key, item);
  else
    cJSON_AddItemToArray(obj, item);
  return item;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong */
    if (c == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0)
      lo = 0x90;
    if (c == 0xF4)
      hi = 0x8F;
  } else
    return 0;
  if (n < len)
    return 0;
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  return len;
}

size_t at_utf8_clean(char *dst, size_t cap, const char *src, size_t n,
                     int flatten) {
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0, i = 0;
  while (i < n) {
    size_t k = utf8_seq(s + i, n - i);
    if (k == 0) {
      if (o + 1 >= cap)
        break;
      dst[o++] = '?';
      i++;
      continue;
    }
    if (o + k >= cap)
      break;
    if (k == 1 && flatten && (s[i] < 0x20 || s[i] == 0x7f) && s[i] != '\n' &&
        s[i] != '\t')
      dst[o++] = ' ';
    else {
      memcpy(dst + o, s + i, k);
      o += k;
    }
    i += k;
  }
  dst[o] = '\0';
  return o;
}

int at_utf8_valid(const char *s, size_t n) {
  /* Runs over every body: ASCII is skipped sixteen (or eight) bytes at a
   * time, and a block with a high bit jumps straight to its first such
   * byte rather than stepping the ASCII before it one by one. */
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < n) {
#ifdef __SSE2__
    while (i + 16 <= n) {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
      unsigned m = (unsigned)_mm_movemask_epi8(x);
      if (m) {
        i += (size_t)__builtin_ctz(m);
        goto multibyte;
      }
      i += 16;
    }
#endif
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, u + i, 8);
      uint64_t high = w & 0x8080808080808080ull;
      if (high) {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) &&                            \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        i += (size_t)__builtin_ctzll(high) >> 3;
#endif
        break;
      }
      i += 8;
    }
    while (i < n && u[i] < 0x80)
      i++;
    if (i >= n)
      break;
#ifdef __SSE2__
  multibyte:
#endif
    /* non-ASCII text tends to come in runs: stay here while it lasts */
    do {
      size_t k = utf8_seq(u + i, n - i);
      if (k == 0)
        return 0;
      i += k;
    } while (i < n && u[i] >= 0x80);
  }
  return 1;
}

static size_t skip_ws(const char *s, size_t i, size_t n) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
    i++;
  return i;
}

int at_json_salvage_string(const char *body, size_t len, const char *key,
                           char *out, size_t cap) {
  size_t klen = strlen(key);
  int depth = 0;
  size_t i = skip_ws(body, 0, len);
  if (i >= len || body[i] != '{')
    return 0;
  /* One pass over the text tracking nesting depth and string boundaries;
   * a string at depth 1 followed by ':' is a top-level key. */
  while (i < len) {
    char c = body[i];
    if (c == '{' || c == '[') {
      depth++;
      i++;
    } else if (c == '}' || c == ']') {
      depth--;
      i++;
    } else if (c == '"') {
      size_t start = ++i;
      while (i < len && body[i] != '"')
        i += body[i] == '\\' ? 2 : 1;
      if (i >= len)
        return 0;
      size_t slen = i - start;
      i++;
      if (depth != 1 || slen != klen || memcmp(body + start, key, klen))
        continue;
      size_t j = skip_ws(body, i, len);
      if (j >= len || body[j] != ':')
        continue;
      j = skip_ws(body, j + 1, len);
      if (j >= len || body[j] != '"')
        return 0;
      size_t vstart = ++j;
      while (j < len && body[j] != '"')
        j += body[j] == '\\' ? 2 : 1;
      if (j >= len)
        return 0; /* the value itself was cut */
      size_t vlen = j - vstart;
      if (vlen >= cap)
        return 0;
      memcpy(out, body + vstart, vlen);
      out[vlen] = '\0';
      return 1;
    } else {
      i++;
    }
  }
  return 0;
}

size_t at_base64_decoded_size(const char *s, size_t n) {
  /* Every 4 symbols carry 3 bytes; a trailing group of 2 or 3 symbols
   * carries 1 or 2. Padding and whitespace carry nothing. */
  size_t chars = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c != '=' && c != ' ' && c != '\n' && c != '\r' && c != '\t')
      chars++;
  }
  size_t bytes = (chars / 4) * 3;
  switch (chars % 4) {
  case 2:
    bytes += 1;
    break;
  case 3:
    bytes += 2;
    break;
  default:
    break;
  }
  return bytes;
}
