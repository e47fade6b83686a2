"""A module inside a package (`pkg.sub:application`), also the default name."""


def application(environ, start_response):
    start_response("200 OK", [("Content-Length", "7")])
    return [b"pkg.sub"]
