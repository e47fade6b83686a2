"""A WSGI app, for `-k asgi`'s startup error."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"wsgi\n"]
