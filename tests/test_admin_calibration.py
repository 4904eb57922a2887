"""Calibration from the admin pages and item statistics (SQLite + PostgreSQL)."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest

from cat_server import irt
from cat_server.extensions import db
from cat_server.models import AuditEvent, Item, ItemBank
from tests.conftest import PIN, login_staff, make_sitting, make_user
from tests.test_admin import ADMIN, sit_exam

# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
pytestmark = pytest.mark.usefixtures("quick_hashes")

TRUE_PRETEST = {"PRE1": (1.4, 0.5), "PRE2": (0.8, -0.7)}


def add_items(bank_id, codes, a, b, pretest):
    """Two-option TIU items of a bank; pretest ones at a = 1, b = 0 until calibrated."""
    for j, code in enumerate(codes):
        is_pretest = code in pretest
        db.session.add(
            Item(
                bank_id=bank_id,
                code=code,
                position=j + 1,
                section="TIU",
                model="2pl",
                a=1.0 if is_pretest else float(a[j]),
                b=0.0 if is_pretest else float(b[j]),
                stem=f"Soal {code}",
                options=["x", "y"],
                key="A",
                status="pretest" if is_pretest else "active",
            )
        )


def make_bank(rng) -> tuple[int, str]:
    """20 active 2PL anchors and two pretest items; a wide CSV of 1500 simulated persons."""
    bank = ItemBank(name="Bank Kalibrasi", version=1)
    db.session.add(bank)
    db.session.flush()
    a = rng.uniform(0.8, 2.0, 20)
    b = rng.uniform(-2, 2, 20)
    codes = [f"OP{j:02d}" for j in range(20)] + list(TRUE_PRETEST)
    a_all = np.r_[a, [p[0] for p in TRUE_PRETEST.values()]]
    b_all = np.r_[b, [p[1] for p in TRUE_PRETEST.values()]]
    add_items(bank.id, codes, a_all, b_all, pretest=set(TRUE_PRETEST))
    db.session.commit()
    x = irt.simulate_responses(rng.standard_normal(1500), irt.make_items(a_all, b_all), rng)
    lines = ["person_id," + ",".join(codes)]
    lines += [f"P{i},{','.join(str(v) for v in row)}" for i, row in enumerate(x)]
    return bank.id, "\n".join(lines) + "\n"


def test_upload_review_accept_activates_recovered_parameters(app, rng):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        bank_id, wide = make_bank(rng)
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    response = client.post(
        "/admin/calibration",
        data={
            "bank_id": str(bank_id),
            "model": "2pl",
            "file": (io.BytesIO(wide.encode()), "wide.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    review = client.get(response.headers["Location"])
    html = review.get_data(as_text=True)
    assert "1500 peserta" in html and "20 jangkar" in html
    assert "a=1.000, b=0.000" in html  # the old parameters beside the new
    # model fit and the two pretest items' S-X2 (every person answered every item)
    fit = re.search(
        r"log-likelihood (-[\d.]+) · AIC ([\d.]+) · BIC ([\d.]+) · (\d+) parameter", html
    )
    ll, aic, bic, k = float(fit[1]), float(fit[2]), float(fit[3]), int(fit[4])
    assert k == 2 * 2 + 2  # two free 2PL items, the latent mean and SD
    assert aic == pytest.approx(-2 * ll + 2 * k, abs=0.02)
    assert bic == pytest.approx(-2 * ll + k * math.log(1500), abs=0.02)
    assert len(re.findall(r'<td class="num">[\d.]+ \(\d+\)</td>', html)) == 2
    with app.app_context():
        assert {
            i.code: i.status for i in db.session.query(Item).filter(Item.code.in_(TRUE_PRETEST))
        } == {"PRE1": "pretest", "PRE2": "pretest"}
        ids = [str(i.id) for i in db.session.query(Item).filter(Item.code.in_(TRUE_PRETEST))]
    accepted = client.post(response.headers["Location"], data={"items": ids, "reason": "uji"})
    assert accepted.status_code == 302
    with app.app_context():
        for code, (a, b) in TRUE_PRETEST.items():
            item = db.session.query(Item).filter_by(code=code).one()
            assert item.status == "active"
            assert abs(item.a - a) < 0.3 and abs(item.b - b) < 0.3, (code, item.a, item.b)
        assert db.session.query(AuditEvent).filter_by(action="item_calibrated").count() == 2
    again = client.post(response.headers["Location"], data={"items": ids})
    assert again.status_code == 422  # one run is accepted once


def test_a_responses_file_naming_unknown_items_is_refused(app, rng):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        bank_id, wide = make_bank(rng)
    client = app.test_client()
    login_staff(client, *ADMIN)
    wide = wide.replace("person_id,OP00", "person_id,XX99", 1)
    response = client.post(
        "/admin/calibration",
        data={
            "bank_id": str(bank_id),
            "model": "2pl",
            "file": (io.BytesIO(wide.encode()), "wide.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "wide.csv: kolom yang tidak ada di Bank Kalibrasi v1: XX99" in page


def test_item_statistics_from_delivered_attempts(app):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        sitting_id = make_sitting(n_candidates=4, n_items=3)
    for n, choices in enumerate(
        [["A", "B", "C"], ["A", "B", "E"], ["A", "E", "E"], ["E", "E", "E"]], start=1
    ):
        sit_exam(app, sitting_id, f"2026{n:04d}", PIN, choices)
    client = app.test_client()
    login_staff(client, *ADMIN)
    html = client.get("/admin/banks/1/stats").get_data(as_text=True)
    rows = re.findall(
        r"<code>(TWK\d+)</code>.*?<td class=\"num\">(\d+)</td>"
        r"<td class=\"num\">(\d+)</td>\s*<td class=\"num\">([\d.—]+)</td>\s*"
        r"<td class=\"num\">([-\d.—]+)</td>\s*<td class=\"num\">([\d.—]+)</td>",
        html,
        re.S,
    )
    stats = {
        code: (shown, answered, p, r, exposure) for code, shown, answered, p, r, exposure in rows
    }
    # right answers: TWK001 by 3 of 4, TWK002 by 2, TWK003 by 1
    assert stats["TWK001"][:3] == ("4", "4", "0.75")
    assert stats["TWK002"][2] == "0.50" and stats["TWK003"][2] == "0.25"
    assert all(s[4] == "1.00" for s in stats.values())  # every attempt saw every item
    assert float(stats["TWK002"][3]) > 0.5  # those who got it right scored higher elsewhere
    svg = client.get("/admin/banks/1/information.svg")
    assert svg.mimetype == "image/svg+xml" and b"<polyline" in svg.data


def test_cli_calibrate_bank_prints_old_and_new_then_accepts(app, rng, runner, tmp_path):
    with app.app_context():
        bank_id, wide = make_bank(rng)
    path = tmp_path / "wide.csv"
    path.write_text(wide)
    result = runner.invoke(
        args=["calibrate-bank", str(bank_id), "--responses", str(path), "--accept"]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"PRE1\s+n=1500\s+old a=1\.000 b=0\.000", result.output)
    assert re.search(
        r"log-likelihood -[\d.]+, AIC [\d.]+, BIC [\d.]+ \(6 parameters\)", result.output
    )
    assert re.search(r"PRE2 .* S-X2=[\d.]+ df=\d+ p=[\d.e-]+", result.output)
    assert "Accepted: 2 items" in result.output
    with app.app_context():
        assert db.session.query(Item).filter_by(status="pretest").count() == 0
    bad = runner.invoke(args=["calibrate-bank", "999"])
    assert bad.exit_code != 0


def test_a_4pl_calibration_shows_and_accepts_the_upper_asymptote(app, rng):
    with app.app_context():
        make_user(ADMIN[0], "admin", ADMIN[1])
        bank_id, wide = make_bank(rng)
    client = app.test_client()
    assert login_staff(client, *ADMIN).status_code == 302
    response = client.post(
        "/admin/calibration",
        data={
            "bank_id": str(bank_id),
            "model": "4pl",
            "file": (io.BytesIO(wide.encode()), "w.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert html.count(", d=0.") == 2  # both pretest items' new upper asymptote
    assert re.search(r"· (\d+) parameter", html)[1] == str(2 * 4 + 2)
    with app.app_context():
        ids = [str(i.id) for i in db.session.query(Item).filter(Item.code.in_(TRUE_PRETEST))]
    accepted = client.post(response.headers["Location"], data={"items": ids, "reason": "uji 4PL"})
    assert accepted.status_code == 302
    with app.app_context():
        for code in TRUE_PRETEST:
            item = db.session.query(Item).filter_by(code=code).one()
            assert item.model == "4pl" and item.status == "active"
            assert 0.8 < item.d < 1.0 and 0.0 < item.c < 0.4


def test_pretest_calibration_puts_a_lognormal_prior_on_a(app):
    """Pretest items with about 30 answers each (one centre): without the prior on a the
    discriminations run away (5.0 here); the admin's calibration uses log a ~ N(0, 0.5)."""
    from cat_server.admin import calibration

    rng = np.random.default_rng(2)  # the data of tests/irt/irt_testlib.py::sparse_pretest
    a, b = rng.lognormal(0, 0.25, 60), rng.normal(0, 1, 60)
    x = irt.simulate_responses(rng.normal(size=300), irt.make_items(a, b), rng)
    seen = np.zeros((300, 30), bool)
    for i in range(300):
        seen[i, rng.choice(30, 3, replace=False)] = True
    x[:, 30:][~seen] = -1
    codes = [f"OP{j:02d}" for j in range(30)] + [f"PRE{j:02d}" for j in range(30)]
    lines = ["person_id," + ",".join(codes)]
    lines += [f"P{i}," + ",".join("" if v < 0 else str(v) for v in row) for i, row in enumerate(x)]
    with app.app_context():
        bank = ItemBank(name="Bank Pretest", version=1)
        db.session.add(bank)
        db.session.flush()
        add_items(bank.id, codes, a, b, pretest=set(codes[30:]))
        db.session.commit()
        upload = ("\n".join(lines) + "\n").encode()
        proposal = calibration.run_calibration(bank.id, "2pl", "admin", upload=upload)
        plain = calibration.run_calibration(bank.id, "2pl", "admin", upload=upload, a_prior=None)
    assert proposal["a_prior"] == [0.0, 0.5] and plain["a_prior"] is None
    assert max(r["new"]["a"] for r in proposal["items"]) < 2.5
    assert max(r["new"]["a"] for r in plain["items"]) > 4.5
