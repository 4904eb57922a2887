"""Score exports (CSV/XLSX, one row an attempt), wide responses for calibration, an export's
check against the chains (the chains' own check: chains.py)."""

from __future__ import annotations

import csv
import hmac
import io
from datetime import datetime

from .. import spreadsheet
from ..errors import MAX_ID
from ..exam.chain import GENESIS, chain_key, head_signature
from ..extensions import db
from ..localtime import iso_local
from ..models import Attempt, AuditEvent, Candidate, Item, Response, Seat, Sitting
from .chains import verify_chains, verify_scores


def select_attempts(
    sitting_id: int | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> list[Attempt]:
    """Attempts of one sitting, or of sittings scheduled (or attempts made) in [from, to)."""
    query = (
        db.select(Attempt)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
    )
    if sitting_id is not None:
        query = query.where(Attempt.sitting_id == sitting_id)
    when = db.func.coalesce(Sitting.scheduled_at, Attempt.created_at)
    if date_from is not None:
        query = query.where(when >= date_from)
    if date_to is not None:
        query = query.where(when < date_to)
    return db.session.execute(query.order_by(Sitting.id, Candidate.registration_no)).scalars().all()


def score_rows(attempts: list[Attempt]) -> tuple[list[str], list[list]]:
    """Header and one row an attempt: the scores document of docs/formats.md.

    Each row carries the attempt's signed chain head (``exam.chain.head_signature``:
    whose attempt, ``chain_n`` links ending in ``chain_hash``), empty when its chain
    does not verify at the time of the export.
    """
    section_codes: list[str] = []
    for attempt in attempts:
        for section in attempt.sitting.exam.sections:
            if section.code not in section_codes:
                section_codes.append(section.code)
    header = ["registration_no", "name", "birth_date", "sitting", "exam", "seat"]
    for code in section_codes:
        header += [f"{code}_score", f"{code}_pass_mark"]
    header += [
        "total",
        "pass_total",
        "passed",
        "theta",
        "se",
        "items_answered",
        "items_total",
        "started_at",
        "finished_at",
        "status",
        "finish_reason",
        "chain_hash",
        "attempt_id",
        "chain_n",
        "chain_signature",
        "sitting_id",
        "exam_id",
    ]
    problems = verify_chains([a.id for a in attempts])[2] if attempts else []
    broken, key = {p.attempt_id for p in problems}, chain_key()
    rows = []
    for a in attempts:
        c = a.candidate
        exam = a.sitting.exam
        sections = {s.code: s for s in exam.sections}
        scores = a.section_scores or {}
        row = [
            c.registration_no,
            c.name,
            c.birth_date or "",
            a.sitting.name,
            exam.name,
            c.seat.label if c.seat else "",
        ]
        for code in section_codes:
            s = sections.get(code)
            row += [
                scores.get(code, 0) if s else "",
                s.pass_mark if s and s.pass_mark is not None else "",
            ]
        passed = "" if a.passed is None else ("yes" if a.passed else "no")
        row += [
            a.total_score,
            exam.pass_total if exam.pass_total is not None else "",
            passed,
            _num(a.theta),
            _num(a.se),
            a.n_answered,
            a.n_items,
            iso_local(a.started_at),  # with the centre's offset: 2026-12-06T20:27:05+07:00
            iso_local(a.finished_at),
            a.status,
            a.finish_reason or "",
            a.chain_head or GENESIS,
            a.id,
            a.n_responses,
            _signature(a, broken, key),
            a.sitting_id,
            exam.id,
        ]
        rows.append(row)
    return header, rows


def _signature(attempt: Attempt, broken: set[int], key: bytes) -> str:
    """The attempt's signed chain head; empty if its chain does not verify (nothing to vouch for)."""
    if attempt.id in broken:
        return ""
    return head_signature(
        key,
        attempt.id,
        attempt.candidate.registration_no,
        attempt.sitting_id,
        attempt.sitting.exam_id,
        attempt.n_responses,
        attempt.chain_head or GENESIS,
    )


def _num(x):
    return "" if x is None else round(float(x), 4)


def to_csv(header, rows) -> bytes:
    """Formula-safe CSV (spreadsheet.py), with a BOM for Excel."""
    return spreadsheet.csv_bytes(header, rows)


def wide_responses(attempts: list[Attempt]) -> tuple[list[str], list[list]]:
    """One row a person, one column an item (0/1, or category 0..k-1), empty where not shown.

    The file ``cat-server calibrate`` and the calibration page read.
    """
    ids = [a.id for a in attempts]
    if not ids:
        return ["person_id"], []
    responses = db.session.execute(
        db.select(Response.attempt_id, Response.score, Item.code, Item.option_scores, Item.position)
        .join(Item, Response.item_id == Item.id)
        .where(Response.attempt_id.in_(ids))
    ).all()
    columns: dict[str, int] = {}
    cells: dict[int, dict[str, int]] = {}
    for attempt_id, score, code, option_scores, position in sorted(
        responses, key=lambda r: r.position
    ):
        columns.setdefault(code, position)
        # Dichotomous: right/wrong; polytomous: the option's score 1..k as category 0..k-1.
        value = score - min(option_scores) if option_scores else int(score > 0)
        cells.setdefault(attempt_id, {})[code] = value
    codes = list(columns)
    header = ["person_id", *codes]
    rows = [
        [a.candidate.registration_no, *(cells.get(a.id, {}).get(c, "") for c in codes)]
        for a in attempts
        if a.id in cells
    ]
    return header, rows


RESPONSE_LOG_HEADER = [
    "registration_no",
    "attempt_id",
    "n",
    "seq",
    "item_code",
    "item_id",
    "choice",
    "score",
    "answered_at",
    "answered_at_utc",
    "prev_hash",
    "hash",
    "sitting_id",
    "exam_id",
]


def response_log(attempts: list[Attempt]) -> tuple[list[str], list[list]]:
    """One row a stored response, in the order written: what a third party reconciles.

    Every change of an answer is its own row (``n`` counts them per attempt);
    ``prev_hash`` and ``hash`` are the chain's (docs/formats.md says how to check it);
    the first ``prev_hash`` is the attempt's genesis, of its registration number,
    ``sitting_id`` and ``exam_id``.
    """
    ids = [a.id for a in attempts]
    numbers = {a.id: a.candidate.registration_no for a in attempts}
    whose = {a.id: (a.sitting_id, a.sitting.exam_id) for a in attempts}
    rows = []
    if ids:
        for r, code in db.session.execute(
            db.select(Response, Item.code)
            .join(Item, Response.item_id == Item.id)
            .where(Response.attempt_id.in_(ids))
            .order_by(Response.attempt_id, Response.n)
        ):
            rows.append(
                [
                    numbers[r.attempt_id],
                    r.attempt_id,
                    r.n,
                    r.seq,
                    code,
                    r.item_id,
                    r.choice,
                    r.score,
                    iso_local(r.answered_at),
                    r.answered_at.isoformat(),  # the exact text the hash covers
                    r.prev_hash,
                    r.hash,
                    *whose[r.attempt_id],  # with the number, what the genesis covers
                ]
            )
    return list(RESPONSE_LOG_HEADER), rows


def check_export(data: bytes, filename: str) -> tuple[int, list[str]]:
    """Check a score export against the key and the database: (rows, problems).

    Every row must carry a signature of its ``attempt_id``, ``registration_no``,
    ``sitting_id``, ``exam_id``, ``chain_n`` and ``chain_hash`` under this server's chain key, and the attempt's chain in
    the database must verify and still end at the same ``chain_n`` and head:
    this finds a chain cut short since the export, which verifies on its own.
    The scores, pass/fail and status, which the signature does not cover, must
    equal the database's: a total raised in the file, or in the database since
    the export, is named; and the database's must be those recomputed from the
    chain (:func:`verify_scores`).
    """
    key, problems = chain_key(), []
    rows = _export_rows(data, filename)
    ids = [int(r["attempt_id"]) for r in rows if str(r.get("attempt_id") or "").isdigit()]
    now = {
        a: (n, head)
        for a, n, head in db.session.execute(
            db.select(Attempt.id, Attempt.n_responses, Attempt.chain_head).where(
                Attempt.id.in_(ids)
            )
        )
    }
    broken = {p.attempt_id for p in verify_chains(ids)[2]} if ids else set()
    attempts = {
        a.id: a for a in db.session.execute(db.select(Attempt).where(Attempt.id.in_(ids))).scalars()
    }
    for number, r in enumerate(rows, start=2):
        where = f"{filename} row {number} (registration {r.get('registration_no')})"
        n, head = str(r.get("chain_n")), str(r.get("chain_hash"))
        attempt_id = str(r.get("attempt_id"))
        whose = [str(r.get(c)) for c in ("sitting_id", "exam_id")]
        signed = attempt_id.isdigit() and n.isdigit() and all(w.isdigit() for w in whose)
        if signed:
            registration_no = spreadsheet.restore_cell(str(r.get("registration_no")))
            good = head_signature(
                key, int(attempt_id), registration_no, *map(int, whose), int(n), head
            )
            signed = hmac.compare_digest(good, str(r.get("chain_signature") or ""))
        if not signed:
            problems.append(
                f"{where}: not signed by this chain key: the row was changed, the chain did "
                "not verify at the export, or another key made it"
            )
            continue
        if int(attempt_id) not in now:
            problems.append(f"{where}: attempt {attempt_id} is no longer in the database")
            continue
        n_now, head_now = now[int(attempt_id)]
        if (n_now, head_now or GENESIS) != (int(n), head):
            problems.append(
                f"{where}: attempt {attempt_id} had {n} responses ending in {head[:12]}... at "
                f"the export, now {n_now} ending in {(head_now or GENESIS)[:12]}...: "
                "responses were removed or added since"
            )
        elif int(attempt_id) in broken:
            problems.append(f"{where}: attempt {attempt_id}'s chain no longer verifies")
        else:  # the signature does not cover scores: the database is the witness
            problems += [
                f"{where}: {column} is {got!r} in the file but {want!r} in the database"
                for column, got, want in _score_differences(r, attempts[int(attempt_id)])
            ]
    if ids:
        problems += [str(p) for p in verify_scores(ids)[1]]
    return len(rows), problems


def _cell(value) -> str:
    """A score cell as text, the same from CSV (defused text) and XLSX (numbers)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return spreadsheet.restore_cell(str(value))


def _score_differences(row: dict, attempt: Attempt):
    """(column, in the file, in the database) for each score, pass/fail or status that differs."""
    header, (values,) = score_rows([attempt])
    for column, want in zip(header, values, strict=True):
        checked = column.endswith("_score") or column in ("total", "passed", "status")
        if checked and column in row and _cell(row[column]) != _cell(want):
            yield column, _cell(row[column]), _cell(want)


def _export_rows(data: bytes, filename: str) -> list[dict]:
    if filename.lower().endswith(".xlsx"):
        import openpyxl

        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        # the rows are the sheet "scores" (score_sheet.py); before the print sheets, the only one
        sheet = book["scores"] if "scores" in book.sheetnames else book.active
        header, *values = list(sheet.iter_rows(values_only=True))
        return [dict(zip(header, v, strict=False)) for v in values]
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def sittings_for_export():
    return (
        db.session.execute(
            db.select(Sitting).order_by(Sitting.scheduled_at.desc().nulls_last(), Sitting.id.desc())
        )
        .scalars()
        .all()
    )


def seat_label(seat: Seat | None) -> str:
    return seat.label if seat else ""


# who made an audit row: "user:3" (staff), "candidate:17", "server", "demo", ...
AUDIT_WHO = ("all", "staff", "candidates", "server", "addresses")


def audit_events(who="all", action="", sitting_id=None, before=None, limit=100):
    """Audit rows newest first, older than ``before`` (an id), filtered; at most ``limit``."""
    query = db.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if who == "staff":
        query = query.where(AuditEvent.actor.startswith("user:"))
    elif who == "candidates":
        query = query.where(AuditEvent.actor.startswith("candidate:"))
    elif who == "addresses":  # failed logins, lock-outs, refusals: by client address
        query = query.where(AuditEvent.actor.startswith("address:"))
    elif who == "server":
        query = query.where(
            ~AuditEvent.actor.startswith("user:"), ~AuditEvent.actor.startswith("candidate:")
        )
    if action:
        query = query.where(AuditEvent.action == action)
    if sitting_id is not None and 0 < sitting_id <= MAX_ID:
        query = query.where(AuditEvent.sitting_id == sitting_id)
    if before is not None and 0 < before <= MAX_ID:
        query = query.where(AuditEvent.id < before)
    return db.session.execute(query).scalars().all()
