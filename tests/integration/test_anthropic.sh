#!/bin/bash
# Anthropic's messages API on an unknown host, plain and streamed, with a
# tool_use round trip; the x-api-key header never reaches the spool.
# (llm_client rather than curl, so that the ASan build runs these too.)
. "$(dirname "$0")/lib.sh"

TOOLS='[{"name":"get_weather","description":"Weather now",
  "input_schema":{"type":"object","properties":{"city":{"type":"string"}},
  "required":["city"]}}]'

# Turn 1: the question; the mock answers with text and a tool_use block.
turn1() { # turn1 FILE STREAM
  cat >"$1" <<EOF
{"model":"claude-3-5-haiku-latest","max_tokens":300,"temperature":0.5,
 "stream":$2,"system":"Be brief and exact.","tools":$TOOLS,
 "messages":[{"role":"user","content":"How warm is it in Paris?"}]}
EOF
}

# Turn 2: the tool result goes back; the mock answers with text.
turn2() { # turn2 FILE STREAM
  cat >"$1" <<EOF
{"model":"claude-3-5-haiku-latest","max_tokens":300,"stream":$2,
 "system":"Be brief and exact.","tools":$TOOLS,
 "messages":[{"role":"user","content":"How warm is it in Paris?"},
  {"role":"assistant","content":[{"type":"text","text":"I will look that up."},
   {"type":"tool_use","id":"toolu_01","name":"get_weather",
    "input":{"city":"Paris"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01",
   "content":"21 C, clear"}]}]}
EOF
}

# anthropic BODY [llm_client args]: the client command line, in ARGS.
anthropic() {
  ARGS=("$CLIENT" --cacert "$CERT" -H "x-api-key: $KEY"
    -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json'
    "${@:2}" --body "$1" "$MOCK_URL/v1/messages")
}

check_turn1() { # check_turn1 RECS STREAM
  check "$1" --where type=generation --where "model_parameters.stream=$2" \
    --where-has model_parameters.temperature --count 1 \
    --eq provider=anthropic_compatible --eq operation=chat \
    --eq request_model=claude-3-5-haiku-latest \
    --eq response_model=claude-3-5-haiku-latest \
    --re 'response_id=^msg_mock' \
    --eq input.0.role=system --eq "input.0.parts.0.content=Be brief and exact." \
    --eq input.1.role=user --eq "input.1.parts.0.content=How warm is it in Paris?" \
    --eq output.0.role=assistant \
    --eq output.0.parts.0.type=text \
    --eq "output.0.parts.0.content=I will look that up." \
    --eq output.0.parts.1.type=tool_call \
    --eq output.0.parts.1.name=get_weather \
    --re 'output.0.parts.1.id=^toolu_mock' \
    --eq 'output.0.parts.1.arguments={"city":"Paris"}' \
    --eq 'finish_reasons=["tool_use"]' \
    --eq model_parameters.max_tokens=300 --eq model_parameters.temperature=0.5 \
    --len model_parameters.tools=1 \
    --eq usage.input_tokens=10 --eq usage.output_tokens=9 \
    --eq http.request_headers.x-api-key="[REDACTED]" \
    --eq http.request_headers.anthropic-version=2023-06-01 \
    --eq http.status=200 --eq level=DEFAULT \
    --order start_ns,completion_start_ns,end_ns
}

check_turn2() { # check_turn2 RECS STREAM
  check "$1" --where type=generation --where "model_parameters.stream=$2" \
    --where-contains "output.0.parts.0.content=21 C, clear" --count 1 \
    --eq input.2.role=assistant --eq input.2.parts.1.type=tool_call \
    --eq input.2.parts.1.id=toolu_01 \
    --eq input.3.parts.0.type=tool_call_response \
    --eq input.3.parts.0.id=toolu_01 \
    --eq 'finish_reasons=["end_turn"]' \
    --eq "output.0.parts.0.content=The tool returned: 21 C, clear. That is all I know." \
    --eq usage.input_tokens=18 --eq usage.output_tokens=11
}

case_plain() {
  start_mock --tls
  local S=$T/spool
  turn1 "$T/t1.json" false
  anthropic "$T/t1.json"
  compare_run t1 "$S" "${ARGS[@]}"
  turn2 "$T/t2.json" false
  anthropic "$T/t2.json"
  compare_run t2 "$S" "${ARGS[@]}"
  grep -q '"stop_reason": "end_turn"' "$T/t2.traced.out" ||
    fail "unexpected answer $(cat "$T/t2.traced.out")"
  export_jsonl "$S" "$T/recs.jsonl"
  check_turn1 "$T/recs.jsonl" false
  check_turn2 "$T/recs.jsonl" false
  check "$T/recs.jsonl" --where type=generation --count 2 --ne metadata.stream=true
  no_secret "$S" "$T/recs.jsonl"
}

case_streamed() {
  start_mock --tls
  local S=$T/spool
  turn1 "$T/t1.json" true
  anthropic "$T/t1.json" --api multi-socket
  compare_run t1 "$S" "${ARGS[@]}"
  grep -q '^event: message_stop' "$T/t1.traced.out" || fail "not a stream"
  turn2 "$T/t2.json" true
  anthropic "$T/t2.json" --api multi --post readfunction
  compare_run t2 "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check_turn1 "$T/recs.jsonl" true
  check_turn2 "$T/recs.jsonl" true
  check "$T/recs.jsonl" --where type=generation --count 2 \
    --eq metadata.stream=true --present completion_start_ns
  no_secret "$S" "$T/recs.jsonl"
}

case_cached_tokens() {
  # Anthropic's input_tokens excludes cache reads; the record's usage is
  # inclusive and usage_details exclusive (docs/record-schema.md).
  start_mock --tls
  local S=$T/spool
  turn1 "$T/t1.json" false
  anthropic "$T/t1.json" -H 'x-mock-cached-tokens: 4'
  compare_run c "$S" "${ARGS[@]}"
  grep -q '"cache_read_input_tokens": 4' "$T/c.traced.out" || fail "mock did not cache"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq usage.input_tokens=10 --eq usage.cache_read_input_tokens=4 \
    --eq usage.output_tokens=9 --eq usage.total_tokens=19 \
    --eq usage_details.input=6 --eq usage_details.input_cached_tokens=4 \
    --eq usage_details.output=9
}

case_error_shape() {
  start_mock --tls
  local S=$T/spool
  turn1 "$T/t1.json" true
  anthropic "$T/t1.json" -H 'x-mock-status: 529'
  compare_run e "$S" "${ARGS[@]}"
  export_jsonl "$S" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 1 \
    --eq level=ERROR --eq http.status=529 \
    --contains "status_message=mock: the server is overloaded" \
    --absent output
}

run_cases case_plain case_streamed case_cached_tokens case_error_shape
