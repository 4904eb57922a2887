"""Proctor pages. Thin: services do the work."""

from flask import render_template
from flask_login import current_user, login_required

from ..errors import Forbidden
from . import bp, service


@bp.route("/")
@login_required
def index():
    if not service.is_staff(current_user):
        raise Forbidden()
    return render_template("proctor/index.html", sittings=service.visible_sittings(current_user))


@bp.route("/sittings/<int:sitting_id>")
@login_required
def sitting(sitting_id):
    sitting = service.get_watchable(sitting_id)
    return render_template("proctor/sitting.html", sitting=sitting)
