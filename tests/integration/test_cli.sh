#!/bin/bash
# The autotrace command: `run` (LD_PRELOAD for you, exit status passed
# through, one summary line, trace context from the environment) and the
# readers `show`, `ls`, `stats`, `export --format otlp` on a real spool.
. "$(dirname "$0")/lib.sh"

TOOLS='[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]'
ASK="{\"model\":\"gpt-4o-mini\",\"tools\":$TOOLS,\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris please\"}]}"

# at_run ARGS...: `autotrace run ARGS` with the CLI of the build under test.
# The CLI puts its shim first in LD_PRELOAD. An ASan shim must come after
# the ASan runtime, so in the sanitizer build the preload is set up front
# (the CLI leaves LD_PRELOAD alone when it already holds its shim).
at_run() {
  local envs
  mapfile -t envs < <(_asan_env "$(_prog_of "$@")")
  if is_asan; then
    timeout 120 env LD_PRELOAD="$(at_preload)" "${envs[@]}" "$CLI" run "$@"
  else
    timeout 120 env -u LD_PRELOAD "${envs[@]}" "$CLI" run "$@"
  fi
}

case_run_exit_status_and_summary() {
  start_mock --tls
  local S=$T/spool rc
  # No LLM call: the command's exit status comes back unchanged.
  set +e
  at_run --spool "$S" -- sh -c 'exit 3' >"$T/o1" 2>"$T/e1"
  rc=$?
  set -e
  [ $rc = 3 ] || fail "autotrace run -- sh -c 'exit 3' exited $rc: $(cat "$T/e1")"
  set +e
  at_run --spool "$S" -- sh -c 'kill -TERM $$' >"$T/o1" 2>"$T/e1"
  rc=$?
  set -e
  [ $rc = 143 ] || fail "a command killed by SIGTERM: exit $rc, expected 143"
  # With calls: the program's stdout is untouched and one summary line
  # (on stderr) names what was captured.
  printf '%s' "$ASK" >"$T/ask.json"
  post_cmd "$MOCK_URL/v1/chat/completions" "$T/ask.json"
  set +e
  at_run --spool "$S" -- sh -c '"$@" 2>/dev/null; "$@" 2>/dev/null; exit 5' \
    sh "${ARGS[@]}" >"$T/o2" 2>"$T/e2"
  rc=$?
  set -e
  no_sanitizer_report "$T/e2"
  [ $rc = 5 ] || fail "exit $rc, expected 5: $(cat "$T/e2")"
  [ "$(grep -o '"finish_reason": "tool_calls"' "$T/o2" | wc -l)" = 2 ] ||
    fail "stdout: $(cat "$T/o2")"
  cat "$T/e2"
  grep -q '^autotrace: .*2 generations' "$T/e2" ||
    fail "no summary line with '2 generations' on stderr"
  [ "$(grep -c '^autotrace:' "$T/e2")" = 1 ] || fail "more than one summary line"
  export_jsonl "$S" "$T/recs.jsonl"
  # Two curl processes of one run share one trace.
  check "$T/recs.jsonl" --where type=generation --count 2 --same trace_id \
    --distinct process.pid
  local tid
  tid=$(head -n 1 "$T/recs.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])')
  grep -q "${tid:0:12}" "$T/e2" || fail "the summary does not name trace $tid"
}

case_run_default_spool() {
  # `autotrace run` without --spool uses AUTOTRACE_SPOOL when set.
  start_mock --tls
  local S=$T/spool
  printf '%s' "$ASK" >"$T/ask.json"
  post_cmd "$MOCK_URL/v1/chat/completions" "$T/ask.json"
  AUTOTRACE_SPOOL=$S at_run -- "${ARGS[@]}" \
    >"$T/o" 2>"$T/e" || fail "run failed: $(cat "$T/e")"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1
}

case_traceparent_and_attributes() {
  start_mock --tls
  local S=$T/spool
  local TID=4bf92f3577b34da6a3ce929d0e0e4736 SID=00f067aa0ba902b7
  compare_run tp "$S" "TRACEPARENT=00-$TID-$SID-01" \
    AUTOTRACE_SESSION_ID=sess-42 AUTOTRACE_USER_ID=user-7 \
    "AUTOTRACE_TRACE_NAME=nightly summary" AUTOTRACE_TAGS=ci,demo \
    'AUTOTRACE_METADATA={"team":"search","run":7}' \
    "$CLIENT" --cacert "$CERT" -H "Authorization: Bearer $KEY" --repeat 2 \
    --body-string "$ASK" "$MOCK_URL/v1/chat/completions"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --count 3 --eq trace_id=$TID \
    --eq session_id=sess-42 --eq user_id=user-7 \
    --eq "trace_name=nightly summary" --eq 'tags=["ci","demo"]' \
    --eq trace_metadata.team=search --eq trace_metadata.run=7
  # ... and reach OTLP as langfuse.trace.metadata.<key> on every span.
  cli export --format otlp --all --spool "$S" >"$T/tp-otlp.json" ||
    fail "export otlp"
  "$PY" - "$T/tp-otlp.json" <<'PYEOF' || fail "trace metadata in OTLP"
import json, sys
doc = json.load(open(sys.argv[1]))
spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
         for s in ss["spans"]]
assert spans
for s in spans:
    a = {kv["key"]: kv["value"] for kv in s["attributes"]}
    assert a["langfuse.trace.metadata.team"] == {"stringValue": "search"}, a
    assert a["langfuse.trace.metadata.run"] == {"stringValue": "7"}, a
PYEOF
  # Metadata that is not a JSON object is left out (and logged), never fatal.
  local S4=$T/spool4
  COMPARE_STDERR=lenient compare_run badmeta "$S4" 'AUTOTRACE_METADATA=[1,2' \
    "$CLIENT" --cacert "$CERT" -H "Authorization: Bearer $KEY" \
    --body-string "$ASK" "$MOCK_URL/v1/chat/completions"
  export_jsonl "$S4" "$T/recs4.jsonl"
  check "$T/recs4.jsonl" --where type=generation --count 1
  ! grep -q trace_metadata "$T/recs4.jsonl" || fail "bad metadata was kept"
  check "$T/recs.jsonl" --where type=span --count 1 --eq parent_id=$SID \
    --eq metadata.generations=2
  check "$T/recs.jsonl" --where type=generation --count 2 --parent-type span \
    --eq output.0.parts.0.name=get_weather
  # Through `autotrace run` as well.
  local S2=$T/spool2
  TRACEPARENT=00-$TID-$SID-01 at_run --spool "$S2" -- "$CLIENT" --cacert "$CERT" \
    -H "Authorization: Bearer $KEY" --body-string "$ASK" \
    "$MOCK_URL/v1/chat/completions" >"$T/o" 2>"$T/e" || fail "$(cat "$T/e")"
  export_jsonl "$S2" "$T/recs2.jsonl"
  check "$T/recs2.jsonl" --count 2 --eq trace_id=$TID
  check "$T/recs2.jsonl" --where type=span --count 1 --eq parent_id=$SID
  # A malformed TRACEPARENT is ignored, never fatal (the shim may say so
  # on stderr).
  local S3=$T/spool3
  COMPARE_STDERR=lenient compare_run badtp "$S3" TRACEPARENT=00-nothex-00-01 "$CLIENT" \
    --cacert "$CERT" -H "Authorization: Bearer $KEY" --body-string "$ASK" \
    "$MOCK_URL/v1/chat/completions"
  export_jsonl "$S3" "$T/recs3.jsonl"
  check "$T/recs3.jsonl" --where type=span --count 1 --root
}

# populate SPOOL: a two-step tool conversation (plain, then streamed).
populate() {
  local S=$1
  run_traced demo "$S" "OPENAI_BASE_URL=$MOCK_URL/v1" "OPENAI_API_KEY=$KEY" \
    "$B/examples/demo_agent"
  [ "$RC" = 0 ] || fail "demo_agent failed: $(cat "$T/demo.traced.err")"
  grep -q 'assistant> The tool returned' "$T/demo.traced.out" ||
    fail "demo_agent: $(cat "$T/demo.traced.out")"
}

case_readers() {
  start_mock
  local S=$T/spool
  populate "$S"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --same trace_id \
    --eq request_model=gpt-4o-mini --eq model_parameters.temperature=0.2
  check "$T/recs.jsonl" --where type=generation --where metadata.stream=true \
    --count 1 --eq input.3.role=tool \
    --contains "output.0.parts.0.content=The tool returned:" \
    --eq usage.input_tokens=25
  check "$T/recs.jsonl" --where type=span --count 1 --eq name=demo_agent
  local tid
  tid=$(head -n 1 "$T/recs.jsonl" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["trace_id"])')

  cli show last --spool "$S" >"$T/show.txt" 2>"$T/show.err" ||
    fail "show last: $(cat "$T/show.err")"
  no_sanitizer_report "$T/show.err"
  cat "$T/show.txt"
  grep -q 'gpt-4o-mini' "$T/show.txt" || fail "show: no model name"
  grep -q 'get_weather' "$T/show.txt" || fail "show: no tool call"
  grep -q 'demo_agent' "$T/show.txt" || fail "show: no process span"
  ! grep -q -F "$KEY" "$T/show.txt" || fail "show printed the key"
  # show by trace id prefix gives the same.
  cli show "${tid:0:12}" --spool "$S" >"$T/show2.txt" ||
    fail "show ${tid:0:12} failed"
  grep -q 'get_weather' "$T/show2.txt" || fail "show by id: no tool call"

  cli ls --spool "$S" >"$T/ls.txt" 2>"$T/ls.err" || fail "ls: $(cat "$T/ls.err")"
  cat "$T/ls.txt"
  grep -q "${tid:0:8}" "$T/ls.txt" || fail "ls does not list trace $tid"

  cli stats --spool "$S" >"$T/stats.txt" 2>"$T/stats.err" ||
    fail "stats: $(cat "$T/stats.err")"
  cat "$T/stats.txt"
  grep -q -i 'generation\|record' "$T/stats.txt" || fail "stats says nothing about records"

  cli export --format otlp --all --spool "$S" >"$T/otlp.json" 2>"$T/otlp.err" ||
    fail "export otlp: $(cat "$T/otlp.err")"
  # The process span, two generations and the get_weather tool between
  # them (docs/nesting.md); the tool is an execute_tool span, not a model
  # call.
  check --otlp "$T/otlp.json" --spans 4 --gen-spans 2
  cli export --format otlp last --spool "$S" >"$T/otlp-last.json" ||
    fail "export --format otlp last failed"
  check --otlp "$T/otlp-last.json" --spans 4
  cli export --format jsonl last --spool "$S" >"$T/last.jsonl" ||
    fail "export --format jsonl last failed"
  check "$T/last.jsonl" --count 4 --eq trace_id="$tid"
  no_secret "$S" "$T"/*.txt "$T"/*.json "$T"/*.jsonl
}

case_readers_on_empty_and_missing_spool() {
  local rc
  mkdir -p "$T/empty"
  for cmd in "ls" "stats" "show last" "export --format jsonl --all"; do
    set +e
    # shellcheck disable=SC2086
    cli $cmd --spool "$T/missing" >"$T/o" 2>"$T/e"
    rc=$?
    set -e
    no_sanitizer_report "$T/e"
    # Either a clean empty answer or a clear message; never a crash.
    [ $rc -lt 128 ] || fail "autotrace $cmd on a missing spool crashed ($rc)"
    [ $rc = 0 ] || [ -s "$T/e" ] || fail "autotrace $cmd failed silently"
    [ ! -e "$T/missing" ] || fail "autotrace $cmd created the spool"
    echo "$cmd: exit $rc: $(head -c 200 "$T/e")"
  done
  cli export --format jsonl --all --spool "$T/missing" >"$T/o" 2>/dev/null || true
  [ ! -s "$T/o" ] || fail "export of a missing spool printed records"
}

run_cases case_run_exit_status_and_summary case_run_default_spool \
  case_traceparent_and_attributes case_readers \
  case_readers_on_empty_and_missing_spool
