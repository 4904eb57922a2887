"""The admin header on one line at 1366x768 in Chromium (issue 18): the menu in Indonesian,
its longest words, beside the brand, the page's title, the account and the language switch;
a long title gives way (an ellipsis: the page's h1 and the tab carry it whole)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cat_server.demo import seed_demo
from cat_server.extensions import db
from cat_server.models import User
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_browser import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(os.environ.get("CAT_SHOTS", "/tmp"))
# every kind of admin page: short titles, long ones (a bank's name, a sitting's), forms
PAGES = [
    "/admin/",
    "/admin/banks",
    "/admin/banks/1",
    "/admin/banks/1/stats",
    "/admin/packages",
    "/admin/exams/build",
    "/admin/sittings",
    "/admin/sittings/1",
    "/admin/scores",
    "/admin/results/",
    "/admin/calibration",
    "/admin/users",
    "/admin/audit",
]


@pytest.fixture
def server(app, db_url, tmp_path):
    with app.app_context():
        seed_demo()
        make_user("kepala", "admin", "admin-pass-1")
        db.session.execute(  # a real person's name, not a short login
            db.update(User).where(User.username == "kepala").values(name="Kepala UPT Jakarta")
        )
        db.session.commit()
    live = LiveServer(db_url, tmp_path / "server.log", MEDIA_DIR=str(tmp_path / "media")).start()
    yield live
    live.stop()


@pytest.mark.parametrize("lang", ["id", "en"], ids=["Indonesian", "English"])
def test_the_admin_header_is_one_line_at_1366x768(server, db_url, lang):
    from playwright.sync_api import expect, sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{server.url}/login?lang={lang}")
        page.fill("input[name=username]", "kepala")
        page.fill("input[name=password]", "admin-pass-1")
        page.click("button[type=submit]")
        expect(page.locator(".admin-nav")).to_be_visible()
        tall = {}
        for path in PAGES:
            page.goto(f"{server.url}{path}")
            header = page.locator("header.topbar")
            expect(header).to_be_visible()
            box = header.bounding_box()
            links = [a.bounding_box() for a in page.locator(".admin-nav a").all()]
            parts = [
                page.locator(selector).bounding_box()
                for selector in (
                    ".topbar .brand",
                    ".topbar .admin-nav",
                    ".topbar .header-form",
                    ".topbar .lang-switch",
                )
            ]
            one_row = len({round(link["y"]) for link in links}) == 1 and all(
                part["y"] < box["y"] + 20 and part["x"] + part["width"] <= 1366 for part in parts
            )
            if box["height"] > 56 or not one_row:  # min-height 3.25rem: one line of links
                tall[path] = box["height"]
                page.screenshot(path=str(SHOTS / f"admin-header-{lang}-{len(tall)}.png"))
        if db_url.startswith("sqlite"):
            page.goto(f"{server.url}/admin/sittings/1")
            page.screenshot(path=str(SHOTS / f"admin-header-{lang}-1366.png"))
        browser.close()
    assert not tall, f"the header wraps at 1366 px on {tall}"
