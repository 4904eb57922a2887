r"""Linking calibrations: put a new calibration on the old scale through anchor items.

Two calibrations of the same items differ by a linear change of the ability
scale, :math:`\theta_{old} = A\,\theta_{new} + B`, because each fixes its own
group at :math:`N(0, 1)`. :func:`link_scales` estimates :math:`A, B` from the
anchors' two sets of parameters (mean/sigma, mean/mean, Stocking–Lord,
Haebara); :meth:`Linking.apply` moves the new items onto the old scale:

.. math:: a^* = a / A, \quad b^* = A b + B, \quad b_k^* = A b_k + B, \quad c^* = c, \quad d^* = d

References: Marco (1977) mean/sigma; Loyd & Hoover (1980) mean/mean; Haebara
(1980); Stocking & Lord (1983); Kolen & Brennan, *Test Equating, Scaling, and
Linking* (3rd ed., 2014), ch. 6; Kim & Lee (2006) for mixed formats.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .models import DICHOTOMOUS

METHODS = ("stocking-lord", "haebara", "mean-sigma", "mean-mean")


@dataclass(frozen=True)
class Linking:
    """Result of :func:`link_scales`: :math:`\\theta_{old} = A \\theta_{new} + B`.

    Attributes
    ----------
    A, B : float
    method : str
    n_anchors : int
    criterion : float
        The characteristic-curve loss at the solution (Stocking–Lord, Haebara);
        NaN for the moment methods.
    """

    A: float
    B: float
    method: str
    n_anchors: int
    criterion: float = float("nan")

    def apply(self, items):
        """The items of the new calibration expressed on the old scale."""
        return transform(items, self.A, self.B)

    def theta(self, theta_new):
        """Abilities of the new scale on the old one."""
        return self.A * np.asarray(theta_new, dtype=float) + self.B


def transform(items, A, B):
    r"""Items with :math:`a/A`, :math:`A b + B`, :math:`A b_k + B` (``c``, ``d`` kept)."""
    if not A > 0:
        raise ValueError("A must be > 0.")
    poly = items.model != DICHOTOMOUS
    return dataclasses.replace(
        items,
        a=items.a / A,
        b=np.where(poly, items.b, A * items.b + B),
        thresholds=A * items.thresholds + B,  # NaN padding stays NaN
    )


def _locations(items):
    """Every location parameter: ``b`` of dichotomous items, the thresholds of the others."""
    dich = items.model == DICHOTOMOUS
    thr = items.thresholds[~dich]
    return np.concatenate([items.b[dich], thr[~np.isnan(thr)]])


def _slopes(items):
    """One slope per location parameter, so that mean/mean weighs items like mean/sigma."""
    dich = items.model == DICHOTOMOUS
    thr = items.thresholds[~dich]
    per = (~np.isnan(thr)).sum(axis=1)
    return np.concatenate([items.a[dich], np.repeat(items.a[~dich], per)])


def mean_sigma(old, new):
    r""":math:`A = \sigma(b_{old}) / \sigma(b_{new})`, :math:`B = \mu(b_{old}) - A \mu(b_{new})` (Marco 1977)."""
    b_old, b_new = _locations(old), _locations(new)
    sd_new = b_new.std()
    if b_new.size < 2 or sd_new <= 0:
        raise ValueError("mean/sigma needs anchors with at least two different locations.")
    A = float(b_old.std() / sd_new)
    return A, float(b_old.mean() - A * b_new.mean())


def mean_mean(old, new):
    r""":math:`A = \mu(a_{new}) / \mu(a_{old})`, :math:`B = \mu(b_{old}) - A \mu(b_{new})` (Loyd & Hoover 1980)."""
    A = float(_slopes(new).mean() / _slopes(old).mean())
    return A, float(_locations(old).mean() - A * _locations(new).mean())


def _expected_scores(items, theta):
    p = items.probs(theta)  # (Q, J, K)
    return p @ np.arange(p.shape[-1])  # (Q, J)


def link_scales(
    old,
    new,
    method="stocking-lord",
    *,
    n_quad=41,
    quad_range=(-4.0, 4.0),
    weights="normal",
):
    r"""Linking constants :math:`A, B` from the anchors' old and new parameters.

    Parameters
    ----------
    old, new : Items
        The same anchor items, in the same order: as calibrated on the old
        scale and in the new calibration.
    method : {"stocking-lord", "haebara", "mean-sigma", "mean-mean"}
    n_quad, quad_range : int, (float, float)
        Ability points on the old scale for the characteristic-curve methods.
    weights : {"normal", "uniform"}
        Weights of those points: the :math:`N(0, 1)` density of the old
        scale's reference group, or equal.

    Returns
    -------
    Linking

    Notes
    -----
    Stocking–Lord minimises the weighted squared difference of the anchors'
    test characteristic curves on the old scale,

    .. math::
        F(A, B) = \sum_q w_q \Big[\sum_j E_j(\theta_q; \xi_j^{old})
                  - \sum_j E_j(\theta_q; \xi_j^{new}(A, B))\Big]^2

    (:math:`E_j = \sum_k k P_{jk}`, any model), Haebara the squared
    differences of every category curve,
    :math:`\sum_q w_q \sum_j \sum_k (P_{jk}^{old} - P_{jk}^{new}(A, B))^2`.
    Both are solved with ``scipy.optimize.least_squares`` from the
    mean/sigma solution, :math:`A > 0`.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown linking method {method!r}; use one of {', '.join(METHODS)}.")
    if old.n_items != new.n_items or old.n_items < 1:
        raise ValueError("old and new must hold the same anchor items (at least one).")
    if not (np.array_equal(old.model, new.model) and np.array_equal(old.n_cat, new.n_cat)):
        raise ValueError("An anchor's model or number of categories differs between old and new.")
    n = int(old.n_items)
    if method == "mean-mean":
        return Linking(*mean_mean(old, new), method, n)
    start = mean_sigma(old, new)
    if method == "mean-sigma":
        return Linking(*start, method, n)
    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    if weights == "normal":
        w = np.exp(-0.5 * grid**2)
    elif weights == "uniform":
        w = np.ones_like(grid)
    else:
        raise ValueError("weights must be 'normal' or 'uniform'.")
    root_w = np.sqrt(w / w.sum())
    if method == "stocking-lord":
        target = _expected_scores(old, grid).sum(axis=1)

        def residuals(x):
            return root_w * (target - _expected_scores(transform(new, *x), grid).sum(axis=1))
    else:
        target = old.probs(grid)

        def residuals(x):
            diff = target - transform(new, *x).probs(grid)
            return (root_w[:, None, None] * diff).ravel()

    fit = optimize.least_squares(
        residuals, np.array(start), bounds=([1e-3, -np.inf], [np.inf, np.inf]), xtol=1e-12
    )
    if not fit.success:
        raise ValueError(f"{method} did not converge: {fit.message}")
    A, B = (float(v) for v in fit.x)
    return Linking(A, B, method, n, float(2.0 * fit.cost))
