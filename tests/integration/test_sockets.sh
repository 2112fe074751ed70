#!/bin/bash
# The plain-socket capture path: HTTP/1.1 to local model servers, an
# Ollama-style server (/api/chat, NDJSON) and an OpenAI-compatible one,
# with Python clients (requests, urllib, and a raw socket client that
# writes a byte at a time). Each exchange is exported exactly once, the
# client's output is byte-identical with and without the shim, and
# requests to other endpoints on the same server are not captured.
. "$(dirname "$0")/lib.sh"

PYC=$ROOT/tests/tools/py_llm_client.py

# pyclient NAME LIB [ARGS...] (AT_ENV: extra VAR=VAL for the traced run)
pyclient() {
  local name=$1 lib=$2
  shift 2
  compare_run "$name" "$T/spool" ${AT_ENV:+"${AT_ENV[@]}"} "$PY" "$PYC" \
    --lib "$lib" --key "$KEY" "$@" "$MOCK_URL"
  [ "$RC" = 0 ] || fail "$name: the client failed: $(cat "$T/$name.traced.err")"
}

# mock_on_builtin_port: start the mock on the first free port of the
# local servers watched without configuration (vLLM 8000, llama.cpp 8080,
# LM Studio 1234, LiteLLM 4000, ...), or skip.
mock_on_builtin_port() {
  local p
  for p in 8000 8080 1234 4000 5000 30000; do
    if "$PY" -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$p))" 2>/dev/null; then
      start_mock --port "$p" && return 0
    fi
  done
  skip "none of the watched local-server ports is free here"
}

case_ollama_ndjson() {
  start_mock
  AT_ENV=("AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=ollama")
  pyclient stream requests --api ollama --stream --n 3 --tag streamed
  pyclient plain urllib --api ollama --n 2 --tag whole
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 5 \
    --eq metadata.capture=socket --eq provider=ollama --eq request_model=llama3.2 \
    --eq http.status=200 --eq usage.input_tokens=3 --eq usage.output_tokens=9 \
    --order start_ns,completion_start_ns,end_ns --distinct id --parent-type span
  local i
  for i in 0 1 2; do
    check "$T/recs.jsonl" --where type=generation \
      --where "input.0.parts.0.content=streamed number $i" --count 1 \
      --eq "output.0.parts.0.content=This is a mock answer to: streamed number $i" \
      --eq metadata.stream=true
  done
  for i in 0 1; do
    check "$T/recs.jsonl" --where type=generation \
      --where "input.0.parts.0.content=whole number $i" --count 1 \
      --eq "output.0.parts.0.content=This is a mock answer to: whole number $i"
  done
  no_secret "$T/spool"
}

case_ollama_default_port() {
  # Ollama's own port is watched without any configuration.
  "$PY" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',11434))" 2>/dev/null ||
    skip "port 11434 is taken here"
  start_mock --port 11434
  pyclient stream requests --api ollama --stream --n 2 --tag native
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 2 \
    --eq metadata.capture=socket --eq provider=ollama
}

case_openai_compatible_no_config() {
  # A local OpenAI-compatible server (vLLM, llama.cpp, LM Studio): found by
  # its port and the path signature alone.
  mock_on_builtin_port
  pyclient stream requests --stream --n 3 --tag vllm
  pyclient plain urllib --n 1 --tag vllmplain
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 4 \
    --eq metadata.capture=socket --eq provider=openai_compatible \
    --eq request_model=gpt-4o-mini --eq usage.input_tokens=3 --eq usage.output_tokens=9
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=vllm number 2" --count 1 \
    --eq "output.0.parts.0.content=This is a mock answer to: vllm number 2"
}

case_one_byte_writes_and_reads() {
  # The request written a byte at a time (the request line is sniffed
  # across writes), the response sent a byte per chunk.
  start_mock
  AT_ENV=("AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=ollama")
  pyclient bytes raw --api ollama --stream --n 2 --write-bytes 1 \
    -H 'x-mock-chunk-bytes: 1' --tag bytewise
  pyclient chat raw --stream --n 2 --write-bytes 7 -H 'x-mock-chunk-bytes: 3' \
    --tag sevens
  export_jsonl "$T/spool" "$T/recs.jsonl"
  check "$T/recs.jsonl" --where type=generation --count 4 \
    --eq metadata.capture=socket --eq provider=ollama --eq usage.output_tokens=9
  check "$T/recs.jsonl" --where type=generation \
    --where-contains "input.0.parts.0.content=bytewise" --count 2 \
    --eq request_model=llama3.2 --eq metadata.stream=true
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=bytewise number 1" --count 1 \
    --eq "output.0.parts.0.content=This is a mock answer to: bytewise number 1"
  check "$T/recs.jsonl" --where type=generation \
    --where "input.0.parts.0.content=sevens number 1" --count 1 \
    --eq "output.0.parts.0.content=This is a mock answer to: sevens number 1" \
    --eq usage.output_tokens=9
}

case_other_requests_not_captured() {
  # GET /health and POST /other on a watched server: not LLM calls. Only
  # their request lines are looked at: no spool, no core.
  start_mock
  cat >"$T/other.py" <<'PYEOF'
import sys, urllib.request
base = sys.argv[1]
for _ in range(3):
    with urllib.request.urlopen(base + "/health") as r:
        sys.stdout.write(r.read().decode() + "\n")
    req = urllib.request.Request(base + "/other", data=b"x" * 5000)
    with urllib.request.urlopen(req) as r:
        sys.stdout.write(r.read().decode() + "\n")
with open("/proc/self/maps") as m:
    sys.stdout.write("core loaded: %s\n" % ("libautotrace-core" in m.read()))
PYEOF
  compare_run other "$T/spool" "AUTOTRACE_HOSTS=127.0.0.1:$MOCK_PORT=ollama" \
    "$PY" "$T/other.py" "$MOCK_URL"
  grep -q 'core loaded: False' "$T/other.traced.out" || fail "the core was loaded"
  [ ! -e "$T/spool" ] || fail "a spool was created for non-LLM requests"
}

case_unwatched_port_untouched() {
  # A port nobody named: nothing captured, even for an LLM path.
  start_mock
  "$PY" -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$MOCK_PORT))" 2>/dev/null &&
    fail "the mock is not listening?"
  case $MOCK_PORT in 8000 | 8080 | 1234 | 4000 | 5000 | 11434 | 30000) skip "random port is a watched one" ;; esac
  pyclient plain urllib --n 1 --tag unwatched
  [ ! -e "$T/spool" ] || fail "a spool was created for an unwatched port"
}

run_cases case_ollama_ndjson case_ollama_default_port \
  case_openai_compatible_no_config case_one_byte_writes_and_reads \
  case_other_requests_not_captured case_unwatched_port_untouched
