#!/bin/bash
# HTTP/2 on the OpenSSL capture path: httpx with http2=True (python3-h2
# underneath) against an HTTP/2 TLS mock (tests/tools/h2_mock.py, ALPN h2).
# Plain and streamed chat completions, concurrent streams on one
# connection, a gzip-encoded stream, asyncio's memory-BIO sessions: each
# exchange exported exactly once with the fields HTTP/1.1 gives, and the
# client's output byte-identical with and without the shim; the same over
# cleartext h2c with prior knowledge on a watched socket. An h2
# connection to a host not known as an LLM host is not tracked at all.
. "$(dirname "$0")/lib.sh"

PYC=$ROOT/tests/tools/py_llm_client.py
H2MOCK=$ROOT/tests/tools/h2_mock.py

# start_h2_mock [--plain]: the HTTP/2 mock on 127.0.0.1 (TLS, or h2c with
# --plain); sets MOCK_PORT, MOCK_LOG.
start_h2_mock() {
  local i=$CASE-${#MOCK_PIDS[@]} pf _ mode
  pf=$T/h2mock-$i.port
  MOCK_LOG=$T/h2mock-$i.log
  certs
  mode=(--tls "$CERT" "$CERT_KEY")
  [ "${1:-}" = --plain ] && mode=(--plain)
  env -u LD_PRELOAD "$PY" "$H2MOCK" --host 127.0.0.1 --port 0 --port-file "$pf" \
    "${mode[@]}" --api-key "$KEY" --exit-with-parent \
    --max-seconds 900 --log "$MOCK_LOG" >"$T/h2mock-$i.out" 2>&1 &
  MOCK_PIDS+=($!)
  for _ in $(seq 1 200); do
    [ -s "$pf" ] && break
    kill -0 "${MOCK_PIDS[-1]}" 2>/dev/null || {
      cat "$T/h2mock-$i.out" >&2
      fail "the HTTP/2 mock died at start"
    }
    sleep 0.05
  done
  [ -s "$pf" ] || fail "the HTTP/2 mock did not start within 10 s"
  MOCK_PORT=$(cat "$pf")
  echo "HTTP/2 mock on 127.0.0.1:$MOCK_PORT (log $MOCK_LOG)"
}

# h2client NAME LIB URL [ARGS...]: compare_run of the client, spooling to
# $T/spool, with the mock's address configured as an OpenAI host.
h2client() {
  local name=$1 lib=$2 url=$3
  shift 3
  compare_run "$name" "$T/spool" "${HOSTS:-AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=openai}" \
    "$PY" "$PYC" --lib "$lib" --cacert "$CERT" --key "$KEY" "$@" "$url"
  [ "$RC" = 0 ] || fail "$name: the client failed: $(cat "$T/$name.traced.err")"
  # Every answer came over HTTP/2, in both runs.
  [ "$(grep -c '^HTTP/2 ' "$T/$name.traced.out")" -ge 1 ] &&
    ! grep -v -q -e '^HTTP/2 ' -e '^data: ' -e '^$' "$T/$name.traced.out" ||
    fail "$name: an answer did not come over HTTP/2"
}

# expect_generations FILE TAG N STREAM: N generations, one per call "TAG
# number I", with the mock's answer and usage, captured by OpenSSL.
expect_generations() {
  local f=$1 tag=$2 n=$3 stream=$4 i
  check "$f" --where type=generation --where-contains "input.0.parts.0.content=$tag number" \
    --count "$n" --eq metadata.capture=openssl --eq provider=openai \
    --eq request_model=gpt-4o-mini --eq http.status=200 --parent-type span \
    --eq http.method=POST --contains http.url=/v1/chat/completions \
    --absent metadata.transport_error --eq level=DEFAULT \
    --order start_ns,end_ns --distinct id
  for i in $(seq 0 $((n - 1))); do
    check "$f" --where type=generation \
      --where "input.0.parts.0.content=$tag number $i" --count 1 \
      --eq "output.0.parts.0.content=This is a mock answer to: $tag number $i" \
      --eq usage.input_tokens=3 --eq usage.output_tokens=9 \
      --eq 'finish_reasons=["stop"]'
  done
  if [ "$stream" = stream ]; then
    check "$f" --where type=generation --where-contains "input.0.parts.0.content=$tag number" \
      --count "$n" --eq metadata.stream=true --present completion_start_ns \
      --order start_ns,completion_start_ns,end_ns
  else
    check "$f" --where type=generation --where-contains "input.0.parts.0.content=$tag number" \
      --count "$n" --eq metadata.stream=false
  fi
}

counters() {
  cli stats --spool "$T/spool" --json >"$T/stats.json"
  "$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["counters"]; print(json.dumps(c, sort_keys=True))' "$T/stats.json"
}

case_plain_and_streamed() {
  start_h2_mock
  h2client plain httpx2 "https://127.0.0.1:$MOCK_PORT" --n 2 --tag h2plain
  h2client stream httpx2 "https://127.0.0.1:$MOCK_PORT" --n 2 --stream --tag h2stream
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" h2plain 2 plain
  expect_generations "$T/recs.jsonl" h2stream 2 stream
  check "$T/recs.jsonl" --where type=generation --count 4
  # 8 requests (4 per run), each on stream 1 and 3 of its run's one connection.
  [ "$(grep -c 'POST /v1/chat/completions' "$MOCK_LOG")" = 8 ] ||
    fail "the mock did not see 8 requests"
  no_secret "$T/spool"
  local c
  c=$(counters)
  echo "$c"
  case $c in *h2_* | *conn_gap*) fail "HTTP/2 losses counted: $c" ;; esac
}

case_concurrent_gzip_streams() {
  # Call 0 opens the connection; calls 1 and 2 then run at once from two
  # threads: two streams interleaved frame by frame on that connection,
  # each gzip-encoded, flushed per event.
  start_h2_mock
  h2client conc httpx2 "https://127.0.0.1:$MOCK_PORT" --n 3 --concurrent --stream \
    -H 'x-mock-encoding: gzip' --tag h2gz
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" h2gz 3 stream
  check "$T/recs.jsonl" --where type=generation --count 3 \
    --eq http.response_headers.content-encoding=gzip
  # Both runs: one connection each, streams 1, 3, 5.
  [ "$(grep -c 'stream [135]$' "$MOCK_LOG")" = 6 ] &&
    [ "$(cut -d' ' -f2 "$MOCK_LOG" | sort -u | wc -l)" = 2 ] ||
    fail "the calls did not share one connection per run: $(cat "$MOCK_LOG")"
  # The two concurrent answers overlapped in time.
  "$PY" - "$T/recs.jsonl" <<'PYEOF' || fail "the concurrent streams did not overlap"
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
g = sorted((r for r in g if r["type"] == "generation" and
            not r["input"][0]["parts"][0]["content"].endswith(" 0")),
           key=lambda r: int(r["start_ns"]))
assert len(g) == 2
sys.exit(0 if int(g[1]["start_ns"]) < int(g[0]["end_ns"]) else 1)
PYEOF
}

case_async_memory_bio() {
  # httpx.AsyncClient: asyncio's TLS over memory BIOs, no socket behind the
  # session; the server name (localhost) is what names the host.
  start_h2_mock
  HOSTS=AUTOTRACE_HOSTS=localhost=openai h2client async httpx2-async \
    "https://localhost:$MOCK_PORT" --n 3 --concurrent --stream --tag h2async
  HOSTS=AUTOTRACE_HOSTS=localhost=openai h2client asyncplain httpx2-async \
    "https://localhost:$MOCK_PORT" --n 2 --tag h2asyncplain
  export_jsonl "$T/spool" "$T/recs.jsonl"
  expect_generations "$T/recs.jsonl" h2async 3 stream
  expect_generations "$T/recs.jsonl" h2asyncplain 2 plain
}

case_other_host_untouched() {
  # No AUTOTRACE_HOSTS: 127.0.0.1 is not an LLM host, and an h2 connection
  # cannot be sniffed (its paths are in HPACK): never tracked, the core
  # never loaded, no spool.
  start_h2_mock
  HOSTS=AUTOTRACE_HOSTS= h2client other httpx2 "https://127.0.0.1:$MOCK_PORT" \
    --n 2 --stream --tag h2other
  [ ! -e "$T/spool" ] || fail "a spool was created for an h2 connection to another host"
}

case_h2c_prior_knowledge_socket() {
  # Cleartext HTTP/2 with prior knowledge on a watched port: the socket
  # hooks see the preface, and the connection is decoded as on TLS.
  start_h2_mock --plain
  compare_run h2c "$T/spool" "AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=openai" \
    "$PY" "$PYC" --lib httpx2 --prior-knowledge --key "$KEY" --n 3 --concurrent \
    --stream --tag h2c "http://127.0.0.1:$MOCK_PORT"
  [ "$RC" = 0 ] || fail "h2c: the client failed: $(cat "$T/h2c.traced.err")"
  grep -q '^HTTP/2 ' "$T/h2c.traced.out" || fail "h2c: not HTTP/2"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 3 --eq metadata.capture=socket \
    --eq provider=openai --contains http.url=http://127.0.0.1: --present completion_start_ns
  local i
  for i in 0 1 2; do
    check "$T/recs.jsonl" --where type=generation --where "input.0.parts.0.content=h2c number $i" \
      --count 1 --eq "output.0.parts.0.content=This is a mock answer to: h2c number $i" \
      --eq usage.output_tokens=9
  done
}

# The curl CLI with --http2 against the same mock: libcurl (on libnghttp2)
# speaks HTTP/2, the libcurl hooks see the decoded exchange, and the
# OpenSSL hooks must not capture the same bytes a second time.
case_curl_cli_http2() {
  need_curl
  start_h2_mock
  printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"curl h2 number 0"}],"stream":true}' >"$T/body.json"
  compare_run curlh2 "$T/spool" "AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=openai" \
    curl -sS --http2 --cacert "$CERT" -H "Authorization: Bearer $KEY" \
    -H "Content-Type: application/json" --data-binary @"$T/body.json" \
    -w '\nproto=%{http_version}\n' "https://127.0.0.1:$MOCK_PORT/v1/chat/completions"
  [ "$RC" = 0 ] || fail "curl failed: $(cat "$T/curlh2.traced.err")"
  grep -q '^proto=2$' "$T/curlh2.traced.out" || fail "curl did not use HTTP/2"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq metadata.capture=curl --eq metadata.stream=true \
    --eq "input.0.parts.0.content=curl h2 number 0"
  no_secret "$T/spool"
}

run_cases case_plain_and_streamed case_concurrent_gzip_streams case_curl_cli_http2 \
  case_async_memory_bio case_other_host_untouched case_h2c_prior_knowledge_socket
