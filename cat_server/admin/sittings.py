"""Exams and sittings: create and schedule; the forms' problems (FormProblems) and gettext (``_``).

Candidates and their PINs: admin/candidates.py.
"""

from __future__ import annotations

from datetime import datetime

from flask import has_request_context
from flask_babel import gettext

from ..errors import MAX_ID, BadPayload, NotFound
from ..extensions import db
from ..localtime import format_local, zone_label
from ..models import (
    Exam,
    ExamSection,
    Item,
    ItemBank,
    Sitting,
    User,
    audit,
)
from ..sealed.release import SLOT_MARGIN, package_slots, slot_time_fits


class FormProblems(BadPayload):
    """A web form with problems; ``problems`` lists (field, message)."""

    status = 422
    code = "invalid_form"

    def __init__(self, problems):
        super().__init__("; ".join(m for _, m in problems), "; ".join(m for _, m in problems))
        self.problems = problems


def _(text: str, **values) -> str:
    """Translated on a page; the Indonesian source text in the CLI (no request, no locale)."""
    if has_request_context():
        return gettext(text, **values)
    return text % values if values else text


def need_reason(reason: str | None) -> str:
    """The reason, stripped; FormProblems when there is none (an audited change says why)."""
    reason = (reason or "").strip()
    if not reason:
        raise FormProblems([("reason", _("isi alasannya (dicatat di log audit)"))])
    return reason


# --- exams ----------------------------------------------------------------


def parse_sections(text: str) -> list[tuple[str, str, int, int | None, int | None]]:
    """Blueprint lines ``CODE, name, n_items[, pass_mark[, minutes]]``, one section a line.

    ``minutes`` is the section's own time limit (empty: the whole exam's time only).
    """
    sections, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (3, 4, 5) or not parts[0] or not parts[1]:
            problems.append(
                (
                    "sections",
                    _(
                        "baris %(n)s: harus 'KODE, nama, jumlah soal[, nilai ambang[, menit]]', "
                        "tertulis %(line)s",
                        n=number,
                        line=repr(line.strip()),
                    ),
                )
            )
            continue
        try:
            n_items = int(parts[2])
            pass_mark = int(parts[3]) if len(parts) >= 4 and parts[3] else None
            minutes = int(parts[4]) if len(parts) == 5 and parts[4] else None
        except ValueError:
            problems.append(
                (
                    "sections",
                    _(
                        "baris %(n)s: jumlah soal, nilai ambang dan menit harus bilangan bulat, "
                        "tertulis %(line)s",
                        n=number,
                        line=repr(line.strip()),
                    ),
                )
            )
            continue
        if any(v is not None and abs(v) > MAX_ID for v in (n_items, pass_mark, minutes)):
            problems.append(
                (
                    "sections",
                    _(
                        "baris %(n)s: angka terlalu besar, tertulis %(line)s",
                        n=number,
                        line=repr(line),
                    ),
                )
            )
            continue
        if n_items < 1:
            problems.append(("sections", _("baris %(n)s: jumlah soal paling sedikit 1", n=number)))
            continue
        if minutes is not None and minutes < 1:
            problems.append(
                (
                    "sections",
                    _(
                        "baris %(n)s: menit paling sedikit 1 (kosongkan bila hanya memakai "
                        "waktu seluruh ujian)",
                        n=number,
                    ),
                )
            )
            continue
        sections.append((parts[0], parts[1], n_items, pass_mark, minutes))
    if not sections and not problems:
        problems.append(("sections", _("beri paling sedikit satu bagian")))
    if problems:
        raise FormProblems(problems)
    return sections


MAX_EXAM_MINUTES = 24 * 60  # an exam of a day at most (duration_s must fit its column)


def create_exam(
    name: str,
    bank_id: int,
    duration_min: int,
    sections_text: str,
    pass_total: int | None,
    actor: str,
) -> Exam:
    """An exam blueprint over one bank version; every section must have enough active items."""
    problems = []
    if not name.strip():
        problems.append(("name", _("beri nama ujian")))
    bank = db.session.get(ItemBank, bank_id) if bank_id else None
    if bank is None:
        problems.append(("bank_id", _("pilih versi bank soal")))
    if duration_min is None or not 1 <= duration_min <= MAX_EXAM_MINUTES:
        problems.append(
            (
                "duration_min",
                _(
                    "durasi harus bilangan bulat menit, 1 sampai %(max)s",
                    max=MAX_EXAM_MINUTES,
                ),
            )
        )
    try:
        sections = parse_sections(sections_text)
    except FormProblems as error:
        problems += error.problems
        sections = []
    if bank is not None:
        section_of_group: dict[str, str] = {}
        for code, _name, n_items, _mark, minutes in sections:
            if minutes is not None and duration_min is not None and minutes > duration_min:
                problems.append(
                    (
                        "sections",
                        _(
                            "bagian %(code)s: %(minutes)s menit melebihi waktu ujian %(total)s",
                            code=code,
                            minutes=minutes,
                            total=duration_min,
                        ),
                    )
                )
            groups = (
                db.session.execute(
                    db.select(Item.enemy_group).where(
                        Item.bank_id == bank.id, Item.section == code, Item.status == "active"
                    )
                )
                .scalars()
                .all()
            )
            # one item of each enemy group per attempt (exam.catalog.without_enemies)
            fit = sum(1 for g in groups if not g) + len({g for g in groups if g})
            for group in sorted({g for g in groups if g}):
                other = section_of_group.setdefault(group, code)
                if other != code:
                    problems.append(
                        (
                            "sections",
                            _(
                                "kelompok musuh %(group)s ada di bagian %(a)s dan %(b)s: satu "
                                "peserta bisa mendapat keduanya; pindahkan ke satu bagian",
                                group=repr(group),
                                a=other,
                                b=code,
                            ),
                        )
                    )
            if len(groups) < n_items:
                problems.append(
                    (
                        "sections",
                        _(
                            "bagian %(code)s: %(n)s soal diminta, bank punya %(have)s soal "
                            "aktif %(code)s",
                            code=code,
                            n=n_items,
                            have=len(groups),
                        ),
                    )
                )
            elif fit < n_items:
                problems.append(
                    (
                        "sections",
                        _(
                            "bagian %(code)s: %(n)s soal diminta, tetapi hanya %(fit)s dari "
                            "%(have)s soal aktif %(code)s bisa bersama dalam satu ujian (satu "
                            "soal per kelompok musuh)",
                            code=code,
                            n=n_items,
                            fit=fit,
                            have=len(groups),
                        ),
                    )
                )
    if problems:
        raise FormProblems(problems)
    exam = Exam(
        name=name.strip(), bank_id=bank.id, duration_s=duration_min * 60, pass_total=pass_total
    )
    for position, (code, sname, n_items, pass_mark, minutes) in enumerate(sections, start=1):
        exam.sections.append(
            ExamSection(
                position=position,
                code=code,
                name=sname,
                n_items=n_items,
                pass_mark=pass_mark,
                time_limit_min=minutes,
            )
        )
    db.session.add(exam)
    db.session.flush()
    audit(actor, "exam_created", exam_id=exam.id, name=exam.name, bank_id=bank.id)
    db.session.commit()
    return exam


# --- sittings -------------------------------------------------------------


def create_sitting(
    exam_id: int,
    name: str,
    room: str,
    scheduled_at: datetime | None,
    proctor_ids: list[int],
    actor: str,
    slot: str | None = None,
) -> Sitting:
    """Schedule a sitting; one of a sealed package's exam names the package's slot (``slot``)."""
    problems = []
    exam = db.session.get(Exam, exam_id) if exam_id else None
    if exam is None:
        problems.append(("exam_id", _("pilih ujian")))
    if not name.strip():
        problems.append(("name", _("beri nama sesi")))
    if scheduled_at is None:
        problems.append(
            (
                "scheduled_at",
                _("isi tanggal dan jam (YYYY-MM-DD HH:MM, %(zone)s)", zone=zone_label()),
            )
        )
    proctors = [db.session.get(User, i) for i in proctor_ids]
    if any(p is None or p.role != "proctor" for p in proctors):
        problems.append(("proctors", _("pengawas yang dipilih tidak dikenal")))
    if problems:
        raise FormProblems(problems)
    sitting = Sitting(exam=exam, name=name.strip(), room=room.strip(), scheduled_at=scheduled_at)
    slots = package_slots(exam.id)
    if slots is not None and slot not in slots:
        raise FormProblems(
            [
                (
                    "package_slot",
                    _(
                        "ujian ini dari paket tersegel: sebutkan salah satu slotnya, %(slots)s",
                        slots=", ".join(slots),
                    ),
                )
            ]
        )
    if slots is not None and not slot_time_fits(slots[slot], scheduled_at):
        why = _(
            "slot %(slot)s dimulai %(start)s: sesinya harus mulai dalam %(minutes)s menit "
            "dari waktu itu, bukan %(when)s",
            slot=slot,
            start=format_local(slots[slot]),
            minutes=int(SLOT_MARGIN.total_seconds() // 60),
            when=format_local(scheduled_at),
        )
        raise FormProblems([("package_slot", why)])
    if slots is None and slot:
        raise FormProblems(
            [
                (
                    "package_slot",
                    _("hanya ujian dari paket tersegel yang punya slot; kosongkan isian ini"),
                )
            ]
        )
    sitting.package_slot = slot
    sitting.proctors.extend(proctors)
    db.session.add(sitting)
    db.session.flush()
    audit(
        actor,
        "sitting_created",
        sitting_id=sitting.id,
        exam_id=exam.id,
        room=sitting.room,
        scheduled_at=scheduled_at.isoformat(),
        proctors=[p.username for p in proctors],
        slot=slot,
    )
    db.session.commit()
    return sitting


def get_sitting(sitting_id: int) -> Sitting:
    sitting = db.session.get(Sitting, sitting_id)
    if sitting is None:
        raise NotFound("Sesi ujian tidak ditemukan.", "Sitting not found.")
    return sitting
