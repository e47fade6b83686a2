"""The gevent rows' 100 ms view with a probe, for benches/gevent_clump.py: each request
appends when its sleep began and how long it lasted (by the app's own clock) to a file per
worker process in the directory named by RUNICORN_BENCH_PROBE_DIR, which the bench sets
for the server it starts."""
import os
import time

from flask import Flask

app = Flask(__name__)
_out = None


@app.get("/sleep")
def sleep_view():
    global _out
    if _out is None:
        # Line-buffered: a worker stopped by TERM has written every line it finished.
        _out = open(os.path.join(os.environ["RUNICORN_BENCH_PROBE_DIR"], f"w{os.getpid()}"), "a", buffering=1)
    began = time.monotonic()
    time.sleep(0.1)
    _out.write(f"{began:.6f} {time.monotonic() - began:.6f}\n")
    return "slept"


@app.get("/hello")
def hello():
    return "Hello, World!"
