"""A full room's signed result bundle: its size, and the time to make, verify and import it.

    .venv/bin/python -m benchmarks.result_bundle                 # 300 seats x 110 answers
    .venv/bin/python -m benchmarks.result_bundle --seats 80 --answers 50

Writes an ended sitting straight into a new SQLite database (``--seats``
finished attempts of one fixed section of ``--answers`` items, every response
chained under the chain key as the answer path writes it), then times
``results.build`` (query, centre-side chain check, signing), ``results.verify``
(offline) and ``national.import_bundle`` into a second database.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from cat_server import create_app
from cat_server.exam.chain import chain_hash, chain_key, genesis
from cat_server.extensions import db
from cat_server.models import (
    Attempt,
    Candidate,
    Exam,
    ExamSection,
    Item,
    ItemBank,
    Presentation,
    Response,
    Seat,
    Sitting,
    utcnow,
)
from cat_server.sealed import keys, national, results


def app_at(folder: Path, name: str):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{folder / (name + '.db')}",
            "SECRET_KEY": "benchmark",
            "BACKGROUND_TASKS": False,
            "SOCKETIO_ASYNC_MODE": "threading",
            "CENTRE_ID": name,
            "CENTRE_KEY_FILE": str(folder / name / "centre.pem"),
            "CENTRE_KEYS_DIR": str(folder / name / "centres"),
        }
    )
    with app.app_context():
        db.create_all()
    return app


def seed(n_seats: int, n_answers: int) -> int:
    bank = ItemBank(name="Bank", version=1)
    db.session.add(bank)
    db.session.flush()
    items = [
        Item(
            bank_id=bank.id,
            code=f"TWK{i:03d}",
            position=i,
            section="TWK",
            model="2pl",
            b=0.0,
            stem=f"Soal {i}",
            options=["a", "b", "c", "d", "e"],
            key="A",
        )
        for i in range(1, n_answers + 1)
    ]
    db.session.add_all(items)
    exam = Exam(name="SKD", bank_id=bank.id, duration_s=6000)
    section = ExamSection(position=1, code="TWK", name="TWK", n_items=n_answers, pass_mark=65)
    exam.sections.append(section)
    start = utcnow() - timedelta(hours=2)
    sitting = Sitting(exam=exam, name="Sesi", room="R1", status="ended", started_at=start)
    sitting.ended_at = start + timedelta(hours=1, minutes=40)
    db.session.add(sitting)
    db.session.flush()
    key = chain_key()
    for s in range(n_seats):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{s + 1:03d}", position=s + 1)
        candidate = Candidate(
            sitting_id=sitting.id, registration_no=f"R{s:05d}", name=f"P {s}", pin_hash="x"
        )
        db.session.add_all([seat, candidate])
        db.session.flush()
        candidate.seat_id = seat.id
        attempt = Attempt(
            sitting_id=sitting.id, candidate_id=candidate.id, status="finished", started_at=start
        )
        db.session.add(attempt)
        db.session.flush()
        prev, total = genesis(key, attempt.id, candidate.registration_no, sitting.id, exam.id), 0
        for n, item in enumerate(items, start=1):
            choice = "A" if (n + s) % 3 else "B"
            score = 5 if choice == "A" else 0
            at = start + timedelta(seconds=30 * n)
            digest = chain_hash(prev, attempt.id, n, item.id, choice, score, at, key=key)
            db.session.add(
                Presentation(attempt_id=attempt.id, seq=n, item_id=item.id, section_id=section.id)
            )
            db.session.add(
                Response(
                    attempt_id=attempt.id,
                    n=n,
                    seq=n,
                    item_id=item.id,
                    choice=choice,
                    score=score,
                    answered_at=at,
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev, total = digest, total + score
        attempt.chain_head, attempt.n_responses = prev, n_answers
        attempt.n_answered = attempt.n_items = n_answers
        attempt.total_score, attempt.section_scores = total, {"TWK": total}
        attempt.passed, attempt.finished_at = total >= 65, sitting.ended_at
        attempt.finish_reason = "completed"
    db.session.commit()
    return sitting.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=300)
    parser.add_argument("--answers", type=int, default=110)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        centre, office = app_at(folder, "UPT-BENCH"), app_at(folder, "national")
        with centre.app_context():
            sitting_id = seed(args.seats, args.answers)
            keys.write_private_key(keys.centre_key_path())
            t = time.perf_counter()
            data = results.build(sitting_id)
            build_s = time.perf_counter() - t
            (folder / "centre.pub").write_bytes(keys.public_pem(keys.centre_public_key()))
        t = time.perf_counter()
        checked = results.verify(data, "bundle")
        verify_s = time.perf_counter() - t
        assert checked.ok, checked.problems[:3]
        with office.app_context():
            national.trust_centre("UPT-BENCH", folder / "centre.pub")
            t = time.perf_counter()
            outcome = national.import_bundle(data, "bundle")
            import_s = time.perf_counter() - t
            assert outcome.n_rows == args.seats
        print(
            json.dumps(
                {
                    "seats": args.seats,
                    "answers_each": args.answers,
                    "bundle_mib": round(len(data) / 2**20, 2),
                    "build_s": round(build_s, 2),
                    "verify_s": round(verify_s, 2),
                    "import_s": round(import_s, 2),
                }
            )
        )


if __name__ == "__main__":
    main()
