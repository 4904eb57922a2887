"""Socket.IO namespace /exam: one room per attempt. Thin: services do the work."""

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, join_room

from .. import live_sockets, metrics, txn
from ..errors import ExamError, NotFound
from ..extensions import db, socketio
from ..models import Attempt, utcnow
from ..realtime import DB_UNAVAILABLE, RETRY_REPLY, AckedNamespace, acked
from . import answers, attempts, payloads, presence, sessions, views


def session_attempt_id() -> int:
    attempt_id = session.get("attempt_id")
    if attempt_id is None:
        raise NotFound(
            "Sesi login tidak ditemukan; silakan masuk lagi.",
            "No login found; please log in again.",
        )
    return attempt_id


def session_token() -> str | None:
    """The cookie's session token: every service checks it against the attempt's row."""
    return session.get("token")


def _credit_if_holder_died(app, attempt_id: int, old_sid: str) -> None:
    until = utcnow()
    socketio.sleep(live_sockets.PROCESS_DEAD_AFTER_S + live_sockets.PROCESS_BEAT_S)
    with app.app_context():
        since = live_sockets.lost_since(old_sid)
        if since is not None:
            txn.run(presence.credit_lost_connection, attempt_id, since, until)


def _is_live(sid: str) -> bool:
    return live_sockets.is_live(sid, "/exam")


class ExamNamespace(AckedNamespace):
    """A candidate's workstation."""

    def on_connect(self, auth=None):
        """Mark the seat connected and send the state; refuse with a code the page acts on.

        Any exception other than a refusal would leave the client without an
        answer to its connect (socket.io waits for it forever), so a database
        that is down or busy is a ``retry`` refusal: the page connects again.
        The attempt is read inside the group commit, not before it: on SQLite
        300 workstations reconnecting after a restart would otherwise queue
        for the one connection and time out.
        """
        attempt_id = session.get("attempt_id")
        if attempt_id is None:
            raise ConnectionRefusedError("login_required")
        wanted = auth.get("protocol") if isinstance(auth, dict) else None
        if wanted is not None and wanted != payloads.PROTOCOL_VERSION:
            raise ConnectionRefusedError(
                "protocol_mismatch",
                {
                    "error": "protocol_mismatch",
                    "protocol": payloads.PROTOCOL_VERSION,
                    "message": "Versi halaman ujian tidak cocok dengan server; muat ulang halaman.",
                    "message_en": "This exam page does not match the server; reload the page.",
                },
            )
        device = auth.get("device") if isinstance(auth, dict) else None
        device = device[:64] if isinstance(device, str) and device else None
        # live for the other processes before it holds the attempt: a second
        # workstation connecting elsewhere at the same moment sees it
        live_sockets.mark(request.sid)
        try:
            state, replaced = txn.run(
                presence.connect,
                attempt_id,
                request.sid,
                device,
                _is_live,
                session_token(),
                live_sockets.lost_since,
            )
        except NotFound:
            live_sockets.unmark(request.sid)
            raise ConnectionRefusedError("login_required") from None
        except ExamError as error:
            live_sockets.unmark(request.sid)
            raise ConnectionRefusedError(error.code, error.to_dict()) from None
        except DB_UNAVAILABLE:
            live_sockets.unmark(request.sid)
            db.session.rollback()
            current_app.logger.exception("database unavailable in on_connect")
            raise ConnectionRefusedError("retry", RETRY_REPLY) from None
        if replaced:
            socketio.server.disconnect(replaced, namespace="/exam")
            # the old socket's process may have just died (nginx moved the workstation
            # here): once that can be told, credit the seconds it was cut off
            socketio.start_background_task(
                _credit_if_holder_died, current_app._get_current_object(), attempt_id, replaced
            )
        join_room(f"attempt:{attempt_id}")
        socketio.emit("state", state, namespace="/exam", to=request.sid)

    def on_disconnect(self, reason=None):
        live_sockets.unmark(request.sid)
        attempt_id = session.get("attempt_id")
        if attempt_id is not None:
            txn.run(presence.mark_disconnected, attempt_id, request.sid)

    @acked
    def on_answer(self, data):
        """Store one answer; the ack is the next state, sent only after the commit."""
        read = metrics.read_at(data)  # the packet's arrival, not this greenlet's start
        attempt_id, answer = session_attempt_id(), payloads.AnswerIn.parse(data)
        reply = txn.run(answers.record_answer, attempt_id, answer, session_token())
        metrics.answer_acked(read)
        return reply

    @acked
    def on_mark(self, data):
        attempt_id, mark = session_attempt_id(), payloads.MarkIn.parse(data)
        return txn.run(attempts.mark_item, attempt_id, mark, session_token())

    @acked
    def on_finish_section(self, data):
        attempt_id, finish = session_attempt_id(), payloads.FinishSectionIn.parse(data)
        return txn.run(attempts.finish_section, attempt_id, finish, session_token())

    @acked
    def on_focus_lost(self, data=None):
        """The page lost focus (tab or window switch): counted for the proctor's flags."""
        n = txn.run(presence.note_focus_lost, session_attempt_id(), session_token())
        return {"ok": True, "n": n}

    @acked
    def on_call_proctor(self, data=None):
        """ "Minta bantuan / Call proctor": the seat lights up on the consoles until acknowledged."""
        new = txn.run(presence.call_proctor, session_attempt_id(), session_token())
        return {"ok": True, "new": new}

    @acked
    def on_sync(self, data=None):
        """Re-sync: the full state with the server's remaining seconds."""
        attempt = db.session.get(Attempt, session_attempt_id())
        if attempt is None:
            raise NotFound("Ujian tidak ditemukan.", "Attempt not found.")
        sessions.check_token(attempt, session_token())
        state = presence.with_help(attempt, views.attempt_state(attempt))
        db.session.rollback()
        return {"ok": True, "state": state}


socketio.on_namespace(ExamNamespace("/exam"))
