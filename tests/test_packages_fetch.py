"""The release code fetched from the issuer when the WAN is up (issue 21, item 3; docs/packages.md).

The centre is this process's app; the issuer is a real gunicorn server
(tests/live.py) with its own database, its private key, a release calendar and
the centre's key trusted. A fetch works inside the slot's window and takes the
typed code's path; a request before the window, from an untrusted centre,
replayed, forged or stale is refused and audited there; with the WAN down the
proctor is told so and the typed code still opens the sitting.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from cat_server.extensions import db
from cat_server.issuer.releases import IssuerRequest
from cat_server.models import AuditEvent, ExamPackage, PackageRelease, Sitting, utcnow
from cat_server.sealed import exchange, keys
from cat_server.sealed.fetch import FetchFailed, fetch_release
from tests.conftest import login_staff, make_user
from tests.live import LiveServer, free_port
from tests.packages_kit import build, code_for, schedule, setup_keys
from tests.test_results_bundles import cli, instance

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_hashes")]
SOON, LATER = "2026-12-07-S1", "2026-12-07-S2"


@pytest.fixture
def issuer_db(db_url, request, tmp_path):
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'issuer.db'}"
    return request.getfixturevalue("new_pg_database")()


@pytest.fixture
def centre(app, runner, tmp_path):
    """(issuer key file, package file, exam id): the package built by the issuer, imported here."""
    issuer_key = setup_keys(app, tmp_path)
    app.config["CENTRE_ID"] = "UPT-JAKARTA"
    package = build(runner, tmp_path, issuer_key)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
    return issuer_key, package, exam_id


def trust_at_issuer(app, office, tmp_path) -> None:
    """The issuer trusts this centre's key as UPT-JAKARTA."""
    public = tmp_path / "jakarta.pub"
    with app.app_context():
        public.write_bytes(keys.public_pem(keys.centre_public_key()))
    assert cli(office, "keys", "trust-centre", "UPT-JAKARTA", public).exit_code == 0


def calendar_for(tmp_path):
    """The issuer's calendar: slot S1 starts in 10 minutes, S2 in 2 hours (window: 30 min)."""
    calendar = tmp_path / "issuer" / "calendar.csv"
    soon = (utcnow() + timedelta(minutes=10)).isoformat()  # with its offset, +00:00
    later = (utcnow() + timedelta(hours=2)).astimezone(_wib()).replace(tzinfo=None).isoformat()
    calendar.write_text(
        f"package_id,slot,starts_at\nPKG,{SOON},{soon}\nPKG,{LATER},{later}\n", encoding="utf-8"
    )
    return calendar


@pytest.fixture
def issuer(app, centre, issuer_db, tmp_path):
    """The issuer's live server, trusting this centre, with the calendar above."""
    issuer_key, _, _ = centre
    office = instance(issuer_db, tmp_path, "issuer")
    trust_at_issuer(app, office, tmp_path)
    server = LiveServer(
        issuer_db,
        tmp_path / "issuer.log",
        CENTRE_KEYS_DIR=tmp_path / "issuer" / "keys" / "centres",
        ISSUER_PRIVATE_KEY_FILE=issuer_key,
        ISSUER_SCHEDULE=calendar_for(tmp_path),
    ).start()
    app.config["ISSUER_URL"] = server.url
    yield office, server
    server.stop()


def _wib():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Jakarta")


def audits(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        query = db.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return db.session.execute(query).scalars().all()


def stored(app) -> dict:
    with app.app_context():
        return {
            "releases": db.session.query(PackageRelease).count(),
            "audits": db.session.query(AuditEvent).count(),
        }


def test_a_proctor_fetches_the_code_in_the_slots_window_and_not_before_it(
    app, runner, centre, issuer, caplog, tmp_path
):
    issuer_key, package, exam_id = centre
    office, server = issuer
    with app.app_context():
        proctor = make_user()
        soon = schedule(exam_id, SOON, proctor=proctor)
        later = schedule(exam_id, LATER, proctor=proctor)
        actor = f"user:{proctor.id}"
    staff = app.test_client()
    assert login_staff(staff).status_code == 302
    page = staff.get(f"/proctor/sittings/{soon}").get_data(as_text=True)
    assert 'data-testid="fetch-release-button"' in page and "Ambil kunci dari penerbit" in page

    caplog.set_level(logging.DEBUG)
    answer = staff.post(f"/proctor/sittings/{soon}/release/fetch", follow_redirects=True)
    page = answer.get_data(as_text=True)
    assert "Kunci diambil dari penerbit" in page and 'data-testid="released"' in page
    released = audits(app, "package_released")
    assert [(a.actor, a.data["slot"], a.data["via"]) for a in released] == [
        (actor, SOON, "fetched")
    ]
    with office.app_context():
        given = audits(office, "release_fetched")
        assert [
            (a.actor, a.data["package"], a.data["slot"], a.data["centre_sitting"]) for a in given
        ] == [("centre:UPT-JAKARTA", "PKG", SOON, soon)]

    # two hours before its slot: the issuer says when the code is given, nothing is stored
    before = stored(app)
    result = runner.invoke(args=["package", "release", "--sitting", str(later), "--fetch"])
    assert result.exit_code == 2, result.output
    assert "The issuer refused: Slot 2026-12-07-S2 starts" in result.output
    assert "WIB" in result.output and "A typed release code still works" in result.output
    assert stored(app) == before
    with office.app_context():
        refused = audits(office, "release_fetch_refused")
        assert [r.reason.split(":")[0] for r in refused] == ["too_early"]
    # typed, that slot's code is refused as early too: the package signs each slot's start and
    # the centre takes a code only in the slot's window (issue 21), whoever brings it
    typed = runner.invoke(
        args=[
            "package",
            "release",
            "--sitting",
            str(later),
            "--code",
            code_for(runner, package, issuer_key, LATER),
        ]
    )
    assert typed.exit_code == 2, typed.output
    assert "Slot 2026-12-07-S2 has not begun" in typed.output
    assert stored(app) == before

    # the code was never written down: not in either log, nor in the issuer's database
    code = code_for(runner, package, issuer_key, SOON)
    server.stop()
    assert code not in (tmp_path / "issuer.log").read_text() and code not in caplog.text
    with office.app_context():
        rows = db.session.execute(sa.select(AuditEvent.data, AuditEvent.reason)).all()
        assert code not in json.dumps([list(r) for r in rows])


def post(server, data: bytes):
    return requests.post(f"{server.url}/api/v1/releases", data=data, timeout=10)


def request_for(app, slot=SOON, now=None, key=None):
    with app.app_context():
        return exchange.make_request(
            key or keys.centre_private_key(),
            centre="UPT-JAKARTA",
            package_id="PKG",
            slot=slot,
            sitting={"id": 1, "scheduled_at": None},
            now=now or utcnow(),
        )


def test_replayed_forged_stale_untrusted_and_unscheduled_requests_are_refused(
    app, runner, centre, issuer
):
    issuer_key, package, _ = centre
    office, server = issuer
    data, reply, body = request_for(app)
    answer = post(server, data)
    assert answer.status_code == 200
    with app.app_context():
        opened = exchange.open_answer(answer.json(), keys.issuer_public_key(), body, reply)
    assert opened == code_for(runner, package, issuer_key, SOON)
    assert SOON.encode() in data and opened.encode() not in answer.content  # sealed to the centre

    # the same request again, as someone on the wire would send it
    again = post(server, data)
    assert again.status_code == 409 and again.json()["error"] == "replayed"
    # the slot changed after signing
    forged = json.loads(data)
    forged["body"]["slot"] = LATER
    forged["body"]["nonce"] = os.urandom(16).hex()
    refused = post(server, json.dumps(forged).encode())
    assert refused.status_code == 403 and refused.json()["error"] == "forged"
    # signed ten minutes ago and held back
    stale, _, _ = request_for(app, now=utcnow() - timedelta(minutes=10))
    refused = post(server, stale)
    assert (
        refused.status_code == 403
        and "check the centre server's clock" in refused.json()["message_en"]
    )
    # a centre the issuer does not trust
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger, _, _ = request_for(app, key=Ed25519PrivateKey.generate())
    refused = post(server, stranger)
    assert refused.status_code == 403 and refused.json()["error"] == "untrusted_centre"
    assert "not trusted by the issuer" in refused.json()["message_en"]
    # a slot that is in no calendar row
    unscheduled, _, _ = request_for(app, slot="2026-12-08-S1")
    refused = post(server, unscheduled)
    assert refused.status_code == 404 and refused.json()["error"] == "not_scheduled"
    # an answer kept from before does not open for a new request
    _, new_reply, new_body = request_for(app)
    with app.app_context(), pytest.raises(exchange.ExchangeProblem, match="another request"):
        exchange.open_answer(answer.json(), keys.issuer_public_key(), new_body, new_reply)

    with office.app_context():
        given = audits(office, "release_fetched")
        refusals = [r.reason.split(":")[0] for r in audits(office, "release_fetch_refused")]
        outcomes = sorted(db.session.execute(sa.select(IssuerRequest.outcome)).scalars())
    assert len(given) == 1
    assert refusals == ["replayed", "forged", "stale", "untrusted centre key", "not_scheduled"]
    assert outcomes == ["answered", "not_scheduled"]


def test_with_the_wan_down_the_proctor_is_told_and_the_typed_code_still_works(app, runner, centre):
    issuer_key, package, exam_id = centre
    app.config["ISSUER_URL"] = f"http://127.0.0.1:{free_port()}"  # nobody answers there
    with app.app_context():
        proctor = make_user()
        sitting_id = schedule(exam_id, SOON, proctor=proctor)
    before = stored(app)
    with app.app_context(), pytest.raises(FetchFailed) as failed:
        fetch_release(sitting_id, "cli")
    assert "The issuer cannot be reached (WAN down? ConnectionError)" in failed.value.message_en
    assert "Penerbit tidak terjangkau" in failed.value.message
    assert stored(app) == before

    staff = app.test_client()
    assert login_staff(staff).status_code == 302
    before = stored(app)  # the login is audited
    page = staff.post(f"/proctor/sittings/{sitting_id}/release/fetch", follow_redirects=True)
    assert "Penerbit tidak terjangkau (WAN putus?" in page.get_data(as_text=True)
    assert stored(app) == before
    code = code_for(runner, package, issuer_key, SOON)
    page = staff.post(
        f"/proctor/sittings/{sitting_id}/release", data={"code": code}, follow_redirects=True
    )
    assert "Paket dibuka untuk sesi ini" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(PackageRelease, sitting_id) is not None
        assert db.session.get(Sitting, sitting_id).package_slot == SOON
    assert [a.data["via"] for a in audits(app, "package_released")] == ["typed"]


def test_an_unreadable_calendar_is_named_by_row_and_column_and_gives_no_code(app, tmp_path, caplog):
    from cat_server.issuer import releases

    calendar = tmp_path / "calendar.csv"
    calendar.write_text(f"package_id,slot,starts_at\nPKG,{SOON},besok pagi\n", encoding="utf-8")
    app.config.update(ISSUER_SCHEDULE=str(calendar))
    with app.app_context(), pytest.raises(releases.Refused) as refused:
        releases.schedule()
    assert refused.value.status == 503 and "calendar is unreadable" in refused.value.message_en
    assert f"{calendar}, row 2, column starts_at: 'besok pagi' is no time" in caplog.text
    calendar.write_text(f"package_id,slot,starts_at\nPKG,{SOON},2026-12-07 08:00\n")
    with app.app_context():
        start = releases.schedule()[("PKG", SOON)]
    assert start.isoformat() == "2026-12-07T01:00:00+00:00"  # 08:00 WIB, the issuer's zone
