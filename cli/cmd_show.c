/* autotrace show: one trace as a tree (or as JSON). */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/clock.h"
#include "diag.h"
#include "fmt.h"
#include "jsonout.h"
#include "record.h"
#include "spool/spool.h"
#include "store.h"
#include "term.h"
#include "view_args.h"

#define SHOW_COLS 100      /* lines are cut to fit this many columns */
#define SHOW_MAX_DEPTH 16  /* deeper nodes are drawn at this indentation */
#define JSON_MAX_DEPTH 100 /* and nested no deeper than this in --json */

static const char show_usage[] =
    "usage: autotrace show [TRACE|last] [--json] [--color=WHEN] [--spool "
    "DIR]\n"
    "\n"
    "Show one trace as a tree: every observation under its parent, siblings\n"
    "in start order, with model, duration, tokens (in->out), time to first\n"
    "token, cost and the first line of the answer.\n"
    "\n"
    "  TRACE          a trace id or a unique prefix of one; default: last\n"
    "                 (the trace of the newest record)\n"
    "  --json         the trace as JSON, observations nested under children\n"
    "  --color=WHEN   auto (default: when stdout is a terminal and NO_COLOR\n"
    "                 is not set), always or never\n"
    "  --spool DIR    read this spool instead of the default\n";

/* ---- one line of the tree ---- */

/* A line under construction: bytes plus the columns they occupy (escape
 * sequences take none). */
struct line {
  char buf[2048];
  size_t len, cols;
  int color;
};

static void put(struct line *l, const char *s, size_t n) {
  if (l->len + n >= sizeof l->buf)
    n = sizeof l->buf - 1 - l->len;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  l->buf[l->len] = '\0';
}

/* Visible text: control characters become spaces so that a model name
 * cannot drive the terminal. */
static void text(struct line *l, const char *s) {
  size_t start = l->len;
  put(l, s, strlen(s));
  for (size_t i = start; i < l->len; i++)
    if ((unsigned char)l->buf[i] < 0x20 || l->buf[i] == 0x7f)
      l->buf[i] = ' ';
  l->cols += term_cols(l->buf + start, l->len - start);
}

static void style(struct line *l, enum term_style st) {
  const char *s = term_sgr(l->color, st);
  put(l, s, strlen(s));
}

static void styled(struct line *l, enum term_style st, const char *s) {
  style(l, st);
  text(l, s);
  style(l, ST_RESET);
}

static enum term_style type_style(const char *type) {
  if (!type)
    return ST_DIM;
  if (strcmp(type, "generation") == 0 || strcmp(type, "embedding") == 0)
    return ST_CYAN;
  if (strcmp(type, "tool") == 0)
    return ST_YELLOW;
  if (strcmp(type, "agent") == 0)
    return ST_MAGENTA;
  if (strcmp(type, "retriever") == 0)
    return ST_BLUE;
  return ST_DIM;
}

/* Does the name already tell the model? Names are "{operation} {model}"
 * with the model asked for; the one that answered is often that name plus
 * a date ("gpt-4o-mini" answered by "gpt-4o-mini-2024-07-18"), a detail
 * not worth the room the answer's first line needs. */
static int name_has_model(const char *name, const char *model) {
  const char *sp = strrchr(name, ' ');
  const char *asked = sp ? sp + 1 : name;
  size_t n = strlen(asked);
  if (n == 0 || strncmp(model, asked, n) != 0)
    return 0;
  return model[n] == '\0' ||
         (model[n] == '-' && model[n + 1] >= '0' && model[n + 1] <= '9');
}

static void obs_line(struct line *l, const struct obs *o, int64_t now_ns) {
  const cJSON *r = o->rec;
  char b1[FMT_BUF], b2[FMT_BUF], tmp[160];
  const char *type = o->type ? o->type : "span";
  const char *name = rec_str(r, "name");
  const char *model = rec_model(r);

  style(l, ST_BOLD);
  styled(l, type_style(o->type), type);
  if (name) {
    text(l, " ");
    style(l, ST_BOLD);
    text(l, name);
    style(l, ST_RESET);
  }
  if (model && !(name && name_has_model(name, model))) {
    text(l, " ");
    styled(l, ST_DIM, model);
  }

  if (o->state == OBS_RUNNING) {
    snprintf(
        tmp, sizeof tmp, "(running, %s so far)",
        fmt_duration(o->start_ns ? now_ns - o->start_ns : 0, b1, sizeof b1));
    text(l, "  ");
    styled(l, ST_YELLOW, tmp);
  } else if (o->marker) {
    if (o->pid > 0)
      snprintf(tmp, sizeof tmp,
               "(incomplete: process %ld exited without closing)", o->pid);
    else
      snprintf(tmp, sizeof tmp, "(incomplete: its process exited)");
    text(l, "  ");
    styled(l, ST_YELLOW, tmp);
  } else if (o->start_ns && o->end_ns >= o->start_ns) {
    text(l, "  ");
    text(l, fmt_duration(o->end_ns - o->start_ns, b1, sizeof b1));
  }
  if (!o->marker && o->state == OBS_INCOMPLETE) {
    text(l, "  ");
    styled(l, ST_YELLOW, "(incomplete)");
  }

  if (rec_is_llm(r)) {
    struct rec_tokens tk;
    rec_tokens(r, &tk);
    if (tk.input >= 0 && tk.output >= 0) {
      snprintf(tmp, sizeof tmp, "%s\xe2\x86\x92%s tok",
               fmt_count((uint64_t)tk.input, b1, sizeof b1),
               fmt_count((uint64_t)tk.output, b2, sizeof b2));
      text(l, "  ");
      text(l, tmp);
    } else if (tk.total >= 0) {
      snprintf(tmp, sizeof tmp, "%s tok",
               fmt_count((uint64_t)tk.total, b1, sizeof b1));
      text(l, "  ");
      text(l, tmp);
    }
    int64_t first;
    if (o->start_ns && rec_ns(r, "completion_start_ns", &first) == 0 &&
        first >= o->start_ns) {
      snprintf(tmp, sizeof tmp, "TTFT %s",
               fmt_duration(first - o->start_ns, b1, sizeof b1));
      text(l, "  ");
      styled(l, ST_DIM, tmp);
    }
    double usd;
    if (rec_cost(r, &usd) == 0) {
      text(l, "  ");
      styled(l, ST_GREEN, fmt_cost(usd, b1, sizeof b1));
    }
  }

  const char *level = rec_str(r, "level");
  int err = level && strcmp(level, "ERROR") == 0;
  int warn = level && strcmp(level, "WARNING") == 0;
  if (err) {
    text(l, "  ");
    style(l, ST_BOLD);
    styled(l, ST_RED, "ERROR");
  } else if (warn) {
    text(l, "  ");
    styled(l, ST_YELLOW, "WARN");
  }

  /* The answer's first line, or why there is none. */
  char preview[512];
  rec_preview(r, preview, sizeof preview);
  int quoted = preview[0] && strncmp(preview, "\xe2\x86\x92", 3) != 0;
  if (!preview[0] && (err || warn)) {
    const char *msg = rec_str(r, "status_message");
    if (msg)
      snprintf(preview, sizeof preview, "%s", msg);
    for (char *p = preview; *p; p++)
      if (*p == '\n' || *p == '\r')
        *p = ' ';
  }
  if (!preview[0] || l->cols + 2 + 12 > SHOW_COLS)
    return;
  size_t room = SHOW_COLS - l->cols - 2 - (quoted ? 2 : 0);
  size_t plen = strlen(preview);
  size_t fit = term_fit(preview, plen, room);
  char shown[520];
  if (fit < plen) {
    fit = term_fit(preview, plen, room - 1); /* leave room for "…" */
    snprintf(shown, sizeof shown, "%.*s\xe2\x80\xa6", (int)fit, preview);
  } else {
    snprintf(shown, sizeof shown, "%s", preview);
  }
  text(l, "  ");
  style(l, err ? ST_RED : ST_DIM);
  if (quoted)
    text(l, "\"");
  text(l, shown);
  if (quoted)
    text(l, "\"");
  style(l, ST_RESET);
}

/* ---- the header ---- */

/* Facts joined by " · ", wrapped to SHOW_COLS, each line indented. */
struct facts {
  FILE *out;
  struct line l;
};

static void fact(struct facts *f, enum term_style st, const char *s) {
  size_t cols = term_cols(s, strlen(s));
  if (f->l.cols > 2 && f->l.cols + 3 + cols > SHOW_COLS) {
    fprintf(f->out, "%s\n", f->l.buf);
    f->l.len = f->l.cols = 0;
    f->l.buf[0] = '\0';
  }
  if (f->l.cols == 0)
    text(&f->l, "  ");
  else
    text(&f->l, " \xc2\xb7 ");
  if (st == ST_RESET) {
    text(&f->l, s);
  } else {
    styled(&f->l, st, s);
  }
}

static void facts_end(struct facts *f) {
  if (f->l.cols > 0)
    fprintf(f->out, "%s\n", f->l.buf);
}

static void header(FILE *out, const struct trace *t, int color) {
  char b1[FMT_BUF], b2[FMT_BUF], b3[FMT_BUF], s[160];
  const char *st = trace_status(t);
  enum term_style ss = strcmp(st, "ERROR") == 0 ? ST_RED
                       : strcmp(st, "OK") == 0  ? ST_GREEN
                                                : ST_YELLOW;
  struct line l = {.color = color};
  style(&l, ST_BOLD);
  text(&l, "trace ");
  text(&l, t->id);
  style(&l, ST_RESET);
  if (t->name) {
    text(&l, "  ");
    char name[64];
    size_t fit = term_fit(t->name, strlen(t->name), 50);
    snprintf(name, sizeof name, "%.*s", (int)fit, t->name);
    text(&l, name);
  }
  text(&l, "  ");
  styled(&l, ss, st);
  fprintf(out, "%s\n", l.buf);

  struct facts f = {out, {.color = color}};
  fact(&f, ST_RESET,
       t->start_ns ? fmt_local_time(t->start_ns, b1, sizeof b1) : "start ?");
  if (t->start_ns && t->end_ns >= t->start_ns)
    fact(&f, ST_RESET, fmt_duration(t->end_ns - t->start_ns, b1, sizeof b1));
  fact(&f, ST_RESET,
       fmt_plural(t->nobs, "observation", "observations", s, sizeof s));
  if (t->n_generations)
    fact(
        &f, ST_RESET,
        fmt_plural(t->n_generations, "generation", "generations", s, sizeof s));
  if (t->n_embeddings)
    fact(&f, ST_RESET,
         fmt_plural(t->n_embeddings, "embedding", "embeddings", s, sizeof s));
  if (t->n_with_tokens) {
    snprintf(s, sizeof s, "%s tokens (%s\xe2\x86\x92%s)",
             fmt_count(t->tokens_total, b1, sizeof b1),
             fmt_count(t->tokens_in, b2, sizeof b2),
             fmt_count(t->tokens_out, b3, sizeof b3));
    fact(&f, ST_RESET, s);
  }
  if (t->n_priced) {
    snprintf(s, sizeof s, "%s%s", t->n_unpriced ? "\xe2\x89\xa5" : "",
             fmt_cost(t->cost_usd, b1, sizeof b1));
    fact(&f, ST_GREEN, s);
  }
  if (t->session_id) {
    snprintf(s, sizeof s, "session %.100s", t->session_id);
    fact(&f, ST_RESET, s);
  }
  if (t->user_id) {
    snprintf(s, sizeof s, "user %.100s", t->user_id);
    fact(&f, ST_RESET, s);
  }
  facts_end(&f);
}

void show_render(FILE *out, const struct trace *t, int color, int64_t now_ns) {
  header(out, t, color);
  fputc('\n', out);
  /* more[d]: the node last drawn at depth d has siblings still to come,
   * so deeper lines draw a bar in that column. */
  int more[SHOW_MAX_DEPTH + 1] = {0};
  for (size_t k = 0; k < t->nobs; k++) {
    const struct obs *o = &t->obs[t->order[k]];
    unsigned d = o->depth > SHOW_MAX_DEPTH ? SHOW_MAX_DEPTH : o->depth;
    struct line l = {.color = color};
    style(&l, ST_DIM);
    for (unsigned i = 1; i < d; i++)
      text(&l, more[i] ? "\xe2\x94\x82  " : "   ");
    if (d > 0)
      text(&l, o->next_sibling != OBS_NONE ? "\xe2\x94\x9c\xe2\x94\x80 "
                                           : "\xe2\x94\x94\xe2\x94\x80 ");
    if (o->depth > SHOW_MAX_DEPTH) {
      char deep[32];
      snprintf(deep, sizeof deep, "[depth %u] ", o->depth);
      text(&l, deep);
    }
    style(&l, ST_RESET);
    more[d] = o->next_sibling != OBS_NONE;
    obs_line(&l, o, now_ns);
    fprintf(out, "%s\n", l.buf);
  }
}

/* ---- JSON ---- */

static void add_ns(cJSON *o, const char *key, int64_t ns) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRId64, ns);
  cJSON_AddStringToObject(o, key, buf);
}

cJSON *trace_summary_json(const struct trace *t) {
  cJSON *j = cJSON_CreateObject();
  if (!j)
    return NULL;
  cJSON_AddStringToObject(j, "trace_id", t->id);
  if (t->name)
    cJSON_AddStringToObject(j, "name", t->name);
  if (t->session_id)
    cJSON_AddStringToObject(j, "session_id", t->session_id);
  if (t->user_id)
    cJSON_AddStringToObject(j, "user_id", t->user_id);
  if (t->start_ns) {
    char iso[40];
    add_ns(j, "start_ns", t->start_ns);
    at_format_iso(t->start_ns, iso, sizeof iso);
    cJSON_AddStringToObject(j, "start", iso);
  }
  if (t->end_ns)
    add_ns(j, "end_ns", t->end_ns);
  if (t->start_ns && t->end_ns >= t->start_ns)
    cJSON_AddNumberToObject(j, "duration_ms",
                            (double)(t->end_ns - t->start_ns) / 1e6);
  cJSON_AddNumberToObject(j, "observation_count", (double)t->nobs);
  cJSON_AddNumberToObject(j, "generation_count", (double)t->n_generations);
  cJSON_AddNumberToObject(j, "embedding_count", (double)t->n_embeddings);
  if (t->n_with_tokens) {
    cJSON *tk = cJSON_AddObjectToObject(j, "tokens");
    cJSON_AddNumberToObject(tk, "input", (double)t->tokens_in);
    cJSON_AddNumberToObject(tk, "output", (double)t->tokens_out);
    cJSON_AddNumberToObject(tk, "total", (double)t->tokens_total);
  }
  if (t->n_priced) {
    cJSON_AddNumberToObject(j, "cost_usd", t->cost_usd);
    /* true: some calls had no price, so the cost is a lower bound */
    cJSON_AddBoolToObject(j, "cost_partial", t->n_unpriced > 0);
  }
  cJSON_AddStringToObject(j, "status", trace_status(t));
  return j;
}

cJSON *show_json(const struct trace *t) {
  cJSON *j = trace_summary_json(t);
  cJSON *roots = j ? cJSON_AddArrayToObject(j, "observations") : NULL;
  cJSON **node = calloc(t->nobs ? t->nobs : 1, sizeof *node);
  if (!roots || !node) {
    free(node);
    cJSON_Delete(j);
    return NULL;
  }
  for (size_t k = 0; k < t->nobs; k++) {
    size_t i = t->order[k];
    const struct obs *o = &t->obs[i];
    cJSON *n = cJSON_Duplicate(o->rec, 1);
    if (!n)
      continue;
    if (o->state == OBS_RUNNING)
      cJSON_AddBoolToObject(n, "running", 1);
    node[i] = n;
    /* Past JSON_MAX_DEPTH, hang the node on its ancestor at that depth:
     * deeper nesting breaks common JSON parsers, and parent_id still
     * tells the true parent. */
    size_t p = o->parent;
    while (p != OBS_NONE && t->obs[p].depth >= JSON_MAX_DEPTH)
      p = t->obs[p].parent;
    cJSON *dest = roots;
    if (p != OBS_NONE && node[p]) {
      dest = cJSON_GetObjectItemCaseSensitive(node[p], "children");
      if (!dest)
        dest = cJSON_AddArrayToObject(node[p], "children");
    }
    if (dest)
      cJSON_AddItemToArray(dest, n);
    else
      cJSON_Delete(n);
  }
  free(node);
  return j;
}

/* ---- the command ---- */

int cmd_show(int argc, char **argv) {
  struct view_args va;
  int done = view_args_parse(argc, argv, show_usage, &va);
  if (done >= 0)
    return done;
  int json = va.json;
  enum color_mode cm = va.color;
  const char *spool_opt = va.spool;
  if (argc - optind > 1) {
    fputs(show_usage, stderr);
    return CLI_USAGE;
  }
  const char *which = optind < argc ? argv[optind] : "last";

  char dir[4096];
  struct spool *sp;
  if (cli_spool_dir(spool_opt, dir, sizeof dir) != 0)
    return CLI_FAIL;
  int rc = cli_spool_open(dir, &sp);
  if (rc < 0)
    return CLI_FAIL;
  if (rc > 0) {
    cli_err("%s", CLI_NO_TRACES);
    return CLI_FAIL;
  }
  struct trace_set ts;
  trace_set_init(&ts);
  rc = traces_load_one(sp, which, &ts);
  spool_close(sp);
  if (rc != 0) {
    trace_set_free(&ts);
    return CLI_FAIL;
  }
  trace_set_warn_skipped(&ts);
  int status = CLI_OK;
  if (json) {
    cJSON *j = show_json(&ts.traces[0]);
    if (!j || json_write(stdout, j, 1) != 0)
      status = CLI_FAIL;
    cJSON_Delete(j);
  } else {
    show_render(stdout, &ts.traces[0], term_color_enabled(cm, stdout),
                at_wall_ns());
  }
  trace_set_free(&ts);
  if (fflush(stdout) != 0)
    status = CLI_FAIL;
  return status;
}
