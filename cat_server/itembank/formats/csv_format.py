"""CSV bank files: read into records (comma, semicolon or tab between cells) and write."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from ...spreadsheet import restore_cell
from .columns import COLUMNS, Record
from .problems import Problems, _
from .table import rows_to_records


def read_csv_records(text: str, problems: Problems) -> list[Record]:
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in Indonesian locale save CSV with ';' between cells.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    def rows() -> Iterator[list[str]]:
        try:
            # our own exports defuse formula-like text with an apostrophe: take it off
            yield from ([restore_cell(cell) for cell in row] for row in reader)
        except csv.Error as e:
            problems.add(
                None,
                None,
                _(
                    "CSV tidak terbaca dekat baris %(n)s: %(error)s",
                    n=reader.line_num,
                    error=str(e),
                ),
            )

    return rows_to_records(rows(), problems)


def csv_text(records: list[dict[str, Any]]) -> str:
    """UTF-8 CSV text with a header of every column in ``COLUMNS`` order."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: a CR in a cell is quoted
    writer.writerow(COLUMNS)
    for record in records:
        writer.writerow([_cell_text(record.get(c)) for c in COLUMNS])
    return out.getvalue()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = repr(value)  # shortest text that reads back as the same float
        return text[:-2] if text.endswith(".0") else text
    return str(value)
