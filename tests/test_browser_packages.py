"""Headless Chromium: the proctor types the issuer's release code on the console; a typo is
refused in words and the check-in stays shut; the right code opens it; the admin's packages
page shows what a centre may see. With the WAN down a fetch from the issuer says so; once
the issuer answers, one click releases the sitting.

``CAT_SCREENSHOTS=1`` also writes docs/screenshots/package-release-console.png,
package-fetch-console.png and admin-packages.png (1366x768).
"""

import os

import pytest

from cat_server import create_app
from cat_server.extensions import db
from cat_server.models import ExamPackage, PackageRelease
from tests.conftest import make_config, make_user
from tests.live import LiveServer
from tests.packages_kit import build, code_for, schedule, secrets_in, setup_keys
from tests.test_browser_proctor import SHOTS, browser, console  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def sealed_room(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
        make_user("admin", role="admin")
    issuer = setup_keys(app, tmp_path)
    runner = app.test_cli_runner()
    package = build(runner, tmp_path, issuer)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        sitting_id = schedule(exam_id, proctor=make_user(), n_candidates=2)
    live = LiveServer(db_url, tmp_path / "server.log", CENTRE_KEY_FILE=app.config["CENTRE_KEY_FILE"],
                      ISSUER_KEY_FILE=app.config["ISSUER_KEY_FILE"]).start()  # fmt: skip
    live.app, live.sitting_id = app, sitting_id
    live.code = code_for(runner, package, issuer)
    yield live
    live.stop()
    with app.app_context():
        db.engine.dispose()


def test_the_proctor_releases_the_package_on_the_console_and_a_typo_is_refused(
    browser,  # noqa: F811
    sealed_room,
):
    from playwright.sync_api import expect

    server = sealed_room
    page = console(browser, server, 1366, 768)
    expect(page.get_by_test_id("release-form")).to_be_visible()
    expect(page.get_by_test_id("release-form")).to_contain_text("slot 2026-12-07-S1")
    typo = server.code[:-1] + ("A" if server.code[-1] != "A" else "B")
    page.get_by_test_id("release-code").fill(typo)
    page.get_by_test_id("release-button").click()
    expect(page.locator(".flash-error")).to_contain_text("salah ketik")
    expect(page.get_by_test_id("release-form")).to_be_visible()
    with server.app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PackageRelease)) == 0
    page.get_by_test_id("release-code").fill(server.code.lower().replace("-", " "))
    if os.environ.get("CAT_SCREENSHOTS"):
        page.screenshot(path=str(SHOTS / "package-release-console.png"))
    page.get_by_test_id("release-button").click()
    expect(page.locator(".flash-info")).to_contain_text("Paket dibuka")
    expect(page.get_by_test_id("released")).to_contain_text("WIB")
    expect(page.get_by_test_id("check-in-button")).to_be_visible()

    admin = browser.new_page(viewport={"width": 1366, "height": 768})
    admin.goto(f"{server.url}/login")
    admin.fill("input[name=username]", "admin")
    admin.fill("input[name=password]", "rahasia-123")
    admin.click("button[type=submit]")
    admin.goto(f"{server.url}/admin/packages")
    expect(admin.locator("table")).to_contain_text("PKG v1")
    if os.environ.get("CAT_SCREENSHOTS"):
        admin.screenshot(path=str(SHOTS / "admin-packages.png"), full_page=True)
    assert secrets_in(admin.content().encode()) == []


def test_the_proctor_fetches_the_key_from_the_issuer_after_a_wan_outage(
    browser,  # noqa: F811
    tmp_path,
):
    """The WAN is down at first: the console says so and the code field stays; once the
    issuer answers, one click releases the sitting (docs/packages.md, *Fetching*)."""
    from playwright.sync_api import expect

    from tests.live import free_port
    from tests.test_packages_fetch import SOON, calendar_for, trust_at_issuer
    from tests.test_results_bundles import instance

    db_url = f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(make_config(db_url))
    with app.app_context():
        db.create_all()
    issuer = setup_keys(app, tmp_path)
    runner = app.test_cli_runner()
    package = build(runner, tmp_path, issuer)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        sitting_id = schedule(exam_id, proctor=make_user(), n_candidates=2)
    office = instance(f"sqlite:///{tmp_path / 'issuer.db'}", tmp_path, "issuer")
    trust_at_issuer(app, office, tmp_path)
    port = free_port()
    desk = LiveServer(
        f"sqlite:///{tmp_path / 'issuer.db'}",
        tmp_path / "issuer.log",
        port=port,
        CENTRE_KEYS_DIR=tmp_path / "issuer" / "keys" / "centres",
        ISSUER_PRIVATE_KEY_FILE=issuer,
        ISSUER_SCHEDULE=calendar_for(tmp_path),
    )
    server = LiveServer(
        db_url,
        tmp_path / "server.log",
        CENTRE_KEY_FILE=app.config["CENTRE_KEY_FILE"],
        ISSUER_KEY_FILE=app.config["ISSUER_KEY_FILE"],
        ISSUER_URL=f"http://127.0.0.1:{port}",
        ISSUER_FETCH_TIMEOUT=3,
    ).start()
    server.sitting_id = sitting_id
    try:
        page = console(browser, server, 1366, 768)
        fetch = page.get_by_test_id("fetch-release-button")
        expect(fetch).to_have_text("Ambil kunci dari penerbit")
        fetch.click()
        expect(page.locator(".flash-error")).to_contain_text(
            "Penerbit tidak terjangkau (WAN putus?"
        )
        expect(page.get_by_test_id("release-code")).to_be_visible()
        if os.environ.get("CAT_SCREENSHOTS"):
            page.screenshot(path=str(SHOTS / "package-fetch-console.png"))
        desk.start()  # the WAN is back
        page.get_by_test_id("fetch-release-button").click()
        expect(page.locator(".flash-info")).to_contain_text("Kunci diambil dari penerbit")
        expect(page.get_by_test_id("released")).to_contain_text("WIB")
        expect(page.get_by_test_id("check-in-button")).to_be_visible()
    finally:
        server.stop()
        desk.stop()
    with app.app_context():
        assert db.session.get(PackageRelease, sitting_id).slot == SOON
        db.engine.dispose()
