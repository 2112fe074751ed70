/* prices: built-in list prices, the user's price file, and cost.
 *
 * Matching follows Langfuse's precedence (docs/prices.md): the user's
 * entries before the built-in ones, then the most specific name. Langfuse
 * matches regular expressions; here an entry matches its own name and that
 * name followed by date or version tokens, which is what those expressions
 * spell out, found with a binary search over a sorted index (a few
 * microseconds for any model name, with or without a match). */
#include "prices.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

#define PM(usd) ((usd) / 1e6)
#define NONE (-1.0)

/* When each price was taken. TAKEN: Langfuse's default price table
 * (langfuse/langfuse@62751446, copied 2026-08-22); the others are the
 * dates the providers' pricing pages were checked, as recorded in
 * pydantic/genai-prices@47df840 (docs/prices.md lists the sources). */
#define TAKEN "2026-08-22"
/* AWS Bedrock's pricing page (aws.amazon.com/bedrock/pricing), on-demand,
 * us-east-1, as recorded for the Bedrock parsers. */
/* Amazon Nova on-demand input/output prices (and Nova Pro's cached input)
 * as checked on AWS's Bedrock pricing page on this date. Bedrock's Llama,
 * Titan, Mistral and Cohere prices could not be confirmed from a source and
 * are left out: those models have no cost (visibly), not a guessed one. */
#define BEDROCK_TAKEN "2026-11-21"

/* ---- the built-in table -----------------------------------------------
 *
 * To add a model, add one line to builtin_prices (a model any provider
 * serves under that name) or hosted_prices (a host's own model id: Groq,
 * Together, ...). Names are lowercase; "gpt-4o-2024-08-06",
 * "claude-sonnet-4-20250514", "...-v1:0" and "...-latest" need no line of
 * their own (the version tokens are in docs/prices.md). A 1-hour cache
 * write or audio price goes in price_extras, a tier (long context, service
 * tier) in price_tiers, both under the same name. */

/* clang-format off */
static const struct at_price builtin_prices[] = {
  /* name                         input       cached       cache write  output      reasoning  date */
  /* OpenAI */
  {"gpt-4o",                      PM(2.50),   PM(1.25),    NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-4o-2024-05-13",           PM(5.00),   NONE,        NONE,        PM(15.00),  NONE, TAKEN},
  {"gpt-4o-mini",                 PM(0.15),   PM(0.075),   NONE,        PM(0.60),   NONE, TAKEN},
  {"chatgpt-4o-latest",           PM(5.00),   NONE,        NONE,        PM(15.00),  NONE, TAKEN},
  {"gpt-4o-audio-preview",        PM(2.50),   NONE,        NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-4.1",                     PM(2.00),   PM(0.50),    NONE,        PM(8.00),   NONE, TAKEN},
  {"gpt-4.1-mini",                PM(0.40),   PM(0.10),    NONE,        PM(1.60),   NONE, TAKEN},
  {"gpt-4.1-nano",                PM(0.10),   PM(0.025),   NONE,        PM(0.40),   NONE, TAKEN},
  {"gpt-4.5-preview",             PM(75.00),  PM(37.50),   NONE,        PM(150.00), NONE, TAKEN},
  {"gpt-5",                       PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5-mini",                  PM(0.25),   PM(0.025),   NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-5-nano",                  PM(0.05),   PM(0.005),   NONE,        PM(0.40),   NONE, TAKEN},
  {"gpt-5-chat",                  PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5-pro",                   PM(15.00),  NONE,        NONE,        PM(120.00), NONE, TAKEN},
  {"gpt-5.1",                     PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gpt-5.1-chat",                PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, "2025-11-13"},
  {"gpt-5.1-codex",               PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, "2025-11-13"},
  {"gpt-5.1-codex-mini",          PM(0.25),   PM(0.025),   NONE,        PM(2.00),   NONE, "2025-11-13"},
  {"gpt-5.2",                     PM(1.75),   PM(0.175),   NONE,        PM(14.00),  NONE, TAKEN},
  {"gpt-5.2-chat",                PM(1.75),   PM(0.175),   NONE,        PM(14.00),  NONE, "2025-12-11"},
  {"gpt-5.2-pro",                 PM(21.00),  NONE,        NONE,        PM(168.00), NONE, TAKEN},
  {"gpt-5.3-codex",               PM(1.75),   PM(0.175),   NONE,        PM(14.00),  NONE, TAKEN},
  {"gpt-5.4",                     PM(2.50),   PM(0.25),    NONE,        PM(15.00),  NONE, TAKEN},
  {"gpt-5.4-mini",                PM(0.75),   PM(0.075),   NONE,        PM(4.50),   NONE, TAKEN},
  {"gpt-5.4-nano",                PM(0.20),   PM(0.02),    NONE,        PM(1.25),   NONE, TAKEN},
  {"gpt-5.4-pro",                 PM(30.00),  NONE,        NONE,        PM(180.00), NONE, TAKEN},
  {"gpt-5.5",                     PM(5.00),   PM(0.50),    NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-5.5-pro",                 PM(30.00),  NONE,        NONE,        PM(180.00), NONE, TAKEN},
  {"gpt-5.6-sol",                 PM(5.00),   PM(0.50),    PM(6.25),    PM(30.00),  NONE, TAKEN},
  {"gpt-5.6-terra",               PM(2.00),   PM(0.20),    PM(2.50),    PM(12.00),  NONE, TAKEN},
  {"gpt-5.6-luna",                PM(0.20),   PM(0.02),    PM(0.25),    PM(1.20),   NONE, TAKEN},
  {"gpt-4",                       PM(30.00),  NONE,        NONE,        PM(60.00),  NONE, TAKEN},
  {"gpt-4-32k",                   PM(60.00),  NONE,        NONE,        PM(120.00), NONE, TAKEN},
  {"gpt-4-turbo",                 PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-4-turbo-preview",         PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-4-0125-preview",          PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-4-1106-preview",          PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-4-vision-preview",        PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"gpt-4-1106-vision-preview",   PM(10.00),  NONE,        NONE,        PM(30.00),  NONE, TAKEN},
  {"o1",                          PM(15.00),  PM(7.50),    NONE,        PM(60.00),  NONE, TAKEN},
  {"o1-preview",                  PM(15.00),  PM(7.50),    NONE,        PM(60.00),  NONE, TAKEN},
  {"o1-mini",                     PM(1.10),   PM(0.55),    NONE,        PM(4.40),   NONE, TAKEN},
  {"o1-pro",                      PM(150.00), NONE,        NONE,        PM(600.00), NONE, TAKEN},
  {"o3",                          PM(2.00),   PM(0.50),    NONE,        PM(8.00),   NONE, TAKEN},
  {"o3-mini",                     PM(1.10),   PM(0.55),    NONE,        PM(4.40),   NONE, TAKEN},
  {"o3-pro",                      PM(20.00),  NONE,        NONE,        PM(80.00),  NONE, TAKEN},
  {"o4-mini",                     PM(1.10),   PM(0.275),   NONE,        PM(4.40),   NONE, TAKEN},
  {"gpt-3.5-turbo",               PM(0.50),   NONE,        NONE,        PM(1.50),   NONE, TAKEN},
  {"gpt-3.5-turbo-1106",          PM(1.00),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-0613",          PM(1.50),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-0301",          PM(2.00),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-16k",           PM(0.50),   NONE,        NONE,        PM(1.50),   NONE, TAKEN},
  {"gpt-3.5-turbo-16k-0613",      PM(3.00),   NONE,        NONE,        PM(4.00),   NONE, TAKEN},
  {"gpt-3.5-turbo-instruct",      PM(1.50),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"davinci-002",                 PM(2.00),   NONE,        NONE,        PM(2.00),   NONE, TAKEN},
  {"babbage-002",                 PM(0.40),   NONE,        NONE,        PM(0.40),   NONE, TAKEN},
  {"text-embedding-3-small",      PM(0.02),   NONE,        NONE,        NONE,       NONE, TAKEN},
  {"text-embedding-3-large",      PM(0.13),   NONE,        NONE,        NONE,       NONE, TAKEN},
  {"text-embedding-ada-002",      PM(0.10),   NONE,        NONE,        NONE,       NONE, TAKEN},
  /* Anthropic (also on Bedrock and Vertex AI, same names after the
   * prefixes are dropped). Cache write: 5-minute TTL (1 hour: extras). */
  {"claude-3-haiku",              PM(0.25),   PM(0.03),    PM(0.30),    PM(1.25),   NONE, TAKEN},
  {"claude-3-sonnet",             PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-3-opus",               PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-3-5-haiku",            PM(0.80),   PM(0.08),    PM(1.00),    PM(4.00),   NONE, TAKEN},
  {"claude-3-5-sonnet",           PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-3-7-sonnet",           PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4",             PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4-5",           PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-sonnet-4-6",           PM(3.00),   PM(0.30),    PM(3.75),    PM(15.00),  NONE, TAKEN},
  {"claude-opus-4",               PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-opus-4-1",             PM(15.00),  PM(1.50),    PM(18.75),   PM(75.00),  NONE, TAKEN},
  {"claude-opus-4-5",             PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-opus-4-6",             PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-opus-4-7",             PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-opus-4-8",             PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-haiku-4-5",            PM(1.00),   PM(0.10),    PM(1.25),    PM(5.00),   NONE, TAKEN},
  {"claude-4-5-haiku",            PM(1.00),   PM(0.10),    PM(1.25),    PM(5.00),   NONE, TAKEN},
  {"claude-sonnet-5",             PM(2.00),   PM(0.20),    PM(2.50),    PM(10.00),  NONE, TAKEN},
  {"claude-opus-5",               PM(5.00),   PM(0.50),    PM(6.25),    PM(25.00),  NONE, TAKEN},
  {"claude-fable-5",              PM(10.00),  PM(1.00),    PM(12.50),   PM(50.00),  NONE, TAKEN},
  {"claude-mythos-5",             PM(10.00),  PM(1.00),    PM(12.50),   PM(50.00),  NONE, TAKEN},
  /* Google Gemini (Gemini API and Vertex AI) */
  {"gemini-2.0-flash",            PM(0.10),   NONE,        NONE,        PM(0.40),   NONE, TAKEN},
  {"gemini-2.5-pro",              PM(1.25),   PM(0.125),   NONE,        PM(10.00),  NONE, TAKEN},
  {"gemini-2.5-flash",            PM(0.30),   PM(0.03),    NONE,        PM(2.50),   NONE, TAKEN},
  {"gemini-2.5-flash-lite",       PM(0.10),   PM(0.01),    NONE,        PM(0.40),   NONE, TAKEN},
  {"gemini-3-pro-preview",        PM(2.00),   PM(0.20),    NONE,        PM(12.00),  NONE, TAKEN},
  {"gemini-3.1-pro-preview",      PM(2.00),   PM(0.20),    NONE,        PM(12.00),  NONE, TAKEN},
  {"gemini-3-flash-preview",      PM(0.50),   PM(0.05),    NONE,        PM(3.00),   NONE, TAKEN},
  {"gemini-3.1-flash-lite",       PM(0.25),   PM(0.025),   NONE,        PM(1.50),   NONE, TAKEN},
  {"gemini-3.1-flash-lite-preview", PM(0.25), PM(0.025),   NONE,        PM(1.50),   NONE, TAKEN},
  {"gemini-3.5-flash",            PM(1.50),   PM(0.15),    NONE,        PM(9.00),   NONE, TAKEN},
  {"gemini-3.5-flash-lite",       PM(0.30),   PM(0.03),    NONE,        PM(2.50),   NONE, TAKEN},
  {"gemini-3.6-flash",            PM(0.75),   PM(0.075),   NONE,        PM(3.75),   NONE, TAKEN},
  {"gemini-3.7-flash",            PM(0.75),   PM(0.075),   NONE,        PM(3.75),   NONE, TAKEN},
  {"gemini-2.0-flash-lite",       PM(0.075),  NONE,        NONE,        PM(0.30),   NONE, "2025-07-04"},
  {"gemini-1.5-pro",              PM(1.25),   NONE,        NONE,        PM(5.00),   NONE, "2025-06-22"},
  {"gemini-1.5-flash",            PM(0.075),  PM(0.01875), NONE,        PM(0.30),   NONE, "2025-07-04"},
  {"gemini-embedding-001",        PM(0.15),   NONE,        NONE,        NONE,       NONE, "2026-08-21"},
  {"gemini-embedding-2",          PM(0.20),   NONE,        NONE,        NONE,       NONE, "2026-07-22"},
  /* Mistral AI (La Plateforme) */
  {"mistral-large",               PM(0.50),   PM(0.05),    NONE,        PM(1.50),   NONE, "2026-06-09"},
  {"mistral-large-2411",          PM(2.00),   NONE,        NONE,        PM(6.00),   NONE, "2025-07-04"},
  {"mistral-large-2407",          PM(2.00),   NONE,        NONE,        PM(6.00),   NONE, "2025-07-04"},
  {"mistral-medium",              PM(0.40),   NONE,        NONE,        PM(2.00),   NONE, "2025-08-12"},
  {"mistral-small",               PM(0.10),   NONE,        NONE,        PM(0.30),   NONE, "2025-07-04"},
  {"mistral-small-2603",          PM(0.15),   PM(0.015),   NONE,        PM(0.60),   NONE, "2026-06-09"},
  {"codestral",                   PM(0.30),   NONE,        NONE,        PM(0.90),   NONE, "2025-07-04"},
  {"codestral-2508",              PM(0.30),   PM(0.03),    NONE,        PM(0.90),   NONE, "2026-06-09"},
  {"devstral-2512",               PM(0.40),   PM(0.04),    NONE,        PM(2.00),   NONE, "2026-06-09"},
  {"ministral-3b",                PM(0.10),   PM(0.01),    NONE,        PM(0.10),   NONE, "2026-06-09"},
  {"ministral-14b",               PM(0.20),   PM(0.02),    NONE,        PM(0.20),   NONE, "2026-06-09"},
  {"magistral-medium",            PM(2.00),   NONE,        NONE,        PM(5.00),   NONE, "2025-08-12"},
  {"magistral-small",             PM(0.50),   NONE,        NONE,        PM(1.50),   NONE, "2025-08-12"},
  {"open-mistral-nemo",           PM(0.15),   NONE,        NONE,        PM(0.15),   NONE, "2025-07-04"},
  {"mistral-nemo",                PM(0.15),   NONE,        NONE,        PM(0.15),   NONE, "2025-07-04"},
  {"open-mistral-7b",             PM(0.25),   NONE,        NONE,        PM(0.25),   NONE, "2025-08-12"},
  {"pixtral-12b",                 PM(0.15),   NONE,        NONE,        PM(0.15),   NONE, "2025-07-04"},
  {"mistral-saba",                PM(0.20),   NONE,        NONE,        PM(0.60),   NONE, "2025-07-04"},
  {"mistral-embed",               PM(0.10),   NONE,        NONE,        NONE,       NONE, "2026-08-21"},
  /* DeepSeek: deepseek-chat and deepseek-reasoner are V4 Flash's
   * non-thinking and thinking modes */
  {"deepseek-chat",               PM(0.14),   PM(0.0028),  NONE,        PM(0.28),   NONE, "2026-05-12"},
  {"deepseek-reasoner",           PM(0.14),   PM(0.0028),  NONE,        PM(0.28),   NONE, "2026-05-12"},
  {"deepseek-v4-flash",           PM(0.14),   PM(0.0028),  NONE,        PM(0.28),   NONE, "2026-05-12"},
  {"deepseek-v4-pro",             PM(0.435),  PM(0.003625), NONE,       PM(0.87),   NONE, "2026-06-02"},
  /* xAI */
  {"grok-4",                      PM(3.00),   PM(0.75),    NONE,        PM(15.00),  NONE, "2025-07-12"},
  {"grok-4-fast",                 PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4-fast-reasoning",       PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4-fast-non-reasoning",   PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4-1-fast",               PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4-1-fast-reasoning",     PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4-1-fast-non-reasoning", PM(0.20),   PM(0.05),    NONE,        PM(0.50),   NONE, "2026-01-19"},
  {"grok-4.3",                    PM(1.25),   PM(0.20),    NONE,        PM(2.50),   NONE, "2026-05-12"},
  {"grok-4.5",                    PM(2.00),   PM(0.50),    NONE,        PM(6.00),   NONE, "2026-07-08"},
  {"grok-code-fast-1",            PM(0.20),   PM(0.02),    NONE,        PM(1.50),   NONE, "2026-01-19"},
  {"grok-3",                      PM(3.00),   PM(0.75),    NONE,        PM(15.00),  NONE, "2025-07-12"},
  {"grok-3-fast",                 PM(5.00),   PM(1.25),    NONE,        PM(25.00),  NONE, "2025-07-12"},
  {"grok-3-mini",                 PM(0.30),   PM(0.075),   NONE,        PM(0.50),   NONE, "2025-07-12"},
  {"grok-3-mini-fast",            PM(0.60),   PM(0.15),    NONE,        PM(4.00),   NONE, "2025-07-12"},
  {"grok-2",                      PM(2.00),   NONE,        NONE,        PM(10.00),  NONE, "2025-06-02"},
  {"grok-2-vision",               PM(2.00),   NONE,        NONE,        PM(10.00),  NONE, "2025-07-12"},
  /* Perplexity (token prices only: the per-request search fee is not
   * modelled) */
  {"sonar",                       PM(1.00),   NONE,        NONE,        PM(1.00),   NONE, "2025-07-03"},
  {"sonar-pro",                   PM(3.00),   NONE,        NONE,        PM(15.00),  NONE, "2025-07-03"},
  {"sonar-reasoning",             PM(1.00),   NONE,        NONE,        PM(5.00),   NONE, "2025-07-03"},
  {"sonar-reasoning-pro",         PM(2.00),   NONE,        NONE,        PM(8.00),   NONE, "2025-07-03"},
  {"sonar-deep-research",         PM(2.00),   NONE,        NONE,        PM(8.00),   PM(3.00), "2026-07-22"},
  /* Cohere */
  {"command-a",                   PM(2.50),   NONE,        NONE,        PM(10.00),  NONE, "2025-07-04"},
  {"command-r",                   PM(0.15),   NONE,        NONE,        PM(0.60),   NONE, "2025-07-04"},
  {"command-r-plus",              PM(2.50),   NONE,        NONE,        PM(10.00),  NONE, "2025-07-04"},
  {"command-r7b",                 PM(0.0375), NONE,        NONE,        PM(0.15),   NONE, "2025-07-04"},
  {"embed-v4.0",                  PM(0.12),   NONE,        NONE,        NONE,       NONE, "2025-12-10"},
  /* Voyage AI embeddings */
  {"voyage-3",                    PM(0.06),   NONE,        NONE,        NONE,       NONE, "2026-06-18"},
  {"voyage-3-large",              PM(0.18),   NONE,        NONE,        NONE,       NONE, "2026-06-18"},
  {"voyage-3-lite",               PM(0.02),   NONE,        NONE,        NONE,       NONE, "2026-06-18"},
  {"voyage-3.5",                  PM(0.06),   NONE,        NONE,        NONE,       NONE, "2026-06-18"},
  {"voyage-3.5-lite",             PM(0.02),   NONE,        NONE,        NONE,       NONE, "2026-06-18"},
};

/* A host's own model ids, priced for that host only (the record's
 * provider): the same open model costs differently at each host. */
struct hosted_price {
  const char *provider;
  struct at_price p;
};

static const struct hosted_price hosted_prices[] = {
  {"groq", {"llama-3.1-8b-instant",          PM(0.05),  NONE,       NONE, PM(0.08), NONE, "2025-08-12"}},
  {"groq", {"llama-3.3-70b-versatile",       PM(0.59),  NONE,       NONE, PM(0.79), NONE, "2025-08-12"}},
  {"groq", {"llama3-8b-8192",                PM(0.05),  NONE,       NONE, PM(0.08), NONE, "2025-08-12"}},
  {"groq", {"llama3-70b-8192",               PM(0.59),  NONE,       NONE, PM(0.79), NONE, "2025-08-12"}},
  {"groq", {"openai/gpt-oss-120b",           PM(0.15),  PM(0.075),  NONE, PM(0.60), NONE, "2025-08-06"}},
  {"groq", {"openai/gpt-oss-20b",            PM(0.075), PM(0.0375), NONE, PM(0.30), NONE, "2025-08-06"}},
  {"groq", {"meta-llama/llama-4-scout-17b-16e-instruct",     PM(0.11), NONE, NONE, PM(0.34), NONE, "2025-08-12"}},
  {"groq", {"meta-llama/llama-4-maverick-17b-128e-instruct", PM(0.20), NONE, NONE, PM(0.60), NONE, "2025-08-12"}},
  {"groq", {"qwen/qwen3-32b",                PM(0.29),  NONE,       NONE, PM(0.59), NONE, "2025-08-12"}},
  {"groq", {"moonshotai/kimi-k2-instruct",   PM(1.00),  PM(0.50),   NONE, PM(3.00), NONE, "2025-08-12"}},
  {"groq", {"gemma2-9b-it",                  PM(0.20),  NONE,       NONE, PM(0.20), NONE, "2025-08-12"}},
  {"groq", {"deepseek-r1-distill-llama-70b", PM(0.75),  NONE,       NONE, PM(0.99), NONE, "2025-08-12"}},
  {"cerebras", {"llama-3.3-70b",             PM(0.85),  NONE,       NONE, PM(1.20), NONE, "2025-11-07"}},
  {"cerebras", {"llama3.1-8b",               PM(0.10),  NONE,       NONE, PM(0.10), NONE, "2025-11-07"}},
  {"cerebras", {"gpt-oss-120b",              PM(0.35),  NONE,       NONE, PM(0.75), NONE, "2025-11-06"}},
  {"cerebras", {"qwen-3-32b",                PM(0.40),  NONE,       NONE, PM(0.80), NONE, "2025-11-07"}},
  {"together", {"meta-llama/llama-3.3-70b-instruct-turbo",          PM(0.88), NONE, NONE, PM(0.88), NONE, "2025-07-03"}},
  {"together", {"meta-llama/meta-llama-3.1-8b-instruct-turbo",      PM(0.18), NONE, NONE, PM(0.18), NONE, "2025-07-03"}},
  {"together", {"meta-llama/meta-llama-3.1-70b-instruct-turbo",     PM(0.88), NONE, NONE, PM(0.88), NONE, "2025-07-03"}},
  {"together", {"meta-llama/meta-llama-3.1-405b-instruct-turbo",    PM(3.50), NONE, NONE, PM(3.50), NONE, "2025-07-03"}},
  {"together", {"meta-llama/llama-4-maverick-17b-128e-instruct-fp8", PM(0.27), NONE, NONE, PM(0.85), NONE, "2025-07-03"}},
  {"together", {"meta-llama/llama-4-scout-17b-16e-instruct",        PM(0.18), NONE, NONE, PM(0.59), NONE, "2025-07-03"}},
  {"fireworks", {"accounts/fireworks/models/gpt-oss-120b",           PM(0.15), PM(0.014), NONE, PM(0.60), NONE, "2026-08-04"}},
  {"fireworks", {"accounts/fireworks/models/gpt-oss-20b",            PM(0.07), PM(0.035), NONE, PM(0.30), NONE, "2026-08-04"}},
  {"fireworks", {"accounts/fireworks/models/deepseek-v4-flash",      PM(0.14), PM(0.028), NONE, PM(0.28), NONE, "2026-08-04"}},
  {"fireworks", {"accounts/fireworks/models/deepseek-v4-pro",        PM(1.74), PM(0.145), NONE, PM(3.48), NONE, "2026-06-24"}},
  {"fireworks", {"accounts/fireworks/models/kimi-k2p6",              PM(0.95), PM(0.16),  NONE, PM(4.00), NONE, "2026-05-28"}},
  {"fireworks", {"accounts/fireworks/models/llama-v3p1-8b-instruct", PM(0.20), NONE,      NONE, PM(0.20), NONE, "2025-07-13"}},
  {"fireworks", {"accounts/fireworks/models/llama4-maverick-instruct-basic", PM(0.22), NONE, NONE, PM(0.88), NONE, "2025-07-13"}},
  {"fireworks", {"accounts/fireworks/models/qwen3-235b-a22b",        PM(0.22), NONE,      NONE, PM(0.88), NONE, "2025-07-13"}},
  /* AWS Bedrock's own model ids (on-demand, us-east-1; Claude on Bedrock
   * is priced by the Anthropic entries). "us."/"eu."/"apac." profiles and
   * ARNs reach these names through model_forms(). */
  {"aws.bedrock", {"amazon.nova-micro",                  PM(0.035), NONE,       NONE, PM(0.14),  NONE, BEDROCK_TAKEN}},
  {"aws.bedrock", {"amazon.nova-lite",                   PM(0.06), NONE,         NONE, PM(0.24),  NONE, BEDROCK_TAKEN}},
  {"aws.bedrock", {"amazon.nova-pro",                    PM(0.80),  PM(0.20),    NONE, PM(3.20),  NONE, BEDROCK_TAKEN}},
  {"aws.bedrock", {"amazon.nova-premier",                PM(2.50), NONE,         NONE, PM(12.50), NONE, BEDROCK_TAKEN}},
};

/* Prices beyond the standard five, for entries of builtin_prices. */
struct price_extra {
  const char *name;
  double write_1h, audio_in, audio_out; /* 1-hour cache write, audio */
};

static const struct price_extra price_extras[] = {
  /* name                   1h cache write  audio in     audio out */
  {"gpt-4o-audio-preview",  NONE,           PM(100.00),  PM(200.00)},
  {"claude-3-haiku",        PM(0.50),       NONE,        NONE},
  {"claude-3-sonnet",       PM(6.00),       NONE,        NONE},
  {"claude-3-opus",         PM(30.00),      NONE,        NONE},
  {"claude-3-5-haiku",      PM(1.60),       NONE,        NONE},
  {"claude-3-5-sonnet",     PM(6.00),       NONE,        NONE},
  {"claude-3-7-sonnet",     PM(6.00),       NONE,        NONE},
  {"claude-sonnet-4",       PM(6.00),       NONE,        NONE},
  {"claude-sonnet-4-5",     PM(6.00),       NONE,        NONE},
  {"claude-sonnet-4-6",     PM(6.00),       NONE,        NONE},
  {"claude-opus-4",         PM(30.00),      NONE,        NONE},
  {"claude-opus-4-1",       PM(30.00),      NONE,        NONE},
  {"claude-opus-4-5",       PM(10.00),      NONE,        NONE},
  {"claude-opus-4-6",       PM(10.00),      NONE,        NONE},
  {"claude-opus-4-7",       PM(10.00),      NONE,        NONE},
  {"claude-opus-4-8",       PM(10.00),      NONE,        NONE},
  {"claude-haiku-4-5",      PM(2.00),       NONE,        NONE},
  {"claude-4-5-haiku",      PM(2.00),       NONE,        NONE},
  {"claude-sonnet-5",       PM(4.00),       NONE,        NONE},
  {"claude-opus-5",         PM(10.00),      NONE,        NONE},
  {"claude-fable-5",        PM(20.00),      NONE,        NONE},
  {"claude-mythos-5",       PM(20.00),      NONE,        NONE},
  {"gemini-2.5-flash",      NONE,           PM(1.00),    NONE},
  {"gemini-2.5-flash-lite", NONE,           PM(0.30),    NONE},
  {"gemini-3.1-flash-lite", NONE,           PM(0.50),    NONE},
  {"gemini-3.1-flash-lite-preview", NONE,   PM(0.50),    NONE},
};
/* clang-format on */

/* Everything a tier charges, USD per token; NONE: as the standard tier
 * (in a tier) or not given (in an entry). */
struct rates {
  double input, cached, write, write_1h, output, reasoning, audio_in, audio_out;
};

/* A tier applies when all its conditions hold: the attribute `key`
 * (metadata first, then model_parameters) is one of `values` ('|'
 * between them), and all input tokens exceed input_gt. */
struct tier {
  const char *entry; /* the builtin_prices name it belongs to */
  const char *name;
  const char *key;    /* NULL: no attribute condition */
  const char *values; /* lowercase */
  long long input_gt; /* -1: no token condition */
  struct rates r;
};

#define WHEN(key, values, input_gt) key, values, input_gt

/* Tiers, tried in this order per model (Langfuse's tier priority); the
 * first that applies wins, else the standard prices. From Langfuse's
 * table, except the Claude Sonnet long-context tiers: Anthropic's pricing
 * for prompts over 200K input tokens (1M-context beta), announced
 * 2025-08-12, cache prices scaled like the standard ones. */
/* clang-format off */
static const struct tier price_tiers[] = {
  /* entry, tier, WHEN(attribute, values, input tokens >),
   * {input, cached, cache write, 1h cache write, output, reasoning, audio in, audio out} */
  {"gpt-4o", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(4.25), PM(2.125), NONE, NONE, PM(17.00), NONE, NONE, NONE}},
  {"gpt-4o-2024-05-13", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(8.75), NONE, NONE, NONE, PM(26.25), NONE, NONE, NONE}},
  {"gpt-4o-mini", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(0.25), PM(0.125), NONE, NONE, PM(1.00), NONE, NONE, NONE}},
  {"gpt-4.1", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(3.50), PM(0.875), NONE, NONE, PM(14.00), NONE, NONE, NONE}},
  {"gpt-4.1-mini", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(0.70), PM(0.175), NONE, NONE, PM(2.80), NONE, NONE, NONE}},
  {"gpt-4.1-nano", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(0.20), PM(0.05), NONE, NONE, PM(0.80), NONE, NONE, NONE}},
  {"gpt-5", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(2.50), PM(0.25), NONE, NONE, PM(20.00), NONE, NONE, NONE}},
  {"gpt-5", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.625), PM(0.0625), NONE, NONE, PM(5.00), NONE, NONE, NONE}},
  {"gpt-5-mini", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(0.45), PM(0.045), NONE, NONE, PM(3.60), NONE, NONE, NONE}},
  {"gpt-5-mini", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.125), PM(0.0125), NONE, NONE, PM(1.00), NONE, NONE, NONE}},
  {"gpt-5-nano", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.025), PM(0.0025), NONE, NONE, PM(0.20), NONE, NONE, NONE}},
  {"gpt-5.1", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(2.50), PM(0.25), NONE, NONE, PM(20.00), NONE, NONE, NONE}},
  {"gpt-5.1", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.625), PM(0.0625), NONE, NONE, PM(5.00), NONE, NONE, NONE}},
  {"gpt-5.2", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(3.50), PM(0.35), NONE, NONE, PM(28.00), NONE, NONE, NONE}},
  {"gpt-5.2", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.875), PM(0.0875), NONE, NONE, PM(7.00), NONE, NONE, NONE}},
  {"gpt-5.4", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(2.50), PM(0.25), NONE, NONE, PM(11.25), NONE, NONE, NONE}},
  {"gpt-5.4", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(5.00), PM(0.50), NONE, NONE, PM(30.00), NONE, NONE, NONE}},
  {"gpt-5.4", "flex", WHEN("service_tier", "flex", -1),
   {PM(1.25), PM(0.13), NONE, NONE, PM(7.50), NONE, NONE, NONE}},
  {"gpt-5.4", "large_context", WHEN(NULL, NULL, 272000),
   {PM(5.00), PM(0.50), NONE, NONE, PM(22.50), NONE, NONE, NONE}},
  {"gpt-5.4-mini", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(1.50), PM(0.15), NONE, NONE, PM(9.00), NONE, NONE, NONE}},
  {"gpt-5.4-mini", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.375), PM(0.0375), NONE, NONE, PM(2.25), NONE, NONE, NONE}},
  {"gpt-5.4-nano", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.10), PM(0.01), NONE, NONE, PM(0.625), NONE, NONE, NONE}},
  {"gpt-5.4-pro", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(30.00), NONE, NONE, NONE, PM(135.00), NONE, NONE, NONE}},
  {"gpt-5.4-pro", "flex", WHEN("service_tier", "flex", -1),
   {PM(15.00), NONE, NONE, NONE, PM(90.00), NONE, NONE, NONE}},
  {"gpt-5.4-pro", "large_context", WHEN(NULL, NULL, 272000),
   {PM(60.00), NONE, NONE, NONE, PM(270.00), NONE, NONE, NONE}},
  {"gpt-5.5", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(5.00), PM(0.50), NONE, NONE, PM(22.50), NONE, NONE, NONE}},
  {"gpt-5.5", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(12.50), PM(1.25), NONE, NONE, PM(75.00), NONE, NONE, NONE}},
  {"gpt-5.5", "flex", WHEN("service_tier", "flex", -1),
   {PM(2.50), PM(0.25), NONE, NONE, PM(15.00), NONE, NONE, NONE}},
  {"gpt-5.5", "large_context", WHEN(NULL, NULL, 272000),
   {PM(10.00), PM(1.00), NONE, NONE, PM(45.00), NONE, NONE, NONE}},
  {"gpt-5.5-pro", "flex", WHEN("service_tier", "flex", -1),
   {PM(15.00), NONE, NONE, NONE, PM(90.00), NONE, NONE, NONE}},
  {"gpt-5.5-pro", "large_context", WHEN(NULL, NULL, 272000),
   {PM(60.00), NONE, NONE, NONE, PM(270.00), NONE, NONE, NONE}},
  {"gpt-5.6-sol", "priority_large_context", WHEN("service_tier", "fast|priority", 272000),
   {PM(20.00), PM(2.00), PM(25.00), NONE, PM(90.00), NONE, NONE, NONE}},
  {"gpt-5.6-sol", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(5.00), PM(0.50), PM(6.25), NONE, PM(22.50), NONE, NONE, NONE}},
  {"gpt-5.6-sol", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(10.00), PM(1.00), PM(12.50), NONE, PM(60.00), NONE, NONE, NONE}},
  {"gpt-5.6-sol", "flex", WHEN("service_tier", "flex", -1),
   {PM(2.50), PM(0.25), PM(3.125), NONE, PM(15.00), NONE, NONE, NONE}},
  {"gpt-5.6-sol", "large_context", WHEN(NULL, NULL, 272000),
   {PM(10.00), PM(1.00), PM(12.50), NONE, PM(45.00), NONE, NONE, NONE}},
  {"gpt-5.6-terra", "priority_large_context", WHEN("service_tier", "fast|priority", 272000),
   {PM(8.00), PM(0.80), PM(10.00), NONE, PM(36.00), NONE, NONE, NONE}},
  {"gpt-5.6-terra", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(2.00), PM(0.20), PM(2.50), NONE, PM(9.00), NONE, NONE, NONE}},
  {"gpt-5.6-terra", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(4.00), PM(0.40), PM(5.00), NONE, PM(24.00), NONE, NONE, NONE}},
  {"gpt-5.6-terra", "flex", WHEN("service_tier", "flex", -1),
   {PM(1.00), PM(0.10), PM(1.25), NONE, PM(6.00), NONE, NONE, NONE}},
  {"gpt-5.6-terra", "large_context", WHEN(NULL, NULL, 272000),
   {PM(4.00), PM(0.40), PM(5.00), NONE, PM(18.00), NONE, NONE, NONE}},
  {"gpt-5.6-luna", "priority_large_context", WHEN("service_tier", "fast|priority", 272000),
   {PM(0.80), PM(0.08), PM(1.00), NONE, PM(3.60), NONE, NONE, NONE}},
  {"gpt-5.6-luna", "flex_large_context", WHEN("service_tier", "flex", 272000),
   {PM(0.20), PM(0.02), PM(0.25), NONE, PM(0.90), NONE, NONE, NONE}},
  {"gpt-5.6-luna", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(0.40), PM(0.04), PM(0.50), NONE, PM(2.40), NONE, NONE, NONE}},
  {"gpt-5.6-luna", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.10), PM(0.01), PM(0.125), NONE, PM(0.60), NONE, NONE, NONE}},
  {"gpt-5.6-luna", "large_context", WHEN(NULL, NULL, 272000),
   {PM(0.40), PM(0.04), PM(0.50), NONE, PM(1.80), NONE, NONE, NONE}},
  {"o3", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(3.50), PM(0.875), NONE, NONE, PM(14.00), NONE, NONE, NONE}},
  {"o3", "flex", WHEN("service_tier", "flex", -1),
   {PM(1.00), PM(0.25), NONE, NONE, PM(4.00), NONE, NONE, NONE}},
  {"o4-mini", "priority", WHEN("service_tier", "fast|priority", -1),
   {PM(2.00), PM(0.50), NONE, NONE, PM(8.00), NONE, NONE, NONE}},
  {"o4-mini", "flex", WHEN("service_tier", "flex", -1),
   {PM(0.55), PM(0.138), NONE, NONE, PM(2.20), NONE, NONE, NONE}},
  {"claude-sonnet-4", "large_context", WHEN(NULL, NULL, 200000),
   {PM(6.00), PM(0.60), PM(7.50), PM(12.00), PM(22.50), NONE, NONE, NONE}},
  {"claude-sonnet-4-5", "large_context", WHEN(NULL, NULL, 200000),
   {PM(6.00), PM(0.60), PM(7.50), PM(12.00), PM(22.50), NONE, NONE, NONE}},
  {"claude-sonnet-4-6", "large_context", WHEN(NULL, NULL, 200000),
   {PM(6.00), PM(0.60), PM(7.50), PM(12.00), PM(22.50), NONE, NONE, NONE}},
  {"claude-opus-4-8", "fast", WHEN("speed", "fast", -1),
   {PM(10.00), PM(1.00), PM(12.50), PM(20.00), PM(50.00), NONE, NONE, NONE}},
  {"claude-opus-5", "fast", WHEN("speed", "fast", -1),
   {PM(10.00), PM(1.00), PM(12.50), PM(20.00), PM(50.00), NONE, NONE, NONE}},
  {"gemini-2.5-pro", "large_context", WHEN(NULL, NULL, 200000),
   {PM(2.50), PM(0.25), NONE, NONE, PM(15.00), NONE, NONE, NONE}},
  {"gemini-3-pro-preview", "large_context", WHEN(NULL, NULL, 200000),
   {PM(4.00), PM(0.40), NONE, NONE, PM(18.00), NONE, NONE, NONE}},
  {"gemini-3.1-pro-preview", "large_context", WHEN(NULL, NULL, 200000),
   {PM(4.00), PM(0.40), NONE, NONE, PM(18.00), NONE, NONE, NONE}},
  {"gemini-1.5-pro", "large_context", WHEN(NULL, NULL, 128000),
   {PM(2.50), NONE, NONE, NONE, PM(10.00), NONE, NONE, NONE}},
  {"gemini-1.5-flash", "large_context", WHEN(NULL, NULL, 128000),
   {PM(0.15), PM(0.0375), NONE, NONE, PM(0.60), NONE, NONE, NONE}},
};
/* clang-format on */

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define MODEL_NAME_MAX 256
#define PROVIDER_MAX 64
#define PRICE_FILE_MAX (4u << 20)
#define PRICE_FILE_ENTRIES_MAX 4096
#define FILE_TIERS_MAX 8
#define FILE_TIER_VALUES_MAX 8
#define FILE_NAME_MAX 64 /* tier names, attribute names and values */

/* ---- entries and their index ------------------------------------------ */

struct entry {
  struct at_price p;    /* name and date: static or owned (file) */
  const char *provider; /* lowercase; NULL: any provider */
  struct rates r;       /* standard tier, extras included */
  const struct tier **tiers;
  size_t ntiers;
  int is_prefix; /* a file "match" entry */
  int from_file; /* among equal names the newest date wins */
  int seq;       /* position in its table */
};

/* Entries in precedence order, and the index that finds them. */
struct table {
  struct entry *e;
  size_t n;
  const struct entry **idx; /* non-prefix entries, sorted by key_order */
  size_t nidx;
  int scoped; /* some entry is for one provider only */
};

static struct table builtin_tab, file_tab;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static const char *prov_key(const struct entry *e) {
  return e->provider ? e->provider : "";
}

/* Index order: provider, name, then precedence among equal names. */
static int key_order(const void *a, const void *b) {
  const struct entry *x = *(const struct entry *const *)a;
  const struct entry *y = *(const struct entry *const *)b;
  int c = strcmp(prov_key(x), prov_key(y));
  if (c == 0)
    c = strcmp(x->p.name, y->p.name);
  if (c == 0 && x->from_file) {
    /* Langfuse: start_date DESC NULLS LAST; then the later entry */
    int xd = x->p.date[0] != 0, yd = y->p.date[0] != 0;
    c = xd != yd ? yd - xd : -strcmp(x->p.date, y->p.date);
    if (c == 0)
      c = y->seq - x->seq;
  } else if (c == 0) {
    c = x->seq - y->seq; /* built-in: the first line wins */
  }
  return c;
}

static int build_index(struct table *t) {
  t->idx = calloc(t->n ? t->n : 1, sizeof(*t->idx));
  if (!t->idx)
    return -1;
  t->nidx = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (t->e[i].provider)
      t->scoped = 1;
    if (!t->e[i].is_prefix)
      t->idx[t->nidx++] = &t->e[i];
  }
  qsort(t->idx, t->nidx, sizeof(*t->idx), key_order);
  return 0;
}

/* Compare an entry with (provider, name[0..k)). */
static int key_cmp(const struct entry *e, const char *prov, const char *name,
                   size_t k) {
  int c = strcmp(prov_key(e), prov);
  if (c)
    return c;
  c = strncmp(e->p.name, name, k);
  if (c)
    return c;
  return e->p.name[k] != '\0'; /* a longer entry sorts after */
}

/* The first entry keyed (prov, name[0..k)), or NULL. */
static const struct entry *idx_find(const struct table *t, const char *prov,
                                    const char *name, size_t k) {
  size_t lo = 0, hi = t->nidx;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (key_cmp(t->idx[mid], prov, name, k) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < t->nidx && key_cmp(t->idx[lo], prov, name, k) == 0)
    return t->idx[lo];
  return NULL;
}

static size_t digits(const char *s) {
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9')
    n++;
  return n;
}

/* 1 when s (non-empty) is made only of date or version tokens, each after
 * '-', '_' or '@': "latest", "YYYY-MM-DD", "MM-YYYY", "YYYYMMDD", 4 or 3
 * digits ("0125", "001"), "v2" or "v0.1"; or Bedrock's ":0". */
static int version_suffix(const char *s) {
  if (!*s)
    return 0;
  while (*s) {
    if (*s == ':' && digits(s + 1) > 0) {
      s += 1 + digits(s + 1);
      continue;
    }
    if (*s != '-' && *s != '_' && *s != '@')
      return 0;
    const char *t = s + 1;
    size_t d = digits(t);
    if (strncmp(t, "latest", 6) == 0) {
      s = t + 6;
    } else if (d == 4 && t[4] == '-' && digits(t + 5) == 2 && t[7] == '-' &&
               digits(t + 8) == 2) {
      s = t + 10; /* YYYY-MM-DD */
    } else if (d == 2 && t[2] == '-' && digits(t + 3) == 4) {
      s = t + 7; /* MM-YYYY (Cohere) */
    } else if (d == 8 || d == 4 || d == 3) {
      s = t + d;
    } else if (*t == 'v' && digits(t + 1) > 0) {
      t += 1 + digits(t + 1);
      while (*t == '.' && digits(t + 1) > 0)
        t += 1 + digits(t + 1);
      s = t;
    } else {
      return 0;
    }
  }
  return 1;
}

static int cut_char(char c) {
  return c == '-' || c == '_' || c == '@' || c == ':';
}

/* The entry named `name`, or named a prefix of it followed by version
 * tokens; the exact name first, then the longest entry. */
static const struct entry *find(const struct table *t, const char *prov,
                                const char *name) {
  size_t n = strlen(name);
  for (size_t k = n; k > 0; k--) {
    if (k < n && (!cut_char(name[k]) || !version_suffix(name + k)))
      continue;
    const struct entry *e = idx_find(t, prov, name, k);
    if (e)
      return e;
  }
  return NULL;
}

/* A file "match" entry: the longest prefix; among equals as in the index. */
static const struct entry *find_prefix(const struct table *t, const char *prov,
                                       const char *name) {
  const struct entry *best = NULL;
  size_t best_len = 0;
  for (size_t i = 0; i < t->n; i++) {
    const struct entry *e = &t->e[i];
    if (!e->is_prefix || strcmp(prov_key(e), prov) != 0)
      continue;
    size_t len = strlen(e->p.name);
    if (strncmp(name, e->p.name, len) != 0 || len < best_len)
      continue;
    if (best && len == best_len) {
      int bd = best->p.date[0] != 0, ed = e->p.date[0] != 0;
      int c = bd != ed ? ed - bd : strcmp(e->p.date, best->p.date);
      if (c < 0)
        continue; /* best is newer (or dated where e is not) */
    }
    best = e;
    best_len = len;
  }
  return best;
}

/* ---- model names ------------------------------------------------------ */

static void lower_copy(char *dst, const char *src, size_t n) {
  for (size_t i = 0; i < n; i++)
    dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
  dst[n] = '\0';
}

/* The two forms a model name is looked up by: `full`, lowercased, and
 * `bare`, without what routes it: everything up to the last '/'
 * (OpenRouter's "openai/", "models/", Vertex's publisher path, a Bedrock
 * ARN), Bedrock's "[region.]" before a vendor and "anthropic.", the dots
 * of OpenRouter's Claude names ("claude-sonnet-4.5") and Azure's "gpt-35".
 * 0 when the name is empty or too long. */
static int model_forms(const char *model, char *full, char *bare) {
  size_t n = strlen(model);
  if (n == 0 || n >= MODEL_NAME_MAX)
    return 0;
  lower_copy(full, model, n);
  const char *b = strrchr(full, '/');
  b = b ? b + 1 : full;
  static const char *const regions[] = {
      "us.", "eu.", "apac.", "au.", "jp.", "ca.", "global.", "us-gov.", NULL};
  static const char *const vendors[] = {
      "anthropic.", "amazon.", "meta.", "mistral.", "cohere.",
      "deepseek.",  "openai.", "qwen.", "writer.",  NULL};
  for (size_t i = 0; regions[i]; i++) {
    size_t k = strlen(regions[i]);
    if (strncmp(b, regions[i], k) != 0)
      continue;
    for (size_t j = 0; vendors[j]; j++)
      if (strncmp(b + k, vendors[j], strlen(vendors[j])) == 0) {
        b += k;
        break;
      }
    break;
  }
  if (strncmp(b, "anthropic.", 10) == 0)
    b += 10;
  /* Azure spells GPT-3.5 "gpt-35-turbo" */
  if (strncmp(b, "gpt-35-", 7) == 0)
    snprintf(bare, MODEL_NAME_MAX, "gpt-3.5-%s", b + 7);
  else
    snprintf(bare, MODEL_NAME_MAX, "%s", b);
  /* "claude-3.5-sonnet" -> "claude-3-5-sonnet"; Claude 1 and 2 kept dots
   * in their own names */
  if (strncmp(bare, "claude-", 7) == 0 && strncmp(bare, "claude-1.", 9) &&
      strncmp(bare, "claude-2.", 9) && strncmp(bare, "claude-instant", 14)) {
    for (char *p = bare + 7; *p; p++)
      if (*p == '.' && p[-1] >= '0' && p[-1] <= '9' && p[1] >= '0' &&
          p[1] <= '9')
        *p = '-';
  }
  return 1;
}

/* ---- the built-in table, indexed once ----------------------------------- */

static struct rates base_rates(const struct at_price *p) {
  struct rates r = {p->input,
                    p->input_cached,
                    p->input_cache_creation,
                    NONE,
                    p->output,
                    p->output_reasoning,
                    NONE,
                    NONE};
  return r;
}

static void builtin_init(void) {
  size_t nb = N_OF(builtin_prices), nh = N_OF(hosted_prices);
  struct table *t = &builtin_tab;
  t->e = calloc(nb + nh, sizeof(*t->e));
  const struct tier **tiers = calloc(N_OF(price_tiers), sizeof(*tiers));
  if (!t->e || !tiers) {
    free(t->e);
    free(tiers);
    t->e = NULL;
    return; /* no built-in prices: costs are absent, not wrong */
  }
  size_t used = 0;
  for (size_t i = 0; i < nb + nh; i++) {
    struct entry *e = &t->e[i];
    e->seq = (int)i;
    if (i < nb) {
      e->p = builtin_prices[i];
    } else {
      e->p = hosted_prices[i - nb].p;
      e->provider = hosted_prices[i - nb].provider;
    }
    e->r = base_rates(&e->p);
    if (e->provider)
      continue; /* extras and tiers are for builtin_prices names */
    for (size_t j = 0; j < N_OF(price_extras); j++)
      if (!strcmp(price_extras[j].name, e->p.name)) {
        e->r.write_1h = price_extras[j].write_1h;
        e->r.audio_in = price_extras[j].audio_in;
        e->r.audio_out = price_extras[j].audio_out;
        break;
      }
    e->tiers = tiers + used;
    for (size_t j = 0; j < N_OF(price_tiers); j++)
      if (!strcmp(price_tiers[j].entry, e->p.name) && used < N_OF(price_tiers))
        tiers[used++] = &price_tiers[j];
    e->ntiers = (size_t)(tiers + used - e->tiers);
  }
  t->n = nb + nh;
  if (build_index(t) != 0)
    t->n = 0;
}

/* ---- user price file -------------------------------------------------- */

static char file_path[1024];
static char file_error[256];
static int lazy_done;
static pthread_mutex_t lazy_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bumped (under lazy_lock) whenever the file table may change: a lookup
 * remembered under an older generation is asked again. */
static unsigned prices_gen = 1;

static void free_tier(struct tier *t) {
  free((char *)t->name);
  free((char *)t->key);
  free((char *)t->values);
}

static void free_entry(struct entry *e) {
  free((char *)e->p.name);
  free((char *)e->p.date);
  free((char *)e->provider);
  if (e->tiers) {
    /* file tiers are one owned array; tiers[0] points at its start */
    struct tier *arr = (struct tier *)e->tiers[0];
    for (size_t i = 0; i < e->ntiers; i++)
      free_tier(&arr[i]);
    free(arr);
    free(e->tiers);
  }
}

static void free_file_table(void) {
  for (size_t i = 0; i < file_tab.n; i++)
    free_entry(&file_tab.e[i]);
  free(file_tab.e);
  free(file_tab.idx);
  memset(&file_tab, 0, sizeof file_tab);
}

void at_prices_reset(void) {
  pthread_mutex_lock(&lazy_lock);
  free_file_table();
  file_path[0] = '\0';
  file_error[0] = '\0';
  lazy_done = 0;
  __atomic_add_fetch(&prices_gen, 1, __ATOMIC_RELEASE);
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
  if (d)
    lower_copy(d, s, n);
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

static int read_rates(const cJSON *e, double per, struct rates *r) {
  return price_field(e, "input", per, &r->input) ||
         price_field(e, "input_cached", per, &r->cached) ||
         price_field(e, "input_cache_creation", per, &r->write) ||
         price_field(e, "input_cache_creation_1h", per, &r->write_1h) ||
         price_field(e, "output", per, &r->output) ||
         price_field(e, "output_reasoning", per, &r->reasoning) ||
         price_field(e, "input_audio", per, &r->audio_in) ||
         price_field(e, "output_audio", per, &r->audio_out);
}

static int short_name_ok(const char *s) {
  return s && s[0] && strlen(s) < FILE_NAME_MAX && !strchr(s, '|');
}

/* A tier's "when": at most one attribute (a string or an array of
 * strings) and "input_tokens_gt". NULL or what is wrong. */
static const char *parse_when(const cJSON *when, struct tier *t) {
  t->input_gt = -1;
  if (!cJSON_IsObject(when))
    return "a tier needs \"when\" (an object of conditions)";
  const cJSON *c;
  char values[FILE_TIER_VALUES_MAX * FILE_NAME_MAX];
  cJSON_ArrayForEach(c, when) {
    if (!strcmp(c->string, "input_tokens_gt")) {
      if (!cJSON_IsNumber(c) || !(c->valuedouble >= 0) ||
          c->valuedouble > 9e15 || c->valuedouble != floor(c->valuedouble))
        return "\"input_tokens_gt\" must be a whole number >= 0";
      t->input_gt = (long long)c->valuedouble;
      continue;
    }
    if (t->key)
      return "a tier has at most one attribute condition";
    if (!short_name_ok(c->string))
      return "attribute name empty or too long";
    values[0] = '\0';
    int nv = 0;
    const cJSON *item = cJSON_IsArray(c) ? c->child : c;
    for (; item; item = cJSON_IsArray(c) ? item->next : NULL) {
      if (!cJSON_IsString(item) || !short_name_ok(item->valuestring) ||
          ++nv > FILE_TIER_VALUES_MAX)
        return "attribute values must be 1 to 8 short strings";
      if (values[0])
        strcat(values, "|");
      strcat(values, item->valuestring);
    }
    if (nv == 0)
      return "attribute values must be 1 to 8 short strings";
    t->key = strdup(c->string);
    t->values = lower_dup(values);
    if (!t->key || !t->values)
      return "out of memory";
  }
  if (!t->key && t->input_gt < 0)
    return "a tier needs at least one condition";
  return NULL;
}

static const char *parse_tiers(const cJSON *arr, double per, struct entry *e) {
  if (!arr)
    return NULL;
  int n = cJSON_GetArraySize(arr);
  if (!cJSON_IsArray(arr) || n > FILE_TIERS_MAX)
    return "\"tiers\" must be an array of at most 8 tiers";
  if (n == 0)
    return NULL;
  struct tier *ts = calloc((size_t)n, sizeof(*ts));
  e->tiers = calloc((size_t)n, sizeof(*e->tiers));
  if (!ts || !e->tiers) {
    free(ts);
    free(e->tiers);
    e->tiers = NULL;
    return "out of memory";
  }
  for (int i = 0; i < n; i++)
    e->tiers[i] = &ts[i];
  e->ntiers = (size_t)n;
  int i = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, arr) {
    struct tier *tt = &ts[i++];
    if (!cJSON_IsObject(t))
      return "a tier must be an object";
    const char *name = at_json_str(t, "name");
    if (!short_name_ok(name))
      return "a tier needs a \"name\" (a short string)";
    if (!(tt->name = strdup(name)))
      return "out of memory";
    const char *why = parse_when(at_json_get(t, "when"), tt);
    if (why)
      return why;
    if (read_rates(t, per, &tt->r))
      return "prices must be numbers >= 0";
  }
  return NULL;
}

/* Validate one file entry; NULL or what is wrong with it (then whatever
 * was allocated is freed). */
static const char *parse_file_entry(const cJSON *e, struct entry *fe) {
  memset(fe, 0, sizeof(*fe));
  if (!cJSON_IsObject(e))
    return "not an object";
  const char *model = at_json_str(e, "model");
  const char *match = at_json_str(e, "match");
  if (!!model == !!match)
    return "needs exactly one of \"model\" or \"match\" (a string)";
  const char *name = model ? model : match;
  if (!name[0] || strlen(name) >= MODEL_NAME_MAX)
    return "model name empty or too long";
  const cJSON *prov = at_json_get(e, "provider");
  if (prov && (!cJSON_IsString(prov) || !prov->valuestring[0] ||
               strlen(prov->valuestring) >= PROVIDER_MAX))
    return "\"provider\" must be a provider name";
  double per = 1;
  const cJSON *perv = at_json_get(e, "per");
  if (perv) {
    if (!cJSON_IsNumber(perv) || !(perv->valuedouble >= 1) ||
        !isfinite(perv->valuedouble))
      return "\"per\" must be a number >= 1 (tokens the prices are for)";
    per = perv->valuedouble;
  }
  if (read_rates(e, per, &fe->r))
    return "prices must be numbers >= 0";
  if (fe->r.input < 0 && fe->r.output < 0)
    return "needs at least \"input\" or \"output\"";
  const cJSON *date = at_json_get(e, "date");
  if (date && !cJSON_IsString(date))
    return "\"date\" must be a string";
  fe->is_prefix = match != NULL;
  fe->p.name = lower_dup(name);
  fe->p.date = strdup(date ? date->valuestring : "");
  fe->provider = prov ? lower_dup(prov->valuestring) : NULL;
  const char *why = NULL;
  if (!fe->p.name || !fe->p.date || (prov && !fe->provider))
    why = "out of memory";
  if (!why)
    why = parse_tiers(at_json_get(e, "tiers"), per, fe);
  if (why) {
    free_entry(fe);
    memset(fe, 0, sizeof(*fe));
    return why;
  }
  fe->p.input = fe->r.input;
  fe->p.input_cached = fe->r.cached;
  fe->p.input_cache_creation = fe->r.write;
  fe->p.output = fe->r.output;
  fe->p.output_reasoning = fe->r.reasoning;
  return NULL;
}

static int load_locked(const char *path, char *err, size_t errlen) {
  free_file_table();
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
  file_tab.e = calloc((size_t)(n ? n : 1), sizeof(*file_tab.e));
  if (!file_tab.e) {
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
    struct entry *fe = &file_tab.e[file_tab.n];
    const char *why = parse_file_entry(e, fe);
    if (why) {
      if (!bad)
        snprintf(err, errlen, "%s: entry %d: %s", path, index, why);
      bad = 1;
    } else {
      fe->seq = index;
      fe->from_file = 1;
      file_tab.n++;
    }
    index++;
  }
  cJSON_Delete(root);
  if (build_index(&file_tab) != 0) {
    snprintf(err, errlen, "%s: out of memory", path);
    free_file_table();
    return -1;
  }
  return bad ? -1 : (int)file_tab.n;
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
  __atomic_add_fetch(&prices_gen, 1, __ATOMIC_RELEASE);
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
    __atomic_add_fetch(&prices_gen, 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&lazy_lock);
}

const char *at_prices_error(void) {
  lazy_load();
  return file_error[0] ? file_error : NULL;
}

/* ---- lookup ----------------------------------------------------------- */

static const struct entry *
lookup_uncached(const char *model, const char *provider, int *from_file) {
  char full[MODEL_NAME_MAX], bare[MODEL_NAME_MAX], prov[PROVIDER_MAX];
  *from_file = 0;
  if (!model || !model_forms(model, full, bare))
    return NULL;
  prov[0] = '\0';
  if (provider && strlen(provider) < sizeof prov)
    lower_copy(prov, provider, strlen(provider));
  lazy_load();
  pthread_once(&builtin_once, builtin_init);
  const char *forms[2] = {full, strcmp(full, bare) ? bare : NULL};
  const struct table *tabs[2] = {&file_tab, &builtin_tab};
  for (int ti = 0; ti < 2; ti++) {
    const struct table *t = tabs[ti];
    const char *scopes[2] = {prov[0] && t->scoped ? prov : NULL, ""};
    for (int pass = 0; pass < 2; pass++) { /* names, then file prefixes */
      if (pass == 1 && ti == 1)
        break;
      for (int si = 0; si < 2; si++) {
        if (!scopes[si])
          continue;
        for (int fi = 0; fi < 2; fi++) {
          if (!forms[fi])
            continue;
          const struct entry *e = pass == 0
                                      ? find(t, scopes[si], forms[fi])
                                      : find_prefix(t, scopes[si], forms[fi]);
          if (e) {
            *from_file = ti == 0;
            return e;
          }
        }
      }
    }
  }
  return NULL;
}

/* The last answer, per thread: a process asks for the same model over and
 * over, and the search (name forms, two tables, provider scopes) cost
 * more than the rest of the cost computation. Keyed by the exact model
 * and provider strings and by prices_gen. */
static __thread struct {
  unsigned gen;
  char model[MODEL_NAME_MAX], provider[PROVIDER_MAX];
  const struct entry *e;
  int from_file;
} memo;

static const struct entry *lookup(const char *model, const char *provider,
                                  int *from_file) {
  int ff = 0;
  if (!model) {
    if (from_file)
      *from_file = 0;
    return NULL;
  }
  const char *pv = provider ? provider : "";
  size_t ml = strlen(model), pl = strlen(pv);
  unsigned gen = __atomic_load_n(&prices_gen, __ATOMIC_ACQUIRE);
  if (memo.gen == gen && ml < sizeof memo.model && pl < sizeof memo.provider &&
      memcmp(memo.model, model, ml + 1) == 0 &&
      memcmp(memo.provider, pv, pl + 1) == 0) {
    if (from_file)
      *from_file = memo.from_file;
    return memo.e;
  }
  const struct entry *e = lookup_uncached(model, provider, &ff);
  if (from_file)
    *from_file = ff;
  /* Remembered only under the generation read before the search began
   * (and after lazy_load ran in it): a reload during the search makes
   * the next call search again. */
  if (ml < sizeof memo.model && pl < sizeof memo.provider) {
    memcpy(memo.model, model, ml + 1);
    memcpy(memo.provider, pv, pl + 1);
    memo.e = e;
    memo.from_file = ff;
    memo.gen = gen;
  }
  return e;
}

const struct at_price *
at_price_lookup_for(const char *model, const char *provider, int *from_file) {
  const struct entry *e = lookup(model, provider, from_file);
  return e ? &e->p : NULL;
}

const struct at_price *at_price_lookup(const char *model, int *from_file) {
  return at_price_lookup_for(model, NULL, from_file);
}

/* ---- cost ------------------------------------------------------------- */

/* Round to a millionth of a micro-dollar so that 9 tokens at $0.15/M
 * prints as 1.35e-06, not 1.3500000000000001e-06. */
static double round_usd(double c) {
  if (!(c >= 0) || c > 9e6)
    return c;
  return (double)(long long)(c * 1e12 + 0.5) / 1e12;
}

/* v is one of the '|'-separated values (any case). */
static int value_in(const char *v, const char *values) {
  size_t n = strlen(v);
  for (const char *p = values; p && *p;) {
    const char *bar = strchr(p, '|');
    size_t k = bar ? (size_t)(bar - p) : strlen(p);
    if (k == n) {
      size_t i = 0;
      while (i < n && (v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]) == p[i])
        i++;
      if (i == n)
        return 1;
    }
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

static int tier_holds(const struct tier *t, const struct at_cost_query *q,
                      int64_t input_total) {
  if (!t->key && t->input_gt < 0)
    return 0; /* a tier without conditions never applies */
  if (t->key) {
    const char *v = at_json_str(q->metadata, t->key);
    if (!v)
      v = at_json_str(q->model_parameters, t->key);
    if (!v || !value_in(v, t->values))
      return 0;
  }
  return t->input_gt < 0 || input_total > t->input_gt;
}

static double pick(double tier, double base) {
  return tier >= 0 ? tier : base;
}

static struct rates merge(const struct rates *t, const struct rates *b) {
  struct rates r = {
      pick(t->input, b->input),       pick(t->cached, b->cached),
      pick(t->write, b->write),       pick(t->write_1h, b->write_1h),
      pick(t->output, b->output),     pick(t->reasoning, b->reasoning),
      pick(t->audio_in, b->audio_in), pick(t->audio_out, b->audio_out)};
  return r;
}

/* The price of one usage_details bucket; < 0 when it has none. */
static double bucket_price(const struct rates *r, const char *k) {
  if (!strcmp(k, "input"))
    return r->input;
  if (!strcmp(k, "input_cached_tokens"))
    return pick(r->cached, r->input);
  if (!strcmp(k, "input_cache_creation"))
    return pick(r->write, r->input);
  if (!strcmp(k, "input_cache_creation_1h"))
    return r->write_1h;
  if (!strcmp(k, "input_audio_tokens"))
    return r->audio_in;
  if (!strcmp(k, "output"))
    return r->output;
  if (!strcmp(k, "output_reasoning_tokens"))
    return pick(r->reasoning, r->output);
  if (!strcmp(k, "output_audio_tokens"))
    return r->audio_out;
  return NONE;
}

static void note_unpriced(struct at_cost *out, const char *key) {
  size_t len = strlen(out->unpriced);
  snprintf(out->unpriced + len, sizeof out->unpriced - len, "%s%s",
           len ? "," : "", key);
}

int at_cost_compute(const struct at_cost_query *q, struct at_cost *out) {
  out->details = NULL;
  out->source[0] = out->tier[0] = out->unpriced[0] = '\0';
  int from_file = 0;
  const struct entry *e = lookup(q->model, q->provider, &from_file);
  if (!e || !cJSON_IsObject(q->usage_details))
    return 0;

  /* Tiers look at all input: every bucket whose name starts "input". */
  int64_t input_total = 0, n;
  const cJSON *b;
  cJSON_ArrayForEach(b, q->usage_details) {
    if (b->string && !strncmp(b->string, "input", 5) && at_json_count(b, &n))
      input_total += n;
  }
  struct rates r = e->r;
  const char *tier = "standard";
  for (size_t i = 0; i < e->ntiers; i++)
    if (tier_holds(e->tiers[i], q, input_total)) {
      r = merge(&e->tiers[i]->r, &e->r);
      tier = e->tiers[i]->name;
      break;
    }

  cJSON *cost = cJSON_CreateObject();
  if (!cost)
    return -1;
  double total = 0;
  int any = 0;
  cJSON_ArrayForEach(b, q->usage_details) {
    if (!b->string || !strcmp(b->string, "total") || !at_json_count(b, &n))
      continue;
    double price = bucket_price(&r, b->string);
    if (price < 0) {
      if (n > 0)
        note_unpriced(out, b->string);
      continue;
    }
    double c = round_usd((double)n * price);
    if (!cJSON_AddNumberToObject(cost, b->string, c)) {
      cJSON_Delete(cost);
      return -1;
    }
    total += c;
    any = 1;
  }
  if (!any) {
    cJSON_Delete(cost);
    out->unpriced[0] = '\0';
    return 0;
  }
  if (!cJSON_AddNumberToObject(cost, "total", round_usd(total))) {
    cJSON_Delete(cost);
    return -1;
  }
  /* The source text is the same for every call the memo answers. */
  static __thread struct {
    const struct entry *e;
    int from_file;
    unsigned gen;
    char text[AT_COST_SOURCE_MAX];
  } src;
  unsigned gen = __atomic_load_n(&prices_gen, __ATOMIC_ACQUIRE);
  if (src.e != e || src.from_file != from_file || src.gen != gen) {
    const char *pv = e->provider ? e->provider : "";
    const char *sep = e->provider ? ":" : "";
    if (from_file)
      snprintf(src.text, sizeof src.text, "file:%s#%s%s%s", file_path, pv, sep,
               e->p.name);
    else
      snprintf(src.text, sizeof src.text, "builtin:%s%s%s@%s", pv, sep,
               e->p.name, e->p.date);
    src.e = e;
    src.from_file = from_file;
    src.gen = gen;
  }
  memcpy(out->source, src.text, sizeof out->source);
  size_t tl = strlen(tier);
  if (tl >= sizeof out->tier)
    tl = sizeof out->tier - 1;
  memcpy(out->tier, tier, tl);
  out->tier[tl] = '\0';
  out->details = cost;
  return 1;
}

int at_price_cost(const char *model, const cJSON *usage_details,
                  cJSON **cost_out, char *source, size_t source_len) {
  struct at_cost_query q = {model, NULL, usage_details, NULL, NULL};
  struct at_cost c;
  int r = at_cost_compute(&q, &c);
  *cost_out = c.details;
  if (r == 1 && source && source_len)
    snprintf(source, source_len, "%s", c.source);
  return r;
}
