#!/usr/bin/python3
"""h2_record.py — record HTTP/2 connections made by real HTTP/2 stacks, as
fixtures for the wire/h2 unit tests (tests/unit/wire/test_h2*.c).

    /usr/bin/python3 tests/tools/h2_record.py [OUTDIR]

OUTDIR defaults to tests/fixtures/wire. Each fixture is one connection: the
bytes the client wrote (OUT) and the bytes it read (IN), in the order the
server saw them, as records

    1 byte direction ('>' OUT, '<' IN) | 4 bytes length, big-endian | bytes

The server is python3-h2 (hyper-h2); the clients are:

  curl_h2c.h2rec       the curl CLI (libcurl + libnghttp2) with
                       --http2-prior-knowledge and --compressed: a streamed
                       chat completion gzip-encoded per event; the server
                       advertises
                       SETTINGS_HEADER_TABLE_SIZE 512, so curl's encoder
                       must shrink its table
  httpx_h2c.h2rec      httpx (python3-h2 underneath) with http2 prior
                       knowledge: three concurrent streamed requests, the
                       answers interleaved frame by frame, one gzip-encoded
                       per event
  pyh2_features.h2rec  a python3-h2 client and server stepped in one process
                       (so the frame order is exact): priority, padded DATA,
                       a response header block split over CONTINUATION,
                       trailers, a 103 interim answer, a server push, two
                       interleaved streams, RST_STREAM mid-response, a
                       client SETTINGS_HEADER_TABLE_SIZE of 256 (table size
                       update, evictions), and a GOAWAY that leaves the
                       last stream unprocessed

The SSE bodies are synthetic (made up here, not provider traffic). Only
127.0.0.1 is used; every wait is bounded.
"""
import asyncio
import gzip
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import zlib

import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx

MODEL = "gpt-4o-mini"


def sse_events(cid, words):
    evs = [{"id": cid, "object": "chat.completion.chunk", "model": MODEL,
            "choices": [{"index": 0, "delta": {"role": "assistant",
                                               "content": ""},
                         "finish_reason": None}]}]
    for w in words:
        evs.append({"id": cid, "object": "chat.completion.chunk",
                    "model": MODEL,
                    "choices": [{"index": 0, "delta": {"content": w},
                                 "finish_reason": None}]})
    evs.append({"id": cid, "object": "chat.completion.chunk", "model": MODEL,
                "choices": [{"index": 0, "delta": {},
                             "finish_reason": "stop"}]})
    evs.append({"id": cid, "object": "chat.completion.chunk", "model": MODEL,
                "choices": [], "usage": {"prompt_tokens": 9,
                                         "completion_tokens": len(words),
                                         "total_tokens": 9 + len(words)}})
    out = [("data: " + json.dumps(e, separators=(",", ":")) + "\n\n").encode()
           for e in evs]
    out.append(b"data: [DONE]\n\n")
    return out


def completion(cid, text):
    return json.dumps({
        "id": cid, "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant",
                                             "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3,
                  "total_tokens": 12}}).encode()


class Recorder:
    def __init__(self):
        self.recs = []

    def add(self, d, data):
        if data:
            self.recs.append((d, bytes(data)))

    def write(self, path):
        with open(path, "wb") as f:
            for d, data in self.recs:
                f.write(d.encode() + struct.pack(">I", len(data)) + data)
        print("wrote %s: %d records, %d bytes" %
              (path, len(self.recs), sum(len(x) for _, x in self.recs)))


# ---- a socket server for real clients ------------------------------------

def answer_parts(path, req_headers, body):
    """The response of one request: headers and a list of DATA payloads."""
    h = {k.lower(): v for k, v in req_headers}
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        req = {}
    cid = "chatcmpl-%s" % h.get(b"x-case", b"x").decode()
    gz = b"gzip" in h.get(b"accept-encoding", b"") and b"gzip" in h.get(
        b"x-want", b"gzip")
    if req.get("stream"):
        parts = sse_events(cid, ["Hel", "lo", " from", " h2"])
        headers = [(":status", "200"), ("content-type", "text/event-stream"),
                   ("cache-control", "no-cache"), ("x-request-id", cid)]
        if gz:
            z = zlib.compressobj(6, zlib.DEFLATED, 31)
            parts = [z.compress(p) + z.flush(zlib.Z_SYNC_FLUSH)
                     for p in parts[:-1]] + [z.compress(parts[-1]) +
                                             z.flush(zlib.Z_FINISH)]
            headers.append(("content-encoding", "gzip"))
        return headers, parts
    payload = completion(cid, "Hello from h2")
    headers = [(":status", "200"), ("content-type", "application/json"),
               ("x-request-id", cid)]
    if gz:
        payload = gzip.compress(payload)
        headers.append(("content-encoding", "gzip"))
    headers.append(("content-length", str(len(payload))))
    return headers, [payload]


def serve_one(lsock, rec, settings, result):
    """Serve one connection; answers go out round-robin, one DATA frame per
    stream per turn, once the client has been quiet for 100 ms."""
    lsock.settimeout(20)
    try:
        s, _ = lsock.accept()
    except OSError as e:
        result.append(e)
        return
    s.settimeout(20)
    cfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
    conn = h2.connection.H2Connection(config=cfg)
    conn.local_settings = h2.settings.Settings(client=False,
                                               initial_values=settings)
    conn.initiate_connection()

    def flush():
        out = conn.data_to_send()
        if out:
            rec.add("<", out)
            s.sendall(out)

    flush()
    reqs, bodies, ready, pending = {}, {}, [], {}
    for _ in range(1000):
        r, _, _ = select.select([s], [], [], 0.1 if pending or ready else 20)
        if r:
            data = s.recv(65536)
            if not data:
                break
            rec.add(">", data)
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    reqs[ev.stream_id] = ev.headers
                    bodies[ev.stream_id] = b""
                elif isinstance(ev, h2.events.DataReceived):
                    bodies[ev.stream_id] += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    ready.append(ev.stream_id)
            flush()
            continue
        for sid in ready:
            hdrs = dict(reqs[sid])
            headers, parts = answer_parts(hdrs.get(b":path"), reqs[sid],
                                          bodies[sid])
            conn.send_headers(sid, headers)
            flush()
            pending[sid] = parts
        ready = []
        while pending:
            for sid in list(pending):
                parts = pending[sid]
                conn.send_data(sid, parts.pop(0), end_stream=not parts)
                flush()
                if not parts:
                    del pending[sid]
    s.close()
    result.append(None)


def with_server(settings, client, out):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    rec, result = Recorder(), []
    t = threading.Thread(target=serve_one, args=(lsock, rec, settings, result))
    t.start()
    client(port)
    t.join(30)
    lsock.close()
    if t.is_alive() or result != [None]:
        sys.exit("h2_record: server failed: %r" % result)
    rec.write(out)


def curl_client(port):
    # One request: curl 7.88 cannot reuse an h2c prior-knowledge
    # connection (curl/curl#10634, fixed in 8.0).
    url = "http://127.0.0.1:%d/v1/chat/completions" % port
    body = json.dumps({"model": MODEL, "stream": True, "messages": [
        {"role": "user", "content": "Say hello"}]})
    cmd = ["curl", "--max-time", "20", "-sS", "--http2-prior-knowledge",
           "--compressed", "-H", "content-type: application/json", "-H",
           "authorization: Bearer sk-test-h2", "-H", "x-case: curl",
           "-d", body, url]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=30)


def httpx_client(port):
    url = "http://127.0.0.1:%d/v1/chat/completions" % port

    async def main():
        async with httpx.AsyncClient(http1=False, http2=True,
                                     timeout=20) as cl:
            async def one(i):
                body = {"model": MODEL, "stream": True, "messages": [
                    {"role": "user", "content": "Say hello %d" % i}]}
                hdrs = {"authorization": "Bearer sk-test-h2",
                        "x-case": "httpx%d" % i,
                        "x-want": "gzip" if i == 1 else "identity"}
                async with cl.stream("POST", url, json=body,
                                     headers=hdrs) as r:
                    async for _ in r.aiter_bytes():
                        pass
            await asyncio.gather(*(one(i) for i in range(3)))
    asyncio.run(asyncio.wait_for(main(), 30))


# ---- both ends in one process ---------------------------------------------

def pyh2_features(out):
    rec = Recorder()
    ccfg = h2.config.H2Configuration(client_side=True, header_encoding=None)
    scfg = h2.config.H2Configuration(client_side=False, header_encoding=None)
    cl = h2.connection.H2Connection(config=ccfg)
    sv = h2.connection.H2Connection(config=scfg)
    cl.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.HEADER_TABLE_SIZE: 256,
        h2.settings.SettingCodes.ENABLE_PUSH: 1})
    cl.initiate_connection()
    sv.initiate_connection()

    def pump():
        """Move bytes both ways until neither side has anything to say."""
        for _ in range(100):
            a = cl.data_to_send()
            if a:
                rec.add(">", a)
                sv.receive_data(a)
            b = sv.data_to_send()
            if b:
                rec.add("<", b)
                cl.receive_data(b)
            if not a and not b:
                return
        sys.exit("h2_record: pump did not settle")

    pump()
    auth = (b":authority", b"api.openai.com")
    url = b"/v1/chat/completions"

    def req(sid, method=b"POST", path=url, extra=(), end=False, **kw):
        cl.send_headers(sid, [(b":method", method), (b":scheme", b"https"),
                              auth, (b":path", path),
                              (b"authorization", b"Bearer sk-test-h2"),
                              (b"x-request-id", b"req-%d-%s" % (sid, b"x" * sid * 7))]
                        + list(extra), end_stream=end, **kw)

    # 1: priority, a request body in two DATA frames (the second padded),
    # an answer with a header block over 16 KiB (CONTINUATION), padded
    # DATA, trailers
    body = json.dumps({"model": MODEL, "stream": True, "messages": [
        {"role": "user", "content": "Say hello"}]}).encode()
    req(1, extra=[(b"content-type", b"application/json"),
                  (b"content-length", str(len(body)).encode())],
        priority_weight=32)
    cl.send_data(1, body[:20])
    cl.send_data(1, body[20:], end_stream=True, pad_length=10)
    pump()
    sv.send_headers(1, [(b":status", b"200"),
                        (b"content-type", b"text/event-stream"),
                        (b"x-big", b"b" * 30000)])
    for i, ev in enumerate(sse_events("chatcmpl-py1", ["Hel", "lo"])):
        sv.send_data(1, ev, pad_length=7 if i % 2 == 0 else None)
        pump()
    sv.send_headers(1, [(b"x-trailer", b"done")], end_stream=True)
    pump()

    # 3 and 5: two GETs answered frame by frame in turn; the answer to 3
    # comes with a pushed response (stream 2)
    req(3, method=b"GET", path=b"/v1/models", end=True)
    req(5, method=b"GET", path=b"/v1/models/" + MODEL.encode(), end=True)
    pump()
    sv.push_stream(3, 2, [(b":method", b"GET"), (b":scheme", b"https"),
                          auth, (b":path", b"/pushed.json")])
    sv.send_headers(3, [(b":status", b"200"),
                        (b"content-type", b"application/json")])
    sv.send_headers(5, [(b":status", b"200"),
                        (b"content-type", b"application/json")])
    pump()
    models = b'{"object":"list","data":[{"id":"gpt-4o-mini"}]}'
    model = b'{"id":"gpt-4o-mini","object":"model"}'
    sv.send_data(3, models[:20])
    sv.send_data(5, model[:10])
    pump()
    sv.send_headers(2, [(b":status", b"200"),
                        (b"content-type", b"application/json")])
    sv.send_data(2, b'{"pushed":true}', end_stream=True)
    sv.send_data(3, models[20:], end_stream=True)
    sv.send_data(5, model[10:], end_stream=True)
    pump()

    # 7: reset by the client after the first event
    req(7, end=False)
    cl.send_data(7, body, end_stream=True)
    pump()
    sv.send_headers(7, [(b":status", b"200"),
                        (b"content-type", b"text/event-stream")])
    sv.send_data(7, sse_events("chatcmpl-py7", ["a"])[0])
    pump()
    cl.reset_stream(7, error_code=8)  # CANCEL
    pump()

    # 9: a 103 Early Hints, then the answer
    req(9, extra=[(b"content-type", b"application/json")])
    cl.send_data(9, body.replace(b'"stream": true', b'"stream": false'),
                 end_stream=True)
    pump()
    sv.send_headers(9, [(b":status", b"103"), (b"link", b"</a.css>; rel=preload")])
    sv.send_headers(9, [(b":status", b"200"),
                        (b"content-type", b"application/json")])
    sv.send_data(9, completion("chatcmpl-py9", "Hi"), end_stream=True)
    pump()

    # 11: opened, then the server goes away having processed up to 9
    req(11, end=True)
    pump()
    sv.close_connection(error_code=0, last_stream_id=9)
    pump()
    rec.write(out)


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "wire")
    os.makedirs(outdir, exist_ok=True)
    S = h2.settings.SettingCodes
    with_server({S.HEADER_TABLE_SIZE: 512, S.MAX_CONCURRENT_STREAMS: 100},
                curl_client, os.path.join(outdir, "curl_h2c.h2rec"))
    with_server({S.MAX_CONCURRENT_STREAMS: 100, S.MAX_FRAME_SIZE: 32768},
                httpx_client, os.path.join(outdir, "httpx_h2c.h2rec"))
    pyh2_features(os.path.join(outdir, "pyh2_features.h2rec"))


if __name__ == "__main__":
    main()
