#!/bin/bash
# `make demo` (scripts/demo.sh) works offline and shows the agent's trace;
# the mock provider and the demo agent behave as the demo says.
. "$(dirname "$0")/lib.sh"

case_demo_script() {
  if is_asan; then
    # `autotrace run` puts its shim first in LD_PRELOAD, ahead of the ASan
    # runtime the sanitizer shim needs first: the demo is the plain build's.
    skip "the demo runs the plain build only"
  fi
  local rc=0
  (cd "$ROOT" && TMPDIR=$T timeout 120 sh scripts/demo.sh) >"$T/demo.out" 2>&1 || rc=$?
  cat "$T/demo.out"
  [ $rc = 0 ] || fail "scripts/demo.sh exited $rc"
  grep -q 'user> What is the weather like in Paris today?' "$T/demo.out" ||
    fail "the agent did not ask"
  grep -q 'assistant> (calls get_weather {"city": "Paris"})' "$T/demo.out" ||
    fail "no tool call"
  grep -q 'assistant> The tool returned: .* in Paris' "$T/demo.out" ||
    fail "no final answer"
  grep -q '^autotrace: .*2 generations' "$T/demo.out" || fail "no run summary"
  grep -q 'get_weather' "$T/demo.out" || fail "show did not show the tool"
  local spool
  spool=$(sed -n 's/^The spool stays in \(.*\) (remove.*/\1/p' "$T/demo.out")
  [ -d "$spool" ] || fail "the spool path printed is not a folder: $spool"
  export_jsonl "$spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --same trace_id
  # No mock left running: its port is closed.
  ! grep -q 'mock_provider' <(ps -eo args 2>/dev/null | grep "$T" | grep -v grep) ||
    fail "the demo left its mock running"
}

case_demo_agent_errors() {
  # Server down: the agent says so and fails; nothing is captured as a
  # success.
  local S=$T/spool
  compare_run down "$S" OPENAI_BASE_URL=http://127.0.0.1:1/v1 "$B/examples/demo_agent"
  [ "$RC" = 1 ] || fail "demo_agent exit $RC with the server down"
  grep -q 'request to .* failed' "$T/down.traced.err" || fail "no error message"
  # A wrong key: HTTP 401 from the mock, shown, exit 1.
  start_mock
  compare_run badkey "$S" "OPENAI_BASE_URL=$MOCK_URL/v1" OPENAI_API_KEY=wrong \
    "$B/examples/demo_agent"
  [ "$RC" = 1 ] || fail "demo_agent exit $RC with a wrong key"
  grep -q 'HTTP 401' "$T/badkey.traced.err" || fail "401 not reported"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --where http.status=401 \
    --count 1 --eq level=ERROR --contains "status_message=mock: invalid API key"
}

case_mock_is_deterministic() {
  # Same request, same bytes (the tests compare outputs byte for byte).
  start_mock --tls
  local a b
  a=$(curl -sS --cacert "$CERT" -H "x-api-key: $KEY" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"same"}]}' "$MOCK_URL/v1/messages")
  b=$(curl -sS --cacert "$CERT" -H "x-api-key: $KEY" -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"same"}]}' "$MOCK_URL/v1/messages")
  [ "$a" = "$b" ] || fail "two identical requests got different answers"
  # The key is checked.
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CERT" -H 'x-api-key: nope' -d '{}' "$MOCK_URL/v1/messages")" = 401 ] ||
    fail "the mock accepted a wrong key"
}

run_cases case_demo_script case_demo_agent_errors case_mock_is_deterministic
