#!/bin/bash
# Many processes into one spool at once, fork() after a capture, and shell
# scripts whose children are traced.
. "$(dirname "$0")/lib.sh"

case_concurrent_processes() {
  # 8 processes x 5 requests each, all at once, one spool.
  start_mock --tls
  local S=$T/spool p pids=() rc=0
  for p in 1 2 3 4 5 6 7 8; do
    traced AUTOTRACE_SPOOL="$S" "$CLIENT" --cacert "$CERT" \
      -H "Authorization: Bearer $KEY" --repeat 5 \
      --api "$([ $((p % 2)) = 0 ] && echo multi || echo easy)" \
      --body-string "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"process $p asks\"}]}" \
      "$MOCK_URL/v1/chat/completions" >"$T/p$p.out" 2>"$T/p$p.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || rc=$?
  done
  for p in 1 2 3 4 5 6 7 8; do
    no_sanitizer_report "$T/p$p.err"
    [ "$(grep -c 'status=200 curlcode=0' "$T/p$p.err")" = 5 ] ||
      fail "process $p: $(cat "$T/p$p.err")"
  done
  [ $rc = 0 ] || fail "a client failed ($rc)"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 40 --distinct id \
    --echo --parent-type span
  check "$T/recs.jsonl" --where type=span --where metadata.capture=process \
    --count 8 --distinct process.pid \
    --eq metadata.generations=5 --root
  for p in 1 2 3 4 5 6 7 8; do
    check "$T/recs.jsonl" --where type=generation \
      --where "input.0.parts.0.content=process $p asks" --count 5 \
      --same process.pid --same trace_id --same parent_id
  done
  # Every record exactly once: 40 generations, 8 process spans, and the
  # spans of the program's functions (docs/nesting.md, rule 4).
  "$PY" - "$T/recs.jsonl" <<'PYEOF' || fail "records other than expected"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
gens = [r for r in recs if r["type"] == "generation"]
procs = [r for r in recs if r["type"] == "span"
         and r.get("metadata", {}).get("capture") == "process"]
funcs = [r for r in recs if r["type"] == "span"
         and "function" in r.get("metadata", {})]
assert len(gens) == 40 and len(procs) == 8, (len(gens), len(procs))
assert len(recs) == len(gens) + len(procs) + len(funcs), len(recs)
assert len({r["id"] for r in recs}) == len(recs), "a record twice"
PYEOF
}

case_fork() {
  # One call, fork(), the child makes one call, then the parent one more.
  start_mock --tls
  local S=$T/spool
  # No leak check for this run: when fork() lands while the shim's writer
  # thread is mid-batch, the child inherits unreachable copies of that
  # thread's in-flight allocations. That is inherent to fork() in a
  # threaded process and harmless (the child never touches them); making
  # fork() wait for the writer would block the app, which we never do.
  AT_NO_LEAK_CHECK=1 compare_run fork "$S" AUTOTRACE_LOG="debug:$T/shim.log" \
    "$CLIENT" --fork --cacert "$CERT" \
    -H "Authorization: Bearer $KEY" \
    --body-string '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"fork call {{i}}"}]}' \
    "$MOCK_URL/v1/chat/completions"
  [ "$RC" = 0 ] || fail "llm_client --fork failed"
  [ "$(grep -c 'curlcode=0' "$T/fork.traced.err")" = 3 ] || fail "3 transfers expected"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 3 --echo \
    --distinct id --parent-type span
  local parent child
  parent=$("$PY" - "$T/recs.jsonl" <<'EOF'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "generation" and \
            r["input"][0]["parts"][0]["content"] == "fork call 0":
        print(r["process"]["pid"])
EOF
)
  [ -n "$parent" ] || fail "no record of the first call"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=fork call 0" --count 1 \
    --eq process.pid="$parent"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=fork call 2" --count 1 \
    --eq process.pid="$parent"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=fork call 1" --count 1 \
    --ne process.pid="$parent" --eq process.ppid="$parent"
  # The parent's first and last calls share its process span; the child
  # has its own.
  child=$("$PY" - "$T/recs.jsonl" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def gen(n):
    return next(r for r in recs if r["type"] == "generation" and
                r["input"][0]["parts"][0]["content"] == "fork call %d" % n)
a, b, c = gen(0), gen(1), gen(2)
# Calls 0 and 2 are unrelated conversations: two traces, each rooted at a
# span of the parent process (docs/nesting.md); the child, pinned by its
# parent's context, nests under the parent's process span (the first).
assert a["trace_id"] != c["trace_id"], "unrelated calls in one trace"
assert a["parent_id"] != c["parent_id"], "unrelated calls under one root"
assert b["parent_id"] != a["parent_id"], "child call under the parent's span"
assert b["trace_id"] == a["trace_id"], "the child left its parent's trace"
print("ok")
EOF
)
  [ "$child" = ok ] || fail "fork nesting"
  # Three roots: the parent's two traces and the child's process span —
  # the latter under the spawn span the parent announced at fork()
  # (docs/nesting.md), which the parent writes in its first trace.
  local sspan
  sspan=$(sed -n 's/.*debug: spawn: span \([0-9a-f]*\) program llm_client .*/\1/p' "$T/shim.log")
  [ "$(echo "$sspan" | wc -w)" = 1 ] || fail "one fork spawn expected in the log: $sspan"
  check "$T/recs.jsonl" --where type=span --where metadata.capture=process \
    --where process.ppid="$parent" \
    --count 1 --eq parent_id="$sspan"
  check "$T/recs.jsonl" --where id="$sspan" --count 1 --eq process.pid="$parent"
}

case_shell_script_children() {
  # A traced shell runs three programs; only the ones that talk to an LLM
  # write records, each in its own process span.
  start_mock --tls
  local S=$T/spool first=curl
  curl_usable || first=llm_client
  printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"from the script"}]}' >"$T/b.json"
  post_cmd "$MOCK_URL/v1/chat/completions" "$T/b.json"
  cat >"$T/script.sh" <<EOF
set -e
ls / >/dev/null
$(printf '%q ' "${ARGS[@]}")
echo
'$CLIENT' --cacert '$CERT' -H 'Authorization: Bearer $KEY' \
  --body-string '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"from the client"}]}' \
  '$MOCK_URL/v1/chat/completions'
EOF
  compare_run script "$S" sh "$T/script.sh"
  [ "$RC" = 0 ] || fail "the script failed"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --echo \
    --parent-type span --distinct process.pid
  check "$T/recs.jsonl" --where type=span --count 2
  check "$T/recs.jsonl" --where type=span \
    --where "input.0.parts.0.content=from the script" --count 1 --eq name=$first
}

case_burst_of_short_processes() {
  # Twelve processes start their worker at once and exit right after
  # their only call: the exit flush must not lose any.
  start_mock --tls
  local S=$T/spool i pids=()
  for i in $(seq 1 12); do
    printf '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"burst %s"}]}' \
      "$i" >"$T/b$i.json"
    post_cmd "$MOCK_URL/v1/chat/completions" "$T/b$i.json"
    traced AUTOTRACE_SPOOL="$S" "${ARGS[@]}" >"$T/b$i.out" 2>"$T/b$i.err" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || fail "a client failed"; done
  for i in $(seq 1 12); do no_sanitizer_report "$T/b$i.err"; done
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 12 --echo \
    --eq metadata.stream=true --distinct process.pid
}

run_cases case_concurrent_processes case_fork case_shell_script_children \
  case_burst_of_short_processes
