"""Plain-numpy baselines for benchmarks/engine.py: what one would write without the engine.

Written for the benchmark, not used by cat_server. Each is the short,
straightforward numpy version of one engine job, so the engine's figures can be
read against "a loop anyone could write" measured in the same run:

* :class:`PlainCat`: one CAT step on 3PL items, EAP on a 61-point grid and
  maximum information at the EAP, no rules (no content, enemies, exposure);
* :func:`plain_simulate`: that step in a loop over candidates and items;
* :func:`plain_em_2pl`: Bock–Aitkin EM for 2PL marginal maximum likelihood on a
  complete 0/1 matrix (41 nodes on [-6, 6], Newton M-step, tolerance 1e-4 on
  the parameters: the engine's defaults);
* :func:`plain_bank_tables`: the tables ``prepare_bank`` makes (``log P`` on
  the 61-point posterior grid, information on 321 points of [-6, 6]) for 3PL
  and GPCM items, each model in one broadcast over all its items, float64;
* :func:`plain_read_loadtxt`, :func:`plain_read_csv`: a wide 0/1 response
  CSV with a ``person_id`` column read by ``numpy.loadtxt`` or by the ``csv``
  module and one ``numpy.array`` call (no checks beyond what those make).
"""

from __future__ import annotations

import csv

import numpy as np


class PlainCat:
    """Maximum-information CAT with EAP on 61 points; state: log-likelihood and a 0/1 mask."""

    def __init__(self, a, b, c):
        self.a, self.b, self.c = (np.asarray(v, dtype=float) for v in (a, b, c))
        self.grid = np.linspace(-4.0, 4.0, 61)
        self.log_prior = -0.5 * self.grid**2
        # 3PL information with s the logistic part: I = a^2 (1 - c) s^2 (1 - s) / P
        self.k = self.a**2 * (1.0 - self.c)
        self.one_c = 1.0 - self.c

    def start(self):
        self.log_lik = np.zeros(self.grid.size)
        self.available = np.ones(self.a.size)

    def record(self, j, x):
        """Add the answer ``x`` (0/1) to item ``j``."""
        p = self.c[j] + self.one_c[j] / (1.0 + np.exp(-self.a[j] * (self.grid - self.b[j])))
        self.log_lik += np.log(p if x else 1.0 - p)
        self.available[j] = 0.0

    def step(self):
        """EAP, posterior SD and the most informative item not yet given."""
        lp = self.log_lik + self.log_prior
        w = np.exp(lp - lp.max())
        total = w.sum()
        theta = (w @ self.grid) / total
        se = np.sqrt(max((w @ self.grid**2) / total - theta * theta, 0.0))
        s = np.exp(self.a * (self.b - theta))
        s += 1.0
        s = 1.0 / s
        info = self.k * s * s * (1.0 - s) / (self.c + self.one_c * s)
        info *= self.available  # information is > 0: given items (0) are never the maximum
        return float(theta), float(se), int(info.argmax())


def plain_simulate(a, b, c, responses, length):
    """Run :class:`PlainCat` for each candidate; ``responses[i, j]`` is i's answer to j.

    Returns the final EAPs.
    """
    cat = PlainCat(a, b, c)
    est = np.empty(len(responses))
    for i, row in enumerate(responses):
        cat.start()
        for _ in range(length):
            j = cat.step()[2]
            cat.record(j, row[j])
        est[i] = cat.step()[0]
    return est


def plain_em_2pl(x, n_quad=41, max_iter=500, tol=1e-4):
    """2PL MML by Bock–Aitkin EM on a complete 0/1 matrix; returns ``a, b, n_iter``."""
    x = np.asarray(x, dtype=float)
    n, n_items = x.shape
    q = np.linspace(-6.0, 6.0, n_quad)
    log_w = -0.5 * q**2
    log_w -= np.log(np.exp(log_w).sum())
    p = np.clip(x.mean(axis=0), 0.02, 0.98)
    a = np.ones(n_items)
    d = np.log(p / (1 - p)) * 1.2  # intercept: P = logistic(a * theta + d)
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        # E-step: posterior weights of each person on the nodes
        z = np.outer(a, q) + d[:, None]  # (J, Q)
        log_p, log_q = -np.logaddexp(0, -z), -np.logaddexp(0, z)
        ll = x @ (log_p - log_q) + log_q.sum(axis=0) + log_w
        ll -= ll.max(axis=1, keepdims=True)
        w = np.exp(ll)
        w /= w.sum(axis=1, keepdims=True)
        n_q = w.sum(axis=0)  # expected persons at each node
        r_q = x.T @ w  # expected correct answers, (J, Q)
        # M-step: a few Newton steps of each item's weighted logistic regression
        a_old, d_old = a.copy(), d.copy()
        for _ in range(3):
            pr = 1.0 / (1.0 + np.exp(-(np.outer(a, q) + d[:, None])))
            res = r_q - n_q * pr
            g_a, g_d = res @ q, res.sum(axis=1)
            v = n_q * pr * (1 - pr)
            h_aa, h_ad, h_dd = v @ q**2, v @ q, v.sum(axis=1)
            det = h_aa * h_dd - h_ad**2
            a = a + (h_dd * g_a - h_ad * g_d) / det
            d = d + (h_aa * g_d - h_ad * g_a) / det
            a = np.clip(a, 0.05, 8.0)
        b_change = np.abs(-d / a + d_old / a_old).max()
        if max(np.abs(a - a_old).max(), b_change) < tol:
            break
    return a, -d / a, n_iter


def plain_bank_tables(a, b, c, poly, thresholds):
    """``log P`` (n, K, 61) and information (321, n) of 3PL items and GPCM items (``poly``).

    ``thresholds``: (n, m) step difficulties of the GPCM items (rows of 3PL items unused).
    """
    q, g = np.linspace(-4.0, 4.0, 61), np.linspace(-6.0, 6.0, 321)
    n, m = thresholds.shape
    log_p = np.full((n, m + 1, q.size), np.log(1e-300))
    info = np.empty((g.size, n))
    d = ~poly
    a3, b3, c3 = a[d], b[d], c[d]
    p = c3 + (1 - c3) / (1 + np.exp(-a3 * (q[:, None] - b3)))  # (61, n3)
    log_p[d, 0], log_p[d, 1] = np.log(1 - p).T, np.log(p).T
    s = 1 / (1 + np.exp(-a3 * (g[:, None] - b3)))
    p = c3 + (1 - c3) * s
    info[:, d] = (a3 * (1 - c3) * s * (1 - s)) ** 2 / (p * (1 - p))
    ap, thr = a[poly][:, None], thresholds[poly]

    def gpcm(t):  # category probabilities, (len(t), n_poly, m + 1)
        z = np.cumsum(ap * (t[:, None, None] - thr), axis=-1)
        z = np.concatenate([np.zeros(z.shape[:-1] + (1,)), z], axis=-1)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    log_p[poly] = np.log(gpcm(q)).transpose(1, 2, 0)
    p = gpcm(g)
    k = np.arange(m + 1)
    mean = p @ k
    info[:, poly] = ap[:, 0] ** 2 * (p @ (k * k) - mean * mean)
    return log_p, info


def plain_read_loadtxt(path):
    """``numpy.loadtxt`` of a complete 0/1 CSV: header skipped, ``person_id`` column left out."""
    with open(path) as fh:
        width = len(fh.readline().split(","))
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, width), dtype=np.int64)


def plain_read_csv(path):
    """The ``csv`` module, then one ``numpy.array`` call on the cells (strings to int64)."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return np.array([r[1:] for r in rows[1:]], dtype=np.int64)
