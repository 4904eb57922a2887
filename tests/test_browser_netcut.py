"""Chromium through a TCP proxy: the network (not the server) goes away mid-exam.

The workstation's browser reaches the real gunicorn only through
``tests.netproxy.TcpProxy``; the proctor stays on the server's own port. The
proxy drops every connection and refuses new ones for a while: the page shows
its offline banner, an answer chosen meanwhile waits in the page's queue, and
when the network is back it is sent by the page itself and stored once; the
proctor saw the seat disconnected and sees it back.
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest

from cat_server.extensions import db
from cat_server.models import Attempt, Response
from tests.live import one_backend_in_ci
from tests.netproxy import TcpProxy
from tests.test_browser import browser  # noqa: F401  (fixture)
from tests.test_browser_exam import (  # noqa: F401  (fixture skd)
    VIEWPORT,
    keyboard_login,
    proctor_call,
    skd,
    start_sitting,
    strip,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_network_cut_shows_offline_and_the_queued_answer_lands_once(app, browser, skd, db_url):  # noqa: F811
    from playwright.sync_api import expect

    one_backend_in_ci(db_url)

    proxy = TcpProxy(skd.port).start()
    through = SimpleNamespace(url=proxy.url, sitting_id=skd.sitting_id)
    try:
        page = browser.new_context(viewport=VIEWPORT).new_page()
        keyboard_login(page, through)
        start_sitting(skd)  # the proctor: straight to the server
        expect(page.get_by_test_id("status-screen")).to_have_attribute("data-status", "in_progress")
        page.keyboard.press("A")
        wait_saved(page)
        with app.app_context():
            deadline = db.session.query(Attempt).one().deadline_at

        proxy.cut("reset")
        expect(page.get_by_test_id("offline-banner")).to_be_visible(timeout=15000)
        seat = proctor_call(skd, "watch")["seats"][0]
        for _ in range(50):
            if seat["status"] == "disconnected":
                break
            time.sleep(0.2)
            seat = proctor_call(skd, "watch")["seats"][0]
        assert seat["status"] == "disconnected" and not seat["connected"], seat
        page.keyboard.press("ArrowRight")
        page.keyboard.press("B")
        expect(page.get_by_test_id("offline-queued")).to_have_text("Jawaban menunggu dikirim: 1")
        expect(strip(page, 2)).to_have_class(re.compile(r"\banswered\b"))
        time.sleep(3.0)  # the network stays away a while

        proxy.restore()
        expect(page.get_by_test_id("offline-banner")).to_be_hidden(timeout=30000)
        wait_saved(page)
        assert page.evaluate("localStorage.getItem('cat-exam-queue-1')") is None
        seat = proctor_call(skd, "watch")["seats"][0]
        assert seat["connected"] and seat["status"] == "answering", seat
        page.context.close()
    finally:
        proxy.close()
    with app.app_context():
        rows = db.session.execute(
            db.select(Response.seq, Response.choice).order_by(Response.n)
        ).all()
        assert [tuple(r) for r in rows] == [(1, "A"), (2, "B")]  # once each
        assert db.session.query(Attempt).one().deadline_at == deadline  # not credited
