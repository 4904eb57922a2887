"""Sealed exam packages: built on the issuer's side from an exam file and a bank; imported here.

``build_package`` reads the bank with the importer's own parser and checks
the exam file against it as an import would; ``import_package`` verifies the
signature (sealed/package.py) before it writes anything, then stores the
exam, a bank whose items show only their codes and tags, and every item's
content still encrypted. docs/packages.md describes the file.
"""

from __future__ import annotations

import io
import json
import os
import secrets
from dataclasses import asdict
from pathlib import Path

from ..extensions import db
from ..itembank.formats import BankFormatError, read_bank
from ..itembank.formats.qti_format import is_package
from ..itembank.formats.zips import read_member
from ..itembank.service import check_media, sanitize_html
from ..models import ExamPackage, Item, ItemBank, SealedItem, audit
from ..sealed import keys
from ..sealed.package import (
    FORMAT,
    ID_PATTERN,
    VERSION,
    PackageRefused,
    encrypt_item,
    encrypt_media,
    media_part_name,
    part_name,
    read_package,
    slot_start,
    slot_starts,
    write_package,
)
from ..sealed.release import make_wraps
from .banks import unpack_bank_zip
from .exam_builder import save_exam_document
from .exam_files import read_exam_document
from .sittings import FormProblems


def _problems_text(problems: FormProblems) -> str:
    return "; ".join(
        f"{where}: {message}" if where else message for where, message in problems.problems
    )


def _check_blueprint(doc) -> None:
    for number, section in enumerate(doc.get("sections") or [], start=1):
        exposure = ((section or {}).get("adaptive") or {}).get("exposure") or {}
        if exposure.get("method") == "sympson-hetter":
            raise PackageRefused(
                f"sections[{number}].adaptive.exposure: Sympson-Hetter needs the item parameters "
                "when the exam is saved, which a centre cannot see; use randomesque or cap"
            )


def build_package(
    exam_doc: dict, bank_path, issuer_key, slots, package_id=None
) -> tuple[str, bytes]:
    """(package id, the package file) from an exam document and a bank file; PackageRefused if not.

    The bank is read and checked whole by the importer's parser, the exam
    against it as ``cat-server exam import`` would. One random data key
    encrypts every item; each slot gets its release wrap.
    """
    package_id = package_id or f"PKG-{secrets.token_hex(6).upper()}"
    starts = parse_slots(slots)
    slots = list(starts)
    for name, value in [("package id", package_id), *(("slot", s) for s in slots)]:
        if not ID_PATTERN.match(value):
            raise PackageRefused(f"{name} {value!r}: 1 to 40 letters, digits, '.', '_' or '-'")
    try:
        rows, media = _read_bank_file(Path(bank_path))
    except BankFormatError as error:
        raise PackageRefused(str(error)) from None
    _check_blueprint(exam_doc)
    try:
        read_exam_document(exam_doc, rows=rows)
    except FormProblems as problems:
        raise PackageRefused(f"the exam file: {_problems_text(problems)}") from None
    data_key = os.urandom(32)
    blueprint = {k: v for k, v in exam_doc.items() if k != "bank"}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "package_id": package_id,
        "issuer": keys.fingerprint(issuer_key.public_key()),
        "cipher": "AES-256-GCM",
        "exam": blueprint,
        "slots": [{"id": slot, "starts_at": starts[slot].isoformat()} for slot in slots],
        "items": [],
        "release": make_wraps(issuer_key, data_key, package_id, slots),
    }
    parts = {}
    for position, row in enumerate(rows, start=1):
        content = asdict(row)
        content["stem"] = sanitize_html(row.stem)
        content["options"] = [sanitize_html(o) for o in row.options]
        content["thresholds"] = list(row.thresholds) or None
        content["option_scores"] = list(row.option_scores) if row.option_scores else None
        secret = {k: content[k] for k in ("model", "a", "b", "c", "d", "thresholds", "stem")}
        secret |= {k: content[k] for k in ("options", "key", "option_scores")}
        secret["media"] = row.media  # its name may tell what it shows: sealed too
        part = part_name(position)
        parts[part] = encrypt_item(data_key, package_id, row.item_id, secret)
        entry = {
            "code": row.item_id,
            "section": row.section,
            "status": row.status,
            "enemy_group": row.enemy_group,
            "part": part,
        }
        if row.media:
            entry["media_part"] = media_part_name(position)
            parts[entry["media_part"]] = encrypt_media(
                data_key, package_id, row.item_id, media[row.media]
            )
        manifest["items"].append(entry)
    return package_id, write_package(manifest, parts, issuer_key)


def parse_slots(specs) -> dict:
    """``ID=START`` each (START: ISO 8601 with an offset) -> {id: aware start}; PackageRefused if not."""
    starts = {}
    for spec in specs:
        ident, _, when = str(spec).partition("=")
        start = slot_start(when.strip())
        if start is None:
            raise PackageRefused(
                f"--slot {spec!r}: write ID=START with the start's offset, e.g. "
                "2026-12-07-S1=2026-12-07T08:00+07:00 (the slot is bound to that time)"
            )
        if ident in starts:
            raise PackageRefused(f"--slot {ident} is named twice")
        starts[ident] = start
    if not starts:
        raise PackageRefused("name each sitting slot once (--slot ID=START), at least one")
    return starts


def _read_bank_file(path: Path) -> tuple[list, dict[str, bytes]]:
    """The bank's rows and its media files' bytes: a bank file, or a zip of one and its media
    (the zip an admin uploads, checked by the same code)."""
    if path.suffix.lower() != ".zip" or is_package(data := path.read_bytes()):
        return read_bank(path), {}
    archive, bank_info, members = unpack_bank_zip(data, path.name)
    source = f"{path.name}: {bank_info.filename}"
    rows = read_bank(io.BytesIO(read_member(archive, bank_info, path.name)), filename=source)
    check_media(rows, set(members), source)
    used = {row.media for row in rows if row.media}
    return rows, {name: read_member(archive, members[name], path.name) for name in used}


def import_package(data: bytes, filename: str, actor: str) -> ExamPackage:
    """Verify, then store the package's exam, its bank of sealed items and their ciphertexts.

    PackageRefused (signature, version, hashes, an id already imported, an
    exam file the bank does not fit) leaves nothing written.
    """
    try:
        issuer = keys.issuer_public_key()
    except keys.KeyProblem as problem:
        raise PackageRefused(str(problem)) from None
    package = read_package(data, issuer, filename)
    manifest = package.manifest
    taken = db.session.execute(
        db.select(ExamPackage.id).where(ExamPackage.package_id == package.package_id)
    ).first()
    if taken is not None:
        raise PackageRefused(f"package {package.package_id} is imported already")
    _check_blueprint(manifest["exam"])
    try:
        bank = ItemBank(name=f"Paket {package.package_id}", version=1, source_filename=filename)
        db.session.add(bank)
        db.session.flush()
        items = []
        for position, entry in enumerate(manifest["items"], start=1):
            # the content columns stay empty: the text is in SealedItem, encrypted
            item = Item(
                bank_id=bank.id,
                code=entry["code"],
                position=position,
                section=entry["section"],
                model="sealed",
                b=0.0,  # not a parameter: the issuer checked calibration, the content has them
                stem="",
                options=[],
                status=entry["status"],
                enemy_group=entry["enemy_group"],
            )
            db.session.add(item)
            items.append(item)
        db.session.flush()
        doc = dict(manifest["exam"], bank={"name": bank.name, "version": bank.version})
        exam = save_exam_document(doc, actor, commit=False)
        row = ExamPackage(
            package_id=package.package_id,
            issuer=manifest["issuer"],
            version=manifest["version"],
            manifest=package.manifest_bytes.decode(),
            signature=package.signature,
            bank_id=bank.id,
            exam_id=exam.id,
            imported_by=actor,
        )
        db.session.add(row)
        db.session.flush()
        for item in items:
            db.session.add(
                SealedItem(
                    item_id=item.id,
                    package_id=row.id,
                    blob=package.parts[item.code],
                    media_blob=package.media.get(item.code),
                )
            )
        audit(
            actor,
            "package_imported",
            package=package.package_id,
            issuer=manifest["issuer"],
            exam_id=exam.id,
            items=len(items),
        )
        db.session.commit()
    except FormProblems as problems:
        db.session.rollback()
        raise PackageRefused(f"the package's exam: {_problems_text(problems)}") from None
    except Exception:
        db.session.rollback()
        raise
    return row


def package_summary(row: ExamPackage) -> dict:
    """What the centre may see of a package: id, issuer, slots, sections, counts and timing."""
    manifest = json.loads(row.manifest)
    exam = manifest["exam"]
    return {
        "id": row.id,
        "package_id": row.package_id,
        "issuer": row.issuer,
        "version": row.version,
        "exam_id": row.exam_id,
        "exam_name": exam.get("name"),
        "minutes": (exam.get("time") or {}).get("total_minutes"),
        "slots": [s["id"] for s in manifest["slots"]],
        "slot_starts": slot_starts(manifest),
        "n_items": len(manifest["items"]),
        "sections": [
            {
                "code": s.get("code"),
                "name": s.get("name"),
                "navigation": s.get("navigation"),
                "minutes": s.get("time_limit_minutes"),
            }
            for s in exam.get("sections") or []
        ],
        "imported_at": row.imported_at,
    }


def packages() -> list[ExamPackage]:
    return (
        db.session.execute(db.select(ExamPackage).order_by(ExamPackage.id.desc())).scalars().all()
    )
