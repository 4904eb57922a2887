"""`cat-server verify` recomputes every finished attempt's scores from its chain (issue 16).

A database writer who raises ``total_score``, a section score or ``passed``
leaves every chain intact; verify now recomputes the scores from the chained
responses, with the exam's own scoring (exam/scoring.py), and names each
difference. Every honest attempt must still verify clean: the demo's SKD and
adaptive sittings, navigable sections with changed answers, linear ones,
adaptive ones with a seeded pretest item, TKP option weights, attempts ended
by the clock or by the proctor, extended ones; and a recalibration after the
sitting changes no verdict (the parameters used are kept, signed, with the attempt).
"""

from __future__ import annotations

import copy
import csv
import io
from datetime import timedelta

import pytest

from cat_server import irt
from cat_server.demo import BLUEPRINTS
from cat_server.exam import attempts, catalog, clock
from cat_server.extensions import db
from cat_server.models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Item,
    Presentation,
    Sitting,
    utcnow,
)
from cat_server.proctor import interventions
from tests.conftest import last_event, login_staff, make_user
from tests.test_chain import SECTIONS, TIU, TKP, TWK, answer, sit_mixed_exam
from tests.test_demo_skd import demo_bank_rows, demo_skd_sitting, planned_answer
from tests.test_sections import build_sitting, connect, emit

pytestmark = pytest.mark.usefixtures("quick_hashes")


def attempt_of(registration_no: str) -> Attempt:
    return (
        db.session.query(Attempt)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .filter(Candidate.registration_no == registration_no)
        .one()
    )


def verify(runner, *args):
    return runner.invoke(args=["verify", *args])


# --- the demo's sittings: SKD (navigable, TKP weights) and the adaptive test ------------


def sit_demo_skd(app, sitting_id):
    """The demo SKD candidate: the planned answers, some first answered otherwise and changed."""
    bank = demo_bank_rows()
    with app.app_context():
        codes = dict(db.session.execute(db.select(Item.id, Item.code)).all())
    _, sock = connect(app, sitting_id, "202600000001")
    state = last_event(sock, "state", "/exam")
    for index in (1, 2, 3):
        for n, entry in enumerate(state["items"]):
            choice, _ = planned_answer(bank[codes[entry["item"]["id"]]], n)
            if n % 7 == 0:  # first another option, then changed back to the planned one
                other = "E" if choice != "E" else "A"
                answer(sock, state, entry["seq"], entry["item"]["id"], other)
            answer(sock, state, entry["seq"], entry["item"]["id"], choice)
        state = emit(sock, "finish_section", attempt=state["attempt"], section=index)["state"]
    return state


def demo_adaptive_sitting() -> int:
    """The demo's "Sesi Demo 2" (adaptive TWK+TIU, 15-40 items, SE 0.3) on the demo bank."""
    blueprint = BLUEPRINTS["Sesi Demo 2"]
    bank_id = db.session.execute(db.select(Exam.bank_id)).scalars().first()
    exam = Exam(name=blueprint["exam"], bank_id=bank_id, duration_s=blueprint["duration_s"])
    for position, section in enumerate(blueprint["sections"], start=1):
        exam.sections.append(ExamSection(position=position, **section))
    sitting = Sitting(exam=exam, name="Sesi Demo 2", room="Ruang Ujian 1", status="open")
    db.session.add(sitting)
    db.session.flush()
    db.session.add(
        Candidate(
            sitting_id=sitting.id,
            registration_no="202700000001",
            name="Siti Rahmawati",
            pin_hash=db.session.query(Candidate.pin_hash).scalar(),
        )
    )
    db.session.commit()
    return sitting.id


def sit_adaptive(app, sitting_id, registration_no, choices="ABCDE"):
    _, sock = connect(app, sitting_id, registration_no)
    state = last_event(sock, "state", "/exam")
    n = 0
    while state["status"] == "in_progress":
        state = answer(sock, state, state["seq"], state["item"]["id"], choices[n % len(choices)])
        n += 1
    return state


@pytest.fixture
def demo_attempts(app):
    with app.app_context():
        skd = demo_skd_sitting()
        adaptive = demo_adaptive_sitting()
        attempts.start_sitting(skd, "user:1")
        attempts.start_sitting(adaptive, "user:1")
    skd_state = sit_demo_skd(app, skd)
    adaptive_state = sit_adaptive(app, adaptive, "202700000001", "AABAC")
    assert skd_state["status"] == adaptive_state["status"] == "finished"
    # as test_demo_skd computed by hand: TWK 100, TIU 75 (fails 80), TKP 180
    assert skd_state["result"]["total"] == 355 and skd_state["result"]["passed"] is False
    return skd_state, adaptive_state


def test_the_demo_sittings_verify_clean(app, runner, demo_attempts):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "every chain is intact, and the scores of the 2 finished attempts are those " in (
        result.stdout
    )


def raise_total(attempt):
    attempt.total_score += 100
    return ["total_score is 455 in the database but 355 recomputed from its chained responses"]


def pass_the_failed_section(attempt):
    """The forgery that matters: TIU 75 (under its 80) made 80, the total and pass/fail with it."""
    attempt.section_scores = {**attempt.section_scores, "TIU": 80}
    attempt.total_score, attempt.passed = 360, True
    return [
        "section_scores['TIU'] is 80 in the database but 75 recomputed from its chained responses",
        "total_score is 360 in the database but 355 recomputed",
        "passed is True in the database but False recomputed",
    ]


def flip_passed(attempt):
    attempt.passed = True
    return ["passed is True in the database but False recomputed"]


@pytest.mark.parametrize("tamper", [raise_total, pass_the_failed_section, flip_passed])
def test_a_score_changed_in_the_database_is_named(app, runner, demo_attempts, tamper):
    """Before issue 16's fix verify said OK here: the chain is untouched."""
    with app.app_context():
        says = tamper(attempt_of("202600000001"))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert "TAMPERED" in result.stderr
    where = "(registration 202600000001, sitting 'Sesi Demo 1'): "
    for message in says:
        assert any(where in line and message in line for line in result.stderr.splitlines()), (
            message,
            result.stderr,
        )
    assert "202700000001" not in result.stderr  # the adaptive attempt is intact


def test_the_dashboard_names_a_raised_score(app, demo_attempts):
    with app.app_context():
        attempt = attempt_of("202700000001")
        stored = attempt.section_scores["TWK,TIU"]
        attempt.section_scores = {"TWK,TIU": stored + 7}
        attempt.total_score += 7
        make_user("admin", "admin", "admin-pass-1")
        db.session.commit()
    client = app.test_client()
    assert login_staff(client, "admin", "admin-pass-1").status_code == 302
    page = client.post("/admin/verify").get_data(as_text=True)
    assert (
        f"section_scores[&#39;TWK,TIU&#39;] bernilai {stored + 7} di basis data, tetapi {stored} "
        "bila dihitung ulang" in page
    )
    assert "nomor peserta 202700000001" in page and "202600000001" not in page


def test_verify_export_finds_a_score_raised_before_the_export(app, runner, demo_attempts, tmp_path):
    """Raised first, exported after: the file matches the database, not the chain."""
    with app.app_context():
        raise_total(attempt_of("202600000001"))
        db.session.commit()
        sitting_id = attempt_of("202600000001").sitting_id
    export = tmp_path / "scores.csv"
    runner.invoke(args=["export-scores", "--sitting", str(sitting_id), "-o", str(export)])
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8-sig"))))
    assert rows[0]["total"] == "455"
    result = verify(runner, "--export", str(export))
    assert result.exit_code == 1
    assert "total_score is 455 in the database but 355 recomputed" in result.stderr


# --- every kind of honest attempt ---------------------------------------------------------

PRETEST = dict(code="TIUX", section="TIU", model="2pl", a=2.0, b=-3.0, key="B", status="pretest")
# TWK navigable (pass mark), TIU adaptive seeding one pretest item, with its own clock,
# TKP linear with option weights; a pass total over them
HONEST_SECTIONS = [
    {**SECTIONS[0], "pass_mark": 5},
    {**SECTIONS[1], "engine": {"pretest": 1}, "time_limit_min": 5},
    SECTIONS[2],
]


@pytest.fixture
def honest(app):
    """Five attempts, one of each ending; returns the sitting id."""
    with app.app_context():
        sitting_id = build_sitting(HONEST_SECTIONS, TWK + TIU + TKP + [PRETEST], n_candidates=5)
        exam = db.session.query(Exam).one()
        exam.pass_total = 60
        db.session.commit()
    assert sit_mixed_exam(app, sitting_id, "R1", "pc-1")["status"] == "finished"
    # R2: TWK answered, one adaptive answer, then the proctor ends it
    _, sock = connect(app, sitting_id, "R2", "pc-2")
    state = last_event(sock, "state", "/exam")
    for entry in state["items"]:
        answer(sock, state, entry["seq"], entry["item"]["id"], "A")
    state = emit(sock, "finish_section", attempt=state["attempt"], section=1)["state"]
    answer(sock, state, state["seq"], state["item"]["id"], "B")
    with app.app_context():
        interventions.end_attempt(state["attempt"], "user:1", "sakit")
    # R3: extended by the proctor, then finished
    _, sock = connect(app, sitting_id, "R3", "pc-3")
    state = last_event(sock, "state", "/exam")
    with app.app_context():
        interventions.extend_attempt(state["attempt"], 10, "user:1", "listrik padam")
    sock.disconnect(namespace="/exam")
    assert sit_mixed_exam(app, sitting_id, "R3", "pc-3")["status"] == "finished"
    # R4: two TWK answers, then the exam's clock; R5: in the adaptive section when its own
    # clock ends it, then the exam's
    _, sock = connect(app, sitting_id, "R4", "pc-4")
    state = last_event(sock, "state", "/exam")
    for entry in state["items"][:2]:
        answer(sock, state, entry["seq"], entry["item"]["id"], "A")
    _, sock = connect(app, sitting_id, "R5", "pc-5")
    state = last_event(sock, "state", "/exam")
    state = emit(sock, "finish_section", attempt=state["attempt"], section=1)["state"]
    for _ in range(2):
        state = answer(sock, state, state["seq"], state["item"]["id"], "A")
    with app.app_context():
        now = utcnow()
        clock.finish_expired(now=now + timedelta(minutes=6))  # R5's TIU time is up
        clock.finish_expired(now=now + timedelta(hours=2))  # everyone's exam time
        finished = db.session.query(Attempt).filter_by(status="finished").all()
        reasons = sorted(a.finish_reason for a in finished)
        assert reasons == ["completed", "completed", "ended_by_proctor", "time_up", "time_up"]
        assert db.session.query(Presentation).filter_by(pretest=True).count() >= 2
    return sitting_id


def test_every_kind_of_honest_attempt_verifies_clean(app, runner, honest):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "the scores of the 5 finished attempts are those recomputed" in result.stdout
    with app.app_context():
        r1 = attempt_of("R1")
        assert set(r1.section_scores) == {"TWK", "TIU", "TKP"}
        assert r1.score_basis["TIU"]["items"]  # the signed basis of its adaptive score
        # the pretest item is answered and chained, but not in the basis
        pretest = db.session.query(Presentation).filter_by(attempt_id=r1.id, pretest=True).one()
        assert pretest.item_id not in [i[0] for i in r1.score_basis["TIU"]["items"]]


def current_theta(attempt: Attempt) -> float:
    """The attempt's TIU ability from the items' parameters as they are now."""
    exam = catalog.cached_exam(catalog.exam_id_of(attempt))
    section = catalog.exam_sections(exam.id)[1]
    pool = catalog.adaptive_pool(exam, section)
    items = [i[0] for i in attempt.score_basis["TIU"]["items"]]
    scores = [i[1] for i in attempt.score_basis["TIU"]["items"]]
    state = irt.CatState.from_responses(pool.bank, [pool.index[i] for i in items], scores)
    return irt.posterior(pool.bank, state)[0]


def test_a_recalibration_after_the_sitting_changes_no_verdict(app, runner, honest):
    """The estimate is recomputed from the parameters kept with the attempt, not the bank's."""
    with app.app_context():
        before = current_theta(attempt_of("R1"))
        catalog.move_version()
        db.session.execute(
            db.update(Item).where(Item.section == "TIU").values(a=Item.a * 1.5, b=Item.b + 0.8)
        )
        db.session.commit()
        catalog.check_version()
        after = current_theta(attempt_of("R1"))
        assert abs(after - before) > 0.1  # the bank's parameters would give another score
    result = verify(runner)
    assert result.exit_code == 0, result.output


def change_a_kept_parameter(attempt):
    basis = copy.deepcopy(attempt.score_basis)
    basis["TIU"]["items"][0][4] -= 1.0  # b of the first item: easier, a higher estimate
    attempt.score_basis = basis
    return "section TIU: the item parameters kept for its adaptive score do not carry the chain"


def unflag_the_pretest_item(attempt):
    """The pretest answer made to count: the kept items no longer match the chain."""
    row = db.session.query(Presentation).filter_by(attempt_id=attempt.id, pretest=True).one()
    row.pretest = False
    return "section TIU: its adaptive score was estimated from items"


def drop_the_basis(attempt):
    attempt.score_basis = None
    return "section TIU: no item parameters were kept for its adaptive score"


@pytest.mark.parametrize(
    "tamper", [change_a_kept_parameter, unflag_the_pretest_item, drop_the_basis]
)
def test_a_changed_score_basis_is_named(app, runner, honest, tamper):
    with app.app_context():
        says = tamper(attempt_of("R1"))
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if says in line]
    assert lines and lines[0].startswith("attempt 1 (registration R1, sitting 'Sesi'): ")
    assert "R3" not in result.stderr


def test_attempts_from_before_the_basis_pass_only_up_to_the_configured_id(app, runner, honest):
    with app.app_context():
        for registration_no in ("R1", "R3"):
            attempt_of(registration_no).score_basis = None
        r3 = attempt_of("R3").id
        db.session.commit()
    app.config["SCORES_UNKEPT_UNTIL"] = r3 - 1  # R1 is older, R3 is not
    result = verify(runner)
    assert result.exit_code == 1
    assert "registration R3" in result.stderr and "registration R1" not in result.stderr
    app.config["SCORES_UNKEPT_UNTIL"] = r3
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert f"2 adaptive sections of attempts up to id {r3} have no kept item parameters" in (
        result.stdout
    )
    with app.app_context():  # their fixed sections, total and pass/fail are still checked
        attempt_of("R1").total_score += 1
        db.session.commit()
    result = verify(runner)
    assert result.exit_code == 1 and "registration R1" in result.stderr
