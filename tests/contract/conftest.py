"""Fixtures of the contract suite: databases, test data, live servers.

Two servers per database backend, to keep the suite fast on a small machine:

- ``centre`` (session): the demo centre (``cat-server demo``, README) served
  with low login and socket limits, for test_http.py and test_delivery.py;
- test_exam.py's own (module), whose reaper is slowed so that a deadline moved
  into the past waits for the next answer.

The data is made through documented doors (the demo, ``cat-server load-bank``)
and with the repository's own test helpers (tests/conftest.py: ``make_user``,
and the models as ``make_sitting`` uses them, for exams of several sections);
then a real gunicorn (tests/live.py) serves it and the tests talk to it only
over HTTP and Socket.IO, as docs/protocol.md describes.
"""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.conftest as base
from cat_server import create_app
from cat_server.extensions import db
from cat_server.models import Candidate, Exam, ExamSection, Item, ItemBank, Seat, Sitting
from tests.live import ROOT, LiveServer

from .clients import PIN, Staff

PROCTOR = ("pengawas", "rahasia-123")  # make_staff's (test_exam.py)
ADMIN = ("kepala", "rahasia-admin-1")
OTHER_PROCTOR = ("pengawas2", "rahasia-456")  # a proctor of none of our sittings
DEMO_ADMIN = ("admin", "admin-demo")  # printed by `cat-server demo` (README)
DEMO_PROCTOR = ("pengawas", "pengawas-demo")

# the centre's settings (README "Configuration"): every test client has an address of its own
# (X-Forwarded-For through one trusted proxy), so low limits are reached in a few requests
CENTRE_SETTINGS = {
    "TRUSTED_PROXIES": 1,
    "MAX_LOGINS_IN_FLIGHT": 1,  # default 16
    "LOGIN_LIMIT_PER_IP": "8 per minute",  # default 1200 per minute
    "MAX_SOCKETS_PER_ADDRESS": 3,  # default 32
    "MAX_SOCKETS": 40,  # default 9000
    "ANON_SOCKET_GRACE": 1,  # default 15 s
}


@dataclass
class Centre:
    db: str  # database URL
    url: str  # the server's
    demo: dict  # "Sesi Demo 1" / "Sesi Demo 2": id and (registration_no, pin, seat) of each
    media_dir: Path

    @contextmanager
    def data(self):
        """Write test data into the centre's database (the demo's proctor is ``proctor``)."""
        from cat_server.models import User

        with data_app(self.db, create=False, MEDIA_DIR=str(self.media_dir)) as app:
            app.proctor = db.session.query(User).filter_by(username=DEMO_PROCTOR[0]).one()
            yield app


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def centre(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('centre') / 'cat.db'}"
    else:
        url = request.getfixturevalue("new_pg_database")()
    demo = run_demo(url)
    media_dir = tmp_path_factory.mktemp("media")
    with data_app(url, create=False):
        base.make_user(OTHER_PROCTOR[0], "proctor", OTHER_PROCTOR[1])
    settings = {**CENTRE_SETTINGS, "MEDIA_DIR": str(media_dir)}
    with live_server(url, tmp_path_factory, "centre", **settings) as server:
        yield Centre(db=url, url=server.url, demo=demo, media_dir=media_dir)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def contract_db(request, tmp_path_factory):
    """A fresh database for one module: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('contract') / 'cat.db'}"
    return request.getfixturevalue("new_pg_database")()


@contextmanager
def data_app(url, create=True, **config):
    """The app in-process, only to write test data (never to answer a request)."""
    app = create_app(base.make_config(url, **config))
    saved = base._quick_hashes
    base._quick_hashes = True  # argon2 at its lowest cost: these tests are not about hashing
    try:
        with app.app_context():
            if create:
                db.create_all()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        base._quick_hashes = saved


def make_staff():
    """A proctor, an administrator and a proctor of no sitting of ours."""
    proctor = base.make_user(PROCTOR[0], "proctor", PROCTOR[1])
    base.make_user(ADMIN[0], "admin", ADMIN[1])
    base.make_user(OTHER_PROCTOR[0], "proctor", OTHER_PROCTOR[1])
    return proctor


def make_exam_sitting(
    sections,
    *,
    name,
    proctor=None,
    n_candidates=2,
    duration_s=600,
    status="open",
    show_result=True,
    bank_id=None,
    reg_prefix="2026",
    spare_seats=0,
    n_options=5,
):
    """A sitting of a fixed exam with several sections, as ``make_sitting`` makes one.

    ``sections``: ``[(code, n_items, time_limit_min or None), ...]``; the items of
    each are keyed A, B, C, ... in turn (item k of a section: ``"ABCDE"[k % 5]``).
    Seats ``PC-01``... hold the candidates; ``spare_seats`` more seats stay free.
    Candidates are ``<reg_prefix>0001``... with the PIN ``PIN``.
    """
    if bank_id is None:
        bank = ItemBank(name=f"Bank {name}", version=1)
        db.session.add(bank)
        db.session.flush()
        bank_id = bank.id
        position = 0
        for code, n_items, _ in sections:
            for i in range(n_items):
                position += 1
                db.session.add(
                    Item(
                        bank_id=bank_id,
                        code=f"{code}{i + 1:03d}",
                        position=position,
                        section=code,
                        model="2pl",
                        a=1.2,
                        b=0.1 * i,
                        stem=f"{code} soal {i + 1}?",
                        options=["satu", "dua", "tiga", "empat", "lima"][:n_options],
                        key="ABCDE"[i % n_options],
                    )
                )
    exam = Exam(
        name=f"Ujian {name}", bank_id=bank_id, duration_s=duration_s, show_result=show_result
    )
    for position, (code, n_items, limit) in enumerate(sections, start=1):
        exam.sections.append(
            ExamSection(
                position=position,
                code=code,
                name=f"Bagian {code}",
                n_items=n_items,
                pass_mark=5,
                points_correct=5,
                time_limit_min=limit,
            )
        )
    sitting = Sitting(exam=exam, name=name, room="Ruang 1", status=status)
    if proctor is not None:
        sitting.proctors.append(proctor)
    db.session.add(sitting)
    db.session.flush()
    pin_hash = base.quick_hash(PIN)
    for i in range(n_candidates):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"{reg_prefix}{i + 1:04d}",
                name=f"Peserta {i + 1}",
                pin_hash=pin_hash,
                seat_id=seat.id,
            )
        )
    for i in range(n_candidates, n_candidates + spare_seats):
        db.session.add(Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1))
    db.session.commit()
    return sitting.id


def shift_section_deadline(url, attempt_id, seconds):
    """Move an attempt's section deadline, as tests/conftest.py's ``shift_deadline`` moves the
    exam's: a section's time-up without waiting a whole minute (the shortest limit)."""
    from datetime import timedelta

    from cat_server.models import Attempt

    with data_app(url, create=False):
        attempt = db.session.get(Attempt, attempt_id)
        attempt.section_deadline_at = attempt.section_deadline_at + timedelta(seconds=seconds)
        db.session.commit()


def shift_exam_deadline(url, attempt_id, seconds):
    with data_app(url, create=False) as app:
        base.shift_deadline(app, attempt_id, seconds)


@contextmanager
def live_server(url, tmp_path_factory, name, **settings):
    log = tmp_path_factory.mktemp(f"log-{name}") / "gunicorn.log"
    server = LiveServer(url, log, **settings).start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


def run_demo(url):
    """``cat-server demo --no-serve`` (README): the two demo sittings and their PINs."""
    out = subprocess.run(
        [sys.executable, "-c", "from cat_server.cli import main; main()"]
        + ["demo", "--no-serve", "--database", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    sittings, current = {}, None
    for line in out.splitlines():
        words = line.split()
        if line.startswith("Sesi Demo"):
            current = sittings.setdefault(line.split(":")[0], {"candidates": []})
        elif current is not None and "/exam/" in line:
            current["id"] = int(line.rstrip("/").rsplit("/", 1)[1])
        elif current is not None and len(words) >= 3 and words[0].isdigit() and words[1].isdigit():
            current["candidates"].append((words[0], words[1], words[2]))
    return sittings


__all__ = ["Staff", "PIN"]
