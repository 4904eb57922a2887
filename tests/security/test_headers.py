"""Security headers on every response (issue 16), and pages that run under them.

Every answer, a page, an error, a download, a static file or an engine.io
poll, carries a Content-Security-Policy without inline script,
``frame-ancestors 'none'`` with X-Frame-Options DENY, nosniff and a
same-origin Referrer-Policy; pages and downloads are ``no-store`` (a PIN slip
must not come back from the browser's cache). A real gunicorn sends no
``Server: gunicorn``. Templates hold no inline script, event handler or style,
and in Chromium the candidate's, proctor's and admin's pages raise no CSP
violation while their sockets still connect.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from cat_server.extensions import db
from cat_server.models import Sitting
from tests.conftest import login_candidate, login_staff, make_sitting, make_user
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)

TEMPLATES = Path(__file__).resolve().parents[2] / "cat_server" / "templates"
ADMIN = ("admin", "admin-pass-1")


def where(response) -> str:
    """The path asked for: a Flask test response, or a requests one."""
    request = getattr(response, "request", None)
    return getattr(request, "full_path", None) or getattr(response, "url", "?")


def csp_of(response) -> dict[str, list[str]]:
    value = response.headers.get("Content-Security-Policy")
    assert value, f"no Content-Security-Policy on {where(response)}"
    return {d.split()[0]: d.split()[1:] for d in value.split(";") if d.strip()}


def check_headers(response, *, store=False):
    """The header set every answer carries; ``store``: a static file may be cached."""
    path = where(response)
    csp = csp_of(response)
    assert csp["default-src"] == ["'self'"], path
    for directive in ("script-src", "style-src"):
        sources = csp.get(directive, csp["default-src"])
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(sources), (path, csp)
    assert csp["frame-ancestors"] == ["'none'"], path
    assert csp["object-src"] == ["'none'"], path
    assert csp["base-uri"] == ["'none'"], path
    assert "'self'" in csp["connect-src"], path  # Socket.IO: same host, ws: included (CSP 3)
    assert response.headers["X-Frame-Options"] == "DENY", path
    assert response.headers["X-Content-Type-Options"] == "nosniff", path
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer"), path
    if not store:
        assert "no-store" in response.headers.get("Cache-Control", ""), path
    content_type = response.headers.get("Content-Type", "")
    assert content_type.lower().count("charset") <= 1, (path, content_type)


@pytest.fixture
def seeded(app):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        proctor = make_user()
        sitting_id = make_sitting(n_candidates=2, proctor=proctor)
        db.session.get(Sitting, sitting_id).exam.board_enabled = True
        db.session.commit()
    return sitting_id


def test_every_kind_of_answer_carries_the_security_headers(app, seeded):
    sitting_id = seeded
    anonymous = app.test_client()
    pages = [
        "/",
        "/login",
        f"/exam/{sitting_id}/",
        f"/board/{sitting_id}",
        "/healthz",
        "/no-such-page",  # 404
        f"/exam/{sitting_id}/take",  # no session: the redirect
        "/admin/",  # the redirect to the login page
        "/socket.io/?EIO=4&transport=polling",  # engine.io's own answer, outside Flask
    ]
    for path in pages:
        check_headers(anonymous.get(path))
    check_headers(anonymous.get("/static/js/exam.js"), store=True)
    # a login that fails (401), one the admission guard refuses (503, outside Flask),
    # and a candidate's exam page
    check_headers(anonymous.post("/login", data={"username": "x", "password": "y"}))
    guard = app.extensions["cat_admission"]
    guard.in_flight = app.config["MAX_LOGINS_IN_FLIGHT"]  # as if that many were hashing
    try:
        busy = anonymous.post(f"/exam/{sitting_id}/", data={"registration_no": "x", "pin": "1"})
    finally:
        guard.in_flight = 0
    assert busy.status_code == 503
    check_headers(busy)
    candidate = app.test_client()
    assert login_candidate(candidate, sitting_id, "20260001").status_code == 302
    check_headers(candidate.get(f"/exam/{sitting_id}/take"))
    # the proctor's console, report and its CSV, and a page a proctor may not see (403)
    proctor = app.test_client()
    assert login_staff(proctor).status_code == 302
    for path in (
        "/proctor/",
        f"/proctor/sittings/{sitting_id}",
        f"/proctor/sittings/{sitting_id}/report",
        f"/proctor/sittings/{sitting_id}/report.csv",
        "/admin/",
    ):
        check_headers(proctor.get(path))
    # admin pages, exports and the PIN slips (a POST's answer)
    admin = app.test_client()
    assert login_staff(admin, *ADMIN).status_code == 302
    for path in (
        "/admin/",
        "/admin/banks",
        f"/admin/sittings/{sitting_id}",
        f"/admin/scores/export.csv?sitting={sitting_id}",
        f"/admin/scores/export.xlsx?sitting={sitting_id}",
    ):
        check_headers(admin.get(path))
    # CSV downloads say their charset once (it was "text/csv; charset=utf-8; charset=utf-8")
    for client, path in (
        (admin, f"/admin/scores/export.csv?sitting={sitting_id}"),
        (proctor, f"/proctor/sittings/{sitting_id}/report.csv"),
    ):
        assert client.get(path).headers["Content-Type"] == "text/csv; charset=utf-8", path
    slips = admin.post(f"/admin/sittings/{sitting_id}/pins", data={"reason": "slip hilang"})
    assert slips.status_code == 200 and b"slip-pin" in slips.data
    check_headers(slips)


def test_templates_hold_no_inline_script_handler_or_style():
    """What CSP would block: inline <script> (a JSON data block is data), on*=, style=, javascript:."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(TEMPLATES)
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            if "src=" not in tag and 'type="application/json"' not in tag:
                found.append(f"{name}: inline {tag}")
        for match in re.finditer(r"\s(on[a-z]+|style)\s*=", text, flags=re.I):
            found.append(f"{name}: {match.group(1)}= attribute")
        if re.search(r"<style\b|javascript:", text, flags=re.I):
            found.append(f"{name}: <style> or javascript: URL")
    assert found == []


# ------------------------------------------------------------------ a real gunicorn


@pytest.mark.slow
def test_gunicorn_answers_without_its_server_header_and_with_ours(app, db_url, tmp_path):
    with app.app_context():
        sitting_id = make_sitting(n_candidates=1)
    server = LiveServer(db_url, tmp_path / "server.log").start()
    try:
        for path in ("/login", f"/exam/{sitting_id}/", "/socket.io/?EIO=4&transport=polling"):
            response = requests.get(server.url + path, timeout=10)
            assert response.status_code == 200, path
            assert "gunicorn" not in response.headers.get("Server", "").lower(), path
            check_headers(response)
        static = requests.get(server.url + "/static/css/app.css", timeout=10)
        assert "Server" not in static.headers
        check_headers(static, store=True)
        # requests gunicorn itself refuses before the app runs: its own error page, now
        # with our headers, no Server, and the request's text not echoed
        for raw, status in (
            (b"GET /<script>alert(1)</script> HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
            (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n", 431),
        ):
            head, body = raw_answer(server.port, raw)
            lines = head.split("\r\n")
            assert lines[0].startswith(f"HTTP/1.1 {status} "), lines[0]
            headers = requests.structures.CaseInsensitiveDict(
                line.split(": ", 1) for line in lines[1:] if ": " in line
            )
            assert "Server" not in headers, head
            answer = requests.Response()
            answer.headers, answer.url = headers, raw[:40]
            check_headers(answer)
            assert headers["Content-Type"] == "text/html; charset=utf-8"
            assert b"script" not in body and b"X-Big" not in body, body
    finally:
        server.stop()


def raw_answer(port: int, raw: bytes) -> tuple[str, bytes]:
    """Send ``raw`` as it is; the answer's head (text) and body, read to the close."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), body


# ------------------------------------------------------------------ Chromium

# Recorded in the page before any of its own scripts run (Playwright's init scripts are
# not subject to the page's CSP): every CSP violation, and window.print replaced.
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
window.__printed = 0;
window.print = function () { window.__printed += 1; };
"""


@pytest.mark.browser
@pytest.mark.slow
def test_pages_run_under_the_policy_in_chromium(app, db_url, tmp_path, browser):  # noqa: F811
    from playwright.sync_api import expect

    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        proctor = make_user()
        sitting_id = make_sitting(n_candidates=3, n_items=4, proctor=proctor, name="Sesi CSP")
        db.session.get(Sitting, sitting_id).exam.board_enabled = True
        db.session.commit()
    shots = Path(os.environ.get("CAT_SCREENSHOT_DIR") or tmp_path)
    server = LiveServer(db_url, tmp_path / "server.log").start()
    problems, sockets = [], []

    def new_page():
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.add_init_script(WATCH)
        page = context.new_page()

        def console(message):
            if message.location.get("url", "").endswith("/favicon.ico"):
                return  # there is none: the browser's own request, a 404
            if message.type == "error" or "Content Security Policy" in message.text:
                problems.append(f"{page.url}: console {message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
        page.on("websocket", lambda ws: sockets.append(ws.url))
        return page

    def violations(page):
        found = page.evaluate("window.__violations")
        problems.extend(f"{page.url}: CSP {v}" for v in found)

    try:
        # the candidate: login page, then the exam page waiting for the start
        candidate = new_page()
        candidate.goto(f"{server.url}/exam/{sitting_id}/")
        candidate.fill("input[name=registration_no]", "20260001")
        candidate.fill("input[name=pin]", "123456")
        candidate.click("button[type=submit]")
        expect(candidate.get_by_test_id("status-screen")).to_have_attribute(
            "data-status", "waiting"
        )
        assert any("/socket.io/" in url for url in sockets), "the exam page opened no websocket"
        candidate.screenshot(path=str(shots / "csp-exam-1366.png"))
        violations(candidate)

        # the proctor: console (live grid over its socket), then the report, printed
        proctor_page = new_page()
        proctor_page.goto(f"{server.url}/login")
        proctor_page.fill("input[name=username]", "pengawas")
        proctor_page.fill("input[name=password]", "rahasia-123")
        proctor_page.click("button[type=submit]")
        sockets.clear()
        proctor_page.goto(f"{server.url}/proctor/sittings/{sitting_id}")
        expect(proctor_page.get_by_test_id("seat-PC-01")).to_have_attribute(
            "data-status", "waiting"
        )
        assert any("/socket.io/" in url for url in sockets), "the console opened no websocket"
        # the proctor starts; the candidate sees each item and the result
        proctor_page.once("dialog", lambda dialog: dialog.accept())
        proctor_page.get_by_test_id("start-button").click()
        for n in range(1, 5):
            expect(candidate.get_by_test_id("progress")).to_have_text(
                re.compile(rf"^Soal {n} dari ")
            )
            if n == 2:
                candidate.screenshot(path=str(shots / "csp-exam-item-1366.png"))
            candidate.keyboard.press("A")
            candidate.get_by_test_id("submit-answer").click()
        expect(candidate.get_by_test_id("status-screen")).to_have_attribute(
            "data-status", "finished"
        )
        violations(candidate)
        expect(proctor_page.get_by_test_id("seat-PC-01")).to_have_attribute(
            "data-status", "finished"
        )
        proctor_page.screenshot(path=str(shots / "csp-proctor-1366.png"))
        violations(proctor_page)
        proctor_page.goto(f"{server.url}/proctor/sittings/{sitting_id}/report")
        proctor_page.get_by_role("button", name="Cetak").click()
        assert proctor_page.evaluate("window.__printed") == 1
        violations(proctor_page)

        # the public board
        board = new_page()
        board.goto(f"{server.url}/board/{sitting_id}")
        expect(board.locator("body")).to_be_visible()
        board.wait_for_timeout(500)
        violations(board)

        # the admin: dashboard, a sitting, new PINs and their slips, printed
        admin = new_page()
        admin.goto(f"{server.url}/login")
        admin.fill("input[name=username]", ADMIN[0])
        admin.fill("input[name=password]", ADMIN[1])
        admin.click("button[type=submit]")
        admin.goto(f"{server.url}/admin/")
        admin.screenshot(path=str(shots / "csp-admin-1366.png"))
        violations(admin)
        admin.goto(f"{server.url}/admin/sittings/{sitting_id}")
        admin.get_by_test_id("sitting-pins").locator("input[name=reason]").fill("cetak ulang")
        admin.get_by_test_id("sitting-pins").locator("button[type=submit]").click()
        admin.get_by_role("button", name=re.compile("^Cetak")).click()
        assert admin.evaluate("window.__printed") == 1
        violations(admin)
    finally:
        server.stop()
    assert problems == []
