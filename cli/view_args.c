#include "view_args.h"

#include <getopt.h>
#include <stdio.h>

#include "diag.h"

int view_args_parse(int argc, char **argv, const char *usage,
                    struct view_args *out) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"color", required_argument, NULL, 'c'},
                                       {"colour", required_argument, NULL, 'c'},
                                       {"spool", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  out->json = 0;
  out->color = COLOR_AUTO;
  out->spool = NULL;
  int c;
  optind = 0;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'j':
      out->json = 1;
      break;
    case 'c':
      if (term_parse_color(optarg, &out->color) != 0) {
        cli_err("--color takes auto, always or never, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 's':
      out->spool = optarg;
      break;
    case 'h':
      fputs(usage, stdout);
      return CLI_OK;
    default:
      fputs(usage, stderr);
      return CLI_USAGE;
    }
  }
  return -1;
}
