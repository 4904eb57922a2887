"""Candidates: the enrolment CSV (validated whole), PINs and the PIN slips' CSV."""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from datetime import date, datetime

from .. import lockout, security, spreadsheet
from ..exam import sessions as candidate_sessions
from ..exam.signals import announce_seat
from ..extensions import db
from ..itembank.formats import BankFormatError, BankFormatProblem
from ..itembank.formats.problems import Problems
from ..itembank.formats.text import decode_text
from ..models import (
    Candidate,
    Seat,
    Sitting,
    audit,
)
from .sittings import _, get_sitting, need_reason

CANDIDATE_COLUMNS = ("registration_no", "name", "birth_date", "sitting", "seat")
REQUIRED_CANDIDATE_COLUMNS = ("registration_no", "name", "sitting", "seat")
MAX_CANDIDATE_ROWS = 10000


@dataclass(frozen=True)
class NewCandidate:
    """One imported candidate with the PIN printed on the slip (stored only as a hash)."""

    registration_no: str
    name: str
    birth_date: str | None
    sitting_id: int
    sitting_name: str
    room: str
    scheduled_at: datetime | None
    seat: str
    pin: str


def import_candidates(data: bytes | str, filename: str, actor: str) -> list[NewCandidate]:
    """Check the whole candidates CSV, then enrol every row with a new PIN; all or none.

    Raises BankFormatError listing every problem by file, row and column.
    Seats named in the ``seat`` column are created when the sitting has none of that label.
    """
    problems: list[BankFormatProblem] = []

    def bad(row, column, message):
        problems.append(BankFormatProblem(filename, row, column, message))

    def fail():
        raise BankFormatError(problems[:50], len(problems))

    text = decode_text(data, Problems(filename))  # UTF-8 (BOM dropped), no NUL bytes, not empty
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as e:  # e.g. a cell longer than the csv module's field limit
        bad(
            None,
            None,
            _("CSV tidak terbaca dekat baris %(n)s: %(error)s", n=reader.line_num, error=e),
        )
        fail()
    header = [h.strip().lower() for h in rows[0]]
    for position, column in enumerate(header, start=1):
        if column not in CANDIDATE_COLUMNS:
            guess = difflib.get_close_matches(column, CANDIDATE_COLUMNS, n=1)
            bad(
                1,
                column or f"#{position}",
                _(
                    "kolom %(column)s tidak dikenal (kolom ke-%(n)s di judul)",
                    column=repr(column),
                    n=position,
                )
                + "; "
                + (
                    _("maksudnya %(guess)s?", guess=repr(guess[0]))
                    if guess
                    else _(
                        "yang dikenal: %(columns)s", columns=", ".join(map(repr, CANDIDATE_COLUMNS))
                    )
                ),
            )
        elif header.count(column) > 1 and header.index(column) != position - 1:
            bad(1, column, _("kolom %(column)s muncul dua kali di judul", column=repr(column)))
    for column in REQUIRED_CANDIDATE_COLUMNS:
        if column not in header:
            bad(1, column, _("kolom wajib %(column)s tidak ada", column=repr(column)))
    if problems:
        fail()
    body = [(n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not body:
        bad(2, None, _("tidak ada peserta: berkas hanya berisi judul"))
        fail()
    if len(body) > MAX_CANDIDATE_ROWS:
        bad(
            None,
            None,
            _(
                "%(n)s peserta; paling banyak %(max)s dalam satu berkas",
                n=len(body),
                max=MAX_CANDIDATE_ROWS,
            ),
        )
        fail()

    sittings_by_key = {}
    for s in db.session.execute(db.select(Sitting)).scalars():
        sittings_by_key.setdefault(str(s.id), s)
        sittings_by_key.setdefault(s.name.strip().casefold(), s)
    enrolled = {
        (sid, reg.casefold())
        for sid, reg in db.session.execute(
            db.select(Candidate.sitting_id, Candidate.registration_no)
        )
    }
    taken_seats = {
        (sid, label)
        for sid, label in db.session.execute(
            db.select(Seat.sitting_id, Seat.label).join(Candidate, Candidate.seat_id == Seat.id)
        )
    }
    seen_reg: dict[tuple[int, str], int] = {}
    seen_seat: dict[tuple[int, str], int] = {}
    valid = []
    for number, raw in body:
        if len(raw) != len(header):
            bad(
                number,
                None,
                _(
                    "%(cells)s sel untuk %(columns)s kolom (sel yang berisi koma harus diberi "
                    "tanda kutip)",
                    cells=len(raw),
                    columns=len(header),
                ),
            )
            continue
        values = {c: v.strip() for c, v in zip(header, raw, strict=True)}
        before = len(problems)
        reg = values["registration_no"]
        if not reg:
            bad(number, "registration_no", _("nomor peserta kosong"))
        elif len(reg) > 40 or any(ch.isspace() for ch in reg):
            bad(
                number,
                "registration_no",
                _("harus 1-40 karakter tanpa spasi, tertulis %(value)s", value=repr(reg)),
            )
        name = values["name"]
        if not name:
            bad(number, "name", _("nama kosong"))
        elif len(name) > 200:
            bad(number, "name", _("nama lebih dari 200 karakter"))
        birth = values.get("birth_date") or None
        if birth:
            try:
                birth = date.fromisoformat(birth).isoformat()
                if len(values["birth_date"]) != 10:
                    raise ValueError
            except ValueError:
                bad(
                    number,
                    "birth_date",
                    _(
                        "harus tanggal YYYY-MM-DD, tertulis %(value)s",
                        value=repr(values["birth_date"]),
                    ),
                )
        sitting = sittings_by_key.get(values["sitting"]) or sittings_by_key.get(
            values["sitting"].casefold()
        )
        if not values["sitting"]:
            bad(number, "sitting", _("sesi kosong; isi ID atau nama sesi"))
        elif sitting is None:
            bad(
                number,
                "sitting",
                _("tidak ada sesi dengan ID atau nama %(value)s", value=repr(values["sitting"])),
            )
        elif sitting.status == "ended":
            bad(number, "sitting", _("sesi %(name)s sudah berakhir", name=repr(sitting.name)))
        seat = values["seat"]
        if not seat:
            bad(number, "seat", _("kursi kosong"))
        elif len(seat) > 20:
            bad(
                number,
                "seat",
                _("label kursi lebih dari 20 karakter: %(value)s", value=repr(seat)),
            )
        if sitting is not None and reg:
            key = (sitting.id, reg.casefold())
            if key in enrolled:
                bad(
                    number,
                    "registration_no",
                    _(
                        "%(reg)s sudah terdaftar di sesi %(name)s",
                        reg=reg,
                        name=repr(sitting.name),
                    ),
                )
            elif key in seen_reg:
                bad(
                    number,
                    "registration_no",
                    _(
                        "nomor peserta %(reg)s ganda: baris %(row)s memakainya untuk sesi yang sama",
                        reg=reg,
                        row=seen_reg[key],
                    ),
                )
            else:
                seen_reg[key] = number
        if sitting is not None and seat:
            key = (sitting.id, seat)
            if key in taken_seats:
                bad(
                    number,
                    "seat",
                    _(
                        "kursi %(seat)s di sesi %(name)s sudah ada pesertanya",
                        seat=seat,
                        name=repr(sitting.name),
                    ),
                )
            elif key in seen_seat:
                bad(
                    number,
                    "seat",
                    _(
                        "kursi %(seat)s disebut dua kali: baris %(row)s memakainya di sesi yang sama",
                        seat=seat,
                        row=seen_seat[key],
                    ),
                )
            else:
                seen_seat[key] = number
        if len(problems) == before:
            valid.append((reg, name, birth, sitting, seat))
    if problems:
        fail()

    seats = {(s.sitting_id, s.label): s for s in db.session.execute(db.select(Seat)).scalars()}
    next_position = dict(
        db.session.execute(
            db.select(Seat.sitting_id, db.func.max(Seat.position)).group_by(Seat.sitting_id)
        ).all()
    )
    created = []
    for reg, name, birth, sitting, label in valid:
        seat = seats.get((sitting.id, label))
        if seat is None:
            position = next_position.get(sitting.id, 0) + 1
            next_position[sitting.id] = position
            seat = Seat(sitting_id=sitting.id, label=label, position=position)
            db.session.add(seat)
            db.session.flush()
            seats[(sitting.id, label)] = seat
        pin = security.new_pin()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=reg,
                name=name,
                birth_date=birth,
                pin_hash=security.hash_pin(pin),
                seat_id=seat.id,
            )
        )
        created.append(
            NewCandidate(
                reg,
                name,
                birth,
                sitting.id,
                sitting.name,
                sitting.room,
                sitting.scheduled_at,
                label,
                pin,
            )
        )
    for sitting_id in {c.sitting_id for c in created}:
        audit(
            actor,
            "candidates_imported",
            sitting_id=sitting_id,
            file=filename,
            count=sum(c.sitting_id == sitting_id for c in created),
        )
    db.session.commit()
    return created


def reset_pins(sitting_id: int, actor: str, reason: str | None = None) -> list[NewCandidate]:
    """New PINs for every candidate of the sitting who has not begun (old PINs stop working).

    A candidate whose attempt has started or finished keeps the PIN and the
    login: a sitting-wide reset mid-exam would log every running seat out (one
    candidate's PIN is the proctor's "reset PIN"). The logins the old PINs
    opened while waiting end (exam/sessions.py). Refused without a reason
    (FormProblems), changing nothing.
    """
    sitting = get_sitting(sitting_id)
    reason = need_reason(reason)
    out, attempt_ids, kept = [], [], 0
    candidates = (
        db.session.execute(
            db.select(Candidate)
            .where(Candidate.sitting_id == sitting.id)
            .order_by(Candidate.registration_no)
        )
        .scalars()
        .all()
    )
    for c in candidates:
        if c.attempt is not None and c.attempt.status != "waiting":
            kept += 1  # begun or finished: the PIN in the candidate's hand stays
            continue
        pin = security.new_pin()
        c.pin_hash = security.hash_pin(pin)
        lockout.lift(lockout.candidate(sitting.id, c.registration_no))  # a new PIN: new odds
        if c.attempt is not None:
            attempt_ids.append(c.attempt.id)
        out.append(
            NewCandidate(
                c.registration_no,
                c.name,
                c.birth_date,
                sitting.id,
                sitting.name,
                sitting.room,
                sitting.scheduled_at,
                c.seat.label if c.seat else "",
                pin,
            )
        )
    # after the slow hashing, so the rows stay locked only until the commit; in id
    # order, as the answer lane and the sitting-wide actions lock them
    ended = {a: candidate_sessions.revoke(a) for a in sorted(attempt_ids)}
    audit(actor, "pins_reset", sitting_id=sitting.id, reason=reason, count=len(out), kept=kept)
    db.session.commit()
    for attempt_id, sid in ended.items():
        candidate_sessions.close_sockets(attempt_id, sid)
    if ended:
        announce_seat(sitting.id)  # the proctor grid: those seats are no longer connected
    return sorted(out, key=lambda c: (_seat_order(c.seat), c.registration_no))


def _seat_order(label: str):
    digits = "".join(ch for ch in label if ch.isdigit())
    return (int(digits) if digits else 0, label)


def write_pins_csv(created: list[NewCandidate], file) -> None:
    """The PIN sheet as CSV; imported names could be spreadsheet formulas (spreadsheet.py)."""
    file.write(
        spreadsheet.csv_text(
            ["registration_no", "name", "sitting", "seat", "pin"],
            [(c.registration_no, c.name, c.sitting_name, c.seat, c.pin) for c in created],
        )
    )
