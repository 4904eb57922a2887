"""``cat-server backup`` while candidates answer, ``restore`` into a new server, and they go on."""

import os
import secrets
import stat
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, proctor_call
from tests.test_live_server import Workstation

pytestmark = pytest.mark.slow

CHAIN_KEY = secrets.token_urlsafe(48)  # main refuses a key that follows a pattern
N_SEATS, N_ITEMS = 4, 60


def cat_server(*args, db_url, check=True):
    """The ``cat-server`` command as an administrator runs it, in its own process."""
    env = {**os.environ, "CAT_DATABASE_URL": db_url, "CAT_CHAIN_KEY": CHAIN_KEY}
    done = subprocess.run(
        [sys.executable, "-c", "from cat_server.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


class Answering(threading.Thread):
    """One seat answering A, B, C, ... as fast as the acks come; every ack time noted."""

    def __init__(self, station, state, limit):
        super().__init__(daemon=True)
        self.station, self.state, self.limit = station, state, limit
        self.acked = []  # (monotonic time of the ack, number answered then)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and self.state["status"] == "in_progress":
            if self.state["answered"] >= self.limit:
                time.sleep(0.05)
                continue
            ack = self.station.answer(self.state, "ABCDE"[self.state["seq"] % 5])
            assert ack["ok"], ack
            self.state = ack["state"]
            self.acked.append((time.monotonic(), self.state["answered"]))
            time.sleep(0.1)

    def answered_before(self, moment):
        return max((n for t, n in self.acked if t < moment), default=0)


def test_backup_under_load_restores_into_a_new_server_and_candidates_go_on(
    app, db_url, tmp_path, request
):
    with app.app_context():
        sitting_id = make_sitting(n_items=N_ITEMS, n_candidates=N_SEATS, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "old.log", CHAIN_KEY=CHAIN_KEY).start()
    stations, seats = [], []
    try:
        for i in range(N_SEATS):
            candidate = requests.Session()
            login = http_login(
                candidate,
                f"{server.url}/exam/{sitting_id}/",
                {"registration_no": f"2026{i + 1:04d}", "pin": PIN},
            )
            assert login.status_code == 302, login.text
            stations.append(Workstation(server.url, cookie_header(candidate)))
        assert proctor_call(server.url, sitting_id, "start_sitting") == {"ok": True}
        for station in stations:
            seats.append(Answering(station, station.wait_state(lambda s: s["seq"] == 1), limit=40))
            seats[-1].start()
        while min(len(s.acked) for s in seats) < 5:
            time.sleep(0.05)
        backup_point = time.monotonic()  # the copy's snapshot is taken after this
        done = cat_server("backup", str(tmp_path / "backups"), "--keep", "2", db_url=db_url)
        assert "every chain is intact" in done.stdout
        time.sleep(1)  # the sitting goes on after the backup
        for seat in seats:
            seat.stop.set()
            seat.join(timeout=20)
        given = [s.answered_before(backup_point) for s in seats]
        after = [s.state["answered"] for s in seats]
        assert all(n >= 5 for n in given)
        assert sum(after) > sum(given), "no answer was given during the backup"
        seen = [len(station.states) for station in stations]
    finally:
        server.stop()

    (dump,) = (tmp_path / "backups").iterdir()
    if db_url.startswith("sqlite"):
        new_url = f"sqlite:///{tmp_path / 'new-machine.db'}"
    else:
        new_url = request.getfixturevalue("new_pg_database")()
    restored = cat_server("restore", str(dump), db_url=new_url)
    assert "every chain is intact" in restored.stdout
    refused = cat_server("restore", str(dump), db_url=new_url, check=False)
    assert refused.returncode == 1 and "--force" in refused.stderr

    # the new machine answers at the old address: the workstations reconnect by themselves
    new = LiveServer(new_url, tmp_path / "new.log", port=server.port, CHAIN_KEY=CHAIN_KEY)
    new.start()
    try:
        for station, seat, n_given, n_after, n_seen in zip(
            stations, seats, given, after, seen, strict=True
        ):
            with station.changed:  # the new server's first state after the reconnect
                assert station.changed.wait_for(
                    lambda st=station, n=n_seen: len(st.states) > n
                    and "/exam" in st.sio.namespaces,
                    30,
                )
            state = station.states[n_seen]
            # every answer acknowledged before the backup is there; later ones may not be
            assert n_given <= state["answered"] <= n_after, (n_given, state, n_after)
            assert state["status"] == "in_progress" and state["seq"] == state["answered"] + 1
            seat.state = state
            seat.stop.clear()
            seat.limit = N_ITEMS
            seat.run()  # to the end of the exam, every answer acknowledged
            assert seat.state["status"] == "finished" and seat.state["answered"] == N_ITEMS
            station.sio.disconnect()
    finally:
        new.stop()
    assert "every chain is intact" in cat_server("verify", db_url=new_url).stdout


def test_backup_keeps_n_generations_and_a_bad_copy_never_restores(app, db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the generations are the same code for both; SQLite is quicker")
    with app.app_context():
        make_sitting(n_items=3, n_candidates=2, proctor=make_user())
    dest = tmp_path / "backups"
    dest.mkdir()
    (dest / "notes.txt").write_text("not ours: never removed")
    for _ in range(3):
        cat_server("backup", str(dest), "--keep", "2", db_url=db_url)
        time.sleep(1.1)  # one name a second
    kept = sorted(p.name for p in dest.iterdir())
    assert len(kept) == 3 and "notes.txt" in kept, kept
    assert not any(name.endswith(".partial") for name in kept)

    bad = dest / "cat-backup-20260101-000000-WIB.sqlite3"
    bad.write_bytes(b"not a database" * 100)
    target = tmp_path / "fresh.db"
    refused = cat_server("restore", str(bad), db_url=f"sqlite:///{target}", check=False)
    assert refused.returncode == 1 and "not a readable SQLite database" in refused.stderr
    assert not target.exists()


def test_a_backup_is_readable_by_its_owner_only(app, db_url, tmp_path):
    """A backup holds every item, answer and PIN hash: mode 0600 even under a lax umask."""
    with app.app_context():
        make_sitting(n_items=3, n_candidates=2, proctor=make_user())
    dest = tmp_path / "backups"
    old = os.umask(0o022)  # what a shell or a unit without UMask= gives
    try:
        cat_server("backup", str(dest), "--keep", "2", db_url=db_url)
    finally:
        os.umask(old)
    (copy,) = [p for p in dest.iterdir() if p.name.startswith("cat-backup-")]
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600, oct(copy.stat().st_mode)
