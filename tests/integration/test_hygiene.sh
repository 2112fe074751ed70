#!/bin/bash
# The shim's manners: it exports only its hooks, loads nothing into a
# program that does not talk to an LLM, and leaves such programs alone.
. "$(dirname "$0")/lib.sh"

case_exports_only_hooks() {
  local syms bad
  syms=$(nm -D --defined-only "$SHIM" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  echo "$syms"
  [ -n "$syms" ] || fail "nm found no exported symbol in $SHIM"
  # The hooks — exactly preload/exports.map: libcurl's (curl_*), libssl's
  # and GnuTLS's, the libc calls of the socket capture and dlopen
  # (docs/capture-tls.md), and context propagation (preload/context.h,
  # preload/thread_origin.h).
  bad=$(echo "$syms" |
    grep -v -E '^(curl_|autotrace_|SSL_|gnutls_|pthread_create$|execv?p?e?$|execl[pe]?$|fexecve$|posix_spawnp?$|system$)' |
    grep -v -x -E 'dlopen|connect|close|read|__read_chk|readv|write|writev|send|sendto|sendmsg|recv|__recv_chk|recvfrom|__recvfrom_chk|recvmsg' || true)
  [ -z "$bad" ] || fail "the shim exports more than its hooks: $bad"
  local want
  for want in SSL_write SSL_write_ex SSL_read SSL_read_ex SSL_peek SSL_peek_ex \
    SSL_shutdown SSL_free gnutls_record_send gnutls_record_recv gnutls_bye \
    gnutls_deinit connect close read write send recv sendmsg recvmsg; do
    echo "$syms" | grep -q -x "$want" || fail "$want is not hooked"
  done
  echo "$syms" | grep -q '^curl_easy_perform$' || fail "curl_easy_perform is not hooked"
  echo "$syms" | grep -q '^curl_multi_perform$' || fail "curl_multi_perform is not hooked"
  # The core exports its table only.
  syms=$(nm -D --defined-only "$B/libautotrace-core.so" | awk '{print $NF}' | sed 's/@.*//' | sort -u)
  bad=$(echo "$syms" | grep -v -E '^autotrace_' || true)
  [ -z "$bad" ] || fail "the core exports more than its table: $bad"
}

case_shim_links_libc_only() {
  local deps bad
  deps=$(readelf -d "$SHIM" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  echo "$deps"
  # libasan/libubsan come with the sanitizer build.
  bad=$(echo "$deps" | grep -v -E '^(libc|libdl|libpthread|ld-linux[^ ]*|libasan|libubsan)\.so' || true)
  [ -z "$bad" ] || fail "the shim needs more than libc: $bad"
}

case_loads_nothing_into_other_programs() {
  local S=$T/spool maps
  maps=$(traced AUTOTRACE_SPOOL="$S" cat /proc/self/maps)
  echo "$maps" | grep -q 'libautotrace\.so' || fail "the shim was not loaded at all"
  if echo "$maps" | grep -E 'libcurl|libssl|libcrypto|libcjson|liblmdb|libautotrace-core|libnghttp'; then
    fail "the shim brought libraries into cat"
  fi
  # A process whose maps show libcurl is one that loaded it itself.
  [ ! -e "$S" ] || fail "a program with no LLM call created the spool"
}

case_leaves_simple_programs_alone() {
  local S=$T/spool out
  traced AUTOTRACE_SPOOL="$S" /bin/true || fail "/bin/true under the shim failed"
  set +e
  traced AUTOTRACE_SPOOL="$S" /bin/false
  [ $? = 1 ] || fail "/bin/false under the shim did not exit 1"
  set -e
  out=$(traced AUTOTRACE_SPOOL="$S" sh -c 'echo hello; echo err >&2' 2>&1)
  [ "$out" = "$(printf 'hello\nerr')" ] || fail "sh output changed: $out"
  out=$(printf 'b\na\n' | traced AUTOTRACE_SPOOL="$S" sort | tr '\n' ' ')
  [ "$out" = "a b " ] || fail "sort output changed: $out"
  # A shell pipeline of many short processes.
  out=$(traced AUTOTRACE_SPOOL="$S" sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo $i; done | wc -l')
  [ "$out" = 10 ] || fail "pipeline output: $out"
  # Even with every knob set, nothing happens without an LLM call.
  traced AUTOTRACE_SPOOL="$S" AUTOTRACE_LOG=debug AUTOTRACE_HOSTS='x=openai' \
    AUTOTRACE_MAX_BODY=10 /bin/true 2>"$T/err" || fail "/bin/true with knobs failed"
  [ ! -e "$S" ] || fail "the spool was created"
}

case_core_loaded_only_for_llm_calls() {
  # A libcurl program fetching a non-LLM URL never loads the core (nor
  # cJSON, nor LMDB); the same program making an LLM call does.
  start_mock
  local S=$T/spool
  compare_run get "$S" "$CLIENT" --maps-to "$T/get.maps" "$MOCK_URL/health"
  grep -q 'libautotrace\.so' "$T/get.maps" || fail "the shim was not loaded"
  grep -q 'libcurl' "$T/get.maps" || fail "no libcurl in llm_client?"
  if grep -E 'libautotrace-core|libcjson|liblmdb' "$T/get.maps"; then
    fail "the core was loaded for a non-LLM request"
  fi
  [ ! -e "$S" ] || fail "the spool was created"
  run_traced llm "$S" "$CLIENT" --maps-to "$T/llm.maps" \
    --maps-wait-for libautotrace-core \
    -H "Authorization: Bearer $KEY" \
    --body-string '{"model":"m","messages":[{"role":"user","content":"hi"}]}' \
    "$MOCK_URL/v1/chat/completions"
  [ "$RC" = 0 ] || fail "llm_client failed"
  grep -q 'libautotrace-core' "$T/llm.maps" ||
    fail "the core was not loaded after an LLM call (is the check blind?)"
}

run_cases case_exports_only_hooks case_shim_links_libc_only \
  case_loads_nothing_into_other_programs case_leaves_simple_programs_alone \
  case_core_loaded_only_for_llm_calls
