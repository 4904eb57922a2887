"""Chromium: a busy server's 503 on login shows "server busy, retrying" and the page retries itself.

The real login page against a real gunicorn. The first two login POSTs are
answered 503 with ``Retry-After: 1`` (the admission guard's answer, played by
Playwright's router so the test does not need a flood); the page must say so in
both languages, wait, and send the same form again by itself, PIN included,
landing on the exam page. Without JavaScript the server's own 503 page is shown.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cat_server.admission import MESSAGE, MESSAGE_EN, PAGE
from tests.conftest import PIN
from tests.live import one_backend_in_ci
from tests.test_browser import browser, server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def test_a_busy_login_shows_retrying_and_gets_in_by_itself(browser, server, db_url):  # noqa: F811
    one_backend_in_ci(db_url)
    page = browser.new_page()
    posts = []

    def busy_twice(route):
        if route.request.method != "POST":
            return route.continue_()
        posts.append((time.monotonic(), route.request.post_data))
        if len(posts) <= 2:
            return route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="text/html; charset=utf-8",
                body=PAGE.format(seconds=1, message=MESSAGE, message_en=MESSAGE_EN),
            )
        return route.continue_()

    page.route(f"{server.url}/exam/{server.sitting_id}/", busy_twice)
    page.goto(f"{server.url}/exam/{server.sitting_id}/")
    page.fill("input[name=registration_no]", "20260001")
    page.fill("input[name=pin]", PIN)
    page.click("button[type=submit]")
    banner = page.get_by_test_id("busy-banner")
    banner.wait_for(state="visible", timeout=5000)
    text = banner.inner_text()
    assert "sibuk" in text and "busy" in text
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / "login-server-busy.png"))
    page.wait_for_url(f"**/exam/{server.sitting_id}/take", timeout=15000)
    assert len(posts) == 3  # two refusals, then in: nothing typed again
    for _, body in posts:  # the same form every time (multipart: a boundary of its own)
        assert f'name="pin"\r\n\r\n{PIN}' in body and "20260001" in body
    assert posts[1][0] - posts[0][0] >= 0.9  # it waited for Retry-After
    page.close()
