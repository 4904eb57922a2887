"""Overload at 3x peak: the server stays up, excess logins get a fast 503, seats keep working.

Peak is a whole room logging in at once (``SEATS`` candidates within a few
seconds). At 3x that, every login POST arrives at the same instant against a
real gunicorn + gevent worker whose admission guard lets
``MAX_LOGINS_IN_FLIGHT`` logins in at a time. Meanwhile one candidate, already
connected, keeps answering and a monitor polls ``/healthz``. Checked:

- the server stays up and every login gets an answer well inside the client's
  timeout: 302 (in) or 503 with ``Retry-After``, nothing else;
- a 503 comes fast (it is refused before any hashing or database work);
- ``/healthz`` answers within 50 ms (95th percentile; 3x in CI on a shared box) on
  PostgreSQL (on SQLite within 250 ms: its fsync runs on the event loop);
- the connected candidate's answers are all acknowledged;
- every refused login, sent again after its Retry-After, gets in: every
  candidate ends with exactly one attempt.

CI: 3 x 20 logins. ``make reliability``: CAT_OVERLOAD_SEATS=300 (900 logins).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time

import pytest
import requests

from cat_server.extensions import db
from cat_server.models import Attempt
from tests.conftest import PIN, make_sitting, make_user
from tests.live import (
    ROOT,
    LiveServer,
    cookie_header,
    csrf_token,
    full_run,
    http_login,
    one_backend_in_ci,
    proctor_call,
)
from tests.test_live_server import Workstation

pytestmark = pytest.mark.slow

SEATS = int(os.environ.get("CAT_OVERLOAD_SEATS", "20"))
LOGINS = 3 * SEATS
IN_FLIGHT = 4
PROBE = r"""
import http.client, json, os, sys, time
port, stop = int(sys.argv[1]), sys.argv[2]
conn, out = http.client.HTTPConnection("127.0.0.1", port, timeout=5), []
while not os.path.exists(stop):
    t0 = time.perf_counter()
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    response.read()
    out.append((time.monotonic(), time.perf_counter() - t0, response.status))
    time.sleep(0.02)
print(json.dumps(out))
"""


def _pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else None


def test_logins_at_3x_peak_get_a_fast_503_and_connected_seats_keep_answering(app, db_url, tmp_path):
    one_backend_in_ci(db_url)
    with app.app_context():
        # one candidate already at work, LOGINS more arriving at once
        sitting_id = make_sitting(
            n_candidates=LOGINS + 1, n_items=400, duration_s=3600, proctor=make_user()
        )
    server = LiveServer(
        db_url, tmp_path / "server.log", MAX_LOGINS_IN_FLIGHT=IN_FLIGHT, LOGIN_RETRY_AFTER=1
    ).start()
    login_url = f"{server.url}/exam/{sitting_id}/"
    figures = {
        "seats": SEATS,
        "logins": LOGINS,
        "max_in_flight": IN_FLIGHT,
        "backend": db_url.split(":")[0],
    }
    try:
        worker = requests.Session()
        assert (
            http_login(worker, login_url, {"registration_no": "20260001", "pin": PIN}).status_code
            == 302
        )
        station = Workstation(server.url, cookie_header(worker))
        assert proctor_call(server.url, sitting_id, "start_sitting")["ok"]
        state = station.wait_state(lambda s: s["status"] == "in_progress")

        # every browser has its login page (and CSRF token) open, then all press "Masuk"
        browsers = []
        for i in range(LOGINS):
            browser = requests.Session()
            token = csrf_token(browser.get(login_url, timeout=10).text)
            # a fresh connection for the POST: gunicorn closes a keep-alive connection
            # idle for 2 s, and one reused at that moment is reset (a browser retries
            # that by itself; requests does not)
            browser.close()
            browsers.append(
                (browser, {"registration_no": f"2026{i + 2:04d}", "pin": PIN, "csrf_token": token})
            )
        go, flood_over = threading.Barrier(LOGINS + 1), threading.Event()
        results: list[tuple[int, float, str | None]] = []
        refused_browsers = []
        acks: list[tuple[bool, float]] = []

        def press_login(browser, form):
            # these threads stand in for 900 workstations; here they share the server's
            # 2 cores, so at normal priority /healthz would time their CPU, not the server
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            go.wait()
            t0 = time.perf_counter()
            try:
                r = browser.post(login_url, data=form, allow_redirects=False, timeout=30)
                results.append(
                    (r.status_code, time.perf_counter() - t0, r.headers.get("Retry-After"))
                )
                if r.status_code == 503:
                    refused_browsers.append((browser, form))
            except requests.RequestException as error:
                results.append((0, time.perf_counter() - t0, str(error)[-120:]))

        def keep_answering():
            current = state
            while not flood_over.is_set():
                t0 = time.perf_counter()
                ack = station.answer(current, "ABCDE"[current["seq"] % 5])
                acks.append((bool(ack.get("ok")), time.perf_counter() - t0))
                if not ack.get("ok"):
                    return
                current = ack["state"]
                time.sleep(0.05)

        threads = [threading.Thread(target=press_login, args=b) for b in browsers]
        # /healthz is probed from a process of its own: the flood's 60 threads share
        # this one's GIL and would time themselves, not the server
        stop_probe = tmp_path / "stop-probe"
        probe = subprocess.Popen(
            [sys.executable, "-c", PROBE, str(server.port), str(stop_probe)],
            stdout=subprocess.PIPE,
            text=True,
        )
        helpers = [threading.Thread(target=keep_answering)]
        for t in threads + helpers:
            t.start()
        time.sleep(1.0)  # the probe and the candidate are running before the flood: baseline
        figures["load_1m"] = round(os.getloadavg()[0], 2)  # the shared box, before the flood
        flood_at, cpu_at = time.monotonic(), time.process_time()
        go.wait()
        for t in threads:
            t.join(60)
        # the cores the simulated workstations took from the server's box meanwhile
        figures["client_cores"] = round(
            (time.process_time() - cpu_at) / (time.monotonic() - flood_at), 2
        )
        figures["flood_s"] = round(time.monotonic() - flood_at, 2)
        time.sleep(0.3)
        flood_end = time.monotonic()
        flood_over.set()
        for t in helpers:
            t.join(15)
        stop_probe.touch()
        probes = json.loads(probe.communicate(timeout=15)[0])
        assert all(status == 200 for _, _, status in probes), probes
        baseline = [s for when, s, _ in probes if when < flood_at]
        healthz = [s for when, s, _ in probes if flood_at <= when <= flood_end]

        codes = [code for code, _, _ in results]
        busy = [(secs, retry) for code, secs, retry in results if code == 503]
        admitted = [secs for code, secs, _ in results if code == 302]
        figures.update(
            admitted=len(admitted),
            refused=len(busy),
            other={str(c): codes.count(c) for c in set(codes) - {302, 503}},
            client_errors=sorted({e for code, _, e in results if code == 0}),
            refused_p50_ms=round(1000 * statistics.median(s for s, _ in busy), 1) if busy else None,
            refused_max_ms=round(1000 * max(s for s, _ in busy), 1) if busy else None,
            admitted_max_ms=round(1000 * max(admitted), 1) if admitted else None,
            healthz_n=len(healthz),
            healthz_baseline_p95_ms=round(1000 * _pct(baseline, 0.95), 1),
            healthz_p95_ms=round(1000 * _pct(healthz, 0.95), 1),
            healthz_p99_ms=round(1000 * _pct(healthz, 0.99), 1),
            healthz_max_ms=round(1000 * max(healthz), 1),
            answers_acked=sum(ok for ok, _ in acks),
            answers=len(acks),
            answer_max_ms=round(1000 * max(s for _, s in acks), 1) if acks else None,
        )

        # the refused ones come back after Retry-After, as the login page does
        retried = 0
        for browser, form in refused_browsers:
            r = browser.post(login_url, data=form, allow_redirects=False, timeout=30)
            while r.status_code == 503:
                retried += 1
                time.sleep(int(r.headers["Retry-After"]))
                r = browser.post(login_url, data=form, allow_redirects=False, timeout=30)
            assert r.status_code == 302, r.text[:300]
        figures["retried_after_503"] = retried
        assert requests.get(f"{server.url}/healthz", timeout=5).ok  # still up
        station.sio.disconnect()
    finally:
        server.stop()

    print("\nRELIABILITY overload:", json.dumps(figures))
    if os.environ.get("CAT_RELIABILITY_REPORT"):
        with open(os.environ["CAT_RELIABILITY_REPORT"], "a") as out:
            out.write(json.dumps({"test": "overload", **figures}) + "\n")
    assert not figures["other"], figures  # only "in" or "busy, retry": no timeout, no 500
    assert figures["refused"] > 0, figures  # the guard did refuse the excess
    assert all(retry and int(retry) >= 1 for _, retry in busy), figures
    assert figures["refused_max_ms"] < 1000, figures  # fast, not queued
    # PostgreSQL (production): 50 ms, SQLite 250 ms (its commits fsync on the event
    # loop, 20-30 ms each), in the full run, meant for a quiet machine. In CI the box
    # is shared (2 cores, several test runs at once): there 3x that.

    bound = (50 if db_url.startswith("postgresql") else 250) * (1 if full_run() else 3)
    assert figures["healthz_p95_ms"] < bound, figures
    assert figures["answers"] > 0 and figures["answers_acked"] == figures["answers"], figures
    with app.app_context():
        per_candidate = db.session.query(Attempt.candidate_id).all()
        assert len(per_candidate) == LOGINS + 1 == len(set(per_candidate))


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_busy_login_is_refused_before_any_work_with_a_bilingual_503(app, accept):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    app.config["MAX_LOGINS_IN_FLIGHT"] = 2
    guard = app.extensions["cat_admission"]
    guard.in_flight = 2  # two logins are being verified
    client = app.test_client()
    response = client.post(
        f"/exam/{sitting_id}/",
        headers={"Accept": accept},
        data={"registration_no": "20260001", "pin": PIN},
    )
    assert response.status_code == 503
    assert 3 <= int(response.headers["Retry-After"]) <= 6
    text = response.get_data(as_text=True)
    assert "sibuk" in text and "busy" in text  # both languages
    assert client.get(f"/exam/{sitting_id}/").status_code == 200  # only POSTs are counted
    assert client.get("/healthz").status_code == 200
    with app.app_context():
        assert db.session.query(Attempt).count() == 0  # nothing done
    guard.in_flight = 1  # one slot free: in
    assert (
        client.post(
            f"/exam/{sitting_id}/", data={"registration_no": "20260001", "pin": PIN}
        ).status_code
        == 302
    )
    assert guard.in_flight == 1 and guard.refused == 1  # the slot was given back


def test_password_hashing_runs_below_the_event_loops_priority():
    """The argon2 threads yield the cores to the event loop (/healthz, answers) under a flood."""
    from cat_server import security

    seen = {}

    def hashing_thread():
        seen["nice"] = security._lowered(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )

    thread = threading.Thread(target=hashing_thread)
    thread.start()
    thread.join()
    assert seen["nice"] == security.HASH_NICE > 0
    # only that thread: the caller (the event loop, in the server) keeps its priority
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0


FLOOD_OF_VERIFIES = r"""
from gevent import monkey
monkey.patch_all()
import json, sys, threading, time
import gevent
from flask import Flask
from cat_server import security

app = Flask("flood")
app.config["HASH_THREADS"] = int(sys.argv[1])
lock, state = threading.Lock(), {"now": 0, "most": 0}

def verify(_):
    with lock:
        state["now"] += 1
        state["most"] = max(state["most"], state["now"])
    end = time.perf_counter() + 0.05  # a PIN verify's CPU, busy, off the GIL's way enough
    while time.perf_counter() < end:
        pass
    with lock:
        state["now"] -= 1
    return True

def login():
    with app.app_context():
        security._off_the_loop(verify, None)

gaps, ticking = [], True
def tick():
    last = time.perf_counter()
    while ticking:
        gevent.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now

ticker = gevent.spawn(tick)
gevent.joinall([gevent.spawn(login) for _ in range(16)])
ticking = False
ticker.join()
print(json.dumps({"most": state["most"], "ticks": len(gaps)}))
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_a_flood_of_verifies_keeps_at_most_hash_threads_cores_hashing(threads):
    """16 logins at once verify HASH_THREADS at a time (default 1), beside the event loop.

    With one thread a core per process is left to the event loop and the database
    however many logins arrive (issue 16; before, one per core: on the 2-core
    box, both cores hashing under a login flood).
    """
    from cat_server.config import Defaults

    assert Defaults.HASH_THREADS == 1
    result = subprocess.run(
        [sys.executable, "-c", FLOOD_OF_VERIFIES, str(threads)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert done["most"] == threads, done
    assert done["ticks"] > 0, done  # the loop kept running beside the pool
