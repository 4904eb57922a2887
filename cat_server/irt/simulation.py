r"""Simulation of adaptive tests: virtual candidates of known ability.

:func:`simulate_cat` runs ``N`` candidates through a prepared bank with a
:class:`~cat_server.irt.engine.CatConfig` (the same :func:`step` the server
uses) and reports recovery, precision, length, exposure and classification.
:func:`sympson_hetter_parameters` computes Sympson–Hetter exposure parameters
by iterated simulation.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

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
    block=256,
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
    block : int
        Candidates whose full response vectors are drawn at once.
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
    Exposure rate of item :math:`j`: :math:`r_j = c_j / N`. Test overlap is
    the expected share of a test shared by two random candidates,

    .. math:: T = \frac{\sum_j c_j (c_j - 1)}{N (N - 1) \bar L}
    """
    t0 = time.perf_counter()
    theta = np.asarray(theta, dtype=float)
    n = theta.shape[0]
    gen = bank.items if true_items is None else true_items
    counts = np.zeros(bank.n_items)
    est = np.zeros(n)
    se = np.zeros(n)
    length = np.zeros(n, dtype=np.int64)
    reasons = {}
    given_all = []
    scores_all = []
    need_rates = cfg.max_exposure_rate is not None
    for start in range(0, n, block):
        stop = min(n, start + block)
        resp = simulate_responses(theta[start:stop], gen, rng)
        for i in range(start, stop):
            state = CatState.new(bank, seed=int(rng.integers(2**62)))
            row = resp[i - start]
            while True:
                rates = counts / max(i, 1) if need_rates else None
                res = step(bank, state, cfg, rng, exposure_rates=rates)
                if res.item is None:
                    break
                state.record(bank, res.item, row[res.item], pretest=res.pretest)
            reasons[res.stop_reason] = reasons.get(res.stop_reason, 0) + 1
            items = np.asarray(state.items, dtype=np.int64)
            counts[items] += 1
            est[i], se[i] = res.theta, res.se
            length[i] = state.n_operational
            if final_estimator != "eap" or return_details:
                given_all.append(items)
                scores_all.append(np.asarray(state.scores))
    if final_estimator != "eap":
        x = np.full((n, bank.n_items), -1, dtype=np.int64)
        for i, (items, sc) in enumerate(zip(given_all, scores_all, strict=True)):
            x[i, items] = sc
        x[:, bank.pretest] = -1
        used = np.flatnonzero((counts > 0) & ~bank.pretest)  # unused columns cost time only
        est, se = estimate(x[:, used], bank.items.subset(used), final_estimator)
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


def sympson_hetter_parameters(
    bank, cfg, rng, *, r_max=0.25, n_examinees=1000, n_rounds=8, theta=None
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
        Candidates per round, abilities :math:`N(0, 1)` unless ``theta``.
    n_rounds : int

    Returns
    -------
    ndarray of shape (n_items,)
        :math:`K_j \in (0, 1]`.

    Notes
    -----
    With selection rate :math:`P(S_j) = P(A_j) / K_j` estimated from the
    administration rate :math:`P(A_j)` of the previous round,

    .. math:: K_j \leftarrow \begin{cases} 1 & P(S_j) \le r \\ r / P(S_j) & P(S_j) > r \end{cases}
    """
    k = np.ones(bank.n_items)
    for _ in range(n_rounds):
        th = rng.standard_normal(n_examinees) if theta is None else np.asarray(theta)
        run = dataclasses.replace(cfg, exposure="sympson-hetter", sh_k=k)
        rep = simulate_cat(bank, run, th, rng, return_details=True)
        p_a = rep["details"]["exposure"]
        p_s = p_a / k
        k = np.where(p_s > r_max, r_max / np.maximum(p_s, 1e-12), 1.0)
        k = np.clip(k, 1e-3, 1.0)
    return k
