"""Item bank rules: import a validated file as a new bank version, all or nothing."""

from __future__ import annotations

from ..extensions import db
from ..models import Item, ItemBank, audit
from .formats import read_bank


def import_bank(path, name: str, actor: str = "cli") -> ItemBank:
    """Validate the whole file first (BankFormatError lists every problem), then write it all.

    A bank with the same name becomes a new version; nothing is overwritten.
    """
    rows = read_bank(path)
    latest = db.session.execute(
        db.select(db.func.max(ItemBank.version)).where(ItemBank.name == name)
    ).scalar()
    bank = ItemBank(name=name, version=(latest or 0) + 1, source_filename=str(path))
    db.session.add(bank)
    db.session.flush()
    db.session.add_all(
        Item(
            bank_id=bank.id,
            code=row.item_id,
            position=position,
            section=row.section,
            model=row.model,
            a=row.a,
            b=row.b,
            c=row.c,
            d=row.d,
            thresholds=list(row.thresholds) or None,
            stem=row.stem,
            options=list(row.options),
            key=row.key,
            option_scores=list(row.option_scores) if row.option_scores else None,
            status=row.status,
            enemy_group=row.enemy_group,
            media=row.media,
        )
        for position, row in enumerate(rows, start=1)
    )
    audit(actor, "bank_imported", name=name, version=bank.version, items=len(rows))
    db.session.commit()
    return bank
