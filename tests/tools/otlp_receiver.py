#!/usr/bin/python3
"""otlp_receiver: a strict OTLP/HTTP JSON and Langfuse receiver for the
tests of `autotrace upload`. Standard library only; 127.0.0.1 only.

    otlp_receiver.py serve [--port 0] [--port-file F] [--public-key PK
                     --secret-key SK] [--mode validate|fast] [--log F]
                     [--exit-with-parent] [--max-seconds N]
    otlp_receiver.py ctl PORT stats | spans | dump | reset
    otlp_receiver.py ctl PORT queue  'JSON list of actions'
    otlp_receiver.py ctl PORT default 'JSON action'
    otlp_receiver.py ctl PORT chaos P         (see --chaos)
    otlp_receiver.py ctl PORT verify IDS_FILE   (exit 1 on any problem)
    otlp_receiver.py ctl PORT wait SPANS SECONDS (until that many distinct
                     span ids arrived; exit 1 on timeout)

Endpoints:
  POST /v1/traces                    any OTLP/HTTP JSON exporter
  POST /api/public/otel/v1/traces    Langfuse's OTLP endpoint: also needs
                                     Basic auth (when keys are given) and
                                     x-langfuse-ingestion-version: 4
  POST /api/public/ingestion         Langfuse's legacy batch API (207)
  /_ctl/...                          the control calls above; also
                                     GET /_ctl/stat/KEY: one stats value
                                     as text (for curl)

--chaos P answers a fraction P of the requests (not taken from the queue)
with a random failure: 503, 500, 429 + Retry-After, a reset, a timeout or
a slow body.

Every ingest request is checked (--mode validate, the default) against the
OTLP/HTTP JSON rules of ../shared/research/otel.md §5 — lowercase hex ids
of the right length and not all zero, 64-bit integers (times, intValue) as
decimal strings, enums as integers, attributes as lists of {key, value}
with exactly one AnyValue — and against what Langfuse reads
(../shared/research/langfuse.md §4): langfuse.observation.* attributes of
the right form (JSON object strings for usage/cost/parameters, a known
type and level, an ISO completion start time). A request that breaks a rule
gets 400 and the breach is listed in `stats` under "violations".

Every span that arrives is kept by span id with its exact JSON (keys
sorted); a span that arrives again must be identical ("mismatches" lists
those that are not), and "repeats" counts the re-deliveries.

Actions (what the next requests get, from the queue, else the default):
  {"status": N, "message": M, "retry_after": S}   answer N (JSON body)
  {"status": 200, "partial": K}     OTLP partialSuccess, K spans rejected
  {"status": 207, "fail_first": true}   legacy: first observation event
                                    refused with a per-event 400
  {"status": 207, "fail_500": true} legacy: a per-event 500
  {"action": "timeout", "seconds": S}   take the spans, never answer
                                    (close after S seconds)
  {"action": "reset"}               read the request, then reset the
                                    connection (nothing recorded)
  {"action": "slow", "seconds": S}  take the spans, answer 200 with a
                                    body trickled over S seconds
Spans are recorded only when the answer is a 2xx (or for "timeout" and
"slow", where the server took them before the client gave up).
"""

import argparse
import base64
import gzip
import http.server
import json
import os
import random
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.request

HEX = re.compile(r"^[0-9a-f]+$")
DEC = re.compile(r"^-?[0-9]+$")
ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
OBS_TYPES = {"span", "generation", "event", "embedding", "agent", "tool",
             "chain", "retriever", "guardrail", "evaluator"}
LEVELS = {"DEBUG", "DEFAULT", "WARNING", "ERROR"}
LEGACY_TYPES = {"trace-create", "span-create", "span-update",
                "generation-create", "generation-update", "event-create",
                "agent-create", "tool-create", "chain-create",
                "retriever-create", "evaluator-create", "embedding-create",
                "guardrail-create", "score-create", "sdk-log"}


# --chaos P: each request gets one of these with probability P.
CHAOS = [{"status": 503}, {"status": 500}, {"status": 429, "retry_after": 1},
         {"action": "reset"}, {"action": "timeout", "seconds": 0.6},
         {"action": "slow", "seconds": 0.4}]


class Bad(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Bad(msg)


def check_hex(v, n, what, allow_empty=False):
    if allow_empty and v == "":
        return
    need(isinstance(v, str) and len(v) == n and HEX.match(v)
         and set(v) != {"0"}, f"{what}: {v!r} is not {n} lowercase hex "
         "digits (not all zero)")


def check_any(v, where, depth=0):
    need(depth < 32, f"{where}: nesting too deep")
    need(isinstance(v, dict) and len(v) == 1,
         f"{where}: an AnyValue is an object with exactly one field, got "
         f"{v!r:.80}")
    (k, x), = v.items()
    if k == "stringValue":
        need(isinstance(x, str), f"{where}: stringValue must be a string")
    elif k == "boolValue":
        need(isinstance(x, bool), f"{where}: boolValue must be a boolean")
    elif k == "intValue":
        need(isinstance(x, str) and DEC.match(x),
             f"{where}: intValue must be a decimal string, got {x!r}")
    elif k == "doubleValue":
        need(isinstance(x, (int, float)) and not isinstance(x, bool),
             f"{where}: doubleValue must be a number")
    elif k == "arrayValue":
        need(isinstance(x, dict) and isinstance(x.get("values", []), list),
             f"{where}: arrayValue must be {{values: [...]}}")
        for i, e in enumerate(x.get("values", [])):
            check_any(e, f"{where}[{i}]", depth + 1)
    elif k == "kvlistValue":
        need(isinstance(x, dict), f"{where}: kvlistValue must be an object")
        check_kvs(x.get("values", []), where, depth + 1)
    elif k == "bytesValue":
        need(isinstance(x, str), f"{where}: bytesValue must be base64")
        base64.b64decode(x, validate=True)
    else:
        raise Bad(f"{where}: unknown AnyValue field {k!r}")


def check_kvs(attrs, where, depth=0):
    need(isinstance(attrs, list),
         f"{where}: attributes must be a list of KeyValue, not "
         f"{type(attrs).__name__}")
    seen = set()
    out = {}
    for kv in attrs:
        need(isinstance(kv, dict) and set(kv) == {"key", "value"},
             f"{where}: a KeyValue is exactly {{key, value}}, got "
             f"{kv!r:.80}")
        k = kv["key"]
        need(isinstance(k, str) and k, f"{where}: empty key")
        need(k not in seen, f"{where}: duplicate key {k}")
        seen.add(k)
        check_any(kv["value"], f"{where}.{k}", depth)
        out[k] = kv["value"]
    return out


def json_string(attrs, key, where, kind=None):
    v = attrs.get(key)
    if v is None:
        return None
    need("stringValue" in v, f"{where}: {key} must be a JSON string")
    try:
        parsed = json.loads(v["stringValue"])
    except ValueError:
        raise Bad(f"{where}: {key} is not valid JSON")
    if kind is not None:
        need(isinstance(parsed, kind), f"{where}: {key} must hold a JSON "
             f"{kind.__name__}")
    return parsed


def check_langfuse_attrs(a, where):
    """What Langfuse's OtelIngestionProcessor reads (langfuse.md §4)."""
    t = a.get("langfuse.observation.type")
    if t is not None:
        need(t.get("stringValue") in OBS_TYPES,
             f"{where}: langfuse.observation.type {t!r} is not a type "
             "Langfuse knows")
    lvl = a.get("langfuse.observation.level")
    if lvl is not None:
        need(lvl.get("stringValue") in LEVELS, f"{where}: level {lvl!r}")
    json_string(a, "langfuse.observation.input", where)
    json_string(a, "langfuse.observation.output", where)
    json_string(a, "langfuse.observation.model.parameters", where, dict)
    ud = json_string(a, "langfuse.observation.usage_details", where, dict)
    if ud is not None:
        for k, v in ud.items():
            need(isinstance(v, int) and not isinstance(v, bool) and v >= 0,
                 f"{where}: usage_details.{k} must be a non-negative integer")
    cd = json_string(a, "langfuse.observation.cost_details", where, dict)
    if cd is not None:
        for k, v in cd.items():
            need(isinstance(v, (int, float)) and not isinstance(v, bool)
                 and v >= 0, f"{where}: cost_details.{k} must be a number")
    cst = a.get("langfuse.observation.completion_start_time")
    if cst is not None:
        need(ISO.match(cst.get("stringValue", "")),
             f"{where}: completion_start_time must be an ISO time")
    for k in ("session.id", "user.id"):
        v = a.get(k)
        if v is not None:
            s = v.get("stringValue")
            need(isinstance(s, str) and len(s) < 200,
                 f"{where}: {k} must be a string under 200 characters")
    tags = a.get("langfuse.trace.tags")
    if tags is not None:
        need("arrayValue" in tags or "stringValue" in tags,
             f"{where}: langfuse.trace.tags")
    for k, v in a.items():
        if k.startswith("gen_ai.usage."):
            need("intValue" in v and int(v["intValue"]) >= 0,
                 f"{where}: {k} must be a non-negative intValue")


def check_otlp(req, langfuse):
    """Returns the spans (as (span id, canonical JSON)) of a valid request."""
    need(isinstance(req, dict), "the body must be a JSON object")
    rss = req.get("resourceSpans")
    need(isinstance(rss, list), "resourceSpans must be a list")
    out = []
    for i, rs in enumerate(rss):
        w = f"resourceSpans[{i}]"
        need(isinstance(rs, dict), f"{w} must be an object")
        res = rs.get("resource", {})
        ra = check_kvs(res.get("attributes", []), f"{w}.resource")
        need("service.name" in ra and "stringValue" in ra["service.name"],
             f"{w}: resource has no service.name")
        sss = rs.get("scopeSpans")
        need(isinstance(sss, list), f"{w}.scopeSpans must be a list")
        for j, ss in enumerate(sss):
            ws = f"{w}.scopeSpans[{j}]"
            need(isinstance(ss, dict), f"{ws} must be an object")
            scope = ss.get("scope", {})
            need(isinstance(scope, dict) and isinstance(scope.get("name", ""),
                                                        str), f"{ws}.scope")
            spans = ss.get("spans")
            need(isinstance(spans, list), f"{ws}.spans must be a list")
            for k, sp in enumerate(spans):
                wk = f"{ws}.spans[{k}]"
                need(isinstance(sp, dict), f"{wk} must be an object")
                check_hex(sp.get("traceId"), 32, f"{wk}.traceId")
                check_hex(sp.get("spanId"), 16, f"{wk}.spanId")
                check_hex(sp.get("parentSpanId", ""), 16,
                          f"{wk}.parentSpanId", allow_empty=True)
                need(isinstance(sp.get("name"), str) and sp["name"],
                     f"{wk}.name")
                kind = sp.get("kind", 0)
                need(isinstance(kind, int) and not isinstance(kind, bool)
                     and 0 <= kind <= 5, f"{wk}.kind must be an integer 0..5")
                st = sp.get("startTimeUnixNano")
                en = sp.get("endTimeUnixNano")
                for nm, t in (("startTimeUnixNano", st),
                              ("endTimeUnixNano", en)):
                    need(isinstance(t, str) and DEC.match(t),
                         f"{wk}.{nm} must be a decimal string, got {t!r}")
                    need(int(t) > 10**18, f"{wk}.{nm} is not a plausible "
                         "Unix time in ns")
                need(int(st) <= int(en), f"{wk}: ends before it starts")
                a = check_kvs(sp.get("attributes", []), f"{wk}.attributes")
                for e in sp.get("events", []):
                    need(isinstance(e.get("timeUnixNano", ""), str),
                         f"{wk}.events: timeUnixNano")
                    check_kvs(e.get("attributes", []), f"{wk}.events")
                need(isinstance(sp.get("links", []), list), f"{wk}.links")
                status = sp.get("status", {})
                need(isinstance(status, dict), f"{wk}.status")
                code = status.get("code", 0)
                need(isinstance(code, int) and not isinstance(code, bool)
                     and code in (0, 1, 2), f"{wk}.status.code must be 0..2")
                if langfuse:
                    check_langfuse_attrs(a, wk)
                canon = json.dumps(sp, sort_keys=True, separators=(",", ":"))
                out.append((sp["spanId"], canon))
    return out


def check_legacy(req):
    need(isinstance(req, dict) and isinstance(req.get("batch"), list),
         "Invalid request data: want {batch: [...]}")
    out = []
    for i, ev in enumerate(req["batch"]):
        w = f"batch[{i}]"
        need(isinstance(ev, dict), f"{w} must be an object")
        eid = ev.get("id")
        need(isinstance(eid, str) and 0 < len(eid) <= 800 and "\r" not in eid,
             f"{w}.id")
        ts = ev.get("timestamp")
        need(isinstance(ts, str) and ISO.match(ts), f"{w}.timestamp {ts!r}")
        need(ev.get("type") in LEGACY_TYPES, f"{w}.type {ev.get('type')!r}")
        body = ev.get("body")
        need(isinstance(body, dict) and isinstance(body.get("id"), str)
             and body["id"], f"{w}.body.id is required")
        if ev["type"] != "trace-create":
            need(isinstance(body.get("traceId"), str), f"{w}.body.traceId")
            for k in ("startTime", "endTime", "completionStartTime"):
                if k in body:
                    need(ISO.match(body[k]), f"{w}.body.{k}")
            if "level" in body:
                need(body["level"] in LEVELS, f"{w}.body.level")
            for k, v in body.get("usageDetails", {}).items():
                need(isinstance(v, int) and v >= 0, f"{w}.usageDetails.{k}")
            for k, v in body.get("modelParameters", {}).items():
                ok = isinstance(v, (str, int, float, bool)) or (
                    isinstance(v, list) and all(isinstance(x, str) for x in v))
                need(ok, f"{w}.modelParameters.{k}")
        # Observations are kept by their id (the span id), so that a test
        # compares them with the OTLP targets; trace events by "trace:".
        key = ("trace:" + body["id"] if ev["type"] == "trace-create"
               else body["id"])
        out.append((key, ev, json.dumps(ev, sort_keys=True,
                                        separators=(",", ":"))))
    return out


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.rng = random.Random(args.seed)
        self.reset()

    def reset(self):
        self.queue = []
        self.default = {"status": 200}
        self.spans = {}       # span/event id -> canonical JSON
        self.counts = {}      # id -> times received
        self.mismatches = []
        self.violations = []
        self.requests = []
        self.by_status = {}
        self.auth_failures = 0
        self.gzip_requests = 0
        self.fast_ids = set()
        self.fast_total = 0
        self.traces = {}      # legacy trace-create events, by "trace:<id>"

    def next_action(self):
        with self.lock:
            if self.queue:
                return self.queue.pop(0)
            if self.args.chaos and self.rng.random() < self.args.chaos:
                return dict(self.rng.choice(CHAOS))
            return dict(self.default)

    def record(self, items):
        with self.lock:
            for sid, canon in items:
                n = self.counts.get(sid, 0)
                if n and self.spans[sid] != canon:
                    self.mismatches.append(sid)
                self.spans.setdefault(sid, canon)
                self.counts[sid] = n + 1

    def stats(self):
        with self.lock:
            return {
                "requests": len(self.requests),
                "by_status": dict(self.by_status),
                "spans_unique": len(self.spans) + len(self.fast_ids),
                "spans_received": sum(self.counts.values()) + self.fast_total,
                "repeats": sum(n - 1 for n in self.counts.values()),
                "mismatches": self.mismatches[:50],
                "violations": self.violations[:50],
                "auth_failures": self.auth_failures,
                "gzip_requests": self.gzip_requests,
                "trace_events": len(self.traces),
                "queue_left": len(self.queue),
                "last_requests": self.requests[-20:],
            }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otlp-receiver"

    def setup(self):
        super().setup()
        # Headers and body go out as two writes: without this, Nagle holds
        # the second until the client's delayed ACK (40 ms a request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *a):
        if self.server.state.args.log:
            with open(self.server.state.args.log, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % a))

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    def send_json(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    # ---- control ----
    def do_GET(self):
        st = self.server.state
        if self.path == "/_ctl/stats":
            return self.send_json(200, st.stats())
        if self.path.startswith("/_ctl/stat/"):
            v = st.stats().get(self.path[len("/_ctl/stat/"):])
            body = (json.dumps(v) if not isinstance(v, (int, str)) else
                    str(v)).encode() + b"\n"
            self.send_response(200 if v is not None else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.path == "/_ctl/dump":
            with st.lock:
                return self.send_json(200, dict(st.spans))
        if self.path == "/_ctl/spans":
            with st.lock:
                ids = dict(st.counts)
                for i in st.fast_ids:
                    ids.setdefault(i, 1)
            return self.send_json(200, ids)
        self.send_json(404, {"message": "not found"})

    def do_POST(self):
        st = self.server.state
        raw = self.read_body()
        if self.path.startswith("/_ctl/"):
            what = self.path[6:]
            arg = json.loads(raw) if raw else None
            with st.lock:
                if what == "queue":
                    st.queue.extend(arg)
                elif what == "default":
                    st.default = arg
                elif what == "chaos":
                    st.args.chaos = float(arg)
            if what == "reset":
                st.reset()
            return self.send_json(200, {"ok": True})
        self.ingest(raw)

    # ---- ingest ----
    def ingest(self, raw):
        st = self.server.state
        path = self.path.split("?")[0]
        otlp = path.endswith("/v1/traces")
        langfuse = path.startswith("/api/public/")
        legacy = path == "/api/public/ingestion"
        if not otlp and not legacy:
            return self.send_json(404, {"message": f"no route {path}"})
        entry = {"path": path, "bytes": len(raw),
                 "gzip": self.headers.get("Content-Encoding") == "gzip",
                 "auth": bool(self.headers.get("Authorization"))}
        action = st.next_action()

        if action.get("action") == "reset":
            entry["status"] = "reset"
            self.note(entry)
            self.close_connection = True
            s = self.connection
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
            s.close()
            return

        # Checks a real server makes before it accepts anything.
        problem, status = None, 400
        items = []
        try:
            if langfuse and st.args.public_key:
                want = "Basic " + base64.b64encode(
                    f"{st.args.public_key}:{st.args.secret_key}".encode()
                ).decode()
                if self.headers.get("Authorization") != want:
                    with st.lock:
                        st.auth_failures += 1
                    problem, status = "Authentication error", 401
            if problem is None:
                body = raw
                if entry["gzip"]:
                    body = gzip.decompress(raw)
                    with st.lock:
                        st.gzip_requests += 1
                ctype = self.headers.get("Content-Type", "")
                need(ctype.split(";")[0].strip() == "application/json",
                     f"Content-Type must be application/json, not {ctype!r}")
                if otlp and langfuse:
                    need(self.headers.get("x-langfuse-ingestion-version")
                         == "4", "x-langfuse-ingestion-version: 4 missing")
                if st.args.mode == "fast":
                    ids = re.findall(rb'"spanId":"([0-9a-f]{16})"', body)
                    with st.lock:
                        st.fast_total += len(ids)
                        st.fast_ids.update(i.decode() for i in ids)
                    items = None
                else:
                    req = json.loads(body)
                    if legacy:
                        items = check_legacy(req)
                    else:
                        items = check_otlp(req, langfuse)
        except Bad as e:
            problem = str(e)
        except (ValueError, OSError, EOFError) as e:
            problem = f"unreadable body: {e}"
        if problem is not None:
            if status == 400:
                with st.lock:
                    st.violations.append(problem)
            entry["status"] = status
            entry["problem"] = problem
            self.note(entry)
            return self.send_json(status, {"message": problem})

        entry["spans"] = len(items) if items is not None else -1
        act = action.get("action")
        if act == "timeout":
            self.take(items, legacy)
            entry["status"] = "timeout"
            self.note(entry)
            time.sleep(float(action.get("seconds", 5)))
            self.close_connection = True
            return
        if act == "slow":
            self.take(items, legacy)
            entry["status"] = "slow"
            self.note(entry)
            body = json.dumps({"partialSuccess": {}}).encode() + b" " * 64
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = float(action.get("seconds", 5)) / len(body)
            try:
                for b in body:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(step)
            except OSError:
                pass
            self.close_connection = True
            return

        code = int(action.get("status", 200))
        entry["status"] = code
        self.note(entry)
        if legacy and 200 <= code < 300:
            return self.legacy_answer(items, action)
        if 200 <= code < 300:
            self.take(items, legacy)
            if action.get("partial"):
                return self.send_json(code, {"partialSuccess": {
                    "rejectedSpans": str(action["partial"]),
                    "errorMessage": "some spans were not wanted"}})
            if langfuse:
                return self.send_json(code, {"id": "job", "status": "queued"})
            return self.send_json(code, {})
        extra = {}
        if "retry_after" in action:
            extra["Retry-After"] = str(action["retry_after"])
        msg = action.get("message", f"test receiver says {code}")
        return self.send_json(code, {"code": code, "message": msg}, extra)

    def take(self, items, legacy):
        if items is None:
            return
        if legacy:
            self.server.state.record([(k, c) for k, _, c in items
                                      if not k.startswith("trace:")])
        else:
            self.server.state.record(items)

    def legacy_answer(self, items, action):
        succ, errs = [], []
        failed = None
        if action.get("fail_first") or action.get("fail_500"):
            for _, ev, _ in items:
                if ev["type"] != "trace-create":
                    failed = ev["id"]
                    break
        kept = []
        for key, ev, canon in items:
            eid = ev["id"]
            if key.startswith("trace:"):
                succ.append({"id": eid, "status": 201})
                with self.server.state.lock:
                    self.server.state.traces[key] = canon
                continue
            if eid == failed:
                st = 500 if action.get("fail_500") else 400
                errs.append({"id": eid, "status": st,
                             "message": "Invalid request data",
                             "error": "test receiver refused this event"})
            else:
                succ.append({"id": eid, "status": 201})
                kept.append((key, canon))
        self.server.state.record(kept)
        self.send_json(207, {"successes": succ, "errors": errs})

    def note(self, entry):
        st = self.server.state
        with st.lock:
            st.requests.append(entry)
            k = str(entry.get("status"))
            st.by_status[k] = st.by_status.get(k, 0) + 1


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(args):
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, args.port_file)
    print(f"listening on {port}", flush=True)
    parent = os.getppid()
    t0 = time.monotonic()

    def watchdog():
        while True:
            time.sleep(0.5)
            if args.exit_with_parent and os.getppid() != parent:
                os._exit(0)
            if time.monotonic() - t0 > args.max_seconds:
                os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    srv.serve_forever(poll_interval=0.5)


def ctl(args):
    base = f"http://127.0.0.1:{args.port}/_ctl/"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(what, data=None):
        req = urllib.request.Request(base + what, data=data,
                                     method="POST" if data is not None
                                     else "GET")
        with opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    cmd = args.cmd
    if cmd in ("stats", "spans", "dump"):
        print(json.dumps(call(cmd), indent=1))
    elif cmd == "reset":
        call("reset", b"{}")
    elif cmd in ("queue", "default", "chaos"):
        call(cmd, args.arg[0].encode())
    elif cmd == "wait":
        want, limit = int(args.arg[0]), float(args.arg[1])
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if call("stats")["spans_unique"] >= want:
                return 0
            time.sleep(0.1)
        print(json.dumps(call("stats"), indent=1), file=sys.stderr)
        return 1
    elif cmd == "verify":
        want = set(x.strip() for x in open(args.arg[0]) if x.strip())
        got = call("spans")
        s = call("stats")
        missing = sorted(want - set(got))
        extra = sorted(set(got) - want)
        report = {"expected": len(want), "delivered": len(got),
                  "missing": missing[:20], "n_missing": len(missing),
                  "unexpected": extra[:20], "n_unexpected": len(extra),
                  "repeats": s["repeats"], "mismatches": s["mismatches"],
                  "violations": s["violations"]}
        print(json.dumps(report, indent=1))
        bad = missing or extra or s["mismatches"] or s["violations"]
        return 1 if bad else 0
    else:
        print(f"unknown ctl command {cmd}", file=sys.stderr)
        return 2
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="sub", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--public-key")
    s.add_argument("--secret-key")
    s.add_argument("--mode", choices=("validate", "fast"), default="validate")
    s.add_argument("--log")
    s.add_argument("--chaos", type=float, default=0.0)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--exit-with-parent", action="store_true")
    s.add_argument("--max-seconds", type=float, default=600)
    c = sub.add_parser("ctl")
    c.add_argument("port", type=int)
    c.add_argument("cmd")
    c.add_argument("arg", nargs="*")
    args = p.parse_args()
    if args.sub == "serve":
        serve(args)
        return 0
    return ctl(args)


if __name__ == "__main__":
    sys.exit(main())
