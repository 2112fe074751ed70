#!/usr/bin/python3
"""Conformance: run `autotrace parse` on recorded provider traffic and check
each observation against what the response itself says.

    /usr/bin/python3 tests/conformance.py [CORPUS] [--autotrace PATH]
                                          [--gaps FILE] [--only TEXT] [-v]

CORPUS (default ../shared/corpus) holds <provider>/<case>/ folders with
request.json, request.meta.json, response.body and response.meta.json.
Every case whose endpoint the parsers claim (chat/completions, completions,
embeddings, responses, Anthropic messages, Google's generateContent,
streamGenerateContent, embedContent, batchEmbedContents, Bedrock's
/model/{id}/converse[-stream] and /invoke[-with-response-stream]; Cohere,
Ollama's native API and the retrievers: conformance_native.py) is parsed
with

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
import base64
import json
import os
import re
import subprocess
import struct
import sys
import tempfile

import conformance_native as native
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Folders whose cases must parse when their endpoint is claimed: the
# providers autotrace knows by name, and the OpenAI-compatible hosts.
KNOWN = {
    "openai", "anthropic", "azure-openai", "groq", "mistral", "together",
    "cerebras", "huggingface", "zai", "deepseek", "openrouter", "ollama",
    "gemini", "vertex-ai", "bedrock",
    "cohere", "voyageai", "pinecone", "weaviate", "marqo", "tavily", "serper",
}

# Providers whose native APIs have no parser yet, whatever the path says.
NATIVE_ONLY = {
}


BEDROCK_PATH = re.compile(
    r"/model/.+/(converse|converse-stream|invoke|invoke-with-response-stream)$")


def api_of(path):
    """The API family a request path belongs to, or None."""
    p = path.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if BEDROCK_PATH.search(p):
        return "bedrock"
    last = p.rsplit("/", 1)[-1].replace("%3A", ":").replace("%3a", ":")
    if ":" in last:  # Google: .../models/{model}:{method}
        method = last.split(":", 1)[1]
        if method in ("generateContent", "streamGenerateContent"):
            return "gemini"
        if method in ("embedContent", "batchEmbedContents"):
            return "gemini_embed"
        return None
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


# Gemini and Vertex AI. Enums may come as numbers ($alt=json;enum-encoding=
# int); the first six finish reasons are shared, the rest are Vertex's
# (google.cloud.aiplatform.v1 Candidate.FinishReason).
GOOGLE_FINISH = ["FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "SAFETY",
                 "RECITATION", "OTHER"]
VERTEX_FINISH = GOOGLE_FINISH + [
    "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL",
    "MODEL_ARMOR", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION", "IMAGE_OTHER", "UNEXPECTED_TOOL_CALL", "NO_IMAGE"]
GOOGLE_BLOCK = ["BLOCK_REASON_UNSPECIFIED", "SAFETY", "OTHER", "BLOCKLIST",
                "PROHIBITED_CONTENT"]


def google_enum(v, names):
    if isinstance(v, int) and not isinstance(v, bool):
        return names[v] if 0 <= v < len(names) else str(v)
    return v


def google_chunks(body):
    """The GenerateContentResponse objects of a body: one JSON object, a
    JSON array (streamGenerateContent; read element by element, so that a
    cut-off array still yields its whole elements) or SSE data events."""
    s = body.lstrip("\ufeff \t\r\n")
    if s.startswith("["):
        dec, out, i = json.JSONDecoder(), [], 1
        while i < len(s):
            while i < len(s) and s[i] in " \t\r\n,":
                i += 1
            if i >= len(s) or s[i] == "]":
                break
            try:
                v, i = dec.raw_decode(s, i)
            except ValueError:
                break
            out.append(v)
        return out
    if s.startswith(("data:", "event:")):
        return [j for _, j in json_events(body)]
    return [json.loads(s)]


def expect_google(body, url):
    exp = empty_expect()
    finish_names = VERTEX_FINISH if "aiplatform.googleapis.com" in url \
        else GOOGLE_FINISH
    cands, usage = {}, None
    for ch in google_chunks(body):
        if not isinstance(ch, dict):
            continue
        if "error" in ch:
            exp["is_error"] = True
            exp["error"] = error_message(json.dumps(ch))
            continue
        if ch.get("modelVersion") and not exp["model"]:
            exp["model"] = ch["modelVersion"]
        if ch.get("responseId") and not exp["id"]:
            exp["id"] = ch["responseId"]
        br = google_enum((ch.get("promptFeedback") or {}).get("blockReason"),
                         GOOGLE_BLOCK)
        if br and br not in ("BLOCK_REASON_UNSPECIFIED",
                             "BLOCKED_REASON_UNSPECIFIED"):
            exp["is_error"] = True  # the prompt was refused
            exp["error"] = br
        um = ch.get("usageMetadata")
        if isinstance(um, dict) and any(k.endswith("TokenCount") for k in um):
            usage = um  # the last report with counts is the final one
        cl = [c for c in ch.get("candidates") or [] if isinstance(c, dict)]
        # proto3 JSON leaves index 0 out: absent is 0 when a sibling names
        # its index, else the position
        named = any("index" in c for c in cl)
        for pos, c in enumerate(cl):
            a = cands.setdefault(c.get("index", 0 if named else pos),
                                 {"text": "", "tools": [], "finish": None})
            for p in (c.get("content") or {}).get("parts") or []:
                if isinstance(p.get("text"), str) and not p.get("thought"):
                    a["text"] += p["text"]
                elif isinstance(p.get("functionCall"), dict):
                    fc = p["functionCall"]
                    a["tools"].append({"id": fc.get("id"),
                                       "name": fc.get("name"),
                                       "arguments": fc.get("args")})
            if c.get("finishReason") is not None:
                a["finish"] = google_enum(c["finishReason"], finish_names)
    u = usage or {}
    # Gemini counts thoughts apart from the candidates; input includes the
    # cached content, plus the tool-use prompt.
    if "promptTokenCount" in u or "toolUsePromptTokenCount" in u:
        exp["usage"]["input_tokens"] = (u.get("promptTokenCount", 0)
                                        + u.get("toolUsePromptTokenCount", 0))
    if "candidatesTokenCount" in u or "thoughtsTokenCount" in u:
        exp["usage"]["output_tokens"] = (u.get("candidatesTokenCount", 0)
                                         + u.get("thoughtsTokenCount", 0))
    if "thoughtsTokenCount" in u:
        exp["usage"]["reasoning_output_tokens"] = u["thoughtsTokenCount"]
    if "cachedContentTokenCount" in u:
        exp["usage"]["cache_read_input_tokens"] = u["cachedContentTokenCount"]
    if "totalTokenCount" in u:
        exp["usage"]["total_tokens"] = u["totalTokenCount"]
    exp["choices"] = [cands[i] for i in sorted(cands)] if cands else (
        None if exp["is_error"] else [])
    return exp


def expect_google_embed(body):
    exp = empty_expect()
    u = json.loads(body).get("usageMetadata") or {}
    if isinstance(u.get("promptTokenCount"), int):
        exp["usage"]["input_tokens"] = u["promptTokenCount"]
    return exp


def expect_for(api, status, body, streamed, url=""):
    if status >= 400:
        exp = empty_expect()
        exp["is_error"] = True
        exp["error"] = error_message(body)
        return exp
    if api == "gemini":
        return expect_google(body, url)
    if api == "gemini_embed":
        return expect_google_embed(body)
    if api in ("chat", "completions"):
        return expect_chat(body, streamed, api)
    if api == "embeddings":
        return expect_embeddings(body)
    if api == "responses":
        return expect_responses(body, streamed)
    return expect_messages(body, streamed)


# ---- AWS Bedrock ----
# Bedrock answers name no model (the path does), count inputTokens without
# the cache (inclusive input = inputTokens + cacheRead + cacheWrite), give
# the request id in x-amzn-RequestId and stream in AWS's binary event-stream
# framing, decoded here on its own.

def es_frames(data):
    """(headers, payload) of every AWS event-stream message, both CRCs
    checked; ValueError on a bad CRC, impossible lengths or a cut."""
    out, i = [], 0
    while i < len(data):
        if i + 12 > len(data):
            raise ValueError("event stream cut in a prelude at %d" % i)
        total, hlen, pcrc = struct.unpack(">III", data[i:i + 12])
        if zlib.crc32(data[i:i + 8]) != pcrc:
            raise ValueError("prelude CRC mismatch at %d" % i)
        if total < 16 or hlen > total - 16:
            raise ValueError("impossible lengths at %d" % i)
        if i + total > len(data):
            raise ValueError("event stream cut in a message at %d" % i)
        msg = data[i:i + total]
        if zlib.crc32(msg[:-4]) != struct.unpack(">I", msg[-4:])[0]:
            raise ValueError("message CRC mismatch at %d" % i)
        h, j, headers = msg[12:12 + hlen], 0, {}
        sizes = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
        while j < len(h):
            n = h[j]
            name = h[j + 1:j + 1 + n].decode("utf-8", "replace")
            kind = h[j + 1 + n]
            j += 2 + n
            if kind in (0, 1):
                headers[name] = kind == 0
            elif kind in (6, 7):
                size = struct.unpack(">H", h[j:j + 2])[0]
                v = h[j + 2:j + 2 + size]
                headers[name] = v.decode("utf-8", "replace") if kind == 7 else v
                j += 2 + size
            elif kind in sizes:
                headers[name] = h[j:j + sizes[kind]]
                j += sizes[kind]
            else:
                raise ValueError("unknown header type %d" % kind)
        out.append((headers, msg[12 + hlen:-4]))
        i += total
    return out


def bedrock_model(url):
    """The model id of the path, percent-decoded."""
    from urllib.parse import unquote, urlsplit
    m = re.search(r"/model/(.+)/[a-z-]+$", urlsplit(url).path.rstrip("/"))
    return unquote(m.group(1)) if m else None


def header_of(headers, name):
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def usage_bedrock(u, exp):
    """Converse / Nova usage: inputTokens leave the cache out."""
    if not isinstance(u, dict):
        return
    read = u.get("cacheReadInputTokens", u.get("cacheReadInputTokenCount"))
    write = u.get("cacheWriteInputTokens", u.get("cacheWriteInputTokenCount"))
    if isinstance(u.get("inputTokens"), int):
        exp["usage"]["input_tokens"] = (u["inputTokens"] + (read or 0)
                                        + (write or 0))
    if isinstance(u.get("outputTokens"), int):
        exp["usage"]["output_tokens"] = u["outputTokens"]
    if isinstance(u.get("totalTokens"), int):
        exp["usage"]["total_tokens"] = u["totalTokens"]
    if isinstance(read, int):
        exp["usage"]["cache_read_input_tokens"] = read
    if isinstance(write, int):
        exp["usage"]["cache_write_input_tokens"] = write


def usage_headers(headers, exp):
    """x-amzn-bedrock-*-token-count: input without the cache, as above."""
    def count(name):
        v = header_of(headers, name)
        return int(v) if isinstance(v, str) and v.isdigit() else None
    inp = count("x-amzn-bedrock-input-token-count")
    out = count("x-amzn-bedrock-output-token-count")
    read = count("x-amzn-bedrock-cache-read-input-token-count")
    write = count("x-amzn-bedrock-cache-write-input-token-count")
    if inp is not None:
        exp["usage"]["input_tokens"] = inp + (read or 0) + (write or 0)
    if out is not None:
        exp["usage"]["output_tokens"] = out
    if read is not None:
        exp["usage"]["cache_read_input_tokens"] = read
    if write is not None:
        exp["usage"]["cache_write_input_tokens"] = write


def converse_blocks(blocks):
    text, tools = "", []
    for b in blocks or []:
        if isinstance(b.get("text"), str):
            text += b["text"]
        tu = b.get("toolUse")
        if isinstance(tu, dict):
            tools.append({"id": tu.get("toolUseId"), "name": tu.get("name"),
                          "arguments": tu.get("input")})
    return text, tools


def expect_converse_object(j, exp):
    msg = (j.get("output") or {}).get("message") or {}
    text, tools = converse_blocks(msg.get("content"))
    exp["choices"] = [{"text": text, "tools": tools,
                       "finish": j.get("stopReason")}]
    usage_bedrock(j.get("usage"), exp)


def expect_converse_stream(frames, exp):
    blocks, stop = {}, None
    for headers, payload in frames:
        kind = headers.get(":message-type")
        if kind in ("exception", "error"):
            exp["is_error"] = True
            try:
                exp["error"] = json.loads(payload).get("message")
            except ValueError:
                exp["error"] = headers.get(":error-message")
            continue
        j = json.loads(payload)
        ev = headers.get(":event-type")
        if ev == "contentBlockStart":
            tu = (j.get("start") or {}).get("toolUse")
            if isinstance(tu, dict):
                blocks[j["contentBlockIndex"]] = {
                    "tool": True, "id": tu.get("toolUseId"),
                    "name": tu.get("name"), "text": ""}
        elif ev == "contentBlockDelta":
            b = blocks.setdefault(j["contentBlockIndex"],
                                  {"tool": False, "text": ""})
            d = j.get("delta") or {}
            if isinstance(d.get("text"), str):
                b["text"] += d["text"]
            elif isinstance((d.get("toolUse") or {}).get("input"), str):
                b["text"] += d["toolUse"]["input"]
        elif ev == "messageStop":
            stop = j.get("stopReason")
        elif ev == "metadata":
            usage_bedrock(j.get("usage"), exp)
    text, tools = "", []
    for i in sorted(blocks):
        b = blocks[i]
        if b["tool"]:
            tools.append({"id": b["id"], "name": b["name"],
                          "arguments": json.loads(b["text"] or "{}")})
        else:
            text += b["text"]
    exp["choices"] = [{"text": text, "tools": tools, "finish": stop}]


def expect_invoke(family, j, headers, exp):
    """A plain InvokeModel answer in the model's own shape."""
    if family == "anthropic":
        m = expect_messages(json.dumps(j), False)
        m["request_model"] = exp["request_model"]
        return m
    if family == "nova":
        expect_converse_object(j, exp)
    elif family == "llama":
        exp["choices"] = [{"text": j.get("generation") or "", "tools": [],
                           "finish": j.get("stop_reason")}]
        if isinstance(j.get("prompt_token_count"), int):
            exp["usage"]["input_tokens"] = j["prompt_token_count"]
        if isinstance(j.get("generation_token_count"), int):
            exp["usage"]["output_tokens"] = j["generation_token_count"]
    elif family == "titan":
        exp["choices"] = [{"text": r.get("outputText") or "", "tools": [],
                           "finish": r.get("completionReason")}
                          for r in j.get("results") or []]
        if isinstance(j.get("inputTextTokenCount"), int):
            exp["usage"]["input_tokens"] = j["inputTextTokenCount"]
    elif family == "mistral":
        exp["choices"] = [{"text": o.get("text") or "", "tools": [],
                           "finish": o.get("stop_reason")}
                          for o in j.get("outputs") or []]
    elif family == "cohere":
        exp["id"] = j.get("response_id")
        tools = [{"id": None, "name": t.get("name"),
                  "arguments": t.get("parameters")}
                 for t in j.get("tool_calls") or []]
        exp["choices"] = [{"text": j.get("text") or "", "tools": tools,
                           "finish": j.get("finish_reason")}]
    else:
        raise ValueError("no reading here for this model family")
    if not exp["usage"]:
        usage_headers(headers, exp)
    return exp


def bedrock_family(model):
    m = re.sub(r"^arn:.*/", "", model or "")
    m = re.sub(r"^(us|eu|apac|au|jp|ca|global|us-gov)\.", "", m)
    for prefix, fam in (("anthropic.", "anthropic"), ("amazon.nova", "nova"),
                        ("meta.llama", "llama"), ("amazon.titan-text", "titan"),
                        ("mistral.", "mistral"), ("cohere.command", "cohere")):
        if m.startswith(prefix):
            return fam
    return None


def expect_bedrock(status, body_path, req_meta, headers):
    url = req_meta.get("url", "")
    with open(body_path, "rb") as f:
        data = f.read()
    exp = empty_expect()
    exp["request_model"] = bedrock_model(url)
    exp["id"] = header_of(headers, "x-amzn-requestid")
    if status >= 400:
        exp["is_error"] = True
        exp["error"] = error_message(data.decode("utf-8", "replace"))
        return exp
    action = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    family = bedrock_family(exp["request_model"])
    if action == "converse":
        expect_converse_object(json.loads(data), exp)
        return exp
    if action == "converse-stream":
        expect_converse_stream(es_frames(data), exp)
        return exp
    if action == "invoke":
        return expect_invoke(family, json.loads(data), headers, exp)
    # invoke-with-response-stream: base64 model chunks inside the frames
    chunks = []
    for h, payload in es_frames(data):
        if h.get(":message-type") in ("exception", "error"):
            exp["is_error"] = True
            exp["error"] = json.loads(payload).get("message")
        elif h.get(":event-type") == "chunk":
            chunks.append(json.loads(base64.b64decode(
                json.loads(payload)["bytes"])))
    if family != "anthropic":
        raise ValueError("no reading here for %s streams" % family)
    sse = "".join("data: %s\n\n" % json.dumps(c) for c in chunks)
    m = expect_messages(sse, True)
    m["request_model"] = exp["request_model"]
    m["is_error"], m["error"] = exp["is_error"], exp["error"]
    return m


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

    if exp.get("request_model") and \
            rec.get("request_model") != exp["request_model"]:
        diffs.append("request_model: want %s, got %s"
                     % (short(exp["request_model"]),
                        short(rec.get("request_model"))))
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

    if api in ("embeddings", "gemini_embed") or exp["choices"] is None:
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
    try:
        with open(os.path.join(case_dir, "request.json"), "rb") as f:
            req_json = json.loads(f.read().decode("utf-8", errors="replace"))
    except ValueError:
        req_json = None
    with open(body_path, "rb") as f:
        body = f.read().decode("utf-8", errors="replace")
    ctype = " ".join(str(v) for k, v in headers.items()
                     if k.lower() == "content-type")
    streamed = ("event-stream" in ctype or bool(resp_meta.get("streaming"))
                or body.lstrip().startswith(("data:", "event:")))
    try:
        if api == "bedrock":
            exp = expect_bedrock(status, body_path, req_meta, headers)
        elif api in native.APIS and status < 400:
            exp = native.expect(api, status, body, streamed, req_json)
        else:
            exp = expect_for(api, status, body, streamed and status < 400,
                             req_meta.get("url", ""))
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
    if api in native.APIS:
        diffs = native.compare(api, exp, rec, compare, req_json)
    else:
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
            napi, why = native.native_api_of(provider, req_meta)
            if why:
                print("SKIP %s: %s" % (name, why))
                skipped += 1
                continue
            api = napi or api
            if provider in NATIVE_ONLY:
                print("SKIP %s: %s" % (name, NATIVE_ONLY[provider]))
                skipped += 1
                continue
            if api is None and provider in ("gemini", "vertex-ai"):
                print("SKIP %s: %s is not a generation (caches, token "
                      "counts, model admin)" % (name, path.split("?")[0]))
                skipped += 1
                continue
            if api is None:
                print("SKIP %s: endpoint %s not parsed yet"
                      % (name, path.split("?")[0]))
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
