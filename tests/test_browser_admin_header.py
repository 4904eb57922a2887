"""The admin header on one line at 1366x768 in Chromium (issue 18): the menu in Indonesian,
its longest words, beside the brand, the account and the language switch (the page's title,
which the page's h1 and the tab carry, steps aside at this width)."""

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


def header_height_unless_one_line(page, width: int) -> float | None:
    """The header's height if its parts do not sit in one row inside ``width``, else None."""
    from playwright.sync_api import expect

    header = page.locator("header.topbar")
    expect(header).to_be_visible()
    box = header.bounding_box()
    links = [a.bounding_box() for a in page.locator(".admin-nav a").all()]
    parts = [
        page.locator(f".topbar {selector}").bounding_box()
        for selector in (".brand", ".admin-nav", ".header-form", ".lang-switch")
    ]
    one_row = len({round(link["y"]) for link in links}) == 1 and all(
        part["y"] < box["y"] + 20 and part["x"] + part["width"] <= width for part in parts
    )
    return None if box["height"] <= 56 and one_row else box["height"]  # min-height 3.25rem


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
        for width in (1366, 1349):  # and with a classic 17 px scrollbar beside the page
            page.set_viewport_size({"width": width, "height": 768})
            for path in PAGES if width == 1366 else PAGES[-1:]:
                page.goto(f"{server.url}{path}")
                height = header_height_unless_one_line(page, width)
                if height is not None:
                    tall[f"{path} at {width}"] = height
                    page.screenshot(path=str(SHOTS / f"admin-header-{lang}-{len(tall)}.png"))
        page.set_viewport_size({"width": 1366, "height": 768})
        if db_url.startswith("sqlite"):
            page.goto(f"{server.url}/admin/sittings/1")
            page.screenshot(path=str(SHOTS / f"admin-header-{lang}-1366.png"))
            page.set_viewport_size({"width": 1920, "height": 1080})  # room for the title
            expect(page.locator(".topbar .page-title")).to_be_visible()
            page.screenshot(path=str(SHOTS / f"admin-header-{lang}-1920.png"))
        browser.close()
    assert not tall, f"the header wraps at 1366 px on {tall}"
