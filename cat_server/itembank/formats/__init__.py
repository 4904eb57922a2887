"""Item bank files: ``read_bank`` and ``write_bank``, which hand each format to its module.

One item a row (CSV/XLSX) or one object an item (JSON), columns as in
``docs/formats.md``; QTI 2.1 items are read too. A file is checked whole:
either every item is valid and ``read_bank`` returns them all, or it raises
``BankFormatError`` listing every problem with file, row and column, so an
import writes all or nothing.

Where things are: ``columns`` (the columns, models and ItemRow), ``problems``
(BankFormatError), ``validation`` (the rules every item meets), ``cells`` and
``text`` (reading one value, decoding bytes), ``table`` (header and rows of
CSV/XLSX), and one module a format: ``csv_format``, ``json_format``,
``xlsx_format``, ``qti_format``.

Pure Python: no Flask, no database. XLSX needs ``openpyxl`` (optional).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from .columns import (
    COLUMNS,
    DICHOTOMOUS,
    LETTERS,
    MAX_ID_LENGTH,
    MAX_THRESHOLDS,
    MODELS,
    OPTION_COLUMNS,
    POLYTOMOUS,
    REQUIRED_COLUMNS,
    SCORE_COLUMNS,
    STATUSES,
    THRESHOLD_COLUMNS,
    ItemRow,
    record_of,
)
from .csv_format import csv_text, read_csv_records
from .json_format import json_text, read_json_records
from .problems import MAX_PROBLEMS, BankFormatError, BankFormatProblem, Message, Problems, _
from .qti_format import read_qti
from .text import decode_text
from .validation import validate_all
from .xlsx_format import MAX_XLSX_UNPACKED, read_xlsx_records, write_xlsx

__all__ = [  # the names this module had before it became a package, and FORMATS
    "COLUMNS",
    "DEMO_BANK",
    "DICHOTOMOUS",
    "FORMATS",
    "LETTERS",
    "MAX_ID_LENGTH",
    "MAX_PROBLEMS",
    "MAX_THRESHOLDS",
    "MAX_XLSX_UNPACKED",
    "MODELS",
    "OPTION_COLUMNS",
    "POLYTOMOUS",
    "QTI_FORMATS",
    "REQUIRED_COLUMNS",
    "SCORE_COLUMNS",
    "STATUSES",
    "THRESHOLD_COLUMNS",
    "BankFormatError",
    "BankFormatProblem",
    "Message",
    "ItemRow",
    "read_bank",
    "write_bank",
]

#: The checked-in demo bank (SKD-style TWK, TIU and TKP items).
DEMO_BANK = Path(__file__).resolve().parents[2] / "data" / "demo_bank.csv"

FORMATS = ("csv", "json", "xlsx")  # read and written
QTI_FORMATS = ("xml", "zip")  # read only: a QTI 2.1 item, or a content package (qti_format.py)
#: What a file of each format is said to be when its parser gives up on it.
_UNREADABLE = {
    "csv": _("CSV tidak terbaca (%(reason)s)"),
    "json": _("ini bukan JSON yang terbaca (%(reason)s)"),
    "xlsx": _("ini bukan workbook XLSX yang terbaca (%(reason)s)"),
    "xml": _("ini bukan soal QTI yang terbaca (%(reason)s)"),
    "zip": _("ini bukan paket konten QTI yang terbaca (%(reason)s)"),
}

logger = logging.getLogger(__name__)


def read_bank(
    path_or_file, *, filename: str | None = None, fmt: str | None = None
) -> list[ItemRow]:
    """Read and validate a whole item bank file; return every item or raise BankFormatError.

    ``path_or_file`` is a path or an open file (binary, or text for CSV/JSON).
    ``filename`` names the file in messages (default: the path's base name).
    ``fmt`` is "csv", "json" or "xlsx"; by default it comes from the file name's extension.
    Nothing is returned unless every item is valid, and nothing but BankFormatError
    is raised for what the file holds.
    """
    name = filename or _name_of(path_or_file)
    fmt = _format_of(name, fmt)
    try:
        return _read(path_or_file, name, fmt)
    except (BankFormatError, MemoryError):
        raise
    except Exception as error:
        # The parsers underneath (openpyxl, json, zipfile, ElementTree, csv) meet hostile
        # bytes with whatever exception they hit first (IndexError, RecursionError, ...):
        # each is a problem of this file, for the problem list, not a server error. (Logged
        # at DEBUG: the centre's log is at INFO, and the traceback would land on the
        # terminal of load-bank.)
        logger.debug("%s: unreadable %s upload", name, fmt, exc_info=True)
        reason = str(error) or type(error).__name__
        unreadable = _UNREADABLE[fmt]
        raise Problems(name).fail(Message(unreadable.msgid, reason=reason[:300])) from None


def _read(path_or_file, name: str, fmt: str) -> list[ItemRow]:
    if fmt in QTI_FORMATS:
        raw = _read_all(path_or_file)
        return read_qti(raw.encode("utf-8") if isinstance(raw, str) else raw, name)
    if fmt == "xlsx":
        problems = Problems(name, "row")
        records = read_xlsx_records(path_or_file, problems)
    else:
        raw = _read_all(path_or_file)
        text = decode_text(raw, Problems(name))
        if fmt == "json":
            problems = Problems(name, "item")
            records = read_json_records(text, problems)
        else:
            problems = Problems(name, "row")
            records = read_csv_records(text, problems)
    items = validate_all(records, problems)
    problems.raise_if_any()
    return items


def _name_of(path_or_file) -> str:
    if isinstance(path_or_file, str | os.PathLike):
        return os.path.basename(os.fspath(path_or_file))
    name = getattr(path_or_file, "filename", None) or getattr(path_or_file, "name", None)
    if isinstance(name, str) and name:
        return os.path.basename(name)
    return "<item bank>"


def _format_of(name: str, fmt: str | None) -> str:
    if fmt is None:
        fmt = os.path.splitext(name)[1].lstrip(".")
    fmt = fmt.lower()
    if fmt not in FORMATS + QTI_FORMATS:
        raise Problems(name).fail(
            _(
                "format berkas %(format)s tidak dikenal; diharapkan berkas .csv, .json atau "
                ".xlsx (atau soal QTI 2.1 .xml atau paket konten .zip)",
                format=repr(fmt),
            )
            if fmt
            else _(
                "format berkas tidak dapat ditentukan dari namanya; diharapkan .csv, .json "
                "atau .xlsx"
            )
        )
    return fmt


def _read_all(path_or_file) -> bytes | str:
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "rb") as f:
            return f.read()
    return path_or_file.read()


def write_bank(rows: Iterable[ItemRow], file, fmt: str = "csv") -> None:
    """Write items as a bank file that ``read_bank`` reads back to the same items.

    ``file`` is a path or an open file (text or binary for CSV/JSON, binary for XLSX).
    CSV is UTF-8 with a header of every column in ``COLUMNS`` order.
    """
    fmt = fmt.lower()
    records = [record_of(row) for row in rows]
    if fmt == "xlsx":
        write_xlsx(records, file)
        return
    if fmt == "csv":
        text = csv_text(records)
    elif fmt == "json":
        text = json_text(records)
    else:
        raise ValueError(f"unknown bank format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if isinstance(file, str | os.PathLike):
        with open(file, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return
    try:
        file.write(text)
    except TypeError:  # a binary file
        file.write(text.encode("utf-8"))
