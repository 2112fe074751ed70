#!/bin/sh
# scripts/demo.sh — what `make demo` runs after `make all`.
#
# Starts the bundled mock LLM provider on a free local port, runs the demo
# agent (a plain libcurl program that knows nothing of autotrace) under
# `autotrace run`, and shows the trace it left. No network, no API key.
# The spool is kept so that you can look again; its path is printed.
set -eu

cd "$(dirname "$0")/.."
BUILD=${AT_BUILD:-build}
CLI=$BUILD/autotrace
AGENT=$BUILD/examples/demo_agent
KEY=sk-demo-0000-not-a-real-key

for f in "$CLI" "$AGENT" "$BUILD/libautotrace.so"; do
  if [ ! -x "$f" ] && [ ! -f "$f" ]; then
    echo "demo: $f is missing: run 'make all' first" >&2
    exit 1
  fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/autotrace-demo-work.XXXXXX")
SPOOL=$(mktemp -d "${TMPDIR:-/tmp}/autotrace-demo.XXXXXX")
MOCK_PID=
cleanup() {
  if [ -n "$MOCK_PID" ]; then
    kill "$MOCK_PID" 2>/dev/null || true
    wait "$MOCK_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 examples/mock_provider.py --host 127.0.0.1 --port 0 \
  --port-file "$WORK/port" --api-key "$KEY" --log "$WORK/mock.log" \
  --exit-with-parent --max-seconds 600 \
  >/dev/null 2>"$WORK/mock.err" &
MOCK_PID=$!
i=0
while [ ! -s "$WORK/port" ]; do
  i=$((i + 1))
  if [ $i -gt 200 ] || ! kill -0 "$MOCK_PID" 2>/dev/null; then
    echo "demo: the mock provider did not start:" >&2
    cat "$WORK/mock.err" >&2
    exit 1
  fi
  sleep 0.05
done
PORT=$(cat "$WORK/port")

cat <<INTRO
== autotrace demo ==
A mock OpenAI-compatible server is listening on 127.0.0.1:$PORT.
$AGENT is an ordinary libcurl program: it asks a question, the model
calls a get_weather tool, the agent runs it and sends the result back, and
the final answer is streamed. We run it, unchanged, under autotrace:

  \$ $CLI run --spool $SPOOL -- $AGENT

INTRO

rc=0
OPENAI_BASE_URL=http://127.0.0.1:$PORT/v1 OPENAI_API_KEY=$KEY \
  "$CLI" run --spool "$SPOOL" -- "$AGENT" || rc=$?
if [ $rc -ne 0 ]; then
  echo "demo: the agent failed (exit $rc); mock log:" >&2
  tail -n 20 "$WORK/mock.log" >&2
  exit 1
fi

cat <<SHOW

The agent's output above is exactly what it prints without autotrace. What
autotrace recorded, read back from the spool:

  \$ $CLI show last --spool $SPOOL

SHOW
"$CLI" show last --spool "$SPOOL"

cat <<OUTRO

That is one trace: a span for the demo_agent process with its two LLM calls
(generations) under it — model, parameters, messages, token usage and
timings, including time to first token of the streamed answer — and, between
them, the tool the program ran, inferred from the conversation alone: its
name and arguments from the first answer, its result from the second
request (docs/nesting.md). The API key was redacted before anything was
written.

Look again, or in other forms:
  $CLI ls --spool $SPOOL
  $CLI show last --spool $SPOOL
  $CLI export --format jsonl --all --spool $SPOOL
  $CLI export --format otlp last --spool $SPOOL
The spool stays in $SPOOL (remove it with: rm -r $SPOOL).
OUTRO
