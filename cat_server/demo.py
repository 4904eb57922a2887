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
STAFF = {"admin": ("admin", "Administrator UPT", "admin-demo"),
         "pengawas": ("proctor", "Pengawas Demo", "pengawas-demo")}
FIRST = ["Budi", "Siti", "Agus", "Dewi", "Rizki", "Putri", "Andi", "Nur", "Fajar", "Rina",
         "Hendra", "Wulan", "Yusuf", "Ayu", "Dimas", "Lestari", "Bayu", "Indah", "Eko", "Sri"]
LAST = ["Santoso", "Rahmawati", "Saputra", "Lestari", "Hidayat", "Wijaya", "Kurniawan",
        "Purnamasari", "Nugroho", "Siregar", "Harahap", "Pratama", "Maharani", "Simanjuntak"]


def demo_candidates(n_seats: int = 40):
    """Deterministic candidates and PINs, so the demo prints the same slips every run."""
    rng = random.Random(2026)
    for i in range(1, n_seats + 1):
        yield {
            "registration_no": f"2026{i:08d}",
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "birth_date": f"199{rng.randrange(10)}-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
            "seat": f"PC-{i:02d}",
            "pin": f"{rng.randrange(10**6):06d}",
        }


def seed_demo(n_seats: int = 40) -> Sitting:
    """Create the demo data once; later runs find it and change nothing."""
    sitting = db.session.execute(
        db.select(Sitting).where(Sitting.name == "Sesi Demo 1")
    ).scalar_one_or_none()
    if sitting is not None:
        return sitting
    bank = db.session.execute(
        db.select(ItemBank).where(ItemBank.name == DEMO_BANK_NAME)
    ).scalars().first() or import_bank(DEMO_BANK, DEMO_BANK_NAME, actor="demo")
    users = {}
    for username, (role, name, password) in STAFF.items():
        user = db.session.execute(
            db.select(User).where(User.username == username)
        ).scalar_one_or_none()
        if user is None:
            user = User(username=username, role=role, name=name,
                        password_hash=security.hash_password(password))
            db.session.add(user)
        users[username] = user
    exam = Exam(name="Simulasi SKD (demo)", bank=bank, duration_s=20 * 60, pass_total=None)
    for position, (code, name, n, mark) in enumerate([
        ("TWK", "Tes Wawasan Kebangsaan", 5, 15),
        ("TIU", "Tes Intelegensia Umum", 5, 15),
        ("TKP", "Tes Karakteristik Pribadi", 5, 15),
    ], start=1):
        exam.sections.append(ExamSection(position=position, code=code, name=name, n_items=n,
                                         pass_mark=mark, points_correct=5))
    sitting = Sitting(exam=exam, name="Sesi Demo 1", room="Ruang Ujian 1")
    sitting.proctors.append(users["pengawas"])
    db.session.add(sitting)
    db.session.flush()
    for position, row in enumerate(demo_candidates(n_seats), start=1):
        seat = Seat(sitting_id=sitting.id, label=row["seat"], position=position)
        db.session.add(seat)
        db.session.flush()
        db.session.add(Candidate(sitting_id=sitting.id, registration_no=row["registration_no"],
                                 name=row["name"], birth_date=row["birth_date"],
                                 pin_hash=security.hash_pin(row["pin"]), seat_id=seat.id))
    audit("demo", "sitting_created", sitting_id=sitting.id)
    db.session.commit()
    return sitting
