"""Fixtures: every integration test runs on SQLite and on PostgreSQL.

PostgreSQL runs when CAT_TEST_DATABASE_URL is set (``.ci/run`` sets it); the
suite then makes a database of its own for the session (and one for a module
whose fixture outlives a test), so parallel runs never meet. A set variable
whose server does not answer fails the tests, never skips.
"""

from __future__ import annotations

import functools
import os
import secrets
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from cat_server import create_app, security
from cat_server.extensions import db, socketio
from cat_server.models import (
    Candidate,
    Exam,
    ExamSection,
    Item,
    ItemBank,
    Seat,
    Sitting,
    User,
)
from cat_server.proctor import feed

PIN = "123456"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def new_pg_database():
    """Make a fresh PostgreSQL database and return its URL; all are dropped at the end."""
    import psycopg

    base = os.environ.get("CAT_TEST_DATABASE_URL")
    if not base:
        pytest.skip("CAT_TEST_DATABASE_URL is not set: PostgreSQL runs only in CI / make test-pg")
    try:
        admin = psycopg.connect(_plain(base), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"CAT_TEST_DATABASE_URL={base} is set but PostgreSQL does not answer: {error}")
    names = []

    def make() -> str:
        name = f"cat_test_{os.getpid()}_{secrets.token_hex(3)}"
        admin.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        url = base.rsplit("/", 1)[0] + "/" + name
        if not url.startswith("postgresql+psycopg"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    yield make
    for name in names:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def pg_url(new_pg_database):
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    return new_pg_database()


@pytest.fixture(scope="session")
def redis_url():
    import redis

    url = os.environ.get("CAT_TEST_REDIS_URL")
    if not url:
        pytest.skip("CAT_TEST_REDIS_URL is not set")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as error:
        pytest.fail(f"CAT_TEST_REDIS_URL={url} is set but Redis does not answer: {error}")
    return url


def make_config(url: str, **extra) -> dict:
    return {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "test-secret",
        "BACKGROUND_TASKS": False,
        "SOCKETIO_ASYNC_MODE": "threading",
        "WTF_CSRF_ENABLED": False,
        # tests call feed.flush() by hand, back to back: no pacing between them
        # (test_proctor.py sets it where the pacing itself is under test)
        "FEED_INTERVAL": 0,
        **extra,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def app(db_url, tmp_path):
    # media of imported banks under the test's own folder, never the checkout's instance/
    app = create_app(make_config(db_url, MEDIA_DIR=str(tmp_path / "media")))
    with app.app_context():
        db.create_all()
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            db.session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            db.session.commit()
    feed.take_dirty()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def make_sitting(
    n_candidates=2, n_items=3, duration_s=600, name="Sesi Uji", proctor=None, show_result=True
) -> int:
    """A sitting of a fixed-order exam: ``n_items`` TWK items keyed A, B, C, ... in turn."""
    bank = ItemBank(name=f"Bank {name}", version=1)
    db.session.add(bank)
    db.session.flush()
    for i in range(n_items):
        db.session.add(
            Item(
                bank_id=bank.id,
                code=f"TWK{i + 1:03d}",
                position=i + 1,
                section="TWK",
                model="2pl",
                a=1.2,
                b=0.1 * i,
                stem=f"Soal nomor {i + 1}?",
                options=["satu", "dua", "tiga", "empat", "lima"],
                key="ABCDE"[i % 5],
            )
        )
    exam = Exam(
        name=f"Ujian {name}", bank_id=bank.id, duration_s=duration_s, show_result=show_result
    )
    exam.sections.append(
        ExamSection(
            position=1,
            code="TWK",
            name="Tes Wawasan Kebangsaan",
            n_items=n_items,
            pass_mark=5,
            points_correct=5,
        )
    )
    sitting = Sitting(exam=exam, name=name, room="Ruang 1", status="open")  # check-in open
    if proctor is not None:
        sitting.proctors.append(proctor)
    db.session.add(sitting)
    db.session.flush()
    # one hash for all (a 300-seat room: 300 argon2 runs less)
    pin_hash = quick_hash(PIN) if _quick_hashes else security.hash_pin(PIN)
    for i in range(n_candidates):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"2026{i + 1:04d}",
                name=f"Peserta {i + 1}",
                pin_hash=pin_hash,
                seat_id=seat.id,
            )
        )
    db.session.commit()
    return sitting.id


_QUICK = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
_quick_hashes = False  # set for one test by the quick_hashes fixture


@pytest.fixture
def quick_hashes(monkeypatch):
    """make_user and make_sitting hash at argon2's lowest cost during this test.

    Logins still run the app's argon2id verify, in microseconds instead of 0.2-0.4 s
    (staff) or 30 ms (PIN); so does an unknown registration number's verify against
    the dummy PIN hash. Only for modules about something else than hashing and
    logins' cost: tests/security and tests/reliability keep the real cost and time it.
    """
    monkeypatch.setattr("tests.conftest._quick_hashes", True)
    # an unknown registration number is verified against the dummy PIN hash: as cheap
    monkeypatch.setattr(security, "dummy_pin_hash", lambda: quick_hash("dummy-pin"))


def password_hash(password: str) -> str:
    """An argon2 hash of a staff password, made once per password per run.

    At production cost (each costs a good part of a second on a busy box, and most
    tests make two staff accounts); a login still runs the full-cost verify against it.
    At the lowest cost under ``quick_hashes``.
    """
    return quick_hash(password) if _quick_hashes else _real_password_hash(password)


@functools.cache
def _real_password_hash(password: str) -> str:
    return security.hash_password(password)


@functools.cache
def quick_hash(secret: str) -> str:
    """A real argon2id hash at argon2's lowest cost, for tests that are not about hashing."""
    return _QUICK.hash(secret)


def make_user(username="pengawas", role="proctor", password="rahasia-123") -> User:
    user = User(
        username=username, name=username.title(), role=role, password_hash=password_hash(password)
    )
    db.session.add(user)
    db.session.commit()
    return user


@pytest.fixture
def sitting_id(app):
    with app.app_context():
        proctor = make_user()
        return make_sitting(proctor=proctor)


def login_candidate(client, sitting_id, registration_no, pin=PIN):
    return client.post(
        f"/exam/{sitting_id}/", data={"registration_no": registration_no, "pin": pin}
    )


def login_staff(client, username="pengawas", password="rahasia-123"):
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def proctor_socket(app, sitting_id):
    client = app.test_client()
    assert login_staff(client).status_code == 302
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert sock.is_connected("/proctor")
    yield sock
    if sock.is_connected("/proctor"):
        sock.disconnect(namespace="/proctor")


@pytest.fixture
def candidate(app, sitting_id):
    """A logged-in candidate: (flask client, connected /exam socket)."""
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert sock.is_connected("/exam")
    yield client, sock
    if sock.is_connected("/exam"):
        sock.disconnect(namespace="/exam")


def last_event(sock, name, namespace):
    events = [e for e in sock.get_received(namespace) if e["name"] == name]
    return events[-1]["args"][0] if events else None


def shift_deadline(app, attempt_id, seconds):
    """Move an attempt's deadline (tests of time-up without waiting)."""
    from cat_server.models import Attempt

    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = attempt.deadline_at + timedelta(seconds=seconds)
        db.session.commit()


# A browser test's screen sizes and zoom levels all run on SQLite; on PostgreSQL only
# the first of them runs. The page is the same whatever the database; what PostgreSQL
# changes (the server's answers and timing) shows at any size. CAT_TEST_EVERY_SCREEN=1
# runs every size on both (a third of the browser suite's time more).
SCREEN_PARAMS = ("screen", "size", "percent")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("CAT_TEST_EVERY_SCREEN") == "1":
        return
    keep, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        if (
            spec is not None
            and spec.params.get("db_url") == "postgresql"
            and any(spec.indices.get(name, 0) != 0 for name in SCREEN_PARAMS)
        ):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
