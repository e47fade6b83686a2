"""Registers an atexit handler that appends to $ATEXIT_FILE: workers run it on exit."""
import atexit
import os


@atexit.register
def _record():
    with open(os.environ["ATEXIT_FILE"], "a") as f:
        f.write(f"atexit ran in {os.getpid()}\n")


def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
