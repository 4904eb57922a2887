"""Live console, proctor actions, status fan-out."""

from flask import Blueprint

bp = Blueprint("proctor", __name__)

from . import events, routes  # noqa: E402,F401  (register on import)
