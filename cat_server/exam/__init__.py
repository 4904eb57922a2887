"""Exams, sittings and attempts: delivery, timing, scoring, candidate pages and events."""

from flask import Blueprint

bp = Blueprint("exam", __name__)

from . import events, routes  # noqa: E402,F401  (register on import)
