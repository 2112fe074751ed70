/* store: where the spool is, and opening it for reading.
 *
 * The location rule is the shim's (preload/config.c) and must stay the
 * same, or `autotrace ls` would look in another folder than the one the
 * traced program wrote:
 *   1. --spool DIR, when the command was given one;
 *   2. $AUTOTRACE_SPOOL, when set and not empty;
 *   3. $XDG_STATE_HOME/autotrace, when XDG_STATE_HOME is an absolute path;
 *   4. $HOME/.local/state/autotrace, when HOME is set and not empty. */
#ifndef AT_CLI_STORE_H
#define AT_CLI_STORE_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Resolve the spool folder into out. Returns 0, or -1 when no rule applies
 * (no HOME) or the path does not fit (an error was printed). */
int cli_spool_dir(const char *opt, char *out, size_t outlen);

/* Open the spool at dir read-only. Returns 0 with *sp set; 1 when there is
 * no spool there yet (nothing was ever captured: *sp is NULL, nothing is
 * printed); -1 on error (printed). */
int cli_spool_open(const char *dir, struct spool **sp);

/* Bytes the spool's files occupy on disk (allocated blocks, so a sparse
 * LMDB map counts only what it uses). 0 when the folder is missing. */
uint64_t cli_spool_disk_usage(const char *dir);

/* The message for an empty or missing spool. */
#define CLI_NO_TRACES "no traces yet: run a program under `autotrace run`"

#endif
