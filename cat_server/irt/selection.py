r"""Next-item selection: information criteria, exposure control, content balancing.

All functions work on a prepared :class:`~cat_server.irt.bank.Bank` and a
boolean *eligibility* mask (items not yet given, not enemies of given items, of
the right status), and return an item index or ``None``.
"""

from __future__ import annotations

import numpy as np

NEG = -np.inf


def eligible_mask(bank, given, enemy_groups, pool):
    r"""Items that may still be presented.

    Parameters
    ----------
    bank : Bank
    given : sequence of int
        Items already presented (operational and pretest).
    enemy_groups : iterable of int
        Enemy groups already used.
    pool : ndarray of bool, shape (n_items,)
        Status pool (``bank.operational`` or ``bank.pretest``).

    Returns
    -------
    ndarray of bool, shape (n_items,)
    """
    m = pool.copy()
    if len(given):
        m[np.asarray(given, dtype=np.int64)] = False
    for g in enemy_groups:
        m[bank.enemy_members[g]] = False
    return m


def content_mask(bank, counts, n_given, max_length, content):
    r"""Restrict selection to sections so the blueprint targets are met.

    Parameters
    ----------
    bank : Bank
    counts : ndarray of int, shape (n_sections,)
        Operational items given per section.
    n_given : int
        Operational items given.
    max_length : int
    content : dict
        ``{section: (min, max)}`` counts, or ``{section: proportion}``.
        Sections not named have no constraint (counts) or target 0
        (proportions).

    Returns
    -------
    list of ndarray of int
        Candidate section index sets, in order of preference: the first one
        that still has an eligible item is used.

    Notes
    -----
    *Counts*: a section at its maximum is closed; when the slots left equal
    the unmet minima, only sections below their minimum stay open.
    *Proportions* (Kingsbury & Zara's constrained CAT): the section with the
    largest gap :math:`t_s - n_s / (n + 1)` is preferred, then the next.
    """
    names = bank.section_names
    n_sec = len(names)
    if not content:
        return [np.arange(n_sec)]
    first = next(iter(content.values()))
    if isinstance(first, (tuple, list)):
        lo = np.zeros(n_sec)
        hi = np.full(n_sec, np.inf)
        for s, (mn, mx) in content.items():
            if s in names:
                i = names.index(s)
                lo[i] = mn or 0
                hi[i] = np.inf if mx is None else mx
        need = np.maximum(lo - counts, 0)
        open_ = counts < hi
        left = max_length - n_given
        if need.sum() >= left:
            forced = np.flatnonzero((need > 0) & open_)
            if forced.size:
                return [forced, np.flatnonzero(open_)]
        return [np.flatnonzero(open_), np.arange(n_sec)]
    target = np.zeros(n_sec)
    for s, p in content.items():
        if s in names:
            target[names.index(s)] = p
    gap = target - counts / (n_given + 1.0)
    order = np.argsort(-gap, kind="stable")
    return [np.array([i]) for i in order if target[i] > 0] + [np.arange(n_sec)]


def criterion(bank, theta, log_post, method):
    r"""Selection criterion of every item (larger is better).

    Parameters
    ----------
    bank : Bank
    theta : float
        Current estimate.
    log_post : ndarray of shape (n_quad,)
        Current log posterior on ``bank.grid``.
    method : {"mfi", "pwi", "kl"}
        Maximum Fisher information at ``theta``; posterior-weighted
        information; posterior-weighted Kullback–Leibler information.

    Returns
    -------
    ndarray of shape (n_items,)

    Notes
    -----
    .. math::
        \mathrm{PWI}_j = \int I_j(\theta)\, \pi(\theta \mid x)\, d\theta, \qquad
        \mathrm{KL}_j = \int \sum_k P_{jk}(\hat\theta)
            \log \frac{P_{jk}(\hat\theta)}{P_{jk}(\theta)} \pi(\theta \mid x)\, d\theta
    """
    if method == "mfi":
        return bank.info_at(theta)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    if method == "pwi":
        return w @ bank.info_quad
    if method == "kl":
        lp_hat = bank.items.log_probs(np.array([theta]))[0]  # (n_items, K)
        expected = bank.log_p @ w  # (n_items, K)
        return (np.exp(lp_hat) * (lp_hat - expected)).sum(axis=1)
    raise ValueError(f"Unknown selection method {method!r}.")


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


def attempt_uniform(seed, items):
    r"""Uniform numbers fixed per (attempt seed, item): SplitMix64 of ``seed`` and ``item``.

    Sympson–Hetter uses them so that an item rejected once for a candidate
    stays rejected for the rest of that test (the classic procedure) while the
    state stays a plain list of responses plus a seed.

    Returns
    -------
    ndarray of shape items.shape, values in [0, 1)
    """
    z = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) + (np.asarray(items, np.uint64) + np.uint64(1)) * _M1
    z = (z ^ (z >> np.uint64(30))) * _M2
    z = (z ^ (z >> np.uint64(27))) * _M3
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53


def pick(score, mask, exposure, rng, *, progress=0.0, sh_k=None, k=5, seed=0):
    r"""Choose one item among ``mask`` by ``score`` under an exposure rule.

    Parameters
    ----------
    score : ndarray of shape (n_items,)
    mask : ndarray of bool, shape (n_items,)
    exposure : {"none", "randomesque", "sympson-hetter", "progressive"}
    rng : numpy.random.Generator
    progress : float
        Share of the test already given, :math:`s / L` (progressive method).
    sh_k : ndarray of shape (n_items,), optional
        Sympson–Hetter exposure parameters :math:`K_j`.
    k : int
        Randomesque group size.
    seed : int
        Attempt seed for the Sympson–Hetter draws (:func:`attempt_uniform`).

    Returns
    -------
    int or None

    Notes
    -----
    * randomesque (Kingsbury & Zara, 1989): uniform among the ``k`` best;
    * Sympson–Hetter: walk down the ranking, item :math:`j` is administered
      with probability :math:`K_j`, else the next one is tried; a rejected
      item stays rejected for that candidate (draws fixed per attempt seed);
    * progressive (Revuelta & Ponsoda, 1998):
      :math:`w_j = (1 - s/L)\, U_j \max_i I_i + (s/L)\, I_j`,
      :math:`U_j \sim U(0, 1)`.
    """
    idx = np.flatnonzero(mask)
    n = idx.size
    if n == 0:
        return None
    s = score[idx]
    if exposure == "none" or n == 1:
        return int(idx[np.argmax(s)])
    if exposure == "randomesque":
        if n <= k:
            return int(idx[rng.integers(n)])
        top = np.argpartition(s, n - k)[n - k :]
        return int(idx[top[rng.integers(k)]])
    if exposure == "sympson-hetter":
        m = min(n, 64)
        top = np.argpartition(s, n - m)[n - m :] if n > m else np.arange(n)
        top = top[np.argsort(-s[top], kind="stable")]
        cand = idx[top]
        if sh_k is None:
            return int(cand[0])
        accept = attempt_uniform(seed, cand) < sh_k[cand]
        hit = np.flatnonzero(accept)
        return int(cand[hit[0]] if hit.size else cand[-1])
    if exposure == "progressive":
        smax = s.max()
        w = (1.0 - progress) * rng.random(n) * smax + progress * s
        return int(idx[np.argmax(w)])
    raise ValueError(f"Unknown exposure method {exposure!r}.")
