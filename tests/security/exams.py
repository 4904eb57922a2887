"""An SKD-like exam for the security tests: every item carries tokens we can look for.

Two navigable sections (TWK keyed, TKP option-scored) and an adaptive section.
Each stem and option text holds a random token, and every item parameter is a
7-decimal number, so a leak of an item (or of its parameters) anywhere in a
message or a page is found by searching for them.
"""

from __future__ import annotations

import secrets

import numpy as np

from cat_server import security
from cat_server.extensions import db
from cat_server.models import Candidate, Exam, ExamSection, Item, ItemBank, Seat, Sitting, utcnow
from tests.conftest import PIN

# What an item looks like in a candidate's message: nothing else (plus
# "media": "image" | "audio" for an item with media, never the file's name).
PUBLIC_ITEM_KEYS = {"id", "stem", "options"}
PUBLIC_MEDIA_KINDS = {"image", "audio"}
PUBLIC_OPTION_KEYS = {"label", "text"}


def _p(rng, low, high) -> float:
    """A parameter with 7 decimals: never equal to a time, count or score by chance."""
    return round(float(rng.uniform(low, high)), 7)


def build_skd_adaptive(
    n_candidates=2, duration_s=1800, status="open", proctor=None, candidate_names=None
) -> dict:
    """Make the sitting; return {"sitting": id, "tokens": {item id: token}, "params": set}."""
    rng = np.random.default_rng(2026)
    bank = ItemBank(name=f"Bank keamanan {secrets.token_hex(3)}", version=1)
    db.session.add(bank)
    db.session.flush()
    specs = []
    for j in range(4):  # the section takes 3: one TWK item is never presented
        specs.append(
            dict(
                code=f"TWK{j}",
                section="TWK",
                model="3pl",
                a=_p(rng, 0.8, 2.0),
                b=_p(rng, -2, 2),
                c=_p(rng, 0.1, 0.25),
                key="ABCDE"[(j + 2) % 5],
            )
        )
    for j in range(3):  # the section takes 2
        specs.append(
            dict(
                code=f"TKP{j}",
                section="TKP",
                model="gpcm",
                a=_p(rng, 0.8, 2.0),
                b=None,
                thresholds=sorted(_p(rng, -2, 2) for _ in range(4)),
                option_scores=[int(s) for s in rng.permutation([1, 2, 3, 4, 5])],
            )
        )
    for j in range(14):  # the adaptive section gives at most 4 of these
        specs.append(
            dict(
                code=f"TIU{j:02d}",
                section="TIU",
                model="2pl",
                a=_p(rng, 1.0, 2.2),
                b=_p(rng, -2, 2),
                key="ABCDE"[j % 5],
                enemy_group=None,
            )
        )
    tokens, params = {}, set()
    for position, spec in enumerate(specs, start=1):
        token = f"tok{secrets.token_hex(6)}"
        item = Item(
            bank_id=bank.id,
            position=position,
            stem=f"Soal {token} berapa?",
            options=[f"{token}-{label}" for label in "ABCDE"],
            # every other item has an image whose name holds the token (and
            # so would be found if a name ever reached a candidate)
            media=f"media/{token}-gambar.png" if position % 2 else None,
            **spec,
        )
        db.session.add(item)
        db.session.flush()
        tokens[item.id] = token
        for name in ("a", "b", "c"):
            value = spec.get(name)
            if value not in (None, 0.0, 1.0):
                params.add(value)
        params.update(spec.get("thresholds") or [])
    exam = Exam(name="SKD keamanan", bank_id=bank.id, duration_s=duration_s, show_result=True)
    exam.sections.extend(
        [
            ExamSection(
                position=1,
                code="TWK",
                name="Tes Wawasan Kebangsaan",
                n_items=3,
                navigable=True,
                pass_mark=5,
            ),
            ExamSection(
                position=2,
                code="TKP",
                name="Tes Karakteristik Pribadi",
                n_items=2,
                navigable=True,
                pass_mark=4,
            ),
            ExamSection(
                position=3,
                code="TIU",
                name="Tes Intelegensia Umum (adaptif)",
                mode="adaptive",
                n_items=4,
                min_items=4,
                randomesque_k=1,
            ),
        ]
    )
    sitting = Sitting(
        exam=exam,
        name="Sesi keamanan",
        room="R-Sec",
        status=status,
        started_at=utcnow() if status == "started" else None,
    )
    if proctor is not None:
        sitting.proctors.append(proctor)
    db.session.add(sitting)
    db.session.flush()
    names = candidate_names or [f"Peserta {i + 1}" for i in range(n_candidates)]
    for i, name in enumerate(names):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"S{i + 1:04d}",
                name=name,
                pin_hash=security.hash_pin(PIN),
                seat_id=seat.id,
            )
        )
    db.session.commit()
    return {"sitting": sitting.id, "tokens": tokens, "params": params}
