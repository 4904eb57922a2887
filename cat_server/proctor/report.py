"""The incident report of a sitting: every proctor action, extension and incident note."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _

from ..extensions import db
from ..localtime import iso_local
from ..models import Attempt, AuditEvent, Candidate, Incident, Seat, User
from ..spreadsheet import safe_cell

COLUMNS = ["at", "kind", "what", "who", "seat", "registration_no", "candidate", "reason", "detail"]
# audit actions a proctor (or admin) took on the sitting; candidates' and the server's are left out
LABELS = {
    "sitting_started": "start sitting",
    "sitting_paused": "pause sitting",
    "sitting_resumed": "resume sitting",
    "sitting_extended": "extend sitting",
    "sitting_ended": "end sitting",
    "attempt_paused": "pause seat",
    "attempt_resumed": "resume seat",
    "time_extended": "extend time",
    "attempt_ended": "end attempt",
    "seat_moved": "seat move",
    "pin_reset": "reset PIN",
    "session_ended": "end login",
    "pins_reset": "reset PINs",
    "board_configured": "score board",
    "help_acknowledged": "help call answered",
    "flag_acknowledged": "flag checked",
}
DETAIL_KEYS = (
    "minutes",
    "paused_s",
    "attempts",
    "old_seat",
    "new_seat",
    "enabled",
    "fields",
    "flag",
)


def report_rows(sitting_id: int) -> list[dict]:
    """Time-ordered rows: staff actions from the audit log, then incident notes merged in."""
    users = {f"user:{u.id}": u.username for u in db.session.execute(db.select(User)).scalars()}
    people = {}
    for candidate, label, attempt_id in db.session.execute(
        db.select(Candidate, Seat.label, Attempt.id)
        .outerjoin(Seat, Candidate.seat_id == Seat.id)
        .outerjoin(Attempt, Attempt.candidate_id == Candidate.id)
        .where(Candidate.sitting_id == sitting_id)
    ):
        person = (label or "", candidate.registration_no, candidate.name)
        people[("c", candidate.id)] = person
        if attempt_id is not None:
            people[("a", attempt_id)] = person
    rows = []
    events = db.session.execute(
        db.select(AuditEvent)
        .where(AuditEvent.sitting_id == sitting_id, AuditEvent.action.in_(LABELS))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).scalars()
    for event in events:
        data = event.data or {}
        if event.action == "attempt_paused" and data.get("by") == "sitting":
            continue  # the sitting's own row says it; one row per seat would drown the report
        if event.action in ("attempt_resumed", "time_extended", "attempt_ended") and (
            data.get("by") == "sitting"
        ):
            continue
        person = people.get(("a", event.attempt_id)) or people.get(("c", data.get("candidate")))
        seat, reg, name = person or ("", "", "")
        if event.action == "seat_moved":
            seat = data.get("new_seat") or seat
        rows.append(
            {
                "at": event.at,
                "kind": "action",
                "what": LABELS[event.action],
                "action": event.action,  # the page says it in words (proctor/report.html)
                "data": {k: data[k] for k in DETAIL_KEYS if data.get(k) is not None},
                "who": users.get(event.actor, event.actor),
                "seat": seat,
                "registration_no": reg,
                "candidate": name,
                "reason": event.reason or "",
                "detail": ", ".join(
                    f"{k}={data[k]}" for k in DETAIL_KEYS if data.get(k) is not None
                ),
            }
        )
    for incident in db.session.execute(
        db.select(Incident).where(Incident.sitting_id == sitting_id).order_by(Incident.at)
    ).scalars():
        seat, reg, name = people.get(("c", incident.candidate_id), ("", "", ""))
        rows.append(
            {
                "at": incident.at,
                "kind": "incident",
                "what": incident.category,
                "action": incident.category,
                "data": {},
                "who": users.get(incident.actor, incident.actor),
                "seat": seat,
                "registration_no": reg,
                "candidate": name,
                "reason": incident.text,
                "detail": "",
            }
        )
    rows.sort(key=lambda r: r["at"])
    db.session.rollback()  # read-only
    return rows


def _words() -> dict:
    """The report page's words for each action and incident category (the CSV keeps the codes)."""
    return {
        "sitting_started": _("Ujian dimulai"),
        "sitting_paused": _("Sesi dijeda"),
        "sitting_resumed": _("Sesi dilanjutkan"),
        "sitting_extended": _("Waktu semua peserta ditambah"),
        "sitting_ended": _("Sesi diakhiri"),
        "attempt_paused": _("Kursi dijeda"),
        "attempt_resumed": _("Kursi dilanjutkan"),
        "time_extended": _("Waktu ditambah"),
        "attempt_ended": _("Ujian peserta diakhiri"),
        "seat_moved": _("Pindah kursi disetujui"),
        "pin_reset": _("PIN direset"),
        "session_ended": _("Login peserta diakhiri"),
        "pins_reset": _("PIN semua peserta direset"),
        "board_configured": _("Papan skor diatur"),
        "help_acknowledged": _("Panggilan bantuan didatangi"),
        "flag_acknowledged": _("Tanda sudah dicek"),
        "power": _("Listrik"),
        "network": _("Jaringan"),
        "hardware": _("Perangkat"),
        "health": _("Kesehatan peserta"),
        "misconduct": _("Pelanggaran"),
        "other": _("Lainnya"),
    }


def _flag_words() -> dict:
    return {
        "help": _("minta bantuan pengawas"),
        "disconnected": _("terputus"),
        "idle": _("tidak menjawab"),
        "fast": _("jauh lebih cepat dari peserta lain"),
        "many_moves": _("sering pindah kursi"),
        "focus_lost": _("pindah tab/jendela"),
        "person_fit": _("pola jawaban tidak wajar (lz)"),
        "locked_out": _("login terkunci: PIN salah berulang"),
    }


def _detail_words(data: dict) -> str:
    parts = []
    if "minutes" in data:
        parts.append(_("+%(n)s menit", n=data["minutes"]))
    if "paused_s" in data:
        parts.append(_("dijeda %(n)s dtk", n=round(data["paused_s"])))
    if "attempts" in data:
        parts.append(_("%(n)s peserta", n=data["attempts"]))
    if "old_seat" in data or "new_seat" in data:
        old, new = data.get("old_seat") or "—", data.get("new_seat") or "—"
        parts.append(_("dari %(old)s ke %(new)s", old=old, new=new))
    if "enabled" in data:
        parts.append(_("aktif") if data["enabled"] else _("nonaktif"))
    if "fields" in data:
        parts.append(_("kolom: %(f)s", f=", ".join(data["fields"] or [])))
    if "flag" in data:
        parts.append(_flag_words().get(data["flag"], data["flag"]))
    return "; ".join(parts)


def in_words(rows: list[dict]) -> list[dict]:
    """The rows for the page: what happened and its details in the page's language."""
    words = _words()
    return [
        {**row, "what": words.get(row["action"], row["what"]), "detail": _detail_words(row["data"])}
        for row in rows
    ]


def report_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:  # names and notes are typed by people: never a spreadsheet formula
        writer.writerow(
            {
                **{k: safe_cell(v) for k, v in row.items() if k in COLUMNS},
                "at": iso_local(row["at"]),  # with the centre's offset, +07:00 in WIB
            }
        )
    return out.getvalue()
