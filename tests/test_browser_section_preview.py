"""Headless Chromium: an administrator previews a whole exam section from the exams page and
walks it with the workstation's strip, in each language; the item is the workstation's markup."""

# ruff: noqa: F811  (pytest fixtures imported by name)
from __future__ import annotations

import pytest

from cat_server.demo import seed_demo
from cat_server.exam.catalog import public_item
from cat_server.extensions import db
from cat_server.models import Item
from tests.conftest import make_user
from tests.live import LiveServer
from tests.test_browser import browser  # noqa: F401  (the shared Chromium fixture)
from tests.test_browser_exam import shots  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def demo(app, db_url, tmp_path):
    with app.app_context():
        seed_demo()
        make_user(username="kepala", role="admin")
        tiu = db.session.execute(
            db.select(Item.id)
            .where(Item.section == "TIU", Item.status == "active")
            .order_by(Item.position)
        ).scalars()
        tiu = list(tiu)
        stems = {k: public_item(i)["stem"] for k, i in enumerate(tiu, start=1)}
    live = LiveServer(db_url, tmp_path / "server.log").start()
    live.stems = stems
    yield live
    live.stop()


def test_an_admin_previews_a_section_and_moves_through_it_with_the_strip(browser, demo, shots):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(f"{demo.url}/login")
    page.fill("input[name=username]", "kepala")
    page.fill("input[name=password]", "rahasia-123")
    page.click("button[type=submit]")
    page.goto(f"{demo.url}/admin/exams")
    page.get_by_test_id("preview-1-2").click()  # the SKD exam's TIU section
    preview = page.get_by_test_id("section-preview")
    expect(preview).to_be_visible()
    n = len(demo.stems)
    expect(page.get_by_test_id("item-strip").locator("a")).to_have_count(n)
    expect(page.get_by_test_id("progress")).to_contain_text(f"Soal 1 dari {n}")
    assert page.get_by_test_id("item-stem").inner_html() == demo.stems[1]
    page.get_by_test_id("strip-5").click()
    expect(page.get_by_test_id("progress")).to_contain_text(f"Soal 5 dari {n}")
    expect(page.get_by_test_id("strip-5")).to_have_attribute("aria-current", "true")
    assert page.get_by_test_id("item-stem").inner_html() == demo.stems[5]
    page.get_by_test_id("next-item").click()
    expect(page.get_by_test_id("progress")).to_contain_text(f"Soal 6 dari {n}")
    assert page.get_by_test_id("item-stem").inner_html() == demo.stems[6]
    page.get_by_test_id("prev-item").click()
    page.get_by_test_id("prev-item").click()
    expect(page.get_by_test_id("progress")).to_contain_text(f"Soal 4 dari {n}")
    # the workstation's own markup and stylesheet: radio options, the strip's grid
    expect(preview.locator(".options [role=radio]").first).to_be_visible()
    assert page.get_by_test_id("item-strip").evaluate("e => getComputedStyle(e).display") == "grid"
    page.screenshot(path=str(shots / "admin-section-preview-1366x768.png"), full_page=True)
    page.goto(f"{demo.url}/admin/?lang=en")
    page.goto(f"{demo.url}/admin/exams/1/sections/2/preview?n=4")
    expect(page.get_by_test_id("progress")).to_contain_text(f"Item 4 of {n}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Preview section")
    page.context.close()
