/* elf_inspect: read what `autotrace doctor` needs from an ELF file without
 * running it — `ldd` may execute the program it is asked about, so the
 * doctor reads the headers itself.
 *
 * The file is mapped read-only and every offset, size and string is checked
 * against the mapping before use: a truncated or hostile file gives an
 * error or an absent field, never a crash. ELF32 and ELF64, either byte
 * order. What is read:
 *   - the header: class, byte order, type, machine;
 *   - program headers: PT_INTERP (no interpreter = static: the dynamic
 *     loader never runs, so LD_PRELOAD is ignored), PT_DYNAMIC;
 *   - the dynamic section, as the loader reads it (through the segments,
 *     not the section headers): DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME;
 *   - section names (.go.buildinfo, .bun, ...);
 *   - defined symbols of .dynsym (exported) and .symtab (present unless
 *     stripped). */
#ifndef AT_CLI_ELF_INSPECT_H
#define AT_CLI_ELF_INSPECT_H

#include <stddef.h>
#include <stdint.h>

struct elf_file;

/* Open and check the file at path. Returns 0 with *out set, or -1 with a
 * one-line reason in err ("not an ELF file", "truncated program headers",
 * or the errno text). */
int elf_open(const char *path, struct elf_file **out, char *err, size_t errlen);
void elf_close(struct elf_file *ef);

/* 1 for ELFCLASS32, 2 for ELFCLASS64 (the e_ident values). */
int elf_class(const struct elf_file *ef);
/* e_machine and e_type (ET_EXEC, ET_DYN, ...). */
unsigned elf_machine(const struct elf_file *ef);
unsigned elf_type(const struct elf_file *ef);

/* The PT_INTERP path, or NULL for a statically linked file (or a shared
 * library, which has none either). */
const char *elf_interp(const struct elf_file *ef);

/* Whether the file has a PT_DYNAMIC segment (a static-pie executable has
 * one but no interpreter). */
int elf_has_dynamic(const struct elf_file *ef);

/* DT_NEEDED entries in order; NULL past the end. */
size_t elf_needed_count(const struct elf_file *ef);
const char *elf_needed(const struct elf_file *ef, size_t i);

/* DT_RPATH, DT_RUNPATH, DT_SONAME, or NULL when absent. */
const char *elf_rpath(const struct elf_file *ef);
const char *elf_runpath(const struct elf_file *ef);
const char *elf_soname(const struct elf_file *ef);

/* DT_FLAGS_1 (DF_1_PIE marks a position-independent executable), 0 when
 * absent. */
uint64_t elf_flags_1(const struct elf_file *ef);

/* Whether a section of this name exists (needs section headers). */
int elf_has_section(const struct elf_file *ef, const char *name);

enum elf_sym_where {
  ELF_SYM_NONE = 0,
  ELF_SYM_LOCAL = 1,   /* defined in .symtab only: not exported */
  ELF_SYM_EXPORTED = 2 /* defined in .dynsym (visible to the loader) */
};

/* Where a symbol of this name is defined in the file (not merely
 * referenced: undefined entries do not count). A versioned definition
 * matches its plain name. */
enum elf_sym_where elf_defines(const struct elf_file *ef, const char *name);

/* Whether the exact byte string occurs anywhere in the file. */
int elf_contains(const struct elf_file *ef, const char *bytes, size_t n);

/* The whole file's bytes (read-only), for scans elf_contains cannot do. */
const unsigned char *elf_bytes(const struct elf_file *ef, size_t *size);

/* Just the header check, for a candidate library: 0 when path is an ELF
 * file of this class and machine, -1 otherwise. Reads 64 bytes. */
int elf_matches(const char *path, int cls, unsigned machine);

#endif
