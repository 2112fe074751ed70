/* wire/h2 on hand-made frame sequences: the edge cases real stacks rarely
 * produce on demand. Header blocks come from libnghttp2's HPACK deflater
 * (a real encoder, with its dynamic table); frames are built byte by byte.
 * Every sequence also runs in 1, 2 and 7-byte pieces and must give the same
 * result (h2_check_splits). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h2_helpers.h"
#include "helpers.h"

#define END_STREAM 0x1
#define ACK 0x1
#define END_HEADERS 0x4
#define PADDED 0x8
#define PRIO 0x20

/* req_fields is a span of req_head, not NUL-terminated. */
#define FIELDS_EQ(x, s)                                                        \
  cr_assert((x)->req_fields_len == strlen(s) &&                                \
                !memcmp((x)->req_fields, s, strlen(s)),                        \
            "req_fields [%.*s], want [%s]", (int)(x)->req_fields_len,          \
            (x)->req_fields, s)

/* Both encoders of a connection, as the two peers would hold them. */
struct peers {
  nghttp2_hd_deflater *cl, *sv;
  struct h2conn c;
};

static void peers_init(struct peers *p, int start) {
  memset(p, 0, sizeof *p);
  cr_assert_eq(nghttp2_hd_deflate_new(&p->cl, 4096), 0);
  cr_assert_eq(nghttp2_hd_deflate_new(&p->sv, 4096), 0);
  if (start)
    h2_start(&p->c);
}

static void peers_free(struct peers *p) {
  nghttp2_hd_deflate_del(p->cl);
  nghttp2_hd_deflate_del(p->sv);
  h2c_free(&p->c);
}

/* A HEADERS frame (END_HEADERS added) with the block of nv. */
static void headers(struct peers *p, int dir, uint32_t sid, int flags,
                    const char *const *nv) {
  struct fb blk = {0}, f = {0};
  hp_block(dir == WIRE_OUT ? p->cl : p->sv, &blk, nv);
  fb_frame(&f, T_HEADERS, flags | END_HEADERS, sid, blk.p, blk.n);
  h2c_add(&p->c, dir, f.p, f.n);
  fb_free(&blk);
  fb_free(&f);
}

static void data(struct peers *p, int dir, uint32_t sid, int flags,
                 const char *s) {
  struct fb f = {0};
  fb_frame(&f, T_DATA, flags, sid, s, strlen(s));
  h2c_add(&p->c, dir, f.p, f.n);
  fb_free(&f);
}

static void frame(struct peers *p, int dir, int type, int flags, uint32_t sid,
                  const void *pl, size_t n) {
  struct fb f = {0};
  fb_frame(&f, type, flags, sid, pl, n);
  h2c_add(&p->c, dir, f.p, f.n);
  fb_free(&f);
}

static void rst(struct peers *p, int dir, uint32_t sid, uint32_t code) {
  struct fb pl = {0};
  fb_u32(&pl, code);
  frame(p, dir, T_RST, 0, sid, pl.p, pl.n);
  fb_free(&pl);
}

static const char *const POST[] = {":method",
                                   "POST",
                                   ":scheme",
                                   "https",
                                   ":authority",
                                   "api.openai.com",
                                   ":path",
                                   "/v1/chat/completions",
                                   "content-type",
                                   "application/json",
                                   "authorization",
                                   "Bearer sk-test",
                                   NULL};
static const char *const OK[] = {":status", "200", "content-type",
                                 "text/event-stream", NULL};

/* ---- the basics --------------------------------------------------------- */

Test(h2, one_exchange) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, 0, POST);
  data(&p, WIRE_OUT, 1, END_STREAM, "{\"stream\":true}");
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, 0, "data: 1\n\n");
  data(&p, WIRE_IN, 1, END_STREAM, "data: [DONE]\n\n");
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct wire_exchange *x = r.x[0];
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_str_eq(x->method, "POST");
  cr_assert_str_eq(x->target, "/v1/chat/completions");
  cr_assert_str_eq(x->host, "api.openai.com");
  cr_assert_eq(x->interest, 1);
  cr_assert_eq(x->flags, WIRE_X_H2);
  cr_assert_str_eq(x->req_head, "POST /v1/chat/completions HTTP/2\r\n"
                                "content-type: application/json\r\n"
                                "authorization: Bearer sk-test\r\n\r\n");
  FIELDS_EQ(x, "content-type: application/json\r\n"
               "authorization: Bearer sk-test\r\n");
  cr_assert_str_eq(x->req_body, "{\"stream\":true}");
  cr_assert_str_eq(x->resp_headers,
                   "HTTP/2 200\r\ncontent-type: text/event-stream\r\n\r\n");
  cr_assert_str_eq(x->resp_body, "data: 1\n\ndata: [DONE]\n\n");
  cr_assert_eq(x->status, 200);
  cr_assert_eq(r.state, WIRE_H2);
  cr_assert_eq(r.stats.exchanges, 1);
  struct at_exchange ex;
  cr_assert_eq(wire_exchange_fill(x, "https", NULL, &ex), 0);
  cr_assert_str_eq(ex.url, "https://api.openai.com/v1/chat/completions");
  cr_assert_eq(ex.transport_error, 0);
  h2_run_free(&r);
  peers_free(&p);
}

/* Time to first token: each DATA frame's decoded bytes are marked with
 * the arrival of the read that carried it, compressed or not. */
Test(h2, arrival_marks_per_data_frame_gzip) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const GZ[] = {":status", "200", "content-encoding", "gzip",
                                   NULL};
  static const char *const ev[] = {"data: {\"a\":1}\n\n", "data: {\"b\":2}\n\n",
                                   "data: [DONE]\n\n"};
  char *part[3];
  size_t pn[3];
  compress_pieces("gzip", ev, 3, part, pn);
  headers(&p, WIRE_OUT, 1, END_STREAM, POST);
  struct wire_h2 *h = wire_h2_new(NULL, NULL, NULL);
  for (size_t i = 0; i < p.c.n; i++)
    wire_h2_feed(h, (enum wire_dir)p.c.r[i].dir, p.c.r[i].p, p.c.r[i].n, 10);
  struct fb f = {0};
  struct fb blk = {0};
  hp_block(p.sv, &blk, GZ);
  fb_frame(&f, T_HEADERS, END_HEADERS, 1, blk.p, blk.n);
  wire_h2_feed(h, WIRE_IN, f.p, f.n, 100);
  for (int i = 0; i < 3; i++) {
    f.n = 0;
    fb_frame(&f, T_DATA, i == 2 ? END_STREAM : 0, 1, part[i], pn[i]);
    if (i == 0) {
      /* the first frame cut after its first 5 compressed bytes: what
       * they decode to is marked at their read */
      wire_h2_feed(h, WIRE_IN, f.p, 9 + 5, 200);
      wire_h2_feed(h, WIRE_IN, f.p + 14, f.n - 14, 250);
    } else {
      wire_h2_feed(h, WIRE_IN, f.p, f.n, 200 + 100 * i);
    }
    free(part[i]);
  }
  struct wire_exchange *x = wire_h2_next(h);
  cr_assert(x);
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_str_eq(x->resp_coding, "gzip");
  cr_assert_str_eq(x->resp_body,
                   "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n");
  cr_assert_eq(x->t_start_ns, 10);
  cr_assert_eq(x->t_first_byte_ns, 100);
  /* 5 bytes of gzip are its header: nothing decoded at 200 */
  cr_assert_eq(x->nmarks, 3);
  cr_assert_eq(x->marks[0].offset, 15);
  cr_assert_eq(x->marks[0].t_ns, 250);
  cr_assert_eq(x->marks[1].offset, 30);
  cr_assert_eq(x->marks[1].t_ns, 300);
  cr_assert_eq(x->marks[2].offset, x->resp_body_len);
  cr_assert_eq(x->marks[2].t_ns, 400);
  cr_assert_eq(x->t_end_ns, 400);
  wire_exchange_free(x);
  wire_h2_free(h);
  fb_free(&f);
  fb_free(&blk);
  peers_free(&p);
}

/* ---- header blocks ---------------------------------------------------- */

Test(h2, continuation_padding_priority) {
  struct peers p;
  peers_init(&p, 1);
  struct fb blk = {0}, f = {0}, pl = {0};
  hp_block(p.cl, &blk, POST);
  cr_assert_gt(blk.n, 12);
  /* HEADERS: pad length 3, priority (5 bytes), 5 bytes of the block, 3
   * bytes of padding; then two CONTINUATIONs */
  unsigned char pre[6] = {3, 0x80, 0, 0, 0, 15};
  fb_put(&pl, pre, 6);
  fb_put(&pl, blk.p, 5);
  fb_put(&pl, "\0\0\0", 3);
  fb_frame(&f, T_HEADERS, PADDED | PRIO, 1, pl.p, pl.n);
  fb_frame(&f, T_CONT, 0, 1, blk.p + 5, 4);
  fb_frame(&f, T_CONT, END_HEADERS, 1, blk.p + 9, blk.n - 9);
  /* DATA with 200 bytes of padding */
  pl.n = 0;
  unsigned char pad = 200;
  fb_put(&pl, &pad, 1);
  fb_put(&pl, "{}", 2);
  for (int i = 0; i < 200; i++)
    fb_put(&pl, "", 1);
  fb_frame(&f, T_DATA, PADDED | END_STREAM, 1, pl.p, pl.n);
  h2c_add(&p.c, WIRE_OUT, f.p, f.n);
  /* the answer's block over HEADERS + CONTINUATION, the stream ended on
   * the HEADERS frame */
  blk.n = 0;
  static const char *const NOC[] = {":status", "204", "x-a", "1", NULL};
  hp_block(p.sv, &blk, NOC);
  f.n = 0;
  fb_frame(&f, T_HEADERS, END_STREAM, 1, blk.p, 2);
  fb_frame(&f, T_CONT, END_HEADERS, 1, blk.p + 2, blk.n - 2);
  h2c_add(&p.c, WIRE_IN, f.p, f.n);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1, "%s", r.reason);
  cr_assert_eq(r.x[0]->partial, 0, "%s", r.x[0]->reason);
  cr_assert_str_eq(r.x[0]->target, "/v1/chat/completions");
  cr_assert_str_eq(r.x[0]->req_body, "{}");
  cr_assert_eq(r.x[0]->status, 204);
  cr_assert_str_eq(r.x[0]->resp_headers, "HTTP/2 204\r\nx-a: 1\r\n\r\n");
  h2_run_free(&r);
  fb_free(&blk);
  fb_free(&f);
  fb_free(&pl);
  peers_free(&p);
}

Test(h2, header_block_interrupted_is_lost) {
  struct peers p;
  peers_init(&p, 1);
  struct fb blk = {0};
  hp_block(p.cl, &blk, POST);
  frame(&p, WIRE_OUT, T_HEADERS, 0, 1, blk.p, 4);
  frame(&p, WIRE_OUT, T_PING, 0, 0, "12345678", 8);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_str_eq(r.reason, "client header block of stream 1 interrupted");
  cr_assert_eq(r.n, 0);
  h2_run_free(&r);
  fb_free(&blk);
  peers_free(&p);
}

Test(h2, continuation_without_headers_is_lost) {
  struct peers p;
  peers_init(&p, 1);
  frame(&p, WIRE_OUT, T_CONT, END_HEADERS, 1, "\x82", 1);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_str_eq(r.reason, "client CONTINUATION without a header block");
  h2_run_free(&r);
  peers_free(&p);
}

/* The encoder's dynamic table is shared by all blocks: evictions, and a
 * SETTINGS_HEADER_TABLE_SIZE that takes effect at the ACK. */
Test(h2, dynamic_table_eviction_and_size_update) {
  struct peers p;
  peers_init(&p, 0);
  struct fb b = {0};
  fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
  static const uint32_t cl_set[] = {1, 0}; /* client: no table for answers */
  fb_settings(&b, 0, cl_set, 1);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  b.n = 0;
  static const uint32_t sv_set[] = {1, 120}; /* server: 120-byte table */
  fb_settings(&b, 0, sv_set, 1);
  h2c_add(&p.c, WIRE_IN, b.p, b.n);
  /* a request encoded before the client read the server's SETTINGS:
   * the old 4096-byte table, its fields indexed */
  static const char *const R1[] = {
      ":method",
      "POST",
      ":scheme",
      "https",
      ":authority",
      "api.example.com",
      ":path",
      "/v1/chat/completions",
      "x-long-header-name-one",
      "a-value-long-enough-to-fill-a-small-table-0123456789",
      NULL};
  headers(&p, WIRE_OUT, 1, END_STREAM, R1);
  /* now the client ACKs, and its encoder shrinks: a size update follows */
  b.n = 0;
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  cr_assert_eq(nghttp2_hd_deflate_change_table_size(p.cl, 120), 0);
  /* the server ACKs the client's 0: its encoder may index nothing */
  b.n = 0;
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_IN, b.p, b.n);
  cr_assert_eq(nghttp2_hd_deflate_change_table_size(p.sv, 0), 0);
  static const char *const A[] = {":status", "200", "x-served-by",
                                  "node-a-0123456789", NULL};
  headers(&p, WIRE_IN, 1, END_STREAM, A);
  /* five requests with values that each evict the one before */
  char v[5][64], path[5][32];
  for (int i = 0; i < 5; i++) {
    snprintf(v[i], sizeof v[i], "value-%d-%040d", i, i);
    snprintf(path[i], sizeof path[i], "/v1/x/%d", i);
    const char *nv[] = {
        ":method", "GET",   ":scheme", "https", ":authority", "api.example.com",
        ":path",   path[i], "x-id",    v[i],    NULL};
    headers(&p, WIRE_OUT, 3 + 2 * (uint32_t)i, END_STREAM, nv);
    headers(&p, WIRE_IN, 3 + 2 * (uint32_t)i, END_STREAM, A);
  }
  cr_assert_leq(nghttp2_hd_deflate_get_dynamic_table_size(p.cl), 120);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_H2, "%s", r.reason);
  cr_assert_eq(r.n, 6);
  cr_assert(strstr(r.x[0]->req_fields, "x-long-header-name-one: a-value-long"));
  for (int i = 0; i < 5; i++) {
    struct wire_exchange *x = r.x[1 + i];
    cr_assert_eq(x->partial, 0, "%s", x->reason);
    cr_assert_str_eq(x->target, path[i]);
    char want[400];
    snprintf(want, sizeof want, "x-id: %s\r\n", v[i]);
    FIELDS_EQ(x, want);
    cr_assert_str_eq(x->resp_headers,
                     "HTTP/2 200\r\nx-served-by: node-a-0123456789\r\n\r\n");
  }
  h2_run_free(&r);
  fb_free(&b);
  peers_free(&p);
}

/* An encoder that ignores an acknowledged smaller table breaks HPACK: the
 * connection cannot be followed any more. */
Test(h2, encoder_ignoring_the_table_size_is_lost) {
  struct peers p;
  peers_init(&p, 0);
  struct fb b = {0};
  fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
  fb_settings(&b, 0, NULL, 0);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  b.n = 0;
  static const uint32_t sv_set[] = {1, 64};
  fb_settings(&b, 0, sv_set, 1);
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_IN, b.p, b.n);
  headers(&p, WIRE_OUT, 1, END_STREAM, POST); /* fills 4096-byte table */
  b.n = 0;
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  headers(&p, WIRE_OUT, 3, END_STREAM, POST); /* no size update */
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_str_eq(r.reason,
                   "client HPACK: invalid header block (COMPRESSION_ERROR)");
  cr_assert_eq(r.n, 1); /* stream 1 cut: no response */
  cr_assert_str_eq(r.x[0]->reason,
                   "no response: client HPACK: invalid header block "
                   "(COMPRESSION_ERROR)");
  h2_run_free(&r);
  fb_free(&b);
  peers_free(&p);
}

/* A peer that lets the table grow past our bound gets an error, not our
 * memory. */
Test(h2, hpack_memory_bound) {
  struct peers p;
  peers_init(&p, 0);
  nghttp2_hd_deflate_del(p.sv);
  cr_assert_eq(nghttp2_hd_deflate_new(&p.sv, 1 << 20), 0);
  struct fb b = {0};
  fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
  static const uint32_t cl_set[] = {1, 1 << 20};
  fb_settings(&b, 0, cl_set, 1);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  b.n = 0;
  fb_settings(&b, 0, NULL, 0);
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_IN, b.p, b.n);
  cr_assert_eq(nghttp2_hd_deflate_change_table_size(p.sv, 1 << 20), 0);
  char vals[40][1001];
  for (uint32_t i = 0; i < 40; i++) {
    char path[16];
    snprintf(path, sizeof path, "/%u", i);
    const char *nv[] = {":method", "GET",   ":scheme", "https", ":authority",
                        "h",       ":path", path,      NULL};
    headers(&p, WIRE_OUT, 1 + 2 * i, END_STREAM, nv);
    memset(vals[i], 'a' + (int)(i % 26), 1000);
    vals[i][0] = (char)('0' + i % 10);
    vals[i][1] = (char)('0' + i / 10);
    vals[i][1000] = '\0';
    const char *rv[] = {":status", "200", "x-v", vals[i], NULL};
    headers(&p, WIRE_IN, 1 + 2 * i, END_STREAM, rv);
  }
  struct wire_limits lim = {.max_head = 4096};
  struct h2run r;
  h2_check_splits(&p.c, &lim, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_str_eq(r.reason,
                   "server HPACK: dynamic table over the memory bound");
  /* what came before the bound was reached is whole */
  cr_assert_geq(r.n, 20);
  for (int i = 0; i < r.n - 1; i++)
    cr_assert_eq(r.x[i]->partial, 0, "%d: %s", i, r.x[i]->reason);
  h2_run_free(&r);
  fb_free(&b);
  peers_free(&p);
}

/* ... while a table as large as max_head (64 KiB by default) is always
 * followed, even filled with the smallest entries (the costliest for the
 * inflater's bookkeeping). */
Test(h2, full_64k_table_of_tiny_entries_fits) {
  struct peers p;
  peers_init(&p, 0);
  nghttp2_hd_deflate_del(p.sv);
  cr_assert_eq(nghttp2_hd_deflate_new(&p.sv, 65536), 0);
  struct fb b = {0};
  fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
  static const uint32_t cl_set[] = {1, 65536};
  fb_settings(&b, 0, cl_set, 1);
  h2c_add(&p.c, WIRE_OUT, b.p, b.n);
  b.n = 0;
  fb_settings(&b, 0, NULL, 0);
  fb_settings(&b, 1, NULL, 0);
  h2c_add(&p.c, WIRE_IN, b.p, b.n);
  cr_assert_eq(nghttp2_hd_deflate_change_table_size(p.sv, 65536), 0);
  static char names[2500][8];
  for (uint32_t i = 0; i < 50; i++) {
    const char *nv[2 + 2 * 50 + 1];
    nv[0] = ":status";
    nv[1] = "200";
    for (int k = 0; k < 50; k++) {
      snprintf(names[i * 50 + (uint32_t)k], 8, "%x", i * 50 + (uint32_t)k);
      nv[2 + 2 * k] = names[i * 50 + (uint32_t)k];
      nv[3 + 2 * k] = "";
    }
    nv[2 + 2 * 50] = NULL;
    static const char *const G[] = {":method", "GET",        ":scheme",
                                    "https",   ":authority", "h",
                                    ":path",   "/",          NULL};
    headers(&p, WIRE_OUT, 1 + 2 * i, END_STREAM, G);
    headers(&p, WIRE_IN, 1 + 2 * i, END_STREAM, nv);
  }
  cr_assert_gt(nghttp2_hd_deflate_get_dynamic_table_size(p.sv), 60000);
  struct h2run r;
  h2_run(&p.c, 0, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_H2, "%s", r.reason);
  cr_assert_eq(r.n, 50);
  cr_assert(strstr(r.x[49]->resp_headers, "\r\n9c3: \r\n"));
  h2_run_free(&r);
  fb_free(&b);
  peers_free(&p);
}

/* ---- streams ------------------------------------------------------------ */

Test(h2, interleaved_streams_finish_in_their_order) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const G1[] = {":method", "GET",        ":scheme",
                                   "https",   ":authority", "h",
                                   ":path",   "/one",       NULL};
  static const char *const G3[] = {":method", "GET",        ":scheme",
                                   "https",   ":authority", "h",
                                   ":path",   "/three",     NULL};
  headers(&p, WIRE_OUT, 1, END_STREAM, G1);
  headers(&p, WIRE_OUT, 3, END_STREAM, G3);
  headers(&p, WIRE_IN, 3, 0, OK);
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, 0, "1a");
  data(&p, WIRE_IN, 3, 0, "3a");
  data(&p, WIRE_IN, 1, 0, "1b");
  data(&p, WIRE_IN, 3, END_STREAM, "3b");
  data(&p, WIRE_IN, 1, END_STREAM, "1c");
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->target, "/three");
  cr_assert_str_eq(r.x[0]->resp_body, "3a3b");
  cr_assert_str_eq(r.x[1]->target, "/one");
  cr_assert_str_eq(r.x[1]->resp_body, "1a1b1c");
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, rst_stream_mid_body) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, END_STREAM, POST);
  headers(&p, WIRE_OUT, 3, END_STREAM, POST);
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, 0, "data: {\"x\":1}\n\n");
  rst(&p, WIRE_IN, 1, 2);
  rst(&p, WIRE_IN, 3, 0x1234);
  data(&p, WIRE_IN, 1, 0, "late"); /* after the reset: ignored */
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->reason, "stream reset by server: INTERNAL_ERROR");
  cr_assert_str_eq(r.x[0]->resp_body, "data: {\"x\":1}\n\n");
  cr_assert_eq(r.x[0]->status, 200);
  cr_assert_str_eq(r.x[1]->reason, "stream reset by server: error 0x1234");
  cr_assert_eq(r.stats.reset, 2);
  cr_assert_eq(r.stats.partial, 2);
  cr_assert_eq(r.state, WIRE_H2);
  h2_run_free(&r);
  peers_free(&p);
}

/* A server that answered before the request body ended may reset the
 * stream with NO_ERROR (RFC 9113 §8.1): the exchange is whole. */
Test(h2, early_answer_then_reset_is_whole) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const E[] = {":status", "413", NULL};
  headers(&p, WIRE_OUT, 1, 0, POST);
  data(&p, WIRE_OUT, 1, 0, "{\"big\":");
  headers(&p, WIRE_IN, 1, END_STREAM, E);
  rst(&p, WIRE_IN, 1, 0);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 0, "%s", r.x[0]->reason);
  cr_assert_eq(r.x[0]->status, 413);
  cr_assert_eq(r.stats.reset, 0);
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, goaway_with_an_error) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, END_STREAM, POST);
  headers(&p, WIRE_OUT, 3, END_STREAM, POST);
  struct fb pl = {0};
  fb_u32(&pl, 1);
  fb_u32(&pl, 1);
  fb_put(&pl, "debug data", 10);
  frame(&p, WIRE_IN, T_GOAWAY, 0, 0, pl.p, pl.n);
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, END_STREAM, "ok");
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->reason,
                   "not processed: server sent GOAWAY (PROTOCOL_ERROR)");
  cr_assert_eq(r.x[1]->partial, 0);
  cr_assert_str_eq(r.x[1]->resp_body, "ok");
  h2_run_free(&r);
  fb_free(&pl);
  peers_free(&p);
}

Test(h2, trailers_and_interim_answers) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const T[] = {"x-checksum", "abc", NULL};
  static const char *const C[] = {":status", "100", NULL};
  static const char *const ST[] = {"grpc-status", "0", NULL};
  headers(&p, WIRE_OUT, 1, 0, POST);
  headers(&p, WIRE_IN, 1, 0, C);
  data(&p, WIRE_OUT, 1, 0, "{}");
  headers(&p, WIRE_OUT, 1, END_STREAM, T); /* request trailers */
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, 0, "body");
  headers(&p, WIRE_IN, 1, END_STREAM, ST); /* response trailers */
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct wire_exchange *x = r.x[0];
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_str_eq(x->req_body, "{}");
  cr_assert_str_eq(x->resp_body, "body");
  cr_assert_str_eq(x->resp_headers, "HTTP/2 100\r\n\r\nHTTP/2 200\r\n"
                                    "content-type: text/event-stream\r\n\r\n");
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, server_push_is_counted_not_captured) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const G[] = {":method", "GET",        ":scheme",
                                  "https",   ":authority", "h",
                                  ":path",   "/",          NULL};
  static const char *const PUSHED[] = {":method", "GET",        ":scheme",
                                       "https",   ":authority", "h",
                                       ":path",   "/p.css",     NULL};
  headers(&p, WIRE_OUT, 1, END_STREAM, G);
  struct fb blk = {0}, pl = {0};
  hp_block(p.sv, &blk, PUSHED);
  fb_u32(&pl, 2);
  fb_put(&pl, blk.p, blk.n);
  frame(&p, WIRE_IN, T_PUSH, END_HEADERS, 1, pl.p, pl.n);
  headers(&p, WIRE_IN, 2, 0, OK);
  data(&p, WIRE_IN, 2, END_STREAM, "pushed");
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, END_STREAM, "index");
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->resp_body, "index");
  cr_assert_eq(r.stats.pushed, 1);
  h2_run_free(&r);
  fb_free(&blk);
  fb_free(&pl);
  peers_free(&p);
}

/* ---- never guess -------------------------------------------------------- */

Test(h2, mid_connection_start_is_undecodable) {
  struct peers p;
  peers_init(&p, 0);
  headers(&p, WIRE_OUT, 7, END_STREAM, POST);
  headers(&p, WIRE_IN, 7, END_STREAM, OK);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_eq(r.stats.undecodable, 1);
  cr_assert_str_eq(r.reason, "no HTTP/2 client preface (observation began "
                             "mid-connection?)");
  cr_assert_eq(r.n, 0);
  h2_run_free(&r);
  /* the server's side first: not its SETTINGS */
  h2c_free(&p.c);
  headers(&p, WIRE_IN, 7, END_STREAM, OK);
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.stats.undecodable, 1);
  cr_assert_str_eq(r.reason, "server did not start with SETTINGS "
                             "(observation began mid-connection?)");
  h2_run_free(&r);
  /* HTTP/1.1 fed to the h2 decoder */
  h2c_free(&p.c);
  h2c_add(&p.c, WIRE_OUT, "GET / HTTP/1.1\r\n\r\n", 18);
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.stats.undecodable, 1);
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, response_on_a_stream_never_opened) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, END_STREAM, POST);
  headers(&p, WIRE_IN, 5, 0, OK);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_LOST);
  cr_assert_eq(r.stats.unmatched, 1);
  cr_assert_eq(r.n, 1);
  cr_assert_str_eq(r.x[0]->reason,
                   "no response: response on stream 5, never opened "
                   "(observation began mid-connection?)");
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, framing_errors_are_lost) {
  static const struct {
    int dir, type, flags;
    uint32_t sid;
    const char *pl;
    size_t n;
    const char *why;
  } cases[] = {
      {WIRE_IN, T_DATA, PADDED, 1,
       "\x05"
       "abc",
       4, "server padding longer than its frame"},
      {WIRE_OUT, T_SETTINGS, 0, 0, "\0\1\0\0\0", 5,
       "client SETTINGS frame malformed"},
      {WIRE_OUT, T_SETTINGS, ACK, 0, "\0\1\0\0\0\0", 6,
       "client SETTINGS frame malformed"},
      {WIRE_IN, T_PING, 0, 1, "12345678", 8, "server PING frame malformed"},
      {WIRE_IN, T_GOAWAY, 0, 0, "1234", 4, "server GOAWAY frame malformed"},
      {WIRE_OUT, T_RST, 0, 0, "1234", 4, "client RST_STREAM frame malformed"},
      {WIRE_OUT, T_WINDOW, 0, 0, "12", 2,
       "client WINDOW_UPDATE frame malformed"},
      {WIRE_OUT, T_PUSH, END_HEADERS, 1, "\0\0\0\2", 4,
       "PUSH_PROMISE from the client on stream 1"},
      {WIRE_OUT, T_DATA, 0, 9, "x", 1, "client DATA on stream 9, never opened"},
      {WIRE_OUT, T_HEADERS, END_HEADERS, 2, "\x82", 1,
       "client HEADERS on stream 2, an even one"},
      {WIRE_OUT, T_HEADERS, PRIO | END_HEADERS, 3, "\0\0", 2,
       "client frame too short for its padding or priority fields"},
      {WIRE_OUT, T_SETTINGS, 0, 0, "\0\5\0\0\0\1", 6,
       "client SETTINGS_MAX_FRAME_SIZE 1 out of range"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct peers p;
    peers_init(&p, 1);
    headers(&p, WIRE_OUT, 1, END_STREAM, POST);
    frame(&p, cases[i].dir, cases[i].type, cases[i].flags, cases[i].sid,
          cases[i].pl, cases[i].n);
    struct h2run r;
    h2_check_splits(&p.c, NULL, NULL, NULL, &r);
    cr_assert_eq(r.state, WIRE_LOST, "case %zu", i);
    cr_assert_str_eq(r.reason, cases[i].why, "case %zu", i);
    h2_run_free(&r);
    peers_free(&p);
  }
}

Test(h2, frame_size_follows_settings) {
  static char big[20000];
  memset(big, 'x', sizeof big - 1);
  for (int raise = 0; raise < 2; raise++) {
    struct peers p;
    peers_init(&p, 0);
    struct fb b = {0};
    fb_put(&b, WIRE_H2_PREFACE, WIRE_H2_PREFACE_LEN);
    static const uint32_t set[] = {5, 32768};
    fb_settings(&b, 0, set, raise ? 1 : 0);
    h2c_add(&p.c, WIRE_OUT, b.p, b.n);
    b.n = 0;
    fb_settings(&b, 0, NULL, 0);
    h2c_add(&p.c, WIRE_IN, b.p, b.n);
    headers(&p, WIRE_OUT, 1, END_STREAM, POST);
    headers(&p, WIRE_IN, 1, 0, OK);
    data(&p, WIRE_IN, 1, END_STREAM, big);
    struct h2run r;
    h2_check_splits(&p.c, NULL, NULL, NULL, &r);
    if (raise) {
      cr_assert_eq(r.state, WIRE_H2, "%s", r.reason);
      cr_assert_eq(r.x[0]->resp_body_len, sizeof big - 1);
    } else {
      cr_assert_eq(r.state, WIRE_LOST);
      cr_assert_str_eq(r.reason, "server frame of 19999 bytes over "
                                 "SETTINGS_MAX_FRAME_SIZE 16384");
    }
    h2_run_free(&r);
    fb_free(&b);
    peers_free(&p);
  }
}

Test(h2, ignorable_frames) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, 0, POST);
  frame(&p, WIRE_OUT, 0xfa, 0xff, 1, "unknown", 7); /* unknown type */
  frame(&p, WIRE_OUT, T_PRIORITY, 0, 1, "\0\0\0\0\7", 5);
  frame(&p, WIRE_OUT, T_WINDOW, 0, 0, "\0\1\0\0", 4);
  frame(&p, WIRE_IN, T_PING, 0, 0, "12345678", 8);
  frame(&p, WIRE_OUT, T_PING, ACK, 0, "12345678", 8);
  data(&p, WIRE_OUT, 1, END_STREAM, "{}");
  headers(&p, WIRE_IN, 1, END_STREAM, OK);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_H2, "%s", r.reason);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.x[0]->partial, 0);
  h2_run_free(&r);
  peers_free(&p);
}

/* ---- malformed messages ------------------------------------------------- */

Test(h2, malformed_fields) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const UP[] = {
      ":method", "GET",     ":scheme", "https", ":path", "/up", ":authority",
      "h",       "X-Upper", "1",       "ok",    "2",     NULL};
  static const char *const CRLF[] = {
      ":method",    "GET", ":scheme",  "https",          ":path", "/crlf",
      ":authority", "h",   "x-inject", "a\r\nx-evil: 1", NULL};
  static const char *const LATE[] = {":method", "GET",   "x-a", "1",
                                     ":path",   "/late", NULL};
  static const char *const NOPATH[] = {":method", "GET", ":scheme", "https",
                                       NULL};
  static const char *const NOSTATUS[] = {"x-a", "1", NULL};
  headers(&p, WIRE_OUT, 1, END_STREAM, UP);
  headers(&p, WIRE_OUT, 3, END_STREAM, CRLF);
  headers(&p, WIRE_OUT, 5, END_STREAM, LATE);
  headers(&p, WIRE_OUT, 7, END_STREAM, NOPATH);
  headers(&p, WIRE_OUT, 9, END_STREAM, POST);
  static const char *const BADPATH[] = {
      ":method", "GET", ":scheme", "https", ":path", "/a HTTP/1.1\r\nx: y",
      NULL};
  headers(&p, WIRE_OUT, 11, END_STREAM, BADPATH);
  headers(&p, WIRE_IN, 1, END_STREAM, OK);
  headers(&p, WIRE_IN, 3, END_STREAM, OK);
  headers(&p, WIRE_IN, 5, END_STREAM, OK);
  headers(&p, WIRE_IN, 7, END_STREAM, OK); /* not tracked: skipped */
  headers(&p, WIRE_IN, 9, END_STREAM, NOSTATUS);
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_H2, "%s", r.reason);
  cr_assert_eq(r.n, 4);
  cr_assert_eq(r.stats.malformed, 2); /* no :path, a :path with CRLF */
  cr_assert_str_eq(r.x[0]->reason, "request: malformed header field");
  FIELDS_EQ(r.x[0], "ok: 2\r\n");
  cr_assert_str_eq(r.x[1]->reason, "request: malformed header field");
  cr_assert_null(strstr(r.x[1]->req_head, "evil"));
  cr_assert_str_eq(r.x[2]->reason,
                   "request: pseudo-header field after a regular one");
  cr_assert_str_eq(r.x[3]->reason, "response: no :status");
  cr_assert_eq(r.x[3]->status, 0);
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, content_length_checked) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const CL[] = {":status", "200", "content-length", "10",
                                   NULL};
  static const char *const HEAD[] = {":method", "HEAD",       ":scheme",
                                     "https",   ":authority", "h",
                                     ":path",   "/",          NULL};
  headers(&p, WIRE_OUT, 1, END_STREAM, POST);
  headers(&p, WIRE_IN, 1, 0, CL);
  data(&p, WIRE_IN, 1, END_STREAM, "12345");
  headers(&p, WIRE_OUT, 3, END_STREAM, HEAD);
  headers(&p, WIRE_IN, 3, END_STREAM, CL); /* HEAD: no body, fine */
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->reason,
                   "response: content-length 10 but 5 bytes of DATA");
  cr_assert_eq(r.x[1]->partial, 0, "%s", r.x[1]->reason);
  h2_run_free(&r);
  peers_free(&p);
}

/* ---- the predicate and the limits -----------------------------------------
 */

struct seen {
  int calls;
  char last[256];
};

static int pick(void *arg, const struct wire_request *rq) {
  struct seen *s = arg;
  s->calls++;
  snprintf(s->last, sizeof s->last, "%.*s %.*s %.*s", (int)rq->method_len,
           rq->method, (int)rq->target_len, rq->target, (int)rq->host_len,
           rq->host);
  if (rq->method_len == 4 && !memcmp(rq->method, "STOP", 4))
    return -1;
  if (rq->target_len >= 5 && !memcmp(rq->target, "/skip", 5))
    return 0;
  return 7;
}

Test(h2, predicate_skips_and_stops) {
  struct peers p;
  peers_init(&p, 1);
  static const char *const SKIP[] = {
      ":method",    "POST",           ":scheme", "https",
      ":authority", "api.openai.com", ":path",   "/skip",
      "x-shared",   "indexed-here",   NULL};
  static const char *const KEEP[] = {
      ":method",    "POST",           ":scheme", "https",
      ":authority", "api.openai.com", ":path",   "/keep",
      "x-shared",   "indexed-here",   NULL};
  static const char *const STOP[] = {":method", "STOP",       ":scheme",
                                     "https",   ":authority", "a",
                                     ":path",   "/",          NULL};
  headers(&p, WIRE_OUT, 1, 0, SKIP);
  headers(&p, WIRE_OUT, 3, 0, KEEP); /* uses the entries /skip added */
  data(&p, WIRE_OUT, 1, END_STREAM, "skipped body");
  data(&p, WIRE_OUT, 3, END_STREAM, "kept body");
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, END_STREAM, "skipped answer");
  headers(&p, WIRE_IN, 3, 0, OK);
  data(&p, WIRE_IN, 3, END_STREAM, "kept answer");
  headers(&p, WIRE_OUT, 5, 0, KEEP); /* in flight when watching stops */
  headers(&p, WIRE_OUT, 7, END_STREAM, STOP);
  struct seen s = {0};
  struct h2run r;
  h2_check_splits(&p.c, NULL, pick, &s, &r);
  cr_assert_eq(r.state, WIRE_IGNORED);
  cr_assert_eq(r.stats.skipped, 1);
  cr_assert_eq(r.n, 2);
  cr_assert_str_eq(r.x[0]->target, "/keep");
  cr_assert_eq(r.x[0]->interest, 7);
  FIELDS_EQ(r.x[0], "x-shared: indexed-here\r\n");
  cr_assert_str_eq(r.x[0]->resp_body, "kept answer");
  cr_assert_str_eq(r.x[1]->reason, "request body cut: no longer watched");
  cr_assert_str_eq(s.last, "STOP / a");
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, limits) {
  struct peers p;
  peers_init(&p, 1);
  char big[300];
  memset(big, 'v', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  const char *const BIG[] = {":status", "200", "x-big", big, NULL};
  for (uint32_t sid = 1; sid <= 5; sid += 2)
    headers(&p, WIRE_OUT, sid, END_STREAM, POST);
  headers(&p, WIRE_IN, 1, 0, OK);
  data(&p, WIRE_IN, 1, 0, "0123456789");
  data(&p, WIRE_IN, 1, END_STREAM, "abcdef");
  headers(&p, WIRE_IN, 3, END_STREAM, BIG);
  headers(&p, WIRE_IN, 5, END_STREAM, OK); /* the dropped one */
  struct wire_limits lim = {
      .max_head = 200, .max_body = 12, .max_pending = 2, .max_done = 8};
  struct h2run r;
  h2_check_splits(&p.c, &lim, NULL, NULL, &r);
  cr_assert_eq(r.n, 2);
  cr_assert_eq(r.stats.dropped, 1);
  cr_assert_str_eq(r.x[0]->resp_body, "0123456789ab");
  cr_assert_eq(r.x[0]->resp_body_truncated, 1);
  cr_assert_eq(r.x[0]->partial, 0);
  cr_assert_str_eq(r.x[1]->reason, "response: headers too large");
  cr_assert_str_eq(r.x[1]->resp_headers, "HTTP/2 200\r\n\r\n");
  h2_run_free(&r);
  peers_free(&p);
}

Test(h2, closed_mid_way) {
  struct peers p;
  peers_init(&p, 1);
  headers(&p, WIRE_OUT, 1, 0, POST); /* body never ends */
  headers(&p, WIRE_OUT, 3, END_STREAM, POST);
  headers(&p, WIRE_OUT, 5, END_STREAM, POST);
  headers(&p, WIRE_OUT, 7, END_STREAM, POST);
  headers(&p, WIRE_IN, 3, 0, OK);
  data(&p, WIRE_IN, 3, 0, "part");
  static const char *const C[] = {":status", "103", NULL};
  headers(&p, WIRE_IN, 5, 0, C);
  h2c_close(&p.c, "ECONNRESET");
  struct h2run r;
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.state, WIRE_CLOSED);
  cr_assert_str_eq(r.reason, "ECONNRESET");
  cr_assert_eq(r.n, 4);
  cr_assert_str_eq(r.x[0]->reason, "request body cut: ECONNRESET");
  cr_assert_str_eq(r.x[1]->reason, "response body cut: ECONNRESET");
  cr_assert_str_eq(r.x[1]->resp_body, "part");
  cr_assert_str_eq(r.x[2]->reason, "no final response: ECONNRESET");
  cr_assert_str_eq(r.x[3]->reason, "no response: ECONNRESET");
  h2_run_free(&r);
  /* an orderly close says so */
  p.c.n--;
  free(p.c.r[p.c.n].p);
  h2c_close(&p.c, NULL);
  h2_check_splits(&p.c, NULL, NULL, NULL, &r);
  cr_assert_str_eq(r.x[1]->reason, "response body cut: connection closed");
  h2_run_free(&r);
  peers_free(&p);
}
