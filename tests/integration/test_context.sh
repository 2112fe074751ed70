#!/bin/bash
# Context propagation (docs/nesting.md): children started by exec*, fork,
# vfork, posix_spawn and system() get TRACEPARENT with the parent's trace
# and the spawn span the parent announced; threads keep their ancestry;
# nothing the app sees changes.
. "$(dirname "$0")/lib.sh"

TOOL=$B/tests/ctx_tool
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"parent asks"}]}'
SHOW_ENV='echo "TP=$TRACEPARENT"; echo "TID=$AUTOTRACE_TRACE_ID"'

# spawn_spans LOG: the span ids of the spawns the core was told about.
spawn_spans() {
  sed -n 's/.*debug: spawn: span \([0-9a-f]*\) .*/\1/p' "$1"
}

# trace_of JSONL: the trace id of the generation records (one expected).
trace_of() {
  "$PY" - "$1" <<'EOF'
import json, sys
ids = {json.loads(l)["trace_id"] for l in open(sys.argv[1])
       if json.loads(l)["type"] == "generation"}
assert len(ids) == 1, ids
print(ids.pop())
EOF
}

case_every_way_to_start_a_child() {
  # After one LLM call, the parent starts `sh` each way; the child prints
  # what it inherited.
  start_mock
  local mode S args
  for mode in exec execvp execl execle fork-exec vfork-exec spawn spawnp \
    system; do
    S=$T/spool-$mode
    if [ $mode = system ]; then
      args=("$SHOW_ENV")
    else
      args=(/bin/sh -c "$SHOW_ENV")
    fi
    run_traced "$mode" "$S" AUTOTRACE_LOG="debug:$T/$mode.log" "$TOOL" \
      --call "$MOCK_URL/v1/chat/completions" --body-string "$BODY" \
      -H "Authorization: Bearer $KEY" "$mode" "${args[@]}"
    [ "$RC" = 0 ] || fail "$mode: exit $RC: $(cat "$T/$mode.traced.err")"
    export_jsonl "$S" "$T/$mode.jsonl"
    local trace span tp tid
    trace=$(trace_of "$T/$mode.jsonl")
    span=$(spawn_spans "$T/$mode.log")
    [ "$(echo "$span" | wc -w)" = 1 ] ||
      fail "$mode: one spawn expected, the log says: $span"
    tp=$(sed -n 's/^TP=//p' "$T/$mode.traced.out")
    tid=$(sed -n 's/^TID=//p' "$T/$mode.traced.out")
    [ "$tp" = "00-$trace-$span-01" ] ||
      fail "$mode: child got TRACEPARENT '$tp', expected 00-$trace-$span-01"
    [ "$tid" = "$trace" ] || fail "$mode: child got AUTOTRACE_TRACE_ID '$tid'"
    echo "$mode: ok ($tp)"
  done
}

case_agents_nest_under_the_spawn() {
  # An orchestrator that talked to the LLM runs a script of three agents
  # with system(): the shell in between writes nothing, and each agent's
  # process span nests under the spawn span, in the orchestrator's trace.
  start_mock
  local S=$T/spool i
  : >"$T/agents.sh"
  for i in 1 2 3; do
    printf '%q ' "$CLIENT" -H "Authorization: Bearer $KEY" --body-string \
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"agent $i\"}]}" \
      "$MOCK_URL/v1/chat/completions" >>"$T/agents.sh"
    echo >>"$T/agents.sh"
  done
  run_traced orch "$S" AUTOTRACE_LOG="debug:$T/orch.log" "$TOOL" \
    --call "$MOCK_URL/v1/chat/completions" --body-string "$BODY" \
    -H "Authorization: Bearer $KEY" system "sh $T/agents.sh"
  [ "$RC" = 0 ] || fail "exit $RC: $(cat "$T/orch.traced.err")"
  export_jsonl "$S" "$T/recs.jsonl"
  local span
  span=$(spawn_spans "$T/orch.log")
  [ "$(echo "$span" | wc -w)" = 1 ] || fail "one spawn expected: $span"
  check "$T/recs.jsonl" --where type=generation --count 4 --same trace_id
  check "$T/recs.jsonl" --where type=span --where name=llm_client --count 3 \
    --eq parent_id="$span" --distinct process.pid
  check "$T/recs.jsonl" --where type=span --where name=ctx_tool --count 1 --root
  check "$T/recs.jsonl" --same trace_id
}

case_autotrace_run_script() {
  # `autotrace run sh script` with three agents: one trace.
  start_mock
  local S=$T/spool i
  : >"$T/agents.sh"
  for i in 1 2 3; do
    printf '%q ' "$CLIENT" -H "Authorization: Bearer $KEY" --body-string \
      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"agent $i\"}]}" \
      "$MOCK_URL/v1/chat/completions" >>"$T/agents.sh"
    echo >>"$T/agents.sh"
  done
  # The CLI leaves LD_PRELOAD alone when it already holds its shim: the
  # ASan shim must come after the ASan runtime (see test_cli.sh).
  local pre=()
  if is_asan; then
    pre=(env LD_PRELOAD="$(at_preload)" ASAN_OPTIONS=detect_leaks=0)
  fi
  timeout 120 "${pre[@]}" "$CLI" run --quiet --spool "$S" -- sh "$T/agents.sh" \
    >"$T/out" 2>"$T/err" || fail "autotrace run failed: $(cat "$T/err")"
  no_sanitizer_report "$T/err"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 3 --distinct process.pid
  check "$T/recs.jsonl" --where type=span --count 3
  check "$T/recs.jsonl" --same trace_id
}

case_no_context_without_the_shim_in_the_child() {
  # A child whose environment no longer preloads the shim gets exactly
  # the environment the app built.
  start_mock
  local S=$T/spool
  run_traced clean "$S" "$TOOL" --call "$MOCK_URL/v1/chat/completions" \
    --body-string "$BODY" -H "Authorization: Bearer $KEY" \
    spawn /usr/bin/env -i /bin/sh -c "$SHOW_ENV"
  [ "$RC" = 0 ] || fail "exit $RC"
  grep -qx 'TP=' "$T/clean.traced.out" || fail "$(cat "$T/clean.traced.out")"
  # A hand-built environment that keeps the preload gets our context; one
  # with its own TRACEPARENT keeps it (explicit context wins).
  local own=00-0123456789abcdef0123456789abcdef-0123456789abcdef-01
  run_traced built "$S" AUTOTRACE_LOG="debug:$T/built.log" "$TOOL" \
    --call "$MOCK_URL/v1/chat/completions" --body-string "$BODY" \
    -H "Authorization: Bearer $KEY" spawn-env "LD_PRELOAD=$(at_preload)" \
    -- /bin/sh -c "$SHOW_ENV"
  local span
  span=$(spawn_spans "$T/built.log")
  grep -q "^TP=00-[0-9a-f]*-$span-01\$" "$T/built.traced.out" ||
    fail "hand-built environment: $(cat "$T/built.traced.out") (spawn $span)"
  run_traced own "$S" "$TOOL" --call "$MOCK_URL/v1/chat/completions" \
    --body-string "$BODY" -H "Authorization: Bearer $KEY" \
    spawn-env "LD_PRELOAD=$(at_preload)" "TRACEPARENT=$own" \
    -- /bin/sh -c "$SHOW_ENV"
  grep -qx "TP=$own" "$T/own.traced.out" || fail "$(cat "$T/own.traced.out")"
  grep -qx "TID=" "$T/own.traced.out" || fail "$(cat "$T/own.traced.out")"
  # Without any LLM call and with a context inherited, the environment is
  # passed through unchanged.
  run_traced plain "$S" TRACEPARENT=00-0123456789abcdef0123456789abcdef-0123456789abcdef-01 \
    "$TOOL" spawn /bin/sh -c "$SHOW_ENV"
  grep -qx 'TP=00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' \
    "$T/plain.traced.out" || fail "$(cat "$T/plain.traced.out")"
}

case_app_output_unchanged() {
  # Exit statuses, output and errors of children are the app's own.
  start_mock
  local S=$T/spool mode
  for mode in system spawn fork-exec vfork-exec; do
    if [ $mode = system ]; then
      set -- 'echo out; echo err >&2; exit 3'
    else
      set -- /bin/sh -c 'echo out; echo err >&2; exit 3'
    fi
    COMPARE_STDERR=lenient compare_run "$mode" "$S" "$TOOL" \
      --call "$MOCK_URL/v1/chat/completions" --body-string "$BODY" \
      -H "Authorization: Bearer $KEY" "$mode" "$@"
    [ "$RC" = 3 ] || fail "$mode: exit $RC, expected 3"
  done
  compare_run threads "$S" "$TOOL" threads
  grep -q 'canceled=1' "$T/threads.traced.out" || fail "cancellation"
}

case_nested_threads() {
  # main creates A, A creates B, B calls the LLM: the core hears of A's
  # and B's origins, the creator first.
  start_mock
  local S=$T/spool tids main a b
  run_traced nested "$S" AUTOTRACE_LOG="debug:$T/nested.log" "$TOOL" \
    --call "$MOCK_URL/v1/chat/completions" --body-string "$BODY" \
    -H "Authorization: Bearer $KEY" nested
  [ "$RC" = 0 ] || fail "exit $RC: $(cat "$T/nested.traced.err")"
  tids=$(sed -n 's/^main=\([0-9]*\) A=\([0-9]*\) B=\([0-9]*\)$/\1 \2 \3/p' \
    "$T/nested.traced.err")
  read -r main a b <<<"$tids"
  [ -n "$b" ] || fail "no thread ids: $(cat "$T/nested.traced.err")"
  grep 'thread:' "$T/nested.log"
  [ "$(grep -c 'thread:' "$T/nested.log")" = 2 ] || fail "two thread events expected"
  grep 'thread:' "$T/nested.log" | head -n 1 | grep -q "thread: $a created by $main," ||
    fail "A's origin (first)"
  grep 'thread:' "$T/nested.log" | tail -n 1 | grep -q "thread: $b created by $a," ||
    fail "B's origin"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --eq process.tid="$b"
}

run_cases case_every_way_to_start_a_child case_agents_nest_under_the_spawn \
  case_autotrace_run_script case_no_context_without_the_shim_in_the_child \
  case_app_output_unchanged case_nested_threads
