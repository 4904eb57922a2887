"""Open staff sockets on /proctor, by user, so an account change ends them at once.

A session cookie is checked on every HTTP request and every Socket.IO event, but
an open socket keeps receiving the ``seats`` broadcasts of the sittings it
watches without sending anything. So after the commit that deactivates a user,
resets their password, changes their role or takes them off a sitting, the
admin's service calls ``end_sockets``: every /proctor socket of that user is
disconnected by the server. The console reconnects on its own; the check on
connect (and on ``watch``) then refuses or re-authorizes it.

With several processes joined by Redis a user's sockets may live on any of
them: ``end_sockets`` disconnects the local ones and publishes the user id on
the proctor feed's channel; every process's ``feed.listen`` loop disconnects
its own (``disconnect_local``). A logout ends them too (``init_app``).

An open console is in use even while its proctor only watches: every process
notes its consoles' users as active each minute (``note_open_consoles``), so
the staff idle time-out (staff_sessions.py) never ends a session whose console
is open.
"""

from __future__ import annotations

import threading

from flask import current_app
from flask_login import user_logged_out

from .. import staff_sessions
from ..extensions import db, socketio

_lock = threading.Lock()
_sockets: dict[str, int] = {}  # Socket.IO sid -> user id, on this process


def init_app(app) -> None:
    """Logging out ends the user's open consoles, on every process."""
    user_logged_out.connect(_logged_out, weak=False)


def _logged_out(_app, user=None, **_extra) -> None:
    if user is not None and user.is_authenticated:
        end_sockets(user.id)


def note_open_consoles() -> int:
    """The users with a /proctor socket open on this process are active now; how many."""
    with _lock:
        entries = list(_sockets.items())
    user_ids = set()
    for sid, user_id in entries:
        if socketio.server.manager.is_connected(sid, "/proctor"):
            user_ids.add(user_id)
        else:  # its disconnect was never handled: no longer open
            closed(sid)
    if user_ids:
        staff_sessions.note_activity(user_ids)
        db.session.commit()
    return len(user_ids)


def opened(sid: str, user_id: int) -> None:
    with _lock:
        _sockets[sid] = user_id


def closed(sid: str) -> None:
    with _lock:
        _sockets.pop(sid, None)


def end_sockets(*user_ids: int) -> None:
    """Disconnect every /proctor socket of these users, on every process (call after the commit)."""
    from . import feed

    ids = {int(i) for i in user_ids}
    if not ids:
        return
    disconnect_local(ids)
    if current_app.config.get("REDIS_URL"):
        try:
            feed.publish({"end_staff": sorted(ids)})
        except Exception:  # the change is committed; the other processes' sockets still
            # lose the session on their next event (load_user checks it every time)
            current_app.logger.exception(
                "could not tell the other processes to end user %s's sockets", sorted(ids)
            )


def disconnect_local(user_ids) -> int:
    """Disconnect this process's /proctor sockets of ``user_ids``; return how many."""
    from . import feed

    user_ids = set(user_ids)
    with _lock:
        sids = [sid for sid, uid in _sockets.items() if uid in user_ids]
    for sid in sids:
        feed.unwatch(sid)  # no further ``seats`` even if the disconnect is slow to finish
        closed(sid)
        try:
            socketio.server.disconnect(sid, namespace="/proctor", ignore_queue=True)
        except Exception:  # already gone: nothing left to end
            current_app.logger.debug("socket %s already closed", sid)
    return len(sids)
