r"""Parameter layout of each model for calibration: transforms, priors, starting values.

The EM of :mod:`calibration` works on transformed parameters :math:`\xi_j`
per item (:math:`\log a`, intercept :math:`-ab`, :math:`\operatorname{logit} c`,
:math:`\operatorname{logit} d`, ordered GRM thresholds as a first threshold plus log gaps); :class:`Spec`
maps them to :class:`~cat_server.irt.models.Items` and back, and holds the
priors of the M-step.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from .models import DICHOTOMOUS, GPCM, GRM, Items

LOGA = (np.log(0.05), np.log(8.0))


class Spec:
    """Transformed-parameter layout of one model."""

    def __init__(self, model, n_cat, D, c_prior, a_prior, d_prior=None):
        self.model = model
        self.n_cat = n_cat
        self.D = D
        self.c_prior = c_prior
        self.a_prior = a_prior
        self.d_prior = d_prior
        self.guess = model in ("3pl", "4pl")  # lower asymptote c estimated
        self.slip = model == "4pl"  # upper asymptote d estimated
        self.m = int(n_cat.max()) - 1
        self.code = {"grm": GRM, "gpcm": GPCM}.get(model, DICHOTOMOUS)
        if model in ("1pl", "2pl"):
            self.P = 2
        elif model == "3pl":
            self.P = 3
        elif model == "4pl":
            self.P = 4
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
        a = np.exp(np.clip(xi[:, 0], *LOGA))
        one, zero = np.ones(J), np.zeros(J)
        if self.code == DICHOTOMOUS:
            b = -xi[:, 1] / a
            c = expit(xi[:, 2]) if self.guess else zero
            d = expit(xi[:, 3]) if self.slip else one
            thr = np.full((J, 1), np.nan)
            return Items(np.zeros(J, np.int8), a, b, c, d, thr, np.full(J, 2), self.D)
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
        """Natural parameters as a (J, P) matrix: a, b, [c, [d]] or a, b_1..b_m."""
        it = self.items(xi)
        if self.code == DICHOTOMOUS:
            cols = [it.a, it.b] + ([it.c] if self.guess else []) + ([it.d] if self.slip else [])
            return np.stack(cols, axis=1)
        return np.concatenate([it.a[:, None], it.thresholds], axis=1)

    def from_items(self, it):
        J = it.n_items
        xi = np.zeros((J, self.P))
        xi[:, 0] = np.log(it.a)
        if self.code == DICHOTOMOUS:
            xi[:, 1] = -it.a * it.b
            if self.guess:
                xi[:, 2] = logit(np.clip(it.c, 1e-4, 0.99))
            if self.slip:
                xi[:, 3] = logit(np.clip(it.d, 0.01, 1 - 1e-4))
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
        if self.guess and self.c_prior is not None:
            al, be = self.c_prior
            c = expit(xi[:, 2])
            out += (al - 1) * np.log(c) + (be - 1) * np.log1p(-c)
        if self.slip and self.d_prior is not None:
            al, be = self.d_prior
            d = expit(xi[:, 3])
            out += (al - 1) * np.log(d) + (be - 1) * np.log1p(-d)
        if self.a_prior is not None:
            mu, sd = self.a_prior
            out -= 0.5 * ((xi[:, 0] - mu) / sd) ** 2
        return out

    def log_table(self, xi, grid):
        """log P, shape (J, K, Q)."""
        return np.log(np.maximum(self.items(xi).probs(grid), 1e-300)).transpose(1, 2, 0)


def objective(spec, xi, r, grid):
    lp = spec.log_table(xi, grid)
    K = r.shape[1]
    return (r * lp[:, :K]).sum(axis=(1, 2)) + spec.log_prior(xi)


def initial(model, x, n_cat, observed):
    J = x.shape[1]
    m = int(n_cat.max()) - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        if model in ("1pl", "2pl", "3pl", "4pl"):
            p = ((x == 1) & observed).sum(0) / np.maximum(observed.sum(0), 1)
            p = np.clip(p, 0.02, 0.98)
            xi = np.zeros((J, {"3pl": 3, "4pl": 4}.get(model, 2)))
            xi[:, 1] = logit(p) * 1.2
            if model in ("3pl", "4pl"):
                xi[:, 0] = np.log(1.2)
                xi[:, 2] = logit(0.15)
            if model == "4pl":
                xi[:, 3] = logit(0.95)
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
