"""Shared pieces of the sealed-package tests: an issuer, a centre, a bank and an exam to seal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from cat_server.extensions import db
from cat_server.models import Candidate, Seat, Sitting
from cat_server.sealed import keys
from tests.conftest import PIN, quick_hash

# every stem carries a word found nowhere else, so a scan for it means the item leaked
STEMS = {
    "TWK001": "Zamrud khatulistiwa sebutan untuk negeri apa?",
    "TWK002": "Semboyan Bhinneka Tunggal Ika berasal dari kitab karangan siapa?",
    "TWK003": "Lagu kebangsaan pertama kali diperdengarkan pada kongres tahun berapa?",
    "TIU001": "Deret kuarsa 2, 6, 18, 54: bilangan berikutnya?",
    "TIU002": "Jika semua gajah abu-abu dan Dumbo gajah, maka warna Dumbo?",
    "TIU003": "Sinonim kata pelik adalah?",
    "TIU004": "Antonim kata lazim adalah?",
}
KEYS = {"TWK001": "A", "TWK002": "B", "TWK003": "C", "TIU001": "D", "TIU002": "A",
        "TIU003": "B", "TIU004": "C"}  # fmt: skip


# each slot is bound to its start: S1 opens now (its release window is open for the tests),
# S2 three hours on; the offset is WIB's, as the issuer writes it
_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
STARTS = {
    "2026-12-07-S1": _NOW + timedelta(minutes=5),
    "2026-12-07-S2": _NOW + timedelta(hours=3),
}


def slot_arg(slot: str, start: datetime | None = None) -> str:
    """``--slot``'s value: the slot and its start with the WIB offset."""
    start = start or STARTS[slot]
    return f"{slot}={start.astimezone(timezone(timedelta(hours=7))).isoformat()}"


def bank_csv() -> str:
    lines = ["item_id,section,model,a,b,c,d,stem,option_a,option_b,option_c,option_d,key"]
    for n, (code, stem) in enumerate(STEMS.items()):
        section = code[:3]
        model, b, c = ("2pl", 0.1 * n, 0.0) if section == "TWK" else ("3pl", 0.3 * n - 1, 0.2)
        options = [f"pilihan {code} {x}" for x in "ABCD"]
        lines.append(
            f'{code},{section},{model},1.3,{b},{c},1,"{stem}",{",".join(options)},{KEYS[code]}'
        )
    return "\n".join(lines) + "\n"


def exam_document() -> dict:
    return {
        "format": "cat-server-exam",
        "version": 1,
        "name": "SKD Tersegel",
        "time": {"total_minutes": 30, "late_login": "full"},
        "result": "sections",
        "sections": [
            {
                "code": "TWK",
                "name": "Tes Wawasan Kebangsaan",
                "navigation": "linear",
                "selection": {"type": "pool", "n": 3},
                "scoring": {"points_correct": 5, "pass_mark": 10},
            },
            {
                "code": "TIU",
                "name": "Tes Intelegensia Umum",
                "navigation": "adaptive",
                "adaptive": {
                    "exposure": {"method": "none"},
                    "stopping": {"min_items": 4, "max_items": 4},
                },
            },
        ],
    }


def setup_keys(app, tmp_path):
    """A centre key, an issuer key (a file on the issuer's side) imported as the issuer's."""
    app.config.update(
        CENTRE_KEY=None,
        CENTRE_KEY_FILE=str(tmp_path / "centre" / "centre.pem"),
        ISSUER_KEY_FILE=str(tmp_path / "centre" / "issuer.pub"),
    )
    issuer = tmp_path / "issuer" / "issuer.pem"
    with app.app_context():
        keys.write_private_key(keys.centre_key_path())
        key = keys.write_private_key(issuer)
        (tmp_path / "issuer" / "issuer.pub").write_bytes(keys.public_pem(key.public_key()))
        keys.import_issuer_key(tmp_path / "issuer" / "issuer.pub")
    return issuer


def write_inputs(tmp_path, doc=None):
    (tmp_path / "issuer").mkdir(exist_ok=True)
    bank = tmp_path / "issuer" / "bank.csv"
    bank.write_text(bank_csv(), encoding="utf-8")
    exam = tmp_path / "issuer" / "exam.json"
    exam.write_text(json.dumps(doc or exam_document()), encoding="utf-8")
    return exam, bank


def build(
    runner, tmp_path, issuer, *, slots=("2026-12-07-S1", "2026-12-07-S2"), name="pkg", starts=None
):
    exam, bank = write_inputs(tmp_path)
    out = tmp_path / "issuer" / f"{name}.catpkg"
    args = ["package", "build", "--exam", str(exam), "--bank", str(bank)]
    args += ["--issuer-key", str(issuer), "--out", str(out), "--id", name.upper()]
    for slot in slots:
        args += ["--slot", slot_arg(slot, (starts or {}).get(slot))]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return out


def code_for(runner, package, issuer, slot="2026-12-07-S1") -> str:
    args = ["package", "release-code", "--package", str(package), "--issuer-key", str(issuer)]
    result = runner.invoke(args=[*args, "--sitting", slot])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def schedule(exam_id: int, slot="2026-12-07-S1", n_candidates=1, proctor=None) -> int:
    """A sitting of the package's exam in ``slot``, check-in not yet open."""
    sitting = Sitting(exam_id=exam_id, name="Sesi Paket", room="Ruang 1", package_slot=slot)
    if proctor is not None:
        sitting.proctors.append(proctor)
    db.session.add(sitting)
    db.session.flush()
    for i in range(n_candidates):
        seat = Seat(sitting_id=sitting.id, label=f"PC-{i + 1:02d}", position=i + 1)
        db.session.add(seat)
        db.session.flush()
        db.session.add(
            Candidate(
                sitting_id=sitting.id,
                registration_no=f"2026{i + 1:04d}",
                name=f"Peserta {i + 1}",
                pin_hash=quick_hash(PIN),
                seat_id=seat.id,
            )
        )
    db.session.commit()
    return sitting.id


def secrets_in(text: bytes) -> list[str]:
    """The stems and options of the package found in ``text`` (bytes of a file, a dump, a page)."""
    found = [code for code, stem in STEMS.items() if stem.encode() in text]
    found += [f"{code} options" for code in STEMS if f"pilihan {code} A".encode() in text]
    return found


def database_bytes(app) -> bytes:
    """The whole database as stored: the SQLite file (and its WAL), or a pg_dump of it."""
    import subprocess
    from pathlib import Path

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        db.session.remove()
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        files = [path, Path(f"{path}-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    return subprocess.run(["pg_dump", plain], check=True, capture_output=True).stdout
