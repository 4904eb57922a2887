"""Signed result bundles (issue 21, item 4): two centres export, a third instance merges them.

Each centre is an app of its own (its own database and signing key); its
candidates sit the exam through the real /exam Socket.IO path and a proctor
ends the sitting through /proctor. The bundles are written, verified, edited by
hand and imported with the real ``cat-server`` commands.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from cat_server import create_app
from cat_server.extensions import db, socketio
from cat_server.models import Attempt, AuditEvent, Incident, Response
from cat_server.results import forward
from cat_server.results.national import NationalScore, ResultBundle
from tests.conftest import login_staff, make_config, make_user
from tests.test_chain import SECTIONS, TIU, TKP, TWK, sit_mixed_exam
from tests.test_sections import build_sitting

pytestmark = pytest.mark.usefixtures("quick_hashes")

# pass marks on two of the three sections: pass/fail is in the bundle and checked
MARKED = [dict(SECTIONS[0], pass_mark=10), SECTIONS[1], dict(SECTIONS[2], pass_mark=4)]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request, tmp_path):
    """A maker of fresh databases, one per app instance, on the parametrised backend."""
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path / (name + '.db')}"
    return lambda name: request.getfixturevalue("new_pg_database")()


def instance(url: str, folder: Path, name: str, **extra):
    """One cat_server instance: its own database, instance folder and keys."""
    app = create_app(
        make_config(
            url,
            MEDIA_DIR=str(folder / name / "media"),
            CENTRE_ID=name,
            CENTRE_KEY_FILE=str(folder / name / "keys" / "centre-ed25519.pem"),
            CENTRE_KEYS_DIR=str(folder / name / "keys" / "centres"),
            **extra,
        )
    )
    app.instance_path = str(folder / name)
    with app.app_context():
        db.create_all()
    return app


def cli(app, *args):
    return app.test_cli_runner().invoke(args=[str(a) for a in args])


def run_sitting(app, n_sitting=2, n_absent=0) -> int:
    """A sitting whose candidates answer through /exam; a proctor then ends it through /proctor."""
    with app.app_context():
        make_user("kepala", role="admin")
        sitting_id = build_sitting(MARKED, TWK + TIU + TKP, n_candidates=n_sitting + n_absent)
    for i in range(1, n_sitting + 1):
        assert sit_mixed_exam(app, sitting_id, f"R{i}", f"pc-{i}")["status"] == "finished"
    end_sitting(app, sitting_id)
    return sitting_id


def end_sitting(app, sitting_id):
    client = app.test_client()
    assert login_staff(client, "kepala").status_code == 302
    sock = socketio.test_client(app, namespace="/proctor", flask_test_client=client)
    ack = sock.emit(
        "end_sitting",
        {"sitting": sitting_id, "reason": "Waktu sesi habis"},
        namespace="/proctor",
        callback=True,
    )
    assert ack["ok"], ack
    sock.disconnect(namespace="/proctor")


def centre_with_bundle(new_url, folder, name, n_sitting=2, n_absent=0):
    """A centre with a key, an ended sitting and its exported bundle: (app, sitting, file, pub)."""
    app = instance(new_url(name), folder, name)
    assert cli(app, "keys", "create").exit_code == 0
    public = folder / f"{name}.pub"
    public.write_text(cli(app, "keys", "export-public").output)
    sitting_id = run_sitting(app, n_sitting, n_absent)
    bundle = folder / f"{name}-sesi-{sitting_id}.json"
    result = cli(app, "results", "export", "--sitting", sitting_id, "--out", bundle)
    assert result.exit_code == 0, result.output
    return app, sitting_id, bundle, public


def national_rows(app):
    with app.app_context():
        return db.session.execute(
            sa.select(NationalScore.centre, NationalScore.registration_no, NationalScore.total)
        ).all()


@pytest.fixture
def two_centres(new_url, tmp_path):
    jakarta = centre_with_bundle(new_url, tmp_path, "UPT-JAKARTA", n_sitting=2)
    makassar = centre_with_bundle(new_url, tmp_path, "UPT-MAKASSAR", n_sitting=1, n_absent=1)
    national = instance(new_url("national"), tmp_path, "national")
    for name, (_, _, _, public) in (("UPT-JAKARTA", jakarta), ("UPT-MAKASSAR", makassar)):
        result = cli(national, "keys", "trust-centre", name, public)
        assert result.exit_code == 0, result.output
    return jakarta, makassar, national


def test_two_centres_bundles_verify_and_merge_on_a_third_instance(two_centres, tmp_path):
    (_, _, jakarta, jakarta_pub), (_, _, makassar, _), national = two_centres
    verified = cli(national, "results", "verify", jakarta, "--centre-key", jakarta_pub)
    assert verified.exit_code == 0, verified.output
    assert "OK:" in verified.output and "2 attempts" in verified.output
    # the other centre's key is not the signer: named, and it fails
    wrong = cli(national, "results", "verify", makassar, "--centre-key", jakarta_pub)
    assert wrong.exit_code == 1 and "not by the trusted centre key" in wrong.output

    body = json.loads(jakarta.read_text())["body"]
    assert body["centre"]["id"] == "UPT-JAKARTA"
    assert body["sitting"]["ended_at"]["local"].endswith("+07:00")
    assert body["sitting"]["ended_at"]["utc"].endswith("Z")
    assert "package_id" in body and body["audit"]["by_action"]["sitting_ended"] == 1
    first = body["attempts"][0]
    assert first["chain"]["verified_at_centre"] is True
    assert len(first["responses"]) == first["chain"]["n"] == 11
    assert [s["code"] for s in first["scores"]["sections"]] == ["TWK", "TIU", "TKP"]
    twk, tiu, tkp = first["scores"]["sections"]
    assert twk["pass_mark"] == 10 and twk["passed"] == (twk["score"] >= 10)
    assert tiu["pass_mark"] is None and tiu["passed"] is None
    assert first["scores"]["passed"] == (twk["passed"] and tkp["passed"])

    result = cli(national, "results", "import", jakarta, makassar)
    assert result.exit_code == 0, result.output
    assert "imported 2 rows of centre UPT-JAKARTA" in result.output
    assert "imported 1 rows of centre UPT-MAKASSAR" in result.output
    out = tmp_path / "scores.csv"
    assert cli(national, "results", "table", "--out", out).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert sorted((r["centre"], r["registration_no"]) for r in rows) == [
        ("UPT-JAKARTA", "R1"),
        ("UPT-JAKARTA", "R2"),
        ("UPT-MAKASSAR", "R1"),
    ]
    by_reg = {a["registration_no"]: a for a in body["attempts"]}
    for row in rows:
        if row["centre"] == "UPT-JAKARTA":
            assert int(row["total"]) == by_reg[row["registration_no"]]["scores"]["total"]
    xlsx = tmp_path / "scores.xlsx"
    assert cli(national, "results", "table", "--out", xlsx).exit_code == 0
    assert xlsx.read_bytes()[:2] == b"PK"

    # re-import: a no-op, said so
    before = national_rows(national)
    again = cli(national, "results", "import", jakarta, makassar)
    assert again.exit_code == 0, again.output
    assert again.output.count("already imported") == 2 and "nothing changed" in again.output
    assert national_rows(national) == before
    with national.app_context():
        assert db.session.query(ResultBundle).count() == 2


def edit_a_score(path: Path, to: int) -> Path:
    """A hand edit: the first attempt's TWK score, one number in the text, nothing else."""
    text = path.read_text()
    document = json.loads(text)
    score = document["body"]["attempts"][0]["scores"]["sections"][0]["score"]
    at = text.index('"scores": {')  # the first attempt's; its first section is TWK
    start = text.index('"score": ', at) + len('"score": ')
    assert text[start : start + len(str(score))] == str(score)
    edited = path.with_name("edited-" + path.name)
    edited.write_text(text[:start] + str(to) + text[start + len(str(score)) :])
    assert (
        json.loads(edited.read_text())["body"]["attempts"][0]["scores"]["sections"][0]["score"]
        == to
    )
    return edited


def test_a_bundle_edited_by_hand_fails_verify_and_import_naming_what(two_centres):
    (_, _, jakarta, jakarta_pub), _, national = two_centres
    score = json.loads(jakarta.read_text())["body"]["attempts"][0]["scores"]["sections"][0]
    edited = edit_a_score(jakarta, score["score"] + 5)
    result = cli(national, "results", "verify", edited, "--centre-key", jakarta_pub)
    assert result.exit_code == 1
    assert "the signature does not match the content" in result.output
    assert (
        f"registration R1): section TWK score {score['score'] + 5}, "
        f"but its responses give {score['score']}" in result.output
    )
    # without a key to compare with, the carried key still finds the edit
    assert cli(national, "results", "verify", edited).exit_code == 1

    imported = cli(national, "results", "import", edited)
    assert imported.exit_code == 1
    assert "REFUSED" in imported.output and "signature does not match" in imported.output
    assert national_rows(national) == []
    with national.app_context():
        assert db.session.query(ResultBundle).count() == 0


def test_a_changed_bundle_for_the_same_sitting_is_refused_and_reported(two_centres, tmp_path):
    (centre, sitting_id, jakarta, _), _, national = two_centres
    assert cli(national, "results", "import", jakarta).exit_code == 0
    before = national_rows(national)
    # the centre makes a second, validly signed but different bundle of the same sitting
    with centre.app_context():
        db.session.delete(forward.delivery_of(sitting_id))
        db.session.add(
            Incident(sitting_id=sitting_id, category="other", text="catatan susulan", actor="x")
        )
        db.session.commit()
    second = tmp_path / "second.json"
    assert cli(centre, "results", "export", "--sitting", sitting_id, "--out", second).exit_code == 0
    assert cli(national, "results", "verify", second).exit_code == 0

    result = cli(national, "results", "import", second)
    assert result.exit_code == 1
    assert f"centre UPT-JAKARTA sent sitting {sitting_id} before" in result.output
    assert "this bundle differs" in result.output and "refused" in result.output
    assert national_rows(national) == before
    with national.app_context():
        refused = db.session.query(AuditEvent).filter_by(action="results_refused").one()
        assert refused.data["centre"] == "UPT-JAKARTA" and refused.data["sitting_ref"] == sitting_id


def test_a_foreign_signer_is_refused_with_nothing_written(new_url, tmp_path):
    _, _, bundle, _ = centre_with_bundle(new_url, tmp_path, "UPT-BANDUNG", n_sitting=1)
    national = instance(new_url("national"), tmp_path, "national")
    result = cli(national, "results", "import", bundle)
    assert result.exit_code == 1 and "a key no centre is trusted with here" in result.output
    assert national_rows(national) == []


def test_a_sitting_that_is_not_over_has_no_bundle(new_url, tmp_path):
    app = instance(new_url("centre"), tmp_path, "UPT-SOLO")
    assert cli(app, "keys", "create").exit_code == 0
    with app.app_context():
        sitting_id = build_sitting(SECTIONS, TWK + TIU + TKP, n_candidates=1)
    result = cli(app, "results", "export", "--sitting", sitting_id, "--out", tmp_path / "x.json")
    assert result.exit_code == 2
    assert "is not over (status started): end it in the proctor console first" in result.output
    assert not (tmp_path / "x.json").exists()
    with app.app_context():
        assert forward.delivery_of(sitting_id) is None


def test_the_admin_button_downloads_the_file_the_cli_writes(new_url, tmp_path):
    app, sitting_id, bundle, _ = centre_with_bundle(new_url, tmp_path, "UPT-MEDAN", n_sitting=1)
    admin = app.test_client()
    assert login_staff(admin, "kepala").status_code == 302
    listing = admin.get("/admin/results/").get_data(as_text=True)
    assert f'data-sitting="{sitting_id}"' in listing and "Unduh bundel" in listing
    assert "Menunggu kirim" in listing and "Diekspor" in listing  # no national URL: the USB way
    answer = admin.post(f"/admin/results/{sitting_id}/export")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="hasil-UPT-MEDAN-sesi-{sitting_id}.json"'
    )
    assert answer.data == bundle.read_bytes()  # one bundle per sitting: USB and WAN alike

    with app.app_context():
        make_user("pengawas")
    proctor = app.test_client()
    assert login_staff(proctor).status_code == 302
    assert proctor.get("/admin/results/").status_code == 403
    assert proctor.post(f"/admin/results/{sitting_id}/export").status_code == 403


def test_an_answer_changed_in_the_centres_database_is_named_in_its_signed_bundle(new_url, tmp_path):
    """An insider makes a wrong answer right, scores made to agree: the chain tells."""
    app = instance(new_url("centre"), tmp_path, "UPT-DEPOK")
    assert cli(app, "keys", "create").exit_code == 0
    sitting_id = run_sitting(app, n_sitting=1)
    with app.app_context():
        row = db.session.query(Response).filter_by(attempt_id=1, n=5).one()  # seq 1, D: 0
        attempt = db.session.get(Attempt, 1)
        row.choice, row.score = "A", 5
        attempt.total_score += 5
        attempt.section_scores = {
            **attempt.section_scores,
            "TWK": attempt.section_scores["TWK"] + 5,
        }
        db.session.commit()
    bundle = tmp_path / "depok.json"
    assert cli(app, "results", "export", "--sitting", sitting_id, "--out", bundle).exit_code == 0
    result = cli(app, "results", "verify", bundle)
    assert result.exit_code == 1
    assert "attempt 1 (registration R1): its chain did not verify at the centre" in result.output
    assert "signature does not match" not in result.output  # signed as it stood


def test_trusting_a_centre_never_replaces_or_doubles_a_key(new_url, tmp_path):
    national = instance(new_url("national"), tmp_path, "national")
    for name in ("a", "b"):
        assert cli(national, "keys", "create", "--out", tmp_path / f"{name}.pem").exit_code == 0
        public = cli(national, "keys", "export-public", "--key", tmp_path / f"{name}.pem")
        (tmp_path / f"{name}.pub").write_text(public.output)
    assert cli(national, "keys", "trust-centre", "UPT-A", tmp_path / "a.pub").exit_code == 0
    again = cli(national, "keys", "trust-centre", "UPT-A2", tmp_path / "a.pub")
    assert again.exit_code == 2 and "trusted already, as centre UPT-A" in again.output
    other = cli(national, "keys", "trust-centre", "UPT-A", tmp_path / "b.pub")
    assert other.exit_code == 2 and "trusted already with another key" in other.output
    bad = cli(national, "keys", "trust-centre", "../etc", tmp_path / "b.pub")
    assert bad.exit_code == 2 and "is no centre name" in bad.output
    assert sorted(p.name for p in (tmp_path / "national" / "keys" / "centres").iterdir()) == [
        "UPT-A.pub"
    ]
    table = cli(national, "results", "table", "--out", tmp_path / "scores.ods")
    assert table.exit_code == 2 and "name a .csv or .xlsx file" in table.output


def test_one_centre_cannot_re_sign_anothers_results_as_its_own(two_centres, tmp_path):
    """Outsider attack: Makassar re-signed Jakarta's body with its own key and fingerprint."""
    from cat_server.results import bundle as results
    from cat_server.sealed import keys

    (_, _, jakarta, _), (makassar_app, _, _, _), national = two_centres
    document = json.loads(jakarta.read_text())
    body = document["body"]
    with makassar_app.app_context():
        private = keys.centre_private_key()
        body["centre"]["key_fingerprint"] = keys.fingerprint(private.public_key())
        forged = results.encode(
            body,
            private.sign(results.DOMAIN + results.canonical(body)),
            keys.public_pem(private.public_key()).decode(),
        )
    path = tmp_path / "jakarta-resigned-by-makassar.json"
    path.write_bytes(forged)
    assert cli(national, "results", "verify", path).exit_code == 0  # a sound signature ...
    refused = cli(national, "results", "import", path)
    assert refused.exit_code == 1  # ... by a centre that says it is another
    assert "says it comes from 'UPT-JAKARTA'" in refused.output
    assert "trusted as 'UPT-MAKASSAR'" in refused.output
    assert national_rows(national) == []


@pytest.mark.parametrize(
    "edit, why",
    [
        (lambda t: t.replace('"total": ', '"total": 99,\n"total": ', 1), "appears twice"),
        (lambda t: t.replace('"body": {', '"note": "R1 didiskualifikasi",\n"body": {', 1),
         "unsigned fields beside the body: note"),
        (lambda t: t.replace('"alg": ', '"note": "x",\n"alg": ', 1), "unknown fields in the signature"),
        (lambda t: "[" * 100000 + "]" * 100000, "nested deeper"),
    ],
)  # fmt: skip
def test_what_a_parser_or_a_person_reads_differently_is_refused(two_centres, tmp_path, edit, why):
    """Outsider attack: a duplicated "total" verified OK (json keeps the last, a reader the first)."""
    (_, _, jakarta, jakarta_pub), _, national = two_centres
    path = tmp_path / "edited.json"
    path.write_text(edit(jakarta.read_text()))
    verified = cli(national, "results", "verify", path, "--centre-key", jakarta_pub)
    assert verified.exit_code != 0 and why in verified.output, verified.output
    assert cli(national, "results", "import", path).exit_code == 1
    assert national_rows(national) == []
