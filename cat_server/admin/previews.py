"""Which items a whole-section preview shows: an exam section's, or one tag of a bank."""

from __future__ import annotations

from ..errors import MAX_ID, NotFound
from ..extensions import db
from ..models import Exam, ExamSection, Item, ItemBank
from ..sealed.release import Sealed, package_of_bank


def _unsealed(bank_id: int) -> None:
    """A sealed package's items stay unreadable here, as in the item preview (even once released)."""
    if package_of_bank(bank_id) is not None:
        raise Sealed()


def exam_section(exam_id: int, position: int) -> tuple[Exam, ExamSection]:
    """The exam and its section at ``position`` (1-based, the builder's order)."""
    exam = db.session.get(Exam, exam_id) if exam_id <= MAX_ID else None
    if exam is None or not 1 <= position <= len(exam.sections):
        raise NotFound()
    _unsealed(exam.bank_id)
    return exam, exam.sections[position - 1]


def _tagged(bank_id: int, tags: list[str], statuses: tuple[str, ...]) -> list[Item]:
    return (
        db.session.execute(
            db.select(Item)
            .where(Item.bank_id == bank_id, Item.section.in_(tags), Item.status.in_(statuses))
            .order_by(Item.position)
        )
        .scalars()
        .all()
    )


def section_forms(section: ExamSection) -> list[list[int]]:
    """A fixed section's parallel forms (item ids); empty for any other selection."""
    choice = section.selection or {}
    return list(choice.get("forms") or []) if choice.get("type") == "forms" else []


def section_items(exam: Exam, section: ExamSection, form: int = 1) -> list[Item]:
    """What the section may show a candidate, in bank order.

    Adaptive: its pool (active items, and the pretest items it seeds). Fixed:
    its listed items, the ``form``-th of its parallel forms (1-based), or its
    pool of active items (a candidate meets ``n_items`` of them).
    """
    choice = section.selection or {}
    kind = choice.get("type", "pool")
    if section.mode == "adaptive":
        statuses = ("active", "pretest") if section.pretest_items else ("active",)
        return _tagged(exam.bank_id, section.pool_tags, statuses)
    if kind in ("items", "forms"):
        forms = section_forms(section)
        if kind == "forms" and not 1 <= form <= len(forms):
            raise NotFound()
        ids = choice["items"] if kind == "items" else forms[form - 1]
        by_id = {
            i.id: i for i in db.session.execute(db.select(Item).where(Item.id.in_(ids))).scalars()
        }
        return [by_id[i] for i in ids if i in by_id]
    return _tagged(exam.bank_id, section.pool_tags, ("active",))


def bank_tag(bank_id: int, tag: str | None) -> tuple[ItemBank, list[Item]]:
    """A bank version and its items of ``tag`` (every item: None), in bank order, any status."""
    bank = db.session.get(ItemBank, bank_id) if bank_id <= MAX_ID else None
    if bank is None:
        raise NotFound()
    _unsealed(bank.id)
    items = [i for i in bank.items if tag is None or i.section == tag]
    if tag is not None and not items:
        raise NotFound()
    return bank, items
