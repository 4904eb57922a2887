"""What each process prepares once: cached items, exams, sections, pools and forms.

Sections never change once imported (a new import is a new bank version).
Items do, in two ways: retired (or brought back) and recalibrated. Each of
those moves the catalog version (:func:`move_version`, in the same commit),
and every process reads it where it newly chooses items (:func:`check_version`:
a section's first items, each adaptive pick), dropping its item caches when
it moved. On PostgreSQL the retire waits for the picks under way (an advisory
lock they share), so once it returns no process picks the old item again. A
running fixed section keeps the form it drew (``Attempt.form``). Commits
nothing and knows nothing of attempts' progress.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from flask import current_app

from .. import irt
from ..extensions import db
from ..itembank.inline import link_images
from ..itembank.service import sanitize_html
from ..models import Attempt, CatalogVersion, Exam, ExamSection, Item, Sitting
from ..sealed.release import open_sealed

# the caches that hold items or what is built from them (not exams, sections, sittings)
_ITEM_CACHES = ("items", "public_items", "pools", "adaptive", "lengths", "form_lengths")
_LOCK = 0x63617431  # the advisory lock of item changes ("cat1")
_VERSION = db.select(CatalogVersion.version).where(CatalogVersion.id == 1)


def _cache(name: str) -> dict:
    return current_app.extensions.setdefault(f"cat_{name}", {})


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def check_version() -> None:
    """Drop this process's item caches if an item was retired or recalibrated since.

    Called where items are newly chosen. On PostgreSQL it first takes the lock
    a retire takes alone, in its own statement, so the version it then reads
    is the retire's if one just committed.
    """
    if _postgresql():
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(_LOCK)))
    version = db.session.execute(_VERSION).scalar() or 0
    if current_app.extensions.get("cat_catalog_version") != version:
        for name in _ITEM_CACHES:
            current_app.extensions.pop(f"cat_{name}", None)
        current_app.extensions["cat_catalog_version"] = version


def move_version() -> None:
    """An item was retired or recalibrated: every process drops its item caches before its next pick.

    Part of the caller's transaction. On PostgreSQL it waits for the picks
    under way (their shared lock) and holds new ones until the commit.
    """
    if _postgresql():
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK)))
    moved = db.session.execute(
        sa.update(CatalogVersion)
        .where(CatalogVersion.id == 1)
        .values(version=CatalogVersion.version + 1)
    ).rowcount
    if not moved:  # a database made by create_all (tests, the demo): the row comes now
        db.session.add(CatalogVersion(id=1, version=1))


def cached_item(item_id: int) -> Item:
    cache = _cache("items")
    item = cache.get(item_id)
    if item is None:
        item = db.session.get(Item, item_id)
        db.session.expunge(item)
        # a sealed package's item: its content decrypted here, in memory only (NotReleased before)
        cache[item_id] = open_sealed(item)
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
    """The item as a candidate may see it, once per process; its HTML sanitised again (issue 19)."""
    cache = _cache("public_items")
    public = cache.get(item_id)
    if public is None:  # the page renders stem and options as HTML, whatever wrote the row
        public = cached_item(item_id).to_public()
        texts = [public["stem"], *(o["text"] for o in public["options"])]
        # an inline image is served by its place in the item, never by its path in the bank
        stem, *texts = link_images(item_id, [sanitize_html(text) for text in texts])
        options = [{**o, "text": text} for o, text in zip(public["options"], texts, strict=True)]
        public = {**public, "stem": stem, "options": options}
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
    """The section's active items, and its retired ones marked so the engine never picks them.

    Retired ones stay in the bank so that an attempt that answered one before
    it was retired still has its ability estimated from it. A section that
    seeds pretest items has the pool's pretest items too (the engine picks
    them only at an attempt's pretest slots).
    """
    cache = _cache("adaptive")
    if section.id not in cache:
        statuses = (
            ("active", "retired", "pretest") if section.pretest_items else ("active", "retired")
        )
        ids = (
            db.session.execute(
                db.select(Item.id)
                .where(
                    Item.bank_id == exam.bank_id,
                    Item.section.in_(section.pool_tags),
                    Item.status.in_(statuses),
                )
                .order_by(Item.position)
            )
            .scalars()
            .all()
        )
        items = [cached_item(i) for i in ids]
        ids = [i.id for i in items]
        cache[section.id] = AdaptivePool(
            engine_bank(items), ids, {v: k for k, v in enumerate(ids)}, engine_config(section, ids)
        )
    return cache[section.id]


def item_parameters(items: list[Item]) -> dict:
    """The engine's parameter arrays of ``items`` (in that order), thresholds NaN-padded."""
    width = max((len(i.thresholds or []) for i in items), default=0)
    thresholds = None
    if width:
        thresholds = np.full((len(items), width), np.nan)
        for j, item in enumerate(items):
            if item.thresholds:
                thresholds[j, : len(item.thresholds)] = item.thresholds
    return dict(
        a=[i.a for i in items],
        b=[i.b if i.b is not None else 0.0 for i in items],
        c=[i.c for i in items],
        d=[i.d for i in items],
        model=[i.model for i in items],
        thresholds=thresholds,
    )


def engine_bank(items: list[Item]) -> irt.Bank:
    """The engine's bank of ``items`` (in that order): parameters, tags, enemy groups."""
    return irt.prepare_bank(
        **item_parameters(items),
        item_id=[str(i.id) for i in items],
        section=[i.section for i in items],
        enemy_group=[i.enemy_group for i in items],
        status=[i.status for i in items],  # retired: scored, never picked again
    )


def engine_config(section: ExamSection, item_ids: list[int]) -> irt.CatConfig:
    """The engine's settings for an adaptive section whose pool is ``item_ids`` (in bank order).

    Sympson–Hetter: ``engine["sh_k"]`` holds each pool item's parameter (by item id),
    computed when the exam was saved (admin/exam_builder.py).
    """
    content = None
    if section.content:
        content = {
            tag: tuple(v) if isinstance(v, list) else v for tag, v in section.content.items()
        }
    engine = section.engine or {}
    classification = engine.get("classification") or {}
    exposure = "randomesque" if section.randomesque_k > 1 else "none"
    sh_k = None
    if engine.get("exposure") == "sympson-hetter" and engine.get("sh_k"):
        exposure = "sympson-hetter"
        sh_k = [float(engine["sh_k"].get(str(i), 1.0)) for i in item_ids]
    return irt.CatConfig(
        min_length=section.min_items or 0,
        max_length=section.n_items,
        se_target=section.se_target,
        exposure=exposure,
        randomesque_k=section.randomesque_k,
        sh_k=sh_k,
        content=content,
        prior_mean=float(engine.get("start_theta", 0.0)),
        selection=engine.get("selection", "mfi"),
        classification=classification.get("method"),
        cut=classification.get("cut"),
        pretest_max=section.pretest_items,
        # a number: at positions drawn per attempt; a rate: each item pretest with that chance
        pretest_rate=section.pretest_rate,
        pretest_spread=not section.pretest_rate,
    )


def section_length(exam: Exam, section: ExamSection) -> int:
    """Items a candidate meets at most in the section (fixed: capped by the pool and enemy groups)."""
    if section.mode == "adaptive":  # pretest items come on top, looking like any other
        return section.n_items + section.pretest_items
    return fixed_form_length(exam, section)


def exam_length(exam_id: int) -> int:
    cache = _cache("lengths")
    if exam_id not in cache:
        exam = cached_exam(exam_id)
        cache[exam_id] = sum(section_length(exam, s) for s in exam_sections(exam_id))
    return cache[exam_id]


def fixed_form(attempt: Attempt, exam: Exam, section: ExamSection) -> list[int]:
    """The attempt's items for its current fixed section: the form it drew when it began.

    An attempt from before forms were stored draws it again (:func:`draw_fixed_form`).
    """
    if attempt.form is not None and section.id == current_section(attempt).id:
        return attempt.form
    return draw_fixed_form(attempt, exam, section)


def draw_fixed_form(attempt: Attempt, exam: Exam, section: ExamSection) -> list[int]:
    """A fixed section's items from today's pool, as its ``selection`` says (docs/formats.md).

    The pool in bank order, or a shuffle of its own (``shuffle``): its first
    ``n_items``; n per tag of the pool; a fixed list; or one of parallel forms
    (drawn per attempt). At most one item of each enemy group: walking that
    order, an item whose group is already in the form is passed over.
    """
    choice = section.selection or {}
    kind = choice.get("type", "pool")
    rng = np.random.default_rng([attempt.seed, section.id])
    if kind == "per_tag":
        return _per_tag_form(exam, section, choice["counts"], rng)
    if kind in ("items", "forms"):
        form = (
            choice["items"]
            if kind == "items"
            else choice["forms"][rng.integers(len(choice["forms"]))]
        )
        if section.shuffle:
            form = [form[i] for i in rng.permutation(len(form))]
        return without_enemies(list(form))[: section.n_items]
    pool = section_pool(exam, section)
    if section.shuffle:
        pool = [pool[i] for i in rng.permutation(len(pool))]
    return without_enemies(pool)[: section.n_items]


def _per_tag_form(exam: Exam, section: ExamSection, counts: dict, rng) -> list[int]:
    """``counts[tag]`` items of each tag (random ones with ``shuffle``, else the first), then
    the whole form shuffled (``shuffle``) or tag after tag in the order of ``counts``."""
    pool = section_pool(exam, section)
    form, taken = [], set()
    for tag, n in counts.items():
        tagged = [i for i in pool if cached_item(i).section == tag]
        if section.shuffle:
            tagged = [tagged[i] for i in rng.permutation(len(tagged))]
        kept = [i for i in without_enemies(tagged) if cached_item(i).enemy_group not in taken]
        form += kept[:n]
        taken |= {cached_item(i).enemy_group for i in kept[:n]} - {None}
    if section.shuffle:
        form = [form[i] for i in rng.permutation(len(form))]
    return form


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
        choice = section.selection or {}
        kind = choice.get("type", "pool")
        if kind == "items":
            capacity = len(without_enemies(list(choice["items"])))
        elif kind == "forms":  # the builder checks that every form has this length
            capacity = min(len(without_enemies(list(f))) for f in choice["forms"])
        elif kind == "per_tag":
            pool = section_pool(exam, section)
            capacity = sum(
                min(n, len(without_enemies([i for i in pool if cached_item(i).section == tag])))
                for tag, n in choice["counts"].items()
            )
        else:
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
