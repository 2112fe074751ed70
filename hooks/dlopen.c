/* dlopen: clears RTLD_DEEPBIND, so that libraries loaded that way still
 * reach our hooks.
 *
 * PHP loads its extensions with dlopen(RTLD_GLOBAL | RTLD_DEEPBIND): the
 * curl extension, its libcurl and everything they load then bind to their
 * own dependencies first, past the preloaded shim — no curl, TLS or
 * socket hook would ever see PHP's curl_exec(). Without DEEPBIND they bind
 * like every other library (the global scope first, then their own
 * dependencies). The flag exists to keep an extension's libraries from
 * colliding with the host's symbols (mod_php inside Apache); a program
 * that needs it can keep it with AUTOTRACE_KEEP_DEEPBIND=1, or with
 * AUTOTRACE_DISABLE=1.
 *
 * The hook must not become dlopen's caller: glibc takes the caller's
 * RPATH/RUNPATH and namespace from the return address, so a plain C
 * wrapper would change how an application's relative plugin names are
 * found. The entry point is therefore a small assembly stub that asks
 * at_dlopen_prepare() for the real dlopen (and the flags to use), then
 * jumps to it with the application's return address untouched. x86-64
 * only; elsewhere dlopen is not hooked and DEEPBIND'ed libraries stay
 * out of reach (docs/capture-tls.md). */
#include <dlfcn.h>
#include <errno.h>

#include "preload/log.h"
#include "preload/runtime.h"
#include "preload/symbols.h"

#if defined(__x86_64__) && defined(__ELF__)

void *at_dlopen_prepare(long *flags);

static void *real_dlopen;

/* Called by the stub with a pointer to the flags argument it saved. */
__attribute__((used)) void *at_dlopen_prepare(long *flags) {
  int saved = errno;
  void *real = at_resolve(&real_dlopen, "dlopen", NULL);
  int f = (int)*flags;
  if ((f & RTLD_DEEPBIND) && at_enabled() && !at_cfg.keep_deepbind) {
    *flags = (long)(f & ~RTLD_DEEPBIND);
    AT_DBG("dlopen: RTLD_DEEPBIND cleared (set %s=1 to keep it)",
           AT_ENV_KEEP_DEEPBIND);
  }
  errno = saved;
  return real;
}

/* dlopen(file, flags): save the arguments, prepare, restore, jump. The
 * stack is 16-byte aligned at the call (entry rsp = 8 mod 16, two pushes,
 * 8 more). */
__asm__(".text\n"
        ".globl dlopen\n"
        ".type dlopen, @function\n"
        "dlopen:\n"
        "  pushq %rdi\n"
        "  pushq %rsi\n"
        "  subq $8, %rsp\n"
        "  leaq 8(%rsp), %rdi\n"
        "  call at_dlopen_prepare\n"
        "  addq $8, %rsp\n"
        "  popq %rsi\n"
        "  popq %rdi\n"
        "  testq %rax, %rax\n"
        "  jz 1f\n"
        "  jmp *%rax\n"
        "1:\n"
        "  xorl %eax, %eax\n"
        "  ret\n"
        ".size dlopen, .-dlopen\n");

#endif
