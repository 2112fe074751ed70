#!/usr/bin/python3
"""h2_mock: the mock provider's OpenAI chat completions over HTTP/2 (TLS,
ALPN "h2"), for the HTTP/2 capture tests.

    h2_mock.py --tls CERT KEY | --plain [--host 127.0.0.1] [--port 0]
               [--port-file F] [--api-key KEY] [--log FILE]
               [--exit-with-parent] [--max-seconds N]

Answers POST /v1/chat/completions with examples/mock_provider.py's
deterministic answers (plain JSON, or SSE when the request streams), each
stream event in its own DATA frame, the events of concurrent streams
interleaved (round robin, 5 ms apart). "x-mock-encoding: gzip" (or
deflate, br, zstd) encodes the body, flushed per event. Other paths: 404.
A missing or wrong bearer key: 401. One thread per connection; python3-h2
(hyper-h2) does the framing. --plain serves cleartext HTTP/2 with prior
knowledge (h2c, no Upgrade). Only for tests: every wait is bounded.
"""
import argparse
import json
import os
import select
import socket
import ssl
import sys
import threading
import time

import h2.config
import h2.connection
import h2.events

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "examples"))
import mock_provider  # noqa: E402  (the answers, the encoders)

EVENT_GAP = 0.005


class Stream:
    def __init__(self):
        self.headers = {}
        self.body = b""
        self.pieces = []  # (headers or None, data, end)


def answer(st, api_key):
    """The frames of one answer: a list of (headers, data, end_stream)."""
    h = st.headers
    if h.get(":path") != "/v1/chat/completions" or h.get(":method") != "POST":
        return [([(":status", "404")], b"not found", True)]
    if api_key and h.get("authorization") != "Bearer " + api_key:
        return [([(":status", "401"), ("content-type", "application/json")],
                 mock_provider.error_body("openai", 401), True)]
    req = json.loads(st.body or b"{}")
    events, whole = mock_provider.openai_chat(req, st.body, h)
    coding = h.get("x-mock-encoding", "")
    enc = mock_provider.Encoder(coding) if coding else None
    head = [(":status", "200")]
    if events is None:
        head.append(("content-type", "application/json"))
        if enc:
            head.append(("content-encoding", coding))
            whole = enc.feed(whole) + enc.finish()
        head.append(("content-length", str(len(whole))))
        return [(head, whole, True)]
    head.append(("content-type", "text/event-stream"))
    if enc:
        head.append(("content-encoding", coding))
    out = [(head, None, False)]
    for e in events:
        out.append((None, enc.feed(e) if enc else e, False))
    out.append((None, enc.finish() if enc else b"", True))
    return out


def serve(sock, api_key, log, cid):
    cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=cfg)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams = {}
    ready = []  # stream ids with pieces to send, round robin
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        wait = EVENT_GAP if ready else 1.0
        r, _, _ = select.select([sock], [], [], wait)
        if r or (hasattr(sock, "pending") and sock.pending()):
            try:
                data = sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue  # a TLS record without application data
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    st = streams.setdefault(ev.stream_id, Stream())
                    st.headers = dict(ev.headers)
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id].body += ev.data
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    st = streams[ev.stream_id]
                    st.pieces = answer(st, api_key)
                    ready.append(ev.stream_id)
                    log("conn %d %s %s stream %d" % (
                        cid, st.headers.get(":method"),
                        st.headers.get(":path"), ev.stream_id))
                elif isinstance(ev, h2.events.StreamReset):
                    if ev.stream_id in ready:
                        ready.remove(ev.stream_id)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
        elif ready:
            for sid in list(ready):  # one piece of each stream
                head, data, end = streams[sid].pieces.pop(0)
                if head:
                    conn.send_headers(sid, head, end_stream=end and not data)
                if data is not None and (data or not head):
                    conn.send_data(sid, data, end_stream=end)
                if end:
                    ready.remove(sid)
                    del streams[sid]
        out = conn.data_to_send()
        if out:
            sock.settimeout(10)
            sock.sendall(out)
            sock.settimeout(EVENT_GAP)


def main():
    ap = argparse.ArgumentParser(description="HTTP/2 mock LLM API")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--api-key")
    ap.add_argument("--log")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=600)
    a = ap.parse_args()
    if bool(a.tls) == a.plain:
        ap.error("give --tls CERT KEY or --plain")
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*a.tls)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
    lsock = socket.create_server((a.host, a.port))
    lock = threading.Lock()

    def log(line):
        if a.log:
            with lock, open(a.log, "a") as f:
                f.write(line + "\n")

    def one(raw, cid):
        try:
            if a.plain:
                with raw:
                    raw.settimeout(EVENT_GAP)
                    serve(raw, a.api_key, log, cid)
                return
            with ctx.wrap_socket(raw, server_side=True) as s:
                if s.selected_alpn_protocol() != "h2":
                    log("not h2: %s" % s.selected_alpn_protocol())
                    return
                s.settimeout(EVENT_GAP)
                serve(s, a.api_key, log, cid)
        except (OSError, ssl.SSLError) as e:
            log("connection error: %s" % e)

    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(lsock.getsockname()[1]))
        os.rename(a.port_file + ".tmp", a.port_file)
    parent = os.getppid()
    end = time.monotonic() + a.max_seconds
    lsock.settimeout(0.2)
    cid = 0
    while time.monotonic() < end:
        if a.exit_with_parent and os.getppid() != parent:
            break
        try:
            raw, _ = lsock.accept()
        except socket.timeout:
            continue
        raw.settimeout(None)
        cid += 1
        threading.Thread(target=one, args=(raw, cid), daemon=True).start()


if __name__ == "__main__":
    main()
