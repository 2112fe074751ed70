/* autotrace ls: the traces in the spool, newest first, one line each. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "fmt.h"
#include "jsonout.h"
#include "spool/spool.h"
#include "store.h"
#include "term.h"

static const char ls_usage[] =
    "usage: autotrace ls [-n N] [--json] [--color=WHEN] [--spool DIR]\n"
    "\n"
    "List traces, newest first: id, name, start (local time), duration,\n"
    "observations, tokens, cost and status (ERROR, WARN, open: a process is\n"
    "still running, incomplete: a process died before closing its spans,\n"
    "OK).\n"
    "\n"
    "  -n N           at most N traces (default 20; 0 for all)\n"
    "  --json         a JSON array with full trace ids\n"
    "  --color=WHEN   auto (default), always or never\n"
    "  --spool DIR    read this spool instead of the default\n";

#define NAME_COLS 24

static void cell(FILE *out, const char *s, size_t width, int right) {
  size_t n = strlen(s), fit = term_fit(s, n, width);
  size_t cols = term_cols(s, fit);
  char clean[256];
  size_t k = fit < sizeof clean - 1 ? fit : sizeof clean - 1;
  for (size_t i = 0; i < k; i++)
    clean[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
  clean[k] = '\0';
  if (right)
    fprintf(out, "%*s%s", (int)(width - cols), "", clean);
  else
    fprintf(out, "%s%*s", clean, (int)(width - cols), "");
}

void ls_render(FILE *out, const struct trace_set *ts, size_t limit, int color) {
  size_t n = ts->ntraces;
  if (limit && limit < n)
    n = limit;
  fprintf(out, "%s%-12s  %-*s  %-19s  %9s  %5s  %9s  %9s  %s%s\n",
          term_sgr(color, ST_DIM), "TRACE", NAME_COLS, "NAME", "START",
          "DURATION", "OBS", "TOKENS", "COST", "STATUS",
          term_sgr(color, ST_RESET));
  for (size_t i = 0; i < n; i++) {
    const struct trace *t = &ts->traces[i];
    char b[FMT_BUF], cost[FMT_BUF + 4];
    fprintf(out, "%.12s  ", t->id);
    cell(out, t->name ? t->name : "-", NAME_COLS, 0);
    fprintf(out, "  %-19s  ",
            t->start_ns ? fmt_local_time(t->start_ns, b, sizeof b) : "-");
    cell(out,
         t->start_ns && t->end_ns >= t->start_ns
             ? fmt_duration(t->end_ns - t->start_ns, b, sizeof b)
             : "-",
         9, 1);
    fprintf(out, "  %5zu  ", t->nobs);
    cell(out, t->n_with_tokens ? fmt_count(t->tokens_total, b, sizeof b) : "-",
         9, 1);
    if (t->n_priced)
      snprintf(cost, sizeof cost, "%s%s", t->n_unpriced ? "\xe2\x89\xa5" : "",
               fmt_cost(t->cost_usd, b, sizeof b));
    else
      snprintf(cost, sizeof cost, "-");
    fputs("  ", out);
    cell(out, cost, 9, 1);
    const char *st = trace_status(t);
    enum term_style ss = strcmp(st, "ERROR") == 0 ? ST_RED
                         : strcmp(st, "OK") == 0  ? ST_GREEN
                                                  : ST_YELLOW;
    fprintf(out, "  %s%s%s\n", term_sgr(color, ss), st,
            term_sgr(color, ST_RESET));
  }
  if (n < ts->ntraces)
    fprintf(out, "%s(%zu more; -n 0 shows all)%s\n", term_sgr(color, ST_DIM),
            ts->ntraces - n, term_sgr(color, ST_RESET));
}

int cmd_ls(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"color", required_argument, NULL, 'c'},
                                       {"colour", required_argument, NULL, 'c'},
                                       {"spool", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int json = 0;
  size_t limit = 20;
  enum color_mode cm = COLOR_AUTO;
  const char *spool_opt = NULL;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
    switch (c) {
    case 'n': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (*optarg == '\0' || *end || v < 0) {
        cli_err("-n takes a number of traces, not '%s'", optarg);
        return CLI_USAGE;
      }
      limit = (size_t)v;
      break;
    }
    case 'j':
      json = 1;
      break;
    case 'c':
      if (term_parse_color(optarg, &cm) != 0) {
        cli_err("--color takes auto, always or never, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 's':
      spool_opt = optarg;
      break;
    case 'h':
      fputs(ls_usage, stdout);
      return CLI_OK;
    default:
      fputs(ls_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (optind < argc) {
    fputs(ls_usage, stderr);
    return CLI_USAGE;
  }

  char dir[4096];
  struct spool *sp;
  if (cli_spool_dir(spool_opt, dir, sizeof dir) != 0)
    return CLI_FAIL;
  int rc = cli_spool_open(dir, &sp);
  if (rc < 0)
    return CLI_FAIL;
  struct trace_set ts;
  trace_set_init(&ts);
  if (rc == 0) {
    rc = traces_load(sp, NULL, &ts);
    spool_close(sp);
    if (rc != 0) {
      trace_set_free(&ts);
      return CLI_FAIL;
    }
  }
  trace_set_warn_skipped(&ts);

  int status = CLI_OK;
  if (json) {
    cJSON *arr = cJSON_CreateArray();
    size_t n = limit && limit < ts.ntraces ? limit : ts.ntraces;
    for (size_t i = 0; arr && i < n; i++)
      cJSON_AddItemToArray(arr, trace_summary_json(&ts.traces[i]));
    if (!arr || json_write(stdout, arr, 1) != 0)
      status = CLI_FAIL;
    cJSON_Delete(arr);
  } else if (ts.ntraces == 0) {
    cli_err("%s", CLI_NO_TRACES);
  } else {
    ls_render(stdout, &ts, limit, term_color_enabled(cm, stdout));
  }
  trace_set_free(&ts);
  if (fflush(stdout) != 0)
    status = CLI_FAIL;
  return status;
}
