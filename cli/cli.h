/* cli: the subcommands of `autotrace`, one file each (cli/cmd_*.c), and
 * the pieces of them the unit tests drive directly.
 *
 * Every command takes its own argv (argv[0] is the command's name), prints
 * its result on stdout and its complaints on stderr, and returns the exit
 * status: CLI_OK, CLI_FAIL or CLI_USAGE (diag.h). */
#ifndef AT_CLI_CLI_H
#define AT_CLI_CLI_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "traces.h"

int cmd_run(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_parse(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_doctor(int argc, char **argv);

/* ---- run ---- */

/* Where the shim is, given the folder of the autotrace executable: beside
 * it (the build tree), else <dir>/../lib/autotrace (the installed layout).
 * Writes the path into out and returns 0, or returns -1 and lists the
 * places it looked in `looked`. */
int run_find_shim(const char *exe_dir, char *out, size_t outlen, char *looked,
                  size_t looked_len);

/* The LD_PRELOAD value that loads shim first and keeps the entries that
 * were there (separated by ':' or spaces); unchanged when shim is already
 * one of them. Returns a malloc()ed string. */
char *run_preload_value(const char *shim, const char *existing);

/* What a run captured, for the one-line summary. */
struct run_totals {
  size_t traces, generations, embeddings;
  uint64_t tokens;
  size_t with_tokens; /* LLM calls that reported usage */
  double cost_usd;
  size_t priced, unpriced;
  int64_t llm_ns;
  size_t incomplete; /* spans left open by processes that died */
};
void run_totals_add(struct run_totals *rt, const struct trace *t);

/* "autotrace: 1 trace, 2 generations, 1,234 tokens, $0.0042 (12 ms in LLM
 * calls) — see: autotrace show 0af7651916cd" (no newline). spool_opt, when
 * given, is repeated in the hint. */
void run_summary_line(const struct run_totals *rt, const char *trace_id,
                      const char *spool_opt, char *buf, size_t len);

/* ---- show ---- */

/* The human view of one trace: a header and an indented tree. now_ns
 * dates running spans. */
void show_render(FILE *out, const struct trace *t, int color, int64_t now_ns);

/* The trace as JSON: its summary and `observations`, the root records, each
 * with its children nested under `children`. */
cJSON *show_json(const struct trace *t);

/* The summary fields show_json and `ls --json` share. */
cJSON *trace_summary_json(const struct trace *t);

/* ---- ls ---- */

void ls_render(FILE *out, const struct trace_set *ts, size_t limit, int color);

/* ---- stats ---- */

struct stats;
struct spool;
/* Everything `autotrace stats` reports, gathered from an open spool (sp may
 * be NULL: an empty spool). Returns a JSON object; NULL on failure. */
cJSON *stats_collect(struct spool *sp, const char *dir);
void stats_render(FILE *out, const cJSON *stats, int color);

/* ---- parse ---- */

/* Guess the API from the bodies when no URL was given: the placeholder URL
 * of the most likely endpoint (static storage). */
const char *parse_infer_url(const char *req, size_t req_len, const char *resp,
                            size_t resp_len);

/* Response headers from a file's text, either "Name: value" lines (an
 * HTTP status line is allowed) or a JSON object {"name": "value" | [..]},
 * as the "Name: value\r\n" block an exchange carries, preceded by the
 * status line "HTTP/1.1 <status>". Returns a malloc()ed string (length in
 * *out_len), or NULL when the text is neither form. */
char *parse_headers_block(const char *text, size_t len, int status,
                          size_t *out_len);

#endif
