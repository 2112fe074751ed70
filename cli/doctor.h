/* doctor: which of autotrace's capture paths will see a program, and why
 * not when they will not (`autotrace doctor CMD|PID`, docs/cli.md).
 *
 * Three steps, each its own file:
 *   doctor_probe.c  gathers facts — the program's ELF (never executed),
 *                   its libraries resolved as the loader would (ldso.c),
 *                   the TLS modules its interpreter loads later, markers of
 *                   runtimes that carry their own TLS, and for a PID what is
 *                   mapped now and whether the shim is loaded; also which
 *                   hooks the shim itself exports;
 *   doctor_judge.c  turns facts into verdicts, one per capture path, and
 *                   the blockers that stop every path;
 *   cmd_doctor.c    the command: options, the human report and --json. */
#ifndef AT_CLI_DOCTOR_H
#define AT_CLI_DOCTOR_H

#include <cjson/cJSON.h>
#include <stdio.h>
#include <sys/types.h>

/* What the facts found in a set of libraries (bit set). */
enum {
  DR_HAS_CURL = 1,   /* libcurl*.so (libcurl, libcurl-gnutls, -nss) */
  DR_HAS_SSL = 2,    /* libssl.so.* (OpenSSL) */
  DR_HAS_GNUTLS = 4, /* libgnutls.so.* */
  DR_HAS_SHIM = 8    /* libautotrace.so */
};

/* Markers in the program's own file (bit set). */
enum {
  DR_M_GO = 1 << 0,     /* .go.buildinfo, the buildinfo magic, runtime.main */
  DR_M_RUST = 1 << 1,   /* Rust's standard library (RUST_BACKTRACE) */
  DR_M_RUSTLS = 1 << 2, /* the rustls crate */
  DR_M_BORINGSSL = 1 << 3,  /* "BoringSSL" */
  DR_M_OPENSSL_IN = 1 << 4, /* SSL_write/SSL_do_handshake defined inside */
  DR_M_BUN = 1 << 5,        /* a .bun section */
  DR_M_NODE = 1 << 6,       /* node::Start, or named node */
  DR_M_DENO = 1 << 7,       /* deno_core */
  DR_M_JAVA = 1 << 8,       /* the java launcher (libjli.so) */
  DR_M_DOTNET = 1 << 9,     /* the .NET host (libhostfxr.so) */
  DR_M_GNUTLS_IN = 1 << 10, /* gnutls_record_send defined inside */
  DR_M_CURL_IN = 1 << 11    /* curl_easy_perform defined inside */
};

enum dr_runtime {
  DR_RT_NATIVE = 0, /* nothing more specific recognised */
  DR_RT_PYTHON,
  DR_RT_RUBY,
  DR_RT_PHP,
  DR_RT_PERL,
  DR_RT_NODE,
  DR_RT_BUN,
  DR_RT_DENO,
  DR_RT_GO,
  DR_RT_RUST,
  DR_RT_JAVA,
  DR_RT_DOTNET,
  DR_RT_SHELL
};
const char *dr_runtime_name(enum dr_runtime rt);

enum dr_linking { DR_LINK_DYNAMIC = 0, DR_LINK_STATIC, DR_LINK_STATIC_PIE };
enum dr_libc { DR_LIBC_GLIBC = 0, DR_LIBC_MUSL, DR_LIBC_OTHER, DR_LIBC_NONE };

/* One library of the program: a DT_NEEDED name resolved, or a file mapped
 * in the running process. */
struct dr_lib {
  char *name;      /* as needed ("libssl.so.3"), or the mapped file's name */
  char *path;      /* resolved or mapped path; NULL when not found */
  char *needed_by; /* the object that needs it; NULL for a mapped file */
  int mapped;      /* seen in /proc/PID/maps */
};

/* A module an interpreter loads with dlopen() when the program needs it
 * (Python's _ssl, Ruby's openssl.so, PHP's curl.so, Perl's SSLeay.so). */
struct dr_module {
  char *what;   /* "Python's _ssl module" */
  char *path;   /* NULL when looked for and not found */
  char *looked; /* where it was looked for, when not found */
  unsigned has; /* DR_HAS_* of its own library closure */
  char *via;    /* the library that gives it that ("libssl.so.3") */
};

#define DR_MAX_SCRIPTS 4
#define DR_MAX_MODULES 6

struct dr_facts {
  /* the target */
  char *arg;                     /* as given */
  pid_t pid;                     /* 0 for a command */
  char *path;                    /* the executable that runs (after #! lines) */
  char *real;                    /* its realpath */
  char *scripts[DR_MAX_SCRIPTS]; /* scripts whose #! led there, in order */
  char *shebangs[DR_MAX_SCRIPTS];
  size_t nscripts;
  /* the executable */
  int elf_class;    /* 1 or 2 */
  unsigned machine; /* e_machine */
  enum dr_linking linking;
  char *interp; /* PT_INTERP */
  enum dr_libc libc;
  int setuid, setgid, fcaps; /* file mode bits, security.capability */
  int secure;       /* those would put this user's run in secure mode */
  unsigned markers; /* DR_M_* */
  enum dr_runtime runtime;
  char *runtime_why; /* the evidence, for the report */
  char *tls_in;      /* the object that carries its own TLS library */
  /* its libraries (needed closure, then mapped files for a PID) */
  struct dr_lib *libs;
  size_t nlibs;
  unsigned has; /* DR_HAS_* of libs */
  int libs_truncated;
  size_t missing; /* needed but not found */
  struct dr_module mods[DR_MAX_MODULES];
  size_t nmods;
  /* a running process */
  int shim_loaded;
  char *shim_mapped; /* the shim file mapped in it */
  int environ_readable;
  char *ld_preload; /* its LD_PRELOAD, NULL when unset */
  int disabled;     /* AUTOTRACE_DISABLE=1 */
  char **at_env;    /* its AUTOTRACE_* settings, "NAME=value" */
  size_t nat_env;
  /* the shim these verdicts are for */
  char *shim;
  unsigned shim_hooks; /* DR_HAS_CURL | DR_HAS_SSL | DR_HAS_GNUTLS | sockets */
  int shim_class;
  unsigned shim_machine;
};

/* The shim's socket hooks, in shim_hooks. */
#define DR_HOOK_SOCKETS 16

/* Facts about the command cmd (a path, or a name looked up in PATH), as
 * it would run under the shim at shim_path. Returns 0, or -1 with the
 * reason in err (not found, not executable, not a program). */
int doctor_probe_cmd(const char *cmd, const char *shim_path, struct dr_facts *f,
                     char *err, size_t errlen);

/* Facts about the running process pid. The shim is the one mapped in it,
 * else shim_path. Returns 0, or -1 with the reason in err. */
int doctor_probe_pid(pid_t pid, const char *shim_path, struct dr_facts *f,
                     char *err, size_t errlen);

/* Read which capture paths the shim at path has from its exported hooks
 * (a shim without OpenSSL hooks cannot see libssl). 0, or -1. */
int doctor_probe_shim(const char *path, struct dr_facts *f);

void doctor_facts_free(struct dr_facts *f);

/* ---- verdicts ---- */

enum dr_verdict { DR_WONT = 0, DR_MIGHT, DR_WILL };
enum dr_path {
  DR_PATH_CURL = 0,
  DR_PATH_OPENSSL,
  DR_PATH_GNUTLS,
  DR_PATH_SOCKETS,
  DR_NPATHS
};

struct dr_line {
  enum dr_verdict verdict;
  char reason[512];
  char advice[512]; /* "" when there is nothing to do */
};

#define DR_MAX_BLOCKERS 6

struct dr_judgement {
  struct dr_line path[DR_NPATHS];
  struct dr_line blocker[DR_MAX_BLOCKERS]; /* each stops every path */
  size_t nblockers;
  /* for a PID without the shim: the paths say what a restart would see */
  int restart_needed;
  char notes[4][512]; /* things worth knowing that change no verdict */
  size_t nnotes;
};

const char *dr_path_name(enum dr_path p);
const char *dr_verdict_name(enum dr_verdict v);

void doctor_judge(const struct dr_facts *f, struct dr_judgement *j);

/* The exit status: 0 when some path will or might see the program now,
 * 1 when none can. */
int doctor_exit_status(const struct dr_judgement *j);

cJSON *doctor_json(const struct dr_facts *f, const struct dr_judgement *j);
void doctor_render(FILE *out, const struct dr_facts *f,
                   const struct dr_judgement *j, int color);

#endif
