"""Database fault: PostgreSQL stops and starts again mid-run; nothing lost, nothing twice.

The shared PostgreSQL is never touched: the test makes a throw-away cluster of
its own (``initdb`` into a temporary directory, as the ``postgres`` user when
run as root, on a random port), serves a real gunicorn + gevent server from it,
and lets a few python-socketio seats answer (tests/reliability/test_crash.py's
Seat: an unacknowledged answer is sent again with the same seq). Then
PostgreSQL is stopped (``immediate``: a crash, or ``fast``) and, after
CAT_DBFAULT_DOWN_S seconds, started again; CAT_DBFAULT_ROUNDS times. Checked:

- while the database is down every answer gets the ``retry`` error, never an
  acknowledgement, and no other error;
- the server recovers its pool by itself (``pool_pre_ping``): the seats answer
  again within seconds of the restart, with no server restart;
- from the database afterwards: every acknowledged answer stored once
  (lost = 0, duplicated = 0), no gap in any attempt's seqs.

CI: 1 round, 3 s down, 4 seats. ``make reliability``: 5 rounds of 15 s, 20 seats.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from cat_server import create_app
from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.conftest import PIN, make_config, make_sitting, make_user
from tests.live import LiveServer, cookie_header, free_port, http_login, proctor_call
from tests.reliability.test_crash import Seat

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("CAT_DBFAULT_ROUNDS", "1"))
DOWN_S = float(os.environ.get("CAT_DBFAULT_DOWN_S", "3"))
SEATS = int(os.environ.get("CAT_DBFAULT_SEATS", "4"))


class PrivateCluster:
    """A PostgreSQL cluster of this test alone: initdb, pg_ctl start/stop, removed after."""

    def __init__(self):
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not binaries:
            pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = os.path.dirname(binaries[-1])
        self.dir = tempfile.mkdtemp(prefix="cat_pg_")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/cat"
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses root: run the cluster as postgres
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv, timeout=60):
        return subprocess.run(
            [*self.as_user, *argv], check=True, capture_output=True, timeout=timeout, text=True
        )

    def init(self):
        self._run(
            f"{self.bin}/initdb",
            "-D",
            self.data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start()
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute("CREATE DATABASE cat")
        return self

    def start(self):
        self._run(
            f"{self.bin}/pg_ctl",
            "-D",
            self.data,
            "-w",
            "-l",
            os.path.join(self.dir, "log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self, mode="fast"):
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop")

    def remove(self):
        subprocess.run(
            [*self.as_user, f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


class TimedSeat(Seat):
    """test_crash's Seat, noting when each acknowledgement and each reply arrived."""

    def __init__(self, *args, **kwargs):
        self.replies: list[tuple[float, bool, str | None]] = []  # (when, ok, error)
        super().__init__(*args, **kwargs)
        call = self.sio.call

        def timed_call(*a, **k):
            reply = call(*a, **k)
            if isinstance(reply, dict):
                self.replies.append((time.monotonic(), bool(reply.get("ok")), reply.get("error")))
            return reply

        self.sio.call = timed_call


@pytest.fixture
def cluster():
    pg = PrivateCluster()
    try:
        yield pg.init()
    finally:
        pg.remove()


def test_postgresql_restart_mid_run_gets_retry_never_an_ack_and_loses_nothing(cluster, tmp_path):
    app = create_app(make_config(cluster.url))
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting(
            n_candidates=SEATS, n_items=400, duration_s=3600, proctor=make_user()
        )
        db.session.remove()
        db.engine.dispose()
    server = LiveServer(cluster.url, tmp_path / "server.log").start()
    seats, stop = [], threading.Event()
    outages: list[tuple[float, float]] = []  # (database gone, database back)
    recovery_s = []
    figures = {"rounds": ROUNDS, "down_s": DOWN_S, "seats": SEATS}
    try:
        for i in range(SEATS):
            browser = requests.Session()
            assert (
                http_login(
                    browser,
                    f"{server.url}/exam/{sitting_id}/",
                    {"registration_no": f"2026{i + 1:04d}", "pin": PIN},
                ).status_code
                == 302
            )
            seats.append(TimedSeat(i, server.url, cookie_header(browser), stop, i))
        assert proctor_call(server.url, sitting_id, "start_sitting")["ok"]
        for seat in seats:
            seat.start()
        for round_ in range(ROUNDS):
            time.sleep(1.5)  # answers flowing
            mode = "immediate" if round_ % 2 == 0 else "fast"
            cluster.stop(mode)
            gone = time.monotonic()
            time.sleep(DOWN_S)
            back_begins = time.monotonic()
            cluster.start()
            outages.append((gone, back_begins))
            before = sum(len(s.acked) for s in seats)
            deadline = time.monotonic() + 30
            while sum(len(s.acked) for s in seats) < before + SEATS and time.monotonic() < deadline:
                time.sleep(0.05)
            recovery_s.append(round(time.monotonic() - back_begins, 1))
        time.sleep(1.0)
        stop.set()
        for seat in seats:
            seat.join(20)
            seat.sio.disconnect()
        alive = server.process.poll() is None
    finally:
        stop.set()
        server.stop()

    replies = [r for s in seats for r in s.replies]
    in_outage = [r for r in replies if any(g + 0.5 < r[0] < b for g, b in outages)]
    figures.update(
        acked=sum(len(s.acked) for s in seats),
        replies_during_outage=len(in_outage),
        acks_during_outage=sum(1 for _, ok, _ in in_outage if ok),
        retry_errors=sum(s.errors.get("retry", 0) for s in seats),
        other_errors=sorted({e for s in seats for e in s.errors} - {"retry"}),
        recovery_s=recovery_s,
        server_alive=alive,
    )
    lost = duplicated = 0
    with app.app_context():
        for seat in seats:
            attempt = next(
                a
                for a in db.session.query(Attempt)
                if a.candidate.registration_no == f"2026{seat.index + 1:04d}"
            )
            by_seq = {}
            for row in db.session.query(Response).filter_by(attempt_id=attempt.id):
                by_seq.setdefault(row.seq, []).append((row.item_id, row.choice))
            duplicated += sum(len(v) - 1 for v in by_seq.values())
            lost += sum(1 for seq, got in seat.acked.items() if got not in by_seq.get(seq, []))
            assert sorted(by_seq) == list(range(1, len(by_seq) + 1))  # no gap
            assert attempt.n_answered == len(by_seq)
        db.session.remove()
        db.engine.dispose()
    figures.update(lost=lost, duplicated=duplicated)
    print("\nRELIABILITY dbfault:", json.dumps(figures))
    if os.environ.get("CAT_RELIABILITY_REPORT"):
        with open(os.environ["CAT_RELIABILITY_REPORT"], "a") as out:
            out.write(json.dumps({"test": "db_restart", **figures}) + "\n")
    assert alive, "the server process died"
    assert lost == 0 and duplicated == 0, figures
    assert figures["acks_during_outage"] == 0, figures  # never an ack without the database
    assert figures["retry_errors"] > 0 and figures["replies_during_outage"] > 0, figures
    assert not figures["other_errors"], figures  # only "retry"
    assert all(s < 30 for s in recovery_s), figures  # the pool recovered by itself
