#!/bin/bash
# autotrace doctor on real programs: /usr/bin/curl, /usr/bin/python3, a
# #! script, a static binary, Node.js when installed, and running processes
# with and without the shim. The verdicts for paths the shim may or may not
# have (OpenSSL, GnuTLS, sockets) are checked against the shim's exports as
# `nm -D` lists them, so the test holds before and after those paths land.
. "$(dirname "$0")/lib.sh"

# doctor ARGS...: run `autotrace doctor`, output in $T/doc.out (stderr in
# $T/doc.err), exit status in RC.
doctor() {
  set +e
  cli doctor "$@" >"$T/doc.out" 2>"$T/doc.err"
  RC=$?
  set -e
  no_sanitizer_report "$T/doc.err"
}

# jq_py EXPR: evaluate a Python expression over the JSON in $T/doc.out
# (bound to d) and print it.
jq_py() {
  "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/doc.out"
}

# The capture paths the shim exports hooks for, as doctor names them.
shim_paths() {
  local syms
  syms=$(nm -D --defined-only "$SHIM" | awk '{print $3}')
  grep -qx curl_easy_perform <<<"$syms" && echo libcurl
  grep -qx SSL_write <<<"$syms" && echo openssl
  grep -qx gnutls_record_send <<<"$syms" && echo gnutls
  true
}

has_path() {
  # grep reads everything (no -q): an early exit would SIGPIPE shim_paths,
  # and pipefail would turn a match into a failure.
  shim_paths | grep -x "$1" >/dev/null
}

case_curl_is_seen_through_libcurl() {
  [ -x /usr/bin/curl ] || skip "no /usr/bin/curl"
  doctor --json /usr/bin/curl
  [ "$RC" = 0 ] || fail "exit $RC: $(cat "$T/doc.err")"
  [ "$(jq_py 'd["paths"]["libcurl"]["verdict"]')" = will ] ||
    fail "libcurl: $(jq_py 'd["paths"]["libcurl"]')"
  jq_py 'd["paths"]["libcurl"]["reason"]' | grep -q 'libcurl.so.4' ||
    fail "the reason names no libcurl.so.4"
  # doctor's idea of the shim's hooks is what nm -D says
  [ "$(jq_py '"\n".join(d["shim"]["capture_paths"])' | grep -v '^sockets$')" = "$(shim_paths)" ] ||
    fail "shim paths $(jq_py 'd["shim"]["capture_paths"]') vs nm: $(shim_paths | tr '\n' ' ')"
  # the text report says the same
  doctor --color=never /usr/bin/curl
  grep -q '^  libcurl  will see' "$T/doc.out" || fail "$(cat "$T/doc.out")"
  grep -q 'autotrace can see this program' "$T/doc.out" || fail "no verdict line"
}

case_python_ssl_module() {
  [ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
  doctor --json /usr/bin/python3
  [ "$(jq_py 'd["program"]["runtime"]')" = python ] || fail "runtime $(jq_py 'd["program"]')"
  # the _ssl extension that Debian's Python loads for HTTPS, and its libssl
  local mod
  mod=$(/usr/bin/python3 -c 'import _ssl; print(_ssl.__file__)')
  [ "$(jq_py '[m["path"] for m in d["modules"] if "_ssl" in m["what"]][0]')" = "$mod" ] ||
    fail "modules: $(jq_py 'd["modules"]'), python says $mod"
  jq_py '[m for m in d["modules"] if "_ssl" in m["what"]][0]["brings"]' | grep -q openssl ||
    fail "the _ssl module brings no libssl"
  local v reason
  v=$(jq_py 'd["paths"]["openssl"]["verdict"]')
  reason=$(jq_py 'd["paths"]["openssl"]["reason"]')
  if has_path openssl; then
    [ "$v" = will ] || fail "openssl: $v ($reason)"
    [ "$RC" = 0 ] || fail "exit $RC"
  else
    [ "$v" = will-not ] || fail "openssl: $v ($reason)"
    grep -q 'no OpenSSL hooks' <<<"$reason" || fail "reason: $reason"
  fi
  [ "$(jq_py 'd["paths"]["libcurl"]["verdict"]')" = will-not ] || fail "python links no libcurl"
}

case_script_leads_to_its_interpreter() {
  [ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
  printf '#!/usr/bin/env python3\nprint("hi")\n' >"$T/agent.py"
  chmod +x "$T/agent.py"
  PATH=/usr/bin:/bin doctor --json "$T/agent.py"
  [ "$(jq_py 'd["target"]["scripts"][0]["path"]')" = "$T/agent.py" ] ||
    fail "scripts: $(jq_py 'd["target"]')"
  [ "$(jq_py 'd["target"]["scripts"][0]["shebang"]')" = "/usr/bin/env python3" ] ||
    fail "shebang: $(jq_py 'd["target"]["scripts"]')"
  [ "$(jq_py 'd["target"]["path"]')" = /usr/bin/python3 ] || fail "path: $(jq_py 'd["target"]')"
  [ "$(jq_py 'd["program"]["runtime"]')" = python ] || fail "runtime"
  # the same through PATH lookup of the script's name
  PATH="$T:/usr/bin:/bin" doctor --color=never agent.py
  grep -q "agent.py is a script" "$T/doc.out" || fail "$(cat "$T/doc.out")"
}

case_static_binary_is_not_seen() {
  printf 'int main(void) { return 0; }\n' >"$T/s.c"
  gcc -static -o "$T/static" "$T/s.c" 2>"$T/cc.err" ||
    skip "gcc -static failed (libc6-dev's libc.a missing?): $(head -n 3 "$T/cc.err")"
  doctor --json "$T/static"
  [ "$RC" = 1 ] || fail "exit $RC, expected 1"
  [ "$(jq_py 'd["program"]["linking"]')" = static ] || fail "linking"
  jq_py 'd["blockers"][0]["reason"]' | grep -q 'LD_PRELOAD is ignored' ||
    fail "blockers: $(jq_py 'd["blockers"]')"
  [ "$(jq_py 'd["paths"]["libcurl"]["verdict"]')" = will-not ] || fail "libcurl verdict"
  doctor --color=never "$T/static"
  [ "$RC" = 1 ] || fail "exit $RC"
  grep -q 'Nothing will be captured' "$T/doc.out" || fail "$(cat "$T/doc.out")"
  grep -q 'what to do:' "$T/doc.out" || fail "no advice"
}

# Node.js as installed: a build with its own OpenSSL (NodeSource, the
# official tarballs) or one that links the system libssl (Debian's).
case_node() {
  local node
  node=$(command -v node || true)
  [ -n "$node" ] || skip "no node installed"
  node=$(readlink -f "$node")
  doctor --json "$node"
  [ "$(jq_py 'd["program"]["runtime"]')" = node ] || fail "runtime: $(jq_py 'd["program"]')"
  local reason
  reason=$(jq_py 'd["paths"]["openssl"]["reason"]')
  nm -D --defined-only "$node" >"$T/node.syms" 2>/dev/null || true
  if grep -q ' SSL_write$' "$T/node.syms"; then
    grep -q 'carries its own OpenSSL' <<<"$reason" || fail "own OpenSSL not reported: $reason"
    [ "$(jq_py 'd["paths"]["openssl"]["verdict"]')" = will-not ] || fail "verdict"
    jq_py 'd["paths"]["openssl"]["advice"]' | grep -q "Debian's nodejs" || fail "advice"
  else
    jq_py '[l["name"] for l in d["libraries"]]' | grep -q 'libssl.so' ||
      fail "a Node.js without its own OpenSSL should need libssl: $reason"
  fi
}

# A program that links libcurl and waits, started with or without the shim.
sleeper() {
  cat >"$T/sleeper.c" <<'EOF'
#include <curl/curl.h>
#include <unistd.h>
int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (int i = 0; i < 300; i++) /* 30 s at most */
    usleep(100000);
  curl_global_cleanup();
  return 0;
}
EOF
  gcc -o "$T/sleeper" "$T/sleeper.c" -lcurl || fail "cannot build the sleeper"
}

# start_sleeper [VAR=VAL...]: start the sleeper under the shim in the
# background (no wrapper process: $! is the sleeper), pid in SLEEPER.
start_sleeper() {
  local envs
  mapfile -t envs < <(_asan_env "$T/sleeper")
  env LD_PRELOAD="$(at_preload)" "${envs[@]}" "$@" "$T/sleeper" &
  SLEEPER=$!
}

# wait_mapped PID FILE: until FILE's name shows in /proc/PID/maps (5 s).
wait_mapped() {
  local _
  for _ in $(seq 1 100); do
    grep -q "$2" "/proc/$1/maps" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "$2 never showed in /proc/$1/maps"
}

case_running_process_with_the_shim() {
  sleeper
  start_sleeper AUTOTRACE_SPOOL="$T/spool" AUTOTRACE_LOG=off
  local pid=$SLEEPER
  wait_mapped "$pid" libcurl
  doctor --json "$pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$RC" = 0 ] || fail "exit $RC: $(cat "$T/doc.err") $(cat "$T/doc.out")"
  [ "$(jq_py 'd["process"]["shim_loaded"]')" = True ] || fail "process: $(jq_py 'd["process"]')"
  [ "$(jq_py 'd["process"]["shim_mapped"]')" = "$(readlink -f "$SHIM")" ] ||
    fail "shim_mapped $(jq_py 'd["process"]["shim_mapped"]')"
  jq_py '"\n".join(d["process"]["autotrace_env"])' | grep -qx 'AUTOTRACE_LOG=off' ||
    fail "AUTOTRACE_* not read: $(jq_py 'd["process"]')"
  [ "$(jq_py 'd["paths"]["libcurl"]["verdict"]')" = will ] || fail "libcurl: $(jq_py 'd["paths"]')"
  jq_py 'd["paths"]["libcurl"]["reason"]' | grep -q 'loaded now' || fail "not seen as loaded"
}

case_running_process_without_the_shim() {
  sleeper
  env -u LD_PRELOAD "$T/sleeper" &
  local pid=$!
  wait_mapped "$pid" libcurl
  doctor --color=never "$pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$RC" = 1 ] || fail "exit $RC, expected 1: $(cat "$T/doc.out")"
  grep -q 'Not traced now' "$T/doc.out" || fail "$(cat "$T/doc.out")"
  grep -q '^  libcurl  will see' "$T/doc.out" || fail "a restart would see libcurl: $(cat "$T/doc.out")"
  # AUTOTRACE_DISABLE stops everything, shim or not
  start_sleeper AUTOTRACE_DISABLE=1
  pid=$SLEEPER
  wait_mapped "$pid" libautotrace
  doctor --json "$pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$RC" = 1 ] || fail "exit $RC with AUTOTRACE_DISABLE=1"
  jq_py 'd["blockers"][0]["reason"]' | grep -q AUTOTRACE_DISABLE || fail "$(jq_py 'd["blockers"]')"
}

case_usage_errors() {
  doctor
  [ "$RC" = 2 ] || fail "no operand: exit $RC"
  doctor no-such-program-here-xyz
  [ "$RC" = 2 ] || fail "unknown command: exit $RC"
  grep -q 'not found' "$T/doc.err" || fail "$(cat "$T/doc.err")"
  printf 'just text\n' >"$T/text"
  chmod +x "$T/text"
  doctor "$T/text"
  [ "$RC" = 2 ] || fail "a text file: exit $RC"
  grep -q 'not an ELF file' "$T/doc.err" || fail "$(cat "$T/doc.err")"
  doctor --help
  [ "$RC" = 0 ] || fail "--help: exit $RC"
  grep -q 'Exit status' "$T/doc.out" || fail "help text"
  doctor 2147483
  [ "$RC" = 2 ] || fail "no such process: exit $RC"
}

run_cases case_curl_is_seen_through_libcurl case_python_ssl_module \
  case_script_leads_to_its_interpreter case_static_binary_is_not_seen \
  case_node case_running_process_with_the_shim \
  case_running_process_without_the_shim case_usage_errors
