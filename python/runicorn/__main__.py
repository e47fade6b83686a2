"""The ``runicorn`` command and ``python -m runicorn``.

This process hosts runicorn's master: the server runs in this interpreter (so in this
virtualenv), forks its workers from it, and returns Gunicorn's exit code.
"""

import os
import sys

from runicorn import _runicorn


def _exec_argv():
    """What USR2 re-executes: this interpreter and what followed it on the command line
    (``python -m runicorn ...`` or the ``runicorn`` script), as Gunicorn does."""
    orig = getattr(sys, "orig_argv", None)  # 3.10+: keeps ``-m runicorn`` and -X options
    if orig:
        return [sys.executable] + list(orig[1:])
    if os.path.basename(sys.argv[0]) == "__main__.py":
        return [sys.executable, "-m", "runicorn"] + sys.argv[1:]
    return [sys.executable] + sys.argv


def main():
    """Serves with ``sys.argv``; returns the exit code (the console script exits with it)."""
    prog = sys.argv[0]
    if os.path.basename(prog) == "__main__.py":
        prog = "runicorn"
    return _runicorn.run([prog] + sys.argv[1:], _exec_argv())


if __name__ == "__main__":
    sys.exit(main())
