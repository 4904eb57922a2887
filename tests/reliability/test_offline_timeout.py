"""Time ends while the candidate is offline (real gunicorn, real Socket.IO client).

The workstation answers, then loses its connection; the deadline passes while it
is away. The server finishes the attempt at the deadline by itself; when the
workstation comes back it is told the attempt ended because time was up, and
the answer it had queued offline is rejected (with the reason), not stored.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from cat_server.extensions import db
from cat_server.models import Attempt, Response, utcnow
from tests.conftest import PIN, make_sitting, make_user
from tests.live import LiveServer, cookie_header, http_login, proctor_call
from tests.test_live_server import Workstation

pytestmark = pytest.mark.slow


def test_time_ends_while_offline_the_server_finishes_and_a_late_answer_is_refused(
    app, db_url, tmp_path
):
    with app.app_context():
        sitting_id = make_sitting(n_items=5, n_candidates=1, duration_s=3600, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "server.log", REAPER_INTERVAL=0.2).start()
    try:
        candidate = requests.Session()
        assert (
            http_login(
                candidate,
                f"{server.url}/exam/{sitting_id}/",
                {"registration_no": "20260001", "pin": PIN},
            ).status_code
            == 302
        )
        assert proctor_call(server.url, sitting_id, "start_sitting")["ok"]
        station = Workstation(server.url, cookie_header(candidate))
        state = station.wait_state(lambda s: s["status"] == "in_progress")
        ack = station.answer(state, "A")
        assert ack["ok"], ack
        queued = ack["state"]  # the item the candidate answers while offline
        station.sio.disconnect()  # the cable is pulled

        with app.app_context():  # the last 2 seconds run out while offline
            attempt = db.session.query(Attempt).one()
            attempt.deadline_at = utcnow() + timedelta(seconds=2)
            db.session.commit()
            deadline = attempt.deadline_at
        waited = time.monotonic() + 15
        while time.monotonic() < waited:
            with app.app_context():
                attempt = db.session.query(Attempt).one()
                if attempt.status == "finished":
                    break
            time.sleep(0.2)
        assert attempt.status == "finished" and attempt.finish_reason == "time_up"
        late_by = (attempt.finished_at - deadline).total_seconds()
        assert 0 <= late_by < 2.0, f"finished {late_by:.2f} s after the deadline"
        seats = proctor_call(server.url, sitting_id, "watch")["seats"]
        assert seats[0]["status"] == "finished"

        back = Workstation(server.url, cookie_header(candidate))  # the cable is back
        ended = back.wait_state(lambda s: s["status"] == "finished")
        assert ended["finish_reason"] == "time_up"
        late = back.answer(queued, "B")  # the answer queued offline
        assert late["ok"] is False and late["error"] in ("time_up", "not_in_progress"), late
        assert late["state"]["status"] == "finished"
        assert late["state"]["finish_reason"] == "time_up"  # told why
        assert late["message"]
        back.sio.disconnect()
    finally:
        server.stop()
    with app.app_context():
        assert db.session.query(Response).count() == 1  # only the answer made in time
        assert db.session.query(Attempt).one().n_answered == 1
