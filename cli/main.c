/* autotrace: the command line. This file only dispatches to cli/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "version.h"

static const char usage[] =
    "usage: autotrace COMMAND [OPTIONS]\n"
    "\n"
    "Capture what a program asks LLM providers, and show it.\n"
    "\n"
    "commands:\n"
    "  run -- CMD ARGS...   run a program with capture on, then summarise\n"
    "  ls                   list traces, newest first\n"
    "  show [TRACE|last]    one trace as a tree\n"
    "  stats                what was captured, skipped, dropped, and why\n"
    "  export --format F    traces as jsonl records or OTLP/HTTP JSON\n"
    "  parse                parse one recorded request/response offline\n"
    "  upload               ship the spool to Langfuse or an OpenTelemetry\n"
    "                       backend (--once, --dry-run, --retry-parked)\n"
    "  doctor CMD|PID       which capture paths will see a program, and why\n"
    "\n"
    "Every command takes --help. The spool is --spool DIR, else\n"
    "$AUTOTRACE_SPOOL, else ${XDG_STATE_HOME:-$HOME/.local/state}/autotrace.\n"
    "See autotrace(1).\n";

struct command {
  const char *name;
  int (*fn)(int, char **);
};

static const struct command commands[] = {
    {"run", cmd_run},       {"ls", cmd_ls},         {"show", cmd_show},
    {"stats", cmd_stats},   {"export", cmd_export}, {"parse", cmd_parse},
    {"upload", cmd_upload}, {"doctor", cmd_doctor}};

static const struct command *find(const char *name) {
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    fputs(usage, stdout);
    return CLI_OK;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
    printf("autotrace %s\n", AT_VERSION);
    return CLI_OK;
  }
  if (strcmp(name, "help") == 0) {
    if (argc < 3) {
      fputs(usage, stdout);
      return CLI_OK;
    }
    const struct command *c = find(argv[2]);
    if (!c) {
      cli_err("no command '%s'", argv[2]);
      return CLI_USAGE;
    }
    char *help_argv[] = {argv[2], "--help", NULL};
    return c->fn(2, help_argv);
  }
  const struct command *c = find(name);
  if (!c) {
    cli_err("no command '%s'", name);
    fputs(usage, stderr);
    return CLI_USAGE;
  }
  return c->fn(argc - 1, argv + 1);
}
