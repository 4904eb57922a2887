"""What the exam side announces: a seat changed. Whoever cares subscribes at app start.

The exam room never imports the proctor room: it sends ``seat_changed`` after
a commit, and ``proctor.feed`` (connected in ``proctor.init_app``) marks the
seat for the next coalesced update of the proctor screens and the board.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the sitting id; ``candidate``: the candidate id, or None for every seat
seat_changed = _signals.signal("seat-changed")


def announce_seat(sitting_id: int, candidate_id: int | None = None) -> None:
    """Announce that one candidate's seat (None: every seat of the sitting) changed."""
    seat_changed.send(sitting_id, candidate=candidate_id)
