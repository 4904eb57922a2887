"""Socket.IO namespace /exam: one room per attempt. Thin: services do the work."""

from flask import request, session
from flask_socketio import ConnectionRefusedError, Namespace, join_room

from .. import txn
from ..errors import ExamError, NotFound
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


def _is_live(sid: str) -> bool:
    return socketio.server.manager.is_connected(sid, "/exam")


class ExamNamespace(Namespace):
    """A candidate's workstation."""

    def on_connect(self, auth=None):
        attempt_id = session.get("attempt_id")
        if attempt_id is None or db.session.get(Attempt, attempt_id) is None:
            raise ConnectionRefusedError("login_required")
        device = auth.get("device") if isinstance(auth, dict) else None
        device = device[:64] if isinstance(device, str) and device else None
        try:
            state, replaced = txn.run(service.connect, attempt_id, request.sid, device, _is_live)
        except ExamError as error:
            raise ConnectionRefusedError(error.code, error.to_dict()) from None
        if replaced:
            socketio.server.disconnect(replaced, namespace="/exam")
        join_room(f"attempt:{attempt_id}")
        socketio.emit("state", state, namespace="/exam", to=request.sid)

    def on_disconnect(self, reason=None):
        attempt_id = session.get("attempt_id")
        if attempt_id is not None:
            txn.run(service.mark_disconnected, attempt_id, request.sid)

    @acked
    def on_answer(self, data):
        """Store one answer; the ack is the next state, sent only after the commit."""
        return txn.run(service.record_answer, session_attempt_id(), service.AnswerIn.parse(data))

    @acked
    def on_mark(self, data):
        return txn.run(service.mark_item, session_attempt_id(), service.MarkIn.parse(data))

    @acked
    def on_finish_section(self, data):
        return txn.run(service.finish_section, session_attempt_id(),
                       service.FinishSectionIn.parse(data))

    @acked
    def on_focus_lost(self, data=None):
        """The page lost focus (tab or window switch): counted for the proctor's flags."""
        return {"ok": True, "n": txn.run(service.note_focus_lost, session_attempt_id())}

    @acked
    def on_sync(self, data=None):
        """Re-sync: the full state with the server's remaining seconds."""
        attempt = db.session.get(Attempt, session_attempt_id())
        state = service.attempt_state(attempt)
        db.session.rollback()
        return {"ok": True, "state": state}


socketio.on_namespace(ExamNamespace("/exam"))
