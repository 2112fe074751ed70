/* elf_inspect: see elf_inspect.h. Fields are read through rd*() with the
 * file's byte order, and every table is range-checked against the mapping
 * first, so the same code reads ELF32 and ELF64, little and big endian. */
#include "elf_inspect.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds on tables, so a hostile header cannot make us walk for long. */
#define MAX_PHDRS 4096
#define MAX_SHDRS 65536
#define MAX_DYN 65536
#define MAX_NEEDED 512

struct seg {
  uint64_t type, offset, vaddr, filesz;
};

struct elf_file {
  const unsigned char *map;
  size_t size;
  int cls;  /* ELFCLASS32 / ELFCLASS64 */
  int swap; /* the file's byte order is not ours */
  unsigned type, machine;
  struct seg *segs;
  size_t nsegs;
  const char *interp;
  int has_dynamic;
  const char **needed;
  size_t nneeded;
  const char *rpath, *runpath, *soname;
  uint64_t flags_1;
  /* section headers: offset of the table, count, entry size, and the
   * section-name string table */
  uint64_t shoff;
  size_t shnum, shentsize;
  uint64_t shstr_off, shstr_size;
};

static uint16_t rd16(const struct elf_file *ef, uint64_t off) {
  const unsigned char *p = ef->map + off;
  uint16_t v;
  memcpy(&v, p, 2);
  return ef->swap ? __builtin_bswap16(v) : v;
}

static uint32_t rd32(const struct elf_file *ef, uint64_t off) {
  uint32_t v;
  memcpy(&v, ef->map + off, 4);
  return ef->swap ? __builtin_bswap32(v) : v;
}

static uint64_t rd64(const struct elf_file *ef, uint64_t off) {
  uint64_t v;
  memcpy(&v, ef->map + off, 8);
  return ef->swap ? __builtin_bswap64(v) : v;
}

/* An address-sized field: 4 bytes in ELF32, 8 in ELF64. */
static uint64_t rdaddr(const struct elf_file *ef, uint64_t off) {
  return ef->cls == ELFCLASS64 ? rd64(ef, off) : rd32(ef, off);
}

/* [off, off+len) lies inside the file. */
static int in_file(const struct elf_file *ef, uint64_t off, uint64_t len) {
  return off <= ef->size && len <= ef->size - off;
}

/* A NUL-terminated string at off within [base, base+size) of the file, or
 * NULL when it is not terminated inside that range. */
static const char *str_at(const struct elf_file *ef, uint64_t base,
                          uint64_t size, uint64_t off) {
  if (!in_file(ef, base, size) || off >= size)
    return NULL;
  const char *s = (const char *)ef->map + base + off;
  if (!memchr(s, '\0', size - off))
    return NULL;
  return s;
}

/* File offset of a virtual address, through the PT_LOAD segments (the
 * dynamic section's DT_STRTAB is an address). */
static int vaddr_to_off(const struct elf_file *ef, uint64_t va, uint64_t *off,
                        uint64_t *avail) {
  for (size_t i = 0; i < ef->nsegs; i++) {
    const struct seg *s = &ef->segs[i];
    if (s->type != PT_LOAD || va < s->vaddr || va - s->vaddr >= s->filesz)
      continue;
    *off = s->offset + (va - s->vaddr);
    *avail = s->filesz - (va - s->vaddr);
    return 0;
  }
  return -1;
}

static int fail(char *err, size_t errlen, const char *msg) {
  snprintf(err, errlen, "%s", msg);
  return -1;
}

static int read_header(struct elf_file *ef, uint64_t *phoff, size_t *phnum,
                       size_t *phentsize, char *err, size_t errlen) {
  if (ef->size < EI_NIDENT || memcmp(ef->map, ELFMAG, SELFMAG) != 0)
    return fail(err, errlen, "not an ELF file");
  ef->cls = ef->map[EI_CLASS];
  if (ef->cls != ELFCLASS32 && ef->cls != ELFCLASS64)
    return fail(err, errlen, "unknown ELF class");
  int data = ef->map[EI_DATA];
  if (data != ELFDATA2LSB && data != ELFDATA2MSB)
    return fail(err, errlen, "unknown ELF byte order");
  const int little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  ef->swap = (data == ELFDATA2LSB) != little;
  int is64 = ef->cls == ELFCLASS64;
  if (ef->size < (is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
    return fail(err, errlen, "truncated ELF header");
  ef->type = rd16(ef, offsetof(Elf64_Ehdr, e_type));
  ef->machine = rd16(ef, offsetof(Elf64_Ehdr, e_machine));
  if (is64) {
    *phoff = rd64(ef, offsetof(Elf64_Ehdr, e_phoff));
    ef->shoff = rd64(ef, offsetof(Elf64_Ehdr, e_shoff));
    *phentsize = rd16(ef, offsetof(Elf64_Ehdr, e_phentsize));
    *phnum = rd16(ef, offsetof(Elf64_Ehdr, e_phnum));
    ef->shentsize = rd16(ef, offsetof(Elf64_Ehdr, e_shentsize));
    ef->shnum = rd16(ef, offsetof(Elf64_Ehdr, e_shnum));
  } else {
    *phoff = rd32(ef, offsetof(Elf32_Ehdr, e_phoff));
    ef->shoff = rd32(ef, offsetof(Elf32_Ehdr, e_shoff));
    *phentsize = rd16(ef, offsetof(Elf32_Ehdr, e_phentsize));
    *phnum = rd16(ef, offsetof(Elf32_Ehdr, e_phnum));
    ef->shentsize = rd16(ef, offsetof(Elf32_Ehdr, e_shentsize));
    ef->shnum = rd16(ef, offsetof(Elf32_Ehdr, e_shnum));
  }
  return 0;
}

static int read_segments(struct elf_file *ef, uint64_t phoff, size_t phnum,
                         size_t phentsize, char *err, size_t errlen) {
  if (phnum == 0)
    return 0;
  int is64 = ef->cls == ELFCLASS64;
  size_t want = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
  if (phnum > MAX_PHDRS || phentsize < want ||
      !in_file(ef, phoff, (uint64_t)phnum * phentsize))
    return fail(err, errlen, "truncated or malformed program headers");
  ef->segs = calloc(phnum, sizeof *ef->segs);
  if (!ef->segs)
    return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < phnum; i++) {
    uint64_t o = phoff + i * phentsize;
    struct seg *s = &ef->segs[i];
    s->type = rd32(ef, o);
    if (is64) {
      s->offset = rd64(ef, o + offsetof(Elf64_Phdr, p_offset));
      s->vaddr = rd64(ef, o + offsetof(Elf64_Phdr, p_vaddr));
      s->filesz = rd64(ef, o + offsetof(Elf64_Phdr, p_filesz));
    } else {
      s->offset = rd32(ef, o + offsetof(Elf32_Phdr, p_offset));
      s->vaddr = rd32(ef, o + offsetof(Elf32_Phdr, p_vaddr));
      s->filesz = rd32(ef, o + offsetof(Elf32_Phdr, p_filesz));
    }
  }
  ef->nsegs = phnum;
  for (size_t i = 0; i < phnum; i++) {
    const struct seg *s = &ef->segs[i];
    if (s->type == PT_INTERP) {
      ef->interp = str_at(ef, s->offset, s->filesz, 0);
      if (!ef->interp)
        return fail(err, errlen, "malformed PT_INTERP");
    } else if (s->type == PT_DYNAMIC) {
      ef->has_dynamic = 1;
    }
  }
  return 0;
}

/* The dynamic section through PT_DYNAMIC, its strings through DT_STRTAB. */
static int read_dynamic(struct elf_file *ef, char *err, size_t errlen) {
  const struct seg *dyn = NULL;
  for (size_t i = 0; i < ef->nsegs; i++)
    if (ef->segs[i].type == PT_DYNAMIC)
      dyn = &ef->segs[i];
  if (!dyn)
    return 0;
  int is64 = ef->cls == ELFCLASS64;
  size_t entsz = is64 ? sizeof(Elf64_Dyn) : sizeof(Elf32_Dyn);
  size_t asz = is64 ? 8 : 4;
  if (!in_file(ef, dyn->offset, dyn->filesz))
    return fail(err, errlen, "truncated dynamic section");
  size_t n = dyn->filesz / entsz;
  if (n > MAX_DYN)
    n = MAX_DYN;
  uint64_t strtab = 0, strsz = 0;
  int have_strtab = 0;
  size_t nneeded = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t o = dyn->offset + i * entsz;
    uint64_t tag = rdaddr(ef, o);
    uint64_t val = rdaddr(ef, o + asz);
    if (tag == DT_NULL)
      break;
    if (tag == DT_STRTAB) {
      strtab = val;
      have_strtab = 1;
    } else if (tag == DT_STRSZ) {
      strsz = val;
    } else if (tag == DT_NEEDED) {
      nneeded++;
    } else if (tag == DT_FLAGS_1) {
      ef->flags_1 = val;
    }
  }
  if (!have_strtab)
    return 0; /* no strings: no names to report */
  uint64_t stroff, avail;
  if (vaddr_to_off(ef, strtab, &stroff, &avail) != 0) {
    /* Some objects (prelinked, or a non-loaded ELF) hold a file offset. */
    if (!in_file(ef, strtab, 1))
      return fail(err, errlen, "DT_STRTAB outside the file");
    stroff = strtab;
    avail = ef->size - strtab;
  }
  if (strsz == 0 || strsz > avail)
    strsz = avail;
  if (nneeded > MAX_NEEDED)
    nneeded = MAX_NEEDED;
  ef->needed = calloc(nneeded ? nneeded : 1, sizeof *ef->needed);
  if (!ef->needed)
    return fail(err, errlen, "out of memory");
  for (size_t i = 0; i < n; i++) {
    uint64_t o = dyn->offset + i * entsz;
    uint64_t tag = rdaddr(ef, o);
    uint64_t val = rdaddr(ef, o + asz);
    if (tag == DT_NULL)
      break;
    const char *s = NULL;
    if (tag == DT_NEEDED || tag == DT_RPATH || tag == DT_RUNPATH ||
        tag == DT_SONAME)
      s = str_at(ef, stroff, strsz, val);
    if (!s)
      continue;
    if (tag == DT_NEEDED && ef->nneeded < nneeded)
      ef->needed[ef->nneeded++] = s;
    else if (tag == DT_RPATH)
      ef->rpath = s;
    else if (tag == DT_RUNPATH)
      ef->runpath = s;
    else if (tag == DT_SONAME)
      ef->soname = s;
  }
  return 0;
}

static void read_sections(struct elf_file *ef) {
  int is64 = ef->cls == ELFCLASS64;
  size_t want = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
  size_t shstrndx = rd16(ef, is64 ? offsetof(Elf64_Ehdr, e_shstrndx)
                                  : offsetof(Elf32_Ehdr, e_shstrndx));
  if (ef->shnum == 0 || ef->shnum > MAX_SHDRS || ef->shentsize < want ||
      !in_file(ef, ef->shoff, (uint64_t)ef->shnum * ef->shentsize) ||
      shstrndx >= ef->shnum) {
    ef->shnum = 0; /* no usable section headers: no names, no symbols */
    return;
  }
  uint64_t o = ef->shoff + shstrndx * ef->shentsize;
  ef->shstr_off = rdaddr(ef, o + (is64 ? offsetof(Elf64_Shdr, sh_offset)
                                       : offsetof(Elf32_Shdr, sh_offset)));
  ef->shstr_size = rdaddr(ef, o + (is64 ? offsetof(Elf64_Shdr, sh_size)
                                        : offsetof(Elf32_Shdr, sh_size)));
  if (!in_file(ef, ef->shstr_off, ef->shstr_size))
    ef->shstr_size = 0;
}

int elf_open(const char *path, struct elf_file **out, char *err,
             size_t errlen) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(err, errlen, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return fail(err, errlen, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return fail(err, errlen, "not a regular file");
  }
  if (st.st_size < EI_NIDENT) {
    close(fd);
    return fail(err, errlen, "not an ELF file");
  }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);
  if (map == MAP_FAILED)
    return fail(err, errlen, strerror(e));
  struct elf_file *ef = calloc(1, sizeof *ef);
  if (!ef) {
    munmap(map, (size_t)st.st_size);
    return fail(err, errlen, "out of memory");
  }
  ef->map = map;
  ef->size = (size_t)st.st_size;
  uint64_t phoff;
  size_t phnum, phentsize;
  if (read_header(ef, &phoff, &phnum, &phentsize, err, errlen) != 0 ||
      read_segments(ef, phoff, phnum, phentsize, err, errlen) != 0 ||
      read_dynamic(ef, err, errlen) != 0) {
    elf_close(ef);
    return -1;
  }
  read_sections(ef);
  *out = ef;
  return 0;
}

void elf_close(struct elf_file *ef) {
  if (!ef)
    return;
  munmap((void *)ef->map, ef->size);
  free(ef->segs);
  free(ef->needed);
  free(ef);
}

int elf_class(const struct elf_file *ef) {
  return ef->cls;
}

unsigned elf_machine(const struct elf_file *ef) {
  return ef->machine;
}

unsigned elf_type(const struct elf_file *ef) {
  return ef->type;
}

const char *elf_interp(const struct elf_file *ef) {
  return ef->interp;
}

int elf_has_dynamic(const struct elf_file *ef) {
  return ef->has_dynamic;
}

size_t elf_needed_count(const struct elf_file *ef) {
  return ef->nneeded;
}

const char *elf_needed(const struct elf_file *ef, size_t i) {
  return i < ef->nneeded ? ef->needed[i] : NULL;
}

const char *elf_rpath(const struct elf_file *ef) {
  return ef->rpath;
}

const char *elf_runpath(const struct elf_file *ef) {
  return ef->runpath;
}

const char *elf_soname(const struct elf_file *ef) {
  return ef->soname;
}

uint64_t elf_flags_1(const struct elf_file *ef) {
  return ef->flags_1;
}

/* Section i's header fields. */
struct shdr {
  uint32_t name, type, link;
  uint64_t offset, size, entsize;
};

static void section(const struct elf_file *ef, size_t i, struct shdr *sh) {
  uint64_t o = ef->shoff + i * ef->shentsize;
  sh->name = rd32(ef, o);
  sh->type = rd32(ef, o + 4);
  if (ef->cls == ELFCLASS64) {
    sh->offset = rd64(ef, o + offsetof(Elf64_Shdr, sh_offset));
    sh->size = rd64(ef, o + offsetof(Elf64_Shdr, sh_size));
    sh->link = rd32(ef, o + offsetof(Elf64_Shdr, sh_link));
    sh->entsize = rd64(ef, o + offsetof(Elf64_Shdr, sh_entsize));
  } else {
    sh->offset = rd32(ef, o + offsetof(Elf32_Shdr, sh_offset));
    sh->size = rd32(ef, o + offsetof(Elf32_Shdr, sh_size));
    sh->link = rd32(ef, o + offsetof(Elf32_Shdr, sh_link));
    sh->entsize = rd32(ef, o + offsetof(Elf32_Shdr, sh_entsize));
  }
}

int elf_has_section(const struct elf_file *ef, const char *name) {
  if (ef->shstr_size == 0)
    return 0;
  for (size_t i = 0; i < ef->shnum; i++) {
    struct shdr sh;
    section(ef, i, &sh);
    const char *s = str_at(ef, ef->shstr_off, ef->shstr_size, sh.name);
    if (s && strcmp(s, name) == 0)
      return 1;
  }
  return 0;
}

/* Whether the symbol table in section sh defines name. */
static int table_defines(const struct elf_file *ef, const struct shdr *sh,
                         const char *name) {
  int is64 = ef->cls == ELFCLASS64;
  size_t entsz = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
  if (sh->entsize < entsz || !in_file(ef, sh->offset, sh->size) ||
      sh->link >= ef->shnum)
    return 0;
  struct shdr str;
  section(ef, sh->link, &str);
  if (!in_file(ef, str.offset, str.size))
    return 0;
  size_t len = strlen(name);
  size_t n = sh->size / sh->entsize;
  for (size_t i = 1; i < n; i++) {
    uint64_t o = sh->offset + i * sh->entsize;
    uint32_t nm = rd32(ef, o);
    uint16_t shndx = rd16(ef, o + (is64 ? offsetof(Elf64_Sym, st_shndx)
                                        : offsetof(Elf32_Sym, st_shndx)));
    /* the name and the byte after it must lie inside the table */
    if (shndx == SHN_UNDEF || nm >= str.size || str.size - nm <= len)
      continue;
    const char *s = (const char *)ef->map + str.offset + nm;
    /* "SSL_write" or a versioned "SSL_write@@OPENSSL_3.0.0" */
    if (strncmp(s, name, len) == 0 && (s[len] == '\0' || s[len] == '@'))
      return 1;
  }
  return 0;
}

enum elf_sym_where elf_defines(const struct elf_file *ef, const char *name) {
  enum elf_sym_where best = ELF_SYM_NONE;
  for (size_t i = 0; i < ef->shnum; i++) {
    struct shdr sh;
    section(ef, i, &sh);
    if (sh.type == SHT_DYNSYM && table_defines(ef, &sh, name))
      return ELF_SYM_EXPORTED;
    if (sh.type == SHT_SYMTAB && table_defines(ef, &sh, name))
      best = ELF_SYM_LOCAL;
  }
  return best;
}

int elf_contains(const struct elf_file *ef, const char *bytes, size_t n) {
  return memmem(ef->map, ef->size, bytes, n) != NULL;
}

const unsigned char *elf_bytes(const struct elf_file *ef, size_t *size) {
  *size = ef->size;
  return ef->map;
}

int elf_matches(const char *path, int cls, unsigned machine) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  unsigned char h[64];
  ssize_t n = read(fd, h, sizeof h);
  close(fd);
  if (n < (ssize_t)sizeof(Elf32_Ehdr) || memcmp(h, ELFMAG, SELFMAG) != 0 ||
      h[EI_CLASS] != cls)
    return -1;
  uint16_t m;
  memcpy(&m, h + offsetof(Elf64_Ehdr, e_machine), 2);
  const int little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if ((h[EI_DATA] == ELFDATA2LSB) != little)
    m = __builtin_bswap16(m);
  return m == machine ? 0 : -1;
}
