"""A small Flask app with a JSON endpoint."""
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/json")
def hello_json():
    return jsonify(message="Hello, World!", n=int(request.args.get("n", 1)))


@app.post("/echo")
def echo():
    return jsonify(got=request.get_json())


def create_app():
    return app
