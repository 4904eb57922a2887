"""Live console, proctor actions, score board, status fan-out."""

from flask import Blueprint

bp = Blueprint("proctor", __name__)

from . import board, events, feed, routes  # noqa: E402,F401  (register on import)
