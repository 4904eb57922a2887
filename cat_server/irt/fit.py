"""Item fit: infit/outfit mean squares and the Orlando–Thissen S-X2 of each item (and its polytomous form)."""

from __future__ import annotations

import numpy as np
from scipy.special import chdtrc

from .models import DICHOTOMOUS
from .scoring import score_distribution


def item_fit(responses, items, theta, chunk=4096):
    r"""Infit and outfit mean squares of each item.

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
    items : Items
    theta : ndarray of shape (n_persons,)
        Ability estimates (e.g. EAP).
    chunk : int
        Persons evaluated at once (memory grows with it, not with the persons).

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
    theta = np.asarray(theta, dtype=float)
    J = x.shape[1]
    sq_sum, v_sum, out_sum, n = np.zeros(J), np.zeros(J), np.zeros(J), np.zeros(J)
    for start in range(0, x.shape[0], chunk):
        xc = x[start : start + chunk]
        p = items.probs(theta[start : start + chunk])
        k = np.arange(p.shape[-1])
        e = (p * k).sum(-1)
        v = np.maximum((p * k * k).sum(-1) - e * e, 1e-9)
        ok = xc >= 0
        sq = np.where(ok, (xc - e) ** 2, 0.0)
        n += ok.sum(0)
        out_sum += np.where(ok, sq / v, 0.0).sum(0)
        sq_sum += sq.sum(0)
        v_sum += np.where(ok, v, 0.0).sum(0)
    outfit = out_sum / np.maximum(n, 1)
    infit = sq_sum / np.maximum(v_sum, 1e-12)
    return {"infit": infit, "outfit": outfit}


def right_given_rest(probs, full, weights):
    r"""Joint probability of a right answer and the other items' summed score.

    Parameters
    ----------
    probs : ndarray of shape (n_theta, n_items, 2)
        Category probabilities of dichotomous items.
    full : ndarray of shape (n_theta, max_score + 1)
        Summed-score distribution of the whole form (these items and any
        others), :func:`~cat_server.irt.scoring.score_distribution`.
    weights : ndarray of shape (n_theta,)
        Quadrature weights of the latent distribution.

    Returns
    -------
    ndarray of shape (n_items, max_score)
        :math:`\sum_q \pi_q P_j(\theta_q) L^{(-j)}(t \mid \theta_q)`,
        :math:`t = 0 .. S - 1`.

    Notes
    -----
    The form's distribution is :math:`L(t) = Q_j L^{(-j)}(t) + P_j L^{(-j)}(t-1)`,
    so :math:`L^{(-j)}` is recovered by running this backwards: upwards from
    :math:`t = 0` where :math:`P_j \le 1/2` (dividing by :math:`Q_j \ge 1/2`),
    downwards from :math:`t = S - 1` where :math:`P_j > 1/2`; either way an
    error is multiplied by at most 1 a step. One pass over the scores for all
    items at once, :math:`O(S J Q)`, instead of a Lord–Wingersky recursion per
    item (:math:`O(J^2 S Q)`).
    """
    p = probs[:, :, 1].T  # (J, Q)
    q = probs[:, :, 0].T
    n_items, n_theta = p.shape
    S = full.shape[1] - 1
    up = p <= 0.5
    a_up = np.where(up, weights * p, 0.0)
    a_down = np.where(up, 0.0, weights * p)
    num = np.zeros((n_items, S))
    div_up, div_down = np.where(up, q, 1.0), np.where(up, 1.0, p)
    rest = np.zeros((n_items, n_theta))
    for t in range(S):  # L(t) = Q L-(t) + P L-(t-1)
        rest = (full[:, t] - p * rest) / div_up
        np.maximum(rest, 0.0, out=rest)
        num[:, t] += (a_up * rest).sum(axis=1)
    rest = np.zeros((n_items, n_theta))
    for t in range(S, 0, -1):  # L-(t-1) = (L(t) - Q L-(t)) / P
        rest = (full[:, t] - q * rest) / div_down
        np.maximum(rest, 0.0, out=rest)
        num[:, t - 1] += (a_down * rest).sum(axis=1)
    return num


def s_x2(
    responses,
    items,
    *,
    latent_mean=0.0,
    latent_sd=1.0,
    n_quad=61,
    quad_range=(-6.0, 6.0),
    n_parameters=None,
    min_expected=1.0,
):
    r"""Orlando–Thissen :math:`S\text{-}X^2` item fit, and Kang–Chen's form of it for polytomous items.

    Parameters
    ----------
    responses : ndarray of int, shape (n_persons, n_items)
        Scores, ``-1`` missing; only persons who answered every item are used
        (the summed score needs the whole form).
    items : Items
        The calibrated items, dichotomous and polytomous.
    latent_mean, latent_sd : float
        Normal latent distribution of the calibration.
    n_parameters : int or ndarray of int, optional
        Estimated parameters per item (df = groups × (categories − 1) −
        parameters); default 2 for a dichotomous item and its number of
        categories for a polytomous one (a slope and a threshold per step);
        use 3 for the 3PL, 1 for the Rasch model, 0 for fixed anchors.
    min_expected : float, default 1.0
        Adjacent score groups are merged until each group's expected number
        in every category (right and wrong) reaches this (mirt's ``mincell``).

    Returns
    -------
    dict
        ``"s_x2"``, ``"s_x2_df"``, ``"s_x2_p"``, each of shape (n_items,);
        the p-value NaN where ``df < 1``.

    Notes
    -----
    For summed score :math:`s = 1 .. S - 1` with :math:`N_s` persons and
    observed proportion :math:`O_{js}` right on item :math:`j`, the expected
    proportion from the model (Orlando & Thissen, 2000) is

    .. math::
        E_{js} = \frac{\int P_j(\theta)\, L^{(-j)}(s - 1 \mid \theta)\, \phi(\theta)\, d\theta}
                      {\int L(s \mid \theta)\, \phi(\theta)\, d\theta}

    (:math:`L` the Lord–Wingersky score distribution, :math:`L^{(-j)}`
    without item :math:`j`), and after merging sparse groups :math:`g`

    .. math::
        S\text{-}X^2_j = \sum_g N_g \frac{(O_{jg} - E_{jg})^2}{E_{jg}(1 - E_{jg})},
        \quad df = G_j - n_{\text{par}},

    referred to :math:`\chi^2_{df}` (``scipy.special.chdtrc``, the survival
    function of ``scipy.stats.chi2`` without importing ``scipy.stats``).

    A polytomous item scored :math:`0..m_j` (Kang & Chen, 2008) has an
    expected proportion per category,
    :math:`E_{jks} = \int P_{jk}(\theta) L^{(-j)}(s - k \mid \theta) \phi\, d\theta
    / \int L(s \mid \theta) \phi\, d\theta`, and
    :math:`S\text{-}X^2_j = \sum_g \sum_k N_g (O_{jkg} - E_{jkg})^2 / E_{jkg}` over
    the categories possible in group :math:`g`, with
    :math:`df = \sum_g (\text{categories}_g - 1) - n_{\text{par}}`.
    :math:`L^{(-j)}` is the Lord–Wingersky recursion over the other items, run
    once per polytomous item.
    """
    x = np.asarray(responses)
    J = x.shape[1]
    out = {k: np.full(J, np.nan) for k in ("s_x2", "s_x2_df", "s_x2_p")}
    x = x[(x >= 0).all(axis=1)]
    dich = np.flatnonzero(items.model == DICHOTOMOUS)
    poly = np.flatnonzero(items.model != DICHOTOMOUS)
    if x.shape[0] < 2:
        return out
    n_cat = np.asarray(items.n_cat)
    default = np.where(items.model == DICHOTOMOUS, 2, n_cat)
    n_par = np.broadcast_to(np.asarray(default if n_parameters is None else n_parameters), (J,))
    S = int((n_cat - 1).sum())
    total = x.sum(axis=1, dtype=np.int64)
    n_s = np.bincount(total, minlength=S + 1).astype(float)
    right = np.zeros((S + 1, J))  # persons right on each item, per summed score
    for j in dich:
        right[:, j] = np.bincount(total, weights=x[:, j] == 1, minlength=S + 1)
    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    w = np.exp(-0.5 * ((grid - latent_mean) / latent_sd) ** 2)
    w /= w.sum()
    probs = items.probs(grid)
    full = score_distribution(probs, n_cat)
    denom = w @ full  # (S + 1,)
    for j in poly:
        _polytomous(out, j, x, total, n_s, probs, n_cat, w, denom, int(n_par[j]), min_expected)
    if not dich.size:
        return out
    # P(right on j and the others sum to s - 1) / P(S = s), for s = 1..S - 1:
    # the zero and perfect scores tell nothing
    joint = right_given_rest(probs[:, dich, :2], full, w)
    expected = np.clip(joint[:, : S - 1] / np.maximum(denom[1:S], 1e-300), 0.0, 1.0)
    for r, j in enumerate(dich):
        e = expected[r]
        n, o = n_s[1:S], right[1:S, j]
        stat, groups = _grouped_chi2(n, o, e, min_expected)
        df = groups - int(n_par[j])
        out["s_x2"][j] = stat
        out["s_x2_df"][j] = df
        if df >= 1:
            out["s_x2_p"][j] = float(chdtrc(df, stat))
    return out


def _polytomous(out, j, x, total, n_s, probs, n_cat, w, denom, n_par, min_expected):
    """Kang–Chen S-X2 of polytomous item ``j``, written into ``out``."""
    S = n_s.size - 1
    m = int(n_cat[j]) - 1
    others = np.delete(np.arange(n_cat.size), j)
    rest = score_distribution(probs[:, others, :], n_cat[others])  # (Q, S - m + 1)
    expected = np.zeros((m + 1, S + 1))
    observed = np.zeros((m + 1, S + 1))
    for k in range(m + 1):
        expected[k, k : k + rest.shape[1]] = (w * probs[:, j, k]) @ rest
        observed[k] = np.bincount(total, weights=x[:, j] == k, minlength=S + 1)
    expected = expected[:, 1:S] / np.maximum(denom[1:S], 1e-300)  # the extremes tell nothing
    n, observed = n_s[1:S], observed[:, 1:S]
    groups, cur = [], np.zeros((3, m + 1))  # persons, observed, expected per category
    for s in range(S - 1):
        cur[0] += n[s]
        cur[1] += observed[:, s]
        cur[2] += n[s] * expected[:, s]
        possible = cur[2] > 0
        if cur[0][0] > 0 and (cur[2][possible] >= min_expected).all() and possible.sum() > 1:
            groups.append(cur)
            cur = np.zeros((3, m + 1))
    if cur[0][0] > 0:
        if groups:  # a sparse tail joins the last group
            groups[-1] = groups[-1] + cur
        else:
            groups.append(cur)
    stat, df = 0.0, -n_par
    for _, o_g, e_g in groups:
        possible = e_g > 1e-12
        stat += float((((o_g - e_g) ** 2)[possible] / e_g[possible]).sum())
        df += int(possible.sum()) - 1
    out["s_x2"][j] = stat
    out["s_x2_df"][j] = df
    if df >= 1:
        out["s_x2_p"][j] = float(chdtrc(df, stat))


def _grouped_chi2(n, o, e, min_expected):
    """Pearson statistic over adjacent score groups merged to ``min_expected`` each way."""
    groups, cur = [], [0.0, 0.0, 0.0]  # persons, observed right, expected right
    for n_k, o_k, e_k in zip(n.tolist(), o.tolist(), e.tolist(), strict=True):
        cur[0] += n_k
        cur[1] += o_k
        cur[2] += n_k * e_k
        if cur[2] >= min_expected and cur[0] - cur[2] >= min_expected:
            groups.append(cur)
            cur = [0.0, 0.0, 0.0]
    if cur[0] > 0:
        if groups:  # a sparse tail joins the last group
            groups[-1] = [a + b for a, b in zip(groups[-1], cur, strict=True)]
        else:
            groups.append(cur)
    stat = 0.0
    for n_g, o_g, e_g in groups:
        p = e_g / n_g
        stat += (o_g - e_g) ** 2 / max(n_g * p * (1.0 - p), 1e-12)
    return float(stat), len(groups)
