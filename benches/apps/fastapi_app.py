"""FastAPI JSON endpoint and a 100 ms sleep endpoint, for the ASGI benchmarks."""
import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/json")
async def json():
    return {"message": "Hello, World!", "server": "bench", "n": 3}


@app.get("/sleep")
async def sleep():
    await asyncio.sleep(0.1)
    return {"slept": 0.1}
