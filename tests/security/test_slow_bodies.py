"""Slow login bodies cannot hold the login slots (issue 16, slowloris).

A client that sends a login's headers and then trickles its body a byte a
second used to hold one of the admission guard's slots (admission.py) for as
long as it liked: a hundred such sockets and every real candidate got 503. Now
a login takes a slot only once its whole body is read, within
``LOGIN_BODY_TIMEOUT``; past that the client gets 408 and its connection is
closed. Against a real gunicorn + gevent worker.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from tests.conftest import PIN, make_sitting
from tests.live import LiveServer, http_login

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 100
BODY_TIMEOUT = 3


def open_slow_login(port: int, path: str, length: int = 200) -> socket.socket:
    """A login POST whose headers are all sent and whose body has not begun."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()
    )
    return sock


def test_a_hundred_trickling_logins_do_not_keep_a_candidate_out(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=2)
    server = LiveServer(
        db_url,
        tmp_path / "server.log",
        MAX_LOGINS_IN_FLIGHT=4,  # far fewer slots than slow clients
        LOGIN_BODY_TIMEOUT=BODY_TIMEOUT,
    ).start()
    path = f"/exam/{sitting_id}/"
    stop = threading.Event()
    sockets: list[socket.socket] = []
    try:
        # candidate and staff logins alike
        for i in range(SLOW_CLIENTS):
            sockets.append(open_slow_login(server.port, path if i % 2 else "/login"))
        started = time.monotonic()

        def trickle():
            while not stop.is_set():
                for sock in sockets:
                    try:
                        sock.send(b"a")
                    except OSError:
                        pass
                stop.wait(0.5)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        time.sleep(1.0)  # every slow client is mid-body

        candidate = requests.Session()
        t0 = time.perf_counter()
        response = http_login(
            candidate, server.url + path, {"registration_no": "20260001", "pin": PIN}
        )
        took = time.perf_counter() - t0
        assert response.status_code == 302, (response.status_code, response.text[:300])
        assert took < 5.0, took  # normal time on the shared box, not the slow ones' deadline
        assert time.monotonic() - started < BODY_TIMEOUT + 1.5  # they were still trickling

        # past the deadline each slow client gets 408 and its connection closed
        stop.set()
        trickler.join(5)
        answers = []
        for sock in sockets:
            sock.settimeout(BODY_TIMEOUT + 10)
            received = b""
            try:
                while chunk := sock.recv(4096):
                    received += chunk
            except OSError:
                pass
            answers.append(received.split(b"\r\n", 1)[0])
        assert answers == [b"HTTP/1.1 408 Request Timeout"] * SLOW_CLIENTS, set(answers)
        # and the slots are all free again
        second = requests.Session()
        response = http_login(
            second, server.url + path, {"registration_no": "20260002", "pin": PIN}
        )
        assert response.status_code == 302
    finally:
        stop.set()
        for sock in sockets:
            sock.close()
        server.stop()


def test_a_login_body_over_the_form_limit_is_413_before_any_slot(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    client = app.test_client()
    big = {"registration_no": "20260001", "pin": PIN, "pad": "x" * (70 * 1024)}
    response = client.post(f"/exam/{sitting_id}/", data=big, headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"] == "large"
    guard = app.extensions["cat_admission"]
    assert guard.in_flight == 0
    # an ordinary form goes in
    response = client.post(f"/exam/{sitting_id}/", data={"registration_no": "20260001", "pin": PIN})
    assert response.status_code == 302
