"""Staff accounts (administrators and proctors): create, change role, reset password, deactivate.

Every change is one transaction with its audit row (who, when, why). The centre
always keeps at least one active administrator: the last one cannot be
demoted or deactivated, by anyone (only administrators act here, so in
practice by themselves).
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy.exc import IntegrityError

from .. import lockout, security, staff_sessions
from ..auth import find_user
from ..extensions import db
from ..models import Sitting, User, audit
from ..proctor import sessions
from .sittings import FormProblems, _, get_sitting, need_reason

ROLES = ("admin", "proctor")


USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
DEFAULT_MIN_PASSWORD = 10


def min_password_length() -> int:
    """CAT_PASSWORD_MIN_LENGTH (default 10), never below 8."""
    try:
        configured = int(current_app.config.get("PASSWORD_MIN_LENGTH", DEFAULT_MIN_PASSWORD))
    except (TypeError, ValueError):
        configured = DEFAULT_MIN_PASSWORD
    return max(8, configured)


def password_problems(password: str, username: str = "") -> list[tuple[str, str]]:
    n = min_password_length()
    if len(password) < n:
        return [("password", _("kata sandi minimal %(n)d karakter", n=n))]
    if username and password.strip().casefold() == username.strip().casefold():
        return [("password", _("kata sandi tidak boleh sama dengan nama pengguna"))]
    return []


def list_users() -> list[User]:
    return (
        db.session.execute(db.select(User).order_by(User.active.desc(), User.role, User.username))
        .scalars()
        .all()
    )


def assigned_sittings() -> dict[int, list[str]]:
    """Proctor id -> names of the sittings (not ended) they watch."""
    from ..models import sitting_proctor

    out: dict[int, list[str]] = {}
    rows = db.session.execute(
        db.select(sitting_proctor.c.user_id, Sitting.name)
        .join(Sitting, Sitting.id == sitting_proctor.c.sitting_id)
        .where(Sitting.status != "ended")
        .order_by(Sitting.scheduled_at, Sitting.id)
    )
    for user_id, name in rows:
        out.setdefault(user_id, []).append(name)
    return out


def get_user(user_id: int) -> User:
    from ..errors import NotFound

    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("Pengguna tidak ditemukan.", "User not found.")
    return user


def n_active_admins(excluding: int | None = None) -> int:
    """Active administrators, their rows locked until the commit (PostgreSQL).

    The lock makes two administrators demoting each other at once take turns,
    so the second sees the first's change and cannot leave the centre with none.
    """
    ids = (
        db.session.execute(
            db.select(User.id).where(User.role == "admin", User.active).with_for_update()
        )
        .scalars()
        .all()
    )
    return sum(i != excluding for i in ids)


def create_user(
    username: str, name: str, role: str, password: str, actor: str, reason: str | None = None
) -> User:
    """A new active account; the username is stored lower-case and must be unique ignoring case.

    Lower-case storage gives one spelling everywhere the name is shown, logged or
    counted (audit log, per-account login limit); the full name keeps the capitals.
    """
    entered = (username or "").strip()
    username = entered.lower()
    name = (name or "").strip()
    problems = []
    if not USERNAME.match(username):
        problems.append(
            (
                "username",
                _("2–40 karakter: huruf kecil, angka, '.', '_' atau '-', diawali huruf atau angka"),
            )
        )
    elif taken := _taken(username):
        problems.append(_username_taken(entered, taken))
    if not name:
        problems.append(("name", _("isi nama lengkap")))
    elif len(name) > 200:
        problems.append(("name", _("nama lebih dari 200 karakter")))
    if role not in ROLES:
        problems.append(("role", _("pilih admin atau pengawas")))
    problems += password_problems(password or "", username)
    if problems:
        raise FormProblems(problems)
    user = User(
        username=username, name=name, role=role, password_hash=security.hash_password(password)
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # created by someone else since the check above
        db.session.rollback()
        raise FormProblems([_username_taken(entered, _taken(username) or username)]) from None
    audit(
        actor, "user_created", reason=reason or None, user_id=user.id, username=username, role=role
    )
    db.session.commit()
    return user


def _taken(username: str) -> str | None:
    """The existing username equal to ``username`` ignoring case, if any."""
    user = find_user(username)
    return user.username if user is not None else None


def _username_taken(entered: str, existing: str) -> tuple[str, str]:
    if entered == existing:
        return ("username", _("nama pengguna %(username)s sudah dipakai", username=existing))
    return (
        "username",
        _(
            "nama pengguna %(entered)s sudah dipakai sebagai %(username)s "
            "(huruf besar dan kecil tidak dibedakan)",
            entered=entered,
            username=existing,
        ),
    )


def set_role(user_id: int, role: str, actor: str, reason: str | None) -> User:
    user = get_user(user_id)
    if role not in ROLES:
        raise FormProblems([("role", _("pilih admin atau pengawas"))])
    reason = need_reason(reason)
    if role == user.role:
        return user
    if user.role == "admin" and user.active and n_active_admins(excluding=user.id) == 0:
        raise FormProblems(
            [
                (
                    "role",
                    _(
                        "%(username)s adalah administrator aktif terakhir; jadikan pengguna lain administrator "
                        "terlebih dahulu",
                        username=user.username,
                    ),
                )
            ]
        )
    before, user.role = user.role, role
    staff_sessions.rotate(user)  # every session of the old role ends
    audit(
        actor,
        "user_role_changed",
        reason=reason,
        user_id=user.id,
        username=user.username,
        before=before,
        after=role,
    )
    db.session.commit()
    sessions.end_sockets(user.id)  # the console reconnects, is refused; the user logs in again
    return user


def reset_password(user_id: int, password: str, actor: str, reason: str | None) -> User:
    """A new password; the user's open sessions end on their next request, open sockets at once."""
    user = get_user(user_id)
    problems = password_problems(password or "", user.username)
    if problems:
        raise FormProblems(problems)
    reason = need_reason(reason)
    user.password_hash = security.hash_password(password)
    staff_sessions.rotate(user)
    # a new password: new odds, so the user's lock-out ends too (as a PIN reset does a candidate's)
    locked = lockout.lift(lockout.staff(user.username))
    audit(
        actor,
        "user_password_reset",
        reason=reason,
        user_id=user.id,
        username=user.username,
        lockout_lifted=bool(locked),
    )
    db.session.commit()
    sessions.end_sockets(user.id)
    return user


def set_active(user_id: int, active: bool, actor: str, reason: str | None) -> User:
    """Deactivated: no login, an open session stops on its next request, open sockets at once.

    Its cookies stay useless once the account is active again (a new token).
    """
    user = get_user(user_id)
    reason = need_reason(reason)
    if user.active == active:
        return user
    if not active and user.role == "admin" and n_active_admins(excluding=user.id) == 0:
        raise FormProblems(
            [
                (
                    "active",
                    _(
                        "%(username)s adalah administrator aktif terakhir; jadikan pengguna lain administrator "
                        "terlebih dahulu",
                        username=user.username,
                    ),
                )
            ]
        )
    user.active = active
    staff_sessions.rotate(user)
    audit(
        actor,
        "user_reactivated" if active else "user_deactivated",
        reason=reason,
        user_id=user.id,
        username=user.username,
    )
    db.session.commit()
    if not active:
        sessions.end_sockets(user.id)
    return user


def set_sitting_proctors(
    sitting_id: int, proctor_ids: list[int], actor: str, reason: str | None
) -> Sitting:
    """Replace the proctors of a sitting (active proctors only)."""
    sitting = get_sitting(sitting_id)
    reason = need_reason(reason)
    proctors = [db.session.get(User, i) for i in dict.fromkeys(proctor_ids)]
    if any(p is None or p.role != "proctor" or not p.active for p in proctors):
        raise FormProblems([("proctors", _("pilih pengawas yang aktif saja"))])
    before = sorted(p.username for p in sitting.proctors)
    after = sorted(p.username for p in proctors)
    if before == after:
        return sitting
    removed = {p.id for p in sitting.proctors} - {p.id for p in proctors}
    sitting.proctors[:] = proctors
    audit(
        actor,
        "sitting_proctors_changed",
        sitting_id=sitting.id,
        reason=reason,
        before=before,
        after=after,
    )
    db.session.commit()
    # a removed proctor's console may be watching this sitting: it reconnects and is re-checked
    sessions.end_sockets(*removed)
    return sitting


def create_first_admin(username: str, name: str, password: str) -> User:
    """The CLI's bootstrap: refused when an active administrator exists."""
    if n_active_admins() > 0:
        raise FormProblems(
            [("username", _("sudah ada administrator aktif; tambahkan akun lain di /admin/users"))]
        )
    return create_user(
        username,
        name,
        "admin",
        password,
        actor="cli",
        reason="first administrator (cat-server create-admin)",
    )
