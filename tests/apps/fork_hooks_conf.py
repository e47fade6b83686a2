# A Python config file whose os.register_at_fork hooks record each fork (FORK_LOG), with
# the app preloaded in the master: the fork runicorn makes must be bracketed as
# os.fork() brackets it (CPython 3.13 aborts the child otherwise). Used by
# .ci/python-package.
import os

_LOG = os.environ.get("FORK_LOG", os.devnull)

workers = 2
preload_app = True


def _note(what):
    with open(_LOG, "a") as f:
        f.write(f"{what} {os.getpid()}\n")


os.register_at_fork(
    before=lambda: _note("before"),
    after_in_parent=lambda: _note("after_in_parent"),
    after_in_child=lambda: _note("after_in_child"),
)
