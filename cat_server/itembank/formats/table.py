"""Tabular bank files (CSV, XLSX): a header row, then one item a row, turned into records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .cells import is_blank, short, text_of
from .columns import COLUMNS, REQUIRED_COLUMNS, Record, unknown_column_message
from .problems import Problems, _


def check_header(names: list[str], problems: Problems) -> list[str | None]:
    """Normalised column names (None for blank ones); unknown, duplicate, missing columns reported."""
    columns: list[str | None] = []
    seen: set[str] = set()
    for position, raw in enumerate(names, start=1):
        name = (raw or "").strip().lower()
        if not name:
            columns.append(None)
            continue
        if name in seen:
            problems.add(1, name, _("kolom ini muncul dua kali di baris judul"))
        elif name not in COLUMNS:
            problems.add(1, name, unknown_column_message(name, position))
        seen.add(name)
        columns.append(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.add(1, name, _("kolom wajib ini tidak ada di baris judul"))
    return columns


def rows_to_records(
    rows: Iterator[list[Any]], problems: Problems, first_row: int = 1
) -> list[Record]:
    """Header row then item rows; blank rows are skipped (spreadsheets leave them)."""
    header = next(rows, None)
    if header is None:
        raise problems.fail(_("berkas kosong"))
    if all(is_blank(v) for v in header):
        raise problems.fail(
            _("baris %(row)s harus baris judul berisi nama kolom; baris itu kosong", row=first_row)
        )
    columns = check_header([text_of(v) for v in header], problems)
    records: list[Record] = []
    for number, cells in enumerate(rows, start=first_row + 1):
        if all(is_blank(v) for v in cells):
            continue
        values: dict[str, Any] = {}
        for position, value in enumerate(cells):
            column = columns[position] if position < len(columns) else None
            if column is None:
                if not is_blank(value):
                    problems.add(
                        number,
                        f"#{position + 1}",
                        _(
                            "nilai %(value)s ada di kolom tanpa nama di baris judul",
                            value=short(value),
                        ),
                    )
                continue
            if column in COLUMNS and column not in values:
                values[column] = value
        records.append((number, values))
    if not records and not problems.count:
        raise problems.fail(_("berkas memiliki baris judul tetapi tidak berisi soal"))
    return records
