"""Socket.IO namespace /exam: one room per attempt. Thin: services do the work."""

from flask import request, session
from flask_socketio import Namespace, join_room

from ..errors import NotFound
from ..extensions import db, socketio
from ..models import Attempt
from ..realtime import acked
from . import service


def session_attempt_id() -> int:
    attempt_id = session.get("attempt_id")
    if attempt_id is None:
        raise NotFound("Sesi login tidak ditemukan; silakan masuk lagi.",
                       "No login found; please log in again.")
    return attempt_id


class ExamNamespace(Namespace):
    """A candidate's workstation."""

    def on_connect(self, auth=None):
        attempt_id = session.get("attempt_id")
        if attempt_id is None or db.session.get(Attempt, attempt_id) is None:
            raise ConnectionRefusedError("Candidate login required.")
        join_room(f"attempt:{attempt_id}")
        attempt = service.mark_connected(attempt_id, request.sid)
        socketio.emit("state", service.attempt_state(attempt), namespace="/exam", to=request.sid)

    def on_disconnect(self, reason=None):
        attempt_id = session.get("attempt_id")
        if attempt_id is not None:
            service.mark_disconnected(attempt_id, request.sid)

    @acked
    def on_answer(self, data):
        """Store one answer; the ack is the next item, sent only after the commit."""
        answer = service.AnswerIn.parse(data)
        return service.record_answer(session_attempt_id(), answer)

    @acked
    def on_sync(self, data=None):
        """Re-sync: the full state with the server's remaining seconds."""
        attempt = db.session.get(Attempt, session_attempt_id())
        state = service.attempt_state(attempt)
        db.session.rollback()
        return {"ok": True, "state": state}


socketio.on_namespace(ExamNamespace("/exam"))
