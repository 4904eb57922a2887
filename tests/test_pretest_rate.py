"""Pretest items by rate (#18 item 3): ``adaptive.pretest: {"rate": r}`` in the exam file and the
builder; over many candidates driven through the server, about that share of the items they
meet are pretest items, at no fixed place, looking like any other, and never scored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cat_server.admin.exam_builder import (
    document_form,
    exam_document,
    export_exam_file,
    get_exam,
    save_exam_document,
)
from cat_server.admin.sittings import FormProblems
from cat_server.extensions import db
from cat_server.irt.models import simulate_responses
from cat_server.models import Presentation, pretest_cap
from tests.test_exam_files import demo_exams, skd_document
from tests.test_pretest_acceptance import ADAPTIVE_FORM as _FORM  # the acceptance's exam (b)
from tests.test_pretest_acceptance import (
    add_sitting,
    build_adaptive_exam,
    eap_of,
    pool_and_truth,
    sit,
    thetas,
)

RATE = 0.1


def rate_document(pretest) -> dict:
    doc = skd_document()
    doc["name"] = "Adaptif dengan uji coba"
    doc["sections"] = [
        {
            "code": "KD",
            "name": "Adaptif",
            "navigation": "adaptive",
            "pool": ["TWK", "TIU"],
            "adaptive": {
                "exposure": {"method": "none"},
                "stopping": {"min_items": 5, "max_items": 9, "se_target": 0.3},
                "pretest": pretest,
            },
        }
    ]
    return doc


def test_a_pretest_rate_round_trips_and_is_checked_against_the_bank(app):
    """Saved, exported as given, back through the builder's form; a rate out of range, a rate
    with a number, or a rate whose items the bank lacks (the demo bank has two pretest items
    for this pool: 9 operational items at 0.2 need 3) is refused, naming the field."""
    with app.app_context():
        demo_exams()
        exam = save_exam_document(rate_document({"rate": RATE}), "test")
        exported = json.loads(export_exam_file(exam.id))
        assert exported["sections"][0]["adaptive"]["pretest"] == {"rate": RATE}
        section = get_exam(exam.id).sections[0]
        assert (section.pretest_rate, section.pretest_items) == (RATE, 1)  # ceil(9 * 0.1 / 0.9)
        form = document_form(exam_document(get_exam(exam.id)))
        assert form["s1-pretest_rate"] == str(RATE) and form["s1-pretest_items"] == "0"
        for pretest, field, words in [
            ({"rate": 0.7}, "sections[1].adaptive.pretest.rate", ["0.5"]),
            ({"rate": "banyak"}, "sections[1].adaptive.pretest.rate", ["banyak"]),
            ({"rate": 0.1, "items": 2}, "sections[1].adaptive.pretest", ["rate"]),
            ({"rate": 0.2}, "sections[1].adaptive.pretest.rate", ["3", "2", "pretest"]),
        ]:
            with pytest.raises(FormProblems) as error:
                save_exam_document(rate_document(pretest), "test")
            ((where, message),) = error.value.problems
            assert where == field and all(w in message for w in words), (pretest, message)
    assert [pretest_cap(40, r) for r in (0.1, 0.2, 0.25, 0.5)] == [5, 10, 14, 40]


def test_about_the_rates_share_of_every_attempts_items_are_pretest_and_unscored(
    app, quick_hashes, monkeypatch
):
    """Candidates of known ability through the builder's adaptive exam at a 10 % rate: the
    delivered share over all attempts is within 0.03 of the rate; the count differs from
    attempt to attempt and the positions are spread (no fixed place to spot); each final
    theta is the EAP of the operational answers alone."""
    form = {k: v for k, v in _FORM.items() if k != "s1-pretest_items"} | {
        "s1-pretest_rate": str(RATE)
    }
    # build_adaptive_exam types this form on the builder page
    monkeypatch.setattr("tests.test_pretest_acceptance.ADAPTIVE_FORM", form)
    admin, truth, exam_id = build_adaptive_exam(app)
    pool, true_items, _codes = pool_and_truth(app, exam_id, truth)
    assert (pool.config.pretest_rate, pool.config.pretest_spread) == (RATE, False)
    assert pool.config.pretest_max == pretest_cap(40, RATE) == 5
    n = 160 if app.config["DATABASE_URL"].startswith("sqlite") else 60
    theta = np.random.default_rng(3).normal(size=n)
    answers = simulate_responses(theta, true_items, np.random.default_rng(4))
    looks = set()
    attempts = sit(app, add_sitting(app, exam_id, n, "R"), n, "R", answers, pool, looks)
    with app.app_context():
        rows = db.session.execute(
            db.select(Presentation.attempt_id, Presentation.seq, Presentation.pretest).where(
                Presentation.attempt_id.in_(attempts)
            )
        ).all()
        share = sum(r.pretest for r in rows) / len(rows)
        per_attempt = [sum(r.pretest for r in rows if r.attempt_id == a) for a in attempts]
        seqs = {r.seq for r in rows if r.pretest}
        print(
            f"\n{n} candidates, {len(rows)} items: pretest share {share:.3f} (rate {RATE}); "
            f"per attempt {np.bincount(per_attempt).tolist()}; at {len(seqs)} positions"
        )
        assert abs(share - RATE) < 0.03
        assert len(set(per_attempt)) >= 3 and max(per_attempt) <= 5
        assert len(seqs) >= 10
        assert {pre for pre, _ in looks} == {True, False}
        assert len({shape for _, shape in looks}) == 1  # the page cannot tell them apart
        for attempt_id, theta_hat in zip(attempts[:40], thetas(attempts[:40]), strict=True):
            assert eap_of(pool, attempt_id, operational_only=True) == pytest.approx(
                theta_hat, abs=1e-9
            )
