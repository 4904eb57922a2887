"""A bare Flask-SocketIO echo server speaking the workstation protocol, without a database.

It measures the transport's own ceiling on this machine: the same gunicorn +
gevent worker, the same Flask-SocketIO, the same ``/exam`` events and payload
sizes as cat_server, but the ``answer`` handler only builds the next state.
The simulator runs against it unchanged (``--no-verify``); our overhead is the
ratio of the two answer rates in the same run.

    gunicorn --worker-class gevent --workers 1 --worker-connections 10000 \
        --bind 127.0.0.1:5700 loadtests.echo:app
"""

from __future__ import annotations

import datetime as dt
import itertools

from flask import Flask, make_response, redirect, request, session
from flask_socketio import SocketIO

app = Flask(__name__)
app.config["SECRET_KEY"] = "echo-only"
socketio = SocketIO(app, cors_allowed_origins=[])
_attempt_ids = itertools.count(1)
_OPTIONS = [
    {"label": label, "text": f"Pilihan jawaban {label} untuk soal uji beban"} for label in "ABCDE"
]


def _state(attempt: int, seq: int, answered: int) -> dict:
    """The same shape and about the same size as cat_server's ``state``."""
    return {
        "attempt": attempt,
        "status": "in_progress",
        "server_time": dt.datetime.now(dt.UTC).isoformat(),
        "answered": answered,
        "total": 500,
        "remaining_s": 10_000.0,
        "seq": seq,
        "section": {"code": "TIU", "name": "Tes Intelegensia Umum"},
        "item": {"id": 1000 + seq, "stem": f"Soal uji beban nomor {seq}?", "options": _OPTIONS},
    }


@app.route("/healthz")
def healthz():
    return {"ok": True}


@app.route("/exam/<int:sitting_id>/", methods=["GET", "POST"])
def login(sitting_id):
    if request.method == "POST":
        session["attempt_id"] = next(_attempt_ids)
        return redirect(f"/exam/{sitting_id}/take")
    return make_response('<form><input name="csrf_token" value="echo"></form>')


@socketio.on("connect", namespace="/exam")
def on_connect(auth=None):
    if "attempt_id" not in session:
        raise ConnectionRefusedError("Candidate login required.")
    session.setdefault("seq", 1)
    socketio.emit(
        "state",
        _state(session["attempt_id"], session["seq"], session["seq"] - 1),
        namespace="/exam",
        to=request.sid,
    )


@socketio.on("answer", namespace="/exam")
def on_answer(data):
    session["seq"] = data["seq"] + 1
    return {"ok": True, "state": _state(data["attempt"], data["seq"] + 1, data["seq"])}
