#!/bin/bash
# autotrace upload against the test receiver (tests/tools/otlp_receiver.py),
# which checks every request against the OTLP/HTTP JSON rules and what
# Langfuse reads: delivery to Langfuse (OTLP endpoint, legacy batch API) and
# to a plain OTLP backend, each failure mode (500, 429 + Retry-After, 400,
# 413, a timeout, a reset connection, a slow body, partial success), parked
# batches and --retry-parked, the lock, follow mode and SIGTERM, dead
# processes' spans, --dry-run, the credentials file, retention.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upload_lib.sh"

case_delivers_to_langfuse_and_otlp_once() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 3
  populate "$S" 2
  span_ids "$S" "$T/ids"
  [ "$(wc -l <"$T/ids")" = 7 ] || fail "expected 7 records: $(cat "$T/ids")"
  use_langfuse
  use_otlp
  upload --once
  [ "$URC" = 0 ] || fail "upload --once exited $URC"
  grep -q 'langfuse: 7 spans sent' "$T/up.err" || fail "no langfuse summary"
  grep -q 'otlp: 7 spans sent' "$T/up.err" || fail "no otlp summary"
  # Both targets got every span, once; the Langfuse route checked the
  # Basic auth and the ingestion version header.
  rctl verify "$T/ids" || fail "delivery check"
  [ "$(rstat spans_received)" = 14 ] || fail "each span once per target"
  [ "$(rstat auth_failures)" = 0 ] || fail "auth failures"
  rctl stats | has '"/api/public/otel/v1/traces"' || fail "no Langfuse request"
  rctl stats | has '"/v1/traces"' || fail "no OTLP request"
  # Nothing new: nothing sent.
  local before
  before=$(rstat requests)
  upload --once
  [ "$URC" = 0 ] && [ "$(rstat requests)" = "$before" ] ||
    fail "a second --once sent again"
  cli stats --json --spool "$S" >"$T/stats.json"
  "$PY" - "$T/stats.json" <<'EOF' || fail "stats: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
t = {x["kind"]: x for x in s["upload"]["targets"]}
assert set(t) == {"langfuse", "otlp"}, t
for x in t.values():
    assert x["cursor"] == 7 and x["pending"] == 0 and x["parked_batches"] == 0, x
assert s["counters"]["upload.sent_spans"] == 14, s["counters"]
EOF
  # New records: only they go.
  populate "$S" 1
  upload --once
  [ "$(rstat spans_received)" = 18 ] || fail "expected 2 new spans per target"
  no_violations
  no_secret "$T"
  ! grep -r -a -F "$SK" "$T"/up.* "$T"/*.log 2>/dev/null || fail "secret key in output"
}

case_retries_every_transient_failure() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 5
  span_ids "$S" "$T/ids"
  use_langfuse
  # One span per request, each meeting one failure before a yes: 500, 429
  # with Retry-After, 503, a reset connection, an answer that never comes,
  # a body trickled slower than the client waits.
  rqueue '[{"status":500},{"status":200},
    {"status":429,"retry_after":1},{"status":200},
    {"status":503},{"status":200},{"action":"reset"},{"status":200},
    {"action":"timeout","seconds":3},{"status":200},
    {"action":"slow","seconds":3},{"status":200}]'
  local t0 t1
  t0=$(date +%s%N)
  upload --once --timeout 1 --batch-spans 1
  t1=$(date +%s%N)
  [ "$URC" = 0 ] || fail "upload --once exited $URC"
  rctl verify "$T/ids" || fail "delivery after retries"
  [ "$(rstat queue_left)" = 0 ] || fail "not every failure was met"
  [ "$(rstat requests)" = 12 ] || fail "expected 12 requests: $(rstat requests)"
  # The timeout and the slow answer came after the server took the spans:
  # their re-sends are repeats, and byte-identical (verify checks it).
  [ "$(rstat repeats)" = 2 ] || fail "expected 2 repeats: $(rstat repeats)"
  grep -q 'trying again' "$T/up.err" || fail "no retry note"
  grep -q 'delivering again' "$T/up.err" || fail "no recovery note"
  # Backoff (0.5 s at least, Retry-After 1 s, two 1 s timeouts): never a
  # tight loop.
  [ $(((t1 - t0) / 1000000)) -ge 5000 ] || fail "retries came too fast"
  cli stats --json --spool "$S" | "$PY" -c '
import json,sys; s=json.load(sys.stdin); t=s["upload"]["targets"][0]
assert t["pending"] == 0 and "in_flight" not in t, t' || fail "stats after retries"
  no_violations
}

case_400_parks_then_retry_parked_delivers() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 2
  use_otlp
  rqueue '[{"status":400,"message":"schema says no"}]'
  upload --once
  [ "$URC" = 0 ] || fail "a parked batch is not a failure of --once"
  grep -q 'parked records 1-3 (3 spans): HTTP 400: schema says no' "$T/up.err" ||
    fail "no park message"
  # The uploader moved on: new records are delivered past the parked batch.
  populate "$S" 1
  upload --once
  [ "$(rstat spans_unique)" = 2 ] || fail "records after the parked batch not sent"
  cli stats --spool "$S" >"$T/stats.txt"
  cat "$T/stats.txt"
  grep -q 'parked: 1 batch (3 spans)' "$T/stats.txt" || fail "stats: no parked batch"
  grep -q 'records 1-3: HTTP 400: schema says no' "$T/stats.txt" ||
    fail "stats: no server message"
  grep -q -- '--retry-parked' "$T/stats.txt" || fail "stats: no hint"
  # Parked records are kept: retention with a 0 s age does not take them.
  AUTOTRACE_RETENTION=1s,none upload --prune
  span_ids "$S" "$T/ids"
  [ "$(wc -l <"$T/ids")" -ge 3 ] || fail "retention removed parked records"
  # Again, and refused again: still parked, one entry.
  rqueue '[{"status":422,"message":"still no"}]'
  upload --once --retry-parked
  cli stats --json --spool "$S" >"$T/s.json"
  "$PY" -c '
import json,sys; t=json.load(open(sys.argv[1]))["upload"]["targets"][0]
assert t["parked_batches"] == 1 and "still no" in t["parked"][0]["message"], t' \
    "$T/s.json" || fail "re-parked: $(cat "$T/s.json")"
  upload --once --retry-parked
  grep -q '1 parked batch(es) delivered, 0 still parked' "$T/up.err" ||
    fail "retry-parked did not deliver"
  [ "$(rstat spans_unique)" = 5 ] || fail "expected all 5 spans now"
  cli stats --spool "$S" | has 'parked:' && fail "still parked after delivery"
  cli stats --json --spool "$S" | has '"upload.parked_batches": 2' ||
    fail "parked batches not counted"
  no_violations
}

case_partial_success_is_final_and_413_splits() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 5
  use_otlp
  rqueue '[{"status":200,"partial":2}]'
  upload --once
  grep -q 'rejected 2 of 6 spans' "$T/up.err" || fail "partial success not reported"
  [ "$(rstat requests)" = 1 ] || fail "a partial success was re-sent"
  cli stats --json --spool "$S" | has '"upload.rejected_spans": 2' ||
    fail "rejected spans not counted"
  # 413: the batch is split until it fits.
  populate "$S" 3
  rqueue '[{"status":413,"message":"too big"}]'
  upload --once
  grep -q 'sending 2 spans per request' "$T/up.err" || fail "no split"
  [ "$(rstat spans_unique)" = 10 ] || fail "split batches not all delivered"
  no_violations
}

case_legacy_batch_api_207() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 3
  span_ids "$S" "$T/ids"
  use_langfuse
  # The first observation event refused (400 in a 207): only its record
  # is parked. Then a per-event 500: the batch goes again.
  rqueue '[{"status":207,"fail_first":true}]'
  upload --once --target langfuse-legacy
  [ "$URC" = 0 ] || fail "exit $URC"
  grep -q 'refused 1 of 4 events' "$T/up.err" || fail "no per-event park"
  [ "$(rstat spans_unique)" = 3 ] || fail "3 of 4 observations expected"
  [ "$(rstat trace_events)" = 1 ] || fail "one trace-create expected"
  cli stats --spool "$S" | has 'HTTP 400 (event): Invalid request data' ||
    fail "stats: no per-event message"
  rqueue '[{"status":207,"fail_500":true}]'
  upload --once --target langfuse-legacy --retry-parked
  rctl verify "$T/ids" || fail "legacy delivery"
  grep -q 'the server failed 1 event' "$T/up.err" || fail "per-event 500 not retried"
  no_violations
}

case_large_batches_are_gzipped() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  traced AUTOTRACE_SPOOL="$S" "$CLIENT" -H "Authorization: Bearer $KEY" \
    -H "x-mock-pad-bytes: 9000" --repeat 12 --body-string "$ASK" \
    "$MOCK_URL/v1/chat/completions" >/dev/null 2>"$T/c.err" || fail "$(cat "$T/c.err")"
  span_ids "$S" "$T/ids"
  use_otlp
  upload --once
  rctl verify "$T/ids" || fail "gzip delivery"
  [ "$(rstat gzip_requests)" -ge 1 ] || fail "a large body was not gzipped"
  # OTEL_EXPORTER_OTLP_COMPRESSION=none turns it off. Another endpoint is
  # another target, with its own cursor: everything goes there too.
  rctl reset
  OTEL_EXPORTER_OTLP_COMPRESSION=none \
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="$RURL/tenant2/v1/traces" upload --once
  [ "$(rstat gzip_requests)" = 0 ] || fail "compression none still gzipped"
  [ "$(rstat spans_unique)" = 13 ] || fail "second target: $(rstat spans_unique)"
  no_violations
}

case_follow_mode_lock_idle_and_sigterm() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 1
  use_langfuse
  upload_bg --spool "$S"
  rctl wait 2 20 || fail "follow mode did not send what was there"
  # A second uploader on the same spool says who holds it and exits 1.
  upload --once --spool "$S"
  [ "$URC" = 1 ] || fail "second uploader exited $URC"
  grep -q "another autotrace upload (pid $UPID) is already sending this spool" \
    "$T/up.err" || fail "lock message"
  # New records are picked up within seconds (inotify).
  populate "$S" 2
  rctl wait 5 20 || fail "follow mode missed new records"
  # A sidecar yields: nice +10, and the builder threads under SCHED_IDLE
  # (policy 5), so a traced program never waits for them.
  [ "$(awk '{ print $19 }' "/proc/$UPID/stat")" = 10 ] ||
    fail "the uploader does not run at nice 10"
  grep -q '^policy .*: *5$' /proc/"$UPID"/task/*/sched ||
    fail "no builder thread under SCHED_IDLE"
  # Idle: no CPU to speak of (a tick is 10 ms; 4 s at 0.25% would be 1).
  sleep 1
  local c0 c1
  c0=$(cpu_ticks "$UPID")
  sleep 4
  c1=$(cpu_ticks "$UPID")
  echo "idle uploader: $((c1 - c0)) ticks in 4 s"
  [ $((c1 - c0)) -le 2 ] || fail "idle uploader used $((c1 - c0)) ticks in 4 s"
  # SIGTERM while a request is in flight: the request finishes, its outcome
  # is recorded (never sent again), exit 0.
  rqueue '[{"action":"slow","seconds":2}]'
  populate "$S" 1
  local n
  for n in $(seq 1 200); do
    rctl stats | has '"status": "slow"' && break
    sleep 0.05
  done
  rctl stats | has '"status": "slow"' || fail "no request in flight"
  kill -TERM "$UPID"
  local rc=0
  wait "$UPID" || rc=$?
  [ "$rc" = 0 ] || fail "SIGTERM: exit $rc"
  cat "$T/bg.err"
  no_sanitizer_report "$T/bg.err"
  cli stats --json --spool "$S" | "$PY" -c '
import json,sys; t=json.load(sys.stdin)["upload"]["targets"][0]
assert "in_flight" not in t, t' ||
    fail "the batch in flight at SIGTERM was not recorded"
  upload --once --spool "$S"
  rctl wait 7 5 || fail "not all delivered"
  [ "$(rstat repeats)" = 0 ] || fail "the batch answered after SIGTERM was sent again"
  no_violations
}

case_dead_process_span_is_closed_and_shipped_once() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  # A traced process killed in the middle of its second call: its process
  # span stays open in the spool.
  env LD_PRELOAD="$(at_preload)" AUTOTRACE_SPOOL="$S" $(_asan_env "$CLIENT") \
    "$CLIENT" -H "Authorization: Bearer $KEY" -H "x-mock-delay-ms: 400" \
    --repeat 5 --body-string "$ASK" "$MOCK_URL/v1/chat/completions" \
    >/dev/null 2>&1 &
  local P=$!
  MOCK_PIDS+=($P)
  local n
  for n in $(seq 1 100); do
    cli stats --json --spool "$S" 2>/dev/null | has '"running": 1' && break
    sleep 0.05
  done
  sleep 0.2
  kill -KILL "$P"
  wait "$P" 2>/dev/null || true
  use_langfuse
  # Within the grace period: its children go, it waits.
  upload --once --grace 3600
  [ "$(rstat spans_unique)" -ge 1 ] || fail "children not sent"
  rctl spans >"$T/sent1"
  # Past it: closed in the spool, shipped once, marked incomplete.
  upload --once --grace 0
  span_ids "$S" "$T/ids"
  rctl verify "$T/ids" || fail "the closed span was not delivered"
  cli export --format jsonl --all --spool "$S" | grep '"incomplete":true' |
    grep -q '"type":"span"' || fail "no incomplete span record"
  cli stats --json --spool "$S" | has '"upload.closed_spans": 1' ||
    fail "closure not counted"
  rctl dump | has 'langfuse.observation.metadata.incomplete' ||
    fail "the backend was not told the span is incomplete"
  local before
  before=$(rstat spans_received)
  upload --once --grace 0
  [ "$(rstat spans_received)" = "$before" ] || fail "the closed span was sent twice"
  no_violations
}

case_dry_run_prints_and_changes_nothing() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 2
  use_langfuse
  upload --dry-run
  [ "$URC" = 0 ] || fail "dry-run exit $URC"
  head -n 8 "$T/up.out"
  grep -q "^POST $RURL/api/public/otel/v1/traces$" "$T/up.out" || fail "no POST line"
  grep -q '^Authorization: \[REDACTED\]$' "$T/up.out" || fail "auth not redacted"
  grep -q '^x-langfuse-ingestion-version: 4$' "$T/up.out" || fail "no version header"
  ! grep -q -F "$SK" "$T/up.out" "$T/up.err" || fail "the secret was printed"
  ! grep -q -F "$(printf '%s:%s' "$PK" "$SK" | base64)" "$T/up.out" ||
    fail "the encoded credentials were printed"
  grep '"resourceSpans"' "$T/up.out" | "$PY" -c 'import json,sys; json.loads(sys.stdin.readline())' ||
    fail "the body is not JSON"
  [ "$(rstat requests)" = 0 ] || fail "dry-run sent something"
  cli stats --json --spool "$S" | has '"targets": \[\]' ||
    fail "dry-run registered a target"
  # The spans printed are the spans sent, byte for byte.
  grep '"resourceSpans"' "$T/up.out" >"$T/dry.json"
  upload --once
  rctl dump >"$T/dump.json"
  "$PY" - "$T/dry.json" "$T/dump.json" <<'EOF' || fail "dry-run body differs"
import json, sys
sent = json.load(open(sys.argv[2]))
n = 0
for line in open(sys.argv[1]):
    for rs in json.loads(line)["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for sp in ss["spans"]:
                c = json.dumps(sp, sort_keys=True, separators=(",", ":"))
                assert sent[sp["spanId"]] == c, sp["spanId"]
                n += 1
assert n == len(sent) == 3, (n, len(sent))
EOF
  no_violations
}

case_credentials_never_on_the_command_line_or_in_logs() {
  start_receiver
  export XDG_CONFIG_HOME=$T/config
  mkdir -p "$XDG_CONFIG_HOME/autotrace"
  local F=$XDG_CONFIG_HOME/autotrace/upload.env
  printf 'LANGFUSE_PUBLIC_KEY=%s\nLANGFUSE_SECRET_KEY=%s\nLANGFUSE_HOST=%s\n' \
    "$PK" "$SK" "$RURL" >"$F"
  chmod 644 "$F"
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  upload --once --spool "$S"
  [ "$URC" = 1 ] || fail "a world-readable credentials file was used"
  grep -q 'chmod 600' "$T/up.err" || fail "no chmod hint"
  chmod 600 "$F"
  start_mock
  populate "$S" 1
  upload --once --spool "$S"
  [ "$URC" = 0 ] || fail "the 0600 file was refused"
  [ "$(rstat spans_unique)" = 2 ] || fail "not delivered with the file's keys"
  [ "$(rstat auth_failures)" = 0 ] || fail "wrong credentials sent"
  # A positional argument is refused (credentials never on the command line).
  upload --once "$SK"
  [ "$URC" = 2 ] || fail "a positional argument was accepted"
  ! grep -q -F "$SK" "$T/up.err" || fail "the argument was echoed"
  # Wrong keys: 401, parked with the server's words, never the key.
  rctl reset
  populate "$S" 1
  LANGFUSE_SECRET_KEY=sk-wrong upload --once --spool "$S"
  grep -q 'HTTP 401: Authentication error' "$T/up.err" || fail "no 401 park"
  ! grep -q 'sk-wrong' "$T/up.err" || fail "the wrong key was printed"
  # No configuration at all: say which variables to set.
  unset XDG_CONFIG_HOME
  env -u LANGFUSE_PUBLIC_KEY -u LANGFUSE_SECRET_KEY XDG_CONFIG_HOME=$T/none \
    "$CLI" upload --once --spool "$S" >"$T/o" 2>"$T/e" && fail "no target: exit 0"
  grep -q 'LANGFUSE_PUBLIC_KEY' "$T/e" && grep -q OTEL_EXPORTER_OTLP_ENDPOINT "$T/e" ||
    fail "no hint: $(cat "$T/e")"
  no_violations
}

case_retention_age_and_size() {
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 4
  use_otlp
  upload --once
  rctl verify <(cli export --format jsonl --all --spool "$S" |
    "$PY" -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["id"])') || fail "delivery"
  cli stats --json --spool "$S" | has '"pending": 0' || fail "not all sent"
  sleep 1.1
  AUTOTRACE_RETENTION=1s upload --prune
  span_ids "$S" "$T/left"
  [ "$(wc -l <"$T/left")" = 0 ] || fail "uploaded records older than 1 s remain"
  # Unsent records stay past the age bound; the size bound removes them,
  # oldest first, and says so.
  populate "$S" 6
  sleep 1.1
  AUTOTRACE_RETENTION=1s upload --prune
  span_ids "$S" "$T/left"
  [ "$(wc -l <"$T/left")" = 7 ] || fail "unsent records were removed by age"
  AUTOTRACE_RETENTION=none,1K upload --prune
  grep -q 'dropped.retention' "$T/up.err" || fail "no dropped.retention warning"
  cli stats --json --spool "$S" >"$T/s.json"
  "$PY" -c '
import json,sys; s=json.load(open(sys.argv[1]))
assert s["counters"]["dropped.retention"] >= 1, s["counters"]
assert s["counters"]["retention.removed"] >= 6, s["counters"]' "$T/s.json" ||
    fail "retention counters: $(cat "$T/s.json")"
  # A bad setting is refused with the variable's name.
  AUTOTRACE_RETENTION=forever upload --prune
  [ "$URC" = 1 ] && grep -q AUTOTRACE_RETENTION "$T/up.err" || fail "bad setting accepted"
}

case_progress_line_on_a_terminal_only() {
  command -v script >/dev/null || skip "no script(1) to give the uploader a terminal"
  start_mock
  start_receiver
  local S=$T/spool
  export AUTOTRACE_SPOOL=$S
  populate "$S" 3
  use_otlp
  local envs
  mapfile -t envs < <(_asan_env "$CLI")
  timeout 60 script -qec "env -u LD_PRELOAD ${envs[*]} $CLI upload --once" \
    "$T/tty.log" >/dev/null </dev/null || fail "upload on a terminal failed"
  cat -v "$T/tty.log"
  grep -q 'autotrace upload: otlp 4 sent, 0 pending, .* spans/s' "$T/tty.log" ||
    fail "no progress line on a terminal"
  grep -q 'otlp: 4 spans sent in 1 request' "$T/tty.log" || fail "no summary"
  # -q: nothing at all; not a terminal: no progress line.
  populate "$S" 1
  timeout 60 script -qec "env -u LD_PRELOAD ${envs[*]} $CLI upload --once -q" \
    "$T/tty2.log" >/dev/null </dev/null || fail "upload -q failed"
  [ ! -s "$T/tty2.log" ] || ! grep -q 'spans' "$T/tty2.log" ||
    fail "-q printed: $(cat -v "$T/tty2.log")"
  populate "$S" 1
  upload --once
  ! grep -q 'spans/s' "$T/up.err" || fail "a progress line without a terminal"
  [ "$(rstat spans_unique)" = 8 ] || fail "not all delivered"
}

run_cases case_delivers_to_langfuse_and_otlp_once \
  case_retries_every_transient_failure \
  case_400_parks_then_retry_parked_delivers \
  case_partial_success_is_final_and_413_splits \
  case_legacy_batch_api_207 \
  case_large_batches_are_gzipped \
  case_follow_mode_lock_idle_and_sigterm \
  case_dead_process_span_is_closed_and_shipped_once \
  case_dry_run_prints_and_changes_nothing \
  case_credentials_never_on_the_command_line_or_in_logs \
  case_retention_age_and_size \
  case_progress_line_on_a_terminal_only
