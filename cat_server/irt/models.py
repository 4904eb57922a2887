r"""Item response models: probabilities, log-likelihood and Fisher information.

Every function is vectorised over abilities and items. Item parameters are
numpy arrays with one entry (or one row) per item, never per-item objects.

Conventions used throughout :mod:`cat_server.irt`:

* scores are integers ``0 .. m`` (dichotomous items: 0 wrong, 1 right);
  a missing / not-presented response is ``-1``;
* ``D`` is the scaling constant multiplying :math:`a(\theta - b)`. The engine
  works on the logistic metric, ``D = 1``; pass ``D = 1.702`` for parameters on
  the normal-ogive metric;
* ``theta`` of shape ``(n_theta,)`` with ``n_items`` items gives results of
  shape ``(n_theta, n_items)`` (and a trailing category axis for category
  probabilities). A scalar ``theta`` drops the first axis.

The mixed-model container :class:`Items` holds dichotomous (1PL–4PL), graded
response (GRM) and generalized partial credit (GPCM) items in one set of arrays
so a bank may mix them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DICHOTOMOUS, GRM, GPCM = 0, 1, 2
MODEL_CODES = {
    "1pl": DICHOTOMOUS,
    "rasch": DICHOTOMOUS,
    "2pl": DICHOTOMOUS,
    "3pl": DICHOTOMOUS,
    "4pl": DICHOTOMOUS,
    "grm": GRM,
    "gpcm": GPCM,
    "pcm": GPCM,
}
_EPS = 1e-12


def _theta_axis(theta):
    return np.asarray(theta, dtype=float)[..., np.newaxis]


def _logistic(z):
    # exp of a large positive number would overflow; clip keeps it finite.
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


def prob_4pl(theta, a, b, c=0.0, d=1.0, D=1.0):
    r"""Probability of a correct answer under the four-parameter logistic model.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    a, b, c, d : float or ndarray of shape (n_items,)
        Discrimination, difficulty, lower asymptote (guessing) and upper
        asymptote (slipping). ``c = 0, d = 1`` gives the 2PL; additionally
        ``a = 1`` gives the Rasch / 1PL model.
    D : float, default 1.0
        Scaling constant (1.702 approximates the normal ogive).

    Returns
    -------
    ndarray of shape (n_items,) or (n_theta, n_items)

    Notes
    -----
    .. math:: P(\theta) = c + \frac{d - c}{1 + e^{-D a (\theta - b)}}
    """
    t = _theta_axis(theta)
    return c + (d - c) * _logistic(D * np.asarray(a) * (t - b))


def info_4pl(theta, a, b, c=0.0, d=1.0, D=1.0):
    r"""Fisher information of 4PL items.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    a, b, c, d : float or ndarray of shape (n_items,)
    D : float, default 1.0

    Returns
    -------
    ndarray of shape (n_items,) or (n_theta, n_items)

    Notes
    -----
    .. math:: I(\theta) = \frac{D^2 a^2 (P - c)^2 (d - P)^2}{(d - c)^2 P (1 - P)}

    For the 2PL this is :math:`D^2 a^2 P (1 - P)`, so :math:`a^2/4` at
    :math:`\theta = b` with ``D = 1``.
    """
    t = _theta_axis(theta)
    a = np.asarray(a, dtype=float)
    s = _logistic(D * a * (t - b))
    p = c + (d - c) * s
    dp = D * a * (d - c) * s * (1.0 - s)
    return dp * dp / np.maximum(p * (1.0 - p), _EPS)


def _pad_thresholds(thresholds):
    thr = np.atleast_2d(np.asarray(thresholds, dtype=float))
    return thr


def prob_grm(theta, a, thresholds, D=1.0):
    r"""Category probabilities under Samejima's graded response model.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    a : ndarray of shape (n_items,)
    thresholds : ndarray of shape (n_items, m)
        Increasing boundaries :math:`b_1 < \dots < b_m`; items with fewer
        categories are padded on the right with NaN.
    D : float, default 1.0

    Returns
    -------
    ndarray of shape (n_items, m + 1) or (n_theta, n_items, m + 1)
        Probabilities of scores ``0 .. m`` (zero for padded categories).

    Notes
    -----
    .. math::
        P^*_k = \frac{1}{1 + e^{-D a (\theta - b_k)}}, \quad P^*_0 = 1,\;
        P^*_{m+1} = 0, \quad P_k = P^*_k - P^*_{k+1}
    """
    thr = _pad_thresholds(thresholds)
    pad = np.isnan(thr)
    t = np.asarray(theta, dtype=float)[..., np.newaxis, np.newaxis]
    a = np.asarray(a, dtype=float)[:, np.newaxis]
    star = np.where(pad, 0.0, _logistic(D * a * (t - np.where(pad, 0.0, thr))))
    shape = star.shape[:-1] + (1,)
    star = np.concatenate([np.ones(shape), star, np.zeros(shape)], axis=-1)
    return np.maximum(star[..., :-1] - star[..., 1:], 0.0)


def prob_gpcm(theta, a, thresholds, D=1.0):
    r"""Category probabilities under the generalized partial credit model.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    a : ndarray of shape (n_items,)
    thresholds : ndarray of shape (n_items, m)
        Step difficulties :math:`b_1 .. b_m` (NaN-padded on the right).
    D : float, default 1.0

    Returns
    -------
    ndarray of shape (n_items, m + 1) or (n_theta, n_items, m + 1)

    Notes
    -----
    .. math::
        P_k = \frac{\exp \sum_{v=1}^{k} D a (\theta - b_v)}
                   {\sum_{h=0}^{m} \exp \sum_{v=1}^{h} D a (\theta - b_v)}
    """
    thr = _pad_thresholds(thresholds)
    pad = np.isnan(thr)
    t = np.asarray(theta, dtype=float)[..., np.newaxis, np.newaxis]
    a = np.asarray(a, dtype=float)[:, np.newaxis]
    steps = D * a * (t - np.where(pad, 0.0, thr))
    z = np.cumsum(steps, axis=-1)
    z = np.where(pad, -np.inf, z)
    shape = z.shape[:-1] + (1,)
    z = np.concatenate([np.zeros(shape), z], axis=-1)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Items:
    r"""Parameters of a set of (possibly mixed-model) items, as arrays.

    Attributes
    ----------
    model : ndarray of int, shape (n_items,)
        ``DICHOTOMOUS`` (0), ``GRM`` (1) or ``GPCM`` (2).
    a, b, c, d : ndarray of shape (n_items,)
        4PL parameters for dichotomous items (``b`` is ignored for polytomous
        items; ``c = 0, d = 1`` for them).
    thresholds : ndarray of shape (n_items, m_max)
        Category thresholds of polytomous items, NaN-padded (all NaN for
        dichotomous items); ``m_max = 1`` when the set has no polytomous item.
    n_cat : ndarray of int, shape (n_items,)
        Number of score categories (2 for dichotomous items).
    D : float
        Scaling constant.
    """

    model: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    thresholds: np.ndarray
    n_cat: np.ndarray
    D: float = 1.0

    @property
    def n_items(self):
        return self.a.shape[0]

    @property
    def max_cat(self):
        """Largest number of categories over the items."""
        return int(self.n_cat.max()) if self.n_items else 2

    def subset(self, idx):
        """Items at positions ``idx`` (any numpy index)."""
        return Items(
            self.model[idx],
            self.a[idx],
            self.b[idx],
            self.c[idx],
            self.d[idx],
            self.thresholds[idx],
            self.n_cat[idx],
            self.D,
        )

    def probs(self, theta):
        r"""Category probabilities, shape ``(n_theta, n_items, max_cat)``.

        Dichotomous items fill categories 0 and 1; unused categories are 0.
        """
        t = np.atleast_1d(np.asarray(theta, dtype=float))
        out = np.zeros((t.shape[0], self.n_items, self.max_cat))
        dich = self.model == DICHOTOMOUS
        if dich.any():
            p = prob_4pl(t, self.a[dich], self.b[dich], self.c[dich], self.d[dich], self.D)
            out[:, dich, 1] = p
            out[:, dich, 0] = 1.0 - p
        for code, fn in ((GRM, prob_grm), (GPCM, prob_gpcm)):
            sel = self.model == code
            if sel.any():
                m = int(self.n_cat[sel].max()) - 1
                out[:, sel, : m + 1] = fn(t, self.a[sel], self.thresholds[sel, :m], self.D)
        return out

    def info(self, theta):
        r"""Item Fisher information, shape ``(n_theta, n_items)``.

        Notes
        -----
        Dichotomous: :func:`info_4pl`. Polytomous:
        :math:`I = \sum_k (\partial P_k / \partial\theta)^2 / P_k`; for the
        GPCM this equals :math:`D^2 a^2 \operatorname{Var}(X \mid \theta)`.
        """
        t = np.atleast_1d(np.asarray(theta, dtype=float))
        out = np.zeros((t.shape[0], self.n_items))
        dich = self.model == DICHOTOMOUS
        if dich.any():
            out[:, dich] = info_4pl(
                t, self.a[dich], self.b[dich], self.c[dich], self.d[dich], self.D
            )
        sel = self.model == GPCM
        if sel.any():
            m = int(self.n_cat[sel].max()) - 1
            p = prob_gpcm(t, self.a[sel], self.thresholds[sel, :m], self.D)
            k = np.arange(m + 1)
            mean = (p * k).sum(-1)
            var = (p * k * k).sum(-1) - mean * mean
            out[:, sel] = (self.D * self.a[sel]) ** 2 * np.maximum(var, 0.0)
        sel = self.model == GRM
        if sel.any():
            m = int(self.n_cat[sel].max()) - 1
            thr = self.thresholds[sel, :m]
            pad = np.isnan(thr)
            a = self.a[sel][:, np.newaxis]
            star = _logistic(self.D * a * (t[:, None, None] - np.where(pad, 0.0, thr)))
            star = np.where(pad, 0.0, star)
            w = self.D * a * star * (1.0 - star)
            shape = w.shape[:-1] + (1,)
            w = np.concatenate([np.zeros(shape), w, np.zeros(shape)], axis=-1)
            dp = w[..., :-1] - w[..., 1:]
            star = np.concatenate([np.ones(shape), star, np.zeros(shape)], axis=-1)
            p = star[..., :-1] - star[..., 1:]
            out[:, sel] = (dp * dp / np.maximum(p, _EPS)).sum(-1)
        return out

    def log_probs(self, theta):
        """``log`` of :meth:`probs`, floored so no entry is ``-inf``."""
        return np.log(np.maximum(self.probs(theta), 1e-300))


def _model_code(name):
    try:
        return MODEL_CODES[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}.") from None


def make_items(a=None, b=None, c=None, d=None, *, model=None, thresholds=None, D=1.0):
    r"""Build an :class:`Items` set from parameter arrays.

    Parameters
    ----------
    a : array_like of shape (n_items,), optional
        Discrimination; default 1 (Rasch).
    b : array_like of shape (n_items,), optional
        Difficulty of dichotomous items.
    c, d : array_like of shape (n_items,), optional
        Lower / upper asymptotes; default 0 and 1.
    model : str, sequence of str or ndarray of int, optional
        Per-item model name (``"1pl"``, ``"2pl"``, ``"3pl"``, ``"4pl"``,
        ``"grm"``, ``"gpcm"``) or code; default dichotomous.
    thresholds : array_like of shape (n_items, m), optional
        Category thresholds of polytomous items, NaN-padded.
    D : float, default 1.0

    Returns
    -------
    Items

    Raises
    ------
    ValueError
        On inconsistent shapes or invalid values (``a <= 0``, ``c >= d``,
        non-finite difficulty, polytomous item without thresholds).
    """
    n = None
    for arr in (a, b, thresholds):
        if arr is not None:
            n = np.atleast_1d(np.asarray(arr)).shape[0]
            break
    if n is None:
        raise ValueError("Give at least one of a, b or thresholds.")

    def vec(x, default):
        if x is None:
            return np.full(n, default, dtype=float)
        x = np.asarray(x, dtype=float)
        if x.ndim == 0:
            return np.full(n, float(x))
        if x.shape != (n,):
            raise ValueError(f"Expected shape ({n},), got {x.shape}.")
        return x.copy()

    a_, c_, d_ = vec(a, 1.0), vec(c, 0.0), vec(d, 1.0)
    b_ = vec(b, 0.0)
    if model is None:
        code = np.full(n, DICHOTOMOUS, dtype=np.int8)
    elif isinstance(model, str):
        code = np.full(n, _model_code(model), dtype=np.int8)
    else:
        model = np.asarray(model)
        if model.dtype.kind in "iu":
            code = model.astype(np.int8)
        else:
            names = model.tolist()  # a bank repeats a few names: look each up once
            codes = {m: _model_code(m) for m in set(names)}
            code = np.array([codes[m] for m in names], dtype=np.int8)
    if thresholds is None:
        thr = np.full((n, 1), np.nan)
    else:
        thr = np.asarray(thresholds, dtype=float)
        if thr.ndim == 1:
            thr = thr[:, np.newaxis]
        if thr.shape[0] != n:
            raise ValueError("thresholds must have one row per item.")
        if thr.shape[1] == 0:
            thr = np.full((n, 1), np.nan)
    poly = code != DICHOTOMOUS
    n_thr = (~np.isnan(thr)).sum(axis=1)
    if (poly & (n_thr == 0)).any():
        raise ValueError("Polytomous items need at least one threshold.")
    n_cat = np.where(poly, n_thr + 1, 2).astype(np.int64)
    thr = np.where(poly[:, np.newaxis], thr, np.nan)
    c_[poly], d_[poly], b_[poly] = 0.0, 1.0, 0.0
    if not (np.all(np.isfinite(a_)) and np.all(a_ > 0)):
        raise ValueError("Discrimination a must be finite and > 0.")
    if not np.all(np.isfinite(b_)):
        raise ValueError("Difficulty b must be finite.")
    if not (np.all(c_ >= 0) and np.all(d_ <= 1) and np.all(c_ < d_)):
        raise ValueError("Asymptotes must satisfy 0 <= c < d <= 1.")
    return Items(code, a_, b_, c_, d_, thr, n_cat, float(D))


def log_likelihood(theta, items, responses):
    r"""Log-likelihood of response patterns.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    items : Items
    responses : ndarray of int, shape (n_items,) or (n_theta, n_items)
        Scores, ``-1`` where not presented (contributes nothing).

    Returns
    -------
    float or ndarray of shape (n_theta,)

    Notes
    -----
    .. math:: \ell(\theta) = \sum_{j \text{ presented}} \log P_{j, x_j}(\theta)
    """
    scalar = np.ndim(theta) == 0
    t = np.atleast_1d(np.asarray(theta, dtype=float))
    x = np.asarray(responses)
    x = np.broadcast_to(x, (t.shape[0], items.n_items))
    lp = items.log_probs(t)
    ok = x >= 0
    ll = np.take_along_axis(lp, np.where(ok, x, 0)[..., np.newaxis], axis=-1)[..., 0]
    out = np.where(ok, ll, 0.0).sum(axis=-1)
    return float(out[0]) if scalar else out


def test_information(theta, items):
    r"""Test information :math:`I(\theta) = \sum_j I_j(\theta)`.

    Parameters
    ----------
    theta : float or ndarray of shape (n_theta,)
    items : Items

    Returns
    -------
    float or ndarray of shape (n_theta,)
    """
    scalar = np.ndim(theta) == 0
    out = items.info(theta).sum(axis=-1)
    return float(out[0]) if scalar else out


test_information.__test__ = False  # not a pytest test despite the name


def simulate_responses(theta, items, rng, missing=0.0):
    r"""Draw scores of examinees with abilities ``theta``.

    Parameters
    ----------
    theta : ndarray of shape (n_persons,)
    items : Items
    rng : numpy.random.Generator
    missing : float, default 0
        Probability that a cell is not presented (``-1``).

    Returns
    -------
    ndarray of int, shape (n_persons, n_items)
    """
    p = items.probs(theta)
    cum = np.cumsum(p, axis=-1)
    u = rng.random(p.shape[:-1])[..., np.newaxis]
    x = (u > cum[..., :-1]).sum(axis=-1)
    x = np.minimum(x, items.n_cat - 1)
    if missing > 0:
        x = np.where(rng.random(x.shape) < missing, -1, x)
    return x.astype(np.int64)
