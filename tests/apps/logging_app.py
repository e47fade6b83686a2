"""Logs through its own logger, `gunicorn.error` and `gunicorn.access`, as apps do under
Gunicorn."""
import logging

log = logging.getLogger("hooksapp")


def app(environ, start_response):
    log.info("hooksapp says %s", environ["PATH_INFO"])
    logging.getLogger("gunicorn.error").warning("app warns via gunicorn.error")
    logging.getLogger("gunicorn.access").info("app note via gunicorn.access")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"logged"]
