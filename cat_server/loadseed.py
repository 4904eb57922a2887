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
from .models import Candidate, Exam, ExamSection, Item, ItemBank, Seat, Sitting, User, audit

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
    for all: seeding 3,000 seats then takes a second instead of minutes).
    """
    rng = random.Random(seed)
    tag = f"{n_seats}x{n_items}-{rng.randrange(16**6):06x}"
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
    from .auth import find_user

    proctor = proctor.strip().lower()  # usernames are unique ignoring case, stored lower-case
    user = find_user(proctor)
    if user is None:
        user = User(
            username=proctor,
            name="Pengawas uji beban",
            role="proctor",
            password_hash=security.hash_password(proctor_password),
        )
        db.session.add(user)
    sitting = Sitting(
        exam=exam, name=f"Uji beban {tag}", room="Ruang uji beban", status="open"
    )  # the simulated seats log in at once
    sitting.proctors.append(user)
    db.session.add(sitting)
    db.session.flush()

    pins = [pin or f"{rng.randrange(10**6):06d}" for _ in range(n_seats)]
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
    return sitting, rows


def _hash_pins(pins: list[str]) -> list[str]:
    # argon2 costs ~40 ms a PIN by design; spread it over the cores.
    if len(pins) < 50:
        return [security.hash_pin(p) for p in pins]
    with ProcessPoolExecutor() as pool:
        return list(pool.map(security.hash_pin, pins, chunksize=25))


@click.command("load-seed")
@click.option("--seats", type=click.IntRange(1, 100_000), required=True, help="Number of seats.")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True),
    required=True,
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
@with_appcontext
def load_seed_command(seats, csv_path, items, duration, pin, proctor, proctor_password):
    """Create a load-test sitting with SEATS candidates and write their logins to a CSV."""
    if pin is not None and not (pin.isdigit() and len(pin) == 6):
        click.echo(f"--pin: expected 6 digits, got {pin!r}", err=True)
        sys.exit(2)
    sitting, rows = seed_load_sitting(seats, items, duration, pin, proctor, proctor_password)
    path = Path(csv_path)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    click.echo(
        f"Sitting {sitting.id}: {seats} seats, {items} items; logins in {path}; "
        f"proctor {proctor} / {proctor_password}"
    )
    click.echo(sitting.id)
