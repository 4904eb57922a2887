r"""Simulation of adaptive tests: virtual candidates of known ability.

:func:`simulate_cat` runs ``N`` candidates through a prepared bank with a
:class:`~cat_server.irt.engine.CatConfig` (the same :func:`step` the server
uses) and reports recovery, precision, length, exposure and classification.
:func:`sympson_hetter_parameters` computes Sympson–Hetter exposure parameters
by iterated simulation.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from . import selection as sel
from . import stopping
from .engine import CatState, step
from .estimation import estimate
from .models import simulate_responses


def _edge(v):
    # JSON has no infinity: open-ended bins get null
    return float(v) if np.isfinite(v) else None


def _bins(edges, theta, est, se, length):
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (theta >= lo) & (theta < hi)
        n = int(sel.sum())
        if n == 0:
            out.append({"lo": _edge(lo), "hi": _edge(hi), "n": 0})
            continue
        err = est[sel] - theta[sel]
        out.append(
            {
                "lo": _edge(lo),
                "hi": _edge(hi),
                "n": n,
                "bias": float(err.mean()),
                "rmse": float(np.sqrt((err**2).mean())),
                "mean_se": float(se[sel].mean()),
                "mean_length": float(length[sel].mean()),
            }
        )
    return out


def simulate_cat(
    bank,
    cfg,
    theta,
    rng,
    *,
    true_items=None,
    final_estimator="eap",
    cut=None,
    bin_edges=(-np.inf, -2.0, -1.0, 0.0, 1.0, 2.0, np.inf),
    block=None,
    return_details=False,
):
    r"""Run virtual candidates through adaptive tests.

    Parameters
    ----------
    bank : Bank
    cfg : CatConfig
    theta : ndarray of shape (n_examinees,)
        True abilities.
    rng : numpy.random.Generator
    true_items : Items, optional
        Generating parameters if they differ from the bank's (e.g. to study
        calibration error); default the bank's.
    final_estimator : {"eap", "map", "mle", "wle"}
        Estimator of the reported final ability (the CAT itself uses EAP).
    cut : float, optional
        Cut score for the pass/fail accuracy (default ``cfg.cut``).
    bin_edges : sequence of float
        True-ability bins of ``per_bin``.
    block : int, optional
        Candidates tested together (and whose response vectors are drawn at
        once); default about 2**18 cells of ``block x n_items``, 16 to 1,024
        candidates. Memory grows with ``block``, not with ``n_examinees``.
    return_details : bool
        Also return per-candidate arrays and administered items.

    Returns
    -------
    dict
        ``n, rmse, bias, mean_se, mean_length, min_length, max_length,
        max_exposure, exposure_above_0_2, unused_items, overlap, stop_reasons,
        per_bin, seconds`` and, with a cut, ``accuracy, false_pass,
        false_fail``. With ``return_details`` also ``details``.

    Notes
    -----
    A block of candidates advances one item at a time together: the same
    rules as :func:`~cat_server.irt.engine.step` (EAP, stopping, content,
    enemies, selection, exposure) on ``(block, n_items)`` arrays. Configurations
    whose rules depend on the candidates before (``max_exposure_rate``) or
    that seed pretest items or use KL selection run :func:`step` candidate by
    candidate instead.

    Runs pair: the answers (one uniform draw per candidate and item) and the
    attempt seeds are drawn from ``rng`` block by block in the same order
    whatever ``cfg`` says; the random choices of the exposure rules come from
    a child stream (``rng.spawn``). Two runs given generators seeded alike
    therefore test the same candidates with the same answers, with and without
    exposure control. Exposure rate of item :math:`j`: :math:`r_j = c_j / N`.
    Test overlap is the expected share of a test shared by two random
    candidates,

    .. math:: T = \frac{\sum_j c_j (c_j - 1)}{N (N - 1) \bar L}
    """
    t0 = time.perf_counter()
    theta = np.asarray(theta, dtype=float)
    n = theta.shape[0]
    gen = bank.items if true_items is None else true_items
    if block is None:  # about 2 MB a (block, n_items) array: cache-sized rounds
        block = int(np.clip(2**18 // max(bank.n_items, 1), 16, 1024))
    vectorised = (
        cfg.max_exposure_rate is None
        and not ((cfg.pretest_rate > 0 or cfg.pretest_spread) and cfg.pretest_max > 0)
        and cfg.selection in ("mfi", "pwi")
    )
    # answers and attempt seeds come from ``rng`` in the same order whatever the
    # rules; the draws of randomesque/progressive/pretest seeding from a child
    # stream, so runs with and without exposure control meet the same candidates
    picks = _child(rng)
    counts = np.zeros(bank.n_items)
    est = np.zeros(n)
    se = np.zeros(n)
    length = np.zeros(n, dtype=np.int64)
    reasons = {}
    given_all = []
    scores_all = []
    keep = return_details or final_estimator != "eap"
    for start in range(0, n, block):
        stop = min(n, start + block)
        resp = simulate_responses(theta[start:stop], gen, rng)
        seeds = rng.integers(2**62, size=stop - start)
        run = _run_block if vectorised else _run_loop
        out = run(bank, cfg, resp, seeds, picks, counts, start)
        est[start:stop], se[start:stop], length[start:stop] = out["theta"], out["se"], out["n_op"]
        for r, k in zip(*np.unique(out["reason"], return_counts=True), strict=True):
            reasons[str(r)] = reasons.get(str(r), 0) + int(k)
        items, scores, n_given = out["items"], out["scores"], out["n_given"]
        counts += np.bincount(items[items >= 0], minlength=bank.n_items)
        if final_estimator != "eap":
            est[start:stop], se[start:stop] = _final(bank, items, scores, final_estimator)
        if keep:
            for i in range(stop - start):
                given_all.append(items[i, : n_given[i]].copy())
                scores_all.append(scores[i, : n_given[i]].copy())
    err = est - theta
    rates = counts / n
    mean_len = float(length.mean())
    overlap = float((counts * (counts - 1)).sum() / (n * (n - 1) * mean_len)) if n > 1 else 1.0
    report = {
        "n": n,
        "rmse": float(np.sqrt((err**2).mean())),
        "bias": float(err.mean()),
        "mean_se": float(se.mean()),
        "mean_length": mean_len,
        "min_length": int(length.min()),
        "max_length": int(length.max()),
        "max_exposure": float(rates.max()),
        "exposure_above_0_2": float((rates > 0.2).mean()),
        "unused_items": float((rates == 0).mean()),
        "overlap": overlap,
        "stop_reasons": reasons,
        "per_bin": _bins(np.asarray(bin_edges, dtype=float), theta, est, se, length),
    }
    cut = cfg.cut if cut is None else cut
    if cut is not None:
        passed, truth = est >= cut, theta >= cut
        report["cut"] = float(cut)
        report["accuracy"] = float((passed == truth).mean())
        report["false_pass"] = float((passed & ~truth).mean())
        report["false_fail"] = float((~passed & truth).mean())
    report["seconds"] = time.perf_counter() - t0
    if return_details:
        report["details"] = {
            "theta": theta,
            "estimate": est,
            "se": se,
            "length": length,
            "items": given_all,
            "scores": scores_all,
            "exposure": rates,
        }
    return report


def _child(rng):
    """An independent generator derived from ``rng`` without drawing from it."""
    try:
        return rng.spawn(1)[0]
    except (AttributeError, TypeError, ValueError):  # no SeedSequence: one draw instead
        return np.random.default_rng(rng.bit_generator.random_raw())


def _final(bank, items, scores, method):
    """Final estimates of a block from its operational answers (pretest answers left out)."""
    used = np.unique(items[items >= 0])
    used = used[~bank.pretest[used]]
    col = np.full(bank.n_items, -1)
    col[used] = np.arange(used.size)
    x = np.full((items.shape[0], used.size), -1, dtype=np.int64)
    rows, k = np.nonzero(items >= 0)
    j = items[rows, k]
    op = col[j] >= 0
    x[rows[op], col[j[op]]] = scores[rows[op], k[op]]
    return estimate(x, bank.items.subset(used), method)


def _run_loop(bank, cfg, resp, seeds, rng, counts, offset):
    """:func:`step` candidate by candidate (rules that need the candidates before)."""
    b = resp.shape[0]
    width = cfg.max_length + max(cfg.pretest_max, 0)
    out = {
        "theta": np.zeros(b),
        "se": np.zeros(b),
        "n_op": np.zeros(b, dtype=np.int64),
        "n_given": np.zeros(b, dtype=np.int64),
        "items": np.full((b, width), -1, dtype=np.int64),
        "scores": np.full((b, width), -1, dtype=np.int64),
        "reason": np.empty(b, dtype=object),
    }
    seen = counts.copy()
    need_rates = cfg.max_exposure_rate is not None
    for i in range(b):
        state = CatState.new(bank, seed=int(seeds[i]))
        row = resp[i]
        while True:
            rates = seen / max(offset + i, 1) if need_rates else None
            res = step(bank, state, cfg, rng, exposure_rates=rates)
            if res.item is None:
                break
            state.record(bank, res.item, row[res.item], pretest=res.pretest)
        given = np.asarray(state.items, dtype=np.int64)
        seen[given] += 1
        m = given.size
        out["items"][i, :m] = given
        out["scores"][i, :m] = state.scores
        out["theta"][i], out["se"][i] = res.theta, res.se
        out["n_op"][i], out["n_given"][i], out["reason"][i] = (
            state.n_operational,
            m,
            res.stop_reason,
        )
    return out


_REASONS = np.array(
    [
        None,
        stopping.TIME,
        stopping.MAX_LENGTH,
        stopping.SE_REACHED,
        stopping.CLASSIFIED,
        stopping.EXHAUSTED,
    ],
    dtype=object,
)
_GOING, _TIME, _MAX, _SE, _CLASSIFIED, _EXHAUSTED = range(6)


def _run_block(bank, cfg, resp, seeds, rng, counts, offset):
    """:func:`step` for a block of candidates at once, one item per round.

    Arrays are ``(candidates, ...)``; selection works in the bank's internal
    section order, like the single step. Only candidates still testing are
    carried into the next round.
    """
    b, n = resp.shape
    n_sec = len(bank.section_names)
    length = cfg.max_length
    order = bank.order
    prior = bank.log_prior(cfg.prior_mean, cfg.prior_sd)
    ll = np.zeros((b, bank.grid.size))
    # one spare column: the padding of the enemy-group table points there
    blocked = np.zeros((b, n + 1), dtype=bank.blocked.dtype)
    blocked[:, :n] = bank.blocked
    members = _enemy_table(bank)
    sec_counts = np.zeros((b, n_sec), dtype=np.int64)
    n_op = np.zeros(b, dtype=np.int64)
    items = np.full((b, length), -1, dtype=np.int64)
    scores = np.full((b, length), -1, dtype=np.int64)
    theta_out, se_out = np.zeros(b), np.zeros(b)
    reason = np.zeros(b, dtype=np.int64)
    sprt = cfg.classification == "sprt" and cfg.cut is not None
    if sprt:
        t = np.array([cfg.cut + cfg.sprt_delta, cfg.cut - cfg.sprt_delta])
        lp_cut = np.ascontiguousarray(bank.items.log_probs(t).transpose(1, 2, 0))  # (n, K, 2)
        ll_cut = np.zeros((b, 2))
    rule = sel._content_rule(bank, cfg.content) if cfg.content else None
    bounds, table = bank.section_bounds, bank.info_sorted
    active = np.arange(b)
    while active.size:
        w = ll[active] + prior
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)
        mom = w @ bank.moments
        th = mom[:, 1] / mom[:, 0]
        sd = np.sqrt(np.maximum(mom[:, 2] / mom[:, 0] - th * th, 0.0))
        theta_out[active], se_out[active] = th, sd
        code = _stop_codes(
            cfg, rule, n_op[active], sec_counts[active], th, sd, ll_cut[active] if sprt else None
        )
        done = code != _GOING
        reason[active[done]] = code[done]
        go = ~done
        active, th, w = active[go], th[go], w[go]
        if not active.size:
            break
        if cfg.selection == "mfi":
            g = bank.info_grid
            pos = np.clip((th - g[0]) / (g[1] - g[0]), 0.0, len(g) - 1.000001)
            row = pos.astype(np.int64)
            f = (pos - row)[:, None]
        else:  # posterior-weighted information
            w /= w.sum(axis=1, keepdims=True)
        pick = np.full(active.size, -1)
        pending = np.arange(active.size)
        for allowed in _levels(rule, sec_counts[active], n_op[active], length, n_sec):
            # candidates allowed the same sections share one slice of the tables
            if allowed is None:
                groups = [(pending, list(range(n_sec)))]
            else:
                code = allowed[pending] @ (1 << np.arange(n_sec))
                groups = [
                    (pending[code == c], [t for t in range(n_sec) if c >> t & 1])
                    for c in np.unique(code)
                ]
            for sub, sections in groups:
                if not sections:
                    continue
                lo, hi = bounds[sections[0]][0], bounds[sections[-1]][1]
                if hi <= lo:
                    continue
                whole = sub.size == b  # every candidate of the block: views, not copies
                cand = active[sub]
                if cfg.selection == "mfi":
                    r, fr = (row, f) if whole else (row[sub], f[sub])
                    score = table[r, lo:hi]
                    score *= 1.0 - fr
                    upper = table[r + 1, lo:hi]
                    upper *= fr
                    score += upper
                else:
                    score = (w if whole else w[sub]) @ _info_quad_sorted(bank)[:, lo:hi]
                score += blocked[:, lo:hi] if whole else blocked[cand, lo:hi]
                for t in range(sections[0] + 1, sections[-1]):
                    if t not in sections:
                        score[:, bounds[t][0] - lo : bounds[t][1] - lo] = -np.inf
                p = _choose_rows(bank, score, cfg, rng, n_op[cand] / length, seeds[cand], lo)
                ok = p >= 0
                pick[sub[ok]] = p[ok] + lo
            pending = pending[pick[pending] < 0]
            if not pending.size:
                break
        empty = pick < 0
        reason[active[empty]] = _EXHAUSTED
        rows, p = active[~empty], pick[~empty]
        j = order[p]
        x = resp[rows, j]
        ll[rows] += bank.log_rows[bank.log_row0[j] + x]
        if sprt:
            ll_cut[rows] += lp_cut[j, x]
        blocked[rows, p] = -np.inf
        grp = bank.enemy[j]
        hit = grp >= 0
        if hit.any():
            blocked[rows[hit][:, None], members[grp[hit]]] = -np.inf
        sec_counts[rows, bank.section[j]] += 1
        items[rows, n_op[rows]] = j
        scores[rows, n_op[rows]] = x
        n_op[rows] += 1
        active = rows
    return {
        "theta": theta_out,
        "se": se_out,
        "n_op": n_op,
        "n_given": n_op,
        "items": items,
        "scores": scores,
        "reason": _REASONS[reason],
    }


def _enemy_table(bank):
    """Internal positions of each enemy group's items, padded with the spare column ``n``."""
    groups = bank.lists["enemy_positions"]
    if not groups:
        return np.zeros((0, 1), dtype=np.int64)
    width = max(len(v) for v in groups.values())
    table = np.full((len(groups), width), bank.n_items, dtype=np.int64)
    for g, v in groups.items():
        table[g, : len(v)] = v
    return table


def _stop_codes(cfg, rule, n_op, sec_counts, theta, se, ll_cut):
    """:func:`stopping.stop_reason` for many candidates: a code per candidate."""
    code = np.where(n_op >= cfg.max_length, _MAX, _GOING)
    free = (code == _GOING) & (n_op >= cfg.min_length)
    if rule is not None and rule[0]:
        free &= (sec_counts >= np.asarray(rule[1])).all(axis=1)
    if cfg.se_target is not None:
        hit = free & (se <= cfg.se_target)
        code[hit] = _SE
        free &= ~hit
    if cfg.cut is not None and cfg.classification == "ci":
        z = cfg.ci_z
        code[free & ((theta - z * se > cfg.cut) | (theta + z * se < cfg.cut))] = _CLASSIFIED
    elif cfg.cut is not None and cfg.classification == "sprt":
        lam = ll_cut[:, 0] - ll_cut[:, 1]
        upper = math.log((1.0 - cfg.beta) / cfg.alpha)
        lower = math.log(cfg.beta / (1.0 - cfg.alpha))
        code[free & (n_op > 0) & ((lam >= upper) | (lam <= lower))] = _CLASSIFIED
    return code


def _levels(rule, counts, n_op, length, n_sec):
    """:func:`selection.section_sets` per candidate: allowed-section masks, preferred first.

    ``None`` stands for every section.
    """
    if rule is None:
        yield None
        return
    b = counts.shape[0]
    every = np.ones((b, n_sec), dtype=bool)
    if rule[0]:
        lo, hi = np.asarray(rule[1]), np.asarray(rule[2])
        need = np.maximum(lo - counts, 0)
        open_ = counts < hi
        forced = (need > 0) & open_
        use = (need.sum(axis=1) >= length - n_op) & forced.any(axis=1)
        yield np.where(use[:, None], forced, open_)
        yield np.where(use[:, None], open_, every)
        return
    target = np.asarray(rule[1])
    gap = target - counts / (n_op[:, None] + 1.0)
    pref = np.argsort(-gap, axis=1, kind="stable")
    positive = target[pref] > 0
    pref = pref[positive].reshape(b, -1)
    rows = np.arange(b)
    for k in range(pref.shape[1]):
        allowed = np.zeros((b, n_sec), dtype=bool)
        allowed[rows, pref[:, k]] = True
        yield allowed
    yield every


def _info_quad_sorted(bank):
    """Information on the quadrature grid in internal order (cached; PWI only)."""
    table = bank.cache.get("info_quad_sorted")
    if table is None:
        table = bank.cache["info_quad_sorted"] = np.ascontiguousarray(bank.info_quad[:, bank.order])
    return table


def _choose_rows(bank, score, cfg, rng, progress, seeds, offset):
    """:func:`selection.choose` for many candidates on a slice starting at internal ``offset``.

    Returns positions in the slice, ``-1`` where nothing is selectable.
    """
    b, n = score.shape
    rows = np.arange(b)
    finite = score > -np.inf
    exposure, k = cfg.exposure, cfg.randomesque_k
    if exposure == "none" or (exposure == "randomesque" and k <= 1) or n == 1:
        best = score.argmax(axis=1)
        return np.where(finite[rows, best], best, -1)
    if exposure == "randomesque":
        k = min(k, n)
        top = np.argpartition(score, n - k, axis=1)[:, n - k :]
        ok = finite[rows[:, None], top]
        # uniform among the k best, or among all that are left when fewer
        key = np.where(ok, rng.random(top.shape), -1.0)
        pick = top[rows, key.argmax(axis=1)]
        return np.where(ok.any(axis=1), pick, -1)
    if exposure == "progressive":
        s = np.where(finite, score, 0.0)
        smax = s.max(axis=1, keepdims=True)
        p = progress[:, None]
        w = np.where(finite, (1.0 - p) * rng.random((b, n)) * smax + p * s, -np.inf)
        best = w.argmax(axis=1)
        return np.where(finite[rows, best], best, -1)
    if exposure == "sympson-hetter":
        m = min(n, 64)
        top = (
            np.argpartition(-score, m - 1, axis=1)[:, :m]
            if n > m
            else np.tile(np.arange(n), (b, 1))
        )
        vals = score[rows[:, None], top]
        rank = np.argsort(-vals, axis=1, kind="stable")
        top = top[rows[:, None], rank]
        ok = finite[rows[:, None], top]
        cand = bank.order[top + offset]
        if cfg.sh_k is None:
            accept = ok
        else:
            accept = ok & (sel.attempt_uniform(seeds[:, None], cand) < cfg.sh_k[cand])
        last = ok.sum(axis=1) - 1
        first = np.where(accept.any(axis=1), accept.argmax(axis=1), last)
        pick = top[rows, np.maximum(first, 0)]
        return np.where(last >= 0, pick, -1)
    raise ValueError(f"Unknown exposure method {exposure!r}.")


def sympson_hetter_parameters(
    bank,
    cfg,
    rng,
    *,
    r_max=0.25,
    n_examinees=1000,
    n_rounds=8,
    theta=None,
    theta_mean=0.0,
    theta_sd=1.0,
):
    r"""Sympson–Hetter exposure parameters by iterated simulation.

    Parameters
    ----------
    bank : Bank
    cfg : CatConfig
        The test design (its ``exposure`` is replaced by Sympson–Hetter).
    rng : numpy.random.Generator
    r_max : float, default 0.25
        Target ceiling of the exposure rate.
    n_examinees : int
        Candidates per round, abilities drawn from
        :math:`N(\text{theta\_mean}, \text{theta\_sd}^2)` unless ``theta``.
    n_rounds : int
    theta : ndarray, optional
        Fixed abilities used in every round instead of draws.

    Returns
    -------
    ndarray of shape (n_items,)
        :math:`K_j \in (0, 1]`.

    Notes
    -----
    With selection rate :math:`P(S_j) = P(A_j) / K_j` estimated from the
    administration rate :math:`P(A_j)` of the previous round,

    .. math:: K_j \leftarrow \begin{cases} 1 & P(S_j) \le r \\ r / P(S_j) & P(S_j) > r \end{cases}

    The parameters hold exposure near ``r_max`` on average over candidates like
    those of the rounds, not exactly: a new sample's maximum rate lands a few
    points above ``r_max`` (docs/engine.md). ``CatConfig(max_exposure_rate=r)``
    is the hard ceiling. The CLI (``simulate --exposure sympson-hetter:R``)
    calls this function with these defaults, so both compute the same
    parameters.
    """
    k = np.ones(bank.n_items)
    for _ in range(n_rounds):
        th = rng.normal(theta_mean, theta_sd, n_examinees) if theta is None else np.asarray(theta)
        run = dataclasses.replace(cfg, exposure="sympson-hetter", sh_k=k)
        rep = simulate_cat(bank, run, th, rng, return_details=True)
        p_a = rep["details"]["exposure"]
        p_s = p_a / k
        k = np.where(p_s > r_max, r_max / np.maximum(p_s, 1e-12), 1.0)
        k = np.clip(k, 1e-3, 1.0)
    return k
