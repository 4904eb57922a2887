"""The national office's side: trusted centre keys, and bundles merged into one score table.

A bundle is taken only when it verifies (bundle.verify) against the key
trusted for its centre (``cat-server keys trust-centre``). Its identity is
(centre, the centre's sitting id); the SHA-256 of its canonical body tells a
re-import (the same bundle: nothing changes) from a changed one (refused,
audited, nothing written). A bundle's rows are written in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Mapped, mapped_column

from .. import spreadsheet
from ..extensions import db
from ..localtime import iso_local
from ..models import UTCDateTime, audit, utcnow
from ..sealed import keys
from . import bundle

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class ResultBundle(db.Model):
    """One centre's bundle for one sitting, as the national office took it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    centre: Mapped[str] = mapped_column(sa.String(80))  # the trusted name
    centre_fingerprint: Mapped[str] = mapped_column(sa.String(64))
    centre_claimed_id: Mapped[str] = mapped_column(sa.String(200))  # CAT_CENTRE_ID there
    sitting_ref: Mapped[int]  # the sitting's id at the centre
    sitting_name: Mapped[str] = mapped_column(sa.String(200))
    package_id: Mapped[str | None] = mapped_column(sa.String(200))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    n_attempts: Mapped[int]
    via: Mapped[str] = mapped_column(sa.String(10))  # file | wan
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("centre", "sitting_ref"),)


class NationalScore(db.Model):
    """One attempt in the national score table, the centre named on the row."""

    id: Mapped[int] = mapped_column(primary_key=True)
    bundle_id: Mapped[int] = mapped_column(sa.ForeignKey("result_bundle.id"), index=True)
    centre: Mapped[str] = mapped_column(sa.String(80))
    sitting_ref: Mapped[int]
    attempt_ref: Mapped[int]
    registration_no: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    exam: Mapped[str] = mapped_column(sa.String(200))
    section_scores: Mapped[dict] = mapped_column(sa.JSON)
    total: Mapped[int]
    passed: Mapped[bool | None]
    status: Mapped[str] = mapped_column(sa.String(12))
    finish_reason: Mapped[str | None] = mapped_column(sa.String(20))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    chain_head: Mapped[str] = mapped_column(sa.String(64))

    __table_args__ = (sa.UniqueConstraint("centre", "sitting_ref", "attempt_ref"),)


class Refused(Exception):
    """A bundle the national office does not take; ``status`` for HTTP, the message says why."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass
class Outcome:
    """What an import did: ``imported`` (rows written) or ``already`` (the same bundle: a no-op)."""

    status: str
    centre: str
    sitting_ref: int
    sha256: str
    n_rows: int
    imported_at: datetime

    def to_dict(self) -> dict:
        return {
            "ok": True,
            "status": self.status,
            "centre": self.centre,
            "sitting": self.sitting_ref,
            "sha256": self.sha256,
            "rows": self.n_rows,
            "imported_at": iso_local(self.imported_at),
        }


# --- trusted centre keys -------------------------------------------------------------


def centres_dir() -> Path:
    configured = current_app.config.get("CENTRE_KEYS_DIR")
    return Path(configured or Path(current_app.instance_path) / "keys" / "centres")


def trust_centre(name: str, source: Path):
    """Trust ``source`` (a PEM Ed25519 public key) as centre ``name``'s; never replaces a key."""
    if not NAME.match(name):
        raise keys.KeyProblem(
            f"{name!r} is no centre name: letters, digits, '.', '_', '-', up to 80, e.g. UPT-JAKARTA"
        )
    key = keys.read_public_key(source)
    for other, known in trusted_centres().items():
        if keys.raw_public(known) == keys.raw_public(key) and other != name:
            raise keys.KeyProblem(f"this key is trusted already, as centre {other}")
        if other == name and keys.raw_public(known) != keys.raw_public(key):
            raise keys.KeyProblem(
                f"centre {name} is trusted already with another key ({keys.fingerprint(known)}); "
                f"remove {centres_dir() / (name + '.pub')} first if the centre has a new key"
            )
    folder = centres_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / f"{name}.pub").write_bytes(keys.public_pem(key))
    return key


def trusted_centres() -> dict:
    folder = centres_dir()
    if not folder.is_dir():
        return {}
    return {path.stem: keys.read_public_key(path) for path in sorted(folder.glob("*.pub"))}


def centre_of(document: dict):
    """The trusted (name, key) of the key a bundle carries; Refused (403) for an unknown signer."""
    try:
        carried = keys.load_public_key(
            str(document["signature"].get("public_key", "")).encode(), "the bundle's key"
        )
    except keys.KeyProblem as problem:
        raise Refused(str(problem)) from None
    for name, key in trusted_centres().items():
        if keys.raw_public(key) == keys.raw_public(carried):
            claimed = str((document.get("body") or {}).get("centre", {}).get("id", ""))
            if claimed != name:  # one centre's results re-signed by another: refused
                raise Refused(
                    f"the bundle says it comes from {claimed!r} but is signed by the key "
                    f"trusted as {name!r}",
                    status=403,
                )
            return name, key
    raise Refused(
        f"signed by {keys.fingerprint(carried)}, a key no centre is trusted with here "
        "(cat-server keys trust-centre NAME PUB.pem)",
        status=403,
    )


# --- merging -----------------------------------------------------------------------------


def import_bundle(data: bytes, where: str, via: str = "file") -> Outcome:
    """Verify and merge one bundle; the same bundle again is a no-op, a changed one is Refused."""
    try:
        document = bundle.parse(data, where)
    except bundle.BundleProblem as problem:
        raise Refused(str(problem)) from None
    centre, key = centre_of(document)
    checked = bundle.verify(data, where, trusted=key)
    if not checked.ok:
        raise Refused(f"{where} does not verify: " + "; ".join(checked.problems))
    body = checked.body
    sitting_ref = int(body["sitting"]["id"])
    before = _bundle(centre, sitting_ref)
    if before is not None:
        return _again(before, checked.sha256, where)
    stored = ResultBundle(
        centre=centre,
        centre_fingerprint=checked.fingerprint,
        centre_claimed_id=str(body["centre"]["id"])[:200],
        sitting_ref=sitting_ref,
        sitting_name=str(body["sitting"]["name"])[:200],
        package_id=body.get("package_id"),
        sha256=checked.sha256,
        n_attempts=len(body["attempts"]),
        via=via,
    )
    db.session.add(stored)
    db.session.flush()
    exam = body["sitting"]["exam"]["name"]
    for attempt in body["attempts"]:
        db.session.add(_row(stored, exam, attempt))
    audit(
        "national",
        "results_imported",
        reason=f"{centre} sitting {sitting_ref}",
        sha256=checked.sha256,
        rows=len(body["attempts"]),
        via=via,
    )
    try:
        db.session.commit()
    except sa.exc.IntegrityError:  # the same bundle arrived twice at once: the other one won
        db.session.rollback()
        before = _bundle(centre, sitting_ref)
        if before is None:
            raise
        return _again(before, checked.sha256, where)
    return Outcome("imported", centre, sitting_ref, checked.sha256, len(body["attempts"]), utcnow())


def _bundle(centre: str, sitting_ref: int) -> ResultBundle | None:
    return db.session.execute(
        db.select(ResultBundle).filter_by(centre=centre, sitting_ref=sitting_ref)
    ).scalar_one_or_none()


def _again(before: ResultBundle, sha256: str, where: str) -> Outcome:
    if before.sha256 == sha256:
        return Outcome("already", before.centre, before.sitting_ref, sha256, 0, before.imported_at)
    message = (
        f"{where}: centre {before.centre} sent sitting {before.sitting_ref} before "
        f"(imported {iso_local(before.imported_at)}, SHA-256 {before.sha256[:16]}…); "
        f"this bundle differs (SHA-256 {sha256[:16]}…): refused, the table keeps the first"
    )
    audit(
        "national",
        "results_refused",
        reason=message,
        centre=before.centre,
        sitting_ref=before.sitting_ref,
        sha256=sha256,
    )
    db.session.commit()
    raise Refused(message, status=409)


def _row(bundle: ResultBundle, exam: str, attempt: dict) -> NationalScore:
    scores = attempt["scores"]
    return NationalScore(
        bundle_id=bundle.id,
        centre=bundle.centre,
        sitting_ref=bundle.sitting_ref,
        attempt_ref=int(attempt["attempt_id"]),
        registration_no=str(attempt["registration_no"]),
        name=str(attempt["name"]),
        exam=exam,
        section_scores={s["code"]: s["score"] for s in scores["sections"]},
        total=int(scores["total"]),
        passed=scores["passed"],
        status=str(attempt["status"]),
        finish_reason=attempt.get("finish_reason"),
        started_at=_time(attempt.get("started_at")),
        finished_at=_time(attempt.get("finished_at")),
        chain_head=attempt["chain"]["head"],
    )


def _time(value: dict | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value["utc"].replace("Z", "+00:00"))


# --- the national table -----------------------------------------------------------------


def table() -> tuple[list[str], list[list]]:
    """Header and rows of the merged table: one attempt a row, the centre first."""
    rows = (
        db.session.execute(
            db.select(NationalScore).order_by(
                NationalScore.centre, NationalScore.sitting_ref, NationalScore.registration_no
            )
        )
        .scalars()
        .all()
    )
    codes: list[str] = []
    for row in rows:
        codes += [c for c in row.section_scores if c not in codes]
    header = ["centre", "sitting", "registration_no", "name", "exam", *codes]
    header += ["total", "passed", "status", "finish_reason", "started_at", "finished_at"]
    header += ["chain_head"]
    out = []
    for r in rows:
        passed = "" if r.passed is None else ("yes" if r.passed else "no")
        out.append(
            [r.centre, r.sitting_ref, r.registration_no, r.name, r.exam]
            + [r.section_scores.get(c, "") for c in codes]
            + [r.total, passed, r.status, r.finish_reason or ""]
            + [iso_local(r.started_at), iso_local(r.finished_at), r.chain_head]
        )
    return header, out


def table_bytes(fmt: str) -> bytes:
    header, rows = table()
    if fmt == "xlsx":
        return spreadsheet.xlsx_bytes(header, rows, "national scores")
    return spreadsheet.csv_bytes(header, rows)
