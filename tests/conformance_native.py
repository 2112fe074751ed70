"""Conformance for the native APIs of Cohere and Ollama, and for the
retrievers (rerank, vector databases, search APIs): which recorded cases
they claim, and what the response itself says, read here independently of
the C parsers. Used by tests/conformance.py; standard library only.

    native_api_of(provider, req_meta) -> (api or None, skip reason or None)
    expect(api, status, body, streamed) -> the expectation (same keys as
        conformance.py's empty_expect(), plus "retrieval" for retrievers)
    compare(api, exp, rec, generic) -> list of differences; `generic` is
        conformance.py's compare(), used for the generation APIs
"""

import json

# ---- which cases, which API ----

GENERATION_APIS = {"cohere_chat", "cohere_chat_v1", "cohere_generate",
                   "cohere_embed", "ollama_chat", "ollama_generate",
                   "ollama_embed"}
RETRIEVAL_APIS = {"rerank", "pinecone", "qdrant", "chroma", "weaviate",
                  "marqo", "tavily", "exa", "serper"}
APIS = GENERATION_APIS | RETRIEVAL_APIS
EMBEDDING_APIS = {"cohere_embed", "ollama_embed"}

SERPER = ("/search", "/news", "/images", "/videos", "/places", "/maps",
          "/shopping", "/scholar", "/patents")


def native_api_of(provider, req_meta):
    """(api, None) for a case these parsers claim, (None, reason) for a
    case of these services that is not a retrieval or generation (writes,
    admin calls: SKIP), (None, None) for anything else."""
    path = (req_meta.get("path") or req_meta.get("url", "")).split("?")[0]
    path = path.rstrip("/") or "/"
    method = (req_meta.get("method") or "POST").upper()
    host = (req_meta.get("host") or "").lower()
    api = None
    if provider == "cohere":
        for suffix, a in (("/v2/chat", "cohere_chat"),
                          ("/v1/chat", "cohere_chat_v1"),
                          ("/v1/generate", "cohere_generate"),
                          ("/v1/embed", "cohere_embed"),
                          ("/v2/embed", "cohere_embed"),
                          ("/rerank", "rerank")):
            if path.endswith(suffix):
                api = a
        if api is None and "/compatibility/" not in path:
            return None, "Cohere endpoint %s is not a generation" % path
    elif provider == "ollama":
        for suffix, a in (("/api/chat", "ollama_chat"),
                          ("/api/generate", "ollama_generate"),
                          ("/api/embed", "ollama_embed"),
                          ("/api/embeddings", "ollama_embed")):
            if path.endswith(suffix):
                api = a
        if api is None and not path.startswith("/v1/"):
            return None, "Ollama endpoint %s is not a generation" % path
    elif path.endswith("/rerank") and provider in ("voyageai", "jina"):
        api = "rerank"
    elif provider == "pinecone":
        if path.endswith("/query") or (path.endswith("/search")
                                       and "/records/namespaces/" in path):
            api = "pinecone"
        else:
            return None, ("Pinecone %s %s is not a query (index admin, "
                          "writes)" % (method, path))
    elif provider == "weaviate":
        if path.endswith("/v1/graphql"):
            api = "weaviate"
        else:
            return None, ("Weaviate %s %s is not a retrieval (writes and "
                          "schema calls are not recorded)" % (method, path))
    elif provider == "qdrant" or "/points/" in path:
        if "/collections/" in path and path.split("/points/")[-1] in (
                "search", "search/batch", "query", "query/batch",
                "query/groups", "recommend", "discover"):
            api = "qdrant"
        elif provider == "qdrant":
            return None, "Qdrant %s is not a search" % path
    elif provider == "chroma" or "/collections/" in path:
        if path.endswith("/query") and ("/api/v1/collections/" in path or
                                        "/api/v2/tenants/" in path):
            api = "chroma"
        elif provider == "chroma":
            return None, "Chroma %s is not a query" % path
    elif provider == "marqo":
        if path.endswith("/search") and "/indexes/" in path:
            api = "marqo"
        else:
            return None, "Marqo %s is not a search" % path
    elif provider == "tavily" or host == "api.tavily.com":
        if path.endswith("/search"):
            api = "tavily"
        else:
            return None, "Tavily %s is not a search" % path
    elif provider == "exa" or host == "api.exa.ai":
        if path.endswith(("/search", "/findSimilar", "/contents", "/answer")):
            api = "exa"
        else:
            return None, "Exa %s is not a search" % path
    elif provider == "serper" or host == "google.serper.dev":
        if path.endswith(SERPER):
            api = "serper"
        else:
            return None, "Serper %s is not a search" % path
    if api and method != "POST":
        return None, "%s %s: only POST exchanges are parsed" % (method, path)
    return api, None


# ---- small readers (independent of the C side) ----

def empty():
    return {"model": None, "id": None, "usage": {}, "choices": None,
            "error": None, "is_error": False}


def error_text(j):
    if not isinstance(j, dict):
        return None
    e = j.get("error")
    if isinstance(e, dict):
        e = e.get("message")
    if isinstance(e, str) and e:
        return e
    m = j.get("message") or j.get("detail")
    return m if isinstance(m, str) and m else None


def sse_json(text):
    """The JSON payloads of an SSE body, with their event names."""
    out, event, data = [], None, []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for raw in lines + [""]:
        if raw == "":
            if data:
                d = "\n".join(data)
                if d.strip() != "[DONE]":
                    try:
                        out.append((event, json.loads(d)))
                    except ValueError:
                        pass
            event, data = None, []
        elif not raw.startswith(":"):
            field, _, value = raw.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    return out


def json_lines(text):
    """One JSON value a line (NDJSON), or the whole body as one value."""
    s = text.strip().lstrip("\ufeff")
    try:
        return [json.loads(s)]
    except ValueError:
        pass
    out = []
    for line in s.splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def args_value(v):
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def cohere_usage(u, exp):
    """tokens when present, else billed_units, count by count."""
    if not isinstance(u, dict):
        return
    tok = u.get("tokens") if isinstance(u.get("tokens"), dict) else {}
    bill = (u.get("billed_units") if isinstance(u.get("billed_units"), dict)
            else {})
    for key in ("input_tokens", "output_tokens"):
        v = tok.get(key, bill.get(key))
        if isinstance(v, int):
            exp["usage"][key] = v
    if isinstance(u.get("cached_tokens"), int) and u["cached_tokens"] > 0:
        exp["usage"]["cache_read_input_tokens"] = u["cached_tokens"]


# ---- Cohere ----

def cohere_v2(body, streamed):
    exp = empty()
    if not streamed:
        j = json.loads(body)
        exp["id"] = j.get("id")
        msg = j.get("message") or {}
        text = "".join(p.get("text", "") for p in msg.get("content") or []
                       if isinstance(p, dict) and p.get("type") == "text")
        tools = [{"id": t.get("id"), "name": (t.get("function") or {}).get(
            "name"), "arguments": args_value((t.get("function") or {}).get(
                "arguments"))} for t in msg.get("tool_calls") or []]
        cohere_usage(j.get("usage"), exp)
        exp["choices"] = [{"text": text, "tools": tools,
                           "finish": j.get("finish_reason")}]
        return exp
    blocks, calls, finish = {}, {}, None
    for event, j in sse_json(body):
        t = j.get("type") or event
        d = j.get("delta") or {}
        m = d.get("message") or {}
        i = j.get("index", 0)
        if t == "message-start":
            exp["id"] = j.get("id")
        elif t == "content-start":
            c = m.get("content") or {}
            blocks[i] = {"type": c.get("type"), "text": c.get("text") or ""}
        elif t == "content-delta":
            b = blocks.setdefault(i, {"type": "text", "text": ""})
            b["text"] += (m.get("content") or {}).get("text") or ""
        elif t == "tool-call-start":
            tc = m.get("tool_calls") or {}
            fn = tc.get("function") or {}
            calls[i] = {"id": tc.get("id"), "name": fn.get("name"),
                        "arguments": fn.get("arguments") or ""}
        elif t == "tool-call-delta":
            fn = (m.get("tool_calls") or {}).get("function") or {}
            c = calls.setdefault(i, {"id": None, "name": None,
                                     "arguments": ""})
            c["arguments"] += fn.get("arguments") or ""
        elif t == "message-end":
            finish = d.get("finish_reason")
            cohere_usage(d.get("usage"), exp)
    text = "".join(b["text"] for _, b in sorted(blocks.items())
                   if b["type"] in (None, "text"))
    tools = [dict(c, arguments=args_value(c["arguments"]))
             for _, c in sorted(calls.items())]
    exp["choices"] = [{"text": text, "tools": tools,
                       "finish": finish or "error"}]
    return exp


def cohere_v1_answer(r, exp, text=None, finish=None):
    exp["id"] = r.get("response_id") or r.get("generation_id")
    tools = [{"id": None, "name": t.get("name"),
              "arguments": t.get("parameters")}
             for t in r.get("tool_calls") or []]
    cohere_usage(r.get("meta"), exp)
    exp["choices"] = [{"text": r.get("text", "") if text is None else text,
                       "tools": tools,
                       "finish": r.get("finish_reason") or finish}]


def cohere_v1(body, streamed):
    exp = empty()
    events = json_lines(body)
    if len(events) == 1 and "event_type" not in events[0]:
        cohere_v1_answer(events[0], exp)
        return exp
    text, end = "", None
    for e in events:
        if e.get("event_type") == "text-generation":
            text += e.get("text") or ""
        elif e.get("event_type") == "stream-end":
            end = e
    if end and isinstance(end.get("response"), dict):
        cohere_v1_answer(end["response"], exp, text or None,
                         end.get("finish_reason"))
    else:
        exp["choices"] = [{"text": text, "tools": [], "finish": "error"}]
    return exp


def cohere_generate(body, streamed):
    exp = empty()
    events = json_lines(body)
    resp = events[0] if len(events) == 1 else None
    if resp is None or "generations" not in resp:
        end = [e for e in events if e.get("is_finished")]
        resp = end[-1].get("response") if end else None
    if not isinstance(resp, dict):
        return exp
    exp["id"] = resp.get("id")
    gens = sorted(resp.get("generations") or [],
                  key=lambda g: g.get("index", 0))
    exp["choices"] = [{"text": g.get("text") or "", "tools": [],
                       "finish": g.get("finish_reason")} for g in gens]
    cohere_usage(resp.get("meta"), exp)
    return exp


def cohere_embed(body):
    exp = empty()
    j = json.loads(body)
    exp["id"] = j.get("id")
    cohere_usage(j.get("meta"), exp)
    e = j.get("embeddings")
    if isinstance(e, dict):
        e = next(iter(e.values()), None)
    if isinstance(e, list):
        exp["embeddings"] = {"count": len(e)}
        if e and isinstance(e[0], list):
            exp["embeddings"]["dimensions"] = len(e[0])
    return exp


# ---- Ollama ----

def ollama(body, chat):
    exp = empty()
    text, tools, done, reason = "", [], None, None
    for j in json_lines(body):
        if not isinstance(j, dict):
            continue
        if "error" in j:
            exp["is_error"] = True
            exp["error"] = error_text(j)
            continue
        if j.get("model") and not exp["model"]:
            exp["model"] = j["model"]
        if chat:
            m = j.get("message") or {}
            text += m.get("content") or ""
            for t in m.get("tool_calls") or []:
                fn = t.get("function") or {}
                tools.append({"id": t.get("id"), "name": fn.get("name"),
                              "arguments": args_value(fn.get("arguments"))})
        else:
            text += j.get("response") or ""
        if j.get("done"):
            done = j
            reason = j.get("done_reason")
    if done:
        if isinstance(done.get("prompt_eval_count"), int):
            exp["usage"]["input_tokens"] = done["prompt_eval_count"]
        if isinstance(done.get("eval_count"), int):
            exp["usage"]["output_tokens"] = done["eval_count"]
    if done or text or tools:
        exp["choices"] = [{"text": text, "tools": tools,
                           "finish": reason if done else "error"}]
    return exp


def ollama_embed(body):
    exp = empty()
    j = json.loads(body)
    exp["model"] = j.get("model")
    if isinstance(j.get("prompt_eval_count"), int):
        exp["usage"]["input_tokens"] = j["prompt_eval_count"]
    vecs = j.get("embeddings")
    if vecs is None and isinstance(j.get("embedding"), list):
        vecs = [j["embedding"]]
    if isinstance(vecs, list):
        exp["embeddings"] = {"count": len(vecs)}
        if vecs and isinstance(vecs[0], list):
            exp["embeddings"]["dimensions"] = len(vecs[0])
    return exp


# ---- retrievers ----

def doc(**kw):
    return {k: v for k, v in kw.items() if v is not None}


def retrieval(query=None, docs=(), source=None, usage=None):
    exp = empty()
    exp["retrieval"] = {"query": query, "docs": list(docs),
                        "source": source}
    if usage:
        exp["usage"] = usage
    return exp


def expect_retrieval(api, req, body):
    j = json.loads(body)
    if api == "rerank":
        res = j.get("results") if isinstance(j.get("results"), list) \
            else j.get("data") or []
        usage = {}
        u = j.get("usage") or {}
        if isinstance(u.get("total_tokens"), int):
            usage["input_tokens"] = u["total_tokens"]
        exp = retrieval(req.get("query"), [doc(index=r.get("index"),
                        score=r.get("relevance_score")) for r in res],
                        usage=usage)
        exp["model"], exp["id"] = j.get("model"), j.get("id")
        return exp
    if api == "pinecone":
        q = req.get("query") if isinstance(req.get("query"), dict) else {}
        ms = j.get("matches")
        if ms is None:
            ms = [{"id": h.get("_id"), "score": h.get("_score")}
                  for h in (j.get("result") or {}).get("hits") or []]
        return retrieval(((q.get("inputs") or {}).get("text")),
                         [doc(id=m.get("id"), score=m.get("score"))
                          for m in ms])
    if api == "qdrant":
        r = j.get("result")
        if isinstance(r, dict):
            r = r.get("points") or []
        pts = []
        for x in r or []:
            if isinstance(x, list):
                pts += x
            elif isinstance(x, dict) and "points" in x:
                pts += x["points"]
            else:
                pts.append(x)
        return retrieval(None, [doc(id=p.get("id"), score=p.get("score"))
                                for p in pts])
    if api == "chroma":
        docs = []
        for q, row in enumerate(j.get("ids") or []):
            dist = ((j.get("distances") or [])[q:q + 1] or [[]])[0] or []
            for i, id_ in enumerate(row):
                docs.append(doc(id=id_, distance=dist[i] if i < len(dist)
                                else None))
        texts = req.get("query_texts")
        return retrieval(texts[0] if isinstance(texts, list)
                         and len(texts) == 1 else None, docs)
    if api == "weaviate":
        get = (j.get("data") or {}).get("Get") or {}
        docs = []
        for cls, objs in get.items():
            for o in objs or []:
                add = o.get("_additional") or {}
                docs.append(doc(id=add.get("id"),
                                distance=add.get("distance")))
        source = next(iter(get), None)
        exp = retrieval(None, docs, source)
        if j.get("errors"):
            exp["is_error"] = True
            exp["error"] = j["errors"][0].get("message")
        return exp
    if api == "marqo":
        q = req.get("q")
        return retrieval(q if isinstance(q, str) else None,
                         [doc(id=h.get("_id", h.get("id")),
                              score=h.get("_score", h.get("_rankingScore")))
                          for h in j.get("hits") or []])
    if api == "tavily":
        return retrieval(req.get("query"),
                         [doc(url=r.get("url"), score=r.get("score"))
                          for r in j.get("results") or []])
    if api == "exa":
        res = j.get("results") if isinstance(j.get("results"), list) \
            else j.get("citations") or []
        return retrieval(req.get("query"),
                         [doc(id=r.get("id"), score=r.get("score"))
                          for r in res])
    if api == "serper":
        for key in ("organic", "news", "images", "videos", "places",
                    "shopping", "scholar", "patents", "suggestions"):
            if isinstance(j.get(key), list):
                return retrieval(req.get("q"),
                                 [doc(url=r.get("link"),
                                      rank=r.get("position"))
                                  for r in j[key]])
        return retrieval(req.get("q"))
    raise ValueError("no expectation for " + api)


def expect(api, status, body, streamed, req=None):
    """The expectation for a 2xx answer (errors are read by the caller)."""
    if api in RETRIEVAL_APIS:
        return expect_retrieval(api, req or {}, body)
    if api == "cohere_chat":
        return cohere_v2(body, streamed or body.lstrip().startswith(
            ("event:", "data:")))
    if api == "cohere_chat_v1":
        return cohere_v1(body, streamed)
    if api == "cohere_generate":
        return cohere_generate(body, streamed)
    if api == "cohere_embed":
        return cohere_embed(body)
    if api == "ollama_chat":
        return ollama(body, True)
    if api == "ollama_generate":
        return ollama(body, False)
    if api == "ollama_embed":
        return ollama_embed(body)
    raise ValueError("no expectation for " + api)


# ---- comparing ----

def same_num(a, b):
    return (isinstance(a, (int, float)) and isinstance(b, (int, float))
            and abs(a - b) <= 1e-9 * max(1.0, abs(a)))


def compare_retrieval(exp, rec):
    diffs = []
    level = rec.get("level")
    if exp["is_error"]:
        if level != "ERROR":
            diffs.append("level: want ERROR, got %s" % level)
        if exp["error"] and exp["error"] not in (rec.get("status_message")
                                                 or ""):
            diffs.append("status_message: want %r in it" % exp["error"])
    elif level == "ERROR":
        diffs.append("level: ERROR on a successful response (%s)"
                     % rec.get("status_message"))
    if rec.get("type") != "retriever" or rec.get("operation") != "retrieval":
        diffs.append("type/operation: want retriever/retrieval, got %s/%s"
                     % (rec.get("type"), rec.get("operation")))
    r = exp["retrieval"]
    inp = rec.get("input") if isinstance(rec.get("input"), dict) else {}
    if r["query"] is not None and inp.get("query") != r["query"][:2000]:
        diffs.append("input.query: want %r, got %r"
                     % (r["query"][:80], inp.get("query")))
    out = rec.get("output") if isinstance(rec.get("output"), dict) else {}
    got = out.get("documents") or []
    want = r["docs"][:100]
    if len(got) != len(want):
        diffs.append("documents: want %d, got %d" % (len(want), len(got)))
    for i, (w, g) in enumerate(zip(want, got)):
        for k, v in w.items():
            gv = g.get(k)
            if k == "id":
                v = str(v) if not isinstance(v, float) else repr(v)
                ok = gv == v or (isinstance(w[k], int) and gv == str(w[k]))
            elif isinstance(v, (int, float)):
                ok = same_num(v, gv)
            else:
                ok = gv == v
            if not ok:
                diffs.append("documents[%d].%s: want %r, got %r"
                             % (i, k, v, gv))
                break
    if r["source"] is not None:
        got_src = (rec.get("metadata") or {}).get("data_source_id")
        if got_src != r["source"]:
            diffs.append("metadata.data_source_id: want %r, got %r"
                         % (r["source"], got_src))
    usage = rec.get("usage") or {}
    for k, v in exp["usage"].items():
        if usage.get(k) != v:
            diffs.append("usage.%s: want %s, got %s" % (k, v, usage.get(k)))
    if exp.get("model") and rec.get("response_model") != exp["model"]:
        diffs.append("response_model: want %s, got %s"
                     % (exp["model"], rec.get("response_model")))
    if exp.get("id") and rec.get("response_id") != exp["id"]:
        diffs.append("response_id: want %s, got %s"
                     % (exp["id"], rec.get("response_id")))
    return diffs


def secrets_in(rec_text, req):
    """Keys sent in the body (Tavily's api_key) must not reach the record."""
    diffs = []
    if isinstance(req, dict):
        for k, v in req.items():
            if ("key" in k.lower() or "token" in k.lower()) and \
                    isinstance(v, str) and len(v) >= 6 and v in rec_text:
                diffs.append("request.%s reached the record" % k)
    return diffs


def compare(api, exp, rec, generic, req=None):
    if api in RETRIEVAL_APIS and "retrieval" in exp:
        diffs = compare_retrieval(exp, rec)
    else:
        # the shared comparison knows embeddings by this name
        diffs = generic("embeddings" if api in EMBEDDING_APIS else api,
                        exp, rec)
        want = exp.get("embeddings")
        got = rec.get("output") if isinstance(rec.get("output"), dict) else {}
        for k, v in (want or {}).items():
            if got.get(k) != v:
                diffs.append("output.%s: want %s, got %s"
                             % (k, v, got.get(k)))
    diffs += secrets_in(json.dumps(rec), req)
    return diffs
