r"""Sum scores of a fixed form: the Lord–Wingersky recursion and EAP[sum] tables.

:func:`score_distribution` gives :math:`P(S = s \mid \theta)` of the summed
score of a set of items at each ability; :func:`eapsum_table` turns it into the
sum-score-to-theta table of a fixed form (Thissen, Pommerich, Billeaud &
Williams, 1995), for dichotomous (1PL–4PL) and polytomous (GRM, GPCM) items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import Items


def score_distribution(probs, n_cat=None):
    r"""Distribution of the summed score given ability (Lord & Wingersky, 1984).

    Parameters
    ----------
    probs : ndarray of shape (n_theta, n_items, max_cat)
        Category probabilities (:meth:`Items.probs`); categories an item does
        not have are 0.
    n_cat : ndarray of int, shape (n_items,), optional
        Categories per item (default: up to the highest category with a
        positive probability).

    Returns
    -------
    ndarray of shape (n_theta, max_score + 1)
        :math:`P(S = s \mid \theta)`, ``max_score`` the sum of the items'
        highest categories (0 with no items).

    Notes
    -----
    With :math:`L_0(0) = 1` and item :math:`j` scored :math:`0..m_j`,

    .. math:: L_j(s \mid \theta) = \sum_{k=0}^{m_j} L_{j-1}(s - k \mid \theta)\, P_{jk}(\theta)

    and :math:`P(S = s \mid \theta) = L_J(s \mid \theta)`: :math:`O(J\,S\,m)`
    operations instead of the :math:`\prod_j (m_j + 1)` response patterns.
    """
    probs = np.asarray(probs, dtype=float)
    n_theta, n_items, _ = probs.shape
    top = _top_categories(probs) if n_cat is None else np.asarray(n_cat) - 1
    out = np.zeros((n_theta, int(top.sum()) + 1))
    out[:, 0] = 1.0
    width = 1
    for j in range(n_items):
        m = int(top[j])
        prev = out[:, :width].copy()
        out[:, : width + m] = 0.0
        for k in range(m + 1):
            out[:, k : k + width] += prev * probs[:, j, k : k + 1]
        width += m
    return out


def _top_categories(probs):
    """Highest category with a positive probability somewhere, per item."""
    used = (probs > 0).any(axis=0)  # (n_items, max_cat)
    return np.where(used.any(axis=1), used.shape[1] - 1 - np.argmax(used[:, ::-1], axis=1), 0)


@dataclass
class SumScoreTable:
    """Result of :func:`eapsum_table`.

    Attributes
    ----------
    score : ndarray of int, shape (n_scores,)
        ``0 .. max_score``.
    theta : ndarray of shape (n_scores,)
        EAP of ability given the sum score.
    se : ndarray of shape (n_scores,)
        Posterior SD.
    probability : ndarray of shape (n_scores,)
        Marginal probability of the score in the population (the prior).
    """

    score: np.ndarray
    theta: np.ndarray
    se: np.ndarray
    probability: np.ndarray

    def lookup(self, sum_scores):
        """``(theta, se)`` for observed sum scores (ValueError when out of range)."""
        s = np.asarray(sum_scores)
        if s.size and (s.min() < 0 or s.max() > self.score[-1] or not np.all(s == np.round(s))):
            raise ValueError(f"Sum scores must be whole numbers 0..{int(self.score[-1])}.")
        s = s.astype(np.int64)
        return self.theta[s], self.se[s]


def eapsum_table(items, *, prior_mean=0.0, prior_sd=1.0, n_quad=61, quad_range=(-6.0, 6.0)):
    r"""Sum-score-to-theta table of a fixed form (EAP[sum]).

    Parameters
    ----------
    items : Items
        The form: any mix of 1PL–4PL, GRM and GPCM items.
    prior_mean, prior_sd : float
        Normal population distribution.
    n_quad : int
        Quadrature nodes on ``quad_range`` (61 on (-6, 6) moves the table by
        less than 1e-4 against 201 nodes).

    Returns
    -------
    SumScoreTable

    Notes
    -----
    With the Lord–Wingersky :math:`L(s \mid \theta_q)` (:func:`score_distribution`)
    and normal prior weights :math:`\pi_q`,

    .. math::
        \hat\theta_s = \frac{\sum_q \theta_q L(s \mid \theta_q) \pi_q}{\sum_q L(s \mid \theta_q) \pi_q},
        \quad
        SE_s^2 = \frac{\sum_q (\theta_q - \hat\theta_s)^2 L(s \mid \theta_q) \pi_q}
                      {\sum_q L(s \mid \theta_q) \pi_q}

    (Thissen et al. 1995; Thissen & Wainer, *Test Scoring*, 2001, ch. 3).
    The zero and perfect scores get finite values from the prior.
    """
    if not isinstance(items, Items):
        raise TypeError("items must be an Items set (make_items).")
    if prior_sd <= 0:
        raise ValueError("prior_sd must be > 0.")
    grid = np.linspace(quad_range[0], quad_range[1], n_quad)
    w = np.exp(-0.5 * ((grid - prior_mean) / prior_sd) ** 2)
    w /= w.sum()
    like = score_distribution(items.probs(grid), items.n_cat)  # (Q, S + 1)
    joint = like * w[:, None]
    marginal = joint.sum(axis=0)
    safe = np.maximum(marginal, 1e-300)
    theta = grid @ joint / safe
    var = (grid[:, None] - theta[None, :]) ** 2
    se = np.sqrt(np.maximum((var * joint).sum(axis=0) / safe, 0.0))
    return SumScoreTable(np.arange(like.shape[1]), theta, se, marginal)
