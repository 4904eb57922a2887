"""QTI 2.1 single-choice import: one item .xml or a content package .zip (SQLite + PostgreSQL)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from cat_server.extensions import db
from cat_server.itembank.formats import BankFormatError, read_bank
from cat_server.models import AuditEvent, Item, ItemBank
from tests.test_admin import admin, problems_of, upload  # noqa: F401  (admin is a fixture)

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "qti_item_example.xml"
# Logins here are setup, not the subject: hashed at argon2's lowest cost (conftest).
pytestmark = pytest.mark.usefixtures("quick_hashes")

NS = 'xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"'


def item_xml(
    identifier="TIU401",
    label="TIU",
    stem="<p>2, 4, 8, 16, ...</p>",
    choices=("32", "24", "20"),
    correct="A",
    max_choices="1",
    irt="",
) -> str:
    simple = "".join(
        f'<simpleChoice identifier="{chr(65 + i)}">{c}</simpleChoice>'
        for i, c in enumerate(choices)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<assessmentItem {NS} '
        f'identifier="{identifier}" label="{label}" title="t" adaptive="false" '
        'timeDependent="false"><responseDeclaration identifier="RESPONSE" '
        'cardinality="single" baseType="identifier"><correctResponse>'
        f"<value>{correct}</value></correctResponse></responseDeclaration>{irt}"
        f'<itemBody>{stem}<choiceInteraction responseIdentifier="RESPONSE" '
        f'shuffle="false" maxChoices="{max_choices}">{simple}</choiceInteraction>'
        "</itemBody></assessmentItem>"
    )


def package(files: dict[str, str], hrefs: list[str] | None = None) -> bytes:
    hrefs = list(files) if hrefs is None else hrefs
    resources = "".join(
        f'<resource identifier="R{i}" type="imsqti_item_xmlv2p1" href="{h}">'
        f'<file href="{h}"/></resource>'
        for i, h in enumerate(hrefs)
    )
    manifest = (
        '<?xml version="1.0"?><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" '
        f'identifier="M1"><organizations/><resources>{resources}</resources></manifest>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("imsmanifest.xml", manifest)
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def counts(app):
    with app.app_context():
        return (
            db.session.query(ItemBank).count(),
            db.session.query(Item).count(),
            db.session.query(AuditEvent).filter_by(action="bank_imported").count(),
        )


def test_the_example_item_and_a_package_import_like_any_bank(app, admin):  # noqa: F811
    response = upload(admin, EXAMPLE.read_bytes(), "qti_item_example.xml", name="QTI satu")
    assert response.status_code == 302, problems_of(response)
    pretest = item_xml(
        "TIU402",
        stem="<p>Lanjutkan: 1, 1, 2, 3, 5, ...<script>alert(1)</script></p>",
        choices=("7", "8", "9", "10"),
        correct="B",
    )
    calibrated = item_xml(
        irt='<outcomeDeclaration identifier="IRT_A" cardinality="single" '
        'baseType="float"><defaultValue><value>0.9</value></defaultValue>'
        '</outcomeDeclaration><outcomeDeclaration identifier="IRT_B" '
        'cardinality="single" baseType="float"><defaultValue><value>1.2'
        "</value></defaultValue></outcomeDeclaration>"
    )
    data = package({"items/tiu401.xml": calibrated, "items/tiu402.xml": pretest})
    response = upload(admin, data, "paket-qti.zip", name="QTI paket")
    assert response.status_code == 302, problems_of(response)
    with app.app_context():
        example = db.session.query(Item).filter_by(code="TWK301").one()
        assert (example.section, example.model, example.key) == ("TWK", "2pl", "C")
        assert (example.a, example.b, example.status) == (1.15, -0.4, "active")
        assert example.options[2] == "Pita yang dicengkeram Garuda Pancasila"
        assert "Bhinneka Tunggal Ika" in example.stem and "Pilih satu jawaban" in example.stem
        first, second = (
            db.session.query(Item)
            .join(ItemBank)
            .filter(ItemBank.name == "QTI paket")
            .order_by(Item.position)
            .all()
        )
        assert (first.code, first.a, first.b, first.key, first.status) == (
            "TIU401",
            0.9,
            1.2,
            "A",
            "active",
        )
        assert (second.code, second.key, second.status, second.b) == ("TIU402", "B", "pretest", 0.0)
        assert "<script>" not in second.stem and "1, 1, 2, 3, 5" in second.stem
    assert counts(app) == (2, 3, 2)


def test_a_bad_package_lists_every_problem_with_file_and_identifier_and_writes_nothing(app, admin):  # noqa: F811
    data = package(
        {
            "a.xml": item_xml("TIU501", max_choices="2"),
            "b.xml": item_xml("TIU502", correct="E"),
            "c.xml": item_xml("TIU503", label=""),
            "d.xml": item_xml("TIU501"),  # same identifier as a.xml
            "e.xml": item_xml("TIU505", choices=("satu",)),
        },
        hrefs=["a.xml", "b.xml", "c.xml", "d.xml", "e.xml", "missing.xml"],
    )
    response = upload(admin, data, "rusak.zip")
    assert response.status_code == 422
    rows = problems_of(response)
    assert (
        "rusak.zip: imsmanifest.xml",
        "soal R5",
        "resource/@href",
        "manifest menyebut &#39;missing.xml&#39;, yang tidak ada di zip",
    ) in rows
    assert counts(app) == (0, 0, 0)
    # the manifest is fixed: now every item's problem is listed, each with file and identifier
    data = package(
        {
            "a.xml": item_xml("TIU501", max_choices="2"),
            "b.xml": item_xml("TIU502", correct="E"),
            "c.xml": item_xml("TIU503", label=""),
            "d.xml": item_xml("TIU501"),
            "e.xml": item_xml("TIU505", choices=("satu",)),
        }
    )
    rows = problems_of(upload(admin, data, "rusak.zip"))
    where = {(file, row, column) for file, row, column, _ in rows}
    assert where == {
        ("rusak.zip: a.xml", "soal TIU501", "choiceInteraction/@maxChoices"),
        ("rusak.zip: b.xml", "soal TIU502", "correctResponse"),
        ("rusak.zip: c.xml", "soal TIU503", "assessmentItem/@label"),
        ("rusak.zip: d.xml", "soal TIU501", "assessmentItem/@identifier"),
        ("rusak.zip: e.xml", "soal TIU505", "simpleChoice"),
    }, rows
    messages = " | ".join(m for *_, m in rows)
    assert "diharapkan maxChoices=&#34;1&#34;" in messages
    assert "label=" in messages and "identifier &#39;TIU501&#39; ganda" in messages
    assert counts(app) == (0, 0, 0)


def test_an_xxe_upload_is_refused_and_no_file_is_read(app, admin, tmp_path):  # noqa: F811
    secret = tmp_path / "secret.txt"
    secret.write_text("RAHASIA-KUNCI-JAWABAN")
    evil = item_xml(stem="<p>&xxe;</p>").replace(
        "<assessmentItem",
        f'<!DOCTYPE assessmentItem [<!ENTITY xxe SYSTEM "file://{secret}">]>\n<assessmentItem',
        1,
    )
    response = upload(admin, evil.encode(), "xxe.xml")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "RAHASIA" not in page
    ((file, row, column, message),) = problems_of(response)
    assert file == "xxe.xml" and "DOCTYPE" in message
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE assessmentItem SYSTEM "http://127.0.0.1:9/evil.dtd">',
        '<!DOCTYPE a [<!ENTITY l "lol"><!ENTITY l2 "&l;&l;&l;&l;&l;&l;&l;&l;&l;&l;">]>',
    ],
)
def test_external_dtds_and_entity_bombs_are_refused_before_any_expansion(doctype):
    evil = item_xml().replace("<assessmentItem", f"{doctype}\n<assessmentItem", 1).encode()
    with pytest.raises(BankFormatError) as refused:
        read_bank(io.BytesIO(evil), filename="bom.xml")
    assert "DOCTYPE" in str(refused.value)
    inside = package({"x.xml": evil.decode()})
    with pytest.raises(BankFormatError) as refused:
        read_bank(io.BytesIO(inside), filename="bom.zip")
    assert "bom.zip: x.xml" in str(refused.value) and "DOCTYPE" in str(refused.value)
