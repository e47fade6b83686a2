"""A Starlette app for the ASGI host's tests: JSON, a server-sent-event stream that
never ends on its own (it must stop when the client leaves), and a streamed echo."""
import asyncio
import sys

from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


async def hello(request):
    return JSONResponse({"hello": "starlette", "query": dict(request.query_params)})


async def ticker(request):
    async def gen():
        n = 0
        try:
            while True:
                yield f"data: tick {n}\n\n"
                n += 1
                await asyncio.sleep(0.02)
        finally:
            print(f"TICKER STOPPED after {n} ticks", file=sys.stderr, flush=True)
    return StreamingResponse(gen(), media_type="text/event-stream")


async def echo(request):
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
    return JSONResponse({"received": total})


app = Starlette(routes=[Route("/", hello), Route("/ticker", ticker), Route("/echo", echo, methods=["POST"])])
