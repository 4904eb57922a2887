"""One cell's value as text, a number or a score, whatever type the file gave it."""

from __future__ import annotations

import math
import re
from typing import Any

from .problems import Message, Problems, _


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a spreadsheet turns an id like 101 into 101.0
    return str(value)


def text_cell(row: int, column: str, value: Any, problems: Problems) -> str:
    if value is None or isinstance(value, str):
        text = (value or "").strip()
        if (bad := _bad_character(text)) is not None:
            problems.add(
                row,
                column,
                _("teks memuat %(what)s, yang tidak boleh ada di sel bank soal", what=bad),
            )
        return text
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        if hasattr(value, "isoformat"):
            problems.add(
                row,
                column,
                _(
                    "spreadsheet mengubah sel ini menjadi tanggal (%(value)s); "
                    "format kolomnya sebagai Teks",
                    value=str(value),
                ),
            )
        else:
            problems.add(row, column, _("diharapkan teks, ditemukan %(value)s", value=short(value)))
        # The row already fails; keeping the text avoids follow-on complaints about a gap.
        return str(value)
    return text_of(value)


def _bad_character(text: str) -> Message | None:
    """What makes ``text`` unstorable: a NUL (PostgreSQL refuses it) or half a UTF-16 pair."""
    if "\x00" in text:
        return _("karakter NUL (byte 0)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return _(
            "%(char)s (separuh pasangan surrogate UTF-16, bukan karakter)",
            char=repr(text[e.start]),
        )
    return None


def _finite(value: int | float) -> bool:
    return isinstance(value, int) or math.isfinite(value)


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def number_cell(row: int, column: str, value: Any, problems: Problems) -> float | None:
    """A finite number, or None if blank (or not a number, which is reported)."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        x = None
    elif isinstance(value, int | float):
        x = _float(value)
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
        problems.add(row, column, _("diharapkan angka, ditemukan %(value)s", value=short(value)))
        return None
    return x


def score_cell(row: int, column: str, value: Any, problems: Problems) -> int | None:
    """An integer score 1..5, or None if blank (or invalid, which is reported)."""
    if is_blank(value):
        return None
    x: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        x = _float(value)
    elif isinstance(value, str):
        try:
            x = float(value.strip())
        except ValueError:
            x = None
    if x is None or not math.isfinite(x) or not x.is_integer() or not 1 <= x <= 5:
        problems.add(
            row,
            column,
            _("diharapkan bilangan bulat 1 sampai 5, ditemukan %(value)s", value=short(value)),
        )
        return None
    return int(x)


def _float(value: int | float) -> float | None:
    """The value as a float; None for an int too large for one (JSON allows 10**400)."""
    try:
        return float(value)
    except OverflowError:
        return None


def short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
