"""Store and forward: each ended sitting's one bundle, kept at the centre and sent until acknowledged.

A sitting's bundle is made once (:func:`bundle_for`) and kept in its
``ResultDelivery`` row, so the file on a USB stick and the one sent over the
WAN are the same bytes. With ``CAT_NATIONAL_URL`` set, the background task
(tasks.py) sends pending bundles to ``<url>/api/v1/results``; a failure (WAN
down, national server away) is tried again after a back-off that doubles up to
``RESULTS_RETRY_MAX_S``, until the national office acknowledges the bundle's
SHA-256.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import requests
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Sitting, UTCDateTime, audit, utcnow
from . import bundle

STATUSES = ("pending", "sent", "acknowledged")


class ResultDelivery(db.Model):
    """One ended sitting's signed bundle and where it stands with the national office.

    pending: not yet received there; sent: the national server answered but did
    not acknowledge (``last_error`` says why; tried again); acknowledged: it
    holds this bundle (its SHA-256 in ``receipt``).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    sitting_id: Mapped[int] = mapped_column(sa.ForeignKey("sitting.id"), unique=True)
    bundle: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    n_tries: Mapped[int] = mapped_column(default=0)
    last_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    receipt: Mapped[str | None] = mapped_column(sa.Text)
    exported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sitting: Mapped[Sitting] = relationship()

    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'sent', 'acknowledged')", name="status"),
    )


def bundle_for(sitting_id: int, actor: str = "server") -> ResultDelivery:
    """The sitting's kept bundle, made and signed now if it has none (BundleProblem if not over)."""
    delivery = db.session.execute(
        db.select(ResultDelivery).filter_by(sitting_id=sitting_id)
    ).scalar_one_or_none()
    if delivery is not None:
        return delivery
    data = bundle.build(sitting_id)
    body = bundle.parse(data, "the new bundle")["body"]
    delivery = ResultDelivery(
        sitting_id=sitting_id, bundle=data, sha256=bundle.body_sha256(body), status="pending"
    )
    db.session.add(delivery)
    audit(actor, "results_bundled", sitting_id=sitting_id, sha256=delivery.sha256)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # another process made it first: theirs is the one
        db.session.rollback()
        return db.session.execute(
            db.select(ResultDelivery).filter_by(sitting_id=sitting_id)
        ).scalar_one()
    return delivery


def export(sitting_id: int, actor: str) -> ResultDelivery:
    """The bundle for a USB stick: the same bytes the WAN sends; the export is audited."""
    delivery = bundle_for(sitting_id, actor)
    delivery.exported_at = utcnow()
    audit(actor, "results_exported", sitting_id=sitting_id, sha256=delivery.sha256)
    db.session.commit()
    return delivery


def bundle_ended_sittings() -> int:
    """Make the bundle of every ended sitting that has none; how many were made."""
    ended = db.session.execute(
        db.select(Sitting.id)
        .outerjoin(ResultDelivery, ResultDelivery.sitting_id == Sitting.id)
        .where(Sitting.status == "ended", ResultDelivery.id.is_(None))
        .order_by(Sitting.id)
    ).scalars()
    made = 0
    for sitting_id in list(ended):
        try:
            bundle_for(sitting_id)
        except bundle.BundleProblem as problem:  # no signing key yet: said, tried next round
            db.session.rollback()
            current_app.logger.warning("no result bundle for sitting %s: %s", sitting_id, problem)
            continue
        made += 1
    return made


def send_due(now: datetime | None = None) -> int:
    """Send every bundle not yet acknowledged whose next try is due; how many were acknowledged."""
    url = current_app.config.get("NATIONAL_URL")
    if not url:
        return 0
    now = now or utcnow()
    is_due = sa.and_(
        ResultDelivery.status != "acknowledged",
        sa.or_(ResultDelivery.next_try_at.is_(None), ResultDelivery.next_try_at <= now),
    )
    due = db.session.execute(
        db.select(ResultDelivery.id).where(is_due).order_by(ResultDelivery.id)
    ).scalars()
    acknowledged = 0
    for delivery_id in list(due):
        # one process sends a bundle at a time: the others (PostgreSQL, several
        # processes) skip the row it holds until its send is committed
        delivery = db.session.execute(
            db.select(ResultDelivery)
            .where(ResultDelivery.id == delivery_id, is_due)
            .with_for_update(skip_locked=True)
        ).scalar_one_or_none()
        if delivery is None:
            db.session.rollback()
            continue
        acknowledged += send(delivery, url.rstrip("/") + "/api/v1/results", now)
    return acknowledged


def send(delivery: ResultDelivery, endpoint: str, now: datetime) -> bool:
    """POST one bundle; acknowledged when the answer names its SHA-256. Commits either way."""
    delivery.n_tries += 1
    delivery.last_try_at = now
    try:
        answer = requests.post(
            endpoint,
            data=delivery.bundle,
            headers={"Content-Type": "application/json"},
            timeout=float(current_app.config.get("RESULTS_SEND_TIMEOUT", 30)),
        )
    except requests.RequestException as error:
        _later(delivery, now, f"national server not reached: {type(error).__name__}")
        db.session.commit()
        return False
    delivery.status = "sent" if delivery.status == "pending" else delivery.status
    delivery.sent_at = delivery.sent_at or now
    try:
        reply = answer.json()
    except ValueError:
        reply = {}
    if answer.status_code == 200 and reply.get("sha256") == delivery.sha256:
        delivery.status, delivery.acknowledged_at = "acknowledged", now
        delivery.receipt = json.dumps(reply, sort_keys=True)
        delivery.next_try_at, delivery.last_error = None, None
        audit(
            "server",
            "results_acknowledged",
            sitting_id=delivery.sitting_id,
            sha256=delivery.sha256,
            national=reply.get("status"),
        )
        db.session.commit()
        return True
    why = reply.get("message_en") or reply.get("message") or answer.reason
    _later(delivery, now, f"national server answered {answer.status_code}: {why}")
    db.session.commit()
    return False


def _later(delivery: ResultDelivery, now: datetime, why: str) -> None:
    base = float(current_app.config.get("RESULTS_RETRY_S", 30))
    top = float(current_app.config.get("RESULTS_RETRY_MAX_S", 900))
    wait = min(top, base * 2 ** min(delivery.n_tries - 1, 20))
    delivery.next_try_at = now + timedelta(seconds=wait)
    delivery.last_error = why


def run_once() -> int:
    """One round of the background task: bundle the ended sittings, send what is due."""
    bundle_ended_sittings()
    return send_due()


def deliveries() -> list[tuple[Sitting, ResultDelivery | None]]:
    """Every ended sitting with its delivery (None: no bundle made yet), newest first."""
    rows = db.session.execute(
        db.select(Sitting, ResultDelivery)
        .outerjoin(ResultDelivery, ResultDelivery.sitting_id == Sitting.id)
        .where(Sitting.status == "ended")
        .order_by(Sitting.ended_at.desc(), Sitting.id.desc())
    ).all()
    return [(sitting, delivery) for sitting, delivery in rows]


def delivery_of(sitting_id: int) -> ResultDelivery | None:
    return db.session.execute(
        db.select(ResultDelivery).filter_by(sitting_id=sitting_id)
    ).scalar_one_or_none()


def file_name(delivery: ResultDelivery) -> str:
    return f"hasil-{bundle.centre_id()}-sesi-{delivery.sitting_id}.json"
