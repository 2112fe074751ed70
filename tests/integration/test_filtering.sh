#!/bin/bash
# What is captured and what is left alone: non-LLM requests, the
# AUTOTRACE_HOSTS table, AUTOTRACE_DISABLE, AUTOTRACE_CAPTURE=metadata, and a
# spool that cannot be written.
. "$(dirname "$0")/lib.sh"

CHAT='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"filter me"}]}'

# chat URL: ARGS = a command POSTing $CHAT to URL (see post_cmd).
chat() {
  printf '%s' "$CHAT" >"$T/chat.json"
  post_cmd "$1" "$T/chat.json" "${@:2}"
}

case_non_llm_requests_are_ignored() {
  start_mock --tls
  local S=$T/spool
  if curl_usable; then
    compare_run health "$S" curl -sS --cacert "$CERT" "$MOCK_URL/health"
    grep -q '"ok":true' "$T/health.traced.out" || fail "GET /health failed"
  fi
  compare_run health2 "$S" "$CLIENT" --api multi --cacert "$CERT" "$MOCK_URL/health"
  grep -q '"ok":true' "$T/health2.traced.out" || fail "GET /health failed"
  chat "$MOCK_URL/other"
  compare_run other "$S" "${ARGS[@]}"
  grep -q 'received_bytes' "$T/other.traced.out" || fail "POST /other failed"
  compare_run client "$S" "$CLIENT" --api multi --cacert "$CERT" \
    --body-string "$CHAT" "$MOCK_URL/other"
  # Lazy start: a process that made no LLM call leaves no trace on disk.
  [ ! -e "$S" ] || fail "the spool $S was created by processes with no LLM call"
  # A process making both kinds: only the LLM call is recorded.
  if curl_usable; then
    compare_run both "$S" curl -sS --cacert "$CERT" -H "Authorization: Bearer $KEY" \
      -d "$CHAT" "$MOCK_URL/other" "$MOCK_URL/v1/chat/completions" \
      "$MOCK_URL/other"
  else
    chat "$MOCK_URL/v1/chat/completions"
    compare_run both "$S" "${ARGS[@]}"
  fi
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq "http.url=$MOCK_URL/v1/chat/completions"
  check "$T/recs.jsonl" --where-contains http.url=/other --count 0
}

# One handle, its URL set again before every transfer (as most clients
# do): LLM, LLM, other, other, LLM, LLM, other, other. Setting the same URL
# again reuses the verdict (hooks/curl_easy_setopt.c, set_url): exactly
# the LLM transfers must be recorded, the others never.
case_one_handle_switching_urls() {
  start_mock --tls
  local S=$T/spool
  compare_run switch "$S" "$CLIENT" --cacert "$CERT" --body-string "$CHAT" \
    -H "Authorization: Bearer $KEY" --repeat 8 --alt-url "$MOCK_URL/other" \
    "$MOCK_URL/v1/chat/completions"
  [ "$(grep -o 'mock answer' "$T/switch.traced.out" | wc -l)" = 4 ] ||
    fail "expected four chat answers"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 4 \
    --eq "http.url=$MOCK_URL/v1/chat/completions"
  check "$T/recs.jsonl" --where-contains http.url=/other --count 0
}

case_hosts_exclude() {
  start_mock --tls
  local S=$T/spool
  chat "$MOCK_URL/v1/chat/completions"
  compare_run ex "$S" AUTOTRACE_HOSTS=-127.0.0.1 "${ARGS[@]}"
  grep -q 'mock answer' "$T/ex.traced.out" || fail "request failed"
  [ ! -e "$S" ] || fail "AUTOTRACE_HOSTS=-127.0.0.1 still captured"
  compare_run ex2 "$S" "AUTOTRACE_HOSTS=-127.0.0.1:$MOCK_PORT" \
    "$CLIENT" --cacert "$CERT" -H "Authorization: Bearer $KEY" \
    --body-string "$CHAT" "$MOCK_URL/v1/chat/completions"
  [ ! -e "$S" ] || fail "AUTOTRACE_HOSTS=-127.0.0.1:PORT still captured"
}

case_hosts_custom_path() {
  # A local server that is really OpenAI (say, a gateway) on a custom path.
  start_mock --tls
  local S=$T/spool
  chat "$MOCK_URL/api/chat/completions"
  compare_run custom "$S" "AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=openai" "${ARGS[@]}"
  grep -q 'mock answer' "$T/custom.traced.out" || fail "request failed"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq provider=openai --eq operation=chat --echo \
    --eq "http.url=$MOCK_URL/api/chat/completions"
  # The same request to a port the mapping does not name stays generic.
  local S2=$T/spool2
  chat "$MOCK_URL/v1/chat/completions"
  compare_run other "$S2" "AUTOTRACE_HOSTS=127.0.0.1:1=openai" "${ARGS[@]}"
  export_jsonl "$S2" "$T/recs2.jsonl"
  check "$T/recs2.jsonl" --where type=generation --count 1 \
    --eq provider=openai_compatible
}

case_disable() {
  start_mock --tls
  local S=$T/spool
  chat "$MOCK_URL/v1/chat/completions"
  compare_run off "$S" AUTOTRACE_DISABLE=1 "${ARGS[@]}"
  compare_run off2 "$S" AUTOTRACE_DISABLE=1 "$CLIENT" --api multi-socket \
    --cacert "$CERT" -H "Authorization: Bearer $KEY" --body-string "$CHAT" \
    "$MOCK_URL/v1/chat/completions"
  grep -q 'mock answer' "$T/off2.traced.out" || fail "request failed"
  [ ! -e "$S" ] || fail "AUTOTRACE_DISABLE=1 still captured"
}

case_capture_metadata_only() {
  start_mock --tls
  local S=$T/spool
  chat "$MOCK_URL/v1/chat/completions"
  compare_run meta "$S" AUTOTRACE_CAPTURE=metadata "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --absent input --absent output --eq request_model=gpt-4o-mini \
    --eq usage.input_tokens=2 --eq http.status=200
  ! grep -q 'filter me' "$T/recs.jsonl" || fail "the prompt was recorded"
  ! grep -r -a -q 'filter me' "$S" || fail "the prompt reached the spool"
}

case_unwritable_spool() {
  start_mock --tls
  local spool n=0
  : >"$T/a-file"
  mkdir -p "$T/ro"
  chmod 0500 "$T/ro"
  for spool in /proc/nonexistent/spool "$T/a-file" "$T/a-file/sub" "$T/ro/spool"; do
    if [ "$spool" = "$T/ro/spool" ] && [ "$(id -u)" = 0 ]; then
      echo "(root writes into a 0500 folder: $spool not tested)"
      continue
    fi
    n=$((n + 1))
    # The shim may say on stderr that capture is off; nothing else changes.
    chat "$MOCK_URL/v1/chat/completions"
    COMPARE_STDERR=lenient compare_run "curl$n" "$spool" "${ARGS[@]}"
    grep -q 'mock answer' "$T/curl$n.traced.out" || fail "request failed"
    COMPARE_STDERR=lenient compare_run "client$n" "$spool" "$CLIENT" --repeat 2 --api multi \
      --cacert "$CERT" -H "Authorization: Bearer $KEY" --body-string "$CHAT" \
      "$MOCK_URL/v1/chat/completions"
    [ "$RC" = 0 ] || fail "llm_client failed with spool $spool"
  done
  [ -f "$T/a-file" ] && [ ! -s "$T/a-file" ] || fail "the file was changed"
  # A process that exits with a status keeps it.
  chat "$MOCK_URL/v1/chat/completions"
  COMPARE_STDERR=lenient compare_run st "/proc/nonexistent/spool" sh -c \
    '"$@"; exit 7' sh "${ARGS[@]}"
  [ "$RC" = 7 ] || fail "exit status $RC, expected 7"
}

case_default_spool_location() {
  # With no AUTOTRACE_SPOOL the spool is under $XDG_STATE_HOME/autotrace.
  start_mock --tls
  mkdir -p "$T/state"
  chat "$MOCK_URL/v1/chat/completions"
  set +e
  traced "XDG_STATE_HOME=$T/state" "${ARGS[@]}" >"$T/out" 2>"$T/err"
  local rc=$?
  set -e
  [ $rc = 0 ] || fail "curl failed: $(cat "$T/err")"
  no_sanitizer_report "$T/err"
  [ -d "$T/state/autotrace" ] || fail "no spool under \$XDG_STATE_HOME/autotrace"
  export_jsonl "$T/state/autotrace" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1
}

run_cases case_non_llm_requests_are_ignored case_one_handle_switching_urls \
  case_hosts_exclude \
  case_hosts_custom_path case_disable case_capture_metadata_only \
  case_unwritable_spool case_default_spool_location
