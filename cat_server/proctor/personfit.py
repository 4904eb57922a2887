"""Person fit for the proctor's flags: the standardized log-likelihood lz (Drasgow et al., 1985).

Only dichotomous items count (keyed, with a difficulty); theta is the EAP
estimate from the same answers. An lz well below 0 means the answer pattern is
unlikely for any ability (e.g. hard items right, easy ones wrong: copying, a
leaked key, or random clicking).
"""

from __future__ import annotations

import numpy as np
from flask import current_app

from .. import irt
from ..exam import catalog
from ..extensions import db
from ..models import Attempt, Presentation, Response

MIN_ITEMS = 10  # no lz before this many scored answers
THRESHOLD = -2.0  # flag below this


def lz(x, a, b, c, d) -> float:
    r"""lz of one response pattern at the pattern's own EAP theta.

    .. math:: l_z = (l_0 - E[l_0]) / \sqrt{Var[l_0]}
    """
    x = np.asarray(x, dtype=float)
    items = irt.make_items(a=a, b=b, c=c, d=d)
    theta, _ = irt.eap(x.astype(int), items)
    p = np.clip(
        irt.prob_4pl(theta, np.asarray(a), np.asarray(b), np.asarray(c), np.asarray(d)),
        1e-9,
        1 - 1e-9,
    ).ravel()
    log_p, log_q = np.log(p), np.log1p(-p)
    l0 = np.sum(x * log_p + (1 - x) * log_q)
    expected = np.sum(p * log_p + (1 - p) * log_q)
    variance = np.sum(p * (1 - p) * (log_p - log_q) ** 2)
    return float((l0 - expected) / np.sqrt(variance)) if variance > 0 else 0.0


# attempt id -> (responses counted, lz): the proctor feed asks 4 times a second
# for every seat that changed; lz moves slowly, so it is recomputed only after
# RECOMPUTE_EVERY new responses instead of re-reading every answer each time.
RECOMPUTE_EVERY = 5


def lz_of_attempts_cached(n_responses: dict[int, int]) -> dict[int, float]:
    """Like lz_of_attempts for {attempt id: its n_responses}, reusing recent results."""
    _cache = current_app.extensions.setdefault("cat_lz", {})
    stale = [
        a
        for a, n in n_responses.items()
        if a not in _cache or n < _cache[a][0] or n - _cache[a][0] >= RECOMPUTE_EVERY
    ]
    fresh = lz_of_attempts(stale)
    for attempt_id in stale:
        _cache[attempt_id] = (n_responses[attempt_id], fresh.get(attempt_id))
    return {a: _cache[a][1] for a in n_responses if _cache[a][1] is not None}


def lz_of_attempts(attempt_ids) -> dict[int, float]:
    """attempt id -> lz over its final answers, for attempts with MIN_ITEMS+ scored.

    Only answers that can no longer change count: in a running navigable
    section a candidate may still change an answer, and an lz that moved with
    each change would show the proctor which choice is the key. So that
    section's answers count once it is over.
    """
    if not attempt_ids:
        return {}
    open_from = {}  # attempt id -> first seq whose answer may still change
    for attempt in db.session.execute(
        db.select(Attempt).where(Attempt.id.in_(list(attempt_ids)))
    ).scalars():
        if attempt.status == "in_progress" and catalog.current_section(attempt).navigable:
            open_from[attempt.id] = attempt.section_first_seq
    latest: dict[int, dict[int, tuple[int, str]]] = {}
    for attempt_id, seq, item_id, choice in db.session.execute(
        db.select(Response.attempt_id, Response.seq, Response.item_id, Response.choice)
        .join(
            Presentation,
            (Presentation.attempt_id == Response.attempt_id) & (Presentation.seq == Response.seq),
        )
        .where(Response.attempt_id.in_(attempt_ids), Presentation.pretest.is_(False))
        .order_by(Response.attempt_id, Response.n)
    ):
        if seq >= open_from.get(attempt_id, seq + 1):
            continue
        latest.setdefault(attempt_id, {})[seq] = (item_id, choice)  # a changed answer wins
    out = {}
    for attempt_id, answers in latest.items():
        rows = []
        for item_id, choice in answers.values():
            item = catalog.cached_item(item_id)
            if item.option_scores is None and item.key and item.b is not None:
                rows.append((int(choice == item.key), item.a, item.b, item.c, item.d))
        if len(rows) >= MIN_ITEMS:
            x, a, b, c, d = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
            out[attempt_id] = round(lz(x, a, b, c, d), 2)
    return out
