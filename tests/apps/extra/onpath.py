"""Only importable when tests/apps/extra is on sys.path (--pythonpath)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "6")])
    return [b"onpath"]
