"""Staff login (administrators and proctors)."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import security
from .extensions import db, login_limits, login_manager
from .models import User, audit

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Silakan masuk sebagai pengawas atau administrator."


@login_manager.user_loader
def load_user(user_id):
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.active else None


def authenticate(username: str, password: str) -> User | None:
    user = db.session.execute(
        db.select(User).where(User.username == username.strip())
    ).scalar_one_or_none()
    if user is None or not user.active or not security.verify(user.password_hash, password):
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@login_limits("username")
def login():
    if request.method == "POST":
        user = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("Nama pengguna atau kata sandi salah. / Wrong username or password.", "error")
            return render_template("login.html"), 401
        login_user(user)
        audit(f"user:{user.id}", "login")
        db.session.commit()
        return redirect(url_for("proctor.index"))
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/")
def home():
    if current_user.is_authenticated:
        return redirect(url_for("proctor.index"))
    return render_template("home.html")
