/* upload_bench: fill a spool with N realistic observation records, as the
 * shim would have written them, for bench/upload_bench.sh to time
 * `autotrace upload` on.
 *
 *   upload_bench --spool DIR -n N [--per-trace K] [--batch B]
 *
 * Each trace is one process span and K-1 chat generations under it (a
 * user question, an assistant answer with a tool call, usage, cost, HTTP
 * facts: about 1.5 KB of JSON per record). Records are committed B at a
 * time. Prints "records=N bytes=TOTAL" and every span id, one a line, to
 * the file given with --ids (for the delivery check). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ids.h"
#include "spool/spool.h"

static void usage(void) {
  fprintf(stderr, "usage: upload_bench --spool DIR -n N [--per-trace K] "
                  "[--batch B] [--ids FILE]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *dir = NULL, *ids_path = NULL;
  long n = 0, per_trace = 10, batch = 500;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--spool") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      n = atol(argv[++i]);
    else if (!strcmp(argv[i], "--per-trace") && i + 1 < argc)
      per_trace = atol(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      batch = atol(argv[++i]);
    else if (!strcmp(argv[i], "--ids") && i + 1 < argc)
      ids_path = argv[++i];
    else
      usage();
  }
  if (!dir || n <= 0 || per_trace < 1 || batch < 1 || batch > 100000)
    usage();
  struct spool *sp;
  char err[512];
  if (spool_open(dir, 0, &sp, err, sizeof err) != SPOOL_OK) {
    fprintf(stderr, "upload_bench: %s\n", err);
    return 1;
  }
  FILE *ids = ids_path ? fopen(ids_path, "w") : NULL;
  char **texts = calloc((size_t)batch, sizeof *texts);
  size_t *lens = calloc((size_t)batch, sizeof *lens);
  for (long i = 0; i < batch; i++)
    texts[i] = malloc(4096);
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  int64_t t0 = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
  char trace[33] = "", root[17] = "";
  uint64_t total = 0;
  long k = 0;
  for (long r = 0; r < n; r++) {
    char id[17];
    int64_t start = t0 + (int64_t)r * 1000000, end = start + 800000;
    int len;
    if (r % per_trace == 0) {
      /* A new trace: its process span (written last by the shim; here
       * first, which changes nothing for the uploader). */
      at_new_trace_id(trace);
      at_new_span_id(root);
      memcpy(id, root, 17);
      len = snprintf(
          texts[k], 4096,
          "{\"v\":1,\"kind\":\"observation\",\"id\":\"%s\",\"trace_id\":\"%s\","
          "\"type\":\"span\",\"name\":\"agent\",\"start_ns\":\"%" PRId64
          "\",\"end_ns\":\"%" PRId64 "\",\"level\":\"DEFAULT\","
          "\"metadata\":{\"generations\":%ld,\"input_tokens\":%ld,"
          "\"output_tokens\":%ld,\"argv\":[\"agent\",\"--task\",\"bench\"]},"
          "\"session_id\":\"bench-session\",\"user_id\":\"bench-user\","
          "\"process\":{\"pid\":4242,\"tid\":4242,\"exe\":\"/usr/bin/agent\"}}",
          id, trace, start, (int64_t)(end + (per_trace - 1) * 1000000LL),
          per_trace - 1, (per_trace - 1) * 120, (per_trace - 1) * 40);
    } else {
      at_new_span_id(id);
      len = snprintf(
          texts[k], 4096,
          "{\"v\":1,\"kind\":\"observation\",\"id\":\"%s\",\"trace_id\":\"%s\","
          "\"parent_id\":\"%s\",\"type\":\"generation\",\"name\":\"chat "
          "gpt-4o-mini\",\"start_ns\":\"%" PRId64 "\",\"end_ns\":\"%" PRId64
          "\",\"completion_start_ns\":\"%" PRId64 "\",\"level\":\"DEFAULT\","
          "\"provider\":\"openai\",\"operation\":\"chat\","
          "\"request_model\":\"gpt-4o-mini\",\"response_model\":\"gpt-4o-mini-"
          "2024-07-18\",\"response_id\":\"chatcmpl-%ld\",\"model_parameters\":{"
          "\"temperature\":0.2,\"max_tokens\":512,\"stream\":true},"
          "\"input\":[{\"role\":\"system\",\"parts\":[{\"type\":\"text\","
          "\"content\":\"You are a helpful assistant that answers questions "
          "about the weather and calls tools when needed.\"}]},{\"role\":"
          "\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"What is the "
          "weather in Paris today, and should I take an umbrella? Question "
          "number %ld.\"}]}],\"output\":[{\"role\":\"assistant\",\"parts\":[{"
          "\"type\":\"text\",\"content\":\"Let me check the weather for you."
          "\"},{\"type\":\"tool_call\",\"id\":\"call_%ld\",\"name\":"
          "\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}],"
          "\"finish_reason\":\"tool_calls\"}],\"finish_reasons\":["
          "\"tool_calls\"],\"usage\":{\"input_tokens\":120,\"output_tokens\":"
          "40,\"total_tokens\":160},\"usage_details\":{\"input\":120,"
          "\"output\":"
          "40,\"total\":160},\"cost_details\":{\"input\":0.000018,\"output\":"
          "0.000024,\"total\":0.000042},\"cost_source\":\"builtin:gpt-4o-mini"
          "\",\"http\":{\"method\":\"POST\",\"url\":\"https://api.openai.com/"
          "v1/chat/completions\",\"status\":200,\"server_address\":"
          "\"api.openai.com\",\"server_port\":443},\"metadata\":{\"stream\":"
          "true,\"capture\":\"curl\"},\"session_id\":\"bench-session\","
          "\"user_id\":\"bench-user\",\"process\":{\"pid\":4242,\"tid\":4243,"
          "\"exe\":\"/usr/bin/agent\"}}",
          id, trace, root, start, end, (int64_t)(start + 200000), r, r, r);
    }
    if (len <= 0 || len >= 4096) {
      fprintf(stderr, "upload_bench: record too long\n");
      return 1;
    }
    lens[k] = (size_t)len;
    total += (uint64_t)len;
    if (ids)
      fprintf(ids, "%s\n", id);
    if (++k == batch || r == n - 1) {
      struct spool_batch b = {0};
      b.records = (const char *const *)texts;
      b.record_lens = lens;
      b.nrecords = (size_t)k;
      int rc = spool_commit(sp, &b);
      if (rc != SPOOL_OK) {
        fprintf(stderr, "upload_bench: commit: %s\n", spool_last_error(sp));
        return 1;
      }
      k = 0;
    }
  }
  for (long i = 0; i < batch; i++)
    free(texts[i]);
  free(texts);
  free(lens);
  if (ids)
    fclose(ids);
  spool_close(sp);
  printf("records=%ld bytes=%" PRIu64 "\n", n, total);
  return 0;
}
