"""The centre's own time zone (CAT_TIMEZONE): times shown, typed and exported in it.

Dates are stored in UTC; a person reads and types them in the centre's zone,
named with them ("2026-12-06 20:27 WIB"). Indonesia's three zones go by their
names (WIB, WITA, WIT); any other zone by its offset ("UTC+08:00").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

DEFAULT_ZONE = "Asia/Jakarta"
LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}
MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"
DATE = "%Y-%m-%d"
TYPED = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")  # a date alone is handled on its own


class UnknownTimeZone(ValueError):
    """CAT_TIMEZONE names no zone of the IANA database."""


def init_app(app) -> None:
    """Check CAT_TIMEZONE at start-up and give the templates the ``local`` filters.

    Raises UnknownTimeZone for a name the zone database does not know, so a
    typo stops the server instead of printing every time hours off.
    """
    name = app.config.setdefault("TIMEZONE", DEFAULT_ZONE)
    app.extensions["localtime"] = check_zone(name)
    app.add_template_filter(local, "local")
    app.add_template_filter(local_seconds, "local_seconds")
    app.add_template_filter(local_date, "local_date")
    app.add_template_filter(local_clock, "local_clock")
    app.add_template_global(zone_label, "zone_label")
    app.add_template_global(browser_zone, "browser_zone")


def check_zone(name) -> ZoneInfo:
    """The zone called ``name`` (e.g. Asia/Makassar); UnknownTimeZone if there is none."""
    try:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(name)
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(
            f"Refusing to start: CAT_TIMEZONE {name!r} is not a time zone. Give the "
            "centre's IANA zone name: Asia/Jakarta (WIB, the default), Asia/Makassar "
            "(WITA) or Asia/Jayapura (WIT)."
        ) from None


def zone() -> ZoneInfo:
    """The centre's zone (the app's, checked at start-up)."""
    return current_app.extensions["localtime"]


def to_local(dt: datetime | None) -> datetime | None:
    """The same instant as an aware datetime in the centre's zone (a naive one is UTC)."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(zone())


def zone_label(dt: datetime | None = None) -> str:
    """WIB, WITA or WIT; for another zone its offset at ``dt`` (default now), "UTC+08:00"."""
    tz = zone()
    if tz.key in LABELS:
        return LABELS[tz.key]
    offset = (to_local(dt) if dt is not None else datetime.now(tz)).utcoffset()
    if not offset:
        return "UTC"
    sign, offset = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    hours, seconds = divmod(int(offset.total_seconds()), 3600)
    return f"UTC{sign}{hours:02d}:{seconds // 60:02d}"


def browser_zone() -> dict:
    """The zone for a page's own clock: its name and its offset now, in minutes east of UTC.

    A page shows the centre's time from these, never from the zone its computer is set to.
    """
    now = datetime.now(zone())
    return {"label": zone_label(now), "offset_min": int(now.utcoffset().total_seconds() // 60)}


def format_local(dt, fmt: str = MINUTES, *, label: bool = True) -> str:
    """``dt`` (a datetime, or ISO 8601 text) as the centre's wall clock, with its zone's name."""
    if dt is None or dt == "":
        return ""
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    here = to_local(dt)
    text = here.strftime(fmt)
    return f"{text} {zone_label(here)}" if label else text


def local(dt, fmt: str = MINUTES) -> str:
    """Template filter: "2026-12-06 20:27 WIB"; ``local('%H:%M')``: "20:27 WIB"."""
    return format_local(dt, fmt)


def local_seconds(dt) -> str:
    """Template filter: "2026-12-06 20:27:05 WIB"."""
    return format_local(dt, SECONDS)


def local_date(dt) -> str:
    """Template filter: the local day, "2026-12-06"."""
    return format_local(dt, DATE, label=False)


def local_clock(dt) -> str:
    """Template filter: the time of day, "20:27:05", under a heading that names the zone."""
    return format_local(dt, "%H:%M:%S", label=False)


def iso_local(dt: datetime | None) -> str:
    """ISO 8601 to the second with the centre's offset, "2026-12-06T20:27:05+07:00"; "" for None."""
    return "" if dt is None else to_local(dt).replace(microsecond=0).isoformat()


def parse_local(text, *, end_of_day: bool = False) -> datetime | None:
    """Typed local time ("YYYY-MM-DD HH:MM", a "T" between is fine) as an aware UTC datetime.

    A date alone means the start of that local day; with ``end_of_day`` the
    start of the next one, so an inclusive "to" date covers its whole day.
    None when the text is no such date.
    """
    text = (text or "").strip().replace("T", " ", 1)
    try:
        if len(text) == len("YYYY-MM-DD"):
            day = datetime.strptime(text, DATE).date()
            if end_of_day:
                day += timedelta(days=1)
            wall = datetime(day.year, day.month, day.day)
        else:
            wall = _strptime_any(text)
    except ValueError:
        return None
    return wall.replace(tzinfo=zone()).astimezone(UTC)


def _strptime_any(text: str) -> datetime:
    for fmt in TYPED:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(text)
