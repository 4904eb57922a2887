"""A retired item is never newly delivered by any process once the retire returns (issue 16).

Two gunicorn processes on one PostgreSQL and Redis, as a centre runs them. Each
keeps per-process caches of items, pools and adaptive banks; the retire on A
must reach B's next pick, while a running fixed form stays as it was drawn.
"""

import secrets

import pytest
import requests

from tests.conftest import PIN, make_config, make_user
from tests.live import LiveServer, cookie_header, csrf_token, http_login
from tests.test_live_server import Workstation
from tests.test_sections import build_sitting

pytestmark = pytest.mark.slow

LINEAR = [dict(code=f"L{i}", section="LIN", model="2pl", a=1.0, b=0.0, key="A") for i in (1, 2, 3)]
ADAPTIVE = [
    dict(code=f"A{i}", section="ADA", model="2pl", a=0.8 + 0.2 * i, b=-1.5 + 0.5 * i, key="A")
    for i in range(1, 7)
]
SECTIONS = [
    dict(code="LIN", name="Linear", n_items=3),
    dict(code="ADA", name="Adaptive", mode="adaptive", n_items=3, min_items=3),
]


def sit_down(server, sitting_id, number, on=None):
    """Log in on ``server``; the workstation's socket on ``on`` (nginx may send it anywhere)."""
    browser = requests.Session()
    page = f"{server.url}/exam/{sitting_id}/"
    assert http_login(browser, page, {"registration_no": number, "pin": PIN}).status_code == 302
    station = Workstation((on or server).url, cookie_header(browser))
    return station, station.wait_state(lambda s: s["status"] == "in_progress")


def answer(station, state):
    ack = station.answer(state, "A")
    assert ack["ok"], ack
    return ack["state"]


def item_codes(app, ids):
    from cat_server.extensions import db
    from cat_server.models import Item

    with app.app_context():
        return [db.session.get(Item, i).code for i in ids]


def test_a_retire_on_one_process_reaches_the_next_pick_on_the_other(pg_url, redis_url, tmp_path):
    from cat_server import create_app
    from cat_server.extensions import db
    from cat_server.models import Attempt, AuditEvent, Item, Presentation

    app = create_app(make_config(pg_url))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sitting_id = build_sitting(SECTIONS, LINEAR + ADAPTIVE, n_candidates=3, duration_s=3600)
        make_user("admin", "admin", "admin-pass-1")
        ids = {item.code: item.id for item in db.session.query(Item)}
    channel = f"cat-test-{secrets.token_hex(4)}"
    a = LiveServer(pg_url, tmp_path / "a.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    b = LiveServer(pg_url, tmp_path / "b.log", REDIS_URL=redis_url, SOCKETIO_CHANNEL=channel)
    a.start(), b.start()
    stations = []
    try:
        # R2 on B: through the linear section and one adaptive pick, so B has the pool cached
        r2, state = sit_down(b, sitting_id, "R2")
        stations.append(r2)
        while state["seq"] <= 4:  # seqs 1-3 linear, 4.. adaptive
            state = answer(r2, state)
        assert state["seq"] == 5
        # R1 logs in on A, answers on B: its linear form is drawn and stored
        r1, state1 = sit_down(a, sitting_id, "R1", on=b)
        stations.append(r1)
        state1 = answer(r1, state1)
        with app.app_context():
            form = db.session.get(Attempt, 2).form  # R1's attempt is the second made
            shown_r2 = set(
                db.session.execute(
                    db.select(Presentation.item_id).where(Presentation.attempt_id == 1)
                ).scalars()
            )
        assert len(form) == 3
        unshown = [ids[c] for c in sorted(ids) if c.startswith("A") and ids[c] not in shown_r2]
        keep, retired_adaptive = unshown[0], unshown[1:]
        retired = {form[2], *retired_adaptive}

        admin = requests.Session()
        login = {"username": "admin", "password": "admin-pass-1"}
        assert http_login(admin, f"{a.url}/login", login).status_code == 302
        token = csrf_token(admin.get(f"{a.url}/admin/banks/1", timeout=10).text)
        refused = admin.post(  # no reason, no retire
            f"{a.url}/admin/items/{form[2]}/status",
            data={"status": "retired", "reason": " ", "csrf_token": token},
            allow_redirects=False,
            timeout=10,
        )
        assert refused.status_code == 400
        with app.app_context():
            assert db.session.get(Item, form[2]).status == "active"
        for item_id in sorted(retired):
            done = admin.post(
                f"{a.url}/admin/items/{item_id}/status",
                data={"status": "retired", "reason": "soal bocor", "csrf_token": token},
                allow_redirects=False,
                timeout=10,
            )
            assert done.status_code == 302, done.text[:300]

        # B's next adaptive pick for R2: the one unshown item still active
        state = answer(r2, state)
        assert state["item"]["id"] == keep
        assert answer(r2, state)["status"] == "finished"
        # R1's running linear form is the one it drew, retired item included
        state1 = answer(r1, state1)
        assert state1["item"]["id"] == form[2]
        state1 = answer(r1, state1)
        picks = []
        while state1["status"] == "in_progress":
            picks.append(state1["item"]["id"])
            state1 = answer(r1, state1)
        assert picks and not set(picks) & retired, item_codes(app, picks)
        # R3, logging in on B after the retire: a form without it
        r3, state3 = sit_down(b, sitting_id, "R3")
        stations.append(r3)
        with app.app_context():
            form3 = db.session.get(Attempt, 3).form
            assert not set(form3) & retired and len(form3) == 2
            reasons = db.session.query(AuditEvent).filter_by(action="item_status").all()
            assert len(reasons) == len(retired)
            assert {e.reason for e in reasons} == {"soal bocor"}
    finally:
        for station in stations:
            station.sio.disconnect()
        a.stop()
        b.stop()
