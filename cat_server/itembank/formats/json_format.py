"""JSON bank files: a list of items (or an object with an "items" list), read and written."""

from __future__ import annotations

import json
from typing import Any

from .cells import short
from .columns import COLUMNS, Record, unknown_column_message
from .problems import Problems, _


def read_json_records(text: str, problems: Problems) -> list[Record]:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = _JsonObject(items)
        obj.duplicates = sorted({k for k, _v in items if sum(k == j for j, _w in items) > 1})
        return obj

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as e:
        raise problems.fail(
            _(
                "JSON tidak sah di baris %(line)s, karakter %(char)s: %(error)s",
                line=e.lineno,
                char=e.colno,
                error=e.msg,
            )
        ) from None
    except RecursionError:
        raise problems.fail(_("JSON tidak sah: list atau objek bersarang terlalu dalam")) from None
    except ValueError:  # Python's limit of 4300 digits for an integer
        raise problems.fail(_("JSON tidak sah: ada angka dengan ribuan digit")) from None
    if isinstance(data, dict):
        if "items" not in data:
            raise problems.fail(_('diharapkan list soal atau objek dengan list "items"'))
        data = data["items"]
    if not isinstance(data, list):
        raise problems.fail(_('"items" harus berupa list objek, satu objek satu soal'))
    if not data:
        raise problems.fail(_("berkas tidak berisi soal"))
    records: list[Record] = []
    unknown_seen: set[str] = set()
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            problems.add(
                number,
                None,
                _(
                    "diharapkan objek berisi kolom-kolom soal, ditemukan %(value)s",
                    value=short(obj),
                ),
            )
            continue
        values: dict[str, Any] = {}
        for raw_key, value in obj.items():
            key = raw_key.strip().lower()
            if key not in COLUMNS:
                # Report each unknown name once, so one typo does not hide every other problem.
                if key not in unknown_seen:
                    unknown_seen.add(key)
                    problems.add(number, raw_key, unknown_column_message(key))
                continue
            if key in values:
                problems.add(number, raw_key, _("kolom ini diberikan dua kali"))
            values[key] = value
        for key in getattr(obj, "duplicates", ()):
            problems.add(number, key, _("kolom ini diberikan dua kali"))
        records.append((number, values))
    return records


class _JsonObject(dict):
    duplicates: list[str] = []


def json_text(records: list[dict[str, Any]]) -> str:
    """``{"items": [...]}``, one object an item with its non-empty columns."""
    items = [{c: v for c, v in record.items() if v is not None} for record in records]
    return json.dumps({"items": items}, ensure_ascii=False, indent=2) + "\n"
