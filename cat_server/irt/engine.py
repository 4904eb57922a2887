r"""The hot path: one adaptive-testing step on a prepared bank.

Typical use inside the answer transaction::

    bank = irt.prepare_bank(a, b, c, d, item_id=ids, section=sections)  # once
    cfg = irt.CatConfig(max_length=30, se_target=0.3, exposure="randomesque")
    state = irt.CatState.from_json(bank, row.engine_state)  # or from the responses rows
    state.record(bank, item, score)           # O(n_quad): one row added to the log-likelihood
    res = irt.step(bank, state, cfg, rng=rng) # theta, se, next item or None, stop reason
    row.engine_state = state.to_json()        # plain JSON: item ids, scores, pretest flags

The state keeps the log-likelihood on the quadrature grid, so an update costs
``n_quad`` additions whatever the number of answers; it is rebuilt from the
stored responses in one vectorised sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from . import selection as sel
from . import stopping
from .bank import PRETEST


@dataclass
class CatConfig:
    r"""Configuration of an adaptive test (plain data, JSON-friendly).

    Parameters
    ----------
    min_length, max_length : int
        Operational items (pretest items are extra and not counted).
    se_target : float, optional
        Stop once the posterior SD is at or below it (after ``min_length``).
    time_limit : float, optional
        Seconds; stop when ``elapsed >= time_limit``.
    cut : float, optional
        Cut score on the theta scale, for classification stopping.
    classification : {None, "sprt", "ci"}
        Stop once classified by Wald's SPRT (indifference ``sprt_delta``,
        error rates ``alpha``, ``beta``) or once the ``ci_z`` confidence
        interval excludes the cut.
    prior_mean, prior_sd : float
        Normal prior of the EAP estimate.
    selection : {"mfi", "pwi", "kl"}
        Maximum Fisher information, posterior-weighted information or
        posterior-weighted Kullback–Leibler.
    exposure : {"none", "randomesque", "sympson-hetter", "progressive"}
    randomesque_k : int
    sh_k : sequence of float, optional
        Sympson–Hetter parameters, one per bank item
        (:func:`cat_server.irt.simulation.sympson_hetter_parameters`).
    max_exposure_rate : float, optional
        Restriction: items whose observed exposure rate (passed to
        :func:`step`) exceeds it are not selected ("progressive-restricted"
        when combined with ``exposure="progressive"``).
    content : dict, optional
        ``{section: (min, max)}`` counts or ``{section: proportion}``.
    pretest_rate : float
        Probability, at each step, of seeding a pretest item (while fewer than
        ``pretest_max`` were given).
    pretest_max : int
    pretest_spread : bool
        Instead of ``pretest_rate``: exactly ``pretest_max`` pretest items, at
        positions drawn from the attempt's seed (:func:`pretest_slots`) within
        the first ``min_length + pretest_max`` presentations, so that the
        stopping rules (all but time) never cut one off.
    """

    min_length: int = 0
    max_length: int = 30
    se_target: float | None = None
    time_limit: float | None = None
    cut: float | None = None
    classification: str | None = None
    sprt_delta: float = 0.3
    alpha: float = 0.05
    beta: float = 0.05
    ci_z: float = 1.96
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    selection: str = "mfi"
    exposure: str = "none"
    randomesque_k: int = 5
    sh_k: np.ndarray | None = None
    max_exposure_rate: float | None = None
    content: dict | None = None
    pretest_rate: float = 0.0
    pretest_max: int = 0
    pretest_spread: bool = False

    def __post_init__(self):
        if self.max_length < 1 or self.min_length > self.max_length:
            raise ValueError("Need 1 <= max_length and min_length <= max_length.")
        if self.sh_k is not None:
            self.sh_k = np.asarray(self.sh_k, dtype=float)
        if self.selection not in ("mfi", "pwi", "kl"):
            raise ValueError(f"Unknown selection {self.selection!r}.")
        if self.exposure not in ("none", "randomesque", "sympson-hetter", "progressive"):
            raise ValueError(f"Unknown exposure control {self.exposure!r}.")
        if self.classification not in (None, "sprt", "ci"):
            raise ValueError(f"Unknown classification rule {self.classification!r}.")

    @property
    def _counts_mode(self):
        return bool(self.content) and isinstance(next(iter(self.content.values())), (tuple, list))


class StepResult(NamedTuple):
    """Result of :func:`step`.

    ``item`` is the bank index of the next item, ``None`` when the test stops
    (then ``stop_reason`` says why); ``pretest`` tells whether that item is a
    seeded pretest item (not scored, not counted in the length).
    """

    theta: float
    se: float
    item: int | None
    stop_reason: str | None
    pretest: bool = False


@dataclass
class CatState:
    r"""Responses of one attempt plus the log-likelihood on the bank grid.

    Build with :meth:`new`, :meth:`from_responses` or :meth:`from_json`;
    mutate only with :meth:`record`.
    """

    items: list = field(default_factory=list)
    scores: list = field(default_factory=list)
    pretest: list = field(default_factory=list)
    log_lik: np.ndarray | None = None
    counts: np.ndarray | None = None
    enemy_groups: set = field(default_factory=set)
    n_operational: int = 0
    seed: int = 0
    blocked: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def new(cls, bank, seed=0):
        """Empty state for ``bank``; ``seed`` fixes the attempt's Sympson–Hetter draws."""
        return cls(
            log_lik=np.zeros(bank.grid.shape[0]),
            counts=np.zeros(len(bank.section_names), dtype=np.int64),
            seed=int(seed),
            blocked=bank.blocked.copy(),
        )

    @classmethod
    def from_responses(cls, bank, items, scores, pretest=None, seed=0):
        r"""Rebuild the state from stored responses (one vectorised pass).

        Parameters
        ----------
        bank : Bank
        items : sequence of int or str
            Bank indices or item ids, in presentation order.
        scores : sequence of int
        pretest : sequence of bool, optional
            Default: the item's current status is pretest.
        seed : int
            Attempt seed (see :meth:`new`).
        """
        idx = np.array([_index(bank, i) for i in items], dtype=np.int64)
        sc = np.asarray(scores, dtype=np.int64)
        if idx.shape != sc.shape:
            raise ValueError("items and scores differ in length.")
        _check_scores(bank, idx, sc)
        pre = bank.status[idx] == PRETEST if pretest is None else np.asarray(pretest, bool)
        op = ~pre
        n_sec = len(bank.section_names)
        if op.all():
            log_lik = bank.log_rows[bank.log_row0[idx] + sc].sum(axis=0)
            counts = np.bincount(bank.section[idx], minlength=n_sec)
        else:
            log_lik = bank.log_rows[bank.log_row0[idx[op]] + sc[op]].sum(axis=0)
            counts = np.bincount(bank.section[idx[op]], minlength=n_sec)
        groups = bank.enemy[idx]
        state = cls(
            items=idx.tolist(),
            scores=sc.tolist(),
            pretest=pre.tolist(),
            log_lik=log_lik,
            counts=counts.astype(np.int64),
            enemy_groups=set(groups[groups >= 0].tolist()),
            n_operational=int(op.sum()),
            seed=int(seed),
        )
        state.blocked = _blocked(bank, idx, state.enemy_groups)
        return state

    @classmethod
    def from_json(cls, bank, data):
        """Inverse of :meth:`to_json`."""
        return cls.from_responses(
            bank, data["items"], data["scores"], data.get("pretest"), data.get("seed", 0)
        )

    def to_json(self, bank=None):
        """Plain JSON data: item ids (or indices without ``bank``), scores, pretest flags, seed."""
        items = [bank.item_id[i] for i in self.items] if bank is not None else list(self.items)
        return {
            "items": items,
            "scores": list(self.scores),
            "pretest": list(self.pretest),
            "seed": self.seed,
        }

    def record(self, bank, item, score, pretest=None):
        r"""Add one answer; :math:`O(n_{quad})`.

        Parameters
        ----------
        bank : Bank
        item : int or str
        score : int
        pretest : bool, optional
            Default: the item's status is pretest. Pretest answers are stored
            but do not change the ability estimate.
        """
        j = _index(bank, item)
        score = int(score)
        lists = bank.lists
        if not 0 <= score < lists["n_cat"][j]:
            raise ValueError(f"Score {score} out of range for item {bank.item_id[j]}.")
        if j in self.items:
            raise ValueError(f"Item {bank.item_id[j]} was already answered.")
        pre = lists["status"][j] == PRETEST if pretest is None else bool(pretest)
        if self.blocked is None:
            self.blocked = _blocked(bank, self.items, self.enemy_groups)
        self.items.append(j)
        self.scores.append(score)
        self.pretest.append(pre)
        self.blocked[lists["position"][j]] = -np.inf
        g = lists["enemy"][j]
        if g >= 0 and g not in self.enemy_groups:
            self.enemy_groups.add(g)
            self.blocked[lists["enemy_positions"][g]] = -np.inf
        if not pre:
            self.log_lik += bank.log_rows[lists["log_row0"][j] + score]
            self.counts[lists["section"][j]] += 1
            self.n_operational += 1


def _index(bank, item):
    if isinstance(item, str):
        try:
            return bank.index[item]
        except KeyError:
            raise ValueError(f"Unknown item {item!r}.") from None
    j = int(item)
    if not 0 <= j < len(bank.item_id):
        raise ValueError(f"Item index {j} out of range.")
    return j


def _blocked(bank, items, enemy_groups):
    """``0`` for items still selectable, ``-inf`` for the others (internal order)."""
    out = bank.blocked.copy()
    if len(items):
        out[bank.position[np.asarray(items, dtype=np.int64)]] = -np.inf
    for g in enemy_groups:
        out[bank.lists["enemy_positions"][g]] = -np.inf
    return out


def _check_scores(bank, idx, sc):
    bad = (sc < 0) | (sc >= bank.items.n_cat[idx])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"Score {sc[k]} out of range for item {bank.item_id[idx[k]]}.")


def posterior(bank, state, prior_mean=0.0, prior_sd=1.0):
    r"""EAP estimate, posterior SD and log posterior on ``bank.grid``.

    Returns
    -------
    theta : float
    se : float
    log_post : ndarray of shape (n_quad,)

    Notes
    -----
    .. math::
        \hat\theta = \frac{\sum_q \theta_q L(\theta_q) \phi_q}{\sum_q L(\theta_q) \phi_q},
        \quad SE^2 = \frac{\sum_q (\theta_q - \hat\theta)^2 L \phi}{\sum_q L \phi}
    """
    log_post = state.log_lik + bank.log_prior(prior_mean, prior_sd)
    # x[x.argmax()] rather than x.max(): a 61-point reduction is all call overhead
    w = np.exp(log_post - log_post[log_post.argmax()])
    s, s1, s2 = np.dot(w, bank.moments).tolist()  # sums of w, w * theta, w * theta**2
    theta = s1 / s
    var = s2 / s - theta * theta
    return theta, math.sqrt(var) if var > 0.0 else 0.0, log_post


def _minima_met(cfg, bank, state):
    if not cfg._counts_mode:
        return True
    names = bank.section_names
    for s, (mn, _mx) in cfg.content.items():
        if s in names and state.counts[names.index(s)] < (mn or 0):
            return False
    return True


def _sprt_ll(cfg, bank, state):
    if cfg.classification != "sprt" or cfg.cut is None or state.n_operational == 0:
        return None
    idx = np.array(state.items)
    op = ~np.array(state.pretest, dtype=bool)
    idx, sc = idx[op], np.array(state.scores)[op]
    t = np.array([cfg.cut + cfg.sprt_delta, cfg.cut - cfg.sprt_delta])
    lp = bank.items.subset(idx).log_probs(t)  # (2, n, K)
    ll = lp[:, np.arange(idx.size), sc].sum(axis=1)
    return float(ll[0]), float(ll[1])


def pretest_slots(cfg, seed):
    r"""Positions (0-based: items presented before) of an attempt's pretest items.

    ``cfg.pretest_max`` distinct positions drawn from the attempt ``seed``
    among the first :math:`W` presentations, :math:`W = \max(L_{min}, n) + n`
    (``min_length``, ``pretest_max``). With :math:`L_{min} \ge n` the
    :math:`k`-th (0-based) lies at or before :math:`L_{min} + k`, where the
    test cannot have stopped yet (it owes the pretest item first), so all
    :math:`n` are given. Empty unless ``cfg.pretest_spread``.
    """
    n = int(cfg.pretest_max)
    if not cfg.pretest_spread or n <= 0:
        return frozenset()
    width = max(int(cfg.min_length), n) + n
    draw = np.random.default_rng([int(seed) & (2**63 - 1), 0x707265])  # "pre"
    return frozenset(int(k) for k in draw.choice(width, size=n, replace=False))


def _pretest_due(cfg, state, rng):
    """True if this step seeds a pretest item: its slot came, or the rate's draw says so."""
    n_pre = len(state.pretest) - state.n_operational
    if cfg.pretest_max <= 0 or n_pre >= cfg.pretest_max:
        return False
    if cfg.pretest_spread:
        return len(state.items) in pretest_slots(cfg, state.seed)
    return cfg.pretest_rate > 0 and rng.random() < cfg.pretest_rate


def step(bank, state, cfg, rng, *, elapsed=None, exposure_rates=None):
    r"""Estimate ability and choose the next item (or stop).

    Parameters
    ----------
    bank : Bank
        From :func:`prepare_bank`.
    state : CatState
        Answers so far (already :meth:`~CatState.record`-ed).
    cfg : CatConfig
    rng : numpy.random.Generator
        Used by exposure control and pretest seeding only.
    elapsed : float, optional
        Seconds used so far, for ``cfg.time_limit``.
    exposure_rates : ndarray of shape (n_items,), optional
        Observed exposure rates, for ``cfg.max_exposure_rate``.

    Returns
    -------
    StepResult
        ``(theta, se, item, stop_reason, pretest)``; ``item`` is ``None`` when
        the test stops.

    Notes
    -----
    Order: EAP update; stopping rules; pretest seeding with probability
    ``cfg.pretest_rate`` (``cfg.pretest_spread``: at the attempt's slots, before
    every stopping rule but time); eligible pool (active, not given, no enemy of a given
    item, under the exposure ceiling); content balancing; selection criterion;
    exposure rule.
    """
    theta, se, log_post = posterior(bank, state, cfg.prior_mean, cfg.prior_sd)
    reason = stopping.stop_reason(
        cfg,
        state.n_operational,
        theta,
        se,
        elapsed=elapsed,
        minima_met=_minima_met(cfg, bank, state),
        sprt_ll=_sprt_ll(cfg, bank, state),
    )
    owed = cfg.pretest_spread and reason != stopping.TIME
    if reason is not None and not owed:
        return StepResult(theta, se, None, reason)
    if _pretest_due(cfg, state, rng):
        pool = sel.eligible_mask(bank, state.items, state.enemy_groups, bank.pretest)
        cand = np.flatnonzero(pool)
        if cand.size:
            return StepResult(theta, se, int(cand[rng.integers(cand.size)]), None, True)
    if reason is not None:
        return StepResult(theta, se, None, reason)

    blocked = state.blocked
    if blocked is None:
        blocked = _blocked(bank, state.items, state.enemy_groups)
    if cfg.max_exposure_rate is not None and exposure_rates is not None:
        over = np.asarray(exposure_rates)[bank.order] >= cfg.max_exposure_rate
        capped = np.where(over, -np.inf, blocked)
        if np.isfinite(capped).any():  # the ceiling is dropped rather than stop the test
            blocked = capped
    if cfg.selection == "mfi":
        row, weights = bank.info_weights(theta)
        score = None
    else:
        row = weights = None
        score = sel.criterion(bank, theta, log_post, cfg.selection)[bank.order]
    for sections in sel.section_sets(
        bank, state.counts, state.n_operational, cfg.max_length, cfg.content
    ):
        item = sel.choose(
            bank,
            sections,
            blocked,
            cfg.exposure,
            rng,
            row=row,
            weights=weights,
            score=score,
            progress=state.n_operational / cfg.max_length,
            sh_k=cfg.sh_k,
            k=cfg.randomesque_k,
            seed=state.seed,
        )
        if item is not None:
            return StepResult(theta, se, item, None)
    return StepResult(theta, se, None, stopping.EXHAUSTED)


def step_from_responses(
    bank, items, scores, cfg, rng, *, pretest=None, seed=0, elapsed=None, exposure_rates=None
):
    r"""Stateless form of :func:`step`: rebuild the state from stored rows, then step.

    Parameters
    ----------
    bank : Bank
    items : sequence of int or str
        Items presented so far (bank indices or ids), in order.
    scores : sequence of int
    cfg : CatConfig
    rng : numpy.random.Generator
    pretest, seed, elapsed, exposure_rates
        As in :meth:`CatState.from_responses` and :func:`step`.

    Returns
    -------
    StepResult
    """
    state = CatState.from_responses(bank, items, scores, pretest, seed)
    return step(bank, state, cfg, rng, elapsed=elapsed, exposure_rates=exposure_rates)
