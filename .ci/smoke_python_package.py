"""Smoke test of a pip-installed runicorn, run by that venv's python (.ci/python-package).

Serves tests/apps/flask_app.py with the venv's `runicorn` command, `PATH` holding only
the venv's bin and the system directories: once plainly (-w 2), once preloaded with a
Python config file whose os.register_at_fork hooks must run; checks `python -m runicorn
--version` against `runicorn.__version__`. Prints the seconds from `since` (a Unix time,
argv[2]) to the first 200, so the caller can time `pip install` → first answer.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "apps")
VENV_BIN = os.path.dirname(sys.executable)
ENV = {"PATH": VENV_BIN + ":/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")}


def serve(args, env=None, check=None):
    """Starts the venv's runicorn, GETs /json?n=7, TERMs it; returns the first-200 time."""
    log = tempfile.TemporaryFile()
    cmd = [os.path.join(VENV_BIN, "runicorn"), "--chdir", APPS, "-b", "127.0.0.1:0"] + args
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=dict(ENV, **(env or {})))
    deadline = time.time() + 60
    url = None
    text = ""
    try:
        while url is None:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit(f"FAIL: {cmd} did not start:\n{text}")
            time.sleep(0.05)
            log.seek(0)
            text = log.read().decode(errors="replace")
            m = re.search(r"Listening at: (http://\S+)", text)
            url = m and m.group(1)
        while True:
            try:
                with urllib.request.urlopen(url + "/json?n=7", timeout=10) as r:
                    body = json.loads(r.read())
                    assert r.status == 200 and body == {"message": "Hello, World!", "n": 7}, body
                    answered = time.time()
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        if check:
            check()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        log.seek(0)
        text = log.read().decode(errors="replace")
    if code != 0 or "Fatal Python error" in text or "died" in text:
        raise SystemExit(f"FAIL: {cmd} exited {code}:\n{text}")
    return answered


def main():
    since = float(sys.argv[1]) if len(sys.argv) > 1 else time.time()
    first = serve(["-w", "2", "flask_app:app"])
    print(f"pip install to first 200: {first - since:.1f} s")

    with tempfile.TemporaryDirectory() as tmp:
        fork_log = os.path.join(tmp, "forks")

        def forks_seen():
            # Both workers boot before the master logs them ready; give them a moment.
            for _ in range(100):
                lines = open(fork_log).read().split() if os.path.exists(fork_log) else []
                if lines.count("after_in_child") >= 2:
                    break
                time.sleep(0.05)
            for hook in ("before", "after_in_parent", "after_in_child"):
                assert lines.count(hook) >= 2, (hook, lines)

        serve(["-c", os.path.join(APPS, "fork_hooks_conf.py"), "flask_app:app"],
              env={"FORK_LOG": fork_log}, check=forks_seen)

    out = subprocess.run([sys.executable, "-m", "runicorn", "--version"], env=ENV,
                         capture_output=True, text=True, check=True)
    import runicorn
    assert runicorn.__version__ in out.stdout + out.stderr, (runicorn.__version__, out)
    print(f"python -m runicorn --version: {(out.stdout + out.stderr).strip()}")
    print(f"ok: Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
