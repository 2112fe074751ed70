#!/bin/bash
# The OpenSSL capture path with real Python clients: urllib, requests,
# httpx (HTTP/1.1) and aiohttp (asyncio, memory BIOs), against the mock in
# its HTTPS mode. Each exchange is exported exactly once, with the fields
# the curl path gives, and the client's output is byte-identical with and
# without the shim. libcurl on the same OpenSSL is captured once, by the
# curl path.
. "$(dirname "$0")/lib.sh"

PYC=$ROOT/tests/tools/py_llm_client.py

# pyclient NAME LIB [ARGS...]: compare_run of the Python client against the
# mock, spooling to $T/spool.
pyclient() {
  local name=$1 lib=$2
  shift 2
  compare_run "$name" "$T/spool" "$PY" "$PYC" --lib "$lib" --cacert "$CERT" \
    --key "$KEY" "$@" "$MOCK_URL"
  [ "$RC" = 0 ] || fail "$name: the client failed: $(cat "$T/$name.traced.err")"
}

# expect_generations FILE TAG N STREAM: N generations, each of "TAG number
# I" (I = 0..N-1), captured by OpenSSL with the mock's answer and usage.
expect_generations() {
  local f=$1 tag=$2 n=$3 stream=$4 i
  check "$f" --where type=generation --where-contains "input.0.parts.0.content=$tag number" \
    --count "$n" --eq metadata.capture=openssl --eq provider=openai_compatible \
    --eq request_model=gpt-4o-mini --eq http.status=200 --parent-type span \
    --order start_ns,completion_start_ns,end_ns --distinct id
  for i in $(seq 0 $((n - 1))); do
    check "$f" --where type=generation \
      --where "input.0.parts.0.content=$tag number $i" --count 1 \
      --eq "output.0.parts.0.content=This is a mock answer to: $tag number $i" \
      --eq usage.input_tokens=3 --eq usage.output_tokens=9 \
      --eq 'finish_reasons=["stop"]'
    if [ "$stream" = stream ]; then
      check "$f" --where type=generation \
        --where "input.0.parts.0.content=$tag number $i" --eq metadata.stream=true
    fi
  done
}

case_urllib() {
  start_mock --tls
  pyclient plain urllib --n 2 --tag plain
  pyclient stream urllib --n 2 --stream --tag streamed
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" plain 2 plain
  expect_generations "$T/recs.jsonl" streamed 2 stream
  check "$T/recs.jsonl" --where type=generation --count 4
  no_secret "$T/spool"
}

case_requests_keepalive() {
  # One requests.Session: every exchange on one kept-alive connection.
  start_mock --tls
  pyclient ka requests --n 5 --stream --tag kept
  pyclient plain requests --n 2 --tag plainreq
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" kept 5 stream
  expect_generations "$T/recs.jsonl" plainreq 2 plain
  check "$T/recs.jsonl" --where type=generation --count 7
  [ "$(grep -c 'POST /v1/chat/completions' "$MOCK_LOG")" = 14 ] ||
    fail "the mock did not see 14 requests (7 per run)"
}

case_httpx() {
  start_mock --tls
  pyclient plain httpx --n 2 --tag hx
  pyclient stream httpx --n 3 --stream --tag hxs
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" hx 2 plain
  expect_generations "$T/recs.jsonl" hxs 3 stream
}

case_aiohttp_memory_bio() {
  # asyncio's SSL transport drives the session over memory BIOs: no socket
  # behind the SSL object, the plaintext is still what we see.
  start_mock --tls
  pyclient plain aiohttp --n 2 --tag aio
  pyclient stream aiohttp --n 2 --stream --tag aios
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" aio 2 plain
  expect_generations "$T/recs.jsonl" aios 2 stream
}

case_non_llm_untouched() {
  # Not an LLM endpoint: nothing captured, the core never loaded.
  start_mock --tls
  cat >"$T/get.py" <<'PYEOF'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(3):
    with urllib.request.urlopen(sys.argv[1] + "/health", context=ctx) as r:
        sys.stdout.write(r.read().decode() + "\n")
with open("/proc/self/maps") as m:
    core = "libautotrace-core" in m.read()
sys.stdout.write("core loaded: %s\n" % core)
PYEOF
  compare_run health "$T/spool" "$PY" "$T/get.py" "$MOCK_URL" "$CERT"
  grep -q 'core loaded: False' "$T/health.traced.out" || fail "the core was loaded"
  [ ! -e "$T/spool" ] || fail "a spool was created for non-LLM requests"
}

case_curl_captured_once() {
  # libcurl (on OpenSSL) under the curl hooks: the same bytes pass our
  # SSL_write/SSL_read hooks, which must stay out.
  start_mock --tls
  compare_run curl "$T/spool" "$CLIENT" --cacert "$CERT" \
    -H "Authorization: Bearer $KEY" \
    --body-string '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"once only"}]}' \
    "$MOCK_URL/v1/chat/completions"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --eq metadata.capture=curl
}

run_cases case_urllib case_requests_keepalive case_httpx \
  case_aiohttp_memory_bio case_non_llm_untouched case_curl_captured_once
