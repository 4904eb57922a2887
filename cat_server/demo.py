"""The demo centre: a bank, an SKD-style exam, one sitting of 40 seats, staff logins."""

from __future__ import annotations

import random
from pathlib import Path

from . import security
from .extensions import db
from .itembank.service import import_bank
from .models import Candidate, Exam, ExamSection, ItemBank, Seat, Sitting, User, audit

DEMO_BANK = Path(__file__).parent / "data" / "demo_bank.csv"
DEMO_BANK_NAME = "Bank Soal Demo SKD"
STAFF = {
    "admin": ("admin", "Administrator UPT", "admin-demo"),
    "pengawas": ("proctor", "Pengawas Demo", "pengawas-demo"),
}
FIRST = [
    "Budi",
    "Siti",
    "Agus",
    "Dewi",
    "Rizki",
    "Putri",
    "Andi",
    "Nur",
    "Fajar",
    "Rina",
    "Hendra",
    "Wulan",
    "Yusuf",
    "Ayu",
    "Dimas",
    "Lestari",
    "Bayu",
    "Indah",
    "Eko",
    "Sri",
]
LAST = [
    "Santoso",
    "Rahmawati",
    "Saputra",
    "Lestari",
    "Hidayat",
    "Wijaya",
    "Kurniawan",
    "Purnamasari",
    "Nugroho",
    "Siregar",
    "Harahap",
    "Pratama",
    "Maharani",
    "Simanjuntak",
]


def demo_candidates(n_seats: int = 40, prefix: str = "2026"):
    """Deterministic candidates and PINs, so the demo prints the same slips every run."""
    rng = random.Random(int(prefix))
    for i in range(1, n_seats + 1):
        yield {
            "registration_no": f"{prefix}{i:08d}",
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "birth_date": f"199{rng.randrange(10)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            "seat": f"PC-{i:02d}",
            "pin": f"{rng.randrange(10**6):06d}",
        }


BLUEPRINTS = {
    # SKD as BKN runs it: 110 items in 100 minutes, free navigation, each section must pass
    "Sesi Demo 1": dict(
        exam="Simulasi SKD CPNS (demo)",
        duration_s=100 * 60,
        seats=40,
        prefix="2026",
        sections=[
            dict(
                code="TWK",
                name="Tes Wawasan Kebangsaan",
                n_items=30,
                pass_mark=65,
                navigable=True,
                shuffle=True,
            ),
            dict(
                code="TIU",
                name="Tes Intelegensia Umum",
                n_items=35,
                pass_mark=80,
                navigable=True,
                shuffle=True,
            ),
            dict(
                code="TKP",
                name="Tes Karakteristik Pribadi",
                n_items=45,
                pass_mark=166,
                navigable=True,
                shuffle=True,
            ),
        ],
    ),
    # An adaptive competency test: SE <= 0.3, 15-40 items, balanced over TWK and TIU
    "Sesi Demo 2": dict(
        exam="Tes Kompetensi Adaptif (demo)",
        duration_s=60 * 60,
        seats=10,
        prefix="2027",
        sections=[
            dict(
                code="TWK,TIU",
                name="Kompetensi Dasar (adaptif)",
                mode="adaptive",
                n_items=40,
                min_items=15,
                se_target=0.3,
                pass_mark=50,
                content={"TWK": [5, 25], "TIU": [5, 25]},
            ),
        ],
    ),
}


def seed_demo() -> list[Sitting]:
    """Create the demo centre once; later runs find it and change nothing."""
    existing = (
        db.session.execute(
            db.select(Sitting).where(Sitting.name.in_(BLUEPRINTS)).order_by(Sitting.id)
        )
        .scalars()
        .all()
    )
    if existing:
        return existing
    bank = db.session.execute(
        db.select(ItemBank).where(ItemBank.name == DEMO_BANK_NAME)
    ).scalars().first() or import_bank(DEMO_BANK, DEMO_BANK_NAME, actor="demo")
    users = {}
    for username, (role, name, password) in STAFF.items():
        user = db.session.execute(
            db.select(User).where(User.username == username)
        ).scalar_one_or_none()
        if user is None:
            user = User(
                username=username,
                role=role,
                name=name,
                password_hash=security.hash_password(password),
            )
            db.session.add(user)
        users[username] = user
    sittings = []
    for sitting_name, blueprint in BLUEPRINTS.items():
        exam = Exam(name=blueprint["exam"], bank=bank, duration_s=blueprint["duration_s"])
        for position, section in enumerate(blueprint["sections"], start=1):
            exam.sections.append(ExamSection(position=position, **section))
        sitting = Sitting(exam=exam, name=sitting_name, room="Ruang Ujian 1", status="open")
        sitting.proctors.append(users["pengawas"])
        db.session.add(sitting)
        db.session.flush()
        for position, row in enumerate(
            demo_candidates(blueprint["seats"], blueprint["prefix"]), start=1
        ):
            seat = Seat(sitting_id=sitting.id, label=row["seat"], position=position)
            db.session.add(seat)
            db.session.flush()
            db.session.add(
                Candidate(
                    sitting_id=sitting.id,
                    registration_no=row["registration_no"],
                    name=row["name"],
                    birth_date=row["birth_date"],
                    pin_hash=security.hash_pin(row["pin"]),
                    seat_id=seat.id,
                )
            )
        audit("demo", "sitting_created", sitting_id=sitting.id)
        sittings.append(sitting)
    db.session.commit()
    return sittings
