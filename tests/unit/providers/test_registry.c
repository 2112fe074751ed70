/* registry: URL splitting, built-in hosts, path signatures, AUTOTRACE_HOSTS.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "providers/providers.h"
#include "providers/url.h"

static struct at_match m;

static int match(const char *url) {
  memset(&m, 0, sizeof m);
  return at_match_url(url, &m);
}

#define EXPECT_MATCH(url, api_, provider_)                                     \
  do {                                                                         \
    cr_expect_eq(match(url), 1, "%s should match", url);                       \
    cr_expect_eq(m.api, api_, "%s: api %d", url, m.api);                       \
    cr_expect_str_eq(m.provider ? m.provider : "(null)", provider_, "%s",      \
                     url);                                                     \
  } while (0)

#define EXPECT_NO_MATCH(url)                                                   \
  cr_expect_eq(match(url), 0, "%s should not match", url)

Test(url, splits_all_parts) {
  struct at_url u;
  cr_assert_eq(
      at_url_split("HTTPS://bob:pw@Api.Example.com:8443/v1/x?a=1#f", &u), 0);
  cr_expect_eq(u.scheme_len, 5);
  cr_expect_eq(u.userinfo_len, 6);
  cr_expect_eq(strncmp(u.userinfo, "bob:pw", 6), 0);
  cr_expect_eq(u.host_len, 15);
  cr_expect_eq(strncmp(u.host, "Api.Example.com", 15), 0);
  cr_expect_eq(u.port, 8443);
  cr_expect_eq(u.port_explicit, 1);
  cr_expect_eq(u.path_len, 5);
  cr_expect_eq(strncmp(u.path, "/v1/x", 5), 0);
  cr_expect_eq(u.query_len, 3);
  cr_expect_eq(strncmp(u.query, "a=1", 3), 0);
}

Test(url, defaults_ipv6_and_errors) {
  struct at_url u;
  cr_assert_eq(at_url_split("http://[::1]:11434/api/chat", &u), 0);
  cr_expect_eq(u.ipv6, 1);
  cr_expect_eq(u.host_len, 3);
  cr_expect_eq(strncmp(u.host, "::1", 3), 0);
  cr_expect_eq(u.port, 11434);
  cr_assert_eq(at_url_split("https://h", &u), 0);
  cr_expect_eq(u.port, 443);
  cr_expect_eq(u.path_len, 0);
  cr_assert_eq(at_url_split("h.example/v1?x", &u), 0); /* curl's http */
  cr_expect_eq(u.port, 80);
  cr_assert_eq(at_url_split("https://h?q=1", &u), 0);
  cr_expect_eq(u.path_len, 0);
  cr_expect_eq(u.query_len, 3);
  cr_expect_eq(at_url_split("ftp://h/x", &u), -1);
  cr_expect_eq(at_url_split("https:///path", &u), -1);
  cr_expect_eq(at_url_split("https://h:99999/", &u), -1);
  cr_expect_eq(at_url_split("https://h:12ab/", &u), -1);
  cr_expect_eq(at_url_split("https://[::1/", &u), -1);
  cr_expect_eq(at_url_split("https://[::1]x/", &u), -1);
  cr_expect_eq(at_url_split(NULL, &u), -1);
  cr_expect_eq(at_url_split("", &u), -1);
}

Test(registry, builtin_hosts) {
  EXPECT_MATCH("https://api.openai.com/v1/chat/completions", AT_API_OPENAI_CHAT,
               "openai");
  EXPECT_MATCH("https://API.OpenAI.com/v1/chat/completions", AT_API_OPENAI_CHAT,
               "openai");
  EXPECT_MATCH("https://api.openai.com./v1/embeddings",
               AT_API_OPENAI_EMBEDDINGS, "openai");
  EXPECT_MATCH("https://api.anthropic.com/v1/messages",
               AT_API_ANTHROPIC_MESSAGES, "anthropic");
  EXPECT_MATCH("https://api.anthropic.com/v1/messages?beta=true",
               AT_API_ANTHROPIC_MESSAGES, "anthropic");
  EXPECT_MATCH("https://res.openai.azure.com/openai/deployments/d1/chat/"
               "completions?api-version=2024-02-01",
               AT_API_OPENAI_CHAT, "azure.ai.openai");
  EXPECT_MATCH("https://res.openai.azure.com/openai/v1/responses",
               AT_API_OPENAI_RESPONSES, "azure.ai.openai");
  EXPECT_MATCH("https://api.groq.com/openai/v1/chat/completions",
               AT_API_OPENAI_CHAT, "groq");
  EXPECT_MATCH("https://api.mistral.ai/v1/chat/completions#stream",
               AT_API_OPENAI_CHAT, "mistral_ai");
  EXPECT_MATCH("https://api.deepseek.com/chat/completions", AT_API_OPENAI_CHAT,
               "deepseek");
  EXPECT_MATCH("https://api.together.xyz/v1/completions",
               AT_API_OPENAI_COMPLETIONS, "together");
  EXPECT_MATCH("https://api.together.ai/v1/chat/completions",
               AT_API_OPENAI_CHAT, "together");
  EXPECT_MATCH("https://openrouter.ai/api/v1/chat/completions",
               AT_API_OPENAI_CHAT, "openrouter");
  EXPECT_MATCH("https://api.x.ai/v1/responses", AT_API_OPENAI_RESPONSES,
               "x_ai");
  EXPECT_MATCH("https://api.fireworks.ai/inference/v1/chat/completions",
               AT_API_OPENAI_CHAT, "fireworks");
  EXPECT_MATCH("https://api.perplexity.ai/chat/completions", AT_API_OPENAI_CHAT,
               "perplexity");
  EXPECT_MATCH("https://api.cerebras.ai/v1/chat/completions",
               AT_API_OPENAI_CHAT, "cerebras");
  EXPECT_MATCH("https://generativelanguage.googleapis.com/v1beta/openai/chat/"
               "completions",
               AT_API_OPENAI_CHAT, "gcp.gemini");
  EXPECT_MATCH("https://us-central1-aiplatform.googleapis.com/v1/projects/p/"
               "locations/l/publishers/google/models/g:generateContent",
               AT_API_GEMINI_GENERATE, "gcp.vertex_ai");
  EXPECT_MATCH("https://aiplatform.googleapis.com/v1/x", AT_API_OTHER_LLM,
               "gcp.vertex_ai");
  EXPECT_MATCH("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/"
               "converse",
               AT_API_BEDROCK_CONVERSE, "aws.bedrock");
  EXPECT_MATCH("https://api.cohere.com/v2/chat", AT_API_COHERE_CHAT, "cohere");
  EXPECT_MATCH("https://api.z.ai/api/paas/v4/chat/completions",
               AT_API_OPENAI_CHAT, "z_ai");
  EXPECT_MATCH("https://api.cohere.ai/v1/embeddings", AT_API_OPENAI_EMBEDDINGS,
               "cohere");
  EXPECT_MATCH("http://localhost:11434/v1/chat/completions", AT_API_OPENAI_CHAT,
               "ollama");
  EXPECT_MATCH("http://127.0.0.1:11434/api/chat", AT_API_OLLAMA_CHAT, "ollama");
  EXPECT_MATCH("http://[::1]:11434/api/generate", AT_API_OLLAMA_GENERATE,
               "ollama");
}

Test(registry, known_host_other_paths) {
  EXPECT_MATCH("https://api.openai.com/v1/models", AT_API_OTHER_LLM, "openai");
  EXPECT_MATCH("https://api.openai.com/v1/responses/resp_1", AT_API_OTHER_LLM,
               "openai");
  EXPECT_MATCH("https://api.anthropic.com/v1/messages/count_tokens",
               AT_API_OTHER_LLM, "anthropic");
  EXPECT_MATCH("https://api.anthropic.com/v1/complete", AT_API_OTHER_LLM,
               "anthropic");
  /* Ollama's own /api/embeddings is not the OpenAI shape */
  EXPECT_MATCH("http://localhost:11434/api/embeddings", AT_API_OLLAMA_EMBED,
               "ollama");
  EXPECT_MATCH("http://localhost:11434/api/tags", AT_API_OTHER_LLM, "ollama");
  EXPECT_MATCH("https://api.openai.com/v1/chat/completions/",
               AT_API_OPENAI_CHAT, "openai");
}

Test(registry, path_signatures_on_any_host) {
  EXPECT_MATCH("http://localhost:8000/v1/chat/completions", AT_API_OPENAI_CHAT,
               "openai_compatible");
  EXPECT_MATCH("http://10.0.0.5/llm/v1/completions", AT_API_OPENAI_COMPLETIONS,
               "openai_compatible");
  EXPECT_MATCH("https://gw.corp/v1/embeddings", AT_API_OPENAI_EMBEDDINGS,
               "openai_compatible");
  EXPECT_MATCH("https://gw.corp/v1/responses", AT_API_OPENAI_RESPONSES,
               "openai_compatible");
  EXPECT_MATCH("https://gw.corp/anthropic/v1/messages",
               AT_API_ANTHROPIC_MESSAGES, "anthropic_compatible");
  EXPECT_MATCH("https://user:pw@gw.corp:9000/v1/chat/completions?x=1",
               AT_API_OPENAI_CHAT, "openai_compatible");
  /* without /v1 an unknown host is not an LLM */
  EXPECT_NO_MATCH("https://gw.corp/chat/completions");
  EXPECT_NO_MATCH("https://gw.corp/api/messages");
  EXPECT_NO_MATCH("https://gw.corp/v1/models");
  EXPECT_NO_MATCH("https://example.com/");
  EXPECT_NO_MATCH("https://example.com/v1/chat/completionsx");
  EXPECT_NO_MATCH("https://example.com/v1/xcompletions");
  EXPECT_NO_MATCH("https://example.com/search?q=/v1/chat/completions");
  EXPECT_NO_MATCH("https://example.com/page#/v1/messages");
  EXPECT_NO_MATCH("ftp://example.com/v1/chat/completions");
  EXPECT_NO_MATCH("");
  cr_expect_eq(at_match_url(NULL, &m), 0);
  /* not a known host: similar names do not count */
  EXPECT_NO_MATCH("https://api.openai.com.evil.example/chat/completions");
  EXPECT_NO_MATCH("https://notapi.openai.com/chat/completions");
  EXPECT_NO_MATCH("http://localhost:11435/api/chat");
}

Test(registry, user_hosts_add_and_override) {
  char err[256];
  cr_assert_eq(at_hosts_configure(" localhost:8000=vllm , gw.corp=openai,"
                                  "api.openai.com=my_proxy",
                                  err, sizeof err),
               3, "%s", err);
  cr_expect_str_eq(err, "");
  EXPECT_MATCH("http://localhost:8000/chat/completions", AT_API_OPENAI_CHAT,
               "vllm");
  EXPECT_MATCH("http://localhost:8000/generate", AT_API_OTHER_LLM, "vllm");
  /* an "/api" prefix before an OpenAI signature is only a prefix */
  EXPECT_MATCH("http://localhost:8000/api/chat/completions", AT_API_OPENAI_CHAT,
               "vllm");
  EXPECT_NO_MATCH("http://localhost:8001/chat/completions");
  EXPECT_MATCH("https://GW.corp:1234/messages", AT_API_ANTHROPIC_MESSAGES,
               "openai");
  EXPECT_MATCH("https://api.openai.com/v1/chat/completions", AT_API_OPENAI_CHAT,
               "my_proxy");
  /* reconfiguring replaces the table */
  cr_assert_eq(at_hosts_configure("", err, sizeof err), 0);
  EXPECT_NO_MATCH("http://localhost:8000/chat/completions");
  EXPECT_MATCH("https://api.openai.com/v1/chat/completions", AT_API_OPENAI_CHAT,
               "openai");
}

Test(registry, user_hosts_exclude) {
  char err[256];
  cr_assert_eq(at_hosts_configure("-api.openai.com,-localhost:9000,"
                                  "-*.internal",
                                  err, sizeof err),
               3, "%s", err);
  EXPECT_NO_MATCH("https://api.openai.com/v1/chat/completions");
  EXPECT_NO_MATCH("http://localhost:9000/v1/chat/completions");
  EXPECT_MATCH("http://localhost:9001/v1/chat/completions", AT_API_OPENAI_CHAT,
               "openai_compatible");
  EXPECT_NO_MATCH("https://llm.internal/v1/chat/completions");
  EXPECT_MATCH("https://api.anthropic.com/v1/messages",
               AT_API_ANTHROPIC_MESSAGES, "anthropic");
}

Test(registry, user_hosts_port_beats_portless_and_later_wins) {
  char err[256];
  cr_assert_eq(at_hosts_configure("box=first,-box:8080=x", err, sizeof err),
               -1);
  cr_expect(strstr(err, "takes no '=provider'") != NULL, "%s", err);
  cr_assert_eq(at_hosts_configure("box:8080=special,box=first,box=second,"
                                  "[::1]:7000=v6,*.lan=glob",
                                  err, sizeof err),
               5, "%s", err);
  EXPECT_MATCH("http://box:8080/v1/chat/completions", AT_API_OPENAI_CHAT,
               "special");
  EXPECT_MATCH("http://box:8081/v1/chat/completions", AT_API_OPENAI_CHAT,
               "second");
  EXPECT_MATCH("http://[::1]:7000/v1/embeddings", AT_API_OPENAI_EMBEDDINGS,
               "v6");
  EXPECT_MATCH("http://gpu.lan/chat/completions", AT_API_OPENAI_CHAT, "glob");
}

Test(registry, user_hosts_errors_keep_valid_entries) {
  char err[256];
  cr_expect_eq(at_hosts_configure("good=openai,bad,=x,h:0=p,h:abc=p,"
                                  "-ex=p,a*b*c=p,h=,h=bad name,"
                                  "::1=p,ok2=anthropic,,",
                                  err, sizeof err),
               -1);
  cr_expect(strstr(err, "entry 2") != NULL, "%s", err);
  cr_expect(strstr(err, "missing '=provider'") != NULL, "%s", err);
  EXPECT_MATCH("http://good/chat/completions", AT_API_OPENAI_CHAT, "openai");
  EXPECT_MATCH("http://ok2/messages", AT_API_ANTHROPIC_MESSAGES, "anthropic");
  EXPECT_NO_MATCH("http://bad/chat/completions");
  EXPECT_NO_MATCH("http://ex/chat/completions");
  cr_expect_eq(at_hosts_configure(NULL, err, sizeof err), 0);
  cr_expect_eq(at_hosts_configure("x=y", NULL, 0), 1);
}

Test(registry, user_hosts_table_is_bounded) {
  char spec[64 * 16 + 64] = "";
  for (int i = 0; i < 70; i++) {
    char e[16];
    snprintf(e, sizeof e, "h%d=p,", i);
    if (strlen(spec) + strlen(e) < sizeof spec)
      strcat(spec, e);
  }
  char err[256];
  cr_expect_eq(at_hosts_configure(spec, err, sizeof err), -1);
  cr_expect(strstr(err, "too many") != NULL, "%s", err);
  EXPECT_MATCH("http://h63/chat/completions", AT_API_OPENAI_CHAT, "p");
  EXPECT_NO_MATCH("http://h64/chat/completions");
}
