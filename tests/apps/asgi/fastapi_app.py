"""A FastAPI app for the ASGI host's tests: path and query parameters, JSON and form
bodies, lifespan state, streaming and server-sent events."""
import asyncio
from contextlib import asynccontextmanager
from typing import Optional

from fastapi import FastAPI, Form, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

events = []


@asynccontextmanager
async def lifespan(app):
    events.append("startup")
    yield {"db": "connected"}
    events.append("shutdown")


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: Optional[str] = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price, "taxed": round(item.price * 1.2, 2)}


@app.post("/login")
async def login(username: str = Form(), password: str = Form()):
    return {"username": username, "password_len": len(password)}


@app.get("/state")
async def state(request: Request):
    return {"db": request.state.db, "events": events, "root_path": request.scope["root_path"],
            "url": str(request.url)}


@app.get("/sse")
async def sse():
    async def gen():
        for i in range(3):
            yield f"data: {i}\n\n"
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type="text/event-stream")


@app.get("/sleep")
async def sleep():
    await asyncio.sleep(0.1)
    return {"slept": 0.1}
