r"""Stopping rules: fixed length, SE target, time, classification.

:func:`stop_reason` is what :func:`cat_server.irt.step` calls; it returns a
short reason string, or ``None`` to continue.
"""

from __future__ import annotations

import math

import numpy as np

MAX_LENGTH = "max_length"
SE_REACHED = "se"
TIME = "time"
CLASSIFIED = "classified"
EXHAUSTED = "bank_exhausted"


def sprt_decision(log_lik_hi, log_lik_lo, alpha=0.05, beta=0.05):
    r"""Wald's sequential probability ratio test around a cut score.

    Parameters
    ----------
    log_lik_hi, log_lik_lo : float
        Log-likelihood of the responses at :math:`\theta_c + \delta` and at
        :math:`\theta_c - \delta`.
    alpha, beta : float
        Nominal error rates (false pass, false fail).

    Returns
    -------
    int
        ``1`` pass, ``-1`` fail, ``0`` undecided.

    Notes
    -----
    .. math::
        \Lambda = \ell(\theta_c + \delta) - \ell(\theta_c - \delta), \quad
        \text{pass if } \Lambda \ge \log\frac{1 - \beta}{\alpha}, \quad
        \text{fail if } \Lambda \le \log\frac{\beta}{1 - \alpha}
    """
    lam = log_lik_hi - log_lik_lo
    if lam >= math.log((1.0 - beta) / alpha):
        return 1
    if lam <= math.log(beta / (1.0 - alpha)):
        return -1
    return 0


def ci_decision(theta, se, cut, z=1.96):
    r"""Confidence-interval classification: decided once the interval excludes the cut.

    Returns
    -------
    int
        ``1`` if :math:`\hat\theta - z\,SE > \theta_c`, ``-1`` if
        :math:`\hat\theta + z\,SE < \theta_c`, else ``0``.
    """
    if theta - z * se > cut:
        return 1
    if theta + z * se < cut:
        return -1
    return 0


def stop_reason(cfg, n_given, theta, se, *, elapsed=None, minima_met=True, sprt_ll=None):
    r"""Why the test stops now, or ``None``.

    Parameters
    ----------
    cfg : CatConfig
    n_given : int
        Operational items answered.
    theta, se : float
        Current estimate and standard error.
    elapsed : float, optional
        Seconds used; compared with ``cfg.time_limit``.
    minima_met : bool
        Whether the content minima are satisfied (variable-length rules wait
        for them).
    sprt_ll : tuple of float, optional
        ``(loglik(cut + delta), loglik(cut - delta))`` for the SPRT.

    Returns
    -------
    str or None
        ``"time"``, ``"max_length"``, ``"se"``, ``"classified"`` or ``None``.
    """
    if cfg.time_limit is not None and elapsed is not None and elapsed >= cfg.time_limit:
        return TIME
    if n_given >= cfg.max_length:
        return MAX_LENGTH
    if n_given < cfg.min_length or not minima_met:
        return None
    if cfg.se_target is not None and se <= cfg.se_target:
        return SE_REACHED
    if cfg.cut is not None and cfg.classification:
        if cfg.classification == "sprt" and sprt_ll is not None:
            decided = sprt_decision(*sprt_ll, alpha=cfg.alpha, beta=cfg.beta)
        elif cfg.classification == "ci":
            decided = ci_decision(theta, se, cfg.cut, cfg.ci_z)
        else:
            decided = 0
        if decided:
            return CLASSIFIED
    return None


def classify(theta, cut):
    """Pass (True) when ``theta >= cut``; vectorised."""
    return np.asarray(theta) >= cut
