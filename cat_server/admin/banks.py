"""Bank uploads: a bank file, or a .zip of the bank file and its media, checked whole."""

from __future__ import annotations

import dataclasses
import io
import os
import posixpath
import secrets
import shutil
import tempfile
from pathlib import Path

from flask import current_app

from .. import spreadsheet
from ..exam import catalog
from ..extensions import db
from ..itembank.formats import BankFormatError, BankFormatProblem, write_bank
from ..itembank.formats.problems import Message, _
from ..itembank.formats.qti_format import is_package
from ..itembank.formats.zips import open_zip, read_member
from ..itembank.service import export_bank, import_bank, item_rows, media_root
from ..models import Item, ItemBank, audit

BANK_EXTENSIONS = (".csv", ".json", ".xlsx")
MEDIA_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp3", ".ogg", ".wav", ".m4a")
MAX_MEDIA_BYTES = 10 * 1024 * 1024
MAX_ZIP_TOTAL_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 2000


def export_file(bank: ItemBank, fmt: str) -> bytes:
    """The bank version as a file; CSV and XLSX formula-safe (spreadsheet.py), JSON exact.

    CSV: every text field (code, section, stem, options, ...) through
    ``safe_cell``; the parameters stay numbers. XLSX: the writer's workbook with
    every cell that starts like a formula marked as text.
    """
    if fmt == "csv":
        out = io.BytesIO()
        write_bank([_safe_row(row) for row in item_rows(bank)], out, fmt="csv")
        return out.getvalue()
    data = export_bank(bank, fmt)
    return spreadsheet.protect_xlsx(data) if fmt == "xlsx" else data


def _safe_row(row):
    changes = {}
    for field in dataclasses.fields(row):
        value = getattr(row, field.name)
        if isinstance(value, str):
            changes[field.name] = spreadsheet.safe_cell(value)
        elif isinstance(value, tuple) and all(isinstance(v, str) for v in value):
            changes[field.name] = tuple(spreadsheet.safe_row(value))
    return dataclasses.replace(row, **changes)


def upload_bank(data: bytes, filename: str, name: str, actor: str) -> ItemBank:
    """Import an uploaded bank file or zip as a new version of ``name``; all or nothing.

    Raises BankFormatError listing every problem (file, row, column).
    """
    lower = (filename or "").lower()
    if lower.endswith(".zip"):
        if is_package(data):  # QTI 2.1 content package (imsmanifest.xml)
            return import_bank(io.BytesIO(data), name, actor, filename=filename, fmt="zip")
        return _upload_zip(data, filename, name, actor)
    if lower.endswith(".xml"):  # one QTI 2.1 assessmentItem
        return import_bank(io.BytesIO(data), name, actor, filename=filename, fmt="xml")
    if not lower.endswith(BANK_EXTENSIONS):
        raise BankFormatError(
            [
                BankFormatProblem(
                    filename or "upload",
                    None,
                    None,
                    _(
                        "diharapkan berkas bank soal .csv, .json atau .xlsx, .zip berisi berkas "
                        "bank soal dan medianya, atau QTI 2.1 (soal .xml atau paket konten .zip)"
                    ),
                )
            ]
        )
    return import_bank(io.BytesIO(data), name, actor, filename=filename, media=set())


def unpack_bank_zip(data: bytes, filename: str):
    """(the archive, its bank member, {media path: member}), every member checked; BankFormatError.

    Shared by the bank upload and the issuer's sealed package build (admin/packages.py).
    """
    problems: list[BankFormatProblem] = []

    def bad(member, message):
        problems.append(
            BankFormatProblem(f"{filename}: {member}" if member else filename, None, None, message)
        )

    archive = open_zip(data, filename)
    members = [
        i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
    ]
    if len(members) > MAX_ZIP_MEMBERS:
        bad(
            None,
            _(
                "%(n)s berkas di dalam zip; paling banyak %(limit)s",
                n=len(members),
                limit=MAX_ZIP_MEMBERS,
            ),
        )
    bank_files, media = [], {}
    total = 0
    for info in members:
        member = info.filename
        normal = posixpath.normpath(member)
        if (
            "\\" in member
            or member.startswith("/")
            or normal.startswith("..")
            or ":" in member
            or normal != member.removeprefix("./")
        ):
            bad(
                member,
                _(
                    "path tidak aman di dalam zip (absolut, '..' atau garis miring terbalik); "
                    "pakai path relatif biasa seperti media/tiu102.png"
                ),
            )
            continue
        if info.file_size > MAX_MEDIA_BYTES:
            bad(
                member,
                _(
                    "berkas berukuran %(size)s KiB; paling besar %(limit)s MiB per berkas",
                    size=info.file_size // 1024,
                    limit=MAX_MEDIA_BYTES // (1024 * 1024),
                ),
            )
            continue
        total += info.file_size
        ext = os.path.splitext(member)[1].lower()
        if ext in BANK_EXTENSIONS and "/" not in normal:
            bank_files.append(info)
        elif ext in MEDIA_EXTENSIONS:
            media[normal] = info
        else:
            bad(
                member,
                _(
                    "jenis berkas %(ext)s tidak diizinkan; berkas bank soal %(banks)s di "
                    "tingkat teratas, media %(media)s",
                    ext=ext or _("(tanpa ekstensi)"),
                    banks=", ".join(BANK_EXTENSIONS),
                    media=", ".join(MEDIA_EXTENSIONS),
                ),
            )
    if total > MAX_ZIP_TOTAL_BYTES:
        bad(
            None,
            _(
                "zip terurai menjadi %(size)s MiB; paling banyak %(limit)s MiB",
                size=total // (1024 * 1024),
                limit=MAX_ZIP_TOTAL_BYTES // (1024 * 1024),
            ),
        )
    if len(bank_files) != 1:
        bad(
            None,
            _(
                "zip harus berisi tepat satu berkas bank soal (.csv, .json atau .xlsx) di "
                "tingkat teratas; ditemukan %(n)s",
                n=len(bank_files),
            ),
        )
    if not problems:  # the content must be what the name says (an image, a sound)
        for path, info in media.items():
            try:
                with archive.open(info) as member:
                    head = member.read(16)
            except Exception:  # damaged: read_member names it when the files are written
                continue
            if (expected := media_content_problem(path, head)) is not None:
                bad(path, expected)
    if problems:
        raise BankFormatError(problems[:50], len(problems))
    return archive, bank_files[0], media


def _upload_zip(data: bytes, filename: str, name: str, actor: str) -> ItemBank:
    archive, bank_info, media = unpack_bank_zip(data, filename)
    staging = Path(tempfile.mkdtemp(prefix="bank-media-", dir=_ensure(media_root())))
    try:
        # read_member never reads past a member's declared size, so a lying header cannot
        # fill the disk, and any damage comes back as a BankFormatError naming the member
        for path, info in media.items():
            content = read_member(archive, info, filename)
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        bank = import_bank(
            io.BytesIO(read_member(archive, bank_info, filename)),
            name,
            actor,
            filename=f"{filename}: {bank_info.filename}",
            media=set(media),
        )
        target = media_root() / f"bank-{bank.id}"
        if target.exists():  # left by an earlier database (a reinstall): kept aside, not mixed in
            stale = target.with_name(f"{target.name}.stale-{secrets.token_hex(4)}")
            target.rename(stale)
            current_app.logger.warning("media folder %s was in the way: moved to %s", target, stale)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return bank


def _riff(kind: bytes):
    return lambda head: head[:4] == b"RIFF" and head[8:12] == kind


# What each media type's first bytes must be: a browser is never handed HTML,
# script or SVG that calls itself an image (the extension decides the type served).
MEDIA_SIGNATURES = {
    ".png": (_("gambar PNG"), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ".jpg": (_("gambar JPEG"), lambda head: head.startswith(b"\xff\xd8\xff")),
    ".jpeg": (_("gambar JPEG"), lambda head: head.startswith(b"\xff\xd8\xff")),
    ".gif": (_("gambar GIF"), lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    ".webp": (_("gambar WebP"), _riff(b"WEBP")),
    ".mp3": (
        _("berkas MP3"),
        lambda head: head.startswith(b"ID3") or (head[:1] == b"\xff" and head[1:2] >= b"\xe0"),
    ),
    ".ogg": (_("berkas Ogg"), lambda head: head.startswith(b"OggS")),
    ".wav": (_("berkas WAV"), _riff(b"WAVE")),
    ".m4a": (_("berkas M4A (audio MP4)"), lambda head: head[4:8] == b"ftyp"),
}


def media_content_problem(path: str, content: bytes) -> Message | None:
    """Why ``content`` is not what its extension says (None when it is)."""
    what, matches = MEDIA_SIGNATURES[os.path.splitext(path)[1].lower()]
    if matches(content[:16]):
        return None
    return _(
        "isi berkas ini bukan %(what)s seperti kata namanya (diawali %(start)s)",
        what=what,
        start=repr(content[:8]),
    )


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_bank(bank_id: int) -> ItemBank:
    from ..errors import NotFound

    bank = db.session.get(ItemBank, bank_id)
    if bank is None:
        raise NotFound("Bank soal tidak ditemukan.", "Item bank not found.")
    return bank


def set_item_status(item_id: int, status: str, actor: str, reason: str | None) -> Item:
    """Retire an item (or bring it back), with a reason; audited with who and why.

    Takes effect at once on every process (``catalog.move_version``): once
    this returns, no new form or adaptive pick includes a retired item; a
    running fixed section keeps the form it drew.
    """
    from ..errors import BadPayload, NotFound

    item = db.session.get(Item, item_id)
    if item is None:
        raise NotFound("Soal tidak ditemukan.", "Item not found.")
    if status not in ("active", "pretest", "retired"):
        raise BadPayload(field="status")
    if not (reason or "").strip():
        raise BadPayload("Alasan wajib diisi.", "A reason is required.", field="reason")
    catalog.move_version()
    old, item.status = item.status, status
    audit(
        actor,
        "item_status",
        reason=reason or None,
        bank_id=item.bank_id,
        item=item.code,
        old=old,
        new=status,
    )
    db.session.commit()
    return item


def bank_list() -> list[tuple[ItemBank, dict]]:
    """Every bank version with its item counts by status, newest first."""
    counts: dict[int, dict] = {}
    for bank_id, status, n in db.session.execute(
        db.select(Item.bank_id, Item.status, db.func.count()).group_by(Item.bank_id, Item.status)
    ):
        counts.setdefault(bank_id, {})[status] = n
    banks = (
        db.session.execute(db.select(ItemBank).order_by(ItemBank.name, ItemBank.version.desc()))
        .scalars()
        .all()
    )
    return [(b, counts.get(b.id, {})) for b in banks]
