/* harness: drive the nesting engine the way a program would, and render
 * what it wrote as text trees that the tests compare exactly.
 *
 * A "sim" is one conversation as a client keeps it: a history of messages
 * in the record schema's shape, a thread, and a clock shared by every sim
 * of a test, so that calls interleave as they would in a real program. */
#ifndef AT_NEST_HARNESS_H
#define AT_NEST_HARNESS_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "nest/nest.h"

#define MS 1000000LL

struct world {
  struct nest *n;
  int64_t now;    /* ns */
  cJSON *records; /* what the sink got, in order */
  cJSON *open;    /* open markers: id -> marker */
  unsigned opened, closed;
};

void world_init(struct world *w, int pinned, const char *program);
/* The sink that records into w (for a world made with other options). */
void test_sink(struct world *w, struct nest_sink *s);
void world_free(struct world *w);
/* Render every trace, oldest first: "trace N\n" then the tree, two spaces
 * of indent per level, one "type name" per line; siblings by start time,
 * then by the order they were written. */
char *world_render(struct world *w);
/* The record named name (first one), or NULL. */
cJSON *world_find(struct world *w, const char *name);
/* Check the invariants every output must keep: each record's parent is a
 * record of the same trace (or, for a root, absent or the given external
 * id), a parent's time covers its child's, no marker is left open. */
void world_check(struct world *w, const char *external_parent);

struct sim {
  struct world *w;
  int tid;
  cJSON *history;
  struct nest_frame frames[8];
  unsigned nframes;
};

void sim_init(struct sim *s, struct world *w, int tid);
void sim_free(struct sim *s);
/* Frames for the next calls, outermost first, NULL-terminated. */
void sim_frames(struct sim *s, ...);
void sim_user(struct sim *s, const char *text);
/* A call of the model named label (the record's name) taking ms, whose
 * answer is text or a call of tool(s): "name:id:{args}" (a NULL-ended
 * list after text). The answer joins the history. */
cJSON *sim_llm(struct sim *s, const char *label, int ms, const char *text, ...);
/* A failed call (HTTP 500): nothing joins the history. */
void sim_llm_fail(struct sim *s, const char *label, int ms);
/* A tool result joins the history; time passes (the tool ran). */
void sim_tool_result(struct sim *s, const char *id, const char *result, int ms);
/* Time passes. */
void sim_wait(struct world *w, int ms);
/* A message in the record schema. */
cJSON *msg_text(const char *role, const char *text);

#endif
