"""The server's log as a centre reads it: one line per event, no traceback for what is expected."""

import json
import logging
import os
import signal
import time

import pytest
import requests

from tests.conftest import PIN, login_candidate, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, proctor_call
from tests.test_live_server import Workstation


def test_each_event_is_one_line_naming_sitting_seat_and_attempt(app, caplog):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, n_items=3, proctor=make_user())
    caplog.set_level(logging.INFO, logger="cat_server.events")
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    wrong = login_candidate(app.test_client(), sitting_id, "20260001", pin="000000")
    assert wrong.status_code != 302
    events = [r.cat_fields for r in caplog.records if r.name == "cat_server.events"]
    login = [e for e in events if e["event"] == "login"]
    assert len(login) == 1, events  # the refused PIN wrote nothing, so logs nothing either
    assert login[0]["sitting"] == sitting_id and login[0]["seat"] == "PC-01"
    assert login[0]["attempt"] is not None


def read_log(path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def refused_logged(path) -> int:
    return sum(
        json.loads(line).get("refused", 0) for line in read_log(path) if line.startswith("{")
    )


@pytest.mark.slow
def test_json_lines_a_foreign_origin_logged_once_and_a_quiet_sigterm(tmp_path):
    """A refused origin is one line, its audit row's; engine.io's own line is not a second."""
    from cat_server import create_app
    from cat_server.extensions import db
    from tests.conftest import make_config

    db_url = f"sqlite:///{tmp_path / 'logs.db'}"
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
        sitting_id = make_sitting(n_items=3, n_candidates=1, proctor=make_user())
    log = tmp_path / "server.log"
    server = LiveServer(db_url, log, LOG_FORMAT="json", REFUSAL_WINDOW_S=2).start()
    try:
        candidate = requests.Session()
        login = http_login(
            candidate,
            f"{server.url}/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
        )
        assert login.status_code == 302
        station = Workstation(server.url, cookie_header(candidate))
        assert proctor_call(server.url, sitting_id, "start_sitting") == {"ok": True}
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        for _ in range(3):
            state = station.answer(state)["state"]
        assert state["status"] == "finished"
        station.sio.disconnect()

        foreign = {"Origin": "http://evil.example"}
        handshake = f"{server.url}/socket.io/?EIO=4&transport=polling"
        for _ in range(3):
            assert requests.get(handshake, headers=foreign, timeout=5).status_code == 400
        time.sleep(2.2)  # the next window
        assert requests.get(handshake, headers=foreign, timeout=5).status_code == 400
        deadline = time.monotonic() + 15  # the window's end, then the next flush (every 5 s)
        while time.monotonic() < deadline and refused_logged(log) < 4:
            time.sleep(0.5)
        time.sleep(1.0)  # anything logged late would be a second line
    finally:
        os.kill(server.process.pid, signal.SIGTERM)  # as systemctl stop does
        server.process.wait(timeout=20)

    lines = read_log(log)
    ours = [json.loads(line) for line in lines if line.startswith("{")]
    assert ours, lines
    by_event = {}
    for line in ours:
        assert line["time"].endswith("+07:00"), line  # WIB, the centre's zone
        by_event.setdefault(line.get("event"), []).append(line)
    for name in ("login", "sitting_started", "attempt_finished"):
        assert name in by_event, sorted(by_event, key=str)
    candidate_login = [e for e in by_event["login"] if e["actor"].startswith("candidate:")]
    assert len(candidate_login) == 1
    for line in candidate_login + by_event["attempt_finished"]:
        assert line["sitting"] == sitting_id and line["seat"] == "PC-01" and line["attempt"]
    refusals = by_event["socket_origin_refused"]
    assert sum(r["refused"] for r in refusals) == 4, refusals  # one row per window, with its count
    assert all(r["origins"] == ["http://evil.example"] for r in refusals), refusals
    assert all(r["address"] == "127.0.0.1" and r["minute"].endswith("WIB") for r in refusals)
    # once: the audit row's line is the only line that names the origin (the access log
    # lines of the 400s do not), engine.io's "not an accepted origin" is not a second one
    naming = [
        line
        for line in lines
        if any(k in line for k in ("evil.example", "origin_refused", "accepted origin"))
    ]
    assert len(naming) == len(refusals) <= 3, naming  # 3: the first three crossed a window
    assert not any("accepted origin" in line for line in lines), lines
    access = [line for line in ours if line["logger"] == "gunicorn.access"]
    assert any(f"/exam/{sitting_id}/" in line["message"] for line in access), access
    assert not any("Traceback" in line or "greenlet is being finalized" in line for line in lines)
