/* doctor_probe: the facts `autotrace doctor` judges (doctor.h). Nothing
 * here runs the program: files are read (elf_inspect.c), libraries are
 * resolved the loader's way (ldso.c), and for a PID /proc is read. */
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "doctor.h"
#include "elf_inspect.h"
#include "ldso.h"

#define MAX_LIBS 256 /* objects followed per closure */
#define MAX_MAPS_BYTES (4u << 20)
#define MAX_ENVIRON_BYTES (1u << 20)

const char *dr_runtime_name(enum dr_runtime rt) {
  static const char *const names[] = {
      [DR_RT_NATIVE] = "native", [DR_RT_PYTHON] = "python",
      [DR_RT_RUBY] = "ruby",     [DR_RT_PHP] = "php",
      [DR_RT_PERL] = "perl",     [DR_RT_NODE] = "node",
      [DR_RT_BUN] = "bun",       [DR_RT_DENO] = "deno",
      [DR_RT_GO] = "go",         [DR_RT_RUST] = "rust",
      [DR_RT_JAVA] = "java",     [DR_RT_DOTNET] = "dotnet",
      [DR_RT_SHELL] = "shell"};
  return (unsigned)rt < sizeof names / sizeof *names ? names[rt] : "native";
}

static char *xstrdup(const char *s) {
  return s ? strdup(s) : NULL;
}

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static int fail(char *err, size_t errlen, const char *fmt, const char *a,
                const char *b) {
  snprintf(err, errlen, fmt, a, b);
  return -1;
}

/* What a library's file name says it is (DR_HAS_*). libssl3.so is NSS's,
 * not OpenSSL's. */
static unsigned lib_kind(const char *name) {
  const char *b = base_name(name);
  if (strncmp(b, "libcurl", 7) == 0 && strstr(b, ".so"))
    return DR_HAS_CURL;
  if (strncmp(b, "libssl.so", 9) == 0)
    return DR_HAS_SSL;
  if (strncmp(b, "libgnutls.so", 12) == 0)
    return DR_HAS_GNUTLS;
  if (strcmp(b, "libautotrace.so") == 0)
    return DR_HAS_SHIM;
  return 0;
}

/* ---- the command: PATH and #! lines ---- */

static int is_exec_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* cmd as execvp() would find it. */
static int find_in_path(const char *cmd, const char *pathvar, char *out,
                        size_t outlen) {
  if (strchr(cmd, '/')) {
    if (strlen(cmd) >= outlen)
      return -1;
    strcpy(out, cmd);
    return 0;
  }
  const char *p =
      pathvar && *pathvar ? pathvar : "/usr/local/bin:/usr/bin:/bin";
  for (int guard = 0; guard < 1024; guard++) {
    size_t len = strcspn(p, ":");
    int n = len ? snprintf(out, outlen, "%.*s/%s", (int)len, p, cmd)
                : snprintf(out, outlen, "./%s", cmd);
    if (n > 0 && (size_t)n < outlen && is_exec_file(out))
      return 0;
    if (p[len] == '\0')
      break;
    p += len + 1;
  }
  return -1;
}

/* The interpreter named by a "#!" line, following `env [-S] [-opts]
 * [VAR=val] NAME` through PATH. Writes its path; -1 when the line names
 * nothing usable. */
static int shebang_target(const char *line, char *out, size_t outlen) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", line);
  char *save = NULL, *tok = strtok_r(buf, " \t", &save);
  if (!tok)
    return -1;
  if (strcmp(base_name(tok), "env") != 0) {
    /* the kernel takes the interpreter's path as written, no PATH search */
    int n = snprintf(out, outlen, "%s", tok);
    return n > 0 && (size_t)n < outlen && is_exec_file(out) ? 0 : -1;
  }
  while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
    if (tok[0] == '-' || strchr(tok, '='))
      continue; /* env's options (-S, -i, -u NAME is rare) and VAR=val */
    return find_in_path(tok, getenv("PATH"), out, outlen);
  }
  return -1;
}

/* ---- facts from the executable ---- */

static void set_runtime(struct dr_facts *f, enum dr_runtime rt,
                        const char *why) {
  if (f->runtime != DR_RT_NATIVE)
    return; /* the first, most specific evidence wins */
  f->runtime = rt;
  f->runtime_why = xstrdup(why);
}

/* OpenSSL's version banner, "OpenSSL 3.0.2 15 Mar 2022": the name, a
 * space and three dot-separated numbers (a bare "OpenSSL 3.0" is some
 * other text). Bounded: at most 10000 occurrences are looked at. */
static int has_openssl_banner(const struct elf_file *ef) {
  size_t size;
  const unsigned char *p = elf_bytes(ef, &size), *end = p + size;
  for (int guard = 0; guard < 10000 && p < end; guard++) {
    const unsigned char *hit = memmem(p, (size_t)(end - p), "OpenSSL ", 8);
    if (!hit)
      return 0;
    const unsigned char *q = hit + 8;
    int groups = 0;
    while (q < end && groups < 3) {
      if (!isdigit(*q))
        break;
      while (q < end && isdigit(*q))
        q++;
      groups++;
      if (groups < 3) {
        if (q >= end || *q != '.')
          break;
        q++;
      }
    }
    if (groups == 3)
      return 1;
    p = hit + 8;
  }
  return 0;
}

/* Go's build information blob as debug/buildinfo finds it: the magic
 * "\xff Go buildinf:" at a 16-byte aligned offset, then the pointer size
 * (4 or 8). A mere string with the magic (this program has one) is not. */
static int has_go_buildinfo(const struct elf_file *ef) {
  static const char magic[] = "\xff Go buildinf:";
  size_t size, n = sizeof magic - 1;
  const unsigned char *base = elf_bytes(ef, &size), *p = base;
  const unsigned char *end = base + size;
  for (int guard = 0; guard < 10000 && p < end; guard++) {
    const unsigned char *hit = memmem(p, (size_t)(end - p), magic, n);
    if (!hit)
      return 0;
    if ((size_t)(hit - base) % 16 == 0 && hit + n < end &&
        (hit[n] == 4 || hit[n] == 8))
      return 1;
    p = hit + 1;
  }
  return 0;
}

/* Whether the file holds a text, given with every byte raised by one: the
 * markers must not appear as such in autotrace's own file, or doctor
 * would take itself (and its tests) for Rust, Deno, BoringSSL... */
static int has_text(const struct elf_file *ef, const char *shifted) {
  static volatile int key = 1; /* keeps the compiler from folding it */
  char buf[64];
  size_t n = 0;
  for (; shifted[n] && n < sizeof buf - 1; n++)
    buf[n] = (char)(shifted[n] - key);
  return elf_contains(ef, buf, n);
}

static void scan_markers(struct dr_facts *f, const struct elf_file *ef) {
  if (elf_has_section(ef, ".go.buildinfo") || has_go_buildinfo(ef) ||
      elf_defines(ef, "runtime.main"))
    f->markers |= DR_M_GO;
  if (has_text(ef, "SVTU`CBDLUSBDF") /* RUST_BACKTRACE */)
    f->markers |= DR_M_RUST;
  /* crate paths in panic locations: ".../rustls-0.23.4/src/..." */
  for (int d = 0; d <= 9; d++) {
    char probe[16];
    snprintf(probe, sizeof probe, "0svtumt.%c/" /* /rustls-D. */, '1' + d);
    if (has_text(ef, probe)) {
      f->markers |= DR_M_RUSTLS;
      break;
    }
  }
  if (has_text(ef, "CpsjohTTM") /* BoringSSL */)
    f->markers |= DR_M_BORINGSSL;
  if (elf_defines(ef, "SSL_write") || elf_defines(ef, "SSL_do_handshake") ||
      elf_defines(ef, "SSL_write_ex"))
    f->markers |= DR_M_OPENSSL_IN;
  if (elf_defines(ef, "gnutls_record_send"))
    f->markers |= DR_M_GNUTLS_IN;
  if (elf_defines(ef, "curl_easy_perform"))
    f->markers |= DR_M_CURL_IN;
  if (elf_has_section(ef, ".bun"))
    f->markers |= DR_M_BUN;
  if (elf_defines(ef, "_ZN4node5StartEiPPc"))
    f->markers |= DR_M_NODE;
  if (has_text(ef, "efop`dpsf") /* deno_core */)
    f->markers |= DR_M_DENO;
  if (has_text(ef, "mjciptugys/tp") /* libhostfxr.so */)
    f->markers |= DR_M_DOTNET;
}

static int needs(const struct elf_file *ef, const char *prefix) {
  for (size_t i = 0; i < elf_needed_count(ef); i++)
    if (strncmp(elf_needed(ef, i), prefix, strlen(prefix)) == 0)
      return 1;
  return 0;
}

static int name_is(const char *b, const char *stem) {
  size_t n = strlen(stem);
  /* "python3.11", "python3", "ruby3.1", "php8.2", "php-fpm8.2" */
  return strncmp(b, stem, n) == 0 &&
         (b[n] == '\0' || isdigit((unsigned char)b[n]) || b[n] == '.' ||
          b[n] == '-');
}

static void classify(struct dr_facts *f, const struct elf_file *ef) {
  const char *b = base_name(f->real ? f->real : f->path);
  unsigned m = f->markers;
  if (m & DR_M_GO)
    set_runtime(f, DR_RT_GO, "Go build information in the file");
  if (m & DR_M_BUN)
    set_runtime(f, DR_RT_BUN, "a .bun section");
  if ((m & DR_M_DENO) && (m & DR_M_RUST))
    set_runtime(f, DR_RT_DENO, "Deno's core crate in a Rust program");
  if (needs(ef, "libjli.so")) {
    f->markers |= DR_M_JAVA;
    set_runtime(f, DR_RT_JAVA, "the Java launcher (libjli.so)");
  }
  if (m & DR_M_DOTNET)
    set_runtime(f, DR_RT_DOTNET, "the .NET host: it loads hostfxr");
  if (needs(ef, "libnode.so")) {
    f->markers |= DR_M_NODE;
    set_runtime(f, DR_RT_NODE, "libnode.so");
  }
  if (m & DR_M_NODE)
    set_runtime(f, DR_RT_NODE, "node::Start defined in the program");
  if (name_is(b, "node") || name_is(b, "nodejs")) {
    f->markers |= DR_M_NODE;
    set_runtime(f, DR_RT_NODE, "the program's name");
  }
  if (name_is(b, "python") || needs(ef, "libpython"))
    set_runtime(f, DR_RT_PYTHON, "the program's name or libpython");
  if (name_is(b, "ruby") || needs(ef, "libruby"))
    set_runtime(f, DR_RT_RUBY, "the program's name or libruby");
  if (name_is(b, "php") || name_is(b, "php-fpm") || name_is(b, "php-cgi"))
    set_runtime(f, DR_RT_PHP, "the program's name");
  if (name_is(b, "perl") || needs(ef, "libperl"))
    set_runtime(f, DR_RT_PERL, "the program's name or libperl");
  if (name_is(b, "sh") || name_is(b, "bash") || name_is(b, "dash") ||
      name_is(b, "zsh") || name_is(b, "ksh") || name_is(b, "fish"))
    set_runtime(f, DR_RT_SHELL, "the program's name");
  if (m & DR_M_RUST)
    set_runtime(f, DR_RT_RUST, "Rust's standard library in the file");
}

/* ---- libraries ---- */

struct closure {
  struct dr_lib *libs;
  size_t n, cap;
  unsigned has;
  size_t missing;
  int truncated;
  char *tls_in; /* a library other than libssl defining SSL_write */
};

static struct dr_lib *add_lib(struct closure *c, const char *name,
                              const char *path, const char *by) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 32;
    struct dr_lib *l = realloc(c->libs, cap * sizeof *l);
    if (!l)
      return NULL;
    c->libs = l;
    c->cap = cap;
  }
  struct dr_lib *l = &c->libs[c->n++];
  memset(l, 0, sizeof *l);
  l->name = xstrdup(name);
  l->path = xstrdup(path);
  l->needed_by = xstrdup(by);
  c->has |= lib_kind(path ? path : name);
  return l;
}

static void free_libs(struct dr_lib *libs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(libs[i].name);
    free(libs[i].path);
    free(libs[i].needed_by);
  }
  free(libs);
}

/* Breadth-first over DT_NEEDED from root (already open), as the loader
 * does: each name once. */
static void walk(struct ldso *ld, const char *root_path,
                 const struct elf_file *root, const struct ldso_obj *exe,
                 struct closure *c) {
  size_t start = c->n;
  struct ldso_obj robj = {root_path, elf_rpath(root), elf_runpath(root)};
  for (size_t i = 0; i < elf_needed_count(root); i++) {
    const char *name = elf_needed(root, i);
    int dup = 0;
    for (size_t k = 0; k < c->n; k++)
      dup |= strcmp(c->libs[k].name, name) == 0;
    if (dup)
      continue;
    char path[PATH_MAX];
    int found = ldso_find(ld, name, &robj, exe, path, sizeof path) == 0;
    if (!add_lib(c, name, found ? path : NULL, root_path))
      return;
    if (!found)
      c->missing++;
  }
  /* then the needs of what was just added, one object at a time */
  for (size_t i = start; i < c->n; i++) {
    if (i >= MAX_LIBS) {
      c->truncated = 1;
      return;
    }
    if (!c->libs[i].path || c->libs[i].mapped)
      continue;
    struct elf_file *ef;
    char err[128];
    if (elf_open(c->libs[i].path, &ef, err, sizeof err) != 0)
      continue;
    const char *b = base_name(c->libs[i].path);
    if (!c->tls_in && strncmp(b, "libssl", 6) != 0 &&
        strncmp(b, "libcrypto", 9) != 0 && strncmp(b, "libboringssl", 12) &&
        elf_defines(ef, "SSL_write") == ELF_SYM_EXPORTED)
      c->tls_in = strdup(c->libs[i].path);
    struct ldso_obj obj = {c->libs[i].path, elf_rpath(ef), elf_runpath(ef)};
    char *by = c->libs[i].path;
    for (size_t k = 0; k < elf_needed_count(ef); k++) {
      const char *name = elf_needed(ef, k);
      int dup = 0;
      for (size_t q = 0; q < c->n; q++)
        dup |= strcmp(c->libs[q].name, name) == 0;
      if (dup)
        continue;
      char path[PATH_MAX];
      int found = ldso_find(ld, name, &obj, exe, path, sizeof path) == 0;
      /* add_lib may move the array: by points into an element's string,
       * which stays put */
      if (!add_lib(c, name, found ? path : NULL, by))
        break;
      if (!found)
        c->missing++;
    }
    elf_close(ef);
  }
}

/* ---- modules interpreters load later ---- */

static const char *first_match(const char *pattern, glob_t *g) {
  if (glob(pattern, 0, NULL, g) != 0 || g->gl_pathc == 0)
    return NULL;
  return g->gl_pathv[0];
}

static char *via_of(const struct closure *c, unsigned kind) {
  for (size_t i = 0; i < c->n; i++)
    if (lib_kind(c->libs[i].path ? c->libs[i].path : c->libs[i].name) == kind)
      return xstrdup(c->libs[i].name);
  return NULL;
}

/* Look for one module: the first pattern that matches names it; its
 * library closure says what it brings. */
static void add_module(struct dr_facts *f, struct ldso *ld,
                       const struct ldso_obj *exe, const char *what,
                       const char *const *patterns, size_t npat) {
  if (f->nmods >= DR_MAX_MODULES)
    return;
  struct dr_module *m = &f->mods[f->nmods++];
  memset(m, 0, sizeof *m);
  m->what = xstrdup(what);
  char looked[1024] = "";
  for (size_t i = 0; i < npat && !m->path; i++) {
    glob_t g;
    const char *p = first_match(patterns[i], &g);
    if (p)
      m->path = strdup(p);
    globfree(&g);
    size_t l = strlen(looked);
    snprintf(looked + l, sizeof looked - l, "%s%s", l ? ", " : "", patterns[i]);
  }
  if (!m->path) {
    m->looked = strdup(looked);
    return;
  }
  struct elf_file *ef;
  char err[128];
  if (elf_open(m->path, &ef, err, sizeof err) != 0)
    return;
  struct closure c = {0};
  walk(ld, m->path, ef, exe, &c);
  elf_close(ef);
  m->has = c.has & (DR_HAS_CURL | DR_HAS_SSL | DR_HAS_GNUTLS);
  if (m->has & DR_HAS_CURL)
    m->via = via_of(&c, DR_HAS_CURL);
  else if (m->has & DR_HAS_SSL)
    m->via = via_of(&c, DR_HAS_SSL);
  else if (m->has & DR_HAS_GNUTLS)
    m->via = via_of(&c, DR_HAS_GNUTLS);
  free_libs(c.libs, c.n);
  free(c.tls_in);
}

/* prefix: the folder above the interpreter's bin/ ("/usr"). ver: what
 * follows the stem in its name ("3.11" of python3.11), may be "". */
static void find_modules(struct dr_facts *f, struct ldso *ld,
                         const struct ldso_obj *exe,
                         const struct elf_file *ef) {
  char prefix[PATH_MAX];
  snprintf(prefix, sizeof prefix, "%s", f->real ? f->real : f->path);
  for (int up = 0; up < 2; up++) {
    char *s = strrchr(prefix, '/');
    if (!s)
      return;
    *s = '\0';
  }
  if (!prefix[0])
    strcpy(prefix, ""); /* /bin/python3 → prefix "" → "/lib/..." */
  const char *b = base_name(f->real ? f->real : f->path);
  const char *ver = b;
  while (*ver && !isdigit((unsigned char)*ver))
    ver++;
  char pat[4][PATH_MAX + 128];
  const char *pp[4] = {pat[0], pat[1], pat[2], pat[3]};
  switch (f->runtime) {
  case DR_RT_PYTHON:
    if (elf_defines(ef, "PyInit__ssl"))
      return; /* built in: its libraries are the program's own */
    snprintf(pat[0], sizeof pat[0], "%s/lib/python%s/lib-dynload/_ssl*.so",
             prefix, *ver ? ver : "3*");
    snprintf(pat[1], sizeof pat[1], "%s/lib/python3*/lib-dynload/_ssl*.so",
             prefix);
    add_module(f, ld, exe, "Python's _ssl module", pp, 2);
    break;
  case DR_RT_RUBY:
    snprintf(pat[0], sizeof pat[0], "%s/lib/*/ruby/%s*/openssl.so", prefix,
             ver);
    snprintf(pat[1], sizeof pat[1], "%s/lib/ruby/%s*/*/openssl.so", prefix,
             ver);
    add_module(f, ld, exe, "Ruby's openssl extension", pp, 2);
    break;
  case DR_RT_PHP:
    snprintf(pat[0], sizeof pat[0], "%s/lib/php/*/curl.so", prefix);
    snprintf(pat[1], sizeof pat[1], "%s/lib/php/extensions/*/curl.so", prefix);
    add_module(f, ld, exe, "PHP's curl extension", pp, 2);
    if (!(f->has & DR_HAS_SSL)) {
      snprintf(pat[0], sizeof pat[0], "%s/lib/php/*/openssl.so", prefix);
      snprintf(pat[1], sizeof pat[1], "%s/lib/php/extensions/*/openssl.so",
               prefix);
      add_module(f, ld, exe, "PHP's openssl extension", pp, 2);
    }
    break;
  case DR_RT_PERL:
    snprintf(pat[0], sizeof pat[0],
             "%s/lib/*/perl5/*/auto/Net/SSLeay/SSLeay.so", prefix);
    snprintf(pat[1], sizeof pat[1], "%s/lib/*/perl/*/auto/Net/SSLeay/SSLeay.so",
             prefix);
    snprintf(pat[2], sizeof pat[2], "%s/lib/perl5/*/auto/Net/SSLeay/SSLeay.so",
             prefix);
    snprintf(pat[3], sizeof pat[3],
             "/usr/local/lib/*/perl/*/auto/Net/SSLeay/SSLeay.so");
    add_module(f, ld, exe, "Perl's Net::SSLeay (IO::Socket::SSL, LWP)", pp, 4);
    break;
  default:
    break;
  }
}

/* ---- the file: mode bits, ELF, libraries ---- */

static void file_mode(struct dr_facts *f, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return;
  f->setuid = (st.st_mode & S_ISUID) != 0;
  f->setgid = (st.st_mode & S_ISGID) != 0;
  f->fcaps = getxattr(path, "security.capability", NULL, 0) > 0;
  /* The kernel sets AT_SECURE when exec changes the ids away from the
   * caller's real ones, or grants capabilities to a non-root caller. */
  f->secure = (f->setuid && st.st_uid != getuid()) ||
              (f->setgid && st.st_gid != getgid()) ||
              (f->fcaps && getuid() != 0);
}

/* Everything from the executable at path (elf_path is what to open: the
 * same, or /proc/PID/exe). llp: the program's LD_LIBRARY_PATH. */
static int probe_exe(struct dr_facts *f, const char *elf_path, const char *llp,
                     char *err, size_t errlen) {
  struct elf_file *ef;
  char why[160];
  if (elf_open(elf_path, &ef, why, sizeof why) != 0)
    return fail(err, errlen, "%s: %s", f->path, why);
  unsigned type = elf_type(ef);
  if (type != ET_EXEC && type != ET_DYN) {
    elf_close(ef);
    return fail(err, errlen, "%s: an ELF %s, not a program", f->path,
                type == ET_REL ? "object file" : "file of another type");
  }
  if (elf_type(ef) == ET_DYN && !elf_interp(ef) && elf_soname(ef) &&
      !(elf_flags_1(ef) & DF_1_PIE)) {
    elf_close(ef);
    return fail(err, errlen, "%s: a shared library (%s), not a program",
                f->path, "DT_SONAME, no PT_INTERP");
  }
  f->elf_class = elf_class(ef);
  f->machine = elf_machine(ef);
  const char *interp = elf_interp(ef);
  if (interp) {
    f->linking = DR_LINK_DYNAMIC;
    f->interp = strdup(interp);
    const char *b = base_name(interp);
    f->libc = strncmp(b, "ld-musl", 7) == 0 ? DR_LIBC_MUSL
              : strncmp(b, "ld-linux", 8) == 0 ||
                      strncmp(b, "ld64.so", 7) == 0 ||
                      strncmp(b, "ld.so", 5) == 0
                  ? DR_LIBC_GLIBC
                  : DR_LIBC_OTHER;
  } else {
    f->linking = elf_has_dynamic(ef) ? DR_LINK_STATIC_PIE : DR_LINK_STATIC;
    f->libc = DR_LIBC_NONE;
  }
  scan_markers(f, ef);
  struct closure c = {0};
  struct ldso *ld = NULL;
  struct ldso_obj exe = {f->real ? f->real : f->path, elf_rpath(ef),
                         elf_runpath(ef)};
  if (f->linking == DR_LINK_DYNAMIC) {
    ld = ldso_new(f->elf_class, f->machine, llp, f->secure, NULL);
    if (ld)
      walk(ld, exe.path, ef, &exe, &c);
  }
  f->libs = c.libs;
  f->nlibs = c.n;
  f->has = c.has;
  f->missing = c.missing;
  f->libs_truncated = c.truncated;
  if (f->markers & (DR_M_OPENSSL_IN | DR_M_BORINGSSL))
    f->tls_in = strdup(f->real ? f->real : f->path);
  else if (c.tls_in)
    f->tls_in = c.tls_in, c.tls_in = NULL;
  else if (!(c.has & DR_HAS_SSL) && !needs(ef, "libcrypto") &&
           !(f->markers & DR_M_RUSTLS) && has_openssl_banner(ef)) {
    f->markers |= DR_M_OPENSSL_IN; /* stripped, but OpenSSL's banner */
    f->tls_in = strdup(f->real ? f->real : f->path);
  }
  free(c.tls_in);
  classify(f, ef);
  if (ld)
    find_modules(f, ld, &exe, ef);
  ldso_free(ld);
  elf_close(ef);
  return 0;
}

int doctor_probe_shim(const char *path, struct dr_facts *f) {
  free(f->shim);
  f->shim = xstrdup(path);
  f->shim_hooks = 0;
  struct elf_file *ef;
  char err[128];
  if (!path || elf_open(path, &ef, err, sizeof err) != 0)
    return -1;
  if (elf_defines(ef, "curl_easy_perform") == ELF_SYM_EXPORTED)
    f->shim_hooks |= DR_HAS_CURL;
  if (elf_defines(ef, "SSL_write") == ELF_SYM_EXPORTED ||
      elf_defines(ef, "SSL_read") == ELF_SYM_EXPORTED)
    f->shim_hooks |= DR_HAS_SSL;
  if (elf_defines(ef, "gnutls_record_send") == ELF_SYM_EXPORTED)
    f->shim_hooks |= DR_HAS_GNUTLS;
  if (elf_defines(ef, "connect") == ELF_SYM_EXPORTED &&
      (elf_defines(ef, "recv") == ELF_SYM_EXPORTED ||
       elf_defines(ef, "read") == ELF_SYM_EXPORTED))
    f->shim_hooks |= DR_HOOK_SOCKETS;
  f->shim_class = elf_class(ef);
  f->shim_machine = elf_machine(ef);
  elf_close(ef);
  return 0;
}

int doctor_probe_cmd(const char *cmd, const char *shim_path, struct dr_facts *f,
                     char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->arg = strdup(cmd);
  char path[PATH_MAX];
  if (find_in_path(cmd, getenv("PATH"), path, sizeof path) != 0)
    return fail(err, errlen, "%s: not found%s", cmd,
                strchr(cmd, '/') ? "" : " in PATH");
  /* #! lines, at most as deep as the kernel follows them */
  for (int depth = 0;; depth++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return fail(err, errlen, "%s: %s", path, strerror(errno));
    char head[256];
    ssize_t n = read(fd, head, sizeof head - 1);
    close(fd);
    if (n < 0)
      return fail(err, errlen, "%s: %s", path, strerror(errno));
    head[n] = '\0';
    if (n < 2 || head[0] != '#' || head[1] != '!')
      break;
    if (depth >= DR_MAX_SCRIPTS)
      return fail(err, errlen, "%s: too many nested #! interpreters%s", path,
                  "");
    head[strcspn(head, "\n")] = '\0';
    char *line = head + 2;
    line += strspn(line, " \t");
    f->scripts[f->nscripts] = strdup(path);
    f->shebangs[f->nscripts++] = strdup(line);
    char next[PATH_MAX];
    if (shebang_target(line, next, sizeof next) != 0)
      return fail(err, errlen, "%s: its #! interpreter '%s' is not found", path,
                  line);
    snprintf(path, sizeof path, "%s", next);
  }
  f->path = strdup(path);
  char real[PATH_MAX];
  f->real = strdup(realpath(path, real) ? real : path);
  file_mode(f, f->real);
  doctor_probe_shim(shim_path, f);
  return probe_exe(f, f->real, getenv("LD_LIBRARY_PATH"), err, errlen);
}

/* ---- a running process ---- */

static char *read_small(const char *path, size_t max, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  size_t cap = 8192, n = 0;
  char *buf = malloc(cap + 1);
  while (buf) {
    if (n == cap) {
      if (cap >= max)
        break;
      cap *= 2;
      char *b = realloc(buf, cap + 1);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r < 0) {
        free(buf);
        buf = NULL;
      }
      break;
    }
    n += (size_t)r;
  }
  int e = errno;
  close(fd);
  errno = e;
  if (buf) {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

static void read_environ(struct dr_facts *f, char **llp) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/environ", (int)f->pid);
  size_t len = 0;
  char *env = read_small(p, MAX_ENVIRON_BYTES, &len);
  if (!env)
    return;
  f->environ_readable = 1;
  for (size_t i = 0; i < len;) {
    const char *e = env + i;
    size_t l = strnlen(e, len - i);
    if (strncmp(e, "LD_PRELOAD=", 11) == 0) {
      free(f->ld_preload);
      f->ld_preload = strndup(e + 11, l - 11);
    } else if (strncmp(e, "LD_LIBRARY_PATH=", 16) == 0) {
      free(*llp);
      *llp = strndup(e + 16, l - 16);
    } else if (strncmp(e, "AUTOTRACE_", 10) == 0 && f->nat_env < 64) {
      char **a = realloc(f->at_env, (f->nat_env + 1) * sizeof *a);
      if (a) {
        f->at_env = a;
        f->at_env[f->nat_env++] = strndup(e, l);
      }
      const char *v = e + sizeof "AUTOTRACE_DISABLE=" - 1;
      if (strncmp(e, "AUTOTRACE_DISABLE=", 18) == 0 && *v &&
          strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0 &&
          strcasecmp(v, "no") != 0 && strcasecmp(v, "off") != 0)
        f->disabled = 1; /* the shim's own rule (preload/config.c) */
    }
    i += l + 1;
  }
  free(env);
}

/* Files mapped now: marks the closure's entries, adds the rest. */
static int read_maps(struct dr_facts *f, char *err, size_t errlen) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/maps", (int)f->pid);
  size_t len = 0;
  char *maps = read_small(p, MAX_MAPS_BYTES, &len);
  if (!maps)
    return fail(err, errlen, "cannot read %s: %s", p, strerror(errno));
  struct closure c = {f->libs, f->nlibs, f->nlibs, f->has, 0, 0, NULL};
  /* the closure's files by their real paths, as maps names them */
  size_t nreal = c.n;
  char **real = calloc(nreal ? nreal : 1, sizeof *real);
  if (!real) {
    free(maps);
    return fail(err, errlen, "out of memory%s%s", "", "");
  }
  for (size_t i = 0; i < nreal; i++) {
    char buf[PATH_MAX];
    if (c.libs[i].path)
      real[i] = strdup(realpath(c.libs[i].path, buf) ? buf : c.libs[i].path);
  }
  char *save = NULL;
  for (char *line = strtok_r(maps, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    char *file = strchr(line, '/');
    if (!file || !strstr(file, ".so"))
      continue;
    char *del = strstr(file, " (deleted)");
    if (del)
      *del = '\0';
    int seen = 0;
    for (size_t i = 0; i < nreal && !seen; i++)
      if (real[i] && strcmp(real[i], file) == 0)
        seen = c.libs[i].mapped = 1;
    for (size_t i = nreal; i < c.n && !seen; i++)
      seen = strcmp(c.libs[i].path, file) == 0;
    if (seen)
      continue;
    struct dr_lib *l = add_lib(&c, base_name(file), file, NULL);
    if (l)
      l->mapped = 1;
    if (lib_kind(file) == DR_HAS_SHIM && !f->shim_mapped) {
      f->shim_loaded = 1;
      f->shim_mapped = strdup(file);
    }
  }
  free(maps);
  for (size_t i = 0; i < nreal; i++)
    free(real[i]);
  free(real);
  f->libs = c.libs;
  f->nlibs = c.n;
  f->has = c.has;
  return 0;
}

int doctor_probe_pid(pid_t pid, const char *shim_path, struct dr_facts *f,
                     char *err, size_t errlen) {
  memset(f, 0, sizeof *f);
  f->pid = pid;
  char arg[32];
  snprintf(arg, sizeof arg, "%d", (int)pid);
  f->arg = strdup(arg);
  char exe[64], target[PATH_MAX];
  snprintf(exe, sizeof exe, "/proc/%d/exe", (int)pid);
  ssize_t n = readlink(exe, target, sizeof target - 1);
  if (n < 0) {
    if (errno == ENOENT)
      return fail(err, errlen, "no process %s%s", arg, "");
    return fail(err, errlen, "cannot read %s: %s", exe, strerror(errno));
  }
  target[n] = '\0';
  f->path = strdup(target);
  f->real = strdup(target);
  char *del = strstr(f->real, " (deleted)");
  if (del)
    *del = '\0';
  file_mode(f, exe);
  char *llp = NULL;
  read_environ(f, &llp);
  int rc = probe_exe(f, exe, llp, err, errlen);
  free(llp);
  if (rc != 0)
    return rc;
  if (read_maps(f, err, errlen) != 0)
    return -1;
  doctor_probe_shim(f->shim_mapped ? f->shim_mapped : shim_path, f);
  return 0;
}

void doctor_facts_free(struct dr_facts *f) {
  free(f->arg);
  free(f->path);
  free(f->real);
  for (size_t i = 0; i < f->nscripts; i++) {
    free(f->scripts[i]);
    free(f->shebangs[i]);
  }
  free(f->interp);
  free(f->runtime_why);
  free(f->tls_in);
  free_libs(f->libs, f->nlibs);
  for (size_t i = 0; i < f->nmods; i++) {
    free(f->mods[i].what);
    free(f->mods[i].path);
    free(f->mods[i].looked);
    free(f->mods[i].via);
  }
  free(f->shim_mapped);
  free(f->ld_preload);
  for (size_t i = 0; i < f->nat_env; i++)
    free(f->at_env[i]);
  free(f->at_env);
  free(f->shim);
  memset(f, 0, sizeof *f);
}
