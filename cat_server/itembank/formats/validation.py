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
from .problems import Message, Problems, _


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
                    (
                        _(
                            "item_id %(id)s ganda: baris %(first)s sudah memakai %(first_id)s",
                            id=repr(item_id),
                            first=first,
                            first_id=repr(first_id),
                        )
                        if problems.unit == "row"
                        else _(
                            "item_id %(id)s ganda: soal %(first)s sudah memakai %(first_id)s",
                            id=repr(item_id),
                            first=first,
                            first_id=repr(first_id),
                        )
                    ),
                )
            else:
                first_row_of[folded] = (number, item_id)
        if item is not None:
            items.append(item)
    return items


def validate_item(row: int, values: dict[str, Any], problems: Problems) -> ItemRow | None:
    """One item checked against every rule; None (with problems added) when it fails any."""
    before = problems.count

    def bad(column: str | None, message: Message) -> None:
        problems.add(row, column, message)

    text = {c: text_cell(row, c, values.get(c), problems) for c in _TEXT_COLUMNS}

    item_id = text["item_id"]
    if not item_id:
        bad("item_id", _("item_id wajib diisi"))
    elif len(item_id) > MAX_ID_LENGTH or re.search(r"\s", item_id):
        bad(
            "item_id",
            _(
                "item_id harus 1-%(max)s karakter tanpa spasi, ditemukan %(value)s",
                max=MAX_ID_LENGTH,
                value=repr(item_id),
            ),
        )
    section = text["section"]
    if not section:
        bad("section", section_required())
    for column, limit in MAX_LENGTHS.items():
        if len(text[column]) > limit:
            bad(
                column,
                _(
                    "%(column)s paling banyak %(limit)s karakter, ditemukan %(n)s",
                    column=column,
                    limit=limit,
                    n=len(text[column]),
                ),
            )

    model = text["model"].lower()
    if model not in MODELS:
        bad(
            "model",
            _(
                "diharapkan salah satu dari %(choices)s, ditemukan %(value)s",
                choices=", ".join(MODELS),
                value=repr(text["model"]),
            ),
        )
        model = ""

    stem = text["stem"]
    if not stem:
        bad("stem", _("stem (teks soal) wajib diisi"))

    option_texts = [text[c] for c in OPTION_COLUMNS]
    n_options = 0
    for i, value in enumerate(option_texts):
        if value:
            if i > n_options:
                bad(
                    OPTION_COLUMNS[i],
                    _(
                        "pilihan harus diisi berurutan dari A tanpa celah: %(column)s kosong",
                        column=OPTION_COLUMNS[n_options],
                    ),
                )
            n_options = i + 1
    options = tuple(v for v in option_texts if v)
    if len(options) < 2:
        bad(
            "option_b" if option_texts[0] else "option_a",
            _("soal butuh paling sedikit dua pilihan"),
        )
    seen_options: dict[str, str] = {}
    for i, value in enumerate(option_texts):
        if value and value in seen_options:
            bad(
                OPTION_COLUMNS[i],
                _("teksnya sama dengan pilihan %(letter)s", letter=seen_options[value]),
            )
        elif value:
            seen_options[value] = LETTERS[i]

    status = text["status"].lower() or "active"
    if status not in STATUSES:
        bad(
            "status",
            _(
                "diharapkan salah satu dari %(choices)s (atau kosong untuk active), "
                "ditemukan %(value)s",
                choices=", ".join(STATUSES),
                value=repr(text["status"]),
            ),
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
            bad("a", _("a (daya beda) wajib diisi untuk soal %(model)s", model=model))
        b = num["b"]
        if b is None and is_blank(values.get("b")):
            bad("b", _("b (tingkat kesulitan) wajib diisi untuk soal %(model)s", model=model))
        c = _default(num["c"], 0.0)
        d = _default(num["d"], 1.0)
        if model in ("1pl", "2pl") and c not in (None, 0.0):
            bad(
                "c",
                _("c hanya untuk soal 3pl dan 4pl; kosongkan untuk %(model)s", model=model),
            )
        if model != "4pl" and d not in (None, 1.0):
            bad("d", _("d hanya untuk soal 4pl; kosongkan untuk %(model)s", model=model))
        for column, value in zip(
            THRESHOLD_COLUMNS, _values_of(values, THRESHOLD_COLUMNS), strict=True
        ):
            if not is_blank(value):
                bad(
                    column,
                    _(
                        "ambang b1..b%(k)s untuk grm/gpcm; soal %(model)s memakai b",
                        k=MAX_THRESHOLDS,
                        model=model,
                    ),
                )
        for column, value in zip(SCORE_COLUMNS, _values_of(values, SCORE_COLUMNS), strict=True):
            if not is_blank(value):
                bad(
                    column,
                    _(
                        "skor pilihan untuk soal grm/gpcm; soal %(model)s memakai key",
                        model=model,
                    ),
                )
        if not key_text:
            bad(
                "key",
                _(
                    "key wajib diisi untuk soal %(model)s: salah satu A..E yang menunjuk "
                    "pilihan yang terisi",
                    model=model,
                ),
            )
        elif len(key_text) == 1 and key_text in LETTERS and option_texts[LETTERS.index(key_text)]:
            key = key_text
        else:
            bad(
                "key",
                _(
                    "diharapkan salah satu A..E yang menunjuk pilihan yang terisi, "
                    "ditemukan %(value)s",
                    value=repr(text["key"]),
                ),
            )
    elif model in POLYTOMOUS:
        a = num["a"]
        if a is None and is_blank(values.get("a")):
            bad("a", _("a (daya beda) wajib diisi untuk soal %(model)s", model=model))
        for column in ("b", "c", "d"):
            if not is_blank(values.get(column)):
                bad(
                    column,
                    _(
                        "%(column)s untuk soal dikotomus; soal %(model)s memakai ambang b1..bk",
                        column=column,
                        model=model,
                    ),
                )
        if key_text:
            bad(
                "key",
                _(
                    "key untuk soal dikotomus; soal %(model)s memakai score_a..score_e",
                    model=model,
                ),
            )
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
            bad(
                column,
                _(
                    "%(column)s harus dalam %(span)s, ditemukan %(value)s",
                    column=column,
                    span=span,
                    value=f"{value:g}",
                ),
            )
    if c is not None and d is not None and not c < d:
        bad(
            "d",
            _("c harus lebih kecil dari d, ditemukan c=%(c)s, d=%(d)s", c=f"{c:g}", d=f"{d:g}"),
        )

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


def section_required() -> Message:
    """The problem of an item without a section (QTI words it for its own place)."""
    return _("section wajib diisi (tag seperti TWK, TIU atau TKP)")


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
                bad(column, _("setiap pilihan yang terisi butuh skor 1 sampai 5"))
                ok = False
            elif score is None:
                ok = False  # reported by score_cell
            else:
                scores.append(score)
        elif not is_blank(raw):
            bad(column, _("ada skor untuk pilihan yang kosong"))
            ok = False
    if not ok or not scores:
        return None, 0
    used = set(scores)
    top = max(scores)
    missing = [s for s in range(1, top + 1) if s not in used]
    if top < 2:
        bad("score_a", _("skor harus memakai paling sedikit dua kategori (mis. 1 dan 2)"))
        return None, 0
    if missing:
        bad(
            "score_a",
            _(
                "skor harus memakai setiap nilai dari 1 sampai yang tertinggi (%(top)s); "
                "yang tidak ada: %(missing)s",
                top=top,
                missing=", ".join(map(str, missing)),
            ),
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
            _(
                "ambang harus diisi berurutan dari b1 tanpa celah (b%(last)s terisi)",
                last=last,
            ),
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
            _(
                "soal %(model)s berskor 1..%(top)s butuh %(expected)s ambang "
                "b1..b%(expected)s, ditemukan %(k)s",
                model=model,
                top=n_categories,
                expected=expected,
                k=k,
            ),
        )
        return ()
    if any(t is None for t in thresholds_raw[:k]):
        return ()  # non-numeric values already reported
    thresholds = tuple(thresholds_raw[:k])
    for i, t in enumerate(thresholds):
        if not -6.0 <= t <= 6.0:
            bad(
                THRESHOLD_COLUMNS[i],
                _("ambang harus dalam [-6, 6], ditemukan %(value)s", value=f"{t:g}"),
            )
            return ()
    for i in range(1, k):
        if not thresholds[i] > thresholds[i - 1]:
            bad(
                THRESHOLD_COLUMNS[i],
                _(
                    "ambang harus naik: b%(i)s=%(t)s tidak lebih besar dari b%(j)s=%(u)s",
                    i=i + 1,
                    t=f"{thresholds[i]:g}",
                    j=i,
                    u=f"{thresholds[i - 1]:g}",
                ),
            )
            return ()
    return thresholds


def _default(value: float | None, default: float | None) -> float | None:
    return default if value is None else value


def _in_range(x: float, low: float, high: float, low_open: bool, high_open: bool) -> bool:
    above = x > low if low_open else x >= low
    below = x < high if high_open else x <= high
    return above and below
