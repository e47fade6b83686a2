"""runicorn's gevent loop, run on a gevent worker's hub thread once gevent has patched
the standard library and the app is imported.

The Rust edge queues requests and writes an eventfd (no GIL, no gevent object touched
from its thread); this loop waits on that descriptor like on any socket, takes the
queued requests at once, and runs each in a greenlet of its own while it runs. The
dispatcher caps them at --worker-connections (what gevent.pool.Pool would do, without its
per-spawn bookkeeping): the rest stays queued in Rust, and a finishing request writes the
descriptor again.

A greenlet that finished a request parks and takes a later one (up to KEEP of them wait
so): on CPython 3.11+ a new greenlet's first Python frame maps a fresh frame-stack chunk
that its end unmaps again, so a greenlet per request cost an mmap, a munmap and their page
faults each time. Threads in the sync and gthread workers serve many requests too, so a
`threading.local` (greenlet-local once patched) lives across requests as it does there.
"""

import gevent
from greenlet import GreenletExit, getcurrent, greenlet

# Parked greenlets kept for later requests. Each holds its frame-stack chunk (16 KiB) and
# a small saved C stack; a burst beyond this many ends its extra greenlets as before.
KEEP = 128

# Marks the dispatcher's hand-over, so a parked greenlet resumed by anything else (a
# leftover of the request it ran, such as an uncancelled gevent.Timeout) keeps waiting.
_JOB = object()


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
    park = hub.switch
    run_callback = hub.loop.run_callback
    idle = []

    def worker(mark, job):
        me = getcurrent()
        while True:
            job()
            job = None
            if len(idle) >= KEEP:
                return
            idle.append(me)
            while job is None:
                try:
                    got = park()
                except GreenletExit:
                    raise
                except BaseException:  # noqa: B036 - thrown by what a finished request left behind
                    continue
                if type(got) is tuple and len(got) == 2 and got[0] is _JOB:
                    job = got[1]

    # One watcher for the worker's life (gevent.socket.wait_read makes one per wait).
    ready = hub.loop.io(fd, 1)
    take = dispatcher.take
    while True:
        hub.wait(ready)
        for job in take():
            if idle:
                run_callback(idle.pop().switch, (_JOB, job))
            else:
                run_callback(greenlet(worker, hub).switch, _JOB, job)
