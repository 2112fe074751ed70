/* autotrace doctor CMD|PID: which capture paths will see a program, and
 * what to do when none will. The facts come from doctor_probe.c, the
 * verdicts from doctor_judge.c; this file parses the options and prints
 * the report (text or --json). */
#include <elf.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "diag.h"
#include "doctor.h"
#include "jsonout.h"
#include "term.h"

static const char doctor_usage[] =
    "usage: autotrace doctor [--json] [--color=WHEN] CMD|PID\n"
    "\n"
    "Tell which of autotrace's capture paths will see a program, without\n"
    "running it: libcurl, OpenSSL, GnuTLS and plain sockets, each with the\n"
    "reason, and for programs nothing can see (Go, statically linked\n"
    "programs or TLS libraries, rustls, setuid programs, ...) why and what\n"
    "to do instead. CMD is a path or a name looked up in PATH (#! scripts\n"
    "lead to their interpreter); a number is the PID of a running process,\n"
    "whose loaded libraries and environment are read from /proc.\n"
    "\n"
    "  --json         the report as a JSON object\n"
    "  --color=WHEN   auto (default), always or never\n"
    "\n"
    "Exit status: 0 when some capture path will or might see the program,\n"
    "1 when none can (or a running process does not have the shim loaded),\n"
    "2 on a usage error or when the program cannot be inspected.\n";

/* The shim `autotrace run` would preload (cmd_run.c's rule). */
static int find_shim(char *out, size_t outlen, char *looked, size_t llen) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    snprintf(looked, llen, "/proc/self/exe unreadable");
    return -1;
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  return run_find_shim(self, out, outlen, looked, llen);
}

static int all_digits(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* ---- JSON ---- */

static const char *linking_name(enum dr_linking l) {
  return l == DR_LINK_STATIC       ? "static"
         : l == DR_LINK_STATIC_PIE ? "static-pie"
                                   : "dynamic";
}

static const char *libc_name(enum dr_libc c) {
  return c == DR_LIBC_GLIBC  ? "glibc"
         : c == DR_LIBC_MUSL ? "musl"
         : c == DR_LIBC_NONE ? "none"
                             : "other";
}

static void add_str(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, v);
  else
    cJSON_AddNullToObject(o, k);
}

static cJSON *kinds_json(unsigned has) {
  cJSON *a = cJSON_CreateArray();
  if (has & DR_HAS_CURL)
    cJSON_AddItemToArray(a, cJSON_CreateString("libcurl"));
  if (has & DR_HAS_SSL)
    cJSON_AddItemToArray(a, cJSON_CreateString("openssl"));
  if (has & DR_HAS_GNUTLS)
    cJSON_AddItemToArray(a, cJSON_CreateString("gnutls"));
  if (has & DR_HOOK_SOCKETS)
    cJSON_AddItemToArray(a, cJSON_CreateString("sockets"));
  return a;
}

static cJSON *markers_json(unsigned m) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{DR_M_GO, "go"},
               {DR_M_RUST, "rust"},
               {DR_M_RUSTLS, "rustls"},
               {DR_M_BORINGSSL, "boringssl"},
               {DR_M_OPENSSL_IN, "openssl-inside"},
               {DR_M_GNUTLS_IN, "gnutls-inside"},
               {DR_M_CURL_IN, "libcurl-inside"},
               {DR_M_BUN, "bun"},
               {DR_M_NODE, "node"},
               {DR_M_DENO, "deno"},
               {DR_M_JAVA, "java"},
               {DR_M_DOTNET, "dotnet"}};
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (m & names[i].bit)
      cJSON_AddItemToArray(a, cJSON_CreateString(names[i].name));
  return a;
}

static cJSON *line_json(const struct dr_line *l) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "verdict", dr_verdict_name(l->verdict));
  cJSON_AddStringToObject(o, "reason", l->reason);
  if (l->advice[0])
    cJSON_AddStringToObject(o, "advice", l->advice);
  return o;
}

cJSON *doctor_json(const struct dr_facts *f, const struct dr_judgement *j) {
  cJSON *o = cJSON_CreateObject();
  cJSON *t = cJSON_AddObjectToObject(o, "target");
  add_str(t, "arg", f->arg);
  if (f->pid)
    cJSON_AddNumberToObject(t, "pid", f->pid);
  add_str(t, "path", f->path);
  add_str(t, "realpath", f->real);
  cJSON *sc = cJSON_AddArrayToObject(t, "scripts");
  for (size_t i = 0; i < f->nscripts; i++) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "path", f->scripts[i]);
    cJSON_AddStringToObject(s, "shebang", f->shebangs[i]);
    cJSON_AddItemToArray(sc, s);
  }
  cJSON *p = cJSON_AddObjectToObject(o, "program");
  cJSON_AddNumberToObject(p, "elf_class", f->elf_class == ELFCLASS64 ? 64 : 32);
  cJSON_AddNumberToObject(p, "machine", f->machine);
  cJSON_AddStringToObject(p, "linking", linking_name(f->linking));
  add_str(p, "interpreter", f->interp);
  cJSON_AddStringToObject(p, "libc", libc_name(f->libc));
  cJSON_AddBoolToObject(p, "setuid", f->setuid);
  cJSON_AddBoolToObject(p, "setgid", f->setgid);
  cJSON_AddBoolToObject(p, "file_capabilities", f->fcaps);
  cJSON_AddBoolToObject(p, "secure_execution", f->secure);
  cJSON_AddStringToObject(p, "runtime", dr_runtime_name(f->runtime));
  add_str(p, "runtime_evidence", f->runtime_why);
  cJSON_AddItemToObject(p, "markers", markers_json(f->markers));
  add_str(p, "own_tls_library_in", f->tls_in);
  cJSON *libs = cJSON_AddArrayToObject(o, "libraries");
  for (size_t i = 0; i < f->nlibs; i++) {
    cJSON *l = cJSON_CreateObject();
    cJSON_AddStringToObject(l, "name", f->libs[i].name);
    add_str(l, "path", f->libs[i].path);
    add_str(l, "needed_by", f->libs[i].needed_by);
    if (f->pid)
      cJSON_AddBoolToObject(l, "mapped", f->libs[i].mapped);
    cJSON_AddItemToArray(libs, l);
  }
  cJSON *mods = cJSON_AddArrayToObject(o, "modules");
  for (size_t i = 0; i < f->nmods; i++) {
    const struct dr_module *m = &f->mods[i];
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "what", m->what);
    add_str(x, "path", m->path);
    if (m->looked)
      cJSON_AddStringToObject(x, "looked_in", m->looked);
    cJSON_AddItemToObject(x, "brings", kinds_json(m->has));
    add_str(x, "via", m->via);
    cJSON_AddItemToArray(mods, x);
  }
  if (f->pid) {
    cJSON *pr = cJSON_AddObjectToObject(o, "process");
    cJSON_AddBoolToObject(pr, "shim_loaded", f->shim_loaded);
    add_str(pr, "shim_mapped", f->shim_mapped);
    cJSON_AddBoolToObject(pr, "environ_readable", f->environ_readable);
    add_str(pr, "ld_preload", f->ld_preload);
    cJSON_AddBoolToObject(pr, "autotrace_disabled", f->disabled);
    cJSON *env = cJSON_AddArrayToObject(pr, "autotrace_env");
    for (size_t i = 0; i < f->nat_env; i++)
      cJSON_AddItemToArray(env, cJSON_CreateString(f->at_env[i]));
  }
  cJSON *sh = cJSON_AddObjectToObject(o, "shim");
  add_str(sh, "path", f->shim);
  cJSON_AddItemToObject(sh, "capture_paths", kinds_json(f->shim_hooks));
  cJSON *bl = cJSON_AddArrayToObject(o, "blockers");
  for (size_t i = 0; i < j->nblockers; i++)
    cJSON_AddItemToArray(bl, line_json(&j->blocker[i]));
  cJSON *paths = cJSON_AddObjectToObject(o, "paths");
  for (int i = 0; i < DR_NPATHS; i++) {
    cJSON *l = line_json(&j->path[i]);
    if (j->nblockers) /* a blocker stops every path */
      cJSON_ReplaceItemInObject(l, "verdict", cJSON_CreateString("will-not"));
    cJSON_AddItemToObject(paths, dr_path_name(i), l);
  }
  cJSON_AddBoolToObject(o, "restart_needed", j->restart_needed);
  cJSON *notes = cJSON_AddArrayToObject(o, "notes");
  for (size_t i = 0; i < j->nnotes; i++)
    cJSON_AddItemToArray(notes, cJSON_CreateString(j->notes[i]));
  int st = doctor_exit_status(j);
  cJSON_AddStringToObject(o, "verdict", st == 0 ? "seen" : "not-seen");
  return o;
}

/* ---- text ---- */

static const char *path_label(enum dr_path p) {
  static const char *const l[] = {[DR_PATH_CURL] = "libcurl",
                                  [DR_PATH_OPENSSL] = "OpenSSL",
                                  [DR_PATH_GNUTLS] = "GnuTLS",
                                  [DR_PATH_SOCKETS] = "sockets"};
  return l[p];
}

void doctor_render(FILE *out, const struct dr_facts *f,
                   const struct dr_judgement *j, int color) {
  const char *b = term_sgr(color, ST_BOLD), *r = term_sgr(color, ST_RESET);
  const char *dim = term_sgr(color, ST_DIM);
  if (f->pid)
    fprintf(out, "%sprocess %d%s  %s\n", b, (int)f->pid, r, f->path);
  else if (strcmp(f->arg, f->real) == 0)
    fprintf(out, "%s%s%s\n", b, f->real, r);
  else
    fprintf(out, "%s%s%s  %s\n", b, f->arg, r, f->real);
  fprintf(out, "  program  ELF %d-bit, %s",
          f->elf_class == ELFCLASS64 ? 64 : 32, linking_name(f->linking));
  if (f->interp)
    fprintf(out, ", %s (%s)", libc_name(f->libc), f->interp);
  if (f->runtime != DR_RT_NATIVE)
    fprintf(out, "; %s (%s)", dr_runtime_name(f->runtime), f->runtime_why);
  fputc('\n', out);
  for (size_t i = 0; i < f->nmods; i++) {
    const struct dr_module *m = &f->mods[i];
    if (m->path)
      fprintf(out, "  module   %s: %s%s%s\n", m->what, m->path,
              m->via ? " → " : "", m->via ? m->via : "");
    else
      fprintf(out, "  module   %s: not found\n", m->what);
  }
  if (f->pid) {
    fprintf(out, "  shim     %s\n",
            f->shim_loaded ? f->shim_mapped : "not loaded in this process");
    if (f->ld_preload)
      fprintf(out, "  preload  LD_PRELOAD=%s\n", f->ld_preload);
    for (size_t i = 0; i < f->nat_env; i++)
      fprintf(out, "  env      %s\n", f->at_env[i]);
  }
  if (!f->pid || !f->shim_loaded) {
    fprintf(out, "  shim     %s%s", f->pid ? "would be " : "",
            f->shim ? f->shim : "?");
  } else {
    fprintf(out, "  hooks   ");
  }
  fprintf(out, " %s(capture paths:", dim);
  const char *sep = " ";
  static const unsigned bits[] = {DR_HAS_CURL, DR_HAS_SSL, DR_HAS_GNUTLS,
                                  DR_HOOK_SOCKETS};
  for (int p = 0; p < DR_NPATHS; p++)
    if (f->shim_hooks & bits[p]) {
      fprintf(out, "%s%s", sep, path_label(p));
      sep = ", ";
    }
  fprintf(out, "%s)%s\n\n", *sep == ' ' ? " none" : "", r);

  if (j->nblockers) {
    fprintf(out, "%sNothing will be captured:%s\n", term_sgr(color, ST_RED), r);
    for (size_t i = 0; i < j->nblockers; i++) {
      fprintf(out, "  - %s\n", j->blocker[i].reason);
      if (j->blocker[i].advice[0])
        fprintf(out, "    what to do: %s\n", j->blocker[i].advice);
    }
  } else {
    if (j->restart_needed)
      fprintf(out,
              "%sNot traced now:%s the shim is not loaded in process %d "
              "(LD_PRELOAD is read when a program starts). Restarted under "
              "`autotrace run`:\n",
              term_sgr(color, ST_RED), r, (int)f->pid);
    for (int p = 0; p < DR_NPATHS; p++) {
      const struct dr_line *l = &j->path[p];
      enum term_style st = l->verdict == DR_WILL    ? ST_GREEN
                           : l->verdict == DR_MIGHT ? ST_YELLOW
                                                    : ST_DIM;
      const char *v = l->verdict == DR_WILL    ? "will see"
                      : l->verdict == DR_MIGHT ? "might see"
                                               : "will not see";
      fprintf(out, "  %-8s %s%-12s%s %s\n", path_label(p), term_sgr(color, st),
              v, r, l->reason);
      if (l->advice[0])
        fprintf(out, "  %-8s %-12s what to do: %s\n", "", "", l->advice);
    }
  }
  for (size_t i = 0; i < j->nnotes; i++)
    fprintf(out, "%snote:%s %s\n", dim, r, j->notes[i]);
  int st = doctor_exit_status(j);
  fprintf(out, "\n%s%s%s\n", term_sgr(color, st == 0 ? ST_GREEN : ST_RED),
          st == 0 ? "autotrace can see this program."
                  : "autotrace cannot see this program.",
          r);
}

int cmd_doctor(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"color", required_argument, NULL, 'c'},
                                       {"colour", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int json = 0, c;
  enum color_mode color = COLOR_AUTO;
  optind = 0;
  /* "+": stop at the command, whose own options are not ours */
  while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
    switch (c) {
    case 'j':
      json = 1;
      break;
    case 'c':
      if (term_parse_color(optarg, &color) != 0) {
        cli_err("--color takes auto, always or never, not '%s'", optarg);
        return CLI_USAGE;
      }
      break;
    case 'h':
      fputs(doctor_usage, stdout);
      return CLI_OK;
    default:
      fputs(doctor_usage, stderr);
      return CLI_USAGE;
    }
  }
  if (optind >= argc) {
    cli_err("doctor needs a command or a PID");
    fputs(doctor_usage, stderr);
    return CLI_USAGE;
  }
  const char *target = argv[optind];
  char shim[PATH_MAX], looked[2 * PATH_MAX + 8] = "";
  if (find_shim(shim, sizeof shim, looked, sizeof looked) != 0) {
    cli_err("cannot find libautotrace.so (looked at %s): the verdicts "
            "depend on which hooks it has",
            looked);
    return CLI_USAGE;
  }
  struct dr_facts f;
  char err[PATH_MAX + 256];
  int rc;
  if (all_digits(target)) {
    long pid = strtol(target, NULL, 10);
    if (pid <= 0 || pid > 0x3fffffff) {
      cli_err("'%s' is not a process id", target);
      return CLI_USAGE;
    }
    rc = doctor_probe_pid((pid_t)pid, shim, &f, err, sizeof err);
  } else {
    rc = doctor_probe_cmd(target, shim, &f, err, sizeof err);
  }
  if (rc != 0) {
    cli_err("%s", err);
    doctor_facts_free(&f);
    return CLI_USAGE;
  }
  struct dr_judgement j;
  doctor_judge(&f, &j);
  if (json) {
    cJSON *o = doctor_json(&f, &j);
    if (!o || json_write(stdout, o, 1) != 0) {
      cJSON_Delete(o);
      doctor_facts_free(&f);
      cli_err("cannot write the report");
      return CLI_USAGE;
    }
    cJSON_Delete(o);
  } else {
    doctor_render(stdout, &f, &j, term_color_enabled(color, stdout));
  }
  rc = doctor_exit_status(&j);
  doctor_facts_free(&f);
  return rc;
}
