#!/bin/bash
# The nesting engine end to end (docs/nesting.md): example agents
# (tests/tools/nest_agent.c, libcurl; tests/tools/nest_agent.py, urllib)
# run unchanged under the shim against the mock, and the trees they leave
# in the spool are compared whole: types, names, parents, order.
. "$(dirname "$0")/lib.sh"

AGENT=$B/tests/nest_agent
RENDER=$ROOT/tests/tools/render_tree.py

# tree_of SPOOL [--session]: the spool's traces as text trees.
tree_of() {
  export_jsonl "$1" "$T/recs.jsonl" >/dev/null
  check "$T/recs.jsonl" >&2 # the record schema
  "$PY" "$RENDER" "$T/recs.jsonl" "${@:2}"
}

# expect_tree WANT GOT: compare, showing both on a difference.
expect_tree() {
  if [ "$1" != "$2" ]; then
    echo "--- tree:" >&2
    echo "$2" >&2
    echo "--- wanted:" >&2
    echo "$1" >&2
    fail "the tree differs"
  fi
}

# agent MODE: run the C agent under the shim (output as without it).
agent() {
  compare_run "$1" "$T/spool" "$AGENT" "$1" "$MOCK_URL/v1"
  [ "$RC" = 0 ] || fail "nest_agent $1 failed: $(cat "$T/$1.traced.err")"
}

case_sequential_tool_loop() {
  start_mock
  agent loop
  # conv_run, the function that runs the loop, is a span (docs/nesting.md,
  # rule 4: the steps between main and the call site).
  expect_tree "trace 1
span nest_agent
  span conv_run
    generation What should I
    tool get_weather
    generation <- 18C and sunny
    tool get_time
    generation <- 09:00" "$(tree_of "$T/spool")"
  # The tools carry their arguments and results, and sit between the
  # generations in time.
  "$PY" - "$T/recs.jsonl" <<'PYEOF' || fail "tool observations"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
gens = sorted((r for r in recs if r["type"] == "generation"),
              key=lambda r: int(r["start_ns"]))
tools = sorted((r for r in recs if r["type"] == "tool"),
               key=lambda r: int(r["start_ns"]))
assert [t["output"] for t in tools] == ["18C and sunny", "09:00"], tools
for i, t in enumerate(tools):
    assert t["input"] == {"city": "Paris"}, t["input"]
    assert t["start_ns"] == gens[i]["end_ns"], (t, gens[i])
    assert t["end_ns"] == gens[i + 1]["start_ns"], (t, gens[i + 1])
    assert t["operation"] == "execute_tool"
    assert t["metadata"]["tool_call_id"].startswith("call_")
root = next(r for r in recs if r["type"] == "span")
# The trace is named after the outermost application frame below main()
# (docs/nesting.md, rule 6).
assert root["trace_name"] == "conv_run", root
assert root["metadata"]["generations"] == 3, root["metadata"]
assert root["input"][0]["parts"][0]["content"].startswith("What should I")
assert root["output"][0]["parts"][0]["content"].startswith("The tool returned")
PYEOF
  # autotrace show draws the tools in the tree.
  cli show last --spool "$T/spool" --color=never >"$T/show.txt"
  cat "$T/show.txt"
  grep -q '─ tool get_weather' "$T/show.txt" || fail "show: no tool line"
}

case_multi_turn_chat() {
  start_mock
  agent chat
  expect_tree "trace 1 session=same
span nest_agent
  span conv_run
    generation Hello there
trace 2 session=same
span nest_agent
  span conv_run
    generation What is two
trace 3 session=same
span nest_agent
  span conv_run
    generation Thank you" "$(tree_of "$T/spool" --session)"
  cli ls --spool "$T/spool" >"$T/ls.txt"
  cat "$T/ls.txt"
  [ "$(grep -c conv_run "$T/ls.txt")" = 3 ] ||
    fail "ls does not list three traces"
}

case_two_conversations_two_threads() {
  start_mock
  agent two
  expect_tree "trace 1
span nest_agent
  generation Weather in Paris
  tool get_weather
  generation <- 18C and sunny
trace 2
span nest_agent
  generation Weather in Oslo
  tool get_weather
  generation <- 18C and sunny" "$(tree_of "$T/spool")"
  # Each conversation on its own thread.
  "$PY" - "$T/recs.jsonl" <<'PYEOF' || fail "threads"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
by_trace = {}
for r in recs:
    if r["type"] == "generation":
        by_trace.setdefault(r["trace_id"], set()).add(r["process"]["tid"])
assert len(by_trace) == 2 and all(len(s) == 1 for s in by_trace.values())
assert len(set.union(*by_trace.values())) == 2, by_trace
PYEOF
}

case_retries() {
  start_mock
  agent retry
  # The failed first attempt is made from main itself; the retried
  # conversation runs in conv_run.
  expect_tree "trace 1
span nest_agent
  generation (error)
  span conv_run
    generation Weather in Rome
    tool get_weather
    generation <- 18C and sunny" "$(tree_of "$T/spool")"
}

case_python_tool_loop() {
  # Python's urllib over HTTPS: the OpenSSL capture path; the client
  # trusts the mock's throwaway certificate through SSL_CERT_FILE.
  start_mock --tls
  run_traced py "$T/spool" "SSL_CERT_FILE=$CERT" "$PY" \
    "$ROOT/tests/tools/nest_agent.py" "$MOCK_URL/v1"
  [ "$RC" = 0 ] || fail "nest_agent.py failed: $(cat "$T/py.traced.err")"
  expect_tree "trace 1
span nest_agent.py
  generation What should I
  tool get_weather
  generation <- 18C and sunny
  tool get_time
  generation <- 09:00" "$(tree_of "$T/spool")"
}

case_planner_executor() {
  start_mock
  agent plan
  # Three unrelated requests from three named functions: three traces
  # (rule 5: no shared history), each call under the spans of the
  # functions it was made from (rule 4).
  expect_tree "trace 1
span nest_agent
  span plan
    span conv_run
      generation Plan a day
trace 2
span nest_agent
  span execute
    span conv_run
      generation Execute the first
      tool get_weather
      generation <- 18C and sunny
trace 3
span nest_agent
  span summarize
    span conv_run
      generation Summarize the day" "$(tree_of "$T/spool")"
}

case_subagent_in_thread() {
  start_mock
  agent subthread
  # The research tool runs a conversation on a thread it creates: an
  # agent under the tool, named after the thread's function.
  expect_tree "trace 1
span nest_agent
  span conv_run
    generation Write a guide
    tool research
      agent research_thread
        span conv_run
          generation Research the history
    generation <- notes on Lyon" "$(tree_of "$T/spool")"
}

case_subagent_in_child_process() {
  start_mock
  agent subproc
  # The research tool is a child process (fork + exec): the spawn is an
  # agent under the tool, the child's process span under it.
  expect_tree "trace 1
span nest_agent
  span conv_run
    generation Write a guide
    tool research
      agent nest_agent
        span nest_agent
          span conv_run
            generation Research the history
    generation <- notes on Lyon" "$(tree_of "$T/spool")"
  check "$T/recs.jsonl" --where type=generation --count 3 --same trace_id
}

case_parallel_tools_on_threads() {
  start_mock
  agent parallel
  # One answer asks for two tools; the program runs each on its own
  # thread and sends both results in one request: two tool observations
  # side by side, both from the end of the first call to the start of the
  # second, with their arguments and results.
  expect_tree "trace 1
span nest_agent
  span parallel_run
    generation Weather and time
    tool get_weather
    tool get_time
    span conv_run
      generation <- 09:00" "$(tree_of "$T/spool")"
  "$PY" - "$T/recs.jsonl" <<'PYEOF' || fail "parallel tools"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
gens = sorted((r for r in recs if r["type"] == "generation"),
              key=lambda r: int(r["start_ns"]))
tools = {r["name"]: r for r in recs if r["type"] == "tool"}
assert set(tools) == {"get_weather", "get_time"}, tools
assert tools["get_weather"]["output"] == "18C and sunny"
assert tools["get_time"]["output"] == "09:00"
for t in tools.values():
    assert t["input"] == {"city": "Paris"}, t
    assert t["start_ns"] == gens[0]["end_ns"] and t["end_ns"] == gens[1]["start_ns"], t
PYEOF
}

run_cases case_sequential_tool_loop case_multi_turn_chat \
  case_two_conversations_two_threads case_retries case_python_tool_loop \
  case_planner_executor case_subagent_in_thread case_subagent_in_child_process \
  case_parallel_tools_on_threads
