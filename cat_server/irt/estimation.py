r"""Ability estimation for response patterns: EAP, MAP, MLE, WLE (Warm).

All estimators take a response vector ``(n_items,)`` or matrix
``(n_persons, n_items)`` of integer scores with ``-1`` for items not
presented, and an :class:`~cat_server.irt.models.Items` set. They return
``(theta, se)`` (floats for a vector, arrays for a matrix).

Every estimate is finite. The MLE searches ``[-bound, bound]``: an
all-correct / all-wrong pattern has no finite MLE and gives ``±bound``. The
WLE and the MAP have a finite root for every pattern; when it lies past
``±bound`` the search interval doubles (up to 16 x ``bound``) rather than
return the bound. A pattern with no presented item gives the prior mean and
prior SD (MLE and WLE: 0 and ``bound``).
"""

from __future__ import annotations

import numpy as np

_H = 1e-4
_WIDEN = 4  # WLE and MAP search up to 16 x bound


def _prep(responses, items):
    x = np.asarray(responses)
    single = x.ndim == 1
    x = np.atleast_2d(x).astype(np.int64)
    if x.shape[1] != items.n_items:
        raise ValueError(f"responses have {x.shape[1]} columns for {items.n_items} items.")
    if ((x >= items.n_cat) | (x < -1)).any():
        raise ValueError("A score is out of range for its item.")
    return x, single


def _out(theta, se, single):
    if single:
        return float(theta[0]), float(se[0])
    return theta, se


def log_likelihood_grid(responses, items, grid):
    r"""Log-likelihood of each pattern at each grid point.

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
    items : Items
    grid : ndarray of shape (n_quad,)

    Returns
    -------
    ndarray of shape (n_persons, n_quad)

    Notes
    -----
    .. math:: \ell_{pq} = \sum_j \sum_k [x_{pj} = k] \log P_{jk}(\theta_q)

    computed as one matrix product of the one-hot responses with the
    ``(n_items * n_cat, n_quad)`` table.
    """
    x = np.asarray(responses)
    lp = items.log_probs(grid)  # (Q, J, K)
    K = lp.shape[2]
    if K == 2:
        return (x == 1) @ (lp[:, :, 1].T) + (x == 0) @ (lp[:, :, 0].T)
    onehot = (x[:, :, None] == np.arange(K)).reshape(x.shape[0], -1)
    return onehot @ lp.reshape(lp.shape[0], -1).T


def eap(responses, items, *, prior_mean=0.0, prior_sd=1.0, n_quad=61, bound=4.0):
    r"""Expected a posteriori estimate with a normal prior.

    Parameters
    ----------
    responses : ndarray of int, shape (n_items,) or (n_persons, n_items)
    items : Items
    prior_mean, prior_sd : float
    n_quad : int
        Quadrature points, evenly spaced on :math:`\mu \pm` ``bound`` ·
        :math:`\sigma`.
    bound : float

    Returns
    -------
    theta, se : float or ndarray of shape (n_persons,)
        Posterior mean and posterior standard deviation.

    Notes
    -----
    .. math::
        \hat\theta = \frac{\sum_q \theta_q L(\theta_q) \phi(\theta_q)}
                          {\sum_q L(\theta_q) \phi(\theta_q)}
    """
    x, single = _prep(responses, items)
    grid = prior_mean + prior_sd * np.linspace(-bound, bound, n_quad)
    lp = log_likelihood_grid(x, items, grid)
    lp = lp - 0.5 * ((grid - prior_mean) / prior_sd) ** 2
    w = np.exp(lp - lp.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    theta = w @ grid
    se = np.sqrt(np.maximum(w @ grid**2 - theta**2, 0.0))
    return _out(theta, se, single)


def _derivatives(theta, items, x):
    """Score S, information I and Warm's J at theta (one theta per person)."""
    t = np.concatenate([theta - _H, theta, theta + _H])
    p = items.probs(t).reshape(3, theta.shape[0], items.n_items, -1)
    p_lo, p0, p_hi = p
    dp = (p_hi - p_lo) / (2 * _H)
    d2p = (p_hi - 2 * p0 + p_lo) / (_H * _H)
    p0 = np.maximum(p0, 1e-300)
    ok = x >= 0
    xi = np.where(ok, x, 0)[..., None]
    p_x = np.take_along_axis(p0, xi, -1)[..., 0]
    dp_x = np.take_along_axis(dp, xi, -1)[..., 0]
    score = np.where(ok, dp_x / p_x, 0.0).sum(axis=1)
    info = np.where(ok, (dp * dp / p0).sum(-1), 0.0).sum(axis=1)
    warm_j = np.where(ok, (dp * d2p / p0).sum(-1), 0.0).sum(axis=1)
    return score, info, warm_j


def _solve(x, items, kind, prior_mean, prior_sd, bound, start, tol=1e-7, max_iter=60):
    """Safeguarded Newton (Fisher scoring inside a bisection bracket), vectorised."""
    n = x.shape[0]

    def f(theta):
        s, info, j = _derivatives(theta, items, x)
        if kind == "wle":
            s = s + j / (2.0 * np.maximum(info, 1e-12))
        elif kind == "map":
            s = s - (theta - prior_mean) / prior_sd**2
            info = info + 1.0 / prior_sd**2
        return s, info

    lo = np.full(n, -float(bound))
    hi = np.full(n, float(bound))
    f_lo, _ = f(lo)
    f_hi, _ = f(hi)
    if kind != "mle":
        # Warm's and the posterior's roots are finite even for all-correct or
        # all-wrong patterns, and may lie past the bound (70 Rasch items of
        # b = 0, all correct: WLE log 141 = 4.95): widen the bracket until it
        # holds the root rather than return the bound.
        for _ in range(_WIDEN):
            out_hi, out_lo = f_hi > 0, f_lo < 0
            if not (out_hi.any() or out_lo.any()):
                break
            hi = np.where(out_hi, 2.0 * hi, hi)
            lo = np.where(out_lo, 2.0 * lo, lo)
            f_hi, _ = f(hi)
            f_lo, _ = f(lo)
    theta = np.clip(start, lo, hi)
    lo0, hi0 = lo.copy(), hi.copy()
    # strict: a score function that is exactly 0 at an end has underflowed there
    done_lo = f_lo < 0  # decreasing already at the lower end: estimate is the lower end
    done_hi = f_hi > 0
    for _ in range(max_iter):
        fv, info = f(theta)
        lo = np.where(fv > 0, theta, lo)
        hi = np.where(fv > 0, hi, theta)
        new = theta + fv / np.maximum(info, 1e-12)
        out = (new <= lo) | (new >= hi) | ~np.isfinite(new)
        new = np.where(out, 0.5 * (lo + hi), new)
        moved = np.abs(new - theta)
        theta = new
        if np.all((moved < tol) | done_lo | done_hi):
            break
    theta = np.where(done_lo & ~done_hi, lo0, theta)
    theta = np.where(done_hi & ~done_lo, hi0, theta)
    return theta


def _point(responses, items, kind, prior_mean, prior_sd, bound):
    x, single = _prep(responses, items)
    start, _ = eap(x, items, prior_mean=prior_mean, prior_sd=prior_sd)
    theta = _solve(x, items, kind, prior_mean, prior_sd, bound, np.atleast_1d(start))
    _, info, _ = _derivatives(theta, items, x)
    if kind == "map":
        info = info + 1.0 / prior_sd**2
    none = (x < 0).all(axis=1)
    se = 1.0 / np.sqrt(np.maximum(info, 1.0 / bound**2))
    if kind != "map":
        theta = np.where(none, 0.0, theta)
        se = np.where(none, bound, se)
    else:
        theta = np.where(none, prior_mean, theta)
    return _out(theta, se, single)


def mle(responses, items, *, bound=4.0):
    r"""Maximum likelihood estimate, bounded to ``[-bound, bound]``.

    Returns
    -------
    theta, se : float or ndarray
        :math:`SE = 1 / \sqrt{I(\hat\theta)}` (capped at ``bound``).

    Notes
    -----
    Solves :math:`\sum_j \partial_\theta \log P_{j x_j}(\theta) = 0`; all-correct
    patterns give ``+bound``, all-wrong ``-bound``.
    """
    return _point(responses, items, "mle", 0.0, 1.0, bound)


def wle(responses, items, *, bound=4.0):
    r"""Warm's weighted likelihood estimate.

    Parameters
    ----------
    responses : ndarray of int, shape (n_items,) or (n_persons, n_items)
    items : Items
    bound : float, default 4
        First search interval ``[-bound, bound]``; widened (doubling, up to
        16 x) for patterns whose root lies outside it.

    Returns
    -------
    theta, se : float or ndarray
        :math:`SE = 1 / \sqrt{I(\hat\theta)}`.

    Notes
    -----
    Solves Warm's (1989) bias-corrected estimating equation

    .. math::
        \sum_j \frac{\partial \log P_{j x_j}}{\partial\theta} + \frac{J(\theta)}{2 I(\theta)} = 0,
        \quad J = \sum_j \sum_k \frac{P'_{jk} P''_{jk}}{P_{jk}}

    which has a finite root for all-correct and all-wrong patterns.
    """
    return _point(responses, items, "wle", 0.0, 1.0, bound)


def map_estimate(responses, items, *, prior_mean=0.0, prior_sd=1.0, bound=6.0):
    r"""Maximum a posteriori (Bayes modal) estimate with a normal prior.

    Returns
    -------
    theta, se : float or ndarray
        :math:`SE = 1 / \sqrt{I(\hat\theta) + 1/\sigma^2}`.

    Notes
    -----
    .. math:: \hat\theta = \arg\max_\theta\; \ell(\theta) - \frac{(\theta - \mu)^2}{2\sigma^2}
    """
    return _point(responses, items, "map", prior_mean, prior_sd, bound)


def estimate(responses, items, method="eap", **kwargs):
    """Dispatch to :func:`eap`, :func:`map_estimate`, :func:`mle` or :func:`wle`."""
    fn = {"eap": eap, "map": map_estimate, "mle": mle, "wle": wle}.get(method)
    if fn is None:
        raise ValueError(f"Unknown estimator {method!r}.")
    return fn(responses, items, **kwargs)
