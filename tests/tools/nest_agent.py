#!/usr/bin/python3
"""nest_agent.py: a Python tool loop with urllib (no SDK), the case where no
useful C stack exists and the tree must come from the conversation alone.

    nest_agent.py BASE_URL      (BASE_URL: http://127.0.0.1:PORT/v1)

Asks one question offering two tools; the mock calls get_weather, then
get_time (x-mock-tool-rounds: 2), then answers. Prints each answer.
"""
import json
import sys
import urllib.request

TOOLS = [{"type": "function", "function": {
    "name": n, "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}}
    for n in ("get_weather", "get_time")]
RESULTS = {"get_weather": "18C and sunny", "get_time": "09:00"}


def post(base, messages):
    body = json.dumps({"model": "gpt-4o-mini", "messages": messages,
                       "tools": TOOLS}).encode()
    req = urllib.request.Request(
        base + "/chat/completions", data=body, method="POST",
        headers={"Content-Type": "application/json",
                 "Authorization": "Bearer sk-test-SECRET123",
                 "x-mock-tool-rounds": "2"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def main():
    base = sys.argv[1]
    messages = [{"role": "user",
                 "content": "What should I wear in Paris this morning?"}]
    for _ in range(8):
        msg = post(base, messages)["choices"][0]["message"]
        calls = msg.get("tool_calls") or []
        # Sent back re-serialised, as SDKs do: only the fields they keep.
        messages.append({"role": "assistant", "content": msg.get("content"),
                         "tool_calls": calls} if calls else
                        {"role": "assistant", "content": msg["content"]})
        if not calls:
            print("assistant>", msg["content"])
            return 0
        for c in calls:
            name = c["function"]["name"]
            print("assistant> (calls %s)" % name)
            messages.append({"role": "tool", "tool_call_id": c["id"],
                             "content": RESULTS.get(name, "?")})
    return 1


if __name__ == "__main__":
    sys.exit(main())
