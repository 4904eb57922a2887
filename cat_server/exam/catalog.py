"""What each process prepares once: cached items, exams, sections, pools and forms.

Items and sections never change once imported (a new import is a new bank
version), so these caches never go stale while the process lives. Reads only;
commits nothing and knows nothing of attempts' progress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flask import current_app

from .. import irt
from ..extensions import db
from ..itembank.service import sanitize_html
from ..models import Attempt, Exam, ExamSection, Item, Sitting


def _cache(name: str) -> dict:
    return current_app.extensions.setdefault(f"cat_{name}", {})


def cached_item(item_id: int) -> Item:
    cache = _cache("items")
    item = cache.get(item_id)
    if item is None:
        item = db.session.get(Item, item_id)
        db.session.expunge(item)
        cache[item_id] = item
    return item


def exam_sections(exam_id: int) -> list[ExamSection]:
    """The exam's sections in order, detached and cached."""
    cache = _cache("sections")
    if exam_id not in cache:
        sections = (
            db.session.execute(
                db.select(ExamSection)
                .where(ExamSection.exam_id == exam_id)
                .order_by(ExamSection.position)
            )
            .scalars()
            .all()
        )
        for section in sections:
            db.session.expunge(section)
        cache[exam_id] = sections
    return cache[exam_id]


def exam_id_of(attempt: Attempt) -> int:
    """The attempt's exam id: a sitting never changes its exam, so cached per process."""
    cache = _cache("sitting_exam")
    exam_id = cache.get(attempt.sitting_id)
    if exam_id is None:
        exam_id = cache[attempt.sitting_id] = db.session.execute(
            db.select(Sitting.exam_id).where(Sitting.id == attempt.sitting_id)
        ).scalar_one()
    return exam_id


def public_item(item_id: int) -> dict:
    """The item as a candidate's browser may see it, built once per process.

    The page renders stem and options as HTML, so they are sanitised again here
    with the importer's own rules: whatever wrote the row (an import, a script,
    a restored dump), no script or event handler reaches a workstation.
    """
    cache = _cache("public_items")
    public = cache.get(item_id)
    if public is None:
        public = cached_item(item_id).to_public()
        public["stem"] = sanitize_html(public["stem"])
        for option in public["options"]:
            option["text"] = sanitize_html(option["text"])
        cache[item_id] = public
    return public


def cached_exam(exam_id: int) -> Exam:
    cache = _cache("exams")
    if exam_id not in cache:
        exam = db.session.get(Exam, exam_id)
        db.session.expunge(exam)
        cache[exam_id] = exam
    return cache[exam_id]


def section_pool(exam: Exam, section: ExamSection) -> list[int]:
    """Active item ids of the section's tags in the exam's bank, in bank order."""
    cache = _cache("pools")
    if section.id not in cache:
        cache[section.id] = (
            db.session.execute(
                db.select(Item.id)
                .where(
                    Item.bank_id == exam.bank_id,
                    Item.section.in_(section.pool_tags),
                    Item.status == "active",
                )
                .order_by(Item.position)
            )
            .scalars()
            .all()
        )
    return cache[section.id]


@dataclass(frozen=True)
class AdaptivePool:
    """An adaptive section's engine bank, prepared once per process."""

    bank: irt.Bank
    item_ids: list[int]
    index: dict[int, int]  # item id -> bank index
    config: irt.CatConfig


def adaptive_pool(exam: Exam, section: ExamSection) -> AdaptivePool:
    cache = _cache("adaptive")
    if section.id not in cache:
        items = [cached_item(i) for i in section_pool(exam, section)]
        width = max((len(i.thresholds or []) for i in items), default=0)
        thresholds = None
        if width:
            thresholds = np.full((len(items), width), np.nan)
            for j, item in enumerate(items):
                if item.thresholds:
                    thresholds[j, : len(item.thresholds)] = item.thresholds
        bank = irt.prepare_bank(
            a=[i.a for i in items],
            b=[i.b if i.b is not None else 0.0 for i in items],
            c=[i.c for i in items],
            d=[i.d for i in items],
            model=[i.model for i in items],
            thresholds=thresholds,
            item_id=[str(i.id) for i in items],
            section=[i.section for i in items],
            enemy_group=[i.enemy_group for i in items],
        )
        content = None
        if section.content:
            content = {
                tag: tuple(v) if isinstance(v, list) else v for tag, v in section.content.items()
            }
        config = irt.CatConfig(
            min_length=section.min_items or 0,
            max_length=section.n_items,
            se_target=section.se_target,
            exposure="randomesque" if section.randomesque_k > 1 else "none",
            randomesque_k=section.randomesque_k,
            content=content,
        )
        ids = [i.id for i in items]
        cache[section.id] = AdaptivePool(bank, ids, {v: k for k, v in enumerate(ids)}, config)
    return cache[section.id]


def section_length(exam: Exam, section: ExamSection) -> int:
    """Items a candidate meets at most in the section (fixed: capped by the pool and enemy groups)."""
    if section.mode == "adaptive":
        return section.n_items
    return fixed_form_length(exam, section)


def exam_length(exam_id: int) -> int:
    cache = _cache("lengths")
    if exam_id not in cache:
        exam = cached_exam(exam_id)
        cache[exam_id] = sum(section_length(exam, s) for s in exam_sections(exam_id))
    return cache[exam_id]


def fixed_form(attempt: Attempt, exam: Exam, section: ExamSection) -> list[int]:
    """The attempt's items for a fixed section: the pool in bank order, or a shuffle of its own.

    At most one item of each enemy group: walking that order, an item whose
    group is already in the form is passed over (docs/formats.md).
    """
    pool = section_pool(exam, section)
    if section.shuffle:
        rng = np.random.default_rng([attempt.seed, section.id])
        pool = [pool[i] for i in rng.permutation(len(pool))]
    return without_enemies(pool)[: section.n_items]


def without_enemies(item_ids: list[int]) -> list[int]:
    """The items in order, each enemy group kept at its first item."""
    taken, kept = set(), []
    for item_id in item_ids:
        group = cached_item(item_id).enemy_group
        if group:
            if group in taken:
                continue
            taken.add(group)
        kept.append(item_id)
    return kept


def fixed_form_length(exam: Exam, section: ExamSection) -> int:
    """``len(fixed_form(...))`` without drawing the form: whatever the order, one item a group."""
    cache = _cache("form_lengths")
    if section.id not in cache:
        capacity = len(without_enemies(section_pool(exam, section)))
        cache[section.id] = min(section.n_items, capacity)
    return cache[section.id]


def engine_score(item: Item, choice: str) -> int:
    """The engine's category: 0/1 keyed, or the option's score shifted to start at 0."""
    if item.option_scores is not None:
        return int(item.option_scores[ord(choice) - ord("A")]) - min(item.option_scores)
    return int(choice == item.key)


def current_section(attempt: Attempt) -> ExamSection:
    return exam_sections(exam_id_of(attempt))[attempt.section_index - 1]
