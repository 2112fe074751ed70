#!/bin/sh
# tests/run.sh all|unit|integration|conformance — the test driver.
#
#   unit         every build/asan/tests/unit_* (Criterion, ASan+UBSan)
#   integration  every tests/integration/test_*.sh, once against the plain
#                build (AT_BUILD=build) and once against the sanitizer build
#                (AT_BUILD=build/asan)
#   all          unit, then integration (what `make test` runs)
#   conformance  tests/conformance.py over ../shared/corpus
#
# Prints one PASS/FAIL/SKIP line per unit binary and per integration case,
# the output of whatever failed, and last a line "N passed, M failed" (with
# ", K skipped" when some were). Exits 1 when anything failed.
#
# Environment: AT_BUILDS (default "build build/asan") limits the builds the
# integration tests run against; AT_TESTS (e.g. "test_errors test_fork")
# limits the scripts.
set -eu

cd "$(dirname "$0")/.."
mode=${1:-all}
case $mode in
all | unit | integration | conformance) ;;
*)
  echo "usage: sh tests/run.sh all|unit|integration|conformance" >&2
  exit 2
  ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/at-run.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results
: >"$RESULTS"

# say STATUS NAME [NOTE]: one result line, printed and counted.
say() {
  line="$1 $2${3:+ ($3)}"
  echo "$line"
  echo "$line" >>"$RESULTS"
}

# show_log FILE LABEL: the end of a failure's output.
show_log() {
  echo "----- output of $2 (last 300 lines):"
  tail -n 300 "$1"
  echo "----- end of $2"
}

now_ms() {
  echo $(($(date +%s%N) / 1000000))
}

run_units() {
  echo "== unit tests (build/asan, ASan+UBSan)"
  found=0
  for d in tests/unit/*/; do
    [ -d "$d" ] || continue
    m=$(basename "$d")
    bin=build/asan/tests/unit_$m
    found=1
    if [ ! -x "$bin" ]; then
      say FAIL "unit_$m" "not built: make SAN=1 units"
      continue
    fi
    log=$WORK/unit_$m.log
    t0=$(now_ms)
    # Criterion reports a test before its worker process exits, and
    # LeakSanitizer speaks at that exit: a leak shows in the log only.
    if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      timeout 600 "$bin" >"$log" 2>&1 </dev/null; then
      if grep -q "ERROR: LeakSanitizer" "$log"; then
        say FAIL "unit_$m" "LeakSanitizer reported a leak"
        show_log "$log" "unit_$m"
      else
        say PASS "unit_$m" "$(($(now_ms) - t0)) ms"
      fi
    else
      say FAIL "unit_$m" "exit $?"
      show_log "$log" "unit_$m"
    fi
  done
  if [ $found = 0 ]; then
    say FAIL unit "no unit test folders under tests/unit"
  fi
}

run_integration() {
  builds=${AT_BUILDS:-build build/asan}
  certs=$WORK/certs
  mkdir -p "$certs"
  if ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$certs/key.pem" -out "$certs/cert.pem" >/dev/null 2>&1; then
    echo "tests/run.sh: openssl could not make a test certificate;" \
      "the test scripts will try on their own" >&2
  fi
  # Can curl run with the ASan runtime preloaded? (see curl_usable in
  # tests/integration/lib.sh) Probed once for all scripts.
  case " $builds " in
  *asan*)
    if timeout 5 env LD_PRELOAD="$(gcc -print-file-name=libasan.so)" \
      ASAN_OPTIONS=detect_leaks=0 curl -sS -o /dev/null file:///dev/null \
      >/dev/null 2>&1; then
      AT_CURL_ASAN=ok
    else
      AT_CURL_ASAN=hangs
      echo "note: curl cannot start with libasan preloaded here; under" \
        "build/asan the curl cases are skipped and llm_client stands in"
    fi
    export AT_CURL_ASAN
    ;;
  esac
  for b in $builds; do
    echo "== integration tests against $b"
    if [ ! -f "$b/libautotrace.so" ]; then
      if [ "$mode" = integration ] && [ "$b" != build ]; then
        say SKIP "integration [$b]" "not built: make SAN=1 all"
      else
        say FAIL "integration [$b]" "not built"
      fi
      continue
    fi
    for t in tests/integration/test_*.sh; do
      [ -f "$t" ] || continue
      name=$(basename "$t" .sh)
      if [ -n "${AT_TESTS:-}" ]; then
        case " $AT_TESTS " in *" $name "*) ;; *) continue ;; esac
      fi
      log=$WORK/$name.$(echo "$b" | tr / _).log
      part=$WORK/part
      : >"$part"
      rc=0
      AT_BUILD=$b AT_RESULTS=$part AT_CERT_DIR=$certs \
        timeout 900 bash "$t" >"$log" 2>&1 </dev/null || rc=$?
      cat "$part"
      cat "$part" >>"$RESULTS"
      if [ $rc != 0 ]; then
        if ! grep -q '^FAIL ' "$part"; then
          # Died outside any case (setup, syntax, timeout).
          say FAIL "$name [$b]" "exit $rc outside the cases"
        fi
        show_log "$log" "$name [$b]"
      elif [ ! -s "$part" ]; then
        say FAIL "$name [$b]" "ran no case"
      fi
    done
  done
}

run_conformance() {
  echo "== conformance (tests/conformance.py over ../shared/corpus)"
  if [ ! -d ../shared/corpus ]; then
    say SKIP conformance "no ../shared/corpus"
  elif [ ! -f tests/conformance.py ]; then
    say FAIL conformance "tests/conformance.py is missing"
  else
    log=$WORK/conformance.log
    if timeout 1200 /usr/bin/python3 tests/conformance.py ../shared/corpus \
      >"$log" 2>&1 </dev/null; then
      tail -n 5 "$log"
      say PASS conformance
    else
      say FAIL conformance "exit $?"
      show_log "$log" conformance
    fi
  fi
}

t_start=$(now_ms)
case $mode in
all)
  run_units
  run_integration
  ;;
unit) run_units ;;
integration) run_integration ;;
conformance) run_conformance ;;
esac

passed=$(grep -c '^PASS ' "$RESULTS" || true)
failed=$(grep -c '^FAIL ' "$RESULTS" || true)
skipped=$(grep -c '^SKIP ' "$RESULTS" || true)
echo
if [ "$failed" -gt 0 ]; then
  echo "failed:"
  grep '^FAIL ' "$RESULTS" | sed 's/^/  /'
fi
echo "($(($(now_ms) - t_start)) ms)"
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
