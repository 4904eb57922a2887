"""Network cut outside the browser: a TCP proxy between workstations and the server drops all traffic.

Workstations (real python-socketio clients, websocket) reach a real gunicorn +
gevent server only through ``tests.netproxy.TcpProxy``; the proctor's console
is connected straight to the server's port, as the front desk would be on its
own switch. Mid-exam the proxy cuts the network (every connection dropped or
blackholed, new ones refused) for CAT_NETCUT_SECONDS (8 s in CI, 90 s in
``make reliability``). Each workstation answers its current item during the
cut; the answer waits in the client and goes out when the network is back.
Checked:

- the proctor sees every seat ``disconnected`` during the cut and connected
  (``answering``) again after it;
- every answer queued during the cut is acknowledged after it and stored
  exactly once (database: one row per seq, the right item and choice);
- the timer is consistent: the deadline did not move (a candidate's own
  disconnect is not credited), and the remaining time the workstation gets
  back equals the time before the cut minus the time that passed.

Modes (CAT_NETCUT_MODE): ``reset`` (CI: both ends notice at once) and
``blackhole`` (the full run: each end notices only by Socket.IO's ping timeout,
about 40 s with the server's 10 s interval + 15 s timeout).
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import requests
import socketio as sio_client

from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, one_backend_in_ci
from tests.netproxy import TcpProxy

pytestmark = pytest.mark.slow

CUT_S = float(os.environ.get("CAT_NETCUT_SECONDS", "8"))
MODES = os.environ.get("CAT_NETCUT_MODE", "reset").split(",")  # full run: reset,blackhole
SEATS = int(os.environ.get("CAT_NETCUT_SEATS", "3"))


class Station:
    """A workstation: keeps an unacknowledged answer and sends it again once connected."""

    def __init__(self, index, url, cookie):
        self.index = index
        self.states = []
        self.sio = sio_client.Client(
            reconnection_delay=0.3, reconnection_delay_max=2, randomization_factor=0
        )
        self.sio.on("state", self.states.append, namespace="/exam")
        self.sio.connect(
            url,
            namespaces=["/exam"],
            headers={"Cookie": cookie},
            transports=["websocket"],
            auth={"device": f"pc-{index}"},
            wait_timeout=10,
        )

    def wait_state(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.states and predicate(self.states[-1]):
                return self.states[-1]
            time.sleep(0.05)
        raise AssertionError(f"no matching state: {self.states[-1:]}")

    def send(self, payload, give_up_s):
        """Send until acknowledged; return (ack, sends)."""
        sends, deadline = 0, time.monotonic() + give_up_s
        while time.monotonic() < deadline:
            if "/exam" not in self.sio.namespaces:
                time.sleep(0.1)
                continue
            sends += 1
            try:
                ack = self.sio.call("answer", payload, namespace="/exam", timeout=3)
            except (
                sio_client.exceptions.TimeoutError,
                sio_client.exceptions.BadNamespaceError,
                sio_client.exceptions.DisconnectedError,
            ):
                continue
            if ack.get("ok") or ack.get("error") != "retry":
                return ack, sends
            time.sleep(0.2)
        return None, sends


def _payload(state, choice):
    return {
        "attempt": state["attempt"],
        "seq": state["seq"],
        "item": state["item"]["id"],
        "choice": choice,
    }


@pytest.mark.parametrize("mode", MODES)
def test_a_network_cut_delivers_queued_answers_once_keeps_the_timer_and_the_proctor_sees_it(
    app, db_url, tmp_path, mode
):
    one_backend_in_ci(db_url)
    with app.app_context():
        sitting_id = make_sitting(
            n_candidates=SEATS, n_items=20, duration_s=3600, proctor=make_user()
        )
    server = LiveServer(db_url, tmp_path / "server.log").start()
    proxy = TcpProxy(server.port).start()
    figures = {"mode": mode, "cut_s": CUT_S, "seats": SEATS, "backend": db_url.split(":")[0]}
    seat_log: list[tuple[float, dict]] = []  # (when, seat snapshot) as the proctor saw it
    try:
        staff = requests.Session()  # the front desk: straight to the server
        http_login(
            staff, f"{server.url}/login", {"username": "pengawas", "password": "rahasia-123"}
        )
        proctor = sio_client.Client(reconnection=False)
        proctor.on(
            "seats",
            lambda msg: seat_log.extend((time.monotonic(), s) for s in msg["seats"]),
            namespace="/proctor",
        )
        proctor.connect(
            server.url,
            namespaces=["/proctor"],
            transports=["websocket"],
            headers={"Cookie": cookie_header(staff)},
        )
        assert proctor.call("watch", {"sitting": sitting_id}, namespace="/proctor", timeout=10)[
            "ok"
        ]

        stations = []
        for i in range(SEATS):
            browser = requests.Session()  # the workstation: through the proxy
            assert (
                http_login(
                    browser,
                    f"{proxy.url}/exam/{sitting_id}/",
                    {"registration_no": f"2026{i + 1:04d}", "pin": PIN},
                ).status_code
                == 302
            )
            stations.append(Station(i, proxy.url, cookie_header(browser)))
        assert proctor.call(
            "start_sitting", {"sitting": sitting_id}, namespace="/proctor", timeout=10
        )["ok"]
        acked: dict[int, dict[int, tuple[int, str]]] = {i: {} for i in range(SEATS)}
        current = {}
        for st in stations:  # two answers each before the cut
            state = st.wait_state(lambda s: s["status"] == "in_progress")
            for _ in range(2):
                ack, _ = st.send(_payload(state, "ABCDE"[state["seq"] % 5]), 10)
                assert ack["ok"], ack
                acked[st.index][state["seq"]] = (state["item"]["id"], "ABCDE"[state["seq"] % 5])
                state = ack["state"]
            current[st.index] = state
        with app.app_context():
            deadlines = {
                a.candidate.registration_no: a.deadline_at for a in db.session.query(Attempt)
            }
        remaining_before = {i: current[i]["remaining_s"] for i in current}

        cut_at = time.monotonic()
        proxy.cut(mode)
        queued = {}

        def answer_offline(st):
            state = current[st.index]
            choice = "ABCDE"[(state["seq"] + 2) % 5]
            ack, sends = st.send(_payload(state, choice), CUT_S + 60)
            queued[st.index] = (_payload(state, choice), ack, sends, time.monotonic())

        senders = [threading.Thread(target=answer_offline, args=(st,)) for st in stations]
        time.sleep(0.5)  # the candidates press their answer with the network gone
        for t in senders:
            t.start()
        seen_down = {}
        while time.monotonic() - cut_at < CUT_S:
            for when, seat in list(seat_log):
                if when > cut_at and not seat["connected"]:
                    seen_down.setdefault(seat["registration_no"], round(when - cut_at, 1))
            time.sleep(0.2)
        restored_at = time.monotonic()
        proxy.restore()
        for t in senders:
            t.join(CUT_S + 70)
        seen_back = {}
        deadline = time.monotonic() + 15
        while len(seen_back) < SEATS and time.monotonic() < deadline:
            for when, seat in list(seat_log):
                if when > restored_at and seat["connected"] and seat["status"] == "answering":
                    seen_back.setdefault(seat["registration_no"], round(when - restored_at, 1))
            time.sleep(0.2)
        figures.update(
            proctor_saw_down_after_s=max(seen_down.values(), default=None),
            proctor_saw_back_after_s=max(seen_back.values(), default=None),
            queued_acked=sum(1 for q in queued.values() if q[1] and q[1].get("ok")),
            sends_per_queued_answer=[q[2] for q in queued.values()],
            acked_after_restore_s=max(
                (round(q[3] - restored_at, 1) for q in queued.values()), default=None
            ),
            proxy_connections=proxy.n_connections,
        )
        print("\nRELIABILITY netcut:", json.dumps(figures))
        assert len(seen_down) == SEATS, (seen_down, figures)
        assert len(seen_back) == SEATS, (seen_back, figures)
        for st in stations:
            payload, ack, _, acked_at = queued[st.index]
            assert ack is not None and ack["ok"], (st.index, ack, figures)
            assert acked_at > restored_at, "an answer was acknowledged during the cut"
            acked[st.index][payload["seq"]] = (payload["item"], payload["choice"])
            # the timer: what was left before the cut minus what passed, no more, no less
            elapsed = time.monotonic() - cut_at
            expected = remaining_before[st.index] - elapsed
            got = ack["state"]["remaining_s"]
            assert abs(got - expected) < 3.0, (st.index, got, expected)
            # and the exam goes on normally
            nxt = ack["state"]
            again, _ = st.send(_payload(nxt, "A"), 10)
            assert again["ok"], again
            acked[st.index][nxt["seq"]] = (nxt["item"]["id"], "A")
        for st in stations:
            st.sio.disconnect()
        proctor.disconnect()
    finally:
        proxy.close()
        server.stop()

    with app.app_context():
        for st in stations:
            attempt = next(
                a
                for a in db.session.query(Attempt)
                if a.candidate.registration_no == f"2026{st.index + 1:04d}"
            )
            rows = db.session.query(Response).filter_by(attempt_id=attempt.id).all()
            by_seq = {}
            for row in rows:
                by_seq.setdefault(row.seq, []).append((row.item_id, row.choice))
            assert all(len(v) == 1 for v in by_seq.values()), by_seq  # none twice
            assert {s: v[0] for s, v in by_seq.items()} == acked[st.index]  # all, as acked
            assert attempt.n_answered == len(rows) == 4
            # the candidate's own disconnect is not credited; nor is any time taken
            assert attempt.deadline_at == deadlines[attempt.candidate.registration_no]
    if os.environ.get("CAT_RELIABILITY_REPORT"):
        with open(os.environ["CAT_RELIABILITY_REPORT"], "a") as out:
            out.write(json.dumps({"test": "network_cut", **figures}) + "\n")
