/* prices: built-in list prices, the user's price file, and cost. */
#include "prices.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/* Written from the providers' published per-million-token list prices
 * (standard tier, short context); sources in docs/prices.md. */
#define PM(usd) ((usd) / 1e6)
#define NONE (-1.0)
#define TAKEN "2026-08-22"

/* clang-format off */
static const struct at_price builtin_prices[] = {
  /* name                    input       cached       cache write  output      reasoning */
  {"gpt-4o",                 PM(2.50),   PM(1.25),    NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-4o-2024-05-13",      PM(5.00),   NONE,        NONE,        PM(15.00),  NONE, TAKEN},
  {"gpt-4o-mini",            PM(0.15),   PM(0.075),   NONE,        PM(0.60),   NONE, TAKEN},
  {"gpt-4.1",                PM(2.00),   PM(0.50),    NONE,        PM(8.00),   NONE, TAKEN},
  {"gpt-4.1-mini",           PM(0.40),   PM(0.10),    NONE,        PM(1.60),   NONE, TAKEN},
  {"gpt-4.1-nano",           PM(0.10),   PM(0.025),   NONE,        PM(0.40),   NONE, TAKEN},
  {"gpt-5",                  PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5-mini",             PM(0.25),   PM(0.025),   NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-5-nano",             PM(0.05),   PM(0.005),   NONE,        PM(0.40),   NONE, TAKEN},
  {"gpt-5-chat-latest",      PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5-pro",              PM(15.00),  NONE,        NONE,        PM(120.00), NONE, TAKEN},
  {"gpt-5.1",                PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5.2",                PM(1.75),   PM(0.175),   NONE,        PM(14.00),  NONE, TAKEN},
  {"gpt-5.2-pro",            PM(21.00),  NONE,        NONE,        PM(168.00), NONE, TAKEN},
  {"gpt-5.4",                PM(2.50),   PM(0.25),    NONE,        PM(15.00),  NONE, TAKEN},
  {"gpt-5.4-mini",           PM(0.75),   PM(0.075),   NONE,        PM(4.50),   NONE, TAKEN},
  {"gpt-5.4-nano",           PM(0.20),   PM(0.02),    NONE,        PM(1.25),   NONE, TAKEN},
  {"gpt-5.4-pro",            PM(30.00),  NONE,        NONE,        PM(180.00), NONE, TAKEN},
  {"gpt-5.5",                PM(5.00),   PM(0.50),    NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-5.5-pro",            PM(30.00),  NONE,        NONE,        PM(180.00), NONE, TAKEN},
  {"gpt-4",                  PM(30.00),  NONE,        NONE,        PM(60.00),  NONE, TAKEN},
  {"gpt-4-turbo",            PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"o1",                     PM(15.00),  PM(7.50),    NONE,        PM(60.00),  NONE, TAKEN},
  {"o1-mini",                PM(1.10),   PM(0.55),    NONE,        PM(4.40),   NONE, TAKEN},
  {"o1-pro",                 PM(150.00), NONE,        NONE,        PM(600.00), NONE, TAKEN},
  {"o3",                     PM(2.00),   PM(0.50),    NONE,        PM(8.00),   NONE, TAKEN},
  {"o3-mini",                PM(1.10),   PM(0.55),    NONE,        PM(4.40),   NONE, TAKEN},
  {"o3-pro",                 PM(20.00),  NONE,        NONE,        PM(80.00),  NONE, TAKEN},
  {"o4-mini",                PM(1.10),   PM(0.275),   NONE,        PM(4.40),   NONE, TAKEN},
  {"gpt-3.5-turbo",          PM(0.50),   NONE,        NONE,        PM(1.50),   NONE, TAKEN},
  {"gpt-3.5-turbo-1106",     PM(1.00),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-0613",     PM(1.50),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-16k",      PM(0.50),   NONE,        NONE,        PM(1.50),   NONE, TAKEN},
  {"gpt-3.5-turbo-instruct", PM(1.50),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"text-embedding-3-small", PM(0.02),   NONE,        NONE,        NONE,       NONE, TAKEN},
  {"text-embedding-3-large", PM(0.13),   NONE,        NONE,        NONE,       NONE, TAKEN},
  {"text-embedding-ada-002", PM(0.10),   NONE,        NONE,        NONE,       NONE, TAKEN},
  {"claude-3-haiku",         PM(0.25),   PM(0.03),    PM(0.30),    PM(1.25),   NONE, TAKEN},
  {"claude-3-sonnet",        PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-3-opus",          PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-3-5-haiku",       PM(0.80),   PM(0.08),    PM(1.00),    PM(4.00),   NONE, TAKEN},
  {"claude-3-5-sonnet",      PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-3-7-sonnet",      PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4",        PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4-5",      PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4-6",      PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-opus-4",          PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-opus-4-1",        PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-opus-4-5",        PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-opus-4-6",        PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-haiku-4-5",       PM(1.00),   PM(0.10),    PM(1.25),    PM(5.00),   NONE, TAKEN},
};
/* clang-format on */

#define MODEL_NAME_MAX 256
#define PRICE_FILE_MAX (4u << 20)
#define PRICE_FILE_ENTRIES_MAX 4096

/* ---- user price file -------------------------------------------------- */

struct file_price {
  struct at_price p; /* p.name and p.date are owned (malloc) */
  int is_prefix;     /* a "match" entry */
};

static struct file_price *file_prices;
static size_t n_file_prices;
static char file_path[1024];
static char file_error[256];
static int lazy_done;
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;

static void free_file_prices(void) {
  for (size_t i = 0; i < n_file_prices; i++) {
    free((char *)file_prices[i].p.name);
    free((char *)file_prices[i].p.date);
  }
  free(file_prices);
  file_prices = NULL;
  n_file_prices = 0;
}

void at_prices_reset(void) {
  pthread_mutex_lock(&lazy_lock);
  free_file_prices();
  file_path[0] = '\0';
  file_error[0] = '\0';
  lazy_done = 0;
  pthread_mutex_unlock(&lazy_lock);
}

static char *read_file(const char *path, size_t *len, char *err,
                       size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s", path);
    return NULL;
  }
  char *buf = malloc(PRICE_FILE_MAX + 1);
  size_t n = buf ? fread(buf, 1, PRICE_FILE_MAX + 1, f) : 0;
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad || n > PRICE_FILE_MAX) {
    snprintf(err, errlen, "%s: %s", path,
             !buf ? "out of memory"
                  : (bad ? "read error" : "larger than 4 MiB"));
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static char *lower_dup(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (!d)
    return NULL;
  for (size_t i = 0; i <= n; i++)
    d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
  return d;
}

/* One price field: absent is fine (NONE), otherwise a finite number >= 0
 * scaled by 1/per. Returns 0, or -1 when present but unusable. */
static int price_field(const cJSON *e, const char *key, double per,
                       double *out) {
  const cJSON *v = at_json_get(e, key);
  *out = NONE;
  if (!v)
    return 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || !isfinite(v->valuedouble))
    return -1;
  *out = v->valuedouble / per;
  return 0;
}

/* Validate one file entry; NULL or what is wrong with it. */
static const char *parse_file_entry(const cJSON *e, struct file_price *fp) {
  memset(fp, 0, sizeof(*fp));
  if (!cJSON_IsObject(e))
    return "not an object";
  const char *model = at_json_str(e, "model");
  const char *match = at_json_str(e, "match");
  if (!!model == !!match)
    return "needs exactly one of \"model\" or \"match\" (a string)";
  const char *name = model ? model : match;
  if (!name[0] || strlen(name) >= MODEL_NAME_MAX)
    return "model name empty or too long";
  double per = 1;
  const cJSON *perv = at_json_get(e, "per");
  if (perv) {
    if (!cJSON_IsNumber(perv) || !(perv->valuedouble >= 1) ||
        !isfinite(perv->valuedouble))
      return "\"per\" must be a number >= 1 (tokens the prices are for)";
    per = perv->valuedouble;
  }
  struct at_price *p = &fp->p;
  if (price_field(e, "input", per, &p->input) ||
      price_field(e, "output", per, &p->output) ||
      price_field(e, "input_cached", per, &p->input_cached) ||
      price_field(e, "input_cache_creation", per, &p->input_cache_creation) ||
      price_field(e, "output_reasoning", per, &p->output_reasoning))
    return "prices must be numbers >= 0";
  if (p->input < 0 && p->output < 0)
    return "needs at least \"input\" or \"output\"";
  const cJSON *date = at_json_get(e, "date");
  if (date && !cJSON_IsString(date))
    return "\"date\" must be a string";
  fp->is_prefix = match != NULL;
  p->name = lower_dup(name);
  p->date = strdup(date ? date->valuestring : "");
  if (!p->name || !p->date) {
    free((char *)p->name);
    free((char *)p->date);
    return "out of memory";
  }
  return NULL;
}

static int load_locked(const char *path, char *err, size_t errlen) {
  free_file_prices();
  snprintf(file_path, sizeof file_path, "%s", path);
  size_t len = 0;
  char *text = read_file(path, &len, err, errlen);
  if (!text)
    return -1;
  cJSON *root = at_json_parse(text, len);
  free(text);
  if (!cJSON_IsArray(root)) {
    snprintf(err, errlen, "%s: %s", path,
             root ? "must hold a JSON array of price entries"
                  : "is not valid JSON");
    cJSON_Delete(root);
    return -1;
  }
  int n = cJSON_GetArraySize(root);
  if (n > PRICE_FILE_ENTRIES_MAX)
    n = PRICE_FILE_ENTRIES_MAX;
  file_prices = calloc((size_t)(n ? n : 1), sizeof(*file_prices));
  if (!file_prices) {
    snprintf(err, errlen, "%s: out of memory", path);
    cJSON_Delete(root);
    return -1;
  }
  int bad = 0, index = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, root) {
    if (index >= n) {
      if (!bad)
        snprintf(err, errlen, "%s: more than %d entries; the rest ignored",
                 path, PRICE_FILE_ENTRIES_MAX);
      bad = 1;
      break;
    }
    const char *why = parse_file_entry(e, &file_prices[n_file_prices]);
    if (why) {
      if (!bad)
        snprintf(err, errlen, "%s: entry %d: %s", path, index, why);
      bad = 1;
    } else {
      n_file_prices++;
    }
    index++;
  }
  cJSON_Delete(root);
  return bad ? -1 : (int)n_file_prices;
}

int at_prices_load_file(const char *path, char *err, size_t errlen) {
  char local[256];
  if (!err || !errlen) {
    err = local;
    errlen = sizeof local;
  }
  err[0] = '\0';
  pthread_mutex_lock(&lazy_lock);
  int r = load_locked(path ? path : "", err, errlen);
  snprintf(file_error, sizeof file_error, "%s", err);
  lazy_done = 1;
  pthread_mutex_unlock(&lazy_lock);
  return r;
}

/* The worker or the CLI reads AUTOTRACE_PRICES (preload/config.h names
 * it) the first time a price is needed. */
static void lazy_load(void) {
  pthread_mutex_lock(&lazy_lock);
  if (!lazy_done) {
    lazy_done = 1;
    const char *path = getenv("AUTOTRACE_PRICES");
    if (path && path[0])
      load_locked(path, file_error, sizeof file_error);
  }
  pthread_mutex_unlock(&lazy_lock);
}

const char *at_prices_error(void) {
  lazy_load();
  return file_error[0] ? file_error : NULL;
}

/* ---- matching --------------------------------------------------------- */

static size_t digits(const char *s) {
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9')
    n++;
  return n;
}

/* 1 when s (non-empty) is made only of date or version tokens: "-20241022",
 * "-2024-07-18", "-0125", "@20240307", "-latest", "-v2", ":0". */
static int version_suffix(const char *s) {
  if (!*s)
    return 0;
  while (*s) {
    if (strncmp(s, "-latest", 7) == 0) {
      s += 7;
    } else if (*s == '-' || *s == '@') {
      size_t d = digits(s + 1);
      if (d == 4 && s[5] == '-' && digits(s + 6) == 2 && s[8] == '-' &&
          digits(s + 9) == 2)
        s += 11; /* -YYYY-MM-DD */
      else if (d == 8 || d == 4)
        s += 1 + d; /* -YYYYMMDD, -MMDD */
      else if (*s == '-' && s[1] == 'v' && digits(s + 2) > 0)
        s += 2 + digits(s + 2); /* -v2 */
      else
        return 0;
    } else if (*s == ':' && digits(s + 1) > 0) {
      s += 1 + digits(s + 1); /* Bedrock's ":0" */
    } else {
      return 0;
    }
  }
  return 1;
}

/* Lowercase the model and drop routing prefixes: "openai/", "anthropic/",
 * and Bedrock's "[region.]anthropic.". 0 when it does not fit. */
static int normalize(const char *model, char *out, size_t cap) {
  size_t n = strlen(model);
  if (n == 0 || n >= cap)
    return 0;
  for (size_t i = 0; i <= n; i++)
    out[i] =
        (model[i] >= 'A' && model[i] <= 'Z') ? (char)(model[i] + 32) : model[i];
  static const char *const routes[] = {"openai/", "anthropic/", NULL};
  for (size_t i = 0; routes[i]; i++) {
    size_t k = strlen(routes[i]);
    if (strncmp(out, routes[i], k) == 0) {
      memmove(out, out + k, n - k + 1);
      return 1;
    }
  }
  static const char *const regions[] = {
      "us.", "eu.", "apac.", "au.", "jp.", "ca.", "global.", "us-gov.", NULL};
  char *p = out;
  for (size_t i = 0; regions[i]; i++)
    if (strncmp(p, regions[i], strlen(regions[i])) == 0) {
      p += strlen(regions[i]);
      break;
    }
  if (strncmp(p, "anthropic.", 10) == 0)
    memmove(out, p + 10, strlen(p + 10) + 1);
  return 1;
}

/* A name matches an entry when equal to it, or when the entry is followed
 * by a date/version suffix; the longest entry wins. */
static int entry_matches(const char *model, const char *entry, size_t *len) {
  size_t k = strlen(entry);
  if (strncmp(model, entry, k) != 0)
    return 0;
  if (model[k] && !version_suffix(model + k))
    return 0;
  *len = k;
  return 1;
}

const struct at_price *at_price_lookup(const char *model, int *from_file) {
  char m[MODEL_NAME_MAX];
  if (from_file)
    *from_file = 0;
  if (!model || !normalize(model, m, sizeof m))
    return NULL;
  lazy_load();
  const struct at_price *best = NULL;
  size_t best_len = 0, len;
  for (size_t i = 0; i < n_file_prices; i++) {
    const struct file_price *fp = &file_prices[i];
    if (!fp->is_prefix && entry_matches(m, fp->p.name, &len) &&
        len > best_len) {
      best = &fp->p;
      best_len = len;
    }
  }
  if (!best) {
    for (size_t i = 0; i < n_file_prices; i++) {
      const struct file_price *fp = &file_prices[i];
      len = strlen(fp->p.name);
      if (fp->is_prefix && strncmp(m, fp->p.name, len) == 0 && len > best_len) {
        best = &fp->p;
        best_len = len;
      }
    }
  }
  if (best) {
    if (from_file)
      *from_file = 1;
    return best;
  }
  size_t nb = sizeof(builtin_prices) / sizeof(builtin_prices[0]);
  for (size_t i = 0; i < nb; i++)
    if (entry_matches(m, builtin_prices[i].name, &len) && len > best_len) {
      best = &builtin_prices[i];
      best_len = len;
    }
  return best;
}

/* ---- cost ------------------------------------------------------------- */

/* Round to a millionth of a micro-dollar so that 9 tokens at $0.15/M
 * prints as 1.35e-06, not 1.3500000000000001e-06. */
static double round_usd(double c) {
  if (!(c >= 0) || c > 9e6)
    return c;
  return (double)(long long)(c * 1e12 + 0.5) / 1e12;
}

int at_price_cost(const char *model, const cJSON *usage_details,
                  cJSON **cost_out, char *source, size_t source_len) {
  *cost_out = NULL;
  int from_file = 0;
  const struct at_price *p = at_price_lookup(model, &from_file);
  if (!p || !cJSON_IsObject(usage_details))
    return 0;
  double cached = p->input_cached >= 0 ? p->input_cached : p->input;
  double write =
      p->input_cache_creation >= 0 ? p->input_cache_creation : p->input;
  double reasoning = p->output_reasoning >= 0 ? p->output_reasoning : p->output;
  const struct {
    const char *bucket;
    double price;
  } rates[] = {
      {"input", p->input},
      {"input_cached_tokens", cached},
      {"input_cache_creation", write},
      {"output", p->output},
      {"output_reasoning_tokens", reasoning},
  };
  cJSON *cost = cJSON_CreateObject();
  if (!cost)
    return -1;
  double total = 0;
  int any = 0;
  for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
    int64_t tokens;
    const cJSON *v = at_json_get(usage_details, rates[i].bucket);
    if (!v || !at_json_count(v, &tokens) || rates[i].price < 0)
      continue;
    double c = round_usd((double)tokens * rates[i].price);
    if (!cJSON_AddNumberToObject(cost, rates[i].bucket, c)) {
      cJSON_Delete(cost);
      return -1;
    }
    total += c;
    any = 1;
  }
  if (!any) {
    cJSON_Delete(cost);
    return 0;
  }
  if (!cJSON_AddNumberToObject(cost, "total", round_usd(total))) {
    cJSON_Delete(cost);
    return -1;
  }
  if (source && source_len) {
    if (from_file)
      snprintf(source, source_len, "file:%s#%s", file_path, p->name);
    else
      snprintf(source, source_len, "builtin:%s@%s", p->name, p->date);
  }
  *cost_out = cost;
  return 1;
}
