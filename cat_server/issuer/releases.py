"""The issuer's rules for a fetched release: which trusted centre gets which slot's code, and when.

An issuer instance has its private key (``CAT_ISSUER_PRIVATE_KEY_FILE``, 0600)
and a release calendar (``CAT_ISSUER_SCHEDULE``: CSV ``package_id,slot,starts_at``).
A request is answered only when it is signed by a centre trusted here
(``cat-server keys trust-centre``), fresh (``ISSUER_REQUEST_MAX_AGE_S``), never
seen before (its nonce is kept in ``IssuerRequest``), for a scheduled package
slot, and inside the slot's window: from ``ISSUER_RELEASE_BEFORE_S`` before its
start to ``ISSUER_RELEASE_AFTER_S`` after. Every answer and every refusal of a
trusted centre is audited; the code itself is never written anywhere.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..localtime import format_local, zone
from ..models import UTCDateTime, audit, utcnow
from ..results.national import trusted_centres
from ..sealed import exchange, keys
from ..sealed.release import release_code


class IssuerRequest(db.Model):
    """A trusted centre's release request as the issuer saw it; its nonce is never taken again."""

    nonce: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    centre: Mapped[str] = mapped_column(sa.String(80))
    package_id: Mapped[str] = mapped_column(sa.String(200))
    slot: Mapped[str] = mapped_column(sa.String(200))
    outcome: Mapped[str] = mapped_column(sa.String(20))  # answered | too_early | too_late | ...
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Refused(Exception):
    """A request the issuer does not answer: HTTP status, code, and why in both languages."""

    def __init__(self, status: int, code: str, message: str, message_en: str):
        super().__init__(message_en)
        self.status, self.code, self.message, self.message_en = status, code, message, message_en

    def to_dict(self) -> dict:
        return {
            "ok": False,
            "error": self.code,
            "message": self.message,
            "message_en": self.message_en,
        }


def issuer_key():
    """The issuer's private key, or Refused (404) when this instance is no issuer."""
    path = current_app.config.get("ISSUER_PRIVATE_KEY_FILE")
    if not path:
        raise Refused(
            404, "not_an_issuer", "Server ini bukan penerbit.", "This server is no issuer."
        )
    try:
        return keys.read_private_key(Path(path))
    except keys.KeyProblem as problem:
        current_app.logger.error("issuer key: %s", problem)
        raise Refused(
            503,
            "issuer_unavailable",
            "Kunci penerbit tidak terbaca.",
            "The issuer key is unreadable.",
        ) from None


def schedule() -> dict[tuple[str, str], datetime]:
    """The release calendar: (package id, slot) → the slot's start (UTC); read on every request.

    ``starts_at`` is ISO 8601; without an offset it is in the issuer's zone (CAT_TIMEZONE).
    """
    path = current_app.config.get("ISSUER_SCHEDULE")
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as error:
        raise _calendar_problem(f"cannot read {path}: {error.strerror}") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"package_id", "slot", "starts_at"} <= set(
        reader.fieldnames
    ):
        raise _calendar_problem(f"{path}: the header must name package_id, slot, starts_at")
    calendar = {}
    for row in reader:
        try:
            start = _start(row["starts_at"] or "")
        except ValueError:
            raise _calendar_problem(
                f"{path}, row {reader.line_num}, column starts_at: {row['starts_at']!r} is no "
                "time (e.g. 2026-12-07T08:00+07:00)"
            ) from None
        calendar[(row["package_id"].strip(), row["slot"].strip())] = start
    return calendar


def _start(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone())
    return moment.astimezone(UTC)


def _calendar_problem(why: str) -> Refused:
    current_app.logger.error("issuer release calendar: %s", why)
    return Refused(
        503,
        "issuer_unavailable",
        "Jadwal rilis penerbit tidak terbaca.",
        "The issuer's release calendar is unreadable.",
    )


def _centre_of(request: exchange.Request) -> tuple[str, object]:
    carried = keys.raw_public(request.public_key)
    for name, key in trusted_centres().items():
        if keys.raw_public(key) == carried:
            return name, key
    fingerprint = keys.fingerprint(request.public_key)
    audit(
        "issuer",
        "release_fetch_refused",
        reason="untrusted centre key",
        fingerprint=fingerprint,
        package=request.body["package_id"],
        slot=request.body["slot"],
    )
    db.session.commit()
    raise Refused(
        403,
        "untrusted_centre",
        f"Kunci pusat {fingerprint} tidak dipercaya penerbit (cat-server keys trust-centre).",
        f"The centre key {fingerprint} is not trusted by the issuer (cat-server keys trust-centre).",
    )


def answer(data: bytes, now: datetime | None = None) -> dict:
    """The issuer's signed answer to one request, or Refused saying why; audited either way."""
    now = now or utcnow()
    key = issuer_key()
    try:
        request = exchange.read_request(data)
    except exchange.ExchangeProblem as problem:
        raise Refused(
            400, "bad_request", f"Permintaan tidak sah: {problem}.", f"Bad request: {problem}."
        ) from None
    centre, trusted = _centre_of(request)
    body = request.body
    if not request.signed_by(trusted):
        _refuse(centre, body, "forged", "bad signature")
        raise Refused(
            403,
            "forged",
            "Tanda tangan permintaan tidak cocok dengan kunci pusat.",
            "The request's signature does not match the centre's key.",
        )
    try:
        issued = exchange.parse_utc(body["issued_at"])
    except exchange.ExchangeProblem:
        issued = None
    max_age = timedelta(seconds=float(current_app.config.get("ISSUER_REQUEST_MAX_AGE_S", 300)))
    if issued is None or abs(now - issued) > max_age:
        _refuse(centre, body, "stale", f"issued_at {body['issued_at']}")
        raise Refused(
            403,
            "stale",
            f"Permintaan dibuat {body['issued_at']}, bukan sekarang ({exchange.utc_text(now)}): "
            "periksa jam server pusat.",
            f"The request was made at {body['issued_at']}, not now ({exchange.utc_text(now)}): "
            "check the centre server's clock.",
        )
    if not _first_time(centre, body):
        raise Refused(
            409,
            "replayed",
            "Permintaan ini sudah pernah diterima (diulang): ditolak.",
            "This request was received before (a replay): refused.",
        )
    start = schedule().get((body["package_id"], body["slot"]))
    if start is None:
        _refuse(centre, body, "not_scheduled", "no such package slot in the calendar")
        raise Refused(
            404,
            "not_scheduled",
            f"Penerbit tidak menjadwalkan paket {body['package_id']} slot {body['slot']}.",
            f"The issuer has no package {body['package_id']} slot {body['slot']} in its calendar.",
        )
    opens = start - timedelta(
        seconds=float(current_app.config.get("ISSUER_RELEASE_BEFORE_S", 1800))
    )
    closes = start + timedelta(
        seconds=float(current_app.config.get("ISSUER_RELEASE_AFTER_S", 14400))
    )
    if now < opens or now > closes:
        early = now < opens
        _refuse(
            centre, body, "too_early" if early else "too_late", f"slot starts {start.isoformat()}"
        )
        raise Refused(
            403,
            "too_early" if early else "too_late",
            f"Slot {body['slot']} mulai {format_local(start)}; kode diberikan dari "
            f"{format_local(opens)} sampai {format_local(closes)}.",
            f"Slot {body['slot']} starts {format_local(start)}; its code is given from "
            f"{format_local(opens)} to {format_local(closes)}.",
        )
    code = release_code(key, body["package_id"], body["slot"])
    reply = exchange.make_answer(key, body, centre, code, now)
    _outcome(body["nonce"], "answered")
    audit(
        f"centre:{centre}",
        "release_fetched",
        package=body["package_id"],
        slot=body["slot"],
        centre_sitting=body["sitting"].get("id"),
        scheduled_at=body["sitting"].get("scheduled_at"),
    )
    db.session.commit()
    return reply


def _first_time(centre: str, body: dict) -> bool:
    """Keep the request's nonce; False if it was kept before (a replay, audited)."""
    db.session.add(
        IssuerRequest(
            nonce=body["nonce"][:64],
            centre=centre,
            package_id=body["package_id"],
            slot=body["slot"],
            outcome="received",
        )
    )
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        _refuse(centre, body, "replayed", f"nonce {body['nonce'][:64]} seen before", keep=False)
        return False
    return True


def _outcome(nonce: str, outcome: str) -> None:
    db.session.execute(
        sa.update(IssuerRequest).where(IssuerRequest.nonce == nonce[:64]).values(outcome=outcome)
    )


def _refuse(centre: str, body: dict, outcome: str, why: str, keep: bool = True) -> None:
    if keep:
        _outcome(body["nonce"], outcome)
    audit(
        f"centre:{centre}",
        "release_fetch_refused",
        reason=f"{outcome}: {why}",
        package=body["package_id"],
        slot=body["slot"],
        centre_sitting=body["sitting"].get("id"),
    )
    db.session.commit()
