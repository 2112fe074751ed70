#!/usr/bin/python3
"""check_records: assertions on autotrace observation records.

    check_records.py FILE [selection] [assertions]   (FILE: jsonl, "-" stdin)
    check_records.py --otlp FILE [--spans N] [--gen-spans N]

FILE is what `autotrace export --format jsonl` printed. Every record is
first checked against docs/record-schema.md (v, kind, hex ids, decimal-string
times in order, no null values, known type and level). Then the selection
picks records and each assertion must hold for every selected record.

Selection (all given filters must hold):
  --where PATH=VALUE        the value at PATH equals VALUE
  --where-has PATH          PATH is present
  --where-absent PATH       PATH is absent
  --where-contains PATH=S   the string at PATH contains S
  --count N                 exactly N records are selected (default: >= 1)

Assertions on each selected record:
  --eq PATH=VALUE           equal (VALUE parsed as JSON when it parses:
                            429, true, "x", [..]; else taken as a string)
  --ne PATH=VALUE           not equal (absent counts as not equal)
  --contains PATH=S         the string at PATH contains S
  --re PATH=REGEX           the string at PATH matches (re.search)
  --present PATH            the key exists
  --absent PATH             the key does not exist
  --ge PATH=N / --le PATH=N numeric bounds (decimal strings count as numbers)
  --len PATH=N              array/object/string length
  --order P1,P2,...         numeric values in non-decreasing order
  --echo                    the output text contains the text of the last
                            user message (the mock's answers quote it)
  --parent-type TYPE        parent_id names a record of this type in FILE
  --root                    no parent_id

Assertions on the selection as a whole:
  --distinct PATH           values differ between records
  --same PATH               values are all equal

PATH is dotted, with numeric indices for arrays: output.0.parts.0.content.
Exit status: 0 when all hold, 1 with a message on the first failure, 2 for
usage errors.
"""

import json
import re
import sys

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
NS = re.compile(r"^[0-9]{1,20}$")
TYPES = {"generation", "embedding", "span", "agent", "tool", "retriever",
         "event", "chain", "evaluator", "guardrail"}
LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}
MISSING = object()


class Fail(Exception):
    pass


def short(rec, limit=1500):
    s = json.dumps(rec, sort_keys=True)
    return s if len(s) <= limit else s[:limit] + "...(%d bytes)" % len(s)


def get(rec, path):
    cur = rec
    for part in path.split("."):
        if isinstance(cur, dict):
            if part not in cur:
                return MISSING
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                i = int(part)
            except ValueError:
                return MISSING
            if i < -len(cur) or i >= len(cur):
                return MISSING
            cur = cur[i]
        else:
            return MISSING
    return cur


def jeq(a, b):
    """JSON equality: true is not 1, 1 equals 1.0, containers deeply."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(jeq(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(jeq(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def parse_value(s):
    try:
        return json.loads(s)
    except ValueError:
        return s


def split_kv(arg, opt):
    if "=" not in arg:
        raise SystemExit("check_records: %s needs PATH=VALUE, got %r" %
                         (opt, arg))
    k, v = arg.split("=", 1)
    return k, v


def number(v, what):
    if isinstance(v, bool):
        raise Fail("%s is a boolean, not a number" % what)
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and re.match(r"^-?[0-9]+(\.[0-9]+)?$", v):
        return float(v) if "." in v else int(v)
    raise Fail("%s is not a number: %r" % (what, v))


def no_nulls(v, path):
    if v is None:
        raise Fail("null value at %s (unknown values must be absent)" % path)
    if isinstance(v, dict):
        for k, x in v.items():
            no_nulls(x, path + "." + k if path else k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            no_nulls(x, "%s.%d" % (path, i))


def check_schema(rec):
    """The rules of docs/record-schema.md that hold for every record."""
    if not isinstance(rec, dict):
        raise Fail("record is not an object")
    no_nulls(rec, "")
    if rec.get("v") != 1:
        raise Fail("v is %r, expected 1" % rec.get("v"))
    if rec.get("kind") != "observation":
        raise Fail("kind is %r" % rec.get("kind"))
    if not isinstance(rec.get("id"), str) or not HEX16.match(rec["id"]):
        raise Fail("id is not 16 lowercase hex digits: %r" % rec.get("id"))
    if not isinstance(rec.get("trace_id"), str) or \
            not HEX32.match(rec["trace_id"]) or \
            rec["trace_id"] == "0" * 32:
        raise Fail("trace_id is not 32 lowercase hex digits: %r" %
                   rec.get("trace_id"))
    if "parent_id" in rec and (not isinstance(rec["parent_id"], str) or
                               not HEX16.match(rec["parent_id"])):
        raise Fail("parent_id is not 16 lowercase hex digits: %r" %
                   rec["parent_id"])
    if rec.get("type") not in TYPES:
        raise Fail("unknown type %r" % rec.get("type"))
    for k in ("start_ns", "end_ns", "completion_start_ns"):
        if k in rec and (not isinstance(rec[k], str) or not NS.match(rec[k])):
            raise Fail("%s is not a decimal string of ns: %r" % (k, rec[k]))
    if "start_ns" not in rec:
        raise Fail("start_ns is missing")
    if "end_ns" in rec and int(rec["end_ns"]) < int(rec["start_ns"]):
        raise Fail("end_ns %s is before start_ns %s" %
                   (rec["end_ns"], rec["start_ns"]))
    # Plausible Unix times: after 2020, before 2100.
    if not 1577836800 * 10**9 < int(rec["start_ns"]) < 4102444800 * 10**9:
        raise Fail("start_ns %s is not a plausible Unix time in ns" %
                   rec["start_ns"])
    if "level" in rec and rec["level"] not in LEVELS:
        raise Fail("unknown level %r" % rec["level"])
    for k in ("provider", "request_model", "response_model", "response_id",
              "name", "session_id", "user_id", "trace_name"):
        if k in rec and (not isinstance(rec[k], str) or rec[k] == ""):
            raise Fail("%s must be a non-empty string when present: %r" %
                       (k, rec[k]))
    # Embeddings carry their own input (the texts) and output (a summary
    # of the vectors), tools their arguments and result (any JSON);
    # every other type holds messages.
    free_io = rec["type"] in ("embedding", "tool")
    msg_keys = ("finish_reasons", "tags") if free_io \
        else ("input", "output", "finish_reasons", "tags")
    for k in msg_keys:
        if k in rec and not isinstance(rec[k], list):
            raise Fail("%s must be an array" % k)
    for k in ("usage", "usage_details", "cost_details", "http", "metadata",
              "model_parameters", "process"):
        if k in rec and not isinstance(rec[k], dict):
            raise Fail("%s must be an object" % k)
    for k, v in rec.get("usage", {}).items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise Fail("usage.%s must be a non-negative integer: %r" % (k, v))
    http = rec.get("http", {})
    if "status" in http and (isinstance(http["status"], bool) or
                             not isinstance(http["status"], int)):
        raise Fail("http.status must be an integer: %r" % http["status"])
    for side in ("request_headers", "response_headers"):
        for name in http.get(side, {}):
            if name != name.lower():
                raise Fail("http.%s name %r is not lowercase" % (side, name))
    msgs = [] if free_io else \
        rec.get("input", []) + rec.get("output", [])
    for m in msgs:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) \
                or not isinstance(m.get("parts"), list):
            raise Fail("message without role and parts: %r" % (m,))
        for p in m["parts"]:
            if not isinstance(p, dict) or not isinstance(p.get("type"), str):
                raise Fail("message part without type: %r" % (p,))


def text_parts(msgs, role=None):
    out = []
    for m in msgs or []:
        if role and m.get("role") != role:
            continue
        for p in m.get("parts", []):
            if p.get("type") == "text" and isinstance(p.get("content"), str):
                out.append(p["content"])
    return out


def load_jsonl(path):
    f = sys.stdin if path == "-" else open(path, encoding="utf-8")
    recs = []
    with f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                recs.append(json.loads(line))
            except ValueError as e:
                raise Fail("%s:%d: not JSON (%s): %r" %
                           (path, n, e, line[:200]))
    return recs


# ---- OTLP ----


def check_otlp(path, want_spans, want_gen):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans"),
                                                   list):
        raise Fail("no resourceSpans array")
    spans = []
    for rs in doc["resourceSpans"]:
        res = rs.get("resource", {})
        check_attrs(res.get("attributes", []), "resource")
        if not isinstance(rs.get("scopeSpans"), list):
            raise Fail("resourceSpans[] without scopeSpans")
        for ss in rs["scopeSpans"]:
            if "scope" in ss and not isinstance(ss["scope"], dict):
                raise Fail("scope must be an object")
            for sp in ss.get("spans", []):
                spans.append(sp)
    for sp in spans:
        what = "span %r" % sp.get("name")
        if not isinstance(sp.get("traceId"), str) or \
                not HEX32.match(sp["traceId"].lower()):
            raise Fail("%s: traceId is not 32 hex digits" % what)
        if not isinstance(sp.get("spanId"), str) or \
                not HEX16.match(sp["spanId"].lower()):
            raise Fail("%s: spanId is not 16 hex digits" % what)
        if sp.get("parentSpanId", "") != "" and \
                not HEX16.match(str(sp["parentSpanId"]).lower()):
            raise Fail("%s: parentSpanId is not 16 hex digits" % what)
        if not isinstance(sp.get("name"), str) or not sp["name"]:
            raise Fail("span without a name")
        k = sp.get("kind")
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 5:
            raise Fail("%s: kind must be an integer 0..5, got %r" % (what, k))
        for t in ("startTimeUnixNano", "endTimeUnixNano"):
            if not isinstance(sp.get(t), str) or not NS.match(sp[t]):
                raise Fail("%s: %s must be a decimal string, got %r" %
                           (what, t, sp.get(t)))
        if int(sp["endTimeUnixNano"]) < int(sp["startTimeUnixNano"]):
            raise Fail("%s: ends before it starts" % what)
        check_attrs(sp.get("attributes", []), what)
        st = sp.get("status")
        if st is not None:
            if not isinstance(st, dict) or ("code" in st and (
                    isinstance(st["code"], bool) or
                    not isinstance(st["code"], int))):
                raise Fail("%s: status.code must be an integer" % what)
    if want_spans is not None and len(spans) != want_spans:
        raise Fail("%d spans in the OTLP export, expected %d" %
                   (len(spans), want_spans))
    # Model calls: an operation other than the tool and agent spans the
    # nesting engine infers (execute_tool, invoke_agent).
    gen = [sp for sp in spans if any(
        a.get("key") == "gen_ai.operation.name" and
        a.get("value", {}).get("stringValue") not in ("execute_tool",
                                                      "invoke_agent")
        for a in sp.get("attributes", []))]
    if want_gen is not None and len(gen) != want_gen:
        raise Fail("%d spans with gen_ai.operation.name, expected %d" %
                   (len(gen), want_gen))
    for sp in gen:
        keys = {a["key"] for a in sp.get("attributes", [])}
        for need in ("gen_ai.request.model",):
            if need not in keys:
                raise Fail("span %r lacks attribute %s" % (sp["name"], need))
    return len(spans)


def check_anyvalue(v, what):
    if not isinstance(v, dict) or len(v) != 1:
        raise Fail("%s: AnyValue must be an object with one key: %r" %
                   (what, v))
    (k, x), = v.items()
    if k == "stringValue":
        ok = isinstance(x, str)
    elif k == "boolValue":
        ok = isinstance(x, bool)
    elif k == "intValue":
        ok = isinstance(x, str) and re.match(r"^-?[0-9]+$", x) or \
            (isinstance(x, int) and not isinstance(x, bool))
    elif k == "doubleValue":
        ok = isinstance(x, (int, float)) and not isinstance(x, bool)
    elif k == "arrayValue":
        ok = isinstance(x, dict) and isinstance(x.get("values", []), list)
        if ok:
            for y in x.get("values", []):
                check_anyvalue(y, what)
    elif k == "kvlistValue":
        ok = isinstance(x, dict)
        if ok:
            check_attrs(x.get("values", []), what)
    elif k == "bytesValue":
        ok = isinstance(x, str)
    else:
        ok = False
    if not ok:
        raise Fail("%s: bad AnyValue %r" % (what, v))


def check_attrs(attrs, what):
    if not isinstance(attrs, list):
        raise Fail("%s: attributes must be a KeyValue list" % what)
    seen = set()
    for a in attrs:
        if not isinstance(a, dict) or not isinstance(a.get("key"), str):
            raise Fail("%s: attribute without key: %r" % (what, a))
        if a["key"] in seen:
            raise Fail("%s: attribute %s twice" % (what, a["key"]))
        seen.add(a["key"])
        check_anyvalue(a.get("value"), "%s attribute %s" % (what, a["key"]))


# ---- main ----


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stdout.write(__doc__)
        return 2
    if argv[1] == "--otlp":
        if len(argv) < 3:
            return 2
        want_spans = want_gen = None
        i = 3
        while i < len(argv):
            if argv[i] == "--spans" and i + 1 < len(argv):
                want_spans = int(argv[i + 1])
            elif argv[i] == "--gen-spans" and i + 1 < len(argv):
                want_gen = int(argv[i + 1])
            else:
                raise SystemExit("check_records: unknown OTLP option %r" %
                                 argv[i])
            i += 2
        n = check_otlp(argv[2], want_spans, want_gen)
        print("ok: OTLP export with %d spans" % n)
        return 0

    path = argv[1]
    where, checks, whole = [], [], []
    count = None
    i = 2
    nullary = {"--echo", "--root"}
    while i < len(argv):
        opt = argv[i]
        if opt in nullary:
            checks.append((opt, None))
            i += 1
            continue
        if i + 1 >= len(argv):
            raise SystemExit("check_records: %s needs an argument" % opt)
        arg = argv[i + 1]
        i += 2
        if opt == "--count":
            count = int(arg)
        elif opt in ("--where", "--where-contains", "--where-has",
                     "--where-absent"):
            where.append((opt, arg))
        elif opt in ("--distinct", "--same"):
            whole.append((opt, arg))
        elif opt in ("--eq", "--ne", "--contains", "--re", "--present",
                     "--absent", "--ge", "--le", "--len", "--order",
                     "--parent-type"):
            checks.append((opt, arg))
        else:
            raise SystemExit("check_records: unknown option %r" % opt)

    recs = load_jsonl(path)
    for n, r in enumerate(recs, 1):
        try:
            check_schema(r)
        except Fail as e:
            raise Fail("record %d breaks the schema: %s\n  %s" %
                       (n, e, short(r)))
    by_id = {r["id"]: r for r in recs}

    def selected(r):
        for opt, arg in where:
            if opt == "--where-has":
                if get(r, arg) is MISSING:
                    return False
                continue
            if opt == "--where-absent":
                if get(r, arg) is not MISSING:
                    return False
                continue
            k, v = split_kv(arg, opt)
            got = get(r, k)
            if opt == "--where":
                if not jeq(got, parse_value(v)):
                    return False
            elif not isinstance(got, str) or v not in got:
                return False
        return True

    sel = [r for r in recs if selected(r)]
    desc = " ".join("%s %s" % w for w in where) or "(all)"
    if count is not None and len(sel) != count:
        summary = "\n".join("  " + short(r, 400) for r in recs[:40])
        raise Fail("selection %s: %d records, expected %d; the file has %d:"
                   "\n%s" % (desc, len(sel), count, len(recs), summary))
    if count is None and not sel:
        raise Fail("selection %s matched no record (of %d)" %
                   (desc, len(recs)))

    for r in sel:
        for opt, arg in checks:
            try:
                check_one(r, opt, arg, by_id)
            except Fail as e:
                raise Fail("%s %s: %s\n  record: %s" %
                           (opt, arg if arg is not None else "", e, short(r)))
    for opt, arg in whole:
        vals = [get(r, arg) for r in sel]
        if any(v is MISSING for v in vals):
            raise Fail("%s %s: missing in some records" % (opt, arg))
        keys = [json.dumps(v, sort_keys=True) for v in vals]
        if opt == "--distinct" and len(set(keys)) != len(keys):
            raise Fail("%s %s: values repeat: %s" % (opt, arg, keys))
        if opt == "--same" and len(set(keys)) > 1:
            raise Fail("%s %s: values differ: %s" % (opt, arg, keys))
    print("ok: %d record(s) %s" % (len(sel), desc))
    return 0


def check_one(r, opt, arg, by_id):
    if opt == "--present":
        if get(r, arg) is MISSING:
            raise Fail("absent")
        return
    if opt == "--absent":
        if get(r, arg) is not MISSING:
            raise Fail("present: %r" % (get(r, arg),))
        return
    if opt == "--root":
        if "parent_id" in r:
            raise Fail("has parent_id %s" % r["parent_id"])
        return
    if opt == "--parent-type":
        p = r.get("parent_id")
        if p is None:
            raise Fail("no parent_id")
        if p not in by_id:
            raise Fail("parent %s is not in the export" % p)
        if by_id[p].get("type") != arg:
            raise Fail("parent %s has type %r" % (p, by_id[p].get("type")))
        return
    if opt == "--echo":
        users = text_parts(r.get("input"), "user")
        if not users:
            raise Fail("no user text in input")
        out = " ".join(text_parts(r.get("output")))
        if users[-1] not in out:
            raise Fail("output %r does not quote the last user message %r" %
                       (out, users[-1]))
        return
    if opt == "--order":
        paths = arg.split(",")
        vals = []
        for p in paths:
            v = get(r, p)
            if v is MISSING:
                raise Fail("%s is absent" % p)
            vals.append(number(v, p))
        for a, b, pa, pb in zip(vals, vals[1:], paths, paths[1:]):
            if a > b:
                raise Fail("%s (%s) > %s (%s)" % (pa, a, pb, b))
        return
    k, v = split_kv(arg, opt)
    got = get(r, k)
    if got is MISSING and opt == "--ne":
        return  # absent is "not equal"
    if got is MISSING:
        raise Fail("%s is absent" % k)
    if opt == "--eq":
        if not jeq(got, parse_value(v)):
            raise Fail("%s is %r, expected %r" % (k, got, parse_value(v)))
    elif opt == "--ne":
        if jeq(got, parse_value(v)):
            raise Fail("%s is %r" % (k, got))
    elif opt == "--contains":
        if not isinstance(got, str) or v not in got:
            raise Fail("%s is %r, expected it to contain %r" % (k, got, v))
    elif opt == "--re":
        if not isinstance(got, str) or not re.search(v, got):
            raise Fail("%s is %r, expected to match /%s/" % (k, got, v))
    elif opt == "--ge":
        if number(got, k) < number(v, "bound"):
            raise Fail("%s is %r < %s" % (k, got, v))
    elif opt == "--le":
        if number(got, k) > number(v, "bound"):
            raise Fail("%s is %r > %s" % (k, got, v))
    elif opt == "--len":
        if not isinstance(got, (list, dict, str)) or len(got) != int(v):
            raise Fail("%s has length %s, expected %s" %
                       (k, len(got) if hasattr(got, "__len__") else "-", v))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Fail as e:
        sys.stderr.write("check_records: FAIL: %s\n" % e)
        sys.exit(1)
    except (OSError, ValueError) as e:
        sys.stderr.write("check_records: error: %s\n" % e)
        sys.exit(1)
