"""Request hooks around ASGI requests (as Gunicorn 27's ASGI worker calls them)."""
import sys


def pre_request(worker, req):
    print("PRE %s %s" % (req.method, req.path), file=sys.stderr, flush=True)


def post_request(worker, req, environ, resp):
    print("POST %s %s %s sent=%d" % (req.path, resp.status_code, resp.status, resp.sent),
          file=sys.stderr, flush=True)
