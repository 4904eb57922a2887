"""Sealed exam packages (docs/packages.md): built, imported, released at the start, delivered;
every refusal leaves nothing stored; nothing readable at the centre before the release."""

from __future__ import annotations

import html
import io
from datetime import timedelta

import pytest

from cat_server.exam.attempts import start_sitting
from cat_server.extensions import db, socketio
from cat_server.itembank.service import import_bank
from cat_server.localtime import to_local
from cat_server.models import (
    AuditEvent,
    Candidate,
    Exam,
    ExamPackage,
    Item,
    ItemBank,
    PackageRelease,
    SealedItem,
    Sitting,
)
from tests.conftest import PIN, last_event, login_candidate, login_staff, make_user, quick_hash
from tests.packages_kit import (
    KEYS,
    STARTS,
    STEMS,
    build,
    code_for,
    database_bytes,
    schedule,
    secrets_in,
    setup_keys,
    slot_arg,
    write_inputs,
)

pytestmark = pytest.mark.usefixtures("quick_hashes")
SLOT, OTHER_SLOT = "2026-12-07-S1", "2026-12-07-S2"


@pytest.fixture
def issuer(app, tmp_path):
    return setup_keys(app, tmp_path)


@pytest.fixture
def imported(app, runner, tmp_path, issuer):
    """(package file, exam id): built by the issuer, imported by the centre."""
    package = build(runner, tmp_path, issuer)
    result = runner.invoke(args=["package", "import", str(package)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
    return package, exam_id


def proctor_call(sock, event, **data):
    return sock.emit(event, data, namespace="/proctor", callback=True)


def test_a_package_is_built_imported_released_and_delivered_and_scored_right(
    app, runner, imported, issuer
):
    package, exam_id = imported
    with app.app_context():
        proctor = make_user()
        sitting_id = schedule(exam_id, proctor=proctor)
        proctor_id = proctor.id
    staff = app.test_client()
    login_staff(staff)
    console = socketio.test_client(app, namespace="/proctor", flask_test_client=staff)
    ack = proctor_call(console, "open_check_in", sitting=sitting_id, reason="buka")
    assert ack["ok"] is False and ack["error"] == "not_released", ack
    code = code_for(runner, package, issuer)
    ack = proctor_call(console, "release_package", sitting=sitting_id, code=code)
    assert ack["ok"], ack
    assert proctor_call(console, "open_check_in", sitting=sitting_id, reason="buka")["ok"]

    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    assert proctor_call(console, "start_sitting", sitting=sitting_id)["ok"]
    state = last_event(sock, "state", "/exam")
    seen = []
    while state["status"] == "in_progress":
        item = state["item"]
        code_of = next(c for c, stem in STEMS.items() if stem == item["stem"])
        seen.append(code_of)
        assert [o["text"] for o in item["options"]][0] == f"pilihan {code_of} A"
        ack = sock.emit(
            "answer",
            {"attempt": state["attempt"], "seq": state["seq"], "item": item["id"],
             "choice": KEYS[code_of]},
            namespace="/exam",
            callback=True,
        )  # fmt: skip
        assert ack["ok"], ack
        state = ack["state"]
        if state.get("section_over"):
            state = sock.emit("finish_section", {"attempt": state["attempt"], "section": 1},
                              namespace="/exam", callback=True)["state"]  # fmt: skip
    assert seen[:3] == ["TWK001", "TWK002", "TWK003"] and len(seen) == 7
    result = state["result"]
    assert result["sections"][0]["score"] == 15 and result["sections"][0]["passed"]
    assert result["sections"][1]["score"] > 50  # every adaptive answer right: theta > 0
    with app.app_context():
        audits = (
            db.session.execute(db.select(AuditEvent).where(AuditEvent.action == "package_released"))
            .scalars()
            .all()
        )
        assert [(a.actor, a.data["slot"]) for a in audits] == [(f"user:{proctor_id}", SLOT)]


def rows(app) -> dict:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(db.select(db.func.count()).select_from(model))
            for model in (ExamPackage, SealedItem, Item, ItemBank, Exam, AuditEvent, PackageRelease)
        }


def rezip(package, tmp_path, change) -> object:
    """The package with one member changed by ``change(name, data)``, zipped again."""
    import zipfile

    out = tmp_path / "changed.catpkg"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)))
    return out


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    "where, reason",
    [
        ("manifest.json", "signature of changed.catpkg does not verify"),
        ("manifest.sig", "signature of changed.catpkg does not verify"),
        ("items/0002.bin", "items/0002.bin (item TWK002) in changed.catpkg was altered"),
        ("raw", "damaged"),
    ],
)
def test_a_package_with_one_flipped_byte_is_refused_naming_why_and_nothing_is_stored(
    app, runner, tmp_path, issuer, where, reason
):
    package = build(runner, tmp_path, issuer)
    before = rows(app)
    if where == "raw":  # inside the compressed data of the first member: the zip's CRC
        changed = tmp_path / "changed.catpkg"
        changed.write_bytes(flip(package.read_bytes(), 60))
    else:
        changed = rezip(package, tmp_path, lambda n, d: flip(d, len(d) // 2) if n == where else d)
    result = runner.invoke(args=["package", "import", str(changed)])
    assert result.exit_code == 2 and "nothing stored" in result.output
    assert reason in result.output
    assert rows(app) == before


def test_a_package_of_a_foreign_signer_is_refused(app, runner, tmp_path, issuer):
    from cat_server.sealed import keys

    stranger = tmp_path / "stranger.pem"
    with app.app_context():
        keys.write_private_key(stranger)
    package = build(runner, tmp_path, stranger)
    before = rows(app)
    result = runner.invoke(args=["package", "import", str(package)])
    assert result.exit_code == 2
    assert "does not verify against the imported issuer key" in result.output
    assert "it names issuer ed25519:" in result.output
    assert rows(app) == before


def test_a_package_of_another_format_version_is_refused_even_when_signed(
    app, runner, tmp_path, issuer
):
    import json

    from cat_server.sealed import keys

    package = build(runner, tmp_path, issuer)
    key = keys.read_private_key(issuer)

    def to_v2(name, data):
        if name == "manifest.json":
            return json.dumps(dict(json.loads(data), version=2)).encode()
        return data

    changed = rezip(package, tmp_path, to_v2)
    import zipfile

    resigned = tmp_path / "v2.catpkg"
    with zipfile.ZipFile(changed) as src, zipfile.ZipFile(resigned, "w") as dst:
        body = src.read("manifest.json")
        for info in src.infolist():
            data = key.sign(body) if info.filename == "manifest.sig" else src.read(info)
            dst.writestr(info.filename, data)
    before = rows(app)
    result = runner.invoke(args=["package", "import", str(resigned)])
    assert result.exit_code == 2
    assert "format version 2; this server reads version 1 only" in result.output
    assert rows(app) == before


def test_the_same_package_twice_is_refused(app, runner, imported):
    package, _ = imported
    before = rows(app)
    result = runner.invoke(args=["package", "import", str(package)])
    assert result.exit_code == 2 and "imported already" in result.output
    assert rows(app) == before


def release(runner, sitting_id, code):
    return runner.invoke(args=["package", "release", "--sitting", str(sitting_id), "--code", code])


def test_wrong_codes_are_refused_each_saying_why_audited_without_the_code(
    app, runner, tmp_path, imported, issuer
):
    package, exam_id = imported
    with app.app_context():
        sitting_id = schedule(exam_id)
    good = code_for(runner, package, issuer)
    typo = good[:3] + ("X" if good[3] != "X" else "Y") + good[4:]
    other_slot = code_for(runner, package, issuer, OTHER_SLOT)
    other_package = code_for(runner, build(runner, tmp_path, issuer, name="lain"), issuer)
    before = rows(app)
    for n, (code, why) in enumerate(
        [
            (typo, "has a typo"),
            (good[:-3], "has 18 letters and digits"),
            (other_slot, f"for slot {OTHER_SLOT}, not this sitting's slot ({SLOT})"),
            (other_package, "does not open package PKG"),
        ],
        start=1,
    ):
        result = release(runner, sitting_id, code)
        assert result.exit_code == 2, result.output
        assert why in result.output and "Not released" in result.output
        assert rows(app) == {**before, "AuditEvent": before["AuditEvent"] + n}
    with app.app_context():
        wrong = (
            db.session.execute(
                db.select(AuditEvent).where(AuditEvent.action == "package_code_refused")
            )
            .scalars()
            .all()
        )
    assert [(e.actor, e.sitting_id) for e in wrong] == [("cli", sitting_id)] * 4
    assert [e.reason for e in wrong] == ["typo", "typo", f"slot {OTHER_SLOT}", "wrong"]
    for code in (good, typo, other_slot, other_package):  # the audit never keeps a code
        assert not any(code.replace("-", "") in str(e.data).replace("-", "") for e in wrong)
    # read out over the phone: lower case, spaces, O for 0 still open it
    spoken = good.lower().replace("-", " ").replace("0", "o")
    result = release(runner, sitting_id, spoken)
    assert result.exit_code == 0, result.output
    assert "WIB" in result.output
    after = rows(app)
    assert after["PackageRelease"] == 1 and after["AuditEvent"] == before["AuditEvent"] + 5
    # typed again: the same release; a wrong code is still refused (and audited)
    assert release(runner, sitting_id, good).exit_code == 0
    assert release(runner, sitting_id, other_slot).exit_code == 2
    assert rows(app) == {**after, "AuditEvent": after["AuditEvent"] + 1}


def test_starting_an_unreleased_sitting_is_refused_with_a_clear_message(app, imported):
    from cat_server.exam.attempts import start_sitting
    from cat_server.sealed.release import NotReleased

    _, exam_id = imported
    with app.app_context():
        sitting_id = schedule(exam_id)
        db.session.get(Sitting, sitting_id).status = "open"
        db.session.commit()
        with pytest.raises(NotReleased) as refused:
            start_sitting(sitting_id, "user:1")
        assert "enter the issuer's release code first" in refused.value.message_en
        db.session.rollback()
        assert db.session.get(Sitting, sitting_id).status == "open"


def test_before_release_no_stem_is_in_the_database_the_log_or_any_admin_page(
    app, runner, tmp_path, issuer, caplog
):
    """Imported on the admin page, scheduled with its slot: every page, the database file
    (pg_dump on PostgreSQL) and the log hold no stem or option; after delivery still none."""
    import logging

    caplog.set_level(logging.DEBUG)
    package = build(runner, tmp_path, issuer)
    with app.app_context():
        make_user("admin", role="admin")
        proctor = make_user()
        proctor_id = proctor.id
    admin = app.test_client()
    login_staff(admin, "admin")
    bad = admin.post(
        "/admin/packages",
        data={"file": (io.BytesIO(flip(package.read_bytes(), 60)), "pkg.catpkg")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "tidak ada yang disimpan" in bad.get_data(as_text=True)
    page = admin.post(
        "/admin/packages",
        data={"file": (io.BytesIO(package.read_bytes()), "pkg.catpkg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<code>PKG</code>" in text and "TIU" in text, text
    with app.app_context():
        row = db.session.execute(db.select(ExamPackage)).scalar_one()
        exam_id, bank_id = row.exam_id, row.bank_id
        item_ids = (
            db.session.execute(db.select(Item.id).where(Item.bank_id == bank_id)).scalars().all()
        )
    with app.app_context():
        at = to_local(STARTS[SLOT]).strftime("%Y-%m-%d %H:%M")
    form = {"exam_id": exam_id, "name": "Sesi 1", "room": "R1", "proctors": proctor_id,
            "scheduled_at": at}  # fmt: skip
    refused = admin.post("/admin/sittings", data=form)
    assert refused.status_code == 422
    assert "sebutkan salah satu slotnya" in refused.get_data(as_text=True)
    made = admin.post("/admin/sittings", data={**form, "package_slot": SLOT})
    assert made.status_code == 302, made.get_data(as_text=True)
    with app.app_context():
        sitting_id = db.session.execute(db.select(Sitting.id)).scalar_one()
    urls = [
        "/admin/", "/admin/banks", f"/admin/banks/{bank_id}", f"/admin/banks/{bank_id}/stats",
        f"/admin/banks/{bank_id}/information.svg", "/admin/exams", "/admin/exams/build",
        f"/admin/exams/{exam_id}/build", f"/admin/exams/{exam_id}/export", "/admin/sittings",
        f"/admin/sittings/{sitting_id}", "/admin/scores", "/admin/scores/export.csv",
        "/admin/scores/responses.csv", "/admin/scores/response-log.csv", "/admin/audit",
        "/admin/calibration", "/admin/users", "/admin/packages", "/proctor/",
        f"/proctor/sittings/{sitting_id}", f"/proctor/sittings/{sitting_id}/report",
        *(f"/admin/items/{i}/preview" for i in item_ids),
        f"/admin/exams/{exam_id}/sections/1/preview", f"/admin/banks/{bank_id}/preview",
        *(f"/admin/banks/{bank_id}/export.{fmt}" for fmt in ("csv", "json", "xlsx")),
    ]  # fmt: skip
    for url in urls:
        response = admin.get(url)
        assert response.status_code in (200, 403, 422), (url, response.status_code)
        assert not secrets_in(response.get_data()), url
    assert admin.get(f"/admin/items/{item_ids[0]}/preview").status_code == 403
    assert secrets_in(database_bytes(app)) == []
    assert secrets_in(caplog.text.encode()) == []
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # a pg backup is compressed:
        backup = runner.invoke(args=["backup", str(tmp_path / "backups")])  # pg_dump text above
        assert backup.exit_code == 0, backup.output
        copies = list((tmp_path / "backups").iterdir())
        assert copies and all(secrets_in(c.read_bytes()) == [] for c in copies)

    code = code_for(runner, package, issuer)
    assert release(runner, sitting_id, code).exit_code == 0
    assert not secrets_in(admin.get(f"/admin/banks/{bank_id}").get_data())
    assert admin.get(f"/admin/items/{item_ids[0]}/preview").status_code == 403
    for preview in (
        f"/admin/exams/{exam_id}/sections/1/preview",
        f"/admin/banks/{bank_id}/preview",
    ):
        refused = admin.get(preview)  # a whole section no more than one item, even once released
        assert refused.status_code == 403 and not secrets_in(refused.get_data()), preview
    for page in (f"/admin/exams/{exam_id}/build", "/admin/exams", f"/admin/banks/{bank_id}"):
        text = admin.get(page).get_data(as_text=True)  # no section preview link to refuse
        assert "sections/1/preview" not in text and f"banks/{bank_id}/preview" not in text, page
    with app.app_context():
        sitting = db.session.get(Sitting, sitting_id)
        sitting.status = "open"
        db.session.add(Candidate(sitting_id=sitting_id, registration_no="20260001", name="P",
                                 pin_hash=quick_hash(PIN)))  # fmt: skip
        db.session.commit()
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    with app.app_context():
        start_sitting(sitting_id, "user:1")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = sock.emit("sync", namespace="/exam", callback=True)["state"]
    assert state["item"]["stem"] == STEMS["TWK001"]  # delivered: decrypted in memory
    assert secrets_in(str(state).encode()) == ["TWK001", "TWK001 options"]  # the scan sees them
    assert secrets_in(database_bytes(app)) == []  # and never written in the clear
    assert secrets_in(caplog.text.encode()) == []
    # the scan would see them: the same bank imported in the clear is found whole
    with app.app_context():
        import_bank(tmp_path / "issuer" / "bank.csv", "Bank terbuka")
    assert len(secrets_in(database_bytes(app))) == 2 * len(STEMS)


def test_an_items_media_travel_sealed_and_reach_only_the_candidate_it_is_presented_to(
    app, runner, tmp_path, issuer
):
    import zipfile

    from tests.packages_kit import bank_csv, write_inputs

    exam, _ = write_inputs(tmp_path)
    png = b"\x89PNG\r\n\x1a\n" + b"GRAFIK-RAHASIA-7731" * 50
    text = bank_csv().replace("item_id,section", "media,item_id,section")
    lines = text.splitlines()
    lines = [lines[0]] + ["media/grafik.png," + lines[1]] + ["," + line for line in lines[2:]]
    bank = tmp_path / "issuer" / "bank.zip"
    with zipfile.ZipFile(bank, "w") as archive:
        archive.writestr("bank.csv", "\n".join(lines) + "\n")
        archive.writestr("media/grafik.png", png)
    package = tmp_path / "issuer" / "media.catpkg"
    args = ["package", "build", "--exam", str(exam), "--bank", str(bank), "--issuer-key"]
    args += [str(issuer), "--out", str(package), "--slot", slot_arg(SLOT), "--id", "MEDIA"]
    assert runner.invoke(args=args).exit_code == 0
    assert b"GRAFIK-RAHASIA" not in package.read_bytes()
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    assert b"GRAFIK-RAHASIA" not in database_bytes(app)
    with app.app_context():
        make_user("admin", role="admin")
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        sitting_id = schedule(exam_id)
        media_item = db.session.execute(db.select(Item.id).where(Item.code == "TWK001")).scalar()
    assert release(runner, sitting_id, code_for(runner, package, issuer)).exit_code == 0
    with app.app_context():
        db.session.get(Sitting, sitting_id).status = "open"
        db.session.commit()
    client = app.test_client()
    assert login_candidate(client, sitting_id, "20260001").status_code == 302
    assert client.get(f"/exam/media/{media_item}").status_code == 404  # waiting: not yet
    with app.app_context():
        start_sitting(sitting_id, "user:1")
    sock = socketio.test_client(app, namespace="/exam", flask_test_client=client)
    state = sock.emit("sync", namespace="/exam", callback=True)["state"]
    assert state["item"]["id"] == media_item and state["item"]["media"] == "image"
    got = client.get(f"/exam/media/{media_item}")
    assert got.status_code == 200 and got.data == png and got.mimetype == "image/png"
    admin = app.test_client()
    login_staff(admin, "admin")
    assert admin.get(f"/exam/media/{media_item}").status_code == 404
    assert b"GRAFIK-RAHASIA" not in database_bytes(app)


def test_a_release_needs_the_centres_key_and_says_so(app, runner, imported, issuer, tmp_path):
    package, exam_id = imported
    with app.app_context():
        sitting_id = schedule(exam_id)
    app.config["CENTRE_KEY_FILE"] = str(tmp_path / "gone.pem")
    before = rows(app)
    result = release(runner, sitting_id, code_for(runner, package, issuer))
    assert result.exit_code == 2
    assert "The code is right, but the centre's key is not available" in result.output
    assert "cat-server keys create" in result.output
    assert rows(app) == before


def test_no_other_exam_is_saved_on_a_sealed_package_bank(app, runner, imported, tmp_path):
    """Another exam on the package's bank would draw on sealed placeholders: refused."""
    _, exam_id = imported
    path = tmp_path / "copy.json"
    assert runner.invoke(args=["exam", "export", str(exam_id), str(path)]).exit_code == 0
    result = runner.invoke(args=["exam", "import", str(path)])
    assert result.exit_code != 0 and "bank paket tersegel" in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Exam)) == 1


def resign(package, tmp_path, issuer, change, extra=None):
    """The package with its manifest changed by ``change(manifest)`` and signed again by the
    issuer (a signed but malformed package), plus ``extra`` members."""
    import json
    import zipfile

    from cat_server.sealed import keys

    key = keys.read_private_key(issuer)
    out = tmp_path / "resigned.catpkg"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(out, "w") as dst:
        manifest = json.loads(src.read("manifest.json"))
        change(manifest)
        body = json.dumps(manifest).encode()
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "manifest.json":
                data = body
            elif info.filename == "manifest.sig":
                data = key.sign(body)
            dst.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            dst.writestr(name, data)
    return out


def _set(path, value):
    def change(manifest):
        *parents, last = path
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value

    return change


@pytest.mark.parametrize(
    "change, why",
    [
        (_set(["version"], True), "format version True; this server reads version 1 only"),
        (_set(["version"], 1.0), "format version 1.0; this server reads version 1 only"),
        (_set(["release", "kdf", "n"], 32768.0), "release.kdf.n is 32768.0; expected an integer"),
        (_set(["release", "kdf", "r"], True), "release.kdf.r is True; expected an integer"),
        (_set(["release", "kdf", "n"], 2**30), "release.kdf.n is 1073741824; expected an integer"),
        (_set(["slots", 0, "starts_at"], "2026-12-07T08:00"), "starts_at is '2026-12-07T08:00'"),
    ],
)
def test_a_signed_manifest_with_a_number_of_the_wrong_type_is_refused(
    app, runner, tmp_path, issuer, change, why
):
    package = resign(build(runner, tmp_path, issuer), tmp_path, issuer, change)
    before = rows(app)
    result = runner.invoke(args=["package", "import", str(package)])
    assert result.exit_code == 2 and why in result.output, result.output
    assert rows(app) == before


def test_a_package_with_a_member_the_manifest_does_not_name_is_refused(
    app, runner, tmp_path, issuer
):
    package = build(runner, tmp_path, issuer)
    smuggled = resign(package, tmp_path, issuer, lambda m: None, {"items/9999.bin": b"x" * 40})
    before = rows(app)
    result = runner.invoke(args=["package", "import", str(smuggled)])
    assert result.exit_code == 2
    assert "holds files the signed manifest does not name: items/9999.bin" in result.output
    assert rows(app) == before
    # the same package re-signed without the extra member is fine
    clean = resign(package, tmp_path, issuer, lambda m: None)
    assert runner.invoke(args=["package", "import", str(clean)]).exit_code == 0


def test_a_slot_is_built_with_its_start_or_not_at_all(runner, tmp_path, issuer):
    exam, bank = write_inputs(tmp_path)
    args = ["package", "build", "--exam", str(exam), "--bank", str(bank), "--issuer-key"]
    args += [str(issuer), "--out", str(tmp_path / "x.catpkg")]
    for slot in (SLOT, f"{SLOT}=2026-12-07T08:00", f"{SLOT}=besok pagi"):
        result = runner.invoke(args=[*args, "--slot", slot])
        assert result.exit_code == 2 and "write ID=START with the start's offset" in result.output
    assert not (tmp_path / "x.catpkg").exists()
    result = runner.invoke(args=[*args, "--slot", f"{SLOT}=2026-12-07T08:00+07:00"])
    assert result.exit_code == 0, result.output
    summary = runner.invoke(args=["package", "import", str(tmp_path / "x.catpkg")])
    assert f"slots {SLOT} (2026-12-07 08:00 WIB)" in summary.output, summary.output


def test_an_old_slots_code_opens_no_sitting_scheduled_months_later(app, runner, tmp_path, issuer):
    """The tester's attack: slot S1 ended; a new sitting named S1 months later, the old code."""

    from cat_server.admin.sittings import FormProblems, create_sitting
    from cat_server.models import utcnow

    now = utcnow()
    starts = {SLOT: now - timedelta(days=90), OTHER_SLOT: now + timedelta(hours=3)}
    package = build(runner, tmp_path, issuer, starts=starts)
    assert runner.invoke(args=["package", "import", str(package)]).exit_code == 0
    old_code = code_for(runner, package, issuer)
    with app.app_context():
        exam_id = db.session.execute(db.select(ExamPackage.exam_id)).scalar_one()
        proctor = make_user()
        with pytest.raises(FormProblems) as refused:
            create_sitting(exam_id, "Sesi Ulang", "R1", now, [proctor.id], "test", slot=SLOT)
        ((field, message),) = refused.value.problems
        assert field == "package_slot" and "harus mulai dalam 60 menit" in message, message
        # within the hour of its slot's start a sitting is scheduled as before
        on_time = create_sitting(exam_id, "Sesi 2", "R1", starts[OTHER_SLOT] + timedelta(
            minutes=30), [proctor.id], "test", slot=OTHER_SLOT).id  # fmt: skip
        stale = schedule(exam_id, slot=SLOT)  # a row made otherwise (an old one, a restore)
    before = rows(app)
    result = release(runner, stale, old_code)
    assert result.exit_code == 2 and f"Slot {SLOT} is over" in result.output, result.output
    assert "an old slot's code opens no new sitting" in result.output
    early = release(runner, on_time, code_for(runner, package, issuer, OTHER_SLOT))
    assert early.exit_code == 2 and f"Slot {OTHER_SLOT} has not begun" in early.output
    assert "WIB" in early.output  # the window, in the centre's zone
    assert rows(app) == before  # no release, and a refused time is no wrong code


def test_wrong_codes_are_limited_per_sitting_and_per_account_and_audited(
    app, runner, imported, issuer
):
    """Over the proctor's Socket.IO console: 5 wrong codes a sitting (typos count), 10 an
    account, per 10 minutes; then even the right code waits, told how long."""

    package, exam_id = imported
    with app.app_context():
        proctor = make_user()
        sittings = [schedule(exam_id, proctor=proctor, n_candidates=0) for _ in range(3)]
        proctor_id = proctor.id
    good = code_for(runner, package, issuer)
    typo = good[:3] + ("X" if good[3] != "X" else "Y") + good[4:]
    wrong = code_for(runner, package, issuer, OTHER_SLOT)  # right form, wrong slot: scrypt
    staff = app.test_client()
    login_staff(staff)
    console = socketio.test_client(app, namespace="/proctor", flask_test_client=staff)

    def send(sitting, code):
        return proctor_call(console, "release_package", sitting=sitting, code=code)

    first, second, third = sittings
    for code in [wrong, typo, typo, typo, typo]:
        ack = send(first, code)
        assert ack["ok"] is False and ack["error"] == "release_refused", ack
    locked = send(first, good)
    assert locked["error"] == "too_many_wrong_codes", locked
    assert "coba lagi dalam 10 menit" in locked["message"]
    assert "try again in 10 minutes" in locked["message_en"]
    for _ in range(5):  # another sitting has its own 5, the account's 10 then run out
        assert send(second, typo)["error"] == "release_refused"
    assert send(third, good)["error"] == "too_many_wrong_codes"
    with app.app_context():
        audited = (
            db.session.execute(
                db.select(AuditEvent).where(AuditEvent.action == "package_code_refused")
            )
            .scalars()
            .all()
        )
        assert len(audited) == 10 and {e.actor for e in audited} == {f"user:{proctor_id}"}
        assert [e.sitting_id for e in audited] == [first] * 5 + [second] * 5
        assert db.session.scalar(db.select(db.func.count()).select_from(PackageRelease)) == 0
        for event in audited:  # ten minutes pass
            event.at -= timedelta(minutes=11)
        db.session.commit()
    assert send(first, good) == {"ok": True}


def test_a_release_codes_scrypt_runs_off_the_event_loop(app, runner, imported, issuer, monkeypatch):
    """Each guess is one scrypt (32 MiB, ~0.1-0.3 s): on the gevent hub it would stall every
    seat's answers while it ran (tests/test_packages_live.py measures that on a live server)."""
    from cat_server.sealed import release as release_module

    package, exam_id = imported
    with app.app_context():
        proctor = make_user()
        sitting = schedule(exam_id, proctor=proctor, n_candidates=0)
    ran = []

    def recorded(function, *args):
        ran.append(function.__name__)
        return function(*args)

    monkeypatch.setattr(release_module, "off_the_loop", recorded)
    staff = app.test_client()
    login_staff(staff)
    console = socketio.test_client(app, namespace="/proctor", flask_test_client=staff)
    ack = proctor_call(
        console, "release_package", sitting=sitting, code=code_for(runner, package, issuer)
    )
    assert ack == {"ok": True} and ran and set(ran) == {"unwrap"}


def test_the_api_schedules_a_packages_sitting_with_its_slot_as_the_page_does(app, imported):
    from cat_server.api.tokens import create_token

    _, exam_id = imported
    with app.app_context():
        make_user("admin", role="admin")
        proctor_id = make_user().id
        token = create_token("admin", "jadwal", actor="test")[1]
        start = to_local(STARTS[SLOT]).strftime("%Y-%m-%dT%H:%M")
        months_later = (to_local(STARTS[SLOT]) + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"exam_id": exam_id, "name": "Sesi API", "room": "Lab 1", "proctors": [proctor_id]}

    def post(**fields):
        return client.post("/api/v1/sittings", json={**body, **fields}, headers=headers)

    made = post(scheduled_at=start, package_slot=SLOT)
    assert made.status_code == 201, made.json
    assert made.json["sitting"]["package_slot"] == SLOT
    for fields, why in [
        ({"scheduled_at": start}, "sebutkan salah satu slotnya"),
        ({"scheduled_at": start, "package_slot": "2030-01-01-S9"}, "sebutkan salah satu slotnya"),
        ({"scheduled_at": months_later, "package_slot": SLOT}, "harus mulai dalam 60 menit"),
        ({"scheduled_at": start, "package_slot": 7}, "a slot name of the exam's package"),
    ]:
        refused = post(**fields)
        assert refused.status_code == 422, refused.json
        ((problem,),) = [refused.json["problems"]]
        assert problem["field"] == "package_slot" and why in problem["message"], problem
    listed = client.get("/api/v1/sittings", headers=headers).json["sittings"]
    assert [s["package_slot"] for s in listed] == [SLOT]


@pytest.mark.parametrize("lang", ["id", "en"], ids=["Indonesian", "English"])
def test_scheduling_a_packages_sitting_refuses_in_the_pages_language(app, imported, lang):
    """Issue 18: the sittings page's refusals of a package's slot, in the page's language:
    a package's exam without one of its slots, a slot for an exam of no package."""
    from tests.conftest import make_sitting
    from tests.test_admin_language import (
        ENGLISH,
        INDONESIAN,
        catalogue,
        foreign_words,
        typed_data,
        visible,
        visible_parts,
        words_not_from_the_catalogue,
    )

    _, exam_id = imported
    with app.app_context():
        make_user("kepala", role="admin")  # names no menu word holds ("Admin", "Pengawas")
        proctor_id = make_user("budi").id
        plain_exam_id = db.session.get(Sitting, make_sitting(n_candidates=1)).exam_id
        at = to_local(STARTS[SLOT]).strftime("%Y-%m-%d %H:%M")
    admin = app.test_client()
    login_staff(admin, "kepala")
    admin.get(f"/admin/?lang={lang}")
    form = {"name": "Sesi Paket", "room": "R1", "proctors": proctor_id, "scheduled_at": at}
    says = {
        "id": [
            f"ujian ini dari paket tersegel: sebutkan salah satu slotnya, {SLOT}, {OTHER_SLOT}",
            "hanya ujian dari paket tersegel yang punya slot; kosongkan isian ini",
        ],
        "en": [
            f"the exam is a sealed package's: name one of its slots, {SLOT}, {OTHER_SLOT}",
            "only a sealed package's exam has slots; leave it empty",
        ],
    }[lang]
    for fields, why in zip(
        [{"exam_id": exam_id}, {"exam_id": plain_exam_id, "package_slot": SLOT}], says, strict=True
    ):
        refused = admin.post("/admin/sittings", data={**form, **fields})
        page = refused.get_data(as_text=True)
        assert refused.status_code == 422 and why in html.unescape(page), page[-2000:]
        with app.app_context():
            data = [SLOT, OTHER_SLOT, *typed_data()]
            words = foreign_words(visible(page, data), INDONESIAN if lang == "en" else ENGLISH)
            left = words_not_from_the_catalogue(visible_parts(page, data), catalogue(lang))
        assert not words and not left, (words, left)
    with app.app_context():
        assert not db.session.execute(db.select(Sitting).filter_by(name="Sesi Paket")).first()
