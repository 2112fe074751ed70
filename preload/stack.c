/* stack: a cached DWARF CFI unwinder for the app's thread (see stack.h). */
#include "stack.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define AT_TLS_IE __thread __attribute__((tls_model("initial-exec")))

/* ASan must not look at our reads of other frames' saved slots: they are
 * checked against the stack bounds, and they are not the app's objects. */
#if defined(__SANITIZE_ADDRESS__)
#define AT_NO_ASAN __attribute__((no_sanitize_address))
#else
#define AT_NO_ASAN
#endif

#if defined(__x86_64__)

/* ---- the thread's stack bounds ---- */

static AT_TLS_IE uintptr_t st_lo, st_hi;

static void *(*libc_stack_end_sym);
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
#ifdef DLFO_STRUCT_HAS_EH_DBASE
typedef int (*dlfo_fn)(void *, struct dl_find_object *);
static dlfo_fn find_object; /* glibc >= 2.35: lock-free, signal-safe */
#endif
static int initialized;

static void stack_init(void) {
  void *p = dlsym(RTLD_DEFAULT, "__libc_stack_end");
  libc_stack_end_sym = (void **)p;
#ifdef DLFO_STRUCT_HAS_EH_DBASE
  void *f = dlsym(RTLD_DEFAULT, "_dl_find_object");
  memcpy(&find_object, &f, sizeof f);
#endif
  __atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
}

/* The main thread's stack: pthread_getattr_np would read /proc/self/maps
 * (and allocate); its top is the page holding __libc_stack_end, its size
 * at most RLIMIT_STACK. */
static void bounds_init(void) {
  pthread_once(&init_once, stack_init);
  uintptr_t lo = 0, hi = 0;
  if (getpid() == gettid() && libc_stack_end_sym && *libc_stack_end_sym) {
    long page = sysconf(_SC_PAGESIZE);
    hi = ((uintptr_t)*libc_stack_end_sym + (uintptr_t)page) &
         ~((uintptr_t)page - 1);
    struct rlimit rl;
    uintptr_t size = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      size = (uintptr_t)rl.rlim_cur;
    else
      size = (uintptr_t)1 << 30;
    lo = hi > size ? hi - size : 0;
  } else {
    pthread_attr_t a;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
      return;
    if (pthread_attr_getstack(&a, &addr, &size) == 0) {
      lo = (uintptr_t)addr;
      hi = lo + size;
    }
    pthread_attr_destroy(&a);
  }
  st_lo = lo;
  st_hi = hi;
}

/* ---- per-address rule cache ---- */

/* Where the caller's frame is, for one return address:
 *   CFA = rsp + off | rbp + off | *(rbp + off)
 *   return address at CFA + ra_off, caller's rbp at CFA + rbp_off (or
 *   unchanged, or unknown). NOINFO: no unwind data (walk rbp). */
enum { CFA_RSP = 0, CFA_RBP = 1, CFA_DEREF_RBP = 2, CFA_NOINFO = 3 };
enum { RBP_SAME = 0, RBP_AT = 1, RBP_UNKNOWN = 2 };

struct rule {
  int cfa_kind;
  int64_t cfa_off;
  int rbp_kind;
  int64_t rbp_off;
  int64_t ra_off;
  int end; /* the outermost frame (return address undefined) */
};

/* Packed: bit 0 valid, 1-2 cfa kind, 3-4 rbp kind, 5 end, 8-23 ra_off,
 * 24-39 rbp_off, 40-63 cfa_off (signed). */
static int pack(const struct rule *r, uint64_t *out) {
  if (r->cfa_off < -(1 << 23) || r->cfa_off >= (1 << 23) ||
      r->ra_off < -32768 || r->ra_off > 32767 || r->rbp_off < -32768 ||
      r->rbp_off > 32767)
    return -1;
  *out = 1 | (uint64_t)r->cfa_kind << 1 | (uint64_t)r->rbp_kind << 3 |
         (uint64_t)(r->end != 0) << 5 | ((uint64_t)r->ra_off & 0xffff) << 8 |
         ((uint64_t)r->rbp_off & 0xffff) << 24 |
         ((uint64_t)r->cfa_off & 0xffffff) << 40;
  return 0;
}

static void unpack(uint64_t v, struct rule *r) {
  r->cfa_kind = (int)(v >> 1 & 3);
  r->rbp_kind = (int)(v >> 3 & 3);
  r->end = (int)(v >> 5 & 1);
  r->ra_off = (int16_t)(v >> 8 & 0xffff);
  r->rbp_off = (int16_t)(v >> 24 & 0xffff);
  r->cfa_off = (int64_t)(v >> 40) - ((v >> 63) ? (1 << 24) : 0);
}

/* 8192 slots, 128 KiB of .bss: untouched (free) until the first capture.
 * Insert-only: a slot is claimed by CAS on its key, then its value is
 * published; a reader that sees the key before the value takes a miss. */
#define CACHE_BITS 13
#define CACHE_SLOTS (1u << CACHE_BITS)
#define CACHE_PROBE 8
static struct {
  uintptr_t key;
  uint64_t val;
} cache[CACHE_SLOTS];

static inline unsigned slot_of(uintptr_t pc) {
  return (unsigned)((pc * 0x9E3779B97F4A7C15ull) >> (64 - CACHE_BITS));
}

static inline int cache_get(uintptr_t pc, uint64_t *v) {
  unsigned i = slot_of(pc);
  for (unsigned k = 0; k < CACHE_PROBE; k++, i = (i + 1) & (CACHE_SLOTS - 1)) {
    uintptr_t key = __atomic_load_n(&cache[i].key, __ATOMIC_ACQUIRE);
    if (key == pc) {
      *v = __atomic_load_n(&cache[i].val, __ATOMIC_ACQUIRE);
      return *v != 0;
    }
    if (key == 0)
      return 0;
  }
  return 0;
}

static void cache_put(uintptr_t pc, uint64_t v) {
  unsigned i = slot_of(pc);
  for (unsigned k = 0; k < CACHE_PROBE; k++, i = (i + 1) & (CACHE_SLOTS - 1)) {
    uintptr_t expected = 0;
    if (__atomic_compare_exchange_n(&cache[i].key, &expected, pc, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      __atomic_store_n(&cache[i].val, v, __ATOMIC_RELEASE);
      return;
    }
    if (expected == pc)
      return; /* another thread got there first */
  }
  /* Full around this slot: the rule is recomputed each time. */
}

/* ---- reading unwind data, bounded by the module's mapping ---- */

struct rd {
  const uint8_t *p, *lo, *hi;
  int bad;
};

static int rd_ok(struct rd *r, size_t n) {
  if (r->bad || r->p < r->lo || r->p > r->hi || (size_t)(r->hi - r->p) < n) {
    r->bad = 1;
    return 0;
  }
  return 1;
}

static uint64_t rd_u(struct rd *r, size_t n) {
  if (!rd_ok(r, n))
    return 0;
  uint64_t v = 0;
  memcpy(&v, r->p, n); /* little endian */
  r->p += n;
  return v;
}

static uint64_t rd_uleb(struct rd *r) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    if (!rd_ok(r, 1))
      return 0;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
  }
  r->bad = 1;
  return 0;
}

static int64_t rd_sleb(struct rd *r) {
  int64_t v = 0;
  unsigned shift = 0;
  uint8_t b;
  do {
    if (!rd_ok(r, 1) || shift >= 64) {
      r->bad = 1;
      return 0;
    }
    b = *r->p++;
    v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
    shift += 7;
  } while (b & 0x80);
  if (shift < 64 && (b & 0x40))
    v |= -((int64_t)1 << shift);
  return v;
}

/* DW_EH_PE_* pointer encodings. datarel is relative to .eh_frame_hdr. */
static uintptr_t rd_enc(struct rd *r, uint8_t enc, uintptr_t datarel) {
  if (enc == 0xff)
    return 0;
  uintptr_t at = (uintptr_t)r->p, v;
  switch (enc & 0x0f) {
  case 0x00:
    v = (uintptr_t)rd_u(r, 8);
    break;
  case 0x01:
    v = (uintptr_t)rd_uleb(r);
    break;
  case 0x02:
    v = (uintptr_t)rd_u(r, 2);
    break;
  case 0x03:
    v = (uintptr_t)rd_u(r, 4);
    break;
  case 0x04:
    v = (uintptr_t)rd_u(r, 8);
    break;
  case 0x09:
    v = (uintptr_t)rd_sleb(r);
    break;
  case 0x0a:
    v = (uintptr_t)(int64_t)(int16_t)rd_u(r, 2);
    break;
  case 0x0b:
    v = (uintptr_t)(int64_t)(int32_t)rd_u(r, 4);
    break;
  case 0x0c:
    v = (uintptr_t)rd_u(r, 8);
    break;
  default:
    r->bad = 1;
    return 0;
  }
  switch (enc & 0x70) {
  case 0x00:
    break;
  case 0x10:
    v += at;
    break;
  case 0x30:
    v += datarel;
    break;
  default:
    r->bad = 1; /* textrel, funcrel, aligned: not used by x86-64 */
    return 0;
  }
  if (enc & 0x80) {
    r->bad = 1; /* indirect: never in .eh_frame_hdr or FDE ranges */
    return 0;
  }
  return v;
}

/* ---- finding a module's .eh_frame_hdr ---- */

struct module_eh {
  const uint8_t *hdr;
  uintptr_t lo, hi;
};

struct phdr_search {
  uintptr_t pc;
  struct module_eh *m;
  int found;
};

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct phdr_search *s = data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  int inside = 0;
  const uint8_t *hdr = NULL;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD) {
      if (s->pc >= a && s->pc < a + ph->p_memsz)
        inside = 1;
      if (a < lo)
        lo = a;
      if (a + ph->p_memsz > hi)
        hi = a + ph->p_memsz;
    } else if (ph->p_type == PT_GNU_EH_FRAME) {
      hdr = (const uint8_t *)a;
    }
  }
  if (!inside)
    return 0;
  s->found = 1;
  s->m->hdr = hdr;
  s->m->lo = lo;
  s->m->hi = hi;
  return 1;
}

static int find_module(uintptr_t pc, struct module_eh *m, int may_lock) {
#ifdef DLFO_STRUCT_HAS_EH_DBASE
  if (find_object) {
    struct dl_find_object fo;
    if (find_object((void *)pc, &fo) != 0)
      return -1;
    m->hdr = fo.dlfo_eh_frame;
    m->lo = (uintptr_t)fo.dlfo_map_start;
    m->hi = (uintptr_t)fo.dlfo_map_end;
    return 0;
  }
#endif
  if (!may_lock)
    return -1;
  struct phdr_search s = {pc, m, 0};
  dl_iterate_phdr(phdr_cb, &s);
  return s.found ? 0 : -1;
}

/* ---- CIE/FDE parsing and the CFA program ---- */

enum { REG_SAME = 0, REG_UNDEF, REG_OFFSET, REG_OTHER };
#define DW_RBP 6
#define DW_RSP 7
#define DW_RA 16
#define MAX_REMEMBER 8

struct cfi_row {
  int cfa_reg; /* DW_RSP, DW_RBP, -1: deref rbp expression, -2: other */
  int64_t cfa_off;
  int rbp_kind, ra_kind;
  int64_t rbp_off, ra_off;
};

struct cie {
  uint64_t code_align;
  int64_t data_align;
  uint64_t ra_reg;
  uint8_t fde_enc;
  int has_z, signal_frame;
  const uint8_t *insns, *insns_end;
};

static void set_reg(struct cfi_row *row, uint64_t reg, int kind, int64_t off) {
  if (reg == DW_RBP) {
    row->rbp_kind = kind;
    row->rbp_off = off;
  } else if (reg == DW_RA) {
    row->ra_kind = kind;
    row->ra_off = off;
  }
}

/* Run CFA instructions from [p, end) starting at loc, up to target. */
static int run_cfa(struct rd *r, const uint8_t *end, const struct cie *c,
                   uintptr_t loc, uintptr_t target, struct cfi_row *row,
                   const struct cfi_row *initial) {
  struct cfi_row stack[MAX_REMEMBER];
  unsigned depth = 0;
  struct rd in = *r;
  in.hi = end < in.hi ? end : in.hi;
  while (in.p < in.hi && !in.bad) {
    uint8_t op = *in.p++;
    uint8_t hi2 = op & 0xc0, low = op & 0x3f;
    uint64_t reg;
    int64_t off;
    if (hi2 == 0x40) { /* advance_loc */
      loc += low * c->code_align;
      if (loc > target)
        return 0;
      continue;
    }
    if (hi2 == 0x80) { /* offset */
      off = (int64_t)rd_uleb(&in) * c->data_align;
      set_reg(row, low, REG_OFFSET, off);
      continue;
    }
    if (hi2 == 0xc0) { /* restore */
      if (initial && low == DW_RBP) {
        row->rbp_kind = initial->rbp_kind;
        row->rbp_off = initial->rbp_off;
      } else if (initial && low == DW_RA) {
        row->ra_kind = initial->ra_kind;
        row->ra_off = initial->ra_off;
      }
      continue;
    }
    switch (op) {
    case 0x00: /* nop */
      break;
    case 0x01: /* set_loc */
      loc = rd_enc(&in, c->fde_enc, 0);
      if (loc > target)
        return 0;
      break;
    case 0x02:
      loc += rd_u(&in, 1) * c->code_align;
      if (loc > target)
        return 0;
      break;
    case 0x03:
      loc += rd_u(&in, 2) * c->code_align;
      if (loc > target)
        return 0;
      break;
    case 0x04:
      loc += rd_u(&in, 4) * c->code_align;
      if (loc > target)
        return 0;
      break;
    case 0x05: /* offset_extended */
      reg = rd_uleb(&in);
      off = (int64_t)rd_uleb(&in) * c->data_align;
      set_reg(row, reg, REG_OFFSET, off);
      break;
    case 0x06: /* restore_extended */
      reg = rd_uleb(&in);
      if (initial && reg == DW_RBP) {
        row->rbp_kind = initial->rbp_kind;
        row->rbp_off = initial->rbp_off;
      } else if (initial && reg == DW_RA) {
        row->ra_kind = initial->ra_kind;
        row->ra_off = initial->ra_off;
      }
      break;
    case 0x07: /* undefined */
      set_reg(row, rd_uleb(&in), REG_UNDEF, 0);
      break;
    case 0x08: /* same_value */
      set_reg(row, rd_uleb(&in), REG_SAME, 0);
      break;
    case 0x09: /* register */
      reg = rd_uleb(&in);
      rd_uleb(&in);
      set_reg(row, reg, REG_OTHER, 0);
      break;
    case 0x0a: /* remember_state */
      if (depth >= MAX_REMEMBER)
        return -1;
      stack[depth++] = *row;
      break;
    case 0x0b: /* restore_state */
      if (depth == 0)
        return -1;
      *row = stack[--depth];
      break;
    case 0x0c: /* def_cfa */
      reg = rd_uleb(&in);
      row->cfa_reg = reg == DW_RSP || reg == DW_RBP ? (int)reg : -2;
      row->cfa_off = (int64_t)rd_uleb(&in);
      break;
    case 0x0d: /* def_cfa_register */
      reg = rd_uleb(&in);
      row->cfa_reg = reg == DW_RSP || reg == DW_RBP ? (int)reg : -2;
      break;
    case 0x0e: /* def_cfa_offset */
      row->cfa_off = (int64_t)rd_uleb(&in);
      break;
    case 0x0f: { /* def_cfa_expression */
      uint64_t len = rd_uleb(&in);
      if (!rd_ok(&in, len))
        return -1;
      /* The one form compilers emit for realigned frames (main with
       * over-aligned locals): DW_OP_breg6 <off>; DW_OP_deref. */
      struct rd e = in;
      e.hi = in.p + len;
      row->cfa_reg = -2;
      if (len >= 3 && *e.p == 0x76) {
        e.p++;
        int64_t o = rd_sleb(&e);
        if (!e.bad && e.p + 1 == e.hi && *e.p == 0x06) {
          row->cfa_reg = -1;
          row->cfa_off = o;
        }
      }
      in.p += len;
      break;
    }
    case 0x10: /* expression */
    case 0x16: /* val_expression */
      reg = rd_uleb(&in);
      {
        uint64_t len = rd_uleb(&in);
        if (!rd_ok(&in, len))
          return -1;
        in.p += len;
      }
      set_reg(row, reg, REG_OTHER, 0);
      break;
    case 0x11: /* offset_extended_sf */
      reg = rd_uleb(&in);
      off = rd_sleb(&in) * c->data_align;
      set_reg(row, reg, REG_OFFSET, off);
      break;
    case 0x12: /* def_cfa_sf */
      reg = rd_uleb(&in);
      row->cfa_reg = reg == DW_RSP || reg == DW_RBP ? (int)reg : -2;
      row->cfa_off = rd_sleb(&in) * c->data_align;
      break;
    case 0x13: /* def_cfa_offset_sf */
      row->cfa_off = rd_sleb(&in) * c->data_align;
      break;
    case 0x14: /* val_offset */
      reg = rd_uleb(&in);
      rd_uleb(&in);
      set_reg(row, reg, REG_OTHER, 0);
      break;
    case 0x15: /* val_offset_sf */
      reg = rd_uleb(&in);
      rd_sleb(&in);
      set_reg(row, reg, REG_OTHER, 0);
      break;
    case 0x2e: /* GNU_args_size */
      rd_uleb(&in);
      break;
    case 0x2f: /* GNU_negative_offset_extended */
      reg = rd_uleb(&in);
      off = -(int64_t)rd_uleb(&in) * c->data_align;
      set_reg(row, reg, REG_OFFSET, off);
      break;
    default:
      return -1;
    }
  }
  return in.bad ? -1 : 0;
}

static int parse_cie(struct rd *r, const uint8_t *cie, uintptr_t datarel,
                     struct cie *c) {
  struct rd in = *r;
  in.p = cie;
  uint64_t len = rd_u(&in, 4);
  if (len == 0xffffffff || len == 0)
    return -1;
  const uint8_t *end = in.p + len;
  if (end > in.hi || rd_u(&in, 4) != 0)
    return -1;
  in.hi = end;
  uint8_t version = (uint8_t)rd_u(&in, 1);
  const char *aug = (const char *)in.p;
  size_t auglen = strnlen(aug, (size_t)(end - in.p));
  if (auglen == (size_t)(end - in.p))
    return -1;
  in.p += auglen + 1;
  if (version >= 4)
    in.p += 2; /* address_size, segment_size */
  c->code_align = rd_uleb(&in);
  c->data_align = rd_sleb(&in);
  c->ra_reg = version == 1 ? rd_u(&in, 1) : rd_uleb(&in);
  c->fde_enc = 0; /* absptr */
  c->has_z = aug[0] == 'z';
  c->signal_frame = 0;
  const uint8_t *after_aug = NULL;
  if (c->has_z) {
    uint64_t alen = rd_uleb(&in);
    if (!rd_ok(&in, alen))
      return -1;
    after_aug = in.p + alen;
  }
  for (size_t i = c->has_z ? 1 : 0; i < auglen && !in.bad; i++) {
    switch (aug[i]) {
    case 'L':
      rd_u(&in, 1);
      break;
    case 'R':
      c->fde_enc = (uint8_t)rd_u(&in, 1);
      break;
    case 'P': {
      uint8_t enc = (uint8_t)rd_u(&in, 1);
      rd_enc(&in, enc & 0x7f, datarel);
      break;
    }
    case 'S':
      c->signal_frame = 1;
      break;
    default:
      if (!c->has_z)
        return -1;
      i = auglen; /* unknown: the 'z' length lets us skip the rest */
      break;
    }
  }
  if (after_aug)
    in.p = after_aug;
  if (in.bad || c->ra_reg != DW_RA)
    return -1;
  c->insns = in.p;
  c->insns_end = end;
  return 0;
}

/* The rule at target (a pc inside the frame's function). */
static int compute_rule(uintptr_t target, struct rule *out, int may_lock) {
  struct module_eh m;
  if (find_module(target, &m, may_lock) != 0 || !m.hdr)
    return -1;
  struct rd r = {m.hdr, (const uint8_t *)m.lo, (const uint8_t *)m.hi, 0};
  uintptr_t hdr = (uintptr_t)m.hdr;
  if (rd_u(&r, 1) != 1)
    return -1;
  uint8_t ptr_enc = (uint8_t)rd_u(&r, 1);
  uint8_t cnt_enc = (uint8_t)rd_u(&r, 1);
  uint8_t tab_enc = (uint8_t)rd_u(&r, 1);
  rd_enc(&r, ptr_enc, hdr);
  uint64_t count = rd_enc(&r, cnt_enc, hdr);
  if (r.bad || tab_enc != 0x3b || count == 0)
    return -1; /* only the datarel|sdata4 table every linker writes */
  const uint8_t *table = r.p;
  if ((uintptr_t)(r.hi - table) / 8 < count)
    return -1;
  /* Largest initial location <= target. */
  size_t lo = 0, hi = (size_t)count;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    int32_t loc;
    memcpy(&loc, table + mid * 8, 4);
    if (hdr + (intptr_t)loc <= target)
      lo = mid;
    else
      hi = mid;
  }
  int32_t loc0, fde_rel;
  memcpy(&loc0, table + lo * 8, 4);
  memcpy(&fde_rel, table + lo * 8 + 4, 4);
  if (hdr + (intptr_t)loc0 > target)
    return -1;
  const uint8_t *fde = (const uint8_t *)(hdr + (intptr_t)fde_rel);
  struct rd f = {fde, r.lo, r.hi, 0};
  uint64_t len = rd_u(&f, 4);
  if (len == 0 || len == 0xffffffff)
    return -1;
  const uint8_t *fde_end = f.p + len;
  if (fde_end > f.hi)
    return -1;
  const uint8_t *cie_ptr_at = f.p;
  uint32_t cie_off = (uint32_t)rd_u(&f, 4);
  if (cie_off == 0 || f.bad)
    return -1;
  struct cie c;
  if (parse_cie(&f, cie_ptr_at - cie_off, hdr, &c) != 0)
    return -1;
  f.hi = fde_end;
  uintptr_t pc_begin = rd_enc(&f, c.fde_enc, hdr);
  uintptr_t pc_range = rd_enc(&f, c.fde_enc & 0x0f, hdr);
  if (f.bad || target < pc_begin || target >= pc_begin + pc_range)
    return -1;
  if (c.has_z) {
    uint64_t alen = rd_uleb(&f);
    if (!rd_ok(&f, alen))
      return -1;
    f.p += alen;
  }
  struct cfi_row row = {DW_RSP, 8, REG_SAME, REG_OFFSET, 0, -8};
  struct rd ci = {c.insns, r.lo, r.hi, 0};
  if (run_cfa(&ci, c.insns_end, &c, pc_begin, UINTPTR_MAX, &row, NULL) != 0)
    return -1;
  struct cfi_row initial = row;
  if (run_cfa(&f, fde_end, &c, pc_begin, target, &row, &initial) != 0)
    return -1;
  memset(out, 0, sizeof *out);
  if (c.signal_frame || row.ra_kind == REG_UNDEF) {
    out->end = 1;
    return 0;
  }
  if (row.ra_kind != REG_OFFSET)
    return -1;
  if (row.cfa_reg == DW_RSP)
    out->cfa_kind = CFA_RSP;
  else if (row.cfa_reg == DW_RBP)
    out->cfa_kind = CFA_RBP;
  else if (row.cfa_reg == -1)
    out->cfa_kind = CFA_DEREF_RBP;
  else
    return -1;
  out->cfa_off = row.cfa_off;
  out->ra_off = row.ra_off;
  out->rbp_kind = row.rbp_kind == REG_SAME     ? RBP_SAME
                  : row.rbp_kind == REG_OFFSET ? RBP_AT
                                               : RBP_UNKNOWN;
  out->rbp_off = row.rbp_off;
  return 0;
}

/* Rule for pc, from the cache or computed (and cached). */
static int rule_for(uintptr_t pc, struct rule *r, int may_lock) {
  uint64_t v;
  if (cache_get(pc, &v)) {
    unpack(v, r);
    return 0;
  }
  struct rule tmp;
  if (compute_rule(pc, &tmp, may_lock) != 0) {
    memset(&tmp, 0, sizeof tmp);
    tmp.cfa_kind = CFA_NOINFO;
#ifdef DLFO_STRUCT_HAS_EH_DBASE
    if (!find_object && !may_lock)
      return -1; /* not looked up at all: do not remember */
#endif
  }
  if (pack(&tmp, &v) == 0)
    cache_put(pc, v);
  *r = tmp;
  return 0;
}

static inline int on_stack(uintptr_t a, uintptr_t lo, uintptr_t hi) {
  return a >= lo && a <= hi - 8 && (a & 7) == 0;
}

AT_NO_ASAN static unsigned walk(uintptr_t rip, uintptr_t rsp, uintptr_t rbp,
                                uintptr_t *out, unsigned max, int may_lock) {
  uintptr_t lo = rsp, hi = st_hi;
  if (!hi || rsp < st_lo || rsp >= hi)
    return 0; /* not on this thread's stack (a signal's alternate stack) */
  unsigned n = 0;
  int rbp_ok = 1, first = 1;
  while (n < max) {
    struct rule r;
    /* A return address may be the first byte after a call to a function
     * that never returns, i.e. in the next function: look up ra - 1. */
    if (rule_for(first ? rip : rip - 1, &r, may_lock) != 0 || r.end)
      break;
    uintptr_t cfa, ra, nrbp = rbp;
    if (r.cfa_kind == CFA_NOINFO) {
      if (!rbp_ok || !on_stack(rbp, lo, hi) || !on_stack(rbp + 8, lo, hi))
        break;
      cfa = rbp + 16;
      ra = *(const uintptr_t *)(rbp + 8);
      nrbp = *(const uintptr_t *)rbp;
    } else {
      if (r.cfa_kind == CFA_RSP) {
        cfa = rsp + (uintptr_t)r.cfa_off;
      } else {
        if (!rbp_ok)
          break;
        cfa = rbp + (uintptr_t)r.cfa_off;
        if (r.cfa_kind == CFA_DEREF_RBP) {
          if (!on_stack(cfa, lo, hi))
            break;
          cfa = *(const uintptr_t *)cfa;
        }
      }
      uintptr_t ra_at = cfa + (uintptr_t)r.ra_off;
      if (!on_stack(ra_at, lo, hi))
        break;
      ra = *(const uintptr_t *)ra_at;
      if (r.rbp_kind == RBP_AT) {
        uintptr_t at = cfa + (uintptr_t)r.rbp_off;
        if (!on_stack(at, lo, hi))
          break;
        nrbp = *(const uintptr_t *)at;
      } else if (r.rbp_kind == RBP_UNKNOWN) {
        rbp_ok = 0;
      }
    }
    if (cfa <= rsp || cfa > hi || ra < 4096)
      break; /* frames only ever move up the stack */
    out[n++] = ra;
    rip = ra;
    rsp = cfa;
    rbp = nrbp;
    first = 0;
  }
  return n;
}

/* noinline: the registers are read in this frame, whose rule the CFI at
 * that instruction describes. */
__attribute__((noinline)) static unsigned capture(uintptr_t *out, unsigned max,
                                                  int may_lock) {
  uintptr_t rip, rsp, rbp;
  __asm__ volatile("lea 0(%%rip), %0\n\t"
                   "mov %%rsp, %1\n\t"
                   "mov %%rbp, %2"
                   : "=r"(rip), "=r"(rsp), "=r"(rbp));
  return walk(rip, rsp, rbp, out, max, may_lock);
}

/* capture() records from its caller's frame on: drop that first address
 * (ours), so that out[0] is the return address into our caller's caller. */
__attribute__((noinline)) unsigned at_stack_capture(uintptr_t *out,
                                                    unsigned max) {
  if (max == 0)
    return 0;
  if (max > 256)
    max = 256;
  if (!st_hi)
    bounds_init();
  uintptr_t tmp[max + 1];
  unsigned n = capture(tmp, max + 1, 1);
  if (n <= 1)
    return 0;
  memcpy(out, tmp + 1, (n - 1) * sizeof *out);
  return n - 1;
}

__attribute__((noinline)) unsigned at_stack_capture_nomalloc(uintptr_t *out,
                                                             unsigned max) {
  if (max == 0 || !st_hi || !__atomic_load_n(&initialized, __ATOMIC_ACQUIRE))
    return 0;
  if (max > 256)
    max = 256;
  uintptr_t tmp[max + 1];
  unsigned n = capture(tmp, max + 1, 0);
  if (n <= 1)
    return 0;
  memcpy(out, tmp + 1, (n - 1) * sizeof *out);
  return n - 1;
}

AT_NO_ASAN __attribute__((noinline)) unsigned
at_stack_capture_fp(uintptr_t *out, unsigned max) {
  if (!st_hi)
    bounds_init();
  uintptr_t rbp = (uintptr_t)__builtin_frame_address(0), lo = rbp;
  unsigned n = 0;
  while (n < max && on_stack(rbp, lo, st_hi) && on_stack(rbp + 8, lo, st_hi)) {
    uintptr_t ra = *(const uintptr_t *)(rbp + 8);
    uintptr_t next = *(const uintptr_t *)rbp;
    if (ra < 4096)
      break;
    out[n++] = ra;
    if (next <= rbp)
      break;
    rbp = next;
  }
  return n;
}

#else /* not x86-64: no unwinder yet, no stacks (documented) */

unsigned at_stack_capture(uintptr_t *out, unsigned max) {
  (void)out;
  (void)max;
  return 0;
}

unsigned at_stack_capture_nomalloc(uintptr_t *out, unsigned max) {
  (void)out;
  (void)max;
  return 0;
}

unsigned at_stack_capture_fp(uintptr_t *out, unsigned max) {
  (void)out;
  (void)max;
  return 0;
}

#endif
