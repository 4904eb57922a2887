r"""Item calibration by marginal maximum likelihood (Bock–Aitkin EM).

:func:`calibrate` estimates 1PL, 2PL, 3PL, 4PL, GRM or GPCM parameters from a
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
from scipy.special import logsumexp

from .fit import item_fit, s_x2
from .models import DICHOTOMOUS, Items
from .optim import H_STEP, newton, squarem, update_common_slope
from .parameters import Spec, initial, objective

MODELS = ("1pl", "2pl", "3pl", "4pl", "grm", "gpcm")


@dataclass
class CalibrationResult:
    r"""Result of :func:`calibrate`.

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
        ``"infit"`` and ``"outfit"`` mean squares per item (EAP abilities);
        ``"s_x2"``, ``"s_x2_df"``, ``"s_x2_p"``: Orlando–Thissen item fit of
        the dichotomous items (:func:`~cat_server.irt.fit.s_x2`; NaN for
        polytomous items).
    seconds : float
    history : list of float
        Marginal log-likelihood per iteration.
    n_parameters : int
        Free parameters: item parameters estimated (a common 1PL slope once)
        plus the latent mean and SD when estimated.
    n_persons : int
        Rows of the response matrix (the :math:`N` of the BIC).
    aic, bic : float
        :math:`-2\log L + 2k` and :math:`-2\log L + k \log N` with
        :math:`k` = ``n_parameters`` (Akaike 1974; Schwarz 1978), as mirt reports.
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
    n_parameters: int = 0
    n_persons: int = 0

    @property
    def aic(self):
        return -2.0 * self.log_likelihood + 2.0 * self.n_parameters

    @property
    def bic(self):
        return -2.0 * self.log_likelihood + self.n_parameters * float(np.log(self.n_persons))


class _Responses:
    """The response matrix stored compactly (int8, ``-1`` missing), read in row chunks.

    The E-step and the standard errors turn one chunk at a time into float
    indicator matrices, so memory grows with the chunk, not with the persons.
    """

    def __init__(self, x, n_cat_max, grid, chunk_cells=2**19):
        self.x = x
        self.grid = grid
        self.n, self.n_items = x.shape
        self.K = n_cat_max
        self.complete = bool((x >= 0).all())
        # dichotomous complete data: one indicator column per item is enough
        self.binary = self.K == 2 and self.complete
        width = self.n_items * (1 if self.binary else self.K)
        self.rows = max(256, chunk_cells // max(width, 1))

    def chunks(self):
        for start in range(0, self.n, self.rows):
            yield start, min(self.n, start + self.rows)

    def design(self, start, stop):
        """Indicators of a chunk: ``x == 1`` (binary) or one-hot ``(rows, n_items * K)``."""
        xc = self.x[start:stop]
        if self.binary:
            return xc.astype(float)
        out = np.zeros((stop - start, self.n_items, self.K))
        for k in range(self.K):
            out[..., k] = xc == k
        return out.reshape(stop - start, -1)


def _estep(data, lp, log_prior, need_eap=False):
    r"""Posterior weights per chunk; expected counts, marginal log-likelihood, EAPs.

    Two matrix products a chunk: :math:`\ell = X L` (the log-likelihood of every
    person at every node) and :math:`r = X^\top w`. ``lp`` is ``log P`` of
    shape (n_items, K, Q).

    Returns
    -------
    r : ndarray of shape (n_items, K, Q)
    n_q : ndarray of shape (Q,)
        Expected persons at each node.
    log_lik : float
    eap : ndarray of shape (n_persons,) or None
    """
    J, K, Q = lp.shape
    if data.binary:
        table = lp[:, 1, :] - lp[:, 0, :]
        offset = lp[:, 0, :].sum(axis=0) + log_prior
    else:
        table = lp[:, : data.K, :].reshape(J * data.K, Q)
        offset = log_prior
    acc = np.zeros((table.shape[0], Q))
    n_q = np.zeros(Q)
    total = 0.0
    eap = np.empty(data.n) if need_eap else None
    for start, stop in data.chunks():
        X = data.design(start, stop)
        w = X @ table
        w += offset
        top = w.max(axis=1, keepdims=True)
        w -= top
        np.exp(w, out=w)
        s = w.sum(axis=1, keepdims=True)
        w /= s
        total += float(top.sum() + np.log(s).sum())
        acc += X.T @ w
        n_q += w.sum(axis=0)
        if need_eap:
            eap[start:stop] = w @ data.grid
    if data.binary:
        r = np.stack([n_q - acc, acc], axis=1)
    else:
        r = acc.reshape(J, data.K, Q)
    return r, n_q, total, eap


class UncalibratableItem(ValueError):
    """An item the responses cannot calibrate; ``str()`` says why in English (the CLI's).

    For a caller that words it in its own language: ``code`` (``no_response``,
    ``no_variance``, ``empty_category``) and ``params``: ``item`` (its name as in the
    sentence), ``value`` (the one answer, or the score nobody had), ``expected`` (the top
    score of its categories).
    """

    MESSAGES = {
        "no_response": "Item %(item)s has no observed response.",
        "no_variance": "Item %(item)s has no variance (every answer is %(value)s).",
        "empty_category": (
            "Item %(item)s: nobody scored %(value)s (scores 0..%(expected)s), so the "
            "threshold%(s)s next to that category cannot be estimated. Merge the category "
            "with a neighbouring score or leave the item out."
        ),
    }

    def __init__(self, code, **params):
        self.code, self.params = code, params
        s = "s" if code == "empty_category" and 0 < params["value"] < params["expected"] else ""
        super().__init__(self.MESSAGES[code] % {**params, "s": s})


def _check_categories(x, n_cat, free, names):
    """Refuse items with an unobserved score category (its threshold has no finite estimate)."""
    K = int(n_cat.max())
    counts = np.stack([(x == k).sum(axis=0) for k in range(K)], axis=1)  # (J, K)
    for j in np.flatnonzero(free):
        seen = counts[j, : n_cat[j]]
        if not seen.any():
            raise UncalibratableItem("no_response", item=names(j))
        if (seen > 0).sum() < 2:
            raise UncalibratableItem("no_variance", item=names(j), value=int(np.argmax(seen)))
        empty = np.flatnonzero(seen == 0)
        if empty.size:
            raise UncalibratableItem(
                "empty_category", item=names(j), value=int(empty[0]), expected=int(n_cat[j] - 1)
            )


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
    d_prior=(20.0, 2.0),
    anchors=None,
    estimate_latent=None,
    compute_se=True,
    callback=None,
    item_id=None,
    accelerate=True,
):
    r"""Marginal maximum likelihood calibration (Bock–Aitkin EM).

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
        Scores ``0 .. m``, ``-1`` for not presented.
    model : {"1pl", "2pl", "3pl", "4pl", "grm", "gpcm"}
        ``"1pl"`` estimates one common slope; ``"3pl"`` uses a
        :math:`\mathrm{Beta}(\alpha, \beta)` prior on ``c``; ``"4pl"`` adds
        the upper asymptote ``d`` with a Beta prior too.
    D : float, default 1.0
        Scaling constant of the reported parameters.
    n_cat : ndarray of int, shape (n_items,), optional
        Categories per item (default: highest observed score + 1, at least 2).
    n_quad : int, default 41
        Quadrature nodes on ``quad_range``.
    max_iter : int, default 500
        EM steps (E-step + M-step) at most.
    tol : float, default 1e-4
        Convergence: largest change of a natural parameter made by one EM step.
    c_prior : (float, float) or None, default (5, 17)
        Beta prior of the lower asymptote (3PL, 4PL; mean 0.23).
    a_prior : (float, float), None or False
        Lognormal prior on the discrimination: :math:`\log a \sim N(\mu,
        \sigma)` for ``(mu, sigma)``, the M-step maximising the posterior in
        :math:`\log a` (BILOG-MG's slope prior and mirt's ``lnorm(0, 0.5)``
        are ``(0, 0.5)``). ``None``: ``(0, 0.5)`` for the 3PL and 4PL, no
        prior otherwise; ``False``: no prior for any model. It keeps an item
        answered by a few dozen persons from running away to a large ``a``.
        Ignored for the 1PL (one common slope, estimated from every item).
    d_prior : (float, float) or None, default (20, 2)
        Beta prior of the upper asymptote (4PL; mode 0.95, mean 0.91).
    anchors : dict of int to Items-row, optional
        ``{column: items_row}`` where ``items_row`` is an :class:`Items` of one
        item (or ``(items, index)``): these columns keep their parameters.
    estimate_latent : bool, optional
        Estimate the latent mean and SD (default: when anchors are given).
    compute_se : bool, default True
    callback : callable, optional
        ``callback(iteration, log_likelihood)`` after each E-step.
    item_id : sequence of str, optional
        Item names for error messages (default ``column j``).
    accelerate : bool, default True
        SQUAREM extrapolation of the EM steps (Varadhan & Roland, 2008); the
        fixed point and the convergence rule are those of plain EM.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ValueError
        Unknown model, wrong shape, a score out of range, an item with no
        observed response or no variance, a polytomous item with a score
        category nobody chose (named with the item).

    Notes
    -----
    Responses are stored as ``int8`` and read in chunks of rows; each E-step
    is two matrix products per chunk (see :func:`_estep`). With
    ``accelerate``, each cycle takes two EM steps :math:`x_1 = F(x_0)`,
    :math:`x_2 = F(x_1)`, extrapolates
    :math:`x' = x_0 - 2\alpha r + \alpha^2 v` (:math:`r = x_1 - x_0`,
    :math:`v = x_2 - 2 x_1 + x_0`, :math:`\alpha = -\|r\| / \|v\|`) and
    continues from :math:`F(x')` if the marginal log-likelihood at
    :math:`x'` is not below that at :math:`x_1`, else from :math:`x_2`, so the
    log-likelihood of the points kept never decreases. It stops when an EM
    step from the current point changes no natural parameter by ``tol``.
    """
    t0 = time.perf_counter()
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}; use one of {', '.join(MODELS)}.")
    x = np.asarray(responses)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 1:
        raise ValueError("responses must be a (n_persons, n_items) matrix.")
    if x.size and (x.min() < -1):
        raise ValueError("Scores must be >= 0 (or -1 for missing).")
    if x.size and x.max() > 126:
        raise ValueError("Scores above 126 are not supported.")
    x = x.astype(np.int8)
    N, J = x.shape
    if item_id is None:

        def names(j):
            return f"column {j}"
    else:
        ids = [str(i) for i in item_id]

        def names(j):
            return repr(ids[j])

    if model in ("1pl", "2pl", "3pl", "4pl"):
        if x.max() > 1:
            raise ValueError("Dichotomous models need 0/1 scores.")
        n_cat = np.full(J, 2)
    else:
        seen = x.max(axis=0).astype(np.int64) + 1
        n_cat = np.maximum(seen, 2) if n_cat is None else np.asarray(n_cat, dtype=np.int64)
        if (x >= n_cat).any():
            raise ValueError("A score is above the item's highest category.")
    if a_prior is None and model in ("3pl", "4pl"):
        a_prior = (0.0, 0.5)
    if a_prior is False or a_prior is None or model == "1pl":
        a_prior = None
    else:
        a_prior = tuple(float(v) for v in a_prior)
        if len(a_prior) != 2 or not (np.isfinite(a_prior[0]) and a_prior[1] > 0):
            raise ValueError("a_prior must be (mean, sd) of log a with sd > 0.")
    spec = Spec(model, n_cat, D, c_prior, a_prior, d_prior)
    K = int(n_cat.max())

    observed = x >= 0
    fixed = np.zeros(J, dtype=bool)
    xi = initial(model, x, n_cat, observed)
    del observed
    if anchors:
        for col, row in anchors.items():
            it, idx = row if isinstance(row, tuple) else (row, 0)
            xi[col] = spec.from_items(it.subset(np.array([idx])))[0]
            fixed[col] = True
    free = ~fixed
    _check_categories(x, n_cat, free, names)
    if estimate_latent is None:
        estimate_latent = bool(fixed.any())

    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    data = _Responses(x, K, grid)
    active_free = spec.active & free[:, None]

    def log_prior_of(mu, sd):
        lp = -0.5 * ((grid - mu) / sd) ** 2
        return lp - logsumexp(lp)

    def em_step(state):
        """One EM step F(state); the log-likelihood is the one at ``state``."""
        xi, mu, sd = state
        r, n_q, ll, _ = _estep(data, spec.log_table(xi, grid), log_prior_of(mu, sd))
        if estimate_latent:
            mu = float(n_q @ grid) / N
            sd = float(np.sqrt(max(float(n_q @ grid**2) / N - mu * mu, 1e-4)))

        def f(z, r=r):
            return objective(spec, z, r, grid)

        new, _ = newton(f, xi, active_free, n_steps=3)
        if model == "1pl":
            new = update_common_slope(f, new, free)
        return (new, mu, sd), ll

    history = []
    n_steps = 0

    def F(state):
        nonlocal n_steps
        n_steps += 1
        new, ll = em_step(state)
        if callback is not None:
            callback(n_steps, ll)
        return new, ll

    def change(a, b):
        d = np.abs(spec.natural(a[0]) - spec.natural(b[0]))
        out = float(np.nanmax(d)) if d.size else 0.0
        if estimate_latent:
            out = max(out, abs(a[1] - b[1]), abs(a[2] - b[2]))
        return out

    state = (xi, 0.0, 1.0)
    converged = False
    while n_steps < max_iter:
        x1, ll0 = F(state)
        history.append(ll0)
        if change(x1, state) < tol:
            state, converged = x1, True
            break
        if not accelerate or n_steps + 2 > max_iter:
            state = x1
            continue
        x2, ll1 = F(x1)
        history.append(ll1)
        if change(x2, x1) < tol:
            state, converged = x2, True
            break
        trial = squarem(state, x1, x2, active_free, estimate_latent)
        if trial is None:
            state = x2
            continue
        x3, ll_trial = F(trial)
        if np.isfinite(ll_trial) and ll_trial >= ll1:
            history.append(ll_trial)
            state = x3
        else:  # extrapolated too far: keep the plain EM point
            state = x2

    xi, mu, sd = state
    _, _, ll, eap = _estep(data, spec.log_table(xi, grid), log_prior_of(mu, sd), need_eap=True)
    history.append(ll)
    items = spec.items(xi)
    se = _standard_errors(spec, xi, data, log_prior_of(mu, sd), grid, free) if compute_se else {}
    fit = item_fit(x, items, eap)
    per_item = np.where(free, spec.active.sum(axis=1), 0)
    n_par = int(per_item.sum()) + int(model == "1pl" and free.any()) + 2 * int(estimate_latent)
    fit.update(
        s_x2(
            x,
            items,
            latent_mean=mu,
            latent_sd=sd,
            n_quad=n_quad,
            quad_range=quad_range,
            n_parameters=per_item,
        )
    )
    return CalibrationResult(
        items=items,
        se=se,
        model=model,
        log_likelihood=ll,
        n_iter=n_steps,
        converged=converged,
        latent_mean=mu,
        latent_sd=sd,
        fit=fit,
        seconds=time.perf_counter() - t0,
        history=history,
        n_parameters=n_par,
        n_persons=N,
    )


def _standard_errors(spec, xi, data, log_prior, grid, free):
    """XPD standard errors per item, mapped to natural parameters (delta method)."""
    J, P = xi.shape
    K = data.K
    Q = grid.size
    act = spec.active.copy()
    if spec.model == "1pl":
        act[:, 0] = False
    # d log P_jk(theta_q) / d xi_jp by central differences: (J, K, Q, P)
    G = np.zeros((J, K, Q, P))
    for p in range(P):
        e = np.zeros(P)
        e[p] = H_STEP
        G[..., p] = (spec.log_table(xi + e, grid)[:, :K] - spec.log_table(xi - e, grid)[:, :K]) / (
            2 * H_STEP
        )
    lp = spec.log_table(xi, grid)[:, :K]
    table = lp.reshape(J * K, Q) if not data.binary else None
    Gq = [G[:, k].transpose(1, 0, 2).reshape(Q, J * P) for k in range(K)]
    info = np.zeros((J, P, P))
    g_sq = 0.0
    # the persons' marginal scores, a chunk of persons at a time
    for start, stop in data.chunks():
        xc = data.x[start:stop]
        if data.binary:
            X = xc.astype(float)
            w = X @ (lp[:, 1] - lp[:, 0]) + (lp[:, 0].sum(axis=0) + log_prior)
        else:
            w = data.design(start, stop) @ table + log_prior
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)
        w /= w.sum(axis=1, keepdims=True)
        scores = np.zeros((stop - start, J, P))
        for k in range(K):
            scores += (xc == k)[:, :, None] * (w @ Gq[k]).reshape(stop - start, J, P)
        info += np.einsum("njp,njq->jpq", scores, scores)
        if spec.model == "1pl":
            g = scores[:, free, 0].sum(axis=1)
            g_sq += float(g @ g)
    # prior curvature (3PL c, slope prior) adds to the information
    f_prior = spec.log_prior
    for p in range(P):
        e = np.zeros(P)
        e[p] = H_STEP
        info[:, p, p] -= (f_prior(xi + e) - 2 * f_prior(xi) + f_prior(xi - e)) / H_STEP**2
    mask = act[:, :, None] & act[:, None, :]
    info = np.where(mask, info, 0.0) + np.eye(P) * (~act)[:, :, None]
    cov = np.linalg.pinv(info)
    cov = np.where(mask, cov, 0.0)
    # Jacobian of the natural parameters
    nat0 = spec.natural(xi)
    Jac = np.zeros(nat0.shape + (P,))
    for p in range(P):
        e = np.zeros(P)
        e[p] = H_STEP
        Jac[..., p] = (
            np.nan_to_num(spec.natural(xi + e)) - np.nan_to_num(spec.natural(xi - e))
        ) / (2 * H_STEP)
    var = np.einsum("jnp,jpq,jnq->jn", Jac, cov, Jac)
    if spec.model == "1pl":
        # common slope: information summed over items
        var_a = 1.0 / max(g_sq, 1e-12)
        var[:, 0] = (nat0[:, 0] ** 2) * var_a
    se = np.sqrt(np.maximum(var, 0.0))
    se[~free] = np.nan
    se[np.isnan(nat0)] = np.nan
    if spec.code == DICHOTOMOUS:
        out = {"a": se[:, 0], "b": se[:, 1]}
        if spec.guess:
            out["c"] = se[:, 2]
        if spec.slip:
            out["d"] = se[:, 3]
        return out
    return {"a": se[:, 0], "b": se[:, 1:]}
