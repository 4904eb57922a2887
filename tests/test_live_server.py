"""Real gunicorn + gevent + python-socketio clients: the server is SIGKILLed mid-exam."""

import threading
import time

import pytest
import requests
import socketio as sio_client

from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login

pytestmark = pytest.mark.slow


class Workstation:
    """A candidate's client: real Socket.IO over websocket, reconnecting by itself."""

    def __init__(self, base_url, cookie):
        self.states = []
        self.changed = threading.Condition()
        self.sio = sio_client.Client(reconnection_delay=0.2, reconnection_delay_max=1)
        self.sio.on("state", self._on_state, namespace="/exam")
        self.sio.on("connect", self._on_connect, namespace="/exam")
        self.sio.connect(
            base_url,
            namespaces=["/exam"],
            headers={"Cookie": cookie},
            transports=["websocket"],
            wait_timeout=10,
        )

    def _on_connect(self):
        with self.changed:
            self.changed.notify_all()

    def _on_state(self, state):
        with self.changed:
            self.states.append(state)
            self.changed.notify_all()

    def wait_state(self, predicate, timeout=20):
        with self.changed:
            # the server's first state can arrive just before the namespace's connect
            ok = self.changed.wait_for(
                lambda: self.states
                and predicate(self.states[-1])
                and "/exam" in self.sio.namespaces,
                timeout,
            )
        assert ok, f"no matching state; last: {self.states[-1:]}"
        return self.states[-1]

    def answer(self, state, choice="A"):
        return self.sio.call(
            "answer",
            {
                "attempt": state["attempt"],
                "seq": state["seq"],
                "item": state["item"]["id"],
                "choice": choice,
            },
            namespace="/exam",
            timeout=10,
        )


def test_sigkill_mid_exam_then_restart_resumes_at_the_same_item(app, db_url, tmp_path):
    with app.app_context():
        proctor = make_user()
        sitting_id = make_sitting(n_items=5, n_candidates=1, proctor=proctor)
    server = LiveServer(db_url, tmp_path / "server.log").start()
    try:
        candidate = requests.Session()
        response = http_login(
            candidate,
            f"{server.url}/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
        )
        assert response.status_code == 302, response.text
        staff = requests.Session()
        assert (
            http_login(
                staff, f"{server.url}/login", {"username": "pengawas", "password": "rahasia-123"}
            ).status_code
            == 302
        )
        proctor_sio = sio_client.Client(reconnection=False)
        proctor_sio.connect(
            server.url,
            namespaces=["/proctor"],
            headers={"Cookie": cookie_header(staff)},
            transports=["websocket"],
        )
        station = Workstation(server.url, cookie_header(candidate))
        station.wait_state(lambda s: s["status"] == "waiting")
        assert proctor_sio.call(
            "start_sitting", {"sitting": sitting_id}, namespace="/proctor", timeout=10
        ) == {"ok": True}
        proctor_sio.disconnect()
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        for choice in "AB":
            ack = station.answer(state, choice)
            assert ack["ok"], ack
            state = ack["state"]
        assert state["seq"] == 3

        server.kill()
        time.sleep(1.0)
        server.start()
        resumed = station.wait_state(lambda s: s["seq"] == 3 and s is not state, timeout=30)
        assert resumed["item"] == state["item"]
        assert resumed["answered"] == 2
        assert 0 < resumed["remaining_s"] <= state["remaining_s"]
        for _ in range(3):
            ack = station.answer(resumed, "A")
            assert ack["ok"], ack
            resumed = ack["state"]
        assert resumed["status"] == "finished" and resumed["answered"] == 5
        station.sio.disconnect()
    finally:
        server.stop()
    with app.app_context():
        assert db.session.query(Response).count() == 5
        assert db.session.query(Attempt).one().n_answered == 5


def test_the_server_ends_an_attempt_at_its_deadline_by_itself(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_sitting(n_items=3, n_candidates=1, duration_s=2, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "server.log", REAPER_INTERVAL=0.2).start()
    try:
        candidate = requests.Session()
        http_login(
            candidate,
            f"{server.url}/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
        )
        staff = requests.Session()
        http_login(
            staff, f"{server.url}/login", {"username": "pengawas", "password": "rahasia-123"}
        )
        station = Workstation(server.url, cookie_header(candidate))
        proctor_sio = sio_client.Client(reconnection=False)
        proctor_sio.connect(
            server.url,
            namespaces=["/proctor"],
            headers={"Cookie": cookie_header(staff)},
            transports=["websocket"],
        )
        proctor_sio.call("start_sitting", {"sitting": sitting_id}, namespace="/proctor")
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        ended = station.wait_state(lambda s: s["status"] == "finished", timeout=10)
        assert ended["finish_reason"] == "time_up"
        late = station.answer(state, "A")
        assert late["ok"] is False and late["error"] in ("time_up", "not_in_progress")
        proctor_sio.disconnect()
        station.sio.disconnect()
    finally:
        server.stop()
    with app.app_context():
        assert db.session.query(Response).count() == 0
