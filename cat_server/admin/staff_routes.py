"""Administrator pages for staff accounts and who proctors which sitting. Thin: users.py does the work."""

from __future__ import annotations

from flask import (
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from ..extensions import db
from . import bp, sittings
from .routes import _int, _sitting_template, actor

# --- staff accounts -------------------------------------------------------------


def _users_template(problems=(), status=200, **extra):
    from . import users

    return render_template(
        "admin/users.html",
        users=users.list_users(),
        roles=users.ROLES,
        assigned=users.assigned_sittings(),
        min_password=users.min_password_length(),
        problems=list(problems),
        form=request.form,
        **{"failed": None, **extra},
    ), status


@bp.route("/users", methods=["GET", "POST"])
def users_page():
    """The staff list; POST creates an account."""
    from . import users

    if request.method == "POST":
        form = request.form
        try:
            user = users.create_user(
                form.get("username", ""),
                form.get("name", ""),
                form.get("role", ""),
                form.get("password", ""),
                actor(),
                form.get("reason", "").strip() or None,
            )
        except sittings.FormProblems as error:
            db.session.rollback()
            return _users_template(error.problems, 422, failed="create")
        flash(_("Akun %(username)s dibuat.", username=user.username), "info")
        return redirect(url_for("admin.users_page") + f"#user-{user.id}")
    return _users_template()


def _user_change(user_id, change, done):
    from . import users

    try:
        user = change(users)
    except sittings.FormProblems as error:
        db.session.rollback()
        return _users_template(error.problems, 422, failed=user_id)
    flash(done(user), "info")
    return redirect(url_for("admin.users_page") + f"#user-{user.id}")


@bp.route("/users/<int:user_id>/role", methods=["POST"])
def user_role(user_id):
    role = request.form.get("role", "")
    return _user_change(
        user_id,
        lambda users: users.set_role(user_id, role, actor(), request.form.get("reason")),
        lambda u: _("Peran %(username)s: %(role)s.", username=u.username, role=u.role),
    )


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id):
    return _user_change(
        user_id,
        lambda users: users.reset_password(
            user_id, request.form.get("password", ""), actor(), request.form.get("reason")
        ),
        lambda u: _("Kata sandi %(username)s diganti; sesi lamanya berakhir.", username=u.username),
    )


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def user_active(user_id):
    active = request.form.get("active") == "1"
    return _user_change(
        user_id,
        lambda users: users.set_active(user_id, active, actor(), request.form.get("reason")),
        lambda u: (
            _("%(username)s diaktifkan kembali.", username=u.username)
            if u.active
            else _("%(username)s dinonaktifkan: tidak dapat masuk lagi.", username=u.username)
        ),
    )


@bp.route("/sittings/<int:sitting_id>/proctors", methods=["POST"])
def sitting_proctors(sitting_id):
    from . import users

    try:
        users.set_sitting_proctors(
            sitting_id,
            [_int(p, 0) for p in request.form.getlist("proctors")],
            actor(),
            request.form.get("reason"),
        )
    except sittings.FormProblems as error:
        db.session.rollback()
        return _sitting_template(sitting_id, problems=error.problems), 422
    flash(_("Pengawas sesi disimpan."), "info")
    return redirect(url_for("admin.sitting_detail", sitting_id=sitting_id))
