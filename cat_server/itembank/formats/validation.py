"""The rules every item meets, whatever its file format: records in, ItemRow or problems out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .cells import is_blank, number_cell, score_cell, text_cell, text_of
from .columns import (
    DICHOTOMOUS,
    LETTERS,
    MAX_ID_LENGTH,
    MAX_LENGTHS,
    MAX_THRESHOLDS,
    MODELS,
    OPTION_COLUMNS,
    POLYTOMOUS,
    SCORE_COLUMNS,
    STATUSES,
    THRESHOLD_COLUMNS,
    ItemRow,
    Record,
)
from .problems import Problems


def validate_all(records: list[Record], problems: Problems) -> list[ItemRow]:
    items: list[ItemRow] = []
    first_row_of: dict[str, tuple[int, str]] = {}
    for number, values in records:
        item = validate_item(number, values, problems)
        item_id = text_of(values.get("item_id")).strip()
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


def validate_item(row: int, values: dict[str, Any], problems: Problems) -> ItemRow | None:
    """One item checked against every rule; None (with problems added) when it fails any."""
    before = problems.count

    def bad(column: str | None, message: str) -> None:
        problems.add(row, column, message)

    text = {c: text_cell(row, c, values.get(c), problems) for c in _TEXT_COLUMNS}

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
    for column, limit in MAX_LENGTHS.items():
        if len(text[column]) > limit:
            bad(column, f"{column} may have at most {limit} characters, got {len(text[column])}")

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

    num = {c: number_cell(row, c, values.get(c), problems) for c in ("a", "b", "c", "d")}
    thresholds_raw = [number_cell(row, c, values.get(c), problems) for c in THRESHOLD_COLUMNS]
    scores_raw = [score_cell(row, c, values.get(c), problems) for c in SCORE_COLUMNS]
    key_text = text["key"].upper()

    a = b = None
    c, d = 0.0, 1.0
    thresholds: tuple[float, ...] = ()
    key = None
    option_scores = None
    if model in DICHOTOMOUS:
        a = _default(num["a"], 1.0 if model == "1pl" else None)
        if a is None and is_blank(values.get("a")):
            bad("a", f"a (discrimination) is required for {model} items")
        b = num["b"]
        if b is None and is_blank(values.get("b")):
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
            if not is_blank(value):
                bad(
                    column,
                    f"thresholds b1..b{MAX_THRESHOLDS} are for grm/gpcm; {model} items use b",
                )
        for column, value in zip(SCORE_COLUMNS, _values_of(values, SCORE_COLUMNS), strict=True):
            if not is_blank(value):
                bad(column, f"option scores are for grm/gpcm items; {model} items use key")
        if not key_text:
            bad("key", f"key is required for {model} items: one of A..E naming a non-empty option")
        elif len(key_text) == 1 and key_text in LETTERS and option_texts[LETTERS.index(key_text)]:
            key = key_text
        else:
            bad("key", f"expected one of A..E naming a non-empty option, got {text['key']!r}")
    elif model in POLYTOMOUS:
        a = num["a"]
        if a is None and is_blank(values.get("a")):
            bad("a", f"a (discrimination) is required for {model} items")
        for column in ("b", "c", "d"):
            if not is_blank(values.get(column)):
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
            if is_blank(raw):
                bad(column, "each non-empty option needs a score from 1 to 5")
                ok = False
            elif score is None:
                ok = False  # reported by score_cell
            else:
                scores.append(score)
        elif not is_blank(raw):
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
    given = [not is_blank(v) for v in _values_of(values, THRESHOLD_COLUMNS)]
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
