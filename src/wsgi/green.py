"""runicorn's gevent loop, run on a gevent worker's hub thread once gevent has patched
the standard library and the app is imported.

The Rust edge queues requests and writes an eventfd (no GIL, no gevent object touched
from its thread); this loop waits on that descriptor like on any socket, takes the
queued requests at once, and runs each in a greenlet of its own while it runs. The
dispatcher caps them at --worker-connections (what gevent.pool.Pool would do, without its
per-spawn bookkeeping): the rest stays queued in Rust, and a finishing request writes the
descriptor again.

A greenlet that finished a request runs the next taken one itself, and only a request
that waits (on a socket, a sleep) makes the rest go to another greenlet: a hello then costs
no greenlet switch, and a slow request still holds up nobody. One that finds nothing left
to start hands the finished responses to the edge at once and takes what the edge queued
meanwhile: many sleeps ending in the same timer tick then go out and come back spread
over the turn instead of in one clump. A greenlet with nothing left to run parks and takes
a later one (up to KEEP of them wait so): on CPython 3.11+ a new greenlet's first Python
frame maps a fresh frame-stack chunk that its end unmaps again, so a greenlet per request
cost an mmap, a munmap and their page faults each time. Threads in the sync and gthread workers serve many requests too, so a
`threading.local` (greenlet-local once patched) lives across requests as it does there.
"""

from collections import deque

import gevent
from greenlet import GreenletExit, getcurrent, greenlet

# Parked greenlets kept for later requests. Each holds its frame-stack chunk (16 KiB) and
# a small saved C stack; a burst beyond this many ends its extra greenlets as before.
KEEP = 128

# Requests one greenlet runs in a row before it lets the hub poll.
BATCH = 32

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
    take = dispatcher.take
    has_queued = dispatcher.has_queued
    deliver_now = dispatcher.deliver_now
    # Taken requests no greenlet has started yet.
    pending = deque()
    # A hand_over is queued on the hub (at most one at a time).
    queued = [False]

    def hand_over():
        # Runs on the hub, so whoever queued it has yielded: blocked in its request, or
        # parked. Requests still pending get a greenlet (a parked one when there is one).
        queued[0] = False
        if pending:
            (idle.pop() if idle else greenlet(worker, hub)).switch(_JOB)

    def queue_hand_over():
        if not queued[0]:
            queued[0] = True
            run_callback(hand_over)

    def worker(mark):
        # Runs pending requests one after another in this greenlet while they finish
        # without waiting (a hello costs no greenlet switch then); the hand-over queued
        # before each one gives the rest to another greenlet as soon as one waits.
        me = getcurrent()
        while True:
            for _ in range(BATCH):
                if not pending:
                    break
                job = pending.popleft()
                if pending:
                    queue_hand_over()
                job()
                job = None
                if not pending:
                    # Out of requests to start: the heads go to the edge now (it gets the
                    # core), and what it read meanwhile starts here, between the other
                    # greenlets this turn resumes, rather than after all of them.
                    deliver_now()
                    if has_queued():
                        pending.extend(take())
                        if pending:
                            # Whoever runs them (this greenlet next, or another once this
                            # one waits or parks after BATCH), none is left stranded.
                            queue_hand_over()
            # After BATCH in a row, this greenlet parks so the hub polls (heads go out,
            # the heartbeat beats): the hand-over queued before the last one that left
            # others pending starts the rest.
            if len(idle) >= KEEP:
                return
            idle.append(me)
            while True:
                try:
                    got = park()
                except GreenletExit:
                    raise
                except BaseException:  # noqa: B036 - thrown by what a finished request left behind
                    continue
                if got is _JOB:
                    break

    # One watcher for the worker's life (gevent.socket.wait_read makes one per wait).
    ready = hub.loop.io(fd, 1)
    while True:
        hub.wait(ready)
        pending.extend(take())
        if pending:
            queue_hand_over()
