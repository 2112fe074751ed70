#!/bin/bash
# kill -9 at random points: an uploader is started and killed 60 times
# while several traced processes keep writing (some of them killed too,
# leaving open spans behind) and the receiver answers a third of the
# requests slowly, not at all, with 5xx or 429 (its --chaos mode). Then one last `upload --once` drains the spool, and
# every span id in the spool must have reached the receiver, none missing,
# none unknown, and every repeat byte-identical to the first delivery.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/upload_lib.sh"

KILLS=60

# writer N: traced llm_client runs, one after the other, for a while; one
# in four is killed -9 in the middle (its process span stays open).
writer() {
  local i p envs
  mapfile -t envs < <(_asan_env "$CLIENT")
  for i in $(seq 1 200); do
    [ -e "$T/stop" ] && break
    # env execs the client: $! is the traced process itself.
    env LD_PRELOAD="$(at_preload)" AUTOTRACE_SPOOL="$S" "${envs[@]}" \
      "$CLIENT" -H "Authorization: Bearer $KEY" \
      -H "x-mock-delay-ms: $((RANDOM % 40))" --repeat $((1 + RANDOM % 4)) \
      --body-string "$ASK" "$MOCK_URL/v1/chat/completions" >/dev/null 2>&1 &
    p=$!
    if [ $((RANDOM % 4)) = 0 ]; then
      sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
      kill -KILL "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
}

case_kill9_loop_delivers_every_span_once() {
  start_mock
  # A third of the requests fail: slowly, not at all, or with 5xx/429.
  start_receiver --chaos 0.35
  S=$T/spool
  export AUTOTRACE_SPOOL=$S
  use_langfuse
  populate "$S" 2
  local w pids=()
  for w in 1 2 3; do
    writer "$w" &
    pids+=($!)
    MOCK_PIDS+=($!)
  done
  # One traced process is sure to die with its span open: killed once its
  # first call is in the spool (the writers' kills may all come too early
  # on a busy machine).
  local envs slow n
  mapfile -t envs < <(_asan_env "$CLIENT")
  env LD_PRELOAD="$(at_preload)" AUTOTRACE_SPOOL="$S" "${envs[@]}" "$CLIENT" \
    -H "Authorization: Bearer $KEY" -H "x-mock-delay-ms: 300" --repeat 50 \
    --body-string "$ASK" "$MOCK_URL/v1/chat/completions" >/dev/null 2>&1 &
  slow=$!
  MOCK_PIDS+=($slow)
  for n in $(seq 1 200); do
    cli stats --json --spool "$S" 2>/dev/null | has '"running": [1-9]' && break
    sleep 0.1
  done
  local k killed=0 t0
  t0=$(date +%s)
  for k in $(seq 1 $KILLS); do
    upload_bg -q --grace 0 --timeout 1 --batch-spans $((1 + RANDOM % 25))
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    if kill -KILL "$UPID" 2>/dev/null; then
      killed=$((killed + 1))
    fi
    wait "$UPID" 2>/dev/null || true
    if [ "$k" = 20 ]; then
      kill -KILL "$slow" 2>/dev/null || true
      wait "$slow" 2>/dev/null || true
    fi
  done
  echo "$killed uploaders killed in $(($(date +%s) - t0)) s"
  [ "$killed" -ge 50 ] || fail "only $killed uploaders were alive to be killed"
  touch "$T/stop"
  for w in "${pids[@]}"; do
    wait "$w" 2>/dev/null || true
  done
  no_sanitizer_report "$T/bg.err"
  # Drain, the receiver behaving now.
  curl -sS --noproxy '*' --max-time 10 -o /dev/null -d 0 "$RURL/_ctl/chaos"
  upload --once -q --grace 0 --timeout 2
  [ "$URC" = 0 ] || fail "the final upload exited $URC"
  span_ids "$S" "$T/ids"
  local n
  n=$(wc -l <"$T/ids")
  echo "$n spans in the spool"
  [ "$n" -ge 40 ] || fail "the writers wrote too little ($n spans)"
  cli stats --json --spool "$S" >"$T/stats.json"
  "$PY" - "$T/stats.json" <<'EOF' || fail "stats: $(cat "$T/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
t = s["upload"]["targets"][0]
print("target:", {k: v for k, v in t.items() if k != "parked"}, t.get("parked"))
print("open spans:", s["open_spans"], "counters:", s["counters"])
assert t["pending"] == 0 and "in_flight" not in t and t["parked_batches"] == 0, t
closed = s["counters"].get("upload.closed_spans", 0)
print("spans of killed processes closed by the uploader:", closed)
# Every span left open by a killed writer was closed in the spool (none is
# left for the readers to close): the incomplete ones are those records.
assert s["open_spans"]["running"] == 0, s["open_spans"]
assert s["open_spans"]["incomplete"] == closed >= 1, (s["open_spans"], closed)
EOF
  rctl verify "$T/ids" || fail "delivery check"
  echo "receiver: $(rstat requests) requests, $(rstat spans_received) spans" \
    "received, $(rstat repeats) repeats (all byte-identical)"
}

run_cases case_kill9_loop_delivers_every_span_once
