#!/usr/bin/python3
"""h2_fuzz_seeds.py — the seeds of tests/fuzz/fuzz_h2.c, from the recorded
fixtures of tests/fixtures/wire/ (see h2_record.py) plus a few short
hand-made connections.

    /usr/bin/python3 tests/tools/h2_fuzz_seeds.py

Writes tests/fuzz/seeds/fuzz_h2/. A seed is fuzz_h2's script: piece-size
byte, options byte, then records (header byte: bit 7 IN, bits 0-6 length;
0xff closes).
"""
import os
import struct
import sys

import hpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
FIX = os.path.join(ROOT, "tests", "fixtures", "wire")
OUT = os.path.join(ROOT, "tests", "fuzz", "seeds", "fuzz_h2")

OPT_SMALL, OPT_SKIP, OPT_RESET, OPT_CLOSE, OPT_START = 1, 2, 4, 8, 16


def script(piece, opts, recs):
    out = bytearray([piece, opts])
    for d, data in recs:
        if d == "close":
            out.append(0xFF)
            continue
        for i in range(0, len(data), 127):
            part = data[i:i + 127]
            out.append((0x80 if d == "<" else 0) | len(part))
            out += part
    return bytes(out)


def load(name):
    recs = []
    with open(os.path.join(FIX, name), "rb") as f:
        raw = f.read()
    i = 0
    while i < len(raw):
        d = chr(raw[i])
        n = struct.unpack(">I", raw[i + 1:i + 5])[0]
        recs.append((d, raw[i + 5:i + 5 + n]))
        i += 5 + n
    return recs


def frame(t, flags, sid, payload):
    n = len(payload)
    return bytes([n >> 16 & 255, n >> 8 & 255, n & 255, t, flags]) + \
        struct.pack(">I", sid) + payload


def hand_made():
    """Connections already started (OPT_START): frames only."""
    enc_c, enc_s = hpack.Encoder(), hpack.Encoder()
    req = enc_c.encode([(":method", "POST"), (":scheme", "https"),
                        (":authority", "api.openai.com"),
                        (":path", "/v1/chat/completions"),
                        ("content-type", "application/json")])
    resp = enc_s.encode([(":status", "200"),
                         ("content-type", "text/event-stream")])
    ok = [(">", frame(1, 4, 1, req)),
          (">", frame(0, 1, 1, b'{"stream":true}')),
          ("<", frame(1, 4, 1, resp)),
          ("<", frame(0, 0, 1, b"data: 1\n\n")),
          ("<", frame(0, 1, 1, b"data: [DONE]\n\n"))]
    cont = [(">", frame(1, 0x28, 1, bytes([2, 0x80, 0, 0, 0, 9]) + req[:4] +
                        b"\0\0")),
            (">", frame(9, 0, 1, req[4:9])),
            (">", frame(9, 4, 1, req[9:])),
            (">", frame(0, 9, 1, b"\3{}\0\0\0")),
            ("<", frame(1, 5, 1, resp))]
    rst = [(">", frame(1, 5, 1, req)),
           ("<", frame(1, 4, 1, resp)),
           ("<", frame(0, 0, 1, b"data: x\n\n")),
           ("<", frame(3, 0, 1, struct.pack(">I", 8)))]
    goaway = [(">", frame(1, 5, 1, req)),
              (">", frame(1, 5, 3, req)),
              ("<", frame(7, 0, 0, struct.pack(">II", 1, 0) + b"bye")),
              ("<", frame(1, 5, 1, resp))]
    return {"hand_ok": (OPT_START | OPT_CLOSE, ok),
            "hand_continuation": (OPT_START | OPT_CLOSE, cont),
            "hand_rst": (OPT_START | OPT_SMALL, rst),
            "hand_goaway": (OPT_START | OPT_CLOSE | OPT_RESET, goaway)}


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    for name, opts in (("curl_h2c", OPT_CLOSE),
                       ("httpx_h2c", OPT_CLOSE | OPT_SKIP),
                       ("pyh2_features", OPT_CLOSE | OPT_RESET)):
        recs = load(name + ".h2rec")
        seeds[name] = script(3, opts, recs)
        seeds[name + "_small"] = script(1, opts | OPT_SMALL, recs)
        seeds[name + "_cut"] = script(5, OPT_RESET, recs[:len(recs) // 2] +
                                      [("close", b"")])
    for name, (opts, recs) in hand_made().items():
        seeds[name] = script(2, opts, recs)
    seeds["mid_connection"] = script(1, OPT_CLOSE, hand_made()["hand_ok"][1])
    for name, data in seeds.items():
        if len(data) > 65536:
            sys.exit("seed %s over fuzz/run.sh's -max_len" % name)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), os.path.normpath(OUT)))


if __name__ == "__main__":
    main()
