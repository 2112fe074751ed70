#!/bin/bash
# What the TLS path must get right about HTTP/1.1 bodies: responses
# compressed with gzip, deflate, br and zstd (streams flushed per event,
# decoded incrementally), chunked in odd sizes and one byte at a time,
# several exchanges (and non-LLM ones between them) on one kept-alive
# connection, and an exchange cut off mid-way, which is recorded as
# partial with the reason. Real Python clients against the mock's HTTPS
# mode; output byte-identical with and without the shim.
. "$(dirname "$0")/lib.sh"

PYC=$ROOT/tests/tools/py_llm_client.py

pyclient() {
  local name=$1 lib=$2
  shift 2
  compare_run "$name" "$T/spool" "$PY" "$PYC" --lib "$lib" --cacert "$CERT" \
    --key "$KEY" "$@" "$MOCK_URL"
  [ "$RC" = 0 ] || fail "$name: the client failed: $(cat "$T/$name.traced.err")"
}

# answered FILE TAG N [CHECKS...]: N generations for "TAG number I", each
# with the mock's exact answer and usage.
answered() {
  local f=$1 tag=$2 n=$3 i
  shift 3
  check "$f" --where type=generation --where-contains "input.0.parts.0.content=$tag number" \
    --count "$n" --eq metadata.capture=openssl --eq usage.output_tokens=9 \
    --order start_ns,completion_start_ns,end_ns "$@"
  for i in $(seq 0 $((n - 1))); do
    check "$f" --where type=generation --where "input.0.parts.0.content=$tag number $i" \
      --count 1 --eq "output.0.parts.0.content=This is a mock answer to: $tag number $i"
  done
}

case_content_encodings() {
  start_mock --tls
  local c
  for c in gzip deflate br zstd; do
    pyclient "$c-stream" urllib --stream --n 2 -H "x-mock-encoding: $c" --tag "s$c"
    pyclient "$c-plain" requests --n 2 -H "x-mock-encoding: $c" --tag "p$c"
  done
  export_jsonl "$T/spool" "$T/recs.jsonl"
  for c in gzip deflate br zstd; do
    answered "$T/recs.jsonl" "s$c" 2 --eq metadata.stream=true \
      --eq "http.response_headers.content-encoding=$c"
    answered "$T/recs.jsonl" "p$c" 2 --eq "http.response_headers.content-encoding=$c"
  done
  check "$T/recs.jsonl" --where type=generation --count 16 --absent metadata.transport_error
}

case_odd_chunks_and_single_bytes() {
  # Chunks of 7 and of 1 byte (a chunk per byte: the SSE events, the
  # chunk-size lines and a gzip stream all cut everywhere).
  start_mock --tls
  pyclient c7 requests --stream --n 2 -H 'x-mock-chunk-bytes: 7' --tag seven
  pyclient c1 httpx --stream --n 2 -H 'x-mock-chunk-bytes: 1' --tag single
  pyclient c1gz urllib --stream --n 1 -H 'x-mock-chunk-bytes: 1' \
    -H 'x-mock-encoding: gzip' --tag gzbytes
  pyclient c3br requests --n 1 -H 'x-mock-chunk-bytes: 3' \
    -H 'x-mock-encoding: br' --tag brplain
  export_jsonl "$T/spool" "$T/recs.jsonl"
  answered "$T/recs.jsonl" seven 2 --eq metadata.stream=true
  answered "$T/recs.jsonl" single 2 --eq metadata.stream=true
  answered "$T/recs.jsonl" gzbytes 1 --eq metadata.stream=true
  answered "$T/recs.jsonl" brplain 1
}

case_keepalive_mixed() {
  # One kept-alive connection: LLM calls, streamed and not, with other
  # requests (GET /v1/models, POST /other, GET /health) between them. Only
  # the LLM calls are recorded, each once.
  start_mock --tls
  cat >"$T/mixed.py" <<'PYEOF'
import json, sys, requests
base, cert, key = sys.argv[1:4]
h = {"Authorization": "Bearer " + key}
with requests.Session() as s:
    for i in range(4):
        s.get(base + "/v1/models", headers=h, verify=cert).content
        body = {"model": "gpt-4o-mini", "stream": i % 2 == 1,
                "messages": [{"role": "user", "content": "mixed number %d" % i}]}
        if body["stream"]:
            body["stream_options"] = {"include_usage": True}
        r = s.post(base + "/v1/chat/completions", json=body, headers=h, verify=cert)
        sys.stdout.buffer.write(r.content + b"\n")
        r = s.post(base + "/other", data=b"y" * (3000 + i), verify=cert)
        sys.stdout.buffer.write(r.content + b"\n")
        s.get(base + "/health", verify=cert).content
PYEOF
  compare_run mixed "$T/spool" "$PY" "$T/mixed.py" "$MOCK_URL" "$CERT" "$KEY"
  [ "$RC" = 0 ] || fail "the client failed"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  answered "$T/recs.jsonl" mixed 4
  check "$T/recs.jsonl" --where type=generation --count 4
  # Tracking starts at the first chat request; the 11 other requests after
  # it were framed and passed over by the wire layer, and counted.
  cli stats --spool "$T/spool" --json >"$T/stats.json"
  "$PY" - "$T/stats.json" <<'PYEOF' || fail "skipped.not_llm is not 11"
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
print(c)
sys.exit(0 if c.get("skipped.not_llm") == 11 else 1)
PYEOF
}

case_cut_off_is_partial() {
  # The server drops the connection 300 bytes into a streamed answer: the
  # client sees the failure either way, and the record says what happened.
  start_mock --tls
  cat >"$T/cut.py" <<'PYEOF'
import json, sys, requests
base, cert, key = sys.argv[1:4]
body = {"model": "gpt-4o-mini", "stream": True,
        "messages": [{"role": "user", "content": "cut me off"}]}
try:
    r = requests.post(base + "/v1/chat/completions", json=body, verify=cert,
                      headers={"Authorization": "Bearer " + key,
                               "x-mock-abort-after-bytes": "300"})
    print("got", len(r.content))
except requests.exceptions.RequestException as e:
    print("failed:", type(e).__name__)
PYEOF
  compare_run cut "$T/spool" "$PY" "$T/cut.py" "$MOCK_URL" "$CERT" "$KEY"
  cat "$T/cut.traced.out"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --eq level=ERROR \
    --contains "metadata.transport_error=response body cut" \
    --eq metadata.capture=openssl --eq http.status=200
}

case_many_reads_small_queue() {
  # A long answer sent a byte per chunk: thousands of reads. Chunks of a
  # connection are coalesced, so even a 4-entry queue loses nothing.
  start_mock --tls
  compare_run long "$T/spool" AUTOTRACE_QUEUE=4 "$PY" "$PYC" --lib requests \
    --cacert "$CERT" --key "$KEY" --stream --n 1 -H 'x-mock-chunk-bytes: 1' \
    -H 'x-mock-pad-bytes: 3000' -H 'x-mock-event-delay-ms: 0' --tag long "$MOCK_URL"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --eq metadata.stream=true \
    --contains "output.0.parts.0.content=lorem lorem" --absent metadata.transport_error
  cli stats --spool "$T/spool" --json >"$T/stats.json"
  "$PY" - "$T/stats.json" <<'PYEOF' || fail "captures were dropped"
import json, sys
c = json.load(open(sys.argv[1]))["counters"]
print(c)
sys.exit(1 if c.get("dropped.queue_full") or c.get("dropped.conn_gap") else 0)
PYEOF
}

run_cases case_content_encodings case_many_reads_small_queue case_odd_chunks_and_single_bytes \
  case_keepalive_mixed case_cut_off_is_partial
