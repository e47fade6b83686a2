"""runicorn: a Gunicorn-compatible pre-fork HTTP server written in Rust.

Run it as ``runicorn APP_MODULE [OPTIONS]`` or ``python -m runicorn APP_MODULE
[OPTIONS]``; the command line, configuration files, signals and exit codes are
Gunicorn's.
"""

from runicorn._runicorn import __version__

__all__ = ["__version__"]
