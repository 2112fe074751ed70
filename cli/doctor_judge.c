/* doctor_judge: facts → verdicts (doctor.h). Every verdict carries the
 * evidence it rests on and, when it is "will not", what the user can do
 * instead. Claims that no test here checks say "untested". */
#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "doctor.h"

/* Advice that recurs. */
#define ADV_OTEL                                                               \
  "instrument it with an OpenTelemetry SDK and send the spans to Langfuse's "  \
  "OTLP endpoint"
#define ADV_PROXY                                                              \
  "or point its base URL (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, ...) at a "     \
  "local forwarding proxy that runs under `autotrace run` and uses libcurl "   \
  "or libssl (untested)"

const char *dr_path_name(enum dr_path p) {
  static const char *const n[] = {[DR_PATH_CURL] = "libcurl",
                                  [DR_PATH_OPENSSL] = "openssl",
                                  [DR_PATH_GNUTLS] = "gnutls",
                                  [DR_PATH_SOCKETS] = "sockets"};
  return (unsigned)p < DR_NPATHS ? n[p] : "?";
}

const char *dr_verdict_name(enum dr_verdict v) {
  return v == DR_WILL ? "will" : v == DR_MIGHT ? "might" : "will-not";
}

__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t len,
                                                      const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

static struct dr_line *blocker(struct dr_judgement *j) {
  if (j->nblockers >= DR_MAX_BLOCKERS)
    return &j->blocker[DR_MAX_BLOCKERS - 1];
  struct dr_line *b = &j->blocker[j->nblockers++];
  memset(b, 0, sizeof *b);
  return b;
}

static void note(struct dr_judgement *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct dr_judgement *j, const char *fmt, ...) {
  if (j->nnotes >= sizeof j->notes / sizeof *j->notes)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->notes[j->nnotes++], sizeof j->notes[0], fmt, ap);
  va_end(ap);
}

static const char *machine_name(unsigned m) {
  switch (m) {
  case EM_X86_64:
    return "x86-64";
  case EM_386:
    return "i386";
  case EM_AARCH64:
    return "aarch64";
  case EM_ARM:
    return "arm";
  case EM_RISCV:
    return "riscv";
  default:
    return "another machine";
  }
}

/* The first library of a kind in the facts' list. */
static const struct dr_lib *lib_of(const struct dr_facts *f,
                                   const char *prefix) {
  for (size_t i = 0; i < f->nlibs; i++) {
    const char *b = strrchr(f->libs[i].path ? f->libs[i].path : "", '/');
    b = b ? b + 1 : f->libs[i].name;
    if (strncmp(b, prefix, strlen(prefix)) == 0 ||
        strncmp(f->libs[i].name, prefix, strlen(prefix)) == 0)
      return &f->libs[i];
  }
  return NULL;
}

/* "libssl.so.3 (/usr/lib/.../libssl.so.3), needed by /usr/bin/php8.2" or
 * "... mapped in the process now". */
static void describe_lib(char *buf, size_t len, const struct dr_lib *l) {
  if (l->mapped && !l->needed_by)
    say(buf, len, "%s is loaded in the process now", l->path);
  else
    say(buf, len, "%s (%s), needed by %s%s", l->name,
        l->path ? l->path : "not found", l->needed_by ? l->needed_by : "?",
        l->mapped ? "; loaded now" : "");
}

/* The module that brings a kind, or NULL. */
static const struct dr_module *module_with(const struct dr_facts *f,
                                           unsigned kind) {
  for (size_t i = 0; i < f->nmods; i++)
    if (f->mods[i].path && (f->mods[i].has & kind))
      return &f->mods[i];
  return NULL;
}

static void judge_blockers(const struct dr_facts *f, struct dr_judgement *j) {
  struct dr_line *b;
  if (f->pid && f->disabled) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "AUTOTRACE_DISABLE is set in its environment: the hooks pass "
        "straight through");
    say(b->advice, sizeof b->advice, "restart it without AUTOTRACE_DISABLE");
  }
  if (f->linking != DR_LINK_DYNAMIC) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "statically linked (%sno PT_INTERP): the dynamic loader never runs, "
        "so LD_PRELOAD is ignored",
        f->linking == DR_LINK_STATIC_PIE ? "static-pie, " : "");
    say(b->advice, sizeof b->advice,
        "build it dynamically linked against glibc, or " ADV_OTEL);
  } else if (f->libc == DR_LIBC_MUSL) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "linked against musl (%s): the shim is built against glibc and is "
        "not expected to load into a musl program (untested)",
        f->interp);
    say(b->advice, sizeof b->advice,
        "use a glibc build of the program, or " ADV_OTEL);
  } else if (f->libc == DR_LIBC_OTHER) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "an unknown dynamic loader (%s): the shim is built for glibc's "
        "(untested)",
        f->interp);
    say(b->advice, sizeof b->advice, "use a glibc build of the program");
  }
  if (f->shim && f->shim_class &&
      (f->shim_class != f->elf_class || f->shim_machine != f->machine)) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "the program is %s %d-bit, the shim %s %d-bit: the loader skips a "
        "preloaded library of another architecture",
        machine_name(f->machine), f->elf_class == ELFCLASS64 ? 64 : 32,
        machine_name(f->shim_machine), f->shim_class == ELFCLASS64 ? 64 : 32);
    say(b->advice, sizeof b->advice,
        "build autotrace for the program's architecture");
  }
  if (f->secure) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "%s: for you the loader runs it in secure-execution mode, which "
        "ignores LD_PRELOAD entries containing a slash",
        f->setuid   ? "set-user-ID"
        : f->setgid ? "set-group-ID"
                    : "it has file capabilities");
    say(b->advice, sizeof b->advice,
        "trace a copy without the set-ID bit or capabilities, or run it as "
        "the user it changes to");
  }
  if (f->runtime == DR_RT_GO) {
    b = blocker(j);
    say(b->reason, sizeof b->reason,
        "a Go program: Go does TLS itself (crypto/tls) and its network I/O "
        "with direct system calls, so neither libcurl, libssl nor libc's "
        "socket calls are used");
    say(b->advice, sizeof b->advice, ADV_OTEL ", " ADV_PROXY);
  }
}

static void judge_curl(const struct dr_facts *f, struct dr_line *l) {
  const struct dr_lib *lib = lib_of(f, "libcurl");
  if (lib && !lib->path)
    lib = NULL;
  const struct dr_module *m = module_with(f, DR_HAS_CURL);
  if (f->markers & DR_M_CURL_IN) {
    say(l->reason, sizeof l->reason,
        "libcurl is linked into the program itself: its calls do not go "
        "through the dynamic linker");
    say(l->advice, sizeof l->advice,
        "link libcurl dynamically (-lcurl against libcurl.so)");
    return;
  }
  if (!lib && !m) {
    say(l->reason, sizeof l->reason,
        "no dynamic libcurl: not among its libraries%s",
        f->nmods ? " nor its modules'" : "");
    return;
  }
  if (!(f->shim_hooks & DR_HAS_CURL)) {
    say(l->reason, sizeof l->reason,
        "it uses %s, but this build's shim has no libcurl hooks",
        lib      ? lib->name
        : m->via ? m->via
                 : "libcurl");
    return;
  }
  l->verdict = DR_WILL;
  if (lib)
    describe_lib(l->reason, sizeof l->reason, lib);
  else
    say(l->reason, sizeof l->reason,
        "%s (%s) links %s: seen when the program uses it", m->what, m->path,
        m->via ? m->via : "libcurl");
}

static void judge_openssl(const struct dr_facts *f, struct dr_line *l) {
  const struct dr_lib *lib = lib_of(f, "libssl.so");
  if (lib && !lib->path)
    lib = NULL; /* needed but not found */
  const struct dr_module *m = module_with(f, DR_HAS_SSL);
  int uses = lib || m;
  int hooks = (f->shim_hooks & DR_HAS_SSL) != 0;
  if (f->runtime == DR_RT_JAVA) {
    say(l->reason, sizeof l->reason,
        "Java does TLS in Java (JSSE), not through libssl (untested)");
    say(l->advice, sizeof l->advice,
        "use the OpenTelemetry Java agent (-javaagent), " ADV_PROXY);
    return;
  }
  if (f->runtime == DR_RT_DOTNET) {
    say(l->reason, sizeof l->reason,
        ".NET's OpenSSL shim looks SSL_* up with dlsym() on its own libssl "
        "handle, which bypasses LD_PRELOAD (untested)");
    say(l->advice, sizeof l->advice, "use OpenTelemetry .NET, " ADV_PROXY);
    return;
  }
  if ((f->markers & DR_M_RUSTLS) && !uses) {
    say(l->reason, sizeof l->reason,
        "rustls: TLS is done in Rust code, not by libssl");
    say(l->advice, sizeof l->advice,
        f->runtime == DR_RT_DENO
            ? "run the code on Debian's Node.js (system libssl), " ADV_PROXY
            : "build the HTTP client with native-tls (reqwest's native-tls "
              "feature, not vendored) so that it links libssl.so");
    return;
  }
  if (f->tls_in) {
    /* "BoringSSL" is a marker doctor looks for: not as such in its file */
    const char *kind = (f->markers & DR_M_BORINGSSL) ? "Boring" : "Open";
    if (f->runtime == DR_RT_NODE)
      say(l->advice, sizeof l->advice,
          "use a Node.js that links the system libssl (Debian's nodejs "
          "package: its libnode.so needs libssl.so.3)");
    else if (f->runtime == DR_RT_BUN)
      say(l->advice, sizeof l->advice,
          "run the same code on Debian's Node.js (system libssl), " ADV_PROXY);
    else
      say(l->advice, sizeof l->advice,
          "link OpenSSL dynamically (libssl.so), " ADV_PROXY);
    if (!uses) {
      say(l->reason, sizeof l->reason,
          "%s carries its own %sSSL (statically linked): its TLS calls do not "
          "go through the dynamic linker",
          f->tls_in, kind);
      return;
    }
    if (hooks) {
      l->verdict = DR_MIGHT;
      say(l->reason, sizeof l->reason,
          "%s carries its own %sSSL: only calls into the shared libssl are "
          "seen",
          f->tls_in, kind);
      return;
    }
    l->advice[0] = '\0';
  }
  if (!uses) {
    for (size_t i = 0; i < f->nmods; i++)
      if (!f->mods[i].path && f->mods[i].what) {
        say(l->reason, sizeof l->reason,
            "no libssl: %s was not found (looked for %s)", f->mods[i].what,
            f->mods[i].looked ? f->mods[i].looked : "it");
        return;
      }
    say(l->reason, sizeof l->reason, "no libssl: not among its libraries%s",
        f->nmods ? " nor its modules'" : "");
    return;
  }
  if (!hooks) {
    say(l->reason, sizeof l->reason,
        "it uses %s, but this build's shim has no OpenSSL hooks",
        lib      ? lib->name
        : m->via ? m->via
                 : "libssl");
    return;
  }
  l->verdict = DR_WILL;
  if (lib)
    describe_lib(l->reason, sizeof l->reason, lib);
  else
    say(l->reason, sizeof l->reason,
        "%s (%s) links %s: loaded when the program first uses TLS", m->what,
        m->path, m->via ? m->via : "libssl");
}

static void judge_gnutls(const struct dr_facts *f, struct dr_line *l) {
  const struct dr_lib *lib = lib_of(f, "libgnutls.so");
  if (lib && !lib->path)
    lib = NULL;
  const struct dr_module *m = module_with(f, DR_HAS_GNUTLS);
  if (f->markers & DR_M_GNUTLS_IN) {
    say(l->reason, sizeof l->reason,
        "GnuTLS is linked into the program itself: its calls do not go "
        "through the dynamic linker");
    return;
  }
  if (!lib && !m) {
    say(l->reason, sizeof l->reason, "no libgnutls among its libraries%s",
        f->nmods ? " nor its modules'" : "");
    return;
  }
  if (!(f->shim_hooks & DR_HAS_GNUTLS)) {
    say(l->reason, sizeof l->reason,
        "it uses %s, but this build's shim has no GnuTLS hooks",
        lib      ? lib->name
        : m->via ? m->via
                 : "libgnutls");
    return;
  }
  l->verdict = DR_WILL;
  if (lib)
    describe_lib(l->reason, sizeof l->reason, lib);
  else
    say(l->reason, sizeof l->reason,
        "%s (%s) links %s: loaded when the program first uses TLS", m->what,
        m->path, m->via ? m->via : "libgnutls");
}

static void judge_sockets(const struct dr_facts *f, struct dr_line *l) {
  if (!(f->shim_hooks & DR_HOOK_SOCKETS)) {
    say(l->reason, sizeof l->reason, "this build's shim has no socket hooks");
    return;
  }
  l->verdict = DR_MIGHT;
  say(l->reason, sizeof l->reason,
      "plain HTTP to local model servers and AUTOTRACE_HOSTS, when it goes "
      "through libc's socket calls%s",
      f->runtime == DR_RT_BUN || f->runtime == DR_RT_JAVA ||
              f->runtime == DR_RT_DOTNET || f->runtime == DR_RT_DENO
          ? " (untested for this runtime)"
          : "");
}

void doctor_judge(const struct dr_facts *f, struct dr_judgement *j) {
  memset(j, 0, sizeof *j);
  judge_blockers(f, j);
  judge_curl(f, &j->path[DR_PATH_CURL]);
  judge_openssl(f, &j->path[DR_PATH_OPENSSL]);
  judge_gnutls(f, &j->path[DR_PATH_GNUTLS]);
  judge_sockets(f, &j->path[DR_PATH_SOCKETS]);
  if (f->pid && !f->shim_loaded && !j->nblockers)
    j->restart_needed = 1;

  for (size_t i = 0; i < f->nscripts; i++)
    note(j, "%s is a script (#!%s); the program that runs it is inspected",
         f->scripts[i], f->shebangs[i]);
  if (f->runtime == DR_RT_SHELL)
    note(j, "a shell: the programs it starts inherit LD_PRELOAD and are "
            "traced on their own; run `autotrace doctor` on them");
  if (f->missing)
    note(j,
         "%zu needed librar%s not found: the loader would refuse to "
         "start it as things are",
         f->missing, f->missing == 1 ? "y was" : "ies were");
  const struct dr_lib *ssl = lib_of(f, "libssl.so");
  if (ssl && ssl->needed_by && lib_of(f, "libcurl") &&
      strstr(ssl->needed_by, "libcurl") &&
      j->path[DR_PATH_CURL].verdict == DR_WILL &&
      j->path[DR_PATH_OPENSSL].verdict == DR_WILL)
    note(j, "libssl comes with libcurl: an exchange made through libcurl is "
            "captured once, by the libcurl path");
  if (f->pid && f->shim_loaded && !f->environ_readable)
    note(j, "its environment is not readable: AUTOTRACE_* settings unknown");
  if (f->libs_truncated)
    note(j, "more than 256 libraries: the rest were not followed");
}

int doctor_exit_status(const struct dr_judgement *j) {
  if (j->nblockers || j->restart_needed)
    return 1;
  for (int p = 0; p < DR_NPATHS; p++)
    if (j->path[p].verdict != DR_WONT)
      return 0;
  return 1;
}
