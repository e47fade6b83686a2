"""A Quart app for the ASGI host's tests: JSON in and out, and its startup hook."""
from quart import Quart, jsonify, request

app = Quart(__name__)
booted = []


@app.before_serving
async def boot():
    booted.append(True)


@app.route("/hello/<name>")
async def hello(name):
    return jsonify({"hello": name, "booted": bool(booted)})


@app.route("/echo", methods=["POST"])
async def echo():
    data = await request.get_json()
    return jsonify({"echo": data})
