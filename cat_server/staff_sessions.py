"""Staff sessions on the server: the token a cookie must carry, its rotation, the idle time-out.

A staff cookie holds ``"<user id>:<session token>"`` (``User.get_id``).
``load_user`` accepts it only while the account is active, the token is the
user's current one, and the user has not been idle for ADMIN_IDLE_TIMEOUT
seconds by the server's own record (``User.last_seen_at``). Nothing else in
the cookie counts: an old cookie, or one that claims its holder was active,
opens nothing once the server says otherwise.

``rotate`` gives the user a new token (logout, deactivation, role or password
change): every cookie issued before stops working at its next request or socket
event, on every process; the caller then ends the user's open consoles
(proctor/sessions.py). Activity is a staff request (``note_request``, written at
most every TOUCH_EVERY_S) or an open proctor console (proctor/sessions.py notes
those every TOUCH_EVERY_S). The first login after an idle spell gives a new token
(``begin``), so the idle session's cookies stay useless.
"""

from __future__ import annotations

from datetime import timedelta
from secrets import compare_digest

from flask import current_app, g
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .models import User, new_session_token, utcnow

TOUCH_EVERY_S = 60.0  # at most one write of last_seen_at per user per minute


def idle_limit() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("ADMIN_IDLE_TIMEOUT", 1800)))


def touch_interval() -> timedelta:
    """How stale last_seen_at may get: a minute, or a tenth of a shorter idle limit."""
    return min(timedelta(seconds=TOUCH_EVERY_S), idle_limit() / 10)


def is_idle(user: User, now=None) -> bool:
    last = user.last_seen_at
    return last is None or (now or utcnow()) - last > idle_limit()


def holds(user: User, token: str) -> bool:
    """The cookie's ``token`` is the active user's, and the user is not idle (``load_user``).

    A refusal for idleness is remembered for this request (``timed_out``).
    """
    if not user.active or not user.session_token or not token:
        return False
    if not compare_digest(token, user.session_token):
        return False
    if is_idle(user):
        g.cat_staff_timed_out = True
        return False
    g.cat_staff_seen = (user.id, user.last_seen_at)  # for note_request, after the view
    return True


def timed_out() -> bool:
    """Was this request's staff session refused because its user was idle?"""
    return bool(g.get("cat_staff_timed_out"))


def begin(user: User) -> None:
    """At login, before ``login_user`` (the caller commits): a new token after an idle spell."""
    if is_idle(user):
        user.session_token = new_session_token()
    user.last_seen_at = utcnow()


def rotate(user: User) -> None:
    """A new token: every session of the user ends (the caller commits, then ends the sockets)."""
    user.session_token = new_session_token()


def note_activity(user_ids) -> None:
    """The users were active now (the caller commits)."""
    ids = sorted({int(i) for i in user_ids})
    if ids:
        db.session.execute(db.update(User).where(User.id.in_(ids)).values(last_seen_at=utcnow()))


def note_request(response):
    """After a staff request: note the activity, if the last note is older than the interval.

    After the view, in a transaction of its own: whatever the view left
    uncommitted was to be dropped anyway.
    """
    seen = g.get("cat_staff_seen")
    if seen is None:
        return response
    user_id, last = seen
    if last is not None and utcnow() - last < touch_interval():
        return response
    try:
        db.session.rollback()
        note_activity([user_id])
        db.session.commit()
    except SQLAlchemyError:  # not worth failing the page for: the next request notes it
        db.session.rollback()
        current_app.logger.exception("could not note user %s's activity", user_id)
    return response


def init_app(app) -> None:
    app.after_request(note_request)
