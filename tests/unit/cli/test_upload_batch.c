/* upload_batch.c, upload_legacy.c, upload_markers.c, upload_stats.c and
 * http_gzip: batches are ranges and their bodies deterministic; dead
 * processes' spans are closed once; stats show the upload state. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/cli.h"
#include "cli/record.h"
#include "cli/upload.h"
#include "cli/upload_env.h"
#include "helpers.h"
#include "spool/spool.h"

#define T1 "0af7651916cd43dd8448eb211c80319c"
#define T2 "4bf92f3577b34da6a3ce929d0e0e4736"

/* A generation record; the result stays valid for 8 more calls. */
static const char *gen(const char *trace, int i, const char *parent) {
  static char ring[8][2048];
  static unsigned k;
  char *buf = ring[k++ % 8];
  snprintf(buf, sizeof ring[0], "%s",
           th_fmt("{\"v\":1,\"kind\":\"observation\",\"id\":\"%016x\","
                  "\"trace_id\":\"%s\",%s%s%s\"type\":\"generation\","
                  "\"name\":\"chat gpt-4o\",\"start_ns\":\"17637059921%08d\","
                  "\"end_ns\":\"17637059922%08d\",\"provider\":\"openai\","
                  "\"operation\":\"chat\",\"request_model\":\"gpt-4o\","
                  "\"model_parameters\":{\"temperature\":0.2,\"tools\":[{"
                  "\"type\":\"function\"}],\"stop\":[\"x\"]},"
                  "\"input\":[{\"role\":\"user\",\"parts\":[{\"type\":\"text\","
                  "\"content\":\"q%d\"}]}],\"usage\":{\"input_tokens\":9,"
                  "\"output_tokens\":3},\"usage_details\":{\"input\":9,"
                  "\"output\":3,\"total\":12},\"session_id\":\"s1\","
                  "\"process\":{\"pid\":42,\"exe\":\"/bin/agent\"}}",
                  0x1000 + i, trace, parent ? "\"parent_id\":\"" : "",
                  parent ? parent : "", parent ? "\"," : "", i, i, i));
  return buf;
}

static struct spool *open_rw(const char *dir) {
  struct spool *sp;
  char err[256];
  cr_assert_eq(spool_open(dir, 0, &sp, err, sizeof err), 0, "%s", err);
  return sp;
}

static void fill(const char *dir, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *r[] = {gen(i % 2 ? T1 : T2, (int)i, NULL)};
    cr_assert_eq(th_spool_records(dir, r, 1), 0);
  }
}

static struct upload_build_opts opts(void) {
  struct upload_build_opts o;
  memset(&o, 0, sizeof o);
  o.otlp.service_name = "svc";
  return o;
}

Test(upload_batch, ranges_respect_count_and_bytes_and_are_exact_on_resend) {
  char *dir = th_tmpdir();
  fill(dir, 10);
  struct spool *sp = open_rw(dir);
  struct upload_batch b;
  cr_assert_eq(upload_batch_load(sp, 1, 0, 4, 1 << 20, &b), 0);
  cr_expect_eq(b.first, 1);
  cr_expect_eq(b.last, 4);
  cr_expect_eq(b.n, 4);
  size_t one = b.raw_bytes / 4;
  upload_batch_free(&b);
  /* Bytes: room for two and a half records -> two. */
  cr_assert_eq(upload_batch_load(sp, 5, 0, 100, one * 5 / 2, &b), 0);
  cr_expect_eq(b.first, 5);
  cr_expect_eq(b.last, 6);
  upload_batch_free(&b);
  /* A record bigger than the bound still goes, alone. */
  cr_assert_eq(upload_batch_load(sp, 7, 0, 100, 10, &b), 0);
  cr_expect_eq(b.n, 1);
  upload_batch_free(&b);
  /* An exact range ignores the bounds. */
  cr_assert_eq(upload_batch_load(sp, 3, 9, 1, 10, &b), 0);
  cr_expect_eq(b.first, 3);
  cr_expect_eq(b.last, 9);
  cr_expect_eq(b.n, 7);
  upload_batch_free(&b);
  cr_expect_eq(upload_batch_load(sp, 11, 0, 100, 1 << 20, &b), 1,
               "nothing after the last record");
  spool_close(sp);
  free(dir);
}

Test(upload_batch, unreadable_records_are_counted_in_the_range) {
  char *dir = th_tmpdir();
  const char *r[] = {gen(T1, 1, NULL), "not json", "{\"id\":\"short\"}",
                     gen(T1, 2, NULL)};
  cr_assert_eq(th_spool_records(dir, r, 4), 0);
  struct spool *sp = open_rw(dir);
  struct upload_batch b;
  cr_assert_eq(upload_batch_load(sp, 1, 0, 100, 1 << 20, &b), 0);
  cr_expect_eq(b.n, 2);
  cr_expect_eq(b.unreadable, 2);
  cr_expect_eq(b.last, 4);
  cr_expect_eq(b.seqs[1], 4);
  upload_batch_free(&b);
  spool_close(sp);
  free(dir);
}

Test(upload_batch, the_same_range_builds_the_same_bytes) {
  char *dir = th_tmpdir();
  fill(dir, 6);
  const char *extra[] = {gen(T1, 50, "0000000000001001")};
  cr_assert_eq(th_spool_records(dir, extra, 1), 0);
  struct spool *sp = open_rw(dir);
  struct upload_build_opts o = opts();
  cJSON *attrs = upload_parse_resource_attrs("deployment.environment=ci");
  o.resource_attrs = attrs;
  for (int kind = UP_OTLP; kind <= UP_LEGACY; kind++) {
    struct upload_batch a, b;
    cr_assert_eq(upload_batch_load(sp, 2, 0, 4, 1 << 20, &a), 0);
    cr_assert_eq(upload_batch_build(&a, kind, &o), 0);
    /* Later: more records, a restart; the range in flight is 2..5. */
    const char *more[] = {gen(T2, 60 + kind, NULL)};
    spool_close(sp);
    cr_assert_eq(th_spool_records(dir, more, 1), 0);
    sp = open_rw(dir);
    cr_assert_eq(upload_batch_load(sp, a.first, a.last, 1, 1, &b), 0);
    cr_assert_eq(upload_batch_build(&b, kind, &o), 0);
    cr_assert_eq(a.len, b.len, "kind %d", kind);
    cr_expect_eq(memcmp(a.body, b.body, a.len), 0, "byte-identical");
    if (kind != UP_LEGACY) {
      cr_expect(strstr(a.body, "\"deployment.environment\""),
                "OTEL_RESOURCE_ATTRIBUTES reach the resource");
      cr_expect(strstr(a.body, "\"stringValue\":\"svc\""));
    }
    upload_batch_free(&a);
    upload_batch_free(&b);
  }
  cJSON_Delete(attrs);
  spool_close(sp);
  free(dir);
}

Test(upload_batch, otlp_body_is_the_export_body) {
  char *dir = th_tmpdir();
  fill(dir, 3);
  struct spool *sp = open_rw(dir);
  struct upload_batch b;
  cr_assert_eq(upload_batch_load(sp, 1, 0, 10, 1 << 20, &b), 0);
  struct upload_build_opts o = opts();
  cr_assert_eq(upload_batch_build(&b, UP_OTLP, &o), 0);
  cJSON *req =
      otlp_request_from_records((const cJSON *const *)b.recs, b.n, &o.otlp);
  char *want = cJSON_PrintUnformatted(req);
  cr_expect_str_eq(b.body, want, "cli/otlp.c's body, nothing else");
  free(want);
  cJSON_Delete(req);
  upload_batch_free(&b);
  spool_close(sp);
  free(dir);
}

Test(upload_legacy, events_have_stable_ids_and_valid_bodies) {
  char *dir = th_tmpdir();
  const char *r[] = {
      th_fmt("{\"id\":\"00000000000000aa\",\"trace_id\":\"%s\",\"type\":"
             "\"span\",\"name\":\"agent\",\"start_ns\":\"1763705992000000000\","
             "\"end_ns\":\"1763705993000000000\",\"trace_name\":\"nightly\","
             "\"user_id\":\"u1\",\"tags\":[\"a\"],\"incomplete\":true}",
             T1)};
  cr_assert_eq(th_spool_records(dir, r, 1), 0);
  const char *g[] = {gen(T1, 7, "00000000000000aa")};
  cr_assert_eq(th_spool_records(dir, g, 1), 0);
  struct spool *sp = open_rw(dir);
  struct upload_batch b;
  cr_assert_eq(upload_batch_load(sp, 1, 0, 10, 1 << 20, &b), 0);
  struct upload_build_opts o = opts();
  cr_assert_eq(upload_batch_build(&b, UP_LEGACY, &o), 0);
  cJSON *body = th_json(b.body);
  cJSON *batch = cJSON_GetObjectItem(body, "batch");
  cr_assert_eq(cJSON_GetArraySize(batch), 3, "one trace, two observations");
  cr_assert_eq(b.nevents, 3);
  cJSON *t = cJSON_GetArrayItem(batch, 0);
  cr_expect_str_eq(rec_str(t, "type"), "trace-create");
  cr_expect_str_eq(rec_str(t, "id"), "trace-" T1 "-00000000000000aa");
  cJSON *tb = cJSON_GetObjectItem(t, "body");
  cr_expect_str_eq(rec_str(tb, "id"), T1);
  cr_expect_str_eq(rec_str(tb, "name"), "nightly");
  cr_expect_str_eq(rec_str(tb, "userId"), "u1");
  cr_expect_str_eq(rec_str(t, "timestamp"), "2025-11-21T06:19:52.000000Z");
  cJSON *s = cJSON_GetArrayItem(batch, 1);
  cr_expect_str_eq(rec_str(s, "type"), "span-create");
  cr_expect_str_eq(rec_str(s, "id"), "obs-" T1 "-00000000000000aa");
  cJSON *sb = cJSON_GetObjectItem(s, "body");
  cr_expect_eq(rec_bool(cJSON_GetObjectItem(sb, "metadata"), "incomplete"), 1);
  cJSON *ge = cJSON_GetArrayItem(batch, 2);
  cr_expect_str_eq(rec_str(ge, "type"), "generation-create");
  cJSON *gb = cJSON_GetObjectItem(ge, "body");
  cr_expect_str_eq(rec_str(gb, "parentObservationId"), "00000000000000aa");
  cr_expect_str_eq(rec_str(gb, "model"), "gpt-4o");
  cJSON *mp = cJSON_GetObjectItem(gb, "modelParameters");
  cr_expect(cJSON_IsString(cJSON_GetObjectItem(mp, "tools")),
            "an array of objects travels as JSON text");
  cr_expect(cJSON_IsArray(cJSON_GetObjectItem(mp, "stop")),
            "a string array stays");
  cr_expect(cJSON_IsNumber(
      cJSON_GetObjectItem(cJSON_GetObjectItem(gb, "usageDetails"), "total")));
  cr_expect_eq(b.event_rec[0], SIZE_MAX);
  cr_expect_eq(b.event_rec[2], 1);

  /* The 207 answer: a 400 for the generation parks its record; a 500
   * asks for the batch again. */
  char ans[512];
  snprintf(ans, sizeof ans,
           "{\"successes\":[{\"id\":\"%s\",\"status\":201}],\"errors\":[{"
           "\"id\":\"%s\",\"status\":400,\"message\":\"Invalid request "
           "data\",\"error\":\"bad model\"}]}",
           b.event_ids[1], b.event_ids[2]);
  struct legacy_error errs[4];
  int retry;
  size_t total;
  cr_assert_eq(
      upload_legacy_parse(&b, ans, strlen(ans), errs, 4, &retry, &total), 1);
  cr_expect_eq(retry, 0);
  cr_expect_eq(errs[0].rec, 1);
  cr_expect_eq(errs[0].status, 400);
  cr_expect_str_eq(errs[0].message, "Invalid request data: bad model");
  const char *a500 = "{\"successes\":[],\"errors\":[{\"id\":\"unknown\","
                     "\"status\":500,\"message\":\"x\"}]}";
  cr_assert_eq(
      upload_legacy_parse(&b, a500, strlen(a500), errs, 4, &retry, &total), 0);
  cr_expect_eq(retry, 1);
  cr_expect_eq(upload_legacy_parse(&b, "{}", 2, errs, 4, &retry, &total), -1);
  cJSON_Delete(body);
  upload_batch_free(&b);
  spool_close(sp);
  free(dir);
}

/* ---- markers ---- */

static long dead_pid(void) {
  pid_t p = fork();
  cr_assert_neq(p, -1);
  if (p == 0)
    _exit(0);
  waitpid(p, NULL, 0);
  return (long)p;
}

static int always_alive(long pid, int64_t start) {
  (void)pid;
  (void)start;
  return 1;
}

struct found {
  int n;
  int incomplete;
  char end[32];
};
static int find_span(uint64_t seq, const char *rec, size_t len, void *arg) {
  (void)seq;
  struct found *f = arg;
  cJSON *j = cJSON_ParseWithLength(rec, len);
  const char *id = rec_str(j, "id");
  if (id && strcmp(id, "00000000000000aa") == 0) {
    f->n++;
    f->incomplete = rec_bool(j, "incomplete") == 1;
    snprintf(f->end, sizeof f->end, "%s", rec_str(j, "end_ns"));
  }
  cJSON_Delete(j);
  return 0;
}

Test(upload_markers, a_dead_process_span_is_closed_once) {
  char *dir = th_tmpdir();
  long pid = dead_pid();
  char marker[512];
  snprintf(marker, sizeof marker,
           "{\"id\":\"00000000000000aa\",\"trace_id\":\"%s\",\"type\":\"span\","
           "\"name\":\"agent\",\"start_ns\":\"1763705992000000000\","
           "\"process\":{\"pid\":%ld}}",
           T1, pid);
  cr_assert_eq(th_spool_marker(dir, "00000000000000aa", marker), 0);
  const char *kids[] = {gen(T1, 1, "00000000000000aa"),
                        gen(T1, 2, "00000000000000aa")};
  cr_assert_eq(th_spool_records(dir, kids, 2), 0);
  struct spool *sp = open_rw(dir);
  int64_t now = 1763705992000000000LL + 10 * 1000000000LL;
  /* Alive, or too young for the grace period: left alone. */
  cr_expect_eq(upload_close_dead_markers(sp, 0, now, always_alive), 0);
  cr_expect_eq(
      upload_close_dead_markers(sp, 60 * 1000000000LL, now, trace_pid_alive),
      0);
  cr_expect_eq(
      upload_close_dead_markers(sp, 5 * 1000000000LL, now, trace_pid_alive), 1);
  cr_expect_eq(upload_close_dead_markers(sp, 0, now, trace_pid_alive), 0,
               "the marker is gone: never closed twice");
  struct found f = {0};
  cr_assert_eq(spool_foreach(sp, 0, find_span, &f), 0);
  cr_expect_eq(f.n, 1);
  cr_expect_eq(f.incomplete, 1);
  cr_expect_str_eq(f.end, "1763705992200000002", "the last child's end");
  uint64_t last;
  spool_last_seq(sp, &last);
  cr_expect_eq(last, 3, "appended after the children: it ships like them");
  spool_close(sp);
  free(dir);
}

Test(upload_markers, a_stale_marker_of_a_finished_span_is_only_removed) {
  char *dir = th_tmpdir();
  long pid = dead_pid();
  char marker[512];
  snprintf(marker, sizeof marker,
           "{\"id\":\"0000000000001001\",\"trace_id\":\"%s\",\"type\":\"span\","
           "\"start_ns\":\"1763705992000000000\",\"process\":{\"pid\":%ld}}",
           T1, pid);
  const char *r[] = {gen(T1, 1, NULL)}; /* id 0000000000001001 */
  cr_assert_eq(th_spool_records(dir, r, 1), 0);
  cr_assert_eq(th_spool_marker(dir, "0000000000001001", marker), 0);
  struct spool *sp = open_rw(dir);
  cr_expect_eq(
      upload_close_dead_markers(sp, 0, 1763705999000000000LL, trace_pid_alive),
      0);
  uint64_t last;
  spool_last_seq(sp, &last);
  cr_expect_eq(last, 1, "no second record");
  int n = 0;
  spool_close(sp);
  char err[256];
  cr_assert_eq(spool_open(dir, SPOOL_OPEN_READONLY, &sp, err, sizeof err), 0);
  struct trace_set ts;
  trace_set_init(&ts);
  cr_assert_eq(traces_load(sp, NULL, &ts), 0);
  n = (int)ts.nmarkers;
  cr_expect_eq(n, 0, "the stale marker went");
  trace_set_free(&ts);
  spool_close(sp);
  free(dir);
}

/* ---- stats ---- */

Test(upload_stats, targets_pending_and_parked_with_the_message) {
  char *dir = th_tmpdir();
  fill(dir, 8);
  struct spool *sp = open_rw(dir);
  const char *name = "otlp http://127.0.0.1:4318/v1/traces";
  cr_assert_eq(spool_cursor_set(sp, name, 5), 0);
  static const char info[] =
      "{\"status\":400,\"message\":\"HTTP 400: bad span\",\"spans\":2}";
  struct spool_parked p[] = {{2, 3, info, sizeof info - 1}};
  struct spool_upload_done d = {.park = p, .npark = 1};
  cr_assert_eq(spool_upload_done(sp, name, &d), 0);
  cr_assert_eq(spool_inflight_set(sp, name, 6, 8), 0);
  cJSON *s = cJSON_CreateObject();
  unsetenv(AT_ENV_RETENTION);
  cr_assert_eq(upload_stats_collect(sp, s), 0);
  cJSON *t = cJSON_GetArrayItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(s, "upload"), "targets"), 0);
  cr_assert_not_null(t);
  cr_expect_str_eq(rec_str(t, "kind"), "otlp");
  cr_expect_eq(cJSON_GetObjectItem(t, "cursor")->valuedouble, 5);
  cr_expect_eq(cJSON_GetObjectItem(t, "pending")->valuedouble, 3);
  cr_expect_eq(cJSON_GetObjectItem(t, "parked_batches")->valuedouble, 1);
  cr_expect_eq(cJSON_GetObjectItem(t, "parked_spans")->valuedouble, 2);
  cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "parked"), 0);
  cr_expect_str_eq(rec_str(e, "message"), "HTTP 400: bad span");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  upload_stats_render(f, s, 0);
  fclose(f);
  cr_expect(strstr(text, "parked: 1 batch (2 spans)"), "%s", text);
  cr_expect(strstr(text, "records 2-3: HTTP 400: bad span"), "%s", text);
  cr_expect(strstr(text, "3 pending"), "%s", text);
  cr_expect(strstr(text, "records 6-8 in flight"), "%s", text);
  cr_expect(strstr(text, "retention " AT_DEFAULT_RETENTION), "%s", text);
  free(text);
  cJSON_Delete(s);
  spool_close(sp);
  free(dir);
}

/* ---- gzip ---- */

Test(upload_http, gzip_is_deterministic_and_round_trips) {
  char in[5000];
  for (size_t i = 0; i < sizeof in; i++)
    in[i] = (char)('a' + i % 7);
  size_t n1, n2;
  unsigned char *a = http_gzip(in, sizeof in, 1, &n1);
  unsigned char *b = http_gzip(in, sizeof in, 1, &n2);
  cr_assert(a && b);
  cr_expect_eq(n1, n2);
  cr_expect_eq(memcmp(a, b, n1), 0);
  cr_expect_eq(a[0], 0x1f);
  cr_expect_eq(a[1], 0x8b);
  cr_expect_eq(a[4] | a[5] | a[6] | a[7], 0, "mtime 0");
  char out[6000];
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = a;
  z.avail_in = (uInt)n1;
  z.next_out = (Bytef *)out;
  z.avail_out = sizeof out;
  cr_expect_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
  cr_expect_eq(z.total_out, sizeof in);
  cr_expect_eq(memcmp(in, out, sizeof in), 0);
  inflateEnd(&z);
  free(a);
  free(b);
}

/* ---- the builder thread ---- */

static char *gunzip(const unsigned char *gz, size_t n, size_t *out_len) {
  size_t cap = 1 << 22;
  char *out = malloc(cap);
  z_stream z;
  memset(&z, 0, sizeof z);
  cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = (Bytef *)gz;
  z.avail_in = (uInt)n;
  z.next_out = (Bytef *)out;
  z.avail_out = (uInt)cap;
  cr_assert_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
  *out_len = z.total_out;
  inflateEnd(&z);
  return out;
}

Test(upload_builder, builds_the_same_bytes_as_this_thread) {
  char *dir = th_tmpdir();
  fill(dir, 30);
  struct spool *sp = open_rw(dir);
  struct upload_build_opts o = opts();
  struct upload_builder *w = upload_builder_start(1);
  cr_assert_not_null(w);
  struct upload_batch a, b, c, got;
  cr_expect_eq(upload_builder_take(w, &got), -2, "nothing was submitted");
  for (int kind = UP_OTLP; kind <= UP_LEGACY; kind++) {
    cr_assert_eq(upload_batch_load(sp, 3, 0, 20, 1 << 20, &a), 0);
    cr_assert_eq(upload_batch_build(&a, kind, &o), 0);
    /* Loaded raw (copies only), parsed and built on the builder. */
    cr_assert_eq(upload_batch_load_raw(sp, 3, 20, 1 << 20, &b), 0);
    cr_expect_eq(b.nraw, 20);
    cr_expect_eq(b.n, 0, "not parsed yet");
    cr_assert_eq(upload_builder_submit(w, &b, kind, &o, 0, 0), 0);
    cr_expect_eq(b.nraw, 0, "moved to the builder");
    cr_assert_eq(upload_batch_load(sp, 1, 0, 2, 1 << 20, &c), 0);
    cr_expect_eq(upload_builder_submit(w, &c, kind, &o, 0, 0), -1,
                 "one at a time");
    upload_batch_free(&c);
    cr_assert_eq(upload_builder_take(w, &got), 0);
    cr_expect(upload_builder_idle(w));
    cr_expect_eq(got.first, 3);
    cr_expect_eq(got.last, 22);
    cr_expect_eq(got.n, 20);
    cr_expect_eq(got.seqs[19], 22);
    cr_assert_eq(got.len, a.len, "kind %d", kind);
    cr_expect_eq(memcmp(got.body, a.body, a.len), 0, "byte-identical");
    upload_batch_free(&got);
    /* With gzip: the compressed body, the same bytes inside. */
    cr_assert_eq(upload_batch_load_raw(sp, 3, 20, 1 << 20, &b), 0);
    cr_assert_eq(upload_builder_submit(w, &b, kind, &o, 1, 0), 0);
    cr_assert_eq(upload_builder_take(w, &got), 0);
    cr_assert_not_null(got.gz);
    size_t n;
    char *plain = gunzip(got.gz, got.gz_len, &n);
    cr_assert_eq(n, a.len);
    cr_expect_eq(memcmp(plain, a.body, n), 0);
    free(plain);
    upload_builder_dispose(w, &got);
    cr_expect_eq(got.n, 0, "handed over to be freed there");
    upload_batch_free(&a);
  }
  cr_expect_eq(upload_batch_load_raw(sp, 31, 20, 1 << 20, &b), 1,
               "nothing after the last record");
  /* Stopping with a batch inside frees it (ASan would say otherwise). */
  cr_assert_eq(upload_batch_load_raw(sp, 1, 10, 1 << 20, &b), 0);
  cr_assert_eq(upload_builder_submit(w, &b, UP_OTLP, &o, 1, 0), 0);
  upload_builder_stop(w);
  spool_close(sp);
  free(dir);
}
