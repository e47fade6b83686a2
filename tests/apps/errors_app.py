"""Exceptions before and after the headers went out, and a failing close()."""


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/before":
        raise RuntimeError("failed before start_response")
    if path == "/after-start":
        start_response("200 OK", [])
        raise RuntimeError("failed after start_response, before the body")
    if path == "/after-body":
        def gen():
            yield b"partial"
            raise RuntimeError("failed mid-body")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/close-fails":
        class Body:
            def __iter__(self):
                return iter([b"body"])

            def close(self):
                raise RuntimeError("close failed")
        start_response("200 OK", [("Content-Length", "4")])
        return Body()
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
