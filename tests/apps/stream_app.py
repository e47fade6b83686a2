"""Response-side behaviours, chosen by PATH_INFO."""
import os
import time

CLOSED = []


class Closing:
    """An iterable whose close() is recorded (served back by /closed)."""

    def __init__(self, chunks, tag):
        self.chunks, self.tag = chunks, tag

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        CLOSED.append(self.tag)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/stream":
        # A generator: each chunk must reach the client as produced (chunked encoding).
        def gen():
            for i in range(3):
                yield b"chunk%d\n" % i
                time.sleep(0.6)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written;")
        return [b"returned"]
    if path == "/file":
        f = open(os.path.join(os.path.dirname(__file__), "stream_app.py"), "rb")
        start_response("200 OK", [("Content-Type", "text/x-python")])
        return environ["wsgi.file_wrapper"](f, 1024)
    if path == "/file-tail":
        # Partly read already, and a Content-Length shorter than the rest: the response
        # is bytes [10, 110) of the file.
        f = open(os.path.join(os.path.dirname(__file__), "stream_app.py"), "rb")
        f.read(10)
        start_response("200 OK", [("Content-Length", "100")])
        return environ["wsgi.file_wrapper"](f)
    if path == "/file-bytesio":
        import io
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"in memory"), 4)
    if path == "/truncate":
        start_response("200 OK", [("Content-Length", "5")])
        return [b"abc", b"defgh", b"ijk"]
    if path == "/whole-then-more":
        # The declared length is reached by the first chunk; the generator goes on (its
        # extra bytes are dropped) and records that it ran to its end.
        def gen():
            start_response("200 OK", [("Content-Length", "5")])
            yield b"whole"
            yield b" and more"
            CLOSED.append("ran-to-end")
        return gen()
    if path == "/hop":
        start_response("200 OK", [("Connection", "close"), ("Transfer-Encoding", "chunked"),
                                   ("Server", "evil"), ("Date", "yesterday"), ("Keep-Alive", "1"),
                                   ("X-Kept", "yes"), ("Content-Length", "2")])
        return [b"ok"]
    if path == "/reason":
        start_response("299 Custom Thing", [("Content-Length", "0")])
        return []
    if path == "/empty-gen":
        def gen():
            start_response("204 No Content", [])
            return
            yield b""
        return gen()
    if path == "/closing":
        start_response("200 OK", [])
        return Closing([b"a", b"b"], "closing")
    if path == "/infinite":
        # Never ends: only a client that leaves stops it (and close() must follow).
        def forever():
            while True:
                yield b"x" * 65536
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Closing(forever(), "infinite")
    if path == "/closed":
        body = ",".join(CLOSED).encode()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/exc-info":
        # start_response again with exc_info before anything was sent: the new status wins.
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("boom")
        except ValueError:
            import sys
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced"]
    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b"never"]
    if path == "/bad-status":
        start_response("OK", [])
        return [b"never"]
    if path == "/bad-header":
        start_response("200 OK", [("Bad Name", "x")])
        return [b"never"]
    if path == "/bad-value":
        start_response("200 OK", [("X-Bad", "a\r\nInjected: 1")])
        return [b"never"]
    if path == "/padded":
        # Whitespace around values, as Django's Set-Cookie (`c.output(header="")`) has.
        start_response("200 OK", [("X-Padded", "  v \t"), ("Set-Cookie", " a=1; Path=/")])
        return [b"padded"]
    if path == "/str-body":
        start_response("200 OK", [])
        return ["not bytes"]
    start_response("404 Not Found", [("Content-Length", "0")])
    return []
