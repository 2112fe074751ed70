/* autotrace doctor's pieces on programs built here: the ELF reader
 * (cli/elf_inspect.c), the loader-order search (cli/ldso.c), the probe and
 * the verdicts. Each test compiles what it inspects with the system cc. */
#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/doctor.h"
#include "cli/elf_inspect.h"
#include "cli/ldso.h"
#include "helpers.h"

static const char main_src[] = "int main(void) { return 0; }\n";

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "create %s", path);
  fputs(text, f);
  fclose(f);
}

/* Compile src into dir/name with extra flags; fails the test when cc
 * fails. Returns the output's path (malloc()ed). */
static char *cc(const char *dir, const char *name, const char *src,
                const char *flags) {
  char c[PATH_MAX], out[PATH_MAX], cmd[4 * PATH_MAX + 64];
  snprintf(c, sizeof c, "%s/%s.c", dir, name);
  snprintf(out, sizeof out, "%s/%s", dir, name);
  write_file(c, src);
  snprintf(cmd, sizeof cmd, "cc -o '%s' '%s' %s >'%s.err' 2>&1", out, c, flags,
           out);
  int rc = system(cmd);
  if (rc != 0) {
    char e[PATH_MAX + 8];
    snprintf(e, sizeof e, "%s.err", out);
    FILE *f = fopen(e, "r");
    char msg[1024] = "";
    if (f) {
      size_t n = fread(msg, 1, sizeof msg - 1, f);
      msg[n] = '\0';
      fclose(f);
    }
    cr_assert_fail("cc %s failed: %s", flags, msg);
  }
  return strdup(out);
}

static int needs(const struct elf_file *ef, const char *name) {
  for (size_t i = 0; i < elf_needed_count(ef); i++)
    if (strcmp(elf_needed(ef, i), name) == 0)
      return 1;
  return 0;
}

static struct dr_facts probe(const char *path, unsigned hooks) {
  struct dr_facts f;
  char err[512];
  int rc = doctor_probe_cmd(path, NULL, &f, err, sizeof err);
  cr_assert_eq(rc, 0, "probe %s: %s", path, err);
  f.shim_hooks = hooks; /* as if the shim had these paths */
  return f;
}

Test(doctor, a_dynamic_program_has_an_interpreter_and_its_needs) {
  char *d = th_tmpdir();
  char *exe = cc(d, "withcurl", main_src, "-Wl,--no-as-needed -lcurl");
  struct elf_file *ef;
  char err[256];
  cr_assert_eq(elf_open(exe, &ef, err, sizeof err), 0, "%s", err);
  cr_expect_eq(elf_class(ef), sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32);
  cr_expect_not_null(elf_interp(ef));
  cr_expect(strstr(elf_interp(ef), "ld-") != NULL, "%s", elf_interp(ef));
  cr_expect(needs(ef, "libcurl.so.4"));
  cr_expect(needs(ef, "libc.so.6"));
  cr_expect(elf_has_section(ef, ".text"));
  cr_expect_not(elf_has_section(ef, ".go.buildinfo"));
  cr_expect_eq(elf_defines(ef, "main"), ELF_SYM_LOCAL, "main is in .symtab");
  cr_expect_eq(elf_defines(ef, "curl_easy_perform"), ELF_SYM_NONE,
               "an undefined reference is not a definition");
  elf_close(ef);

  struct dr_facts f = probe(exe, DR_HAS_CURL);
  cr_expect_eq(f.linking, DR_LINK_DYNAMIC);
  cr_expect_eq(f.libc, DR_LIBC_GLIBC);
  cr_expect(f.has & DR_HAS_CURL);
  cr_expect(f.has & DR_HAS_SSL, "libcurl brings libssl with it");
  cr_expect_eq(f.missing, 0);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect_eq(j.nblockers, 0);
  cr_expect_eq(j.path[DR_PATH_CURL].verdict, DR_WILL, "%s",
               j.path[DR_PATH_CURL].reason);
  cr_expect(strstr(j.path[DR_PATH_CURL].reason, "libcurl.so.4") != NULL);
  cr_expect_eq(j.path[DR_PATH_OPENSSL].verdict, DR_WONT);
  cr_expect(strstr(j.path[DR_PATH_OPENSSL].reason, "no OpenSSL hooks"), "%s",
            j.path[DR_PATH_OPENSSL].reason);
  cr_expect_eq(doctor_exit_status(&j), 0);
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

Test(doctor, libssl_and_libgnutls_programs) {
  char *d = th_tmpdir();
  char *ssl = cc(d, "withssl", main_src, "-Wl,--no-as-needed -lssl");
  char *gnutls = cc(d, "withgnutls", main_src, "-Wl,--no-as-needed -lgnutls");

  struct dr_facts f = probe(ssl, DR_HAS_CURL | DR_HAS_SSL | DR_HAS_GNUTLS);
  cr_expect(f.has & DR_HAS_SSL);
  cr_expect_not(f.has & DR_HAS_CURL);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect_eq(j.path[DR_PATH_OPENSSL].verdict, DR_WILL, "%s",
               j.path[DR_PATH_OPENSSL].reason);
  cr_expect(strstr(j.path[DR_PATH_OPENSSL].reason, "libssl.so.3") != NULL, "%s",
            j.path[DR_PATH_OPENSSL].reason);
  cr_expect_eq(j.path[DR_PATH_CURL].verdict, DR_WONT);
  cr_expect_eq(j.path[DR_PATH_GNUTLS].verdict, DR_WONT);
  /* The same program judged for a shim without OpenSSL hooks. */
  f.shim_hooks = DR_HAS_CURL;
  doctor_judge(&f, &j);
  cr_expect_eq(j.path[DR_PATH_OPENSSL].verdict, DR_WONT);
  cr_expect_eq(doctor_exit_status(&j), 1, "nothing can see it then");
  doctor_facts_free(&f);

  f = probe(gnutls, DR_HAS_GNUTLS);
  cr_expect(f.has & DR_HAS_GNUTLS);
  doctor_judge(&f, &j);
  cr_expect_eq(j.path[DR_PATH_GNUTLS].verdict, DR_WILL, "%s",
               j.path[DR_PATH_GNUTLS].reason);
  doctor_facts_free(&f);
  free(ssl);
  free(gnutls);
  free(d);
}

Test(doctor, a_static_program_has_no_interpreter_and_is_blocked) {
  char *d = th_tmpdir();
  char *exe = cc(d, "static", main_src, "-static");
  struct elf_file *ef;
  char err[256];
  cr_assert_eq(elf_open(exe, &ef, err, sizeof err), 0, "%s", err);
  cr_expect_null(elf_interp(ef));
  cr_expect_eq(elf_needed_count(ef), 0);
  elf_close(ef);
  struct dr_facts f = probe(exe, DR_HAS_CURL | DR_HOOK_SOCKETS);
  cr_expect_neq(f.linking, DR_LINK_DYNAMIC);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_assert_eq(j.nblockers, 1);
  cr_expect(strstr(j.blocker[0].reason, "LD_PRELOAD is ignored") != NULL);
  cr_expect_eq(doctor_exit_status(&j), 1);
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

Test(doctor, static_pie_is_static_and_a_library_is_no_program) {
  char *d = th_tmpdir();
  char *exe = cc(d, "spie", main_src, "-static-pie");
  struct dr_facts f = probe(exe, DR_HAS_CURL);
  cr_expect_eq(f.linking, DR_LINK_STATIC_PIE);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect_eq(j.nblockers, 1);
  doctor_facts_free(&f);
  char *so = cc(d, "libx.so", "int x(void) { return 1; }\n",
                "-shared -fPIC -Wl,-soname,libx.so");
  char err[512];
  cr_expect_neq(doctor_probe_cmd(so, NULL, &f, err, sizeof err), 0);
  cr_expect(strstr(err, "shared library") != NULL, "%s", err);
  doctor_facts_free(&f);
  free(so);
  free(exe);
  free(d);
}

Test(doctor, a_setuid_copy_is_seen_as_set_user_id) {
  char *d = th_tmpdir();
  char *exe = cc(d, "suid", main_src, "-Wl,--no-as-needed -lcurl");
  cr_assert_eq(chmod(exe, 04755), 0);
  int chowned = getuid() == 0 && chown(exe, 65534, 65534) == 0 &&
                chmod(exe, 04755) == 0; /* chown clears the bit */
  struct dr_facts f = probe(exe, DR_HAS_CURL);
  cr_expect(f.setuid);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  if (chowned) {
    /* another user's set-user-ID program: secure-execution mode */
    cr_expect(f.secure);
    cr_assert_eq(j.nblockers, 1);
    cr_expect(strstr(j.blocker[0].reason, "secure-execution") != NULL, "%s",
              j.blocker[0].reason);
  } else {
    /* our own: exec does not change the user, LD_PRELOAD works */
    cr_expect_not(f.secure);
    cr_expect_eq(j.nblockers, 0);
  }
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

/* A stand-in for a Go binary: a C program given a .go.buildinfo section
 * holding the buildinfo magic by objcopy (no Go toolchain needed). */
Test(doctor, a_go_buildinfo_section_marks_a_go_program) {
  char *d = th_tmpdir();
  char *exe = cc(d, "fakego", main_src, "");
  char info[PATH_MAX], cmd[3 * PATH_MAX];
  snprintf(info, sizeof info, "%s/buildinfo.bin", d);
  FILE *fi = fopen(info, "w");
  cr_assert_not_null(fi);
  /* magic, pointer size, flags (written apart: this test's own file must
   * not hold the blob, or the PID test below would take it for Go) */
  fputs("\xff Go buildinf:", fi);
  fputc(8, fi);
  fputc(2, fi);
  fclose(fi);
  snprintf(cmd, sizeof cmd,
           "objcopy --add-section .go.buildinfo='%s' '%s' 2>/dev/null", info,
           exe);
  cr_assert_eq(system(cmd), 0, "objcopy");
  struct elf_file *ef;
  char err[256];
  cr_assert_eq(elf_open(exe, &ef, err, sizeof err), 0, "%s", err);
  cr_expect(elf_has_section(ef, ".go.buildinfo"));
  elf_close(ef);
  struct dr_facts f = probe(exe, DR_HAS_CURL | DR_HAS_SSL | DR_HOOK_SOCKETS);
  cr_expect(f.markers & DR_M_GO);
  cr_expect_eq(f.runtime, DR_RT_GO);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_assert_eq(j.nblockers, 1);
  cr_expect(strstr(j.blocker[0].reason, "Go") != NULL);
  cr_expect_eq(doctor_exit_status(&j), 1);
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

Test(doctor, a_program_with_its_own_ssl_write_is_not_seen_by_openssl) {
  char *d = th_tmpdir();
  char *exe = cc(d, "ownssl",
                 "int SSL_write(void *s, const void *b, int n);\n"
                 "int SSL_write(void *s, const void *b, int n) {\n"
                 "  (void)s; (void)b; return n; }\n"
                 "int main(void) { return SSL_write(0, 0, 0); }\n",
                 "");
  struct dr_facts f = probe(exe, DR_HAS_SSL);
  cr_expect(f.markers & DR_M_OPENSSL_IN);
  cr_expect_not_null(f.tls_in);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect_eq(j.path[DR_PATH_OPENSSL].verdict, DR_WONT);
  cr_expect(strstr(j.path[DR_PATH_OPENSSL].reason, "carries its own") != NULL,
            "%s", j.path[DR_PATH_OPENSSL].reason);
  cr_expect_neq(j.path[DR_PATH_OPENSSL].advice[0], '\0');
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

/* The real thing when Debian's libssl-dev is there: OpenSSL's archives
 * linked into the program (what official Node.js builds do). */
Test(doctor, openssl_linked_statically_is_recognised) {
  if (access("/usr/lib/x86_64-linux-gnu/libssl.a", R_OK) != 0)
    cr_skip_test("no libssl.a");
  char *d = th_tmpdir();
  char *exe = cc(d, "staticssl",
                 "#include <openssl/ssl.h>\n"
                 "#include <stdio.h>\n"
                 "int main(int argc, char **argv) {\n"
                 "  (void)argv;\n"
                 "  if (argc > 5) return SSL_write(0, 0, 0);\n"
                 "  if (argc > 4) puts(OpenSSL_version(OPENSSL_VERSION));\n"
                 "  return 0; }\n",
                 "-Wl,-Bstatic -lssl -lcrypto -Wl,-Bdynamic -ldl -pthread");
  struct dr_facts f = probe(exe, DR_HAS_SSL);
  cr_expect_not(f.has & DR_HAS_SSL, "no shared libssl");
  cr_expect(f.markers & DR_M_OPENSSL_IN);
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect_eq(j.path[DR_PATH_OPENSSL].verdict, DR_WONT);
  /* stripped, only OpenSSL's version banner is left to recognise it by */
  char cmd[2 * PATH_MAX];
  snprintf(cmd, sizeof cmd, "strip '%s'", exe);
  cr_assert_eq(system(cmd), 0);
  doctor_facts_free(&f);
  f = probe(exe, DR_HAS_SSL);
  cr_expect(f.markers & DR_M_OPENSSL_IN, "the banner after strip");
  doctor_facts_free(&f);
  free(exe);
  free(d);
}

Test(doctor, runpath_origin_and_ld_library_path_are_followed) {
  char *d = th_tmpdir();
  char lib[PATH_MAX], sub[PATH_MAX], flags[3 * PATH_MAX];
  snprintf(sub, sizeof sub, "%s/lib", d);
  mkdir(sub, 0755);
  snprintf(lib, sizeof lib, "%s/lib", d);
  char *so = cc(sub, "libdrtest.so", "int drtest(void) { return 1; }\n",
                "-shared -fPIC -Wl,-soname,libdrtest.so");
  snprintf(flags, sizeof flags,
           "-Wl,--no-as-needed -L'%s' -ldrtest -Wl,-rpath,'$ORIGIN/lib' "
           "-Wl,--enable-new-dtags",
           lib);
  char *exe = cc(d, "usesdr", main_src, flags);
  struct elf_file *ef;
  char err[256];
  cr_assert_eq(elf_open(exe, &ef, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(elf_runpath(ef), "$ORIGIN/lib");
  cr_expect_null(elf_rpath(ef));
  struct ldso_obj obj = {exe, elf_rpath(ef), elf_runpath(ef)};
  struct ldso *ld = ldso_new(elf_class(ef), elf_machine(ef), NULL, 0, NULL);
  char out[PATH_MAX], real[PATH_MAX];
  cr_assert_eq(ldso_find(ld, "libdrtest.so", &obj, &obj, out, sizeof out), 0);
  cr_expect_str_eq(realpath(out, real), so);
  cr_expect_eq(ldso_find(ld, "libc.so.6", &obj, &obj, out, sizeof out), 0,
               "from ld.so.cache or the default folders");
  cr_expect_neq(
      ldso_find(ld, "libnothere-xyz.so.9", &obj, &obj, out, sizeof out), 0);
  ldso_free(ld);
  /* Without the runpath: found through LD_LIBRARY_PATH only, and not in
   * secure-execution mode. */
  struct ldso_obj bare = {exe, NULL, NULL};
  ld = ldso_new(elf_class(ef), elf_machine(ef), lib, 0, NULL);
  cr_expect_eq(ldso_find(ld, "libdrtest.so", &bare, &bare, out, sizeof out), 0);
  ldso_free(ld);
  ld = ldso_new(elf_class(ef), elf_machine(ef), lib, 1, NULL);
  cr_expect_neq(ldso_find(ld, "libdrtest.so", &bare, &bare, out, sizeof out),
                0);
  ldso_free(ld);
  elf_close(ef);
  free(so);
  free(exe);
  free(d);
}

Test(doctor, the_shim_hooks_are_read_from_its_exports) {
  char *d = th_tmpdir();
  char *so = cc(d, "fakeshim.so",
                "__attribute__((visibility(\"default\"))) int "
                "curl_easy_perform(void *h) { (void)h; return 0; }\n"
                "__attribute__((visibility(\"default\"))) int "
                "SSL_write(void *s, const void *b, int n) {\n"
                "  (void)s; (void)b; return n; }\n",
                "-shared -fPIC");
  struct dr_facts f;
  memset(&f, 0, sizeof f);
  cr_assert_eq(doctor_probe_shim(so, &f), 0);
  cr_expect_eq(f.shim_hooks, DR_HAS_CURL | DR_HAS_SSL);
  doctor_facts_free(&f);
  free(so);
  free(d);
}

Test(doctor, scripts_lead_to_their_interpreter) {
  char *d = th_tmpdir();
  char s1[PATH_MAX], s2[PATH_MAX];
  snprintf(s1, sizeof s1, "%s/inner.sh", d);
  write_file(s1, "#!/usr/bin/env -S sh -e\necho hi\n");
  chmod(s1, 0755);
  snprintf(s2, sizeof s2, "%s/outer", d);
  char text[PATH_MAX + 16];
  snprintf(text, sizeof text, "#!%s\n", s1);
  write_file(s2, text);
  chmod(s2, 0755);
  struct dr_facts f = probe(s2, 0);
  cr_expect_eq(f.nscripts, 2);
  cr_expect_str_eq(f.scripts[0], s2);
  cr_expect_str_eq(f.scripts[1], s1);
  cr_expect(strstr(f.path, "/sh") != NULL, "%s", f.path);
  cr_expect_eq(f.runtime, DR_RT_SHELL, "%s", f.real);
  doctor_facts_free(&f);

  char err[256];
  cr_expect_neq(
      doctor_probe_cmd("no-such-program-xyz", NULL, &f, err, sizeof err), 0);
  cr_expect(strstr(err, "not found") != NULL, "%s", err);
  doctor_facts_free(&f);
  free(d);
}

Test(doctor, malformed_files_are_refused_not_crashed_on) {
  char *d = th_tmpdir();
  char p[PATH_MAX], err[256];
  struct elf_file *ef;
  snprintf(p, sizeof p, "%s/text", d);
  write_file(p, "hello, this is not a program at all\n");
  cr_expect_neq(elf_open(p, &ef, err, sizeof err), 0);
  cr_expect_str_eq(err, "not an ELF file");
  /* every prefix of a real program: an error or a partial read, never a
   * fault (ASan watches) */
  char *exe = cc(d, "prog", main_src, "-lcurl");
  int fd = open(exe, O_RDONLY);
  cr_assert(fd >= 0);
  static unsigned char buf[1 << 16];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  cr_assert_gt(n, 4096);
  snprintf(p, sizeof p, "%s/cut", d);
  for (ssize_t len = 1; len < n; len += len < 128 ? 1 : 97) {
    FILE *f = fopen(p, "w");
    fwrite(buf, 1, (size_t)len, f);
    fclose(f);
    if (elf_open(p, &ef, err, sizeof err) == 0) {
      for (size_t i = 0; i < elf_needed_count(ef); i++)
        cr_expect_not_null(elf_needed(ef, i));
      (void)elf_defines(ef, "main");
      (void)elf_has_section(ef, ".text");
      elf_close(ef);
    }
  }
  /* a header whose tables point far outside the file */
  memcpy(buf + 0x20, "\xff\xff\xff\xff\xff\xff\x00\x00", 8); /* e_phoff */
  FILE *f = fopen(p, "w");
  fwrite(buf, 1, (size_t)n, f);
  fclose(f);
  cr_expect_neq(elf_open(p, &ef, err, sizeof err), 0);
  free(exe);
  free(d);
}

Test(doctor, a_running_process_shows_what_is_mapped) {
  struct dr_facts f;
  char err[512];
  /* this test binary links libcurl (see the Makefile's unit link line) */
  cr_assert_eq(doctor_probe_pid(getpid(), NULL, &f, err, sizeof err), 0, "%s",
               err);
  cr_expect(f.environ_readable);
  cr_expect(f.has & DR_HAS_CURL);
  int mapped = 0;
  for (size_t i = 0; i < f.nlibs; i++)
    if (strstr(f.libs[i].name, "libcurl") && f.libs[i].mapped)
      mapped = 1;
  cr_expect(mapped, "libcurl is mapped in this process");
  cr_expect_not(f.shim_loaded);
  f.shim_hooks = DR_HAS_CURL;
  struct dr_judgement j;
  doctor_judge(&f, &j);
  cr_expect(j.restart_needed, "no shim here: a restart is needed (%zu: %s)",
            j.nblockers, j.nblockers ? j.blocker[0].reason : "");
  cr_expect_eq(doctor_exit_status(&j), 1);
  cJSON *o = doctor_json(&f, &j);
  cr_assert_not_null(o);
  cJSON *pr = cJSON_GetObjectItem(o, "process");
  cr_assert_not_null(pr);
  cr_expect(cJSON_IsFalse(cJSON_GetObjectItem(pr, "shim_loaded")));
  cJSON_Delete(o);
  doctor_facts_free(&f);
  cr_expect_neq(doctor_probe_pid(0x3ffffff0, NULL, &f, err, sizeof err), 0);
  doctor_facts_free(&f);
}
