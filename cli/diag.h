/* diag: the CLI's messages to the user on stderr, all prefixed
 * "autotrace: " so that they stand out from the traced program's output. */
#ifndef AT_CLI_DIAG_H
#define AT_CLI_DIAG_H

/* Exit codes of every command. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
