"""Tabular bank files (CSV, XLSX): a header row, then one item a row, turned into records."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .cells import is_blank, short, text_of
from .columns import COLUMNS, REQUIRED_COLUMNS, Record, unknown_column_message
from .problems import Problems


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
            problems.add(1, name, "this column appears twice in the header")
        elif name not in COLUMNS:
            problems.add(1, name, unknown_column_message(name, position))
        seen.add(name)
        columns.append(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.add(1, name, "required column is missing from the header")
    return columns


def rows_to_records(
    rows: Iterator[list[Any]], problems: Problems, first_row: int = 1
) -> list[Record]:
    """Header row then item rows; blank rows are skipped (spreadsheets leave them)."""
    header = next(rows, None)
    if header is None:
        raise problems.fail("the file is empty")
    if all(is_blank(v) for v in header):
        raise problems.fail(
            f"row {first_row} must be the header with the column names; it is blank"
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
                        f"value {short(value)} is in a column with no header name",
                    )
                continue
            if column in COLUMNS and column not in values:
                values[column] = value
        records.append((number, values))
    if not records and not problems.count:
        raise problems.fail("the file has a header but no items")
    return records
