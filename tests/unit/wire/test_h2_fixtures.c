/* wire/h2 on connections recorded from real HTTP/2 stacks (curl +
 * libnghttp2, httpx + python3-h2, python3-h2 on both ends): see
 * tests/tools/h2_record.py, which regenerates tests/fixtures/wire/. Every
 * fixture is also fed in 1, 2 and 7-byte pieces and must give the same
 * exchanges. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "h2_helpers.h"
#include "helpers.h"
#include "providers/providers.h"

/* Every SSE event of a body, counted. */
static int events(const struct wire_exchange *x) {
  int n = 0;
  for (const char *p = x->resp_body; (p = strstr(p, "data: ")); p += 6)
    n++;
  return n;
}

static int has(const char *hay, size_t n, const char *needle) {
  return memmem(hay, n, needle, strlen(needle)) != NULL;
}

static void marks_sane(const struct wire_exchange *x) {
  cr_assert_gt(x->nmarks, 0);
  for (size_t i = 0; i < x->nmarks; i++) {
    cr_assert_leq(x->marks[i].offset, x->resp_body_len);
    if (i) {
      cr_assert_geq(x->marks[i].offset, x->marks[i - 1].offset);
      cr_assert_gt(x->marks[i].t_ns, x->marks[i - 1].t_ns);
    }
  }
  cr_assert_eq(x->marks[x->nmarks - 1].offset, x->resp_body_len);
  cr_assert_geq(x->marks[0].t_ns, x->t_first_byte_ns);
}

static const char *text_of(const cJSON *rec) {
  const cJSON *out = cJSON_GetObjectItem(rec, "output");
  const cJSON *msg = cJSON_GetArrayItem(out, 0);
  const cJSON *parts = cJSON_GetObjectItem(msg, "parts");
  const cJSON *p0 = cJSON_GetArrayItem(parts, 0);
  const cJSON *c = cJSON_GetObjectItem(p0, "content");
  return cJSON_IsString(c) ? c->valuestring : NULL;
}

Test(h2_fixtures, curl_streamed_gzip) {
  struct h2conn c = {0};
  h2c_load(&c, "curl_h2c.h2rec");
  h2c_close(&c, NULL);
  struct h2run r;
  h2_check_splits(&c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 1);
  struct wire_exchange *x = r.x[0];
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_str_eq(x->method, "POST");
  cr_assert_str_eq(x->target, "/v1/chat/completions");
  cr_assert_eq(strncmp(x->host, "127.0.0.1:", 10), 0, "%s", x->host);
  cr_assert_eq(x->status, 200);
  cr_assert(x->flags & WIRE_X_H2);
  cr_assert_str_eq(x->resp_coding, "gzip");
  cr_assert_eq(strncmp(x->resp_headers, "HTTP/2 200\r\n", 12), 0);
  cr_assert(
      has(x->resp_headers, x->resp_headers_len, "content-encoding: gzip\r\n"));
  cr_assert(has(x->req_fields, x->req_fields_len,
                "authorization: Bearer sk-test-h2\r\n"));
  cr_assert(has(x->req_fields, x->req_fields_len, "user-agent: curl/"));
  cr_assert_eq(strncmp(x->req_head, "POST /v1/chat/completions HTTP/2\r\n", 34),
               0);
  cr_assert(strstr(x->req_body, "\"stream\": true"));
  cr_assert_eq(events(x), 8, "%s", x->resp_body);
  cr_assert(strstr(x->resp_body, "data: [DONE]\n\n"));
  cr_assert_gt(x->t_first_byte_ns, x->t_start_ns);
  marks_sane(x);
  cr_assert_eq(r.stats.exchanges, 1);
  cr_assert_eq(r.stats.undecodable, 0);
  cr_assert_eq(r.state, WIRE_CLOSED);

  /* to the providers, as the curl path would hand it over */
  struct at_exchange ex;
  cr_assert_eq(wire_exchange_fill(x, "http", NULL, &ex), 0);
  cr_assert_eq(strncmp(ex.url, "http://127.0.0.1:", 17), 0);
  const char *skip = NULL;
  cJSON *rec = at_parse_exchange(&ex, NULL, NULL, &skip);
  cr_assert(rec, "skipped: %s", skip ? skip : "?");
  cr_assert_str_eq(text_of(rec), "Hello from h2");
  const cJSON *lvl = cJSON_GetObjectItem(rec, "level");
  cr_assert_str_eq(lvl->valuestring, "DEFAULT");
  char *s = cJSON_PrintUnformatted(rec);
  cr_assert_null(strstr(s, "sk-test-h2"), "a secret reached the record");
  free(s);
  cJSON_Delete(rec);
  h2_run_free(&r);
  h2c_free(&c);
}

Test(h2_fixtures, httpx_three_interleaved_streams) {
  struct h2conn c = {0};
  h2c_load(&c, "httpx_h2c.h2rec");
  h2c_close(&c, NULL);
  struct h2run r;
  h2_check_splits(&c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 3);
  int gz = 0;
  for (int i = 0; i < 3; i++) {
    struct wire_exchange *x = r.x[i];
    cr_assert_eq(x->partial, 0, "%s", x->reason);
    cr_assert_eq(x->status, 200);
    cr_assert_eq(events(x), 8);
    char want[64];
    /* the case id travels in the request and comes back in each event */
    const char *id =
        memmem(x->req_fields, x->req_fields_len, "x-case: httpx", 13);
    cr_assert(id);
    snprintf(want, sizeof want, "\"id\":\"chatcmpl-httpx%c\"", id[13]);
    cr_assert(strstr(x->resp_body, want), "%s not in %s", want, x->resp_body);
    gz += !strcmp(x->resp_coding, "gzip");
    marks_sane(x);
    /* the answers were interleaved: every stream's marks are spread */
    cr_assert_geq(x->nmarks, 7);
  }
  cr_assert_eq(gz, 1);
  h2_run_free(&r);
  h2c_free(&c);
}

Test(h2_fixtures, pyh2_every_feature) {
  struct h2conn c = {0};
  h2c_load(&c, "pyh2_features.h2rec");
  h2c_close(&c, NULL);
  struct h2run r;
  h2_check_splits(&c, NULL, NULL, NULL, &r);
  cr_assert_eq(r.n, 6, "%d exchanges", r.n);
  cr_assert_eq(r.stats.pushed, 1);
  cr_assert_eq(r.stats.reset, 1);
  cr_assert_eq(r.stats.partial, 2);

  /* 1: priority, padded request DATA, a response block over CONTINUATION,
   * padded DATA, trailers (not a header block of the answer) */
  struct wire_exchange *x = r.x[0];
  cr_assert_str_eq(x->target, "/v1/chat/completions");
  cr_assert_str_eq(x->host, "api.openai.com");
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_eq(x->req_body_len, strlen(x->req_body));
  cr_assert_eq(x->req_body[0], '{');
  cr_assert_eq(x->req_body[x->req_body_len - 1], '}');
  cJSON *req = cJSON_Parse(x->req_body);
  cr_assert(req, "request body is not the JSON sent: %s", x->req_body);
  cJSON_Delete(req);
  const char *big = memmem(x->resp_headers, x->resp_headers_len, "x-big: ", 7);
  cr_assert(big);
  for (int i = 0; i < 30000; i++)
    cr_assert_eq(big[7 + i], 'b');
  cr_assert_eq(big[7 + 30000], '\r');
  cr_assert_null(memmem(x->resp_headers, x->resp_headers_len, "x-trailer", 9));
  cr_assert_eq(events(x), 6);

  /* 3 and 5 answered in turn; the pushed stream 2 is not an exchange */
  struct wire_exchange *m = h2_find(&r, "/v1/models");
  cr_assert_str_eq(m->resp_body,
                   "{\"object\":\"list\",\"data\":[{\"id\":\"gpt-4o-mini\"}]}");
  cr_assert_str_eq(m->method, "GET");
  struct wire_exchange *m1 = h2_find(&r, "/v1/models/gpt-4o-mini");
  cr_assert_str_eq(m1->resp_body,
                   "{\"id\":\"gpt-4o-mini\",\"object\":\"model\"}");
  cr_assert_eq(m1->partial, 0);
  cr_assert_str_eq(r.x[1]->target, "/v1/models");
  cr_assert_str_eq(r.x[2]->target, "/v1/models/gpt-4o-mini");

  /* 7: reset by the client mid-answer */
  x = r.x[3];
  cr_assert_eq(x->partial, 1);
  cr_assert_str_eq(x->reason, "stream reset by client: CANCEL");
  cr_assert_eq(events(x), 1);

  /* 9: 103 Early Hints kept before the final answer */
  x = r.x[4];
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_eq(x->status, 200);
  cr_assert_eq(strncmp(x->resp_headers, "HTTP/2 103\r\nlink: </a.css>", 26), 0,
               "%s", x->resp_headers);
  cr_assert(strstr(x->resp_headers, "\r\n\r\nHTTP/2 200\r\n"));
  cr_assert(strstr(x->resp_body, "\"content\": \"Hi\""));

  /* 11: above GOAWAY's last stream */
  x = r.x[5];
  cr_assert_eq(x->partial, 1);
  cr_assert_str_eq(x->reason, "not processed: server sent GOAWAY (NO_ERROR)");
  cr_assert_eq(x->status, 0);
  cr_assert(x->flags & WIRE_X_NO_RESPONSE);
  h2_run_free(&r);
  h2c_free(&c);
}

/* The fixtures cut at every record boundary: a connection closed there
 * gives partial exchanges with reasons, never a crash or a leak. */
Test(h2_fixtures, closed_after_every_record) {
  static const char *const names[] = {"curl_h2c.h2rec", "httpx_h2c.h2rec",
                                      "pyh2_features.h2rec"};
  for (size_t k = 0; k < 3; k++) {
    struct h2conn full = {0};
    h2c_load(&full, names[k]);
    for (size_t cut = 1; cut < full.n; cut++) {
      struct h2conn c = {0};
      for (size_t i = 0; i < cut; i++)
        h2c_add(&c, full.r[i].dir, full.r[i].p, full.r[i].n);
      h2c_close(&c, "ECONNRESET");
      struct h2run r;
      h2_run(&c, 0, NULL, NULL, NULL, &r);
      cr_assert(r.state == WIRE_CLOSED, "%s cut at %zu: %s", names[k], cut,
                r.reason);
      for (int i = 0; i < r.n; i++)
        if (r.x[i]->partial)
          cr_assert(strstr(r.x[i]->reason, "ECONNRESET") ||
                        strstr(r.x[i]->reason, "reset") ||
                        strstr(r.x[i]->reason, "GOAWAY"),
                    "%s", r.x[i]->reason);
      h2_run_free(&r);
      h2c_free(&c);
    }
    h2c_free(&full);
  }
}

/* A hook that began with wire_conn (no ALPN: h2c with prior knowledge)
 * hands over when wire_conn says WIRE_H2: wire_conn took the preface's
 * first line; wire_h2 gets that line, then the rest of the bytes. */
Test(h2_fixtures, handover_from_wire_conn) {
  struct h2conn c = {0};
  h2c_load(&c, "curl_h2c.h2rec");
  /* The recording is in the server's order, which sent its SETTINGS on
   * accept; the client wrote its preface before reading anything. */
  cr_assert_eq(c.r[0].dir, WIRE_IN);
  cr_assert_eq(c.r[1].dir, WIRE_OUT);
  struct h2rec first = c.r[0];
  c.r[0] = c.r[1];
  c.r[1] = first;
  struct wire_conn *h1 = wire_conn_new(NULL, NULL, NULL);
  struct wire_h2 *h2 = NULL;
  int64_t t = 0;
  for (size_t i = 0; i < c.n; i++) {
    const char *p = c.r[i].p;
    size_t n = c.r[i].n;
    if (!h2) {
      size_t taken = wire_conn_feed(h1, (enum wire_dir)c.r[i].dir, p, n, ++t);
      if (wire_conn_state(h1, NULL) != WIRE_H2)
        continue;
      cr_assert_eq(taken, 16);
      h2 = wire_h2_new(NULL, NULL, NULL);
      wire_h2_feed(h2, WIRE_OUT, WIRE_H2_PREFACE, 16, t);
      p += taken;
      n -= taken;
    }
    cr_assert_eq(wire_h2_feed(h2, (enum wire_dir)c.r[i].dir, p, n, ++t), n);
  }
  cr_assert(h2);
  struct wire_exchange *x = wire_h2_next(h2);
  cr_assert(x);
  cr_assert_eq(x->partial, 0, "%s", x->reason);
  cr_assert_eq(x->status, 200);
  wire_exchange_free(x);
  wire_h2_free(h2);
  wire_conn_free(h1);
  h2c_free(&c);
}
