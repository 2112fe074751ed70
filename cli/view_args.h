/* view_args: the options shared by the commands that read the spool and
 * show it (show, stats): --json, --color/--colour WHEN, --spool DIR, --help. */
#ifndef AT_CLI_VIEW_ARGS_H
#define AT_CLI_VIEW_ARGS_H

#include "term.h"

struct view_args {
  int json;
  enum color_mode color;
  const char *spool; /* NULL: the default spool */
};

/* Parse argv (getopt_long; optind is left at the first operand). Returns
 * -1 to go on, or the exit status to return at once (CLI_OK after --help,
 * CLI_USAGE on a bad option, with `usage` printed). */
int view_args_parse(int argc, char **argv, const char *usage,
                    struct view_args *out);

#endif
