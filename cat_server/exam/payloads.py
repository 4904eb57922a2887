"""The wire payloads of /exam events, checked before anything reads the database."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BadPayload, is_id

# The /exam contract's version (docs/protocol.md, "Versions"): in every ``state``;
# a client that sends another in its connect ``auth`` is refused with
# ``protocol_mismatch``. Raise it when a change would break a client written
# for the old one (a renamed field or event, a new meaning), not for additions.
PROTOCOL_VERSION = 2


def _parse_ints(data, names) -> dict:
    if not isinstance(data, dict):
        raise BadPayload()
    values = {}
    for name in names:
        value = data.get(name)
        if not is_id(value):
            raise BadPayload(field=name)
        values[name] = value
    return values


@dataclass(frozen=True)
class AnswerIn:
    """A validated ``answer`` payload."""

    attempt: int
    seq: int
    item: int
    choice: str

    @classmethod
    def parse(cls, data) -> AnswerIn:
        """Raise BadPayload unless ``data`` is {attempt:int, seq:int, item:int, choice:'A'..'E'}."""
        values = _parse_ints(data, ("attempt", "seq", "item"))
        choice = data.get("choice")
        if not isinstance(choice, str) or len(choice) != 1 or choice not in "ABCDE":
            raise BadPayload(field="choice")
        return cls(choice=choice, **values)


@dataclass(frozen=True)
class MarkIn:
    attempt: int
    seq: int
    marked: bool

    @classmethod
    def parse(cls, data) -> MarkIn:
        values = _parse_ints(data, ("attempt", "seq"))
        if not isinstance(data.get("marked"), bool):
            raise BadPayload(field="marked")
        return cls(marked=data["marked"], **values)


@dataclass(frozen=True)
class FinishSectionIn:
    attempt: int
    section: int

    @classmethod
    def parse(cls, data) -> FinishSectionIn:
        return cls(**_parse_ints(data, ("attempt", "section")))
