"""An attempt's scores: as the exam computes them, and as ``cat-server verify`` recomputes them.

A fixed section's score is the sum, over its items, of each item's latest
response score (points per keyed answer, or a TKP option's own weight: what
``Item.score_choice`` gave, stored in the chained response). An adaptive
section's score is :func:`scaled` of the ability estimated from its
operational responses (those not presented as pretest items). The total is the
sum of the section scores; pass/fail (:func:`passes`) every section's pass
mark and the exam's pass total, decided when the attempt finishes.

An adaptive estimate depends on the items' parameters, which a recalibration
changes after the sitting. So each adaptive answer keeps with the attempt
(``Attempt.score_basis``, :func:`keep_basis`) what its estimate used: the
section's operational items in answer order, each with its engine score
(category) and parameters, signed with the chain key (``chain.basis_mac``).
:func:`rescore` recomputes the estimate from that, once the signature holds and
its items are those of the section's chained responses not presented as
pretest; it never reads the items' current parameters.
"""

from __future__ import annotations

import hmac
from types import SimpleNamespace

from .. import irt
from ..extensions import db, socketio
from ..models import Attempt, Candidate, Exam, Presentation, Response, Sitting
from .catalog import cached_exam, cached_item, engine_config, exam_sections, item_parameters
from .chain import basis_mac, chain_key

# a recomputed estimate may differ from the stored one in its last bits (another bank's arrays)
THETA_TOLERANCE = 1e-6
# the engine needs a bank even for an estimate from no item (only pretest ones answered)
_NO_ITEM = SimpleNamespace(model="2pl", a=1.0, b=0.0, c=0.0, d=1.0, thresholds=None)


def scaled(theta: float) -> int:
    """An adaptive section's score: 50 + 10 theta (a T-score), rounded, within 0..100."""
    return int(round(min(100.0, max(0.0, 50.0 + 10.0 * theta))))


def passes(exam: Exam, scores: dict, total: int) -> bool:
    """Every section's pass mark met, and the exam's pass total (where it has one)."""
    passed = all(
        s.pass_mark is None or scores.get(s.code, 0) >= s.pass_mark for s in exam_sections(exam.id)
    )
    if exam.pass_total is not None:
        passed = passed and total >= exam.pass_total
    return passed


def _parameters(item) -> list:
    return [
        str(item.model),
        float(item.a),
        None if item.b is None else float(item.b),
        float(item.c),
        float(item.d),
        None if item.thresholds is None else [float(t) for t in item.thresholds],
    ]


def keep_basis(attempt: Attempt, section, answered: list[tuple[int, int]]) -> None:
    """Keep, signed, what the section's estimate used: ``answered`` = (item id, category) in order.

    Only the operational items: pretest ones are not scored. Their parameters
    are those of the pool the estimate was made with (``cached_item``).
    """
    items = [[item_id, int(cat), *_parameters(cached_item(item_id))] for item_id, cat in answered]
    basis = dict(attempt.score_basis or {})
    mac = basis_mac(chain_key(), attempt.id, section.code, items)
    basis[section.code] = {"items": items, "mac": mac}
    attempt.score_basis = basis


def _estimate(section, items: list) -> tuple[float, float]:
    """(theta, SE) from kept items, as the exam's engine estimates it (EAP, the section's prior)."""
    params = [
        SimpleNamespace(model=m, a=a, b=b, c=c, d=d, thresholds=t) for *_, m, a, b, c, d, t in items
    ]
    bank = irt.prepare_bank(**item_parameters(params or [_NO_ITEM]))
    n = len(items)
    state = irt.CatState.from_responses(bank, list(range(n)), [i[1] for i in items], [False] * n)
    config = engine_config(section, [i[0] for i in items])
    theta, se, _ = irt.posterior(bank, state, config.prior_mean, config.prior_sd)
    return theta, se


# What a recomputation finds, in English (the CLI's and str()'s words); a page words ``kind``
# and ``values`` in its own language (admin/chains.py).
SCORE_PROBLEMS = {
    "no_basis": (
        "section %(code)s: no item parameters were kept for its adaptive score: the attempt's "
        "score basis was removed (or it was made before they were kept: then raise "
        "CAT_SCORES_UNKEPT_UNTIL to its id, docs/admin.md)"
    ),
    "unsigned": (
        "section %(code)s: the item parameters kept for its adaptive score do not carry the "
        "chain key's signature: they were altered"
    ),
    "other_items": (
        "section %(code)s: its adaptive score was estimated from items %(kept)s, but its "
        "chained responses not presented as pretest are items %(operational)s: a "
        "presentation's pretest flag or section was changed"
    ),
    "section": (
        "section_scores[%(code)s] is %(stored)s in the database but %(recomputed)s recomputed "
        "from its chained responses"
    ),
    "total": (
        "total_score is %(stored)s in the database but %(recomputed)s recomputed from its "
        "chained responses"
    ),
    "passed": (
        "passed is %(stored)s in the database but %(recomputed)s recomputed from its chained "
        "responses and the exam's pass marks"
    ),
    "theta": (
        "theta is %(stored)s in the database but %(recomputed)s recomputed from its chained "
        "responses and the item parameters kept with it"
    ),
}


class ScoreProblem(str):
    """One difference a recomputation found: its English sentence, with ``kind`` and ``values``."""

    def __new__(cls, kind: str, **values: str):
        self = super().__new__(cls, SCORE_PROBLEMS[kind] % values)
        self.kind, self.values = kind, values
        return self


def _kept_items(attempt_id: int, code: str, kept, operational: list[int]):
    """The kept items of section ``code`` if signed and those of the responses; else the problem."""
    try:
        items = [
            [int(i), int(cat), str(m), float(a), None if b is None else float(b), float(c)]
            + [float(d), None if t is None else [float(x) for x in t]]
            for i, cat, m, a, b, c, d, t in kept["items"]
        ]
        signed = hmac.compare_digest(basis_mac(chain_key(), attempt_id, code, items), kept["mac"])
    except (KeyError, TypeError, ValueError):
        signed = False
    if not signed:
        return None, ScoreProblem("unsigned", code=code)
    if [i[0] for i in items] != operational:
        return None, ScoreProblem(
            "other_items", code=code, kept=str([i[0] for i in items]), operational=str(operational)
        )
    return items, None


# an attempt's responses in chain order, each with the section and pretest flag it was shown with
_RESPONSES = (
    db.select(
        Response.seq,
        Response.item_id,
        Response.score,
        Presentation.section_id,
        Presentation.pretest,
    )
    .join(
        Presentation,
        (Presentation.attempt_id == Response.attempt_id) & (Presentation.seq == Response.seq),
    )
    .where(Response.attempt_id == db.bindparam("attempt"))
    .order_by(Response.n)
)


def _number(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rescore(attempt: Attempt, exam_id: int, legacy: bool) -> tuple[list[str], list[str]]:
    """(what differs from the stored scores, adaptive sections taken as stored) of a finished attempt.

    ``legacy``: the attempt may be from before the score basis was kept; its
    adaptive sections without one are taken as stored (their codes returned).
    """
    exam, sections = cached_exam(exam_id), exam_sections(exam_id)
    rows = db.session.execute(_RESPONSES, {"attempt": attempt.id}).all()
    stored, basis = attempt.section_scores or {}, attempt.score_basis or {}
    found, unchecked, scores, estimate = [], [], {}, None
    for section in sections:
        code, mine = section.code, [r for r in rows if r.section_id == section.id]
        if not mine:
            continue
        if not section.scaled:  # the latest answer of each item counts
            latest = {r.seq: r.score for r in mine}
            scores[code] = sum(latest.values())
            continue
        estimate = None
        if code not in basis and legacy:
            unchecked.append(code)
            scores[code] = _number(stored.get(code))
            continue
        if code not in basis:
            found.append(ScoreProblem("no_basis", code=code))
            scores[code] = _number(stored.get(code))
            continue
        operational = [r.item_id for r in mine if not r.pretest]
        items, problem = _kept_items(attempt.id, code, basis[code], operational)
        if problem:
            found.append(problem)
            scores[code] = _number(stored.get(code))
            continue
        theta, se = estimate = _estimate(section, items)
        near = {scaled(theta - THETA_TOLERANCE), scaled(theta + THETA_TOLERANCE)}
        kept = _number(stored.get(code))
        scores[code] = kept if code in stored and kept in near else scaled(theta)
    for code in dict.fromkeys([*(s.code for s in sections), *stored]):
        got = stored.get(code, 0)
        if _number(got) != got or got != scores.get(code, 0):
            found.append(
                ScoreProblem(
                    "section",
                    code=repr(code),
                    stored=repr(stored.get(code)),
                    recomputed=str(scores.get(code, 0)),
                )
            )
    total = sum(scores.values())
    if attempt.total_score != total:
        found.append(ScoreProblem("total", stored=repr(attempt.total_score), recomputed=str(total)))
    # an exam without items finishes before it starts, with no pass/fail
    passed = passes(exam, scores, total) if attempt.started_at is not None else None
    if attempt.passed is not passed:
        found.append(ScoreProblem("passed", stored=repr(attempt.passed), recomputed=repr(passed)))
    if estimate is not None and (
        attempt.theta is None or abs(attempt.theta - estimate[0]) > THETA_TOLERANCE
    ):
        found.append(
            ScoreProblem("theta", stored=repr(attempt.theta), recomputed=f"{estimate[0]:.6f}")
        )
    return found, unchecked


def rescore_all(attempt_ids: list[int] | None = None, unkept_until: int = 0):
    """Recompute every finished attempt's scores: (attempts, problems, taken as stored).

    ``problems``: (attempt id, registration number, sitting name, message);
    ``taken as stored``: (attempt id, section code) of adaptive sections of
    attempts up to ``unkept_until`` that have no kept basis.
    """
    query = (
        db.select(Attempt, Candidate.registration_no, Sitting.name, Sitting.exam_id)
        .join(Candidate, Attempt.candidate_id == Candidate.id)
        .join(Sitting, Attempt.sitting_id == Sitting.id)
        .where(Attempt.status == "finished")
        .order_by(Attempt.id)
    )
    if attempt_ids is not None:
        query = query.where(Attempt.id.in_(attempt_ids))
    n, problems, unchecked = 0, [], []
    for attempt, registration_no, sitting, exam_id in db.session.execute(query).all():
        n += 1
        socketio.sleep(0)  # a long check lets the exam's sockets in between attempts
        found, codes = rescore(attempt, exam_id, attempt.id <= unkept_until)
        problems += [(attempt.id, registration_no, sitting, message) for message in found]
        unchecked += [(attempt.id, code) for code in codes]
    return n, problems, unchecked
