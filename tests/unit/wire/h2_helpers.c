#include "h2_helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

void fb_put(struct fb *b, const void *p, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    cr_assert(b->p);
  }
  if (n)
    memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void fb_free(struct fb *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void fb_u32(struct fb *b, uint32_t v) {
  unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                        (unsigned char)(v >> 8), (unsigned char)v};
  fb_put(b, x, 4);
}

void fb_frame(struct fb *b, int type, int flags, uint32_t sid, const void *p,
              size_t n) {
  unsigned char h[9] = {(unsigned char)(n >> 16), (unsigned char)(n >> 8),
                        (unsigned char)n, (unsigned char)type,
                        (unsigned char)flags};
  h[5] = (unsigned char)(sid >> 24);
  h[6] = (unsigned char)(sid >> 16);
  h[7] = (unsigned char)(sid >> 8);
  h[8] = (unsigned char)sid;
  fb_put(b, h, 9);
  fb_put(b, p, n);
}

void fb_settings(struct fb *b, int ack, const uint32_t *pairs, size_t npairs) {
  struct fb pl = {0};
  for (size_t i = 0; i < npairs; i++) {
    unsigned char id[2] = {(unsigned char)(pairs[2 * i] >> 8),
                           (unsigned char)pairs[2 * i]};
    fb_put(&pl, id, 2);
    fb_u32(&pl, pairs[2 * i + 1]);
  }
  fb_frame(b, T_SETTINGS, ack ? 1 : 0, 0, pl.p, pl.n);
  fb_free(&pl);
}

void hp_block(nghttp2_hd_deflater *d, struct fb *out, const char *const *nv) {
  nghttp2_nv v[64];
  size_t n = 0;
  for (; nv[2 * n]; n++) {
    cr_assert_lt(n, 64);
    v[n].name = (uint8_t *)(uintptr_t)nv[2 * n];
    v[n].namelen = strlen(nv[2 * n]);
    v[n].value = (uint8_t *)(uintptr_t)nv[2 * n + 1];
    v[n].valuelen = strlen(nv[2 * n + 1]);
    v[n].flags = NGHTTP2_NV_FLAG_NONE;
  }
  size_t cap = nghttp2_hd_deflate_bound(d, v, n);
  uint8_t *buf = malloc(cap);
  cr_assert(buf);
  ssize_t k = nghttp2_hd_deflate_hd(d, buf, cap, v, n);
  cr_assert_geq(k, 0);
  fb_put(out, buf, (size_t)k);
  free(buf);
}

void h2c_add(struct h2conn *c, int dir, const void *p, size_t n) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->r = realloc(c->r, c->cap * sizeof *c->r);
    cr_assert(c->r);
  }
  struct h2rec *r = &c->r[c->n++];
  r->dir = dir;
  r->n = n;
  r->p = malloc(n + 1);
  cr_assert(r->p);
  if (n)
    memcpy(r->p, p, n);
  r->p[n] = '\0';
}

void h2c_close(struct h2conn *c, const char *reason) {
  h2c_add(c, H2_CLOSE, reason ? reason : "", reason ? strlen(reason) : 0);
  if (!reason) {
    free(c->r[c->n - 1].p);
    c->r[c->n - 1].p = NULL;
  }
}

void h2c_free(struct h2conn *c) {
  for (size_t i = 0; i < c->n; i++)
    free(c->r[i].p);
  free(c->r);
  memset(c, 0, sizeof *c);
}

void h2_start(struct h2conn *c) {
  struct fb b = {0};
  fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
  fb_settings(&b, 0, NULL, 0);
  h2c_add(c, WIRE_OUT, b.p, b.n);
  b.n = 0;
  static const uint32_t srv[] = {3, 100};
  fb_settings(&b, 0, srv, 1);
  fb_settings(&b, 1, NULL, 0);
  h2c_add(c, WIRE_IN, b.p, b.n);
  b.n = 0;
  fb_settings(&b, 1, NULL, 0);
  h2c_add(c, WIRE_OUT, b.p, b.n);
  fb_free(&b);
}

/* Tests run from the repository root or below the build folder. */
static void fixture_path(const char *name, char *out, size_t cap) {
  char base[2][PATH_MAX];
  if (!getcwd(base[0], sizeof base[0]))
    base[0][0] = '\0';
  ssize_t n = readlink("/proc/self/exe", base[1], sizeof base[1] - 1);
  base[1][n > 0 ? n : 0] = '\0';
  for (int b = 0; b < 2; b++) {
    size_t len = strlen(base[b]);
    for (int up = 0; up < 6 && len; up++) {
      snprintf(out, cap, "%.*s/tests/fixtures/wire/%s", (int)len, base[b],
               name);
      if (access(out, R_OK) == 0)
        return;
      while (len && base[b][len - 1] != '/')
        len--;
      if (len)
        len--;
    }
  }
  cr_assert_fail("fixture %s not found", name);
}

void h2c_load(struct h2conn *c, const char *name) {
  char path[PATH_MAX + 64];
  fixture_path(name, path, sizeof path);
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  for (;;) {
    unsigned char h[5];
    size_t got = fread(h, 1, 5, f);
    if (got == 0)
      break;
    cr_assert_eq(got, 5, "%s: cut record header", name);
    cr_assert(h[0] == '>' || h[0] == '<', "%s: bad direction", name);
    size_t n =
        (size_t)h[1] << 24 | (size_t)h[2] << 16 | (size_t)h[3] << 8 | h[4];
    char *p = malloc(n ? n : 1);
    cr_assert(p);
    cr_assert_eq(fread(p, 1, n, f), n, "%s: cut record", name);
    h2c_add(c, h[0] == '>' ? WIRE_OUT : WIRE_IN, p, n);
    free(p);
  }
  fclose(f);
  cr_assert_gt(c->n, 0);
}

static void take(struct wire_h2 *h, struct h2run *r) {
  for (struct wire_exchange *x; (x = wire_h2_next(h));) {
    cr_assert_lt(r->n, H2RUN_MAX);
    r->x[r->n] = x;
    r->desc[r->n] = describe(x);
    r->n++;
  }
}

void h2_run(const struct h2conn *c, size_t split, const struct wire_limits *lim,
            wire_interest_fn f, void *arg, struct h2run *r) {
  memset(r, 0, sizeof *r);
  struct wire_h2 *h = wire_h2_new(lim, f, arg);
  cr_assert(h);
  int64_t t = 0;
  for (size_t i = 0; i < c->n; i++) {
    const struct h2rec *rec = &c->r[i];
    if (rec->dir == H2_CLOSE) {
      wire_h2_close(h, ++t, rec->p);
      take(h, r);
      continue;
    }
    size_t step = split ? split : (rec->n ? rec->n : 1);
    for (size_t off = 0; off < rec->n; off += step) {
      size_t k = rec->n - off < step ? rec->n - off : step;
      size_t used =
          wire_h2_feed(h, (enum wire_dir)rec->dir, rec->p + off, k, ++t);
      cr_assert_leq(used, k);
      take(h, r);
    }
  }
  const char *why;
  r->state = wire_h2_state(h, &why);
  snprintf(r->reason, sizeof r->reason, "%s", why);
  r->stats = *wire_h2_stats(h);
  wire_h2_free(h);
}

void h2_run_free(struct h2run *r) {
  for (int i = 0; i < r->n; i++) {
    wire_exchange_free(r->x[i]);
    free(r->desc[i]);
  }
  r->n = 0;
}

void h2_check_splits(const struct h2conn *c, const struct wire_limits *lim,
                     wire_interest_fn f, void *arg, struct h2run *r) {
  static const size_t splits[] = {1, 2, 7};
  h2_run(c, 0, lim, f, arg, r);
  for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
    struct h2run o;
    h2_run(c, splits[k], lim, f, arg, &o);
    cr_assert_eq(o.n, r->n, "split %zu: %d exchanges, whole: %d", splits[k],
                 o.n, r->n);
    for (int i = 0; i < r->n; i++)
      cr_assert_str_eq(o.desc[i], r->desc[i],
                       "split %zu, exchange %d:\n%s\n---- whole:\n%s",
                       splits[k], i, o.desc[i], r->desc[i]);
    cr_assert_eq(o.state, r->state, "split %zu", splits[k]);
    cr_assert_str_eq(o.reason, r->reason, "split %zu", splits[k]);
    cr_assert_eq(o.stats.exchanges, r->stats.exchanges);
    cr_assert_eq(o.stats.skipped, r->stats.skipped);
    cr_assert_eq(o.stats.partial, r->stats.partial);
    cr_assert_eq(o.stats.dropped, r->stats.dropped);
    cr_assert_eq(o.stats.reset, r->stats.reset);
    cr_assert_eq(o.stats.pushed, r->stats.pushed);
    cr_assert_eq(o.stats.frames, r->stats.frames);
    h2_run_free(&o);
  }
}

struct wire_exchange *h2_find(struct h2run *r, const char *target) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->x[i]->target, target))
      return r->x[i];
  cr_assert_fail("no exchange for %s", target);
  return NULL;
}
