#include "core_process.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/ids.h"
#include "json_cs.h"
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
  cJSON *arr = at_cs_arr(rec, "tags");
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

/* key: a literal (json_cs.h). */
static void add_string(cJSON *rec, const char *key, const char *v) {
  if (v && v[0])
    at_cs_str(rec, key, v);
}

/* The members the stamp sets. A record may already have them (a record
 * stamped again): they are replaced, i.e. removed here and added at the
 * end in this order. */
static const char *const stamped[] = {
    "v",          "kind", "trace_id",       "session_id", "user_id",
    "trace_name", "tags", "trace_metadata", "process"};

/* Remove the first member named by each of stamped[], in one walk over
 * rec (a record has some thirty members: a lookup per name was a third of
 * the stamp's cost). */
static void remove_stamped(cJSON *rec) {
  unsigned seen = 0;
  const unsigned n = sizeof stamped / sizeof stamped[0];
  cJSON *c = rec ? rec->child : NULL;
  while (c) {
    cJSON *next = c->next;
    for (unsigned i = 0; c->string && i < n; i++) {
      if (!(seen & 1u << i) && c->string[0] == stamped[i][0] &&
          strcmp(c->string, stamped[i]) == 0) {
        seen |= 1u << i;
        cJSON_Delete(cJSON_DetachItemViaPointer(rec, c));
        break;
      }
    }
    c = next;
  }
}

void core_process_stamp(const struct core_process *p,
                        const struct at_config *cfg, cJSON *rec, int tid) {
  remove_stamped(rec);
  at_cs_num(rec, "v", 1);
  at_cs_str(rec, "kind", "observation");
  add_string(rec, "trace_id", p->trace_id);
  add_string(rec, "session_id", cfg->session_id);
  add_string(rec, "user_id", cfg->user_id);
  add_string(rec, "trace_name", cfg->trace_name);
  add_tags(rec, cfg->tags);
  if (p->metadata)
    cJSON_AddItemToObjectCS(rec, "trace_metadata",
                            cJSON_Duplicate(p->metadata, 1));
  cJSON *proc = at_cs_obj(rec, "process");
  if (proc) {
    at_cs_num(proc, "pid", p->pid);
    at_cs_num(proc, "tid", tid ? tid : gettid());
    at_cs_num(proc, "ppid", p->ppid);
    if (p->exe[0])
      at_cs_str(proc, "exe", p->exe);
  }
}
