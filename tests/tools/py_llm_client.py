#!/usr/bin/python3
"""py_llm_client: LLM calls through Python's HTTP libraries, for the TLS and
socket capture tests.

    py_llm_client.py --lib urllib|requests|httpx|httpx2|aiohttp|raw URL
        [--cacert PEM] [--key KEY] [--n N] [--stream] [--api chat|ollama]
        [--tag TAG] [-H 'Name: value']... [--write-bytes N] [--concurrent]

Makes N calls one after the other (on one keep-alive connection where the
library pools them: requests.Session, httpx.Client, aiohttp.ClientSession),
each a chat request whose user message is "TAG number I", and prints every
response body as received, so that a run with and one without the shim can
be compared byte for byte. --lib raw speaks HTTP/1.1 on a plain socket
itself, writing the request --write-bytes bytes at a time (0: at once) and
reading until the response is complete (Content-Length or chunked).
--lib httpx2 (httpx.Client) and httpx2-async (httpx.AsyncClient) speak
HTTP/2 (ALPN h2) on one connection; with --concurrent, calls 1..N-1 run at
once after call 0, as interleaved streams; --prior-knowledge makes httpx2
speak HTTP/2 on an http:// URL (h2c without Upgrade).
"""

import argparse
import json
import socket
import ssl
import sys
import urllib.parse

# httpx gives up after 5 s by default; a loaded 2-CPU CI machine running
# the ASan suite beside a test can be slower than that (the other
# libraries used here wait without a limit).
HTTPX_TIMEOUT = 60.0


def body_for(a, i):
    msg = [{"role": "user", "content": "%s number %d" % (a.tag, i)}]
    if a.api == "ollama":
        return {"model": "llama3.2", "messages": msg, "stream": a.stream}
    b = {"model": "gpt-4o-mini", "messages": msg, "stream": a.stream}
    if a.stream:
        b["stream_options"] = {"include_usage": True}
    return b


def path_for(a):
    return "/api/chat" if a.api == "ollama" else "/v1/chat/completions"


def headers_for(a):
    h = {"Content-Type": "application/json"}
    if a.key:
        h["Authorization"] = "Bearer " + a.key
    for x in a.header:
        k, v = x.split(":", 1)
        h[k.strip()] = v.strip()
    return h


def out(data):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def ctx_for(a):
    return ssl.create_default_context(cafile=a.cacert) if a.cacert else None


def run_urllib(a):
    import urllib.request
    for i in range(a.n):
        data = json.dumps(body_for(a, i)).encode()
        req = urllib.request.Request(a.url + path_for(a), data=data,
                                     headers=headers_for(a))
        with urllib.request.urlopen(req, context=ctx_for(a)) as r:
            out(r.read())


def run_requests(a):
    import requests
    with requests.Session() as s:
        for i in range(a.n):
            r = s.post(a.url + path_for(a), json=body_for(a, i),
                       headers=headers_for(a), verify=a.cacert or True,
                       stream=a.stream)
            if a.stream:
                out(b"".join(r.iter_content(chunk_size=None)))
            else:
                out(r.content)


def run_httpx(a):
    import httpx
    with httpx.Client(verify=a.cacert or True, http2=False,
                      timeout=HTTPX_TIMEOUT) as c:
        for i in range(a.n):
            if a.stream:
                with c.stream("POST", a.url + path_for(a),
                              json=body_for(a, i),
                              headers=headers_for(a)) as r:
                    out(b"".join(r.iter_bytes()))
            else:
                r = c.post(a.url + path_for(a), json=body_for(a, i),
                           headers=headers_for(a))
                out(r.content)


def run_httpx2(a):
    """httpx over HTTP/2 (ALPN h2) on one connection (httpx.Client on a
    socket). With --concurrent, call 0 opens the connection and the other
    calls then run at once from threads, as interleaved streams on it.
    Bodies are printed in request order, each after the HTTP version."""
    import concurrent.futures
    import httpx

    def one(c, i):
        if a.stream:
            with c.stream("POST", a.url + path_for(a), json=body_for(a, i),
                          headers=headers_for(a)) as r:
                return r.http_version, b"".join(r.iter_bytes())
        r = c.post(a.url + path_for(a), json=body_for(a, i),
                   headers=headers_for(a))
        return r.http_version, r.content

    with httpx.Client(verify=a.cacert or True, http2=True,
                      timeout=HTTPX_TIMEOUT,
                      http1=not a.prior_knowledge) as c:
        res = [one(c, 0)] if a.n else []
        if a.concurrent:
            with concurrent.futures.ThreadPoolExecutor(a.n) as ex:
                res += list(ex.map(lambda i: one(c, i), range(1, a.n)))
        else:
            res += [one(c, i) for i in range(1, a.n)]
    for version, body in res:
        out(version.encode() + b" " + body)


def run_httpx2_async(a):
    """The same with httpx.AsyncClient: asyncio drives the TLS session over
    memory BIOs (no socket behind it: the server name says the host)."""
    import asyncio
    import httpx

    async def one(c, i):
        if a.stream:
            async with c.stream("POST", a.url + path_for(a),
                                json=body_for(a, i),
                                headers=headers_for(a)) as r:
                return r.http_version, b"".join(
                    [p async for p in r.aiter_bytes()])
        r = await c.post(a.url + path_for(a), json=body_for(a, i),
                         headers=headers_for(a))
        return r.http_version, r.content

    async def main():
        async with httpx.AsyncClient(verify=a.cacert or True,
                                     timeout=HTTPX_TIMEOUT,
                                     http2=True) as c:
            res = [await one(c, 0)] if a.n else []
            rest = [one(c, i) for i in range(1, a.n)]
            if a.concurrent:
                res += await asyncio.gather(*rest)
            else:
                for r in rest:
                    res.append(await r)
        return res

    for version, body in asyncio.run(main()):
        out(version.encode() + b" " + body)


def run_aiohttp(a):
    import asyncio
    import aiohttp

    async def main():
        conn = aiohttp.TCPConnector(ssl=ctx_for(a) or False, limit=1)
        async with aiohttp.ClientSession(connector=conn) as s:
            for i in range(a.n):
                async with s.post(a.url + path_for(a), json=body_for(a, i),
                                  headers=headers_for(a)) as r:
                    if a.stream:
                        parts = []
                        async for piece in r.content.iter_any():
                            parts.append(piece)
                        out(b"".join(parts))
                    else:
                        out(await r.read())

    asyncio.run(main())


def read_response(sock):
    """Read one HTTP/1.1 response; return its body (de-chunked)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(4096)
        if not d:
            raise SystemExit("connection closed in the headers")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    hdr = {}
    for ln in lines[1:]:
        k, v = ln.split(":", 1)
        hdr[k.strip().lower()] = v.strip()
    if "content-length" in hdr:
        n = int(hdr["content-length"])
        while len(rest) < n:
            d = sock.recv(4096)
            if not d:
                raise SystemExit("connection closed in the body")
            rest += d
        return rest[:n]
    body = b""
    while True:
        while b"\r\n" not in rest:
            rest += sock.recv(4096)
        line, rest = rest.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        while len(rest) < size + 2:
            d = sock.recv(4096)
            if not d:
                raise SystemExit("connection closed in a chunk")
            rest += d
        body += rest[:size]
        rest = rest[size + 2:]
        if size == 0:
            return body


def run_raw(a):
    u = urllib.parse.urlsplit(a.url)
    sock = socket.create_connection((u.hostname, u.port or 80))
    try:
        for i in range(a.n):
            data = json.dumps(body_for(a, i)).encode()
            h = headers_for(a)
            req = ("POST %s HTTP/1.1\r\nHost: %s\r\n" % (path_for(a), u.netloc))
            for k, v in h.items():
                req += "%s: %s\r\n" % (k, v)
            req += "Content-Length: %d\r\n\r\n" % len(data)
            msg = req.encode() + data
            step = a.write_bytes or len(msg)
            for off in range(0, len(msg), step):
                sock.sendall(msg[off:off + step])
            out(read_response(sock))
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--lib", required=True,
                    choices=["urllib", "requests", "httpx", "httpx2",
                             "httpx2-async", "aiohttp", "raw"])
    ap.add_argument("--cacert")
    ap.add_argument("--key")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--api", default="chat", choices=["chat", "ollama"])
    ap.add_argument("--tag", default="hello")
    ap.add_argument("-H", dest="header", action="append", default=[])
    ap.add_argument("--write-bytes", type=int, default=0)
    ap.add_argument("--concurrent", action="store_true")
    ap.add_argument("--prior-knowledge", action="store_true")
    a = ap.parse_args()
    {"urllib": run_urllib, "requests": run_requests, "httpx": run_httpx,
     "httpx2": run_httpx2, "httpx2-async": run_httpx2_async, "aiohttp": run_aiohttp, "raw": run_raw}[a.lib](a)


if __name__ == "__main__":
    main()
