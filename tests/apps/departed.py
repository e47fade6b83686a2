"""Counts how many requests the app ran (`/count`), the others sleep `?seconds`: the
departed-client tests check that requests whose client left are never run, and how
evenly workers share a load (each answer names the worker's pid)."""
import os
import time

calls = 0


def app(environ, start_response):
    global calls
    if environ["PATH_INFO"] == "/count":
        body = str(calls).encode()
    else:
        calls += 1
        time.sleep(float(environ["QUERY_STRING"] or "0.2"))
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
