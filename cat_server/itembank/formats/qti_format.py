"""QTI 2.1 single-choice items: one assessmentItem .xml, or a content package .zip.

Every XML document is parsed with defusedxml and no DTD at all is accepted, so
an upload cannot expand entities or make the server read a file or a URL
(XXE). Each item becomes the same record a CSV row would be and goes through
the same whole-file validation: every problem is listed with file, item
identifier and what was expected, and nothing is returned unless all items are
valid.

Mapping (docs/formats.md, "QTI 2.1"):

- ``assessmentItem/@identifier`` -> item_id; ``@label`` -> section (TWK, TIU, TKP);
- ``itemBody`` (its ``choiceInteraction`` replaced by the ``prompt``) -> stem;
- ``simpleChoice`` in document order -> option_a..option_e (2 to 5 of them);
- ``responseDeclaration/correctResponse/value`` -> key (the letter of that choice);
- optional ``outcomeDeclaration`` IRT_A, IRT_B, IRT_C (``defaultValue``) -> a, b, c
  and the model (1pl with IRT_B alone, 2pl with IRT_A, 3pl with IRT_C);
  without IRT_B the item comes in as a *pretest* 2pl item (a=1, b=0) to be calibrated.
"""

from __future__ import annotations

import html
import io
import posixpath
import zipfile
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .columns import LETTERS, ItemRow
from .problems import MAX_PROBLEMS, BankFormatError, BankFormatProblem, Message, Problems, _
from .validation import section_required, validate_item
from .zips import DAMAGE, open_zip, read_member

ITEM_RESOURCE_TYPES = ("imsqti_item_xmlv2p1", "imsqti_item_xmlv2p0")
# An item in another namespace is not QTI 2.x, whatever its element names; none at all is
# accepted (hand-written files often leave it out).
QTI_NAMESPACES = tuple(f"http://www.imsglobal.org/xsd/imsqti_v2p{k}" for k in (0, 1, 2))
MAX_ITEMS = 2000
MAX_XML_BYTES = 1024 * 1024
MAX_PACKAGE_BYTES = 50 * 1024 * 1024
IRT_OUTCOMES = {"IRT_A": "a", "IRT_B": "b", "IRT_C": "c"}
VOID_TAGS = {"br", "hr", "img"}
MEDIA_TAGS = {"img", "object", "audio", "video", "source"}
# Where a CSV column's problem is in a QTI item, for the messages.
QTI_PLACE = {
    "item_id": "assessmentItem/@identifier",
    "section": "assessmentItem/@label",
    "stem": "itemBody",
    "key": "correctResponse",
    "a": "outcomeDeclaration IRT_A",
    "b": "outcomeDeclaration IRT_B",
    "c": "outcomeDeclaration IRT_C",
    **{f"option_{x.lower()}": f"simpleChoice {i}" for i, x in enumerate(LETTERS, start=1)},
}


def is_package(data: bytes) -> bool:
    """A zip with imsmanifest.xml at its top: a QTI content package."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "imsmanifest.xml" in archive.namelist()
    except DAMAGE:
        return False  # not a package; the bank-zip reader names the damage


def read_qti(data: bytes, filename: str) -> list[ItemRow]:
    """Every item of a QTI .xml or content-package .zip, validated; or BankFormatError."""
    if data[:4] == b"PK\x03\x04":
        documents = _package_documents(data, filename)
    else:
        documents = [(filename, data)]
    problems: list[BankFormatProblem] = []
    count = 0
    items: list[ItemRow] = []
    first_file_of: dict[str, tuple[str, str]] = {}
    for where, xml in documents:
        collector = Problems(where, "item")
        holder: list[str] = []
        item = _read_item(xml, collector, holder)
        if holder:  # duplicates count even when either item has other problems
            folded = holder[0].casefold()
            if folded in first_file_of:
                first, first_id = first_file_of[folded]
                collector.add(
                    holder[0],
                    QTI_PLACE["item_id"],
                    _(
                        "identifier %(id)s ganda: %(first)s sudah memakai %(first_id)s",
                        id=repr(holder[0]),
                        first=first,
                        first_id=repr(first_id),
                    ),
                )
            else:
                first_file_of[folded] = (where, holder[0])
        if item is not None:
            items.append(item)
        count += collector.count
        problems += collector.errors
    if count:
        raise BankFormatError(problems[:MAX_PROBLEMS], count)
    return items


def _package_documents(data: bytes, filename: str) -> list[tuple[str, bytes]]:
    """The item documents a content package's manifest lists, in its order."""
    problems = Problems(filename, "item")
    if len(data) > MAX_PACKAGE_BYTES:
        raise problems.fail(
            _(
                "paket berukuran %(size)s MiB; paling besar %(limit)s MiB",
                size=len(data) // (1024 * 1024),
                limit=MAX_PACKAGE_BYTES // (1024 * 1024),
            )
        )
    archive = open_zip(data, filename)
    names = {i.filename: i for i in archive.infolist() if not i.is_dir()}
    if "imsmanifest.xml" not in names:
        raise problems.fail(_("paket konten QTI butuh imsmanifest.xml di tingkat teratas zip"))
    manifest = _parse(
        _member(archive, names["imsmanifest.xml"], problems, filename),
        Problems(f"{filename}: imsmanifest.xml", "item"),
    )
    documents = []
    manifest_problems = Problems(f"{filename}: imsmanifest.xml", "item")
    for resource in _all(manifest, "resource"):
        if resource.get("type") not in ITEM_RESOURCE_TYPES:
            continue
        href = resource.get("href") or ""
        label = resource.get("identifier") or href or "?"
        normal = posixpath.normpath(href) if href else ""
        if (
            not href
            or "\\" in href
            or href.startswith("/")
            or ":" in href
            or normal.startswith("..")
        ):
            manifest_problems.add(
                label,
                "resource/@href",
                _("diharapkan path relatif di dalam zip, ditemukan %(href)s", href=repr(href)),
            )
        elif normal not in names:
            manifest_problems.add(
                label,
                "resource/@href",
                _("manifest menyebut %(href)s, yang tidak ada di zip", href=repr(href)),
            )
        else:
            documents.append(
                (
                    f"{filename}: {normal}",
                    _member(archive, names[normal], manifest_problems, filename),
                )
            )
    if not documents and not manifest_problems.count:
        manifest_problems.add(
            None,
            None,
            _(
                "manifest tidak mencantumkan resource soal QTI 2.1 (type %(type)s)",
                type=ITEM_RESOURCE_TYPES[0],
            ),
        )
    if len(documents) > MAX_ITEMS:
        manifest_problems.add(
            None,
            None,
            _("%(n)s soal; paling banyak %(limit)s", n=len(documents), limit=MAX_ITEMS),
        )
    manifest_problems.raise_if_any()
    return documents


def _member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, problems: Problems, filename: str
) -> bytes:
    if info.file_size > MAX_XML_BYTES:
        problems.add(
            None,
            None,
            _(
                "%(name)s berukuran %(size)s KiB; dokumen satu soal paling besar %(limit)s KiB",
                name=info.filename,
                size=info.file_size // 1024,
                limit=MAX_XML_BYTES // 1024,
            ),
        )
        return b""
    return read_member(archive, info, filename)


def _parse(xml: bytes, problems: Problems):
    """The document's root element; DTDs, entities and external references refused."""
    if not xml.strip():
        raise problems.fail(_("dokumen XML kosong"))
    try:
        return fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise problems.fail(
            _(
                "XML ini mendeklarasikan DOCTYPE atau entity, yang tidak diterima "
                "(bisa membaca berkas di server); hapus <!DOCTYPE ...>"
            )
        ) from None
    except ParseError as e:
        raise problems.fail(_("XML tidak well-formed (%(error)s)", error=str(e))) from None


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _all(root, name: str) -> list:
    return [el for el in root.iter() if _local(el.tag) == name]


def _children(el, name: str) -> list:
    return [c for c in el if _local(c.tag) == name]


def _inner_html(el) -> str:
    out = [html.escape(el.text or "", quote=False)]
    for child in el:
        out.append(_outer_html(child))
        out.append(html.escape(child.tail or "", quote=False))
    return "".join(out)


def _outer_html(el) -> str:
    name = _local(el.tag)
    if not name:  # a comment or processing instruction
        return ""
    attrs = "".join(f' {_local(k)}="{html.escape(v)}"' for k, v in el.attrib.items())
    if name in VOID_TAGS:
        return f"<{name}{attrs}>"
    return f"<{name}{attrs}>{_inner_html(el)}</{name}>"


def _read_item(xml: bytes, problems: Problems, identifier_out: list[str]) -> ItemRow | None:
    """The item, or None with its problems added; its identifier goes to ``identifier_out``."""
    try:
        root = _parse(xml, problems)
    except BankFormatError:
        return None
    if _local(root.tag) != "assessmentItem":
        problems.add(
            None,
            None,
            _(
                "diharapkan dokumen QTI 2.1 <assessmentItem>, ditemukan <%(tag)s>",
                tag=_local(root.tag),
            ),
        )
        return None
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else None
    if namespace is not None and namespace not in QTI_NAMESPACES:
        problems.add(
            None,
            None,
            _(
                "diharapkan namespace QTI 2.1 %(expected)s pada <assessmentItem>, "
                "ditemukan %(namespace)s",
                expected=repr(QTI_NAMESPACES[1]),
                namespace=repr(namespace),
            ),
        )
        return None
    identifier = (root.get("identifier") or "").strip() or None
    where = identifier
    if identifier:
        identifier_out.append(identifier)

    def bad(place: str | None, message: Message) -> None:
        problems.add(where, place, message)

    before = problems.count
    if identifier is None:
        bad(QTI_PLACE["item_id"], _("assessmentItem butuh identifier (item_id)"))
    body = _children(root, "itemBody")
    interactions = _all(root, "choiceInteraction")
    others = sorted(
        {_local(el.tag) for el in root.iter() if _local(el.tag).endswith("Interaction")}
        - {"choiceInteraction"}
    )
    if others:
        bad(
            "itemBody",
            _(
                "hanya soal pilihan tunggal (satu choiceInteraction) yang diimpor; "
                "ditemukan %(found)s",
                found=", ".join(others),
            ),
        )
    if len(body) != 1 or len(interactions) != 1:
        bad(
            "itemBody",
            _(
                "diharapkan satu itemBody dengan satu choiceInteraction, ditemukan "
                "%(bodies)s itemBody dan %(interactions)s choiceInteraction",
                bodies=len(body),
                interactions=len(interactions),
            ),
        )
        return None
    interaction = interactions[0]
    max_choices = (interaction.get("maxChoices") or "1").strip()
    if max_choices != "1":
        bad(
            "choiceInteraction/@maxChoices",
            _(
                'diharapkan maxChoices="1" (pilihan tunggal), ditemukan %(value)s',
                value=repr(max_choices),
            ),
        )
    response_id = interaction.get("responseIdentifier") or ""
    declarations = [
        d for d in _children(root, "responseDeclaration") if d.get("identifier") == response_id
    ]
    choices = _all(interaction, "simpleChoice")
    choice_ids = [(c.get("identifier") or "").strip() for c in choices]
    if not 2 <= len(choices) <= len(LETTERS):
        bad(
            "simpleChoice",
            _(
                "diharapkan 2 sampai %(max)s pilihan simpleChoice, ditemukan %(n)s",
                max=len(LETTERS),
                n=len(choices),
            ),
        )
    key = ""
    if len(declarations) != 1:
        bad(
            "responseDeclaration",
            _(
                "diharapkan satu responseDeclaration dengan identifier %(id)s "
                "(responseIdentifier milik choiceInteraction), ditemukan %(n)s",
                id=repr(response_id),
                n=len(declarations),
            ),
        )
    else:
        declaration = declarations[0]
        cardinality = declaration.get("cardinality")
        if cardinality != "single":
            bad(
                "responseDeclaration/@cardinality",
                _(
                    'diharapkan cardinality="single", ditemukan %(value)s',
                    value=repr(cardinality),
                ),
            )
        values = [
            (v.text or "").strip()
            for c in _children(declaration, "correctResponse")
            for v in _children(c, "value")
        ]
        if len(values) != 1:
            bad(
                "correctResponse",
                _(
                    "diharapkan tepat satu nilai correctResponse yang menunjuk simpleChoice "
                    "yang benar, ditemukan %(n)s",
                    n=len(values),
                ),
            )
        elif values[0] not in choice_ids:
            bad(
                "correctResponse",
                _(
                    "jawaban benar %(value)s bukan salah satu identifier simpleChoice %(ids)s",
                    value=repr(values[0]),
                    ids=", ".join(choice_ids),
                ),
            )
        elif choice_ids.index(values[0]) < len(LETTERS):
            key = LETTERS[choice_ids.index(values[0])]
    for element in root.iter():
        if _local(element.tag) in MEDIA_TAGS:
            bad(
                "itemBody",
                _(
                    "ada <%(tag)s>: gambar dan media lain belum diimpor dari QTI; pakai "
                    "bank soal CSV/XLSX/JSON dalam .zip bersama medianya",
                    tag=_local(element.tag),
                ),
            )
            break
    irt = {}
    for declaration in _children(root, "outcomeDeclaration"):
        column = IRT_OUTCOMES.get((declaration.get("identifier") or "").upper())
        if column is None:
            continue
        values = [
            (v.text or "").strip()
            for d in _children(declaration, "defaultValue")
            for v in _children(d, "value")
        ]
        if len(values) != 1:
            bad(QTI_PLACE[column], _("diharapkan satu defaultValue/value berisi parameternya"))
        else:
            irt[column] = values[0]
    if problems.count > before:
        return None

    # the stem: the body with the interaction replaced by its prompt
    prompt = "".join(_inner_html(p) for p in _children(interaction, "prompt")).strip()
    parts = [html.escape(body[0].text or "", quote=False)]
    for child in body[0]:
        if child is interaction:
            parts.append(f"<p>{prompt}</p>" if prompt else "")
        elif _local(child.tag) == "choiceInteraction":
            pass
        else:
            parts.append(_outer_html(child))
        parts.append(html.escape(child.tail or "", quote=False))
    if interaction not in list(body[0]):  # nested in a <div> or <p>: keep the prompt first
        parts = [f"<p>{prompt}</p>" if prompt else "", *parts]
    stem = "".join(parts).strip()
    record: dict[str, Any] = {
        "item_id": identifier,
        "section": (root.get("label") or "").strip(),
        "stem": stem,
        "key": key,
        **{f"option_{LETTERS[i].lower()}": _inner_html(c).strip() for i, c in enumerate(choices)},
    }
    if "b" in irt:
        record.update(irt)
        record["model"] = "3pl" if "c" in irt else "2pl" if "a" in irt else "1pl"
    else:
        record.update({"model": "2pl", "a": "1", "b": "0", "status": "pretest"})
        if irt:
            bad(QTI_PLACE["b"], _("IRT_A atau IRT_C diberikan tanpa IRT_B (tingkat kesulitan)"))
            return None
    before = problems.count
    item = validate_item(identifier, record, _Relabel(problems))
    return item if problems.count == before else None


class _Relabel:
    """Passes validate_item's problems on, naming the QTI place instead of the CSV column."""

    def __init__(self, problems: Problems):
        self.problems = problems
        self.unit = problems.unit

    @property
    def count(self) -> int:
        return self.problems.count

    def add(self, row, column, message) -> None:
        if column == "section" and message == section_required():
            message = _(
                "section wajib diisi: tulis kodenya di atribut label milik assessmentItem, "
                'mis. label="TWK"'
            )
        self.problems.add(row, QTI_PLACE.get(column, column), message)
