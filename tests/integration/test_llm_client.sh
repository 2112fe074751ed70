#!/bin/bash
# tests/tools/llm_client drives libcurl every way an application can: the
# easy, multi and multi-socket APIs; POSTFIELDS, COPYPOSTFIELDS and a read
# callback; a write callback or libcurl's default stdout writer; header
# callbacks, reused, duplicated and reset handles, parallel transfers. Each
# must yield exactly the generations it made, with matching input and
# output, and the program's output must not change.
. "$(dirname "$0")/lib.sh"

# body FILE TAG [stream]: a chat request whose user message names TAG (and
# the transfer number, see llm_client's {{i}}).
body() {
  local stream='"stream":false'
  [ "${3:-}" = stream ] &&
    stream='"stream":true,"stream_options":{"include_usage":true}'
  cat >"$1" <<EOF
{"model":"gpt-4o-mini",$stream,"messages":[{"role":"user","content":"tell me about $2 number {{i}}"}]}
EOF
}

client() { # client ARGS...: the llm_client command line, in ARGS
  ARGS=("$CLIENT" --cacert "$CERT" -H "Authorization: Bearer $KEY"
    -H 'Content-Type: application/json' "$@" "$MOCK_URL/v1/chat/completions")
}

# The full matrix: 3 APIs x 3 ways to post x 2 ways to write, plain and
# streamed answers alternating, all in one spool; then every combination's
# generation is checked on its own.
case_mode_matrix() {
  start_mock --tls
  local S=$T/spool api post write n=0 stream tag
  for api in easy multi multi-socket; do
    for post in postfields copypostfields readfunction; do
      for write in callback default; do
        tag="$api-$post-$write"
        stream=$([ $((n % 2)) = 1 ] && echo stream || echo plain)
        n=$((n + 1))
        body "$T/$tag.json" "$tag" "$stream"
        client --api "$api" --post "$post" --write "$write" \
          --body "$T/$tag.json"
        compare_run "$tag" "$S" "${ARGS[@]}"
        [ "$RC" = 0 ] || fail "$tag: llm_client failed"
        grep -q "status=200 curlcode=0" "$T/$tag.traced.err" ||
          fail "$tag: $(cat "$T/$tag.traced.err")"
        echo "$tag: ok ($stream)"
      done
    done
  done
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 18 --distinct id \
    --parent-type span --eq http.status=200 --echo
  n=0
  for api in easy multi multi-socket; do
    for post in postfields copypostfields readfunction; do
      for write in callback default; do
        tag="$api-$post-$write"
        stream=$([ $((n % 2)) = 1 ] && echo true || echo false)
        n=$((n + 1))
        check "$T/recs.jsonl" --where type=generation \
          --where "input.0.parts.0.content=tell me about $tag number 0" \
          --count 1 --eq provider=openai_compatible \
          --eq request_model=gpt-4o-mini \
          --eq "output.0.parts.0.content=This is a mock answer to: tell me about $tag number 0" \
          --eq usage.input_tokens=6 --eq usage.output_tokens=12 \
          --eq 'finish_reasons=["stop"]' \
          --order start_ns,completion_start_ns,end_ns
        if [ "$stream" = true ]; then
          check "$T/recs.jsonl" --where type=generation \
            --where-contains "input.0.parts.0.content=$tag " \
            --count 1 --eq metadata.stream=true
        else
          check "$T/recs.jsonl" --where type=generation \
            --where-contains "input.0.parts.0.content=$tag " \
            --count 1 --ne metadata.stream=true
        fi
      done
    done
  done
  # 18 separate processes: 18 process spans, 18 traces.
  check "$T/recs.jsonl" --where type=span --where metadata.capture=process \
    --count 18 --distinct trace_id
}

case_header_callback() {
  start_mock --tls
  local S=$T/spool
  body "$T/b.json" headercb stream
  client --header-cb --api multi --body "$T/b.json"
  compare_run hdr "$S" "${ARGS[@]}"
  [ "$RC" = 0 ] || fail "llm_client failed: $(cat "$T/hdr.traced.err")"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --echo \
    --eq metadata.stream=true --eq http.status=200 \
    --re 'http.response_headers.content-type=^text/event-stream' \
    --re 'http.response_headers.x-request-id=^req_mock'
}

case_repeat_on_one_handle() {
  start_mock --tls
  local S=$T/spool api
  for api in easy multi multi-socket; do
    body "$T/$api.json" "repeat-$api"
    client --api "$api" --repeat 3 --body "$T/$api.json"
    compare_run "rep-$api" "$S" "${ARGS[@]}"
    [ "$(grep -c 'status=200 curlcode=0' "$T/rep-$api.traced.err")" = 3 ] ||
      fail "expected three transfers"
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for api in easy multi multi-socket; do
    check "$T/recs.jsonl" --where type=generation \
      --where-contains "input.0.parts.0.content=repeat-$api " \
      --count 3 --echo --distinct id --same trace_id --same parent_id \
      --eq usage.input_tokens=6
  done
}

case_parallel() {
  start_mock --tls
  local S=$T/spool api
  for api in multi multi-socket; do
    body "$T/$api.json" "parallel-$api" stream
    # Each transfer pauses 30 ms before answering, so the four overlap.
    client --api "$api" --parallel 4 -H 'x-mock-delay-ms: 30' \
      --body "$T/$api.json"
    compare_run "par-$api" "$S" "${ARGS[@]}"
    [ "$RC" = 0 ] || fail "llm_client failed"
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for api in multi multi-socket; do
    # Four generations, each with its own question and the answer to it:
    # four unrelated conversations, so four traces (docs/nesting.md).
    check "$T/recs.jsonl" --where type=generation \
      --where-contains "input.0.parts.0.content=parallel-$api " \
      --count 4 --echo --distinct id --distinct response_id \
      --distinct input.0.parts.0.content --distinct trace_id \
      --eq metadata.stream=true --eq usage.input_tokens=6 \
      --order start_ns,completion_start_ns,end_ns
    local i
    for i in 0 1 2 3; do
      check "$T/recs.jsonl" --where type=generation \
        --where "input.0.parts.0.content=tell me about parallel-$api number $i" \
        --count 1 \
        --eq "output.0.parts.0.content=This is a mock answer to: tell me about parallel-$api number $i"
    done
  done
  # The transfers really overlapped: some generation started before
  # another ended.
  "$PY" - "$T/recs.jsonl" <<'EOF' || fail "the parallel transfers did not overlap in time"
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
g = [r for r in g if r["type"] == "generation"]
g.sort(key=lambda r: int(r["start_ns"]))
sys.exit(0 if any(int(b["start_ns"]) < int(a["end_ns"])
                  for a, b in zip(g, g[1:])) else 1)
EOF
}

case_duphandle() {
  start_mock --tls
  local S=$T/spool post
  for post in postfields copypostfields readfunction; do
    body "$T/$post.json" "dup-$post"
    client --dup --post "$post" --body "$T/$post.json"
    compare_run "dup-$post" "$S" "${ARGS[@]}"
    [ "$RC" = 0 ] || fail "llm_client failed"
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for post in postfields copypostfields readfunction; do
    check "$T/recs.jsonl" --where type=generation \
      --where-contains "input.0.parts.0.content=dup-$post " \
      --count 1 --echo --eq http.status=200
  done
}

case_reset() {
  start_mock --tls
  local S=$T/spool post
  for post in postfields readfunction; do
    body "$T/$post.json" "reset-$post" stream
    client --reset --post "$post" --body "$T/$post.json"
    compare_run "reset-$post" "$S" "${ARGS[@]}"
    [ "$RC" = 0 ] || fail "llm_client failed"
  done
  export_jsonl "$S" "$T/recs.jsonl"
  for post in postfields readfunction; do
    check "$T/recs.jsonl" --where type=generation \
      --where-contains "input.0.parts.0.content=reset-$post " \
      --count 2 --echo --eq metadata.stream=true --distinct id
  done
}

case_chunked_one_byte() {
  # The answer arrives one byte per TLS record (plain) or per HTTP chunk
  # (stream): the capture must reassemble it.
  start_mock --tls
  local S=$T/spool
  body "$T/p.json" onebyte-plain
  body "$T/s.json" onebyte-stream stream
  client -H 'x-mock-chunk-bytes: 1' --body "$T/p.json"
  compare_run p "$S" "${ARGS[@]}"
  client -H 'x-mock-chunk-bytes: 1' --api multi-socket --body "$T/s.json"
  compare_run s "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --echo \
    --eq usage.input_tokens=6 --eq usage.output_tokens=12 --eq level=DEFAULT
}

case_plain_http_and_get() {
  # Plain HTTP; a GET to a non-LLM path on the same handle is not captured.
  start_mock
  local S=$T/spool
  body "$T/b.json" plainhttp
  ARGS=("$CLIENT" -H "Authorization: Bearer $KEY" --body "$T/b.json"
    "$MOCK_URL/v1/chat/completions")
  compare_run h "$S" "${ARGS[@]}"
  compare_run g "$S" "$CLIENT" "$MOCK_URL/health"
  grep -q '"ok":true' "$T/g.traced.out" || fail "GET /health failed"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 --echo \
    --eq "http.url=$MOCK_URL/v1/chat/completions" --eq http.server_port="$MOCK_PORT"
  check "$T/recs.jsonl" --where-contains http.url=/health --count 0
}

# Records bigger than the writer's commit size, many in one batch: the
# batch is committed in parts (preload/core_api.c, AT_COMMIT_BYTES) and
# every record arrives whole.
case_large_records_committed_in_parts() {
  start_mock --tls
  local S=$T/spool filler
  filler=$(head -c 40000 /dev/zero | tr '\0' 'x')
  printf '{"model":"gpt-4o-mini","stream":false,"messages":[{"role":"user","content":"big {{i}} %s"}]}\n' \
    "$filler" >"$T/big.json"
  client --api easy --repeat 12 --body "$T/big.json"
  compare_run big "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation \
    --where-contains "input.0.parts.0.content=big " \
    --count 12 --distinct id --same trace_id
  [ "$(grep '"type":"generation"' "$T/recs.jsonl" | grep -c "$filler")" = 12 ] ||
    fail "expected twelve records holding the whole 40 KB message"
}

run_cases case_large_records_committed_in_parts case_mode_matrix case_header_callback case_repeat_on_one_handle \
  case_parallel case_duphandle case_reset case_chunked_one_byte \
  case_plain_http_and_get
