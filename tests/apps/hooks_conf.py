# A Gunicorn config file used unchanged by Gunicorn 27 and runicorn (tests/it/pyconf.rs):
# settings of several types, hooks that record their calls, and a logging config.
import os

HOOK_LOG = os.environ.get("HOOK_LOG", os.devnull)

workers = 1
threads = "2"                     # Gunicorn accepts digit strings for integers
timeout = 25
keepalive = 3
graceful_timeout = 5
max_requests = 0
preload_app = "false"             # and "true"/"false" strings for booleans
accesslog = None
loglevel = "info"
raw_env = ["HOOKS_CONF=1"]
forwarded_allow_ips = "127.0.0.1,::1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
proc_name = "hooks-conf"
limit_request_line = 4000

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "APPLOG %(name)s %(levelname)s %(message)s"}},
    "handlers": {
        "app": {"class": "logging.StreamHandler", "formatter": "plain",
                "stream": "ext://sys.stderr"},
    },
    "loggers": {"hooksapp": {"handlers": ["app"], "level": "INFO", "propagate": False}},
    # Gunicorn merges this dict shallowly over its defaults, whose root logger names a
    # handler ("console") that the "handlers" above replace: the root must be given too.
    "root": {"level": "WARNING", "handlers": ["app"]},
}


def _record(name, *extra):
    with open(HOOK_LOG, "a") as f:
        f.write(" ".join([str(os.getpid()), name] + [str(e) for e in extra]) + "\n")


def on_starting(server):
    _record("on_starting", server.cfg.workers)


def on_reload(server):
    _record("on_reload")


def when_ready(server):
    _record("when_ready")


def pre_fork(server, worker):
    _record("pre_fork")


def post_fork(server, worker):
    _record("post_fork")


def post_worker_init(worker):
    _record("post_worker_init")


def pre_request(worker, req):
    _record("pre_request", req.method, req.path)


def post_request(worker, req, environ, resp):
    _record("post_request", req.method, req.path, resp.status_code)


def child_exit(server, worker):
    _record("child_exit")


def worker_exit(server, worker):
    _record("worker_exit")


def nworkers_changed(server, new_value, old_value):
    _record("nworkers_changed", new_value, old_value)


def on_exit(server):
    _record("on_exit")
