#include "core_process.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "json_util.h"
#include "log.h"

/* Interpreters whose first argument names the program that really runs. */
static int is_interpreter(const char *base) {
  static const char *const names[] = {"python", "node", "ruby", "perl", "php",
                                      "bash",   "sh",   "dash", "bun",  "deno"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    size_t n = strlen(names[i]);
    if (strncmp(base, names[i], n) == 0 &&
        (base[n] == '\0' || (base[n] >= '0' && base[n] <= '9') ||
         base[n] == '.'))
      return 1;
  }
  return 0;
}

static const char *base_of(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The name of the program: argv[0]'s basename, or for an interpreter the
 * script it runs (`python3 agent.py` -> agent.py). */
static void program_name(char *out, size_t cap) {
  char buf[4096];
  snprintf(out, cap, "%s", "process");
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return;
  buf[n] = '\0';
  const char *argv0 = buf;
  size_t l0 = strlen(argv0);
  const char *argv1 = (size_t)n > l0 + 1 ? buf + l0 + 1 : NULL;
  const char *pick = argv0;
  if (is_interpreter(base_of(argv0)) && argv1 && argv1[0] && argv1[0] != '-')
    pick = argv1;
  snprintf(out, cap, "%.200s", base_of(pick));
}

/* AUTOTRACE_METADATA: a JSON object, or nothing (said once in the log). */
static cJSON *parse_metadata(const char *text) {
  if (!text[0])
    return NULL;
  cJSON *m = at_json_parse(text, strlen(text));
  if (!cJSON_IsObject(m)) {
    AT_ERR("%s is not a JSON object; ignored", AT_ENV_METADATA);
    cJSON_Delete(m);
    return NULL;
  }
  return m;
}

void core_process_init(struct core_process *p, const struct at_config *cfg) {
  cJSON_Delete(p->metadata); /* a fork child starting afresh */
  memset(p, 0, sizeof *p);
  p->metadata = parse_metadata(cfg->metadata);
  /* The shim assigned the identity (preload/identity.c); a caller without a
   * shim (tests) gets a fresh root. */
  if (cfg->proc_span_id[0]) {
    memcpy(p->trace_id, cfg->proc_trace_id, 33);
    memcpy(p->span_id, cfg->proc_span_id, 17);
    memcpy(p->parent_id, cfg->proc_parent_id, 17);
  } else {
    at_new_trace_id(p->trace_id);
    at_new_span_id(p->span_id);
  }
  p->start_ns = cfg->process_start_ns ? cfg->process_start_ns : at_wall_ns();
  p->pid = getpid();
  p->ppid = getppid();
  ssize_t n = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
  p->exe[n > 0 ? n : 0] = '\0';
  program_name(p->name, sizeof p->name);
}

static void add_tags(cJSON *rec, const char *tags) {
  if (!tags[0])
    return;
  cJSON *arr = cJSON_AddArrayToObject(rec, "tags");
  if (!arr)
    return;
  const char *s = tags;
  while (*s) {
    while (*s == ',' || *s == ' ')
      s++;
    const char *e = s;
    while (*e && *e != ',')
      e++;
    const char *t = e;
    while (t > s && t[-1] == ' ')
      t--;
    if (t > s) {
      char one[256];
      snprintf(one, sizeof one, "%.*s", (int)(t - s), s);
      cJSON_AddItemToArray(arr, cJSON_CreateString(one));
    }
    s = e;
  }
}

static void set_string(cJSON *rec, const char *key, const char *v) {
  cJSON_DeleteItemFromObjectCaseSensitive(rec, key);
  if (v && v[0])
    cJSON_AddStringToObject(rec, key, v);
}

void core_process_stamp(const struct core_process *p,
                        const struct at_config *cfg, cJSON *rec, int tid) {
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "v");
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "kind");
  cJSON_AddNumberToObject(rec, "v", 1);
  cJSON_AddStringToObject(rec, "kind", "observation");
  set_string(rec, "trace_id", p->trace_id);
  set_string(rec, "session_id", cfg->session_id);
  set_string(rec, "user_id", cfg->user_id);
  set_string(rec, "trace_name", cfg->trace_name);
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "tags");
  add_tags(rec, cfg->tags);
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "trace_metadata");
  if (p->metadata)
    cJSON_AddItemToObject(rec, "trace_metadata",
                          cJSON_Duplicate(p->metadata, 1));
  cJSON_DeleteItemFromObjectCaseSensitive(rec, "process");
  cJSON *proc = cJSON_AddObjectToObject(rec, "process");
  if (proc) {
    cJSON_AddNumberToObject(proc, "pid", p->pid);
    cJSON_AddNumberToObject(proc, "tid", tid ? tid : gettid());
    cJSON_AddNumberToObject(proc, "ppid", p->ppid);
    if (p->exe[0])
      cJSON_AddStringToObject(proc, "exe", p->exe);
  }
}
