"""Fails at import time, as a module with a missing dependency would."""
import module_that_does_not_exist_anywhere  # noqa: F401


def app(environ, start_response):
    start_response("200 OK", [])
    return [b"unreachable"]
