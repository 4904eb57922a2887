"""``POST /api/v1/releases``: a centre's signed request for a release code, answered by the issuer."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..extensions import csrf, db
from . import releases

api_bp = Blueprint("issuer_api", __name__)
csrf.exempt(api_bp)  # no cookie is credentials here: the request's own signature is

MAX_REQUEST = 16 * 1024


@api_bp.post("/api/v1/releases")
def answer_release():
    """The release code sealed to the asking centre, or why not (docs/packages.md)."""
    request.max_content_length = MAX_REQUEST
    try:
        answer = releases.answer(request.get_data(cache=False))
    except releases.Refused as refused:
        db.session.rollback()
        return jsonify(refused.to_dict()), refused.status
    return jsonify(answer)
