"""Item bank files: read and validate CSV, JSON or XLSX; write them back.

One item a row (CSV/XLSX) or one object an item (JSON), columns as in
``docs/formats.md``. A file is checked whole: either every item is valid and
``read_bank`` returns them all, or it raises ``BankFormatError`` listing every
problem with file, row and column, so an import writes all or nothing.

Pure Python: no Flask, no database. XLSX needs ``openpyxl`` (optional).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "COLUMNS",
    "DEMO_BANK",
    "DICHOTOMOUS",
    "MODELS",
    "POLYTOMOUS",
    "STATUSES",
    "BankFormatError",
    "BankFormatProblem",
    "ItemRow",
    "read_bank",
    "write_bank",
]

DICHOTOMOUS = ("1pl", "2pl", "3pl", "4pl")
POLYTOMOUS = ("grm", "gpcm")
MODELS = DICHOTOMOUS + POLYTOMOUS
STATUSES = ("active", "pretest", "retired")
LETTERS = "ABCDE"
MAX_THRESHOLDS = len(LETTERS) - 1  # five options give at most five score categories

OPTION_COLUMNS = tuple(f"option_{x}" for x in LETTERS.lower())
SCORE_COLUMNS = tuple(f"score_{x}" for x in LETTERS.lower())
THRESHOLD_COLUMNS = tuple(f"b{k}" for k in range(1, MAX_THRESHOLDS + 1))
#: Every column a bank file may have, in the order ``write_bank`` writes them.
COLUMNS = (
    ("item_id", "section", "model", "a", "b", "c", "d")
    + THRESHOLD_COLUMNS
    + ("stem",)
    + OPTION_COLUMNS
    + ("key",)
    + SCORE_COLUMNS
    + ("status", "enemy_group", "media")
)
REQUIRED_COLUMNS = ("item_id", "section", "model", "stem", "option_a", "option_b")

#: The checked-in demo bank (SKD-style TWK, TIU and TKP items).
DEMO_BANK = Path(__file__).resolve().parent.parent / "data" / "demo_bank.csv"

MAX_PROBLEMS = 50
# An XLSX bank unpacks to about 1 KiB an item; 64 MiB is far beyond any real bank.
MAX_XLSX_UNPACKED = 64 * 1024 * 1024
MAX_ID_LENGTH = 64
FORMATS = ("csv", "json", "xlsx")  # read and written
QTI_FORMATS = ("xml", "zip")  # read only: a QTI 2.1 item, or a content package (qti.py)


@dataclass(frozen=True)
class ItemRow:
    """One validated item, as read from a bank file."""

    item_id: str
    section: str
    model: str  # one of MODELS, lower case
    a: float
    b: float | None  # None for grm/gpcm
    c: float
    d: float
    thresholds: tuple[float, ...]  # b1..bk for grm/gpcm, () otherwise
    stem: str
    options: tuple[str, ...]  # the non-empty options, in order A..
    key: str | None  # "A".."E" for dichotomous items
    option_scores: tuple[int, ...] | None  # one score an option for grm/gpcm
    status: str = "active"
    enemy_group: str | None = None
    media: str | None = None

    @property
    def is_polytomous(self) -> bool:
        return self.model in POLYTOMOUS

    @property
    def max_score(self) -> int:
        """Points for the best answer: 1 for a dichotomous item."""
        return max(self.option_scores) if self.option_scores else 1


@dataclass(frozen=True)
class BankFormatProblem:
    """One problem in a bank file; ``row`` and ``column`` are None when the whole file is meant.

    ``unit`` is how ``row`` is shown: "row" in CSV/XLSX (the header is row 1),
    "item" in JSON (1-based index in the item list).
    """

    file: str
    row: int | None
    column: str | None
    message: str
    unit: str = "row"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class BankFormatError(ValueError):
    """A bank file that cannot be used as it is.

    ``errors`` holds the BankFormatProblem list (at most MAX_PROBLEMS);
    ``n_problems`` counts them all. ``str(e)`` lists them, one a line.
    """

    def __init__(self, errors: list[BankFormatProblem], n_problems: int | None = None):
        self.errors = list(errors)
        self.n_problems = len(self.errors) if n_problems is None else n_problems
        lines = [str(p) for p in self.errors]
        if self.n_problems > len(self.errors):
            lines.append(f"... and {self.n_problems - len(self.errors)} more problems")
        super().__init__("\n".join(lines))


class _Problems:
    """Collects problems for one file; raises them all at the end."""

    def __init__(self, file: str, unit: str = "row"):
        self.file = file
        self.unit = unit
        self.errors: list[BankFormatProblem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append(BankFormatProblem(self.file, row, column, message, self.unit))

    def fail(self, message: str) -> BankFormatError:
        """A problem with the whole file that stops reading at once."""
        self.add(None, None, message)
        return self.error()

    def error(self) -> BankFormatError:
        return BankFormatError(self.errors, self.count)

    def raise_if_any(self) -> None:
        if self.count:
            raise self.error()


# ---------------------------------------------------------------- reading


def read_bank(
    path_or_file, *, filename: str | None = None, fmt: str | None = None
) -> list[ItemRow]:
    """Read and validate a whole item bank file; return every item or raise BankFormatError.

    ``path_or_file`` is a path or an open file (binary, or text for CSV/JSON).
    ``filename`` names the file in messages (default: the path's base name).
    ``fmt`` is "csv", "json" or "xlsx"; by default it comes from the file name's extension.
    Nothing is returned unless every item is valid.
    """
    name = filename or _name_of(path_or_file)
    fmt = _format_of(name, fmt)
    if fmt in QTI_FORMATS:
        from .qti import read_qti

        raw = _read_all(path_or_file)
        return read_qti(raw.encode("utf-8") if isinstance(raw, str) else raw, name)
    if fmt == "xlsx":
        problems = _Problems(name, "row")
        records = _xlsx_records(path_or_file, problems)
    else:
        raw = _read_all(path_or_file)
        text = _decode(raw, _Problems(name))
        if fmt == "json":
            problems = _Problems(name, "item")
            records = _json_records(text, problems)
        else:
            problems = _Problems(name, "row")
            records = _csv_records(text, problems)
    items = _validate_all(records, problems)
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
        raise _Problems(name).fail(
            f"unknown file format {fmt!r}; expected a .csv, .json or .xlsx file "
            "(or a QTI 2.1 .xml item or content package .zip)"
            if fmt
            else "cannot tell the file format from the name; expected .csv, .json or .xlsx"
        )
    return fmt


def _read_all(path_or_file) -> bytes | str:
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "rb") as f:
            return f.read()
    return path_or_file.read()


def _decode(raw: bytes | str, problems: _Problems) -> str:
    """UTF-8 text with any BOM removed; a clear error for other encodings."""
    if isinstance(raw, str):
        text = raw
    else:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise problems.fail(
                "the file is UTF-16 (Excel 'Unicode Text'); save it as 'CSV UTF-8' or JSON in UTF-8"
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw[: e.start].count(b"\n") + 1
            raise problems.fail(
                f"the file is not UTF-8 (byte 0x{raw[e.start]:02x} on line {line}); "
                "save it as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)')"
            ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise problems.fail("the file is empty")
    return text


# A record is (row number, {column: raw value}); raw values are str in CSV,
# and str/int/float/bool/None (or datetimes from XLSX) otherwise.
Record = tuple[int, dict[str, Any]]


def _check_header(names: list[str], problems: _Problems) -> list[str | None]:
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
            problems.add(1, name, _unknown_column_message(name, position))
        seen.add(name)
        columns.append(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.add(1, name, "required column is missing from the header")
    return columns


def _unknown_column_message(name: str, position: int | None = None) -> str:
    at = f" (column {position} of the header)" if position else ""
    close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else f"; expected {', '.join(COLUMNS)}"
    return f"unknown column {name!r}{at}{hint}"


def _rows_to_records(
    rows: Iterator[list[Any]], problems: _Problems, first_row: int = 1
) -> list[Record]:
    """Header row then item rows; blank rows are skipped (spreadsheets leave them)."""
    header = next(rows, None)
    if header is None:
        raise problems.fail("the file is empty")
    if all(_is_blank(v) for v in header):
        raise problems.fail(
            f"row {first_row} must be the header with the column names; it is blank"
        )
    columns = _check_header([_text_of(v) for v in header], problems)
    records: list[Record] = []
    for number, cells in enumerate(rows, start=first_row + 1):
        if all(_is_blank(v) for v in cells):
            continue
        values: dict[str, Any] = {}
        for position, value in enumerate(cells):
            column = columns[position] if position < len(columns) else None
            if column is None:
                if not _is_blank(value):
                    problems.add(
                        number,
                        f"#{position + 1}",
                        f"value {_short(value)} is in a column with no header name",
                    )
                continue
            if column in COLUMNS and column not in values:
                values[column] = value
        records.append((number, values))
    if not records and not problems.count:
        raise problems.fail("the file has a header but no items")
    return records


def _csv_records(text: str, problems: _Problems) -> list[Record]:
    first_line = text.split("\n", 1)[0]
    # Spreadsheets in Indonesian locale save CSV with ';' between cells.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)

    def rows() -> Iterator[list[str]]:
        try:
            yield from reader
        except csv.Error as e:
            problems.add(None, None, f"the CSV cannot be read near line {reader.line_num}: {e}")

    return _rows_to_records(rows(), problems)


def _json_records(text: str, problems: _Problems) -> list[Record]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = _JsonObject(items)
        obj.duplicates = sorted({k for k, _ in items if sum(k == j for j, _ in items) > 1})
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        raise problems.fail(
            f"invalid JSON at line {e.lineno}, character {e.colno}: {e.msg}"
        ) from None
    if isinstance(data, dict):
        if "items" not in data:
            raise problems.fail('expected a list of items or an object with an "items" list')
        data = data["items"]
    if not isinstance(data, list):
        raise problems.fail('"items" must be a list of objects, one an item')
    if not data:
        raise problems.fail("the file has no items")
    records: list[Record] = []
    unknown_seen: set[str] = set()
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            problems.add(
                number, None, f"expected an object with the item's columns, got {_short(obj)}"
            )
            continue
        values: dict[str, Any] = {}
        for raw_key, value in obj.items():
            key = raw_key.strip().lower()
            if key not in COLUMNS:
                # Report each unknown name once, so one typo does not hide every other problem.
                if key not in unknown_seen:
                    unknown_seen.add(key)
                    problems.add(number, raw_key, _unknown_column_message(key))
                continue
            if key in values:
                problems.add(number, raw_key, "this column is given twice")
            values[key] = value
        for key in getattr(obj, "duplicates", ()):
            problems.add(number, key, "this column is given twice")
        records.append((number, values))
    return records


class _JsonObject(dict):
    duplicates: list[str] = []


def _xlsx_records(path_or_file, problems: _Problems) -> list[Record]:
    try:
        import openpyxl
    except ImportError:
        raise problems.fail(
            "XLSX support needs openpyxl (pip install openpyxl); or save the sheet as CSV UTF-8"
        ) from None
    import openpyxl.xml

    if not openpyxl.xml.DEFUSEDXML:  # without it a workbook's DTD could read local files
        raise problems.fail("XLSX support needs defusedxml (pip install defusedxml)")
    _check_xlsx_size(path_or_file, problems)
    try:
        workbook = openpyxl.load_workbook(path_or_file, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged or non-XLSX file
        raise problems.fail(f"this is not a readable XLSX workbook ({e})") from None
    try:
        sheet = workbook["items"] if "items" in workbook.sheetnames else workbook.worksheets[0]
        rows = (list(r) for r in sheet.iter_rows(values_only=True))
        return _rows_to_records(rows, problems)
    finally:
        workbook.close()


def _check_xlsx_size(path_or_file, problems: _Problems) -> None:
    """An XLSX is a zip: refuse one that unpacks to more than MAX_XLSX_UNPACKED (a zip bomb)
    before openpyxl reads it (it holds the shared strings in memory)."""
    try:
        with zipfile.ZipFile(path_or_file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # openpyxl names the damage
    finally:
        if hasattr(path_or_file, "seek"):
            path_or_file.seek(0)
    if unpacked > MAX_XLSX_UNPACKED:
        raise problems.fail(
            f"the workbook unpacks to {unpacked // (1024 * 1024)} MiB; at most "
            f"{MAX_XLSX_UNPACKED // (1024 * 1024)} MiB (save large banks as CSV)"
        )


# ---------------------------------------------------------------- validation


def _validate_all(records: list[Record], problems: _Problems) -> list[ItemRow]:
    items: list[ItemRow] = []
    first_row_of: dict[str, tuple[int, str]] = {}
    for number, values in records:
        item = _validate_item(number, values, problems)
        item_id = _text_of(values.get("item_id")).strip()
        if item_id:
            # Case-blind: TWK001 and twk001 in one bank is a mistake, not two items.
            folded = item_id.casefold()
            if folded in first_row_of:
                first, first_id = first_row_of[folded]
                problems.add(
                    number,
                    "item_id",
                    f"duplicate item_id {item_id!r}: {problems.unit} {first} has {first_id!r}",
                )
            else:
                first_row_of[folded] = (number, item_id)
        if item is not None:
            items.append(item)
    return items


def _validate_item(row: int, values: dict[str, Any], problems: _Problems) -> ItemRow | None:
    """One item checked against every rule; None (with problems added) when it fails any."""
    before = problems.count

    def bad(column: str | None, message: str) -> None:
        problems.add(row, column, message)

    text = {c: _text_cell(row, c, values.get(c), problems) for c in _TEXT_COLUMNS}

    item_id = text["item_id"]
    if not item_id:
        bad("item_id", "item_id is required")
    elif len(item_id) > MAX_ID_LENGTH or re.search(r"\s", item_id):
        bad(
            "item_id",
            f"item_id must be 1-{MAX_ID_LENGTH} characters without spaces, got {item_id!r}",
        )
    section = text["section"]
    if not section:
        bad("section", "section is required (a tag such as TWK, TIU or TKP)")

    model = text["model"].lower()
    if model not in MODELS:
        bad("model", f"expected one of {', '.join(MODELS)}, got {text['model']!r}")
        model = ""

    stem = text["stem"]
    if not stem:
        bad("stem", "stem (the question text) is required")

    option_texts = [text[c] for c in OPTION_COLUMNS]
    n_options = 0
    for i, value in enumerate(option_texts):
        if value:
            if i > n_options:
                bad(
                    OPTION_COLUMNS[i],
                    f"options must be filled from A without gaps: option_{LETTERS[n_options].lower()}"
                    " is empty",
                )
            n_options = i + 1
    options = tuple(v for v in option_texts if v)
    if len(options) < 2:
        bad("option_b" if option_texts[0] else "option_a", "an item needs at least two options")
    seen_options: dict[str, str] = {}
    for i, value in enumerate(option_texts):
        if value and value in seen_options:
            bad(OPTION_COLUMNS[i], f"same text as option {seen_options[value]}")
        elif value:
            seen_options[value] = LETTERS[i]

    status = text["status"].lower() or "active"
    if status not in STATUSES:
        bad(
            "status",
            f"expected one of {', '.join(STATUSES)} (or empty for active), got {text['status']!r}",
        )

    num = {c: _number_cell(row, c, values.get(c), problems) for c in ("a", "b", "c", "d")}
    thresholds_raw = [_number_cell(row, c, values.get(c), problems) for c in THRESHOLD_COLUMNS]
    scores_raw = [_score_cell(row, c, values.get(c), problems) for c in SCORE_COLUMNS]
    key_text = text["key"].upper()

    a = b = None
    c, d = 0.0, 1.0
    thresholds: tuple[float, ...] = ()
    key = None
    option_scores = None
    if model in DICHOTOMOUS:
        a = _default(num["a"], 1.0 if model == "1pl" else None)
        if a is None and _is_blank(values.get("a")):
            bad("a", f"a (discrimination) is required for {model} items")
        b = num["b"]
        if b is None and _is_blank(values.get("b")):
            bad("b", f"b (difficulty) is required for {model} items")
        c = _default(num["c"], 0.0)
        d = _default(num["d"], 1.0)
        if model in ("1pl", "2pl") and c not in (None, 0.0):
            bad("c", f"c applies to 3pl and 4pl items; leave it empty for {model}")
        if model != "4pl" and d not in (None, 1.0):
            bad("d", f"d applies to 4pl items; leave it empty for {model}")
        for column, value in zip(
            THRESHOLD_COLUMNS, _values_of(values, THRESHOLD_COLUMNS), strict=True
        ):
            if not _is_blank(value):
                bad(
                    column,
                    f"thresholds b1..b{MAX_THRESHOLDS} are for grm/gpcm; {model} items use b",
                )
        for column, value in zip(SCORE_COLUMNS, _values_of(values, SCORE_COLUMNS), strict=True):
            if not _is_blank(value):
                bad(column, f"option scores are for grm/gpcm items; {model} items use key")
        if not key_text:
            bad("key", f"key is required for {model} items: one of A..E naming a non-empty option")
        elif len(key_text) == 1 and key_text in LETTERS and option_texts[LETTERS.index(key_text)]:
            key = key_text
        else:
            bad("key", f"expected one of A..E naming a non-empty option, got {text['key']!r}")
    elif model in POLYTOMOUS:
        a = num["a"]
        if a is None and _is_blank(values.get("a")):
            bad("a", f"a (discrimination) is required for {model} items")
        for column in ("b", "c", "d"):
            if not _is_blank(values.get(column)):
                bad(
                    column,
                    f"{column} is for dichotomous items; {model} items use thresholds b1..bk",
                )
        if key_text:
            bad("key", f"key is for dichotomous items; {model} items use score_a..score_e")
        option_scores, n_categories = _check_scores(scores_raw, option_texts, values, bad)
        thresholds = _check_thresholds(thresholds_raw, values, n_categories, model, bad)

    for column, value, low, high, low_open, high_open in (
        ("a", a, 0.0, 4.0, True, False),
        ("b", b, -6.0, 6.0, False, False),
        ("c", c, 0.0, 0.5, False, True),
        ("d", d, 0.5, 1.0, True, False),
    ):
        if value is not None and not _in_range(value, low, high, low_open, high_open):
            span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            bad(column, f"{column} must be in {span}, got {value:g}")
    if c is not None and d is not None and not c < d:
        bad("d", f"c must be smaller than d, got c={c:g}, d={d:g}")

    if problems.count > before:
        return None
    return ItemRow(
        item_id=item_id,
        section=section,
        model=model,
        a=a,
        b=b,
        c=c if model in DICHOTOMOUS else 0.0,
        d=d if model in DICHOTOMOUS else 1.0,
        thresholds=thresholds,
        stem=stem,
        options=options,
        key=key,
        option_scores=option_scores,
        status=status,
        enemy_group=text["enemy_group"] or None,
        media=text["media"] or None,
    )


_TEXT_COLUMNS = (
    "item_id",
    "section",
    "model",
    "stem",
    *OPTION_COLUMNS,
    "key",
    "status",
    "enemy_group",
    "media",
)


def _values_of(values: dict[str, Any], columns: Iterable[str]) -> list[Any]:
    return [values.get(c) for c in columns]


def _check_scores(scores_raw, option_texts, values, bad) -> tuple[tuple[int, ...] | None, int]:
    """Scores 1..5, one a non-empty option, using every score from 1 to the highest."""
    scores: list[int] = []
    ok = True
    for column, text, score, raw in zip(
        SCORE_COLUMNS, option_texts, scores_raw, _values_of(values, SCORE_COLUMNS), strict=True
    ):
        if text:
            if _is_blank(raw):
                bad(column, "each non-empty option needs a score from 1 to 5")
                ok = False
            elif score is None:
                ok = False  # reported by _score_cell
            else:
                scores.append(score)
        elif not _is_blank(raw):
            bad(column, "score given for an empty option")
            ok = False
    if not ok or not scores:
        return None, 0
    used = set(scores)
    top = max(scores)
    missing = [s for s in range(1, top + 1) if s not in used]
    if top < 2:
        bad("score_a", "the scores must use at least two categories (e.g. 1 and 2)")
        return None, 0
    if missing:
        bad(
            "score_a",
            f"the scores must use every value from 1 to the highest ({top}); "
            f"missing {', '.join(map(str, missing))}",
        )
        return None, 0
    return tuple(scores), top


def _check_thresholds(thresholds_raw, values, n_categories, model, bad) -> tuple[float, ...]:
    given = [not _is_blank(v) for v in _values_of(values, THRESHOLD_COLUMNS)]
    k = sum(given)
    if any(given[k:]) or not all(given[:k]):
        last = max(i for i, g in enumerate(given) if g) + 1
        bad(
            f"b{given.index(False) + 1}",
            f"thresholds must be filled from b1 without gaps (b{last} is given)",
        )
        return ()
    if not n_categories:
        return ()  # scores already reported; the count cannot be checked
    expected = n_categories - 1
    if k != expected:
        # the first missing threshold, or the first one too many
        column = THRESHOLD_COLUMNS[min(k, expected)]
        bad(
            column,
            f"{model} items scored 1..{n_categories} need {expected} thresholds "
            f"b1..b{expected}, got {k}",
        )
        return ()
    if any(t is None for t in thresholds_raw[:k]):
        return ()  # non-numeric values already reported
    thresholds = tuple(thresholds_raw[:k])
    for i, t in enumerate(thresholds):
        if not -6.0 <= t <= 6.0:
            bad(THRESHOLD_COLUMNS[i], f"thresholds must be in [-6, 6], got {t:g}")
            return ()
    for i in range(1, k):
        if not thresholds[i] > thresholds[i - 1]:
            bad(
                THRESHOLD_COLUMNS[i],
                f"thresholds must increase: b{i + 1}={thresholds[i]:g} is not above b{i}={thresholds[i - 1]:g}",
            )
            return ()
    return thresholds


def _default(value: float | None, default: float | None) -> float | None:
    return default if value is None else value


def _in_range(x: float, low: float, high: float, low_open: bool, high_open: bool) -> bool:
    above = x > low if low_open else x >= low
    below = x < high if high_open else x <= high
    return above and below


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet turns an id like 101 into 101.0
    return str(value)


def _text_cell(row: int, column: str, value: Any, problems: _Problems) -> str:
    if value is None or isinstance(value, str):
        return (value or "").strip()
    if isinstance(value, bool) or not isinstance(value, int | float):
        if hasattr(value, "isoformat"):
            problems.add(
                row,
                column,
                f"the spreadsheet turned this cell into a date ({value}); format the column as Text",
            )
        else:
            problems.add(row, column, f"expected text, got {_short(value)}")
        # The row already fails; keeping the text avoids follow-on complaints about a gap.
        return str(value)
    return _text_of(value)


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def _number_cell(row: int, column: str, value: Any, problems: _Problems) -> float | None:
    """A finite number, or None if blank (or not a number, which is reported)."""
    if _is_blank(value):
        return None
    if isinstance(value, bool):
        x = None
    elif isinstance(value, int | float):
        x = float(value)
    elif isinstance(value, str):
        s = value.strip().replace("\u2212", "-")  # the minus sign word processors use
        if _DECIMAL_COMMA.fullmatch(s):
            s = s.replace(",", ".")  # decimal comma, as Indonesian-locale spreadsheets write
        try:
            x = float(s)
        except ValueError:
            x = None
    else:
        x = None
    if x is None or not math.isfinite(x):
        problems.add(row, column, f"expected a number, got {_short(value)}")
        return None
    return x


def _score_cell(row: int, column: str, value: Any, problems: _Problems) -> int | None:
    """An integer score 1..5, or None if blank (or invalid, which is reported)."""
    if _is_blank(value):
        return None
    x: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            x = None
    if x is None or not math.isfinite(x) or not x.is_integer() or not 1 <= x <= 5:
        problems.add(row, column, f"expected a whole number from 1 to 5, got {_short(value)}")
        return None
    return int(x)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------- writing


def write_bank(rows: Iterable[ItemRow], file, fmt: str = "csv") -> None:
    """Write items as a bank file that ``read_bank`` reads back to the same items.

    ``file`` is a path or an open file (text or binary for CSV/JSON, binary for XLSX).
    CSV is UTF-8 with a header of every column in ``COLUMNS`` order.
    """
    fmt = fmt.lower()
    records = [_record_of(row) for row in rows]
    if fmt == "xlsx":
        _write_xlsx(records, file)
        return
    if fmt == "csv":
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for record in records:
            writer.writerow([_cell_text(record.get(c)) for c in COLUMNS])
        text = out.getvalue()
    elif fmt == "json":
        items = [{c: v for c, v in record.items() if v is not None} for record in records]
        text = json.dumps({"items": items}, ensure_ascii=False, indent=2) + "\n"
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


def _record_of(row: ItemRow) -> dict[str, Any]:
    """Column -> value (None where the cell stays empty)."""
    record: dict[str, Any] = dict.fromkeys(COLUMNS)
    record.update(item_id=row.item_id, section=row.section, model=row.model, a=row.a, stem=row.stem)
    if row.model in POLYTOMOUS:
        for column, t in zip(THRESHOLD_COLUMNS, row.thresholds, strict=False):
            record[column] = t
        for column, score in zip(SCORE_COLUMNS, row.option_scores or (), strict=False):
            record[column] = score
    else:
        record.update(b=row.b, c=row.c, d=row.d, key=row.key)
    for column, option in zip(OPTION_COLUMNS, row.options, strict=False):
        record[column] = option
    record.update(status=row.status, enemy_group=row.enemy_group, media=row.media)
    return record


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = repr(value)  # shortest text that reads back as the same float
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _write_xlsx(records: list[dict[str, Any]], file) -> None:
    try:
        import openpyxl
    except ImportError:
        name = (
            os.path.basename(os.fspath(file))
            if isinstance(file, str | os.PathLike)
            else "<item bank>"
        )
        raise _Problems(name).fail("XLSX support needs openpyxl (pip install openpyxl)") from None
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "items"
    sheet.append(list(COLUMNS))
    for record in records:
        sheet.append([record.get(c) for c in COLUMNS])
    for cells in sheet.iter_rows(min_row=2):  # "=..." is item text, never a formula
        for cell in cells:
            if cell.data_type == "f":
                cell.data_type = "s"
    workbook.save(file)
