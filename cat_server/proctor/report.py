"""The incident report of a sitting: every proctor action, extension and incident note."""

from __future__ import annotations

import csv
import io

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
}
DETAIL_KEYS = ("minutes", "paused_s", "attempts", "old_seat", "new_seat", "enabled", "fields")


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


def report_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:  # names and notes are typed by people: never a spreadsheet formula
        writer.writerow(
            {
                **{k: safe_cell(v) for k, v in row.items()},
                "at": iso_local(row["at"]),  # with the centre's offset, +07:00 in WIB
            }
        )
    return out.getvalue()
