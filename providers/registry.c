/* registry: which URLs are LLM endpoints, and of which API and provider.
 *
 * This file is compiled into the LD_PRELOAD shim as well as the core, and
 * at_match_url() runs inside hooks on the application's thread for every
 * request: it uses libc only and never allocates, locks or logs. The rules
 * are documented in docs/providers.md ("Recognising endpoints"). */
#include <stdio.h>
#include <string.h>

#include "providers.h"
#include "url.h"

/* ---- URL splitting ---------------------------------------------------- */

static int ascii_lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive compare of n bytes; `lower` must already be lowercase. */
static int eq_nocase(const char *s, const char *lower, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ascii_lower((unsigned char)s[i]) != (unsigned char)lower[i])
      return 0;
  return 1;
}

static int parse_port(const char *p, size_t n, int *port) {
  if (n == 0 || n > 5)
    return -1;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (p[i] - '0');
  }
  if (v < 1 || v > 65535)
    return -1;
  *port = v;
  return 0;
}

int at_url_split(const char *url, struct at_url *u) {
  memset(u, 0, sizeof(*u));
  u->path = "";
  if (!url)
    return -1;
  const char *p = url;
  const char *sep = strstr(url, "://");
  /* A "://" after the first '/', '?' or '#' belongs to the path. */
  size_t head = strcspn(url, "/?#");
  if (sep && (size_t)(sep - url) <= head) {
    u->scheme = url;
    u->scheme_len = (size_t)(sep - url);
    p = sep + 3;
    if (u->scheme_len == 5 && eq_nocase(url, "https", 5))
      u->port = 443;
    else if (u->scheme_len == 4 && eq_nocase(url, "http", 4))
      u->port = 80;
    else
      return -1;
  } else {
    u->port = 80; /* libcurl's guess for a URL without a scheme */
  }

  size_t alen = strcspn(p, "/?#");
  u->authority = p;
  u->authority_len = alen;
  const char *a = p, *aend = p + alen;
  /* userinfo ends at the last '@' of the authority */
  for (const char *q = aend; q > a; q--) {
    if (q[-1] == '@') {
      u->userinfo = a;
      u->userinfo_len = (size_t)(q - 1 - a);
      a = q;
      break;
    }
  }
  const char *portp = NULL;
  if (a < aend && *a == '[') {
    const char *close = memchr(a, ']', (size_t)(aend - a));
    if (!close)
      return -1;
    u->host = a + 1;
    u->host_len = (size_t)(close - a - 1);
    u->ipv6 = 1;
    if (close + 1 < aend) {
      if (close[1] != ':')
        return -1;
      portp = close + 2;
    }
  } else {
    const char *colon = memchr(a, ':', (size_t)(aend - a));
    u->host = a;
    u->host_len = (size_t)((colon ? colon : aend) - a);
    if (colon)
      portp = colon + 1;
  }
  if (portp) {
    /* "host:" with nothing after keeps the default port, as curl does */
    if (portp < aend) {
      if (parse_port(portp, (size_t)(aend - portp), &u->port) != 0)
        return -1;
      u->port_explicit = 1;
    }
  }
  if (u->host_len == 0)
    return -1;

  const char *rest = aend;
  if (*rest == '/') {
    u->path = rest;
    u->path_len = strcspn(rest, "?#");
    rest += u->path_len;
  }
  if (*rest == '?') {
    u->query = rest + 1;
    u->query_len = strcspn(rest + 1, "#");
  }
  return 0;
}

/* ---- host tables ------------------------------------------------------ */

/* A host pattern is a lowercase name with at most one '*', which matches
 * any run of characters (possibly empty): kept as the text before and
 * after the '*', with their lengths, so that most hosts are turned away by
 * a length compare. */
struct host_pat {
  const char *pre;
  size_t pre_len;
  const char *suf; /* "" for an exact name */
  size_t suf_len;
  int glob;
};

static int host_glob(const struct host_pat *p, const char *host, size_t hlen) {
  if (!p->glob)
    return hlen == p->pre_len && eq_nocase(host, p->pre, hlen);
  return hlen >= p->pre_len + p->suf_len &&
         eq_nocase(host + hlen - p->suf_len, p->suf, p->suf_len) &&
         eq_nocase(host, p->pre, p->pre_len);
}

struct host_rule {
  struct host_pat pat;
  int port; /* 0: any port */
  const char *provider;
};

#define HOST(h, port, prov)                                                    \
  { {h, sizeof(h) - 1, "", 0, 0}, port, prov }
#define GLOB(pre, suf, port, prov)                                             \
  { {pre, sizeof(pre) - 1, suf, sizeof(suf) - 1, 1}, port, prov }

/* Provider names are OpenTelemetry gen_ai.provider.name values where the
 * semantic conventions define one. */
static const struct host_rule builtin_hosts[] = {
    HOST("api.openai.com", 0, "openai"),
    HOST("api.anthropic.com", 0, "anthropic"),
    GLOB("", ".openai.azure.com", 0, "azure.ai.openai"),
    GLOB("", ".cognitiveservices.azure.com", 0, "azure.ai.openai"),
    GLOB("", ".services.ai.azure.com", 0, "azure.ai.openai"),
    HOST("api.groq.com", 0, "groq"),
    HOST("api.mistral.ai", 0, "mistral_ai"),
    HOST("api.deepseek.com", 0, "deepseek"),
    HOST("api.together.xyz", 0, "together"),
    HOST("api.together.ai", 0, "together"),
    HOST("openrouter.ai", 0, "openrouter"),
    HOST("api.x.ai", 0, "x_ai"),
    HOST("api.fireworks.ai", 0, "fireworks"),
    HOST("api.perplexity.ai", 0, "perplexity"),
    HOST("api.cerebras.ai", 0, "cerebras"),
    HOST("api.moonshot.ai", 0, "moonshot_ai"),
    HOST("api.z.ai", 0, "z_ai"),
    HOST("open.bigmodel.cn", 0, "z_ai"),
    HOST("router.huggingface.co", 0, "huggingface"),
    HOST("generativelanguage.googleapis.com", 0, "gcp.gemini"),
    GLOB("", "aiplatform.googleapis.com", 0, "gcp.vertex_ai"),
    GLOB("bedrock-runtime.", ".amazonaws.com", 0, "aws.bedrock"),
    GLOB("bedrock-runtime-fips.", ".amazonaws.com", 0, "aws.bedrock"),
    HOST("api.cohere.com", 0, "cohere"),
    HOST("api.cohere.ai", 0, "cohere"),
    HOST("localhost", 11434, "ollama"),
    HOST("127.0.0.1", 11434, "ollama"),
    HOST("::1", 11434, "ollama"),
    /* rerank and embeddings services */
    HOST("api.voyageai.com", 0, "voyageai"),
    HOST("api.jina.ai", 0, "jina"),
    /* retrievers: vector databases and search APIs (docs/providers.md) */
    GLOB("", ".pinecone.io", 0, "pinecone"),
    GLOB("", ".qdrant.io", 0, "qdrant"),
    GLOB("", ".weaviate.cloud", 0, "weaviate"),
    GLOB("", ".weaviate.network", 0, "weaviate"),
    HOST("api.trychroma.com", 0, "chroma"),
    GLOB("", ".marqo.ai", 0, "marqo"),
    HOST("localhost", 8882, "marqo"),
    HOST("127.0.0.1", 8882, "marqo"),
    HOST("api.tavily.com", 0, "tavily"),
    HOST("api.exa.ai", 0, "exa"),
    HOST("google.serper.dev", 0, "serper"),
};

#define AT_HOSTS_MAX 64
#define AT_HOST_NAME_MAX 253
#define AT_PROVIDER_NAME_MAX 63

/* One AUTOTRACE_HOSTS entry. The provider string lives here for the life
 * of the process: at_match handed out by at_match_url() point into it. */
struct host_entry {
  char host[AT_HOST_NAME_MAX + 1];
  struct host_pat pat; /* points into host */
  int port;            /* 0: any port */
  int exclude;
  char provider[AT_PROVIDER_NAME_MAX + 1];
};

static struct host_entry user_hosts[AT_HOSTS_MAX];
static int n_user_hosts;

/* A port-specific entry beats a port-less one; among equals the later
 * entry wins, so a spec can override itself left to right. */
static const struct host_entry *user_lookup(const char *host, size_t hlen,
                                            int port) {
  const struct host_entry *best = NULL;
  for (int i = 0; i < n_user_hosts; i++) {
    const struct host_entry *e = &user_hosts[i];
    if (e->port && e->port != port)
      continue;
    if (!host_glob(&e->pat, host, hlen))
      continue;
    if (!best || e->port || !best->port)
      best = e;
  }
  return best;
}

static const struct host_rule *builtin_lookup(const char *host, size_t hlen,
                                              int port) {
  size_t n = sizeof(builtin_hosts) / sizeof(builtin_hosts[0]);
  for (size_t i = 0; i < n; i++) {
    const struct host_rule *r = &builtin_hosts[i];
    if (r->port && r->port != port)
      continue;
    if (host_glob(&r->pat, host, hlen))
      return r;
  }
  return NULL;
}

/* ---- AUTOTRACE_HOSTS -------------------------------------------------- */

static void set_err(char *err, size_t errlen, int *had_error, int index,
                    const char *tok, size_t toklen, const char *why) {
  if (!*had_error && err && errlen)
    snprintf(err, errlen, "AUTOTRACE_HOSTS entry %d ('%.*s'): %s", index,
             (int)(toklen > 80 ? 80 : toklen), tok, why);
  *had_error = 1;
}

static int valid_host_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_' || c == '*' || c == ':';
}

static int valid_provider_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

/* Parse one trimmed entry into *e; returns NULL or the reason it is bad. */
static const char *parse_entry(const char *t, size_t n, struct host_entry *e) {
  memset(e, 0, sizeof(*e));
  if (*t == '-') {
    e->exclude = 1;
    t++;
    n--;
  }
  const char *eq = memchr(t, '=', n);
  size_t hp_len = eq ? (size_t)(eq - t) : n;
  if (e->exclude && eq)
    return "an exclusion ('-host') takes no '=provider'";
  if (!e->exclude && !eq)
    return "missing '=provider'";
  if (eq) {
    const char *prov = eq + 1;
    size_t plen = n - hp_len - 1;
    if (plen == 0)
      return "empty provider name";
    if (plen > AT_PROVIDER_NAME_MAX)
      return "provider name too long";
    for (size_t i = 0; i < plen; i++)
      if (!valid_provider_char((unsigned char)prov[i]))
        return "provider name may hold only letters, digits, '.', '-', '_'";
    memcpy(e->provider, prov, plen);
    e->provider[plen] = '\0';
  }

  const char *h = t;
  size_t hlen = hp_len;
  const char *portp = NULL;
  size_t port_len = 0;
  if (hlen && *h == '[') {
    const char *close = memchr(h, ']', hlen);
    if (!close)
      return "unterminated '['";
    if ((size_t)(close - h) + 1 < hlen) {
      if (close[1] != ':')
        return "junk after ']'";
      portp = close + 2;
      port_len = hlen - (size_t)(portp - h);
    }
    hlen = (size_t)(close - h - 1);
    h++;
  } else {
    const char *colon = memchr(h, ':', hlen);
    if (colon) {
      if (memchr(colon + 1, ':', hlen - (size_t)(colon - h) - 1))
        return "write IPv6 addresses in brackets: [::1]:8000";
      portp = colon + 1;
      port_len = hlen - (size_t)(portp - h);
      hlen = (size_t)(colon - h);
    }
  }
  if (hlen == 0)
    return "empty host";
  if (hlen > AT_HOST_NAME_MAX)
    return "host name too long";
  int stars = 0;
  for (size_t i = 0; i < hlen; i++) {
    int c = ascii_lower((unsigned char)h[i]);
    if (!valid_host_char(c))
      return "invalid character in host";
    stars += c == '*';
    e->host[i] = (char)c;
  }
  e->host[hlen] = '\0';
  if (stars > 1)
    return "at most one '*' per host";
  if (portp && parse_port(portp, port_len, &e->port) != 0)
    return "port must be a number from 1 to 65535";
  return NULL;
}

/* The pattern of an entry; done once it sits in the table, since the
 * pattern points into the entry's own host text. */
static void set_pattern(struct host_entry *e) {
  char *star = strchr(e->host, '*');
  e->pat.pre = e->host;
  e->pat.glob = star != NULL;
  e->pat.pre_len = star ? (size_t)(star - e->host) : strlen(e->host);
  e->pat.suf = star ? star + 1 : "";
  e->pat.suf_len = strlen(e->pat.suf);
}

int at_hosts_configure(const char *spec, char *err, size_t errlen) {
  n_user_hosts = 0;
  if (err && errlen)
    err[0] = '\0';
  if (!spec)
    return 0;
  int had_error = 0, index = 0;
  const char *p = spec;
  /* Bounded: each pass consumes at least one byte of spec. */
  while (*p) {
    size_t len = strcspn(p, ",");
    const char *t = p, *end = p + len;
    p = *end ? end + 1 : end;
    while (t < end && (*t == ' ' || *t == '\t'))
      t++;
    while (end > t && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if (t == end)
      continue; /* empty item: "a=b,,c=d" or a trailing comma */
    index++;
    size_t n = (size_t)(end - t);
    if (n_user_hosts >= AT_HOSTS_MAX) {
      set_err(err, errlen, &had_error, index, t, n,
              "too many entries (at most 64)");
      continue;
    }
    struct host_entry e;
    const char *why = parse_entry(t, n, &e);
    if (why) {
      set_err(err, errlen, &had_error, index, t, n, why);
      continue;
    }
    user_hosts[n_user_hosts] = e;
    set_pattern(&user_hosts[n_user_hosts++]);
  }
  return had_error ? -1 : n_user_hosts;
}

/* ---- path signatures -------------------------------------------------- */

static int ends_with(const char *s, size_t n, const char *suffix, size_t k) {
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Google (Gemini API, Vertex AI): the last segment is "{resource}:{method}"
 * in a models/, tunedModels/ or endpoints/ collection, e.g.
 * /v1beta/models/gemini-2.5-flash:streamGenerateContent. The ':' may come
 * percent-encoded. Other methods (countTokens, ...) are not matched here. */
static enum at_api google_api(const char *path, size_t n) {
  size_t seg = n;
  while (seg > 0 && path[seg - 1] != '/')
    seg--;
  if (seg < 2)
    return AT_API_NONE;
  const char *last = path + seg, *end = path + n;
  const char *colon = memchr(last, ':', n - seg);
  size_t skip = 1;
  for (const char *q = last; !colon && q + 2 < end; q++) {
    if (q[0] == '%' && q[1] == '3' && (q[2] == 'A' || q[2] == 'a')) {
      colon = q;
      skip = 3;
    }
  }
  if (!colon || colon == last)
    return AT_API_NONE;
  size_t cend = seg - 1, cstart = cend;
  while (cstart > 0 && path[cstart - 1] != '/')
    cstart--;
  const char *coll = path + cstart;
  size_t clen = cend - cstart;
  if (!(clen == 6 && !memcmp(coll, "models", 6)) &&
      !(clen == 11 && !memcmp(coll, "tunedModels", 11)) &&
      !(clen == 9 && !memcmp(coll, "endpoints", 9)))
    return AT_API_NONE;
  const char *method = colon + skip;
  size_t mlen = (size_t)(end - method);
#define IS(lit) (mlen == sizeof(lit) - 1 && !memcmp(method, lit, mlen))
  if (IS("generateContent") || IS("streamGenerateContent"))
    return AT_API_GEMINI_GENERATE;
  if (IS("embedContent") || IS("batchEmbedContents"))
    return AT_API_GEMINI_EMBED;
#undef IS
  return AT_API_NONE;
}

static enum at_api path_api(const char *path, size_t n, int known_host) {
  if (n > 1 && path[n - 1] == '/')
    n--; /* ".../chat/completions/" */
  enum at_api g = google_api(path, n);
  if (g != AT_API_NONE)
    return g; /* on any host: the shape is Google's own */
#define SIG(s, api)                                                            \
  { s, sizeof(s) - 1, api }
  static const struct {
    const char *suffix;
    size_t len;
    enum at_api api;
  } sigs[] = {
      SIG("/chat/completions", AT_API_OPENAI_CHAT),
      SIG("/completions", AT_API_OPENAI_COMPLETIONS),
      SIG("/embeddings", AT_API_OPENAI_EMBEDDINGS),
      SIG("/responses", AT_API_OPENAI_RESPONSES),
      SIG("/messages", AT_API_ANTHROPIC_MESSAGES),
  };
#undef SIG
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
    if (!ends_with(path, n, sigs[i].suffix, sigs[i].len))
      continue;
    size_t before = n - sigs[i].len;
    if (before >= 3 && memcmp(path + before - 3, "/v1", 3) == 0)
      return sigs[i].api;
    if (!known_host)
      return AT_API_NONE; /* elsewhere "/v1" must precede the signature */
    /* Ollama's native /api/embeddings is not the OpenAI shape (but an
     * "/api/chat/completions" prefix is just a prefix). */
    if (sigs[i].api == AT_API_OPENAI_EMBEDDINGS && before >= 4 &&
        memcmp(path + before - 4, "/api", 4) == 0)
      return AT_API_OTHER_LLM;
    return sigs[i].api;
  }
  return known_host ? AT_API_OTHER_LLM : AT_API_NONE;
}

/* Does s[0..n) contain `needle` (lowercase), in any case? */
static int has_nocase(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (eq_nocase(s + i, needle, k))
      return 1;
  return 0;
}

/* Bedrock runtime: /model/{modelId}/converse, /converse-stream, /invoke,
 * /invoke-with-response-stream. The model id is one path segment
 * (percent-encoded: an ARN's '/' is %2F), though a raw ARN is taken too:
 * everything between the first "/model/" and the action. An /invoke of a
 * model whose id says "embed" is an embedding call. */
static enum at_api bedrock_api(const char *path, size_t n) {
  if (n > 1 && path[n - 1] == '/')
    n--;
  static const struct {
    const char *suffix;
    size_t len;
    enum at_api api;
  } actions[] = {
      {"/converse", 9, AT_API_BEDROCK_CONVERSE},
      {"/converse-stream", 16, AT_API_BEDROCK_CONVERSE},
      {"/invoke", 7, AT_API_BEDROCK_INVOKE},
      {"/invoke-with-response-stream", 28, AT_API_BEDROCK_INVOKE},
  };
  for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
    if (!ends_with(path, n, actions[i].suffix, actions[i].len))
      continue;
    size_t before = n - actions[i].len;
    for (size_t j = 0; j + 7 < before; j++) {
      if (memcmp(path + j, "/model/", 7) != 0)
        continue;
      if (actions[i].len == 7 &&
          has_nocase(path + j + 7, before - j - 7, "embed"))
        return AT_API_BEDROCK_EMBED;
      return actions[i].api;
    }
    return AT_API_NONE;
  }
  return AT_API_NONE;
}

/* Does path[0..n) hold `needle` (exact case)? */
static int has_str(const char *s, size_t n, const char *needle, size_t k) {
  for (size_t i = 0; i + k <= n; i++)
    if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
      return 1;
  return 0;
}

static int prov_is(const char *provider, const char *name) {
  return provider && strcmp(provider, name) == 0;
}

/* Native APIs of providers known by name (Cohere, Ollama, rerankers, the
 * retrieval services), and the retrieval paths of Qdrant and Chroma on
 * any host: on an unknown host *provider is NULL and is set when a
 * signature names the service. AT_API_NONE: path_api() decides. */
static enum at_api native_api(const char **provider, const char *path,
                              size_t n) {
  if (n > 1 && path[n - 1] == '/')
    n--;
  const char *p = *provider;
#define END(lit) ends_with(path, n, lit, sizeof(lit) - 1)
  if (p) {
    if (prov_is(p, "cohere")) {
      if (END("/v2/chat"))
        return AT_API_COHERE_CHAT;
      if (END("/v1/chat"))
        return AT_API_COHERE_CHAT_V1;
      if (END("/v1/generate"))
        return AT_API_COHERE_GENERATE;
      if (END("/v1/embed") || END("/v2/embed"))
        return AT_API_COHERE_EMBED;
    }
    /* Ollama's own API, on its port or any host configured for it */
    if (END("/api/chat"))
      return AT_API_OLLAMA_CHAT;
    if (END("/api/generate"))
      return AT_API_OLLAMA_GENERATE;
    if (END("/api/embed") || END("/api/embeddings"))
      return AT_API_OLLAMA_EMBED;
    if (END("/rerank"))
      return AT_API_RERANK;
    if (prov_is(p, "pinecone")) {
      if (END("/query") ||
          (END("/search") && has_str(path, n, "/records/namespaces/", 20)))
        return AT_API_PINECONE_QUERY;
    } else if (prov_is(p, "weaviate")) {
      if (END("/v1/graphql"))
        return AT_API_WEAVIATE_GRAPHQL;
    } else if (prov_is(p, "marqo")) {
      if (END("/search") && has_str(path, n, "/indexes/", 9))
        return AT_API_MARQO_SEARCH;
    } else if (prov_is(p, "tavily")) {
      if (END("/search"))
        return AT_API_TAVILY_SEARCH;
    } else if (prov_is(p, "exa")) {
      if (END("/search") || END("/findSimilar") || END("/contents") ||
          END("/answer"))
        return AT_API_EXA_SEARCH;
    } else if (prov_is(p, "serper")) {
      if (END("/search") || END("/news") || END("/images") || END("/videos") ||
          END("/places") || END("/maps") || END("/shopping") ||
          END("/scholar") || END("/patents"))
        return AT_API_SERPER_SEARCH;
    }
  }
  /* Qdrant and Chroma run anywhere (often self-hosted): their search
   * paths are distinctive enough to be taken on any host. */
  if ((END("/points/search") || END("/points/search/batch") ||
       END("/points/query") || END("/points/query/batch") ||
       END("/points/query/groups") || END("/points/recommend") ||
       END("/points/discover")) &&
      has_str(path, n, "/collections/", 13)) {
    if (!p)
      *provider = "qdrant";
    return AT_API_QDRANT_SEARCH;
  }
  if (END("/query") && has_str(path, n, "/collections/", 13) &&
      (has_str(path, n, "/api/v1/collections/", 20) ||
       has_str(path, n, "/api/v2/tenants/", 16))) {
    if (!p)
      *provider = "chroma";
    return AT_API_CHROMA_QUERY;
  }
#undef END
  return AT_API_NONE;
}

int at_match_url(const char *url, struct at_match *m) {
  struct at_url u;
  if (at_url_split(url, &u) != 0)
    return 0;
  size_t hlen = u.host_len;
  if (hlen > 1 && u.host[hlen - 1] == '.')
    hlen--; /* "api.openai.com." is the same host */

  const char *provider = NULL;
  const struct host_entry *e = user_lookup(u.host, hlen, u.port);
  if (e) {
    if (e->exclude)
      return 0;
    provider = e->provider;
  } else {
    const struct host_rule *r = builtin_lookup(u.host, hlen, u.port);
    if (r)
      provider = r->provider;
  }
  /* Bedrock's paths count on a known host, and on a host named for the
   * Bedrock runtime: a VPC endpoint such as
   * vpce-0a1b-x2y3.bedrock-runtime.us-east-1.vpce.amazonaws.com. */
  enum at_api api = bedrock_api(u.path, u.path_len);
  if (api != AT_API_NONE && !provider &&
      has_nocase(u.host, hlen, "bedrock-runtime"))
    provider = "aws.bedrock";
  if (api == AT_API_NONE)
    api = native_api(&provider, u.path, u.path_len);
  if (api == AT_API_NONE || !provider)
    api = path_api(u.path, u.path_len, provider != NULL);
  if (api == AT_API_NONE)
    return 0;
  if (!provider &&
      (api == AT_API_GEMINI_GENERATE || api == AT_API_GEMINI_EMBED))
    provider = "gcp.gen_ai"; /* Google's API, backend unknown (a proxy) */
  if (!provider)
    provider = api == AT_API_ANTHROPIC_MESSAGES ? "anthropic_compatible"
                                                : "openai_compatible";
  if (m) {
    m->api = api;
    m->provider = provider;
  }
  return 1;
}
