/* azure: what an Azure OpenAI URL says beyond the model. */
#ifndef AT_AZURE_H
#define AT_AZURE_H

#include "obs.h"

/* Azure OpenAI (*.openai.azure.com, *.cognitiveservices.azure.com,
 * *.services.ai.azure.com, or any host when the path holds
 * /openai/deployments/): the deployment in the path is a name the user
 * chose, not the model. Sets metadata.azure_deployment and
 * metadata.api_version (the api-version query parameter) when the URL has
 * them, and, when the request body named no model, request_model to the
 * model the response names. Call after the bodies are parsed; does nothing
 * for other URLs. */
void at_azure_annotate(struct at_obs *o, const char *provider);

/* The provider name for an Azure URL: "azure.ai.inference" for the Azure
 * AI model inference API (/models/... on an Azure host), else provider
 * unchanged. */
const char *at_azure_provider(const char *provider, const char *url);

#endif
