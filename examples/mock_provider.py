#!/usr/bin/python3
"""mock_provider: a small, deterministic stand-in for LLM provider APIs.

It answers the OpenAI chat completions and embeddings APIs and the Anthropic
messages API, plain and streamed (SSE), over HTTP or HTTPS, so that the
autotrace demo and tests run with no network and no keys.

    mock_provider.py [--host 127.0.0.1] [--port 0] [--port-file F]
                     [--tls CERT KEY] [--api-key KEY] [--log FILE]
                     [--verbose] [--exit-with-parent] [--max-seconds N]

With --port 0 the kernel picks a free port; the first line on stdout is
"listening on PORT" (and the port is written to --port-file).

Behaviour (deterministic: the same request always gets the same bytes):
  - When the request offers tools and the conversation holds no tool result
    yet, the answer is a call of the first tool, with plausible arguments
    (a "city" parameter gets "Paris").
  - Otherwise the answer is text: it quotes the tool result when there is
    one, else the last user message.
  - Token counts: input = words in the request's messages (and system
    prompt), output = words in the answer.

Endpoints (any path prefix is accepted, so custom base URLs work):
  POST .../chat/completions   OpenAI chat (plus "stream": true)
  POST .../embeddings         OpenAI embeddings
  POST .../messages           Anthropic messages (plus "stream": true)
  POST .../api/chat           Ollama chat (streams NDJSON unless
                              "stream": false)
  GET  /health                {"ok":true}  (not an LLM call)
  GET  /v1/models             a model list
  POST /other                 echoes the byte count (not an LLM call)

Control headers (for tests):
  x-mock-status: N            answer with HTTP N and the provider's error body
  x-mock-chunk-bytes: N       write the body in N-byte pieces, each flushed
                              (streams: each piece is one HTTP chunk)
  x-mock-delay-ms: N          wait N ms before the response headers
  x-mock-event-delay-ms: N    pause between stream events (default 5)
  x-mock-abort-after-bytes: N close the connection after N body bytes
  x-mock-gzip: 1              Content-Encoding: gzip
  x-mock-encoding: C          Content-Encoding C: gzip, deflate, br or zstd
                              (streams are flushed after every event)
  x-mock-cached-tokens: N     report N cached input tokens
  x-mock-pad-bytes: N         add N bytes of filler to the answer text
  x-mock-parallel-tools: N    OpenAI chat, not streamed: a tool-calling
                              answer holds N calls (the first N tools)
  x-mock-tool-rounds: N       call tools N times before answering (default
                              1): while fewer than N tool results follow the
                              last user message, call the offered tools in
                              turn (the first, then the second, ...)

With --api-key KEY every LLM request must carry "Authorization: Bearer KEY"
or "x-api-key: KEY" (401 otherwise), which proves that the traced program's
headers reach the server unchanged.
"""

import argparse
import base64
import gzip
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
import ctypes
import ctypes.util
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREATED = 1763700000  # fixed, so that answers are byte-for-byte repeatable
MAX_REQUEST_BODY = 64 * 1024 * 1024


class Abort(Exception):
    """The test asked us to drop the connection mid-response."""


def words(text):
    return len(text.split()) if isinstance(text, str) else 0


def text_of(content):
    """Concatenated text of an OpenAI or Anthropic message content."""
    if isinstance(content, str):
        return content
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    out.append(part["text"])
                elif part.get("type") == "tool_result":
                    out.append(text_of(part.get("content")))
    return " ".join(out)


def digest(body, salt):
    return hashlib.sha256(salt.encode() + body).hexdigest()


# ---- the deterministic "agent" ----


def plausible_value(name, schema):
    typ = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(schema, dict) and isinstance(schema.get("enum"), list) \
            and schema["enum"]:
        return schema["enum"][0]
    lname = name.lower()
    if typ in ("integer", "number"):
        return 3
    if typ == "boolean":
        return True
    if typ == "array":
        return ["Paris"]
    if "city" in lname or "location" in lname or "place" in lname:
        return "Paris"
    if "unit" in lname:
        return "celsius"
    if "query" in lname or "q" == lname:
        return "weather in Paris"
    return "example"


def tool_arguments(schema):
    if not isinstance(schema, dict):
        return {"city": "Paris"}
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        return {}
    required = schema.get("required")
    names = [n for n in props if isinstance(required, list) and n in required]
    if not names:
        names = [next(iter(props))]
    return {n: plausible_value(n, props[n]) for n in names}


def first_tool(req, api, index=0):
    tools = req.get("tools")
    if not isinstance(tools, list) or not tools:
        return None
    t = tools[index % len(tools)]
    if not isinstance(t, dict):
        return None
    if api == "openai":
        fn = t.get("function") if isinstance(t.get("function"), dict) else t
        name = fn.get("name") if isinstance(fn.get("name"), str) else "tool"
        return name, tool_arguments(fn.get("parameters"))
    name = t.get("name") if isinstance(t.get("name"), str) else "tool"
    return name, tool_arguments(t.get("input_schema"))


def conversation(req, api):
    """(input words, last user text, last tool result or None, number of
    tool results since the last user message)."""
    n = 0
    last_user = ""
    tool_result = None
    results = 0
    if api == "anthropic":
        n += words(text_of(req.get("system")))
    msgs = req.get("messages")
    if not isinstance(msgs, list):
        msgs = []
    for m in msgs:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        n += words(text_of(content))
        role = m.get("role")
        if role == "tool" or role == "function":
            tool_result = text_of(content)
            results += 1
        elif role == "user":
            if isinstance(content, list) and any(
                    isinstance(p, dict) and p.get("type") == "tool_result"
                    for p in content):
                tool_result = text_of(content)
                results += 1
            else:
                last_user = text_of(content)
                tool_result = None
                results = 0
    return n, last_user, tool_result, results


def decide(req, api, pad, rounds=1):
    """What the mock model answers: (text, tool call or None)."""
    n_in, last_user, tool_result, results = conversation(req, api)
    tool = first_tool(req, api, results)
    if tool is not None and results < rounds:
        return n_in, "", tool
    if tool_result is not None:
        text = "The tool returned: %s. That is all I know." % tool_result
    else:
        text = "This is a mock answer to: %s" % last_user
    if pad > 0:
        filler = "lorem "
        text += " " + (filler * (pad // len(filler) + 1))[:pad]
    return n_in, text, None


def response_model(model, api):
    if api == "anthropic":
        return model
    if model.endswith("-2024-07-18"):
        return model
    return model + "-2024-07-18"


def split_pieces(s, n):
    """Cut s into about n pieces at deterministic places."""
    if not s:
        return []
    size = max(1, (len(s) + n - 1) // n)
    return [s[i:i + size] for i in range(0, len(s), size)]


def text_pieces(text):
    """Stream deltas: one or two words each, spaces kept."""
    out = []
    cur = ""
    for i, w in enumerate(text.split(" ")):
        cur += ("" if i == 0 else " ") + w
        if len(cur) >= 8:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


# ---- OpenAI ----


def openai_usage(n_in, n_out, cached):
    return {
        "prompt_tokens": n_in,
        "completion_tokens": n_out,
        "total_tokens": n_in + n_out,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0,
                                      "audio_tokens": 0},
    }


def openai_chat(req, body, hdr):
    pad = int(hdr.get("x-mock-pad-bytes", "0") or 0)
    rounds = int(hdr.get("x-mock-tool-rounds", "1") or 1)
    n_in, text, tool = decide(req, "openai", pad, rounds)
    model = req.get("model") if isinstance(req.get("model"), str) else "mock"
    rid = "chatcmpl-mock" + digest(body, "oa")[:20]
    cached = min(int(hdr.get("x-mock-cached-tokens", "0") or 0), n_in)
    call_id = "call_" + digest(body, "call")[:16]
    if tool:
        args = json.dumps(tool[1])
        n_out = words(args) + 2
        finish = "tool_calls"
    else:
        args = None
        n_out = words(text)
        finish = "stop"
    usage = openai_usage(n_in, n_out, cached)
    base = {"id": rid, "created": CREATED,
            "model": response_model(model, "openai"),
            "system_fingerprint": "fp_mock01"}
    if not req.get("stream"):
        msg = {"role": "assistant", "content": text if not tool else None,
               "refusal": None}
        if tool:
            msg["tool_calls"] = [{"id": call_id, "type": "function",
                                  "function": {"name": tool[0],
                                               "arguments": args}}]
            n_par = int(hdr.get("x-mock-parallel-tools", "1") or 1)
            for i in range(1, max(1, min(n_par, 8))):
                t = first_tool(req, "openai", i)
                msg["tool_calls"].append({
                    "id": "%s_%d" % (call_id, i), "type": "function",
                    "function": {"name": t[0],
                                 "arguments": json.dumps(t[1])}})
        doc = dict(base)
        doc["object"] = "chat.completion"
        doc["choices"] = [{"index": 0, "message": msg, "logprobs": None,
                           "finish_reason": finish}]
        doc["usage"] = usage
        doc["service_tier"] = "default"
        return None, json.dumps(doc).encode()
    include_usage = isinstance(req.get("stream_options"), dict) and \
        bool(req["stream_options"].get("include_usage"))
    events = []

    def chunk(delta, finish_reason=None):
        d = dict(base)
        d["object"] = "chat.completion.chunk"
        d["choices"] = [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish_reason}]
        if include_usage:
            d["usage"] = None
        return d

    if tool:
        events.append(chunk({"role": "assistant", "content": None,
                             "tool_calls": [{
                                 "index": 0, "id": call_id,
                                 "type": "function",
                                 "function": {"name": tool[0],
                                              "arguments": ""}}]}))
        for piece in split_pieces(args, 4):
            events.append(chunk({"tool_calls": [{
                "index": 0, "function": {"arguments": piece}}]}))
    else:
        events.append(chunk({"role": "assistant", "content": "",
                             "refusal": None}))
        for piece in text_pieces(text):
            events.append(chunk({"content": piece}))
    events.append(chunk({}, finish))
    if include_usage:
        d = dict(base)
        d["object"] = "chat.completion.chunk"
        d["choices"] = []
        d["usage"] = usage
        events.append(d)
    sse = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    sse.append(b"data: [DONE]\n\n")
    return sse, None


def openai_embeddings(req, body, hdr):
    inp = req.get("input")
    items = inp if isinstance(inp, list) else [inp]
    model = req.get("model") if isinstance(req.get("model"), str) else "mock"
    data = []
    n_in = 0
    for i, item in enumerate(items):
        s = item if isinstance(item, str) else json.dumps(item)
        n_in += max(1, words(s))
        h = hashlib.sha256(s.encode()).digest()
        vec = [round((b - 128) / 128.0, 4) for b in h[:8]]
        if req.get("encoding_format") == "base64":
            emb = base64.b64encode(struct.pack("<8f", *vec)).decode()
        else:
            emb = vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    doc = {"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": n_in, "total_tokens": n_in}}
    return None, json.dumps(doc).encode()


# ---- Anthropic ----


def anthropic_messages(req, body, hdr):
    pad = int(hdr.get("x-mock-pad-bytes", "0") or 0)
    rounds = int(hdr.get("x-mock-tool-rounds", "1") or 1)
    n_in, text, tool = decide(req, "anthropic", pad, rounds)
    model = req.get("model") if isinstance(req.get("model"), str) else "mock"
    mid = "msg_mock" + digest(body, "an")[:20]
    tid = "toolu_mock" + digest(body, "tu")[:16]
    cached = min(int(hdr.get("x-mock-cached-tokens", "0") or 0), n_in)
    if tool:
        text = "I will look that up."
        n_out = words(text) + words(json.dumps(tool[1])) + 2
        stop = "tool_use"
    else:
        n_out = words(text)
        stop = "end_turn"
    # Anthropic's input_tokens excludes cache reads.
    usage = {"input_tokens": n_in - cached,
             "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": cached,
             "output_tokens": n_out}
    content = [{"type": "text", "text": text}]
    if tool:
        content.append({"type": "tool_use", "id": tid, "name": tool[0],
                        "input": tool[1]})
    if not req.get("stream"):
        doc = {"id": mid, "type": "message", "role": "assistant",
               "model": response_model(model, "anthropic"),
               "content": content, "stop_reason": stop,
               "stop_sequence": None, "usage": usage}
        return None, json.dumps(doc).encode()
    events = []

    def ev(name, data):
        events.append(b"event: " + name.encode() + b"\ndata: " +
                      json.dumps(data).encode() + b"\n\n")

    start_usage = dict(usage)
    start_usage["output_tokens"] = 1
    ev("message_start", {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant",
        "model": response_model(model, "anthropic"), "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}})
    ev("content_block_start", {"type": "content_block_start", "index": 0,
                               "content_block": {"type": "text",
                                                 "text": ""}})
    ev("ping", {"type": "ping"})
    for piece in text_pieces(text):
        ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta",
                                             "text": piece}})
    ev("content_block_stop", {"type": "content_block_stop", "index": 0})
    if tool:
        ev("content_block_start", {"type": "content_block_start", "index": 1,
                                   "content_block": {"type": "tool_use",
                                                     "id": tid,
                                                     "name": tool[0],
                                                     "input": {}}})
        ev("content_block_delta", {"type": "content_block_delta", "index": 1,
                                   "delta": {"type": "input_json_delta",
                                             "partial_json": ""}})
        for piece in split_pieces(json.dumps(tool[1]), 4):
            ev("content_block_delta", {"type": "content_block_delta",
                                       "index": 1,
                                       "delta": {"type": "input_json_delta",
                                                 "partial_json": piece}})
        ev("content_block_stop", {"type": "content_block_stop", "index": 1})
    ev("message_delta", {"type": "message_delta",
                         "delta": {"stop_reason": stop,
                                   "stop_sequence": None},
                         "usage": {"output_tokens": n_out}})
    ev("message_stop", {"type": "message_stop"})
    return events, None


# ---- Ollama ----


def ollama_chat(req, body, hdr):
    pad = int(hdr.get("x-mock-pad-bytes", "0") or 0)
    n_in, text, tool = decide(req, "openai", pad)
    model = req.get("model") if isinstance(req.get("model"), str) else "mock"
    n_out = words(text)
    created = "2025-11-21T04:00:00.000000Z"
    final = {"model": model, "created_at": created,
             "message": {"role": "assistant", "content": ""},
             "done_reason": "stop", "done": True,
             "total_duration": 123456789, "load_duration": 1234567,
             "prompt_eval_count": n_in, "prompt_eval_duration": 2345678,
             "eval_count": n_out, "eval_duration": 98765432}
    if req.get("stream") is False:
        doc = dict(final)
        doc["message"] = {"role": "assistant", "content": text}
        return None, json.dumps(doc).encode()
    lines = []
    for piece in text_pieces(text):
        lines.append(json.dumps({"model": model, "created_at": created,
                                 "message": {"role": "assistant",
                                             "content": piece},
                                 "done": False}).encode() + b"\n")
    lines.append(json.dumps(final).encode() + b"\n")
    return lines, None


# ---- content codings (br and zstd through the system libraries) ----


class Encoder:
    """Incremental compressor: feed() returns bytes flushed so far."""

    def __init__(self, coding):
        self.coding = coding
        if coding == "gzip":
            self.z = zlib.compressobj(6, zlib.DEFLATED, 31)
        elif coding == "deflate":
            self.z = zlib.compressobj(6, zlib.DEFLATED, 15)
        elif coding == "br":
            self.lib = _lib("brotlienc")
            self.lib.BrotliEncoderCreateInstance.restype = ctypes.c_void_p
            self.lib.BrotliEncoderCompressStream.argtypes = [
                ctypes.c_void_p, ctypes.c_int,
                ctypes.POINTER(ctypes.c_size_t),
                ctypes.POINTER(ctypes.c_void_p),
                ctypes.POINTER(ctypes.c_size_t),
                ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p]
            self.lib.BrotliEncoderHasMoreOutput.argtypes = [ctypes.c_void_p]
            self.lib.BrotliEncoderDestroyInstance.argtypes = [ctypes.c_void_p]
            self.st = self.lib.BrotliEncoderCreateInstance(None, None, None)
        elif coding == "zstd":
            self.lib = _lib("zstd")
            self.lib.ZSTD_createCCtx.restype = ctypes.c_void_p
            self.lib.ZSTD_compressStream2.restype = ctypes.c_size_t
            self.lib.ZSTD_compressStream2.argtypes = [
                ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                ctypes.c_int]
            self.lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
            self.lib.ZSTD_freeCCtx.argtypes = [ctypes.c_void_p]
            self.cctx = self.lib.ZSTD_createCCtx()
        else:
            raise ValueError("unknown coding " + coding)

    def _brotli(self, data, op):
        src = ctypes.create_string_buffer(data, len(data))
        avail_in = ctypes.c_size_t(len(data))
        next_in = ctypes.c_void_p(ctypes.addressof(src))
        out = bytearray()
        buf = ctypes.create_string_buffer(65536)
        while True:
            avail_out = ctypes.c_size_t(len(buf))
            next_out = ctypes.c_void_p(ctypes.addressof(buf))
            if not self.lib.BrotliEncoderCompressStream(
                    self.st, op, ctypes.byref(avail_in), ctypes.byref(next_in),
                    ctypes.byref(avail_out), ctypes.byref(next_out), None):
                raise RuntimeError("brotli failed")
            out += buf.raw[:len(buf) - avail_out.value]
            if avail_in.value == 0 and \
                    not self.lib.BrotliEncoderHasMoreOutput(self.st):
                return bytes(out)

    def _zstd(self, data, op):
        class InBuf(ctypes.Structure):
            _fields_ = [("src", ctypes.c_void_p), ("size", ctypes.c_size_t),
                        ("pos", ctypes.c_size_t)]

        class OutBuf(ctypes.Structure):
            _fields_ = [("dst", ctypes.c_void_p), ("size", ctypes.c_size_t),
                        ("pos", ctypes.c_size_t)]
        src = ctypes.create_string_buffer(data, len(data))
        ib = InBuf(ctypes.addressof(src), len(data), 0)
        buf = ctypes.create_string_buffer(65536)
        out = bytearray()
        while True:
            ob = OutBuf(ctypes.addressof(buf), len(buf), 0)
            left = self.lib.ZSTD_compressStream2(self.cctx, ctypes.byref(ob),
                                                 ctypes.byref(ib), op)
            if self.lib.ZSTD_isError(left):
                raise RuntimeError("zstd failed")
            out += buf.raw[:ob.pos]
            if left == 0 and ib.pos == ib.size:
                return bytes(out)

    def feed(self, data):
        """Compress data and flush: the peer can decode it all now."""
        if self.coding in ("gzip", "deflate"):
            return self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        if self.coding == "br":
            return self._brotli(data, 1)
        return self._zstd(data, 1)

    def finish(self):
        if self.coding in ("gzip", "deflate"):
            return self.z.flush(zlib.Z_FINISH)
        if self.coding == "br":
            out = self._brotli(b"", 2)
            self.lib.BrotliEncoderDestroyInstance(self.st)
            return out
        out = self._zstd(b"", 2)
        self.lib.ZSTD_freeCCtx(self.cctx)
        return out


def _lib(name):
    path = ctypes.util.find_library(name)
    if not path:
        raise RuntimeError("lib%s is not installed" % name)
    return ctypes.CDLL(path)


# ---- errors, in each provider's shape ----

ERROR_TEXT = {
    400: ("invalid_request_error", "mock: the request is invalid"),
    401: ("authentication_error", "mock: invalid API key"),
    403: ("permission_error", "mock: permission denied"),
    404: ("not_found_error", "mock: no such model"),
    413: ("request_too_large", "mock: request too large"),
    429: ("rate_limit_error", "mock: rate limit exceeded"),
    500: ("api_error", "mock: internal server error"),
    503: ("overloaded_error", "mock: the server is overloaded"),
    529: ("overloaded_error", "mock: the server is overloaded"),
}


def error_body(api, status):
    etype, msg = ERROR_TEXT.get(status, ("api_error",
                                         "mock: error %d" % status))
    if api == "anthropic":
        return json.dumps({"type": "error",
                           "error": {"type": etype, "message": msg}}).encode()
    code = {429: "rate_limit_exceeded", 401: "invalid_api_key",
            404: "model_not_found"}.get(status)
    oa_type = {429: "requests", 400: "invalid_request_error",
               401: "invalid_request_error", 404: "invalid_request_error"}
    return json.dumps({"error": {"message": msg,
                                 "type": oa_type.get(status, "server_error"),
                                 "param": None, "code": code}}).encode()


# ---- HTTP ----


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-provider/1"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped after this

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.address_string(), fmt % args))

    # -- request body --

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise Abort()
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(8)
                if len(out) > MAX_REQUEST_BODY:
                    raise Abort()
        n = int(self.headers.get("Content-Length", "0") or 0)
        if n > MAX_REQUEST_BODY:
            raise Abort()
        return self.rfile.read(n) if n > 0 else b""

    # -- response writing with the test knobs --

    def knob(self, name, default=0):
        v = self.headers.get(name)
        try:
            return int(v) if v is not None else default
        except ValueError:
            return default

    def raw_write(self, data):
        """Write body bytes, honouring x-mock-abort-after-bytes."""
        limit = self.abort_after
        if limit is not None:
            room = limit - self.body_sent
            if room <= 0 or len(data) > room:
                if room > 0:
                    self.wfile.write(data[:room])
                    self.body_sent += room
                raise Abort()
        self.wfile.write(data)
        self.body_sent += len(data)

    def pieces(self, data):
        n = self.chunk_bytes
        if n <= 0:
            return [data] if data else []
        return [data[i:i + n] for i in range(0, len(data), n)]

    def send_plain(self, status, body, ctype="application/json",
                   extra=None):
        if self.coding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif self.coding:
            enc = Encoder(self.coding)
            body = enc.feed(body) + enc.finish()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.coding:
            self.send_header("Content-Encoding", self.coding)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        for p in self.pieces(body):
            self.raw_write(p)

    def send_stream(self, events, extra=None,
                    ctype="text/event-stream; charset=utf-8"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.coding:
            self.send_header("Content-Encoding", self.coding)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        comp = Encoder(self.coding) if self.coding else None
        delay = self.knob("x-mock-event-delay-ms", 5) / 1000.0
        for i, e in enumerate(events):
            if i > 0 and delay > 0:
                time.sleep(delay)
            data = comp.feed(e) if comp else e
            for p in self.pieces(data):
                self.raw_write(b"%x\r\n" % len(p) + p + b"\r\n")
        if comp:
            tail = comp.finish()
            if tail:
                self.raw_write(b"%x\r\n" % len(tail) + tail + b"\r\n")
        self.raw_write(b"0\r\n\r\n")

    # -- dispatch --

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except Abort:
            self.close_connection = True
            self.server.log("aborted connection as asked")
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (ConnectionError, ssl.SSLError, socket.timeout) as e:
            self.close_connection = True
            self.server.log("connection error: %r" % (e,))

    def do_GET(self):
        self.prepare()
        self.read_body()
        path = self.path.split("?")[0]
        if path == "/health":
            self.send_plain(200, b'{"ok":true}')
        elif path.endswith("/models"):
            self.send_plain(200, json.dumps({"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model",
                 "owned_by": "mock"}]}).encode())
        elif path == "/mock/stats":
            self.send_plain(200, json.dumps(
                {"requests": self.server.count}).encode())
        else:
            self.send_plain(404, b'{"error":"not found"}')

    def prepare(self):
        with self.server.lock:
            self.server.count += 1
        self.chunk_bytes = self.knob("x-mock-chunk-bytes", 0)
        self.abort_after = self.knob("x-mock-abort-after-bytes", -1)
        if self.abort_after < 0:
            self.abort_after = None
        self.coding = self.headers.get("x-mock-encoding", "").lower() or \
            ("gzip" if self.headers.get("x-mock-gzip", "") == "1" else "")
        if self.coding not in ("", "gzip", "deflate", "br", "zstd"):
            self.coding = ""
        self.body_sent = 0
        if self.headers.get("Connection", "").lower() == "close":
            self.close_connection = True

    def authorized(self):
        key = self.server.api_key
        if key is None:
            return True
        auth = self.headers.get("Authorization")
        if auth is not None and auth == "Bearer " + key:
            return True
        return self.headers.get("x-api-key") == key

    def do_POST(self):
        self.prepare()
        body = self.read_body()
        path = self.path.split("?")[0]
        if path.endswith("/chat/completions"):
            api, fn = "openai", openai_chat
        elif path.endswith("/embeddings"):
            api, fn = "openai", openai_embeddings
        elif path.endswith("/messages"):
            api, fn = "anthropic", anthropic_messages
        elif path.endswith("/api/chat"):
            api, fn = "ollama", ollama_chat
        else:
            self.send_plain(200, json.dumps(
                {"ok": True, "received_bytes": len(body)}).encode())
            return
        delay = self.knob("x-mock-delay-ms", 0)
        if delay > 0:
            time.sleep(min(delay, 60000) / 1000.0)
        rid = {"x-request-id": "req_mock" + digest(body, "rq")[:16]}
        if not self.authorized():
            self.send_plain(401, error_body(api, 401), extra=rid)
            return
        status = self.knob("x-mock-status", 0)
        if status >= 400:
            self.send_plain(status, error_body(api, status), extra=rid)
            return
        try:
            req = json.loads(body)
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except ValueError:
            self.send_plain(400, error_body(api, 400), extra=rid)
            return
        hdr = {k.lower(): v for k, v in self.headers.items()}
        stream, plain = fn(req, body, hdr)
        if stream is not None and api == "ollama":
            self.send_stream(stream, extra=rid, ctype="application/x-ndjson")
        elif stream is not None:
            self.send_stream(stream, extra=rid)
        else:
            self.send_plain(200, plain, extra=rid)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, api_key, logf, verbose):
        self.api_key = api_key
        self.logf = logf
        self.verbose = verbose
        self.lock = threading.Lock()
        self.count = 0
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)

    def handle_error(self, request, client_address):
        self.log("error on connection from %s: %r" %
                 (client_address, sys.exc_info()[1]))

    def log(self, line):
        line = time.strftime("%H:%M:%S ") + line + "\n"
        with self.lock:
            if self.logf:
                self.logf.write(line)
                self.logf.flush()
            if self.verbose:
                sys.stderr.write(line)
                sys.stderr.flush()


def watch(srv, with_parent, max_seconds):
    """Backstops so that a test harness that dies cannot leave us behind."""
    if not with_parent and max_seconds <= 0:
        return
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds if max_seconds > 0 else None

    def loop():
        while True:
            time.sleep(0.25)
            if with_parent and os.getppid() != parent:
                srv.log("parent %d is gone: stopping" % parent)
                break
            if deadline is not None and time.monotonic() > deadline:
                srv.log("--max-seconds reached: stopping")
                break
        srv.shutdown()

    threading.Thread(target=loop, daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="deterministic mock LLM API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--port-file")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--api-key")
    ap.add_argument("--log", help="append a request log to this file")
    ap.add_argument("--verbose", action="store_true",
                    help="also log to stderr")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop when the process that started us is gone")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop after this long whatever happens (0: never)")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("the mock only listens on loopback")
    logf = open(a.log, "a") if a.log else None
    srv = Server((a.host, a.port), a.api_key, logf, a.verbose)
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        ctx.set_alpn_protocols(["http/1.1"])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    port = srv.server_address[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, a.port_file)
    sys.stdout.write("listening on %d\n" % port)
    sys.stdout.flush()
    srv.log("listening on %s:%d%s" % (a.host, port,
                                      " (tls)" if a.tls else ""))
    watch(srv, a.exit_with_parent, a.max_seconds)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
