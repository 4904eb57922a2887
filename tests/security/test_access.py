"""Access: who may reach what (issue 9).

- a candidate cannot answer, mark or end another candidate's attempt;
- a candidate's session gets 302 (to the login page), 401 or 403 on every staff
  route, and no /proctor socket;
- a websocket from a foreign Origin is refused (real gunicorn, python-socketio
  and a plain websocket-client), the same origin is let in;
- the session cookie changes at login (candidate and staff), the pre-login
  cookie grants nothing, and the cookie is HttpOnly, SameSite=Lax, and Secure
  when CAT_SESSION_COOKIE_SECURE=true.
"""

from __future__ import annotations

import re

import pytest
import requests
import socketio as sio_client
import websocket

from cat_server.extensions import db, socketio
from cat_server.models import Attempt, AuditEvent, Item, ItemBank, Presentation, Response
from tests.conftest import PIN, login_candidate, make_sitting, make_user
from tests.live import LiveServer, cookie_header, csrf_token, http_login
from tests.security.exams import build_skd_adaptive

EVIL = "http://evil.example"


def test_a_candidate_cannot_answer_mark_or_end_another_attempt(app):
    with app.app_context():
        built = build_skd_adaptive(n_candidates=2, status="started", proctor=make_user())
    socks = []
    for reg in ("S0001", "S0002"):
        client = app.test_client()
        assert login_candidate(client, built["sitting"], reg, PIN).status_code == 302
        socks.append(
            socketio.test_client(
                app, namespace="/exam", flask_test_client=client, auth={"device": reg}
            )
        )
    mine, theirs = socks
    state = [e for e in theirs.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    victim, item = state["attempt"], state["items"][0]["item"]["id"]
    for event, payload in (
        ("answer", {"attempt": victim, "seq": 1, "item": item, "choice": "A"}),
        ("mark", {"attempt": victim, "seq": 1, "marked": True}),
        ("finish_section", {"attempt": victim, "section": 1}),
    ):
        ack = mine.emit(event, payload, namespace="/exam", callback=True)
        assert ack["ok"] is False and ack["error"] == "bad_payload", (event, ack)
        assert ack["field"] == "attempt"
    with app.app_context():
        assert db.session.query(Response).count() == 0
        other = db.session.get(Attempt, victim)
        assert other.section_index == 1 and other.n_answered == 0
        assert not db.session.query(Presentation).filter_by(attempt_id=victim, marked=True).count()
    # the victim's own answer still goes through
    ack = theirs.emit(
        "answer",
        {"attempt": victim, "seq": 1, "item": item, "choice": "A"},
        namespace="/exam",
        callback=True,
    )
    assert ack["ok"], ack


def staff_urls(app, ids: dict) -> list[tuple[str, str]]:
    """(method, url) of every /admin and /proctor route, its arguments filled with real ids."""
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/admin", "/proctor")):
            continue
        values = {arg: ids[arg] for arg in rule.arguments}
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((method, url))
    return urls


def test_a_candidate_session_reaches_no_staff_route(app):
    with app.app_context():
        make_user("admin", role="admin")
        sitting_id = make_sitting(proctor=make_user())
        item = db.session.query(Item).first()
        bank = db.session.query(ItemBank).first()
        ids = {
            "sitting_id": sitting_id,
            "bank_id": bank.id,
            "item_id": item.id,
            "fmt": "csv",
            "token": "x",
            "attempt_id": 1,
            "candidate_id": 1,
            "exam_id": 1,
            "user_id": 1,
            "position": 1,  # a section's place in its exam (the section preview)
        }
        urls = staff_urls(app, ids)
    assert len(urls) >= 20, urls
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    with app.app_context():
        audit_before = db.session.query(AuditEvent).count()
    for method, url in urls:
        response = client.open(url, method=method, data={"reason": "x", "name": "x"})
        assert response.status_code in (302, 401, 403), (method, url, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], (method, url)
    with app.app_context():  # nothing happened on the candidate's say-so
        assert db.session.query(AuditEvent).count() == audit_before
    refused = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    assert not refused.is_connected("/proctor")


@pytest.fixture
def live(app, db_url, tmp_path):
    with app.app_context():
        proctor = make_user()
        sitting_id = make_sitting(n_candidates=2, proctor=proctor)
    server = LiveServer(db_url, tmp_path / "server.log").start()
    yield server, sitting_id
    server.stop()


def session_cookie(response) -> str | None:
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            return header
    return None


def attrs(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]} | {
        f"samesite={m.lower()}" for m in re.findall(r"SameSite=(\w+)", set_cookie)
    }


@pytest.mark.slow
def test_websockets_from_a_foreign_origin_are_refused(live):
    server, sitting_id = live
    candidate = requests.Session()
    assert (
        http_login(
            candidate,
            f"{server.url}/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
        ).status_code
        == 302
    )
    cookie = cookie_header(candidate)

    evil = sio_client.Client(reconnection=False)
    with pytest.raises(sio_client.exceptions.ConnectionError):
        evil.connect(
            server.url,
            namespaces=["/exam"],
            transports=["websocket"],
            headers={"Cookie": cookie, "Origin": EVIL},
            wait_timeout=5,
        )
    evil.disconnect()
    with pytest.raises(sio_client.exceptions.ConnectionError):  # long-polling too
        sio_client.Client(reconnection=False).connect(
            server.url,
            namespaces=["/exam"],
            transports=["polling"],
            headers={"Cookie": cookie, "Origin": EVIL},
            wait_timeout=5,
        )

    ws_url = server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url, timeout=5, origin=EVIL, cookie=cookie)
    assert refused.value.status_code in (400, 403)

    # the same origin (what our own page sends) is let in
    own = websocket.create_connection(ws_url, timeout=5, origin=server.url, cookie=cookie)
    assert own.recv().startswith("0{")
    own.close()
    # python-socketio sends its own Origin (the server's URL) when given none: let in
    friend = sio_client.Client(reconnection=False)
    friend.connect(
        server.url,
        namespaces=["/exam"],
        transports=["websocket"],
        headers={"Cookie": cookie},
        wait_timeout=5,
    )
    assert friend.call("sync", namespace="/exam", timeout=5)["ok"]
    friend.disconnect()


@pytest.mark.slow
def test_the_session_cookie_changes_at_login_and_carries_its_flags(live):
    server, sitting_id = live
    for page, fields, protected in (
        (
            f"/exam/{sitting_id}/",
            {"registration_no": "20260001", "pin": PIN},
            f"/exam/{sitting_id}/take",
        ),
        ("/login", {"username": "pengawas", "password": "rahasia-123"}, "/proctor/"),
    ):
        browser = requests.Session()
        browser.get(server.url + page, timeout=10)  # the login page plants a session (CSRF)
        planted = browser.cookies.get("session")
        assert planted, f"{page}: no session cookie before login"
        response = http_login(browser, server.url + page, fields)
        assert response.status_code == 302, (page, response.status_code, response.text[:600])
        set_cookie = session_cookie(response)
        assert set_cookie, f"{page}: login set no session cookie"
        assert browser.cookies.get("session") != planted, f"{page}: session kept at login"
        flags = attrs(set_cookie)
        assert {"httponly", "samesite=lax"} <= flags, set_cookie
        assert "secure" not in flags  # plain http in this test; see the next test
        # the pre-login cookie (what an attacker could have planted) grants nothing
        fixed = requests.get(
            server.url + protected, cookies={"session": planted}, allow_redirects=False, timeout=10
        )
        assert fixed.status_code in (302, 401, 403), (page, fixed.status_code)
        assert (
            browser.get(server.url + protected, allow_redirects=False, timeout=10).status_code
            == 200
        )


@pytest.mark.slow
def test_cookies_are_secure_when_configured(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1, proctor=make_user())
    server = LiveServer(db_url, tmp_path / "server.log", SESSION_COOKIE_SECURE="true").start()
    try:
        # a Secure cookie is not sent back over plain http: carry it by hand
        page = requests.get(f"{server.url}/exam/{sitting_id}/", timeout=10)
        assert "secure" in attrs(session_cookie(page))
        planted = session_cookie(page).split(";")[0]
        response = requests.post(
            f"{server.url}/exam/{sitting_id}/",
            data={"registration_no": "20260001", "pin": PIN, "csrf_token": csrf_token(page.text)},
            headers={"Cookie": planted},
            allow_redirects=False,
            timeout=10,
        )
        assert response.status_code == 302, response.text[:300]
        flags = attrs(session_cookie(response))
        assert {"secure", "httponly", "samesite=lax"} <= flags, session_cookie(response)
    finally:
        server.stop()
