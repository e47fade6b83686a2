"""The page `runicorn` serves when it is given no APP_MODULE: a WSGI app that says the
server works and how to serve yours, with a stylesheet and an icon under /static/.

runicorn embeds this file and static/ in its binary (src/wsgi/welcome.rs) and passes the
static files in as `STATIC` (name -> bytes), so it needs nothing on disk. Run alone it
reads static/ next to it: `runicorn --chdir examples/welcome welcome:app`.
"""

import html
import os
import sys

# Filled by runicorn when it serves the embedded copy; read from disk otherwise.
STATIC = None

TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>runicorn</title>
<link rel="icon" href="/static/runicorn.svg">
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main>
<h1><img src="/static/runicorn.svg" alt="" width="48" height="48"> runicorn is serving</h1>
<p>This is the page runicorn shows when it is started without an application.
It runs in Python {python}, in <code>{prefix}</code>.</p>
<h2>Serve your app</h2>
<p>Name the WSGI callable as you would for Gunicorn (module, then the variable):</p>
<pre>runicorn myproject.wsgi:application -w 4 -b 0.0.0.0:8000</pre>
<p>Flask: <code>runicorn app:app</code>. A factory: <code>runicorn 'app:create_app()'</code>.
Every Gunicorn setting works: <code>runicorn --help</code>.</p>
</main>
</body>
</html>
"""


def _static(name):
    if STATIC is not None:
        return STATIC.get(name)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", name)
    if "/" in name or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body = PAGE.format(
            python=html.escape(sys.version.split()[0]), prefix=html.escape(sys.prefix)
        ).encode()
        ctype = "text/html; charset=utf-8"
    elif path.startswith("/static/") and _static(path[len("/static/"):]) is not None:
        name = path[len("/static/"):]
        body = _static(name)
        ctype = TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
    else:
        body = b"Not Found"
        start_response("404 Not Found", [("Content-Type", "text/plain"),
                                         ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]
