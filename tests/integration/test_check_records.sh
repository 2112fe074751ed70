#!/bin/bash
# The checker the other tests rely on must catch what it claims to catch:
# each rule is shown a record that satisfies it and one that breaks it.
. "$(dirname "$0")/lib.sh"

# A valid generation and its process span, written for this test.
good() {
  cat <<'J'
{"v":1,"kind":"observation","id":"00000000000000a1","trace_id":"0000000000000000000000000000beef","type":"span","name":"agent","start_ns":"1763700000000000000","end_ns":"1763700000900000000","metadata":{"generations":1},"process":{"pid":10}}
{"v":1,"kind":"observation","id":"00000000000000b2","trace_id":"0000000000000000000000000000beef","parent_id":"00000000000000a1","type":"generation","name":"chat m","start_ns":"1763700000100000000","completion_start_ns":"1763700000200000000","end_ns":"1763700000300000000","level":"DEFAULT","provider":"openai","request_model":"m","input":[{"role":"user","parts":[{"type":"text","content":"ping"}]}],"output":[{"role":"assistant","parts":[{"type":"text","content":"you said ping"}],"finish_reason":"stop"}],"usage":{"input_tokens":1,"output_tokens":3},"http":{"status":200},"metadata":{"stream":true},"process":{"pid":10}}
J
}

must_pass() {
  "$PY" "$CHECK" "$@" >/dev/null 2>&1 || {
    "$PY" "$CHECK" "$@" || true
    fail "check_records rejected a good case: $*"
  }
}

must_fail() {
  if "$PY" "$CHECK" "$@" >"$T/out" 2>&1; then
    fail "check_records accepted a bad case: $*"
  fi
  grep -q FAIL "$T/out" || fail "no FAIL message for: $*"
}

# mutate EXPR: the good records with a Python expression applied to the
# generation g (and span s), as a new file.
mutate() {
  good | "$PY" -c '
import json, sys
s, g = [json.loads(l) for l in sys.stdin]
exec(sys.argv[1])
print(json.dumps(s)); print(json.dumps(g))' "$1" >"$T/bad.jsonl"
}

case_selection_and_assertions() {
  good >"$T/good.jsonl"
  local f=$T/good.jsonl
  must_pass "$f" --where type=generation --count 1 --eq provider=openai \
    --eq usage.input_tokens=1 --eq metadata.stream=true --echo \
    --order start_ns,completion_start_ns,end_ns --parent-type span \
    --contains output.0.parts.0.content=ping --re 'request_model=^m$' \
    --present http.status --absent usage.total_tokens --len input=1
  must_pass "$f" --count 2 --same trace_id --distinct id
  must_pass "$f" --where type=span --root --eq metadata.generations=1
  must_pass "$f" --where-absent parent_id --count 1 --eq type=span
  must_pass "$f" --where-has parent_id --count 1 --eq type=generation
  must_fail "$f" --where-absent parent_id --count 2
  must_fail "$f" --where type=generation --count 2
  must_fail "$f" --where type=tool
  must_fail "$f" --where type=generation --eq provider=anthropic
  must_fail "$f" --where type=generation --eq usage.input_tokens=true
  must_fail "$f" --where type=generation --eq metadata.stream=1
  must_fail "$f" --where type=generation --eq http.status='"200"'
  must_fail "$f" --where type=generation --present usage.total_tokens
  must_fail "$f" --where type=generation --absent usage.input_tokens
  must_fail "$f" --where type=generation --order end_ns,start_ns
  must_fail "$f" --where type=generation --root
  must_fail "$f" --where type=span --parent-type span
  must_fail "$f" --distinct trace_id
  must_fail "$f" --same id
  must_fail "$f" --where type=generation --contains output.0.parts.0.content=pong
  must_fail "$f" --where type=generation --ge usage.output_tokens=4
}

case_schema_rules() {
  mutate 'pass'
  must_pass "$T/bad.jsonl"
  local m
  for m in 'g["trace_id"] = "BEEF"' 'g["id"] = "00000000000000B2"' \
    'g["parent_id"] = None' 'g["start_ns"] = 1763700000100000000' \
    'g["end_ns"] = "1763700000000000000"' 'g["type"] = "llm"' \
    'g["level"] = "FATAL"' 'g["usage"]["input_tokens"] = -1' \
    'g["provider"] = ""' 'g["v"] = 2' 'g["http"]["status"] = "200"' \
    'g["input"][0]["parts"] = "ping"' 'g["start_ns"] = "1000"' \
    'g["http"]["request_headers"] = {"Authorization": "[REDACTED]"}'; do
    mutate "$m"
    must_fail "$T/bad.jsonl"
  done
  # --echo catches an answer to another question.
  mutate 'g["output"][0]["parts"][0]["content"] = "you said pong"'
  must_fail "$T/bad.jsonl" --where type=generation --echo
}

case_otlp_rules() {
  cat >"$T/otlp.json" <<'J'
{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"t"}}]},
 "scopeSpans":[{"scope":{"name":"autotrace"},"spans":[
  {"traceId":"0000000000000000000000000000beef","spanId":"00000000000000b2","parentSpanId":"00000000000000a1",
   "name":"chat m","kind":3,"startTimeUnixNano":"1763700000100000000","endTimeUnixNano":"1763700000300000000",
   "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                 {"key":"gen_ai.request.model","value":{"stringValue":"m"}},
                 {"key":"gen_ai.usage.input_tokens","value":{"intValue":"1"}}],
   "status":{"code":0}}]}]}]}
J
  must_pass --otlp "$T/otlp.json" --spans 1 --gen-spans 1
  must_fail --otlp "$T/otlp.json" --spans 2
  local m
  for m in 's["kind"] = "SPAN_KIND_CLIENT"' 's["startTimeUnixNano"] = 1' \
    's["traceId"] = "xyz"' 's["attributes"] = {"a": 1}' \
    's["attributes"][0]["value"] = {"stringValue": 3}' \
    's["attributes"].append(s["attributes"][0])' 's["status"]["code"] = "OK"'; do
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = d["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
exec(sys.argv[2])
json.dump(d, open(sys.argv[3], "w"))' "$T/otlp.json" "$m" "$T/bad.json"
    must_fail --otlp "$T/bad.json"
  done
}

run_cases case_selection_and_assertions case_schema_rules case_otlp_rules
