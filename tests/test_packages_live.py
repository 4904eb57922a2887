"""A sealed package's sitting on a real gunicorn server, SIGKILLed mid-exam: delivery resumes
from the release sealed in the database, nobody types the code again; the log holds no stem."""

import time

import pytest
import requests
import socketio as sio_client

from cat_server.extensions import db
from cat_server.models import AuditEvent, ExamPackage, PackageRelease
from tests.conftest import PIN, make_user
from tests.live import LiveServer, cookie_header, http_login
from tests.packages_kit import KEYS, STEMS, build, code_for, schedule, secrets_in, setup_keys
from tests.test_live_server import Workstation

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_hashes")]


def code_of(state) -> str:
    return next(c for c, stem in STEMS.items() if stem == state["item"]["stem"])


def test_sigkill_mid_sitting_resumes_without_the_release_code(app, runner, db_url, tmp_path):
    issuer = setup_keys(app, tmp_path)
    package = build(runner, tmp_path, issuer)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        sitting_id = schedule(exam_id, proctor=make_user())
    log = tmp_path / "server.log"
    server = LiveServer(
        db_url,
        log,
        CENTRE_KEY_FILE=app.config["CENTRE_KEY_FILE"],
        ISSUER_KEY_FILE=app.config["ISSUER_KEY_FILE"],
    ).start()
    try:
        staff = requests.Session()
        login = {"username": "pengawas", "password": "rahasia-123"}
        assert http_login(staff, f"{server.url}/login", login).status_code == 302
        proctor = sio_client.Client(reconnection=False)
        proctor.connect(server.url, namespaces=["/proctor"],
                        headers={"Cookie": cookie_header(staff)}, transports=["websocket"])  # fmt: skip

        def call(event, **data):
            return proctor.call(event, {"sitting": sitting_id, **data}, namespace="/proctor")

        assert call("start_sitting")["error"] in ("not_in_progress", "check_in_closed")
        assert call("open_check_in", reason="buka")["error"] == "not_released"
        assert call("release_package", code=code_for(runner, package, issuer)) == {"ok": True}
        assert call("open_check_in", reason="buka") == {"ok": True}
        candidate = requests.Session()
        form = {"registration_no": "20260001", "pin": PIN}
        assert http_login(candidate, f"{server.url}/exam/{sitting_id}/", form).status_code == 302
        station = Workstation(server.url, cookie_header(candidate))
        station.wait_state(lambda s: s["status"] == "waiting")
        assert call("start_sitting") == {"ok": True}
        proctor.disconnect()
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        for _ in range(2):
            ack = station.answer(state, KEYS[code_of(state)])
            assert ack["ok"], ack
            state = ack["state"]
        assert code_of(state) == "TWK003"

        server.kill()  # SIGKILL: the data key in the process's memory is gone with it
        time.sleep(1.0)
        server.start()
        state = station.wait_state(lambda s: s["seq"] == 3 and s is not state, timeout=30)
        assert state["item"]["stem"] == STEMS["TWK003"]  # unsealed again, no code asked
        while state["status"] == "in_progress":
            ack = station.answer(state, KEYS[code_of(state)])
            assert ack["ok"], ack
            state = ack["state"]
            if state.get("section_over"):
                state = station.sio.call("finish_section", {"attempt": state["attempt"], "section": 1},
                                         namespace="/exam", timeout=10)["state"]  # fmt: skip
        assert state["result"]["sections"][0]["score"] == 15
        assert state["result"]["sections"][1]["score"] > 50
        station.sio.disconnect()
    finally:
        server.stop()
    assert secrets_in(log.read_bytes()) == []
    with app.app_context():
        assert db.session.query(PackageRelease).count() == 1
        assert db.session.query(AuditEvent).filter_by(action="package_released").count() == 1


def test_release_code_guesses_over_a_real_console_are_limited_and_do_not_stall_the_server(
    app, runner, db_url, tmp_path
):
    """Issue 21's guesser: a real Socket.IO console against gunicorn. Five wrong codes a
    sitting per 10 minutes, then refused with the wait; each audited; each scrypt runs off
    the event loop, so /healthz answers while a guess is being checked."""
    import threading

    issuer = setup_keys(app, tmp_path)
    package = build(runner, tmp_path, issuer)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        sitting_id = schedule(exam_id, proctor=make_user())
    wrong = code_for(runner, package, issuer, "2026-12-07-S2")  # well formed: two scrypts
    server = LiveServer(
        db_url,
        tmp_path / "server.log",
        CENTRE_KEY_FILE=app.config["CENTRE_KEY_FILE"],
        ISSUER_KEY_FILE=app.config["ISSUER_KEY_FILE"],
    ).start()
    try:
        staff = requests.Session()
        login = {"username": "pengawas", "password": "rahasia-123"}
        assert http_login(staff, f"{server.url}/login", login).status_code == 302
        proctor = sio_client.Client(reconnection=False)
        proctor.connect(server.url, namespaces=["/proctor"],
                        headers={"Cookie": cookie_header(staff)}, transports=["websocket"])  # fmt: skip
        slowest, done = [0.0], threading.Event()

        def poll():
            while not done.is_set():
                started = time.monotonic()
                requests.get(f"{server.url}/healthz", timeout=10)
                slowest[0] = max(slowest[0], time.monotonic() - started)
                time.sleep(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        started = time.monotonic()
        acks = [
            proctor.call("release_package", {"sitting": sitting_id, "code": wrong},
                         namespace="/proctor", timeout=30)
            for _ in range(6)
        ]  # fmt: skip
        guessing = time.monotonic() - started
        done.set()
        poller.join()
        proctor.disconnect()
    finally:
        server.stop()
    assert [a["error"] for a in acks] == ["release_refused"] * 5 + ["too_many_wrong_codes"]
    assert "try again in 10 minutes" in acks[-1]["message_en"]
    print(f"6 guesses in {guessing:.2f} s; slowest /healthz meanwhile {slowest[0]:.3f} s")
    # Measured, not asserted: slowest /healthz over the guessing time was 0.21-0.22 with
    # scrypt on the loop (a poll waits out a whole guess) and 0.13 beside it on a quiet box,
    # but 0.23 with the fix on a loaded one: too thin to decide a CI run. That scrypt runs
    # off the loop is asserted in tests/test_packages.py instead.
    with app.app_context():
        audited = db.session.query(AuditEvent).filter_by(action="package_code_refused").all()
        assert [(a.sitting_id, a.reason) for a in audited] == [
            (sitting_id, "slot 2026-12-07-S2")
        ] * 5
        assert db.session.query(PackageRelease).count() == 0
