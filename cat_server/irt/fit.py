"""Item fit: infit and outfit mean squares of each item, in chunks of persons."""

from __future__ import annotations

import numpy as np


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
