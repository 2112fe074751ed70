/* A shared object with known functions, built twice (Makefile): with its
 * .symtab, and stripped (only .dynsym is left). */
#include <stdint.h>

__attribute__((noinline)) static int symtest_hidden(int x) {
  __asm__ volatile("" ::: "memory");
  return x * 3 + 1;
}

__attribute__((visibility("default"), noinline)) int symtest_public(int x);
int symtest_public(int x) {
  __asm__ volatile("" ::: "memory");
  return symtest_hidden(x) + 2;
}

/* The address of the static function, for the test to symbolize. */
__attribute__((visibility("default"))) uintptr_t symtest_hidden_addr(void);
uintptr_t symtest_hidden_addr(void) {
  return (uintptr_t)symtest_hidden;
}
