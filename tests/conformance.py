#!/usr/bin/python3
"""Conformance: run `autotrace parse` on recorded provider traffic and check
each observation against what the response itself says.

    /usr/bin/python3 tests/conformance.py [CORPUS] [--autotrace PATH]
                                          [--gaps FILE] [--only TEXT] [-v]

CORPUS (default ../shared/corpus) holds <provider>/<case>/ folders with
request.json, request.meta.json, response.body and response.meta.json.
Every case whose endpoint the parsers claim (chat/completions, completions,
embeddings, responses, Anthropic messages) is parsed with

    autotrace parse --request request.json --response response.body
                    --url URL --status N --headers HEADERS --format jsonl

and the record is compared with the response body, read here
independently: level and status message on errors, response model and id,
token counts, output text, tool calls and finish reasons.

One line per case: PASS, FAIL (with what differed), GAP (a known gap listed
in docs/conformance.md), FIXED (a listed gap that now passes: remove it from
the list) or SKIP (an endpoint no parser claims yet; not counted). Exit
status 1 when any case FAILs.

Standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Folders whose cases must parse when their endpoint is claimed: the
# providers autotrace knows by name, and the OpenAI-compatible hosts.
KNOWN = {
    "openai", "anthropic", "azure-openai", "groq", "mistral", "together",
    "cerebras", "huggingface", "zai", "deepseek", "openrouter", "ollama",
}

# Providers whose native APIs have no parser yet, whatever the path says.
NATIVE_ONLY = {
    "gemini": "Gemini generateContent API not parsed yet",
    "vertex-ai": "Vertex AI generateContent API not parsed yet",
    "bedrock": "AWS Bedrock APIs not parsed yet",
    "cohere": "Cohere APIs not parsed yet",
}


def api_of(path):
    """The API family a request path belongs to, or None."""
    p = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if p.endswith("/chat/completions"):
        return "chat"
    if p.endswith("/completions"):
        return "completions"
    if p.endswith("/embeddings"):
        return "embeddings"
    if p.endswith("/responses"):
        return "responses"
    if p.endswith("/messages"):
        return "messages"
    return None


# ---- the known-gaps list ----

GAP_LINE = re.compile(r"^-\s+`?([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)`?\s*:\s*(.+?)\s*$")


def load_gaps(path):
    """docs/conformance.md: lines "- provider/case: reason" under the
    "Known gaps" heading."""
    gaps = {}
    if not os.path.exists(path):
        return gaps
    in_section = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                in_section = "known gaps" in line.lower()
                continue
            m = GAP_LINE.match(line)
            if in_section and m:
                gaps[m.group(1)] = m.group(2)
    return gaps


# ---- reading the response independently ----

def sse_events(text):
    """(event, data) pairs of a server-sent-event stream."""
    events = []
    event, data = None, []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if raw.startswith(":"):
            continue
        field, _, value = raw.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if data:
        events.append((event, "\n".join(data)))
    return events


def json_events(text):
    """The JSON payloads of an SSE stream, with their event names."""
    out = []
    for event, data in sse_events(text):
        if data.strip() == "[DONE]":
            continue
        try:
            out.append((event, json.loads(data)))
        except ValueError:
            pass
    return out


def args_value(s):
    """Tool-call arguments as the record keeps them: parsed when JSON."""
    if not isinstance(s, str):
        return s
    try:
        return json.loads(s)
    except ValueError:
        return s


def error_message(body):
    """The provider's error message in an error body, or None."""
    try:
        j = json.loads(body)
    except ValueError:
        return None
    if isinstance(j, list) and j:
        j = j[0]
    if not isinstance(j, dict):
        return None
    err = j.get("error", j)
    if isinstance(err, dict):
        msg = err.get("message")
        if isinstance(msg, str) and msg:
            return msg
    if isinstance(err, str) and err:
        return err
    msg = j.get("message") or j.get("detail")
    return msg if isinstance(msg, str) and msg else None


def empty_expect():
    return {
        "model": None, "id": None,
        "usage": {},          # record key -> count (inclusive)
        "choices": None,      # list of {"text", "tools", "finish"}
        "error": None,        # provider's error message
        "is_error": False,
    }


def usage_openai(u, exp):
    if not isinstance(u, dict):
        return
    if isinstance(u.get("prompt_tokens"), int):
        exp["usage"]["input_tokens"] = u["prompt_tokens"]
    elif isinstance(u.get("input_tokens"), int):
        exp["usage"]["input_tokens"] = u["input_tokens"]
    if isinstance(u.get("completion_tokens"), int):
        exp["usage"]["output_tokens"] = u["completion_tokens"]
    elif isinstance(u.get("output_tokens"), int):
        exp["usage"]["output_tokens"] = u["output_tokens"]
    for key in ("prompt_tokens_details", "input_tokens_details"):
        d = u.get(key)
        if isinstance(d, dict) and isinstance(d.get("cached_tokens"), int):
            exp["usage"]["cache_read_input_tokens"] = d["cached_tokens"]
    for key in ("completion_tokens_details", "output_tokens_details"):
        d = u.get(key)
        if isinstance(d, dict) and isinstance(d.get("reasoning_tokens"), int):
            exp["usage"]["reasoning_output_tokens"] = d["reasoning_tokens"]


def chat_message_choice(msg, finish):
    text, tools = "", []
    content = msg.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        tools.append({"id": tc.get("id"), "name": fn.get("name"),
                      "arguments": args_value(fn.get("arguments"))})
    fc = msg.get("function_call")
    if isinstance(fc, dict):
        tools.append({"id": None, "name": fc.get("name"),
                      "arguments": args_value(fc.get("arguments"))})
    return {"text": text, "tools": tools, "finish": finish}


def expect_chat(body, streamed, api):
    exp = empty_expect()
    if not streamed:
        j = json.loads(body)
        exp["model"], exp["id"] = j.get("model"), j.get("id")
        usage_openai(j.get("usage"), exp)
        choices = sorted(j.get("choices") or [], key=lambda c: c.get("index", 0))
        exp["choices"] = []
        for c in choices:
            if api == "completions":
                exp["choices"].append({"text": c.get("text") or "", "tools": [],
                                       "finish": c.get("finish_reason")})
            else:
                exp["choices"].append(
                    chat_message_choice(c.get("message") or {},
                                        c.get("finish_reason")))
        return exp
    acc = {}  # index -> {"text", "tools": {idx: {...}}, "finish"}
    for event, j in json_events(body):
        if event == "error" or (isinstance(j, dict) and "error" in j
                                and "choices" not in j):
            exp["is_error"] = True
            exp["error"] = error_message(json.dumps(j))
            continue
        if not isinstance(j, dict):
            continue
        if j.get("model") and not exp["model"]:
            exp["model"] = j["model"]
        if j.get("id") and not exp["id"]:
            exp["id"] = j["id"]
        usage_openai(j.get("usage"), exp)
        xg = j.get("x_groq")
        if isinstance(xg, dict):
            usage_openai(xg.get("usage"), exp)
        for c in j.get("choices") or []:
            a = acc.setdefault(c.get("index", 0),
                               {"text": "", "tools": {}, "finish": None})
            if api == "completions":
                a["text"] += c.get("text") or ""
            else:
                d = c.get("delta") or {}
                if isinstance(d.get("content"), str):
                    a["text"] += d["content"]
                for tc in d.get("tool_calls") or []:
                    t = a["tools"].setdefault(
                        tc.get("index", len(a["tools"])),
                        {"id": None, "name": None, "arguments": ""})
                    fn = tc.get("function") or {}
                    if tc.get("id"):
                        t["id"] = tc["id"]
                    if fn.get("name"):
                        t["name"] = fn["name"]
                    if isinstance(fn.get("arguments"), str):
                        t["arguments"] += fn["arguments"]
            if c.get("finish_reason"):
                a["finish"] = c["finish_reason"]
    exp["choices"] = []
    for idx in sorted(acc):
        a = acc[idx]
        tools = [dict(t, arguments=args_value(t["arguments"]))
                 for _, t in sorted(a["tools"].items())]
        exp["choices"].append({"text": a["text"], "tools": tools,
                               "finish": a["finish"]})
    return exp


def expect_embeddings(body):
    exp = empty_expect()
    j = json.loads(body)
    exp["model"] = j.get("model")
    u = j.get("usage") or {}
    usage_openai(u, exp)
    # Some hosts count only a total; for embeddings that is the input.
    if "input_tokens" not in exp["usage"] and isinstance(u.get("total_tokens"), int):
        exp["usage"]["input_tokens"] = u["total_tokens"]
    return exp


def responses_from_object(r, exp):
    exp["model"], exp["id"] = r.get("model"), r.get("id")
    usage_openai(r.get("usage"), exp)
    text, tools = "", []
    for item in r.get("output") or []:
        if item.get("type") == "message":
            for p in item.get("content") or []:
                if p.get("type") == "output_text":
                    text += p.get("text") or ""
        elif item.get("type") == "function_call":
            tools.append({"id": item.get("call_id"), "name": item.get("name"),
                          "arguments": args_value(item.get("arguments"))})
    # The Responses API has no finish reason: autotrace derives one from the
    # status, which is not the provider's word; it is not compared.
    exp["choices"] = [{"text": text, "tools": tools, "finish": None}]
    if r.get("status") == "failed" and isinstance(r.get("error"), dict):
        exp["is_error"] = True
        exp["error"] = r["error"].get("message")


def expect_responses(body, streamed):
    exp = empty_expect()
    if not streamed:
        responses_from_object(json.loads(body), exp)
        return exp
    final = None
    for event, j in json_events(body):
        kind = (j.get("type") if isinstance(j, dict) else None) or event
        if kind in ("response.completed", "response.incomplete",
                    "response.failed") and isinstance(j.get("response"), dict):
            final = j["response"]
        elif kind == "error":
            exp["is_error"] = True
            exp["error"] = error_message(json.dumps(j))
    if final is None:
        raise ValueError("stream without response.completed")
    responses_from_object(final, exp)
    return exp


def usage_anthropic(u, exp):
    if not isinstance(u, dict):
        return
    for k in ("input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens"):
        if isinstance(u.get(k), int):
            exp["_raw"][k] = u[k]


def finish_anthropic(exp):
    raw = exp.pop("_raw")
    if "input_tokens" in raw:
        exp["usage"]["input_tokens"] = (raw["input_tokens"]
                                        + raw.get("cache_read_input_tokens", 0)
                                        + raw.get("cache_creation_input_tokens", 0))
    if "output_tokens" in raw:
        exp["usage"]["output_tokens"] = raw["output_tokens"]
    if "cache_read_input_tokens" in raw:
        exp["usage"]["cache_read_input_tokens"] = raw["cache_read_input_tokens"]
    if "cache_creation_input_tokens" in raw:
        exp["usage"]["cache_write_input_tokens"] = raw["cache_creation_input_tokens"]


def expect_messages(body, streamed):
    exp = empty_expect()
    exp["_raw"] = {}
    if not streamed:
        j = json.loads(body)
        exp["model"], exp["id"] = j.get("model"), j.get("id")
        usage_anthropic(j.get("usage"), exp)
        text, tools = "", []
        for b in j.get("content") or []:
            if b.get("type") == "text":
                text += b.get("text") or ""
            elif b.get("type") == "tool_use":
                tools.append({"id": b.get("id"), "name": b.get("name"),
                              "arguments": b.get("input")})
        exp["choices"] = [{"text": text, "tools": tools,
                           "finish": j.get("stop_reason")}]
        finish_anthropic(exp)
        return exp
    blocks, stop = {}, None
    for event, j in json_events(body):
        kind = j.get("type") if isinstance(j, dict) else event
        if kind == "message_start":
            m = j.get("message") or {}
            exp["model"], exp["id"] = m.get("model"), m.get("id")
            usage_anthropic(m.get("usage"), exp)
        elif kind == "content_block_start":
            b = j.get("content_block") or {}
            blocks[j.get("index", len(blocks))] = {
                "type": b.get("type"), "text": b.get("text") or "",
                "id": b.get("id"), "name": b.get("name"), "json": ""}
        elif kind == "content_block_delta":
            b = blocks.setdefault(j.get("index", 0), {
                "type": "text", "text": "", "id": None, "name": None,
                "json": ""})
            d = j.get("delta") or {}
            if d.get("type") == "text_delta":
                b["text"] += d.get("text") or ""
            elif d.get("type") == "input_json_delta":
                b["json"] += d.get("partial_json") or ""
        elif kind == "message_delta":
            d = j.get("delta") or {}
            if d.get("stop_reason"):
                stop = d["stop_reason"]
            usage_anthropic(j.get("usage"), exp)
        elif kind == "error":
            exp["is_error"] = True
            exp["error"] = error_message(json.dumps(j))
    text, tools = "", []
    for idx in sorted(blocks):
        b = blocks[idx]
        if b["type"] == "text":
            text += b["text"]
        elif b["type"] == "tool_use":
            tools.append({"id": b["id"], "name": b["name"],
                          "arguments": json.loads(b["json"]) if b["json"] else {}})
    exp["choices"] = [{"text": text, "tools": tools, "finish": stop}]
    finish_anthropic(exp)
    return exp


def expect_for(api, status, body, streamed):
    if status >= 400:
        exp = empty_expect()
        exp["is_error"] = True
        exp["error"] = error_message(body)
        return exp
    if api in ("chat", "completions"):
        return expect_chat(body, streamed, api)
    if api == "embeddings":
        return expect_embeddings(body)
    if api == "responses":
        return expect_responses(body, streamed)
    return expect_messages(body, streamed)


# ---- reading the record ----

def record_choices(rec):
    out = []
    for msg in rec.get("output") or []:
        text, tools = "", []
        for p in msg.get("parts") or []:
            if p.get("type") == "text":
                text += p.get("content") or ""
            elif p.get("type") == "tool_call":
                tools.append({"id": p.get("id"), "name": p.get("name"),
                              "arguments": p.get("arguments")})
        out.append({"text": text, "tools": tools})
    return out


def short(v, n=80):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[:n - 1] + "…"


def compare(api, exp, rec):
    """What differs between the expectation and the record, as text."""
    diffs = []
    level = rec.get("level")
    if exp["is_error"]:
        if level != "ERROR":
            diffs.append("level: want ERROR, got %s" % short(level))
        if exp["error"]:
            msg = rec.get("status_message") or ""
            if exp["error"] not in msg:
                diffs.append("status_message: want it to contain %s, got %s"
                             % (short(exp["error"]), short(msg)))
        if exp["choices"] is None:
            return diffs
    elif level == "ERROR":
        diffs.append("level: ERROR on a successful response (%s)"
                     % short(rec.get("status_message")))

    if exp["model"] and rec.get("response_model") != exp["model"]:
        diffs.append("response_model: want %s, got %s"
                     % (short(exp["model"]), short(rec.get("response_model"))))
    if exp["id"] and rec.get("response_id") != exp["id"]:
        diffs.append("response_id: want %s, got %s"
                     % (short(exp["id"]), short(rec.get("response_id"))))

    usage = rec.get("usage") or {}
    for key, want in sorted(exp["usage"].items()):
        got = usage.get(key)
        detail = key not in ("input_tokens", "output_tokens")
        if got != want and not (detail and want == 0 and got is None):
            diffs.append("usage.%s: want %s, got %s" % (key, want, short(got)))
    for key in ("input_tokens", "output_tokens"):
        if key not in exp["usage"] and key in usage and not exp["is_error"]:
            diffs.append("usage.%s: the response gives none, record says %s"
                         % (key, usage[key]))

    if api == "embeddings" or exp["choices"] is None:
        return diffs
    got = record_choices(rec)
    want = exp["choices"]
    # One output message per choice for chat and completions; Responses and
    # Anthropic answer with one message.
    if api in ("responses", "messages") and len(got) > 1:
        merged = {"text": "".join(c["text"] for c in got),
                  "tools": [t for c in got for t in c["tools"]]}
        got = [merged]
    want_nonempty = [w for w in want if w["text"] or w["tools"]]
    if len(got) != len(want) and not (len(want_nonempty) == len(got)):
        diffs.append("output: want %d messages, got %d" % (len(want), len(got)))
    else:
        if len(got) != len(want):
            want = want_nonempty
        for i, (w, g) in enumerate(zip(want, got)):
            if w["text"] != g["text"]:
                diffs.append("output[%d] text: %s" % (i, text_diff(w["text"],
                                                                    g["text"])))
            if not same_tools(w["tools"], g["tools"]):
                diffs.append("output[%d] tool calls: want %s, got %s"
                             % (i, short(w["tools"], 160), short(g["tools"], 160)))
    want_fr = [c["finish"] for c in exp["choices"]]
    if any(f is not None for f in want_fr):
        got_fr = rec.get("finish_reasons") or []
        if want_fr != got_fr:
            diffs.append("finish_reasons: want %s, got %s"
                         % (short(want_fr), short(got_fr)))
    return diffs


def text_diff(want, got):
    """Where two texts part: lengths and a window around the first
    difference."""
    i = 0
    while i < min(len(want), len(got)) and want[i] == got[i]:
        i += 1
    lo = max(0, i - 20)
    return ("differs at character %d (want %d characters, got %d): want %s, got %s"
            % (i, len(want), len(got), short(want[lo:i + 40]), short(got[lo:i + 40])))


def same_tools(want, got):
    """Names and arguments must match; ids too, where the provider gave one
    (the legacy function_call has none)."""
    if len(want) != len(got):
        return False
    for w, g in zip(want, got):
        if w["name"] != g["name"] or w["arguments"] != g["arguments"]:
            return False
        if w["id"] is not None and w["id"] != g["id"]:
            return False
    return True


# ---- running one case ----

DROP_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


def run_case(autotrace, case_dir, api, req_meta, resp_meta, verbose):
    """Returns (ok, message)."""
    status = int(resp_meta.get("status") or 0)
    headers = {k: v for k, v in (resp_meta.get("headers") or {}).items()
               if k.lower() not in DROP_HEADERS}
    body_path = os.path.join(case_dir, "response.body")
    with open(body_path, "rb") as f:
        body = f.read().decode("utf-8", errors="replace")
    ctype = " ".join(str(v) for k, v in headers.items()
                     if k.lower() == "content-type")
    streamed = ("event-stream" in ctype or bool(resp_meta.get("streaming"))
                or body.lstrip().startswith(("data:", "event:")))
    try:
        exp = expect_for(api, status, body, streamed and status < 400)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        return False, "cannot read the response here: %s" % e

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as hf:
        json.dump(headers, hf)
        hpath = hf.name
    try:
        cmd = [autotrace, "parse",
               "--request", os.path.join(case_dir, "request.json"),
               "--response", body_path,
               "--url", req_meta["url"], "--status", str(status),
               "--headers", hpath, "--format", "jsonl"]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
    except subprocess.TimeoutExpired:
        return False, "autotrace parse timed out"
    finally:
        os.unlink(hpath)
    err = p.stderr.decode("utf-8", errors="replace").strip()
    if p.returncode != 0:
        if p.returncode < 0:
            return False, "autotrace parse died of signal %d" % -p.returncode
        return False, "autotrace parse exited %d: %s" % (p.returncode, err)
    lines = [l for l in p.stdout.decode("utf-8", errors="replace").splitlines()
             if l.strip()]
    if len(lines) != 1:
        return False, "want one jsonl line, got %d" % len(lines)
    try:
        rec = json.loads(lines[0])
    except ValueError as e:
        return False, "output is not JSON: %s" % e
    if "AddressSanitizer" in err or "runtime error" in err:
        return False, "sanitizer report: %s" % err.splitlines()[0]
    diffs = compare(api, exp, rec)
    if diffs:
        msg = "; ".join(diffs)
        if verbose:
            msg += "\n    record: " + lines[0][:2000]
        return False, msg
    return True, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="?",
                    default=os.path.join(ROOT, "..", "shared", "corpus"))
    ap.add_argument("--autotrace", default=os.path.join(ROOT, "build", "autotrace"))
    ap.add_argument("--gaps", default=os.path.join(ROOT, "docs", "conformance.md"))
    ap.add_argument("--only", action="append", default=[],
                    help="run only cases whose name contains this (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print the record of failing cases")
    a = ap.parse_args()

    if not os.access(a.autotrace, os.X_OK):
        print("conformance: %s is not built (make build/autotrace)" % a.autotrace,
              file=sys.stderr)
        return 2
    if not os.path.isdir(a.corpus):
        print("conformance: no corpus at %s" % a.corpus, file=sys.stderr)
        return 2
    gaps = load_gaps(a.gaps)

    passed = failed = known = fixed = skipped = 0
    seen_gaps = set()
    for provider in sorted(os.listdir(a.corpus)):
        pdir = os.path.join(a.corpus, provider)
        if not os.path.isdir(pdir):
            continue
        for case in sorted(os.listdir(pdir)):
            cdir = os.path.join(pdir, case)
            name = provider + "/" + case
            if not os.path.isfile(os.path.join(cdir, "response.meta.json")):
                continue
            if a.only and not any(o in name for o in a.only):
                continue
            with open(os.path.join(cdir, "request.meta.json")) as f:
                req_meta = json.load(f)
            with open(os.path.join(cdir, "response.meta.json")) as f:
                resp_meta = json.load(f)
            path = req_meta.get("path") or req_meta.get("url", "")
            api = api_of(path)
            if provider in NATIVE_ONLY:
                print("SKIP %s: %s" % (name, NATIVE_ONLY[provider]))
                skipped += 1
                continue
            if api is None:
                print("SKIP %s: endpoint %s not parsed yet"
                      % (name, path.split("?")[0]))
                skipped += 1
                continue
            if provider == "ollama" and not path.startswith("/v1/"):
                print("SKIP %s: Ollama's native API not parsed yet" % name)
                skipped += 1
                continue
            if api == "messages" and provider != "anthropic":
                print("SKIP %s: %s is not Anthropic's messages API" % (name, path))
                skipped += 1
                continue
            ok, msg = run_case(a.autotrace, cdir, api, req_meta, resp_meta,
                               a.verbose)
            # A host autotrace does not know by name may be unclaimed on
            # purpose; for the known providers that is a failure.
            if (not ok and provider not in KNOWN
                    and "is not an endpoint autotrace parses" in msg):
                print("SKIP %s: host not claimed by the parsers" % name)
                skipped += 1
                continue
            if name in gaps:
                seen_gaps.add(name)
                if ok:
                    print("FIXED %s (remove it from %s)"
                          % (name, os.path.relpath(a.gaps, ROOT)))
                    fixed += 1
                    passed += 1
                else:
                    print("GAP %s: %s" % (name, gaps[name]))
                    known += 1
                continue
            if ok:
                print("PASS %s" % name)
                passed += 1
            else:
                print("FAIL %s: %s" % (name, msg))
                failed += 1

    if not a.only:
        for name in sorted(set(gaps) - seen_gaps):
            print("note: known gap %s matched no case that ran" % name,
                  file=sys.stderr)
    summary = "conformance: %d passed, %d failed" % (passed, failed)
    if known:
        summary += ", %d known gaps" % known
    if fixed:
        summary += ", %d fixed (update the gap list)" % fixed
    summary += " (%d skipped)" % skipped
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
