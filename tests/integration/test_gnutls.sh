#!/bin/bash
# The GnuTLS capture path: a C client linking libgnutls (tests/tools/
# gnutls_client.c) POSTs to the mock's HTTPS mode, several requests on one
# connection. Each exchange exported once with capture "gnutls"; the
# client's output is the same with and without the shim.
. "$(dirname "$0")/lib.sh"

GC=$B/tests/gnutls_client

need_client() {
  [ -x "$GC" ] || skip "$GC is not built (make units; needs libgnutls28-dev)"
}

case_keepalive_stream_and_plain() {
  need_client
  start_mock --tls
  local body
  body='{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"over gnutls streamed"}]}'
  compare_run stream "$T/spool" "$GC" --cacert "$CERT" --port "$MOCK_PORT" \
    --key "$KEY" --n 3 --body "$body"
  [ "$RC" = 0 ] || fail "gnutls_client failed: $(cat "$T/stream.traced.err")"
  body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"over gnutls whole"}]}'
  compare_run plain "$T/spool" "$GC" --cacert "$CERT" --port "$MOCK_PORT" \
    --key "$KEY" --n 1 --body "$body"
  [ "$RC" = 0 ] || fail "gnutls_client failed"
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 4 \
    --eq metadata.capture=gnutls --eq http.status=200 --eq usage.input_tokens=3 \
    --eq "http.url=https://localhost:$MOCK_PORT/v1/chat/completions" \
    --order start_ns,completion_start_ns,end_ns --absent metadata.transport_error
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=over gnutls streamed" --count 3 \
    --eq metadata.stream=true \
    --eq "output.0.parts.0.content=This is a mock answer to: over gnutls streamed"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=over gnutls whole" --count 1 \
    --eq "output.0.parts.0.content=This is a mock answer to: over gnutls whole"
  no_secret "$T/spool"
}

case_non_llm_untouched() {
  need_client
  start_mock --tls
  compare_run other "$T/spool" "$GC" --cacert "$CERT" --port "$MOCK_PORT" \
    --path /other --n 2 --body '{"x":1}'
  [ ! -e "$T/spool" ] || fail "a spool was created for non-LLM requests"
}

run_cases case_keepalive_stream_and_plain case_non_llm_untouched
