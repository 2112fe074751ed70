/* autotrace export: traces as jsonl records or as the OTLP/HTTP JSON body
 * the uploader sends. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "jsonout.h"
#include "otlp.h"
#include "spool/spool.h"
#include "store.h"

static const char export_usage[] =
    "usage: autotrace export --format otlp|jsonl [TRACE|last|--all] "
    "[--spool DIR]\n"
    "\n"
    "Print traces for another tool.\n"
    "\n"
    "  --format jsonl  one observation record per line, in the documented\n"
    "                  schema (docs/record-schema.md); spans whose process\n"
    "                  died before closing them come closed, incomplete: true\n"
    "  --format otlp   the OTLP/HTTP JSON ExportTraceServiceRequest that\n"
    "                  `autotrace upload` sends (gen_ai.* and langfuse.*\n"
    "                  attributes); service.name is $OTEL_SERVICE_NAME when\n"
    "                  set\n"
    "  TRACE           a trace id or unique prefix; default: last\n"
    "  --all           every trace in the spool\n"
    "  --spool DIR     read this spool instead of the default\n"
    "\n"
    "Spans still running are left out: an exported span is final.\n";

enum export_format { FMT_NONE = 0, FMT_JSONL, FMT_OTLP };

/* The observations to export, in pre-order per trace (parents before
 * children), running spans left out. */
static const cJSON **collect(const struct trace_set *ts, size_t *n) {
  size_t total = 0;
  for (size_t i = 0; i < ts->ntraces; i++)
    total += ts->traces[i].nobs;
  const cJSON **recs = malloc((total ? total : 1) * sizeof *recs);
  if (!recs)
    return NULL;
  size_t k = 0;
  /* Oldest trace first: an export reads like a log. */
  for (size_t i = ts->ntraces; i-- > 0;) {
    const struct trace *t = &ts->traces[i];
    for (size_t j = 0; j < t->nobs; j++) {
      const struct obs *o = &t->obs[t->order[j]];
      if (o->state != OBS_RUNNING)
        recs[k++] = o->rec;
    }
  }
  *n = k;
  return recs;
}

int cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"all", no_argument, NULL, 'a'},
                                       {"spool", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  enum export_format fmt = FMT_NONE;
  int all = 0;
  const char *spool_opt = NULL;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
    switch (c) {
    case 'f':
      if (strcmp(optarg, "jsonl") == 0)
        fmt = FMT_JSONL;
      else if (strcmp(optarg, "otlp") == 0)
        fmt = FMT_OTLP;
      else {
        cli_err("--format takes otlp or jsonl, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 'a':
      all = 1;
      break;
    case 's':
      spool_opt = optarg;
      break;
    case 'h':
      fputs(export_usage, stdout);
      return CLI_OK;
    default:
      fputs(export_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (fmt == FMT_NONE) {
    cli_err("export needs --format otlp or --format jsonl");
    fputs(export_usage, stderr);
    return CLI_USAGE;
  }
  if (argc - optind > 1 || (all && optind < argc)) {
    fputs(export_usage, stderr);
    return CLI_USAGE;
  }
  const char *which = optind < argc ? argv[optind] : "last";

  char dir[4096];
  struct spool *sp;
  if (cli_spool_dir(spool_opt, dir, sizeof dir) != 0)
    return CLI_FAIL;
  int rc = cli_spool_open(dir, &sp);
  if (rc < 0)
    return CLI_FAIL;
  struct trace_set ts;
  trace_set_init(&ts);
  if (rc > 0) {
    /* Nothing captured yet: an empty export is a valid answer to --all,
     * but there is no "last" trace to name. */
    if (!all) {
      cli_err("%s", CLI_NO_TRACES);
      return CLI_FAIL;
    }
  } else {
    rc = all ? traces_load(sp, NULL, &ts) : traces_load_one(sp, which, &ts);
    spool_close(sp);
    if (rc != 0) {
      trace_set_free(&ts);
      return CLI_FAIL;
    }
  }
  trace_set_warn_skipped(&ts);

  size_t n = 0;
  const cJSON **recs = collect(&ts, &n);
  int status = recs ? CLI_OK : CLI_FAIL;
  if (recs && fmt == FMT_JSONL) {
    for (size_t i = 0; i < n && status == CLI_OK; i++)
      if (json_write(stdout, recs[i], 0) != 0)
        status = CLI_FAIL;
  } else if (recs) {
    struct otlp_opts oo;
    char host[256];
    otlp_opts_from_env(&oo, host, sizeof host);
    cJSON *req = otlp_request_from_records((const cJSON *const *)recs, n, &oo);
    if (!req || json_write(stdout, req, 0) != 0)
      status = CLI_FAIL;
    cJSON_Delete(req);
  }
  free(recs);
  trace_set_free(&ts);
  if (fflush(stdout) != 0)
    status = CLI_FAIL;
  if (status != CLI_OK)
    cli_err("export failed (out of memory or a write error)");
  return status;
}
