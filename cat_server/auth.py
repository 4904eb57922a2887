"""Staff login (administrators and proctors)."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import security, staff_sessions
from .extensions import db, login_manager
from .lockout import login_limits, staff_named
from .models import User, audit

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Silakan masuk sebagai pengawas atau administrator."


@login_manager.user_loader
def load_user(session_id):
    """The session's user while active, with the user's current token, and not idle."""
    user_id, _, token = str(session_id).partition(":")
    if not user_id.isdigit() or len(user_id) > 12:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not staff_sessions.holds(user, token):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site ("/admin/banks?x=1"), else None.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers
    read ``/\\host`` as ``//host``), and control characters.
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if (
        target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in target)
    ):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def find_user(username: str) -> User | None:
    """The account named ``username``, whatever its case ("Pengawas1" is "pengawas1").

    Names are unique ignoring case (an index on lower(username)), so at most one matches.
    """
    name = (username or "").strip().lower()
    if not name:
        return None
    return (
        db.session.execute(
            db.select(User).where(db.func.lower(User.username) == name).order_by(User.id)
        )
        .scalars()
        .first()
    )


def authenticate(username: str, password: str) -> User | None:
    """The active user with this name and password, else None.

    An unknown or inactive name costs the same argon2 verify as a real one (against
    a dummy hash), so the answer's timing does not tell which usernames exist.
    """
    user = find_user(username)
    if user is None or not user.active:
        security.verify(security.dummy_password_hash(), password)
        return None
    return user if security.verify(user.password_hash, password) else None


@bp.route("/login", methods=["GET", "POST"])
@login_limits(staff_named)
def login():
    if request.method == "POST":
        user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("Nama pengguna atau kata sandi salah. / Wrong username or password.", "error")
            return render_template("login.html"), 401
        staff_sessions.begin(user)  # the server's idle clock starts (cookie: the user's token)
        login_user(user)
        audit(f"user:{user.id}", "login")
        db.session.commit()
        return redirect(
            safe_next(request.form.get("next") or request.args.get("next"))
            or url_for("proctor.index")
        )
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Every session of the user ends: a copy of the cookie too, and the open consoles."""
    user = current_user._get_current_object()
    staff_sessions.rotate(user)
    audit(f"user:{user.id}", "logout")
    db.session.commit()
    logout_user()  # Flask-Login's user_logged_out: proctor/sessions.py ends the consoles
    return redirect(url_for("auth.login"))


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("proctor.index"))
    return render_template("home.html")
