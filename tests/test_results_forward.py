"""Store and forward (issue 21, item 5): a real national server, the WAN cut, then back.

The centre is this process's app; the national office is a real gunicorn
server (tests/live.py) with its own database, trusting the centre's key. While
it is down the bundle stays pending (shown on the admin and proctor pages, in
WIB) and is not tried again before its back-off; once it is back the bundle is
delivered once and acknowledged.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
import requests
import sqlalchemy as sa

from cat_server.extensions import db
from cat_server.results import forward
from cat_server.results.national import NationalScore, ResultBundle
from tests.live import LiveServer, free_port, one_backend_in_ci
from tests.test_results_bundles import cli, instance, run_sitting

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("quick_hashes")]


@pytest.fixture
def national_db(db_url, request, tmp_path):
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'national.db'}"
    return request.getfixturevalue("new_pg_database")()


@pytest.fixture
def centre_db(db_url, request, tmp_path):
    """A fresh database of the parametrised backend for a centre that runs as a server."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'centre.db'}"
    return request.getfixturevalue("new_pg_database")()


def page(app, path):
    client = app.test_client()
    client.post("/login", data={"username": "kepala", "password": "rahasia-123"})
    return client.get(path).get_data(as_text=True)


def test_bundles_wait_out_a_wan_outage_then_arrive_once(app, national_db, tmp_path):
    port = free_port()
    app.config.update(
        CENTRE_ID="UPT-JAKARTA",
        CENTRE_KEY_FILE=str(tmp_path / "centre" / "centre-ed25519.pem"),
        NATIONAL_URL=f"http://127.0.0.1:{port}",
        RESULTS_RETRY_S=1.0,
        RESULTS_RETRY_MAX_S=2.0,
        RESULTS_SEND_TIMEOUT=5.0,
    )
    assert cli(app, "keys", "create").exit_code == 0
    public = tmp_path / "jakarta.pub"
    public.write_text(cli(app, "keys", "export-public").output)

    national = instance(national_db, tmp_path, "national")
    assert cli(national, "keys", "trust-centre", "UPT-JAKARTA", public).exit_code == 0
    server = LiveServer(
        national_db,
        tmp_path / "national.log",
        port=port,
        CENTRE_KEYS_DIR=tmp_path / "national" / "keys" / "centres",
    ).start()
    server.stop()  # the WAN is cut before the sitting ends
    try:
        sitting_id = run_sitting(app, n_sitting=2)
        with app.app_context():
            assert forward.run_once() == 0
            delivery = forward.delivery_of(sitting_id)
            assert (delivery.status, delivery.n_tries) == ("pending", 1)
            assert "national server not reached" in delivery.last_error
            assert forward.run_once() == 0  # within its back-off: not tried again
            assert forward.delivery_of(sitting_id).n_tries == 1
        admin = page(app, "/admin/results/")
        assert "Menunggu kirim" in admin and "WIB" in admin
        assert "national server not reached" in admin
        proctor = page(app, "/proctor/")
        assert 'data-status="pending"' in proctor
        console = page(app, f"/proctor/sittings/{sitting_id}")
        assert "Hasil menunggu kirim ke kantor nasional" in console and "WIB" in console

        server.start()  # the WAN is back
        time.sleep(1.2)  # past the back-off
        with app.app_context():
            assert forward.run_once() == 1
            delivery = forward.delivery_of(sitting_id)
            assert delivery.status == "acknowledged" and delivery.n_tries == 2
            receipt = json.loads(delivery.receipt)
            assert receipt["status"] == "imported" and receipt["sha256"] == delivery.sha256
            bundle = delivery.bundle
            assert forward.run_once() == 0  # acknowledged: never sent again
            assert forward.delivery_of(sitting_id).n_tries == 2
        with national.app_context():
            rows = db.session.execute(sa.select(NationalScore.centre)).scalars().all()
            assert rows == ["UPT-JAKARTA", "UPT-JAKARTA"]
            assert db.session.execute(sa.select(ResultBundle.via)).scalars().all() == ["wan"]

        # the same bundle again (a lost acknowledgement): acknowledged, nothing added
        again = requests.post(f"{server.url}/api/v1/results", data=bundle, timeout=10)
        assert again.status_code == 200 and again.json()["status"] == "already"
        # one byte of a score changed: refused by the signature, nothing written
        tampered = bundle.replace(b'"total": ', b'"total": 9', 1)
        refused = requests.post(f"{server.url}/api/v1/results", data=tampered, timeout=10)
        assert refused.status_code == 422 and "signature" in refused.json()["message_en"]
        with national.app_context():
            assert db.session.query(NationalScore).count() == 2

        admin = page(app, "/admin/results/")
        assert "Diterima" in admin and "Belum dibundel" not in admin
        assert 'data-status="acknowledged"' in page(app, "/proctor/")
    finally:
        server.stop()


def test_a_live_centre_sends_by_itself_through_an_outage(db_url, centre_db, national_db, tmp_path):
    """Both sides real servers: the centre's own background task sends, nobody calls it."""
    one_backend_in_ci(db_url)
    chain = secrets.token_hex(32)
    centre = instance(centre_db, tmp_path, "UPT-SURABAYA", CHAIN_KEY=chain)
    assert cli(centre, "keys", "create").exit_code == 0
    public = tmp_path / "surabaya.pub"
    public.write_text(cli(centre, "keys", "export-public").output)
    sitting_id = run_sitting(centre, n_sitting=2)
    national = instance(national_db, tmp_path, "national")
    assert cli(national, "keys", "trust-centre", "UPT-SURABAYA", public).exit_code == 0

    port = free_port()
    office = LiveServer(
        national_db,
        tmp_path / "national.log",
        port=port,
        CENTRE_KEYS_DIR=tmp_path / "national" / "keys" / "centres",
    )
    server = LiveServer(
        centre_db,
        tmp_path / "centre.log",
        CHAIN_KEY=chain,
        CENTRE_ID="UPT-SURABAYA",
        CENTRE_KEY_FILE=tmp_path / "UPT-SURABAYA" / "keys" / "centre-ed25519.pem",
        NATIONAL_URL=f"http://127.0.0.1:{port}",
        RESULTS_FORWARD_S=0.3,
        RESULTS_RETRY_S=0.5,
        RESULTS_RETRY_MAX_S=1,
    ).start()
    try:
        delivery = wait_for(centre, sitting_id, lambda d: d is not None and d.n_tries >= 2)
        assert delivery.status == "pending"  # the WAN is down: tried, and tried again
        office.start()
        delivery = wait_for(centre, sitting_id, lambda d: d.status == "acknowledged")
        tries = delivery.n_tries
        time.sleep(1.5)  # rounds go by: an acknowledged bundle is not sent again
        assert wait_for(centre, sitting_id, lambda d: True).n_tries == tries
        with national.app_context():
            assert db.session.query(NationalScore).count() == 2
            assert db.session.query(ResultBundle).one().sha256 == delivery.sha256
    finally:
        server.stop()
        office.stop()


def wait_for(app, sitting_id, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            delivery = forward.delivery_of(sitting_id)
            if predicate(delivery):
                db.session.expunge_all()
                return delivery
            db.session.remove()
        assert time.monotonic() < deadline, f"no such delivery in {timeout} s: {delivery}"
        time.sleep(0.2)


def test_a_bundle_another_process_is_sending_is_skipped(app, db_url, tmp_path):
    """PostgreSQL, several processes: the row a process holds while it sends is not sent twice."""
    if not db_url.startswith("postgresql"):
        pytest.skip("one process per SQLite database: nobody else sends")
    import psycopg

    app.config.update(
        CENTRE_KEY_FILE=str(tmp_path / "centre.pem"),
        NATIONAL_URL=f"http://127.0.0.1:{free_port()}",  # nobody there
    )
    assert cli(app, "keys", "create").exit_code == 0
    sitting_id = run_sitting(app, n_sitting=1)
    with app.app_context():
        forward.bundle_for(sitting_id)
    other = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://", 1))
    try:
        other.execute("SELECT id FROM result_delivery FOR UPDATE")  # the other process's send
        with app.app_context():
            assert forward.send_due() == 0
            assert forward.delivery_of(sitting_id).n_tries == 0
        other.rollback()  # its send is over
        with app.app_context():
            forward.send_due()
            assert forward.delivery_of(sitting_id).n_tries == 1
    finally:
        other.close()
