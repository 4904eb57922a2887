r"""Item calibration by marginal maximum likelihood (Bock–Aitkin EM).

:func:`calibrate` estimates 1PL, 2PL, 3PL, GRM or GPCM parameters from a
response matrix with missing cells (``-1``), optionally with fixed anchor
items (fixed-item-parameter calibration of pretest items).

Algorithm
---------
E-step: with quadrature nodes :math:`\theta_q` and weights :math:`\pi_q`
(normal latent distribution),

.. math::
    w_{pq} = \frac{L_p(\theta_q)\pi_q}{\sum_r L_p(\theta_r)\pi_r}, \quad
    r_{jkq} = \sum_p [x_{pj} = k]\, w_{pq}

M-step: each item maximises
:math:`\sum_{k,q} r_{jkq} \log P_{jk}(\theta_q; \xi_j) + \log p(\xi_j)` by
Newton's method, all items at once (the problem is separable by item; the
gradient and Hessian are taken by central differences on the transformed
parameters :math:`\xi_j`: :math:`\log a`, intercept :math:`-ab`,
:math:`\operatorname{logit} c`, ordered GRM thresholds).

Standard errors use the cross-product of the persons' marginal scores
(XPD, the empirical information of each item's block) and the delta method
back to :math:`a, b, c, b_k`. When anchors are given, the mean and SD of the
latent distribution are estimated too (the anchors fix the scale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit, logit, logsumexp

from .models import DICHOTOMOUS, GPCM, GRM, Items

MODELS = ("1pl", "2pl", "3pl", "grm", "gpcm")
_H = 1e-4
_LOGA = (np.log(0.05), np.log(8.0))


@dataclass
class CalibrationResult:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    items : Items
        Estimated parameters (anchors keep their given values).
    se : dict of str to ndarray
        Standard errors: ``"a"``, ``"b"`` and ``"c"`` (dichotomous) or ``"a"``
        and ``"b"`` of shape (n_items, m) (polytomous). NaN for anchors.
    model : str
    log_likelihood : float
        Final marginal log-likelihood.
    n_iter : int
    converged : bool
    latent_mean, latent_sd : float
    fit : dict of str to ndarray
        ``"infit"`` and ``"outfit"`` mean squares per item (EAP abilities).
    seconds : float
    history : list of float
        Marginal log-likelihood per iteration.
    """

    items: Items
    se: dict
    model: str
    log_likelihood: float
    n_iter: int
    converged: bool
    latent_mean: float = 0.0
    latent_sd: float = 1.0
    fit: dict = field(default_factory=dict)
    seconds: float = 0.0
    history: list = field(default_factory=list)


class _Spec:
    """Transformed-parameter layout of one model."""

    def __init__(self, model, n_cat, D, c_prior, a_prior):
        self.model = model
        self.n_cat = n_cat
        self.D = D
        self.c_prior = c_prior
        self.a_prior = a_prior
        self.m = int(n_cat.max()) - 1
        self.code = {"grm": GRM, "gpcm": GPCM}.get(model, DICHOTOMOUS)
        if model in ("1pl", "2pl"):
            self.P = 2
        elif model == "3pl":
            self.P = 3
        else:
            self.P = 1 + self.m
        J = n_cat.shape[0]
        self.active = np.ones((J, self.P), dtype=bool)
        if self.code != DICHOTOMOUS:
            self.active[:, 1:] = np.arange(self.m)[None, :] < (n_cat[:, None] - 1)
        if model == "1pl":
            self.active[:, 0] = False  # the common slope is updated separately

    def items(self, xi):
        J = xi.shape[0]
        a = np.exp(np.clip(xi[:, 0], *_LOGA))
        one, zero = np.ones(J), np.zeros(J)
        if self.code == DICHOTOMOUS:
            b = -xi[:, 1] / a
            c = expit(xi[:, 2]) if self.model == "3pl" else zero
            thr = np.full((J, 1), np.nan)
            return Items(np.zeros(J, np.int8), a, b, c, one, thr, np.full(J, 2), self.D)
        raw = xi[:, 1:]
        if self.code == GRM:
            steps = np.concatenate([raw[:, :1], np.exp(np.clip(raw[:, 1:], -10, 3))], axis=1)
            thr = np.cumsum(steps, axis=1)
        else:
            thr = raw.copy()
        thr = np.where(self.active[:, 1:], thr, np.nan)
        code = np.full(J, self.code, np.int8)
        return Items(code, a, zero, zero, one, thr, self.n_cat, self.D)

    def natural(self, xi):
        """Natural parameters as a (J, P) matrix: a, b, [c] or a, b_1..b_m."""
        it = self.items(xi)
        if self.code == DICHOTOMOUS:
            cols = [it.a, it.b] + ([it.c] if self.model == "3pl" else [])
            return np.stack(cols, axis=1)
        return np.concatenate([it.a[:, None], it.thresholds], axis=1)

    def from_items(self, it):
        J = it.n_items
        xi = np.zeros((J, self.P))
        xi[:, 0] = np.log(it.a)
        if self.code == DICHOTOMOUS:
            xi[:, 1] = -it.a * it.b
            if self.model == "3pl":
                xi[:, 2] = logit(np.clip(it.c, 1e-4, 0.99))
            return xi
        thr = it.thresholds[:, : self.m]
        if thr.shape[1] < self.m:
            thr = np.pad(thr, ((0, 0), (0, self.m - thr.shape[1])), constant_values=np.nan)
        if self.code == GRM:
            d = np.diff(np.nan_to_num(thr), axis=1)
            xi[:, 1] = thr[:, 0]
            xi[:, 2:] = np.log(np.maximum(d, 1e-3))
        else:
            xi[:, 1:] = np.nan_to_num(thr)
        return np.where(self.active | (np.arange(self.P) == 0), xi, 0.0)

    def log_prior(self, xi):
        out = np.zeros(xi.shape[0])
        if self.model == "3pl" and self.c_prior is not None:
            al, be = self.c_prior
            c = expit(xi[:, 2])
            out += (al - 1) * np.log(c) + (be - 1) * np.log1p(-c)
        if self.a_prior is not None:
            mu, sd = self.a_prior
            out -= 0.5 * ((xi[:, 0] - mu) / sd) ** 2
        return out

    def log_table(self, xi, grid):
        """log P, shape (J, K, Q)."""
        return np.log(np.maximum(self.items(xi).probs(grid), 1e-300)).transpose(1, 2, 0)


def _objective(spec, xi, r, grid):
    lp = spec.log_table(xi, grid)
    K = r.shape[1]
    return (r * lp[:, :K]).sum(axis=(1, 2)) + spec.log_prior(xi)


def _grad_hess(f, xi, active):
    """Central-difference gradient and Hessian of a separable objective (J,P)->(J,)."""
    J, P = xi.shape
    f0 = f(xi)
    g = np.zeros((J, P))
    H = np.zeros((J, P, P))
    fp, fm = {}, {}
    cols = [p for p in range(P) if active[:, p].any()]
    for p in cols:
        e = np.zeros(P)
        e[p] = _H
        fp[p], fm[p] = f(xi + e), f(xi - e)
        g[:, p] = (fp[p] - fm[p]) / (2 * _H)
        H[:, p, p] = (fp[p] - 2 * f0 + fm[p]) / _H**2
    for i, p in enumerate(cols):
        for q in cols[i + 1 :]:
            e1 = np.zeros(P)
            e1[p] = _H
            e2 = np.zeros(P)
            e2[q] = _H
            v = (f(xi + e1 + e2) - f(xi + e1 - e2) - f(xi - e1 + e2) + f(xi - e1 - e2)) / (
                4 * _H * _H
            )
            H[:, p, q] = H[:, q, p] = v
    g = np.where(active, g, 0.0)
    mask = active[:, :, None] & active[:, None, :]
    H = np.where(mask, H, 0.0) - np.eye(P) * (~active)[:, :, None]
    return f0, g, H


def _newton(f, xi, active, n_steps=4):
    """A few damped Newton steps per item, with step halving; returns xi, H."""
    H = None
    for _ in range(n_steps):
        f0, g, H = _grad_hess(f, xi, active)
        # Make the Hessian negative definite (Levenberg damping) where it is not.
        eig = np.linalg.eigvalsh(H)
        shift = np.maximum(eig.max(axis=1) + 1e-3, 0.0)
        Hd = H - shift[:, None, None] * np.eye(H.shape[1])
        delta = -np.linalg.solve(Hd, g[..., None])[..., 0]
        delta = np.where(active, delta, 0.0)
        big = np.abs(delta).max(axis=1, keepdims=True)
        delta = delta / np.maximum(big, 1.0)  # at most one unit per step
        t = np.ones(xi.shape[0])
        for _ in range(12):
            cand = xi + t[:, None] * delta
            worse = f(cand) < f0 - 1e-10
            if not worse.any():
                break
            t = np.where(worse, t * 0.5, t)
        t = np.where(f(xi + t[:, None] * delta) < f0 - 1e-10, 0.0, t)
        xi = xi + t[:, None] * delta
        if np.abs(t[:, None] * delta).max() < 1e-7:
            break
    return xi, H


def _initial(model, x, n_cat, observed):
    J = x.shape[1]
    m = int(n_cat.max()) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        if model in ("1pl", "2pl", "3pl"):
            p = ((x == 1) & observed).sum(0) / np.maximum(observed.sum(0), 1)
            p = np.clip(p, 0.02, 0.98)
            xi = np.zeros((J, 2 if model != "3pl" else 3))
            xi[:, 1] = logit(p) * 1.2
            if model == "3pl":
                xi[:, 0] = np.log(1.2)
                xi[:, 2] = logit(0.15)
            return xi
        xi = np.zeros((J, 1 + m))
        thr = np.zeros((J, m))
        for k in range(1, m + 1):
            pk = ((x >= k) & observed).sum(0) / np.maximum(observed.sum(0), 1)
            thr[:, k - 1] = -logit(np.clip(pk, 0.02, 0.98))
        thr = np.maximum.accumulate(thr + np.arange(m) * 1e-2, axis=1)
        if model == "grm":
            xi[:, 1] = thr[:, 0]
            xi[:, 2:] = np.log(np.maximum(np.diff(thr, axis=1), 0.05))
        else:
            xi[:, 1:] = thr
        return xi


def calibrate(
    responses,
    model="2pl",
    *,
    D=1.0,
    n_cat=None,
    n_quad=41,
    quad_range=(-6.0, 6.0),
    max_iter=500,
    tol=1e-4,
    c_prior=(5.0, 17.0),
    a_prior=None,
    anchors=None,
    estimate_latent=None,
    compute_se=True,
    callback=None,
):
    r"""Marginal maximum likelihood calibration (Bock–Aitkin EM).

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
        Scores ``0 .. m``, ``-1`` for not presented.
    model : {"1pl", "2pl", "3pl", "grm", "gpcm"}
        ``"1pl"`` estimates one common slope; ``"3pl"`` uses a
        :math:`\mathrm{Beta}(\alpha, \beta)` prior on ``c``.
    D : float, default 1.0
        Scaling constant of the reported parameters.
    n_cat : ndarray of int, shape (n_items,), optional
        Categories per item (default: highest observed score + 1, at least 2).
    n_quad : int, default 41
        Quadrature nodes on ``quad_range``.
    max_iter : int, default 500
    tol : float, default 1e-4
        Convergence: largest change of a natural parameter between iterations.
    c_prior : (float, float) or None, default (5, 17)
        Beta prior of the lower asymptote (3PL; mean 0.23).
    a_prior : (float, float) or None
        Normal prior (mean, sd) on :math:`\log a`; default ``(0, 0.5)`` for
        the 3PL, none otherwise.
    anchors : dict of int to Items-row, optional
        ``{column: items_row}`` where ``items_row`` is an :class:`Items` of one
        item (or ``(items, index)``): these columns keep their parameters.
    estimate_latent : bool, optional
        Estimate the latent mean and SD (default: when anchors are given).
    compute_se : bool, default True
    callback : callable, optional
        ``callback(iteration, log_likelihood)`` after each E-step.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ValueError
        Unknown model, wrong shape, a score out of range, an item with no
        observed response or no variance.
    """
    t0 = time.perf_counter()
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; use one of {', '.join(MODELS)}.")
    x = np.asarray(responses)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError("responses must be a (n_persons, n_items) matrix.")
    x = x.astype(np.int64)
    N, J = x.shape
    observed = x >= 0
    if (x < -1).any():
        raise ValueError("Scores must be >= 0 (or -1 for missing).")
    if model in ("1pl", "2pl", "3pl"):
        if (x > 1).any():
            raise ValueError("Dichotomous models need 0/1 scores.")
        n_cat = np.full(J, 2)
    else:
        seen = np.where(observed, x, -1).max(axis=0) + 1
        n_cat = np.maximum(seen, 2) if n_cat is None else np.asarray(n_cat, dtype=np.int64)
        if (x >= n_cat).any():
            raise ValueError("A score is above the item's highest category.")
    if a_prior is None and model == "3pl":
        a_prior = (0.0, 0.5)
    spec = _Spec(model, n_cat, D, c_prior, a_prior)
    K = int(n_cat.max())

    fixed = np.zeros(J, dtype=bool)
    xi = _initial(model, x, n_cat, observed)
    if anchors:
        for col, row in anchors.items():
            it, idx = row if isinstance(row, tuple) else (row, 0)
            xi[col] = spec.from_items(it.subset(np.array([idx])))[0]
            fixed[col] = True
    free = ~fixed
    for j in np.flatnonzero(free):
        obs = x[observed[:, j], j]
        if obs.size == 0:
            raise ValueError(f"Item column {j} has no observed response.")
        if np.unique(obs).size < 2:
            raise ValueError(f"Item column {j} has no variance (every answer is {obs[0]}).")
    if estimate_latent is None:
        estimate_latent = bool(fixed.any())

    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    mu, sd = 0.0, 1.0
    if K == 2:
        ind = [(x == 0).astype(float), (x == 1).astype(float)]
    else:
        ind = [(x == k).astype(float) for k in range(K)]

    def estep(xi):
        lp = spec.log_table(xi, grid)  # (J, K, Q)
        ll = sum(ind[k] @ lp[:, k, :] for k in range(K))
        log_prior = -0.5 * ((grid - mu) / sd) ** 2
        log_prior -= logsumexp(log_prior)
        ll = ll + log_prior
        norm = logsumexp(ll, axis=1, keepdims=True)
        w = np.exp(ll - norm)
        return w, float(norm.sum())

    history = []
    converged = False
    active_free = spec.active & free[:, None]
    nat_old = spec.natural(xi)
    it_count = 0
    for it_count in range(1, max_iter + 1):
        w, ll = estep(xi)
        history.append(ll)
        if callback is not None:
            callback(it_count, ll)
        r = np.stack([ind[k].T @ w for k in range(K)], axis=1)  # (J, K, Q)
        if estimate_latent:
            mean_p = w @ grid
            mu = float(mean_p.mean())
            sd = float(np.sqrt(max((w @ grid**2).mean() - mu * mu, 1e-4)))

        def f(z, r=r):
            return _objective(spec, z, r, grid)

        xi, _ = _newton(f, xi, active_free, n_steps=3)
        if model == "1pl":
            xi = _update_common_slope(f, xi, free)
        nat = spec.natural(xi)
        change = np.nanmax(np.abs(nat - nat_old)) if nat.size else 0.0
        nat_old = nat
        if change < tol:
            converged = True
            break

    w, ll = estep(xi)
    history.append(ll)
    items = spec.items(xi)
    if anchors:
        # anchors keep their exact given values (transform round trip aside)
        nat = spec.natural(xi)
        del nat
    se = _standard_errors(spec, xi, x, ind, w, grid, free) if compute_se else {}
    fit = item_fit(x, items, w @ grid)
    return CalibrationResult(
        items=items,
        se=se,
        model=model,
        log_likelihood=ll,
        n_iter=it_count,
        converged=converged,
        latent_mean=mu,
        latent_sd=sd,
        fit=fit,
        seconds=time.perf_counter() - t0,
        history=history,
    )


def _update_common_slope(f, xi, free):
    """One-dimensional Newton steps on the shared log-slope of the 1PL."""
    for _ in range(3):
        s = xi[0, 0]

        def total(v):
            z = xi.copy()
            z[:, 0] = v
            return f(z)[free].sum()

        f0, fp, fm = total(s), total(s + _H), total(s - _H)
        g = (fp - fm) / (2 * _H)
        h = (fp - 2 * f0 + fm) / _H**2
        step = -g / h if h < 0 else 0.1 * np.sign(g)
        step = float(np.clip(step, -0.5, 0.5))
        for _ in range(10):
            if total(s + step) >= f0:
                break
            step *= 0.5
        else:
            step = 0.0
        xi[:, 0] = s + step
        if abs(step) < 1e-7:
            break
    return xi


def _standard_errors(spec, xi, x, ind, w, grid, free):
    """XPD standard errors per item, mapped to natural parameters (delta method)."""
    J, P = xi.shape
    K = len(ind)
    act = spec.active.copy()
    if spec.model == "1pl":
        act[:, 0] = False
    # d log P_jk(theta_q) / d xi_jp by central differences: (J, K, Q, P)
    G = np.zeros((J, K, grid.size, P))
    for p in range(P):
        e = np.zeros(P)
        e[p] = _H
        G[..., p] = (spec.log_table(xi + e, grid)[:, :K] - spec.log_table(xi - e, grid)[:, :K]) / (
            2 * _H
        )
    scores = np.zeros((x.shape[0], J, P))
    for k in range(K):
        scores += ind[k][:, :, None] * (
            w @ G[:, k].transpose(1, 0, 2).reshape(grid.size, -1)
        ).reshape(x.shape[0], J, P)
    info = np.einsum("njp,njq->jpq", scores, scores)
    # prior curvature (3PL c, slope prior) adds to the information
    f_prior = spec.log_prior
    for p in range(P):
        e = np.zeros(P)
        e[p] = _H
        info[:, p, p] -= (f_prior(xi + e) - 2 * f_prior(xi) + f_prior(xi - e)) / _H**2
    mask = act[:, :, None] & act[:, None, :]
    info = np.where(mask, info, 0.0) + np.eye(P) * (~act)[:, :, None]
    cov = np.linalg.pinv(info)
    cov = np.where(mask, cov, 0.0)
    # Jacobian of the natural parameters
    nat0 = spec.natural(xi)
    Jac = np.zeros(nat0.shape + (P,))
    for p in range(P):
        e = np.zeros(P)
        e[p] = _H
        Jac[..., p] = (
            np.nan_to_num(spec.natural(xi + e)) - np.nan_to_num(spec.natural(xi - e))
        ) / (2 * _H)
    var = np.einsum("jnp,jpq,jnq->jn", Jac, cov, Jac)
    if spec.model == "1pl":
        # common slope: information summed over items
        g_all = scores[:, free, 0].sum(axis=1)
        var_a = 1.0 / max(float(g_all @ g_all), 1e-12)
        var[:, 0] = (nat0[:, 0] ** 2) * var_a
    se = np.sqrt(np.maximum(var, 0.0))
    se[~free] = np.nan
    se[np.isnan(nat0)] = np.nan
    if spec.code == DICHOTOMOUS:
        out = {"a": se[:, 0], "b": se[:, 1]}
        if spec.model == "3pl":
            out["c"] = se[:, 2]
        return out
    return {"a": se[:, 0], "b": se[:, 1:]}


def item_fit(responses, items, theta):
    r"""Infit and outfit mean squares of each item.

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
    items : Items
    theta : ndarray of shape (n_persons,)
        Ability estimates (e.g. EAP).

    Returns
    -------
    dict
        ``"infit"`` and ``"outfit"``, each of shape (n_items,).

    Notes
    -----
    With expected score :math:`E_{pj}` and variance :math:`V_{pj}`,

    .. math::
        \text{outfit}_j = \frac{1}{n_j} \sum_p \frac{(x_{pj} - E_{pj})^2}{V_{pj}}, \quad
        \text{infit}_j = \frac{\sum_p (x_{pj} - E_{pj})^2}{\sum_p V_{pj}}

    Values near 1 fit; above about 1.3 signal misfit.
    """
    x = np.asarray(responses)
    p = items.probs(theta)
    k = np.arange(p.shape[-1])
    e = (p * k).sum(-1)
    v = np.maximum((p * k * k).sum(-1) - e * e, 1e-9)
    ok = x >= 0
    sq = np.where(ok, (x - e) ** 2, 0.0)
    n = np.maximum(ok.sum(0), 1)
    outfit = np.where(ok, sq / v, 0.0).sum(0) / n
    infit = sq.sum(0) / np.maximum(np.where(ok, v, 0.0).sum(0), 1e-12)
    return {"infit": infit, "outfit": outfit}
