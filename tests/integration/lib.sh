# lib.sh — shared by tests/integration/test_*.sh (bash; sourced, not run).
#
# A test script sources this file, defines its cases as functions, and ends
# with `run_cases case_a case_b ...`. Each case runs in its own subshell with
# `set -e`; a failing command fails the case, not the script, and the script
# exits 1 at the end when any case failed. `bash test_x.sh case_b` runs one
# case.
#
# Environment:
#   AT_BUILD     build tree to test, relative to the repo root: build (the
#                default) or build/asan (ASan+UBSan shim, tools and CLI)
#   AT_RESULTS   file that PASS/FAIL/SKIP lines are appended to (tests/run.sh)
#   AT_CERT_DIR  folder with cert.pem/key.pem for 127.0.0.1 (made when unset)
#   AT_KEEP=1    keep the temporary folder (its path is printed)

set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AT_BUILD=${AT_BUILD:-build}
B=$ROOT/$AT_BUILD
SHIM=$B/libautotrace.so
CLI=$B/autotrace
CLIENT=$B/tests/llm_client
PY=/usr/bin/python3
MOCK=$ROOT/examples/mock_provider.py
CHECK=$ROOT/tests/tools/check_records.py
KEY=sk-test-SECRET123
TEST_NAME=$(basename "$0" .sh)
BUILD_TAG=$([ "$AT_BUILD" = build ] && echo build || basename "$AT_BUILD")

# Nothing from the caller's environment may steer the shim.
for v in $(env | sed -n 's/^\(AUTOTRACE_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
unset LD_PRELOAD TRACEPARENT TRACESTATE
export LC_ALL=C

# TOP: this script's folder; T: the running case's own folder under it
# (each case gets a fresh one, so spools and files never mix).
TOP=$(mktemp -d "${TMPDIR:-/tmp}/at-$TEST_NAME.XXXXXX")
T=$TOP
MOCK_PIDS=()

CASE=setup

# Stop the mocks this shell started (each case runs in a subshell and
# stops its own when it ends, however it ends).
_kill_mocks() {
  local pid
  for pid in "${MOCK_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${MOCK_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  MOCK_PIDS=()
}

_cleanup() {
  _kill_mocks
  # Folders made read-only by a test must not stop the removal.
  chmod -R u+rwx "$TOP" 2>/dev/null || true
  if [ "${AT_KEEP:-0}" = 1 ]; then
    echo "kept $TOP"
  else
    rm -rf "$TOP"
  fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

is_asan() {
  case $AT_BUILD in *asan*) return 0 ;; *) return 1 ;; esac
}

# The LD_PRELOAD value for a traced process. An ASan shim needs the ASan
# runtime first in the library list when the program itself is not built
# with ASan (curl, cat, sh): preload libasan before the shim.
at_preload() {
  if is_asan; then
    printf '%s %s' "$(gcc -print-file-name=libasan.so)" "$SHIM"
  else
    printf '%s' "$SHIM"
  fi
}

# Sanitizer settings. Leak detection is off for programs we did not build
# (curl's own leaks at exit are not ours to report); our tools and the CLI
# keep ASan's defaults. A case may set AT_NO_LEAK_CHECK=1 to turn it off for
# a run whose leak report would be noise (it must say why).
_asan_env() {
  local prog=$1
  [ -n "$prog" ] || return 0
  if is_asan; then
    case $(command -v "$prog" 2>/dev/null || echo "$prog") in
    "$B"/*)
      if [ "${AT_NO_LEAK_CHECK:-0}" = 1 ]; then
        echo "ASAN_OPTIONS=abort_on_error=0:detect_leaks=0"
      else
        echo "ASAN_OPTIONS=abort_on_error=0:detect_leaks=1"
      fi
      ;;
    *) echo "ASAN_OPTIONS=detect_leaks=0" ;;
    esac
    echo "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
  fi
}

# The program named by a "VAR=VAL... CMD ARGS" list.
_prog_of() {
  local a
  for a in "$@"; do
    case $a in *=*) ;; *)
      echo "$a"
      return
      ;;
    esac
  done
}

# traced [VAR=VAL...] CMD ARGS...: run under the shim (at most 120 s).
traced() {
  local envs
  mapfile -t envs < <(_asan_env "$(_prog_of "$@")")
  timeout 120 env LD_PRELOAD="$(at_preload)" "${envs[@]}" "$@"
}

# untraced [VAR=VAL...] CMD ARGS...: the same without the shim.
untraced() {
  local envs
  mapfile -t envs < <(_asan_env "$(_prog_of "$@")")
  timeout 120 env -u LD_PRELOAD "${envs[@]}" "$@"
}

# cli ARGS...: the autotrace CLI of the build under test.
cli() {
  local envs
  mapfile -t envs < <(_asan_env "$CLI")
  timeout 120 env -u LD_PRELOAD "${envs[@]}" "$CLI" "$@"
}

# fail MESSAGE: fail the current case.
fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# skip REASON: end the current case as skipped.
skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# Fail when a sanitizer reported something in FILE.
no_sanitizer_report() {
  if grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|AddressSanitizer' "$1"; then
    echo "--- sanitizer report in $1:" >&2
    head -n 60 "$1" >&2
    fail "sanitizer report"
  fi
}

# curl_usable: can /usr/bin/curl run in this build's traced setting? Under
# the ASan build the ASan runtime is preloaded, and Debian 12's curl 7.88
# (with gcc 12's libasan) deadlocks at start-up in setlocale() that way,
# with or without the shim: glibc's setlocale lock is already corrupt
# before main (its reader count underflowed), so curl's second setlocale()
# waits forever. Probed once (tests/run.sh passes AT_CURL_ASAN down).
curl_usable() {
  is_asan || return 0
  if [ -z "${AT_CURL_ASAN:-}" ]; then
    if timeout 5 env LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
      ASAN_OPTIONS=detect_leaks=0 curl -sS -o /dev/null file:///dev/null \
      >/dev/null 2>&1; then
      AT_CURL_ASAN=ok
    else
      AT_CURL_ASAN=hangs
    fi
    export AT_CURL_ASAN
  fi
  [ "$AT_CURL_ASAN" = ok ]
}

# need_curl: skip the case when curl cannot run (see curl_usable).
need_curl() {
  curl_usable ||
    skip "curl deadlocks at start-up under a preloaded libasan (glibc setlocale lock; happens without the shim too)"
}

# post_cmd URL BODYFILE [-H HDR | --compressed]...: ARGS = a command that
# POSTs BODYFILE to URL with the test key: curl, or llm_client where curl
# cannot run (curl_usable). Both print the body as received on stdout.
post_cmd() {
  local url=$1 body=$2
  shift 2
  if curl_usable; then
    ARGS=(curl -sS --cacert "${CERT:-/dev/null}" -H "Authorization: Bearer $KEY"
      "$@" -d "@$body" "$url")
  else
    ARGS=("$CLIENT" --cacert "${CERT:-/dev/null}" -H "Authorization: Bearer $KEY"
      "$@" --body "$body" "$url")
  fi
}

# ---- certificates and the mock ----

certs() {
  if [ -n "${AT_CERT_DIR:-}" ] && [ -f "$AT_CERT_DIR/cert.pem" ]; then
    CERT=$AT_CERT_DIR/cert.pem
    CERT_KEY=$AT_CERT_DIR/key.pem
    return
  fi
  CERT=$TOP/cert.pem
  CERT_KEY=$TOP/key.pem
  [ -f "$CERT" ] && return
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$CERT_KEY" -out "$CERT" >/dev/null 2>&1 ||
    fail "openssl could not make a test certificate"
}

# start_mock [--tls] [--no-key] [--port N]: start the mock provider on a
# free port (or on port N: the start fails when N is taken). Sets
# MOCK_PORT, MOCK_URL (base, no path) and MOCK_LOG.
start_mock() {
  local tls=0 args=(--api-key "$KEY") i pf port=0
  while [ $# -gt 0 ]; do
    case $1 in
    --tls) tls=1 ;;
    --no-key) args=() ;;
    --port)
      port=$2
      shift
      ;;
    *) fail "start_mock: unknown option $1" ;;
    esac
    shift
  done
  i=$CASE-${#MOCK_PIDS[@]}
  pf=$T/mock-$i.port
  MOCK_LOG=$T/mock-$i.log
  rm -f "$pf"
  if [ $tls = 1 ]; then
    certs
    args+=(--tls "$CERT" "$CERT_KEY")
  fi
  # The mock's parent is this shell (env execs it): --exit-with-parent
  # stops it should this shell die without running its traps.
  env -u LD_PRELOAD "$PY" "$MOCK" --host 127.0.0.1 --port "$port" --port-file "$pf" \
    --exit-with-parent --max-seconds 900 --log "$MOCK_LOG" "${args[@]}" >"$T/mock-$i.out" 2>&1 &
  MOCK_PIDS+=($!)
  local _
  for _ in $(seq 1 200); do
    [ -s "$pf" ] && break
    kill -0 "${MOCK_PIDS[-1]}" 2>/dev/null || {
      cat "$T/mock-$i.out" >&2
      fail "the mock provider died at start"
    }
    sleep 0.05
  done
  [ -s "$pf" ] || fail "the mock provider did not start within 10 s"
  MOCK_PORT=$(cat "$pf")
  if [ $tls = 1 ]; then
    MOCK_URL=https://127.0.0.1:$MOCK_PORT
  else
    MOCK_URL=http://127.0.0.1:$MOCK_PORT
  fi
  echo "mock provider on $MOCK_URL (log $MOCK_LOG)"
}

# ---- running and comparing ----

# compare_run NAME SPOOL [VAR=VAL...] CMD ARGS...: run the command without
# and then with the shim (spooling to SPOOL), and require the same stdout
# bytes, the same stderr and the same exit status. Leaves the outputs in
# $T/NAME.{plain,traced}.{out,err} and the exit status in RC.
# COMPARE_STDERR=lenient: stderr may differ by lines the shim itself wrote
# ("autotrace[PID]: ..."), for cases where it has something to report.
compare_run() {
  local name=$1 spool=$2 rc_plain
  shift 2
  set +e
  untraced "$@" >"$T/$name.plain.out" 2>"$T/$name.plain.err" </dev/null
  rc_plain=$?
  set -e
  run_traced "$name" "$spool" "$@"
  if ! cmp -s "$T/$name.plain.out" "$T/$name.traced.out"; then
    echo "--- stdout without the shim:" >&2
    head -c 2000 "$T/$name.plain.out" >&2
    echo >&2
    echo "--- stdout with the shim:" >&2
    head -c 2000 "$T/$name.traced.out" >&2
    echo >&2
    fail "$name: stdout differs with the shim"
  fi
  local traced_err=$T/$name.traced.err
  if [ "${COMPARE_STDERR:-strict}" = lenient ]; then
    grep -v -E '^autotrace\[[0-9]+\]: ' "$traced_err" >"$traced_err.app" || true
    traced_err=$traced_err.app
  fi
  if ! cmp -s "$T/$name.plain.err" "$traced_err"; then
    diff "$T/$name.plain.err" "$traced_err" | head -n 40 >&2 || true
    fail "$name: stderr differs with the shim"
  fi
  [ "$rc_plain" = "$RC" ] ||
    fail "$name: exit status $rc_plain without the shim, $RC with it"
}

# run_traced NAME SPOOL [VAR=VAL...] CMD ARGS...: run with the shim,
# spooling to SPOOL. Outputs in $T/NAME.traced.{out,err}, exit status in RC
# (not checked); fails on a sanitizer report.
run_traced() {
  local name=$1 spool=$2
  shift 2
  set +e
  traced AUTOTRACE_SPOOL="$spool" "$@" \
    >"$T/$name.traced.out" 2>"$T/$name.traced.err" </dev/null
  RC=$?
  set -e
  no_sanitizer_report "$T/$name.traced.err"
}

# export_jsonl SPOOL OUT: every record in the spool, one JSON a line.
export_jsonl() {
  local spool=$1 out=$2
  if ! cli export --format jsonl --all --spool "$spool" >"$out" 2>"$out.err"; then
    cat "$out.err" >&2
    fail "autotrace export --format jsonl --all --spool $spool failed"
  fi
  no_sanitizer_report "$out.err"
  echo "exported $(wc -l <"$out") record(s) from $spool"
}

# check FILE ARGS...: tests/tools/check_records.py.
check() {
  "$PY" "$CHECK" "$@" || fail "check_records $*"
}

# no_secret PATH...: the test API key appears in none of the files.
no_secret() {
  local hits
  hits=$(grep -r -a -l -F "$KEY" "$@" 2>/dev/null || true)
  [ -z "$hits" ] || fail "the API key $KEY was found in: $hits"
}

# json_get FILE PATH: print a value from a JSON file (dotted path).
json_get() {
  "$PY" - "$1" "$2" <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
for p in sys.argv[2].split("."):
    v = v[int(p)] if isinstance(v, list) else v[p]
print(json.dumps(v) if not isinstance(v, str) else v)
EOF
}

# ---- running cases ----

_result() {
  local line="$1 $TEST_NAME/$2 [$BUILD_TAG]${3:+ ($3)}"
  # Under tests/run.sh the driver prints the results; the script's own
  # output (its log) then holds only what failed.
  if [ -n "${AT_RESULTS:-}" ]; then
    echo "$line" >>"$AT_RESULTS"
  else
    echo "$line"
  fi
}

# run_cases CASE...: run each case function (or only those named on the
# command line) and exit 1 when any failed.
run_cases() {
  local want=("$@") c rc failed=0 log t0 t1
  if [ -n "${AT_ONLY:-}" ]; then
    read -r -a want <<<"$AT_ONLY"
  fi
  if [ ! -x "$SHIM" ] && [ ! -f "$SHIM" ]; then
    echo "no $SHIM: build first (make all, or make SAN=1 all)" >&2
    for c in "${want[@]}"; do _result FAIL "$c" "not built"; done
    exit 1
  fi
  for c in "${want[@]}"; do
    log=$TOP/case-$c.log
    t0=$(date +%s%N)
    set +e
    (
      set -e
      CASE=$c
      MOCK_PIDS=()
      trap _kill_mocks EXIT
      trap 'exit 130' INT TERM
      T=$TOP/$c
      mkdir -p "$T"
      cd "$T"
      "$c"
    ) >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    t1=$(date +%s%N)
    local ms=$(((t1 - t0) / 1000000))
    if [ $rc = 0 ]; then
      _result PASS "$c" "${ms} ms"
    elif [ $rc = 77 ]; then
      _result SKIP "$c" "$(sed -n 's/^SKIP: //p' "$log" | tail -n 1)"
    else
      failed=1
      _result FAIL "$c" "exit $rc, ${ms} ms"
      echo "----- output of $TEST_NAME/$c [$BUILD_TAG] (last 150 lines):"
      tail -n 150 "$log"
      echo "----- end of $TEST_NAME/$c"
    fi
  done
  exit $failed
}

# Cases may be named on the command line.
if [ $# -gt 0 ]; then
  AT_ONLY="$*"
fi
