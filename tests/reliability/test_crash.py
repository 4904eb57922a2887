"""Server crash: ``kill -9`` at random moments while seats answer; nothing lost, nothing twice.

N seats (CAT_RELIABILITY_SEATS, 10 in CI) answer a linear exam through real
python-socketio clients (websocket) against gunicorn + gevent. R times
(CAT_RELIABILITY_ROUNDS, 3 in CI) the whole server process group is SIGKILLed
after a random (seeded: CAT_RELIABILITY_SEED) moment and restarted on the same
port. Clients reconnect on their own and send every unacknowledged answer again
with the same seq. At the end, from the database:

- every acknowledged answer is stored exactly once (same attempt, seq, item, choice);
- no seq holds two responses, n_answered equals the rows, the hash chain is intact;
- each attempt resumes at the right item: next_seq is the first unanswered seq,
  the item presented there is the one the client was shown, and no time was lost
  (the deadline never moves earlier).

``make reliability`` runs 50 rounds x 300 seats. The figures go to stdout and to
$CAT_RELIABILITY_REPORT (JSON) when set.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time

import pytest
import requests
import socketio as sio_client

from cat_server.exam.chain import genesis
from cat_server.extensions import db
from cat_server.models import Attempt, Presentation, Response
from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, proctor_call

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("CAT_RELIABILITY_ROUNDS", "3"))
SEATS = int(os.environ.get("CAT_RELIABILITY_SEATS", "10"))
SEED = int(os.environ.get("CAT_RELIABILITY_SEED", "9"))
ACK_TIMEOUT = 4.0
CHAIN_KEY = b"crash-test chain key, 32 bytes or more"


def choice_for(seat: int, seq: int) -> str:
    """The same answer every time it is sent (a resend must be identical)."""
    return "ABCDE"[(seat * 7 + seq * 3) % 5]


class Seat(threading.Thread):
    """One workstation: answers, keeps the unacked answer, resends it after reconnecting."""

    def __init__(self, index, url, cookie, stop, rng_seed):
        super().__init__(daemon=True, name=f"seat-{index}")
        self.index, self.stop = index, stop
        self.rng = random.Random(rng_seed)
        self.acked: dict[int, tuple[int, str]] = {}  # seq -> (item, choice)
        self.shown: dict[int, int] = {}  # seq -> item the server presented there
        self.sent = self.resent = self.repeats = 0
        self.errors: dict[str, int] = {}
        self.state = None
        self.ready = threading.Event()
        self.lock = threading.Lock()
        self.sio = sio_client.Client(reconnection_delay=0.2, reconnection_delay_max=1.0)
        self.sio.on("state", self._on_state, namespace="/exam")
        self.sio.connect(
            url,
            namespaces=["/exam"],
            headers={"Cookie": cookie},
            transports=["websocket"],
            auth={"device": f"seat-{index}"},
            wait_timeout=20,
        )

    def _on_state(self, state):
        with self.lock:
            self.state = state
            if state.get("seq"):
                self.shown[state["seq"]] = state["item"]["id"]
        if state["status"] == "in_progress":
            self.ready.set()

    def _send(self, seq, item, choice):
        """Send until acknowledged (or stopped for good); return the ack or None."""
        first, give_up = True, time.monotonic() + 3 * ACK_TIMEOUT
        while True:
            if "/exam" not in self.sio.namespaces:  # offline: the answer waits in the queue
                if self.stop.is_set() and time.monotonic() > give_up:
                    return None
                time.sleep(0.1)
                continue
            self.resent += not first  # sent again: its ack never came
            first = False
            self.sent += 1
            try:
                ack = self.sio.call(
                    "answer",
                    {"attempt": self.state["attempt"], "seq": seq, "item": item, "choice": choice},
                    namespace="/exam",
                    timeout=ACK_TIMEOUT,
                )
            except (
                sio_client.exceptions.TimeoutError,
                sio_client.exceptions.BadNamespaceError,
                sio_client.exceptions.DisconnectedError,
            ):
                ack = None
            if ack is not None and ack.get("ok"):
                return ack
            if ack is not None:
                self.errors[ack.get("error")] = self.errors.get(ack.get("error"), 0) + 1
                if ack.get("error") not in ("retry",):
                    return ack  # a real refusal: the test reports it
            if self.stop.is_set() and time.monotonic() > give_up:
                return None  # unacknowledged: it may or may not be stored, never twice
            time.sleep(0.1)

    def run(self):
        self.ready.wait(30)
        while not self.stop.is_set():
            with self.lock:
                state = self.state
            if state is None or state["status"] != "in_progress" or not state.get("seq"):
                time.sleep(0.05)
                continue
            seq, item = state["seq"], state["item"]["id"]
            choice = choice_for(self.index, seq)
            ack = self._send(seq, item, choice)
            if ack is None or not ack.get("ok"):
                break
            self.acked[seq] = (item, choice)
            self.repeats += bool(ack.get("repeat"))
            with self.lock:
                self.state = ack["state"]
                if ack["state"].get("seq"):
                    self.shown[ack["state"]["seq"]] = ack["state"]["item"]["id"]
            time.sleep(self.rng.uniform(0.02, 0.15))  # reading the next item


def test_kill_9_at_random_moments_loses_no_acked_answer_and_stores_none_twice(
    app, db_url, tmp_path
):
    rng = random.Random(SEED)
    n_items = 400
    with app.app_context():
        sitting_id = make_sitting(
            n_candidates=SEATS, n_items=n_items, duration_s=4 * 3600, proctor=make_user()
        )
    server = LiveServer(db_url, tmp_path / "server.log", CHAIN_KEY=CHAIN_KEY.decode()).start()
    seats, stop = [], threading.Event()
    figures = {"rounds": ROUNDS, "seats": SEATS, "seed": SEED, "backend": db_url.split(":")[0]}
    try:
        for i in range(SEATS):
            browser = requests.Session()
            response = http_login(
                browser,
                f"{server.url}/exam/{sitting_id}/",
                {"registration_no": f"2026{i + 1:04d}", "pin": PIN},
            )
            assert response.status_code == 302, response.text[:300]
            seats.append(Seat(i, server.url, cookie_header(browser), stop, rng.random()))
        assert proctor_call(server.url, sitting_id, "start_sitting")["ok"]
        with app.app_context():
            deadlines = {a.id: a.deadline_at for a in db.session.query(Attempt)}
        for seat in seats:
            seat.start()
        started = time.monotonic()
        for _ in range(ROUNDS):
            before = sum(len(s.acked) for s in seats)
            time.sleep(rng.uniform(0.3, 2.0))  # a random moment mid-traffic
            server.kill()
            time.sleep(rng.uniform(0.1, 1.0))
            server.start(timeout=60)
            # wait until the seats answer again before the next crash
            deadline = time.monotonic() + 60
            while sum(len(s.acked) for s in seats) < before + SEATS and (
                time.monotonic() < deadline
            ):
                time.sleep(0.1)
        time.sleep(1.0)
        stop.set()
        for seat in seats:
            seat.join(timeout=ACK_TIMEOUT * 3 + 5)
        figures["seconds"] = round(time.monotonic() - started, 1)
        for seat in seats:
            seat.sio.disconnect()
    finally:
        stop.set()
        server.stop()

    acked = sum(len(s.acked) for s in seats)
    figures.update(
        acked=acked,
        sent=sum(s.sent for s in seats),
        resent=sum(s.resent for s in seats),
        repeats=sum(s.repeats for s in seats),
        errors={
            k: sum(s.errors.get(k, 0) for s in seats) for k in {k for s in seats for k in s.errors}
        },
    )
    lost = duplicated = wrong_resume = 0
    with app.app_context():
        attempts = {a.candidate.registration_no: a for a in db.session.query(Attempt)}
        stored = 0
        for seat in seats:
            attempt = attempts[f"2026{seat.index + 1:04d}"]
            rows = (
                db.session.query(Response)
                .filter_by(attempt_id=attempt.id)
                .order_by(Response.n)
                .all()
            )
            stored += len(rows)
            by_seq: dict[int, list[Response]] = {}
            for row in rows:
                by_seq.setdefault(row.seq, []).append(row)
            duplicated += sum(len(v) - 1 for v in by_seq.values())
            for seq, (item, choice) in seat.acked.items():
                got = by_seq.get(seq, [])
                if not any(r.item_id == item and r.choice == choice for r in got):
                    lost += 1
            assert attempt.n_answered == len(by_seq) == len(rows)
            sitting = attempt.sitting
            whose = (attempt.candidate.registration_no, sitting.id, sitting.exam_id)
            prev = genesis(CHAIN_KEY, attempt.id, *whose)  # the server's key
            for row in rows:
                assert row.prev_hash == prev, f"chain broken at {attempt.id}/{row.n}"
                prev = row.hash
            assert attempt.chain_head == (prev if rows else attempt.chain_head)
            # resume at the right item: the first unanswered seq, showing what was shown
            expected_next = max(by_seq, default=0) + 1
            presented = (
                db.session.query(Presentation)
                .filter_by(attempt_id=attempt.id, seq=attempt.next_seq)
                .one_or_none()
            )
            if (attempt.status == "in_progress" and attempt.next_seq != expected_next) or (
                presented is not None
                and seat.shown.get(attempt.next_seq, presented.item_id) != presented.item_id
            ):
                wrong_resume += 1
            assert attempt.deadline_at >= deadlines[attempt.id]  # no time lost
            assert sorted(by_seq) == list(range(1, len(by_seq) + 1))  # no gap
    figures.update(stored=stored, lost=lost, duplicated=duplicated, wrong_resume=wrong_resume)
    print("\nRELIABILITY crash:", json.dumps(figures))
    if os.environ.get("CAT_RELIABILITY_REPORT"):
        with open(os.environ["CAT_RELIABILITY_REPORT"], "a") as out:
            out.write(json.dumps(figures) + "\n")
    assert lost == 0 and duplicated == 0 and wrong_resume == 0, figures
    assert acked >= max(SEATS, SEATS * ROUNDS // 2), figures  # the seats kept answering
    assert not set(figures["errors"]) - {"retry"}, figures  # no refusal of a resend
    assert figures["resent"] > 0 or ROUNDS == 0, figures  # crashes did hit answers in flight
