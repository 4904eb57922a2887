"""Score exports (CSV/XLSX, one row an attempt), wide responses for calibration, chain checks."""

from __future__ import annotations

import csv
import hmac
import io
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from .. import spreadsheet
from ..errors import MAX_ID
from ..exam.chain import GENESIS, chain_hash, chain_key, genesis, head_signature, key_source
from ..exam.scoring import rescore_all
from ..extensions import db, socketio
from ..localtime import SECONDS, format_local, iso_local
from ..models import Attempt, AuditEvent, Candidate, Item, Response, Seat, Sitting


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


# --- the response chain -------------------------------------------------------


@dataclass(frozen=True)
class ChainProblem:
    attempt_id: int
    registration_no: str
    sitting: str
    seq: int | None
    response_id: int | None
    message: str

    def __str__(self):
        where = (
            f"attempt {self.attempt_id} (registration {self.registration_no}, "
            f"sitting {self.sitting!r})"
        )
        if self.seq is not None:
            where += f", response seq {self.seq} (row id {self.response_id})"
        return f"{where}: {self.message}"


# one attempt's rows in chain order, as plain tuples (an ORM object each cost more CPU)
_CHAIN_ROWS = (
    db.select(
        Response.id,
        Response.n,
        Response.seq,
        Response.item_id,
        Response.choice,
        Response.score,
        Response.answered_at,
        Response.prev_hash,
        Response.hash,
    )
    .where(Response.attempt_id == db.bindparam("attempt"))
    .order_by(Response.n)
)


def verify_chains(attempt_ids: list[int] | None = None) -> tuple[int, int, list[ChainProblem]]:
    """Recompute every attempt's hash chain; return (attempts, responses, problems).

    The chain is checked in the order it was written, ``Response.n`` = 1, 2, ...
    (not seq order: a navigable section is answered in any order, and a changed
    answer is a new row for the same seq). Each row's ``prev_hash`` must be the
    hash of the row before it (64 zeros for the first), each row's fields must
    give its stored hash, ``n`` must run 1..N without a gap, N must be the
    attempt's ``n_responses``, and the attempt's ``chain_head`` the last hash.
    Every departure is a problem naming what it shows: an altered row, a
    deleted row, reordered rows, a changed chain head.

    The first row's ``prev_hash`` (with no rows, the head) must be the attempt's
    genesis (``exam.chain.genesis``) for the registration number, sitting and
    exam it now belongs to: an attempt moved to another candidate is a problem.
    64 zeros instead (a chain from before the binding) pass only up to
    ``CHAIN_UNBOUND_UNTIL`` (or ``CHAIN_UNKEYED_UNTIL``).

    Hashes are HMACs under the chain key (exam/chain.py). A row whose hash is
    the plain, unkeyed SHA-256 of its fields passes only in an attempt up to
    ``CHAIN_UNKEYED_UNTIL`` (written before the key existed) and before any
    keyed row; anywhere else it is what someone who can write the database but
    lacks the key would make, and a problem.
    """
    query = (
        db.select(
            Attempt.id,
            Attempt.chain_head,
            Attempt.n_responses,
            Candidate.registration_no,
            Sitting.name,
            Attempt.sitting_id,
            Sitting.exam_id,
        )
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
        .order_by(Attempt.id)
    )
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(attempt_ids))
    key, unkeyed_until, unbound_until = chain_key(), *legacy_until()
    problems: list[ChainProblem] = []
    n_attempts = n_responses = 0
    for attempt_id, head, counted, reg, sitting, sitting_id, exam_id in db.session.execute(
        query
    ).all():
        n_attempts += 1
        socketio.sleep(0)  # a long check lets the exam's sockets in between attempts
        rows = db.session.execute(_CHAIN_ROWS, {"attempt": attempt_id}).all()
        n_responses += len(rows)
        unkeyed = attempt_id <= unkeyed_until
        start = genesis(key, attempt_id, reg, sitting_id, exam_id)
        first = rows[0].prev_hash if rows else (head or GENESIS)
        if first == GENESIS and attempt_id <= unbound_until:
            start = GENESIS  # a chain from before the binding
        found = _chain_problems(attempt_id, head or GENESIS, counted, rows, key, unkeyed, start)
        for r, message in found:
            seq, row_id = (r.seq, r.id) if r is not None else (None, None)
            problems.append(ChainProblem(attempt_id, reg, sitting, seq, row_id, message))
    return n_attempts, n_responses, problems


def legacy_until() -> tuple[int, int]:
    """The highest attempt ids whose chains may be unkeyed, and unbound (docs/admin.md)."""
    unkeyed = int(current_app.config.get("CHAIN_UNKEYED_UNTIL") or 0)
    return unkeyed, max(unkeyed, int(current_app.config.get("CHAIN_UNBOUND_UNTIL") or 0))


def verify_scores(attempt_ids: list[int] | None = None):
    """Recompute finished attempts' scores (exam/scoring.py): (attempts, problems, taken as stored).

    Each stored section score, total, pass/fail and theta that differs from
    the recomputation from the attempt's chained responses is a problem.
    """
    until = int(current_app.config.get("SCORES_UNKEPT_UNTIL") or 0)
    n, found, unchecked = rescore_all(attempt_ids, until)
    return n, [ChainProblem(a, reg, s, None, None, says) for a, reg, s, says in found], unchecked


def verify_report() -> dict:
    """What the dashboard's verify page shows: the counts, the problems, which key, old attempts."""
    n_attempts, n_responses, problems = verify_chains()
    n_scored, wrong, unchecked = verify_scores()
    return {
        "n_attempts": n_attempts,
        "n_responses": n_responses,
        "n_scored": n_scored,
        "n_unchecked": len(unchecked),
        "problems": sorted(problems + wrong, key=lambda p: p.attempt_id),
        "key": key_source(),
        "unkeyed_until": current_app.config.get("CHAIN_UNKEYED_UNTIL") or 0,
    }


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


def _chain_problems(
    attempt_id: int,
    head: str,
    counted: int,
    rows: list[Response],
    key: bytes,
    unkeyed: bool,
    start: str,
):
    """(row or None, message) for each departure of one attempt's rows (in ``n`` order).

    ``unkeyed``: rows with the plain SHA-256 may open this attempt's chain;
    ``start``: the first row's ``prev_hash`` (the attempt's genesis).
    """
    found = []
    plain = []  # rows with the plain SHA-256 where only keyed ones may be
    first = rows[0].prev_hash if rows else head
    if first != start and first not in {r.hash for r in rows}:
        legacy = first == GENESIS and start != GENESIS
        found.append(
            (
                rows[0] if rows else None,
                "not this candidate's chain: it does not start at the genesis of this attempt, "
                "registration number, sitting and exam: the attempt was moved to another "
                "candidate, the candidate's number, sitting or exam was changed, or its first "
                "rows were deleted"
                + (
                    "; or it began before chains named their candidate (then raise "
                    "CAT_CHAIN_UNBOUND_UNTIL to its id, docs/admin.md)"
                    if legacy
                    else ""
                ),
            )
        )
        start = first  # the rest is checked as a chain of its own
    position = {start: 0} | {r.hash: r.n for r in rows}  # where each hash is now
    prev, expected_n = start, 1
    for r in rows:
        if r.n > expected_n:
            gap = f"n {expected_n}" if r.n == expected_n + 1 else f"n {expected_n} to {r.n - 1}"
            found.append((r, f"the chain's {gap}, before this row, is missing: rows were deleted"))
        elif r.n < expected_n:
            found.append((r, f"n {r.n} appears twice: a row was inserted"))
        elif r.prev_hash != prev:
            if position.get(r.prev_hash, r.n) != r.n:
                found.append(
                    (
                        r,
                        f"out of order: it follows the row now at n {position[r.prev_hash]}, "
                        f"not n {r.n - 1}: rows were reordered",
                    )
                )
            else:
                found.append(
                    (
                        r,
                        "its prev_hash is no row's hash: the row before it was altered or "
                        "deleted, or this row was inserted",
                    )
                )
        fields = (r.prev_hash, attempt_id, r.seq, r.item_id, r.choice, r.score, r.answered_at)
        if chain_hash(*fields, key=key) == r.hash:
            unkeyed = False  # once keyed, keyed to the end
        elif chain_hash(*fields, key=None) == r.hash:
            if not unkeyed:
                plain.append(r)
        else:
            found.append(
                (
                    r,
                    f"altered: its fields (item {r.item_id}, choice {r.choice}, score {r.score}, "
                    f"answered at {format_local(r.answered_at, SECONDS)}) do not give its "
                    "stored hash, under the chain key or unkeyed",
                )
            )
        prev, expected_n = r.hash, r.n + 1
    if plain:
        others = f" (and {len(plain) - 1} rows after it)" if len(plain) > 1 else ""
        found.append(
            (
                plain[0],
                f"unkeyed: this row{others} carries the plain SHA-256 of its fields, which "
                "anyone who can write the database can recompute, not the HMAC under the "
                "chain key: a rewrite, unless the attempt was made before the key existed "
                "(then raise CAT_CHAIN_UNKEYED_UNTIL to its id, docs/admin.md)",
            )
        )
    if head != prev:
        found.append(
            (
                None,
                "the attempt's chain head is not its last response's hash: the head was "
                "changed, or responses were removed or added",
            )
        )
    if counted != len(rows):
        found.append(
            (
                None,
                f"the attempt counts {counted} responses but its chain has {len(rows)}: "
                "responses were removed or added",
            )
        )
    return found


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
