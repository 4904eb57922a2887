"""Item bank rules: import a validated file as a new bank version, all or nothing."""

from __future__ import annotations

import html
import io
from pathlib import Path

import nh3
from flask import current_app

from ..extensions import db
from ..models import Item, ItemBank, audit
from ..security import in_the_background
from .formats import BankFormatError, BankFormatProblem, ItemRow, read_bank, write_bank
from .formats.problems import _
from .inline import bank_path, image_sources

# What item text may keep: inline emphasis, lists, tables and images; no
# scripts, styles, event handlers, links or foreign URL schemes.
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "sub",
    "sup",
    "br",
    "p",
    "span",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "img",
}
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}


# The media types a bank zip may bring (admin/banks.py checks uploads against these).
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
}


# The sizes of ItemBank.name and ItemBank.source_filename.
MAX_NAME = 200
MAX_SOURCE = 300


def media_root() -> Path:
    """Where banks' media live: ``CAT_MEDIA_DIR``, or ``instance/media``; one folder a bank."""
    return Path(current_app.config.get("MEDIA_DIR") or Path(current_app.instance_path) / "media")


def media_file(item: Item) -> tuple[Path, str] | None:
    """The item's media file on disk and its content type; None if it has none or it is gone.

    The name was checked on import (relative, no ``..``); it is checked again
    here to stay inside the bank's folder whatever the database holds.
    """
    if not item.media:
        return None
    mimetype = MEDIA_TYPES.get(Path(item.media).suffix.lower())
    folder = (media_root() / f"bank-{item.bank_id}").resolve()
    path = (folder / item.media).resolve()
    if mimetype is None or not path.is_relative_to(folder) or not path.is_file():
        return None
    return path, mimetype


def image_file(item: Item, n: int) -> tuple[Path, str] | None:
    """The n-th image inside the item's HTML (stem, then options) on disk and its type.

    None if the item has no such image, its ``src`` is not a path inside the
    bank (itembank/inline.py), or the file is gone.
    """
    texts = [sanitize_html(item.stem), *(sanitize_html(o) for o in item.options)]
    sources = [src for text in texts for src in image_sources(text)]
    name = bank_path(sources[n] or "") if 0 <= n < len(sources) else None
    if name is None:
        return None
    folder = (media_root() / f"bank-{item.bank_id}").resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    return path, MEDIA_TYPES[path.suffix.lower()]


def sanitize_html(text: str) -> str:
    """Item HTML with everything unsafe removed.

    Text the sanitizer would only entity-escape ("4 < 5 & 6") is kept as it
    was, so plain-text stems read the same on every page.
    """
    cleaned = nh3.clean(
        text, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=set(), link_rel=None
    )
    return text if html.unescape(cleaned) == text else cleaned


def import_bank(
    path,
    name: str,
    actor: str = "cli",
    *,
    filename: str | None = None,
    fmt: str | None = None,
    media: set[str] | None = None,
) -> ItemBank:
    """Validate the whole file first (BankFormatError lists every problem), then write it all.

    ``path`` is a path or an open upload (``filename`` names it in messages).
    With ``media`` (the media file names that come with the bank), every
    item's ``media`` must be one of them. Stems and options are sanitised.
    A bank with the same name becomes a new version; nothing is overwritten.
    """
    source = filename or str(path)
    name = check_bank_name(name, source)
    # read, checked and sanitised beside the event loop: a big upload stalls no seat
    rows, clean = in_the_background(_read_and_sanitize, path, filename, fmt, media, source)
    latest = db.session.execute(
        db.select(db.func.max(ItemBank.version)).where(ItemBank.name == name)
    ).scalar()
    # only a label: a long upload name keeps its end, where the file's own name is
    stored = source if len(source) <= MAX_SOURCE else "…" + source[1 - MAX_SOURCE :]
    bank = ItemBank(name=name, version=(latest or 0) + 1, source_filename=stored)
    db.session.add(bank)
    db.session.flush()
    n_sanitized = 0
    values = []
    for position, (row, (stem, options)) in enumerate(zip(rows, clean, strict=True), start=1):
        n_sanitized += stem != row.stem or options != list(row.options)
        values.append(
            dict(
                bank_id=bank.id,
                code=row.item_id,
                position=position,
                section=row.section,
                model=row.model,
                a=row.a,
                b=row.b,
                c=row.c,
                d=row.d,
                thresholds=list(row.thresholds) or None,
                stem=stem,
                options=options,
                key=row.key,
                option_scores=list(row.option_scores) if row.option_scores else None,
                status=row.status,
                enemy_group=row.enemy_group,
                media=row.media,
            )
        )
    if values:  # one executemany, not a unit of work of 40,000 objects on the event loop
        db.session.execute(db.insert(Item), values)
    audit(
        actor,
        "bank_imported",
        name=name,
        version=bank.version,
        items=len(rows),
        sanitized=n_sanitized,
        file=filename or str(path),
    )
    db.session.commit()
    bank.n_sanitized = n_sanitized
    return bank


def _read_and_sanitize(path, filename, fmt, media, source):
    """The file's rows (BankFormatError if any is wrong) and each row's sanitised stem and options."""
    rows = read_bank(path, filename=filename, fmt=fmt)
    if media is not None:
        check_media(rows, media, source)
    return rows, [(sanitize_html(r.stem), [sanitize_html(o) for o in r.options]) for r in rows]


def check_bank_name(name: str, filename: str) -> str:
    """The name without surrounding spaces; BankFormatError when empty or too long."""
    name = name.strip()
    if not name:
        message = _("beri nama bank soal")
    elif len(name) > MAX_NAME:
        message = _(
            "nama bank soal paling banyak %(limit)s karakter, ditemukan %(n)s",
            limit=MAX_NAME,
            n=len(name),
        )
    else:
        return name
    raise BankFormatError([BankFormatProblem(filename or "upload", None, None, message)])


def check_media(rows: list[ItemRow], media: set[str], filename: str) -> None:
    """Every media reference, ``media`` or an inline image, names a file that comes with the bank.

    BankFormatError (file, row, column) otherwise.
    """
    json_file = filename.lower().endswith(".json")
    unit = "item" if json_file else "row"
    problems = []
    for number, row in enumerate(rows, start=1 if json_file else 2):
        if row.media and row.media not in media:
            problems.append(
                BankFormatProblem(
                    filename,
                    number,
                    "media",
                    _(
                        "berkas media %(media)s tidak ada di unggahan; unggah .zip berisi "
                        "berkas bank soal dan berkas medianya",
                        media=repr(row.media),
                    ),
                    unit=unit,
                )
            )
        columns = [("stem", row.stem)] + [
            (f"option_{'abcde'[i]}", text) for i, text in enumerate(row.options)
        ]
        for column, text in columns:
            for src in image_sources(sanitize_html(text)):
                if src is None:
                    continue
                name = bank_path(src)
                if name is None:
                    message = _(
                        "gambar src %(src)s bukan berkas bank soal ini; diharapkan jalur "
                        "relatif di dalam .zip, misalnya media/tiu102.png",
                        src=repr(src),
                    )
                elif name in media:
                    continue
                else:
                    message = _(
                        "gambar %(src)s tidak ada di unggahan; unggah .zip berisi berkas "
                        "bank soal dan berkas medianya",
                        src=repr(src),
                    )
                problems.append(BankFormatProblem(filename, number, column, message, unit=unit))
    if problems:
        raise BankFormatError(problems[:50], len(problems))


def item_rows(bank: ItemBank) -> list[ItemRow]:
    """The bank's items as file rows, in file order (what an export writes)."""
    return [
        ItemRow(
            item_id=item.code,
            section=item.section,
            model=item.model,
            a=item.a,
            b=item.b,
            c=item.c,
            d=item.d,
            thresholds=tuple(item.thresholds or ()),
            stem=item.stem,
            options=tuple(item.options),
            key=item.key,
            option_scores=tuple(item.option_scores) if item.option_scores else None,
            status=item.status,
            enemy_group=item.enemy_group,
            media=item.media,
        )
        for item in bank.items
    ]


def export_bank(bank: ItemBank, fmt: str) -> bytes:
    """The bank version as a CSV, JSON or XLSX file that imports back to the same items."""
    out = io.BytesIO()
    write_bank(item_rows(bank), out, fmt=fmt)
    return out.getvalue()
