"""What a bank file holds: its columns, the IRT models and statuses, and ItemRow (one item)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from .problems import Message, _

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
MAX_ID_LENGTH = 64
#: The longest text these columns may hold: the sizes of their database columns (models.Item).
MAX_LENGTHS = {"section": 32, "enemy_group": 64, "media": 300}

# A record is one item as read, before validation: (row number, {column: raw value});
# raw values are str in CSV, and str/int/float/bool/None (or datetimes from XLSX) otherwise.
Record = tuple[int, dict[str, Any]]


def unknown_column_message(name: str, position: int | None = None) -> Message:
    close = difflib.get_close_matches(name, COLUMNS, n=1, cutoff=0.75)
    if close:
        hint = _("; maksud Anda %(column)s?", column=close[0])
    else:
        hint = _("; yang dikenal: %(columns)s", columns=", ".join(COLUMNS))
    if position:
        return _(
            "kolom %(name)s tidak dikenal (kolom ke-%(position)s di baris judul)%(hint)s",
            name=repr(name),
            position=position,
            hint=hint,
        )
    return _("kolom %(name)s tidak dikenal%(hint)s", name=repr(name), hint=hint)


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


def record_of(row: ItemRow) -> dict[str, Any]:
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
