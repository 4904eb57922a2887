"""Administration: item banks, exams, sittings, candidates, scores, audit (admin role only)."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import routes  # noqa: E402,F401  (register on import)
