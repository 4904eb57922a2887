"""The incident report of a sitting: every proctor action, help call, late login and incident note."""

from __future__ import annotations

import csv
import io

from flask_babel import gettext as _
from flask_babel import ngettext

from ..extensions import db
from ..localtime import iso_local, local_clock, zone_label
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
# what the candidates and the server did that the report names too: each help call (with
# who answered it and when: one row, not two) and each login after the start
OTHER_ACTIONS = ("help_requested", "late_login")
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
    finished = {}  # attempt id -> when its exam ended
    for candidate, label, attempt_id, finished_at in db.session.execute(
        db.select(Candidate, Seat.label, Attempt.id, Attempt.finished_at)
        .outerjoin(Seat, Candidate.seat_id == Seat.id)
        .outerjoin(Attempt, Attempt.candidate_id == Candidate.id)
        .where(Candidate.sitting_id == sitting_id)
    ):
        person = (label or "", candidate.registration_no, candidate.name)
        people[("c", candidate.id)] = person
        if attempt_id is not None:
            people[("a", attempt_id)] = person
            finished[attempt_id] = finished_at
    rows = []
    calls = {}  # attempt id -> its help calls' rows still waiting for a proctor
    events = db.session.execute(
        db.select(AuditEvent)
        .where(
            AuditEvent.sitting_id == sitting_id,
            AuditEvent.action.in_((*LABELS, *OTHER_ACTIONS)),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    ).scalars()
    for event in events:
        data = event.data or {}
        person = people.get(("a", event.attempt_id)) or ("", "", "")
        if event.action in OTHER_ACTIONS:
            row = _candidate_row(event, person)
            rows.append(row)
            if event.action == "help_requested":
                calls.setdefault(event.attempt_id, []).append(row)
            continue
        if event.action == "help_acknowledged" and event.attempt_id in calls:
            # the proctor came to the seat: every call of it still open is answered
            for row in calls.pop(event.attempt_id):
                row["data"].update(
                    answered_by=users.get(event.actor, event.actor), answered_at=event.at
                )
                row["reason"] = event.reason or ""
                row["detail"] = _csv_detail(row["data"])
            continue
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
    # a call nobody answered before the candidate's exam ended says so, not "not answered yet"
    for attempt_id, open_rows in calls.items():
        ended = finished.get(attempt_id)
        for row in open_rows:
            if ended is not None and ended >= row["at"]:
                row["data"]["ended_unanswered_at"] = ended
                row["detail"] = _csv_detail(row["data"])
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
        "help_requested": _("Peserta minta bantuan pengawas"),
        "late_login": _("Peserta datang terlambat"),
        "candidate": _("peserta"),
        "server": _("server"),
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
        parts.append(ngettext("%(num)s peserta", "%(num)s peserta", data["attempts"]))
    if "old_seat" in data or "new_seat" in data:
        old, new = data.get("old_seat") or "—", data.get("new_seat") or "—"
        parts.append(_("dari %(old)s ke %(new)s", old=old, new=new))
    if "enabled" in data:
        parts.append(_("aktif") if data["enabled"] else _("nonaktif"))
    if "fields" in data:
        parts.append(_("kolom: %(f)s", f=", ".join(data["fields"] or [])))
    if "flag" in data:
        parts.append(_flag_words().get(data["flag"], data["flag"]))
    if "called_at" in data:
        if data.get("ended_unanswered_at") is not None:
            parts.append(_("ujian selesai sebelum didatangi"))
        elif data.get("answered_at") is None:
            parts.append(_("belum didatangi"))
        else:
            waited = (data["answered_at"] - data["called_at"]).total_seconds()
            parts.append(
                _(
                    "didatangi %(who)s pukul %(time)s (%(wait)s setelah dipanggil)",
                    who=data["answered_by"],
                    time=f"{local_clock(data['answered_at'])} {zone_label()}",
                    wait=_duration_words(waited),
                )
            )
    if "started_at" in data:
        parts.append(
            _(
                "mulai %(time)s, terlambat %(late)s",
                time=f"{local_clock(data['started_at'])[:5]} {zone_label()}",
                late=_duration_words(data.get("late_s") or 0),
            )
        )
        granted = _duration_words(data.get("granted_s") or 0)
        if data.get("mode") == "remaining":
            parts.append(_("mendapat %(time)s (sisa waktu sesi)", time=granted))
        else:
            parts.append(_("mendapat %(time)s (waktu penuh)", time=granted))
    return "; ".join(parts)


def _duration_words(seconds: float) -> str:
    """95 -> "1 mnt 35 dtk"; 5400 -> "90 mnt": minutes, and seconds below ten minutes."""
    seconds = max(0, round(seconds))
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return _("%(n)s dtk", n=rest)
    if rest and minutes < 10:
        return _("%(m)s mnt %(s)s dtk", m=minutes, s=rest)
    return _("%(n)s mnt", n=minutes + (rest >= 30))


def in_words(rows: list[dict]) -> list[dict]:
    """The rows for the page: what happened and its details in the page's language."""
    words = _words()
    return [
        {
            **row,
            "what": words.get(row["action"], row["what"]),
            "who": words.get(row["who"], row["who"])
            if row["kind"] in ("help", "late")
            else row["who"],
            "detail": _detail_words(row["data"]),
        }
        for row in rows
    ]


def _candidate_row(event: AuditEvent, person: tuple) -> dict:
    """A help call (its answer is merged in later) or a late login, as a report row."""
    seat, reg, name = person
    data = event.data or {}
    if event.action == "late_login":
        kind, what = "late", "late login"
        data = {
            "started_at": event.at,
            "late_s": data.get("late_s"),
            "granted_s": data.get("granted_s"),
            "mode": data.get("mode"),
        }
    else:
        kind, what, data = "help", "help call", {"called_at": event.at}
    return {
        "at": event.at,
        "kind": kind,
        "what": what,
        "action": event.action,
        "data": data,
        "who": "candidate" if kind == "help" else "server",
        "seat": seat,
        "registration_no": reg,
        "candidate": name,
        "reason": "",
        "detail": _csv_detail(data),
    }


def _csv_detail(data: dict) -> str:
    """The CSV's detail of a help call or a late login: key=value, times with their offset."""
    return ", ".join(
        f"{k}={iso_local(v) if hasattr(v, 'tzinfo') else v}"
        for k, v in data.items()
        if v is not None and k not in ("called_at", "started_at")
    )


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
