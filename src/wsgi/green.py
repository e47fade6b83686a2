"""runicorn's gevent loop, run on a gevent worker's hub thread once gevent has patched
the standard library and the app is imported.

The Rust edge queues requests and writes an eventfd (no GIL, no gevent object touched
from its thread); this loop waits on that descriptor like on any socket, takes the
queued requests at once, and runs each in its own raw greenlet. The dispatcher caps them
at --worker-connections (what gevent.pool.Pool would do, without its per-spawn
bookkeeping): the rest stays queued in Rust, and a finishing request writes the
descriptor again.
"""

import gevent


def serve(dispatcher, fd, beat, interval):
    def heartbeat():
        # The heartbeat is this greenlet: a greenlet that never yields stops it, and the
        # master replaces the worker after --timeout (Gunicorn's gevent worker notifies
        # from its loop the same way).
        while True:
            beat()
            gevent.sleep(interval)

    gevent.spawn(heartbeat)
    hub = gevent.get_hub()
    # One watcher for the worker's life (gevent.socket.wait_read makes one per wait).
    ready = hub.loop.io(fd, 1)
    spawn = gevent.spawn_raw
    take = dispatcher.take
    while True:
        hub.wait(ready)
        for job in take():
            spawn(job)
