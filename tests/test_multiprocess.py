"""Two gunicorn processes joined by Redis: a proctor on one sees a candidate on the other."""

import secrets
import threading
import time

import pytest
import requests
import socketio as sio_client

from tests.conftest import PIN, make_config, make_sitting, make_user
from tests.live import LiveServer, cookie_header, csrf_token, http_login
from tests.test_live_server import Workstation

pytestmark = pytest.mark.slow


def test_two_processes_share_events_through_redis(pg_url, redis_url, tmp_path):
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(n_items=3, n_candidates=2, proctor=make_user())
    channel = f"cat-test-{secrets.token_hex(4)}"
    a = LiveServer(pg_url, tmp_path / "a.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    b = LiveServer(pg_url, tmp_path / "b.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    a.start(), b.start()
    try:
        candidate = requests.Session()
        assert (
            http_login(
                candidate,
                f"{a.url}/exam/{sitting_id}/",
                {"registration_no": "20260001", "pin": PIN},
            ).status_code
            == 302
        )
        station = Workstation(a.url, cookie_header(candidate))
        station.wait_state(lambda s: s["status"] == "waiting")

        staff = requests.Session()
        http_login(staff, f"{b.url}/login", {"username": "pengawas", "password": "rahasia-123"})
        seats, got = [], threading.Event()
        proctor = sio_client.Client(reconnection=False)

        def on_seats(message):
            seats.extend(message["seats"])
            got.set()

        proctor.on("seats", on_seats, namespace="/proctor")
        proctor.connect(
            b.url,
            namespaces=["/proctor"],
            headers={"Cookie": cookie_header(staff)},
            transports=["websocket"],
        )
        snapshot = proctor.call("watch", {"sitting": sitting_id}, namespace="/proctor")
        assert {s["seat"]: s["status"] for s in snapshot["seats"]}["PC-01"] == "waiting"
        assert proctor.call("start_sitting", {"sitting": sitting_id}, namespace="/proctor") == {
            "ok": True
        }
        # started on process B, the candidate's socket lives on process A
        state = station.wait_state(lambda s: s["status"] == "in_progress", timeout=10)
        assert station.answer(state, "A")["ok"]
        deadline = time.monotonic() + 5
        while not any(s["seat"] == "PC-01" and s["answered"] == 1 for s in seats):
            assert time.monotonic() < deadline, f"the proctor on B got no update from A: {seats}"
            got.wait(0.2)
            got.clear()
        proctor.disconnect()
        station.sio.disconnect()
    finally:
        a.stop()
        b.stop()


def test_a_proctor_gets_at_most_4_messages_a_second_whatever_the_processes(
    pg_url, redis_url, tmp_path
):
    """Seats answer on both processes; the screen on B still gets <= 4 messages a second."""
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(n_items=60, n_candidates=2, proctor=make_user())
    channel = f"cat-test-{secrets.token_hex(4)}"
    servers = [
        LiveServer(pg_url, tmp_path / f"{name}.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
        for name in "ab"
    ]
    for server in servers:
        server.start()
    try:
        stations = []
        for reg, server in zip(("20260001", "20260002"), servers, strict=True):
            candidate = requests.Session()
            assert (
                http_login(
                    candidate,
                    f"{server.url}/exam/{sitting_id}/",
                    {"registration_no": reg, "pin": PIN},
                ).status_code
                == 302
            )
            stations.append(Workstation(server.url, cookie_header(candidate)))
        staff = requests.Session()
        http_login(
            staff, f"{servers[1].url}/login", {"username": "pengawas", "password": "rahasia-123"}
        )
        received, seen = [], {}
        proctor = sio_client.Client(reconnection=False)

        def on_seats(message):
            received.append(time.monotonic())
            seen.update({s["seat"]: s["answered"] for s in message["seats"]})

        proctor.on("seats", on_seats, namespace="/proctor")
        proctor.connect(
            servers[1].url,
            namespaces=["/proctor"],
            transports=["websocket"],
            headers={"Cookie": cookie_header(staff)},
        )
        proctor.call("watch", {"sitting": sitting_id}, namespace="/proctor")
        assert proctor.call("start_sitting", {"sitting": sitting_id}, namespace="/proctor")["ok"]

        def answer_for(station, seconds):
            state = station.wait_state(lambda s: s["status"] == "in_progress", timeout=10)
            end = time.monotonic() + seconds
            while time.monotonic() < end and state["status"] == "in_progress":
                state = station.answer(state)["state"]
                time.sleep(0.05)
            return state["answered"]

        results = {}
        threads = [
            threading.Thread(
                target=lambda i=i: results.__setitem__(i, answer_for(stations[i], 4.0))
            )
            for i in (0, 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(1.0)  # the last flushes
        proctor.disconnect()
        for station in stations:
            station.sio.disconnect()
        # both processes' seats reached the screen on B ...
        assert seen == {"PC-01": results[0], "PC-02": results[1]}, (seen, results)
        # ... and no second held more than 4 messages (each process alone flushes 4 a second)
        per_second = max(sum(1 for t in received if start <= t < start + 1.0) for start in received)
        assert per_second <= 4, received
    finally:
        for server in servers:
            server.stop()


def test_a_deactivation_on_one_process_disconnects_the_console_on_the_other(
    pg_url, redis_url, tmp_path
):
    """The admin acts on A, the proctor's socket lives on B: B disconnects it at once."""
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        make_user("admin", "admin", "admin-pass-1")
        proctor = make_user()
        proctor_id = proctor.id
        sitting_id = make_sitting(proctor=proctor)
    channel = f"cat-test-{secrets.token_hex(4)}"
    a, b = (
        LiveServer(pg_url, tmp_path / f"{name}.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
        for name in "ab"
    )
    a.start(), b.start()
    try:
        staff = requests.Session()
        assert (
            http_login(
                staff, f"{b.url}/login", {"username": "pengawas", "password": "rahasia-123"}
            ).status_code
            == 302
        )
        console, ended = sio_client.Client(reconnection=False), threading.Event()
        console.on("disconnect", lambda *reason: ended.set(), namespace="/proctor")
        console.connect(
            b.url,
            namespaces=["/proctor"],
            headers={"Cookie": cookie_header(staff)},
            transports=["websocket"],
        )
        assert console.call("watch", {"sitting": sitting_id}, namespace="/proctor")["ok"]

        admin = requests.Session()
        assert (
            http_login(
                admin, f"{a.url}/login", {"username": "admin", "password": "admin-pass-1"}
            ).status_code
            == 302
        )
        token = csrf_token(admin.get(f"{a.url}/admin/users", timeout=10).text)
        done = admin.post(
            f"{a.url}/admin/users/{proctor_id}/active",
            data={"active": "0", "reason": "pindah tugas", "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert done.status_code == 302
        assert ended.wait(5), "the console on B stayed connected after the deactivation on A"
        console.disconnect()
    finally:
        a.stop()
        b.stop()


def _connect(url, cookie, device):
    """A workstation's /exam socket with its device id: (client, refusal or None)."""
    client = sio_client.Client(reconnection=False)
    refused = {}
    client.on("connect_error", lambda data: refused.update(data=data), namespace="/exam")
    try:
        client.connect(
            url,
            namespaces=["/exam"],
            headers={"Cookie": cookie},
            auth={"device": device},
            transports=["websocket"],
            wait_timeout=10,
        )
    except sio_client.exceptions.ConnectionError:
        return None, refused.get("data") or "refused"
    return client, None


def test_one_live_workstation_per_attempt_across_processes(pg_url, redis_url, tmp_path):
    """Issue 17: with nginx spreading a room over two processes, a login open on A
    cannot be taken by a second workstation on B, nor a third on A."""
    from cat_server import create_app
    from cat_server.extensions import db

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = make_sitting(n_items=3, n_candidates=1, proctor=make_user())
    channel = f"cat-test-{secrets.token_hex(4)}"
    a = LiveServer(pg_url, tmp_path / "a.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    b = LiveServer(pg_url, tmp_path / "b.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    a.start(), b.start()
    clients = []
    try:
        login = requests.Session()
        fields = {"registration_no": "20260001", "pin": PIN}
        assert http_login(login, f"{a.url}/exam/{sitting_id}/", fields).status_code == 302
        cookie = cookie_header(login)
        one, refused = _connect(a.url, cookie, "one")
        assert one is not None, refused
        clients.append(one)
        two, refused = _connect(b.url, cookie, "two")
        assert two is None and "already_connected" in str(refused)
        three, refused = _connect(a.url, cookie, "three")
        assert three is None and "already_connected" in str(refused)
        # the same workstation coming back (a network drop) on the other process is let in
        again, refused = _connect(b.url, cookie, "one")
        assert again is not None, refused
        clients.append(again)
    finally:
        for client in clients:
            client.disconnect()
        a.stop()
        b.stop()
