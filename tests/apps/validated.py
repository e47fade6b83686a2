"""An app wrapped in wsgiref.validate.validator: any PEP 3333 slip by the server (environ
types, input/errors methods, start_response) raises an AssertionError → 500."""
from wsgiref.validate import validator


def _inner(environ, start_response):
    # The validator insists on PEP 333's read(size) and readline() forms.
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"].readline()
    environ["wsgi.errors"].write("validated\n")
    environ["wsgi.errors"].flush()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body) + 3))])
    return [b"ok:", body]


app = validator(_inner)
