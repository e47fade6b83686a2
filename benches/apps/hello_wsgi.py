"""Plain WSGI hello for benches/run.py: the smallest app every WSGI server can host, so
the numbers measure the server's per-request path rather than a framework."""

BODY = b"Hello, World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
