"""Administration: item banks, exams, sittings, candidates, scores, audit (admin role only)."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import (  # noqa: E402,F401  (register on import)
    calibration_routes,
    exam_routes,
    package_routes,
    preview_routes,
    routes,
    staff_routes,
    words,
)
