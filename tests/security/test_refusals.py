"""Refusals for load and for a foreign Origin are audited, one row per address and minute.

A login the admission guard answers 503, and a Socket.IO request from another
origin's page, happen before Flask; a row each would let a flood fill the audit
table. They are counted in memory per (action, address, minute) and written as
one row with the count (cat_server/refusals.py), shown and filtered on
``/admin/audit``.
"""

from __future__ import annotations

import time

from cat_server import refusals
from cat_server.extensions import db
from cat_server.models import AuditEvent
from tests.conftest import PIN, login_staff, make_sitting, make_user

ADMIN = ("admin", "admin-pass-1")
EVIL = "http://evil.example"


def rows(app, action):
    with app.app_context():
        found = db.session.query(AuditEvent).filter_by(action=action).order_by(AuditEvent.id)
        return [(e.actor, e.data) for e in found]


def flush_all(app, now=None):
    """What the background task does a minute later."""
    with app.app_context():
        return refusals.flush(app, (now or time.time()) + refusals.WINDOW_S + 1)


def test_a_thousand_busy_logins_are_one_audit_row_with_their_count(app):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
        make_user(ADMIN[0], "admin", ADMIN[1])
    guard = app.extensions["cat_admission"]
    guard.in_flight = app.config["MAX_LOGINS_IN_FLIGHT"]  # every slot is hashing
    client = app.test_client()
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.99"
    form = {"registration_no": "20260001", "pin": PIN}
    try:
        start = time.time()
        for _ in range(1000):
            assert client.post(f"/exam/{sitting_id}/", data=form).status_code == 503
        for _ in range(3):
            assert other.post("/login", data={"username": "x", "password": "y"}).status_code == 503
    finally:
        guard.in_flight = 0
    assert rows(app, refusals.LOGIN_BUSY) == []  # nothing written while refusing
    # the minute has not ended: nothing yet; after it, one row per address
    with app.app_context():
        assert refusals.flush(app, start) in (0, 2)  # 2 only if the minute turned meanwhile
    flush_all(app, start)
    written = rows(app, refusals.LOGIN_BUSY)
    per_address = {}
    for actor, data in written:
        per_address[actor] = per_address.get(actor, 0) + data["refused"]
    assert per_address == {"address:127.0.0.1": 1000, "address:10.0.0.99": 3}
    assert len(written) <= 4  # O(1): one per address and minute (two if a minute turned)
    assert all(data["minute"].endswith(" WIB") for _, data in written)
    # shown and filterable on /admin/audit
    admin = app.test_client()
    assert login_staff(admin, *ADMIN).status_code == 302
    page = admin.get("/admin/audit?who=addresses&action=login_busy").get_data(as_text=True)
    assert "address:127.0.0.1" in page and "address:10.0.0.99" in page
    for _, data in written:  # each row with its count (1000, or its two parts if a minute turned)
        assert f'"refused": {data["refused"]},' in page
    staff_only = admin.get("/admin/audit?who=staff").get_data(as_text=True)
    assert "login_busy" not in staff_only


def test_a_thousand_foreign_origin_sockets_are_one_audit_row_with_their_count(app):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
    client = app.test_client()
    start = time.time()
    for _ in range(1000):
        response = client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": EVIL})
        assert response.status_code == 400
    # the same origin, and no Origin at all (a non-browser client), are not refusals
    assert (
        client.get(
            "/socket.io/?EIO=4&transport=polling", headers={"Origin": "http://localhost"}
        ).status_code
        == 200
    )
    assert client.get("/socket.io/?EIO=4&transport=polling").status_code == 200
    flush_all(app, start)
    written = rows(app, refusals.FOREIGN_ORIGIN)
    assert sum(data["refused"] for _, data in written) == 1000
    assert len(written) <= 2 and {actor for actor, _ in written} == {"address:127.0.0.1"}
    assert all(data["origins"] == [EVIL] for _, data in written)  # whose page it was
    admin = app.test_client()
    assert login_staff(admin, *ADMIN).status_code == 302
    page = admin.get(f"/admin/audit?action={refusals.FOREIGN_ORIGIN}").get_data(as_text=True)
    assert "address:127.0.0.1" in page and "socket_origin_refused" in page


def test_counts_survive_a_database_that_refuses_the_write(app):
    tally = refusals.tally(app)
    tally.count(refusals.LOGIN_BUSY, "10.1.1.1", now=1000.0)
    tally.count(refusals.LOGIN_BUSY, "10.1.1.1", now=1001.0)
    tally.count(refusals.LOGIN_BUSY, "10.1.1.1", now=1075.0)  # the next minute
    assert sorted(n for _, n, _ in tally.take(1070.0)) == [2]  # only the ended minute
    assert sorted(n for _, n, _ in tally.take(2000.0)) == [1]
    assert tally.take(3000.0) == []
