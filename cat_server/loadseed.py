"""``cat-server load-seed``: a load-test sitting with N seats and its candidates' CSV.

The simulator (``python -m loadtests.workstations``) logs in from that CSV. The
exam is a long fixed form (default 500 items, 3 hours) so no seat runs out of
items or time during a scenario.
"""

from __future__ import annotations

import csv
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import click
from flask.cli import with_appcontext

from . import security
from .extensions import db
from .models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Item,
    ItemBank,
    Seat,
    Sitting,
    User,
    audit,
)

CSV_FIELDS = ("registration_no", "pin", "seat", "name")


def seed_load_sitting(
    n_seats: int,
    n_items: int = 500,
    duration_s: int = 3 * 3600,
    pin: str | None = None,
    proctor: str = "loadtest",
    proctor_password: str = "loadtest-123",
    seed: int = 2026,
):
    """Create a bank of ``n_items`` items, an exam, a sitting of ``n_seats``; return (sitting, rows).

    Every candidate gets their own PIN unless ``pin`` is given (one argon2 hash
    for all: seeding 3,000 seats then takes a second instead of minutes). Run
    again with the same sizes, it hands back the sitting it made before while
    no candidate has logged in to it (``sitting.reused``); once used, it makes
    the next one (``...-2``, ``-3``): never a half-written second copy.
    """
    base = f"{n_seats}x{n_items}-{random.Random(seed).randrange(16**6):06x}"
    for number in range(1, 10_000):
        tag = base if number == 1 else f"{base}-{number}"
        existing = db.session.execute(
            db.select(Sitting).where(Sitting.name == f"Uji beban {tag}")
        ).scalar_one_or_none()
        if existing is None:
            break
        rows = _reusable_rows(existing, tag, n_seats, pin)
        if rows is not None:
            existing.reused = True
            _ready_proctor(proctor, proctor_password, existing)
            db.session.commit()
            return existing, rows
    rng = random.Random(f"{seed}-{tag}")
    bank = ItemBank(name=f"Load test bank {tag}", version=1, source_filename="load-seed")
    db.session.add(bank)
    db.session.flush()
    db.session.add_all(
        Item(
            bank_id=bank.id,
            code=f"LT{i:05d}",
            position=i,
            section="TIU",
            model="2pl",
            a=1.0,
            b=rng.gauss(0, 1),
            stem=f"Soal uji beban nomor {i}?",
            options=["satu", "dua", "tiga", "empat", "lima"],
            key="ABCDE"[i % 5],
        )
        for i in range(1, n_items + 1)
    )
    exam = Exam(name=f"Uji beban {tag}", bank_id=bank.id, duration_s=duration_s, show_result=True)
    exam.sections.append(
        ExamSection(
            position=1, code="TIU", name="Tes Intelegensia Umum", n_items=n_items, points_correct=5
        )
    )
    sitting = Sitting(
        exam=exam, name=f"Uji beban {tag}", room="Ruang uji beban", status="open"
    )  # the simulated seats log in at once
    db.session.add(sitting)
    _ready_proctor(proctor, proctor_password, sitting)
    db.session.flush()

    pins = _pins(tag, n_seats, pin)
    hashes = _hash_pins(pins) if pin is None else [security.hash_pin(pin)] * n_seats
    seats = [
        Seat(sitting_id=sitting.id, label=f"PC-{i:04d}", position=i) for i in range(1, n_seats + 1)
    ]
    db.session.add_all(seats)
    db.session.flush()
    rows = []
    for i, (seat, pin_i, pin_hash) in enumerate(zip(seats, pins, hashes, strict=True), start=1):
        registration_no = f"LT{sitting.id:04d}{i:06d}"
        name = f"Peserta Uji {i}"
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=registration_no,
                name=name,
                pin_hash=pin_hash,
                seat_id=seat.id,
            )
        )
        rows.append(
            {"registration_no": registration_no, "pin": pin_i, "seat": seat.label, "name": name}
        )
    audit("load-seed", "sitting_created", sitting_id=sitting.id, seats=n_seats, items=n_items)
    db.session.commit()
    sitting.reused = False
    return sitting, rows


def _pins(tag: str, n_seats: int, pin: str | None) -> list[str]:
    rng = random.Random(f"pins-{tag}")  # the same PINs again for a sitting handed back
    return [pin or f"{rng.randrange(10**6):06d}" for _ in range(n_seats)]


def _reusable_rows(sitting: Sitting, tag: str, n_seats: int, pin: str | None):
    """The logins of an unused load-test sitting with these PINs; None if it cannot serve."""
    if sitting.status != "open":
        return None
    used = db.session.execute(
        db.select(db.func.count()).select_from(Attempt).where(Attempt.sitting_id == sitting.id)
    ).scalar()
    candidates = db.session.execute(
        db.select(Candidate, Seat)
        .join(Seat, Seat.id == Candidate.seat_id)
        .where(Candidate.sitting_id == sitting.id)
        .order_by(Seat.position)
    ).all()
    pins = _pins(tag, n_seats, pin)
    if (
        used
        or len(candidates) != n_seats
        or not security.verify(candidates[0][0].pin_hash, pins[0])
    ):
        return None
    return [
        {"registration_no": c.registration_no, "pin": p, "seat": seat.label, "name": c.name}
        for (c, seat), p in zip(candidates, pins, strict=True)
    ]


def _ready_proctor(username: str, password: str, sitting: Sitting) -> User:
    """The load test's proctor (made if missing, let in again after a clean-up) on ``sitting``."""
    from .auth import find_user

    username = username.strip().lower()  # usernames are unique ignoring case, stored lower-case
    user = find_user(username)
    if user is None:
        user = User(
            username=username,
            name="Pengawas uji beban",
            role="proctor",
            password_hash=security.hash_password(password),
        )
        db.session.add(user)
    elif not user.active:
        user.active = True
        audit("load-seed", "user_reactivated", reason="load-seed", username=user.username)
    if user not in sitting.proctors:
        sitting.proctors.append(user)
    return user


def clean_up(proctor: str = "loadtest") -> tuple[User | None, int]:
    """Deactivate the load test's proctor; return (that user or None, load-test sittings left).

    The sittings stay (the audit log that names them is append-only); without an
    active proctor nobody can start one, and their candidates cannot log in once
    a sitting is ended.
    """
    from .admin.users import set_active
    from .auth import find_user

    user = find_user(proctor)
    if user is not None and user.active:
        user = set_active(user.id, False, actor="load-seed", reason="load test over")
    left = db.session.execute(
        db.select(db.func.count())
        .select_from(Sitting)
        .join(Exam, Exam.id == Sitting.exam_id)
        .join(ItemBank, ItemBank.id == Exam.bank_id)
        .where(ItemBank.source_filename == "load-seed")
    ).scalar()
    return user, left


def _hash_pins(pins: list[str]) -> list[str]:
    # argon2 costs ~40 ms a PIN by design; spread it over the cores.
    if len(pins) < 50:
        return [security.hash_pin(p) for p in pins]
    with ProcessPoolExecutor() as pool:
        return list(pool.map(security.hash_pin, pins, chunksize=25))


@click.command("load-seed")
@click.option("--seats", type=click.IntRange(1, 100_000), help="Number of seats.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write registration_no,pin,seat,name here.",
)
@click.option(
    "--items",
    type=click.IntRange(1, 100_000),
    default=500,
    show_default=True,
    help="Items in the fixed form (answers a seat can give).",
)
@click.option(
    "--duration",
    type=click.IntRange(60),
    default=3 * 3600,
    show_default=True,
    help="Exam time in seconds.",
)
@click.option("--pin", default=None, help="One PIN for every seat (fast seeding of many seats).")
@click.option(
    "--proctor",
    default="loadtest",
    show_default=True,
    help="Proctor username (created if missing) who may start the sitting.",
)
@click.option("--proctor-password", default="loadtest-123", show_default=True)
@click.option(
    "--clean-up",
    is_flag=True,
    help="Deactivate the load test's proctor (--proctor) when the test is over; nothing else.",
)
@with_appcontext
def load_seed_command(seats, csv_path, items, duration, pin, proctor, proctor_password, clean_up):
    """Create a load-test sitting with SEATS candidates and write their logins to a CSV.

    Run again with the same sizes, it hands back the sitting it made while none of its
    candidates has logged in, or makes the next one. --clean-up deactivates the proctor.
    """
    if clean_up:
        _clean_up(proctor)
        return
    if seats is None or csv_path is None:
        click.echo("load-seed: --seats and --csv are required (or --clean-up)", err=True)
        sys.exit(2)
    if pin is not None and not (pin.isdigit() and len(pin) == 6):
        click.echo(f"--pin: expected 6 digits, got {pin!r}", err=True)
        sys.exit(2)
    sitting, rows = seed_load_sitting(seats, items, duration, pin, proctor, proctor_password)
    path = Path(csv_path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    done = "exists already, unused: handed back" if sitting.reused else "created"
    click.echo(
        f"Sitting {sitting.id} ({sitting.name}) {done}: {seats} seats, {items} items; "
        f"logins in {path}; proctor {proctor} / {proctor_password}. When the test is over: "
        f"cat-server load-seed --clean-up --proctor {proctor}"
    )
    click.echo(sitting.id)


def _clean_up(proctor: str) -> None:
    user, left = clean_up(proctor)
    if user is None:
        click.echo(f"No user {proctor!r}: nothing to deactivate.")
    else:
        click.echo(f"Proctor {user.username} is deactivated: it can no longer log in.")
    click.echo(
        f"{left} load-test sitting(s) stay in the database (the audit log naming them is "
        "append-only); use a database of their own for load tests."
    )
