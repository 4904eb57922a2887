"""Export cells no spreadsheet runs as a formula (OWASP's CSV injection rule), and back.

Every CSV and XLSX the server writes goes through here: score, response, bank,
incident and PIN files, from the pages and the CLI. Text is typed by people
(names, item stems and codes, notes), so a cell starting with ``= + - @``, a
tab or a carriage return could be a formula such as
``=HYPERLINK("http://evil.example", "klik")`` that runs when the file is opened.

- CSV: such a cell gets a leading apostrophe (``'=1+1``), which the
  spreadsheet shows and never runs. Reversible: text that already is
  apostrophes before such a character gets one more, so ``restore_cell`` gives
  back exactly what was written (an importer reading our own files calls it).
- CSV, inside a cell: a spreadsheet may cut a cell where we did not. An
  Indonesian (or any decimal-comma) locale splits on ``;`` (Excel's list
  separator there), an import dialog on tab or comma, a reader that ignores
  quotes on a line break; what follows the cut is a cell of its own, and
  ``Budi;=cmd|' /C calc'!A0`` would run. So the rule holds after each of
  ``SEPARATORS`` too, spaces between allowed (``; =1+1`` with "trim spaces"):
  ``Budi;'=cmd...``. Space itself, a separator no locale uses by default, is
  not one (every ``x -1`` would change).
- XLSX: the cell keeps its exact text, typed as text (never a formula) and
  marked "quote prefix", the mark Excel itself sets for a typed ``'``: it stays
  text even when someone edits the cell.

Numbers stay numbers (a negative theta or difficulty is a number, not text).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# where a comma-, semicolon- or tab-separated import (or one ignoring quotes) may start a cell
SEPARATORS = (",", ";", "\t", "\r", "\n")

_STARTS = "".join(re.escape(c) for c in FORMULA_STARTS)
_CUTS = "".join(re.escape(c) for c in SEPARATORS)
# a cell's start, or a separator; spaces; apostrophes already there; then a formula character
_DANGER = re.compile(f"(^|[{_CUTS}])( *)('*)(?=[{_STARTS}])")
_DEFUSED = re.compile(f"(^|[{_CUTS}])( *)'('*)(?=[{_STARTS}])")


def safe_cell(value):
    """A CSV cell no spreadsheet runs: an apostrophe before each place a formula could start.

    Those places: the cell's start and every separator (``SEPARATORS``), each
    followed by spaces, apostrophes and one of ``FORMULA_STARTS``. The rest as is.
    """
    if isinstance(value, str):
        return _DANGER.sub(r"\1\2'\3", value)
    return value


def restore_cell(value):
    """The text ``safe_cell`` was given (for a cell read back from one of our CSV files)."""
    if isinstance(value, str):
        return _DEFUSED.sub(r"\1\2\3", value)
    return value


def safe_row(values: Iterable) -> list:
    return [safe_cell(v) for v in values]


def csv_text(header: Sequence, rows: Iterable[Sequence]) -> str:
    """Header and rows as CSV text, every cell through ``safe_cell``.

    Lines end in CRLF (RFC 4180), so a cell holding a CR or LF is always quoted.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(row) for row in rows)
    return out.getvalue()


def csv_bytes(header: Sequence, rows: Iterable[Sequence], *, bom: bool = True) -> bytes:
    """UTF-8 CSV; the BOM lets Excel read names like "Siti Rahmawati, S.Pd." right."""
    return (("\ufeff" if bom else "") + csv_text(header, rows)).encode("utf-8")


def formula_cuts(text: str) -> list[str]:
    """The pieces of ``text`` a spreadsheet could read as cells starting a formula (tests, checks).

    ``text`` cut at every separator, whatever the quotes, spaces trimmed.
    """
    return [
        piece
        for piece in re.split(f"[{_CUTS}]", text)
        if piece.lstrip(" ").startswith(FORMULA_STARTS)
    ]


def protect_sheet(sheet) -> None:
    """Every cell of an openpyxl sheet that starts like a formula: text, with the quote prefix."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # openpyxl made "=..." a formula on assignment
                cell.quotePrefix = True


def xlsx_bytes(header: Sequence, rows: Iterable[Sequence], title: str = "Sheet") -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    protect_sheet(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def protect_xlsx(data: bytes) -> bytes:
    """A workbook written elsewhere (the item bank's own writer), every sheet protected."""
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    for sheet in workbook.worksheets:
        protect_sheet(sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
