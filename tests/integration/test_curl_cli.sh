#!/bin/bash
# The curl command-line tool (an unmodified program we did not build) talks
# to the mock over HTTPS under the shim: one generation per request, every
# field filled from the exchange, the program's output unchanged, and the API
# key nowhere on disk. (Skipped under the ASan build: see curl_usable in
# lib.sh; llm_client covers the same paths there.)
. "$(dirname "$0")/lib.sh"

chat_body() { # chat_body FILE STREAM(true|false) [include_usage]
  local usage=""
  [ "${3:-}" = include_usage ] && usage=',"stream_options":{"include_usage":true}'
  cat >"$1" <<EOF
{"model":"gpt-4o-mini","temperature":0.3,"max_tokens":200,"stream":$2$usage,
 "messages":[{"role":"system","content":"You answer in one sentence."},
             {"role":"user","content":"Name a colour of the sky"}]}
EOF
}

# curl_chat BODY [extra curl args]: the curl command line, in ARGS.
curl_chat() {
  ARGS=(curl -sS --cacert "$CERT" "$MOCK_URL/v1/chat/completions"
    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json'
    "${@:2}" -d "@$1")
}

# Fields every chat generation of this file shares.
common_checks() {
  local f=$1
  shift
  check "$f" --where type=generation --count 1 "$@" \
    --eq provider=openai_compatible --eq operation=chat \
    --eq request_model=gpt-4o-mini \
    --eq response_model=gpt-4o-mini-2024-07-18 \
    --re 'response_id=^chatcmpl-mock' \
    --eq name="chat gpt-4o-mini" \
    --eq level=DEFAULT \
    --len input=2 --eq input.0.role=system \
    --eq input.0.parts.0.type=text \
    --eq "input.0.parts.0.content=You answer in one sentence." \
    --eq input.1.role=user \
    --eq "input.1.parts.0.content=Name a colour of the sky" \
    --len output=1 --eq output.0.role=assistant \
    --eq "output.0.parts.0.content=This is a mock answer to: Name a colour of the sky" \
    --eq 'finish_reasons=["stop"]' \
    --eq model_parameters.temperature=0.3 \
    --eq model_parameters.max_tokens=200 \
    --eq http.method=POST --eq http.status=200 \
    --eq "http.url=$MOCK_URL/v1/chat/completions" \
    --eq http.server_address=127.0.0.1 --eq "http.server_port=$MOCK_PORT" \
    --eq metadata.capture=curl \
    --order start_ns,end_ns --parent-type span
}

case_plain() {
  need_curl
  start_mock --tls
  local S=$T/spool
  chat_body "$T/body.json" false
  curl_chat "$T/body.json"
  compare_run plain "$S" "${ARGS[@]}"
  [ "$RC" = 0 ] || fail "curl failed: $(cat "$T/plain.traced.err")"
  grep -q '"finish_reason": "stop"' "$T/plain.traced.out" ||
    fail "unexpected answer: $(cat "$T/plain.traced.out")"
  export_jsonl "$S" "$T/recs.jsonl"
  common_checks "$T/recs.jsonl" \
    --eq "response_id=$(json_get "$T/plain.traced.out" id)" \
    --eq usage.input_tokens=11 --eq usage.output_tokens=12 \
    --eq usage.total_tokens=23 \
    --order start_ns,completion_start_ns,end_ns
  # A plain answer is not a stream.
  check "$T/recs.jsonl" --where type=generation --ne metadata.stream=true
  # One process span, the root, named after the program.
  check "$T/recs.jsonl" --where type=span --count 1 --root \
    --eq name=curl --eq metadata.generations=1
  check "$T/recs.jsonl" --same trace_id
  no_secret "$S" "$T/recs.jsonl"
}

case_stream_with_usage() {
  need_curl
  start_mock --tls
  local S=$T/spool
  chat_body "$T/body.json" true include_usage
  curl_chat "$T/body.json" -N
  compare_run stream "$S" "${ARGS[@]}"
  [ "$RC" = 0 ] || fail "curl failed"
  grep -q '^data: \[DONE\]' "$T/stream.traced.out" || fail "not a stream"
  export_jsonl "$S" "$T/recs.jsonl"
  common_checks "$T/recs.jsonl" --eq model_parameters.stream=true \
    --eq metadata.stream=true \
    --eq usage.input_tokens=11 --eq usage.output_tokens=12 \
    --eq usage.total_tokens=23 \
    --present completion_start_ns \
    --order start_ns,completion_start_ns,end_ns
  # The mock pauses 5 ms between events: the first token comes before the
  # end by at least the remaining pauses.
  "$PY" - "$T/recs.jsonl" <<'EOF' || fail "completion_start_ns is not before end_ns by the stream's pauses"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "generation":
        gap = int(r["end_ns"]) - int(r["completion_start_ns"])
        print("first token to end: %.1f ms" % (gap / 1e6))
        sys.exit(0 if gap >= 10_000_000 else 1)
EOF
  no_secret "$S" "$T/recs.jsonl"
}

case_stream_without_usage() {
  need_curl
  start_mock --tls
  local S=$T/spool
  chat_body "$T/body.json" true
  curl_chat "$T/body.json" -N
  compare_run stream "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  # The stream carried no usage: counts are absent, never zero.
  common_checks "$T/recs.jsonl" --eq metadata.stream=true \
    --absent usage.input_tokens --absent usage.output_tokens \
    --present metadata.usage_missing
}

case_tool_call_stream() {
  need_curl
  start_mock --tls
  local S=$T/spool
  cat >"$T/body.json" <<'EOF'
{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},
 "tool_choice":"auto",
 "tools":[{"type":"function","function":{"name":"get_weather",
   "description":"Weather now","parameters":{"type":"object",
   "properties":{"city":{"type":"string"}},"required":["city"]}}}],
 "messages":[{"role":"user","content":"Is it raining in Paris?"}]}
EOF
  curl_chat "$T/body.json" -N
  compare_run tools "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  # The arguments arrive split over four chunks and must be reassembled.
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq 'finish_reasons=["tool_calls"]' \
    --eq output.0.parts.0.type=tool_call \
    --eq output.0.parts.0.name=get_weather \
    --re 'output.0.parts.0.id=^call_' \
    --eq 'output.0.parts.0.arguments={"city":"Paris"}' \
    --eq model_parameters.tool_choice=auto \
    --len model_parameters.tools=1 \
    --eq usage.input_tokens=5
}

case_embeddings() {
  need_curl
  start_mock --tls
  local S=$T/spool
  compare_run emb "$S" curl -sS --cacert "$CERT" "$MOCK_URL/v1/embeddings" \
    -H "Authorization: Bearer $KEY" \
    -d '{"model":"text-embedding-3-small","input":["first text here","second"]}'
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where provider=openai_compatible --count 1 \
    --eq type=embedding --eq operation=embeddings \
    --eq request_model=text-embedding-3-small \
    --eq usage.input_tokens=4 --eq http.status=200
}

case_two_requests_one_process() {
  need_curl
  # curl with two URLs: two transfers on one handle, one process span.
  start_mock --tls
  local S=$T/spool
  chat_body "$T/body.json" false
  compare_run two "$S" curl -sS --cacert "$CERT" \
    -H "Authorization: Bearer $KEY" -d "@$T/body.json" \
    "$MOCK_URL/v1/chat/completions" "$MOCK_URL/v1/chat/completions"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 --parent-type span \
    --eq usage.input_tokens=11 --distinct id --same parent_id
  check "$T/recs.jsonl" --where type=span --count 1
}

case_secrets_and_permissions() {
  need_curl
  start_mock --tls
  local S=$T/spool
  chat_body "$T/body.json" false
  curl_chat "$T/body.json"
  run_traced sec "$S" "${ARGS[@]}" \
    -H "Cookie: session=$KEY" "$MOCK_URL/v1/chat/completions?key=$KEY"
  [ "$RC" = 0 ] || fail "curl failed"
  [ -d "$S" ] || fail "no spool folder"
  local mode
  mode=$(stat -c %a "$S")
  [ "$mode" = 700 ] || fail "spool folder mode is $mode, expected 700"
  local bad
  bad=$(find "$S" -type f ! -perm 600 -printf '%m %p\n')
  [ -z "$bad" ] || fail "spool files not 0600: $bad"
  [ -n "$(find "$S" -type f)" ] || fail "no files in the spool"
  export_jsonl "$S" "$T/recs.jsonl"
  cli export --format otlp --all --spool "$S" >"$T/otlp.json"
  no_secret "$S" "$T/recs.jsonl" "$T/otlp.json"
  # Both transfers carried the key in headers; the second in the URL too.
  check "$T/recs.jsonl" --where type=generation --count 2 \
    --eq http.request_headers.authorization="[REDACTED]" \
    --eq http.request_headers.cookie="[REDACTED]"
}

run_cases case_plain case_stream_with_usage case_stream_without_usage \
  case_tool_call_stream case_embeddings case_two_requests_one_process \
  case_secrets_and_permissions
