/* Azure OpenAI: the deployment is not the model; api-version; the hosts of
 * Azure and of the OpenAI-compatible providers and local servers. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "providers/providers.h"

#define CHAT_RESP(model_member)                                                \
  "{\"id\":\"chatcmpl-az1\",\"object\":\"chat.completion\"," model_member      \
  "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","             \
  "\"content\":\"Bonjour\"},\"finish_reason\":\"stop\"}],"                     \
  "\"usage\":{\"prompt_tokens\":20,\"completion_tokens\":4,"                   \
  "\"total_tokens\":24}}"

static const char *const HELLO_REQ =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"Say hello in French\"}]}";

Test(azure, deployment_and_api_version_beside_the_model) {
  struct at_exchange ex = fx_exchange(
      "https://contoso-eu.openai.azure.com/openai/deployments/prod-chat/chat/"
      "completions?api-version=2024-10-21",
      HELLO_REQ, CHAT_RESP("\"model\":\"gpt-4o-mini-2024-07-18\","), 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "azure.ai.openai");
  /* no model in the body: the model is the one that answered */
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4o-mini-2024-07-18");
  cr_expect_str_eq(jstr(r, "response_model"), "gpt-4o-mini-2024-07-18");
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "prod-chat");
  cr_expect_str_eq(jstr(r, "metadata.api_version"), "2024-10-21");
  cr_expect_str_eq(jstr(r, "name"), "chat gpt-4o-mini-2024-07-18");
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-4o-mini@2026-08-22");
  cr_expect_str_eq(jstr(r, "cost_tier"), "standard");
  cJSON_Delete(r);
}

Test(azure, body_model_is_kept_as_sent) {
  /* The SDKs send the deployment name as "model": it is what was asked
   * for, so it stays request_model; the deployment is said apart. */
  struct at_exchange ex = fx_exchange(
      "https://contoso.cognitiveservices.azure.com/openai/deployments/"
      "gpt-5.2_2025-12-11/chat/completions?api-version=2025-01-01-preview&x=1",
      "{\"model\":\"gpt-5.2_2025-12-11\",\"messages\":[]}",
      CHAT_RESP("\"model\":\"gpt-5.2-2025-12-11\","), 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "azure.ai.openai");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-5.2_2025-12-11");
  cr_expect_str_eq(jstr(r, "response_model"), "gpt-5.2-2025-12-11");
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "gpt-5.2_2025-12-11");
  cr_expect_str_eq(jstr(r, "metadata.api_version"), "2025-01-01-preview");
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-5.2@2026-08-22");
  cJSON_Delete(r);
}

Test(azure, deployment_named_after_a_model_prices_an_unnamed_answer) {
  /* neither body nor answer names a model: the deployment's name is the
   * last thing tried for a price (and is not taken as the model) */
  struct at_exchange ex = fx_exchange(
      "https://r.openai.azure.com/openai/deployments/gpt-4o-mini/chat/"
      "completions?api-version=2024-10-21",
      HELLO_REQ, CHAT_RESP(""), 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_null(jget(r, "request_model"));
  cr_expect_null(jget(r, "response_model"));
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "gpt-4o-mini");
  cr_expect_str_eq(jstr(r, "cost_source"), "builtin:gpt-4o-mini@2026-08-22");
  cJSON_Delete(r);
  /* a deployment named otherwise: no price, visibly */
  ex = fx_exchange("https://r.openai.azure.com/openai/deployments/team-a/chat/"
                   "completions",
                   HELLO_REQ, CHAT_RESP(""), 200, NULL);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "team-a");
  cr_expect_null(jget(r, "metadata.api_version"));
  cr_expect_null(jget(r, "cost_details"));
  cr_expect_null(jget(r, "cost_source"));
  cJSON_Delete(r);
}

Test(azure, v1_path_and_foundry_hosts) {
  struct at_exchange ex = fx_exchange(
      "https://proj.services.ai.azure.com/openai/v1/chat/completions",
      "{\"model\":\"gpt-4.1-nano\",\"messages\":[]}",
      CHAT_RESP("\"model\":\"gpt-4.1-nano-2025-04-14\","), 200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "azure.ai.openai");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4.1-nano");
  cr_expect_null(jget(r, "metadata.azure_deployment"));
  cJSON_Delete(r);
  /* the Azure AI model inference API on the same hosts */
  ex = fx_exchange("https://proj.services.ai.azure.com/models/chat/"
                   "completions?api-version=2024-05-01-preview",
                   "{\"model\":\"Mistral-Large-2411\",\"messages\":[]}",
                   CHAT_RESP("\"model\":\"mistral-large-2411\","), 200, NULL);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "provider"), "azure.ai.inference");
  cr_expect_str_eq(jstr(r, "metadata.api_version"), "2024-05-01-preview");
  cr_expect_str_eq(jstr(r, "cost_source"),
                   "builtin:mistral-large-2411@2025-07-04");
  cJSON_Delete(r);
}

Test(azure, deployment_path_on_any_host_and_odd_urls) {
  /* an API gateway in front of Azure, named in AUTOTRACE_HOSTS or not */
  struct at_exchange ex = fx_exchange(
      "https://llm-gw.corp.example/openai/deployments/My%20Deploy/chat/"
      "completions?foo=1&api-version=2024-06-01",
      HELLO_REQ, CHAT_RESP("\"model\":\"gpt-4o\","), 200, NULL);
  struct at_match m = {AT_API_OPENAI_CHAT, "openai_compatible"};
  cJSON *r = at_parse_exchange(&ex, &m, NULL, NULL);
  cr_assert_not_null(r);
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "My Deploy");
  cr_expect_str_eq(jstr(r, "metadata.api_version"), "2024-06-01");
  cr_expect_str_eq(jstr(r, "request_model"), "gpt-4o");
  cJSON_Delete(r);
  /* empty deployment, empty api-version, control bytes: nothing stored
   * that is not clean */
  ex = fx_exchange("https://r.openai.azure.com/openai/deployments//chat/"
                   "completions?api-version=",
                   HELLO_REQ, CHAT_RESP(""), 200, NULL);
  r = fx_parse(&ex);
  cr_expect_null(jget(r, "metadata.azure_deployment"));
  cr_expect_null(jget(r, "metadata.api_version"));
  cJSON_Delete(r);
  ex = fx_exchange("https://r.openai.azure.com/openai/deployments/a%0Ab%ff/"
                   "chat/completions?api-version=x%00y",
                   HELLO_REQ, CHAT_RESP(""), 200, NULL);
  r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "a b?");
  cJSON_Delete(r);
  /* not Azure: nothing added */
  ex = fx_exchange("https://api.openai.com/v1/chat/completions", HELLO_REQ,
                   CHAT_RESP("\"model\":\"gpt-4o\","), 200, NULL);
  r = fx_parse(&ex);
  cr_expect_null(jget(r, "metadata.azure_deployment"));
  cr_expect_null(jget(r, "request_model"));
  cJSON_Delete(r);
}

Test(azure, embeddings_deployment) {
  struct at_exchange ex = fx_exchange(
      "https://r.openai.azure.com/openai/deployments/embed-large/embeddings?"
      "api-version=2023-05-15",
      "{\"input\":[\"a\",\"b\"]}",
      "{\"object\":\"list\",\"model\":\"text-embedding-3-large\",\"data\":["
      "{\"index\":0,\"embedding\":[0.1,0.2]},{\"index\":1,\"embedding\":"
      "[0.3,0.4]}],\"usage\":{\"prompt_tokens\":2,\"total_tokens\":2}}",
      200, NULL);
  cJSON *r = fx_parse(&ex);
  cr_expect_str_eq(jstr(r, "type"), "embedding");
  cr_expect_str_eq(jstr(r, "request_model"), "text-embedding-3-large");
  cr_expect_str_eq(jstr(r, "metadata.azure_deployment"), "embed-large");
  cr_expect_str_eq(jstr(r, "metadata.api_version"), "2023-05-15");
  cJSON_Delete(r);
}

#define EXPECT_PROVIDER(url, want)                                             \
  do {                                                                         \
    struct at_match m_;                                                        \
    int ok_ = at_match_url(url, &m_);                                          \
    cr_expect(ok_ && !strcmp(m_.provider, want), "%s -> %s, want %s", url,     \
              ok_ ? m_.provider : "(no match)", want);                         \
  } while (0)

Test(azure, every_compatible_host_has_its_name) {
  EXPECT_PROVIDER("https://x.openai.azure.com/openai/deployments/d/chat/"
                  "completions",
                  "azure.ai.openai");
  EXPECT_PROVIDER("https://x.cognitiveservices.azure.com/openai/deployments/d/"
                  "embeddings",
                  "azure.ai.openai");
  EXPECT_PROVIDER("https://x.services.ai.azure.com/openai/v1/responses",
                  "azure.ai.openai");
  EXPECT_PROVIDER("https://api.mistral.ai/v1/chat/completions", "mistral_ai");
  EXPECT_PROVIDER("https://api.groq.com/openai/v1/chat/completions", "groq");
  EXPECT_PROVIDER("https://api.together.xyz/v1/chat/completions", "together");
  EXPECT_PROVIDER("https://api.deepseek.com/chat/completions", "deepseek");
  EXPECT_PROVIDER("https://openrouter.ai/api/v1/chat/completions",
                  "openrouter");
  EXPECT_PROVIDER("https://api.x.ai/v1/chat/completions", "x_ai");
  EXPECT_PROVIDER("https://api.fireworks.ai/inference/v1/chat/completions",
                  "fireworks");
  EXPECT_PROVIDER("https://api.perplexity.ai/chat/completions", "perplexity");
  EXPECT_PROVIDER("https://api.cerebras.ai/v1/chat/completions", "cerebras");
  /* local servers on their default ports: vLLM, llama.cpp, LM Studio */
  EXPECT_PROVIDER("http://localhost:8000/v1/chat/completions",
                  "openai_compatible");
  EXPECT_PROVIDER("http://127.0.0.1:8080/v1/chat/completions",
                  "openai_compatible");
  EXPECT_PROVIDER("http://localhost:1234/v1/chat/completions",
                  "openai_compatible");
  EXPECT_PROVIDER("http://[::1]:1234/v1/embeddings", "openai_compatible");
  /* unless configured */
  char err[128];
  cr_assert_eq(at_hosts_configure("localhost:8000=vllm", err, sizeof err), 1);
  EXPECT_PROVIDER("http://localhost:8000/v1/chat/completions", "vllm");
  at_hosts_configure(NULL, NULL, 0);
}
