"""Echoes the environ as JSON: str values as-is, the wsgi.* extras described."""
import json


def app(environ, start_response):
    out = {}
    for k, v in environ.items():
        if isinstance(v, (str, bool)):
            out[k] = v
    out["wsgi.version"] = list(environ["wsgi.version"])
    out["wsgi.input.read"] = environ["wsgi.input"].read().decode("latin-1")
    out["wsgi.file_wrapper"] = environ["wsgi.file_wrapper"] is not None
    out["wsgi.errors"] = hasattr(environ["wsgi.errors"], "write")
    # PATH_INFO is latin-1 decoded bytes: show the code points too.
    out["PATH_INFO.codepoints"] = [ord(c) for c in environ["PATH_INFO"]]
    environ["wsgi.errors"].write("environ_app: logged through wsgi.errors\n")
    body = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
