# The Python half of runicorn's ASGI host: runs on the worker's event-loop thread.
# `serve` makes the loop, runs lifespan startup, hands the loop to the Rust side and runs
# it until the worker stops; `run` wraps every request's app call. Rust code (`api`)
# does the per-request work: the scope, receive/send, the wake-ups from the edge.
import asyncio

INFO, WARNING, ERROR = 20, 30, 40


class ClientDisconnected(OSError):
    """send() after the client went away (ASGI HTTP spec 2.4)."""


async def run(app, scope, receive, send):
    try:
        await app(scope, receive, send)
    except BaseException as e:  # noqa: B036 - a request task must report, never kill the loop
        send._failed(e)
    else:
        send._returned()


def new_loop(kind):
    if kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if kind == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class Lifespan:
    def __init__(self, app, state, api, mode):
        self.app, self.state, self.api, self.mode = app, state, api, mode
        self.inbox = asyncio.Queue()
        self.outbox = asyncio.Queue()
        self.task = None
        self.error = None
        self.running = False

    async def main(self):
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self.inbox.get, self.outbox.put)
        except BaseException as e:  # noqa: B036
            self.error = e
        finally:
            self.outbox.put_nowait(None)

    async def startup(self, timeout):
        """None when the worker may serve, else the reason it must not."""
        self.task = asyncio.get_running_loop().create_task(self.main())
        await self.inbox.put({"type": "lifespan.startup"})
        try:
            msg = await asyncio.wait_for(self.outbox.get(), timeout)
        except asyncio.TimeoutError:
            self.task.cancel()
            return "ASGI lifespan startup timed out after %ss" % timeout
        if msg is None:
            if self.mode == "on":
                if self.error is not None:
                    return "ASGI lifespan startup failed: %r" % (self.error,)
                return "ASGI lifespan startup failed: the app returned without answering"
            detail = "" if self.error is None else ": %r" % (self.error,)
            self.api.log(INFO, "ASGI 'lifespan' protocol appears unsupported%s" % detail)
            return None
        kind = msg.get("type")
        if kind == "lifespan.startup.complete":
            self.running = True
            return None
        if kind == "lifespan.startup.failed":
            return "ASGI lifespan startup failed: %s" % (msg.get("message", "") or "(no message)")
        return "ASGI lifespan startup failed: unexpected message %r" % (kind,)

    async def shutdown(self, timeout):
        if not self.running:
            return
        await self.inbox.put({"type": "lifespan.shutdown"})
        try:
            msg = await asyncio.wait_for(self.outbox.get(), timeout)
        except asyncio.TimeoutError:
            self.api.log(ERROR, "ASGI lifespan shutdown timed out after %ss" % timeout)
            return
        if msg is None:
            if self.error is not None:
                self.api.log(ERROR, "ASGI lifespan shutdown failed: %r" % (self.error,))
            return
        if msg.get("type") == "lifespan.shutdown.failed":
            self.api.log(ERROR, "ASGI lifespan shutdown failed: %s" % msg.get("message", ""))


def serve(api, app, loop_kind, lifespan_mode, beat_every, lifespan_timeout):
    try:
        loop = new_loop(loop_kind)
    except ImportError as e:
        api.started("--asgi-loop %s: %s" % (loop_kind, e))
        return
    asyncio.set_event_loop(loop)
    state = {}
    lifespan = None
    if lifespan_mode != "off":
        lifespan = Lifespan(app, state, api, lifespan_mode)
        error = loop.run_until_complete(lifespan.startup(lifespan_timeout))
        if error is not None:
            api.started(error)
            return
    api.attach(loop, app, run, ClientDisconnected, state)
    loop.add_reader(api.wake_fd(), api.drain)

    def tick():
        api.tick()
        loop.call_later(beat_every, tick)

    tick()
    api.started()
    loop.run_forever()
    if lifespan is not None:
        loop.run_until_complete(lifespan.shutdown(lifespan_timeout))
