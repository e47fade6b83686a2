"""runicorn's gevent loop, run on a gevent worker's hub thread once gevent has patched
the standard library and the app is imported.

The Rust edge queues requests and writes an eventfd (no GIL, no gevent object touched
from its thread); this loop waits on that descriptor like on any socket, takes every
queued request at once, and runs each in its own greenlet from a pool of
--worker-connections. A full pool makes the loop wait here, cooperatively, while the
rest stays queued in Rust.
"""

import gevent
from gevent.pool import Pool
from gevent.socket import wait_read


def serve(dispatcher, fd, size, beat, interval):
    pool = Pool(size)

    def heartbeat():
        # The heartbeat is this greenlet: a greenlet that never yields stops it, and the
        # master replaces the worker after --timeout (Gunicorn's gevent worker notifies
        # from its loop the same way).
        while True:
            beat()
            gevent.sleep(interval)

    gevent.spawn(heartbeat)
    while True:
        wait_read(fd)
        for job in dispatcher.take():
            pool.spawn(job)
