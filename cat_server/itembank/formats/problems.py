"""BankFormatError: every problem of a bank file, each with its file, row and column.

Each problem's sentence is a ``Message``: an Indonesian msgid and its named values
(the file's own facts), worded when it is shown: in the page's language on a page
or in the API (admin/words.py), in English in the CLI and in ``str()``. The
English comes from the app's catalogue (cat_server/translations/en), read with
the standard library, so this package still needs no Flask.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_PROBLEMS = 50
TRANSLATIONS = Path(__file__).resolve().parents[2] / "translations"


class Message:
    """A problem's sentence: an Indonesian msgid with ``%(name)s`` values, worded at display.

    A value may itself be a Message (a part of the sentence), worded in the same language.
    """

    __slots__ = ("msgid", "values")

    def __init__(self, msgid: str, **values):
        self.msgid = msgid
        self.values = values

    def render(self, translate: Callable[[str], str] | None = None) -> str:
        """The sentence through ``translate`` (a gettext: msgid -> text); English by default."""
        translate = translate or english
        values = {
            k: v.render(translate) if isinstance(v, Message) else v for k, v in self.values.items()
        }
        text = translate(self.msgid)
        return text % values if values else text

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.values!r})"

    def __eq__(self, other) -> bool:
        if isinstance(other, Message):
            return (self.msgid, self.values) == (other.msgid, other.values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)


def _(msgid: str, **values) -> Message:
    """Mark a sentence for the catalogue (``pybabel extract`` finds ``_``); worded when shown."""
    return Message(msgid, **values)


@functools.cache
def _english_catalogue() -> gettext.NullTranslations:
    return gettext.translation("messages", TRANSLATIONS, languages=["en"], fallback=True)


def english(msgid: str) -> str:
    """The msgid's English from the app's catalogue (the msgid itself if it has none)."""
    return _english_catalogue().gettext(msgid)


@dataclass(frozen=True)
class BankFormatProblem:
    """One problem in a bank file; ``row`` and ``column`` are None when the whole file is meant.

    ``unit`` is how ``row`` is shown: "row" in CSV/XLSX (the header is row 1),
    "item" in JSON (1-based index in the item list).
    """

    file: str
    row: int | None
    column: str | None
    message: str  # English (the CLI's); given a Message, ``wording`` keeps it for ``text``
    unit: str = "row"
    wording: Message | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if isinstance(self.message, Message):
            object.__setattr__(self, "wording", self.message)
            object.__setattr__(self, "message", str(self.message))
        # A message may quote the file (a lone surrogate from JSON, say): keep it printable,
        # so the page and the terminal that show the problem list can always encode it.
        for name in ("file", "column", "message"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, _printable(value))

    def text(self, translate: Callable[[str], str] | None = None) -> str:
        """The sentence through ``translate`` (a gettext); English without one."""
        if self.wording is None:
            return self.message  # written in one language already (candidates' own)
        return _printable(self.wording.render(translate))

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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


class Problems:
    """Collects problems for one file; raises them all at the end."""

    def __init__(self, file: str, unit: str = "row"):
        self.file = file
        self.unit = unit
        self.errors: list[BankFormatProblem] = []
        self.count = 0

    def add(self, row: int | None, column: str | None, message: str | Message) -> None:
        self.count += 1
        if len(self.errors) < MAX_PROBLEMS:
            self.errors.append(BankFormatProblem(self.file, row, column, message, self.unit))

    def fail(self, message: str | Message) -> BankFormatError:
        """A problem with the whole file that stops reading at once."""
        self.add(None, None, message)
        return self.error()

    def error(self) -> BankFormatError:
        return BankFormatError(self.errors, self.count)

    def raise_if_any(self) -> None:
        if self.count:
            raise self.error()
