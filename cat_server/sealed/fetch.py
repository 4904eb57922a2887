"""The centre fetches a sitting's release code from the issuer over the WAN (``CAT_ISSUER_URL``).

The code that comes back takes exactly the path of a typed one
(:func:`release.release`, audited ``via: fetched``). A WAN failure or a refusal
by the issuer raises :class:`FetchFailed` saying which, and stores nothing: the
proctor can still type the code read out by phone. The code is never logged.
"""

from __future__ import annotations

import requests
from flask import current_app

from ..extensions import db
from ..models import PackageRelease, Sitting, utcnow
from . import exchange, keys
from .release import ReleaseRefused, package_of, release

ENDPOINT = "/api/v1/releases"


class FetchFailed(ReleaseRefused):
    status = 502
    code = "fetch_failed"


def issuer_url() -> str:
    return (current_app.config.get("ISSUER_URL") or "").rstrip("/")


def fetch_release(sitting_id: int, actor: str) -> PackageRelease:
    """Ask the issuer for the sitting's code and release with it; FetchFailed says why not."""
    url = issuer_url()
    if not url:
        raise FetchFailed(
            "Pusat ini tidak tersambung ke penerbit (CAT_ISSUER_URL kosong): ketik kode rilis.",
            "This centre has no issuer URL (CAT_ISSUER_URL): type the release code.",
        )
    sitting = db.session.get(Sitting, sitting_id)
    package = package_of(sitting) if sitting is not None else None
    if package is None or not sitting.package_slot or sitting.status == "ended":
        return release(sitting_id, "", actor, via="fetched")  # its own refusal, said the same way
    done = db.session.get(PackageRelease, sitting.id)
    if done is not None:
        return done
    try:
        centre_key, issuer_key = keys.centre_private_key(), keys.issuer_public_key()
    except keys.KeyProblem as problem:
        raise FetchFailed(
            f"Kunci tidak tersedia untuk meminta kode: {problem}.",
            f"No key to ask for the code with: {problem}.",
        ) from None
    data, reply, body = exchange.make_request(
        centre_key,
        centre=current_app.config.get("CENTRE_ID") or "",
        package_id=package.package_id,
        slot=sitting.package_slot,
        sitting={
            "id": sitting.id,
            "scheduled_at": exchange.utc_text(sitting.scheduled_at)
            if sitting.scheduled_at
            else None,
        },
        now=utcnow(),
    )
    db.session.rollback()  # no transaction held open while the WAN answers
    answer = _post(url + ENDPOINT, data)
    try:
        code = exchange.open_answer(answer, issuer_key, body, reply)
    except exchange.ExchangeProblem as problem:
        raise FetchFailed(
            f"Jawaban penerbit tidak sah ({problem}): ketik kode rilis.",
            f"The issuer's answer is not valid ({problem}): type the release code.",
        ) from None
    return release(sitting_id, code, actor, via="fetched")


def _post(endpoint: str, data: bytes) -> dict:
    try:
        answer = requests.post(
            endpoint,
            data=data,
            headers={"Content-Type": "application/json"},
            timeout=float(current_app.config.get("ISSUER_FETCH_TIMEOUT", 10)),
        )
    except requests.RequestException as error:
        why = type(error).__name__
        raise FetchFailed(
            f"Penerbit tidak terjangkau (WAN putus? {why}): ketik kode rilis yang dibacakan "
            "penerbit lewat telepon.",
            f"The issuer cannot be reached (WAN down? {why}): type the release code the issuer "
            "reads out by phone.",
        ) from None
    try:
        document = answer.json()
    except ValueError:
        document = None
    if answer.status_code != 200 or not isinstance(document, dict):
        said = document if isinstance(document, dict) else {}
        message = said.get("message") or f"HTTP {answer.status_code}"
        message_en = said.get("message_en") or f"HTTP {answer.status_code}"
        raise FetchFailed(
            f"Penerbit menolak: {message} Kode rilis yang diketik tetap bisa dipakai.",
            f"The issuer refused: {message_en} A typed release code still works.",
        )
    return document
