#!/usr/bin/python3
"""render_tree: print the traces of an `autotrace export --format jsonl`
file as text trees, in the form tests/unit/nest/harness.c prints them, so
that a test can compare a whole tree at once.

    render_tree.py RECORDS.jsonl [--session]

Traces in order of their earliest start; in each, "type name" per line,
two spaces of indent per level, siblings by start time then by the order
the spool holds them. A record whose parent is not in its trace is a root.
Generations are named "generation <first words of the last question or
tool result>" so that a test can tell them apart; --session appends the
trace's session id ("same" when it equals the first trace's id).
"""
import json
import sys


def label(r):
    if r.get("type") != "generation":
        return r.get("name", "")
    if r.get("level") == "ERROR":
        return "(error)"
    msgs = r.get("input") or []
    last = msgs[-1] if msgs else {}
    for p in last.get("parts", []):
        if p.get("type") == "text":
            return " ".join(p.get("content", "").split()[:3])
        if p.get("type") == "tool_call_response":
            return "<- " + str(p.get("response", ""))
    return ""


def main():
    recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    with_session = "--session" in sys.argv
    traces = {}
    for i, r in enumerate(recs):
        r["_i"] = i
        traces.setdefault(r["trace_id"], []).append(r)
    order = sorted(traces, key=lambda t: min(int(r["start_ns"])
                                             for r in traces[t]))
    first = order[0] if order else None
    out = []
    for n, t in enumerate(order, 1):
        rs = traces[t]
        ids = {r["id"] for r in rs}
        head = "trace %d" % n
        if with_session:
            s = next((r["session_id"] for r in rs if r.get("session_id")),
                     None)
            head += " session=%s" % ("same" if s == first else s)
        out.append(head)

        def walk(parent, depth):
            kids = [r for r in rs if (r.get("parent_id") if
                                      r.get("parent_id") in ids else None)
                    == parent]
            kids.sort(key=lambda r: (int(r["start_ns"]), r["_i"]))
            for k in kids:
                out.append("%s%s %s" % ("  " * depth, k["type"], label(k)))
                walk(k["id"], depth + 1)
        walk(None, 0)
    print("\n".join(out))


if __name__ == "__main__":
    main()
