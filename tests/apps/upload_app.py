"""Reads wsgi.input in various ways and answers its size and SHA-256."""
import hashlib
import json


def app(environ, start_response):
    inp = environ["wsgi.input"]
    mode = environ["QUERY_STRING"] or "read"
    h = hashlib.sha256()
    n = 0
    lines = 0
    if mode == "read":
        data = inp.read()
        h.update(data)
        n = len(data)
    elif mode == "chunks":
        while True:
            data = inp.read(65536)
            if not data:
                break
            h.update(data)
            n += len(data)
    elif mode == "lines":
        for line in inp:
            h.update(line)
            n += len(line)
            lines += 1
    elif mode == "readline":
        while True:
            line = inp.readline(100)
            if not line:
                break
            h.update(line)
            n += len(line)
            lines += 1
    elif mode == "readlines":
        for line in inp.readlines():
            h.update(line)
            n += len(line)
            lines += 1
    body = json.dumps({"size": n, "sha256": h.hexdigest(), "lines": lines,
                       "content_length": environ.get("CONTENT_LENGTH")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
