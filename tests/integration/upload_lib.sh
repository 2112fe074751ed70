# upload_lib.sh — what tests/integration/test_upload*.sh share (bash;
# sourced after lib.sh): the test receiver (tests/tools/otlp_receiver.py),
# filling a spool through real traced runs, and running the uploader.

RECV=$ROOT/tests/tools/otlp_receiver.py
PK=pk-lf-test-1
SK=sk-lf-test-SECRET-2
ASK='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"What is 2+2?"}]}'

# start_receiver [ARGS...]: the receiver on a free port, with the test's
# Langfuse keys. Sets RPORT, RURL and RLOG; stopped when the case ends.
start_receiver() {
  local pf=$T/recv-${#MOCK_PIDS[@]}.port n
  RLOG=$T/recv-${#MOCK_PIDS[@]}.log
  rm -f "$pf"
  env -u LD_PRELOAD "$PY" "$RECV" serve --port-file "$pf" --public-key "$PK" \
    --secret-key "$SK" --exit-with-parent --max-seconds 600 --log "$RLOG" \
    "$@" >"$RLOG.out" 2>&1 &
  MOCK_PIDS+=($!)
  for n in $(seq 1 200); do
    [ -s "$pf" ] && break
    kill -0 "${MOCK_PIDS[-1]}" 2>/dev/null || {
      cat "$RLOG.out" >&2
      fail "the receiver died at start"
    }
    sleep 0.05
  done
  [ -s "$pf" ] || fail "the receiver did not start within 10 s"
  RPORT=$(cat "$pf")
  RURL=http://127.0.0.1:$RPORT
  echo "receiver on $RURL"
}

# rctl CMD [ARG...]: the receiver's control calls (stats, spans, queue,
# default, verify, wait, reset).
rctl() {
  env -u LD_PRELOAD "$PY" "$RECV" ctl "$RPORT" "$@"
}

# rstat KEY: one value from the receiver's stats (curl: no Python start).
rstat() {
  curl -sS --noproxy '*' --max-time 10 "$RURL/_ctl/stat/$1"
}

# rqueue JSON: what the next requests get.
rqueue() {
  curl -sS --noproxy '*' --max-time 10 -o /dev/null -d "$1" "$RURL/_ctl/queue"
}

# no_violations: the receiver found every request well-formed.
no_violations() {
  local v
  v=$(rctl stats | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print(len(s["violations"]) + len(s["mismatches"]))')
  if [ "$v" != 0 ]; then
    rctl stats >&2
    fail "the receiver saw malformed requests or changed re-sends"
  fi
}

# use_langfuse / use_otlp: point the uploader at the receiver. Every case
# gets its own config folder, so a user's upload.env never leaks in.
use_langfuse() {
  export XDG_CONFIG_HOME=$T/config
  export LANGFUSE_PUBLIC_KEY=$PK LANGFUSE_SECRET_KEY=$SK LANGFUSE_HOST=$RURL
}
use_otlp() {
  export XDG_CONFIG_HOME=$T/config
  export OTEL_EXPORTER_OTLP_ENDPOINT=$RURL
}

# populate SPOOL N: N chat calls from one traced process (N generations and
# its process span).
populate() {
  local spool=$1 n=$2
  traced AUTOTRACE_SPOOL="$spool" "$CLIENT" -H "Authorization: Bearer $KEY" \
    --repeat "$n" --body-string "$ASK" "$MOCK_URL/v1/chat/completions" \
    >"$T/populate.out" 2>"$T/populate.err" ||
    fail "traced llm_client failed: $(cat "$T/populate.err")"
  no_sanitizer_report "$T/populate.err"
}

# span_ids SPOOL OUT: every record's id (markers of dead processes closed,
# as export does), one a line.
span_ids() {
  local spool=$1 out=$2
  cli export --format jsonl --all --spool "$spool" 2>"$out.err" |
    "$PY" -c 'import json,sys
for l in sys.stdin:
    print(json.loads(l)["id"])' >"$out"
  no_sanitizer_report "$out.err"
}

# upload ARGS...: `autotrace upload` of the build under test; output in
# $T/up.out and $T/up.err, exit status in URC.
upload() {
  set +e
  cli upload "$@" >"$T/up.out" 2>"$T/up.err"
  URC=$?
  set -e
  cat "$T/up.err"
  no_sanitizer_report "$T/up.err"
}

# upload_bg ARGS...: a follow-mode uploader in the background; its pid in
# UPID (stopped at the end of the case like the servers).
upload_bg() {
  local envs
  mapfile -t envs < <(_asan_env "$CLI")
  env -u LD_PRELOAD "${envs[@]}" "$CLI" upload "$@" \
    >"$T/bg.out" 2>>"$T/bg.err" </dev/null &
  UPID=$!
  MOCK_PIDS+=($UPID)
}

# cpu_ticks PID: user + system time of a process, in clock ticks.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# ... | has PATTERN: like grep -q, but reads all its input, so that the
# writer never dies of SIGPIPE (which pipefail would count as a failure).
has() {
  grep -c "$@" >/dev/null
}
