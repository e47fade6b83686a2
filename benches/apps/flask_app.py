"""A Flask JSON endpoint for benches/run.py: a typical small framework request (routing,
request context, JSON serialisation), where the framework costs more than the server."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/json")
def json_endpoint():
    return jsonify(message="Hello, World!", id=1, ok=True)
