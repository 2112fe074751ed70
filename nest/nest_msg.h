/* nest_msg: what the nesting engine needs to know about a chat message.
 *
 * Clients re-serialise their history between requests (a string content
 * becomes a list of blocks, tool arguments are re-encoded, keys reordered,
 * reasoning dropped), so messages are compared through a hash of their
 * normalised form rather than byte by byte: the role (developer counts as
 * system), the text of each text part (trimmed; empty parts ignored), each
 * tool call's id, name and arguments, and each tool result's id and
 * content. Reasoning parts are left out: clients often do not send them
 * back. JSON values hash the same whatever their key order.
 *
 * Prefix hashes chain those message hashes, so "does request N+1 start
 * with request N's messages plus N's answer" is one table lookup per
 * prefix: O(messages) per request. */
#ifndef AT_NEST_MSG_H
#define AT_NEST_MSG_H

#include <cjson/cJSON.h>
#include <stdint.h>

/* Hash of one normalised message (an object of the record schema). */
uint64_t nest_msg_hash(const cJSON *msg);

/* The prefix hash after appending a message hash to prefix hash h (start
 * with NEST_PREFIX_SEED). */
#define NEST_PREFIX_SEED 0x6a09e667f3bcc909ull
uint64_t nest_prefix_next(uint64_t h, uint64_t msg_hash);

/* Hash of any JSON value, independent of object key order. */
uint64_t nest_json_hash(const cJSON *v);

/* Hash of a string. */
uint64_t nest_str_hash(const char *s);

/* The message's role ("" when none). */
const char *nest_msg_role(const cJSON *msg);

/* 1 when the message is a tool result: role tool, or any message holding a
 * tool_call_response part (Anthropic's user message of tool_result blocks,
 * Gemini's functionResponse). */
int nest_msg_is_tool_result(const cJSON *msg);

/* 1 when the message is a new question: role user, some non-empty text,
 * and no tool result in it. */
int nest_msg_is_user_text(const cJSON *msg);

/* 1 when the message is the model's (role assistant or model). */
int nest_msg_is_assistant(const cJSON *msg);

#endif
