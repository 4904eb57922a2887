"""Socket.IO namespace /proctor: one room per sitting. Thin: actions.py does the work.

Every action needs a non-empty ``reason`` (incident notes: ``text``) and is
refused with ``forbidden`` on a sitting the user does not proctor.
"""

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room

from ..errors import BadPayload, is_id
from ..exam import attempts
from ..extensions import db, socketio
from ..realtime import DB_UNAVAILABLE, AckedNamespace, acked
from ..sealed.release import release
from . import actions, feed, service, sessions
from .actions import ActionIn


def _sitting_id(data) -> int:
    if not isinstance(data, dict) or not is_id(data.get("sitting")):
        raise BadPayload(field="sitting")
    return data["sitting"]


class ProctorNamespace(AckedNamespace):
    """Live sitting view and the proctor's actions."""

    def on_connect(self, auth=None):
        """Staff only; a database that is down or busy is a ``retry`` refusal, never an
        exception (that would leave the console waiting for an answer to its connect)."""
        try:
            staff = service.is_staff(current_user)
        except DB_UNAVAILABLE:
            db.session.rollback()
            current_app.logger.exception("database unavailable in proctor on_connect")
            raise ConnectionRefusedError("retry") from None
        if not staff:
            raise ConnectionRefusedError("login_required")
        sessions.opened(request.sid, current_user.id)  # ended at once if the account changes

    def on_disconnect(self, reason=None):
        feed.unwatch(request.sid)
        sessions.closed(request.sid)

    @acked
    def on_watch(self, data):
        """A proctor opens a sitting; the ack carries a full snapshot."""
        sitting = service.get_watchable(_sitting_id(data))
        join_room(f"sitting:{sitting.id}")
        feed.watch(request.sid, sitting.id)  # before the snapshot: no change falls between
        return {"ok": True, **service.sitting_snapshot(sitting.id)}

    @acked
    def on_open_check_in(self, data):
        """Open check-in of a scheduled sitting: {sitting, reason}."""
        actions.open_check_in(current_user, ActionIn.parse(data))
        return {"ok": True}

    @acked
    def on_release_package(self, data):
        """Release the sitting's sealed package with the issuer's code: {sitting, code}."""
        sitting = service.get_watchable(_sitting_id(data))
        code = data.get("code")
        if not isinstance(code, str) or len(code) > 64:
            raise BadPayload(field="code")
        release(sitting.id, code, f"user:{current_user.id}")
        return {"ok": True}

    @acked
    def on_start_sitting(self, data):
        """Start the sitting (the reason is optional: starting is the routine, not an intervention)."""
        sitting = service.get_watchable(_sitting_id(data))
        reason = data.get("reason") if isinstance(data.get("reason"), str) else None
        attempts.start_sitting(sitting.id, f"user:{current_user.id}", reason)
        return {"ok": True}

    @acked
    def on_pause_seat(self, data):
        actions.pause_seat(current_user, ActionIn.parse(data, seat_action=True))
        return {"ok": True}

    @acked
    def on_resume_seat(self, data):
        actions.resume_seat(current_user, ActionIn.parse(data, seat_action=True))
        return {"ok": True}

    @acked
    def on_pause_sitting(self, data):
        return {"ok": True, "attempts": actions.pause_sitting(current_user, ActionIn.parse(data))}

    @acked
    def on_resume_sitting(self, data):
        return {"ok": True, "attempts": actions.resume_sitting(current_user, ActionIn.parse(data))}

    @acked
    def on_extend_seat(self, data):
        actions.extend_seat(current_user, ActionIn.parse(data, seat_action=True, minutes=True))
        return {"ok": True}

    @acked
    def on_extend_sitting(self, data):
        action = ActionIn.parse(data, minutes=True)
        return {"ok": True, "attempts": actions.extend_sitting(current_user, action)}

    @acked
    def on_end_attempt(self, data):
        actions.end_seat(current_user, ActionIn.parse(data, seat_action=True))
        return {"ok": True}

    @acked
    def on_end_sitting(self, data):
        return {"ok": True, "attempts": actions.end_sitting(current_user, ActionIn.parse(data))}

    @acked
    def on_move_seat(self, data):
        """Approve a seat move: ``seat`` is the new seat's label, or null for the same seat.

        ``add_seat``: true adds a label the room does not have as a spare seat.
        """
        action = ActionIn.parse(data, seat_action=True)
        actions.move_seat(current_user, action, data.get("seat"), data.get("add_seat", False))
        return {"ok": True}

    @acked
    def on_free_seats(self, data):
        """The sitting's seats no candidate sits at (to offer in the seat move dialog)."""
        return {"ok": True, "seats": actions.free_seats(current_user, data)}

    @acked
    def on_end_session(self, data):
        """End one workstation's session (its cookie and socket); the candidate logs in again."""
        actions.end_session(current_user, ActionIn.parse(data, seat_action=True))
        return {"ok": True}

    @acked
    def on_reset_pin(self, data):
        """A new PIN for one candidate; the ack is the only place it is ever shown."""
        return {
            "ok": True,
            "pin": actions.reset_pin(current_user, ActionIn.parse(data, seat_action=True)),
        }

    @acked
    def on_lockouts(self, data):
        """The sitting's locked-out or slowed candidate logins: {sitting}."""
        sitting = service.get_watchable(_sitting_id(data))
        return {"ok": True, "lockouts": service.sitting_lockouts(sitting.id)}

    @acked
    def on_lift_lockout(self, data):
        """Let one candidate log in again from every address: {sitting, candidate, reason}."""
        action = ActionIn.parse(data, seat_action=True)
        return {"ok": True, "lifted": actions.lift_lockout(current_user, action)}

    @acked
    def on_note_incident(self, data):
        incident = actions.note_incident(current_user, ActionIn.parse_incident(data))
        return {"ok": True, "incident": incident.id}

    @acked
    def on_acknowledge(self, data):
        """A proctor has seen a seat's flag or help request: {sitting, candidate, flag, note?}."""
        return {"ok": True, **actions.acknowledge(current_user, data)}

    @acked
    def on_configure_board(self, data):
        """Admin only: {sitting, enabled, fields?, reason}."""
        action = ActionIn.parse(data)
        if not isinstance(data.get("enabled"), bool):
            raise BadPayload(field="enabled")
        board = actions.configure_board(
            current_user, action.sitting, data["enabled"], data.get("fields"), action.reason
        )
        return {"ok": True, "board": board}


socketio.on_namespace(ProctorNamespace("/proctor"))
