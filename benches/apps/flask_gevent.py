"""A Flask app for the gevent rows of benches/run.py: `/sleep` waits 100 ms as a view
that calls an upstream would (time.sleep, cooperative once gevent has patched it), and
`/hello` is the Flask hello."""
import time

from flask import Flask

app = Flask(__name__)


@app.get("/sleep")
def sleep_view():
    time.sleep(0.1)
    return "slept"


@app.get("/hello")
def hello():
    return "Hello, World!"
