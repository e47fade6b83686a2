"""Logs through its own logger and through `gunicorn.error`, as apps do under Gunicorn."""
import logging

log = logging.getLogger("hooksapp")


def app(environ, start_response):
    log.info("hooksapp says %s", environ["PATH_INFO"])
    logging.getLogger("gunicorn.error").warning("app warns via gunicorn.error")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"logged"]
