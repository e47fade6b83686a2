"""Records where it was imported: with --preload, in the master (a different pid than
the worker that serves it)."""
import os
import random

IMPORTED_IN = os.getpid()


def app(environ, start_response):
    body = f"{IMPORTED_IN} {os.getpid()} {random.random()}".encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
