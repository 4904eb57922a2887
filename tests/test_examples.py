"""The files shipped in docs/examples/ import as given on a fresh demo centre (issue 18, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cat_server.admin import banks, candidates
from cat_server.demo import seed_demo
from cat_server.extensions import db
from cat_server.models import Candidate

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in EXAMPLES.iterdir() if p.name.startswith(("item_bank", "qti"))),
)
def test_each_shipped_bank_example_imports_as_given(app, name):
    with app.app_context():
        seed_demo()
        bank = banks.upload_bank((EXAMPLES / name).read_bytes(), name, f"Contoh {name}", "test")
        assert len(bank.items) >= 1


def test_the_shipped_candidates_example_enrols_on_the_demo(app):
    data = (EXAMPLES / "candidates_example.csv").read_bytes()
    with app.app_context():
        seed_demo()
        created = candidates.import_candidates(data, "candidates_example.csv", "test")
        assert len(created) == data.count(b"\n") - 1
        assert db.session.query(Candidate).filter(
            Candidate.registration_no.in_([c.registration_no for c in created])
        ).count() == len(created)


def test_a_media_folder_left_by_an_earlier_database_does_not_stop_an_import(app):
    """A reinstall with a new database restarts bank ids while instance/media stays."""
    from cat_server.itembank.service import media_root

    with app.app_context():
        stale = media_root() / "bank-1"
        (stale / "media").mkdir(parents=True)
        (stale / "media" / "tiu102-grafik.png").write_bytes(b"an old bank's picture")
        zipped = (EXAMPLES / "item_bank_example.zip").read_bytes()
        bank = banks.upload_bank(zipped, "item_bank_example.zip", "Contoh", "test")
        assert bank.id == 1
        served = media_root() / "bank-1" / "media" / "tiu102-grafik.png"
        assert served.read_bytes() == (EXAMPLES / "media" / "tiu102-grafik.png").read_bytes()
        assert [p.name for p in media_root().glob("bank-1.stale-*")]


def test_the_shipped_exam_example_imports_over_the_shipped_bank(app, runner, tmp_path):
    """docs/deploy/README.md step 13: load the example bank as "Bank Contoh", import the exam."""
    bank = runner.invoke(
        args=["load-bank", str(EXAMPLES / "item_bank_example.zip"), "--name", "Bank Contoh"]
    )
    assert bank.exit_code == 0, bank.output
    exam = runner.invoke(args=["exam", "import", str(EXAMPLES / "exam_for_item_bank_example.json")])
    assert exam.exit_code == 0, exam.output
    with app.app_context():
        from cat_server.models import Exam

        made = db.session.query(Exam).one()
        assert made.name == "Contoh SKD (5 soal)"
        assert [s.code for s in made.sections] == ["TWK", "TIU", "TKP"]


def test_the_shipped_exam_example_imports_on_the_demo(app, runner):
    with app.app_context():
        seed_demo()
    result = runner.invoke(args=["exam", "import", str(EXAMPLES / "exam_example.json")])
    assert result.exit_code == 0, result.output
    assert "SKD CPNS 2026 (contoh)" in result.output
