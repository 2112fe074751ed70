/* retrievers: helpers shared by the retriever parsers (vector databases,
 * search APIs, rerankers), which turn a query and its results into a
 * `retriever` observation (docs/record-schema.md, Retrievals):
 *
 *   input    {"query": "...", "top_k": n, "filter": {...}, ...}
 *   output   {"documents": [{"id", "score" | "distance", "title", "url",
 *             "text", "metadata"}], ...}
 *   metadata.data_source_id   the index, collection or class queried
 *                             (the record's name is "retrieval {it}")
 *
 * Vectors are never kept (only their dimension), texts are cut to
 * AT_DOC_TEXT_MAX bytes, at most AT_DOCS_MAX documents are kept, and
 * nothing is ever copied from a request wholesale: each service's
 * parameters are picked by name, so that a key sent in the body (Tavily's
 * api_key) cannot reach the record. */
#ifndef AT_RETRIEVERS_H
#define AT_RETRIEVERS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "obs.h"

#define AT_DOC_TEXT_MAX 2000 /* bytes of text kept per document */
#define AT_DOCS_MAX 100      /* documents kept per answer */

/* o->input as an empty object (created once); NULL on allocation
 * failure. */
cJSON *at_ret_input(struct at_obs *o);

/* input[key] = s, cut to AT_DOC_TEXT_MAX (no-op for NULL). */
void at_ret_input_str(struct at_obs *o, const char *key, const char *s);

/* input[key] = a bounded copy of v (see at_ret_copy); no-op for NULL. */
void at_ret_input_copy(struct at_obs *o, const char *key, const cJSON *v);

/* input[key] = n. */
void at_ret_input_num(struct at_obs *o, const char *key, double n);

/* model_parameters[key] = request[key] for each listed key present. */
void at_ret_params(struct at_obs *o, const cJSON *req, const char *const *keys);

/* metadata.data_source_id = s[0..n) (cleaned, at most 200 bytes). */
void at_ret_source(struct at_obs *o, const char *s, size_t n);

/* o->output = {"documents": []}; returns the documents array (the same
 * one on later calls), NULL on allocation failure. */
cJSON *at_ret_docs(struct at_obs *o);

/* Append an empty document; NULL once AT_DOCS_MAX are kept (the rest is
 * counted in output.documents_omitted) or on allocation failure. */
cJSON *at_ret_doc(struct at_obs *o, cJSON *docs);

/* doc.id = v: a string as is, a number as its decimal text. */
void at_ret_doc_id(struct at_obs *o, cJSON *doc, const cJSON *v);

/* doc[key] = v when v is a number (score, distance, certainty). */
void at_ret_doc_num(struct at_obs *o, cJSON *doc, const char *key,
                    const cJSON *v);

/* doc[key] = s cut to AT_DOC_TEXT_MAX bytes on a character boundary
 * (then doc.text_truncated = true for "text"); no-op for NULL. */
void at_ret_doc_str(struct at_obs *o, cJSON *doc, const char *key,
                    const char *s);

/* The fields of a stored object (Pinecone metadata, Qdrant payload,
 * Weaviate properties, a search hit): text (text, content, page_content,
 * pageContent, chunk, document, body), title and url (url, link, uri)
 * are lifted into the document unless already set; everything else, but
 * the keys in `skip` (NULL-terminated, may be NULL), goes to
 * doc.metadata as a bounded copy. */
void at_ret_doc_fields(struct at_obs *o, cJSON *doc, const cJSON *obj,
                       const char *const *skip);

/* A bounded deep copy: strings cut to AT_DOC_TEXT_MAX, arrays of more
 * than 16 numbers (vectors) replaced by {"dimensions": n}, at most 64
 * members per object or array and 6 levels. NULL on allocation failure
 * or for NULL. */
cJSON *at_ret_copy(const cJSON *v);

/* Dimension of a query vector: an array of numbers, or {"values": [...]}
 * / {"vector": [...]} (named vectors), or the placeholder that
 * at_json_devector() left for one; -1 when v is none of these. */
int at_ret_vector_dims(const cJSON *v);

/* The path segment right after the last `marker` in the exchange URL's
 * path (e.g. the collection of ".../collections/{c}/points/search" for
 * marker "/collections/"). Returns 1 and sets *seg, *len; 0 when the
 * marker is absent or followed by nothing. */
int at_ret_path_segment(const struct at_obs *o, const char *marker,
                        const char **seg, size_t *len);

#endif
