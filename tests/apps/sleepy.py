"""Sleeps (releasing the GIL) before answering: concurrency and request-timeout tests."""
import threading
import time


def app(environ, start_response):
    secs = float(environ["QUERY_STRING"] or "1")
    time.sleep(secs)
    body = threading.current_thread().name.encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
