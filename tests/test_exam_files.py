"""Exam files (docs/formats.md): export → import on a fresh server → export is the same file;
every problem named, nothing half-written; what the file chooses is what candidates get."""

import json

import pytest

from cat_server.admin.exam_builder import export_exam_file, save_exam_document
from cat_server.admin.sittings import FormProblems
from cat_server.demo import BLUEPRINTS, DEMO_BANK
from cat_server.extensions import db, socketio
from cat_server.factory import create_app
from cat_server.itembank.service import import_bank
from cat_server.models import (
    AuditEvent,
    Candidate,
    Exam,
    ExamSection,
    Item,
    Presentation,
    Response,
    Sitting,
)
from tests.conftest import PIN, login_candidate, make_config, quick_hash

BANK = "Bank Soal Demo SKD"


def demo_exams() -> list[int]:
    bank = import_bank(DEMO_BANK, BANK, actor="test")
    ids = []
    for blueprint in BLUEPRINTS.values():
        exam = Exam(name=blueprint["exam"], bank=bank, duration_s=blueprint["duration_s"])
        for position, section in enumerate(blueprint["sections"], start=1):
            exam.sections.append(ExamSection(position=position, **section))
        db.session.add(exam)
        db.session.commit()
        ids.append(exam.id)
    return ids


def test_the_demo_exams_round_trip_through_a_fresh_server(app, runner, tmp_path):
    with app.app_context():
        ids = demo_exams()
    files = []
    for exam_id in ids:
        path = tmp_path / f"exam-{exam_id}.json"
        result = runner.invoke(args=["exam", "export", str(exam_id), str(path)])
        assert result.exit_code == 0, result.output
        files.append(path.read_text(encoding="utf-8"))
    assert json.loads(files[0])["sections"][0]["navigation"] == "navigable"
    assert json.loads(files[1])["sections"][0]["adaptive"]["stopping"]["se_target"] == 0.3

    fresh = create_app(make_config(f"sqlite:///{tmp_path / 'other-centre.db'}"))
    with fresh.app_context():
        db.create_all()
        import_bank(DEMO_BANK, BANK, actor="test")
    other = fresh.test_cli_runner()
    for n, text in enumerate(files):
        result = other.invoke(args=["exam", "import", str(tmp_path / f"exam-{ids[n]}.json")])
        assert result.exit_code == 0, result.output
        assert "Imported exam" in result.output
        new_id = int(result.output.split("Imported exam ")[1].split(":")[0])
        again = tmp_path / "again.json"
        assert other.invoke(args=["exam", "export", str(new_id), str(again)]).exit_code == 0
        assert again.read_text(encoding="utf-8") == text
    with fresh.app_context():
        db.engine.dispose()


def skd_document() -> dict:
    return {
        "format": "cat-server-exam",
        "version": 1,
        "name": "SKD",
        "bank": {"name": BANK, "version": 1},
        "time": {"total_minutes": 100, "late_login": "full"},
        "result": "sections",
        "pass_total": None,
        "sections": [
            {
                "code": "TWK",
                "name": "Tes Wawasan Kebangsaan",
                "navigation": "navigable",
                "selection": {"type": "pool", "n": 30},
                "shuffle_items": True,
                "scoring": {"points_correct": 5, "pass_mark": 65},
            }
        ],
    }


def test_every_problem_is_named_and_nothing_is_saved(app, runner, tmp_path):
    with app.app_context():
        demo_exams()
        n_exams = db.session.scalar(db.select(db.func.count()).select_from(Exam))
    doc = skd_document()
    doc["time"]["total_minutes"] = 0
    doc["sections"][0]["selection"]["n"] = 500
    doc["sections"][0]["time_limit_minutes"] = "ten"
    doc["sections"].append(
        {
            "code": "ADP",
            "name": "Adaptif",
            "navigation": "adaptive",
            "pool": ["TWK", "TIU"],
            "adaptive": {
                "exposure": {"method": "cap"},
                "content": {"TWK": 0.5, "TKP": 0.5},
                "stopping": {"min_items": 50, "max_items": 40, "se_target": 0.3},
            },
        }
    )
    doc["sections"].append(
        {
            "code": "TIU",
            "name": "TIU",
            "navigation": "linear",
            "shuffle_options": True,
            "selection": {"type": "per_tag", "counts": {"TIU": 5, "XYZ": 2}},
        }
    )
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(args=["exam", "import", str(path)])
    assert result.exit_code == 2
    out = result.output
    for where in (
        "time.total_minutes",
        "sections[1].selection.n: 500 soal diminta",
        "sections[1].time_limit_minutes",
        "sections[2].adaptive.exposure.method: belum didukung",
        "sections[2].adaptive.content.TKP: tag ini tidak ada",
        "sections[2].adaptive.stopping.min_items: tidak boleh melebihi max_items (40)",
        "sections[3].selection.counts.XYZ",
        "Nothing was imported.",
    ):
        assert where in out, (where, out)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Exam)) == n_exams


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda d: d["time"].update(late_login="later"), "time.late_login"),
        (lambda d: d.update(result="scores"), "result"),
        (lambda d: d["sections"][0].update(shuffle_options="yes"), "sections[1].shuffle_options"),
        (lambda d: d["bank"].update(version=9), "bank"),
        (lambda d: d["sections"][0].update(navigation="free"), "sections[1].navigation"),
        (
            lambda d: d["sections"][0].update(selection={"type": "items", "items": ["NOPE"]}),
            "sections[1].selection.items",
        ),
    ],
)
def test_settings_the_server_cannot_honour_are_refused(app, change, field):
    with app.app_context():
        demo_exams()
        doc = skd_document()
        change(doc)
        with pytest.raises(FormProblems) as error:
            save_exam_document(doc, "test")
        assert field in [where for where, _ in error.value.problems]


def sitting_for(exam_id: int, n: int) -> int:
    sitting = Sitting(exam_id=exam_id, name="Sesi", room="R1", status="open")
    db.session.add(sitting)
    db.session.flush()
    for i in range(n):
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"2026{i + 1:04d}",
                name=f"Peserta {i + 1}",
                pin_hash=quick_hash(PIN),
            )
        )
    db.session.commit()
    return sitting.id


def presented_codes(app, sitting_id: int, n: int) -> list[list[str]]:
    """Log ``n`` candidates in over Socket.IO; the item codes presented to each, in order."""
    seen = []
    for i in range(n):
        registration_no = f"2026{i + 1:04d}"
        client = app.test_client()
        assert login_candidate(client, sitting_id, registration_no).status_code == 302
        sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
        assert sock.is_connected("/exam")
        sock.disconnect(namespace="/exam")
        with app.app_context():
            candidate = db.session.execute(
                db.select(Candidate).where(
                    Candidate.sitting_id == sitting_id,
                    Candidate.registration_no == registration_no,
                )
            ).scalar_one()
            codes = (
                db.session.execute(
                    db.select(Item.code)
                    .join(Presentation, Presentation.item_id == Item.id)
                    .where(Presentation.attempt_id == candidate.attempt.id)
                    .order_by(Presentation.seq)
                )
                .scalars()
                .all()
            )
        seen.append(codes)
    return seen


def test_n_per_tag_draws_each_tags_count_in_an_order_of_each_candidates_own(app):
    with app.app_context():
        demo_exams()
        doc = skd_document()
        doc["sections"][0] = {
            "code": "CAMPUR",
            "name": "TWK dan TIU",
            "navigation": "navigable",
            "pool": ["TWK", "TIU"],
            "selection": {"type": "per_tag", "counts": {"TWK": 6, "TIU": 4}},
            "shuffle_items": True,
        }
        exam = save_exam_document(doc, "test")
        sitting_id = sitting_for(exam.id, 3)
    forms = presented_codes(app, sitting_id, 3)
    for codes in forms:
        assert len(codes) == 10
        assert sum(c.startswith("TWK") for c in codes) == 6
        assert sum(c.startswith("TIU") for c in codes) == 4
    assert len({tuple(c) for c in forms}) == 3  # three candidates, three orders


def test_parallel_forms_give_each_candidate_one_whole_form(app):
    with app.app_context():
        demo_exams()
        active = (
            db.session.execute(
                db.select(Item.code)
                .where(Item.section == "TWK", Item.status == "active", Item.enemy_group.is_(None))
                .order_by(Item.position)
            )
            .scalars()
            .all()
        )
        form_a, form_b = active[:5], active[5:10]
        doc = skd_document()
        doc["sections"][0]["selection"] = {"type": "forms", "forms": [form_a, form_b]}
        doc["sections"][0]["shuffle_items"] = False
        exam = save_exam_document(doc, "test")
        sitting_id = sitting_for(exam.id, 6)
    forms = presented_codes(app, sitting_id, 6)
    assert all(codes in (form_a, form_b) for codes in forms)


def test_the_start_theta_decides_the_first_adaptive_item(app):
    with app.app_context():
        demo_exams()
        firsts = []
        for start in (-2.5, 2.5):
            doc = skd_document()
            doc["name"] = f"Adaptif {start}"
            doc["sections"][0] = {
                "code": "TWK",
                "name": "Adaptif",
                "navigation": "adaptive",
                "adaptive": {
                    "start_theta": start,
                    "exposure": {"method": "none"},
                    "stopping": {"min_items": 5, "max_items": 10, "se_target": 0.3},
                },
            }
            exam = save_exam_document(doc, "test")
            firsts.append(sitting_for(exam.id, 1))
    codes = [presented_codes(app, s, 1)[0][0] for s in firsts]
    with app.app_context():
        b = {c: db.session.execute(db.select(Item.b).where(Item.code == c)).scalar() for c in codes}
    assert b[codes[0]] < b[codes[1]]


def started_sitting(app, doc, minutes_ago: float, paused_s: float = 0) -> int:
    """A sitting of the document's exam that started ``minutes_ago``, with one candidate."""
    from datetime import timedelta

    from cat_server.models import audit, utcnow

    with app.app_context():
        exam = save_exam_document(doc, "test")
        sitting_id = sitting_for(exam.id, 1)
        sitting = db.session.get(Sitting, sitting_id)
        sitting.status = "started"
        sitting.started_at = utcnow() - timedelta(minutes=minutes_ago)
        if paused_s:
            audit("user:1", "sitting_resumed", sitting_id=sitting_id, paused_s=paused_s)
        db.session.commit()
    return sitting_id


@pytest.mark.parametrize(
    "late_login, paused_s, left_min",
    [("full", 0, 100), ("remaining", 0, 90), ("remaining", 120, 92)],
)
def test_a_late_login_gets_the_full_time_or_what_is_left_of_the_sitting(
    app, late_login, paused_s, left_min
):
    with app.app_context():
        demo_exams()
    doc = skd_document()
    doc["time"]["late_login"] = late_login
    sitting_id = started_sitting(app, doc, minutes_ago=10, paused_s=paused_s)
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    sock.disconnect(namespace="/exam")
    assert state["status"] == "in_progress"
    assert abs(state["remaining_s"] - left_min * 60) < 30
    with app.app_context():
        late = db.session.execute(
            db.select(AuditEvent).where(AuditEvent.action == "late_login")
        ).scalar_one()  # either way the proctor is told who came late and what time they got
        assert abs(late.data["late_s"] - 10 * 60) < 30
        assert abs(late.data["granted_s"] - left_min * 60) < 30
        assert late.data["mode"] == late_login


@pytest.mark.parametrize("result", ["sections", "total", "none"])
def test_the_candidate_sees_at_the_end_what_the_exam_says(app, result):
    with app.app_context():
        demo_exams()
        keyed = (
            db.session.execute(
                db.select(Item.code)
                .where(Item.section == "TWK", Item.status == "active", Item.enemy_group.is_(None))
                .order_by(Item.position)
            )
            .scalars()
            .all()[:3]
        )
    doc = skd_document()
    doc["result"] = result
    doc["sections"][0]["navigation"] = "linear"
    doc["sections"][0]["selection"] = {"type": "items", "items": keyed}
    sitting_id = started_sitting(app, doc, minutes_ago=0)
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
    for _ in range(3):
        item = state["item"]
        ack = sock.emit(
            "answer",
            {"attempt": state["attempt"], "seq": state["seq"], "item": item["id"], "choice": "A"},
            namespace="/exam",
            callback=True,
        )
        assert ack["ok"], ack
        state = ack["state"]
    sock.disconnect(namespace="/exam")
    assert state["status"] == "finished"
    if result == "none":
        assert "result" not in state
    else:
        assert "total" in state["result"] and "passed" in state["result"]
        assert len(state["result"]["sections"]) == (1 if result == "sections" else 0)


def test_shuffled_options_are_scored_by_the_bank_letter_and_echoed_as_shown(app):
    with app.app_context():
        demo_exams()
        twk = (
            db.session.execute(
                db.select(Item)
                .where(Item.section == "TWK", Item.status == "active", Item.enemy_group.is_(None))
                .order_by(Item.position)
            )
            .scalars()
            .all()[:6]
        )
        key_text = {i.id: i.options[ord(i.key) - ord("A")] for i in twk}
        key_of = {i.id: i.key for i in twk}
    doc = skd_document()
    doc["sections"][0]["selection"] = {"type": "items", "items": [i.code for i in twk]}
    doc["sections"][0]["shuffle_items"] = False
    doc["sections"][0]["shuffle_options"] = True
    sitting_id = started_sitting(app, doc, minutes_ago=0)
    with app.app_context():
        db.session.add(
            Candidate(
                sitting_id=sitting_id,
                registration_no="20260002",
                name="Peserta 2",
                pin_hash=quick_hash(PIN),
            )
        )
        db.session.commit()
    shown = []
    for registration_no in ("20260001", "20260002"):
        client = app.test_client()
        assert login_candidate(client, sitting_id, registration_no).status_code == 302
        sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
        state = [e for e in sock.get_received("/exam") if e["name"] == "state"][-1]["args"][0]
        labels = {}
        for entry in state["items"]:
            item = entry["item"]
            label = next(o["label"] for o in item["options"] if o["text"] == key_text[item["id"]])
            labels[entry["seq"]] = label
            ack = sock.emit(
                "answer",
                {
                    "attempt": state["attempt"],
                    "seq": entry["seq"],
                    "item": item["id"],
                    "choice": label,
                },
                namespace="/exam",
                callback=True,
            )
            assert ack["ok"], ack
        assert ack["state"]["answers"] == {str(seq): label for seq, label in labels.items()}
        shown.append([[o["text"] for o in e["item"]["options"]] for e in state["items"]])
        sock.disconnect(namespace="/exam")
        with app.app_context():
            attempt = (
                db.session.execute(
                    db.select(Candidate).where(
                        Candidate.sitting_id == sitting_id,
                        Candidate.registration_no == registration_no,
                    )
                )
                .scalar_one()
                .attempt
            )
            assert attempt.section_scores == {"TWK": 30}  # every answer right: 6 x 5
            stored = db.session.execute(
                db.select(Response.item_id, Response.choice).where(
                    Response.attempt_id == attempt.id
                )
            ).all()
            assert all(choice == key_of[item_id] for item_id, choice in stored)
    assert shown[0] != shown[1]  # two candidates, two orders of the options


def test_sympson_hetter_parameters_are_computed_on_saving_and_used_in_delivery(app):
    from cat_server.admin.exam_builder import exam_document
    from cat_server.exam.catalog import adaptive_pool, cached_exam

    with app.app_context():
        demo_exams()
        doc = skd_document()
        doc["sections"][0] = {
            "code": "TWK",
            "name": "Adaptif",
            "navigation": "adaptive",
            "adaptive": {
                "exposure": {"method": "sympson-hetter", "r_max": 0.2},
                "stopping": {"min_items": 5, "max_items": 10, "se_target": 0.3},
            },
        }
        exams = [save_exam_document(doc, "test") for _ in range(2)]
        ks = [e.sections[0].engine["sh_k"] for e in exams]
        assert ks[0] == ks[1]  # the same file gives the same parameters
        pool = (
            db.session.execute(
                db.select(Item.id).where(Item.section == "TWK", Item.status == "active")
            )
            .scalars()
            .all()
        )
        assert set(ks[0]) == {str(i) for i in pool}
        assert all(0 < k <= 1 for k in ks[0].values()) and min(ks[0].values()) < 0.9
        exposure = exam_document(exams[0])["sections"][0]["adaptive"]["exposure"]
        assert exposure == {"method": "sympson-hetter", "r_max": 0.2}
        section = exams[0].sections[0]
        config = adaptive_pool(cached_exam(exams[0].id), section).config
        assert config.exposure == "sympson-hetter"
        sitting_id = sitting_for(exams[0].id, 1)
    codes = presented_codes(app, sitting_id, 1)[0]
    assert len(codes) == 1 and codes[0].startswith("TWK")


def test_pretest_items_per_candidate_round_trip_and_need_the_banks_pretest_items(app):
    """``adaptive.pretest.items``: saved, exported as given; more than the pool's pretest
    items (the demo bank has one TWK and one TIU) is refused with the count it has."""
    with app.app_context():
        demo_exams()
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
                    "stopping": {"min_items": 5, "max_items": 10, "se_target": 0.3},
                    "pretest": {"items": 2},
                },
            }
        ]
        exam = save_exam_document(doc, "test")
        exported = json.loads(export_exam_file(exam.id))
        assert exported["sections"][0]["adaptive"]["pretest"] == {"items": 2}
        doc["sections"][0]["adaptive"]["pretest"] = {"items": 3}
        with pytest.raises(FormProblems) as error:
            save_exam_document(doc, "test")
        ((where, message),) = error.value.problems
        assert where == "sections[1].adaptive.pretest.items"
        assert "3" in message and "2" in message and "pretest" in message
