"""The smallest WSGI app: a fixed body with a Content-Length."""


def application(environ, start_response):
    body = b"Hello, World!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


app = application


def create_app(greeting="Hello", punct="!"):
    """A factory, for `hello:create_app('Hi', punct='?')`."""
    body = f"{greeting}, factory{punct}".encode()

    def factory_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    return factory_app
