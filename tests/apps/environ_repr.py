"""The whole environ as repr(sorted(items)), objects by type and the per-connection
ports masked, so a test can compare it exactly. It then mutates the environ, which must
not leak into the next request."""


def app(environ, start_response):
    items = []
    for k, v in sorted(environ.items()):
        if k in ("REMOTE_PORT", "SERVER_PORT"):
            v = "<port>" if v.isdigit() else v
        elif k == "SERVER_SOFTWARE":
            v = v.split("/")[0]
        elif k in ("wsgi.input", "wsgi.errors"):
            v = "<" + type(v).__name__ + ">"
        elif k == "wsgi.file_wrapper":
            v = "<" + v.__name__ + ">"
        items.append((k, v))
    body = repr(items).encode("utf-8", "backslashreplace")
    environ["LEAK"] = "x"
    environ.pop("wsgi.version", None)
    environ.pop("HTTP_HOST", None)
    environ["wsgi.url_scheme"] = "leaked"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
